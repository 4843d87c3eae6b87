"""``book.toml`` is the single source of the book; this module checks it and builds the book.

Jupyter Book 1 reads only YAML, so :func:`write_config` generates ``_config.yml`` and ``_toc.yml``
into a git-ignored folder from the validated ``book.toml``; nothing generated is committed.
Every mistake in ``book.toml`` stops the build with one line naming the key or the file.

Command line (the Makefile calls these)::

    python -m booktools check              # book.toml, notebook files and Jupytext pairs
    python -m booktools build [--smoke]    # fetch assets, generate config, run Jupyter Book
    python -m booktools pdf                # print the built book into one PDF
    python -m booktools sync               # re-pair the notebooks after an edit

Builds every chapter into the book; see README.md, "Writing a chapter".
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from booktools.pairing import not_utf8

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = "notebooks"
API_DIR = "api"  # notebooks/api/*.md: the package's reference, generated from its docstrings
EXECUTION_MODES = ("force", "cache", "off")

ARTICLE_RE = re.compile(r"https://kexue\.fm/archives/[1-9][0-9]*")
REPOSITORY_RE = re.compile(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/[\w.~-]+)+/?")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")

# key -> (type, required). The schema is small enough to state as data; anything not listed here
# is an error, so a typo such as ``notebok`` cannot silently drop a setting.
BOOK_KEYS = {
    "title": (str, True),
    "authors": (list, True),
    "description": (str, True),
    "language": (str, True),
    "intro": (str, True),
    "repository": (str, False),
    "branch": (str, False),
}
EXECUTION_KEYS = {"mode": (str, True), "timeout": (int, True)}
CHAPTER_KEYS = {
    "notebook": (str, True),
    "article": (str, True),
    "original_title": (str, True),
    "date": (dt.date, True),
}
TOP_KEYS = {"book": (dict, True), "execution": (dict, True), "chapters": (list, True)}


class BookConfigError(ValueError):
    """A mistake in ``book.toml`` or in the files it names; the message is one line."""


@dataclass(frozen=True)
class Chapter:
    notebook: str  # path of the py:percent source, relative to the book root
    article: str
    original_title: str
    date: dt.date

    @property
    def twin(self) -> str:
        return str(Path(self.notebook).with_suffix(".ipynb"))


@dataclass(frozen=True)
class Book:
    root: Path
    title: str
    authors: tuple[str, ...]
    description: str
    language: str
    intro: str
    repository: str | None
    branch: str
    execution_mode: str
    cell_timeout: int
    chapters: tuple[Chapter, ...]


def _check_table(table, schema: dict, where: str) -> None:
    for key in table:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise BookConfigError(f"{where}: unknown key {key!r} (known keys: {known})")
    for key, (kind, required) in schema.items():
        if key not in table:
            if required:
                raise BookConfigError(f"{where}: missing required key {key!r}")
            continue
        value = table[key]
        # TOML datetimes are dates too; a chapter wants a bare date, and bool is not an int.
        wrong = not isinstance(value, kind) or (kind is dt.date and isinstance(value, dt.datetime))
        wrong = wrong or (kind is int and isinstance(value, bool))
        if wrong:
            hint = " (a TOML date like 2018-06-07, without quotes)" if kind is dt.date else ""
            raise BookConfigError(
                f"{where}.{key}: expected {kind.__name__}{hint}, got {type(value).__name__} {value!r}"
            )
        if kind is str and not value.strip():
            raise BookConfigError(f"{where}.{key}: must not be empty")


def load_book(root: Path | str = ROOT, *, for_sync: bool = False) -> Book:
    """Read and validate ``<root>/book.toml`` and the files it names.

    Raises :class:`BookConfigError` with a one-line message on: invalid TOML, an unknown or
    missing key, a wrong type, a malformed address, language or execution setting, a chapter
    notebook that is missing or lacks its ``.ipynb`` twin, a duplicate chapter, or a notebook in
    ``notebooks/`` that no chapter lists.

    ``for_sync``: what ``sync`` needs; a chapter may lack one side of its pair (sync writes it),
    and notebooks that no chapter lists are allowed (sync leaves them alone).
    """
    root = Path(root).resolve()
    path = root / "book.toml"
    name = "book.toml"
    try:
        # utf-8-sig: a byte-order mark (some Windows editors write one) is not part of the text.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BookConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as err:
        raise BookConfigError(f"{name}: {not_utf8(err)}") from None
    except OSError as err:
        raise BookConfigError(f"{name}: cannot be read ({err.strerror or err})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BookConfigError(f"{name}: not valid TOML: {_toml_hint(err, text)}") from None

    # A `chapters = [...]` line written below a [table] belongs to that table: say so, rather
    # than "missing required key" for a line the author can see.
    for key in TOP_KEYS:
        for table_name, table in data.items():
            if key not in data and isinstance(table, dict) and key in table:
                raise BookConfigError(
                    f"[{table_name}]: unknown key {key!r} (a `{key} = ...` line below [{table_name}] "
                    f"belongs to that table; move it above the first [table])")
    _check_table(data, TOP_KEYS, name)
    book, execution, chapters = data["book"], data["execution"], data["chapters"]
    _check_table(book, BOOK_KEYS, "[book]")
    _check_table(execution, EXECUTION_KEYS, "[execution]")

    authors = book["authors"]
    if not authors or not all(isinstance(a, str) and a.strip() for a in authors):
        raise BookConfigError(f"[book].authors: expected a non-empty list of names, got {authors!r}")
    if not LANGUAGE_RE.fullmatch(book["language"]):
        raise BookConfigError(
            f"[book].language: {book['language']!r} is not a language tag like 'en' or 'zh-Hans'"
        )
    repository = book.get("repository")
    if repository is not None and not REPOSITORY_RE.fullmatch(repository):
        raise BookConfigError(
            f"[book].repository: {repository!r} is not an https address like "
            "'https://github.com/owner/repo'"
        )
    _check_intro(root, book["intro"], [t.get("notebook") for t in chapters if isinstance(t, dict)])
    if execution["mode"] not in EXECUTION_MODES:
        raise BookConfigError(
            f"[execution].mode: {execution['mode']!r} is not one of {', '.join(EXECUTION_MODES)}"
        )
    if execution["timeout"] <= 0:
        raise BookConfigError(
            f"[execution].timeout: {execution['timeout']} must be a positive number of seconds per cell"
        )

    if not chapters:
        raise BookConfigError(f"{name}: [[chapters]] must list at least one chapter")
    parsed = []
    for i, table in enumerate(chapters, start=1):
        where = f"[[chapters]] #{i}"
        if not isinstance(table, dict):
            raise BookConfigError(f"{where}: expected a table, got {table!r}")
        _check_table(table, CHAPTER_KEYS, where)
        chapter = Chapter(**table)
        _check_chapter(root, chapter, where, for_sync)
        for j, other in enumerate(parsed, start=1):
            for key in ("notebook", "article"):
                if getattr(other, key) == getattr(chapter, key):
                    raise BookConfigError(
                        f"{where}.{key}: duplicate chapter, {getattr(chapter, key)!r} "
                        f"is already chapter #{j}"
                    )
        parsed.append(chapter)
    if not for_sync:
        _check_unlisted(root, parsed)

    return Book(
        root=root,
        title=book["title"],
        authors=tuple(authors),
        description=book["description"],
        language=book["language"],
        intro=book["intro"],
        repository=repository,
        branch=book.get("branch", "main"),
        execution_mode=execution["mode"],
        cell_timeout=execution["timeout"],
        chapters=tuple(parsed),
    )


def _toml_hint(err: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib's message, with the line's key and, for a date, what a TOML date looks like."""
    match = re.search(r"at line (\d+)", str(err))
    line = text.splitlines()[int(match[1]) - 1] if match and int(match[1]) <= len(text.splitlines()) else ""
    key = line.split("=", 1)[0].strip() if "=" in line else ""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return str(err)
    hint = " (a TOML date like 2018-06-07: year-month-day, no quotes)" if key == "date" else ""
    return f"{err}; the key {key!r}: {line.split('=', 1)[1].strip()!r} is not a valid value{hint}"


