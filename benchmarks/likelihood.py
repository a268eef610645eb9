"""GANs, VAEs and GMMNs on one likelihood scale: annealed importance sampling of held-out data (MNIST test digits,
or fresh draws of a 2-D shape) for trained runs of each family, the bidirectional Monte Carlo gap that says how far
to trust it, and the Parzen-window estimate and (for a VAE) the importance-sampled bound beside it, with the
published rows (REFERENCES.md §7, §8).

    python benchmarks/likelihood.py --run gan=RUN --run vae=RUN --run gmmn=RUN --images 50 --bdmc 4 \\
        --jsonl likelihood.jsonl
    python benchmarks/likelihood.py --table-from likelihood.jsonl
    python benchmarks/likelihood.py --run cgan=RUN --run cvae=RUN --marginal --images 20 --sigma 0.05

A class-conditional run (cGAN, AC-GAN, conditional VAE) is scored given each digit's own label, log p(x | y); with
``--marginal`` also given every other class, which gives log p(x) (a uniform label prior) and the model as a Bayes
classifier, beside the shipped MNIST classifier's accuracy on the same digits.

Each run is scored as ``saddlepoint evaluate RUN --metrics ais`` scores it: a generator with Gaussian noise of a
width σ chosen on 16 validation examples, a VAE with its own likelihood (Bernoulli pixels: a probability of
binary images on a fixed binarization, so its nats are not on the scale of the continuous densities).  Image runs
need MNIST in the data home.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from common import machine, read_rows, record

PUBLISHED = """\
| published | what | nats |
|---|---|---|
| GAN (Goodfellow et al. 2014), REFERENCES.md §8 | Parzen window, 10,000 samples | 225 ± 2 |
| GMMN (Li et al. 2015), §8 (secondary source) | Parzen window | 147 ± 2 |
| GMMN+AE (Li et al. 2015), §8 | Parzen window | 282 ± 2 |
| VAE 784-200-200-50 (Burda et al. 2016), §7 | log p(x), k = 5000, dynamically binarized, 3,280 passes | −86.76 |
"""


def score(name: str, run: str, args) -> dict:
    from saddlepoint.metrics.ais import evaluate_ais
    from saddlepoint.metrics.images import mnist_parzen
    from saddlepoint.trainer import load_run

    exp = load_run(run, load_data=True)
    recipe = json.loads((Path(run) / "run.json").read_text()).get("recipe")
    row: dict = {"name": name, "run": run, "recipe": recipe, "family": exp.name, "step": exp.step,
                 "machine": machine(args.threads)}
    started = time.perf_counter()
    labelled = exp.likelihood_parts().labelled
    sigma = None if exp.own_likelihood else args.sigma
    row.update(evaluate_ais(exp, images=args.images, chains=args.chains, steps=args.steps, bdmc=args.bdmc,
                            sigma=sigma, marginal=args.marginal and labelled, progress=sys.stderr.isatty()))
    row["ais_seconds"] = round(time.perf_counter() - started, 1)
    if labelled and exp.cfg.data == "mnist":  # the discriminative reference on the same digits
        from saddlepoint.metrics.images import mnist_backbone

        x, labels, _ = exp.held_out(row["ais_images"])
        with torch.no_grad():
            read = mnist_backbone()[0](x)[1].argmax(1)
        row["classifier_accuracy"] = float((read == labels).float().mean())
    if labelled:
        return row  # the Parzen window and the encoder's bound score log p(x), which this run does not sample
    if hasattr(exp, "test_nll"):  # the encoder's importance sampling on the same images
        nll = exp.test_nll(k=args.nll_samples, n=args.images)
        # an image Gaussian's nll is a density of pixels in [−1, 1]; AIS reports pixels in [0, 1]: D·log 2 apart
        pixels = exp.channels * exp.cfg.image_size ** 2
        shift = pixels * math.log(2) if exp.images and not exp.bernoulli else 0.0
        row["iwae_ll"], row["iwae_se"], row["iwae_k"] = shift - nll["nll"], nll["nll_se"], args.nll_samples
        row["likelihood"] = "Bernoulli" if exp.bernoulli else "Gaussian"
    if exp.images:
        row.update(mnist_parzen(exp.generate(10_000)))
    else:  # in two dimensions a Parzen window is a fair density estimate: the same fresh draws AIS scored
        from saddlepoint.metrics.parzen import parzen_window

        draws = lambda n, seed: exp.data.sample(n, torch.Generator().manual_seed(seed))  # noqa: E731
        row.update(parzen_window(exp.generate(10_000), draws(1000, 7), draws(args.images, 2018 + 4), PARZEN_2D))
    return row


PARZEN_2D = tuple(round(0.005 * 1.25 ** i, 4) for i in range(20))  # 0.005 … 0.35, the data's units


def _n(v: float, like: float | None = None) -> str:
    """Nats: one decimal for images (hundreds of nats), three for 2-D points (a few); ``like``: the value whose
    scale decides (a standard error or a gap is written as its estimate is)."""
    return f"{v:.1f}" if abs(v if like is None else like) >= 10 else f"{v:.3f}"


def conditional_table(rows: list[dict]) -> str:
    """Label-conditional runs: log p(x | y), and with --marginal log p(x), Bayes' rule's accuracy and log p(y | x)."""
    out = ["| run | family | step | log p(x \\| y) (σ) | log p(x) | Bayes accuracy | log p(y \\| x) | MNIST classifier "
           "| BDMC gap (images) | acceptance | AIS time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sigma = f" (σ {r['ais_sigma']:g})" if "ais_sigma" in r else " (its own)"
        marginal = (f"{_n(r['ais_ll'])} ± {_n(r['ais_se'], r['ais_ll'])} | {r['ais_bayes_accuracy']:.0%} | "
                    f"{r['ais_label_ll']:.3f}" if "ais_ll" in r else "— | — | —")
        gap = f"{_n(r['bdmc_gap'], r['ais_cond_ll'])} ({r['bdmc_images']})" if "bdmc_gap" in r else "—"
        reader = f"{r['classifier_accuracy']:.0%}" if "classifier_accuracy" in r else "—"
        out.append(f"| {r['name']} | {r['family']} | {r['step']} | {_n(r['ais_cond_ll'])} ± "
                   f"{_n(r['ais_cond_se'], r['ais_cond_ll'])}{sigma} | {marginal} | {reader} | {gap} | "
                   f"{r['ais_acceptance']:.2f} | {r['ais_seconds']:.0f} s |")
    r = rows[0]
    out.append(f"\nAIS: {r['ais_protocol'].split(';')[0]}, {r['ais_chains']} chains × {r['ais_steps']} distributions "
               f"given each class; log p(x) = log (1/10) Σ_y p(x | y). Machine: {r['machine']}.")
    return "\n".join(out)


def table(rows: list[dict]) -> str:
    labelled = [r for r in rows if "ais_cond_ll" in r]
    rows = [r for r in rows if "ais_cond_ll" not in r]
    if not rows:
        return conditional_table(labelled)
    out = ["| run | family | step | AIS log p(x) (σ) | BDMC gap (images) | acceptance | IS from the encoder | "
           "Parzen (σ) | AIS time |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sigma = f" (σ {r['ais_sigma']:g})" if "ais_sigma" in r else f" (its {r.get('likelihood', 'own')})"
        gap = f"{_n(r['bdmc_gap'], r['ais_ll'])} ({r['bdmc_images']})" if "bdmc_gap" in r else "—"
        iwae = f"{_n(r['iwae_ll'])} ± {_n(r['iwae_se'], r['iwae_ll'])} (k = {r['iwae_k']})" if "iwae_ll" in r else "—"
        ais = f"{_n(r['ais_ll'])} ± {_n(r['ais_se'], r['ais_ll'])}{sigma}"
        parzen = f"{_n(r['parzen_ll'])} ± {_n(r['parzen_se'], r['parzen_ll'])} ({r['parzen_sigma']:g})"
        out.append(f"| {r['name']} | {r['family']} | {r['step']} | {ais} | {gap} | {r['ais_acceptance']:.2f} | "
                   f"{iwae} | {parzen} | {r['ais_seconds']:.0f} s |")
    if rows:
        r = rows[0]
        if any(q.get("likelihood") == "Bernoulli" for q in rows):
            out.append("\nA VAE with Bernoulli pixels gives probabilities of binary images (one fixed binarization); "
                       "the other rows are densities of continuous values.")
        out.append("")
        held_out = r["ais_protocol"].split(";")[0]
        parzen = ("all 10,000 test digits, σ chosen on training digits 50,000–59,999" if "parzen_protocol" in r
                  else "the same draws as AIS, σ chosen on 1000 other fresh draws")
        out.append(f"AIS: {held_out}, {r['ais_chains']} chains × {r['ais_steps']} distributions, "
                   f"{r['ais_leapfrog']} leapfrog steps; Parzen: 10,000 samples, {parzen}. Machine: {r['machine']}.")
    return "\n".join(out) + "\n\n" + PUBLISHED + ("\n" + conditional_table(labelled) if labelled else "")


def draw(rows: list[dict], path: Path) -> None:
    """One line per run: the Parzen-window number, the AIS estimate ± 2 s.e., and the BDMC gap above it (how far
    the estimate may sit below the truth)."""
    from saddlepoint.plots import plt, save

    rows = [r for r in rows if "parzen_ll" in r]  # the unconditional runs
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(rows) + 1.4))
    for i, r in enumerate(rows):
        ax.errorbar(r["ais_ll"], i, xerr=2 * r["ais_se"], fmt="o", color="C0", capsize=3,
                    label="AIS (± 2 s.e.)" if i == 0 else None)
        if "bdmc_gap" in r:
            ax.plot([r["ais_ll"], r["ais_ll"] + r["bdmc_gap"]], [i + 0.15] * 2, color="C2", lw=3,
                    label="the BDMC gap above it" if i == 0 else None)
        ax.plot(r["parzen_ll"], i, "s", color="C3", label="Parzen window" if i == 0 else None)
        if "iwae_ll" in r:
            ax.plot(r["iwae_ll"], i - 0.15, "^", color="C1", label="importance sampling from the encoder"
                    if not any("iwae_ll" in q for q in rows[:i]) else None)
    ax.set_yticks(range(len(rows)), [f"{r['name']}\n(step {r['step']})" for r in rows])
    ax.set(xlabel="log p(x), nats per held-out example", title="One likelihood scale: AIS against the Parzen window")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", default=[], metavar="NAME=RUN", help="a trained run to score")
    p.add_argument("--images", type=int, default=50, help="test digits scored by AIS (default 50)")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--steps", type=int, default=1000, help="AIS distributions (default 1000)")
    p.add_argument("--bdmc", type=int, default=4, help="simulated digits annealed both ways (default 4)")
    p.add_argument("--nll-samples", type=int, default=5000, help="a VAE's importance samples (default 5000)")
    p.add_argument("--sigma", type=float, help="a generator's pixel noise (default: chosen on validation digits)")
    p.add_argument("--marginal", action="store_true", help="class-conditional runs: also log p(x) and Bayes' rule")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--jsonl", help="append each row to this file as it finishes")
    p.add_argument("--figure", metavar="PNG", help="draw each run's AIS estimate (with its BDMC gap) beside its "
                                                   "Parzen-window number")
    p.add_argument("--table-from", metavar="JSONL", help="print the table of earlier --jsonl rows")
    args = p.parse_args(argv)
    if args.table_from:
        rows = read_rows(args.table_from)
        print(table(rows))
        if args.figure:
            draw(rows, Path(args.figure))
        return 0
    if not args.run:
        p.error("give at least one --run NAME=RUN")
    torch.set_num_threads(args.threads)
    rows = []
    for item in args.run:
        name, _, run = item.partition("=")
        if not run:
            p.error(f"--run {item}: write NAME=RUN")
        rows.append(score(name, run, args))
        record(rows[-1], args.jsonl)
    print(table(rows))
    if args.figure:
        draw(rows, Path(args.figure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
