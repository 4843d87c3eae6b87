"""book.toml validation, config generation and the command line's one-line errors."""

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

from booktools import book as bk
from booktools import pairing
from booktools import sphinx_ext
from conftest import VALID_BOOK_TOML as VALID
from conftest import write_notebook

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture
def book_dir(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "intro.md").write_text("# Intro\n")
    write_notebook(tmp_path / "notebooks", "one")
    write_notebook(tmp_path / "notebooks", "two")
    (tmp_path / "book.toml").write_text(VALID, encoding="utf-8")
    return tmp_path


def test_valid_book_loads_in_order(book_dir):
    book = bk.load_book(book_dir)
    assert [c.notebook for c in book.chapters] == ["notebooks/one.py", "notebooks/two.py"]
    assert book.chapters[0].date == dt.date(2018, 6, 7)
    assert book.execution_mode == "force" and book.cell_timeout == 60
    assert book.repository is None


def replace(old, new, count=1):
    return lambda text: text.replace(old, new, count)


BAD = {
    "invalid toml": (replace('title = "T"', 'title = "T'), r"^book\.toml: not valid TOML"),
    "unknown top-level key": (lambda t: "colour = 1\n" + t, r"^book\.toml: unknown key 'colour'"),
    "unknown book key": (replace('title = "T"', 'title = "T"\ntitel = "T"'), r"^\[book\]: unknown key 'titel'"),
    "unknown chapter key": (replace('notebook = "notebooks/two.py"', 'notebok = "notebooks/two.py"'),
                            r"^\[\[chapters\]\] #2: unknown key 'notebok'"),
    "missing required key": (replace('language = "en"\n', ""), r"^\[book\]: missing required key 'language'"),
    "wrong type": (replace("timeout = 60", 'timeout = "60"'), r"^\[execution\]\.timeout: expected int, got str"),
    "bool is not a timeout": (replace("timeout = 60", "timeout = true"), r"^\[execution\]\.timeout: expected int"),
    "date as a string": (replace("date = 2018-06-07", 'date = "2018-06-07"'),
                         r"^\[\[chapters\]\] #1\.date: expected date \(a TOML date"),
    "datetime is not a date": (replace("date = 2018-06-07", "date = 2018-06-07T10:00:00"),
                               r"^\[\[chapters\]\] #1\.date: expected date"),
    "empty title": (replace('title = "T"', 'title = "  "'), r"^\[book\]\.title: must not be empty"),
    "empty authors": (replace('authors = ["A. Author"]', "authors = []"), r"^\[book\]\.authors: expected a non-empty list"),
    "bad language": (replace('language = "en"', 'language = "English"'), r"^\[book\]\.language: 'English' is not a language tag"),
    "bad repository": (replace('intro = ', 'repository = "github.com/x/y"\nintro = '),
                       r"^\[book\]\.repository: 'github\.com/x/y' is not an https address"),
    "unknown execution mode": (replace('mode = "force"', 'mode = "auto"'),
                               r"^\[execution\]\.mode: 'auto' is not one of force, cache, off"),
    "non-positive timeout": (replace("timeout = 60", "timeout = 0"), r"^\[execution\]\.timeout: 0 must be a positive"),
    "http address": (replace("https://kexue.fm/archives/5607", "http://kexue.fm/archives/5607"),
                     r"^\[\[chapters\]\] #1\.article: 'http://kexue\.fm/archives/5607' is not an address"),
    "other host": (replace("https://kexue.fm/archives/5607", "https://example.com/archives/5607"),
                   r"^\[\[chapters\]\] #1\.article: .* is not an address"),
    "non-numeric article": (replace("archives/5607", "archives/gillespie"), r"^\[\[chapters\]\] #1\.article"),
    "missing notebook": (replace("notebooks/two.py", "notebooks/three.py"),
                         r"^\[\[chapters\]\] #2\.notebook: file 'notebooks/three\.py' does not exist"),
    "notebook outside notebooks/": (replace("notebooks/two.py", "two.py"),
                                    r"^\[\[chapters\]\] #2\.notebook: 'two\.py' must be a py:percent file directly in notebooks/"),
    "ipynb given as the source": (replace("notebooks/two.py", "notebooks/two.ipynb"), r"must be a py:percent file"),
    "path escaping the book": (replace('intro = "notebooks/intro.md"', 'intro = "../intro.md"'),
                               r"^\[book\]\.intro: '\.\./intro\.md' must be a path inside the book folder"),
    "missing intro": (replace('intro = "notebooks/intro.md"', 'intro = "notebooks/preface.md"'),
                      r"^\[book\]\.intro: file 'notebooks/preface\.md' does not exist"),
    "duplicate notebook": (replace("notebooks/two.py", "notebooks/one.py"),
                           r"^\[\[chapters\]\] #2\.notebook: duplicate chapter, 'notebooks/one\.py' is already chapter #1"),
    "duplicate article": (replace("archives/4733", "archives/5607"),
                          r"^\[\[chapters\]\] #2\.article: duplicate chapter, 'https://kexue\.fm/archives/5607' is already chapter #1"),
    "no chapters": (lambda t: "chapters = []\n" + t.split("[[chapters]]")[0],
                    r"^book\.toml: \[\[chapters\]\] must list at least one chapter"),
}


