"""Properties of companion.fgan (chapter: f-GAN)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, special, stats

from companion import fgan

NAMES = fgan.NAMES


pytestmark = pytest.mark.usefixtures("float64", "one_thread")  # see conftest.py


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# The divergences as their textbook integrands, written here with numpy and independently of the
# package: the registry's f must reproduce them through q f(p/q).
FORMULAS = {
    "total_variation": lambda p, q: 0.5 * np.abs(p - q),
    "kl": lambda p, q: p * np.log(p / q),
    "reverse_kl": lambda p, q: q * np.log(q / p),
    "pearson_chi2": lambda p, q: (p - q) ** 2 / q,
    "neyman_chi2": lambda p, q: (q - p) ** 2 / p,
    "squared_hellinger": lambda p, q: (np.sqrt(p) - np.sqrt(q)) ** 2,
    "jeffrey": lambda p, q: (p - q) * np.log(p / q),
    "jensen_shannon": lambda p, q: 0.5 * (p * np.log(2 * p / (p + q)) + q * np.log(2 * q / (p + q))),
    "gan": lambda p, q: p * np.log(p / (p + q)) + q * np.log(q / (p + q)) + q * np.log(4),
}


# dom f* as (lo, hi, lo included, hi included), from the conjugates derived by hand
DOMAINS = {
    "total_variation": (-0.5, 0.5, True, True),
    "kl": (-math.inf, math.inf, False, False),
    "reverse_kl": (-math.inf, 0.0, False, False),
    "pearson_chi2": (-2.0, math.inf, True, False),
    "neyman_chi2": (-math.inf, 1.0, False, True),
    "squared_hellinger": (-math.inf, 1.0, False, False),
    "jeffrey": (-math.inf, math.inf, False, False),
    "jensen_shannon": (-math.inf, 0.5 * math.log(2), False, False),
    "gan": (-math.inf, 0.0, False, False),
}


def test_registry_has_su_eight_rows_and_the_gan():
    assert set(NAMES) == set(FORMULAS) == set(DOMAINS)
    for name, (lo, hi, lo_in, hi_in) in DOMAINS.items():
        assert fgan.get(name).domain == (lo, hi) and fgan.get(name).closed == (lo_in, hi_in), name
    assert fgan.get("pearson_chi2").su_label == "Neyman χ²"
    assert fgan.get("neyman_chi2").su_label == "Pearson χ²"
    for name in NAMES:
        assert name in fgan.table()


# ----------------------------------------------------------------------------------------------
# the generators f


def u_grid(lo=1e-3, hi=1e3, n=4001):
    return torch.logspace(math.log10(lo), math.log10(hi), n)


@pytest.mark.parametrize("name", NAMES)
def test_f_vanishes_at_one_and_is_convex(name):
    div = fgan.get(name)
    assert abs(div.f(torch.ones(1)).item()) < 1e-15
    u = u_grid()
    f = div.f(u)
    slopes = (f[1:] - f[:-1]) / (u[1:] - u[:-1])
    assert (slopes[1:] - slopes[:-1] >= -1e-9 * slopes.abs()[1:].clamp_min(1)).all()
    # so f lies above its tangent at 1, which with f(1) = 0 makes every D_f >= 0
    tangent = div.f_prime(torch.ones(1)) * (u - 1)
    assert (f - tangent >= -1e-12 * f.abs().clamp_min(1)).all()


@pytest.mark.parametrize("name", NAMES)
def test_f_prime_is_the_derivative(name):
    div = fgan.get(name)
    u = u_grid(1e-2, 1e2, 301)
    u = u[(u - 1).abs() > 1e-3]  # away from total variation's kink
    h = 1e-6 * u
    numeric = (div.f(u + h) - div.f(u - h)) / (2 * h)
    torch.testing.assert_close(div.f_prime(u), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_integrand_is_the_labelled_formula_and_q_f_of_the_ratio(name):
    """The χ² naming trap: each row's f, under D_f = ∫ q f(p/q), must give its own formula."""
    div = fgan.get(name)
    log_p, log_q = rand(500, seed=1) * 3 - 2, rand(500, seed=2) * 3 - 2
    p, q = log_p.exp(), log_q.exp()
    expected = FORMULAS[name](p.numpy(), q.numpy())
    np.testing.assert_allclose(div.integrand(log_p, log_q).numpy(), expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose((q * div.f(p / q)).numpy(), expected, rtol=1e-9, atol=1e-14)


def test_integrands_stay_finite_where_the_ratio_is_extreme():
    log_p = torch.tensor([-700.0, -1.0, -1.0, -300.0])
    log_q = torch.tensor([-1.0, -700.0, -1.0, -310.0])
    for name in NAMES:
        assert torch.isfinite(fgan.get(name).integrand(log_p, log_q)).all(), name


# ----------------------------------------------------------------------------------------------
# the conjugates


def slopes_inside(div, n=41):
    """t = f'(u) for u in [0.05, 20] (so that sup_u is attained well inside u's grid)."""
    if div.name == "total_variation":
        return torch.linspace(-0.5, 0.5, n)
    return div.f_prime(torch.logspace(math.log10(0.05), math.log10(20), n))


def numerical_sup(div, t):
    """sup_{u >= 0} (t u - f(u)): a log grid, then Brent's method around the best grid point."""
    logu = np.linspace(-6, 4, 4001)
    values = t * 10**logu - div.f(torch.tensor(10**logu)).numpy()
    best = int(np.argmax(values))
    lo, hi = logu[max(best - 1, 0)], logu[min(best + 1, len(logu) - 1)]

    def negative(a):
        return -(t * 10**a - div.f(torch.tensor(10**a)).item())

    res = optimize.minimize_scalar(negative, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-12})
    at_zero = -div.f(torch.zeros(1)).item()  # u = 0 where f(0) is finite
    return max(-res.fun, values[best], at_zero)


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_numerical_sup(name):
    div = fgan.get(name)
    t = slopes_inside(div)
    ours = div.conjugate(t)
    sup = torch.tensor([numerical_sup(div, ti) for ti in t.tolist()])
    torch.testing.assert_close(ours, sup, rtol=1e-8, atol=1e-8)


def test_jeffrey_conjugate_matches_scipy_lambertw():
    t = torch.linspace(-20, 20, 401)
    w = special.lambertw(np.exp(1 - t.numpy())).real
    np.testing.assert_allclose(fgan.get("jeffrey").conjugate(t).numpy(), w + 1 / w + t.numpy() - 2,
                               rtol=1e-12, atol=1e-14)


