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
# # VAE, the information bottleneck and the normal distribution: the value of forgetting
#
# :::{admonition} What you will understand by the end
# - that a variational auto-encoder differs from a plain auto-encoder in exactly two places, a
#   sampled Gaussian code and a KL penalty towards $\mathcal N(0, I)$, and what that KL is in
#   closed form;
# - what the information bottleneck asks of a network, why the KL averaged over inputs is an
#   *upper bound* on the information the code keeps, and what the gap is, exactly, in a
#   one-dimensional example;
# - how the variational information bottleneck (VIB) puts the same two pieces into a classifier,
#   what trading accuracy for information looks like on real digits, and why the code gives up
#   entirely once the penalty's weight passes 1;
# - why a VAE *is* a VIB whose label is its own input;
# - why the standard normal is the natural prior: independent components, closure under sums,
#   and a spherical path between codes that stays typical where the straight line does not.
# :::
#
# **Article.** Su Jianlin,
# [从变分编码、信息瓶颈到正态分布:论遗忘的重要性](https://kexue.fm/archives/6181) ("From
# variational encoding and the information bottleneck to the normal distribution: on the
# importance of forgetting"), kexue.fm, 2018-11-27. Su calls it a loose essay: three ideas that are
# usually taught apart, the VAE, the information bottleneck and the normal distribution, turn out
# to be one story, and the story is about what a network should *forget*. This chapter follows
# his order, derives each step, checks it in code, and runs his VIB experiment at laptop scale on
# scikit-learn's 8×8 digits.

# %%
import math

import numpy as np
import torch
from scipy import stats

import companion
from companion import data
from companion import vib
from companion.progress import tqdm
from companion.style import COLORS, figure
from companion.widgets import Choice, LogRange, Range, demo

SEED = 0
# The networks here are tiny MLPs: one thread is the fastest, and two
# threads that spin-wait for each other on a busy machine can be ten
# times slower.
torch.set_num_threads(1)
N_TRAIN = companion.budget(full=1400, smoke=400)  # of sklearn's 1,797 digits
EPOCHS = companion.budget(full=60, smoke=4)
N_SEEDS = companion.budget(full=2, smoke=1)  # training runs per λ
LAMS = companion.budget(full=[0, 1e-4, 1e-3, 1e-2, 1e-1, 0.5, 1, 2],
                        smoke=[0, 1e-2, 2])
N_MC = companion.budget(full=200_000, smoke=20_000)  # Monte-Carlo samples
DIGIT_COLORS = COLORS + ["#999999", "#882255"]  # ten classes
torch.manual_seed(SEED)
print(f"{N_SEEDS} seed(s) x {len(LAMS)} values of λ, {EPOCHS} epochs "
      f"on {N_TRAIN} training digits")

# %% [markdown]
# ## The VAE in two changes
#
# A VAE has three distributions: an **encoder** $p(z\mid x)$ and a **decoder** $q(x\mid z)$, both
# Gaussians whose parameters come from networks, and a **prior** $q(z) = \mathcal N(0, I)$ for
# the code. Write $\tilde p(x)$ for the data. The VAE makes two joint distributions of $(x, z)$
# agree: the one that starts from the data and encodes it, and the one that starts from the prior
# and decodes it,
#
# $$
# \begin{aligned}
# &KL\Big(\tilde p(x)\,p(z\mid x)\,\Big\|\,q(z)\,q(x\mid z)\Big) \\
# &\qquad = \iint \tilde p(x)\,p(z\mid x)\,
# \log\frac{\tilde p(x)\,p(z\mid x)}{q(z)\,q(x\mid z)}\,dz\,dx .
# \end{aligned}
# $$ (eq-vae-joint)
#
# Split the logarithm into $\log\tilde p(x)$, $-\log q(x\mid z)$ and
# $\log\frac{p(z\mid x)}{q(z)}$. The first term averages to minus the data's entropy, a constant,
# so minimising {eq}`eq-vae-joint` is minimising
#
# $$
# \mathcal L_{\text{VAE}} = \mathbb E_{x\sim\tilde p}\Big[\,\mathbb E_{z\sim p(z\mid x)}\big[-\log q(x\mid z)\big]
# + KL\big(p(z\mid x)\,\|\,q(z)\big)\Big] .
# $$ (eq-vae-loss)
#
# The first term is an auto-encoder's reconstruction loss: keep enough about $x$ in $z$ to
# rebuild it. The second pulls every input's code distribution towards the standard normal. So,
# compared with a plain auto-encoder, a VAE changes two things: (1) the encoder outputs a mean
# and a variance and the code is a *sample*, drawn by reparameterisation; (2) a KL term joins the
# loss.
#
# For a diagonal Gaussian encoder, $p(z\mid x) = \mathcal N(\mu, \operatorname{diag}\sigma^2)$,
# the KL to the standard normal has a closed form, one term per component (exercise 1 derives it):
#
# $$
# KL\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)
# = \frac12 \sum_d \big(\mu_d^2 + \sigma_d^2 - \log\sigma_d^2 - 1\big) .
# $$ (eq-kl-gauss)
#
# Each term is non-negative, because $t - \log t - 1 \ge 0$ for $t > 0$ with equality only at
# $t = 1$, and vanishes only at $\mu_d = 0$, $\sigma_d = 1$. Networks output
# $\text{logvar} = \log\sigma^2$, so that the variance is positive without constraints; the
# gradients are then $\partial/\partial\mu_d = \mu_d$ and
# $\partial/\partial\,\text{logvar}_d = \frac12(e^{\text{logvar}_d} - 1)$. Here is
# `vib.kl_std_normal` against `torch.distributions`, against autograd's gradients, and against a
# Monte-Carlo average of $\log\frac{p(z\mid x)}{q(z)}$ over samples of the encoder:

# %%
from torch.distributions import Normal, kl_divergence

mu = torch.tensor([[0.0, 0.0], [1.5, -0.5], [-2.0, 0.3]],
                  dtype=torch.float64, requires_grad=True)
logvar = torch.tensor([[0.0, 0.0], [-1.0, 0.7], [1.5, -3.0]],
                      dtype=torch.float64, requires_grad=True)
closed = vib.kl_std_normal(mu, logvar)
reference = kl_divergence(Normal(mu, (0.5 * logvar).exp()),
                          Normal(0.0, 1.0)).sum(-1)
estimate, stderr = vib.kl_monte_carlo(
    mu.detach(), logvar.detach(), N_MC,
    generator=torch.Generator().manual_seed(SEED))
