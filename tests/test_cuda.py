"""Every public kernel on a CUDA device: the same answer as on the CPU, and nothing leaves the device.

Deterministic kernels get the same float64 inputs on both devices; their values and gradients must
agree to round-off (the GPU sums in another order). Random helpers draw from a generator on the
device, so only their laws can be compared: moments and frequencies within 5 standard errors of the
closed form. Skipped without CUDA; ``make gpu-check`` runs this file on a GPU machine.
"""

import math

import pytest
import torch

from companion import capsule, fgan, focal, gillespie, nce, vib

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

TOL = dict(rtol=1e-9, atol=1e-11)


def _cpu_and_cuda(fn, *tensors, **kwargs):
    """``fn`` on float64 CPU tensors and on their CUDA copies: (cpu result, cuda result, grads)."""
    results = []
    for device in ("cpu", "cuda"):
        args = [t.detach().to(device).requires_grad_(t.is_floating_point())
                if isinstance(t, torch.Tensor) else t for t in tensors]
        out = fn(*args, **kwargs)
        value = out[0] if isinstance(out, tuple) else out
        grads = []
        if value.requires_grad:
            floats = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
            grads = torch.autograd.grad(value.sum(), floats, allow_unused=True)
        results.append((value, grads))
    return results


def _same_on_cuda(fn, *tensors, **kwargs):
    (cpu, cpu_grads), (gpu, gpu_grads) = _cpu_and_cuda(fn, *tensors, **kwargs)
    assert gpu.device.type == "cuda", f"{fn.__name__} returned a tensor on {gpu.device}"
    torch.testing.assert_close(gpu.cpu(), cpu, **TOL)
    for a, b in zip(cpu_grads, gpu_grads):
        if a is None:
            assert b is None
            continue
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a, **TOL)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- capsule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["su", "sabour"])
def test_capsule_routing_on_cuda(variant):
    _same_on_cuda(capsule.dynamic_routing, _randn(4, 12, 5, 8), iters=3, variant=variant)