def test_wright_omega_matches_scipy_and_has_its_derivative():
    x = torch.linspace(-700, 700, 14001)
    np.testing.assert_allclose(fgan.wright_omega_log(x).exp().numpy(), special.wrightomega(x.numpy()),
                               rtol=1e-13)
    x = torch.linspace(-5, 5, 41, requires_grad=True)
    y = fgan.wright_omega_log(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    omega = y.exp().detach()
    torch.testing.assert_close(grad, 1 / (1 + omega))  # d log ω/dx = 1/(1 + ω)


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_young_holds_with_equality_on_the_tangent(name):
    div = fgan.get(name)
    u = u_grid(1e-2, 1e2, 201)
    t = slopes_inside(div, 61)
    gap = div.f(u)[:, None] + div.conjugate(t)[None, :] - u[:, None] * t[None, :]
    assert (gap >= -1e-10 * (1 + gap.abs())).all()
    tangent = div.f_prime(u)
    equality = div.f(u) + div.conjugate(tangent) - u * tangent
    torch.testing.assert_close(equality, torch.zeros_like(u), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_activation_maps_the_real_line_into_the_domain(name):
    div = fgan.get(name)
    v = torch.linspace(-30, 30, 6001)
    t = div.activation(v)
    lo, hi, lo_in, hi_in = DOMAINS[name]
    assert ((t >= lo) if lo_in else (t > lo)).all() and ((t <= hi) if hi_in else (t < hi)).all()
    assert div.contains(t).all()
    assert torch.isfinite(div.conjugate(t)).all()
    middle = v.abs() <= 15
    torch.testing.assert_close(div.conjugate_of_activation(v)[middle], div.conjugate(t)[middle],
                               rtol=1e-9, atol=1e-12)
    # the fused form stays finite in float32 even where the activation rounds onto an open end
    assert torch.isfinite(div.conjugate_of_activation(v.float().clamp(-40, 40))).all()


@pytest.mark.parametrize("name", NAMES)
def test_optimal_raw_critic_activates_to_the_optimal_critic(name):
    div = fgan.get(name)
    r = torch.linspace(-5, 5, 101)
    t_star = div.optimal_critic(r)
    torch.testing.assert_close(t_star, div.f_prime(r.exp()))
    if name != "total_variation":  # its raw optimum is ±inf; the activation only approaches ±1/2
        torch.testing.assert_close(div.activation(div.optimal_critic(r, raw=True)), t_star)


def test_total_variation_raw_optimum_is_infinite():
    v = fgan.get("total_variation").optimal_critic(torch.tensor([-1.0, 0.0, 2.0]), raw=True)
    assert v.tolist() == [-math.inf, 0.0, math.inf]


# ----------------------------------------------------------------------------------------------
# reference divergences


PAIRS = [(0.0, 1.0, 1.0, 1.5), (0.0, 1.0, 1.0, 1.0), (0.5, 1.1, -0.3, 0.9), (0.0, 1.0, 1.5, 1.2)]


def reference(name, m1, s1, m2, s2):
    """The divergence by scipy quadrature of the numpy formula above (inf when it diverges)."""
    if name == "neyman_chi2" and 2 * s1**2 <= s2**2 or name == "pearson_chi2" and 2 * s2**2 <= s1**2:
        return math.inf

    def integrand(x):
        p, q = stats.norm.pdf(x, m1, s1), stats.norm.pdf(x, m2, s2)
        return FORMULAS[name](p, q) if p > 0 and q > 0 else 0.0

    lo, hi = min(m1, m2) - 30 * max(s1, s2), max(m1, m2) + 30 * max(s1, s2)
    return integrate.quad(integrand, lo, hi, points=[m1, m2], limit=500, epsabs=1e-13, epsrel=1e-11)[0]


def test_gaussian_divergence_closed_forms():
    # the brief's pair: KL = ln 1.5 + (1 + 1)/(2 * 2.25) - 1/2
    assert fgan.gaussian_divergence("kl", 0, 1, 1, 1.5) == pytest.approx(math.log(1.5) + 2 / 4.5 - 0.5, rel=1e-14)
    assert fgan.gaussian_divergence("neyman_chi2", 0, 1, 1, 1.5) == math.inf
    for pair in PAIRS:
        for name in NAMES:
            ours, ref = fgan.gaussian_divergence(name, *pair), reference(name, *pair)
            assert ours == pytest.approx(ref, rel=1e-7, abs=1e-10), (name, pair)


def test_gan_divergence_is_twice_jensen_shannon():
    for pair in PAIRS:
        assert fgan.gaussian_divergence("gan", *pair) == pytest.approx(
            2 * fgan.gaussian_divergence("jensen_shannon", *pair), rel=1e-9)
        assert fgan.gaussian_divergence("jensen_shannon", *pair) <= math.log(2)


@pytest.mark.parametrize("name", NAMES)
def test_divergence_on_grid_and_by_quad(name):
    m1, s1, m2, s2 = 0.5, 1.1, -0.3, 0.9
    x = torch.linspace(-20, 20, 40_001)
    grid = fgan.divergence_on_grid(fgan.normal_log_prob(x, m1, s1), fgan.normal_log_prob(x, m2, s2), x, name)
    truth = reference(name, m1, s1, m2, s2)
    assert grid.item() == pytest.approx(truth, rel=1e-5, abs=1e-7)
    quad = fgan.divergence_quad(lambda z: fgan.normal_log_prob(z, m1, s1),
                                lambda z: fgan.normal_log_prob(z, m2, s2), name)
    assert quad == pytest.approx(truth, rel=1e-6, abs=1e-9)


def test_divergence_on_grid_batches_leading_dimensions():
    x = torch.linspace(-12, 12, 4001)
    log_p = fgan.normal_log_prob(x, 0.0, 1.0).expand(3, -1)
    log_q = torch.stack([fgan.normal_log_prob(x, m, 1.0) for m in (0.0, 1.0, 2.0)])
    kl = fgan.divergence_on_grid(log_p, log_q, x, "kl")
    torch.testing.assert_close(kl, torch.tensor([0.0, 0.5, 2.0]), atol=1e-9, rtol=1e-7)


# ----------------------------------------------------------------------------------------------
# the variational bound


def bound_by_quad(name, pair, s):
    """∫ p T_s - q f*(T_s) for T_s = s T* + (1 - s) f'(1), by quadrature (raw path at s = 1)."""
    div = fgan.get(name)
    m1, s1, m2, s2 = pair
    c = div.f_prime(torch.ones(()))

    def integrand(x):
        x = torch.tensor(x)
        lp, lq = fgan.normal_log_prob(x, m1, s1), fgan.normal_log_prob(x, m2, s2)
        if s == 1:
            v = div.optimal_critic(lp - lq, raw=True)
            t, conj = div.activation(v), div.conjugate_of_activation(v)
        else:
            t = s * div.optimal_critic(lp - lq) + (1 - s) * c
            conj = div.conjugate(t)
        return float(lp.exp() * t - lq.exp() * conj)

    lo, hi = min(m1, m2) - 30 * max(s1, s2), max(m1, m2) + 30 * max(s1, s2)
    crossings = fgan._normal_crossings(m1, s1, m2, s2)
    points = sorted([m1, m2] + [z for z in crossings if lo < z < hi])
    return integrate.quad(integrand, lo, hi, points=points, limit=500, epsabs=1e-13, epsrel=1e-11)[0]


@pytest.mark.parametrize("name", NAMES)
def test_bound_is_below_the_divergence_and_tight_at_the_optimal_critic(name):
    for pair in PAIRS:
        truth = reference(name, *pair)
        if not math.isfinite(truth) or truth == 0:
            continue
        assert bound_by_quad(name, pair, 1.0) == pytest.approx(truth, rel=1e-7, abs=1e-10), pair
        previous = 0.0
        for s in (0.0, 0.25, 0.5, 0.8, 0.95):
            b = bound_by_quad(name, pair, s)
            assert previous - 1e-12 <= b < truth, (pair, s)  # increasing in s, strictly below truth
            previous = b
        assert abs(bound_by_quad(name, pair, 0.0)) < 1e-9  # the constant critic f'(1) gives 0


def quantiles(m, s, n):
    """n evenly spread "samples": the quantiles at (i + 1/2)/n of N(m, s^2)."""
    return torch.tensor(stats.norm.ppf((np.arange(n) + 0.5) / n, m, s))


@pytest.mark.parametrize("name", NAMES)
def test_sample_bound_is_below_the_truth_for_perturbed_critics(name):
    m1, s1, m2, s2 = 0.0, 1.0, 1.0, 1.0  # equal widths: every moment of p/q is finite
    truth = reference(name, m1, s1, m2, s2)
    x_p, x_q = quantiles(m1, s1, 100_000), quantiles(m2, s2, 100_000)
    limit = 3.0 if name == "total_variation" else 50.0  # tanh saturates: keep its input moving

    def raw_critic(x, wiggle=0.0):
        v = fgan.optimal_critic(fgan.normal_log_prob(x, m1, s1), fgan.normal_log_prob(x, m2, s2), name, raw=True)
        return v.clamp(-limit, limit) + wiggle * torch.sin(3 * x)

    best = fgan.variational_bound(raw_critic(x_p), raw_critic(x_q), name).item()
    assert best == pytest.approx(truth, rel=1e-2)
    for wiggle in (0.3, -0.3):
        worse = fgan.variational_bound(raw_critic(x_p, wiggle), raw_critic(x_q, wiggle), name).item()
        assert worse < best


@pytest.mark.parametrize("name", ["kl", "squared_hellinger", "jensen_shannon", "reverse_kl"])
def test_monte_carlo_bound_at_the_optimum_estimates_the_divergence(name):
    g = torch.Generator().manual_seed(0)
    n = 200_000
    x_p, x_q = torch.randn(n, generator=g), 1 + 1.2 * torch.randn(n, generator=g)

    def raw(x):
        return fgan.optimal_critic(fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.2),
                                   name, raw=True)

    div = fgan.get(name)
    t_p, c_q = div.activation(raw(x_p)), div.conjugate_of_activation(raw(x_q))
    error = math.sqrt(t_p.var() / n + c_q.var() / n)
    estimate = fgan.variational_bound(raw(x_p), raw(x_q), name).item()
    assert abs(estimate - reference(name, 0.0, 1.0, 1.0, 1.2)) < 4 * error


def test_su_objectives_in_closed_form():
    """Su's worked examples: the bound of each row, written out by hand."""
    v_p, v_q = rand(300, seed=3), rand(200, seed=4)
    sig = torch.sigmoid
    cases = {
        # KL, T = v: E_p[v] - E_q[e^{v - 1}]
        "kl": v_p.mean() - torch.exp(v_q - 1).mean(),
        # Hellinger, T = 1 - e^v: 2 - E_p[e^v] - E_q[e^{-v}]
        "squared_hellinger": 2 - v_p.exp().mean() - (-v_q).exp().mean(),
        # reverse KL, T = -e^v: -E_p[e^v] + 1 + E_q[v]
        "reverse_kl": -v_p.exp().mean() + 1 + v_q.mean(),
        # Jensen–Shannon with D = σ(v): (E_p log D + E_q log(1 - D))/2 + log 2, the GAN's objective
        "jensen_shannon": 0.5 * (sig(v_p).log().mean() + (1 - sig(v_q)).log().mean()) + math.log(2),
        # the GAN row: E_p log D + E_q log(1 - D) + log 4
        "gan": sig(v_p).log().mean() + (1 - sig(v_q)).log().mean() + math.log(4),
        # total variation, T = tanh(v)/2: (E_p tanh v - E_q tanh v)/2
        "total_variation": 0.5 * (torch.tanh(v_p).mean() - torch.tanh(v_q).mean()),
    }
    for name, expected in cases.items():
        torch.testing.assert_close(fgan.variational_bound(v_p, v_q, name), expected, rtol=1e-12, atol=1e-12)


def test_js_optimal_discriminator_is_p_over_p_plus_q():
    x = torch.linspace(-4, 4, 81)
    lp, lq = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.5)
    for name in ("jensen_shannon", "gan"):
        d_star = torch.sigmoid(fgan.optimal_critic(lp, lq, name, raw=True))
        torch.testing.assert_close(d_star, lp.exp() / (lp.exp() + lq.exp()))


