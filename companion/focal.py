r"""Losses that stop, or fade, learning on samples the model already gets right: hard truncation,
its smoothed version and focal loss, binary (sigmoid) and multi-class (softmax), from logits.

Binary notation. A logit :math:`x` and a label :math:`y \in \{0, 1\}` give the *signed logit*
:math:`z = x` for :math:`y = 1` and :math:`z = -x` for :math:`y = 0`, the probability of the true
class :math:`p_t = \sigma(z)` and the cross entropy :math:`\mathrm{CE} = -\log p_t`. Each loss
here is :math:`w \cdot \mathrm{CE}` with a weight :math:`w` that shrinks on easy samples:

===============================  =====================================================================
hard truncation (threshold m)    :math:`w = \theta(\operatorname{logit} m - z)`: zero once :math:`p_t > m`
smoothed truncation (K, m)       :math:`w = \sigma\big(K(\operatorname{logit} m - z)\big)`
focal loss (:math:`\gamma`, α)   :math:`w = \alpha_t (1 - p_t)^\gamma`
===============================  =====================================================================

with :math:`\theta` the unit step (:math:`\theta(0) = 1/2`), :math:`\operatorname{logit} m =
\log\frac{m}{1-m}`, and :math:`\alpha_t = \alpha` for positives and :math:`1 - \alpha` for
negatives. As :math:`K \to \infty` the smoothed weight tends to the step; with :math:`K = 1` and
:math:`m = 1/2` it is :math:`\sigma(-z) = 1 - p_t`, the focal weight with :math:`\gamma = 1`.
FL* (the focal-loss paper's Appendix A) is :math:`-\log\sigma(\gamma z + \beta)/\gamma`.

Multi-class notation: logits :math:`x \in \mathbb{R}^C`, a target class :math:`t`,
:math:`p = \operatorname{softmax}(x)`. Hard truncation and focal loss keep their form with
:math:`p_t = p[t]`; the smoothed loss is the article's :math:`-\operatorname{softmax}(-Kx)_t \log p_t`,
which equals focal loss with :math:`\gamma = 1` at :math:`K = 1` only for two classes; FL* uses
the log-odds of the target class, :math:`z_t = \log p_t - \log(1 - p_t)`.

Everything is computed in log space (log-sigmoid, log-softmax, log-sum-exp), so losses and
gradients stay finite for logits of any finite size in float32. Binary focal loss has a fused
closed-form backward (:func:`focal_bce`), so it saves no tensors beyond its inputs.

Shapes follow PyTorch's losses: binary functions take ``logits`` and ``target`` of the same shape
(any), multi-class functions take ``logits [N, C, *]`` and class indices ``target [N, *]``;
``reduction`` is ``"none"`` (per-sample losses, the shape of ``target``), ``"mean"`` or ``"sum"``.
Losses are in nats (natural logarithms). ``validate=True`` checks the targets' values (and that
the logits are finite) at the cost of one device-to-host synchronisation; pass ``False`` inside a
hot, already-checked loop (or under ``torch.compile``, where the check would break the graph).
With ``validate=False``, NaN or ±inf in ``logits`` propagates to the result; it is not checked,
which would cost a device synchronisation.

The figures (:func:`~companion.figures.focal.plot_losses`, :func:`~companion.figures.focal.plot_imbalance`)
are in :mod:`companion.figures.focal`.

Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from companion import checks
from companion.checks import reduce as _reduce
from companion.checks import reduction as _reduction
from companion.figures import lazy

# The figures live in companion.figures.focal (they import matplotlib), loaded on first use.
__getattr__, __dir__ = lazy(__name__, ("plot_imbalance", "plot_losses"))

__all__ = [
    "hard_truncated_bce", "soft_truncated_bce", "focal_bce", "focal_star_bce",
    "hard_truncated_ce", "soft_truncated_ce", "focal_ce", "focal_star_ce",
    "imbalanced_moons", "mlp", "Fit", "fit", "epochs_to_reach", "epochs_to_stay", "SpeedRun",
    "learning_speed", "speed_table", "average_precision", "loss_share",
    "Calibration", "calibration", "pointwise_risk", "risk_minimiser",
    "imbalance_losses", "imbalance_experiment",
]


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------

def _real(value, name: str, accepted: str, ok) -> float:
    """``value`` as a float if it is a real number and ``ok(value)``; else a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {accepted}, got {name}={value!r} ({type(value).__name__})")
    v = float(value)
    if not (math.isfinite(v) and ok(v)):
        raise ValueError(f"{name} must be {accepted}, got {name}={value!r}")
    return v


def _gamma(gamma, strict: bool = False) -> float:
    if strict:  # FL* divides by gamma
        return _real(gamma, "gamma", "a finite number > 0", lambda v: v > 0)
    return _real(gamma, "gamma", "a finite number >= 0", lambda v: v >= 0)


def _K(K) -> float:
    return _real(K, "K", "a finite number > 0 (the steepness of the smoothed step)", lambda v: v > 0)


def _m(m) -> float:
    # m = 0.5 is the article's threshold; below it the loss would also drop misclassified
    # samples, and at m = 1 nothing is truncated (plain cross entropy).
    return _real(m, "m", "a threshold in [0.5, 1)", lambda v: 0.5 <= v < 1)


def _alpha(alpha) -> float | None:
    if alpha is None:
        return None
    return _real(alpha, "alpha", "a number in [0, 1] or None", lambda v: 0 <= v <= 1)


def _beta(beta) -> float:
    return _real(beta, "beta", "a finite number", lambda v: True)


def _logits(logits, validate: bool) -> torch.Tensor:
    logits = checks.float_tensor(logits, "logits")
    return checks.finite(logits, "logits") if validate else logits


def _binary_target(logits: torch.Tensor, target, validate: bool) -> torch.Tensor:
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor of 0/1 labels, got {type(target).__name__}")
    if target.shape != logits.shape:
        raise ValueError(f"target must have the shape of logits {tuple(logits.shape)}, got "
                         f"shape {tuple(target.shape)}")
    if target.device != logits.device:
        raise ValueError(f"target is on {target.device}, logits on {logits.device}; put them on "
                         f"the same device")
    if target.is_complex():
        raise TypeError(f"target must hold 0/1 labels, got dtype {target.dtype}")
    if validate and target.dtype != torch.bool and bool(((target != 0) & (target != 1)).any()):
        bad = target[(target != 0) & (target != 1)][0].item()
        raise ValueError(f"target must hold labels in {{0, 1}}, got a value {bad!r} (soft labels "
                         f"are not supported)")
    return target


