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
# # Noise contrastive estimation: learning a density without its normaliser
#
# :::{admonition} What you will understand by the end
# - why the normalising constant $Z$ of an energy model stands in the way of maximum likelihood,
#   and how noise contrastive estimation (NCE) sidesteps it by learning to tell data from noise;
# - why the best classifier recovers the density *and* $\log Z$, both in the essay's form (one
#   noise sample per datum, a learned offset) and in Gutmann and Hyvärinen's (ν noise samples per
#   datum);
# - how the choice of noise sets the estimator's variance, and why more noise samples approach
#   maximum likelihood;
# - why word2vec's negative sampling is the same idea with the normaliser fixed, and why its word
#   vectors end up encoding $\mathrm{PMI} - \log k$;
# - what that does and does not say about Su's symmetry argument for negative sampling;
# - why a negative-sampling step costs the same for ten thousand words as for a million.
# :::
#
# **Article.** Su Jianlin,
# [“噪声对比估计”杂谈:曲径通幽之妙](https://kexue.fm/archives/5617)
# ("Notes on noise contrastive estimation: a winding path to the goal"; kexue.fm, 2018-06-13).
# Su explains NCE as a detour: instead of fitting a density whose normaliser cannot be computed, train a classifier
# that separates real data from samples of a known noise distribution, and read the density off
# the classifier. He argues that the detour arrives at the right place (the classifier's optimum is
# the true density, with $\log Z$ learned as an ordinary parameter), then shows that word2vec's
# negative sampling is the same construction and that its vectors learn pointwise mutual
# information. The essay has no experiments; this chapter adds them, checks each step, and adds
# what the theory says about the noise.

# %%
import functools
import math
import time

import numpy as np
import torch
from scipy import integrate, special

import companion
from companion import nce, style
from companion.progress import tqdm
from companion.widgets import Choice, demo

# The chapter's own figures in the book's style (the plot_* functions
# apply it themselves, without changing matplotlib's global settings).
style.use()

# Every tensor in this chapter is small, and on a busy machine waking a
# second thread for each small operation costs far more than it saves:
# one thread throughout (timings included).
torch.set_num_threads(1)
SEED = 0
N_DATA = companion.budget(full=20_000, smoke=2_000)     # data per single fit
N_REPS = companion.budget(full=100, smoke=10)           # variance replicates
N_VAR = companion.budget(full=2_000, smoke=500)         # data per replicate
N_PAIRS = companion.budget(full=200_000, smoke=20_000)  # (word, context) pairs
SGD_STEPS = companion.budget(full=1_500, smoke=400)
print(f"{N_DATA:,} data per fit; {N_REPS} replicates of {N_VAR:,} "
      f"for variances;")
print(f"{N_PAIRS:,} word pairs, {SGD_STEPS:,} SGD steps")

# %% [markdown]
# ## The normaliser problem
#
# Many models define a probability through an *energy* or *score* $G(x;\theta)$ that can be any
# real number, and exponentiate and normalise it:
#
# $$
# p(x;\theta) = \frac{e^{G(x;\theta)}}{Z(\theta)},\qquad Z(\theta) = \int e^{G(x;\theta)}\,dx
# \quad\Big(\text{or } \sum_x e^{G(x;\theta)}\Big).
# $$ (eq-energy)
#
# A softmax classifier is one (the sum runs over the classes), and so is a language model
# predicting the next word out of a vocabulary of $10^5$ to $10^6$. Maximum likelihood needs
# $\log Z(\theta)$ and its gradient $\nabla_\theta \log Z = \mathbb E_{p(\cdot;\theta)}[\nabla_\theta G]$,
# an expectation under the model itself: a sum over the whole vocabulary at every step, or, for a
# continuous $x$, an integral that usually has no closed form.
#
# Su names a second source of the form {eq}`eq-energy`: the maximum-entropy principle. Among all
# densities whose averages $\mathbb E[f_k(x)]$ are prescribed, the one of largest entropy is
# $e^{\sum_k \lambda_k f_k(x)}/Z$, with one multiplier $\lambda_k$ per constraint. The proof is
# one line: if $p$ has that form and $q$ has the same averages, then $\mathbb E_q[\log p] =
# \mathbb E_p[\log p]$ because $\log p$ is a combination of the $f_k$ and a constant, so
# $H(p) - H(q) = \mathrm{KL}(q\,\|\,p) \ge 0$. Energy models are what one gets by asking for the
# least committed density that matches a few statistics, and they come with a $Z$.
#
# Su's small example is the one we will follow:
#
# $$
# G(x; a, b) = -a x^2 - b x^4,\qquad Z(a,b) = \int_{-\infty}^{\infty} e^{-a x^2 - b x^4}\,dx .
# $$ (eq-quartic)
#
# There is no elementary antiderivative. For our checks we still want the exact answer, which
# adaptive quadrature gives; and for $a > 0$ it happens to be a modified Bessel function,
# $Z = \tfrac12\sqrt{a/b}\;e^{a^2/8b}\,K_{1/4}\!\big(a^2/8b\big)$, an independent check of the
# quadrature.

# %%
print(f"{'a':>4} {'b':>5} {'Z by quadrature':>16} {'Z by Bessel':>14} "
      f"{'log Z':>9}")
for a, b in [(0.5, 0.25), (1.0, 1.0), (0.1, 0.05), (2.0, 1.0)]:
    z_quad = math.exp(nce.quartic_log_z(a, b))
    t = a * a / (8 * b)
    z_bessel = 0.5 * math.sqrt(a / b) * special.kve(0.25, t)  # kve = K e^t
    print(f"{a:4} {b:5} {z_quad:16.9f} {z_bessel:14.9f} "
          f"{math.log(z_quad):9.6f}")
    assert math.isclose(z_quad, z_bessel, rel_tol=1e-10)

# %% [markdown]
# The quartic is itself a maximum-entropy density: the one with the largest entropy among all
# densities with its values of $\mathbb E[x^2]$ and $\mathbb E[x^4]$ ($f_1 = x^2$, $f_2 = x^4$,
# $\lambda = (-a, -b)$). A check against a rival with the same two moments, a symmetric mixture of
# two Gaussians: its entropy is lower, by exactly $\mathrm{KL}(q\,\|\,p)$, all by quadrature.

# %%
a, b = 0.5, 0.25
log_p = lambda x: -a * x * x - b * x**4 - nce.quartic_log_z(a, b)
quad = lambda f: integrate.quad(f, -np.inf, np.inf, epsabs=0,
                                epsrel=1e-11)[0]
m2, m4 = (quad(lambda x, n=n: x**n * math.exp(log_p(x))) for n in (2, 4))
# q = (N(-mu, s2) + N(mu, s2)) / 2 has E x^2 = mu^2 + s2 and
# E x^4 = m2^2 + 4 m2 s2 - 2 s2^2 (with m2 = mu^2 + s2): solve for s2.
s2 = m2 - math.sqrt((3 * m2**2 - m4) / 2)
mu = math.sqrt(m2 - s2)


def log_q(x):
    bumps = np.logaddexp(-(x - mu)**2 / (2 * s2), -(x + mu)**2 / (2 * s2))
    return bumps - math.log(2) - 0.5 * math.log(2 * math.pi * s2)


entropy = lambda lp: -quad(lambda x: math.exp(lp(x)) * lp(x))
h_p, h_q = entropy(log_p), entropy(log_q)
kl_qp = quad(lambda x: math.exp(log_q(x)) * (log_q(x) - log_p(x)))
q_m2, q_m4 = (quad(lambda x, n=n: x**n * math.exp(log_q(x)))
              for n in (2, 4))
print(f"E x^2, E x^4: quartic {m2:.6f}, {m4:.6f}; "
      f"mixture {q_m2:.6f}, {q_m4:.6f}")
print(f"entropy: quartic {h_p:.6f}, mixture {h_q:.6f}; "
      f"difference {h_p - h_q:.3e}")
print(f"KL(mixture || quartic) = {kl_qp:.3e}")
assert math.isclose(q_m2, m2, rel_tol=1e-8)
assert math.isclose(q_m4, m4, rel_tol=1e-8)
assert h_p > h_q and math.isclose(h_p - h_q, kl_qp, rel_tol=1e-6)

