"""Hard truncation, its smoothing and focal loss: identities, limits, closed-form gradients,
PyTorch references, stability at extreme logits, gradcheck, the chapter's helpers, bad input.

References are computed independently of the code under test: PyTorch's own losses, the
focal-loss paper's closed-form gradients written out in probability space, natural-log
constants, finite differences (gradcheck) and scikit-learn's average precision.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from companion import focal as FO
from companion.focal import (
    average_precision, fit, focal_bce, focal_ce, focal_star_bce, focal_star_ce,
    hard_truncated_bce, hard_truncated_ce, imbalanced_moons, loss_share, mlp,
    soft_truncated_bce, soft_truncated_ce,
)

BINARY = [hard_truncated_bce, soft_truncated_bce, focal_bce, focal_star_bce]
MULTI = [hard_truncated_ce, soft_truncated_ce, focal_ce, focal_star_ce]


def binary_data(n=400, scale=4.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = (torch.rand(n, generator=g) < 0.4).to(dtype)
    return x, y


def class_data(n=200, C=4, scale=3.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, C, generator=g, dtype=torch.float64) * scale).to(dtype)
    t = torch.randint(0, C, (n,), generator=g)
    return x, t


def grad_of(fn, x, *args, **kwargs):
    x = x.detach().clone().requires_grad_()
    (g,) = torch.autograd.grad(fn(x, *args, reduction="sum", **kwargs), x)
    return g


def paper_terms(x, y):
    """The paper's notation: y in {+1, -1}, x_t = y x, p_t = sigmoid(x_t)."""
    ypm = 2 * y - 1
    return ypm, torch.sigmoid(ypm * x)


