"""Progressive growing against the DCGAN recipe on MNIST, in the same wall-clock budget on this machine.

Both recipes train for ``--minutes`` of training time (evaluation time is not counted).  The ProGAN run is
measured at the end of every phase it reaches (each resolution's stable stretch and each fade-in) and at the
end; the DCGAN run at the same training times.  Each measurement: FID and k-NN precision and recall on the
shipped MNIST classifier's features, ``--samples`` samples against the test digits.

    python benchmarks/progan.py --minutes 20 --threads 1 --jsonl progan.jsonl
    python benchmarks/progan.py --table-from progan.jsonl

Needs MNIST in the data home ($SADDLEPOINT_DATA/mnist).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import print_table_from, record  # noqa: E402


def phase_ends(cfg) -> list[int]:
    """The generator steps at which a ProGAN phase ends (stable, fade, stable, ...)."""
    from saddlepoint.nets.common import resolution_plan

    levels = resolution_plan(cfg.image_size)[1]
    per = lambda images: -(-images // cfg.batch_size)
    ends, step = [per(cfg.progan_stable_images)], per(cfg.progan_stable_images)
    for _ in range(levels):
        step += per(cfg.progan_fade_images)
        ends.append(step)
        step += per(cfg.progan_stable_images)
        ends.append(step)
    return ends


def run(recipe: str, overrides: list[str], minutes: float, threads: int, samples: int, checkpoints: list[float] | None,
        jsonl: str | None, label: str) -> list[float]:
    """Train ``recipe`` for ``minutes`` of training time, measuring at ProGAN's phase ends (``checkpoints`` None)
    or at the given training seconds; returns the training seconds at which it measured."""
    import torch

    from saddlepoint import resolve_config
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.trainer import advance, build, start_from

    torch.set_num_threads(threads)
    _, cfg = resolve_config(recipe, [*overrides, "steps=100000000", "lr_decay=none", "eval_every=0"])
    model = build(cfg)
    start_from(model)  # --progan init_from=RUN: a fine-tuning run, timed the same way
    ends = phase_ends(cfg) if checkpoints is None else []
    spent, times = 0.0, []
    todo = list(checkpoints or [])

    def measure(why: str) -> None:
        ev = evaluate_images(model, ["fid", "pr"], n=samples)
        growth = model.growing.phase() if model.growing is not None else None
        row = {"run": label, "recipe": recipe, "overrides": overrides, "step": model.step,
               "train_minutes": round(spent / 60, 2), "at": why, "fid": round(ev["fid"], 2),
               "precision": round(ev["precision"], 4), "recall": round(ev["recall"], 4), "threads": threads,
               "samples": samples}
        if growth is not None:
            row["side"] = model.growing.base * 2 ** growth[0]
            row["alpha"] = round(growth[1], 3)
        record(row, jsonl)
        times.append(spent)

    while spent < minutes * 60:
        t0 = time.perf_counter()
        advance(model)
        spent += time.perf_counter() - t0
        if ends and model.step == ends[0]:
            ends.pop(0)
            measure("phase end")
        while todo and spent >= todo[0]:
            todo.pop(0)
            measure("same training time as a ProGAN phase end")
    measure("budget end")
    return times


def table(rows: list[dict]) -> str:
    lines = ["| run | step | train min | at | last step: side, α | FID | precision | recall |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        phase = f"{r['side']} px, {r['alpha']:g}" if "side" in r else "—"
        lines.append(f"| {r['run']} | {r['step']} | {r['train_minutes']:.1f} | {r['at']} | {phase} | {r['fid']:.1f} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} |")
    return "\n".join(lines) + "\n\nFID, precision and recall on the MNIST classifier's features (compare rows only)."


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=20.0, help="training minutes per recipe")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--progan", action="append", default=[], metavar="KEY=VALUE", help="override for mnist-progan")
    p.add_argument("--dcgan", action="append", default=[], metavar="KEY=VALUE", help="override for mnist-dcgan")
    p.add_argument("--only", choices=["progan", "dcgan"],
                   help="train one recipe (the DCGAN one then measures at the budget end only)")
    p.add_argument("--jsonl", help="append each row to this file")
    p.add_argument("--table-from", help="print the table of a rows file and stop")
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    times = [0.0]
    if args.only != "dcgan":
        times = run("mnist-progan", args.progan, args.minutes, args.threads, args.samples, None, args.jsonl, "progan")
    if args.only != "progan":
        run("mnist-dcgan", args.dcgan, args.minutes, args.threads, args.samples, times[:-1], args.jsonl, "dcgan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
