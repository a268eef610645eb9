"""The runs under a folder, as ``saddlepoint runs`` lists them: what each trained, how far it got, how it ended.

It reads only the small files of each run directory (config.yaml, run.json, summary.json, eval.json, the name of
the latest checkpoint and the mark of the process training it), never a checkpoint, so a hundred runs are listed
in a moment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .runs import run_holder

__all__ = ["RunEntry", "list_runs"]

State = Literal["training", "finished", "time limit", "stopped", "not started"]


@dataclass
class RunEntry:
    """One run directory: ``step`` of ``steps`` done (its latest checkpoint), how it stands, and what it reported.
    ``holder``: the process that trains it now (``pid``, ``host``), if one does."""

    path: Path
    recipe: str
    step: int
    steps: int
    state: State
    updated: float  # when the run last wrote a line of metrics (seconds since the epoch)
    began: float  # when the run directory was made (seconds since the epoch)
    created: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)  # eval.json: `saddlepoint evaluate RUN`
    holder: dict[str, Any] | None = None
    last_logged: dict[str, Any] = field(default_factory=dict)  # metrics.jsonl's last row (a run with no summary)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _latest_step(run: Path) -> int:
    """The step of the checkpoint ``checkpoints/latest`` names (written last, atomically), 0 without one."""
    try:
        name = (run / "checkpoints" / "latest").read_text().strip()
        return int(name[len("step-"):]) if (run / "checkpoints" / name).is_dir() else 0
    except (OSError, ValueError):
        return 0


def read_run(run: Path) -> RunEntry | None:
    """The entry of ``run``, or None where it is not a run directory (no readable config.yaml)."""
    try:
        config = yaml.safe_load((run / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(config, dict):
        return None
    info, summary = _json(run / "run.json"), _json(run / "summary.json")
    steps, step = int(config.get("steps", 0)), _latest_step(run)
    holder = run_holder(run)
    if holder is not None:  # a process trains it now (resumed, it may have a summary of an earlier end)
        state: State = "training"
    elif summary:
        state = "time limit" if "stopped" in summary else "finished"
        step = int(summary.get("steps", step))
    else:  # stopped by Ctrl-C, a signal, a crash or a diverged loss
        state = "stopped" if step else "not started"
    metrics = run / "metrics.jsonl"
    updated = (metrics if metrics.is_file() else run / "config.yaml").stat().st_mtime
    began = (run / "run.json").stat().st_mtime if (run / "run.json").is_file() else updated  # written once
    return RunEntry(run, str(info.get("recipe", "custom")), step, steps, state, updated, began,
                    str(info.get("created", "")), summary, _json(run / "eval.json"), holder,
                    {} if summary and holder is None else _last_row(metrics))


def _last_row(metrics: Path, tail: int = 65536) -> dict[str, Any]:
    """The last whole row of metrics.jsonl, read from its end (a long run's log is not read whole)."""
    try:
        with open(metrics, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - tail))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:  # cut short by the seek, or being written
            continue
        if isinstance(row, dict) and "step" in row:
            return row
    return {}


def list_runs(root: str | Path) -> list[RunEntry]:
    """Every run directory directly under ``root`` (or ``root`` itself, if it is one), oldest first."""
    root = Path(root)
    found = [read_run(root)] if (root / "config.yaml").is_file() else [read_run(p) for p in sorted(root.iterdir())
                                                                       if p.is_dir()]
    return sorted((e for e in found if e is not None), key=lambda e: (e.began, e.path.name))
