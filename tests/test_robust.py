"""A long run survives its own failures: a non-finite loss rolls back to the last good checkpoint with lower
learning rates (on_nonfinite), and a fall in coverage raises an alarm (collapse_alarm)."""

import json
import math

import pytest
import torch

from conftest import crash_after
from saddlepoint import resolve_config, train
from saddlepoint.families.gan import GANFamily
from saddlepoint.metrics.images import class_histogram
from saddlepoint.runs import load_checkpoint, read_metrics
from saddlepoint.trainer import CollapseWatch, TrainingDiverged, resume

TINY = ["g_hidden=16", "d_hidden=16", "g_layers=1", "d_layers=1", "batch_size=32", "eval_samples=200",
        "eval_every=0", "log_every=1", "checkpoint_every=5", "steps=12"]


def _poison_at(monkeypatch, step: int, times: int = 1):
    """From the step that ends at ``step``, ``times`` times: G's weights turn NaN and the losses say so."""
    real, left = GANFamily.train_step, [times]

    def step_then_poison(self):
        logs = real(self)
        if self.step + 1 == step and left[0]:
            left[0] -= 1
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))
            logs["loss/G"] = torch.tensor(float("nan"))
        return logs

    monkeypatch.setattr(GANFamily, "train_step", step_then_poison)


def test_a_nan_rolls_back_to_the_last_checkpoint_with_lower_rates(tmp_path, monkeypatch):
    _poison_at(monkeypatch, 7)
    _, cfg = resolve_config("grid25", [*TINY, "on_nonfinite=rollback", "rollback_lr_factor=0.5"])
    with pytest.warns(UserWarning, match="loss/G became nan at step 7: rolled back to the checkpoint of step 5"):
        result = train(cfg, out=tmp_path / "run", progress=False)
    assert result.summary["steps"] == 12 and result.summary["rollbacks"] == 1
    tensors, meta = load_checkpoint(result.run_dir)
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("G."))
    assert meta["lr_scale"] == 0.5 and meta["rollbacks"] == 1
    rows = {r["step"]: r for r in read_metrics(result.run_dir)}
    assert [r["step"] for r in read_metrics(result.run_dir)] == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12]
    assert rows[5]["event/rollback"] == 1 and rows[5]["event/failed_at"] == 7
    assert rows[10]["lr/G"] == pytest.approx(1e-3 * (1 - 9 / 12) * 0.5)  # grid25's lr_g, decayed, halved
    assert all(math.isfinite(r["loss/G"]) for r in read_metrics(result.run_dir) if "loss/G" in r)


def test_stop_keeps_the_old_behaviour(tmp_path, monkeypatch):
    _poison_at(monkeypatch, 7)
    _, cfg = resolve_config("grid25", [*TINY, "on_nonfinite=stop"])
    with pytest.raises(TrainingDiverged, match="loss/G became nan at step 7; training stopped and the last good "
                                               "checkpoint .*step-00000005 is intact"):
        train(cfg, out=tmp_path / "run", progress=False)


def test_rollbacks_are_limited(tmp_path, monkeypatch):
    _poison_at(monkeypatch, 7, times=10)
    _, cfg = resolve_config("grid25", [*TINY, "on_nonfinite=rollback", "rollback_limit=2"])
    with pytest.warns(UserWarning), pytest.raises(TrainingDiverged, match="after 2 rollbacks"):
        train(cfg, out=tmp_path / "run", progress=False)


def test_auto_rolls_back_image_runs_and_stops_two_d_ones():
    from types import SimpleNamespace

    from saddlepoint.trainer import _may_roll_back

    def model(images, rollbacks=0, mode="auto"):
        return SimpleNamespace(images=images, rollbacks=rollbacks,
                               cfg=SimpleNamespace(on_nonfinite=mode, rollback_limit=3))

    assert _may_roll_back(model(True), "ck") and not _may_roll_back(model(False), "ck")
    assert not _may_roll_back(model(True), None)  # nothing to go back to
    assert not _may_roll_back(model(True, rollbacks=3), "ck") and _may_roll_back(model(False, mode="rollback"), "ck")


def test_resume_keeps_the_lowered_rates_and_old_checkpoints_resume(tmp_path, monkeypatch):
    _poison_at(monkeypatch, 7)
    _, cfg = resolve_config("grid25", [*TINY, "on_nonfinite=rollback"])
    with pytest.warns(UserWarning):
        whole = train(cfg, out=tmp_path / "whole", progress=False)
    monkeypatch.undo()
    crash_after(whole.run_dir, 10)
    resume(whole.run_dir, progress=False)
    assert load_checkpoint(whole.run_dir)[1]["lr_scale"] == 0.5
    # A checkpoint written before rollbacks existed has neither value: 1× and none taken.
    _, plain = resolve_config("grid25", TINY)
    old = train(plain, out=tmp_path / "old", progress=False).run_dir
    crash_after(old, 10)
    state = old / "checkpoints" / "step-00000010" / "state.json"
    meta = json.loads(state.read_text())
    del meta["lr_scale"], meta["rollbacks"]
    state.write_text(json.dumps(meta))
    assert resume(old, progress=False).summary["steps"] == 12


