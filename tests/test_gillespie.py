"""Gillespie's direct method: exact laws, conservation, the article's bias, the CME, bad input.

Every statistical test runs with a fixed seed (deterministic) and checks a property whose
violation it can detect: each goodness-of-fit check comes with a wrong alternative that the same
data must reject, so none can pass vacuously.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from companion import gillespie as G
from companion.gillespie import (
    Ensemble, Path, ReactionNetwork, cme_generator, cme_stationary, cme_transient,
    event_weighted_histogram, mass_action_ode, ssa, time_weighted_histogram, trajectory,
)

BACKENDS = ["torch", "numba"]
P_MIN = 1e-3  # smallest p-value a correct sampler is allowed (fixed seeds: no flakiness)


def birth_death(k=20.0, gamma=1.0):
    return ReactionNetwork(["0 -> X", "X -> 0"], [k, gamma])


def gene_expression(k_m=20.0, k_p=2.5, g_m=1.0, g_p=1.0):
    # Su's two-stage model: DNA -> DNA + m is written 0 -> m.
    return ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"], [k_m, k_p, g_m, g_p])


def enzyme():
    return ReactionNetwork(["S + E -> SE", "SE -> S + E", "SE -> P + E"], [1.66e-3, 1e-4, 0.1])


def dimerisation():
    return ReactionNetwork(["0 -> A", "A -> 0", "2 A -> B", "B -> 0"], [4.0, 0.5, 0.5, 1.0])


def g_test(values, freqs, pmf, n):
    """p-value of a G-test: frequencies (values >= 0, summing to 1) from n samples vs ``pmf``.

    ``pmf[v]`` for v = 0..len(pmf)-1, the rest of the mass forming one last bin; adjacent bins
    are pooled until each expects at least 5 samples.
    """
    values, freqs, pmf = np.asarray(values), np.asarray(freqs, float), np.asarray(pmf, float)
    observed = np.zeros(pmf.size + 1)
    np.add.at(observed, np.minimum(values, pmf.size), freqs)
    expected = np.append(pmf, max(0.0, 1.0 - pmf.sum()))
    groups, o_sum, e_sum = [], 0.0, 0.0
    for o, e in zip(observed, expected):
        o_sum, e_sum = o_sum + o, e_sum + e
        if e_sum * n >= 5:
            groups.append((o_sum, e_sum))
            o_sum = e_sum = 0.0
    if e_sum > 0 or o_sum > 0:
        o_last, e_last = groups.pop()
        groups.append((o_last + o_sum, e_last + e_sum))
    o, e = np.array(groups).T
    g = 2 * n * np.sum(np.where(o > 0, o * np.log(np.where(o > 0, o, 1) / e), 0.0))
    return stats.chi2.sf(g, len(groups) - 1)


def histogram(samples):
    values, counts = np.unique(np.asarray(samples), return_counts=True)
    return values, counts / counts.sum()


def batch_means(series, n_batches=50):
    """Mean of ``series`` and its standard error from means of contiguous batches."""
    series = np.asarray(series, dtype=np.float64)
    size = series.size // n_batches
    means = series[: size * n_batches].reshape(n_batches, size).mean(axis=1)
    return series.mean(), means.std(ddof=1) / math.sqrt(n_batches)


def on_grid(path, grid):
    """The path's (right-continuous) state at each time of ``grid``."""
    return path.x[np.searchsorted(path.t, grid, side="right") - 1]


# --------------------------------------------------------------------------------------------
# Networks and propensities
# --------------------------------------------------------------------------------------------

def test_parsing_gives_species_in_order_and_the_stoichiometry():
    net = gene_expression()
    assert net.species == ("m", "n") and net.reactions[1] == "m -> m + n"
    assert net.reactants.tolist() == [[0, 0], [1, 0], [1, 0], [0, 1]]
    assert net.products.tolist() == [[1, 0], [1, 1], [0, 0], [0, 0]]
    assert net.change.tolist() == [[1, 0], [0, 1], [-1, 0], [0, -1]]
    assert net.rates.dtype == torch.float64 and net.rates.tolist() == [20.0, 2.5, 1.0, 1.0]
    assert net.reactants.dtype == net.products.dtype == net.change.dtype == torch.int64
    assert net.index("n") == 1
    text = repr(net)
    assert all(r in text for r in net.reactions) and "2.5" in text

    same = [ReactionNetwork([f"{lhs} -> B"], [1.0]) for lhs in ("2 A", "A + A", "2A")]
    assert all(n.reactants.tolist() == [[2, 0]] and n.products.tolist() == [[0, 1]] for n in same)
    nothing = ReactionNetwork(["∅ -> X", "X -> 0"], [1.0, 2.0])
    assert nothing.change.tolist() == [[1], [-1]]
    ordered = ReactionNetwork(["S + E -> SE", "SE -> P + E"], [1.0, 1.0], species=["E", "S", "P", "SE", "Z"])
    assert ordered.species == ("E", "S", "P", "SE", "Z")
    assert ordered.reactants.tolist() == [[1, 1, 0, 0, 0], [0, 0, 0, 1, 0]]


def test_propensities_are_combinatorial_mass_action():
    dimer = ReactionNetwork(["2 A -> B"], [3.0])
    for n in [0, 1, 2, 3, 7, 1000]:
        assert dimer.propensities(torch.tensor([n, 5])).item() == 3.0 * n * (n - 1) / 2
    net = ReactionNetwork(["A + B -> C", "3 A -> 0", "0 -> A", "A + 2 B -> C"], [0.5, 2.0, 7.0, 1.5])
    x = torch.tensor([[[4, 3, 0], [2, 5, 1]], [[0, 9, 9], [3, 1, 0]]])  # [2, 2, S] batch
    a = net.propensities(x)
    assert a.shape == (2, 2, 4) and a.dtype == torch.float64
    for idx in np.ndindex(2, 2):
        nA, nB = x[idx][0].item(), x[idx][1].item()
        want = [0.5 * nA * nB, 2.0 * math.comb(nA, 3), 7.0, 1.5 * nA * math.comb(nB, 2)]
        assert a[idx].tolist() == pytest.approx(want, rel=1e-15, abs=0)
    assert (a >= 0).all()


# --------------------------------------------------------------------------------------------
# Birth-death: exact laws
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_birth_death_transient_law_is_poisson(backend):
    k, gamma, n = 10.0, 1.0, 4000
    times = [0.0, 0.3, 1.0, 3.0]
    ens = ssa(birth_death(k, gamma), [0], t_max=3.0, n_traj=n, seed=11, t_grid=times, backend=backend)
    assert isinstance(ens, Ensemble) and ens.x.shape == (n, 4, 1) and ens.x.dtype == torch.int64
    assert ens.t.tolist() == times and (ens.x[:, 0] == 0).all()
    for j, t in enumerate(times[1:], start=1):
        lam = k / gamma * (1 - math.exp(-gamma * t))
        values, freqs = histogram(ens.x[:, j, 0].numpy())
        support = np.arange(int(lam + 10 * math.sqrt(lam) + 10))
        assert g_test(values, freqs, stats.poisson.pmf(support, lam), n) > P_MIN, t
        # The same data reject a 15 % error in the mean: the test has power.
        assert g_test(values, freqs, stats.poisson.pmf(support, 1.15 * lam), n) < P_MIN, t


@pytest.mark.parametrize("backend", BACKENDS)
def test_birth_death_stationary_law_across_the_ensemble(backend):
    k, n = 20.0, 4000
    ens = ssa(birth_death(k), [0], t_max=15.0, n_traj=n, seed=5, t_grid=[15.0], backend=backend)
    values, freqs = histogram(ens.x[:, -1, 0].numpy())  # e^-15 from stationarity
    support = np.arange(80)
    assert g_test(values, freqs, stats.poisson.pmf(support, k), n) > P_MIN
    assert g_test(values, freqs, stats.poisson.pmf(support, k + 1), n) < P_MIN


