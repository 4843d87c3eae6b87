"""companion.widgets: static panels (frames, ordering, caps), live sliders, and input checks."""

import base64
import io
import itertools
import json
import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import companion.widgets as widgets
from companion.style import figure
from companion.widgets import Choice, LogRange, Range, demo

DPI = 30


def line(a=1.0, b=0.0, kind="solid"):
    """A line of slope ``a`` and offset ``b``: distinct parameters give visibly distinct frames."""
    fig, ax = figure(width=2, height=1.5)
    x = np.linspace(0, 1, 5)
    ax.plot(x, a * x + b, linestyle=kind)
    ax.set_ylim(-4, 4)
    return fig


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("COMPANION_WIDGETS", raising=False)
    monkeypatch.delenv("COMPANION_SMOKE", raising=False)


def panel_data(page):
    return json.loads(re.search(r'<script type="application/json">(.*?)</script>', page, re.S)[1])


def parse(page):
    """(frames as image bytes, labels per parameter, <input> attributes, initial image bytes)."""
    data = panel_data(page)
    assert data["type"] == "image/webp"
    frames = [base64.b64decode(f) for f in data["frames"]]
    inputs = [dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))
              for attrs in re.findall(r"<input ([^>]*)>", page)]
    first = re.search(r'<img [^>]*src="data:image/webp;base64,([^"]+)"', page)[1]
    return frames, data["labels"], inputs, base64.b64decode(first)


def pixels(image):
    return np.asarray(Image.open(io.BytesIO(image)).convert("RGBA"))


def render(*args):
    buffer = io.BytesIO()
    line(*args).savefig(buffer, format="png", dpi=DPI)
    return pixels(buffer.getvalue())


def static(**params):
    return demo(line, mode="static", dpi=DPI, **params).html


# --- static panel -----------------------------------------------------------------------------


def test_static_frames_are_lossless_webp_of_one_size_one_per_setting():
    page = static(a=Range(-1, 1, 1), b=Range(-1, 2, 1, value=0))
    frames, labels, _, _ = parse(page)
    assert len(frames) == 3 * 4 and labels == [["-1", "0", "1"], ["-1", "0", "1", "2"]]
    # RIFF....WEBPVP8L: the lossless bitstream (VP8 without L would be lossy).
    assert all(f[:4] == b"RIFF" and f[8:16] == b"WEBPVP8L" for f in frames)
    assert {Image.open(io.BytesIO(f)).size for f in frames} == {(2 * DPI, int(1.5 * DPI))}
    assert len(set(frames)) == len(frames), "different settings must give different frames"
    assert "Precomputed preview: 12 settings. Run the notebook for the live version." in page


def test_static_is_deterministic_and_frame_order_matches_the_js_index():
    a, b = Range(-1, 1, 1), Range(-1, 2, 1, value=0)
    page = static(a=a, b=b)
    assert page == static(a=a, b=b), "two runs must give byte-identical HTML"
    frames, _, inputs, first = parse(page)
    # The script computes index = i * len(b) + j; the Python order must agree with it.
    for i, av in enumerate(a.values):
        for j, bv in enumerate(b.values):
            assert np.array_equal(pixels(frames[i * len(b.values) + j]), render(av, bv))
    assert [x["data-param"] for x in inputs] == ["a", "b"]
    ranges = [(x["min"], x["max"], x["step"], x["value"]) for x in inputs]
    assert ranges == [("0", "2", "1", "0"), ("0", "3", "1", "1")]
    assert first == frames[0 * 4 + 1], "the initial image is the default setting (a=-1, b=0)"


def test_static_html_is_self_contained_and_panels_have_distinct_ids():
    kinds = {"solid line": "solid", "</script><b>dashed": "--"}
    page = static(a=Range(-1, 1, 1), kind=Choice(kinds, value="--"))
    _, labels, inputs, _ = parse(page)
    assert labels[1] == list(kinds) and inputs[1]["value"] == "1"
    assert "<output>&lt;/script&gt;&lt;b&gt;dashed</output>" in page
    outside_data = re.sub(r"[A-Za-z0-9+/=]{40,}", "", page)  # base64 may spell "http" by chance
    assert "http" not in outside_data and "//" not in outside_data and "url(" not in outside_data
    assert not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page
    assert re.findall(r'src="([^:"]*):', page) == ["data"], "the only src is the image's data: URI"
    other = static(a=Range(-1, 1, 1), kind=Choice(kinds))
    ids = [re.search(r'id="(companion-panel-\w+)"', p)[1] for p in (page, other)]
    assert ids[0] != ids[1] and ids[0] in page.split("<script>")[1]