def _check_spelling(relative: str, where: str) -> None:
    """One spelling per file (``./notebooks/x.py`` and ``notebooks//x.py`` are ``notebooks/x.py``),
    so that a duplicate cannot hide behind another spelling."""
    canonical = Path(relative).as_posix()
    if relative != canonical:
        raise BookConfigError(f"{where}: write {relative!r} as {canonical!r}")


def _check_intro(root: Path, intro: str, chapters: list) -> None:
    where = "[book].intro"
    _check_spelling(intro, where)
    path = Path(intro)
    if path.is_absolute() or ".." in path.parts:
        raise BookConfigError(f"{where}: {intro!r} must be a path inside the book folder")
    if path.parent != Path(NOTEBOOK_DIR) or path.suffix != ".md":
        raise BookConfigError(f"{where}: {intro!r} must be a Markdown file directly in {NOTEBOOK_DIR}/, "
                              f"like '{NOTEBOOK_DIR}/intro.md'")
    stems = {Path(c).stem for c in chapters if isinstance(c, str)}
    if path.stem in stems:
        raise BookConfigError(f"{where}: {intro!r} has the name of a chapter ({path.stem}); "
                              "give the introduction a name of its own")
    _check_file(root, intro, where)


def _check_file(root: Path, relative: str, where: str) -> None:
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise BookConfigError(f"{where}: {relative!r} must be a path inside the book folder")
    _check_spelling(relative, where)
    if not (root / relative).is_file():
        raise BookConfigError(f"{where}: file {relative!r} does not exist")


