"""The truncation trick's curve (Brock et al. 2019, Fig. 4): FID against precision as the threshold t shrinks.

For a trained image run, samples are drawn with z from the standard normal truncated at ±t (by resampling, as
`saddlepoint sample --truncation t` does) for each t, then measured on the MNIST classifier's features: FID,
k-NN precision and recall (Kynkäänniemi et al. 2019), and for a class-conditional run the classifier's accuracy
on the asked classes.  BigGAN reports that a smaller t raises precision (and IS) and lowers variety, so FID first
improves a little and then worsens; the curve shows whether this run does the same.

    python benchmarks/truncation.py RUN [--samples 5000] [--thresholds 0.25,0.5,1,1.5,2] [-o curve.png]
    python benchmarks/truncation.py --table-from rows.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import print_table_from, record

sys.path.insert(0, str(Path(__file__).resolve().parent))


def table(rows: list[dict]) -> str:
    lines = ["| run | t | samples | FID | precision | recall | accuracy |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = f"{100 * r['accuracy']:.1f} %" if "accuracy" in r else "—"
        t = "none" if r["t"] is None else f"{r['t']:g}"
        lines.append(f"| {Path(r['run']).name} | {t} | {r['samples']} | {r['fid']:.2f} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {acc} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?")
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--thresholds", default="0.25,0.5,0.75,1,1.5,2", help="comma-separated t; the prior is added")
    p.add_argument("-o", "--out", help="the curve's figure (default RUN/truncation-curve.png)")
    p.add_argument("--sampler", choices=("run", "g"), default="run",
                   help="run: the run's own sampler (its EMA or mixture, if trained with one); g: the last iterate")
    p.add_argument("--jsonl", help="append each row to this file")
    p.add_argument("--table-from", help="print the table of a rows file and stop")
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    if not args.run:
        p.error("give a RUN (or --table-from)")
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.train import load_run

    exp = load_run(args.run, load_data=True)
    if args.sampler == "g":
        exp.G_ema, exp.mixture = None, None
    metrics = ["fid", "pr"] + (["accuracy"] if exp.condition is not None and exp.condition.needs_labels else [])
    rows = []
    for t in [*(float(v) for v in args.thresholds.split(",")), None]:
        exp.use_truncation(t)
        ev = evaluate_images(exp, metrics, n=args.samples)
        row = {"run": str(args.run), "sampler": args.sampler, "t": t, "samples": args.samples, "fid": ev["fid"], "precision": ev["precision"],
               "recall": ev["recall"], **({"accuracy": ev["accuracy"]} if "accuracy" in ev else {})}
        record(row, args.jsonl)
        rows.append(row)
    print(table(rows))
    from saddlepoint.plots import plt, save

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot([r["precision"] for r in rows], [r["fid"] for r in rows], "o-")
    for r in rows:
        ax.annotate("prior" if r["t"] is None else f"t={r['t']:g}", (r["precision"], r["fid"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel="precision (k-NN, MNIST classifier features)", ylabel="FID (MNIST classifier features)",
           title=f"truncation curve: {Path(args.run).name}")
    fig.tight_layout()
    out = Path(args.out or Path(args.run) / "truncation-curve.png")
    save(fig, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
