"""Property tests of companion.capsule (issue 16), one pair per public kernel:

* bad input (wrong types, NaN/inf/negative numbers where they are not allowed, bad shapes,
  bad seeds) raises the documented exception, with the parameter's name first in the message;
* valid input, at any scale the dtype holds, gives finite results that satisfy the kernel's
  identities, checked against closed forms, float64 references written here, or exact
  invariances (powers of two scale floats exactly).

The hypothesis profile (tests/conftest.py) bounds each property to 40 derandomised examples.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from companion import capsule as cap

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: threads only add overhead

F32, F64 = torch.float32, torch.float64
DTYPES = st.sampled_from([F32, F64])


def tensor(values, dtype):
    return torch.tensor(values, dtype=dtype)


def randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ----------------------------------------------------------------------------------------------
# bad values, as (name, value, exception) cases in checks' wording: "<name> must be ..."

NOT_NUMBERS = st.one_of(st.text(max_size=3), st.none(), st.just(True), st.lists(st.integers(), max_size=2))
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def bad_real(name, *, positive=False, nonnegative=False, allow_inf=False):
    """Values that a real-number parameter rejects: (name, value, expected exception)."""
    bad_numbers = [st.just(math.nan)]
    if not allow_inf:
        bad_numbers.append(st.sampled_from([math.inf, -math.inf]))
    if positive:
        bad_numbers.append(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False))
        bad_numbers.append(st.integers(max_value=0))
    if nonnegative:
        bad_numbers.append(st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False))
        bad_numbers.append(st.integers(max_value=-1))
    return st.one_of(st.tuples(st.just(name), NOT_NUMBERS, st.just(TypeError)),
                     st.tuples(st.just(name), st.one_of(*bad_numbers), st.just(ValueError)))


def bad_int(name, minimum=1):
    values = st.one_of(st.integers(max_value=minimum - 1), NON_FINITE, st.just(1.5), NOT_NUMBERS)
    return st.tuples(st.just(name), values, st.just(ValueError))


BAD_SEEDS = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63, max_value=2**70),
                      st.floats(allow_nan=True), st.text(max_size=2), st.just(True), st.none())


def bad_seed(name="seed"):
    return st.tuples(st.just(name), BAD_SEEDS, st.just(ValueError))


def bad_choice(name):
    return st.tuples(st.just(name), st.text(max_size=4).filter(lambda s: s not in cap.VARIANTS + cap.METRICS),
                     st.just(ValueError))


def raises(case, call):
    """``call(**{name: value})`` raises the case's exception, naming the parameter."""
    name, value, error = case
    pattern = f"unknown {name} " if name in ("variant", "metric", "head") else f"^{name} must be"
    with pytest.raises(error, match=pattern):
        call(**{name: value})


# ----------------------------------------------------------------------------------------------
# squash


def squash_closed_form(s, c=1.0):
    """squash of one vector in Python floats: math.hypot does not overflow, and neither form below."""
    r = math.hypot(*s)
    if r == 0:
        return [0.0] * len(s)
    if r > 1:
        return [x / r / (1 + (c / r) / r) for x in s]
    return [x * (r / (c + r * r)) for x in s]


@given(st.one_of(bad_real("c", positive=True), bad_real("eps", nonnegative=True),
                 st.tuples(st.just("dim"), st.one_of(st.integers(min_value=2), st.integers(max_value=-3),
                                                     st.just(0.0), NOT_NUMBERS), st.just(ValueError))))
def test_squash_rejects_bad_parameters(case):
    raises(case, lambda **kw: cap.squash(torch.zeros(3, 2), **kw))


@given(st.sampled_from([torch.int64, torch.int32, torch.bool, torch.uint8]))
def test_squash_rejects_non_float_tensors(dtype):
    with pytest.raises(TypeError, match="^s must be a floating-point tensor"):
        cap.squash(torch.zeros(2, 3, dtype=dtype))
    with pytest.raises(TypeError, match="^s must be a torch.Tensor"):
        cap.squash(torch.zeros(2, 3, dtype=dtype).tolist())


@given(DTYPES, st.lists(st.floats(-2, 2), min_size=1, max_size=5), st.integers(-1000, 1000),
       st.floats(1e-3, 1e3))
