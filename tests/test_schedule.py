"""Gradient descent-ascent schedules and the regularizers they apply."""

import pytest
import torch
from torch import nn

from saddlepoint.games import get_game
from saddlepoint.nets import MLPCritic, with_spectral_norm
from saddlepoint.divergences import mmd2
from saddlepoint.penalties import Penalty, drift_penalty, gradient_penalty, mmd_to_data, r1_penalty
from saddlepoint.schedule import GDA, Contest, gda_step


class Point(nn.Module):
    """A 'generator' that outputs its one parameter x for every noise sample."""

    def __init__(self, x: float):
        super().__init__()
        self.x = nn.Parameter(torch.tensor([x]))

    def forward(self, z):
        return self.x.expand(z.shape[0], 1)


class Slope(nn.Module):
    """A linear 'critic' D(v) = y·v."""

    def __init__(self, y: float):
        super().__init__()
        self.y = nn.Parameter(torch.tensor([y]))
        self.calls = 0

    def forward(self, v):
        self.calls += 1
        return (self.y * v).squeeze(-1)


def _bilinear(x0, y0, mode, k=1, lr=0.1):
    """WGAN game with real data at 0: d_loss = y·x, g_loss = −y·x — the bilinear game min_x max_y −xy."""
    G, D = Point(x0), Slope(y0)
    c = Contest(G, D, torch.optim.SGD(G.parameters(), lr=lr), torch.optim.SGD(D.parameters(), lr=lr),
                get_game("wasserstein"))
    return c, GDA(mode, k), (lambda: torch.zeros(4, 1)), (lambda: torch.zeros(4, 1))


def test_the_drift_term_pulls_the_real_scores_to_zero_from_the_steps_own_scores():
    # Real data at 1, the generator at 0, D(v) = y·v: d_loss = E D(G(z)) − E D(x) = −y; drift ε·E D(x)² = ε y².
    calls = {}
    for eps in (0.0, 0.1):
        G, D = Point(0.0), Slope(2.0)
        pens = (Penalty("drift", drift_penalty, eps, on_scores=True),) if eps else ()
        c = Contest(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1),
                    get_game("wasserstein"), penalties=pens)
        logs = gda_step(GDA("alternating", 1), c, lambda: torch.ones(4, 1), lambda: torch.zeros(4, 1))
        calls[eps] = D.calls
    # ∂/∂y (−y + 0.1 y²) = −1 + 0.4 at y = 2: y' = 2 − 0.1·(−0.6)
    assert D.y.item() == pytest.approx(2.06) and float(logs["loss/drift"]) == pytest.approx(0.4)
    assert calls[0.1] == calls[0.0]  # on the step's own scores: no extra pass of the critic


def test_simultaneous_takes_both_gradients_at_the_same_point():
    c, sched, real, noise = _bilinear(1.0, 1.0, "simultaneous")
    gda_step(sched, c, real, noise)
    # d_loss = y x → y' = y − η x; g_loss = −y x → x' = x + η y, with the *old* y.
    assert c.critic.y.item() == pytest.approx(1.0 - 0.1 * 1.0)
    assert c.generator.x.item() == pytest.approx(1.0 + 0.1 * 1.0)


def test_alternating_generator_sees_the_updated_critic():
    c, sched, real, noise = _bilinear(1.0, 1.0, "alternating")
    gda_step(sched, c, real, noise)
    y_new = 1.0 - 0.1 * 1.0
    assert c.critic.y.item() == pytest.approx(y_new)
    assert c.generator.x.item() == pytest.approx(1.0 + 0.1 * y_new)


def test_generator_first_steps_the_generator_against_the_old_critic_then_the_critic_against_the_new_generator():
    c, sched, real, noise = _bilinear(1.0, 1.0, "generator-first")
    gda_step(sched, c, real, noise)
    x_new = 1.0 + 0.1 * 1.0  # g_loss = −y x at the old y
    assert c.generator.x.item() == pytest.approx(x_new)
    assert c.critic.y.item() == pytest.approx(1.0 - 0.1 * x_new)  # d_loss = y x at the new x
    assert c.critic_steps_taken == 1


def test_simultaneous_gda_spirals_out_and_alternating_stays_bounded():
    """On the bilinear game simultaneous GDA multiplies the radius by √(1+η²) each step;
    alternating GDA is symplectic-like and stays on a bounded orbit."""
    radii = {}
    for mode in ("simultaneous", "alternating", "generator-first"):
        c, sched, real, noise = _bilinear(1.0, 0.0, mode)
        for _ in range(300):
            gda_step(sched, c, real, noise)
        radii[mode] = (c.generator.x.item() ** 2 + c.critic.y.item() ** 2) ** 0.5
    assert radii["simultaneous"] > 3.0  # (1.01)^150 ≈ 4.4
    assert radii["alternating"] < 1.5
    assert radii["generator-first"] < 1.5


