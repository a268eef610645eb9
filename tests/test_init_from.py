"""``init_from``: a run that starts from another run's networks (fine-tuning, e.g. a VAE continued on the IWAE
bound, as Burda et al. 2016's released code offers)."""

import json
import shutil

import pytest
import torch

from saddlepoint import resolve_config, train
from saddlepoint.cli import main
from saddlepoint.runs import RunError, load_checkpoint, read_metrics
from saddlepoint.trainer import build, resume, start_from
from conftest import crash_after

TINY = ["g_hidden=32", "d_hidden=32", "g_layers=2", "d_layers=2", "batch_size=64", "eval_samples=500"]
VAE = ["vae_hidden=[32, 32]", "batch_size=64", "eval_samples=500", "eval_every=0"]


def test_every_network_comes_from_the_source_and_the_average_restarts_from_it(tmp_path):
    _, cfg = resolve_config("grid25", [*TINY, "steps=30", "ema=0.9"])
    src = train(cfg, out=tmp_path / "src", progress=False)
    # Another learning rate and decay: keys that do not shape the networks may change.
    _, cfg = resolve_config("grid25", [*TINY, "ema=0.9", "lr_g=0.0001", f"init_from={src.run_dir}"])
    model = build(cfg)
    info = start_from(model)
    saved, _ = load_checkpoint(src.run_dir)
    for name in ("G", "D"):
        for k, v in getattr(model, name).state_dict().items():
            assert torch.equal(v, saved[f"{name}.{k}"]), f"{name}.{k}"
    # The EMA copy restarts from the loaded G, not from the source's average (which lags its G).
    assert any(not torch.equal(v, saved[f"G_ema.{k}"]) for k, v in model.G_ema.state_dict().items())
    for pe, p in zip(model.G_ema.parameters(), model.G.parameters()):
        assert torch.equal(pe, p)
    assert info == {"init_from": {"run": str(src.run_dir.resolve()), "step": 30}} and model.step == 0


def test_a_fine_tuned_vae_starts_where_its_source_ended_and_records_it(tmp_path, tiny_npz, capsys):
    src, fresh, tuned = tmp_path / "src", tmp_path / "fresh", tmp_path / "tuned"
    vae = ["mnist-vae", f"data={tiny_npz}", "vae_hidden=[64]", "batch_size=32", "eval_every=0", "eval_samples=100"]
    assert main(["train", *vae, "steps=150", "--out", str(src), "--quiet"]) == 0
    assert main(["train", *vae, "steps=2", "log_every=1", "--out", str(fresh), "--quiet"]) == 0
    assert main(["train", *vae, "steps=2", "log_every=1", "iwae_k=5", f"init_from={src}",
                 "--out", str(tuned), "--quiet"]) == 0
    capsys.readouterr()
    last_of_source = read_metrics(src)[-1]["loss/elbo"]
    first_fresh = read_metrics(fresh)[0]["loss/elbo"]
    first_tuned = read_metrics(tuned)[0]["loss/elbo"]  # the IWAE bound (k=5): no looser than the ELBO
    assert first_tuned < last_of_source + 0.1 * (first_fresh - last_of_source)
    info = json.loads((tuned / "run.json").read_text())
    assert info["init_from"] == {"run": str(src.resolve()), "step": 150}
    assert "init_from" not in json.loads((fresh / "run.json").read_text())


@pytest.mark.parametrize("source_args, args, fragment", [
    (["grid25", *TINY], ["grid25-vae", *VAE], "it is a family=gan run and this run is family=vae"),
    (["grid25", *TINY], ["grid25", *TINY[:1], "g_hidden=48", *TINY[1:]], "does not fit this config's G architecture"),
    (None, ["grid25", *TINY], "is not a run directory"),
])
def test_a_source_that_does_not_fit_is_one_line_and_makes_no_run(tmp_path, capsys, source_args, args, fragment):
    src = tmp_path / "src"
    if source_args is None:
        src.mkdir()
    else:
        assert main(["train", *source_args, "steps=2", "--out", str(src), "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "tuned"
    assert main(["train", *args, "steps=2", f"init_from={src}", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and err.startswith(f"saddlepoint: error: init_from={src}: ")
    assert not out.exists()


def test_resume_continues_the_fine_tuned_run_not_its_source(tmp_path):
    _, cfg = resolve_config("grid25", [*TINY, "steps=10"])
    src = train(cfg, out=tmp_path / "src", progress=False)
    _, cfg = resolve_config("grid25", [*TINY, "steps=20", "checkpoint_every=10", f"init_from={src.run_dir}"])
    full = train(cfg, out=tmp_path / "full", progress=False)
    _, cfg = resolve_config("grid25", [*TINY, "steps=20", "checkpoint_every=10", f"init_from={src.run_dir}"])
    crashed = train(cfg, out=tmp_path / "crashed", progress=False)
    crash_after(crashed.run_dir, 10)
    resumed = resume(crashed.run_dir, progress=False)
    a, _ = load_checkpoint(full.run_dir)
    b, _ = load_checkpoint(resumed.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("G.", "D.")))


def test_a_missing_source_checkpoint_is_a_run_error(tmp_path):
    _, cfg = resolve_config("grid25", [*TINY, "steps=2"])
    src = train(cfg, out=tmp_path / "src", progress=False)
    shutil.rmtree(src.run_dir / "checkpoints")  # a run killed before its first checkpoint
    (src.run_dir / "checkpoints").mkdir()
    _, cfg = resolve_config("grid25", [*TINY, f"init_from={src.run_dir}"])
    with pytest.raises(RunError, match="init_from=.*has no complete checkpoint"):
        start_from(build(cfg))


def test_the_python_experiment_starts_from_the_source_too(tmp_path):
    from saddlepoint.train import Experiment

    _, cfg = resolve_config("grid25", [*TINY, "steps=5"])
    src = train(cfg, out=tmp_path / "src", progress=False)
    _, cfg = resolve_config("grid25", [*TINY, f"init_from={src.run_dir}"])
    saved, _ = load_checkpoint(src.run_dir)
    assert all(torch.equal(v, saved[f"D.{k}"]) for k, v in Experiment(cfg).D.state_dict().items())