def test_capsule_kernels_on_cuda():
    _same_on_cuda(capsule.squash, _randn(7, 16))
    _same_on_cuda(capsule.soft_kmeans, _randn(50, 2), _randn(3, 2, seed=1), K=2.0, iters=5)
    lengths = torch.rand(8, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    targets = torch.zeros(8, 10, dtype=torch.float64)
    targets[torch.arange(8), torch.arange(8)] = 1
    _same_on_cuda(capsule.margin_loss, lengths, targets)


def test_capsule_layer_and_net_on_cuda():
    torch.manual_seed(0)
    layer = capsule.CapsuleLayer(12, 8, 4, 6).double()
    u = _randn(3, 12, 8)
    expected = layer(u)
    got = layer.cuda()(u.cuda())
    assert got.is_cuda
    torch.testing.assert_close(got.cpu(), expected, **TOL)
    torch.manual_seed(0)
    net = capsule.DigitNet().double()
    images = torch.rand(2, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    expected = net(images)
    got = net.cuda()(images.cuda())
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-7, atol=1e-9)


# --- focal -----------------------------------------------------------------------------------

BINARY = ["hard_truncated_bce", "soft_truncated_bce", "focal_bce", "focal_star_bce"]
MULTI = ["hard_truncated_ce", "soft_truncated_ce", "focal_ce", "focal_star_ce"]


@pytest.mark.parametrize("name", BINARY)
def test_focal_binary_losses_on_cuda(name):
    logits = 3 * _randn(64)
    target = (torch.rand(64, generator=torch.Generator().manual_seed(1)) < 0.3).double()
    _same_on_cuda(getattr(focal, name), logits, target, reduction="none")


@pytest.mark.parametrize("name", MULTI)
def test_focal_multiclass_losses_on_cuda(name):
    logits = 3 * _randn(64, 5)
    target = torch.randint(5, (64,), generator=torch.Generator().manual_seed(1))
    _same_on_cuda(getattr(focal, name), logits, target, reduction="none")


def test_focal_metrics_on_cuda():
    scores = _randn(500)
    labels = (torch.rand(500, generator=torch.Generator().manual_seed(1)) < 0.2).double()
    ap = focal.average_precision(scores, labels)
    assert focal.average_precision(scores.cuda(), labels.cuda()) == pytest.approx(ap, rel=1e-12)
    mask = labels.bool()
    share = focal.loss_share(scores.exp(), mask)
    assert focal.loss_share(scores.exp().cuda(), mask.cuda()) == pytest.approx(share, rel=1e-12)
    probs = torch.sigmoid(scores)
    on_cpu, on_gpu = focal.calibration(probs, labels), focal.calibration(probs.cuda(), labels.cuda())
    assert on_gpu.ece == pytest.approx(on_cpu.ece, rel=1e-12) and on_gpu.gap == pytest.approx(on_cpu.gap, rel=1e-12)


# --- nce -------------------------------------------------------------------------------------

def test_nce_kernels_on_cuda():
    g, lp = _randn(40), _randn(40, seed=1)
    _same_on_cuda(nce.nce_logit, g, lp, torch.tensor(0.3, dtype=torch.float64))
    _same_on_cuda(nce.nce_loss, g, _randn(40, seed=2), lp, _randn(40, seed=3),
                  torch.tensor(0.1, dtype=torch.float64))
    _same_on_cuda(nce.negative_sampling_loss, _randn(16, 8), _randn(16, 8, seed=1), _randn(16, 5, 8, seed=2))
    target = torch.randint(30, (16,), generator=torch.Generator().manual_seed(4))
    _same_on_cuda(nce.full_softmax_loss, _randn(16, 8), _randn(30, 8, seed=1), target)
    counts = torch.arange(1.0, 31.0, dtype=torch.float64).reshape(5, 6)
    _same_on_cuda(nce.shifted_pmi, counts, k=3)
    _same_on_cuda(nce.sgns_population_loss, _randn(5, 6), counts, k=3)
    probs = nce.unigram_noise(torch.arange(1.0, 101.0).cuda())
    assert probs.is_cuda
    torch.testing.assert_close(probs.cpu(), nce.unigram_noise(torch.arange(1.0, 101.0)))


def test_nce_samplers_on_cuda():
    """Frequencies of 10^6 draws on the device within 5 standard errors of the noise law."""
    probs = nce.unigram_noise(torch.arange(1.0, 51.0, dtype=torch.float64)).cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    n = 1_000_000
    for method in ("alias", "inverse_cdf"):
        draws = nce.NoiseSampler(probs, method=method).sample(n, gen)
        assert draws.is_cuda
        freq = torch.bincount(draws, minlength=50).double() / n
        se = (probs * (1 - probs) / n).sqrt()
        assert bool(((freq - probs).abs() < 5 * se).all()), method
    x = nce.sample_quartic(0.5, 0.25, (200_000,), gen, device="cuda")
    assert x.is_cuda
    # The quartic law is symmetric: the mean is 0 within 5 standard errors.
    assert abs(float(x.mean())) < 5 * float(x.std()) / math.sqrt(x.numel())


def test_nce_corpus_and_training_on_cuda():
    gen = torch.Generator(device="cuda").manual_seed(0)
    centres, contexts, joint = nce.topic_corpus(vocab_size=12, n_topics=2, n_pairs=50_000, generator=gen)
    assert centres.is_cuda and contexts.is_cuda
    freq = torch.bincount(centres * 12 + contexts, minlength=144).double().cpu() / 50_000
    se = (joint.flatten().cpu() * (1 - joint.flatten().cpu()) / 50_000).sqrt()
    assert bool(((freq - joint.flatten().cpu()).abs() < 5 * se + 1e-12).all())
    scores, losses = nce.train_sgns(centres, contexts, 12, k=2, steps=300, batch=512)
    assert scores.is_cuda and losses.is_cuda
    assert bool(torch.isfinite(losses).all()) and float(losses[-50:].mean()) < float(losses[:50].mean())


# --- f-GAN -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(fgan.DIVERGENCES))
def test_fgan_kernels_on_cuda(name):
    _same_on_cuda(fgan.variational_bound, 0.3 * _randn(50), 0.3 * _randn(50, seed=1), name)
    _same_on_cuda(fgan.optimal_critic, _randn(50), _randn(50, seed=1), name)
    x = torch.linspace(-8, 8, 2001, dtype=torch.float64)
    lp, lq = fgan.normal_log_prob(x, 0.0, 1.0), fgan.normal_log_prob(x, 0.5, 1.3)
    _same_on_cuda(lambda a, b, x: fgan.divergence_on_grid(a, b, x, name), lp, lq, x)


def test_fgan_helpers_on_cuda():
    _same_on_cuda(fgan.wright_omega_log, torch.linspace(-30, 30, 101, dtype=torch.float64))
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    _same_on_cuda(lambda x: fgan.mixture_log_prob(x, [0.3, 0.7], [-1.0, 2.0], [0.5, 1.0]), x)
    gen = torch.Generator(device="cuda").manual_seed(0)
    draws = fgan.mixture_sample(200_000, [0.3, 0.7], [-1.0, 2.0], [0.5, 1.0], gen, dtype=torch.float64)
    assert draws.is_cuda
    mean, var = 0.3 * -1 + 0.7 * 2, 0.3 * (0.25 + 1) + 0.7 * (1 + 4) - 1.1**2
    assert abs(float(draws.mean()) - mean) < 5 * math.sqrt(var / 200_000)


def test_fgan_training_on_cuda():
    """The critic's held-out bound for KL(N(0,1) || N(1,1)) = 0.5 comes close from below."""
    def sample_p(n, g):
        return torch.randn(n, 1, generator=g, device=g.device)

    def sample_q(n, g):
        return 1 + torch.randn(n, 1, generator=g, device=g.device)

    run = fgan.estimate_divergence(sample_p, sample_q, "kl", steps=400, device="cuda", progress=False)
    assert next(run["critic"].parameters()).is_cuda
    assert 0.4 < run["estimate"][-1] < 0.55
    fit = fgan.train_fgan(sample_q, "kl", steps=300, device="cuda", progress=False)
    assert next(fit["generator"].parameters()).is_cuda
    assert all(math.isfinite(m) for m in fit["mu"])


# --- VIB -------------------------------------------------------------------------------------

def test_vib_kernels_on_cuda():
    mu, logvar = _randn(16, 4), 0.5 * _randn(16, 4, seed=1)
    _same_on_cuda(vib.kl_std_normal, mu, logvar)
    out, target = _randn(16, 10, seed=2), torch.randint(10, (16,), generator=torch.Generator().manual_seed(3))
    _same_on_cuda(vib.task_loss, out, target)
    _same_on_cuda(lambda o, t, m, lv: vib.vib_loss(o, t, m, lv, 0.1).total, out, target, mu, logvar)
    _same_on_cuda(vib.lerp, mu, logvar, 0.3)
    _same_on_cuda(vib.slerp_normal, mu, logvar, 0.3)


def test_vib_sampling_and_training_on_cuda():
    gen = torch.Generator(device="cuda").manual_seed(0)
    mu = torch.full((3,), 0.5, dtype=torch.float64, device="cuda")
    logvar = torch.zeros(3, dtype=torch.float64, device="cuda")
    z = vib.reparameterize(mu, logvar, generator=gen)
    assert z.is_cuda
    estimate, se = vib.kl_monte_carlo(mu, logvar, 200_000, generator=gen)
    exact = vib.kl_std_normal(mu, logvar)
    assert estimate.is_cuda and abs(float(estimate) - float(exact)) < 5 * float(se)
    torch.manual_seed(0)
    model = vib.VIBNet(n_in=6, latent=2, n_out=3, hidden=16).cuda()
    inputs = torch.randn(96, 6, device="cuda")
    targets = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0).long()
    vib.fit(model, inputs, targets, epochs=2, progress=False)
    result = vib.evaluate(model, inputs, targets, n_samples=2)
    assert all(math.isfinite(v) for v in result.values() if isinstance(v, float))


