"""Sweeps and ensembles on a real Dask cluster: a LocalCluster of 2 worker processes (1 thread
each) on loopback. Results must equal the in-process run bit for bit, also when a worker is
killed mid-run and its tasks run again elsewhere; bad clients and dead addresses fail clearly and
in bounded time. The cluster is closed however a test ends (the fixture's ``with``).
"""

import os
import signal
import threading
import time

import distributed
import numpy as np
import pytest
import torch

from companion import sweeps
from companion.gillespie import EventLimitError, ReactionNetwork, ssa

pytestmark = pytest.mark.timeout(300)


def gene_expression():
    return ReactionNetwork(["0 -> M", "M -> M + P", "M -> 0", "P -> 0"],
                           {"k_m": 2.0, "k_p": 5.0, "gamma_m": 1.0, "gamma_p": 0.5})


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", worker_dashboard_address=":0",
                                  env={"NUMBA_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c
    assert cluster.status.name == "closed"


def _same(a, b):
    assert (a.sums == b.sums).all() and (a.events == b.events).all()
    np.testing.assert_array_equal(a.var, b.var)


def test_an_ensemble_on_two_workers_is_the_in_process_run(client):
    net = gene_expression()
    kw = dict(t_max=3.0, n_traj=203, seed=6)
    here = ssa(net, [0, 0], **kw)
    there = sweeps.ensemble(net, [0, 0], chunk_size=37, client=client, progress_bar=False, **kw)
    assert torch.equal(there.x, here.x) and torch.equal(there.n_events, here.n_events)
    workers = client.run(os.getpid)
    assert len(workers) == 2 and os.getpid() not in workers.values()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_sweep_on_two_workers_is_the_in_process_run(client, backend):
    net = gene_expression()
    points = sweeps.grid(k_p=[2.0, 8.0], gamma_m=[0.5, 1.0, 2.0])
    kw = dict(t_max=4.0, n_traj=101, seed=1, t_grid=[2.0, 4.0], backend=backend, progress_bar=False)
    here = sweeps.sweep(net, points, [0, 0], **kw)
    there = sweeps.sweep(net, points, [0, 0], chunk_size=30, client=client, **kw)
    _same(there, here)
    assert there.params["k_p"].tolist() == points["k_p"].tolist()


def test_a_worker_killed_mid_run_changes_nothing(client):
    """SIGKILL one worker process while tasks are pending: the scheduler re-runs its tasks on the
    other worker (and the nanny restarts it); the result is still the in-process one."""
    net = gene_expression()
    points = sweeps.grid(k_p=[2.0, 8.0, 20.0], gamma_m=[0.5, 2.0])
    kw = dict(t_max=40.0, n_traj=1200, seed=2, t_grid=[40.0], progress_bar=False)
    here = sweeps.sweep(net, points, [0, 0], **kw)
    before = client.run(os.getpid)
    victim = next(iter(before.values()))
    killed = {}

    def done_tasks(dask_scheduler=None):
        return sum(1 for key, task in dask_scheduler.tasks.items()
                   if str(key).startswith("companion-sweep") and task.state == "memory")

    def kill_when_under_way():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = client.run_on_scheduler(done_tasks)
            if done >= 2:
                killed["done"] = done
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_under_way)
    killer.start()
    there = sweeps.sweep(net, points, [0, 0], chunk_size=40, client=client, **kw)  # 180 tasks
    killer.join()
    assert 2 <= killed["done"] < 180, "the worker was not killed while the sweep was under way"
    _same(there, here)
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()


def test_a_failing_task_raises_its_error_and_leaves_the_cluster_usable(client):
    net = ReactionNetwork(["0 -> X", "X -> 2 X"], {"k": 1.0, "growth": 0.0})
    with pytest.raises(EventLimitError, match=r"sweep point 1 \(growth=3\.0\), trajectory \d+"):
        sweeps.sweep(net, {"growth": [0.0, 3.0]}, [1], t_max=20.0, n_traj=8, chunk_size=2,
                     max_events=500, client=client, progress_bar=False)
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
        time.sleep(0.05)  # cancelled futures are forgotten
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    ok = sweeps.sweep(net, {"growth": [0.0]}, [1], t_max=1.0, n_traj=4, client=client, progress_bar=False)
    assert ok.n_traj == 4


def test_a_cluster_object_is_not_a_client(client):
    with pytest.raises(TypeError, match="client must be a distributed.Client.*got LocalCluster"):
        sweeps.sweep(gene_expression(), {"k_p": [1.0]}, [0, 0], t_max=1.0, n_traj=2,
                     client=distributed.LocalCluster.__new__(distributed.LocalCluster), progress_bar=False)


def test_a_scheduler_address_runs_the_sweep_and_is_closed_after(client):
    net = gene_expression()
    kw = dict(t_max=2.0, n_traj=40, seed=3, t_grid=[2.0], progress_bar=False)
    here = sweeps.sweep(net, {"k_p": [1.0, 4.0]}, [0, 0], **kw)
    there = sweeps.sweep(net, {"k_p": [1.0, 4.0]}, [0, 0], client=client.scheduler.address, chunk_size=7, **kw)
    _same(there, here)
    clients = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.clients))
    assert clients <= 2  # this client (and the scheduler's own): the sweep's connection is closed


@pytest.mark.timeout(60)
def test_an_address_that_does_not_answer_fails_clearly_within_the_timeout():
    dead = "tcp://127.0.0.1:9"  # discard port: nothing listens on loopback
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no Dask scheduler answered at 'tcp://127.0.0.1:9' within 2 s"):
        sweeps.sweep(gene_expression(), {"k_p": [1.0]}, [0, 0], t_max=1.0, n_traj=2, client=dead,
                     timeout=2, progress_bar=False)
    assert time.monotonic() - start < 2 + 10
    with pytest.raises(ConnectionError, match="within 1 s"):
        sweeps.connect(dead, timeout=1)
    with pytest.raises(TypeError, match="address must be a scheduler address"):
        sweeps.connect(8786)