def _check_chapter(root: Path, chapter: Chapter, where: str, for_sync: bool = False) -> None:
    _check_spelling(chapter.notebook, f"{where}.notebook")
    notebook = Path(chapter.notebook)
    if notebook.parent != Path(NOTEBOOK_DIR) or notebook.suffix != ".py":
        raise BookConfigError(
            f"{where}.notebook: {chapter.notebook!r} must be a py:percent file directly in "
            f"{NOTEBOOK_DIR}/, like '{NOTEBOOK_DIR}/gillespie.py'"
        )
    if for_sync and (root / chapter.twin).is_file() and not (root / chapter.notebook).exists():
        pass  # sync writes the .py from its twin
    else:
        _check_file(root, chapter.notebook, f"{where}.notebook")
    if not for_sync and not (root / chapter.twin).is_file():
        raise BookConfigError(
            f"{where}.notebook: {chapter.notebook!r} has no .ipynb twin {chapter.twin!r} "
            "(run `make sync`)"
        )
    if not ARTICLE_RE.fullmatch(chapter.article):
        raise BookConfigError(
            f"{where}.article: {chapter.article!r} is not an address like "
            "'https://kexue.fm/archives/5607'"
        )


def _check_unlisted(root: Path, chapters: list[Chapter]) -> None:
    listed = {name for c in chapters for name in (c.notebook, c.twin)}
    for path in sorted((root / NOTEBOOK_DIR).iterdir()):
        relative = f"{NOTEBOOK_DIR}/{path.name}"
        if path.suffix in (".py", ".ipynb") and path.is_file() and relative not in listed:
            raise BookConfigError(
                f"{relative}: notebook is not listed in book.toml "
                "(add a [[chapters]] entry for it, or remove it)"
            )


# --------------------------------------------------------------------------- Jupyter Book config

