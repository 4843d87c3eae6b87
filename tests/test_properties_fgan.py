"""Property tests for companion.fgan (issue 16): generated bad input raises the documented error
naming the parameter; generated valid input gives finite results with the kernels' identities,
checked against float64 NumPy/SciPy/torch.distributions references written here, not values the
code produced.

Examples are bounded and derandomised by the profile in tests/conftest.py; the properties that
train or integrate take fewer.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats
from torch.distributions import Normal, kl_divergence

from companion import fgan

NAMES = fgan.NAMES
BOUNDED = ("total_variation", "jensen_shannon", "gan")

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

# ----------------------------------------------------------------------------------- strategies

not_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_number = st.one_of(st.text(max_size=2), st.none(), st.booleans(), st.just([1.0]))
not_positive = st.one_of(st.floats(max_value=0.0, allow_nan=False), not_finite)
bad_seed = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63), st.floats(), st.text(max_size=2))
bad_generator = st.one_of(st.integers(), st.text(max_size=2), st.floats(allow_nan=False))
bad_flag = st.one_of(st.text(max_size=3), st.integers(0, 1), st.none(), st.just(np.bool_(True)))
means = st.floats(-5, 5, allow_nan=False)
widths = st.floats(0.3, 3.0)
names = st.sampled_from(NAMES)
raw_values = st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=8)


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def raises(error, name):
    """pytest.raises for ``error`` whose message names ``name``."""
    return pytest.raises(error, match=rf"(^|\W){name}\W")


def number_error(value):
    """The error checks.real raises for ``value``: TypeError for non-numbers, else ValueError."""
    return TypeError if isinstance(value, bool) or not isinstance(value, (int, float)) else ValueError


def sampler(n, g):
    return torch.randn(n, 1, generator=g)


# Each row written here from its formula, in NumPy, independently of the package: f(u), the
# activation a(v) and the conjugate f*(t) (applied to a(v), not through the package's fused forms).
F = {
    "total_variation": lambda u: 0.5 * np.abs(u - 1),
    "kl": lambda u: u * np.log(u),
    "reverse_kl": lambda u: -np.log(u),
    "pearson_chi2": lambda u: (u - 1) ** 2,
    "neyman_chi2": lambda u: (1 - u) ** 2 / u,
    "squared_hellinger": lambda u: (np.sqrt(u) - 1) ** 2,
    "jeffrey": lambda u: (u - 1) * np.log(u),
    "jensen_shannon": lambda u: 0.5 * u * np.log(u) - 0.5 * (u + 1) * np.log((u + 1) / 2),
    "gan": lambda u: u * np.log(u) - (u + 1) * np.log(u + 1) + np.log(4),
}
ACTIVATION = {
    "total_variation": lambda v: 0.5 * np.tanh(v),
    "kl": lambda v: v,
    "reverse_kl": lambda v: -np.exp(v),
    "pearson_chi2": lambda v: np.exp(v) - 2,
    "neyman_chi2": lambda v: 1 - np.exp(v),
    "squared_hellinger": lambda v: 1 - np.exp(v),
    "jeffrey": lambda v: v,
    "jensen_shannon": lambda v: 0.5 * np.log(2) - 0.5 * np.log1p(np.exp(-v)),
    "gan": lambda v: -np.log1p(np.exp(-v)),
}


def _w(t):
    return special.lambertw(np.exp(1 - t)).real


CONJUGATE = {
    "total_variation": lambda t: t,
    "kl": lambda t: np.exp(t - 1),
    "reverse_kl": lambda t: -1 - np.log(-t),
    "pearson_chi2": lambda t: t**2 / 4 + t,
    "neyman_chi2": lambda t: 2 - 2 * np.sqrt(1 - t),
    "squared_hellinger": lambda t: t / (1 - t),
    "jeffrey": lambda t: _w(t) + 1 / _w(t) + t - 2,
    "jensen_shannon": lambda t: -0.5 * np.log(2 - np.exp(2 * t)),
    "gan": lambda t: -np.log(1 - np.exp(t)) - np.log(4),
}


# ------------------------------------------------------------------------------------ bad input

@given(st.one_of(not_positive, not_a_number), st.one_of(not_finite, not_a_number))
def test_normal_log_prob_rejects_bad_sigma_and_mu(sigma, mu):
    x = torch.zeros(3, dtype=torch.float64)
    with raises(number_error(sigma), "sigma"):
        fgan.normal_log_prob(x, 0.0, sigma)
    with raises(number_error(mu), "mu"):
        fgan.normal_log_prob(x, mu, 1.0)
    if isinstance(sigma, float):  # the same values inside a tensor
        with raises(ValueError, "sigma"):
            fgan.normal_log_prob(x, 0.0, f64([1.0, sigma, 1.0]))


@given(names, st.sampled_from(["mu_p", "mu_q", "sigma_p", "sigma_q"]),
       st.one_of(not_finite, not_a_number, not_positive))
def test_gaussian_divergence_rejects_bad_parameters(name, which, value):
    if which.startswith("mu") and isinstance(value, float) and math.isfinite(value):
        value = math.nan  # a finite negative mean is valid
    kwargs = {"mu_p": 0.0, "sigma_p": 1.0, "mu_q": 0.5, "sigma_q": 1.2, which: value}
    with raises(number_error(value), which):
        fgan.gaussian_divergence(name, **kwargs)


@given(st.integers(3, 40), st.data())
def test_divergence_on_grid_rejects_grids_that_are_not_strictly_increasing(n, data):
    x = torch.linspace(-5, 5, n, dtype=torch.float64)
    how = data.draw(st.sampled_from(["swap", "repeat", "nan", "inf", "2-d"]))
    i = data.draw(st.integers(0, n - 2))
    bad = x.clone()
    if how == "swap":
        bad[i], bad[i + 1] = x[i + 1], x[i]
    elif how == "repeat":
        bad[i + 1] = bad[i]
    elif how in ("nan", "inf"):
        bad[i] = float(how)
    else:
        bad = x.expand(2, -1)
    log_p, log_q = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 0.5, 1.0)
    name = data.draw(names)
    with raises(ValueError, "x"):
        fgan.divergence_on_grid(log_p, log_q, bad, name)
    with raises(ValueError, "x"):
        fgan.mixed_critic_bound(log_p, log_q, bad, name, 0.5)


@given(st.floats(-50, 50), st.floats(-50, 50), names)
def test_divergence_quad_rejects_limits_that_are_not_increasing(lo, hi, name):
    log = lambda x: fgan.normal_log_prob(x, 0.0, 1.0)  # noqa: E731
    if lo >= hi:
        with raises(ValueError, "lo"):
            fgan.divergence_quad(log, log, name, lo, hi)
    with raises(ValueError, "lo"):
        fgan.divergence_quad(log, log, name, math.nan, hi)
    with raises(TypeError, "log_q"):
        fgan.divergence_quad(log, hi, name)


@given(st.one_of(st.tuples(means), st.tuples(means, widths, widths), st.just(()), means, st.text(max_size=3),
                 st.tuples(means, st.one_of(not_positive, not_a_number))))
def test_init_must_be_a_pair_with_a_positive_sigma(init):
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)
    with raises((TypeError, ValueError), r"init(\[1\])?"):
        fgan.fit_gaussian_by_quadrature(fgan.normal_log_prob(x, 0.0, 1.0), x, "kl", init=init)
    with raises((TypeError, ValueError), r"init(\[1\])?"):
        fgan.train_fgan(sampler, "kl", steps=1, init=init, progress=False)


@given(bad_seed)
def test_seeds_are_checked_before_any_work(seed):
    with raises(ValueError, "seed"):
        fgan.estimate_divergence(sampler, sampler, "kl", steps=1, seed=seed, progress=False)
    with raises(ValueError, "seed"):
        fgan.train_fgan(sampler, "kl", steps=1, seed=seed, progress=False)


@given(bad_generator, st.integers(1, 5))
def test_mixture_sample_rejects_a_generator_that_is_not_one(generator, n):
    with raises(TypeError, "generator"):
        fgan.mixture_sample(n, (1.0,), (0.0,), (1.0,), generator)


@given(st.sampled_from(["weights", "means", "stds"]),
       st.one_of(not_finite, not_positive, st.text(min_size=1, max_size=2)))
def test_mixture_parameters_are_checked(which, value):
    params = {"weights": [0.5, 0.5], "means": [0.0, 1.0], "stds": [1.0, 2.0]}
    if which == "means" and isinstance(value, float) and math.isfinite(value):
        value = math.inf  # a finite mean of any sign is valid
    params[which] = [params[which][0], value] if not isinstance(value, str) else value
    with raises((TypeError, ValueError), which):
        fgan.mixture_log_prob(torch.zeros(3), **params)
    with raises((TypeError, ValueError), which):
        fgan.mixture_sample(3, generator=None, **params)


@given(bad_flag, names)
def test_raw_must_be_a_bool(raw, name):
    with raises(TypeError, "raw"):
        fgan.variational_bound(torch.zeros(3), torch.zeros(3), name, raw=raw)
    with raises(TypeError, "raw"):
        fgan.optimal_critic(torch.zeros(3), torch.zeros(3), name, raw=raw)
    with raises(TypeError, "raw"):
        fgan.fgan_losses(torch.zeros(3), torch.zeros(3), name, raw=raw)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple), st.lists(st.integers(0, 3), min_size=1,
                                                                                   max_size=3).map(tuple), names)
def test_critic_values_of_the_wrong_shape_are_rejected(shape_p, shape_q, name):
    def ok(shape):
        return len(shape) in (1, 2) and shape[0] >= 1 and (len(shape) == 1 or shape[1] == 1)

    if ok(shape_p) and ok(shape_q) and len(shape_p) == len(shape_q):
        return
    with raises(ValueError, "critic_p" if not ok(shape_p) else "critic_q"):
        fgan.variational_bound(torch.zeros(shape_p), torch.zeros(shape_q), name)


@given(st.sampled_from([(5,), (4, 1), (6, 1), (5, 1, 1), (5, 0), ()]))
def test_samplers_returning_the_wrong_shape_are_named(shape):
    bad = lambda n, g: torch.zeros(shape)  # noqa: E731
    with raises(ValueError, "sample_p"):
        fgan.estimate_divergence(bad, sampler, "kl", steps=1, eval_size=5, progress=False)
    with raises(ValueError, "sample_q"):
        fgan.estimate_divergence(sampler, bad, "kl", steps=1, eval_size=5, progress=False)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=2), st.lists(st.integers(1, 4), min_size=1, max_size=2),
       names)
def test_integrand_shapes_must_broadcast(shape_p, shape_q, name):
    try:
        torch.broadcast_shapes(tuple(shape_p), tuple(shape_q))
    except RuntimeError:
        with raises(ValueError, "log_p"):
            fgan.get(name).integrand(torch.zeros(shape_p), torch.zeros(shape_q))
    else:
        assert torch.isfinite(fgan.get(name).integrand(torch.zeros(shape_p), torch.zeros(shape_q))).all()
    with raises(TypeError, "log_p"):
        fgan.get(name).integrand(0.5, torch.zeros(shape_q))


@given(st.one_of(st.integers(), st.text(max_size=4), st.none()))
def test_unknown_names_are_rejected(name):
    if name in NAMES:
        return
    with raises(TypeError if not isinstance(name, str) else ValueError, "name" if not isinstance(name, str)
                else "f-divergence"):
        fgan.get(name)


@given(st.floats(allow_nan=True).filter(lambda s: not 0 <= s <= 1), names)
def test_mixing_weight_outside_the_unit_interval_is_rejected(s, name):
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)
    lp = fgan.normal_log_prob(x, 0.0, 1.0)
    with raises(ValueError, "s"):
        fgan.mixed_critic_bound(lp, lp, x, name, s)


# ----------------------------------------------------------------------------------- valid input

@given(st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=6))
def test_wright_omega_log_solves_its_equation(values):
    x = f64(values)
    y = fgan.wright_omega_log(x)
    assert torch.isfinite(y).all()
    # y + e^y = x, checked against scipy's Wright omega where it is a float
    with np.errstate(divide="ignore"):  # ω underflows to 0 far left: log ω = -inf there, masked below
        want = np.log(special.wrightomega(np.asarray(values, dtype=np.float64)).real)
    mask = np.isfinite(want)
    # atol: y near 0 (x near 1) is only known to a rounding error of about 1e-16
    np.testing.assert_allclose(y.numpy()[mask], want[mask], rtol=1e-12, atol=1e-15)


@given(names, raw_values, raw_values)
def test_variational_bound_is_the_mean_of_the_activated_formulas(name, v_p, v_q):
    p, q = np.asarray(v_p), np.asarray(v_q)
    want = ACTIVATION[name](p).mean() - CONJUGATE[name](ACTIVATION[name](q)).mean()
    got = fgan.variational_bound(f64(v_p), f64(v_q), name)
    assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-12)
    critic_loss, generator_loss = fgan.fgan_losses(f64(v_p), f64(v_q), name)
    assert critic_loss.item() == pytest.approx(-want, rel=1e-9, abs=1e-12)
    assert generator_loss.item() == pytest.approx(-CONJUGATE[name](ACTIVATION[name](q)).mean(), rel=1e-9, abs=1e-12)
    bound, error = fgan.bound_with_error(f64(v_p), f64(v_q), name)
    assert bound == pytest.approx(want, rel=1e-9, abs=1e-12)
    se = math.sqrt(np.var(ACTIVATION[name](p), ddof=1) / len(p)
                   + np.var(CONJUGATE[name](ACTIVATION[name](q)), ddof=1) / len(q))
    assert error == pytest.approx(se, rel=1e-7, abs=1e-12)


@given(names, st.lists(st.floats(-4, 4, allow_nan=False), min_size=1, max_size=6))
def test_optimal_critic_attains_fenchel_young_equality(name, log_ratios):
    u = np.exp(np.asarray(log_ratios))
    t = fgan.optimal_critic(f64(log_ratios), torch.zeros(len(log_ratios), dtype=torch.float64), name).numpy()
    if name == "total_variation":  # the subgradient at u = 1 is [-1/2, 1/2]; the package picks 0
        t = t[u != 1]
        u = u[u != 1]
    # f(u) + f*(t) = t u exactly at the tangent t = f'(u)
    np.testing.assert_allclose(F[name](u) + CONJUGATE[name](t), t * u, rtol=1e-9, atol=1e-12)
    v = fgan.optimal_critic(f64(log_ratios), torch.zeros(len(log_ratios), dtype=torch.float64), name, raw=True)
    if name != "total_variation":  # its raw optimum is ±inf
        np.testing.assert_allclose(ACTIVATION[name](v.numpy()), t, rtol=1e-9, atol=1e-12)


@given(names, st.floats(0.01, 50), st.floats(-5, 5))
def test_fenchel_young_inequality_holds_inside_the_domain(name, u, t):
    div = fgan.get(name)
    t_in = torch.tensor([t], dtype=torch.float64)
    if not bool(div.contains(t_in)):
        with raises(ValueError, "t"):
            div.conjugate(t_in)
        return
    gap = div.f(torch.tensor([u], dtype=torch.float64)) + div.conjugate(t_in) - t * u
    assert gap.item() >= -1e-9 * max(1.0, abs(t * u))


@given(names, means, widths, means, widths)
def test_closed_form_rows_satisfy_their_identities(name, m1, s1, m2, s2):
    d = fgan.gaussian_divergence(name, m1, s1, m2, s2)
    assert d >= 0 and not math.isnan(d)
    assert fgan.gaussian_divergence(name, m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-12)
    kl = kl_divergence(Normal(f64(m1), f64(s1)), Normal(f64(m2), f64(s2))).item()
    reverse = kl_divergence(Normal(f64(m2), f64(s2)), Normal(f64(m1), f64(s1))).item()
    if name == "kl":
        assert d == pytest.approx(kl, rel=1e-12, abs=1e-14)
    elif name == "reverse_kl":
        assert d == pytest.approx(reverse, rel=1e-12, abs=1e-14)
    elif name == "jeffrey":
        assert d == pytest.approx(kl + reverse, rel=1e-12, abs=1e-14)
    elif name == "squared_hellinger":   # 2 (1 - Bhattacharyya coefficient ∫ √(pq)), by scipy's quadrature
        bc = integrate.quad(lambda x: np.exp(0.5 * (stats.norm.logpdf(x, m1, s1) + stats.norm.logpdf(x, m2, s2))),
                            -60, 60, points=[m1, m2], epsabs=1e-13, epsrel=1e-12)[0]
        assert d == pytest.approx(2 * (1 - bc), rel=1e-8, abs=1e-11)
    elif name in ("pearson_chi2", "neyman_chi2"):
        # ∫ p²/q = b² / (a √(2b² - a²)) exp(Δ² / (2b² - a²)) for p = N(., a²), q = N(., b²) if 2b² > a²
        a, b = (s1, s2) if name == "pearson_chi2" else (s2, s1)
        if 2 * b**2 <= a**2:
            assert d == math.inf
        else:
            log_ratio = 2 * math.log(b) - math.log(a) - 0.5 * math.log(2 * b**2 - a**2) + (m1 - m2) ** 2 / (
                2 * b**2 - a**2)
            if log_ratio > math.log(np.finfo(np.float64).max):
                assert d == math.inf
            else:
                assert d == pytest.approx(math.expm1(log_ratio), rel=1e-9, abs=1e-12)
        if math.isfinite(d):
            assert d >= math.expm1(kl if name == "pearson_chi2" else reverse) - 1e-9  # χ² >= e^KL - 1
    else:
        assert d <= fgan._DISJOINT[name] + 1e-15
        if name == "total_variation":
            assert d <= math.sqrt(kl / 2) + 1e-9  # Pinsker


@settings(max_examples=8)
@given(means, st.floats(-3, 3), st.floats(0.01, 100))
def test_quadrature_rows_are_bounded_symmetric_and_sandwiched_by_hellinger(m1, log_s1, ratio):
    s1 = math.exp(log_s1)
    m2, s2 = m1 + 2 * s1, s1 * ratio
    h2 = fgan.gaussian_divergence("squared_hellinger", m1, s1, m2, s2)
    tv = fgan.gaussian_divergence("total_variation", m1, s1, m2, s2)
    js = fgan.gaussian_divergence("jensen_shannon", m1, s1, m2, s2)
    assert 0 <= tv <= 1 and 0 <= js <= math.log(2)
    assert tv == pytest.approx(fgan.gaussian_divergence("total_variation", m2, s2, m1, s1), rel=1e-9, abs=1e-12)
    assert fgan.gaussian_divergence("gan", m1, s1, m2, s2) == pytest.approx(2 * js, rel=1e-9, abs=1e-12)
    # h²/2 <= TV <= h sqrt(1 - h²/4), with h² the squared Hellinger distance ∫(√p - √q)²
    assert h2 / 2 - 1e-9 <= tv <= math.sqrt(h2 * (1 - h2 / 4)) + 1e-9
    # TV of two normals by their CDFs between the crossings of the densities (scipy)
    xs = sorted(fgan._normal_crossings(m1, s1, m2, s2))
    edges = [-math.inf, *xs, math.inf]
    mass = [stats.norm.cdf(b, m1, s1) - stats.norm.cdf(a, m1, s1) - stats.norm.cdf(b, m2, s2)
            + stats.norm.cdf(a, m2, s2) for a, b in zip(edges[:-1], edges[1:])]
    assert tv == pytest.approx(sum(m for m in mass if m > 0), rel=1e-8, abs=1e-12)


@given(st.floats(-1e3, 1e3), st.floats(0.0, 60.0), st.sampled_from(["pearson_chi2", "neyman_chi2"]))
def test_chi_squared_is_infinite_or_exact_never_an_overflow_error(m1, gap, name):
    m2 = m1 + gap
    d = fgan.gaussian_divergence(name, m1, 1.0, m2, 1.0)
    gap = m2 - m1  # the gap the floats hold (1 + 1e-45 is 1)
    # equal widths: χ² = e^{gap²} - 1, inf once that passes the largest float
    want = math.inf if gap**2 > 709.78 else math.expm1(gap**2)
    assert d == pytest.approx(want, rel=1e-9, abs=1e-300) if math.isfinite(want) else d == math.inf


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=6), means, st.floats(-30, 30))
def test_normal_log_prob_matches_scipy(xs, mu, log_sigma):
    sigma = math.exp(log_sigma)
    got = fgan.normal_log_prob(f64(xs), mu, sigma)
    np.testing.assert_allclose(got.numpy(), stats.norm.logpdf(np.asarray(xs), mu, sigma), rtol=1e-12)
    as_tensors = fgan.normal_log_prob(f64(xs), f64(mu), f64(sigma))
    np.testing.assert_allclose(as_tensors.numpy(), got.numpy(), rtol=1e-14)


@given(st.lists(st.tuples(st.floats(0.05, 1), means, widths), min_size=1, max_size=3),
       st.lists(st.floats(-20, 20), min_size=1, max_size=5))
def test_mixture_log_prob_matches_scipy(components, xs):
    w = np.array([c[0] for c in components])
    w = w / w.sum()
    m, s = [c[1] for c in components], [c[2] for c in components]
    got = fgan.mixture_log_prob(f64(xs), w.tolist(), m, s)
    want = special.logsumexp(np.log(w) + stats.norm.logpdf(np.asarray(xs)[:, None], m, s), axis=1)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@given(st.integers(1, 50), st.integers(0, 2**63 - 1), st.sampled_from([torch.float32, torch.float64]))
def test_mixture_sample_is_finite_shaped_and_seeded(n, seed, dtype):
    draw = lambda: fgan.mixture_sample(n, (0.3, 0.7), (-2.0, 2.0), (0.5, 0.5),  # noqa: E731
                                       torch.Generator().manual_seed(seed), dtype=dtype)
    a, b = draw(), draw()
    assert a.shape == (n, 1) and a.dtype == dtype and torch.isfinite(a).all() and torch.equal(a, b)


@settings(max_examples=20)
@given(names, means, widths, means, st.floats(0.85, 1.2))
def test_divergence_on_grid_matches_the_references(name, m1, s1, m2, ratio):
    s2 = s1 * ratio  # both χ² finite (2 s2² > s1² and 2 s1² > s2²), their tails inside the grid
    x = torch.linspace(-50, 50, 12_001, dtype=torch.float64)
    lp, lq = fgan.normal_log_prob(x, m1, s1), fgan.normal_log_prob(x, m2, s2)
    grid = fgan.divergence_on_grid(lp, lq, x, name).item()
    truth = fgan.gaussian_divergence(name, m1, s1, m2, s2)
    if name == "kl":  # independent of the package
        truth = kl_divergence(Normal(f64(m1), f64(s1)), Normal(f64(m2), f64(s2))).item()
    # the trapezoidal rule is spectrally accurate for these smooth integrands, O(h²) at TV's kinks
    rel = 1e-3 if name == "total_variation" else 1e-6
    assert math.isfinite(grid) and grid == pytest.approx(truth, rel=rel, abs=1e-9)
    # leading dimensions are separate pairs; a batch of two gives each pair's value
    both = fgan.divergence_on_grid(torch.stack([lp, lq]), torch.stack([lq, lp]), x, name)
    assert both[0].item() == grid


@settings(max_examples=15)
@given(names, means, widths, means, widths)
def test_divergence_quad_matches_the_closed_forms(name, m1, s1, m2, s2):
    if name in BOUNDED:
        return  # these have no closed form; the property above covers them
    truth = fgan.gaussian_divergence(name, m1, s1, m2, s2)
    if not math.isfinite(truth):
        return
    got = fgan.divergence_quad(lambda x: fgan.normal_log_prob(x, m1, s1), lambda x: fgan.normal_log_prob(x, m2, s2),
                               name)
    assert got == pytest.approx(truth, rel=1e-6, abs=1e-9)


@given(names, st.floats(-2, 2), st.floats(0.8, 1.5), st.floats(0.0, 1.0))
def test_mixed_critic_bound_is_zero_at_zero_and_below_the_divergence(name, m2, s2, s):
    # both χ² finite, and Q's mass inside the grid (B(0) = f'(1) (∫p - ∫q) on the grid)
    x = torch.linspace(*fgan.BOUND_GRID, dtype=torch.float64)
    lp, lq = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, m2, s2)
    b = fgan.mixed_critic_bound(lp, lq, x, name, s).item()
    top = fgan.divergence_on_grid(lp, lq, x, name).item()
    assert math.isfinite(b) and b <= top + 1e-9 * max(1.0, top)
    assert abs(fgan.mixed_critic_bound(lp, lq, x, name, 0.0).item()) < 1e-12


@settings(max_examples=8)
@given(st.sampled_from(["kl", "reverse_kl", "squared_hellinger"]), st.floats(-2, 2), st.floats(0.5, 2.0))
def test_fit_gaussian_by_quadrature_recovers_a_normal_target(name, mu, sigma):
    x = torch.linspace(-15, 15, 3001, dtype=torch.float64)
    fit = fgan.fit_gaussian_by_quadrature(fgan.normal_log_prob(x, mu, sigma), x, name, init=(0.0, 1.0))
    assert fit["mu"] == pytest.approx(mu, abs=1e-5) and fit["sigma"] == pytest.approx(sigma, abs=1e-5)
    assert abs(fit["divergence"]) < 1e-9


@settings(max_examples=6)
@given(names, st.integers(0, 2**63 - 1), st.sampled_from([torch.float32, torch.float64]))
def test_short_training_runs_are_finite_and_reproducible(name, seed, dtype):
    def data(n, g):
        return 1 + torch.randn(n, 1, generator=g, dtype=dtype)

    runs = [fgan.train_fgan(data, name, steps=2, batch_size=16, hidden=4, seed=seed, progress=False)
            for _ in range(2)]
    assert runs[0]["mu"] == runs[1]["mu"] and all(map(math.isfinite, runs[0]["mu"] + runs[0]["sigma"]))
    assert runs[0]["generator"].mu.dtype == dtype
    est = [fgan.estimate_divergence(lambda n, g: torch.randn(n, 1, generator=g, dtype=dtype), data, name,
                                    steps=2, batch_size=16, hidden=4, eval_size=20, seed=seed, progress=False)
           for _ in range(2)]
    assert est[0]["estimate"] == est[1]["estimate"] and all(map(math.isfinite, est[0]["estimate"]))


@given(st.integers(1, 4), st.integers(1, 6), means, widths)
def test_critic_and_generator_shapes(dim, n, mu, sigma):
    critic = fgan.Critic(dim, hidden=3)
    assert critic(torch.zeros(n, dim)).shape == (n,)
    gen = fgan.GaussianGenerator(mu, sigma)
    z = torch.linspace(-1, 1, n)
    torch.testing.assert_close(gen(z), mu + sigma * z, rtol=1e-5, atol=1e-5)
