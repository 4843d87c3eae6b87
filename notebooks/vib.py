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
#   and a spherical path between codes that stays typical where the straight line does not;
#   and what it does not promise: independence given the class, or interpretable axes;
# - how to read a small experiment honestly: seeds, error bars, and a penalty weight chosen on
#   validation data, never on the test set.
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
from companion import style
from companion.progress import tqdm
from companion.style import COLORS, figure
from companion.widgets import Choice, Range, demo

# The chapter's own figures in the book's style (the plot_* functions
# apply it themselves, without changing matplotlib's global settings).
style.use()

SEED = 0
# The networks here are tiny MLPs: one thread is the fastest, and two
# threads that spin-wait for each other on a busy machine can be ten
# times slower.
torch.set_num_threads(1)
N_TRAIN = companion.budget(full=1400, smoke=400)  # of sklearn's 1,797 digits
N_VAL = companion.budget(full=300, smoke=100)  # of them held out to pick λ
EPOCHS = companion.budget(full=60, smoke=20)
N_SEEDS = companion.budget(full=3, smoke=2)  # training runs per λ
LAMS = companion.budget(full=[0, 1e-4, 1e-3, 1e-2, 1e-1, 0.5, 1, 2],
                        smoke=[0, 1e-2, 2])
N_MC = companion.budget(full=200_000, smoke=20_000)  # Monte-Carlo samples
DIGIT_COLORS = COLORS + ["#999999", "#882255"]  # ten classes
torch.manual_seed(SEED)
print(f"{N_SEEDS} seeds x {len(LAMS)} values of λ, {EPOCHS} epochs "
      f"on {N_TRAIN - N_VAL} training digits")

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
# per-sample gradients, for the standard errors: dz/dmu = 1 and
# dz/dlogvar = (z - mu)/2, so d(z²) is 2z and z(z - mu)
zd = z.detach().flatten()
per_mu, per_lv = 2 * zd, zd * (zd - 0.7)
for name, got, per, want in (("mu", m.grad.item(), per_mu, 1.4),
                             ("logvar", lv.grad.item(), per_lv,
                              math.exp(-0.4))):
    err = per.std().item() / math.sqrt(N_MC)
    print(f"d E[z²]/d {name:6s}: Monte Carlo {got:.4f} ± {err:.4f}, "
          f"exact {want:.4f}")
    assert abs(got - want) < 3 * err

# %% [markdown]
# ## The information bottleneck
#
# Su's second topic had a moment of fame the year before he wrote. Tishby, Pereira and Bialek
# proposed the information bottleneck in 1999; in a 2017 talk in Berlin, Tishby argued that deep
# networks learn in two phases, first fitting the labels and then *compressing*, discarding
# what they know about the input, and that this compression is why they generalise. Quanta
# Magazine covered the talk (Wolchover, 2017) and reported an email from Hinton calling it a
# rare original idea that might answer a major puzzle. The claim was soon disputed: Saxe et
# al. (ICLR 2018) found that the compression phase appears with saturating tanh units and not
# with ReLUs, and that it comes from how the information was *measured*. For a deterministic
# network and a continuous input, $I(X;T)$ of a layer $T$ is infinite, or, with a finite
# sample, simply the entropy of $T$; the plotted "information" was the entropy of the layer's
# values after sorting them into bins. The cell estimates it that way for one tanh unit
# $T = \tanh(a x)$ on 10,000 standard-normal inputs:

# %%
g = np.random.default_rng(SEED)
x_in = g.standard_normal(10_000)
print(f"binned 'I(X;T)' of T = tanh(a x), in nats "
      f"(log of the sample size: {math.log(len(x_in)):.2f})")
print(f"{'bins':>6s}" + "".join(f"{f'a = {a:g}':>10s}" for a in (1, 5, 50)))
binned = {}
for n_bins in (10, 100, 1000, 10_000):
    edges = np.linspace(-1, 1, n_bins + 1)
    row = []
    for a in (1, 5, 50):
        counts = np.histogram(np.tanh(a * x_in), bins=edges)[0]
        row.append(stats.entropy(counts))  # H(T) = I(X;T): T is a copy of X
    binned[n_bins] = row
    print(f"{n_bins:6d}" + "".join(f"{v:10.3f}" for v in row))
for a_index in range(3):  # finer bins, more "information", at every gain
    column = [binned[n][a_index] for n in binned]
    assert all(np.diff(column) > 0)
for n_bins in binned:  # a larger gain saturates the unit: fewer bins used
    assert binned[n_bins][0] > binned[n_bins][2]

# %% [markdown]
# The same deterministic unit "carries" more information the finer we bin it, up to the log of
# the sample size, and "less" when a larger gain pushes its values into the flat ends of tanh,
# although it is an invertible function of $x$ at every gain and so keeps, in truth,
# everything. That is the critique in one table. The bottleneck below avoids the problem by
# construction: its code is *noisy*, $z \sim p(z\mid x)$, so $I(X;Z)$ is finite and its bound,
# the rate, is a number the network controls.
#
# Why should keeping less help? Su ties it to the minimum-entropy idea of his earlier posts: a
# representation that stores fewer nats about the input has less room to memorise the accidents
# of the training sample, so what it keeps is more likely to be what the task needs. The digits
# experiment below measures this directly, as the gap between accuracy on the digits a network
# was trained on and on digits it has not seen, against the rate of its code.
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
# The hinge leaves every input whose code carries less than $\beta$ nats alone, and since
# $\max(r - \beta, 0) \ge r - \beta$ and $\ge 0$, its average is never below
# $\max(I(X;Z) - \beta, 0)$ (Jensen's inequality for the convex hinge); at $\beta = 0$ it
# already exceeds $I(X;Z)$, because the pointwise information $r$ can be negative and the hinge
# drops those terms. Both penalties can be computed where the marginal $p(z)$ is known, as in
# the linear-Gaussian model $z = x + \frac12\varepsilon$ that the next section works out:

# %%
g = torch.Generator().manual_seed(SEED)
x = torch.randn(N_MC, generator=g, dtype=torch.float64)
z = x + 0.5 * torch.randn(N_MC, generator=g, dtype=torch.float64)
r = Normal(x, 0.5).log_prob(z) - Normal(0.0, math.sqrt(1.25)).log_prob(z)
se = lambda t: t.std().item() / math.sqrt(len(t))
info = r.mean().item()
print(f"I(X;Z) = {info:.4f} ± {se(r):.4f} nats "
      f"(closed form {0.5 * math.log(5):.4f})")
print(f"pointwise information < 0 for {(r < 0).double().mean():.1%} "
      "of the pairs")
print(f"{'budget β':>9s} {'hinge penalty':>17s} {'share penalised':>16s} "
      f"{'max(I - β, 0)':>14s}")
for beta in (0.0, 0.5, 1.0, 2.0, 3.0):
    hinge = (r - beta).clamp(min=0)
    print(f"{beta:9.1f} {hinge.mean():8.4f} ± {se(hinge):.4f} "
          f"{(r > beta).double().mean():16.1%} {max(info - beta, 0):14.4f}")
    assert hinge.mean() >= max(info - beta, 0)  # exact for sample means

# %% [markdown]
# Neither can be computed in general: the marginal $p(z)$ in {eq}`eq-mi` integrates the encoder over the
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
# $s$ grows. The rate tracks it closely while $w^2 + s^2$ is near 1, and the gap is zero on that
# circle: the stops include three points on it, $(w, s) = (0, 1)$, $(0.6, 0.8)$ and
# $(0.8, 0.6)$. When the code's overall spread is far from 1, in either direction, the bound is
# loose.

# %% mystnb={"figure": {"caption": "The exact linear-Gaussian example. Left, $I(X;Z)$, the rate and their gap against the noise $s$ at gain $w$; right, the code's marginal $p(z) = \\mathcal N(0, w^2 + s^2)$ against the prior. The gap vanishes where $w^2 + s^2 = 1$.", "name": "fig-vib-linear-gauss"}} tags=["hide-input"]
demo(vib.plot_linear_gaussian,
     w=Choice([0.0, 0.6, 0.8, 1.0, 2.0], value=1.0, label="gain w"),
     s=Choice([0.125, 0.25, 0.5, 0.6, 0.8, 1.0, 2.0], value=0.5,
              label="noise s"))

# %%
on_circle = vib.linear_gaussian(torch.tensor([0.0, 0.6, 0.8]),
                                torch.tensor([1.0, 0.8, 0.6]))
print("gap at the stops on the circle w² + s² = 1:",
      ", ".join(f"{v:.0e}" for v in on_circle.gap.tolist()))
assert on_circle.gap.abs().max() < 1e-12

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
# 1.40%, label smoothing, 1.23%, and the confidence penalty, 1.17%. Alemi et al.'s baseline is
# a deterministic network; ours at $\lambda = 0$ below still has a sampled code, whose noise it
# learns to shrink.) Neither result is rerun here: IMDB and MNIST need downloads and longer
# training. Instead we train the same kind of model, an MLP encoder to a 16-dimensional
# Gaussian code and a linear softmax head, on scikit-learn's 1,797 digits, for $\lambda$ from 0
# to 2, several seeds each. A quarter of the training digits is held out as a **validation**
# set: $\lambda$ is chosen on it, and the test digits are touched only to report. We measure:
#
# - the **rate**, the test average of the KL term, an upper bound on $I(X;Z)$ in nats;
# - the entropy of the test labels, $H(Y) \approx \log 10$, minus the test cross-entropy of
#   *sampled* codes: a lower bound on $I(Z;Y)$ (Alemi et al.'s);
# - accuracy with the **mean** code, as Su's layer predicts, and with a **sampled** code;
# - the validation accuracy after every epoch, for Su's claim that VIB converges faster.

# %%
images, digits = data.load_digits()
train_all, test = data.split_indices(len(images), N_TRAIN, seed=SEED)
fit_part, val_part = data.split_indices(N_TRAIN, N_TRAIN - N_VAL, seed=SEED)
train, val = train_all[fit_part], train_all[val_part]
h_y = stats.entropy(torch.bincount(digits[test]).numpy())
sweep = {lam: [] for lam in LAMS}
classifiers = {}  # the seed-0 network of each λ, used again below
for lam in tqdm(LAMS, desc="λ sweep"):
    for seed in range(N_SEEDS):
        torch.manual_seed(seed)
        net = vib.VIBNet(n_in=64, latent=16, n_out=10, hidden=128)
        history = vib.fit(net, images[train], digits[train], lam=lam,
                          epochs=EPOCHS, seed=seed,
                          monitor=(images[val], digits[val]))
        run = vib.evaluate(net, images[test], digits[test], seed=seed)
        run["validation"] = history["monitor_accuracy"][-1]
        run["curve"] = history["monitor_accuracy"]
        run["train"] = vib.evaluate(net, images[train], digits[train],
                                    n_samples=1)["accuracy"]
        sweep[lam].append(run)
        if seed == 0:
            classifiers[lam] = net


