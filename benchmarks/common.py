"""Shared by the fixed-budget image benchmarks: train a recipe for a wall-clock budget, record rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def train_for(recipe: str, overrides: list[str], minutes: float, threads: int, seed: int, out: Path):
    """Train ``recipe`` + ``overrides`` for ``minutes`` of wall clock (no decay: the budget, not a
    step count, ends the run) and return (summary, the run loaded for evaluation)."""
    from saddlepoint import resolve_config, train
    from saddlepoint.train import load_run

    _, cfg = resolve_config(recipe, ["steps=100000000", "lr_decay=none", *overrides, f"time_limit={minutes}",
                                     f"threads={threads}", f"seed={seed}", "eval_every=0", "sample_every=0"])
    result = train(cfg, recipe=recipe, out=out, progress=sys.stderr.isatty())
    return result.summary, load_run(result.run_dir, load_data=True)


def record(row: dict, jsonl: str | None) -> None:
    if jsonl:
        with open(jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def read_rows(jsonl: str) -> list[dict]:
    return [json.loads(line) for line in Path(jsonl).read_text().splitlines() if line.strip()]
