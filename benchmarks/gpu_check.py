"""``make gpu-check``: every CUDA test, then a short GPU benchmark that prints ratios.

1. pytest on ``tests/test_cuda.py`` (every public kernel against its CPU result) and the other
   tests whose names say ``cuda``;
2. Gillespie SSA reaction events per second: the torch backend on the GPU at 10^4, 10^5 and 10^6
   trajectories against the numba backend on this machine's CPU cores at the same sizes;
3. a parameter sweep with per-trajectory rates: the 9 points of ``benchmarks.bench_sweeps`` as one
   lock-step torch batch on the GPU (``sweep``, ``client=None``) against one ``ssa`` call per point
   on the GPU, events per second (``bench_sweeps.batched_vs_loop``, synchronised);
4. routing, focal loss and negative sampling at their CPU benchmarks' shapes: forward + backward
   on the GPU against the CPU.

GPU times come from ``torch.utils.benchmark.Timer``, which synchronises CUDA around each measured
block (an unsynchronised timer measures only the kernel launches); the SSA and sweep rates time
runs that start after ``torch.cuda.synchronize()`` and end by reading their event counts on the
host, which waits for the GPU. Meant to finish in a few minutes on a data-centre GPU. Run
``python -m benchmarks.gpu_check --no-tests`` for the timings alone.
"""

import math
import os
import sys
import time

import torch
from torch.utils.benchmark import Timer

from benchmarks.bench_sweeps import TORCH_T, batched_vs_loop, point_rates
from companion.capsule import dynamic_routing
from companion.focal import focal_bce
from companion.gillespie import ReactionNetwork, numba_available, ssa
from companion.nce import NoiseSampler, negative_sampling_loss, unigram_noise

SSA_TRAJS = (10_000, 100_000, 1_000_000)
# Birth-death 0 -> X (k = 100), X -> 0 (gamma = 1) from its mean: ~200 events per unit time, so
# a horizon of 5 gives ~1000 events per trajectory, 10^9 events at 10^6 trajectories.
SSA_NETWORK = ReactionNetwork(["0 -> X", "X -> 0"], [100.0, 1.0])
SSA_X0, SSA_T = [100], 5.0
SWEEP_TRAJ = 100_000  # trajectories per point of the sweep row: one batch of 9 x 10^5


def _seconds(fn, min_run_time=0.5):
    fn()  # warm-up: allocation, compilation, cuBLAS handles
    return Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median


def _ssa_rate(n, device, backend):
    grid = torch.linspace(0, SSA_T, 5)

    def run():
        ens = ssa(SSA_NETWORK, SSA_X0, t_max=SSA_T, n_traj=n, seed=1, t_grid=grid, device=device,
                  backend=backend)
        return int(ens.n_events.sum())

    run()  # warm-up (numba compiles on first use)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    events = run()  # int() of a device sum waits for the GPU
    return events / (time.perf_counter() - start)


def ssa_table():
    print("\nGillespie SSA, birth-death to t = 5 (~1000 events per trajectory): events per second")
    print(f"{'trajectories':>12s} {'torch on GPU':>14s} {'numba on CPU':>14s}  ratio (GPU / CPU)")
    for n in SSA_TRAJS:
        gpu = _ssa_rate(n, "cuda", "torch")
        cpu = _ssa_rate(n, "cpu", "numba") if numba_available() else math.nan
        print(f"{n:12,d} {gpu:14.3e} {cpu:14.3e}  {gpu / cpu:8.2f}x")


def sweep_table():
    n_points = len(point_rates())
    print(f"\nParameter sweep with per-trajectory rates, torch on the GPU: gene expression, {n_points} points "
          f"(k_p x gamma_m), t = {TORCH_T:g}; one batch (sweep) against one ssa call per point: events per second")
    print(f"{'trajectories':>12s} {'one batch':>14s} {'per point':>14s}  ratio (batch / per point)")
    r = batched_vs_loop("cuda", n_traj=SWEEP_TRAJ, repeats=2)
    print(f"{n_points * r['n_traj']:12,d} {r['batched']:14.3e} {r['loop']:14.3e}  {r['batched'] / r['loop']:8.2f}x"
          f"   ({r['events']:.3g} events; same events at every point: {r['same']})")


def _routing(device):
    g = torch.Generator().manual_seed(0)
    u_hat = (0.05 * torch.randn(128, 1152, 10, 16, generator=g)).to(device).requires_grad_()

    def step():
        v, _ = dynamic_routing(u_hat, 3, "su")
        (grad,) = torch.autograd.grad(v.square().sum(), u_hat)
        return grad
    return step


def _focal(device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10_000_000, generator=g).mul_(3).to(device).requires_grad_()
    y = (torch.rand(10_000_000, generator=g) < 0.1).float().to(device)
    return lambda: torch.autograd.grad(focal_bce(x, y, 2.0, 0.25), x)


def _negative_sampling(device, vocab=100_000, k=10, batch=1024, dim=128):
    g = torch.Generator().manual_seed(0)
    counts = (torch.arange(1.0, vocab + 1) ** -1.0) * 1e9
    sampler = NoiseSampler(unigram_noise(counts.to(device), 0.75))
    gen = torch.Generator(device=device).manual_seed(0)
    emb_in = (0.1 * torch.randn(vocab, dim, generator=g)).to(device).requires_grad_()
    emb_out = (0.1 * torch.randn(vocab, dim, generator=g)).to(device).requires_grad_()
    pairs = torch.randint(vocab, (2, batch), generator=g).to(device)

    def step():
        negatives = sampler.sample((batch, k), gen)
        loss = negative_sampling_loss(emb_in[pairs[0]], emb_out[pairs[1]], emb_out[negatives])
        return torch.autograd.grad(loss, (emb_in, emb_out))
    return step


def kernel_table():
    print("\nKernels, forward + backward at the CPU benchmarks' shapes: seconds (median)")
    print(f"{'case':44s} {'GPU':>10s} {'CPU':>10s}  ratio (CPU / GPU)")
    cases = {
        "routing su, [128, 1152, 10, 16], 3 iterations": _routing,
        "focal_bce, 10^7 logits": _focal,
        "negative sampling, V = 10^5, k = 10, B = 1024": _negative_sampling,
    }
    for name, make in cases.items():
        gpu, cpu = _seconds(make("cuda")), _seconds(make("cpu"), min_run_time=1.0)
        print(f"{name:44s} {gpu:10.5f} {cpu:10.5f}  {cpu / gpu:8.1f}x")


def main(argv):
    if not torch.cuda.is_available():
        raise SystemExit("make gpu-check needs a CUDA device, and torch.cuda.is_available() is False "
                         f"(torch {torch.__version__}); run it on a machine with an NVIDIA GPU")
    props = torch.cuda.get_device_properties(0)
    print(f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} threads")
    status = 0
    if "--no-tests" not in argv:
        import pytest

        kernels = ["cuda", "capsule", "capsule_routing_grad", "focal", "nce", "fgan", "vib", "gillespie"]
        status = pytest.main(["-q", "-p", "no:cacheprovider", "-rfE", "-k", "cuda",
                              *(f"tests/test_{name}.py" for name in kernels)])
    ssa_table()
    sweep_table()
    kernel_table()
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