# --- Gillespie -------------------------------------------------------------------------------

def test_gillespie_torch_backend_on_cuda_follows_the_law():
    """Birth-death from 0: X(t) is Poisson with mean (k/gamma)(1 - e^{-gamma t})."""
    net = gillespie.ReactionNetwork(["0 -> X", "X -> 0"], [20.0, 1.0])
    n = 20_000
    ens = gillespie.ssa(net, [0], t_max=2.0, n_traj=n, seed=0, t_grid=[2.0], device="cuda",
                        backend="torch")
    assert ens.x.is_cuda
    mean = 20.0 * (1 - math.exp(-2.0))
    got = ens.x[:, -1, 0].double()
    assert abs(float(got.mean()) - mean) < 5 * math.sqrt(mean / n)
    assert abs(float(got.var()) - mean) < 5 * mean * math.sqrt(2 / n) + 0.05 * mean


def test_gillespie_random_streams_are_the_same_bits_on_cuda():
    """The counter-based draws are integer hashing and one exact conversion: device-independent."""
    streams = torch.arange(5_000) * 7919
    counters = torch.arange(5_000) % 37
    cpu = gillespie._torch_uniforms(gillespie._torch_keys(99, streams), counters)
    gpu = gillespie._torch_uniforms(gillespie._torch_keys(99, streams.cuda()), counters.cuda())
    assert gpu.is_cuda and torch.equal(gpu.cpu(), cpu)


