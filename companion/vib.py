"""Variational bottlenecks: the Gaussian KL, reparameterised sampling, VIB, a digits VAE, interpolation.

Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).

Su's essay puts three things side by side. A variational auto-encoder adds two pieces to an
auto-encoder: a Gaussian encoder sampled by reparameterisation, and a KL penalty towards the
standard normal. The variational information bottleneck (VIB) adds the *same* two pieces to any
network, because the KL is an upper bound on the information the code keeps about the input; a
VAE is a VIB whose label is the input itself. And the standard normal is the natural prior:
independent components, and sums of independent normals are normal again, which is why spherical
paths ``z1 cos θ + z2 sin θ`` between codes stay typical when straight lines do not.

Conventions: a code has ``D`` components in the last dimension; ``mu`` and ``logvar`` are the
mean and log-variance of a diagonal Gaussian encoder, of equal shape ``[..., D]``. Information
is measured in nats (natural logarithms) per sample.

Arguments are checked as :mod:`companion.checks` describes, with one addition: ``mu`` and
``logvar`` are checked to be finite (one device synchronisation; a NaN there is a diverged
encoder). Other model-side tensors (logits, codes) are not checked: NaN or ±inf in them
propagates. Sums over samples or code components are taken in an order that does not depend on
the number of threads (``companion.checks.sum_last``), so results are the same on one thread or many.
"""

import math
import numbers
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import finite as _check_finite
from companion.checks import flag as _flag
from companion.checks import float_tensor, real
from companion.checks import generator as _generator
from companion.checks import integer as _integer
from companion.checks import positive_int as _positive_int
from companion.checks import reduce as _reduce
from companion.checks import reduction as _reduction
from companion.checks import sum_last as _sum_last
from companion.checks import torch_generator as _torch_generator
from companion.progress import trange
from companion.figures import lazy

# The figures live in companion.figures.vib (they import matplotlib), loaded on first use.
__getattr__, __dir__ = lazy(__name__, ("plot_interpolation", "plot_kl", "plot_linear_gaussian", "plot_priors"))

REDUCTIONS = ("none", "sum", "mean")  # what kl_std_normal and task_loss accept (checks.reduction)


# ----------------------------------------------------------------------------------------------
# argument checks beyond companion.checks


def _gaussian(mu, logvar) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = _tensor(mu, "mu"), _tensor(logvar, "logvar")
    if mu.dim() == 0 or mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape [..., D] with D >= 1, got mu "
                         f"{tuple(mu.shape)} and logvar {tuple(logvar.shape)}")
    if mu.dtype != logvar.dtype or mu.device != logvar.device:
        raise TypeError(f"mu and logvar must share dtype and device, got {mu.dtype} on {mu.device} "
                        f"and {logvar.dtype} on {logvar.device}")
    # A NaN or infinite log-variance is a diverged encoder; say so instead of returning NaN.
    _finite(logvar, "logvar", " (a diverged encoder?)")
    _finite(mu, "mu")
    return mu, logvar


def _tensor(x, name: str) -> torch.Tensor:
    return float_tensor(x, name, "a floating-point torch.Tensor")


def _finite(x: torch.Tensor, name: str, hint: str = "") -> None:
    # One sum is some 30 times cheaper than an elementwise test, and any NaN or ±inf makes it
    # non-finite; only then look at the elements (a sum of finite values can also overflow).
    if bool(torch.isfinite(x.sum())):
        return
    try:
        _check_finite(x, name)
    except ValueError as error:
        raise ValueError(f"{error}{hint}") from None


# ----------------------------------------------------------------------------------------------
# sums whose rounding does not depend on the thread count


