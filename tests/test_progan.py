"""Progressive growing: the schedule, continuity at the start of each fade, the data shown at the current
resolution, and exact resume in the middle of a fade."""

import numpy as np
import pytest
import torch

from saddlepoint.config import ConfigError, resolve_config
from saddlepoint.nets.progan import Growth, ProCritic, ProGenerator, at_current_resolution, set_growth_step, widths
from saddlepoint.penalties import gradient_penalty, r1_penalty


def test_the_schedule_counts_images_stable_then_fade_then_stable():
    g = Growth(levels=2, fade=64, stable=32, batch=16)
    assert [g.at(s) for s in (0, 1)] == [(0, 1.0), (0, 1.0)]  # 32 images at the smallest side
    assert g.at(2) == (1, 0.0) and g.at(4) == (1, 0.5) and g.at(6) == (1, 1.0)  # 64 images of fading in
    assert g.at(7) == (1, 1.0) and g.at(8) == (2, 0.0) and g.at(11) == (2, 0.75)
    assert g.at(14) == (2, 1.0) and g.at(10 ** 6) == (2, 1.0)


def _at(module, phase_step):
    set_growth_step(module, phase_step)
    return module


def test_a_new_block_starts_invisible_in_both_players():
    torch.manual_seed(0)
    growth = Growth(levels=2, fade=32, stable=32, batch=16)  # step 1: (0, 1.0); step 2: (1, 0.0)
    G = ProGenerator(8, 1, 28, 16, growth).eval()
    D = ProCritic(1, 28, 16, growth).eval()
    z, x = torch.randn(4, 8), torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(_at(G, 1)(z), _at(G, 2)(z), atol=1e-6)
        assert torch.allclose(_at(D, 1)(x), _at(D, 2)(x), atol=1e-5)
        assert not torch.allclose(_at(G, 3)(z), _at(G, 2)(z))  # halfway through the fade: the new block shows
        small = _at(G, 1)(z)
        assert torch.equal(small[..., ::4, ::4].repeat_interleave(4, -1).repeat_interleave(4, -2), small)  # 7 px
        # the real data shown now: the critic reads the shown picture as it reads the full one, at 7 px
        shown = G.show(x)
        assert torch.allclose(_at(D, 1)(shown), D(x), atol=1e-5)
        assert torch.equal(shown[..., ::4, ::4].repeat_interleave(4, -1).repeat_interleave(4, -2), shown)


def test_channels_halve_as_the_side_doubles():
    assert widths(128, 2) == [128, 64, 32] and widths(16, 2) == [16, 8, 8]
    growth = Growth(levels=2, fade=32, stable=32, batch=16)
    G, D = ProGenerator(8, 1, 28, 64, growth), ProCritic(1, 28, 32, growth)
    assert [rgb.in_channels for rgb in G.to_rgb] == [64, 32, 16]
    assert [rgb.out_channels for rgb in D.from_rgb] == [32, 16, 8]
    with torch.no_grad():  # every level runs, fading in or not
        for step in range(0, 16, 3):
            assert _at(G, step)(torch.randn(2, 8)).shape == (2, 1, 28, 28)
            assert _at(D, step)(torch.randn(4, 1, 28, 28)).shape == (4,)


def _grad_norm(D, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x)
    return g.flatten(1).norm(dim=1)


def test_the_gradient_penalty_is_measured_where_the_critic_reads():
    torch.manual_seed(0)
    growth = Growth(levels=2, fade=32, stable=32, batch=16)
    D = _at(ProCritic(1, 28, 16, growth), 0)  # reads 7 px
    small = torch.randn(8, 1, 7, 7)
    full = small.repeat_interleave(4, -1).repeat_interleave(4, -2)  # a generator's enlarged 7 px picture
    assert torch.allclose(D(full), D(small), atol=1e-5)
    # a gradient spread over 16 copies of each pixel: its norm at full size is a quarter of the paper's
    assert torch.allclose(_grad_norm(D, small), 4 * _grad_norm(D, full), rtol=1e-4)
    real, fake = full[:4], full[4:]
    torch.manual_seed(1)
    ours = at_current_resolution(gradient_penalty, D)(D, real, fake)
    torch.manual_seed(1)
    papers = gradient_penalty(D, small[:4], small[4:])
    torch.manual_seed(1)
    full_size = gradient_penalty(D, real, fake)
    assert torch.allclose(ours, papers) and not torch.allclose(ours, full_size, rtol=0.1)


