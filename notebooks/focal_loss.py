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
# # Focal loss from hard truncation: a loss that fades instead of stopping
#
# :::{admonition} What you will understand by the end
# - why "stop training on samples that are already right" (hard truncation) is a tempting
#   idea with a flaw: a zero gradient tells a correct sample nothing about how to *stay* correct;
# - how replacing the step in that rule by a steep sigmoid gives a smooth loss, and why, at
#   steepness 1, it *is* focal loss with $\gamma = 1$ for two classes but not for three or more;
# - the focal loss of Lin et al., its $\alpha$ weight and its closed-form gradient, computed
#   stably from logits;
# - what focal loss does, and does not do, on a small imbalanced problem, and what share of the
#   loss the easy negatives carry;
# - how fast each loss learns, and what hard truncation does to the samples near its threshold.
# :::
#
# **Article.** Su Jianlin,
# [从loss的硬截断、软化到focal loss](https://kexue.fm/archives/4733)
# ("From hard truncation and softening of the loss to focal loss"; kexue.fm, 2017-12-25).
# Su had earlier used a hand-made loss for text classification: cross entropy that ignores any
# sample the model already classifies with enough confidence. When the focal-loss paper appeared
# (Lin, Goyal, Girshick, He and Dollár, *Focal Loss for Dense Object Detection*, ICCV 2017), he
# showed that smoothing his rule leads straight to it. This chapter follows that path and checks
# each step, with the kernels of `companion.focal`.

# %%
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

import companion
from companion import data
from companion import focal as fo
from companion import style
from companion.progress import tqdm
from companion.widgets import Choice, LogRange, Range, demo

# The networks here are tiny: one thread is faster than handing each small
# operation to two (and far faster when the machine is busy and the second
# thread must be waited for).
torch.set_num_threads(1)
SEED = 0
SEEDS = companion.budget(full=3, smoke=1)     # repeats of each training run
EPOCHS = companion.budget(full=60, smoke=6)    # for the learning-speed runs
STEPS = companion.budget(full=300, smoke=60)   # Adam steps, imbalanced problem
print(f"{SEEDS} seed(s) per training run, {EPOCHS} epochs, {STEPS} Adam steps")

# %% [markdown]
# ## Cross entropy from a logit
#
# A binary classifier outputs a logit $x$ and the probability $\hat y = \sigma(x)$ that the
# label is $y = 1$; note $1 - \sigma(x) = \sigma(-x)$. Cross entropy is then
#
# $$
# L_{\text{ce}} = -y\log\hat y - (1-y)\log(1-\hat y)
# = \begin{cases} -\log\sigma(x), & y = 1,\\ -\log\sigma(-x), & y = 0.\end{cases}
# $$ (eq-ce)
#
# Both cases are one function of the *signed logit* $z = x$ for positives and $z = -x$ for
# negatives: $L_{\text{ce}} = -\log\sigma(z) = \log(1 + e^{-z})$, the softplus of $-z$, and
# $p_t = \sigma(z)$ is the probability the model gives to the true class. Computed this way,
# from the logit, it never takes the logarithm of a probability that has rounded to 0 or 1.
# Every loss in this chapter is this cross entropy times a weight. With the weight set to 1,
# `companion.focal.focal_bce` must give PyTorch's own loss. It does, and where the two differ at
# all it is PyTorch's that is off: its formula subtracts two nearly equal numbers when the loss
# is tiny, while $-\log\sigma(z)$ never does. The exact reference below is the softplus written
# with Python's `math` module, one element at a time.

# %%
g = torch.Generator().manual_seed(SEED)
x = torch.randn(10_000, generator=g, dtype=torch.float64) * 5
y = (torch.rand(10_000, generator=g) < 0.3).double()
ours = fo.focal_bce(x, y, gamma=0.0, reduction="none")
torch_ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")


def softplus_exact(v):
    """log(1 + e^v) for one Python float, without overflow."""
    return max(v, 0) + math.log1p(math.exp(-abs(v)))


# cross entropy: softplus(-x) for a positive, softplus(x) for a negative
exact = torch.tensor([softplus_exact(-v if label else v)
                      for v, label in zip(x.tolist(), y.tolist())],
                     dtype=torch.float64)
rel_ours = ((ours - exact) / exact).abs().max()
rel_torch = ((torch_ce - exact) / exact).abs().max()
print("largest difference from F.binary_cross_entropy_with_logits: "
      f"{(ours - torch_ce).abs().max():.1e}")
print(f"largest relative error against the exact values: ours {rel_ours:.1e},"
      f" PyTorch's {rel_torch:.1e}")
assert (ours - torch_ce).abs().max() < 1e-14 and rel_ours < 1e-15

# %% [markdown]
# ## Hard truncation: stop pushing once a sample is right
#
# Cross entropy never stops asking for more: a positive at $\hat y = 0.99$ still has a loss of
# 0.01 and a gradient that pushes it towards 1. Su's earlier rule (in his text-classification
# series, kexue.fm/archives/4293) is to stop there: pick a threshold $m \ge \tfrac12$ and give no
# loss to positives with $\hat y > m$ nor to negatives with $\hat y < 1 - m$,
#
# $$
# \begin{aligned}
# L^{\text{hard}} &= \lambda(y, \hat y)\,L_{\text{ce}},\\
# \lambda(y, \hat y) &= \begin{cases} 0, & y = 1 \text{ and } \hat y > m, \text{ or } y = 0 \text{ and } \hat y < 1 - m,\\
# 1, & \text{otherwise.}\end{cases}
# \end{aligned}
# $$ (eq-hard)
#
# In terms of the signed logit the rule reads "no loss once $p_t > m$", that is once
# $z > \operatorname{logit} m = \log\frac{m}{1-m}$. The idea resembles hard-example mining:
# spend the updates on the samples that are still wrong or barely right. With $m = \tfrac12$,
# every correctly classified sample is dropped.
#
# Its weakness is in the gradient. The factor $\lambda$ is a step: its own derivative is zero, so
# the gradient of $L^{\text{hard}}$ is the cross-entropy gradient on kept samples and *exactly*
# zero on dropped ones. A sample that has just crossed the threshold gets no further push, and
# nothing in the loss resists when updates made for other samples drag it back. Su compares it to
# a teacher who stops paying attention to a pupil the moment the pupil passes: the pupil learns
# to pass, not to stay above the bar. The samples then hover around the threshold, crossing
# back and forth, and training takes longer. We will measure that below.

