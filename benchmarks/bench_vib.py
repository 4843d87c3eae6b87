"""The VIB kernels against what a reader would otherwise write, and what a bottleneck adds to training.

- the closed-form KL (forward and backward) against ``torch.distributions.kl_divergence`` of two
  ``Normal`` objects, and against the bare formula without our input checks (the finiteness
  check reads the whole log-variance once);
- a reparameterised sample against ``Normal(mu, std).rsample()``;
- one training step of the chapter's VIB classifier on a digits batch against the same MLP with a
  deterministic 16-dimensional layer and plain cross-entropy (the cost of the bottleneck).

Goals: the kernels at least as fast as torch.distributions (ratio >= 1), the checks and the
bottleneck cheap (ratios near 1). Run alone: ``python -m benchmarks bench_vib``.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from benchmarks import Case
from companion import data, vib


def cases():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4096, 256, generator=g).requires_grad_()
    logvar = torch.randn(4096, 256, generator=g).requires_grad_()

    def ours_kl():
        vib.kl_std_normal(mu, logvar).sum().backward()

    def distributions_kl():
        kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum().backward()

    def bare_kl():
        (0.5 * (mu.square() + logvar.exp() - logvar - 1)).sum().backward()

    # many repeats: on a shared machine the best of a few millisecond-long runs is still noisy
    yield Case("KL to N(0,I), [4096, 256], fwd+bwd", ours_kl, distributions_kl, "torch.distributions",
               repeats=30)
    yield Case("KL to N(0,I), [4096, 256], fwd+bwd", ours_kl, bare_kl, "bare formula, no checks", repeats=30)

    with torch.no_grad():
        m, v = mu.detach(), logvar.detach()
        yield Case("reparameterised sample, [4096, 256]", lambda: vib.reparameterize(m, v),
                   lambda: Normal(m, torch.exp(0.5 * v)).rsample(), "Normal.rsample", repeats=30)

    images, labels = data.load_digits()
    x, y = images[:64], labels[:64]
    torch.manual_seed(0)
    net = vib.VIBNet(n_in=64, latent=16, n_out=10, hidden=128)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 16), nn.Linear(16, 10))
    opt_vib = torch.optim.Adam(net.parameters(), lr=1e-3)
    opt_plain = torch.optim.Adam(plain.parameters(), lr=1e-3)
    net.train()

    def vib_step():
        output, m, v = net(x)
        loss = vib.vib_loss(output, y, m, v, lam=1e-3).total
        opt_vib.zero_grad()
        loss.backward()
        opt_vib.step()

    def plain_step():
        loss = F.cross_entropy(plain(x), y)
        opt_plain.zero_grad()
        loss.backward()
        opt_plain.step()

    yield Case("training step, digits batch of 64", vib_step, plain_step, "MLP without bottleneck",
               repeats=200)
