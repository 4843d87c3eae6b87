"""Figures of the f-GAN chapter (kexue.fm/archives/6016); the kernels are in
``companion.fgan``, which also offers these functions as attributes (loaded on first use).

Every ``plot_*`` returns a matplotlib ``Figure`` drawn in the book's style, without changing
the caller's ``rcParams`` (:func:`companion.style.styled`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from companion.checks import real
from companion.fgan import (
    BOUND_GRID,
    NAMES,
    gaussian_divergence,
    get,
    mixed_critic_bound,
    normal_log_prob,
)
from companion.style import COLORS, figure, styled


def _color(i):
    return COLORS[i % len(COLORS)], ("-" if i < len(COLORS) else "--")


@styled
def plot_conjugate(name: str = "kl", xi: float = 2.0):
    r"""Three panels for the convex conjugate of one divergence's function f. Left: f with its
    tangent line at the point ξ, which meets the vertical axis at minus the conjugate. Middle:
    the conjugate f* with the point where its slope is ξ. Right: the Fenchel–Young gap against
    u, zero at u = ξ.

    The tangent-line construction of :math:`f^*` for one registry entry. Left: :math:`f` with
    its tangent at :math:`u = \xi`, of slope :math:`t = f'(\xi)`; the tangent meets the axis
    :math:`u = 0` at :math:`-f^*(t)`. Middle: :math:`f^*` on its domain, with the point
    :math:`t` (where its slope is :math:`\xi`). Right: the Fenchel–Young gap
    :math:`f(u) + f^*(t) - tu \ge 0`, zero at :math:`u = \xi`.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    div = get(name)
    xi = real(xi, "xi", positive=True)
    u_max = max(5.0, 1.25 * xi)
    u = torch.linspace(u_max / 400, u_max, 400, dtype=torch.float64)
    fu = div.f(u)
    at = torch.tensor(xi, dtype=torch.float64)
    t = div.f_prime(at)
    conj = div.conjugate(t)
    tangent = t * u - conj

    fig, (left, middle, right) = figure(1, 3, width=9.6, height=3.1)
    left.plot(u, fu, color=COLORS[0], label="$f(u)$")
    left.plot(torch.cat([torch.zeros(1, dtype=u.dtype), u]), torch.cat([-conj.reshape(1), tangent]),
              color=COLORS[1], lw=1.2, label=rf"tangent at $\xi = {xi:.3g}$")
    left.plot([xi], [div.f(at).item()], "o", color=COLORS[1])
    left.plot([0], [-conj.item()], "s", color=COLORS[2], label=r"$-f^*(t)$")
    finite = fu[torch.isfinite(fu)]
    marks = [div.f(at).item(), -conj.item()]
    top = max(float(torch.quantile(finite, 0.9)), *marks)
    low = min(float(finite.min()), *marks)
    margin = 0.15 * (top - low + 0.1)
    left.set(xlabel="$u$", ylim=(low - margin, top + margin), title=f"$f(u) = {div.f_formula}$")
    left.legend(fontsize=8, loc="upper center")

    # the conjugate over the slopes f'(u) of the same range of u, clipped to its domain
    slopes = div.f_prime(torch.linspace(0.05, u_max * 1.2, 200, dtype=torch.float64))
    lo, hi = float(slopes.min()), float(slopes.max())
    if lo == hi:  # total variation: two slopes only; show the whole (bounded) domain
        lo, hi = div.domain
    ts = torch.linspace(lo, hi, 300, dtype=torch.float64)
    ts = ts[div.contains(ts)]
    middle.plot(ts, div.conjugate(ts), color=COLORS[0])
    middle.plot([t.item()], [conj.item()], "o", color=COLORS[1],
                label=rf"$t = f'(\xi) = {t.item():.3g}$")
    middle.set(xlabel="$t$", title=f"$f^*(t) = {div.conjugate_formula}$")
    middle.legend(fontsize=8)

    gap = fu + conj - t * u
    right.plot(u, gap, color=COLORS[2], label="gap")
    right.axvline(xi, color=COLORS[1], lw=0.8, ls=":", label=r"$u = \xi$")
    right.axhline(0, color="black", lw=0.8)
    finite = gap[torch.isfinite(gap)]
    right.set(xlabel="$u$", ylim=(-0.05 * float(torch.quantile(finite, 0.9)) - 0.01,
                                  float(torch.quantile(finite, 0.9)) + 0.05),
              title=r"Fenchel–Young gap $f(u) + f^*(t) - tu$")
    right.legend(fontsize=8, loc="upper center")
    return fig


_S_AXIS = np.linspace(0, 1, 11)  # the mixing weights of the bound/truth curves


