"""The trainer: one loop for every model family.

It builds the family a config names (:mod:`saddlepoint.families`), then runs its steps with what every run
shares — the run directory, checkpoints of each part's state by name, a start from another run's networks
(``init_from``), logging and TensorBoard, the progress bar, the learning-rate decay, the generator's EMA and
mixture of snapshots, ``time_limit``, the non-finite guard, a stop on Ctrl-C or SIGTERM that writes its checkpoint,
periodic evaluation and pictures, and torchrun —
without asking which family it runs.

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
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from .config import TrainConfig, config_from_dict
from .distributed import launched_world, setup
from .families import get_family
from .families.base import Family
from .keys import ConfigError
from .runs import (MetricsSink, RunError, check_out, checkpoint_at, claim_run, create_run_dir, latest_checkpoint,
                   live_output, load_checkpoint, progress_bar, read_metrics, release_run, save_checkpoint,
                   write_json_atomic, write_yaml)
from .precision import NAMES
from .state import StateMismatch, Value, gather_state, restore_state

__all__ = ["build", "start_from", "advance", "RunResult", "TrainingDiverged", "TrainingInterrupted", "train",
           "resume", "load_run", "save_checkpoint_of", "restore", "make_plots"]


class TrainingDiverged(RunError):
    """A loss became NaN or infinite; the last good checkpoint is left intact."""


class TrainingInterrupted(RunError):
    """Ctrl-C or SIGTERM stopped the run after a whole step, and a checkpoint of that step was written (``run_dir``,
    ``step``); ``signal`` is the number of the signal that asked."""

    def __init__(self, message: str, run_dir: Path, step: int, signum: int):
        super().__init__(message)
        self.run_dir, self.step, self.signal = run_dir, step, signum


class _StopRequest:
    """While a run trains in the main thread: the first Ctrl-C (SIGINT) or SIGTERM (a scheduler's preemption, a
    `kill`) asks the loop to stop after the step in progress and write its checkpoint; a second one interrupts at
    once, as Ctrl-C always did.  Only the same signal again counts as a second one: a Ctrl-C in torchrun's terminal
    reaches each worker twice, as SIGINT from the terminal and as the SIGTERM torchrun sends on.  The handlers
    before are put back on exit."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))

    def __init__(self, say: bool):
        self.signum, self.say, self._before = 0, say, {}

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():  # Python delivers signals to the main thread only
            for sig in self.SIGNALS:
                self._before[sig] = signal.signal(sig, self._asked)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._before.items():
            signal.signal(sig, handler)

    def _asked(self, signum: int, frame) -> None:
        if self.signum == signum:  # asked twice: stop now, the last checkpoint is what is kept
            raise KeyboardInterrupt
        if self.signum:  # the other signal of the same request
            return
        self.signum = signum
        if self.say:
            print(f"\nsaddlepoint: {signal.Signals(signum).name}: stopping after this step and writing its "
                  "checkpoint (again to quit at once)", file=sys.stderr, flush=True)


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


def build(cfg: TrainConfig, shapes: dict[str, int] | None = None, training: bool = True) -> Family:
    """The family ``cfg.family`` with its parts built, on this process's device (seeded by ``cfg.seed``).
    ``shapes`` (a run's channels and classes) given: without loading an image set (sampling from a run).
    ``training`` False (a run loaded to sample or evaluate): ``threads=`` is how the run trained, not how to use it,
    so the process keeps its own threads (torch's default, every core, from the command line)."""
    # Before anything runs: a model built under more threads than it then trains with steps ~60 % slower on one
    # thread (measured: 0.26 against 0.16 s, mnist-dcgan).
    if cfg.threads and training:
        torch.set_num_threads(cfg.threads)
    dist, device = setup(cfg.device)  # one process, or this one's place under torchrun
    device = _device(device)
    if cfg.batch_size % dist.world:
        raise RunError(f"batch_size={cfg.batch_size} is the global batch and must divide evenly among "
                       f"{dist.world} processes; use a multiple of {dist.world}")
    torch.manual_seed(cfg.seed)
    return get_family(cfg.family)(cfg, dist, device, shapes)


# --- checkpoints: every part's state by name -------------------------------------------------------------------
def _parts(model: Family) -> dict:
    """The family's parts and the trainer's own: the learning-rate scale and the count of rollbacks (absent from
    checkpoints written before rollbacks existed: 1 and 0)."""
    return {**model.parts(),
            "lr_scale": Value(lambda: model.lr_scale, lambda v: setattr(model, "lr_scale", float(v)), default=1.0),
            "rollbacks": Value(lambda: model.rollbacks, lambda v: setattr(model, "rollbacks", int(v)), default=0)}


