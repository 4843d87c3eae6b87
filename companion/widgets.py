"""Slider demos: one call that is live in JupyterLab and a precomputed panel in the built book.

Used by every chapter's slider demos (first in: Gillespie simulation).

A demo is a plain function that takes keyword parameters and returns a ``matplotlib`` ``Figure``
built with :func:`companion.style.figure`. A notebook only wires it to sliders::

    demo(plot_birth_death, k=LogRange(1, 50, num=5), x0=Range(0, 40, step=20, value=0))

Two modes, chosen by ``mode=`` or else by the environment variable ``COMPANION_WIDGETS``
(:func:`companion.display_mode`):

* ``live`` (the default, a reader in JupyterLab): ipywidgets sliders; every change re-calls the
  plot function. Needs ipywidgets (the distribution's ``book`` extra).
* ``static`` (set by the book builder; the built book has no kernel): the plot function is called
  for every combination of the parameters' kept stops and the frames (lossless WebP) are embedded
  in one self-contained HTML panel whose range inputs swap the frames with a few lines of inline
  JavaScript. The book build moves the frames into files of their own, fetched when the panel is
  first scrolled into view, so a page stays light.

Every static panel keeps, for every slider, **both ends and the default**; what a reader can reach
in JupyterLab's range can be seen in the book. Beyond that, the caps keep pages light and builds
fast: at most ``MAX_FRAMES`` frames per panel (``max_frames=`` overrides it), reached by thinning
the longest axis to evenly spaced stops; in smoke runs (``companion.is_smoke()``) only the ends
and the default; and at most ``MAX_PANEL_BYTES`` of frames per panel. A panel that cannot meet a
cap raises ``ValueError`` naming the demo and by how much it misses, rather than silently drop a
stop or bloat the page. The keywords ``mode``, ``dpi`` and ``max_frames`` belong to ``demo`` and
cannot be slider names.

The frame's alt text is the first line of the plot function's docstring followed by the current
setting, e.g. ``"The KL integrand and its Monte-Carlo estimate (μ = 1.5, log σ² = 0)"``.
"""

import base64
import hashlib
import html
import inspect
import io
import itertools
import json
import math
import numbers
import sys
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure

import companion

MODES = companion.DISPLAY_MODES
MAX_FRAMES = 48
MAX_PANEL_BYTES = 1_000_000  # of encoded frames; a chapter page holds several panels
DPI = 80
FRAME_MIME = "image/webp"
# Lossless: figures are lines and text, which lossy codecs smear. About half a PNG's size;
# effort "method 2" is as small as 4-6 here, at a 25th of method 6's 1.2 s a frame.
FRAME_OPTIONS = {"lossless": True, "quality": 100, "method": 2}
# A slider thinned to a single stop cannot move; it stays visible (showing the value) but inert.
_DISABLED = ' disabled=""'


def _fmt(x) -> str:
    return str(x) if isinstance(x, numbers.Integral) else f"{x:.3g}"


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _number(spec, field, x):
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{spec}: {field} must be a number, got {x!r}")
    if not math.isfinite(x):
        raise ValueError(f"{spec}: {field} must be finite, got {x!r}")
    return x


def _interval(where, spec):
    lo, hi = (_number(where, f, getattr(spec, f)) for f in ("lo", "hi"))
    if not lo < hi:
        raise ValueError(f"{where}: lo={lo!r} must be less than hi={hi!r}")
    return lo, hi


def _snap(where, value, stops, description, **tolerance):
    value = _number(where, "value", value)
    index = int(np.argmin([abs(s - value) for s in stops]))
    if not math.isclose(value, stops[index], **tolerance):
        raise ValueError(f"{where}: value={value!r} is not {description}; "
                         f"nearest stop is {_fmt(stops[index])}")
    return index


class _Spec:
    """Read-only ``values`` (the stops), ``labels`` (their display text), ``default_index``."""

    values = property(lambda self: self._values)
    labels = property(lambda self: self._labels)
    default_index = property(lambda self: self._index)

    def _where(self):
        return type(self).__name__ + (f"({self.label!r})" if self.label else "")

    def _set(self, values, labels, index):
        # Frozen dataclass: derived state is written once, here, and the given value is
        # replaced by the exact stop so that live and static modes call the plot identically.
        for name, v in dict(_values=tuple(values), _labels=tuple(labels), _index=index).items():
            object.__setattr__(self, name, v)
        object.__setattr__(self, "value", self._values[index])


