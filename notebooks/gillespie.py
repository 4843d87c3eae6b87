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
# # Gillespie simulation: exact stochastic chemistry, one trajectory and ten thousand
#
# :::{admonition} What you will understand by the end
# - what the chemical master equation describes, and why Gillespie's *direct method* samples its
#   trajectories exactly, with no time step to tune;
# - how to read a reaction network off its reaction formulas, with combinatorial propensities;
# - why a histogram that counts every *event* once is biased, and how weighting states by the
#   *time* spent in them fixes it;
# - how to check a simulator against theory: Poisson laws, moment formulas, the master equation
#   solved exactly, and conservation laws;
# - why simulating thousands of trajectories together is fast, and where it is not.
# :::
#
# **Article.** Su Jianlin,
# [python简单实现gillespie模拟](https://kexue.fm/archives/5607) ("A simple Python implementation
# of Gillespie simulation"), kexue.fm, 2018-06-07. Su needed
# stochastic simulations of a master equation, found no Python tool he liked and wrote a short
# one: reactions are written as formulas, and a loop fires one reaction at a time. He did not
# explain the algorithm; this chapter does, follows his example model, and checks every result.

# %%
import math
import time

import numpy as np
import torch
from scipy import stats

import companion
from companion import gillespie as gil
from companion.progress import tqdm
from companion.widgets import Choice, LogRange, Range, demo

SEED = 0
# events per single trajectory (Su's example ran 100,000 events)
N_EVENTS = companion.budget(full=200_000, smoke=20_000)
N_TRAJ = companion.budget(full=10_000, smoke=500)  # ensemble size
print(f"{N_EVENTS:,} events for single trajectories, "
      f"{N_TRAJ:,} trajectories per ensemble")

# %% [markdown]
# ## The chemical master equation and the direct method
#
# A well-mixed vessel holds $x = (x_1,\dots,x_S)$ molecules of $S$ species. Reaction $r$ fires
# at random, with a *propensity* $a_r(x)$: the probability that it fires in the next instant
# $dt$ is $a_r(x)\,dt$. Under mass action, $a_r$ is the rate constant times the number of distinct
# ways to pick the reactants,
#
# $$
# a_r(x) = k_r \prod_{s} \binom{x_s}{\nu^-_{rs}},
# $$ (eq-propensity)
#
# where $\nu^-_{rs}$ counts species $s$ on the left of reaction $r$ (so $2A\to B$ has
# $a = k\,n(n-1)/2$). The probability $P(x,t)$ of each state then obeys the *chemical master
# equation*: probability flows into $x$ from every state one reaction away and out of $x$ at the
# total rate $a_0(x) = \sum_r a_r(x)$,
#
# $$
# \frac{\partial P(x,t)}{\partial t} = \sum_r \Big[a_r(x-\Delta_r)\,P(x-\Delta_r,t) - a_r(x)\,P(x,t)\Big],
# $$ (eq-cme)
#
# with $\Delta_r$ the change that reaction $r$ makes to $x$. There is one equation per state, far
# too many to solve in general, but its trajectories are easy to *sample*. From state $x$, the time
# to the next reaction is exponential with rate $a_0(x)$ (the reactions are independent Poisson
# clocks, and the first of several exponential clocks rings at the sum of their rates), and the
# reaction that fires is $r$ with probability $a_r(x)/a_0(x)$:
#
# $$
# \begin{aligned}
# \tau &= \frac{1}{a_0(x)}\log\frac{1}{u_1}, \\
# r &= \min\Big\{r : \sum_{r'\le r} a_{r'}(x) > u_2\,a_0(x)\Big\},
# \qquad u_1,u_2\sim U(0,1).
# \end{aligned}
# $$ (eq-direct)
#
# That is Gillespie's *direct method* (1977). It is exact: no time step, no approximation, only
# the randomness of the process itself. Here it is as a plain Python loop, the way Su wrote his
# (this is teaching code; the package's kernels below are the fast versions):

