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
# - what the critic's output activation is for, and why the Jensen–Shannon row is exactly the
#   original GAN;
# - how the choice of $f$ decides what a generator learns: covering every mode (KL), settling on
#   one (reverse KL), or something in between (Jensen–Shannon, Hellinger).
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
from scipy import integrate

import companion
from companion import fgan
from companion.progress import tqdm
from companion.style import COLORS, figure
from companion.widgets import Choice, LogRange, Range, demo

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
# without a factor $\frac12$.** Su's row has it (so JS $\le \log 2$); the f-GAN paper's JS row
# drops it and is twice as large. **The GAN row is a shifted $2\,\mathrm{JS}$.** The f-GAN paper's
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
    f_1 = div.f(torch.ones(1)).item()
    lines.append(f"{name:18s} {f_1:6.1f} {mismatch:20.1e} "
                 f"{d_pq.min().item():14.4f} {d_pp.abs().max().item():14.1e}")
# one print per cell: the output does not depend on timing
print("\n".join(lines))

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
# its $f$ has only two slopes, $\pm\frac12$, so its conjugate is finite only on
# $[-\frac12, \frac12]$ and its gap vanishes on a whole half-line.

# %% mystnb={"figure": {"caption": "The tangent-line construction of the conjugate for each row: $f$ with its tangent at $\\xi$ (left), the conjugate $f^*$ with the point $t = f'(\\xi)$ (middle), and the Fenchel\u2013Young gap, zero at $u = \\xi$ (right).", "name": "fig-fgan-conjugate"}} tags=["hide-input"]
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
# supremum sits at $u = 0$ and equals $-1$. For total variation the conjugate $t$ is correct on
# $[-\frac12, \frac12]$ only (below $-\frac12$ it is $-\frac12$, above $\frac12$ infinite).
#
# The table check: for every row and 41 slopes $t$ inside the domain, compute
# $\sup_u\{tu - f(u)\}$ numerically (a log-spaced grid of $u$ from $10^{-6}$ to $10^4$, refined
# by a golden-section search around the best grid point) and compare with the formula.

# %%
def numerical_conjugate(div, t, grid=np.logspace(-6, 4, 4001)):
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

# %% [markdown]
# Every entry of the table is right to the precision of the numerical supremum.
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
# quadrature (`fgan.gaussian_divergence`). The bound is integrated with `scipy.integrate.quad` for
# $T^*$ and for the critic $T_{s} = s\,T^* + (1 - s)\,f'(1)$, $s = 0.8$, a mixture of the optimum
# with the constant critic $f'(1)$ (whose bound is exactly 0).

# %%
def bound_by_quadrature(name, mu_q, sigma_q, s):
    """E_P[T_s] - E_Q[f*(T_s)] by scipy quadrature.

    P = N(0, 1) and Q = N(mu_q, sigma_q^2).
    """
    div = fgan.get(name)
    c = div.f_prime(torch.ones((), dtype=torch.float64))

    def integrand(x):
        x = torch.tensor(x, dtype=torch.float64)
        lp = fgan.normal_log_prob(x, 0.0, 1.0)
        lq = fgan.normal_log_prob(x, mu_q, sigma_q)
        if s == 1:
            # through the raw optimum: T* itself may round onto an open end
            # of dom f*
            v = div.optimal_critic(lp - lq, raw=True)
            t, conj = div.activation(v), div.conjugate_of_activation(v)
        else:
            t = s * div.optimal_critic(lp - lq) + (1 - s) * c
            conj = div.conjugate(t)
        return float(lp.exp() * t - lq.exp() * conj)

    lo, hi = -30 * sigma_q, mu_q + 30 * sigma_q
    return integrate.quad(integrand, lo, hi, points=[0.0, mu_q], limit=400)[0]


lines = [f"{'row':18s} {'truth':>10s} {'bound at T*':>12s} "
         f"{'bound at T_0.8':>15s}"]
for name in fgan.NAMES:
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, 1.0, 1.5)
    if math.isinf(truth):
        lines.append(f"{name:18s} {'inf':>10s}   "
                     "(infinite: q^2/p grows in the tails,")
        lines.append(f"{'':33s}since sigma_q^2 > 2 sigma_p^2)")
        continue
    tight = bound_by_quadrature(name, 1.0, 1.5, 1.0)
    loose = bound_by_quadrature(name, 1.0, 1.5, 0.8)
    assert abs(tight - truth) < 1e-6 * max(1, truth) and loose < truth
    lines.append(f"{name:18s} {truth:10.6f} {tight:12.6f} {loose:15.6f}")
print("\n".join(lines))

# %% [markdown]
# The bound at $T^*$ equals the divergence to quadrature accuracy, and the mixed critic falls
# short. The Neyman $\chi^2$ of this pair is infinite: $\int q^2/p$ diverges because $Q$ has the
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

