"""Properties of companion.capsule and companion.data (chapter: Capsules as K-Means)."""

import gzip
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion import capsule as cap
from companion import data


pytestmark = pytest.mark.usefixtures("float64")  # see conftest.py


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------
# squash


def test_squash_keeps_direction_and_has_the_closed_form_length():
    s = rand(50, 7)
    for c in (1.0, 0.5, 3.0):
        out = cap.squash(s, c=c)
        r = s.norm(dim=-1)
        torch.testing.assert_close(out.norm(dim=-1), r**2 / (c + r**2), rtol=1e-10, atol=0)
        torch.testing.assert_close(F.cosine_similarity(out, s, dim=-1), torch.ones(50))


def test_squash_is_bounded_monotone_and_zero_at_zero():
    r = torch.linspace(0, 1e3, 2001)
    lengths = cap.squash(torch.stack([r, torch.zeros_like(r)], 1)).norm(dim=-1)
    assert (lengths < 1).all() and (lengths.diff() > 0).all()
    zero = torch.zeros(3, 4, requires_grad=True)
    out = cap.squash(zero)
    assert torch.equal(out, torch.zeros(3, 4))
    out.sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_squash_acts_along_dim_and_keeps_dtype():
    s = rand(4, 6, 3).float()
    torch.testing.assert_close(cap.squash(s, dim=1), cap.squash(s.transpose(1, 2)).transpose(1, 2))
    assert cap.squash(s).dtype == torch.float32


@pytest.mark.parametrize("c", [0, -1, float("nan"), float("inf")])
def test_squash_rejects_bad_constant(c):
    with pytest.raises(ValueError, match="c must be"):
        cap.squash(rand(2, 3), c=c)


def test_squash_rejects_integer_input():
    with pytest.raises(TypeError, match="floating-point"):
        cap.squash(torch.ones(2, 3, dtype=torch.int64))


# ----------------------------------------------------------------------------------------------
# soft K-Means


def well_separated(seed=0):
    x, labels = cap.blobs((40, 50, 60, 30), radius=6.0, spread=0.5, seed=seed)
    start = x[torch.tensor([0, 45, 100, 160])] + 0.3  # one start inside each cluster, off-centre
    return x, labels, start


def lloyd_step(x, centres):
    """One step of Lloyd's algorithm written independently with numpy."""
    x, centres = x.numpy(), centres.numpy()
    owner = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    return np.stack([x[owner == j].mean(0) for j in range(len(centres))])


@pytest.mark.parametrize("metric", cap.METRICS)
def test_memberships_are_distributions(metric):
    x, _, start = well_separated()
    _, c = cap.soft_kmeans(x, start, K=0.7, iters=4, metric=metric)
    assert (c >= 0).all()
    torch.testing.assert_close(c.sum(1), torch.ones(len(x)))


def test_euclidean_with_huge_K_is_one_lloyd_step():
    x, _, start = cap.blobs(seed=3)[0], None, cap.blobs(seed=3)[0][:4]
    expected = lloyd_step(x, start)
    for K in (1e6, math.inf):
        v, _ = cap.soft_kmeans(x, start, K=K, iters=1, metric="euclidean")
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-9)


