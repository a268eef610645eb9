"""The trainer's optimizers (saddlepoint.optim): torch's, bit for bit, without importing torch._dynamo."""

import subprocess
import sys

import pytest
import torch

from saddlepoint import optim
from saddlepoint.schedule import _descend


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _train(make, steps=5, scaler=None, resume_at=None):
    net = _net()
    opt = make(net.parameters())
    g = torch.Generator().manual_seed(1)
    for t in range(steps):
        if t == resume_at:  # a resume: a fresh optimizer given the state dict
            sd = opt.state_dict()
            opt = make(net.parameters())
            opt.load_state_dict(sd)
        _descend(net(torch.randn(8, 6, generator=g)).pow(2).mean(), opt, scaler)  # the trainer's step
    return [p.detach().clone() for p in net.parameters()], opt.state_dict()


CASES = {
    "adam fused": (lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.5, 0.9), fused=True),
                   lambda p: optim.Adam(p, lr=1e-2, betas=(0.5, 0.9), fused=True)),
    "adam foreach": (lambda p: torch.optim.Adam(p, lr=1e-2, foreach=True),
                     lambda p: optim.Adam(p, lr=1e-2, foreach=True)),
    "sgd momentum": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, foreach=True),
                     lambda p: optim.SGD(p, lr=0.1, momentum=0.9, foreach=True)),
    "rmsprop": (lambda p: torch.optim.RMSprop(p, lr=1e-3), lambda p: optim.RMSprop(p, lr=1e-3)),
    "adamw": (lambda p: torch.optim.AdamW(p, lr=2e-3, weight_decay=1e-2),
              lambda p: optim.AdamW(p, lr=2e-3, weight_decay=1e-2)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_weights_and_state_as_torch(case):
    theirs, ours = CASES[case]
    w_t, sd_t = _train(theirs, resume_at=3)
    w_o, sd_o = _train(ours, resume_at=3)
    assert all(torch.equal(a, b) for a, b in zip(w_t, w_o))
    assert sd_t["param_groups"] == sd_o["param_groups"]
    assert sd_t["state"].keys() == sd_o["state"].keys()
    for i in sd_t["state"]:
        assert all(torch.equal(torch.as_tensor(sd_t["state"][i][k]), torch.as_tensor(sd_o["state"][i][k]))
                   for k in sd_t["state"][i])
    w_short, _ = _train(ours, steps=4)  # the comparison can tell runs apart
    assert not all(torch.equal(a, b) for a, b in zip(w_o, w_short))


def test_loss_scaling_steps_as_torch():
    w_t, _ = _train(CASES["adam fused"][0], scaler=torch.amp.GradScaler("cpu", init_scale=2.0 ** 10))
    w_o, _ = _train(CASES["adam fused"][1], scaler=torch.amp.GradScaler("cpu", init_scale=2.0 ** 10))
    assert all(torch.equal(a, b) for a, b in zip(w_t, w_o))


def test_step_runs_with_gradients_off_and_keeps_torch_hooks():
    net = _net()
    opt = optim.Adam(net.parameters(), lr=1e-2, foreach=True)  # an in-place update of a leaf fails with them on
    seen = []
    opt.register_step_post_hook(lambda *a: seen.append("post"))
    net(torch.ones(1, 6)).sum().backward()
    with torch.enable_grad():
        opt.step()
    assert seen == ["post"] and torch.is_grad_enabled()
    flags = []

    def closure():
        flags.append(torch.is_grad_enabled())
        return net(torch.ones(1, 6)).sum()

    opt.step(closure)  # Adam evaluates a closure with gradients on, as torch's step does
    assert flags == [True]


def test_no_compiler_imported():
    code = ("import sys, torch\nfrom saddlepoint import optim\nnet = torch.nn.Linear(3, 1)\n"
            "for cls in (optim.Adam, optim.AdamW, optim.SGD, optim.RMSprop):\n"
            "    opt = cls(net.parameters(), lr=0.1)\n    opt.zero_grad()\n    net(torch.ones(2, 3)).sum().backward()\n"
            "    opt.step()\n    opt.load_state_dict(opt.state_dict())\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    control = subprocess.run([sys.executable, "-c", code.replace("optim.", "torch.optim.")], capture_output=True,
                             text=True, check=True).stdout
    assert control.strip() == "True"  # torch's own classes do import it: the check can fail


def test_the_package_makes_its_optimizers_here():
    import re
    from pathlib import Path

    import saddlepoint

    root = Path(saddlepoint.__file__).parent
    direct = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py") if p.name != "optim.py"
              for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"torch\.optim\.[A-Z]\w*\(", line)]
    assert direct == [], f"use saddlepoint.optim's classes (torch's import torch._dynamo): {direct}"