@dataclass(frozen=True)
class Range(_Spec):
    """Evenly spaced stops ``lo, lo + step, ..., hi``; an IntSlider when all are integers."""

    lo: float
    hi: float
    step: float
    value: float | None = None
    label: str | None = None

    def __post_init__(self):
        where = self._where()
        lo, hi = _interval(where, self)
        step = _number(where, "step", self.step)
        if not step > 0:
            raise ValueError(f"{where}: step must be > 0, got step={step!r}")
        steps = (hi - lo) / step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ValueError(f"{where}: step={step!r} does not divide hi - lo = {hi - lo!r} "
                             f"({steps:.6g} steps); pick a step that lands exactly on hi")
        if all(isinstance(x, numbers.Integral) for x in (lo, hi, step)):
            stops = [int(x) for x in range(lo, hi + 1, step)]
        else:  # rounded to the decimals of lo and step, so 0.1 * 3 is 0.3 for the plot function
            digits = _decimals(lo, step)
            stops = [float(x) if digits is None else round(float(x), digits)
                     for x in np.linspace(lo, hi, round(steps) + 1)]
        index = 0 if self.value is None else _snap(
            where, self.value, stops, f"a stop of {_fmt(lo)}..{_fmt(hi)} in steps of {_fmt(step)}",
            rel_tol=1e-9, abs_tol=1e-9 * step)
        self._set(stops, map(_fmt, stops), index)


@dataclass(frozen=True)
class LogRange(_Spec):
    """``num`` geometrically spaced stops from ``lo`` to ``hi`` (a FloatLogSlider)."""

    lo: float
    hi: float
    num: int
    value: float | None = None
    label: str | None = None

    def __post_init__(self):
        where = self._where()
        lo, hi = _interval(where, self)
        if not 0 < lo:
            raise ValueError(f"{where}: lo must be > 0 on a log scale, got lo={lo!r}")
        if not _is_int(self.num) or self.num < 2:
            raise ValueError(f"{where}: num must be an integer >= 2, got num={self.num!r}")
        stops = [float(x) for x in np.geomspace(lo, hi, self.num)]
        stops[0], stops[-1] = float(lo), float(hi)
        index = (self.num - 1) // 2 if self.value is None else _snap(
            where, self.value, stops, f"one of the {self.num} stops from {_fmt(lo)} to {_fmt(hi)}",
            rel_tol=1e-6)
        self._set(stops, map(_fmt, stops), index)


@dataclass(frozen=True)
class Choice(_Spec):
    """A dropdown over ``options``: a list/tuple (shown as ``str``) or a dict label -> value."""

    options: object
    value: object = None
    label: str | None = None

    def __post_init__(self):
        where = self._where()
        if isinstance(self.options, dict):
            labels, values = [str(k) for k in self.options], list(self.options.values())
        elif isinstance(self.options, (list, tuple)):
            labels, values = [str(v) for v in self.options], list(self.options)
        else:
            raise TypeError(f"{where}: options must be a list, tuple or dict, got {self.options!r}")
        if not values:
            raise ValueError(f"{where}: options must not be empty")
        if len(set(labels)) < len(labels):
            raise ValueError(f"{where}: option labels must be distinct, got {labels}")
        index = 0 if self.value is None else _index_of(values, self.value)
        if index is None:
            raise ValueError(f"{where}: value={self.value!r} is not one of the options {values!r}")
        self._set(values, labels, index)


def _index_of(values, value):
    for i, v in enumerate(values):
        try:
            if v is value or bool(v == value):
                return i
        except (TypeError, ValueError):  # e.g. arrays, whose == is elementwise
            pass
    return None


SPECS = (Range, LogRange, Choice)


