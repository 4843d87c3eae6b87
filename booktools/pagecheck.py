"""Look at built pages the way a reader does: in headless Chromium, by geometry.

    python -m booktools.pagecheck _build/html [--width 1280 --width 390] [--shots DIR]

prints every problem on every page (exit status 1 if any). The browser tests call
:func:`problems` per page and width; helpers and authors use the command line.

What counts as a problem (the reader review's findings, made measurable):

* a display equation wider than the text column at a desktop width, or one that overlaps its
  equation number at any width (on a phone an equation may scroll, visibly: the book's CSS adds
  shadows at the hidden edge);
* inline maths that runs past the text column where nothing lets a reader scroll to it;
* a code cell or printed output wider than its box at a desktop width;
* an output area taller than 40 px with nothing visible in it (a dead progress bar);
* an image without alt text, or with a generated one (a file name or hash);
* a figure (an output image or a slider panel) that is not in a ``<figure>`` with a numbered
  caption;
* a slider panel whose sliders do not each change the image, or whose ends cannot be reached;
* a page heavier than :data:`MAX_PAGE_BYTES` (its HTML, images and panel frames).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

MAX_PAGE_BYTES = 2_500_000
DESKTOP = 992  # the theme's breakpoint: from here on the text column is fixed and must fit
BLANK_PX = 40
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL_HINT = ("install Chromium (Debian/Ubuntu: apt-get install chromium) and Playwright "
                "(pip install playwright), or point CHROMIUM at a Chromium binary; fonts-noto-cjk draws the "
                "Chinese titles")


def chromium_path() -> str | None:
    """The Chromium to use: $CHROMIUM if it names a program, else the first on PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named)
    return shutil.which("chromium") or shutil.which("chromium-browser")