@lru_cache(maxsize=16)
def _bound_curves(mu_q: float, sigma_q: float):
    """For P = N(0, 1) and Q = N(mu_q, sigma_q²): every entry's true divergence, and its bound
    over truth at s = 0, 0.1, ..., 1 (empty when P = Q). They do not depend on the slider's s, so
    they are cached: a static slider draws each Q once per value of s."""
    x = torch.linspace(*BOUND_GRID, dtype=torch.float64)
    log_p, log_q = normal_log_prob(x, 0.0, 1.0), normal_log_prob(x, mu_q, sigma_q)
    truth = [gaussian_divergence(name, 0.0, 1.0, mu_q, sigma_q) for name in NAMES]
    if mu_q == 0 and sigma_q == 1:
        return truth, []
    ratios = [[mixed_critic_bound(log_p, log_q, x, name, a).item() / d
               for a in _S_AXIS.tolist()] for name, d in zip(NAMES, truth)]
    return truth, ratios


@styled
def plot_bound(mu_q: float = 1.0, sigma_q: float = 1.25, s: float = 0.75):
    r"""Three panels for the variational bound between P = N(0, 1) and Q = N(μ_q, σ_q²), for
    every divergence at once. Left: the two densities. Middle: each true divergence beside the
    bound of the mixed critic, on a log scale. Right: bound over truth against the mixing weight
    s, rising from 0 to 1.

    The variational bound for :math:`P = \mathcal N(0, 1)` and
    :math:`Q = \mathcal N(\mu_q, \sigma_q^2)`, every registry entry at once, with the critic
    :math:`T_s = s\,T^* + (1 - s)\,f'(1)`: :math:`s = 1` is the optimal critic, :math:`s = 0` the
    constant critic whose bound is 0.

    Left: the densities. Middle: the true divergence (closed form or quadrature) and the bound
    at ``s`` (trapezoidal rule on a fine grid), log scale. Right: bound / truth against
    :math:`s`, which is concave, at most 1, and 1 at :math:`s = 1`.

    Introduced in: f-GAN (kexue.fm/archives/6016).
    """
    mu_q, sigma_q = real(mu_q, "mu_q"), real(sigma_q, "sigma_q", positive=True)
    s = real(s, "s")
    if not 0 <= s <= 1:
        raise ValueError(f"s must lie in [0, 1], got {s!r}")
    x = torch.linspace(*BOUND_GRID, dtype=torch.float64)
    log_p, log_q = normal_log_prob(x, 0.0, 1.0), normal_log_prob(x, mu_q, sigma_q)
    same = mu_q == 0 and sigma_q == 1
    truth, ratios = _bound_curves(mu_q, sigma_q)
    bound = [mixed_critic_bound(log_p, log_q, x, name, s).item() for name in NAMES]

    fig, (left, middle, right) = figure(1, 3, width=9.6, height=3.2,
                                        gridspec_kw={"width_ratios": [1, 1.5, 1.2]})
    left.plot(x, log_p.exp(), color=COLORS[0], label="$p = \\mathcal{N}(0, 1)$")
    left.plot(x, log_q.exp(), color=COLORS[1], label=f"$q = \\mathcal{{N}}({mu_q:g}, {sigma_q:g}^2)$")
    left.set(xlim=(-4, 4 + mu_q), xlabel="$x$", title="the two laws")
    left.legend(fontsize=7, loc="upper left")

    at = np.arange(len(NAMES))
    if same:
        for ax in (middle, right):
            ax.text(0.5, 0.5, "P = Q: every divergence is 0", ha="center", transform=ax.transAxes)
    else:
        middle.bar(at - 0.2, truth, width=0.4, color="white", edgecolor="black", label="truth")
        middle.bar(at + 0.2, bound, width=0.4, color=COLORS[0], label=f"bound at $s = {s:g}$")
        middle.set(yscale="log", title="divergence and bound")
        middle.legend(fontsize=7)
        for i, (name, r) in enumerate(zip(NAMES, ratios)):
            color, style = _color(i)
            right.plot(_S_AXIS, r, style, color=color, lw=1.2, label=name.replace("_", " "))
        right.axvline(s, color="black", lw=0.8, ls=":")
        right.set(xlabel="$s$", ylabel="bound / truth", ylim=(-0.05, 1.05),
                  title="$T_s = s\\,T^* + (1-s)\\,f'(1)$")
        # outside the axes: inside, nine entries would cover the curves
        right.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    middle.set_xticks(at, [n.replace("_", " ") for n in NAMES], rotation=60, ha="right", fontsize=7)
    return fig