@pytest.mark.parametrize("mode", ["alternating", "simultaneous", "generator-first"])
@pytest.mark.parametrize("k", [1, 3])
def test_k_critic_steps_per_generator_step(mode, k):
    c, sched, real, noise = _bilinear(1.0, 1.0, mode, k=k)
    x_before = c.generator.x.item()
    for _ in range(4):
        gda_step(sched, c, real, noise)
    assert c.critic_steps_taken == 4 * k
    assert c.generator.x.item() != x_before


def test_schedule_rejects_bad_values():
    with pytest.raises(ValueError):
        GDA("sometimes")
    with pytest.raises(ValueError):
        GDA("alternating", 0)


def test_weight_clipping_holds_after_each_critic_step():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    D = MLPCritic(2, 32, 2)
    c = Contest(G, D, torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-1),
                get_game("wasserstein"), weight_clip=0.01)
    gda_step(GDA("alternating", 2), c, lambda: torch.randn(32, 2) + 3, lambda: torch.randn(32, 2))
    assert max(p.abs().max().item() for p in D.parameters()) <= 0.01 + 1e-9


class Linear1(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x @ self.w


def test_gradient_penalty_and_r1_closed_forms():
    # For D(x) = w·x, ‖∇D‖ = ‖w‖ everywhere: GP = (‖w‖ − 1)², R1 = ‖w‖².
    D = Linear1([3.0, 4.0])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(16.0)
    assert r1_penalty(D, real, fake).item() == pytest.approx(25.0)
    # It is differentiable in the critic's weights: d/dw (‖w‖−1)² = 2(‖w‖−1) w/‖w‖.
    (gw,) = torch.autograd.grad(gradient_penalty(D, real, fake), D.w)
    assert gw.tolist() == pytest.approx([2 * 4 * 3 / 5, 2 * 4 * 4 / 5])


def test_lazy_penalty_applies_every_kth_step_with_k_times_the_weight():
    pen = Penalty("r1", r1_penalty, weight=0.5, every=4)
    assert [pen.due(i) for i in range(8)] == [True, False, False, False, True, False, False, False]
    D = Linear1([3.0, 4.0])
    assert pen(D, torch.randn(4, 2), torch.randn(4, 2)).item() == pytest.approx(0.5 * 4 * 25.0)


def test_penalty_changes_the_critic_update():
    def run(weight):
        torch.manual_seed(0)
        G, D = nn.Linear(2, 2), MLPCritic(2, 16, 2)
        pens = (Penalty("gp", gradient_penalty, weight),) if weight else ()
        c = Contest(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1),
                    get_game("wasserstein"), pens)
        torch.manual_seed(1)
        gda_step(GDA(), c, lambda: torch.ones(8, 2), lambda: torch.zeros(8, 2))
        return torch.cat([p.detach().flatten() for p in D.parameters()])

    assert not torch.allclose(run(0.0), run(10.0))


def test_input_gradient_penalties_differentiate_the_penalized_critic():
    """A compiled critic's backward cannot be differentiated again: the penalties read ``penalized_critic`` (the
    same weights, uncompiled) and the game's scores still come from ``critic`` (``Counting``: below)."""
    torch.manual_seed(0)
    G, D = nn.Linear(2, 2), MLPCritic(2, 16, 2)
    scored, penalized = Counting(D), Counting(D)
    c = Contest(G, scored, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1),
                get_game("nonsaturating"), (Penalty("r1", r1_penalty, 1.0),), penalized_critic=penalized)
    logs = gda_step(GDA(), c, lambda: torch.ones(8, 2), lambda: torch.zeros(8, 2))
    assert penalized.calls == 1 and scored.calls >= 1
    assert logs["loss/r1"].item() > 0


@pytest.mark.slow
def test_compiled_players_train_with_r1(tmp_path):
    """compile=true with R1 (grid25's recipe) trains: the penalty goes through the uncompiled critic."""
    from saddlepoint import resolve_config, train

    _, cfg = resolve_config("grid25", ["steps=8", "compile=true", "penalty_every=1", "eval_every=0",
                                       "sample_every=0", "eval_samples=256"])
    result = train(cfg, recipe="grid25", out=tmp_path / "run", progress=False)
    assert result.summary["steps"] == 8


def test_mmd_term_is_gmmns_estimate_per_image_or_per_channel():
    torch.manual_seed(0)
    real, fake = torch.randn(16, 3, 4, 4), (torch.randn(16, 3, 4, 4) + 0.5).requires_grad_(True)
    whole, channels = mmd_to_data(2.0)(None, real, fake), mmd_to_data(2.0, per_channel=True)(None, real, fake)
    assert whole.item() == pytest.approx(mmd2(fake, real, (2.0, 4.0)).item())
    assert channels.item() == pytest.approx(sum(mmd2(fake[:, c], real[:, c], (2.0, 4.0)).item() for c in range(3)))
    assert channels.item() > whole.item() > 0
    (grad,) = torch.autograd.grad(channels, fake)
    assert grad.abs().sum() > 0  # the generator's batch gets the gradient (the real one is detached)