closed.sum().backward()
print(f"{'mu':>14s} {'logvar':>14s} {'closed form':>12s} "
      f"{'torch.distr.':>13s} {'Monte Carlo':>18s}")
rows = zip(mu.tolist(), logvar.tolist(), closed.tolist(),
           reference.tolist(), estimate.tolist(), stderr.tolist())
for m, v, a, b, e, s in rows:
    print(f"{str(m):>14s} {str(v):>14s} {a:12.6f} {b:13.6f} "
          f"{e:11.4f} ± {s:.4f}")
    assert abs(e - a) <= 3 * s + 1e-12
print("gradient in mu equals mu:", torch.allclose(mu.grad, mu.detach()))
print("gradient in logvar equals (exp(logvar) - 1)/2:",
      torch.allclose(logvar.grad, 0.5 * torch.expm1(logvar.detach())))

# %% [markdown]
# Move the mean and the log-variance of a one-dimensional encoder. The left panel shows the
# integrand $q\log(q/p)$, whose area is the KL (negative where $q$ has less density than the
# prior $p$, positive where it has more); the right panel shows the Monte-Carlo estimate
# settling on the closed form within its error band.

# %% mystnb={"figure": {"caption": "The KL of a one-dimensional encoder $q = \\mathcal N(\\mu, \\sigma^2)$ from the prior $p = \\mathcal N(0, 1)$. Left, the integrand $q\\log(q/p)$, whose area is the KL; right, the running Monte-Carlo estimate settling on the closed form within its $\\pm 3$ standard-error band.", "name": "fig-vib-kl"}} tags=["hide-input"]
demo(vib.plot_kl, mu=Range(-3, 3, step=1.5, value=1.5, label="μ"),
     logvar=Range(-4, 2, step=1, value=0, label="log σ²"))

# %% [markdown]
# The sample has to be drawn in a way gradients can pass through: $z = \mu + \sigma\,\varepsilon$
# with $\varepsilon \sim \mathcal N(0, I)$ drawn outside the network. Then $z$ is a
# differentiable function of $\mu$ and $\log\sigma^2$, and the gradient of a Monte-Carlo
# average is an unbiased estimate of the gradient of the expectation. For
# $\mathbb E[z^2] = \mu^2 + \sigma^2$ the exact gradients are $2\mu$ and $\sigma^2$ (in
# $\log\sigma^2$):

# %%
m = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
lv = torch.tensor([-0.4], dtype=torch.float64, requires_grad=True)
z = vib.reparameterize(m.expand(N_MC, 1), lv.expand(N_MC, 1),
                       generator=torch.Generator().manual_seed(SEED))
z.square().mean().backward()
print(f"d E[z²]/d mu:     Monte Carlo {m.grad.item():.4f}, "
      f"exact {2 * 0.7:.4f}")
print(f"d E[z²]/d logvar: Monte Carlo {lv.grad.item():.4f}, "
      f"exact {math.exp(-0.4):.4f}")

# %% [markdown]
# ## The information bottleneck
#
# Now forget generation. A network reads $x$, computes an intermediate code $z$, and predicts a
# label $y$ from $z$: $x \to z \to y$. The **information bottleneck** asks the code to carry what
# predicting $y$ needs and as little else about $x$ as possible. "How much $z$ tells about $x$" is
# the mutual information
#
# $$
# \begin{aligned}
# I(X;Z) &= \iint p(z\mid x)\,\tilde p(x)\,\log\frac{p(z\mid x)}{p(z)}\,dx\,dz,
# \\
# p(z) &= \int p(z\mid x)\,\tilde p(x)\,dx .
# \end{aligned}
# $$ (eq-mi)
#
# One way to write the wish: keep the task loss, and penalise the pointwise information
# $\log\frac{p(z\mid x)}{p(z)}$ only where it exceeds a budget $\beta$,
#
# $$
# \begin{aligned}
# &-\iint p(z\mid x)\,\tilde p(x)\,\log p(y\mid z) \\
# &\quad + \lambda\iint p(z\mid x)\,\tilde p(x)\,
# \max\Big(\log\frac{p(z\mid x)}{p(z)} - \beta,\; 0\Big) ,
# \end{aligned}
# $$ (eq-ib-hinge)
#
# or, more simply, penalise all of it:
#
# $$
# -\iint p(z\mid x)\,\tilde p(x)\,\log p(y\mid z)\;+\;\lambda\, I(X;Z) .
# $$ (eq-ib)
#
# Neither can be computed: the marginal $p(z)$ in {eq}`eq-mi` integrates the encoder over the
# whole data distribution. The way out is to bring in *any* distribution $q(z)$ we like. Split
# $\log\frac{p(z\mid x)}{p(z)} = \log\frac{p(z\mid x)}{q(z)} - \log\frac{p(z)}{q(z)}$ and average:
#
# $$
# \begin{aligned}
# I(X;Z) &= \int \tilde p(x)\,KL\big(p(z\mid x)\,\|\,q(z)\big)\,dx
# \;-\; KL\big(p(z)\,\|\,q(z)\big) \\
# &\le \int \tilde p(x)\,KL\big(p(z\mid x)\,\|\,q(z)\big)\,dx .
# \end{aligned}
# $$ (eq-mi-bound)
#
# The right-hand side, the **rate**, needs only the encoder, one input at a time. Su writes the
# inequality as strict; it is an equality exactly when the marginal $p(z)$ equals $q(z)$, and
# the gap is how far the codes' overall distribution is from $q$.
#
# ### An example where everything is exact
#
# Take $x \sim \mathcal N(0, 1)$ and a linear encoder with noise,
# $p(z\mid x) = \mathcal N(wx, s^2)$, and $q(z) = \mathcal N(0, 1)$. Everything is Gaussian: the
# marginal is $p(z) = \mathcal N(0, w^2 + s^2)$, and with {eq}`eq-kl-gauss` and the Gaussian channel's
# capacity formula,
#
# $$
# \begin{aligned}
# I(X;Z) &= \frac12\log\Big(1 + \frac{w^2}{s^2}\Big), \\
# \text{rate} &= \frac12\big(w^2 + s^2 - \log s^2 - 1\big), \\
# \text{gap} &= \frac12\big(w^2 + s^2 - \log(w^2 + s^2) - 1\big) ,
# \end{aligned}
# $$ (eq-linear-gauss)
#
# and the gap is $KL(\mathcal N(0, w^2 + s^2)\,\|\,\mathcal N(0, 1))$, as {eq}`eq-mi-bound`
# says. For $w = 1$, $s = 1/2$: $I = \frac12\log 5 = 0.8047$, rate $0.8181$, gap $0.0134$. The
# cell checks the closed forms against Monte Carlo over $(x, z)$ pairs, estimating $I$ from its
# definition {eq}`eq-mi` and the rate from the encoder's KL:

# %%
w, s = 1.0, 0.5
exact = vib.linear_gaussian(w, s)
g = torch.Generator().manual_seed(SEED)
x = torch.randn(N_MC, generator=g, dtype=torch.float64)
z = w * x + s * torch.randn(N_MC, generator=g, dtype=torch.float64)
marginal = Normal(0.0, math.sqrt(w * w + s * s))  # p(z) = N(0, w² + s²)
pointwise = Normal(w * x, s).log_prob(z) - marginal.log_prob(z)
logvar_s = torch.full((N_MC, 1), math.log(s * s), dtype=torch.float64)
rate = vib.kl_std_normal((w * x)[:, None], logvar_s)
se = lambda t: t.std().item() / math.sqrt(len(t))
print(f"I(X;Z): closed form {exact.information:.4f}, "
      f"Monte Carlo {pointwise.mean():.4f} ± {se(pointwise):.4f}")
print(f"rate:   closed form {exact.bound:.4f}, "
      f"Monte Carlo {rate.mean():.4f} ± {se(rate):.4f}")
gap_kl = kl_divergence(marginal, Normal(0.0, 1.0))
print(f"gap:    rate - I = {exact.bound - exact.information:.4f}, "
      f"KL(N(0, w²+s²) || N(0,1)) = {gap_kl:.4f}")
assert abs(pointwise.mean() - exact.information) < 3 * se(pointwise)
assert abs(rate.mean() - exact.bound) < 3 * se(rate)

# %% [markdown]
# Slide the gain $w$ and the noise $s$. Noise destroys information, so $I$ falls steadily as
# $s$ grows. The rate tracks it closely while $w^2 + s^2$ is near 1, and the gap touches zero on
# that circle (which the slider reaches for $w < 1$); when the code's overall spread is far from 1, in either direction,
# the bound is loose.

# %% mystnb={"figure": {"caption": "The exact linear-Gaussian example. Left, $I(X;Z)$, the rate and their gap against the noise $s$ at gain $w$; right, the code's marginal $p(z) = \\mathcal N(0, w^2 + s^2)$ against the prior. The gap vanishes where $w^2 + s^2 = 1$.", "name": "fig-vib-linear-gauss"}} tags=["hide-input"]
demo(vib.plot_linear_gaussian,
     w=Choice([0.0, 0.5, 1.0, 2.0], value=1.0, label="gain w"),
     s=LogRange(0.125, 2, num=9, value=0.5, label="noise s"))

# %% [markdown]
# ## The variational information bottleneck
#
# Replace $I(X;Z)$ in {eq}`eq-ib` by its bound {eq}`eq-mi-bound` with $q(z) = \mathcal N(0, I)$
# and a Gaussian encoder, and the objective becomes computable:
#
# $$
# \mathcal L_{\text{VIB}} = \mathbb E_{x\sim\tilde p}\Big[\,\mathbb E_{z\sim p(z\mid x)}\big[-\log p(y\mid z)\big]
# + \lambda\, KL\big(p(z\mid x)\,\|\,q(z)\big)\Big] .
# $$ (eq-vib)
#
# This is Alemi et al.'s *deep variational information bottleneck* (ICLR 2017), and it has
# exactly the form of {eq}`eq-vae-loss`: with $\lambda = 1$ and the input itself as the "label",
# $p(y\mid z) = q(x\mid z)$, it *is* the VAE. Adding VIB to a network takes the same two changes as
# turning an auto-encoder into a VAE: the layer before the head outputs a mean and a log-variance,
# a sample goes on, and $\lambda$ times the KL joins the loss. Su's Keras layer does precisely
# this, and at test time passes the **mean** on instead of a sample, so that predictions are
# deterministic. `vib.VIB` is that layer; `vib.vib_loss` computes {eq}`eq-vib` and reports its
# two terms separately. Two quick checks: with $\lambda = 0$ only the task loss is left, and in
# evaluation mode the code is the mean.

# %%
import torch.nn.functional as F

g = torch.Generator().manual_seed(SEED)
mu, logvar = torch.randn(2, 6, 3, generator=g)
labels = torch.tensor([0, 1, 2, 3, 4, 0])
head = torch.nn.Linear(3, 5)
layer = vib.VIB(lam=0.1)
for lam in (0.0, 0.1):
    loss = vib.vib_loss(head(mu), labels, mu, logvar, lam)
    print(f"λ = {lam}: total {loss.total:.4f} = task {loss.task:.4f} "
          f"+ {lam} x rate {loss.rate:.4f}")
no_penalty = vib.vib_loss(head(mu), labels, mu, logvar, 0).total
print("λ = 0 leaves the cross-entropy:",
      torch.allclose(no_penalty, F.cross_entropy(head(mu), labels)))
layer.eval()
print("evaluation mode passes the mean:", torch.equal(layer(mu, logvar), mu),
      "| the layer's rate:", f"{layer.kl:.4f}")
layer.train()
print("training mode samples:",
      not torch.equal(layer(mu, logvar), layer(mu, logvar)))

# %% [markdown]
# ### VIB on handwritten digits
#
# Su tried VIB on IMDB sentiment classification with a small convolutional network (his script
# is at github.com/bojone/vib): a 128-dimensional Gaussian code before the sigmoid output,
# $\lambda = 0.1$, five epochs. He reports, without seeds or error bars, that with VIB the
# network converged faster and readily passed 89% validation accuracy, while without it it
# usually got past 88%, and more slowly. Alemi et al. measured more carefully on MNIST, with a
# 256-dimensional code ($K = 256$); their Table 1 gives these test errors:
#
# | method (Alemi et al., 2017, Table 1) | MNIST test error |
# |---|---|
# | baseline (no regulariser) | 1.38% |
# | dropout | 1.34% |
# | label smoothing | 1.40% |
# | confidence penalty | 1.36% |
# | **VIB, $\beta = 10^{-3}$** | **1.13%** |
#
# (Their $\beta$ is our $\lambda$. The same table lists Pereyra et al.'s numbers for dropout,
# 1.40%, label smoothing, 1.23%, and the confidence penalty, 1.17%.) Neither result is rerun
# here: IMDB and MNIST need downloads and longer training. Instead we train the same kind of
# model, an MLP encoder to a 16-dimensional Gaussian code and a linear softmax head, on
# scikit-learn's 1,797 digits, for $\lambda$ from 0 to 2, and measure on held-out digits:
#
# - the **rate**, the test average of the KL term, an upper bound on $I(X;Z)$ in nats;
# - the entropy of the test labels, $H(Y) \approx \log 10$, minus the test cross-entropy of
#   *sampled* codes: a lower bound on $I(Z;Y)$ (Alemi et al.'s);
# - accuracy with the **mean** code, as Su's layer predicts, and with a **sampled** code.

