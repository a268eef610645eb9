"""Compressed sensing with a generative prior on MNIST: the protocol of Bora et al. 2017 (REFERENCES.md §3, §12).

For each number of Gaussian measurements m, held-out MNIST test digits (pixels in [0, 1]) are measured as
y = A x + η (A with N(0, 1) entries, a fresh A per group of 50 images as the authors drew it, η ~ N(0, 0.1²)) and
recovered by scikit-learn's Lasso (α 0.1, clipped to [0, 1]), by the VAE prior (the recipe mnist-vae-csgm, the
authors' 784-500-500-20 VAE; loss mean((A G(z) − y)²) + 0.1‖z‖², Adam 0.01, 1000 steps, 10 restarts), by the same
prior with the sparse deviation of Dhar et al. 2018, and optionally by a GAN prior from this toolkit.  Each row is
the per-pixel MSE's mean over the images with its 95 % interval.

    python benchmarks/csgm.py --run RUN [--gan-run GAN_RUN] --jsonl csgm.jsonl --figure
    python benchmarks/csgm.py --train-steps 60000 --out runs/    # train the VAE prior first (about 17 min here)
    python benchmarks/csgm.py --table-from csgm.jsonl --figure

The authors published plots only; the table's goals are theirs in words: the prior matches the Lasso with 5–10×
fewer measurements (goal: at m = 100 the VAE prior's error ≤ ⅕ of the Lasso's), and with the sparse deviation the
prior is never worse than the Lasso at any m ≤ 750.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from common import read_rows, record

FIGURES = Path(__file__).parent / "figures"
PROTOCOL_M = (10, 25, 50, 100, 200, 300, 400, 500, 750)
PUBLISHED = """\
| published (REFERENCES.md §3, Bora et al. 2017, Fig. 1a; plots only) | |
|---|---|
| VAE prior vs Lasso, MNIST | the prior reaches the Lasso's error with 5–10× fewer measurements |
| at large m | the Lasso overtakes the plain prior (the image is not exactly in the generator's range) |"""


def _methods(args) -> list[str]:
    names = ["lasso"] + (["lasso-dct"] if args.dct else []) + ["vae", "vae+sparse"] + (["gan"] if args.gan_run else [])
    return [n for n in names if not args.methods or n in args.methods]


def run(args) -> list[dict]:
    from saddlepoint.tasks.common import LatentGenerator, held_out_images
    from saddlepoint.tasks.latent import LatentSearch
    from saddlepoint.tasks.recover import lasso, measure, measurement_matrix, mse_interval, recover
    from saddlepoint.train import load_run

    torch.set_num_threads(args.threads)
    vae = load_run(args.run)
    G = LatentGenerator(vae, "the benchmark")
    gan = LatentGenerator(load_run(args.gan_run), "the benchmark") if args.gan_run else None
    x_all, _, what = held_out_images(vae, args.images)
    settings = LatentSearch(steps=args.steps, lr=0.01, restarts=args.restarts, prior=0.1, seed=args.seed)
    gan_settings = LatentSearch(steps=args.gan_steps or args.steps, lr=0.01, restarts=args.gan_restarts or args.restarts,
                                prior=0.1, seed=args.seed)
    rows = []
    for m in args.measurements:
        est: dict[str, list[torch.Tensor]] = {k: [] for k in _methods(args)}
        seconds: dict[str, float] = {k: 0.0 for k in est}
        gan_x = []
        for gi, x in enumerate(x_all.split(args.group)):
            g = torch.Generator().manual_seed(args.seed * 100_003 + m * 1009 + gi)
            A = measurement_matrix("gaussian", G.shape, m, generator=g)
            y = measure(x, A, args.noise, g)
            for name in est:
                if name == "gan" and gi * args.group >= args.gan_images:
                    continue
                t0 = time.perf_counter()
                if name == "lasso":
                    out = lasso(A, y, 0.1).view_as(x)
                elif name == "lasso-dct":
                    out = lasso(A, y, 0.1, "dct", G.shape).view_as(x)
                elif name == "vae":
                    out = recover(G, A, y, settings, progress=sys.stderr.isatty())[0]
                elif name == "vae+sparse":
                    out = recover(G, A, y, settings, args.sparse, progress=sys.stderr.isatty())[0]
                else:
                    out = recover(gan, A, y, gan_settings, progress=sys.stderr.isatty())[0]
                    gan_x.append(x)
                seconds[name] += time.perf_counter() - t0
                est[name].append(out)
        for name, parts in est.items():
            truth = torch.cat(gan_x) if name == "gan" else x_all
            s = mse_interval(torch.cat(parts), truth)
            row = {"m": m, "method": name, "mse": s["mse"], "ci95": s["ci95"], "images": len(truth),
                   "seconds": round(seconds[name], 1), "noise": args.noise, "held_out": what,
                   "search": (f"{gan_settings.restarts} restarts × {gan_settings.steps} steps" if name == "gan" else
                              f"{settings.restarts} restarts × {settings.steps} steps") if "lasso" not in name else
                   "sklearn Lasso α 0.1",
                   "sparse": args.sparse if name == "vae+sparse" else None, "run": args.gan_run if name == "gan"
                   else args.run, "threads": args.threads, "machine": platform.processor() or platform.machine()}
            record(row, args.jsonl)
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["m"], r["method"]): r for r in rows}
    ms = sorted({r["m"] for r in rows})
    lines = ["| m | " + " | ".join(methods) + " | prior / Lasso |", "|---" * (len(methods) + 2) + "|"]
    for m in ms:
        cells = [f"{by[m, k]['mse']:.4f} ± {by[m, k]['ci95']:.4f}" if (m, k) in by else "" for k in methods]
        ratio = by[m, "vae"]["mse"] / by[m, "lasso"]["mse"] if (m, "vae") in by and (m, "lasso") in by else float("nan")
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    first = rows[0]
    lines.append("")
    lines.append(f"per-pixel MSE (pixels in [0, 1]), mean ± 95 % interval over {first['images']} images of "
                 f"{first['held_out']}; noise σ {first['noise']}; search: "
                 + "; ".join(sorted({f"{r['method']} {r['search']}" + (f" on the first {r['images']} images"
                                                                         if r["images"] != first["images"] else "")
                                     for r in rows if 'lasso' not in r['method']})))
    goal = []
    if (100, "vae") in by and (100, "lasso") in by:
        r = by[100, "vae"]["mse"] / by[100, "lasso"]["mse"]
        goal.append(f"m = 100: VAE prior / Lasso = {r:.3f} (goal ≤ 0.2: {'met' if r <= 0.2 else 'NOT met'})")
    if any(k == "vae+sparse" for _, k in by):
        worse = [m for m in ms if (m, "vae+sparse") in by and (m, "lasso") in by
                 and by[m, "vae+sparse"]["mse"] > by[m, "lasso"]["mse"]]
        goal.append("with the sparse deviation: " + ("never worse than the Lasso (goal met)" if not worse else
                                                     f"worse than the Lasso at m = {worse} (goal NOT met)"))
    return "\n".join([PUBLISHED, "", "ours:", "", *lines, "", *goal])


