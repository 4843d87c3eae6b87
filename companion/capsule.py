"""Capsules as clustering: squash, soft K-Means, dynamic routing, a capsule layer, the margin loss.

Introduced in: Capsules as K-Means (kexue.fm/archives/5112, with 4819 and 5155).

Su's reading of capsule networks: an upper-layer capsule is a *cluster centre* of the lower-layer
capsules of one sample, and dynamic routing is a few steps of a smoothed K-Means. With the
normalised inner product as dissimilarity a centre is the *sum* of its members, so its length
grows with its support, and the squash maps that length into [0, 1).

Shapes follow the article: a batch of ``B`` samples, ``n_in`` lower capsules and ``n_out`` upper
capsules per sample, capsule vectors of ``d`` dimensions. Nothing here loops over capsules in
Python; routing is a handful of batched matrix products per iteration.

The chapter's figures (``plot_*``) are in :mod:`companion.figures.capsule`; they are reachable
from here too, and only then load matplotlib.
"""

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import choice as _choice
from companion.checks import float_tensor, real
from companion.checks import generator as _generator
from companion.checks import positive_int as _positive_int
from companion.checks import reduce as _reduce
from companion.checks import reduction as _reduction
from companion.figures import lazy
from companion.progress import trange

# The figures live in companion.figures.capsule (they import matplotlib), loaded on first use.
__getattr__, __dir__ = lazy(__name__, ("plot_more_members", "plot_routing", "plot_soft_kmeans", "plot_squash"))

METRICS = ("euclidean", "normalized_dot")
VARIANTS = ("sabour", "su", "su4819")


# ----------------------------------------------------------------------------------------------
# argument checks beyond companion.checks, and scaling that keeps squares from overflowing


def _tensor(x, name: str, rank: int | Sequence[int], what: str) -> torch.Tensor:
    x = float_tensor(x, name, f"a torch.Tensor of shape {what}")
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    if x.dim() not in ranks:
        raise ValueError(f"{name} must have shape {what}, got shape {tuple(x.shape)}")
    return x


def _dim(dim, x: torch.Tensor, name: str) -> int:
    """``dim`` as a valid dimension index of ``x`` (negative indices count from the end)."""
    n = max(x.dim(), 1)  # torch lets a 0-d tensor be indexed by 0 and -1
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -n <= dim < n:
        raise ValueError(f"dim must be an integer in [{-n}, {n}) for a {x.dim()}-D {name}, got {dim!r}")
    return int(dim)


def _same_kind(x: torch.Tensor, name: str, like: torch.Tensor, like_name: str) -> torch.Tensor:
    """``x`` if it has the dtype and device of ``like``; torch's own error names neither tensor."""
    if x.dtype != like.dtype:
        raise TypeError(f"{name} must have the dtype of {like_name} ({like.dtype}), got {x.dtype}")
    if x.device != like.device:
        raise ValueError(f"{name} must be on the device of {like_name} ({like.device}), got {x.device}")
    return x


def _power_of_two(m: torch.Tensor) -> torch.Tensor:
    """A power of two ``p`` with ``p <= m < 2p`` for finite ``m > 0`` (``p = 1/2`` at ``m = 0``).

    Dividing by ``p`` is exact (barring subnormals), so a kernel can square and sum ``x / p``,
    whose largest entry lies in [1, 2), without overflow or premature underflow, and scale back
    exactly. ``p`` is a constant for autograd: the kernels are invariant to it, so their
    gradients need no term for it.
    """
    m = m.detach()
    return torch.ldexp(torch.ones_like(m), torch.frexp(m).exponent - 1)


def _largest(x: torch.Tensor, dims: int | tuple[int, ...]) -> torch.Tensor:
    """The largest |entry| of ``x`` over ``dims`` (kept), detached; 0 where those dims are empty."""
    dims = (dims,) if isinstance(dims, int) else dims
    if x.dim() == 0 or all(x.shape[d] for d in dims):
        return x.detach().abs().amax(dims, keepdim=True)  # amax of a 0-d tensor is itself
    shape = list(x.shape)
    for d in dims:
        shape[d] = 1
    return x.new_zeros(shape)


