# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # f-GAN: every f-divergence is a GAN, through the convex conjugate
#
# :::{admonition} What you will understand by the end
# - what an f-divergence is, and why convexity and $f(1) = 0$ are all it takes to make one;
# - how a convex function is rebuilt from its tangent lines, which is what the convex conjugate
#   $f^*$ records;
# - why letting the tangent's slope depend on $x$ turns every f-divergence into a maximisation over
#   a *critic* $T(x)$ that needs only samples, and why every critic gives a lower bound;
# - what the critic's output activation is for, and why the Jensen–Shannon row is the original
#   GAN's objective up to a factor and a constant;
# - why every f-GAN inherits the original GAN's difficulties, and which ones;
# - how the choice of $f$ decides what a generator learns: covering every mode (KL) or settling on
#   one (reverse KL), and why a bounded divergence such as Jensen–Shannon can have two almost
#   equally good answers, so that the training itself decides between them.
# :::
#
# **Article.** Su Jianlin,
# [f-GAN简介:GAN模型的生产车间](https://kexue.fm/archives/6016)
# ("An introduction to f-GAN: the production workshop of GAN models"; kexue.fm, 2018-09-29), on the
# f-GAN of Nowozin, Cseke and Tomioka (NIPS 2016). Su calls f-GAN a "production workshop" for GANs:
# pick a convex $f$, and a recipe turns it into a generator–critic game. He derives the recipe
# from tangent lines (the "local variational method") rather than from convex duality, tabulates
# eight divergences with their conjugates and activations, and runs no experiments. This chapter
# follows his derivation, checks every formula and table entry numerically, and adds the
# experiments: bounds against exact values, divergences estimated from samples, and a tiny f-GAN
# that shows mode covering and mode seeking.

# %%
import math
import textwrap

import numpy as np
import torch

import companion
from companion import fgan
from companion import style
from companion.progress import tqdm
from companion.style import COLORS, figure
from companion.widgets import Choice, LogRange, Range, demo

# The chapter's own figures in the book's style (the plot_* functions
# apply it themselves, without changing matplotlib's global settings).
style.use()

SEED = 0
torch.manual_seed(SEED)
# Every network and tensor here is small: extra threads would only add
# synchronisation.
torch.set_num_threads(1)
# training steps per divergence: of the critic alone, and of the f-GAN
STEPS_ESTIMATE = companion.budget(full=1500, smoke=60)
STEPS_GAN = companion.budget(full=2000, smoke=60)
print(f"{STEPS_ESTIMATE} critic steps per estimate, "
      f"{STEPS_GAN} f-GAN steps per divergence")

# %% [markdown]
# ## f-divergences
#
# Let $P$ and $Q$ have densities $p$ and $q$. For a function $f$ on $u \ge 0$, the
# **f-divergence** of $P$ from $Q$ averages $f$ of the density ratio under $Q$:
#
# $$
# \mathcal D_f(P\,\|\,Q) = \int q(x)\, f\!\left(\frac{p(x)}{q(x)}\right) dx .
# $$ (eq-fdiv)
#
# Su asks three things of $f$: it maps $(0, \infty)$ to $\mathbb R$, $f(1) = 0$, and $f$ is convex.
# The last two make {eq}`eq-fdiv` a divergence. Jensen's inequality moves the average inside the
# convex $f$, and the ratio averages to one under $Q$:
#
# $$
# \mathcal D_f(P\,\|\,Q) = \mathbb E_{x\sim Q}\left[f\!\left(\frac{p}{q}\right)\right]
# \;\ge\; f\!\left(\mathbb E_{x\sim Q}\left[\frac{p}{q}\right]\right) = f(1) = 0 .
# $$ (eq-jensen)
#
# If $f$ is strictly convex, equality forces $p/q$ to be constant, hence $P = Q$. (A divergence
# need not be a distance: most are not symmetric, and few satisfy the triangle inequality.)
#
# Different $f$ give the familiar divergences. The package keeps Su's eight rows and the original
# GAN's in a registry, `fgan.DIVERGENCES`:
#
# | name in `fgan` | divergence | $f(u)$ |
# |---|---|---|
# | `total_variation` | $\frac12\int\lvert p-q\rvert$ | $\frac12\lvert u-1\rvert$ |
# | `kl` | $\int p\log\frac pq$ | $u\log u$ |
# | `reverse_kl` | $\int q\log\frac qp$ | $-\log u$ |
# | `pearson_chi2` (Su: "Neyman") | $\int \frac{(p-q)^2}{q}$ | $(u-1)^2$ |
# | `neyman_chi2` (Su: "Pearson") | $\int \frac{(q-p)^2}{p}$ | $\frac{(1-u)^2}{u}$ |
# | `squared_hellinger` | $\int(\sqrt p-\sqrt q)^2$ | $(\sqrt u-1)^2$ |
# | `jeffrey` | $\int(p-q)\log\frac pq$ | $(u-1)\log u$ |
# | `jensen_shannon` | $\frac12\int p\log\frac{2p}{p+q}$ $+\,q\log\frac{2q}{p+q}$ | $\frac u2\log u$ $-\,\frac{u+1}2\log\frac{u+1}2$ |
# | `gan` | $\int p\log\frac{p}{p+q}$ $+\,q\log\frac{q}{p+q}+\log 4$ | $u\log u$ $-\,(u+1)\log(u+1)$ $+\,\log 4$ |
#
# Three warnings about names. **The $\chi^2$ names are swapped between sources.** Under
# {eq}`eq-fdiv`, $f = (u-1)^2$ gives $\int (p-q)^2/q$, usually called Pearson's $\chi^2$, and
# $f = (1-u)^2/u$ gives $\int (q-p)^2/p$, usually Neyman's. Su pairs each formula with the right
# $f$ but puts the two names the other way round. We name the rows by the usual convention and
# record Su's label; the formula, not the name, is what counts. **Jensen–Shannon comes with or
# without a factor $\frac12$.** Su's row has it (so JS $\le \log 2$). In the f-GAN paper's
# Table 1, as we read it (arXiv:1606.00709), the formula column keeps the $\frac12$ but the
# generator listed beside it, $f = u\log u - (u+1)\log\frac{u+1}{2}$, is Su's $f$ times two, and
# so is the conjugate $-\log(2 - e^t)$ listed for it: labelled by its $f$, that row is
# $2\,\mathrm{JS}$ (checked in a cell below). **The GAN row is a shifted $2\,\mathrm{JS}$.** The f-GAN paper's
# GAN row $f = u\log u - (u+1)\log(u+1)$ has $f(1) = -\log 4$, so its "divergence" is
# $2\,\mathrm{JS} - \log 4$; we add $\log 4$ so that every row is a true divergence.
#
# The cell below checks each row against its formula: $q\,f(p/q)$, computed from the registry's
# $f$, must equal the integrand written in the table, at arbitrary pairs of density values. It
# also checks {eq}`eq-jensen` on random discrete distributions.

# %%
gen = torch.Generator().manual_seed(SEED)
# density values p and q at 1000 arbitrary points
p = torch.rand(1000, generator=gen, dtype=torch.float64) * 3
q = torch.rand(1000, generator=gen, dtype=torch.float64) * 3
written = {  # the table's integrands, typed in again by hand
    "total_variation": 0.5 * (p - q).abs(),
    "kl": p * (p / q).log(),
    "reverse_kl": q * (q / p).log(),
    "pearson_chi2": (p - q) ** 2 / q,
    "neyman_chi2": (q - p) ** 2 / p,
    "squared_hellinger": (p.sqrt() - q.sqrt()) ** 2,
    "jeffrey": (p - q) * (p / q).log(),
    "jensen_shannon": 0.5 * (p * (2 * p / (p + q)).log()
                             + q * (2 * q / (p + q)).log()),
    "gan": (p * (p / (p + q)).log() + q * (q / (p + q)).log()
            + q * math.log(4)),
}
# ten random pairs of discrete distributions on 8 points
flat = torch.distributions.Dirichlet(torch.ones(8, dtype=torch.float64))
P, Q = flat.sample((10,)), flat.sample((10,))
lines = [f"{'row':18s} {'f(1)':>6s} {'q f(p/q) vs formula':>20s} "
         f"{'min D_f(P||Q)':>14s} {'max D_f(P||P)':>14s}"]
for name, div in fgan.DIVERGENCES.items():
    # relative difference (absolute for values below 1)
    mismatch = ((q * div.f(p / q) - written[name]).abs()
                / written[name].abs().clamp_min(1)).max().item()
    d_pq = (Q * div.f(P / Q)).sum(-1)
    d_pp = (P * div.f(P / P)).sum(-1)
    assert mismatch < 1e-12 and (d_pq > 0).all() and d_pp.abs().max() < 1e-15
    f_1 = div.f(torch.ones(1)).item() + 0.0   # + 0.0 turns -0.0 into 0.0
    lines.append(f"{name:18s} {f_1:6.1f} {mismatch:20.1e} "
                 f"{d_pq.min().item():14.4f} {d_pp.abs().max().item():14.1e}")
# one print per cell: the output does not depend on timing
print("\n".join(lines))

# %% [markdown]
# Both conditions on $f$ matter. Convexity alone is not enough for "$\mathcal D_f = 0$ only when
# $P = Q$": the linear $f(u) = u - 1$ is convex with $f(1) = 0$, and its divergence
# $\int (p - q) = 0$ vanishes for *every* pair. Jensen's inequality is strict only where $f$ is
# strictly convex, which is why the argument above asked for it. Nor is a divergence a
# distance. The cell checks both points on the random pairs above, and shows KL between three
# coin-flip laws $\mathrm{Bernoulli}(0.1)$, $(0.5)$, $(0.9)$ breaking symmetry and the triangle
# inequality.
#
# Convexity itself is checked the way Su suggests: a twice-differentiable $f$ is convex exactly
# when $f'' \ge 0$, and strictly convex where $f'' > 0$. The cell computes $f''$ by automatic
# differentiation of the package's $f'$ on $u \in [10^{-3}, 10^3]$ and compares it with a finite
# difference of $f$. Total variation is the exception that proves the rule: $f'' = 0$ away from
# $u = 1$, and all its convexity sits in the kink there.

