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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import float_tensor, real
from companion.checks import positive_int as _positive_int
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
        x: any shape, float.

    Introduced in: f-GAN (kexue.fm/archives/6016), for the Jeffrey divergence's conjugate.
    """
    x = float_tensor(x, "x")
    with torch.no_grad():
        y = torch.where(x > 1, torch.log(x.clamp_min(1)), x)
        for _ in range(5):
            ey = torch.exp(y)
            y = y - (ey + y - x) / (ey + 1)
    ey = torch.exp(y)
    return y - (ey + y - x) / (ey + 1)


def _jeffrey_conjugate(t):
    # W(e^{1-t}) + 1/W(e^{1-t}) + t - 2 with ω = W(e^{1-t}): since ω + log ω = 1 - t this equals
    # 1/ω - log ω - 1, which has no cancellation between ω and t when t is very negative
    y = wright_omega_log(1 - t)
    return torch.exp(-y) - y - 1


# ----------------------------------------------------------------------------------------------
# the registry


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
        the activation only approaches :math:`T^*`, as for total variation)."""
        r = float_tensor(log_ratio, "log_ratio")
        return self._optimal_raw(r) if raw else self._optimal(r)

    def integrand(self, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """The integrand of :attr:`formula`, equal to :math:`q f(p/q)` pointwise, from finite
        log densities (written so that nothing overflows where :math:`p/q` is extreme)."""
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
            _activation=lambda v: -torch.expm1(v),
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
            _activation=lambda v: -torch.expm1(v),
            _conjugate_of_activation=lambda v: torch.expm1(-v),
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
            _conjugate=lambda t: -0.5 * LOG2 - 0.5 * torch.log(-torch.expm1(2 * t - LOG2)),
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
            _conjugate=lambda t: -torch.log(-torch.expm1(t)) - LOG4,
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
    if raw:
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
        A 0-d tensor (differentiable in both inputs).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    critic_p, critic_q = _pair(critic_p, critic_q)
    t_p, conj_q = _activated(critic_p, critic_q, div, raw)
    return t_p.mean() - conj_q.mean()


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
        ``(bound, standard_error)``, floats (computed in float64).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    critic_p, critic_q = _pair(critic_p, critic_q)
    if min(critic_p.shape[0], critic_q.shape[0]) < 2:
        raise ValueError(f"a standard error needs at least two samples of each law, got "
                         f"{critic_p.shape[0]} and {critic_q.shape[0]}")
    with torch.no_grad():
        t_p, conj_q = _activated(critic_p, critic_q, div, raw)
        t_p, conj_q = t_p.double(), conj_q.double()
        bound = (t_p.mean() - conj_q.mean()).item()
        error = math.sqrt(t_p.var().item() / t_p.shape[0] + conj_q.var().item() / conj_q.shape[0])
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
    the fused forms (``raw=True``), which stay finite.

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
        critic's step and keep them attached for the generator's.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    if generator not in GENERATOR_LOSSES:
        raise ValueError(f"unknown generator loss {generator!r}; known: {', '.join(GENERATOR_LOSSES)}")
    critic_real, critic_fake = _pair(critic_real, critic_fake, ("critic_real", "critic_fake"))
    t_real, conj_fake = _activated(critic_real, critic_fake, div, raw)
    critic_loss = conj_fake.mean() - t_real.mean()
    if generator == "minimax":
        return critic_loss, -conj_fake.mean()
    t_fake = div.activation(critic_fake) if raw else critic_fake
    return critic_loss, -t_fake.mean()


# ----------------------------------------------------------------------------------------------
# reference divergences


def divergence_on_grid(log_p: torch.Tensor, log_q: torch.Tensor, x: torch.Tensor,
                       name: str) -> torch.Tensor:
    r""":math:`D_f(P\,\|\,Q)` by the trapezoidal rule on the points ``x``.

    Args:
        log_p, log_q: log densities on the grid, shape ``[..., n]`` (same shape; leading
            dimensions are separate pairs).
        x: the grid, shape ``[n]``, increasing.
        name: a key of :data:`DIVERGENCES`.

    Returns:
        Shape ``[...]``; differentiable, so a model's parameters can be fitted by minimising it.
        The error is the trapezoidal rule's, :math:`O(h^2)` for smooth integrands, plus the mass
        outside ``[x[0], x[-1]]``; compare with :func:`divergence_quad` to measure it.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    log_p, log_q, x = float_tensor(log_p, "log_p"), float_tensor(log_q, "log_q"), float_tensor(x, "x")
    _same_shape(log_p, log_q, "log_p and log_q")
    if x.dim() != 1 or log_p.dim() == 0 or log_p.shape[-1] != x.shape[0] or x.shape[0] < 2:
        raise ValueError(f"x must be a grid of shape [n] with n >= 2 matching the last dimension of "
                         f"log_p, got x {tuple(x.shape)} and log_p {tuple(log_p.shape)}")
    return torch.trapezoid(div.integrand(log_p, log_q), x)


def divergence_quad(log_p: Callable, log_q: Callable, name: str, lo: float = -math.inf,
                    hi: float = math.inf, points=None, **quad_kwargs) -> float:
    r""":math:`D_f(P\,\|\,Q)` for one-dimensional densities by adaptive quadrature
    (``scipy.integrate.quad``) of the entry's integrand.

    Args:
        log_p, log_q: callables mapping a float64 tensor of points to finite log densities.
        name: a key of :data:`DIVERGENCES`.
        lo, hi: integration limits (infinite by default). Give finite limits and ``points`` (where
            the integrand has kinks or narrow peaks) for integrands that are not smooth.
        quad_kwargs: passed on to ``scipy.integrate.quad`` (``limit``, ``epsabs``, ...).

    Returns:
        A float; ``math.inf`` when the integral diverges so fast that the integrand overflows.

    Raises:
        RuntimeError when the quadrature warns that it did not reach its tolerance (too few
        subdivisions, a kink or peak it did not resolve, or a slowly diverging integral).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    from scipy import integrate

    div = get(name)

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

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    log_sigma = torch.log(torch.as_tensor(sigma, dtype=x.dtype, device=x.device))
    return -0.5 * ((x - mu) / sigma) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)


