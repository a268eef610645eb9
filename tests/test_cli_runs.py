"""End to end: recipes, the CLI, run directories, checkpoints, divergence handling, exact resume."""

import json
import time

import pytest
import torch
import yaml

from saddlepoint import resolve_config, train
from saddlepoint.cli import main
from saddlepoint.config import ConfigError, list_recipes, load_recipe
from saddlepoint.games import GAMES, Minimax
from saddlepoint.runs import load_checkpoint, read_metrics
from saddlepoint.train import TrainingDiverged, resume
from conftest import crash_after, mnist_or_skip

TINY = ["g_hidden=32", "d_hidden=32", "g_layers=2", "d_layers=2", "batch_size=64", "eval_samples=500"]


def test_every_recipe_resolves_and_names_seed_and_steps(capsys):
    recipes = list_recipes()
    assert {"grid25", "ring8"} <= set(recipes)
    for name, desc in recipes.items():
        assert desc, f"recipe {name} has no description"
        # One line: what it is and the paper's setting; measured figures belong in BENCHMARKS.md.
        assert len(desc) <= 220 and "BENCHMARKS" not in desc, f"recipe {name}: description is not one line"
        _, raw = load_recipe(name)
        assert "seed" in raw and "steps" in raw, f"recipe {name} must set seed and steps"
        assert main(["train", name, "--dry-run"]) == 0
        printed = capsys.readouterr().out
        cfg = yaml.safe_load(printed)
        assert "seed" in cfg and "steps" in cfg


