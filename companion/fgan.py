r"""f-divergences, their convex conjugates, the variational (critic) bound and f-GAN losses.

Introduced in: f-GAN (kexue.fm/archives/6016).

Convention (ratio :math:`p/q` inside :math:`f`): for a convex :math:`f` on :math:`u \ge 0` with
:math:`f(1) = 0`,

.. math:: D_f(P\,\|\,Q) = \int q(x)\, f\!\Big(\frac{p(x)}{q(x)}\Big)\, dx \;\ge\; 0 .

Every convex :math:`f` is the upper envelope of its tangents, :math:`f(u) = \max_t\{tu - f^*(t)\}`
with the convex conjugate :math:`f^*(t) = \sup_u\{tu - f(u)\}`. Putting a *function* :math:`T(x)`
in place of :math:`t` at every point gives the variational lower bound that f-GAN trains,

.. math:: D_f(P\,\|\,Q) \;\ge\; \mathbb E_{x\sim P}[T(x)] - \mathbb E_{x\sim Q}[f^*(T(x))],

with equality at the optimal critic :math:`T^*(x) = f'(p(x)/q(x))`. A network outputs a raw value
:math:`v \in \mathbb R`; an output *activation* maps it into :math:`\operatorname{dom} f^*`.

The registry :data:`DIVERGENCES` holds Su's eight rows and the original GAN's, addressed by name
and labelled by their formula. Names of the two :math:`\chi^2` rows follow the common convention
(Pearson: :math:`f = (u-1)^2`, :math:`\int (p-q)^2/q`; Neyman: :math:`f = (1-u)^2/u`,
:math:`\int (q-p)^2/p`); Su's article pairs the same formulas and f's but swaps the two names, so
each entry records Su's label too. ``jensen_shannon`` is the Jensen–Shannon divergence with its
factor 1/2 (at most :math:`\log 2`); ``gan`` is the f-GAN paper's GAN row shifted by
:math:`\log 4` so that :math:`f(1) = 0`: its divergence is :math:`2\,\mathrm{JS}` and its bound is
the GAN value function :math:`\mathbb E_P\log D + \mathbb E_Q\log(1 - D)` plus :math:`\log 4`.

Kernels are PyTorch, take device and dtype from their inputs and work on any shape; the
quadrature references (:func:`divergence_quad`, :func:`gaussian_divergence`) use SciPy and return
Python floats. The figures are in :mod:`companion.figures.fgan` (also here as ``plot_*``, loaded on use).

Arguments are checked as :mod:`companion.checks` describes: parameters (names, numbers, grids,
seeds, densities' means and widths) always; critic outputs and log densities not, so NaN or ±inf
in them propagates to the result. Every sum over samples or grid points is taken in an order
that does not depend on the number of threads (``companion.checks.sum_last``), so results are
the same on one thread or many.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import choice as _choice
from companion.checks import finite as _finite
from companion.checks import flag as _flag
from companion.checks import float_tensor, real
from companion.checks import positive_int as _positive_int
from companion.checks import seed as _seed
from companion.checks import sum_last as _sum_last
from companion.checks import torch_generator as _torch_generator
from companion.progress import tqdm, trange
from companion.figures import lazy

# The figures live in companion.figures.fgan (they import matplotlib), loaded on first use.
__getattr__, __dir__ = lazy(__name__, ("plot_bound", "plot_conjugate"))

LOG2 = math.log(2.0)
LOG4 = math.log(4.0)
GENERATOR_LOSSES = ("minimax", "nonsaturating")


# ----------------------------------------------------------------------------------------------
# argument checks beyond companion.checks


def _critic_outputs(x, name: str) -> torch.Tensor:
    x = float_tensor(x, name)
    if x.dim() not in (1, 2) or (x.dim() == 2 and x.shape[1] != 1):
        raise ValueError(f"{name} must hold one critic value per sample, shape [N] or [N, 1], "
                         f"got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    return x


def _same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _broadcast(names: str, *tensors) -> None:
    try:
        torch.broadcast_shapes(*(t.shape for t in tensors))
    except RuntimeError:
        shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
        raise ValueError(f"{names} must have shapes that broadcast together, got {shapes}") from None


def _grid(x, name: str = "x") -> torch.Tensor:
    """``x`` if it is a floating-point grid of shape [n], n >= 2, finite and strictly increasing.

    The trapezoidal rule on a decreasing grid returns minus the integral and on a shuffled one a
    plausible wrong number, so the order is checked (one device synchronisation)."""
    x = float_tensor(x, name)
    if x.dim() != 1 or x.shape[0] < 2:
        raise ValueError(f"{name} must be a grid of shape [n] with n >= 2, got shape {tuple(x.shape)}")
    _finite(x, name)
    steps = x[1:] - x[:-1]
    if not bool((steps > 0).all()):
        i = int((steps <= 0).nonzero()[0])
        raise ValueError(f"{name} must be strictly increasing, got {name}[{i}] = {x[i].item():.17g} and "
                         f"{name}[{i + 1}] = {x[i + 1].item():.17g}")
    return x


def _pair_of_numbers(value, name: str) -> tuple[float, float]:
    """``(mu, sigma)`` from a pair of numbers, sigma > 0: a one-element tuple is not filled in."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a pair (mu, sigma) of numbers, got {value!r}")
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair (mu, sigma) of numbers, got {len(value)} value(s): {value!r}")
    return real(value[0], f"{name}[0]"), real(value[1], f"{name}[1]", positive=True)


def _callable(value, name: str, what: str) -> Callable:
    if not callable(value):
        raise TypeError(f"{name} must be a callable {what}, got {type(value).__name__}")
    return value


def _device(value) -> torch.device:
    if value is None:
        return torch.device("cpu")
    try:
        return torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch.device, a device name such as 'cpu' or 'cuda', or None, "
                         f"got {value!r}") from None


def _sample(sampler: Callable, n: int, g: torch.Generator, name: str, like: torch.Tensor | None = None,
            device: torch.device | None = None) -> torch.Tensor:
    """``sampler(n, g)``, checked to be a floating-point tensor [n, dim] on ``device`` (and like ``like``)."""
    x = sampler(n, g)
    what = f"must return a floating-point tensor of shape [{n}, dim]"
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} {what}, got {got}")
    if x.dim() != 2 or x.shape[0] != n or x.shape[1] < 1:
        raise ValueError(f"{name} {what}, got shape {tuple(x.shape)}")
    if like is not None and (x.shape[1] != like.shape[1] or x.dtype != like.dtype):
        raise ValueError(f"{name} must return samples of the same dimension and dtype every time and for "
                         f"both laws, got [{n}, {x.shape[1]}] {x.dtype} after [{like.shape[0]}, {like.shape[1]}] "
                         f"{like.dtype}")
    if device is not None and x.device.type != device.type:
        raise ValueError(f"{name} must draw on the generator's device {device}, got a tensor on {x.device}")
    return x


# ----------------------------------------------------------------------------------------------
# sums whose rounding does not depend on the thread count


def _mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of all of ``t`` (at least one element), independent of the thread count."""
    return _sum_last(t.flatten()) / t.numel()


def _trapezoid(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``torch.trapezoid(y, x)`` along the last dimension, independent of the thread count."""
    return _sum_last((y[..., 1:] + y[..., :-1]) * (x[1:] - x[:-1])) / 2


# ----------------------------------------------------------------------------------------------
# Lambert W, for the Jeffrey conjugate