@pytest.mark.parametrize("mutate, message", BAD.values(), ids=BAD.keys())
def test_bad_book_toml_fails_with_one_clear_line(book_dir, mutate, message):
    path = book_dir / "book.toml"
    path.write_text(mutate(VALID), encoding="utf-8")
    with pytest.raises(bk.BookConfigError) as info:
        bk.load_book(book_dir)
    text = str(info.value)
    assert "\n" not in text
    assert re.search(message, text), text


def test_unlisted_notebook_is_an_error(book_dir):
    write_notebook(book_dir / "notebooks", "stray")
    with pytest.raises(bk.BookConfigError, match=r"^notebooks/stray\.ipynb: notebook is not listed in book\.toml"):
        bk.load_book(book_dir)


def test_lonely_ipynb_is_unlisted(book_dir):
    (book_dir / "notebooks" / "two.py").rename(book_dir / "notebooks" / "elsewhere.py")
    with pytest.raises(bk.BookConfigError):
        bk.load_book(book_dir)


def test_missing_twin_is_an_error(book_dir):
    (book_dir / "notebooks" / "two.ipynb").unlink()
    with pytest.raises(bk.BookConfigError, match=r"#2\.notebook: 'notebooks/two\.py' has no \.ipynb twin"):
        bk.load_book(book_dir)


def test_missing_book_toml(tmp_path):
    with pytest.raises(bk.BookConfigError, match="book.toml: file not found"):
        bk.load_book(tmp_path)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "booktools", *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_cli_stops_with_one_line_naming_the_key(book_dir):
    (book_dir / "book.toml").write_text(VALID.replace("timeout = 60", "timeout = -5"), encoding="utf-8")
    result = run_cli("--root", str(book_dir), "check")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: [execution].timeout: -5 must be a positive number of seconds per cell"
    ]


def test_cli_names_an_out_of_sync_pair(book_dir):
    py = book_dir / "notebooks" / "one.py"
    py.write_text(py.read_text().replace("x = 1", "x = 2"))
    result = run_cli("--root", str(book_dir), "check")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "one.py and one.ipynb are out of sync" in lines[0], lines


def test_cli_check_passes_on_a_good_book(book_dir):
    result = run_cli("--root", str(book_dir), "check")
    assert result.returncode == 0, result.stderr
    assert "2 chapters" in result.stdout


# ------------------------------------------------------------------ generated Jupyter Book config

def test_toc_lists_intro_then_chapters_in_order(book_dir):
    toc = bk.jupyter_book_toc(bk.load_book(book_dir))
    assert toc["format"] == "jb-book" and toc["root"] == "notebooks/intro"
    assert [c["file"] for c in toc["parts"][0]["chapters"]] == ["notebooks/one", "notebooks/two"]
    assert len(toc["parts"]) == 1, "a book without notebooks/api/ has no API part"