def test_euclidean_hard_limit_matches_sklearn_kmeans():
    from sklearn.cluster import KMeans

    x, _ = cap.blobs((50, 50, 50), radius=2.0, spread=0.9, seed=5)  # overlapping: several steps
    start = x[:3]
    for iters in (1, 3, 8):
        km = KMeans(3, init=start.numpy(), n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(x.numpy())
        v, _ = cap.soft_kmeans(x, start, K=math.inf, iters=iters, metric="euclidean")
        np.testing.assert_allclose(v.numpy(), km.cluster_centers_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("metric", cap.METRICS)
def test_new_centres_are_stationary_for_the_frozen_memberships(metric):
    """Eq. T1.6: with c frozen, the gradient of sum_i c_ij d(u_i, v_j) vanishes at the update."""
    x, _, start = well_separated(seed=1)
    previous, _ = cap.soft_kmeans(x, start, K=0.8, iters=2, metric=metric)
    v, c = cap.soft_kmeans(x, start, K=0.8, iters=3, metric=metric)
    # c are the memberships computed from `previous`, and v is the centre they imply
    v = v.detach().requires_grad_()
    if metric == "euclidean":
        d = torch.cdist(x, v) ** 2
    else:
        d = -x @ (v / v.norm(dim=-1, keepdim=True)).T
    (grad,) = torch.autograd.grad((c * d).sum(), v)
    assert grad.abs().max() < 1e-10 * x.abs().sum()
    logits = -torch.cdist(x, previous) ** 2 if metric == "euclidean" else x @ F.normalize(previous, dim=-1).T
    torch.testing.assert_close(c, torch.softmax(0.8 * logits, dim=1))


def test_normalized_dot_centre_is_the_sum_of_its_members():
    x, labels, start = well_separated()
    v, c = cap.soft_kmeans(x, start, K=math.inf, iters=5, metric="normalized_dot")
    torch.testing.assert_close(c.argmax(1), labels)
    sums = torch.stack([x[labels == j].sum(0) for j in range(4)])
    torch.testing.assert_close(v, sums)


def test_more_members_more_power():
    sizes = (10, 40, 160)
    x, labels = cap.blobs(sizes, radius=5.0, spread=0.3, seed=2)
    start = torch.stack([x[labels == j].mean(0) for j in range(3)])
    dot, _ = cap.soft_kmeans(x, start, K=5.0, iters=10, metric="normalized_dot")
    mean, _ = cap.soft_kmeans(x, start, K=5.0, iters=10, metric="euclidean")
    ratio = dot.norm(dim=-1) / torch.tensor(sizes, dtype=x.dtype)
    torch.testing.assert_close(ratio, torch.full((3,), 5.0), rtol=0.05, atol=0)  # sum = size · radius
    torch.testing.assert_close(mean.norm(dim=-1), torch.full((3,), 5.0), rtol=0.05, atol=0)


@pytest.mark.parametrize("metric", cap.METRICS)
def test_batched_clustering_equals_one_sample_at_a_time(metric):
    x, start = rand(3, 30, 4, seed=1), rand(3, 5, 4, seed=2)
    v, c = cap.soft_kmeans(x, start, K=2.0, iters=3, metric=metric)
    for b in range(3):
        vb, cb = cap.soft_kmeans(x[b], start[b], K=2.0, iters=3, metric=metric)
        torch.testing.assert_close(v[b], vb)
        torch.testing.assert_close(c[b], cb)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"K": 0}, ValueError, "K must be"),
    ({"K": -2.0}, ValueError, "K must be"),
    ({"K": float("nan")}, ValueError, "K must be"),
    ({"K": "big"}, TypeError, "K must be"),
    ({"iters": 0}, ValueError, "iters must be an integer >= 1, got 0"),
    ({"iters": 2.5}, ValueError, "iters must be"),
    ({"metric": "cosine"}, ValueError, "unknown metric 'cosine'; known: 'euclidean', 'normalized_dot'"),
])
def test_soft_kmeans_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        cap.soft_kmeans(rand(10, 2), rand(3, 2), **kwargs)


def test_soft_kmeans_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"x must have shape \[..., n, d\], got shape \(10,\)"):
        cap.soft_kmeans(rand(10), rand(3, 2))
    with pytest.raises(ValueError, match="same vector size d"):
        cap.soft_kmeans(rand(10, 2), rand(3, 4))
    with pytest.raises(TypeError, match="centers must be a torch.Tensor"):
        cap.soft_kmeans(rand(10, 2), [[0.0, 1.0]])


# ----------------------------------------------------------------------------------------------
# dynamic routing


@pytest.mark.parametrize("variant", cap.VARIANTS)
def test_couplings_are_distributions_and_outputs_are_short(variant):
    v, c = cap.dynamic_routing(3 * rand(2, 20, 6, 8), iters=4, variant=variant)
    assert v.shape == (2, 6, 8) and c.shape == (2, 20, 6)
    assert (c >= 0).all() and (v.norm(dim=-1) < 1).all()
    torch.testing.assert_close(c.sum(-1), torch.ones(2, 20))


@pytest.mark.parametrize("variant", cap.VARIANTS)
def test_first_iteration_is_uniform(variant):
    u = rand(2, 20, 6, 8)
    v, c = cap.dynamic_routing(u, iters=1, variant=variant, squash_c=0.5)
    torch.testing.assert_close(c, torch.full((2, 20, 6), 1 / 6))
    torch.testing.assert_close(v, cap.squash(u.sum(1) / 6, c=0.5))


def test_su_iteration_replaces_logits_and_centres_are_parallel_to_weighted_sums():
    """T1.10/T1.11: c^(r+1) = softmax_j <u_hat, v^(r)/|v^(r)|>, and v^(r+1) is parallel to sum_i c u_hat."""
    u = 2 * rand(3, 15, 4, 6)
    for r in range(1, 5):
        v_r, _ = cap.dynamic_routing(u, iters=r, variant="su")
        v_next, c_next = cap.dynamic_routing(u, iters=r + 1, variant="su")
        logits = (u * F.normalize(v_r, dim=-1).unsqueeze(1)).sum(-1)
        torch.testing.assert_close(c_next, torch.softmax(logits, dim=-1))
        weighted = (c_next.unsqueeze(-1) * u).sum(1)
        torch.testing.assert_close(F.cosine_similarity(v_next, weighted, dim=-1), torch.ones(3, 4))


