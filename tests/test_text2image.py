"""Text-to-image (GAN-INT-CLS): the matching-aware critic loss, and a run told sentences end to end (MNIST)."""

import json

import torch
from torch import nn

from saddlepoint.games import get_game
from saddlepoint.schedule import Contest, _critic_loss

from conftest import mnist_or_skip


class _Pairs(nn.Module):
    """D(x, t) = Σx · Σt: a critic that reads a 'sentence' vector t."""

    def forward(self, x, t):
        return x.sum(1) * t.sum(1)


class _Sentences:
    critic_reads_label = True

    def __init__(self):
        self.mismatched = True

    def d_term(self, *a):
        return None


def test_the_critic_also_calls_real_images_with_other_sentences_fake():
    D, G = _Pairs(), nn.Linear(1, 1)
    game = get_game("minimax")
    c = Contest(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(G.parameters(), lr=0.1), game,
                condition=_Sentences())
    real, fake = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[0.5], [-1.0], [2.0]])
    y = torch.tensor([[1.0], [-1.0], [0.5]])
    real_out, fake_out = D(real, y), D(fake, y)
    loss = _critic_loss(c, real, fake, real_out, fake_out, y, y, {})
    wrong = D(real, y.roll(1, 0))  # each real image with the previous image's sentence
    expected = game.d_loss(real_out, torch.cat([fake_out, wrong]))  # ½ fake + ½ mismatched, as the CLS loss
    assert torch.allclose(loss, expected)
    c.condition.mismatched = False
    assert not torch.allclose(_critic_loss(c, real, fake, real_out, fake_out, y, y, {}), expected)


def test_a_text_run_trains_samples_sentences_and_walks_between_them(tmp_path, capsys):
    from safetensors.torch import load_file

    from saddlepoint.cli import main

    mnist_or_skip(train=True)
    run = tmp_path / "run"
    assert main(["train", "mnist-text2image", "steps=3", "batch_size=8", "base_channels=8", "eval_every=0",
                 "sample_every=0", "--out", str(run), "--quiet"]) == 0
    info = json.loads((run / "run.json").read_text())
    from saddlepoint.trainer import load_run

    cond = load_run(run).condition
    assert (cond.mismatched, cond.interpolate) == (True, True)
    cond._last = torch.eye(4, cond.cond_dim)
    mixed = cond.sample(4, torch.Generator().manual_seed(0))  # INT: halfway between two real sentences
    assert torch.allclose(mixed.sum(1), torch.ones(4)) and ((mixed == 0.5) | (mixed == 1) | (mixed == 0)).all()
    assert info["text_encoder"].startswith("trained here")
    latest = (run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip())
    assert any(k.startswith("text_encoder.") for k in load_file(str(latest / "weights.safetensors")))
    out = tmp_path / "t.png"
    assert main(["sample", str(run), "--text", "a thick seven leaning right", "--text", "a thin wide two", "-n", "4",
                 "-o", str(out)]) == 0 and out.stat().st_size > 500
    assert main(["interpolate", str(run), "--text", "a thin one", "a thick zero", "-o", str(tmp_path / "w.png")]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--label", "3"]) == 2
    assert "use --text" in capsys.readouterr().err
    assert main(["sample", str(run), "--text", "hello world"]) == 2
    assert "vocabulary" in capsys.readouterr().err


def test_the_pretrained_minilm_encoder_is_an_option_that_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    """text_encoder=minilm: refused in one line (with the pip command) where the extra is missing; where it is
    installed, a run trains with it, names it in run.json, saves only its reading heads, and samples sentences in
    words the captions never use."""
    import pytest
    from safetensors.torch import load_file

    from saddlepoint.cli import main
    from saddlepoint.data import captions

    mnist_or_skip(train=True)
    args = ["train", "mnist-text2image", "text_encoder=minilm", "steps=2", "batch_size=8", "base_channels=8",
            "eval_every=0", "sample_every=0", "precision=fp32", "--quiet"]
    with monkeypatch.context() as m:
        m.setattr(captions, "minilm_installed", lambda: False)
        assert main([*args, "--out", str(tmp_path / "refused")]) == 2
        assert "pip install 'saddlepoint[text-minilm]'" in capsys.readouterr().err
        assert not (tmp_path / "refused").exists()
    if not captions.minilm_installed():
        pytest.skip("the optional extra text-minilm is not installed")
    run = tmp_path / "run"
    assert main([*args, "--out", str(run)]) == 0
    with monkeypatch.context() as m:  # the run, loaded where the extra is missing: the same line
        m.setattr(captions, "minilm_installed", lambda: False)
        assert main(["sample", str(run), "--text", "a thin one", "-o", str(tmp_path / "no.png")]) == 2
        assert "pip install 'saddlepoint[text-minilm]'" in capsys.readouterr().err
    assert json.loads((run / "run.json").read_text())["text_encoder"].startswith("all-MiniLM-L6-v2")
    latest = (run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip())
    saved = [k for k in load_file(str(latest / "weights.safetensors")) if k.startswith("text_encoder.")]
    assert saved and all(k.startswith("text_encoder.heads.") for k in saved)  # not the transformer's 22 M weights
    out = tmp_path / "t.png"
    assert main(["sample", str(run), "--text", "a hefty 7 tipping toward the right", "-n", "2", "-o", str(out)]) == 0
    assert out.stat().st_size > 200
