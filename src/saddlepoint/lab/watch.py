"""What the runs page (``saddlepoint watch``) reads: the runs under a folder, a run's metrics from where the page last
read, its pictures and its numbers.

It only reads, and only small files: a name the page sends is a run directory directly under the folder (or the
folder itself, when that is a run; a link the user put there to a run elsewhere counts), a picture one of the PNG
files at the top of that run; anything else is :class:`NotFound`.
A run's ``metrics.jsonl`` is read from a byte offset to its last whole line, so a page that follows a long run reads
each row once; when the trainer rewrites the file (a resume or a rollback forgets the rows after its checkpoint), the
page is told to start again.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

from ..runlist import ago, duration, list_runs, read_json, read_run, read_yaml, result_text

__all__ = ["NotFound", "runs_table", "run_dir", "metrics_since", "pictures", "picture_path", "about", "MAX_READ"]

MAX_READ = 4 << 20  # bytes of metrics.jsonl one request reads (the page asks again for the rest)
_SNAPSHOT = re.compile(r"samples-(\d+)\.png")


class NotFound(LookupError):
    """No such run under the folder, or no such picture in the run."""


def sanitize(obj: Any) -> Any:
    """Non-finite numbers as null (JSON has no inf or NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize(v) for v in obj]
    return obj


def run_dir(root: Path, name: str) -> Path:
    """The run directory ``name`` under ``root`` (``root`` itself when it is a run of that name)."""
    if (root / "config.yaml").is_file() and name == root.resolve().name:
        return root
    if not name or name != Path(name).name or name.startswith(".") or "\\" in name:
        raise NotFound(f"{name!r} is not a run under {root}")
    path = root / name
    if not (path / "config.yaml").is_file():
        raise NotFound(f"{name!r} is not a run under {root}")
    return path


def runs_table(root: Path) -> list[dict[str, Any]]:
    """One row per run, newest first, with what ``saddlepoint runs`` shows and the rate of a run in training."""
    if not root.is_dir():
        return []
    now, rows = time.time(), []
    for e in reversed(list_runs(root)):
        left = e.seconds_left
        rows.append({"name": e.path.resolve().name if e.path == root else e.path.name, "recipe": e.recipe,
                     "step": int(e.last_logged.get("step", e.step)) if e.state == "training" else e.step,
                     "steps": e.steps, "state": e.state, "updated": e.updated, "updated_ago": ago(now - e.updated),
                     "result": result_text(e), "rate": e.rate, "seconds_left": left,
                     "left": None if left is None else f"about {duration(left)} to go"})
    return sanitize(rows)


def metrics_since(run: Path, since: int = 0, file: str | None = None) -> dict[str, Any]:
    """The rows of ``run``'s metrics.jsonl after byte ``since`` (whole lines only), ``next`` (the offset to ask from)
    and ``file`` (which file it read).  ``reset``: the file is not the one ``file`` names or is shorter than
    ``since`` (rewritten by a resume or a rollback): the rows are read from its start and replace the page's."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        return {"file": None, "next": 0, "rows": [], "reset": since > 0, "more": False}
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())  # the file opened, even if the trainer has just replaced the one at the path
        fid, size = f"{st.st_dev}-{st.st_ino}", st.st_size
        reset = (file is not None and file != fid) or since > size or since < 0
        start = 0 if reset else since
        f.seek(start)
        chunk = f.read(min(size - start, MAX_READ))
    end = chunk.rfind(b"\n") + 1  # a row being written is left for the next read
    rows = []
    for line in chunk[:end].decode("utf-8", "replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append({k: v for k, v in row.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)})
    return sanitize({"file": fid, "next": start + end, "rows": rows, "reset": reset,
                     "more": start + len(chunk) < size})


def pictures(run: Path) -> list[dict[str, Any]]:
    """The PNG pictures ``run`` holds at its top: the sample grids over training (``step`` set, oldest first), then
    the others by name (samples.png, curves.png, critic.png, eval-steps.png, ...)."""
    found = []
    for p in run.iterdir():
        if p.suffix != ".png" or p.name.startswith(".") or not p.is_file():
            continue
        m = _SNAPSHOT.fullmatch(p.name)
        st = p.stat()
        found.append({"name": p.name, "step": int(m.group(1)) if m else None, "mtime": st.st_mtime,
                      "size": st.st_size})
    return sorted(found, key=lambda d: (d["step"] is None, d["step"] or 0, d["name"]))


def picture_path(run: Path, name: str) -> Path:
    """The file of picture ``name`` of ``run`` (NotFound unless :func:`pictures` lists it)."""
    if name not in {d["name"] for d in pictures(run)}:
        raise NotFound(f"{run.name} has no picture {name!r}")
    return run / name


def about(run: Path) -> dict[str, Any]:
    """The run's resolved config, what it came from, its summary and its evaluation, and its numbers in a line."""
    try:
        config = read_yaml(run / "config.yaml")
    except (OSError, yaml.YAMLError):
        config = {}
    entry = read_run(run)
    return sanitize({"name": run.resolve().name, "config": config if isinstance(config, dict) else {},
                     "run": read_json(run / "run.json"), "summary": entry.summary if entry else {},
                     "evaluation": entry.evaluation if entry else {}, "result": result_text(entry) if entry else "",
                     "state": entry.state if entry else "not a run"})
