"""Jupytext pairs: the check catches drift and outputs; the sync repairs both, idempotently."""

import os

import jupytext
import nbformat
import pytest

from companion import pairing


@pytest.fixture
def folder(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("print(1 + 1)", metadata={"tags": ["hide-input"]}),
    ])
    nb.metadata["jupytext"] = {"formats": pairing.FORMATS}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, tmp_path / "ch.py", fmt="py:percent")
    jupytext.write(nb, tmp_path / "ch.ipynb")
    return tmp_path


def touch_later(path):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_a_fresh_pair_is_in_sync(folder):
    pairing.check_all(folder)


def test_edited_source_is_out_of_sync(folder):
    py = folder / "ch.py"
    py.write_text(py.read_text().replace("1 + 1", "2 + 2"))
    with pytest.raises(pairing.PairingError, match=r"^ch\.py and ch\.ipynb are out of sync: .*make sync"):
        pairing.check_all(folder)


def test_changed_tags_are_out_of_sync(folder):
    py = folder / "ch.py"
    py.write_text(py.read_text().replace('tags=["hide-input"]', 'tags=["hide-output"]'))
    with pytest.raises(pairing.PairingError, match="out of sync"):
        pairing.check_all(folder)


def test_outputs_in_the_ipynb_are_refused(folder):
    nb = jupytext.read(folder / "ch.ipynb")
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.cells[1].execution_count = 1
    nbformat.write(nb, folder / "ch.ipynb")
    with pytest.raises(pairing.PairingError, match=r"^ch\.ipynb: cell 2 carries outputs"):
        pairing.check_all(folder)


def test_missing_twin_is_named(folder):
    (folder / "ch.ipynb").unlink()
    with pytest.raises(pairing.PairingError, match=r"^ch\.ipynb: missing twin of ch\.py"):
        pairing.check_all(folder)


def test_wrong_formats_metadata_is_named(folder):
    py = folder / "ch.py"
    py.write_text(py.read_text().replace("formats: ipynb,py:percent", "formats: ipynb,py:light"))
    with pytest.raises(pairing.PairingError, match=r"jupytext formats are 'ipynb,py:light'"):
        pairing.check_pair(py, folder / "ch.ipynb")


def test_sync_takes_the_newer_file_and_strips_outputs(folder):
    # An edit saved from JupyterLab: new cell source and outputs in the .ipynb, which is newer.
    nb = jupytext.read(folder / "ch.ipynb")
    nb.cells[1].source = "print(3 * 3)"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="9\n")]
    nb.cells[1].execution_count = 4
    nbformat.write(nb, folder / "ch.ipynb")
    touch_later(folder / "ch.ipynb")
    pairing.sync_all(folder)
    pairing.check_all(folder)
    assert "print(3 * 3)" in (folder / "ch.py").read_text()
    assert jupytext.read(folder / "ch.ipynb").cells[1].outputs == []


def test_sync_creates_a_missing_twin_and_is_idempotent(folder):
    (folder / "ch.ipynb").unlink()
    pairing.sync_all(folder)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    touch_later(folder / "ch.ipynb")
    pairing.sync_all(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first
    pairing.check_all(folder)
