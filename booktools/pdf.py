"""The PDF edition: the built pages printed by headless Chromium, joined into one file.

    python -m booktools pdf [--html _build/html] [--output _build/book.pdf]

Each page of the table of contents (introduction, then the chapters) is opened, typeset by the
book's own offline MathJax, its folded solutions opened (paper cannot unfold them) and printed
with the book's print stylesheet (code wraps instead of being cut, a slider panel prints its
default frame). pypdf joins the pages and adds an outline with one entry per chapter. Nothing is
downloaded: the same Chromium as the browser tests, the same files as the HTML book.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from booktools.pagecheck import CHROMIUM_ARGS, INSTALL_HINT, UNFOLD, chromium_path, wait_for_maths

MARGIN = {"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}


class PdfError(RuntimeError):
    """The PDF cannot be made (no browser, no built book); the message says what to do."""


def pages_in_order(book, html: Path) -> list[Path]:
    """The built HTML pages in table-of-contents order; raises if the book is not built."""
    pages = [html / Path(book.intro).with_suffix(".html")]
    pages += [html / Path(c.notebook).with_suffix(".html") for c in book.chapters]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise PdfError(f"the book is not built ({missing[0]} is missing): run `make book` first")
    return pages


def _print(page, html_file: Path) -> tuple[str, bytes]:
    page.goto(html_file.as_uri(), wait_until="load")
    wait_for_maths(page, timeout_ms=60_000)
    page.evaluate(UNFOLD, False)  # solutions open; code the page hides stays hidden
    page.emulate_media(media="print")
    title = page.locator("h1").first.inner_text().replace("#", "").strip()
    pdf = page.pdf(format="A4", margin=MARGIN, print_background=True,
                   display_header_footer=True, header_template="<span></span>",
                   footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                                   '<span class="title"></span> · <span class="pageNumber"></span></div>')
    return title, pdf


def make_pdf(book, html: Path, output: Path, browser=None) -> Path:
    """Print every page of ``html`` (a built book) into ``output``; returns ``output``.

    ``browser``: a Playwright Chromium already running (the tests'); by default one is started.
    """
    pages = pages_in_order(book, html)
    try:
        from pypdf import PdfWriter
    except ImportError as err:
        raise PdfError(f"{err.name} is missing: pip install 'kexue-companion[book]' "
                       f"(in a clone: make pdf sets up .venv with it)") from None
    writer = PdfWriter()
    if browser is None:
        with _chromium() as started:
            _print_all(started, pages, writer)
    else:
        _print_all(browser, pages, writer)
    writer.add_metadata({"/Title": book.title, "/Author": ", ".join(book.authors)})
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "wb") as f:
        writer.write(f)
    return output


def _print_all(browser, pages, writer):
    page = browser.new_page()
    for html_file in pages:
        title, pdf = _print(page, html_file)
        first = len(writer.pages)
        writer.append(io.BytesIO(pdf), import_outline=False)
        writer.add_outline_item(title=title, page_number=first)
    page.close()


@contextlib.contextmanager
def _chromium():
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfError(f"playwright is missing: {INSTALL_HINT}") from None
    if executable is None:
        raise PdfError(f"no Chromium to print the pages with: {INSTALL_HINT}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