def test_sabour_iteration_accumulates_agreements():
    u = 2 * rand(3, 15, 4, 6)
    logits = torch.zeros(3, 15, 4)
    for r in range(1, 5):
        v_r, c_r = cap.dynamic_routing(u, iters=r, variant="sabour")
        torch.testing.assert_close(c_r, torch.softmax(logits, dim=-1))
        logits = logits + (u * v_r.unsqueeze(1)).sum(-1)


def test_sabour_goes_one_hot_while_su_settles():
    u, parents = cap.routing_toy(seed=4)
    sabour = cap.routing_trace(u, 40, "sabour")
    su = cap.routing_trace(u, 40, "su")
    assert sabour["max_coupling"][-1] > 0.999 and sabour["entropy"][-1] < 0.01
    assert su["step"][-1] < 1e-9                         # a fixed point ...
    assert su["entropy"][-1] > 0.3                       # ... that is not one-hot
    c = su["couplings"][-1, 0]
    assert (c.argmax(-1) == parents).float().mean() > 0.9  # and still finds the parents
    assert su["step"][5:].diff().max() <= 1e-12           # steps shrink monotonically


def test_su_sharpness_is_absorbed_by_the_prediction_scale():
    u = rand(2, 12, 5, 4)
    for K in (0.3, 4.0):
        _, c_k = cap.dynamic_routing(u, iters=4, variant="su", K=K)
        _, c_scaled = cap.dynamic_routing(K * u, iters=4, variant="su", K=1.0)
        torch.testing.assert_close(c_k, c_scaled)


@pytest.mark.parametrize("variant", cap.VARIANTS)
def test_routing_is_invariant_to_input_order_and_equivariant_in_outputs(variant):
    u = rand(2, 18, 5, 4)
    v, c = cap.dynamic_routing(u, iters=3, variant=variant)
    p_in = torch.randperm(18, generator=torch.Generator().manual_seed(1))
    p_out = torch.randperm(5, generator=torch.Generator().manual_seed(2))
    v_in, c_in = cap.dynamic_routing(u[:, p_in], iters=3, variant=variant)
    torch.testing.assert_close(v_in, v)
    torch.testing.assert_close(c_in, c[:, p_in])
    v_out, c_out = cap.dynamic_routing(u[:, :, p_out], iters=3, variant=variant)
    torch.testing.assert_close(v_out, v[:, p_out])
    torch.testing.assert_close(c_out, c[:, :, p_out])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"iters": 0}, ValueError, "iters must be an integer >= 1, got 0"),
    ({"variant": "em"}, ValueError, "unknown variant 'em'; known: 'sabour', 'su', 'su4819'"),
    ({"K": 0.0}, ValueError, "K must be"),
    ({"squash_c": -1}, ValueError, "squash_c must be"),
])
def test_routing_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        cap.dynamic_routing(rand(1, 4, 3, 2), **kwargs)


def test_routing_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"u_hat must have shape \[B, n_in, n_out, d\], got shape \(4, 3, 2\)"):
        cap.dynamic_routing(rand(4, 3, 2))


# Gradients (gradcheck), agreement with the reference implementation and CUDA: test_capsule_routing_grad.py


# ----------------------------------------------------------------------------------------------
# the layer, the loss, the experiment


def test_shared_weight_layer_ignores_input_order_and_length():
    torch.manual_seed(0)
    layer = cap.CapsuleLayer(None, d_in=6, n_out=4, d_out=5)
    u = rand(3, 11, 6)
    out = layer(u)
    assert out.shape == (3, 4, 5) and (out.norm(dim=-1) < 1).all()
    torch.testing.assert_close(layer(u[:, torch.randperm(11)]), out)
    assert layer(rand(3, 7, 6)).shape == (3, 4, 5)  # any number of input capsules


def test_per_pair_layer_matches_explicit_predictions():
    torch.manual_seed(0)
    layer = cap.CapsuleLayer(9, d_in=3, n_out=2, d_out=4, share_weights=False, variant="sabour")
    u = rand(2, 9, 3)
    w = layer.weight.view(9, 3, 2, 4)
    u_hat = torch.stack([torch.stack([u[:, i] @ w[i, :, j] for j in range(2)], 1) for i in range(9)], 1)
    expected, _ = cap.dynamic_routing(u_hat, 3, "sabour", squash_c=0.5)
    torch.testing.assert_close(layer(u), expected)
    layer(u).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_layer_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match="n_in must be an integer >= 1 when share_weights=False, got None"):
        cap.CapsuleLayer(None, 4, 2, 3, share_weights=False)
    with pytest.raises(ValueError, match="routings must be an integer >= 1, got 0"):
        cap.CapsuleLayer(None, 4, 2, 3, routings=0)
    layer = cap.CapsuleLayer(5, 4, 2, 3, share_weights=False)
    with pytest.raises(ValueError, match=r"u must have shape \[B, n_in=5, d_in=4\], got \(2, 6, 4\)"):
        layer(rand(2, 6, 4))
    with pytest.raises(ValueError, match=r"d_in=4"):
        cap.CapsuleLayer(None, 4, 2, 3)(rand(2, 6, 3))


