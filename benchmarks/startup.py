"""The fixed cost of a short run: what a whole `saddlepoint train` process spends beyond its training steps.

Two runs of the same recipe, ``--short`` and ``--long`` steps, each as a fresh process (as a user runs it):
the cost of one step is (t_long − t_short) / (long − short), and the fixed cost is t_short − short × that.
Each is repeated ``--repeat`` times and the median kept.  ``--phases`` adds one traced run in this process that
says where the fixed cost goes (imports, data, building the players, checkpoints, the final evaluation, pictures).

    python benchmarks/startup.py                                   # mnist-dcgan, 2 and 12 steps, 3 repeats
    python benchmarks/startup.py --recipe grid25 --phases

Needs MNIST in the data home for the MNIST recipes.  The precision cache is warmed by one run first, as a user's
second run finds it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(recipe: str, steps: int, out: Path, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "saddlepoint", "train", recipe, f"steps={steps}", "--out", str(out), "--quiet", *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def phases(recipe: str, steps: int, out: Path, extra: list[str]) -> list[tuple[str, float]]:
    """Wall time of each phase of one run in this process (imports included: run in a fresh interpreter)."""
    code = f"""
import time, json
t0 = time.perf_counter(); marks = []
def mark(name): marks.append((name, time.perf_counter()))
import torch; mark("import torch")
import saddlepoint.cli, saddlepoint.trainer as T; mark("import saddlepoint")
from saddlepoint.families.base import Family
from saddlepoint import runs
def wrap(owner, name, label):
    fn = getattr(owner, name)
    def inner(*a, **k):
        mark("before " + label); r = fn(*a, **k); mark(label); return r
    setattr(owner, name, inner)
wrap(T, "build", "build: data, players, precision")
wrap(T, "MetricsSink", "metrics and TensorBoard writer")
wrap(T, "save_checkpoint_of", "checkpoint")
wrap(T, "make_plots", "pictures")
cls = T.get_family(__import__("saddlepoint").resolve_config({recipe!r}, [])[1].family)
wrap(cls, "evaluate", "final evaluation")
import sys
from saddlepoint.cli import entry
sys.argv = ["saddlepoint", "train", {recipe!r}, "steps={steps}", "--out", {str(out)!r}, "--quiet", *{extra!r}]
try:
    entry()  # as the command runs it, with its exit
except SystemExit:
    pass
mark("end")
print(json.dumps([(n, t - t0) for n, t in marks]))
"""
    t_start = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t_start
    marks = __import__("json").loads(res.stdout.strip().splitlines()[-1])
    rows, last = [], 0.0
    for name, t in marks:
        label = "training steps and the rest" if name.startswith("before ") else name
        rows.append((label, t - last))
        last = t
    merged: dict[str, float] = {}
    for label, dt in rows:
        merged[label] = merged.get(label, 0.0) + dt
    merged["interpreter start and exit"] = wall - last
    return list(merged.items())


def main(argv: list[str] | None = None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default="mnist-dcgan")
    p.add_argument("--short", type=int, default=2)
    p.add_argument("--long", type=int, default=12)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--phases", action="store_true", help="also trace where one short run's time goes")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="startup-"))
    os.environ.setdefault("SADDLEPOINT_CACHE", str(root / "cache"))
    timed_run(args.recipe, 1, root / "warm", args.override)  # the precision cache, as a second run finds it
    times = {n: [] for n in (args.short, args.long)}
    for r in range(args.repeat):
        for n in times:
            times[n].append(timed_run(args.recipe, n, root / f"s{n}-{r}", args.override))
    t_short, t_long = (statistics.median(times[n]) for n in (args.short, args.long))
    step = (t_long - t_short) / (args.long - args.short)
    fixed = t_short - args.short * step
    from saddlepoint.precision import machine_id

    print(f"machine: {machine_id(torch.device('cpu'))}, {os.cpu_count()} CPUs")
    print(f"| recipe | {args.short} steps | {args.long} steps | one step | fixed cost |\n|---|---|---|---|---|")
    print(f"| {args.recipe} {' '.join(args.override)} | {t_short:.2f} s | {t_long:.2f} s | {step:.3f} s | "
          f"**{fixed:.2f} s** |")
    if args.phases:
        print(f"\nwhere one {args.short}-step run's time goes:\n\n| phase | seconds |\n|---|---|")
        for label, dt in phases(args.recipe, args.short, root / "traced", args.override):
            print(f"| {label} | {dt:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