# ---------------------------------------------------------------------------------- references

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gamma_zero_is_bce_with_logits(dtype, reduction):
    x, y = binary_data(dtype=dtype)
    ours = focal_bce(x, y, gamma=0.0, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    assert ours.dtype == dtype and ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(grad_of(focal_bce, x, y, gamma=0.0),
                               grad_of(F.binary_cross_entropy_with_logits, x, y))


def test_gamma_zero_with_alpha_is_weighted_bce():
    x, y = binary_data()
    alpha_t = torch.where(y > 0.5, 0.3, 0.7).double()
    ref = F.binary_cross_entropy_with_logits(x, y, weight=alpha_t, reduction="none")
    torch.testing.assert_close(focal_bce(x, y, 0.0, 0.3, reduction="none"), ref)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gamma_zero_is_cross_entropy(reduction):
    x, t = class_data()
    torch.testing.assert_close(focal_ce(x, t, 0.0, reduction=reduction),
                               F.cross_entropy(x, t, reduction=reduction))
    # Spatial targets [N, *] as in cross_entropy.
    xs, ts = torch.randn(3, 5, 4, 2, dtype=torch.float64), torch.randint(0, 5, (3, 4, 2))
    torch.testing.assert_close(focal_ce(xs, ts, 0.0, reduction=reduction),
                               F.cross_entropy(xs, ts, reduction=reduction))
    weights = torch.tensor([0.1, 0.9, 0.5, 0.25], dtype=torch.float64)
    torch.testing.assert_close(focal_ce(x, t, 0.0, alpha=weights, reduction="none"),
                               F.cross_entropy(x, t, weight=weights, reduction="none"))


def test_fl_star_with_unit_gamma_and_zero_beta_is_cross_entropy():
    x, y = binary_data()
    torch.testing.assert_close(focal_star_bce(x, y, 1.0, 0.0, reduction="none"),
                               F.binary_cross_entropy_with_logits(x, y, reduction="none"))
    xc, t = class_data(C=5)
    torch.testing.assert_close(focal_star_ce(xc, t, 1.0, 0.0, reduction="none"),
                               F.cross_entropy(xc, t, reduction="none"))


def test_focal_loss_at_p_point_nine_uses_natural_logs():
    # p = 0.9 for a positive is the logit ln 9. The log10 value 0.00045 found online is wrong.
    x, y = torch.tensor([math.log(9.0)], dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    assert focal_bce(x, y, 2.0).item() == pytest.approx(0.01 * math.log(1 / 0.9), rel=1e-12)
    assert focal_bce(x, y, 2.0).item() == pytest.approx(0.0010536051565782627, rel=1e-12)
    assert focal_bce(x, y, 0.0).item() == pytest.approx(0.10536051565782628, rel=1e-12)
    assert focal_bce(x, y, 2.0).item() != pytest.approx(0.01 * math.log10(1 / 0.9), rel=1e-2)
    # The same sample as class 1 of 2 (logits 0 and ln 9) and as a negative with logit -ln 9.
    two = torch.tensor([[0.0, math.log(9.0)]], dtype=torch.float64)
    assert focal_ce(two, torch.tensor([1]), 2.0).item() == pytest.approx(0.01 * math.log(1 / 0.9))
    assert focal_bce(-x, 1 - y, 2.0).item() == pytest.approx(0.01 * math.log(1 / 0.9))
    assert focal_bce(x, y, 2.0, alpha=0.25).item() == pytest.approx(0.0025 * math.log(1 / 0.9))


# ---------------------------------------------------------------------------------- identities

def test_smoothed_loss_with_unit_K_is_focal_loss_with_unit_gamma():
    x, y = binary_data(scale=6.0)
    torch.testing.assert_close(soft_truncated_bce(x, y, K=1.0, m=0.5, reduction="none"),
                               focal_bce(x, y, gamma=1.0, reduction="none"))
    torch.testing.assert_close(grad_of(soft_truncated_bce, x, y, K=1.0),
                               grad_of(focal_bce, x, y, gamma=1.0))
    x2, t2 = class_data(C=2, scale=6.0)
    torch.testing.assert_close(soft_truncated_ce(x2, t2, K=1.0, reduction="none"),
                               focal_ce(x2, t2, gamma=1.0, reduction="none"))


def test_the_identity_fails_for_three_or_more_classes():
    for C in (3, 10):
        x, t = class_data(C=C)
        gap = (soft_truncated_ce(x, t, 1.0, reduction="none") - focal_ce(x, t, 1.0, reduction="none")).abs()
        assert gap.max() > 0.1, C
    # One sample by hand: logits (2, 1, -3), target 1. The article's weight is softmax(-x)_t,
    # focal's is 1 - p_t; they differ, and a larger K sends the article's weight to 0 even
    # though the sample is misclassified, because another class has a smaller logit.
    x, t = torch.tensor([[2.0, 1.0, -3.0]], dtype=torch.float64), torch.tensor([1])
    p = torch.softmax(x, 1)[0, 1].item()
    ce = -math.log(p)
    assert soft_truncated_ce(x, t, 1.0).item() == pytest.approx(
        math.exp(-1) / (math.exp(-2) + math.exp(-1) + math.exp(3)) * ce)
    assert focal_ce(x, t, 1.0).item() == pytest.approx((1 - p) * ce)
    assert p < 0.5 and soft_truncated_ce(x, t, 50.0).item() < 1e-80


def test_two_classes_equal_the_binary_losses():
    """Class 1 of [0, x] is the positive label of the binary logit x, for every family."""
    x, y = binary_data(scale=5.0)
    logits = torch.stack([torch.zeros_like(x), x], dim=1)
    t = y.long()
    pairs = [(hard_truncated_bce, hard_truncated_ce, dict(m=0.7)),
             (soft_truncated_bce, soft_truncated_ce, dict(K=3.0)),
             (focal_bce, focal_ce, dict(gamma=1.5)),
             (focal_star_bce, focal_star_ce, dict(gamma=2.0, beta=1.0))]
    for binary, multi, kw in pairs:
        torch.testing.assert_close(multi(logits, t, reduction="none", **kw),
                                   binary(x, y, reduction="none", **kw), msg=binary.__name__)
    torch.testing.assert_close(focal_ce(logits, t, 2.0, alpha=[0.75, 0.25], reduction="none"),
                               focal_bce(x, y, 2.0, 0.25, reduction="none"))


@pytest.mark.parametrize("m", [0.5, 0.7, 0.9])
def test_a_steep_smoothing_tends_to_hard_truncation(m):
    x, y = binary_data(n=2000, scale=5.0)
    z = torch.where(y > 0.5, x, -x)
    distance = (z - math.log(m / (1 - m))).abs()  # from the threshold, in logits
    ce = F.softplus(-z)
    hard = hard_truncated_bce(x, y, m, reduction="none")
    # On either side the two differ by exactly sigmoid(-K distance) times the cross entropy
    # (up to rounding, a few float64 epsilons of it).
    eps = torch.finfo(torch.float64).eps
    for K in (1e2, 1e4):
        gap = (soft_truncated_bce(x, y, K, m, reduction="none") - hard).abs()
        assert (gap <= (torch.sigmoid(-K * distance) + 4 * eps) * ce).all(), K
    far = distance > 0.01
    assert far.sum() > 1900 and (torch.sigmoid(-1e4 * distance[far]) < 1e-40).all()
    # Exactly at the threshold both use the step's value 1/2.
    at = torch.tensor([math.log(m / (1 - m))], dtype=torch.float64)
    one = torch.ones(1, dtype=torch.float64)
    half_ce = 0.5 * F.softplus(-at)
    torch.testing.assert_close(hard_truncated_bce(at, one, m, reduction="none"), half_ce)
    torch.testing.assert_close(soft_truncated_bce(at, one, 1e4, m, reduction="none"), half_ce)


def test_reductions_agree():
    x, y = binary_data()
    xc, t = class_data()
    for fn, a, b in [(f, x, y) for f in BINARY] + [(f, xc, t) for f in MULTI]:
        per = fn(a, b, reduction="none")
        torch.testing.assert_close(fn(a, b, reduction="sum"), per.sum())
        torch.testing.assert_close(fn(a, b), per.mean())


# ---------------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_focal_gradient_is_the_papers_closed_form(gamma, alpha):
    x, y = binary_data(scale=3.0)
    ypm, pt = paper_terms(x, y)
    alpha_t = 1.0 if alpha is None else torch.where(y > 0.5, alpha, 1 - alpha)
    expected = alpha_t * ypm * (1 - pt) ** gamma * (gamma * pt * torch.log(pt) + pt - 1)
    torch.testing.assert_close(grad_of(focal_bce, x, y, gamma=gamma, alpha=alpha), expected)


def test_ce_and_fl_star_gradients_are_the_papers_closed_forms():
    x, y = binary_data(scale=3.0)
    ypm, pt = paper_terms(x, y)
    torch.testing.assert_close(grad_of(focal_bce, x, y, gamma=0.0), ypm * (pt - 1))
    for gamma, beta in ((2.0, 1.0), (4.0, 0.0), (0.5, -1.0)):
        p_star = torch.sigmoid(gamma * ypm * x + beta)
        torch.testing.assert_close(grad_of(focal_star_bce, x, y, gamma=gamma, beta=beta),
                                   ypm * (p_star - 1))


def test_smoothed_gradient_matches_its_derivation():
    # d/dz [s(K(a - z)) softplus(-z)] = -K s(1 - s) softplus(-z) - s sigmoid(-z), s = sigmoid(K(a - z)).
    x, y = binary_data(scale=3.0)
    ypm = 2 * y - 1
    for K, m in ((1.0, 0.5), (4.0, 0.7)):
        z, a = ypm * x, math.log(m / (1 - m))
        s = torch.sigmoid(K * (a - z))
        dz = -K * s * (1 - s) * F.softplus(-z) - s * torch.sigmoid(-z)
        torch.testing.assert_close(grad_of(soft_truncated_bce, x, y, K=K, m=m), ypm * dz)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 3.5])
