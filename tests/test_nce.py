"""Noise contrastive estimation: definitions, consistency, closed forms, samplers, bad input.

Statistical checks run with fixed seeds and compare against an independent reference (quadrature,
a Bessel closed form, the asymptotic theory, a chi-square law); each comes with a wrong
alternative that the same data must reject, so none can pass vacuously.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from scipy import integrate, special, stats

from companion import nce
from companion.nce import (
    Noise1D, NoiseSampler, alias_table, fit_quartic_nce, full_softmax_loss, nce_asymptotic_covariance,
    nce_logit, nce_loss, negative_sampling_loss, quartic_log_z, sample_quartic, sgns_population_loss,
    shifted_pmi, unigram_noise,
)

P_MIN = 1e-3  # smallest p-value a correct sampler may get (fixed seeds: no flakiness)


def softplus(x):
    return math.log1p(math.exp(x)) if x < 30 else x


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def quartic_moments(a, b, powers):
    log_z = quartic_log_z(a, b)
    return [integrate.quad(lambda x, p=p: x**p * math.exp(-a * x * x - b * x**4 - log_z), -np.inf, np.inf,
                           epsabs=0, epsrel=1e-12)[0] for p in powers]


# --------------------------------------------------------------------------------------------
# The losses against their definitions
# --------------------------------------------------------------------------------------------

def test_nce_loss_equals_its_definition_on_tiny_inputs():
    g_d, g_n = [0.5, -1.0], [0.2, 0.3, -0.4, 1.0]
    lp_d, lp_n = [-1.0, -2.0], [-1.5, -0.5, -3.0, -1.0]
    c, nu = 0.3, 2.0

    def h(g, lp):
        return g - c - math.log(nu) - lp

    want = (sum(softplus(-h(g, lp)) for g, lp in zip(g_d, lp_d)) / 2
            + nu * sum(softplus(h(g, lp)) for g, lp in zip(g_n, lp_n)) / 4)
    t = torch.tensor
    got = nce_loss(t(g_d, dtype=torch.float64), t(g_n, dtype=torch.float64), t(lp_d), t(lp_n), c, nu)
    assert got.shape == () and got.item() == pytest.approx(want, rel=1e-12)
    # nu defaults to M / N = 2, as in Gutmann and Hyvärinen.
    assert nce_loss(t(g_d), t(g_n), t(lp_d), t(lp_n), c).item() == pytest.approx(want, rel=1e-6)
    logits = nce_logit(t(g_d, dtype=torch.float64), t(lp_d, dtype=torch.float64), c, nu)
    assert logits.tolist() == pytest.approx([h(g, lp) for g, lp in zip(g_d, lp_d)], rel=1e-12)


def test_su_offset_form_is_the_special_case_nu_1_with_the_noise_density_in_the_offset():
    # Su: p(1|x) = sigma(G - gamma), uniform noise on [-L, L], one noise sample per datum.
    L, gamma = 4.0, -1.2
    g_d, g_n = torch.randn(7, generator=gen(1)), torch.randn(7, generator=gen(2))
    su = (-torch.log(torch.sigmoid(g_d - gamma)).mean() - torch.log(1 - torch.sigmoid(g_n - gamma)).mean())
    assert nce_loss(g_d, g_n, 0.0, 0.0, gamma, nu=1).item() == pytest.approx(su.item(), rel=1e-6)
    # ... and gamma - log U plays the role of log Z: c = gamma + log(2L).
    log_u = -math.log(2 * L)
    assert nce_loss(g_d, g_n, log_u, log_u, gamma - log_u, nu=1).item() == pytest.approx(su.item(), rel=1e-6)


def test_nce_logit_is_the_bayes_posterior_exactly_when_g_minus_c_is_the_log_density():
    a, b, nu = 0.5, 0.25, 3.0
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    noise = Noise1D("gaussian", 0.5, 1.2)
    log_z = quartic_log_z(a, b)
    p_d = torch.exp(-a * x**2 - b * x**4 - log_z)
    p_n = noise.log_prob(x).exp()
    h = nce_logit(-a * x**2 - b * x**4, noise.log_prob(x), log_z, nu)
    assert torch.allclose(torch.sigmoid(h), p_d / (p_d + nu * p_n), rtol=1e-12, atol=1e-15)
    h_wrong = nce_logit(-a * x**2 - b * x**4, noise.log_prob(x), log_z + 0.1, nu)
    assert not torch.allclose(torch.sigmoid(h_wrong), p_d / (p_d + nu * p_n), rtol=1e-3)


def test_negative_sampling_loss_equals_its_definition_on_tiny_inputs():
    u = torch.tensor([[1.0, 0.0], [0.5, -1.0]], dtype=torch.float64)
    v_pos = torch.tensor([[0.5, 2.0], [1.0, 1.0]], dtype=torch.float64)
    v_neg = torch.tensor([[[1.0, 1.0], [-2.0, 0.0]], [[0.0, 3.0], [2.0, 2.0]]], dtype=torch.float64)
    rows = [softplus(-0.5) + softplus(1.0) + softplus(-2.0),
            softplus(0.5) + softplus(-3.0) + softplus(-1.0)]
    got = negative_sampling_loss(u, v_pos, v_neg, reduction="none")
    assert got.tolist() == pytest.approx(rows, rel=1e-12)
    assert negative_sampling_loss(u, v_pos, v_neg).item() == pytest.approx(sum(rows) / 2, rel=1e-12)
    assert negative_sampling_loss(u, v_pos, v_neg, reduction="sum").item() == pytest.approx(sum(rows), rel=1e-12)


def test_full_softmax_loss_equals_log_sum_exp_minus_the_target_score():
    u = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    weight = torch.tensor([[0.2, 0.1], [-1.0, 2.0], [0.5, 0.5]], dtype=torch.float64)
    bias = torch.tensor([0.0, 0.3, -0.2], dtype=torch.float64)
    scores = [1.0 * w0 - 0.5 * w1 + bb for (w0, w1), bb in zip(weight.tolist(), bias.tolist())]
    want = math.log(sum(math.exp(s) for s in scores)) - scores[2]
    got = full_softmax_loss(u, weight, torch.tensor([2]), bias)
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_gradcheck_in_float64():
    g = gen(3)
    d = dict(dtype=torch.float64)
    g_d = torch.randn(2, 5, generator=g, **d).requires_grad_()
    g_n = torch.randn(2, 7, generator=g, **d).requires_grad_()
    lp_d, lp_n = torch.randn(2, 5, generator=g, **d), torch.randn(2, 7, generator=g, **d)
    c = torch.randn(2, generator=g, **d).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, z: nce_loss(a, b, lp_d, lp_n, z, 1.5), (g_d, g_n, c))
    u = torch.randn(3, 4, generator=g, **d).requires_grad_()
    vp = torch.randn(3, 4, generator=g, **d).requires_grad_()
    vn = torch.randn(3, 2, 4, generator=g, **d).requires_grad_()
    assert torch.autograd.gradcheck(negative_sampling_loss, (u, vp, vn))
    w = torch.randn(6, 4, generator=g, **d).requires_grad_()
    bias = torch.randn(6, generator=g, **d).requires_grad_()
    target = torch.tensor([0, 5, 2])
    assert torch.autograd.gradcheck(lambda a, b, c_: full_softmax_loss(a, b, target, c_), (u, w, bias))
    counts = torch.rand(4, 4, generator=g, **d) + 0.1
    scores = torch.randn(4, 4, generator=g, **d).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: sgns_population_loss(s, counts, 3), (scores,))


def test_data_outside_the_noise_support_add_nothing_and_no_nan():
    g_d = torch.tensor([0.1, -0.3], dtype=torch.float64, requires_grad=True)
    g_n = torch.tensor([0.2], dtype=torch.float64)
    lp_d = torch.tensor([-math.inf, -1.0], dtype=torch.float64)
    loss = nce_loss(g_d, g_n, lp_d, -1.0, 0.0, nu=1)
    loss.backward()
    want = softplus(-(-0.3 + 1.0)) / 2 + softplus(0.2 + 1.0)
    assert loss.item() == pytest.approx(want, rel=1e-12)
    assert g_d.grad.tolist()[0] == 0.0 and math.isfinite(g_d.grad.tolist()[1])


# --------------------------------------------------------------------------------------------
# The quartic example: Z, sampling, consistency, variance
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [(0.5, 0.25), (1.0, 1.0), (0.1, 0.05), (2.0, 1.0), (0.3, 2.0)])
def test_quartic_log_z_matches_the_bessel_closed_form(a, b):
    q = a * a / (8 * b)
    bessel = 0.5 * math.sqrt(a / b) * special.kve(0.25, q)   # kve = kv * e^q
    assert math.exp(quartic_log_z(a, b)) == pytest.approx(bessel, rel=1e-10)


def test_quartic_log_z_reference_values_and_other_signs_of_a():
    assert quartic_log_z(0.5, 0.25) == pytest.approx(0.660235, abs=5e-7)      # brief's reference
    assert math.exp(quartic_log_z(1.0, 1.0)) == pytest.approx(1.368427, abs=5e-7)
    assert math.exp(quartic_log_z(0.0, 2.0)) == pytest.approx(special.gamma(0.25) / (2 * 2.0**0.25), rel=1e-10)
    x = np.linspace(-8, 8, 400_001)
    grid = np.trapezoid(np.exp(1.5 * x * x - 0.5 * x**4), x)                   # a < 0: two modes
    assert math.exp(quartic_log_z(-1.5, 0.5)) == pytest.approx(grid, rel=1e-9)
    assert quartic_log_z(2.0, 0.0) == pytest.approx(0.5 * math.log(math.pi / 2), rel=1e-12)


def test_sample_quartic_follows_the_density():
    a, b = 0.5, 0.25
    x = sample_quartic(a, b, 50_000, gen(0)).numpy()
    grid = np.linspace(-6, 6, 24_001)

    def cdf_of(a_, b_):
        pdf = np.exp(-a_ * grid**2 - b_ * grid**4)
        cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))])
        return lambda v: np.interp(v, grid, cdf / cdf[-1])

    assert stats.kstest(x, cdf_of(a, b)).pvalue > P_MIN
    assert stats.kstest(x, cdf_of(a, b * 1.3)).pvalue < P_MIN       # power: a 30 % error in b
    assert torch.equal(sample_quartic(a, b, 100, gen(5)), sample_quartic(a, b, 100, gen(5)))


def test_population_nce_gradient_vanishes_at_the_true_parameters():
    a, b, nu, n = 0.5, 0.25, 2.0, 200_000
    noise = Noise1D("gaussian", 0.3, 1.5)
    g = gen(7)
    x_d = sample_quartic(a, b, n, g)
    x_n = noise.sample(int(nu * n), g)

    def gradients(c):
        theta = torch.tensor([a, b, c], dtype=torch.float64, requires_grad=True)
        g_d = -theta[0] * x_d**2 - theta[1] * x_d**4
        g_n = -theta[0] * x_n**2 - theta[1] * x_n**4
        loss = nce_loss(g_d, g_n, noise.log_prob(x_d), noise.log_prob(x_n), theta[2], nu)
        (grad,) = torch.autograd.grad(loss, theta)
        # The Monte-Carlo standard error: each sample's term has gradient (its weight) times
        # phi = (-x^2, -x^4, -1), the weights being sigma(-h) for data and nu sigma(h) for noise.
        w_d = torch.sigmoid(-nce_logit(g_d, noise.log_prob(x_d), c, nu)).detach()
        w_n = nu * torch.sigmoid(nce_logit(g_n, noise.log_prob(x_n), c, nu)).detach()
        phi_d = torch.stack([-x_d**2, -x_d**4, -torch.ones_like(x_d)], 1)
        phi_n = torch.stack([-x_n**2, -x_n**4, -torch.ones_like(x_n)], 1)
        se = torch.sqrt((w_d[:, None] * phi_d).var(0) / n + (w_n[:, None] * phi_n).var(0) / x_n.numel())
        return grad, se

    log_z = quartic_log_z(a, b)
    grad, se = gradients(log_z)
    assert (grad.abs() < 4 * se).all(), (grad, se)
    grad, se = gradients(log_z + 0.03)     # power: a 3 % error in Z is detected
    assert grad[2].abs() > 4 * se[2]


def test_nce_recovers_log_z_with_the_predicted_error_that_shrinks_like_one_over_sqrt_n():
    a, b, nu, reps = 0.5, 0.25, 1.0, 60
    noise = Noise1D("gaussian", 0.0, 1.0)
    log_z = quartic_log_z(a, b)
    sd_theory = math.sqrt(nce_asymptotic_covariance(a, b, noise, nu)[2, 2])
    sds = {}
    for n in (400, 6400):
        g = gen(n)
        x_d = sample_quartic(a, b, (reps, n), g)
        fit = fit_quartic_nce(x_d, noise.sample((reps, n), g), noise, nu)
        assert fit.converged.all()
        err = fit.log_z - log_z
        sds[n] = err.std().item()
        # Unbiased up to O(1/N), with the spread the asymptotic theory predicts (±35 % allows
        # for 60 replicates and the small-sample regime at N = 400).
        assert abs(err.mean().item()) < 4 * sds[n] / math.sqrt(reps) + 1.0 / n
        assert 0.65 < sds[n] * math.sqrt(n) / sd_theory < 1.35, (n, sds[n] * math.sqrt(n), sd_theory)
    assert 2.5 < sds[400] / sds[6400] < 6.5      # sixteen times the data: about a quarter the error


def test_asymptotic_covariance_tends_to_maximum_likelihood_as_nu_grows():
    a, b = 0.5, 0.25
    noise = Noise1D("gaussian", 0.0, 1.0)
    m2, m4, m6, m8 = quartic_moments(a, b, [2, 4, 6, 8])
    fisher = np.array([[m4 - m2 * m2, m6 - m2 * m4], [m6 - m2 * m4, m8 - m4 * m4]])   # Cov(x^2, x^4)
    limit = nce_asymptotic_covariance(a, b, noise, math.inf)
    assert np.allclose(limit[:2, :2], np.linalg.inv(fisher), rtol=1e-6)
    grad_log_z = -np.array([m2, m4])
    assert limit[2, 2] == pytest.approx(grad_log_z @ np.linalg.solve(fisher, grad_log_z), rel=1e-6)
    variances = [nce_asymptotic_covariance(a, b, noise, nu)[2, 2] for nu in (1, 3, 10, 100, 1e4)]
    assert all(v1 > v2 for v1, v2 in zip(variances, variances[1:])) and variances[-1] > limit[2, 2]
    assert variances[-1] == pytest.approx(limit[2, 2], rel=1e-3)


def test_asymptotic_covariance_for_a_double_well_matches_replicates():
    # a < 0: two modes at x = +-sqrt(-a / 2b); the theory and the fits must still agree.
    a, b, n, reps = -1.0, 0.5, 4000, 80
    noise = Noise1D("gaussian", 0.0, 1.5)
    g = gen(21)
    x_d = torch.cat([sample_quartic_by_grid(a, b, n, g) for _ in range(reps)]).reshape(reps, n)
    fit = fit_quartic_nce(x_d, noise.sample((reps, n), g), noise)
    sd = math.sqrt(nce_asymptotic_covariance(a, b, noise, 1.0)[2, 2] / n)
    assert 0.7 < fit.log_z.std().item() / sd < 1.3
    assert abs(fit.log_z.mean().item() - quartic_log_z(a, b)) < 4 * sd / math.sqrt(reps)


def sample_quartic_by_grid(a, b, n, generator):
    """Inverse-CDF samples on a fine grid (an independent sampler that also handles a < 0)."""
    grid = torch.linspace(-6, 6, 200_001, dtype=torch.float64)
    pdf = torch.exp(-a * grid**2 - b * grid**4)
    cdf = torch.cumsum(pdf, 0)
    cdf = cdf / cdf[-1]
    return grid[torch.searchsorted(cdf, torch.rand(n, generator=generator, dtype=torch.float64))]


def test_the_variance_grows_as_the_noise_moves_away_from_the_data():
    a, b = 0.5, 0.25
    sd = [nce_asymptotic_covariance(a, b, Noise1D("gaussian", shift, 1.0), 1.0)[2, 2]
          for shift in (0.0, 1.0, 2.0, 3.0)]
    assert all(s1 < s2 for s1, s2 in zip(sd, sd[1:])) and sd[-1] > 20 * sd[0]


def test_fit_is_batched_reproducible_and_consistent_with_uniform_noise():
    a, b = 0.5, 0.25
    noise = Noise1D("uniform", 0.0, 4.0)
    x_d, x_n = sample_quartic(a, b, (3, 20_000), gen(11)), noise.sample((3, 20_000), gen(12))
    batched = fit_quartic_nce(x_d, x_n, noise)
    for i in range(3):
        single = fit_quartic_nce(x_d[i], x_n[i], noise)
        assert single.log_z.item() == pytest.approx(batched.log_z[i].item(), abs=1e-8)
    sd = math.sqrt(nce_asymptotic_covariance(a, b, noise, 1.0)[2, 2] / 20_000)
    assert ((batched.log_z - quartic_log_z(a, b)).abs() < 4 * sd).all()
    assert ((batched.a - a).abs() < 0.15).all() and ((batched.b - b).abs() < 0.1).all()


# --------------------------------------------------------------------------------------------
# Negative sampling: the noise sampler and the shifted-PMI closed form
# --------------------------------------------------------------------------------------------

def implied_probs(threshold, alias):
    p = threshold.clone()
    p.index_add_(0, alias, 1 - threshold)
    return p / threshold.numel()


@pytest.mark.parametrize("case", ["zipf", "random", "zeros", "uniform", "one-hot", "spiky"])
def test_alias_table_gives_back_the_probabilities(case):
    g = gen(4)
    probs = {
        "zipf": unigram_noise(1 / torch.arange(1.0, 20_001.0), 0.75),
        "random": torch.rand(1000, generator=g, dtype=torch.float64),
        "zeros": torch.tensor([0, 0.5, 0, 0.25, 0.25, 0], dtype=torch.float64),
        "uniform": torch.full((7,), 1 / 7, dtype=torch.float64),
        "one-hot": torch.tensor([0, 0, 1.0, 0], dtype=torch.float64),
        "spiky": torch.rand(3000, generator=g, dtype=torch.float64) ** 12,
    }[case]
    probs = probs / probs.sum()
    threshold, alias = alias_table(probs)
    assert ((threshold >= 0) & (threshold <= 1)).all()
    assert torch.allclose(implied_probs(threshold, alias), probs, rtol=0, atol=1e-14)
    # An id of probability 0 is never kept and never an alias that can be reached.
    reachable = alias[threshold < 1]
    assert (probs[reachable] > 0).all() and (threshold[probs == 0] == 0).all()


@pytest.mark.parametrize("method", ["alias", "inverse_cdf"])
def test_sampler_frequencies_match_the_target_chi_square(method):
    counts = torch.cat([1e4 / torch.arange(1.0, 41.0), torch.zeros(3)])   # Zipf, three unseen words
    probs = unigram_noise(counts, 0.75)
    n = 200_000
    draws = NoiseSampler(probs, method).sample((n // 100, 100), gen(9))
    assert draws.shape == (n // 100, 100) and draws.dtype == torch.int64
    observed = torch.bincount(draws.flatten(), minlength=43).numpy()
    assert observed[40:].sum() == 0
    expected = probs.numpy()[:40] * n
    assert stats.chisquare(observed[:40], expected).pvalue > P_MIN
    wrong = unigram_noise(counts, 1.0).numpy()[:40] * n         # power: alpha = 1 instead of 0.75
    assert stats.chisquare(observed[:40], wrong).pvalue < P_MIN


def test_sampler_is_seeded():
    sampler = NoiseSampler.unigram(torch.arange(1.0, 101.0))
    assert torch.equal(sampler.sample(1000, gen(1)), sampler.sample(1000, gen(1)))
    assert not torch.equal(sampler.sample(1000, gen(1)), sampler.sample(1000, gen(2)))


def test_unigram_noise_exponents():
    counts = torch.tensor([8.0, 0.0, 1.0, 3.0])
    assert torch.allclose(unigram_noise(counts, 1.0), counts.double() / 12)
    assert unigram_noise(counts, 0.0).tolist() == pytest.approx([1 / 3, 0, 1 / 3, 1 / 3])
    q = unigram_noise(counts, 0.75)
    assert q.tolist() == pytest.approx((counts.double() ** 0.75 / (counts.double() ** 0.75).sum()).tolist())


def test_shifted_pmi_on_a_hand_made_table():
    counts = torch.tensor([[4.0, 1.0], [2.0, 3.0]])
    total, row, col = 10, [5, 5], [6, 4]
    want = [[math.log(counts[w, c].item() * total / (row[w] * col[c])) - math.log(3) for c in range(2)]
            for w in range(2)]
    assert shifted_pmi(counts, 3).tolist() == [pytest.approx(r, rel=1e-12) for r in want]
    q = torch.tensor([0.25, 0.75], dtype=torch.float64)
    got = shifted_pmi(counts, 1, q)
    assert got[0, 1].item() == pytest.approx(math.log(1 / 5 / 0.75), rel=1e-12)
    zero = shifted_pmi(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), 1)
    assert zero[0, 1].item() == -math.inf


@pytest.mark.parametrize("k,alpha", [(1, 1.0), (5, 1.0), (5, 0.75)])
def test_full_rank_minimiser_of_the_population_loss_is_the_shifted_pmi(k, alpha):
    g = gen(5)
    counts = torch.rand(6, 6, generator=g, dtype=torch.float64) * 50 + 1
    q = unigram_noise(counts.sum(0), alpha)
    u = (0.1 * torch.randn(6, 6, generator=g, dtype=torch.float64)).requires_grad_()
    v = (0.1 * torch.randn(6, 6, generator=g, dtype=torch.float64)).requires_grad_()
    opt = torch.optim.LBFGS([u, v], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sgns_population_loss(u @ v.T, counts, k, q)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    target = shifted_pmi(counts, k, q)
    assert torch.allclose(u @ v.T, target, atol=1e-5)
    if alpha == 1.0 and k > 1:   # the shift is log k, not zero: Su's k = 1 result does not hold
        assert not torch.allclose(u @ v.T, shifted_pmi(counts, 1), atol=0.5)


def test_negative_sampling_loss_is_an_unbiased_estimate_of_the_population_loss():
    g = gen(6)
    counts = torch.rand(8, 8, generator=g, dtype=torch.float64) * 10 + 0.5
    k, n = 4, 100_000
    u, v = torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randn(8, 3, generator=g, dtype=torch.float64)
    cells = NoiseSampler(counts.flatten() / counts.sum()).sample(n, g)
    w, c = cells // 8, cells % 8
    negatives = NoiseSampler.unigram(counts.sum(0), 1.0).sample((n, k), g)
    per_pair = negative_sampling_loss(u[w], v[c], v[negatives], reduction="none")
    mean, se = per_pair.mean().item(), per_pair.std().item() / math.sqrt(n)
    population = sgns_population_loss(u @ v.T, counts, k).item()
    assert abs(mean - population) < 4 * se
    assert abs(mean - sgns_population_loss(u @ v.T, counts, k + 1).item()) > 4 * se   # power


def test_sgd_training_approaches_the_shifted_pmi():
    centres, contexts, _ = nce.topic_corpus(12, 3, 30_000, gen(8))
    counts = torch.zeros(12, 12, dtype=torch.float64)
    counts.index_put_((centres, contexts), torch.ones(centres.numel(), dtype=torch.float64), accumulate=True)
    weight = counts / counts.sum()
    k = 3
    scores, losses = nce.train_sgns(centres, contexts, 12, k, alpha=1.0, steps=400, batch=1024, seed=1)
    assert losses[-50:].mean() < losses[:50].mean()

    def rms(target):
        return math.sqrt(float((weight * (scores - target) ** 2).sum()))

    assert rms(shifted_pmi(counts, k)) < 0.1
    assert rms(shifted_pmi(counts, 1)) > 0.8          # the log k shift is really there (log 3 = 1.1)
    # Self-normalisation: sum_c k q(c) e^{s_wc} is 1 at the closed form; close to it after training.
    q = counts.sum(0) / counts.sum()
    assert torch.allclose((k * q * scores.exp()).sum(1), torch.ones(12, dtype=torch.float64), atol=0.1)


def test_su_form_with_centred_gaussian_noise_is_the_nce_fit_reparametrised():
    # -log N(x; 0, s^2) = x^2 / 2s^2 + log(s sqrt(2 pi)) lies in the quartic family, so leaving it
    # out of the logit shifts a by 1/2s^2 and the offset by log(s sqrt(2 pi)), nothing else.
    a, b, s = 0.5, 0.25, 1.5
    noise = Noise1D("gaussian", 0.0, s)
    g = gen(21)
    x_d, x_n = sample_quartic(a, b, 3000, g), noise.sample(3000, g)
    nce_fit = fit_quartic_nce(x_d, x_n, noise, 1.0)
    su_fit = fit_quartic_nce(x_d, x_n, noise, 1.0, noise_in_logit=False)
    assert su_fit.converged.all() and nce_fit.converged.all()
    assert su_fit.a.item() + 1 / (2 * s * s) == pytest.approx(nce_fit.a.item(), abs=1e-7)
    assert su_fit.b.item() == pytest.approx(nce_fit.b.item(), abs=1e-7)
    assert su_fit.log_z.item() + math.log(s * math.sqrt(2 * math.pi)) == pytest.approx(
        nce_fit.log_z.item(), abs=1e-7)
    # with uniform noise the two forms differ by the constant log U only
    uni = Noise1D("uniform", 0.0, 4.0)
    x_u = uni.sample(3000, g)
    gap = (fit_quartic_nce(x_d, x_u, uni, 1.0).log_z
           - fit_quartic_nce(x_d, x_u, uni, 1.0, noise_in_logit=False).log_z).item()
    assert gap == pytest.approx(math.log(8), abs=1e-7)


def test_su_form_is_inconsistent_when_the_family_cannot_absorb_the_noise():
    # A shifted noise puts a linear term in -log p_n that no even energy absorbs: the density read
    # off Su's fit, e^{G - gamma} p_n, keeps the tilt e^{loc x / s^2}, and its divergence from the
    # truth stays near t^2 Var(x) / 2 (t = loc / s^2) while NCE's falls like 1/N.
    a, b, loc, s, n = 0.5, 0.25, 1.0, 1.5, 20_000
    noise = Noise1D("gaussian", loc, s)
    g = gen(22)
    x_d, x_n = sample_quartic(a, b, n, g), noise.sample(n, g)
    log_z = quartic_log_z(a, b)
    nce_fit = fit_quartic_nce(x_d, x_n, noise, 1.0)
    su = fit_quartic_nce(x_d, x_n, noise, 1.0, noise_in_logit=False)

    def log_true(x):
        return -a * x * x - b * x**4 - log_z

    def kl(log_fit):   # KL(truth || normalised fit), by quadrature
        mass = integrate.quad(lambda x: math.exp(log_fit(x)), -np.inf, np.inf)[0]
        cross = integrate.quad(lambda x: math.exp(log_true(x)) * (log_true(x) - log_fit(x)),
                               -np.inf, np.inf)[0]
        return cross + math.log(mass)

    fa, fb, fc = nce_fit.a.item(), nce_fit.b.item(), nce_fit.log_z.item()
    sa, sb, sg = su.a.item(), su.b.item(), su.log_z.item()
    kl_nce = kl(lambda x: -fa * x * x - fb * x**4 - fc)
    kl_su = kl(lambda x: -sa * x * x - sb * x**4 - sg - 0.5 * ((x - loc) / s) ** 2)
    tilt = loc / s**2
    m2 = quartic_moments(a, b, [2])[0]
    assert kl_nce < 10 / n
    assert 0.5 < kl_su / (tilt * tilt * m2 / 2) < 1.5


def test_noise_exponent_sets_the_asymmetry_of_the_shifted_pmi():
    g = gen(23)
    raw = torch.rand(7, 7, generator=g, dtype=torch.float64) + 0.1
    sym = raw + raw.T
    cond = torch.log(sym / sym.sum(1, keepdim=True))
    for alpha in (0.0, 0.5, 0.75, 1.0):
        s = shifted_pmi(sym, 2, unigram_noise(sym.sum(0), alpha))
        assert torch.allclose(s - s.T, (1 - alpha) * (cond - cond.T), atol=1e-12)
    # the conditional really is asymmetric here, so the identity is not 0 = 0
    assert (cond - cond.T).abs().max() > 0.1
    # on asymmetric counts PMI itself is asymmetric, by exactly the log of the count ratio
    pmi = shifted_pmi(raw + 0.5 * sym, 1)
    assert not torch.allclose(pmi, pmi.T, atol=1e-3)
    sym_pmi = shifted_pmi(sym, 1)
    assert torch.allclose(sym_pmi, sym_pmi.T, atol=1e-12)


def test_population_fit_reaches_the_shifted_pmi_and_a_learned_offset_is_not_identified():
    g = gen(24)
    counts = torch.rand(6, 6, generator=g, dtype=torch.float64) * 40 + 1
    k = 3
    target = shifted_pmi(counts, k)
    fixed, gamma0 = nce.fit_sgns_population(counts, k)
    assert gamma0 == 0.0
    assert torch.allclose(fixed, target, atol=1e-4)
    ends = []
    for start in (-2.0, 4.0):
        logits, gamma = nce.fit_sgns_population(counts, k, offset=start, seed=1)
        assert torch.allclose(logits, target, atol=1e-4)
        ends.append(gamma)
    # The chapter's reading: starting from small vectors, gamma first takes the best common
    # logit -log k and ends near it, not near its start (-2 and 4 here).
    assert all(abs(e - math.log(k)) < 0.5 for e in ends)


def test_population_fit_at_low_rank_is_a_worse_fit_that_improves_with_the_rank():
    g = gen(25)
    counts = torch.rand(10, 10, generator=g, dtype=torch.float64) * 40 + 1
    best = sgns_population_loss(shifted_pmi(counts, 1), counts, 1).item()
    excess = [sgns_population_loss(nce.fit_sgns_population(counts, 1, dim=d)[0], counts, 1).item() - best
              for d in (1, 3, 10)]
    assert excess[0] > excess[1] > 1e-6 and excess[2] < 1e-7


def test_slider_demos_return_figures():
    assert isinstance(nce.plot_quartic_nce(0.5, 0.25, 2.0, "uniform", 4.0, n=300), Figure)
    assert isinstance(nce.plot_negative_sampling(2, 0.75, steps=20, n_pairs=3000), Figure)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_kernels_run_on_cuda():
    g = torch.Generator(device="cuda").manual_seed(0)
    sampler = NoiseSampler.unigram(torch.arange(1.0, 1001.0, device="cuda"))
    draws = sampler.sample((64, 5), g)
    assert draws.is_cuda
    u = torch.randn(64, 8, device="cuda", generator=g)
    v = torch.randn(1000, 8, device="cuda", generator=g)
    assert negative_sampling_loss(u, v[draws[:, 0]], v[draws]).is_cuda
    assert full_softmax_loss(u, v, draws[:, 0]).is_cuda
    x = torch.randn(100, device="cuda", generator=g, dtype=torch.float64)
    assert nce_loss(x, x, 0.0, 0.0, 0.0).is_cuda
    noise = Noise1D()
    x_d, x_n = noise.sample(300, g, device="cuda"), noise.sample(300, g, device="cuda")
    assert fit_quartic_nce(x_d, x_n, noise, noise_in_logit=False).a.is_cuda
    table = torch.rand(5, 5, device="cuda", generator=g, dtype=torch.float64) + 1
    logits, _ = nce.fit_sgns_population(table, 1, offset=0.0, rounds=1)
    assert logits.is_cuda


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

T = torch.zeros(4)
U, VP, VN = torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 5, 2)


@pytest.mark.parametrize("call,error,message", [
    (lambda: nce_loss(T, T, 0.0, 0.0, 0.0, nu=0), ValueError, r"nu must be a finite number > 0, got 0"),
    (lambda: nce_loss(T, T, 0.0, 0.0, 0.0, nu=-1.5), ValueError, r"nu must be a finite number > 0, got -1.5"),
    (lambda: nce_loss(T, T, 0.0, 0.0, 0.0, nu=math.nan), ValueError, r"nu must be a finite number > 0, got nan"),
    (lambda: nce_loss(T, T, 0.0, 0.0, 0.0, nu=True), TypeError, r"nu must be a real number, got True"),
    (lambda: nce_logit(T, 0.0, 0.0, nu=0.0), ValueError, r"nu must be a finite number > 0"),
    (lambda: nce_loss(torch.zeros(2, 4), torch.zeros(3, 4), 0.0, 0.0, 0.0), ValueError,
     r"g_noise must have shape \[..., M\] with M >= 1 and the leading shape of g_data \(2,\), got \(3, 4\)"),
    (lambda: nce_loss(T, torch.zeros(0), 0.0, 0.0, 0.0), ValueError, r"g_noise must have shape"),
    (lambda: nce_loss(torch.zeros(0), T, 0.0, 0.0, 0.0), ValueError, r"g_data must have a non-empty last"),
    (lambda: nce_loss(T, T, torch.zeros(3), 0.0, 0.0), ValueError,
     r"log_pn_data has shape \(3,\), which does not broadcast to g_data's shape \(4,\)"),
    (lambda: nce_loss(T, T, 0.0, torch.zeros(2, 4), 0.0), ValueError, r"log_pn_noise has shape \(2, 4\)"),
    (lambda: nce_loss(T, T, 0.0, 0.0, torch.zeros(2)), ValueError,
     r"log_z has shape \(2,\), which does not broadcast to the leading shape of g \(\)"),
    (lambda: nce_loss(torch.zeros(4, dtype=torch.int64), T, 0.0, 0.0, 0.0), TypeError,
     r"g_data must be a floating-point tensor"),
    (lambda: nce_loss([0.0], T, 0.0, 0.0, 0.0), TypeError, r"g_data must be a torch.Tensor"),
    (lambda: nce_loss(T, T, 0.0, torch.tensor([0.0, -math.inf, 0.0, 0.0]), 0.0), ValueError,
     r"log_pn_noise must be finite"),
    (lambda: nce_loss(T, T, torch.tensor([0.0, math.nan, 0.0, 0.0]), 0.0, 0.0), ValueError,
     r"log_pn_data must be -inf or finite"),
    (lambda: nce_loss(T, T, "a", 0.0, 0.0), TypeError, r"log_pn_data must be a real number"),
    (lambda: negative_sampling_loss(U, VP, torch.zeros(3, 0, 2)), ValueError,
     r"k \(the number of negatives, v_neg.shape\[1\]\) must be >= 1, got 0"),
    (lambda: negative_sampling_loss(U, torch.zeros(3, 4), VN), ValueError,
     r"v_pos must have the shape of u \(3, 2\), got \(3, 4\)"),
    (lambda: negative_sampling_loss(U, VP, torch.zeros(4, 5, 2)), ValueError,
     r"v_neg must have shape \[B, k, d\] = \[3, k, 2\], got \(4, 5, 2\)"),
    (lambda: negative_sampling_loss(U, VP, torch.zeros(3, 2)), ValueError, r"v_neg must have shape \[B, k, d\]"),
    (lambda: negative_sampling_loss(torch.zeros(3), VP, VN), ValueError, r"u must have shape \[B, d\]"),
    (lambda: negative_sampling_loss(U, VP, VN, reduction="avg"), ValueError,
     r"reduction must be one of 'none', 'mean', 'sum', got reduction='avg'"),
    (lambda: full_softmax_loss(U, torch.zeros(5, 3), torch.zeros(3, dtype=torch.int64)), ValueError,
     r"u must be \[B, d\] and weight \[V, d\] with the same d"),
    (lambda: full_softmax_loss(U, torch.zeros(5, 2), torch.zeros(3, dtype=torch.int32)), TypeError,
     r"target must be an int64 tensor"),
    (lambda: full_softmax_loss(U, torch.zeros(5, 2), torch.tensor([0, 5, 1])), ValueError,
     r"target must hold ids in 0..4 \(V = weight.shape\[0\]\), got values from 0 to 5"),
    (lambda: full_softmax_loss(U, torch.zeros(5, 2), torch.zeros(4, dtype=torch.int64)), ValueError,
     r"target must have shape \[B\] = \[3\], got \(4,\)"),
    (lambda: full_softmax_loss(U, torch.zeros(5, 2), torch.zeros(3, dtype=torch.int64), torch.zeros(4)),
     ValueError, r"bias must have shape \[V\] = \[5\], got \(4,\)"),
    (lambda: NoiseSampler(torch.tensor([0.5, -0.1, 0.6])), ValueError,
     r"probs must be non-negative, got -0.1\d* at index 1"),
    (lambda: NoiseSampler(torch.tensor([3.0, 1.0])), ValueError,
     r"probs must sum to one \(within 3.5e-04\), got a sum of 4.0"),
    (lambda: NoiseSampler(torch.tensor([0.5, math.nan])), ValueError, r"probs must be finite"),
    (lambda: NoiseSampler(torch.zeros(2, 2)), ValueError, r"probs must be a non-empty 1-D tensor"),
    (lambda: NoiseSampler(torch.tensor([0.5, 0.5]), method="table"), ValueError,
     r"unknown method 'table'; known: 'alias', 'inverse_cdf'"),
    (lambda: NoiseSampler(torch.tensor([0.5, 0.5])).sample((2, -1)), ValueError,
     r"shape must have non-negative sizes"),
    (lambda: NoiseSampler(torch.tensor([0.5, 0.5])).sample("ab"), TypeError, r"shape must be an int or a tuple"),
    (lambda: unigram_noise(torch.tensor([1.0, -2.0])), ValueError, r"counts must be finite and non-negative"),
    (lambda: unigram_noise(torch.zeros(3)), ValueError, r"counts must not all be zero"),
    (lambda: unigram_noise(torch.ones(3), alpha=-0.5), ValueError, r"alpha must be a finite number >= 0, got -0.5"),
    (lambda: shifted_pmi(torch.ones(2, 2), 0), ValueError, r"k must be an integer >= 1, got 0"),
    (lambda: shifted_pmi(torch.ones(2, 2), 2.5), ValueError, r"k must be an integer >= 1, got 2.5"),
    (lambda: shifted_pmi(torch.ones(2, 2), 1, torch.tensor([0.7, 0.7])), ValueError,
     r"noise_probs must sum to one"),
    (lambda: shifted_pmi(torch.ones(2, 2), 1, torch.tensor([1.2, -0.2])), ValueError,
     r"noise_probs must be non-negative, got -0.2\d* at index 1"),
    (lambda: shifted_pmi(torch.ones(2, 2), 1, torch.tensor([0.2, 0.3, 0.5])), ValueError,
     r"noise_probs must have one entry per context \(counts.shape\[1\] = 2\), got 3"),
    (lambda: shifted_pmi(torch.tensor([[1.0, 1.0], [0.0, 0.0]]), 1), ValueError, r"counts has all-zero rows \[1\]"),
    (lambda: shifted_pmi(torch.ones(3), 1), ValueError, r"counts must be a non-empty \[V_w, V_c\] table"),
    (lambda: sgns_population_loss(torch.zeros(2, 3), torch.ones(2, 2), 1), ValueError,
     r"scores must have the shape of counts \(2, 2\), got \(2, 3\)"),
    (lambda: sgns_population_loss(torch.zeros(2, 2), torch.ones(2, 2), 0), ValueError, r"k must be an integer >= 1"),
    (lambda: nce.train_sgns(torch.zeros(4, dtype=torch.int64), torch.zeros(4, dtype=torch.int64), 3, 0),
     ValueError, r"k must be an integer >= 1, got 0"),
    (lambda: nce.train_sgns(torch.zeros(4, dtype=torch.int64), torch.tensor([0, 1, 3, 1]), 3, 1),
     ValueError, r"centres and contexts must hold ids in 0..2 \(vocab_size\)"),
    (lambda: nce.train_sgns(torch.zeros(4), torch.zeros(4), 3, 1), TypeError,
     r"centres must be an int64 tensor of word ids"),
    (lambda: quartic_log_z(1.0, -0.5), ValueError, r"b must be a finite number >= 0, got -0.5"),
    (lambda: quartic_log_z(-1.0, 0.0), ValueError, r"a must be > 0 when b = 0 \(else Z is infinite\), got a=-1.0"),
    (lambda: sample_quartic(0.0, 1.0, 10), ValueError, r"a must be a finite number > 0, got 0.0"),
    (lambda: Noise1D("laplace"), ValueError, r"unknown family 'laplace'; known: 'gaussian', 'uniform'"),
    (lambda: Noise1D("uniform", 0.0, 0.0), ValueError, r"width must be a finite number > 0, got 0.0"),
    (lambda: fit_quartic_nce(T, T, "gaussian"), TypeError, r"noise must be a Noise1D, got str"),
    (lambda: nce_asymptotic_covariance(0.5, 0.25, Noise1D(), 0.0), ValueError,
     r"nu must be a number > 0 \(math.inf allowed\), got 0.0"),
    (lambda: fit_quartic_nce(T, T, Noise1D(), noise_in_logit=1), TypeError,
     r"noise_in_logit must be True or False, got 1"),
    (lambda: nce.fit_sgns_population(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), 1), ValueError,
     r"counts must be positive everywhere"),
    (lambda: nce.fit_sgns_population(torch.ones(2, 2), 1, offset=math.inf), ValueError,
     r"offset must be a finite number, got inf"),
    (lambda: nce.fit_sgns_population(torch.ones(2, 2), 1, dim=0), ValueError, r"dim must be an integer >= 1"),
])
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------------------------
# bad input and extremes (issue 16)
# --------------------------------------------------------------------------------------------
# The reproductions of the reliability review, each against a closed form or with the error it
# must give (type, parameter name and value).

def test_unigram_noise_is_finite_where_the_powers_overflow_or_underflow():
    # q = c^alpha / sum c^alpha: for two words, q_0 = 1 / (1 + (c_1/c_0)^alpha).
    q = unigram_noise(torch.tensor([1e6, 2e6], dtype=torch.float64), 60.0)
    assert q.tolist() == pytest.approx([1 / (1 + 2.0**60), 2.0**60 / (1 + 2.0**60)], rel=1e-12)
    q = unigram_noise(torch.tensor([2.0, 3.0], dtype=torch.float64), 1000.0)
    small = math.exp(1000 * math.log(2 / 3))            # (2/3)^1000, about 8e-177
    assert q[0].item() == pytest.approx(small / (1 + small), rel=1e-11) and q[1].item() == 1.0
    for scale in (1e200, 1e-200):
        q = unigram_noise(torch.tensor([1.0, 2.0], dtype=torch.float64) * scale, 2.0)
        assert q.tolist() == pytest.approx([0.2, 0.8], rel=1e-14)
    sampler = NoiseSampler.unigram([2.0, 3.0], alpha=1000)          # was "probs must be finite"
    assert sampler.probs[1].item() == 1.0
    assert sampler.sample(100, gen(0)).eq(1).all()


def test_noise1d_log_prob_of_integers_and_numbers_is_floating():
    noise = Noise1D("uniform")
    lp = noise.log_prob(torch.tensor([0, 5]))
    assert lp.dtype == torch.float64 and lp.tolist() == [-math.log(2), -math.inf]
    assert noise.log_prob(0.5).item() == pytest.approx(-math.log(2), rel=1e-15)
    assert Noise1D("gaussian", 1.0, 2.0).log_prob(3).item() == pytest.approx(stats.norm.logpdf(3, 1, 2), rel=1e-14)
    assert math.isnan(noise.log_prob(torch.tensor([math.nan])).item())    # NaN propagates, not -inf
    assert Noise1D("gaussian", 0.0, 1e308).log_prob(0.0).item() == pytest.approx(
        -math.log(1e308) - 0.5 * math.log(2 * math.pi), rel=1e-14)        # log(width * 2.5) overflowed
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor or a real number, got str"):
        noise.log_prob("a")


@pytest.mark.parametrize("a", [1e-8, 1e-9, 1.0, 1e8, 1e20, 1e300])
def test_quartic_log_z_of_a_narrow_or_wide_gaussian(a):
    assert quartic_log_z(a, 0.0) == pytest.approx(0.5 * math.log(math.pi / a), rel=1e-13, abs=1e-13)


@pytest.mark.parametrize("b", [1e-20, 1e-18, 1.0, 1e14, 1e20, 1e300])
def test_quartic_log_z_of_a_narrow_or_wide_pure_quartic(b):
    expected = math.log(special.gamma(0.25) / 2) - 0.25 * math.log(b)
    assert quartic_log_z(0.0, b) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def bessel_log_z(a, b):
    """log Z from the Bessel closed forms, in mpmath with enough digits for e^q K(q) at large q.

    a > 0: Z = sqrt(a/b)/2 e^q K_1/4(q), q = a^2/8b.  a = -c < 0: Z = pi/2 sqrt(c/2b) e^q
    (I_-1/4(q) + I_1/4(q)), q = c^2/8b (the double well's standard integral)."""
    q = mpmath.mpf(a) ** 2 / (8 * mpmath.mpf(b))
    with mpmath.workdps(30 + max(0, int(mpmath.log10(q)))):
        q = mpmath.mpf(a) ** 2 / (8 * mpmath.mpf(b))
        if a > 0:
            z = mpmath.sqrt(mpmath.mpf(a) / b) / 2 * mpmath.exp(q) * mpmath.besselk(0.25, q)
        else:
            z = (mpmath.pi / 2 * mpmath.sqrt(-mpmath.mpf(a) / (2 * b)) * mpmath.exp(q)
                 * (mpmath.besseli(-0.25, q) + mpmath.besseli(0.25, q)))
        return float(mpmath.log(z))


@pytest.mark.parametrize("a,b", [(1e3, 1e-3), (1e-3, 1e3), (50.0, 1e-6), (1e-6, 1e6), (1e6, 1e-6), (1e-9, 1e-9)])
def test_quartic_log_z_at_extreme_ratios_matches_the_bessel_closed_form(a, b):
    assert quartic_log_z(a, b) == pytest.approx(bessel_log_z(a, b), rel=1e-11, abs=1e-11)


@pytest.mark.parametrize("a,b", [(-1.0, 1.0), (-30.0, 1.0), (-1e3, 1.0), (-1e4, 1e-3), (-1e-6, 1.0), (-1.0, 1e-12)])
def test_quartic_log_z_of_a_double_well_matches_its_bessel_closed_form(a, b):
    assert quartic_log_z(a, b) == pytest.approx(bessel_log_z(a, b), rel=1e-11, abs=1e-11)
    # a double well deeper than the float range has log Z beyond it
    assert quartic_log_z(-1e8, 1e-300) == math.inf


def test_sample_quartic_where_the_gaussian_proposal_almost_never_accepts():
    # a = 1e-16: the N(0, 1/2a) proposal accepts ~1e-8 of its draws (8.6 GB for 10 samples);
    # the density is exp(-x^4) to 1e-16, whose |x|^4 is Gamma(1/4, 1)-distributed.
    x = sample_quartic(1e-16, 1.0, 20_000, gen(0))
    assert x.shape == (20_000,) and torch.isfinite(x).all()
    assert stats.kstest(x.numpy() ** 4, stats.gamma(0.25).cdf).pvalue > P_MIN
    assert stats.kstest(x.numpy() ** 4, stats.gamma(0.25, scale=1.3).cdf).pvalue < P_MIN   # power
    assert torch.equal(sample_quartic(1e-16, 1.0, 100, gen(3)), sample_quartic(1e-16, 1.0, 100, gen(3)))
    assert sample_quartic(1e-16, 1.0, 10, gen(0), dtype=torch.float32).dtype == torch.float32


def test_sample_quartic_with_the_tighter_proposal_follows_the_density():
    a, b = 0.1, 1.0           # the N(0, 1/2a) proposal would accept 31 %: the tighter one is used
    x = sample_quartic(a, b, 50_000, gen(1)).numpy()
    grid = np.linspace(-4, 4, 16_001)
    pdf = np.exp(-a * grid**2 - b * grid**4)
    cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))])
    assert stats.kstest(x, lambda v: np.interp(v, grid, cdf / cdf[-1])).pvalue > P_MIN
    second = np.mean(x**2)     # E[x^2] = -d log Z / da, by a central difference
    expected = -(quartic_log_z(a + 1e-5, b) - quartic_log_z(a - 1e-5, b)) / 2e-5
    assert abs(second - expected) < 5 * np.std(x**2) / math.sqrt(x.size)