CLOSED_FORM = ("kl", "reverse_kl", "jeffrey", "squared_hellinger", "pearson_chi2", "neyman_chi2")


def _kl_normal(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _chi2_normal(m1, s1, m2, s2):
    """∫ p²/q − 1 for p = N(m1, s1²), q = N(m2, s2²); infinite unless 2 s2² > s1²."""
    d = 2 * s2**2 - s1**2
    if d <= 0:
        return math.inf
    return s2**2 / (s1 * math.sqrt(d)) * math.exp((m1 - m2) ** 2 / d) - 1


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
    Jensen–Shannon, GAN) by :func:`divergence_quad` over :math:`\pm 40` standard deviations,
    with the points where :math:`p = q` passed to the quadrature.

    Returns:
        A float (``math.inf`` where the divergence is infinite).

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
        v = sigma_p**2 + sigma_q**2
        return 2 - 2 * math.sqrt(2 * sigma_p * sigma_q / v) * math.exp(-((mu_p - mu_q) ** 2) / (4 * v))
    if name == "pearson_chi2":
        return _chi2_normal(mu_p, sigma_p, mu_q, sigma_q)
    if name == "neyman_chi2":
        return _chi2_normal(mu_q, sigma_q, mu_p, sigma_p)
    spread = 40 * max(sigma_p, sigma_q)
    lo, hi = min(mu_p, mu_q) - spread, max(mu_p, mu_q) + spread
    crossings = [x for x in _normal_crossings(mu_p, sigma_p, mu_q, sigma_q) if lo < x < hi]
    return divergence_quad(lambda x: normal_log_prob(x, mu_p, sigma_p),
                           lambda x: normal_log_prob(x, mu_q, sigma_q), name, lo, hi,
                           points=sorted(crossings + [mu_p, mu_q]))


