"""The book builds (smoke configuration) and its pages work offline in a real headless Chromium."""

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import nbformat
import pytest

from booktools import pagecheck
from booktools.book import api_pages, build, load_book
from conftest import VALID_BOOK_TOML, write_notebook

ROOT = Path(__file__).resolve().parent.parent
BOOK = load_book(ROOT)
CHAPTER_PAGES = [str(Path(c.notebook).with_suffix(".html")) for c in BOOK.chapters]
API_PAGES = [f"{page}.html" for page in api_pages(BOOK)]
PAGES = [str(Path(BOOK.intro).with_suffix(".html"))] + CHAPTER_PAGES + API_PAGES

pytestmark = pytest.mark.book


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory):
    """A fresh smoke build; BOOK_HTML=<path to _build/html> reuses one (quick page checks while
    editing a chapter: `python -m booktools build --smoke --path-output /tmp/b` first)."""
    if os.environ.get("BOOK_HTML"):
        return Path(os.environ["BOOK_HTML"]).resolve()
    return build(BOOK, path_output=tmp_path_factory.mktemp("book"), smoke=True)


class _ResourceLinks(HTMLParser):
    """Collects every address a page would *load*: any src, and href on <link> (stylesheets,
    icons, preloads). Anchors are navigation, not loads: citing kexue.fm is allowed."""

    def __init__(self):
        super().__init__()
        self.loads = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name == "src" or (tag == "link" and name == "href")):
                self.loads.append((tag, name, value))


def test_every_page_is_built(html_dir):
    assert (html_dir / "index.html").is_file()
    for page in PAGES:
        assert (html_dir / page).is_file(), page


def test_built_pages_load_nothing_from_the_network(html_dir):
    remote = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
    offenders = []
    for page in html_dir.rglob("*.html"):
        parser = _ResourceLinks()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        offenders += [f"{page.relative_to(html_dir)}: <{t} {n}={v}>" for t, n, v in parser.loads if remote.match(v)]
    for sheet in html_dir.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        remote = re.findall(r"url\(\s*['\"]?https?://[^)]*\)", text)
        offenders += [f"{sheet.relative_to(html_dir)}: {m}" for m in remote]
    assert not offenders, "\n".join(offenders[:20])


