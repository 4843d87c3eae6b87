"""Property tests for companion.focal (issue 16): generated bad input raises the documented error
naming the parameter; generated valid input gives finite results with the kernels' identities,
checked against float64 NumPy/SciPy/scikit-learn references written here.

Examples are bounded and derandomised by the profile in tests/conftest.py.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from companion import focal as FO
from companion.focal import (
    average_precision, fit, focal_bce, focal_ce, focal_star_bce, focal_star_ce, hard_truncated_bce,
    hard_truncated_ce, imbalanced_moons, loss_share, mlp, soft_truncated_bce, soft_truncated_ce,
)

BINARY = [hard_truncated_bce, soft_truncated_bce, focal_bce, focal_star_bce]
MULTI = [hard_truncated_ce, soft_truncated_ce, focal_ce, focal_star_ce]

not_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_number = st.one_of(st.text(max_size=2), st.none(), st.just([0.5]))
bad_seed = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63), st.floats(), st.text(max_size=2))
seeds = st.integers(0, 2**31)
logit_lists = st.lists(st.floats(-60, 60, allow_nan=False), min_size=1, max_size=8)


def raises(error, name):
    """pytest.raises for ``error`` whose message names ``name``."""
    return pytest.raises(error, match=rf"(?<![\w]){name}(?![\w])")


def error_for(value):
    return TypeError if isinstance(value, bool) or not isinstance(value, (int, float)) else ValueError


def binary_batch(xs, seed):
    x = torch.tensor(xs, dtype=torch.float64)
    y = (torch.rand(len(xs), generator=torch.Generator().manual_seed(seed)) < 0.5).double()
    return x, y


def log_sigmoid(z):
    return -np.logaddexp(0.0, -z)     # float64 reference


# ------------------------------------------------------------------------------------ bad input

# (loss, parameter, a strategy of values it must reject)
BAD_PARAMETERS = [
    (focal_bce, "gamma", st.one_of(st.floats(max_value=-1e-9, allow_nan=False), not_finite, not_a_number)),
    (focal_bce, "alpha", st.one_of(st.floats(1.0001, 1e9), st.floats(max_value=-1e-9, allow_nan=False), not_finite)),
    (soft_truncated_bce, "K", st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite, not_a_number)),
    (hard_truncated_bce, "m", st.one_of(st.floats(max_value=0.4999), st.floats(min_value=1.0), not_finite)),
    (soft_truncated_bce, "m", st.one_of(st.floats(max_value=0.4999), st.floats(min_value=1.0), not_finite)),
    (focal_star_bce, "gamma", st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite, not_a_number)),
    (focal_star_bce, "beta", st.one_of(not_finite, not_a_number)),
    (focal_ce, "gamma", st.one_of(st.floats(max_value=-1e-9, allow_nan=False), not_finite)),
    (hard_truncated_ce, "m", st.one_of(st.floats(max_value=0.4999), st.floats(min_value=1.0), not_finite)),
    (soft_truncated_ce, "K", st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite)),
    (focal_star_ce, "gamma", st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite)),
]


@pytest.mark.parametrize("loss,name,values", BAD_PARAMETERS, ids=[f"{f.__name__}-{n}" for f, n, _ in BAD_PARAMETERS])
@given(data=st.data())
def test_losses_reject_bad_parameters(loss, name, values, data):
    value = data.draw(values)
    multi = loss in MULTI
    x = torch.zeros(3, 2) if multi else torch.zeros(3)
    y = torch.zeros(3, dtype=torch.int64) if multi else torch.zeros(3)
    with raises(error_for(value), name):
        loss(x, y, **{name: value})


@given(st.lists(st.floats(-3, 3).filter(lambda v: v not in (0.0, 1.0)), min_size=1, max_size=4),
       st.sampled_from(BINARY))
def test_binary_losses_reject_labels_that_are_not_0_or_1(labels, loss):
    y = torch.tensor(labels, dtype=torch.float64)
    with raises(ValueError, "target"):
        loss(torch.zeros_like(y), y)


@given(st.lists(st.integers(-5, 8), min_size=1, max_size=4).filter(lambda t: min(t) < 0 or max(t) >= 3),
       st.sampled_from(MULTI))
def test_multiclass_losses_reject_class_ids_out_of_range(ids, loss):
    with raises(ValueError, "target"):
        loss(torch.zeros(len(ids), 3), torch.tensor(ids))


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=4), st.integers(0, 3), st.sampled_from(BINARY + MULTI))
def test_losses_reject_non_finite_logits_when_validating(xs, where, loss):
    x = torch.tensor(xs)
    x[where % len(xs)] = math.nan
    if loss in MULTI:
        x, y = x[:, None].repeat(1, 2), torch.zeros(len(xs), dtype=torch.int64)
    else:
        y = torch.zeros(len(xs))
    with raises(ValueError, "logits"):
        loss(x, y)
    assert math.isnan(loss(x, y, validate=False).item())     # documented: NaN propagates


@given(st.one_of(
    st.tuples(st.just("n_pos"), st.one_of(st.integers(max_value=0), st.floats(0.1, 5).filter(lambda v: v != int(v)))),
    st.tuples(st.just("imbalance"), st.one_of(st.floats(max_value=0.999), not_finite)),
    st.tuples(st.just("noise"), st.one_of(st.floats(max_value=-1e-9), not_finite)),
    st.tuples(st.just("seed"), bad_seed),
    st.tuples(st.just("n_pos"), st.integers(10_000_000, 10**12))))
def test_imbalanced_moons_rejects_bad_arguments(case):
    name, value = case
    kwargs = {"n_pos": 2, "imbalance": 2.0, "seed": 0, name: value}
    with raises(ValueError, name):
        imbalanced_moons(kwargs.pop("n_pos"), kwargs.pop("imbalance"), **kwargs)


@given(st.one_of(st.tuples(st.just("n_in"), st.integers(max_value=0)),
                 st.tuples(st.just("n_out"), st.integers(max_value=0)),
                 st.tuples(st.just(r"hidden\[1\]"), st.integers(max_value=0)), st.tuples(st.just("seed"), bad_seed),
                 st.tuples(st.just("prior"), st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0)))))
def test_mlp_rejects_bad_sizes_seeds_and_priors(case):
    name, value = case
    kwargs = {"n_in": 2, "n_out": 1, "hidden": (4, 3), "seed": 0}
    if name.startswith("hidden"):
        kwargs["hidden"] = (4, value)
    else:
        kwargs[name] = value
    with raises(ValueError, name):
        mlp(kwargs.pop("n_in"), kwargs.pop("n_out"), kwargs.pop("hidden"), **kwargs)


_X, _Y = imbalanced_moons(4, 1, seed=0)


@given(st.one_of(st.tuples(st.just("epochs"), st.integers(max_value=0)),
                 st.tuples(st.just("lr"), st.one_of(st.floats(max_value=0.0), not_finite)),
                 st.tuples(st.just("seed"), bad_seed),
                 st.tuples(st.just("batch_size"), st.integers(max_value=0)),
                 st.tuples(st.just("optimizer"), st.text(max_size=4).filter(lambda o: o not in ("adam", "sgd")))))
def test_fit_rejects_bad_settings(case):
    name, value = case
    kwargs = {"model": mlp(2, 1, (3,), seed=0), "epochs": 1, "lr": 0.1, "seed": 0, name: value}
    with raises(ValueError, name):
        fit(lambda z, t: focal_bce(z, t), _X, _Y, **kwargs)


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=6), st.integers(0, 5))
def test_average_precision_rejects_nan_scores(scores, where):
    s = torch.tensor(scores, dtype=torch.float64)
    s[where % len(scores)] = math.nan
    labels = torch.zeros(len(scores))
    labels[0] = 1
    with raises(ValueError, "scores"):
        average_precision(s, labels)


@given(st.lists(st.floats(-5, 5).filter(lambda v: v not in (0.0, 1.0)), min_size=1, max_size=4))
def test_average_precision_and_loss_share_reject_bad_labels_and_masks(values):
    bad = torch.tensor(values, dtype=torch.float64)
    with raises(ValueError, "labels"):
        average_precision(torch.zeros(len(values)), bad)
    with raises(ValueError, "mask"):
        loss_share(torch.ones(len(values)), bad)


@given(st.lists(st.floats(0, 5), min_size=1, max_size=5), st.integers(0, 4),
       st.sampled_from([math.nan, math.inf, -1.0, -1e-300]))
def test_loss_share_rejects_losses_that_are_not_finite_and_non_negative(losses, where, bad):
    per = torch.tensor(losses, dtype=torch.float64)
    per[where % len(losses)] = bad
    with raises(ValueError, "per_sample"):
        loss_share(per, torch.ones(len(losses), dtype=torch.bool))


@given(st.one_of(st.tuples(st.just("bins"), st.integers(max_value=0)),
                 st.tuples(st.just("n_boot"), st.integers(max_value=-1)),
                 st.tuples(st.just("seed"), bad_seed.filter(lambda s: not isinstance(s, float) or s == s))))
def test_calibration_rejects_bad_settings(case):
    name, value = case
    kwargs = {"n_boot": 0, name: value}     # the seed is checked even with no resampling
    with raises(ValueError, name):
        FO.calibration(torch.tensor([0.2, 0.7]), torch.tensor([0.0, 1.0]), **kwargs)


@given(st.one_of(st.tuples(st.just("eta"),
                           st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.000001), not_finite)),
                 st.tuples(st.just("bound"), st.one_of(st.floats(max_value=0.0), not_finite)),
                 st.tuples(st.just("steps"), st.integers(max_value=2))))
def test_risk_minimiser_rejects_bad_settings(case):
    name, value = case
    kwargs = {"eta": 0.5, "steps": 11, name: value}
    with raises(ValueError, name):
        FO.risk_minimiser(lambda z, t: focal_bce(z, t, reduction="none"), kwargs.pop("eta"), **kwargs)


@given(st.one_of(not_finite, not_a_number))
def test_epoch_counters_reject_a_bad_level(level):
    with raises(error_for(level), "level"):
        FO.epochs_to_reach([0.5, 0.9], level)
    with raises(error_for(level), "level"):
        FO.epochs_to_stay([0.5, 0.9], level)


@given(st.one_of(st.tuples(st.just("steps"), st.integers(max_value=0)), st.tuples(st.just("seed"), bad_seed),
                 st.tuples(st.just("n_test_pos"), st.integers(max_value=0))))
def test_imbalance_experiment_rejects_bad_settings_before_training(case):
    name, value = case
    with raises(ValueError, name):
        FO.imbalance_experiment(2, **{"steps": 1, name: value})


# ------------------------------------------------------------------------------ valid input

@given(logit_lists, seeds, st.floats(0.5, 0.99), st.floats(0.1, 20), st.floats(0, 5),
       st.one_of(st.none(), st.floats(0, 1)), st.floats(-5, 5))
def test_binary_losses_equal_their_float64_definitions(xs, seed, m, K, gamma, alpha, beta):
    x, y = binary_batch(xs, seed)
    z = np.where(y.numpy() > 0.5, x.numpy(), -x.numpy())
    log_p, threshold = log_sigmoid(z), math.log(m / (1 - m))
    alpha_t = 1.0 if alpha is None else np.where(y.numpy() > 0.5, alpha, 1 - alpha)
    refs = {
        hard_truncated_bce: (-np.where(threshold - z > 0, 1.0, np.where(threshold - z == 0, 0.5, 0.0)) * log_p,
                             dict(m=m)),
        soft_truncated_bce: (-special.expit(K * (threshold - z)) * log_p, dict(K=K, m=m)),
        focal_bce: (-alpha_t * np.exp(gamma * log_sigmoid(-z)) * log_p, dict(gamma=gamma, alpha=alpha)),
        focal_star_bce: (-log_sigmoid(max(gamma, 0.1) * z + beta) / max(gamma, 0.1),
                         dict(gamma=max(gamma, 0.1), beta=beta)),
    }
    ce = -log_p
    for loss, (ref, kwargs) in refs.items():
        value = loss(x, y, reduction="none", **kwargs).numpy()
        assert np.isfinite(value).all() and (value >= 0).all()
        assert np.allclose(value, ref, rtol=1e-12, atol=1e-300), loss.__name__
        if loss is not focal_star_bce:
            assert (value <= ce * (1 + 1e-12)).all()     # each weight is at most 1


@given(st.integers(1, 5), st.integers(2, 4), seeds, st.floats(0.1, 30), st.floats(0.5, 0.99), st.floats(0.1, 5),
       st.floats(0, 4))
def test_multiclass_losses_equal_their_float64_definitions(N, C, seed, scale, m, K, gamma):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(N, C, generator=g, dtype=torch.float64)
    t = torch.randint(C, (N,), generator=g)
    xn, tn = x.numpy(), t.numpy()
    lse = special.logsumexp(xn, axis=1)
    log_p = xn[np.arange(N), tn] - lse
    others = xn.copy()
    others[np.arange(N), tn] = -np.inf
    log_q = special.logsumexp(others, axis=1) - lse            # log(1 - p_t)
    weight_soft = special.softmax(-K * xn, axis=1)[np.arange(N), tn]
    star_gamma = max(gamma, 0.1)
    refs = {
        hard_truncated_ce: (-np.where(log_p < math.log(m), 1.0, np.where(log_p == math.log(m), 0.5, 0.0)) * log_p,
                            dict(m=m)),
        soft_truncated_ce: (-weight_soft * log_p, dict(K=K)),
        focal_ce: (-np.exp(gamma * log_q) * log_p, dict(gamma=gamma)),
        focal_star_ce: (-log_sigmoid(star_gamma * (log_p - log_q) + 1.0) / star_gamma, dict(gamma=star_gamma)),
    }
    # log p_t = x_t - logsumexp(x) is known to about eps * max|x| in absolute terms (as in
    # F.log_softmax), which is all a loss near 0 can be compared to.
    atol = 1e-14 * (1 + np.abs(xn).max())
    for loss, (ref, kwargs) in refs.items():
        value = loss(x, t, reduction="none", **kwargs).numpy()
        assert np.isfinite(value).all() and (value >= 0).all()
        assert np.allclose(value, ref, rtol=1e-10, atol=atol), loss.__name__
    # gamma = 0 is PyTorch's cross entropy; per-sample sum and mean agree with the reductions
    ce = focal_ce(x, t, 0.0, reduction="none")
    assert torch.allclose(ce, torch.nn.functional.cross_entropy(x, t, reduction="none"), rtol=1e-12, atol=atol)
    per_sample = focal_ce(x, t, gamma, reduction="none")
    assert focal_ce(x, t, gamma, reduction="sum").item() == pytest.approx(per_sample.sum().item())
    assert focal_ce(x, t, gamma).item() == pytest.approx(per_sample.mean().item())


@given(st.integers(1, 30), st.floats(1, 20), seeds, st.floats(0, 1))
def test_imbalanced_moons_has_the_promised_counts_and_rings(n_pos, imbalance, seed, noise):
    X, y = imbalanced_moons(n_pos, imbalance, seed=seed, noise=noise)
    n_easy = round(n_pos * (imbalance - 1))
    assert X.shape == (2 * n_pos + n_easy, 2) and y.shape == (X.shape[0],)
    assert y[:n_pos].eq(1).all() and y[n_pos:].eq(0).all() and torch.isfinite(X).all()
    radius = (X[2 * n_pos:] - torch.tensor([0.5, 0.25])).norm(dim=1)
    assert ((radius >= 2.5 - 1e-5) & (radius <= 5 + 1e-5)).all()
    X2, y2 = imbalanced_moons(n_pos, imbalance, seed=seed, noise=noise)
    assert torch.equal(X, X2) and torch.equal(y, y2)


@given(st.integers(1, 4), st.integers(1, 3), st.lists(st.integers(1, 5), max_size=2), seeds,
       st.one_of(st.none(), st.floats(0.001, 0.999)))
def test_mlp_is_seeded_shaped_and_leaves_the_callers_generator_alone(n_in, n_out, hidden, seed, prior):
    state = torch.random.get_rng_state()
    net = mlp(n_in, n_out, hidden, seed=seed, prior=prior)
    assert torch.equal(state, torch.random.get_rng_state())
    out = net(torch.zeros(2, n_in))
    assert out.shape == (2, n_out) and torch.isfinite(out).all()
    again = mlp(n_in, n_out, hidden, seed=seed, prior=prior)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))
    if prior is not None:
        assert torch.sigmoid(net[-1].bias.detach()).double().numpy() == pytest.approx(prior, rel=1e-5)


@settings(max_examples=6)
@given(st.integers(1, 3), st.one_of(st.none(), st.integers(4, 8)), st.floats(1e-3, 0.5), seeds,
       st.sampled_from(["adam", "sgd"]))
def test_fit_is_deterministic_and_records_every_epoch(epochs, batch_size, lr, seed, optimizer):
    runs = [fit(lambda z, t: focal_bce(z, t, 2.0), _X, _Y, model=mlp(2, 1, (3,), seed=1), epochs=epochs, lr=lr,
                seed=seed, batch_size=batch_size, optimizer=optimizer) for _ in range(2)]
    assert len(runs[0].accuracy) == len(runs[0].forgotten) == epochs
    assert all(0 <= a <= 1 for a in runs[0].accuracy) and runs[0].forgotten[0] == 0
    assert runs[0].accuracy == runs[1].accuracy
    assert all(torch.equal(a, b) for a, b in zip(runs[0].model.parameters(), runs[1].model.parameters()))


@given(st.lists(st.floats(0, 1), max_size=8), st.floats(0, 1))
def test_epoch_counters_match_their_definitions(accuracy, level):
    reach = FO.epochs_to_reach(accuracy, level)
    assert reach == next((i + 1 for i, a in enumerate(accuracy) if a >= level), None)
    stay = FO.epochs_to_stay(accuracy, level)
    candidates = [i + 1 for i in range(len(accuracy)) if all(a >= level for a in accuracy[i:])]
    assert stay == (1 if all(a >= level for a in accuracy) else (candidates[0] if candidates else None))


@settings(max_examples=20)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.booleans()), min_size=1, max_size=12).filter(
    lambda rows: any(label for _, label in rows)), st.booleans())
def test_average_precision_equals_scikit_learn(rows, round_scores):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    scores = torch.tensor([s for s, _ in rows], dtype=torch.float64)
    if round_scores:
        scores = scores.round()         # ties
    labels = torch.tensor([float(label) for _, label in rows])
    ours = average_precision(scores, labels)
    assert 0 < ours <= 1
    assert ours == pytest.approx(sklearn_metrics.average_precision_score(labels.numpy(), scores.numpy()), abs=1e-12)


@given(st.lists(st.tuples(st.floats(0, 1e6), st.integers(0, 1)), min_size=1, max_size=10),
       st.sampled_from([torch.bool, torch.int64, torch.int32, torch.float32]))
def test_loss_share_is_a_fraction_of_the_float64_total(rows, mask_dtype):
    per = torch.tensor([v for v, _ in rows], dtype=torch.float64)
    mask = torch.tensor([b for _, b in rows]).to(mask_dtype)
    share = loss_share(per, mask)
    values, picked = np.array([v for v, _ in rows]), np.array([b for _, b in rows], dtype=bool)
    total = values.sum()
    expected = values[picked].sum() / total if total > 0 else 0.0
    assert 0 <= share <= 1 and share == pytest.approx(expected, rel=1e-12, abs=1e-300)
    if total > 0:
        assert share + loss_share(per, ~mask.bool()) == pytest.approx(1.0, abs=1e-12)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), seeds, st.integers(1, 20))
def test_calibration_ece_is_the_binned_sum(probs, seed, bins):
    p = torch.tensor(probs, dtype=torch.float64)
    y = (torch.rand(len(probs), generator=torch.Generator().manual_seed(seed), dtype=torch.float64) < 0.5).double()
    c = FO.calibration(p, y, bins)
    conf = np.maximum(p.numpy(), 1 - p.numpy())
    right = ((p.numpy() > 0.5) == (y.numpy() > 0.5)).astype(float)
    which = np.clip((conf * bins).astype(int), 0, bins - 1)
    ece = sum(abs(conf[which == b].sum() - right[which == b].sum()) for b in range(bins)) / len(probs)
    assert 0 <= c.ece <= 1 and c.ece == pytest.approx(ece, abs=1e-12)
    assert int(c.count.sum()) == len(probs) and c.gap == pytest.approx(right.mean() - conf.mean(), abs=1e-12)


@settings(max_examples=20)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=5), st.floats(0, 1),
       st.sampled_from(list(FO.imbalance_losses())))
def test_pointwise_risk_is_the_eta_mixture_of_the_two_labels(xs, eta, name):
    loss = FO.imbalance_losses()[name]
    x = torch.tensor(xs, dtype=torch.float64)
    risk = FO.pointwise_risk(loss, x, eta)
    one, zero = loss(x, torch.ones_like(x)), loss(x, torch.zeros_like(x))
    assert torch.isfinite(risk).all() and (one >= 0).all() and (zero >= 0).all()
    assert torch.allclose(risk, eta * one + (1 - eta) * zero, rtol=1e-14, atol=0)


@settings(max_examples=10)
@given(st.floats(0.01, 0.99))
def test_cross_entropy_risk_is_minimised_at_the_true_probability(eta):
    x = FO.risk_minimiser(lambda z, t: focal_bce(z, t, 0.0, reduction="none"), eta, steps=2001)
    assert x == pytest.approx(math.log(eta / (1 - eta)), abs=1e-6)


@settings(max_examples=3)
@given(seeds)
def test_imbalance_experiment_and_learning_speed_give_bounded_metrics(seed):
    res = FO.imbalance_experiment(3, seed=seed, n_pos=3, steps=1, n_test_pos=3)
    assert set(res) == {"_data", *FO.imbalance_losses()}
    for name in FO.imbalance_losses():
        assert 0 < res[name]["ap"] <= 1 and 0 <= res[name]["easy_share"] <= 1
    table = FO.learning_speed({"CE": lambda z, t: focal_bce(z, t, 0.0)}, (_X, _Y, _X, _Y),
                              lambda s: mlp(2, 1, (3,), seed=s), seeds=2, epochs=2, lr=0.1, batch_size=4,
                              progress=False)
    assert len(table["CE"]) == 2 and all(0 <= r.test_accuracy <= 1 for r in table["CE"])
    assert all(len(line) <= 79 for line in FO.speed_table(table, [0.5, 0.9]).splitlines())