def _normal_crossings(m1, s1, m2, s2):
    """Real x with N(x; m1, s1²) = N(x; m2, s2²): a quadratic a x² + b x + c = 0."""
    a = 1 / s2**2 - 1 / s1**2
    b = 2 * (m1 / s1**2 - m2 / s2**2)
    c = m2**2 / s2**2 - m1**2 / s1**2 + 2 * math.log(s2 / s1)
    if abs(a) < 1e-14:
        return [] if b == 0 else [-c / b]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    root = math.sqrt(disc)
    return [(-b - root) / (2 * a), (-b + root) / (2 * a)]


# ----------------------------------------------------------------------------------------------
# densities for the experiments


def mixture_log_prob(x: torch.Tensor, weights, means, stds) -> torch.Tensor:
    r"""Log density of the Gaussian mixture :math:`\sum_k w_k\,\mathcal N(m_k, s_k^2)` at ``x``
    (any shape); ``weights``, ``means``, ``stds`` are sequences of equal length, weights summing
    to 1.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    x = float_tensor(x, "x")
    w, m, s = _mixture(weights, means, stds, x)
    return torch.logsumexp(torch.log(w) + normal_log_prob(x.unsqueeze(-1), m, s), dim=-1)


def mixture_sample(n: int, weights, means, stds, generator: torch.Generator,
                   dtype=torch.float32) -> torch.Tensor:
    """``n`` draws from the Gaussian mixture, shape ``[n, 1]``, reproducible through ``generator``
    and on its device.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    n = _positive_int(n, "n")
    w, m, s = _mixture(weights, means, stds, torch.zeros((), dtype=dtype, device=generator.device))
    component = torch.multinomial(w, n, replacement=True, generator=generator)
    z = torch.randn(n, generator=generator, dtype=dtype, device=generator.device)
    return (m[component] + s[component] * z).unsqueeze(1)