def test_a_progan_run_penalizes_its_critic_at_the_current_resolution(tmp_path):
    from saddlepoint.trainer import build

    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8), labels=np.arange(64) % 10)
    cfg = resolve_config("mnist-progan", [f"data={data}", "base_channels=4", "batch_size=16", "eval_every=0",
                                          "game=wasserstein", "gradient_penalty=10", "r1=1"])[1]
    model = build(cfg)
    set_growth_step(model.D, 0)
    real, fake = model.sample_real(), model.G(model.sample_noise()).detach()
    (gp, r1), D = model.contest.penalties, model.D
    for pen, papers in ((gp, gradient_penalty), (r1, r1_penalty)):
        torch.manual_seed(2)
        ours = pen(D, real, fake)
        torch.manual_seed(2)
        assert torch.allclose(ours, pen.weight * papers(D, D.shrink(real), D.shrink(fake))), pen.name


def test_progan_keys_are_refused_where_they_mean_nothing():
    with pytest.raises(ConfigError, match="add model=progan"):
        resolve_config("mnist-dcgan", ["progan_fade_images=10"])
    with pytest.raises(ConfigError, match="remove gemm_pixels"):
        resolve_config("mnist-dcgan", ["model=progan", "gemm_pixels=64"])
    assert resolve_config("mnist-progan")[1].model == "progan"


def test_resume_in_the_middle_of_a_fade_is_exact(tmp_path):
    from saddlepoint.runs import load_checkpoint
    from saddlepoint.trainer import resume, train

    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8), labels=np.arange(64) % 10)
    # 16 images a step: steps 0-1 at 7 px, 2-5 fading in 14 px; the checkpoint at step 4 is mid-fade
    overrides = [f"data={data}", "model=progan", "base_channels=4", "batch_size=16", "progan_fade_images=64",
                 "progan_stable_images=32", "steps=8", "checkpoint_every=4", "eval_every=0", "ema=0.9"]
    full = train(resolve_config("mnist-dcgan", overrides)[1], out=tmp_path / "full", progress=False)
    crashed = train(resolve_config("mnist-dcgan", overrides)[1], out=tmp_path / "crashed", progress=False)
    ck = crashed.run_dir / "checkpoints"
    for p in ck.glob("step-*"):
        if p.name.endswith("08"):
            import shutil

            shutil.rmtree(p)
    (ck / "latest").write_text("step-00000004")
    _, meta = load_checkpoint(crashed.run_dir)
    assert int(meta["step"]) == 4
    resumed = resume(crashed.run_dir, progress=False)
    a, _ = load_checkpoint(full.run_dir)
    b, _ = load_checkpoint(resumed.run_dir)
    assert any(k.endswith("grow_step") for k in a)
    for k in a:
        if k.startswith(("G.", "D.", "G_ema.", "opt_")):
            assert torch.equal(a[k], b[k]), k
    sides = [row.get("growth/side") for row in map(__import__("json").loads,
                                                   (full.run_dir / "metrics.jsonl").read_text().splitlines())]
    assert 7.0 in sides or 14.0 in sides


def test_the_32_px_recipe_grows_from_4_px_on_a_folder_of_colour_images(tmp_path):
    import json

    from PIL import Image

    from saddlepoint.trainer import train

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    # 8 images a step: steps 0-1 at 4 px, 2-3 fading in 8 px, 4-5 at 8 px, 6 fading in 16 px
    cfg = resolve_config("cifar10-progan", [f"data={photos}", "base_channels=4", "batch_size=8", "z_dim=8",
                                            "progan_fade_images=16", "progan_stable_images=16", "steps=7",
                                            "eval_every=0", "sample_every=0", "checkpoint_every=7", "log_every=1"])[1]
    assert cfg.image_size == 32 and cfg.model == "progan"
    run = train(cfg, out=tmp_path / "run", progress=False).run_dir
    assert json.loads((run / "run.json").read_text())["channels"] == 3
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    sides = [r["growth/side"] for r in rows if "growth/side" in r]
    assert sides[0] == 4.0 and 8.0 in sides and sides[-1] == 16.0