def test_birth_death_time_weighted_histogram_is_poisson_and_the_event_weighted_is_biased():
    k, gamma, t_burn = 20.0, 1.0, 10.0
    path = trajectory(birth_death(k, gamma), [0], t_max=20_000.0, seed=3)
    assert path.status == "t_max" and path.t_end == 20_000.0 and path.t[-1] <= 20_000.0
    values, probs = time_weighted_histogram(path.t, path.x[:, 0], t_burn=t_burn, t_end=path.t_end)
    assert (np.diff(values) > 0).all() and probs.sum() == pytest.approx(1.0, abs=1e-12)
    # Correlated samples: the time average of any function of the state has variance at most
    # 2 var / (gamma T) (the slowest relaxation rate is gamma), so gamma T / 2 samples is a
    # conservative effective size for the G-test.
    n_eff = gamma * (path.t_end - t_burn) / 2
    support = np.arange(80)
    assert g_test(values, probs, stats.poisson.pmf(support, k / gamma), n_eff) > P_MIN
    assert g_test(values, probs, stats.poisson.pmf(support, k / gamma + 0.5), n_eff) < P_MIN
    # Counting states once per event samples pi(n) a0(n), a0 = k + gamma n: mean k/gamma + 1/2.
    ev_values, ev_probs = event_weighted_histogram(path.x[:, 0], burn=1000)
    assert g_test(ev_values, ev_probs, stats.poisson.pmf(support, k / gamma), n_eff) < P_MIN
    assert ev_values @ ev_probs == pytest.approx(k / gamma + 0.5, abs=0.15)
    assert values @ probs == pytest.approx(k / gamma, abs=0.15)


def test_waiting_times_are_exponential_with_rate_a0():
    # (1) Along a long path every dwell time, scaled by the total propensity of its state, is an
    # independent Exp(1).
    k, gamma = 20.0, 1.0
    path = trajectory(birth_death(k, gamma), [20], n_events=50_000, seed=8)
    assert path.status == "n_events" and path.reaction.shape == (50_000,)
    a0 = k + gamma * path.x[:-1, 0]
    scaled = np.diff(path.t) * a0
    assert stats.kstest(scaled, "expon").pvalue > P_MIN
    assert stats.kstest(np.diff(path.t) * (a0 + 1.0), "expon").pvalue < P_MIN
    # (2) From one fixed state the first event time is Exp(a0) and reaction r has probability a_r/a0.
    net = gene_expression()
    a = net.propensities(torch.tensor([5, 7])).numpy()
    first = [trajectory(net, [5, 7], n_events=1, seed=s) for s in range(2000)]
    times = np.array([p.t[1] for p in first])
    assert stats.kstest(times, "expon", args=(0, 1 / a.sum())).pvalue > P_MIN
    assert stats.kstest(times, "expon", args=(0, 1.2 / a.sum())).pvalue < P_MIN
    fired = np.bincount([p.reaction[0] for p in first], minlength=4)
    assert stats.chisquare(fired, 2000 * a / a.sum()).pvalue > P_MIN


def test_torch_first_event_survival_is_exp_minus_a0_t():
    net = gene_expression()
    a0 = net.propensities(torch.tensor([5, 7])).sum().item()
    n = 10_000
    ens = ssa(net, [5, 7], t_max=1 / a0, n_traj=n, seed=2, t_grid=[0.0, 1 / a0], backend="torch")
    quiet = int((ens.n_events == 0).sum())
    assert stats.binomtest(quiet, n, math.exp(-1)).pvalue > P_MIN
    assert stats.binomtest(quiet, n, math.exp(-1.15)).pvalue < P_MIN
    unchanged = (ens.x[:, -1] == ens.x[:, 0]).all(dim=-1)
    assert unchanged[ens.n_events == 0].all() and not unchanged[ens.n_events == 1].any()


# --------------------------------------------------------------------------------------------
# Conservation, absorption, edge cases
# --------------------------------------------------------------------------------------------

