r"""Noise contrastive estimation (NCE), negative sampling and the shifted-PMI closed form.

An energy model :math:`p(x;\theta) = e^{G(x;\theta)}/Z(\theta)` is easy to write and hard to
normalise. NCE learns :math:`\theta` *and* :math:`c = \log Z` by logistic regression between data
and samples of a fixed noise density :math:`p_n` drawn :math:`\nu` times as often (Gutmann and
Hyvärinen 2010). The classifier's logit is

.. math:: h(x) = G(x;\theta) - c - \log\big(\nu\,p_n(x)\big),

its Bayes-optimal value is :math:`\log p_d(x) - \log(\nu p_n(x))`, so at the optimum
:math:`G - c = \log p_d`: the normaliser is learned as an ordinary parameter.

* :func:`nce_loss`, :func:`nce_logit`: the objective and the classifier's logit.
* :func:`negative_sampling_loss`: word2vec's skip-gram objective with :math:`k` negatives, the
  special case with :math:`c = 0` and the noise density dropped from the logit;
  :class:`NoiseSampler` draws the negatives from :func:`unigram_noise` (:math:`q \propto
  \mathrm{count}^\alpha`) on any device, seeded by a ``torch.Generator``.
* :func:`full_softmax_loss`: the exact, :math:`O(V)` per example, baseline.
* :func:`shifted_pmi` and :func:`sgns_population_loss`: the minimiser of the expected
  negative-sampling loss over a co-occurrence table is :math:`\mathrm{PMI} - \log k` (Levy and
  Goldberg 2014), and the population loss it minimises; :func:`fit_sgns_population` minimises
  that loss over word vectors of any dimension, with or without a learned offset.
* The chapter's 1-D example, :math:`G(x) = -a x^2 - b x^4`: :func:`quartic_log_z` (quadrature),
  :func:`sample_quartic`, :class:`Noise1D`, :func:`fit_quartic_nce` (Newton's method on
  :func:`nce_loss`, batched over independent problems) and :func:`nce_asymptotic_covariance`
  (the estimator's covariance, Gutmann and Hyvärinen 2012).
* :func:`topic_corpus` and :func:`train_sgns` for the synthetic word-embedding experiment. The
  slider demos :func:`~companion.figures.nce.plot_quartic_nce` and
  :func:`~companion.figures.nce.plot_negative_sampling` are in :mod:`companion.figures.nce`.

Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from companion import checks
from companion.checks import float_tensor, positive_int, real
from companion.checks import reduce as _reduce
from companion.checks import reduction as _reduction
from companion.figures import lazy

# The figures live in companion.figures.nce (they import matplotlib), loaded on first use.
__getattr__, __dir__ = lazy(__name__, ("plot_negative_sampling", "plot_quartic_nce"))

__all__ = [
    "nce_logit", "nce_loss", "negative_sampling_loss", "full_softmax_loss", "NoiseSampler",
    "alias_table", "unigram_noise", "shifted_pmi", "sgns_population_loss", "fit_sgns_population",
    "quartic_log_z", "sample_quartic",
    "Noise1D", "QuarticFit", "fit_quartic_nce", "nce_asymptotic_covariance", "topic_corpus",
    "train_sgns",
]


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------

def _real(value, name: str) -> float:
    """``value`` as a float, any real number (NaN and inf included: the caller decides)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _non_negative(value, name: str) -> float:
    value = real(value, name)
    if value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _like(value, ref: torch.Tensor, name: str, log_density: bool = False) -> torch.Tensor:
    """``value`` (a number or tensor) as a tensor of ``ref``'s dtype, on ``ref``'s device.

    A number is a parameter and is checked: finite, or also ``-inf`` for a ``log_density`` (no
    density there). A tensor's values are not (see the kernels' docstrings)."""
    if isinstance(value, torch.Tensor):
        if value.device != ref.device:
            raise ValueError(f"{name} is on {value.device}, but the scores are on {ref.device}; "
                             f"put all inputs on one device")
        return value.to(ref.dtype)
    x = _real(value, name)
    if math.isnan(x) or x == math.inf or (x == -math.inf and not log_density):
        accepted = "a finite number or -inf (a log density)" if log_density else "a finite number"
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return torch.tensor(x, dtype=ref.dtype, device=ref.device)


def _tensor(value, name: str, what: str, **kwargs) -> torch.Tensor:
    """``torch.as_tensor(value)``, with an error that names ``name`` when it is not numeric."""
    try:
        return torch.as_tensor(value, **kwargs)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be {what}, got {value!r}") from None


def _shape(shape, name: str = "shape") -> torch.Size:
    """An output shape: an int or a sequence of ints, each >= 0."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        if isinstance(shape, (str, bytes)) or any(isinstance(s, bool) for s in shape):
            raise TypeError
        shape = torch.Size(shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name} must have non-negative sizes, got {tuple(shape)}")
    return shape


def _float_dtype(dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    return dtype


def _broadcasts_to(x: torch.Tensor, shape: torch.Size, name: str, what: str) -> None:
    try:
        ok = torch.broadcast_shapes(x.shape, shape) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, which does not broadcast to "
                         f"{what} {tuple(shape)}")


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x). F.softplus returns x itself above its threshold of 20, which drops
    e^-20 = 2e-9: below float32's resolution there, but a 1e-10 relative error in float64; with
    40 for float64, the e^-40 = 4e-18 dropped is below its resolution too."""
    return F.softplus(x, threshold=40.0 if x.dtype == torch.float64 else 20.0)


def _probabilities(probs, name: str) -> torch.Tensor:
    """A 1-D, non-negative, finite vector that sums to one (to a tolerance of its dtype)."""
    if not isinstance(probs, torch.Tensor):
        probs = _tensor(probs, name, "a 1-D tensor or sequence of probabilities", dtype=torch.float64)
    probs = float_tensor(probs, name)
    if probs.ndim != 1 or probs.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor, got shape {tuple(probs.shape)}")
    if not torch.isfinite(probs).all():
        raise ValueError(f"{name} must be finite, got {probs[~torch.isfinite(probs)][0].item()!r}")
    if (probs < 0).any():
        i = int(torch.nonzero(probs < 0)[0])
        raise ValueError(f"{name} must be non-negative, got {probs[i].item()!r} at index {i}")
    total = probs.double().sum().item()
    tolerance = math.sqrt(torch.finfo(probs.dtype).eps)
    if abs(total - 1.0) > tolerance:
        raise ValueError(f"{name} must sum to one (within {tolerance:.1e}), got a sum of "
                         f"{total!r}; normalise it, or build it with unigram_noise(counts, alpha)")
    return probs


# ---------------------------------------------------------------------------------------------
# Noise contrastive estimation
# ---------------------------------------------------------------------------------------------