def test_margin_loss_by_hand():
    lengths = torch.tensor([[0.95, 0.5, 0.05], [0.6, 0.2, 0.9]])
    targets = torch.tensor([[1, 0, 0], [0, 0, 1]])
    # row 1: 0 + 0.5·0.4² + 0; row 2: 0.5·0.5² + 0.5·0.1² + 0
    expected = torch.tensor([0.5 * 0.16, 0.5 * 0.25 + 0.5 * 0.01])
    torch.testing.assert_close(cap.margin_loss(lengths, targets, reduction="none"), expected)
    torch.testing.assert_close(cap.margin_loss(lengths, targets), expected.mean())
    torch.testing.assert_close(cap.margin_loss(lengths, targets, reduction="sum"), expected.sum())
    torch.testing.assert_close(cap.margin_loss(lengths, torch.tensor([0, 2])), expected.mean())
    torch.testing.assert_close(cap.margin_loss(lengths, targets, lam=0.25, reduction="none"), expected / 2)


@pytest.mark.parametrize("targets, kwargs, match", [
    (torch.tensor([0, 3]), {}, r"class indices in targets must lie in \[0, 3\)"),
    (torch.tensor([[1, 0, 0]]), {}, "targets must have the shape of lengths"),
    (torch.tensor([[2, 0, 0], [0, 0, 1]]), {}, "only 0 and 1"),
    (torch.tensor([0, 1]), {"m_pos": 0.1, "m_neg": 0.9}, "0 <= m_neg < m_pos <= 1"),
    (torch.tensor([0, 1]), {"lam": -1}, "lam must be a finite number >= 0, got -1"),
    (torch.tensor([0, 1]), {"reduction": "avg"}, "reduction must be one of 'none', 'mean', 'sum', got reduction='avg'"),
])
def test_margin_loss_rejects_bad_input(targets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cap.margin_loss(torch.rand(2, 3), targets, **kwargs)


def test_two_digit_images_pair_different_labels():
    images = rand(40, 3, 4)
    labels = torch.arange(40) % 5
    pairs, pair_labels = cap.two_digit_images(images, labels, seed=3)
    assert pairs.shape[1:] == (3, 8) and 0 < len(pairs) <= 40
    assert (pair_labels[:, 0] != pair_labels[:, 1]).all()
    for image, (a, b) in zip(pairs, pair_labels):
        left = [k for k in range(40) if torch.equal(images[k], image[:, :4])]
        right = [k for k in range(40) if torch.equal(images[k], image[:, 4:])]
        assert labels[left[0]] == a and labels[right[0]] == b


def test_pair_accuracy_by_hand():
    scores = torch.tensor([[0.9, 0.8, 0.1], [0.9, 0.4, 0.45], [0.2, 0.9, 0.6]])
    pair_labels = torch.tensor([[1, 0], [0, 1], [0, 2]])
    # row 1: top-2 {0,1} right and confident; row 2: top-2 {0,2} wrong; row 3: top-2 {1,2} wrong
    assert cap.pair_accuracy(scores, pair_labels) == {"top2": 1 / 3, "top2_confident": 1 / 3}
    pair_labels[2] = torch.tensor([2, 1])
    assert cap.pair_accuracy(scores, pair_labels) == {"top2": 2 / 3, "top2_confident": 2 / 3}
    assert cap.pair_accuracy(scores, pair_labels, threshold=0.7)["top2_confident"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"pair_labels must have shape \[3, 2\]"):
        cap.pair_accuracy(scores, pair_labels[:, :1])


@pytest.mark.parametrize("head", ["pool", "capsule"])
def test_digit_net_scores_any_width_and_trains_reproducibly(head):
    images, labels = data.load_digits()
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        net = cap.DigitNet(head, width=4).float()
        for width in (8, 16):
            scores = net(torch.rand(5, 8, width, dtype=torch.float32))
            assert scores.shape == (5, 10) and ((scores >= 0) & (scores < 1)).all()
        before = [p.detach().clone() for p in net.parameters()]
        histories.append(cap.train_digit_net(net, images[:64], labels[:64], epochs=2, seed=3,
                                             progress=False))
        assert all(not torch.equal(p, q) for p, q in zip(before, net.parameters()))
    assert len(histories[0]) == 2 and all(math.isfinite(h) for h in histories[0])
    assert histories[0] == histories[1]


def test_digit_net_rejects_unknown_head():
    with pytest.raises(ValueError, match="unknown head 'gap'; known: 'pool', 'capsule'"):
        cap.DigitNet("gap")


# ----------------------------------------------------------------------------------------------
# data


def test_load_digits_is_the_bundled_set():
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == torch.float32
    assert images.min() == 0 and images.max() == 1
    # The UCI set has about 180 digits of each class, and pixels are counts 0..16 divided by 16.
    counts = torch.bincount(labels, minlength=10)
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 190, counts.tolist()
    assert torch.equal(images * 16, (images * 16).round())


def write_idx(path, array, magic, compress=False):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 2051, compress)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, 2049, compress)
    x, y = data.load_mnist(tmp_path, "test")
    np.testing.assert_allclose(x.numpy(), images / 255.0, rtol=1e-6)
    assert y.tolist() == [3, 1, 4, 1, 5] and y.dtype == torch.int64
    with pytest.raises(FileNotFoundError, match="no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"):
        data.load_mnist(tmp_path, "train")