def test_enzyme_conservation_laws_hold_at_every_event():
    net = enzyme()
    assert net.species == ("S", "E", "SE", "P")
    path = trajectory(net, [300, 121, 0, 0], n_events=100_000, seed=1)
    S, E, SE, P = path.x.T
    assert (E + SE == 121).all() and (S + SE + P == 300).all() and (path.x >= 0).all()
    # Every substrate is eventually converted: the path ends absorbed in S = SE = 0.
    assert path.status == "absorbed" and path.x[-1].tolist() == [0, 121, 0, 300]
    assert np.isfinite(path.t).all() and (np.diff(path.t) >= 0).all()
    assert (path.x[1:] - path.x[:-1] == net.change.numpy()[path.reaction]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_enzyme_conservation_laws_hold_at_every_recorded_step(backend):
    ens = ssa(enzyme(), {"S": 300, "E": 121}, t_max=40.0, n_traj=64, seed=4, backend=backend)
    S, E, SE, P = ens.x.unbind(-1)
    assert (E + SE == 121).all() and (S + SE + P == 300).all() and (ens.x >= 0).all()
    assert (P[:, -1] > 100).all() and (ens.n_events > 300).all()  # it did react


@pytest.mark.parametrize("backend", BACKENDS)
def test_absorbing_state_ends_cleanly(backend):
    net = ReactionNetwork(["A -> 0"], [2.0])
    ens = ssa(net, [3], t_max=1e6, n_traj=50, seed=0, backend=backend)
    assert (ens.n_events == 3).all()
    assert (ens.x[:, 0, 0] == 3).all() and (ens.x[:, -1, 0] == 0).all()
    assert torch.isfinite(ens.t).all() and (ens.x >= 0).all()
    # Nothing at all can happen: a0 = 0 from the start.
    still = ssa(net, [0], t_max=5.0, n_traj=4, backend=backend)
    assert (still.n_events == 0).all() and (still.x == 0).all()


def test_absorbing_path_has_exactly_the_possible_events():
    path = trajectory(ReactionNetwork(["A -> 0"], [2.0]), [3], t_max=1e6, seed=2)
    assert path.status == "absorbed" and len(path.reaction) == 3 and path.x[:, 0].tolist() == [3, 2, 1, 0]
    assert np.isfinite(path.t).all() and path.t_end == 1e6
    # The absorbed state is held to t_end: it carries (almost) all the time weight.
    values, probs = time_weighted_histogram(path.t, path.x[:, 0], t_end=path.t_end)
    assert values.tolist() == [0, 1, 2, 3] and probs[0] > 0.99999


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_trajectory_and_default_grid(backend):
    ens = ssa(gene_expression(), [1, 1], t_max=2.0, backend=backend)
    assert ens.x.shape == (1, 101, 2) and ens.n_events.shape == (1,) and ens.n_events.item() > 50
    assert torch.equal(ens.t, torch.linspace(0, 2.0, 101, dtype=torch.float64))
    assert ens.species == ("m", "n") and torch.equal(ens.counts("n"), ens.x[..., 1])
    arrays = ens.to_numpy()
    assert arrays["x"].shape == (1, 101, 2) and arrays["t"].dtype == np.float64


# --------------------------------------------------------------------------------------------
# Su's gene-expression model
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gene_path():
    return trajectory(gene_expression(), [1, 1], n_events=3_000_000, seed=2018)


def test_gene_expression_time_weighted_moments(gene_path):
    path, t_burn = gene_path, 20.0
    m_values, m_probs = time_weighted_histogram(path.t, path.counts("m"), t_burn=t_burn)
    n_values, n_probs = time_weighted_histogram(path.t, path.counts("n"), t_burn=t_burn)
    m_mean, n_mean = m_values @ m_probs, n_values @ n_probs
    m_var, n_var = (m_values - m_mean) ** 2 @ m_probs, (n_values - n_mean) ** 2 @ n_probs
    # Standard errors from batch means of the path sampled on a fine grid (correlated samples).
    grid = np.arange(t_burn, path.t[-1], 0.02)
    m, n = on_grid(path, grid).T.astype(float)
    checks = {  # statistic: (estimate, series for its standard error, exact value)
        "E[m]": (m_mean, m, 20.0),
        "Var m": (m_var, (m - m_mean) ** 2, 20.0),
        "E[n]": (n_mean, n, 50.0),
        "Var n": (n_var, (n - n_mean) ** 2, 112.5),  # Fano 1 + k_p / (g_m + g_p) = 2.25
        "Cov(m, n)": (None, (m - m.mean()) * (n - n.mean()), 25.0),
    }
    for name, (estimate, series, exact) in checks.items():
        mean, se = batch_means(series)
        estimate = mean if estimate is None else estimate
        assert abs(estimate - exact) < 5 * se, (name, estimate, exact, se)
        assert se < 0.03 * exact, (name, se)  # precise enough to mean something
    assert n_var / n_mean == pytest.approx(2.25, rel=0.05)


def test_event_weighted_estimator_has_the_predicted_bias(gene_path):
    # States are counted in proportion to pi(x) a0(x), a0 = 20 + 3.5 m + n, so
    # E_event[f] = E[f a0] / E[a0] with the exact moments of the stationary law.
    Em, En, Vm, Vn, C = 20.0, 50.0, 20.0, 112.5, 25.0
    Ea0 = 20 + 3.5 * Em + En
    want_n = (20 * En + 3.5 * (C + Em * En) + (Vn + En**2)) / Ea0
    want_m = (20 * Em + 3.5 * (Vm + Em**2) + (C + Em * En)) / Ea0
    assert (round(want_n, 2), round(want_m, 2)) == (51.43, 20.68)
    burn = 5000
    for name, want, exact in [("n", want_n, En), ("m", want_m, Em)]:
        x = gene_path.counts(name)
        values, probs = event_weighted_histogram(x, burn=burn)
        estimate = values @ probs
        mean, se = batch_means(x[burn:])
        assert estimate == pytest.approx(mean, rel=1e-12)
        assert abs(estimate - want) < 5 * se, (name, estimate, want, se)
        assert estimate - exact > 5 * se, (name, estimate, se)  # the bias is real and resolved


# --------------------------------------------------------------------------------------------
# Master equation and mean field
# --------------------------------------------------------------------------------------------

def test_cme_generator_structure_and_reflecting_truncation():
    Q = cme_generator(birth_death(3.0, 0.5), [10])
    dense = Q.toarray()
    assert Q.shape == (11, 11) and np.abs(dense.sum(axis=0)).max() < 1e-12
    assert dense[1, 0] == 3.0 and dense[4, 5] == 0.5 * 5 and dense[5, 5] == -(3.0 + 2.5)
    assert dense[10, 10] == -5.0  # the birth out of the box is dropped with its outflow
    net = dimerisation()
    Q = cme_generator(net, [6, 4])
    assert Q.shape == (35, 35) and np.abs(np.asarray(Q.sum(axis=0))).max() < 1e-12
    j, i = np.ravel_multi_index((3, 1), (7, 5)), np.ravel_multi_index((1, 2), (7, 5))
    assert Q[i, j] == 0.5 * 3  # 2 A -> B from A = 3: k C(3, 2)


def test_cme_stationary_birth_death_is_poisson():
    p = cme_stationary(birth_death(20.0, 1.0), [100])
    assert p.shape == (101,)
    np.testing.assert_allclose(p, stats.poisson.pmf(np.arange(101), 20.0), atol=1e-8, rtol=0)


def test_cme_stationary_gene_expression_has_the_exact_moments():
    p = cme_stationary(gene_expression(), {"m": 60, "n": 200})
    m, n = np.meshgrid(np.arange(61), np.arange(201), indexing="ij")
    Em, En = (p * m).sum(), (p * n).sum()
    assert Em == pytest.approx(20, rel=1e-6) and En == pytest.approx(50, rel=1e-6)
    assert (p * (m - Em) ** 2).sum() == pytest.approx(20, rel=1e-6)
    assert (p * (n - En) ** 2).sum() == pytest.approx(112.5, rel=1e-6)
    assert (p * (m - Em) * (n - En)).sum() == pytest.approx(25, rel=1e-6)


def test_ssa_histograms_match_the_truncated_master_equation():
    def tv(p, q):
        return 0.5 * np.abs(p - q).sum()

    n = 8000
    ens = ssa(birth_death(10.0), [0], t_max=1.0, n_traj=n, seed=6, t_grid=[1.0])
    empirical = np.bincount(ens.x[:, 0, 0].numpy(), minlength=61)[:61] / n
    exact = cme_transient(birth_death(10.0), [0], 1.0, [60])
    np.testing.assert_allclose(exact, stats.poisson.pmf(np.arange(61), 10 * (1 - math.exp(-1))), atol=1e-9)
    assert tv(empirical, exact) < 0.04
    assert tv(empirical, cme_transient(birth_death(12.0), [0], 1.0, [60])) > 0.08

    net, box = dimerisation(), (30, 30)
    for backend in BACKENDS:
        ens = ssa(net, [0, 0], t_max=2.0, n_traj=n, seed=7, t_grid=[2.0], backend=backend)
        x = ens.x[:, 0].numpy()
        assert (x.max(axis=0) <= box).all()
        empirical = np.zeros((31, 31))
        np.add.at(empirical, (x[:, 0], x[:, 1]), 1.0 / n)
        exact = cme_transient(net, [0, 0], [1.0, 2.0], box)[1]
        flat = np.ravel_multi_index(tuple(x.T), (31, 31))
        values, freqs = histogram(flat)
        assert g_test(values, freqs, exact.reshape(-1), n) > P_MIN, backend
        assert tv(empirical, exact) < 0.06, backend
        wrong = cme_transient(ReactionNetwork(net.reactions, [4.0, 0.5, 0.6, 1.0]), [0, 0], 2.0, box)
        assert g_test(values, freqs, wrong.reshape(-1), n) < P_MIN, backend


def test_mass_action_ode_closed_forms():
    t = np.linspace(0, 5, 11)
    x = mass_action_ode(birth_death(7.0, 0.5), [30], t)
    np.testing.assert_allclose(x[:, 0], 14 + (30 - 14) * np.exp(-0.5 * t), rtol=1e-7)
    # 2 A -> 0 at rate k per pair: dx/dt = -2 k x^2 / 2, so x = x0 / (1 + k x0 t).
    x = mass_action_ode(ReactionNetwork(["2 A -> 0"], [0.01]), [100], t)
    np.testing.assert_allclose(x[:, 0], 100 / (1 + 0.01 * 100 * t), rtol=1e-7)
    x = mass_action_ode(enzyme(), [300, 121, 0, 0], np.linspace(0, 50, 26))
    np.testing.assert_allclose(x[:, 1] + x[:, 2], 121, rtol=1e-8)
    np.testing.assert_allclose(x[:, 0] + x[:, 2] + x[:, 3], 300, rtol=1e-8)
    assert x.shape == (26, 4) and x[-1, 3] > 250


# --------------------------------------------------------------------------------------------
# Backends, reproducibility, devices
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_output_different_seed_different(backend):
    net, kw = gene_expression(), dict(t_max=3.0, n_traj=20, backend=backend)
    a, b, c = ssa(net, [1, 1], seed=9, **kw), ssa(net, [1, 1], seed=9, **kw), ssa(net, [1, 1], seed=10, **kw)
    assert torch.equal(a.x, b.x) and torch.equal(a.n_events, b.n_events)
    assert not torch.equal(a.x, c.x)
    p, q, r = (trajectory(net, [1, 1], n_events=500, seed=s) for s in (9, 9, 10))
    assert np.array_equal(p.t, q.t) and np.array_equal(p.x, q.x) and not np.array_equal(p.t, r.t)


def test_numba_results_do_not_depend_on_the_thread_count():
    numba = pytest.importorskip("numba")
    net, kw = gene_expression(), dict(t_max=2.0, n_traj=64, seed=3, backend="numba")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = ssa(net, [1, 1], **kw)
    finally:
        numba.set_num_threads(before)
    assert torch.equal(one.x, ssa(net, [1, 1], **kw).x)


def test_trajectory_is_the_numba_ensembles_first_path_right_continuously():
    net = gene_expression()
    path = trajectory(net, [2, 3], t_max=5.0, seed=21)
    # Grid points exactly at event times must see the state *after* the event.
    grid = np.concatenate([[0.0], path.t[1:200], [5.0]])
    ens = ssa(net, [2, 3], t_max=5.0, n_traj=3, seed=21, t_grid=grid, backend="numba")
    assert ens.n_events[0].item() == len(path.reaction)
    assert np.array_equal(ens.x[0].numpy(), on_grid(path, grid))
    assert np.array_equal(ens.x[0, 1:200].numpy(), path.x[1:200])


def test_backends_agree_in_distribution():
    net, n, t = gene_expression(), 3000, 1.5
    runs = {b: ssa(net, [0, 0], t_max=t, n_traj=n, seed=12, t_grid=[t], backend=b).x[:, 0].numpy()
            for b in BACKENDS}
    ode = mass_action_ode(net, [0, 0], [t])[0]  # first-order network: the ODE is the exact mean
    for s in range(2):
        a, b = runs["torch"][:, s], runs["numba"][:, s]
        assert stats.ttest_ind(a, b, equal_var=False).pvalue > P_MIN
        assert stats.ks_2samp(a, b).pvalue > P_MIN
        for x in (a, b):
            assert abs(x.mean() - ode[s]) < 5 * x.std() / math.sqrt(n)
    assert stats.ttest_ind(runs["torch"][:, 1], runs["numba"][:, 1] + 1.5, equal_var=False).pvalue < P_MIN


def test_auto_backend_without_numba_falls_back_to_torch(monkeypatch):
    net, kw = birth_death(), dict(t_max=1.0, n_traj=8, seed=1)
    torch_run = ssa(net, [0], backend="torch", **kw)
    monkeypatch.setattr(G, "numba_available", lambda: False)
    assert torch.equal(ssa(net, [0], backend="auto", **kw).x, torch_run.x)
    monkeypatch.setattr(G, "_compiled", False)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    with pytest.raises(ImportError, match="numba"):
        ssa(net, [0], backend="numba", **kw)


def test_trajectory_without_numba_runs_the_same_code_in_python(tmp_path):
    pytest.importorskip("numba")
    code = """
import sys, warnings
warnings.simplefilter("error")
sys.modules["numba"] = None  # import numba fails
import numpy as np
from companion import gillespie as G
net = G.ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0", "2 n -> 0"], [20, 2.5, 1, 1, 0.01])
assert not G.numba_available()
p = G.trajectory(net, [1, 1], n_events=3000, seed=5)
assert G.ssa(net, [1, 1], t_max=1.0, n_traj=3).x.shape == (3, 101, 2)  # auto: torch
np.save(sys.argv[1], np.column_stack([p.t, p.x, np.append(p.reaction, -1)]))
"""
    out = tmp_path / "path.npy"
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    interpreted = np.load(out)
    net = ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0", "2 n -> 0"], [20, 2.5, 1, 1, 0.01])
    p = trajectory(net, [1, 1], n_events=3000, seed=5)
    assert np.array_equal(interpreted, np.column_stack([p.t, p.x, np.append(p.reaction, -1)]))


def test_auto_backend_uses_numba_on_cpu():
    pytest.importorskip("numba")
    net, kw = birth_death(), dict(t_max=1.0, n_traj=8, seed=1)
    assert torch.equal(ssa(net, [0], **kw).x, ssa(net, [0], backend="numba", **kw).x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_backend_on_cuda():
    k, n = 10.0, 4000
    ens = ssa(birth_death(k), torch.tensor([0], device="cuda"), t_max=1.0, n_traj=n, seed=1,
              t_grid=[1.0])
    assert ens.x.is_cuda and ens.n_events.is_cuda
    again = ssa(birth_death(k), [0], t_max=1.0, n_traj=n, seed=1, t_grid=[1.0], device="cuda")
    assert torch.equal(ens.x, again.x)
    lam = k * (1 - math.exp(-1))
    values, freqs = histogram(ens.x[:, 0, 0].cpu().numpy())
    assert g_test(values, freqs, stats.poisson.pmf(np.arange(60), lam), n) > P_MIN
    with pytest.raises(ValueError, match="backend='numba' runs on the CPU"):
        ssa(birth_death(k), [0], t_max=1.0, device="cuda", backend="numba")


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("A ->", r"malformed reaction 'A ->': the right-hand side is empty"),
    ("-> B", r"malformed reaction '-> B': the left-hand side is empty"),
    ("A => B", r"malformed reaction 'A => B': it must contain exactly one '->'"),
    ("A -> B -> C", r"malformed reaction 'A -> B -> C'"),
    ("2.5 A -> B", r"malformed reaction '2.5 A -> B': '2.5 A' is not a species term"),
    ("A + -> B", r"malformed reaction 'A \+ -> B': '' is not a species term"),
    ("0 A -> B", r"the coefficient of 'A' must be a positive integer, got 0"),
    ("A -> B-1", r"'B-1' is not a species term"),
])
def test_malformed_reactions_are_rejected_quoting_them(text, message):
    with pytest.raises(ValueError, match=message):
        ReactionNetwork([text], [1.0])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(reactions=["A -> B"], rates=[1.0], species=["A"]), ValueError, r"unknown species 'B' in reaction 'A -> B'"),
    (dict(reactions=["A -> B"], rates=[1.0, 2.0]), ValueError, r"one value per reaction \(1\), got 2"),
    (dict(reactions=["A -> B", "B -> A"], rates=[1.0, -2.0]), ValueError, r"finite and >= 0, got -2.0 for reaction 'B -> A'"),
    (dict(reactions=["A -> B"], rates=[float("nan")]), ValueError, r"got nan for reaction 'A -> B'"),
    (dict(reactions=["A -> B"], rates=[float("inf")]), ValueError, r"got inf for reaction 'A -> B'"),
    (dict(reactions="A -> B", rates=[1.0]), TypeError, r"reactions must be a non-empty list of strings"),
    (dict(reactions=[], rates=[]), TypeError, r"reactions must be a non-empty list"),
    (dict(reactions=["A -> B"], rates=[1.0], species=["A", "B", "A"]), ValueError, r"unique, got species=\['A', 'B', 'A'\]"),
])
def test_bad_networks_are_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        ReactionNetwork(**kwargs)