def test_squash_matches_the_closed_form_at_every_scale(dtype, entries, exponent, c):
    info = torch.finfo(dtype)
    top, bottom = (123, -135) if dtype == F32 else (1019, -1030)  # ‖s‖ below the largest float; subnormals
    exponent = max(min(exponent, top), bottom)
    s = tensor([math.ldexp(x, exponent) for x in entries], dtype).requires_grad_()
    out = cap.squash(s, c=c)
    expected = tensor(squash_closed_form(s.tolist(), c), dtype)
    # relative accuracy, except where the exact value is subnormal (fewer bits) or underflows
    torch.testing.assert_close(out.detach(), expected, rtol=1e-5 if dtype == F32 else 1e-12, atol=info.tiny)
    assert out.norm() <= 1 + 4 * info.eps
    out.sum().backward()
    assert torch.isfinite(s.grad).all()


@given(DTYPES, st.integers(1, 4), st.integers(1, 4))
def test_squash_keeps_direction_and_acts_along_dim(dtype, n, d):
    s = randn(n, d, seed=n * 10 + d, dtype=dtype)
    torch.testing.assert_close(cap.squash(s.T, dim=0).T, cap.squash(s))
    out = cap.squash(s)
    cosine = (out * s).sum(-1) / (out.norm(dim=-1) * s.norm(dim=-1))
    torch.testing.assert_close(cosine, torch.ones(n, dtype=dtype))


# ----------------------------------------------------------------------------------------------
# soft K-Means


def soft_kmeans_reference(x, v, K, iters, metric):
    """soft K-Means written from its definition, float64, explicit distances."""
    x, v = x.double(), v.double()
    c = None
    for _ in range(iters):
        if metric == "euclidean":
            logits = -((x[:, None, :] - v[None]) ** 2).sum(-1)
        else:
            logits = x @ (v / v.norm(dim=-1, keepdim=True).clamp_min(1e-300)).T
        c = torch.softmax(K * logits, dim=-1)
        v = (c.T @ x) / c.sum(0)[:, None] if metric == "euclidean" else c.T @ x
    return v, c


@given(st.one_of(bad_real("K", positive=True, allow_inf=True), bad_int("iters"), bad_choice("metric")))
def test_soft_kmeans_rejects_bad_parameters(case):
    raises(case, lambda **kw: cap.soft_kmeans(randn(6, 2), randn(2, 2, seed=1), **kw))


@given(st.sampled_from([((5,), (3, 2)), ((5, 2), (3, 3)), ((2, 5, 2), (3, 2, 2)), ((5, 2), (0, 2))]),
       st.booleans())
def test_soft_kmeans_rejects_bad_shapes_and_dtypes(shapes, mixed_dtype):
    x_shape, v_shape = shapes
    with pytest.raises(ValueError, match="^(x|centers|x and centers) must"):
        cap.soft_kmeans(randn(*x_shape), randn(*v_shape))
    if mixed_dtype:
        with pytest.raises(TypeError, match="^centers must have the dtype of x"):
            cap.soft_kmeans(randn(5, 2), randn(3, 2).float())


POINTS = st.tuples(st.integers(1, 8), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))


@given(POINTS, st.floats(0.1, 10.0), st.integers(1, 3), st.sampled_from(cap.METRICS))
def test_soft_kmeans_matches_the_float64_definition(points, K, iters, metric):
    n, k, d, seed = points
    x, v = randn(n, d, seed=seed), randn(k, d, seed=seed + 1)
    got_v, got_c = cap.soft_kmeans(x, v, K, iters, metric)
    ref_v, ref_c = soft_kmeans_reference(x, v, K, iters, metric)
    torch.testing.assert_close(got_v, ref_v, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got_c, ref_c, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got_c.sum(-1), torch.ones(n, dtype=F64))


@given(DTYPES, POINTS, st.integers(-500, 500), st.one_of(st.floats(0.1, 10.0), st.just(math.inf)),
       st.sampled_from(cap.METRICS))