def _class_target(logits: torch.Tensor, target, validate: bool) -> torch.Tensor:
    if logits.ndim < 2:
        raise ValueError(f"logits must have shape [N, C, *] (classes on dim 1), got shape "
                         f"{tuple(logits.shape)}")
    C = logits.shape[1]
    if C < 2:
        raise ValueError(f"logits must have at least 2 classes on dim 1, got shape {tuple(logits.shape)}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor of class indices, got {type(target).__name__}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"target must have shape {expected} for logits of shape "
                         f"{tuple(logits.shape)}, got shape {tuple(target.shape)}")
    if target.device != logits.device:
        raise ValueError(f"target is on {target.device}, logits on {logits.device}; put them on "
                         f"the same device")
    if validate and target.numel() and bool(((target < 0) | (target >= C)).any()):
        bad = target[(target < 0) | (target >= C)][0].item()
        raise ValueError(f"target must hold class indices in [0, {C - 1}] (C = {C}), got {bad}")
    return target.long()


def _class_alpha(alpha, logits: torch.Tensor) -> torch.Tensor | None:
    if alpha is None:
        return None
    C = logits.shape[1]
    if isinstance(alpha, numbers.Real) or (isinstance(alpha, torch.Tensor) and alpha.ndim == 0):
        raise TypeError(f"alpha for a multi-class loss must be None or {C} per-class weights in "
                        f"[0, 1], got the single number {alpha!r}")
    if not isinstance(alpha, (torch.Tensor, Sequence)) or isinstance(alpha, str):
        raise TypeError(f"alpha must be None or {C} per-class weights in [0, 1], got {alpha!r}")
    weights = torch.as_tensor(alpha, dtype=torch.float64).detach().cpu()
    if weights.shape != (C,):
        raise ValueError(f"alpha must have one weight per class ({C}), got shape {tuple(weights.shape)}")
    if not bool(((weights >= 0) & (weights <= 1)).all()):
        raise ValueError(f"alpha must hold weights in [0, 1], got {weights.tolist()}")
    return weights.to(device=logits.device, dtype=logits.dtype)


def _signed(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """z: the logit of the true class (x for positives, -x for negatives)."""
    return torch.where(_positive(target), logits, -logits)


def _step(a: torch.Tensor) -> torch.Tensor:
    """Unit step with theta(0) = 1/2, as a constant: no gradient flows through it."""
    return ((a > 0).to(a.dtype) + (a >= 0).to(a.dtype)) * 0.5


# ---------------------------------------------------------------------------------------------
# Binary (sigmoid) losses
# ---------------------------------------------------------------------------------------------

def hard_truncated_bce(logits: torch.Tensor, target: torch.Tensor, m: float = 0.5, *,
                       reduction: str = "mean", validate: bool = True) -> torch.Tensor:
    r"""Binary cross entropy that ignores samples already classified with confidence above ``m``.

    .. math:: L = -\theta(\operatorname{logit} m - z)\,\log\sigma(z),\qquad
              z = (2y - 1)\,x,

    so positives with :math:`\sigma(x) > m` and negatives with :math:`\sigma(x) < 1 - m` cost
    nothing and get an exactly zero gradient; at the threshold itself the step is 1/2.

    Args:
        logits: ``[*]`` real-valued scores (any floating dtype, any device).
        target: ``[*]`` labels in {0, 1} (bool, integer or floating dtype).
        m: threshold in [0.5, 1); 0.5 truncates every correctly classified sample.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        validate: check the labels and that the logits are finite (one host sync). With
            ``False``, NaN or ±inf in ``logits`` propagates to the result; it is not checked,
            which would cost a device synchronisation.

    Returns:
        Loss in nats: ``[*]`` for ``"none"``, else a scalar.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, m = _reduction(reduction), _m(m)
    logits = _logits(logits, validate)
    z = _signed(logits, _binary_target(logits, target, validate))
    weight = _step(math.log(m / (1 - m)) - z.detach())
    return _reduce(-weight * F.logsigmoid(z), reduction)


def soft_truncated_bce(logits: torch.Tensor, target: torch.Tensor, K: float = 1.0, m: float = 0.5,
                       *, reduction: str = "mean", validate: bool = True) -> torch.Tensor:
    r"""The article's smoothed truncation: the step of :func:`hard_truncated_bce` becomes a sigmoid.

    .. math:: L = -\sigma\big(K(\operatorname{logit} m - z)\big)\,\log\sigma(z),\qquad z = (2y - 1)\,x.

    ``K`` sets the steepness: :math:`K \to \infty` recovers hard truncation at ``m``, and
    ``K = 1, m = 0.5`` gives :math:`-(1 - p_t)\log p_t`, focal loss with :math:`\gamma = 1`.
    (The article smooths the threshold ``m = 0.5``; other ``m`` shift the sigmoid's centre to the
    logit :math:`\operatorname{logit} m`.)

    Args:
        logits: ``[*]`` real-valued scores.  target: ``[*]`` labels in {0, 1}.
        K: steepness > 0.  m: threshold in [0.5, 1).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Returns:
        Loss in nats: ``[*]`` for ``"none"``, else a scalar.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, K, m = _reduction(reduction), _K(K), _m(m)
    logits = _logits(logits, validate)
    z = _signed(logits, _binary_target(logits, target, validate))
    return _reduce(-torch.sigmoid(K * (math.log(m / (1 - m)) - z)) * F.logsigmoid(z), reduction)


def _positive(target: torch.Tensor) -> torch.Tensor:
    return target if target.dtype == torch.bool else target > 0.5


def _where_positive(target: torch.Tensor, pos: float, neg: float, dtype) -> torch.Tensor:
    return torch.where(_positive(target), torch.tensor(pos, dtype=dtype, device=target.device), neg)


def _focal_eager(logits, target, gamma, alpha, with_grad):
    """(FL, dFL/dx or None) elementwise, op by op and in place: at most three logit-sized
    buffers are alive at once.

    With q = 1 - p = sigmoid(-z), w = q^gamma and u = -log p: FL = w u, and the paper's
    dFL/dz = (1 - p)^gamma (gamma p log p + p - 1) = -(w q + gamma p FL).
    """
    z = _signed(logits, target)
    loss = F.logsigmoid(z).neg_()                                  # u = -log p
    q = z.neg_().sigmoid_()                                        # reuses z's buffer
    grad = None
    if gamma == 0:
        grad = q if with_grad else None                            # -dCE/dz = q
    else:
        w = q.pow(gamma)
        loss.mul_(w)
        if with_grad:
            grad = w.mul_(q).addcmul_(q.neg_().add_(1), loss, value=gamma)  # q -> p in place
        del w
    del z, q  # one buffer fewer alive while alpha is applied
    return _apply_alpha(loss, grad, target, alpha, logits.dtype)


def _focal_fused(logits, target, gamma, alpha, with_grad):
    """The same as :func:`_focal_eager` from one exp and one log1p per element, written out of
    place for a compiler, which fuses it into one pass (op by op it would be many). Labels
    enter through arithmetic only: a compiler would otherwise keep a boolean mask for the
    backward, and storing one is slower on CPU than the whole loss."""
    y = target.to(logits.dtype)
    sign = 2 * y - 1
    z = logits * sign
    a = z.abs()
    e = torch.exp(-a)
    right = z >= 0
    inv = 1 / (1 + e)
    q = torch.where(right, e, 1.0) * inv                           # sigmoid(-z)
    log1p_e = torch.log1p(e)
    loss = torch.where(right, 0.0, a) + log1p_e                    # -log p = softplus(-z)
    if gamma != 0:
        if gamma == int(gamma) and gamma <= 8:                      # multiplications, no exp
            w = q ** int(gamma)
        else:
            w = torch.exp(-gamma * (torch.where(right, a, 0.0) + log1p_e))
        loss = w * loss
    grad = None
    if with_grad:
        grad = q if gamma == 0 else w * q + gamma * (torch.where(right, 1.0, e) * inv) * loss
        grad = -sign * grad                                        # dz/dx = sign
    if alpha is not None:
        alpha_t = (1 - alpha) + (2 * alpha - 1) * y
        loss = loss * alpha_t
        grad = None if grad is None else grad * alpha_t
    return loss, grad


def _apply_alpha(loss, grad, target, alpha, dtype):
    """Weight by alpha_t, and turn -dFL/dz into dFL/dx (dz/dx = +1 for positives, -1 else)."""
    if alpha is not None:
        loss.mul_(_where_positive(target, alpha, 1.0 - alpha, dtype))
    if grad is not None:
        pos, neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
        grad.mul_(_where_positive(target, -pos, neg, dtype))
    return loss, grad


class _FocalBCE(torch.autograd.Function):
    """Elementwise binary focal loss with the closed-form gradient of the paper's Appendix B.

    The gradient is computed in the forward, from the same exponentials as the loss, and kept
    for the backward, which only scales it: one logit-sized buffer between the two passes, as
    in PyTorch's own compiled BCE. Eager mode works in place; under ``torch.compile`` one
    fused expression is cheaper. First-order only: a double backward raises.
    """

    @staticmethod
    def forward(ctx, logits, target, gamma, alpha):
        fn = _focal_fused if torch.compiler.is_compiling() else _focal_eager
        loss, grad = fn(logits, target, gamma, alpha, ctx.needs_input_grad[0])
        if grad is not None:
            ctx.save_for_backward(grad)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, upstream):
        (grad,) = ctx.saved_tensors
        return grad * upstream, None, None, None


