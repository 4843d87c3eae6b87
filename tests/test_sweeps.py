"""Chunked ensembles and parameter sweeps in this process (companion.sweeps), and what they rest
on in companion.gillespie: per-trajectory random streams, first_trajectory, per-trajectory rates.

The Dask runs are in test_dask.py. Every bit-identity here is between independent code paths
(one run against chunks of it; a batch against runs of its rows), and every moment is compared
with exact rational arithmetic or a closed form, never with a number this code produced.
"""

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy import stats

from companion import gillespie as G
from companion import sweeps
from companion.gillespie import EventLimitError, ReactionNetwork, ssa

BACKENDS = ["numba", "torch"]


def gene_expression(**rates):
    k = {"k_m": 2.0, "k_p": 5.0, "gamma_m": 1.0, "gamma_p": 0.5} | rates
    return ReactionNetwork(["0 -> M", "M -> M + P", "M -> 0", "P -> 0"], k)


# --- the random streams ------------------------------------------------------------------------

def test_torch_mix64_matches_unsigned_64_bit_arithmetic():
    """int64 tensors with masked shifts give splitmix64's finaliser, as numpy's uint64 computes it."""
    words = np.random.default_rng(0).integers(0, 2**64, 2000, dtype=np.uint64)
    words[:4] = [0, 1, 2**63, 2**64 - 1]
    expected = np.empty_like(words)
    with np.errstate(over="ignore"):
        for i, z in enumerate(words):
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            expected[i] = z ^ (z >> np.uint64(31))
    got = G._torch_mix64(torch.from_numpy(words.view(np.int64))).numpy().view(np.uint64)
    np.testing.assert_array_equal(got, expected)


def test_torch_uniforms_are_uniform_and_independent_across_streams_and_draws():
    keys = G._torch_keys(12345, torch.arange(50_000))
    u = G._torch_uniforms(keys, torch.zeros(50_000, dtype=torch.int64))
    v = G._torch_uniforms(keys, torch.ones(50_000, dtype=torch.int64))
    assert u.dtype == torch.float64 and float(u.min()) >= 0 and float(u.max()) < 1
    for sample in (u[0], u[1], v[0]):
        assert stats.kstest(sample.numpy(), "uniform").pvalue > 1e-4
    # Draws of one stream, and the same draw of neighbouring streams, are uncorrelated.
    for a, b in ((u[0], u[1]), (u[0], v[0]), (u[0, :-1], u[0, 1:])):
        assert abs(np.corrcoef(a.numpy(), b.numpy())[0, 1]) < 5 / math.sqrt(len(a))
    # A different seed gives different streams.
    other = G._torch_uniforms(G._torch_keys(12346, torch.arange(50_000)), torch.zeros(50_000, dtype=torch.int64))
    assert not torch.equal(other, u)


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_with_first_trajectory_concatenate_to_one_run(backend):
    net = gene_expression()
    full = ssa(net, [0, 0], t_max=4.0, n_traj=301, seed=7, backend=backend)
    parts = [ssa(net, [0, 0], t_max=4.0, n_traj=min(64, 301 - k), seed=7, backend=backend,
                 first_trajectory=k) for k in range(0, 301, 64)]
    assert torch.equal(torch.cat([p.x for p in parts]), full.x)
    assert torch.equal(torch.cat([p.n_events for p in parts]), full.n_events)


def test_a_torch_trajectory_does_not_depend_on_its_batch():
    """Rows finish at different times and are compacted away: trajectory 5 is the same alone."""
    net = gene_expression()
    batch = ssa(net, [0, 0], t_max=6.0, n_traj=200, seed=1, backend="torch")
    alone = ssa(net, [0, 0], t_max=6.0, n_traj=1, seed=1, backend="torch", first_trajectory=5)
    assert torch.equal(alone.x[0], batch.x[5])


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_trajectory_rates_equal_one_run_per_row(backend):
    net = gene_expression()
    rows = torch.tensor([[2.0, 5.0, 1.0, 0.5], [1.0, 20.0, 2.0, 0.5], [0.0, 5.0, 1.0, 0.25]] * 4)
    batch = ssa(net, [1, 3], t_max=3.0, n_traj=12, seed=4, rates=rows, backend=backend)
    for i in range(12):
        one = ssa(net, [1, 3], t_max=3.0, n_traj=1, seed=4, rates=rows[i], first_trajectory=i,
                  backend=backend)
        assert torch.equal(one.x[0], batch.x[i]), i
    # k_m = 0 and M = 1 at the start: M never rises above 1 in rows 2, 5, 8, 11.
    assert int(batch.counts("M")[2::3].max()) <= 1


