"""A small Sphinx extension for the book's pages (added to the generated ``_config.yml``).

* **Notebook downloads.** Each chapter's ``.ipynb`` twin is copied next to the page's source, so
  the theme's download menu offers ``.ipynb`` beside ``.py`` (and launch buttons can use it).
* **Light pages.** A static slider panel carries its frames inline, so that it works anywhere a
  notebook's HTML output is shown. In the built book the frames move into content-addressed files
  under ``_panels/``, which the panel fetches when it first nears the screen: the page itself
  keeps only the first frame.
* **The book's CSS and JS** (``booktools/static``): scroll cues, equation numbers on phones,
  captions, print rules, and the sidebar-toggle fix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
import shutil
from pathlib import Path

from companion.widgets import panel_json

STATIC = Path(__file__).resolve().parent / "static"
PANEL_DIR = "_panels"
# The panel's data block, as companion.widgets writes it; nothing else on a page has this shape.
PANEL_DATA = re.compile(r'(<script type="application/json">)(\{"type":"image/[a-z]+","frames":.*?)(</script>)',
                        re.S)


def externalise_panels(body: str, outdir: Path, prefix: str) -> str:
    """Move every inline panel's frames into ``outdir/_panels`` and list them by URL instead.

    ``prefix`` leads from the page to the output root (``"../"`` for ``notebooks/x.html``).
    Files are named by their content's hash, so a rebuild rewrites nothing that did not change.
    """

    def replace(match):
        data = json.loads(match[2])
        extension = mimetypes.guess_extension(data["type"]) or ".img"
        urls = []
        for frame in data.pop("frames"):
            raw = base64.b64decode(frame)
            name = f"{hashlib.sha256(raw).hexdigest()[:20]}{extension}"
            path = outdir / PANEL_DIR / name
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(raw)
            urls.append(f"{prefix}{PANEL_DIR}/{name}")
        data["urls"] = urls
        return match[1] + panel_json(data) + match[3]

    return PANEL_DATA.sub(replace, body)


def _page_context(app, pagename, templatename, context, doctree):
    if doctree is None or "body" not in context:
        return
    prefix = "../" * pagename.count("/")
    context["body"] = externalise_panels(context["body"], Path(app.outdir), prefix)
    source = Path(app.env.doc2path(pagename))
    twin = source.with_suffix(".ipynb")
    if source.suffix == ".py" and twin.is_file():
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(twin, target)
        # sphinx-book-theme lists this in the download menu (before its own handler, at 501).
        context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    app.connect("html-page-context", _page_context, priority=400)
    app.add_css_file("companion-book.css")
    app.add_js_file("companion-book.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