# %%
xs = torch.tensor([-3.0, -0.5, 0.2, 0.5, 3.0], dtype=torch.float64,
                  requires_grad=True)
ones = torch.ones_like(xs)
for m in (0.5, 0.6):
    loss = fo.hard_truncated_bce(xs, ones, m=m, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), xs)
    print(f"m = {m}: logit(m) = {math.log(m / (1 - m)):.3f}")
    # "gi or 0.0" below: -0.0 prints as 0.0
    for xi, li, gi in zip(xs.tolist(), loss.tolist(), grad.tolist()):
        p = 1 / (1 + math.exp(-xi))
        print(f"   x = {xi:5.1f}  p = {p:.3f}  loss {li:.4f}  "
              f"dL/dx {gi or 0.0:+.4f}")
    past = torch.sigmoid(xs.detach()) > m
    assert (grad[past] == 0).all() and (grad[~past] < 0).all()

# %% [markdown]
# ## Writing the rule with a step, then smoothing the step
#
# With the unit step $\theta(t)$ (1 for $t > 0$, 0 for $t < 0$, $\tfrac12$ at 0) and $m = \tfrac12$,
# where $\hat y > \tfrac12$ exactly when $x > 0$, the hard loss becomes a formula in the logit:
#
# $$
# L^{\text{hard}} = \begin{cases} -\theta(-x)\log\sigma(x), & y = 1,\\ -\theta(x)\log\sigma(-x), & y = 0.\end{cases}
# $$ (eq-step)
#
# A step is the limit of ever steeper sigmoids, $\theta(t) = \lim_{K\to\infty}\sigma(Kt)$. Keeping
# $K$ finite gives Su's smoothed loss:
#
# $$
# L^{\text{smooth}} = \begin{cases} -\sigma(-Kx)\log\sigma(x), & y = 1,\\ -\sigma(Kx)\log\sigma(-x), & y = 0.\end{cases}
# $$ (eq-smooth)
#
# The weight now fades instead of switching off: a sample past the threshold still feels a small
# pull towards the right side, and the larger $K$, the sharper the fade. For a threshold other than
# $\tfrac12$, `companion.focal` centres the sigmoid at $\operatorname{logit} m$ instead of 0, i.e.
# the weight is $\sigma\big(K(\operatorname{logit} m - z)\big)$ (our extension; the article smooths the
# $m = \tfrac12$ rule). On either side of the threshold the smoothed and hard losses differ by
# exactly $\sigma(-K\,|z - \operatorname{logit} m|)$ times the cross entropy, so the gap closes
# like $e^{-K d}$ at a distance $d$ from the threshold:

# %%
x = torch.linspace(-8, 8, 4001, dtype=torch.float64)
y = (torch.arange(4001) % 2).double()
z = torch.where(y > 0.5, x, -x)
for m in (0.5, 0.7):
    hard = fo.hard_truncated_bce(x, y, m, reduction="none")
    d = (z - math.log(m / (1 - m))).abs()
    gaps = []
    for K in (1, 10, 100, 1000):
        soft = fo.soft_truncated_bce(x, y, K, m, reduction="none")
        gaps.append((soft - hard)[d > 0.1].abs().max().item())
    print(f"m = {m}: largest |smoothed - hard| at distance > 0.1 "
          "from the threshold,")
    print("   K = 1, 10, 100, 1000: "
          + ", ".join(f"{gap:.1e}" for gap in gaps))
    assert gaps[-1] < 1e-40

# %% [markdown]
# ## Focal loss, and the coincidence at $K = \gamma = 1$
#
# Lin et al. reached a similar loss from another direction. Their focal loss multiplies the
# cross entropy by a power of the probability of the *wrong* class:
#
# $$
# \begin{aligned}
# L_{\text{fl}} &= \begin{cases} -(1-\hat y)^\gamma\log\hat y, & y = 1,\\ -\hat y^\gamma\log(1-\hat y), & y = 0\end{cases}\\
# &= \begin{cases} -\sigma^\gamma(-x)\log\sigma(x), & y = 1,\\ -\sigma^\gamma(x)\log\sigma(-x), & y = 0,\end{cases}\\
# \text{i.e. } L_{\text{fl}} &= -(1-p_t)^\gamma\log p_t.
# \end{aligned}
# $$ (eq-focal)
#
# Put {eq}`eq-smooth` next to {eq}`eq-focal`. For a positive the smoothed weight is $\sigma(-Kx)$
# and the focal weight is $\sigma(-x)^\gamma$; for a negative, $\sigma(Kx)$ and $\sigma(x)^\gamma$.
# At $K = \gamma = 1$ they are the same function: **the smoothed hard-truncation loss with $K = 1$
# is focal loss with $\gamma = 1$**. Both parameters control how quickly the weight dies away as a
# sample becomes easy; they differ in shape (a sigmoid of $Kx$ against a power of a sigmoid of
# $x$), not in spirit.
#
# The slider panel ({numref}`fig-focal_loss-losses`) shows the four losses for a positive sample against its logit, their
# gradients, and their weights on the cross entropy. At the defaults ($m = 0.5$, $K = \gamma = 1$,
# no $\alpha$) the smoothed and focal curves coincide. Move $K$ up and the smoothed loss
# approaches the hard one; move $m$ and the shaded region where hard truncation has zero gradient
# moves with it. The smoothed and focal gradients stay negative everywhere: small, but never zero.