def jupyter_book_config(book: Book, assets: Path) -> dict:
    """The ``_config.yml`` for Jupyter Book 1, as a dict.

    ``assets`` is the folder from :mod:`booktools.assets` with MathJax; it is not called
    ``_static`` because Jupyter Book would add a script tag for every ``.js`` in such a folder.
    """
    from jupyter_book.config import get_default_sphinx_config

    from booktools import assets as asset_files
    from booktools import sphinx_ext

    # sphinx-thebe declares its script constants twice per page (a console error) and names a
    # CDN; live code runs in JupyterLab here, so the extension is left out.
    extensions = [e for e in get_default_sphinx_config()["extensions"] if e != "sphinx_thebe"]
    # The API reference is generated from the docstrings (Google style: napoleon reads "Args:").
    extensions += ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "booktools.sphinx_ext"]
    config = {
        "title": book.title,
        "author": ", ".join(book.authors),
        "copyright": str(dt.date.today().year),
        "only_build_toc_files": True,
        "execute": {
            "execute_notebooks": book.execution_mode,
            "timeout": book.cell_timeout,
            "allow_errors": False,
            # A notebook that writes warnings to stderr fails a strict (-W) build.
            "stderr_output": "warn",
        },
        "parse": {
            "myst_enable_extensions": ["amsmath", "colon_fence", "dollarmath", "substitution"],
            # {{ source }} on the home page: where the source is and how to run it.
            "myst_substitutions": {"source": source_note(book)},
        },
        "html": {
            "home_page_in_navbar": True,
            "use_repository_button": book.repository is not None,
            "use_issues_button": book.repository is not None,
            "extra_footer": "Chapters follow essays by Su Jianlin on kexue.fm; "
            "the text and code here are our own.",
        },
        "sphinx": {
            "config": {
                "language": book.language,
                # The book's root is the repository; only the intro and the py:percent chapter
                # sources are pages (not the .ipynb twins, the README or any cache folder).
                "include_patterns": [f"{NOTEBOOK_DIR}/*.md", f"{NOTEBOOK_DIR}/*.py",
                                     f"{NOTEBOOK_DIR}/{API_DIR}/*.md"],
                "autodoc_member_order": "bysource",
                "autodoc_typehints": "description",
                "napoleon_numpy_docstring": False,
                "html_static_path": [str(assets.resolve()), str(sphinx_ext.STATIC)],
                "mathjax_path": asset_files.MATHJAX_ENTRY,
                # No page carries ipywidgets state: progress bars are off in the static book
                # (companion.progress) and slider panels are plain HTML. Nothing to load.
                "nb_ipywidgets_js": {},
                "nb_custom_formats": {".py": ["jupytext.reads", {"fmt": "py:percent"}]},
                "extensions": extensions,
                # An empty default mode makes the theme log a console error on first visit.
                "html_context": {"default_mode": "light"},
                "myst_html_meta": {"description": book.description},
            },
        },
    }
    if book.repository is not None:
        config["repository"] = {"url": book.repository, "path_to_book": "", "branch": book.branch}
        config["launch_buttons"] = {
            "notebook_interface": "jupyterlab",
            "binderhub_url": "https://mybinder.org",
            # Colab opens the chapter's .ipynb twin from the repository (github.com only).
            "colab_url": "https://colab.research.google.com",
        }
    return config


def source_note(book: Book) -> str:
    """The home page's sentence on where the source is (``{{ source }}`` in the introduction)."""
    if book.repository is None:
        return ("The book's text, the `companion` package and the notebooks come together in one "
                "repository; this build names no public address for it, so ask whoever gave you "
                "these pages for a clone.")
    return (f"The book's text, the `companion` package and the notebooks are at "
            f"<{book.repository}>. Each chapter page also has launch buttons (Binder, Colab) at "
            f"its top; on Colab, install the package first with "
            f"`%pip install \"kexue-companion[book] @ git+{book.repository}\"`.")


def api_pages(book: Book) -> list[str]:
    """The API reference's pages (``notebooks/api/*.md`` without the suffix): the index, then one
    page per chapter's module in the chapters' order (``focal`` for ``focal_loss.py``), then the
    rest by name."""
    folder = book.root / NOTEBOOK_DIR / API_DIR
    names = [p.stem for p in folder.glob("*.md")] if folder.is_dir() else []
    order = [Path(c.notebook).stem.split("_")[0] for c in book.chapters]

    def key(name):
        return (name != "index", order.index(name) if name in order else len(order), name)

    return [f"{NOTEBOOK_DIR}/{API_DIR}/{n}" for n in sorted(names, key=key)]