def nce_logit(g, log_pn, log_z, nu: float = 1.0) -> torch.Tensor:
    r"""The NCE classifier's logit :math:`h(x) = G(x) - c - \log\nu - \log p_n(x)`.

    :math:`\sigma(h(x))` is the model's probability that :math:`x` is data rather than noise, when
    noise is :math:`\nu` times as frequent as data. It is Bayes-optimal, equal to
    :math:`p_d/(p_d + \nu p_n)`, exactly when :math:`G - c = \log p_d`.

    Args:
        g: unnormalised log-density :math:`G(x;\theta)` at the points, float tensor ``[..., n]``.
        log_pn: log noise density at the same points, a number or a tensor broadcasting to
            ``g``. A point where the noise has no density (``-inf``) gets :math:`h = +\infty`.
        log_z: the learned log normaliser :math:`c`, a number or a tensor broadcasting to
            ``g.shape[:-1]`` (one per independent problem).
        nu: noise-to-data ratio :math:`\nu > 0`.

    Returns:
        ``h``, shaped like ``g``.

    NaN or ±inf in the tensors ``g``, ``log_pn`` and ``log_z`` propagates to the result; it is
    not checked, which would cost a device synchronisation. (A number passed for ``log_pn`` or
    ``log_z`` is a parameter and is checked.)

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    g = float_tensor(g, "g")
    if g.ndim < 1:
        raise ValueError(f"g must have at least one dimension (the samples), got shape {tuple(g.shape)}")
    nu = real(nu, "nu", positive=True)
    log_pn = _like(log_pn, g, "log_pn", log_density=True)
    _broadcasts_to(log_pn, g.shape, "log_pn", "g's shape")
    log_z = _like(log_z, g, "log_z")
    _broadcasts_to(log_z, g.shape[:-1], "log_z", "the leading shape of g")
    return g - log_z.unsqueeze(-1) - math.log(nu) - log_pn


def nce_loss(g_data, g_noise, log_pn_data, log_pn_noise, log_z, nu: float | None = None) -> torch.Tensor:
    r"""Noise contrastive estimation loss in the Gutmann–Hyvärinen form.

    .. math::
        J = -\frac1N\sum_{i=1}^{N} \log\sigma\big(h(x_i)\big)
            - \frac{\nu}{M}\sum_{j=1}^{M} \log\big(1 - \sigma(h(y_j))\big),

        h(x) = G(x;\theta) - c - \log\big(\nu\,p_n(x)\big),

    with data :math:`x_i \sim p_d`, noise :math:`y_j \sim p_n` and a learned log normaliser
    :math:`c`. Its population version is minimised at :math:`G - c = \log p_d` (when the model can
    express it), so :math:`c` estimates :math:`\log Z`. Writing the noise term as :math:`\nu` times
    a *mean* keeps :math:`J` an estimate of the same population loss for any number :math:`M` of
    noise samples; Gutmann and Hyvärinen take :math:`M = \nu N`, the default.

    Su's version (kexue.fm/archives/5617) is the special case :math:`\nu = 1` with the noise
    density folded into the offset: pass ``log_pn_data = log_pn_noise = 0`` and read
    ``log_z`` as his :math:`\gamma`; then :math:`\log Z = \gamma - \log p_n` for uniform noise.

    Args:
        g_data: :math:`G` at the data, float tensor ``[..., N]``; leading dimensions index
            independent problems (each gets its own loss).
        g_noise: :math:`G` at the noise samples, ``[..., M]`` with the same leading dimensions.
        log_pn_data: :math:`\log p_n` at the data: a number or a tensor broadcasting to
            ``g_data``. ``-inf`` (data where the noise has no density) is allowed: such points are
            recognised as data with certainty and add nothing to the loss.
        log_pn_noise: :math:`\log p_n` at the noise samples, broadcasting to ``g_noise``; finite.
        log_z: :math:`c`, a number or a tensor broadcasting to the leading shape ``[...]``.
        nu: noise-to-data ratio :math:`\nu > 0` in the classifier's prior odds; default ``M / N``.

    Returns:
        The loss, shape ``[...]`` (a scalar for 1-D inputs). Differentiable in every tensor input.

    NaN or ±inf in ``g_data``, ``g_noise`` or a ``log_z`` tensor propagates to the result; it is
    not checked, which would cost a device synchronisation. The noise densities are checked (one
    synchronisation), because a bad one gives a NaN far from its cause.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    g_data, g_noise = float_tensor(g_data, "g_data"), float_tensor(g_noise, "g_noise")
    if g_data.ndim < 1 or g_data.shape[-1] == 0:
        raise ValueError(f"g_data must have a non-empty last (sample) dimension, got shape "
                         f"{tuple(g_data.shape)}")
    if g_noise.ndim != g_data.ndim or g_noise.shape[:-1] != g_data.shape[:-1] or g_noise.shape[-1] == 0:
        raise ValueError(f"g_noise must have shape [..., M] with M >= 1 and the leading shape of "
                         f"g_data {tuple(g_data.shape[:-1])}, got {tuple(g_noise.shape)}")
    if g_noise.device != g_data.device:
        raise ValueError(f"g_noise is on {g_noise.device} but g_data on {g_data.device}")
    nu = g_noise.shape[-1] / g_data.shape[-1] if nu is None else real(nu, "nu", positive=True)
    pn_data = _like(log_pn_data, g_data, "log_pn_data", log_density=True)
    _broadcasts_to(pn_data, g_data.shape, "log_pn_data", "g_data's shape")
    pn_noise = _like(log_pn_noise, g_noise, "log_pn_noise", log_density=True)
    _broadcasts_to(pn_noise, g_noise.shape, "log_pn_noise", "g_noise's shape")
    # One check (a single host sync): NaN or +inf densities, and noise samples the noise cannot
    # produce, would give a NaN or infinite loss far from their cause.
    if bool(torch.isnan(pn_data).any() | (pn_data == math.inf).any() | ~torch.isfinite(pn_noise).all()):
        if torch.isnan(pn_data).any() or (pn_data == math.inf).any():
            raise ValueError("log_pn_data must be -inf or finite (a log density), got NaN or +inf")
        raise ValueError("log_pn_noise must be finite: every noise sample must lie where the "
                         "noise has a positive density")
    h_data = nce_logit(g_data, pn_data, log_z, nu)
    h_noise = nce_logit(g_noise, pn_noise, log_z, nu)
    # log(1 - sigmoid(h)) = logsigmoid(-h), stable for large |h|.
    return -F.logsigmoid(h_data).mean(-1) - nu * F.logsigmoid(-h_noise).mean(-1)


# ---------------------------------------------------------------------------------------------
# Negative sampling and the full softmax
# ---------------------------------------------------------------------------------------------

