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
# - how to check a simulator against theory, with error bars: exact laws, moment formulas, the
#   master equation solved exactly, and conservation laws;
# - why simulating thousands of trajectories together is fast, and where it is not;
# - how to sweep a model's parameters on a cluster and get the same numbers, bit for bit, as on
#   one machine.
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
import os
import time

import numpy as np
import torch
from scipy import stats

import companion
from companion import gillespie as gil
from companion import style, sweeps
from companion.progress import tqdm
from companion.widgets import Choice, Range, demo

# The chapter's own figures in the book's style (the plot_* functions
# apply it themselves, without changing matplotlib's global settings).
style.use()

SEED = 0
# events per single trajectory (Su's example ran 100,000 events)
N_EVENTS = companion.budget(full=200_000, smoke=20_000)
N_TRAJ = companion.budget(full=10_000, smoke=500)  # ensemble size
N_PATHS = 8  # independent long paths, for error bars over seeds
print(f"{N_EVENTS:,} events for single trajectories, "
      f"{N_TRAJ:,} trajectories per ensemble,\n{N_PATHS} long paths")

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
se_wait = np.std(first_waits, ddof=1) / math.sqrt(len(first_waits))
print(f"mean wait {np.mean(first_waits):.4f} ± {se_wait:.4f} "
      f"(1/a0 = {1 / 15:.4f}); KS p-value {ks.pvalue:.2f}")
assert ks.pvalue > 1e-3 and abs(np.mean(first_waits) - 1 / 15) < 4 * se_wait

# %% [markdown]
# ## Reactions from their formulas
#
# Su's code lets one write a system directly as reactions. `ReactionNetwork` does the same from
# readable strings: species get names, `0` stands for nothing, and a coefficient such as `2 A`
# counts a species twice. The stoichiometry becomes two matrices: reactants $\nu^-$ and products
# $\nu^+$, with $\Delta = \nu^+ - \nu^-$. Su's example is a two-stage model of gene expression:
# mRNA ($m$) is made at rate 20, each mRNA is translated into protein ($n$) at rate 2.5, and both
# decay at rate 1 per molecule.
#
# Su first writes transcription as $\text{DNA} \to \text{DNA} + m$: the gene is copied and stays.
# With one gene copy that never changes, its propensity is $20 \cdot \binom{1}{1} = 20$ in every
# state, so the DNA can be dropped and the reaction written $\emptyset \to m$. The symbol
# $\emptyset$ (Su's $\phi$, our `0`) means "nothing we count": on the left a constant source
# (here the gene), on the right a sink (a degraded molecule leaves the system).

# %%
gene = gil.ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"],
                           rates=[20, 2.5, 1, 1])
print(gene)
print("species:", gene.species)
print("reactants:\n", gene.reactants.numpy())
print("products:\n", gene.products.numpy())

# Su's first form, with the gene as a species of one copy: with the same
# seed it fires exactly the same reactions, so m and n follow the same path.
with_dna = gil.ReactionNetwork(
    ["D -> D + m", "m -> m + n", "m -> 0", "n -> 0"], rates=[20, 2.5, 1, 1])
short = gil.trajectory(gene, x0=[1, 1], n_events=5_000, seed=SEED)
short_dna = gil.trajectory(with_dna, x0={"D": 1, "m": 1, "n": 1},
                           n_events=5_000, seed=SEED)
assert (short_dna.counts("D") == 1).all()
assert np.array_equal(short_dna.x[:, 1:], short.x)
print("DNA -> DNA + m with one gene copy gives the same path as 0 -> m:")
print(f"{len(short.t) - 1:,} identical events")

dimer = gil.ReactionNetwork(["2 A -> B"], rates=[0.5])
n = torch.arange(6)
ab = torch.stack([n, torch.zeros_like(n)], dim=-1)  # states (A, B = 0)
a = dimer.propensities(ab).squeeze(-1)
print("2A -> B propensity at A = 0..5:", a.tolist())
assert torch.equal(a, 0.5 * n * (n - 1) / 2)

# %% [markdown]
# ```{admonition} Porting a rate from GillesPy2
# :class: note
# The binomial in {eq}`eq-propensity` counts *unordered* pairs, so a dimerisation `2 A -> B`
# fires at $k\,x(x-1)/2$: the convention of Gillespie's 1977 paper and of the DSMTS test suite.
# GillesPy2 writes the same mass-action reaction as $k\,x(x-1)$ (and its ODE as $k x^2$), so a
# rate taken from a GillesPy2 model must be doubled here: $k = 2\,k_{\text{GillesPy2}}$.
# Reactions between two different species need no change.
# ```

# %% [markdown]
# ## Warm-up: birth and death
#
# For $\emptyset \xrightarrow{k} X$ and $X \xrightarrow{\gamma} \emptyset$ everything is known in
# closed form. The mean obeys the rate equation $\dot{\bar x} = k - \gamma \bar x$, so
# $\bar x(t) = \frac{k}{\gamma}(1 - e^{-\gamma t}) + x_0 e^{-\gamma t}$; the stationary law is
# Poisson with mean $k/\gamma$. At a finite time, each of the $x_0$ first molecules has survived
# independently with probability $e^{-\gamma t}$, and the newcomers still present form a Poisson
# number, so the law is a binomial convolved with a Poisson, which is Poisson itself only when
# $x_0 = 0$:
#
# $$
# \begin{aligned}
# P_\infty(x) &= e^{-k/\gamma}\frac{(k/\gamma)^x}{x!}, \\
# X_t &\sim \text{Binomial}\big(x_0,\ e^{-\gamma t}\big)
# + \text{Poisson}\Big(\tfrac{k}{\gamma}\big(1-e^{-\gamma t}\big)\Big).
# \end{aligned}
# $$ (eq-poisson)
#
# The panel below runs an ensemble for each setting: a few trajectories, the ensemble mean
# against the rate equation, and the ensemble's histogram at the final time against the exact
# law of {eq}`eq-poisson` (`gil.birth_death_law`). The book's panel holds every setting of its
# sliders.

# %% mystnb={"figure": {"caption": "Birth\u2013death ensembles. Left, a few trajectories, the ensemble mean and the rate equation's mean; right, the ensemble's histogram at the final time against the exact law {eq}`eq-poisson` (Poisson when started empty or after a long time).", "name": "fig-gillespie-birth-death"}} tags=["hide-input"]
demo(gil.plot_birth_death, k=Choice([1.0, 10.0, 50.0], value=10.0),
     gamma=Choice([0.1, 1.0, 5.0], value=1.0, label="γ"),
     x0=Choice([0, 40], value=0, label="x₀"),
     t_max=Choice([1.0, 10.0], value=10.0))

# %% [markdown]
# The law {eq}`eq-poisson` can also be computed without knowing it: write the master equation
# {eq}`eq-cme` on the states $0..N$ as $\dot P = QP$ with a sparse matrix $Q$ (next sections);
# then $P(t) = e^{tQ}P(0)$, a matrix exponential that `scipy.sparse.linalg.expm_multiply` applies
# without forming it (`gil.cme_transient`). Below, from $x_0 = 40$ at $t = 1$: the exponential
# against the closed form, and an SSA ensemble against both.