# %%
linear = (Q * (P / Q - 1)).sum(-1)       # f(u) = u - 1 on the ten pairs above


def kl_discrete(a, b):
    return (a * (a / b).log()).sum().item()


coin = {p: torch.tensor([p, 1 - p], dtype=torch.float64)
        for p in (0.1, 0.5, 0.9)}
forward, backward = kl_discrete(coin[0.1], coin[0.5]), kl_discrete(
    coin[0.5], coin[0.1])
direct_route = kl_discrete(coin[0.1], coin[0.9])
via_half = forward + kl_discrete(coin[0.5], coin[0.9])
assert linear.abs().max() < 1e-15 and forward != backward
assert direct_route > via_half
lines = [f"f(u) = u - 1: largest |D_f(P||Q)| over the ten pairs "
         f"{linear.abs().max().item():.1e}",
         f"KL(B0.1||B0.5) = {forward:.4f}, KL(B0.5||B0.1) = {backward:.4f}",
         f"KL(B0.1||B0.9) = {direct_route:.4f} > KL(B0.1||B0.5) + "
         f"KL(B0.5||B0.9) = {via_half:.4f}", "",
         f"{'row':18s} {'min f-second':>13s} {'strictly convex':>16s} "
         f"{'autograd vs finite diff.':>25s}"]
u = torch.logspace(-3, 3, 601, dtype=torch.float64)
away = (u - 1).abs() > 1e-3              # the kink of total variation
step = 1e-3 * u
for name, div in fgan.DIVERGENCES.items():
    at = u.clone().requires_grad_(True)
    second, = torch.autograd.grad(div.f_prime(at).sum(), at)
    finite = (div.f(u + step) - 2 * div.f(u) + div.f(u - step)) / step**2
    mismatch = ((second - finite).abs()
                / second.abs().clamp_min(1))[away].max().item()
    strict = bool((second > 0).all())
    assert second.min() >= 0 and mismatch < 1e-3
    assert strict == (name != "total_variation")
    lines.append(f"{name:18s} {second.min().item():13.2e} {str(strict):>16s} "
                 f"{mismatch:25.1e}")
print("\n".join(lines))

# %% [markdown]
# The claim about the f-GAN paper's Jensen–Shannon row is checked the same way: its $f$,
# $u\log u - (u+1)\log\frac{u+1}{2}$, gives twice the registry's Jensen–Shannon divergence on the
# random pairs, and its conjugate is $-\log(2 - e^t)$ (a numerical supremum over a fine grid of
# $u$ at a few slopes $t < \log 2$).

# %%
def f_unhalved(u):
    return u * u.log() - (u + 1) * ((u + 1) / 2).log()


js = fgan.get("jensen_shannon")
twice = ((Q * f_unhalved(P / Q)).sum(-1)
         - 2 * (Q * js.f(P / Q)).sum(-1)).abs().max().item()
us = torch.logspace(-6, 4, 200_001, dtype=torch.float64)
t = torch.tensor([-2.0, -0.5, 0.0, 0.4, 0.6], dtype=torch.float64)
sup = (t[:, None] * us - f_unhalved(us)).max(dim=1).values
conj_gap = (sup - (-(2 - t.exp()).log())).abs().max().item()
assert twice < 1e-14 and conj_gap < 1e-8
print(f"max |D(paper's f) - 2 JS| over the ten pairs: {twice:.1e}\n"
      f"max |sup_u (tu - f(u)) + log(2 - e^t)| at 5 slopes: {conj_gap:.1e} "
      f"(grid resolution)")

# %% [markdown]
# {numref}`fig-fgan-fs` draws the nine functions. All vanish at $u = 1$ and are convex; they
# differ in how fast they grow as $u \to 0$ (where $q$ has mass and $p$ has little) and as
# $u \to \infty$ (the reverse). The four bounded divergences (total variation, squared
# Hellinger, Jensen–Shannon, GAN) have an $f$ that stays finite at $0$ and grows at most linearly.

# %% mystnb={"figure": {"caption": "The nine functions $f$ of the registry on $0 < u \\le 4$. Each is convex and zero at $u = 1$ (the dotted line); the divergence averages $f$ of the density ratio under $Q$.", "name": "fig-fgan-fs"}, "image": {"alt": "Nine curves of f(u) against u from 0 to 4, in two panels, all touching zero at u equals 1. The bounded rows (total variation, squared Hellinger, Jensen-Shannon, GAN) stay small at u near 0 and grow slowly; reverse KL and Neyman chi-squared shoot up as u approaches 0; KL, Pearson chi-squared and Jeffrey grow fastest for large u."}} tags=["hide-input"]
u = torch.linspace(0.02, 4, 400, dtype=torch.float64)
fig, axes = figure(1, 2, width=8.4, height=3.2, sharey=True)
groups = (("total_variation", "squared_hellinger", "jensen_shannon", "gan"),
          ("kl", "reverse_kl", "pearson_chi2", "neyman_chi2", "jeffrey"))
titles = ("bounded divergences", "unbounded divergences")
for ax, group, title in zip(axes, groups, titles):
    for i, name in enumerate(group):
        ax.plot(u, fgan.get(name).f(u), color=COLORS[i], lw=1.5,
                label=name.replace("_", " "))
    ax.axvline(1, color="black", lw=0.8, ls=":")
    ax.set(xlabel="$u = p/q$", title=title, ylim=(-0.2, 3))
    ax.legend(fontsize=8, loc="upper center")
axes[0].set_ylabel("$f(u)$")
fig

# %% [markdown]
# ## A convex function is the envelope of its tangents
#
# Su's route to f-GAN starts from one picture: a convex function lies above each of its tangent
# lines and touches each one at its point of contact $\xi$,
#
# $$
# \begin{aligned}
# f(u) &\;\ge\; f(\xi) + f'(\xi)(u - \xi) \quad\text{for all } u, \xi,\qquad\text{so}\\
# f(u) &= \max_{\xi}\big\{f(\xi) + f'(\xi)(u - \xi)\big\} .
# \end{aligned}
# $$ (eq-tangents)
#
# Describe a tangent by its slope $t = f'(\xi)$ instead of its contact point (for strictly convex
# $f$ the slope determines the point), and by its intercept at $u = 0$, which is
# $f(\xi) - \xi f'(\xi)$. Naming minus the intercept $f^*(t) = \xi f'(\xi) - f(\xi)$ gives
#
# $$
# f(u) = \max_{t}\big\{t\,u - f^*(t)\big\},
# \qquad f^*(t) = \sup_{u \ge 0}\big\{t\,u - f(u)\big\} .
# $$ (eq-conjugate)
#
# The second formula is the usual definition of the **convex conjugate**; it agrees with minus the
# intercept because, for fixed $t$, $tu - f(u)$ is maximised where $f'(u) = t$. Together they say
# that $f$ and $f^*$ are conjugates of each other, and give the **Fenchel–Young inequality**
#
# $$
# f(u) + f^*(t) \;\ge\; t\,u, \qquad\text{with equality exactly when } t = f'(u) .
# $$ (eq-fenchel-young)
#
# (Where $f$ has a kink, as total variation at $u = 1$, read $f'(u)$ as any slope between the
# one-sided derivatives.)
#
# A check for $f(u) = u\log u$, whose tangent at $\xi$ has slope $t = 1 + \log\xi$ and
# $f^*(t) = e^{t-1}$: the maximum over 400 tangent lines rebuilds $f$ up to an error set by the
# spacing of their contact points (it shrinks as tangents are added), and the Fenchel–Young gap is
# never negative.

# %%
kl = fgan.get("kl")
u = torch.linspace(0.01, 6, 600, dtype=torch.float64)
xi = torch.logspace(-3, 1.5, 400, dtype=torch.float64)   # contact points
slopes = kl.f_prime(xi)
u_col, t_row = u[:, None], slopes[None, :]   # u down the rows, t across
envelope = (t_row * u_col - kl.conjugate(t_row)).max(dim=1).values
gap = kl.f(u_col) + kl.conjugate(t_row) - u_col * t_row
error = (kl.f(u) - envelope).abs().max().item()
print(f"max |f(u) - max over 400 tangents| on [0.01, 6]: {error:.1e}\n"
      f"smallest Fenchel-Young gap over 600 x 400 pairs (u, t): "
      f"{gap.min().item():.1e}")

# %% [markdown]
# {numref}`fig-fgan-conjugate` draws the construction for every row. Left: $f$ and its tangent at $\xi$, which meets
# the vertical axis at $-f^*(t)$. Middle: the conjugate, with the point $t = f'(\xi)$; its slope
# there is $\xi$ (differentiate $f^*(t) = \xi t - f(\xi)$ along the tangent points). Right: the
# Fenchel–Young gap as a function of $u$, zero at $u = \xi$. Total variation is the odd one out:
# its $f$ has only two slopes, $\pm\frac12$, so the panel shows its conjugate on
# $[-\frac12, \frac12]$, where it equals $t$ (on $u \ge 0$ it is $\max(t, -\frac12)$ for
# every $t \le \frac12$ and infinite above; see the table below), and its gap vanishes on a whole
# half-line.