def demo(plot, /, *, mode=None, dpi=DPI, max_frames=None, **params):
    """Show ``plot(**params)`` with one slider or dropdown per keyword (see the module docstring).

    Returns an ipywidgets container in live mode and a :class:`Panel` (HTML) in static mode.
    """
    name = _name(plot)
    for key, own in (("mode", mode), ("dpi", dpi), ("max_frames", max_frames)):
        if isinstance(own, SPECS):
            raise TypeError(f"demo({name}): {key!r} is demo's own keyword, not a slider; rename it")
    if not params:
        raise ValueError(f"demo({name}) needs at least one parameter, e.g. a=Range(0, 1, 0.1)")
    _check_signature(plot, name, params)
    for key, spec in params.items():
        if not isinstance(spec, SPECS):
            raise TypeError(f"demo({name}): parameter {key!r} is {spec!r}; give a Range, LogRange "
                            f"or Choice (fix constant arguments with functools.partial)")
    if _resolve_mode(mode) == "live":
        return _live(plot, name, params)
    if max_frames is None:
        max_frames = MAX_FRAMES
    if not _is_int(max_frames) or max_frames < 1:
        raise ValueError(f"demo({name}): max_frames must be an integer >= 1, got {max_frames!r}")
    return _static(plot, name, params, dpi, max_frames)


def _name(plot):
    return getattr(getattr(plot, "func", plot), "__name__", repr(plot))


def _check_signature(plot, name, params):
    try:
        signature = inspect.signature(plot)
    except (TypeError, ValueError):  # builtins without a signature: let the call itself fail
        return
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in signature.parameters.values() if p.kind in kinds]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return
    unknown = [key for key in params if key not in accepted]
    if unknown:
        raise TypeError(f"{name}() has no parameter {', '.join(map(repr, unknown))}; "
                        f"its parameters are: {', '.join(accepted) or '(none)'}")


def _resolve_mode(mode):
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not understood; use one of {MODES}")
        return mode
    return companion.display_mode()


def _figure(plot, name, kwargs):
    fig = plot(**kwargs)
    if not isinstance(fig, Figure):
        raise TypeError(f"{name}() must return a matplotlib.figure.Figure (build it with "
                        f"companion.style.figure()), got {type(fig).__name__}")
    return fig


def _png(fig, dpi):
    return _encode(fig, dpi, "png", metadata={"Software": None})


def _frame(fig, dpi):
    return _encode(fig, dpi, FRAME_MIME.split("/")[1], pil_kwargs=FRAME_OPTIONS)


def _encode(fig, dpi, fmt, **options):
    buffer = io.BytesIO()
    # Never "tight": every frame must keep the figure's pixel size, or the panel jumps.
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        fig.savefig(buffer, format=fmt, dpi=dpi, **options)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # a pyplot figure would otherwise be shown again and never freed
        pyplot.close(fig)
    return buffer.getvalue()


def _live(plot, name, params):
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError as error:
        raise ImportError("live slider demos need ipywidgets, from the book extra: "
                          "pip install 'kexue-companion[book]' (in a clone: pip install -e '.[book]')"
                          ) from error
    controls = {key: _control(widgets, key, spec) for key, spec in params.items()}

    def show(**kwargs):
        fig = _figure(plot, name, kwargs)
        # A PNG bundle rather than display(fig): a bare Figure only renders as an image once
        # pyplot's inline backend has registered its formatter, which a fresh kernel lacks.
        png = base64.b64encode(_png(fig, fig.dpi)).decode("ascii")
        display({"image/png": png, "text/plain": repr(fig)}, raw=True)

    return widgets.VBox([*controls.values(), widgets.interactive_output(show, controls)])


def _control(widgets, key, spec):
    common = dict(description=spec.label or key, style={"description_width": "initial"})
    if isinstance(spec, Choice):
        options = list(zip(spec.labels, spec.values))
        return widgets.Dropdown(options=options, value=spec.value, **common)
    common.update(value=spec.value, continuous_update=False)
    if isinstance(spec, LogRange):
        lo, hi = math.log10(spec.lo), math.log10(spec.hi)
        return widgets.FloatLogSlider(base=10, min=lo, max=hi, step=(hi - lo) / (spec.num - 1),
                                      readout_format=".3g", **common)
    if all(isinstance(v, int) for v in spec.values):
        return widgets.IntSlider(min=spec.lo, max=spec.hi, step=spec.step, **common)
    digits = _decimals(spec.lo, spec.step)
    return widgets.FloatSlider(min=spec.lo, max=spec.hi, step=spec.step,
                               readout_format=".3g" if digits is None else f".{digits}f", **common)