def _reduced(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """``checks.reduce(loss, reduction)`` (an error for the mean of an empty batch), with the
    sum independent of the thread count."""
    if reduction == "none" or loss.numel() == 0:
        return _reduce(loss, reduction)
    total = _sum_last(loss.flatten())
    return total if reduction == "sum" else total / loss.numel()


def _batch(x, name: str) -> torch.Tensor:
    """A floating-point tensor [B, ...] with B >= 1 (an empty data set has no epoch mean)."""
    x = _tensor(x, name)
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, shape [B, ...] with B >= 1, got {tuple(x.shape)}")
    return x


def _lam(lam) -> float:
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise TypeError(f"lam must be a real number >= 0, got {lam!r}")
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return float(lam)


# ----------------------------------------------------------------------------------------------
# the KL term and sampling


def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    r"""KL divergence of a diagonal Gaussian from the standard normal, in nats.

    .. math::
        KL\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)
        = \tfrac12 \sum_d \big(\mu_d^2 + \sigma_d^2 - \log\sigma_d^2 - 1\big)

    with :math:`\sigma_d^2 = e^{\text{logvar}_d}`. Each term is >= 0 and vanishes only at
    ``mu = 0, logvar = 0``. Its gradients are ``∂/∂mu = mu`` and ``∂/∂logvar = (exp(logvar) - 1) / 2``.

    Args:
        mu: means, shape ``[..., D]``, floating point, finite (checked).
        logvar: log-variances, same shape, finite (checked).
        reduction: ``"none"``: one term per component, ``[..., D]``; ``"sum"``: summed over the
            code, ``[...]`` (one KL per sample); ``"mean"``: that sum averaged over every leading
            dimension, a scalar (the rate of a batch, as in Su's layer; ValueError for an empty
            batch, whose mean is 0/0).

    Returns:
        A tensor on ``mu``'s device and in its dtype.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    mu, logvar = _gaussian(mu, logvar)
    return _kl(mu, logvar, _reduction(reduction))


class _Expm1MinusX(torch.autograd.Function):
    """``expm1(v) - v`` with the derivative ``expm1(v)`` itself. expm1 keeps the value free of
    cancellation near the prior (v ≈ 0); autograd would form the derivative as
    ``(expm1(v) + 1) - 1``, which is 0 in float32 at v = 1e-8 where the exact value is 1e-8."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return torch.expm1(v) - v

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad * torch.expm1(v)


def _kl(mu: torch.Tensor, logvar: torch.Tensor, reduction: str) -> torch.Tensor:
    terms = 0.5 * (mu.square() + _Expm1MinusX.apply(logvar))
    if reduction == "none":
        return terms
    per_sample = _sum_last(terms)
    return per_sample if reduction == "sum" else _reduced(per_sample, "mean")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, training: bool = True,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw :math:`z = \mu + e^{\text{logvar}/2}\,\varepsilon`, :math:`\varepsilon \sim \mathcal N(0, I)`,
    or return the mean when not training.

    The noise enters from outside, so gradients reach ``mu`` and ``logvar`` (the
    reparameterisation trick). In evaluation (``training=False``) the code is the mean itself,
    deterministic, as Su's VIB layer does at test time.

    Args:
        mu, logvar: shape ``[..., D]`` each (see :func:`kl_std_normal`).
        training: sample (``True``) or return ``mu`` (``False``); a bool, since a string such as
            ``"no"`` would count as true.
        generator: a ``torch.Generator`` on ``mu``'s device, for reproducible noise, or ``None``.

    Returns:
        ``z`` of ``mu``'s shape, dtype and device.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    mu, logvar = _gaussian(mu, logvar)
    generator = _torch_generator(generator)
    if not _flag(training, "training"):
        return mu
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte-Carlo estimate of :func:`kl_std_normal` (reduction ``"sum"``) and its standard error.

    Averages :math:`\log q(z) - \log p(z)` over ``n_samples`` draws :math:`z \sim q =
    \mathcal N(\mu, \operatorname{diag} e^{\text{logvar}})`, with :math:`p = \mathcal N(0, I)`.
    With :math:`z = \mu + \sigma\varepsilon` the log-ratio is
    :math:`\tfrac12 \sum_d (z_d^2 - \varepsilon_d^2 - \text{logvar}_d)`.

    Args:
        mu, logvar: shape ``[..., D]``.
        n_samples: number of draws, >= 2 (a standard error needs two).
        generator: a ``torch.Generator`` for reproducible draws, or ``None``.

    Returns:
        ``(estimate, standard_error)``, both of shape ``[...]``.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    mu, logvar = _gaussian(mu, logvar)
    n_samples = _integer(n_samples, "n_samples", minimum=2)
    generator = _torch_generator(generator)
    eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
    z = mu + torch.exp(0.5 * logvar) * eps
    # the draws last, so that both sums over them go through _sum_last
    log_ratio = _sum_last(0.5 * (z.square() - eps.square() - logvar)).movedim(0, -1)
    mean = _sum_last(log_ratio) / n_samples
    var = _sum_last((log_ratio - mean.unsqueeze(-1)).square()) / (n_samples - 1)
    return mean, var.sqrt() / math.sqrt(n_samples)


# ----------------------------------------------------------------------------------------------
# the bottleneck: a layer and a loss


class VIB(nn.Module):
    r"""A variational information bottleneck between an encoder and the rest of a network.

    Takes the encoder's ``(mu, logvar)`` and returns the code ``z``: a reparameterised sample in
    training mode, the mean in evaluation mode (:func:`reparameterize`). Like a Keras layer that
    adds its own loss, it records the batch's rate ``self.kl`` (mean KL to the standard normal,
    nats per sample, with gradient) and ``self.loss = lam * self.kl``, to be added to the task loss:

    .. math:: \mathcal L = \mathbb E\big[-\log p(y\mid z)\big] + \lambda\, KL\big(p(z\mid x)\,\|\,\mathcal N(0, I)\big)

    Args:
        lam: the weight λ >= 0 of the rate.

    Shapes: ``mu`` and ``logvar`` ``[B, D]`` (any ``[..., D]``), output of the same shape.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """

    def __init__(self, lam: float = 0.1):
        super().__init__()
        self.lam = _lam(lam)
        self.kl = None
        self.loss = None

    def forward(self, mu: torch.Tensor, logvar: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        z = reparameterize(mu, logvar, self.training, generator)
        self.kl = _kl(mu, logvar, "mean")
        self.loss = self.lam * self.kl
        return z

    def extra_repr(self) -> str:
        return f"lam={self.lam}"


class VIBLoss(NamedTuple):
    """The three numbers of a VIB (or VAE) objective, each a batch mean in nats per sample.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """

    total: torch.Tensor  # task + lam * rate: what is minimised
    task: torch.Tensor   # cross-entropy of the labels, or the reconstruction loss of a VAE
    rate: torch.Tensor   # mean KL(p(z|x) || N(0, I)), an upper bound on I(X; Z)


def task_loss(output: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """−log p(y|z) per sample: softmax cross-entropy for class labels, Bernoulli for a VAE.

    * ``target`` of any integer dtype (int64, int32, uint8, ...) and shape ``[B]``: classes in
      ``[0, C)``; ``output`` are logits ``[B, C]``. Boolean targets are refused: as labels they
      would be read as classes 0 and 1, as pixels as 0 and 1, so say which with a cast.
    * ``target`` floating point of ``output``'s shape, values in ``[0, 1]``: ``output`` are
      per-pixel logits and the loss is the binary cross-entropy summed over all but the batch
      dimension (a VAE's reconstruction term; for grey levels in between 0 and 1 its minimum is
      the targets' own entropy, not 0).

    ``reduction``: ``"none"`` (``[B]``), ``"sum"`` or ``"mean"`` (scalars; the mean of an empty
    batch is a ValueError). The targets are checked (one device synchronisation); NaN or ±inf in
    ``output`` propagates to the result; it is not checked, which would cost a device
    synchronisation.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    output = _tensor(output, "output")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.dtype == torch.bool or target.is_complex():
        raise TypeError(f"target must hold integer class labels or floating-point reconstruction targets, "
                        f"got dtype {target.dtype} (cast a boolean mask with .long() or .float())")
    reduction = _reduction(reduction)
    if not target.is_floating_point():
        if output.dim() != 2 or target.shape != output.shape[:1]:
            raise ValueError(f"class labels need output [B, C] and target [B], got output "
                             f"{tuple(output.shape)} and target {tuple(target.shape)}")
        n_classes = output.shape[1]
        lo, hi = torch.aminmax(target) if target.numel() else (0, 0)
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"class labels in target must lie in [0, {n_classes}), got values from "
                             f"{int(lo)} to {int(hi)}")
        # cross_entropy takes int64 labels only; any integer dtype holds valid labels once in range
        per_sample = F.cross_entropy(output, target.long(), reduction="none")
    else:
        if target.shape != output.shape or output.dim() < 2:
            raise ValueError(f"a reconstruction target must have output's shape [B, ...], got output "
                             f"{tuple(output.shape)} and target {tuple(target.shape)}")
        outside = ~((target >= 0) & (target <= 1))
        if bool(outside.any()):
            raise ValueError(f"target must hold values in [0, 1] (Bernoulli means) for a reconstruction, "
                             f"got {target[outside][0].item()}")
        per_sample = _sum_last(F.binary_cross_entropy_with_logits(output, target, reduction="none").flatten(1))
    return _reduced(per_sample, reduction)


def vib_loss(output: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             lam: float) -> VIBLoss:
    r"""The VIB objective: task loss plus λ times the rate, with both terms reported.

    .. math::
        \mathcal L = \frac1B \sum_b \Big( -\log p(y_b \mid z_b)
                     + \lambda\, KL\big(\mathcal N(\mu_b, \operatorname{diag} e^{\text{logvar}_b})
                     \,\|\,\mathcal N(0, I)\big) \Big)

    With class labels this is Alemi et al.'s VIB classifier; with the input itself as the target
    (Bernoulli pixels) and ``lam = 1`` it is the VAE's negative evidence lower bound. ``lam = 0``
    leaves the task loss alone.

    Args:
        output: the head's output for the sampled codes: logits ``[B, C]`` or per-pixel logits
            ``[B, ...]`` (see :func:`task_loss`).
        target: class indices ``[B]`` or reconstruction targets of ``output``'s shape.
        mu, logvar: the encoder's Gaussian, ``[B, D]`` each.
        lam: λ >= 0.

    Returns:
        :class:`VIBLoss` ``(total, task, rate)``, scalars in nats per sample.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    lam = _lam(lam)
    mu, logvar = _gaussian(mu, logvar)
    output = _tensor(output, "output")
    if mu.dim() != 2 or output.dim() < 1 or output.shape[0] != mu.shape[0]:
        raise ValueError(f"mu and logvar must have shape [B, D] with B = output.shape[0], got mu "
                         f"{tuple(mu.shape)} and output {tuple(output.shape)}")
    task = task_loss(output, target)
    rate = _kl(mu, logvar, "mean")
    return VIBLoss(task + lam * rate, task, rate)


# ----------------------------------------------------------------------------------------------
# networks: a VIB classifier and a VAE for 8×8 digits


class VIBNet(nn.Module):
    """An MLP with a Gaussian bottleneck: ``x → (mu, logvar) → z → head(z)``.

    Encoder: flatten, two hidden ReLU layers of ``hidden`` units, then two linear heads for
    ``mu`` and ``logvar`` (``latent`` each). Head (``decoder``): one linear layer to ``n_out``
    (Alemi et al.'s softmax decoder) or, with ``decoder_hidden``, an MLP with one hidden ReLU
    layer. ``forward`` samples ``z`` in training mode and uses ``z = mu`` in evaluation mode.

    Input ``[B, ...]`` with ``n_in`` features after flattening; ``forward`` returns
    ``(output [B, n_out], mu [B, latent], logvar [B, latent])``.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """

    def __init__(self, n_in: int = 64, latent: int = 2, n_out: int = 10, hidden: int = 128,
                 decoder_hidden: int | None = None):
        super().__init__()
        self.n_in, self.latent = _positive_int(n_in, "n_in"), _positive_int(latent, "latent")
        self.n_out, hidden = _positive_int(n_out, "n_out"), _positive_int(hidden, "hidden")
        self.body = nn.Sequential(nn.Linear(self.n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, self.latent)
        self.logvar = nn.Linear(hidden, self.latent)
        if decoder_hidden is None:
            self.decoder = nn.Linear(self.latent, self.n_out)
        else:
            h = _positive_int(decoder_hidden, "decoder_hidden")
            self.decoder = nn.Sequential(nn.Linear(self.latent, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                         nn.Linear(h, self.n_out))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _tensor(x, "x")
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.n_in:
            raise ValueError(f"x must have shape [B, ...] with {self.n_in} features per sample, "
                             f"got {tuple(x.shape)}")
        h = self.body(x.flatten(1))
        return self.mu(h), self.logvar(h)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, self.training, generator)
        return self.decoder(z), mu, logvar


class DigitVAE(VIBNet):
    """A VAE for 8×8 images: a :class:`VIBNet` whose label is its own input.

    The decoder maps a code to 64 Bernoulli logits; train it with ``vib_loss(output,
    images.flatten(1), mu, logvar, lam=1)``, the negative evidence lower bound. ``decode``
    returns images ``[N, 8, 8]`` of pixel means in ``[0, 1]``.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """

    def __init__(self, latent: int = 8, hidden: int = 256, side: int = 8):
        self.side = _positive_int(side, "side")
        super().__init__(n_in=self.side**2, latent=latent, n_out=self.side**2, hidden=hidden,
                         decoder_hidden=hidden)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = _tensor(z, "z")
        if z.shape[-1] != self.latent:
            raise ValueError(f"z must have shape [..., {self.latent}], got {tuple(z.shape)}")
        return torch.sigmoid(self.decoder(z)).unflatten(-1, (self.side, self.side))


def fit(model: VIBNet, inputs: torch.Tensor, targets: torch.Tensor | None = None, lam: float = 1e-3,
        epochs: int = 50, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
        progress: bool = True, monitor: tuple[torch.Tensor, torch.Tensor] | None = None
        ) -> dict[str, list[float]]:
    """Train ``model`` on ``vib_loss`` with Adam; ``targets=None`` trains an auto-encoder (a VAE).

    Mini-batch order and the reparameterisation noise both come from one generator seeded with
    ``seed``; seed the weights before building the model (``torch.manual_seed``) and two runs are
    identical. Leaves the model in evaluation mode.

    Returns the epoch means of the three terms: ``{"total": [...], "task": [...], "rate": [...]}``
    (nats per sample). With ``monitor=(inputs, labels)`` (held-out digits and their class
    labels) it also records ``"monitor_accuracy"``, the accuracy of the mean code on them after
    each epoch, to see how fast a model converges. Monitoring draws no random numbers, so it
    leaves training unchanged.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    lam = _lam(lam)
    epochs, batch_size = _positive_int(epochs, "epochs"), _positive_int(batch_size, "batch_size")
    inputs = _batch(inputs, "inputs")
    targets = inputs.flatten(1) if targets is None else targets
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor with one row per input, got {type(targets).__name__}")
    if targets.dim() == 0 or len(targets) != len(inputs):
        raise ValueError(f"targets must be a tensor with one row per input ({len(inputs)}), got "
                         f"{targets.shape}")
    if monitor is not None:
        if not isinstance(monitor, tuple) or len(monitor) != 2:
            raise TypeError("monitor must be a tuple (inputs, labels)")
        held_in, held_labels = _tensor(monitor[0], "monitor inputs"), monitor[1]
        if (not isinstance(held_labels, torch.Tensor) or held_labels.is_floating_point()
                or held_labels.shape != held_in.shape[:1]):
            raise ValueError("monitor labels must be integer class labels, one per input")
    g = _generator(seed, inputs.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=real(lr, "lr", positive=True))
    history = {"total": [], "task": [], "rate": []}
    model.train()
    for _ in trange(epochs, desc=f"training (λ = {lam:g})", show=progress, leave=False):
        sums = dict.fromkeys(("total", "task", "rate"), 0.0)
        for batch in torch.randperm(len(inputs), generator=g, device=inputs.device).split(batch_size):
            output, mu, logvar = model(inputs[batch], generator=g)
            loss = vib_loss(output, targets[batch], mu, logvar, lam)
            optimiser.zero_grad()
            loss.total.backward()
            optimiser.step()
            for key, value in zip(("total", "task", "rate"), loss):
                sums[key] += value.item() * len(batch)
        for key in ("total", "task", "rate"):
            history[key].append(sums[key] / len(inputs))
        if monitor is not None:
            model.eval()
            with torch.no_grad():
                scores = model.decoder(model.encode(held_in)[0])
                right = (scores.argmax(1) == held_labels).double().mean().item()
            history.setdefault("monitor_accuracy", []).append(right)
            model.train()
    model.eval()
    return history


@torch.no_grad()
def evaluate(model: VIBNet, inputs: torch.Tensor, targets: torch.Tensor | None = None,
             n_samples: int = 16, seed: int = 0) -> dict[str, float]:
    """Score ``model`` on held-out data, in nats per sample.

    * ``"rate"``: mean KL(p(z|x) ‖ N(0, I)), an upper bound on I(X; Z) over these inputs.
    * ``"task"``: task loss of the deterministic code ``z = mu`` (evaluation mode, as Su's layer).
    * ``"task_sampled"``: task loss averaged over ``n_samples`` codes drawn from p(z|x); for
      class labels, ``H(Y) - task_sampled`` is a lower bound on I(Z; Y) (Alemi et al.).
    * ``"accuracy"`` (class labels only): with ``z = mu``; ``"accuracy_sampled"``: with sampled
      codes, averaged over the draws. The rate limits what the *noisy* code can carry; the mean
      is a deterministic function of the input and may keep more.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    n_samples = _positive_int(n_samples, "n_samples")
    model.eval()
    inputs = _batch(inputs, "inputs")
    targets = inputs.flatten(1) if targets is None else targets
    mu, logvar = model.encode(inputs)
    out = model.decoder(mu)
    scores = {"rate": kl_std_normal(mu, logvar, "mean").item(), "task": task_loss(out, targets).item()}
    z = reparameterize(mu.expand(n_samples, *mu.shape), logvar.expand(n_samples, *mu.shape),
                       generator=_generator(seed, mu.device))
    sampled = model.decoder(z).flatten(0, 1)
    repeated = targets.expand(n_samples, *targets.shape).flatten(0, 1)
    scores["task_sampled"] = task_loss(sampled, repeated).item()
    if not targets.is_floating_point():
        scores["accuracy"] = (out.argmax(1) == targets).double().mean().item()
        scores["accuracy_sampled"] = (sampled.argmax(1) == repeated).double().mean().item()
    return scores


# ----------------------------------------------------------------------------------------------
# the exact one-dimensional example of the bound


class LinearGaussian(NamedTuple):
    """Closed forms of :func:`linear_gaussian`, in nats.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """

    information: torch.Tensor  # I(X; Z)
    bound: torch.Tensor        # E_x KL(p(z|x) || N(0, 1)) >= I(X; Z)
    gap: torch.Tensor          # bound - information = KL(p(z) || N(0, 1))


def linear_gaussian(w, s) -> LinearGaussian:
    r"""Mutual information, VIB bound and gap for :math:`x \sim \mathcal N(0,1)`, :math:`z = wx + s\varepsilon`.

    The encoder is :math:`p(z|x) = \mathcal N(wx, s^2)`, so the marginal is
    :math:`p(z) = \mathcal N(0, w^2 + s^2)` and everything is Gaussian:

    .. math::
        I(X;Z) = \tfrac12 \log\Big(1 + \frac{w^2}{s^2}\Big),

        \mathbb E_x KL\big(p(z|x)\,\|\,\mathcal N(0,1)\big) = \tfrac12\big(w^2 + s^2 - \log s^2 - 1\big),

    and the gap is :math:`KL(\mathcal N(0, w^2+s^2)\,\|\,\mathcal N(0,1)) =
    \tfrac12 (w^2 + s^2 - \log(w^2+s^2) - 1)`, zero exactly when :math:`w^2 + s^2 = 1`.

    Everything is computed without forming :math:`w^2/s^2` or :math:`\log s^2` from squares
    that could overflow or underflow, so each result is finite wherever its exact value is a
    float: :math:`w = 1, s = 10^{-200}` gives :math:`I = \log 10^{200} \approx 460.5`. Near
    :math:`w^2 + s^2 = 1` the gap is quadratic in :math:`\log(w^2 + s^2)`, which is rounded, so
    there its error is about :math:`3 \cdot 10^{-16}\,|\log(w^2 + s^2)|` absolute rather than
    relative.

    Args:
        w: encoder gain, any finite real (number, sequence or tensor of them).
        s: encoder noise standard deviation, finite and > 0 (number, sequence or tensor, whose
            shape broadcasts with ``w``'s).

    Returns:
        :class:`LinearGaussian` of float64 tensors (0-d for numbers).

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    w, s = _reals(w, "w"), _reals(s, "s")
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"w must be finite, got {w.tolist()}")
    if not bool((torch.isfinite(s) & (s > 0)).all()):
        raise ValueError(f"s must be a finite standard deviation > 0, got {s.tolist()}")
    try:
        w, s = torch.broadcast_tensors(w, s)
    except RuntimeError:
        raise ValueError(f"w and s must have shapes that broadcast together, got {tuple(w.shape)} and "
                         f"{tuple(s.shape)}") from None
    # I = log(1 + r²)/2 with r = |w|/s: directly while r² is a float, else as
    # log r + log1p(1/r²)/2 with log r = log|w| - log s, which stays finite when r overflows.
    # Each branch sees safe stand-ins where it is not used, so no NaN reaches the gradient.
    with torch.no_grad():
        moderate = w.abs() / s < 1e150
    one = torch.ones_like(w)
    r_mod = torch.where(moderate, w, one).abs() / torch.where(moderate, s, one)
    log_r = torch.log(torch.where(moderate, one, w.abs())) - torch.log(torch.where(moderate, one, s))
    information = torch.where(moderate, 0.5 * torch.log1p(r_mod.square()),
                              log_r + 0.5 * torch.log1p(torch.exp(-2 * log_r)))
    # bound = w²/2 + (s² - 1 - log s²)/2 and gap = (t - 1 - log t)/2 with t = w² + s²: both through
    # log s² = 2 log s and log t = 2 log hypot(w, s), never the log of a square that can underflow,
    # and halves of squares as (w/2)·w (0.5·w is exact), which overflow only where the result does
    half_w2, half_s2 = (0.5 * w) * w, (0.5 * s) * s
    bound = half_w2 + _half_exp_excess(2 * torch.log(s), half_s2)
    gap = _half_exp_excess(2 * torch.log(torch.hypot(w, s)), half_w2 + half_s2)
    return LinearGaussian(information, bound, gap)


# 1/k! for k = 2..12: e^L - 1 - L = L² Σ_j L^j/(j + 2)!, to rounding for |L| < 0.1
_EXCESS_SERIES = tuple(1 / math.factorial(k) for k in range(2, 13))


def _half_exp_excess(log_t: torch.Tensor, half_t: torch.Tensor) -> torch.Tensor:
    """``(t - 1 - log t)/2`` from ``log t`` and ``t/2``, accurate for every t > 0.

    Near t = 1 the value is about (log t)²/4 and ``expm1(L) - L`` would keep only the bits that
    survive the cancellation; there a Taylor series is summed instead. For t > e the given t/2
    is used as it is (exp of a rounded log t would lose 1e-13 at t = 1e265). Each branch sees a
    safe stand-in where it is not used, so no inf or NaN reaches the gradient through
    ``torch.where``."""
    small, large = log_t.abs() < 0.1, log_t > 1
    zero, one = torch.zeros_like(log_t), torch.ones_like(log_t)
    x = torch.where(small, log_t, zero)
    series = torch.full_like(x, _EXCESS_SERIES[-1])
    for c in reversed(_EXCESS_SERIES[:-1]):
        series = series * x + c
    mid = torch.where(small | large, one, log_t)
    return torch.where(small, 0.5 * x * x * series,
                       torch.where(large, half_t - 0.5 - 0.5 * log_t, 0.5 * (torch.expm1(mid) - mid)))


def _reals(value, name: str) -> torch.Tensor:
    """``value`` (a real number, a sequence or a tensor of them) as a float64 tensor."""
    bad = isinstance(value, (bool, str, bytes)) or (
        isinstance(value, torch.Tensor) and (value.dtype == torch.bool or value.is_complex()))
    if not bad:
        try:
            return torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            pass
    shown = f"dtype {value.dtype}" if isinstance(value, torch.Tensor) else repr(value)
    raise TypeError(f"{name} must be a real number or a tensor of real numbers, got {shown}")


# ----------------------------------------------------------------------------------------------
# does a factorised prior make the class-conditional codes factorised?


def class_gaussian_log_likelihood(codes: torch.Tensor, labels: torch.Tensor, held_codes: torch.Tensor,
                                  held_labels: torch.Tensor, diagonal: bool) -> torch.Tensor:
    r"""Held-out :math:`\log p(z\mid y)` under one Gaussian per class, fitted by maximum likelihood.

    For each class :math:`c` the mean :math:`m_c` and covariance :math:`S_c` of ``codes[labels ==
    c]`` are estimated (with ``diagonal=True`` only the variances: the naive-Bayes model
    :math:`p(z\mid y) = \prod_d p(z_d\mid y)`), and each held-out code is scored under its own
    class's Gaussian, :math:`\log\mathcal N(z;\, m_y, S_y)`. If the codes' components were
    independent *given the class*, the diagonal model would lose nothing against the full one on
    held-out data; a standard-normal *marginal* does not imply that.

    Args:
        codes: ``[N, D]`` codes to fit on; labels ``[N]`` integer classes, each held-out class
            with more than ``D`` fitting codes.
        held_codes: ``[M, D]`` codes to score; held_labels ``[M]``.
        diagonal: fit diagonal (naive Bayes, ``True``) or full covariances (``False``).

    Returns:
        ``[M]`` log-densities in nats (float64). NaN or ±inf in the codes propagates, or fails in
        torch's Gaussian (a covariance that is not positive definite); the codes are not checked.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    codes, held_codes = _tensor(codes, "codes").double(), _tensor(held_codes, "held_codes").double()
    if codes.dim() != 2 or held_codes.dim() != 2 or codes.shape[1] != held_codes.shape[1]:
        raise ValueError(f"codes and held_codes must be [N, D] and [M, D], got {tuple(codes.shape)} "
                         f"and {tuple(held_codes.shape)}")
    diagonal = _flag(diagonal, "diagonal")
    for lab, rows, name in ((labels, codes, "labels"), (held_labels, held_codes, "held_labels")):
        if (not isinstance(lab, torch.Tensor) or lab.is_floating_point() or lab.is_complex()
                or lab.dtype == torch.bool or lab.shape != rows.shape[:1]):
            got = (f"dtype {lab.dtype} and shape {tuple(lab.shape)}" if isinstance(lab, torch.Tensor)
                   else type(lab).__name__)
            raise ValueError(f"{name} must be integer class labels, one per code ({rows.shape[0]}), got {got}")
    dim = codes.shape[1]
    out = torch.empty(len(held_codes), dtype=torch.float64, device=held_codes.device)
    for c in held_labels.unique().tolist():
        fit = codes[labels == c]
        if len(fit) <= dim:
            raise ValueError(f"class {c} has {len(fit)} fitting codes; need more than D = {dim}")
        mean = fit.mean(0)
        cov = torch.cov(fit.T, correction=0).reshape(dim, dim)
        if diagonal:
            cov = torch.diag(cov.diag())
        law = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
        out[held_labels == c] = law.log_prob(held_codes[held_labels == c])
    return out


# ----------------------------------------------------------------------------------------------
# interpolation between codes


def _endpoints(z1, z2) -> tuple[torch.Tensor, torch.Tensor]:
    z1, z2 = _tensor(z1, "z1"), _tensor(z2, "z2")
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    return z1, z2


def _alpha(alpha, like: torch.Tensor) -> torch.Tensor:
    if (isinstance(alpha, bool) or not isinstance(alpha, (numbers.Real, torch.Tensor))
            or (isinstance(alpha, torch.Tensor) and (alpha.dtype == torch.bool or alpha.is_complex()))):
        what = f"dtype {alpha.dtype}" if isinstance(alpha, torch.Tensor) else type(alpha).__name__
        raise TypeError(f"alpha must be a number or a tensor, got {what}")
    a = torch.as_tensor(alpha, dtype=like.dtype, device=like.device)
    if not bool(torch.isfinite(a).all()):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    try:
        torch.broadcast_shapes(a.shape, like.shape)
    except RuntimeError:
        raise ValueError(f"alpha must have a shape that broadcasts with z1 and z2 {tuple(like.shape)}, "
                         f"got {tuple(a.shape)} (for a path of K points use alpha[:, None])") from None
    return a


def lerp(z1: torch.Tensor, z2: torch.Tensor, alpha) -> torch.Tensor:
    r"""The straight line :math:`(1-\alpha)\,z_1 + \alpha\,z_2`.

    For independent standard normal ``z1``, ``z2`` the result is normal with variance
    :math:`(1-\alpha)^2 + \alpha^2`, as low as 1/2 at the midpoint: straight paths between typical
    codes pass through atypically short ones.

    Args:
        z1, z2: endpoints of equal shape. NaN or ±inf in them propagates to the result; it is not
            checked, which would cost a device synchronisation.
        alpha: finite number or tensor broadcastable against them (e.g. ``alpha[:, None]`` for a
            path of ``[K]`` points between codes ``[D]``); 0 gives ``z1``, 1 gives ``z2``.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    z1, z2 = _endpoints(z1, z2)
    a = _alpha(alpha, z1)
    return (1 - a) * z1 + a * z2


def slerp_normal(z1: torch.Tensor, z2: torch.Tensor, alpha) -> torch.Tensor:
    r"""The variance-preserving path :math:`z_1\cos\theta + z_2\sin\theta`, :math:`\theta = \alpha\pi/2`.

    The coefficients' squares sum to 1, so for independent standard normal ``z1``, ``z2`` every
    point of the path is standard normal too (normals are stable under addition). This is the
    path of Su's essay; it coincides with Shoemake's spherical interpolation when ``z1`` and
    ``z2`` are orthogonal and of equal length, which independent high-dimensional normal codes
    nearly are.

    Args:
        z1, z2: endpoints of equal shape. NaN or ±inf in them propagates to the result; it is not
            checked, which would cost a device synchronisation.
        alpha: finite number or tensor broadcastable against them; 0 gives ``z1``, 1 gives ``z2``.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    z1, z2 = _endpoints(z1, z2)
    theta = _alpha(alpha, z1) * (math.pi / 2)
    return torch.cos(theta) * z1 + torch.sin(theta) * z2