@pytest.mark.parametrize("call, error, message", [
    (lambda n: ssa(n, [1, 2, 3], t_max=1.0), ValueError, r"x0 must have one count per species \(2: m, n\), got 3 values"),
    (lambda n: ssa(n, [-1, 0], t_max=1.0), ValueError, r"non-negative integer counts, got -1 for species 'm'"),
    (lambda n: ssa(n, [2.5, 0], t_max=1.0), ValueError, r"got 2.5 for species 'm'"),
    (lambda n: ssa(n, {"m": 1, "p": 2}, t_max=1.0), ValueError, r"unknown species 'p' in x0"),
    (lambda n: ssa(n, [1, 1], t_max=0.0), ValueError, r"t_max must be a finite number > 0, got 0.0"),
    (lambda n: ssa(n, [1, 1], t_max=-2), ValueError, r"t_max must be a finite number > 0, got -2"),
    (lambda n: ssa(n, [1, 1], t_max=float("inf")), ValueError, r"t_max must be a finite number > 0, got inf"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, n_traj=0), ValueError, r"n_traj must be an integer >= 1, got 0"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, n_traj=2.5), ValueError, r"n_traj must be an integer >= 1, got 2.5"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, backend="cuda"), ValueError, r"backend must be one of 'auto', 'torch', 'numba', got 'cuda'"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, t_grid=[0.0, 0.5, 0.2]), ValueError, r"sorted ascending, got 0.5 before 0.2"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, t_grid=[0.0, 1.5]), ValueError, r"within \[0, t_max\] = \[0, 1.0\], got values from 0.0 to 1.5"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, t_grid=[-0.1, 0.5]), ValueError, r"got values from -0.1"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, t_grid=[[0.1, 0.5]]), ValueError, r"1-D sequence of times, got shape \(1, 2\)"),
    (lambda n: ssa(n, [1, 1], t_max=1.0, seed=-1), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda n: trajectory(n, [1, 1]), ValueError, r"needs t_max or n_events .* got neither"),
    (lambda n: trajectory(n, [1, 1], n_events=0), ValueError, r"n_events must be an integer >= 1, got 0"),
    (lambda n: trajectory(n, [1, 1], t_max=float("nan")), ValueError, r"t_max must be a finite number > 0, got nan"),
    (lambda n: n.index("DNA"), ValueError, r"unknown species 'DNA'"),
    (lambda n: n.propensities(torch.tensor([1, 2, 3])), ValueError, r"shape \[\.\.\., 2\] .* got shape \(3,\)"),
    (lambda n: cme_generator(n, [2000, 2000]), ValueError, r"max_counts=\[2000, 2000\] gives a box of 4,004,001 states"),
    (lambda n: cme_transient(n, [70, 0], 1.0, [60, 100]), ValueError, r"x0=\[70, 0\] lies outside the box"),
    (lambda n: time_weighted_histogram([0.0, 2.0, 1.0], [1, 2, 3]), ValueError, r"non-decreasing"),
    (lambda n: time_weighted_histogram([0.0, 1.0], [1, 2], t_burn=5.0), ValueError, r"t_burn=5.0, t_end=1.0"),
    (lambda n: event_weighted_histogram([1, 2, 3], burn=3), ValueError, r"burn must be an integer in \[0, 3\), got 3"),
    (lambda n: time_weighted_histogram([0.0, 1.0], [[1, 2], [3, 4]]), ValueError, r"one species\), got shape \(2, 2\)"),
])
def test_bad_arguments_are_rejected_naming_the_value(call, error, message):
    with pytest.raises(error, match=message):
        call(gene_expression())


