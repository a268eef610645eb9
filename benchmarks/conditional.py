"""Class- and code-conditional GANs on MNIST: accuracy of the shipped classifier on conditional samples.

Each setting trains its recipe as written (steps, learning-rate decay, generator EMA), then generates
10,000 samples, every class (or InfoGAN category) equally often, and reads them with the shipped MNIST
classifier (≥ 99 % test accuracy):

* cGAN / AC-GAN: **accuracy** = fraction of samples the classifier reads as the class they were asked
  for (goal ≥ 98 %), the FID per class against the MNIST test digits of that class (mean over classes),
  and the FID of all samples, all on the classifier's 128-d features;
* InfoGAN: **code match** = accuracy of the best one-to-one matching between the categorical code and the
  digit the classifier reads (Hungarian assignment; goal ≥ 90 %; Chen et al. 2016 report 5 % error).

    python benchmarks/conditional.py                              # every setting, in turn
    python benchmarks/conditional.py --setting acgan --threads 1 --jsonl out.jsonl
    python benchmarks/conditional.py --table-from out.jsonl

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import add_override_argument, add_run_arguments, print_table_from, run_rows, train_steps

# name → (recipe, overrides)
SETTINGS: dict[str, tuple[str, list[str]]] = {
    "cgan": ("mnist-cgan", []),
    "cgan-projection": ("mnist-cgan", ["label_critic=projection", "r1=1", "penalty_every=4"]),
    "acgan": ("mnist-acgan", []),
    "biggan": ("mnist-biggan", []),
    "infogan": ("mnist-infogan", []),
    "infogan-dcgan-players": ("mnist-infogan", ["model=dcgan"]),
}

PUBLISHED = """\
| goals (issue #5) and published | accuracy | code match |
|---|---|---|
| goal: cGAN, AC-GAN | ≥ 98 % | — |
| goal: InfoGAN | — | ≥ 90 % |
| InfoGAN paper (Chen et al. 2016: the categorical code as a classifier, 5 % error) | — | ≈ 95 % |
"""


def run_setting(name: str, steps: int | None, threads: int, seed: int, out_root: Path, samples: int,
                extra: list[str] = ()) -> dict:
    from saddlepoint.metrics.images import evaluate_images

    recipe, overrides = SETTINGS[name]
    overrides = [*overrides, *extra]
    t0 = time.time()
    summary, exp = train_steps(recipe, overrides, steps, threads, seed, exp_dir(out_root, name, seed))
    metrics = ["code_match", "fid"] if name.startswith("infogan") else ["accuracy", "class_fid", "fid"]
    ev = evaluate_images(exp, metrics, n=samples)
    row = {"setting": name, "recipe": recipe, "overrides": overrides, "seed": seed, "threads": threads,
           "steps": summary["steps"], "train_seconds": summary["seconds"], "samples": samples,
           "fid": round(ev["fid"], 2), "wall_seconds": round(time.time() - t0, 1), "run_dir": str(exp_dir(out_root, name, seed))}
    for key in ("accuracy", "class_fid", "code_match"):
        if key in ev:
            row[key] = round(ev[key], 4)
    if "code_assignment" in ev:
        row["code_assignment"] = ev["code_assignment"]
    return row


def exp_dir(out_root: Path, name: str, seed: int) -> Path:
    return out_root / f"{name}-seed{seed}"


def table(rows: list[dict]) -> str:
    def pct(r, k):
        return f"{100 * r[k]:.1f} %" if k in r else "—"

    lines = ["| setting | recipe + overrides | seed | threads | steps | train min | accuracy | code match | "
             "FID per class (mean) | FID |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cf = f"{r['class_fid']:.1f}" if "class_fid" in r else "—"
        lines.append(f"| {r['setting']} | {r['recipe']} {' '.join(r['overrides'])} | {r['seed']} | {r['threads']} | "
                     f"{r['steps']} | {r['train_seconds'] / 60:.1f} | {pct(r, 'accuracy')} | {pct(r, 'code_match')} | {cf} | "
                     f"{r['fid']:.1f} |")
    return "\n".join(lines) + "\n\nFID on the MNIST classifier's features (compare rows only; the real-data floor is 5.7).\n\n" + PUBLISHED


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", action="append", choices=list(SETTINGS), help="run only these (repeatable)")
    p.add_argument("--samples", type=int, default=10_000, help="generated samples per evaluation")
    p.add_argument("--steps", type=int, help="generator steps (default: each recipe's own)")
    add_override_argument(p)
    add_run_arguments(p)
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    out_root = Path(args.out or tempfile.mkdtemp(prefix="conditional-"))
    run_rows(args.setting or list(SETTINGS),
             lambda name: run_setting(name, args.steps, args.threads, args.seed, out_root, args.samples,
                                             args.override), args, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