def _decimals(*xs, most=9):
    """The fewest decimals that write all ``xs`` exactly, or None beyond ``most``."""
    exact = [next((d for d in range(most + 1) if abs(round(x, d) - x) <= 1e-12 * abs(x)), None)
             for x in xs]
    return None if None in exact else max(exact)


def _thin(name, specs, max_frames, smoke=False):
    """The stop indices a static panel keeps per parameter: every slider's two ends and default,
    then, as far as ``max_frames`` allows, evenly spaced stops between them (all of them when the
    whole grid fits). Smoke runs keep only the ends and the default. Raises ``ValueError`` when
    the ends and defaults alone need more frames than ``max_frames``."""
    sizes = {key: len(spec.values) for key, spec in specs.items()}
    must = {key: sorted({0, sizes[key] - 1, spec.default_index}) for key, spec in specs.items()}
    need = math.prod(len(m) for m in must.values())
    if need > max_frames:
        raise ValueError(f"demo({name}): keeping both ends and the default of every slider takes "
                         f"{need} frames, {need - max_frames} over max_frames={max_frames}; "
                         f"drop a slider or some options, or raise max_frames")
    if smoke:
        return must
    counts = dict(sizes)
    while math.prod(counts.values()) > max_frames:
        reducible = [k for k in counts if counts[k] > len(must[k])]
        key = max(reducible, key=counts.get)  # the first of the longest axes
        others = math.prod(counts.values()) // counts[key]
        runner_up = max([c for k, c in counts.items() if k != key], default=0)
        # Jump straight to what fits when this axis dwarfs the others, else shrink by one
        # so that the axes stay balanced.
        fits = max(runner_up, max_frames // others)
        counts[key] = max(len(must[key]), min(counts[key] - 1, fits))
    return {key: _evenly_spaced(sizes[key], counts[key], specs[key].default_index) for key in specs}


def _evenly_spaced(n, m, keep):
    """``m`` of the indices ``0..n-1``, evenly spaced, always with both ends and ``keep``
    (``m >= 3`` when ``keep`` is an inner index, ``m >= 2`` otherwise)."""
    kept = sorted({math.floor(x + 0.5) for x in np.linspace(0, n - 1, m)})
    if keep not in kept:  # replace the inner index nearest to it; the ends stay
        inner = range(1, len(kept) - 1)
        kept[min(inner, key=lambda k: abs(kept[k] - keep))] = keep
    return sorted(kept)


@dataclass(frozen=True)
class Panel:
    """A precomputed slider panel; notebooks and Jupyter Book render it through ``_repr_html_``."""

    html: str
    settings: int
    total: int

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return f"<companion panel: {self.settings} of {self.total} settings>"


def _static(plot, name, params, dpi, max_frames):
    kept = _thin(name, params, max_frames, smoke=companion.is_smoke())
    frames = []
    for indices in itertools.product(*kept.values()):  # row-major, as the script indexes them
        kwargs = {key: params[key].values[i] for key, i in zip(params, indices)}
        frames.append(_frame(_figure(plot, name, kwargs), dpi))
    size = sum(map(len, frames))
    if size > MAX_PANEL_BYTES:
        raise ValueError(f"demo({name}): its {len(frames)} frames take {size:,} bytes, "
                         f"{size - MAX_PANEL_BYTES:,} over MAX_PANEL_BYTES={MAX_PANEL_BYTES:,}; "
                         f"use fewer stops (max_frames=), a smaller figure or a lower dpi")
    labels = [[spec.labels[i] for i in kept[key]] for key, spec in params.items()]
    start = [kept[key].index(spec.default_index) for key, spec in params.items()]
    total = math.prod(len(spec.values) for spec in params.values())
    page = _panel_html(name, _describe(plot, name), params, frames, labels, start, total)
    return Panel(page, len(frames), total)


def _describe(plot, name):
    """The first line of the plot function's docstring: what the figure shows, for its alt text."""
    doc = inspect.getdoc(getattr(plot, "func", plot)) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip().rstrip(".")
    return first or f"Figure drawn by {name}"


def panel_json(data: dict) -> str:
    """A panel's data as the text of its ``<script type="application/json">`` element: compact,
    with ``<``, ``>`` and ``&`` escaped so that no label can close the element it sits in.
    (The book build rewrites the block with this too: ``booktools.sphinx_ext``.)"""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _panel_html(name, description, params, frames, labels, start, total):
    names = [spec.label or key for key, spec in params.items()]
    encoded = [base64.b64encode(f).decode("ascii") for f in frames]
    data = panel_json({"type": FRAME_MIME, "frames": encoded, "labels": labels, "names": names,
                       "alt": description})
    digest = hashlib.sha256(f"{name}|{list(params)}|{start}|{data}".encode()).hexdigest()
    panel_id = f"companion-panel-{digest[:12]}"
    first = encoded[np.ravel_multi_index(start, [len(kept) for kept in labels])]
    controls = "".join(
        f'<label style="margin-right:1em">{html.escape(label)} <input type="range" '
        f'min="0" max="{len(labels[a]) - 1}" step="1" value="{start[a]}" '
        f'data-param="{html.escape(key)}"{_DISABLED * (len(labels[a]) == 1)}> '
        f"<output>{html.escape(labels[a][start[a]])}</output></label>"
        for a, (key, label) in enumerate(zip(params, names)))
    n = len(frames)
    settings = f"{n} of {total} settings" if n < total else f"{n} setting{'s' * (n > 1)}"
    setting = ", ".join(f"{label} = {labels[a][start[a]]}" for a, label in enumerate(names))
    alt = html.escape(f"{description} ({setting})")
    return (f'<div class="companion-panel" id="{panel_id}">\n'
            f'<img class="companion-panel-frame" style="max-width:100%" alt="{alt}" '
            f'src="data:{FRAME_MIME};base64,{first}">\n<div class="companion-panel-controls">{controls}</div>\n'
            f'<script type="application/json">{data}</script>\n'
            f'<script>\n{_SCRIPT.replace("PANEL_ID", panel_id)}</script>\n'
            f'<p class="companion-panel-note" style="font-size:smaller">Precomputed preview: {settings}. '
            f"Run the notebook for the live version.</p>\n</div>\n")


# Finds its own panel (currentScript, else the id), so several panels on a page stay independent.
_SCRIPT = """(function () {
  var s = document.currentScript;
  var panel = (s && s.parentNode) || document.getElementById("PANEL_ID");
  var data = JSON.parse(panel.querySelector('script[type="application/json"]').textContent);
  var img = panel.querySelector("img.companion-panel-frame");
  var inputs = panel.querySelectorAll("input[data-param]");
  var outputs = panel.querySelectorAll("output");
  /* Frames are inline (base64) or, in the built book, files listed in data.urls and fetched
     once the panel comes near the screen, so that moving a slider never waits for the network. */
  function source(i) {
    return data.urls ? data.urls[i] : "data:" + data.type + ";base64," + data.frames[i];
  }
  var loaded = false;
  function preload() {
    if (loaded || !data.urls) return;
    loaded = true;
    data.images = data.urls.map(function (url) { var im = new Image(); im.src = url; return im; });
  }
  if (data.urls && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries, observer) {
      if (entries.some(function (e) { return e.isIntersecting; })) { preload(); observer.disconnect(); }
    }, {rootMargin: "400px"}).observe(panel);
  }
  function update() {
    preload();
    var index = 0, setting = [];
    for (var a = 0; a < inputs.length; a++) {
      var i = Number(inputs[a].value);
      index = index * data.labels[a].length + i;
      outputs[a].textContent = data.labels[a][i];
      setting.push(data.names[a] + " = " + data.labels[a][i]);
    }
    img.src = source(index);
    img.alt = data.alt + " (" + setting.join(", ") + ")";
  }
  for (var a = 0; a < inputs.length; a++) inputs[a].addEventListener("input", update);
})();
"""
