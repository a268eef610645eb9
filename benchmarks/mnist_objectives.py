"""MNIST under a fixed wall-clock budget per objective (and GMMN, which plays no game): FID, KID, precision and recall.

Each objective trains its recipe for ``--minutes`` of wall clock on this machine (``time_limit``; no
learning-rate decay, since the budget and not a step count ends the run), then the EMA-free generator
draws 10,000 samples that are compared with 10,000 MNIST test digits in the feature space of the shipped
MNIST classifier (128-d; ``saddlepoint evaluate --backbone mnist``).  Precision/recall: k-NN manifolds,
k = 3, 5000 points a side.  Published MNIST FIDs (Lucic et al. 2018) use Inception features of
three-channel digits, so they sit beside ours for scale only, not for comparison.

    python benchmarks/mnist_objectives.py                       # all four, 10 min each, in turn
    python benchmarks/mnist_objectives.py --objective hinge-sn --threads 1 --jsonl out.jsonl
    python benchmarks/mnist_objectives.py --real --jsonl out.jsonl      # the real-data floor
    python benchmarks/mnist_objectives.py --table-from out.jsonl

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import add_budget_arguments, print_table_from, record, run_rows, train_for

# name → (recipe, overrides)
OBJECTIVES: dict[str, tuple[str, list[str]]] = {
    "non-saturating": ("mnist-dcgan", []),
    "least-squares": ("mnist-dcgan", ["game=lsgan"]),
    "wgan-gp": ("mnist-wgan-gp", []),
    "hinge-sn": ("mnist-sngan-hinge", []),
    "gmmn": ("gmmn-mnist", []),  # no game: √MMD² to the data (family=gmmn)
}

PUBLISHED = """\
| published (§5, Lucic et al. 2018, best FID on MNIST, Inception features: scale only) | FID |
|---|---|
| NS GAN | 6.8 |
| WGAN | 6.7 |
| LSGAN | 7.8 |
| WGAN-GP | 20.3 |
| VAE | 23.8 |

| published (§8, Li et al. 2015 as tabulated later: Parzen-window log-likelihood on MNIST test, nats; not computed here) | LL |
|---|---|
| GMMN | about 147 ± 2 (secondary source) |
| GMMN+AE | 282 ± 2 |
| GAN | 225 ± 2 |
"""


def run_objective(name: str, minutes: float, threads: int, seed: int, out_root: Path, samples: int) -> dict:
    from saddlepoint.metrics.images import evaluate_images

    recipe, overrides = OBJECTIVES[name]
    t0 = time.time()
    summary, exp = train_for(recipe, overrides, minutes, threads, seed, out_root / f"{name}-seed{seed}")
    ev = evaluate_images(exp, ["fid", "kid", "pr"], n=samples, backbone="mnist")
    return {"objective": name, "recipe": recipe, "overrides": overrides, "seed": seed, "threads": threads,
            "minutes": minutes, "steps": summary["steps"], "train_seconds": summary["seconds"], "samples": samples,
            "fid": round(ev["fid"], 3), "kid": round(ev["kid"], 5), "kid_std": round(ev["kid_std"], 5),
            "precision": round(ev["precision"], 4), "recall": round(ev["recall"], 4),
            "wall_seconds": round(time.time() - t0, 1)}


def real_row(samples: int) -> dict:
    """The same metrics for real training digits against the test reference: the floor a generator can reach."""
    import torch

    from saddlepoint.data.images import ImageSampler, load_mnist
    from saddlepoint.metrics.features import feature_statistics, frechet_distance, kernel_distance, precision_recall
    from saddlepoint.metrics.images import mnist_backbone

    backbone, _ = mnist_backbone()
    train = ImageSampler("mnist", 28, base=load_mnist(train=True)).sample(samples, torch.Generator().manual_seed(1))
    test = ImageSampler("mnist", 28, base=load_mnist(train=False)).sample(10_000, torch.Generator().manual_seed(7))
    fake, real = backbone(train)[0], backbone(test)[0]
    kid, kid_std = kernel_distance(real, fake, subsets=50, subset_size=1000)
    pr = precision_recall(real[:5000], fake[:5000], k=3)
    return {"objective": "real training digits", "recipe": "—", "overrides": [], "seed": 1, "threads": 0, "minutes": 0,
            "steps": 0, "train_seconds": 0, "samples": samples,
            "fid": round(frechet_distance(*feature_statistics(real), *feature_statistics(fake)), 3),
            "kid": round(kid, 5), "kid_std": round(kid_std, 5), "precision": round(pr["precision"], 4),
            "recall": round(pr["recall"], 4), "wall_seconds": 0}


def table(rows: list[dict]) -> str:
    lines = ["| objective | recipe + overrides | seed | threads | budget | steps | FID (MNIST clf) | KID | precision | "
             "recall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['objective']} | {r['recipe']} {' '.join(r['overrides'])} | {r['seed']} | {r['threads']} | "
                     f"{r['minutes']:g} min | {r['steps']} | {r['fid']:.2f} | {r['kid']:.4f} ± {r['kid_std']:.4f} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} |")
    return "\n".join(lines) + "\n\n" + PUBLISHED


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objective", action="append", choices=list(OBJECTIVES), help="run only these (repeatable)")
    add_budget_arguments(p, minutes=10.0)
    p.add_argument("--samples", type=int, default=10_000, help="generated samples for the metrics")
    p.add_argument("--real", action="store_true", help="only the real-data row (training vs test digits)")
    args = p.parse_args(argv)
    if args.real:
        record(real_row(args.samples), args.jsonl)
        return 0
    if print_table_from(args, table):
        return 0
    out_root = Path(args.out or tempfile.mkdtemp(prefix="mnist-objectives-"))
    run_rows(args.objective or list(OBJECTIVES),
             lambda name: run_objective(name, args.minutes, args.threads, args.seed, out_root, args.samples), args, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