@pytest.mark.parametrize("bad, error, match", [
    (torch.ones(3, 4), ValueError, r"shape \[4\] or \[n_traj, 4\] = \[5, 4\]"),
    (torch.ones(5, 3), ValueError, r"got shape \[5, 3\]"),
    (torch.ones(5, 4, dtype=torch.bool), TypeError, "real numbers"),
    (torch.tensor([[1.0, 1.0, 1.0, -1.0]] * 5), ValueError, "trajectory 0, reaction 'P -> 0'"),
    (torch.tensor([[1.0, 1.0, 1.0, 1.0]] * 4 + [[1.0, math.nan, 1.0, 1.0]]), ValueError, "trajectory 4"),
    ([1.0, 2.0], ValueError, "one value per reaction"),
])
def test_bad_per_trajectory_rates_are_refused(bad, error, match):
    with pytest.raises(error, match=match):
        ssa(gene_expression(), [0, 0], t_max=1.0, n_traj=5, rates=bad)


@pytest.mark.parametrize("first, match", [(-1, "first_trajectory must be an integer >= 0"),
                                          (1.5, "first_trajectory"), (2**63, "at most 2\\*\\*63")])
def test_bad_first_trajectory_is_refused(first, match):
    with pytest.raises(ValueError, match=match):
        ssa(gene_expression(), [0, 0], t_max=1.0, n_traj=2, first_trajectory=first)


def test_errors_name_the_global_trajectory():
    net = ReactionNetwork(["0 -> X", "X -> 2 X"], [1.0, 1.0])
    for backend in BACKENDS:
        with pytest.raises(EventLimitError, match="trajectory 100[^0-9]"):
            ssa(net, [5], t_max=50.0, n_traj=3, first_trajectory=100, max_events=200, backend=backend)


# --- named rates ---------------------------------------------------------------------------------

def test_rates_given_as_a_dict_are_named_in_reaction_order():
    net = gene_expression()
    assert net.rate_names == ("k_m", "k_p", "gamma_m", "gamma_p")
    assert net.rates.tolist() == [2.0, 5.0, 1.0, 0.5]
    assert "k_p = 5" in repr(net)
    assert ReactionNetwork(["0 -> A", "A -> 0"], [1.0, 2.0]).rate_names == ("k0", "k1")
    with pytest.raises(ValueError, match="rate names must be identifiers, got 'k m'"):
        ReactionNetwork(["0 -> A"], {"k m": 1.0})
    with pytest.raises(ValueError, match="one value per reaction"):
        ReactionNetwork(["0 -> A", "A -> 0"], {"k": 1.0})


# --- grid ---------------------------------------------------------------------------------------

def test_grid_is_the_cartesian_product_first_axis_slowest():
    points = sweeps.grid(a=[1, 2], b=[10.0, 20.0, 30.0])
    assert points["a"].tolist() == [1, 1, 1, 2, 2, 2]
    assert points["b"].tolist() == [10.0, 20.0, 30.0] * 2


@pytest.mark.parametrize("axes, match", [
    ({}, "at least one axis"), ({"a": []}, "at least one value"), ({"a": 3}, "1-D sequence"),
    ({"a": [[1, 2]]}, "1-D sequence"), ({"a": "12"}, "1-D sequence"), ({"a": [True]}, "real numbers"),
])
def test_grid_refuses_bad_axes(axes, match):
    with pytest.raises(ValueError, match=match):
        sweeps.grid(**axes)


# --- sweep -------------------------------------------------------------------------------------

def _exact_moments(x: np.ndarray):
    """Mean and unbiased variance over axis 0, by Fractions: the correctly rounded values."""
    n = len(x)
    flat = x.reshape(n, -1)
    mean, var = [], []
    for column in flat.T:
        values = [int(v) for v in column]
        m = Fraction(sum(values), n)
        mean.append(float(m))
        var.append(float(sum((v - m) ** 2 for v in values) / (n - 1)))
    return np.array(mean).reshape(x.shape[1:]), np.array(var).reshape(x.shape[1:])


