"""Distributed data parallel through torchrun: two CPU processes with gloo train the same run as one
process with the same global batch, and only rank 0 writes the run directory."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from saddlepoint.cli import main
from saddlepoint.runs import load_checkpoint

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")


def _torchrun(args, nproc=2, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "saddlepoint", "train", *args, "--quiet"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _failure(r) -> str:
    """A failed worker's own error comes first in torchrun's stderr, its summary last: keep both."""
    return r.stderr if len(r.stderr) <= 6000 else r.stderr[:4000] + "\n[…]\n" + r.stderr[-2000:]


def _weights(run):
    tensors, meta = load_checkpoint(run)
    return {k: v for k, v in tensors.items() if k.startswith(("G.", "D."))}, meta


# An MLP critic has no batch statistics, so two half batches with averaged gradients are one full batch.
RING = ["ring8", "g_hidden=32", "d_hidden=32", "g_layers=2", "d_layers=2", "batch_size=64", "steps=6",
        "checkpoint_every=3", "eval_samples=200", "eval_every=0", "threads=1", "r1=0.01", "penalty_every=2",
        "critic_steps=2"]


# GMMN's MMD reads the batch as a whole: under torchrun it must see the global batch, not each slice.
@pytest.mark.parametrize("extra", [[], ["mmd=1", "mmd_bandwidth=0.5"]], ids=["game", "mmd"])
def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path, extra):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", *RING, *extra, "--out", str(one), "--quiet"]) == 0
    r = _torchrun([*RING, *extra, "--out", str(two)])
    assert r.returncode == 0, _failure(r)
    a, meta_a = _weights(one)
    b, meta_b = _weights(two)
    assert meta_a["step"] == meta_b["step"] == 6
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), (k, (a[k] - b[k]).abs().max())
    # The weights moved, so the match says something.
    assert not torch.allclose(a["G.net.0.weight"], _weights_at_start(tmp_path)["G.net.0.weight"])
    # Rank 0 alone reported and wrote: one summary line, one set of metric rows.
    assert r.stdout.count("saved to") == 1
    steps = [json.loads(line)["step"] for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))
    assert json.loads((two / "summary.json").read_text())["processes"] == 2


def _weights_at_start(tmp_path):
    start = tmp_path / "start"
    assert main(["train", *RING, "steps=1", "--out", str(start), "--quiet"]) == 0
    return _weights(start)[0]


def test_batch_norm_players_train_and_resume_under_torchrun(tmp_path):
    g = np.random.default_rng(0)
    np.savez(tmp_path / "sq.npz", images=g.integers(0, 255, size=(64, 28, 28), dtype=np.uint8))
    args = ["mnist-dcgan", f"data={tmp_path / 'sq.npz'}", "base_channels=4", "z_dim=8", "batch_size=8", "steps=4",
            "checkpoint_every=2", "eval_samples=16", "eval_every=0", "threads=1"]
    run = tmp_path / "run"
    r = _torchrun([*args, "--out", str(run)])
    assert r.returncode == 0, _failure(r)
    assert _weights(run)[1]["step"] == 4
    # An odd global batch cannot be split between two processes: one clear line, no run directory.
    bad = _torchrun([*args, "batch_size=7", "--out", str(tmp_path / "bad")])
    assert bad.returncode != 0 and "must divide evenly among 2 processes" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("world", ["1", "2"])
def test_a_torchrun_worker_leaves_without_the_interpreters_teardown(world):
    """gloo's threads can abort a worker during interpreter teardown (SIGABRT after a finished run), so under
    torchrun the command flushes and exits before it; a single process exits normally."""
    code = ("import atexit, sys; atexit.register(lambda: print('teardown')); "
            "sys.argv = ['saddlepoint', 'recipes']; from saddlepoint.cli import entry; entry()")
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "WORLD_SIZE": world}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "mnist-dcgan" in r.stdout  # the command ran and its output was flushed
    assert ("teardown" in r.stdout) == (world == "1")


def test_each_process_keeps_its_own_slice_of_the_global_batch():
    from saddlepoint.distributed import Dist

    x = torch.arange(8)
    assert Dist().shard(x).tolist() == list(range(8))
    assert Dist(rank=0, world=2).shard(x).tolist() == [0, 1, 2, 3]
    assert Dist(rank=1, world=2).shard(x).tolist() == [4, 5, 6, 7]
    assert Dist(rank=3, world=4).shard(x.view(8, 1)).flatten().tolist() == [6, 7]


def test_cyclegan_under_torchrun_matches_one_process(tmp_path, domains):
    """Each process keeps whole (a, b) pairs of the interleaved batch, and the cycle / identity penalties run
    the distributed generator twice more before one backward: the result is still the one-process run."""
    args = ["cyclegan-digits2mnist", f"data={domains}", "base_channels=4", "res_blocks=1", "batch_size=8", "steps=3",
            "pool_size=0", "checkpoint_every=3", "sample_every=0", "lr_decay=none", "threads=1",
            # float32 pinned: precision=auto times these tiny players, and on a busy machine it took bf16 (quiet:
            # fp32), whose rounding of half-batch sums leaves the runs 2e-3 apart — the flake this test had
            "precision=fp32"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", *args, "--out", str(one), "--quiet"]) == 0
    r = _torchrun([*args, "--out", str(two)])
    assert r.returncode == 0, _failure(r)
    assert _weights(two)[1]["step"] == 3
    # Compared as functions: a convolution's bias just before instance norm has a zero gradient up to rounding,
    # which Adam scales to full-size steps, so those weights differ while the translators do not.
    from saddlepoint.train import Experiment, load_run

    runs = [load_run(run) for run in (one, two)]
    G0 = Experiment(runs[0].cfg).G  # the same seed's untrained translators
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        y0, y1, y2 = (G.eval()(x) for G in (G0, runs[0].G, runs[1].G))
    assert (y1 - y0).abs().max() > 1e-2  # the translators moved, so the match says something
    assert torch.allclose(y1, y2, atol=1e-4), (y1 - y2).abs().max()


# --- terms of the whole batch under a process group: the same value and (DDP-averaged) gradient as one process ----


def _batch_terms(real: torch.Tensor, z: torch.Tensor):
    """IIC's code consistency through a small Q, and the MMD of a small generator's batch, on (slices of) a fixed
    global batch; returns both values and the gradients of Q's and G's weights."""
    from saddlepoint.penalties import code_consistency, mmd_to_data

    torch.manual_seed(0)  # the random views' stream, as train seeds it on every process
    q = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 6))
    g = torch.nn.Linear(4, 64)
    fake = torch.tanh(g(z)).view(-1, 1, 8, 8)
    iic = code_consistency(categorical=3, codes=2)(q, real, fake)
    mmd = mmd_to_data(4.0)(None, real, fake)
    (iic + mmd).backward()
    return torch.stack([iic.detach(), mmd.detach()]), [p.grad for p in (*q.parameters(), *g.parameters())]


def _global_batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(8, 1, 8, 8, generator=g) * 2 - 1, torch.randn(8, 4, generator=g)


def _batch_terms_worker(rank: int, world: int, rendezvous: str, out: str):
    import torch.distributed as dist

    from saddlepoint.distributed import local_part

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    real, z = _global_batch()
    values, grads = _batch_terms(local_part(real), local_part(z))
    for grad in grads:  # what DistributedDataParallel does with the gradients
        dist.all_reduce(grad)
        grad /= world
    if rank == 0:
        torch.save({"values": values, "grads": grads}, out)
    dist.barrier()
    dist.destroy_process_group()


def test_terms_of_the_whole_batch_see_the_global_batch_under_a_process_group(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "two.pt"
    mp.spawn(_batch_terms_worker, args=(2, str(tmp_path / "rendezvous"), str(out)), nprocs=2)
    two = torch.load(out, weights_only=True)
    values, grads = _batch_terms(*_global_batch())
    assert torch.allclose(two["values"], values, atol=1e-5), (two["values"], values)
    for a, b in zip(two["grads"], grads):
        assert b.abs().max() > 0  # the term reaches the weight, so the match says something
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), (a - b).abs().max()
    # A slice alone reads neither term as the global batch does.
    half, _ = _batch_terms(*(x[:4] for x in _global_batch()))
    assert not torch.allclose(half, values, atol=1e-3)


# A worker that receives SIGTERM itself as its step 3 ends, on rank 1 only: the other process must learn of it.
_SIGNALLED_WORKER = """
import os, signal, sys
from saddlepoint import trainer
real = trainer.advance
def advance(model):
    logs = real(model)
    if model.step == 3 and os.environ["RANK"] == "1":
        signal.raise_signal(signal.SIGTERM)
    return logs
trainer.advance = advance
from saddlepoint.cli import entry
sys.argv = ["saddlepoint", "train", *sys.argv[1:]]
entry()
"""


def test_a_signal_to_one_process_stops_every_process_at_the_same_step(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(_SIGNALLED_WORKER)
    run, one = tmp_path / "two", tmp_path / "one"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker), *RING,
           "--out", str(run), "--quiet"]
    r = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "SIGTERM: stopped at step 3 of 6" in r.stderr, _failure(r)
    assert "another process's SIGTERM or SIGINT: stopped at step 3 of 6" in r.stderr, _failure(r)
    assert _weights(run)[1]["step"] == 3 and not (run / "summary.json").exists()
    r = _torchrun(["--resume", str(run)])
    assert r.returncode == 0, _failure(r)
    assert main(["train", *RING, "--out", str(one), "--quiet"]) == 0
    a, b = _weights(one)[0], _weights(run)[0]
    assert _weights(run)[1]["step"] == 6
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), (k, (a[k] - b[k]).abs().max())