def test_multiclass_focal_gradient_matches_its_derivation(gamma):
    # dFL/dx_j = [gamma (1-p)^(gamma-1) p log p - (1-p)^gamma] (delta_tj - p_j), p = p_t.
    x, t = class_data(C=5)
    p_all = torch.softmax(x, dim=1)
    p = p_all.gather(1, t[:, None])
    outer = gamma * (1 - p) ** (gamma - 1) * p * torch.log(p) - (1 - p) ** gamma if gamma else -torch.ones_like(p)
    expected = outer * (F.one_hot(t, 5) - p_all)
    torch.testing.assert_close(grad_of(focal_ce, x, t, gamma=gamma), expected)


def test_hard_truncation_gradient_is_exactly_zero_where_truncated():
    x, y = binary_data(n=1000, scale=4.0)
    for m in (0.5, 0.8):
        _, pt = paper_terms(x, y)
        g = grad_of(hard_truncated_bce, x, y, m=m)
        truncated, kept = pt > m + 1e-6, pt < m - 1e-6
        assert truncated.sum() > 100 and kept.sum() > 100
        assert (g[truncated] == 0).all()
        torch.testing.assert_close(g[kept], grad_of(focal_bce, x, y, gamma=0.0)[kept])
    xc, t = class_data(n=500, C=4)
    pt = torch.softmax(xc, 1).gather(1, t[:, None]).squeeze(1)
    g = grad_of(hard_truncated_ce, xc, t, m=0.6)
    assert (pt > 0.6).sum() > 50 and (g[pt > 0.6] == 0).all()
    torch.testing.assert_close(g[pt < 0.6], grad_of(focal_ce, xc, t, gamma=0.0)[pt < 0.6])


@pytest.mark.parametrize("fn", BINARY + MULTI, ids=lambda f: f.__name__)
def test_gradcheck_in_float64(fn):
    if fn in BINARY:
        x, y = binary_data(n=24, scale=3.0)
    else:
        x, y = class_data(n=8, C=3)
    x = x.clone().requires_grad_()
    kwargs = {hard_truncated_bce: dict(m=0.6), hard_truncated_ce: dict(m=0.6),
              soft_truncated_bce: dict(K=3.0, m=0.6), soft_truncated_ce: dict(K=2.0),
              focal_bce: dict(gamma=2.0, alpha=0.25), focal_ce: dict(gamma=1.5, alpha=[.2, .5, 1.]),
              focal_star_bce: dict(gamma=2.0, beta=1.0), focal_star_ce: dict(gamma=3.0, beta=-.5)}[fn]
    if fn in (hard_truncated_bce, hard_truncated_ce):  # keep samples off the step itself
        x = x.detach().clone()
        x[x.abs() < 0.2] += 0.5
        x.requires_grad_()
    assert torch.autograd.gradcheck(lambda v: fn(v, y, reduction="none", **kwargs), (x,))
    assert torch.autograd.gradcheck(lambda v: fn(v, y, **kwargs), (x,))