# %% mystnb={"figure": {"caption": "The tangent-line construction of the conjugate for each row: $f$ with its tangent at $\\xi$ (left), the conjugate $f^*$ with the point $t = f'(\\xi)$ (middle), and the Fenchel\u2013Young gap, zero at $u = \\xi$ (right).", "name": "fig-fgan-conjugate"}, "image": {"alt": "Three panels for the chosen f. Left: the convex curve f(u) with a straight tangent line touching it at the chosen point and crossing the vertical axis at minus the conjugate, marked by a square. Middle: the convex conjugate f-star against t, with a dot at the tangent's slope. Right: the Fenchel-Young gap against u, never negative and touching zero at the tangent point."}} tags=["hide-input"]
demo(fgan.plot_conjugate,
     name=Choice(list(fgan.NAMES), value="kl", label="f"),
     xi=LogRange(0.25, 4.0, num=5, value=1.0, label="tangent point ξ"),
     dpi=72)

# %% [markdown]
# ### The conjugates, checked
#
# Su tabulates the conjugate of every row, its domain (the set of slopes of $f$, where the
# formula is finite and correct) and an output activation for later use:
#
# | name | $f^*(t)$ | $\operatorname{dom} f^*$ | activation $a(v)$ |
# |---|---|---|---|
# | `total_variation` | $t$ | $[-\frac12, \frac12]$ | $\frac12\tanh v$ |
# | `kl` | $e^{t-1}$ | $\mathbb R$ | $v$ |
# | `reverse_kl` | $-1-\log(-t)$ | $t < 0$ | $-e^{v}$ |
# | `pearson_chi2` | $\frac{t^2}{4}+t$ | $t \ge -2$ | $e^{v}-2$ |
# | `neyman_chi2` | $2-2\sqrt{1-t}$ | $t \le 1$ | $1-e^{v}$ |
# | `squared_hellinger` | $\frac{t}{1-t}$ | $t < 1$ | $1-e^{v}$ |
# | `jeffrey` | $W(e^{1-t})+\frac{1}{W(e^{1-t})}$ $+\,t-2$ | $\mathbb R$ | $v$ |
# | `jensen_shannon` | $-\frac12\log(2-e^{2t})$ | $t < \frac12\log 2$ | $\frac12\log 2$ $-\,\frac12\log(1+e^{-v})$ |
# | `gan` | $-\log(1-e^{t})-\log 4$ | $t < 0$ | $-\log(1+e^{-v})$ |
#
# ($W$ is the Lambert W function; the package evaluates the Jeffrey row as
# $1/\omega - \log\omega - 1$ with $\omega = W(e^{1-t})$, which is the same number without the
# cancellation between $\omega$ and $t$ when $t$ is very negative.) Two entries need a remark. For
# `pearson_chi2` the formula is the conjugate of $f$ on $u \ge 0$ only for $t \ge -2$; below, the
# supremum sits at $u = 0$ and equals $-1$. For total variation the formula $t$ is correct on
# $[-\frac12, \frac12]$ only: below $-\frac12$ the supremum also sits at $u = 0$ and equals
# $-\frac12$, and above $\frac12$ it is infinite. The activation never leaves the tabulated
# domain, so only the formula inside it matters for training.
#
# The table check: for every row and 41 slopes $t$ inside the domain, compute
# $\sup_u\{tu - f(u)\}$ numerically (a log-spaced grid of $u$ from $10^{-6}$ to $10^4$, refined
# by a golden-section search around the best grid point) and compare with the formula. A second
# check looks outside the tabulated domains of the two rows with a remark: below it, the
# supremum is the value at $u = 0$; above total variation's, the supremum grows without bound as
# the grid of $u$ is extended.

# %%
U_GRID = np.logspace(-6, 4, 4001)


def numerical_conjugate(div, t, grid=U_GRID):
    """sup over u >= 0 of t*u - f(u): a grid, then golden section in log u."""
    values = t * grid - div.f(torch.tensor(grid)).numpy()
    i = int(np.argmax(values))
    a = math.log(grid[max(i - 1, 0)])
    b = math.log(grid[min(i + 1, len(grid) - 1)])
    f_at = lambda u: div.f(torch.tensor(u, dtype=torch.float64)).item()
    g = lambda s: t * math.exp(s) - f_at(math.exp(s))
    # golden section: the bracket shrinks by 0.618 per step
    for _ in range(80):
        c, d = b - 0.618034 * (b - a), a + 0.618034 * (b - a)
        a, b = (a, d) if g(c) > g(d) else (c, b)
    at_zero = -f_at(0.0)              # u = 0, when f(0) is finite
    return max(g(0.5 * (a + b)), values[i], at_zero)


lines = [f"{'row':18s} {'slopes t checked':>22s} "
         f"{'max |f*(t) - sup_u|':>20s}"]
for name, div in fgan.DIVERGENCES.items():
    if name == "total_variation":
        ts = torch.linspace(-0.5, 0.5, 41, dtype=torch.float64)
    else:
        # slopes of f at u in [0.05, 20]: the supremum is inside the grid
        us = torch.logspace(math.log10(0.05), math.log10(20), 41,
                            dtype=torch.float64)
        ts = div.f_prime(us)
    error = max(abs(div.conjugate(t).item()
                    - numerical_conjugate(div, t.item())) for t in ts)
    assert error < 1e-10
    lines.append(f"{name:18s} [{ts.min().item():8.3f}, "
                 f"{ts.max().item():7.3f}] {error:20.1e}")
print("\n".join(lines))

# %%
below = torch.tensor([-3.0, -1.0, -0.6], dtype=torch.float64)
tv, pearson = fgan.get("total_variation"), fgan.get("pearson_chi2")
outside = {
    "TV below -1/2 (expect -1/2)":
        max(abs(numerical_conjugate(tv, t) + 0.5) for t in below.tolist()),
    "Pearson below -2 (expect -1)":
        max(abs(numerical_conjugate(pearson, t) + 1)
            for t in (below * 4).tolist()),
}
lines = [f"{label:30s} max error {value:.1e}"
         for label, value in outside.items()]
assert max(outside.values()) < 1e-12
# above 1/2, sup over u <= U of t u - f(u) grows linearly with U
reach = [numerical_conjugate(tv, 0.6, np.logspace(-6, e, 4001))
         for e in (2, 4, 6)]
assert reach[0] < reach[1] < reach[2]
lines.append("TV at t = 0.6, sup over u <= 1e2, 1e4, 1e6: "
             + ", ".join(f"{r:.4g}" for r in reach))
print("\n".join(lines))

# %% [markdown]
# Every entry of the table is right to the precision of the numerical supremum, and the two
# remarks hold outside the tabulated domains.
#
# ## From a slope to a function: the variational bound
#
# Insert {eq}`eq-conjugate` into {eq}`eq-fdiv`. At every $x$, the value $f(p/q)$ is a maximum over
# a slope $t$, and nothing stops that slope from being chosen separately at each $x$; Su calls
# this the *local* variational method, because the maximisation happens point by point. Collect
# the chosen slopes into a function $T(x)$:
#
# $$
# \begin{aligned}
# \mathcal D_f(P\,\|\,Q) &= \int q \max_{t}\Big\{t\,\frac pq - f^*(t)\Big\}\,dx\\
# &= \max_{T}\;\Big(\mathbb E_{x\sim P}\big[T(x)\big] - \mathbb E_{x\sim Q}\big[f^*(T(x))\big]\Big) .
# \end{aligned}
# $$ (eq-bound)
#
# The right side needs no densities at all, only samples of $P$ and $Q$ and a **critic**
# $T$ whose values lie in $\operatorname{dom} f^*$. Every such critic gives a **lower bound**, by
# {eq}`eq-fenchel-young` at each point; the maximum is attained at the slope of $f$ at the
# density ratio,
#
# $$
# T^*(x) = f'\!\left(\frac{p(x)}{q(x)}\right) .
# $$ (eq-optimal-critic)
#
# (This variational form of the f-divergence is due to Nguyen, Wainwright and Jordan, 2010;
# f-GAN builds on it.) For two Gaussians all of this can be computed exactly. Take
# $P = \mathcal N(0, 1)$ and $Q = \mathcal N(1, 1.5^2)$. The KL divergence has a closed form,
# $\log\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12
# = \log 1.5 + \frac{2}{4.5} - \frac12 \approx 0.349910$; the others come from closed forms or
# quadrature (`fgan.gaussian_divergence`). The bound itself is integrated by
# `fgan.mixed_critic_bound` (the trapezoidal rule on the grid $x \in [-16, 20]$, 4001 points, the
# same as in the explorer below) for $T^*$ and for the critic $T_{s} = s\,T^* + (1 - s)\,f'(1)$,
# $s = 0.8$, a mixture of the optimum with the constant critic $f'(1)$ (whose bound is exactly
# 0). The tolerance is $10^{-5}$ relative: the rule is exact to rounding for these smooth
# integrands except total variation's, whose kinks where $p = q$ leave an error of order
# (grid spacing)$^2$.

# %%
x = torch.linspace(*fgan.BOUND_GRID, dtype=torch.float64)
lp, lq = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.5)
lines = [f"{'row':18s} {'truth':>10s} {'bound at T*':>12s} "
         f"{'rel. diff.':>10s} {'bound at T_0.8':>15s}"]
for name in fgan.NAMES:
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, 1.0, 1.5)
    if math.isinf(truth):
        lines.append(f"{name:18s} {'inf':>10s}   "
                     "(infinite: q^2/p grows in the tails,")
        lines.append(f"{'':33s}since sigma_q^2 > 2 sigma_p^2)")
        continue
    tight = fgan.mixed_critic_bound(lp, lq, x, name, s=1.0).item()
    loose = fgan.mixed_critic_bound(lp, lq, x, name, s=0.8).item()
    rel = (tight - truth) / truth
    assert abs(rel) < 1e-5 and loose < truth
    lines.append(f"{name:18s} {truth:10.6f} {tight:12.6f} {rel:10.1e} "
                 f"{loose:15.6f}")
print("\n".join(lines))

