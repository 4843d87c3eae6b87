"""JupyterLab, started for real as `make lab` does: both files of a chapter open as the same
notebook, `.py` files open in Jupytext's notebook view, and a kernel started for a chapter
imports `companion` from the notebooks folder and runs the chapter's first code cell."""

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

import companion
from booktools.book import load_book
from conftest import run_in_fresh_loop

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = load_book(ROOT).chapters
CHAPTER_IDS = [Path(c.notebook).stem for c in CHAPTERS]
OVERRIDES = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.json"  # written by make
STARTUP_TIMEOUT = 60  # seconds for the server to answer /api/status
CELL_TIMEOUT = 120  # seconds for one execute_request, reply and idle status included

pytestmark = pytest.mark.lab


def require_jupyterlab():
    """JupyterLab is required tooling: skip visibly on a reader's machine, fail in CI."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError as err:
        if os.environ.get("CI"):
            pytest.fail(f"JupyterLab is required in CI but cannot be imported: {err}")
        pytest.skip(f"JupyterLab is not installed ({err}); `make test` sets up .venv with it")


def free_loopback_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    def __init__(self, port, token, log_path):
        self.port, self.token, self.log_path = port, token, log_path

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:  # name the request and the server's explanation
            raise AssertionError(f"{method} {path} -> HTTP {err.code}: {err.read()[:500]!r}") from None
        return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def lab():
    require_jupyterlab()
    with tempfile.TemporaryDirectory(prefix="test-lab-") as tmp:
        tmp = Path(tmp)
        # Fresh user-level dirs so nothing in ~/.jupyter or ~/.ipython changes (or is changed by)
        # the test; the venv's sys-prefix config, which enables jupytext, is still read.
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_DATA_DIR=str(tmp / "data"),
                   IPYTHONDIR=str(tmp / "ipython"), COMPANION_SMOKE="1")  # kernels inherit it
        env.pop("COMPANION_WIDGETS", None)  # live sliders, as a reader gets in JupyterLab
        port, token = free_loopback_port(), secrets.token_hex(16)
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        server = Lab(port, token, tmp / "server.log")
        with open(server.log_path, "wb") as log:
            process = subprocess.Popen(command, env=env, cwd=tmp, stdout=log,
                                       stderr=subprocess.STDOUT)
        try:
            wait_until_ready(server, process)
            # Without the jupytext server extension the .py checks below would fail obscurely.
            assert "[Jupytext Server Extension]" in server.log_path.read_text(errors="replace"), (
                f"jupytext's contents manager is not active:\n{server.log_tail()}")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def wait_until_ready(server, process):
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{server.log_tail()}")
        try:
            server.request("GET", "/api/status")
            return
        except OSError:  # not listening yet (refused, reset, timed out)
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {STARTUP_TIMEOUT} s:\n{server.log_tail()}")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=CHAPTER_IDS)
def test_py_and_ipynb_open_as_the_same_notebook(lab, chapter):
    served = {}
    for path in (chapter.notebook, chapter.twin):
        model = lab.request("GET", f"/api/contents/{path}?type=notebook&content=1")
        assert model["type"] == "notebook", f"{path} is served as {model['type']!r}, not a notebook"
        served[path] = [(c["cell_type"], c["source"]) for c in model["content"]["cells"]]
    py, ipynb = served[chapter.notebook], served[chapter.twin]
    assert len(py) == len(ipynb), f"{len(py)} cells in the .py, {len(ipynb)} in the .ipynb (make sync)"
    for index, (a, b) in enumerate(zip(py, ipynb)):
        assert a == b, f"cell {index} differs between {chapter.notebook} and {chapter.twin} (make sync)"
    kind, source = py[0]
    assert kind == "markdown" and source.startswith("# "), (
        f"{chapter.notebook} must open with a markdown title cell, got {kind}: {source[:60]!r}")


def test_python_files_open_in_jupytext_notebook_view(lab):
    assert OVERRIDES.is_file(), f"{OVERRIDES} is missing; run `make lab` or `make test` to set up .venv"
    plugin = lab.request("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    # overrides.json replaces the schema default; a user setting, if any, would win over it.
    default = plugin["schema"]["properties"]["defaultViewers"].get("default", {})
    viewers = plugin["settings"].get("defaultViewers", default)
    assert viewers.get("python") == "Jupytext Notebook", (
        f"defaultViewers is {viewers}; {OVERRIDES} should set python -> 'Jupytext Notebook'")


async def execute(lab, kernel_id, code):
    """Run ``code`` over the kernel's websocket as JupyterLab does; returns (reply, iopub)."""
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex
    url = (f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel_id}/channels"
           f"?session_id={session}&token={lab.token}")
    ws = await asyncio.wait_for(websocket_connect(url), CELL_TIMEOUT)
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": session, "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    reply, iopub, idle = None, [], False
    try:
        deadline = time.monotonic() + CELL_TIMEOUT
        while reply is None or not idle:  # reply and idle can arrive in either order
            raw = await asyncio.wait_for(ws.read_message(), max(deadline - time.monotonic(), 0.1))
            assert raw is not None, "the kernel websocket closed before the cell finished"
            msg = json.loads(raw)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                reply = msg["content"]
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                idle = idle or msg["content"].get("execution_state") == "idle"
    finally:
        ws.close()
    return reply, iopub