def wright_omega_log(x: torch.Tensor) -> torch.Tensor:
    r"""``log ω(x)``, where the Wright omega function :math:`\omega(x) = W(e^x)` solves
    :math:`\omega + \log\omega = x` (:math:`W` is the principal Lambert W).

    Working with :math:`y = \log\omega` keeps every float finite: :math:`y` solves
    :math:`e^y + y = x`, an increasing convex equation that Newton's method solves from
    :math:`y_0 = \log x` (:math:`x > 1`) or :math:`y_0 = x` in five steps to rounding (float64).
    The last step is taken with autograd on and the previous iterate detached, which gives the
    exact derivative :math:`dy/dx = 1/(1 + \omega)`.

    Args:
        x: any shape, float. ``±inf`` gives its limit ``±inf``. NaN in ``x`` propagates to the
            result; it is not checked, which would cost a device synchronisation.

    Introduced in: f-GAN (kexue.fm/archives/6016), for the Jeffrey divergence's conjugate.
    """
    x = float_tensor(x, "x")
    infinite = torch.isinf(x)
    # Newton's step is inf - inf at x = ±inf: solve at 0 there and put the limit back afterwards
    # (the safe stand-in also keeps NaN out of the gradient of the entries not selected)
    x_safe = torch.where(infinite, torch.zeros_like(x), x)
    with torch.no_grad():
        y = torch.where(x_safe > 1, torch.log(x_safe.clamp_min(1)), x_safe)
        for _ in range(5):
            ey = torch.exp(y)
            y = y - (ey + y - x_safe) / (ey + 1)
    ey = torch.exp(y)
    y = y - (ey + y - x_safe) / (ey + 1)
    return torch.where(infinite, x, y)


def _jeffrey_conjugate(t):
    # W(e^{1-t}) + 1/W(e^{1-t}) + t - 2 with ω = W(e^{1-t}): since ω + log ω = 1 - t this equals
    # 1/ω - log ω - 1, which has no cancellation between ω and t when t is very negative
    y = wright_omega_log(1 - t)
    return torch.exp(-y) - y - 1


# ----------------------------------------------------------------------------------------------
# the registry