def test_activated_values_give_the_same_bound_as_raw_ones():
    v_p, v_q = rand(50, seed=5), rand(40, seed=6)
    for name in NAMES:
        div = fgan.get(name)
        raw = fgan.variational_bound(v_p, v_q, name)
        activated = fgan.variational_bound(div.activation(v_p), div.activation(v_q), name, raw=False)
        torch.testing.assert_close(raw, activated, rtol=1e-10, atol=1e-12)
        column = fgan.variational_bound(v_p[:, None], v_q[:, None], name)
        torch.testing.assert_close(raw, column)


def test_bound_keeps_dtype():
    for name in NAMES:
        out = fgan.variational_bound(rand(10).float(), rand(12, seed=1).float(), name)
        assert out.dtype == torch.float32 and out.dim() == 0


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_bound_and_losses(name):
    v_p = (0.5 * rand(7, seed=7)).requires_grad_()
    v_q = (0.5 * rand(5, seed=8)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: fgan.variational_bound(a, b, name), (v_p, v_q))
    assert torch.autograd.gradcheck(lambda a, b: fgan.fgan_losses(a, b, name), (v_p, v_q))
    div = fgan.get(name)
    t_p = div.activation(v_p.detach()).requires_grad_()
    t_q = div.activation(v_q.detach()).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: fgan.variational_bound(a, b, name, raw=False), (t_p, t_q))