def test_toc_ends_with_the_api_reference_index_first(book_dir):
    api = book_dir / "notebooks" / "api"
    api.mkdir()
    for name in ("zeta", "index", "alpha", "two", "one"):
        (api / f"{name}.md").write_text(f"# {name}\n")
    toc = bk.jupyter_book_toc(bk.load_book(book_dir))
    reference = toc["parts"][1]["chapters"]
    assert reference[0]["file"] == "notebooks/api/index"
    # the chapters' modules in the chapters' order, then the rest by name
    assert [s["file"] for s in reference[0]["sections"]] == [
        "notebooks/api/one", "notebooks/api/two", "notebooks/api/alpha", "notebooks/api/zeta"]


def test_config_maps_book_toml_and_stays_offline(book_dir, tmp_path):
    config = bk.jupyter_book_config(bk.load_book(book_dir), tmp_path / "assets")
    assert config["title"] == "T" and config["author"] == "A. Author"
    assert config["only_build_toc_files"] is True
    assert config["execute"] == {"execute_notebooks": "force", "timeout": 60, "allow_errors": False,
                                 "stderr_output": "warn"}
    sphinx = config["sphinx"]["config"]
    assert sphinx["include_patterns"] == ["notebooks/*.md", "notebooks/*.py", "notebooks/api/*.md"]
    assert "sphinx.ext.autodoc" in sphinx["extensions"] and "sphinx.ext.napoleon" in sphinx["extensions"]
    assert sphinx["html_static_path"] == [str((tmp_path / "assets").resolve()), str(sphinx_ext.STATIC)]
    assert "booktools.sphinx_ext" in sphinx["extensions"]
    # Relative to the static folder, never a CDN address; panels need no widget manager.
    assert not sphinx["mathjax_path"].startswith(("http:", "https:", "//"))
    assert sphinx["nb_ipywidgets_js"] == {}
    assert "repository" not in config and "launch_buttons" not in config
    assert config["html"]["use_repository_button"] is False


def test_repository_turns_on_buttons(book_dir, tmp_path):
    text = VALID.replace('intro = ', 'repository = "https://github.com/o/r"\nbranch = "dev"\nintro = ')
    (book_dir / "book.toml").write_text(text, encoding="utf-8")
    config = bk.jupyter_book_config(bk.load_book(book_dir), tmp_path)
    assert config["repository"] == {"url": "https://github.com/o/r", "path_to_book": "", "branch": "dev"}
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert config["launch_buttons"]["binderhub_url"].startswith("https://")
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["html"]["use_repository_button"] is True


def test_write_config_round_trips_through_yaml(book_dir, tmp_path):
    import yaml

    book = bk.load_book(book_dir)
    config_path, toc_path = bk.write_config(book, tmp_path / "cfg", tmp_path / "assets")
    assert yaml.safe_load(config_path.read_text()) == bk.jupyter_book_config(book, tmp_path / "assets")
    assert yaml.safe_load(toc_path.read_text()) == bk.jupyter_book_toc(book)


# ------------------------------------------------------------------------- the real book.toml

def test_repository_book_toml_is_valid_and_paired():
    book = bk.load_book(ROOT)
    pairing.check_all(ROOT / bk.NOTEBOOK_DIR)
    assert book.chapters


def test_every_chapter_cites_its_article_where_readers_start():
    book = bk.load_book(ROOT)
    intro = (ROOT / book.intro).read_text(encoding="utf-8")
    for chapter in book.chapters:
        assert chapter.article in intro, f"intro does not link {chapter.article}"
        first_cell = jupytext.read(ROOT / chapter.notebook).cells[0]
        assert first_cell.cell_type == "markdown"
        assert chapter.article in first_cell.source, f"{chapter.notebook} does not open with its article"
        assert chapter.original_title in first_cell.source, f"{chapter.notebook} lacks the original title"


