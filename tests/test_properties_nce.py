"""Property tests for companion.nce (issue 16): generated bad input raises the documented error
naming the parameter; generated valid input gives finite results with the kernels' identities,
checked against float64 NumPy/SciPy references written here, not values the code produced.

Examples are bounded and derandomised by the profile in tests/conftest.py.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from companion import nce
from companion.nce import (
    Noise1D, NoiseSampler, alias_table, fit_quartic_nce, full_softmax_loss, nce_logit, nce_loss,
    negative_sampling_loss, quartic_log_z, sample_quartic, sgns_population_loss, shifted_pmi, unigram_noise,
)

# ----------------------------------------------------------------------------------- strategies

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
not_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_number = st.one_of(st.text(max_size=2), st.none(), st.booleans(), st.just([1.0]))
not_positive = st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite)
bad_seed = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63), st.floats(), st.text(max_size=2))
bad_generator = st.one_of(st.integers(), st.text(max_size=2), st.floats(allow_nan=False))
seeds = st.integers(0, 2**31)


def vectors(n_min=1, n_max=6, lo=-30.0, hi=30.0):
    return st.lists(st.floats(lo, hi, allow_nan=False), min_size=n_min, max_size=n_max)


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def raises(error, name):
    """pytest.raises for ``error`` whose message names ``name``."""
    return pytest.raises(error, match=rf"\b{name}\b")


def softplus(x):
    return np.logaddexp(0.0, x)     # float64 reference, stable for any |x|


# ------------------------------------------------------------------------------------ bad input

@given(st.one_of(not_positive, not_a_number))
def test_nu_is_checked_by_the_losses_and_the_logit(nu):
    error = TypeError if not isinstance(nu, float) else ValueError
    g = torch.zeros(3)
    with raises(error, "nu"):
        nce_logit(g, 0.0, 0.0, nu)
    if nu is not None:     # None is nce_loss's default, M / N
        with raises(error, "nu"):
            nce_loss(g, g, 0.0, 0.0, 0.0, nu)


@given(st.one_of(not_finite, not_a_number), st.sampled_from(["log_z", "log_pn"]))
def test_a_bad_number_for_log_z_or_log_pn_is_rejected(value, name):
    if name == "log_pn" and value == -math.inf:
        value = math.inf       # -inf is a valid log density ("no density here")
    error = TypeError if not isinstance(value, float) else ValueError
    kwargs = {"log_pn": 0.0, "log_z": 0.0, name: value}
    with raises(error, name):
        nce_logit(torch.zeros(3), kwargs["log_pn"], kwargs["log_z"])


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2))
def test_negative_sampling_loss_rejects_mismatched_shapes(B, d, k, dB, dd):
    u, v_pos = torch.zeros(B, d), torch.zeros(B, d)
    v_neg = torch.zeros(B + dB, k, d + dd)
    if dB or dd:
        with raises(ValueError, "v_neg"):
            negative_sampling_loss(u, v_pos, v_neg)
    else:
        assert negative_sampling_loss(u, v_pos, v_neg).item() == pytest.approx((k + 1) * math.log(2))


@given(st.text(max_size=5).filter(lambda r: r not in ("none", "mean", "sum")))
def test_an_unknown_reduction_is_rejected(reduction):
    with raises(ValueError, "reduction"):
        negative_sampling_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 1, 2), reduction)
    with raises(ValueError, "reduction"):
        full_softmax_loss(torch.zeros(2, 2), torch.zeros(3, 2), torch.zeros(2, dtype=torch.int64), reduction=reduction)


@given(st.lists(st.integers(-3, 6), min_size=1, max_size=4))
def test_full_softmax_loss_rejects_class_ids_outside_the_vocabulary(ids):
    target = torch.tensor(ids)
    u, weight = torch.zeros(len(ids), 2), torch.zeros(3, 2)
    if min(ids) < 0 or max(ids) >= 3:
        with raises(ValueError, "target"):
            full_softmax_loss(u, weight, target)
    else:
        assert full_softmax_loss(u, weight, target).item() == pytest.approx(math.log(3))


@given(st.one_of(st.floats(max_value=-1e-9, allow_nan=False), not_finite, not_a_number))
def test_unigram_noise_rejects_a_bad_alpha(alpha):
    with raises(TypeError if not isinstance(alpha, float) else ValueError, "alpha"):
        unigram_noise(torch.ones(3), alpha)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=5))
def test_unigram_noise_rejects_bad_counts(values):
    counts = f64(values)
    if torch.isfinite(counts).all() and (counts >= 0).all() and (counts > 0).any():
        assert unigram_noise(counts).sum().item() == pytest.approx(1.0)
    else:
        with raises(ValueError, "counts"):
            unigram_noise(counts)


@given(st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=6))
def test_probabilities_that_do_not_sum_to_one_are_rejected(values):
    probs = f64(values)
    if abs(probs.sum().item() - 1) > 1e-6:
        with raises(ValueError, "probs"):
            alias_table(probs)
        with raises(ValueError, "probs"):
            NoiseSampler(probs)


@given(st.one_of(st.tuples(st.integers(-5, -1)), st.tuples(st.integers(0, 3), st.integers(-5, -1)),
                 st.text(min_size=1, max_size=2), st.tuples(st.floats(0.5, 2.5))))
def test_samplers_reject_a_bad_shape(shape):
    error = ValueError if isinstance(shape, tuple) and all(isinstance(s, int) for s in shape) else TypeError
    with raises(error, "shape"):
        NoiseSampler(f64([0.5, 0.5])).sample(shape)
    with raises(error, "shape"):
        sample_quartic(1.0, 1.0, shape)
    with raises(error, "shape"):
        Noise1D().sample(shape)


@given(bad_generator)
def test_samplers_reject_a_generator_that_is_not_one(generator):
    with raises(TypeError, "generator"):
        NoiseSampler(f64([0.5, 0.5])).sample(3, generator)
    with raises(TypeError, "generator"):
        sample_quartic(1.0, 1.0, 3, generator)
    with raises(TypeError, "generator"):
        Noise1D().sample(3, generator)
    with raises(TypeError, "generator"):
        nce.topic_corpus(4, 2, 10, generator)


@given(st.one_of(st.integers(max_value=0), st.floats(0.1, 5.0).filter(lambda x: x != int(x)), st.text(max_size=2)))
def test_k_is_an_integer_of_at_least_one(k):
    with raises(ValueError, "k"):
        shifted_pmi(torch.ones(2, 2), k)
    with raises(ValueError, "k"):
        sgns_population_loss(torch.zeros(2, 2), torch.ones(2, 2), k)


@given(st.one_of(st.tuples(finite, st.floats(max_value=-1e-300, allow_nan=False)),
                 st.tuples(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False), st.just(0.0)),
                 st.tuples(not_finite, st.floats(0, 10)), st.tuples(st.floats(0.1, 10), not_finite)))
def test_quartic_log_z_rejects_parameters_with_no_finite_normaliser(ab):
    a, b = ab
    name = "a" if not math.isfinite(a) or (math.isfinite(b) and b == 0) else "b"
    with raises(ValueError, name):
        quartic_log_z(a, b)


@given(not_positive)
def test_sample_quartic_needs_a_positive_a(a):
    with raises(ValueError, "a"):
        sample_quartic(a, 1.0, 3)


@given(st.one_of(st.tuples(st.just("family"), st.text(max_size=3)),
                 st.tuples(st.just("loc"), not_finite), st.tuples(st.just("width"), not_positive)))
def test_noise1d_rejects_bad_parameters(case):
    name, value = case
    kwargs = {"family": "gaussian", "loc": 0.0, "width": 1.0, name: value}
    if name == "family" and value in ("gaussian", "uniform"):
        return
    with raises(ValueError, name):
        Noise1D(**kwargs)


@given(st.one_of(st.tuples(st.just("tol"), not_positive), st.tuples(st.just("max_iter"), st.integers(max_value=0)),
                 st.tuples(st.just("nu"), not_positive)))
def test_fit_quartic_nce_rejects_bad_settings(case):
    name, value = case
    x = torch.linspace(-1, 1, 6, dtype=torch.float64)
    with raises(ValueError, name):
        fit_quartic_nce(x, x, Noise1D(), **{name: value})


@given(st.one_of(st.tuples(st.just("lr"), not_positive), st.tuples(st.just("seed"), bad_seed),
                 st.tuples(st.just("steps"), st.integers(max_value=0)), st.tuples(st.just("alpha"), not_positive)))
def test_train_sgns_rejects_bad_settings(case):
    name, value = case
    if name == "alpha" and value == 0.0:
        return     # alpha = 0 is valid (uniform noise over the seen words)
    ids = torch.tensor([0, 1, 2, 1])
    with raises(ValueError, name):
        nce.train_sgns(ids, ids, 3, 1, batch=4, **{"steps": 2, name: value})


@given(st.one_of(not_finite, not_a_number))
def test_topic_corpus_rejects_a_bad_zipf(zipf):
    with raises(TypeError if not isinstance(zipf, float) else ValueError, "zipf"):
        nce.topic_corpus(4, 2, 10, zipf=zipf)


@given(bad_seed)
def test_fit_sgns_population_rejects_a_bad_seed(seed):
    with raises(ValueError, "seed"):
        nce.fit_sgns_population(torch.ones(2, 2), 1, seed=seed, rounds=1)


@given(st.one_of(st.floats(max_value=0.0), st.just(math.nan)))
def test_nce_asymptotic_covariance_rejects_a_bad_nu(nu):
    with raises(ValueError, "nu"):
        nce.nce_asymptotic_covariance(0.5, 0.25, Noise1D(), nu)


# ------------------------------------------------------------------------------ valid input

@given(vectors(), vectors(), st.floats(-10, 10), st.floats(0.05, 20))
def test_nce_loss_equals_its_float64_definition(g_d, g_n, c, nu):
    n = min(len(g_d), len(g_n))
    g_d, g_n = g_d[:n], g_n[:n]
    lp_d, lp_n = [0.1 * x for x in g_n], [-0.2 * x for x in g_d]
    loss = nce_loss(f64(g_d), f64(g_n), f64(lp_d), f64(lp_n), c, nu).item()
    h_d = np.array(g_d) - c - math.log(nu) - np.array(lp_d)
    h_n = np.array(g_n) - c - math.log(nu) - np.array(lp_n)
    expected = np.mean(softplus(-h_d)) + nu * np.mean(softplus(h_n))
    assert math.isfinite(loss) and loss >= 0
    assert loss == pytest.approx(expected, rel=1e-12, abs=1e-12)
    h = nce_logit(f64(g_d), f64(lp_d), c, nu).numpy()
    assert np.allclose(h, h_d, rtol=1e-13, atol=1e-13)


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), seeds, st.floats(0.1, 100))
def test_negative_sampling_loss_equals_its_float64_definition(B, k, d, seed, scale):
    g = torch.Generator().manual_seed(seed)
    u, v_pos, v_neg = (scale * torch.randn(*s, generator=g, dtype=torch.float64) for s in ((B, d), (B, d), (B, k, d)))
    loss = negative_sampling_loss(u, v_pos, v_neg, "none").numpy()
    un, vp, vn = u.numpy(), v_pos.numpy(), v_neg.numpy()
    expected = softplus(-(un * vp).sum(-1)) + softplus(np.einsum("bkd,bd->bk", vn, un)).sum(-1)
    assert np.isfinite(loss).all() and (loss >= 0).all()
    assert np.allclose(loss, expected, rtol=1e-12, atol=1e-12)


@given(st.integers(0, 4), st.integers(1, 5), st.integers(1, 3), seeds, st.floats(0.1, 1e3))
def test_full_softmax_loss_is_log_sum_exp_minus_the_target_score(B, V, d, seed, scale):
    g = torch.Generator().manual_seed(seed)
    u = scale * torch.randn(B, d, generator=g, dtype=torch.float64)
    w, bias = torch.randn(V, d, generator=g, dtype=torch.float64), torch.randn(V, generator=g, dtype=torch.float64)
    target = torch.randint(V, (B,), generator=g)
    loss = full_softmax_loss(u, w, target, bias, reduction="none").numpy()
    logits = u.numpy() @ w.numpy().T + bias.numpy()
    expected = special.logsumexp(logits, axis=1) - logits[np.arange(B), target.numpy()]
    assert np.allclose(loss, expected, rtol=1e-12, atol=1e-10)
    if B == 0:
        with raises(ValueError, "reduction"):
            full_softmax_loss(u, w, target)


@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-200, 1e200)), min_size=1, max_size=6).filter(lambda c: max(c) > 0),
       st.floats(0, 1000))
def test_unigram_noise_is_a_distribution_with_the_power_law_ratios(counts, alpha):
    q = unigram_noise(f64(counts), alpha)
    assert torch.isfinite(q).all() and (q >= 0).all()
    assert q.sum().item() == pytest.approx(1.0, abs=1e-12)
    c = np.array(counts)
    assert (q.numpy()[c == 0] == 0).all()
    # log q_i - log q_j = alpha (log c_i - log c_j) where neither underflowed
    seen = np.nonzero((c > 0) & (q.numpy() > 1e-300))[0]
    log_q, log_c = np.log(q.numpy()[seen]), np.log(c[seen])
    for i in range(len(seen)):
        for j in range(len(seen)):
            expected = alpha * (log_c[i] - log_c[j])
            assert log_q[i] - log_q[j] == pytest.approx(expected, abs=1e-9 * (1 + abs(expected)))


@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), min_size=1, max_size=12).filter(lambda p: sum(p) > 0))
def test_alias_table_gives_back_its_probabilities(weights):
    probs = f64(weights)
    probs = probs / probs.sum()
    threshold, alias = alias_table(probs)
    assert ((threshold >= 0) & (threshold <= 1)).all()
    implied = threshold.clone().index_add_(0, alias, 1 - threshold) / probs.numel()
    assert torch.allclose(implied, probs, rtol=0, atol=1e-14)


@given(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), min_size=1, max_size=8).filter(lambda p: sum(p) > 0),
       st.sampled_from(NoiseSampler.METHODS), seeds)
def test_noise_sampler_draws_only_ids_of_positive_probability_reproducibly(weights, method, seed):
    probs = f64(weights) / sum(weights)
    sampler = NoiseSampler(probs, method)
    draws = sampler.sample((50, 2), torch.Generator().manual_seed(seed))
    assert draws.shape == (50, 2) and draws.dtype == torch.int64
    assert (probs[draws] > 0).all()
    assert torch.equal(draws, sampler.sample((50, 2), torch.Generator().manual_seed(seed)))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), seeds)
def test_shifted_pmi_minimises_the_population_loss(V_w, V_c, k, seed):
    g = torch.Generator().manual_seed(seed)
    counts = torch.rand(V_w, V_c, generator=g, dtype=torch.float64) + 0.1
    s = shifted_pmi(counts, k).requires_grad_()
    loss = sgns_population_loss(s, counts, k)
    (grad,) = torch.autograd.grad(loss, s)
    assert math.isfinite(loss.item()) and grad.abs().max().item() < 1e-12
    # the float64 definition, and no lower value at a perturbed table
    P = counts.numpy() / counts.sum().item()
    q = P.sum(0)
    ref = (P * softplus(-s.detach().numpy()) + k * P.sum(1, keepdims=True) * q * softplus(s.detach().numpy())).sum()
    assert loss.item() == pytest.approx(ref, rel=1e-12)
    assert sgns_population_loss(s.detach() + 0.1 * torch.randn(V_w, V_c, generator=g, dtype=torch.float64),
                                counts, k).item() >= loss.item()


def _log_z_reference(a, b):
    """log Z from SciPy's Bessel functions (in their scaled forms) or the Gaussian/quartic cases."""
    if b == 0:
        return 0.5 * math.log(math.pi / a)
    if a == 0:
        return math.log(special.gamma(0.25) / 2) - 0.25 * math.log(b)
    q = a * a / (8 * b)
    if a > 0:
        return math.log(0.5) + 0.5 * math.log(a / b) + math.log(special.kve(0.25, q))
    return (math.log(math.pi / 2) + 0.5 * math.log(-a / (2 * b)) + 2 * q
            + math.log(special.ive(-0.25, q) + special.ive(0.25, q)))