# %% [markdown]
# The bound at $T^*$ equals the divergence within the stated tolerance, and the mixed critic
# falls short. The Neyman $\chi^2$ of this pair is infinite: $\int q^2/p$ diverges because $Q$ has the
# heavier tails, a reminder that f-divergences can be infinite between perfectly ordinary laws.
#
# Why fix $P = \mathcal N(0, 1)$? An f-divergence does not change when both laws go through the
# same invertible map (the ratio $p/q$ is unchanged and $q\,dx$ transforms as a measure), so any
# pair of Gaussians is equivalent to one with $P$ standard:

# %%
lines = [f"{'row':18s} {'N(0,1) vs N(1,1.5^2)':>20s}   "
         f"{'N(3,2^2) vs N(5,3^2)':>20s}"]
for name in ("kl", "squared_hellinger", "jensen_shannon"):
    a = fgan.gaussian_divergence(name, 0.0, 1.0, 1.0, 1.5)
    # the same pair after x -> 2x + 3
    b = fgan.gaussian_divergence(name, 3.0, 2.0, 5.0, 3.0)
    lines.append(f"{name:18s} {a:20.10f}   {b:20.10f}")
print("\n".join(lines))

# %% [markdown]
# The explorer in {numref}`fig-fgan-bound` shows the bound for every row at once. Move $Q$'s mean and width and the
# mixing weight $s$: the bars compare each divergence with the bound of $T_s$; the curves show
# bound/truth against $s$. Each curve starts at 0 (constant critic), stays below 1 and reaches 1
# only at $s = 1$. It is also concave, because $f^*$ is convex and $T_s$ is linear in $s$.

# %% mystnb={"figure": {"caption": "The variational bound of the critic $T_s$ for $P = \\mathcal N(0, 1)$ and a Gaussian $Q$, every row at once: the densities (left), each divergence against its bound (middle), and bound/truth against $s$ (right), which reaches 1 only at $s = 1$.", "name": "fig-fgan-bound"}, "image": {"alt": "Three panels. Left: the standard normal density P and the chosen Gaussian Q. Middle: for each of the nine divergences, a white bar for the true value beside a blue bar for the bound of the mixed critic, on a log scale, the blue bar never taller. Right: one curve per divergence of bound over truth against the mixing weight s, each rising from 0 at s = 0 to 1 at s = 1 and bending downwards, with a dotted line at the chosen s."}} tags=["hide-input"]
demo(fgan.plot_bound,
     mu_q=Range(0.5, 1.5, step=0.5, value=1.0, label="mean of Q"),
     sigma_q=Choice([0.8, 1.0, 1.25], value=1.25, label="std of Q"),
     s=Choice([0.25, 0.5, 0.75, 1.0], value=0.75,
              label="s (1 = optimal critic)"),
     dpi=72)

# %% [markdown]
# ## The critic's output activation
#
# A neural network's last linear layer outputs any real number $v$, but the bound needs
# $T \in \operatorname{dom} f^*$: outside, $f^*$ is infinite or its formula is wrong. So the
# network ends with an **activation** $a$ that maps $\mathbb R$ into the domain (onto all of it
# but possibly its ends), and
# $T(x) = a(v(x))$. Su's advice: the activation should be defined on all of $\mathbb R$ and
# reach the whole domain; it should be smooth (exponentials and softplus, not clipping or ReLU);
# and it should make $f^* \circ a$ simple. The table's choices do the last well: for Hellinger,
# $a(v) = 1 - e^{v}$ gives $f^*(a(v)) = e^{-v} - 1$; for Jensen–Shannon,
# $a(v) = \frac12\log 2 + \frac12\log\sigma(v)$ gives $f^*(a(v)) = -\frac12\log 2 + \frac12\operatorname{softplus}(v)$.
# The package evaluates these fused forms directly, which stays finite where the activation
# itself rounds onto an open end of the domain: in float32, $1 - e^{v}$ is exactly 1 once
# $e^{v}$ falls below half the spacing of floats just under 1, $2^{-25}$, that is once
# $v < -25\log 2 \approx -17.3$ (checked at the end of the cell).
#
# `fgan.variational_bound(v_p, v_q, name)` takes raw outputs by default. Passing raw values where
# activated ones are expected (`raw=False`) is a common bug, and it is refused:

# %%
lines = [f"{'row':18s} {'a([-30, 30]) inside dom f*':>27s} "
         f"{'f*(a(v)) vs fused, |v| <= 15':>30s}"]
v = torch.linspace(-30, 30, 6001, dtype=torch.float64)
for name, div in fgan.DIVERGENCES.items():
    t = div.activation(v)
    inside = bool(div.contains(t).all())
    middle = v.abs() <= 15
    fused = div.conjugate_of_activation(v)[middle]
    composed = div.conjugate(t)[middle]
    # relative difference (absolute below 1): composing loses digits where
    # a(v) nears an end of the domain
    fused_error = ((composed - fused).abs()
                   / fused.abs().clamp_min(1)).max().item()
    assert inside and fused_error < 1e-8
    lines.append(f"{name:18s} {str(inside):>27s} {fused_error:30.1e}")

# the float32 rounding that the fused forms avoid
edge = torch.tensor([-17.4, -17.2])
rounded = (1 - edge.exp()).tolist()
assert rounded[0] == 1.0 and rounded[1] < 1.0
lines.append(f"\nfloat32: 1 - e^v at v = -17.4: {rounded[0]!r}, "
             f"at v = -17.2: {rounded[1]!r}")
raw_outputs = torch.tensor([0.3, -1.2, 2.0])
try:
    fgan.variational_bound(raw_outputs, raw_outputs, "reverse_kl", raw=False)
except ValueError as error:
    lines.append("\n" + textwrap.fill(f"ValueError: {error}", width=79))
print("\n".join(lines))

# %% [markdown]
# ## Estimating a divergence from samples
#
# {eq}`eq-bound` turns divergence estimation into training: parameterise $v(x)$ by a small
# network (two hidden layers of 32 smooth units), apply the row's activation, and ascend the
# sample version of the bound with Adam on fresh mini-batches. Every 50 steps the bound of the
# current critic is evaluated on 20,000 held-out samples of each law: an unbiased estimate of a
# number that is at most the divergence. An *estimate* of a lower bound can still land above the
# divergence, by its sampling error, so the table gives each estimate with its standard error
# (`fgan.bound_with_error`). Here $P = \mathcal N(0, 1)$ and
# $Q = \mathcal N(1, 1.1^2)$, close enough in width that every row, including both $\chi^2$, is
# finite and has an estimator of finite variance.

# %%
MU_Q, SIGMA_Q = 1.0, 1.1


def sample_p(n, g):
    return torch.randn(n, 1, generator=g)


def sample_q(n, g):
    return MU_Q + SIGMA_Q * torch.randn(n, 1, generator=g)


estimates = {}
for name in tqdm(fgan.NAMES, desc="divergences"):
    estimates[name] = fgan.estimate_divergence(
        sample_p, sample_q, name, steps=STEPS_ESTIMATE,
        eval_every=min(50, STEPS_ESTIMATE), seed=SEED)


def optimal_raw_critic(x, name):
    """v* at x for P = N(0, 1) and Q = N(MU_Q, SIGMA_Q^2)."""
    log_p = fgan.normal_log_prob(x, 0.0, 1.0)
    log_q = fgan.normal_log_prob(x, MU_Q, SIGMA_Q)
    return fgan.optimal_critic(log_p, log_q, name, raw=True)


lines = [f"{'row':18s} {'truth':>7s} {'estimate ± se':>17s} "
         f"{'(e - t)/se':>10s} {'T* on same samples':>18s}"]
for name, run in estimates.items():
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, MU_Q, SIGMA_Q)
    est, se = run["estimate"][-1], run["stderr"][-1]
    # the exact optimal critic, scored on the same held-out samples
    held_p, held_q = (h.double().squeeze(1) for h in run["held_out"])
    star, star_se = fgan.bound_with_error(
        optimal_raw_critic(held_p, name), optimal_raw_critic(held_q, name),
        name)
    # a lower bound can exceed the truth only by sampling error
    assert est - truth < 4 * se
    z_score = round((est - truth) / se, 1) + 0.0   # never print -0.0
    lines.append(f"{name:18s} {truth:7.4f} {est:8.4f} ± {se:.4f} "
                 f"{z_score:+10.1f} {star:9.4f} ± {star_se:.4f}")
print("\n".join(lines))

# %% mystnb={"figure": {"caption": "Neural estimates of the nine divergences between $P = \\mathcal N(0, 1)$ and $Q = \\mathcal N(1, 1.1^2)$: the held-out bound of the trained critic during training (line, with a band of two standard errors) against the true divergence (dashed).", "name": "fig-fgan-estimates"}, "image": {"alt": "Nine small line plots, one per divergence, of the held-out bound against the training step, each with the true divergence as a dashed horizontal line. For most rows the line reaches the dashed truth within the first few hundred steps and stays on it or just below; the Neyman chi-squared line stays clearly below its truth and jumps around."}} tags=["hide-input"]
fig, axes = figure(3, 3, width=9.0, height=6.4, sharex=True)
for ax, (name, run) in zip(axes.flat, estimates.items()):
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, MU_Q, SIGMA_Q)
    est, se = np.array(run["estimate"]), np.array(run["stderr"])
    ax.fill_between(run["step"], est - 2 * se, est + 2 * se,
                    color=COLORS[0], alpha=0.25, lw=0, label="± 2 se")
    ax.plot(run["step"], est, color=COLORS[0], lw=1.2,
            label="held-out bound")
    ax.axhline(truth, color="black", ls="--", lw=1, label="true divergence")
    ax.set_title(name.replace("_", " "), fontsize=9)
    ax.set_ylim(min(0.5 * truth, min(run["estimate"])), 1.2 * truth)
for ax in axes[-1]:
    ax.set_xlabel("training step")
