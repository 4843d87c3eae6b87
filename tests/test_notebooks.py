"""Every chapter runs top to bottom in a fresh kernel, in smoke mode, with no error output,
and gives the same numbers when run again."""

import functools
import os
import tempfile
from pathlib import Path

import jupytext
import pytest
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient

from booktools.book import load_book
from conftest import run_in_fresh_loop

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = load_book(ROOT).chapters


@functools.cache
def _execute(notebook: str, run: int):
    """Execute ``notebook`` (run number ``run`` keeps separate runs apart in the cache)."""
    nb = jupytext.read(ROOT / notebook)
    # A fresh kernel per run, with cwd = notebooks/ as in JupyterLab. Sliders stay in live mode
    # here (ipywidgets calls the demo once with its defaults); the book build covers static mode.
    # IPC sockets rather than TCP ports: no race for free ports with other kernels started at the
    # same moment (a lost race leaves the client waiting for a kernel that never answers). The
    # socket path is absolute because the kernel runs in notebooks/ and the client elsewhere.
    with tempfile.TemporaryDirectory(prefix="kernel-ipc-") as sockets:
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "k"))
        client = NotebookClient(nb, km=km, timeout=300, startup_timeout=120,
                                resources={"metadata": {"path": str((ROOT / notebook).parent)}})
        # nbclient leaves a kernel it did not create running, with its client's sockets open;
        # leaked clients of earlier runs were the likely cause of a run stalling for exactly one
        # cell timeout. Shut the kernel down and close the client on the loop that made them.
        run_in_fresh_loop(client.async_execute(cleanup_kc=True))
        assert not km.has_kernel, f"the kernel that ran {notebook} is still running"
    return nb


@pytest.fixture(autouse=True)
def smoke_env(monkeypatch):
    monkeypatch.setenv("COMPANION_SMOKE", "1")
    monkeypatch.delenv("COMPANION_WIDGETS", raising=False)


def _text_outputs(nb):
    """What a reader would call "the numbers": printed text and plain-text results, per cell.

    A cell's printed text is compared as one string: the kernel may flush stdout in several
    pieces around a progress bar or a figure, and where it splits is timing, not content.
    """
    texts = []
    for cell in nb.cells:
        if "timing" in cell.metadata.get("tags", []):  # wall-clock measurements differ by design
            continue
        printed, results = [], []
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout":
                printed.append(out.text)
            elif out.output_type in ("execute_result", "display_data") and "text/plain" in out.data:
                if "application/vnd.jupyter.widget-view+json" not in out.data:  # widget ids are random
                    results.append(out.data["text/plain"])
        if printed or results:
            texts.append(("".join(printed), results))
    return texts


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[Path(c.notebook).stem for c in CHAPTERS])
def test_chapter_runs_without_error_output(chapter):
    nb = _execute(chapter.notebook, 1)
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            where = f"{chapter.notebook}, cell {index}"
            assert out.output_type != "error", f"{where}: {out.ename}: {out.evalue}"
            if out.output_type == "stream":
                assert out.name != "stderr", f"{where} wrote to stderr:\n{out.text}"
            data = out.get("data", {})
            if data.get("text/plain", "").startswith("<Figure size"):
                assert "image/png" in data, f"{where}: a figure printed as text, not shown as an image"
    assert any(cell.get("outputs") for cell in nb.cells), "the chapter produced no output at all"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[Path(c.notebook).stem for c in CHAPTERS])
def test_chapter_gives_the_same_numbers_twice(chapter):
    first, second = _execute(chapter.notebook, 1), _execute(chapter.notebook, 2)
    assert _text_outputs(first), "no printed numbers to compare"
    assert _text_outputs(first) == _text_outputs(second)