def _unit(s: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``F.normalize(s)`` that survives ‖s‖² overflowing (torch's norm does not scale first):
    the same bits wherever ``F.normalize`` is finite, and a unit vector for huge ``s``."""
    return F.normalize(s / _power_of_two(_largest(s, dim)), dim=dim)


# ----------------------------------------------------------------------------------------------
# squash


def squash(s: torch.Tensor, dim: int = -1, c: float = 1.0, eps: float = 0.0) -> torch.Tensor:
    r"""Shrink a vector's length into [0, 1) and keep its direction.

    .. math:: \operatorname{squash}_c(s) = \frac{\|s\|^2}{c + \|s\|^2}\,\frac{s}{\|s\|}

    Sabour et al. use ``c = 1``; Su found ``c = 0.5`` works better in his experiments (a vector of
    length 1 then maps to 2/3 instead of 1/2).

    The length is computed from ``s`` divided by a power of two near its largest component, so
    ‖s‖² never overflows or underflows on the way: any finite ``s`` gives a finite result
    (``s/‖s‖`` for huge ``s``), within 2 ulps of the exact value (measured over lengths from
    1e-300 to 1e300 in float64 and 1e-60 to 1e60 in float32) unless that is subnormal, and
    ``squash(0) == 0`` with gradient exactly 0 there (the Jacobian at 0 is 0).
    NaN or ±inf in ``s`` propagates to the result; it is not checked, which would cost a device
    synchronisation.

    Args:
        s: capsule vectors, any shape; ``dim`` is the vector dimension.
        dim: the dimension that holds the vector components.
        c: positive constant; larger ``c`` squashes short vectors more.
        eps: >= 0; if positive, ‖s‖ in the numerator becomes :math:`\sqrt{\|s\|^2 + \epsilon}`
            (the smoothing of common Keras implementations, which biases lengths below about
            :math:`\sqrt\epsilon`). Not needed for a finite gradient: the default 0 is exact.

    Returns:
        A tensor of the same shape, dtype and device as ``s``.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    s = float_tensor(s, "s")
    c = real(c, "c", positive=True)
    eps = real(eps, "eps", nonnegative=True)
    dim = _dim(dim, s, "s")
    if s.dim() and s.shape[dim] == 0:  # vectors with no components: nothing to squash
        return s.clone()
    p = _power_of_two(_largest(s, dim))
    t = s / p  # exact; the largest |component| of t lies in [1, 2), or t = 0
    n2 = t.pow(2).sum(dim, keepdim=True)
    # q = ‖t‖ = ‖s‖/p. The inner where keeps sqrt's infinite slope at 0 out of the gradient (the
    # outer one then passes zero), so the gradient at s = 0 is the exact 0, not NaN.
    nonzero = n2 != 0  # True for NaN, which then reaches every component
    q = torch.where(nonzero, torch.where(nonzero, n2, 1).sqrt(), 0)
    # squash(s) = t · p·√(‖s‖² + eps) / (c + ‖s‖²) with ‖s‖ = p·q. Split p = P·S with P = max(p, 1)
    # and S = min(p, 1) (one of them is 1) and divide top and bottom by P²: then nothing
    # overflows (c/P² may underflow to 0, negligible against r² >= S²) and, for small
    # vectors, r = S·q = ‖s‖ itself is formed, so nothing underflows before it has to.
    P, S = p.clamp_min(1), p.clamp_max(1)
    r = S * q
    c_P = c / P.pow(2)
    root = r if eps == 0 else (r.pow(2) + eps / P.pow(2)).sqrt()  # sqrt(r²) has no slope at 0
    return t * (S * root / (c_P + r.pow(2)))


# ----------------------------------------------------------------------------------------------
# soft K-Means


def _memberships(logits: torch.Tensor, K: float, exponent: torch.Tensor) -> torch.Tensor:
    """softmax(K·2^exponent·logits) over the last dimension, for logits that were scaled down by
    2^exponent (so they are O(1)) and a sharpness K·2^exponent that may lie outside the dtype."""
    if math.isinf(K):  # Lloyd's hard assignment: the K → ∞ limit of the softmax
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    # Shift each row's largest logit to 0 before sharpening: a huge sharpness then sends the
    # others to -inf (weight 0), and never makes inf - inf.
    logits = logits - logits.amax(-1, keepdim=True)
    mantissa, k = math.frexp(K)
    sharpness = torch.ldexp(logits.new_full(exponent.shape, mantissa), exponent + k)
    return torch.softmax(sharpness.clamp_max(torch.finfo(logits.dtype).max) * logits, dim=-1)


def soft_kmeans(x: torch.Tensor, centers: torch.Tensor, K: float = 1.0, iters: int = 10,
                metric: str = "euclidean") -> tuple[torch.Tensor, torch.Tensor]:
    r"""Smoothed K-Means: alternate soft memberships and the centres they imply.

    With a dissimilarity :math:`d`, memberships are a softmax over centres with sharpness ``K``,

    .. math:: c_{ij} = \operatorname{softmax}_j\big(-K\, d(x_i, v_j)\big),

    and each centre solves :math:`\sum_i c_{ij}\,\partial_{v_j} d(x_i, v_j) = 0` with ``c`` frozen:

    * ``"euclidean"``, :math:`d = \|x - v\|^2`: :math:`v_j = \sum_i c_{ij} x_i / \sum_i c_{ij}`,
      the weighted mean. ``K = math.inf`` (one-hot memberships) is exactly Lloyd's algorithm.
    * ``"normalized_dot"``, :math:`d = -\langle x, v/\|v\|\rangle`: the condition fixes only the
      direction of :math:`v_j`; Su takes :math:`v_j = \sum_i c_{ij} x_i`, the weighted *sum*, whose
      length grows with the cluster's membership.

    Each sample is clustered in units of a power of two near its largest coordinate (exact, and
    undone on return), so squared distances cannot overflow: any finite ``x`` and ``centers``
    give finite memberships, whatever their scale (a result is ±inf only where the exact centre
    lies beyond the dtype, e.g. a weighted sum of huge points). NaN or ±inf in ``x`` or
    ``centers`` propagates to the result; it is not checked, which would cost a device
    synchronisation.

    Args:
        x: points, shape ``[..., n, d]`` (leading batch dimensions are clustered independently).
        centers: initial centres, shape ``[..., k, d]`` with ``k >= 1``, of ``x``'s dtype and
            device; its batch dimensions broadcast against those of ``x``.
        K: sharpness, > 0; ``math.inf`` gives hard (Lloyd) assignments.
        iters: number of (membership, centre) updates, >= 1.
        metric: ``"euclidean"`` or ``"normalized_dot"``.

    Returns:
        ``(centers, c)``: the centres after ``iters`` updates, shape ``[..., k, d]``, and the
        memberships that produced them, shape ``[..., n, k]`` (rows sum to 1). A centre with no
        weight at all (possible only for hard assignments) keeps its previous position.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    x = _tensor(x, "x", range(2, 9), "[..., n, d]")
    v = _tensor(centers, "centers", range(2, 9), "[..., k, d]")
    _same_kind(v, "centers", x, "x")
    if x.shape[-1] != v.shape[-1]:
        raise ValueError(f"x and centers must have the same vector size d, got x {tuple(x.shape)} "
                         f"and centers {tuple(v.shape)}")
    if v.shape[-2] == 0:
        raise ValueError(f"centers must hold at least one centre (k >= 1), got shape {tuple(v.shape)}")
    try:
        torch.broadcast_shapes(x.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"x and centers must have broadcastable batch dimensions [...], got x "
                         f"{tuple(x.shape)} and centers {tuple(v.shape)}") from None
    K = real(K, "K", allow_inf=True, positive=True)
    iters = _positive_int(iters, "iters")
    metric = _choice(metric, "metric", METRICS)
    # Work in units of p = 2^e per sample (exact): Euclidean logits scale by p², normalised dot
    # logits by p, which _memberships puts back into the sharpness.
    m = _largest(x, (-2, -1))
    if metric == "euclidean":  # both enter the distances; for the dot only v's direction does
        m = torch.maximum(m, _largest(v, (-2, -1)))
    e = torch.frexp(m).exponent - 1
    p = torch.ldexp(torch.ones_like(m), e)
    x = x / p
    v = v / p
    c = None
    for _ in range(iters):
        if metric == "euclidean":
            # −‖x − v‖² up to the per-row constant ‖x‖², which the softmax ignores
            logits = 2 * x @ v.transpose(-1, -2) - v.pow(2).sum(-1).unsqueeze(-2)
            c = _memberships(logits, K, 2 * e)
            weight = c.sum(-2).unsqueeze(-1)
            mean = (c.transpose(-1, -2) @ x) / weight.clamp_min(torch.finfo(x.dtype).tiny)
            v = torch.where(weight > 0, mean, v)
        else:
            c = _memberships(x @ _unit(v).transpose(-1, -2), K, e)
            v = c.transpose(-1, -2) @ x
    return v * p, c


# ----------------------------------------------------------------------------------------------
# dynamic routing
#
# û (u_hat) is by far the largest tensor, 94 MB at MNIST CapsNet shapes and batch 128, and routing
# is bandwidth-bound: what costs is how often û is read, written or copied. Every use of û is
# linear in it (the sums s_j = Σ_i c_ij û_ij and the agreements <û_ij, v_j>), hence:
#
# * each use reads û in place, in its own [B, n_in, n_out·d] layout, as one GEMM per sample
#   against a block-diagonal small matrix: n_out times the FLOPs of the products themselves, but
#   no transposed copy of û and no û-sized temporaries (at n_out ~ 10 the GEMM is not the limit);
# * autograd sees û only as a constant, so its backward reads û for the small gradients but never
#   writes a û-sized tensor; _Routing then forms dL/dû in ONE GEMM from the (small factor, small
#   gradient) pairs of all 2·iters − 1 uses, instead of one û-sized gradient per use plus sums;
# * the small [.., n_in, n_out] tensors are kept transposed, [B, n_out, n_in]: a softmax over a
#   last dimension of size 10 runs several times slower than one over the middle dimension.


def _block_diagonal(x: torch.Tensor) -> torch.Tensor:
    """``[B, n, p, q] -> [B, n·p, n·q]``, with ``x[:, j]`` as the j-th diagonal block."""
    B, n, p, q = x.shape
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    return (x.unsqueeze(3) * eye[:, None, :, None]).reshape(B, n * p, n * q)


def _weighted_sums(U: torch.Tensor, wT: torch.Tensor) -> torch.Tensor:
    """``s[b, j] = Σ_i wT[b, j, i] û[b, i, j]`` for ``U = û.view(B, n_in, n_out·d)``: ``[B, n_out, d]``."""
    B, n_out, _ = wT.shape
    # (wᵀU)[j, j'·d:(j'+1)·d] = Σ_i w_ij û_ij'; the sums we want are its diagonal blocks j = j'.
    # (d is spelled out: a -1 cannot be inferred from an empty batch.)
    return (wT @ U).view(B, n_out, n_out, U.shape[2] // n_out).diagonal(dim1=1, dim2=2).transpose(1, 2)


def _agreements(U: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``aT[b, j, i] = <û[b, i, j], x[b, j]>`` for ``x`` of shape ``[B, n_out, d]``: ``[B, n_out, n_in]``."""
    return _block_diagonal(x.unsqueeze(2)) @ U.transpose(1, 2)


def _route(U: torch.Tensor, n_out: int, iters: int, variant: str, K: float, squash_c: float):
    """The iterations on ``U = û.view(B, n_in, n_out·d)``; autograd, when enabled, tracks only
    small tensors. Returns ``v`` and û's uses: the couplings ``cT_r`` (``[B, n_out, n_in]``, the
    last one is the output's) with the sums ``s_r`` they weighted, and the vectors ``v_r`` with
    the agreements ``aT_r = <û, v_r>`` (``[B, n_out, n_in]``) they produced."""
    B, n_in, _ = U.shape
    cTs = [U.new_full((B, n_out, n_in), 1 / n_out)]  # softmax of zero logits
    # the first sum has uniform weights: a plain sum, made a leaf so that backward asks its gradient
    ss = [(U.sum(1) / n_out).view(B, n_out, U.shape[2] // n_out).requires_grad_(torch.is_grad_enabled())]
    vs, aTs = [], []
    logits = None  # the routing logits b: set at r = 0, accumulated after it (Sabour)
    for r in range(iters - 1):
        in_loop_squash = variant in ("sabour", "su4819")
        vs.append(squash(ss[-1], c=squash_c) if in_loop_squash else _unit(ss[-1]))
        aTs.append(_agreements(U, vs[-1]))
        if variant == "sabour" and r > 0:  # accumulate: one op, b + K·a
            logits = torch.add(logits, aTs[-1], alpha=K)
        else:
            logits = aTs[-1] if K == 1 else K * aTs[-1]
        cTs.append(torch.softmax(logits, dim=1))  # over output capsules
        ss.append(_weighted_sums(U, cTs[-1]))
    return squash(ss[-1], c=squash_c), cTs, ss, vs, aTs


class _Routing(torch.autograd.Function):
    """Routing whose backward writes the û-sized gradient once, as one GEMM:
    dL/dû_ij = Σ_r c_rij · dL/ds_rj + Σ_r dL/da_rij · v_rj (see the comment above)."""

    @staticmethod
    def forward(ctx, u_hat, iters, variant, K, squash_c, track):
        B, n_in, n_out, d = u_hat.shape
        # a view whenever the last two dims are contiguous together (so also the layer's einsum output)
        U = u_hat.detach().reshape(B, n_in, n_out * d)
        # The small graph is built here and kept for backward: rebuilding it there would read û
        # 2·iters − 1 more times. It is saved (not kept on ctx) so that autograd frees it after a
        # backward without retain_graph, as it frees any graph, even while v or c stay alive.
        with torch.set_grad_enabled(track):  # False under no_grad or for a constant u_hat
            v, cTs, ss, vs, aTs = _route(U, n_out, iters, variant, K, squash_c)
            c = cTs[-1].transpose(1, 2)
        if track:
            ctx.save_for_backward(v, c, *cTs, *ss, *vs, *aTs)
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not zeros
        return v.detach(), c.detach()

    @staticmethod
    def backward(ctx, grad_v, grad_c):
        if torch.is_grad_enabled():  # create_graph=True, but dL/dû below is formed outside autograd
            raise RuntimeError("dynamic_routing supports first derivatives only (got a backward "
                               "with create_graph=True); dynamic_routing_reference supports more")
        v, c, *saved = ctx.saved_tensors
        n = (len(saved) + 2) // 4  # iters: iters couplings and sums, iters − 1 vectors and agreements
        cTs, ss, vs, aTs = saved[:n], saved[n:2 * n], saved[2 * n:3 * n - 1], saved[3 * n - 1:]
        outs = [(t, g) for t, g in ((v, grad_v), (c, grad_c)) if g is not None and t.requires_grad]
        if not outs:  # only the couplings of iters = 1, which are constant
            return (None,) * 6
        # Autograd over small tensors only: it reads û for dL/dc_r and dL/dv_r, writes nothing big.
        # retain_graph: the small graph lives as long as the saved tensors, which autograd frees
        # or keeps as the caller's retain_graph says. The last sum is unused when only the
        # couplings feed the loss: its gradient is zero.
        grads = torch.autograd.grad([t for t, _ in outs], [*ss, *aTs], [g for _, g in outs],
                                    retain_graph=True, allow_unused=True, materialize_grads=True)
        B, n_in, n_out = c.shape
        AT = torch.stack([*cTs, *grads[n:]], dim=2)  # [B, n_out, R, n_in], R = 2·iters − 1
        G = torch.stack([*grads[:n], *vs], dim=2)  # [B, n_out, R, d]
        grad_u = AT.view(B, n_out * AT.shape[2], n_in).transpose(1, 2) @ _block_diagonal(G)  # [B, n_in, n_out·d]
        return (grad_u.view(B, n_in, n_out, G.shape[-1]),) + (None,) * 5


def _routing_args(u_hat, iters, variant, K, squash_c):
    """The checked arguments of both routings."""
    u_hat = _tensor(u_hat, "u_hat", 4, "[B, n_in, n_out, d]")
    if u_hat.shape[2] == 0 or u_hat.shape[3] == 0:
        raise ValueError(f"u_hat must have shape [B, n_in, n_out, d] with n_out >= 1 and d >= 1 (couplings "
                         f"are distributions over the outputs), got shape {tuple(u_hat.shape)}")
    return (u_hat, _positive_int(iters, "iters"), _choice(variant, "variant", VARIANTS),
            real(K, "K", positive=True), real(squash_c, "squash_c", positive=True))


def dynamic_routing(u_hat: torch.Tensor, iters: int = 3, variant: str = "su", K: float = 1.0,
                    squash_c: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Route prediction vectors to output capsules: a few steps of clustering per sample.

    ``u_hat[b, i, j]`` is lower capsule *i*'s prediction for upper capsule *j*. Logits start at 0,
    so the first couplings are uniform, :math:`c_{ij} = 1/n_{out}`. Each iteration sets
    :math:`c_{ij} = \operatorname{softmax}_j(b_{ij})` and :math:`s_j = \sum_i c_{ij}\hat u_{j|i}`;
    the variants differ in what they do with :math:`s_j`:

    * ``"sabour"`` (Sabour, Frosst and Hinton 2017): :math:`v_j = \operatorname{squash}(s_j)` in
      every iteration and the logits *accumulate*, :math:`b_{ij} \mathrel{+}= K\langle\hat u_{j|i},
      v_j\rangle`. After r steps the logits are about r times an agreement, so many iterations
      drive the couplings to one-hot.
    * ``"su"`` (kexue.fm/archives/5112): inside the loop :math:`s_j` is only L2-normalised and the
      logits are *replaced*, :math:`b_{ij} = K\langle\hat u_{j|i}, s_j/\|s_j\|\rangle`: soft
      K-Means with the normalised inner product, which settles at a fixed point. The squash is
      applied once, at the end.
    * ``"su4819"`` (Su's earlier routing, kexue.fm/archives/4819): logits replaced as in
      ``"su"``, but with the squash inside the loop as in ``"sabour"``,
      :math:`b_{ij} = K\langle\hat u_{j|i}, \operatorname{squash}(s_j)\rangle`. The in-loop
      squash makes the sharpness depend on the length of :math:`s_j`.

    Args:
        u_hat: predictions, shape ``[B, n_in, n_out, d]``, float.
        iters: routing iterations, >= 1 (``iters = 1`` is uniform couplings).
        variant: ``"su"``, ``"sabour"`` or ``"su4819"``.
        K: sharpness of the couplings, > 0. It can always be absorbed into ``u_hat``'s scale,
            which is why a learned transformation makes ``K = 1`` lose nothing.
        squash_c: the constant of the final :func:`squash` (Su's code uses 0.5).

    Returns:
        ``(v, c)``: output capsules ``[B, n_out, d]`` and the couplings of the last iteration
        ``[B, n_in, n_out]`` (each row a distribution over output capsules).

    Memory is linear in ``B``: ``u_hat`` is read in place (copied only if its last two dimensions
    are not contiguous together), the iterations keep ``[B, n_out, n_in]`` couplings and
    agreements, and the backward pass allocates one ``u_hat``-sized tensor, the gradient. Both
    outputs are differentiable once; a second derivative (a backward with
    ``create_graph=True``) raises a RuntimeError: use :func:`dynamic_routing_reference` there.

    An empty batch (``B = 0``) or no inputs (``n_in = 0``) is fine; ``n_out`` and ``d`` must be
    >= 1. The squash and the normalisation are safe at any length, but the sums
    :math:`\sum_i c_{ij}\hat u_{j|i}` and the agreements are formed in ``u_hat``'s dtype, as is
    ``K`` times an agreement: they overflow once ``u_hat``'s entries come within a factor of about
    ``n_in·d`` (or ``K·d``) of the dtype's largest value (float32: 3.4e38), and the outputs are
    NaN. Scaling ``u_hat`` down first would cost a copy of it, the largest tensor here.
    NaN or ±inf in ``u_hat`` propagates to the result; it is not checked, which would cost a
    device synchronisation.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    u_hat, iters, variant, K, squash_c = _routing_args(u_hat, iters, variant, K, squash_c)
    track = torch.is_grad_enabled() and u_hat.requires_grad
    return _Routing.apply(u_hat, iters, variant, K, squash_c, track)


def dynamic_routing_reference(u_hat: torch.Tensor, iters: int = 3, variant: str = "su",
                              K: float = 1.0, squash_c: float = 1.0):
    """The same routing written the obvious way, with broadcasting over ``[B, n_in, n_out, d]``.

    Kept as the readable definition and as the baseline of the routing benchmark; prefer
    :func:`dynamic_routing`, which gives the same result with batched matrix products. Its
    arguments, checks and limits are those of :func:`dynamic_routing`; unlike it, this one can
    be differentiated twice.
    NaN or ±inf in ``u_hat`` propagates to the result; it is not checked, which would cost a
    device synchronisation.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    u_hat, iters, variant, K, squash_c = _routing_args(u_hat, iters, variant, K, squash_c)
    b = torch.zeros(u_hat.shape[:3], dtype=u_hat.dtype, device=u_hat.device)
    for r in range(iters):
        c = torch.softmax(b, dim=2)
        s = (c.unsqueeze(-1) * u_hat).sum(1)
        if r == iters - 1:
            break
        in_loop_squash = variant in ("sabour", "su4819")
        v = squash(s, c=squash_c) if in_loop_squash else _unit(s)
        agreement = (u_hat * v.unsqueeze(1)).sum(-1)
        b = b + K * agreement if variant == "sabour" else K * agreement
    return squash(s, c=squash_c), c


# ----------------------------------------------------------------------------------------------
# the layer and the loss


class CapsuleLayer(nn.Module):
    r"""Lower capsules in, upper capsules out: a learned transformation, then dynamic routing.

    Predictions are :math:`\hat u_{j|i} = W_j u_i` with one matrix per output capsule shared by all
    inputs (``share_weights=True``, Su's default: ``n_in`` may vary, e.g. with the image size, and
    the output does not depend on the inputs' order), or :math:`W_{ji} u_i` with one matrix per
    (input, output) pair (``share_weights=False``, needs ``n_in``; Sabour et al.'s choice).

    Args:
        n_in: number of input capsules; required only when ``share_weights=False``.
        d_in: input capsule size.
        n_out: number of output capsules.
        d_out: output capsule size.
        routings: routing iterations (see :func:`dynamic_routing`).
        share_weights: one matrix per output capsule (True) or per (input, output) pair.
        variant: ``"su"``, ``"sabour"`` or ``"su4819"`` (see :func:`dynamic_routing`).
        squash_c: the constant of the final squash.

    Shapes: input ``[B, n_in, d_in]``, output ``[B, n_out, d_out]``; the output lengths, in
    [0, 1), act as class scores. The couplings of the last call are kept in ``self.couplings``.
    The input must have the dtype and device of the layer's weight (convert either with
    ``.to``). NaN or ±inf in the input propagates to the result; it is not checked, which would
    cost a device synchronisation.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """

    def __init__(self, n_in: int | None, d_in: int, n_out: int, d_out: int, routings: int = 3,
                 share_weights: bool = True, variant: str = "su", squash_c: float = 0.5):
        super().__init__()
        self.d_in = _positive_int(d_in, "d_in")
        self.n_out = _positive_int(n_out, "n_out")
        self.d_out = _positive_int(d_out, "d_out")
        self.routings = _positive_int(routings, "routings")
        self.variant = _choice(variant, "variant", VARIANTS)
        self.squash_c = real(squash_c, "squash_c", positive=True)
        self.share_weights = bool(share_weights)
        if self.share_weights:
            self.n_in = None if n_in is None else _positive_int(n_in, "n_in")
            shape = (self.d_in, self.n_out * self.d_out)
        else:
            if n_in is None:
                raise ValueError("n_in must be an integer >= 1 when share_weights=False, got None")
            self.n_in = _positive_int(n_in, "n_in")
            shape = (self.n_in, self.d_in, self.n_out * self.d_out)
        # Glorot-uniform, as in Keras, over the (d_in, n_out·d_out) fan of each matrix
        bound = math.sqrt(6.0 / (self.d_in + self.n_out * self.d_out))
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.couplings = None

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u = _tensor(u, "u", 3, f"[B, n_in, d_in={self.d_in}]")
        if u.shape[-1] != self.d_in or (self.n_in is not None and u.shape[1] != self.n_in):
            n_in = "n_in" if self.n_in is None else f"n_in={self.n_in}"
            raise ValueError(f"u must have shape [B, {n_in}, d_in={self.d_in}], got {tuple(u.shape)}")
        _same_kind(u, "u", self.weight, "the layer's weight")
        if self.share_weights:
            u_hat = u @ self.weight
        else:
            u_hat = torch.einsum("bid,ide->bie", u, self.weight)
        u_hat = u_hat.view(u.shape[0], u.shape[1], self.n_out, self.d_out)
        v, self.couplings = dynamic_routing(u_hat, self.routings, self.variant, squash_c=self.squash_c)
        return v

    def extra_repr(self) -> str:
        return (f"n_in={self.n_in}, d_in={self.d_in}, n_out={self.n_out}, d_out={self.d_out}, "
                f"routings={self.routings}, share_weights={self.share_weights}, "
                f"variant={self.variant!r}, squash_c={self.squash_c}")


def margin_loss(lengths: torch.Tensor, targets: torch.Tensor, m_pos: float = 0.9,
                m_neg: float = 0.1, lam: float = 0.5, reduction: str = "mean") -> torch.Tensor:
    r"""The capsule margin loss: each class is its own binary problem on a length in [0, 1].

    .. math:: L = \sum_j T_j \max(0, m^+ - \ell_j)^2 + \lambda (1 - T_j) \max(0, \ell_j - m^-)^2

    Sabour et al. use :math:`\lambda = 0.5`; Su's two-digit experiment uses 0.25.

    Args:
        lengths: scores in [0, 1] (capsule lengths or sigmoid outputs), shape ``[B, n_classes]``.
        targets: multi-hot labels in {0, 1} of the same shape, or class indices of shape ``[B]``,
            on the device of ``lengths``.
        m_pos, m_neg: margins, ``0 <= m_neg < m_pos <= 1``.
        lam: weight of the absent classes, a finite number >= 0.
        reduction: ``"none"`` (per sample, shape ``[B]``), ``"mean"`` or ``"sum"`` over the batch.

    The values of ``targets`` and the range of ``lengths`` are checked together, in one host
    synchronisation: a length below 0 or above 1 (a few ulps above 1 pass, as the norm of a
    unit vector may round up) raises a ValueError, since it is almost always a logit passed
    by mistake, on which the loss would be silently 0. NaN in ``lengths`` is not caught by
    that check and propagates to the loss.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    lengths = _tensor(lengths, "lengths", 2, "[B, n_classes]")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if targets.device != lengths.device:
        raise ValueError(f"targets must be on the device of lengths ({lengths.device}), got {targets.device}")
    n_classes = lengths.shape[1]
    indices = targets.dim() == 1 and not targets.is_floating_point()
    if indices:
        if targets.shape[0] != lengths.shape[0]:
            raise ValueError(f"targets of shape {tuple(targets.shape)} must have one class index per "
                             f"row of lengths {tuple(lengths.shape)}")
        bad_targets = (targets < 0) | (targets >= n_classes)
    elif targets.shape != lengths.shape:
        raise ValueError(f"targets must have the shape of lengths {tuple(lengths.shape)} (multi-hot) "
                         f"or be class indices of shape [{lengths.shape[0]}], got {tuple(targets.shape)}")
    else:
        bad_targets = (targets != 0) & (targets != 1)
    m_pos, m_neg = real(m_pos, "m_pos"), real(m_neg, "m_neg")
    if not 0 <= m_neg < m_pos <= 1:
        raise ValueError(f"margins must satisfy 0 <= m_neg < m_pos <= 1, got m_neg={m_neg}, m_pos={m_pos}")
    lam = real(lam, "lam", nonnegative=True)
    reduction = _reduction(reduction)
    top = 1 + 8 * torch.finfo(lengths.dtype).eps
    bad_lengths = (lengths < 0) | (lengths > top)  # False for NaN, which propagates
    bad_any = torch.stack([bad_lengths.any(), bad_targets.any()]).tolist()  # the one synchronisation
    if bad_any[0]:
        index = tuple(int(i) for i in bad_lengths.nonzero()[0])
        raise ValueError(f"lengths must lie in [0, 1] (capsule lengths or probabilities, not logits), "
                         f"got {lengths[index].item()} at index {index}")
    if bad_any[1]:
        if indices:
            raise ValueError(f"class indices in targets must lie in [0, {n_classes}), got values "
                             f"from {targets.min().item()} to {targets.max().item()}")
        index = tuple(int(i) for i in bad_targets.nonzero()[0])
        raise ValueError(f"multi-hot targets must hold only 0 and 1, got {targets[index].item()} at index {index}")
    t = F.one_hot(targets, n_classes) if indices else targets
    t = t.to(lengths.dtype)
    per_sample = (t * F.relu(m_pos - lengths).pow(2)
                  + lam * (1 - t) * F.relu(lengths - m_neg).pow(2)).sum(1)
    return _reduce(per_sample, reduction)


# ----------------------------------------------------------------------------------------------
# toy data and traces for the chapter's figures


def blobs(sizes: Sequence[int] = (60, 60, 60, 60), radius: float = 3.0, spread: float = 0.6,
          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D Gaussian clusters whose centres sit on a circle, as ``(points [n, 2], labels [n])``.

    Centres on a circle around the origin differ in *direction*, so both the Euclidean and the
    normalised-inner-product clustering can separate them.

    Args:
        sizes: a non-empty sequence of cluster sizes, each an integer >= 1.
        radius: distance of the centres from the origin, a finite number >= 0.
        spread: standard deviation of each coordinate around its centre, a finite number >= 0.
        seed: seed of the random points, an integer in [0, 2**63).

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    try:
        listed = [] if isinstance(sizes, (str, bytes)) else list(sizes)
    except TypeError:  # not iterable
        listed = []
    if not listed:
        raise TypeError(f"sizes must be a non-empty sequence of integers >= 1, got {sizes!r}")
    sizes = [_positive_int(n, f"sizes[{j}]") for j, n in enumerate(listed)]
    radius, spread = real(radius, "radius", nonnegative=True), real(spread, "spread", nonnegative=True)
    g = _generator(seed)
    angles = torch.arange(len(sizes), dtype=torch.float64) * (2 * math.pi / len(sizes)) + 0.3
    means = radius * torch.stack([angles.cos(), angles.sin()], 1)
    points = torch.cat([means[j] + spread * torch.randn(n, 2, generator=g, dtype=torch.float64)
                        for j, n in enumerate(sizes)])
    labels = torch.cat([torch.full((n,), j) for j, n in enumerate(sizes)])
    return points, labels


def routing_toy(n_in: int = 24, n_out: int = 4, d: int = 8, noise: float = 0.5,
                length: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic predictions ``u_hat [1, n_in, n_out, d]`` in which groups of inputs agree.

    Input capsule ``i`` has a true parent ``i % n_out``; its prediction for that parent is the
    parent's direction plus noise, its predictions for the other parents point in random directions.
    Every prediction has length ``length``, so only agreement can tell the parents apart (the
    length plays the role of the sharpness K, which a learned transformation sets).
    ``noise`` (a finite number >= 0) scales the Gaussian noise on the agreeing predictions and
    ``length`` (> 0) is their common length. Returns ``(u_hat, parents [n_in])``.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    n_in, n_out, d = (_positive_int(n_in, "n_in"), _positive_int(n_out, "n_out"), _positive_int(d, "d"))
    noise, length = real(noise, "noise", nonnegative=True), real(length, "length", positive=True)
    g = _generator(seed)
    parents = torch.arange(n_in) % n_out
    directions = F.normalize(torch.randn(n_out, d, generator=g, dtype=torch.float64), dim=-1)
    u_hat = F.normalize(torch.randn(n_in, n_out, d, generator=g, dtype=torch.float64), dim=-1)
    agreeing = F.normalize(directions[parents] + noise / math.sqrt(d)
                           * torch.randn(n_in, d, generator=g, dtype=torch.float64), dim=-1)
    u_hat[torch.arange(n_in), parents] = agreeing
    return length * u_hat.unsqueeze(0), parents


def routing_trace(u_hat: torch.Tensor, max_iters: int, variant: str = "su", K: float = 1.0,
                  squash_c: float = 1.0) -> dict[str, torch.Tensor]:
    """Run routing for 1..``max_iters`` iterations and record how the couplings evolve.

    Returns a dict of tensors indexed by iteration count ``r = 1..max_iters``: ``"couplings"``
    ``[max_iters, B, n_in, n_out]``, ``"entropy"`` (mean row entropy of the couplings, in nats;
    ``log n_out`` is uniform, 0 is one-hot), ``"max_coupling"`` (mean of each row's largest
    coupling) and ``"step"`` (largest ‖v^(r) − v^(r−1)‖ over the batch and the output capsules;
    ``step[0]`` is NaN, there is no previous iterate). The other arguments are those of
    :func:`dynamic_routing`; the means need ``B >= 1`` and ``n_in >= 1``.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    max_iters = _positive_int(max_iters, "max_iters")
    u_hat = _routing_args(u_hat, 1, variant, K, squash_c)[0]
    if u_hat.shape[0] == 0 or u_hat.shape[1] == 0:
        raise ValueError(f"u_hat must have B >= 1 and n_in >= 1 for routing_trace (its statistics are "
                         f"means over them), got shape {tuple(u_hat.shape)}")
    vs, cs = zip(*(dynamic_routing(u_hat, r, variant, K, squash_c) for r in range(1, max_iters + 1)))
    v, c = torch.stack(vs), torch.stack(cs)
    entropy = -(c * c.clamp_min(1e-300).log()).sum(-1).mean((1, 2))
    step = torch.full((max_iters,), float("nan"), dtype=v.dtype)
    step[1:] = (v[1:] - v[:-1]).norm(dim=-1).flatten(1).amax(1)
    return {"couplings": c, "entropy": entropy, "max_coupling": c.amax(-1).mean((1, 2)), "step": step}


def routing_loss(u_hat: torch.Tensor, v: torch.Tensor, K: float = 1.0) -> torch.Tensor:
    r"""The smoothed clustering loss that Su's routing decreases, at output directions ``v``.

    .. math:: L(v) = -\frac1K \sum_i \log \sum_j \exp\big(K \langle \hat u_{j|i},
              v_j/\|v_j\| \rangle\big)

    This is the log-sum-exp K-Means loss with the normalised inner product, each output seeing
    its own predictions :math:`\hat u_{j|i}`. Since :math:`\frac1K\log\sum_j e^{K a_j} =
    \max_c \sum_j c_j a_j + H(c)/K` over distributions ``c`` (attained at the softmax), Su's
    routing (``variant="su"`` with the same ``K``) is alternating maximisation of that objective
    over ``c`` and the unit directions, so ``L`` never increases from one iteration to the next.
    Only the directions of ``v`` matter; outputs of any variant can be passed.

    Args:
        u_hat: predictions ``[B, n_in, n_out, d]`` with ``n_out, d >= 1``; v: outputs
            ``[B, n_out, d]`` of ``u_hat``'s dtype and device; K: > 0.

    Returns:
        The loss of each sample, shape ``[B]``.

    NaN or ±inf in ``u_hat`` or ``v`` propagates to the result; it is not checked, which would
    cost a device synchronisation.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    u_hat = _routing_args(u_hat, 1, "su", K, 1.0)[0]
    v = _tensor(v, "v", 3, "[B, n_out, d]")
    if v.shape != (u_hat.shape[0],) + u_hat.shape[2:]:
        raise ValueError(f"v must have shape [B, n_out, d] = {(u_hat.shape[0],) + tuple(u_hat.shape[2:])}, "
                         f"got {tuple(v.shape)}")
    _same_kind(v, "v", u_hat, "u_hat")
    K = real(K, "K", positive=True)
    agreement = (u_hat * _unit(v).unsqueeze(1)).sum(-1)  # [B, n_in, n_out]
    # (1/K) log Σ_j exp(K a_j) = max a + (1/K) log Σ_j exp(K (a_j − max a)): no K·a to overflow.
    # A K beyond the dtype is clamped to its largest value: the term it scales is then <= log(n_out)/K.
    top = agreement.amax(-1, keepdim=True)
    K_t = min(K, torch.finfo(agreement.dtype).max)
    soft = top.squeeze(-1) + torch.logsumexp(K_t * (agreement - top), dim=-1) / K
    return -soft.sum(-1)


# ----------------------------------------------------------------------------------------------
# Su's two-digit experiment: train on single digits, test on two digits side by side


def two_digit_images(images: torch.Tensor, labels: torch.Tensor,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Put each image beside a randomly chosen partner with a *different* label.

    Args:
        images: ``[N, H, W]``; labels: ``[N]`` integer classes.
        seed: chooses the partners (one random permutation; pairs with equal labels are dropped,
            as in Su's test).

    Returns:
        ``(pairs [M, H, 2W], pair_labels [M, 2])`` with ``M <= N`` and the two labels different.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    images = _tensor(images, "images", 3, "[N, H, W]")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be a tensor of shape [{images.shape[0]}], got "
                         f"{getattr(labels, 'shape', type(labels).__name__)}")
    partner = torch.randperm(len(images), generator=_generator(seed))
    keep = labels != labels[partner]
    pairs = torch.cat([images[keep], images[partner[keep]]], dim=2)
    return pairs, torch.stack([labels[keep], labels[partner[keep]]], 1)


class DigitNet(nn.Module):
    """A small CNN trunk with one of two heads that score each class independently in [0, 1].

    The trunk (two 3×3 convolutions, 2×2 average pooling, two more 3×3 convolutions, all with
    ReLU and "same" padding) mirrors Su's, scaled to 8×8 digits. Heads:

    * ``"pool"``: global average pooling, a hidden layer and a sigmoid per class: the usual CNN.
    * ``"capsule"``: every position of the last feature map is a capsule of ``width·2``
      dimensions, routed by a shared-weight :class:`CapsuleLayer` to one 16-D capsule per class;
      the score is the capsule's length. Shared weights let the head take any image width.

    Input ``[B, H, W]`` (any ``H``, ``W`` divisible by 2), output ``[B, n_classes]``;
    ``width``, ``n_classes`` and ``routings`` are integers >= 1.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """

    def __init__(self, head: str = "capsule", width: int = 32, n_classes: int = 10,
                 routings: int = 3, variant: str = "su"):
        super().__init__()
        self.head = _choice(head, "head", ("pool", "capsule"))
        w = _positive_int(width, "width")
        n_classes = _positive_int(n_classes, "n_classes")
        # checked for both heads (the pool head ignores them), so a typo never passes silently
        _positive_int(routings, "routings")
        _choice(variant, "variant", VARIANTS)
        self.trunk = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU())
        if self.head == "pool":
            self.classifier = nn.Sequential(nn.Linear(2 * w, 128), nn.ReLU(), nn.Linear(128, n_classes))
        else:
            self.capsules = CapsuleLayer(None, 2 * w, n_classes, 16, routings, True, variant, 0.5)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.trunk(_tensor(images, "images", 3, "[B, H, W]").unsqueeze(1))
        if self.head == "pool":
            return torch.sigmoid(self.classifier(features.mean((2, 3))))
        u = features.flatten(2).transpose(1, 2)                  # [B, positions, channels]
        return self.capsules(u).norm(dim=-1)


def _model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def train_digit_net(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int = 30,
                    batch_size: int = 64, lr: float = 2e-3, lam: float = 0.25, seed: int = 0,
                    progress: bool = True) -> list[float]:
    """Train ``model`` on single digits as ten independent binary problems (Su's margin loss).

    Adam, mini-batches drawn with ``seed``; ``lam`` is the margin loss's weight of absent classes
    (0.25 in Su's experiment). Returns the mean training loss of each epoch.

    Args:
        model: a module mapping images ``[B, H, W]`` to scores in [0, 1], e.g. :class:`DigitNet`.
        images: ``[N, H, W]`` float, ``N >= 1``.
        labels: one entry per image: class indices ``[N]`` or multi-hot ``[N, n_classes]``.
        epochs, batch_size: integers >= 1.  lr: > 0.  lam: a finite number >= 0.
        seed: the mini-batch order, an integer in [0, 2**63).

    Reproducibility: the same seed, initial model and thread count give bit-identical results
    (losses and parameters). Across thread counts (``torch.set_num_threads``) they differ by
    rounding: the backward passes of the convolutions, and of the pooling head's linear layers,
    sum the weight and bias gradients over the batch (and the image positions), and torch's CPU
    kernels split those sums among the threads, so another thread count adds in another order.
    With :class:`DigitNet` in float32 on 256 digits the parameters differed by about 5e-8
    after 2 epochs and 6e-7 after 12, the epoch losses by up to 2e-8; such differences grow
    slowly as training goes on. The routing itself does not depend on the thread count.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    model = _model(model)
    images = _tensor(images, "images", 3, "[N, H, W]")
    if len(images) == 0:
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.dim() not in (1, 2) or len(labels) != len(images):
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a tensor with one entry per image, [N={len(images)}] class "
                         f"indices or [N={len(images)}, n_classes] multi-hot, got {got}")
    epochs, batch_size = _positive_int(epochs, "epochs"), _positive_int(batch_size, "batch_size")
    lr, lam = real(lr, "lr", positive=True), real(lam, "lam", nonnegative=True)
    g = _generator(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in trange(epochs, desc=f"training ({getattr(model, 'head', 'model')})", show=progress,
                    leave=False):
        order, total = torch.randperm(len(images), generator=g), 0.0
        for batch in order.split(batch_size):
            loss = margin_loss(model(images[batch]), labels[batch], lam=lam)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        history.append(total / len(images))
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Scores ``[N, n_classes]`` of ``model`` in evaluation mode, in batches of ``batch_size``
    (an integer >= 1) along the first dimension of the float tensor ``images``.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    model, images = _model(model), float_tensor(images, "images")
    if images.dim() == 0:
        raise ValueError("images must have a batch dimension, got a 0-d tensor")
    batch_size = _positive_int(batch_size, "batch_size")
    model.eval()
    return torch.cat([model(chunk) for chunk in images.split(batch_size)])  # N = 0: one empty chunk


def pair_accuracy(scores: torch.Tensor, pair_labels: torch.Tensor, threshold: float = 0.5) -> dict:
    """Su's two accuracies on two-digit images.

    ``"top2"``: the two highest scores are exactly the pair's two classes. ``"top2_confident"``:
    in addition, both of those scores exceed ``threshold``. Shapes: ``scores [M, n_classes]``
    with ``M >= 1`` and ``n_classes >= 2``, ``pair_labels [M, 2]``: integer classes in
    ``[0, n_classes)``, two different ones per row. ``threshold`` is a finite number.

    Scores may be ±inf (they still rank); NaN scores raise a ValueError, since they have no
    rank. Being an evaluation, not a training step, this function checks values and returns
    Python floats.

    Introduced in: Capsules as K-Means (kexue.fm/archives/5112).
    """
    scores = _tensor(scores, "scores", 2, "[M, n_classes]")
    M, n_classes = scores.shape
    if not isinstance(pair_labels, torch.Tensor) or pair_labels.shape != (M, 2):
        raise ValueError(f"pair_labels must have shape [{M}, 2], got "
                         f"{getattr(pair_labels, 'shape', type(pair_labels).__name__)}")
    if pair_labels.is_floating_point() or pair_labels.is_complex() or pair_labels.dtype == torch.bool:
        raise TypeError(f"pair_labels must hold integer classes, got dtype {pair_labels.dtype}")
    if M == 0:
        raise ValueError("scores must hold at least one pair (M >= 1): the accuracy of no pairs is 0/0, "
                         f"got shape {tuple(scores.shape)}")
    if n_classes < 2:
        raise ValueError(f"scores must have at least 2 classes (n_classes >= 2) for a top-2 accuracy, "
                         f"got shape {tuple(scores.shape)}")
    threshold = real(threshold, "threshold")
    pair_labels = pair_labels.to(scores.device)
    if bool(((pair_labels < 0) | (pair_labels >= n_classes)).any()):
        raise ValueError(f"pair_labels must lie in [0, {n_classes}), got values from "
                         f"{pair_labels.min().item()} to {pair_labels.max().item()}")
    if bool((pair_labels[:, 0] == pair_labels[:, 1]).any()):
        row = int((pair_labels[:, 0] == pair_labels[:, 1]).nonzero()[0])
        raise ValueError(f"pair_labels must hold two different classes per row, got "
                         f"{pair_labels[row].tolist()} in row {row}")
    nan = scores.isnan()
    if bool(nan.any()):
        index = tuple(int(i) for i in nan.nonzero()[0])
        raise ValueError(f"scores must not be NaN (NaN has no rank), got nan at index {index}")
    top, index = scores.topk(2, dim=1)
    hit = (index.sort(1).values == pair_labels.sort(1).values).all(1)
    confident = hit & (top > threshold).all(1)
    return {"top2": hit.double().mean().item(), "top2_confident": confident.double().mean().item()}