# %%
def direct_method(change, propensities, x0, n_events, rng):
    """One trajectory, one event per iteration.

    Returns the event times and the states."""
    x, t = np.array(x0), 0.0
    times, states = [t], [x.copy()]
    for _ in range(n_events):
        a = propensities(x)
        a0 = a.sum()
        if a0 == 0:            # absorbing state: nothing can happen any more
            break
        t += rng.exponential(1 / a0)
        r = rng.choice(len(a), p=a / a0)
        x = x + change[r]
        times.append(t)
        states.append(x.copy())
    return np.array(times), np.array(states)


# Birth-death: 0 -> X at rate k, X -> 0 at rate gamma * x.
k, gamma = 10.0, 1.0
change = np.array([[1], [-1]])
propensities = lambda x: np.array([k, gamma * x[0]])
times, states = direct_method(change, propensities, x0=[0], n_events=2_000,
                              rng=np.random.default_rng(SEED))
print(f"{len(times) - 1} events up to t = {times[-1]:.1f}; "
      f"final X = {states[-1, 0]}")

# %% [markdown]
# The claim about waiting times is checkable: from a fixed state the first waiting time must be
# exponential with rate $a_0$. A Kolmogorov–Smirnov test on many first steps from $X=5$
# (so $a_0 = k + 5\gamma = 15$) should not reject:

# %%
rng = np.random.default_rng(SEED)
first_waits = [direct_method(change, propensities, [5], 1, rng)[0][1]
               for _ in range(2_000)]
ks = stats.kstest(first_waits, stats.expon(scale=1 / 15).cdf)
print(f"mean wait {np.mean(first_waits):.4f} (1/a0 = {1 / 15:.4f}); "
      f"KS p-value {ks.pvalue:.2f}")
assert ks.pvalue > 1e-3

# %% [markdown]
# ## Reactions from their formulas
#
# Su's code lets one write a system directly as reactions. `ReactionNetwork` does the same from
# readable strings: species get names, `0` stands for nothing, and a coefficient such as `2 A`
# counts a species twice. The stoichiometry becomes two matrices: reactants $\nu^-$ and products
# $\nu^+$, with $\Delta = \nu^+ - \nu^-$. Su's example is a two-stage model of gene expression:
# mRNA ($m$) is made at rate 20, each mRNA is translated into protein ($n$) at rate 2.5, and both
# decay at rate 1 per molecule.

# %%
gene = gil.ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"],
                           rates=[20, 2.5, 1, 1])
print(gene)
print("species:", gene.species)
print("reactants:\n", gene.reactants.numpy())
print("products:\n", gene.products.numpy())

dimer = gil.ReactionNetwork(["2 A -> B"], rates=[0.5])
n = torch.arange(6)
ab = torch.stack([n, torch.zeros_like(n)], dim=-1)  # states (A, B = 0)
a = dimer.propensities(ab).squeeze(-1)
print("2A -> B propensity at A = 0..5:", a.tolist())
assert torch.equal(a, 0.5 * n * (n - 1) / 2)

# %% [markdown]
# ## Warm-up: birth and death
#
# For $\emptyset \xrightarrow{k} X$ and $X \xrightarrow{\gamma} \emptyset$ everything is known in
# closed form. The mean obeys the rate equation $\dot{\bar x} = k - \gamma \bar x$, so
# $\bar x(t) = \frac{k}{\gamma}(1 - e^{-\gamma t}) + x_0 e^{-\gamma t}$; the stationary law is
# Poisson with mean $k/\gamma$; and started from $x_0 = 0$, the law at every time $t$ is Poisson
# with mean $\frac{k}{\gamma}(1-e^{-\gamma t})$.
#
# $$
# \begin{aligned}
# P_\infty(x) &= e^{-k/\gamma}\frac{(k/\gamma)^x}{x!}, \\
# P(x,t\mid x_0{=}0) &= \text{Poisson}\Big(x;\ \tfrac{k}{\gamma}\big(1-e^{-\gamma t}\big)\Big).
# \end{aligned}
# $$ (eq-poisson)
#
# The panel below runs an ensemble for each setting: a few trajectories, the ensemble mean
# against the rate equation, and the ensemble's histogram at the final time against the Poisson
# law of {eq}`eq-poisson` (transient from $x_0=0$, stationary for long horizons).