def test_recipes_command_lists_one_line_each(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(list_recipes())
    assert any(line.startswith("grid25") for line in lines)


def test_dry_run_applies_overrides(capsys):
    assert main(["train", "ring8", "steps=7", "game=hinge", "lr_g=1e-4", "lr_d=2E-3", "--dry-run"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["steps"] == 7 and cfg["game"] == "hinge" and cfg["data"] == "ring8"
    assert cfg["lr_g"] == 1e-4 and cfg["lr_d"] == 2e-3  # exponent notation without a dot is a number too


@pytest.mark.parametrize("args, fragment", [
    (["train", "grdi25"], "did you mean 'grid25'"),
    (["train", "lr=0.1"], "did you mean 'lr_g'"),
    (["train", "steps=abc"], "steps='abc' must be a whole number"),
    (["train", "lr_d=-0.001"], "lr_d=-0.001 must be positive"),
    (["train", "critic_steps=0"], "critic_steps=0 is below its minimum 1"),
    (["train", "game=hinj"], "did you mean 'hinge'"),
    (["train", "schedule=sometimes"], "choose one of: alternating, simultaneous"),
    (["train", "spectral_norm=maybe"], "must be true or false"),
    (["train", "grid25", "ring8"], "two recipes given"),
    (["train", "game=wasserstein"], "needs a Lipschitz constraint"),
    (["train", "base_channels=32"], "base_channels applies to model=dcgan or model=resnet"),
    (["train", "mnist-dcgan", "g_hidden=64"], "g_hidden applies to model=mlp"),
    (["train", "stacked-mnist-weak-d", "image_size=32"], "model=small builds 28×28 players only"),
    (["train", "time_limit=-1"], "time_limit=-1.0 is below its minimum 0"),
    (["train", "precision=fp16"], "precision=fp16 needs a CUDA device"),
    (["train", "precision=fp16", "schedule=simultaneous", "device=cuda"], "works with schedule=alternating only"),
    (["train", "precision=fp8"], "choose one of: auto, fp32, bf16, fp16"),
])
def test_bad_input_fails_before_training_with_one_line(tmp_path, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_a_used_out_folder_is_refused_before_the_data_is_read(tmp_path, capsys, monkeypatch):
    """A folder of photographs can take minutes to read; a taken --out is said at once, not after."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")

    def no_build(*a, **k):
        raise AssertionError("the data was read before --out was checked")

    monkeypatch.setattr("saddlepoint.trainer.build", no_build)
    assert main(["train", "grid25", "steps=2", "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists and is not empty; choose another --out" in err and len(err.splitlines()) == 1
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_train_writes_a_complete_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "grid25", "steps=60", "log_every=20", "eval_every=30", "checkpoint_every=30",
                 "--out", str(out), "--quiet", *TINY]) == 0
    line = capsys.readouterr().out.strip()
    assert "modes" in line and "high quality" in line and "reverse KL" in line and str(out) in line
    for name in ["config.yaml", "metrics.jsonl", "summary.json", "samples.png", "critic.png", "curves.png"]:
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").iterdir())
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["steps"] == 60 and cfg["g_hidden"] == 32
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    # Rows every log_every steps, and at every evaluation even where log_every does not fall (step 30).
    assert [r["step"] for r in rows] == [20, 30, 40, 60]
    assert [r["step"] for r in rows if "eval/modes" in r] == [30, 60]
    assert "loss/D" in rows[1] and "score/D(G(z))" in rows[0]
    summary = json.loads((out / "summary.json").read_text())
    assert {"modes", "high_quality", "reverse_kl"} <= set(summary)
    assert 0 <= summary["high_quality"] <= 1
    tensors, state = load_checkpoint(out)
    assert state["step"] == 60 and any(k.startswith("G.") for k in tensors)


@pytest.mark.parametrize("every, evaluated_at", [(10, [10, 20]), (0, [20])])
def test_the_summary_reuses_the_last_steps_evaluation(tmp_path, monkeypatch, every, evaluated_at):
    """The last step's evaluation is the summary's; the run does not evaluate the same weights twice."""
    from saddlepoint.families.gan import GANFamily
    from saddlepoint.trainer import load_run

    seen, real = [], GANFamily.evaluate
    monkeypatch.setattr(GANFamily, "evaluate", lambda exp, n=None: seen.append(exp.step) or real(exp, n))
    _, cfg = resolve_config("grid25", ["steps=20", f"eval_every={every}", *TINY])
    result = train(cfg, out=tmp_path / "run", progress=False)
    assert seen == evaluated_at
    assert result.summary["reverse_kl"] == real(load_run(result.run_dir))["reverse_kl"]


def test_progress_bar_into_a_log_redraws_rarely(tmp_path, capsys):
    """Into a pipe or a log file (stderr is not a terminal, as under capsys) the bar is not redrawn ten times a second."""
    t0 = time.time()
    assert main(["train", "grid25", "steps=1000", "eval_every=0", "--out", str(tmp_path / "run"), *TINY]) == 0
    err = capsys.readouterr().err
    assert time.time() - t0 > 1 and "1000/1000" in err  # long enough for a dozen redraws at tqdm's 0.1 s
    assert err.count("\r") <= 4, err.count("\r")


def test_existing_run_directory_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert main(["train", "steps=5", "--out", str(out), "--quiet", *TINY]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


def test_default_run_directory_is_timestamped_under_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "steps=3", "--quiet", *TINY]) == 0
    assert main(["train", "steps=3", "--quiet", *TINY]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.startswith("grid25-") for r in runs)


class _NanAfter(Minimax):
    """Minimax until its 25th critic call, then NaN (a stand-in for a diverging game)."""

    calls = 0

    def d_loss(self, real, fake):
        type(self).calls += 1
        loss = super().d_loss(real, fake)
        return loss * float("nan") if type(self).calls > 25 else loss


def test_non_finite_loss_stops_with_the_step_and_an_intact_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setitem(GAMES, "test-nan-after-25", _NanAfter)  # registered for this test only
    _NanAfter.calls = 0
    _, cfg = resolve_config("grid25", ["game=test-nan-after-25", "steps=100", "checkpoint_every=10", *TINY])
    with pytest.raises(TrainingDiverged) as err:
        train(cfg, out=tmp_path / "run", progress=False)
    msg = str(err.value)
    assert "step 26" in msg and "step-00000020" in msg
    tensors, state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 20
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if v.is_floating_point())


def test_resume_after_a_crash_is_bit_exact(tmp_path):
    # The mixture's snapshots (steps 7, 14 before the crash; 21, 28, 35 after) must come back exactly too.
    overrides = ["steps=40", "checkpoint_every=20", "r1=0.1", "ema=0.9", "mixture=3", "mixture_every=7", *TINY]
    _, cfg = resolve_config("grid25", overrides)
    full = train(cfg, out=tmp_path / "full", progress=False)
    # A second run that "crashed" after its step-20 checkpoint: drop everything later.
    _, cfg = resolve_config("grid25", overrides)
    crashed = train(cfg, out=tmp_path / "crashed", progress=False)
    crash_after(crashed.run_dir, 20)
    resumed = resume(crashed.run_dir, progress=False)
    a, _ = load_checkpoint(full.run_dir)
    b, _ = load_checkpoint(resumed.run_dir)
    for k in a:
        if k.startswith(("G.", "D.", "G_ema.", "G_mix.", "opt_")):
            assert torch.equal(a[k], b[k]), k
    assert any(k.startswith("G_ema.") for k in a) and any(k.startswith("G_mix.members.2.") for k in a)
    assert set(a) == set(b)
    assert resumed.summary["modes"] == full.summary["modes"]
    steps = [json.loads(x)["step"] for x in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # the lost stretch is logged once, not twice


def test_resuming_a_finished_run_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "steps=5", "--out", str(out), "--quiet", *TINY]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already finished" in err and f"saddlepoint train --resume {out} steps=N" in err


def test_a_finished_run_trained_longer_is_the_run_asked_for_that_length(tmp_path, capsys):
    common = ["steps=30", "checkpoint_every=10", "lr_decay=none", "ema=0.9", *TINY]
    assert main(["train", *common, "--out", str(tmp_path / "long"), "--quiet"]) == 0
    assert main(["train", *common, "steps=20", "--out", str(tmp_path / "short"), "--quiet"]) == 0
    assert main(["train", "--resume", str(tmp_path / "short"), "steps=30", "--quiet"]) == 0
    a, meta_a = load_checkpoint(tmp_path / "long")
    b, meta_b = load_checkpoint(tmp_path / "short")
    assert meta_a["step"] == meta_b["step"] == 30
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    config = yaml.safe_load((tmp_path / "short" / "config.yaml").read_text())
    assert config["steps"] == 30 and config == yaml.safe_load((tmp_path / "long" / "config.yaml").read_text())
    steps = [row["step"] for row in read_metrics(tmp_path / "short")]
    assert steps == sorted(set(steps)) and steps[-1] == 30


def test_training_longer_refuses_what_it_cannot_do_and_warns_of_a_linear_decay(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "steps=10", "checkpoint_every=5", "--out", str(out), "--quiet", *TINY]) == 0
    before = (out / "config.yaml").read_text()
    capsys.readouterr()
    for extra, message in ((["steps=10"], "already finished"), (["steps=8"], "not beyond"),
                           (["steps=many"], "must be a whole number"), (["steps=0"], "below its minimum"),
                           (["lr_g=0.1"], "at most steps=N"), (["steps=20", "lr_g=0.1"], "at most steps=N")):
        assert main(["train", "--resume", str(out), *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert (out / "config.yaml").read_text() == before  # nothing changed by a refusal
    assert main(["train", "--resume", str(out), "steps=15", "--quiet"]) == 0
    assert "lr_decay=linear: the learning rates now fall to 0 at step 15 instead of 10" in capsys.readouterr().err
    assert yaml.safe_load((out / "config.yaml").read_text())["steps"] == 15


def test_evaluate_command_writes_eval_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "ring8", "steps=5", "--out", str(out), "--quiet", *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    result = json.loads((out / "eval.json").read_text())
    assert result["step"] == 5 and "modes" in result
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_earlier_checkpoints_kept_evaluated_and_sampled_by_step(tmp_path, capsys):
    every = tmp_path / "every"
    assert main(["train", "ring8", "steps=30", "checkpoint_every=10", "keep_checkpoints=0", "--out", str(every),
                 "--quiet", *TINY]) == 0
    assert sorted(p.name for p in (every / "checkpoints").glob("step-*")) == [f"step-{s:08d}" for s in (10, 20, 30)]
    capsys.readouterr()
    assert main(["evaluate", str(every), "--step", "10"]) == 0
    early = json.loads((every / "eval-step-10.json").read_text())
    assert early["step"] == 10 and not (every / "eval.json").exists()  # the latest's evaluation is not replaced
    assert main(["evaluate", str(every)]) == 0
    assert json.loads((every / "eval.json").read_text())["step"] == 30
    assert main(["sample", str(every), "--step", "20", "-n", "16"]) == 0
    assert (every / "sample-seed0-step20.png").is_file()
    assert main(["sample", str(every), "--step", "20", "-n", "16", "--truncation", "0.5"]) == 0
    assert (every / "sample-seed0-trunc0.5-step20.png").is_file()
    from saddlepoint.trainer import load_run

    w10, w30 = (load_run(every, step=s).G.state_dict() for s in (10, 30))
    assert any(not torch.equal(w10[k], w30[k]) for k in w10), "step 10 and step 30 must be different weights"
    capsys.readouterr()
    assert main(["evaluate", str(every), "--step", "15"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint of step 15" in err and "10, 20, 30" in err and len(err.strip().splitlines()) == 1
    newest = tmp_path / "newest"  # the default keeps the newest two
    assert main(["train", "ring8", "steps=30", "checkpoint_every=10", "--out", str(newest), "--quiet", *TINY]) == 0
    assert sorted(p.name for p in (newest / "checkpoints").glob("step-*")) == ["step-00000020", "step-00000030"]
    assert main(["evaluate", str(newest), "--step", "10"]) == 2
    assert "keep_checkpoints=0" in capsys.readouterr().err


def test_evaluate_every_kept_checkpoint_and_draw_the_numbers_against_the_step(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "moons", "steps=30", "checkpoint_every=10", "keep_checkpoints=0", "--out", str(run),
                 "--quiet", *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--step", "all"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line)["step"] for line in lines[:-1]] == [10, 20, 30] and lines[-1].endswith("eval-steps.png")
    for s in (10, 20, 30):
        assert json.loads((run / f"eval-step-{s}.json").read_text())["step"] == s
    assert (run / "eval-steps.png").stat().st_size > 1000
    # Asked again after a stop before step 20: what was measured is kept, the rest measured.
    kept = (run / "eval-step-10.json").stat().st_mtime_ns
    (run / "eval-step-20.json").unlink()
    assert main(["evaluate", str(run), "--step", "all"]) == 0
    out, err = capsys.readouterr()
    assert err.count("already holds this evaluation") == 2 and "step 20:" not in err
    assert [json.loads(line)["step"] for line in out.strip().splitlines()[:-1]] == [10, 20, 30]
    assert (run / "eval-step-10.json").stat().st_mtime_ns == kept and (run / "eval-step-20.json").is_file()
    assert main(["evaluate", str(run), "--step", "all", "--samples", "300"]) == 0  # another request: measured
    assert "already" not in capsys.readouterr().err
    assert json.loads((run / "eval-step-10.json").read_text())["request"]["samples"] == 300
    assert main(["report", str(run)]) == 0  # the run's page shows the picture
    assert "saddlepoint evaluate --step all: each kept checkpoint" in (run / "report.html").read_text()
    with pytest.raises(SystemExit):  # argparse's own exit, status 2
        main(["evaluate", str(run), "--step", "ten"])
    assert "'ten' is not a step: give a whole number or all" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing"), "--step", "all"]) == 2
    assert "no checkpoint to evaluate (not a run directory)" in capsys.readouterr().err


def test_the_commands_with_their_own_steps_take_checkpoint(tmp_path, tiny_npz, capsys):
    run = tmp_path / "run"
    assert main(["train", "mnist-dcgan", f"data={tiny_npz}", *IMG, "steps=4", "checkpoint_every=2",
                 "keep_checkpoints=0", "--out", str(run), "--quiet"]) == 0
    assert main(["interpolate", str(run), "-n", "2", "--steps", "3"]) == 0
    assert main(["interpolate", str(run), "-n", "2", "--steps", "3", "--checkpoint", "2"]) == 0
    latest, early = run / "interpolate-seed0.png", run / "interpolate-seed0-step2.png"
    assert latest.read_bytes() != early.read_bytes()  # another checkpoint's generator, the same seed
    assert main(["invert", str(run), "-n", "2", "--steps", "2", "--restarts", "1", "--checkpoint", "2", "--quiet"]) == 0
    assert (run / "invert-step2.png").is_file() and not (run / "invert.png").exists()
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 2  # the report says which
    assert main(["sample", str(run), "-n", "4", "--checkpoint", "2"]) == 0  # the same spelling where --step works
    assert (run / "sample-seed0-step2.png").is_file()
    capsys.readouterr()
    assert main(["invert", str(run), "--checkpoint", "3", "--quiet"]) == 2
    assert "no checkpoint of step 3" in capsys.readouterr().err
    for command in (["invert", str(run)], ["interpolate", str(run)], ["recover", str(run)],
                    ["attack", str(run), "--source", "3"], ["attribute", str(run), "--attribute", "thickness"]):
        with pytest.raises(SystemExit):  # not read as an abbreviation of --steps
            main([*command, "--step", "2"])
        assert "for the checkpoint of step 2 give --checkpoint 2" in capsys.readouterr().err


def test_evaluations_plot_picks_the_numbers_that_move():
    from saddlepoint.plots import plot_evaluations

    rows = [{"step": s, "generated_samples": 10000, "parzen_sigma": 0.2, "memorization/copies": 0.001 * s,
             "parzen_ll": 10.0 * s, "parzen_se": 1.5, "fid": 300.0 - s, "kid": 5.0 / s, "kid_std": 0.5,
             "parzen_at_grid_edge": s > 2, "reference": "mnist"} for s in (1, 2, 3)]
    fig = plot_evaluations(rows, "t")
    titles = [ax.get_title() for ax in fig.axes]
    # what moves, the best-known first, each with its band; what stays, flags, strings and bands get no panel
    assert titles == ["fid", "kid ± std", "parzen_ll ± se", "memorization/copies"]
    assert plot_evaluations([{"step": s, "fid": 3.0} for s in (1, 2)], "t") is None


def test_shape_datasets_report_mmd(tmp_path):
    _, cfg = resolve_config("moons", ["steps=5", *TINY])
    result = train(cfg, out=tmp_path / "m", progress=False)
    assert "mmd2" in result.summary and "modes" not in result.summary


def test_config_error_is_a_value_error():
    with pytest.raises(ConfigError):
        resolve_config("grid25", ["beta1=2"])


def test_ema_generator_is_what_samples(tmp_path):
    from saddlepoint.train import Experiment

    _, cfg = resolve_config("grid25", ["ema=0.5", *TINY])
    exp = Experiment(cfg)
    assert exp.sampler is exp.G_ema
    before = exp.generate(16)
    with torch.no_grad():
        for p in exp.G.parameters():
            p.add_(1.0)
    assert torch.equal(exp.generate(16), before)  # the average has not moved yet
    exp.update_ema()
    moved = exp.generate(16)
    assert not torch.equal(moved, before)
    for pe, p in zip(exp.G_ema.parameters(), exp.G.parameters()):
        assert torch.allclose(pe, p - 0.5)  # halfway: decay 0.5


def test_ema_start_holds_the_average_until_its_step():
    from saddlepoint.train import Experiment

    with pytest.raises(ConfigError, match="ema_start says when"):
        resolve_config("grid25", ["ema=0", "ema_start=2"])[1].validate()
    _, cfg = resolve_config("grid25", ["ema=0.5", "ema_start=2", *TINY])
    exp = Experiment(cfg)
    for step in range(3):
        exp.step = step
        start = [p.clone() for p in exp.G_ema.parameters()]
        with torch.no_grad():
            for p in exp.G.parameters():
                p.add_(1.0)
        exp.update_ema()
        for pe, p, s in zip(exp.G_ema.parameters(), exp.G.parameters(), start):
            # steps 0 and 1 copy G; from step 2 the average moves halfway (decay 0.5)
            assert torch.equal(pe, p) if step < 2 else torch.allclose(pe, (s + p) / 2)
            assert step < 2 or not torch.equal(pe, p)


def test_cuda_without_a_gpu_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "steps=2", "--device", "cuda", "--out", str(tmp_path / "r"), "--quiet", *TINY]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
@pytest.mark.parametrize("recipe, modes, hq, rkl", [("grid25", 25, 0.97, 0.02), ("ring8", 8, 0.98, 0.01)])
def test_recipe_reaches_its_goal(tmp_path, recipe, modes, hq, rkl):
    """The issue's goal for the best recipe, on seed 0 with one thread, as in the benchmark (which
    reports all 10 seeds; single seeds range 96.6–98.0 % HQ on the grid)."""
    _, cfg = resolve_config(recipe, ["threads=1", "eval_every=0"])
    s = train(cfg, out=tmp_path / recipe, progress=False).summary
    assert s["modes"] == modes and s["high_quality"] >= hq and s["reverse_kl"] <= rkl, s


IMG = ["model=dcgan", "base_channels=8", "z_dim=16", "batch_size=16", "lr_decay=none", "eval_samples=64"]


def test_image_gan_trains_samples_and_resumes_exactly(tmp_path, tiny_npz, capsys):
    overrides = [f"data={tiny_npz}", *IMG, "steps=8", "checkpoint_every=4", "sample_every=4", "ema=0.9", "log_every=4"]
    out = tmp_path / "full"
    assert main(["train", "mnist-dcgan", *overrides, "--out", str(out), "--quiet"]) == 0
    assert "mmd2_pixels" in json.loads((out / "summary.json").read_text())
    for name in ["samples.png", "samples-00000004.png", "curves.png", "config.yaml"]:
        assert (out / name).is_file(), name
    from PIL import Image

    assert Image.open(out / "samples.png").size == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)  # 8×8 grid, 2-px padding
    # Crash after step 4, then resume: the batch-norm DCGAN ends bit-for-bit where the full run did.
    crashed = tmp_path / "crashed"
    assert main(["train", "mnist-dcgan", *overrides, "--out", str(crashed), "--quiet"]) == 0
    crash_after(crashed, 4)
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 0
    a, _ = load_checkpoint(out)
    b, _ = load_checkpoint(crashed)
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng")), "resume is not exact"


def test_model_must_fit_the_data(capsys):
    assert main(["train", "grid25", "model=dcgan", "--dry-run"]) == 2
    assert "does not fit data=grid25" in capsys.readouterr().err
    assert main(["train", "mnist-dcgan", "image_size=30", "--dry-run"]) == 2
    assert "image_size=30" in capsys.readouterr().err


def test_sample_and_interpolate_are_deterministic(tmp_path, tiny_npz, capsys):
    run = tmp_path / "run"
    assert main(["train", "mnist-dcgan", f"data={tiny_npz}", *IMG, "steps=3", "--out", str(run), "--quiet"]) == 0
    assert (run / "samples.png").exists() and not (run / "curves.png").exists()  # one logged row: no curve to draw
    tiny_npz.unlink()  # sampling needs only the run, not the data
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert main(["sample", str(run), "-n", "16", "--seed", "3", "-o", str(a)]) == 0
    assert main(["sample", str(run), "-n", "16", "--seed", "3", "-o", str(b)]) == 0
    assert main(["sample", str(run), "-n", "16", "--seed", "4", "-o", str(c)]) == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert main(["interpolate", str(run), "-o", str(tmp_path / "walk.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "walk.png").size == (10 * 28 + 11 * 2, 8 * 28 + 9 * 2)
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["sample", str(run), "-o", str(tmp_path / "x.txt")]) == 2


def test_sample_from_python_and_for_2d_runs(tmp_path):
    from saddlepoint.sampling import sample, save_interpolation, save_sample_picture, slerp
    from saddlepoint.train import load_run

    _, cfg = resolve_config("ring8", ["steps=3", *TINY])
    run = train(cfg, out=tmp_path / "r", progress=False).run_dir
    exp = load_run(run)
    assert torch.equal(sample(exp, 10, seed=1), sample(exp, 10, seed=1))
    save_sample_picture(exp, tmp_path / "s.png", 100)
    save_interpolation(exp, tmp_path / "w.png")
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "w.png").stat().st_size > 0
    z0, z1 = torch.randn(3, 5), torch.randn(3, 5)
    path = slerp(z0, z1, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(path[:, 0], z0, atol=1e-5) and torch.allclose(path[:, 2], z1, atol=1e-5)


def test_any_image_recipe_trains_on_a_folder(tmp_path, capsys):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.new("RGB", (48 + i, 40), (40 * i, 100, 200)).save(photos / f"{i}.jpg")
    out = tmp_path / "run"
    assert main(["train", "mnist-dcgan", f"data={photos}", "image_size=32", *IMG, "steps=2", "--out", str(out),
                 "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["channels"] == 3
    assert main(["train", "mnist-dcgan", f"data={tmp_path / 'nothing'}", *IMG, "--out", str(tmp_path / "r2")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_folder_named_without_a_path_is_the_folder_and_a_built_in_name_stays_built_in(tmp_path, monkeypatch,
                                                                                     capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    for name in ("photos", "ring8"):  # a folder that shares a built-in set's name does not shadow it
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.new("RGB", (40, 40), (60 * i, 100, 200)).save(tmp_path / name / f"{i}.png")
    assert main(["train", "mnist-dcgan", "data=photos", "image_size=32", *IMG, "steps=1", "--out", "r1",
                 "--quiet"]) == 0
    assert json.loads((tmp_path / "r1" / "run.json").read_text())["channels"] == 3
    assert main(["train", "mnist-dcgan", "data=ring8", *IMG, "steps=1", "--out", "r2", "--quiet"]) == 2
    assert "does not fit data=ring8" in capsys.readouterr().err  # the 2-D set, not the folder
    assert main(["train", "mnist-dcgan", "data=fotos", *IMG, "steps=1", "--out", "r3", "--quiet"]) == 2
    assert "data='fotos' is not known" in capsys.readouterr().err


def _tiny_translation_data(root, kind: str):
    """A few random images in the folder layout each translation task reads."""
    import numpy as np
    from PIL import Image

    g = np.random.default_rng(0)
    folders = {"pix2pix": ["A", "B"], "cyclegan": ["trainA", "trainB"], "srgan": ["."]}[kind]
    size = 64 if kind == "srgan" else 28
    for sub in folders:
        (root / "data" / sub).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            Image.fromarray(g.integers(0, 256, (size, size), dtype=np.uint8)).save(root / "data" / sub / f"{i}.png")
    return root / "data"


@pytest.mark.parametrize("recipe", sorted(list_recipes()))
def test_every_recipe_runs_a_few_steps_on_tiny_data(recipe, tmp_path, tiny_npz, capsys):
    _, raw = load_recipe(recipe)
    small = ["steps=2", "log_every=1", "eval_every=0", "--quiet", "--out", str(tmp_path / "r")]
    if raw.get("family", "gan") == "gan":
        small.append("critic_steps=1")
    if raw.get("family") in ("gmmn", "vae"):  # no critic: the family's own small widths
        extra = [f"{raw['family']}_hidden=[16,16]", "batch_size=8", "eval_samples=16"]
        if raw["data"] not in ("grid25", "ring8"):
            extra.append(f"data={tiny_npz}")
        if raw.get("gmmn_code"):  # GMMN+AE: one autoencoder step, then the GMMN's
            extra += ["gmmn_ae_steps=1", "gmmn_ae_hidden=[16]", "gmmn_ae_batch=8"]
    elif raw.get("family") == "mmdgan":
        extra = [f"data={tiny_npz}", "mmdgan_width=4", "z_dim=8", "batch_size=4", "eval_samples=16",
                 "mmdgan_warm_critic=0", "mmdgan_critic_steps=1"]
    elif raw.get("model", "mlp") == "mlp":
        extra = TINY
    elif raw.get("conditional") == "text":  # its captions are measured on MNIST's digits
        mnist_or_skip(train=True)
        extra = ["base_channels=4", "z_dim=8", "batch_size=4", "eval_samples=16"]
    elif raw.get("conditional") in ("pix2pix", "srgan", "cyclegan"):  # translation: tiny data of its own layout
        extra = [f"data={_tiny_translation_data(tmp_path, raw['conditional'])}", "base_channels=4", "batch_size=4",
                 "eval_samples=16"]
    else:
        extra = [f"data={tiny_npz}", "base_channels=4", "z_dim=8", "batch_size=4", "eval_samples=16"]
    assert main(["train", recipe, *extra, *small]) == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "summary.json").is_file()


def test_image_experiment_uses_the_lean_settings(tiny_npz):
    from saddlepoint.train import Experiment, resolve_precision

    _, cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG])
    exp = Experiment(cfg)
    conv = exp.D.net[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and exp.sample_real().is_contiguous(
        memory_format=torch.channels_last)
    assert exp.contest.opt_d.defaults.get("fused") or exp.contest.opt_d.defaults.get("foreach")
    from saddlepoint.train import cpu_has_amx

    assert resolve_precision(cfg, torch.device("cpu")) == (torch.bfloat16 if cpu_has_amx() else torch.float32)
    _, mlp = resolve_config("ring8", [])
    assert resolve_precision(mlp, torch.device("cpu")) == torch.float32  # bf16 measured slower for small MLPs
    _, off = resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG, "precision=fp32", "channels_last=false"])
    exp = Experiment(off)
    assert exp.contest.precision is None and exp.D.net[0].weight.is_contiguous()


def test_mmd_term_reaches_the_generators_loss_and_its_keys_are_checked(tiny_npz):
    from saddlepoint.train import Experiment

    _, cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG, "mmd=5", "mmd_bandwidth=10", "mmd_channels=true"])
    (term,) = Experiment(cfg).contest.g_penalties
    assert term.name == "mmd" and term.weight == 5
    from saddlepoint.penalties import mmd_to_data

    torch.manual_seed(0)
    real, fake = torch.randn(8, 2, 3, 3), torch.randn(8, 2, 3, 3) + 1
    value = term.fn(None, real, fake).item()  # the keys' kernel width (10) and per-channel sum, not the defaults
    assert value == pytest.approx(mmd_to_data(10.0, per_channel=True)(None, real, fake).item())
    assert value != pytest.approx(mmd_to_data(8.0, per_channel=True)(None, real, fake).item())
    assert value != pytest.approx(mmd_to_data(10.0)(None, real, fake).item())
    for bad, says in ((["mmd_bandwidth=10"], "mmd=0 leaves it off"), (["mmd_channels=true"], "mmd=0 leaves it off")):
        with pytest.raises(ConfigError, match=says):
            resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG, *bad])
    with pytest.raises(ConfigError, match="2-D points have none"):
        resolve_config("ring8", ["mmd=1", "mmd_channels=true"])
    with pytest.raises(ConfigError, match="remove mmd"):
        resolve_config("pix2pix-edges2mnist", ["mmd=1"])
    with pytest.raises(ConfigError, match="at least 2 with batch norm, a penalty or the mmd term"):
        resolve_config("ring8", ["mmd=1", "batch_size=1", "r1=0", "penalty_every=1"])  # not a traceback mid-run
    _, toy = resolve_config("ring8", ["mmd=1"])  # GMMN's term works on points too
    assert Experiment(toy).contest.g_penalties[0].name == "mmd"


def test_time_limit_stops_early_with_a_checkpoint_and_says_so(tmp_path):
    _, cfg = resolve_config("ring8", ["steps=1000000", "time_limit=0.01", "checkpoint_every=1000000", "eval_samples=64",
                                      "g_hidden=16", "d_hidden=16", "batch_size=16", "threads=1"])
    t0 = time.time()
    s = train(cfg, out=tmp_path / "r", progress=False).summary
    assert time.time() - t0 < 30 and 0 < s["steps"] < 1_000_000
    assert "time_limit of 0.01 min reached" in s["stopped"]
    assert int(load_checkpoint(tmp_path / "r")[1]["step"]) == s["steps"]  # nothing lost at the stop
    assert read_metrics(tmp_path / "r")[-1]["step"] == s["steps"]


def test_sigkill_at_any_moment_then_resume_matches_an_uninterrupted_run(tmp_path):
    """A real SIGKILL while training (and possibly while saving), then --resume: the final weights are
    bit-for-bit those of the run that was never interrupted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["train", "grid25", "steps=300", "checkpoint_every=7", "log_every=10", "eval_every=0", "threads=1", *TINY]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = tmp_path / "full"
    subprocess.run([sys.executable, "-m", "saddlepoint", *args, "--out", str(full), "--quiet"], check=True, env=env)
    interrupted = 0
    for delay in (1.5, 2.3):
        run = tmp_path / f"killed-{delay}"
        p = subprocess.Popen([sys.executable, "-m", "saddlepoint", *args, "--out", str(run), "--quiet"], env=env)
        deadline = time.time() + 60
        while not (run / "checkpoints" / "latest").exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(delay * 0.2)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if (run / "summary.json").exists():
            continue  # it finished before the kill; nothing to resume
        interrupted += 1
        assert main(["train", "--resume", str(run), "--quiet"]) == 0
        a, _ = load_checkpoint(full)
        b, _ = load_checkpoint(run)
        assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("G.", "D.", "G_ema.")))
    assert interrupted >= 1, "no run was killed before it finished; the test did not test anything"


def test_cli_warnings_are_one_line_each(tmp_path, tiny_npz, capsys):
    """A config warning reaches the terminal once, as one `saddlepoint: warning:` line."""
    run = tmp_path / "run"
    assert main(["train", "mnist-dcgan", f"data={tiny_npz}", *IMG, "steps=1", "game=wasserstein",
                 "gradient_penalty=10", "--out", str(run), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if "gradient_penalty on the batch-normed" in line]
    assert len(said) == 1 and said[0].startswith("saddlepoint: warning: ") and "UserWarning" not in "".join(err)


def test_uniform_noise_reaches_every_place_z_is_drawn(tmp_path):
    """noise=uniform: training batches, evaluation samples, sampling and the latent walk all draw z from
    [−1, 1] (the walk along a straight line, which stays in the cube); the default stays Gaussian."""
    from saddlepoint.sampling import save_interpolation
    from saddlepoint.train import Experiment

    seen = []
    for noise in ("uniform", "normal"):
        exp = Experiment(resolve_config("ring8", ["steps=3", *TINY, f"noise={noise}"])[1])
        zs = [exp.sample_noise()]
        hook = exp.sampler.register_forward_pre_hook(lambda module, args: zs.append(args[0]))
        exp.generate(500)
        save_interpolation(exp, tmp_path / f"walk-{noise}.png")
        hook.remove()
        z = torch.cat([t.reshape(-1) for t in zs])
        seen.append((z.abs().max().item(), z.std().item()))
    (u_max, u_std), (n_max, n_std) = seen
    assert u_max <= 1 and abs(u_std - 3 ** -0.5) < 0.05  # uniform on [−1, 1]: std 1/√3
    assert n_max > 2 and abs(n_std - 1) < 0.1


def test_curves_show_each_logged_evaluation_once():
    from saddlepoint.plots import plot_curves

    rows = [{"step": s, "loss/D": 1.0, "loss/G": 1.0, "eval/modes": 900 + s, "eval/kl": 1 / s,
             "eval/kl_channels": 0.5 / s, "eval/kl_dependence": 0.5 / s, "eval/code_match": 0.5} for s in (1, 2, 3)]
    titles = [ax.get_title() for ax in plot_curves(rows, "t").axes]
    assert titles == ["losses", "mode coverage", "KL", "read by the MNIST classifier"]
    assert [ax.get_title() for ax in plot_curves([{"step": 1, "loss/D": 1.0}], "t").axes] == ["losses"]


def test_a_loaded_run_keeps_this_process_threads(tmp_path):
    # a run trained with threads=1 is sampled and evaluated on every core the process has, not on one
    import torch

    from saddlepoint.trainer import load_run

    _, cfg = resolve_config("grid25", ["steps=2", "threads=1", "eval_every=0", *TINY])
    run_dir = train(cfg, out=tmp_path / "run", progress=False).run_dir
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        load_run(run_dir)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_threads_are_set_before_the_players_are_built(tiny_npz, monkeypatch):
    # built under more threads than it then trains with, a model's step ran ~60 % slower: the count comes first
    import torch

    from saddlepoint.trainer import build

    before = torch.get_num_threads()
    seen = []
    real_init = torch.nn.Module.__init__

    def init(self, *a, **k):
        seen.append(torch.get_num_threads())
        real_init(self, *a, **k)

    monkeypatch.setattr(torch.nn.Module, "__init__", init)
    try:
        torch.set_num_threads(2)
        build(resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG, "threads=1"])[1])
        assert seen and set(seen) == {1}
    finally:
        torch.set_num_threads(before)