def focal_bce(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
              alpha: float | None = None, *, reduction: str = "mean",
              validate: bool = True) -> torch.Tensor:
    r"""Binary focal loss (Lin et al. 2017) from logits.

    .. math:: \mathrm{FL} = -\alpha_t\,(1 - p_t)^\gamma \log p_t,\qquad p_t = \sigma(z),\quad
              z = (2y - 1)\,x,

    with :math:`\alpha_t = \alpha` for positives and :math:`1 - \alpha` for negatives (no
    weighting when ``alpha`` is None). :math:`\gamma = 0` (and ``alpha=None``) is binary cross
    entropy. The gradient is the paper's closed form,
    :math:`\partial\mathrm{FL}/\partial x = (2y-1)\,\alpha_t (1 - p_t)^\gamma (\gamma p_t \log p_t + p_t - 1)`,
    computed in log space in a fused backward that saves nothing but the inputs (first-order
    gradients only: no double backward). Same as ``torchvision.ops.sigmoid_focal_loss`` up to the
    convention for ``alpha=None``, but finite for logits of any size.

    Args:
        logits: ``[*]`` real-valued scores (any floating dtype, any device).
        target: ``[*]`` labels in {0, 1} (bool, integer or floating dtype).
        gamma: focusing parameter >= 0.  alpha: weight of the positive class in [0, 1], or None.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Returns:
        Loss in nats: ``[*]`` for ``"none"``, else a scalar.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, gamma, alpha = _reduction(reduction), _gamma(gamma), _alpha(alpha)
    logits = _logits(logits, validate)
    target = _binary_target(logits, target, validate)
    return _reduce(_FocalBCE.apply(logits, target, gamma, alpha), reduction)


def focal_star_bce(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                   beta: float = 1.0, *, reduction: str = "mean",
                   validate: bool = True) -> torch.Tensor:
    r"""FL*, the focal-loss paper's Appendix A variant: a rescaled and shifted cross entropy.

    .. math:: \mathrm{FL}^* = -\frac{\log\sigma(\gamma z + \beta)}{\gamma},\qquad z = (2y - 1)\,x,

    with gradient :math:`(2y - 1)(p^*_t - 1)`, :math:`p^*_t = \sigma(\gamma z + \beta)`.
    ``gamma=1, beta=0`` is binary cross entropy.

    Args:
        logits: ``[*]`` real-valued scores.  target: ``[*]`` labels in {0, 1}.
        gamma: > 0.  beta: any finite shift.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, gamma, beta = _reduction(reduction), _gamma(gamma, strict=True), _beta(beta)
    logits = _logits(logits, validate)
    z = _signed(logits, _binary_target(logits, target, validate))
    return _reduce(-F.logsigmoid(gamma * z + beta) / gamma, reduction)


