"""The generator's time-averaged mixed strategy (saddlepoint.mixture): why it is there, how it samples, and
how a run keeps it."""

import json

import pytest
import torch
from torch import nn

from saddlepoint import resolve_config, train
from saddlepoint.config import ConfigError
from saddlepoint.games import get_game
from saddlepoint.mixture import IterateMixture
from saddlepoint.runs import load_checkpoint
from saddlepoint.sampling import save_interpolation
from saddlepoint.train import load_run

TINY = ["g_hidden=16", "d_hidden=16", "g_layers=1", "d_layers=1", "eval_samples=200", "log_every=5",
        "eval_every=0", "threads=1"]


class Constant(nn.Module):
    """A generator that always draws ``value`` (plus 0·z, so its output has z's batch size)."""

    def __init__(self, value: float):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(value)))

    def forward(self, z, label=None):
        out = self.value + 0 * z[:, :1]
        return out if label is None else out + 100 * label[:, None]


def test_the_mixture_keeps_the_newest_snapshots_and_gives_each_its_share():
    G, mix = Constant(0), IterateMixture(3)
    for v in range(5):  # snapshots of G at values 0, 1, 2, 3, 4; the mixture keeps 2, 3, 4
        with torch.no_grad():
            G.value.fill_(v)
        mix.add(G)
    with torch.no_grad():
        G.value.fill_(99)  # a snapshot is a copy, not a view of G
    x = mix(torch.zeros(7, 1)).squeeze(1)
    assert x.tolist() == [2, 3, 4, 2, 3, 4, 2]  # sample i from member i mod K
    assert not any(p.requires_grad for p in mix.parameters())
    picked = mix(torch.zeros(4, 1), torch.tensor([1.0, 0, 0, 1]), member=torch.tensor([2, 2, 0, 1])).squeeze(1)
    assert picked.tolist() == [104, 4, 2, 103]  # conditions follow their samples to the member asked for
    with pytest.raises(ValueError, match="one of the 3 members"):
        mix(torch.zeros(2, 1), member=torch.tensor([0, 3]))
    with pytest.raises(RuntimeError, match="no member"):
        IterateMixture(2)(torch.zeros(1, 1))


def test_on_the_dirac_gan_the_mixture_of_iterates_finds_the_equilibrium_the_last_iterate_circles():
    """Mescheder et al. 2018's Dirac GAN: data at 0, G draws θ, a linear critic ψ·x, the Wasserstein game.
    Alternating GDA orbits the equilibrium (θ, ψ) = (0, 0) without approaching it; the uniform mixture of
    the iterates over an orbit puts its mass around 0 (Freund & Schapire: the time average converges)."""
    game = get_game("wasserstein")
    G, D = Constant(1.0), nn.Linear(1, 1, bias=False)
    nn.init.zeros_(D.weight)
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
    real, z = torch.zeros(1, 1), torch.zeros(1, 1)
    mix = IterateMixture(16)
    for step in range(1, 65):  # about one orbit: period ≈ 2π / lr
        opt_d.zero_grad()
        game.d_loss(D(real), D(G(z).detach())).backward()
        opt_d.step()
        opt_g.zero_grad()
        game.g_loss(D(G(z))).backward()
        opt_g.step()
        if step % 4 == 0:
            mix.add(G)
    last = abs(G.value.item())
    mixture_mean = float(mix(torch.zeros(1600, 1)).mean())
    assert last > 0.5  # the last iterate is still as far out as it started
    assert abs(mixture_mean) < 0.1 * last


def test_a_run_samples_its_mixture_keeps_it_in_checkpoints_and_says_so(tmp_path):
    _, cfg = resolve_config("ring8", ["steps=30", "mixture=3", "mixture_every=7", "ema=0.9", "checkpoint_every=30",
                                      *TINY])
    result = train(cfg, out=tmp_path / "run", progress=False)
    assert result.summary["generator"] == ("uniform mixture of the last 3 snapshots of the EMA generator, "
                                           "one every 7 steps")
    tensors, _ = load_checkpoint(tmp_path / "run")
    assert {k.split(".")[2] for k in tensors if k.startswith("G_mix.members.")} == {"0", "1", "2"}
    exp = load_run(tmp_path / "run")
    assert len(exp.mixture) == 3 and exp.sampler is exp.mixture
    # The snapshots of steps 14, 21, 28 differ from one another and from the final EMA generator.
    members = [torch.cat([p.flatten() for p in m.parameters()]) for m in exp.mixture.members]
    final = torch.cat([p.flatten() for p in exp.G_ema.parameters()])
    assert not any(torch.equal(a, b) for a, b in [(members[0], members[1]), (members[1], members[2]),
                                                   (members[2], final)])
    # 1000 samples (chunks of 258 = 86·3, so i mod 3 holds across chunks): sample i from member i mod 3.
    x = exp.generate(1000, seed=5)
    z = exp.noise(1000, torch.Generator().manual_seed(5))
    with torch.no_grad():
        for j, m in enumerate(exp.mixture.members):
            assert torch.allclose(x[j::3], m(z[j::3]) * exp.scale, atol=1e-6)
    assert (tmp_path / "run" / "samples.png").is_file()


def test_an_interpolation_keeps_each_walk_in_one_member(tmp_path, monkeypatch):
    _, cfg = resolve_config("ring8", ["steps=10", "mixture=2", "mixture_every=5", *TINY])
    train(cfg, out=tmp_path / "run", progress=False)
    exp = load_run(tmp_path / "run")
    calls = []
    for j, m in enumerate(exp.mixture.members):
        monkeypatch.setattr(m, "forward", lambda z, j=j: (calls.append((j, z.shape[0])), torch.zeros(len(z), 2))[1])
    save_interpolation(exp, tmp_path / "walk.png", rows=3, steps=4)
    assert sorted(calls) == [(0, 8), (1, 4)]  # rows 0 and 2 walk in member 0, row 1 in member 1


def test_mixture_settings_that_would_do_nothing_are_refused_or_warned_about(tmp_path):
    with pytest.raises(ConfigError, match="mixture_every sets how often"):
        resolve_config("ring8", ["mixture_every=10"])[1].validate()
    # A recipe with a mixture, shortened below its first snapshot: it trains, says so, and names what sampled.
    _, cfg = resolve_config("ring8", ["mixture=2", "mixture_every=500", "steps=5", "ema=0", *TINY])
    with pytest.warns(UserWarning, match="so the last iterate samples; lower mixture_every"):
        result = train(cfg, out=tmp_path / "run", progress=False)
    assert result.summary["generator"] == "generator"


def test_a_translation_run_refuses_a_mixture():
    with pytest.raises(ConfigError, match="remove mixture"):
        resolve_config("pix2pix-edges2mnist", ["mixture=2"])[1].validate()


def test_without_a_mixture_the_summary_names_the_ema_generator(tmp_path):
    _, cfg = resolve_config("ring8", ["steps=5", *TINY])
    train(cfg, out=tmp_path / "run", progress=False)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["generator"] == "EMA generator"