def _mixture(weights, means, stds, like):
    w, m, s = (torch.as_tensor(v, dtype=like.dtype, device=like.device) for v in (weights, means, stds))
    if not (w.dim() == m.dim() == s.dim() == 1 and len(w) == len(m) == len(s) >= 1):
        raise ValueError(f"weights, means and stds must be sequences of the same length >= 1, got "
                         f"lengths {w.numel()}, {m.numel()}, {s.numel()}")
    if not bool((w > 0).all()) or abs(float(w.sum()) - 1) > 1e-6:
        raise ValueError(f"weights must be positive and sum to 1, got {w.tolist()}")
    if not bool((s > 0).all()):
        raise ValueError(f"stds must be > 0, got {s.tolist()}")
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
        sample_p, sample_q: ``sample(n, generator) -> [n, dim]`` tensors.
        name: a key of :data:`DIVERGENCES`.
        steps, batch_size, lr, hidden: training settings.
        eval_size, eval_every: every ``eval_every`` steps the bound is evaluated on held-out
            samples (``eval_size`` of each law, drawn once): an unbiased estimate of the bound of
            the current critic, hence of a value at most :math:`D_f`, with its standard error
            (:func:`bound_with_error`). The same held-out samples serve every evaluation, so
            their sampling error shifts every estimate alike.
        seed: seeds the critic's initialisation and every sample.
        device: where the critic and the samples live (default CPU); the samplers receive a
            generator on this device and must draw there.

    Returns:
        dict with ``"step"``, ``"estimate"`` (held-out bound) and ``"stderr"`` (its standard
        error) lists, ``"train"`` (the mini-batch bound of every step), ``"critic"`` and
        ``"held_out"`` (the pair of held-out samples of P and Q).

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    get(name)
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    eval_every = _positive_int(eval_every, "eval_every")
    device = torch.device("cpu" if device is None else device)
    g = torch.Generator(device=device).manual_seed(seed)
    x_p_eval, x_q_eval = sample_p(_positive_int(eval_size, "eval_size"), g), sample_q(eval_size, g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = Critic(x_p_eval.shape[1], hidden)  # initialised on the CPU: the same on every device
    critic.to(device)
    optimiser = torch.optim.Adam(critic.parameters(), lr=lr)
    history = {"step": [], "estimate": [], "stderr": [], "train": []}
    for step in tqdm(range(1, steps + 1), desc=f"critic ({name})", show=progress, leave=False):
        bound = variational_bound(critic(sample_p(batch_size, g)), critic(sample_q(batch_size, g)), name)
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
        sample_data: ``sample(n, generator) -> [n, 1]``.
        name: a key of :data:`DIVERGENCES`.
        init: the generator's initial ``(mu, sigma)``.
        generator: ``"minimax"`` or ``"nonsaturating"`` (see :func:`fgan_losses`).
        seed: seeds the critic's initialisation, the data and the noise.
        device: where the models and samples live (default CPU); ``sample_data`` receives a
            generator on this device and must draw there.

    Returns:
        dict with ``"mu"``, ``"sigma"`` and ``"bound"`` (the critic's mini-batch bound), one
        entry per step, and the trained ``"generator"`` and ``"critic"``.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    get(name)
    if generator not in GENERATOR_LOSSES:
        raise ValueError(f"unknown generator loss {generator!r}; known: {', '.join(GENERATOR_LOSSES)}")
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    critic_steps = _positive_int(critic_steps, "critic_steps")
    device = torch.device("cpu" if device is None else device)
    g = torch.Generator(device=device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = Critic(1, hidden).to(device)  # initialised on the CPU: the same on every device
    model = GaussianGenerator(*init).to(device)
    opt_c = torch.optim.Adam(critic.parameters(), lr=lr_critic, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.parameters(), lr=lr_generator, betas=(0.5, 0.999))
    history = {"mu": [], "sigma": [], "bound": []}
    for _ in trange(steps, desc=f"f-GAN ({name})", show=progress, leave=False):
        for _ in range(critic_steps):
            real = sample_data(batch_size, g)
            fake = model(torch.randn(batch_size, 1, generator=g, device=device)).detach()
            critic_loss, _ = fgan_losses(critic(real), critic(fake), name, generator=generator)
            opt_c.zero_grad()
            critic_loss.backward()
            opt_c.step()
        fake = model(torch.randn(batch_size, 1, generator=g, device=device))
        _, generator_loss = fgan_losses(critic(real), critic(fake), name, generator=generator)
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
        log_p: the target's log density on ``x``, shape ``[n]``.
        x: the grid, shape ``[n]`` (float64 recommended).
        init: initial ``(mu, sigma)``.

    Returns:
        dict with ``"mu"``, ``"sigma"`` and ``"divergence"`` (floats) at the optimum.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    get(name)
    log_p, x = float_tensor(log_p, "log_p"), float_tensor(x, "x")
    mu = torch.tensor(real(init[0], "init[0]"), dtype=x.dtype, device=x.device, requires_grad=True)
    log_sigma = torch.tensor(math.log(real(init[1], "init[1]", positive=True)), dtype=x.dtype,
                             device=x.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([mu, log_sigma], lr=1, max_iter=_positive_int(iters, "iters"),
                                  tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        value = divergence_on_grid(log_p, normal_log_prob(x, mu, log_sigma.exp()), x, name)
        value.backward()
        return value

    optimiser.step(closure)
    with torch.no_grad():
        value = divergence_on_grid(log_p, normal_log_prob(x, mu, log_sigma.exp()), x, name)
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
        log_p, log_q: log densities on the grid, shape ``[n]`` (same shape).
        x: the grid, shape ``[n]``, increasing.
        name: a key of :data:`DIVERGENCES`.
        s: the mixing weight, in ``[0, 1]``.

    Returns:
        A 0-d tensor. At ``s = 1`` it goes through the raw optimum and the fused
        :math:`f^*\circ a`, which stay finite where :math:`T^*` itself rounds onto an open end of
        dom f*; it then equals :func:`divergence_on_grid` up to rounding.

    Introduced in: f-GAN (kexue.fm/archives/6016), for the bound table and :func:`plot_bound`.
    """
    div = get(name)
    log_p, log_q, x = float_tensor(log_p, "log_p"), float_tensor(log_q, "log_q"), float_tensor(x, "x")
    _same_shape(log_p, log_q, "log_p and log_q")
    if x.dim() != 1 or log_p.shape != x.shape or x.shape[0] < 2:
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
    return torch.trapezoid(torch.exp(log_p) * t - torch.exp(log_q) * conj, x)