@given(st.floats(-6, 6), st.floats(-6, 6), st.sampled_from([-1.0, 0.0, 1.0]), st.booleans())
def test_quartic_log_z_matches_the_bessel_closed_forms_over_twelve_decades(log_a, log_b, sign, gaussian):
    a, b = sign * 10.0**log_a, 0.0 if gaussian else 10.0**log_b
    if b == 0 and a <= 0:
        a = abs(a) or 1.0
    q = a * a / (8 * b) if b else 0.0
    if q > 1e8:          # SciPy's kve/ive return NaN there; the mpmath checks in test_nce cover it
        return
    value = quartic_log_z(a, b)
    assert math.isfinite(value)
    assert value == pytest.approx(_log_z_reference(a, b), rel=1e-11, abs=1e-11)


@given(st.floats(-3, 3), st.floats(-3, 2), st.integers(0, 50), st.sampled_from([torch.float32, torch.float64]), seeds)
def test_sample_quartic_is_finite_seeded_and_of_the_asked_shape_and_dtype(log_a, log_b, n, dtype, seed):
    a, b = 10.0**log_a, 10.0**log_b
    x = sample_quartic(a, b, (n, 2), torch.Generator().manual_seed(seed), dtype=dtype)
    assert x.shape == (n, 2) and x.dtype == dtype and torch.isfinite(x).all()
    assert torch.equal(x, sample_quartic(a, b, (n, 2), torch.Generator().manual_seed(seed), dtype=dtype))