# %% [markdown]
# ## Telling data from noise
#
# NCE replaces density estimation by a classification problem. Pick a *noise* distribution
# $p_n$ that is easy to sample and to evaluate (a uniform or a Gaussian), and label real data
# $y = 1$ and noise samples $y = 0$. Su's version draws one noise sample per datum and lets the
# classifier be the model's energy shifted by a learned offset $\gamma$:
#
# $$
# \begin{aligned}
# &p(1\mid x) = \sigma\big(G(x;\theta) - \gamma\big),\\
# &\min_{\theta,\gamma}\; -\mathbb E_{x\sim p_d}\log p(1\mid x) - \mathbb E_{x\sim p_n}\log p(0\mid x),
# \end{aligned}
# $$ (eq-su)
#
# with $\sigma(t) = 1/(1+e^{-t})$ and $p_d$ the data distribution. Gutmann and Hyvärinen's
# original formulation (AISTATS 2010) draws $\nu$ noise samples per datum and puts the noise
# density into the logit explicitly, with $c$ standing for $\log Z$:
#
# $$
# \begin{aligned}
# h(x) &= G(x;\theta) - c - \log\big(\nu\,p_n(x)\big),\\
# J(\theta, c) &= -\mathbb E_{p_d}\log\sigma\big(h(x)\big) - \nu\,\mathbb E_{p_n}\log\big(1-\sigma(h(x))\big).
# \end{aligned}
# $$ (eq-nce)
#
# Su's form is the case $\nu = 1$ with a uniform $p_n = U$: then $\log p_n$ is a constant that
# merges with $c$, so $\gamma = c + \log U$, and the normaliser is read off as $\log Z = \gamma - \log U$.
# `companion.nce.nce_loss` implements {eq}`eq-nce`; here it is against the definition on a few
# hand-made numbers, and in Su's special case.
#
# Su remarks that what he presents is closer to what word2vec calls *negative sampling*, and he does
# not separate the two. The difference is one term: negative sampling leaves the noise density out
# of the logit, NCE puts $\log(\nu p_n)$ in. For uniform noise that term is a constant and the
# two coincide (the second check below); for any other noise they are different estimators, as
# the next section shows.

# %%
g_data = torch.tensor([0.5, -1.0])
g_noise = torch.tensor([0.2, 0.3, -0.4, 1.0])
log_pn_data = torch.tensor([-1.0, -2.0])
log_pn_noise = torch.tensor([-1.5, -0.5, -3.0, -1.0])
c, nu = 0.3, 2.0
h = lambda g, lp: g - c - math.log(nu * math.exp(lp))      # eq. (eq-nce)
sigma = lambda t: 1 / (1 + math.exp(-t))
on_data = zip(g_data.tolist(), log_pn_data.tolist())
on_noise = zip(g_noise.tolist(), log_pn_noise.tolist())
by_hand = (-np.mean([math.log(sigma(h(g, lp))) for g, lp in on_data])
           - nu * np.mean([math.log(1 - sigma(h(g, lp)))
                           for g, lp in on_noise]))
ours = nce.nce_loss(g_data, g_noise, log_pn_data, log_pn_noise, c, nu).item()
print(f"nce_loss {ours:.6f}, by hand {by_hand:.6f}")
assert math.isclose(ours, by_hand, rel_tol=1e-6)

L, gamma = 4.0, -1.2       # Su: uniform noise on [-L, L], offset gamma
su = (-torch.log(torch.sigmoid(g_data[:2] - gamma)).mean()
      - torch.log(1 - torch.sigmoid(g_noise[:2] - gamma)).mean()).item()
log_u = -math.log(2 * L)
via_nce = nce.nce_loss(g_data, g_noise[:2], log_u, log_u, gamma - log_u,
                       nu=1)
print(f"Su's loss {su:.6f}; nce_loss with nu = 1 and c = gamma - log U: "
      f"{via_nce.item():.6f}")

# %% [markdown]
# ## Why the classifier finds the density
#
# Take the population version of {eq}`eq-nce` and group it by $x$. A point is data with prior
# weight $p_d(x)$ and noise with weight $\nu p_n(x)$, so the true label posterior is
# $\tilde p(1\mid x) = p_d(x)/(p_d(x) + \nu p_n(x))$, and, up to terms that do not depend on the
# model,
#
# $$
# \begin{aligned}
# J(\theta, c) = \int \big(p_d(x) + \nu\,p_n(x)\big)\;
# &\mathrm{KL}\Big(\mathrm{Bernoulli}\big(\tilde p(1\mid x)\big)\\
# &\quad\Big\|\,\mathrm{Bernoulli}\big(\sigma(h(x))\big)\Big)\,dx + \text{const}.
# \end{aligned}
# $$ (eq-kl)
#
# Every KL term is non-negative and zero only where the model's posterior equals the true one.
# If the model family contains the truth, the minimum is there, and
#
# $$
# \begin{aligned}
# \sigma(h(x)) = \frac{p_d(x)}{p_d(x) + \nu p_n(x)}
# &\iff h(x) = \log\frac{p_d(x)}{\nu\,p_n(x)}\\
# &\iff G(x;\theta) - c = \log p_d(x).
# \end{aligned}
# $$ (eq-consistency)
#
# The energy minus the offset *is* the normalised log-density, so $c = \log Z$: the normaliser is
# learned as one more parameter, and nothing ever integrates over $x$. (For Su's form with uniform
# noise, {eq}`eq-consistency` reads $p_d = e^{G - (\gamma - \log U)}$, his result.) The condition
# is about the weighting $p_d + \nu p_n$: the noise must reach the regions that carry the
# information about $\theta$.
#
# A sharp check: at the true $(a, b)$ and $c = \log Z$ the *population* gradient of $J$ is zero.
# With half a million data and a million noise samples its Monte-Carlo estimate must be zero up to
# its standard error, while an offset that is wrong by 0.03 must show.

# %%
a0, b0, nu = 0.5, 0.25, 2.0
log_z0 = nce.quartic_log_z(a0, b0)
noise = nce.Noise1D("gaussian", loc=0.3, width=1.5)
gen = torch.Generator().manual_seed(SEED)
n_mc = companion.budget(full=500_000, smoke=50_000)
x_d = nce.sample_quartic(a0, b0, n_mc, gen)
x_n = noise.sample(int(nu * n_mc), gen)
lp_d, lp_n = noise.log_prob(x_d), noise.log_prob(x_n)
# dh / d(a, b, c):
phi = lambda x: torch.stack([-x**2, -x**4, -torch.ones_like(x)], 1)
g_of = lambda x, theta: -theta[0] * x**2 - theta[1] * x**4

for offset in (0.0, 0.03):
    theta = torch.tensor([a0, b0, log_z0 + offset], dtype=torch.float64,
                         requires_grad=True)
    g_d, g_n = g_of(x_d, theta), g_of(x_n, theta)
    loss = nce.nce_loss(g_d, g_n, lp_d, lp_n, theta[2], nu)
    (grad,) = torch.autograd.grad(loss, theta)
    # Standard error from the per-sample terms: weight sigma(-h) on data,
    # nu sigma(h) on noise.
    with torch.no_grad():
        w_d = torch.sigmoid(-nce.nce_logit(g_d, lp_d, theta[2], nu))
        w_n = nu * torch.sigmoid(nce.nce_logit(g_n, lp_n, theta[2], nu))
        se = torch.sqrt((w_d[:, None] * phi(x_d)).var(0) / n_mc
                        + (w_n[:, None] * phi(x_n)).var(0) / x_n.numel())
    z = ", ".join(f"{v:+.2f}" for v in (grad / se).tolist())
    print(f"c = log Z {offset:+.2f}: gradient / standard error = {z}"
          "  (a, b, c)")
    if offset == 0.0:
        assert ((grad / se).abs() < 4).all()
    else:
        assert abs(grad[2] / se[2]) > 4

