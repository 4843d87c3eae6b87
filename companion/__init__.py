"""Companion package to *Six essays from kexue.fm, executable*.

Each chapter of the book imports its kernels from a module here named for its idea; the shared
pieces (figure style, slider demos, the book builder) live in their own small modules. Importing
``companion`` needs only the core dependencies, never the book tooling.
"""

import os

__version__ = "0.1.0"

SMOKE_ENV = "COMPANION_SMOKE"


def is_smoke() -> bool:
    """True when the notebooks should run their small "smoke" configuration (tests, CI).

    Set by ``COMPANION_SMOKE=1`` in the environment; kernels inherit it from the process that
    starts them, so the book builder and the notebook tests switch every chapter at once.
    """
    value = os.environ.get(SMOKE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{SMOKE_ENV}={value!r} is not understood; use 1/true/yes or 0/false/no")


def budget(full, smoke):
    """Pick a size for the current run: ``full`` in the book and JupyterLab, ``smoke`` in tests.

    >>> n_samples = budget(full=100_000, smoke=500)
    """
    return smoke if is_smoke() else full
