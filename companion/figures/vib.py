"""Figures of the chapter on the VAE, the information bottleneck and the normal distribution
(kexue.fm/archives/6181); the kernels are in ``companion.vib``, which also offers these
functions as attributes (loaded on first use).

Every ``plot_*`` returns a matplotlib ``Figure`` drawn in the book's style, without changing
the caller's ``rcParams`` (:func:`companion.style.styled`).
"""

import math

import numpy as np
import torch

from companion.checks import choice as _choice
from companion.checks import generator as _generator
from companion.checks import positive_int as _positive_int
from companion.checks import real
from companion.style import COLORS, figure, styled
from companion.vib import (
    kl_std_normal,
    lerp,
    linear_gaussian,
    slerp_normal,
)


def _normal_pdf(x: np.ndarray, mean: float = 0.0, var: float = 1.0) -> np.ndarray:
    return np.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


@styled
def plot_kl(mu: float = 1.0, logvar: float = 0.0, n_samples: int = 4000, seed: int = 0):
    """Two panels. Left: the prior density p = N(0, 1) as a dashed curve, the encoder's density q
    = N(μ, e^logvar) as a solid curve, and the shaded integrand q log(q/p), whose signed area is
    the KL. Right: the running Monte-Carlo estimate of the KL against the number of samples on a
    log axis, inside a shaded ±3 standard-error band, settling on the closed form drawn as a
    horizontal line.

    KL(N(μ, e^logvar) ‖ N(0, 1)) in one dimension: the closed form against Monte Carlo.

    Left: both densities and the integrand q log(q/p), whose area is the KL. Right: the running
    Monte-Carlo estimate over ``n_samples`` draws with its ±3 standard-error band, and the closed
    form.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    n_samples = _positive_int(n_samples, "n_samples")
    mu, logvar = real(mu, "mu"), real(logvar, "logvar")
    if abs(logvar) > 700:  # e^logvar must be a float for the densities drawn
        raise ValueError(f"logvar must lie in [-700, 700] for this figure, got {logvar!r}")
    m = torch.tensor([mu], dtype=torch.float64)
    lv = torch.tensor([logvar], dtype=torch.float64)
    exact = kl_std_normal(m, lv).item()
    var = math.exp(logvar)
    g = _generator(seed)
    eps = torch.randn(n_samples, generator=g, dtype=torch.float64)
    z = m + math.sqrt(var) * eps
    log_ratio = (0.5 * (z.square() - eps.square() - lv)).numpy()
    n = np.arange(1, n_samples + 1)
    running = np.cumsum(log_ratio) / n
    spread = np.sqrt(np.maximum(np.cumsum(log_ratio**2) / n - running**2, 0) / n)

    fig, (ax_d, ax_mc) = figure(1, 2, width=8.4, height=3.2)
    x = np.linspace(-5, 5, 600)
    q, p = _normal_pdf(x, mu, var), _normal_pdf(x, 0, 1)
    ax_d.plot(x, p, color="gray", ls="--", label=r"$p = \mathcal{N}(0, 1)$")
    ax_d.plot(x, q, color=COLORS[0], label=rf"$q = \mathcal{{N}}({mu:.3g}, e^{{{logvar:.3g}}})$")
    ax_d.fill_between(x, q * (np.log(np.maximum(q, 1e-300)) - np.log(p)), color=COLORS[1], alpha=0.35,
                      label=r"$q \log(q/p)$")
    ax_d.set(xlabel="$z$", ylim=(min(-0.3, ax_d.get_ylim()[0]), None), title=f"KL = {exact:.4f} nats")
    ax_d.legend(fontsize=8, loc="upper left")
    ax_mc.fill_between(n, running - 3 * spread, running + 3 * spread, color=COLORS[0], alpha=0.2,
                       label="±3 standard errors")
    ax_mc.plot(n, running, color=COLORS[0], label="Monte Carlo")
    ax_mc.axhline(exact, color="black", lw=1, label="closed form")
    ax_mc.set(xscale="log", xlabel="samples", ylabel="KL (nats)",
              title=f"estimate {running[-1]:.4f} ± {spread[-1]:.4f}")
    lo, hi = exact - max(1.0, 0.5 * exact), exact + max(1.0, 0.5 * exact)
    ax_mc.set_ylim(lo, hi)
    ax_mc.legend(fontsize=8)
    return fig


@styled
def plot_linear_gaussian(w: float = 1.0, s: float = 0.5):
    """Two panels. Left: three curves against the encoder noise s on a log axis, the bound
    (rate), the mutual information I(X; Z) and the dashed gap between them, with dots and a
    vertical line at the chosen s. Right: the code's marginal density N(0, w² + s²) against the
    dashed prior N(0, 1).

    The exact linear-Gaussian example: I(X; Z), the VIB bound and the gap against s.

    Left: the three closed forms of :func:`linear_gaussian` against the noise ``s`` at gain
    ``w``, with the chosen ``s`` marked (the gap vanishes where w² + s² = 1). Right: the marginal
    p(z) = N(0, w² + s²) against the prior N(0, 1); their KL is the gap.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    w, s = real(w, "w"), real(s, "s", positive=True)
    grid = torch.logspace(-1.3, 0.6, 300, dtype=torch.float64)
    curves = linear_gaussian(w, grid)
    here = linear_gaussian(w, s)
    fig, (ax, ax_p) = figure(1, 2, width=8.4, height=3.2)
    ax.plot(grid, curves.bound, color=COLORS[1], label=r"bound $\mathbb{E}_x KL(p(z|x)\|q)$")
    ax.plot(grid, curves.information, color=COLORS[0], label="$I(X;Z)$")
    ax.plot(grid, curves.gap, color=COLORS[2], ls="--", label=r"gap $KL(p(z)\|q)$")
    for value, color in zip(here, (COLORS[0], COLORS[1], COLORS[2])):
        ax.plot([s], [value.item()], "o", color=color)
    ax.axvline(s, color="black", lw=0.8)
    ax.set(xscale="log", xlabel="encoder noise $s$", ylabel="nats", ylim=(0, 4),
           title=f"w = {w:g}, s = {s:.3g}: I = {here.information:.3f}, gap = {here.gap:.3f}")
    ax.legend(fontsize=8)
    x = np.linspace(-4, 4, 400)
    ax_p.plot(x, _normal_pdf(x), color="gray", ls="--", label=r"prior $q = \mathcal{N}(0,1)$")
    ax_p.plot(x, _normal_pdf(x, 0, w * w + s * s), color=COLORS[0],
              label=rf"$p(z) = \mathcal{{N}}(0, {w * w + s * s:.3g})$")
    ax_p.set(xlabel="$z$", title="marginal of the code vs the prior")
    ax_p.legend(fontsize=8)
    return fig


