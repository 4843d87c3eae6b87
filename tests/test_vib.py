"""Properties of companion.vib (chapter: VAE, the information bottleneck and the normal distribution).

References are independent of the code under test: torch.distributions for the KL, autograd and
gradcheck for derivatives, Monte Carlo with fixed seeds (3 standard errors) for expectations,
and the Gaussian mutual information from the correlation coefficient.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch.distributions import Normal, kl_divergence

from companion import data
from companion import vib


pytestmark = pytest.mark.usefixtures("float64")  # see conftest.py


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------
# the KL term


def test_kl_is_nonnegative_and_zero_only_at_the_standard_normal():
    mu, logvar = 2 * rand(500, 6, seed=1), 3 * rand(500, 6, seed=2)
    kl = vib.kl_std_normal(mu, logvar, reduction="none")
    assert (kl > 0).all()
    assert torch.equal(vib.kl_std_normal(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
    for tiny in (1e-4, -1e-4):       # any move away from (0, 0) costs something, to second order
        one = vib.kl_std_normal(torch.tensor([[tiny]]), torch.tensor([[0.0]])).item()
        other = vib.kl_std_normal(torch.tensor([[0.0]]), torch.tensor([[tiny]])).item()
        assert one == pytest.approx(tiny**2 / 2, rel=1e-9)
        assert other == pytest.approx(tiny**2 / 4, rel=1e-3)


def test_kl_equals_torch_distributions():
    mu, logvar = rand(64, 10, seed=3), 2 * rand(64, 10, seed=4)
    reference = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    torch.testing.assert_close(vib.kl_std_normal(mu, logvar, "none"), reference, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(vib.kl_std_normal(mu, logvar), reference.sum(-1), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(vib.kl_std_normal(mu, logvar, "mean"), reference.sum(-1).mean(), rtol=1e-10, atol=0)


def test_kl_gradients_are_mu_and_half_expm1_logvar():
    mu = rand(8, 5, seed=5).requires_grad_()
    logvar = rand(8, 5, seed=6).requires_grad_()
    vib.kl_std_normal(mu, logvar).sum().backward()
    torch.testing.assert_close(mu.grad, mu.detach())
    torch.testing.assert_close(logvar.grad, 0.5 * (logvar.detach().exp() - 1))


def test_kl_gradcheck():
    mu, logvar = rand(3, 4, seed=7).requires_grad_(), rand(3, 4, seed=8).requires_grad_()
    for reduction in vib.REDUCTIONS:
        assert torch.autograd.gradcheck(lambda m, v, r=reduction: vib.kl_std_normal(m, v, r), (mu, logvar))


def test_monte_carlo_kl_agrees_within_three_standard_errors():
    mu = torch.tensor([[0.0, 0.0], [1.5, -0.5], [-2.0, 0.3]])
    logvar = torch.tensor([[0.0, 0.0], [-1.0, 0.7], [1.5, -3.0]])
    exact = vib.kl_std_normal(mu, logvar)
    # An independent estimator: log-densities from torch.distributions at samples of q.
    g = torch.Generator().manual_seed(9)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = mu + torch.exp(0.5 * logvar) * torch.randn((100_000, *mu.shape), generator=g)
    ratio = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1)
    se = ratio.std(0) / math.sqrt(len(ratio))
    assert (ratio.mean(0)[1:] - exact[1:]).abs().le(3 * se[1:]).all()
    assert ratio[:, 0].abs().max() < 1e-12          # q = p: every sample's log-ratio is 0
    estimate, stderr = vib.kl_monte_carlo(mu, logvar, 100_000, generator=torch.Generator().manual_seed(10))
    assert (estimate[1:] - exact[1:]).abs().le(3 * stderr[1:]).all()
    torch.testing.assert_close(stderr[1:], se[1:], rtol=0.05, atol=0)   # same spread, other draws


def test_kl_keeps_dtype_and_is_accurate_near_the_prior_in_float32():
    mu = torch.zeros(1, 1, dtype=torch.float32)
    logvar = torch.full((1, 1), 1e-4, dtype=torch.float32)
    kl = vib.kl_std_normal(mu, logvar)
    assert kl.dtype == torch.float32
    assert kl.item() == pytest.approx(0.5 * (math.exp(1e-4) - 1 - 1e-4), rel=1e-4)


@pytest.mark.parametrize("mu, logvar, error, match", [
    (torch.zeros(2, 3), torch.zeros(2, 4), ValueError, r"same shape .* mu \(2, 3\) and logvar \(2, 4\)"),
    (torch.zeros(()), torch.zeros(()), ValueError, "same shape"),
    (torch.zeros(2, 3), torch.tensor([[0.0, float("nan"), 0.0]] * 2), ValueError, "logvar must be finite, got nan"),
    (torch.zeros(2, 3), torch.tensor([[0.0, float("inf"), 0.0]] * 2), ValueError, "logvar must be finite, got inf"),
    (torch.tensor([[float("-inf")]]), torch.zeros(1, 1), ValueError, "mu must be finite"),
    ([[0.0]], torch.zeros(1, 1), TypeError, "mu must be a floating-point torch.Tensor, got list"),
    (torch.zeros(1, 1), torch.zeros(1, 1, dtype=torch.int64), TypeError, "logvar must be a floating-point tensor"),
    (torch.zeros(1, 1, dtype=torch.float32), torch.zeros(1, 1, dtype=torch.float64), TypeError, "share dtype"),
])
def test_kl_rejects_bad_input(mu, logvar, error, match):
    with pytest.raises(error, match=match):
        vib.kl_std_normal(mu, logvar)


def test_kl_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', got reduction='batchmean'"):
        vib.kl_std_normal(torch.zeros(1, 1), torch.zeros(1, 1), reduction="batchmean")


def test_kl_monte_carlo_rejects_one_sample():
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        vib.kl_monte_carlo(torch.zeros(1, 1), torch.zeros(1, 1), 1)


# ----------------------------------------------------------------------------------------------
# sampling and the layer


def test_reparameterized_samples_have_the_encoder_law_and_gradients():
    mu, logvar = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 1.0, -2.0])
    z = vib.reparameterize(mu.expand(50_000, 3), logvar.expand(50_000, 3),
                           generator=torch.Generator().manual_seed(11))
    for d in range(3):
        ks = stats.kstest(z[:, d].numpy(), stats.norm(mu[d].item(), math.exp(logvar[d].item() / 2)).cdf)
        assert ks.pvalue > 1e-3
    assert stats.kstest(z[:, 0].numpy(), stats.norm(0, 1).cdf).pvalue < 1e-6   # the test can fail
    m, v = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
    eps = torch.randn(3, generator=torch.Generator().manual_seed(12))
    vib.reparameterize(m, v, generator=torch.Generator().manual_seed(12)).sum().backward()
    torch.testing.assert_close(m.grad, torch.ones(3))
    torch.testing.assert_close(v.grad, 0.5 * torch.exp(0.5 * logvar) * eps)


def test_sampling_and_paths_gradcheck():
    mu, logvar = rand(3, 2, seed=36).requires_grad_(), rand(3, 2, seed=37).requires_grad_()
    sample = lambda m, v: vib.reparameterize(m, v, generator=torch.Generator().manual_seed(38))
    assert torch.autograd.gradcheck(sample, (mu, logvar))
    for path in (vib.lerp, vib.slerp_normal):
        assert torch.autograd.gradcheck(lambda a, b, path=path: path(a, b, 0.3), (mu, logvar))


def test_evaluation_mode_is_deterministic():
    mu, logvar = rand(4, 3, seed=13), rand(4, 3, seed=14)
    assert vib.reparameterize(mu, logvar, training=False) is mu
    layer = vib.VIB(lam=0.5).eval()
    assert torch.equal(layer(mu, logvar), mu) and torch.equal(layer(mu, logvar), layer(mu, logvar))
    layer.train()
    assert not torch.equal(layer(mu, logvar), layer(mu, logvar))
    torch.manual_seed(0)
    net = vib.VIBNet(n_in=6, latent=3, n_out=4).eval()
    x = rand(5, 6, seed=15)
    out, m, _ = net(x)
    assert torch.equal(out, net(x)[0]) and torch.equal(out, net.decoder(m))
    net.train()
    assert not torch.equal(net(x)[0], net(x)[0])


def test_layer_records_rate_and_its_loss_like_vib_loss():
    mu, logvar = rand(6, 3, seed=16).requires_grad_(), rand(6, 3, seed=17)
    layer = vib.VIB(lam=0.3)
    head = torch.nn.Linear(3, 5)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    z = layer(mu, logvar, generator=torch.Generator().manual_seed(18))
    by_layer = F.cross_entropy(head(z), y) + layer.loss
    z_again = vib.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(18))
    loss = vib.vib_loss(head(z_again), y, mu, logvar, lam=0.3)
    torch.testing.assert_close(by_layer, loss.total)
    torch.testing.assert_close(layer.kl, loss.rate)
    torch.testing.assert_close(layer.kl, vib.kl_std_normal(mu, logvar).mean())
    assert layer.kl.requires_grad


# ----------------------------------------------------------------------------------------------
# the loss


def test_lam_zero_reduces_to_the_task_loss():
    logits, y = rand(7, 4, seed=19), torch.tensor([0, 1, 2, 3, 3, 2, 1])
    mu, logvar = 3 * rand(7, 2, seed=20), rand(7, 2, seed=21)
    loss = vib.vib_loss(logits, y, mu, logvar, lam=0)
    torch.testing.assert_close(loss.total, F.cross_entropy(logits, y))
    assert loss.rate > 0 and torch.equal(loss.task, loss.total)
    lam = 0.25
    torch.testing.assert_close(vib.vib_loss(logits, y, mu, logvar, lam).total,
                               F.cross_entropy(logits, y) + lam * vib.kl_std_normal(mu, logvar).mean())


def test_vae_loss_is_bernoulli_reconstruction_plus_kl():
    logits, x = rand(5, 2, 3, seed=22), torch.rand(5, 2, 3, generator=torch.Generator().manual_seed(23))
    mu, logvar = rand(5, 4, seed=24), rand(5, 4, seed=25)
    loss = vib.vib_loss(logits, x, mu, logvar, lam=1)
    p = torch.sigmoid(logits)
    by_hand = -(x * p.log() + (1 - x) * (1 - p).log()).sum((1, 2)).mean()
    torch.testing.assert_close(loss.task, by_hand)
    torch.testing.assert_close(loss.total, by_hand + vib.kl_std_normal(mu, logvar).mean())


def test_vib_loss_gradcheck():
    logits = rand(4, 3, seed=26).requires_grad_()
    mu, logvar = rand(4, 2, seed=27).requires_grad_(), rand(4, 2, seed=28).requires_grad_()
    y = torch.tensor([0, 2, 1, 2])
    assert torch.autograd.gradcheck(lambda a, m, v: vib.vib_loss(a, y, m, v, 0.7).total, (logits, mu, logvar))


@pytest.mark.parametrize("lam, error, match", [
    (-0.1, ValueError, "lam must be a finite number >= 0, got -0.1"),
    (float("nan"), ValueError, "lam must be a finite number >= 0"),
    (float("inf"), ValueError, "lam must be a finite number >= 0"),
    ("0.1", TypeError, "lam must be a real number >= 0, got '0.1'"),
    (True, TypeError, "lam must be a real number"),
])
def test_bad_lam_is_rejected_by_loss_and_layer(lam, error, match):
    with pytest.raises(error, match=match):
        vib.vib_loss(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(2, 2), torch.zeros(2, 2), lam)
    with pytest.raises(error, match=match):
        vib.VIB(lam)


@pytest.mark.parametrize("output, target, mu, match", [
    (torch.zeros(3, 4), torch.tensor([0, 1]), torch.zeros(3, 2), r"class labels need output \[B, C\] and target \[B\]"),
    (torch.zeros(2, 4), torch.tensor([0, 4]), torch.zeros(2, 2), r"class labels in target must lie in \[0, 4\)"),
    (torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(2, 2), "reconstruction target must have output's shape"),
    (torch.zeros(2, 4), torch.full((2, 4), 1.5), torch.zeros(2, 2), r"values in \[0, 1\]"),
    (torch.zeros(2, 4), torch.tensor([0, 1]), torch.zeros(3, 2), r"mu and logvar must have shape \[B, D\] with B = output.shape\[0\]"),
    (torch.zeros(2, 4), torch.tensor([0, 1]), torch.zeros(2, 2, 1), r"shape \[B, D\]"),
])
def test_vib_loss_rejects_mismatched_shapes_and_targets(output, target, mu, match):
    with pytest.raises(ValueError, match=match):
        vib.vib_loss(output, target, mu, torch.zeros_like(mu), lam=0.1)


def test_vib_loss_rejects_non_finite_logvar():
    logvar = torch.tensor([[0.0, float("nan")], [0.0, 0.0]])
    with pytest.raises(ValueError, match="logvar must be finite, got nan"):
        vib.vib_loss(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(2, 2), logvar, lam=0.1)


# ----------------------------------------------------------------------------------------------
# the exact linear-Gaussian example


def test_linear_gaussian_matches_the_brief_numbers():
    exact = vib.linear_gaussian(1.0, 0.5)
    assert exact.information.item() == pytest.approx(0.5 * math.log(5), rel=1e-12)   # 0.804719
    assert exact.bound.item() == pytest.approx(0.5 * (1 + 0.25 - math.log(0.25) - 1), rel=1e-12)
    assert exact.gap.item() == pytest.approx(0.013428, abs=5e-7)


def test_bound_minus_information_is_the_kl_of_the_marginal():
    w = torch.tensor([0.0, 0.3, 1.0, 1.0, 2.0, -1.5, 0.6])
    s = torch.tensor([1.0, 0.2, 0.5, 2.0, 0.1, 0.7, 0.8])
    exact = vib.linear_gaussian(w, s)
    marginal = kl_divergence(Normal(0.0, torch.sqrt(w**2 + s**2)), Normal(0.0, 1.0))
    torch.testing.assert_close(exact.bound - exact.information, marginal, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(exact.gap, marginal, rtol=1e-10, atol=1e-12)
    assert (exact.gap >= 0).all()
    on_circle = (w**2 + s**2 - 1).abs() < 1e-12      # (0, 1) and (0.6, 0.8): prior = marginal
    assert on_circle.sum() == 2 and (exact.gap[on_circle].abs() < 1e-15).all()
    assert (exact.gap[~on_circle] > 1e-4).all()
    # The bound is the encoder's KL averaged over x, by Monte Carlo over x ~ N(0, 1).
    x = torch.randn(200_000, generator=torch.Generator().manual_seed(29))
    per_x = vib.kl_std_normal((w[:, None] * x)[..., None], torch.log(s**2)[:, None, None].expand(-1, len(x), 1))
    se = per_x.std(1) / math.sqrt(len(x))
    assert ((per_x.mean(1) - exact.bound).abs() <= 3 * se + 1e-12).all()


def test_linear_gaussian_information_is_the_gaussian_channel_formula():
    # Jointly Gaussian (X, Z) with correlation rho: I = -log(1 - rho^2) / 2.
    for w, s in ((1.0, 0.5), (0.2, 1.3), (3.0, 0.4)):
        rho2 = w**2 / (w**2 + s**2)
        assert vib.linear_gaussian(w, s).information.item() == pytest.approx(-0.5 * math.log1p(-rho2), rel=1e-12)
    assert vib.linear_gaussian(0.0, 0.7).information.item() == 0.0


@pytest.mark.parametrize("w, s, match", [
    (1.0, 0.0, "s must be a finite standard deviation > 0"),
    (1.0, -1.0, "s must be a finite standard deviation > 0"),
    (float("nan"), 1.0, "w must be finite"),
])
def test_linear_gaussian_rejects_bad_parameters(w, s, match):
    with pytest.raises(ValueError, match=match):
        vib.linear_gaussian(w, s)


# ----------------------------------------------------------------------------------------------
# interpolation


def test_spherical_path_keeps_unit_variance_and_linear_path_shrinks_it():
    z1, z2 = rand(200_000, seed=30), rand(200_000, seed=31)
    n = len(z1)
    for alpha in (0.0, 0.2, 0.5, 0.9, 1.0):
        var_lin = vib.lerp(z1, z2, alpha).var().item()
        var_sph = vib.slerp_normal(z1, z2, alpha).var().item()
        expected = (1 - alpha) ** 2 + alpha**2
        # the sample variance of n normals has standard error about var * sqrt(2 / n)
        assert var_lin == pytest.approx(expected, abs=4 * expected * math.sqrt(2 / n))
        assert var_sph == pytest.approx(1.0, abs=4 * math.sqrt(2 / n))
    mid = vib.lerp(z1, z2, 0.5)
    assert mid.var().item() == pytest.approx(0.5, abs=0.01)
    assert stats.kstest(vib.slerp_normal(z1, z2, 0.37).numpy(), "norm").pvalue > 1e-3
    assert stats.kstest(mid.numpy(), "norm").pvalue < 1e-6


def test_paths_have_the_right_ends_and_broadcast():
    z1, z2 = rand(5, seed=32), rand(5, seed=33)
    for path in (vib.lerp, vib.slerp_normal):
        torch.testing.assert_close(path(z1, z2, 0.0), z1)
        torch.testing.assert_close(path(z1, z2, 1.0), z2, rtol=1e-12, atol=1e-15)
        alpha = torch.linspace(0, 1, 7)
        points = path(z1, z2, alpha[:, None])
        assert points.shape == (7, 5)
        torch.testing.assert_close(points[3], path(z1, z2, 0.5))
    a = torch.linspace(0, 1, 11)
    coefficient = vib.slerp_normal(torch.tensor(1.0), torch.tensor(0.0), a) ** 2 + vib.slerp_normal(
        torch.tensor(0.0), torch.tensor(1.0), a) ** 2
    torch.testing.assert_close(coefficient, torch.ones(11))


@pytest.mark.parametrize("z2, alpha, error, match", [
    (torch.zeros(4), 0.5, ValueError, r"z1 and z2 must have the same shape, got \(3,\) and \(4,\)"),
    (torch.zeros(3), float("nan"), ValueError, "alpha must be finite"),
    (torch.zeros(3), "half", TypeError, "alpha must be a number or a tensor, got str"),
    (torch.zeros(3, dtype=torch.int64), 0.5, TypeError, "z2 must be a floating-point tensor"),
])
def test_paths_reject_bad_input(z2, alpha, error, match):
    for path in (vib.lerp, vib.slerp_normal):
        with pytest.raises(error, match=match):
            path(torch.zeros(3), z2, alpha)


# ----------------------------------------------------------------------------------------------
# networks and training on digits


def test_vib_on_digits_beats_chance_and_its_rate_falls_with_lam(one_thread):
    torch.set_default_dtype(torch.float32)
    images, labels = data.load_digits()
    train, test = data.split_indices(len(images), 400, seed=0)
    scores = []
    for lam in (1e-3, 1e-1, 2.0):
        torch.manual_seed(0)
        net = vib.VIBNet(n_in=64, latent=8, n_out=10, hidden=64)
        history = vib.fit(net, images[train], labels[train], lam=lam, epochs=20, lr=3e-3, seed=0,
                          progress=False)
        assert all(math.isfinite(v) for v in history["total"])
        scores.append(vib.evaluate(net, images[test], labels[test], n_samples=4))
    assert scores[0]["accuracy"] > 0.8           # chance is about 0.1
    rates = [s["rate"] for s in scores]
    assert rates[0] > rates[1] > rates[2]
    # For lam > 1 giving up is optimal (task + lam rate >= H(Y) + (lam - 1) rate): the code dies.
    assert rates[2] < 0.05 and scores[2]["accuracy_sampled"] < 0.3


def test_training_is_reproducible_and_vae_trains(one_thread):
    torch.set_default_dtype(torch.float32)
    images, _ = data.load_digits()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        vae = vib.DigitVAE(latent=4, hidden=32)
        runs.append(vib.fit(vae, images[:256], lam=1.0, epochs=3, seed=2, progress=False))
    assert runs[0] == runs[1]
    assert runs[0]["total"][-1] < runs[0]["total"][0]
    torch.testing.assert_close(torch.tensor(runs[0]["total"]),
                               torch.tensor(runs[0]["task"]) + torch.tensor(runs[0]["rate"]))
    decoded = vae.decode(torch.zeros(3, 4))
    assert decoded.shape == (3, 8, 8) and ((decoded > 0) & (decoded < 1)).all()
    scores = vib.evaluate(vae, images[256:300])
    assert scores.keys() == {"rate", "task", "task_sampled"}


def test_networks_reject_bad_input():
    with pytest.raises(ValueError, match=r"x must have shape \[B, ...\] with 64 features per sample, got \(2, 63\)"):
        vib.VIBNet()(torch.zeros(2, 63))
    with pytest.raises(ValueError, match=r"64 features per sample, got \(0, 7\)"):
        vib.VIBNet()(torch.zeros(0, 7))
    with pytest.raises(ValueError, match="latent must be an integer >= 1, got 0"):
        vib.VIBNet(latent=0)
    with pytest.raises(ValueError, match=r"z must have shape \[..., 8\]"):
        vib.DigitVAE(latent=8).decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="targets must be a tensor with one row per input"):
        vib.fit(vib.VIBNet(), torch.zeros(4, 64), torch.zeros(3, dtype=torch.int64), progress=False)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0, got -1"):
        vib.fit(vib.VIBNet(), torch.zeros(4, 64), torch.zeros(4, dtype=torch.int64), lam=-1, progress=False)


# ----------------------------------------------------------------------------------------------
# data split, demos, devices


def test_split_indices_partitions_and_is_seeded():
    train, test = data.split_indices(100, 70, seed=3)
    assert len(train) == 70 and len(test) == 30
    assert torch.equal(torch.cat([train, test]).sort().values, torch.arange(100))
    again = data.split_indices(100, 70, seed=3)
    assert torch.equal(train, again[0]) and not torch.equal(train, data.split_indices(100, 70, seed=4)[0])
    with pytest.raises(ValueError, match="n_train must satisfy 0 < n_train < n = 10, got 10"):
        data.split_indices(10, 10)
    with pytest.raises(TypeError, match="n_train must be an integer"):
        data.split_indices(10, 5.5)


@pytest.mark.parametrize("plot, kwargs", [
    (vib.plot_kl, {"mu": -1.5, "logvar": 1.0, "n_samples": 500}),
    (vib.plot_linear_gaussian, {"w": 0.5, "s": 0.25}),
    (vib.plot_interpolation, {"d": 8, "n_pairs": 100}),
    (vib.plot_priors, {"prior": "uniform", "path": "spherical", "alpha": 0.5, "n": 1000}),
])
def test_demos_return_figures(plot, kwargs):
    from matplotlib.figure import Figure

    assert isinstance(plot(**kwargs), Figure)


def test_demos_reject_bad_choices():
    with pytest.raises(ValueError, match="unknown prior 'laplace'; known: 'normal', 'uniform'"):
        vib.plot_priors(prior="laplace")
    with pytest.raises(ValueError, match="s must be a finite number > 0, got 0"):
        vib.plot_linear_gaussian(s=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_kernels_on_cuda_match_cpu():
    mu, logvar = rand(16, 4, seed=34), rand(16, 4, seed=35)
    torch.testing.assert_close(vib.kl_std_normal(mu.cuda(), logvar.cuda()).cpu(), vib.kl_std_normal(mu, logvar))
    z = vib.reparameterize(mu.cuda(), logvar.cuda(), generator=torch.Generator("cuda").manual_seed(0))
    assert z.device.type == "cuda"
    torch.testing.assert_close(vib.slerp_normal(mu.cuda(), logvar.cuda(), 0.3).cpu(), vib.slerp_normal(mu, logvar, 0.3))


# ----------------------------------------------------------------------------------------------
# monitoring convergence, and the naive-Bayes check


def test_monitor_records_heldout_accuracy_and_leaves_training_unchanged(one_thread):
    torch.set_default_dtype(torch.float32)
    images, labels = data.load_digits()
    runs, nets = [], []
    for monitor in (None, (images[300:400], labels[300:400])):
        torch.manual_seed(3)
        net = vib.VIBNet(n_in=64, latent=4, n_out=10, hidden=32)
        runs.append(vib.fit(net, images[:300], labels[:300], lam=1e-2, epochs=3, seed=4,
                            progress=False, monitor=monitor))
        nets.append(net)
    plain, watched = runs
    assert "monitor_accuracy" not in plain and len(watched["monitor_accuracy"]) == 3
    for key in ("total", "task", "rate"):             # the same training, draw for draw
        assert plain[key] == watched[key]
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
    final = vib.evaluate(nets[1], images[300:400], labels[300:400], n_samples=1)["accuracy"]
    assert watched["monitor_accuracy"][-1] == pytest.approx(final, abs=1e-12)
    assert all(0 <= v <= 1 for v in watched["monitor_accuracy"])


def test_monitor_rejects_bad_input():
    x, y = torch.zeros(4, 64), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"monitor must be a tuple \(inputs, labels\)"):
        vib.fit(vib.VIBNet(), x, y, epochs=1, progress=False, monitor=[x, y])
    with pytest.raises(ValueError, match="monitor labels must be integer class labels"):
        vib.fit(vib.VIBNet(), x, y, epochs=1, progress=False, monitor=(x, y.double()))
    with pytest.raises(ValueError, match="monitor labels must be integer class labels"):
        vib.fit(vib.VIBNet(), x, y, epochs=1, progress=False, monitor=(x, y[:3]))


def test_class_gaussian_log_likelihood_matches_scipy():
    import numpy as np

    z, held = rand(300, 3, seed=40), rand(50, 3, seed=41)
    z[:, 1] += 0.7 * z[:, 0]                          # correlated components
    labels = torch.arange(300) % 3
    held_labels = torch.arange(50) % 3
    for diagonal in (True, False):
        got = vib.class_gaussian_log_likelihood(z, labels, held, held_labels, diagonal)
        for c in range(3):
            fit = z[labels == c].numpy()
            cov = np.cov(fit.T, bias=True)
            if diagonal:
                cov = np.diag(np.diag(cov))
            want = stats.multivariate_normal(fit.mean(0), cov).logpdf(held[held_labels == c].numpy())
            np.testing.assert_allclose(got[held_labels == c].numpy(), want, rtol=1e-10)


def test_naive_bayes_is_exact_only_with_independence_given_the_class():
    # Two classes with correlation +rho and -rho: the mixture has covariance I (uncorrelated, and
    # its KL-style moments match N(0, I)), yet within each class the components are dependent.
    # The full model then beats naive Bayes by the Gaussian mutual information -log(1 - rho²)/2.
    rho, n = 0.8, 40_000
    g = torch.Generator().manual_seed(42)
    e1, e2 = torch.randn(2, n, generator=g, dtype=torch.float64)
    labels = torch.arange(n) % 2
    sign = 1.0 - 2.0 * labels
    z = torch.stack([e1, sign * (rho * e1 + math.sqrt(1 - rho**2) * e2)], -1)
    fit, held = z[: n // 2], z[n // 2:]
    lf, lh = labels[: n // 2], labels[n // 2:]
    assert torch.cov(held.T)[0, 1].abs() < 0.03         # the overall law is uncorrelated
    excess = (vib.class_gaussian_log_likelihood(fit, lf, held, lh, diagonal=False)
              - vib.class_gaussian_log_likelihood(fit, lf, held, lh, diagonal=True))
    se = excess.std() / math.sqrt(len(excess))
    assert abs(excess.mean() - (-0.5 * math.log(1 - rho**2))) < 3 * se
    # independent given the class: the diagonal model loses nothing (up to sampling noise)
    indep = torch.stack([e1, sign + e2], -1)
    excess = (vib.class_gaussian_log_likelihood(indep[: n // 2], lf, indep[n // 2:], lh, False)
              - vib.class_gaussian_log_likelihood(indep[: n // 2], lf, indep[n // 2:], lh, True))
    assert abs(excess.mean()) < 3 * excess.std() / math.sqrt(len(excess)) + 1e-3


def test_class_gaussian_log_likelihood_rejects_bad_input():
    z, y = rand(6, 3, seed=43), torch.tensor([0, 0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="class 1 has 2 fitting codes; need more than D = 3"):
        vib.class_gaussian_log_likelihood(z, y, z, y, diagonal=True)
    with pytest.raises(ValueError, match="labels must be integer class labels, one per code"):
        vib.class_gaussian_log_likelihood(z, y.double(), z, y, diagonal=True)
    with pytest.raises(ValueError, match=r"must be \[N, D\] and \[M, D\]"):
        vib.class_gaussian_log_likelihood(z, y, z[:, :2], y, diagonal=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_monitor_and_class_gaussians_on_cuda_match_cpu():
    z, held = rand(120, 2, seed=44), rand(30, 2, seed=45)
    y, yh = torch.arange(120) % 3, torch.arange(30) % 3
    for diagonal in (True, False):
        cpu = vib.class_gaussian_log_likelihood(z, y, held, yh, diagonal)
        gpu = vib.class_gaussian_log_likelihood(z.cuda(), y.cuda(), held.cuda(), yh.cuda(), diagonal)
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-11)
    x, labels = rand(64, 64, seed=46).cuda(), (torch.arange(64) % 10).cuda()
    net = vib.VIBNet(n_in=64, latent=4, n_out=10, hidden=16).double().cuda()
    history = vib.fit(net, x[:48], labels[:48], epochs=2, progress=False, monitor=(x[48:], labels[48:]))
    assert len(history["monitor_accuracy"]) == 2


# ----------------------------------------------------------------------------------------------
# bad input and extremes (issue 16)


def test_linear_gaussian_is_finite_wherever_the_exact_value_is():
    import mpmath

    from companion.vib import linear_gaussian as lg

    def exact(w, s):
        """The three closed forms in 400-digit arithmetic, rounded to float64 (inf beyond it)."""
        with mpmath.workdps(400):
            w, s = mpmath.mpf(w), mpmath.mpf(s)
            t = w**2 + s**2
            values = (mpmath.log1p(w**2 / s**2) / 2, (t - mpmath.log(s**2) - 1) / 2, (t - mpmath.log(t) - 1) / 2)
            return [float(v) if v < mpmath.mpf("1.7976931348623157e308") else math.inf for v in values]

    # the review's one-liners: information and bound were inf (exact 460.5)
    for w, s in ((1.0, 1e-200), (1e200, 1.0), (1e-200, 1e-200), (0.0, 1e-200), (1.4e154, 1.0), (1.0, 1.4e154),
                 (1e-300, 1.0), (3.0, 1e150), (1e160, 1e-160), (0.6, 0.8), (1.0, 0.5)):
        got = lg(w, s)
        for value, want in zip(got, exact(w, s)):
            if math.isinf(want):
                assert value.item() == math.inf, (w, s)
            else:
                # abs: near w² + s² = 1 the gap is quadratic in the rounded log(w² + s²) (docstring)
                assert value.item() == pytest.approx(want, rel=1e-13, abs=1e-31), (w, s)  # (0.6, 0.8): 5e-34
    assert lg(1.0, 1e-200).information.item() == pytest.approx(200 * math.log(10), rel=1e-15)


def test_linear_gaussian_rejects_non_numbers_and_shapes_that_do_not_broadcast():
    with pytest.raises(TypeError, match="w must be a real number or a tensor of real numbers, got 'a'"):
        vib.linear_gaussian("a", 1.0)
    with pytest.raises(TypeError, match="s must be a real number or a tensor of real numbers, got True"):
        vib.linear_gaussian(1.0, True)
    with pytest.raises(ValueError, match=r"w and s must have shapes that broadcast together, got \(3,\) and \(2,\)"):
        vib.linear_gaussian(torch.zeros(3), torch.ones(2))


def test_means_of_empty_batches_are_errors():
    empty = r"reduction='mean' of an empty batch is undefined"
    with pytest.raises(ValueError, match=empty):      # the review's one-liner: it returned nan
        vib.kl_std_normal(torch.empty(0, 3), torch.empty(0, 3), 'mean')
    assert vib.kl_std_normal(torch.empty(0, 3), torch.empty(0, 3), 'sum').shape == (0,)
    with pytest.raises(ValueError, match=empty):
        vib.task_loss(torch.empty(0, 3), torch.empty(0, dtype=torch.int64))
    with pytest.raises(ValueError, match=empty):
        vib.task_loss(torch.empty(0, 3), torch.empty(0, 3))
    with pytest.raises(ValueError, match=empty):
        vib.vib_loss(torch.empty(0, 3), torch.empty(0, dtype=torch.int64), torch.empty(0, 2), torch.empty(0, 2), 0.1)
    with pytest.raises(ValueError, match=r"inputs must hold at least one sample, .*got \(0, 64\)"):
        vib.fit(vib.VIBNet(), torch.zeros(0, 64), torch.zeros(0, dtype=torch.int64), progress=False)


def test_task_loss_takes_any_integer_labels_and_refuses_booleans():
    logits = rand(4, 3, seed=50)
    labels = torch.tensor([0, 2, 1, 0])
    want = F.cross_entropy(logits, labels)
    for dtype in (torch.int32, torch.int16, torch.int8, torch.uint8, torch.int64):
        # the review's one-liner with int32 raised torch's "expected target dtype to be Long"
        torch.testing.assert_close(vib.task_loss(logits, labels.to(dtype)), want, rtol=0, atol=0)
    with pytest.raises(TypeError, match="target must hold integer class labels .*got dtype torch.bool"):
        vib.task_loss(logits, labels.bool())
    torch.testing.assert_close(vib.task_loss(logits, labels, "sum"), F.cross_entropy(logits, labels, reduction="sum"))
    with pytest.raises(ValueError, match=r"reduction must be one of 'none', 'mean', 'sum', got reduction='avg'"):
        vib.task_loss(logits, labels, "avg")
    with pytest.raises(ValueError, match=r"target must hold values in \[0, 1\] .*got nan"):
        vib.task_loss(torch.zeros(2, 3), torch.tensor([[0.5, math.nan, 0.0], [0.0, 0.0, 0.0]]))
    # NaN in the logits is a model-side value: documented to propagate
    assert math.isnan(vib.task_loss(torch.tensor([[math.nan, 0.0]]), torch.tensor([1])).item())


def test_sampling_flags_and_generators_are_checked():
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    with pytest.raises(TypeError, match="training must be True or False, got 'no'"):  # it sampled
        vib.reparameterize(mu, logvar, training='no')
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None, got int \(for a seed"):
        vib.reparameterize(mu, logvar, generator=42)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got str"):
        vib.kl_monte_carlo(mu, logvar, 10, generator='g')
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2, got 'a'"):
        vib.kl_monte_carlo(mu, logvar, 'a')
    with pytest.raises(TypeError, match="diagonal must be True or False, got 'no'"):
        vib.class_gaussian_log_likelihood(rand(20, 2), torch.arange(20) % 2, rand(4, 2), torch.arange(4) % 2, 'no')
    with pytest.raises(TypeError, match="targets must be a torch.Tensor with one row per input, got list"):
        vib.fit(vib.VIBNet(), torch.zeros(4, 64), [0, 1, 2, 3], progress=False)


def test_paths_refuse_alphas_that_do_not_broadcast():
    for path in (vib.lerp, vib.slerp_normal):
        with pytest.raises(ValueError, match=r"alpha must have a shape that broadcasts with z1 and z2 \(3,\), "
                                             r"got \(2,\)"):
            path(torch.zeros(3), torch.zeros(3), torch.zeros(2))
        with pytest.raises(TypeError, match="alpha must be a number or a tensor, got dtype torch.bool"):
            path(torch.zeros(3), torch.zeros(3), torch.tensor(True))
    # NaN in a code is a model-side value: documented to propagate
    out = vib.lerp(torch.tensor([math.nan, 0.0]), torch.ones(2), 0.5)
    assert math.isnan(out[0]) and out[1] == 0.5


def test_kl_gradient_is_exact_near_the_prior():
    # d/dlogvar = expm1(logvar)/2; autograd formed it as (expm1 + 1 - 1)/2, exactly 0 in float32
    for dtype in (torch.float32, torch.float64):
        logvar = torch.tensor([[1e-8, -1e-8]], dtype=dtype, requires_grad=True)
        vib.kl_std_normal(torch.zeros(1, 2, dtype=dtype), logvar).sum().backward()
        torch.testing.assert_close(logvar.grad, 0.5 * torch.tensor([[math.expm1(1e-8), math.expm1(-1e-8)]],
                                                                   dtype=dtype), rtol=1e-6, atol=0)
    logvar = rand(3, 2, seed=51).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda v: vib.kl_std_normal(torch.zeros(3, 2), v), (logvar,))


def test_sums_do_not_depend_on_the_thread_count():
    mu, logvar = rand(1, 70_000, seed=52), rand(1, 70_000, seed=53)
    logits, pixels = rand(2, 40_000, seed=54), torch.rand(2, 40_000, generator=torch.Generator().manual_seed(55))
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            results.append([vib.kl_std_normal(mu.float(), logvar.float()),
                            vib.kl_std_normal(mu.reshape(-1, 1), logvar.reshape(-1, 1), "mean"),
                            vib.task_loss(logits.float(), pixels.float()),
                            *vib.kl_monte_carlo(torch.tensor([0.3]), torch.tensor([0.2]), 100_000,
                                                generator=torch.Generator().manual_seed(56))])
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
