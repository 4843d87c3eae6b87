"""Dynamic routing at MNIST CapsNet shapes: ours against the obvious broadcasting loop.

Shapes are Sabour et al.'s MNIST CapsNet: 1152 primary capsules of 8 dimensions routed to 10
digit capsules of 16 dimensions, batch 128, 3 iterations; the predictions u_hat are
[128, 1152, 10, 16] float32, 94 MB. Baseline: ``dynamic_routing_reference``, the per-iteration
loop written the obvious way (broadcast products over [B, n_in, n_out, d], summed).

Cases (seconds, best of repeats; ratio = baseline / ours), both variants:

- routing on u_hat (requires grad): forward + backward of ``v.pow(2).sum()``, and forward alone
  under ``torch.no_grad()``;
- the whole ``CapsuleLayer`` with per-input matrices (``share_weights=False``, Sabour's layer,
  W of [1152, 8, 160]) and with shared ones: forward + backward of the margin loss on the output
  lengths, against the same layer computation with the reference routing.

``report()`` adds peak memory, measured as the growth of the peak resident set of a fresh process
over its resident set just before one forward + backward (inputs and library start-up excluded;
glibc told to give freed blocks back at once, so the peak counts live memory), at batch 32, 64
and 128; and the throughput reached, as a fraction of this machine's measured
float32 GEMM rate and copy bandwidth. Target (issue 4): forward + backward >= 2x the reference,
no more memory, memory linear in batch. Run alone: ``python -m benchmarks bench_capsule``.
"""

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks import Case, best_time
from companion.capsule import (
    CapsuleLayer, dynamic_routing, dynamic_routing_reference, margin_loss, squash,
)

B, N_IN, D_IN, N_OUT, D_OUT, ITERS = 128, 1152, 8, 10, 16, 3
VARIANTS = ("sabour", "su")
ROUTINGS = {"ours": dynamic_routing, "reference": dynamic_routing_reference}
MEMORY_BATCHES = (32, 64, 128)
REPEATS = 10  # the machine is shared: bursts of load spoil runs, the best of 10 is seldom hit


# --- workloads -------------------------------------------------------------------------------

def predictions(batch: int = B, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.05 * torch.randn(batch, N_IN, N_OUT, D_OUT, generator=g)).requires_grad_()


def routing_step(routing, u_hat: torch.Tensor, variant: str):
    """Forward + backward of routing alone; the gradient is dropped so that none accumulates."""
    def run():
        v, _ = routing(u_hat, ITERS, variant)
        v.pow(2).sum().backward()
        u_hat.grad = None
    return run


def routing_forward(routing, u_hat: torch.Tensor, variant: str):
    def run():
        with torch.no_grad():
            routing(u_hat, ITERS, variant)
    return run


def reference_layer(layer: CapsuleLayer, u: torch.Tensor) -> torch.Tensor:
    """``layer(u)`` with the reference routing: the same predictions, the obvious loop."""
    u_hat = u @ layer.weight if layer.share_weights else torch.einsum("bid,ide->bie", u, layer.weight)
    u_hat = u_hat.view(u.shape[0], u.shape[1], layer.n_out, layer.d_out)
    return dynamic_routing_reference(u_hat, layer.routings, layer.variant, squash_c=layer.squash_c)[0]


def layer_inputs(share_weights: bool, variant: str, batch: int = B, seed: int = 0):
    torch.manual_seed(seed)
    layer = CapsuleLayer(N_IN, D_IN, N_OUT, D_OUT, routings=ITERS, share_weights=share_weights,
                         variant=variant)
    u = squash(torch.randn(batch, N_IN, D_IN))  # primary capsules: squashed, lengths in [0, 1)
    targets = torch.randint(0, N_OUT, (batch,))
    return layer, u, targets


def layer_step(impl: str, layer: CapsuleLayer, u: torch.Tensor, targets: torch.Tensor):
    """Forward + backward of the margin loss on the digit capsules' lengths."""
    forward = layer if impl == "ours" else (lambda x: reference_layer(layer, x))

    def run():
        margin_loss(forward(u).norm(dim=-1), targets).backward()
        layer.weight.grad = None
    return run


_BEST: dict[tuple[str, str], float] = {}  # (impl, variant) -> best fwd+bwd seconds seen by cases()


def _recorded(key: tuple[str, str], fn):
    """``fn``, noting its best time in ``_BEST`` so that report() reuses the cases' timings."""
    def run():
        start = time.perf_counter()
        fn()
        _BEST[key] = min(_BEST.get(key, float("inf")), time.perf_counter() - start)
    return run