def test_evaluate_help_names_every_metric():
    import re

    from saddlepoint.cli import build_parser
    from saddlepoint.metrics.images import METRICS

    sub = next(a for a in build_parser()._actions if a.choices and "evaluate" in a.choices)
    listed = next(a.help for a in sub.choices["evaluate"]._actions if "--metrics" in a.option_strings)
    named = set(re.search(r"any of ([a-z_0-9,]+)", listed).group(1).split(","))
    assert named == set(METRICS)


def test_theory_help_names_every_experiment():
    from saddlepoint.cli import build_parser
    from saddlepoint.theory import EXPERIMENTS

    sub = next(a for a in build_parser()._actions if a.choices and "theory" in a.choices)
    listed = next(a.help for a in sub.choices["theory"]._actions if a.dest == "name")
    assert [n.strip() for n in listed.replace(", or list", "").split(",")] == list(EXPERIMENTS)


@pytest.mark.parametrize("recipe", ["grid25", "mnist-dcgan"])
def test_a_short_run_imports_no_compiler(tmp_path, recipe):
    """torch._dynamo (through torch's optimizers or torchvision) costs a short run about 1.5 s: a plain run
    must not import it, nor torchvision, nor matplotlib for an image run (BENCHMARKS.md, the fixed cost)."""
    import subprocess
    import sys

    if recipe == "mnist-dcgan":
        mnist_or_skip(train=True)
    code = ("import sys\nfrom saddlepoint.cli import entry\n"
            f"sys.argv = ['saddlepoint', 'train', {recipe!r}, 'steps=2', '--out', {str(tmp_path / 'run')!r}, "
            "'--quiet']\n"
            "try:\n    entry()\nexcept SystemExit:\n    pass\n"
            "import json\nprint(json.dumps(sorted(m for m in ('torch._dynamo', 'torchvision', 'matplotlib') "
            "if m in sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "samples.png").is_file()
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported == ([] if recipe == "mnist-dcgan" else ["matplotlib"])  # grid25 draws its points with it


def test_runs_lists_what_each_run_trained_and_how_it_ended(tmp_path, capsys, monkeypatch):
    import signal

    from saddlepoint import trainer

    root = tmp_path / "runs"
    assert main(["train", "ring8", "steps=10", "--out", str(root / "done"), "--quiet", *TINY]) == 0
    assert main(["evaluate", str(root / "done")]) == 0
    real = trainer.advance

    def interrupted_at_6(model):
        logs = real(model)
        if model.step == 6:
            signal.raise_signal(signal.SIGINT)
        return logs

    monkeypatch.setattr(trainer, "advance", interrupted_at_6)
    assert main(["train", "grid25", "steps=10", "--out", str(root / "cut"), "--quiet", *TINY]) == 130
    monkeypatch.undo()
    (root / "not-a-run").mkdir()
    capsys.readouterr()
    assert main(["runs", str(root)]) == 0
    out, err = capsys.readouterr()
    head, *lines = out.strip().splitlines()
    assert head.split() == ["RUN", "RECIPE", "STEP", "STATE", "UPDATED", "RESULT"] and len(lines) == 2
    done, cut = lines  # oldest first
    assert done.split()[:4] == ["done", "ring8", "10/10", "finished"] and "/8 modes, high quality" in done
    assert cut.split()[:4] == ["cut", "grid25", "6/10", "stopped"] and "logged at step 6: loss/D " in cut
    assert "saddlepoint train --resume RUN" in err
    assert main(["runs", str(root), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["recipe"], r["step"], r["state"]) for r in rows] == [("ring8", 10, "finished"), ("grid25", 6, "stopped")]
    assert rows[0]["evaluation"]["step"] == 10 and rows[0]["summary"]["steps"] == 10
    assert rows[0]["path"] == str(root / "done") and rows[1]["last_logged"]["step"] == 6
    (root / "done" / "eval.json").write_text(json.dumps({"step": 10, "fid": 12.345, "nll": 86.123,
                                                          "parzen_ll": 225.04, "ais_ll": 310.26}))
    assert main(["runs", str(root)]) == 0
    assert "; FID 12.3, NLL 86.12, Parzen 225.0, AIS log p(x) 310.3 (eval.json, step 10)" in capsys.readouterr().out
    assert main(["runs", str(root / "cut")]) == 0  # a run directory itself
    assert "6/10" in capsys.readouterr().out
    assert main(["runs", str(tmp_path / "nothing")]) == 2
    assert "is not a folder" in capsys.readouterr().err

    # runs named one by one are compared: the table, then where their configs differ
    assert main(["runs", str(root / "done"), str(root / "cut")]) == 0
    out = capsys.readouterr().out
    assert out.index("/8 modes") < out.index("where their configs differ:")
    differ = dict(line.split(None, 1) for line in out.split("where their configs differ:")[1].strip().splitlines())
    assert differ["recipe"] == "ring8 | grid25" and differ["data"] == "ring8 | grid25" and "seed" not in differ
    assert main(["runs", str(root / "done"), str(root / "done")]) == 0
    assert "their configs are the same" in capsys.readouterr().out
    assert main(["runs", str(root / "done"), str(root / "cut"), "--json"]) == 0
    *entries, last = capsys.readouterr().out.splitlines()
    assert len(entries) == 2 and json.loads(last)["differences"]["data"] == ["ring8", "grid25"]
    assert main(["runs", str(root / "done"), str(root / "not-a-run")]) == 2
    assert "not-a-run is not a run directory" in capsys.readouterr().err
    (root / "not-a-run" / "config.yaml").write_text("steps: [1\n")  # a config that does not parse
    assert main(["runs", str(root / "done"), str(root / "not-a-run")]) == 2
    assert "not-a-run is not a run directory (no readable config.yaml)" in capsys.readouterr().err


def test_the_last_logged_rows_are_read_from_the_end_of_a_long_log(tmp_path):
    from saddlepoint.runlist import _tail_rows

    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss/D": s / 10}) + "\n" for s in range(1, 2001)))
    assert _tail_rows(log, tail=100)[-1] == {"step": 2000, "loss/D": 200.0}
    assert _tail_rows(log, tail=100)[0]["step"] > 1990  # the seek lands inside a row: that row is skipped
    log.write_text(log.read_text() + '{"step": 2001, "loss')  # a row being written
    assert _tail_rows(log, tail=100)[-1]["step"] == 2000 and _tail_rows(tmp_path / "none.jsonl") == []


def test_a_training_runs_rate_counts_only_the_process_training_it_now():
    from saddlepoint.runlist import _rate

    first = [{"step": s, "time": s / 10} for s in range(10, 110, 10)]  # 10 steps a second, until step 100
    resumed = [{"step": 100 + s, "time": s / 2} for s in range(10, 60, 10)]  # resumed: its clock starts again
    assert _rate(first) == pytest.approx(10.0)
    assert _rate(first + resumed) == pytest.approx(2.0)  # not the time between the two processes
    assert _rate(first[:1]) is None and _rate([]) is None
    assert _rate([{"step": 1, "time": 1.0}, {"step": 2}]) is None


def test_config_differences_name_each_key_that_differs_with_each_runs_value(tmp_path):
    from saddlepoint.runlist import config_differences

    for name, config, recipe in (("a", {"steps": 10, "game": "hinge", "r1": [1, 2]}, "grid25"),
                                 ("b", {"steps": 10, "game": "lsgan", "r1": [1, 2], "ema": 0.9}, "grid25"),
                                 ("c", {"steps": 20, "game": "hinge", "r1": [1, 3]}, "ring8")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (tmp_path / name / "run.json").write_text(json.dumps({"recipe": recipe}))
    differs = config_differences([tmp_path / n for n in "abc"])
    assert list(differs) == ["recipe", "steps", "game", "r1", "ema"]  # the recipe first, then in config order
    assert differs["ema"] == [None, 0.9, None] and differs["r1"] == [[1, 2], [1, 2], [1, 3]]
    assert config_differences([tmp_path / "a", tmp_path / "a"]) == {}


def test_the_time_to_go_is_the_sooner_of_the_steps_left_and_the_time_limit(tmp_path):
    from saddlepoint.runlist import RunEntry

    def entry(state="training", rate=10.0, time_limit=0.0):
        return RunEntry(tmp_path, "r", 100, 1100, state, 0.0, 0.0, last_logged={"step": 100, "time": 30.0},
                        rate=rate, time_limit=time_limit)

    assert entry().seconds_left == pytest.approx(100.0)  # 1000 steps at 10 a second
    assert entry(time_limit=1.0).seconds_left == pytest.approx(30.0)  # a minute's limit, 30 s of it gone
    assert entry(time_limit=10.0).seconds_left == pytest.approx(100.0)
    assert entry(state="stopped").seconds_left is None and entry(rate=None).seconds_left is None