# %% [markdown]
# At the truth every component is within a few standard errors of zero; off by 3 % in $Z$, the
# gradient in $c$ is many standard errors away.
#
# ### Su's form with a noise that is not uniform
#
# Su's optimum, {eq}`eq-consistency` with $\nu = 1$ and the noise left out of the logit, reads
# $p_d(x) = \exp\{G(x;\theta) - (\gamma - \log p_n(x))\}$. For a uniform $p_n$ the bracket is a
# constant, $\log Z$. For any other noise it is not, and the equation says something else: the
# energy must learn $\log p_d - \log p_n$ up to a constant, so $-\log p_n(x)$ is absorbed into $G$,
# and the density is read off by adding $\log p_n$ back. That works exactly when the model family
# can absorb $-\log p_n$. Below, both forms are fitted (with `fit_quartic_nce`, described in the
# next section) on the same samples. For a centred Gaussian noise $N(0, s^2)$,
# $-\log p_n = x^2/2s^2 + \text{const}$ lies in the quartic family: Su's fit is NCE's, with
# $a$ lowered by exactly $1/2s^2$ and $\gamma = c - \log(s\sqrt{2\pi})$. For a noise centred at
# $\mu \ne 0$, $-\log p_n$ has a linear term $-\mu x/s^2$ that no even energy can absorb, and the
# density read off from Su's fit keeps the noise's tilt $e^{\mu x/s^2}$ however much data there is.

# %%
log_true = lambda x: -a0 * x * x - b0 * x**4 - log_z0


def quartic(a, lin, b, c):
    """The log-density -a x^2 + lin x - b x^4 - c, as a function of x."""
    return lambda x: -a * x * x + lin * x - b * x**4 - c


def kl_from_truth(log_fit):
    """KL(p_d || the fitted density, normalised), by quadrature."""
    cross = quad(lambda x: math.exp(log_true(x)) * (log_true(x) - log_fit(x)))
    return cross + math.log(quad(lambda x: math.exp(log_fit(x))))


x_d = nce.sample_quartic(a0, b0, N_DATA, gen)
print(f"{N_DATA:,} data, as many noise samples; true a = {a0}, "
      f"log Z = {log_z0:.4f}")
for loc, width in [(0.0, 1.5), (1.0, 1.5)]:
    noise = nce.Noise1D("gaussian", loc, width)
    x_n = noise.sample(N_DATA, gen)
    fit_gh = nce.fit_quartic_nce(x_d, x_n, noise, nu=1.0)
    fit_su = nce.fit_quartic_nce(x_d, x_n, noise, nu=1.0,
                                 noise_in_logit=False)
    # Su: add log p_n back, -log p_n = (x - mu)^2 / 2 s^2 + log(s sqrt(2 pi))
    a_su = fit_su.a.item() + 1 / (2 * width**2)
    lin_su = loc / width**2                        # coefficient of x
    c_su = (fit_su.log_z.item() + math.log(width * math.sqrt(2 * math.pi))
            + loc**2 / (2 * width**2))
    sd = np.sqrt(np.diag(nce.nce_asymptotic_covariance(a0, b0, noise, 1.0))
                 / N_DATA)
    print(f"noise N({loc}, {width}^2):")
    print(f"  NCE form: a = {fit_gh.a.item():.4f}, "
          f"c = {fit_gh.log_z.item():.4f}   (sd {sd[0]:.3f}, {sd[2]:.3f})")
    print(f"  Su's form + log p_n: a = {a_su:.4f}, c = {c_su:.4f}, "
          f"x-coefficient {lin_su:.3f} (true 0)")
    a_gh, b_gh, c_gh = (t.item() for t in (fit_gh.a, fit_gh.b, fit_gh.log_z))
    b_su = fit_su.b.item()
    kl_gh = kl_from_truth(quartic(a_gh, 0.0, b_gh, c_gh))
    kl_su = kl_from_truth(quartic(a_su, lin_su, b_su, c_su))
    print(f"  KL(truth || fit): NCE form {kl_gh:.1e}, Su's form {kl_su:.1e}")
    if loc == 0.0:        # the same estimator, reparametrised
        assert abs(a_su - a_gh) < 1e-4 and abs(c_su - c_gh) < 1e-4
    else:
        assert kl_su > 10 * kl_gh
    assert abs(c_gh - log_z0) < 4 * sd[2]

# %% [markdown]
# With the centred noise the two forms give the same numbers; with the shifted one, NCE's estimate
# stays within its error of the truth while Su's keeps a log-linear term fixed by the noise, not
# the data, and its divergence from the truth is many times NCE's (it would not shrink with more
# data). Word2vec's negative sampling is Su's form, but its scores are free
# numbers, one per word pair, and absorb $-\log q$ whatever the noise $q$ is: this is how the
# unigram distribution enters the word2vec result below.
#
# ## Fitting the quartic
#
# Now the estimator itself. The logit $h$ is *linear* in $(a, b, c)$, and $-\log\sigma$ is convex,
# so {eq}`eq-nce` is a convex function of the three parameters: Newton's method finds the minimum
# in a handful of steps. `companion.nce.fit_quartic_nce` runs it, with gradients and Hessians by
# automatic differentiation through `nce_loss`, on many independent problems at once.
#
# First Su's form: uniform noise (here on $[-4, 4]$), one noise sample per datum, and $a = 0.5$,
# $b = 0.25$, with $\log Z$ from quadrature. The learned offset $\gamma$ gives $\log Z$ as
# $\gamma - \log U = \gamma + \log 8$. The estimate's standard deviation comes from the asymptotic
# theory of the next section.

# %%
su_noise = nce.Noise1D("uniform", loc=0.0, width=4.0)
gen = torch.Generator().manual_seed(SEED)
x_d = nce.sample_quartic(a0, b0, N_DATA, gen)
x_n = su_noise.sample(N_DATA, gen)
# Fitted in the form of eq. (eq-nce); Su's offset is gamma = c + log U.
fit_su = nce.fit_quartic_nce(x_d, x_n, su_noise, nu=1.0)
gamma_hat = fit_su.log_z.item() + math.log(su_noise.pdf(0.0))  # c + log U
cov = nce.nce_asymptotic_covariance(a0, b0, su_noise, 1.0)
sd = math.sqrt(cov[2, 2] / N_DATA)
print(f"{N_DATA:,} data + {N_DATA:,} uniform noise samples, "
      f"{fit_su.iterations} Newton steps")
print(f"a = {fit_su.a.item():.3f} (true {a0}), "
      f"b = {fit_su.b.item():.3f} (true {b0})")
print(f"gamma = {gamma_hat:.4f};  "
      f"gamma + log 8 = {gamma_hat + math.log(8):.4f}")
print(f"true log Z = {log_z0:.4f}  (predicted sd {sd:.4f}): the estimate "
      f"is {(gamma_hat + math.log(8) - log_z0) / sd:+.1f} sd from it")
assert abs(gamma_hat + math.log(8) - log_z0) < 4 * sd

# %% [markdown]
# The essay reports no numbers to compare with; the estimate is within a few of its predicted
# standard deviations of the truth, which is all the theory promises.
#
# Move the model's parameters and the noise-to-data ratio $\nu$ in {numref}`fig-nce-quartic-fit`
# (Gaussian noise of unit width here). The left panel shows the data, the true density and the NCE fit
# $e^{G(x;\hat\theta) - \hat c}$; the right panel is the *classifier view*: the fitted
# $\sigma(h(x))$, the probability that a point is data, against the Bayes-optimal posterior
# $p_d/(p_d + \nu p_n)$ of {eq}`eq-consistency`. The two curves coincide when the fit is good: the
# classifier *is* the density model.

# %% mystnb={"figure": {"caption": "NCE on the quartic model $e^{-a x^2 - b x^4}$ with unit Gaussian noise. Left: the data, the true density and the NCE fit $e^{G - \\hat c}$; right: the fitted classifier $\\sigma(h(x))$ against the Bayes-optimal posterior $p_d/(p_d + \\nu p_n)$; the two coincide when the fit is good.", "name": "fig-nce-quartic-fit"}} tags=["hide-input"]
demo(functools.partial(nce.plot_quartic_nce, noise="gaussian", width=1.0),
     a=Choice([0.1, 0.5, 1.0, 2.0], value=0.5),
     b=Choice([0.05, 0.25, 1.0], value=0.25),
     nu=Choice([1.0, 5.0, 25.0], value=1.0, label="ν"))

