"""Stacked MNIST (1000 modes) under a fixed wall-clock budget, beside the published rows.

Each setting trains for ``--minutes`` of wall clock on this machine (the ``time_limit`` key), then
generates the protocol's samples (26,000; 25,600 for the weak-discriminator rows, as PacGAN's Table 3)
and reads every channel with the shipped MNIST classifier (../shared/REFERENCES.md §2).  Modes = digit
triples seen at least once; KL = KL(histogram ‖ uniform over 1000), and its two exact parts: the digit
histograms' own imbalance (summed over the channels) and the dependence between channels.  The ``real``
row reads the protocol's number of real stacked-MNIST images the same way: the floor that sampling and
the classifier's errors leave.

    python benchmarks/stacked_mnist.py                           # every setting, 30 min each, in turn
    python benchmarks/stacked_mnist.py --setting pacdcgan2 --threads 1 --jsonl out.jsonl
    python benchmarks/stacked_mnist.py --setting pacdcgan2 --override batch_size=128   # a variant
    python benchmarks/stacked_mnist.py --setting weak-d-quarter-pac2 --watch 1000   # and the run's course
    python benchmarks/stacked_mnist.py --setting real                # the floor (no training)
    python benchmarks/stacked_mnist.py --table-from out.jsonl

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import add_budget_arguments, add_override_argument, print_table_from, run_rows, train_for

# name → (recipe, overrides, protocol samples, published rows it sits beside)
SETTINGS: dict[str, tuple[str, list[str], int]] = {
    "dcgan": ("stacked-mnist", [], 26_000),
    "pacdcgan2": ("stacked-mnist", ["pack=2"], 26_000),
    "pacdcgan2-ema": ("stacked-mnist", ["pack=2", "ema=0.999"], 26_000),
    "pacdcgan4": ("stacked-mnist", ["pack=4"], 26_000),
    "pacdcgan2-mmd": ("stacked-mnist-mmd", [], 26_000),
    "weak-d-quarter": ("stacked-mnist-weak-d", [], 25_600),
    "weak-d-quarter-pac2": ("stacked-mnist-weak-d", ["pack=2"], 25_600),
}

PUBLISHED = """\
| published (§2, 50 epochs on a GPU) | modes | KL |
|---|---|---|
| DCGAN (VEEGAN's run) | 99 | 3.40 |
| Unrolled GAN | 48.7 | 4.32 |
| VEEGAN | 150 | 2.95 |
| DCGAN (PacGAN's run) | 78.9±6.5 | 4.50 |
| PacDCGAN2 | 1000.0 | 0.06 |
| PacDCGAN4 | 1000.0 | 0.07 |

| published, weak D (§2, 500k iterations) | D = ¼ G modes | KL | D = ½ G modes | KL |
|---|---|---|---|---|
| DCGAN | 30.6 | 5.99 | 628.0 | 2.58 |
| Unrolled GAN, 10 steps | 327.2 | 4.66 | 817.4 | 1.43 |
| PacDCGAN2 | 484.5 | 2.61 | 840.7 | 1.00 |
| PacDCGAN4 | 667.4 | 1.81 | 820.2 | 1.15 |
"""


def run_setting(name: str, minutes: float, threads: int, seed: int, out_root: Path, extra: list[str] = (),
                watch: int = 0) -> dict:
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.runs import read_metrics

    if name == "real":
        return real_row(seed)
    recipe, overrides, samples = SETTINGS[name]
    overrides = [*overrides, *extra]
    t0 = time.time()
    summary, exp = train_for(recipe, overrides, minutes, threads, seed, out_root / f"{name}-seed{seed}", watch)
    ev = evaluate_images(exp, ["modes"], n=samples)
    row = {"setting": name, "recipe": recipe, "overrides": overrides, "seed": seed, "threads": threads,
           "minutes": minutes, "steps": summary["steps"], "train_seconds": summary["seconds"],
           "samples": samples, **_coverage({k[len("stacked/"):]: v for k, v in ev.items() if k.startswith("stacked/")}),
           "wall_seconds": round(time.time() - t0, 1)}
    if watch:  # the run's course: (step, modes, KL: channels) on 3000 samples at every watched step
        row["watched"] = [(r["step"], r["eval/modes"], round(r["eval/kl_channels"], 3))
                          for r in read_metrics(out_root / f"{name}-seed{seed}") if "eval/modes" in r]
    return row


def real_row(seed: int) -> dict:
    """The protocol applied to real stacked-MNIST training images (three digits drawn independently)."""
    import torch

    from saddlepoint.data.images import load_images
    from saddlepoint.metrics.images import read_stacked
    from saddlepoint.metrics.stacked import PROTOCOL_SAMPLES

    t0 = time.time()
    real = load_images("stacked-mnist", 28).sample(PROTOCOL_SAMPLES, torch.Generator().manual_seed(seed))
    cov = read_stacked(real)
    return {"setting": "real", "recipe": "—", "overrides": ["(training images)"], "seed": seed, "threads": 0,
            "minutes": 0, "steps": 0, "train_seconds": 0, "samples": PROTOCOL_SAMPLES, **_coverage(cov),
            "wall_seconds": round(time.time() - t0, 1)}


def _coverage(cov: dict) -> dict:
    return {"modes": cov["modes"], **{k: round(cov[k], 4) for k in ("kl", "kl_channels", "kl_dependence")}}


def table(rows: list[dict]) -> str:
    def part(r, k):  # rows recorded before the split have only the total
        return f"{r[k]:.3f}" if k in r else "—"

    lines = ["| saddlepoint setting | recipe + overrides | seed | threads | budget | steps | samples | modes | KL | "
             "KL: channels | KL: dependence |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['recipe']} {' '.join(r['overrides'])} | {r['seed']} | {r['threads']} | "
                     f"{r['minutes']:g} min | {r['steps']} | {r['samples']} | {r['modes']} | {r['kl']:.3f} | "
                     f"{part(r, 'kl_channels')} | {part(r, 'kl_dependence')} |")
    return "\n".join(lines) + "\n\n" + PUBLISHED


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", action="append", choices=[*SETTINGS, "real"],
                   help="run only these (repeatable); real: the protocol on real images, no training")
    add_override_argument(p)
    p.add_argument("--watch", type=int, default=0, metavar="STEPS",
                   help="the run evaluates itself every STEPS steps on 3000 samples; the row keeps the course")
    add_budget_arguments(p, minutes=30.0)
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    out_root = Path(args.out or tempfile.mkdtemp(prefix="stacked-mnist-"))
    run_rows(args.setting or list(SETTINGS),
             lambda name: run_setting(name, args.minutes, args.threads, args.seed, out_root, args.override,
                                      args.watch),
             args, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
