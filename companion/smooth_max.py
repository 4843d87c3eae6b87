"""The smooth maximum ``(1/K) log Σ exp(K λ_i)`` and its gradient, the softmax.

Several chapters lean on this one idea: Capsules as K-Means smooths the ``min`` of K-Means with it
(kexue.fm/archives/5112), and the focal-loss chapter smooths a step function the same way.

Introduced in: A template chapter: the smooth maximum.
"""

from __future__ import annotations

import math

import torch

from companion import style


def _check_sharpness(K: float) -> float:
    K = float(K)
    if not math.isfinite(K) or K <= 0:
        raise ValueError(f"K (sharpness) must be a finite number > 0, got {K!r}")
    return K


def smooth_max(x: torch.Tensor, K: float = 1.0, dim: int = -1) -> torch.Tensor:
    r"""Smooth maximum along ``dim``: :math:`\frac1K\log\sum_i e^{K x_i}`.

    It lies between ``max(x)`` and ``max(x) + log(n)/K`` (``n`` = size of ``dim``), so it tends to
    the maximum as ``K → ∞``. Computed with ``logsumexp``, so large ``K·x`` does not overflow.

    Args:
        x: tensor of any shape, floating point; device and dtype are kept.
        K: sharpness, a finite number > 0 (``K = 1`` is the usual log-sum-exp).
        dim: the dimension that is reduced.

    Returns:
        ``x`` reduced over ``dim``.
    """
    K = _check_sharpness(K)
    if not torch.is_floating_point(x):
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    return torch.logsumexp(K * x, dim=dim) / K


def smooth_max_weights(x: torch.Tensor, K: float = 1.0, dim: int = -1) -> torch.Tensor:
    """The gradient of :func:`smooth_max` with respect to ``x``: ``softmax(K x)`` along ``dim``."""
    K = _check_sharpness(K)
    return torch.softmax(K * x, dim=dim)


def plot_smooth_max(K: float = 1.0, n_curves: int = 3):
    """Slider demo: ``n_curves`` shifted sine waves, their maximum and smooth maximum, and weights.

    Left: the curves, their pointwise max and the smooth max with its ``log(n)/K`` upper bound.
    Right: the softmax weights of each curve, which become one-hot as ``K`` grows.
    """
    K = _check_sharpness(K)
    if int(n_curves) != n_curves or n_curves < 2:
        raise ValueError(f"n_curves must be an integer >= 2, got {n_curves!r}")
    n_curves = int(n_curves)
    t = torch.linspace(0, 2 * math.pi, 400, dtype=torch.float64)
    phases = torch.arange(n_curves, dtype=torch.float64) * 2 * math.pi / n_curves
    curves = torch.sin(t[None, :] + phases[:, None])
    hard = curves.max(dim=0).values
    soft = smooth_max(curves, K, dim=0)
    weights = smooth_max_weights(curves, K, dim=0)

    fig, (left, right) = style.figure(1, 2, width=8.0, height=3.2)
    for i in range(n_curves):
        left.plot(t, curves[i], lw=1, alpha=0.5)
    left.plot(t, hard, color="black", lw=2, label=r"$\max_i \lambda_i$")
    left.plot(t, soft, color=style.COLORS[1], lw=2, ls="--", label=rf"smooth max, $K={K:.3g}$")
    left.fill_between(t, hard, hard + math.log(n_curves) / K, color=style.COLORS[1], alpha=0.12,
                      label=r"bound $\max + \log n / K$")
    left.set(xlabel="$t$", ylabel=r"$\lambda_i(t)$", ylim=(-1.2, 1.2 + min(math.log(n_curves) / K, 3.0)))
    left.legend(loc="upper right", fontsize=8)
    right.stackplot(t, weights.numpy(), alpha=0.8)
    right.set(xlabel="$t$", ylabel=r"weight $\mathrm{softmax}(K\lambda)_i$", ylim=(0, 1))
    right.grid(False)
    return fig