# %% [markdown]
# ## Choosing the noise
#
# Any noise that reaches the data gives a consistent estimator; the noise decides how *precise*
# it is. Gutmann and Hyvärinen (JMLR 2012) give the asymptotic covariance. With
# $\phi = \nabla_{(\theta, c)} h$ (here $-(x^2, x^4, 1)$) and the weight
# $P_\nu(x) = \nu p_n/(p_d + \nu p_n)$, the probability that the classifier calls $x$ noise,
#
# $$
# \begin{aligned}
# N\,\mathrm{Cov}(\hat\theta, \hat c) &\to I_\nu^{-1} - \Big(1 + \frac1\nu\Big) I_\nu^{-1} m\,m^\top I_\nu^{-1},\\
# I_\nu &= \mathbb E_{p_d}\big[P_\nu\,\phi\phi^\top\big],\qquad m = \mathbb E_{p_d}\big[P_\nu\,\phi\big].
# \end{aligned}
# $$ (eq-nce-cov)
#
# (It follows from the sandwich formula: at the optimum the Hessian of $J$ and the covariance of
# its per-sample gradient both reduce to expectations under $p_d$ weighted by $P_\nu$.) Two
# readings. Data points that the classifier finds *easy* ($P_\nu \approx 0$, far from any noise)
# contribute nothing to $I_\nu$: noise far from the data wastes the data. And as $\nu \to \infty$,
# $P_\nu \to 1$ and {eq}`eq-nce-cov` becomes the inverse Fisher information of maximum likelihood,
# the Cramér–Rao bound; for $\log Z$ it becomes the variance of
# $\log Z(\hat a, \hat b)$ at the maximum-likelihood estimate. `nce_asymptotic_covariance`
# evaluates {eq}`eq-nce-cov` by quadrature. Below, {eq}`eq-nce-cov` against the spread of
# $\hat c$ over independent replicates, as the noise moves away from the data, as it narrows or
# widens, and as $\nu$ grows.

# %%
def replicate_sd(noise, nu, seed):
    """Standard deviation of c-hat over N_REPS fits, times sqrt(N)."""
    gen = torch.Generator().manual_seed(seed)
    x_d = nce.sample_quartic(a0, b0, (N_REPS, N_VAR), gen)
    x_n = noise.sample((N_REPS, int(nu * N_VAR)), gen)
    fit = nce.fit_quartic_nce(x_d, x_n, noise, nu=nu)
    assert fit.converged.all()
    return fit.log_z.std().item() * math.sqrt(N_VAR)


def theory_sd(noise, nu):
    return math.sqrt(nce.nce_asymptotic_covariance(a0, b0, noise, nu)[2, 2])


shifts = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
widths = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
nus = [1, 2, 5, 10, 25]
settings = (
    [("shift", s, nce.Noise1D("gaussian", s, 1.0), 1.0) for s in shifts]
    + [("gaussian width", w, nce.Noise1D("gaussian", 0.0, w), 1.0)
       for w in widths]
    + [("uniform width", w, nce.Noise1D("uniform", 0.0, w), 1.0)
       for w in widths[1:]]
    + [("nu", v, nce.Noise1D("gaussian", 0.0, 1.0), float(v)) for v in nus])
study = {}
for i, setting in enumerate(tqdm(settings, desc="replicated fits")):
    kind, value, noise, nu = setting
    study[kind, value] = (replicate_sd(noise, nu, SEED + i),
                          theory_sd(noise, nu))
# A standard deviation estimated from R normal replicates has a relative
# standard error of about 1 / sqrt(2 (R - 1)).
rel_se = 1 / math.sqrt(2 * (N_REPS - 1))
print(f"sd of c-hat x sqrt(N), {N_REPS} replicates of N = {N_VAR:,};")
print(f"a replicate sd is uncertain by +-{100 * rel_se:.0f} %")
print(f"  {'setting':21s} {'replicates':>15s} {'theory':>7s} {'z':>5s}")
z_scores = []
for (kind, value), (emp, th) in study.items():
    z_scores.append((emp - th) / (rel_se * th))
    print(f"  {kind:15s} {value:5}  {emp:7.2f} +- {rel_se * emp:4.2f} "
          f"{th:7.2f} {z_scores[-1]:+5.1f}")
ml_cov = nce.nce_asymptotic_covariance(a0, b0, nce.Noise1D(), math.inf)
mle_sd = math.sqrt(ml_cov[2, 2])
print(f"maximum likelihood (nu -> infinity): {mle_sd:.3f}")
print(f"largest |z| over the {len(z_scores)} settings: "
      f"{max(map(abs, z_scores)):.1f}")
assert max(map(abs, z_scores)) < 4
# the theory never goes below maximum likelihood (Cramer-Rao)
assert all(th >= mle_sd for (kind, _), (_, th) in study.items()
           if kind == "nu")

# %% mystnb={"figure": {"caption": "Standard deviation of $\\hat c$ (times $\\sqrt N$): asymptotic theory (lines) against independent replicates (markers, with one standard error), as the noise shifts away from the data, as its width changes, and as $\\nu$ grows towards maximum likelihood (dashed).", "name": "fig-nce-noise-choice"}, "image": {"alt": "Three panels of the standard deviation of the estimated log normaliser. Left: it rises steeply as a unit Gaussian noise is shifted from 0 to 2.6 away from the data. Middle, on a log scale of noise width: a broad minimum for Gaussian noise about as wide as the data, rising for narrower or wider noise, with a separate curve for uniform noise. Right: it falls as the number of noise samples per datum grows from 1 to 30, towards the dashed maximum-likelihood level. The replicate markers, with error bars of one standard error, scatter around the theory curves by about the size of their bars."}} tags=["hide-input"]
fig, axes = style.figure(1, 3, width=10.5, height=3.3)
gauss = lambda loc, width: nce.Noise1D("gaussian", loc, width)
panels = [  # (kind, x label, grid, noise at x, nu at x)
    ("shift", "Gaussian noise N(μ, 1): shift μ", np.linspace(0, 2.6, 27),
     lambda s: gauss(s, 1.0), lambda s: 1.0),
    ("gaussian width", "noise width (Gaussian sd or uniform half-width)",
     np.geomspace(0.2, 10, 30), lambda w: gauss(0, w), lambda w: 1.0),
    ("nu", "ν (noise samples per datum)", np.geomspace(1, 30, 20),
     lambda v: gauss(0, 1.0), lambda v: float(v)),
]


def replicates(ax, kind, marker, colour, label):
    """Replicate sds of one kind, with +-1 standard error bars."""
    xs, sds = zip(*[(v, e) for (k, v), (e, _) in study.items() if k == kind])
    ax.errorbar(xs, sds, yerr=rel_se * np.array(sds), fmt=marker,
                color=colour, ms=4, capsize=2, label=label)


for ax, (kind, label, grid, make, nu_of) in zip(axes, panels):
    theory = [theory_sd(make(v), nu_of(v)) for v in grid]
    ax.plot(grid, theory, color=style.COLORS[0], label="theory")
    replicates(ax, kind, "o", style.COLORS[0], "replicates ± 1 se")
    ax.set(xlabel=label)
axes[1].set_xscale("log")
uni = np.geomspace(0.3, 10, 30)
uni_sd = [theory_sd(nce.Noise1D("uniform", 0, w), 1.0) for w in uni]
axes[1].plot(uni, uni_sd, color=style.COLORS[1], label="uniform: theory")
replicates(axes[1], "uniform width", "s", style.COLORS[1],
           "uniform: replicates")
axes[2].set_xscale("log")
axes[2].axhline(mle_sd, color="black", ls="--", lw=1,
                label="maximum likelihood")
axes[0].set(ylabel=r"sd of $\hat c$ $\times\sqrt{N}$")
for ax in axes:
    ax.legend(fontsize=7)
fig

# %% [markdown]
# The replicates scatter around the theory by about their error bars, none more than a few
# standard errors away (the z column above; each point is a standard deviation estimated from a
# limited number of replicates, itself uncertain by the percentage printed; shift 0 on
# the left and Gaussian width 1 in the middle are the same noise fitted with different seeds, and
# the gap between those two points is that uncertainty). A
# replicate that falls below the dashed maximum-likelihood line in the right panel does not beat
# the Cramér–Rao bound: its bar reaches the line, and the theory curve stays above it. Three
# lessons, with the theory's numbers (quadrature, no sampling) printed below:
#
# - **Noise far from the data is expensive.** Moving a unit Gaussian noise a few data standard
#   deviations away multiplies the standard deviation of $\hat c$ several times over, and the
#   data needed for the same precision by its square.
# - **Too narrow or too wide both hurt**, with a broad optimum for a Gaussian noise about as wide
#   as the data. A uniform noise narrower than the data still works for this model:
#   data outside the noise are classified with certainty and simply drop out, and the quartic
#   family is pinned down by the interval that remains. But its variance grows as the interval
#   shrinks, and a fit from a narrow interval can be far off in the tails.
# - **More noise helps, with diminishing returns**: the variance falls towards that of maximum
#   likelihood, and at $\nu = 25$ it is within a few percent of it.