def test_soft_kmeans_is_exactly_equivariant_to_powers_of_two(dtype, points, j, K, metric):
    """soft_kmeans(a x, a v, K/a²) = a·soft_kmeans(x, v, K) (Euclidean; K/a for the dot), a = 2^j:
    the same answer at any scale the dtype holds, with memberships that are distributions."""
    n, k, d, seed = points
    if dtype == F32:  # no subnormals on the way, which would round
        j = max(min(j, 100), -100)
    x, v = randn(n, d, seed=seed, dtype=dtype), randn(k, d, seed=seed + 1, dtype=dtype)
    a = 2.0**j
    K_scaled = K / a**2 if metric == "euclidean" else K / a
    v1, c1 = cap.soft_kmeans(x, v, K, 2, metric)
    va, ca = cap.soft_kmeans(x * a, v * a, K_scaled, 2, metric)
    assert torch.isfinite(va).all() and torch.isfinite(ca).all()
    assert (ca >= 0).all()
    torch.testing.assert_close(ca.sum(-1), torch.ones(n, dtype=dtype))
    torch.testing.assert_close(ca, c1, rtol=0, atol=0)
    torch.testing.assert_close(va, v1 * a, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# dynamic routing and its reference

ROUTINGS = [cap.dynamic_routing, cap.dynamic_routing_reference]


@given(st.sampled_from(ROUTINGS),
       st.one_of(bad_int("iters"), bad_choice("variant"), bad_real("K", positive=True),
                 bad_real("squash_c", positive=True)))
def test_routing_rejects_bad_parameters(routing, case):
    raises(case, lambda **kw: routing(randn(1, 3, 2, 2), **kw))


@given(st.sampled_from(ROUTINGS),
       st.sampled_from([(3, 2, 2), (1, 3, 0, 2), (1, 3, 2, 0), (1, 1, 3, 2, 2)]))
def test_routing_rejects_bad_shapes(routing, shape):
    with pytest.raises(ValueError, match=r"^u_hat must have shape \[B, n_in, n_out, d\]"):
        routing(randn(*shape))


SHAPES = st.tuples(st.integers(0, 2), st.integers(0, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))


@given(SHAPES, st.integers(1, 4), st.sampled_from(cap.VARIANTS), st.floats(0.2, 3.0), st.floats(0.1, 2.0))
def test_routing_equals_its_reference_with_gradients(shape, iters, variant, K, squash_c):
    *dims, seed = shape
    u0 = randn(*dims, seed=seed)
    w = randn(dims[0], dims[2], dims[3], seed=seed + 1)
    out = []
    for routing in ROUTINGS:
        u = u0.clone().requires_grad_()
        v, c = routing(u, iters, variant, K, squash_c)
        (v * w).sum().backward()
        out.append((v.detach(), c.detach(), u.grad))
    (v, c, g), (v_ref, c_ref, g_ref) = out
    for a, b in ((v, v_ref), (c, c_ref), (g, g_ref)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert (v.norm(dim=-1) < 1).all() and (c >= 0).all()
    torch.testing.assert_close(c.sum(-1), torch.ones(dims[0], dims[1], dtype=F64))


@given(DTYPES, SHAPES, st.integers(-1000, 1000), st.sampled_from(cap.VARIANTS))
def test_routing_is_finite_at_every_scale(dtype, shape, j, variant):
    """Finite outputs and gradients for predictions of any size the sums can hold, and for Su's
    routing the couplings at scale a = 2^j are exactly those at scale 1 with K = a."""
    *dims, seed = shape
    top = 120 if dtype == F32 else 1000  # leave room for the sums over n_in and d
    j = max(min(j, top), -top)
    u0 = randn(*dims, seed=seed, dtype=dtype)
    u = (u0 * 2.0**j).requires_grad_()
    v, c = cap.dynamic_routing(u, 3, variant)
    v.sum().backward()
    assert torch.isfinite(v).all() and torch.isfinite(c).all() and torch.isfinite(u.grad).all()
    assert (v.norm(dim=-1) <= 1 + 4 * torch.finfo(dtype).eps).all()
    if variant == "su" and abs(j) < (60 if dtype == F32 else 900):  # no subnormal products, which would round
        _, c1 = cap.dynamic_routing(u0, 3, "su", K=2.0**j)
        torch.testing.assert_close(c, c1, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# the layer


@given(st.one_of(bad_int("d_in"), bad_int("n_out"), bad_int("d_out"), bad_int("routings"),
                 bad_choice("variant"), bad_real("squash_c", positive=True)))
def test_capsule_layer_rejects_bad_configuration(case):
    args = {"n_in": None, "d_in": 3, "n_out": 2, "d_out": 2}
    raises(case, lambda **kw: cap.CapsuleLayer(**{**args, **kw}))


@given(st.sampled_from([(2, 5, 4), (2, 5), (2, 6, 3, 1)]), st.booleans())
def test_capsule_layer_rejects_bad_input(shape, wrong_dtype):
    layer = cap.CapsuleLayer(None, 3, 2, 2).double()
    with pytest.raises(ValueError, match="^u must have shape"):
        layer(randn(*shape))
    if wrong_dtype:
        with pytest.raises(TypeError, match="^u must have the dtype of the layer's weight"):
            layer(randn(2, 5, 3).float())


@given(st.integers(0, 3), st.integers(0, 5), st.integers(1, 4), st.booleans(), st.sampled_from(cap.VARIANTS))
def test_capsule_layer_outputs_are_short_and_equal_routing_of_its_predictions(B, n_in, d_in, share, variant):
    torch.manual_seed(B * 100 + n_in * 10 + d_in)
    layer = cap.CapsuleLayer(None if share else max(n_in, 1), d_in, 3, 2, share_weights=share,
                             variant=variant).double()
    u = randn(B, n_in if share else max(n_in, 1), d_in, seed=n_in)
    out = layer(u)
    assert out.shape == (B, 3, 2) and torch.isfinite(out).all() and (out.norm(dim=-1) < 1).all()
    W = layer.weight
    u_hat = u @ W if share else torch.einsum("bid,ide->bie", u, W)
    v, _ = cap.dynamic_routing_reference(u_hat.view(B, u.shape[1], 3, 2), 3, variant, squash_c=0.5)
    torch.testing.assert_close(out, v, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# the margin loss


@given(st.one_of(bad_real("m_pos"), bad_real("m_neg"), bad_real("lam", nonnegative=True)))
def test_margin_loss_rejects_bad_parameters(case):
    raises(case, lambda **kw: cap.margin_loss(torch.rand(2, 3), torch.tensor([0, 1]), **kw))


@given(st.one_of(st.floats(1.001, 1e30), st.floats(-1e30, -1e-30), st.sampled_from([math.inf, -math.inf])),
       st.integers(0, 5))
def test_margin_loss_rejects_lengths_outside_the_unit_interval(bad, where):
    lengths = torch.rand(2, 3, dtype=F64)
    lengths.view(-1)[where] = bad
    with pytest.raises(ValueError, match=r"^lengths must lie in \[0, 1\]"):
        cap.margin_loss(lengths, torch.tensor([0, 1]))


@given(st.sampled_from([[0, 3], [-1, 0], [[1, 0, 2], [0, 1, 0]]]))
def test_margin_loss_rejects_bad_targets(targets):
    with pytest.raises(ValueError, match="targets must"):
        cap.margin_loss(torch.rand(2, 3), torch.tensor(targets))


@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16), st.floats(0.0, 0.5), st.floats(0.5, 1.0),
       st.floats(0.0, 2.0), st.booleans())
def test_margin_loss_matches_its_closed_form(B, n, seed, m_neg, m_pos, lam, as_indices):
    hypothesis.assume(m_neg < m_pos)
    g = torch.Generator().manual_seed(seed)
    lengths = torch.rand(B, n, generator=g, dtype=F64)
    classes = torch.randint(n, (B,), generator=g)
    multi_hot = F.one_hot(classes, n)
    targets = classes if as_indices else multi_hot
    per_sample = cap.margin_loss(lengths, targets, m_pos, m_neg, lam, reduction="none")
    expected = [sum(max(0.0, m_pos - x) ** 2 if t else lam * max(0.0, x - m_neg) ** 2
                    for x, t in zip(row, hot)) for row, hot in zip(lengths.tolist(), multi_hot.tolist())]
    torch.testing.assert_close(per_sample, tensor(expected, F64), rtol=1e-12, atol=1e-15)
    assert (per_sample >= 0).all()
    torch.testing.assert_close(cap.margin_loss(lengths, targets, m_pos, m_neg, lam, "sum"), per_sample.sum())
    torch.testing.assert_close(cap.margin_loss(lengths, targets, m_pos, m_neg, lam), per_sample.mean())


# ----------------------------------------------------------------------------------------------
# toy data, traces, the routing loss


@given(st.one_of(bad_real("radius", nonnegative=True), bad_real("spread", nonnegative=True), bad_seed(),
                 st.tuples(st.just("sizes"), st.sampled_from([5, [], "ab", None]), st.just(TypeError))))
def test_blobs_rejects_bad_parameters(case):
    raises(case, cap.blobs)


@given(st.lists(st.integers(1, 5), max_size=3), st.one_of(st.integers(max_value=0), st.just(1.5), NOT_NUMBERS))
def test_blobs_names_the_bad_size(good, bad):
    with pytest.raises(ValueError, match=rf"^sizes\[{len(good)}\] must be an integer >= 1"):
        cap.blobs([*good, bad])


@given(st.lists(st.integers(1, 12), min_size=1, max_size=4), st.floats(0.0, 10.0), st.floats(0.0, 3.0),
       st.integers(0, 2**63 - 1))
def test_blobs_have_the_asked_sizes_and_are_reproducible(sizes, radius, spread, seed):
    points, labels = cap.blobs(sizes, radius, spread, seed)
    assert points.shape == (sum(sizes), 2) and torch.isfinite(points).all()
    assert torch.bincount(labels, minlength=len(sizes)).tolist() == sizes
    again, _ = cap.blobs(sizes, radius, spread, seed)
    assert torch.equal(points, again)
    if spread == 0:  # every point sits on its centre, at distance radius from the origin
        torch.testing.assert_close(points.norm(dim=-1), torch.full((sum(sizes),), radius, dtype=F64))


@given(st.one_of(bad_int("n_in"), bad_int("n_out"), bad_int("d"), bad_real("noise", nonnegative=True),
                 bad_real("length", positive=True), bad_seed()))
def test_routing_toy_rejects_bad_parameters(case):
    raises(case, cap.routing_toy)


@given(st.integers(1, 8), st.integers(1, 4), st.integers(1, 4), st.floats(0.0, 3.0), st.floats(1e-3, 1e3),
       st.integers(0, 2**63 - 1))
def test_routing_toy_predictions_have_the_asked_length(n_in, n_out, d, noise, length, seed):
    u_hat, parents = cap.routing_toy(n_in, n_out, d, noise, length, seed)
    assert u_hat.shape == (1, n_in, n_out, d)
    torch.testing.assert_close(u_hat.norm(dim=-1), torch.full((1, n_in, n_out), length, dtype=F64))
    assert torch.equal(parents, torch.arange(n_in) % n_out)


@given(st.one_of(bad_int("max_iters"), bad_choice("variant"), bad_real("K", positive=True)))
def test_routing_trace_rejects_bad_parameters(case):
    u_hat = randn(1, 3, 2, 2)
    raises(case, lambda **kw: cap.routing_trace(u_hat, **{"max_iters": 2, **kw}))


@given(SHAPES, st.integers(1, 4), st.sampled_from(cap.VARIANTS))
def test_routing_trace_statistics_are_in_range(shape, max_iters, variant):
    *dims, seed = shape
    dims[0], dims[1] = max(dims[0], 1), max(dims[1], 1)
    trace = cap.routing_trace(randn(*dims, seed=seed), max_iters, variant)
    n_out = dims[2]
    assert ((trace["entropy"] >= -1e-12) & (trace["entropy"] <= math.log(n_out) + 1e-12)).all()
    assert ((trace["max_coupling"] >= 1 / n_out - 1e-12) & (trace["max_coupling"] <= 1 + 1e-12)).all()
    assert math.isnan(trace["step"][0]) and (trace["step"][1:] >= 0).all()


@given(bad_real("K", positive=True))
def test_routing_loss_rejects_bad_parameters(case):
    raises(case, lambda **kw: cap.routing_loss(randn(1, 3, 2, 2), randn(1, 2, 2), **kw))


@given(SHAPES, st.floats(0.1, 1e6), st.floats(1e-3, 1e3))
def test_routing_loss_matches_its_definition_and_sees_only_directions(shape, K, scale):
    *dims, seed = shape
    u, v = randn(*dims, seed=seed), randn(dims[0], dims[2], dims[3], seed=seed + 1)
    a = (u * F.normalize(v, dim=-1).unsqueeze(1)).sum(-1)
    expected = -(torch.logsumexp(K * a, dim=-1) / K).sum(-1)  # fine in float64 at these sizes
    got = cap.routing_loss(u, v, K)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(cap.routing_loss(u, scale * v, K), got, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# the two-digit experiment


@given(bad_seed())
def test_two_digit_images_rejects_bad_seeds(case):
    raises(case, lambda **kw: cap.two_digit_images(randn(4, 2, 2), torch.arange(4), **kw))


@given(st.integers(0, 12), st.integers(1, 5), st.integers(0, 2**63 - 1))
def test_two_digit_pairs_have_different_labels(N, n_labels, seed):
    images, labels = randn(N, 2, 3, seed=N), torch.arange(N) % n_labels
    pairs, pair_labels = cap.two_digit_images(images, labels, seed)
    assert pairs.shape[1:] == (2, 6) and len(pairs) == len(pair_labels) <= N
    assert (pair_labels[:, 0] != pair_labels[:, 1]).all()


@given(st.one_of(bad_int("width"), bad_int("n_classes"), bad_int("routings"), bad_choice("variant"),
                 st.tuples(st.just("head"), st.sampled_from(["mlp", "", "Pool"]), st.just(ValueError))),
       st.sampled_from(["pool", "capsule"]))
def test_digit_net_rejects_bad_configuration(case, head):
    if case[0] == "head":
        raises(case, cap.DigitNet)
    else:
        raises(case, lambda **kw: cap.DigitNet(head, **kw))


@given(st.sampled_from(["pool", "capsule"]), st.integers(0, 3), st.integers(1, 3), st.integers(1, 4))
def test_digit_net_scores_lie_in_the_unit_interval_in_any_batching(head, B, half_width, batch_size):
    torch.manual_seed(B)
    net = cap.DigitNet(head, width=2, n_classes=3).double()
    images = torch.rand(B, 4, 2 * half_width, dtype=F64, generator=torch.Generator().manual_seed(B))
    scores = cap.predict(net, images, batch_size)
    assert scores.shape == (B, 3) and ((scores >= 0) & (scores <= 1)).all()
    torch.testing.assert_close(scores, cap.predict(net, images, 512), rtol=1e-12, atol=1e-14)


@given(st.one_of(bad_int("epochs"), bad_int("batch_size"), bad_real("lr", positive=True),
                 bad_real("lam", nonnegative=True), bad_seed()))
def test_train_digit_net_rejects_bad_parameters(case):
    net = cap.DigitNet("pool", width=2)
    raises(case, lambda **kw: cap.train_digit_net(net, torch.rand(4, 4, 4), torch.arange(4), progress=False, **kw))


@given(bad_int("batch_size"))
def test_predict_rejects_bad_batch_sizes(case):
    raises(case, lambda **kw: cap.predict(cap.DigitNet("pool", width=2), torch.rand(3, 4, 4), **kw))


@settings(max_examples=6)  # each example trains a network
@given(st.integers(1, 3), st.integers(1, 8), st.integers(0, 2**63 - 1))
def test_train_digit_net_returns_finite_epoch_losses(epochs, batch_size, seed):
    torch.manual_seed(0)
    net = cap.DigitNet("capsule", width=2).float()
    images = torch.rand(8, 4, 4, generator=torch.Generator().manual_seed(1))
    history = cap.train_digit_net(net, images, torch.arange(8) % 10, epochs, batch_size, seed=seed, progress=False)
    assert len(history) == epochs and all(math.isfinite(h) and h >= 0 for h in history)


@given(bad_real("threshold"))
def test_pair_accuracy_rejects_bad_thresholds(case):
    raises(case, lambda **kw: cap.pair_accuracy(torch.rand(2, 3), torch.tensor([[0, 1], [1, 2]]), **kw))


@given(st.sampled_from([[[0, 3], [1, 2]], [[-1, 0], [1, 2]], [[1, 1], [0, 2]]]))
def test_pair_accuracy_rejects_bad_labels(labels):
    with pytest.raises(ValueError, match="^pair_labels must"):
        cap.pair_accuracy(torch.rand(2, 3), torch.tensor(labels))


@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**16), st.floats(0.0, 1.0))
def test_pair_accuracy_matches_a_sort(M, n, seed, threshold):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(M, n, generator=g, dtype=F64)
    pair_labels = torch.stack([torch.randperm(n, generator=g)[:2] for _ in range(M)])
    hits = confident = 0
    for row, pair in zip(scores.tolist(), pair_labels.tolist()):
        order = sorted(range(n), key=lambda j: -row[j])[:2]
        hit = sorted(order) == sorted(pair)
        hits += hit
        confident += hit and min(row[j] for j in order) > threshold
    got = cap.pair_accuracy(scores, pair_labels, threshold)
    assert got == {"top2": pytest.approx(hits / M), "top2_confident": pytest.approx(confident / M)}
    assert 0 <= got["top2_confident"] <= got["top2"] <= 1
