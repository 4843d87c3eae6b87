"""Jupytext pairs: every chapter is a ``py:percent`` source with an ``.ipynb`` twin.

The ``.py`` file is what reviewers read in diffs; the ``.ipynb`` is what JupyterLab and download
buttons hand to readers. The twin carries no outputs (they would bloat every diff and go stale),
and both must hold the same cells. ``make sync`` re-pairs after an edit made in either file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FORMATS = "ipynb,py:percent"


class PairingError(ValueError):
    """A notebook pair is out of sync, incomplete, or its ``.ipynb`` carries outputs."""


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    stems = sorted({p.stem for p in Path(folder).iterdir() if p.suffix in (".py", ".ipynb")})
    return [(folder / f"{stem}.py", folder / f"{stem}.ipynb") for stem in stems]


def check_pair(py: Path, ipynb: Path) -> None:
    """Raise :class:`PairingError` (one line) unless the two files hold the same notebook."""
    import jupytext
    from jupytext.compare import NotebookDifference, compare_notebooks

    for path, other in ((py, ipynb), (ipynb, py)):
        if not path.is_file():
            raise PairingError(f"{path.name}: missing twin of {other.name} (run `make sync`)")
    text_nb = jupytext.read(py, fmt="py:percent")
    ipynb_nb = jupytext.read(ipynb)
    for index, cell in enumerate(ipynb_nb.cells, start=1):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            raise PairingError(f"{ipynb.name}: cell {index} carries outputs (run `make sync` to strip them)")
    formats = text_nb.metadata.get("jupytext", {}).get("formats")
    if formats != FORMATS:
        raise PairingError(f"{py.name}: jupytext formats are {formats!r}, expected {FORMATS!r}")
    try:
        compare_notebooks(ipynb_nb, text_nb, fmt="py:percent", allow_expected_differences=False)
    except NotebookDifference as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "cells differ"
        raise PairingError(f"{py.name} and {ipynb.name} are out of sync: {first} (run `make sync`)") from None


def check_all(folder: Path) -> None:
    """Check every pair in ``folder``."""
    for py, ipynb in _pairs(Path(folder)):
        check_pair(py, ipynb)


def sync_all(folder: Path) -> list[Path]:
    """Re-pair every notebook in ``folder``: the newer file of a pair wins, outputs are stripped.

    Returns the files written. JupyterLab with Jupytext saves both files of a pair on every save,
    so outputs appear in the ``.ipynb``; this removes them again.
    """
    import jupytext

    written = []
    for py, ipynb in _pairs(Path(folder)):
        sources = [p for p in (py, ipynb) if p.is_file()]
        newest = max(sources, key=lambda p: p.stat().st_mtime_ns)
        nb = jupytext.read(newest)
        nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS
        seen: dict[str, int] = {}
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
            # Ids derived from the content, so a re-sync of unchanged cells leaves the diff empty.
            digest = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
            seen[digest] = seen.get(digest, 0) + 1
            cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        jupytext.write(nb, py, fmt="py:percent")
        jupytext.write(nb, ipynb)
        written += [py, ipynb]
    return written