# %%
data_sd = math.sqrt(m2)            # E x^2 of the quartic, computed above
base = theory_sd(gauss(0.0, 1.0), 1.0)
ratio = {s: theory_sd(gauss(s, 1.0), 1.0) / base for s in (2.5, 3.0)}
widths_fine = np.geomspace(0.2, 2.0, 61)
best = min(widths_fine, key=lambda w: theory_sd(gauss(0.0, w), 1.0))
nu25 = theory_sd(gauss(0.0, 1.0), 25.0) / mle_sd
print(f"data sd {data_sd:.3f}")
for s, r in ratio.items():
    print(f"shift {s}: sd of c-hat x {r:.2f}, data needed x {r * r:.1f}")
print(f"best Gaussian noise width (sd) {best:.2f}")
print(f"nu = 25: sd {100 * (nu25 - 1):.1f} % above maximum likelihood")
assert 3 < ratio[2.5] < ratio[3.0] and 0.5 * data_sd < best < 2 * data_sd
assert 1 < nu25 < 1.05

# %% [markdown]
# The same panel as before, now with the noise under your control (with $a = 0.5$, $b = 0.25$),
# in {numref}`fig-nce-noise-panel`. The title shows the asymptotic standard deviation of
# $\hat c$.

# %% mystnb={"figure": {"caption": "The NCE fit of $e^{-0.5 x^2 - 0.25 x^4}$ with the noise under control: its kind (Gaussian or uniform), its width and $\\nu$. Watch the fit and the asymptotic standard deviation of $\\hat c$ in the left title.", "name": "fig-nce-noise-panel"}} tags=["hide-input"]
demo(functools.partial(nce.plot_quartic_nce, a=0.5, b=0.25),
     noise=Choice(["gaussian", "uniform"]),
     width=Choice([0.5, 1.0, 2.0, 4.0], value=1.0),
     nu=Choice([1.0, 5.0, 25.0], value=1.0, label="ν"))

# %% [markdown]
# ## Negative sampling is NCE with the normaliser fixed
#
# Word2vec's skip-gram model predicts a context word $j$ from a centre word $i$ (words named by
# their indices, as in Su's essay) with a softmax over the vocabulary,
# $p(j\mid i) = e^{\langle u_i, v_j\rangle}/Z_i$, one normaliser per word. Its *negative sampling*
# objective replaces the softmax by the classification of {eq}`eq-su`: an observed pair against
# $k$ pairs whose context is drawn from a noise distribution $q$,
#
# $$
# \ell(i, j) = -\log\sigma\big(\langle u_i, v_j\rangle\big)
# - \sum_{m=1}^{k}\log\sigma\big(-\langle u_i, v_{j_m}\rangle\big),\qquad j_m \sim q .
# $$ (eq-sgns)
#
# Compared with {eq}`eq-nce`, $\nu = k$, the offset is fixed at zero and the noise density is
# missing from the logit: Su's form, whose scores must absorb $-\log q$ as the energy did in
# Su's form with a noise that is not uniform. Here $q$ is the unigram distribution of words,
# $\#(j)/|D|$, or Mikolov et al.'s $\#(j)^{3/4}$ normalised. (Collobert and Weston had trained
# word vectors by ranking real against corrupted text already in 2008.)
#
# Su mentions having heard that when the offset $\gamma$ is learned instead of fixed, it stays
# near zero. Fixing it costs nothing, for a simple reason: the loss depends on the scores and
# $\gamma$ only through $\langle u_i, v_j\rangle - \gamma$, and vectors that can shift every score
# by the same amount (any full-rank table can) undo any value of $\gamma$. The offset is not
# identified; where a learned one ends is decided by the optimiser, not the data. Below, the
# expected loss of a small random co-occurrence table is minimised (`fit_sgns_population`, L-BFGS
# from small random vectors, no sampling noise) with $\gamma$ fixed at zero and with $\gamma$
# learned from three different starts.

# %%
gen = torch.Generator().manual_seed(SEED)
table = 1 + 50 * torch.rand(8, 8, generator=gen, dtype=torch.float64)
for k in (1, 5):
    fixed, _ = nce.fit_sgns_population(table, k, rounds=2)
    print(f"k = {k} (log k = {math.log(k):.2f}):")
    ends = []
    for start in (-2.0, 0.0, 3.0):
        logits, gamma = nce.fit_sgns_population(table, k, offset=start,
                                                rounds=2)
        ends.append(gamma)
        gap = (logits - fixed).abs().max().item()
        print(f"  gamma from {start:+.0f} ends at {gamma:.3f}; logits "
              f"differ from gamma = 0's by {gap:.1e}")
        assert gap < 1e-3
    assert all(abs(end - math.log(k)) < 0.5 for end in ends)

# %% [markdown]
# The logits are the same with or without the offset, and the learned $\gamma$ does not stay at
# its start: it ends near $\log k$ (exactly where depends on the optimiser's path, since the
# loss is flat along the shift). The vectors start small, so early on the only quick way to
# lower the loss is a common shift of all logits, and the best common logit for one positive
# against $k$ negatives is $-\log k$ (solve $k\,\sigma(s) = \sigma(-s)$); $\gamma$ takes that value
# and the vectors fit the rest around it. With Su's $k = 1$ that is close to zero, one way to read
# the report he passes on; with word2vec's usual $k = 5$ to $15$ this argument would put it near
# $\log k$ instead.
#
# Now the consistency argument, with the scores absorbing what the logit lacks. Per cell $(i,j)$
# of the co-occurrence table, the expected loss is
# $\#(i,j)\,\mathrm{softplus}(-s) + k\,\#(i)\,q(j)\,\mathrm{softplus}(s)$ for the score
# $s = \langle u_i, v_j\rangle$; setting its derivative to zero gives
# $\sigma(s) = \#(i,j)/(\#(i,j) + k\,\#(i)\,q(j))$, that is (Levy and Goldberg 2014),
#
# $$
# \begin{aligned}
# \langle u_i, v_j\rangle &= \log\frac{\#(i,j)}{\#(i)\,q(j)} - \log k\\
# &\overset{q\,=\,\text{unigram}}{=}\; \log\frac{p(i,j)}{p(i)\,p(j)} - \log k
# = \mathrm{PMI}(i,j) - \log k .
# \end{aligned}
# $$ (eq-shifted-pmi)
#
# With Su's single negative, $k = 1$, the inner product is the pointwise mutual information. Su
# reads this as the reason negative sampling gives better vectors than hierarchical softmax:
# the softmax fits the *conditional* probability $p(j\mid i)$, which is asymmetric, while negative
# sampling fits PMI, which is symmetric in $i$ and $j$.
#
# We test {eq}`eq-shifted-pmi` on a synthetic corpus: 30 words with Zipf-like frequencies and three
# overlapping topics; a pair picks a topic and draws both words from it. First the exact
# statement, with no sampling at all: for pairs drawn from the topic model, the expected loss
# (`sgns_population_loss`) is minimised by the scores of {eq}`eq-shifted-pmi`, computed from the
# model's joint distribution. Full-rank vectors ($d = V$) can represent any score table, so this
# is where skip-gram's vectors must go. (The test suite also trains $U$ and $V$ on the expected
# loss and lands there.)

# %%
gen = torch.Generator().manual_seed(SEED)
V = 30
centres, contexts, joint = nce.topic_corpus(V, n_topics=3, n_pairs=N_PAIRS,
                                            generator=gen)


def cooccurrence(centres, contexts):
    """The V x V table of pair counts #(i, j)."""
    counts = torch.zeros(V, V, dtype=torch.float64)
    ones = torch.ones(centres.numel(), dtype=torch.float64)
    return counts.index_put_((centres, contexts), ones, accumulate=True)


