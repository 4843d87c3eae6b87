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


# What a saved notebook may keep. JupyterLab adds run-time state on every save (outputs, counts,
# the kernel's language_info, widget state, per-cell timing and scroll flags); none of it is source.
NOTEBOOK_METADATA = ("jupytext", "kernelspec")


def normalise(nb):
    """The notebook as the repository stores it: outputs, counts and run-time metadata stripped,
    cell ids derived from the content (so re-saving unchanged cells changes nothing)."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in NOTEBOOK_METADATA}
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS
    seen: dict[str, int] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "scrolled", "collapsed", "jupyter", "editable", "deletable", "trusted"):
            if key == "jupyter" and cell.metadata.get("jupyter", {}).get("source_hidden"):
                continue  # a deliberate fold in the source, not run-time state
            cell.metadata.pop(key, None)
        digest = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    return nb


def sync_all(folder: Path) -> list[Path]:
    """Re-pair every notebook in ``folder``: the newer file of a pair wins, outputs are stripped.

    Returns the files written. JupyterLab with Jupytext saves both files of a pair on every save,
    so outputs appear in the ``.ipynb``; git's clean filter (set up by ``make``) hides them from
    ``git status`` and this removes them from the file.
    """
    import jupytext

    written = []
    for py, ipynb in _pairs(Path(folder)):
        sources = [p for p in (py, ipynb) if p.is_file()]
        newest = max(sources, key=lambda p: p.stat().st_mtime_ns)
        nb = normalise(jupytext.read(newest))
        jupytext.write(nb, py, fmt="py:percent")
        jupytext.write(nb, ipynb)
        written += [py, ipynb]
    return written


def strip_on_save(model, path, **kwargs):
    """Jupyter's pre-save hook (``make`` configures it for the .venv's server): a chapter's
    ``.ipynb`` twin is saved in its stored form, so running a chapter in JupyterLab and saving
    changes no tracked file, not even its size (git reports a file whose size changed as
    modified before any filter runs). Notebooks that are not a chapter's twin keep their outputs.
    """
    if model.get("type") != "notebook" or not str(path).endswith(".ipynb"):
        return
    formats = model["content"].get("metadata", {}).get("jupytext", {}).get("formats")
    if formats != FORMATS:
        return
    import nbformat

    model["content"] = normalise(nbformat.from_dict(model["content"]))


def clean(text: str) -> str:
    """git's clean filter for ``notebooks/*.ipynb``: the stored form of a saved notebook, so that
    running a chapter in JupyterLab leaves ``git status`` clean. Text that is not a notebook
    passes through unchanged (git must never lose a file to its filter)."""
    import jupytext

    try:
        nb = jupytext.reads(text, fmt="ipynb")
    except Exception:
        return text
    out = jupytext.writes(normalise(nb), fmt="ipynb")
    return out if out.endswith("\n") else out + "\n"  # as jupytext.write leaves the file


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--clean"]:
        raise SystemExit("usage: python -m booktools.pairing --clean < notebook.ipynb (git's clean filter)")
    sys.stdout.write(clean(sys.stdin.read()))
