"""Run directories, atomic safetensors checkpoints and the metrics sink.

A run directory holds::

    config.yaml          the fully resolved config
    metrics.jsonl        one JSON object per log step, each with "step"
    summary.json         final metrics
    checkpoints/step-NNNNNNNN/{weights.safetensors,state.json}
    checkpoints/latest   the name of the newest complete checkpoint (the newest ``keep_checkpoints`` are kept)
    tensorboard/         TensorBoard event files
    *.png                plots

Checkpoints are written into a temporary folder and renamed into place, and ``latest`` is replaced
atomically, so a crash or kill mid-save leaves the previous checkpoint intact.  Weights are safetensors;
nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import torch
import yaml
from safetensors.torch import load_file, save_file

__all__ = ["RunError", "create_run_dir", "save_checkpoint", "load_checkpoint", "latest_checkpoint", "checkpoint_at",
           "kept_steps", "MetricsSink", "write_json_atomic"]


class RunError(RuntimeError):
    """A problem with a run directory or checkpoint; its message is one line saying what to do."""


def check_out(out: str | Path) -> Path:
    """``out`` as a path, where a new run may be made: it does not exist, or is an empty folder; else RunError."""
    path = Path(out).expanduser()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RunError(f"{path} already exists and is not empty; choose another --out (runs are never overwritten)")
    return path


def create_run_dir(out: str | Path | None, name: str, root: str | Path = "runs") -> Path:
    """Make a new run directory.  ``out`` must not exist yet (or be an empty folder); by default a new
    timestamped folder ``runs/<name>-YYYYmmdd-HHMMSS`` is made.  Never reuses a folder with content."""
    if out is not None:
        path = check_out(out)
        if path.exists():
            return path
        path.mkdir(parents=True)
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    for i in range(1000):
        path = base if i == 0 else base.with_name(f"{base.name}-{i}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RunError(f"could not create a fresh run directory under {root}")


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def save_work(path: Path, tensors: dict[str, torch.Tensor], about: dict[str, str]) -> None:
    """Long work done so far (a held-out likelihood's estimates, its random stream), written atomically as
    safetensors with ``about`` (what work it is) as the file's metadata: :func:`load_work` gives it back."""
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=about)
    os.replace(tmp, path)


def fingerprint(*modules: torch.nn.Module) -> str:
    """A short hash of the modules' weights and buffers: work done with other weights is other work."""
    import hashlib

    h = hashlib.sha256()
    for module in modules:
        for name, t in module.state_dict().items():
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def load_work(path: Path, about: dict[str, str]) -> dict[str, torch.Tensor] | None:
    """The tensors :func:`save_work` wrote to ``path`` for the same ``about``; None where there is no such file, or
    it holds other work or cannot be read (the work then starts over and overwrites it)."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            if f.metadata() != about:
                return None
            return {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError):
        return None


def write_yaml(path: Path, obj: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(dict(obj), sort_keys=False))
    os.replace(tmp, path)


def _jsonable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.item() if x.numel() == 1 else x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serializable: {type(x)}")


# --- checkpoints --------------------------------------------------------------------------------
def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``tensors`` (safetensors) and ``state`` (JSON) as checkpoint ``step``, atomically; keep the
    newest ``keep`` checkpoints."""
    ckdir = run_dir / "checkpoints"
    ckdir.mkdir(exist_ok=True)
    final = ckdir / f"step-{step:08d}"
    tmp = ckdir / f".tmp-step-{step:08d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / "weights.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"step": step, **state}, indent=1, default=_jsonable))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    latest_tmp = ckdir / ".latest.tmp"
    latest_tmp.write_text(final.name + "\n")
    os.replace(latest_tmp, ckdir / "latest")
    old = sorted(p for p in ckdir.glob("step-*") if p.is_dir())
    for p in old[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    ckdir = Path(run_dir) / "checkpoints"
    latest = ckdir / "latest"
    if not latest.is_file():
        return None
    path = ckdir / latest.read_text().strip()
    return path if path.is_dir() else None


# --- one process trains a run at a time -------------------------------------------------------------------------
_HOLDER = ".training"  # in a run directory while a process trains it: {"pid", "host", "since"}


def run_holder(run_dir: str | Path) -> dict[str, Any] | None:
    """Who trains ``run_dir`` now, as its ``.training`` file says, or None: no file, or one left by a process of
    this machine that is gone (killed, or the machine restarted; a process id taken since by another process is
    told apart by its start time).  A process of another machine cannot be asked; its file is taken at its word."""
    try:
        holder = json.loads((Path(run_dir) / _HOLDER).read_text())
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):  # no file, or not one this code wrote
        return None
    if host == socket.gethostname() and not _alive(pid, holder.get("started")):
        return None
    return holder


def _started(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc/PID/stat); None where unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return started is None or _started(pid) in (None, started)


