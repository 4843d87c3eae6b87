"""Figures of the Capsules as K-Means chapter (kexue.fm/archives/5112); the kernels are in
``companion.capsule``, which also offers these functions as attributes (loaded on first use).

Every ``plot_*`` returns a matplotlib ``Figure`` drawn in the book's style, without changing
the caller's ``rcParams`` (:func:`companion.style.styled`).
"""

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import to_rgba

from companion.capsule import (
    METRICS,
    blobs,
    routing_toy,
    routing_trace,
    soft_kmeans,
    squash,
)
from companion.checks import choice as _choice
from companion.checks import generator as _generator
from companion.checks import positive_int as _positive_int
from companion.checks import real
from companion.checks import seed as _seed
from companion.style import COLORS, figure, styled


@styled
def plot_squash(c: float = 1.0, max_norm: float = 5.0):
    """Line plot of the squashed length against the input length for the chosen constant c,
    with grey reference curves for c = 1 and c = 0.5 and a dot where length √c maps to 1/2.
    The figure calls the constant a (the chapter keeps c for memberships).

    That is ‖squash_c(s)‖ against ‖s‖ for ‖s‖ from 0 to ``max_norm``; every curve stays
    below the line at 1.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    c = real(c, "c", positive=True)
    r = torch.linspace(0, real(max_norm, "max_norm", positive=True), 400, dtype=torch.float64)
    s = torch.stack([r, torch.zeros_like(r)], 1)
    fig, ax = figure(width=5.6, height=3.4)
    for ref, style in ((1.0, ":"), (0.5, "--")):
        ax.plot(r, squash(s, c=ref).norm(dim=-1), style, color="gray", lw=1.2, label=f"$a = {ref:g}$")
    ax.plot(r, squash(s, c=c).norm(dim=-1), color=COLORS[0], label=f"$a = {c:.3g}$ (chosen)")
    ax.axhline(1, color="black", lw=0.8)
    half = math.sqrt(c)  # ‖squash‖ = 1/2 exactly when ‖s‖² = c
    ax.plot([half], [0.5], "o", color=COLORS[1], label=r"$\|s\| = \sqrt{a}$ gives $1/2$")
    ax.set(xlabel=r"$\|s\|$", ylabel=r"$\|\mathrm{squash}_a(s)\|$", ylim=(0, 1.05),
           title="The squash bounds a capsule's length below 1")
    ax.legend(loc="lower right")
    return fig


@styled
def plot_soft_kmeans(K: float = 1.0, iters: int = 5, k: int = 3, metric: str = "euclidean",
                     seed: int = 0):
    """Scatter plot of four clusters of 2-D points, coloured by their most likely centre and
    faded where that membership is unsure, with lines tracing the soft K-Means centres over the
    iterations and black crosses at Lloyd's centres.

    Soft K-Means: memberships, centre paths and Lloyd's answer. Points are coloured by their
    most likely centre, with opacity equal to that membership;
    lines trace each centre over the iterations from the same initial points (``k`` points of
    the data drawn with ``seed``); black crosses mark Lloyd's algorithm (hard assignments, 50
    iterations) from the same start. For the normalised inner product a centre is a *sum*, so it
    is drawn at its members' mean, which has the same direction, with its length beside it.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    metric = _choice(metric, "metric", METRICS)
    k, iters, seed = _positive_int(k, "k"), _positive_int(iters, "iters"), _seed(seed)
    x, _ = blobs(seed=seed)
    if k > len(x):
        raise ValueError(f"k must be an integer in [1, {len(x)}] (the starts are distinct data points), got {k}")
    # the starts' own seed; wrapping keeps seed = 2**63 - 1 valid
    start = x[torch.randperm(len(x), generator=_generator((seed + 1) % 2**63))[:k]]

    def shown(centres, memberships):  # where to draw a centre: itself, or its members' mean
        if metric == "euclidean":
            return centres
        return centres / memberships.sum(0).clamp_min(1e-12).unsqueeze(-1)

    runs = [soft_kmeans(x, start, K, r, metric) for r in range(1, iters + 1)]
    track = torch.stack([start] + [shown(v, c) for v, c in runs])        # [iters + 1, k, 2]
    v, c = runs[-1]
    lloyd = shown(*soft_kmeans(x, start, math.inf, 50, metric))

    fig, ax = figure(width=5.6, height=5.0)
    rgba = np.array([to_rgba(COLORS[j % len(COLORS)]) for j in c.argmax(1).tolist()])
    rgba[:, 3] = c.amax(1).numpy()
    ax.scatter(x[:, 0], x[:, 1], s=14, c=rgba, edgecolors="none")
    for j in range(k):
        color = COLORS[j % len(COLORS)]
        ax.plot(track[:, j, 0], track[:, j, 1], "-", color=color, lw=1.2)
        ax.plot(*track[-1, j], "o", color=color, mec="black", ms=9)
        if metric != "euclidean":
            ax.annotate(rf"$\|v\|={v[j].norm():.0f}$", track[-1, j].tolist(), xytext=(6, 6),
                        textcoords="offset points", fontsize=8)
    ax.plot(lloyd[:, 0], lloyd[:, 1], "x", color="black", ms=10, mew=2, label="Lloyd ($K=\\infty$)")
    name = "Euclidean" if metric == "euclidean" else "normalised inner product"
    ax.set(title=f"{name}, $K$ = {K:.3g}, {iters} iteration(s)", aspect="equal", xlabel="$x_1$",
           ylabel="$x_2$")
    ax.legend(loc="upper right")
    return fig