# %% mystnb={"figure": {"caption": "For a positive sample, against its logit $x$: the cross entropy, hard-truncated, smoothed and focal losses (left), their gradients (middle) and their weights on the cross entropy (right); shaded, where hard truncation gives no gradient. At $m = 0.5$ and $K = \\gamma = 1$ the smoothed and focal curves coincide.", "name": "fig-focal_loss-losses"}} tags=["hide-input"]
demo(fo.plot_losses, m=Range(0.5, 0.75, 0.25, value=0.5),
     K=LogRange(1, 100, num=3, value=1),
     gamma=Range(0, 2, 1, value=1, label="γ"),
     alpha=Choice({"none": None, "0.25": 0.25}, label="α"),
     dpi=70, max_frames=24)

# %%
x = torch.linspace(-30, 30, 2001, dtype=torch.float64, requires_grad=True)
for label in (0.0, 1.0):
    y = torch.full_like(x, label)
    smooth = fo.soft_truncated_bce(x, y, K=1.0, reduction="none")
    focal = fo.focal_bce(x, y, gamma=1.0, reduction="none")
    g_smooth, g_focal = (torch.autograd.grad(v.sum(), x)[0]
                         for v in (smooth, focal))
    gap = (smooth - focal).abs().max()
    g_gap = (g_smooth - g_focal).abs().max()
    print(f"y = {label:.0f}: max |L_smooth - L_fl| = {gap:.1e}, "
          f"max |gradient difference| = {g_gap:.1e}")
    assert torch.allclose(smooth, focal, rtol=1e-12, atol=1e-300)

# %% [markdown]
# ## The paper's picture, its gradient and a trap with logarithms
#
# As a function of $p_t$ alone, focal loss is $-(1-p_t)^\gamma\log p_t$.
# {numref}`fig-focal_loss-pt` redraws the focal-loss paper's Figure 1: the larger $\gamma$, the faster the loss of well-classified
# samples ($p_t > 0.5$) vanishes, while misclassified samples keep most of their loss. Dashed:
# the paper's FL* variant of its Appendix A, $-\log\sigma(\gamma z + \beta)/\gamma$, which shifts
# and stretches the logit instead of multiplying by a weight.

# %% mystnb={"figure": {"caption": "Focal loss against the probability of the true class $p_t$ for $\\gamma$ = 0 (cross entropy), 0.5, 1, 2 and 5, with two FL* variants dashed, after Lin et al.'s Figure 1. The larger $\\gamma$, the faster the loss vanishes in the well-classified region $p_t > 0.5$ (shaded).", "name": "fig-focal_loss-pt"}, "image": {"alt": "Line plot of loss, from 0 to 5, against p_t from 0 to 1. Five solid curves for gamma 0, 0.5, 1, 2 and 5 all fall from high values at small p_t to zero at p_t = 1; the larger gamma, the lower the curve, most visibly in the shaded well-classified half p_t > 0.5. Two dashed FL* curves, for gamma 2 with beta 1 and gamma 4 with beta 0, fall off in a similar way."}} tags=["hide-input"]
pt = torch.linspace(1e-3, 1 - 1e-4, 800, dtype=torch.float64)
z = torch.log(pt / (1 - pt))        # the signed logit with sigmoid(z) = p_t
one = torch.ones_like(z)
fig, ax = style.figure(width=6.4, height=3.6)
for i, gamma in enumerate((0, 0.5, 1, 2, 5)):
    name = f"γ = {gamma}" + (" (cross entropy)" if gamma == 0 else "")
    ax.plot(pt, fo.focal_bce(z, one, gamma, reduction="none"),
            color=style.COLORS[i], label=name)
for i, (gamma, beta) in enumerate(((2, 1), (4, 0))):
    ax.plot(pt, fo.focal_star_bce(z, one, gamma, beta, reduction="none"),
            ls="--", color=style.COLORS[(5, 7)[i]],
            label=f"FL*, γ = {gamma}, β = {beta}")
ax.axvspan(0.5, 1, color="0.93", lw=0)
ax.text(0.75, 4.2, "well-classified", ha="center", fontsize=9)
ax.set(xlabel="probability of the true class $p_t$", ylabel="loss",
       ylim=(0, 5), xlim=(0, 1),
       title="focal loss against $p_t$ (after Lin et al., Figure 1)")
ax.legend(fontsize=8)
fig

# %% [markdown]
# Examples of this kind are often quoted with one number: at $p_t = 0.9$ and $\gamma = 2$, focal
# loss is $0.1^2 \cdot \ln\frac{1}{0.9} \approx 0.00105$, a hundred times below the cross entropy
# $0.105$. Several write-ups print 0.00045 instead: the same formula with a base-10 logarithm
# (0.000457, truncated). Losses, and their gradients, use natural logarithms.

# %%
x9 = torch.tensor([math.log(9.0)], dtype=torch.float64)    # p_t = 0.9
y1 = torch.ones(1, dtype=torch.float64)
fl, ce = fo.focal_bce(x9, y1, 2.0).item(), fo.focal_bce(x9, y1, 0.0).item()
print(f"p_t = 0.9: cross entropy {ce:.5f}, focal (γ = 2) {fl:.7f}, "
      f"ratio {ce / fl:.0f};")
print(f"with log10 it would read {0.01 * math.log10(1 / 0.9):.5f}")
assert math.isclose(fl, 0.01 * math.log(1 / 0.9), rel_tol=1e-12)