def mean_se(values):
    """Mean over seeds and its standard error."""
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std(ddof=1) / math.sqrt(len(values))


summary = {lam: {key: mean_se([run[key] for run in runs])
                 for key in runs[0] if key != "curve"}
           for lam, runs in sweep.items()}
print(f"{len(train)} training, {len(val)} validation and {len(test)} test "
      f"digits; mean ± s.e. over {N_SEEDS} seeds")
print(f"{'':>6s} {'accuracy (%)':^49s} {'train -':>8s}")
print(f"{'λ':>6s} {'validation':>11s} {'test, mean z':>13s} "
      f"{'test, sampled z':>15s} {'':>7s} {'valid.':>8s}")
for lam, r in summary.items():
    gap = 100 * (r["train"][0] - r["validation"][0])
    print(f"{lam:6g} {100 * r['validation'][0]:11.1f} "
          f"{100 * r['accuracy'][0]:7.1f} ± {100 * r['accuracy'][1]:3.1f} "
          f"{100 * r['accuracy_sampled'][0]:9.1f} ± "
          f"{100 * r['accuracy_sampled'][1]:3.1f} {'':>7s} {gap:8.1f}")
print(f"\n{'λ':>6s} {'rate (nats)':>17s} {'I(Z;Y) >= (nats)':>19s}")
for lam, r in summary.items():
    print(f"{lam:6g} {r['rate'][0]:9.2f} ± {r['rate'][1]:5.2f} "
          f"{h_y - r['task_sampled'][0]:11.2f} ± {r['task_sampled'][1]:5.2f}")
rates = [summary[lam]["rate"][0] for lam in LAMS]
assert all(np.diff(rates) < 0)  # each step up in λ cuts the rate
i_zy = [h_y - summary[lam]["task_sampled"][0] for lam in LAMS]
assert i_zy[1] / i_zy[0] > rates[1] / rates[0]  # I(Z;Y) falls far less

# %% [markdown]
# Is the bottleneck worth having on these digits? Choose $\lambda$ by validation accuracy, then
# compare it with $\lambda = 0$ on the test digits. Two kinds of error matter. The spread over
# seeds says how much the training run matters (the same seed gives the two networks the same
# initial weights and batches). The test set is a sample too: one accuracy near 97% on a few
# hundred digits has a binomial standard error near one point. For a *difference* on the same
# test digits the right error is the paired one, from the per-digit differences in
# correctness, here for the seed-0 networks. The cell prints all three, and its verdict: is the
# gain larger than twice the larger error?

# %%
chosen = max(LAMS, key=lambda lam: summary[lam]["validation"][0])
paired = [b["accuracy"] - a["accuracy"]
          for a, b in zip(sweep[0], sweep[chosen])]
diff, diff_se = mean_se(paired)
p0 = summary[0]["accuracy"][0]
binomial = math.sqrt(p0 * (1 - p0) / len(test))
print(f"λ chosen on the validation digits: {chosen:g}")
print(f"test accuracy, λ = {chosen:g} minus λ = 0: {100 * diff:+.1f} ± "
      f"{100 * diff_se:.1f} points over {N_SEEDS} seeds")
print(f"binomial standard error of one test accuracy near {100 * p0:.0f}%:"
      f"\n  {100 * binomial:.1f} points ({len(test)} test digits)")


def correct(model):
    """1 for each test digit the mean code classifies right, else 0."""
    with torch.no_grad():
        scores = model.decoder(model.encode(images[test])[0])
    return (scores.argmax(1) == digits[test]).double()


per_digit = correct(classifiers[chosen]) - correct(classifiers[0])
paired_se = se(per_digit)
print(f"seed 0, paired over the test digits: {100 * per_digit.mean():+.1f} "
      f"± {100 * paired_se:.1f} points")
d0 = per_digit.mean().item()
clear = (abs(diff) > 2 * diff_se and abs(d0) > 2 * paired_se
         and diff * d0 > 0)
print("verdict: the difference is", "larger than" if clear else "within",
      "twice its errors\n(over seeds and over digits)")
alemi = math.sqrt(0.0138 * (1 - 0.0138) / 10_000)
print(f"for scale, Alemi et al. (arXiv:1612.00410, Table 1): test error "
      f"1.38% to 1.13%\non 10,000 MNIST digits; binomial standard error of "
      f"1.38%: {100 * alemi:.2f} points")
gap = {lam: summary[lam]["train"][0] - summary[lam]["validation"][0]
       for lam in (0, chosen)}
assert gap[chosen] <= gap[0]  # less overfitting with the bottleneck

# %% mystnb={"figure": {"caption": "The $\\lambda$ sweep on test digits, mean and standard error over seeds. Left, the information plane: each $\\lambda$ as a point (rate, lower bound on $I(Z;Y)$); no point can lie above the dashed diagonal. Right, test accuracy with the mean code and with a sampled code, down to chance at $\\lambda = 2$.", "name": "fig-vib-sweep"}, "image": {"alt": "Two panels. Left: a line of labelled points, one per value of lambda, with the rate in nats on a symmetric-log horizontal axis and the lower bound on I(Z;Y) on the vertical axis, a dotted line at H(Y) and a dashed diagonal where the two are equal. Right: test accuracy in percent against lambda for the mean code (circles) and a sampled code (squares), with error bars over seeds and a dotted line at the 10 percent chance level."}} tags=["hide-input"]
fig, (ax_plane, ax_acc) = figure(1, 2, width=8.4, height=3.4)
lams = list(summary)
rates = np.array([summary[lam]["rate"][0] for lam in lams])
izy = np.array([h_y - summary[lam]["task_sampled"][0] for lam in lams])
izy_se = np.array([summary[lam]["task_sampled"][1] for lam in lams])
ax_plane.errorbar(rates, izy, yerr=izy_se, fmt="-o", color=COLORS[0],
                  capsize=2, label="λ sweep (± s.e.)")
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
for key, marker, name in (("accuracy", "-o", "mean code (Su's test mode)"),
                          ("accuracy_sampled", "-s", "sampled code")):
    ax_acc.errorbar(x_pos, [100 * summary[lam][key][0] for lam in lams],
                    yerr=[100 * summary[lam][key][1] for lam in lams],
                    fmt=marker, capsize=2, label=name)