def test_gradcheck_divergence_on_grid():
    x = torch.linspace(-10, 10, 501)
    params = torch.tensor([0.3, 0.2], requires_grad=True)
    log_p = fgan.mixture_log_prob(x, (0.3, 0.7), (-1.0, 1.0), (0.5, 0.7))
    for name in ("kl", "reverse_kl", "squared_hellinger", "jensen_shannon", "pearson_chi2", "jeffrey"):
        assert torch.autograd.gradcheck(
            lambda p, name=name: fgan.divergence_on_grid(log_p, fgan.normal_log_prob(x, p[0], p[1].exp()), x, name),
            (params,))


def test_losses_drive_the_bound():
    v_real = rand(30, seed=9)
    v_fake = rand(20, seed=10).requires_grad_()
    for name in NAMES:
        critic_loss, generator_loss = fgan.fgan_losses(v_real, v_fake, name)
        bound = fgan.variational_bound(v_real, v_fake, name)
        torch.testing.assert_close(critic_loss, -bound)
        (g_loss,) = torch.autograd.grad(generator_loss, v_fake)
        (g_bound,) = torch.autograd.grad(bound, v_fake)
        torch.testing.assert_close(g_loss, g_bound)  # minimax: the generator descends the bound
        _, nonsat = fgan.fgan_losses(v_real, v_fake, name, generator="nonsaturating")
        torch.testing.assert_close(nonsat, -fgan.get(name).activation(v_fake).mean())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_kernels_on_cuda_match_cpu():
    v_p, v_q = rand(1000, seed=11), rand(900, seed=12)
    x = torch.linspace(-10, 10, 2001)
    lp, lq = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.2)
    for name in NAMES:
        on_gpu = fgan.variational_bound(v_p.cuda(), v_q.cuda(), name)
        assert on_gpu.is_cuda
        torch.testing.assert_close(on_gpu.cpu(), fgan.variational_bound(v_p, v_q, name))
        critic = fgan.optimal_critic(lp.cuda(), lq.cuda(), name)
        assert critic.is_cuda
        torch.testing.assert_close(critic.cpu(), fgan.optimal_critic(lp, lq, name))
        grid = fgan.divergence_on_grid(fgan.normal_log_prob(x.cuda(), 0.0, 1.0), lq.cuda(), x.cuda(), name)
        torch.testing.assert_close(grid.cpu(), fgan.divergence_on_grid(lp, lq, x, name))


# ----------------------------------------------------------------------------------------------
# mixtures, fitting and training


W, M, S = (0.3, 0.7), (-2.0, 2.0), (0.7, 0.7)


def test_mixture_density_and_sampler():
    x = torch.linspace(-6, 6, 101)
    expected = sum(w * stats.norm.pdf(x.numpy(), m, s) for w, m, s in zip(W, M, S))
    np.testing.assert_allclose(fgan.mixture_log_prob(x, W, M, S).exp().numpy(), expected, rtol=1e-12)
    a = fgan.mixture_sample(100_000, W, M, S, torch.Generator().manual_seed(0), dtype=torch.float64)
    b = fgan.mixture_sample(100_000, W, M, S, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert a.shape == (100_000, 1) and torch.equal(a, b)
    mean = sum(w * m for w, m in zip(W, M))
    var = sum(w * (s**2 + m**2) for w, m, s in zip(W, M, S)) - mean**2
    assert abs(a.mean().item() - mean) < 4 * math.sqrt(var / 1e5)
    assert abs(a.var().item() - var) < 0.05


def moment_matching():
    """The KL(P || N(μ, σ²)) minimiser: the mixture's mean and standard deviation."""
    mean = sum(w * m for w, m in zip(W, M))
    var = sum(w * (s**2 + m**2) for w, m, s in zip(W, M, S)) - mean**2
    return mean, math.sqrt(var)


def independent_fit(name, init=(0.0, 1.0)):
    """argmin over (mu, sigma) of the divergence, by NumPy trapezoids of the formulas above and
    Nelder–Mead: the same grid as the package's fit, none of its code."""
    x = np.linspace(-15, 15, 6001)
    p = sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(W, M, S))

    def objective(theta):
        return np.trapezoid(FORMULAS[name](p, stats.norm.pdf(x, theta[0], np.exp(theta[1]))), x)

    res = optimize.minimize(objective, [init[0], math.log(init[1])], method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 2000})
    return res.x[0], math.exp(res.x[1])


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "jensen_shannon", "squared_hellinger"])
def test_direct_fit_matches_an_independent_minimisation(name):
    x = torch.linspace(-15, 15, 6001)
    fit = fgan.fit_gaussian_by_quadrature(fgan.mixture_log_prob(x, W, M, S), x, name, init=(0.0, 1.0))
    mu, sigma = independent_fit(name)
    assert fit["mu"] == pytest.approx(mu, abs=1e-4) and fit["sigma"] == pytest.approx(sigma, abs=1e-4)


def test_direct_kl_fit_is_moment_matching():
    x = torch.linspace(-15, 15, 6001)
    fit = fgan.fit_gaussian_by_quadrature(fgan.mixture_log_prob(x, W, M, S), x, "kl", init=(0.0, 1.0))
    mean, std = moment_matching()
    assert fit["mu"] == pytest.approx(mean, abs=1e-6) and fit["sigma"] == pytest.approx(std, abs=1e-6)


def test_direct_reverse_kl_fit_seeks_the_heavier_mode():
    x = torch.linspace(-15, 15, 6001)
    fit = fgan.fit_gaussian_by_quadrature(fgan.mixture_log_prob(x, W, M, S), x, "reverse_kl", init=(0.0, 1.0))
    assert fit["mu"] == pytest.approx(2.0, abs=0.05) and fit["sigma"] == pytest.approx(0.7, abs=0.05)


@pytest.mark.parametrize("name", ["kl", "squared_hellinger"])
def test_one_dimensional_fgan_lands_near_the_quadrature_optimum(name):
    best_mu, best_sigma = independent_fit(name)
    torch.set_default_dtype(torch.float32)
    history = fgan.train_fgan(lambda n, g: fgan.mixture_sample(n, W, M, S, g), name, steps=400,
                              batch_size=256, hidden=16, lr_generator=0.02, seed=0, progress=False)
    mu, sigma = np.mean(history["mu"][-100:]), np.mean(history["sigma"][-100:])
    assert mu == pytest.approx(best_mu, abs=0.15) and sigma == pytest.approx(best_sigma, abs=0.15)
    again = fgan.train_fgan(lambda n, g: fgan.mixture_sample(n, W, M, S, g), name, steps=20,
                            batch_size=256, hidden=16, lr_generator=0.02, seed=0, progress=False)
    assert again["mu"] == history["mu"][:20]  # seeded: the same run twice