# %%
bd_net = gil.ReactionNetwork(["0 -> X", "X -> 0"], rates=[10.0, 1.0])
by_expm = gil.cme_transient(bd_net, [40], 1.0, max_counts=(120,))
closed = gil.birth_death_law(10.0, 1.0, x0=40, t=1.0, n_max=120)
bd_ens = gil.ssa(bd_net, x0=[40], t_max=1.0, n_traj=N_TRAJ, seed=SEED)
bd_end = bd_ens.x[:, -1, 0].double().numpy()
law_mean = np.arange(121) @ closed
print(f"largest |expm - closed form| over 0..120: "
      f"{np.abs(by_expm - closed).max():.1e}")
print(f"mean at t = 1: closed form {law_mean:.3f}, "
      f"SSA {bd_end.mean():.3f} "
      f"± {bd_end.std(ddof=1) / math.sqrt(N_TRAJ):.3f}")
assert np.abs(by_expm - closed).max() < 1e-8
assert abs(bd_end.mean() - law_mean) < 4 * bd_end.std() / math.sqrt(N_TRAJ)

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
# with $k_m = 20$, $k_p = 2.5$, $\gamma_m = \gamma_p = 1$. Because every propensity is linear in
# the counts, the moments obey closed equations. Multiplying {eq}`eq-cme` by a function $f(x)$
# and summing over $x$ gives
#
# $$
# \frac{d}{dt}\mathbb E[f(x)] = \sum_r \mathbb E\big[a_r(x)\,\big(f(x+\Delta_r) - f(x)\big)\big].
# $$ (eq-moment-eq)
#
# With $f = m$, $n$, $m^2$, $mn$, $n^2$ in turn and the time derivatives set to zero, it gives
# (writing $V$ for variances and $C$ for the covariance)
#
# $$
# \begin{aligned}
# f = m,\ n:&\quad \mathbb E m = k_m/\gamma_m,\qquad \mathbb E n = k_p\,\mathbb E m/\gamma_p, \\
# f = m^2:&\quad V_m = \mathbb E m, \\
# f = mn:&\quad 0 = k_p V_m - (\gamma_m+\gamma_p)\,C_{mn}, \\
# f = n^2:&\quad 0 = 2k_p C_{mn} + k_p\,\mathbb E m + \gamma_p\,\mathbb E n - 2\gamma_p V_n.
# \end{aligned}
# $$
#
# The second line says that the mRNA, a birth–death process by itself, is Poisson. Solving, the
# protein mean is $\frac{k_m k_p}{\gamma_m\gamma_p}$, and its Fano factor and the covariance are
# (Thattai & van Oudenaarden 2001)
#
# $$
# \frac{\operatorname{Var} n}{\mathbb E n} = 1 + \frac{k_p}{\gamma_m + \gamma_p},\qquad
# \operatorname{Cov}(m, n) = \frac{k_p\,\operatorname{Var} m}{\gamma_m + \gamma_p}.
# $$ (eq-moments)
#
# The cell below evaluates them for Su's parameters (`gil.two_stage_moments`). We run one long
# trajectory the way Su did (his code starts from one molecule of each species) and an ensemble
# of independent trajectories, and compare both with {eq}`eq-moments`. Each number carries a
# standard error. For the ensemble, whose trajectories are independent, that is the usual
# $\text{sd}/\sqrt N$. The states along one path are correlated in time, so there we use *batch
# means*: cut the path, after its burn-in, into 20 stretches of equal duration, average within each
# (weighting every state by its dwell time), and take the spread of the 20 averages
# (`gil.batch_means`). Stretches much longer than the correlation time are nearly independent.

# %%
theory = gil.two_stage_moments(k_m=20, k_p=2.5, gamma_m=1, gamma_p=1)
print("closed forms:", ", ".join(
    f"{key} {theory[key]:g}"
    for key in ("m_mean", "m_var", "n_mean", "n_var", "cov")))
path = gil.trajectory(gene, x0=[1, 1], n_events=N_EVENTS, seed=SEED)
t_burn = 10.0  # skip the first 10 time units, about ten protein lifetimes
after = path.t[:-1] >= t_burn
dwell = np.diff(path.t)[after]  # each state weighs its dwell time
m_path, n_path = path.x[:-1][after].T.astype(float)

ensemble = gil.ssa(gene, x0=[0, 0], t_max=15.0, n_traj=N_TRAJ, seed=SEED)
# independent, stationary draws
m_end, n_end = ensemble.x[:, -1, :].double().numpy().T


def moments(m, n, weights):
    """(estimate, standard error) of each moment, by batch means."""
    m_mean = gil.batch_means(m, weights=weights)
    n_mean = gil.batch_means(n, weights=weights)
    dm, dn = m - m_mean[0], n - n_mean[0]
    return {"m_mean": m_mean, "m_var": gil.batch_means(dm**2, weights=weights),
            "n_mean": n_mean, "n_var": gil.batch_means(dn**2, weights=weights),
            "cov": gil.batch_means(dm * dn, weights=weights)}


one_path = moments(m_path, n_path, dwell)
many = moments(m_end, n_end, None)
names = {"m_mean": "mRNA mean", "m_var": "mRNA variance",
         "n_mean": "protein mean", "n_var": "protein variance",
         "cov": "Cov(m, n)"}
print(f"\n{'':17s}{'theory':>8s}{'one path':>18s}{'ensemble':>18s}")
for key, name in names.items():
    (a, sa), (b, sb) = one_path[key], many[key]
    print(f"{name:17s}{theory[key]:8.2f}{a:11.2f} ± {sa:4.2f}"
          f"{b:11.2f} ± {sb:4.2f}")
    # agreement within four standard errors, for both columns
    assert abs(a - theory[key]) < 4 * sa and abs(b - theory[key]) < 4 * sb
print(f"\none path: {len(path.t) - 1:,} events over t = {path.t[-1]:.0f}")
print(f"ensemble: {N_TRAJ:,} trajectories, "
      f"{int(ensemble.n_events.sum()):,} events")
ratio = np.mean([one_path[k][1] / many[k][1] for k in names])
print(f"one path's standard errors / ensemble's: {ratio:.1f} on average")
assert ratio > 1

# %% [markdown]
# Su's first figure is the protein count along his single path. Here is ours, from one molecule
# of each species; the shaded start is the burn-in that the estimates above drop.

# %% mystnb={"figure": {"caption": "The protein count along one long path of Su's model {eq}`eq-two-stage` (the article's first figure), started from one molecule of mRNA and of protein. The shaded start is the burn-in, dropped by every estimate in this chapter; the dotted line is the stationary mean.", "name": "fig-gillespie-path"}, "image": {"alt": "A noisy protein count against time over the whole path: it climbs from one molecule within the shaded burn-in and then fluctuates around a dotted line at the stationary mean."}} tags=["hide-input"]
fig, ax = style.figure(width=8.4, height=2.6)
ax.plot(path.t, path.x[:, 1], lw=0.3, label="protein $n$ (one path)")
ax.axvspan(0, t_burn, color="0.85", label="burn-in (dropped)")
ax.axhline(theory["n_mean"], color="black", ls=":", lw=1.2,
           label="stationary mean")
ax.set(xlabel="time", ylabel="protein $n$", xlim=(0, path.t[-1]))
ax.legend(fontsize=8, ncols=3, loc="upper right")
fig