# %% mystnb={"figure": {"caption": "Birth\u2013death ensembles. Left, a few trajectories, the ensemble mean and the rate equation's mean; right, the ensemble's histogram at the final time against the exact law, Poisson {eq}`eq-poisson` when started empty or after a long time.", "name": "fig-gillespie-birth-death"}} tags=["hide-input"]
demo(gil.plot_birth_death, k=LogRange(1, 50, num=5),
     gamma=LogRange(0.1, 5, num=5, label="γ"),
     x0=Range(0, 40, step=20, value=0, label="x₀"),
     t_max=Choice([1.0, 10.0], value=10.0))

# %% [markdown]
# ## Su's model: two-stage gene expression
#
# Su's example has four reactions in two species,
#
# $$
# \emptyset \xrightarrow{k_m} m,\qquad m \xrightarrow{k_p} m + n,\qquad
# m \xrightarrow{\gamma_m} \emptyset,\qquad n \xrightarrow{\gamma_p} \emptyset,
# $$ (eq-two-stage)
#
# with $k_m = 20$, $k_p = 2.5$, $\gamma_m = \gamma_p = 1$. The mRNA alone is a birth–death process,
# so it is Poisson with mean $k_m/\gamma_m$. The protein inherits the mRNA's noise: its mean is
# $\frac{k_m k_p}{\gamma_m\gamma_p}$, and the moment equations of {eq}`eq-cme` (closed here,
# because every propensity is linear) give its Fano factor and the covariance
#
# $$
# \frac{\operatorname{Var} n}{\mathbb E n} = 1 + \frac{k_p}{\gamma_m + \gamma_p},\qquad
# \operatorname{Cov}(m, n) = \frac{k_p\,\operatorname{Var} m}{\gamma_m + \gamma_p}.
# $$ (eq-moments)
#
# For Su's parameters: mRNA mean and variance 20, protein mean 50, variance 112.5 (Fano 2.25),
# covariance 25. We run one long trajectory the way Su did (his code starts from one molecule of
# each species) and an ensemble of independent trajectories, and compare both with
# {eq}`eq-moments`.

# %%
theory = gil.two_stage_moments(k_m=20, k_p=2.5, gamma_m=1, gamma_p=1)
path = gil.trajectory(gene, x0=[1, 1], n_events=N_EVENTS, seed=SEED)
t_burn = 10.0  # skip the first 10 time units, about ten protein lifetimes
m_vals, m_probs = gil.time_weighted_histogram(path.t, path.x[:, 0],
                                              t_burn=t_burn)
n_vals, n_probs = gil.time_weighted_histogram(path.t, path.x[:, 1],
                                              t_burn=t_burn)
m_mean, n_mean = (m_vals * m_probs).sum(), (n_vals * n_probs).sum()

# The covariance of the path also weights each state by how long it lasted.
dwell, after = np.diff(path.t), path.t[:-1] >= t_burn
path_cov = np.cov(path.x[:-1][after].T, aweights=dwell[after])[0, 1]

ensemble = gil.ssa(gene, x0=[0, 0], t_max=15.0, n_traj=N_TRAJ, seed=SEED)
final = ensemble.x[:, -1, :].double()  # independent stationary draws
m_end, n_end = final[:, 0], final[:, 1]