def test_gillespie_chunks_and_per_trajectory_rates_on_cuda():

    net = gillespie.ReactionNetwork(["0 -> M", "M -> M + P", "M -> 0", "P -> 0"],
                                    {"k_m": 2.0, "k_p": 5.0, "gamma_m": 1.0, "gamma_p": 0.5})
    kw = dict(t_max=3.0, seed=4, backend="torch", device="cuda")
    full = gillespie.ssa(net, [0, 0], n_traj=300, **kw)
    parts = [gillespie.ssa(net, [0, 0], n_traj=100, first_trajectory=k, **kw) for k in (0, 100, 200)]
    assert full.x.is_cuda and torch.equal(torch.cat([p.x for p in parts]), full.x)
    rows = torch.tensor([[2.0, 5.0, 1.0, 0.5], [1.0, 20.0, 2.0, 0.5]], device="cuda").repeat(50, 1)
    batch = gillespie.ssa(net, [0, 0], n_traj=100, rates=rows, **kw)
    for i in (0, 1, 98, 99):
        one = gillespie.ssa(net, [0, 0], n_traj=1, rates=rows[i], first_trajectory=i, **kw)
        assert torch.equal(one.x[0], batch.x[i])
    # Same streams on the CPU: the trajectories agree unless a last-bit difference in log1p
    # or a sum flips a comparison, which is rare.
    on_cpu = gillespie.ssa(net, [0, 0], n_traj=300, **(kw | {"device": "cpu"}))
    same = (on_cpu.x == full.x.cpu()).all(dim=-1).all(dim=-1).double().mean()
    assert same > 0.9, f"only {float(same):.1%} of trajectories equal on CPU and CUDA"


def test_gillespie_sweep_on_cuda_matches_the_fano_factor():
    from companion import sweeps

    net = gillespie.ReactionNetwork(["0 -> M", "M -> M + P", "M -> 0", "P -> 0"],
                                    {"k_m": 2.0, "k_p": 5.0, "gamma_m": 1.0, "gamma_p": 0.5})
    points = sweeps.grid(k_p=[2.0, 10.0], gamma_m=[0.5, 2.0])
    result = sweeps.sweep(net, points, [0, 0], t_max=30.0, n_traj=20_000, seed=1, t_grid=[30.0],
                          backend="torch", device="cuda", progress_bar=False)
    fano, se = (v[:, -1] for v in result.fano("P"))
    for p in range(len(result)):
        theory = gillespie.two_stage_moments(2.0, points["k_p"][p], points["gamma_m"][p], 0.5)["fano"]
        assert abs(fano[p] - theory) < 5 * se[p]
