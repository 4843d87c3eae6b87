"""The template chapter's kernel and the static slider panels of the book build."""

import io

import torch

from benchmarks import Case
from companion.smooth_max import plot_smooth_max, smooth_max
from companion.widgets import LogRange, demo


def cases():
    x = torch.randn(1000, 10_000, generator=torch.Generator().manual_seed(0), requires_grad=True)

    def ours():
        smooth_max(x, 3.0).sum().backward()

    def logsumexp():
        (torch.logsumexp(3.0 * x, dim=-1) / 3.0).sum().backward()

    # Goal: the smooth maximum costs no more than the logsumexp it wraps (ratio ~1).
    yield Case("smooth_max fwd+bwd, 1000 x 10^4", ours, logsumexp, "torch.logsumexp")

    def panel():
        demo(plot_smooth_max, mode="static", K=LogRange(0.1, 100, num=8))

    def savefig_only():
        for K in LogRange(0.1, 100, num=8).values:
            plot_smooth_max(K=K).savefig(io.BytesIO(), format="png", dpi=80)

    # Goal: a static panel costs little beyond drawing and saving its frames (ratio near 1).
    yield Case("static panel, 8 frames", panel, savefig_only, "bare savefig", repeats=2)