def negative_sampling_loss(u, v_pos, v_neg, reduction: str = "mean") -> torch.Tensor:
    r"""Skip-gram negative-sampling loss (word2vec) with :math:`k` negatives per positive pair.

    .. math::
        \ell_b = -\log\sigma(\langle u_b, v^+_b\rangle)
                 - \sum_{j=1}^{k} \log\sigma(-\langle u_b, v^-_{bj}\rangle)

    It is NCE's loss with the normaliser fixed to :math:`c = 0` and the noise density dropped from
    the logit; its population minimiser is :math:`\langle u_w, v_c\rangle = \log\frac{p(c|w)}{q(c)}
    - \log k` for noise :math:`q` (see :func:`shifted_pmi`). Cost and memory are
    :math:`O(B\,k\,d)`, independent of the vocabulary: gather the rows with
    ``nn.Embedding(..., sparse=True)`` (or index a table) and the gradient of the output table is
    sparse too.

    Args:
        u: centre ("input") vectors, float tensor ``[B, d]``.
        v_pos: context ("output") vectors of the observed pairs, ``[B, d]``.
        v_neg: output vectors of the negatives, ``[B, k, d]`` with :math:`k \ge 1`.
        reduction: ``"mean"`` over the batch (default), ``"sum"`` or ``"none"`` (``[B]``); the mean
            of an empty batch is an error.

    NaN or ±inf in ``u``, ``v_pos`` or ``v_neg`` propagates to the result; it is not checked,
    which would cost a device synchronisation.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    u, v_pos, v_neg = (float_tensor(x, n) for x, n in ((u, "u"), (v_pos, "v_pos"), (v_neg, "v_neg")))
    reduction = _reduction(reduction)
    if u.ndim != 2:
        raise ValueError(f"u must have shape [B, d], got {tuple(u.shape)}")
    if v_pos.shape != u.shape:
        raise ValueError(f"v_pos must have the shape of u {tuple(u.shape)}, got {tuple(v_pos.shape)}")
    if v_neg.ndim != 3 or v_neg.shape[0] != u.shape[0] or v_neg.shape[2] != u.shape[1]:
        raise ValueError(f"v_neg must have shape [B, k, d] = [{u.shape[0]}, k, {u.shape[1]}], "
                         f"got {tuple(v_neg.shape)}")
    if v_neg.shape[1] < 1:
        raise ValueError(f"k (the number of negatives, v_neg.shape[1]) must be >= 1, got {v_neg.shape[1]}")
    if not (u.device == v_pos.device == v_neg.device):
        raise ValueError(f"u, v_pos and v_neg must be on one device, got {u.device}, "
                         f"{v_pos.device}, {v_neg.device}")
    pos = (u * v_pos).sum(-1)                                   # [B]
    # Multiply-and-sum rather than bmm: a batch of matrix-vector products is memory-bound, and
    # the elementwise form (and its backward) was about twice as fast as bmm on CPU.
    neg = (v_neg * u.unsqueeze(1)).sum(-1)                      # [B, k]
    loss = _softplus(-pos) + _softplus(neg).sum(-1)             # -log sigma(s) = softplus(-s)
    return _reduce(loss, reduction)


def full_softmax_loss(u, weight, target, bias=None, reduction: str = "mean") -> torch.Tensor:
    r"""Exact softmax cross-entropy over the whole vocabulary: the baseline NCE avoids.

    .. math:: \ell_b = -\langle u_b, w_{t_b}\rangle - b_{t_b}
              + \log\sum_{v=1}^{V} e^{\langle u_b, w_v\rangle + b_v}

    Every example touches all :math:`V` output rows: time :math:`O(B\,V\,d)`, a ``[B, V]`` logit
    tensor, and a dense ``[V, d]`` gradient for ``weight``.

    Args:
        u: input vectors, float ``[B, d]``.
        weight: output embedding table, ``[V, d]``.
        target: class (word) ids, int64 ``[B]`` in ``0..V-1``.
        bias: optional output bias ``[V]``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``; the mean of an empty batch is
            an error.

    NaN or ±inf in ``u``, ``weight`` or ``bias`` propagates to the result; it is not checked,
    which would cost a device synchronisation.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    u, weight = float_tensor(u, "u"), float_tensor(weight, "weight")
    reduction = _reduction(reduction)
    if u.ndim != 2 or weight.ndim != 2 or u.shape[1] != weight.shape[1]:
        raise ValueError(f"u must be [B, d] and weight [V, d] with the same d, got "
                         f"{tuple(u.shape)} and {tuple(weight.shape)}")
    if weight.shape[0] == 0:
        raise ValueError(f"weight must have at least one row (V >= 1 classes), got shape {tuple(weight.shape)}")
    if not isinstance(target, torch.Tensor) or target.dtype != torch.int64:
        raise TypeError(f"target must be an int64 tensor of class ids, got "
                        f"{getattr(target, 'dtype', type(target).__name__)}")
    if target.shape != u.shape[:1]:
        raise ValueError(f"target must have shape [B] = [{u.shape[0]}], got {tuple(target.shape)}")
    if target.numel() and (target.min() < 0 or target.max() >= weight.shape[0]):
        raise ValueError(f"target must hold ids in 0..{weight.shape[0] - 1} (V = weight.shape[0]), "
                         f"got values from {target.min().item()} to {target.max().item()}")
    if bias is not None:
        bias = float_tensor(bias, "bias")
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"bias must have shape [V] = [{weight.shape[0]}], got {tuple(bias.shape)}")
    logits = F.linear(u, weight, bias)
    return _reduce(F.cross_entropy(logits, target, reduction="none"), reduction)


