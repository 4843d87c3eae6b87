"""The book builds (smoke configuration) and its pages work offline in a real headless Chromium."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from companion.book import build, load_book

ROOT = Path(__file__).resolve().parent.parent
BOOK = load_book(ROOT)
CHAPTER_PAGES = [str(Path(c.notebook).with_suffix(".html")) for c in BOOK.chapters]
PAGES = [str(Path(BOOK.intro).with_suffix(".html"))] + CHAPTER_PAGES

pytestmark = pytest.mark.book


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory):
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
        offenders += [f"{sheet.relative_to(html_dir)}: {m}" for m in re.findall(r"url\(\s*['\"]?https?://[^)]*\)", text)]
    assert not offenders, "\n".join(offenders[:20])


def test_mathjax_and_widget_manager_are_served_locally(html_dir):
    page = (html_dir / CHAPTER_PAGES[0]).read_text(encoding="utf-8")
    assert re.search(r'src="[./]*_static/mathjax/tex-mml-chtml\.js', page)
    assert (html_dir / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (html_dir / "_static" / "html-manager" / "embed.js").is_file()
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
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")


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