rows = [
    ("mRNA mean", theory["m_mean"], m_mean, m_end.mean()),
    ("mRNA variance", theory["m_var"],
     (m_vals**2 * m_probs).sum() - m_mean ** 2, m_end.var()),
    ("protein mean", theory["n_mean"], n_mean, n_end.mean()),
    ("protein variance", theory["n_var"],
     (n_vals**2 * n_probs).sum() - n_mean ** 2, n_end.var()),
    ("Cov(m, n)", theory["cov"], path_cov, torch.cov(final.T)[0, 1]),
]
print(f"{'':18s}{'theory':>10s}{'one path':>12s}{'ensemble':>12s}")
for name, exact, one, many in rows:
    print(f"{name:18s}{exact:10.2f}{float(one):12.2f}{float(many):12.2f}")
print(f"\none path: {len(path.t) - 1:,} events over t = {path.t[-1]:.0f}")
print(f"ensemble: {N_TRAJ:,} trajectories, "
      f"{int(ensemble.n_events.sum()):,} events")

# %% [markdown]
# The ensemble column is the sharper check: its trajectories are independent, so the sampling
# error of each entry is known, and the test suite asserts these agreements within a few standard
# errors. The single path is correlated in time, so the same number of events carries less
# information.
#
# ## Counting events is not counting time
#
# Su's histogram counts the protein level once per *event*, which is easy but biased. Events do
# not happen at a steady pace: the vessel fires reactions at the rate $a_0(x)$, here
# $a_0 = k_m + (k_p + \gamma_m)\,m + \gamma_p\,n = 20 + 3.5\,m + n$. States with more molecules are
# left sooner, and so are *counted more often per unit of time they occupy*. An event-weighted
# histogram therefore samples states in proportion to $\pi(x)\,a_0(x)$ instead of the stationary
# law $\pi(x)$, and its means are
#
# $$
# \mathbb E_{\text{event}}[n] = \frac{\mathbb E_\pi[n\,a_0(x)]}{\mathbb E_\pi[a_0(x)]},
# $$ (eq-event-bias)
#
# which the moments of {eq}`eq-moments` evaluate exactly: $\frac{7200}{140} \approx 51.43$ for the
# protein and $\frac{2895}{140} \approx 20.68$ for the mRNA, against the true 50 and 20. Weighting
# each state by the time spent in it (its dwell time) removes the bias.

# %%
burn = int(np.searchsorted(path.t, t_burn))  # events before t_burn
ev_n_vals, ev_n_probs = gil.event_weighted_histogram(path.x[:, 1], burn=burn)
ev_m_vals, ev_m_probs = gil.event_weighted_histogram(path.x[:, 0], burn=burn)
print(f"{'':14s}{'true mean':>10s}{'time-weighted':>15s}"
      f"{'event-weighted':>16s}{'eq. (eq-event-bias)':>21s}")
print(f"{'protein':14s}{theory['n_mean']:10.2f}{n_mean:15.2f}"
      f"{(ev_n_vals * ev_n_probs).sum():16.2f}"
      f"{theory['n_mean_event']:21.2f}")
print(f"{'mRNA':14s}{theory['m_mean']:10.2f}{m_mean:15.2f}"
      f"{(ev_m_vals * ev_m_probs).sum():16.2f}"
      f"{theory['m_mean_event']:21.2f}")

# %% [markdown]
# Move the parameters and switch the weighting: the time-weighted histogram follows the exact
# stationary law (solved from the master equation, next section), while the event-weighted one
# leans towards the busy, high-count states. The bias grows with the spread of $a_0$ over the
# states the system visits.

# %% mystnb={"figure": {"caption": "Su's two-stage gene-expression model. Left, the protein count along one long trajectory; right, its time- or event-weighted histogram against the exact stationary law from the master equation. Switch the weighting and watch the histogram's mean (dashed) move away from the true mean (dotted).", "name": "fig-gillespie-gene-expression"}} tags=["hide-input"]
demo(gil.plot_gene_expression,
     k_m=Range(10, 30, step=10, value=20, label="k_m"),
     k_p=Choice([1.0, 2.5, 5.0], value=2.5, label="k_p"),
     gamma_m=Choice([0.5, 1.0, 2.0], value=1.0, label="γ_m"),
     weighting=Choice(["time", "event"]),
     max_frames=54, dpi=72)