# One pass over the page, in the browser. Returns a list of problem strings.
_GEOMETRY = r"""(desktop) => {
  const out = [];
  const tol = 1;
  const name = (el) => {
    const cell = el.closest(".cell");
    const cells = Array.from(document.querySelectorAll(".cell"));
    const where = cell ? `cell ${cells.indexOf(cell) + 1}` : "text";
    const section = el.closest("section");
    const h = section && section.querySelector("h1, h2, h3");
    return `${where}${h ? " in '" + h.textContent.replace(/[#¶]/g, "").trim().slice(0, 40) + "'" : ""}`;
  };
  const rect = (el) => el.getBoundingClientRect();
  const overlap = (a, b) => a.left < b.right - tol && b.left < a.right - tol &&
                            a.top < b.bottom - tol && b.top < a.bottom - tol;

  // Display equations: fit the column on a desktop; never run under their number.
  document.querySelectorAll("div.math").forEach((div) => {
    const box = div.querySelector('mjx-container[display="true"]');
    if (!box) { out.push(`equation not typeset (${name(div)})`); return; }
    const label = div.querySelector(".eqno");
    const tag = label ? label.textContent.replace(/[#¶\s]/g, "") : "unnumbered";
    const math = box.querySelector("mjx-math");
    const wide = box.scrollWidth - box.clientWidth;
    if (wide > tol) {
      const style = getComputedStyle(box);
      if (desktop) {
        out.push(`equation ${tag} is ${wide}px wider than the column (${name(div)})`);
      } else if (!/auto|scroll/.test(style.overflowX)) {
        out.push(`equation ${tag} is ${wide}px too wide and cannot scroll (${name(div)})`);
      }
    }
    if (label && math) {
      const visible = rect(box);
      const m = rect(math);
      const shown = {left: Math.max(m.left, visible.left), right: Math.min(m.right, visible.right),
                     top: m.top, bottom: m.bottom};
      if (overlap(shown, rect(label))) out.push(`equation ${tag} runs under its number (${name(div)})`);
    }
  });

  // Inline maths: never past the right edge of the text (a phone may scroll it, visibly).
  const column = document.querySelector(".bd-article");
  const right = column ? rect(column).right : window.innerWidth;
  document.querySelectorAll('.bd-article mjx-container:not([display="true"])').forEach((m) => {
    if (m.closest("mjx-container[display='true'], pre")) return;
    for (let up = m; up && up !== column; up = up.parentElement)
      if (/auto|scroll/.test(getComputedStyle(up).overflowX)) return;  // scrolls, inside a box
    const r = rect(m);
    if (r.width > 0 && r.right > right + tol)
      out.push(`inline maths runs ${Math.round(r.right - right)}px past the text column (${name(m)})`);
  });

  // Maths MathJax could not read: it shows "Math input error" or the TeX error in its place.
  document.querySelectorAll(".bd-article mjx-merror").forEach((e) => {
    const why = (e.getAttribute("data-mjx-error") || e.textContent).trim().slice(0, 60);
    out.push(`maths MathJax cannot typeset: "${why}" (${name(e)})`);
  });

  // Code and printed output: no sideways scrolling on a desktop.
  document.querySelectorAll(".cell_input pre, .cell_output pre, div.highlight pre").forEach((pre) => {
    const wide = pre.scrollWidth - pre.clientWidth;
    if (desktop && wide > tol) {
      const kind = pre.closest(".cell_output") ? "output" : "code";
      const longest = Math.max(...pre.textContent.split("\n").map((l) => l.length));
      out.push(`${kind} is ${wide}px wider than its box, longest line ${longest} characters (${name(pre)})`);
    }
  });

  // Output areas that take room but show nothing.
  document.querySelectorAll(".cell_output > div, .cell_output > .output").forEach((area) => {
    const r = rect(area);
    if (r.height <= %BLANK%) return;
    const text = area.innerText.trim();
    const media = Array.from(area.querySelectorAll("img, svg, canvas, video, iframe, mjx-container"))
      .some((m) => rect(m).width > 0 && rect(m).height > 0);
    if (!text && !media) out.push(`blank output area ${Math.round(r.height)}px tall (${name(area)})`);
  });

  // Images: alt text a reader can use; every figure captioned and numbered.
  const generic = /^(|image|figure|img|png|_images\/.*|.*\.(png|jpe?g|svg|webp|gif)|[0-9a-f]{16,})$/i;
  document.querySelectorAll(".bd-article img").forEach((img) => {
    const alt = (img.getAttribute("alt") || "").trim();
    if (generic.test(alt)) out.push(`image without meaningful alt text: "${alt}" (${name(img)})`);
  });
  document.querySelectorAll(".cell_output img, .companion-panel").forEach((el) => {
    if (el.matches("img") && el.closest(".companion-panel")) return;
    const fig = el.closest("figure");
    const number = fig && fig.querySelector("figcaption .caption-number");
    if (!number) out.push(`${el.matches("img") ? "figure" : "slider panel"} without a numbered caption (${name(el)})`);
  });

  // The page itself never scrolls sideways; the first thing that reaches past the screen (and
  // is not inside a box that scrolls or clips) is named.
  const screen = document.documentElement.clientWidth;
  const extra = document.documentElement.scrollWidth - screen;
  if (extra > tol) {
    const boxed = (el) => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement)
        if (/auto|scroll|hidden|clip/.test(getComputedStyle(up).overflowX)) return true;
      return false;
    };
    const culprit = Array.from(document.querySelectorAll("body *"))
      .find((el) => el.children.length === 0 && rect(el).right > screen + tol && !boxed(el));
    const what = culprit ? `: '${culprit.textContent.trim().slice(0, 40)}' (${name(culprit)})` : "";
    out.push(`the page scrolls sideways, ${extra}px wider than the screen${what}`);
  }
  return out;
}""".replace("%BLANK%", str(BLANK_PX))