# Runs the panel's own inline script in Node against a minimal stand-in for the DOM.
NODE_HARNESS = r"""
const page = require("fs").readFileSync(0, "utf8");
const json = /<script type="application\/json">([\s\S]*?)<\/script>/.exec(page)[1];
const code = /<script>([\s\S]*?)<\/script>/.exec(page)[1];
const inputs = [...page.matchAll(/<input [^>]*value="(\d+)"/g)].map(m => ({
  value: m[1], handlers: [],
  addEventListener(type, f) { if (type === "input") this.handlers.push(f); }}));
const outputs = inputs.map(() => ({textContent: ""})), img = {src: "", alt: ""}, asked = [];
const panel = {querySelector: s => s.startsWith("script") ? {textContent: json} : img,
               querySelectorAll: s => s.startsWith("input") ? inputs : outputs};
global.document = {currentScript: null, getElementById: id => (asked.push(id), panel)};
eval(code);
const shown = JSON.parse(process.argv[1]).map(setting => {
  setting.forEach((i, a) => { inputs[a].value = String(i); });
  inputs[setting.length - 1].handlers.forEach(f => f());
  return [img.src, outputs.map(o => o.textContent), img.alt];
});
console.log(JSON.stringify({asked, shown}));
"""


def test_panel_script_shows_the_frame_of_the_chosen_setting():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the index arithmetic is still checked in Python")
    page = static(a=Range(-1, 1, 1), b=Range(-1, 2, 1, value=0), kind=Choice(["solid", "--"]))
    frames, labels, _, _ = parse(page)
    settings = list(itertools.product(range(3), range(4), range(2)))
    result = subprocess.run([node, "-e", NODE_HARNESS, json.dumps(settings)], input=page,
                            capture_output=True, text=True, check=True, timeout=30)
    result = json.loads(result.stdout)
    assert result["asked"] == [re.search(r'id="([^"]+)"', page)[1]]
    for (i, j, k), (src, shown, alt) in zip(settings, result["shown"]):
        image = base64.b64decode(src.removeprefix("data:image/webp;base64,"))
        assert image == frames[(i * 4 + j) * 2 + k]
        assert shown == [labels[0][i], labels[1][j], labels[2][k]]
        assert alt == (f"A line of slope ``a`` and offset ``b``: distinct parameters give visibly "
                       f"distinct frames (a = {labels[0][i]}, b = {labels[1][j]}, "
                       f"kind = {labels[2][k]})")
    assert np.array_equal(pixels(frames[(2 * 4 + 3) * 2 + 1]), render(1, 2, "--"))


def test_pyplot_figures_are_closed_after_rendering():
    import matplotlib.pyplot as plt

    def with_pyplot(a=1):
        fig = plt.figure(figsize=(1, 1))
        plt.plot([0, a])
        return fig

    before = plt.get_fignums()
    demo(with_pyplot, mode="static", dpi=DPI, a=Range(0, 2, 1))
    assert plt.get_fignums() == before


# --- caps -------------------------------------------------------------------------------------


def test_thinning_keeps_ends_and_default_and_fits_the_cap():
    a, b = Range(0, 1, 0.05, value=0.35), LogRange(1, 1000, num=10)
    page = demo(line, mode="static", dpi=DPI, max_frames=12, a=a, b=b).html
    frames, labels, inputs, _ = parse(page)
    assert len(frames) <= 12 and len(frames) == len(labels[0]) * len(labels[1])
    for spec, kept, attrs in zip((a, b), labels, inputs):
        assert kept[0] == spec.labels[0] and kept[-1] == spec.labels[-1]
        assert kept[int(attrs["value"])] == spec.labels[spec.default_index]
        assert kept == sorted(kept, key=float) and set(kept) <= set(spec.labels)
    assert len(a.values) == 21 and len(b.values) == 10, "thinning never touches the specs"
    live = demo(line, mode="live", a=a, b=b)
    assert live.children[0].max == 1 and live.children[0].step == 0.05


