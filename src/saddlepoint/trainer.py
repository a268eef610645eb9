"""The trainer: one loop for every model family.

It builds the family a config names (:mod:`saddlepoint.families`), then runs its steps with what every run
shares — the run directory, checkpoints of each part's state by name, logging and TensorBoard, the progress bar,
the learning-rate decay, the generator's EMA and mixture of snapshots, ``time_limit``, the non-finite guard,
periodic evaluation and pictures, and torchrun — without asking which family it runs.

Python use::

    from saddlepoint import resolve_config, train
    name, cfg = resolve_config("ring8", ["steps=2000"])
    result = train(cfg, recipe=name)
    print(result.summary["modes"], result.run_dir)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from .config import TrainConfig, config_from_dict
from .distributed import setup
from .families import get_family
from .families.base import Family
from .keys import ConfigError
from .runs import (MetricsSink, RunError, create_run_dir, latest_checkpoint, load_checkpoint, read_metrics,
                   save_checkpoint, write_json_atomic, write_yaml)
from .state import StateMismatch, gather_state, restore_state

__all__ = ["build", "RunResult", "TrainingDiverged", "train", "resume", "load_run", "save_checkpoint_of",
           "restore", "save_samples", "make_plots"]


class TrainingDiverged(RunError):
    """A loss became NaN or infinite; the last good checkpoint is left intact."""


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RunError(f"device={name} was asked for but PyTorch sees no CUDA GPU; use device=cpu")
    return torch.device(name)


def build(cfg: TrainConfig, shapes: dict[str, int] | None = None) -> Family:
    """The family ``cfg.family`` with its parts built, on this process's device (seeded by ``cfg.seed``).
    ``shapes`` (a run's channels and classes) given: without loading an image set (sampling from a run)."""
    dist, device = setup(cfg.device)  # one process, or this one's place under torchrun
    device = _device(device)
    if cfg.batch_size % dist.world:
        raise RunError(f"batch_size={cfg.batch_size} is the global batch and must divide evenly among "
                       f"{dist.world} processes; use a multiple of {dist.world}")
    torch.manual_seed(cfg.seed)
    return get_family(cfg.family)(cfg, dist, device, shapes)


# --- checkpoints: every part's state by name -------------------------------------------------------------------
def save_checkpoint_of(model: Family, run_dir: Path) -> Path:
    tensors, meta = gather_state(model.parts())
    return save_checkpoint(run_dir, model.step, tensors, meta)


def restore(model: Family, tensors: dict[str, Tensor], meta: dict[str, Any], weights_only: bool = False) -> None:
    """Give each part its state from a checkpoint (``weights_only``: the networks alone, for sampling)."""
    model.prepare_weights(tensors)
    try:
        restore_state(model.weights() if weights_only else model.parts(), tensors, meta)
    except StateMismatch as e:
        raise RunError(str(e)) from None
    model.step = int(meta["step"])


# --- runs ------------------------------------------------------------------------------------------------------
def train(cfg: TrainConfig, recipe: str = "custom", out: str | Path | None = None, progress: bool = True,
          runs_root: str | Path = "runs") -> RunResult:
    """Train ``cfg`` into a new run directory (``out``, or a fresh ``runs/<recipe>-<time>``)."""
    cfg.validate()
    model = build(cfg)  # fails on a bad device before any folder is made
    if model.dist.main:  # one warning per run, not one per process
        cfg.warn_if_doubtful()
    made: Path | str = ""
    if model.dist.main:  # only rank 0 writes; the others learn the folder (or the error) from it
        try:
            made = create_run_dir(out, recipe, runs_root)
            write_yaml(made / "config.yaml", cfg.to_dict())
            write_json_atomic(made / "run.json", {"recipe": recipe, **model.run_info(),
                                                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        except RunError as e:
            made = f"error: {e}"
    made = model.dist.broadcast(made)
    if isinstance(made, str):
        raise RunError(made[len("error: "):])
    return _run(model, made, recipe, progress)


def resume(run_dir: str | Path, progress: bool = True) -> RunResult:
    """Continue ``run_dir`` from its latest checkpoint to its configured ``steps``."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    ck = latest_checkpoint(run_dir)
    if ck is None:
        raise RunError(f"{run_dir} has no checkpoint to resume from; start it again with `saddlepoint train`")
    tensors, meta = load_checkpoint(ck)
    if int(meta["step"]) >= cfg.steps:
        raise RunError(f"{run_dir} already finished ({meta['step']} of {cfg.steps} steps); "
                       f"to train longer, start a new run with steps=N")
    model = build(cfg)
    restore(model, tensors, meta)
    # Rows logged after the checkpoint belong to the lost stretch; they are logged again.
    if model.dist.main:
        rows = [r for r in read_metrics(run_dir) if r["step"] <= model.step]
        tmp = run_dir / ".metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, run_dir / "metrics.jsonl")
    return _run(model, run_dir, run_info(run_dir).get("recipe", "custom"), progress)


def run_config(run_dir: Path) -> TrainConfig:
    """The validated config a run directory was trained with."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.yaml)")
    data = yaml.safe_load(path.read_text()) or {}
    try:
        return config_from_dict(data, str(path))
    except ConfigError as e:
        raise RunError(f"{e}; was {path} written by another saddlepoint version?") from None


def run_info(run_dir: Path) -> dict[str, Any]:
    p = run_dir / "run.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def load_run(run_dir: str | Path, load_data: bool = False) -> Family:
    """A run's networks (and averaged generators) from its latest checkpoint, ready to ``generate``.
    Image data is loaded only with ``load_data`` (evaluation needs it, sampling does not)."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    tensors, meta = load_checkpoint(run_dir)
    info = run_info(run_dir)
    shapes = None if load_data else {k: info.get(k) for k in ("channels", "classes", "source_channels")}
    model = build(cfg, shapes)
    restore(model, tensors, meta, weights_only=True)
    return model


def _finite(logs: dict[str, Tensor]) -> str | None:
    for k, v in logs.items():
        if not math.isfinite(float(v)):
            return k
    return None


def _aside(model: Family):
    """A context for work beside training (evaluating, drawing pictures) that leaves torch's global random streams
    as they were.  Dropout, IIC's deformations and the gradient penalty's interpolation points draw from them;
    evaluation may too (building the MNIST classifier initializes its weights).  Without it a run's weights would
    depend on ``eval_every``, and only rank 0, which evaluates, would move on to another stream than the other
    processes."""
    return torch.random.fork_rng(devices=[model.device] if model.device.type == "cuda" else [])


def set_lr(model: Family) -> None:
    """The learning rates for the coming step: each optimizer's base rate, decayed linearly to 0 over the run
    with ``lr_decay=linear``."""
    factor = 1.0 - model.step / model.cfg.steps if model.cfg.lr_decay == "linear" else 1.0
    for opt, base in model.optimizers():
        for group in opt.param_groups:
            group["lr"] = base * factor


def _run(model: Family, run_dir: Path, recipe: str, progress: bool) -> RunResult:
    from tqdm.auto import tqdm

    cfg, main = model.cfg, model.dist.main
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    sink = MetricsSink(run_dir) if main else None  # only rank 0 writes the run directory
    last_ckpt = latest_checkpoint(run_dir)
    t0 = time.time()
    # Into a log file or a pipe each redraw would be a line of its own: there, one every 30 s, and the last one stays.
    live = sys.stderr.isatty() or "ipykernel" in sys.modules  # a terminal, or a notebook's widget
    bar = tqdm(total=cfg.steps, initial=model.step, desc=recipe, disable=not (progress and main), dynamic_ncols=True,
               unit="step", leave=not live, mininterval=0.1 if live else 30.0)
    deadline = t0 + 60 * cfg.time_limit if cfg.time_limit else math.inf
    out_of_time = False
    quality, evaluated_at = {}, None  # the last evaluation: the summary reuses the last step's instead of redoing it
    first_opt = model.optimizers()[0][0]
    try:
        while model.step < cfg.steps and not out_of_time:
            set_lr(model)
            logs = model.train_step()
            model.update_ema()
            model.step += 1
            model.update_mixture()
            bar.update(1)
            # Every process stops at the same step (rank 0's clock decides).
            out_of_time = deadline < math.inf and model.dist.any(main and time.time() >= deadline)
            last = model.step == cfg.steps or out_of_time
            eval_now = bool(cfg.eval_every) and (model.step % cfg.eval_every == 0 or last)
            # An evaluation is logged with the step's losses, whether or not log_every falls on it.
            log_now = model.step % cfg.log_every == 0 or last or eval_now
            save_now = model.step % cfg.checkpoint_every == 0 or last
            # Checking the losses reads them from the device: every step on the CPU (free), only before a
            # log line or a checkpoint on a GPU, so the step never waits on the host.
            bad = _finite(logs) if (model.device.type == "cpu" or log_now or save_now) else None
            if bad is not None:
                where = (f"the last good checkpoint {last_ckpt} is intact" if last_ckpt is not None
                         else "no checkpoint had been written yet")
                raise TrainingDiverged(f"{bad} became {float(logs[bad])} at step {model.step}; training stopped and "
                                       f"{where}. Lower the learning rates or add a penalty (r1=, gradient_penalty=)")
            if not main:
                continue
            if log_now:
                scalars = {k: float(v) for k, v in logs.items()}
                scalars["lr/G"] = first_opt.param_groups[0]["lr"]
                if eval_now:
                    with _aside(model):
                        quality, evaluated_at = model.evaluate(), model.step
                    scalars.update({f"eval/{k}": v for k, v in quality.items() if not isinstance(v, str)})
                sink.log(model.step, scalars)
                bar.set_postfix({k: f"{v:.3g}" for k, v in scalars.items() if k.startswith(("loss", "eval/modes"))},
                                refresh=live)
            if cfg.sample_every and model.step % cfg.sample_every == 0 and not last:
                with _aside(model):
                    model.save_picture(run_dir / f"samples-{model.step:08d}.png", sink)
            if save_now:
                last_ckpt = save_checkpoint_of(model, run_dir)
    finally:
        bar.close()
        if sink is not None:
            sink.close()
    seconds = time.time() - t0
    if not main:
        return RunResult(run_dir, {})
    summary: dict[str, Any] = {"recipe": recipe, "data": cfg.data, "game": model.objective(), "steps": model.step,
                               "seconds": round(seconds, 2),
                               **(quality if evaluated_at == model.step else model.evaluate())}
    if out_of_time:
        summary["stopped"] = f"time_limit of {cfg.time_limit:g} min reached at step {model.step} of {cfg.steps}"
    if model.dist.world > 1:
        summary["processes"] = model.dist.world
    summary["eval_samples"] = cfg.eval_samples
    summary["generator"] = model.sampler_name
    write_json_atomic(run_dir / "summary.json", summary)
    make_plots(model, run_dir, recipe)
    return RunResult(run_dir, summary)


def save_samples(model: Family, path: Path, sink: MetricsSink | None = None, title: str | None = None) -> None:
    """A picture of the generator now (the family draws it: an image grid, or points over the data)."""
    model.save_picture(path, sink, title)


def make_plots(model: Family, run_dir: Path, recipe: str) -> None:
    """curves.png and samples.png in ``run_dir``, and the family's own pictures (a 2-D GAN's critic.png)."""
    from . import plots

    title = f"{recipe}: {model.objective()}, step {model.step}"
    plots.save(plots.plot_curves(read_metrics(run_dir), title), run_dir / "curves.png")
    model.save_picture(run_dir / "samples.png", title=title)
    model.extra_pictures(run_dir, title)