# ---------------------------------------------------------------------------------------------
# Multi-class (softmax) losses
# ---------------------------------------------------------------------------------------------

def _log_p_and_q(logits: torch.Tensor, target: torch.Tensor):
    """log p_t and log(1 - p_t) of the softmax, each ``[N, *]``.

    log(1 - p_t) is the log-sum-exp of the *other* logits minus that of all of them: exact when
    p_t rounds to 1, where log(-expm1(log p_t)) would give -inf and a NaN gradient.
    """
    index = target.unsqueeze(1)
    lse = torch.logsumexp(logits, dim=1)
    log_p = logits.gather(1, index).squeeze(1) - lse
    others = logits.scatter(1, index, float("-inf"))
    log_q = torch.logsumexp(others, dim=1) - lse
    return log_p, log_q


def hard_truncated_ce(logits: torch.Tensor, target: torch.Tensor, m: float = 0.5, *,
                      reduction: str = "mean", validate: bool = True) -> torch.Tensor:
    r"""Cross entropy that ignores samples whose true class already has probability above ``m``.

    .. math:: L = -\theta(m - p_t)\,\log p_t,\qquad p_t = \operatorname{softmax}(x)_t,

    with :math:`\theta(0) = 1/2`; truncated samples get an exactly zero gradient.

    Args:
        logits: ``[N, C, *]`` (C >= 2).  target: ``[N, *]`` integer class indices in [0, C).
        m: threshold in [0.5, 1).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, m = _reduction(reduction), _m(m)
    logits = _logits(logits, validate)
    target = _class_target(logits, target, validate)
    log_p = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return _reduce(-_step(math.log(m) - log_p.detach()) * log_p, reduction)


def soft_truncated_ce(logits: torch.Tensor, target: torch.Tensor, K: float = 1.0, *,
                      reduction: str = "mean", validate: bool = True) -> torch.Tensor:
    r"""The article's multi-class smoothed loss.

    .. math:: L = -\operatorname{softmax}(-Kx)_t\,\log\operatorname{softmax}(x)_t.

    For two classes :math:`\operatorname{softmax}(-x)_t = 1 - p_t`, so ``K = 1`` is focal loss
    with :math:`\gamma = 1`; for three or more classes it is not, and as :math:`K \to \infty` the
    weight tends to 1 only where the target has the *smallest* logit, not where :math:`p_t < 1/2`.

    Args:
        logits: ``[N, C, *]`` (C >= 2).  target: ``[N, *]`` integer class indices in [0, C).
        K: steepness > 0.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, K = _reduction(reduction), _K(K)
    logits = _logits(logits, validate)
    index = _class_target(logits, target, validate).unsqueeze(1)
    weight = F.softmax(-K * logits, dim=1).gather(1, index).squeeze(1)
    log_p = F.log_softmax(logits, dim=1).gather(1, index).squeeze(1)
    return _reduce(-weight * log_p, reduction)


def focal_ce(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha=None, *,
             reduction: str = "mean", validate: bool = True) -> torch.Tensor:
    r"""Multi-class (softmax) focal loss.

    .. math:: \mathrm{FL} = -\alpha_t\,(1 - p_t)^\gamma \log p_t,\qquad p_t = \operatorname{softmax}(x)_t,

    with :math:`(1 - p_t)^\gamma = \exp(\gamma \log(1 - p_t))` and :math:`\log(1 - p_t)` from the
    log-sum-exp of the other classes. :math:`\gamma = 0` is ``F.cross_entropy``; with ``alpha`` it
    is ``F.cross_entropy(weight=alpha, reduction="none")`` per sample. ``"mean"`` is the plain mean
    over samples (as in torchvision), not cross_entropy's weight-normalised mean.

    Args:
        logits: ``[N, C, *]`` (C >= 2).  target: ``[N, *]`` integer class indices in [0, C).
        gamma: focusing parameter >= 0.
        alpha: None, or ``C`` per-class weights in [0, 1] (sequence or tensor).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, gamma = _reduction(reduction), _gamma(gamma)
    logits = _logits(logits, validate)
    target = _class_target(logits, target, validate)
    weights = _class_alpha(alpha, logits)
    log_p, log_q = _log_p_and_q(logits, target)
    loss = -log_p if gamma == 0 else -torch.exp(gamma * log_q) * log_p
    if weights is not None:
        loss = loss * weights[target]
    return _reduce(loss, reduction)


def focal_star_ce(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                  beta: float = 1.0, *, reduction: str = "mean",
                  validate: bool = True) -> torch.Tensor:
    r"""FL* for C classes, through the log-odds of the target class.

    .. math:: \mathrm{FL}^* = -\frac{\log\sigma(\gamma z_t + \beta)}{\gamma},\qquad
              z_t = \log p_t - \log(1 - p_t).

    The paper defines FL* for binary labels only; this is its one-vs-rest form. For two classes
    :math:`z_t` is the binary signed logit, so it equals :func:`focal_star_bce`;
    ``gamma=1, beta=0`` is cross entropy for any ``C`` (as :math:`\sigma(z_t) = p_t`).

    Args:
        logits: ``[N, C, *]`` (C >= 2).  target: ``[N, *]`` integer class indices in [0, C).
        gamma: > 0.  beta: any finite shift.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.  validate: see :func:`hard_truncated_bce`.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    reduction, gamma, beta = _reduction(reduction), _gamma(gamma, strict=True), _beta(beta)
    logits = _logits(logits, validate)
    log_p, log_q = _log_p_and_q(logits, _class_target(logits, target, validate))
    return _reduce(-F.logsigmoid(gamma * (log_p - log_q) + beta) / gamma, reduction)


# ---------------------------------------------------------------------------------------------
# Experiments of the chapter: data, a small trainer, metrics
# ---------------------------------------------------------------------------------------------

MAX_MOONS_POINTS = 10_000_000   # imbalanced_moons' bound on its output (about 80 MB of float32)