# %%
images, digits = data.load_digits()
train, test = data.split_indices(len(images), N_TRAIN, seed=SEED)
h_y = stats.entropy(torch.bincount(digits[test]).numpy())
sweep = {lam: [] for lam in LAMS}
for lam in tqdm(LAMS, desc="λ sweep"):
    for seed in range(N_SEEDS):
        torch.manual_seed(seed)
        net = vib.VIBNet(n_in=64, latent=16, n_out=10, hidden=128)
        vib.fit(net, images[train], digits[train], lam=lam, epochs=EPOCHS,
                seed=seed)
        sweep[lam].append(
            vib.evaluate(net, images[test], digits[test], seed=seed))

print(f"{len(train)} training and {len(test)} test digits; "
      f"H(Y) = {h_y:.3f} nats, mean over {N_SEEDS} seed(s)")
print(f"{'λ':>7s} {'accuracy (mean z)':>18s} {'(sampled z)':>12s} "
      f"{'rate (nats)':>12s} {'I(Z;Y) >=':>10s}")
summary = {}
for lam, runs in sweep.items():
    summary[lam] = {key: float(np.mean([run[key] for run in runs]))
                    for key in runs[0]}
    r = summary[lam]
    print(f"{lam:7g} {100 * r['accuracy']:17.1f}% "
          f"{100 * r['accuracy_sampled']:11.1f}% {r['rate']:12.2f} "
          f"{h_y - r['task_sampled']:10.2f}")

# %% mystnb={"figure": {"caption": "The $\\lambda$ sweep on test digits. Left, the information plane: each $\\lambda$ as a point (rate, lower bound on $I(Z;Y)$); no point can lie above the dashed diagonal. Right, test accuracy with the mean code and with a sampled code, down to chance at $\\lambda = 2$.", "name": "fig-vib-sweep"}, "image": {"alt": "Two panels. Left: a line of labelled points, one per value of lambda, with the rate in nats on a symmetric-log horizontal axis and the lower bound on I(Z;Y) on the vertical axis, a dotted line at H(Y) and a dashed diagonal where the two are equal. Right: test accuracy in percent against lambda for the mean code (circles) and a sampled code (squares), with a dotted line at the 10 percent chance level."}} tags=["hide-input"]
fig, (ax_plane, ax_acc) = figure(1, 2, width=8.4, height=3.4)
lams = list(summary)
rates = np.array([summary[lam]["rate"] for lam in lams])
izy = np.array([h_y - summary[lam]["task_sampled"] for lam in lams])
ax_plane.plot(rates, izy, "-o", color=COLORS[0])
for lam, r, i in zip(lams, rates, izy):
    ax_plane.annotate(f"λ={lam:g}", (r, i), xytext=(4, -10),
                      textcoords="offset points", fontsize=7)
ax_plane.axhline(h_y, color="gray", ls=":", lw=1, label="$H(Y)$")
ax_plane.plot([1e-3, h_y], [1e-3, h_y], color="gray", ls="--", lw=1,
              label="$I(Z;Y) = $ rate")
ax_plane.set(xscale="symlog",
             xlabel="rate (nats), an upper bound on $I(X;Z)$",
             ylabel="lower bound on $I(Z;Y)$ (nats)",
             title="information plane (test digits)", ylim=(-0.1, 2.5))
ax_plane.legend(fontsize=8, loc="lower right")
x_pos = np.arange(len(lams))
ax_acc.plot(x_pos, [100 * summary[lam]["accuracy"] for lam in lams], "-o",
            label="mean code (Su's test mode)")
ax_acc.plot(x_pos, [100 * summary[lam]["accuracy_sampled"] for lam in lams],
            "-s", label="sampled code")
ax_acc.axhline(10, color="gray", ls=":", lw=1, label="chance")
ticks = [f"{lam:.0e}" if 0 < lam < 0.01 else f"{lam:g}" for lam in lams]
ax_acc.set(xticks=x_pos, xticklabels=ticks, xlabel="λ",
           ylabel="test accuracy (%)", ylim=(0, 100),
           title="accuracy against λ")
ax_acc.legend(fontsize=8, loc="lower left")
fig

# %% [markdown]
# Read the table from the top. Without the penalty ($\lambda = 0$) nothing stops the encoder from
# shrinking its variance towards zero, and the "rate" is hundreds of nats: the code is
# practically a deterministic copy of whatever the encoder computes. A small $\lambda$ cuts the
# rate to tens of nats ($\lambda = 10^{-3}$) or a few ($\lambda = 10^{-1}$), and in the full run
# it *raised* the test
# accuracy by about a point and a half over $\lambda = 0$ (about 96.6% to 98%, two seeds each
# at the time of writing): forgetting helps, on digits as on Alemi's MNIST and Su's IMDB. The
# smoke configuration used in tests trains for a few epochs only and its numbers mean little.
#
# Then the code collapses, and the cause can be read off {eq}`eq-vib`. The code is computed from
# $x$ alone, so $I(Z;Y) \le I(X;Z) \le$ rate, and the cross-entropy cannot beat
# $H(Y\mid Z) = H(Y) - I(Z;Y)$. Together,
#
# $$
# \text{task} + \lambda\cdot\text{rate} \;\ge\; H(Y) - \text{rate} + \lambda\cdot\text{rate}
# \;=\; H(Y) + (\lambda - 1)\,\text{rate} .
# $$ (eq-give-up)
#
# For $\lambda > 1$ every nat of rate costs more than it can save, and the best code carries
# nothing: at $\lambda = 2$ the rate is zero and the accuracy is chance. At $\lambda = 1$ the
# bound is flat and training drifts to a nearly empty code; in the information plane, no point
# can lie above the dashed diagonal $I(Z;Y) = $ rate, and the points at large $\lambda$ approach
# it. Note also the gap between the two accuracies at $\lambda = 0.5$ and $1$: the rate limits
# what a *noisy* code can carry, but Su's test mode uses the mean, a deterministic function of
# $x$, which can still separate the classes when the samples mostly cannot.
#
# ### Two-dimensional codes, with and without the bottleneck
#
# With a two-dimensional code we can look at it. The cell trains three networks that differ only
# in $\lambda$ and plots the mean codes of the test digits; circles mark radii 1, 2 and 3 of the
# prior.