ax_acc.axhline(10, color="gray", ls=":", lw=1, label="chance")
ticks = [f"{lam:.0e}" if 0 < lam < 0.01 else f"{lam:g}" for lam in lams]
ax_acc.set(xticks=x_pos, xticklabels=ticks, xlabel="λ",
           ylabel="test accuracy (%)", ylim=(0, 100),
           title="accuracy against λ")
ax_acc.legend(fontsize=8, loc="lower left")
fig

# %% [markdown]
# Read the tables from the top. Without the penalty ($\lambda = 0$) nothing stops the encoder
# from shrinking its variance towards zero, and its rate is the largest of all: the code is
# practically a deterministic copy of whatever the encoder computes. Each step up in $\lambda$
# cuts the rate, by orders of magnitude over the sweep, while the lower bound on $I(Z;Y)$ falls
# proportionally far less until $\lambda$ approaches 1: the code forgets about the input what
# the labels do not need. The last column of the first table is the gap between training and
# validation accuracy, the overfitting that the forgetting argument is about; read it against
# the rate.
#
# At the $\lambda$ chosen on validation digits that gap is smaller than without the bottleneck.
#
# Whether forgetting also *raised* the accuracy is a finer question than the sweep can settle
# by eye, and the comparison above answers it with its errors: $\lambda$ chosen without the
# test digits, and the gain set against the seed spread and the paired test-set error, with the
# verdict printed. A gain within those errors is no evidence either way. Alemi et al.'s own
# gain on MNIST is, by the same yardstick, about two binomial standard errors of one error rate
# (printed). (The smoke configuration used in tests trains briefly on few digits and its
# numbers mean little.)
#
# Su's other claim is speed: with VIB his network converged faster. The validation accuracy
# after each epoch, for $\lambda = 0$ and the chosen $\lambda$:

# %% mystnb={"figure": {"caption": "Validation accuracy after each epoch, mean over seeds with a band of $\\pm$ one standard error, without the bottleneck and with the $\\lambda$ chosen on the validation digits.", "name": "fig-vib-curves"}, "image": {"alt": "A line plot of validation accuracy in percent against the training epoch, one line with a shaded band for lambda = 0 and one for the chosen lambda, both rising quickly and levelling off."}} tags=["hide-input"]
fig, ax = figure(1, 1, width=6.0, height=3.0)
epochs = np.arange(1, EPOCHS + 1)
early = max(1, EPOCHS // 10)
at_early = {}
for color, lam in zip(COLORS, dict.fromkeys([0, chosen])):
    curves = 100 * np.array([run["curve"] for run in sweep[lam]])
    mean, band = curves.mean(0), curves.std(0, ddof=1) / math.sqrt(N_SEEDS)
    ax.fill_between(epochs, mean - band, mean + band, color=color,
                    alpha=0.25)
    ax.plot(epochs, mean, color=color, label=f"λ = {lam:g}")
    print(f"validation accuracy at λ = {lam:g}:\n  after epoch {early} "
          f"{mean[early - 1]:.1f} ± {band[early - 1]:.1f}%, "
          f"at the end {mean[-1]:.1f} ± {band[-1]:.1f}%")
    at_early[lam] = (mean[early - 1], band[early - 1])
ax.set(xlabel="epoch", ylabel="validation accuracy (%)",
       title="convergence with and without the bottleneck")
ax.legend(fontsize=8, loc="lower right")
(m0, e0), (m1, e1) = at_early[0], at_early[chosen]
if abs(m1 - m0) > 2 * math.hypot(e0, e1):
    ahead = "with" if m1 > m0 else "without"
    print(f"after epoch {early} the network {ahead} the bottleneck is ahead"
          "\nby more than twice the error")
else:
    print(f"after epoch {early} neither is ahead by more than twice the error")
fig

# %% [markdown]
# The cell says which network is ahead early in training and whether by more than the spread
# over seeds. Only a lead well outside the bands would support Su's claim at this scale; his
# IMDB network, with a 128-dimensional code on long texts, is a different regime, and his report
# gives no seeds to judge its spread by.
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
codes, codes_train, table = {}, {}, []
for lam in tqdm([0.0, 1e-2, 1e-1], desc="2-D codes"):
    torch.manual_seed(SEED)
    net = vib.VIBNet(n_in=64, latent=2, n_out=10, hidden=128)
    vib.fit(net, images[train], digits[train], lam=lam, epochs=EPOCHS,
            seed=SEED)
    scores = vib.evaluate(net, images[test], digits[test], seed=SEED)
    with torch.no_grad():
        codes[lam] = net.encode(images[test])
        codes_train[lam] = net.encode(images[train])
    sigma = torch.exp(0.5 * codes[lam][1]).mean().item()
    spread = codes[lam][0].std(0).mean().item()
    table.append((lam, scores["accuracy"], scores["rate"], spread, sigma))
print(f"{'λ':>5s} {'accuracy':>9s} {'rate (nats)':>12s} "
      f"{'spread of the means':>20s} {'mean σ':>7s}")
for lam, accuracy, rate_, spread, sigma in table:
    print(f"{lam:5g} {100 * accuracy:8.1f}% {rate_:12.1f} {spread:20.2f} "
          f"{sigma:7.3f}")
# one seed each: the ratio of noise to spread is the robust contrast
ratio = {lam: sigma / spread for lam, _, _, spread, sigma in table}
assert ratio[0.0] < ratio[0.1]

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
# Without the bottleneck the classes are well separated, but the code's noise is tiny next to
# the spread of the means (the last two columns): the noise is there, but the network has learnt
# to make it irrelevant by stretching the code. With $\lambda = 0.1$ the same classes are packed
# into the prior's few units, each digit's code keeps a noise that is a sizeable fraction of
# the spread between classes, and only the directions that tell digits apart survive: the code has
# forgotten the rest. (These are single runs of one seed, so the table's accuracies carry the
# binomial error of the test set printed with the sweep.)
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
print(f"about e^rate = {math.exp(scores['rate']):.0f} distinguishable codes "
      f"for {len(train)} training digits")
assert math.exp(scores["rate"]) < len(train)
assert int(active.sum()) < 16  # some components have collapsed

# %% [markdown]
# The VAE, too, forgets: of sixteen code components, most are switched off (their KL is zero, so
# they are the prior whatever the input), and the few left carry only a few nats in all. A rate
# of $R$ nats lets the code tell apart roughly $e^R$ inputs, far fewer than the training digits
# (printed above): most of the variation between digits of one class is not in the code, and
# the reconstructions below are close to class prototypes. This is **posterior collapse**, the
# best-known failure of VAEs (described by Bowman et al., 2016, for text): when the KL term is cheap to zero and the decoder can explain
# the data on average without the code, components collapse to the prior, here most of them and
# the others partly. (The reconstruction loss counts the grey levels of the 8×8 images as
# Bernoulli probabilities, so it cannot reach zero.) Reconstructions of test digits, and new
# digits decoded from codes drawn from the prior:

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
# $q(z_1, \dots, z_D) = \prod_d q(z_d)$. Su's hope is that pulling the codes towards it pulls
# them towards decoupled features, what Schmidhuber's *predictability minimisation* (1992)
# sought by other means, and that this makes downstream models simple and features
# interpretable. Three cautions are needed, and the cells check them on the VAE above.
#
# 1. The KL term acts on each input's code distribution; what it can make standard normal is
#    the codes' *overall* distribution, the mixture of every digit's Gaussian, with moments
#    $\mathbb E[z] = \overline{\mu}$ and
#    $\mathbb E[zz^\top] = \overline{\mu\mu^\top} + \operatorname{diag}\overline{\sigma^2}$.
#    Switched-off components match the prior trivially, so look at the active ones only.
# 2. Uncorrelated is not independent, and $\mathcal N(0, I)$ looks the same after any
#    rotation, so matching it cannot single out *which* axes are the features (Locatello et
#    al., 2019, prove that unsupervised disentanglement needs more than such a prior). A
#    Gaussian fitted to the codes is exactly as far from the prior after a random rotation.
# 3. A naive Bayes classifier assumes independence **given the class**,
#    $p(z\mid y) = \prod_d p(z_d\mid y)$. A standard-normal *marginal* says nothing about that,
#    so the prior does not make naive Bayes exact, contrary to what Su suggests. The check: fit
#    one Gaussian per digit to the training digits' codes, with diagonal (naive Bayes) or full
#    covariance, and score the test digits' codes.

# %%
with torch.no_grad():
    mu_fit, _ = vae.encode(images[train])
act = active.nonzero().flatten()
z_act = mu_test[:, act]  # the codes' overall law: mean codes plus noise
mean = z_act.mean(0)
cov = (torch.cov(z_act.T, correction=0).reshape(len(act), len(act))
       + torch.diag(logvar_test[:, act].exp().mean(0)))
off = cov - torch.diag(cov.diag())
print(f"{len(act)} active components; overall mean: largest |component| "
      f"{mean.abs().max():.3f}")
print(f"covariance: diagonal from {cov.diag().min():.3f} to "
      f"{cov.diag().max():.3f}, largest off-diagonal {off.abs().max():.3f}")


def kl_fit(m, c):
    """KL(N(m, c) || N(0, I)) of a Gaussian fitted to the codes."""
    return 0.5 * (c.trace() + m @ m - len(m) - torch.logdet(c)).item()


q, _ = torch.linalg.qr(torch.randn(len(act), len(act),
                                   generator=torch.Generator()
                                   .manual_seed(SEED)))
print(f"KL of that Gaussian from N(0, I): {kl_fit(mean, cov):.4f} nats; "
      f"after a random rotation: {kl_fit(q @ mean, q @ cov @ q.T):.4f}")
assert abs(kl_fit(mean, cov) - kl_fit(q @ mean, q @ cov @ q.T)) < 1e-4

held = {}
for diagonal in (True, False):
    held[diagonal] = vib.class_gaussian_log_likelihood(
        mu_fit[:, act], digits[train], z_act, digits[test], diagonal)
excess = held[False] - held[True]
print("held-out log p(z | digit), nats per test digit:")
print(f"  naive Bayes {held[True].mean():.2f}, "
      f"full covariance {held[False].mean():.2f}")
print(f"full minus naive Bayes: {excess.mean():.2f} ± {se(excess):.2f}")
assert excess.mean() > 3 * se(excess)  # the codes are dependent per class
m2d = codes[0.0][0]
print("for comparison, the 2-D code trained with λ = 0 (no KL term):")
print(f"variances {m2d.var(0)[0]:.1f} and {m2d.var(0)[1]:.1f}, "
      f"correlation {torch.corrcoef(m2d.T)[0, 1]:.2f}")
assert (cov.diag() - 1).abs().max() < 0.5  # the KL term sets the scale
assert (m2d.var(0) - 1).abs().max() > 1  # without it, nothing does

# %% [markdown]
# The overall law of the active components has roughly the prior's unit variances, but within
# each digit the components are correlated: the full-covariance model explains held-out codes
# better than naive Bayes by a clear margin. So Su's naive-Bayes remark does not hold; what the
# prior does give is a code with a known scale and little linear redundancy *across* the data
# set, which a code trained without the KL term (the 2-D comparison, whose scale is set by
# nothing) lacks. That is the fair version of Su's answer to a reader's question, why a VAE's
# encoder is a better feature extractor than an auto-encoder's: its features are standardised
# and decorrelated overall; whether they are independent, or interpretable one by one, the
# prior cannot promise.
#
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
# interpolations between faces. Pixels have no such property: the average of two images of
# different digits is two faint digits on top of each other, an image unlike any in the data.
# A classifier trained on real digits can say how unlike: it is markedly less sure of itself
# on pixel blends of two different digits than on real test digits. The cell measures the
# entropy of its predicted class probabilities (0 is certain, $\log 10$ is a blind guess), with the
# network of the sweep trained at the chosen $\lambda$:

# %%
def predictive_entropy(model, x):
    """Entropy of the predicted class probabilities, nats per image."""
    with torch.no_grad():
        logp = torch.log_softmax(model.decoder(model.encode(x)[0]), -1)
    return -(logp.exp() * logp).sum(-1).double()


first, second = images[test][:-1], images[test][1:]
pair = digits[test][:-1] != digits[test][1:]  # neighbours of two classes
blends = 0.5 * (first[pair] + second[pair])
sure_real = predictive_entropy(classifiers[chosen], images[test])
sure_blend = predictive_entropy(classifiers[chosen], blends)
print(f"entropy of the predicted digit, nats (log 10 = {math.log(10):.2f}):")
print(f"  real test digits:             {sure_real.mean():.3f} ± "
      f"{se(sure_real):.3f}")
print(f"  pixel averages of two digits: {sure_blend.mean():.3f} ± "
      f"{se(sure_blend):.3f}   ({len(blends)} pairs)")
assert sure_blend.mean() - sure_real.mean() > 3 * math.hypot(
    se(sure_real), se(sure_blend))

# %% [markdown]
# For supervised models trained with VIB, Su adds, the same closure means the points between
# training codes are covered too: extra training samples for free. The mechanism is the noise.
# During training the head sees each training digit's code as a cloud,
# $z \sim \mathcal N(\mu, \operatorname{diag}\sigma^2)$, and with a bottleneck those clouds are
# wide enough to overlap and fill the space between the digits; without it they shrink to
# points. Take the 2-D networks trained above and count the test digits whose mean code falls
# inside the central 99% of some training digit's cloud, that is, a code the head has seen
# during training:

# %%
print(f"{'λ':>5s} {'test codes inside a training cloud':>36s}")
covered = {}
for lam, (m_tr, lv_tr) in codes_train.items():
    m_te = codes[lam][0]
    # squared Mahalanobis distance to every training digit's Gaussian
    d2 = ((m_te[:, None, :] - m_tr[None]) ** 2 / lv_tr.exp()[None]).sum(-1)
    inside = (d2.min(1).values <= stats.chi2(2).ppf(0.99)).double()
    covered[lam] = inside.mean().item()
    print(f"{lam:5g} {covered[lam]:30.1%} ± {se(inside):.1%}")
assert covered[0.0] < covered[0.1]

# %% [markdown]
# The straight line has a flaw, though: the variance is $(1-\alpha)^2 + \alpha^2$, only
# $\frac12$ at the midpoint. Better to keep $\alpha^2 + \beta^2 = 1$, which is the spherical
# path
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
         f"{'prior draws':>12s} {'linear':>8s} {'(theory)':>9s} "
         f"{'spherical':>10s}"]


