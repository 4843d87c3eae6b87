"""Figures of the noise contrastive estimation chapter (kexue.fm/archives/5617); the kernels are in
``companion.nce``, which also offers these functions as attributes (loaded on first use).

Every ``plot_*`` returns a matplotlib ``Figure`` drawn in the book's style, without changing
the caller's ``rcParams`` (:func:`companion.style.styled`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from companion import budget, checks
from companion.nce import (
    Noise1D,
    fit_quartic_nce,
    nce_asymptotic_covariance,
    quartic_log_z,
    sample_quartic,
    shifted_pmi,
    topic_corpus,
    train_sgns,
    unigram_noise,
)
from companion.style import COLORS, figure, styled


def _quartic_density(a, b, x):
    return np.exp(-a * x * x - b * x**4 - quartic_log_z(a, b))


@styled
def plot_quartic_nce(a: float = 0.5, b: float = 0.25, nu: float = 1.0, noise: str = "gaussian",
                     width: float = 1.0, n: int | None = None, seed: int = 0):
    r"""Two panels for noise contrastive estimation of the density exp(-a x² - b x⁴). Left: a
    histogram of the data with the true density, the noise density and the NCE fit. Right: the
    fitted classifier's probability that a point is data, against the Bayes-optimal one.

    The left panel shows ``n`` data and the fit :math:`e^{G - \hat c}`, and its title compares
    :math:`\hat c` with :math:`\log Z` from quadrature; the right panel shows the fitted
    :math:`\sigma(h(x))` against the Bayes-optimal :math:`p_d/(p_d + \nu p_n)`.
    ``noise`` is ``"gaussian"`` (std ``width``) or ``"uniform"`` (on ``[-width, width]``).

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    n = budget(full=4000, smoke=1000) if n is None else checks.positive_int(n, "n")
    nu = checks.real(nu, "nu", positive=True)   # checked here: round(nu * n) comes first
    noise_ = Noise1D(noise, 0.0, width)
    gen = checks.generator(seed)
    x_data = sample_quartic(a, b, n, gen)
    m = max(1, round(nu * n))
    x_noise = noise_.sample(m, gen)
    fit = fit_quartic_nce(x_data, x_noise, noise_, nu=nu)
    a_hat, b_hat, c_hat = fit.a.item(), fit.b.item(), fit.log_z.item()
    log_z = quartic_log_z(a, b)
    sd = math.sqrt(nce_asymptotic_covariance(a, b, noise_, nu)[2, 2] / n)

    span = max(3.5, float(x_data.abs().max()) + 0.3)
    x = np.linspace(-span, span, 600)
    p_true = _quartic_density(a, b, x)
    with np.errstate(over="ignore"):   # a fit from noise that misses the tails can have b < 0
        p_fit = np.exp(np.minimum(-a_hat * x * x - b_hat * x**4 - c_hat, 50.0))
    fig, (left, right) = figure(1, 2, width=9.0, height=3.4)
    left.hist(x_data.numpy(), bins=60, density=True, alpha=0.35, color=COLORS[0], label=f"{n} data")
    left.plot(x, p_true, color="black", lw=1.5, label="true density")
    left.plot(x, noise_.pdf(x), color=COLORS[4], ls=":", label="noise")
    left.plot(x, p_fit, color=COLORS[1], ls="--", label=r"NCE: $e^{G-\hat c}$")
    left.set(xlabel="x", ylabel="density", xlim=(-span, span), ylim=(0, 1.35 * p_true.max()),
             title=rf"$\hat c={c_hat:.3f}$, $\log Z={log_z:.3f}$ (sd $\approx${sd:.3f})")
    left.legend(fontsize=7, loc="upper right")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bayes = p_true / (p_true + nu * noise_.pdf(x))
        h = -a_hat * x * x - b_hat * x**4 - c_hat - np.log(nu * noise_.pdf(x))
    right.plot(x, bayes, color="black", lw=2.5, alpha=0.4, label=r"Bayes: $p_d/(p_d+\nu p_n)$")
    right.plot(x, 1 / (1 + np.exp(-h)), color=COLORS[1], ls="--", label=r"NCE: $\sigma(h)$")
    right.set(xlabel="x", ylabel="P(data | x)", ylim=(-0.03, 1.03), xlim=(-span, span),
              title=rf"classifier, $\nu={nu:g}$: $\hat a={a_hat:.2f}$, $\hat b={b_hat:.2f}$")
    right.legend(fontsize=7, loc="lower center")
    return fig


@styled
def plot_negative_sampling(k: int = 1, alpha: float = 1.0, steps: int | None = None,
                           n_pairs: int | None = None, seed: int = 0):
    r"""Two scatter plots of the skip-gram scores learned for the word pairs of a 30-word
    synthetic corpus, one dot per pair. Left: against the closed-form optimum for the chosen
    noise. Right: against the pointwise mutual information minus log k.

    Skip-gram with ``k`` negatives from :math:`q \propto \mathrm{count}^\alpha` on a synthetic
    corpus (30 words, full-rank vectors); learned scores against the closed form
    :func:`~companion.nce.shifted_pmi` for this noise, and against :math:`\mathrm{PMI} - \log k`.

    Introduced in: Noise contrastive estimation (kexue.fm/archives/5617).
    """
    steps = budget(full=1500, smoke=150) if steps is None else steps
    n_pairs = budget(full=200_000, smoke=20_000) if n_pairs is None else n_pairs
    gen = checks.generator(seed)
    centres, contexts, _ = topic_corpus(30, 3, n_pairs, gen)
    counts = torch.zeros(30, 30, dtype=torch.float64)
    counts.index_put_((centres, contexts), torch.ones(centres.numel(), dtype=torch.float64), accumulate=True)
    scores, _ = train_sgns(centres, contexts, 30, k, alpha, steps=steps, seed=seed)
    q = unigram_noise(counts.sum(0), alpha)
    target = shifted_pmi(counts, k, q)
    pmi_k = shifted_pmi(counts, k)
    weight = counts / counts.sum()
    seen = counts > 0
    rms = math.sqrt(float((weight * (scores - target) ** 2)[seen].sum()))

    fig, (left, right) = figure(1, 2, width=9.0, height=3.4)
    lo, hi = float(target[seen].min()) - 0.3, float(target[seen].max()) + 0.3
    left.scatter(target[seen], scores[seen], s=6, alpha=0.5, color=COLORS[0], label="word pairs")
    left.plot([lo, hi], [lo, hi], color="black", lw=1, label="learned = closed form")
    left.legend(fontsize=7, loc="upper left")
    left.set(xlabel=r"closed form $\log\frac{\#(i,j)}{\#(i)\,q(j)} - \log k$",
             ylabel=r"learned $\langle u_i, v_j\rangle$",
             title=rf"$k={k}$, $\alpha={alpha:g}$: weighted RMS error {rms:.3f}")
    right.scatter(pmi_k[seen], scores[seen], s=6, alpha=0.5, color=COLORS[1], label="word pairs")
    right.plot([lo, hi], [lo, hi], color="black", lw=1, label="learned = PMI - log k")
    right.legend(fontsize=7, loc="upper left")
    right.set(xlabel=r"PMI$(i,j) - \log k$", ylabel=r"learned $\langle u_i, v_j\rangle$",
              title="against PMI - log k" + (" (exact for α = 1)" if alpha == 1 else ""))
    return fig