@pytest.mark.parametrize("backend", BACKENDS)
def test_sweep_points_are_the_ssa_runs_of_their_parameters_exactly(backend):
    net = gene_expression()
    points = sweeps.grid(k_p=[2.0, 8.0], M=[0, 3])
    result = sweeps.sweep(net, points, [0, 1], t_max=3.0, n_traj=150, seed=9, t_grid=[0.0, 1.5, 3.0],
                          backend=backend, chunk_size=41, progress_bar=False)
    assert len(result) == 4 and result.t.tolist() == [0.0, 1.5, 3.0]
    for p in range(4):
        rates = [2.0, points["k_p"][p], 1.0, 0.5]
        ens = ssa(net, [int(points["M"][p]), 1], t_max=3.0, n_traj=150, seed=9, t_grid=[0.0, 1.5, 3.0],
                  rates=rates, backend=backend)
        mean, var = _exact_moments(ens.x.numpy())
        np.testing.assert_array_equal(result.mean[p], mean)
        np.testing.assert_array_equal(result.var[p], var)
        assert result.mean_events[p] == float(Fraction(int(ens.n_events.sum()), 150))
    # t = 0 is the initial state: M as swept, P = 1, no spread.
    assert result.mean[:, 0, 0].tolist() == [0.0, 3.0, 0.0, 3.0] and result.var[:, 0].max() == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_sweep_does_not_depend_on_the_chunk_size(backend):
    net = gene_expression()
    points = sweeps.grid(gamma_m=[0.5, 2.0], gamma_p=[0.5, 1.0])
    kw = dict(t_max=2.0, n_traj=97, seed=2, t_grid=[1.0, 2.0], backend=backend, progress_bar=False)
    runs = [sweeps.sweep(net, points, [0, 0], chunk_size=c, **kw) for c in (1000, 13, 50)]
    for other in runs[1:]:
        assert (other.sums == runs[0].sums).all() and (other.events == runs[0].events).all()
        np.testing.assert_array_equal(other.var, runs[0].var)


def test_the_torch_batch_and_the_numba_loop_agree_in_law():
    """Two backends with different random streams: the same moments within their errors."""
    net = gene_expression()
    points = {"k_p": [3.0, 12.0]}
    kw = dict(t_max=15.0, n_traj=3000, seed=5, t_grid=[15.0], progress_bar=False)
    a = sweeps.sweep(net, points, [0, 0], backend="numba", **kw)
    b = sweeps.sweep(net, points, [0, 0], backend="torch", **kw)
    z = (a.mean - b.mean) / np.sqrt(a.sem ** 2 + b.sem ** 2)
    assert np.abs(z).max() < 4.5


def test_fano_factor_and_its_error_against_closed_forms():
    """Birth-death at stationarity is Poisson: F = 1 with se sqrt(2/n). Two-stage gene
    expression: F_P = 1 + k_p/(gamma_m + gamma_p) (two_stage_moments)."""
    n = 4000
    bd = ReactionNetwork(["0 -> X", "X -> 0"], {"k": 30.0, "gamma": 1.0})
    result = sweeps.sweep(bd, {"k": [5.0, 30.0]}, [0], t_max=20.0, n_traj=n, seed=3, t_grid=[20.0],
                          progress_bar=False)
    fano, se = result.fano("X")
    np.testing.assert_allclose(se[:, -1], math.sqrt(2 / n), rtol=0.15)
    assert np.all(np.abs(fano[:, -1] - 1) < 4 * se[:, -1])

    net = gene_expression()
    points = sweeps.grid(k_p=[2.0, 10.0], gamma_m=[0.5, 2.0])
    result = sweeps.sweep(net, points, [0, 0], t_max=30.0, n_traj=n, seed=8, t_grid=[30.0],
                          progress_bar=False)
    fano, se = result.fano("P")
    for p in range(len(result)):
        theory = G.two_stage_moments(2.0, points["k_p"][p], points["gamma_m"][p], 0.5)["fano"]
        assert abs(fano[p, -1] - theory) < 4 * se[p, -1], (p, fano[p, -1], se[p, -1], theory)


def test_power_sums_stay_exact_past_int64():
    """Counts near 2**40: x**4 overflows int64, so the sums switch to Python integers."""
    x = np.array([[2**40 + 1], [2**40 + 3], [7]], dtype=np.int64)
    sums = sweeps._power_sums(x)
    for p in range(1, 5):
        assert sums[p - 1, 0] == sum(int(v) ** p for v in x[:, 0])


def test_ensemble_in_chunks_equals_one_ssa_run():
    net = gene_expression()
    for backend in BACKENDS:
        a = sweeps.ensemble(net, {"M": 2}, t_max=2.0, n_traj=53, seed=11, backend=backend, chunk_size=10,
                            progress_bar=False)
        b = ssa(net, {"M": 2}, t_max=2.0, n_traj=53, seed=11, backend=backend)
        assert torch.equal(a.x, b.x) and torch.equal(a.n_events, b.n_events) and torch.equal(a.t, b.t)