def share_inside(z, lo, hi):
    """The share of the rows of z whose norm lies in [lo, hi]."""
    norm = z.norm(dim=-1)
    return ((norm >= lo) & (norm <= hi)).double().mean().item()


for d in (2, 8, 32, 128, 512):
    z1, z2 = torch.randn(2, 10_000, d, generator=g, dtype=torch.float64)
    lo, hi = stats.chi(d).ppf([0.005, 0.995])

    # a linear midpoint is N(0, I/2): twice its squared norm is chi²_d
    theory = np.diff(stats.chi2(d).cdf([2 * lo**2, 2 * hi**2]))[0]
    prior = share_inside(z1, lo, hi)
    linear = share_inside(vib.lerp(z1, z2, 0.5), lo, hi)
    spherical = share_inside(vib.slerp_normal(z1, z2, 0.5), lo, hi)
    table.append(f"{d:5d} {lo:6.2f} to {hi:6.2f}   {prior:12.3f} "
                 f"{linear:8.3f} {theory:9.3f} {spherical:10.3f}")
    assert abs(linear - theory) < 4 * math.sqrt(0.25 / 10_000)
print("\n".join(table))
print("binomial standard error of a share from 10,000 pairs: at most 0.005;"
      "\nnear 0.99 about 0.001")

