"""Jupytext pairs: every chapter is a ``py:percent`` source with an ``.ipynb`` twin.

The ``.py`` file is what reviewers read in diffs; the ``.ipynb`` is what JupyterLab and download
buttons hand to readers. The twin carries no outputs (they would bloat every diff and go stale),
and both must hold the same cells. ``make sync`` re-pairs after an edit made in either file.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

FORMATS = "ipynb,py:percent"


class PairingError(ValueError):
    """A notebook pair is out of sync, incomplete, or its ``.ipynb`` carries outputs."""


def _pairs(folder: Path, stems=None) -> list[tuple[Path, Path]]:
    folder = Path(folder)
    if stems is None:
        stems = sorted({p.stem for p in folder.iterdir() if p.suffix in (".py", ".ipynb")})
    return [(folder / f"{stem}.py", folder / f"{stem}.ipynb") for stem in stems]


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def not_utf8(err: UnicodeDecodeError) -> str:
    """One line for a file that is not UTF-8 text (a Latin-1 or GBK editor, say)."""
    return (f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at position {err.start}); "
            "save it with UTF-8 encoding")


def read_notebook(path: Path):
    """Read one side of a pair (``.py`` as py:percent, ``.ipynb`` as JSON); anything unreadable
    is a :class:`PairingError` naming the file and what to do, never a traceback. A UTF-8
    byte-order mark is accepted."""
    import jupytext

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PairingError(f"{_label(path)}: {not_utf8(err)}") from None
    except OSError as err:
        raise PairingError(f"{_label(path)}: cannot be read ({err.strerror or err})") from None
    if path.suffix == ".py":
        try:
            return jupytext.reads(text, fmt="py:percent")
        except Exception as err:  # jupytext's own errors have no common base class
            raise PairingError(f"{_label(path)}: not a py:percent notebook ({_first_line(err)})") from None
    try:
        nb = jupytext.reads(text, fmt="ipynb")
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        return nb
    except Exception as err:
        why = ("it holds git merge-conflict markers" if "<<<<<<<" in text
               else f"not a valid notebook: {_first_line(err)}")
        raise PairingError(
            f"{_label(path)}: {why}; to rebuild it from its .py twin run "
            f"`python -m booktools sync --keep {_label(path.with_suffix('.py'))}`") from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def check_pair(py: Path, ipynb: Path, last: str | None = None) -> None:
    """Raise :class:`PairingError` (one line) unless the two files hold the same notebook.

    ``last``: the digest the last sync stored (see :func:`sync_all`), to say which side
    ``make sync`` will keep."""
    from jupytext.compare import NotebookDifference, compare_notebooks

    for path, other in ((py, ipynb), (ipynb, py)):
        if not path.is_file():
            raise PairingError(f"{path.name}: missing twin of {other.name} (run `make sync`)")
    text_nb = read_notebook(py)
    ipynb_nb = read_notebook(ipynb)
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
        try:
            _, winner = _decide(py, ipynb, last, None)
            advice = f"run `make sync`: it keeps {winner.name}, the side edited since the last sync"
        except PairingError:
            advice = ("both sides were edited since the last sync" if last is not None else
                      "no record of their last sync") + ": run `make sync` to see how to resolve it"
        raise PairingError(f"{py.name} and {ipynb.name} are out of sync: {first} ({advice})") from None


def check_all(folder: Path, stems=None, *, state_file: Path | None = None) -> None:
    """Check every pair in ``folder`` (or only those named by ``stems``)."""
    folder = Path(folder)
    state = _read_state(Path(state_file) if state_file else folder / SYNC_STATE)
    for py, ipynb in _pairs(folder, stems):
        check_pair(py, ipynb, state.get(f"{folder.name}/{py.stem}"))


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


# What the last sync stored for each pair: the hash of the notebook's stored form. It tells which
# side an author edited since then, whatever the files' timestamps say (git checkout, cp and
# editors all change those). Git-ignored, beside book.toml.
SYNC_STATE = ".sync-state.json"


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def stored_form(nb) -> str:
    """The notebook's content as ``make sync`` stores it, as text: equal for the two sides of a pair."""
    nb = normalise(copy.deepcopy(nb))
    nb.metadata.get("jupytext", {}).pop("text_representation", None)
    return jupytext_writes(nb, "py:percent")