def test_thinning_reports_n_of_m_and_smoke_keeps_only_ends_and_default(monkeypatch):
    params = dict(a=Range(-1, 1, 0.25, value=0.5), b=Range(-1, 2, 1))
    assert len(parse(static(**params))[0]) == 9 * 4  # under MAX_FRAMES: nothing thinned
    monkeypatch.setenv("COMPANION_SMOKE", "1")
    page = static(**params)
    assert parse(page)[1] == [["-1", "0.5", "1"], ["-1", "2"]]
    assert "Precomputed preview: 6 of 36 settings." in page


def test_every_end_and_default_survives_the_cap_of_the_capsule_soft_kmeans_panel():
    # The review's case: K's low end (0.1, where every centre is the overall mean) was dropped.
    specs = dict(K=LogRange(0.1, 100, num=7, value=1.0), iters=Range(1, 20, step=1, value=5),
                 k=Range(2, 5, step=1, value=4), metric=Choice(["euclidean", "normalized_dot"]))
    # Three of its four sliders have an inner default: 3 * 3 * 3 * 2 frames at the least, which
    # the chapter allows with max_frames=54.
    with pytest.raises(ValueError, match=r"takes 54 frames, 6 over max_frames=48"):
        widgets._thin("plot_soft_kmeans", specs, widgets.MAX_FRAMES)
    kept = widgets._thin("plot_soft_kmeans", specs, 54)
    assert math.prod(map(len, kept.values())) == 54
    for key, spec in specs.items():
        assert {0, len(spec.values) - 1, spec.default_index} <= set(kept[key]), key


def test_a_cap_below_the_ends_and_defaults_names_the_demo_and_the_shortfall():
    a, b, c = Range(0, 4, 1, value=2), Range(0, 4, 1, value=1), Choice(["x", "y", "z"], value="y")
    with pytest.raises(ValueError, match=r"demo\(line3\): keeping both ends and the default of "
                                         r"every slider takes 27 frames, 19 over max_frames=8"):
        demo(line3, mode="static", max_frames=8, a=a, b=b, c=c)
    page = demo(line3, mode="static", dpi=DPI, max_frames=27, a=a, b=b, c=c).html
    assert parse(page)[1] == [["0", "2", "4"], ["0", "1", "4"], ["x", "y", "z"]]


def test_a_single_option_is_shown_but_disabled():
    page = demo(line3, mode="static", dpi=DPI, a=Range(0, 2, 1), b=Range(0, 1, 1),
                c=Choice(["y"])).html
    assert ["disabled" in attrs for attrs in parse(page)[2]] == [False, False, True]


def line3(a, b, c):
    return line(a + b * (c == "y"))


def test_page_weight_cap_names_the_demo_and_the_excess(monkeypatch):
    monkeypatch.setattr(widgets, "MAX_PANEL_BYTES", 1000)
    with pytest.raises(ValueError, match=r"demo\(line\): its 3 frames take ([\d,]+) bytes, "
                                         r"[\d,]+ over MAX_PANEL_BYTES=1,000.*dpi") as error:
        static(a=Range(-1, 1, 1))
    size = int(re.search(r"take ([\d,]+) bytes", str(error.value))[1].replace(",", ""))
    excess = int(re.search(r"bytes, ([\d,]+) over", str(error.value))[1].replace(",", ""))
    assert excess == size - 1000 > 0


def test_alt_text_says_what_the_figure_shows_and_its_setting():
    page = static(a=Range(-1, 1, 1, label="slope"), b=Range(-1, 2, 1, value=0))
    alt = re.search(r'<img [^>]*alt="([^"]*)"', page)[1]
    assert alt == ("A line of slope ``a`` and offset ``b``: distinct parameters give visibly "
                   "distinct frames (slope = -1, b = 0)")
    assert panel_data(page)["names"] == ["slope", "b"]


# --- modes ------------------------------------------------------------------------------------


