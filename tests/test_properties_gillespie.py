"""Properties of companion.gillespie on generated input (hypothesis, the bounded profile of conftest).

For each public kernel: generated bad arguments raise the documented exception naming the
parameter, and generated valid ones give finite results with the kernel's identities, checked
against closed forms, scipy or brute force.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from companion import gillespie as G
from companion.gillespie import ReactionNetwork

BACKENDS = ["torch", "numba"]
if not G.numba_available():
    BACKENDS = ["torch"]

not_positive = st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.just(-math.inf))
not_real = st.one_of(st.text(max_size=3), st.none(), st.lists(st.floats(), max_size=2))
not_count = st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True).filter(lambda v: v != int(v)
                                                                                  if math.isfinite(v) else True))
rate = st.floats(min_value=1e-3, max_value=1e3)


def birth_death(k, gamma):
    return ReactionNetwork(["0 -> X", "X -> 0"], [k, gamma])


# ------------------------------------------------------------------------------ ReactionNetwork

@given(st.one_of(not_positive.filter(lambda v: not v == 0.0), st.booleans(), st.text(min_size=1, max_size=3)))
def test_network_rejects_bad_rates_naming_them(value):
    error = TypeError if isinstance(value, (bool, str)) else ValueError
    with pytest.raises(error, match=r"^rates must be"):
        ReactionNetwork(["A -> B"], [value])


@given(st.lists(st.integers(0, 3), min_size=2, max_size=2), st.lists(st.integers(0, 3), min_size=2, max_size=2),
       rate, st.lists(st.integers(0, 40), min_size=2, max_size=2))
def test_propensities_are_k_times_binomials(left, right, k, x):
    terms = lambda side: " + ".join(f"{c} {n}" for c, n in zip(side, "AB") if c) or "0"  # noqa: E731
    net = ReactionNetwork([f"{terms(left)} -> {terms(right)}"], [k], species=["A", "B"])
    a = net.propensities(torch.tensor(x)).item()
    assert a == pytest.approx(k * math.comb(x[0], left[0]) * math.comb(x[1], left[1]), rel=1e-12, abs=0)
    assert net.change.tolist() == [[r - lf for lf, r in zip(left, right)]]


@given(st.lists(st.integers(-5, 5), min_size=2, max_size=2).filter(lambda x: min(x) < 0))
def test_propensities_reject_negative_counts(x):
    with pytest.raises(ValueError, match=r"^x must hold non-negative counts, got -\d at index"):
        ReactionNetwork(["A + B -> 0"], [1.0]).propensities(torch.tensor(x))


# ----------------------------------------------------------------------------------- ssa

@given(st.sampled_from(BACKENDS), st.sampled_from(["t_max", "n_traj", "seed", "max_events", "x0"]),
       st.one_of(not_positive, not_real, st.just(-1), st.just(2.5)))
def test_ssa_rejects_bad_arguments_naming_them(backend, name, value):
    kwargs = dict(t_max=1.0, n_traj=2, seed=0, max_events=100)
    x0 = [1, 1]
    if name == "x0":
        x0 = [value, 1]
    else:
        kwargs[name] = value
    if (name == "max_events" and value is None) or (name == "x0" and value == 0) or (name == "t_max" and value == 2.5):
        return  # valid: None is max_events' documented default, 0 a count, 2.5 a time
    net = ReactionNetwork(["A -> B", "B -> A"], [1.0, 1.0])
    with pytest.raises((TypeError, ValueError), match=rf"^{name} must"):
        G.ssa(net, x0, backend=backend, **kwargs)


@given(st.sampled_from(BACKENDS), st.integers(0, 30), st.integers(0, 30), st.floats(1e-3, 1.0),
       st.floats(1e-3, 1.0), st.integers(0, 2**63 - 1))
def test_ssa_conserves_a_plus_b_and_starts_at_x0(backend, a, b, k1, k2, seed):
    net = ReactionNetwork(["A -> B", "B -> A"], [k1, k2])  # at most ~60 events: torch steps are slow
    ens = G.ssa(net, [a, b], t_max=1.0, n_traj=3, seed=seed, t_grid=[0.0, 0.5, 1.0], backend=backend)
    assert (ens.x.sum(-1) == a + b).all() and (ens.x >= 0).all()
    assert (ens.x[:, 0] == torch.tensor([a, b])).all() and (ens.n_events >= 0).all()
    again = G.ssa(net, [a, b], t_max=1.0, n_traj=3, seed=seed, t_grid=[0.0, 0.5, 1.0], backend=backend)
    assert torch.equal(ens.x, again.x)


# ----------------------------------------------------------------------------------- trajectory

@given(st.sampled_from(["t_max", "n_events", "seed", "max_events"]),
       st.one_of(not_positive, not_real.filter(lambda v: v is not None), st.just(-1), st.just(2.5)))
def test_trajectory_rejects_bad_arguments_naming_them(name, value):
    if name == "t_max" and value == 2.5:
        return  # a valid time
    kwargs = dict(t_max=1.0, seed=0)
    kwargs[name] = value
    with pytest.raises((TypeError, ValueError), match=rf"^{name} must"):
        G.trajectory(birth_death(5.0, 1.0), [0], **kwargs)


@given(st.integers(0, 20), st.integers(0, 20), rate, rate, st.integers(0, 1000))
def test_trajectory_steps_by_the_fired_reactions(m, n, k1, k2, seed):
    net = ReactionNetwork(["0 -> m", "m -> m + n", "m -> 0", "n -> 0"], [k1, k2, 1.0, 1.0])
    path = G.trajectory(net, [m, n], n_events=200, seed=seed)
    assert path.t[0] == 0 and (np.diff(path.t) >= 0).all() and np.isfinite(path.t).all()
    assert (np.diff(path.x, axis=0) == net.change.numpy()[path.reaction]).all()
    assert (path.x >= 0).all() and path.x[0].tolist() == [m, n]


# ----------------------------------------------------------------------------------- histograms

@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12), st.data())
def test_time_weighted_histogram_is_the_dwell_time_share(gaps, data):
    t = np.concatenate([[0.0], np.cumsum(gaps)])
    x = np.array(data.draw(st.lists(st.integers(0, 4), min_size=t.size, max_size=t.size)))
    t_end = float(t[-1]) + 1.0
    values, probs = G.time_weighted_histogram(t, x, t_end=t_end)
    dwell = np.diff(np.append(t, t_end))
    brute = {v: dwell[x == v].sum() / dwell.sum() for v in np.unique(x) if dwell[x == v].sum() > 0}
    assert values.tolist() == sorted(brute) and np.allclose(probs, [brute[v] for v in values], rtol=1e-12)
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_event_weighted_histogram_counts_each_state(x):
    values, probs = G.event_weighted_histogram(x)
    assert {v: p for v, p in zip(values.tolist(), probs.tolist())} == pytest.approx(
        {v: x.count(v) / len(x) for v in set(x)}, rel=1e-12)


@given(st.sampled_from(["time", "event"]), not_count)
def test_histograms_reject_non_counts_naming_x(which, bad):
    x = [1, bad, 2]
    with pytest.raises(ValueError, match=r"^x must hold integer counts in \[0, 2\*\*62\], got .* at index 1"):
        if which == "time":
            G.time_weighted_histogram([0.0, 1.0, 2.0], x, t_end=3.0)
        else:
            G.event_weighted_histogram(x)


@given(st.one_of(not_real.filter(lambda v: v is not None), st.just(math.nan), st.just(math.inf)))
def test_time_weighted_histogram_rejects_a_bad_t_burn(value):
    with pytest.raises((TypeError, ValueError), match=r"^t_burn must be"):
        G.time_weighted_histogram([0.0, 1.0], [1, 2], t_burn=value)


# ----------------------------------------------------------------------------------- batch means

@given(st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=40), st.integers(2, 4))
def test_batch_means_mean_is_the_average(values, n_batches):
    mean, se = G.batch_means(values, n_batches=n_batches)
    assert mean == pytest.approx(float(np.mean(values)), rel=1e-9, abs=1e-6) and se >= 0 and math.isfinite(se)


@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_batch_means_rejects_non_finite_values(bad):
    with pytest.raises(ValueError, match=r"^values must be finite"):
        G.batch_means([1.0, bad, 2.0], n_batches=2)


# ----------------------------------------------------------------------------------- the CME

@given(rate, rate, st.integers(1, 30))
def test_cme_generator_columns_sum_to_zero(k, gamma, m):
    Q = G.cme_generator(birth_death(k, gamma), [m]).toarray()
    assert np.abs(Q.sum(0)).max() <= 1e-12 * np.abs(Q).max()
    assert (Q - np.diag(np.diag(Q)) >= 0).all()


@given(st.one_of(st.integers(max_value=-1), st.floats(0.5, 1.5).filter(lambda v: v != 1.0), st.just(math.nan),
                 st.text(min_size=1, max_size=2), st.just([1, 2]), st.just([[1]]), st.integers(2_000_000, 2**70)))
def test_cme_functions_reject_a_bad_box_naming_max_counts(value):
    box = value if isinstance(value, list) else [value]
    with pytest.raises((TypeError, ValueError), match=r"^max_counts"):
        G.cme_generator(birth_death(1.0, 1.0), box)
    with pytest.raises((TypeError, ValueError), match=r"^max_counts"):
        G.cme_stationary(birth_death(1.0, 1.0), box)


@given(rate, rate, st.integers(5, 40))
def test_cme_stationary_of_birth_death_is_the_truncated_poisson(k, gamma, m):
    # Detailed balance holds in the reflecting box, so the law is Poisson(k/gamma) cut and renormalised.
    p = G.cme_stationary(birth_death(k, gamma), [m])
    n = np.arange(m + 1)
    log_pmf = n * math.log(k / gamma) - np.array([math.lgamma(v + 1) for v in n])  # log-space: no underflow
    law = np.exp(log_pmf - log_pmf.max())
    np.testing.assert_allclose(p, law / law.sum(), rtol=0, atol=1e-9)


@given(st.floats(0.1, 20.0), st.floats(0.1, 5.0), st.integers(0, 20), st.floats(0.0, 3.0))
def test_cme_transient_of_birth_death_is_the_exact_law(k, gamma, x0, t):
    m = int(x0 + k / gamma + 12 * math.sqrt(k / gamma + x0 + 1) + 20)
    p = G.cme_transient(birth_death(k, gamma), [x0], t, [m])
    np.testing.assert_allclose(p, G.birth_death_law(k, gamma, x0, t, m), rtol=0, atol=1e-9)


@given(st.one_of(st.floats(max_value=-1e-9), st.just(math.nan), st.just(math.inf), st.text(min_size=1, max_size=3),
                 st.just([1.0, 0.5])))
def test_cme_transient_rejects_bad_times_naming_t(value):
    with pytest.raises((TypeError, ValueError), match=r"^t must"):
        G.cme_transient(birth_death(1.0, 1.0), [0], value, [5])


@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8).filter(lambda v: sum(v) > 0), rate, rate)
def test_jump_chain_law_is_pi_times_a0_normalised(law, k, gamma):
    q = G.jump_chain_law(birth_death(k, gamma), law)
    a0 = k + gamma * np.arange(len(law))
    ref = np.array(law) * a0
    np.testing.assert_allclose(q, ref / ref.sum(), rtol=1e-12)


@given(st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=5).filter(lambda v: min(v) < 0))
def test_jump_chain_law_rejects_negative_laws(law):
    with pytest.raises(ValueError, match=r"^law must be"):
        G.jump_chain_law(birth_death(1.0, 1.0), law)


# ----------------------------------------------------------------------------------- ODE and theory

@given(rate, rate, st.integers(0, 100), st.lists(st.floats(0.0, 5.0), min_size=1, max_size=5))
def test_mass_action_ode_of_birth_death_is_the_closed_form(k, gamma, x0, times):
    times = np.sort(times)
    x = G.mass_action_ode(birth_death(k, gamma), [x0], times)[:, 0]
    exact = k / gamma + (x0 - k / gamma) * np.exp(-gamma * times)
    np.testing.assert_allclose(x, exact, rtol=1e-6, atol=1e-8 * max(1.0, x0, k / gamma))


@given(st.one_of(st.just([1.0, 0.5]), st.just([-1.0]), st.just([]), st.just([math.nan]),
                 st.text(min_size=1, max_size=3)))
def test_mass_action_ode_rejects_bad_grids_naming_t_grid(value):
    with pytest.raises((TypeError, ValueError), match=r"^t_grid must"):
        G.mass_action_ode(birth_death(1.0, 1.0), [0], value)


@given(rate, rate, rate, rate, st.floats(1e-100, 1e100))
def test_two_stage_moments_identities_and_scale_invariance(k_m, k_p, g_m, g_p, c):
    m = G.two_stage_moments(k_m, k_p, g_m, g_p)
    assert all(math.isfinite(v) for v in m.values())
    assert m["m_mean"] == m["m_var"] and m["n_var"] == pytest.approx(m["fano"] * m["n_mean"], rel=1e-12)
    # Counting per event over-weights busy states, and a0 grows with both counts.
    assert m["m_mean_event"] >= m["m_mean"] and m["n_mean_event"] >= m["n_mean"]
    scaled = G.two_stage_moments(c * k_m, c * k_p, c * g_m, c * g_p)
    for key in ("m_mean", "n_mean", "n_var", "cov", "m_mean_event", "n_mean_event"):
        assert scaled[key] == pytest.approx(m[key], rel=1e-9)


@given(st.sampled_from(["k_m", "k_p", "gamma_m", "gamma_p"]), st.one_of(not_positive, not_real))
def test_two_stage_moments_rejects_bad_rates_naming_them(name, value):
    rates = dict(k_m=1.0, k_p=1.0, gamma_m=1.0, gamma_p=1.0)
    rates[name] = value
    with pytest.raises((TypeError, ValueError), match=rf"^{name} must be"):
        G.two_stage_moments(**rates)


@given(st.floats(0.0, 50.0), st.floats(0.01, 10.0), st.integers(0, 50), st.floats(0.0, 10.0))
def test_birth_death_law_has_the_exact_mean(k, gamma, x0, t):
    n_max = int(x0 + k / gamma + 15 * math.sqrt(x0 + k / gamma + 1) + 30)
    law = G.birth_death_law(k, gamma, x0, t, n_max)
    assert (law >= 0).all() and law.sum() == pytest.approx(1.0, abs=1e-9)
    survive = math.exp(-gamma * t)
    assert np.arange(n_max + 1) @ law == pytest.approx(x0 * survive + k / gamma * (1 - survive), rel=1e-8, abs=1e-10)


@given(st.sampled_from(["k", "gamma", "x0", "t", "n_max"]),
       st.one_of(st.just(-1), st.just(-0.5), st.just(math.nan), st.just(math.inf), st.text(min_size=1, max_size=2)))
def test_birth_death_law_rejects_bad_parameters_naming_them(name, value):
    args = dict(k=1.0, gamma=1.0, x0=0, t=1.0, n_max=3)
    args[name] = value
    with pytest.raises((TypeError, ValueError), match=rf"^{name} must be"):
        G.birth_death_law(**args)


@given(st.one_of(st.integers(max_value=1), st.floats(1.5, 2.5)))
def test_compare_weightings_rejects_bad_path_counts(n_paths):
    with pytest.raises(ValueError, match=r"^n_paths must"):
        G.compare_weightings(birth_death(1.0, 1.0), [0], "X", n_events=10, n_paths=n_paths)


def test_numba_available_is_a_bool():
    assert isinstance(G.numba_available(), bool)
