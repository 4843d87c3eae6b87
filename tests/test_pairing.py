"""Jupytext pairs: the check catches drift and outputs; the sync repairs both, idempotently."""

import os

import jupytext
import nbformat
import pytest

from booktools import pairing


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


def test_sync_takes_the_edited_file_and_strips_outputs(folder):
    pairing.sync_all(folder)  # records the pair as synced
    # An edit saved from JupyterLab: new cell source and outputs in the .ipynb. The .py was
    # touched later (a checkout, a copy): timestamps do not decide, content does.
    nb = jupytext.read(folder / "ch.ipynb")
    nb.cells[1].source = "print(3 * 3)"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="9\n")]
    nb.cells[1].execution_count = 4
    nbformat.write(nb, folder / "ch.ipynb")
    touch_later(folder / "ch.py")
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


def test_clean_filter_gives_back_the_stored_notebook_after_a_run(folder):
    """What JupyterLab saves after running a chapter (outputs, counts, language_info, timing
    metadata) cleans back to the bytes `make sync` stores: git status stays clean."""
    pairing.sync_all(folder)
    stored = (folder / "ch.ipynb").read_text()
    nb = nbformat.read(folder / "ch.ipynb", as_version=4)
    code = nb.cells[1]
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    code.execution_count = 3
    code.metadata["execution"] = {"iopub.status.busy": "2026-12-04T10:00:00Z"}
    code.metadata["scrolled"] = True
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    ran = nbformat.writes(nb)
    assert ran != stored
    assert pairing.clean(ran) == stored
    assert "hide-input" in pairing.clean(ran)  # source metadata stays


def test_clean_filter_never_loses_a_file_that_is_not_a_notebook():
    for text in ["", "not json", '{"cells": "broken"', "<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> x\n"]:
        assert pairing.clean(text) == text


def test_clean_filter_runs_as_git_runs_it(folder):
    import subprocess
    import sys
    from pathlib import Path

    pairing.sync_all(folder)
    stored = (folder / "ch.ipynb").read_text()
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "booktools.pairing", "--clean"], input=stored,
                            capture_output=True, text=True, cwd=root, check=True)
    assert result.stdout == stored


def test_notebook_twins_go_through_the_clean_filter_and_make_configures_it():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    attr = subprocess.run(["git", "check-attr", "filter", "notebooks/vib.ipynb"], cwd=root,
                          capture_output=True, text=True, check=True).stdout
    assert attr.strip().endswith("filter: notebook"), attr
    assert "$(PY) -m booktools.lab" in (root / "Makefile").read_text()
    configured = subprocess.run(["git", "config", "filter.notebook.clean"], cwd=root,
                                capture_output=True, text=True).stdout
    assert configured.strip().endswith("-m booktools.pairing --clean"), (
        f"git's notebook filter is {configured!r}: run make (or python -m booktools.lab)")


def test_pre_save_hook_stores_a_chapter_twin_as_make_sync_does(folder):
    pairing.sync_all(folder)
    stored = nbformat.read(folder / "ch.ipynb", as_version=4)
    ran = nbformat.read(folder / "ch.ipynb", as_version=4)
    ran.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    ran.cells[1].execution_count = 1
    ran.metadata["language_info"] = {"name": "python"}
    model = {"type": "notebook", "content": ran}
    pairing.strip_on_save(model, "notebooks/ch.ipynb", contents_manager=None)
    assert nbformat.writes(model["content"]) == nbformat.writes(stored)


def test_pre_save_hook_leaves_other_files_alone():
    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=1)])
    scratch.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"})]
    model = {"type": "notebook", "content": scratch}
    pairing.strip_on_save(model, "notebooks/scratch.ipynb")
    assert model["content"].cells[0].outputs  # not a chapter twin: the reader's outputs stay
    text = {"type": "file", "format": "text", "content": "print(1)\n"}
    pairing.strip_on_save(text, "notebooks/ch.py")
    assert text["content"] == "print(1)\n"


