"""Gradients of dynamic routing: the fast kernel against the obvious broadcasting definition.

``dynamic_routing`` computes the gradient of ``u_hat`` outside autograd (one GEMM from the small
tensors of every iteration), so each test here compares it with ``dynamic_routing_reference``,
differentiated by plain autograd, or with finite differences (``gradcheck``) in float64.
"""

import pytest
import torch

from companion.capsule import CapsuleLayer, dynamic_routing, dynamic_routing_reference

VARIANTS = ["sabour", "su", "su4819"]
TOL = dict(rtol=1e-12, atol=1e-12)


def predictions(B=3, n_in=7, n_out=4, d=5, seed=0, dtype=torch.float64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n_in, n_out, d, generator=g, dtype=dtype).to(device)


def values_and_grads(routing, u_hat, weights, **kwargs):
    """``(v, c, dL/du_hat)`` for the loss ``L = <v, w_v> + <c, w_c>`` (either weight may be None)."""
    u = u_hat.detach().requires_grad_()
    v, c = routing(u, **kwargs)
    w_v, w_c = weights
    loss = sum((out * w).sum() for out, w in ((v, w_v), (c, w_c)) if w is not None)
    grad, = torch.autograd.grad(loss, u)
    return v.detach(), c.detach(), grad


def loss_weights(u_hat, which, seed=1):
    g = torch.Generator().manual_seed(seed)
    B, n_in, n_out, d = u_hat.shape
    w_v = torch.randn(B, n_out, d, generator=g, dtype=u_hat.dtype).to(u_hat.device)
    w_c = torch.randn(B, n_in, n_out, generator=g, dtype=u_hat.dtype).to(u_hat.device)
    return (w_v if which in ("v", "both") else None, w_c if which in ("c", "both") else None)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("iters", [1, 2, 5])
@pytest.mark.parametrize("K", [0.5, 1.0, 3.0])
def test_values_and_gradients_equal_the_reference(variant, iters, K):
    u_hat = predictions(seed=iters)
    weights = loss_weights(u_hat, "both")
    kwargs = dict(iters=iters, variant=variant, K=K, squash_c=0.5)
    ours = values_and_grads(dynamic_routing, u_hat, weights, **kwargs)
    ref = values_and_grads(dynamic_routing_reference, u_hat, weights, **kwargs)
    for name, a, b in zip(("v", "c", "grad"), ours, ref):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"{name}: {m}")
    if iters > 1:  # the couplings moved: a test that would notice gradients through them going missing
        assert not torch.allclose(ours[1], torch.full_like(ours[1], 1 / u_hat.shape[2]))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("which", ["v", "c"])
def test_gradient_through_one_output_alone(variant, which):
    """Only v (the usual loss) or only the couplings feed the loss: the other grad is zero."""
    u_hat = predictions(seed=3)
    weights = loss_weights(u_hat, which)
    ours = values_and_grads(dynamic_routing, u_hat, weights, iters=3, variant=variant)
    ref = values_and_grads(dynamic_routing_reference, u_hat, weights, iters=3, variant=variant)
    torch.testing.assert_close(ours[2], ref[2], **TOL)
    assert ours[2].abs().max() > 0


def test_one_iteration_couplings_are_constant():
    """iters = 1: uniform couplings that do not depend on u_hat, so a loss on them alone has a
    zero gradient (the reference's couplings are not even attached to u_hat)."""
    u = predictions(seed=13).requires_grad_()
    _, c = dynamic_routing(u, iters=1)
    (c * loss_weights(u, "c")[1]).sum().backward()
    assert u.grad is None or not u.grad.any()
    assert not dynamic_routing_reference(u, iters=1)[1].requires_grad


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_three_iterations(variant):
    u = predictions(B=2, n_in=4, n_out=3, d=3, seed=4).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: dynamic_routing(x, iters=3, variant=variant, K=1.5, squash_c=0.5), (u,))


