"""Helpers shared by the browser, JupyterLab and notebook checks."""

import asyncio
import concurrent.futures
import os

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip without hypothesis (it is in the test extra)
    settings = None
else:
    # Property tests run a fixed, bounded set of examples: the same on every run (derandomize)
    # and no example database in the repository, so make test stays reproducible and short.
    settings.register_profile("book", max_examples=40, deadline=None, derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("book")


def skip_or_fail(reason):
    """Browser checks may skip on a reader's machine, visibly; in CI (CI set) they must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, but CI requires the browser checks (make test installs Chromium in CI)")
    pytest.skip(f"{reason}: browser checks NOT run")


@pytest.fixture
def float64():
    """float64 as torch's default dtype for one test: closed forms are checked to ~1e-10."""
    import torch

    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's small-tensor work on one thread, then restore the setting.

    With tensors this small, threads only add synchronisation; on a busy 2-core machine a
    descheduled second thread made one 1-second training test take 40 s.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright import sync_api as playwright_api
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    from booktools.pagecheck import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        skip_or_fail("no Chromium on this machine (install the chromium package)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def run_in_fresh_loop(coroutine):
    """Run ``coroutine`` to completion on a new event loop in a thread of its own.

    Playwright's sync API keeps an event loop running in the main thread while a browser is
    open; kernel clients (nbclient, websockets) driven from that thread through a second,
    nested loop were seen to wait forever. A private thread and loop keep the two apart.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# ------------------------------------------------------------------- a small book for the builder

# A valid book.toml with two chapters, notebooks/one.py and notebooks/two.py (write_notebook).
VALID_BOOK_TOML = """\
[book]
title = "T"
authors = ["A. Author"]
description = "D"
language = "en"
intro = "notebooks/intro.md"

[execution]
mode = "force"
timeout = 60

[[chapters]]
notebook = "notebooks/one.py"
article = "https://kexue.fm/archives/5607"
original_title = "python简单实现gillespie模拟"
date = 2018-06-07

[[chapters]]
notebook = "notebooks/two.py"
article = "https://kexue.fm/archives/4733"
original_title = "从loss的硬截断、软化到focal loss"
date = 2017-12-25
"""


def write_notebook(folder, stem: str, source: str = "x = 1") -> None:
    """A Jupytext pair ``stem.py``/``stem.ipynb`` in ``folder``: a title cell and one code cell."""
    import jupytext
    import nbformat

    from booktools.pairing import FORMATS

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {stem}"),
        nbformat.v4.new_code_cell(source),
    ])
    nb.metadata["jupytext"] = {"formats": FORMATS}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, folder / f"{stem}.py", fmt="py:percent")
    jupytext.write(nb, folder / f"{stem}.ipynb")