def test_lab_setup_writes_into_the_environment_only(tmp_path):
    import json

    from booktools import lab

    prefix, root = tmp_path / "env", tmp_path / "clone"
    root.mkdir()
    config = prefix / "etc/jupyter/jupyter_server_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"ServerApp": {"allow_root": True}}))
    lab.setup(prefix=prefix, root=root)
    server = json.loads(config.read_text())
    assert server["ServerApp"] == {"allow_root": True}  # kept
    assert server["ContentsManager"]["pre_save_hook"] == "booktools.pairing.strip_on_save"
    overrides = json.loads((prefix / "share/jupyter/lab/settings/overrides.json").read_text())
    assert overrides == lab.VIEWERS
    assert [p.read_text() for p in prefix.rglob("kexue-booktools.pth")] == [f"{root}\n"]


# ------------------------------------------------------------------ sync never loses an edit

def _edit_py(folder, old="print(1 + 1)", new="print(5 + 5)"):
    py = folder / "ch.py"
    py.write_text(py.read_text().replace(old, new))


def _edit_ipynb_markdown(folder, text="# A new title"):
    nb = jupytext.read(folder / "ch.ipynb")
    nb.cells[0].source = text
    nbformat.write(nb, folder / "ch.ipynb")


def _contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".py", ".ipynb")}


def test_sync_refuses_when_both_sides_were_edited_and_changes_nothing(folder):
    pairing.sync_all(folder)
    _edit_py(folder)
    _edit_ipynb_markdown(folder)
    before = _contents(folder)
    with pytest.raises(pairing.PairingError, match=r"ch\.py and ch\.ipynb were both edited since the last "
                                                   r"sync; nothing was changed\. .*--keep .*ch\.py"):
        pairing.sync_all(folder)
    assert _contents(folder) == before
    # The author resolves it by naming the side to keep.
    pairing.sync_all(folder, keep=[folder / "ch.py"])
    assert "print(5 + 5)" in (folder / "ch.ipynb").read_text()
    pairing.check_all(folder)


def test_sync_keeps_the_edited_side_whatever_the_timestamps(folder):
    pairing.sync_all(folder)
    _edit_py(folder)
    touch_later(folder / "ch.ipynb")  # a checkout or a copy made the stale side newer
    pairing.sync_all(folder)
    assert "print(5 + 5)" in (folder / "ch.py").read_text()
    assert "print(5 + 5)" in (folder / "ch.ipynb").read_text()


def test_sync_leaves_a_pair_in_sync_untouched(folder):
    pairing.sync_all(folder)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert pairing.sync_all(folder) == []
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps


def test_sync_without_a_record_takes_the_side_that_differs_from_git_head(folder):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "ch.py", "ch.ipynb")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "pair")
    _edit_py(folder)
    touch_later(folder / "ch.ipynb")
    pairing.sync_all(folder)  # no .sync-state.json yet: git's HEAD is the base
    assert "print(5 + 5)" in (folder / "ch.ipynb").read_text()


def test_sync_without_any_record_refuses_a_pair_that_differs(folder):
    _edit_py(folder)
    before = _contents(folder)
    with pytest.raises(pairing.PairingError, match=r"no record of their last sync"):
        pairing.sync_all(folder)
    assert _contents(folder) == before


def test_sync_refuses_to_drop_a_pasted_image(folder):
    pairing.sync_all(folder)
    nb = jupytext.read(folder / "ch.ipynb")
    nb.cells[0].source = "# Title\n\n![pasted](attachment:pasted.png)"
    nb.cells[0]["attachments"] = {"pasted.png": {"image/png": "iVBORw0KGgo="}}
    nbformat.write(nb, folder / "ch.ipynb")
    before = _contents(folder)
    with pytest.raises(pairing.PairingError, match=r"ch\.ipynb: markdown cell 1 holds a pasted attachment"):
        pairing.sync_all(folder)
    assert _contents(folder) == before


def test_a_merge_conflicted_ipynb_is_named_and_rebuilt_from_the_py(folder):
    ipynb = folder / "ch.ipynb"
    ipynb.write_text("<<<<<<< HEAD\n" + ipynb.read_text() + "=======\n{}\n>>>>>>> other\n")
    with pytest.raises(pairing.PairingError, match=r"ch\.ipynb: it holds git merge-conflict markers"):
        pairing.check_all(folder)
    with pytest.raises(pairing.PairingError, match=r"merge-conflict"):
        pairing.sync_all(folder)
    pairing.sync_all(folder, keep=[folder / "ch.py"])
    pairing.check_all(folder)
