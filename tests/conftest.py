"""Helpers shared by the browser, JupyterLab and notebook checks."""

import asyncio
import concurrent.futures
import os
import shutil

import pytest


def _chromium():
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (make test installs it when CI is set)")
        pytest.skip("no Chromium on this machine: browser checks NOT run (install chromium to run them)")
    return path


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ])
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
