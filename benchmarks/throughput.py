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
``--quality S`` also trains mnist-dcgan for S steps in float32 and in bfloat16 over ``--seeds`` seeds (``--jobs``
``saddlepoint train`` processes at a time) and reports the FID (MNIST-classifier features, 10,000 samples) at every
``--every``-th step: each precision's mean and spread over seeds and the paired bf16 − fp32 difference.

    python benchmarks/throughput.py --quick
    python benchmarks/throughput.py --quick --quality 5000 --seeds 4 --every 500 --jobs 2 --quality-threads 1 \
        --runs runs/bf16-quality --figure benchmarks/figures/bf16-quality.png
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
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


def quality_runs(steps: int, seeds: int, threads: int, device: str, jobs: int, every: int,
                 root: Path) -> dict[str, list[Path]]:
    """mnist-dcgan trained ``steps`` steps in float32 and in bfloat16 for seeds 0..seeds-1, each a ``saddlepoint
    train`` process as a user runs it, ``jobs`` at a time, keeping every ``every``-th checkpoint under ``root``.  A
    run that already holds its last checkpoint is kept and one that holds an earlier one resumed, so an interrupted
    comparison picks up where it stopped."""
    from concurrent.futures import ThreadPoolExecutor

    from saddlepoint.runs import kept_steps
    from saddlepoint.trainer import run_config

    runs = {p: [root / f"{p}-{s}" for s in range(seeds)] for p in ("fp32", "bf16")}
    todo = []
    for seed in range(seeds):  # fp32 and bf16 of a seed side by side: the pool stays balanced
        for p in ("fp32", "bf16"):
            run = runs[p][seed]
            kept = kept_steps(run) if run.is_dir() else []
            if kept:  # a run of another comparison would answer another question
                cfg = run_config(run)
                if (cfg.steps, cfg.seed, cfg.precision) != (steps, seed, p):
                    sys.exit(f"{run} was trained for steps={cfg.steps} seed={cfg.seed} precision={cfg.precision}, "
                             f"not {steps} / {seed} / {p}; choose another --runs folder")
            if steps in kept:
                print(f"  {run.name}: trained already, kept")
                continue
            if kept:
                cmd = ["train", "--resume", str(run)]
            elif run.exists() and any(run.iterdir()):
                sys.exit(f"{run} holds no checkpoint to resume from; remove it or choose another --runs folder")
            else:
                cmd = ["train", "mnist-dcgan", f"steps={steps}", f"seed={seed}", f"precision={p}",
                       f"threads={threads}", f"device={device}", "eval_every=0", "sample_every=0",
                       f"checkpoint_every={every or steps}", "keep_checkpoints=0", "--out", str(run)]
            todo.append([sys.executable, "-m", "saddlepoint", *cmd, "--quiet"])

    def one(cmd: list[str]) -> None:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"  {Path(cmd[-2]).name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))
    return runs


def fid_by_step(run: Path) -> dict[int, float]:
    """The FID (MNIST-classifier features, 10k samples against the test set) at each kept checkpoint of ``run``, as
    ``saddlepoint evaluate RUN --step N --metrics fid --samples 10000`` writes it into ``eval-step-N.json`` (read back
    where an earlier pass left it)."""
    from saddlepoint.cli import main as cli
    from saddlepoint.runs import kept_steps

    fids = {}
    for step in kept_steps(run):
        path = run / f"eval-step-{step}.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        if "fid" not in old or old.get("generated_samples") != 10_000:
            with contextlib.redirect_stdout(io.StringIO()):  # its JSON line: the table below says it
                code = cli(["evaluate", str(run), "--step", str(step), "--metrics", "fid", "--samples", "10000",
                            "--quiet"])
            if code != 0:
                sys.exit(f"{run}: evaluating step {step} failed (the error is above)")
            old = json.loads(path.read_text())
        fids[step] = old["fid"]
    return fids


def quality_table(curves: dict[str, list[dict[int, float]]]) -> list[dict]:
    """Per step held by every run: each precision's mean and spread over seeds, and the paired bf16 − fp32
    difference with its standard error."""
    common = sorted(set.intersection(*(set(c) for p in curves for c in curves[p])))
    rows = []
    for step in common:
        a = [c[step] for c in curves["fp32"]]
        b = [c[step] for c in curves["bf16"]]
        d = [y - x for x, y in zip(a, b)]
        sd = statistics.stdev(d) if len(d) > 1 else float("nan")
        rows.append({"step": step, "fp32": a, "bf16": b, "diff_mean": statistics.mean(d),
                     "diff_se": sd / len(d) ** 0.5, "bf16_worse": sum(x > 0 for x in d)})
    return rows


def _mean_sd(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.1f} ({statistics.stdev(xs):.1f})" if len(xs) > 1 else f"{xs[0]:.1f}"