def _easy_negatives(n_pos: int, imbalance: float, name: str) -> int:
    """The number of easy negatives of :func:`imbalanced_moons`, within ``MAX_MOONS_POINTS``."""
    n_easy = n_pos * (imbalance - 1)          # a float: may be inf, which round() rejects
    if not 2 * n_pos + n_easy <= MAX_MOONS_POINTS:
        raise ValueError(f"{name} * (1 + imbalance) must be at most MAX_MOONS_POINTS = {MAX_MOONS_POINTS:,} "
                         f"points, got {name}={n_pos!r} and imbalance={imbalance!r} ({2 * n_pos + n_easy:,.0f} points)")
    return round(n_easy)


def imbalanced_moons(n_pos: int, imbalance: float, *, seed: int, noise: float = 0.15):
    r"""A 2-D binary problem with hard and easy negatives, ``imbalance`` negatives per positive.

    Positives lie on one half-moon, ``n_pos`` *hard* negatives on the interleaved other half-moon
    (both with Gaussian noise of standard deviation ``noise``), and the remaining
    :math:`(\text{imbalance} - 1)\,n_\text{pos}` *easy* negatives on a ring of radius 2.5 to 5
    around them, far from every positive.

    The output has at most ``MAX_MOONS_POINTS`` (10 million) points,
    :math:`n_\text{pos}(1 + \text{imbalance})` in all, so that a typo such as
    ``imbalance=1e9`` is an error, not an 8 GB allocation.

    Args:
        n_pos: positives, an integer >= 1.  imbalance: negatives per positive, a number >= 1.
        seed: an integer in [0, 2**63).  noise: a finite number >= 0.

    Returns:
        ``(X, y)``: float32 points ``[n, 2]`` and float32 labels ``[n]`` in {0, 1}
        (positives first, then hard, then easy negatives).

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    n_pos = checks.positive_int(n_pos, "n_pos")
    imbalance = _real(imbalance, "imbalance", "a number >= 1 (negatives per positive)", lambda v: v >= 1)
    noise = _real(noise, "noise", "a finite number >= 0", lambda v: v >= 0)
    n_easy = _easy_negatives(n_pos, imbalance, "n_pos")
    g = checks.generator(seed)

    def moon(n, upper):
        t = torch.rand(n, generator=g, dtype=torch.float64) * math.pi
        if upper:
            points = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        else:
            points = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
        return points + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)

    radius = 2.5 + 2.5 * torch.rand(n_easy, generator=g, dtype=torch.float64)
    angle = 2 * math.pi * torch.rand(n_easy, generator=g, dtype=torch.float64)
    easy = torch.stack([0.5 + radius * torch.cos(angle), 0.25 + radius * torch.sin(angle)], dim=1)
    X = torch.cat([moon(n_pos, True), moon(n_pos, False), easy]).float()
    y = torch.cat([torch.ones(n_pos), torch.zeros(n_pos + n_easy)])
    return X, y


def mlp(n_in: int, n_out: int, hidden=(16, 16), *, seed: int, prior: float | None = None):
    r"""A tanh multilayer perceptron (``hidden=()`` gives a linear model), seeded.

    ``n_in``, ``n_out`` and every width in ``hidden`` are integers >= 1; ``seed`` is an integer
    in [0, 2**63). ``prior`` (a probability in (0, 1)) sets the last bias to
    :math:`\log\frac{\pi}{1 - \pi}`, so that every sample starts at probability :math:`\pi` of
    being positive (the focal-loss paper's initialisation with :math:`\pi = 0.01`, which keeps
    the many easy negatives from swamping the first steps).

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    n_in, n_out = checks.positive_int(n_in, "n_in"), checks.positive_int(n_out, "n_out")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Iterable):
        raise TypeError(f"hidden must be a sequence of layer widths, got {hidden!r}")
    hidden = [checks.positive_int(h, f"hidden[{i}]") for i, h in enumerate(hidden)]
    seed = checks.seed(seed)
    if prior is not None:
        prior = _real(prior, "prior", "a probability in (0, 1)", lambda v: 0 < v < 1)
    sizes = [n_in, *hidden, n_out]
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's stream
        torch.manual_seed(seed)
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
        net = torch.nn.Sequential(*layers[:-1])
    if prior is not None:
        with torch.no_grad():
            net[-1].bias.fill_(math.log(prior / (1 - prior)))
    return net


@dataclass
class Fit:
    """A trained model and its training record, one entry per epoch.

    ``accuracy``: training accuracy after each epoch. ``forgotten``: training samples classified
    correctly after the previous epoch and wrongly after this one (0 for the first epoch).

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """

    model: torch.nn.Module
    accuracy: list
    forgotten: list