def jupyter_book_toc(book: Book) -> dict:
    """The ``_toc.yml``: the introduction, the chapters in ``book.toml`` order, then the API
    reference (``notebooks/api/index.md`` and its pages) when the book has one."""
    parts = [{
        "caption": "Chapters",
        "numbered": True,
        "chapters": [{"file": str(Path(c.notebook).with_suffix(""))} for c in book.chapters],
    }]
    index, *pages = api_pages(book) or [None]
    if index is not None:
        parts.append({"caption": "The companion package",
                      "chapters": [{"file": index, "sections": [{"file": p} for p in pages]}]})
    return {"format": "jb-book", "root": str(Path(book.intro).with_suffix("")), "parts": parts}


def write_config(book: Book, out: Path, assets: Path, only: list[str] | None = None,
                 cache: Path | None = None) -> tuple[Path, Path]:
    """Write ``_config.yml`` and ``_toc.yml`` into ``out``; returns their paths.

    ``cache`` is the jupyter-cache folder that :mod:`booktools.execute` fills (see
    :func:`build_keys`); with it, Jupyter Book renders from the cache in modes "force" and "cache".
    With ``only`` (chapter names, the notebooks' stems), the other chapters are rendered without
    executing them: a quick preview of one chapter in its real place in the book (references
    to the figures of the chapters left out are not checked).
    """
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    config_path, toc_path = out / "_config.yml", out / "_toc.yml"
    header = "# Generated from book.toml by booktools; edit book.toml instead.\n"
    config = jupyter_book_config(book, assets)
    if cache is not None:
        # booktools.execute runs the chapters (several at a time) into this jupyter-cache, one
        # per configuration (smoke or full, package sources); Sphinx only reads from it.
        config["execute"]["cache"] = str(cache)
        if book.execution_mode != "off":
            config["execute"]["execute_notebooks"] = "cache"
    if only is not None:
        config["execute"]["exclude_patterns"] = [
            Path(c.notebook).name for c in book.chapters if Path(c.notebook).stem not in only]
        # A chapter that is not executed has no figures, so its {numref}s to them cannot
        # resolve; that is expected in a preview, and a full build still checks every one.
        config["sphinx"]["config"]["suppress_warnings"] = ["ref.numref"]
    for path, data in ((config_path, config), (toc_path, jupyter_book_toc(book))):
        path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return config_path, toc_path


def chapter_names(book: Book, only: list[str] | None) -> list[str] | None:
    """Check ``only`` against the book's chapters (by notebook stem); returns it."""
    if only is None:
        return None
    names = [Path(c.notebook).stem for c in book.chapters]
    unknown = [name for name in only if name not in names]
    if unknown or not only:
        raise BookConfigError(f"--only: {', '.join(map(repr, unknown)) or 'nothing'} is not a chapter; "
                              f"the chapters are {', '.join(names)}")
    return only


# The build remembers what it built from (``_build/.build-state.json``), so that a page is never
# stale: mode "force" re-reads and re-executes every chapter on every build; otherwise the whole
# book is re-read when the chapters' inputs changed since the last build (the companion package,
# smoke or full, ``--only``, the execution settings) or when the last build failed, and
# jupyter-cache (mode "cache") keeps one cache per configuration, so smoke and full outputs never
# mix and a companion edit re-executes the chapters.
BUILD_STATE = ".build-state.json"
# Packages whose sources the chapters' outputs depend on; kernels import them from the clone.
SOURCE_PACKAGES = ("companion", "booktools")


def _source_digest(book: Book) -> str:
    """A hash of every ``*.py`` of the packages the chapters import (in the clone and in the book)."""
    digest = hashlib.sha256()
    folders = {(root / name).resolve() for root in (ROOT, book.root) for name in SOURCE_PACKAGES}
    for folder in sorted(folders):
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else ():
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_keys(book: Book, *, smoke: bool, only: list[str] | None) -> tuple[str, str]:
    """``(cache key, build key)``: the first names the executed outputs (package sources and smoke
    or full), the second everything a page depends on beyond its own source."""
    cache = hashlib.sha256(f"{'smoke' if smoke else 'full'}:{_source_digest(book)}".encode()).hexdigest()
    settings = [cache, book.execution_mode, book.cell_timeout, sorted(only) if only else None]
    return cache[:16], hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]


