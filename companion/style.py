"""One figure style for every chapter, so that the book reads as one book.

Plot functions build figures with :func:`figure` instead of ``pyplot``: a ``Figure`` that is not
registered with pyplot is never shown twice by the inline backend and is freed with its last
reference, which matters when a slider demo renders dozens of frames.

The style never changes the caller's global ``matplotlib.rcParams``: :func:`figure` and every
``plot_*`` function (through :func:`styled`) apply it in a ``rc_context`` while the figure and
its artists are made, which is when lines, text and axes read it. A notebook that draws with
its own code after :func:`figure` calls :func:`use` once, as the book's chapters do.

Used by every chapter's figures (first in: Gillespie simulation).
"""

import functools
import io
import sys

import matplotlib
from matplotlib.figure import Figure

# A colour-blind-safe cycle (Okabe–Ito), shared by all chapters.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "mathtext.fontset": "cm",
}


def use() -> None:
    """Apply the book's style to matplotlib globally (also for pyplot users); the chapters call
    this once, so that the lines they draw themselves match the ``plot_*`` figures."""
    matplotlib.rcParams.update(STYLE)


def styled(plot):
    """Decorate a function that returns a ``Figure``: it runs in the book's style, and the
    caller's ``rcParams`` are as they were afterwards."""

    @functools.wraps(plot)
    def in_style(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    return in_style


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 3.6, **kwargs):
    """A styled ``(fig, axes)`` pair, like ``plt.subplots`` but outside pyplot's global state.

    ``width`` and ``height`` are in inches for the whole figure; extra keyword arguments go to
    ``Figure.subplots`` (``sharex``, ``squeeze``, ...).
    """
    if nrows < 1 or ncols < 1:
        raise ValueError(f"nrows and ncols must be >= 1, got nrows={nrows}, ncols={ncols}")
    _show_figures_in_ipython()
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _show_figures_in_ipython() -> None:
    """Let a bare ``Figure`` that ends a cell display as an image in IPython.

    pyplot's inline backend registers this formatter only once pyplot is imported, so without it
    a figure from :func:`figure` would print as ``<Figure size ...>``.
    """
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, _png)