def test_the_collapse_watch():
    watch = CollapseWatch(0.2)
    assert watch.see(1000, {"modes": 20}) == "" and watch.see(2000, {"modes": 25}) == ""
    assert watch.see(3000, {"modes": 21}) == ""  # 16 % below the best
    assert "modes 19, down from 25 at step 2000" in watch.see(4000, {"modes": 19})
    assert watch.see(5000, {"modes": 18}) == "" and watch.alarm  # still down: said once, still standing
    assert watch.see(6000, {"modes": 24}) == "" and not watch.alarm and watch.recovered == 1  # came back: cleared
    assert "modes 10" in watch.see(7000, {"modes": 10})  # a new fall is said again
    assert CollapseWatch(0).see(1, {"modes": 25}) == "" and CollapseWatch(0).see(2, {"modes": 1}) == ""


def test_a_collapse_warns_in_the_log_and_the_summary(tmp_path, monkeypatch):
    script = iter([{"modes": 25, "high_quality": 0.9, "reverse_kl": 0.1}, {"modes": 4, "high_quality": 0.9,
                                                                            "reverse_kl": 2.0}])
    monkeypatch.setattr(GANFamily, "evaluate", lambda self, n=None: next(script))
    _, cfg = resolve_config("grid25", [*TINY, "steps=4", "eval_every=2"])
    with pytest.warns(UserWarning, match="coverage fell at step 4: modes 4, down from 25 at step 2"):
        result = train(cfg, out=tmp_path / "run", progress=False)
    assert "modes 4" in result.summary["collapse_alarm"]
    assert read_metrics(result.run_dir)[-1]["alarm/collapse"] == 1


def test_a_dip_that_recovers_leaves_no_alarm_in_the_summary(tmp_path, monkeypatch):
    """Early in training coverage dips on its way up (grid25, seed 1: 9 modes, then 6, then 25): warned, then
    cleared, and the run's last line carries no alarm."""
    script = iter([{"modes": m, "high_quality": 0.9, "reverse_kl": 0.1} for m in (9, 6, 25)])
    monkeypatch.setattr(GANFamily, "evaluate", lambda self, n=None: next(script))
    _, cfg = resolve_config("grid25", [*TINY, "steps=6", "eval_every=2"])
    with pytest.warns(UserWarning, match="coverage fell at step 4: modes 6, down from 9"):
        result = train(cfg, out=tmp_path / "run", progress=False)
    assert "collapse_alarm" not in result.summary and result.summary["collapse_alarms_recovered"] == 1


def test_the_class_histogram():
    assert class_histogram(torch.arange(1000) % 10) == {"classes": 10, "class_kl": pytest.approx(0.0)}
    one = class_histogram(torch.full((1000,), 3))
    assert one["classes"] == 1 and one["class_kl"] == pytest.approx(math.log(10))
    assert class_histogram(torch.cat([torch.arange(990) % 9, torch.full((10,), 9)]))["classes"] == 9  # 1 % < 2.5 %


def _signal_after(monkeypatch, step: int, *sigs: int):
    """The signals ``sigs`` arrive, in turn, just as the step that ends at ``step`` finishes (as a Ctrl-C or a
    scheduler's SIGTERM would, between two lines of the loop)."""
    import signal

    from saddlepoint import trainer

    real = trainer.advance

    def advance_then_signal(model):
        logs = real(model)
        if model.step == step:
            for sig in sigs:
                signal.raise_signal(sig)
        return logs

    monkeypatch.setattr(trainer, "advance", advance_then_signal)