# %%
codes, table = {}, []
for lam in tqdm([0.0, 1e-2, 1e-1], desc="2-D codes"):
    torch.manual_seed(SEED)
    net = vib.VIBNet(n_in=64, latent=2, n_out=10, hidden=128)
    vib.fit(net, images[train], digits[train], lam=lam, epochs=EPOCHS,
            seed=SEED)
    scores = vib.evaluate(net, images[test], digits[test], seed=SEED)
    with torch.no_grad():
        codes[lam] = net.encode(images[test])
    sigma = torch.exp(0.5 * codes[lam][1]).mean().item()
    spread = codes[lam][0].std(0).mean()
    table.append(f"{lam:5g} {100 * scores['accuracy']:8.1f}% "
                 f"{scores['rate']:12.1f} {spread:20.2f} {sigma:7.3f}")
print(f"{'λ':>5s} {'accuracy':>9s} {'rate (nats)':>12s} "
      f"{'spread of the means':>20s} {'mean σ':>7s}")
print("\n".join(table))

# %% mystnb={"figure": {"caption": "Mean two-dimensional codes of the test digits, coloured by digit, for $\\lambda = 0$, $0.01$ and $0.1$; dotted circles mark radii 1, 2 and 3 of the prior. Compare the scale of the axes: the bottleneck packs the classes into the prior's few units.", "name": "fig-vib-codes-2d"}, "image": {"alt": "Three scatter plots side by side, one per value of lambda (0, 0.01 and 0.1), of the test digits' mean codes in the plane, each digit class in its own colour with a legend of the digits 0 to 9, and dotted circles of radius 1, 2 and 3 around the origin."}} tags=["hide-input"]
fig, axes = figure(1, 3, width=8.4, height=3.0)
t = np.linspace(0, 2 * np.pi, 200)
for ax, (lam, (m, _)) in zip(axes, codes.items()):
    for c in range(10):
        ax.scatter(m[digits[test] == c, 0], m[digits[test] == c, 1], s=4,
                   color=DIGIT_COLORS[c], label=str(c))
    for radius in (1, 2, 3):
        ax.plot(radius * np.cos(t), radius * np.sin(t), color="black",
                lw=0.6, ls=":")
    ax.set(title=f"λ = {lam:g}", aspect="equal", xlabel="$z_1$")
axes[0].set_ylabel("$z_2$")
axes[-1].legend(fontsize=7, markerscale=2.5, loc="center left",
                bbox_to_anchor=(1.0, 0.5))
fig

# %% [markdown]
# Without the bottleneck the classes are well separated but the code lives on a scale of tens,
# with a noise of a few thousandths: the noise is there, but the network has learnt to make it
# irrelevant. With $\lambda = 0.1$ the same classes are packed into the prior's few units, each
# digit's code keeps a noise of about half a unit, and only the directions that tell digits apart
# survive: the code has forgotten the rest. (Two dimensions are few, and the accuracies printed
# above show the price: in the full run, at the time of writing, $\lambda = 0.01$ was the most
# accurate of the three and $\lambda = 0.1$ slightly below $\lambda = 0$.)
#
# Su also points to a follow-up, the *variational discriminator bottleneck* of Peng et al. (ICLR
# 2019), which puts the same bottleneck into a GAN's discriminator (and into imitation and
# reinforcement learning), with $\lambda$ adapted during training to hold the rate at a chosen
# budget: the hinge form {eq}`eq-ib-hinge` in spirit. This chapter does not reproduce it.
#
# ## A VAE is a VIB whose label is its input
#
# Setting $y = x$ in {eq}`eq-vib` with $\lambda = 1$ gives back {eq}`eq-vae-loss`. The code is
# the same: `DigitVAE` is a `VIBNet` whose head outputs 64 pixel logits, and `vib.fit` without
# labels trains it on `vib_loss(output, images, mu, logvar, lam=1)`, with a Bernoulli likelihood
# for the pixels. We give it a 16-dimensional code.

# %%
torch.manual_seed(SEED)
vae = vib.DigitVAE(latent=16, hidden=256)
history = vib.fit(vae, images[train], lam=1.0, epochs=2 * EPOCHS,
                  seed=SEED)
scores = vib.evaluate(vae, images[test], seed=SEED)
with torch.no_grad():
    mu_test, logvar_test = vae.encode(images[test])
per_dim = vib.kl_std_normal(mu_test, logvar_test,
                            reduction="none").mean(0)
active = per_dim > 0.05
print(f"test: reconstruction {scores['task_sampled']:.2f} nats per image, "
      f"rate {scores['rate']:.2f} nats")
print("rate per code component (nats):")
for row in per_dim.reshape(2, 8).tolist():
    print("   ", " ".join(f"{v:5.2f}" for v in row))
print(f"{int(active.sum())} of 16 components carry information;")
print("the others equal the prior for every digit")

# %% [markdown]
# The VAE, too, forgets: of sixteen code components, most are switched off (their KL is zero, so
# they are the prior whatever the input), and a handful carry the few nats that a digit needs.
# (The reconstruction loss counts the grey levels of the 8×8 images as Bernoulli probabilities,
# so it cannot reach zero.) Reconstructions of test digits, and new digits decoded from codes
# drawn from the prior:

# %% mystnb={"figure": {"caption": "The digits VAE: ten test digits (top row), their reconstructions from the mean code (middle row), and ten new digits decoded from codes drawn from the prior $\\mathcal N(0, I)$ (bottom row).", "name": "fig-vib-vae-digits"}, "image": {"alt": "A grid of small grey 8 by 8 pixel images in three rows of ten: handwritten test digits, their reconstructions by the VAE below each one, and a row of digit-like images decoded from random codes."}} tags=["hide-input"]
g = torch.Generator().manual_seed(SEED)
fig, axes = figure(3, 10, width=8.4, height=2.8)
recon = vae.decode(mu_test[:10])
samples = vae.decode(torch.randn(10, 16, generator=g))
for col in range(10):
    rows = ((images[test][col], "test digit"), (recon[col], "reconstructed"),
            (samples[col], "from the prior"))
    for row, (image, name) in enumerate(rows):
        ax = axes[row, col]
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        if col == 0:
            ax.set_ylabel(name, fontsize=7)
fig