def test_cme_stationary_absorbing_and_non_unique_laws():
    # One absorbing state reached from everywhere: the stationary law is the point mass there.
    p = cme_stationary(ReactionNetwork(["A -> 0"], [1.0]), [5])
    np.testing.assert_allclose(p, [1, 0, 0, 0, 0, 0], atol=1e-12)
    # A <-> B conserves A + B: one closed class per total, so no unique law in the box.
    with pytest.raises(ValueError, match=r"max_counts=\[3, 3\] has no unique stationary law"):
        cme_stationary(ReactionNetwork(["A -> B", "B -> A"], [1.0, 2.0]), [3, 3])


def test_histograms_on_a_hand_made_path():
    t = np.array([0.0, 1.0, 1.5, 4.0])
    x = np.array([2, 5, 2, 7])
    values, probs = time_weighted_histogram(t, x)  # 7 dwells 0: left out
    assert values.tolist() == [2, 5] and probs.tolist() == pytest.approx([3.5 / 4, 0.5 / 4])
    values, probs = time_weighted_histogram(t, x, t_burn=1.2, t_end=6.0)
    assert values.tolist() == [2, 5, 7] and probs.tolist() == pytest.approx([2.5 / 4.8, 0.3 / 4.8, 2 / 4.8])
    values, probs = event_weighted_histogram(x)
    assert values.tolist() == [2, 5, 7] and probs.tolist() == [0.5, 0.25, 0.25]
    assert isinstance(trajectory(birth_death(), [0], n_events=3), Path)


# ----------------------------------------------------------------- theory helpers and slider demos

def test_two_stage_moments_agree_with_the_master_equation():
    """Closed forms of the chapter, checked against the CME solved numerically, away from Su's
    parameters so that no number is shared with the code under test."""
    k_m, k_p, g_m, g_p = 6.0, 4.0, 2.0, 0.5
    theory = G.two_stage_moments(k_m, k_p, g_m, g_p)
    p = cme_stationary(gene_expression(k_m, k_p, g_m, g_p), max_counts=(30, 160))
    m, n = np.meshgrid(np.arange(31), np.arange(161), indexing="ij")
    mean = lambda f: float((f * p).sum())  # noqa: E731
    a0 = k_m + (k_p + g_m) * m + g_p * n
    assert theory["m_mean"] == pytest.approx(mean(m), rel=1e-8)
    assert theory["m_var"] == pytest.approx(mean(m**2) - mean(m) ** 2, rel=1e-8)
    assert theory["n_mean"] == pytest.approx(mean(n), rel=1e-8)
    assert theory["n_var"] == pytest.approx(mean(n**2) - mean(n) ** 2, rel=1e-8)
    assert theory["cov"] == pytest.approx(mean(m * n) - mean(m) * mean(n), rel=1e-8)
    assert theory["n_mean_event"] == pytest.approx(mean(n * a0) / mean(a0), rel=1e-8)
    assert theory["m_mean_event"] == pytest.approx(mean(m * a0) / mean(a0), rel=1e-8)


def test_two_stage_moments_reject_bad_rates():
    with pytest.raises(ValueError, match=r"gamma_p must be a finite number > 0, got 0"):
        G.two_stage_moments(20, 2.5, 1, 0)


@pytest.mark.parametrize("x0, t", [(0, 0.7), (15, 0.3), (4, 5.0)])
def test_birth_death_law_equals_the_transient_master_equation(x0, t):
    law = G.birth_death_law(8.0, 1.5, x0, t, n_max=60)
    exact = cme_transient(birth_death(8.0, 1.5), [x0], t, max_counts=(60,))
    assert np.allclose(law, exact, atol=1e-9)


def test_slider_demos_return_figures_and_check_their_choices():
    from matplotlib.figure import Figure

    assert isinstance(G.plot_birth_death(k=5.0, gamma=1.0, x0=3, t_max=2.0, n_traj=50), Figure)
    assert isinstance(G.plot_gene_expression(weighting="event", n_events=3000), Figure)
    with pytest.raises(ValueError, match=r"weighting must be 'time' or 'event', got 'dwell'"):
        G.plot_gene_expression(weighting="dwell", n_events=100)


@pytest.mark.parametrize("weighting", ["time", "event"])
def test_gene_expression_demo_at_the_busy_end_of_its_sliders(weighting):
    # The panel's corner of most events per unit time and slowest mRNA decay: ten mRNA lifetimes
    # (t = 20) lie past the last of the events, and the burn-in once indexed past the path's end.
    from matplotlib.figure import Figure

    path = G.trajectory(G.ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"],
                                          rates=[30, 5.0, 0.5, 1.0]), [1, 1], n_events=2000, seed=0)
    assert path.t[-1] < 20
    fig = G.plot_gene_expression(k_m=30, k_p=5.0, gamma_m=0.5, weighting=weighting, n_events=2000)
    assert isinstance(fig, Figure)


# ------------------------------------------------ error bars, the jump chain, weighting comparison

def test_batch_means_of_independent_draws_is_the_ordinary_standard_error():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=200_000)
    mean, se = G.batch_means(x, n_batches=100)
    assert mean == pytest.approx(x.mean(), rel=1e-12)
    # The batch estimate of se has a relative spread of about 1/sqrt(2 * 99) = 7%.
    assert se == pytest.approx(2.0 / math.sqrt(x.size), rel=0.25)


def test_batch_means_sees_the_correlation_of_an_ar1_series():
    phi, n = 0.9, 400_000
    rng = np.random.default_rng(1)
    noise = rng.normal(size=n)
    x = np.empty(n)
    x[0] = noise[0] / math.sqrt(1 - phi**2)
    for i in range(1, n):  # x_i = phi x_{i-1} + e_i (a plain loop: 0.2 s)
        x[i] = phi * x[i - 1] + noise[i]
    mean, se = G.batch_means(x, n_batches=50)
    long_run = 1.0 / (1 - phi) ** 2  # the AR(1) long-run variance with unit innovations
    assert se == pytest.approx(math.sqrt(long_run / n), rel=0.3)
    naive = x.std() / math.sqrt(n)  # as if independent: sqrt((1 - phi) / (1 + phi)) too small
    assert se > 3 * naive


