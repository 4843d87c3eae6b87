"""The smooth maximum of the template chapter: bounds, limits, gradient, devices, bad input."""

import math

import pytest
import torch
from matplotlib.figure import Figure

from companion.smooth_max import plot_smooth_max, smooth_max, smooth_max_weights


@pytest.fixture
def x():
    return torch.randn(200, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.mark.parametrize("K", [0.05, 1.0, 30.0, 1e4])
def test_sandwich_bound(x, K):
    gap = smooth_max(x, K) - x.max(dim=-1).values
    assert (gap >= -1e-12).all() and (gap <= math.log(7) / K + 1e-12).all()


def test_limits(x):
    assert torch.allclose(smooth_max(x, 1e6), x.max(dim=-1).values, atol=1e-5)
    K = 1e-6  # exercise of the template chapter: mean + log(n)/K as K -> 0
    assert torch.allclose(smooth_max(x, K) - math.log(7) / K, x.mean(dim=-1), atol=1e-4)


def test_equal_entries_give_max_plus_log_n_over_K():
    v = torch.full((5,), 2.0, dtype=torch.float64)
    assert smooth_max(v, 4.0).item() == pytest.approx(2.0 + math.log(5) / 4.0, rel=1e-14)


def test_no_overflow_for_large_arguments():
    v = torch.tensor([1000.0, 999.0], dtype=torch.float32)
    out = smooth_max(v, 50.0)
    assert torch.isfinite(out) and out.item() == pytest.approx(1000.0, abs=1e-3)


def test_gradient_is_the_softmax_and_passes_gradcheck(x):
    v = x[:3].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(smooth_max(v, 2.5).sum(), v)
    assert torch.allclose(grad, smooth_max_weights(x[:3], 2.5))
    assert torch.allclose(grad.sum(dim=-1), torch.ones(3, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda t: smooth_max(t, 2.5, dim=0), (v,))


def test_keeps_dtype_device_and_reduces_the_chosen_dim(x):
    assert smooth_max(x.float(), 1.0, dim=0).dtype == torch.float32
    assert smooth_max(x, 1.0, dim=0).shape == (7,)
    if torch.cuda.is_available():
        gpu = smooth_max(x.cuda(), 3.0)
        assert gpu.is_cuda and torch.allclose(gpu.cpu(), smooth_max(x, 3.0))


@pytest.mark.parametrize("K", [0, -1.0, float("nan"), float("inf")])
def test_bad_sharpness(x, K):
    with pytest.raises(ValueError, match=r"K \(sharpness\) must be a finite number > 0, got"):
        smooth_max(x, K)


def test_integer_input_is_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        smooth_max(torch.tensor([1, 2, 3]), 1.0)


def test_demo_returns_a_figure_and_checks_its_arguments():
    assert isinstance(plot_smooth_max(K=2.0, n_curves=4), Figure)
    with pytest.raises(ValueError, match="n_curves must be an integer >= 2, got 1"):
        plot_smooth_max(K=1.0, n_curves=1)