# %% [markdown]
# ## Why the normal distribution
#
# Why should the prior be $\mathcal N(0, I)$? Su gives two reasons.
#
# **Independence.** The components of a standard normal are independent:
# $q(z_1, \dots, z_D) = \prod_d q(z_d)$. Pulling the codes towards it pulls them towards
# decoupled, separately interpretable features, which is what Schmidhuber's *predictability
# minimisation* (1992) sought by other means, and what makes a simple model downstream (a naive
# Bayes classifier, say) exact rather than approximate. For the VAE above, the codes' overall
# distribution, the mixture of every test digit's Gaussian, should then have mean near 0 and
# covariance near $I$. Its moments are $\mathbb E[z] = \overline{\mu}$ and
# $\mathbb E[zz^\top] = \overline{\mu\mu^\top} + \operatorname{diag}\overline{\sigma^2}$:

# %%
mean = mu_test.mean(0)
cov = ((mu_test.T @ mu_test) / len(mu_test)
       + torch.diag(logvar_test.exp().mean(0)) - torch.outer(mean, mean))
off = cov - torch.diag(cov.diag())
print(f"mean: largest |component| {mean.abs().max():.3f}")
print(f"covariance: diagonal from {cov.diag().min():.3f} "
      f"to {cov.diag().max():.3f}, "
      f"largest off-diagonal entry {off.abs().max():.3f}")
m2d = codes[0.0][0]
print("for comparison, the 2-D code trained with λ = 0:")
print(f"variances {m2d.var(0)[0]:.0f} and {m2d.var(0)[1]:.0f}, "
      f"correlation {torch.corrcoef(m2d.T)[0, 1]:.2f}")

# %% [markdown]
# **Closure under sums.** If $z_1 \sim \mathcal N(\mu_1, \sigma_1^2)$ and
# $z_2 \sim \mathcal N(\mu_2, \sigma_2^2)$ are independent, then
# $z_1 + z_2 \sim \mathcal N(\mu_1 + \mu_2, \sigma_1^2 + \sigma_2^2)$; for two standard normals,
#
# $$
# \alpha z_1 + \beta z_2 \sim \mathcal N(0, \alpha^2 + \beta^2) .
# $$ (eq-sum-normal)
#
# So a straight line between two codes, $z_\alpha = (1 - \alpha) z_1 + \alpha z_2$, stays in "the
# normal world", and every point on it can be decoded; Su illustrates this with Glow's smooth
# interpolations between faces, and notes that for supervised models trained with VIB it means
# the points between training codes are covered too, extra training samples for free. But
# the variance is $(1-\alpha)^2 + \alpha^2$, only $\frac12$ at the midpoint. Better to keep
# $\alpha^2 + \beta^2 = 1$, which is the spherical path
#
# $$
# z_\theta = z_1 \cos\theta + z_2 \sin\theta, \qquad \theta \in [0, \tfrac\pi2] .
# $$ (eq-slerp)
#
# The cell checks both claims on samples: the largest distance between the sample's CDF and the
# claimed normal CDF (the Kolmogorov-Smirnov statistic) must stay below its 1% critical value,
# about $1.63/\sqrt n$, and the same statistic against the *unit* normal shows that the test can
# tell the difference.

# %%
g = torch.Generator().manual_seed(SEED)
z1, z2 = torch.randn(2, N_MC, generator=g, dtype=torch.float64)
critical = 1.63 / math.sqrt(N_MC)
print(f"1% critical value of the KS distance for n = {N_MC:,}: "
      f"{critical:.4f}")
print(f"{'α z1 + β z2':>19s} {'variance':>9s} {'α²+β²':>7s} "
      f"{'KS to N(0, α²+β²)':>18s} {'KS to N(0, 1)':>14s}")
for a, b in ((1.0, 1.0), (0.5, 0.5), (0.3, 1.7),
             (math.cos(0.6), math.sin(0.6))):
    combo = (a * z1 + b * z2).numpy()
    claimed_normal = stats.norm(0, math.sqrt(a * a + b * b))
    claimed = stats.kstest(combo, claimed_normal.cdf).statistic
    unit = stats.kstest(combo, "norm").statistic
    assert claimed < critical
    print(f"{a:.3f} z1 + {b:.3f} z2 {combo.var():9.4f} {a * a + b * b:7.4f} "
          f"{claimed:18.4f} {unit:14.4f}")
for alpha in (0.25, 0.5):
    lin, sph = vib.lerp(z1, z2, alpha), vib.slerp_normal(z1, z2, alpha)
    theory = (1 - alpha) ** 2 + alpha ** 2
    print(f"α = {alpha}: linear path variance {lin.var():.4f} "
          f"(theory {theory:.4f}), spherical {sph.var():.4f}")

# %% [markdown]
# Why does a variance of $\frac12$ matter? In $D$ dimensions the squared length of a standard
# normal code is a $\chi^2_D$ variable, with mean $D$ and standard deviation $\sqrt{2D}$: for
# large $D$ practically every code lies in a thin shell of radius about $\sqrt D$, and the region
# near the origin, although it has the highest density, holds almost no probability. The linear
# midpoint has squared length about $D/2$, so it sits *inside* the shell, in a region the prior
# almost never produces and the decoder was rarely trained on; the spherical path stays on the
# shell. Slide the dimension:

# %% mystnb={"figure": {"caption": "Straight against spherical paths between pairs of independent $d$-dimensional standard normal codes. Left, the length $\\|z_\\alpha\\|/\\sqrt d$ along each path against the band of typical lengths; right, the components of the midpoints against $\\mathcal N(0, 1)$: the straight path's midpoints have variance $\\frac12$.", "name": "fig-vib-interpolation"}} tags=["hide-input"]
demo(vib.plot_interpolation,
     d=Choice([2, 8, 32, 128, 512], value=32, label="dimension d"))

# %%
g = torch.Generator().manual_seed(SEED)
table = [f"{'d':>5s} {'typical ||z||':>15s}   "
         "share with a norm in the prior's central 99%",
         f"{'':>5s} {'':>15s}   "
         f"{'prior draws':>12s} {'linear':>8s} {'spherical':>10s}"]
for d in (2, 8, 32, 128, 512):
    z1, z2 = torch.randn(2, 10_000, d, generator=g, dtype=torch.float64)
    lo, hi = stats.chi(d).ppf([0.005, 0.995])

    def inside(z):
        norm = z.norm(dim=-1)
        return ((norm >= lo) & (norm <= hi)).double().mean().item()

    table.append(f"{d:5d} {lo:6.2f} to {hi:6.2f}   {inside(z1):12.3f} "
                 f"{inside(vib.lerp(z1, z2, 0.5)):8.3f} "
                 f"{inside(vib.slerp_normal(z1, z2, 0.5)):10.3f}")