@styled
def plot_interpolation(d: int = 64, n_pairs: int = 1000, seed: int = 0):
    """Two panels. Left: the length of the code divided by √d along the linear and the spherical
    path between pairs of random codes, as median curves with shaded 5-95% bands, over a grey
    band of typical lengths and a dotted theory curve; the linear path sags in the middle. Right:
    histograms of the midpoints' components for both paths against the dashed standard normal
    density.

    Linear against spherical paths between independent N(0, I_d) codes.

    Left: the norm ‖z_α‖/√d along both paths (median and 5-95% band over ``n_pairs`` pairs),
    with the band of typical norms of N(0, I_d). Right: the components of the midpoints (α = 1/2)
    against the standard normal density; the linear midpoints have variance 1/2.

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    d, n_pairs = _positive_int(d, "d"), _positive_int(n_pairs, "n_pairs")
    g = _generator(seed)
    z1, z2 = torch.randn(2, n_pairs, d, generator=g, dtype=torch.float64)
    alpha = torch.linspace(0, 1, 41, dtype=torch.float64)
    # one α at a time: the whole [41, n_pairs, d] path would take hundreds of MB at d = 512
    norms = {name: torch.stack([path(z1, z2, a).norm(dim=-1) for a in alpha.tolist()]) / math.sqrt(d)
             for name, path in (("linear", lerp), ("spherical", slerp_normal))}
    midpoints = {"linear": lerp(z1, z2, 0.5), "spherical": slerp_normal(z1, z2, 0.5)}
    typical = torch.randn(20_000, d, generator=g, dtype=torch.float64).norm(dim=-1) / math.sqrt(d)
    lo_t, hi_t = torch.quantile(typical, torch.tensor([0.05, 0.95], dtype=torch.float64)).tolist()

    fig, (ax, ax_h) = figure(1, 2, width=8.4, height=3.2)
    a = alpha.numpy()
    ax.axhspan(lo_t, hi_t, color="gray", alpha=0.2, label=r"typical $\|z\|/\sqrt{d}$ (5-95%)")
    for color, (name, norm) in zip(COLORS, norms.items()):
        q = torch.quantile(norm, torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64), dim=1).numpy()
        ax.fill_between(a, q[0], q[2], color=color, alpha=0.25)
        ax.plot(a, q[1], color=color, label=name)
    ax.plot(a, np.sqrt((1 - a) ** 2 + a**2), color="black", ls=":", lw=1, label=r"$\sqrt{(1-\alpha)^2+\alpha^2}$")
    ax.set(xlabel=r"$\alpha$", ylabel=r"$\|z_\alpha\| / \sqrt{d}$", title=f"d = {d}", ylim=(0, None))
    ax.legend(fontsize=8, loc="lower left")
    x = np.linspace(-4, 4, 400)
    bins = np.linspace(-4, 4, 41)
    for color, (name, mid) in zip(COLORS, midpoints.items()):
        mid = mid.flatten().numpy()
        ax_h.hist(mid, bins=bins, density=True, histtype="step", color=color, lw=1.5,
                  label=f"{name} midpoint, var {mid.var():.2f}")
    ax_h.plot(x, _normal_pdf(x), color="gray", ls="--", label=r"$\mathcal{N}(0, 1)$")
    ax_h.set(xlabel=r"components of $z_{1/2}$", title="midpoints", ylim=(0, 0.8))
    ax_h.legend(fontsize=8, loc="upper left")
    return fig


@styled
def plot_priors(prior: str = "normal", path: str = "linear", alpha: float = 0.5, n: int = 20_000,
                seed: int = 0):
    """Two panels. Left: a scatter of points combined from two draws of the prior, in the plane,
    with the uniform prior's square box or, for the normal prior, dotted circles of radius 1, 2
    and 3. Right: the histogram of the points' first component against the prior's own density.

    Where a path between two draws of a prior lands: uniform against normal priors.

    ``n`` pairs are drawn from the prior (uniform on [-√3, √3], unit variance, or the standard
    normal) and combined with the ``linear`` or ``spherical`` weights at ``alpha``. Left: a 2-D
    scatter of the combinations over the prior's support. Right: the histogram of one component
    against the prior's own density. Only the normal prior is preserved by the spherical
    weights; a uniform prior keeps the linear combination inside its box but piles it up in the
    middle (two uniforms sum to a triangle).

    Introduced in: VAE, the information bottleneck and the normal distribution (kexue.fm/archives/6181).
    """
    prior = _choice(prior, "prior", ("normal", "uniform"))
    path = _choice(path, "path", ("linear", "spherical"))
    alpha, n = real(alpha, "alpha"), _positive_int(n, "n")
    g = _generator(seed)
    if prior == "normal":
        z1, z2 = torch.randn(2, n, 2, generator=g, dtype=torch.float64)
    else:  # unit variance, so both priors have the same scale
        z1, z2 = (torch.rand(2, n, 2, generator=g, dtype=torch.float64) * 2 - 1) * math.sqrt(3)
    z = (lerp if path == "linear" else slerp_normal)(z1, z2, alpha)
    fig, (ax, ax_h) = figure(1, 2, width=8.4, height=3.6)
    ax.scatter(z[:2000, 0], z[:2000, 1], s=3, color=COLORS[0], alpha=0.5, label=r"$z_\alpha$")
    r = math.sqrt(3)
    if prior == "uniform":
        ax.plot([-r, r, r, -r, -r], [-r, -r, r, r, -r], color="black", lw=1, label="prior's support")
    else:
        t = np.linspace(0, 2 * np.pi, 200)
        for k in (1, 2, 3):
            ax.plot(k * np.cos(t), k * np.sin(t), color="gray", lw=0.8, ls=":")
    outside = (z.abs() > r + 1e-12).any(-1).double().mean().item() if prior == "uniform" else None
    title = f"{prior} prior, {path} path, α = {alpha:g}"
    ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xlabel="$z_1$", ylabel="$z_2$",
           title=title if outside is None else f"{title}\n{outside:.1%} outside the box")
    ax.legend(fontsize=8, loc="upper right")
    x = np.linspace(-4, 4, 400)
    density = _normal_pdf(x) if prior == "normal" else np.where(np.abs(x) <= r, 1 / (2 * r), 0.0)
    comp = z[:, 0].numpy()
    ax_h.hist(comp, bins=np.linspace(-4, 4, 49), density=True, color=COLORS[0], alpha=0.5,
              label=f"$z_\\alpha$ component, var {comp.var():.2f}")
    ax_h.plot(x, density, color="black", lw=1.2, label="prior density")
    ax_h.set(xlabel="first component", ylim=(0, 0.75))
    ax_h.legend(fontsize=8, loc="upper left")
    return fig