# %% [markdown]
# Both columns agree with {eq}`eq-moments` within their error bars (the cell asserts four
# standard errors). The ensemble column is the sharper check: its end points are independent
# draws, while successive states of one path are strongly correlated, so a path's events are
# worth far fewer independent samples. The test suite repeats
# the one-path check on a path of three million events.
#
# ## Counting events is not counting time
#
# Su's histogram counts the protein level once per *event*, which is easy but biased. Events do
# not happen at a steady pace: the vessel fires reactions at the rate $a_0(x)$, here
# $a_0 = k_m + (k_p + \gamma_m)\,m + \gamma_p\,n = 20 + 3.5\,m + n$. Why this biases the count
# takes two lines. Along a long stationary path, the state $x$ is occupied a fraction $\pi(x)$ of
# the time (that is what the stationary law means), and while it is occupied it ends by an event
# at rate $a_0(x)$. So per unit time, $x$ is recorded $\pi(x)\,a_0(x)$ times on average, and the
# fraction of records that show $x$ tends to
#
# $$
# \begin{aligned}
# q(x) &= \frac{\pi(x)\,a_0(x)}{\mathbb E_\pi[a_0]}, \\
# \mathbb E_{\text{event}}[n] &= \frac{\mathbb E_\pi[n\,a_0(x)]}{\mathbb E_\pi[a_0(x)]}
# = \mathbb E_\pi[n] + \frac{\operatorname{Cov}_\pi(n, a_0)}{\mathbb E_\pi[a_0]}.
# \end{aligned}
# $$ (eq-event-bias)
#
# $q$ is the stationary law of the *jump chain*, the sequence of states with the times forgotten
# (`gil.jump_chain_law`). The shift of the mean is the covariance of $n$ with the event rate,
# divided by the mean event rate: busy states are counted more often per unit of time they occupy. The moments of
# {eq}`eq-moments` evaluate it exactly: $\frac{7200}{140} \approx 51.43$ for the protein and
# $\frac{2895}{140} \approx 20.68$ for the mRNA (Exercise 3), against the true 50 and 20.
# Weighting each state by the time spent in it (its dwell time) removes the bias.
#
# The figure shows the mechanism on Su's path. Left, a short stretch: the steps are what a
# time-weighted histogram sees, the dots (one per event) what an event-weighted one counts.
# Right, events per unit of time spent at
# each protein level, against the exact conditional mean $\mathbb E_\pi[a_0 \mid n]$ from the
# master equation (solved in the next section).

# %%
joint = gil.cme_stationary(gene, max_counts=(60, 220))  # exact pi(m, n)
states = np.stack(np.meshgrid(np.arange(61), np.arange(221), indexing="ij"),
                  axis=-1)
a0_exact = gene.propensities(torch.from_numpy(states)).sum(-1).numpy()
levels = np.arange(221)
a0_given_n = (joint * a0_exact).sum(0) / joint.sum(0)  # E[a0 | n]

# Along the path: events at each protein level per unit time spent there.
level = path.x[:-1][after, 1]
n_events_at = np.bincount(level, minlength=221)[:221]
time_at = np.bincount(level, weights=dwell, minlength=221)[:221]
seen = n_events_at >= 200
rate_at = n_events_at[seen] / time_at[seen]
# about sqrt(N)/T if the events at a level were a Poisson stream
rate_se = np.sqrt(n_events_at[seen]) / time_at[seen]
z = (rate_at - a0_given_n[seen]) / rate_se
print(f"{seen.sum()} levels with >= 200 events; largest |z| = "
      f"{np.abs(z).max():.1f} (rate against exact E[a0 | n])")
assert np.corrcoef(levels[seen], rate_at)[0, 1] > 0.9  # busier higher up

# %% mystnb={"figure": {"caption": "Why counting events over-counts busy states. Left: two time units of Su's path, the protein count as steps (what time-weighting sees) with one dot per event (what event-counting sees). Right: events per unit time at each protein level along the path (dots, with about one standard error), against the exact mean event rate at that level from the master equation (line).", "name": "fig-gillespie-dwell"}, "image": {"alt": "Left panel: a step curve of the protein count over two time units with a dot at every event; each dot is one count of a histogram over events. Right panel: event rate per unit time against protein level, rising roughly linearly, with simulated dots and their error bars scattered along the exact curve."}} tags=["hide-input"]

fig, (left, right) = style.figure(1, 2, width=8.4, height=3.2)
window = (path.t >= 50) & (path.t <= 52)
left.step(path.t[window], path.x[window, 1], where="post", lw=1,
          label="protein $n$ (time)")
left.plot(path.t[window], path.x[window, 1], ".", ms=3,
          color=style.COLORS[1], label="one dot per event")
left.set(xlabel="time", ylabel="protein $n$", title="two time units")
left.legend(fontsize=8)
right.errorbar(levels[seen], rate_at, yerr=rate_se, fmt=".", ms=3,
               lw=0.8, label="events / time spent at $n$ (path)")
right.plot(levels[seen], a0_given_n[seen], color="black", lw=1.2,
           label=r"exact $E[a_0 \mid n]$")
right.set(xlabel="protein $n$", ylabel="events per unit time",
          title="busier states emit more events")
right.legend(fontsize=8)
fig

# %% [markdown]
# One path is too noisy to show a shift of 1.4 molecules reliably: its time average wanders by
# a good fraction of that from path to path, so a single path's event-weighted histogram can
# land closer to the truth than its time-weighted one. But the two means of the *same* path
# wander together, so their difference is much sharper; and independent paths give honest
# error bars. The cell runs `N_PATHS` paths of `N_EVENTS` events each
# (`gil.compare_weightings`, seeds 0 to 7) and reports each mean with its standard error over the
# paths. The last row is Su's recipe exactly: every event counted from the start, with no
# burn-in. (Our other estimates drop the first ten time units, which still remember the start
# from one molecule of each.)

# %%
runs = gil.compare_weightings(gene, [1, 1], "n", n_events=N_EVENTS,
                              n_paths=N_PATHS, seed=SEED, t_burn=t_burn)


def over_paths(values):
    """Mean and standard error over the independent paths, per species."""
    return values.mean(0), values.std(0, ddof=1) / math.sqrt(len(values))


true = np.array([theory["m_mean"], theory["n_mean"]])
event_limit = np.array([theory["m_mean_event"], theory["n_mean_event"]])
time_w = over_paths(runs["time_means"])
event_w = over_paths(runs["event_means"])
shift = over_paths(runs["event_means"] - runs["time_means"])
no_burn = over_paths(runs["event_means_all"])
rows = [("time-weighted", *time_w), ("event-weighted", *event_w),
        ("shift, event - time", *shift),
        ("event, no burn-in (Su)", *no_burn)]
print(f"{'':24s}{'mRNA':>18s}{'protein':>18s}")
print(f"{'true mean, eq-moments':24s}{true[0]:18.2f}{true[1]:18.2f}")
print(f"{'event limit, eq-event-b.':24s}{event_limit[0]:18.2f}"
      f"{event_limit[1]:18.2f}")
for name, mean, se in rows:
    cells = [f"{a:11.2f} ± {b:4.2f}" for a, b in zip(mean, se)]
    print(f"{name:24s}" + "".join(cells))

assert (np.abs(time_w[0] - true) < 4 * time_w[1]).all()  # unbiased
assert (np.abs(event_w[0] - event_limit) < 4 * event_w[1]).all()
assert (np.abs(shift[0] - (event_limit - true)) < 4 * shift[1]).all()
assert (shift[0] > 4 * shift[1]).all()  # the bias is resolved
scatter = (runs["time_means"][:, 1].std(ddof=1),
           (runs["event_means"] - runs["time_means"])[:, 1].std(ddof=1))
