"""Figures of the Gillespie simulation chapter (kexue.fm/archives/5607); the kernels are in
``companion.gillespie``, which also offers these functions as attributes (loaded on first use).

Every ``plot_*`` returns a matplotlib ``Figure`` drawn in the book's style, without changing
the caller's ``rcParams`` (:func:`companion.style.styled`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from companion import budget, style
from companion.checks import integer, real
from companion.gillespie import (
    ReactionNetwork,
    birth_death_law,
    cme_stationary,
    compare_weightings,
    jump_chain_law,
    ssa,
    two_stage_moments,
)
from companion.style import styled


@styled
def plot_birth_death(k: float = 10.0, gamma: float = 1.0, x0: int = 0, t_max: float = 10.0,
                     n_traj: int | None = None, seed: int = 0):
    """Two panels. Left: five sample trajectories of a birth–death process as faint step curves,
    the mean of the ensemble as a thick black line and the rate equation's mean as a dashed line,
    against time. Right: the histogram of the ensemble at the final time as bars, against the
    exact law drawn as black dots joined by a line.

    Birth–death ensemble, its mean against the rate equation, and its histogram at ``t_max``
    against the exact law (Poisson when started empty or after a long time).

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    # Checked here, before the simulation: gamma = 0 would only fail in the exact law afterwards.
    k, gamma, t_max = real(k, "k"), real(gamma, "gamma", positive=True), real(t_max, "t_max", positive=True)
    x0 = integer(x0, "x0")
    n_traj = budget(full=2000, smoke=200) if n_traj is None else n_traj
    net = ReactionNetwork(["0 -> X", "X -> 0"], rates=[k, gamma])
    grid = torch.linspace(0, t_max, 201, dtype=torch.float64)
    ens = ssa(net, [int(x0)], t_max=t_max, n_traj=n_traj, seed=seed, t_grid=grid)
    x = ens.x[..., 0].double()
    mean_ode = k / gamma * (1 - torch.exp(-gamma * grid)) + x0 * torch.exp(-gamma * grid)

    fig, (left, right) = style.figure(1, 2, width=8.4, height=3.2)
    for i in range(min(5, n_traj)):
        left.step(grid, x[i], where="post", lw=0.8, alpha=0.6)
    left.plot(grid, x.mean(0), color="black", lw=2, label=f"mean of {n_traj} runs")
    left.plot(grid, mean_ode, color=style.COLORS[1], lw=2, ls="--", label="rate equation")
    left.set(xlabel="time", ylabel="X", title=rf"$k={k:.3g},\ \gamma={gamma:.3g}$")
    left.legend(fontsize=8)
    final = x[:, -1].long().numpy()
    n_max = int(max(final.max(), k / gamma + 6 * math.sqrt(k / gamma + 1) + x0)) + 1
    law = birth_death_law(k, gamma, int(x0), t_max, n_max)
    right.hist(final, bins=np.arange(n_max + 2) - 0.5, density=True, alpha=0.5, label="SSA at $t_{max}$")
    right.plot(np.arange(n_max + 1), law, color="black", marker=".", lw=1, label="exact law")
    right.set(xlabel="X", ylabel="probability", xlim=(-0.5, n_max + 0.5))
    right.legend(fontsize=8)
    return fig


def _two_stage_network(k_m, k_p, gamma_m, gamma_p) -> ReactionNetwork:
    """The two-stage gene-expression model of :func:`two_stage_moments`, as a network."""
    return ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"], rates=[k_m, k_p, gamma_m, gamma_p])


@functools.lru_cache(maxsize=64)
def _protein_law(k_m, k_p, gamma_m, gamma_p):
    """The protein's stationary law from the master equation on a box eight standard deviations
    wide, and the law an event-weighted histogram estimates (:func:`jump_chain_law`), both as
    marginals. Cached: a slider panel draws each rate setting twice (time- and event-weighted),
    and the solve takes a second or more at the busy end of the sliders."""
    net = _two_stage_network(k_m, k_p, gamma_m, gamma_p)
    theory = two_stage_moments(k_m, k_p, gamma_m, gamma_p)
    m_max = int(theory["m_mean"] + 8 * math.sqrt(theory["m_var"]) + 10)
    n_max = int(theory["n_mean"] + 8 * math.sqrt(theory["n_var"]) + 10)
    joint = cme_stationary(net, max_counts=(m_max, n_max))
    law, events = joint.sum(axis=0), jump_chain_law(net, joint).sum(axis=0)
    law.flags.writeable = events.flags.writeable = False  # shared between calls
    return law, events