@settings(max_examples=8)
@given(st.floats(-8, 2), st.floats(-4, 4))
def test_sample_quartic_follows_the_density_at_any_scale(log_a, log_b):
    # In t = x / s (s of quartic_log_z), the density is exp(-A t^2 - B t^4) with max(A, B) = 1:
    # compare the scaled draws with that CDF on a grid.
    a, b = 10.0**log_a, 10.0**log_b
    s = min(a ** -0.5, b ** -0.25)
    A, B = a * s * s, b * s**4
    t = sample_quartic(a, b, 4000, torch.Generator().manual_seed(0)).numpy() / s
    grid = np.linspace(-8, 8, 32_001)
    pdf = np.exp(-A * grid**2 - B * grid**4)
    cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))])
    assert stats.kstest(t, lambda v: np.interp(v, grid, cdf / cdf[-1])).pvalue > 1e-4


@given(st.sampled_from(["gaussian", "uniform"]), st.floats(-100, 100), st.floats(1e-3, 1e3),
       st.lists(st.floats(-200, 200), min_size=1, max_size=5), st.sampled_from([torch.float64, torch.int64, None]))
def test_noise1d_log_prob_matches_scipy(family, loc, width, xs, dtype):
    noise = Noise1D(family, loc, width)
    if dtype is None:
        x, values = xs[0], np.array(xs[:1])
        lp = noise.log_prob(x)
    else:
        x = torch.tensor(xs, dtype=dtype)
        values = x.double().numpy()
        lp = noise.log_prob(x)
    assert lp.is_floating_point()
    ref = (stats.norm.logpdf(values, loc, width) if family == "gaussian"
           else np.where(np.abs(values - loc) <= width, -math.log(2 * width), -np.inf))
    assert np.allclose(lp.numpy().reshape(-1), ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@given(seeds, st.integers(20, 60), st.sampled_from([("gaussian", 0.0, 1.5), ("uniform", 0.0, 4.0)]))
def test_fit_quartic_nce_reaches_a_minimum_of_the_nce_loss(seed, n, noise_args):
    noise = Noise1D(*noise_args)
    g = torch.Generator().manual_seed(seed)
    x_d, x_n = sample_quartic(0.5, 0.25, n, g), noise.sample(n, g)
    fit = fit_quartic_nce(x_d, x_n, noise)
    theta = torch.stack([fit.a, fit.b, fit.log_z])
    assert torch.isfinite(theta).all()

    def loss(th):
        g_d, g_n = (-th[0] * x**2 - th[1] * x**4 for x in (x_d, x_n))
        return nce_loss(g_d, g_n, noise.log_prob(x_d), noise.log_prob(x_n), th[2]).item()

    best = loss(theta)
    for step in torch.eye(3, dtype=torch.float64) * 1e-3:
        assert loss(theta + step) >= best - 1e-12 and loss(theta - step) >= best - 1e-12


@settings(max_examples=5)
@given(st.floats(0.2, 2.0), st.floats(0.05, 1.0), st.floats(0.5, 10.0))
def test_nce_asymptotic_covariance_is_symmetric_positive_definite(a, b, nu):
    cov = nce.nce_asymptotic_covariance(a, b, Noise1D("gaussian", 0.0, 1.5), nu)
    assert np.isfinite(cov).all() and np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12)
    assert np.linalg.eigvalsh((cov + cov.T) / 2).min() > 0


