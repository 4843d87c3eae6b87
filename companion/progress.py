"""Progress bars for long loops: ``tqdm.auto`` in JupyterLab and terminals, none in the static book.

Used by the chapters' training loops and sweeps (first in: Capsules as K-Means).

The built book has no kernel, so a bar there can only show the build machine's timings, and
ipywidgets keeps even a finished ``leave=False`` bar as an empty box on the page. Bars are
therefore off when slider demos are static (``COMPANION_WIDGETS=static``, which the book build
sets) and when ``TQDM_DISABLE`` is set (which ``tqdm.notebook`` would otherwise ignore).
"""

import os

import companion


def enabled() -> bool:
    """False in the static book and under ``TQDM_DISABLE=1``; True otherwise."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes"):
        return False
    return companion.display_mode() == "live"


def tqdm(iterable=None, *, desc: str | None = None, show: bool = True, **kwargs):
    """``tqdm.auto.tqdm(iterable, desc=desc, **kwargs)``, disabled unless ``show`` and :func:`enabled`."""
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(iterable, desc=desc, disable=not (show and enabled()), **kwargs)


def trange(n: int, *, desc: str | None = None, show: bool = True, **kwargs):
    """``tqdm(range(n), ...)``: see :func:`tqdm`."""
    return tqdm(range(n), desc=desc, show=show, **kwargs)
