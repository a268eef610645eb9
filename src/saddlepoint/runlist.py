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

__all__ = ["RunEntry", "list_runs", "read_run", "read_yaml", "read_json", "config_differences", "quality_text",
           "result_text", "ago", "duration"]

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
    rate: float | None = None  # steps a second over the last logged rows of the process training it now
    time_limit: float = 0.0  # config.yaml's time_limit: minutes of training for each process that trains it

    @property
    def seconds_left(self) -> float | None:
        """About how long a run in training has to go at its present rate, or until its time limit ends it if that
        is sooner (None where that is not known)."""
        if self.state != "training" or not self.rate:
            return None
        left = max(self.steps - int(self.last_logged.get("step", self.step)), 0) / self.rate
        if self.time_limit > 0 and _timed(self.last_logged):
            left = min(left, max(60 * self.time_limit - self.last_logged["time"], 0.0))
        return left


def read_yaml(path: Path) -> Any:
    """A small YAML file, parsed safely by libyaml where PyYAML has it (a tenth of the time: the runs page reads every
    run's config.yaml every two seconds)."""
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def read_json(path: Path) -> dict[str, Any]:
    """A small JSON object file; {} where it is missing, unreadable or not an object."""
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
        config = read_yaml(run / "config.yaml")
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(config, dict):
        return None
    info, summary = read_json(run / "run.json"), read_json(run / "summary.json")
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
    rows = [] if summary and holder is None else _tail_rows(metrics)
    return RunEntry(run, str(info.get("recipe", "custom")), step, steps, state, updated, began,
                    str(info.get("created", "")), summary, read_json(run / "eval.json"), holder,
                    rows[-1] if rows else {}, _rate(rows) if holder is not None else None,
                    _number(config.get("time_limit")))


def _tail_rows(metrics: Path, tail: int = 65536) -> list[dict[str, Any]]:
    """The whole rows at the end of metrics.jsonl, read from its end (a long run's log is not read whole)."""
    try:
        with open(metrics, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - tail))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:  # cut short by the seek, or being written
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return rows


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _timed(row: dict[str, Any]) -> bool:
    return isinstance(row.get("time"), (int, float))


def _rate(rows: list[dict[str, Any]], last: int = 20) -> float | None:
    """Steps a second over the last ``last`` rows logged by one process (a row's ``time`` counts from its process's
    start: a resumed run's clock starts again)."""
    if not rows or not _timed(rows[-1]):
        return None
    seg = rows[-1:]
    for row in reversed(rows[:-1]):
        if len(seg) == last or not _timed(row) or row["time"] >= seg[0]["time"]:
            break
        seg.insert(0, row)
    if len(seg) < 2 or seg[-1]["time"] <= seg[0]["time"] or seg[-1]["step"] <= seg[0]["step"]:
        return None
    return (seg[-1]["step"] - seg[0]["step"]) / (seg[-1]["time"] - seg[0]["time"])


def list_runs(root: str | Path) -> list[RunEntry]:
    """Every run directory directly under ``root`` (or ``root`` itself, if it is one), oldest first."""
    root = Path(root)
    found = [read_run(root)] if (root / "config.yaml").is_file() else [read_run(p) for p in sorted(root.iterdir())
                                                                       if p.is_dir()]
    return sorted((e for e in found if e is not None), key=lambda e: (e.began, e.path.name))


def config_differences(runs: list[Path]) -> dict[str, list[Any]]:
    """Where the runs' resolved configs differ: each key whose value is not the same in all of them (the recipe
    they came from first), with each run's value in order (None where a run has no such key), in config order."""
    configs = []
    for run in runs:
        try:
            config = read_yaml(run / "config.yaml")
        except (OSError, yaml.YAMLError):
            config = {}
        configs.append({"recipe": read_json(run / "run.json").get("recipe", "custom"),
                        **(config if isinstance(config, dict) else {})})
    differs = {}
    for k in dict.fromkeys(k for c in configs for k in c):
        values = [c.get(k) for c in configs]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1:
            differs[k] = values
    return differs


