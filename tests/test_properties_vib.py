"""Property tests for companion.vib (issue 16): generated bad input raises the documented error
naming the parameter; generated valid input gives finite results with the kernels' identities,
checked against float64 NumPy/SciPy/mpmath/torch.distributions references written here, not
values the code produced.

Examples are bounded and derandomised by the profile in tests/conftest.py; the properties that
train take fewer.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torch.distributions import Normal, kl_divergence

from companion import vib

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

# ----------------------------------------------------------------------------------- strategies

not_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_number = st.one_of(st.text(max_size=2), st.none(), st.booleans(), st.just([1.0, "a"]))
not_positive = st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite)
bad_seed = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63), st.floats(), st.text(max_size=2))
bad_generator = st.one_of(st.integers(), st.text(max_size=2), st.floats(allow_nan=False))
bad_flag = st.one_of(st.text(max_size=3), st.integers(0, 1), st.none(), st.just(np.bool_(False)))
int_dtypes = st.sampled_from([torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64])


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def raises(error, name):
    """pytest.raises for ``error`` whose message names ``name``."""
    return pytest.raises(error, match=rf"(^|\W){name}\W")


@st.composite
def gaussians(draw, max_batch=4, max_dim=4, lo=-8.0, hi=8.0):
    """(mu, logvar) float64 tensors of one random shape [B, D]."""
    b, d = draw(st.integers(1, max_batch)), draw(st.integers(1, max_dim))
    values = st.lists(st.floats(lo, hi, allow_nan=False), min_size=b * d, max_size=b * d)
    return f64(draw(values)).reshape(b, d), f64(draw(values)).reshape(b, d)


# ------------------------------------------------------------------------------------ bad input

@given(gaussians(), st.sampled_from(["mu", "logvar"]), not_finite, st.data())
def test_non_finite_encoder_outputs_are_named(pair, which, value, data):
    mu, logvar = (t.clone() for t in pair)
    target = mu if which == "mu" else logvar
    target.view(-1)[data.draw(st.integers(0, target.numel() - 1))] = value
    with raises(ValueError, which):
        vib.kl_std_normal(mu, logvar)
    with raises(ValueError, which):
        vib.reparameterize(mu, logvar)
    with raises(ValueError, which):
        vib.kl_monte_carlo(mu, logvar, 2)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_mismatched_encoder_shapes_are_named(b1, d1, b2, d2):
    if (b1, d1) == (b2, d2):
        return
    with raises(ValueError, "mu and logvar"):
        vib.kl_std_normal(torch.zeros(b1, d1), torch.zeros(b2, d2))


@given(st.one_of(st.text(max_size=5), st.none(), st.integers()))
def test_unknown_reductions_are_named(reduction):
    if reduction in ("none", "sum", "mean"):
        return
    with raises(ValueError, "reduction"):
        vib.kl_std_normal(torch.zeros(2, 2), torch.zeros(2, 2), reduction)
    with raises(ValueError, "reduction"):
        vib.task_loss(torch.zeros(2, 3), torch.tensor([0, 1]), reduction)


@given(bad_flag, bad_generator)
def test_sampling_flags_and_generators_must_have_their_types(training, generator):
    mu = torch.zeros(2, 3)
    with raises(TypeError, "training"):
        vib.reparameterize(mu, mu, training=training)
    with raises(TypeError, "generator"):
        vib.reparameterize(mu, mu, generator=generator)
    with raises(TypeError, "generator"):
        vib.kl_monte_carlo(mu, mu, 4, generator=generator)
    with raises(TypeError, "diagonal"):
        vib.class_gaussian_log_likelihood(torch.zeros(8, 1), torch.zeros(8, dtype=torch.int64), torch.zeros(2, 1),
                                          torch.zeros(2, dtype=torch.int64), training)


@given(st.one_of(st.integers(max_value=1), st.floats(allow_nan=True), st.text(max_size=2), st.none()))
def test_monte_carlo_needs_two_draws(n):
    if isinstance(n, float) and math.isfinite(n) and n == int(n) and n >= 2:
        return  # integer-valued floats such as 2.0 are accepted
    with raises(ValueError, "n_samples"):
        vib.kl_monte_carlo(torch.zeros(1, 2), torch.zeros(1, 2), n)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(-3, 8), int_dtypes)
def test_class_labels_out_of_range_or_boolean_are_named(batch, classes, label, dtype):
    labels = torch.zeros(batch, dtype=torch.int64)
    labels[-1] = label
    if dtype == torch.uint8 and label < 0:
        return  # not representable
    if not 0 <= label < classes:
        with raises(ValueError, "target"):
            vib.task_loss(torch.zeros(batch, classes), labels.to(dtype))
    with raises(TypeError, "target"):
        vib.task_loss(torch.zeros(batch, classes), labels.bool())


@given(st.one_of(st.floats(allow_nan=True).filter(lambda v: not 0 <= v <= 1)), st.integers(1, 4), st.integers(1, 4))
def test_reconstruction_targets_outside_the_unit_interval_are_named(value, batch, pixels):
    target = torch.full((batch, pixels), 0.5, dtype=torch.float64)
    target[-1, -1] = value
    with raises(ValueError, "target"):
        vib.task_loss(torch.zeros(batch, pixels, dtype=torch.float64), target)


@given(st.one_of(st.floats(max_value=-1e-300), not_finite, not_a_number))
def test_bad_lam_is_named(lam):
    error = TypeError if isinstance(lam, bool) or not isinstance(lam, float) else ValueError
    with raises(error, "lam"):
        vib.VIB(lam)
    with raises(error, "lam"):
        vib.vib_loss(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(2, 2), torch.zeros(2, 2), lam)


@given(st.one_of(not_finite, not_a_number), st.one_of(not_positive, not_a_number))
def test_linear_gaussian_rejects_bad_gain_and_noise(w, s):
    with raises(TypeError if not isinstance(w, float) else ValueError, "w"):
        vib.linear_gaussian(w, 1.0)
    with raises(TypeError if not isinstance(s, float) else ValueError, "s"):
        vib.linear_gaussian(1.0, s)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=2), st.lists(st.integers(1, 4), min_size=1, max_size=2))
def test_shapes_that_do_not_broadcast_are_named(shape_a, shape_b):
    try:
        torch.broadcast_shapes(tuple(shape_a), tuple(shape_b))
    except RuntimeError:
        with raises(ValueError, "w and s"):
            vib.linear_gaussian(torch.zeros(shape_a), torch.ones(shape_b))
        for path in (vib.lerp, vib.slerp_normal):
            with raises(ValueError, "alpha"):
                path(torch.zeros(shape_a), torch.zeros(shape_a), torch.zeros(shape_b))
    else:
        assert vib.linear_gaussian(torch.zeros(shape_a), torch.ones(shape_b)).information.shape == \
            torch.broadcast_shapes(tuple(shape_a), tuple(shape_b))


@given(st.one_of(not_finite, not_a_number))
def test_paths_reject_bad_alpha(alpha):
    error = ValueError if isinstance(alpha, float) else TypeError
    for path in (vib.lerp, vib.slerp_normal):
        with raises(error, "alpha"):
            path(torch.zeros(3), torch.ones(3), alpha)


@given(bad_seed)
def test_seeds_are_checked(seed):
    x, y = torch.zeros(4, 64), torch.zeros(4, dtype=torch.int64)
    with raises(ValueError, "seed"):
        vib.fit(vib.VIBNet(hidden=4), x, y, epochs=1, seed=seed, progress=False)
    with raises(ValueError, "seed"):
        vib.evaluate(vib.VIBNet(hidden=4), x, y, seed=seed)


@given(st.sampled_from(["n_in", "latent", "n_out", "hidden"]), st.one_of(st.integers(max_value=0), st.floats(0.1, 0.9),
                                                                       st.text(max_size=2)))
def test_network_sizes_are_named(which, value):
    with raises(ValueError, which):
        vib.VIBNet(**{which: value})


# ----------------------------------------------------------------------------------- valid input

@given(gaussians())
def test_kl_matches_torch_distributions_and_its_reductions_agree(pair):
    mu, logvar = pair
    terms = vib.kl_std_normal(mu, logvar, "none")
    want = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    torch.testing.assert_close(terms, want, rtol=1e-12, atol=1e-14)
    assert (terms >= 0).all()
    torch.testing.assert_close(vib.kl_std_normal(mu, logvar, "sum"), want.sum(-1), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(vib.kl_std_normal(mu, logvar, "mean"), want.sum(-1).mean(), rtol=1e-12, atol=1e-14)


@settings(max_examples=20)
@given(gaussians(max_batch=2, max_dim=3, lo=-2.0, hi=2.0), st.integers(0, 2**63 - 1))
def test_monte_carlo_kl_agrees_with_the_closed_form_and_is_seeded(pair, seed):
    mu, logvar = pair
    est, se = vib.kl_monte_carlo(mu, logvar, 4000, generator=torch.Generator().manual_seed(seed))
    again, _ = vib.kl_monte_carlo(mu, logvar, 4000, generator=torch.Generator().manual_seed(seed))
    exact = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    assert torch.equal(est, again) and torch.isfinite(se).all()
    assert ((est - exact).abs() <= 6 * se + 1e-12).all()


@given(gaussians(), st.integers(0, 2**63 - 1))
def test_reparameterized_draws_are_mu_plus_sigma_eps(pair, seed):
    mu, logvar = pair
    z = vib.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(seed))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed), dtype=mu.dtype)
    np.testing.assert_allclose(z.numpy(), mu.numpy() + np.exp(0.5 * logvar.numpy()) * eps.numpy(), rtol=1e-12,
                               atol=1e-12)
    assert vib.reparameterize(mu, logvar, training=False) is mu


@given(st.integers(1, 5), st.integers(1, 5), int_dtypes, st.data())
def test_task_loss_is_cross_entropy_for_any_integer_labels(batch, classes, dtype, data):
    logits = f64(data.draw(st.lists(st.floats(-30, 30), min_size=batch * classes, max_size=batch * classes)))
    logits = logits.reshape(batch, classes)
    labels = data.draw(st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch))
    got = vib.task_loss(logits, torch.tensor(labels, dtype=dtype), "none")
    x = logits.numpy()
    want = np.logaddexp.reduce(x, axis=1) - x[np.arange(batch), labels]   # −log softmax, in NumPy
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    assert vib.task_loss(logits, torch.tensor(labels, dtype=dtype)).item() == pytest.approx(want.mean(), rel=1e-12,
                                                                                           abs=1e-12)


@given(st.integers(1, 4), st.integers(1, 6), st.data())
def test_reconstruction_loss_is_bernoulli_cross_entropy(batch, pixels, data):
    n = batch * pixels
    logits = f64(data.draw(st.lists(st.floats(-30, 30), min_size=n, max_size=n))).reshape(batch, pixels)
    target = f64(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))).reshape(batch, pixels)
    x, t = logits.numpy(), target.numpy()
    want = (np.logaddexp(0, x) - t * x).sum(1)     # −[t log σ(x) + (1 − t) log(1 − σ(x))]
    np.testing.assert_allclose(vib.task_loss(logits, target, "none").numpy(), want, rtol=1e-10, atol=1e-12)


@given(gaussians(max_batch=4, max_dim=3), st.floats(0, 10), st.integers(2, 4), st.data())
def test_vib_loss_is_task_plus_lam_times_rate(pair, lam, classes, data):
    mu, logvar = pair
    b = mu.shape[0]
    logits = f64(data.draw(st.lists(st.floats(-5, 5), min_size=b * classes, max_size=b * classes))).reshape(b, classes)
    labels = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=b, max_size=b)))
    loss = vib.vib_loss(logits, labels, mu, logvar, lam)
    task = F.cross_entropy(logits, labels)
    rate = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1).mean()
    torch.testing.assert_close(loss.total, task + lam * rate, rtol=1e-12, atol=1e-12)
    layer = vib.VIB(lam)
    layer(mu, logvar)
    torch.testing.assert_close(layer.kl, rate, rtol=1e-12, atol=1e-14)


def exact_linear_gaussian(w, s):
    """The three closed forms in 400-digit arithmetic (t - 1 can be 1e-154 and still matter),
    rounded to float64 (inf beyond it), and the absolute error allowed: the docstring's
    3e-16 |log(w² + s²)| for the gap near w² + s² = 1, and a few steps of the subnormal grid
    (5e-324) for results below 2.2e-308, which float64 holds with fewer digits."""
    with mpmath.workdps(400):
        w, s = mpmath.mpf(w), mpmath.mpf(s)
        t = w**2 + s**2
        values = (mpmath.log1p(w**2 / s**2) / 2, (t - mpmath.log(s**2) - 1) / 2, (t - mpmath.log(t) - 1) / 2)
        rounded = [float(v) if v < mpmath.mpf("1.7976931348623157e308") else math.inf for v in values]
        return rounded, [1e-322, 1e-322, max(1e-322, 3e-16 * float(abs(mpmath.log(t))))]


@given(st.floats(-300, 300), st.booleans(), st.floats(-300, 300))
def test_linear_gaussian_is_exact_wherever_the_answer_is_a_float(log10_w, negative, log10_s):
    w, s = (-1 if negative else 1) * 10.0**log10_w, 10.0**log10_s
    got = vib.linear_gaussian(w, s)
    for value, want, slack in zip(got, *exact_linear_gaussian(w, s)):
        if math.isinf(want):
            assert value.item() == math.inf
        else:
            assert value.item() == pytest.approx(want, rel=1e-13, abs=slack)
    assert got.information >= 0 and got.gap >= 0 and got.bound >= got.information - 1e-12 * abs(got.bound)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=5), st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=5),
       st.floats(-2, 3))
def test_paths_end_at_their_endpoints_and_slerp_keeps_unit_variance(a, b, alpha):
    n = min(len(a), len(b))
    z1, z2 = f64(a[:n]), f64(b[:n])
    np.testing.assert_allclose(vib.lerp(z1, z2, alpha).numpy(), (1 - alpha) * z1.numpy() + alpha * z2.numpy(),
                               rtol=1e-12, atol=1e-9)
    theta = alpha * math.pi / 2
    np.testing.assert_allclose(vib.slerp_normal(z1, z2, alpha).numpy(),
                               math.cos(theta) * z1.numpy() + math.sin(theta) * z2.numpy(), rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(vib.lerp(z1, z2, 0.0), z1)
    torch.testing.assert_close(vib.slerp_normal(z1, z2, 1.0), z2, rtol=1e-12, atol=1e-12)


@settings(max_examples=20)
@given(st.integers(1, 3), st.integers(2, 3), st.booleans(), st.integers(0, 2**31))
def test_class_gaussians_match_scipy(dim, n_classes, diagonal, seed):
    g = torch.Generator().manual_seed(seed)
    codes, held = torch.randn(12 * n_classes, dim, generator=g, dtype=torch.float64), torch.randn(
        6, dim, generator=g, dtype=torch.float64)
    labels, held_labels = torch.arange(12 * n_classes) % n_classes, torch.arange(6) % n_classes
    got = vib.class_gaussian_log_likelihood(codes, labels.int(), held, held_labels, diagonal)
    for c in range(n_classes):
        fit = codes[labels == c].numpy()
        cov = np.atleast_2d(np.cov(fit.T, bias=True))
        if diagonal:
            cov = np.diag(np.diag(cov))
        want = stats.multivariate_normal(fit.mean(0), cov).logpdf(held[held_labels == c].numpy())
        np.testing.assert_allclose(got[held_labels == c].numpy(), np.atleast_1d(want), rtol=1e-9)


@settings(max_examples=5)
@given(st.integers(0, 2**63 - 1), st.integers(1, 2), int_dtypes.filter(lambda d: d != torch.int8))
def test_short_training_is_finite_and_seeded_for_any_integer_labels(seed, epochs, dtype):
    x = torch.randn(24, 16, generator=torch.Generator().manual_seed(1))
    y = (torch.arange(24) % 3).to(dtype)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        net = vib.VIBNet(n_in=16, latent=2, n_out=3, hidden=8)
        runs.append(vib.fit(net, x, y, epochs=epochs, batch_size=8, seed=seed, progress=False))
    assert runs[0] == runs[1] and all(math.isfinite(v) for v in runs[0]["total"])
    scores = vib.evaluate(net, x, y, n_samples=2, seed=seed)
    assert all(math.isfinite(v) for v in scores.values()) and 0 <= scores["accuracy"] <= 1