@styled
def plot_more_members(sizes: Sequence[int] = (15, 45, 120), K: float = 2.0, iters: int = 20,
                      seed: int = 0):
    """"More members, more power": centre length against cluster size under both metrics.

    Three clusters of different sizes are clustered from their true means. Euclidean centres are
    means, so their lengths stay near the clusters' common radius; normalised-inner-product
    centres are sums, so their lengths grow in proportion to membership (the bars are annotated
    with length per point).

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    x, labels = blobs(sizes, seed=seed)
    start = torch.stack([x[labels == j].mean(0) for j in range(len(sizes))])
    euclid, _ = soft_kmeans(x, start, K, iters, "euclidean")
    dot, _ = soft_kmeans(x, start, K, iters, "normalized_dot")
    fig, axes = figure(1, 2, width=8.4, height=3.2)
    at = np.arange(len(sizes))
    for ax, centres, title in ((axes[0], euclid, "Euclidean: centre = mean"),
                               (axes[1], dot, "normalised dot: centre = sum")):
        bars = ax.bar(at, centres.norm(dim=-1), color=[COLORS[j % len(COLORS)] for j in range(len(sizes))])
        ax.set(xticks=at, xticklabels=[f"{n} points" for n in sizes], ylabel=r"$\|v_j\|$", title=title)
    axes[1].legend(bars, [f"centre of the {n}-point cluster" for n in sizes], fontsize=8,
                   loc="upper left")  # the same colours on the left
    for j, (n, length) in enumerate(zip(sizes, dot.norm(dim=-1).tolist())):
        axes[1].annotate(f"{length / n:.2f} per point", (j, length), ha="center", xytext=(0, 3),
                         textcoords="offset points", fontsize=8)
    return fig


@styled
def plot_routing(iters: int = 3, noise: float = 0.5, seed: int = 0, max_iters: int = 30):
    """Two heat maps of the couplings of 24 input capsules to four output capsules, for
    Sabour's and Su's routing, above line plots of the mean row entropy and of the step between
    iterates against the number of iterations.

    Routing as iterated clustering: Sabour's accumulated logits against Su's replaced ones. Top:
    the couplings ``c[i, j]`` of :func:`routing_toy`'s inputs (rows, sorted by true parent)
    after ``iters`` iterations, for both variants. Bottom: mean row entropy and the step
    ‖v^(r) − v^(r−1)‖ against the iteration count r, with the chosen ``iters`` marked.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    iters, max_iters = _positive_int(iters, "iters"), _positive_int(max_iters, "max_iters")
    if iters > max_iters:
        raise ValueError(f"iters must be <= max_iters={max_iters}, got {iters}")
    u_hat, parents = routing_toy(noise=noise, seed=seed)
    order = torch.argsort(parents, stable=True)
    shown = ("sabour", "su")
    traces = {variant: routing_trace(u_hat, max_iters, variant) for variant in shown}
    fig = figure(width=8.4, height=6.0)[0]
    fig.clear()
    grid = fig.add_gridspec(2, 2, height_ratios=[1.3, 1])
    n_out = u_hat.shape[2]
    for col, variant in enumerate(shown):
        ax = fig.add_subplot(grid[0, col])
        image = ax.imshow(traces[variant]["couplings"][iters - 1, 0][order].T, vmin=0, vmax=1,
                          cmap="viridis", aspect="auto", interpolation="nearest")
        name = "Sabour: logits accumulate" if variant == "sabour" else "Su: logits replaced"
        ax.set(title=f"{name}, r = {iters}", xlabel="input capsule i (by true parent)",
               ylabel="output j", yticks=range(n_out))
        ax.grid(False)
    fig.colorbar(image, ax=fig.axes, shrink=0.8, label=r"coupling $c_{ij}$")
    r = np.arange(1, max_iters + 1)
    ax_h, ax_s = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    for color, variant in zip(COLORS, shown):
        ax_h.plot(r, traces[variant]["entropy"], color=color, label=variant)
        ax_s.semilogy(r[1:], traces[variant]["step"][1:].clamp_min(1e-17), color=color, label=variant)
    ax_h.axhline(math.log(n_out), color="gray", ls=":", lw=1)
    ax_h.set(xlabel="iterations r", ylabel="mean row entropy (nats)", ylim=(0, None))
    ax_s.set(xlabel="iterations r", ylabel=r"$\max\|v^{(r)}-v^{(r-1)}\|$")
    for ax in (ax_h, ax_s):
        ax.axvline(iters, color="black", lw=0.8)
        ax.legend()
    return fig