def test_ctrl_c_stops_after_the_step_writes_its_checkpoint_and_resumes_exactly(tmp_path, monkeypatch):
    import signal

    from saddlepoint.runs import kept_steps
    from saddlepoint.trainer import TrainingInterrupted

    _, cfg = resolve_config("grid25", [*TINY, "eval_every=5", "keep_checkpoints=0"])
    whole = train(cfg, out=tmp_path / "whole", progress=False)
    before = signal.getsignal(signal.SIGINT)
    _signal_after(monkeypatch, 7, signal.SIGINT)
    with pytest.raises(TrainingInterrupted, match="SIGINT: stopped at step 7 of 12 with its checkpoint written; "
                                                  "continue with `saddlepoint train --resume") as stopped:
        train(cfg, out=tmp_path / "cut", progress=False)
    run = stopped.value.run_dir
    assert stopped.value.step == 7 and stopped.value.signal == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    assert kept_steps(run) == [5, 7] and load_checkpoint(run)[1]["step"] == 7 and not (run / "summary.json").exists()
    assert not (run / ".training").exists()  # no longer trained by anyone
    rows = read_metrics(run)
    assert rows[-1]["step"] == 7 and not any(k.startswith("eval/") for k in rows[-1])  # no evaluation to wait on
    monkeypatch.undo()
    assert resume(run, progress=False).summary["steps"] == 12
    a, b = load_checkpoint(whole.run_dir)[0], load_checkpoint(run)[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "the resumed run must be the whole one"


def test_sigterm_stops_too_and_the_same_signal_again_quits_at_once(tmp_path, monkeypatch):
    import signal

    from saddlepoint.runs import kept_steps
    from saddlepoint.trainer import TrainingInterrupted

    _, cfg = resolve_config("grid25", TINY)
    _signal_after(monkeypatch, 3, signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="SIGTERM: stopped at step 3") as stopped:
        train(cfg, out=tmp_path / "term", progress=False)
    assert stopped.value.signal == signal.SIGTERM and kept_steps(stopped.value.run_dir) == [3]
    monkeypatch.undo()
    _signal_after(monkeypatch, 7, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out=tmp_path / "twice", progress=False)
    assert kept_steps(tmp_path / "twice") == [5]  # the step in progress is not written: the last checkpoint stands
    monkeypatch.undo()  # torchrun's workers see one Ctrl-C as SIGINT, then SIGTERM: still the one request
    _signal_after(monkeypatch, 7, signal.SIGINT, signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="SIGINT: stopped at step 7"):
        train(cfg, out=tmp_path / "both", progress=False)


def test_the_command_line_says_how_to_continue_and_exits_with_the_signal(tmp_path, monkeypatch, capsys):
    import signal

    from saddlepoint.cli import main

    _signal_after(monkeypatch, 4, signal.SIGINT)
    assert main(["train", "grid25", *TINY, "--out", str(tmp_path / "run"), "--quiet"]) == 128 + signal.SIGINT
    said, done = capsys.readouterr().err.strip().splitlines()  # at the signal, and as the run stops
    assert said == "saddlepoint: SIGINT: stopping after this step and writing its checkpoint (again to quit at once)"
    assert "stopped at step 4 of 12" in done and f"--resume {tmp_path / 'run'}" in done and "error" not in done


def test_a_run_that_another_process_trains_is_not_resumed_beside_it(tmp_path, capsys, monkeypatch):
    import os
    import socket
    import subprocess
    import sys

    from saddlepoint.cli import main
    from saddlepoint.runs import RunError

    from saddlepoint import trainer
    from saddlepoint.runs import run_holder

    _, cfg = resolve_config("grid25", TINY)
    seen, real = [], trainer.advance
    monkeypatch.setattr(trainer, "advance", lambda model: seen.append(run_holder(tmp_path / "run")) or real(model))
    run = train(cfg, out=tmp_path / "run", progress=False).run_dir
    monkeypatch.undo()
    assert {h["pid"] for h in seen} == {os.getpid()}  # marked by this process while it trained
    assert not (run / ".training").exists()  # released at the end
    crash_after(run, 10)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        mark = {"pid": other.pid, "host": socket.gethostname(), "since": "2026-12-05T00:00:00"}
        (run / ".training").write_text(json.dumps(mark))
        metrics = (run / "metrics.jsonl").read_text()
        with pytest.raises(RunError, match=f"is being trained by process {other.pid} on this machine .*`kill "
                                           f"{other.pid}`"):
            resume(run, progress=False)
        assert (run / "metrics.jsonl").read_text() == metrics  # refused before anything was touched
        capsys.readouterr()
        assert main(["runs", str(tmp_path)]) == 0
        assert capsys.readouterr().out.splitlines()[1].split()[:4] == ["run", "custom", "10/12", "training"]
    finally:
        other.kill()
        other.wait()
    assert resume(run, progress=False).summary["steps"] == 12  # its process is gone: the mark is taken over
    assert not (run / ".training").exists()
    crash_after(run, 10)
    (run / ".training").write_text(json.dumps({**mark, "host": "elsewhere"}))  # another machine's word is taken
    with pytest.raises(RunError, match=f"on elsewhere .* if that process is gone, delete {run / '.training'}"):
        resume(run, progress=False)
    (run / ".training").write_text('{"pid": 12')  # not a mark this code writes
    assert resume(run, progress=False).summary["steps"] == 12
    crash_after(run, 10)  # a live process id, but not the process that wrote the mark (it started at another time)
    (run / ".training").write_text(json.dumps({**mark, "pid": os.getpid(), "started": "1"}))
    assert resume(run, progress=False).summary["steps"] == 12 and not list(run.glob(".training*"))