def smoke_requested(flag: bool) -> bool:
    """``--smoke``, or ``COMPANION_SMOKE=1`` in the environment (as :func:`companion.is_smoke` reads it)."""
    if flag:
        return True
    import companion

    try:
        return companion.is_smoke()
    except ValueError as err:
        raise BookConfigError(str(err)) from None


def build(book: Book, *, path_output: Path | None = None, smoke: bool = False,
          only: list[str] | None = None, jobs: int | None = None) -> Path:
    """Execute every chapter and build the HTML book; returns ``<path_output>/_build/html``.

    The chapters run first, ``jobs`` at a time (default: ``BOOK_JOBS``, else one per core; see
    :mod:`booktools.execute`), into the build's jupyter-cache; Jupyter Book then renders them from
    it. Kernels inherit ``COMPANION_WIDGETS=static`` (slider demos become precomputed panels, since
    the static book has no kernel) and ``COMPANION_SMOKE`` (1 with ``smoke``, else 0). The build is
    strict: a failing cell, a warning or output on stderr stops it with :class:`BuildError`, after
    the failing cell's chapter, source and traceback (or the stderr text) are printed on stderr.
    """
    from booktools import assets, execute, pairing

    pairing.check_all(book.root / NOTEBOOK_DIR, chapter_stems(book),
                      state_file=book.root / pairing.SYNC_STATE)
    only = chapter_names(book, only)
    build_dir = Path(path_output or book.root).resolve() / "_build"
    asset_dir = assets.ensure(build_dir / "assets")
    cache_key, build_key = build_keys(book, smoke=smoke, only=only)
    cache_path = build_dir / ".jupyter_cache" / cache_key
    config_path, toc_path = write_config(book, build_dir / "config", asset_dir, only, cache=cache_path)
    state_path = build_dir / BUILD_STATE
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    fresh = book.execution_mode == "force" or state != {"key": build_key, "ok": True}
    state_path.write_text(json.dumps({"key": build_key, "ok": False}))
    shutil.rmtree(build_dir / "html" / "reports", ignore_errors=True)  # the last build's errors

    env = dict(os.environ, COMPANION_WIDGETS="static", COMPANION_SMOKE="1" if smoke else "0")
    env["PYTHONHASHSEED"] = "0"
    # Sphinx imports booktools.sphinx_ext, which is not installed: it lives in the clone.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))

    started = time.monotonic()
    to_run = _chapters_to_execute(book, only, cache_path)
    if jobs is None:
        try:
            jobs = execute.default_jobs(len(to_run))
        except ValueError as err:
            raise BookConfigError(str(err)) from None
    try:
        executed_in = execute.execute_chapters(
            to_run, cache_path=cache_path, timeout=book.cell_timeout, env=env, jobs=jobs,
            timings_path=build_dir / execute.TIMINGS, label="smoke" if smoke else "full", root=book.root)
    except execute.ExecutionFailed as err:
        raise BuildError(f"the book did not build: {err}; the cause is printed above") from None

    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book), "build", str(book.root), "--builder", "html",
        "--config", str(config_path), "--toc", str(toc_path),
        "--path-output", str(build_dir.parent), "--warningiserror", "--keep-going",
    ] + (["--all"] if fresh else [])
    rendering = time.monotonic()
    returncode, stderr_cells = _run_filtered(command, env=env, cwd=book.root)
    if returncode != 0:
        _explain_failure(book, build_dir, stderr_cells)
        raise BuildError(f"the book did not build (jupyter-book exit code {returncode}); "
                         "the cause is printed above")
    state_path.write_text(json.dumps({"key": build_key, "ok": True}))
    now = time.monotonic()
    ran = (f"{len(to_run)} executed in {executed_in:.0f} s, {jobs} at a time" if to_run
           else "none executed" if book.execution_mode == "off" else "all from the cache")
    print(f"Built {len(book.chapters)} chapters ({ran}; rendered in {now - rendering:.0f} s; "
          f"{'smoke' if smoke else 'full'} configuration, mode {book.execution_mode}"
          f"{', fresh' if fresh else ''}) in {now - started:.0f} s")
    return build_dir / "html"