def test_full_softmax_loss_mean_of_an_empty_batch_is_an_error():
    with pytest.raises(ValueError, match=r"reduction='mean' of an empty batch is undefined"):
        full_softmax_loss(torch.empty(0, 3), torch.zeros(5, 3), torch.empty(0, dtype=torch.int64))
    assert full_softmax_loss(torch.empty(0, 3), torch.zeros(5, 3), torch.empty(0, dtype=torch.int64),
                             reduction="sum").item() == 0.0


def test_nce_kernels_propagate_nan_in_model_outputs_as_documented():
    assert math.isnan(nce_logit(torch.tensor([math.nan, 0.0]), 0.0, 0.0)[0].item())
    assert math.isnan(nce_loss(torch.tensor([math.nan, 0.0]), T, 0.0, 0.0, 0.0).item())
    assert math.isnan(negative_sampling_loss(U * math.nan, VP, VN).item())


def test_fit_quartic_nce_on_two_data_points_is_finite():
    fit = fit_quartic_nce(torch.tensor([-0.5, 0.7], dtype=torch.float64), Noise1D().sample(50, gen(0)), Noise1D())
    assert torch.isfinite(torch.stack([fit.a, fit.b, fit.log_z])).all()


def test_topic_corpus_with_a_steep_negative_zipf_concentrates_instead_of_overflowing():
    centres, contexts, joint = nce.topic_corpus(10, 2, 1000, gen(0), zipf=-1e6)
    # (w + 1)^1e6: the last word outweighs the rest by a factor (10/9)^1e6 = e^105360.
    assert torch.isfinite(joint).all() and joint.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert joint[9, 9].item() == pytest.approx(1.0, abs=1e-12)
    assert (centres == 9).all() and (contexts == 9).all()