def test_jupyter_book_reads_our_config_as_intended(book_dir, tmp_path):
    """Through Jupyter Book's own translation to Sphinx settings: our sphinx overrides must not
    wipe what Jupyter Book derives (theme options, buttons) and must drop sphinx-thebe."""
    from jupyter_book.config import get_final_config

    text = VALID.replace('intro = ', 'repository = "https://github.com/o/r"\nintro = ')
    (book_dir / "book.toml").write_text(text, encoding="utf-8")
    config = bk.jupyter_book_config(bk.load_book(book_dir), tmp_path / "assets")
    sphinx, _ = get_final_config(user_yaml=config, cli_config={"latex_individualpages": False},
                                 sourcedir=book_dir, validate=True, raise_on_invalid=True)
    theme = sphinx["html_theme_options"]
    assert theme["repository_url"] == "https://github.com/o/r" and theme["use_repository_button"]
    assert theme["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert "kexue.fm" in theme["extra_footer"]
    assert "sphinx_thebe" not in sphinx["extensions"] and "myst_nb" in sphinx["extensions"]
    assert (sphinx["nb_execution_mode"], sphinx["nb_execution_timeout"]) == ("force", 60)
    assert sphinx["nb_execution_allow_errors"] is False and sphinx["nb_output_stderr"] == "warn"


def test_equation_labels_are_unique_across_the_book():
    # Sphinx numbers equations book-wide: a label reused by two chapters fails the build.
    book = bk.load_book(ROOT)
    seen = {}
    for chapter in book.chapters:
        text = (ROOT / chapter.notebook).read_text(encoding="utf-8")
        for label in re.findall(r"\$\$\s*\((eq-[\w-]+)\)", text):
            assert label not in seen, f"equation label {label} is used by {seen[label]} and {chapter.notebook}"
            seen[label] = chapter.notebook
    assert len(seen) >= 6 * 5  # every chapter numbers its key equations


def test_pdf_without_chromium_says_how_to_install_it(tmp_path):
    """`make pdf` on a machine without Chromium: one line saying what to install, exit status 2."""
    book = bk.load_book(ROOT)
    html = tmp_path / "html"
    for page in [book.intro] + [c.notebook for c in book.chapters]:
        (html / page).with_suffix(".html").parent.mkdir(parents=True, exist_ok=True)
        (html / page).with_suffix(".html").write_text("<h1>x</h1>")
    env = {"PATH": str(Path(sys.executable).parent), "CHROMIUM": "no-such-chromium",
           "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "booktools", "pdf", "--html", str(html),
                             "--output", str(tmp_path / "b.pdf")],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "no Chromium" in result.stderr and "apt-get install chromium" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "b.pdf").exists()


def test_pdf_of_an_unbuilt_book_says_to_build_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "booktools", "pdf", "--html", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "run `make book` first" in result.stderr, result.stderr


def test_only_executes_the_named_chapters(book_dir, tmp_path):
    import yaml

    book = bk.load_book(book_dir)
    config_path, _ = bk.write_config(book, tmp_path / "cfg", tmp_path / "assets", only=["two"])
    config = yaml.safe_load(config_path.read_text())
    assert config["execute"]["exclude_patterns"] == ["one.py"]
    assert config["sphinx"]["config"]["suppress_warnings"] == ["ref.numref"]
    full = yaml.safe_load(bk.write_config(book, tmp_path / "c2", tmp_path / "assets")[0].read_text())
    assert "exclude_patterns" not in full["execute"]
    assert "suppress_warnings" not in full["sphinx"]["config"]


@pytest.mark.parametrize("only", [["three"], [], ["one", "One"]])
def test_only_rejects_what_is_not_a_chapter(book_dir, only):
    with pytest.raises(bk.BookConfigError, match=r"^--only: .* is not a chapter"):
        bk.chapter_names(bk.load_book(book_dir), only)


def test_pagecheck_on_an_unbuilt_book_says_to_build_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "booktools.pagecheck", str(tmp_path / "none")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "run `make book` first" in result.stderr, result.stderr


# ------------------------------------------- check catches what would fail later, in one line

def _conflicted(text):
    return f"<<<<<<< HEAD\n{text}=======\n{text}>>>>>>> other\n"