axes[0, 0].legend(fontsize=7, loc="lower right")
fig.suptitle("held-out bound of the trained critic (line, ± 2 standard "
             "errors) against the true divergence (dashed)")
fig

# %% [markdown]
# In {numref}`fig-fgan-estimates`, most rows reach the truth within the first few hundred steps
# and then stay within a few standard errors of it. Neyman $\chi^2$ ends lowest, with by far the
# largest standard error, which the exact optimal critic shares on the same samples: its large
# values come from rare samples where $q/p$ is large. Some
# estimates end slightly *above* the truth. That is not a broken bound: the last column scores
# the exact optimal critic $T^*$ on the same held-out samples, and it lands above or below the
# truth by the same sampling error, because those 20,000 samples are drawn once and reused at
# every evaluation. Their error shifts the whole curve, which is why an offset persists through
# training instead of averaging out.
#
# {numref}`fig-fgan-critics` shows what the critics learned: the trained network's raw output
# $v(x)$ for four rows against the optimal $v^*(x)$, the raw value whose activation is
# $T^*(x) = f'(p(x)/q(x))$. (Raw values are plotted because they are all simple functions of
# $\log(p/q)$, while $T^*$ itself runs off to $-\infty$ in the tails for reverse KL and Neyman
# $\chi^2$.) They agree where the samples are, and drift apart in the tails, where both laws
# have few samples and the bound barely depends on the critic.

# %% mystnb={"figure": {"caption": "The trained critic's raw output $v(x)$ (solid) against the optimal raw output $v^*(x)$, whose activation is $T^* = f'(p/q)$ (dashed), for four rows, with the densities of $P$ and $Q$ shaded below (not to scale).", "name": "fig-fgan-critics"}, "image": {"alt": "Four panels, for KL, reverse KL, Jensen-Shannon and Neyman chi-squared, each plotting the trained critic's raw output as a solid line and the optimal one as a dashed line against x from -3.5 to 4.5, over shaded outlines of the two densities. The solid and dashed lines nearly coincide in the middle, where the densities are large, and separate towards the edges."}} tags=["hide-input"]
xs = torch.linspace(-3.5, 4.5, 301)
x64 = xs.double()
density_p = fgan.normal_log_prob(x64, 0.0, 1.0).exp()
density_q = fgan.normal_log_prob(x64, MU_Q, SIGMA_Q).exp()
fig, axes = figure(2, 2, width=8.4, height=5.0, sharex=True)
for ax, name in zip(axes.flat, ("kl", "reverse_kl", "jensen_shannon",
                                "neyman_chi2")):
    with torch.no_grad():
        trained = estimates[name]["critic"](xs[:, None])
    best = optimal_raw_critic(x64, name)
    low, high = float(best.min()), float(best.max())
    scale = (high - low) / float(density_p.max())
    ax.fill_between(xs, low, low + scale * density_p, color=COLORS[0],
                    alpha=0.15, lw=0, label="$p$ (shape)")
    ax.fill_between(xs, low, low + scale * density_q, color=COLORS[1],
                    alpha=0.15, lw=0, label="$q$ (shape)")
    ax.plot(xs, trained, color=COLORS[2], lw=1.5, label="trained $v$")
    ax.plot(xs, best, "--", color="black", lw=1.2, label="optimal $v^*$")
    ax.set(title=name.replace("_", " "),
           ylim=(low - 0.1 * (high - low), high + 0.1 * (high - low)))
for ax in axes[-1]:
    ax.set_xlabel("$x$")
axes[0, 0].legend(fontsize=7, loc="upper right")
fig

# %% [markdown]
# Which rows are hard? The
# estimator is an average of $T$ under $P$ and of $f^*(T)$ under $Q$, so its noise depends on how
# heavy-tailed those two terms are *at the optimum*. That can be computed without any training: draw samples, evaluate $T^*$ and
# $f^*(T^*)$ exactly, and measure the standard deviation of one sample's contribution, relative
# to the divergence. The two halves of the sample give the precision of the table: they agree
# to a percent or two for every row but Neyman $\chi^2$, whose heavy tails leave its ratio
# uncertain by more than ten percent; the ranking is the same in both halves.

# %%
BOUNDED_ROWS = ("total_variation", "squared_hellinger", "jensen_shannon",
                "gan")