# %% [markdown]
# At 32 dimensions half of the linear midpoints already have a length the prior would hardly
# produce, and from 128 on practically all of them. Our VAE's code has only 16 components, most
# of them switched off, so the effect on its images is mild. {numref}`fig-vib-paths` shows
# decoded paths between two codes drawn from the prior (top pair of rows), where the linear
# path's midpoint is a code of atypically small length, and between two test digits (bottom
# three rows): the average of the pixels, then the decoded straight and spherical paths between
# the digits' mean codes. Mean codes are not draws of the prior (their collapsed components sit
# at 0), so between digits the two paths differ little, and by eye the decoded rows hardly
# differ at all; the pixel row is the contrast, two digits overlaid instead of one turning into
# the other.

# %% mystnb={"figure": {"caption": "Paths of nine steps. Top two rows: decoded straight and spherical paths between two codes drawn from the prior. Bottom three rows, between two test digits: the pixels averaged directly, then the decoded straight and spherical paths between their mean codes.", "name": "fig-vib-paths"}, "image": {"alt": "A grid of small grey 8 by 8 pixel images in five rows of nine. Rows one and two decode straight-line and spherical paths between two random codes. Row three blends the pixels of two test digits, so its middle images show both digits overlaid; rows four and five decode straight and spherical paths between the two digits' codes, each going from one digit to the other."}} tags=["hide-input"]
g = torch.Generator().manual_seed(SEED + 1)
a = torch.linspace(0, 1, 9)[:, None]
ends = [torch.randn(2, 16, generator=g), mu_test[[0, 1]]]
paths = (("linear", vib.lerp), ("spherical", vib.slerp_normal))
rows = []
for block, (za, zb) in enumerate(ends):
    source = "prior" if block == 0 else "digits"
    if block == 1:
        x0, x1 = images[test][0], images[test][1]
        rows.append(("pixels\n(digits)",
                     vib.lerp(x0, x1, a[:, :, None])))
    for name, path in paths:
        rows.append((f"{name}\n({source})", vae.decode(path(za, zb, a))))
