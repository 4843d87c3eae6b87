"""The static slider panels of the book build: what the panel machinery adds to drawing."""

import io

import numpy as np

from benchmarks import Case
from companion import style
from companion.widgets import LogRange, demo


def wave(frequency=1.0):
    fig, ax = style.figure(width=6, height=3)
    t = np.linspace(0, 1, 500)
    ax.plot(t, np.sin(2 * np.pi * frequency * t))
    return fig


def cases():
    stops = LogRange(0.5, 20, num=8)

    def panel():
        demo(wave, mode="static", frequency=stops)

    def savefig_only():
        for f in stops.values:
            wave(f).savefig(io.BytesIO(), format="png", dpi=80)

    # Goal: a static panel costs little beyond drawing and saving its frames (ratio near 1).
    yield Case("static panel, 8 frames", panel, savefig_only, "bare savefig", repeats=3)