def cases():
    u_hat = predictions()
    for variant in VARIANTS:
        yield Case(f"routing {variant}, fwd+bwd on u_hat",
                   *(_recorded((impl, variant), routing_step(ROUTINGS[impl], u_hat, variant))
                     for impl in ("ours", "reference")), "reference", repeats=REPEATS)
        yield Case(f"routing {variant}, forward only (no grad)",
                   routing_forward(dynamic_routing, u_hat, variant),
                   routing_forward(dynamic_routing_reference, u_hat, variant), "reference",
                   repeats=REPEATS)
    for share_weights in (False, True):
        for variant in VARIANTS:
            layer, u, targets = layer_inputs(share_weights, variant)
            with torch.no_grad():  # the baseline computes the same thing
                torch.testing.assert_close(layer(u), reference_layer(layer, u), rtol=1e-4, atol=1e-5)
            kind = "shared W" if share_weights else "per-input W"
            yield Case(f"layer {kind}, {variant}, fwd+bwd (margin)",
                       layer_step("ours", layer, u, targets),
                       layer_step("reference", layer, u, targets), "reference", repeats=5)


# --- memory: a fresh process per workload and implementation --------------------------------

def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def _memory_probe(workload: str, impl: str, variant: str, batches: list[int]) -> None:
    """Print JSON: peak resident growth (bytes) of one forward + backward per batch size, inputs
    excluded. Run with MALLOC_MMAP_THRESHOLD_ set (see _measure_memory), so that what one batch
    freed is gone from the resident set before the next."""
    torch.manual_seed(0)

    def make(n):
        if workload == "routing":
            return routing_step(ROUTINGS[impl], predictions(n), variant)
        return layer_step(impl, *layer_inputs(workload == "layer shared W", variant, n))

    make(2)()  # library start-up (thread pools, BLAS buffers) at a tiny batch: not counted
    peaks = []
    for batch in batches:
        run = make(batch)
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:  # Linux: "5" resets the peak (VmHWM) to now
            f.write("5")
        resident = _status_bytes("VmRSS")
        run()
        peaks.append(_status_bytes("VmHWM") - resident)
        del run
    print(json.dumps(peaks))


