"""Every source file says what its author typed: no control characters hidden in a string.

A backslash in a non-raw docstring is a trap: ``"\\frac"`` is a form feed followed by ``rac``,
``"\\beta"`` a backspace, ``"\\v"`` a vertical tab. The rendered API text and the page then show
garbage while the source looks right. Python only warns about the escapes it does not know
(``"\\p"``); the ones it knows pass silently, so both are checked here.
"""

import ast
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("companion", "booktools", "benchmarks", "notebooks", "tests")
                 for p in (ROOT / folder).rglob("*.py"))
TEXTS = SOURCES + sorted((ROOT / "notebooks").glob("*.md")) + [ROOT / "README.md", ROOT / "book.toml"]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
DOC_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_control_characters_in_strings(path):
    text = path.read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unknown escape such as "\p" fails here, by line
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as error:  # what the "error" filter makes of an invalid escape
            pytest.fail(f"{path.relative_to(ROOT)}:{error.lineno}: {error.msg}")
    # A docstring has no business holding a tab either: "\text" in a non-raw string is one.
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            hit = (DOC_CONTROL if id(node) in docstrings else CONTROL).search(node.value)
            if hit:
                around = node.value[max(0, hit.start() - 20):hit.end() + 20]
                bad.append(f"line {node.lineno}: {hit.group()!r} in {around!r}")
    assert not bad, (f"{path.relative_to(ROOT)} has control characters in strings (a non-raw "
                     "string with a backslash?): " + "; ".join(bad))


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_control_characters_in_the_text(path):
    """The chapters' prose lives in comments, where the parse above cannot look: a "\\theta"
    written through a non-raw string lands there as a tab and "heta" (MathJax then shows "Math
    input error")."""
    bad = [f"line {n}: {hit.group()!r} in {line.strip()[:60]!r}"
           for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
           for hit in [DOC_CONTROL.search(line)] if hit]
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


def test_the_check_finds_a_form_feed_and_a_tab():
    """The scan is not vacuous: non-raw "\\frac" and "\\text" docstrings are caught."""
    for macro in ("\\frac{a}{b}", "\\text{a}"):
        source = f'def f():\n    """Ratio :math:`{macro}`."""\n'
        assert DOC_CONTROL.search(ast.parse(source).body[0].body[0].value.value), macro
