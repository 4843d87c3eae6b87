"""Negative sampling against the full softmax: time per training step as the vocabulary grows.

One step is forward + backward of a skip-gram batch (B = 1024 pairs, d = 128, float32) for
vocabularies V = 10^4, 10^5, 10^6 with a Zipf (rank^-1) unigram distribution:

- ours: ``companion.nce.negative_sampling_loss`` with k = 10 and k = 100 negatives per pair,
  drawn inside the timed step by ``NoiseSampler`` from unigram^0.75; the rows are gathered with
  ``nn.Embedding(sparse=True)``, so both tables get sparse gradients;
- baseline: ``companion.nce.full_softmax_loss`` over all V words: a [B, V] logit matrix and a
  dense [V, d] gradient for the output table. It is computed in chunks of 128 rows, each with
  its own backward (the same arithmetic as one [B, V] pass, with an eighth of its memory: at
  V = 10^6 one pass would hold about 12 GB of logits and their gradients). At V = 10^6 a step
  takes seconds, so it is timed once.

Also: the noise sampler alone (our alias table and inverse-CDF search against
``torch.multinomial``), and memory: the size of the output table's gradient and the peak
resident memory that one step adds (Linux only).

Threads: the negative-sampling steps and the samplers run on one thread, the full softmax on
all of torch's threads (a conservative comparison). A negative-sampling step is a few
milliseconds of memory-bound work on small tensors; on the shared two-core machine where this was
written, a second thread made it about 10 % faster when a core was free, and 10-50x slower when another
process held the other core (every parallel region then waits for a time slice).

Run alone: ``python -m benchmarks bench_nce``. Targets (from the issue): negative sampling flat in
V (within 1.5x from 10^4 to 10^6) and >= 1000x faster than the full softmax at V = 10^6, k = 10.
"""

import contextlib
import gc
import math
import os
import subprocess
import sys
import time
from functools import partial

import torch
from torch import nn

from companion.nce import NoiseSampler, full_softmax_loss, negative_sampling_loss, unigram_noise

VOCABS = (10_000, 100_000, 1_000_000)
KS = (10, 100)
BATCH, DIM, CHUNK = 1024, 128, 128
ALPHA = 0.75
REPEATS_OURS = 15
REPEATS_FULL = {10_000: 3, 100_000: 2}
SAMPLER_REPEATS = 20


def zipf_counts(vocab: int) -> torch.Tensor:
    return 1e9 / torch.arange(1, vocab + 1, dtype=torch.float64)


# --- timing --------------------------------------------------------------------------------------