def fit(loss, X: torch.Tensor, y: torch.Tensor, *, model: torch.nn.Module, epochs: int,
        lr: float, seed: int, batch_size: int | None = None, optimizer: str = "adam") -> Fit:
    """Train ``model`` on ``(X, y)`` with ``loss(logits, y)`` (a scalar); deterministic given ``seed``.

    Binary labels (floating ``y``) use the model's single output column as the logit and
    accuracy at logit 0; class indices (integer ``y``) use argmax. ``batch_size=None`` is
    full-batch. ``optimizer`` is ``"adam"`` or ``"sgd"`` (plain, no momentum).

    Args:
        loss: a callable ``loss(logits, target)`` returning a scalar.
        X: finite inputs ``[N, ...]`` with N >= 1 (checked: they are data).  y: ``[N]`` labels.
        model: a ``torch.nn.Module``.  epochs: an integer >= 1.  lr: a finite number > 0.
        seed: an integer in [0, 2**63).  batch_size: None or an integer >= 1.

    Raises:
        RuntimeError: if an epoch ends with a loss that is not finite (the learning rate is too
        large for the problem, or the loss is not defined on the model's outputs); the check
        rides on the per-epoch accuracy synchronisation.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    if not callable(loss):
        raise TypeError(f"loss must be a callable loss(logits, target), got {type(loss).__name__}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, t in (("X", X), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"X must hold at least one sample (N >= 1 rows), got shape {tuple(X.shape)}")
    if y.ndim < 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one label per row of X (N = {X.shape[0]}), got shape {tuple(y.shape)}")
    epochs = checks.positive_int(epochs, "epochs")
    lr = checks.real(lr, "lr", positive=True)
    g = checks.generator(seed)
    if batch_size is not None:
        batch_size = checks.positive_int(batch_size, "batch_size")
    optimizer = checks.choice(optimizer, "optimizer", ("adam", "sgd"))
    if X.is_floating_point():
        checks.finite(X, "X")
    binary = y.is_floating_point()

    def logits_of(inputs):
        out = model(inputs)
        return out.squeeze(-1) if binary else out

    def correct():
        with torch.no_grad():
            z = logits_of(X)
            return (z > 0) == (y > 0.5) if binary else z.argmax(dim=1) == y

    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=lr)
    n = X.shape[0]
    accuracy, forgotten, before = [], [], None
    for epoch in range(1, epochs + 1):
        order = torch.arange(n) if batch_size is None else torch.randperm(n, generator=g)
        for idx in order.split(n if batch_size is None else batch_size):
            opt.zero_grad()
            value = loss(logits_of(X[idx]), y[idx])
            value.backward()
            opt.step()
        last = value.detach()
        if not math.isfinite(last.item()):
            raise RuntimeError(f"fit diverged: the loss is {last.item()} at the end of epoch {epoch}; "
                               f"lr={lr!r} may be too large for this problem")
        now = correct()
        accuracy.append(now.double().mean().item())
        forgotten.append(0 if before is None else int((before & ~now).sum()))
        before = now
    return Fit(model, accuracy, forgotten)


def epochs_to_reach(accuracy: Sequence[float], level: float) -> int | None:
    """The first epoch (counting from 1) whose accuracy is at least ``level``; None if none is.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    level = checks.real(level, "level")
    return next((i + 1 for i, a in enumerate(accuracy) if a >= level), None)


def epochs_to_stay(accuracy: Sequence[float], level: float) -> int | None:
    """The first epoch (counting from 1) after which the accuracy never again falls below
    ``level``; None if it is below ``level`` at the last epoch.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    level = checks.real(level, "level")
    below = [i for i, a in enumerate(accuracy) if a < level]
    if not below:
        return 1
    return below[-1] + 2 if below[-1] + 1 < len(accuracy) else None


@dataclass
class SpeedRun:
    """One training run of :func:`learning_speed`: its :class:`Fit` and its test accuracy."""

    fit: Fit
    test_accuracy: float


def learning_speed(losses: dict, data, make_model, *, seeds: int, epochs: int, lr: float,
                   batch_size: int = 32, progress: bool = True, desc: str = "losses") -> dict:
    """Train one model per loss and seed with plain minibatch SGD; returns
    ``{name: [SpeedRun per seed]}`` for :func:`speed_table`.

    ``losses``: ``{name: loss(logits, target)}``; ``data``: ``(X, y, X_test, y_test)`` with float
    0/1 ``y`` (one logit) or class indices (one logit per class); ``make_model(seed)`` builds a
    fresh model. Deterministic given the seeds ``0 .. seeds-1``.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    from companion.progress import tqdm

    seeds = checks.positive_int(seeds, "seeds")
    if not isinstance(losses, dict) or not losses:
        raise TypeError(f"losses must be a non-empty dict of name -> loss(logits, target), got {losses!r}")
    if not isinstance(data, Sequence) or len(data) != 4:
        raise TypeError(f"data must be a tuple (X, y, X_test, y_test), got {type(data).__name__}")
    X, y, X_test, y_test = data
    table = {}
    for name, loss in tqdm(losses.items(), desc=desc, show=progress):
        runs = []
        for seed in range(seeds):
            run = fit(loss, X, y, model=make_model(seed), epochs=epochs, lr=lr, seed=seed,
                      batch_size=batch_size, optimizer="sgd")
            with torch.no_grad():
                out = run.model(X_test)
                if y.is_floating_point():
                    right = (out.squeeze(-1) > 0) == (y_test > 0.5)
                else:
                    right = out.argmax(1) == y_test
            runs.append(SpeedRun(run, right.double().mean().item()))
        table[name] = runs
    return table


def speed_table(table: dict, levels: Sequence[float]) -> str:
    """The lines of :func:`learning_speed`'s table, at most 79 characters for the levels used
    in the chapter: per loss, the epochs to reach and to stay at each training-accuracy level
    (one number per seed, '-' for never), forgetting events (mean over seeds), final training
    and test accuracy (means).

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    lines = [f"{'':18s}" + "".join(f"{word:>9s}" for _ in levels for word in ("reach", "stay")),
             f"{'loss':18s}" + "".join(f"{level:>9.0%}" for level in levels for _ in range(2))
             + f"{'forget':>8s}{'train':>7s}{'test':>6s}"]
    for name, runs in table.items():
        cells = []
        for level in levels:
            for rule in (epochs_to_reach, epochs_to_stay):
                hits = [rule(r.fit.accuracy, level) for r in runs]
                cells.append(",".join("-" if h is None else str(h) for h in hits))
        forgotten = sum(sum(r.fit.forgotten) for r in runs) / len(runs)
        train = sum(r.fit.accuracy[-1] for r in runs) / len(runs)
        test = sum(r.test_accuracy for r in runs) / len(runs)
        lines.append(f"{name:18s}" + "".join(f"{c:>9s}" for c in cells)
                     + f"{forgotten:8.0f}{train:7.3f}{test:6.3f}")
    return "\n".join(lines)


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    r"""Average precision of ranking ``scores`` (higher = more positive) against 0/1 ``labels``:
    :math:`\sum_k (R_k - R_{k-1}) P_k` over the distinct score thresholds, as
    ``sklearn.metrics.average_precision_score`` computes it (tied scores form one threshold).

    ``scores``: a real tensor; NaN has no rank and is an error (as in scikit-learn), ±inf ranks
    first or last. ``labels``: a tensor of 0/1 (bool, integer or floating), as many as scores,
    with at least one positive.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    for name, t in (("scores", scores), ("labels", labels)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_complex():
            raise TypeError(f"{name} must be a real tensor, got dtype {t.dtype}")
    scores, labels = scores.detach().reshape(-1).double(), labels.detach().reshape(-1).double()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same number of entries, got "
                         f"{scores.numel()} and {labels.numel()}")
    nan = torch.isnan(scores)
    if bool(nan.any()):
        raise ValueError(f"scores must be numbers, not NaN (NaN has no rank), got nan at index "
                         f"{int(nan.nonzero()[0])}")
    bad = (labels != 0) & (labels != 1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(f"labels must be 0 or 1, got {labels[i].item()!r} at index {i}")
    n_pos = labels.sum()
    if n_pos == 0:
        raise ValueError("average precision needs at least one positive label")
    order = torch.argsort(scores, descending=True, stable=True)
    s, l = scores[order], labels[order]
    tp = torch.cumsum(l, 0)
    seen = torch.arange(1, len(l) + 1, dtype=torch.float64, device=l.device)
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]                 # the last sample of each group of tied scores
    tp, seen = tp[last], seen[last]
    recall = tp / n_pos
    precision = tp / seen
    steps = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((steps * precision).sum())