print(f"\npath-to-path sd (protein): time-weighted mean {scatter[0]:.2f}, "
      f"shift {scatter[1]:.2f}")
assert scatter[1] < scatter[0] / 2  # the same path's two means move together
assert (runs["event_means"] > runs["time_means"]).all()  # on every path
drift = over_paths(runs["event_means_all"] - runs["event_means"])
print(f"no burn-in minus burn-in (protein): "
      f"{drift[0][1]:.2f} ± {drift[1][1]:.2f}")
assert drift[0][1] < 0  # the start from one molecule pulls it down

# %% [markdown]
# The time-weighted means agree with the truth and the event-weighted means with
# {eq}`eq-event-bias`, each within its error bars, and the shift between them is resolved many
# times over and matches the prediction. Skipping the burn-in, as Su's figure does, lowers the
# estimate a little more: the path starts far below the stationary level and takes some protein
# lifetimes to get there. That effect shrinks like one over the path's length; the counting
# bias does not shrink at all.
#
# In the panel, move the parameters and switch the weighting. Each frame runs eight long paths.
# Left, each path's two protein means: from path to path they scatter by a good part of the
# bias, so one path alone can mislead, but on every path the event-weighted mean sits above the
# time-weighted one. Right, the pooled histogram against the exact law $\pi$ (solid) and the
# event limit $q$ of {eq}`eq-event-bias` (dashed), with its total variation distance to each in
# the title: the time-weighted histogram lies closer to $\pi$, the event-weighted one closer to
# $q$. By {eq}`eq-event-bias`, the gap between the two laws grows with the covariance of the
# protein count and the event rate. At the slowest, busiest corner ($\gamma_m = 0.5$,
# $k_m = 30$, $k_p = 5$) the paths cover too little time for the histograms to settle; the
# distances there are mostly noise. The book's panel holds every setting of its sliders.

# %% mystnb={"figure": {"caption": "Counting events against counting time in Su's two-stage model, eight long paths per setting. Left, each path's time-weighted (circles) and event-weighted (triangles) protein mean against the true mean (dotted) and the event limit of {eq}`eq-event-bias` (dashed). Right, the pooled time- or event-weighted histogram against the exact stationary law \u03c0 (solid) and the event limit \u03c0a\u2080/E[a\u2080] (dashed); the title gives the histogram's distance to each, the legend its mean \u00b1 one standard error over the paths.", "name": "fig-gillespie-gene-expression"}} tags=["hide-input"]
demo(gil.plot_gene_expression,
     k_m=Range(10, 30, step=10, value=20, label="k_m"),
     k_p=Choice([1.0, 2.5, 5.0], value=2.5, label="k_p"),
     gamma_m=Choice([0.5, 1.0, 2.0], value=1.0, label="γ_m"),
     weighting=Choice(["time", "event"]),
     max_frames=54, dpi=72)

# %% [markdown]
# The cell below checks the default frame's claim with numbers: distances of the pooled
# histograms to both laws. (In the smoke configuration the panel's paths are shorter.)

# %%
pi_n = joint.sum(0)  # the protein's marginals of pi and of q
events_n = gil.jump_chain_law(gene, joint).sum(0)


def tv_to(values, probs, law):
    full = np.zeros(max(law.size, values.max() + 1))
    full[values] = probs
    inside = np.abs(full[: law.size] - law).sum()
    return 0.5 * (inside + full[law.size:].sum())


for weighting in ("time", "event"):
    probs = runs[f"{weighting}_probs"]
    print(f"{weighting}-weighted, {N_PATHS} paths: distance to pi "
          f"{tv_to(runs['values'], probs, pi_n):.3f}, to q "
          f"{tv_to(runs['values'], probs, events_n):.3f}")
print(f"distance between pi and q themselves: "
      f"{0.5 * np.abs(pi_n - events_n).sum():.3f}")
assert tv_to(runs["values"], runs["time_probs"], pi_n) < tv_to(
    runs["values"], runs["time_probs"], events_n)
assert tv_to(runs["values"], runs["event_probs"], events_n) < tv_to(
    runs["values"], runs["event_probs"], pi_n)

# %% [markdown]
# ## The master equation, solved exactly on a box
#
# For a small system we can skip sampling: truncate the state space to a box (here
# $m \le 60$, $n \le 220$, about $13{,}000$ states, far beyond where the probability is
# noticeable), write {eq}`eq-cme` as $\dot P = QP$ with a sparse generator $Q$, and solve
# $QP = 0$ for the stationary law (`gil.cme_stationary`; the figure above already used it).
# Transitions that would leave the box are dropped together with their outflow, a *reflecting*
# truncation: probability is conserved, but the states next to the edge are slightly distorted.
# The distortion is tiny when little mass sits near the edge, which a larger box checks. The
# SSA ensemble should then match the protein marginal up to sampling noise, measured by the
# total variation distance; as a yardstick, the cell draws samples of the same size from the
# exact law itself and measures theirs.

# %%
exact_n = joint.sum(axis=0)  # marginal of the protein, from the figure above
larger = gil.cme_stationary(gene, max_counts=(70, 260)).sum(axis=0)
box_effect = 0.5 * (np.abs(larger[:221] - exact_n).sum()
                    + larger[221:].sum())
print(f"mass at the box edge (n = 220): {exact_n[-1]:.1e}\n"
      f"distance to the law on a larger box: {box_effect:.1e}")
assert box_effect < 1e-9
grid_m, grid_n = np.arange(61)[:, None], np.arange(221)[None, :]
ex_mean, ex_m = (joint * grid_n).sum(), (joint * grid_m).sum()
ex = {"n_mean": ex_mean, "n_var": (joint * (grid_n - ex_mean) ** 2).sum(),
      "cov": (joint * (grid_m - ex_m) * (grid_n - ex_mean)).sum()}
for key, value in ex.items():
    print(f"exact {names[key]:16s} {value:8.3f}   closed form {theory[key]}")
    assert abs(value - theory[key]) < 1e-6 * theory[key]

counts = np.bincount(n_end.astype(int), minlength=exact_n.size)
counts = counts[: exact_n.size]
tv = 0.5 * np.abs(counts / counts.sum() - exact_n).sum()
rng = np.random.default_rng(SEED)
tv_null = []
for _ in range(20):  # samples of the same size from the exact law
    draws = rng.choice(exact_n.size, size=int(counts.sum()), p=exact_n)
    null_counts = np.bincount(draws, minlength=exact_n.size)
    tv_null.append(0.5 * np.abs(null_counts / counts.sum() - exact_n).sum())
print("total variation to the exact law:")
print(f"  SSA ensemble {tv:.3f}; samples from the exact law itself "
      f"{np.mean(tv_null):.3f} ± {np.std(tv_null, ddof=1):.3f} (sd of 20)")
assert tv < np.mean(tv_null) + 4 * np.std(tv_null, ddof=1)

# %% [markdown]
# The truncation is harmless here: the larger box changes the law by a negligible amount. The
# exact moments agree with {eq}`eq-moments` to solver precision. And the SSA ensemble is as
# close to the exact law as samples drawn from that law itself: what is left is the sampling
# noise of $N$ draws spread over some hundred levels, which shrinks like $1/\sqrt N$.
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
print(f"{len(run.t) - 1} events; conservation holds at every one of them; "
      f"last event at t = {run.t[-1]:.1f}")