def jupytext_writes(nb, fmt: str) -> str:
    import jupytext

    text = jupytext.writes(nb, fmt=fmt)
    return text if text.endswith("\n") else text + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _git_base(py: Path) -> str | None:
    """The stored form of the pair at git's HEAD (the last commit), when there is one."""
    import subprocess

    import jupytext

    try:
        shown = subprocess.run(["git", "show", f"HEAD:./{py.name}"], cwd=py.parent,
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if shown.returncode != 0:
        return None
    try:
        return stored_form(jupytext.reads(shown.stdout, fmt="py:percent"))
    except Exception:
        return None


def _attachments(nb) -> list[int]:
    return [i for i, cell in enumerate(nb.cells, start=1)
            if cell.cell_type == "markdown" and cell.get("attachments")]


def sync_pair(py: Path, ipynb: Path, last: str | None, keep: Path | None = None) -> tuple[list[Path], str]:
    """Re-pair one notebook; returns the files written and the digest to remember.

    The side edited since the last sync (``last``: the digest stored then; without one, the
    version in git's HEAD) wins; when both sides were edited nothing is written and
    :class:`PairingError` says how to resolve it, unless ``keep`` names the side to keep.
    Files whose content would not change are not rewritten.
    """
    return _write_pair(py, ipynb, _decide(py, ipynb, last, keep)[0])


def _write_pair(py: Path, ipynb: Path, nb) -> tuple[list[Path], str]:
    """Write the decided notebook ``nb`` to both sides (only where it changes a file)."""
    written = []
    for path, fmt in ((py, "py:percent"), (ipynb, "ipynb")):
        text = jupytext_writes(nb, fmt)
        if not path.is_file() or path.read_bytes() != text.encode():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written, _digest(stored_form(read_notebook(py)))


def _decide(py: Path, ipynb: Path, last: str | None, keep: Path | None):
    """The notebook ``sync`` will store for a pair, normalised, and the file it comes from
    (see :func:`sync_pair`)."""
    sides = {}
    for path in (py, ipynb):
        try:
            if path.is_file():
                sides[path] = read_notebook(path)
        except PairingError:
            if keep is None or path == keep:
                raise  # the side given up may be unreadable (a merge conflict, say)
    if not sides:
        raise PairingError(f"{_label(py)}: neither it nor {ipynb.name} exists")
    forms = {path: stored_form(nb) for path, nb in sides.items()}
    if keep is not None:
        winner = keep
    elif len(sides) == 1 or len(set(forms.values())) == 1:
        winner = next(iter(sides))
    else:
        base = last or (_digest(b) if (b := _git_base(py)) is not None else None)
        edited = [path for path in sides if _digest(forms[path]) != base]
        if len(edited) != 1:
            why = ("were both edited since the last sync" if base is not None else
                   "differ, and there is no record of their last sync (nor a version in git)")
            raise PairingError(
                f"{_label(py)} and {ipynb.name} {why}; nothing was changed. Copy the edits you "
                f"want into one of them, then keep that one: `python -m booktools sync --keep "
                f"{_label(py)}` (or --keep {_label(ipynb)})")
        winner = edited[0]
    if ipynb in sides and winner != ipynb and _attachments(sides[ipynb]) and keep is None:
        raise PairingError(
            f"{_label(ipynb)}: markdown cell {_attachments(sides[ipynb])[0]} holds a pasted "
            f"attachment (an image), which {py.name} cannot carry; save the image as a file in "
            f"notebooks/ and link it, or keep the .py's version with `--keep {_label(py)}`")
    nb = sides[winner]
    if winner == ipynb and _attachments(nb):
        raise PairingError(
            f"{_label(ipynb)}: markdown cell {_attachments(nb)[0]} holds a pasted attachment (an "
            f"image), which {py.name} cannot carry; save the image as a file in notebooks/ and "
            "link it (![alt](name.png)), then sync again")
    return normalise(nb), winner


def sync_all(folder: Path, stems=None, *, state_file: Path | None = None,
             keep: list[Path] | None = None) -> list[Path]:
    """Re-pair the notebooks of ``folder`` named by ``stems`` (default: every pair there).

    For each pair the side edited since the last sync wins (:func:`sync_pair`), outputs are
    stripped, and unchanged files keep their timestamps. Returns the files written. All pairs are
    checked before any is written: if one pair cannot be synced, nothing is.
    """
    folder = Path(folder)
    state_file = Path(state_file) if state_file else folder / SYNC_STATE
    state = _read_state(state_file)
    keep = {Path(k).resolve() for k in keep or ()}
    pairs = _pairs(folder, stems)
    unknown = keep - {p.resolve() for pair in pairs for p in pair}
    if unknown:
        raise PairingError(f"--keep: {', '.join(sorted(map(str, unknown)))} is not a notebook of the book")
    # First decide every pair (a refusal leaves all files as they are), then write.
    problems, decided = [], []
    for py, ipynb in pairs:
        chosen = next((p for p in (py, ipynb) if p.resolve() in keep), None)
        try:
            decided.append((py, ipynb, _decide(py, ipynb, state.get(f"{folder.name}/{py.stem}"), chosen)[0]))
        except PairingError as err:
            problems.append(str(err))
    if problems:
        raise PairingError(" | ".join(problems) if len(problems) > 1 else problems[0])
    written = []
    for py, ipynb, nb in decided:
        files, digest = _write_pair(py, ipynb, nb)
        written += files
        state[f"{folder.name}/{py.stem}"] = digest
    text = json.dumps(state, indent=1, sort_keys=True) + "\n"
    if not state_file.is_file() or state_file.read_text() != text:
        state_file.write_text(text)
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