def _chapters_to_execute(book: Book, only: list[str] | None, cache_path: Path) -> list[Path]:
    """Mode "force": every chapter (or those of ``--only``); mode "cache": those of them the
    cache has no outputs for; mode "off": none."""
    if book.execution_mode == "off":
        return []
    sources = [book.root / c.notebook for c in book.chapters
               if only is None or Path(c.notebook).stem in only]
    if book.execution_mode == "force":
        return sources
    from jupyter_cache import get_cache

    from booktools.execute import read_chapter

    cache = get_cache(str(cache_path))
    missing = []
    for source in sources:
        try:
            cache.match_cache_notebook(read_chapter(source))
        except KeyError:
            missing.append(source)
    return missing


class BuildError(RuntimeError):
    """The book did not build; its cause was printed on the console already."""


# A kernel stopped after a cell timed out logs a ZMQ traceback that has nothing to do with the cause.
_KERNEL_NOISE_START = "[IPKernelApp] ERROR | Exception in message handler:"
_STDERR_WARNING = re.compile(r"^(?:\x1b\[[0-9;]*m)*(.+?)(?::\d+)?: WARNING: stderr was found in the "
                             r"cell outputs of cell (\d+)")


def _run_filtered(command: list[str], *, env: dict, cwd: Path) -> tuple[int, list[tuple[str, int]]]:
    """Run jupyter-book, passing its output through without unrelated kernel tracebacks; returns
    its exit code and the (source, cell number) of every cell whose stderr output fails the build."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
    held: list[str] | None = None
    stderr_cells = []
    for line in process.stdout:
        if held is not None:
            held.append(line)
            if line.strip() and not line[0].isspace() and not line.startswith("Traceback"):
                if "ZMQError" not in line:  # not the known noise: show it after all
                    sys.stdout.write("".join(held))
                held = None
            continue
        if line.startswith(_KERNEL_NOISE_START):
            held = [line]
            continue
        match = _STDERR_WARNING.match(line)
        if match:
            stderr_cells.append((match[1], int(match[2])))
        sys.stdout.write(line)
        sys.stdout.flush()
    if held:
        sys.stdout.write("".join(held))
    return process.wait(), stderr_cells


def _explain_failure(book: Book, build_dir: Path, stderr_cells: list[tuple[str, int]]) -> None:
    """Print on stderr, for each chapter that failed, the failing cell and its traceback (from
    myst-nb's report), a timeout's limit and the key that sets it, or the stderr text of a cell."""
    from booktools.execute import strip_colour

    reports = build_dir / "html" / "reports"
    plain = not sys.stderr.isatty()  # IPython colours its tracebacks; a log file wants text
    for report in sorted(reports.rglob("*.err.log")) if reports.is_dir() else ():
        chapter = report.relative_to(reports).as_posix()[: -len(".err.log")] + ".py"
        text = report.read_text(encoding="utf-8", errors="replace")
        if plain:
            text = strip_colour(text)
        # The frames of nbclient and jupyter-cache say nothing about the chapter: start at the error.
        cause = re.search(r"^nbclient\.exceptions\.(\w+): ", text, re.M)
        if cause:
            text = text[cause.end():]
        if cause and cause[1] == "CellTimeoutError":
            print(f"error: {chapter}: a cell ran longer than the limit of {book.cell_timeout} s per cell "
                  f"([execution].timeout in book.toml); the cell:\n{text.rstrip()}", file=sys.stderr)
        else:
            print(f"error: {chapter}: a cell failed:\n{text.rstrip()}", file=sys.stderr)
    for source, number in stderr_cells:
        docname = Path(source).resolve().relative_to(book.root).with_suffix("")
        executed = build_dir / "jupyter_execute" / docname.with_suffix(".ipynb")
        try:
            cell = json.loads(executed.read_text(encoding="utf-8"))["cells"][number - 1]
            text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                           if o.get("name") == "stderr")
        except (OSError, ValueError, IndexError, KeyError):
            text = "(the executed notebook is not readable)"
        print(f"error: {docname}.py: cell {number} wrote to stderr, which fails the build "
              f"(fix the warning or silence it in the cell):\n{text.rstrip()}", file=sys.stderr)


def chapter_stems(book: Book) -> list[str]:
    return [Path(c.notebook).stem for c in book.chapters]


def sync(book: Book, keep: list[Path] | None = None) -> int:
    """``python -m booktools sync``: re-pair the chapters listed in ``book.toml``, nothing else."""
    from booktools import pairing

    folder = book.root / NOTEBOOK_DIR
    stems = chapter_stems(book)
    keep = [k if k.is_absolute() else book.root / k for k in keep or ()]
    written = pairing.sync_all(folder, stems, state_file=book.root / pairing.SYNC_STATE, keep=keep)
    for path in written:
        print(f"synced {path.relative_to(book.root)}")
    for path in sorted(folder.iterdir()):
        if path.suffix in (".py", ".ipynb") and path.stem not in stems:
            print(f"left alone (not a chapter in book.toml): {path.relative_to(book.root)}")
    print(f"{len(stems)} notebook pairs in sync ({len(written)} files written)")
    return 0


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="folder holding book.toml")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate book.toml, the notebook files and their Jupytext pairs")
    sync_cmd = sub.add_parser("sync", help="re-pair the chapters' notebooks (the side edited since the "
                              "last sync wins) and strip .ipynb outputs")
    sync_cmd.add_argument("--keep", action="append", type=Path, metavar="FILE",
                          help="when both sides of a pair were edited, keep this file (e.g. "
                               "notebooks/gillespie.py) and overwrite its twin; repeatable")
    build_cmd = sub.add_parser("build", help="execute the chapters and build the HTML book")
    build_cmd.add_argument("--smoke", action="store_true", help="run the small test configuration")
    build_cmd.add_argument("--only", action="append", metavar="CHAPTER",
                           help="execute only this chapter (e.g. gillespie; repeatable): the others "
                                "are rendered without outputs, a quick preview")
    build_cmd.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                           help="chapters executed at once, each with its share of the cores "
                                "(default: BOOK_JOBS, else one per core)")
    build_cmd.add_argument("--path-output", type=Path, default=None,
                           help="folder that receives _build/ (default: the book folder)")
    pdf_cmd = sub.add_parser("pdf", help="print the built book into one PDF (headless Chromium)")
    pdf_cmd.add_argument("--html", type=Path, default=None,
                         help="the built book to print (default: _build/html in the book folder)")
    pdf_cmd.add_argument("--output", type=Path, default=None,
                         help="the PDF to write (default: _build/book.pdf)")
    args = parser.parse_args(argv)

    from booktools import assets, pairing

    try:
        if args.command == "sync":
            return sync(load_book(args.root, for_sync=True), args.keep)
        book = load_book(args.root)
        if args.command == "check":
            pairing.check_all(book.root / NOTEBOOK_DIR, chapter_stems(book),
                              state_file=book.root / pairing.SYNC_STATE)
            print(f"book.toml: OK ({len(book.chapters)} chapters, notebooks paired)")
            return 0
        if args.command == "pdf":
            from booktools import pdf

            html = args.html or book.root / "_build" / "html"
            output = args.output or book.root / "_build" / "book.pdf"
            try:
                written = pdf.make_pdf(book, html, output)
            except pdf.PdfError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(f"The PDF is ready: {written}")
            return 0
        html = build(book, path_output=args.path_output, smoke=smoke_requested(args.smoke), only=args.only,
                     jobs=args.jobs)
    except (BookConfigError, pairing.PairingError, assets.AssetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"\nThe book is ready: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
