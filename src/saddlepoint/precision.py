"""``precision=auto``: the forward passes' dtype chosen by measuring this machine, not by guessing from its flags.

The run's own players are timed forward and backward for a fraction of a second in float32 and in bfloat16 (and
float16 on CUDA); the faster one is chosen when it is at least ``MIN_GAIN`` faster than float32, which stays the
choice otherwise.  The answer is cached per machine and player shape in ``$SADDLEPOINT_DATA/cache/precision.json``
(or ``$SADDLEPOINT_CACHE/precision.json``; a read-only folder only means measuring again), and the run records it (run.json, summary.json), so a resume
uses the same precision without measuring.

Measured where it matters: on an AMD EPYC (Zen 5) with AVX-512-BF16 bf16 matrix products ran at 660 GFLOP/s against
172 in float32, and the DCGAN step at 165 against 130 images/s; on an AVX2-only EPYC bf16 is emulated and slower;
a flag-based rule ("AMX means bf16") got the first wrong.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import torch

__all__ = ["MIN_GAIN", "GIVE_UP", "choose_precision", "machine_id", "matmul_speed", "time_call", "NAMES"]

MIN_GAIN = 1.10  # a lower precision must be this much faster than float32 to be chosen
GIVE_UP = 3.0  # a precision whose first two steps each take this many times float32's is not timed further
NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def machine_id(device: torch.device) -> str:
    """What the answer depends on: the processor (or GPU), torch's CPU capability and torch's version."""
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    what = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        threads = torch.get_num_threads()
        what += f" ({torch.backends.cpu.get_cpu_capability()}, {threads} thread{'' if threads == 1 else 's'})"
    return f"{what}; torch {torch.__version__}"


def time_call(fn: Callable[[], None], budget: float = 0.25, reps: int = 3, limit: float | None = None) -> float:
    """Seconds per call of ``fn``: one warm-up call, then the median of up to ``reps`` calls within ``budget``.
    Where the warm-up call is slower than ``limit``, one more call decides: slower than ``limit`` again, it is the
    answer (a precision that slow, emulated bf16, is not worth timing further); faster, the first call paid for
    a one-time cost (oneDNN generating a dtype's kernels on first use can take several float32 steps) and the
    timing goes on."""
    def once() -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    warm = once()
    if limit is not None and warm > limit and (again := once()) > limit:
        return again
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < reps and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def matmul_speed(dtype: torch.dtype, device: torch.device, n: int = 512) -> float:
    """Speed of an n×n by n×n matrix product in ``dtype`` relative to float32 on ``device`` (> 1: faster).  A few
    milliseconds: where this is far below 1 (bf16 emulated on an AVX2 CPU), timing the players is not worth it."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=g).to(device)

    def seconds(dt: torch.dtype) -> float:
        x = a.to(dt)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

        def run() -> None:
            x @ x
            sync()

        return time_call(run, budget=0.05, reps=5)

    return seconds(torch.float32) / seconds(dtype)


def _read(path: Path | None) -> dict:
    try:
        return json.loads(path.read_text()) if path is not None and path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _write(path: Path | None, cache: dict) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError:  # a read-only data home: measure again next time
        pass


def choose_precision(measure: Callable[[torch.dtype, float | None], float], candidates: list[torch.dtype], key: str,
                     cache_path: Path | None = None,
                     probe: Callable[[torch.dtype], float] | None = None) -> tuple[torch.dtype, str]:
    """(the dtype to train in, one line saying why).  ``measure(dtype, limit)`` gives seconds per player step in
    that dtype (it may stop at ``limit`` seconds: :func:`time_call`); ``candidates`` start with float32; ``key``
    names the machine and the players for the cache.  ``probe(dtype)``: a cheap speed ratio to float32 (a matrix
    product, :func:`matmul_speed`); a dtype it puts below 1/``GIVE_UP`` is not timed on the players."""
    cache = _read(cache_path)
    if key in cache and cache[key].get("choice") in {NAMES[c] for c in candidates}:
        hit = cache[key]
        chosen = next(c for c in candidates if NAMES[c] == hit["choice"])
        return chosen, f"precision=auto: {hit['choice']} ({hit['why']}; cached)"
    probed = {c: probe(c) for c in candidates if c != torch.float32} if probe is not None else {}
    skipped = {c: r for c, r in probed.items() if r < 1 / GIVE_UP}
    base = measure(torch.float32, None)
    seconds = {torch.float32: base, **{c: measure(c, GIVE_UP * base) for c in candidates
                                       if c != torch.float32 and c not in skipped}}
    best = min(seconds, key=lambda c: seconds[c])
    chosen = best if base / seconds[best] >= MIN_GAIN else torch.float32
    ratios = ", ".join([f"{NAMES[c]} {base / t:.2f}×" for c, t in seconds.items() if c != torch.float32]
                       + [f"{NAMES[c]} not timed (its matrix products ran at {r:.2f}× fp32's)"
                          for c, r in skipped.items()])
    why = f"measured speed against fp32: {ratios}"
    # A step given up as hopeless while the same precision's matrix products ran at least as fast as fp32's says
    # more about a busy machine than about the precision: decide this run by it, but measure again next time.
    doubtful = [c for c, t in seconds.items() if c in probed and base / t < 1 / GIVE_UP and probed[c] >= 1]
    if doubtful:
        return chosen, (f"precision=auto: {NAMES[chosen]} ({why}; not cached: {NAMES[doubtful[0]]}'s matrix products "
                        f"ran at {probed[doubtful[0]]:.2f}× fp32's, so the machine was probably busy)")
    cache[key] = {"choice": NAMES[chosen], "why": why,
                  "ms": {NAMES[c]: round(1000 * t, 3) for c, t in seconds.items()}}
    _write(cache_path, cache)
    return chosen, f"precision=auto: {NAMES[chosen]} ({why})"