def _measure_memory(workload: str, impl: str, variant: str, batches: list[int]):
    probe = subprocess.run(
        [sys.executable, "-c", "from benchmarks.bench_capsule import _memory_probe; "
         f"_memory_probe({workload!r}, {impl!r}, {variant!r}, {batches!r})"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
        # glibc: map every block >= 64 KiB on its own, so that a freed block leaves the resident
        # set at once (by default it may stay in the heap) and the peak counts live memory only
        env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
    if probe.returncode != 0:
        return None, (probe.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(probe.stdout.strip().splitlines()[-1]), None


# --- throughput ------------------------------------------------------------------------------

def gemm_flops() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048 ** 3 / best_time(lambda: a @ b, 5)


def copy_bandwidth() -> float:
    """Bytes read + written per second by ``copy_`` of 256 MB into an existing buffer."""
    src = torch.randn(64 * 2 ** 20)
    dst = torch.empty_like(src)
    return 2 * src.numel() * src.element_size() / best_time(lambda: dst.copy_(src), 5)


def report() -> None:
    started = time.perf_counter()
    n = B * N_IN * N_OUT * D_OUT  # elements of u_hat
    mb = n * 4 / 2 ** 20
    print(f"\nCapsule routing at MNIST CapsNet shapes: u_hat [{B}, {N_IN}, {N_OUT}, {D_OUT}] "
          f"float32 ({mb:.0f} MiB), {ITERS} iterations")

    # Throughput. 'Useful' FLOPs count 2 per element of u_hat per pass that multiplies it by a
    # small tensor, as the reference does: forward 2*iters - 1 passes (iters sums, iters - 1
    # agreements); backward 2*iters - 2 passes for the small gradients and 2*iters - 1
    # multiply-adds per element of dL/du_hat. Ours executes n_out times more in its
    # block-diagonal GEMMs (all but the first, plain sum), and the final GEMM's inner size is
    # n_out*(2*iters - 1). Bytes: the least u_hat traffic, a read per pass and one write of dL/du_hat.
    passes = 6 * ITERS - 4
    useful = 2 * n * passes
    executed = n + 2 * n * N_OUT * (6 * ITERS - 5)
    traffic = (4 * ITERS - 2) * 4 * n
    gemm, bandwidth = gemm_flops(), copy_bandwidth()
    print(f"this machine: float32 GEMM (2048^3) {gemm / 1e9:.0f} GFLOP/s; copy_ {bandwidth / 1e9:.1f} "
          f"GB/s (read + write)")
    print(f"fwd+bwd on u_hat counts {useful / 1e9:.2f} GFLOP useful ({passes} passes x 2 FLOP per "
          f"element), ours executes {executed / 1e9:.2f} GFLOP; least u_hat traffic "
          f"{traffic / 2 ** 20:.0f} MiB")
    u_hat = predictions()
    times = {}  # the cases' timings when they ran first (python -m benchmarks), else measured here
    print(f"{'fwd+bwd on u_hat':24s} {'seconds':>8s} {'useful GFLOP/s':>15s} {'% GEMM':>7s} "
          f"{'executed % GEMM':>16s} {'u_hat GB/s':>11s} {'% copy':>7s}")
    for variant in VARIANTS:
        for impl, routing in ROUTINGS.items():
            t = times[impl, variant] = (_BEST.get((impl, variant))
                                        or best_time(routing_step(routing, u_hat, variant), 5))
            run_flops = executed if impl == "ours" else useful
            print(f"{impl + ', ' + variant:24s} {t:8.4f} {useful / t / 1e9:15.1f} "
                  f"{100 * useful / t / gemm:6.1f}% {100 * run_flops / t / gemm:15.1f}% "
                  f"{traffic / t / 1e9:11.1f} {100 * traffic / t / bandwidth:6.1f}%")
    del u_hat
    print("  (executed % GEMM: the FLOPs each implementation actually runs; the reference's are its "
          "useful ones)")

    print("\npeak memory of one forward + backward, MiB: growth of the peak resident set (VmHWM, "
          "reset through /proc/self/clear_refs) over the resident set just before the call, in a "
          "fresh process per workload and implementation with MALLOC_MMAP_THRESHOLD_=65536 (freed "
          "blocks leave at once); inputs and library start-up excluded, dL/dinput included")
    print(f"{'workload':30s} {'batch':>5s} {'ours':>8s} {'reference':>10s}  {'ref / ours':>10s} "
          f"{'ours per sample':>16s}")
    groups = [("routing", "sabour", MEMORY_BATCHES), ("routing", "su", (B,)),
              ("layer per-input W", "sabour", (B,)), ("layer shared W", "sabour", (B,))]
    peaks = {}
    for workload, variant, batches in groups:
        got = {impl: _measure_memory(workload, impl, variant, list(batches)) for impl in ROUTINGS}
        failed = [f"{impl}: {why}" for impl, (_, why) in got.items() if why]
        if failed:
            print(f"{workload + ', ' + variant:30s}  probe failed: {'; '.join(failed)}")
            continue
        for batch, ours, ref in zip(batches, got["ours"][0], got["reference"][0]):
            peaks[workload, variant, batch] = (ours, ref)
            print(f"{workload + ', ' + variant:30s} {batch:5d} {ours / 2 ** 20:8.0f} "
                  f"{ref / 2 ** 20:10.0f}  {ref / ours:9.2f}x {ours / batch / 2 ** 20:15.2f}")
    print(f"  (u_hat itself, input: {mb:.0f} MiB at batch {B}; its gradient is the same size)")

    speedups = [times["reference", v] / times["ours", v] for v in VARIANTS]
    verdict = [f"fwd+bwd on u_hat {min(speedups):.2f}x to {max(speedups):.2f}x the reference "
               f"({'met' if min(speedups) >= 2 else 'missed'}: >= 2x)"]
    if ("routing", "sabour", B) in peaks:
        ours, ref = peaks["routing", "sabour", B]
        verdict.append(f"peak memory {ours / ref:.2f} of the reference's "
                       f"({'met' if ours <= ref else 'missed'}: <= 1)")
    linear = [peaks[k][0] / k[2] for k in peaks if k[:2] == ("routing", "sabour")]
    if len(linear) > 1:
        verdict.append(f"ours per sample {min(linear) / 2 ** 20:.2f} to {max(linear) / 2 ** 20:.2f} "
                       f"MiB over batch {'/'.join(map(str, MEMORY_BATCHES))} (linear in batch)")
    print("vs targets: " + "; ".join(verdict))
    print(f"bench_capsule report took {time.perf_counter() - started:.0f} s")
