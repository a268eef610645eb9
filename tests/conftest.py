import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

# The tests use small tensors: one thread is as fast, and it avoids OpenMP spin-waiting stalls when the
# machine's cores are busy with other work.
torch.set_num_threads(1)

# precision=auto caches what it measured; the tests keep their answers out of the data home (../shared/data).
os.environ.setdefault("SADDLEPOINT_CACHE", tempfile.mkdtemp(prefix="saddlepoint-test-cache-"))


@pytest.fixture
def domains(tmp_path):
    """trainA: dark squares, trainB: bright squares (and testA/testB), grey PNGs of different sizes."""
    rng = np.random.default_rng(0)
    root = tmp_path / "squares2light"
    for split, n in (("train", 24), ("test", 6)):
        for domain, level, bg in (("A", 90, 0), ("B", 255, 40)):
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True)
            for i in range(n + (3 if domain == "B" else 0)):  # the domains need not be the same size
                img = np.full((32, 32), bg, np.uint8)
                r, c = rng.integers(2, 20, size=2)
                img[r:r + 10, c:c + 10] = level
                Image.fromarray(img).save(folder / f"{i}.png")
    return root


@pytest.fixture
def tiny_npz(tmp_path):
    """64 grey 28×28 images of a bright square at a random place, labelled 0..3."""
    import numpy as np

    g = np.random.default_rng(0)
    images = np.zeros((64, 28, 28), dtype=np.uint8)
    for i in range(64):  # a bright square at a random place: a toy image set with structure
        r, c = g.integers(0, 20, size=2)
        images[i, r:r + 8, c:c + 8] = 255
    path = tmp_path / "squares.npz"
    np.savez(path, images=images, labels=np.arange(64) % 4)
    return path


def mnist_or_skip(train: bool = False):
    """MNIST's train or test split from the data home, or a skip that says it is missing there (the suite runs
    offline, on machines without ../shared)."""
    from saddlepoint.data.images import DataError, load_mnist

    try:
        return load_mnist(train=train, download=False)
    except DataError as e:
        pytest.skip(f"MNIST not in the data home: {e}")


def crash_after(run_dir, step: int) -> None:
    """Make a finished run look as if it crashed right after its checkpoint at ``step``: the later checkpoints
    and the summary are gone, ``latest`` points at ``step``."""
    import shutil
    from pathlib import Path

    ck = Path(run_dir) / "checkpoints"
    for d in ck.glob("step-*"):
        if int(d.name[len("step-"):]) > step:
            shutil.rmtree(d)
    (ck / "latest").write_text(f"step-{step:08d}\n")
    (Path(run_dir) / "summary.json").unlink(missing_ok=True)


def resumed_equals_whole(cfg, tmp_path, crash_at: int):
    """Train ``cfg`` twice, crash the second run right after its checkpoint at ``crash_at`` and resume it; assert
    that both end on the same tensors (weights, optimizer moments, random streams).  Returns (the uninterrupted
    run's result, its final checkpoint tensors)."""
    import torch

    from saddlepoint import train
    from saddlepoint.runs import load_checkpoint
    from saddlepoint.trainer import resume

    whole = train(cfg, out=tmp_path / "whole", progress=False)
    cut = train(cfg, out=tmp_path / "cut", progress=False)
    crash_after(cut.run_dir, crash_at)
    resume(cut.run_dir, progress=False)
    a, b = load_checkpoint(whole.run_dir)[0], load_checkpoint(cut.run_dir)[0]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    return whole, a

# ---- servers and the browser (the lab's and the runs page's tests) ----------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses of sockets listening on ``port`` (Linux: /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":
                found.add(addr)
    return found


@pytest.fixture(scope="module")
def browser():
    required = os.environ.get("SADDLEPOINT_REQUIRE_BROWSER") == "1"  # CI: the browser tests must run
    if CHROMIUM is None:
        (pytest.fail if required else pytest.skip)("no Chromium: `apt-get install chromium` (.ci/run installs it)")
    try:
        from playwright import sync_api
    except ImportError:
        (pytest.fail if required else pytest.skip)("no Playwright: pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()