@dataclass
class Calibration:
    """Top-label calibration of a classifier's probabilities (see :func:`calibration`).

    ``ece``: expected calibration error; ``gap``: mean accuracy minus mean confidence (> 0:
    under-confident); ``*_se``: their bootstrap standard errors over the samples (``nan`` when
    no resampling was asked for). Per bin (``bins`` equal-width bins of the confidence on
    [0, 1]): ``confidence`` (mean, ``nan`` for an empty bin), ``accuracy`` (fraction correct,
    ``nan`` for an empty bin) and ``count``.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """

    ece: float
    ece_se: float
    gap: float
    gap_se: float
    confidence: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor


def _ece_and_gap(conf: torch.Tensor, right: torch.Tensor, bin_of: torch.Tensor, bins: int):
    """ECE and accuracy-minus-confidence for a batch of resamples: all inputs ``[R, N]``."""
    n = conf.shape[-1]
    shape = (conf.shape[0], bins)
    count = torch.zeros(shape, dtype=torch.float64).scatter_add_(1, bin_of, torch.ones_like(conf))
    conf_sum = torch.zeros(shape, dtype=torch.float64).scatter_add_(1, bin_of, conf)
    right_sum = torch.zeros(shape, dtype=torch.float64).scatter_add_(1, bin_of, right)
    ece = (conf_sum - right_sum).abs().sum(1) / n     # sum_b (n_b/N) |acc_b - conf_b|
    gap = (right_sum.sum(1) - conf_sum.sum(1)) / n
    return ece, gap, count, conf_sum, right_sum


def calibration(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15, *, n_boot: int = 0,
                seed: int = 0) -> Calibration:
    r"""How well a classifier's confidence matches its accuracy (top-label calibration).

    ``probs``: ``[N]`` probabilities of class 1 for 0/1 ``labels [N]``, or ``[N, C]`` class
    probabilities (rows summing to 1) for class indices ``labels [N]``. The confidence of a
    sample is the largest class probability, :math:`\max(p, 1 - p)` for two classes, and it is
    *right* when that class is its label. With :math:`B_b` the samples whose confidence falls in
    the ``b``-th of ``bins`` equal-width bins of [0, 1] (Guo et al. 2017 use 15),

    .. math:: \mathrm{ECE} = \sum_b \frac{|B_b|}{N}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|,

    and ``gap`` is the overall accuracy minus the mean confidence: positive for an
    under-confident model, negative for an over-confident one, 0 for a calibrated one. ``n_boot``
    resamples of the ``N`` samples (with replacement, seeded) give the standard errors. The
    binned ECE is biased upwards by sampling noise, by about :math:`\sqrt{\text{bins}/N}`.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    probs = checks.float_tensor(probs, "probs").detach().cpu().double()
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    labels = labels.detach().cpu().reshape(-1)
    bins = checks.positive_int(bins, "bins")
    n_boot = checks.integer(n_boot, "n_boot", minimum=0)
    seed = checks.seed(seed)     # checked even when no resampling uses it
    if probs.dim() not in (1, 2) or probs.shape[0] != labels.numel() or labels.numel() == 0:
        raise ValueError(f"probs must be [N] or [N, C] with N = len(labels) > 0, got probs of "
                         f"shape {tuple(probs.shape)} and {labels.numel()} labels")
    if not bool(((probs >= 0) & (probs <= 1)).all()):
        raise ValueError("probs must lie in [0, 1]")
    if probs.dim() == 1:
        if not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError("labels must be 0 or 1 when probs is [N]")
        conf = torch.maximum(probs, 1 - probs)
        right = ((probs > 0.5) == (labels > 0.5)).double()
    else:
        if labels.is_floating_point() or not bool(((labels >= 0) & (labels < probs.shape[1])).all()):
            raise ValueError(f"labels must be class indices in [0, {probs.shape[1]})")
        conf, pred = probs.max(dim=1)
        right = (pred == labels).double()
    bin_of = (conf * bins).long().clamp_(0, bins - 1)
    ece, gap, count, conf_sum, right_sum = _ece_and_gap(conf[None], right[None], bin_of[None], bins)
    ece_se = gap_se = math.nan
    if n_boot > 0:
        g = checks.generator(seed)
        idx = torch.randint(0, conf.numel(), (n_boot, conf.numel()), generator=g)
        b_ece, b_gap, *_ = _ece_and_gap(conf[idx], right[idx], bin_of[idx], bins)
        ece_se, gap_se = float(b_ece.std()), float(b_gap.std())
    count = count[0]
    with torch.no_grad():
        mean_conf = torch.where(count > 0, conf_sum[0] / count.clamp(min=1), math.nan)
        accuracy = torch.where(count > 0, right_sum[0] / count.clamp(min=1), math.nan)
    return Calibration(float(ece[0]), ece_se, float(gap[0]), gap_se, mean_conf, accuracy,
                       count.long())


def pointwise_risk(loss, logits: torch.Tensor, eta: float) -> torch.Tensor:
    r"""The expected loss at one input whose label is 1 with probability ``eta``:
    :math:`R(x) = \eta\,L(x, 1) + (1 - \eta)\,L(x, 0)`, for each logit in ``logits``.

    ``loss(logits, target)`` must return per-sample losses (``reduction="none"``). A model
    flexible enough to choose each input's logit freely minimises this at every input, so the
    minimiser is where training drives the logits when the classes overlap.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    eta = _real(eta, "eta", "a probability in [0, 1]", lambda v: 0 <= v <= 1)
    return eta * loss(logits, torch.ones_like(logits)) + (1 - eta) * loss(logits, torch.zeros_like(logits))