@contextlib.contextmanager
def threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def best_of(fn, repeats: int, warm: bool = True) -> float:
    if warm:
        fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _limit_malloc_caching() -> None:
    """Make glibc return every block >= 64 KiB to the system when it is freed (Linux), so that
    memory freed by the set-up cannot be reused by the step and hide what the step needs."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-3, 65536)   # M_MMAP_THRESHOLD, fixed (no growth)
    except (OSError, AttributeError):
        pass


def memory_probe(vocab: int, k: int) -> None:
    """Print the peak resident MiB that one negative-sampling step adds, in a fresh process."""
    _limit_malloc_caching()
    model = SkipGram(vocab)
    gc.collect()
    with threads(1):
        print(timed_peak(lambda: model.negative_sampling_step(k))[1])


def _memory_in_fresh_process(vocab: int, k: int) -> float | None:
    code = f"from benchmarks.bench_nce import memory_probe; memory_probe({vocab}, {k})"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env=env, timeout=300)
        value = out.stdout.strip().splitlines()[-1]
        return None if value == "None" else float(value)
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def timed_peak(fn):
    """(seconds, peak resident MiB added above the level before) for one call of ``fn``."""
    def read(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key))

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the high-water mark of resident memory
        before = read("VmRSS:")
    except OSError:
        before = None
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return elapsed, (None if before is None else (read("VmHWM:") - before) / 1024)


class SkipGram:
    """Input and output embedding tables of one vocabulary, with sparse gradients."""

    def __init__(self, vocab: int, seed: int = 0):
        torch.manual_seed(seed)
        self.vocab = vocab
        self.emb_in = nn.Embedding(vocab, DIM, sparse=True)
        self.emb_out = nn.Embedding(vocab, DIM, sparse=True)
        with torch.no_grad():
            self.emb_in.weight.mul_(0.1)
            self.emb_out.weight.mul_(0.1)
        self.sampler = NoiseSampler(unigram_noise(zipf_counts(vocab), ALPHA))
        self.gen = torch.Generator().manual_seed(seed)
        # A batch of observed (centre, context) pairs from the unigram distribution: data
        # loading, outside the timed step.
        unigram = NoiseSampler(unigram_noise(zipf_counts(vocab), 1.0))
        self.centres = unigram.sample(BATCH, self.gen)
        self.contexts = unigram.sample(BATCH, self.gen)

    def zero_grad(self):
        self.emb_in.weight.grad = None
        self.emb_out.weight.grad = None

    def negative_sampling_step(self, k: int):
        self.zero_grad()
        negatives = self.sampler.sample((BATCH, k), self.gen)
        # Two lookups rather than one of [contexts, negatives] split in two: the backward of a
        # split writes zeros over the whole [B, 1 + k, d] block for each part.
        loss = negative_sampling_loss(self.emb_in(self.centres), self.emb_out(self.contexts),
                                      self.emb_out(negatives))
        loss.backward()
        return loss

    def full_softmax_step(self):
        self.zero_grad()
        for start in range(0, BATCH, CHUNK):
            part = slice(start, start + CHUNK)
            loss = full_softmax_loss(self.emb_in(self.centres[part]), self.emb_out.weight,
                                     self.contexts[part], reduction="sum") / BATCH
            loss.backward()


def _sampler_table():
    print(f"\nNoise sampler alone (1 thread): ms per call for n draws from unigram^{ALPHA} "
          f"(Zipf counts), best of {SAMPLER_REPEATS}")
    print(f"{'V':>9s} {'n':>7s} {'ours: alias':>12s} {'ours: inverse CDF':>18s} "
          f"{'torch.multinomial':>18s} {'alias table built in':>21s}")
    gen = torch.Generator().manual_seed(0)
    for vocab in VOCABS:
        probs = unigram_noise(zipf_counts(vocab), ALPHA)
        with threads(1):
            build = best_of(partial(NoiseSampler, probs), 3)
        alias, search = NoiseSampler(probs), NoiseSampler(probs, method="inverse_cdf")
        probs32 = probs.float()
        for n in (BATCH * k for k in KS):
            with threads(1):
                times = [best_of(partial(alias.sample, n, gen), SAMPLER_REPEATS),
                         best_of(partial(search.sample, n, gen), SAMPLER_REPEATS),
                         best_of(partial(torch.multinomial, probs32, n, replacement=True, generator=gen),
                                 SAMPLER_REPEATS)]
            print(f"{vocab:9,d} {n:7,d} {times[0] * 1e3:12.3f} {times[1] * 1e3:18.3f} "
                  f"{times[2] * 1e3:18.3f} {build * 1e3:18.1f} ms")


def report() -> None:
    started = time.perf_counter()
    _sampler_table()   # first: the memory measurements below change how malloc behaves
    print(f"\nNegative sampling vs full softmax: one forward + backward, B = {BATCH}, d = {DIM}, "
          f"float32; {os.cpu_count()} cores; negative sampling on 1 thread, full softmax on "
          f"{torch.get_num_threads()}")
    print("targets: negative sampling within 1.5x from V = 10^4 to 10^6; >= 1000x the full "
          "softmax at V = 10^6, k = 10")
    header = (f"{'V':>9s} {'full softmax ms':>16s} " +
              " ".join(f"{f'NS k={k} ms':>12s} {'speed-up':>9s}" for k in KS))
    print(header)
    ns_times = {k: {} for k in KS}
    memory = {}
    for vocab in VOCABS:
        model = SkipGram(vocab)
        with threads(1):
            for k in KS:
                ns_times[k][vocab] = best_of(partial(model.negative_sampling_step, k), REPEATS_OURS)
        if vocab == VOCABS[-1]:
            # One full-softmax step at V = 10^6 takes seconds: timed once, with its memory (its
            # blocks are hundreds of MB, always freshly mapped); its warm-up is the V = 10^5 run.
            full, memory["full_peak"] = timed_peak(model.full_softmax_step)
            model.negative_sampling_step(KS[0])
            grad = model.emb_out.weight.grad
            memory["sparse"] = (grad._indices().numel() * grad._indices().element_size()
                                + grad._values().numel() * grad._values().element_size())
            memory["dense"] = vocab * DIM * 4
        else:
            full = best_of(model.full_softmax_step, REPEATS_FULL[vocab])
        print(f"{vocab:9,d} {full * 1e3:16.1f} " +
              " ".join(f"{ns_times[k][vocab] * 1e3:12.3f} {full / ns_times[k][vocab]:8.0f}x" for k in KS),
              flush=True)
        model = None  # free this V's embeddings before the next, larger one is made
        gc.collect()
    for k in KS:
        memory[k] = _memory_in_fresh_process(VOCABS[-1], k)
    for k in KS:
        ratio = ns_times[k][VOCABS[-1]] / ns_times[k][VOCABS[0]]
        print(f"NS k={k}: time at V = 10^6 / time at V = 10^4 = {ratio:.2f}")
    print(f"output-table gradient at V = 10^6, k = {KS[0]}: sparse, {memory['sparse'] / 2**20:.2f} MiB "
          f"(a dense one would be {memory['dense'] / 2**20:.0f} MiB)")
    if memory["full_peak"] is not None and all(memory[k] is not None for k in KS):
        print("peak resident memory added by one step at V = 10^6: " +
              ", ".join(f"NS k={k} {memory[k]:.1f} MiB" for k in KS) +
              f" (each measured in a fresh process), full softmax (chunks of {CHUNK} rows) "
              f"{memory['full_peak']:.0f} MiB")
    print(f"(bench_nce ran {time.perf_counter() - started:.0f} s)")