# %% [markdown]
# ## The master equation, solved exactly on a box
#
# For a small system we can skip sampling: truncate the state space to a box (here
# $m \le 60$, $n \le 220$, about $13{,}000$ states, far beyond where the probability is
# noticeable), write {eq}`eq-cme` as $\dot P = QP$ with a sparse generator $Q$, and solve
# $QP = 0$ for the stationary law. Transitions that would leave the box are dropped, so the
# truncation is exact up to the (negligible) mass outside. The SSA ensemble should match its
# protein marginal up to sampling noise, which we measure by the total variation distance.

# %%
exact = gil.cme_stationary(gene, max_counts=(60, 220))
exact_n = exact.sum(axis=0)  # marginal of the protein
counts = np.bincount(n_end.long().numpy(), minlength=exact_n.size)
counts = counts[: exact_n.size]
tv = 0.5 * np.abs(counts / counts.sum() - exact_n).sum()
# Yardstick: the distance of a sample of the same size drawn from the
# exact law itself.
reference = np.random.default_rng(SEED).choice(
    exact_n.size, size=int(counts.sum()), p=exact_n)
null_counts = np.bincount(reference, minlength=exact_n.size)
tv_null = 0.5 * np.abs(null_counts / counts.sum() - exact_n).sum()
print(f"mass at the box edge (n = 220): {exact_n[-1]:.1e}")
print(f"exact protein mean {np.arange(exact_n.size) @ exact_n:.3f} "
      f"(closed form {theory['n_mean']})")
print("total variation to the exact law:")
print(f"  SSA ensemble {tv:.3f}, "
      f"a sample from the exact law itself {tv_null:.3f}")

# %% [markdown]
# The SSA ensemble is as close to the exact law as a sample drawn from that law itself: what is
# left is the sampling noise of $N$ draws spread over some hundred levels, which shrinks like
# $1/\sqrt N$. The exact mean agrees with {eq}`eq-moments` to rounding.
#
# ## Enzyme kinetics and conservation laws
#
# In the article's comments Su answers a reader with an enzyme model: substrate $S$ binds enzyme
# $E$ into a complex $SE$, which either falls apart or turns the substrate into product $P$,
#
# $$
# S + E \xrightarrow{1.66\times10^{-3}} SE,\qquad SE \xrightarrow{10^{-4}} S + E,\qquad
# SE \xrightarrow{0.1} P + E,
# $$ (eq-enzyme)
#
# from 300 substrate and 121 enzyme molecules. Every reaction keeps the enzyme, free or bound,
# and the substrate, in any form: $E + SE = 121$ and $S + SE + P = 300$ at all times. The
# stochastic trajectory should honour both exactly, and follow the deterministic rate equations
# (mass action with concentrations replaced by counts) when the counts are this large.

# %%
enzyme = gil.ReactionNetwork(["S + E -> SE", "SE -> S + E", "SE -> P + E"],
                             rates=[1.66e-3, 1e-4, 0.1])
run = gil.trajectory(enzyme, x0={"S": 300, "E": 121}, t_max=80.0, seed=SEED)
S, E, SE, P = (run.x[:, enzyme.index(name)] for name in ("S", "E", "SE", "P"))
assert (E + SE == 121).all() and (S + SE + P == 300).all()
assert (run.x >= 0).all()
print(f"{len(run.t) - 1} events; conservation holds at every one of them")
t_ode = np.linspace(0, 80, 200)
ode = gil.mass_action_ode(enzyme, [300, 121, 0, 0], t_ode)