@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_matches_the_reference(variant):
    u_hat = 0.3 * predictions(B=4, n_in=64, n_out=10, d=16, seed=5, dtype=torch.float32)
    weights = loss_weights(u_hat, "both")
    ours = values_and_grads(dynamic_routing, u_hat, weights, iters=3, variant=variant)
    ref = values_and_grads(dynamic_routing_reference, u_hat, weights, iters=3, variant=variant)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradient_flows_through_a_non_leaf_u_hat(variant):
    """u_hat = u W (a matmul with a parameter): the gradients of u and W equal the reference's."""
    g = torch.Generator().manual_seed(6)
    B, n_in, d_in, n_out, d = 3, 6, 4, 3, 5
    u0 = torch.randn(B, n_in, d_in, generator=g, dtype=torch.float64)
    W0 = torch.randn(d_in, n_out * d, generator=g, dtype=torch.float64)
    w_v = torch.randn(B, n_out, d, generator=g, dtype=torch.float64)
    grads = []
    for routing in (dynamic_routing, dynamic_routing_reference):
        u, W = u0.clone().requires_grad_(), W0.clone().requires_grad_()
        v, _ = routing((u @ W).view(B, n_in, n_out, d), iters=3, variant=variant)
        (v * w_v).sum().backward()
        grads.append((u.grad, W.grad))
    (gu, gW), (gu_ref, gW_ref) = grads
    torch.testing.assert_close(gu, gu_ref, **TOL)
    torch.testing.assert_close(gW, gW_ref, **TOL)


@pytest.mark.parametrize("share_weights", [True, False])
def test_capsule_layer_weight_gradient_equals_the_reference(share_weights):
    """The layer's predictions (einsum with per-input matrices may be non-contiguous) route and
    back-propagate to the weights exactly as the reference routing of the same predictions."""
    torch.manual_seed(7)
    layer = CapsuleLayer(6, 4, 3, 5, routings=3, share_weights=share_weights, variant="sabour").double()
    u = torch.randn(2, 6, 4, dtype=torch.float64)
    layer(u).pow(2).sum().backward()
    ours = layer.weight.grad.clone()
    layer.weight.grad = None
    W = layer.weight
    u_hat = u @ W if share_weights else torch.einsum("bid,ide->bie", u, W)
    v, _ = dynamic_routing_reference(u_hat.view(2, 6, 3, 5), 3, "sabour", squash_c=layer.squash_c)
    v.pow(2).sum().backward()
    torch.testing.assert_close(ours, W.grad, **TOL)


def test_non_contiguous_u_hat():
    u_hat = predictions(seed=8).transpose(1, 2).contiguous().transpose(1, 2)  # same values, strided
    assert not u_hat.is_contiguous()
    weights = loss_weights(u_hat, "both")
    ours = values_and_grads(dynamic_routing, u_hat, weights, iters=3, variant="sabour")
    ref = values_and_grads(dynamic_routing_reference, u_hat, weights, iters=3, variant="sabour")
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, **TOL)


def test_backward_twice_with_retain_graph_gives_the_same_gradient():
    u = predictions(seed=9).requires_grad_()
    v, _ = dynamic_routing(u, iters=3)
    first, = torch.autograd.grad(v.sum(), u, retain_graph=True)
    second, = torch.autograd.grad(v.sum(), u)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_backward_frees_the_graph_like_autograd_does():
    """Without retain_graph the saved small graph is released (the outputs may outlive it, as
    CapsuleLayer keeps its couplings): a second backward fails as on any freed graph."""
    u = predictions(seed=14).requires_grad_()
    v, c = dynamic_routing(u, iters=3)
    v.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (v.sum() + c.sum()).backward()


def test_without_grad_the_values_are_the_same_and_untracked():
    u = predictions(seed=10).requires_grad_()
    with torch.no_grad():
        v, c = dynamic_routing(u, iters=3)
    assert not v.requires_grad and not c.requires_grad
    v_ref, c_ref = dynamic_routing_reference(u.detach(), iters=3)
    torch.testing.assert_close(v, v_ref, **TOL)
    torch.testing.assert_close(c, c_ref, **TOL)


def test_second_derivatives_raise_a_clear_error():
    u = predictions(seed=11).requires_grad_()
    v, _ = dynamic_routing(u, iters=3)
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(v.pow(2).sum(), u, create_graph=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("variant", VARIANTS)
def test_cuda_matches_the_cpu_reference(variant):
    u_hat = predictions(B=4, n_in=32, n_out=10, d=16, seed=12)
    weights = loss_weights(u_hat, "both")
    ref = values_and_grads(dynamic_routing_reference, u_hat, weights, iters=3, variant=variant)
    cuda_weights = tuple(w.cuda() for w in weights)
    ours = values_and_grads(dynamic_routing, u_hat.cuda(), cuda_weights, iters=3, variant=variant)
    for a, b in zip(ours, ref):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-10)