# ---- in words, as `saddlepoint runs` and the runs page show them ---------------------------------------------
def _translation_quality(s: dict) -> str:
    """'PSNR 28.98 dB, SSIM 0.796 on 2 held-out photographs (bicubic 28.04 dB / 0.765: +0.94 dB)' and the like."""
    named = (("l1", "L1 {:.4f}"), ("psnr", "PSNR {:.2f} dB"), ("ssim", "SSIM {:.3f}"), ("cycle", "cycle error {:.4f}"))
    parts = [text.format(s[key]) for key, text in named if key in s]
    if "accuracy" in s:
        parts.append(f"{100 * s['accuracy']:.1f}% read as their source's digit")
    line = f"{', '.join(parts)} on {s['evaluated_on']}"
    if "bicubic/psnr" in s:
        line += (f" (bicubic {s['bicubic/psnr']:.2f} dB / {s['bicubic/ssim']:.3f}: "
                 f"{s['psnr'] - s['bicubic/psnr']:+.2f} dB)")
    return line


def quality_text(summary: dict) -> str:
    """What a finished run's summary says of its samples, in a line."""
    if "high_quality" in summary:  # a 2-D mixture: PacGAN's numbers
        from .data import get_toy

        k = len(get_toy(summary["data"]).means)
        q = (f"{summary['modes']}/{k} modes, high quality {100 * summary['high_quality']:.1f}%, "
             f"reverse KL {summary['reverse_kl']:.3f}")
    elif "modes" in summary:  # stacked MNIST: digit triples read by the shipped classifier
        q = (f"{summary['modes']}/1000 digit triples, KL {summary['kl']:.3f} on {summary['eval_samples']} samples "
             "(the protocol's 26,000: `saddlepoint evaluate RUN --metrics modes`)")
    elif "evaluated_on" in summary:  # a translation run: its own task's numbers on held-out data
        q = _translation_quality(summary)
    else:
        q = ", ".join(f"{k} {v:.4g}" for k, v in summary.items()
                      if k in ("mmd2", "mmd2_pixels", "accuracy", "code_match"))
        if "classes" in summary:  # MNIST: the digits drawn
            q += f", {summary['classes']}/10 digits drawn (KL to uniform {summary['class_kl']:.3f})"
    if "elbo" in summary:  # a VAE: its bound on the training data, and the latent units it uses
        q += (f"; ELBO {summary['elbo']:.2f} nats on training data, {summary['active_units']} active latent units "
              "(held-out likelihood: `saddlepoint evaluate RUN --metrics nll`)")
    if "collapse_alarm" in summary:
        q += f" — ALARM: {summary['collapse_alarm']}"
    if summary.get("rollbacks"):
        q += f" — {summary['rollbacks']} rollback{'s' if summary['rollbacks'] > 1 else ''} after a non-finite loss"
    return q


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3 h', '2 d'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    unit, size = next((u, z) for u, z in (("d", 86400), ("h", 3600), ("min", 60)) if seconds >= z)
    return f"{seconds / size:.0f} {unit}"


def ago(seconds: float) -> str:
    return "just now" if seconds < 60 else f"{duration(seconds)} ago"


def _last_logged(row: dict) -> str:
    """A run's last logged row, in brief: its evaluation's numbers where it has them, else its losses."""
    shown = {k: v for k, v in row.items() if k.startswith("eval/") and isinstance(v, (int, float))}
    shown = shown or {k: v for k, v in row.items() if k.startswith("loss") and isinstance(v, (int, float))}
    if not shown:
        return ""
    return f"logged at step {row['step']}: " + ", ".join(f"{k} {v:.4g}" for k, v in list(shown.items())[:4])


# eval.json's headline numbers, as `saddlepoint evaluate RUN --metrics ...` writes them
_EVALUATED = (("fid", "FID", ".1f"), ("kid", "KID", ".4f"), ("nll", "NLL", ".2f"), ("parzen_ll", "Parzen", ".1f"),
              ("ais_ll", "AIS log p(x)", ".1f"), ("ais_cond_ll", "AIS log p(x|y)", ".1f"), ("psnr", "PSNR", ".2f"))


def result_text(e: RunEntry) -> str:
    """A run's numbers in a line: its summary's once it has ended, else its last logged row's; then eval.json's."""
    result = quality_text(e.summary) if e.summary and e.state != "training" else _last_logged(e.last_logged)
    evaluated = [f"{label} {e.evaluation[k]:{fmt}}" for k, label, fmt in _EVALUATED
                 if isinstance(e.evaluation.get(k), (int, float))]
    if evaluated:
        result += ("; " if result else "") + ", ".join(evaluated) + f" (eval.json, step {e.evaluation.get('step')})"
    return result
