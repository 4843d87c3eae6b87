"""Figures of the focal loss chapter (kexue.fm/archives/4733); the kernels are in
``companion.focal``, which also offers these functions as attributes (loaded on first use).

Every ``plot_*`` returns a matplotlib ``Figure`` drawn in the book's style, without changing
the caller's ``rcParams`` (:func:`companion.style.styled`).
"""

from __future__ import annotations

import math

import torch

from companion import budget
from companion.focal import (
    _alpha,
    _gamma,
    _K,
    _m,
    _step,
    focal_bce,
    hard_truncated_bce,
    imbalance_experiment,
    soft_truncated_bce,
)
from companion.style import COLORS, figure, styled


@styled
def plot_losses(m: float = 0.5, K: float = 1.0, gamma: float = 1.0, alpha=None):
    r"""Three line plots against the logit x of a positive sample: the cross entropy,
    hard-truncated, smoothed and focal losses, their gradients, and their weights on the cross
    entropy, with the region where hard truncation gives no gradient shaded.

    For a positive sample (y = 1) as a function of its logit x: the cross entropy, the
    hard-truncated loss (threshold ``m``), the smoothed loss (steepness ``K``, same ``m``) and
    focal loss (``gamma``, ``alpha``); their gradients dL/dx; and their weights on the cross
    entropy. Negatives are the mirror image x -> -x (with 1 - alpha for alpha).

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    # Checked before the legend labels format them (a string m would fail there, unclearly).
    m, K, gamma, alpha = _m(m), _K(K), _gamma(gamma), _alpha(alpha)
    x = torch.linspace(-6, 6, 601, dtype=torch.float64, requires_grad=True)
    y = torch.ones_like(x)
    curves = {
        "cross entropy": focal_bce(x, y, 0.0, reduction="none"),
        f"hard truncation, m={m:.2g}": hard_truncated_bce(x, y, m, reduction="none"),
        f"smoothed, K={K:.2g}": soft_truncated_bce(x, y, K, m, reduction="none"),
        f"focal, γ={gamma:.2g}" + ("" if alpha is None else f", α={alpha:.2g}"):
            focal_bce(x, y, gamma, alpha, reduction="none"),
    }
    threshold = math.log(m / (1 - m))
    xs = x.detach().numpy()
    p = torch.sigmoid(x.detach())
    weights = [torch.ones_like(p), _step(threshold - x.detach()),
               torch.sigmoid(K * (threshold - x.detach())),
               (1.0 if alpha is None else alpha) * (1 - p) ** gamma]

    fig, axes = figure(1, 3, width=10, height=3.2)
    # Focal is drawn dashed and thin over a wide smoothed line, so that both stay visible
    # where they coincide (K = gamma = 1, m = 0.5).
    styles = [dict(ls="--", lw=1.8), dict(lw=1.8), dict(lw=3.2), dict(ls=(0, (3, 2)), lw=1.6)]
    for i, (name, loss) in enumerate(curves.items()):
        (grad,) = torch.autograd.grad(loss.sum(), x)
        axes[0].plot(xs, loss.detach().numpy(), color=COLORS[i], label=name, **styles[i])
        axes[1].plot(xs, grad.numpy(), color=COLORS[i], **styles[i])
        axes[2].plot(xs, weights[i].numpy(), color=COLORS[i], **styles[i])
    for ax in axes:
        ax.axvspan(threshold, 6, color=COLORS[1], alpha=0.08, lw=0)
        ax.set_xlabel("logit $x$ of a positive sample")
    axes[0].set(ylabel="loss", ylim=(0, 4), title="loss")
    axes[1].set(ylabel=r"$\partial L/\partial x$", ylim=(-1.05, 0.05),
                title="gradient (shaded: hard truncation gives 0)")
    axes[2].set(ylabel="weight on cross entropy", ylim=(-0.05, 1.05), title="weight")
    axes[0].legend(fontsize=8, loc="upper right")
    return fig


@styled
def plot_imbalance(imbalance: float = 100, seed: int = 0, steps: int | None = None):
    """A scatter plot of the positives and hard negatives with the decision boundaries of the
    cross-entropy and focal-loss networks, and two bar charts of each loss's test average
    precision and of the share of its training loss carried by easy negatives.

    The toy problem at ``imbalance`` negatives per positive, trained with each loss of
    :func:`~companion.focal.imbalance_losses`: the data and two decision boundaries, the
    positives' test average precision, and the share of each loss carried by easy negatives.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    steps = budget(full=300, smoke=60) if steps is None else steps
    res = imbalance_experiment(imbalance, seed=seed, steps=steps)
    X, y, X_test, y_test = res.pop("_data")
    names = list(res)

    fig, axes = figure(1, 3, width=11.5, height=3.6, width_ratios=[1.2, 1, 1])
    ax = axes[0]
    pos = y == 1
    n_pos = int(pos.sum())
    hard = X[n_pos: 2 * n_pos]               # imbalanced_moons puts the hard negatives next
    ax.scatter(hard[:, 0], hard[:, 1], s=6, color="0.45", label=f"hard negatives ({n_pos})")
    ax.scatter(X[pos, 0], X[pos, 1], s=6, color=COLORS[0], label=f"positives ({int(pos.sum())})")
    g0, g1 = torch.meshgrid(torch.linspace(-1.5, 2.5, 161), torch.linspace(-1.2, 1.7, 121), indexing="xy")
    grid = torch.stack([g0.reshape(-1), g1.reshape(-1)], dim=1)
    for name, color in ((names[0], COLORS[1]), (names[4], COLORS[2])):
        with torch.no_grad():
            z = res[name]["model"](grid).reshape(g0.shape)
        ax.contour(g0, g1, z, levels=[0.0], colors=[color], linewidths=1.5)
        ax.plot([], [], color=color, label=f"{name}: p = 0.5")
    ax.set(xlim=(-1.5, 2.5), ylim=(-1.2, 1.7),
           title=f"1 : {imbalance:g}; {len(y) - 2 * n_pos:,} easy negatives on a ring outside")
    ax.legend(fontsize=7, loc="lower left")
    ys = range(len(names))
    # The AP axis starts near the lowest AP (not at 0), so that 0.98 and 0.998 look different.
    low = max(0.0, math.floor(10 * min(res[n]["ap"] for n in names)) / 10 - 0.1)
    axes[1].barh(ys, [res[n]["ap"] - low for n in names], left=low,
                 color=COLORS[: len(names)])
    axes[1].set(yticks=list(ys), yticklabels=names, xlim=(low, 1),
                xlabel=f"test average precision (axis from {low:.1f})", title="positives' AP")
    axes[1].invert_yaxis()
    for i, n in enumerate(names):
        axes[1].text(low + 0.02 * (1 - low), i, f"{res[n]['ap']:.3f}", va="center", fontsize=8,
                     color="white")
    axes[2].barh(ys, [res[n]["easy_share"] for n in names], color=COLORS[: len(names)])
    axes[2].set(yticks=list(ys), yticklabels=[], xlim=(0, 1),
                xlabel="share of its own training loss", title="carried by easy negatives (p < 0.1)")
    axes[2].invert_yaxis()
    return fig
