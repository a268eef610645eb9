"""CycleGAN: interleaved pairs, the twin players, cycle / identity losses, the history pool, unpaired data
layouts, training with exact resume, translate / evaluate."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from torch import nn

from saddlepoint import resolve_config
from saddlepoint.cli import main
from saddlepoint.config import ConfigError
from saddlepoint.data.images import DataError
from saddlepoint.data.unpaired import UnpairedSampler, load_domains, sklearn_digits
from saddlepoint.nets.cyclegan import CyclePair, ResNetTranslator, TwinCritic
from saddlepoint.penalties import cycle_loss, identity_loss, swap_pairs
from saddlepoint.pool import HistoryPool
from saddlepoint.runs import load_checkpoint
from conftest import crash_after

TINY = ["base_channels=4", "res_blocks=1", "batch_size=8", "log_every=10", "checkpoint_every=1000", "sample_every=0",
        "pool_size=6", "lr_decay=none"]


class _Shift(nn.Module):
    def __init__(self, by: float):
        super().__init__()
        self.by = by

    def forward(self, x):
        return x + self.by


def test_pairs_interleave_and_swap():
    x = torch.arange(6.0).view(6, 1, 1, 1)
    assert swap_pairs(x).flatten().tolist() == [1, 0, 3, 2, 5, 4]
    G = CyclePair(_Shift(10), _Shift(-10))  # A → B adds 10, B → A subtracts 10
    sources = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(4, 1, 1, 1)  # [a₀, b₀, a₁, b₁]
    assert G(sources).flatten().tolist() == [11, -8, 13, -6]
    D = TwinCritic(_Shift(100), _Shift(0))  # even places judged by D_B, odd by D_A
    assert D(torch.zeros(4, 1, 1, 1)).tolist() == [100, 0, 100, 0]


def test_cycle_and_identity_losses():
    inverse = CyclePair(_Shift(1), _Shift(-1))  # F = G⁻¹: cycles close exactly
    real = torch.randn(4, 1, 3, 3)  # [b₀, a₀, b₁, a₁]
    fake = inverse(swap_pairs(real))
    assert cycle_loss(inverse, real, fake) < 1e-6
    assert identity_loss(inverse, real, fake) == pytest.approx(1.0)  # each image moved by 1
    still = CyclePair(nn.Identity(), nn.Identity())
    assert identity_loss(still, real, still(swap_pairs(real))) == 0
    lossy = CyclePair(_Shift(1), _Shift(1))
    assert cycle_loss(lossy, real, lossy(swap_pairs(real))) == pytest.approx(2.0)


def test_translator_shapes():
    for down, bottleneck in [(0, 28), (1, 14), (2, 7)]:
        G = ResNetTranslator(1, 3, 8, 2, down=down)
        assert G(torch.randn(2, 1, 28, 28)).shape == (2, 3, 28, 28)
        inner = G.net[: 4 + 3 * down](torch.randn(1, 1, 28, 28))  # after the stride-2 convolutions
        assert inner.shape == (1, 8 * 2 ** down, bottleneck, bottleneck)


def test_history_pool_mixes_and_resumes():
    pool = HistoryPool(size=4, group=2, seed=0)
    batches = [torch.full((4, 1, 2, 2), float(i)) for i in range(6)]
    first = pool.draw(batches[0])
    assert torch.equal(first, batches[0]) and pool.count == 2  # filling: the new images pass through
    pool.draw(batches[1])
    assert pool.count == 4
    seen = torch.cat([pool.draw(b) for b in batches[2:4]])
    assert (seen.flatten(1)[:, 0] < 2).any()  # some old images come back once the pool is full
    state = {k: v.clone() for k, v in pool.state().items()}
    a = pool.draw(batches[4])
    other = HistoryPool(size=4, group=2, seed=123)
    other.load_state(state)
    assert torch.equal(other.draw(batches[4]), a)  # images and random stream restored
    paired = HistoryPool(size=2, group=2, seed=1)  # a pair (G(a), F(b)) stays together, in its places
    for i in range(1, 8):
        out = paired.draw(torch.tensor([i, -i, i + 10, -i - 10], dtype=torch.float).view(4, 1, 1, 1)).flatten()
        assert torch.equal(out[0::2], -out[1::2])
    assert HistoryPool(size=0).draw(batches[0]) is batches[0]


def test_unpaired_folders_and_batches(domains, tmp_path):
    a, b = load_domains(str(domains), 28)
    assert len(a) == 24 and len(b) == 27
    s = UnpairedSampler(str(domains), 28)
    real, sources = s.sample_labelled(6, torch.Generator().manual_seed(0))
    assert real.shape == (6, 1, 28, 28)
    assert (real[0::2].mean((1, 2, 3)) > real[1::2].mean((1, 2, 3))).all()  # [b, a, b, a, …]: B is brighter
    assert torch.equal(sources, swap_pairs(real))
    with pytest.raises(ValueError, match="odd"):
        s.sample_labelled(5)
    (tmp_path / "half" / "trainA").mkdir(parents=True)
    with pytest.raises(DataError, match="trainA/ and trainB/"):
        load_domains(str(tmp_path / "half"), 28)


def test_sklearn_digits_are_framed_like_mnist():
    d = sklearn_digits(train=False)
    assert d.images.shape == (297, 1, 28, 28) and d.labels.shape == (297,)
    assert d.images[:, :, :4].max() == 0 and d.images[:, :, 4:24, 4:24].float().mean() > 20  # a 4-px empty frame


def test_cyclegan_trains_resumes_exactly_and_reports(tmp_path, domains, capsys):
    overrides = [f"data={domains}", *TINY, "steps=6", "checkpoint_every=3"]
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    for out in (full, crashed):
        assert main(["train", "cyclegan-digits2mnist", *overrides, "--out", str(out), "--quiet"]) == 0
    crash_after(crashed, 3)
    assert main(["train", "--resume", str(crashed), "--quiet"]) == 0
    a, meta = load_checkpoint(full)
    b, _ = load_checkpoint(crashed)
    assert any(k.startswith("pool.") for k in a)  # the history pool is part of the state
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng")), "resume is not exact"
    row = json.loads((full / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"loss/cycle", "loss/identity"} <= set(row)
    assert row["loss/G"] > row["loss/cycle"] + row["loss/identity"]  # plus the adversarial terms
    assert main(["evaluate", str(full), "--metrics", "cycle", "--quiet"]) == 0
    ev = json.loads((full / "eval.json").read_text())
    assert ev["pairs"] == 6 and 0 <= ev["cycle"] <= 1 and ev["images"].startswith("held-out")
    s = json.loads((full / "summary.json").read_text())  # the run's last line reports the same held-out cycle error
    assert s["cycle"] == pytest.approx(ev["cycle"]) and "mmd2_pixels" not in s
    assert f"cycle error {s['cycle']:.4f} on 6 of each domain's held-out images (testA, testB)" in capsys.readouterr().out
    picture = tmp_path / "rows.png"
    assert main(["translate", str(full), "-n", "4", "-o", str(picture)]) == 0
    assert Image.open(picture).size == (3 * 28 + 4 * 2, 4 * 28 + 5 * 2)  # source | translated | back
    capsys.readouterr()
    for args, message in [(["evaluate", str(full), "--metrics", "accuracy"], "needs data=digits2mnist"),
                          (["evaluate", str(full), "--metrics", "psnr"], "not for CycleGAN runs"),
                          (["translate", str(full), "-i", str(domains)], "translate -i is for pix2pix and srgan"),
                          (["sample", str(full)], "this run translates images")]:
        assert main(args) == 2
        assert message in capsys.readouterr().err


def test_cycle_loss_falls_with_training(tmp_path, domains):
    from saddlepoint import train

    _, cfg = resolve_config("cyclegan-digits2mnist", [f"data={domains}", *TINY, "steps=60", "lr_g=0.002",
                                                      "lr_d=0.002"])
    rows = [json.loads(line) for line in
            (train(cfg, out=tmp_path / "run", progress=False).run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss/cycle"] < 0.6 * rows[0]["loss/cycle"], (rows[0]["loss/cycle"], rows[-1]["loss/cycle"])


def test_cyclegan_config_is_checked():
    for overrides, message in [(["batch_size=7"], "even batch_size"),
                               (["schedule=simultaneous"], "set pool_size=0 or schedule=alternating"),
                               (["model=dcgan"], "conditional=cyclegan and model=cyclegan go together"),
                               (["data=mnist"], "not a pair of domains"),
                               (["translator_downsampling=3"], "divisible by 2\\^translator_downsampling = 8")]:
        with pytest.raises(ConfigError, match=message):
            resolve_config("cyclegan-digits2mnist", overrides)
    resolve_config("cyclegan-digits2mnist", ["schedule=simultaneous", "pool_size=0"])  # no pool: fine
    with pytest.raises(ConfigError, match="translator_downsampling applies to conditional=cyclegan"):
        resolve_config("mnist-dcgan", ["translator_downsampling=1"])
    with pytest.raises(ConfigError, match="holds two unpaired domains"):
        resolve_config("mnist-dcgan", ["data=digits2mnist"])
    with pytest.raises(ConfigError, match="cycle_weight applies to conditional=cyclegan"):
        resolve_config("mnist-dcgan", ["cycle_weight=1"])