print("\n".join(table))

# %% [markdown]
# At 32 dimensions half of the linear midpoints already have a length the prior would hardly
# produce, and from 128 on practically all of them. Our VAE's code is small and mostly switched
# off, so the effect on its images is mild, but it is measurable. {numref}`fig-vib-paths` shows
# decoded paths between two codes drawn from the prior (top pair of rows) and between the codes
# of two test digits (bottom pair): the linear path (first row of each pair) passes through
# codes shorter than any the decoder was trained on. Over many pairs,
# measure how undecided the decoded pixels are, by their mean Bernoulli entropy: midpoints of
# spherical paths look like decoded prior draws, midpoints of straight lines are blurrier.

# %% mystnb={"figure": {"caption": "Decoded paths of nine steps between two codes drawn from the prior (top two rows) and between the codes of two test digits (bottom two rows), along the straight line and along the spherical path. Look at the middle columns of the linear rows.", "name": "fig-vib-paths"}, "image": {"alt": "A grid of small grey 8 by 8 pixel images in four rows of nine. Rows one and three decode straight-line paths and rows two and four spherical paths, the first pair between two random codes and the second pair between two test digits; each row goes from the image decoded at one end of its path to the image decoded at the other."}} tags=["hide-input"]
g = torch.Generator().manual_seed(SEED + 1)
a = torch.linspace(0, 1, 9)[:, None]
ends = [torch.randn(2, 16, generator=g), mu_test[[0, 1]]]
paths = (("linear", vib.lerp), ("spherical", vib.slerp_normal))
fig, axes = figure(4, 9, width=8.4, height=4.0)
for block, (za, zb) in enumerate(ends):
    source = "prior" if block == 0 else "digits"
    for row, (name, path) in enumerate(paths):
        decoded = vae.decode(path(za, zb, a))
        for col in range(9):
            ax = axes[2 * block + row, col]
            ax.imshow(decoded[col], cmap="gray_r", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
            if col == 0:
                ax.set_ylabel(f"{name}\n({source})", fontsize=7)
fig

# %%
def pixel_entropy(p):
    """Mean binary entropy of each decoded image's pixels, in nats:
    0 is crisp, log 2 is grey."""
    p = p.clamp(1e-6, 1 - 1e-6)
    return -(p * p.log() + (1 - p) * (1 - p).log()).flatten(1).mean(1)


g = torch.Generator().manual_seed(SEED + 2)
z1, z2 = torch.randn(2, 5_000, 16, generator=g)
candidates = {"prior draws": z1,
              "linear midpoints": vib.lerp(z1, z2, 0.5),
              "spherical midpoints": vib.slerp_normal(z1, z2, 0.5),
              "the origin": torch.zeros(1, 16)}
for name, codes_ in candidates.items():
    e = pixel_entropy(vae.decode(codes_))
    spread = ""
    if len(e) > 1:
        spread = f" ± {e.std().item() / math.sqrt(len(e)):.4f}"
    print(f"{name:20s} pixel entropy {e.mean().item():.4f}{spread}")

# %% [markdown]
# ### And a uniform prior?
#
# Su remarks that a uniform prior on a box would also "work" for interpolation, for a reason
# that is less elegant: a straight line between two points of a box stays in the box (the box is
# convex), but the average of two uniform variables is not uniform. Its density is a triangle,
# piled up in the middle of the box, so once again the midpoints are not typical draws of the
# prior. The spherical weights do not help either: they keep the variance but push some points
# out of the box. Only the normal distribution is preserved by both kinds of combination. Choose
# the prior, the path and the position on it:

# %% mystnb={"figure": {"caption": "Combinations of two draws of a normal or a uniform prior, on a straight or a spherical path, at position $\\alpha$. Left, the points $z_\\alpha$ in the plane (with the uniform prior's box); right, the histogram of one component against the prior's density.", "name": "fig-vib-priors"}} tags=["hide-input"]
demo(vib.plot_priors,
     prior=Choice(["normal", "uniform"], value="uniform", label="prior"),
     path=Choice(["linear", "spherical"], value="linear", label="path"),
     alpha=Range(0, 1, step=0.25, value=0.5, label="α"))

# %%
g = torch.Generator().manual_seed(SEED)
r3 = math.sqrt(3)  # uniform on [-√3, √3] has variance 1
u = torch.rand(2, N_MC, generator=g, dtype=torch.float64)
u1, u2 = (u * 2 - 1) * r3
mid = vib.lerp(u1, u2, 0.5).numpy()
triangle_cdf = stats.triang(0.5, loc=-r3, scale=2 * r3).cdf
triangle = stats.kstest(mid, triangle_cdf).statistic
uniform = stats.kstest(mid, stats.uniform(-r3, 2 * r3).cdf).statistic
assert triangle < critical < uniform
print("mean of two uniforms, KS distance")
print(f"  to the triangle on [-√3, √3]: {triangle:.4f}")
print(f"  to the uniform prior itself:  {uniform:.4f}")
print(f"  (1% critical value {critical:.4f})")
out = (vib.slerp_normal(u1, u2, 0.5).abs() > r3).double().mean().item()
print(f"spherical midpoints of uniforms outside the box: {out:.1%}")

# %% [markdown]
# ## Forgetting
#
# What joins the three threads, in Su's telling, is forgetting. The bottleneck makes a network
# throw away what the task does not need, and what is thrown away cannot be overfitted. He gives
# analogies: a bank teller spots counterfeit notes without being able to draw a real one; deep
# networks notoriously forget old tasks when trained on new ones; an LSTM variant that keeps
# only the forget gate still works well; and Zhang Wuji, in Jin Yong's novel, who masters the
# Taiji sword by forgetting every one of its moves. Su also adds a caution: VIB is a regulariser,
# not a free lunch, and a network that already discards irrelevant information layer by layer
# gains little from it. And, as our sweep shows, too strong a bottleneck, $\lambda \ge 1$ by
# {eq}`eq-give-up`, forgets everything.
#
# ## Summary
#
# - A VAE {eq}`eq-vae-joint`, {eq}`eq-vae-loss` is an auto-encoder with two changes: a sampled
#   Gaussian code (reparameterised) and a KL penalty {eq}`eq-kl-gauss` towards $\mathcal N(0, I)$.
# - The information bottleneck {eq}`eq-ib` penalises the information $I(X;Z)$ {eq}`eq-mi` that
#   the code keeps. The encoder's KL to any $q(z)$, averaged over inputs, bounds it from above
#   {eq}`eq-mi-bound`, with a gap equal to the KL of the codes' marginal from $q$; in the
#   linear-Gaussian example {eq}`eq-linear-gauss` all three are exact.
# - VIB {eq}`eq-vib` is that bound used as a regulariser; it has the VAE's form, with the label in
#   place of the input. On digits a small $\lambda$ cut the rate from hundreds of nats to tens or
#   a few and improved test accuracy; $\lambda > 1$ makes an empty code optimal {eq}`eq-give-up`.
# - The standard normal prior gives independent components and closure under sums
#   {eq}`eq-sum-normal`; straight paths between codes shrink their variance to as little as
#   $\frac12$ and leave the typical shell in high dimensions, spherical paths {eq}`eq-slerp` keep
#   it. A uniform prior is kept by neither.
#
# ## References
#
# - Su Jianlin (2018).
#   [从变分编码、信息瓶颈到正态分布:论遗忘的重要性](https://kexue.fm/archives/6181) ("From
#   variational encoding and the information bottleneck to the normal distribution: on the
#   importance of forgetting"). kexue.fm, 27 November 2018. His VIB script:
#   [github.com/bojone/vib](https://github.com/bojone/vib).
# - Kingma, D. P. & Welling, M. (2014). "Auto-Encoding Variational Bayes". *ICLR 2014*.
#   [arXiv:1312.6114](https://arxiv.org/abs/1312.6114).
# - Tishby, N., Pereira, F. C. & Bialek, W. (1999). "The information bottleneck method".
#   *Proceedings of the 37th Annual Allerton Conference on Communication, Control and
#   Computing*. [arXiv:physics/0004057](https://arxiv.org/abs/physics/0004057).
# - Alemi, A. A., Fischer, I., Dillon, J. V. & Murphy, K. (2017). "Deep Variational Information
#   Bottleneck". *ICLR 2017*. [arXiv:1612.00410](https://arxiv.org/abs/1612.00410).
# - Pereyra, G., Tucker, G., Chorowski, J., Kaiser, Ł. & Hinton, G. (2017). "Regularizing Neural
#   Networks by Penalizing Confident Output Distributions". *ICLR 2017 workshop*.
#   [arXiv:1701.06548](https://arxiv.org/abs/1701.06548).
# - Peng, X. B., Kanazawa, A., Toyer, S., Abbeel, P. & Levine, S. (2019). "Variational
#   Discriminator Bottleneck: Improving Imitation Learning, Inverse RL, and GANs by Constraining
#   Information Flow". *ICLR 2019*. [arXiv:1810.00821](https://arxiv.org/abs/1810.00821).
# - Schmidhuber, J. (1992). "Learning Factorial Codes by Predictability Minimization". *Neural
#   Computation* 4(6), 863–879.
#   [doi:10.1162/neco.1992.4.6.863](https://doi.org/10.1162/neco.1992.4.6.863).
# - Kingma, D. P. & Dhariwal, P. (2018). "Glow: Generative Flow with Invertible 1×1
#   Convolutions". *NeurIPS 2018*. [arXiv:1807.03039](https://arxiv.org/abs/1807.03039).
#
# ## Exercises
#
# 1. Derive {eq}`eq-kl-gauss` for one dimension from the definition
#    $KL(q\,\|\,p) = \mathbb E_q[\log q(z) - \log p(z)]$.
#
# :::{admonition} Solution
# :class: dropdown
#
# With $q = \mathcal N(\mu, \sigma^2)$ and $p = \mathcal N(0, 1)$,
# $\log q(z) - \log p(z) = -\log\sigma - \frac{(z-\mu)^2}{2\sigma^2} + \frac{z^2}{2}$. Under $q$,
# $\mathbb E(z-\mu)^2 = \sigma^2$ and $\mathbb E z^2 = \mu^2 + \sigma^2$, so the KL is
# $-\frac12\log\sigma^2 - \frac12 + \frac12(\mu^2 + \sigma^2)$, which is {eq}`eq-kl-gauss` for one
# component. Independent components add.
# :::
#
# 2. In the linear-Gaussian example, fix $w$ and find the noise $s$ that minimises the rate. Show
#    that the gap is then $\frac12\big(w^2 - \log(1 + w^2)\big)$, and check it with
#    `vib.linear_gaussian`.
#
# :::{admonition} Solution
# :class: dropdown
#
# The rate $\frac12(w^2 + s^2 - \log s^2 - 1)$ has derivative $\frac12(1 - 1/s^2)$ in $s^2$, so
# it is smallest at $s = 1$, where it equals $w^2/2$. The information is then
# $\frac12\log(1 + w^2)$ and the gap their difference. Minimising the bound does not minimise
# the information (which keeps falling as $s$ grows); it makes the encoder's noise match the
# prior's.
#
# ```python
# w = torch.tensor([0.5, 1.0, 2.0])
# # zeros:
# print(vib.linear_gaussian(w, 1.0).gap - 0.5 * (w**2 - torch.log1p(w**2)))
# ```
# :::
#
# 3. Su's layer predicts from the mean code. Alemi et al. instead average the softmax over 12
#    sampled codes. Compare the two on the $\lambda = 0.1$ and $\lambda = 0.5$ networks of the
#    sweep.
#
# :::{admonition} Solution
# :class: dropdown
#
# ```python
# def accuracy(scores):
#     return (scores.argmax(1) == digits[test]).double().mean().item()
#
#
# for lam in (0.1, 0.5):
#     torch.manual_seed(0)
#     net = vib.VIBNet(n_in=64, latent=16, n_out=10, hidden=128)
#     vib.fit(net, images[train], digits[train], lam=lam, epochs=EPOCHS,
#             seed=0)
#     with torch.no_grad():
#         mu, logvar = net.encode(images[test])
#         z = vib.reparameterize(mu.expand(12, *mu.shape),
#                                logvar.expand(12, *mu.shape),
#                                generator=torch.Generator().manual_seed(0))
#         averaged = torch.softmax(net.decoder(z), -1).mean(0)
#         print(f"λ = {lam}: mean code {accuracy(net.decoder(mu)):.3f}, "
#               f"12 samples averaged {accuracy(averaged):.3f}, "
#               f"one sample {accuracy(net.decoder(z[0])):.3f}")
# ```
#
# Averaging recovers almost everything a single sample loses and ends within about half a point
# of the mean code (in our run: 98.2% against 98.0% at $\lambda = 0.1$, 97.0% against 97.5% at
# $\lambda = 0.5$, where one sample alone gets 61%). With a strong bottleneck the mean can stay
# ahead: averaging the probabilities of noisy codes still blurs classes that the means keep apart.
# :::