def test_neural_estimate_approaches_the_kl():
    torch.set_default_dtype(torch.float32)
    history = fgan.estimate_divergence(lambda n, g: torch.randn(n, 1, generator=g),
                                       lambda n, g: 1 + 1.2 * torch.randn(n, 1, generator=g), "kl",
                                       steps=300, hidden=16, eval_every=100, progress=False)
    truth = fgan.gaussian_divergence("kl", 0, 1, 1, 1.2)
    assert history["estimate"][-1] == pytest.approx(truth, rel=0.1)


def test_neural_estimate_reports_standard_errors_of_its_held_out_bound():
    torch.set_default_dtype(torch.float32)
    history = fgan.estimate_divergence(lambda n, g: torch.randn(n, 1, generator=g),
                                       lambda n, g: 1 + 1.2 * torch.randn(n, 1, generator=g), "kl",
                                       steps=60, hidden=8, eval_every=20, eval_size=3000,
                                       progress=False)
    assert len(history["stderr"]) == len(history["estimate"]) == 3
    held_p, held_q = history["held_out"]
    assert held_p.shape == held_q.shape == (3000, 1)
    # the last entry is the bound of the final critic on the held-out samples, with its error
    with torch.no_grad():
        t_p = history["critic"](held_p).double()
        conj_q = torch.exp(history["critic"](held_q).double() - 1)  # KL: a(v) = v, f*(t) = e^(t-1)
    assert history["estimate"][-1] == pytest.approx((t_p.mean() - conj_q.mean()).item(), rel=1e-5)
    se = math.sqrt(np.var(t_p.numpy(), ddof=1) / 3000 + np.var(conj_q.numpy(), ddof=1) / 3000)
    assert history["stderr"][-1] == pytest.approx(se, rel=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_mixed_critic_bound_is_zero_at_s0_tight_at_s1_and_concave(name):
    x = torch.linspace(*fgan.BOUND_GRID, dtype=torch.float64)
    # Q wide enough that both χ² are finite, narrow enough that their integrands fit the grid
    log_p, log_q = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 0.5, 1.2)
    truth = fgan.gaussian_divergence(name, 0.0, 1.0, 0.5, 1.2)
    s = np.linspace(0, 1, 11)
    b = np.array([fgan.mixed_critic_bound(log_p, log_q, x, name, float(a)).item() for a in s])
    assert abs(b[0]) < 1e-12  # the constant critic f'(1): E_P[c] - E_Q[f*(c)] = c - (c - f(1)) = 0
    assert b[-1] == pytest.approx(truth, rel=1e-5)  # TV's kinks leave an O(h²) error
    assert b[-1] == pytest.approx(fgan.divergence_on_grid(log_p, log_q, x, name).item(), rel=1e-9)
    assert np.all(np.diff(b, 2) <= 1e-12) and np.all(b[:-1] < truth)


def test_mixed_critic_bound_matches_scipy_quadrature_of_its_integrand():
    # an independent computation at s = 0.6 for KL: T_s = s (1 + log p/q) + (1 - s), f*(t) = e^(t-1)
    def integrand(x):
        lp, lq = stats.norm.logpdf(x, 0, 1), stats.norm.logpdf(x, 1, 1.5)
        t = 0.6 * (1 + lp - lq) + 0.4
        return np.exp(lp) * t - np.exp(lq) * np.exp(t - 1)

    reference = integrate.quad(integrand, -30, 40, points=[0, 1], limit=200)[0]
    x = torch.linspace(-30, 40, 14001, dtype=torch.float64)
    value = fgan.mixed_critic_bound(fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.5),
                                    x, "kl", 0.6).item()
    assert value == pytest.approx(reference, rel=1e-9)


def test_bound_with_error_is_the_bound_and_a_calibrated_standard_error():
    # the optimal KL critic for P = N(0, 1), Q = N(1, 1.2²), scored on 300 independent draws
    g = torch.Generator().manual_seed(1)

    def critic(x):
        return fgan.optimal_critic(fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.2),
                                   "kl", raw=True)

    values, errors = [], []
    for _ in range(300):
        x_p = torch.randn(400, generator=g)
        x_q = 1 + 1.2 * torch.randn(300, generator=g)
        value, error = fgan.bound_with_error(critic(x_p), critic(x_q), "kl")
        assert value == pytest.approx(fgan.variational_bound(critic(x_p), critic(x_q), "kl").item(), abs=1e-12)
        values.append(value)
        errors.append(error)
    values, errors = np.array(values), np.array(errors)
    truth = fgan.gaussian_divergence("kl", 0, 1, 1, 1.2)
    # the spread of the estimates is what the standard error predicts (sd of an sd from 300
    # draws: about 4%), and their mean is the divergence within its own standard error
    assert values.std(ddof=1) == pytest.approx(np.sqrt(np.mean(errors**2)), rel=0.15)
    assert abs(values.mean() - truth) < 4 * values.std(ddof=1) / np.sqrt(len(values))


def test_plots_return_figures():
    from matplotlib.figure import Figure

    assert isinstance(fgan.plot_conjugate("jeffrey", 0.5), Figure)
    assert isinstance(fgan.plot_bound(0.5, 1.0, 1.0), Figure)
    assert isinstance(fgan.plot_bound(0.0, 1.0, 0.5), Figure)  # P = Q


# ----------------------------------------------------------------------------------------------
# errors on bad input


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown f-divergence 'chi2'; known: total_variation, kl, .*gan"):
        fgan.variational_bound(rand(3), rand(3), "chi2")
    with pytest.raises(TypeError, match="name must be a string"):
        fgan.get(3)


def test_raw_values_passed_as_activated_ones_are_refused():
    v = torch.tensor([0.5, -1.0, 2.0])  # raw outputs, positive: outside reverse KL's domain t < 0
    with pytest.raises(ValueError, match=r"critic_p has 2 value\(s\) outside dom f\* = \(-inf, 0\) of "
                                         r"'reverse_kl'.*pass raw=True"):
        fgan.variational_bound(v, -v.abs(), "reverse_kl", raw=False)
    with pytest.raises(ValueError, match=r"critic_q has .* outside dom f\* = \(-inf, log\(2\)/2\)"):
        fgan.fgan_losses(torch.tensor([-1.0]), torch.tensor([0.4]), "jensen_shannon", raw=False)
    with pytest.raises(ValueError, match=r"outside dom f\* = \[-0.5, 0.5\]"):
        fgan.get("total_variation").conjugate(torch.tensor([0.7]))
    with pytest.raises(ValueError, match="outside dom"):
        fgan.get("kl").conjugate(torch.tensor([float("nan")]))