def test_focal_bce_refuses_a_second_derivative():
    x, y = binary_data(n=10)
    x.requires_grad_()
    (g,) = torch.autograd.grad(focal_bce(x, y), x, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


# ------------------------------------------------------------------------ orderings and limits

def test_focal_loss_is_at_most_cross_entropy_and_falls_with_gamma():
    x, y = binary_data(n=2000, scale=6.0)
    ce = focal_bce(x, y, 0.0, reduction="none")
    previous = ce
    for gamma in (0.5, 1.0, 2.0, 5.0):
        fl = focal_bce(x, y, gamma, reduction="none")
        assert (fl <= ce).all() and (fl <= previous).all()
        previous = fl
    xc, t = class_data(n=500, C=6)
    assert (focal_ce(xc, t, 2.0, reduction="none") <= F.cross_entropy(xc, t, reduction="none")).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_extreme_logits_stay_finite(dtype):
    x = torch.tensor([-1e4, -100.0, -50.0, -17.0, 0.0, 17.0, 50.0, 100.0, 1e4], dtype=dtype)
    for y_value in (0.0, 1.0):
        y = torch.full_like(x, y_value)
        for fn, kw in ((hard_truncated_bce, {}), (soft_truncated_bce, dict(K=20.0)),
                       (focal_bce, dict(gamma=2.0, alpha=0.25)), (focal_bce, dict(gamma=0.5)),
                       (focal_star_bce, {})):
            v = x.clone().requires_grad_()
            loss = fn(v, y, reduction="none", **kw)
            (g,) = torch.autograd.grad(loss.sum(), v)
            assert torch.isfinite(loss).all() and torch.isfinite(g).all(), (fn.__name__, y_value)
            assert loss.dtype == dtype and (loss >= 0).all()
        # Confidently wrong samples cost about |x| and get gradient magnitude ~1 (alpha aside).
        wrong = -x if y_value == 1 else x
        ce = focal_bce(wrong[-1:].float(), y[-1:].float(), 0.0).item()
        assert ce == pytest.approx(abs(float(x[-1])), rel=1e-6)
    xc = torch.tensor([[100.0, -100.0, 0.0], [-1e4, 1e4, 0.0]], dtype=dtype)
    for fn in MULTI:
        v = xc.clone().requires_grad_()
        loss = fn(v, torch.tensor([0, 0]), reduction="none")
        (g,) = torch.autograd.grad(loss.sum(), v)
        assert torch.isfinite(loss).all() and torch.isfinite(g).all(), fn.__name__


def test_fused_path_for_compilers_equals_the_eager_path():
    """torch.compile runs _focal_fused; eager mode runs _focal_eager. Same numbers."""
    x, y = binary_data(n=3000, scale=8.0)
    ypm, pt = paper_terms(x, y)
    for gamma in (0.0, 1.0, 2.0, 1.5, 0.3, 9.0):
        for alpha in (None, 0.25):
            for target in (y, y.bool()):
                le, ge = FO._focal_eager(x, target, gamma, alpha, True)
                lf, gf = FO._focal_fused(x, target, gamma, alpha, True)
                torch.testing.assert_close(lf, le)
                torch.testing.assert_close(gf, ge)
                assert FO._focal_fused(x, target, gamma, alpha, False)[1] is None


def test_labels_may_be_bool_integer_or_float_and_grads_flow_to_logits_only():
    x, y = binary_data()
    ref = focal_bce(x, y, 2.0, 0.25)
    for labels in (y.bool(), y.long(), y.float()):
        torch.testing.assert_close(focal_bce(x, labels, 2.0, 0.25), ref)
    with torch.no_grad():  # no gradient work when none is needed
        torch.testing.assert_close(focal_bce(x, y, 2.0, 0.25), ref)


# ---------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, error, message", [
    (lambda x, y: focal_bce(x, y, gamma=-0.5), ValueError, r"gamma must be a finite number >= 0, got gamma=-0.5"),
    (lambda x, y: focal_bce(x, y, gamma=float("nan")), ValueError, r"gamma must be .* got gamma=nan"),
    (lambda x, y: focal_bce(x, y, gamma="2"), TypeError, r"gamma must be a finite number >= 0, got gamma='2'"),
    (lambda x, y: focal_bce(x, y, gamma=True), TypeError, r"gamma must be"),
    (lambda x, y: focal_bce(x, y, alpha=1.5), ValueError, r"alpha must be a number in \[0, 1\] or None, got alpha=1.5"),
    (lambda x, y: focal_bce(x, y, alpha=-0.1), ValueError, r"alpha must be a number in \[0, 1\]"),
    (lambda x, y: soft_truncated_bce(x, y, K=0), ValueError, r"K must be a finite number > 0 .* got K=0"),
    (lambda x, y: soft_truncated_bce(x, y, K=-1.0), ValueError, r"K must be a finite number > 0"),
    (lambda x, y: soft_truncated_bce(x, y, K=float("inf")), ValueError, r"K must be .* got K=inf"),
    (lambda x, y: hard_truncated_bce(x, y, m=0.4), ValueError, r"m must be a threshold in \[0.5, 1\), got m=0.4"),
    (lambda x, y: hard_truncated_bce(x, y, m=1.0), ValueError, r"m must be a threshold in \[0.5, 1\), got m=1.0"),
    (lambda x, y: soft_truncated_bce(x, y, m=1.2), ValueError, r"m must be a threshold in \[0.5, 1\)"),
    (lambda x, y: focal_star_bce(x, y, gamma=0), ValueError, r"gamma must be a finite number > 0, got gamma=0"),
    (lambda x, y: focal_star_bce(x, y, beta=float("nan")), ValueError, r"beta must be a finite number, got beta=nan"),
    (lambda x, y: focal_bce(x, y, reduction="avg"), ValueError, r"reduction must be one of 'none', 'mean', 'sum', got reduction='avg'"),
    (lambda x, y: focal_bce(x, y * 0.5), ValueError, r"target must hold labels in \{0, 1\}, got a value 0.5"),
    (lambda x, y: focal_bce(x, y + 1), ValueError, r"target must hold labels in \{0, 1\}, got a value 2.0"),
    (lambda x, y: hard_truncated_bce(x, y - 1), ValueError, r"target must hold labels in \{0, 1\}, got a value -1.0"),
    (lambda x, y: focal_bce(x, y[:-1]), ValueError, r"target must have the shape of logits \(10,\), got shape \(9,\)"),
    (lambda x, y: focal_bce(x, y[:, None]), ValueError, r"target must have the shape of logits"),
    (lambda x, y: focal_bce(x, y.tolist()), TypeError, r"target must be a torch.Tensor of 0/1 labels, got list"),
    (lambda x, y: focal_bce(x.tolist(), y), TypeError, r"logits must be a torch.Tensor, got list"),
    (lambda x, y: focal_bce(x.long(), y), TypeError, r"logits must be a floating-point tensor, got dtype torch.int64"),
    (lambda x, y: focal_bce(torch.full_like(x, float("nan")), y), ValueError, r"logits must be finite"),
    (lambda x, y: focal_bce(x[:0], y[:0]), ValueError, r"reduction='mean' of an empty batch is undefined"),
])
def test_binary_losses_reject_bad_input(call, error, message):
    x, y = binary_data(n=10)
    with pytest.raises(error, match=message):
        call(x, y)


