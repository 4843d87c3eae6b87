"""A small Sphinx extension for the book's pages (added to the generated ``_config.yml``).

* **Notebook downloads.** Each chapter's ``.ipynb`` twin is copied next to the page's source, so
  the theme's download menu offers ``.ipynb`` beside ``.py`` (and launch buttons can use it).
* **Light pages.** A static slider panel carries its frames inline, so that it works anywhere a
  notebook's HTML output is shown. In the built book the frames move into content-addressed files
  under ``_panels/``, which the panel fetches when it first nears the screen: the page itself
  keeps only the first frame.
* **The book's CSS and JS** (``booktools/static``): scroll cues, equation numbers on phones,
  captions, print rules, and the sidebar-toggle fix.
* **Links into the API reference.** In a chapter, the first inline-code mention of a documented
  ``companion`` function or class (```ssa```, ```gillespie.ssa(...)```, ```companion.gillespie.ssa```)
  becomes a link to its entry; a name documented in several modules goes to the chapter's own.
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


# `name`, `module.name`, `name(...)`: what a chapter writes when it names a function.
MENTION = re.compile(r"(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*)(?:\(.*\))?", re.S)


def api_targets(objects: dict, chapter: str) -> dict[str, str]:
    """``{short name: full name}`` of the documented ``companion`` objects a chapter may mention.

    ``objects`` maps full names (``companion.figures.nce.plot_quartic_nce``) to their kind; a short
    name shared by several modules resolves to the one of the chapter (its notebook's stem, e.g.
    ``focal_loss`` for ``companion.focal``), else to none."""
    home = chapter.split("_")[0]
    candidates: dict[str, list[str]] = {}
    for full, kind in objects.items():
        if full.startswith("companion.") and kind in ("function", "class", "method", "data"):
            candidates.setdefault(full.rsplit(".", 1)[1], []).append(full)
    targets = {}
    for short, fulls in candidates.items():
        own = [f for f in fulls if home in f.split(".")[1:-1]]
        if len(fulls) == 1 or len(own) == 1:
            targets[short] = fulls[0] if len(fulls) == 1 else own[0]
    return targets


def _link_mentions(app, doctree, docname):
    from docutils import nodes

    source = Path(app.env.doc2path(docname))
    if source.suffix != ".py":  # chapters only
        return
    domain = app.env.get_domain("py")
    objects = {name: entry.objtype for name, entry in domain.objects.items()}
    targets = api_targets(objects, source.stem)
    seen = set()
    for literal in list(doctree.findall(nodes.literal)):
        if isinstance(literal.parent, (nodes.reference, nodes.literal_block)):
            continue
        match = MENTION.fullmatch(literal.astext().strip())
        full = targets.get(match[1]) if match else None
        if full is None or full in seen:
            continue
        seen.add(full)
        entry = domain.objects[full]
        uri = app.builder.get_relative_uri(docname, entry.docname) + "#" + entry.node_id
        link = nodes.reference("", "", internal=True, refuri=uri, reftitle=full, classes=["api-link"])
        literal.replace_self(link)
        link.append(literal)


def setup(app):
    app.connect("doctree-resolved", _link_mentions)
    app.connect("html-page-context", _page_context, priority=400)
    app.add_css_file("companion-book.css")
    app.add_js_file("companion-book.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