@styled
def plot_gene_expression(k_m: float = 20.0, k_p: float = 2.5, gamma_m: float = 1.0,
                         gamma_p: float = 1.0, weighting: str = "time", n_events: int | None = None,
                         n_paths: int = 8, seed: int = 0):
    r"""Two panels. Left: the time-weighted and the event-weighted protein mean of each of
    several long trajectories of the two-stage gene expression model, as markers, against
    horizontal lines at the true mean and at the event-weighted limit. Right: the protein
    histogram pooled over the trajectories as bars, against the exact stationary law as a black
    line and the law that counting events converges to as a grey dashed line.

    Protein paths of the two-stage model (:func:`compare_weightings`, ``n_paths`` seeds from
    ``seed``), and their histogram weighted by ``"time"`` (dwell time, unbiased) or ``"event"``
    (Su's count per event, biased), against the exact stationary law :math:`\pi` from the
    truncated master equation and the event-weighted limit :math:`\pi a_0/\mathbb E[a_0]`
    (:func:`jump_chain_law`). The title gives the histogram's total variation distance to both;
    the legend its mean with the standard error over the paths. (The burn-in, ten lifetimes, is
    clipped to half a path when the paths are shorter.)

    Introduced in: Gillespie simulation (kexue.fm/archives/5607).
    """
    if weighting not in ("time", "event"):
        raise ValueError(f"weighting must be 'time' or 'event', got {weighting!r}")
    n_events = budget(full=100_000, smoke=20_000) if n_events is None else n_events
    net = _two_stage_network(k_m, k_p, gamma_m, gamma_p)
    theory = two_stage_moments(k_m, k_p, gamma_m, gamma_p)
    # Ten lifetimes of burn-in (compare_weightings clips it to half a path when slow rates make
    # the paths shorter than that, as in the smoke run's short paths at gamma_m = 0.5).
    t_burn = 10.0 / min(gamma_m, gamma_p)
    runs = compare_weightings(net, [1, 1], "n", n_events=n_events, n_paths=n_paths, seed=seed,
                              t_burn=t_burn)
    values, probs = runs["values"], runs[f"{weighting}_probs"]
    means = runs[f"{weighting}_means"][:, 1]
    exact, events = _protein_law(k_m, k_p, gamma_m, gamma_p)
    n_max = len(exact) - 1

    def tv(law):
        full = np.zeros(max(n_max, int(values[-1])) + 1)
        full[values] = probs
        return 0.5 * np.abs(full[: n_max + 1] - law).sum() + 0.5 * full[n_max + 1:].sum()

    fig, (left, right) = style.figure(1, 2, width=8.4, height=3.2)
    paths = np.arange(1, n_paths + 1)
    t_means, e_means = runs["time_means"][:, 1], runs["event_means"][:, 1]
    left.axhline(theory["n_mean"], color="black", ls=":", lw=1.2, label="true mean")
    left.axhline(theory["n_mean_event"], color="0.45", ls="--", lw=1.2, label="event limit")
    left.plot(paths, t_means, "o", color=style.COLORS[0], label="time-weighted")
    left.plot(paths, e_means, "^", color=style.COLORS[1], label="event-weighted")
    left.set(xlabel="path", ylabel="protein mean", xticks=paths,
             title=f"each path's mean ({n_events:,} events)")
    low = min(t_means.min(), e_means.min(), theory["n_mean"])
    high = max(t_means.max(), e_means.max(), theory["n_mean_event"])
    left.set_ylim(low - 0.8 * (high - low), high + 0.15 * (high - low))  # room for the legend
    left.legend(fontsize=8, ncols=2, loc="lower center")
    mean, se = float(means.mean()), float(means.std(ddof=1) / math.sqrt(n_paths))
    right.bar(values, probs, width=1.0, alpha=0.5,
              label=f"{weighting}-weighted\nmean {mean:.1f} ± {se:.1f}")
    grid = np.arange(n_max + 1)
    right.plot(grid, exact, color="black", lw=1.2, label=r"$\pi$ (exact)")
    right.plot(grid, events, color="0.45", lw=1.2, ls="--", label=r"$\pi a_0/E[a_0]$")
    right.set(xlabel="protein $n$", ylabel="probability",
              xlim=(0, theory["n_mean"] + 5 * math.sqrt(theory["n_var"])),
              title=rf"TV to $\pi$: {tv(exact):.3f}, to $\pi a_0$: {tv(events):.3f}")
    right.legend(fontsize=8)
    return fig