g = torch.Generator().manual_seed(SEED)
n = 200_000
x_p = torch.randn(n, generator=g, dtype=torch.float64)
x_q = MU_Q + SIGMA_Q * torch.randn(n, generator=g, dtype=torch.float64)
noise, halves = {}, {}
for name, div in fgan.DIVERGENCES.items():
    t_p = div.activation(optimal_raw_critic(x_p, name))
    conj_q = div.conjugate_of_activation(optimal_raw_critic(x_q, name))
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, MU_Q, SIGMA_Q)
    noise[name] = math.sqrt(t_p.var().item() + conj_q.var().item()) / truth
    # the same from each half of the samples: how well n pins the ratio down
    halves[name] = [math.sqrt(t_p[part].var().item()
                              + conj_q[part].var().item()) / truth
                    for part in (slice(0, n // 2), slice(n // 2, n))]
lines = [f"{'row':18s} {'sd of one sample / divergence':>30s} "
         f"{'first half':>11s} {'second half':>12s}"]
for name in sorted(noise, key=noise.get):
    lines.append(f"{name:18s} {noise[name]:30.2f} {halves[name][0]:11.2f} "
                 f"{halves[name][1]:12.2f}")
for ratios in [noise] + [{k: v[i] for k, v in halves.items()} for i in (0, 1)]:
    ranked = sorted(ratios, key=ratios.get)
    assert set(ranked[:4]) == set(BOUNDED_ROWS)
    assert set(ranked[-2:]) == {"pearson_chi2", "neyman_chi2"}
print("\n".join(lines))

# %% [markdown]
# The bounded rows (total variation, Jensen–Shannon, GAN, Hellinger) have the quietest
# estimators; the two $\chi^2$ rows, whose conjugates grow like $e^{2v}$ or whose optimal critic
# is a square of the density ratio, are the noisiest, and the trained Neyman $\chi^2$ critic also
# struggles most to learn the tails where $q/p$ is large.
#
# ## GANs wholesale
#
# Now let $Q$ be the law of a generator $G_\theta(z)$, $z \sim \mathcal N(0, 1)$, and $P$ the data.
# Minimising {eq}`eq-bound` over the generator while the critic maximises it is the **f-GAN**,
#
# $$
# \min_{\theta}\max_{T}\ \mathbb E_{x\sim P}\big[T(x)\big] - \mathbb E_{z}\big[f^*\big(T(G_\theta(z))\big)\big] ,
# $$ (eq-fgan)
#
# which, with a perfect critic, minimises $\mathcal D_f(P\,\|\,Q_\theta)$. Swapping the roles of
# data and generator, $\max_T \mathbb E_z[T(G_\theta(z))] - \mathbb E_{x\sim P}[f^*(T(x))]$, gives
# $\mathcal D_f(Q_\theta\,\|\,P)$ instead. Su works out three rows with constants dropped, and
# they can be checked term by term:
#
# - **Jensen–Shannon.** With $D = \sigma(v)$ the activation is $\frac12\log(2D)$ and
#   $f^*(T) = -\frac12\log(2(1 - D))$, so the bound is
#   $\frac12\big(\mathbb E_P\log D + \mathbb E_Q\log(1 - D)\big) + \log 2$: the original GAN's
#   objective, up to a factor and a constant, with the optimal discriminator
#   $D^* = p/(p+q)$.
# - **Hellinger.** With $T = 1 - e^{v}$ the bound is $2 - \mathbb E_P[e^{v}] - \mathbb E_Q[e^{-v}]$,
#   maximised at $v^* = \frac12\log(q/p)$.
# - **KL.** With $T = v$ the bound is $\mathbb E_P[v] - \mathbb E_Q[e^{v-1}]$; with the roles
#   swapped, $\mathbb E_Q[v] - \mathbb E_P[e^{v-1}]$ estimates $\mathrm{KL}(Q\,\|\,P)$, the reverse
#   KL, without the `reverse_kl` row.

# %%
g = torch.Generator().manual_seed(SEED)
v_p = torch.randn(1000, generator=g, dtype=torch.float64)
v_q = torch.randn(800, generator=g, dtype=torch.float64)
D_p, D_q = torch.sigmoid(v_p), torch.sigmoid(v_q)
gan_objective = (0.5 * (D_p.log().mean() + (1 - D_q).log().mean())
                 + math.log(2))
hellinger = 2 - v_p.exp().mean() - (-v_q).exp().mean()
x = torch.linspace(-3, 3, 7, dtype=torch.float64)
lp, lq = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.5)
d_star = torch.sigmoid(
    fgan.optimal_critic(lp, lq, "jensen_shannon", raw=True))
v_star = fgan.optimal_critic(lp, lq, "squared_hellinger", raw=True)
checks = {
    "JS bound - (GAN objective / 2 + log 2)":
        fgan.variational_bound(v_p, v_q, "jensen_shannon") - gan_objective,
    "Hellinger bound - (2 - E_P e^v - E_Q e^-v)":
        fgan.variational_bound(v_p, v_q, "squared_hellinger") - hellinger,
    "max |D* - p/(p+q)| for Jensen-Shannon":
        (d_star - lp.exp() / (lp.exp() + lq.exp())).abs().max(),
    "max |v* - log(q/p)/2| for Hellinger":
        (v_star - 0.5 * (lq - lp)).abs().max(),
}
assert all(abs(value.item()) < 1e-14 for value in checks.values())
print("\n".join(f"{label:44s} {value.item():9.1e}"
                for label, value in checks.items()))

# %%
# The KL row with the roles swapped, at its optimum, estimates the reverse
# KL. (Q = N(1, 1.2^2) here: for Q = N(1, 1.5^2), E_P[e^{v*-1}] = E_P[q/p]
# has infinite variance.)
n = 1_000_000
xs_p = torch.randn(n, generator=g, dtype=torch.float64)
xs_q = 1 + 1.2 * torch.randn(n, generator=g, dtype=torch.float64)


def kl_critic_q_first(x):
    """The optimal raw critic for KL(Q || P): 1 + log(q/p)."""
    log_q = fgan.normal_log_prob(x, 1.0, 1.2)
    log_p = fgan.normal_log_prob(x, 0.0, 1.0)
    return fgan.optimal_critic(log_q, log_p, "kl", raw=True)


v_q_first, v_p_second = kl_critic_q_first(xs_q), kl_critic_q_first(xs_p)
swapped = fgan.variational_bound(v_q_first, v_p_second, "kl").item()
spread = v_q_first.var() + torch.exp(v_p_second - 1).var()
error = math.sqrt(spread.item() / n)
reverse = fgan.gaussian_divergence("reverse_kl", 0.0, 1.0, 1.0, 1.2)
print(f"KL bound with roles swapped: {swapped:.4f} ± {error:.4f} "
      f"(one standard error)")
print(f"reverse KL(P||Q) = {reverse:.4f}")

# %% [markdown]
# ## Su's conclusion: one recipe, the same difficulties
#
# Su ends with three remarks: f-GAN's value lies in unifying, since every row of the table becomes
# a GAN by one recipe; every f-GAN inherits the training difficulties of the original GAN; and
# Jensen–Shannon and Hellinger are symmetric and bounded. The last is quickly made exact.
# Convexity puts every chord from $u = 0$ below the slope at infinity,
# $f(u) \le f(0) + u\,f'(\infty)$ with $f'(\infty) = \lim_{u\to\infty} f(u)/u$, so
#
# $$
# \begin{aligned}
# \mathcal D_f(P\,\|\,Q) &\le \int q\,f(0) + p\,f'(\infty)\,dx\\
# &= f(0) + f'(\infty),
# \end{aligned}
# $$ (eq-cap)
#
# with equality when $P$ and $Q$ live on disjoint sets. And $\mathcal D_f$ is symmetric when
# $f(u) = u\,f(1/u)$, because $q\,f(p/q) = p\,f(q/p)$ then holds pointwise, or when the two
# differ by a linear term $c\,(u - 1)$, which integrates to zero (Exercise 1). The cell evaluates
# both for every row (the cap from $f(0)$ and $f(u)/u$ at $u = 10^{16}$, "inf" where either
# grows without bound) and compares $\mathcal D_f(P\,\|\,Q)$ with $\mathcal D_f(Q\,\|\,P)$ for
# $P = \mathcal N(0, 1)$, $Q = \mathcal N(1, 1.5^2)$ (reverse roles; the Neyman $\chi^2$ of the
# pair is infinite, as found above).

# %%
u = torch.logspace(-6, 6, 1201, dtype=torch.float64)
big = torch.tensor([1e12, 1e16], dtype=torch.float64)
two = torch.tensor(2.0, dtype=torch.float64)
lines = [f"{'row':18s} {'cap f(0)+f(inf)':>15s} {'symmetric f':>16s} "
         f"{'D(P||Q)':>9s} {'D(Q||P)':>9s}"]
BOUNDED = BOUNDED_ROWS
for name, div in fgan.DIVERGENCES.items():
    f0 = div.f(torch.zeros(1, dtype=torch.float64)).item()
    slope = (div.f(big) / big).tolist()        # f(u)/u at 1e12 and 1e16
    bounded = math.isfinite(f0) and abs(slope[1] - slope[0]) < 1e-4
    cap = f0 + slope[1] if bounded else math.inf
    # symmetric when f(u) - u f(1/u) is linear, c (u - 1)
    odd = div.f(u) - u * div.f(1 / u)
    c = (div.f(two) - 2 * div.f(1 / two)).item()
    symmetric = bool(((odd - c * (u - 1)).abs()
                      <= 1e-9 * div.f(u).abs().clamp_min(1)).all())
    forward = fgan.gaussian_divergence(name, 0.0, 1.0, 1.0, 1.5)
    backward = fgan.gaussian_divergence(name, 1.0, 1.5, 0.0, 1.0)
    assert bounded == (name in BOUNDED) and forward <= cap
    if symmetric:
        assert abs(forward - backward) < 1e-7 * backward
    else:
        assert abs(forward - backward) > 1e-3
    lines.append(f"{name:18s} {cap:15.4f} {str(symmetric):>16s} "
                 f"{forward:9.4f} {backward:9.4f}")
print("\n".join(lines))

# %% [markdown]
# Total variation, squared Hellinger, Jensen–Shannon and GAN are bounded (by $1$, $2$,
# $\log 2$ and $\log 4$) and symmetric; Jeffrey is symmetric but unbounded; the others are
# neither, and Pearson and Neyman $\chi^2$ are each other's mirror image.
#
# Now the inherited difficulties. The original GAN's best known one is **saturation**
# (Goodfellow et al., 2014): when the generator's samples lie far from the data, the best
# critic tells them apart almost perfectly, the divergence sits near its cap, and its gradient,
# the only thing the generator learns from, vanishes. By {eq}`eq-cap` every bounded row has a
# cap, so every bounded row saturates in the same way. With the critic at its optimum, the
# generator's loss in {eq}`eq-fgan` has exactly the divergence's gradient (the critic's own change
# does not move the bound to first order at its maximum), so the cell computes
# $\partial\mathcal D_f/\partial\mu$ for $P = \mathcal N(0, 1)$ and $Q = \mathcal N(\mu, 1)$ by
# automatic differentiation through `fgan.divergence_on_grid`, for $\mu$ moving away from the
# data. It then checks, for the GAN row, that the generator's minimax loss at the optimal critic
# has that same gradient, and compares it with the *non-saturating* loss
# (`fgan_losses(..., generator="nonsaturating")`, the f-GAN paper's variant of the original
# GAN's $-\log D$ trick), which keeps a large gradient. The unbounded rows do not saturate, but
# they pay elsewhere: the noise of their estimators. For KL, one sample's contribution has
# variance $\mathrm{Var}_P[T^*] + \mathrm{Var}_Q[p/q] = \mu^2 + (e^{\mu^2} - 1)$, the second term
# being the Pearson $\chi^2$ of the pair.

# %%
x = torch.linspace(-30, 40, 14001, dtype=torch.float64)
lp = fgan.normal_log_prob(x, 0.0, 1.0)
MUS = (1.0, 2.0, 4.0, 8.0)
slopes, values = {}, {}
for name in fgan.NAMES:
    slopes[name], values[name] = [], []
    for mu in MUS:
        m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
        d = fgan.divergence_on_grid(lp, fgan.normal_log_prob(x, m, 1.0), x,
                                    name)
        grad, = torch.autograd.grad(d, m)
        slopes[name].append(grad.item())
        values[name].append(d.item())
lines = [f"{'dD/dmu at mu =':18s}" + "".join(f"{mu:10.0f}" for mu in MUS)
         + f"{'D/cap at 8':>12s}"]
for name in fgan.NAMES:
    share = ""
    if name in BOUNDED:
        div = fgan.get(name)
        cap = (div.f(torch.zeros(1, dtype=torch.float64)).item()
               + (div.f(big) / big)[1].item())
        share = f"{values[name][-1] / cap:12.4f}"
        assert slopes[name][-1] < 1e-2 * slopes[name][0]
    else:
        assert slopes[name][-1] > slopes[name][0]
    lines.append(f"{name:18s}" + "".join(f"{s:10.2e}" for s in slopes[name])
                 + share)

# the GAN row's generator losses, with the optimal critic held fixed
z = torch.linspace(-12, 12, 4801, dtype=torch.float64)
weight = fgan.normal_log_prob(z, 0.0, 1.0).exp()
gan = fgan.get("gan")
minimax, nonsaturating = [], []
for mu in MUS:
    m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    fake = m + z                                 # the generator's samples
    v = fgan.optimal_critic(fgan.normal_log_prob(fake, 0.0, 1.0),
                            fgan.normal_log_prob(fake, mu, 1.0), "gan",
                            raw=True)
    losses = (-torch.trapezoid(weight * gan.conjugate_of_activation(v), z),
              -torch.trapezoid(weight * gan.activation(v), z))
    for loss, store in zip(losses, (minimax, nonsaturating)):
        grad, = torch.autograd.grad(loss, m, retain_graph=True)
        store.append(grad.item())
envelope = max(abs(a - b) / b for a, b in zip(minimax, slopes["gan"]))
assert envelope < 1e-6 and nonsaturating[-1] > nonsaturating[0]
lines += ["", "GAN generator, optimal critic held fixed:",
          f"{'  minimax loss':18s}" + "".join(f"{s:10.2e}" for s in minimax),
          f"{'  non-saturating':18s}"
          + "".join(f"{s:10.2e}" for s in nonsaturating),
          f"  minimax vs dD/dmu: largest relative difference {envelope:.0e}",
          "", "KL estimator, sd of one sample / KL:"]
noise_kl = [math.sqrt(mu**2 + fgan.gaussian_divergence(
    "pearson_chi2", 0.0, 1.0, mu, 1.0)) / (mu**2 / 2) for mu in MUS]
assert noise_kl == sorted(noise_kl)
lines.append(f"{'':18s}" + "".join(f"{r:10.2e}" for r in noise_kl))
print("\n".join(lines))

# %% [markdown]
# The four bounded rows reach their caps and their gradients collapse by orders of magnitude as
# the laws separate, exactly the original GAN's trouble; the non-saturating loss, with the same
# optimal critic, gives the generator a gradient that grows instead. KL, $\chi^2$ and Jeffrey keep
# their gradients, but the noise of the KL estimator explodes. A second inherited difficulty is
# the balance between critic and generator; it appears in the next experiment.
#
# ## What the choice of f does: mode covering and mode seeking
#
# The divergences do not agree on what the best *imperfect* model is. The classic demonstration, in the spirit of
# the f-GAN paper's own toy experiment: fit a single Gaussian $\mathcal N(\mu, \sigma^2)$ to a
# mixture of two,
#
# $$
# P = 0.3\,\mathcal N(-2, 0.7^2) + 0.7\,\mathcal N(2, 0.7^2) .
# $$ (eq-mixture)
#
# KL $\int p\log\frac pq$ punishes $q \approx 0$ wherever $p > 0$, so its best Gaussian covers
# both modes: for KL the optimum matches the mixture's mean and variance, $\mu = 0.8$,
# $\sigma = \sqrt{0.49 + 4 - 0.64} \approx 1.962$. Reverse KL $\int q\log\frac qp$ punishes
# $q > 0$ where $p \approx 0$, so its best Gaussian hides inside one mode. Jensen–Shannon and
# Hellinger punish neither mistake without bound (they are capped), so nothing general places
# them between the two; what they prefer has to be computed.
#
# Two ways to find the best Gaussian. **Directly**: the divergence is a one-dimensional integral,
# computed on a fine grid (`fgan.divergence_on_grid`, trapezoidal rule, $x \in [-15, 15]$, 6001
# points) and minimised over $(\mu, \log\sigma)$ with L-BFGS from several starting points, since
# some rows have more than one local minimum. **By f-GAN**: a generator $\mu + \sigma z$, a small
# critic, {eq}`eq-fgan` with the losses of `fgan.fgan_losses`, started from $\mu = 0$,
# $\sigma = 1$; we report its parameters averaged over the last fifth of training.

# %%
W, M, S = (0.3, 0.7), (-2.0, 2.0), (0.7, 0.7)
grid = torch.linspace(-15, 15, 6001, dtype=torch.float64)
log_target = fgan.mixture_log_prob(grid, W, M, S)
ROWS = ("kl", "reverse_kl", "jensen_shannon", "squared_hellinger")
STARTS = [(0.0, 1.0), (-2.0, 0.5), (2.0, 0.5), (0.8, 2.0)]

direct, fits_all = {}, {}
lines = [f"{'row':18s} local minima found from {len(STARTS)} starts: "
         "(mu, sigma) -> divergence"]
for name in ROWS:
    fits = [fgan.fit_gaussian_by_quadrature(log_target, grid, name, init=start)
            for start in STARTS]
    minima = {(round(f["mu"], 3), round(f["sigma"], 3)): f["divergence"]
              for f in fits}
    fits_all[name] = fits
    direct[name] = {"from (0, 1)": fits[0],
                    "global": min(fits, key=lambda f: f["divergence"])}
    found = ", ".join(f"({m:.3f}, {s:.3f}) -> {d:.4f}"
                      for (m, s), d in sorted(minima.items()))
    lines.append(f"{name:18s} {found}")

# which minimum is global, for the prose below
covering = {name: min((f for f in fits_all[name] if f["sigma"] > 1.2),
                      key=lambda f: f["divergence"])
            for name in ("jensen_shannon", "squared_hellinger")}
best = direct["kl"]["global"]
lines.append(f"\nKL optimum vs moment matching: mu {best['mu']:.6f} vs 0.8, "
             f"sigma {best['sigma']:.6f} vs {math.sqrt(0.49 + 4 - 0.64):.6f}")
check = fgan.divergence_quad(
    lambda x: fgan.mixture_log_prob(x, W, M, S),
    lambda x: fgan.normal_log_prob(x, best["mu"], best["sigma"]), "kl")
grid_error = abs(best['divergence'] - check)
lines.append(f"grid error at the KL optimum: {grid_error:.1e} "
             f"(scipy.integrate.quad: {check:.8f})")
js_seek = direct["jensen_shannon"]["global"]
# the two JS minima again, by scipy quadrature instead of the grid
js_quad = [fgan.divergence_quad(
    lambda x: fgan.mixture_log_prob(x, W, M, S),
    lambda x, f=f: fgan.normal_log_prob(x, f["mu"], f["sigma"]),
    "jensen_shannon") for f in (covering["jensen_shannon"], js_seek)]
js_margin = js_quad[0] - js_quad[1]
h_margin = (direct["squared_hellinger"]["global"]["divergence"]
            - covering["squared_hellinger"]["divergence"])
# JS: the global minimum is the narrow (seeking) one, by a margin far above
# the grid's error; Hellinger: the covering one is global, by a wide margin
assert js_seek["sigma"] < 1 and js_margin > 1e3 * grid_error
assert h_margin == 0 and direct["squared_hellinger"]["global"]["sigma"] > 1.2
lines.append(f"JS by quad: covering {js_quad[0]:.6f}, seeking "
             f"{js_quad[1]:.6f}, difference {js_margin:.4f}")
print("\n".join(lines))

# %% [markdown]
# The grid error is at rounding level: the integrand is smooth and negligible beyond $\pm 15$.
# KL has a single minimum, the moment-matching Gaussian. Reverse KL has one on each mode, and the
# heavier mode wins. Hellinger has both kinds of minimum but clearly prefers covering, with a
# width only a little below KL's. Jensen–Shannon is the surprise: its two minima are almost
# equally good, and the *global* one is the seeking one, narrow and on the heavier mode. So
# Jensen–Shannon does not lie "between" KL and reverse KL here; it is nearly indifferent between
# them. Gradient descent from $(\mu, \sigma) = (0, 1)$ reaches the covering minimum for
# Jensen–Shannon and Hellinger, and the seeking one for reverse KL. Now the f-GANs, from the same
# start; the $\pm$ is the standard deviation of the parameters over the last fifth of training,
# the jitter of stochastic training:

# %%
def sample_target(n, g):
    return fgan.mixture_sample(n, W, M, S, g)


gans = {name: fgan.train_fgan(sample_target, name, steps=STEPS_GAN, seed=SEED)
        for name in tqdm(ROWS, desc="f-GANs")}
tail = max(1, STEPS_GAN // 5)
lines = [f"{'':18s} {'f-GAN':^25s} {'direct':^13s} {'divergence at':>18s}",
         f"{'row':18s} {'mu':>12s} {'sigma':>12s} {'mu':>6s} {'sigma':>6s} "
         f"{'f-GAN':>10s} {'direct':>7s}"]
for name, run in gans.items():
    mu, sigma = np.mean(run["mu"][-tail:]), np.mean(run["sigma"][-tail:])
    mu_sd, sigma_sd = np.std(run["mu"][-tail:]), np.std(run["sigma"][-tail:])
    ref = direct[name]["from (0, 1)"]
    log_q = fgan.normal_log_prob(grid, mu, sigma)
    d_gan = fgan.divergence_on_grid(log_target, log_q, grid, name).item()
    lines.append(f"{name:18s} {mu:5.2f} ± {mu_sd:.2f} {sigma:5.2f} ± "
                 f"{sigma_sd:.2f} {ref['mu']:6.3f} {ref['sigma']:6.3f} "
                 f"{d_gan:10.4f} {ref['divergence']:7.4f}")
print("\n".join(lines))

# %% mystnb={"figure": {"caption": "The best single Gaussian for the two-mode target $P$ under four divergences: found by direct minimisation (dashed) and by the f-GAN (solid). KL, Jensen\u2013Shannon and Hellinger cover both modes; reverse KL settles on the heavier one.", "name": "fig-fgan-modes"}, "image": {"alt": "Four panels, for KL, reverse KL, Jensen\u2013Shannon and squared Hellinger, each showing the two-mode target density in grey with a small mode at -2 and a taller one at 2, the Gaussian found by direct minimisation as a dashed line and the Gaussian learned by the f-GAN as a solid line, the two almost on top of each other. For KL, Jensen\u2013Shannon and Hellinger the Gaussian is wide and spans both modes; for reverse KL it is narrow and sits on the taller mode at 2."}} tags=["hide-input"]
fig, axes = figure(2, 2, width=8.4, height=5.2, sharex=True, sharey=True)
for ax, name in zip(axes.flat, ROWS):
    run, ref = gans[name], direct[name]["from (0, 1)"]
    mu, sigma = np.mean(run["mu"][-tail:]), np.mean(run["sigma"][-tail:])
    ax.fill_between(grid, log_target.exp(), color="lightgray",
                    label="target $P$")
    ax.plot(grid, fgan.normal_log_prob(grid, ref["mu"], ref["sigma"]).exp(),
            "--", color="black", lw=1.2, label="direct minimum")
    ax.plot(grid, fgan.normal_log_prob(grid, mu, sigma).exp(),
            color=COLORS[1], label="f-GAN")
    title = (f"{name.replace('_', ' ')}: "
             f"$\\mu$ = {mu:.2f}, $\\sigma$ = {sigma:.2f}")
    ax.set(xlim=(-5, 6), title=title)
axes[0, 0].legend(fontsize=8)
fig

# %% mystnb={"figure": {"caption": "The f-GAN generators' mean $\\mu$ (left) and width $\\sigma$ (right) during training, one line per divergence, all started from $\\mu = 0$, $\\sigma = 1$.", "name": "fig-fgan-trajectories"}, "image": {"alt": "Two line plots against the training step, one line per divergence: the generator's mean on the left and its width on the right. The KL, Jensen\u2013Shannon and Hellinger runs rise quickly and then fluctuate around a mean a little below 1 and a width near 2. The reverse-KL run first follows them, then partway through training its mean jumps to about 2 while its width drops to about 0.7, where it stays."}} tags=["hide-input"]
fig, (ax_mu, ax_sigma) = figure(1, 2, width=8.4, height=3.0)
for i, name in enumerate(ROWS):
    ax_mu.plot(gans[name]["mu"], color=COLORS[i], lw=1,
               label=name.replace("_", " "))
    ax_sigma.plot(gans[name]["sigma"], color=COLORS[i], lw=1)
ax_mu.set(xlabel="step", ylabel="$\\mu$",
          title="generator mean during training")
ax_sigma.set(xlabel="step", ylabel="$\\sigma$",
             title="generator width during training")
ax_mu.legend(fontsize=8)
fig

# %% [markdown]
# The f-GANs land near the minimum that direct descent reaches from the same start
# ({numref}`fig-fgan-modes`), to within the jitter of stochastic training: the KL generator
# spreads over both modes, the reverse-KL generator sits on the heavier mode with about that
# mode's width, and Jensen–Shannon and Hellinger cover both modes a little more tightly than KL.
# The trajectories ({numref}`fig-fgan-trajectories`) show the price of the game: the reverse-KL
# generator first drifts as if covering, then slides onto one mode.
#
# For Jensen–Shannon the covering answer is *not* the best one. Does the game simply go where
# its start leads? Start it **at** the global, mode-seeking minimum found above, once with one
# critic update per generator update, as in every run so far, and once with five. The table also
# gives the critic's mini-batch bound averaged over the first 20 generator steps, to compare with
# the divergence at the start: it says how much of the divergence the critic had learned while
# the generator began to move.

# %%
STEPS_START = companion.budget(full=1000, smoke=150)
start = (js_seek["mu"], js_seek["sigma"])
balance = {k: fgan.train_fgan(sample_target, "jensen_shannon",
                              steps=STEPS_START, critic_steps=k, init=start,
                              seed=SEED, progress=False)
           for k in (1, 5)}
cut = max(1, STEPS_START // 5)
lines = [f"started at the JS global minimum mu = {start[0]:.3f}, "
         f"sigma = {start[1]:.3f}, D_JS = {js_seek['divergence']:.4f}",
         f"{'critic steps':>12s} {'early bound':>12s} {'final mu':>15s} "
         f"{'final sigma':>15s} {'D_JS there':>11s}"]
ends, earlies = {}, {}
for k, run in balance.items():
    mu, sigma = np.mean(run["mu"][-cut:]), np.mean(run["sigma"][-cut:])
    ends[k] = sigma
    d = fgan.divergence_on_grid(log_target, fgan.normal_log_prob(
        grid, mu, sigma), grid, "jensen_shannon").item()
    early = earlies[k] = np.mean(run["bound"][:20])
    lines.append(f"{k:12d} {early:12.4f} "
                 f"{mu:7.3f} ± {np.std(run['mu'][-cut:]):.3f} "
                 f"{sigma:7.3f} ± {np.std(run['sigma'][-cut:]):.3f} "
                 f"{d:11.4f}")
# one critic step: off to the wide, covering minimum; five: stays narrow
assert ends[1] > 1.5 and ends[5] < 1.0
# and the single-step critic knew less of the divergence early on
assert earlies[1] < earlies[5] and earlies[1] < js_seek["divergence"]
print("\n".join(lines))

# %% [markdown]
# With one critic update per step, the critic starts as the random network it was initialised
# to and has learned only part of the divergence when the generator starts moving; led by that
# half-trained critic, the generator leaves the optimum for the covering one. With five updates
# the critic is close to the divergence from the first steps, the generator feels the true
# divergence, and it stays. Both answers are minima of the same divergence, and the difference
# between their values is small; which one training reports depends on its schedule, not only on
# $f$.
# This is one face of what Su means by the GANs' shared difficulties: the critic–generator
# balance that the original GAN needs is needed by every f-GAN.
#
# ## Summary
#
# - An f-divergence {eq}`eq-fdiv` needs only a convex $f$ with $f(1) = 0$ ($f'' \ge 0$ is the
#   practical test); Jensen's inequality {eq}`eq-jensen` makes it non-negative, strict convexity
#   makes it vanish only at $P = Q$, and it is in general neither symmetric nor a distance. Label rows by their formula: the $\chi^2$ names and the
#   factor $\frac12$ of Jensen–Shannon differ between sources.
# - A convex $f$ is the upper envelope of its tangents {eq}`eq-tangents`; indexing the tangents by
#   slope gives the conjugate $f^*$ {eq}`eq-conjugate` and the Fenchel–Young inequality
#   {eq}`eq-fenchel-young`. Every conjugate of the table checks against a numerical supremum.
# - Choosing the slope separately at every point turns the divergence into a maximum over critics
#   {eq}`eq-bound`, estimable from samples; every critic gives a lower bound, tight at
#   $T^* = f'(p/q)$ {eq}`eq-optimal-critic`.
# - An output activation keeps the critic in $\operatorname{dom} f^*$; with a sigmoid inside, the
#   Jensen–Shannon row is the original GAN's objective.
# - Neural estimates converge to the true divergences, within their sampling error (an
#   estimate of a lower bound can exceed the truth by a few standard errors); bounded
#   divergences give the quietest estimators, $\chi^2$ the noisiest.
# - Bounded divergences (total variation, Hellinger, Jensen–Shannon, GAN) saturate when the laws
#   separate, and their gradients vanish; the non-saturating generator loss keeps one. Unbounded
#   ones keep their gradients but their estimators become very noisy.
# - The f-GAN game {eq}`eq-fgan` finds a minimum of the divergence: KL covers the modes, reverse
#   KL seeks one, Hellinger covers. Jensen–Shannon has two nearly equal minima, with the seeking
#   one global for this target, and the critic–generator balance decides which one the game
#   reports.
#
# ## References
#
# - Su Jianlin (2018). [f-GAN简介:GAN模型的生产车间](https://kexue.fm/archives/6016) ("An
#   introduction to f-GAN: the production workshop of GAN models"). kexue.fm, 29 September 2018.
# - Sebastian Nowozin, Botond Cseke and Ryota Tomioka (2016). f-GAN: Training Generative Neural
#   Samplers using Variational Divergence Minimization. *NeurIPS 2016*.
#   [arXiv:1606.00709](https://arxiv.org/abs/1606.00709)
# - XuanLong Nguyen, Martin J. Wainwright and Michael I. Jordan (2010). Estimating Divergence
#   Functionals and the Likelihood Ratio by Convex Risk Minimization. *IEEE Transactions on
#   Information Theory* 56(11), 5847–5861. [arXiv:0809.0853](https://arxiv.org/abs/0809.0853)
# - Ian Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David Warde-Farley, Sherjil Ozair,
#   Aaron Courville and Yoshua Bengio (2014). Generative Adversarial Nets. *NeurIPS 2014*.
#   [arXiv:1406.2661](https://arxiv.org/abs/1406.2661)
# - Diederik P. Kingma and Jimmy Ba (2015). Adam: A Method for Stochastic Optimization.
#   *ICLR 2015*. [arXiv:1412.6980](https://arxiv.org/abs/1412.6980)
#
# ## Exercises
#
# The solutions' code is for you to run in JupyterLab; the book does not execute it.
#
# 1. Adding a linear term $c\,(u - 1)$ to $f$ leaves $\mathcal D_f$ unchanged (why?). Show that it
#    shifts the conjugate, $(f + c(u-1))^*(t) = f^*(t - c) + c$, and the optimal critic by $c$, and
#    check it for KL with $c = 2$.
#
# :::{admonition} Solution
# :class: dropdown
#
# $\int q\,c\,(p/q - 1) = c\int (p - q) = 0$. For the conjugate,
# $\sup_u\{tu - f(u) - c(u - 1)\} = \sup_u\{(t - c)u - f(u)\} + c$ $= f^*(t - c) + c$, and the
# optimal critic is $f'(p/q) + c$. For $f = u\log u$ and $c = 2$:
#
# ```python
# t = torch.linspace(-2, 3, 11, dtype=torch.float64)
# kl = fgan.get("kl")
# shifted = lambda u: kl.f(u) + 2 * (u - 1)
# us = torch.logspace(-6, 4, 200_001, dtype=torch.float64)
# numeric = (t[:, None] * us - shifted(us)).max(dim=1).values
# # small: the grid's resolution
# print((numeric - (kl.conjugate(t - 2) + 2)).abs().max())
# ```
#
# This is how the f-GAN paper's GAN row and its (unhalved) Jensen–Shannon row are related: they
# differ by $(u - 1)\log 2$ and the constant $\log 4$.
# :::
#
# 2. Derive the conjugate of the squared Hellinger $f(u) = (\sqrt u - 1)^2$ and its domain.
#
# :::{admonition} Solution
# :class: dropdown
#
# $tu - f(u) = (t - 1)u + 2\sqrt u - 1$. With $s = \sqrt u$ this is the quadratic
# $(t - 1)s^2 + 2s - 1$, bounded above only if $t < 1$, with its maximum at $s = 1/(1 - t)$:
# $f^*(t) = \frac{1}{1 - t} - 1 = \frac{t}{1 - t}$, domain $t < 1$, matching the table and the
# activation $1 - e^{v}$ (which gives $f^*(1 - e^{v}) = e^{-v} - 1$).
# :::
#
# 3. What does the neural estimator do when the divergence is infinite? Estimate the Neyman
#    $\chi^2$ of $P = \mathcal N(0, 1)$ from $Q = \mathcal N(1, 1.5^2)$ (infinite, as shown above).
#
# :::{admonition} Solution
# :class: dropdown
#
# ```python
# def sample_wide_q(n, g):
#     return 1 + 1.5 * torch.randn(n, 1, generator=g)
#
#
# run = fgan.estimate_divergence(sample_p, sample_wide_q, "neyman_chi2",
#                                steps=3000, seed=0)
# print(run["estimate"][::6])
# ```
#
# Every critic still gives a finite lower bound, so the estimates stay finite, but they do not
# settle: they keep creeping up (and jump around) as the critic learns more of the tails where
# $q^2/p$ explodes. A divergence estimate that never levels off is a warning sign.
# :::
