"""A checkpoint is each part's state by name (saddlepoint.state): the names, the round trip, a mismatch."""

import pytest
import torch
from torch import nn

from saddlepoint.state import (GeneratorState, OptimizerState, StateMismatch, Value, Whole, gather_state,
                               restore_state)


def _parts(seed: int):
    torch.manual_seed(seed)
    net = nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    counter = {"n": seed}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** (seed + 1))
    stream = torch.Generator().manual_seed(seed)
    parts = {"G": net, "opt_g": OptimizerState(opt), "scaler_g": Whole(scaler), "rng.data": GeneratorState(stream),
             "critic_steps_taken": Value(lambda: counter["n"], lambda v: counter.__setitem__("n", int(v)))}
    return parts, net, opt, counter, scaler, stream


def test_names_are_those_checkpoints_always_had():
    parts, *_ = _parts(1)
    tensors, meta = gather_state(parts)
    assert {"G.weight", "G.bias", "opt_g.state.0.exp_avg", "opt_g.state.1.step", "rng.data"} <= set(tensors)
    assert meta["critic_steps_taken"] == 1 and "opt_g.param_groups" in meta and meta["scaler_g"]["scale"] == 4.0


def test_every_part_gets_back_what_it_saved():
    saved, net, opt, counter, scaler, stream = _parts(1)
    tensors, meta = gather_state(saved)
    fresh, net2, opt2, counter2, scaler2, stream2 = _parts(2)
    assert not torch.equal(net.weight, net2.weight)
    restore_state(fresh, tensors, meta)
    assert torch.equal(net.weight, net2.weight) and counter2["n"] == 1 and scaler2.get_scale() == 4.0
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], opt2.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.rand(3, generator=stream), torch.rand(3, generator=stream2))


def test_a_network_of_another_shape_says_so_in_one_line():
    tensors, meta = gather_state({"G": nn.Linear(3, 2)})
    with pytest.raises(StateMismatch, match="does not fit this config's G architecture"):
        restore_state({"G": nn.Linear(3, 5)}, tensors, meta)


def test_a_run_written_before_the_families_still_samples_evaluates_and_resumes(tmp_path):
    """tests/data/run-dc51e5b-grid25: 3 of 6 steps of a tiny grid25 run with an EMA and a mixture, written by the
    code before the trainer and the families (commit dc51e5b), checkpoint and all."""
    import shutil
    from pathlib import Path

    from saddlepoint.cli import main
    from saddlepoint.runs import load_checkpoint
    from saddlepoint.trainer import build, restore, resume, run_config

    run = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "run-dc51e5b-grid25", run)
    tensors, meta = load_checkpoint(run)
    model = build(run_config(run))
    restore(model, tensors, meta)  # every part finds its state under the names the old code wrote
    assert model.step == 3 and model.contest.critic_steps_taken == 3 and len(model.mixture) == 1
    for name, part in (("G", model.G), ("D", model.D), ("G_ema", model.G_ema)):
        for k, v in part.state_dict().items():
            assert torch.equal(v, tensors[f"{name}.{k}"]), f"{name}.{k}"
    assert torch.equal(model.contest.opt_g.state_dict()["state"][0]["exp_avg"], tensors["opt_g.state.0.exp_avg"])
    assert main(["sample", str(run), "-n", "16", "-o", str(tmp_path / "s.png")]) == 0
    assert main(["evaluate", str(run)]) == 0
    assert resume(run, progress=False).summary["steps"] == 6
