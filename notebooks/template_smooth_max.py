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
# # A template chapter: the smooth maximum
#
# :::{admonition} What you will understand by the end
# - why $\frac1K\log\sum_i e^{K\lambda_i}$ is a *smooth* stand-in for $\max_i\lambda_i$, and how far
#   from the maximum it can be;
# - why its gradient is a softmax, so "soft" + "max" is a literal description;
# - how every chapter of this book is laid out: a claim, then a cell that checks it.
# :::
#
# **Article.** This short chapter follows one step of Su Jianlin's
# [再来一顿贺岁宴:从K-Means到Capsule](https://kexue.fm/archives/5112) (kexue.fm, 2018-02-12), where
# the smooth maximum turns K-Means into something differentiable. The six article chapters follow
# the same template: they open like this, walk the article's derivation in order, put a runnable
# check after each claim, and close with a summary and exercises.
#
# **Running it.** In JupyterLab every cell runs as shown and the sliders call Python. In the
# rendered book the slider panels are precomputed, so they still move without a kernel.

# %%
import math

import torch
from tqdm.auto import tqdm

import companion
from companion.smooth_max import plot_smooth_max, smooth_max, smooth_max_weights
from companion.widgets import LogRange, Range, demo

# Small in tests (COMPANION_SMOKE=1), full in the book; the results below do not depend on it.
N_VECTORS = companion.budget(full=20_000, smoke=500)
generator = torch.Generator().manual_seed(0)
print(f"companion {companion.__version__}, torch {torch.__version__}, {N_VECTORS} random vectors")

# %% [markdown]
# ## A maximum you can differentiate
#
# K-Means needs the *smallest* distance from a point to any centre, and a minimum has no useful
# gradient: it ignores every candidate but one. The article replaces it with a smooth function that
# tends to it. For numbers $\lambda_1,\dots,\lambda_n$ and a sharpness $K>0$ define
#
# $$
# \operatorname{smax}_K(\lambda) = \frac1K \log\sum_{i=1}^n e^{K\lambda_i}.
# $$ (eq-smax)
#
# The largest term of the sum is $e^{K\max_i\lambda_i}$ and the sum holds $n$ terms, so the sum lies
# between $e^{K\max\lambda}$ and $n\,e^{K\max\lambda}$. Taking $\frac1K\log$ of all three gives a
# sandwich
#
# $$
# \max_i \lambda_i \;\le\; \operatorname{smax}_K(\lambda) \;\le\; \max_i\lambda_i + \frac{\log n}{K},
# $$ (eq-sandwich)
#
# so {eq}`eq-smax` tends to the maximum as $K\to\infty$, and a minimum is $-\operatorname{smax}_K(-\lambda)$.
# The cell below checks {eq}`eq-sandwich` on random vectors for sharpnesses from 0.1 to 1000.

# %%
x = torch.randn(N_VECTORS, 8, generator=generator, dtype=torch.float64)
hard = x.max(dim=-1).values
worst = {}
for K in tqdm([0.1, 1.0, 10.0, 100.0, 1000.0], desc="sharpness K"):
    gap = smooth_max(x, K) - hard
    assert (gap >= -1e-12).all() and (gap <= math.log(8) / K + 1e-12).all()  # up to rounding
    worst[K] = gap.max().item()
for K, gap in worst.items():
    print(f"K = {K:7g}: largest gap {gap:.2e}  (bound log(8)/K = {math.log(8) / K:.2e})")

# %% [markdown]
# Move the sharpness and the number of curves: the dashed smooth maximum hugs the black maximum
# from above, never leaving the shaded band of width $\log n / K$; on the right, the weight each
# curve receives sharpens from a blend into a one-hot choice.

# %% tags=["hide-input"]
demo(plot_smooth_max, K=LogRange(0.1, 100, num=7, value=1.0), n_curves=Range(2, 5, step=1, value=3))

# %% [markdown]
# ## Its gradient is a softmax
#
# Differentiating {eq}`eq-smax` term by term,
#
# $$
# \frac{\partial \operatorname{smax}_K}{\partial\lambda_j}
# = \frac{e^{K\lambda_j}}{\sum_i e^{K\lambda_i}} = \operatorname{softmax}(K\lambda)_j ,
# $$ (eq-grad)
#
# weights that are positive and sum to one. This is what the article means by reading *softmax*
# as "soft" + "max": the softmax is the gradient of the smooth maximum, and it becomes the
# indicator of the largest entry as $K\to\infty$. We check {eq}`eq-grad` with autograd, and with
# `torch.autograd.gradcheck`, which compares it against finite differences.

# %%
lam = torch.randn(6, dtype=torch.float64, generator=generator, requires_grad=True)
(grad,) = torch.autograd.grad(smooth_max(lam, K=3.0), lam)
print("autograd :", grad.numpy().round(4))
print("softmax  :", smooth_max_weights(lam.detach(), K=3.0).numpy().round(4))
assert torch.allclose(grad, smooth_max_weights(lam.detach(), K=3.0))
assert torch.autograd.gradcheck(lambda v: smooth_max(v, K=3.0), (lam,))

# %% [markdown]
# ## Summary
#
# - $\operatorname{smax}_K$ of {eq}`eq-smax` is within $\log n / K$ above the maximum
#   {eq}`eq-sandwich`, so the sharpness $K$ trades smoothness for accuracy.
# - Its gradient is $\operatorname{softmax}(K\lambda)$ {eq}`eq-grad`; a large $K$ makes the
#   gradient pick one winner, a small $K$ spreads it over all candidates.
# - In the capsule chapter this turns K-Means' hard assignment into soft memberships; in the
#   focal-loss chapter the same trick smooths a step function.
#
# ## Exercises
#
# 1. Show that $\operatorname{smax}_K(\lambda) \to \bar\lambda + \frac{\log n}{K}$ as $K\to 0^+$,
#    where $\bar\lambda$ is the mean of the $\lambda_i$. What does that say about small $K$?
#
# :::{admonition} Solution
# :class: dropdown
#
# Expand $e^{K\lambda_i} = 1 + K\lambda_i + O(K^2)$, so
# $\sum_i e^{K\lambda_i} = n\,(1 + K\bar\lambda + O(K^2))$ and
# $\frac1K\log\sum_i e^{K\lambda_i} = \frac{\log n}{K} + \bar\lambda + O(K)$.
# A small $K$ forgets which entry is largest: the result is the mean plus a large constant, and the
# gradient {eq}`eq-grad` tends to the uniform weights $1/n$.
# :::
#
# 2. Check exercise 1 numerically with `smooth_max` for $K = 10^{-3}$.
#
# :::{admonition} Solution
# :class: dropdown
#
# ```python
# v = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
# K = 1e-3
# print(smooth_max(v, K) - (v.mean() + math.log(3) / K))  # O(K): about 1e-3
# ```
# :::