def test_load_mnist_rejects_broken_files(tmp_path):
    images = np.zeros((4, 28, 28))
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 2049)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4), 2049)
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        data.load_mnist(tmp_path, "test")
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 2051)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        data.load_mnist(tmp_path, "test")
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 2051)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3), 2049)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        data.load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        data.load_mnist(tmp_path, "val")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_mnist(tmp_path / "nowhere")


def test_su4819_replaces_logits_with_agreement_of_the_squashed_sum():
    """kexue.fm/archives/4819: c^(r+1) = softmax_j <u_hat, squash(s^(r))>, logits replaced."""
    u = 2 * rand(3, 15, 4, 6)
    for r in range(1, 5):
        v_r, _ = cap.dynamic_routing(u, iters=r, variant="su4819", squash_c=0.5)
        _, c_next = cap.dynamic_routing(u, iters=r + 1, variant="su4819", squash_c=0.5)
        # v_r = squash(s^(r)) is exactly the vector the next logits use
        logits = (u * v_r.unsqueeze(1)).sum(-1)
        torch.testing.assert_close(c_next, torch.softmax(logits, dim=-1))


def test_routing_loss_never_rises_along_su_routing():
    """Su's routing alternately maximises sum c a + H(c)/K over c and the unit directions."""
    g = torch.Generator().manual_seed(11)
    for K in (0.5, 1.0, 3.0):
        u = 3 * torch.randn(4, 20, 5, 6, generator=g, dtype=torch.float64)
        losses = torch.stack([cap.routing_loss(u, cap.dynamic_routing(u, r, "su", K=K)[0], K=K)
                              for r in range(1, 16)])
        assert (losses.diff(dim=0) <= 1e-10).all()


def test_routing_loss_is_the_variational_log_sum_exp():
    """-L = max_c sum_ij c_ij a_ij + H(c_i)/K, attained at c = softmax(K a) (Gibbs)."""
    g = torch.Generator().manual_seed(12)
    u = torch.randn(2, 7, 3, 4, generator=g, dtype=torch.float64)
    v = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    K = 2.0
    a = (u * F.normalize(v, dim=-1).unsqueeze(1)).sum(-1)

    def objective(c):
        return ((c * a).sum(-1) - (c * c.log()).sum(-1) / K).sum(-1)

    torch.testing.assert_close(-cap.routing_loss(u, v, K), objective(torch.softmax(K * a, -1)))
    for _ in range(20):
        other = torch.softmax(torch.randn(a.shape, generator=g, dtype=torch.float64), -1)
        assert (objective(other) <= -cap.routing_loss(u, v, K) + 1e-12).all()
    # only the directions of v matter
    torch.testing.assert_close(cap.routing_loss(u, 5 * v, K), cap.routing_loss(u, v, K))


def test_routing_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="v must have shape"):
        cap.routing_loss(rand(2, 5, 3, 4), rand(2, 3, 5))


# ----------------------------------------------------------------------------------------------
# bad input and extremes (issue 16)
#
# The reviews' reproductions, one test each. The module's default dtype here is float64 (see
# pytestmark), so every float32 tensor is spelled out.

F32, F64 = torch.float32, torch.float64


def squash_closed_form(s, c=1.0):
    """squash in Python floats: math.hypot does not overflow, and 1/(1 + c/r²) neither for huge r."""
    r = math.hypot(*s)
    if r == 0:
        return [0.0] * len(s)
    g = 1 / (1 + (c / r) / r) if r > 1 else r * r / (c + r * r)
    return [x / r * g for x in s]


@pytest.mark.parametrize("r, dtype", [(1e20, F32), (1e30, F32), (3e38, F32), (1e200, F64), (1e308, F64)])
def test_squash_of_huge_vectors_is_their_direction_with_a_finite_gradient(r, dtype):
    # review B2: squash(torch.tensor([1e20, 0.])) was NaN, value and gradient
    s = torch.tensor([r, 0.0], dtype=dtype, requires_grad=True)
    out = cap.squash(s)
    torch.testing.assert_close(out, torch.tensor(squash_closed_form([r, 0.0]), dtype=dtype))
    out.sum().backward()
    # d squash/ds at s = (r, 0): diag(g'(r), g(r)/r), with g(r) = r²/(1 + r²), g' = 2r/(1 + r²)²
    expected = [2 / r**3 if r < 1e100 else 0.0, 1 / r]  # 2/r³ underflows here, except at 1e20 in float64
    # accurate to rounding relative to the Jacobian's norm, 1/r
    atol = 4 * torch.finfo(dtype).eps / r
    torch.testing.assert_close(s.grad, torch.tensor(expected, dtype=dtype), rtol=1e-6, atol=atol)