# %% [markdown]
# The gradient has a closed form, given in the paper's Appendix B with labels $y \in \{\pm 1\}$
# and $x_t = yx$:
#
# $$
# \begin{aligned}
# \frac{\partial L_{\text{ce}}}{\partial x} &= y\,(p_t - 1),\\[6pt]
# \frac{\partial L_{\text{fl}}}{\partial x} &= y\,(1-p_t)^\gamma\big(\gamma\,p_t\log p_t + p_t - 1\big),\\[6pt]
# \frac{\partial L_{\text{fl}^*}}{\partial x} &= y\,(p^*_t - 1),\quad p^*_t = \sigma(\gamma x_t + \beta).
# \end{aligned}
# $$ (eq-grad)
#
# `focal_bce` evaluates exactly this, from the logit: $1 - p_t = \sigma(-z)$ is computed directly,
# so nothing cancels near $p_t = 1$, and it is computed during the forward pass from the same
# exponentials as the loss (more on that at the end). Against autograd on a plain
# probability-space formula:

# %%
gen = torch.Generator().manual_seed(SEED)
x = torch.randn(5000, generator=gen, dtype=torch.float64) * 4
x.requires_grad_()
y = (torch.arange(5000) % 3 == 0).double()
ypm = 2 * y - 1
for gamma, alpha in ((0.0, None), (2.0, None), (2.0, 0.25), (0.5, 0.75)):
    loss = fo.focal_bce(x, y, gamma, alpha, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    p = torch.sigmoid(ypm * x.detach())
    alpha_t = 1.0 if alpha is None else torch.where(y > 0.5, alpha, 1 - alpha)
    closed = (alpha_t * ypm * (1 - p) ** gamma
              * (gamma * p * torch.log(p) + p - 1))
    print(f"γ = {gamma}, α = {alpha}: max |kernel - eq. (eq-grad)| = "
          f"{(grad - closed).abs().max():.1e}")
    assert torch.allclose(grad, closed, rtol=1e-10, atol=1e-12)

# %% [markdown]
# ## More than two classes: where the coincidence ends
#
# With softmax outputs, logits $x \in \mathbb{R}^C$ and target class $t$, the natural
# generalisations are
#
# $$
# \begin{aligned}
# L_{\text{fl}} &= -\big(1 - \operatorname{softmax}(x)_t\big)^\gamma \log\operatorname{softmax}(x)_t,\\
# L^{\text{smooth}} &= -\operatorname{softmax}(-Kx)_t\,\log\operatorname{softmax}(x)_t .
# \end{aligned}
# $$ (eq-multi)
#
# The second is Su's: the sigmoid of $-Kx$ becomes the softmax of $-Kx$. For two classes
# $\operatorname{softmax}(-x)_t = \sigma(x_{t'} - x_t) = 1 - \operatorname{softmax}(x)_t$, so the
# identity survives. For three or more it does not: $\operatorname{softmax}(-x)_t$ compares the
# target's logit with *each* other logit, and is large only when the target has the smallest
# logit of all. As $K \to \infty$ the weight goes to 1 when the target is the *least* likely class
# and to 0 otherwise, even for a misclassified sample. With two classes "least likely" and
# "$p_t < \frac12$" are the same thing; with ten they are not.

# %%
g = torch.Generator().manual_seed(SEED)
for C in (2, 3, 10):
    logits = torch.randn(2000, C, generator=g, dtype=torch.float64) * 3
    target = torch.randint(0, C, (2000,), generator=g)
    smooth = fo.soft_truncated_ce(logits, target, K=1.0, reduction="none")
    focal = fo.focal_ce(logits, target, gamma=1.0, reduction="none")
    gap = smooth - focal
    print(f"C = {C:2d}: max |L_smooth(K=1) - L_fl(γ=1)| = "
          f"{gap.abs().max():.2e}")

x3 = torch.tensor([[2.0, 1.0, -3.0]], dtype=torch.float64)
t3 = torch.tensor([1])
p_t = torch.softmax(x3, 1)[0, 1].item()
print("\nlogits (2, 1, -3), target class 1 (logit 1):")
print(f"   p_t = {p_t:.3f} (misclassified), 1 - p_t = {1 - p_t:.3f}")
for K in (1, 2, 5, 20):
    weight = torch.softmax(-K * x3, 1)[0, 1].item()
    print(f"   K = {K:2d}: Su's weight softmax(-Kx)_t = {weight:.2e}")

# %% [markdown]
# A weight that does keep the identity for any number of classes uses the log-odds of the target
# class, $z_t = \log p_t - \log(1 - p_t)$, in place of the binary logit: $\sigma(-K z_t)$ equals
# $1 - p_t$ at $K = 1$ for every $C$ (because $\sigma(z_t) = p_t$). Here it is as four lines of
# teaching code; `companion.focal.focal_star_ce` uses the same log-odds for its multi-class FL*.

# %%
def soft_truncated_ce_log_odds(logits, target, K):
    """-sigmoid(-K z_t) log p_t with z_t the log-odds of the target class."""
    log_p = torch.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    # log(1 - p_t); fine for these moderate logits
    log_q = torch.log1p(-log_p.exp())
    return -torch.sigmoid(-K * (log_p - log_q)) * log_p


for C in (2, 3, 10):
    logits = torch.randn(2000, C, generator=g, dtype=torch.float64) * 3
    target = torch.randint(0, C, (2000,), generator=g)
    smooth = soft_truncated_ce_log_odds(logits, target, 1.0)
    gap = smooth - fo.focal_ce(logits, target, 1.0, reduction="none")
    print(f"C = {C:2d}: log-odds weight, "
          f"max |L(K=1) - L_fl(γ=1)| = {gap.abs().max():.1e}")
    assert gap.abs().max() < 1e-12

# %% [markdown]
# ## Class imbalance as difficulty imbalance
#
# The focal-loss paper was written for dense object detection, where a detector scores some
# $10^5$ candidate boxes per image and only a handful contain an object: the classes are wildly
# imbalanced, and almost all negatives are trivially easy. Each easy negative has a small cross
# entropy, but there are so many that together they can dominate the loss and its gradient. Su
# reads this as a special case of *difficulty* imbalance. A model flooded with negatives leans
# towards predicting "negative"; then the negatives' weights $\hat y^\gamma$ (or $\sigma(Kx)$)
# shrink and the positives' weights grow, so the loss moves its attention by itself, with no
# class weights. The paper adds one anyway, the $\alpha$-balanced form
#
# $$
# L_{\text{fl}} = \begin{cases} -\alpha\,(1-\hat y)^\gamma\log\hat y, & y = 1,\\ -(1-\alpha)\,\hat y^\gamma\log(1-\hat y), & y = 0,\end{cases}
# $$ (eq-focal-alpha)
#
# and its best setting, $\gamma = 2$ with $\alpha = 0.25$, gives the *rare* positive class the
# *smaller* weight. Su's reading: the modulating factor has already overcorrected the imbalance,
# and $\alpha$ pulls part of it back; it is an empirical knob, and without the compute to tune it,
# $\alpha = 0.5$ (no preference) is the sensible default.
#
# For context, the paper's own ablation (RetinaNet with a ResNet-50 backbone, 600-pixel images,
# COCO minival, its Table 1; these numbers are the paper's, not ours):
#
# | loss (paper, Table 1) | best $\alpha$ | AP |
# |---|---|---|
# | $\alpha$-balanced cross entropy ($\gamma = 0$) | 0.75 | 31.1 |
# | focal loss, $\gamma = 0.5$ | 0.50 | 32.9 |
# | focal loss, $\gamma = 1$ | 0.25 | 33.7 |
# | focal loss, $\gamma = 2$ | 0.25 | **34.0** |
# | focal loss, $\gamma = 5$ | 0.25 | 32.2 |
#
# The same paper starts the classifier's bias at $b = -\log\frac{1-\pi}{\pi}$, so that every box
# begins with probability $\sigma(b) = \pi = 0.01$ of being an object (solving $\sigma(b) = \pi$
# for $b$ gives exactly this). Without that start, the paper reports, training with cross entropy
# diverged early on: at $\hat y = \frac12$ each of the countless negatives has a loss of $\ln 2$.
#
# ### A small imbalanced problem
#
# Our stand-in is two dimensional: 50 positives on one half-moon, 50 *hard* negatives on an
# interleaved half-moon, and a ring of *easy* negatives far away, up to hundreds per positive. A
# small network (two tanh layers of 16 units, bias started at $\pi = 0.01$, full-batch Adam) is
# trained with each loss, and we measure the average precision (AP) of the positives on a fresh
# test set of 500 positives, plus the share of the model's own training loss carried by easy
# negatives (those with $\hat y < 0.1$). First, three seeds at 1 : 100:

# %%
rows = {}
for seed in tqdm(range(SEEDS), desc="seeds"):
    res = fo.imbalance_experiment(100, seed=seed, steps=STEPS)
    X, y, _, _ = res.pop("_data")
    for name, r in res.items():
        rows.setdefault(name, []).append((r["ap"], r["easy_share"]))
print(f"1 : 100 imbalance, {int(y.sum())} positives "
      f"and {int((y == 0).sum()):,} negatives;")
print(f"mean (min-max) over {SEEDS} seed(s)")
print(f"{'loss':18s} {'test AP':>22s} {'easy-negative share':>24s}")
for name, values in rows.items():
    ap, share = np.array(values).T
    print(f"{name:18s} {ap.mean():8.3f} ({ap.min():.3f}-{ap.max():.3f})"
          f" {share.mean():12.3f} ({share.min():.3f}-{share.max():.3f})")

# %% [markdown]
# On this problem, cross entropy is hard to beat: with the prior-probability start and Adam
# (whose steps do not depend on the scale of the loss), it ranks the positives almost perfectly,
# and focal loss with $\gamma = 2$ is no better; here its $\alpha = 0.25$ variant is closer to
# cross entropy than plain $\gamma = 2$. The clear loser is hard truncation, whose AP is far lower: once a sample
# is on the right side of $\hat y = \frac12$ it contributes nothing, so nothing orders the
# samples *within* each side, and AP is all about that order. A 2-D toy lacks what makes detection
# hard (millions of easy candidates per batch, deep features learned from scratch, a fixed
# schedule), so it cannot reproduce the paper's gain; what it does show is the mechanism. In the
# last column, each model's own loss: easy negatives carry a large part of the trained
# cross entropy, well under half as much of the trained focal losses, and none of the hard and
# smoothed losses, whose weights vanish (or nearly) once a negative is below $\hat y = \frac12$.
#
# The share of loss carried by easy negatives depends on the predictions as well as on the loss,
# so compare the losses on the *same* predictions: the network at its prior-probability start, and
# the cross-entropy-trained network.

# %%
res = fo.imbalance_experiment(100, seed=SEED, steps=STEPS)
X, y, _, _ = res.pop("_data")
start = fo.mlp(2, 1, seed=SEED, prior=0.01)
losses = fo.imbalance_losses()
for label, model in (("at the start (π = 0.01)", start),
                     ("after training with CE", res["CE"]["model"])):
    with torch.no_grad():
        z = model(X).squeeze(-1)
    easy = (y == 0) & (torch.sigmoid(z) < 0.1)
    shares = {name: fo.loss_share(losses[name](z, y), easy)
              for name in ("CE", "FL (γ=2)")}
    print(f"{label}: {int(easy.sum()):,} of {len(y):,} samples "
          "are easy negatives;")
    carried = ", ".join(f"{share:.1%} of {name}"
                        for name, share in shares.items())
    print(f"   they carry {carried}")

# %% [markdown]
# At the start every negative, even the hard ones, sits at $\hat y \approx 0.01$ and counts as
# easy: together they carry a sizeable share of the cross entropy but almost none of the focal
# loss, whose weight $\hat y^2 \approx 10^{-4}$ silences them. After training, the easy negatives
# still carry a similar share of the cross entropy on the same predictions, and still almost none
# of the focal loss. That is the paper's argument in two numbers. At a detector's imbalance of
# 1 : 1000 the same start would put about 70% of the cross entropy on easy negatives
# ($1000 \ln\frac{1}{0.99} \approx 10.1$ against $\ln 100 \approx 4.6$ per positive). The
# slider below ({numref}`fig-focal_loss-imbalance`) repeats the experiment at other imbalances
# (one seed each, so the AP bars carry some noise), with the decision boundaries of the
# cross-entropy and focal-loss networks.

# %% mystnb={"figure": {"caption": "The imbalanced problem at the chosen number of negatives per positive: positives, hard negatives and the decision boundaries of the cross-entropy and focal-loss networks (left), each loss's test average precision (middle), and the share of its own training loss carried by easy negatives (right). One seed per setting, so the AP bars carry some noise.", "name": "fig-focal_loss-imbalance"}} tags=["hide-input"]
demo(fo.plot_imbalance,
     imbalance=Choice([20, 50, 100, 200], value=100,
                      label="negatives per positive"))

# %% [markdown]
# ## Does hard truncation need more iterations?
#
# Su's complaint about hard truncation was practical: it trained, but it needed many more
# iterations. The argument above predicts *why*: samples that have crossed the threshold are free
# to drift back. Two measurements, on a balanced problem so that imbalance plays no part.
#
# - **Reaching and staying**: the first epoch at which the accuracy on the training set reaches
#   a level, and the first epoch after which it never again falls below it (within the run).
# - **Forgetting events**: training samples that are right at the end of one epoch and wrong at
#   the end of the next, summed over the run.
#
# First the two half-moons (500 points each, noise 0.2) with the same small network and plain
# minibatch SGD (batch 32, learning rate 0.1):

# %%
def show_speed(runs, levels, desc):
    print(f"{desc}, {EPOCHS} epochs. Epochs to reach a training accuracy,")
    print("and to stay at or above it, per seed ('-': never); forgetting")
    print("events (mean over seeds); final training and test accuracy")
    print(fo.speed_table(runs, levels))


moons = (*fo.imbalanced_moons(500, 1, seed=SEED, noise=0.2),
         *fo.imbalanced_moons(2500, 1, seed=SEED + 1, noise=0.2))
binary_losses = {
    "cross entropy": lambda z, t: fo.focal_bce(z, t, 0.0),
    "hard, m = 0.5": lambda z, t: fo.hard_truncated_bce(z, t, 0.5),
    "smoothed, K = 5": lambda z, t: fo.soft_truncated_bce(z, t, 5.0),
    "focal, γ = 2": lambda z, t: fo.focal_bce(z, t, 2.0),
}
# Prints come after the progress bar, so that a second run shows the same
# text in the same order.
moons_runs = fo.learning_speed(binary_losses, moons,
                               lambda s: fo.mlp(2, 1, seed=s), seeds=SEEDS,
                               epochs=EPOCHS, lr=0.1, desc="two moons")
show_speed(moons_runs, (0.90, 0.95), "two moons")

# %% [markdown]
# Here Su's complaint holds up, in the form the argument predicts. Hard truncation *reaches* 90%
# training accuracy, sometimes sooner than cross entropy, but it does not *stay* there: it
# forgets many times as often as the other losses, and its accuracy keeps collapsing and
# recovering ({numref}`fig-focal_loss-moons`, left, one seed). The smoothed loss, whose gradient never vanishes, behaves like cross
# entropy. Focal loss is slower at this fixed learning rate, for a plainer reason: its gradients
# are smaller, by the factor $(1-p_t)^\gamma$, so each SGD step moves less. On the right, where each
# model leaves its training samples: cross entropy and focal loss push the probability of the
# true class towards 1, while hard truncation leaves every training sample within 0.05 of
# $p_t = \frac12$ (its logits stay below 0.1 in size), on one side or the other, where the
# slightest change of the weights moves them across.

# %% mystnb={"figure": {"caption": "Two moons, seed 0. Left: training accuracy after each epoch for the four losses. Right: histograms of the probability of the true class $p_t$ over the training samples after the last epoch (the smoothed loss is left out), with a dotted line at $p_t = 0.5$.", "name": "fig-focal_loss-moons"}, "image": {"alt": "Two panels. Left, a line plot of training accuracy against epoch for cross entropy, hard truncation with m = 0.5, the smoothed loss with K = 5 and focal loss with gamma = 2. Right, step histograms on a logarithmic count axis of p_t from 0 to 1 for cross entropy, hard truncation and focal loss, with a dotted vertical line at 0.5."}} tags=["hide-input"]
X_train, y_train = moons[0], moons[1]
fig, (left, right) = style.figure(1, 2, width=10, height=3.4)
bins = np.linspace(0, 1, 41)
for i, name in enumerate(binary_losses):
    run = moons_runs[name][0].fit
    left.plot(range(1, len(run.accuracy) + 1), run.accuracy,
              color=style.COLORS[i], label=name)
    if name == "smoothed, K = 5":
        continue
    with torch.no_grad():
        p = torch.sigmoid(run.model(X_train).squeeze(-1))
    p_t = torch.where(y_train > 0.5, p, 1 - p)
    right.hist(p_t.numpy(), bins=bins, histtype="step", lw=1.8,
               color=style.COLORS[i], label=name)
left.set(xlabel="epoch", ylabel="training accuracy", ylim=(0.45, 1),
         title="two moons, seed 0")
left.legend(fontsize=8, loc="lower right")
right.axvline(0.5, color="black", ls=":", lw=1)
right.set(xlabel="probability of the true class $p_t$",
          ylabel="training samples", yscale="log",
          title="after the last epoch")
right.legend(fontsize=8, loc="upper left")
fig

# %% [markdown]
# The same measurement with ten classes: the handwritten digits bundled with scikit-learn
# (1797 images of 8x8 pixels, 1200 for training), a linear softmax classifier and SGD (batch 32,
# learning rate 0.5). This table also includes Su's multi-class smoothed loss {eq}`eq-multi` at
# $K = 1$ next to focal loss at $\gamma = 1$, the pair that coincides for two classes.

# %%
images, labels = data.load_digits()
images = images.flatten(1)                # 64 pixels in [0, 1]
train, test = data.split_indices(len(labels), 1200, seed=SEED)
digit_data = (images[train], labels[train], images[test], labels[test])
multi_losses = {
    "cross entropy": lambda z, t: fo.focal_ce(z, t, 0.0),
    "hard, m = 0.5": lambda z, t: fo.hard_truncated_ce(z, t, 0.5),
    "Su smoothed, K = 1": lambda z, t: fo.soft_truncated_ce(z, t, 1.0),
    "focal, γ = 1": lambda z, t: fo.focal_ce(z, t, 1.0),
    "focal, γ = 2": lambda z, t: fo.focal_ce(z, t, 2.0),
}
digit_runs = fo.learning_speed(multi_losses, digit_data,
                               lambda s: fo.mlp(64, 10, hidden=(), seed=s),
                               seeds=SEEDS, epochs=EPOCHS, lr=0.5,
                               desc="digits, linear softmax")
show_speed(digit_runs, (0.95, 0.97), "digits, linear softmax")

# %% [markdown]
# Two lessons. First, Su's claim is not universal: for this linear model, hard truncation reaches
# and keeps 95% and 97% training accuracy about as fast as cross entropy, with somewhat more
# forgetting and a slightly lower test accuracy. We have not pinned down why the two problems
# differ; a plausible reason is that the digits are nearly linearly separable, so the classifier
# can put most samples far past the threshold with a few updates, while the moons need a curved
# boundary that keeps moving. Second,
# the multi-class smoothed loss at $K = 1$, which for two classes would be focal loss with
# $\gamma = 1$, is a much worse loss with ten classes: its weight $\operatorname{softmax}(-x)_t$
# is small for any sample whose target is not its least likely class, so most misclassified
# samples barely count and training stalls. Focal loss with $\gamma = 1$, built on $1 - p_t$,
# learns like cross entropy.
#
# ## In practice: one fused pass
#
# All losses in `companion.focal` take logits, work in log space (no NaN or infinity for logits of
# any size, in float32 as in float64), take `reduction` like PyTorch's losses and check their
# arguments. Binary focal loss is also fast: its backward is the closed form {eq}`eq-grad`,
# computed during the forward from the same exponentials as the loss and kept as the only
# saved tensor, so it holds no more memory than binary cross entropy. Under `torch.compile`
# the whole loss and gradient become one fused loop. `make bench` times it on $10^7$ logits
# against `F.binary_cross_entropy_with_logits`; on this book's 2-core test machine, compiled
# focal loss ran at 0.7-0.8 times BCE's time with the same peak memory, and eager focal loss at
# 2.5-3.5 times BCE's time (op by op it makes several passes over memory) with 1.6 times its peak
# memory. A smaller eager comparison here (one thread, as set at the top; the ratio depends on the
# size and the threads):

# %% tags=["timing"]
g = torch.Generator().manual_seed(SEED)
n = companion.budget(full=1_000_000, smoke=100_000)
x = torch.randn(n, generator=g).mul_(3).requires_grad_()
y = (torch.rand(n, generator=g) < 0.1).float()


def best_of(fn, repeats=5):
    fn()
    best = float("inf")
    for _ in range(repeats):
        x.grad = None
        start = time.perf_counter()
        fn().backward()
        best = min(best, time.perf_counter() - start)
    return best


bce = best_of(lambda: F.binary_cross_entropy_with_logits(x, y))
focal = best_of(lambda: fo.focal_bce(x, y, 2.0, 0.25))
print(f"{n:,} logits, forward + backward, eager:")
print(f"BCE {bce * 1e3:.1f} ms, focal {focal * 1e3:.1f} ms "
      f"({focal / bce:.1f}x)")

# %% [markdown]
# ## Summary
#
# - Hard truncation {eq}`eq-hard` stops training a sample once its true class has probability
#   above $m$. Its gradient there is exactly zero, so nothing keeps the sample on the right side:
#   on the two-moons problem it forgot samples about ten times as often as cross entropy, and its
#   accuracy kept collapsing; on the digits it was harmless. It also ranks badly, since it ignores
#   the order of samples within each side.
# - Writing the rule with a step {eq}`eq-step` and smoothing the step with $\sigma(Kx)$ gives a loss
#   {eq}`eq-smooth` whose weight fades instead of switching off; as $K \to \infty$ it returns to
#   hard truncation, with a gap of exactly $\sigma(-Kd)$ times the cross entropy.
# - At $K = 1$ it *is* focal loss {eq}`eq-focal` with $\gamma = 1$, for two classes. For three or
#   more, Su's softmax form {eq}`eq-multi` differs, and it trained poorly on ten digits; a weight
#   built on the target's log-odds keeps the identity.
# - Focal loss silences easy samples, which matters when they are countless, as in the paper's
#   detector; its gradient has the closed form {eq}`eq-grad`. On our small imbalanced problem it
#   did not beat cross entropy, but on the same predictions it cut the easy negatives' share of
#   the loss from about 14% to 0.1%. The paper's $\alpha = 0.25$ {eq}`eq-focal-alpha`
#   down-weights the rare class, and helped here too.
#
# ## References
#
# - Su Jianlin (2017). [从loss的硬截断、软化到focal loss](https://kexue.fm/archives/4733)
#   ("From hard truncation and softening of the loss to focal loss"). *kexue.fm*, 2017-12-25.
# - Su Jianlin (2017). The article of his text-classification series that introduced the
#   hard-truncated loss. *kexue.fm*, <https://kexue.fm/archives/4293>.
# - Tsung-Yi Lin, Priya Goyal, Ross Girshick, Kaiming He and Piotr Dollár (2017). Focal Loss for
#   Dense Object Detection. *IEEE International Conference on Computer Vision (ICCV 2017)*.
#   [arXiv:1708.02002](https://arxiv.org/abs/1708.02002).
# - Mariya Toneva, Alessandro Sordoni, Remi Tachet des Combes, Adam Trischler, Yoshua Bengio and
#   Geoffrey J. Gordon (2019). An Empirical Study of Example Forgetting during Deep Neural Network
#   Learning. *International Conference on Learning Representations (ICLR 2019)*.
#   [arXiv:1812.05159](https://arxiv.org/abs/1812.05159).
# - Diederik P. Kingma and Jimmy Ba (2015). Adam: A Method for Stochastic Optimization.
#   *International Conference on Learning Representations (ICLR 2015)*.
#   [arXiv:1412.6980](https://arxiv.org/abs/1412.6980).
# - Fabian Pedregosa et al. (2011). Scikit-learn: Machine Learning in Python. *Journal of
#   Machine Learning Research* 12, 2825–2830.
#   [jmlr.org](https://jmlr.org/papers/v12/pedregosa11a.html).
#
# ## Exercises
#
# 1. Check the coincidence of {eq}`eq-smooth` and {eq}`eq-focal` for a *negative* sample by hand,
#    and say which factor of the focal weight plays the role of $\sigma(Kx)$.
#
# :::{admonition} Solution
# :class: dropdown
#
# For $y = 0$ the smoothed loss is $-\sigma(Kx)\log\sigma(-x)$ and focal loss is
# $-\hat y^\gamma\log(1-\hat y) = -\sigma(x)^\gamma\log\sigma(-x)$. At $K = \gamma = 1$ both
# weights are $\sigma(x) = \hat y$, the probability the model gives to the wrong class.
# :::
#
# 2. Show that FL* with $\gamma = 1$ and $\beta = 0$ is cross entropy, and derive its gradient
#    $y(p^*_t - 1)$ of {eq}`eq-grad`.
#
# :::{admonition} Solution
# :class: dropdown
#
# With $x_t = yx$: $\mathrm{FL}^* = -\log\sigma(\gamma x_t + \beta)/\gamma$, which at $\gamma = 1$,
# $\beta = 0$ is $-\log\sigma(x_t) = -\log p_t$. Since $\frac{d}{du}\log\sigma(u) = 1 - \sigma(u)$,
# $\frac{\partial\mathrm{FL}^*}{\partial x} = -\frac{1}{\gamma}\,(1 - p^*_t)\,\gamma\,y = y\,(p^*_t - 1)$.
#
# ```python
# x = torch.randn(5, dtype=torch.float64, requires_grad=True)
# y = torch.tensor([1., 0, 1, 0, 1], dtype=torch.float64)
# ce = F.binary_cross_entropy_with_logits(x, y)
# print(fo.focal_star_bce(x, y, 1.0, 0.0) - ce)   # 0
# ```
# :::
#
# 3. Find three logits for which the target class is misclassified ($p_t < \frac12$) and yet Su's
#    multi-class weight $\operatorname{softmax}(-Kx)_t$ tends to 0 as $K$ grows. What property of
#    the logits decides the limit?
#
# :::{admonition} Solution
# :class: dropdown
#
# $\operatorname{softmax}(-Kx)_t = 1 / \sum_j e^{-K(x_j - x_t)}$, which tends to 0 whenever some
# $x_j < x_t$ and to 1 when $x_t$ is the strict minimum. The chapter's example $(2, 1, -3)$ with
# target 1 has $p_t \approx 0.27$, but class 3 has a smaller logit, so the weight vanishes. Only
# the *rank* of the target's logit matters in the limit, not its probability.
# :::
#
# 4. Rerun the imbalanced experiment with the focal loss at $\gamma = 2$ and $\alpha = 0.5$, and
#    with $\alpha = 0.75$ (weighting the rare class up). Does the AP move?
#
# :::{admonition} Solution
# :class: dropdown
#
# ```python
# X, y = fo.imbalanced_moons(50, 100, seed=0)
# X_test, y_test = fo.imbalanced_moons(500, 100, seed=10_000)
# for alpha in (0.25, 0.5, 0.75):
#     model = fo.mlp(2, 1, seed=0, prior=0.01)
#     def loss(z, t):
#         return fo.focal_bce(z, t, 2.0, alpha)
#     fo.fit(loss, X, y, model=model, epochs=300, lr=0.01, seed=0)
#     scores = model(X_test).squeeze(-1).detach()
#     print(alpha, fo.average_precision(scores, y_test))
# ```
#
# This run gives AP 0.995, 0.980 and 0.939. With $\alpha = 0.5$ the loss is half of plain
# $\gamma = 2$ focal loss, and Adam's steps do not depend on that scale, so the AP is that of the
# plain loss (0.980 for this seed). Weighting the rare positives *up* ($\alpha = 0.75$) hurts,
# and weighting them down ($\alpha = 0.25$) helps: the same direction as the paper's ablation,
# where the focusing term has already shifted the attention towards the positives.
# :::