def quality_figure(curves: dict[str, list[dict[int, float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for p, colour in (("fp32", "tab:blue"), ("bf16", "tab:orange")):
        for i, c in enumerate(curves[p]):
            ax.plot(list(c), list(c.values()), color=colour, alpha=0.35, lw=1,
                    label=None if i else f"{p}, each seed")
        steps = sorted(set.intersection(*(set(c) for c in curves[p])))
        ax.plot(steps, [statistics.mean(c[s] for c in curves[p]) for s in steps], color=colour, lw=2.5,
                label=f"{p}, mean of {len(curves[p])} seeds")
    ax.set(xlabel="training step", ylabel="FID (MNIST classifier, 10k samples)", yscale="log")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def speed(args, device: torch.device, tmp: Path, reps: int, amx, where: str) -> dict:
    """The step against the textbook loop and the ceilings, printed as tables; returns the mnist-dcgan64 row."""
    data = _images_npz(tmp)
    ceil32, ceil16 = matmul_ceiling(torch.float32, device=device), matmul_ceiling(torch.bfloat16, device=device)
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
    return headline


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N: where both loops run")
    p.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller sweep (a minute or two)")
    p.add_argument("--quality", type=int, default=0, metavar="STEPS",
                   help="also compare the FID of bfloat16 with float32 training after STEPS steps")
    p.add_argument("--seeds", type=int, default=3, help="seeds per precision for --quality")
    p.add_argument("--jobs", type=int, default=1, help="--quality: training processes at a time (default 1)")
    p.add_argument("--quality-threads", type=int, default=None, metavar="N",
                   help="--quality: threads of each training process (default: --threads)")
    p.add_argument("--every", type=int, default=0, metavar="STEPS",
                   help="--quality: keep a checkpoint every STEPS steps and measure each (default: the last only)")
    p.add_argument("--runs", metavar="DIR", help="--quality: where the runs go (default: a temporary folder); "
                   "runs already there are kept or resumed")
    p.add_argument("--quality-only", action="store_true", help="with --quality: skip the speed measurements")
    p.add_argument("--figure", metavar="PNG", help="--quality: FID against the step for both precisions")
    args = p.parse_args(argv)
    args.quality_threads = args.quality_threads or args.threads
    if args.quality_only and not args.quality:
        p.error("--quality-only skips the speed measurements and needs --quality STEPS")
    torch.set_num_threads(args.threads)
    reps = 5 if args.quick else 12
    tmp = Path(tempfile.mkdtemp(prefix="throughput-"))

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error(f"--device {args.device}: this PyTorch sees no CUDA device; use --device cpu")
    from saddlepoint.precision import machine_id
    from saddlepoint.train import cpu_has_amx

    amx = cpu_has_amx() if device.type == "cpu" else None
    where = machine_id(device)
    if device.type == "cpu":
        print(f"device: cpu — {where}, threads {args.threads}, AMX tiles: {'yes' if amx else 'no'}")
    else:
        print(f"device: {device} — {where} (the CPU: {machine_id(torch.device('cpu'))})")
    headline = {} if args.quality_only else speed(args, device, tmp, reps, amx, where)

    if args.quality:
        root = Path(args.runs) if args.runs else tmp / "quality"
        print(f"\nmnist-dcgan, {args.quality} steps in float32 and in bfloat16, seeds 0..{args.seeds - 1}, "
              f"{args.jobs} at a time with {args.quality_threads} thread(s) each, runs under {root}:")
        runs = quality_runs(args.quality, args.seeds, args.quality_threads, args.device, args.jobs, args.every, root)
        curves = {p: [fid_by_step(r) for r in runs[p]] for p in runs}
        rows = quality_table(curves)
        print("\nFID (MNIST classifier, 10,000 samples against the test set) at each kept checkpoint:\n")
        print("| step | fp32 mean (sd) | bf16 mean (sd) | bf16 − fp32, paired | seeds bf16 worse |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['step']} | {_mean_sd(r['fp32'])} | {_mean_sd(r['bf16'])} | "
                  f"{r['diff_mean']:+.1f} ± {r['diff_se']:.1f} | {r['bf16_worse']}/{len(r['fp32'])} |")
        last = rows[-1]
        print(f"\nper seed at step {last['step']}: " + "; ".join(
            f"{s}: {a:.2f} / {b:.2f}" for s, (a, b) in enumerate(zip(last["fp32"], last["bf16"]))) + " (fp32 / bf16)")
        if args.figure:
            torch.set_num_threads(args.quality_threads)  # the machine as the runs had it
            runs_on = machine_id(device)
            torch.set_num_threads(args.threads)
            quality_figure(curves, Path(args.figure), f"mnist-dcgan, float32 against bfloat16: {args.seeds} seeds, "
                                                      f"{args.jobs} run(s) at a time\n{runs_on}")
            print(f"figure: {args.figure}")
        headline = {**headline, "fid_fp32": last["fp32"], "fid_bf16": last["bf16"], "quality_steps": last["step"],
                    "fid_diff_mean": round(last["diff_mean"], 2), "fid_diff_se": round(last["diff_se"], 2)}
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