def test_squash_repro_one_liner_float32_and_float64():
    assert cap.squash(torch.tensor([1e20, 0.0], dtype=F32)).tolist() == [1.0, 0.0]
    assert cap.squash(torch.tensor([1e200, 0.0], dtype=F64)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("dtype, rtol", [(F32, 1e-6), (F64, 1e-14)])
@pytest.mark.parametrize("r", [1e-30, 1e-12, 1e-6, 1e-5, 1e-3])
def test_squash_of_tiny_vectors_is_accurate(r, dtype, rtol):
    # review F: eps = 1e-12 inside the sqrt made ‖squash(s)‖ 41% too long at ‖s‖ = 1e-6
    if dtype == F32 and r * r < torch.finfo(F32).tiny:
        r = 1e-18  # r² = 1e-36 is still a normal float32
    s = [0.6 * r, 0.8 * r]
    out = cap.squash(torch.tensor(s, dtype=dtype), c=0.5)
    torch.testing.assert_close(out, torch.tensor(squash_closed_form(s, 0.5), dtype=dtype), rtol=rtol, atol=0)


def test_squash_gradient_at_zero_is_the_exact_zero():
    # squash(s) = s‖s‖/(c + ‖s‖²): the Jacobian at 0 is 0 (it was eps^½/c with the old eps)
    for dtype in (F32, F64):
        s = torch.zeros(3, dtype=dtype, requires_grad=True)
        out = cap.squash(s)
        assert torch.equal(out, torch.zeros(3, dtype=dtype))
        out.sum().backward()
        assert torch.equal(s.grad, torch.zeros(3, dtype=dtype))


def test_squash_eps_keeps_the_old_smoothing_and_rejects_bad_values():
    s = torch.tensor([3e-6, 4e-6], dtype=F64)
    r2 = 25e-12
    expected = s * math.sqrt(r2 + 1e-12) / (1 + r2)
    torch.testing.assert_close(cap.squash(s, eps=1e-12), expected, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0, got -1"):
        cap.squash(torch.zeros(2), eps=-1)
    with pytest.raises(TypeError, match="eps must be a real number, got 'a'"):
        cap.squash(torch.zeros(2), eps="a")
    with pytest.raises(ValueError, match=r"dim must be an integer in \[-1, 1\) for a 1-D s, got 3"):
        cap.squash(torch.zeros(2), dim=3)


def test_squash_propagates_nan_as_documented():
    assert torch.isnan(cap.squash(torch.tensor([math.nan, 0.0]))).all()


@pytest.mark.parametrize("metric", cap.METRICS)
@pytest.mark.parametrize("scale", [1e20, 1e30])
def test_soft_kmeans_of_huge_float32_points_matches_float64(metric, scale):
    # review B2: float32 inputs of 1e20 gave NaN memberships and centres
    x, _ = cap.blobs(seed=1)
    x32, start32 = (scale * x).float(), (scale * x[:3]).float()
    v, c = cap.soft_kmeans(x32, start32, K=1.0, iters=5, metric=metric)
    v_ref, c_ref = cap.soft_kmeans(x32.double(), start32.double(), K=1.0, iters=5, metric=metric)
    assert torch.isfinite(v).all() and torch.isfinite(c).all()
    torch.testing.assert_close(v.double(), v_ref, rtol=1e-5, atol=0)
    torch.testing.assert_close(c.double(), c_ref, rtol=0, atol=1e-6)


def test_soft_kmeans_rejects_mismatched_batch_and_dtype():
    with pytest.raises(ValueError, match="x and centers must have broadcastable batch dimensions"):
        cap.soft_kmeans(rand(2, 5, 2), rand(3, 3, 2))
    with pytest.raises(TypeError, match=r"centers must have the dtype of x \(torch.float64\), got torch.float32"):
        cap.soft_kmeans(rand(5, 2), rand(3, 2).float())
    with pytest.raises(ValueError, match=r"centers must hold at least one centre"):
        cap.soft_kmeans(rand(5, 2), rand(0, 2))


@pytest.mark.parametrize("variant", cap.VARIANTS)
def test_routing_of_huge_float32_predictions_matches_float64(variant):
    # review B2: dynamic_routing with float32 inputs of about 1e20-1e30 returned NaN couplings
    u = (1e30 * rand(2, 3, 4, 5)).float().requires_grad_()
    v, c = cap.dynamic_routing(u, iters=3, variant=variant)
    v_ref, c_ref = cap.dynamic_routing_reference(u.detach().double(), iters=3, variant=variant)
    torch.testing.assert_close(v.double(), v_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c.double(), c_ref, rtol=1e-5, atol=1e-6)
    v.sum().backward()
    assert torch.isfinite(u.grad).all()


def test_routing_empty_dimensions():
    # review E: n_out = 0 raised ZeroDivisionError and B = 0 a reshape RuntimeError
    with pytest.raises(ValueError, match=r"u_hat must have shape \[B, n_in, n_out, d\] with n_out >= 1"):
        cap.dynamic_routing(rand(2, 3, 0, 4))
    u = rand(0, 3, 4, 5).requires_grad_()
    v, c = cap.dynamic_routing(u)
    assert v.shape == (0, 4, 5) and c.shape == (0, 3, 4)
    v.sum().backward()
    assert u.grad.shape == (0, 3, 4, 5)


def test_routing_reference_checks_its_arguments():
    # review A9/E: an unknown variant routed as 'su', iters = 0 gave UnboundLocalError
    with pytest.raises(ValueError, match="unknown variant 'hinton'; known: 'sabour', 'su', 'su4819'"):
        cap.dynamic_routing_reference(rand(2, 3, 4, 5), variant="hinton")
    with pytest.raises(ValueError, match="iters must be an integer >= 1, got 0"):
        cap.dynamic_routing_reference(rand(2, 3, 4, 5), iters=0)
    with pytest.raises(TypeError, match="u_hat must be a torch.Tensor"):
        cap.dynamic_routing_reference([[1.0]])


def test_capsule_layer_names_a_dtype_mismatch():
    # review E: float64 input to float32 weights gave torch's "expected m1 and m2 ..."
    layer = cap.CapsuleLayer(None, 4, 2, 3).float()
    with pytest.raises(TypeError, match=r"u must have the dtype of the layer's weight \(torch.float32\), "
                                        r"got torch.float64"):
        layer(rand(2, 5, 4))


def test_margin_loss_rejects_lengths_outside_the_unit_interval():
    # review A9: lengths 5.0 and -3.0 gave a loss of 0.0
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 1\].*got 5.0 at index \(0, 0\)"):
        cap.margin_loss(torch.tensor([[5.0, -3.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 1\].*got -3.0 at index \(0, 1\)"):
        cap.margin_loss(torch.tensor([[0.5, -3.0]]), torch.tensor([0]))
    # a float32 capsule length may round a few ulps above 1; it is a valid length
    just_above = torch.tensor([[1 + 2 * torch.finfo(F32).eps, 0.0]], dtype=F32)
    expected = 0.5 * (1 + 2 * torch.finfo(F32).eps - 0.1) ** 2 + 0.9**2  # class 0 absent, class 1 present
    torch.testing.assert_close(cap.margin_loss(just_above, torch.tensor([1])).item(), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lam": math.inf}, ValueError, "lam must be a finite number >= 0, got inf"),
    ({"lam": "a"}, TypeError, "lam must be a real number, got 'a'"),
    ({"m_pos": "a"}, TypeError, "m_pos must be a real number, got 'a'"),
    ({"m_neg": math.nan}, ValueError, "m_neg must be a finite number, got nan"),
])
def test_margin_loss_rejects_bad_parameters(kwargs, error, match):
    # review B5/E: lam = inf gave NaN; a string margin or lam gave "'<' not supported"
    with pytest.raises(error, match=match):
        cap.margin_loss(torch.rand(2, 3), torch.tensor([0, 1]), **kwargs)


@pytest.mark.parametrize("scores, pair_labels, kwargs, error, match", [
    (torch.rand(4, 10), torch.tensor([[12, 1]] * 4), {}, ValueError, r"pair_labels must lie in \[0, 10\)"),
    (torch.tensor([[0.1, math.nan, 0.3]]), torch.tensor([[0, 1]]), {}, ValueError,
     r"scores must not be NaN .*index \(0, 1\)"),
    (torch.rand(0, 10), torch.zeros(0, 2, dtype=torch.long), {}, ValueError, r"scores must hold at least one pair"),
    (torch.rand(4, 10), torch.tensor([[0, 1]] * 4), {"threshold": "a"}, TypeError,
     "threshold must be a real number, got 'a'"),
    (torch.rand(4, 1), torch.tensor([[0, 1]] * 4), {}, ValueError, "scores must have at least 2 classes"),
    (torch.rand(2, 3), torch.tensor([[0, 1], [2, 2]]), {}, ValueError,
     r"pair_labels must hold two different classes per row, got \[2, 2\] in row 1"),
    (torch.rand(2, 3), torch.tensor([[0.0, 1.0], [1.0, 2.0]]), {}, TypeError, "pair_labels must hold integer"),
])
def test_pair_accuracy_rejects_bad_input(scores, pair_labels, kwargs, error, match):
    # review A9/B4/E: labels out of range and NaN scores gave 0.0, M = 0 gave NaN
    with pytest.raises(error, match=match):
        cap.pair_accuracy(scores, pair_labels, **kwargs)


def test_pair_accuracy_ranks_infinite_scores():
    scores = torch.tensor([[math.inf, 0.9, 0.1], [-math.inf, 0.2, 0.3]])
    assert cap.pair_accuracy(scores, torch.tensor([[1, 0], [2, 1]])) == {"top2": 1.0, "top2_confident": 0.5}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"spread": -1}, ValueError, "spread must be a finite number >= 0, got -1"),
    ({"radius": math.nan}, ValueError, "radius must be a finite number >= 0, got nan"),
    ({"sizes": 5}, TypeError, "sizes must be a non-empty sequence of integers >= 1, got 5"),
    ({"sizes": (3, 0)}, ValueError, r"sizes\[1\] must be an integer >= 1, got 0"),
    ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
])
def test_blobs_rejects_bad_parameters(kwargs, error, match):
    # review A9/B5: spread = -1 was accepted, radius = nan gave NaN points
    with pytest.raises(error, match=match):
        cap.blobs(**kwargs)