# %% mystnb={"figure": {"caption": "The variational bound of the critic $T_s$ for $P = \\mathcal N(0, 1)$ and a Gaussian $Q$, every row at once: the densities (left), each divergence against its bound (middle), and bound/truth against $s$ (right), which reaches 1 only at $s = 1$.", "name": "fig-fgan-bound"}} tags=["hide-input"]
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
# itself rounds onto an open end of the domain (in float32, $1 - e^{v}$ is exactly 1 once
# $v < -17$).
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
# number that is at most the divergence. Here $P = \mathcal N(0, 1)$ and
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
lines = [f"{'row':18s} {'truth':>8s} {'estimate':>9s} {'rel. error':>11s} "
         f"{'spread of last 5':>17s}"]
for name, run in estimates.items():
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, MU_Q, SIGMA_Q)
    last = run["estimate"][-5:]
    rel_error = (last[-1] - truth) / truth
    lines.append(f"{name:18s} {truth:8.4f} {last[-1]:9.4f} {rel_error:+11.1%} "
                 f"{max(last) - min(last):17.4f}")
print("\n".join(lines))

# %% mystnb={"figure": {"caption": "Neural estimates of the nine divergences between $P = \\mathcal N(0, 1)$ and $Q = \\mathcal N(1, 1.1^2)$: the held-out bound of the trained critic during training (line) against the true divergence (dashed).", "name": "fig-fgan-estimates"}, "image": {"alt": "Nine small line plots, one per divergence, of the held-out bound against the training step, each with the true divergence as a dashed horizontal line. For most rows the line reaches the dashed truth within the first few hundred steps and stays on it or just below; the Neyman chi-squared line stays clearly below its truth and jumps around."}} tags=["hide-input"]
fig, axes = figure(3, 3, width=9.0, height=6.4, sharex=True)
for ax, (name, run) in zip(axes.flat, estimates.items()):
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, MU_Q, SIGMA_Q)
    ax.plot(run["step"], run["estimate"], color=COLORS[0], lw=1.2)
    ax.axhline(truth, color="black", ls="--", lw=1)
    ax.set_title(name.replace("_", " "), fontsize=9)
    ax.set_ylim(min(0.5 * truth, min(run["estimate"])), 1.2 * truth)
for ax in axes[-1]:
    ax.set_xlabel("training step")
fig.suptitle("held-out bound of the trained critic (line) "
             "against the true divergence (dashed)")
fig

# %% [markdown]
# In {numref}`fig-fgan-estimates`, most rows are within a few percent of the truth after the first few hundred steps and then
# fluctuate with the noise of the held-out average (in the full run every row but Neyman
# $\chi^2$ ends within 3% of the truth, Neyman $\chi^2$ about 15% low). Which rows are hard? The
# estimator is an average of $T$ under $P$ and of $f^*(T)$ under $Q$, so its noise depends on how
# heavy-tailed those two terms are *at the optimum*. That can be computed without any training: draw samples, evaluate $T^*$ and
# $f^*(T^*)$ exactly, and measure the standard deviation of one sample's contribution, relative
# to the divergence.

# %%
def optimal_raw_critic(x, name):
    """v* at x for P = N(0, 1) and Q = N(MU_Q, SIGMA_Q^2)."""
    log_p = fgan.normal_log_prob(x, 0.0, 1.0)
    log_q = fgan.normal_log_prob(x, MU_Q, SIGMA_Q)
    return fgan.optimal_critic(log_p, log_q, name, raw=True)


g = torch.Generator().manual_seed(SEED)
n = 200_000
x_p = torch.randn(n, generator=g, dtype=torch.float64)
x_q = MU_Q + SIGMA_Q * torch.randn(n, generator=g, dtype=torch.float64)
noise = {}
for name, div in fgan.DIVERGENCES.items():
    t_p = div.activation(optimal_raw_critic(x_p, name))
    conj_q = div.conjugate_of_activation(optimal_raw_critic(x_q, name))
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, MU_Q, SIGMA_Q)
    noise[name] = math.sqrt(t_p.var().item() + conj_q.var().item()) / truth
lines = [f"{'row':18s} {'sd of one sample / divergence':>30s}"]
for name in sorted(noise, key=noise.get):
    lines.append(f"{name:18s} {noise[name]:30.2f}")
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
# ## What the choice of f does: mode covering and mode seeking
#
# Su's conclusion is that f-GAN's value is its unification: every divergence in the table becomes
# a GAN by the same recipe, and inherits the same training difficulties. But the divergences do
# not agree on what the best *imperfect* model is. The classic demonstration, in the spirit of
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
# Hellinger are bounded and symmetric, and sit between the two.
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

direct = {}
lines = [f"{'row':18s} local minima found from {len(STARTS)} starts: "
         "(mu, sigma) -> divergence"]