fired = np.bincount(run.reaction, minlength=3)
for text, count in zip(["S + E -> SE", "SE -> S + E", "SE -> P + E"], fired):
    print(f"  {text:12s} fired {count:4d} times")

t_ode = np.linspace(0, 80, 200)
ode = gil.mass_action_ode(enzyme, [300, 121, 0, 0], t_ode)
# How far should one path stray? An ensemble gives the spread at each time.
enz = gil.ssa(enzyme, x0={"S": 300, "E": 121}, t_max=80.0, n_traj=N_TRAJ,
              seed=SEED, t_grid=torch.from_numpy(t_ode)).x.double().numpy()
spread = enz.std(axis=0, ddof=1)  # [time, species]
on_grid = run.x[np.searchsorted(run.t, t_ode, side="right") - 1]
z_path = np.abs(on_grid - ode)[1:] / spread[1:]
z_mean = np.abs(enz.mean(axis=0) - ode)[1:] / (spread[1:] / math.sqrt(N_TRAJ))
print(f"one path vs rate equations: at most {z_path.max():.1f} ensemble sd")
print(f"ensemble mean vs rate equations: at most "
      f"{np.abs(enz.mean(axis=0) - ode).max():.2f} molecules, "
      f"{z_mean.max():.1f} standard errors")
assert z_path.max() < 5 and z_mean.max() < 5

# %% mystnb={"figure": {"caption": "Enzyme kinetics {eq}`eq-enzyme` from 300 substrate and 121 enzyme molecules: one SSA trajectory of each species (steps, held after the last event) and the deterministic rate equations (dashed). At these counts the two agree closely.", "name": "fig-gillespie-enzyme"}, "image": {"alt": "Molecule counts against time from 0 to 80 for the four species S, E, SE and P, each in its own colour: stepped curves from the stochastic simulation, each with a dashed curve of the rate equations running along it. Substrate S falls from 300 towards zero while product P rises towards 300; the complex SE rises quickly and then declines while the free enzyme E first drops and then recovers to 121."}} tags=["hide-input"]
fig, ax = style.figure(width=7, height=3.2)
t_steps = np.append(run.t, run.t_end)  # hold the last state until t = 80
for j, name in enumerate(enzyme.species):
    ax.step(t_steps, np.append(run.x[:, j], run.x[-1, j]), where="post",
            color=style.COLORS[j], label=f"{name} (SSA)")
    ax.plot(t_ode, ode[:, j], color=style.COLORS[j], ls="--", lw=1)
ax.plot([], [], color="gray", ls="--", lw=1, label="rate equations")
ax.set(xlabel="time", ylabel="molecules",
       title="Enzyme kinetics: SSA (steps) and rate equations (dashed)")
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
fig

# %% [markdown]
# The single path stays within a few ensemble standard deviations of the rate equations, and the
# ensemble mean follows them to within a few of its standard errors. (For a reaction with two reactants the
# rate equations are not exactly the mean of {eq}`eq-cme`, since $\mathbb E[S E] \ne
# \mathbb E S\,\mathbb E E$, but at these counts the difference is below the noise.) Late in the
# run the last complexes convert one at a time, so the path's final event comes some time
# before $t = 80$; the figure holds its last state up to the end.
#
# The event counts also show where the direct method spends its effort: every event costs the
# same, whatever its reaction. Here the unbinding reaction, at rate $10^{-4}$, hardly ever fires.
# Were it fast instead, most events would be complexes falling apart and re-forming, with little
# net change; such *stiff* systems are where exact simulation gets slow, and where approximate
# methods step in: $\tau$-leaping fires many reactions per step (Gillespie 2001), and the next
# reaction method reuses random numbers and finds the next event in logarithmic time (Gibson &
# Bruck 2000).
#
# ## What the numbers over the arrows mean
#
# A reader asked Su what the numbers written over the arrows are. They are the rate constants
# $k_r$ of {eq}`eq-propensity`: per unit time, the rate at which one particular set of reactants
# reacts. For $m \xrightarrow{2.5} m + n$, each mRNA molecule makes on average 2.5 proteins per
# unit time; for $\emptyset \xrightarrow{20} m$ the constant is the whole rate; for
# $S + E \xrightarrow{1.66\times10^{-3}} SE$ it is per substrate–enzyme pair, so at the start
# $300 \cdot 121 \cdot 1.66\times10^{-3} \approx 60$ bindings per unit time. The cell checks both
# readings: the propensities in one state, and on Su's path the number of translations per mRNA
# degradation, which must average $k_p/\gamma_m = 2.5$ (the mean *burst size*: proteins per mRNA
# lifetime).

# %%
a_gene = gene.propensities(torch.tensor([[3, 7]])).squeeze(0)
print("Su's model at m = 3, n = 7:", a_gene.tolist())
assert torch.allclose(a_gene, torch.tensor([20.0, 2.5 * 3, 1.0 * 3, 1.0 * 7],
                                          dtype=a_gene.dtype))
a_enz = enzyme.propensities(torch.tensor([[300, 121, 0, 0]])).squeeze(0)
print(f"enzyme at the start: {a_enz[0]:.1f} bindings per unit time")
assert abs(a_enz[0] - 1.66e-3 * 300 * 121) < 1e-9

bursts = []
for i in range(N_PATHS):  # independent paths, for an error bar
    fired = np.bincount(gil.trajectory(gene, [1, 1], n_events=N_EVENTS,
                                       seed=SEED + i).reaction, minlength=4)
    bursts.append(fired[1] / fired[2])  # translations / mRNA degradations
burst, burst_se = np.mean(bursts), np.std(bursts, ddof=1) / math.sqrt(N_PATHS)
print(f"translations per mRNA degradation: {burst:.3f} ± {burst_se:.3f}")
print(f"(k_p / gamma_m = {2.5 / 1:.3f})")
assert abs(burst - 2.5) < 4 * burst_se

# %% [markdown]
# ## Rates that depend on the state or on time
#
# In the comments Su notes that his code only takes constant rate constants, and leaves other
# rate laws to the reader. Two cases behave differently.
#
# **Rates that depend on the state** through any formula, not only mass action, need no change
# to the algorithm: between events the state is constant, so the propensities are too, and the
# waiting time is still exponential. The teaching loop `direct_method` already takes any
# function of the state. Take a gene that represses itself: proteins are made at rate
# $b(x) = k/(1 + (x/K)^2)$, lower when there are many, and decay at rate $\gamma x$. For such a
# one-step process the stationary law follows from detailed balance,
# $\pi(x+1)\,\gamma(x+1) = \pi(x)\,b(x)$ (Exercise 1 is the case of constant $b$), and negative
# feedback should make the noise *sub-Poissonian*: a Fano factor below 1.

# %%
k_rep, K_rep, gamma_rep = 40.0, 10.0, 1.0


def repressed(x):
    """Propensities of birth b(x) = k / (1 + (x/K)^2) and death gamma x."""
    return np.array([k_rep / (1 + (x[0] / K_rep) ** 2), gamma_rep * x[0]])


levels_rep = np.arange(81)
law_rep = np.ones(81)  # detailed balance, then normalise
for x in range(80):
    law_rep[x + 1] = law_rep[x] * repressed([x])[0] / (gamma_rep * (x + 1))