def test_routing_toy_rejects_nan_noise():
    # review B5: routing_toy(noise=nan) gave NaN predictions
    with pytest.raises(ValueError, match="noise must be a finite number >= 0, got nan"):
        cap.routing_toy(noise=math.nan)


@pytest.mark.parametrize("head, n_classes", [("capsule", 0), ("pool", 0), ("pool", -1), ("capsule", -1)])
def test_digit_net_names_n_classes(head, n_classes):
    # review A9/E: the capsule head blamed n_out, the pool head built a 0-output model or
    # failed inside nn.Linear
    with pytest.raises(ValueError, match=f"n_classes must be an integer >= 1, got {n_classes}"):
        cap.DigitNet(head, n_classes=n_classes)


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": torch.arange(7) % 10}, r"labels must be a tensor with one entry per image, \[N=5\].*got \(7,\)"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"lr": -1.0}, "lr must be a finite number > 0, got -1.0"),
    ({"lr": math.nan}, "lr must be a finite number > 0, got nan"),
    ({"images": torch.rand(0, 8, 8), "labels": torch.arange(0)}, "images must hold at least one image"),
])
def test_train_digit_net_rejects_bad_input(kwargs, match):
    # review E: an images/labels length mismatch gave IndexError
    args = {"images": torch.rand(5, 8, 8), "labels": torch.arange(5), **kwargs}
    with pytest.raises(ValueError, match=match):
        cap.train_digit_net(cap.DigitNet("pool", width=2), **args, epochs=1, progress=False)