def save_checkpoint_of(model: Family, run_dir: Path) -> Path:
    tensors, meta = gather_state(_parts(model))
    return save_checkpoint(run_dir, model.step, tensors, meta, keep=model.cfg.keep_checkpoints)


def restore(model: Family, tensors: dict[str, Tensor], meta: dict[str, Any], weights_only: bool = False) -> None:
    """Give each part its state from a checkpoint (``weights_only``: the networks alone, for sampling)."""
    model.prepare_weights(tensors)
    try:
        restore_state(model.weights() if weights_only else _parts(model), tensors, meta)
    except StateMismatch as e:
        raise RunError(str(e)) from None
    model.step = int(meta["step"])


# --- runs ------------------------------------------------------------------------------------------------------
def train(cfg: TrainConfig, recipe: str = "custom", out: str | Path | None = None, progress: bool = True,
          runs_root: str | Path = "runs") -> RunResult:
    """Train ``cfg`` into a new run directory (``out``, or a fresh ``runs/<recipe>-<time>``)."""
    cfg.validate()
    if out is not None and launched_world() == 1:
        check_out(out)  # before the data is read: a folder of photographs can take minutes (several processes: below)
    model = build(cfg)  # fails on a bad device before any folder is made
    started = start_from(model)
    if model.dist.main:  # one warning per run, not one per process
        cfg.warn_if_doubtful()
        if model.precision_note and progress:
            print(f"saddlepoint: {model.precision_note}", file=sys.stderr)
    made: Path | str = ""
    if model.dist.main:  # only rank 0 writes; the others learn the folder (or the error) from it
        try:
            made = create_run_dir(out, recipe, runs_root)
            write_yaml(made / "config.yaml", cfg.to_dict())
            write_json_atomic(made / "run.json", {"recipe": recipe, **model.run_info(), **started,
                                                  "precision": NAMES.get(getattr(model, "precision", None), "fp32"),
                                                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        except RunError as e:
            made = f"error: {e}"
    made = model.dist.broadcast(made)
    if isinstance(made, str):
        raise RunError(made[len("error: "):])
    with _held(model, made):
        return _run(model, made, recipe, progress)


@contextmanager
def _held(model: Family, run_dir: Path):
    """While the run trains, ``run_dir`` is marked as trained by this process (rank 0's), so that a second
    process (``--resume`` in another terminal) is refused before it touches the run."""
    refused = ""
    if model.dist.main:
        try:
            claim_run(run_dir)
        except RunError as e:
            refused = str(e)
    refused = model.dist.broadcast(refused)
    if refused:
        raise RunError(refused)
    try:
        yield
    finally:
        if model.dist.main:
            release_run(run_dir)


def start_from(model: Family) -> dict[str, Any]:
    """``init_from=RUN`` set: the model's networks start from RUN's latest checkpoint (fine-tuning); an EMA copy of G
    restarts from the loaded G, a mixture of snapshots from none, and the optimizers and the step from zero.  What
    run.json records of it (nothing when ``init_from`` is unset)."""
    source = model.cfg.init_from
    if not source:
        return {}
    src = Path(source)
    try:
        trained = run_config(src)  # refuses a folder that is not a run
        if trained.family != model.cfg.family:
            raise RunError(f"it is a family={trained.family} run and this run is family={model.cfg.family}; start "
                           f"from a {model.cfg.family} run or remove init_from")
        tensors, meta = load_checkpoint(src)
        restore_state({k: v for k, v in model.weights().items() if k not in ("G_ema", "G_mix")}, tensors, meta)
    except (RunError, StateMismatch) as e:
        raise RunError(f"init_from={source}: {e}") from None
    if model.G_ema is not None:
        model.G_ema.load_state_dict(model.G.state_dict())
    return {"init_from": {"run": str(src.resolve()), "step": int(meta["step"])}}


def resume(run_dir: str | Path, progress: bool = True, steps: Any = None) -> RunResult:
    """Continue ``run_dir`` from its latest checkpoint to its configured ``steps`` — or, given ``steps`` (read as
    the key ``steps=`` is), to that many: a finished run trained longer, its config.yaml saying the new length from
    then on.  With ``lr_decay=none`` the longer run is the run that had been asked for that many steps from the
    start."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    ck = latest_checkpoint(run_dir)
    if ck is None:
        raise RunError(f"{run_dir} has no checkpoint to resume from; start it again with `saddlepoint train`")
    tensors, meta = load_checkpoint(ck)
    at, before = int(meta["step"]), cfg.steps
    if steps is not None:
        cfg = run_config(run_dir, {"steps": steps})  # coerced and checked as any steps= is
    longer = cfg.steps != before
    if longer:
        if cfg.steps <= at:
            raise RunError(f"steps={cfg.steps} is not beyond {run_dir}'s latest checkpoint (step {at}); give more "
                           f"steps to train it longer")
        if cfg.lr_decay == "linear":
            warnings.warn(f"lr_decay=linear: the learning rates now fall to 0 at step {cfg.steps} instead of "
                          f"{before}, so they jump at step {at} (a run with lr_decay=none changes length smoothly)",
                          stacklevel=2)
    if at >= cfg.steps:
        raise RunError(f"{run_dir} already finished ({at} of {cfg.steps} steps); to train it longer: "
                       f"saddlepoint train --resume {run_dir} steps=N")
    model = build(cfg)
    restore(model, tensors, meta)
    with _held(model, run_dir):  # before its config and metrics are touched
        if model.dist.main:
            if longer:  # only the length changes: the file keeps every other key as written (precision=auto too)
                data = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
                write_yaml(run_dir / "config.yaml", {**data, "steps": cfg.steps})
            _forget_metrics_after(run_dir, model.step)
        return _run(model, run_dir, run_info(run_dir).get("recipe", "custom"), progress)


def _forget_metrics_after(run_dir: Path, step: int) -> None:
    """Rows logged after the checkpoint at ``step`` belong to the lost stretch; they are logged again."""
    rows = [r for r in read_metrics(run_dir) if r["step"] <= step]
    tmp = run_dir / ".metrics.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, run_dir / "metrics.jsonl")


def run_config(run_dir: Path, changes: dict[str, Any] | None = None) -> TrainConfig:
    """The validated config a run directory was trained with; ``precision=auto`` is replaced by the precision the
    run chose (run.json), so that a resume trains in it without measuring again.  ``changes``: keys the caller sets
    on top (``--resume RUN steps=N``), coerced and checked as overrides are; a bad one is a ConfigError."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.yaml)")
    data = yaml.safe_load(path.read_text()) or {}
    chosen = run_info(run_dir).get("precision")
    if data.get("precision", "auto") == "auto" and chosen in NAMES.values():
        data["precision"] = chosen
    try:
        cfg = config_from_dict(data, str(path))
    except ConfigError as e:
        raise RunError(f"{e}; was {path} written by another saddlepoint version?") from None
    return config_from_dict({**data, **changes}, "the command line") if changes else cfg


def run_info(run_dir: Path) -> dict[str, Any]:
    p = run_dir / "run.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def load_run(run_dir: str | Path, load_data: bool = False, step: int | None = None) -> Family:
    """A run's networks (and averaged generators) from its latest checkpoint (or the one of ``step``, where the run
    kept it), ready to ``generate``. Image data is loaded only with ``load_data`` (evaluation needs it, sampling
    does not)."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    tensors, meta = load_checkpoint(run_dir if step is None else checkpoint_at(run_dir, step))
    info = run_info(run_dir)
    shapes = None if load_data else {k: info.get(k) for k in ("channels", "classes", "source_channels")}
    model = build(cfg, shapes, training=False)
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


def advance(model: Family) -> dict[str, Tensor]:
    """One step of training as a run takes it: the learning rates for the step, the family's step, the EMA, the
    step count and the mixture's snapshot (the live lab steps through this too)."""
    set_lr(model)
    logs = model.train_step()
    model.update_ema()
    model.step += 1
    model.update_mixture()
    return logs


def set_lr(model: Family) -> None:
    """The learning rates for the coming step: each optimizer's base rate, decayed linearly to 0 over the run
    with ``lr_decay=linear``."""
    factor = 1.0 - model.step / model.cfg.steps if model.cfg.lr_decay == "linear" else 1.0
    if model.lr_scale != 1.0:  # lowered by rollbacks (× 1.0 would leave every rate as it was anyway)
        factor *= model.lr_scale
    for opt, base in model.optimizers():
        for group in opt.param_groups:
            group["lr"] = base * factor


def _run(model: Family, run_dir: Path, recipe: str, progress: bool) -> RunResult:
    cfg, main = model.cfg, model.dist.main
    sink = MetricsSink(run_dir) if main else None  # only rank 0 writes the run directory
    last_ckpt = latest_checkpoint(run_dir)
    t0 = time.time()
    # Into a log file or a pipe each redraw would be a line of its own: there, one every 30 s, and the last one stays.
    live = live_output()
    bar = progress_bar(cfg.steps, recipe, "step", disable=not (progress and main), initial=model.step,
                       dynamic_ncols=True)
    deadline = t0 + 60 * cfg.time_limit if cfg.time_limit else math.inf
    out_of_time = False
    quality, evaluated_at = {}, None  # the last evaluation: the summary reuses the last step's instead of redoing it
    first_opt = model.optimizers()[0][0]
    watch = CollapseWatch(cfg.collapse_alarm)
    interrupted = False
    with _StopRequest(say=main) as stop:
        try:
            while model.step < cfg.steps and not out_of_time and not interrupted:
                logs = advance(model)
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
                checked = model.device.type == "cpu" or log_now or save_now
                bad = _finite(logs) if checked else None
                # A Ctrl-C or SIGTERM (_StopRequest): under torchrun the processes agree on it in the same collective
                # as on the losses, so all stop at one step; one process stops at once.
                asked = bool(stop.signum)
                broken = False
                if checked:
                    broken, asked = model.dist.any_each(bad is not None, asked)
                elif model.dist.world > 1:
                    asked = False  # the others learn of it at the next checked step
                interrupted = asked and model.step < cfg.steps  # at the end: done
                if interrupted:  # this step's checkpoint and log line, and no evaluation beyond a scheduled one
                    last = log_now = save_now = True
                if broken:  # every process decides the same
                    if not _may_roll_back(model, last_ckpt):
                        where = (f"the last good checkpoint {last_ckpt} is intact" if last_ckpt is not None
                                 else "no checkpoint had been written yet")
                        what = f"{bad} became {float(logs[bad])}" if bad is not None else "a loss became non-finite"
                        raise TrainingDiverged(f"{what} at step {model.step}; training stopped and {where}. Lower the "
                                               "learning rates or add a penalty (r1=, gradient_penalty=)"
                                               + (f" (after {model.rollbacks} rollbacks)" if model.rollbacks else ""))
                    sink = _roll_back(model, last_ckpt, bad, logs, run_dir, sink)
                    bar.n = model.step
                    bar.refresh()
                    continue
                if not main:
                    continue
                if log_now:
                    scalars = {k: float(v) for k, v in logs.items()}
                    scalars["lr/G"] = first_opt.param_groups[0]["lr"]
                    if eval_now:
                        with _aside(model):
                            quality, evaluated_at = model.evaluate(), model.step
                        scalars.update({f"eval/{k}": v for k, v in quality.items() if not isinstance(v, str)})
                        alarm = watch.see(model.step, quality)
                        if alarm:
                            warnings.warn(alarm, stacklevel=2)
                            scalars["alarm/collapse"] = 1.0
                    sink.log(model.step, scalars)
                    shown = {k: f"{v:.3g}" for k, v in scalars.items() if k.startswith(("loss", "eval/modes"))}
                    if watch.alarm:
                        shown["ALARM"] = watch.alarm_short
                    bar.set_postfix(shown, refresh=live)
                if cfg.sample_every and model.step % cfg.sample_every == 0 and not last:
                    with _aside(model):
                        model.save_picture(run_dir / f"samples-{model.step:08d}.png", sink)
                if save_now:
                    last_ckpt = save_checkpoint_of(model, run_dir)
        finally:
            bar.close()
            if sink is not None:
                sink.close()
    if interrupted:  # under torchrun, a process that got no signal stops with the one that did
        asked = signal.Signals(stop.signum).name if stop.signum else "another process's SIGTERM or SIGINT"
        raise TrainingInterrupted(f"{asked}: stopped at step {model.step} of {cfg.steps} with its checkpoint written; "
                                  f"continue with `saddlepoint train --resume {run_dir}`", run_dir, model.step,
                                  stop.signum or signal.SIGTERM)
    seconds = time.time() - t0
    if not main:
        return RunResult(run_dir, {})
    summary: dict[str, Any] = {"recipe": recipe, "data": cfg.data, "game": model.objective(), "steps": model.step,
                               "seconds": round(seconds, 2),
                               **(quality if evaluated_at == model.step else model.evaluate())}
    if model.rollbacks:
        summary["rollbacks"] = model.rollbacks
    if watch.alarm:
        summary["collapse_alarm"] = watch.alarm
    if watch.recovered:
        summary["collapse_alarms_recovered"] = watch.recovered
    if out_of_time:
        summary["stopped"] = f"time_limit of {cfg.time_limit:g} min reached at step {model.step} of {cfg.steps}"
    if model.dist.world > 1:
        summary["processes"] = model.dist.world
    summary["eval_samples"] = cfg.eval_samples
    summary["precision"] = NAMES.get(getattr(model, "precision", None), "fp32")
    summary["generator"] = model.sampler_name
    write_json_atomic(run_dir / "summary.json", summary)
    make_plots(model, run_dir, recipe)
    return RunResult(run_dir, summary)


# --- a long run survives its own failures ---------------------------------------------------------------------
def _may_roll_back(model: Family, last_ckpt: Path | None) -> bool:
    """``on_nonfinite``: stop, or roll back (auto: for image runs) while a checkpoint and rollbacks are left."""
    mode = model.cfg.on_nonfinite
    if mode == "auto":
        mode = "rollback" if model.images else "stop"
    return mode == "rollback" and last_ckpt is not None and model.rollbacks < model.cfg.rollback_limit


def _roll_back(model: Family, last_ckpt: Path, bad: str | None, logs: dict[str, Tensor], run_dir: Path,
               sink: MetricsSink | None) -> MetricsSink | None:
    """Back to the last good checkpoint with every learning rate lowered by ``rollback_lr_factor``; logged as a
    warning and as ``event/rollback`` in metrics.jsonl (the rows of the lost stretch are dropped)."""
    failed_at = model.step
    what = f"{bad} became {float(logs[bad])}" if bad is not None else "a loss became non-finite on another process"
    tensors, meta = load_checkpoint(last_ckpt)
    rollbacks = model.rollbacks + 1
    restore(model, tensors, meta)
    model.rollbacks = rollbacks
    model.lr_scale *= model.cfg.rollback_lr_factor
    if sink is not None:
        sink.close()
        _forget_metrics_after(run_dir, model.step)
        sink = MetricsSink(run_dir)
        sink.log(model.step, {"event/rollback": float(model.rollbacks), "lr/scale": model.lr_scale,
                              "event/failed_at": float(failed_at)})
        warnings.warn(f"{what} at step {failed_at}: rolled back to the checkpoint of step {model.step} with the "
                      f"learning rates at {model.lr_scale:g}× (rollback {model.rollbacks} of "
                      f"{model.cfg.rollback_limit})", stacklevel=3)
    return sink


class CollapseWatch:
    """Warns when an evaluation's coverage falls by more than ``drop`` (a fraction) below the best seen so far:
    modes on mixtures and stacked MNIST, digit classes drawn on MNIST (``classes``).  0 = never.  The alarm
    stands while coverage stays down (``alarm``; the summary reports it) and clears when it comes back within
    ``drop`` of the best (early in training coverage often dips on its way up); ``recovered`` counts the alarms that
    cleared."""

    MEASURES = ("modes", "classes")

    def __init__(self, drop: float):
        self.drop, self.best, self.alarm, self.alarm_short, self.recovered = drop, {}, "", "", 0

    def see(self, step: int, quality: dict) -> str:
        """The alarm's text when this evaluation raises it (once per fall), else ""."""
        if not self.drop:
            return ""
        down = False
        for name in self.MEASURES:
            value = quality.get(name)
            if not isinstance(value, (int, float)):
                continue
            best = self.best.get(name)
            if best is not None and value < (1 - self.drop) * best[0]:
                down = True
                if self.alarm:  # still down: already said
                    continue
                self.alarm = (f"coverage fell at step {step}: {name} {value:g}, down from {best[0]:g} at step "
                              f"{best[1]}; the generator may be collapsing (the checkpoints keep the earlier weights)")
                self.alarm_short = f"{name} {value:g}<{best[0]:g}"
                return self.alarm
            if best is None or value > best[0]:
                self.best[name] = (value, step)
        if self.alarm and not down:  # back within reach of the best
            self.alarm, self.alarm_short = "", ""
            self.recovered += 1
        return ""


def make_plots(model: Family, run_dir: Path, recipe: str) -> None:
    """curves.png (once the log has two rows: a curve of one point says nothing, and drawing it costs a short run
    matplotlib's import) and samples.png in ``run_dir``, and the family's own pictures (a 2-D GAN's critic.png)."""
    title = f"{recipe}: {model.objective()}, step {model.step}"
    rows = read_metrics(run_dir)
    if sum(any(k.startswith("loss") for k in r) for r in rows) >= 2:
        from . import plots

        plots.save(plots.plot_curves(rows, title), run_dir / "curves.png")
    model.save_picture(run_dir / "samples.png", title=title)
    model.extra_pictures(run_dir, title)