@pytest.mark.parametrize("call, error, message", [
    (lambda x, t: focal_ce(x, t, gamma=-1), ValueError, r"gamma must be a finite number >= 0, got gamma=-1"),
    (lambda x, t: soft_truncated_ce(x, t, K=0.0), ValueError, r"K must be a finite number > 0"),
    (lambda x, t: hard_truncated_ce(x, t, m=0.3), ValueError, r"m must be a threshold in \[0.5, 1\), got m=0.3"),
    (lambda x, t: focal_star_ce(x, t, gamma=-2), ValueError, r"gamma must be a finite number > 0"),
    (lambda x, t: focal_ce(x, t, alpha=0.25), TypeError, r"alpha for a multi-class loss must be None or 4 per-class weights"),
    (lambda x, t: focal_ce(x, t, alpha=[0.5, 0.5]), ValueError, r"alpha must have one weight per class \(4\), got shape \(2,\)"),
    (lambda x, t: focal_ce(x, t, alpha=[0.5, 0.5, 1.5, 0]), ValueError, r"alpha must hold weights in \[0, 1\], got \[0.5, 0.5, 1.5, 0.0\]"),
    (lambda x, t: focal_ce(x, t, alpha="abcd"), TypeError, r"alpha must be None or 4 per-class weights"),
    (lambda x, t: focal_ce(x, t + 4), ValueError, r"target must hold class indices in \[0, 3\] \(C = 4\), got [4-7]"),
    (lambda x, t: hard_truncated_ce(x, t - 4), ValueError, r"target must hold class indices in \[0, 3\] \(C = 4\), got -[1-4]"),
    (lambda x, t: focal_ce(x, t.double()), TypeError, r"target must hold integer class indices, got dtype torch.float64"),
    (lambda x, t: focal_ce(x, t.bool()), TypeError, r"target must hold integer class indices, got dtype torch.bool"),
    (lambda x, t: focal_ce(x, t[:-1]), ValueError, r"target must have shape \(10,\) for logits of shape \(10, 4\), got shape \(9,\)"),
    (lambda x, t: soft_truncated_ce(x[:, 0], t), ValueError, r"logits must have shape \[N, C, \*\] \(classes on dim 1\), got shape \(10,\)"),
    (lambda x, t: focal_star_ce(x[:, :1], t * 0), ValueError, r"logits must have at least 2 classes on dim 1"),
    (lambda x, t: focal_ce(x, t.tolist()), TypeError, r"target must be a torch.Tensor of class indices, got list"),
    (lambda x, t: focal_ce(x.int(), t), TypeError, r"logits must be a floating-point tensor"),
    (lambda x, t: focal_ce(x, t, reduction=None), ValueError, r"reduction must be one of"),
])
def test_multiclass_losses_reject_bad_input(call, error, message):
    x, t = class_data(n=10, C=4)
    with pytest.raises(error, match=message):
        call(x, t)


def test_validate_false_skips_the_value_checks_only():
    x, y = binary_data(n=10)
    focal_bce(x, y * 0.5, validate=False)  # no host sync, no check: the caller vouches
    with pytest.raises(ValueError, match="target must have the shape"):
        focal_bce(x, y[:-1], validate=False)


# ---------------------------------------------------------------------- the chapter's helpers

def test_average_precision_equals_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(3)
    for n, ties in ((50, False), (500, True), (7, True)):
        labels = (torch.rand(n, generator=g) < 0.3).double()
        labels[0] = 1
        scores = torch.randn(n, generator=g, dtype=torch.float64) + labels
        if ties:
            scores = scores.round()  # many tied scores
        ours = average_precision(scores, labels)
        ref = sklearn_metrics.average_precision_score(labels.numpy(), scores.numpy())
        assert ours == pytest.approx(ref, abs=1e-12)
    assert average_precision(torch.tensor([3.0, 2.0, 1.0]), torch.tensor([1.0, 1.0, 0.0])) == 1.0
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision(torch.randn(4), torch.zeros(4))
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        average_precision(torch.randn(2), torch.tensor([0.5, 1.0]))