def test_predict_rejects_bad_input_and_handles_no_images():
    # review E: batch_size = 0 gave torch's split_size error, a list an AttributeError
    net = cap.DigitNet("pool", width=2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        cap.predict(net, torch.rand(4, 8, 8), batch_size=0)
    with pytest.raises(TypeError, match="images must be a torch.Tensor, got list"):
        cap.predict(net, [[1.0]])
    for head in ("pool", "capsule"):
        scores = cap.predict(cap.DigitNet(head, width=2).float(), torch.rand(0, 8, 8, dtype=F32))
        assert scores.shape == (0, 10)


def test_digit_training_is_bit_identical_on_rerun_and_close_across_thread_counts():
    # review A10: documented in train_digit_net's docstring; this checks what it says
    images, labels = data.load_digits()
    threads = torch.get_num_threads()
    runs = []
    try:
        for n in (1, 1, 2):
            torch.set_num_threads(n)
            torch.manual_seed(0)
            net = cap.DigitNet("capsule", width=4).float()
            history = cap.train_digit_net(net, images[:64], labels[:64], epochs=2, seed=3, progress=False)
            runs.append((history, [p.detach().clone() for p in net.parameters()]))
    finally:
        torch.set_num_threads(threads)
    (h1, p1), (h1b, p1b), (h2, p2) = runs
    assert h1 == h1b and all(torch.equal(a, b) for a, b in zip(p1, p1b))
    assert h1 == pytest.approx(h2, rel=1e-6)
    for a, b in zip(p1, p2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_routing_trace_needs_samples_and_inputs():
    # B = 0 would make its means over the batch 0/0
    with pytest.raises(ValueError, match=r"u_hat must have B >= 1 and n_in >= 1 for routing_trace"):
        cap.routing_trace(rand(0, 3, 2, 2), 2)


def test_routing_loss_with_a_sharpness_beyond_float32():
    # (1/K) log Σ exp(K a) -> max a as K -> inf; K = 1e300 is finite but not a float32
    u, v = rand(1, 3, 2, 2).float(), rand(1, 2, 2).float()
    a = (u * F.normalize(v, dim=-1).unsqueeze(1)).sum(-1)
    torch.testing.assert_close(cap.routing_loss(u, v, K=1e300), -a.amax(-1).sum(-1))
