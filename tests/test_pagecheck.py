"""The page checker finds what a reader would trip over, on a page made to have each fault."""

import pytest

from booktools import pagecheck

# A page in the built book's shape (sphinx-book-theme class names), with one of each fault.
# MathJax is stubbed: the checker reads geometry, not TeX.
FAULTY = """<!DOCTYPE html><html><head><meta charset="utf-8">
<script>window.MathJax = {startup: {promise: Promise.resolve()}};</script>
<style>
  body { margin: 0; font: 16px sans-serif; }
  .bd-article { width: 600px; padding: 0 20px; }
  div.math { display: flex; }
  mjx-container[display="true"] { display: block; overflow-x: hidden; flex: 1; min-width: 0; }
  pre { overflow-x: auto; }
</style></head><body><main><article class="bd-article"><section><h2>Faults</h2>
<div class="math"><mjx-container display="true"><mjx-math style="display:inline-block;width:900px">x</mjx-math></mjx-container><span class="eqno">(1.1)</span></div>
<div class="cell"><div class="cell_input"><div class="highlight"><pre>%s</pre></div></div>
<div class="cell_output"><div class="output" style="height:300px"></div></div></div>
<div class="cell"><div class="cell_output"><img alt="../_images/0123456789abcdef0123.png" width="50" height="50" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></div></div>
<p>Text with <mjx-container style="display:inline-block;width:900px">y</mjx-container>.</p>
<p>Bad TeX: <mjx-container><mjx-merror data-mjx-error="Math input error">Math input error</mjx-merror></mjx-container>.</p>
<details class="hide"><summary>Show</summary><div class="highlight"><pre>%s</pre></div></details>
</section></article></main></body></html>""" % ("a = 1  # " + "x" * 150, "hidden = 2  # " + "y" * 150)


@pytest.fixture
def page(browser, tmp_path):
    path = tmp_path / "faulty.html"
    path.write_text(FAULTY, encoding="utf-8")
    context = browser.new_context()
    page = context.new_page()
    page.goto(path.as_uri())
    yield page
    context.close()


@pytest.mark.browser
def test_pagecheck_finds_every_kind_of_fault(page):
    found = "\n".join(pagecheck.geometry(page, 1280))
    assert "equation (1.1) is" in found and "wider than the column" in found
    assert found.count("code is") == 2, found  # the folded cell is measured open
    assert "blank output area 300px tall" in found
    assert "image without meaningful alt text" in found
    assert "figure without a numbered caption" in found
    assert "inline maths runs" in found
    assert 'maths MathJax cannot typeset: "Math input error"' in found


@pytest.mark.browser
def test_at_phone_width_a_scrolling_equation_is_allowed_but_not_a_clipped_one(page):
    found = "\n".join(pagecheck.geometry(page, 390))
    assert "cannot scroll" in found  # overflow-x: hidden hides the equation's end
    assert "code is" not in found  # code may scroll sideways on a phone


def test_page_weight_counts_images_and_panel_frames(tmp_path):
    (tmp_path / "_panels").mkdir()
    (tmp_path / "_panels" / "a.webp").write_bytes(b"x" * 2_000_000)
    (tmp_path / "big.png").write_bytes(b"x" * 600_000)
    html = tmp_path / "page.html"
    html.write_text('<img src="big.png"><script type="application/json">'
                    '{"type":"image/webp","urls":["_panels/a.webp"]}</script>')
    assert pagecheck.page_bytes(html) == html.stat().st_size + 2_600_000
    assert pagecheck.weight(html) and "over 2,500,000" in pagecheck.weight(html)[0]


@pytest.mark.browser
def test_a_page_wider_than_the_phone_screen_is_found_and_its_cause_named(browser, tmp_path):
    path = tmp_path / "wide.html"
    path.write_text('<html><body><main><article class="bd-article"><section><h2>Kernels</h2>'
                    '<p>fits</p><dl><dt><span class="pre" style="white-space:nowrap">'
                    'companion.capsule.a_very_long_function_name_that_will_not_wrap_on_a_phone_screen'
                    '</span></dt></dl></section></article></main></body></html>', encoding="utf-8")
    context = browser.new_context()
    page = context.new_page()
    page.goto(path.as_uri())
    try:
        found = "\n".join(pagecheck.geometry(page, 390))
        assert "the page scrolls sideways" in found and "companion.capsule.a_very_long" in found, found
        assert "scrolls sideways" not in "\n".join(pagecheck.geometry(page, 1280))
    finally:
        context.close()