@pytest.mark.parametrize("p_shape, q_shape, match", [
    ((5, 1), (4,), r"must both be \[N\] or both \[N, 1\], got shapes \(5, 1\) and \(4,\)"),
    ((5, 2), (4, 2), r"critic_p must hold one critic value per sample, shape \[N\] or \[N, 1\], got shape \(5, 2\)"),
    ((0,), (4,), "at least one sample"),
    ((), (4,), r"got shape \(\)"),
])
def test_bound_rejects_bad_shapes(p_shape, q_shape, match):
    with pytest.raises(ValueError, match=match):
        fgan.variational_bound(torch.zeros(p_shape), torch.zeros(q_shape), "kl")


def test_bound_rejects_non_tensors_and_integer_or_mixed_dtypes():
    with pytest.raises(TypeError, match="critic_p must be a torch.Tensor, got list"):
        fgan.variational_bound([0.1, 0.2], torch.zeros(2), "kl")
    with pytest.raises(TypeError, match="critic_q must be a floating-point tensor, got dtype torch.int64"):
        fgan.variational_bound(torch.zeros(2), torch.zeros(2, dtype=torch.int64), "kl")
    with pytest.raises(TypeError, match="same dtype"):
        fgan.variational_bound(torch.zeros(2), torch.zeros(2, dtype=torch.float32), "kl")


def test_other_shape_and_argument_errors():
    with pytest.raises(ValueError, match=r"log_p and log_q must have the same shape, got \(3,\) and \(4,\)"):
        fgan.optimal_critic(torch.zeros(3), torch.zeros(4), "kl")
    x = torch.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="x must be a grid of shape"):
        fgan.divergence_on_grid(torch.zeros(6), torch.zeros(6), x, "kl")
    with pytest.raises(ValueError, match="unknown generator loss 'wgan'; known: 'minimax', 'nonsaturating'"):
        fgan.fgan_losses(torch.zeros(2), torch.zeros(2), "kl", generator="wgan")
    with pytest.raises(ValueError, match="sigma_q must be a finite number > 0, got 0"):
        fgan.gaussian_divergence("kl", 0, 1, 0, 0)
    with pytest.raises(ValueError, match="u must be >= 0"):
        fgan.get("kl").f(torch.tensor([-0.1]))
    with pytest.raises(ValueError, match="u must be > 0 for f'"):
        fgan.get("kl").f_prime(torch.tensor([0.0]))
    with pytest.raises(ValueError, match="weights must be positive and sum to 1"):
        fgan.mixture_log_prob(x, (0.5, 0.6), (0, 1), (1, 1))
    with pytest.raises(ValueError, match="same length"):
        fgan.mixture_sample(10, (0.5, 0.5), (0, 1, 2), (1, 1), torch.Generator())
    with pytest.raises(ValueError, match=r"x must have shape \[N, 1\]"):
        fgan.Critic(1)(torch.zeros(4))
    with pytest.raises(ValueError, match=r"s must lie in \[0, 1\], got 1.5"):
        fgan.plot_bound(s=1.5)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        fgan.train_fgan(lambda n, g: torch.zeros(n, 1), "kl", steps=0, progress=False)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fgan.mixture_log_prob(torch.zeros(3), (0.5, 0.5), (0, 1), (1, 0)), ValueError,
     r"stds must be > 0, got \[1.0, 0.0\]"),
    (lambda: fgan.plot_conjugate("kl", xi=0), ValueError, "xi must be a finite number > 0, got 0"),
    (lambda: fgan.plot_conjugate("chi", xi=1), ValueError, "unknown f-divergence 'chi'"),
    (lambda: fgan.wright_omega_log([1.0]), TypeError, "x must be a torch.Tensor, got list"),
    (lambda: fgan.optimal_critic(np.zeros(3), torch.zeros(3), "kl"), TypeError, "log_p must be a torch.Tensor"),
    (lambda: fgan.fit_gaussian_by_quadrature(torch.zeros(5), torch.linspace(0, 1, 5), "kl", init=(0, -1)),
     ValueError, r"init\[1\] must be a finite number > 0, got -1"),
    (lambda: fgan.GaussianGenerator(sigma=0.0), ValueError, "sigma must be a finite number > 0"),
    (lambda: fgan.Critic(hidden=0), ValueError, "hidden must be an integer >= 1, got 0"),
    (lambda: fgan.estimate_divergence(None, None, "hellinger"), ValueError,
     "unknown f-divergence 'hellinger'; known: .*squared_hellinger"),
    (lambda: fgan.gaussian_divergence("kl", "a", 1, 0, 1), TypeError, "mu_p must be a real number, got 'a'"),
    (lambda: fgan.mixture_sample(0, (1.0,), (0.0,), (1.0,), torch.Generator()), ValueError,
     "n must be an integer >= 1, got 0"),
    (lambda: fgan.bound_with_error(torch.zeros(1), torch.zeros(5), "kl"), ValueError,
     "at least two samples of each law, got 1 and 5"),
    (lambda: fgan.bound_with_error(torch.zeros(3), torch.zeros(3, 1), "kl"), ValueError,
     r"must both be \[N\] or both \[N, 1\]"),
    (lambda: fgan.mixed_critic_bound(torch.zeros(5), torch.zeros(5), torch.linspace(0, 1, 5), "kl", 1.5),
     ValueError, r"s must lie in \[0, 1\], got 1.5"),
    (lambda: fgan.mixed_critic_bound(torch.zeros(5), torch.zeros(5), torch.linspace(0, 1, 4), "kl"),
     ValueError, "x must be a grid of shape"),
    (lambda: fgan.mixed_critic_bound(torch.zeros(5), torch.zeros(4), torch.linspace(0, 1, 5), "kl"),
     ValueError, "log_p and log_q must have the same shape"),
])
def test_more_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_quadrature_reports_infinite_divergences_and_failures():
    # Neyman χ² of N(0, 1) against N(0, 2²): ∫ q²/p diverges
    log_p, log_q = (lambda x: fgan.normal_log_prob(x, 0.0, 1.0)), (lambda x: fgan.normal_log_prob(x, 0.0, 2.0))
    assert fgan.divergence_quad(log_p, log_q, "neyman_chi2") == math.inf
    with pytest.raises(RuntimeError, match="quadrature of the 'total_variation' divergence did not converge"):
        fgan.divergence_quad(log_p, log_q, "total_variation", -10, 10, limit=1)


# ----------------------------------------------------------------------------------------------
# bad input and extremes (issue 16)


GRID = torch.linspace(-10, 10, 2001, dtype=torch.float64)