def test_mode_from_argument_env_and_default(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    a = Range(0, 1, 1)
    assert isinstance(demo(line, a=a), ipywidgets.Widget)
    monkeypatch.setenv("COMPANION_WIDGETS", "static")
    assert "companion-panel" in demo(line, dpi=DPI, a=a)._repr_html_()
    assert isinstance(demo(line, mode="live", a=a), ipywidgets.Widget)
    monkeypatch.setenv("COMPANION_WIDGETS", "live")
    assert hasattr(demo(line, mode="static", dpi=DPI, a=a), "_repr_html_")
    monkeypatch.setenv("COMPANION_WIDGETS", "html")
    with pytest.raises(ValueError, match=r"COMPANION_WIDGETS='html'.*'live', 'static'"):
        demo(line, a=a)
    with pytest.raises(ValueError, match=r"mode='LIVE'"):
        demo(line, mode="LIVE", a=a)


def test_import_without_ipywidgets_and_live_mode_says_what_to_install():
    code = ("import sys; sys.modules['ipywidgets'] = None; import companion.widgets as w\n"
            "try:\n    w.demo(lambda a: None, mode='live', a=w.Range(0, 1, 1))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'kexue-companion[book]'" in out.stdout


# --- live widget ------------------------------------------------------------------------------


def test_live_controls_match_the_specs_and_rerender_on_change():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []

    def recorded(a=1.0, b=0.0, n=1, kind="solid"):
        calls.append(dict(a=a, b=b, n=n, kind=kind))
        return line(a, b, kind)

    log = LogRange(0.1, 100, num=13, value=1.0)
    specs = dict(a=Range(-1, 1, 0.25, value=0.5, label="slope"), b=log, n=Range(2, 10, 2),
                 kind=Choice({"line": "solid", "dash": "--"}))
    a, b, n, kind, out = demo(recorded, **specs).children
    assert isinstance(out, ipywidgets.Output) and type(a) is ipywidgets.FloatSlider
    assert (a.min, a.max, a.step, a.value) == (-1, 1, 0.25, 0.5)
    assert type(n) is ipywidgets.IntSlider and (n.min, n.max, n.step, n.value) == (2, 10, 2, 2)
    assert type(b) is ipywidgets.FloatLogSlider and b.base == 10 and b.value == pytest.approx(1.0)
    np.testing.assert_allclose(b.base ** (b.min + b.step * np.arange(13)), log.values, rtol=1e-12)
    assert type(kind) is ipywidgets.Dropdown
    assert kind.options == (("line", "solid"), ("dash", "--"))
    assert (a.description, b.description) == ("slope", "b")
    assert not any(w.continuous_update for w in (a, b, n))
    assert calls == [dict(a=0.5, b=pytest.approx(1.0), n=2, kind="solid")]
    a.value = -0.75
    kind.value = "--"
    assert calls[1:] == [dict(a=-0.75, b=pytest.approx(1.0), n=2, kind="solid"),
                         dict(a=-0.75, b=pytest.approx(1.0), n=2, kind="--")]


# --- specs and wiring -------------------------------------------------------------------------


def test_spec_values_labels_and_defaults():
    assert Range(0, 1, 0.1, value=0.3).values[3] == 0.3 and Range(0, 1, 0.1).value == 0
    assert Range(2, 10, 1, value=4).default_index == 2 and Range(2, 10, 1).labels[-1] == "10"
    log = LogRange(0.1, 100, num=13, value=1.0)
    assert log.values[0] == 0.1 and log.values[-1] == 100 and log.default_index == 4
    assert LogRange(1, 100, num=5).value == 10
    assert LogRange(1, 1000, num=4).labels == ("1", "10", "100", "1e+03")
    assert Choice(["euclidean", "dot"]).value == "euclidean"
    assert Choice((1, 2), value=2).labels == ("1", "2")
    assert Choice({"Euclid": "euclidean", "dot": "dot"}).labels == ("Euclid", "dot")


@pytest.mark.parametrize("make, error, message", [
    (lambda: Range(1, 0, 0.1), ValueError, r"lo=1 must be less than hi=0"),
    (lambda: Range(0, 1, 0), ValueError, r"step must be > 0, got step=0"),
    (lambda: Range(0, 1, -0.5), ValueError, r"step=-0.5"),
    (lambda: Range(0, 1, 0.3), ValueError, r"step=0.3 does not divide"),
    (lambda: Range(0, 1, 0.1, value=0.35), ValueError, r"value=0.35 is not a stop.*nearest.*0.3"),
    (lambda: Range(0, 1, 0.1, value=2, label="K"), ValueError, r"Range\('K'\): value=2"),
    (lambda: Range(float("nan"), 1, 0.1), ValueError, r"lo must be finite, got nan"),
    (lambda: Range(0, 1, 0.5, value=float("inf")), ValueError, r"value must be finite"),
    (lambda: Range("0", 1, 0.5), TypeError, r"lo must be a number, got '0'"),
    (lambda: LogRange(0.1, 100, num=1), ValueError, r"num must be an integer >= 2, got num=1"),
    (lambda: LogRange(0, 100, num=5), ValueError, r"lo must be > 0.*lo=0"),
    (lambda: LogRange(-1, 100, num=5), ValueError, r"lo=-1"),
    (lambda: LogRange(10, 1, num=5), ValueError, r"lo=10 must be less than hi=1"),
    (lambda: LogRange(1, 100, num=3, value=5), ValueError, r"value=5 is not one of the 3 stops"),
    (lambda: Choice([]), ValueError, r"options must not be empty"),
    (lambda: Choice(["euclidean", "dot"], value="cos"), ValueError, r"value='cos' is not one of"),
    (lambda: Choice("abc"), TypeError, r"options must be a list, tuple or dict, got 'abc'"),
    (lambda: Choice([1, "1"]), ValueError, r"labels must be distinct"),
])
def test_spec_validation(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_demo_rejects_bad_wiring():
    with pytest.raises(TypeError, match=r"line\(\) has no parameter 'slope'; .* are: a, b, kind"):
        demo(line, mode="static", slope=Range(0, 1, 1))
    with pytest.raises(TypeError, match=r"parameter 'a' is 0.5; give a Range, LogRange or Choice"):
        demo(line, mode="static", a=0.5)
    with pytest.raises(ValueError, match=r"demo\(line\) needs at least one parameter"):
        demo(line, mode="static")
    with pytest.raises(ValueError, match=r"max_frames must be an integer >= 1, got 0"):
        demo(line, mode="static", max_frames=0, a=Range(0, 1, 1))
    with pytest.raises(TypeError, match=r"'dpi' is demo's own keyword"):
        demo(line, mode="static", dpi=Range(50, 100, 50))

    def not_a_figure(a=1):
        return [a]

    with pytest.raises(TypeError, match=r"not_a_figure\(\) must return a matplotlib.*got list"):
        demo(not_a_figure, mode="static", a=Range(0, 1, 1))
    assert isinstance(line(), Figure)


def _demo_plots():
    """Every plot function a chapter wires to demo(...), as (module, name)."""
    from pathlib import Path

    found = set()
    for source in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.py")):
        aliases = dict(re.findall(r"^from companion import (\w+) as (\w+)$", source.read_text(), re.M))
        aliases = {alias: module for module, alias in aliases.items()}
        aliases.update({m: m for m in re.findall(r"^from companion import (\w+)$", source.read_text(), re.M)})
        for alias, name in re.findall(r"demo\((?:functools\.partial\()?(\w+)\.(plot_\w+)", source.read_text()):
            found.add((aliases.get(alias, alias), name))
    return sorted(found)


@pytest.mark.parametrize("module,name", _demo_plots())
def test_every_panel_has_plain_alt_text(module, name):
    """A panel's alt text is its plot function's first docstring paragraph: plain words that say
    what the picture shows, not a label, not markup."""
    import importlib

    plot = getattr(importlib.import_module(f"companion.{module}"), name)
    alt = widgets._describe(plot, name)
    assert 8 <= len(alt.split()) and len(alt) <= 500, alt  # a description, not an essay
    assert not alt.lower().startswith(("slider demo", "introduced in", "figure drawn by")), alt
    assert not any(mark in alt for mark in (":math:", ":func:", "``", "\\")), alt


def test_the_alt_text_test_sees_every_chapter():
    assert {module for module, _ in _demo_plots()} == {"capsule", "focal", "nce", "fgan", "vib", "gillespie"}