def stream_text(iopub, name):
    return "".join(m["content"]["text"] for m in iopub
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=CHAPTER_IDS)
def test_chapter_kernel_imports_companion_and_runs_first_cell(lab, chapter):
    session = lab.request("POST", "/api/sessions", {
        "path": chapter.notebook, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
    try:
        kernel = session["kernel"]["id"]
        code = "import companion, os; print(companion.__version__); print(os.getcwd())"
        reply, iopub = run_in_fresh_loop(execute(lab, kernel, code))
        assert reply["status"] == "ok", f"importing companion failed: {reply}"
        printed = stream_text(iopub, "stdout").splitlines()
        assert len(printed) == 2, f"expected version and cwd, the kernel printed {printed}"
        version, cwd = printed
        assert version == companion.__version__, (
            f"the kernel imports companion {version}, the tests {companion.__version__}")
        assert Path(cwd).name == "notebooks", f"kernel cwd is {cwd}, not the notebook's folder"

        import jupytext  # book tooling, like JupyterLab: imported here so a missing one skips

        first_code = next(c.source for c in jupytext.read(ROOT / chapter.notebook).cells
                          if c.cell_type == "code")
        reply, iopub = run_in_fresh_loop(execute(lab, kernel, first_code))
        errors = [f"{m['content']['ename']}: {m['content']['evalue']}"
                  for m in iopub if m["msg_type"] == "error"]
        assert reply["status"] == "ok" and not errors, f"first code cell failed: {reply} {errors}"
        stderr = stream_text(iopub, "stderr")
        assert not stderr, f"first code cell of {chapter.notebook} wrote to stderr:\n{stderr}"
    finally:
        lab.request("DELETE", f"/api/sessions/{session['id']}")


@pytest.mark.browser
@pytest.mark.parametrize("suffix", [".py", ".ipynb"])
def test_jupyterlab_ui_opens_the_chapter_as_a_notebook(lab, browser, suffix):
    """What a reader sees: the file opened by its URL shows a notebook panel with the chapter's
    title rendered, for the plain-text source as for the .ipynb twin."""
    import jupytext

    chapter = CHAPTERS[0]
    path = str(Path(chapter.notebook).with_suffix(suffix))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside = []

    def loopback_only(route):
        local = (f"http://127.0.0.1:{lab.port}/", f"ws://127.0.0.1:{lab.port}/", "data:", "blob:")
        if route.request.url.startswith(local):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    try:
        # ?reset: start from an empty workspace, not the layout an earlier test left behind.
        page.goto(f"http://127.0.0.1:{lab.port}/lab/tree/{path}?reset&token={lab.token}")
        # Whichever appears first: a rendered notebook title, or the text editor (the failure).
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownCell h1, .jp-FileEditor", timeout=60_000)
        assert page.locator(".jp-FileEditor").count() == 0, f"{path} opened in the text editor"
        title = page.locator(".jp-NotebookPanel .jp-MarkdownCell h1").first.inner_text()
        first_markdown = jupytext.read(ROOT / chapter.notebook).cells[0].source
        assert title.strip().rstrip("¶").strip() in first_markdown
    finally:
        context.close()
    assert not outside, f"JupyterLab's page asked for addresses outside loopback: {outside[:5]}"


def _git_status(*paths):
    result = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return result.stdout


def _git_sees(path):
    """The blob git would store for ``path`` (clean filter applied)."""
    result = subprocess.run(["git", "hash-object", f"--path={path.relative_to(ROOT)}", str(path)],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout.strip()


# A markdown cell as jupyterlab-myst renders it (JupyterLab's own renderer uses .jp-RenderedMarkdown).
MYST = ".jp-NotebookPanel .jp-MarkdownCell .myst"
LAB_CHAPTER = next(c for c in CHAPTERS if Path(c.notebook).stem == "vib")


@pytest.mark.browser
def test_a_reader_runs_a_chapter_in_jupyterlab(lab, browser):
    """Open a chapter, run all cells, save: MyST renders (an admonition is an admonition, a
    solution is folded), no cell fails, both files of the pair are saved byte for byte as they
    were, and git sees no change (on a fresh clone `git status --porcelain` stays empty)."""
    chapter = LAB_CHAPTER
    files = [ROOT / chapter.notebook, ROOT / chapter.twin]
    before = {f: f.read_bytes() for f in files}
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    status_before = _git_status("notebooks")
    seen_before = {f: _git_sees(f) for f in files}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{lab.port}/lab/tree/{chapter.twin}?reset&token={lab.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownCell h1", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)

        # jupyterlab-myst renders MyST as HTML; without it the markup shows as typed.
        page.wait_for_selector(MYST, timeout=60_000)
        opening = "\n".join(page.locator(MYST).all_inner_texts())
        assert ":::{admonition}" not in opening, "MyST shows as raw text"
        assert page.locator(f"{MYST} .myst-admonition").count() > 0, "no admonition rendered"

        page.locator(".jp-NotebookPanel").first.click()
        page.keyboard.press("Escape")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        code_cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
        page.wait_for_function(
            """() => {
                const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt'));
                return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""", timeout=600_000)
        tracebacks = page.locator(".jp-NotebookPanel .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
        assert tracebacks.count() == 0, tracebacks.first.inner_text()[:2000]
        assert code_cells.count() > 10

        # Every markdown cell is rendered now (Run All renders them too); the solutions at the
        # end are folded dropdowns, and nowhere is MyST left as raw text.
        rendered = page.locator(MYST)
        text = "\n".join(rendered.all_inner_texts())
        assert ":::{" not in text and "```{" not in text and "{eq}`" not in text, "MyST shows as raw text"
        solutions = page.locator(f"{MYST} details")
        assert solutions.count() > 0, "no folded solution (dropdown admonition) in the chapter"
        assert not any(solutions.evaluate_all("els => els.map(e => e.open)")), "a solution is unfolded"

        page.keyboard.press("Control+s")
        page.wait_for_timeout(2000)
        # The save really wrote both files of the pair, and wrote them as they were: the
        # server's pre-save hook stores the twin without outputs (make sets it up).
        for f in files:
            assert f.stat().st_mtime_ns > mtimes[f], f"{f.name} was not saved"
            assert f.read_bytes() == before[f], f"saving after a run rewrote {f.name}"
        diff = subprocess.run(["git", "diff", "--", "notebooks"], cwd=ROOT, capture_output=True, text=True).stdout
        assert _git_status("notebooks") == status_before, (
            f"running and saving a chapter changed git status:\n{diff[:3000]}")
        # Also in a working copy with edits: the content git would store is byte for byte the same.
        for f in files:
            assert _git_sees(f) == seen_before[f], f"git sees {f.name} changed after a run"
    finally:
        context.close()
        for f, content in before.items():  # the working copy, as it was
            f.write_bytes(content)
