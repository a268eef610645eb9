"""The likelihood side on MNIST and the grid: VAE and IWAE test NLL, β-VAE's rate against distortion, the
conditional VAE's accuracy, attribute arithmetic, the blur beside a GAN, and the VAE on the 25-Gaussian grid.

Parts (each prints its table with the published rows beside ours, REFERENCES.md §7):

    python benchmarks/vae.py nll --jsonl vae.jsonl --out runs/       # mnist-vae and mnist-iwae, test NLL, k = 5000
    python benchmarks/vae.py nll --steps 60000 --recipe mnist-vae     # a longer VAE
    python benchmarks/vae.py nll --recipe mnist-vae --set vae_net=conv --set vae_activation=relu --set "vae_hidden=[256]"
    python benchmarks/vae.py beta --steps 5000                        # β ∈ {0.25, …, 8}: rate and distortion
    python benchmarks/vae.py cvae                                     # the classifier's accuracy on asked labels
    python benchmarks/vae.py cvae --beta 1 --beta 4 --set vae_net=mlp  # … at other β, with other players
    python benchmarks/vae.py attribute --run RUN                      # thickness and slant moved, digits kept
    python benchmarks/vae.py blur --run RUN --gan-run GAN             # sharpness of samples against real digits
    python benchmarks/vae.py grid --seeds 3                           # modes and high-quality fraction
    python benchmarks/vae.py PART --table-from vae.jsonl

``--run`` reuses a trained run instead of training one.  Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist),
except ``grid``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from common import machine, read_rows, record

FIGURES = Path(__file__).parent / "figures"
BETAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

PUBLISHED_NLL = """\
| published (REFERENCES.md §7: Burda et al. 2016, test NLL with k = 5000, 3,280 passes) | nats |
|---|---|
| VAE, 1 stochastic layer, dynamic binarization | 86.76 |
| IWAE k = 50, same model | 84.78 |
| VAE, static binarization (Burda et al.) | 88.71 |
| VAE, static binarization (pythae: latent 40, 400-unit layers, 500 epochs, k = 200) | 89.78 |
"""


def _run(recipe: str, overrides: list[str], args, name: str, run: str | None = None):
    """(summary, the run loaded with its data): ``run`` reused, or ``recipe`` + ``overrides`` trained into --out."""
    from saddlepoint import resolve_config, train
    from saddlepoint.trainer import load_run

    if run:
        model = load_run(run, load_data=True)
        torch.set_num_threads(args.threads)  # a loaded run keeps the process's threads: this command's --threads
        return _with_start(json.loads((Path(run) / "summary.json").read_text()), run), model
    out = Path(args.out or tempfile.mkdtemp(prefix="vae-bench-")) / name
    length = [f"steps={args.steps}"] if args.steps else []
    _, cfg = resolve_config(recipe, [*overrides, *length, f"threads={args.threads}", f"seed={args.seed}",
                                     "sample_every=0"])
    result = train(cfg, recipe=recipe, out=out, progress=True)  # into a log: a line every 30 s
    return _with_start(result.summary, result.run_dir), load_run(result.run_dir, load_data=True)


def _with_start(summary: dict, run_dir) -> dict:
    """The summary, with the run (and its step) that a fine-tuned run started from (``init_from``; None if none)."""
    from saddlepoint.trainer import run_info

    return {**summary, "init_from": run_info(Path(run_dir)).get("init_from")}


def _add(rows: list[dict], args, row: dict) -> None:
    """Keep a result row and record it (the --jsonl file and stdout) as it finishes."""
    rows.append(row)
    record(row, args.jsonl)


# --- test NLL --------------------------------------------------------------------------------------------------
def part_nll(args) -> list[dict]:
    rows = []
    for recipe in args.recipe or ["mnist-vae", "mnist-iwae"]:
        t0 = time.time()
        summary, model = _run(recipe, args.set or [], args, recipe, args.run)
        t1 = time.time()
        ev = model.test_nll(args.nll_samples, args.nll_images, progress=True)  # into a log: a line a minute
        _add(rows, args, {"part": "nll", "recipe": recipe, "players": model.cfg.vae_net, "iwae_k": model.cfg.iwae_k,
                          "steps": summary["steps"], "init_from": summary.get("init_from"),
                          "epochs": round(summary["steps"] * model.cfg.batch_size / 60_000, 1),
                          "train_seconds": round(summary["seconds"]), "threads": args.threads,
                          "train_threads": model.cfg.threads or "default",  # a reused --run's own
                          "nll": round(ev["nll"], 2), "nll_se": round(ev["nll_se"], 2),
                          "bits_per_dim": round(ev["bits_per_dim"], 4), "nll_samples": ev["nll_samples"],
                          "nll_images": ev["nll_images"], "eval_seconds": round(time.time() - t1),
                          "active_units": model.evaluate(2000)["active_units"], "protocol": ev["nll_protocol"],
                          "machine": machine(args.threads), "wall_seconds": round(time.time() - t0)})
    return rows


def table_nll(rows: list[dict]) -> str:
    lines = ["| recipe | bound trained | steps (epochs) | train time | test NLL (nats) | bits/dim | active units | "
             "k, images |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        bound = "ELBO" if r["iwae_k"] == 1 else f"IWAE k={r['iwae_k']}"
        players = " (conv players)" if r.get("players") == "conv" else ""
        after = f" after {r['init_from']['step']} of its source" if r.get("init_from") else ""
        lines.append(f"| {r['recipe']}{players} | {bound} | {r['steps']} ({r['epochs']}){after} | "
                     f"{r['train_seconds']} s, "
                     f"{r.get('train_threads', r['threads'])} thr | {r['nll']:.2f} ± {r['nll_se']:.2f} | "
                     f"{r['bits_per_dim']:.4f} | "
                     f"{r['active_units']} | {r['nll_samples']}, {r['nll_images']} |")
    return "\n".join(lines) + "\n\n" + PUBLISHED_NLL


# --- β-VAE: rate against distortion ---------------------------------------------------------------------------
@torch.no_grad()
def held_out_terms(model, n: int = 10_000) -> dict[str, float]:
    """Rate (KL to the prior) and distortion (−log p(x | z), one draw) on the fixed binarization of the first
    ``n`` test digits, in nats per image, and the active units there."""
    from saddlepoint.families.vae import gaussian_kl

    x, y, _ = model.held_out(n)
    seen, target = model.observe_fixed(x)
    model.E.eval(), model.G.eval()
    rate, distortion, mus = [], [], []
    g = torch.Generator().manual_seed(11)
    for sb, tb in zip(seen.split(500), target.split(500)):
        mu, logvar = model.E(sb)
        eps = torch.randn((1, *mu.shape), generator=g)
        log_px, _, _ = model._log_weights(mu, logvar, eps, tb, None, model.G)
        rate.append(gaussian_kl(mu, logvar).sum(1))
        distortion.append(-log_px[0])
        mus.append(mu)
    mu = torch.cat(mus)
    return {"rate": float(torch.cat(rate).mean()), "distortion": float(torch.cat(distortion).mean()),
            "active_units": int((mu.var(0) > 0.01).sum())}


def part_beta(args) -> list[dict]:
    rows = []
    for beta in args.beta or BETAS:
        summary, model = _run("mnist-beta-vae", [f"beta={beta}"], args, f"beta-{beta:g}")
        terms = held_out_terms(model)
        _add(rows, args, {"part": "beta", "beta": beta, "steps": summary["steps"], "train_seconds": round(summary["seconds"]),
                     "threads": args.threads, "z_dim": model.cfg.z_dim, **{k: round(v, 2) for k, v in terms.items()},
                     "machine": machine(args.threads)})
    return rows


def table_beta(rows: list[dict]) -> str:
    rows = sorted(rows, key=lambda r: r["beta"])
    lines = ["| β | steps | rate KL (nats) | distortion −log p(x \\| z) (nats) | −ELBO at β = 1 | active units of "
             f"{rows[0]['z_dim'] if rows else '?'} |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['beta']:g} | {r['steps']} | {r['rate']:.2f} | {r['distortion']:.2f} | "
                     f"{r['rate'] + r['distortion']:.2f} | {r['active_units']} |")
    rates = [r["rate"] for r in rows]
    falls = all(a > b for a, b in zip(rates, rates[1:]))
    lines.append(f"\nrate falls monotonically with β: {'yes' if falls else 'NO'}")
    if rows:
        _plot_beta(rows)
    return "\n".join(lines)


def _plot_beta(rows: list[dict]) -> None:
    from saddlepoint import plots

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([r["rate"] for r in rows], [r["distortion"] for r in rows], "o-")
    for r in rows:
        ax.annotate(f"β={r['beta']:g}", (r["rate"], r["distortion"]), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("rate: KL(q(z|x) ‖ p(z)), nats")
    ax.set_ylabel("distortion: −log p(x|z), nats")
    ax.set_title("β-VAE on MNIST, held-out test digits")
    FIGURES.mkdir(exist_ok=True)
    plots.save(fig, FIGURES / "beta-vae-rate-distortion.png")


# --- the conditional VAE ---------------------------------------------------------------------------------------
def part_cvae(args) -> list[dict]:
    """The recipe (or a --run), or the recipe at each --beta, with the --set overrides: the shipped classifier's
    accuracy on 10,000 samples asked for every label equally often; how often a held-out digit's code decoded with
    another label is read as that label (the label followed, not the code's digit); the rate; −log p(x | y)."""
    from saddlepoint.metrics.images import evaluate_images

    rows = []
    for beta in args.beta or [None]:
        over = [*(args.set or []), *([f"beta={beta:g}"] if beta is not None else [])]
        name = "mnist-cvae" + "".join(f"-{o.replace('=', '')}" for o in over)
        summary, model = _run("mnist-cvae", over, args, name, args.run)
        ev = evaluate_images(model, ["accuracy"], n=10_000, backbone="mnist")
        swap, rate = _label_swap(model)
        if args.figure:
            _analogies(model, FIGURES / f"cvae-{model.cfg.vae_net}-beta{model.cfg.beta:g}-analogies.png")
        nll = model.test_nll(args.nll_samples, args.nll_images)
        _add(rows, args, {"part": "cvae", "players": model.cfg.vae_net, "beta": model.cfg.beta,
                          "steps": summary["steps"], "train_seconds": round(summary["seconds"]), "threads": args.threads,
                          "accuracy": round(ev["accuracy"], 4),
                          "worst_class": round(min(ev[f"accuracy/{i}"] for i in range(10)), 4),
                          "label_swap": round(swap, 4), "kl": round(rate, 2), "nll_given_label": round(nll["nll"], 2),
                          "nll_se": round(nll["nll_se"], 2), "nll_samples": nll["nll_samples"],
                          "machine": machine(args.threads)})
    return rows


@torch.no_grad()
def _label_swap(model, n: int = 2000) -> tuple[float, float]:
    """(how often the shipped classifier reads label y + 3 in the decoding of a test digit's code under y + 3, the
    mean KL of those codes' posteriors): where the code carries the digit, the new label is not followed."""
    from saddlepoint.families.vae import gaussian_kl
    from saddlepoint.metrics.mnist_classifier import load_mnist_classifier

    clf = load_mnist_classifier().eval()
    x, y, _ = model.held_out(n)
    codes = model.encode(x, y)
    other = (y + 3) % 10
    read = torch.cat([clf(model.decode(c, o).cpu()).argmax(1) for c, o in zip(codes.split(500), other.split(500))])
    seen = model.observe_fixed(x / model.scale)[0]
    mu, logvar = model.E(seen.to(model.device), y.to(model.device))
    return float((read == other).float().mean()), float(gaussian_kl(mu, logvar).sum(1).mean())


@torch.no_grad()
def _analogies(model, path: Path, n: int = 8) -> None:
    """Rows of: a test digit (as the encoder read it) | its code decoded under each label 0..9 — the style kept and
    the digit changed where the decoder follows the label."""
    from torchvision.utils import save_image

    x, y, _ = model.held_out(n)
    codes = model.encode(x, y)
    labels = torch.arange(10)
    rows = [torch.cat([model.observe_fixed(x[i:i + 1])[0], model.decode(codes[i:i + 1].expand(10, -1), labels).cpu()])
            for i in range(n)]
    FIGURES.mkdir(exist_ok=True)
    save_image(torch.cat(rows), str(path), nrow=11, normalize=True, value_range=(-1, 1), pad_value=1.0)
    print(f"wrote {path}")


def table_cvae(rows: list[dict]) -> str:
    lines = ["| model | players | β | steps | train time | MNIST classifier reads the asked label | worst class | "
             "a test digit's code, decoded under another label: read as that label | rate KL (nats) | "
             "−log p(x \\| y) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        swap = f"{100 * r['label_swap']:.1f} %" if "label_swap" in r else ""
        kl = f"{r['kl']:.2f}" if "kl" in r else ""
        lines.append(f"| mnist-cvae | {r.get('players', 'mlp')} | {r.get('beta', 1):g} | {r['steps']} | "
                     f"{r['train_seconds']} s | {100 * r['accuracy']:.1f} % | {100 * r['worst_class']:.1f} % | {swap} | "
                     f"{kl} | {r['nll_given_label']:.2f} ± {r['nll_se']:.2f} (k = {r['nll_samples']}) |")
    lines.append("| the cGAN recipe here (mnist-cgan, BENCHMARKS.md) | | | | | 98.7 % | | | | no likelihood |")
    return "\n".join(lines)


# --- attribute arithmetic ----------------------------------------------------------------------------------------
def part_attribute(args) -> list[dict]:
    from saddlepoint.attributes import attribute_direction, edit, save_attribute_picture

    summary, model = _run("mnist-vae", [], args, "mnist-vae", args.run)
    rows = []
    for attribute in ("thickness", "slant"):
        found = attribute_direction(model, attribute, 5000)
        for amount in args.amount or (0.5, 1.0, 1.5, 2.0):
            result = edit(model, found, amount, rows=10, n_report=1000)
            rep = result["report"]
            _add(rows, args, {"part": "attribute", "attribute": attribute, "amount": amount, "steps": summary["steps"],
                         "data_std": round(rep["data_std"], 3), "moved": round(rep["moved"], 3),
                         "moved_in_std": round(rep["moved_in_std"], 2), "digit_kept": round(rep["digit_kept"], 4),
                         "digit_kept_reconstruction": round(rep["digit_kept_reconstruction"], 4),
                         "machine": machine(args.threads)})
            if amount == 1.5:
                FIGURES.mkdir(exist_ok=True)
                save_attribute_picture(result["picture"], FIGURES / f"vae-attribute-{attribute}.png")
    return rows


def table_attribute(rows: list[dict]) -> str:
    lines = ["| attribute | amount a | moved (its unit) | moved / data std | digit kept | digit kept, plain "
             "reconstruction |", "|---|---|---|---|---|---|"]
    for r in rows:
        unit = "ink px per skeleton px" if r["attribute"] == "thickness" else "degrees"
        lines.append(f"| {r['attribute']} | {r['amount']:g} | {r['moved']:+.3f} {unit} | {r['moved_in_std']:+.2f} | "
                     f"{100 * r['digit_kept']:.1f} % | {100 * r['digit_kept_reconstruction']:.1f} % |")
    return "\n".join(lines) + "\n\ngoal (the issue): thickness moves ≥ 1 std of the data's with the digit kept ≥ 90 %"


# --- the blur ---------------------------------------------------------------------------------------------------
def sharpness(images: torch.Tensor) -> float:
    """Mean Sobel gradient magnitude of (N, 1, H, W) images in [−1, 1], on [0, 1] intensities."""
    from skimage.filters import sobel

    grey = ((images[:, 0] + 1) / 2).clamp(0, 1).numpy()
    return float(sum(sobel(im).mean() for im in grey) / len(grey))


def part_blur(args) -> list[dict]:
    from torchvision.utils import make_grid, save_image

    from saddlepoint.trainer import load_run

    _, vae = _run("mnist-vae", [], args, "mnist-vae", args.run)
    x, _, _ = vae.held_out(1000)
    pictures = {"real test digits": x, "VAE samples (decoded means)": vae.generate(1000),
                "VAE reconstructions": vae.decode(vae.encode(x))}
    if args.gan_run:
        pictures["DCGAN samples"] = load_run(args.gan_run).generate(1000)
    rows = []
    for what, images in pictures.items():
        _add(rows, args, {"part": "blur", "images": what, "sharpness": round(sharpness(images), 4),
                     "machine": machine(args.threads)})
    FIGURES.mkdir(exist_ok=True)
    strip = torch.cat([images[:16] for images in pictures.values()])
    save_image(make_grid(strip, nrow=16, normalize=True, value_range=(-1, 1), pad_value=1.0),
               str(FIGURES / "vae-blur.png"))
    return rows


def table_blur(rows: list[dict]) -> str:
    real = next((r["sharpness"] for r in rows if r["images"] == "real test digits"), None)
    lines = ["| images (1000) | mean Sobel gradient magnitude | against real digits |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['images']} | {r['sharpness']:.4f} | "
                     f"{100 * r['sharpness'] / real:.0f} % |" if real else f"| {r['images']} | {r['sharpness']:.4f} | |")
    return "\n".join(lines) + "\n\n(rows of benchmarks/figures/vae-blur.png, top to bottom, in this order)"


# --- the grid ----------------------------------------------------------------------------------------------------
def part_grid(args) -> list[dict]:
    rows = []
    for seed in range(args.seed, args.seed + args.seeds):
        args_seed = argparse.Namespace(**{**vars(args), "seed": seed})
        summary, model = _run("grid25-vae", [], args_seed, f"grid25-vae-seed{seed}")
        q = model.evaluate(2500)
        nll = model.test_nll(1000, 2000)
        _add(rows, args, {"part": "grid", "seed": seed, "steps": summary["steps"], "train_seconds": round(summary["seconds"]),
                     "modes": q["modes"], "high_quality": round(q["high_quality"], 4),
                     "reverse_kl": round(q["reverse_kl"], 4), "active_units": q["active_units"],
                     "nll": round(nll["nll"], 3), "machine": machine(args.threads)})
    return rows


def table_grid(rows: list[dict]) -> str:
    lines = ["| grid25-vae seed | steps | train time | modes of 25 | high quality | reverse KL | active units of 2 | "
             "test NLL (nats/point) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['steps']} | {r['train_seconds']} s | {r['modes']} | "
                     f"{100 * r['high_quality']:.1f} % | {r['reverse_kl']:.3f} | {r['active_units']} | {r['nll']:.3f} |")
    lines.append("| the GAN recipe grid25 (BENCHMARKS.md, 10 seeds) | 18000 | | 25 | 97.1 % | 0.005 | | no likelihood |")
    return "\n".join(lines)


PARTS = {"nll": (part_nll, table_nll), "beta": (part_beta, table_beta), "cvae": (part_cvae, table_cvae),
         "attribute": (part_attribute, table_attribute), "blur": (part_blur, table_blur),
         "grid": (part_grid, table_grid)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=list(PARTS))
    p.add_argument("--recipe", action="append", help="nll: the recipes to train (default mnist-vae, mnist-iwae)")
    p.add_argument("--run", help="reuse this trained run instead of training (nll, cvae, attribute, blur)")
    p.add_argument("--gan-run", help="blur: a trained mnist-dcgan run whose samples stand beside the VAE's")
    p.add_argument("--steps", type=int, default=0, help="training steps (default: the recipe's own)")
    p.add_argument("--beta", type=float, action="append", help="beta: these β only (default 0.25 … 8); cvae: train "
                   "the recipe at each of these β (default its own)")
    p.add_argument("--figure", action="store_true", help="cvae: draw each run's codes under every label into "
                   "benchmarks/figures")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="nll, cvae: override a key of the recipe")
    p.add_argument("--amount", type=float, action="append", help="attribute: these amounts (default 0.5 … 2)")
    p.add_argument("--seeds", type=int, default=3, help="grid: seeds")
    p.add_argument("--nll-samples", type=int, default=5000)
    p.add_argument("--nll-images", type=int, default=None, help="test images scored (default all 10,000)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for the runs (default: a temporary one)")
    p.add_argument("--jsonl", help="append each result to this file as it finishes")
    p.add_argument("--table-from", metavar="JSONL", help="print the table from earlier --jsonl results")
    args = p.parse_args(argv)
    if args.run and (args.set or (args.beta and args.part == "cvae")):
        p.error("--run measures a trained run as it is, and --set / --beta train new ones: give one or the other")
    run, table = PARTS[args.part]
    if args.table_from:
        print(table([r for r in read_rows(args.table_from) if r.get("part") == args.part]))
        return 0
    torch.set_num_threads(args.threads)
    rows = run(args)
    print(f"\nmachine: {machine(args.threads)}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