counts = cooccurrence(centres, contexts)
freq = counts.sum(0)
print(f"{N_PAIRS:,} pairs over {V} words; smallest cell count "
      f"{int(counts.min())}")
print(f"the most frequent word is {freq.max() / freq.min():.0f} times "
      f"as frequent as the rarest")

k = 5
# pairs drawn from the topic model itself:
s_star = nce.shifted_pmi(joint, k).requires_grad_()
loss_star = nce.sgns_population_loss(s_star, joint, k)
(grad,) = torch.autograd.grad(loss_star, s_star)
bumps = []
for _ in range(5):
    nudge = 0.05 * torch.randn(V, V, generator=gen, dtype=torch.float64)
    nudged = nce.sgns_population_loss(s_star.detach() + nudge, joint, k)
    bumps.append(nudged.item() - loss_star.item())
print(f"k = {k}: at PMI - log k the expected loss has gradient of size "
      f"{grad.abs().max():.1e};")
print(f"random nudges of the scores raise it by {min(bumps):.1e} or more")
assert grad.abs().max() < 1e-12 and min(bumps) > 0

# %% [markdown]
# Real word vectors have far fewer dimensions than words, $d \ll V$. Then the vectors cannot reach
# {eq}`eq-shifted-pmi` everywhere: minimising the expected loss becomes a frequency-weighted
# low-rank fit of the shifted PMI table (Levy and Goldberg's reading of word2vec as an implicit
# matrix factorisation). The same population fit at a few ranks:

# %%
target = nce.shifted_pmi(joint, 1)
best_loss = nce.sgns_population_loss(target, joint, 1).item()
# frequency-weighted root mean square
pop_rms = lambda m: math.sqrt(float((joint * m ** 2).sum()))
print(f"{'d':>3s} {'weighted RMS from PMI':>22s} {'excess loss':>12s}")
gaps = []
for dim in (2, 5):
    logits, _ = nce.fit_sgns_population(joint, 1, dim=dim, rounds=2)
    gaps.append(nce.sgns_population_loss(logits, joint, 1).item() - best_loss)
    print(f"{dim:3d} {pop_rms(logits - target):22.3f} {gaps[-1]:12.2e}")
print(f"{V:3d} {0:22.3f} {0:12.2e}   (the closed form)")
assert gaps[0] > 10 * gaps[1] > 0

# %% [markdown]
# The excess loss and the distance to PMI fall fast with the rank, and little is left at $d = 5$
# for this small corpus. The rest of the chapter keeps $d = V$, where the closed form is exact.
#
# Now the real procedure, as in Su's $k = 1$ case: stochastic gradient steps on minibatches of
# observed pairs, with the negatives drawn afresh each step from the unigram distribution by
# `NoiseSampler`. The scores approach PMI; the spread that remains is largest for the rarest pairs,
# whose gradient signal is proportional to their frequency.

# %%
scores, losses = nce.train_sgns(centres, contexts, V, k=1, alpha=1.0,
                                steps=SGD_STEPS, seed=SEED)
pmi = nce.shifted_pmi(counts, 1)


def wrms(m, counts=counts):
    """Frequency-weighted RMS of a table over the cells seen both ways."""
    both = (counts > 0) & (counts.T > 0)   # all of them, in full runs
    return math.sqrt(float((counts / counts.sum() * m ** 2)[both].sum()))


rms = wrms(scores - pmi)
print(f"k = 1, unigram noise: loss {losses[:100].mean():.3f} -> "
      f"{losses[-100:].mean():.3f}")
seen = (counts > 0) & (counts.T > 0)
print(f"frequency-weighted RMS distance to PMI {rms:.3f} "
      f"(PMI ranges over {pmi[seen].min():.2f}..{pmi[seen].max():.2f})")
cond = torch.log(counts / counts.sum(1, keepdim=True))     # log p(j | i)
asym = lambda m, counts=counts: wrms(m - m.T, counts)
print("asymmetry |S - S^T| (weighted RMS):")
print(f"  learned scores {asym(scores):.3f}, PMI {asym(pmi):.3f}, "
      f"log p(j|i) {asym(cond):.3f}")
assert rms < 0.15 and asym(scores) < 0.5 * asym(cond)

# %% [markdown]
# The learned score table is about as symmetric as PMI and much less so than the conditional
# log-probability. But this cannot confirm Su's reading: the topic model draws the two words of a
# pair the same way, $p(i,j) = p(j,i)$, so PMI is symmetric *by construction* (what asymmetry the
# counts show is sampling noise), and any method that reaches PMI inherits the symmetry. Two
# changes break it, one in the corpus and one in the noise.
#
# **A directed corpus.** Let the pairs be (word, next word) of a text generated by a Markov chain
# whose next word tends to lie a little further round the circle of topics, so that $p(i,j) \ne
# p(j,i)$. Negative sampling still learns PMI, and PMI is now asymmetric:

# %%
gen = torch.Generator().manual_seed(SEED + 1)
position = torch.arange(V, dtype=torch.float64) / V
ahead = (position[None, :] - position[:, None] - 1 / 6 + 0.5) % 1.0 - 0.5
zipf = (torch.arange(V, dtype=torch.float64) + 1) ** -1.0
trans = zipf[None, :] * torch.exp(3.0 * torch.cos(2 * math.pi * ahead))
trans = trans / trans.sum(1, keepdim=True)     # p(next = j | word = i)
stationary = torch.linalg.matrix_power(trans, 512)[0]
joint_dir = stationary[:, None] * trans        # p(i, j), not symmetric
cells = nce.NoiseSampler(joint_dir.flatten()).sample(N_PAIRS, gen)
centres_dir, contexts_dir = cells // V, cells % V
counts_dir = cooccurrence(centres_dir, contexts_dir)
scores_dir, _ = nce.train_sgns(centres_dir, contexts_dir, V, k=1,
                               steps=SGD_STEPS, seed=SEED)
pmi_dir = nce.shifted_pmi(counts_dir, 1)
cond_dir = torch.log(counts_dir / counts_dir.sum(1, keepdim=True))
exact_dir = nce.shifted_pmi(joint_dir, 1)      # PMI of the chain itself
print("directed corpus, asymmetry |S - S^T| (weighted RMS):")
print(f"  learned scores {asym(scores_dir, counts_dir):.3f}, "
      f"PMI {asym(pmi_dir, counts_dir):.3f} "
      f"(exact {asym(exact_dir, counts_dir):.3f}), "
      f"log p(j|i) {asym(cond_dir, counts_dir):.3f}")
print(f"  distance of the learned scores to PMI "
      f"{wrms(scores_dir - pmi_dir, counts_dir):.3f}")
print(f"symmetric corpus, the noise level of PMI's asymmetry: "
      f"{asym(pmi):.3f}")
assert wrms(scores_dir - pmi_dir, counts_dir) < 0.15
assert asym(exact_dir, counts_dir) > 2 * asym(pmi)
assert asym(scores_dir, counts_dir) > 0.5 * asym(exact_dir, counts_dir)

# %% [markdown]
# Negative sampling does not make anything symmetric: it returns the asymmetry the pair counts
# have. Word2vec's pair counts are symmetric because its context window looks both ways, so
# every pair is counted in both directions; its PMI is symmetric for that reason.
#
# **Word2vec's noise.** The difference between the two targets is a term that depends on the
# context word alone: $\log p(j\mid i) = \mathrm{PMI}(i,j) + \log p(j)$. The asymmetry Su points at
# is word frequency: a frequent word is a likely context of almost anything, while few words are
# likely contexts of it. Now put $q \propto p(j)^\alpha$ into {eq}`eq-shifted-pmi`: the scores
# become $\mathrm{PMI}(i,j) + (1-\alpha)\log p(j) + \text{const}$, so on symmetric counts
#
# $$
# S - S^\top = (1 - \alpha)\,\big(\log p(j\mid i) - \log p(i\mid j)\big).
# $$ (eq-nce-alpha-asym)
#
# The exponent moves the target from the conditional ($\alpha = 0$, uniform noise; exercise 3) to
# PMI ($\alpha = 1$). Word2vec's default $\alpha = 3/4$ keeps a quarter of the conditional's
# asymmetry. Checked exactly on the topic model's joint distribution:

# %%
p_j = joint.sum(0)
cond_pop = torch.log(joint / joint.sum(1, keepdim=True))
pop_asym = lambda m: pop_rms(m - m.T)
print(f"{'alpha':>5s} {'asymmetry':>10s} {'/ that of log p(j|i)':>21s}")
for alpha in (1.0, 0.75, 0.5, 0.0):
    s_alpha = nce.shifted_pmi(joint, 1, nce.unigram_noise(p_j, alpha))
    share = pop_asym(s_alpha) / pop_asym(cond_pop)
    print(f"{alpha:5.2f} {pop_asym(s_alpha):10.4f} {share:21.4f}")
    assert torch.allclose(s_alpha - s_alpha.T,
                          (1 - alpha) * (cond_pop - cond_pop.T))

# %% [markdown]
# What this does to Su's argument. Mikolov et al. (2013, section 2.2; their result, not measured
# here) report that $\alpha = 3/4$ worked clearly better than both the unigram noise ($\alpha = 1$,
# exact PMI, symmetric) and the uniform one ($\alpha = 0$, the conditional). The vectors word2vec
# is known for therefore fit neither target: their table is not symmetric, and the best exponent is
# not the symmetric one. Symmetry as such cannot be what makes negative sampling work well. What
# survives of Su's argument is narrower: the two targets differ only in how much of each context
# word's frequency, $\log p(j)$, goes into its score, and damping that frequency term (without
# removing it) gave the better vectors. Su's comparison is also a reading, not a measurement:
# hierarchical softmax approximates the conditional through a tree of binary decisions, and neither
# the essay nor this chapter compares the two on a real task.
#
# Vary $k$ and the noise exponent below. With $\alpha = 1$ the scores follow
# $\mathrm{PMI} - \log k$, shifted down by $\log k$ as $k$ grows. With $\alpha = 0.75$ they follow
# the general form in {eq}`eq-shifted-pmi`, $\log\frac{\#(i,j)}{\#(i)\,q(j)} - \log k$ (left
# panel), which is PMI plus $\frac14\log p(j)$ and a constant: larger for frequent contexts, which
# $\#^{3/4}$ samples less often than they occur (right panel of {numref}`fig-nce-negative-sampling`).

# %% mystnb={"figure": {"caption": "Skip-gram scores learned with $k$ negatives from $q \\propto \\#(j)^\\alpha$ on the 30-word corpus, one dot per word pair $(i, j)$. Left: against the closed form $\\log\\frac{\\#(i,j)}{\\#(i)\\,q(j)} - \\log k$ for this noise; right: against $\\mathrm{PMI} - \\log k$, which they match only for $\\alpha = 1$.", "name": "fig-nce-negative-sampling"}} tags=["hide-input"]
demo(nce.plot_negative_sampling, k=Choice([1, 2, 5, 10, 15], value=1),
     alpha=Choice([1.0, 0.75], value=1.0, label="α"))

# %% [markdown]
# ## Normalisation for free
#
# Both models come out *self-normalised*. For the quartic, {eq}`eq-consistency` says
# $\int e^{G(x;\hat\theta) - \hat c}\,dx \approx 1$ with no integral ever computed during training.
# For negative sampling, {eq}`eq-shifted-pmi` says $k\,q(j)\,e^{\langle u_i, v_j\rangle} \approx p(j\mid i)$,
# so the model $p(j\mid i) \approx k\,q(j)\,e^{\langle u_i, v_j\rangle}$ needs no softmax: its sums over
# contexts are close to one for every word. The mass of the quartic fit comes with its standard
# deviation from {eq}`eq-nce-cov` (by the delta method); the word sums are checked against a
# stated tolerance of 0.15, the size of the SGD noise seen above. (Mnih and Teh relied on the same effect in 2012,
# training neural language models by NCE with the normalisers fixed to one instead of learned.)

# %%
a_hat, b_hat, c_hat = fit_su.a.item(), fit_su.b.item(), fit_su.log_z.item()
fitted = lambda x: math.exp(-a_hat * x * x - b_hat * x**4 - c_hat)
mass = integrate.quad(fitted, -np.inf, np.inf)[0]
# log mass = log Z(a, b) - c, whose gradient in (a, b, c) is -(E x^2, E x^4, 1)
slope = -np.array([m2, m4, 1.0])
cov = nce.nce_asymptotic_covariance(a0, b0, su_noise, 1.0)
mass_sd = math.sqrt(slope @ cov @ slope / N_DATA)
print(f"quartic fit: integral of exp(G - c) = {mass:.4f} "
      f"(predicted sd {mass_sd:.4f})")
q = counts.sum(0) / counts.sum()
row_sums = (1 * q * scores.exp()).sum(1)
print(f"negative sampling, k = 1: sum_j k q(j) exp(s_ij) over the {V} words")
print(f"ranges {row_sums.min():.3f}..{row_sums.max():.3f}")
assert abs(mass - 1) < 4 * mass_sd and (row_sums - 1).abs().max() < 0.15

# %% [markdown]
# ## Why it is fast
#
# The point of all this is cost. A full softmax step computes all $V$ scores for every example
# and sends gradient into every row of the output table: time $O(B\,V\,d)$ for a batch of $B$
# examples, a $B \times V$ matrix of logits, and a dense $V \times d$ gradient. Negative sampling
# touches $k + 1$ rows per example: $O(B\,k\,d)$, whatever the vocabulary, and with
# `nn.Embedding(sparse=True)` the gradient of the output table is sparse (only the rows used).
# Drawing the negatives must not cost $O(V)$ either: `NoiseSampler` uses an alias table, built
# once, so a draw is one random number and two lookups. Below, one forward and backward pass of
# each, with $B = 256$ and $d = 64$, for growing vocabularies (the negatives are drawn inside the
# timed step).

# %% tags=["timing"]
def step_times(vocab, batch=256, dim=64, k=10, repeats=3):
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)                   # the embeddings' initial values
    emb_in = torch.nn.Embedding(vocab, dim, sparse=True)
    emb_out = torch.nn.Embedding(vocab, dim, sparse=True)
    zipf = 1.0 / torch.arange(1, vocab + 1)
    sampler = nce.NoiseSampler.unigram(zipf, alpha=0.75)
    centre, context = sampler.sample(batch, gen), sampler.sample(batch, gen)

    def negative_sampling():
        neg = emb_out(sampler.sample((batch, k), gen))
        nce.negative_sampling_loss(emb_in(centre), emb_out(context),
                                   neg).backward()

    def full_softmax():
        nce.full_softmax_loss(emb_in(centre), emb_out.weight,
                              context).backward()

    best = []
    for fn in (negative_sampling, full_softmax):
        fn()
        times = []
        for _ in range(repeats):
            emb_in.weight.grad = emb_out.weight.grad = None
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best.append(min(times))
    return best


print(f"{'V':>9s} {'negative sampling':>18s} {'full softmax':>14s} "
      f"{'ratio':>8s}")
ratios = []
for vocab in companion.budget(full=[1_000, 10_000, 100_000],
                              smoke=[1_000, 10_000]):
    ns, full = step_times(vocab)
    ratios.append(full / ns)
    print(f"{vocab:9,d} {ns * 1e3:15.2f} ms {full * 1e3:11.2f} ms "
          f"{full / ns:7.0f}x")
assert ratios[-1] > ratios[0]      # the advantage grows with V

# %% [markdown]
# The negative-sampling column stays flat while the full softmax grows in proportion to $V$
# (these are wall-clock times of this run, measured here, and vary with the machine's load).
# `make bench` (`benchmarks/bench_nce.py`) runs the full-size comparison, a batch of 1024 with
# $d = 128$ up to $V = 10^6$, and prints the same ratio there; it is too slow for this page.
#
# The memory follows the same pattern. The sparse gradient of the output table holds only the
# rows a batch touched:

# %%
vocab, batch, dim, k = 100_000, 256, 64, 10
gen = torch.Generator().manual_seed(SEED)
torch.manual_seed(SEED)
emb_in, emb_out = (torch.nn.Embedding(vocab, dim, sparse=True)
                   for _ in range(2))
