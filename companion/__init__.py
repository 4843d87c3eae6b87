"""Companion package to *Six essays from kexue.fm, executable*.

Each chapter of the book imports its kernels from a module here named for its idea; the shared
pieces (figure style, slider demos, data, argument checks) live in their own small modules. The
book's build tooling is not part of this package (it lives in ``booktools/`` in the repository).
Importing ``companion`` needs only the core dependencies.
"""

import importlib
import os

__version__ = "0.1.0"

# Reachable as attributes after ``import companion`` (``companion.gillespie.ssa``), each imported
# on first use, so that importing the package stays cheap.
SUBMODULES = ("capsule", "checks", "data", "fgan", "figures", "focal", "gillespie", "nce", "progress",
              "style", "sweeps", "vib", "widgets")


def __getattr__(name):
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))

SMOKE_ENV = "COMPANION_SMOKE"
DISPLAY_ENV = "COMPANION_WIDGETS"
DISPLAY_MODES = ("live", "static")


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


def display_mode() -> str:
    """``"live"`` (ipywidgets, progress bars: JupyterLab) or ``"static"`` (the built book).

    Read from ``COMPANION_WIDGETS``, which the book build sets to ``static``; unset means live.
    """
    value = os.environ.get(DISPLAY_ENV, "").strip().lower()
    if value and value not in DISPLAY_MODES:
        raise ValueError(f"{DISPLAY_ENV}={value!r} is not understood; use one of {DISPLAY_MODES} (or unset)")
    return value or "live"