law_rep /= law_rep.sum()
mean_rep = levels_rep @ law_rep
fano_rep = (levels_rep - mean_rep) ** 2 @ law_rep / mean_rep

times_rep, states_rep = direct_method(
    np.array([[1], [-1]]), repressed, [0],
    companion.budget(full=100_000, smoke=20_000), np.random.default_rng(SEED))
keep = times_rep[:-1] >= 10.0  # burn-in
w_rep, x_rep = np.diff(times_rep)[keep], states_rep[:-1, 0][keep].astype(float)
sim_mean, sim_mean_se = gil.batch_means(x_rep, weights=w_rep)
sim_var, sim_var_se = gil.batch_means((x_rep - sim_mean) ** 2, weights=w_rep)
print(f"mean: exact {mean_rep:.2f}, "
      f"simulated {sim_mean:.2f} ± {sim_mean_se:.2f}")
print(f"Fano: exact {fano_rep:.3f}, simulated {sim_var / sim_mean:.3f} "
      f"± {sim_var_se / sim_mean:.3f}")
assert abs(sim_mean - mean_rep) < 4 * sim_mean_se
assert abs(sim_var / sim_mean - fano_rep) < 4 * sim_var_se / sim_mean
assert fano_rep < 1 and sim_var / sim_mean + 4 * sim_var_se / sim_mean < 1

# %% [markdown]
# **Rates that depend on time** (a day–night cycle, a drug dose) do break the algorithm: the
# propensities change *between* events, so the waiting time is no longer exponential at the
# rate of its start. One exact fix is *thinning* (Lewis & Shedler 1979). Suppose that while the
# state stays at $x$ the total rate never exceeds a bound $\bar a(x)$. Propose candidate events
# at the constant rate $\bar a(x)$; at a candidate time $t$, let reaction $r$ fire with
# probability $a_r(x, t)/\bar a(x)$, and let nothing happen with the remaining probability. The
# accepted candidates are exactly the events of the time-dependent process. Check: births at
# $k(t) = k_0(1 + \sin\omega t)$ and deaths at $\gamma x$, from $x_0 = 0$. Births are then an
# inhomogeneous Poisson stream, so $X_t$ is Poisson with a mean that solves
# $\dot\mu = k(t) - \gamma\mu$:
#
# $$
# \mu(t) = \frac{k_0}{\gamma}\big(1 - e^{-\gamma t}\big) + k_0\,\frac{\gamma\sin\omega t -
# \omega\cos\omega t + \omega e^{-\gamma t}}{\gamma^2 + \omega^2}.
# $$ (eq-periodic)

# %%
k0, omega, gamma_t, t_end = 10.0, 2.0, 1.0, 2.5


def thinning(x0, t_max, rng):
    """Birth at k0 (1 + sin(omega t)), death gamma_t x; the state at t_max."""
    x, t = x0, 0.0
    while True:
        bound = 2 * k0 + gamma_t * x  # >= the total rate while x holds
        t += rng.exponential(1 / bound)
        if t > t_max:
            return x
        u = rng.uniform() * bound
        birth = k0 * (1 + math.sin(omega * t))
        if u < birth:
            x += 1
        elif u < birth + gamma_t * x:
            x -= 1
        # else: a rejected candidate, nothing happens


n_thin = companion.budget(full=4_000, smoke=800)
rng = np.random.default_rng(SEED)
x_end = np.array([thinning(0, t_end, rng) for _ in range(n_thin)], float)
mu = (k0 / gamma_t * (1 - math.exp(-gamma_t * t_end))
      + k0 * (gamma_t * math.sin(omega * t_end)
              - omega * math.cos(omega * t_end)
              + omega * math.exp(-gamma_t * t_end)) / (gamma_t**2 + omega**2))
mean_se = x_end.std(ddof=1) / math.sqrt(n_thin)
frozen = k0 / gamma_t * (1 - math.exp(-gamma_t * t_end))
print(f"mean at t = {t_end}: eq-periodic {mu:.2f}, thinning "
      f"{x_end.mean():.2f} ± {mean_se:.2f}")
print(f"(a constant birth rate k0 would give {frozen:.2f})")
fano_t = x_end.var(ddof=1) / x_end.mean()
# standard error of a Poisson sample's variance-to-mean ratio: sqrt(2/(n-1))
print(f"variance / mean {fano_t:.3f} ± {math.sqrt(2 / (n_thin - 1)):.3f} "
      f"(Poisson: 1)")
assert abs(x_end.mean() - mu) < 4 * mean_se
assert abs(fano_t - 1) < 4 * math.sqrt(2 / (n_thin - 1))
assert abs(frozen - mu) > 4 * mean_se  # the time dependence matters here

# %% [markdown]
# The thinned simulation matches {eq}`eq-periodic` and the Poisson dispersion; treating the birth
# rate as the constant $k_0$ would miss the mean by far more than the error bar. The price of
# thinning is the rejected candidates, which grow with how loose the bound is.
#
# ## Ten thousand trajectories at once
#
# Su's loop, like ours at the top of the chapter, pays Python's overhead on every event; the
# timing cell below measures how much. Statistics need many trajectories, and those are
# independent, which is the opening for speed. `companion.gillespie.ssa` offers two engines:
#
# - **lock-step tensors** (`backend="torch"`): all trajectories take their next event together,
#   as a handful of tensor operations over the whole batch (propensities, one exponential and
#   one uniform per trajectory, a cumulative-sum search, a state update). The Python overhead is
#   paid once per *step of the batch*, not once per event. The code is device-agnostic:
#   `device="cuda"` runs it on a GPU (the test suite checks that it does, when one is present).
# - **compiled per-trajectory loops** (`backend="numba"`, the CPU default): each trajectory runs
#   the direct method in machine code with its own random stream, trajectories spread over the
#   CPU cores. This is the fast path on a CPU.
#
# Lock-step batching loses where there is no batch: one long trajectory is a sequence of
# dependent events, so it cannot be split across cores or tensor lanes, and a batched step
# launches a dozen tensor operations for a single event. It also idles lanes whose trajectory
# has already stopped while others still run. Below, the same birth–death ensemble with each
# engine, one long trajectory with each engine, and a Su-style loop on one trajectory; each is
# timed three times (median, with the range). `make bench` runs the full comparison, including
# GillesPy2's C++ solver.

# %% tags=["timing"]
bd = gil.ReactionNetwork(["0 -> X", "X -> 0"], rates=[100.0, 1.0])


def events_per_second(fn, repeats=3):
    """Median, lowest and highest speed over a few timed runs."""
    speeds = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        speeds.append(n / (time.perf_counter() - start))
    return np.median(speeds), min(speeds), max(speeds)


def python_loop():
    """Su-style: one trajectory, one Python iteration per event."""
    times, _ = direct_method(
        np.array([[1], [-1]]), lambda x: np.array([100.0, 1.0 * x[0]]), [0],
        companion.budget(full=50_000, smoke=5_000),
        np.random.default_rng(SEED))
    return len(times) - 1


def ssa_events(backend, n_traj, t_max, device="cpu"):
    """Events fired by one call of gil.ssa with one engine."""
    ens = gil.ssa(bd, x0=[0], t_max=t_max, n_traj=n_traj, seed=SEED,
                  backend=backend, device=device)
    return int(ens.n_events.sum())