def test_mmd_term_sees_how_often_each_kind_of_sample_is_drawn():
    """Two clusters drawn half and half in the data: a batch that draws them 80/20 has every sample in the
    right place and still scores higher than one that draws them 50/50."""
    g = torch.Generator().manual_seed(0)

    def batch(p_first, n=400):
        first = torch.rand(n, generator=g) < p_first
        return torch.where(first[:, None], -2.0, 2.0) + 0.1 * torch.randn(n, 2, generator=g)

    term = mmd_to_data(1.0)
    real = batch(0.5)
    assert term(None, real, batch(0.8)).item() > 10 * abs(term(None, real, batch(0.5)).item())


def test_mmd_term_changes_the_generator_update():
    def run(weight):
        torch.manual_seed(0)
        G, D = nn.Linear(2, 2), MLPCritic(2, 16, 2)
        pens = (Penalty("mmd", mmd_to_data(1.0), weight),) if weight else ()
        c = Contest(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1),
                    get_game("nonsaturating"), g_penalties=pens)
        torch.manual_seed(1)
        logs = gda_step(GDA(), c, lambda: torch.ones(8, 2), lambda: torch.randn(8, 2))
        return torch.cat([p.detach().flatten() for p in G.parameters()]), logs

    (off, _), (on, logs) = run(0.0), run(10.0)
    assert "loss/mmd" in logs and logs["loss/mmd"] > 0
    assert not torch.allclose(off, on)


def test_spectral_norm_bounds_each_layer():
    torch.manual_seed(0)
    D = with_spectral_norm(MLPCritic(2, 64, 3))
    D.train()
    for _ in range(30):  # power iterations run on each training-mode forward
        D(torch.randn(8, 2))
    D.eval()
    for m in D.modules():
        if isinstance(m, nn.Linear):
            assert torch.linalg.matrix_norm(m.weight, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_joint_critic_pass_matches_separate_passes():
    from saddlepoint.schedule import critic_scores

    torch.manual_seed(0)
    D = MLPCritic(2, 16, 2)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    r, f = critic_scores(D, real, fake)
    assert torch.allclose(r, D(real), atol=1e-6) and torch.allclose(f, D(fake), atol=1e-6)
    # A packed critic: 8 samples → 4 scores on each side.
    P = MLPCritic(2, 16, 2, pack=2)
    r, f = critic_scores(P, real, fake)
    assert r.shape == (4,) and torch.allclose(f, P(fake), atol=1e-6)
    # With batch norm in training mode the halves must not share statistics.
    B = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1), nn.Flatten(0))
    r, f = critic_scores(B, real, fake + 5)
    B2 = nn.Sequential(*B)  # same modules
    assert torch.allclose(f, B2(fake + 5), atol=1e-6)


class Counting(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, z):
        self.calls += 1
        return self.net(z)


def _contest(seed=0, **kw):
    torch.manual_seed(seed)
    G = Counting(nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)))
    D = MLPCritic(2, 16, 2)
    return Contest(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1),
                   get_game("nonsaturating"), **kw)


@pytest.mark.parametrize("k", [1, 3])
def test_reusing_the_critic_steps_fake_batch_saves_a_forward_and_changes_nothing_else(k):
    z = torch.randn(8, 2)  # the same noise every draw, so both forms see the same G(z)
    real = torch.randn(8, 2) + 2
    runs = {}
    for reuse in (True, False):
        c = _contest()
        gda_step(GDA("alternating", k, reuse_fake=reuse), c, lambda: real, lambda: z)
        runs[reuse] = (c.generator.calls, torch.cat([p.detach().flatten() for p in c.generator.parameters()]))
    assert runs[True][0] == k and runs[False][0] == k + 1
    assert torch.allclose(runs[True][1], runs[False][1], atol=1e-6)


def test_bf16_autocast_runs_the_players_in_bf16_and_the_losses_in_fp32():
    c = _contest(precision=torch.bfloat16)
    seen = []
    c.critic.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    logs = gda_step(GDA(), c, lambda: torch.randn(8, 2), lambda: torch.randn(8, 2))
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in logs.values())
    assert all(p.dtype == torch.float32 for p in c.critic.parameters())  # master weights stay fp32


def test_optimizer_key_builds_sgd_with_momentum_and_refuses_what_it_would_ignore():
    import warnings

    from saddlepoint.config import ConfigError, resolve_config
    from saddlepoint.families.base import adam

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, cfg = resolve_config("grid25", ["optimizer=sgd", "momentum=0.9"])
    assert any("tunes Adam's beta1 and beta2" in str(w.message) for w in caught)  # the recipe's betas are dropped
    opt = adam([nn.Parameter(torch.zeros(2))], 0.1, cfg)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    _, cfg = resolve_config("grid25", [])
    assert isinstance(adam([nn.Parameter(torch.zeros(2))], 0.1, cfg), torch.optim.Adam)
    for asked, says in ((["optimizer=sgd", "beta2=0.9"], "beta2 is Adam's"), (["momentum=0.5"], "momentum is SGD's"),
                        (["schedule=generator-first", "reuse_fake=false"], "applies to schedule=alternating")):
        with pytest.raises(ConfigError, match=says):
            resolve_config("grid25", asked)
    with pytest.raises(ConfigError, match="mmdgan_optimizer"):
        resolve_config("mnist-mmdgan", ["optimizer=sgd"])