@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 50), st.floats(-50, 50), seeds)
def test_topic_corpus_is_a_symmetric_joint_distribution(V, n_topics, n_pairs, zipf, seed):
    centres, contexts, joint = nce.topic_corpus(V, n_topics, n_pairs, torch.Generator().manual_seed(seed), zipf)
    assert torch.isfinite(joint).all() and (joint >= 0).all()
    assert joint.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert torch.allclose(joint, joint.T, rtol=1e-12, atol=1e-300)
    assert centres.shape == contexts.shape == (n_pairs,)
    assert (joint[centres, contexts] > 0).all()


@settings(max_examples=10)
@given(st.integers(2, 5), st.integers(1, 3), st.floats(0, 2), st.floats(1e-3, 0.1), seeds)
def test_train_sgns_gives_finite_scores_and_losses(V, k, alpha, lr, seed):
    ids = torch.arange(V).repeat(3)
    scores, losses = nce.train_sgns(ids, ids.flip(0), V, k, alpha, steps=3, batch=8, lr=lr, seed=seed)
    assert scores.shape == (V, V) and losses.shape == (3,)
    assert torch.isfinite(scores).all() and torch.isfinite(losses).all() and (losses >= 0).all()


@settings(max_examples=8)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), seeds)
def test_fit_sgns_population_is_finite_and_no_worse_than_its_start(V_w, V_c, k, seed):
    counts = torch.rand(V_w, V_c, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.5
    logits, gamma = nce.fit_sgns_population(counts, k, seed=seed, rounds=1)
    assert torch.isfinite(logits).all() and gamma == 0.0
    assert sgns_population_loss(logits, counts, k).item() <= sgns_population_loss(
        torch.zeros_like(logits), counts, k).item() + 1e-12
