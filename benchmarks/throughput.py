"""Training-step throughput: saddlepoint's step against the textbook loop, FLOPs and the hardware ceilings.

For ``mnist-dcgan64`` (the pytorch/examples DCGAN: 64×64, 64 base filters, batch 64) and ``mnist-dcgan``
(28 px) it measures, in one run so that the ratios hold on a noisy machine:

* images/s of saddlepoint's full training step (critic step, generator step, EMA when configured) at
  the recipe's defaults (``precision=auto``, channels-last, fused Adam, one generator forward);
* images/s of the textbook float32 loop with the same players and batch: D on real, D on the detached
  fake, D on the fake again for G (three critic forwards), BCE losses, default Adam;
* FLOPs per step (``torch.utils.flop_counter``), the achieved GFLOP/s, and the dense matmul ceilings in
  float32 and bfloat16 measured here, so utilization is a ratio;
* a table over batch size and resolution for saddlepoint's step.

The two steps are timed in alternation (median of each), so a machine whose speed drifts slows both alike.
``--device cuda`` runs both loops on a GPU (the ceilings there are float32 without TF32 and bfloat16), and
every row names the device and the machine it ran on.

Its last line is one JSON object (``images_per_s``, ``baseline_images_per_s``, ``speedup``,
``bf16_ceiling_fraction``, ...) for mnist-dcgan64 at batch 64.  ``--quick`` takes a minute or two.
``--quality S`` also trains mnist-dcgan for S steps in float32 and in bfloat16 over ``--seeds`` seeds and
reports the FID (MNIST-classifier features) of each, with the seed-to-seed spread and the per-seed difference.

    python benchmarks/throughput.py --quick
    python benchmarks/throughput.py --threads 2 --quality 1500 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_ceiling(dtype: torch.dtype, n: int = 2048, reps: int = 10, device: torch.device | None = None) -> float:
    """Best observed GFLOP/s of an n×n by n×n product in ``dtype`` on ``device`` (CPU by default)."""
    device = device or torch.device("cpu")
    if device.type == "cuda":
        n *= 4  # a GPU needs a larger product to be busy
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def _images_npz(folder: Path) -> Path:
    """Random 28×28 digits-like bytes: throughput does not depend on the pictures, and needs no download."""
    path = folder / "images.npz"
    g = np.random.default_rng(0)
    np.savez(path, images=g.integers(0, 256, size=(2048, 28, 28), dtype=np.uint8))
    return path


def saddlepoint_step(recipe: str, overrides: list[str], data: Path):
    """(one full training step of the recipe, the experiment)."""
    from saddlepoint import resolve_config
    from saddlepoint.schedule import gda_step
    from saddlepoint.train import Experiment

    _, cfg = resolve_config(recipe, [f"data={data}", *overrides])
    exp = Experiment(cfg)

    def step():
        gda_step(exp.schedule, exp.contest, exp.sample_real, exp.sample_noise)
        exp.update_ema()

    return step, exp


def textbook_step(image_size: int, batch: int, z_dim: int = 100, base: int = 64, device: str = "cpu"):
    """pytorch/examples' DCGAN loop in float32 with saddlepoint's DCGAN players (same architecture)."""
    from saddlepoint.nets import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    G, D = DCGANGenerator(z_dim, 1, image_size, base).to(device), DCGANDiscriminator(1, image_size, base).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, image_size, image_size, device=device) * 2 - 1
    ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)

    def step():
        z = torch.randn(batch, z_dim, device=device)
        fake = G(z)
        opt_d.zero_grad()
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)  # D on real, D on detached fake
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(D(fake), ones)  # D on the fake again, for G
        loss_g.backward()
        opt_g.step()

    return step


def seconds_per_step(step, warmup: int, reps: int, device: torch.device | None = None) -> float:
    device = device or torch.device("cpu")
    for _ in range(warmup):
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        step()
    _sync(device)
    return (time.perf_counter() - t) / reps


def interleaved(step, base, reps: int, device: torch.device) -> tuple[float, float]:
    """Median seconds per call of ``step`` and of ``base``, timed in alternation (two warm-up calls each), so that
    a machine whose speed drifts (a shared or throttled CPU) slows both alike and their ratio holds."""
    for _ in range(2):
        step(), base()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for fn, out in ((step, times[0]), (base, times[1])):
            _sync(device)
            t = time.perf_counter()
            fn()
            _sync(device)
            out.append(time.perf_counter() - t)
    return statistics.median(times[0]), statistics.median(times[1])


def flops_per_step(step) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def quality(steps: int, seeds: int, threads: int, precision: str, device: str = "cpu") -> list[float]:
    """FIDs (MNIST-classifier features, 10k samples) of mnist-dcgan after ``steps`` steps, one per seed."""
    from saddlepoint import resolve_config, train
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.train import load_run

    fids = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            _, cfg = resolve_config("mnist-dcgan", [f"steps={steps}", f"seed={seed}", f"precision={precision}",
                                                    f"threads={threads}", f"device={device}", "eval_every=0",
                                                    "sample_every=0"])
            run = train(cfg, recipe="mnist-dcgan", out=Path(tmp) / f"{precision}-{seed}", progress=False).run_dir
            fids.append(evaluate_images(load_run(run, load_data=True), ["fid"], n=10_000)["fid"])
    return fids


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N: where both loops run")
    p.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller sweep (a minute or two)")
    p.add_argument("--quality", type=int, default=0, metavar="STEPS",
                   help="also compare the FID of bfloat16 with float32 training after STEPS steps")
    p.add_argument("--seeds", type=int, default=3, help="seeds per precision for --quality")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    reps = 5 if args.quick else 12
    tmp = Path(tempfile.mkdtemp(prefix="throughput-"))
    data = _images_npz(tmp)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error(f"--device {args.device}: this PyTorch sees no CUDA device; use --device cpu")
    ceil32, ceil16 = matmul_ceiling(torch.float32, device=device), matmul_ceiling(torch.bfloat16, device=device)
    from saddlepoint.precision import machine_id
    from saddlepoint.train import cpu_has_amx

    amx = cpu_has_amx() if device.type == "cpu" else None
    where = machine_id(device)
    if device.type == "cpu":
        print(f"device: cpu — {where}, threads {args.threads}, AMX tiles: {'yes' if amx else 'no'}")
    else:
        print(f"device: {device} — {where} (the CPU: {machine_id(torch.device('cpu'))})")
    print(f"matmul ceiling ({'8192' if device.type == 'cuda' else '2048'}²): float32 {ceil32:.0f} GFLOP/s, "
          f"bfloat16 {ceil16:.0f} GFLOP/s\n")

    rows, headline = [], {}
    for recipe, size in (("mnist-dcgan64", 64), ("mnist-dcgan", 28)):
        batch = 64
        step, exp = saddlepoint_step(recipe, [f"batch_size={batch}", f"device={args.device}"], data)
        flops = flops_per_step(step)
        base = textbook_step(size, batch, device=args.device)
        base_flops = flops_per_step(base)
        sec, base_sec = interleaved(step, base, reps, device)
        achieved = flops / sec / 1e9
        row = {"recipe": recipe, "image_size": size, "batch": batch, "precision": str(exp.precision).split(".")[-1],
               "images_per_s": round(batch / sec, 1), "baseline_images_per_s": round(batch / base_sec, 1),
               "speedup": round(base_sec / sec, 2), "gflop_per_step": round(flops / 1e9, 1),
               "baseline_gflop_per_step": round(base_flops / 1e9, 1), "achieved_gflops": round(achieved, 1),
               "bf16_ceiling_fraction": round(achieved / ceil16, 3), "fp32_ceiling_gflops": round(ceil32, 1),
               "bf16_ceiling_gflops": round(ceil16, 1), "best_ceiling_fraction": round(achieved / max(ceil32, ceil16), 3),
               "amx": amx, "threads": args.threads, "device": str(device), "machine": where}
        rows.append(row)
        if recipe == "mnist-dcgan64":
            headline = row
    print("| recipe | px | batch | precision | saddlepoint img/s | textbook fp32 img/s | speedup | GFLOP/step "
          "(textbook) | achieved GFLOP/s | of bf16 ceiling | of the higher ceiling |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['recipe']} | {r['image_size']} | {r['batch']} | {r['precision']} | {r['images_per_s']} | "
              f"{r['baseline_images_per_s']} | {r['speedup']}× | {r['gflop_per_step']} ({r['baseline_gflop_per_step']}) | "
              f"{r['achieved_gflops']} | {100 * r['bf16_ceiling_fraction']:.0f} % | "
              f"{100 * r['best_ceiling_fraction']:.0f} % |")
    limit = 64 * ceil16 / headline["gflop_per_step"]
    print(f"\nThis step at the bf16 matmul ceiling: {limit:.0f} img/s.  Published (../shared/REFERENCES.md §6, "
          "2 threads): AMX Xeon textbook fp32 ≈ 42 img/s, bf16 autocast ≈ 55; Zen 5 EPYC textbook ≈ 76 img/s, "
          "bf16 ceiling 660 GFLOP/s.  Goal: ≥ 2.5× the textbook loop and ≥ 45 % of the bf16 ceiling.\n")

    batches = (16, 64, 256) if args.quick else (16, 32, 64, 128, 256)
    sizes = (28, 64) if args.quick else (28, 32, 64)
    print("saddlepoint step, images/s (mnist-dcgan players, 64 base filters, default precision):\n")
    print("| batch | " + " | ".join(f"{s} px" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for b in batches:
        cells = []
        for s in sizes:
            step, _ = saddlepoint_step("mnist-dcgan", [f"batch_size={b}", f"image_size={s}",
                                                       f"device={args.device}"], data)
            cells.append(f"{b / seconds_per_step(step, 1, max(2, reps // 2), device):.0f}")
        print(f"| {b} | " + " | ".join(cells) + " |")

    if args.quality:
        fp32 = quality(args.quality, args.seeds, args.threads, "fp32", args.device)
        bf16 = quality(args.quality, args.seeds, args.threads, "bf16", args.device)
        print(f"\nFID after {args.quality} mnist-dcgan steps (MNIST classifier, 10k samples), seeds 0..{args.seeds - 1}:")
        for name, fids in (("fp32", fp32), ("bf16", bf16)):
            sd = statistics.stdev(fids) if len(fids) > 1 else float("nan")
            print(f"  {name}: {', '.join(f'{f:.2f}' for f in fids)} (mean {statistics.mean(fids):.2f}, sd {sd:.2f})")
        diffs = [b - a for a, b in zip(fp32, bf16)]
        print(f"  bf16 − fp32 per seed: {', '.join(f'{d:+.2f}' for d in diffs)} (mean {statistics.mean(diffs):+.2f})")
        headline = {**headline, "fid_fp32": fp32, "fid_bf16": bf16, "quality_steps": args.quality}
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
