"""Argument checks shared by the chapter modules, so that every kernel rejects bad input alike.

Each check returns the cleaned value or raises ``TypeError``/``ValueError`` with a message that
names the parameter, the value it got and what it accepts, e.g. ``iters must be an integer >= 1,
got 0``.

What is checked, in every module alike:

* **Parameters** (numbers, sizes, seeds, options, labels, counts, probabilities, shapes and
  dtypes) are always checked, with the wording above.
* **Values of model-side tensors** (logits, scores, critic outputs, capsule vectors, codes) are
  not: NaN and ±inf in them propagate to the result, as in ``torch.nn.functional``, so that a
  training step costs no device-to-host synchronisation. Such kernels say so in their
  docstrings. (The focal losses check them when ``validate=True``, their documented default.)
* **Unbounded work** stops at a documented bound (e.g. ``max_events`` in the Gillespie engine)
  with an error that names the bound and where it was reached.

Used by every chapter's module (first in: Capsules as K-Means).
"""

import math
import numbers
from collections.abc import Sequence

import torch

REDUCTIONS = ("none", "mean", "sum")


def real(value, name: str, *, positive: bool = False, nonnegative: bool = False,
         allow_inf: bool = False) -> float:
    """``value`` as a float: a real number, finite unless ``allow_inf``, and > 0 if ``positive``
    (>= 0 if ``nonnegative``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if (math.isnan(x) or (math.isinf(x) and not allow_inf) or (positive and not x > 0)
            or (nonnegative and not x >= 0)):
        accepted = "a number" if allow_inf else "a finite number"
        accepted += " > 0" if positive else " >= 0" if nonnegative else ""
        accepted += " (math.inf allowed)" if allow_inf else ""
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return x


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1; integer-valued floats such as ``1e4`` are accepted."""
    return integer(value, name, minimum=1)


def integer(value, name: str, *, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum``; integer-valued floats such as ``1e4`` are accepted."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value != int(value) or value < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def seed(value, name: str = "seed") -> int:
    """A seed for a random generator: an integer in [0, 2**63)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**63:
        raise ValueError(f"{name} must be an integer in [0, 2**63), got {value!r}")
    return int(value)


def torch_generator(value, name: str = "generator") -> torch.Generator | None:
    """``value`` if it is a ``torch.Generator`` or ``None``; an int is pointed to :func:`generator`."""
    if value is None or isinstance(value, torch.Generator):
        return value
    hint = " (for a seed use companion.checks.generator(seed))" if isinstance(value, numbers.Integral) else ""
    raise TypeError(f"{name} must be a torch.Generator or None, got {type(value).__name__}{hint}")


def finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` if every value is finite (one device synchronisation); else the first bad value."""
    bad = ~torch.isfinite(x)
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name} must be finite, got {x[index].item()} at index {index}")
    return x


def generator(value, device="cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``value`` (checked by :func:`seed`)."""
    return torch.Generator(device=device).manual_seed(seed(value))


def flag(value, name: str) -> bool:
    """``value`` if it is a bool: a string such as ``'no'`` is truthy, so only a bool says which
    way is meant."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def choice(value, name: str, options: Sequence):
    """``value`` if it is one of ``options``; the error lists them."""
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; known: {', '.join(map(repr, options))}")
    return value


def float_tensor(x, name: str, what: str = "a torch.Tensor") -> torch.Tensor:
    """``x`` if it is a floating-point tensor; ``what`` describes the expected tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def reduction(value) -> str:
    """``value`` if it is one of PyTorch's loss reductions: ``"none"``, ``"mean"`` or ``"sum"``."""
    if not isinstance(value, str) or value not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                         f"got reduction={value!r}")
    return value


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-sample ``loss`` reduced as PyTorch's losses do; the mean of an empty batch is an error."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if loss.numel() == 0:
        raise ValueError("reduction='mean' of an empty batch is undefined (0/0); use 'sum' or 'none'")
    return loss.mean()


_BLOCK = 1024
_GRAIN = 32768  # torch's parallel grain: a full reduction of fewer elements runs on one thread


def sum_last(t: torch.Tensor) -> torch.Tensor:
    """``t.sum(-1)``, added in an order that does not depend on the number of threads.

    torch splits a reduction to a single number of 32768 or more elements between threads, and
    the partial sums then round differently on 1 and on 16 threads. Summing blocks of 1024 first
    leaves only reductions that run whole on one thread (blocks are shared out one per thread)."""
    while t.shape[-1] >= _GRAIN:
        t = torch.nn.functional.pad(t, (0, -t.shape[-1] % _BLOCK)).unflatten(-1, (-1, _BLOCK)).sum(-1)
    return t.sum(-1)
