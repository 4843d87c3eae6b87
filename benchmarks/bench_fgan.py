"""f-GAN kernels: the Jeffrey conjugate, grid quadrature for direct fits, and the bound's two paths.

- The Jeffrey row's conjugate needs Lambert W. Ours is five Newton steps on log W in PyTorch
  (float64, 10^6 points); the baseline is ``scipy.special.lambertw`` in NumPy on the same points.
  Goal: at least as fast as SciPy, while staying differentiable and on the inputs' device.
- The direct fits of the chapter evaluate a divergence hundreds of times. Ours:
  ``divergence_on_grid`` (trapezoidal rule on 6001 points, vectorised); baseline:
  ``divergence_quad`` (``scipy.integrate.quad``, adaptive, one Python call per point), for the
  KL divergence of the chapter's two-mode mixture from a Gaussian. Goal: the grid is much faster
  (the chapter checks that its error is at rounding level there).
- ``variational_bound`` on raw critic outputs (fused conjugate, nothing to check: every raw value
  is valid) against ``raw=False`` on the activated values (checks dom f*, which reads a flag back,
  then evaluates the unfused conjugate). 10^6 values per law, Jensen–Shannon row. Goal: the raw
  path, which training uses, is the faster one; the ratio is the price of the check.

Run alone: ``python -m benchmarks bench_fgan``.
"""

import numpy as np
import torch
from scipy import special

from benchmarks import Case
from companion import fgan

W, M, S = (0.3, 0.7), (-2.0, 2.0), (0.7, 0.7)


def cases():
    t = torch.linspace(-20, 20, 1_000_000, dtype=torch.float64)
    t_np = t.numpy()
    jeffrey = fgan.get("jeffrey")

    def scipy_jeffrey():
        w = special.lambertw(np.exp(1 - t_np)).real
        return w + 1 / w + t_np - 2

    yield Case("Jeffrey conjugate, 10^6 points (float64)", lambda: jeffrey.conjugate(t), scipy_jeffrey,
               "scipy lambertw", repeats=5)

    x = torch.linspace(-15, 15, 6001, dtype=torch.float64)
    log_p = fgan.mixture_log_prob(x, W, M, S)
    log_q = fgan.normal_log_prob(x, 0.8, 1.96)

    def quad():
        return fgan.divergence_quad(lambda z: fgan.mixture_log_prob(z, W, M, S),
                                    lambda z: fgan.normal_log_prob(z, 0.8, 1.96), "kl")

    yield Case("KL(mixture || Gaussian), grid of 6001 points", lambda: fgan.divergence_on_grid(
        log_p, log_q, x, "kl"), quad, "scipy quad", repeats=3)

    g = torch.Generator().manual_seed(0)
    v_p, v_q = torch.randn(1_000_000, generator=g), torch.randn(1_000_000, generator=g)
    js = fgan.get("jensen_shannon")
    t_p, t_q = js.activation(v_p), js.activation(v_q)
    yield Case("JS bound, 10^6 raw outputs per law", lambda: fgan.variational_bound(v_p, v_q, "jensen_shannon"),
               lambda: fgan.variational_bound(t_p, t_q, "jensen_shannon", raw=False),
               "activated + domain check", repeats=5)