def test_divergence_on_grid_refuses_a_decreasing_shuffled_or_nan_grid():
    from companion.fgan import divergence_on_grid as d, normal_log_prob as n
    x = GRID
    # the review's one-liner: it returned -0.5, a negative KL (the truth is 0.5)
    with pytest.raises(ValueError, match=r"x must be strictly increasing, got x\[0\] = 10 and x\[1\] = 9.99"):
        d(n(x, 0., 1.).flip(0), n(x, 1., 1.).flip(0), x.flip(0), 'kl')
    perm = torch.randperm(2001, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="x must be strictly increasing"):   # it returned 3.47
        d(n(x, 0., 1.)[perm], n(x, 1., 1.)[perm], x[perm], 'kl')
    bad = x.clone()
    bad[5] = math.nan
    with pytest.raises(ValueError, match=r"x must be finite, got nan at index \(5,\)"):
        d(n(x, 0., 1.), n(x, 1., 1.), bad, 'kl')
    with pytest.raises(ValueError, match="x must be strictly increasing"):   # a repeated point
        d(torch.zeros(3), torch.zeros(3), torch.tensor([0.0, 1.0, 1.0]), "kl")
    with pytest.raises(ValueError, match="x must be strictly increasing"):
        fgan.mixed_critic_bound(n(x, 0., 1.).flip(0), n(x, 1., 1.).flip(0), x.flip(0), "kl", 0.5)
    # NaN in a log density is a model-side value: documented to propagate
    log_p = n(x, 0., 1.)
    log_p[3] = math.nan
    assert math.isnan(d(log_p, n(x, 1., 1.), x, "kl").item())


def test_divergence_quad_refuses_reversed_or_nan_limits_and_non_callables():
    from companion.fgan import divergence_quad as q, normal_log_prob as n
    with pytest.raises(ValueError, match=r"lo must be < hi .*got lo=20.0 and hi=-20.0"):  # it returned -0.5
        q(lambda x: n(x, 0., 1.), lambda x: n(x, 1., 1.), 'kl', 20., -20.)
    with pytest.raises(ValueError, match=r"lo must be a number \(math.inf allowed\), got nan"):
        q(lambda x: n(x, 0., 1.), lambda x: n(x, 1., 1.), 'kl', math.nan, 1.0)
    with pytest.raises(TypeError, match="log_p must be a callable .*got float"):
        q(1.0, lambda x: n(x, 1., 1.), 'kl')
    with pytest.raises(ValueError, match="points need finite lo and hi"):
        q(lambda x: n(x, 0., 1.), lambda x: n(x, 1., 1.), 'kl', points=[0.0])
    with pytest.raises(TypeError, match="log_p must be a torch.Tensor, got float"):
        q(lambda x: 0.0, lambda x: n(x, 1., 1.), 'kl', -1.0, 1.0)
    assert q(lambda x: n(x, 0., 1.), lambda x: n(x, 1., 1.), 'kl', -20., 20.) == pytest.approx(0.5, rel=1e-10)


def test_train_fgan_needs_both_mu_and_sigma():
    sampler = lambda n, g: torch.randn(n, 1, generator=g)  # noqa: E731
    # the review's one-liner: it silently used sigma = 1
    with pytest.raises(ValueError, match=r"init must be a pair \(mu, sigma\) of numbers, got 1 value\(s\): \(0.0,\)"):
        fgan.train_fgan(sampler, 'kl', steps=1, init=(0.0,), progress=False)
    with pytest.raises(TypeError, match=r"init must be a pair \(mu, sigma\) of numbers, got 5"):
        fgan.fit_gaussian_by_quadrature(fgan.normal_log_prob(GRID, 0., 1.), GRID, "kl", init=5)
    with pytest.raises(ValueError, match=r"init\[1\] must be a finite number > 0, got -1"):
        fgan.train_fgan(sampler, 'kl', steps=1, init=(0.0, -1), progress=False)


def test_gaussian_divergence_overflow_is_infinity_and_extremes_are_exact():
    # e^10000 - 1 and e^900 - 1 exceed the largest float: inf, like the other infinite case
    assert fgan.gaussian_divergence('pearson_chi2', 0, 1, 100, 1) == math.inf
    assert fgan.gaussian_divergence('neyman_chi2', 0, 1, 30, 1) == math.inf
    # just below the edge the closed form e^{d²} - 1 (equal widths) is still a float
    assert fgan.gaussian_divergence('pearson_chi2', 0, 1, 26, 1) == pytest.approx(math.expm1(26**2), rel=1e-12)
    # KL(N(0, 1) || N(0, s²)) = log s + 1/(2 s²) - 1/2, for widths 1e300 apart (s² would overflow)
    truth = 300 * math.log(10) - 0.5
    assert fgan.gaussian_divergence("kl", 0, 1, 0, 1e300) == pytest.approx(truth, rel=1e-14)
    # KL(N(0, s²) || N(0, 1)) = -log s + s²/2 - 1/2 for s = 1e-300 (s² underflows), both ways round
    assert fgan.gaussian_divergence("kl", 0, 1e-300, 0, 1) == pytest.approx(truth, rel=1e-14)
    assert fgan.gaussian_divergence("reverse_kl", 0, 1, 0, 1e-300) == pytest.approx(truth, rel=1e-14)
    assert fgan.gaussian_divergence("kl", 0, 1, 0, 1e-300) == math.inf   # 1e600/2 is beyond a float
    assert fgan.gaussian_divergence("squared_hellinger", 0, 1e200, 0, 1e-200) == 2.0
    # the rows by quadrature: widths 1e-3 vs 1e3 (the old code was off in the 8th digit) against
    # the CDF form of TV, 1 - (overlap), with the crossings of the two densities at ±c
    a, b = 1e-3, 1e3
    c = math.sqrt(2 * math.log(b / a) / (1 / a**2 - 1 / b**2))
    tv = (special.ndtr(c / a) - special.ndtr(-c / a)) - (special.ndtr(c / b) - special.ndtr(-c / b))
    assert fgan.gaussian_divergence("total_variation", 0, a, 0, b) == pytest.approx(tv, rel=1e-12)
    # means 1e10 apart gave TV = 0.5, and widths 1e300 apart an OverflowError: the laws are disjoint
    assert fgan.gaussian_divergence("total_variation", 0, 1, 1e10, 1) == 1.0
    assert fgan.gaussian_divergence("jensen_shannon", 0, 1, 0, 1e300) == math.log(2)
    assert fgan.gaussian_divergence("gan", 1e300, 1, -1e300, 1) == math.log(4)


def test_normal_log_prob_checks_its_parameters():
    from companion.fgan import normal_log_prob as n
    with pytest.raises(ValueError, match="sigma must be a finite number > 0, got 0.0"):   # it returned NaN
        n(GRID, 0., 0.)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0, got -1.0"):
        n(GRID, 0., -1.)
    with pytest.raises(ValueError, match="mu must be a finite number, got nan"):
        n(GRID, math.nan, 1.)
    with pytest.raises(TypeError, match="x must be a floating-point torch.Tensor, got float"):
        n(1.0, 0., 1.)
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        n(torch.tensor([0, 1]), 0., 1.5)    # sigma would have been cast to the integer 1
    with pytest.raises(ValueError, match="sigma must be > 0, got a minimum of 0"):
        n(GRID[:2], 0., torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"x, mu and sigma must have shapes that broadcast together"):
        n(GRID[:3], torch.zeros(2), 1.0)
    np.testing.assert_allclose(n(GRID, 0.5, 2.0).numpy(), stats.norm.logpdf(GRID.numpy(), 0.5, 2.0), rtol=1e-13)