def test_mathjax_is_served_locally_and_no_page_needs_a_widget_manager(html_dir):
    page = (html_dir / CHAPTER_PAGES[0]).read_text(encoding="utf-8")
    assert re.search(r'src="[./]*_static/mathjax/tex-mml-chtml\.js', page)
    assert (html_dir / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    # Progress bars are off in the static book and panels are plain HTML: no widget state, so
    # no page loads (or leaves blank space for) the ipywidgets manager.
    for relative in PAGES:
        text = (html_dir / relative).read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-state+json" not in text, relative
        assert "application/vnd.jupyter.widget-view+json" not in text, relative
    # The `_static` trap: Jupyter Book adds a <script> for every .js under the book's own _static.
    assert page.count("<script") < 40


def test_introduction_links_every_chapter(html_dir):
    intro = (html_dir / PAGES[0]).read_text(encoding="utf-8")
    for relative in CHAPTER_PAGES:
        assert f'href="{Path(relative).name}"' in intro, f"the introduction does not link {relative}"


def test_figures_render_as_images_not_as_their_repr(html_dir):
    for relative in CHAPTER_PAGES:
        page = (html_dir / relative).read_text(encoding="utf-8")
        assert "&lt;Figure size" not in page, f"{relative}: a figure was printed as text"


def test_demo_renders_as_a_static_panel(html_dir):
    page = (html_dir / CHAPTER_PAGES[0]).read_text(encoding="utf-8")
    assert 'class="companion-panel"' in page
    assert 'type="range"' in page


def test_panel_frames_are_files_not_inline(html_dir):
    # The page keeps one inline frame per panel (what shows before any move); the rest are files.
    for relative in CHAPTER_PAGES:
        text = (html_dir / relative).read_text(encoding="utf-8")
        panels = text.count('class="companion-panel"')
        assert text.count('"frames":') == 0, relative
        assert text.count('"urls":["../_panels/') == panels, relative
        assert text.count("data:image/webp;base64,") == panels, relative
    assert any((html_dir / "_panels").glob("*.webp"))


@pytest.mark.parametrize("relative", PAGES)
def test_every_page_is_light(html_dir, relative):
    assert pagecheck.weight(html_dir / relative) == []


def test_every_chapter_downloads_as_ipynb_beside_py(html_dir):
    for chapter in BOOK.chapters:
        stem = Path(chapter.notebook).stem
        page = (html_dir / "notebooks" / f"{stem}.html").read_text(encoding="utf-8")
        for suffix in (".py", ".ipynb"):
            assert f'href="../_sources/notebooks/{stem}{suffix}"' in page, (stem, suffix)
            assert (html_dir / "_sources" / "notebooks" / f"{stem}{suffix}").is_file(), (stem, suffix)
        served = nbformat.read(html_dir / "_sources" / "notebooks" / f"{stem}.ipynb", as_version=4)
        assert served.cells[0].source.startswith("# "), stem


# ---------------------------------------------------------------------------- headless Chromium

@pytest.fixture
def open_page(browser, html_dir):
    """Open a built page over file://, failing on console errors and on any network request."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    problems = []

    def guard(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"network request: {route.request.url}")
            route.abort()

    context.route("**/*", guard)

    def _open(relative):
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto((html_dir / relative).as_uri(), wait_until="load")
        return page

    yield _open
    context.close()
    assert not problems, "\n".join(problems)


def _wait_for_mathjax(page):
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0", timeout=30_000)
    pagecheck.wait_for_maths(page)


def _broken_images(page):
    return page.evaluate("""() => Array.from(document.images)
        .filter(img => !(img.complete && img.naturalWidth > 0))
        .map(img => img.src.slice(0, 80))""")


@pytest.mark.browser
@pytest.mark.parametrize("relative", CHAPTER_PAGES)
def test_chapter_typesets_math_and_loads_figures(open_page, relative):
    page = open_page(relative)
    _wait_for_mathjax(page)
    # Typeset: every maths element Sphinx emitted was replaced by MathJax output.
    assert page.locator("mjx-container").count() >= page.locator(".math").count() > 0
    assert page.locator("img").count() > 0
    assert _broken_images(page) == []


def test_mathjax_speech_rules_ship_with_the_book(html_dir):
    for name in ("base.json", "en.json"):
        assert (html_dir / "_static" / "mathjax" / "sre" / "mathmaps" / name).is_file(), name


@pytest.mark.browser
def test_accessibility_explorer_is_off_where_the_page_cannot_read_its_rules(open_page):
    """Opened from the disk, the browser refuses the explorer's rule files; its menu item is off
    rather than failing with a console error (open_page fails on any)."""
    page = open_page(CHAPTER_PAGES[0])
    _wait_for_mathjax(page)
    page.wait_for_function("() => MathJax.startup.document.menu.menu"
                           ".findID('Accessibility', 'Activate').disabled", timeout=10_000)


@pytest.mark.browser
def test_introduction_loads_cleanly(open_page):
    page = open_page(PAGES[0])
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().strip()
    assert _broken_images(page) == []


@pytest.mark.browser
def test_index_redirects_to_the_introduction(open_page):
    page = open_page("index.html")
    page.wait_for_url(re.compile(r".*/notebooks/intro\.html$"), timeout=10_000)


@pytest.mark.browser
def test_static_slider_panel_changes_its_figure(open_page, html_dir):
    page = open_page(CHAPTER_PAGES[0])
    _wait_for_mathjax(page)
    # A slider thinned to one stop (tight smoke caps) is disabled; move the first live one.
    movable = "input[type=range]:not([disabled])"
    panel = page.locator(".companion-panel").filter(has=page.locator(movable)).first
    frame, slider = panel.locator("img").first, panel.locator(movable).first
    panel.scroll_into_view_if_needed()
    before_src, before_value = frame.get_attribute("src"), slider.input_value()
    slider.focus()
    page.keyboard.press("ArrowRight" if int(before_value) < int(slider.get_attribute("max")) else "ArrowLeft")
    assert slider.input_value() != before_value
    page.wait_for_function("([img, src]) => img.getAttribute('src') !== src",
                           arg=[frame.element_handle(), before_src], timeout=5_000)
    assert frame.evaluate("img => img.complete && img.naturalWidth > 0")
    shots = html_dir.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "chapter.png"), full_page=True)
    panel.screenshot(path=str(shots / "panel-after-move.png"))


@pytest.mark.browser
@pytest.mark.parametrize("relative", PAGES)
def test_page_reads_well_at_desktop_and_phone_widths(open_page, html_dir, relative):
    """Maths and code inside their column, no blank output areas, captions and alt text on every
    figure, every slider moving its figure to both ends, page weight (booktools.pagecheck)."""
    page = open_page(relative)
    found = pagecheck.problems(page, html_dir / relative, shots=html_dir.parent / "screenshots")
    assert not found, f"{relative}:\n" + "\n".join(found)


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_sidebar_toggle_shows_and_hides_the_chapter_list(browser, html_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto((html_dir / CHAPTER_PAGES[-1]).as_uri(), wait_until="load")
    first = Path(CHAPTER_PAGES[0]).name
    # On a phone the theme moves the chapter list into a modal dialog while it is open.
    links = page.locator(f'#pst-primary-sidebar a.reference[href$="{first}"], '
                         f'#pst-primary-sidebar-modal a.reference[href$="{first}"]')
    toggle = page.locator(".primary-toggle:visible").first

    def in_view():
        for i in range(links.count()):
            link = links.nth(i)
            box = link.bounding_box(timeout=2_000) if link.is_visible() else None
            if box and box["width"] > 0 and 0 <= box["x"] < width:
                return True
        return False

    shown_at_start = in_view()
    assert shown_at_start == (width >= pagecheck.DESKTOP), "the sidebar's initial state is wrong"
    toggle.click()
    page.wait_for_timeout(600)  # the theme animates the sidebar
    assert in_view() != shown_at_start, f"at {width}px the sidebar toggle does nothing"
    if width < pagecheck.DESKTOP:
        page.keyboard.press("Escape")
    else:
        toggle.click()
    page.wait_for_timeout(600)
    assert in_view() == shown_at_start, f"at {width}px the chapter list does not close again"
    context.close()


@pytest.fixture(scope="session")
def book_pdf(html_dir, browser):
    from booktools import pdf

    if pagecheck.chromium_path() is None:
        from conftest import skip_or_fail

        skip_or_fail("no Chromium on this machine (install the chromium package)")
    return pdf.make_pdf(BOOK, html_dir, html_dir.parent / "book.pdf", browser=browser)


@pytest.mark.browser
def test_pdf_has_every_chapter_in_order_with_typeset_maths(book_pdf):
    from pypdf import PdfReader

    reader = PdfReader(book_pdf)
    outline = [item.title for item in reader.outline]
    assert len(outline) == 1 + len(BOOK.chapters)
    pages = [reader.get_page_number(item.page) for item in reader.outline]
    assert pages == sorted(pages) and len(set(pages)) == len(pages)
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    for chapter, entry in zip(BOOK.chapters, outline[1:]):
        heading = jupytext.read(ROOT / chapter.notebook).cells[0].source.splitlines()[0]
        assert entry == heading.lstrip("# ").strip(), (entry, heading)
        assert entry.split(":")[0] in flat, entry
    # Raw TeX delimiters mean MathJax did not typeset before printing. A single $ may appear
    # only where chapter code has one (matplotlib labels).
    for raw in ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac"):
        assert raw not in text, f"raw maths markup {raw!r} in the PDF"
    code = "".join(cell.source for c in BOOK.chapters for cell in jupytext.read(ROOT / c.notebook).cells
                   if cell.cell_type == "code")
    dollar_spans = set(re.findall(r"\$[^$\n]{1,40}\$", text))
    assert {span for span in dollar_spans if span not in code} == set()


# ------------------------------------------------------------- a repository turns on launching

SAMPLE_REPOSITORY = "https://github.com/example-org/kexue-companion"


@pytest.fixture(scope="module")
def sample_html(tmp_path_factory):
    """A two-chapter book with [book].repository set, built for real (it runs in seconds)."""
    root = tmp_path_factory.mktemp("sample")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "intro.md").write_text("# Sample\n\n{{ source }}\n\n[One](one.py), [two](two.py)\n")
    for stem in ("one", "two"):
        write_notebook(root / "notebooks", stem, "print(1 + 1)")
    with_repository = f'repository = "{SAMPLE_REPOSITORY}"\nbranch = "main"\nintro = '
    (root / "book.toml").write_text(VALID_BOOK_TOML.replace("intro = ", with_repository), encoding="utf-8")
    return build(load_book(root), smoke=True)


def test_repository_gives_launch_buttons_and_a_source_link(sample_html):
    chapter = (sample_html / "notebooks" / "one.html").read_text(encoding="utf-8")
    binder = re.search(r'href="(https://mybinder\.org/v2/gh/example-org/kexue-companion/main\?[^"]*)"', chapter)
    assert binder and "notebooks%2Fone" in binder[1].replace("/", "%2F"), "no Binder launch button"
    colab = 'href="https://colab.research.google.com/github/example-org/kexue-companion/blob/main/notebooks/one'
    assert colab in chapter, "no Colab launch button"
    assert f'href="{SAMPLE_REPOSITORY}"' in chapter, "no repository button"
    intro = (sample_html / "notebooks" / "intro.html").read_text(encoding="utf-8")
    assert f'href="{SAMPLE_REPOSITORY}"' in intro and "git+" + SAMPLE_REPOSITORY in intro


def test_without_a_repository_the_home_page_still_says_how_to_run_it(html_dir):
    intro = re.sub(r"<[^>]+>", "", (html_dir / PAGES[0]).read_text(encoding="utf-8"))
    assert "{{" not in intro and "no public address" in intro
    assert "make lab" in intro and "make pdf" in intro
    assert "mybinder.org" not in (html_dir / CHAPTER_PAGES[0]).read_text(encoding="utf-8")



# ---------------------------------------------------- the author's build: never stale, errors shown

@pytest.fixture(scope="session")
def fetched_assets(tmp_path_factory):
    """MathJax fetched once for the small books below (each gets a copy in its _build)."""
    from booktools import assets

    return assets.ensure(tmp_path_factory.mktemp("assets") / "assets")


def _small_book(root, fetched_assets, chapters, mode="force", timeout=60):
    """A book in ``root`` with the chapters ``{stem: code}``, linked from its introduction."""
    import shutil

    (root / "notebooks").mkdir(parents=True)
    links = ", ".join(f"[{stem}]({stem}.py)" for stem in chapters)
    (root / "notebooks" / "intro.md").write_text(f"# Small\n\n{links}\n")
    head, *tables = VALID_BOOK_TOML.split("[[chapters]]")
    head = head.replace('mode = "force"', f'mode = "{mode}"').replace("timeout = 60", f"timeout = {timeout}")
    articles = iter(range(5607, 6000))
    for stem, code in chapters.items():
        write_notebook(root / "notebooks", stem, code)
        head += (f'[[chapters]]\nnotebook = "notebooks/{stem}.py"\narticle = "https://kexue.fm/archives/'
                 f'{next(articles)}"\noriginal_title = "{stem}"\ndate = 2018-06-07\n\n')
    (root / "book.toml").write_text(head, encoding="utf-8")
    shutil.copytree(fetched_assets, root / "_build" / "assets")
    return root


def _run_build(root, *args, code_root=ROOT, env=None):
    """``python -m booktools build`` on the book in ``root``, as an author runs it (a new process)."""
    import subprocess
    import sys

    env = {k: v for k, v in (env or os.environ).items() if k != "COMPANION_SMOKE"}
    env["PYTHONPATH"] = str(code_root)
    return subprocess.run([sys.executable, "-m", "booktools", "--root", str(root), "build", *args],
                          cwd=code_root, env=env, capture_output=True, text=True, timeout=600)


def _page_text(root, stem="one"):
    return re.sub(r"<[^>]+>", "", (root / "_build" / "html" / "notebooks" / f"{stem}.html").read_text(encoding="utf-8"))


PROBE_CHAPTER = """\
import os
from companion import probe
print("probe says", probe.value())
print("configuration", "SMOKE" if os.environ["COMPANION_SMOKE"] == "1" else "FULL")"""


def test_cache_mode_follows_companion_edits_failures_and_smoke(tmp_path, fetched_assets):
    """A companion edit re-executes a cached chapter; a failed build fails again on re-run; smoke
    results never reach a full build. The book and a copy of the packages live in a temporary
    clone, so that the chapter's kernel imports the companion edited here."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("booktools", "companion"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    probe = tmp_path / "companion" / "probe.py"
    _small_book(tmp_path, fetched_assets, {"one": PROBE_CHAPTER}, mode="cache")

    probe.write_text("def value():\n    raise RuntimeError('the probe is broken')\n")
    for attempt in ("first", "second, nothing changed"):
        result = _run_build(tmp_path, code_root=tmp_path)
        assert result.returncode == 1, (attempt, result.stdout[-2000:])
        assert "notebooks/one.py" in result.stderr and "from companion import probe" in result.stderr, attempt
        assert "RuntimeError: the probe is broken" in result.stderr, (attempt, result.stderr)

    probe.write_text("def value():\n    return 'apples'\n")
    assert _run_build(tmp_path, code_root=tmp_path).returncode == 0
    assert "probe says apples" in _page_text(tmp_path)

    probe.write_text("def value():\n    return 'pears'\n")
    result = _run_build(tmp_path, "--smoke", code_root=tmp_path)
    assert result.returncode == 0, result.stderr
    page = _page_text(tmp_path)
    assert "probe says pears" in page and "apples" not in page and "configuration SMOKE" in page

    result = _run_build(tmp_path, code_root=tmp_path)
    assert result.returncode == 0, result.stderr
    page = _page_text(tmp_path)
    assert "configuration FULL" in page and "configuration SMOKE" not in page


def test_force_mode_executes_every_chapter_on_every_build(tmp_path, fetched_assets):
    _small_book(tmp_path, fetched_assets, {"one": "import secrets\nprint('token', secrets.token_hex(8))"})
    tokens = []
    for _ in range(2):
        result = _run_build(tmp_path, "--smoke")
        assert result.returncode == 0, result.stderr
        tokens.append(re.search(r"token ([0-9a-f]{16})", _page_text(tmp_path))[1])
    assert tokens[0] != tokens[1], "the second build reused the first one's outputs"


def test_timeout_and_stderr_are_explained_on_the_console(tmp_path, fetched_assets):
    _small_book(tmp_path, fetched_assets, {
        "one": "import time\nslow_marker = 1\ntime.sleep(60)",
        "two": "import warnings\nwarnings.warn('the sky is falling')",
    }, timeout=3)
    result = _run_build(tmp_path, "--smoke")
    assert result.returncode == 1
    errors = result.stderr
    limit = r"notebooks/one\.py: .*limit of 3 s per cell.*\[execution\]\.timeout in book\.toml"
    assert re.search(limit, errors), errors
    assert "slow_marker = 1" in errors
    assert re.search(r"notebooks/two\.py: cell 2 wrote to stderr", errors), errors
    assert "UserWarning: the sky is falling" in errors
    assert "ZMQError" not in result.stdout + result.stderr


TIMED_CHAPTER = """\
import json, os, sys, time
from ipykernel import get_connection_info
start = time.time()
time.sleep(5)
transport = json.loads(get_connection_info())["transport"]
with open(os.environ["PROBE_LOG"], "a") as log:
    print("{name}", start, time.time(), sys.prefix, os.environ.get("OMP_NUM_THREADS"), transport, file=log)"""


def test_chapters_run_side_by_side_once_each_in_the_environments_kernel(tmp_path, fetched_assets):
    """Two chapters execute at the same time, each with its share of the cores, in this
    environment's own kernel (not a ``python3`` kernel from the user's Jupyter folder), and
    rendering executes nothing again."""
    import json
    import sys

    book = _small_book(tmp_path / "book", fetched_assets,
                       {name: TIMED_CHAPTER.format(name=name) for name in ("one", "two")})
    # A user-level kernel named python3 that cannot run anything: it must not be chosen.
    impostor = tmp_path / "user-jupyter" / "kernels" / "python3"
    impostor.mkdir(parents=True)
    (impostor / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-c", "raise SystemExit('the user kernel ran')"],
         "display_name": "impostor", "language": "python"}))
    log = tmp_path / "runs.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    # Jupyter prefers the user's folder outside a virtual environment, or when told so.
    env.update(PROBE_LOG=str(log), JUPYTER_DATA_DIR=str(impostor.parent.parent), JUPYTER_PREFER_ENV_PATH="0")
    result = _run_build(book, "--smoke", "--jobs", "2", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert re.search(r"Built 2 chapters \(2 executed in \d+ s, 2 at a time; rendered in \d+ s;",
                     result.stdout), result.stdout[-2000:]

    runs = {}
    for line in log.read_text().splitlines():
        name, start, end, prefix, threads, transport = line.split()
        assert name not in runs, f"{name} executed twice"
        runs[name] = (float(start), float(end), prefix, threads)
        # Two kernels starting at once over TCP can draw the same free port; sockets in files cannot.
        assert transport == "ipc", line
    assert sorted(runs) == ["one", "two"]
    (start1, end1, *_), (start2, end2, *_) = runs.values()
    assert start1 < end2 and start2 < end1, f"the chapters ran one after the other: {runs}"
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert {r[2] for r in runs.values()} == {sys.prefix}
    assert {r[3] for r in runs.values()} == {share}


def test_jobs_must_be_a_positive_number(tmp_path, fetched_assets):
    book = _small_book(tmp_path, fetched_assets, {"one": "x = 1"})
    result = _run_build(book, "--smoke", "--jobs", "0")
    assert result.returncode == 2 and "argument --jobs: '0' is not a positive whole number" in result.stderr
    result = _run_build(book, "--smoke", env=dict(os.environ, BOOK_JOBS="two"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: BOOK_JOBS: 'two' is not a positive whole number of chapters run at once"]


# ---------------------------------------------------------------- the API reference

KERNEL_MODULES = ("capsule", "focal", "nce", "fgan", "vib", "gillespie")


def _public(module):
    import inspect

    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__]


@pytest.mark.parametrize("idea", KERNEL_MODULES)
def test_api_page_documents_every_public_kernel_and_figure(html_dir, idea):
    import importlib

    page = (html_dir / "notebooks" / "api" / f"{idea}.html").read_text(encoding="utf-8")
    kernels = importlib.import_module(f"companion.{idea}")
    figures = importlib.import_module(f"companion.figures.{idea}")
    names = [f"companion.{idea}.{n}" for n in _public(kernels)]
    names += [f"companion.figures.{idea}.{n}" for n in _public(figures)]
    missing = [name for name in names if f'id="{name}"' not in page]
    assert not missing, f"not in the API reference: {missing}"
    assert "Introduced in" in page  # the docstrings' own text, rendered


def test_shared_modules_have_an_api_page(html_dir):
    import companion
    from companion import checks, data, style, widgets

    page = (html_dir / "notebooks" / "api" / "shared.html").read_text(encoding="utf-8")
    for module in (data, checks, style, widgets):
        missing = [n for n in _public(module) if f'id="{module.__name__}.{n}"' not in page]
        assert not missing, (module.__name__, missing)
    assert 'id="companion.budget"' in page and 'id="companion.is_smoke"' in page
    assert set(KERNEL_MODULES) | {"shared", "index"} == {
        p.stem for p in (html_dir / "notebooks" / "api").glob("*.html")}
    assert set(KERNEL_MODULES) <= set(companion.SUBMODULES)


@pytest.mark.parametrize("relative", CHAPTER_PAGES)
def test_chapter_links_its_functions_to_the_api_reference(html_dir, relative):
    text = (html_dir / relative).read_text(encoding="utf-8")
    links = re.findall(r'<a class="[^"]*api-link[^"]*" href="api/(\w+)\.html#([\w.]+)"', text)
    assert links, f"{relative}: no link into the API reference"
    targets = [target for _, target in links]
    assert len(targets) == len(set(targets)), "only the first mention of a function is linked"
    for page, target in links:
        assert f'id="{target}"' in (html_dir / "notebooks" / "api" / f"{page}.html").read_text(encoding="utf-8")


def test_api_targets_prefer_the_chapters_own_module():
    from booktools.sphinx_ext import api_targets

    objects = {"companion.focal.fit": "function", "companion.vib.fit": "function",
               "companion.gillespie.ssa": "function", "companion.figures.nce.plot_q": "function",
               "companion.vib.VIBNet.forward": "method", "other.package.ssa": "function"}
    assert api_targets(objects, "focal_loss") == {"fit": "companion.focal.fit", "ssa": "companion.gillespie.ssa",
                                                  "plot_q": "companion.figures.nce.plot_q",
                                                  "forward": "companion.vib.VIBNet.forward"}
    assert "fit" not in api_targets(objects, "gillespie")  # two candidates, neither the chapter's