def test_loss_share_and_the_toy_problem():
    per = torch.tensor([1.0, 3.0, 0.0, 4.0])
    assert loss_share(per, torch.tensor([True, False, True, True])) == pytest.approx(5 / 8)
    X, y = imbalanced_moons(20, 10, seed=1)
    X2, y2 = imbalanced_moons(20, 10, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert X.shape == (220, 2) and y.sum() == 20 and X.dtype == torch.float32  # 10 negatives each
    easy = X[40:] - torch.tensor([0.5, 0.25])
    radius = easy.norm(dim=1)
    assert (radius >= 2.5 - 1e-5).all() and (radius <= 5 + 1e-5).all()
    with pytest.raises(ValueError, match=r"imbalance must be a number >= 1"):
        imbalanced_moons(10, 0.5, seed=0)


def test_prior_initialisation_and_a_deterministic_fit():
    net = mlp(2, 1, seed=0, prior=0.01)
    X, y = imbalanced_moons(10, 3, seed=0)
    with torch.no_grad():
        assert torch.sigmoid(net[-1].bias).item() == pytest.approx(0.01)
    runs = []
    for _ in range(2):
        model = mlp(2, 1, seed=5)
        runs.append(fit(lambda z, t: focal_bce(z, t, 2.0), X, y, model=model, epochs=5, lr=0.05,
                        seed=1, batch_size=8, optimizer="sgd"))
    assert runs[0].accuracy == runs[1].accuracy and len(runs[0].forgotten) == 5
    assert all(torch.equal(a, b) for a, b in zip(runs[0].model.parameters(), runs[1].model.parameters()))
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; known: 'adam', 'sgd'"):
        fit(F.binary_cross_entropy_with_logits, X, y, model=net, epochs=1, lr=0.1, seed=0, optimizer="lbfgs")


def test_slider_demos_return_figures():
    from matplotlib.figure import Figure

    assert isinstance(FO.plot_losses(m=0.7, K=5.0, gamma=2.0, alpha=0.25), Figure)
    assert isinstance(FO.plot_imbalance(imbalance=5, steps=3), Figure)


# ----------------------------------------------------------------------------------------------
# learning speed (the "does hard truncation need more iterations?" section)

@pytest.mark.parametrize("accuracy,level,reach,stay", [
    ([0.5, 0.9, 0.8, 0.95, 0.96], 0.9, 2, 4),   # reaches at 2, dips at 3, stays from 4
    ([0.95, 0.96, 0.97], 0.9, 1, 1),            # never below: stays from the first epoch
    ([0.5, 0.6, 0.95, 0.7], 0.9, 3, None),       # falls back at the last epoch
    ([0.5, 0.6], 0.9, None, None),                # never reaches
    ([0.9], 0.9, 1, 1),                           # "at least": equality counts
])
def test_epochs_to_reach_and_to_stay(accuracy, level, reach, stay):
    assert FO.epochs_to_reach(accuracy, level) == reach
    assert FO.epochs_to_stay(accuracy, level) == stay
    if reach is not None and stay is not None:
        assert reach <= stay  # staying above a level implies having reached it


def test_learning_speed_is_deterministic_and_its_table_fits_the_page():
    X, y = FO.imbalanced_moons(40, 1, seed=0, noise=0.2)
    data = (X, y, X, y)
    losses = {"cross entropy": lambda z, t: FO.focal_bce(z, t, 0.0),
              "hard, m = 0.5": lambda z, t: FO.hard_truncated_bce(z, t, 0.5)}

    def run():
        return FO.learning_speed(losses, data, lambda s: FO.mlp(2, 1, seed=s), seeds=2, epochs=4,
                                 lr=0.1, progress=False)

    first, second = run(), run()
    assert [r.fit.accuracy for runs in first.values() for r in runs] == \
           [r.fit.accuracy for runs in second.values() for r in runs]
    for runs in first.values():
        assert len(runs) == 2 and all(len(r.fit.accuracy) == 4 for r in runs)
        assert all(0 <= r.test_accuracy <= 1 for r in runs)
    table = FO.speed_table(first, (0.90, 0.95)).splitlines()
    assert len(table) == 2 + len(losses) and all(len(line) <= 79 for line in table)
    # The final-accuracy column is the mean of the runs' last training accuracies.
    ce = first["cross entropy"]
    assert table[2].split()[-2] == f"{sum(r.fit.accuracy[-1] for r in ce) / 2:.3f}"


# ------------------------------------------------------------ calibration and population risk

def _ece_by_loops(conf, right, bins):
    """Reference ECE written as the textbook sum over bins, one bin at a time."""
    total = 0.0
    for b in range(bins):
        upper = (conf < (b + 1) / bins) if b < bins - 1 else (conf <= 1)
        inside = (conf >= b / bins) & upper
        if inside.any():
            total += inside.double().mean().item() * abs(
                right[inside].double().mean().item() - conf[inside].mean().item())
    return total


def test_calibration_matches_the_textbook_sum_and_known_cases():
    g = torch.Generator().manual_seed(0)
    # binary: confidence max(p, 1 - p), right when the side of 1/2 matches the label
    p = torch.rand(3000, generator=g, dtype=torch.float64)
    y = (torch.rand(3000, generator=g, dtype=torch.float64) < p ** 2).double()
    conf, right = torch.maximum(p, 1 - p), (p > 0.5) == (y > 0.5)
    c = FO.calibration(p, y, bins=10)
    assert c.ece == pytest.approx(_ece_by_loops(conf, right, 10), abs=1e-12)
    assert c.gap == pytest.approx(right.double().mean().item() - conf.mean().item(), abs=1e-12)
    assert int(c.count.sum()) == 3000 and math.isnan(c.ece_se)
    # multi-class: the same sum with the largest class probability
    logits = torch.randn(2000, 5, generator=g, dtype=torch.float64) * 2
    probs = torch.softmax(logits, 1)
    labels = torch.randint(0, 5, (2000,), generator=g)
    conf, pred = probs.max(1)
    assert FO.calibration(probs, labels).ece == pytest.approx(
        _ece_by_loops(conf, pred == labels, 15), abs=1e-12)
    # a constant 0.8 on samples that are all positive: under-confident by exactly 0.2
    c = FO.calibration(torch.full((50,), 0.8, dtype=torch.float64), torch.ones(50), n_boot=20)
    assert c.ece == pytest.approx(0.2) and c.gap == pytest.approx(0.2)
    assert c.ece_se == pytest.approx(0.0, abs=1e-12)       # every resample is the same
    # reordering the samples changes nothing
    perm = torch.randperm(3000, generator=g)
    assert FO.calibration(p[perm], y[perm]).ece == pytest.approx(FO.calibration(p, y).ece)


def test_a_calibrated_model_has_a_small_ece_and_the_bootstrap_is_seeded():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(100_000, generator=g, dtype=torch.float64)
    y = (torch.rand(100_000, generator=g, dtype=torch.float64) < p).double()
    c = FO.calibration(p, y, n_boot=50, seed=3)
    # binning bias is about sqrt(bins / N) = 0.012; a miscalibration of 0.05 would show
    assert c.ece < 0.02 and abs(c.gap) < 4 * c.gap_se + 1e-3
    assert 0 < c.ece_se < 0.01
    assert FO.calibration(p, y, n_boot=50, seed=3).ece_se == c.ece_se
    shrunk = 0.5 + 0.6 * (p - 0.5)                       # pulled towards 1/2: under-confident
    assert FO.calibration(shrunk, y).gap > 0.05


@pytest.mark.parametrize("call, message", [
    (lambda: FO.calibration(torch.tensor([0.2, 1.2]), torch.tensor([0.0, 1.0])), "in \\[0, 1\\]"),
    (lambda: FO.calibration(torch.tensor([0.2, 0.7]), torch.tensor([0.0, 2.0])), "0 or 1"),
    (lambda: FO.calibration(torch.tensor([0.2, 0.7]), torch.tensor([1.0])), "N = len"),
    (lambda: FO.calibration(torch.eye(3), torch.tensor([0, 1, 3])), "class indices"),
    (lambda: FO.calibration(torch.tensor([0.2]), torch.tensor([1.0]), bins=0), "bins"),
    (lambda: FO.calibration(torch.tensor([0.2]), torch.tensor([1.0]), n_boot=-1), "n_boot"),
    (lambda: FO.risk_minimiser(lambda z, t: FO.focal_bce(z, t, 0.0, reduction="none"), 1.5),
     "eta must be"),
])
def test_calibration_and_risk_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _per_sample(fn, *args):
    return lambda z, t: fn(z, t, *args, reduction="none")


@pytest.mark.parametrize("eta", [0.1, 0.3, 0.6, 0.9, 0.99])
def test_cross_entropy_risk_is_minimised_at_the_true_probability(eta):
    x = FO.risk_minimiser(_per_sample(focal_bce, 0.0), eta)
    assert torch.sigmoid(torch.tensor(x)).item() == pytest.approx(eta, abs=1e-7)
    # alpha-balanced cross entropy: the minimiser solves
    # eta * alpha * (1 - p) = (1 - eta) * (1 - alpha) * p
    alpha = 0.25
    x = FO.risk_minimiser(_per_sample(focal_bce, 0.0, alpha), eta)
    expected = eta * alpha / (eta * alpha + (1 - eta) * (1 - alpha))
    assert torch.sigmoid(torch.tensor(x)).item() == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("eta", [0.6, 0.75, 0.9, 0.99])
def test_focal_and_smoothed_minimisers_are_under_confident(eta):
    previous = eta
    for gamma in (0.5, 1.0, 2.0, 5.0):
        loss = _per_sample(focal_bce, gamma)
        x = FO.risk_minimiser(loss, eta)
        p = torch.sigmoid(torch.tensor(x)).item()
        assert 0.5 < p < previous            # towards 1/2, more so as gamma grows
        previous = p
        # first-order condition with the paper's closed-form gradient {eq-grad}
        x_t = torch.tensor([x, x], dtype=torch.float64, requires_grad=True)
        risk = (torch.tensor([eta, 1 - eta], dtype=torch.float64)
                * loss(x_t, torch.tensor([1.0, 0.0], dtype=torch.float64))).sum()
        (grad,) = torch.autograd.grad(risk, x_t)
        # a minimum located by comparing values is known to about sqrt(eps) = 1.5e-8
        assert abs(grad.sum().item()) < 1e-7
        # the mirror problem has the mirror minimiser
        assert FO.risk_minimiser(loss, 1 - eta) == pytest.approx(-x, abs=1e-6)
    p = torch.sigmoid(torch.tensor(FO.risk_minimiser(_per_sample(soft_truncated_bce, 5.0), eta)))
    assert 0.5 < p.item() < eta


@pytest.mark.parametrize("eta", [0.55, 0.8, 0.95])
def test_hard_truncation_risk_has_its_infimum_at_the_threshold(eta):
    loss = _per_sample(hard_truncated_bce, 0.5)
    x = FO.risk_minimiser(loss, eta)
    assert 0 < x < 1e-3                       # just on the side of the likelier class
    # the infimum (1 - eta) ln 2 is approached, not attained, as x -> 0+
    grid = torch.tensor([1e-6, 1e-3, 0.1, 1.0], dtype=torch.float64)
    risk = FO.pointwise_risk(loss, grid, eta)
    assert (torch.diff(risk) > 0).all()
    assert risk[0].item() == pytest.approx((1 - eta) * math.log(2), rel=1e-5)


def test_calibration_wants_tensors():
    with pytest.raises(TypeError, match="labels must be a torch.Tensor"):
        FO.calibration(torch.tensor([0.2, 0.7]), [0, 1])
    with pytest.raises(TypeError, match="probs must be a torch.Tensor"):
        FO.calibration([0.2, 0.7], torch.tensor([0.0, 1.0]))


# ----------------------------------------------------------------------------------------------
# bad input and extremes (issue 16)
# The reproductions of the reliability review, each against a closed form or with the error it
# must give (type, parameter name and value).

def test_loss_share_treats_an_integer_mask_as_a_mask():
    per = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert loss_share(per, torch.tensor([0, 0, 0, 1])) == pytest.approx(4 / 10)   # was 0.5 (indexing)
    assert loss_share(per, torch.tensor([1.0, 0.0, 1.0, 0.0])) == pytest.approx(4 / 10)
    assert loss_share(torch.zeros(3), torch.tensor([True, False, True])) == 0.0      # no loss to share


def test_fit_reports_a_diverging_loss():
    X, y = imbalanced_moons(20, 1, seed=0)
    with pytest.raises(RuntimeError, match=r"fit diverged: the loss is inf .* lr=1e\+30 may be too large"):
        fit(lambda z, t: (z**2).mean(), X, y, model=mlp(2, 1, seed=0), epochs=5, lr=1e30, seed=0, optimizer="sgd")


def test_imbalanced_moons_accepts_the_largest_allowed_size_arithmetic():
    # The bound is on the count, checked before any allocation; at it, the sizes add up.
    n_easy = FO._easy_negatives(1, FO.MAX_MOONS_POINTS - 1, "n_pos")
    assert 2 + n_easy == FO.MAX_MOONS_POINTS


_X, _Y = imbalanced_moons(10, 1, seed=0)


def _L(z, t):
    return focal_bce(z, t, 2.0)


def _fit(**kwargs):
    args = dict(model=mlp(2, 1, seed=0), epochs=1, lr=0.1, seed=0)
    return fit(_L, kwargs.pop("X", _X), kwargs.pop("y", _Y), **{**args, **kwargs})


@pytest.mark.parametrize("call, error, message", [
    (lambda: loss_share(torch.tensor([1.0, math.nan]), torch.tensor([True, False])), ValueError,
     r"per_sample must be finite, got nan at index \(1,\)"),
    (lambda: loss_share(torch.tensor([1.0, -3.0]), torch.tensor([True, False])), ValueError,
     r"per_sample must be non-negative \(losses\), got -3.0 at index \(1,\)"),
    (lambda: loss_share(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([True, False])), ValueError,
     r"mask must have the shape of per_sample \(4,\), got shape \(2,\)"),
    (lambda: loss_share(torch.tensor([1.0, 2.0]), torch.tensor([2, 0])), ValueError, r"mask must hold booleans or 0/1, got 2"),
    (lambda: loss_share(torch.tensor([1.0, 2.0]), [True, False]), TypeError, r"mask must be a torch.Tensor"),
    (lambda: loss_share(torch.tensor([1, 2]), torch.tensor([True, False])), TypeError,
     r"per_sample must be a floating-point tensor"),
    (lambda: average_precision(torch.tensor([0.9, float("nan"), 0.1, 0.5]), torch.tensor([1.0, 0.0, 1.0, 0.0])),
     ValueError, r"scores must be numbers, not NaN .* got nan at index 1"),
    (lambda: average_precision([0.9, 0.1], torch.tensor([1.0, 0.0])), TypeError, r"scores must be a torch.Tensor, got list"),
    (lambda: average_precision(torch.tensor([0.9, 0.1]), [1, 0]), TypeError, r"labels must be a torch.Tensor, got list"),
    (lambda: average_precision(torch.tensor([0.9, 0.1]), torch.tensor([1.0, 0.5])), ValueError,
     r"labels must be 0 or 1, got 0.5 at index 1"),
    (lambda: _fit(epochs=-1), ValueError, r"epochs must be an integer >= 1, got -1"),
    (lambda: _fit(epochs=0), ValueError, r"epochs must be an integer >= 1, got 0"),
    (lambda: _fit(epochs=1.5), ValueError, r"epochs must be an integer >= 1, got 1.5"),
    (lambda: _fit(lr=math.nan, optimizer="sgd"), ValueError, r"lr must be a finite number > 0, got nan"),
    (lambda: _fit(lr=-1), ValueError, r"lr must be a finite number > 0, got -1"),
    (lambda: _fit(batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    (lambda: _fit(y=_Y[:-3]), ValueError, r"y must have one label per row of X \(N = 20\), got shape \(17,\)"),
    (lambda: _fit(X=_X[:0], y=_Y[:0]), ValueError, r"X must hold at least one sample"),
    (lambda: _fit(X=_X.tolist()), TypeError, r"X must be a torch.Tensor, got list"),
    (lambda: _fit(X=_X * math.nan), ValueError, r"X must be finite, got nan"),
    (lambda: _fit(seed="a"), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got 'a'"),
    (lambda: _fit(seed=-1), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda: _fit(model="net"), TypeError, r"model must be a torch.nn.Module, got str"),
    (lambda: fit(None, _X, _Y, model=mlp(2, 1, seed=0), epochs=1, lr=0.1, seed=0), TypeError, r"loss must be a callable"),
    (lambda: FO.imbalance_experiment(5, steps=0), ValueError, r"steps must be an integer >= 1, got 0"),
    (lambda: FO.imbalance_experiment(5, seed=-1, steps=1), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda: FO.imbalance_experiment(1e6, n_pos=2, steps=1), ValueError,
     r"n_test_pos \* \(1 \+ imbalance\) must be at most MAX_MOONS_POINTS = 10,000,000 points, got n_test_pos=500"),
    (lambda: mlp(-1, 1, seed=0), ValueError, r"n_in must be an integer >= 1, got -1"),
    (lambda: mlp(2, 0, seed=0), ValueError, r"n_out must be an integer >= 1, got 0"),
    (lambda: mlp(2, 1, (0,), seed=0), ValueError, r"hidden\[0\] must be an integer >= 1, got 0"),
    (lambda: mlp(2, 1, (16, -2), seed=0), ValueError, r"hidden\[1\] must be an integer >= 1, got -2"),
    (lambda: mlp(2, 1, 16, seed=0), TypeError, r"hidden must be a sequence of layer widths, got 16"),
    (lambda: mlp(2, 1, seed="a"), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got 'a'"),
    (lambda: mlp(2, 1, seed=-1), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda: imbalanced_moons(1, 1e9, seed=0), ValueError,
     r"n_pos \* \(1 \+ imbalance\) must be at most MAX_MOONS_POINTS = 10,000,000 points, got n_pos=1 and "
     r"imbalance=1000000000.0 \(1,000,000,001 points\)"),
    (lambda: imbalanced_moons(10, 1e308, seed=0), ValueError, r"n_pos \* \(1 \+ imbalance\) must be at most"),
    (lambda: imbalanced_moons(2, 2, seed="a"), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got 'a'"),
    (lambda: imbalanced_moons(2, 2, seed=1.5), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got 1.5"),
    (lambda: imbalanced_moons(2, 2, seed=-1), ValueError, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda: imbalanced_moons(0, 2, seed=0), ValueError, r"n_pos must be an integer >= 1, got 0"),
    (lambda: FO.learning_speed({"CE": _L}, (_X, _Y, _X, _Y), lambda s: mlp(2, 1, seed=s), seeds=0, epochs=1,
                               lr=0.1, progress=False), ValueError, r"seeds must be an integer >= 1, got 0"),
    (lambda: FO.epochs_to_reach([0.5], "a"), TypeError, r"level must be a real number, got 'a'"),
    (lambda: FO.calibration(torch.tensor([0.2]), torch.tensor([1.0]), seed=-1), ValueError,
     r"seed must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda: FO.plot_losses(m="a"), TypeError, r"m must be a threshold in \[0.5, 1\), got m='a'"),
])
def test_issue16_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