def wait_for_maths(page, timeout_ms: int = 30_000) -> None:
    """Wait until MathJax has typeset an opened page (at once if the page has no maths)."""
    if page.locator("div.math, span.math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=timeout_ms)
        page.evaluate("() => MathJax.startup.promise")


def _typeset(page):
    page.wait_for_load_state("load")
    wait_for_maths(page)
    # Folded solutions and hidden inputs are part of the page; measure them open.
    page.evaluate(UNFOLD, True)
    page.wait_for_timeout(400)  # the book's script re-measures wide inline maths after a toggle


# Opens what a reader can unfold: hidden code (<details>) with hidden=True, and the solutions
# (sphinx-togglebutton admonitions).
UNFOLD = """(hidden) => {
  if (hidden) document.querySelectorAll("details").forEach((d) => d.open = true);
  document.querySelectorAll(".admonition.toggle-hidden").forEach((el) => el.classList.remove("toggle-hidden"));
}"""


def geometry(page, width: int) -> list[str]:
    """Equation, code, blank-area, alt-text and caption problems on an opened page."""
    page.set_viewport_size({"width": width, "height": 1000})
    _typeset(page)
    return [f"{width}px: {p}" for p in page.evaluate(_GEOMETRY, width >= DESKTOP)]


_SLIDERS = r"""async (panel) => {
  const out = [];
  const img = panel.querySelector("img.companion-panel-frame");
  const data = JSON.parse(panel.querySelector('script[type="application/json"]').textContent);
  const inputs = Array.from(panel.querySelectorAll("input[data-param]"));
  const loaded = () => new Promise((ok) => {
    if (img.complete && img.naturalWidth > 0) return ok(true);
    img.addEventListener("load", () => ok(true), {once: true});
    img.addEventListener("error", () => ok(false), {once: true});
    setTimeout(() => ok(img.complete && img.naturalWidth > 0), 5000);
  });
  const set = async (input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event("input", {bubbles: true}));
    return [img.getAttribute("src"), await loaded()];
  };
  for (let a = 0; a < inputs.length; a++) {
    const input = inputs[a], labels = data.labels[a], what = data.names[a];
    const start = input.value;
    if (input.disabled) {
      if (labels.length > 1) out.push(`slider ${what} is disabled with ${labels.length} stops`);
      continue;
    }
    const [low, lowOk] = await set(input, input.min);
    const lowLabel = panel.querySelectorAll("output")[a].textContent;
    const [high, highOk] = await set(input, input.max);
    const highLabel = panel.querySelectorAll("output")[a].textContent;
    if (!lowOk || !highOk) out.push(`slider ${what}: an end frame does not load`);
    if (low === high) out.push(`slider ${what}: moving it from one end to the other does not change the image`);
    if (lowLabel !== labels[0] || highLabel !== labels[labels.length - 1])
      out.push(`slider ${what}: ends show ${lowLabel}..${highLabel}, not ${labels[0]}..${labels[labels.length - 1]}`);
    if (!img.alt.includes(highLabel)) out.push(`slider ${what}: alt text does not follow the setting`);
    await set(input, start);
  }
  return out;
}"""


def sliders(page) -> list[str]:
    """Move every slider of every panel to both ends: the image must change, the end labels show."""
    out = []
    panels = page.locator(".companion-panel")
    for i in range(panels.count()):
        panel = panels.nth(i)
        panel.scroll_into_view_if_needed()
        out += [f"panel {i + 1}: {p}" for p in panel.evaluate(_SLIDERS)]
    return out


_LOADS = re.compile(r'(?:src|href)="([^"#?]+\.(?:png|jpe?g|svg|webp|gif))"')
_PANEL_URLS = re.compile(r'"urls":\[([^\]]*)\]')


def page_bytes(html_file: Path) -> int:
    """What a reader downloads for a page's own content: its HTML, its images and its panel
    frames (the theme's shared CSS, fonts and MathJax are cached across pages and not counted)."""
    text = html_file.read_text(encoding="utf-8", errors="replace")
    files = {(html_file.parent / m).resolve() for m in _LOADS.findall(text)}
    for block in _PANEL_URLS.findall(text):
        files |= {(html_file.parent / u.strip('"')).resolve() for u in block.split(",") if u}
    return html_file.stat().st_size + sum(f.stat().st_size for f in files if f.is_file())


def weight(html_file: Path) -> list[str]:
    size = page_bytes(html_file)
    if size > MAX_PAGE_BYTES:
        return [f"page weighs {size:,} bytes, {size - MAX_PAGE_BYTES:,} over {MAX_PAGE_BYTES:,}"]
    return []


def problems(page, html_file: Path, widths=(1280, 390), shots: Path | None = None) -> list[str]:
    """Every problem on one built page at each width (``page`` is a Playwright page, opened on
    ``html_file`` already or not)."""
    if page.url != html_file.as_uri():
        page.goto(html_file.as_uri(), wait_until="load")
    found = weight(html_file)
    for width in widths:
        found += geometry(page, width)
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            # notebooks/api/capsule.html is "api-capsule", apart from the chapter notebooks/capsule.html
            folder = "" if html_file.parent.name == "notebooks" else f"{html_file.parent.name}-"
            page.screenshot(path=str(shots / f"{folder}{html_file.stem}-{width}.png"), full_page=True)
    found += sliders(page)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.pagecheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built book (_build/html)")
    parser.add_argument("--width", type=int, action="append", help="viewport widths (default 1280 and 390)")
    parser.add_argument("--page", action="append", help="only these pages (e.g. notebooks/vib.html)")
    parser.add_argument("--shots", type=Path, help="save a full-page screenshot per page and width here")
    args = parser.parse_args(argv)
    args.html = args.html.resolve()
    if not args.html.is_dir():
        print(f"error: {args.html} is not a built book: run `make book` first", file=sys.stderr)
        return 2
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        print(f"error: no Chromium/Playwright to look at the pages: {INSTALL_HINT}", file=sys.stderr)
        return 2
    pages = [args.html / p for p in args.page] if args.page else sorted(args.html.glob("notebooks/**/*.html"))
    total = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        for html_file in pages:
            found = problems(page, html_file, tuple(args.width or (1280, 390)), args.shots)
            total += len(found)
            print(f"{html_file.relative_to(args.html)}: {len(found)} problem(s)")
            for line in found:
                print(f"  {line}")
        browser.close()
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
