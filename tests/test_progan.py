"""Progressive growing: the schedule, continuity at the start of each fade, the data shown at the current
resolution, and exact resume in the middle of a fade."""

import numpy as np
import pytest
import torch

from saddlepoint.config import ConfigError, resolve_config
from saddlepoint.nets.progan import Growth, ProCritic, ProGenerator, set_growth_step


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
