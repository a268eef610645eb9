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

Its last line is one JSON object (``images_per_s``, ``baseline_images_per_s``, ``speedup``,
``bf16_ceiling_fraction``, ...) for mnist-dcgan64 at batch 64.  ``--quick`` takes a minute or two.
``--quality S`` also trains mnist-dcgan for S steps in float32 and in the default precision over
``--seeds`` seeds and reports the FID (MNIST-classifier features) of each, with the seed-to-seed spread.

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


def matmul_ceiling(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """Best observed GFLOP/s of an n×n by n×n product in ``dtype``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
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


def textbook_step(image_size: int, batch: int, z_dim: int = 100, base: int = 64):
    """pytorch/examples' DCGAN loop in float32 with saddlepoint's DCGAN players (same architecture)."""
    from saddlepoint.nets import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    G, D = DCGANGenerator(z_dim, 1, image_size, base), DCGANDiscriminator(1, image_size, base)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, image_size, image_size) * 2 - 1
    ones, zeros = torch.ones(batch), torch.zeros(batch)

    def step():
        z = torch.randn(batch, z_dim)
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


def seconds_per_step(step, warmup: int, reps: int) -> float:
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(reps):
        step()
    return (time.perf_counter() - t) / reps


def flops_per_step(step) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def quality(steps: int, seeds: int, threads: int, precision: str) -> list[float]:
    """FIDs (MNIST-classifier features, 10k samples) of mnist-dcgan after ``steps`` steps, one per seed."""
    from saddlepoint import resolve_config, train
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.train import load_run

    fids = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            _, cfg = resolve_config("mnist-dcgan", [f"steps={steps}", f"seed={seed}", f"precision={precision}",
                                                    f"threads={threads}", "eval_every=0", "sample_every=0"])
            run = train(cfg, recipe="mnist-dcgan", out=Path(tmp) / f"{precision}-{seed}", progress=False).run_dir
            fids.append(evaluate_images(load_run(run, load_data=True), ["fid"], n=10_000)["fid"])
    return fids


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller sweep (a minute or two)")
    p.add_argument("--quality", type=int, default=0, metavar="STEPS",
                   help="also compare the FID of the default precision with float32 after STEPS steps")
    p.add_argument("--seeds", type=int, default=3, help="seeds per precision for --quality")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    reps = 3 if args.quick else 10
    tmp = Path(tempfile.mkdtemp(prefix="throughput-"))
    data = _images_npz(tmp)

    ceil32, ceil16 = matmul_ceiling(torch.float32), matmul_ceiling(torch.bfloat16)
    from saddlepoint.train import cpu_has_amx

    amx = cpu_has_amx()
    from saddlepoint.precision import machine_id

    print(f"machine: {machine_id(torch.device('cpu'))}, threads {args.threads}, AMX tiles: {'yes' if amx else 'no'}")
    print(f"matmul ceiling (2048²): float32 {ceil32:.0f} GFLOP/s, bfloat16 {ceil16:.0f} GFLOP/s\n")

    rows, headline = [], {}
    for recipe, size in (("mnist-dcgan64", 64), ("mnist-dcgan", 28)):
        batch = 64
        step, exp = saddlepoint_step(recipe, [f"batch_size={batch}"], data)
        flops = flops_per_step(step)
        sec = seconds_per_step(step, 2, reps)
        base = textbook_step(size, batch)
        base_flops = flops_per_step(base)
        base_sec = seconds_per_step(base, 2, reps)
        achieved = flops / sec / 1e9
        row = {"recipe": recipe, "image_size": size, "batch": batch, "precision": str(exp.precision).split(".")[-1],
               "images_per_s": round(batch / sec, 1), "baseline_images_per_s": round(batch / base_sec, 1),
               "speedup": round(base_sec / sec, 2), "gflop_per_step": round(flops / 1e9, 1),
               "baseline_gflop_per_step": round(base_flops / 1e9, 1), "achieved_gflops": round(achieved, 1),
               "bf16_ceiling_fraction": round(achieved / ceil16, 3), "fp32_ceiling_gflops": round(ceil32, 1),
               "bf16_ceiling_gflops": round(ceil16, 1), "best_ceiling_fraction": round(achieved / max(ceil32, ceil16), 3),
               "amx": amx, "threads": args.threads}
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
    print("\nPublished (../shared/REFERENCES.md §6, same machine class, 2 threads): textbook fp32 ≈ 42 img/s, "
          "bf16 autocast ≈ 55, bf16 ceiling for the step ≈ 220 img/s; goal ≥ 2.5× textbook and ≥ 40 % of the "
          "bf16 ceiling.\n")

    batches = (16, 64, 256) if args.quick else (16, 32, 64, 128, 256)
    sizes = (28, 64) if args.quick else (28, 32, 64)
    print("saddlepoint step, images/s (mnist-dcgan players, 64 base filters, default precision):\n")
    print("| batch | " + " | ".join(f"{s} px" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for b in batches:
        cells = []
        for s in sizes:
            step, _ = saddlepoint_step("mnist-dcgan", [f"batch_size={b}", f"image_size={s}"], data)
            cells.append(f"{b / seconds_per_step(step, 1, max(2, reps // 2)):.0f}")
        print(f"| {b} | " + " | ".join(cells) + " |")

    if args.quality:
        fp32 = quality(args.quality, args.seeds, args.threads, "fp32")
        auto = quality(args.quality, args.seeds, args.threads, "auto")
        sd = statistics.stdev(fp32) if len(fp32) > 1 else float("nan")
        print(f"\nFID after {args.quality} mnist-dcgan steps (MNIST classifier, 10k samples), seeds 0..{args.seeds - 1}:")
        print(f"  fp32: {', '.join(f'{f:.2f}' for f in fp32)} (mean {statistics.mean(fp32):.2f}, sd {sd:.2f})")
        print(f"  auto ({headline['precision']}): {', '.join(f'{f:.2f}' for f in auto)} (mean {statistics.mean(auto):.2f})")
        headline = {**headline, "fid_fp32": fp32, "fid_default": auto, "quality_steps": args.quality}
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