gil.ssa(bd, x0=[0], t_max=0.1, n_traj=2, seed=SEED)  # compile once, untimed
t_long = companion.budget(full=20.0, smoke=5.0)
runs_to_time = {"Python loop, 1 trajectory": python_loop}
for backend in ["torch", "numba"]:
    # the compiled loop is so fast that it needs a longer path to time
    runs_to_time[f"ssa {backend}, 1 trajectory"] = (
        lambda b=backend: ssa_events(b, 1, t_long * (50 if b == "numba"
                                                     else 1)))
for backend in ["torch", "numba"]:
    runs_to_time[f"ssa {backend}, {N_TRAJ:,} trajectories"] = (
        lambda b=backend: ssa_events(b, N_TRAJ, 5.0))
if torch.cuda.is_available():
    runs_to_time[f"ssa torch on GPU, {N_TRAJ:,} traj."] = (
        lambda: ssa_events("torch", N_TRAJ, 5.0, device="cuda"))
speeds = {name: events_per_second(fn)
          for name, fn in tqdm(runs_to_time.items(), desc="engines")}
base = speeds["Python loop, 1 trajectory"][0]
print(f"{'':33s}{'M events/s (range)':>22s}{'x loop':>8s}")
for name, (mid, low, high) in speeds.items():
    print(f"{name:33s}{mid / 1e6:7.3f} ({low / 1e6:5.3f}-{high / 1e6:5.3f})"
          f"{mid / base:8.1f}")
print(f"Python loop: {1e6 / base:.1f} microseconds per event")
if not torch.cuda.is_available():
    print("(no GPU in this run: the lock-step engine ran on the CPU only)")
single = {b: speeds[f"ssa {b}, 1 trajectory"][0] for b in ("torch", "numba")}
assert single["torch"] < single["numba"]  # no batch: lock-step loses
assert speeds[f"ssa numba, {N_TRAJ:,} trajectories"][0] > 10 * base
assert speeds[f"ssa torch, {N_TRAJ:,} trajectories"][0] > 3 * base

# %% [markdown]
# On one trajectory the compiled loop beats the lock-step engine many times over; on the
# ensemble both leave the Python loop far behind.
#
# ## A parameter sweep on a cluster
#
# Su's path explores one parameter set. The moment formulas {eq}`eq-moments` claim more: the
# protein's Fano factor depends on the three rates only through $k_p/(\gamma_m + \gamma_p)$, so
# settings with equal ratio should be equally noisy however different their means. Checking that
# takes an ensemble with an error bar at every point of a grid, many trajectories times many
# points: the kind of job that outgrows one machine.
#
# `companion.sweeps.sweep` runs it on a [Dask](https://distributed.dask.org) cluster. The work is
# cut into tasks of one grid point and one chunk of trajectories; each worker returns only exact
# integer sums $\sum_i x_i^p$ ($p = 1..4$) for its chunk, never its trajectories, and the client
# adds them up. Three facts make the result independent of how the work was split, bit for bit:
# trajectory $i$ of a seed draws from its own random stream, a function of (seed, $i$) alone;
# every point uses the same trajectories $0..n-1$ (*common random numbers*, which also makes
# differences between neighbouring points less noisy than the points themselves); and integer
# sums do not depend on the order in which they are added.
#
# The cell below starts a local cluster of worker processes on this machine. To use a real
# cluster instead, start a scheduler and workers there (`dask scheduler`, then
# `dask worker tcp://HOST:8786` on each machine, with this package installed) and set
# `DASK_SCHEDULER_ADDRESS=tcp://HOST:8786` before starting JupyterLab: the cell connects to it,
# and fails with a clear error within ten seconds if nothing answers.

# %%
N_SWEEP = companion.budget(full=10_000, smoke=400)  # trajectories per point
address = os.environ.get("DASK_SCHEDULER_ADDRESS")
if address:  # a cluster started elsewhere
    client, cluster = sweeps.connect(address), None
else:  # worker processes on this machine, talking over loopback
    from distributed import Client, LocalCluster

    # One thread per worker, numba's included (it keeps its own pool).
    cluster = LocalCluster(
        n_workers=companion.budget(full=min(4, os.cpu_count() or 1), smoke=1),
        threads_per_worker=1, host="127.0.0.1", dashboard_address=":0",
        env={"NUMBA_NUM_THREADS": "1"})
    client = Client(cluster)
n_workers = len(client.scheduler_info()["workers"])
print(f"{n_workers} worker process(es), "
      f"{'at ' + address if address else 'local, on loopback'}")

# %% [markdown]
# The grid varies $k_p$ and $\gamma_m$ around Su's setting ($k_m = 20$, $\gamma_p = 1$). A dict
# of rates names them, so that the grid can refer to them; every point runs from an empty cell
# to $t = 10$, ten protein lifetimes, where the law is stationary to within $e^{-10}$.

# %%
named = gil.ReactionNetwork(
    ["0 -> m", "m -> m + n", "m -> 0", "n -> 0"],
    rates={"k_m": 20.0, "k_p": 2.5, "gamma_m": 1.0, "gamma_p": 1.0})
points = sweeps.grid(
    k_p=companion.budget(full=[1.0, 2.5, 5.0, 10.0], smoke=[2.5, 10.0]),
    gamma_m=companion.budget(full=[1.0, 2.0, 4.0, 8.0], smoke=[1.0, 4.0]))
start = time.perf_counter()
swept = sweeps.sweep(named, points, x0=[0, 0], t_max=10.0, n_traj=N_SWEEP,
                     seed=SEED, t_grid=[10.0], client=client)
seconds = time.perf_counter() - start
fano, fano_se = (v[:, -1] for v in swept.fano("n"))
burst_ratio = points["k_p"] / (points["gamma_m"] + 1.0)
z = (fano - (1 + burst_ratio)) / fano_se
print(f"{'k_p':>5s}{'gamma_m':>9s}{'theory':>9s}{'sweep':>17s}{'z':>7s}")
for i in range(len(swept)):
    print(f"{points['k_p'][i]:5.1f}{points['gamma_m'][i]:9.1f}"
          f"{1 + burst_ratio[i]:9.3f}{fano[i]:10.3f} ± {fano_se[i]:.3f}"
          f"{z[i]:7.2f}")
events = swept.mean_events.sum() * N_SWEEP
print(f"{len(swept)} points x {N_SWEEP:,} trajectories, {events:,.0f} events")
assert np.abs(z).max() < 4  # every point within four standard errors

# %% tags=["timing"]
print(f"{seconds:.1f} s on {n_workers} worker(s), "
      f"{events / seconds / 1e6:.1f} M events/s")

# %% [markdown]
# Each Fano factor carries its standard error, from the delta method on the sample's own
# moments (`Sweep.fano`; for a Poisson law it is $\sqrt{2/n}$). Plotted against
# $k_p/(\gamma_m+\gamma_p)$, the points of different $\gamma_m$ fall on the one line that
# {eq}`eq-moments` predicts.

