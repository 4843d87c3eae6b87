"""The figure layer: one module per essay holding its ``plot_*`` functions.

These modules import matplotlib; the kernel modules (``companion.capsule``, ``companion.gillespie``,
...) do not. Each kernel module still offers its figures as attributes (``companion.capsule.plot_routing``
is ``companion.figures.capsule.plot_routing``), imported on first use through :func:`lazy`, so
``import companion.focal`` stays quick and a script that never draws never loads matplotlib.
Every ``plot_*`` draws in the book's style without changing the caller's ``rcParams``
(:func:`companion.style.styled`). Importing this package itself loads nothing heavy.
"""

import importlib
import sys


def lazy(module: str, names: tuple[str, ...]):
    """``(__getattr__, __dir__)`` for the kernel module named ``module`` (``companion.<idea>``):
    the attributes ``names`` come from ``companion.figures.<idea>``, imported when first asked for."""
    figures = f"{__name__}.{module.rsplit('.', 1)[-1]}"

    def __getattr__(name):
        if name in names:
            return getattr(importlib.import_module(figures), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[module])) | set(names))

    return __getattr__, __dir__