class _Expm1(torch.autograd.Function):
    """``torch.expm1`` whose derivative is ``exp(x)`` itself. torch forms it as ``expm1(x) + 1``,
    which is 0 in float32 at x = -30 where the exact value is 9.4e-14 (the Neyman and Hellinger
    activations' slopes far out on the flat side)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.expm1(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x)


def _expm1(x: torch.Tensor) -> torch.Tensor:
    return _Expm1.apply(x)


def _chi2(log_num, log_den):
    """(n - d)^2 / d from log n and log d, without overflow: d·expm1(r)^2 for r = log(n/d) <= 0,
    n·e^r·expm1(-r)^2 above (each branch sees only its own, clamped, half of r)."""
    r = log_num - log_den
    below, above = r.clamp(max=0), r.clamp(min=0)
    return torch.where(r <= 0, torch.exp(log_den) * torch.expm1(below) ** 2,
                       torch.exp(log_num + above) * torch.expm1(-above) ** 2)


def _tv_optimal_raw(r):
    return torch.where(r == 0, torch.zeros_like(r), torch.sign(r) * math.inf)


@dataclass(frozen=True, eq=False)
class FDivergence:
    """One f-divergence: its generator f, conjugate, domain, output activation and formula.

    Attributes (text):
        name: registry key. title: a readable name. formula: the divergence as an integral
        (LaTeX). f_formula, conjugate_formula, activation_formula: LaTeX. su_label: the name Su's
        table gives this row, when it differs from ``title``.
        domain: ``(lo, hi)`` of :math:`\\operatorname{dom} f^*`, the set where ``conjugate``'s
        formula is the convex conjugate and finite; closed: whether each end belongs to it.

    Methods take and return tensors of any shape (elementwise) and check their domain.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """

    name: str
    title: str
    formula: str
    f_formula: str
    conjugate_formula: str
    activation_formula: str
    domain: tuple[float, float]
    closed: tuple[bool, bool]
    _f: Callable
    _f_prime: Callable
    _conjugate: Callable
    _activation: Callable
    _conjugate_of_activation: Callable
    _optimal: Callable
    _optimal_raw: Callable
    _integrand: Callable
    su_label: str | None = None

    # --- the domain of f* ---

    def contains(self, t: torch.Tensor) -> torch.Tensor:
        """Boolean tensor: which entries of ``t`` lie in dom f* (NaN never does)."""
        (lo, hi), (lo_in, hi_in) = self.domain, self.closed
        above = (t >= lo) if lo_in else (t > lo)
        below = (t <= hi) if hi_in else (t < hi)
        return above & below

    def domain_str(self) -> str:
        (lo, hi), (lo_in, hi_in) = self.domain, self.closed
        def show(x):
            return {math.inf: "+inf", -math.inf: "-inf", 0.5 * LOG2: "log(2)/2"}.get(x, f"{x:g}")
        return f"{'[' if lo_in else '('}{show(lo)}, {show(hi)}{']' if hi_in else ')'}"

    def check_domain(self, t: torch.Tensor, where: str = "t") -> torch.Tensor:
        """``t`` unchanged if all of it lies in dom f*, else ValueError naming the bad values."""
        t = float_tensor(t, where)
        inside = self.contains(t)
        if not bool(inside.all()):
            bad = t[~inside]
            raise ValueError(
                f"{where} has {bad.numel()} value(s) outside dom f* = {self.domain_str()} of "
                f"{self.name!r} (f(u) = {self.f_formula}), e.g. {bad.flatten()[0].item():.6g}. "
                f"If these are raw critic outputs, pass raw=True so that the activation "
                f"{self.activation_formula} maps them into the domain first.")
        return t

    # --- the functions ---

    def f(self, u: torch.Tensor) -> torch.Tensor:
        """The generator :math:`f(u)` for ``u >= 0`` (``inf`` where it diverges at 0)."""
        u = float_tensor(u, "u")
        if not bool((u >= 0).all()):
            raise ValueError(f"u must be >= 0 (a density ratio p/q), got a minimum of {u.min().item():.6g}")
        return self._f(u)

    def f_prime(self, u: torch.Tensor) -> torch.Tensor:
        """The derivative :math:`f'(u)` for ``u > 0`` (for total variation, the subgradient
        ``sign(u - 1)/2``, 0 at the kink)."""
        u = float_tensor(u, "u")
        if not bool((u > 0).all()):
            raise ValueError(f"u must be > 0 for f'(u), got a minimum of {u.min().item():.6g}")
        return self._f_prime(u)

    def conjugate(self, t: torch.Tensor) -> torch.Tensor:
        """The convex conjugate :math:`f^*(t) = \\sup_{u \\ge 0}\\{tu - f(u)\\}` on its domain."""
        return self._conjugate(self.check_domain(t, "t"))

    def activation(self, v: torch.Tensor) -> torch.Tensor:
        """The output activation, mapping raw critic values :math:`v \\in \\mathbb R` into dom f*."""
        return self._activation(float_tensor(v, "v"))

    def conjugate_of_activation(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`f^*(\\text{activation}(v))`, written in a form that stays finite for large :math:`|v|`."""
        return self._conjugate_of_activation(float_tensor(v, "v"))

    def optimal_critic(self, log_ratio: torch.Tensor, raw: bool = False) -> torch.Tensor:
        """:math:`T^* = f'(e^{r})` from the log density ratio :math:`r = \\log(p/q)`; with
        ``raw=True`` the raw value :math:`v^*` whose activation is :math:`T^*` (infinite where
        the activation only approaches :math:`T^*`, as for total variation). NaN in
        ``log_ratio`` propagates to the result; it is not checked, which would cost a device
        synchronisation."""
        r = float_tensor(log_ratio, "log_ratio")
        return self._optimal_raw(r) if _flag(raw, "raw") else self._optimal(r)

    def integrand(self, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """The integrand of :attr:`formula`, equal to :math:`q f(p/q)` pointwise, from finite
        log densities (written so that nothing overflows where :math:`p/q` is extreme).

        ``log_p`` and ``log_q`` are floating-point tensors whose shapes broadcast. NaN or ±inf in
        them propagates to the result; it is not checked, which would cost a device
        synchronisation."""
        log_p, log_q = float_tensor(log_p, "log_p"), float_tensor(log_q, "log_q")
        _broadcast("log_p and log_q", log_p, log_q)
        return self._integrand(log_p, log_q)

    def __repr__(self):
        su = f", Su: {self.su_label!r}" if self.su_label else ""
        return f"FDivergence({self.name!r}: {self.formula}, f(u) = {self.f_formula}{su})"


def _entries():
    inf = math.inf
    half_log2 = 0.5 * LOG2
    return [
        FDivergence(
            "total_variation", "total variation", r"\frac{1}{2}\int|p-q|\,dx", r"\frac{1}{2}|u-1|", "t",
            r"\frac{1}{2}\tanh v", (-0.5, 0.5), (True, True),
            _f=lambda u: 0.5 * (u - 1).abs(),
            _f_prime=lambda u: 0.5 * torch.sign(u - 1),
            _conjugate=lambda t: t.clone(),
            _activation=lambda v: 0.5 * torch.tanh(v),
            _conjugate_of_activation=lambda v: 0.5 * torch.tanh(v),
            _optimal=lambda r: 0.5 * torch.sign(r),
            _optimal_raw=_tv_optimal_raw,
            _integrand=lambda lp, lq: 0.5 * (torch.exp(lp) - torch.exp(lq)).abs()),
        FDivergence(
            "kl", "Kullback–Leibler", r"\int p\log\frac{p}{q}\,dx", r"u\log u", r"e^{t-1}", "v",
            (-inf, inf), (False, False),
            _f=lambda u: torch.xlogy(u, u),
            _f_prime=lambda u: 1 + torch.log(u),
            _conjugate=lambda t: torch.exp(t - 1),
            _activation=lambda v: v.clone(),
            _conjugate_of_activation=lambda v: torch.exp(v - 1),
            _optimal=lambda r: 1 + r,
            _optimal_raw=lambda r: 1 + r,
            _integrand=lambda lp, lq: torch.exp(lp) * (lp - lq)),
        FDivergence(
            "reverse_kl", "reverse Kullback–Leibler", r"\int q\log\frac{q}{p}\,dx", r"-\log u",
            r"-1-\log(-t)", r"-e^{v}", (-inf, 0.0), (False, False),
            _f=lambda u: -torch.log(u),
            _f_prime=lambda u: -1 / u,
            _conjugate=lambda t: -1 - torch.log(-t),
            _activation=lambda v: -torch.exp(v),
            _conjugate_of_activation=lambda v: -1 - v,
            _optimal=lambda r: -torch.exp(-r),
            _optimal_raw=lambda r: -r,
            _integrand=lambda lp, lq: torch.exp(lq) * (lq - lp)),
        FDivergence(
            "pearson_chi2", "Pearson chi-squared", r"\int\frac{(p-q)^2}{q}\,dx", r"(u-1)^2",
            r"\frac{t^2}{4}+t", r"e^{v}-2", (-2.0, inf), (True, False),
            _f=lambda u: (u - 1) ** 2,
            _f_prime=lambda u: 2 * (u - 1),
            _conjugate=lambda t: 0.25 * t**2 + t,
            _activation=lambda v: torch.exp(v) - 2,
            _conjugate_of_activation=lambda v: 0.25 * torch.exp(2 * v) - 1,
            _optimal=lambda r: 2 * torch.expm1(r),
            _optimal_raw=lambda r: r + LOG2,
            _integrand=lambda lp, lq: _chi2(lp, lq),
            su_label="Neyman χ²"),
        FDivergence(
            "neyman_chi2", "Neyman chi-squared", r"\int\frac{(q-p)^2}{p}\,dx", r"\frac{(1-u)^2}{u}",
            r"2-2\sqrt{1-t}", r"1-e^{v}", (-inf, 1.0), (False, True),
            _f=lambda u: (1 - u) ** 2 / u,
            _f_prime=lambda u: 1 - u**-2,
            _conjugate=lambda t: 2 - 2 * torch.sqrt(1 - t),
            _activation=lambda v: -_expm1(v),
            _conjugate_of_activation=lambda v: 2 - 2 * torch.exp(0.5 * v),
            _optimal=lambda r: -torch.expm1(-2 * r),
            _optimal_raw=lambda r: -2 * r,
            _integrand=lambda lp, lq: _chi2(lq, lp),
            su_label="Pearson χ²"),
        FDivergence(
            "squared_hellinger", "squared Hellinger", r"\int(\sqrt{p}-\sqrt{q})^2\,dx",
            r"(\sqrt{u}-1)^2", r"\frac{t}{1-t}", r"1-e^{v}", (-inf, 1.0), (False, False),
            _f=lambda u: (torch.sqrt(u) - 1) ** 2,
            _f_prime=lambda u: 1 - torch.rsqrt(u),
            _conjugate=lambda t: t / (1 - t),
            _activation=lambda v: -_expm1(v),
            _conjugate_of_activation=lambda v: _expm1(-v),
            _optimal=lambda r: -torch.expm1(-0.5 * r),
            _optimal_raw=lambda r: -0.5 * r,
            _integrand=lambda lp, lq: (torch.exp(0.5 * lp) - torch.exp(0.5 * lq)) ** 2),
        FDivergence(
            "jeffrey", "Jeffrey", r"\int(p-q)\log\frac{p}{q}\,dx", r"(u-1)\log u",
            r"W(e^{1-t})+\frac{1}{W(e^{1-t})}+t-2", "v", (-inf, inf), (False, False),
            _f=lambda u: (u - 1) * torch.log(u),
            _f_prime=lambda u: torch.log(u) + 1 - 1 / u,
            _conjugate=_jeffrey_conjugate,
            _activation=lambda v: v.clone(),
            _conjugate_of_activation=_jeffrey_conjugate,
            _optimal=lambda r: r + 1 - torch.exp(-r),
            _optimal_raw=lambda r: r + 1 - torch.exp(-r),
            _integrand=lambda lp, lq: (torch.exp(lp) - torch.exp(lq)) * (lp - lq)),
        FDivergence(
            "jensen_shannon", "Jensen–Shannon",
            r"\frac{1}{2}\int p\log\frac{2p}{p+q}+q\log\frac{2q}{p+q}\,dx",
            r"\frac{u}{2}\log u-\frac{u+1}{2}\log\frac{u+1}{2}", r"-\frac{1}{2}\log(2-e^{2t})",
            r"\frac{1}{2}\log 2-\frac{1}{2}\log(1+e^{-v})", (-inf, half_log2), (False, False),
            _f=lambda u: 0.5 * torch.xlogy(u, u) - 0.5 * torch.xlogy(u + 1, 0.5 * (u + 1)),
            _f_prime=lambda u: 0.5 * (LOG2 + torch.log(u) - torch.log1p(u)),
            # 2 - e^{2t} = -2 expm1(2t - log 2): accurate as t approaches log(2)/2
            _conjugate=lambda t: -0.5 * LOG2 - 0.5 * torch.log(-_expm1(2 * t - LOG2)),
            _activation=lambda v: half_log2 + 0.5 * F.logsigmoid(v),
            _conjugate_of_activation=lambda v: -half_log2 + 0.5 * F.softplus(v),
            _optimal=lambda r: half_log2 + 0.5 * F.logsigmoid(r),
            _optimal_raw=lambda r: r.clone(),
            _integrand=lambda lp, lq: 0.5 * (torch.exp(lp) * (LOG2 - F.softplus(lq - lp))
                                             + torch.exp(lq) * (LOG2 - F.softplus(lp - lq)))),
        FDivergence(
            "gan", "GAN (twice Jensen–Shannon)",
            r"\int p\log\frac{p}{p+q}+q\log\frac{q}{p+q}\,dx+\log 4",
            r"u\log u-(u+1)\log(u+1)+\log 4", r"-\log(1-e^{t})-\log 4", r"-\log(1+e^{-v})",
            (-inf, 0.0), (False, False),
            _f=lambda u: torch.xlogy(u, u) - torch.xlogy(u + 1, u + 1) + LOG4,
            _f_prime=lambda u: torch.log(u) - torch.log1p(u),
            _conjugate=lambda t: -torch.log(-_expm1(t)) - LOG4,
            _activation=lambda v: F.logsigmoid(v),
            _conjugate_of_activation=lambda v: F.softplus(v) - LOG4,
            _optimal=lambda r: F.logsigmoid(r),
            _optimal_raw=lambda r: r.clone(),
            _integrand=lambda lp, lq: (-torch.exp(lp) * F.softplus(lq - lp)
                                       - torch.exp(lq) * (F.softplus(lp - lq) - LOG4))),
    ]


DIVERGENCES: dict[str, FDivergence] = {d.name: d for d in _entries()}
NAMES: tuple[str, ...] = tuple(DIVERGENCES)


def get(name: str) -> FDivergence:
    """The registry entry called ``name``; ValueError listing the known names otherwise.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {', '.join(NAMES)}; got {name!r}")
    try:
        return DIVERGENCES[name]
    except KeyError:
        raise ValueError(f"unknown f-divergence {name!r}; known: {', '.join(NAMES)}") from None


def table() -> str:
    """The registry as a plain-text table: name, divergence, f, conjugate, domain, activation.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    rows = [(d.name, d.formula, d.f_formula, d.conjugate_formula, d.domain_str(), d.activation_formula)
            for d in DIVERGENCES.values()]
    return "\n".join(" | ".join(row) for row in rows)


# ----------------------------------------------------------------------------------------------
# the variational bound, the optimal critic and the f-GAN losses


def _activated(critic_p, critic_q, div: FDivergence, raw: bool):
    """(T on P's samples, f*(T) on Q's samples) from raw or activated critic values."""
    if _flag(raw, "raw"):
        return div.activation(critic_p), div.conjugate_of_activation(critic_q)
    div.check_domain(critic_p, "critic_p")
    return critic_p, div.conjugate(div.check_domain(critic_q, "critic_q"))


def _pair(critic_p, critic_q, names=("critic_p", "critic_q")):
    critic_p = _critic_outputs(critic_p, names[0])
    critic_q = _critic_outputs(critic_q, names[1])
    if critic_p.shape[1:] != critic_q.shape[1:]:
        raise ValueError(f"{names[0]} and {names[1]} must both be [N] or both [N, 1], got shapes "
                         f"{tuple(critic_p.shape)} and {tuple(critic_q.shape)}")
    if critic_p.dtype != critic_q.dtype:
        raise TypeError(f"{names[0]} and {names[1]} must have the same dtype, got "
                        f"{critic_p.dtype} and {critic_q.dtype}")
    return critic_p, critic_q


def variational_bound(critic_p: torch.Tensor, critic_q: torch.Tensor, name: str, *,
                      raw: bool = True) -> torch.Tensor:
    r"""Monte Carlo estimate of the variational lower bound on :math:`D_f(P\,\|\,Q)`,

    .. math:: \frac1N\sum_{i} T(x_i) - \frac1M\sum_{j} f^*(T(y_j)),
        \qquad x_i \sim P,\ y_j \sim Q .

    For any critic with values in dom f* its expectation is at most :math:`D_f(P\,\|\,Q)`, with
    equality for :math:`T^* = f'(p/q)`.

    Args:
        critic_p: critic values on samples of P, shape ``[N]`` or ``[N, 1]``.
        critic_q: critic values on samples of Q, shape ``[M]`` or ``[M, 1]`` (same layout).
        name: a key of :data:`DIVERGENCES`.
        raw: ``True`` (default) when the values are raw network outputs :math:`v \in \mathbb R`;
            the entry's activation maps them into dom f* and :math:`f^*(T)` is evaluated in a
            stable fused form. ``False`` when they already are :math:`T` values, which must lie in
            dom f* (ValueError otherwise).

    Returns:
        A 0-d tensor (differentiable in both inputs). With ``raw=True``, NaN or ±inf in the
        critic values propagates to the result; it is not checked, which would cost a device
        synchronisation. (``raw=False`` checks the domain, which rejects NaN.)

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    critic_p, critic_q = _pair(critic_p, critic_q)
    t_p, conj_q = _activated(critic_p, critic_q, div, raw)
    return _mean(t_p) - _mean(conj_q)


def bound_with_error(critic_p: torch.Tensor, critic_q: torch.Tensor, name: str, *,
                     raw: bool = True) -> tuple[float, float]:
    r"""The Monte Carlo bound of :func:`variational_bound` and its standard error,

    .. math:: \mathrm{se} = \sqrt{\frac{\widehat{\mathrm{Var}}_P[T]}{N}
        + \frac{\widehat{\mathrm{Var}}_Q[f^*(T)]}{M}}

    (unbiased sample variances; the two samples independent). The bound of a fixed critic is at
    most :math:`D_f`, but its *estimate* from finite samples scatters around that bound by about
    one standard error, so an estimate can land above the divergence.

    Args:
        critic_p, critic_q, name, raw: as in :func:`variational_bound`; at least two samples each.

    Returns:
        ``(bound, standard_error)``, floats (computed in float64); NaN or ±inf in raw critic
        values propagates to them.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    critic_p, critic_q = _pair(critic_p, critic_q)
    if min(critic_p.shape[0], critic_q.shape[0]) < 2:
        raise ValueError(f"critic_p and critic_q must hold at least two samples of each law, got "
                         f"{critic_p.shape[0]} and {critic_q.shape[0]} (a standard error needs two)")
    with torch.no_grad():
        t_p, conj_q = _activated(critic_p, critic_q, div, raw)
        t_p, conj_q = t_p.double().flatten(), conj_q.double().flatten()
        mean_p, mean_q = _mean(t_p), _mean(conj_q)
        var_p = _sum_last((t_p - mean_p).square()) / (t_p.numel() - 1)
        var_q = _sum_last((conj_q - mean_q).square()) / (conj_q.numel() - 1)
        bound = (mean_p - mean_q).item()
        error = math.sqrt(var_p.item() / t_p.numel() + var_q.item() / conj_q.numel())
    return bound, error


def optimal_critic(log_p: torch.Tensor, log_q: torch.Tensor, name: str, *,
                   raw: bool = False) -> torch.Tensor:
    r"""The critic that makes the bound tight, :math:`T^*(x) = f'\big(p(x)/q(x)\big)`.

    Args:
        log_p, log_q: log densities at the same points, same shape (any).
        name: a key of :data:`DIVERGENCES`.
        raw: return :math:`T^*` (``False``) or the raw output :math:`v^*` with
            ``activation(v*) = T*`` (``True``; infinite where the activation only approaches
            :math:`T^*`, e.g. :math:`\pm\infty` for total variation where :math:`p \ne q`).

    Where :math:`p/q` is extreme, :math:`T^*` can round onto an open end of dom f* (e.g.
    :math:`\frac12\log 2` for Jensen–Shannon); evaluate the bound there from the raw values and
    the fused forms (``raw=True``), which stay finite. NaN in ``log_p`` or ``log_q`` propagates
    to the result; it is not checked, which would cost a device synchronisation.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    log_p, log_q = float_tensor(log_p, "log_p"), float_tensor(log_q, "log_q")
    _same_shape(log_p, log_q, "log_p and log_q")
    return div.optimal_critic(log_p - log_q, raw=raw)


def fgan_losses(critic_real: torch.Tensor, critic_fake: torch.Tensor, name: str, *,
                raw: bool = True, generator: str = "minimax") -> tuple[torch.Tensor, torch.Tensor]:
    r"""The two losses of an f-GAN that drives the generator's law :math:`Q` towards the data
    law :math:`P` in :math:`D_f(P\,\|\,Q)`: the critic ascends the bound, the generator descends it.

    * critic loss: :math:`-\big(\overline{T(x_{real})} - \overline{f^*(T(x_{fake}))}\big)`, minus
      the bound of :func:`variational_bound`;
    * generator loss, ``"minimax"``: :math:`-\overline{f^*(T(x_{fake}))}`, the part of the bound
      that depends on the generator (the same gradients as the bound itself);
      ``"nonsaturating"``: :math:`-\overline{T(x_{fake})}`, the f-GAN paper's alternative, which
      for the GAN row is the usual :math:`-\log D` trick.

    For the roles swapped (training towards :math:`D_f(Q\,\|\,P)`), pass the fake values first
    and use the critic loss only.

    Args:
        critic_real: critic values on data samples, ``[N]`` or ``[N, 1]``.
        critic_fake: critic values on generated samples, ``[M]`` or ``[M, 1]``.
        name: a key of :data:`DIVERGENCES`.
        raw: raw network outputs (``True``) or activated values in dom f* (``False``).
        generator: ``"minimax"`` or ``"nonsaturating"``.

    Returns:
        ``(critic_loss, generator_loss)``, 0-d tensors. Detach the generated samples for the
        critic's step and keep them attached for the generator's. With ``raw=True``, NaN or ±inf
        in the critic values propagates to the losses; it is not checked, which would cost a
        device synchronisation.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    _choice(generator, "generator loss", GENERATOR_LOSSES)
    critic_real, critic_fake = _pair(critic_real, critic_fake, ("critic_real", "critic_fake"))
    t_real, conj_fake = _activated(critic_real, critic_fake, div, raw)
    critic_loss = _mean(conj_fake) - _mean(t_real)
    if generator == "minimax":
        return critic_loss, -_mean(conj_fake)
    t_fake = div.activation(critic_fake) if raw else critic_fake
    return critic_loss, -_mean(t_fake)


# ----------------------------------------------------------------------------------------------
# reference divergences


def divergence_on_grid(log_p: torch.Tensor, log_q: torch.Tensor, x: torch.Tensor,
                       name: str) -> torch.Tensor:
    r""":math:`D_f(P\,\|\,Q)` by the trapezoidal rule on the points ``x``.

    Args:
        log_p, log_q: log densities on the grid, shape ``[..., n]`` (same shape; leading
            dimensions are separate pairs). NaN or ±inf in them propagates to the result; it is
            not checked, which would cost a device synchronisation.
        x: the grid, shape ``[n]``, finite and strictly increasing (checked: one synchronisation;
            a decreasing grid would flip the sign of the integral).
        name: a key of :data:`DIVERGENCES`.

    Returns:
        Shape ``[...]``; differentiable, so a model's parameters can be fitted by minimising it.
        The error is the trapezoidal rule's, :math:`O(h^2)` for smooth integrands, plus the mass
        outside ``[x[0], x[-1]]``; compare with :func:`divergence_quad` to measure it.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    log_p, log_q = float_tensor(log_p, "log_p"), float_tensor(log_q, "log_q")
    _same_shape(log_p, log_q, "log_p and log_q")
    x = _grid(x)
    if log_p.dim() == 0 or log_p.shape[-1] != x.shape[0]:
        raise ValueError(f"x must be a grid of shape [n] with n >= 2 matching the last dimension of "
                         f"log_p, got x {tuple(x.shape)} and log_p {tuple(log_p.shape)}")
    return _trapezoid(div.integrand(log_p, log_q), x)


def divergence_quad(log_p: Callable, log_q: Callable, name: str, lo: float = -math.inf,
                    hi: float = math.inf, points=None, **quad_kwargs) -> float:
    r""":math:`D_f(P\,\|\,Q)` for one-dimensional densities by adaptive quadrature
    (``scipy.integrate.quad``) of the entry's integrand.

    Args:
        log_p, log_q: callables mapping a float64 tensor of points to finite log densities.
        name: a key of :data:`DIVERGENCES`.
        lo, hi: integration limits, ``lo < hi`` (infinite by default). Give finite limits and
            ``points`` (where the integrand has kinks or narrow peaks) for integrands that are
            not smooth.
        points: finite numbers, only with finite ``lo`` and ``hi`` (as ``scipy.integrate.quad``).
        quad_kwargs: passed on to ``scipy.integrate.quad`` (``limit``, ``epsabs``, ...).

    Returns:
        A float; ``math.inf`` when the integral diverges so fast that the integrand overflows.

    Raises:
        RuntimeError when the quadrature warns that it did not reach its tolerance (too few
        subdivisions, a kink or peak it did not resolve, a slowly diverging integral, or a NaN
        from the log densities).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    from scipy import integrate

    div = get(name)
    _callable(log_p, "log_p", "(a float64 tensor of points -> log densities)")
    _callable(log_q, "log_q", "(a float64 tensor of points -> log densities)")
    lo, hi = real(lo, "lo", allow_inf=True), real(hi, "hi", allow_inf=True)
    if not lo < hi:
        raise ValueError(f"lo must be < hi (with lo > hi the integral changes sign), got lo={lo!r} and hi={hi!r}")
    if points is not None:
        if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
            raise TypeError(f"points must be a sequence of numbers or None, got {points!r}")
        points = [real(v, f"points[{i}]") for i, v in enumerate(points)]
        if math.isinf(lo) or math.isinf(hi):
            raise ValueError(f"points need finite lo and hi (scipy's quad ignores them otherwise), got "
                             f"lo={lo!r} and hi={hi!r}")

    def integrand(x):
        at = torch.tensor(x, dtype=torch.float64)
        return float(div.integrand(log_p(at), log_q(at)))

    quad_kwargs.setdefault("limit", 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        try:
            value, _ = integrate.quad(integrand, lo, hi, points=points, **quad_kwargs)
        except integrate.IntegrationWarning as warning:
            raise RuntimeError(f"quadrature of the {name!r} divergence did not converge (is it "
                               f"infinite?): {warning}") from None
    return value


def normal_log_prob(x: torch.Tensor, mu, sigma) -> torch.Tensor:
    r"""Log density of :math:`\mathcal N(\mu, \sigma^2)` at ``x`` (``mu``, ``sigma`` numbers or
    tensors that broadcast with ``x``).

    ``x`` is a floating-point tensor (its values are not checked: NaN or ±inf in it propagates
    to the result, without a device synchronisation). ``mu`` must be finite and ``sigma`` finite
    and > 0; as tensors (which may carry gradients) they are checked with one synchronisation.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    x = float_tensor(x, "x", "a floating-point torch.Tensor")
    mu, sigma = _location(mu, "mu", x), _location(sigma, "sigma", x, positive=True)
    if isinstance(mu, torch.Tensor) or isinstance(sigma, torch.Tensor):
        _broadcast("x, mu and sigma", x, *(v for v in (mu, sigma) if isinstance(v, torch.Tensor)))
    log_sigma = torch.log(torch.as_tensor(sigma, dtype=x.dtype, device=x.device))
    return -0.5 * ((x - mu) / sigma) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)


def _location(value, name: str, x: torch.Tensor, positive: bool = False):
    """A finite number (> 0 if ``positive``) or a floating-point tensor of them."""
    if not isinstance(value, torch.Tensor):
        return real(value, name, positive=positive)
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a number or a floating-point tensor, got dtype {value.dtype}")
    _finite(value.detach(), name)
    if positive and not bool((value > 0).all()):
        raise ValueError(f"{name} must be > 0, got a minimum of {value.min().item():.6g}")
    return value


CLOSED_FORM = ("kl", "reverse_kl", "jeffrey", "squared_hellinger", "pearson_chi2", "neyman_chi2")


# The closed forms below work with r = s1/s2 and the mean gap in units of a width, never with
# squares of the widths or means themselves, so that nothing overflows (x*x gives inf where
# x**2 raises) unless the divergence itself does.


def _scaled_gap(m1, m2, scale):
    """(m1 - m2) / scale, without the overflow of m1 - m2 for means of opposite signs near 1e308."""
    gap = m1 - m2
    return gap / scale if math.isfinite(gap) else m1 / scale - m2 / scale


def _kl_normal(m1, s1, m2, s2):
    r = s1 / s2
    if 0.5 < r < 2:  # log(1/r) + (r² - 1)/2 = (u - log1p(u))/2, u = r² - 1: no log of a rounded ratio
        u = (r - 1) * (r + 1)
        width = 0.5 * (u - math.log1p(u))
    else:  # log s2 - log s1, not log(s2/s1): the ratio can overflow or underflow
        width = math.log(s2) - math.log(s1) + 0.5 * (r * r - 1)
    q = _scaled_gap(m1, m2, s2)
    return width + 0.5 * q * q


def _chi2_normal(m1, s1, m2, s2):
    """∫ p²/q − 1 for p = N(m1, s1²), q = N(m2, s2²); infinite unless 2 s2² > s1².

    In log space: ∫ p²/q = exp(-log r - log(2 - r²)/2 + q²/(2 - r²)) with r = s1/s2 and
    q = (m1 - m2)/s2, so that e^10000 - 1 is math.inf instead of an OverflowError."""
    r = s1 / s2
    d = 2 - r * r
    if not d > 0 or r == 0:  # r == 0: s1/s2 underflowed, and ∫ p²/q ≈ s2/(s1 √2) overflows
        return math.inf
    q = _scaled_gap(m1, m2, s2)
    log_ratio = -math.log(r) - 0.5 * math.log(d) + q * q / d
    try:
        return math.expm1(log_ratio)  # expm1: accurate for nearly equal laws, where the result is small
    except OverflowError:
        return math.inf


def _hellinger_normal(m1, s1, m2, s2):
    """2 - 2 sqrt(2 s1 s2 / (s1² + s2²)) exp(-(m1 - m2)² / (4 (s1² + s2²))), as -2 expm1(...)."""
    small, large = min(s1, s2), max(s1, s2)
    r = small / large
    if r == 0:  # the ratio underflowed: the laws are as good as disjoint
        return 2.0
    q = _scaled_gap(m1, m2, large)
    one_plus = 1 + r * r
    return -2 * math.expm1(0.5 * math.log1p(-(1 - r) ** 2 / one_plus) - q * q / (4 * one_plus))


def gaussian_divergence(name: str, mu_p: float, sigma_p: float, mu_q: float, sigma_q: float) -> float:
    r""":math:`D_f\big(\mathcal N(\mu_p, \sigma_p^2)\,\|\,\mathcal N(\mu_q, \sigma_q^2)\big)`.

    Closed forms for the names in :data:`CLOSED_FORM`:
    KL :math:`= \log\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2 + (\mu_p-\mu_q)^2}{2\sigma_q^2} - \frac{1}{2}`
    (reverse KL swaps the two, Jeffrey adds both);
    squared Hellinger :math:`= 2 - 2\sqrt{\frac{2\sigma_p\sigma_q}{\sigma_p^2+\sigma_q^2}}
    \exp\big(-\frac{(\mu_p-\mu_q)^2}{4(\sigma_p^2+\sigma_q^2)}\big)`;
    Pearson :math:`\chi^2 = \frac{\sigma_q^2}{\sigma_p\sqrt{2\sigma_q^2-\sigma_p^2}}
    \exp\frac{(\mu_p-\mu_q)^2}{2\sigma_q^2-\sigma_p^2} - 1`, infinite unless
    :math:`2\sigma_q^2 > \sigma_p^2` (Neyman swaps the two). The others (total variation,
    Jensen–Shannon, GAN) by :func:`divergence_quad` over :math:`\pm 40` standard deviations of
    each law, after the change of variables that makes the narrower law standard, with the
    points where :math:`p = q` passed to the quadrature; laws whose :math:`\pm 40` standard
    deviations do not overlap get the value for disjoint supports (1, log 2, log 4), which
    differs from the exact one by less than :math:`e^{-800}`.

    Returns:
        A float (``math.inf`` where the divergence is infinite, or finite but beyond the largest
        float, e.g. Pearson :math:`\chi^2 = e^{10^4} - 1` for means 100 standard deviations apart).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    get(name)
    mu_p, mu_q = real(mu_p, "mu_p"), real(mu_q, "mu_q")
    sigma_p, sigma_q = real(sigma_p, "sigma_p", positive=True), real(sigma_q, "sigma_q", positive=True)
    if name == "kl":
        return _kl_normal(mu_p, sigma_p, mu_q, sigma_q)
    if name == "reverse_kl":
        return _kl_normal(mu_q, sigma_q, mu_p, sigma_p)
    if name == "jeffrey":
        return _kl_normal(mu_p, sigma_p, mu_q, sigma_q) + _kl_normal(mu_q, sigma_q, mu_p, sigma_p)
    if name == "squared_hellinger":
        return _hellinger_normal(mu_p, sigma_p, mu_q, sigma_q)
    if name == "pearson_chi2":
        return _chi2_normal(mu_p, sigma_p, mu_q, sigma_q)
    if name == "neyman_chi2":
        return _chi2_normal(mu_q, sigma_q, mu_p, sigma_p)
    return _quadrature_row(name, mu_p, sigma_p, mu_q, sigma_q)


# D_f of two laws with disjoint supports, f(0) + lim f(u)/u, for the rows without a closed form
_DISJOINT = {"total_variation": 1.0, "jensen_shannon": LOG2, "gan": LOG4}


def _quadrature_row(name, mu_p, sigma_p, mu_q, sigma_q):
    # f-divergences do not change under x -> (x - c)/a: put the narrower law at N(0, 1), where
    # floats are densest, and the other at N(m, s²) with s >= 1, whose features (of width s) lie
    # within 80 s of 0 and are resolved too. Means 1e10 apart or widths 1e-300 stay exact.
    if sigma_p <= sigma_q:
        m, s = _scaled_gap(mu_q, mu_p, sigma_p), sigma_q / sigma_p
        law_p, law_q = (0.0, 1.0), (m, s)
    else:
        m, s = _scaled_gap(mu_p, mu_q, sigma_q), sigma_p / sigma_q
        law_p, law_q = (m, s), (0.0, 1.0)
    # Beyond 40 widths a density is below e^-800: windows of ±40 widths that do not meet make the
    # laws disjoint to double precision. So does a ratio of widths s > 1e20: the divergence then
    # lies within about 2 (c/s) log s (c = sqrt(2 log s), the crossing) < 1e-17 of that limit.
    if not math.isfinite(m) or s > 1e20 or abs(m) >= 40 * (1 + s):
        return _DISJOINT[name]
    lo, hi = min(-40.0, m - 40 * s), max(40.0, m + 40 * s)
    cuts = {lo, hi, -40.0, 0.0, 40.0, m - 40 * s, m, m + 40 * s, *_standard_crossings(m, s)}
    cuts = sorted(x for x in cuts if lo <= x <= hi)
    # one quadrature per piece: with pieces as different as ±40 and ±40 s for s = 1e100, a
    # single call with break points reports round-off although every piece converges
    value = math.fsum(divergence_quad(lambda x: normal_log_prob(x, *law_p),
                                      lambda x: normal_log_prob(x, *law_q), name, a, b)
                      for a, b in zip(cuts[:-1], cuts[1:]))
    # these rows lie in [0, their disjoint limit]; the quadrature's error (~1e-15) can step over
    return min(max(value, 0.0), _DISJOINT[name])


def _standard_crossings(m, s):
    """Real x with N(x; 0, 1) = N(x; m, s²), s >= 1: x²(1 - 1/s²) + 2xm/s² - m²/s² - 2 log s = 0,
    in terms of m/s and 1/s so that nothing overflows."""
    a = (1 - 1 / s) * (1 + 1 / s)
    b = 2 * (m / s) / s
    c = -(m / s) * (m / s) - 2 * math.log(s)
    if abs(a) < 1e-14:
        return [] if b == 0 else [-c / b]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    root = math.sqrt(disc)
    return [(-b - root) / (2 * a), (-b + root) / (2 * a)]


def _normal_crossings(m1, s1, m2, s2):
    """Real x with N(x; m1, s1²) = N(x; m2, s2²), through :func:`_standard_crossings` of the
    narrower law standardised."""
    if s1 > s2:
        m1, s1, m2, s2 = m2, s2, m1, s1
    m = _scaled_gap(m2, m1, s1)
    return [m1 + s1 * x for x in _standard_crossings(m, s2 / s1)]


# ----------------------------------------------------------------------------------------------
# densities for the experiments


def mixture_log_prob(x: torch.Tensor, weights, means, stds) -> torch.Tensor:
    r"""Log density of the Gaussian mixture :math:`\sum_k w_k\,\mathcal N(m_k, s_k^2)` at ``x``
    (any shape); ``weights``, ``means``, ``stds`` are sequences of equal length of finite
    numbers, weights > 0 summing to 1, stds > 0. NaN or ±inf in ``x`` propagates to the result;
    it is not checked, which would cost a device synchronisation.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    x = float_tensor(x, "x")
    w, m, s = _mixture(weights, means, stds, x)
    return torch.logsumexp(torch.log(w) + normal_log_prob(x.unsqueeze(-1), m, s), dim=-1)


def mixture_sample(n: int, weights, means, stds, generator: torch.Generator | None,
                   dtype=torch.float32) -> torch.Tensor:
    """``n`` draws from the Gaussian mixture, shape ``[n, 1]``, reproducible through ``generator``
    and on its device (``None``: torch's global generator, on the CPU); ``dtype`` a floating-point
    dtype.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    n = _positive_int(n, "n")
    generator = _torch_generator(generator)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    device = generator.device if generator is not None else torch.device("cpu")
    w, m, s = _mixture(weights, means, stds, torch.zeros((), dtype=dtype, device=device))
    component = torch.multinomial(w, n, replacement=True, generator=generator)
    z = torch.randn(n, generator=generator, dtype=dtype, device=device)
    return (m[component] + s[component] * z).unsqueeze(1)


def _mixture(weights, means, stds, like):
    tensors = []
    for name, v in (("weights", weights), ("means", means), ("stds", stds)):
        if isinstance(v, (str, bytes)) or (isinstance(v, torch.Tensor) and (v.is_complex() or v.dtype == torch.bool)):
            raise TypeError(f"{name} must be a sequence of real numbers, got {v!r}")
        try:
            tensors.append(torch.as_tensor(v, dtype=like.dtype, device=like.device))
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name} must be a sequence of real numbers, got {v!r}") from None
    w, m, s = tensors
    if not (w.dim() == m.dim() == s.dim() == 1 and len(w) == len(m) == len(s) >= 1):
        raise ValueError(f"weights, means and stds must be sequences of the same length >= 1, got "
                         f"lengths {w.numel()}, {m.numel()}, {s.numel()}")
    if not bool((w > 0).all()) or abs(float(w.sum()) - 1) > 1e-6:
        raise ValueError(f"weights must be positive and sum to 1, got {w.tolist()}")
    _finite(m, "means")
    if not bool((s > 0).all()):
        raise ValueError(f"stds must be > 0, got {s.tolist()}")
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"stds must be finite, got {s.tolist()}")
    return w, m, s


# ----------------------------------------------------------------------------------------------
# training: neural estimation and a one-dimensional f-GAN


class Critic(nn.Module):
    """A small MLP critic ``[N, dim] -> [N]`` of raw values, with smooth (SiLU) hidden units:
    Su recommends a globally smooth network, so that the activation, not clipping, bounds T.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """

    def __init__(self, dim: int = 1, hidden: int = 32, depth: int = 2):
        super().__init__()
        dim, hidden, depth = _positive_int(dim, "dim"), _positive_int(hidden, "hidden"), _positive_int(depth, "depth")
        layers, width = [], dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = float_tensor(x, "x")
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape [N, {self.dim}], got {tuple(x.shape)}")
        return self.net(x).squeeze(1)


class GaussianGenerator(nn.Module):
    r"""The generator :math:`G(z) = \mu + \sigma z`, :math:`z \sim \mathcal N(0, 1)`: the model
    law is :math:`\mathcal N(\mu, \sigma^2)`, with parameters ``mu`` and ``log_sigma``.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """

    def __init__(self, mu: float = 0.0, sigma: float = 1.0):
        super().__init__()
        self.mu = nn.Parameter(torch.tensor(real(mu, "mu")))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(real(sigma, "sigma", positive=True))))

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mu + self.sigma * float_tensor(z, "z")