# %% mystnb={"figure": {"caption": "Enzyme kinetics {eq}`eq-enzyme` from 300 substrate and 121 enzyme molecules: one SSA trajectory of each species (steps) and the deterministic rate equations (dashed). At these counts the two agree closely.", "name": "fig-gillespie-enzyme"}, "image": {"alt": "Molecule counts against time from 0 to 80 for the four species S, E, SE and P, each in its own colour: stepped curves from the stochastic simulation, each with a dashed curve of the rate equations running along it. Substrate S falls from 300 towards zero while product P rises towards 300; the complex SE rises quickly and then declines while the free enzyme E first drops and then recovers to 121."}} tags=["hide-input"]
from companion import style

fig, ax = style.figure(width=7, height=3.2)
for j, name in enumerate(enzyme.species):
    ax.step(run.t, run.x[:, j], where="post", color=style.COLORS[j],
            label=f"{name} (SSA)")
    ax.plot(t_ode, ode[:, j], color=style.COLORS[j], ls="--", lw=1)
ax.set(xlabel="time", ylabel="molecules",
       title="Enzyme kinetics: SSA (steps) and rate equations (dashed)")
ax.legend(ncols=4, fontsize=8)
fig

# %% [markdown]
# ## Ten thousand trajectories at once
#
# Su's loop, like ours at the top of the chapter, pays Python's overhead on every event: a few
# microseconds, so some $10^5$ events per second. Statistics need many trajectories, and those are
# independent, which is the opening for speed. `companion.gillespie.ssa` offers two engines:
#
# - **lock-step tensors** (`backend="torch"`): all trajectories take their next event together,
#   as a handful of tensor operations over the whole batch (propensities, one exponential and
#   one uniform per trajectory, a cumulative-sum search, a state update). The Python overhead is
#   paid once per *step of the batch*, not once per event, and the same code runs on a GPU.
# - **compiled per-trajectory loops** (`backend="numba"`, the CPU default): each trajectory runs
#   the direct method in machine code with its own random stream, trajectories spread over the
#   CPU cores. This is the fast path on a CPU.
#
# Lock-step batching loses where there is no batch: one long trajectory is a sequence of
# dependent events, so it cannot be split across cores or tensor lanes, and every batched step
# costs more than one scalar step. It also idles lanes whose trajectory has already stopped
# while others still run. Below, the same birth–death ensemble with each engine, and a Su-style
# loop on one trajectory; `make bench` runs the full comparison, including GillesPy2's C++ solver.

# %% tags=["timing"]
bd = gil.ReactionNetwork(["0 -> X", "X -> 0"], rates=[100.0, 1.0])


def events_per_second(fn):
    start = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - start)


def python_loop():
    """Su-style: one trajectory, one Python iteration per event."""
    times, _ = direct_method(
        np.array([[1], [-1]]), lambda x: np.array([100.0, 1.0 * x[0]]), [0],
        companion.budget(full=50_000, smoke=5_000),
        np.random.default_rng(SEED))
    return len(times) - 1


def ensemble_events(backend):
    """All N_TRAJ trajectories with one engine of gil.ssa."""
    ens = gil.ssa(bd, x0=[0], t_max=5.0, n_traj=N_TRAJ, seed=SEED,
                  backend=backend)
    return int(ens.n_events.sum())


gil.ssa(bd, x0=[0], t_max=0.1, n_traj=2, seed=SEED)  # compile once, untimed
speeds = {"Python loop, 1 trajectory": events_per_second(python_loop)}
for backend in tqdm(["torch", "numba"], desc="engines"):
    speeds[f"ssa {backend}, {N_TRAJ:,} trajectories"] = events_per_second(
        lambda: ensemble_events(backend))
base = speeds["Python loop, 1 trajectory"]
for name, speed in speeds.items():
    print(f"{name:31s} {speed / 1e6:8.2f} M events/s  "
          f"({speed / base:6.0f}x the Python loop)")