for name in ROWS:
    fits = [fgan.fit_gaussian_by_quadrature(log_target, grid, name, init=start)
            for start in STARTS]
    minima = {(round(f["mu"], 3), round(f["sigma"], 3)): f["divergence"]
              for f in fits}
    direct[name] = {"from (0, 1)": fits[0],
                    "global": min(fits, key=lambda f: f["divergence"])}
    found = ", ".join(f"({m:.3f}, {s:.3f}) -> {d:.4f}"
                      for (m, s), d in sorted(minima.items()))
    lines.append(f"{name:18s} {found}")

best = direct["kl"]["global"]
lines.append(f"\nKL optimum vs moment matching: mu {best['mu']:.6f} vs 0.8, "
             f"sigma {best['sigma']:.6f} vs {math.sqrt(0.49 + 4 - 0.64):.6f}")
check = fgan.divergence_quad(
    lambda x: fgan.mixture_log_prob(x, W, M, S),
    lambda x: fgan.normal_log_prob(x, best["mu"], best["sigma"]), "kl")
lines.append(f"grid error at the KL optimum: {best['divergence'] - check:.1e} "
             f"(scipy.integrate.quad: {check:.8f})")
print("\n".join(lines))

# %% [markdown]
# The grid error is at rounding level: the integrand is smooth and negligible beyond $\pm 15$.
# KL has a single minimum, the moment-matching Gaussian. Reverse KL has one on each mode, and the
# heavier mode wins. Jensen–Shannon has two almost equally good minima, a covering one and a
# seeking one that is very slightly lower; Hellinger has both as well but clearly prefers
# covering. Gradient descent from $(\mu, \sigma) = (0, 1)$ reaches the covering minimum for both,
# and the seeking one for reverse KL. Now the f-GANs, from the same start:

# %%
def sample_target(n, g):
    return fgan.mixture_sample(n, W, M, S, g)


gans = {name: fgan.train_fgan(sample_target, name, steps=STEPS_GAN, seed=SEED)
        for name in tqdm(ROWS, desc="f-GANs")}
tail = max(1, STEPS_GAN // 5)
lines = [f"{'row':18s} {'f-GAN mu':>9s} {'sigma':>7s} {'direct mu':>10s} "
         f"{'sigma':>7s} {'D at f-GAN':>11s} {'D direct':>9s}"]
for name, run in gans.items():
    mu, sigma = np.mean(run["mu"][-tail:]), np.mean(run["sigma"][-tail:])
    ref = direct[name]["from (0, 1)"]
    log_q = fgan.normal_log_prob(grid, mu, sigma)
    d_gan = fgan.divergence_on_grid(log_target, log_q, grid, name).item()
    lines.append(f"{name:18s} {mu:9.3f} {sigma:7.3f} {ref['mu']:10.3f} "
                 f"{ref['sigma']:7.3f} {d_gan:11.4f} {ref['divergence']:9.4f}")
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
# The f-GANs land where direct minimisation does ({numref}`fig-fgan-modes`), to within the jitter of stochastic training:
# the KL generator spreads over both modes, the reverse-KL generator sits on the heavier mode with
# about that mode's width, and Jensen–Shannon and Hellinger cover both modes a little more
# tightly than KL. The trajectories ({numref}`fig-fgan-trajectories`) show the price of the game: the reverse-KL generator first
# drifts as if covering, then slides onto one mode; a generator trained against a critic only
# follows the divergence as well as the critic has learned it.
#
# ## Summary
#
# - An f-divergence {eq}`eq-fdiv` needs only a convex $f$ with $f(1) = 0$; Jensen's inequality
#   {eq}`eq-jensen` makes it non-negative. Label rows by their formula: the $\chi^2$ names and the
#   factor $\frac12$ of Jensen–Shannon differ between sources.
# - A convex $f$ is the upper envelope of its tangents {eq}`eq-tangents`; indexing the tangents by
#   slope gives the conjugate $f^*$ {eq}`eq-conjugate` and the Fenchel–Young inequality
#   {eq}`eq-fenchel-young`. Every conjugate of the table checks against a numerical supremum.
# - Choosing the slope separately at every point turns the divergence into a maximum over critics
#   {eq}`eq-bound`, estimable from samples; every critic gives a lower bound, tight at
#   $T^* = f'(p/q)$ {eq}`eq-optimal-critic`.
# - An output activation keeps the critic in $\operatorname{dom} f^*$; with a sigmoid inside, the
#   Jensen–Shannon row is the original GAN's objective.
# - Neural estimates converge to the true divergences; bounded divergences give the quietest
#   estimators, $\chi^2$ the noisiest.
# - The f-GAN game {eq}`eq-fgan` finds the same Gaussian as minimising the divergence directly:
#   KL covers the modes, reverse KL seeks one, Jensen–Shannon and Hellinger lie in between.
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
# # about 1e-10: the grid's resolution
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
