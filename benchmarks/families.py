"""The families side by side on MNIST: DCGAN, WGAN-GP, VAE, IWAE, GMMN, GMMN+AE and MMD-GAN, each trained for the
same wall clock on this machine and measured the same way (seed 003's comparison, made runnable).

Each family trains its recipe for ``--minutes`` (``time_limit``; no learning-rate decay), then its sampler draws
``--samples`` images that are compared with the 10,000 MNIST test digits:

* FID, KID and k-NN precision/recall (k = 3, 5000 a side) in the feature space of the shipped MNIST classifier;
* the Parzen-window log-likelihood of the test digits under 10,000 samples, its width chosen on MNIST's last
  10,000 training digits (the GMMN paper's protocol, ``saddlepoint.metrics.parzen``; a poor metric, reported because
  the published rows use it);
* the test NLL by importance sampling, for the two families that have a likelihood (VAE, IWAE), on the first
  ``--nll-images`` test digits with ``--nll-samples`` samples each;
* memorization: the median distance of samples to their nearest training digit over that of test digits
  (≈ 1: no copying), in the same features.

``--figure PATH`` (with ``--table-from``) draws one picture with an 8×8 sample grid of each row.

    python benchmarks/families.py --minutes 8 --threads 1 --jsonl families.jsonl --family dcgan --family vae
    python benchmarks/families.py --real --jsonl families.jsonl
    python benchmarks/families.py --minutes 5 --threads 1 --family mmdgan-rq --override mmdgan_lr_d=0.0004   # a try
    python benchmarks/families.py --table-from families.jsonl --figure benchmarks/figures/families.png

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import (add_budget_arguments, add_override_argument, print_table_from, read_rows, record, run_rows,
                    train_for)

# name → (what, recipe, overrides)
FAMILIES: dict[str, tuple[str, str, list[str]]] = {
    "dcgan": ("DCGAN (non-saturating)", "mnist-dcgan", []),
    "wgan-gp": ("WGAN-GP", "mnist-wgan-gp", []),
    "vae": ("VAE", "mnist-vae", []),
    "iwae": ("IWAE (k = 50)", "mnist-iwae", []),
    "gmmn": ("GMMN", "gmmn-mnist", []),
    "gmmn-ae": ("GMMN+AE", "gmmn-ae-mnist", []),
    "mmdgan": ("MMD-GAN", "mnist-mmdgan", []),
    # The paper's 100 critic steps in the first 25 generator steps fill a short budget; this row leaves them out.
    "mmdgan-k5": ("MMD-GAN, 5 critic steps throughout", "mnist-mmdgan", ["mmdgan_warm_critic=0"]),
    # Bińkowski et al. 2018's form: a gradient penalty on the witness instead of clipping, Adam.
    "mmdgan-gp": ("MMD-GAN, witness penalty, Adam", "mnist-mmdgan",
                  ["mmdgan_warm_critic=0", "mmdgan_constraint=gp", "mmdgan_optimizer=adam", "lr_g=0.0001",
                   "mmdgan_lr_d=0.0001", "beta1=0.5", "beta2=0.9"]),
    # The recipe chosen from those tries (BENCHMARKS.md): the unbiased MMD² with a light witness penalty (0.01), a
    # rational-quadratic kernel, 28 px, one critic step.
    "mmdgan-rq": ("MMD-GAN, witness penalty, RQ kernel, 28 px", "mnist-mmdgan-gp", []),
}

PUBLISHED = """\
| published (REFERENCES §8: Parzen-window log-likelihood of the MNIST test set, 10,000 samples, nats) | LL |
|---|---|
| GMMN (Li et al. 2015; secondary source) | 147 ± 2 |
| GMMN+AE (Li et al. 2015) | 282 ± 2 |
| GAN (Goodfellow et al. 2014) | 225 ± 2 |
| Adversarial AE | 340 ± 2 |
| published (§7): VAE test NLL, dynamically binarized MNIST (Burda et al. 2016) | 86.76 |
| goals: GMMN Parzen ≥ 147, GMMN+AE ≥ 282; MMD-GAN FID below GMMN's and within 1.5× of DCGAN's | |
"""

METRICS = ["fid", "kid", "pr", "parzen", "memorization"]


def _machine() -> str:
    import torch

    from saddlepoint.precision import machine_id

    return machine_id(torch.device("cpu"))


def _grid(exp, path: Path) -> str:
    from torchvision.utils import make_grid, save_image

    save_image(make_grid(exp.generate(64), nrow=8, normalize=True, value_range=(-1, 1)), str(path))
    return str(path)


def run_family(name: str, args, out_root: Path) -> dict:
    from saddlepoint.metrics.images import evaluate_images

    what, recipe, overrides = FAMILIES[name]
    overrides = [*overrides, *args.override]
    t0 = time.time()
    summary, exp = train_for(recipe, overrides, args.minutes, args.threads, args.seed,
                             out_root / f"{name}-seed{args.seed}")
    likelihood = hasattr(exp, "test_nll")
    ev = evaluate_images(exp, METRICS + (["nll"] if likelihood else []), n=args.samples, backbone="mnist",
                         nll_samples=args.nll_samples, nll_images=args.nll_images)
    row = {"family": name, "what": what, "recipe": recipe, "overrides": overrides, "seed": args.seed,
           "threads": args.threads, "minutes": args.minutes, "steps": summary["steps"],
           "train_seconds": summary["seconds"], "samples": args.samples, "machine": _machine(),
           **_measures(ev), "grid": _grid(exp, out_root / f"{name}-seed{args.seed}-grid.png"),
           "wall_seconds": round(time.time() - t0, 1)}
    if likelihood:
        row.update({"nll": round(ev["nll"], 2), "nll_se": round(ev["nll_se"], 2), "nll_images": ev["nll_images"],
                    "nll_samples": args.nll_samples})
    return row


def _measures(ev: dict) -> dict:
    return {"fid": round(ev["fid"], 3), "kid": round(ev["kid"], 5), "kid_std": round(ev["kid_std"], 5),
            "precision": round(ev["precision"], 4), "recall": round(ev["recall"], 4),
            "parzen": round(ev["parzen_ll"], 2), "parzen_se": round(ev["parzen_se"], 2),
            "parzen_sigma": ev["parzen_sigma"], "memorization": round(ev["memorization/median_ratio"], 3)}


def real_row(args) -> dict:
    """The same measures for 10,000 real training digits (the first 50,000, apart from the Parzen validation
    split): the floor of the feature metrics, and what the Parzen window gives real digits."""
    import torch

    from saddlepoint.data.images import ImageSampler, load_mnist
    from saddlepoint.metrics.features import feature_statistics, frechet_distance, kernel_distance, precision_recall
    from saddlepoint.metrics.images import mnist_backbone, mnist_parzen

    backbone, _ = mnist_backbone()
    base = load_mnist(train=True)
    picked = torch.randperm(50_000, generator=torch.Generator().manual_seed(1))[:args.samples]
    train = ImageSampler("mnist", 28, base=base).dataset.to_float(picked)
    test = ImageSampler("mnist", 28, base=load_mnist(train=False)).dataset
    fake, real = backbone(train)[0], backbone(test.to_float(torch.arange(len(test))))[0]
    kid, kid_std = kernel_distance(real, fake, subsets=50, subset_size=1000)
    pr = precision_recall(real[:5000], fake[:5000], k=3)
    parzen = mnist_parzen(train)
    return {"family": "real", "what": "real training digits", "recipe": "—", "overrides": [], "seed": 1,
            "threads": args.threads, "minutes": 0, "steps": 0, "train_seconds": 0, "samples": args.samples,
            "machine": _machine(),
            "fid": round(frechet_distance(*feature_statistics(real), *feature_statistics(fake)), 3),
            "kid": round(kid, 5), "kid_std": round(kid_std, 5), "precision": round(pr["precision"], 4),
            "recall": round(pr["recall"], 4), "parzen": round(parzen["parzen_ll"], 2),
            "parzen_se": round(parzen["parzen_se"], 2), "parzen_sigma": parzen["parzen_sigma"],
            "memorization": None, "grid": None, "wall_seconds": 0}


def table(rows: list[dict]) -> str:
    lines = ["| family | recipe | seed | threads | budget | steps | FID (MNIST clf) | KID | precision | recall | "
             "Parzen LL (σ) | test NLL (nats) | memorization |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        nll = f"{r['nll']:.2f} ± {r['nll_se']:.2f} ({r['nll_images']} digits, k {r['nll_samples']})" if "nll" in r else "—"
        mem = "—" if r["memorization"] is None else f"{r['memorization']:.3f}"
        budget = "—" if not r["minutes"] else f"{r['minutes']:g} min"
        lines.append(f"| {r['what']} | {r['recipe']} {' '.join(r['overrides'])} | {r['seed']} | {r['threads']} | "
                     f"{budget} | {r['steps']} | {r['fid']:.2f} | {r['kid']:.2f} ± {r['kid_std']:.2f} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} | {r['parzen']:.1f} ± {r['parzen_se']:.1f} "
                     f"({r['parzen_sigma']}) | {nll} | {mem} |")
    return ("\n".join(lines) + "\n\nKID ± its standard deviation over 50 subsets of 1000. Memorization: median "
            "distance of a sample to its nearest training digit over that of a test digit.\n\n" + PUBLISHED)


def figure(rows: list[dict], path: str) -> None:
    """One picture: each row's 8×8 sample grid, titled with its family and FID."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    shown = [r for r in rows if r.get("grid") and Path(r["grid"]).is_file()]
    if not shown:
        raise SystemExit("no sample grids to draw: the rows' runs are gone (their grid PNGs were in --out)")
    cols = min(4, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, r in zip(axes.flat, shown):
        ax.imshow(Image.open(r["grid"]), cmap="gray")
        what = " ".join([r["what"], *r.get("overrides", [])])  # two rows of a family differ by their overrides
        ax.set_title(f"{what}\nFID {r['fid']:.1f}, {r['steps']} steps", fontsize=9)
    fig.suptitle(f"MNIST, {shown[0]['minutes']:g} min of training each ({(shown[0]['machine'] or 'CPU').split(';')[0]})",
                 fontsize=10)
    fig.tight_layout(h_pad=2.0)
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", action="append", choices=list(FAMILIES), help="run only these (repeatable)")
    add_budget_arguments(p, minutes=8.0)
    add_override_argument(p)
    p.add_argument("--samples", type=int, default=10_000, help="generated samples for the metrics")
    p.add_argument("--nll-samples", type=int, default=1000, help="importance samples per digit for the test NLL")
    p.add_argument("--nll-images", type=int, default=1000, help="test digits for the NLL (the first ones)")
    p.add_argument("--real", action="store_true", help="only the real-data row")
    p.add_argument("--figure", help="with --table-from: also draw the rows' sample grids into this PNG")
    args = p.parse_args(argv)
    if args.real:
        record(real_row(args), args.jsonl)
        return 0
    if print_table_from(args, table):
        if args.figure:
            figure(read_rows(args.table_from), args.figure)
        return 0
    if args.figure:
        p.error("--figure draws recorded rows: give it with --table-from JSONL")
    out_root = Path(args.out or tempfile.mkdtemp(prefix="families-"))
    variants = ("mmdgan-k5", "mmdgan-gp", "mmdgan-rq")  # rows beside the table's own, run when named
    run_rows(args.family or [f for f in FAMILIES if f not in variants], lambda name: run_family(name, args, out_root),
             args, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