def test_train_sgns_reports_divergence_instead_of_returning_nan():
    centres, contexts, _ = nce.topic_corpus(6, 2, 400, gen(0))
    with pytest.raises(RuntimeError, match=r"train_sgns diverged: .* lr=1e\+300 is too large"):
        nce.train_sgns(centres, contexts, 6, 1, steps=3, lr=1e300)


C64 = torch.zeros(4, dtype=torch.int64)
XD = torch.linspace(-1, 1, 8, dtype=torch.float64)


@pytest.mark.parametrize("call,error,message", [
    (lambda: NoiseSampler(torch.tensor([0.5, 0.5])).sample(3, 42), TypeError,
     r"generator must be a torch.Generator or None, got int"),
    (lambda: sample_quartic(1.0, 1.0, -1), ValueError, r"shape must have non-negative sizes, got \(-1,\)"),
    (lambda: sample_quartic(1.0, 1.0, "a"), TypeError, r"shape must be an int or a tuple of ints, got 'a'"),
    (lambda: sample_quartic(1.0, 1.0, 3, 42), TypeError, r"generator must be a torch.Generator or None, got int"),
    (lambda: sample_quartic(1.0, 1.0, 3, dtype=torch.int64), TypeError,
     r"dtype must be a floating-point torch.dtype, got torch.int64"),
    (lambda: sample_quartic(1.0, -1.0, 3), ValueError, r"b must be a finite number >= 0, got -1.0"),
    (lambda: Noise1D().sample(3, "a"), TypeError, r"generator must be a torch.Generator or None, got str"),
    (lambda: Noise1D().sample(-2), ValueError, r"shape must have non-negative sizes"),
    (lambda: Noise1D("gaussian", math.nan), ValueError, r"loc must be a finite number, got nan"),
    (lambda: fit_quartic_nce(XD, XD, Noise1D(), tol=-1), ValueError, r"tol must be a finite number > 0, got -1"),
    (lambda: fit_quartic_nce(XD, XD, Noise1D(), tol=math.nan), ValueError, r"tol must be a finite number > 0, got nan"),
    (lambda: fit_quartic_nce(XD[:1], XD, Noise1D()), ValueError,
     r"x_data must have at least 2 samples in its last dimension .* got shape \(1,\)"),
    (lambda: fit_quartic_nce(XD[:0], XD, Noise1D()), ValueError, r"x_data must have at least 2 samples"),
    (lambda: fit_quartic_nce(torch.tensor([0.0, math.nan], dtype=torch.float64), XD, Noise1D()), ValueError,
     r"x_data must be finite, got nan at index \(1,\)"),
    (lambda: fit_quartic_nce(XD, torch.tensor([0.0, math.inf], dtype=torch.float64), Noise1D()), ValueError,
     r"x_noise must be finite, got inf"),
    (lambda: fit_quartic_nce(XD, XD[None], Noise1D()), ValueError, r"x_noise must have shape \[..., M\]"),
    (lambda: nce.topic_corpus(zipf=math.nan, n_pairs=10), ValueError, r"zipf must be a finite number, got nan"),
    (lambda: nce.topic_corpus(n_pairs=10, generator=42), TypeError, r"generator must be a torch.Generator or None"),
    (lambda: nce.train_sgns(C64, C64, 3, 1, steps=2, lr=math.inf), ValueError,
     r"lr must be a finite number > 0, got inf"),
    (lambda: nce.train_sgns(C64, C64, 3, 1, steps=2, lr=-1), ValueError, r"lr must be a finite number > 0, got -1"),
    (lambda: nce.train_sgns(C64, C64, 3, 1, steps=2, seed=-1), ValueError,
     r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda: nce.train_sgns(C64, C64, 3, 1, steps=2, seed="a"), ValueError, r"seed must be an integer .* got 'a'"),
    (lambda: nce.fit_sgns_population(torch.ones(2, 2), 1, seed=-1), ValueError, r"seed must be an integer"),
    (lambda: unigram_noise("abc"), TypeError, r"counts must be a non-empty 1-D tensor of real counts, got 'abc'"),
    (lambda: unigram_noise(torch.ones(2), alpha=math.nan), ValueError, r"alpha must be a finite number, got nan"),
    (lambda: alias_table("ab"), TypeError, r"probs must be a 1-D tensor or sequence of probabilities, got 'ab'"),
    (lambda: nce_logit(T, 0.0, math.nan), ValueError, r"log_z must be a finite number, got nan"),
    (lambda: nce_logit(T, math.inf, 0.0), ValueError, r"log_pn must be a finite number or -inf .* got inf"),
    (lambda: nce_loss(T, T, 0.0, 0.0, math.inf), ValueError, r"log_z must be a finite number, got inf"),
    (lambda: full_softmax_loss(U, torch.zeros(0, 2), torch.zeros(3, dtype=torch.int64)), ValueError,
     r"weight must have at least one row"),
    (lambda: nce_asymptotic_covariance(0.5, 0.25, Noise1D(), math.nan), ValueError, r"nu must be a number > 0"),
])
def test_issue16_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