def test_batch_means_weights_act_like_repetitions():
    rng = np.random.default_rng(2)
    values = rng.normal(size=300)
    weights = rng.integers(0, 5, size=300)
    weights[0] = 1
    repeated = np.repeat(values, weights)
    # The same step function of cumulative weight: equal batches give equal results.
    got = G.batch_means(values, weights=weights.astype(float), n_batches=7)
    want = G.batch_means(repeated, n_batches=7)
    assert got == pytest.approx(want, rel=1e-10)
    assert got[0] == pytest.approx(np.average(values, weights=weights), rel=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(values=[1.0, 2.0, 3.0], n_batches=1), r"n_batches must be in \[2, 3\]"),
    (dict(values=[1.0, 2.0, 3.0], n_batches=4), r"n_batches must be in \[2, 3\]"),
    (dict(values=[1.0, 2.0], weights=[1.0, -1.0]), r"weights finite, >= 0"),
    (dict(values=[1.0, np.nan]), r"values must be finite"),
    (dict(values=[1.0, 2.0], weights=[1.0]), r"same length, got 2 and 1"),
])
def test_batch_means_rejects_bad_input(kwargs, message):
    kwargs.setdefault("n_batches", 2)
    with pytest.raises(ValueError, match=message):
        G.batch_means(**kwargs)


def test_jump_chain_law_of_birth_death_in_closed_form():
    # pi = Poisson(lambda), a0 = k + gamma x, E[a0] = 2k: q(x) = pi(x) (k + gamma x) / (2k).
    k, gamma = 12.0, 1.5
    lam = k / gamma
    net = birth_death(k, gamma)
    support = np.arange(121)
    q = G.jump_chain_law(net, stats.poisson.pmf(support, lam))
    np.testing.assert_allclose(q, stats.poisson.pmf(support, lam) * (k + gamma * support) / (2 * k),
                               atol=1e-12)
    assert support @ q == pytest.approx(lam + 0.5, abs=1e-9)  # the event mean is off by 1/2
    # q is stationary for the jump chain: move from x to x +- 1 with probability a_r(x) / a0(x).
    up = k / (k + gamma * support)
    moved = np.zeros_like(q)
    moved[1:] += (q * up)[:-1]
    moved[:-1] += (q * (1 - up))[1:]
    np.testing.assert_allclose(moved[:100], q[:100], atol=1e-12)


def test_event_weighted_histogram_converges_to_the_jump_chain_law():
    k, gamma = 20.0, 1.0
    path = trajectory(birth_death(k, gamma), [20], t_max=20_000.0, seed=5)
    values, probs = event_weighted_histogram(path.x[:, 0], burn=1000)
    support = np.arange(80)
    q = G.jump_chain_law(birth_death(k, gamma), stats.poisson.pmf(support, k / gamma))
    n_eff = gamma * path.t_end / 2  # conservative, as in the time-weighted test above
    assert g_test(values, probs, q, n_eff) > P_MIN
    assert g_test(values, probs, stats.poisson.pmf(support, k / gamma), n_eff) < P_MIN


def test_jump_chain_law_rejects_bad_laws():
    with pytest.raises(ValueError, match="one axis per species"):
        G.jump_chain_law(gene_expression(), np.ones(5))
    with pytest.raises(ValueError, match="absorbing states only"):
        G.jump_chain_law(ReactionNetwork(["A -> 0"], [1.0]), [1.0, 0.0, 0.0])


def test_compare_weightings_gives_unbiased_time_means_and_the_event_shift():
    k, gamma = 20.0, 1.0
    runs = G.compare_weightings(birth_death(k, gamma), [0], "X", n_events=40_000, n_paths=8,
                                seed=11, t_burn=5.0)
    assert runs["time_means"].shape == runs["event_means"].shape == (8, 1)
    for key in ("time_probs", "event_probs"):
        assert runs[key].sum() == pytest.approx(1.0, abs=1e-12)
    se = lambda a: a.std(ddof=1) / math.sqrt(len(a))  # noqa: E731
    time_means, shift = runs["time_means"][:, 0], (runs["event_means"] - runs["time_means"])[:, 0]
    assert abs(time_means.mean() - k / gamma) < 4 * se(time_means)
    assert abs(shift.mean() - 0.5) < 4 * se(shift)  # lambda + 1/2, from the jump chain law
    assert shift.mean() > 4 * se(shift)
    # The first path is the first seed's trajectory, and the pooled event histogram is its
    # paths' histograms averaged.
    first = trajectory(birth_death(k, gamma), [0], n_events=40_000, seed=11)
    np.testing.assert_array_equal(runs["path"].x, first.x)
    with pytest.raises(ValueError, match="n_paths must be >= 2"):
        G.compare_weightings(birth_death(), [0], "X", n_events=100, n_paths=1)
    with pytest.raises(ValueError, match="unknown species"):
        G.compare_weightings(birth_death(), [0], "Y", n_events=100)