# %% [markdown]
# ## Summary
#
# - The chemical master equation {eq}`eq-cme` is sampled exactly by the direct method
#   {eq}`eq-direct`: an exponential waiting time at the total propensity, then a reaction drawn in
#   proportion to its propensity {eq}`eq-propensity`.
# - Birth–death checks the simulator against Poisson laws {eq}`eq-poisson`; Su's two-stage model
#   against the moment formulas {eq}`eq-moments` and the master equation solved on a box; the enzyme
#   model against its conservation laws.
# - A histogram over events is biased towards busy states {eq}`eq-event-bias`; weight each state
#   by its dwell time instead.
# - Many independent trajectories are where the speed is: compiled per-trajectory loops on a CPU,
#   lock-step tensor steps on a GPU; one long trajectory stays sequential.
#
# ## References
#
# - Su Jianlin (2018). [python简单实现gillespie模拟](https://kexue.fm/archives/5607) ("A simple
#   Python implementation of Gillespie simulation"). kexue.fm, 7 June 2018.
# - Gillespie, D. T. (1977). "Exact Stochastic Simulation of Coupled Chemical Reactions". *The
#   Journal of Physical Chemistry* 81(25), 2340–2361.
#   [doi:10.1021/j100540a008](https://doi.org/10.1021/j100540a008).
# - Thattai, M. & van Oudenaarden, A. (2001). "Intrinsic noise in gene regulatory networks".
#   *Proceedings of the National Academy of Sciences* 98(15), 8614–8619.
#   [doi:10.1073/pnas.151588598](https://doi.org/10.1073/pnas.151588598). (The two-stage
#   model's moments, {eq}`eq-moments`.)
#
# ## Exercises
#
# 1. Show that Poisson$(k/\gamma)$ is stationary for birth–death by checking that the flow from
#    $x$ to $x+1$ balances the flow back, $k\,P(x) = \gamma (x+1) P(x+1)$.
#
# :::{admonition} Solution
# :class: dropdown
#
# With $P(x) = e^{-\lambda}\lambda^x/x!$ and $\lambda = k/\gamma$:
#
# $$
# \begin{aligned}
# \gamma(x+1)P(x+1) &= \gamma(x+1)\,e^{-\lambda}\lambda^{x+1}/(x+1)! \\
# &= \gamma\lambda\,e^{-\lambda}\lambda^x/x! = k\,P(x).
# \end{aligned}
# $$
#
# Every pair of neighbouring states exchanges equal flows, so the right side of {eq}`eq-cme`
# vanishes: the law is stationary (detailed balance).
# :::
#
# 2. Make protein production burstier at the same mean: $k_p = 10$, $\gamma_m = 4$ (so
#    $k_m k_p/(\gamma_m\gamma_p)$ stays 50). Predict the Fano factor from {eq}`eq-moments`, then
#    check it with an ensemble.
#
# :::{admonition} Solution
# :class: dropdown
#
# The Fano factor becomes $1 + 10/(4+1) = 3$, so the variance is 150.
#
# ```python
# bursty = gil.ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"],
#                              rates=[20, 10, 4, 1])
# ens = gil.ssa(bursty, x0=[0, 0], t_max=15.0, n_traj=10_000, seed=1)
# n_end = ens.x[:, -1, 1].double()
# print(n_end.mean(), n_end.var() / n_end.mean())  # about 50 and 3
# ```
# :::
#
# 3. Su's event-weighted histogram puts the mRNA mean at about 20.7. Derive this from
#    {eq}`eq-event-bias` using only the moments of {eq}`eq-moments`.
#
# :::{admonition} Solution
# :class: dropdown
#
# $\mathbb E[a_0] = 20 + 3.5\cdot 20 + 50 = 140$ and
#
# $$
# \begin{aligned}
# \mathbb E[m\,a_0] &= 20\cdot 20 + 3.5\,\mathbb E[m^2] + \mathbb E[mn] \\
# &= 400 + 3.5\cdot 420 + (25 + 1000) = 2895,
# \end{aligned}
# $$
#
# so $\mathbb E_{\text{event}}[m] = 2895/140 \approx 20.68$.
# :::