# %% mystnb={"figure": {"caption": "The protein's Fano factor over a grid of k_p and \u03b3_m (k_m = 20, \u03b3_p = 1), each point an ensemble with a one-standard-error bar, against k_p/(\u03b3_m + \u03b3_p). The line is the prediction 1 + k_p/(\u03b3_m + \u03b3_p) of {eq}`eq-moments`: settings with different rates but the same ratio are equally noisy.", "name": "fig-gillespie-sweep"}, "image": {"alt": "Fano factor against the ratio k_p over gamma_m plus gamma_p: points with error bars in one colour per gamma_m, all lying on a straight line of slope one that starts at Fano factor one."}} tags=["hide-input"]
fig, ax = style.figure(width=5.6, height=3.2)
for gamma_m in np.unique(points["gamma_m"]):
    on = points["gamma_m"] == gamma_m
    ax.errorbar(burst_ratio[on], fano[on], yerr=fano_se[on], fmt="o", ms=4,
                capsize=2, label=f"$\\gamma_m$ = {gamma_m:g}")
line = np.linspace(0, burst_ratio.max() * 1.05, 50)
ax.plot(line, 1 + line, color="black", lw=1, label="theory")
ax.set(xlabel="$k_p/(\\gamma_m + \\gamma_p)$",
       ylabel="Fano factor of $n$")
ax.legend(fontsize=8)
fig

# %% [markdown]
# The claim that the split does not matter is checked, not assumed: the first two points again,
# in this process and in chunks of 333 trajectories, give the same integer sums as the cluster,
# bit for bit. (On a GPU, `sweep(..., backend="torch", device="cuda")` runs all the points of a
# chunk as one lock-step batch, each trajectory with its own rates.)

# %%
first_two = {name: values[:2] for name, values in points.items()}
kw = dict(x0=[0, 0], t_max=10.0, n_traj=min(N_SWEEP, 2_000), seed=SEED,
          t_grid=[10.0])
on_cluster = sweeps.sweep(named, first_two, client=client, **kw)
here = sweeps.sweep(named, first_two, chunk_size=333, **kw)
same = ((on_cluster.sums == here.sums).all()
        and (on_cluster.events == here.events).all())
print("cluster and in-process sums identical:", same)
assert same
client.close()
if cluster is not None:
    cluster.close()

# %% [markdown]
# ## Summary
#
# - The chemical master equation {eq}`eq-cme` is sampled exactly by the direct method
#   {eq}`eq-direct`: an exponential waiting time at the total propensity, then a reaction drawn in
#   proportion to its propensity {eq}`eq-propensity`.
# - Birth–death checks the simulator against its exact laws {eq}`eq-poisson` (also computed as a
#   matrix exponential); Su's two-stage model against the moment formulas {eq}`eq-moments` and the master equation solved on a box; the enzyme
#   model against its conservation laws.
# - A histogram over events estimates the jump chain's law $\pi a_0/\mathbb E[a_0]$, biased
#   towards busy states {eq}`eq-event-bias`; weight each state by its dwell time instead. One path
#   is too noisy to show this bias reliably; independent paths (or batch means along one path)
#   give the error bars that do.
# - State-dependent rates need no change to the direct method; time-dependent rates do, and
#   thinning handles them exactly.
# - Many independent trajectories are where the speed is: compiled per-trajectory loops on a CPU,
#   lock-step tensor steps on a GPU; one long trajectory stays sequential.
# - A parameter sweep on a Dask cluster confirms that the protein's noise depends on the rates only
#   through $k_p/(\gamma_m+\gamma_p)$; per-trajectory random streams and exact integer sums make
#   its result the same, bit for bit, however the work is split.
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
# - Gibson, M. A. & Bruck, J. (2000). "Efficient Exact Stochastic Simulation of Chemical Systems
#   with Many Species and Many Channels". *The Journal of Physical Chemistry A* 104(9),
#   1876–1889. [doi:10.1021/jp993732q](https://doi.org/10.1021/jp993732q). (The next reaction
#   method.)
# - Gillespie, D. T. (2001). "Approximate accelerated stochastic simulation of chemically
#   reacting systems". *The Journal of Chemical Physics* 115(4), 1716–1733.
#   [doi:10.1063/1.1378322](https://doi.org/10.1063/1.1378322). ($\tau$-leaping.)
# - Lewis, P. A. W. & Shedler, G. S. (1979). "Simulation of nonhomogeneous Poisson processes by
#   thinning". *Naval Research Logistics Quarterly* 26(3), 403–413.
#   [doi:10.1002/nav.3800260304](https://doi.org/10.1002/nav.3800260304).
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
# 2. Write the Fano factor of {eq}`eq-moments` with the mean burst size $b = k_p/\gamma_m$
#    (proteins per mRNA lifetime) and the lifetime ratio $\eta = \gamma_p/\gamma_m$. Then make the
#    mRNA four times shorter-lived while keeping the burst size and the burst frequency $k_m$:
#    $k_p = 10$, $\gamma_m = 4$ (the mean stays 50). Predict the Fano factor, explain why it
#    changes although the bursts do not, and check it with an ensemble, with error bars.
#
# :::{admonition} Solution
# :class: dropdown
#
# Dividing numerator and denominator by $\gamma_m$,
# $1 + \frac{k_p}{\gamma_m + \gamma_p} = 1 + \frac{b}{1 + \eta}$. Su's setting has $b = 2.5$,
# $\eta = 1$: Fano $2.25$. The new one has the same $b = 2.5$ but $\eta = 1/4$: Fano
# $1 + 2.5/1.25 = 3$, variance 150. The bursts are the same; what changes is that each burst now
# arrives within a quarter of a protein lifetime instead of spread over a whole one, so the
# protein count averages fewer independent bursts over its lifetime and is noisier.
#
# ```python
# bursty = gil.ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"],
#                              rates=[20, 10, 4, 1])
# ens = gil.ssa(bursty, x0=[0, 0], t_max=15.0, n_traj=10_000, seed=1)
# n_end = ens.x[:, -1, 1].double().numpy()
# fano = [b.var(ddof=1) / b.mean() for b in n_end.reshape(20, -1)]
# print(n_end.mean(), np.mean(fano), np.std(fano, ddof=1) / np.sqrt(20))
# # about 50, then about 3 and its standard error over 20 groups
# ```
# :::
#
# 3. An event-weighted histogram such as Su's converges to an mRNA mean of about 20.7 (the
#    event limit in the table above). Derive this from {eq}`eq-event-bias` using only the
#    moments of {eq}`eq-moments`.
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
#
# 4. The mRNA is a birth–death process by itself, so {eq}`eq-moments` predicts a Fano factor of
#    exactly 1 for $m$ at every point of the sweep, whatever $k_p$. Check it with
#    `companion.sweeps.sweep` over $\gamma_m \in \{0.5, 1, 2, 4\}$ in this process (no cluster),
#    with error bars, and explain why $k_p$ cannot matter.
#
# :::{admonition} Solution
# :class: dropdown
#
# No reaction that changes $m$ has a propensity that involves $n$, and $k_p$ only creates
# proteins, so the mRNA's law is that of birth–death with rates $k_m$ and $\gamma_m$: Poisson at
# stationarity, whose variance equals its mean.
#
# ```python
# points = sweeps.grid(gamma_m=[0.5, 1, 2, 4], k_p=[1, 10])
# result = sweeps.sweep(named, points, x0=[0, 0], t_max=20.0,
#                       n_traj=10_000, seed=2, t_grid=[20.0])
# fano_m, se_m = (v[:, -1] for v in result.fano("m"))
# print(np.round(fano_m, 3), np.round(se_m, 3))
# # all within a few standard errors (about 0.014) of 1
# ```
# :::