def estimate_divergence(sample_p: Callable, sample_q: Callable, name: str, *, steps: int = 1000,
                        batch_size: int = 256, lr: float = 3e-3, hidden: int = 32,
                        eval_size: int = 20_000, eval_every: int = 50, seed: int = 0,
                        progress: bool = True, device=None) -> dict:
    r"""Estimate :math:`D_f(P\,\|\,Q)` from samples by training a :class:`Critic` to maximise the
    variational bound (Adam, fresh mini-batches every step).

    Args:
        sample_p, sample_q: ``sample(n, generator) -> [n, dim]`` floating-point tensors, of the
            same ``dim`` and dtype (the critic takes that dtype); checked on every draw.
        name: a key of :data:`DIVERGENCES`.
        steps, batch_size, lr, hidden: training settings.
        eval_size, eval_every: every ``eval_every`` steps the bound is evaluated on held-out
            samples (``eval_size`` of each law, drawn once): an unbiased estimate of the bound of
            the current critic, hence of a value at most :math:`D_f`, with its standard error
            (:func:`bound_with_error`). The same held-out samples serve every evaluation, so
            their sampling error shifts every estimate alike.
        seed: seeds the critic's initialisation and every sample (an integer in [0, 2**63)).
        device: where the critic and the samples live (default CPU); the samplers receive a
            generator on this device and must draw there.

    Returns:
        dict with ``"step"``, ``"estimate"`` (held-out bound) and ``"stderr"`` (its standard
        error) lists, ``"train"`` (the mini-batch bound of every step), ``"critic"`` and
        ``"held_out"`` (the pair of held-out samples of P and Q).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    get(name)
    _callable(sample_p, "sample_p", "sample(n, generator) -> [n, dim]")
    _callable(sample_q, "sample_q", "sample(n, generator) -> [n, dim]")
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    eval_every, eval_size = _positive_int(eval_every, "eval_every"), _positive_int(eval_size, "eval_size")
    lr, hidden, seed = real(lr, "lr", positive=True), _positive_int(hidden, "hidden"), _seed(seed)
    device = _device(device)
    g = torch.Generator(device=device).manual_seed(seed)
    x_p_eval = _sample(sample_p, eval_size, g, "sample_p", device=device)
    x_q_eval = _sample(sample_q, eval_size, g, "sample_q", x_p_eval, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = Critic(x_p_eval.shape[1], hidden)  # initialised on the CPU: the same on every device
    critic.to(device=device, dtype=x_p_eval.dtype)
    optimiser = torch.optim.Adam(critic.parameters(), lr=lr)
    history = {"step": [], "estimate": [], "stderr": [], "train": []}
    for step in tqdm(range(1, steps + 1), desc=f"critic ({name})", show=progress, leave=False):
        bound = variational_bound(critic(_sample(sample_p, batch_size, g, "sample_p", x_p_eval, device)),
                                  critic(_sample(sample_q, batch_size, g, "sample_q", x_p_eval, device)), name)
        optimiser.zero_grad()
        (-bound).backward()
        optimiser.step()
        history["train"].append(bound.item())
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                estimate, stderr = bound_with_error(critic(x_p_eval), critic(x_q_eval), name)
            history["step"].append(step)
            history["estimate"].append(estimate)
            history["stderr"].append(stderr)
    history["critic"], history["held_out"] = critic, (x_p_eval, x_q_eval)
    return history


def train_fgan(sample_data: Callable, name: str, *, steps: int = 2000, batch_size: int = 256,
               critic_steps: int = 1, lr_critic: float = 3e-3, lr_generator: float = 1e-2,
               init: tuple[float, float] = (0.0, 1.0), hidden: int = 32, generator: str = "minimax",
               seed: int = 0, progress: bool = True, device=None) -> dict:
    r"""A one-dimensional f-GAN: fit :class:`GaussianGenerator` to data by
    :math:`\min_{\mu,\sigma}\max_T\ \mathbb E_{data}[T] - \mathbb E_{G}[f^*(T)]`, i.e. towards
    the minimiser of :math:`D_f(P_{data}\,\|\,\mathcal N(\mu, \sigma^2))`.

    Each step makes ``critic_steps`` Adam steps on the critic and one on the generator, with
    the losses of :func:`fgan_losses`.

    Args:
        sample_data: ``sample(n, generator) -> [n, 1]``, floating point (the models take its dtype).
        name: a key of :data:`DIVERGENCES`.
        init: the generator's initial ``(mu, sigma)``, both given, sigma > 0.
        generator: ``"minimax"`` or ``"nonsaturating"`` (see :func:`fgan_losses`).
        seed: seeds the critic's initialisation, the data and the noise (an integer in [0, 2**63)).
        device: where the models and samples live (default CPU); ``sample_data`` receives a
            generator on this device and must draw there.

    Returns:
        dict with ``"mu"``, ``"sigma"`` and ``"bound"`` (the critic's mini-batch bound), one
        entry per step, and the trained ``"generator"`` and ``"critic"``.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    get(name)
    _choice(generator, "generator loss", GENERATOR_LOSSES)
    _callable(sample_data, "sample_data", "sample(n, generator) -> [n, 1]")
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    critic_steps, hidden = _positive_int(critic_steps, "critic_steps"), _positive_int(hidden, "hidden")
    lr_critic = real(lr_critic, "lr_critic", positive=True)
    lr_generator = real(lr_generator, "lr_generator", positive=True)
    mu0, sigma0 = _pair_of_numbers(init, "init")
    seed, device = _seed(seed), _device(device)
    g = torch.Generator(device=device).manual_seed(seed)
    # the first batch of data, drawn before the models are built so that its dtype can be theirs
    first = _sample(sample_data, batch_size, g, "sample_data", device=device)
    if first.shape[1] != 1:
        raise ValueError(f"sample_data must return a floating-point tensor of shape [{batch_size}, 1], "
                         f"got shape {tuple(first.shape)}")
    dtype, pending = first.dtype, first
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = Critic(1, hidden).to(device=device, dtype=dtype)  # initialised on the CPU: the same on every device
    model = GaussianGenerator(mu0, sigma0).to(device=device, dtype=dtype)
    opt_c = torch.optim.Adam(critic.parameters(), lr=lr_critic, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.parameters(), lr=lr_generator, betas=(0.5, 0.999))
    history = {"mu": [], "sigma": [], "bound": []}
    for _ in trange(steps, desc=f"f-GAN ({name})", show=progress, leave=False):
        for _ in range(critic_steps):
            data = pending if pending is not None else _sample(sample_data, batch_size, g, "sample_data", first, device)
            pending = None
            fake = model(torch.randn(batch_size, 1, generator=g, device=device, dtype=dtype)).detach()
            critic_loss, _ = fgan_losses(critic(data), critic(fake), name, generator=generator)
            opt_c.zero_grad()
            critic_loss.backward()
            opt_c.step()
        fake = model(torch.randn(batch_size, 1, generator=g, device=device, dtype=dtype))
        _, generator_loss = fgan_losses(critic(data), critic(fake), name, generator=generator)
        opt_g.zero_grad()
        generator_loss.backward()
        opt_g.step()
        history["mu"].append(model.mu.item())
        history["sigma"].append(model.sigma.item())
        history["bound"].append(-critic_loss.item())
    history["generator"], history["critic"] = model, critic
    return history


def fit_gaussian_by_quadrature(log_p: torch.Tensor, x: torch.Tensor, name: str,
                               init: tuple[float, float] = (0.0, 1.0), iters: int = 200) -> dict:
    r"""Minimise :math:`D_f(P\,\|\,\mathcal N(\mu, \sigma^2))` over :math:`(\mu, \sigma)` directly,
    with the divergence computed by :func:`divergence_on_grid` and L-BFGS on
    :math:`(\mu, \log\sigma)`. A local method: give several ``init`` for multimodal targets.

    Args:
        log_p: the target's log density on ``x``, shape ``[n]``, finite (checked).
        x: the grid, shape ``[n]``, finite and strictly increasing (float64 recommended).
        init: initial ``(mu, sigma)``, a pair of finite numbers with sigma > 0.

    Returns:
        dict with ``"mu"``, ``"sigma"`` and ``"divergence"`` (floats) at the optimum.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    mu0, sigma0 = _pair_of_numbers(init, "init")
    iters = _positive_int(iters, "iters")
    log_p, x = float_tensor(log_p, "log_p"), _grid(x)
    if log_p.shape != x.shape:
        raise ValueError(f"log_p must hold the log density at each point of x, shape {tuple(x.shape)}, "
                         f"got shape {tuple(log_p.shape)}")
    if log_p.dtype != x.dtype:
        raise TypeError(f"log_p and x must have the same dtype, got {log_p.dtype} and {x.dtype}")
    _finite(log_p, "log_p")  # a NaN here would make L-BFGS stop at a meaningless point
    mu = torch.tensor(mu0, dtype=x.dtype, device=x.device, requires_grad=True)
    log_sigma = torch.tensor(math.log(sigma0), dtype=x.dtype, device=x.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([mu, log_sigma], lr=1, max_iter=iters, tolerance_grad=1e-12,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def divergence():
        # the grid and the parameters are checked above: no per-step checks inside L-BFGS
        log_q = -0.5 * ((x - mu) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)
        return _trapezoid(div.integrand(log_p, log_q), x)

    def closure():
        optimiser.zero_grad()
        value = divergence()
        value.backward()
        return value

    optimiser.step(closure)
    with torch.no_grad():
        value = divergence()
    return {"mu": mu.item(), "sigma": log_sigma.exp().item(), "divergence": value.item()}


# ----------------------------------------------------------------------------------------------
# the slider's bound by quadrature (companion.figures.fgan draws it)


BOUND_GRID = (-16.0, 20.0, 4001)  # wide enough for the χ² integrands of the slider range


def mixed_critic_bound(log_p: torch.Tensor, log_q: torch.Tensor, x: torch.Tensor, name: str,
                       s: float = 1.0) -> torch.Tensor:
    r"""The exact variational bound of the critic :math:`T_s = s\,T^* + (1 - s)\,f'(1)`, a
    mixture of the optimal critic :math:`T^* = f'(p/q)` with the constant critic :math:`f'(1)`,

    .. math:: B(s) = \int p(x)\,T_s(x) - q(x)\,f^*\big(T_s(x)\big)\,dx ,

    by the trapezoidal rule on the points ``x``. :math:`B(1) = D_f(P\,\|\,Q)` (up to the rule's
    error), :math:`B(0) = 0`, and :math:`B` is concave in :math:`s` (:math:`T_s` is linear in
    :math:`s` and :math:`f^*` is convex), so :math:`B(s) \le D_f` everywhere.

    Args:
        log_p, log_q: log densities on the grid, shape ``[n]`` (same shape). NaN or ±inf in them
            propagates to the result (``s < 1`` checks the mixed critic's domain, which rejects NaN).
        x: the grid, shape ``[n]``, finite and strictly increasing (checked).
        name: a key of :data:`DIVERGENCES`.
        s: the mixing weight, in ``[0, 1]``.

    Returns:
        A 0-d tensor. At ``s = 1`` it goes through the raw optimum and the fused
        :math:`f^*\circ a`, which stay finite where :math:`T^*` itself rounds onto an open end of
        dom f*; it then equals :func:`divergence_on_grid` up to rounding.

    Introduced in: f-GAN (kexue.fm/archives/6016), for the bound table and :func:`plot_bound`.
    """
    div = get(name)
    log_p, log_q = float_tensor(log_p, "log_p"), float_tensor(log_q, "log_q")
    _same_shape(log_p, log_q, "log_p and log_q")
    x = _grid(x)
    if log_p.shape != x.shape:
        raise ValueError(f"x must be a grid of shape [n] with n >= 2 and the shape of log_p, got x "
                         f"{tuple(x.shape)} and log_p {tuple(log_p.shape)}")
    s = real(s, "s")
    if not 0 <= s <= 1:
        raise ValueError(f"s must lie in [0, 1], got {s!r}")
    if s == 1:  # through the raw optimum and the fused forms: T* itself can round onto an open end
        v = div.optimal_critic(log_p - log_q, raw=True)
        t, conj = div.activation(v), div.conjugate_of_activation(v)
    else:
        c = div.f_prime(torch.ones((), dtype=x.dtype, device=x.device))
        t = s * div.optimal_critic(log_p - log_q) + (1 - s) * c
        conj = div.conjugate(t)
    return _trapezoid(torch.exp(log_p) * t - torch.exp(log_q) * conj, x)
