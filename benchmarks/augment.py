"""Few training images: the DCGAN recipe on a few hundred MNIST digits, with and without DiffAugment (``augment=``).

Each row trains ``mnist-dcgan`` on the same ``--images`` training digits (drawn once, seed 0) for ``--steps`` steps,
then measures:

* FID against the 10,000 MNIST **test** digits (features of the shipped MNIST classifier; 10,000 samples);
* the critic's gap: its mean raw score on the training digits minus on as many test digits — a critic that has
  learned its training images by heart scores them far above digits it has not seen (Zhao et al. 2020, Fig. 1);
* memorization: the median distance of a sample to its nearest training digit over that of a test digit (in the
  same features; well below 1 is copying).

    python benchmarks/augment.py --images 500 --steps 3000 --seed 0 --threads 1 --jsonl augment.jsonl
    python benchmarks/augment.py --images 500 --steps 3000 --seed 0 --threads 1 --augment "" --jsonl augment.jsonl
    python benchmarks/augment.py --images 100 --steps 10000 --measure-every 2000 ...   # the curve, from checkpoints
    python benchmarks/augment.py --table-from augment.jsonl --figure benchmarks/figures/augment.png

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import add_run_arguments, machine, print_table_from, record, train_steps


def subset(n: int, folder: Path) -> Path:
    """``n`` MNIST training digits (a fixed draw) as an .npz the recipe trains on."""
    import numpy as np
    import torch

    from saddlepoint.data.images import load_mnist

    base = load_mnist(train=True)
    picked = torch.randperm(len(base), generator=torch.Generator().manual_seed(0))[:n]
    path = folder / f"mnist-{n}.npz"
    np.savez(path, images=base.images[picked, 0].numpy(), labels=base.labels[picked].numpy())
    return path


def measure(exp, data: Path, n_samples: int) -> dict:
    import torch

    from saddlepoint.data.images import ImageSampler, load_mnist, load_npz
    from saddlepoint.metrics.features import feature_statistics, frechet_distance
    from saddlepoint.metrics.images import mnist_backbone

    backbone, _ = mnist_backbone()
    test = ImageSampler("mnist", 28, base=load_mnist(train=False)).dataset
    train = load_npz(data)
    real_test = test.to_float(torch.arange(len(test)))
    real_train = train.to_float(torch.arange(len(train)))
    fake = exp.generate(n_samples)
    f_test, f_fake, f_train = backbone(real_test)[0], backbone(fake)[0], backbone(real_train)[0]
    fid = frechet_distance(*feature_statistics(f_test), *feature_statistics(f_fake))
    with torch.no_grad():
        D = exp.D.eval()
        score = lambda x: float(D(x.to(exp.device)).float().mean())  # noqa: E731
        gap = score(real_train) - score(real_test[:len(real_train)])
    nearest = lambda a: torch.cdist(a, f_train).min(1).values  # noqa: E731
    memorization = float(nearest(f_fake[:2000]).median() / nearest(f_test[:2000]).median())
    return {"fid": round(fid, 2), "critic_gap": round(gap, 3), "memorization": round(memorization, 3),
            "samples": n_samples}


def table(rows: list[dict]) -> str:
    lines = ["| augment | training digits | steps | seed | threads | FID vs test (MNIST clf) | "
             "critic gap (train − test) | memorization | train s (pro rata) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["images"], r["augment"], r["seed"], r["steps"])):
        lines.append(f"| {r['augment'] or 'none'} | {r['images']} | {r['steps']} | {r['seed']} | {r['threads']} | "
                     f"{r['fid']:.2f} | {r['critic_gap']:+.3f} | {r['memorization']:.3f} | {r['train_seconds']:.0f} |")
    return "\n".join(lines) + f"\n\nmachine: {rows[0]['machine']}" if rows else "no rows"


def figure(rows: list[dict], path: str) -> None:
    """FID and the critic's gap against training steps: a line per (augment, seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    runs = sorted({(r["augment"], r["seed"], r["images"]) for r in rows})
    for augment, seed, images in runs:
        mine = sorted((r for r in rows if (r["augment"], r["seed"], r["images"]) == (augment, seed, images)),
                      key=lambda r: r["steps"])
        style = dict(color="tab:blue" if augment else "tab:red", marker="o", ms=3,
                     linestyle="-" if seed == min(s for a, s, i in runs if a == augment) else "--",
                     label=f"{augment or 'no augmentation'}, seed {seed}")
        left.plot([r["steps"] for r in mine], [r["fid"] for r in mine], **style)
        right.plot([r["steps"] for r in mine], [r["critic_gap"] for r in mine], **style)
    left.set(xlabel="generator steps", ylabel="FID against the MNIST test digits", yscale="log")
    right.set(xlabel="generator steps", ylabel="critic: mean score train − test")
    left.legend(fontsize=7)
    fig.suptitle(f"mnist-dcgan on {rows[0]['images']} training digits ({rows[0]['machine'].split(',')[0]})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=500, help="training digits")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--augment", default="translation,cutout", help='DiffAugment policy ("" = none)')
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--measure-every", type=int, default=0, metavar="K",
                   help="also measure the run's checkpoints every K steps")
    p.add_argument("--figure", help="with --table-from: also draw FID and the critic's gap against steps here")
    add_run_arguments(p)
    args = p.parse_args(argv)
    if print_table_from(args, table):
        if args.figure:
            from common import read_rows

            figure(read_rows(args.table_from), args.figure)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        data = subset(args.images, out)
        t0 = time.time()
        overrides = [f"data={data}", *([f"augment={args.augment}"] if args.augment else []),
                     *([f"checkpoint_every={args.measure_every}", "keep_checkpoints=0"] if args.measure_every else [])]
        run_dir = out / f"run-{args.augment or 'none'}-{args.images}-seed{args.seed}"
        summary, exp = train_steps("mnist-dcgan", overrides, args.steps, args.threads, args.seed, run_dir)
        rows = []
        for step in range(args.measure_every, summary["steps"], args.measure_every) if args.measure_every else ():
            from saddlepoint.train import load_run

            rows.append({"steps": step, **measure(load_run(run_dir, load_data=True, step=step), data, args.samples)})
        rows.append({"steps": summary["steps"], **measure(exp, data, args.samples)})
        for row in rows:
            row.update({"augment": args.augment, "images": args.images, "seed": args.seed, "threads": args.threads,
                        "train_seconds": round(summary["seconds"] * row["steps"] / summary["steps"], 1),
                        "machine": machine(args.threads), "wall_seconds": round(time.time() - t0, 1)})
            record(row, args.jsonl)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