def unigram_noise(counts, alpha: float = 0.75) -> torch.Tensor:
    r"""Word2vec's noise distribution :math:`q(w) = \mathrm{count}(w)^\alpha / \sum_v \mathrm{count}(v)^\alpha`.

    :math:`\alpha = 1` is the unigram distribution, :math:`\alpha = 0.75` Mikolov et al.'s choice
    (it lifts rare words), :math:`\alpha = 0` uniform over the words that occur. Words with count
    0 get probability 0 for every :math:`\alpha`.

    Computed in log space, :math:`q = \mathrm{softmax}(\alpha \log \mathrm{count})`, so that
    no power overflows or underflows before the normalisation: any finite counts and
    :math:`\alpha` give a distribution (e.g. counts ``[2, 3]`` with :math:`\alpha = 1000` give
    :math:`[(2/3)^{1000}, 1]` to rounding).

    Args:
        counts: ``[V]`` non-negative, finite counts (any real dtype), not all zero.
        alpha: exponent, a finite number >= 0.

    Returns:
        float64 ``[V]`` probabilities on ``counts``' device.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    counts = _counts(counts, "counts", 1, "a non-empty 1-D tensor")
    seen = counts > 0
    if not seen.any():
        raise ValueError("counts must not all be zero")
    alpha = _non_negative(alpha, "alpha")
    # count**alpha overflows (1e6**60) or underflows (1e-200**2) long before the ratio does;
    # in logs only differences matter. Unseen words get log-weight -inf, so 0 for every alpha.
    log_weights = torch.where(seen, alpha * counts.clamp_min(math.ulp(0.0)).log(), -math.inf)
    return torch.softmax(log_weights, 0)


def alias_table(probs) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Walker's alias table for ``probs``, built with tensor operations only.

    Bucket :math:`i` (one per id, chosen uniformly) keeps its own id with probability
    ``threshold[i]`` and returns ``alias[i]`` otherwise. With :math:`w = V p`, "light" ids
    (:math:`w < 1`) fill their bucket with their own mass :math:`w_i` and take the rest,
    :math:`\delta_i = 1 - w_i`, from one "heavy" id. Lay the heavies' masses end to end on a line
    (cut points :math:`P_j`) and the light deficits, in order, with one unit-length bucket per heavy
    that straddles the cut :math:`P_j` between heavy :math:`j` and :math:`j+1`. A run of lights
    between two heavy buckets then lies inside one heavy's mass, and heavy bucket :math:`j` is
    heavy :math:`j` below the cut and heavy :math:`j+1` above it. The runs end at the first
    cumulative deficit :math:`D \ge E_j` (the cumulative excess :math:`\sum_{j'\le j} w_{j'}-1`),
    found for all heavies at once with ``torch.searchsorted``: :math:`O(V \log V)` work, no Python
    loop, on ``probs``' device. (The usual construction, Vose's, is a sequential sweep.)

    Args:
        probs: ``[V]`` probabilities (non-negative, summing to one).

    Returns:
        ``(threshold, alias)``: float64 ``[V]`` in ``[0, 1]`` and int64 ``[V]``. The probability
        of id :math:`v` is :math:`\big(\mathrm{threshold}_v + \sum_{i:\,\mathrm{alias}_i = v}
        (1 - \mathrm{threshold}_i)\big)/V`, equal to ``probs`` up to rounding.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    probs = _probabilities(probs, "probs").double()
    n = probs.numel()
    w = probs * (n / probs.sum())
    light = w < 1
    light[torch.argmax(w)] = False   # rounding can leave every w just below 1; keep one heavy
    lights, heavies = torch.nonzero(light).flatten(), torch.nonzero(~light).flatten()
    threshold = torch.ones(n, dtype=torch.float64, device=probs.device)
    alias = torch.arange(n, device=probs.device)
    if lights.numel() == 0:     # every w is 1: each bucket keeps its own id
        return threshold, alias
    deficit = torch.cumsum(1 - w[lights], 0)                   # D_1..D_a
    excess = torch.cumsum(w[heavies] - 1, 0)                   # E_1..E_b
    # Lights 0..cut[j]-1 (0-based) come before heavy bucket j; D at the cut is >= E_j.
    cut = torch.searchsorted(deficit, excess).clamp_max(lights.numel() - 1) + 1
    cut[-1] = lights.numel()                                   # rounding: the last run takes the rest
    # Light i belongs to the run of the first heavy whose cut lies beyond it.
    run = torch.searchsorted(cut, torch.arange(lights.numel(), device=probs.device), right=True)
    threshold[lights] = w[lights]
    alias[lights] = heavies[run]
    # Heavy bucket j: heavy j below the cut P_j, heavy j+1 above; the last holds only itself.
    d_cut = deficit[cut - 1]
    threshold[heavies[:-1]] = (1 - (d_cut[:-1] - excess[:-1])).clamp(0.0, 1.0)
    alias[heavies[:-1]] = heavies[1:]
    return threshold, alias


class NoiseSampler:
    r"""Draws ids ``0..V-1`` from a fixed distribution ``probs``: vectorised, seeded, any device.

    ``method="alias"`` (default): Walker's alias method, :func:`alias_table` built once; a draw
    is one uniform number and two independent gathers, :math:`O(1)` per id whatever :math:`V`.
    ``method="inverse_cdf"``: ``torch.searchsorted`` in the cumulative table, :math:`O(\log V)`
    dependent reads per id. Neither does :math:`O(V)` work per call, unlike ``torch.multinomial``,
    which rebuilds its table every time; ``benchmarks/bench_nce.py`` measures all three.

    Args:
        probs: ``[V]`` probabilities: non-negative, finite, summing to one within
            :math:`\sqrt{\varepsilon}` of their dtype (e.g. :func:`unigram_noise`).
        method: ``"alias"`` or ``"inverse_cdf"``.

    Attributes:
        probs: the probabilities (float64, on ``probs``' device); ``log_probs``: their logs.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """

    METHODS = ("alias", "inverse_cdf")

    def __init__(self, probs, method: str = "alias"):
        method = checks.choice(method, "method", self.METHODS)
        probs = _probabilities(probs, "probs").double()
        self.method = method
        self.probs = probs
        self.log_probs = probs.log()
        if method == "alias":
            self._threshold, self._alias = alias_table(probs)
        else:
            cdf = torch.cumsum(probs, 0)
            # x / x is exactly 1 in IEEE arithmetic, so cdf[-1] == 1 and u < 1 never lands past
            # the last id with positive probability.
            self._cdf = cdf / cdf[-1]

    @classmethod
    def unigram(cls, counts, alpha: float = 0.75, method: str = "alias") -> NoiseSampler:
        """The sampler of :func:`unigram_noise` ``(counts, alpha)``."""
        return cls(unigram_noise(counts, alpha), method)

    @property
    def vocab_size(self) -> int:
        return self.probs.numel()

    @property
    def device(self) -> torch.device:
        return self.probs.device

    def sample(self, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        """int64 ids of the given shape (e.g. ``(B, k)``), using ``generator`` when given."""
        shape = _shape(shape)
        generator = checks.torch_generator(generator)
        if generator is not None and generator.device.type != self.device.type:
            raise ValueError(f"generator is on {generator.device} but the sampler on "
                             f"{self.device}; use torch.Generator(device={str(self.device)!r})")
        u = torch.rand(shape, dtype=torch.float64, device=self.device, generator=generator)
        if self.method == "inverse_cdf":
            return torch.searchsorted(self._cdf, u, right=True)
        # One uniform gives both the bucket (integer part) and the coin (fractional part).
        x = u * self.vocab_size
        bucket = x.long().clamp_max(self.vocab_size - 1)
        return torch.where(x - bucket < self._threshold[bucket], bucket, self._alias[bucket])

    def __repr__(self) -> str:
        return f"NoiseSampler(V={self.vocab_size}, method={self.method!r}, device={self.device})"


# ---------------------------------------------------------------------------------------------
# Closed forms for negative sampling
# ---------------------------------------------------------------------------------------------

def _counts(counts, name: str, ndim: int, what: str) -> torch.Tensor:
    """``counts`` as float64: ``ndim`` dimensions, non-empty, real, finite and non-negative."""
    counts = _tensor(counts, name, f"{what} of real counts")
    if counts.ndim != ndim or counts.numel() == 0 or counts.dtype == torch.bool or counts.is_complex():
        raise ValueError(f"{name} must be {what} of real counts, got shape "
                         f"{tuple(counts.shape)} and dtype {counts.dtype}")
    counts = counts.double()
    if not torch.isfinite(counts).all() or (counts < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return counts


def _cooccurrence(counts, name="counts") -> torch.Tensor:
    counts = _counts(counts, name, 2, "a non-empty [V_w, V_c] table")
    empty = torch.nonzero(counts.sum(1) == 0).flatten()
    if empty.numel():
        raise ValueError(f"{name} has all-zero rows {empty[:5].tolist()}: a word that never "
                         f"occurs as a centre word has no shifted PMI; drop those rows")
    return counts


def _noise_for(counts: torch.Tensor, noise_probs) -> torch.Tensor:
    if noise_probs is None:
        return counts.sum(0) / counts.sum()
    q = _probabilities(noise_probs, "noise_probs").to(device=counts.device, dtype=torch.float64)
    if q.numel() != counts.shape[1]:
        raise ValueError(f"noise_probs must have one entry per context (counts.shape[1] = "
                         f"{counts.shape[1]}), got {q.numel()}")
    return q


def shifted_pmi(counts, k: int, noise_probs=None) -> torch.Tensor:
    r"""The minimiser of the expected negative-sampling loss: :math:`\mathrm{PMI} - \log k`.

    For pairs :math:`(w, c)` drawn from a co-occurrence table with counts :math:`\#(w,c)` and
    :math:`k` negatives per pair from :math:`q`, each cell's expected loss
    :math:`\#(w,c)\,\mathrm{softplus}(-s) + k\,\#(w)\,q(c)\,\mathrm{softplus}(s)` is minimised at

    .. math:: s^*_{wc} = \log\frac{\#(w,c)}{\#(w)\,q(c)} - \log k,

    which for the unigram noise :math:`q(c) = \#(c)/|D|` is :math:`\mathrm{PMI}(w,c) - \log k`
    (Levy and Goldberg 2014); :math:`k = 1` is Su's :math:`\langle u, v\rangle = \mathrm{PMI}`.

    Args:
        counts: ``[V_w, V_c]`` non-negative co-occurrence counts (rows: centre words, columns:
            contexts), no all-zero row.
        k: number of negatives per pair, an integer >= 1.
        noise_probs: ``[V_c]`` noise distribution (non-negative, sums to one); default the
            unigram distribution of the contexts, ``counts.sum(0) / counts.sum()``.

    Returns:
        float64 ``[V_w, V_c]``; ``-inf`` where :math:`\#(w,c) = 0`, ``+inf`` where a context that
        occurs has :math:`q(c) = 0` (it is never a negative).

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    counts = _cooccurrence(counts)
    k = positive_int(k, "k")
    q = _noise_for(counts, noise_probs)
    s = counts.log() - counts.sum(1, keepdim=True).log() - q.log() - math.log(k)
    # A pair that is never seen and never a negative (q = 0) has no loss at all; call it -inf.
    return torch.where(counts > 0, s, -math.inf)


def sgns_population_loss(scores, counts, k: int, noise_probs=None) -> torch.Tensor:
    r"""Expected negative-sampling loss per positive pair, for a score table :math:`s_{wc}`.

    .. math:: L(s) = \sum_{w,c} P(w,c)\,\mathrm{softplus}(-s_{wc})
              + k\,P(w)\,q(c)\,\mathrm{softplus}(s_{wc}),

    with :math:`P = \#/|D|` and :math:`P(w)` its row sums: the expectation of
    :func:`negative_sampling_loss` when pairs are drawn from ``counts`` and negatives from ``q``.
    Its minimiser over unconstrained scores is :func:`shifted_pmi`.

    Args:
        scores: ``[V_w, V_c]`` float tensor, e.g. ``U @ V.T`` (differentiable).
        counts, k, noise_probs: as in :func:`shifted_pmi`.

    NaN in ``scores`` propagates to the result; it is not checked, which would cost a device
    synchronisation. (A cell of zero weight adds nothing, even with an infinite score.)

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    scores = float_tensor(scores, "scores")
    counts = _cooccurrence(counts).to(scores.device)
    if scores.shape != counts.shape:
        raise ValueError(f"scores must have the shape of counts {tuple(counts.shape)}, got "
                         f"{tuple(scores.shape)}")
    k = positive_int(k, "k")
    q = _noise_for(counts, noise_probs)
    joint = counts / counts.sum()
    negatives = k * joint.sum(1, keepdim=True) * q
    # A cell with no weight adds nothing, even where its score is infinite (0 * inf is NaN).
    pos = torch.where(joint > 0, joint * _softplus(-scores), 0.0)
    neg = torch.where(negatives > 0, negatives * _softplus(scores), 0.0)
    return (pos + neg).sum()


def fit_sgns_population(counts, k: int, dim: int | None = None, noise_probs=None,
                        offset: float | None = None, seed: int = 0, rounds: int = 5):
    r"""Minimise the expected negative-sampling loss over word vectors of dimension ``dim``.

    The logits are :math:`s_{ij} = \langle u_i, v_j\rangle - \gamma` with
    :math:`U \in \mathbb R^{V_w\times d}`, :math:`V \in \mathbb R^{V_c\times d}`, and
    :func:`sgns_population_loss` is minimised by L-BFGS from small random vectors: no sampling
    noise, so what remains is the effect of the rank and of the offset. With
    ``dim >= min(V_w, V_c)`` the logits can take any value and reach :func:`shifted_pmi`; a
    smaller ``dim`` gives a frequency-weighted low-rank fit of it. ``offset=None`` keeps
    :math:`\gamma = 0` (word2vec); a number learns :math:`\gamma` starting from that value.

    Args:
        counts, k, noise_probs: as in :func:`shifted_pmi` (no zero cells, so that the optimum
            is finite).
        dim: vector dimension :math:`d` (default ``counts.shape[1]``).
        offset: ``None`` or the starting value of a learned :math:`\gamma`.
        seed: seeds the initial vectors; rounds: L-BFGS restarts of 100 iterations each.

    Returns:
        ``(logits, gamma)``: float64 ``[V_w, V_c]`` :math:`U V^\top - \gamma`, detached, and
        :math:`\gamma` as a float (0.0 when it is not learned).

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    counts = _cooccurrence(counts)
    if (counts == 0).any():
        raise ValueError("counts must be positive everywhere: a zero cell has the optimum "
                         "-inf, which no finite vectors reach")
    k = positive_int(k, "k")
    dim = counts.shape[1] if dim is None else positive_int(dim, "dim")
    rounds = positive_int(rounds, "rounds")
    if offset is not None:
        offset = real(offset, "offset")
    gen = checks.generator(seed)
    shape_u, shape_v = (counts.shape[0], dim), (counts.shape[1], dim)
    u = (0.1 * torch.randn(shape_u, generator=gen, dtype=torch.float64)).to(counts.device)
    v = (0.1 * torch.randn(shape_v, generator=gen, dtype=torch.float64)).to(counts.device)
    gamma = torch.tensor(0.0 if offset is None else offset, dtype=torch.float64,
                         device=counts.device)
    params = [u.requires_grad_(), v.requires_grad_()]
    if offset is not None:
        params.append(gamma.requires_grad_())
    opt = torch.optim.LBFGS(params, lr=1, max_iter=100, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sgns_population_loss(u @ v.T - gamma, counts, k, noise_probs)
        loss.backward()
        return loss

    for _ in range(rounds):
        opt.step(closure)
    return (u @ v.T - gamma).detach(), gamma.item()


# ---------------------------------------------------------------------------------------------
# The chapter's 1-D example: G(x) = -a x^2 - b x^4
# ---------------------------------------------------------------------------------------------

def quartic_log_z(a: float, b: float) -> float:
    r""":math:`\log Z` for :math:`Z = \int e^{-a x^2 - b x^4}\,dx`, by adaptive quadrature.

    ``a`` real, ``b > 0`` (or ``b = 0`` with ``a > 0``, the Gaussian). No elementary closed form
    exists; for :math:`a > 0` it equals
    :math:`\tfrac12\sqrt{a/b}\,e^{a^2/8b}K_{1/4}(a^2/8b)` (a modified Bessel function), which the
    tests use as an independent check.

    The integral is taken in the scaled variable :math:`t = x/s`,
    :math:`s = \min(|a|^{-1/2}, b^{-1/4})`, in which the integrand has a width of order one
    whatever the size of ``a`` and ``b`` (quadrature in :math:`x` misses a peak of width
    :math:`10^{-4}` or :math:`10^{5}`), and a double well (:math:`a < 0`) is integrated around
    its peak. Accurate to about :math:`10^{-12}` (relative, or absolute where
    :math:`|\log Z| < 1`) for every finite ``a`` and ``b``; ``math.inf`` only where
    :math:`\log Z` itself exceeds the float range (a double well of depth
    :math:`a^2/4b > 10^{308}`).

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    from scipy import integrate

    a, b = real(a, "a"), real(b, "b")
    if b < 0:
        raise ValueError(f"b must be a finite number >= 0, got {b!r}")
    if b == 0 and a <= 0:
        raise ValueError(f"a must be > 0 when b = 0 (else Z is infinite), got a={a!r}")
    # x = s t makes the larger of |a| s^2 and b s^4 equal to one; logs keep s, A and B in range
    # (s^2 alone overflows for a = 1e-320).
    log_s = min(-0.5 * math.log(abs(a)) if a != 0 else math.inf,
                -0.25 * math.log(b) if b > 0 else math.inf)
    A = math.copysign(math.exp(math.log(abs(a)) + 2 * log_s), a) if a != 0 else 0.0
    B = math.exp(math.log(b) + 4 * log_s) if b > 0 else 0.0

    def quad(f, lo, hi):
        return integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)[0]

    # The integrand is even: integrate over t >= 0 and double.
    if A >= 0:   # one peak, at 0, of width ~1

        def f(t):
            return math.exp(-A * t * t - B * t**4)

        return log_s + math.log(2 * (quad(f, 0.0, 8.0) + quad(f, 8.0, math.inf)))
    # A double well: -A t^2 - B t^4 = peak - B (t^2 - t_p^2)^2 with t_p^2 = -A/2B and peak
    # A^2/4B. In u = t - t_p the peak sits at 0 with width <= 1 however far out t_p lies.
    peak = A * A / (4 * B) if B > 0 else math.inf   # B underflows to 0 only when peak > 1e308
    if math.isinf(peak):
        return math.inf
    t_p = math.sqrt(-A / (2 * B))

    def g(u):
        v = u * (u + 2 * t_p)    # t^2 - t_p^2
        return math.exp(-B * v * v)

    # Beyond |u| = 40 the integrand is below e^-800 of its peak (max(|A|, B) = 1).
    near = min(t_p, 40.0)
    total = quad(g, -near, 0.0) + quad(g, 0.0, 40.0) + quad(g, 40.0, math.inf)
    if t_p > near:
        total += quad(g, -t_p, -near)
    return log_s + math.log(2 * total) + peak


def sample_quartic(a: float, b: float, shape, generator: torch.Generator | None = None,
                   dtype=torch.float64, device=None) -> torch.Tensor:
    r"""Exact samples of :math:`p(x) \propto e^{-a x^2 - b x^4}` by rejection (``a > 0, b >= 0``).

    Proposal :math:`\mathcal N(0, 1/(2a))`, accepted with probability :math:`e^{-b x^4} \le 1`,
    while its acceptance rate :math:`Z(a,b)/\sqrt{\pi/a}` is at least 1/2. Where the quartic
    dominates that rate falls to 0 (about :math:`10^{-8}` at :math:`a = 10^{-16}, b = 1`), and
    the proposal becomes :math:`\mathcal N(0, 1/(2(a + c)))` with
    :math:`c = 2b/(a + \sqrt{a^2 + 4b})`, accepted with probability
    :math:`e^{-b (x^2 - x_0^2)^2}`, :math:`x_0^2 = 1/(a + \sqrt{a^2 + 4b})`: the envelope
    :math:`e^{-(a+c)x^2 + c^2/4b}` with the best :math:`c`, which accepts at least 79 % of the
    draws for every ``a`` and ``b``. So the work is at most about :math:`2.2\times` the output,
    in a few rounds of proposals drawn as tensors (in float64, then cast to ``dtype``).

    Args:
        a, b: the model's parameters; shape: output shape (an int or a tuple of ints);
            generator: a ``torch.Generator`` (on ``device``) for reproducible draws.
        dtype: a floating-point dtype; device: where the samples go.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    a, b = real(a, "a", positive=True), _non_negative(b, "b")
    shape, dtype = _shape(shape), _float_dtype(dtype)
    generator = checks.torch_generator(generator)
    n = shape.numel()
    device = torch.device("cpu") if device is None else torch.device(device)
    log_z = quartic_log_z(a, b)
    accept_rate = math.exp(log_z) / math.sqrt(math.pi / a)
    if b == 0 or accept_rate >= 0.5:
        # The original proposal where it works well: the same seeded draws as before.
        c = x0_sq = 0.0
    else:
        root = math.hypot(a, 2 * math.sqrt(b))      # sqrt(a^2 + 4b) without overflow
        c, x0_sq = 2 * b / (a + root), 1 / (a + root)
        # log rate = log Z - log(envelope mass); c^2/4b = c/(4(a + c)) since c (a + c) = b.
        accept_rate = math.exp(log_z + 0.5 * math.log((a + c) / math.pi) - c / (4 * (a + c)))
    std, sqrt_b = math.sqrt(0.5 / (a + c)), math.sqrt(b)
    out, filled = torch.empty(n, dtype=torch.float64, device=device), 0
    for _ in range(1000):   # a round fills every slot with probability ~1 - e^-64; 1000 never run out
        if filled >= n:
            break
        m = int((n - filled) / accept_rate * 1.1) + 64
        x = torch.randn(m, dtype=torch.float64, device=device, generator=generator) * std
        u = torch.rand(m, dtype=torch.float64, device=device, generator=generator)
        if c == 0:
            keep = x[u < torch.exp(-b * x**4)]
        else:
            d = sqrt_b * (x * x - x0_sq)
            keep = x[u < torch.exp(-d * d)]
        take = min(keep.numel(), n - filled)
        out[filled:filled + take] = keep[:take]
        filled += take
    else:
        if filled < n:
            raise RuntimeError(f"sample_quartic filled {filled} of {n} samples in 1000 rounds of "
                               f"rejection (a={a!r}, b={b!r}); this should not happen, please report it")
    return out.to(dtype).reshape(shape)


@dataclass(frozen=True)
class Noise1D:
    """A 1-D noise density for NCE: ``"gaussian"`` :math:`\\mathcal N(loc, width^2)` or
    ``"uniform"`` on ``[loc - width, loc + width]``.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """

    family: str = "gaussian"
    loc: float = 0.0
    width: float = 1.0

    def __post_init__(self):
        checks.choice(self.family, "family", ("gaussian", "uniform"))
        real(self.loc, "loc")
        real(self.width, "width", positive=True)

    def sample(self, shape, generator=None, dtype=torch.float64, device=None) -> torch.Tensor:
        """Draws of the given ``shape`` (an int or a tuple of ints), seeded by ``generator``."""
        shape, dtype = _shape(shape), _float_dtype(dtype)
        generator = checks.torch_generator(generator)
        if self.family == "gaussian":
            z = torch.randn(shape, dtype=dtype, device=device, generator=generator)
        else:
            z = 2 * torch.rand(shape, dtype=dtype, device=device, generator=generator) - 1
        return self.loc + self.width * z

    def log_prob(self, x) -> torch.Tensor:
        """:math:`\\log p_n(x)`, ``-inf`` outside a uniform's support.

        ``x``: a tensor or a real number. A floating tensor keeps its dtype; integers and numbers
        give float64. NaN in ``x`` propagates to the result; it is not checked, which would cost a
        device synchronisation.
        """
        if isinstance(x, torch.Tensor):
            if x.dtype == torch.bool or x.is_complex():
                raise TypeError(f"x must be a real tensor or number, got dtype {x.dtype}")
            if not x.is_floating_point():   # an int64 result would truncate log(1/2w) and -inf
                x = x.to(torch.float64)
        elif isinstance(x, numbers.Real) and not isinstance(x, bool):
            x = torch.tensor(float(x), dtype=torch.float64)
        else:
            raise TypeError(f"x must be a torch.Tensor or a real number, got {type(x).__name__}")
        # log(width) + log(...) rather than log(width * ...): a width near the float maximum
        # would overflow the product.
        if self.family == "gaussian":
            z = (x - self.loc) / self.width
            return -0.5 * z * z - (math.log(self.width) + 0.5 * math.log(2 * math.pi))
        inside = (x - self.loc).abs() <= self.width
        # The constant as a tensor of x's dtype: a Python float would be rounded to float32 first.
        inside_value = torch.tensor(-(math.log(2) + math.log(self.width)), dtype=x.dtype, device=x.device)
        log_p = torch.where(inside, inside_value, -math.inf)
        return torch.where(torch.isnan(x), x, log_p)    # NaN is neither inside nor outside

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The density on a NumPy grid (for quadrature and plots)."""
        x = np.asarray(x, dtype=np.float64)
        if self.family == "gaussian":
            z = (x - self.loc) / self.width
            return np.exp(-0.5 * z * z) / (self.width * math.sqrt(2 * math.pi))
        return np.where(np.abs(x - self.loc) <= self.width, 0.5 / self.width, 0.0)


@dataclass
class QuarticFit:
    """NCE estimates for :math:`G = -a x^2 - b x^4` with log normaliser ``log_z``; each field has
    the leading shape of the problems. ``converged``: Newton's decrement fell below tolerance.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """

    a: torch.Tensor
    b: torch.Tensor
    log_z: torch.Tensor
    iterations: int
    converged: torch.Tensor


def _quartic_g(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    x2 = x * x
    return -theta[..., 0:1] * x2 - theta[..., 1:2] * x2 * x2


def fit_quartic_nce(x_data, x_noise, noise: Noise1D, nu: float | None = None,
                    max_iter: int = 100, tol: float = 1e-10,
                    noise_in_logit: bool = True) -> QuarticFit:
    r"""Fit :math:`(a, b, c)` of :math:`G = -a x^2 - b x^4 - c` by minimising :func:`nce_loss`.

    The logit is affine in :math:`\theta = (a, b, c)`, so the loss is convex and Newton's method
    (gradient and Hessian by autograd through :func:`nce_loss`, step halving until the loss
    decreases) converges in a few steps. Independent problems along the leading dimensions are
    solved together; their losses are summed, which keeps them independent.

    Args:
        x_data: data ``[..., N]`` with :math:`N \ge 2` (the starting point uses their variance);
            x_noise: noise samples ``[..., M]``, :math:`M \ge 1`, drawn from ``noise``, with the
            leading shape of ``x_data``. Both finite (checked: they are data, not model output).
        noise: the :class:`Noise1D` that produced ``x_noise``.
        nu: noise-to-data ratio; default ``M / N``.
        max_iter: Newton iterations at most; tol: a number > 0; stop when every problem's
            Newton decrement :math:`g^\top H^{-1} g / 2` is below ``tol``.
        noise_in_logit: ``True`` (default): Gutmann and Hyvärinen's logit
            :math:`G - c - \log(\nu p_n)`. ``False``: Su's logit :math:`G - \gamma - \log\nu`,
            the noise density left out, as negative sampling does; then ``log_z`` holds the
            offset :math:`\gamma`, and at the optimum :math:`G - \gamma = \log p_d - \log p_n`
            (the energy must absorb :math:`-\log p_n`, which only works when the family can).

    Returns:
        A :class:`QuarticFit`.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    x_data, x_noise = float_tensor(x_data, "x_data"), float_tensor(x_noise, "x_noise")
    if not isinstance(noise, Noise1D):
        raise TypeError(f"noise must be a Noise1D, got {type(noise).__name__}")
    max_iter = positive_int(max_iter, "max_iter")
    tol = real(tol, "tol", positive=True)
    if not isinstance(noise_in_logit, bool):
        raise TypeError(f"noise_in_logit must be True or False, got {noise_in_logit!r}")
    if x_data.ndim < 1 or x_data.shape[-1] < 2:
        raise ValueError(f"x_data must have at least 2 samples in its last dimension (one has no "
                         f"variance to start from), got shape {tuple(x_data.shape)}")
    if x_noise.shape[:-1] != x_data.shape[:-1] or x_noise.ndim != x_data.ndim or x_noise.shape[-1] < 1:
        raise ValueError(f"x_noise must have shape [..., M] with M >= 1 and the leading shape of "
                         f"x_data {tuple(x_data.shape[:-1])}, got {tuple(x_noise.shape)}")
    if x_noise.device != x_data.device:
        raise ValueError(f"x_noise is on {x_noise.device} but x_data on {x_data.device}")
    checks.finite(x_data, "x_data")
    checks.finite(x_noise, "x_noise")
    lead = x_data.shape[:-1]
    if noise_in_logit:
        pn_data, pn_noise = noise.log_prob(x_data), noise.log_prob(x_noise)
    else:   # Su's form: the noise density is not in the logit
        pn_data, pn_noise = 0.0, 0.0

    # Start from the Gaussian with the data's variance (b = 0): a normalised model near the data.
    var = x_data.var(-1).clamp_min(1e-12)
    theta = torch.stack([0.5 / var, torch.zeros_like(var), 0.5 * torch.log(2 * math.pi * var)], -1)

    def losses(th):
        return nce_loss(_quartic_g(th, x_data), _quartic_g(th, x_noise), pn_data, pn_noise,
                        th[..., 2], nu)

    converged = torch.zeros(lead, dtype=torch.bool, device=x_data.device)
    for iteration in range(1, max_iter + 1):  # noqa: B007 (the count is reported after the loop)
        th = theta.detach().requires_grad_(True)
        loss = losses(th)
        (grad,) = torch.autograd.grad(loss.sum(), th, create_graph=True)
        hess = torch.stack([torch.autograd.grad(grad[..., i].sum(), th, retain_graph=i < 2)[0]
                            for i in range(3)], -2)
        grad, hess, loss = grad.detach(), hess.detach(), loss.detach()
        # A tiny ridge keeps the solve defined where the data cannot separate x^2 from x^4.
        ridge = 1e-12 * hess.diagonal(dim1=-2, dim2=-1).abs().amax(-1)[..., None, None]
        step = torch.linalg.solve(hess + ridge * torch.eye(3, dtype=hess.dtype, device=hess.device), grad)
        decrement = 0.5 * (grad * step).sum(-1)
        converged = decrement < tol
        if bool(converged.all()):
            break
        t = torch.ones(lead, dtype=theta.dtype, device=theta.device)
        with torch.no_grad():
            for _ in range(30):   # halve each problem's step until its loss decreases
                new = losses(theta - t[..., None] * step)
                worse = ~(new <= loss) & ~converged
                if not bool(worse.any()):
                    break
                t = torch.where(worse, t / 2, t)
            theta = torch.where(converged[..., None], theta, theta - t[..., None] * step)
    return QuarticFit(a=theta[..., 0], b=theta[..., 1], log_z=theta[..., 2], iterations=iteration,
                      converged=converged)


def nce_asymptotic_covariance(a: float, b: float, noise: Noise1D, nu: float) -> np.ndarray:
    r"""Asymptotic covariance of the NCE estimate of :math:`(a, b, c)`, times :math:`N`.

    For :math:`N` data and :math:`\nu N` noise samples (Gutmann and Hyvärinen 2012; it follows from
    the sandwich formula, the Hessian and the score covariance both being weighted by :math:`P_\nu`),

    .. math::
        N\,\mathrm{Cov}(\hat\theta) \to I_\nu^{-1} - \Big(1 + \frac1\nu\Big) I_\nu^{-1} m m^\top I_\nu^{-1},

        I_\nu = \mathbb E_d[P_\nu \phi\phi^\top],\quad m = \mathbb E_d[P_\nu\phi],\quad
        P_\nu = \frac{\nu p_n}{p_d + \nu p_n},

    with :math:`\phi = \nabla_\theta h = -(x^2, x^4, 1)`, integrated by quadrature at the true
    parameters. ``nu = math.inf`` gives the limit :math:`P_\nu = 1`, which is the maximum-likelihood
    covariance (the Fisher information's inverse for :math:`(a,b)`; for :math:`c`, the delta
    method's variance of :math:`\log Z(\hat a, \hat b)`).

    Args:
        a, b: the true parameters (as in :func:`quartic_log_z`); noise: a :class:`Noise1D`;
        nu: a number > 0, or ``math.inf``.

    Returns:
        a ``3 x 3`` NumPy array (order a, b, c).

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    from scipy import integrate

    if not isinstance(noise, Noise1D):
        raise TypeError(f"noise must be a Noise1D, got {type(noise).__name__}")
    nu = real(nu, "nu", positive=True, allow_inf=True)
    log_z = quartic_log_z(a, b)

    def integrand(x):
        p_d = math.exp(-a * x * x - b * x**4 - log_z)
        weight = 1.0 if math.isinf(nu) else (nu * noise.pdf(x) / (p_d + nu * noise.pdf(x)) if p_d > 0 else 1.0)
        phi = -np.array([x * x, x**4, 1.0])
        return p_d * weight * np.concatenate([np.outer(phi, phi).ravel(), phi])

    breaks = [] if noise.family == "gaussian" else [noise.loc - noise.width, noise.loc + noise.width]
    # Beyond |x| = edge the data density is below e^-80 of its peak (the integrand's x^8 included).
    edge = math.sqrt(abs(a) / b) + (80.0 / b) ** 0.25 if b > 0 else math.sqrt(80.0 / a)
    lo, hi = -edge, edge
    pieces = sorted({lo, hi, *[p for p in breaks if lo < p < hi]})
    total = sum(integrate.quad_vec(integrand, x0, x1, epsabs=1e-13, epsrel=1e-10)[0]
                for x0, x1 in zip(pieces[:-1], pieces[1:]))
    info, m = total[:9].reshape(3, 3), total[9:]
    inv = np.linalg.inv(info)
    factor = 1.0 if math.isinf(nu) else 1.0 + 1.0 / nu
    return inv - factor * inv @ np.outer(m, m) @ inv


# ---------------------------------------------------------------------------------------------
# A synthetic corpus and skip-gram training
# ---------------------------------------------------------------------------------------------

def topic_corpus(vocab_size: int = 30, n_topics: int = 3, n_pairs: int = 200_000,
                 generator: torch.Generator | None = None, zipf: float = 1.0):
    r"""Synthetic (centre, context) pairs from a topic model with a Zipf-like vocabulary.

    Word frequencies follow :math:`\mathrm{rank}^{-\text{zipf}}`; topic :math:`t` tilts them by a
    smooth bump over the vocabulary, so words of one topic co-occur. A pair draws a topic, then
    both words independently from it: :math:`P(w,c) = \sum_t \pi_t\,\varphi_t(w)\,\varphi_t(c)`,
    positive everywhere.

    Args:
        vocab_size, n_topics, n_pairs: integers >= 1; generator: a ``torch.Generator`` or None;
        zipf: any finite exponent (the frequencies are normalised in log space, so a large one
            concentrates the vocabulary instead of overflowing).

    Returns:
        ``(centres, contexts, joint)``: int64 ``[n_pairs]`` twice and the float64 ``[V, V]``
        joint distribution they were drawn from, all on ``generator``'s device (CPU without one).

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    vocab_size, n_topics, n_pairs = (positive_int(v, n) for v, n in
                                     ((vocab_size, "vocab_size"), (n_topics, "n_topics"), (n_pairs, "n_pairs")))
    generator = checks.torch_generator(generator)
    zipf = real(zipf, "zipf")
    device = generator.device if generator is not None else torch.device("cpu")
    words = torch.arange(vocab_size, dtype=torch.float64, device=device)
    centres = (torch.arange(n_topics, dtype=torch.float64, device=device) + 0.5) / n_topics
    # Circular distance between each word's position and each topic's centre.
    d = (words[None, :] / vocab_size - centres[:, None] + 0.5) % 1.0 - 0.5
    # phi_t(w) ~ (w + 1)^-zipf exp(2 cos(2 pi d)), normalised in logs: (w + 1)^-zipf overflows
    # for zipf = -1e6.
    phi = torch.softmax(-zipf * torch.log1p(words) + 2.0 * torch.cos(2 * math.pi * d), dim=1)
    joint = torch.einsum("tw,tc->wc", phi, phi) / n_topics
    cells = NoiseSampler(joint.flatten() / joint.sum()).sample(n_pairs, generator)
    return cells // vocab_size, cells % vocab_size, joint / joint.sum()


def train_sgns(centres, contexts, vocab_size: int, k: int, alpha: float = 1.0, dim: int | None = None,
               steps: int = 2000, batch: int = 1024, lr: float = 0.05, seed: int = 0):
    r"""Train skip-gram with negative sampling on a list of pairs; return the score table.

    Positive pairs are drawn uniformly from the corpus, :math:`k` negatives per pair from
    :func:`unigram_noise` of the context counts with exponent ``alpha``; Adam minimises
    :func:`negative_sampling_loss` with a learning rate decaying linearly to 0. With
    ``dim >= vocab_size`` (default ``vocab_size``) the scores :math:`s = U V^\top` can take any
    value, so they approach :func:`shifted_pmi` of the corpus counts.

    Args:
        centres, contexts: int64 ``[n]`` word ids in ``0..vocab_size-1``; k: negatives per pair;
        alpha: the noise exponent (>= 0); dim, steps, batch: integers >= 1; lr: Adam's initial
        learning rate, a finite number > 0; seed: an integer in [0, 2**63).

    Returns:
        ``(scores [V, V], losses [steps])`` as float64 tensors, detached.

    Raises:
        RuntimeError: if the loss is not finite at the end (a learning rate too large for the
        problem); one check after the loop, so no synchronisation per step.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    vocab_size, k = positive_int(vocab_size, "vocab_size"), positive_int(k, "k")
    lr = real(lr, "lr", positive=True)
    seed = checks.seed(seed)
    steps, batch = positive_int(steps, "steps"), positive_int(batch, "batch")
    dim = vocab_size if dim is None else positive_int(dim, "dim")
    for name, ids in (("centres", centres), ("contexts", contexts)):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64:
            raise TypeError(f"{name} must be an int64 tensor of word ids, got "
                            f"{getattr(ids, 'dtype', type(ids).__name__)}")
    if centres.shape != contexts.shape or centres.ndim != 1 or centres.numel() == 0:
        raise ValueError(f"centres and contexts must be non-empty, 1-D and of one length, got "
                         f"{tuple(centres.shape)} and {tuple(contexts.shape)}")
    if min(centres.min(), contexts.min()) < 0 or max(centres.max(), contexts.max()) >= vocab_size:
        raise ValueError(f"centres and contexts must hold ids in 0..{vocab_size - 1} (vocab_size)")
    device = centres.device
    gen = checks.generator(seed, device)
    counts = torch.bincount(contexts, minlength=vocab_size)
    sampler = NoiseSampler.unigram(counts, alpha)
    u = (0.1 * torch.randn(vocab_size, dim, dtype=torch.float64, generator=gen, device=device)).requires_grad_(True)
    v = (0.1 * torch.randn(vocab_size, dim, dtype=torch.float64, generator=gen, device=device)).requires_grad_(True)
    opt = torch.optim.Adam([u, v], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 - i / steps)
    losses = torch.empty(steps, dtype=torch.float64, device=device)
    for step in range(steps):
        pick = torch.randint(centres.numel(), (batch,), generator=gen, device=device)
        negatives = sampler.sample((batch, k), gen)
        loss = negative_sampling_loss(u[centres[pick]], v[contexts[pick]], v[negatives])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        losses[step] = loss.detach()
    scores = (u @ v.T).detach()
    if not bool(torch.isfinite(losses).all() & torch.isfinite(scores).all()):
        first = int(torch.nonzero(~torch.isfinite(losses))[0]) if not torch.isfinite(losses).all() else steps - 1
        raise RuntimeError(f"train_sgns diverged: the loss is {losses[first].item()} at step {first}; "
                           f"lr={lr!r} is too large for this problem")
    return scores, losses


# ---------------------------------------------------------------------------------------------
# Slider demos
# ---------------------------------------------------------------------------------------------