def test_a_limit_error_in_a_sweep_names_the_point_and_trajectory():
    net = ReactionNetwork(["0 -> X", "X -> 2 X"], {"k": 1.0, "growth": 0.0})
    with pytest.raises(EventLimitError, match=r"sweep point 1 \(growth=3\.0\), trajectory 0"):
        sweeps.sweep(net, {"growth": [0.0, 3.0]}, [1], t_max=20.0, n_traj=4, max_events=500,
                     progress_bar=False)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(params=[1, 2]), TypeError, "params must be a non-empty dict"),
    (dict(params={}), TypeError, "params must be a non-empty dict"),
    (dict(params={"k_q": [1.0]}), ValueError, "unknown parameter 'k_q'.*k_m, k_p, gamma_m, gamma_p.*M, P"),
    (dict(params={"k_p": [1.0, 2.0], "gamma_m": [1.0]}), ValueError, "same length.*'k_p': 2, 'gamma_m': 1"),
    (dict(params={"k_p": [1.0, -2.0]}), ValueError, r"params\['k_p'\]\[1\] must be a finite number >= 0"),
    (dict(params={"k_p": [math.inf]}), ValueError, r"params\['k_p'\]\[0\]"),
    (dict(params={"M": [1.5]}), ValueError, r"params\['M'\]\[0\] must be an initial count"),
    (dict(params={"M": [-1]}), ValueError, r"params\['M'\]\[0\] must be an initial count"),
    (dict(params={"k_p": 3.0}), ValueError, "1-D sequence"),
    (dict(chunk_size=0), ValueError, "chunk_size must be an integer >= 1, got 0"),
    (dict(chunk_size=-5), ValueError, "chunk_size must be an integer >= 1, got -5"),
    (dict(n_traj=0), ValueError, "n_traj must be an integer >= 1"),
    (dict(timeout=0), ValueError, "timeout must be a finite number > 0"),
    (dict(backend="gpu"), ValueError, "unknown backend 'gpu'; known: 'auto', 'torch', 'numba'"),
    (dict(client=42), TypeError, "client must be a distributed.Client, a scheduler address or None, got int"),
])
def test_sweep_refuses_bad_input_naming_it(kwargs, error, match):
    args = dict(params={"k_p": [1.0]}, t_max=1.0, n_traj=3, progress_bar=False) | kwargs
    with pytest.raises(error, match=match):
        sweeps.sweep(gene_expression(), x0=[0, 0], **args)


def test_a_name_that_is_both_a_rate_and_a_species_is_refused():
    net = ReactionNetwork(["0 -> k", "k -> 0"], {"k": 1.0, "g": 1.0})
    with pytest.raises(ValueError, match="both a rate name and a species"):
        sweeps.sweep(net, {"k": [1.0]}, [0], t_max=1.0, n_traj=2, progress_bar=False)


def test_dask_is_imported_only_when_a_client_is_passed():
    code = ("import sys\nfrom companion import sweeps\nfrom companion.gillespie import ReactionNetwork\n"
            "net = ReactionNetwork(['0 -> A', 'A -> 0'], {'k': 1.0, 'g': 1.0})\n"
            "sweeps.sweep(net, {'k': [1.0, 2.0]}, [0], t_max=1.0, n_traj=5, progress_bar=False)\n"
            "sweeps.ensemble(net, [0], t_max=1.0, n_traj=5, progress_bar=False)\n"
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_dask_missing_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"kexue-companion\[distributed\]"):
        sweeps.sweep(gene_expression(), {"k_p": [1.0]}, [0, 0], t_max=1.0, n_traj=2, client=object(),
                     progress_bar=False)
    with pytest.raises(ImportError, match=r"kexue-companion\[distributed\]"):
        sweeps.connect("tcp://127.0.0.1:1")


def test_numba_compiles_once_when_threads_start_together():
    """A Dask worker with several threads starts its first tasks at once: the lazy compilation
    must wrap the kernels once (seen failing: 'A jit decorator was called on an already jitted
    function'). Run in a fresh process, where nothing is compiled yet."""
    pytest.importorskip("numba")
    code = ("import threading\nfrom companion import gillespie as G\n"
            "net = G.ReactionNetwork(['0 -> A', 'A -> 0'], [5.0, 1.0])\n"
            "barrier, errors = threading.Barrier(4), []\n"
            "def run():\n    barrier.wait()\n    try:\n"
            "        G.ssa(net, [0], t_max=1.0, n_traj=8, backend='numba')\n"
            "    except Exception as error:\n        errors.append(repr(error))\n"
            "threads = [threading.Thread(target=run) for _ in range(4)]\n"
            "[t.start() for t in threads]\n[t.join() for t in threads]\n"
            "assert not errors, errors\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
