"""pix2pix against an L1-only generator of the same architecture, on held-out pairs of MNIST digits.

Every row trains the ``pix2pix-edges2mnist`` recipe for the same number of steps; the L1-only rows set
``gan_weight=0`` (the generator sees only λ·L1, no critic trains).  Two built-in tasks: edges → digit (the
recipe's; close to a function of its input) and ``data=halves2mnist``, top half → digit (many bottoms fit
one top).  On the 10,000 held-out pairs built from the MNIST test split: L1, PSNR and SSIM against the true digits, the FID of the outputs
against the test digits on the MNIST classifier's features, and the classifier's accuracy on the outputs
(does the digit survive?).  Expected from the seeds: pix2pix sharper (lower FID) with PSNR close.

    python benchmarks/pix2pix.py                         # both rows, 3000 steps each
    python benchmarks/pix2pix.py --steps 500 --threads 1 --jsonl out.jsonl
    python benchmarks/pix2pix.py --table-from out.jsonl

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import add_run_arguments, print_table_from, run_rows, train_steps

SETTINGS: dict[str, list[str]] = {"pix2pix": [], "l1-only": ["gan_weight=0"],
                                  "pix2pix-halves": ["data=halves2mnist"],
                                  "l1-only-halves": ["data=halves2mnist", "gan_weight=0"]}


def run_setting(name: str, steps: int, threads: int, seed: int, out_root: Path, samples: int) -> dict:
    from saddlepoint.metrics.images import evaluate_images

    t0 = time.time()
    summary, exp = train_steps("pix2pix-edges2mnist", SETTINGS[name], steps, threads, seed, out_root / f"{name}-seed{seed}")
    ev = evaluate_images(exp, ["l1", "psnr", "ssim", "fid", "accuracy"], n=samples)
    return {"setting": name, "overrides": SETTINGS[name], "seed": seed, "threads": threads, "steps": summary["steps"],
            "train_seconds": summary["seconds"], "pairs": ev["translated"], "l1": round(ev["l1"], 4),
            "psnr": round(ev["psnr"], 2), "ssim": round(ev["ssim"], 4), "fid": round(ev["fid"], 2),
            "accuracy": round(ev["accuracy"], 4), "wall_seconds": round(time.time() - t0, 1)}


def table(rows: list[dict]) -> str:
    lines = ["| setting | overrides | seed | threads | steps | train s | held-out pairs | L1 | PSNR (dB) | SSIM | "
             "FID (MNIST clf) | digit accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {' '.join(r['overrides'])} | {r['seed']} | {r['threads']} | {r['steps']} | "
                     f"{r['train_seconds']:.0f} | {r['pairs']} | {r['l1']:.4f} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                     f"{r['fid']:.1f} | {100 * r['accuracy']:.1f} % |")
    return "\n".join(lines) + ("\n\nL1 on [0, 1] pixels; FID on the MNIST classifier's features (real-data floor 5.7). "
                               "No published row: edges2mnist and halves2mnist are saddlepoint's offline tasks.\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", action="append", choices=list(SETTINGS), help="run only these (repeatable)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--samples", type=int, default=10_000, help="held-out pairs to translate")
    add_run_arguments(p)
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    out_root = Path(args.out or tempfile.mkdtemp(prefix="pix2pix-"))
    run_rows(args.setting or list(SETTINGS),
             lambda name: run_setting(name, args.steps, args.threads, args.seed, out_root, args.samples), args, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