def risk_minimiser(loss, eta: float, *, bound: float = 30.0, steps: int = 120_001) -> float:
    r"""The logit :math:`x^*` in [-``bound``, ``bound``] that minimises :func:`pointwise_risk`;
    :math:`\sigma(x^*)` is the probability the loss teaches the model to predict where the
    true probability of class 1 is ``eta`` (cross entropy: :math:`\sigma(x^*) = \eta`).

    A grid of ``steps`` points in float64, refined by a golden-section search between the grid
    neighbours of the best point; for a risk whose infimum is approached but not attained (hard
    truncation, at its threshold) it returns a logit just on the better side of the threshold.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    bound = _real(bound, "bound", "a finite number > 0", lambda v: v > 0)
    steps = checks.integer(steps, "steps", minimum=3)
    with torch.no_grad():
        x = torch.linspace(-bound, bound, steps, dtype=torch.float64)
        risk = pointwise_risk(loss, x, eta)
        i = int(torch.argmin(risk))
        a, b = float(x[max(i - 1, 0)]), float(x[min(i + 1, steps - 1)])

        def r(v):
            return float(pointwise_risk(loss, torch.tensor([v], dtype=torch.float64), eta))

        ratio = (math.sqrt(5) - 1) / 2
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        for _ in range(80):
            if r(c) <= r(d):
                b, d = d, c
                c = b - ratio * (b - a)
            else:
                a, c = c, d
                d = a + ratio * (b - a)
        best = min((a, b, float(x[i])), key=r)
    return best


def loss_share(per_sample: torch.Tensor, mask: torch.Tensor) -> float:
    """Fraction of the total of ``per_sample`` losses carried by the samples where ``mask`` holds.

    ``per_sample``: finite, non-negative losses (a floating tensor; checked, since a NaN or a
    negative total has no share). ``mask``: a tensor of its shape, bool or 0/1 of any real
    dtype (an integer mask is a mask here, not an index). Returns 0.0 when every loss is 0.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    per_sample = checks.float_tensor(per_sample, "per_sample").detach().double()
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor of booleans or 0/1, got {type(mask).__name__}")
    if mask.shape != per_sample.shape:
        raise ValueError(f"mask must have the shape of per_sample {tuple(per_sample.shape)}, got "
                         f"shape {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_complex():
            raise TypeError(f"mask must hold booleans or 0/1, got dtype {mask.dtype}")
        bad = (mask != 0) & (mask != 1)
        if bool(bad.any()):
            raise ValueError(f"mask must hold booleans or 0/1, got {mask[bad][0].item()!r}")
        mask = mask != 0
    checks.finite(per_sample, "per_sample")
    negative = per_sample < 0
    if bool(negative.any()):
        index = tuple(int(i) for i in negative.nonzero()[0])
        raise ValueError(f"per_sample must be non-negative (losses), got {per_sample[index].item()!r} "
                         f"at index {index}")
    total = per_sample.sum()
    return float(per_sample[mask].sum() / total) if total > 0 else 0.0


def imbalance_losses() -> dict:
    """The losses compared on the imbalanced toy problem: name -> ``loss(logits, y)`` per sample.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    return {
        "CE": lambda x, y: focal_bce(x, y, 0.0, reduction="none"),
        "α-CE (α=.75)": lambda x, y: focal_bce(x, y, 0.0, 0.75, reduction="none"),
        "hard (m=.5)": lambda x, y: hard_truncated_bce(x, y, 0.5, reduction="none"),
        "smoothed (K=5)": lambda x, y: soft_truncated_bce(x, y, 5.0, reduction="none"),
        "FL (γ=2)": lambda x, y: focal_bce(x, y, 2.0, reduction="none"),
        "FL (γ=2, α=.25)": lambda x, y: focal_bce(x, y, 2.0, 0.25, reduction="none"),
    }


def imbalance_experiment(imbalance: float, *, seed: int = 0, n_pos: int = 50,
                         steps: int = 300, n_test_pos: int = 500) -> dict:
    """Train one small MLP per loss of :func:`imbalance_losses` on :func:`imbalanced_moons`
    (full-batch Adam, prior 0.01) and measure each on a fresh test set.

    Returns ``{name: {"ap": test AP of the positives, "easy_share": share of the model's own
    training loss carried by easy negatives (p < 0.1), "model": the model}}`` plus the data
    under ``"_data"`` (``(X_train, y_train, X_test, y_test)``).

    ``seed``: an integer in [0, 2**63) (the test set uses ``seed + 10_000``, modulo 2**63);
    ``n_pos``, ``n_test_pos``, ``steps``: integers >= 1.

    Introduced in: From hard truncation, through smoothing, to focal loss (kexue.fm/archives/4733).
    """
    seed = checks.seed(seed)
    n_pos, n_test_pos = checks.positive_int(n_pos, "n_pos"), checks.positive_int(n_test_pos, "n_test_pos")
    steps = checks.positive_int(steps, "steps")
    imbalance = _real(imbalance, "imbalance", "a number >= 1 (negatives per positive)", lambda v: v >= 1)
    _easy_negatives(n_test_pos, imbalance, "n_test_pos")    # before training, not after
    X, y = imbalanced_moons(n_pos, imbalance, seed=seed)
    X_test, y_test = imbalanced_moons(n_test_pos, imbalance, seed=(seed + 10_000) % 2**63)
    results = {"_data": (X, y, X_test, y_test)}
    for name, per_sample in imbalance_losses().items():
        model = mlp(2, 1, seed=seed, prior=0.01)
        fit(lambda z, t, per_sample=per_sample: per_sample(z, t).mean(), X, y, model=model, epochs=steps, lr=0.01,
            seed=seed)
        with torch.no_grad():
            z = model(X).squeeze(-1)
            easy = (y == 0) & (torch.sigmoid(z) < 0.1)
            results[name] = {
                "ap": average_precision(model(X_test).squeeze(-1), y_test),
                "easy_share": loss_share(per_sample(z, y), easy),
                "model": model,
            }
    return results