zipf = 1.0 / torch.arange(1, vocab + 1)
sampler = nce.NoiseSampler.unigram(zipf, alpha=0.75)
centre, context = sampler.sample(batch, gen), sampler.sample(batch, gen)
neg = emb_out(sampler.sample((batch, k), gen))
nce.negative_sampling_loss(emb_in(centre), emb_out(context), neg).backward()
grad = emb_out.weight.grad.coalesce()
rows = grad.indices().shape[1]
print(f"V = {vocab:,}: the output gradient is sparse with {rows:,} distinct "
      f"rows")
print(f"(at most B (k + 1) = {batch * (k + 1):,}); a dense one has "
      f"{vocab:,} rows")
assert grad.is_sparse and rows <= batch * (k + 1)

# %% [markdown]
# ## Summary
#
# - An energy model {eq}`eq-energy`, the form that softmax classifiers and maximum-entropy
#   densities share, needs its normaliser for maximum likelihood; NCE learns it as a
#   parameter by classifying data against noise, {eq}`eq-su` in Su's form and {eq}`eq-nce` with
#   $\nu$ noise samples per datum.
# - The population loss is a weighted KL divergence {eq}`eq-kl`; its minimum is the Bayes-optimal
#   classifier, which makes $G - c$ the true log-density {eq}`eq-consistency`. On the quartic
#   {eq}`eq-quartic` the gradient vanishes at the truth and the fit recovers $\log Z$. With the
#   noise density left out of the logit (Su's form), the energy must absorb $-\log p_n$: exact for
#   uniform noise, and for other noise only when the model family can.
# - The noise sets the variance {eq}`eq-nce-cov`: keep it close to the data, not too narrow or too
#   wide; more noise samples per datum approach maximum likelihood.
# - Word2vec's negative sampling {eq}`eq-sgns` is NCE with the normaliser fixed (a learned offset
#   is not identified); its scores learn $\mathrm{PMI} - \log k$ {eq}`eq-shifted-pmi` (PMI itself
#   for $k = 1$), with fewer dimensions a weighted low-rank fit of it, and the trained model is
#   self-normalised.
# - Symmetry comes from the pair counts, not from negative sampling, and word2vec's noise exponent
#   $3/4$ keeps a quarter of the conditional's asymmetry {eq}`eq-nce-alpha-asym`: Su's symmetry
#   argument reduces to how much word frequency enters the scores.
# - A step costs $O(B\,k\,d)$ instead of $O(B\,V\,d)$, with a sparse gradient and an $O(1)$ noise
#   sampler: flat in the vocabulary size.
#
# ## References
#
# - Su Jianlin (2018). [“噪声对比估计”杂谈:曲径通幽之妙](https://kexue.fm/archives/5617)
#   ("Notes on noise contrastive estimation: a winding path to the goal"). kexue.fm,
#   13 June 2018.
# - Michael Gutmann and Aapo Hyvärinen (2010). Noise-contrastive estimation: A new estimation
#   principle for unnormalized statistical models. *AISTATS 2010*, PMLR 9, 297–304.
#   [proceedings.mlr.press/v9/gutmann10a](https://proceedings.mlr.press/v9/gutmann10a.html)
# - Michael U. Gutmann and Aapo Hyvärinen (2012). Noise-Contrastive Estimation of Unnormalized
#   Statistical Models, with Applications to Natural Image Statistics. *Journal of Machine
#   Learning Research* 13, 307–361. [jmlr.org/papers/v13/gutmann12a](https://jmlr.org/papers/v13/gutmann12a.html)
# - Tomas Mikolov, Ilya Sutskever, Kai Chen, Greg Corrado and Jeffrey Dean (2013). Distributed
#   Representations of Words and Phrases and their Compositionality. *NeurIPS 2013*.
#   [arXiv:1310.4546](https://arxiv.org/abs/1310.4546)
# - Omer Levy and Yoav Goldberg (2014). Neural Word Embedding as Implicit Matrix Factorization.
#   *NeurIPS 2014*.
#   [papers.nips.cc](https://papers.nips.cc/paper_files/paper/2014/hash/feab05aa91085b7a8012516bc3533958-Abstract.html)
# - Ronan Collobert and Jason Weston (2008). A Unified Architecture for Natural Language
#   Processing: Deep Neural Networks with Multitask Learning. *ICML 2008*.
#   [doi:10.1145/1390156.1390177](https://doi.org/10.1145/1390156.1390177)
# - Andriy Mnih and Yee Whye Teh (2012). A Fast and Simple Algorithm for Training Neural
#   Probabilistic Language Models. *ICML 2012*. [arXiv:1206.6426](https://arxiv.org/abs/1206.6426)
# - Alastair J. Walker (1977). An Efficient Method for Generating Discrete Random Variables with
#   General Distributions. *ACM Transactions on Mathematical Software* 3(3), 253–256.
#   [doi:10.1145/355744.355749](https://doi.org/10.1145/355744.355749)
#
# ## Exercises
#
# 1. Show that the logit of the Bayes-optimal classifier between data and $\nu$-times-more-frequent
#    noise is $\log p_d - \log(\nu p_n)$, and conclude from {eq}`eq-nce` that the optimal $c$ is
#    $\log Z$ when $G = \log p_d + \log Z$.
#
# :::{admonition} Solution
# :class: dropdown
#
# A point comes from the data with prior weight $p_d(x)$ and from the noise with weight
# $\nu p_n(x)$ (there are $\nu$ noise samples per datum). Bayes' rule gives
# $P(1\mid x) = p_d/(p_d + \nu p_n) = \sigma\big(\log p_d - \log(\nu p_n)\big)$. The logit of
# {eq}`eq-nce` is $h = G - c - \log(\nu p_n)$, so $h$ equals the optimal logit everywhere exactly
# when $G - c = \log p_d$; with $G = \log p_d + \log Z$ this is $c = \log Z$.
# :::
#
# 2. Derive {eq}`eq-shifted-pmi`: minimise
#    $f(s) = \#(i,j)\,\mathrm{softplus}(-s) + k\,\#(i)\,q(j)\,\mathrm{softplus}(s)$ over $s$.
#
# :::{admonition} Solution
# :class: dropdown
#
# With $\mathrm{softplus}'(s) = \sigma(s)$: $f'(s) = -\#(i,j)\,\sigma(-s) + k\,\#(i)\,q(j)\,\sigma(s)$.
# Zero when $\sigma(s)/\sigma(-s) = e^{s} = \#(i,j)/(k\,\#(i)\,q(j))$, so
# $s = \log\frac{\#(i,j)}{\#(i)\,q(j)} - \log k$; $f$ is convex, so this is the minimum. With
# $q(j) = \#(j)/|D|$ the first term is $\log\frac{\#(i,j)\,|D|}{\#(i)\,\#(j)} = \mathrm{PMI}(i,j)$.
# :::
#
# 3. Su's $k = 1$ negative sampling with *uniform* noise $q = 1/V$: what do the scores learn, and is
#    the result symmetric? Check it with `shifted_pmi`.
#
# :::{admonition} Solution
# :class: dropdown
#
# By {eq}`eq-shifted-pmi`, $s = \log\frac{\#(i,j)}{\#(i)/V} = \log p(j\mid i) + \log V$: the
# conditional log-probability up to a constant, which is asymmetric, like the softmax's target
# (the case $\alpha = 0$ of {eq}`eq-nce-alpha-asym`).
#
# ```python
# uniform = torch.full((V,), 1 / V, dtype=torch.float64)
# s = nce.shifted_pmi(counts, 1, uniform)
# print(torch.allclose(s, cond + math.log(V)))
# print(asym(s), asym(nce.shifted_pmi(counts, 1)))
# ```
# :::
#
# 4. Uniform noise on $[-1, 1]$ misses part of the data of $e^{-0.5x^2-0.25x^4}$, yet the fit of
#    the quartic is still consistent. Why, and what is the price?
#
# :::{admonition} Solution
# :class: dropdown
#
# Data outside $[-1, 1]$ have $p_n = 0$: the classifier calls them data with certainty and they
# add nothing to the loss. Inside, {eq}`eq-consistency` still forces $G - c = \log p_d$, and a
# quadratic-plus-quartic function is determined by its values on any interval, so $(a, b, c)$ are
# identified. The price is variance: the information comes from a small interval where $x^2$ and
# $x^4$ are hard to tell apart, and {eq}`eq-nce-cov` grows (try `width=1.0` and `0.5` with
# `noise="uniform"` in {numref}`fig-nce-noise-panel`).
# :::