def test_cme_stationary_equals_the_null_vector_of_the_dense_generator():
    # An independent computation: the singular vector of the dense Q for its zero singular value.
    net = dimerisation()
    p = cme_stationary(net, [14, 8])
    Q = cme_generator(net, [14, 8]).toarray()
    null = np.linalg.svd(Q)[2][-1]
    null = null / null.sum()
    np.testing.assert_allclose(p.ravel(), null, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# the homodimer convention, against GillesPy2's

# GillesPy2 parses its rate expressions with an ast visitor that Python 3.11 deprecates: its
# warning, not ours.
gillespy2_ast = pytest.mark.filterwarnings("ignore:visit_Num is deprecated:DeprecationWarning")


def test_homodimer_propensity_counts_unordered_pairs():
    k = 0.7
    net = ReactionNetwork(["2 A -> B"], rates=[k])
    x = torch.arange(8)
    a = net.propensities(torch.stack([x, torch.zeros_like(x)], -1))[:, 0]
    torch.testing.assert_close(a, k * x.double() * (x.double() - 1) / 2, rtol=1e-15, atol=0)


@gillespy2_ast
def test_a_gillespy2_homodimer_rate_is_doubled_here():
    """GillesPy2's own propensity string for ``2 A -> 0`` (its mass-action code, volume 1)
    equals ours at twice its rate, for every count: the conversion the docstring states."""
    gillespy2 = pytest.importorskip("gillespy2")
    k_g = 0.3
    model = gillespy2.Model("dimer")
    species = gillespy2.Species(name="A", initial_value=10)
    rate = gillespy2.Parameter(name="k", expression=k_g)
    model.add_species(species)
    model.add_parameter(rate)
    reaction = gillespy2.Reaction(name="r", reactants={species: 2}, products={}, rate=rate)
    model.add_reaction(reaction)
    ours = ReactionNetwork(["2 A -> 0"], rates=[2 * k_g])
    for count in range(8):
        theirs = eval(reaction.propensity_function, {}, {"k": k_g, "A": count, "vol": 1.0})
        mine = ours.propensities(torch.tensor([count]))[0].item()
        assert mine == pytest.approx(theirs, rel=1e-15, abs=0), count
    assert r"k = 2\,k_\text{GillesPy2}" in ReactionNetwork.__doc__  # and users are told


def _gillespy2_dimer_decay(gillespy2, k_g, x0, times):
    """GillesPy2's own model of ``2 A -> 0`` at rate ``k_g``, as one of its users would write it."""
    model = gillespy2.Model("dimer_decay")
    species = gillespy2.Species(name="A", initial_value=x0, mode="discrete")
    rate = gillespy2.Parameter(name="k", expression=k_g)
    model.add_species(species)
    model.add_parameter(rate)
    model.add_reaction(gillespy2.Reaction(name="r", reactants={species: 2}, products={}, rate=rate))
    model.timespan(times)
    return model


@gillespy2_ast
def test_gillespy2_dimer_decay_matches_ours_at_twice_its_rate():
    """GillesPy2's own solvers on ``2 A -> 0`` at rate k_g: its rate equation equals ours at
    2 k_g, and its SSA mean lies within a few standard errors of our exact CME mean at 2 k_g,
    while at k_g (the rate copied unchanged) our mean is far outside."""
    gillespy2 = pytest.importorskip("gillespy2")
    k_g, x0, n = 0.05, 20, 2000
    times = np.linspace(0.0, 2.0, 5)
    model = _gillespy2_dimer_decay(gillespy2, k_g, x0, times)
    ours = ReactionNetwork(["2 A -> 0"], rates=[2 * k_g])

    # d[A]/dt = -2 k_g [A]^2 in GillesPy2: [A](t) = x0 / (1 + 2 k_g x0 t)
    theirs = np.asarray(model.run(solver=gillespy2.ODESolver)[0]["A"])
    np.testing.assert_allclose(theirs, x0 / (1 + 2 * k_g * x0 * times), rtol=1e-4)
    np.testing.assert_allclose(mass_action_ode(ours, [x0], times)[:, 0], theirs, rtol=1e-4)

    runs = model.run(solver=gillespy2.NumPySSASolver, number_of_trajectories=n, seed=7)
    counts = np.array([run["A"] for run in runs], dtype=np.float64)[:, 1:]
    mean, se = counts.mean(0), counts.std(0, ddof=1) / math.sqrt(n)
    states = np.arange(x0 + 1)
    exact = cme_transient(ours, [x0], times[1:], [x0]) @ states
    copied = cme_transient(ReactionNetwork(["2 A -> 0"], rates=[k_g]), [x0], times[1:], [x0]) @ states
    assert np.all(np.abs(mean - exact) < 5 * se), (mean, exact, se)
    assert np.all(np.abs(mean - copied) > 20 * se), (mean, copied, se)


# ----------------------------------------------------------------------------------------------
# bad input and extremes (issue 16)

EXPLODING = (["0 -> X", "X -> 2 X"], [1.0, 1.0])


def test_histograms_reject_non_integer_and_nan_counts():
    # A cast to int64 once reported 1.5 as state 1 and NaN as state -2**63.
    with pytest.raises(ValueError, match=r"x must hold integer counts in \[0, 2\*\*62\], got 1.5 at index 1"):
        time_weighted_histogram([0.0, 1.0, 3.0], [0, 1.5, 2], t_end=4.0)
    with pytest.raises(ValueError, match=r"x must hold integer counts .*got nan at index 1"):
        event_weighted_histogram([0, math.nan, 2])
    with pytest.raises(ValueError, match=r"x must hold integer counts .*got 1.7 at index 1"):
        event_weighted_histogram([0, 1.7, 2])
    with pytest.raises(ValueError, match=r"x must hold integer counts .*got -1 at index 0"):
        event_weighted_histogram([-1, 1])
    with pytest.raises(TypeError, match=r"t_burn must be a real number, got 'a'"):
        time_weighted_histogram([0.0, 1.0], [1, 2], t_burn="a")
    # Integer-valued floats are counts: dwell 1, 2 and 1 of 4 time units.
    values, probs = time_weighted_histogram([0.0, 1.0, 3.0], [0.0, 1.0, 2.0], t_end=4.0)
    assert values.tolist() == [0, 1, 2] and probs.tolist() == [0.25, 0.5, 0.25]


@pytest.mark.parametrize("backend", BACKENDS)
def test_counts_never_wrap_around_int64(backend):
    birth = ReactionNetwork(["0 -> X"], [1.0])
    with pytest.raises(ValueError, match=r"x0 must hold counts <= MAX_COUNT = 2\*\*62, got 9223372036854775807"):
        ssa(birth, [2**63 - 1], t_max=3.0, n_traj=2, backend=backend)
    with pytest.raises(ValueError, match=r"x0 must hold counts <= MAX_COUNT = 2\*\*62, got 9223372036854775808"):
        ssa(birth, [2**63], t_max=3.0, backend=backend)
    with pytest.raises(G.CountLimitError, match=r"trajectory \d+ would take a count past MAX_COUNT = 2\*\*62 "
                                                r"at time t=.* in state \{'X': 4611686018427387904\}"):
        ssa(birth, [2**62 - 1], t_max=3.0, n_traj=2, backend=backend)
    # Counts at the bound that only fall are exact: every event removes one.
    death = ReactionNetwork(["X -> 0"], [1e-18])
    ens = ssa(death, [2**62], t_max=1.0, n_traj=3, seed=1, backend=backend)
    assert torch.equal(ens.x[:, -1, 0], 2**62 - ens.n_events) and ens.n_events.sum() > 0


def test_trajectory_counts_never_wrap_around_int64():
    with pytest.raises(G.CountLimitError, match=r"trajectory \(seed=0\) would take a count past MAX_COUNT"):
        trajectory(ReactionNetwork(["0 -> X"], [1.0]), [2**62 - 1], t_max=30.0)


def test_rates_reject_bools_and_propensities_reject_negative_counts():
    for rates in ([True], np.array([True]), torch.tensor([True])):
        with pytest.raises(TypeError, match=r"rates must be real numbers \(not bools\)"):
            ReactionNetwork(["A -> B"], rates)
    with pytest.raises(ValueError, match=r"x must hold non-negative counts, got -1 at index \(0,\)"):
        ReactionNetwork(["A -> B"], [1.0]).propensities(torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"'200 A -> B' consumes 200 molecules; at most 170"):
        ReactionNetwork(["200 A -> B"], [1.0])
    with pytest.raises(ValueError, match=r"the coefficient of 'A' must be at most 2\*\*31, got 99999999999"):
        ReactionNetwork(["99999999999 A -> B"], [1.0])


def test_a_zero_rate_gives_a_zero_propensity_even_where_its_factor_overflows():
    net = ReactionNetwork(["100 A -> 0", "0 -> A"], [0.0, 2.0])
    a = net.propensities(torch.tensor([10**17]))
    assert a.tolist() == [0.0, 2.0]
    # with a positive rate the exact value, ~1e1700 / 100!, is beyond float64
    assert ReactionNetwork(["100 A -> 0"], [1.0]).propensities(torch.tensor([10**17])).item() == math.inf


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_overflowing_total_propensity_stops_the_run(backend):
    big = ReactionNetwork(["X -> 0", "0 -> X"], [1e300, 1.0])
    with pytest.raises(G.CountLimitError, match=r"trajectory 0: the total propensity a0 overflowed float64 "
                                                r"at time t=0.0 after 0 event\(s\), in state \{'X': 10000000000\}"):
        ssa(big, [10**10], t_max=1.0, backend=backend)


def test_birth_death_law_validates_its_parameters():
    b = G.birth_death_law
    for args, error, message in [
        ((1.0, -1.0, 0, 1.0, 3), ValueError, r"gamma must be a finite number > 0, got -1.0"),
        ((1.0, 0.0, 0, 1.0, 3), ValueError, r"gamma must be a finite number > 0, got 0.0"),
        ((-1.0, 1.0, 0, 1.0, 3), ValueError, r"k must be a finite number >= 0, got -1.0"),
        ((1.0, 1.0, -1, 1.0, 3), ValueError, r"x0 must be an integer >= 0, got -1"),
        ((1.0, 1.0, 1.5, 1.0, 3), ValueError, r"x0 must be an integer >= 0, got 1.5"),
        ((1.0, 1.0, 0, -1.0, 3), ValueError, r"t must be a finite number >= 0, got -1.0"),
        ((1.0, 1.0, 0, 1.0, -1), ValueError, r"n_max must be an integer >= 0, got -1"),
        (("a", 1.0, 0, 1.0, 3), TypeError, r"k must be a real number, got 'a'"),
    ]:
        with pytest.raises(error, match=message):
            b(*args)
    # Extremes: no time (the point mass at x0), and a wide law convolved by FFT against its moments.
    assert b(5.0, 1.0, 2, 0.0, 4).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    law = b(1e6, 1.0, 10**6, 1.0, 3 * 10**6)
    n, p = np.arange(law.size), math.exp(-1.0)
    mean = n @ law / law.sum()
    assert mean == pytest.approx(10**6, rel=1e-12)  # x0 p + k/gamma (1 - p) = 1e6
    assert ((n - mean) ** 2) @ law / law.sum() == pytest.approx(1e6 * p * (1 - p) + 1e6 * (1 - p), rel=1e-9)


def test_two_stage_moments_and_cme_transient_name_their_parameters():
    with pytest.raises(TypeError, match=r"k_p must be a real number, got 'a'"):
        G.two_stage_moments(20, "a", 1, 1)
    with pytest.raises(TypeError, match=r"t must be a time >= 0 or a sorted 1-D sequence of times, got 'abc'"):
        cme_transient(birth_death(), [0], "abc", [5])
    # Huge equal rates: the exact moments are those of rates 1 (only ratios enter), a0 scaled.
    huge, one = G.two_stage_moments(1e200, 1e200, 1e200, 1e200), G.two_stage_moments(1, 1, 1, 1)
    assert huge.pop("a0_mean") == 4e200 and one.pop("a0_mean") == 4.0 and huge == one


def test_ssa_device_errors_name_the_device():
    with pytest.raises(ValueError, match=r"device must be a torch.device or a name like 'cpu' or 'cuda', got 'foo'"):
        ssa(birth_death(), [0], t_max=1.0, device="foo")


def test_an_exploding_network_stops_at_max_events_on_numba():
    pytest.importorskip("numba")
    net = ReactionNetwork(*EXPLODING)
    message = (r"ssa: trajectory 0 needs more than max_events=10,000,000 events before t_max=30.0: it "
               r"reached time t=.* in state \{'X': 10000000\}")
    with pytest.raises(G.EventLimitError, match=message):
        ssa(net, [0], t_max=30.0, backend="numba")
    with pytest.raises(G.EventLimitError, match=r"trajectory 0 needs more than max_events=10,000,000 events "
                                                r"before t_max=1.0"):
        ssa(ReactionNetwork(["2 X -> 3 X"], [1.0]), [10], t_max=1.0, backend="numba")
    with pytest.raises(G.EventLimitError, match=r"max_events=500 "):
        ssa(net, [0], t_max=30.0, backend="numba", max_events=500)
    # The bound is exact: a path that needs exactly max_events events passes.
    ens = ssa(ReactionNetwork(["X -> 0"], [1.0]), [20], t_max=1e3, n_traj=4, backend="numba", max_events=20)
    assert ens.n_events.tolist() == [20] * 4


def test_the_failing_trajectory_named_does_not_depend_on_the_thread_count():
    numba = pytest.importorskip("numba")
    # Every path explodes, so all 16 fail; the lowest-numbered one is named, whatever the threads.
    net = ReactionNetwork(["X -> 2 X"], [1.0])
    kw = dict(t_max=50.0, n_traj=16, backend="numba", max_events=20_000)
    messages = []
    before = numba.get_num_threads()
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            with pytest.raises(G.EventLimitError) as caught:
                ssa(net, [1], **kw)
            messages.append(str(caught.value))
    finally:
        numba.set_num_threads(before)
    assert messages[0] == messages[1] and "trajectory 0 " in messages[0]


def test_an_exploding_network_stops_at_max_events_on_torch():
    # The exact probe (t_max = 15) would take ~3e6 lock-step steps; its default bound is 10**6
    # steps (minutes on a CPU), so the test names a small bound.
    net = ReactionNetwork(*EXPLODING)
    with pytest.raises(G.EventLimitError, match=r"ssa: trajectory \d needs more than max_events=300 events "
                                                r"before t_max=15.0: it reached time t=.* in state \{'X': 300\}"):
        ssa(net, [0], t_max=15.0, n_traj=2, backend="torch", max_events=300)
    ens = ssa(ReactionNetwork(["X -> 0"], [1.0]), [20], t_max=1e3, n_traj=4, backend="torch", max_events=20)
    assert ens.n_events.tolist() == [20] * 4


def test_trajectory_of_an_exploding_network_keeps_bounded_memory():
    with pytest.raises(G.EventLimitError, match=r"trajectory \(seed=0\) needs more than max_events=100,000 "
                                                r"events before t_max=30.0"):
        trajectory(ReactionNetwork(*EXPLODING), [0], t_max=30.0, max_events=10**5)
    with pytest.raises(ValueError, match=r"n_events must be <= max_events \(100\), got 101"):
        trajectory(birth_death(), [0], n_events=101, max_events=100)
    path = trajectory(ReactionNetwork(["X -> 0"], [1.0]), [20], t_max=1e3, max_events=20)
    assert path.status == "absorbed" and len(path.reaction) == 20


def test_mass_action_ode_stops_on_a_finite_time_blow_up():
    # dx/dt = x^2 / 2 from 10: x = 1 / (1/10 - t/2) blows up at t = 0.2.
    with pytest.raises(G.SimulationLimitError, match=r"amount of 'X' passed MAX_ODE_AMOUNT = 1e\+100 at "
                                                     r"t = 0\.19999"):
        mass_action_ode(ReactionNetwork(["2 X -> 3 X"], [1.0]), [10], [0.0, 1.0])
    t = np.array([0.0, 0.1, 0.19])
    x = mass_action_ode(ReactionNetwork(["2 X -> 3 X"], [1.0]), [10], t)[:, 0]
    np.testing.assert_allclose(x, 1 / (1 / 10 - t / 2), rtol=1e-7)
    with pytest.raises(G.SimulationLimitError, match=r"max_steps=3 solver steps reached at t = "):
        mass_action_ode(birth_death(), [0], [0.0, 1e3], max_steps=3)


@pytest.mark.parametrize("k", [1e3, 1e4, 1e5, 1e6])
def test_cme_transient_time_does_not_grow_with_rate_times_t(k):
    import time

    start = time.perf_counter()
    p = cme_transient(birth_death(k, k), [3], 1.0, [25])
    assert time.perf_counter() - start < 10  # was 1.4 s at k = 1e3 and never ended at 1e6
    # The mass above 25 is below 1e-20 here, so the box's truncation is invisible.
    np.testing.assert_allclose(p, G.birth_death_law(k, k, 3, 1.0, 25), rtol=0, atol=1e-12)


def test_cme_transient_refuses_unbounded_sparse_work():
    with pytest.raises(ValueError, match=r"cme_transient: \|\|Q\|\|_1 t = .* on a box of 18,361 states needs "
                                         r"about .* operations, above MAX_CME_WORK"):
        cme_transient(gene_expression(), [0, 0], 1e4, [60, 300])


def test_a_float32_grid_ending_at_t_max_is_accepted():
    net, grid32 = birth_death(), torch.linspace(0, 0.1, 11, dtype=torch.float32)
    assert grid32[-1].item() > 0.1  # float32(0.1) > 0.1: the trap
    for backend in BACKENDS:
        ens = ssa(net, [0], t_max=0.1, t_grid=grid32, seed=4, backend=backend)
        assert ens.t[-1].item() == 0.1
        again = ssa(net, [0], t_max=0.1, t_grid=grid32.double().clamp_max(0.1), seed=4, backend=backend)
        assert torch.equal(ens.x, again.x)
    # In float64 an excess beyond rounding is still an error, with the hint.
    with pytest.raises(ValueError, match=r"got values from 0.0 to 0.1000001 \(a grid that should end at t_max "
                                         r"but ends above it: build it in float64"):
        ssa(net, [0], t_max=0.1, t_grid=[0.0, 0.1000001])