MALFORMED = {
    # name: (file to change, how, what the one line must say)
    "book.toml not UTF-8": ("book.toml", lambda b: b.replace(b"A. Author", "Jos\u00e9".encode("latin-1")),
                            r"^book\.toml: not UTF-8 text \(byte 0xe9 .*save it with UTF-8"),
    "notebook not UTF-8": ("notebooks/one.py", lambda b: b.replace(b"x = 1", "x = '\u00e9'".encode("latin-1")),
                           r"^notebooks/one\.py: not UTF-8 text"),
    "merge conflict in the ipynb": ("notebooks/one.ipynb", lambda b: _conflicted(b.decode()).encode(),
                                    r"^notebooks/one\.ipynb: it holds git merge-conflict markers; .*"
                                    r"sync --keep notebooks/one\.py"),
    "truncated ipynb": ("notebooks/one.ipynb", lambda b: b[: len(b) // 2],
                        r"^notebooks/one\.ipynb: not a valid notebook"),
    "month 13": ("book.toml", lambda b: b.replace(b"date = 2018-06-07", b"date = 2018-13-07"),
                 r"^book\.toml: not valid TOML: .*the key 'date': '2018-13-07' .*a TOML date like 2018-06-07"),
    "date with slashes": ("book.toml", lambda b: b.replace(b"date = 2018-06-07", b"date = 2018/06/07"),
                          r"^book\.toml: not valid TOML: .*the key 'date'"),
    "./ spelling": ("book.toml", lambda b: b.replace(b'"notebooks/one.py"', b'"./notebooks/one.py"'),
                    r"^\[\[chapters\]\] #1\.notebook: write '\./notebooks/one\.py' as 'notebooks/one\.py'"),
    "// spelling": ("book.toml", lambda b: b.replace(b'"notebooks/two.py"', b'"notebooks//two.py"'),
                    r"^\[\[chapters\]\] #2\.notebook: write 'notebooks//two\.py' as 'notebooks/two\.py'"),
    "a chapter twice, two spellings": (
        "book.toml", lambda b: b.replace(b'"notebooks/two.py"', b'"./notebooks/one.py"'),
        r"^\[\[chapters\]\] #2\.notebook: write '\./notebooks/one\.py' as 'notebooks/one\.py'"),
    "intro is a chapter": ("book.toml", lambda b: b.replace(b'"notebooks/intro.md"', b'"notebooks/one.py"'),
                           r"^\[book\]\.intro: 'notebooks/one\.py' must be a Markdown file directly in notebooks/"),
    "intro outside notebooks/": ("book.toml", lambda b: b.replace(b'"notebooks/intro.md"', b'"README.md"'),
                                 r"^\[book\]\.intro: 'README\.md' must be a Markdown file directly in notebooks/"),
    "intro in a subfolder": ("book.toml", lambda b: b.replace(b'"notebooks/intro.md"', b'"notebooks/front/intro.md"'),
                             r"^\[book\]\.intro: .* must be a Markdown file directly in notebooks/"),
    "intro with another suffix": ("book.toml", lambda b: b.replace(b'"notebooks/intro.md"', b'"notebooks/intro.txt"'),
                                  r"^\[book\]\.intro: 'notebooks/intro\.txt' must be a Markdown file"),
    "intro named as a chapter": ("book.toml", lambda b: b.replace(b'"notebooks/intro.md"', b'"notebooks/one.md"'),
                                 r"^\[book\]\.intro: 'notebooks/one\.md' has the name of a chapter"),
    "chapters = [] under a table": (
        "book.toml", lambda b: b.split(b"[[chapters]]")[0] + b"chapters = []\n",
        r"^\[execution\]: unknown key 'chapters' \(a `chapters = \.\.\.` line below \[execution\] belongs"),
}


@pytest.mark.parametrize("relative, change, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_check_names_each_malformed_input_in_one_line(book_dir, capsys, relative, change, message):
    # Every file an intro variant names exists: the check must judge the name, not existence.
    for other in ("README.md", "notebooks/front/intro.md", "notebooks/intro.txt", "notebooks/one.md"):
        (book_dir / other).parent.mkdir(exist_ok=True)
        (book_dir / other).write_text("# Intro\n")
    path = book_dir / relative
    path.write_bytes(change(path.read_bytes()))
    assert bk.main(["--root", str(book_dir), "check"]) == 2  # returned: no exception escaped
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert re.search(message, lines[0][len("error: "):]), lines[0]


def test_non_utf8_book_toml_gives_no_traceback_from_the_command_line(book_dir):
    path = book_dir / "book.toml"
    path.write_bytes(path.read_bytes().replace(b"A. Author", "Jos\u00e9".encode("latin-1")))
    result = run_cli("--root", str(book_dir), "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr


@pytest.mark.parametrize("relative", ["book.toml", "notebooks/one.py", "notebooks/one.ipynb"])
def test_a_byte_order_mark_is_accepted(book_dir, capsys, relative):
    path = book_dir / relative
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert bk.main(["--root", str(book_dir), "check"]) == 0, capsys.readouterr().err


def test_book_toml_that_is_a_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "book.toml").mkdir()
    assert bk.main(["--root", str(tmp_path), "check"]) == 2
    assert re.fullmatch(r"error: book\.toml: cannot be read \(.*\)\n", capsys.readouterr().err)


def test_build_without_npm_or_assets_is_one_line(book_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert bk.main(["--root", str(book_dir), "build", "--path-output", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.match(r"error: npm is not on PATH", lines[0]), lines


# ----------------------------------------------------------------------------- sync, as run

def test_sync_touches_only_the_chapters_of_book_toml(book_dir, capsys):
    import nbformat

    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("slow()", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="result of a 3-hour run\n")])])
    nbformat.write(scratch, book_dir / "notebooks" / "scratch.ipynb")
    (book_dir / "notebooks" / "utils.py").write_text("def helper():\n    return 1\n")
    strays = ("scratch.ipynb", "utils.py")
    before = {name: (book_dir / "notebooks" / name).read_bytes() for name in strays}
    assert bk.main(["--root", str(book_dir), "sync"]) == 0
    out = capsys.readouterr().out
    assert "left alone (not a chapter in book.toml): notebooks/scratch.ipynb" in out
    assert {name: (book_dir / "notebooks" / name).read_bytes() for name in strays} == before
    assert not (book_dir / "notebooks" / "scratch.py").exists()
    assert not (book_dir / "notebooks" / "utils.ipynb").exists()


def test_sync_that_would_lose_an_edit_is_one_line_and_exit_2(book_dir, capsys):
    assert bk.main(["--root", str(book_dir), "sync"]) == 0
    py, ipynb = book_dir / "notebooks" / "one.py", book_dir / "notebooks" / "one.ipynb"
    py.write_text(py.read_text().replace("x = 1", "x = 2"))
    ipynb.write_text(ipynb.read_text().replace("# one", "# One, retitled"))
    before = (py.read_bytes(), ipynb.read_bytes())
    capsys.readouterr()
    assert bk.main(["--root", str(book_dir), "sync"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "notebooks/one.py and one.ipynb were both edited" in lines[0], lines
    assert "--keep notebooks/one.py" in lines[0]
    assert (py.read_bytes(), ipynb.read_bytes()) == before
    assert bk.main(["--root", str(book_dir), "check"]) == 2
    assert "both sides were edited since the last sync" in capsys.readouterr().err
    assert bk.main(["--root", str(book_dir), "sync", "--keep", "notebooks/one.ipynb"]) == 0
    assert "x = 1" in py.read_text() and "retitled" in py.read_text()


def test_check_says_which_side_sync_will_keep(book_dir, capsys):
    assert bk.main(["--root", str(book_dir), "sync"]) == 0
    py = book_dir / "notebooks" / "one.py"
    py.write_text(py.read_text().replace("x = 1", "x = 2"))
    capsys.readouterr()
    assert bk.main(["--root", str(book_dir), "check"]) == 2
    line = capsys.readouterr().err.strip()
    assert "out of sync" in line and "it keeps one.py, the side edited since the last sync" in line, line