fig, axes = figure(len(rows), 9, width=8.4, height=5.0)
for row, (name, decoded) in enumerate(rows):
    for col in range(9):
        ax = axes[row, col]
        ax.imshow(decoded[col], cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        if col == 0:
            ax.set_ylabel(name, fontsize=7)
fig

# %% [markdown]
# Over many pairs of prior codes, measure how undecided the decoded pixels are, by their mean
# Bernoulli entropy. Midpoints of spherical paths are draws of the prior and decode like them;
# midpoints of straight lines decode blurrier, and the paired comparison over the same pairs of
# codes carries the argument. The origin, the shortest code of all, is printed as a control
# only: it is a single code, decoded as one average digit, and how blurry that digit is
# depends on the training run, so the shortness of a code alone does not predict its blur.

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
entropy = {}
for name, codes_ in candidates.items():
    e = pixel_entropy(vae.decode(codes_))
    entropy[name] = e
    spread = f" ± {se(e):.4f}" if len(e) > 1 else ""
    print(f"{name:20s} pixel entropy {e.mean().item():.4f}{spread}")
# paired over the same pairs (z1, z2): linear against spherical midpoints
extra = entropy["linear midpoints"] - entropy["spherical midpoints"]
print(f"linear minus spherical midpoints: {extra.mean():.4f} "
      f"± {se(extra):.4f}")
assert extra.mean() > 3 * se(extra)

# %% [markdown]
# ### And a uniform prior?
#
# Su remarks that a uniform prior on a box would also "work" for interpolation, for a reason
# that is less elegant: a straight line between two points of a box stays in the box (the box is
# convex), but the average of two uniform variables is not uniform. Its density is a triangle,
# piled up in the middle of the box, so once again the midpoints are not typical draws of the
# prior. The spherical weights do not help either: they keep the variance but push some points
# out of the box. Choose the prior, the path and the position on it:

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
out = (vib.slerp_normal(u1, u2, 0.5).abs() > r3).double().mean()
print(f"spherical midpoints of uniforms outside the box: {out:.1%} "
      f"± {math.sqrt(out * (1 - out) / N_MC):.1%}")

# %% [markdown]
# Is the normal then the only law that paths between codes preserve? Not quite, and the
# precise statement is worth having. Every *symmetric stable* law keeps its family under
# linear combinations of independent draws; the Cauchy law is the best known. For standard
# Cauchy $z_1, z_2$, $a z_1 + b z_2$ is Cauchy with scale $|a| + |b|$, so the straight path,
# with $(1-\alpha) + \alpha = 1$, keeps the standard Cauchy law *exactly*, which the normal does
# not, while the spherical path stretches it by $\cos\theta + \sin\theta$, up to $\sqrt2$.
# What is special about the normal is the spherical path: among laws with a finite variance,
# only the normal is carried to itself by $z_1\cos\theta + z_2\sin\theta$ for every $\theta$
# (this is the Maxwell–Herschel characterisation). The same KS test on Cauchy midpoints:

# %%
g = torch.Generator().manual_seed(SEED)
u = torch.rand(2, N_MC, generator=g, dtype=torch.float64)
c1, c2 = torch.tan(math.pi * (u - 0.5))  # standard Cauchy by inversion
print(f"{'midpoint of two standard Cauchy draws':38s} "
      f"{'KS to Cauchy(0, 1)':>18s} {'to Cauchy(0, √2)':>17s}")
ks_cauchy = {}
for name, path in (("straight path, α = 1/2", vib.lerp),
                   ("spherical path, θ = π/4", vib.slerp_normal)):
    mid = path(c1, c2, 0.5).numpy()
    ks_cauchy[name] = [stats.kstest(mid, stats.cauchy(0, scale).cdf).statistic
                       for scale in (1.0, math.sqrt(2))]
    print(f"{name:38s} {ks_cauchy[name][0]:18.4f} {ks_cauchy[name][1]:17.4f}")
print(f"(1% critical value {critical:.4f})")
straight, spherical = ks_cauchy.values()
assert straight[0] < critical < straight[1]
assert spherical[1] < critical < spherical[0]

# %% [markdown]
# Su closes the comparison with a remark from practice: GANs, too, train better with a normal
# prior than with a uniform one. The article gives no experiment, and this chapter trains no
# GAN, so take it as folklore, not a result; DCGAN (Radford et al., 2016), for one, trained
# well with uniform noise. One mechanism makes it plausible. A generator must push the prior
# onto the data, and a smooth network changes shapes only gradually; a uniform prior is
# bounded and flat, a normal one already has the tails and the bell of much real data. For the
# simplest generator, an affine map $G(u) = a + bu$, and a standard-normal target, the normal
# prior is matched exactly ($b = 1$), while the best affine image of the unit-variance uniform
# stays at a distance (the Wasserstein-1 distance between the laws, from their quantile
# functions):

# %%
from scipy import integrate, optimize


def w1_affine_uniform(b):
    """W1 between N(0, 1) and b times the unit-variance uniform."""
    def gap(p):
        return abs(stats.norm.ppf(p) - b * math.sqrt(3) * (2 * p - 1))
    return integrate.quad(gap, 0, 1, limit=200)[0]


best = optimize.minimize_scalar(w1_affine_uniform, bounds=(0.5, 1.5),
                                method="bounded")
print(f"best affine image of the uniform prior: scale b = {best.x:.3f}, "
      f"W1 to N(0, 1) = {best.fun:.4f}")
print("affine image of the normal prior: b = 1, W1 = 0 exactly")
assert best.fun > 0.01

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
#   place of the input. On digits a small $\lambda$ cuts the rate by orders of magnitude while
#   the code keeps what the labels need; whether it also raises accuracy is measured with
#   $\lambda$ chosen on validation digits and the gain stated with its errors. $\lambda > 1$
#   makes an empty code optimal {eq}`eq-give-up`.
# - A VAE on small data forgets too much: most of its code components collapse to the prior
#   (posterior collapse).
# - The standard normal prior gives an overall code law with independent components, which is
#   not independence given the class (naive Bayes is not made exact) and picks no axes, and
#   closure under sums {eq}`eq-sum-normal`; straight paths between codes shrink their variance to
#   as little as $\frac12$ and leave the typical shell in high dimensions, spherical paths
#   {eq}`eq-slerp` keep it. A uniform prior is kept by neither; the Cauchy law is kept by the
#   straight path, and only the normal, among finite-variance laws, by the spherical one.
#
# ## References
#
# - Su Jianlin (2018).
#   [从变分编码、信息瓶颈到正态分布:论遗忘的重要性](https://kexue.fm/archives/6181) ("From
#   variational encoding and the information bottleneck to the normal distribution: on the
#   importance of forgetting"). kexue.fm, 27 November 2018. His VIB script:
#   [github.com/bojone/vib](https://github.com/bojone/vib).
# - Wolchover, N. (2017). "New Theory Cracks Open the Black Box of Deep Learning". *Quanta
#   Magazine*, 21 September 2017.
# - Saxe, A. M., Bansal, Y., Dapello, J., Advani, M., Kolchinsky, A., Tracey, B. D. & Cox,
#   D. D. (2018). "On the Information Bottleneck Theory of Deep Learning". *ICLR 2018*.
#   [openreview.net/forum?id=ry_WPG-A-](https://openreview.net/forum?id=ry_WPG-A-).
# - Bowman, S. R., Vilnis, L., Vinyals, O., Dai, A. M., Jozefowicz, R. & Bengio, S. (2016).
#   "Generating Sentences from a Continuous Space". *CoNLL 2016*.
#   [arXiv:1511.06349](https://arxiv.org/abs/1511.06349).
# - Locatello, F., Bauer, S., Lucic, M., Rätsch, G., Gelly, S., Schölkopf, B. & Bachem, O.
#   (2019). "Challenging Common Assumptions in the Unsupervised Learning of Disentangled
#   Representations". *ICML 2019*. [arXiv:1811.12359](https://arxiv.org/abs/1811.12359).
# - Radford, A., Metz, L. & Chintala, S. (2016). "Unsupervised Representation Learning with
#   Deep Convolutional Generative Adversarial Networks". *ICLR 2016*.
#   [arXiv:1511.06434](https://arxiv.org/abs/1511.06434).
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
# Run it: averaging the softmax over 12 codes recovers most of what a single sample loses, the
# more so the weaker the bottleneck. With a strong bottleneck the mean code can stay ahead:
# averaging the probabilities of noisy codes still blurs classes that the means keep apart.
# Judge the differences against the binomial error of the test accuracy (about a point here)
# before reading anything into them.
# :::