def test_mixtures_refuse_nan_means_and_infinite_stds():
    x = GRID[:3]
    with pytest.raises(ValueError, match=r"means must be finite, got nan at index \(1,\)"):
        fgan.mixture_log_prob(x, (0.5, 0.5), (0., math.nan), (1., 1.))
    with pytest.raises(ValueError, match=r"stds must be finite, got \[1.0, inf\]"):  # it returned a number
        fgan.mixture_log_prob(x, (0.5, 0.5), (0., 1.), (1., math.inf))
    with pytest.raises(TypeError, match="means must be a sequence of real numbers, got 'ab'"):
        fgan.mixture_log_prob(x, (0.5, 0.5), "ab", (1., 1.))
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        fgan.mixture_sample(3, (1.,), (0.,), (1.,), 42)
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype, got torch.int64"):
        fgan.mixture_sample(3, (1.,), (0.,), (1.,), None, dtype=torch.int64)


def test_estimate_divergence_and_train_fgan_check_samplers_seeds_and_rates():
    def flat(n, g):
        return torch.randn(n, generator=g)

    def column(n, g):
        return torch.randn(n, 1, generator=g)

    with pytest.raises(ValueError, match=r"sample_p must return a floating-point tensor of shape \[20000, dim\], "
                                         r"got shape \(20000,\)"):
        fgan.estimate_divergence(flat, flat, 'kl', steps=1, progress=False)
    with pytest.raises(ValueError, match=r"sample_q must return samples of the same dimension"):
        fgan.estimate_divergence(column, lambda n, g: torch.randn(n, 2, generator=g), 'kl', steps=1,
                                 progress=False)
    for seed in ("a", -1, 2**63, 1.5):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
            fgan.estimate_divergence(column, column, 'kl', steps=1, progress=False, seed=seed)
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
            fgan.train_fgan(column, 'kl', steps=1, progress=False, seed=seed)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        fgan.estimate_divergence(column, column, 'kl', steps=1, progress=False, lr=-1)
    with pytest.raises(ValueError, match="lr_generator must be a finite number > 0, got nan"):
        fgan.train_fgan(column, 'kl', steps=1, progress=False, lr_generator=math.nan)
    with pytest.raises(ValueError, match="device must be a torch.device.*got 'foo'"):
        fgan.train_fgan(column, 'kl', steps=1, progress=False, device="foo")
    with pytest.raises(TypeError, match="sample_data must be a callable"):
        fgan.train_fgan(None, 'kl', steps=1, progress=False)
    with pytest.raises(ValueError, match=r"sample_data must return a floating-point tensor of shape \[8, 1\]"):
        fgan.train_fgan(lambda n, g: torch.randn(n, 2, generator=g), 'kl', steps=1, batch_size=8, progress=False)
    # float64 samplers are valid: the critic and the generator take their dtype
    run = fgan.estimate_divergence(column, lambda n, g: 1 + column(n, g), 'kl', steps=2, eval_size=50,
                                   progress=False)
    assert run["critic"].net[0].weight.dtype == torch.float64 and math.isfinite(run["estimate"][-1])


def test_fit_gaussian_by_quadrature_checks_its_target():
    log_p = fgan.normal_log_prob(GRID, 0., 1.)
    with pytest.raises(ValueError, match=r"log_p must hold the log density at each point of x, shape \(2001,\), "
                                         r"got shape \(2000,\)"):
        fgan.fit_gaussian_by_quadrature(log_p[:-1], GRID, "kl")
    bad = log_p.clone()
    bad[7] = math.nan
    with pytest.raises(ValueError, match=r"log_p must be finite, got nan at index \(7,\)"):
        fgan.fit_gaussian_by_quadrature(bad, GRID, "kl")
    fit = fgan.fit_gaussian_by_quadrature(fgan.normal_log_prob(GRID, 0.3, 1.4), GRID, "kl")
    assert fit["mu"] == pytest.approx(0.3, abs=1e-6) and fit["sigma"] == pytest.approx(1.4, abs=1e-6)


def test_integrand_checks_tensors_and_shapes_and_omega_has_its_limits():
    with pytest.raises(TypeError, match="log_p must be a torch.Tensor, got float"):
        fgan.get("kl").integrand(0.1, 0.2)
    with pytest.raises(ValueError, match=r"log_p and log_q must have shapes that broadcast together, "
                                         r"got \(3,\) and \(2,\)"):
        fgan.get("kl").integrand(torch.zeros(3), torch.zeros(2))
    y = fgan.wright_omega_log(torch.tensor([math.inf, -math.inf, math.nan, 0.0]))
    assert y[0] == math.inf and y[1] == -math.inf and math.isnan(y[2])
    assert y[3].item() == pytest.approx(math.log(special.lambertw(1.0).real), rel=1e-14)
    with pytest.raises(TypeError, match="raw must be True or False, got 'no'"):
        fgan.variational_bound(torch.zeros(3), torch.zeros(3), 'kl', raw='no')


def test_flat_side_activation_slopes_are_exact_in_float32():
    # d/dv of 1 - e^v is -e^v; autograd's expm1 derivative (expm1 + 1) gave 0 in float32 at v = -30
    for name in ("neyman_chi2", "squared_hellinger"):
        v = torch.tensor([-30.0], dtype=torch.float32, requires_grad=True)
        fgan.get(name).activation(v).backward()
        assert v.grad.item() == pytest.approx(-math.exp(-30), rel=1e-6)
    v = torch.tensor([30.0], dtype=torch.float32, requires_grad=True)
    fgan.get("squared_hellinger").conjugate_of_activation(v).backward()   # f*(a(v)) = e^{-v} - 1
    assert v.grad.item() == pytest.approx(-math.exp(-30), rel=1e-6)


def test_sums_do_not_depend_on_the_thread_count():
    x = torch.linspace(-30, 40, 100_001)
    log_p, log_q = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 1.0, 1.5)
    critic = rand(70_000, seed=5)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            results.append([fgan.divergence_on_grid(log_p, log_q, x, "kl"),
                            fgan.divergence_on_grid(log_p.float(), log_q.float(), x.float(), "jeffrey"),
                            fgan.variational_bound(critic.float(), 0.5 * critic.float(), "gan"),
                            torch.tensor(fgan.bound_with_error(critic, 0.3 * critic, "kl"))])
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
    assert results[0][0].item() == pytest.approx(fgan.gaussian_divergence("kl", 0, 1, 1, 1.5), rel=1e-7)