def figure(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"lasso": "Lasso (pixels)", "lasso-dct": "Lasso (DCT)", "vae": "VAE prior (CSGM)",
             "vae+sparse": "VAE prior + sparse deviation", "gan": "GAN prior (CSGM)"}
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in rows):
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["m"])
        label = names.get(method, method) + (f" ({rs[0]['images']} images)" if rs[0]["images"] != rows[0]["images"] else "")
        ax.errorbar([r["m"] for r in rs], [r["mse"] for r in rs], yerr=[r["ci95"] for r in rs], marker="o", ms=3,
                    capsize=2, label=label)
    ax.set_xlabel("measurements m (of 784 pixels)")
    ax.set_ylabel("per-pixel MSE")
    ax.set_yscale("log")
    ax.set_title(f"CSGM on MNIST: {rows[0]['images']} test digits, noise σ {rows[0]['noise']}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a trained VAE run (default: train mnist-vae-csgm for --train-steps)")
    p.add_argument("--train-steps", type=int, default=60000, help="steps of mnist-vae-csgm when --run is not given")
    p.add_argument("--gan-run", help="also recover with this unconditional GAN run's generator as the prior")
    p.add_argument("--gan-images", type=int, default=300, help="images the GAN prior recovers (the first ones)")
    p.add_argument("--methods", type=lambda s: s.split(","), default=None,
                   help="run only these of lasso, lasso-dct, vae, vae+sparse, gan (default: all that apply)")
    p.add_argument("--gan-steps", type=int, default=0, help="the GAN search's steps (default: --steps)")
    p.add_argument("--gan-restarts", type=int, default=0, help="the GAN search's restarts (default: --restarts)")
    p.add_argument("--images", type=int, default=300)
    p.add_argument("--group", type=int, default=50, help="images measured with one draw of A (the authors': 50)")
    p.add_argument("--measurements", type=lambda s: [int(v) for v in s.split(",")], default=list(PROTOCOL_M))
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--sparse", type=float, default=0.2, help="μ of the sparse deviation (0.2: the Lasso's weight)")
    p.add_argument("--dct", action="store_true", help="also the Lasso in the 2-D DCT basis")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for the trained VAE (with --train-steps)")
    p.add_argument("--jsonl", help="append each result to this file as it finishes")
    p.add_argument("--table-from", metavar="JSONL", help="print the table from earlier --jsonl results")
    p.add_argument("--figure", action="store_true", help="write benchmarks/figures/csgm-mnist.png")
    args = p.parse_args()
    if args.table_from:
        rows = read_rows(args.table_from)
    else:
        if not args.run:
            from saddlepoint import resolve_config, train

            _, cfg = resolve_config("mnist-vae-csgm", [f"steps={args.train_steps}", f"threads={args.threads}",
                                                       f"seed={args.seed}"])
            out = Path(args.out or "runs") / "csgm-vae"
            args.run = str(train(cfg, out=out, progress=sys.stderr.isatty()).run_dir)
        rows = run(args)
    print(f"\nmachine: {platform.processor() or platform.machine()}\n")
    print(table(rows))
    if args.figure:
        print(figure(rows, FIGURES / "csgm-mnist.png"))


if __name__ == "__main__":
    main()
