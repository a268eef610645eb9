"""Shared by the fixed-budget image benchmarks: train a recipe for a wall-clock budget, record rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def train_for(recipe: str, overrides: list[str], minutes: float, threads: int, seed: int, out: Path,
              watch: int = 0):
    """Train ``recipe`` + ``overrides`` for ``minutes`` of wall clock (no decay: the budget, not a
    step count, ends the run) and return (summary, the run loaded for evaluation).  ``watch`` > 0: the
    run evaluates itself every ``watch`` steps on 3000 samples (logged in its metrics.jsonl)."""
    from saddlepoint import resolve_config, train
    from saddlepoint.train import load_run

    evals = [f"eval_every={watch}", "eval_samples=3000"] if watch else ["eval_every=0"]
    _, cfg = resolve_config(recipe, ["steps=100000000", "lr_decay=none", *overrides, f"time_limit={minutes}",
                                     f"threads={threads}", f"seed={seed}", *evals, "sample_every=0"])
    result = train(cfg, recipe=recipe, out=out, progress=sys.stderr.isatty())
    return result.summary, load_run(result.run_dir, load_data=True)


def train_steps(recipe: str, overrides: list[str], steps: int | None, threads: int, seed: int, out: Path):
    """Train ``recipe`` + ``overrides`` for ``steps`` generator steps (None: the recipe's own, schedule and all)
    and return (summary, the run loaded for evaluation)."""
    from saddlepoint import resolve_config, train
    from saddlepoint.train import load_run

    length = [f"steps={steps}"] if steps else []
    _, cfg = resolve_config(recipe, [*overrides, *length, f"threads={threads}", f"seed={seed}", "eval_every=0",
                                     "sample_every=0"])
    result = train(cfg, recipe=recipe, out=out, progress=sys.stderr.isatty())
    return result.summary, load_run(result.run_dir, load_data=True)


def machine(threads: int) -> str:
    """The CPU's model name, torch's version and CPU capability, the threads: recorded beside every figure."""
    import platform

    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    return f"{cpu}, torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {threads} threads"


def record(row: dict, jsonl: str | None) -> None:
    if jsonl:
        with open(jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def read_rows(jsonl: str) -> list[dict]:
    return [json.loads(line) for line in Path(jsonl).read_text().splitlines() if line.strip()]


def print_table_from(args, table) -> bool:
    """With ``--table-from JSONL``: print ``table`` of the rows recorded there and return True (nothing to run)."""
    if not args.table_from:
        return False
    print(table(read_rows(args.table_from)))
    return True


def add_budget_arguments(p, minutes: float) -> None:
    """The options every fixed-budget benchmark takes."""
    p.add_argument("--minutes", type=float, default=minutes, help="training wall clock per row")
    add_run_arguments(p)


def add_run_arguments(p) -> None:
    """The options every benchmark takes: threads, seed, where runs and results go."""
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for the runs (default: a temporary one)")
    p.add_argument("--jsonl", help="append each result to this file as it finishes")
    p.add_argument("--table-from", metavar="JSONL", help="print the table from earlier --jsonl results")


def add_override_argument(p) -> None:
    """``--override KEY=VALUE`` (repeatable): extra config for every row, recorded in the rows."""
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every row (repeatable), shown in the table")


def run_rows(names: list[str], run, args, table) -> None:
    """Run ``run(name)`` for each name, recording each row as it finishes, then print the table."""
    import platform

    rows = []
    for name in names:
        rows.append(run(name))
        record(rows[-1], args.jsonl)
    print(f"\nmachine: {platform.processor() or platform.machine()}, torch threads {args.threads}\n")
    print(table(rows))