def claim_run(run_dir: Path) -> None:
    """Mark ``run_dir`` as trained by this process, or raise RunError if another one trains it (a run resumed in a
    second terminal while the first still trains it would interleave their checkpoints and metrics)."""
    path = run_dir / _HOLDER
    mine = run_dir / f".{_HOLDER}.{os.getpid()}"
    mine.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _started(os.getpid()),
                                "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
    try:
        for _ in range(2):
            try:
                _create_from(mine, path)
                return
            except FileExistsError:
                holder = run_holder(run_dir)
                if holder is not None:
                    where = "this machine" if holder["host"] == socket.gethostname() else holder["host"]
                    raise RunError(f"{run_dir} is being trained by process {holder['pid']} on {where} (since "
                                   f"{holder.get('since', '?')}); wait for it, or stop it with Ctrl-C or `kill "
                                   f"{holder['pid']}` (it writes its checkpoint), then resume"
                                   + ("" if where == "this machine" else f"; if that process is gone, delete {path}"))
                path.unlink(missing_ok=True)  # left by a process that is gone
        raise RunError(f"{run_dir}: could not mark it as being trained ({path}); is another process starting on it?")
    finally:
        mine.unlink(missing_ok=True)


def _create_from(source: Path, path: Path) -> None:
    """``path`` with ``source``'s contents, created whole or not at all (FileExistsError if it exists): a hard link,
    so that no other process reads it half written; where the file system has none, an exclusive create."""
    try:
        os.link(source, path)
    except FileExistsError:
        raise
    except OSError:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        with os.fdopen(fd, "w") as f:
            f.write(source.read_text())


def release_run(run_dir: Path) -> None:
    """Undo :func:`claim_run` (only this process's own mark)."""
    holder = run_holder(run_dir)
    if holder is not None and holder["pid"] == os.getpid() and holder["host"] == socket.gethostname():
        (run_dir / _HOLDER).unlink(missing_ok=True)


def kept_steps(run_dir: str | Path) -> list[int]:
    """The steps of the complete checkpoints ``run_dir`` keeps, oldest first."""
    ckdir = Path(run_dir) / "checkpoints"
    return sorted(int(p.name[5:]) for p in ckdir.glob("step-*")
                  if p.name[5:].isdigit() and (p / "weights.safetensors").is_file() and (p / "state.json").is_file())


def checkpoint_at(run_dir: str | Path, step: int) -> Path:
    """The checkpoint folder of ``step`` in ``run_dir``; a clear error that lists the kept steps where it is gone."""
    kept = kept_steps(run_dir)
    if step in kept:
        return Path(run_dir) / "checkpoints" / f"step-{step:08d}"
    raise RunError(f"{run_dir} has no checkpoint of step {step}; it keeps steps {', '.join(map(str, kept)) or 'none'} "
                   "(a run keeps its newest keep_checkpoints, 2 by default; train with keep_checkpoints=0 to keep "
                   "every one)")


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, state) of a checkpoint folder, or of a run directory's latest checkpoint."""
    path = Path(path)
    if (path / "checkpoints").is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise RunError(f"{path} has no complete checkpoint")
        path = found
    weights, state = path / "weights.safetensors", path / "state.json"
    if not weights.is_file() or not state.is_file():
        raise RunError(f"{path} is not a saddlepoint checkpoint (expected weights.safetensors and state.json)")
    try:
        return load_file(str(weights)), json.loads(state.read_text())
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise RunError(f"checkpoint {path} is unreadable ({type(e).__name__}: {e}); use an earlier checkpoint") from None


# --- metrics --------------------------------------------------------------------------------------
class MetricsSink:
    """Hierarchically named scalars (``loss/D``, ``score/D(x)``) to ``metrics.jsonl`` and TensorBoard."""

    def __init__(self, run_dir: Path, tensorboard: bool = True):
        self.path = run_dir / "metrics.jsonl"
        self._fh = open(self.path, "a", buffering=1)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:  # tensorboard is a dependency, but a stripped install still trains
                self._tb = None
        self._t0 = time.time()

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        row = {"step": step, "time": round(time.time() - self._t0, 3)}
        row.update({k: (float(v) if math.isfinite(float(v)) else str(float(v))) for k, v in scalars.items()})
        self._fh.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, float(v), step)

    def add_figure(self, tag: str, fig, step: int) -> None:
        if self._tb is not None:
            self._tb.add_figure(tag, fig, step, close=False)

    def add_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        if self._tb is not None:
            self._tb.add_image(tag, image, step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def live_output() -> bool:
    """Whether a progress bar can redraw in place: standard error is a terminal, or this is a notebook."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def progress_bar(total: int, desc: str, unit: str, disable: bool = False, log_every: float = 30.0, **kwargs: Any):
    """A tqdm bar: live in a terminal or a notebook (and cleared at the end); into a log file or a pipe, where each
    redraw is a line of its own, one line every ``log_every`` seconds, and the last one kept."""
    from tqdm.auto import tqdm

    live = live_output()
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=not live,
                mininterval=0.1 if live else log_every, **kwargs)
