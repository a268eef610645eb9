"""Mode coverage on PacGAN's 2-D mixtures: every objective, ring and grid, over seeds.

Prints a markdown table of mean ± standard error (modes captured, high-quality fraction, reverse KL,
seconds per seed) beside PacGAN's Table 1 (Lin et al. 2018), measured with the same protocol
(2500 samples, high quality within 3 std; see ../shared/REFERENCES.md §1).

    python benchmarks/modes2d.py                          # recipes at full length + every objective
    python benchmarks/modes2d.py --only recipe --seeds 10 # the best recipe only
    python benchmarks/modes2d.py --objective-steps 3000 --seeds 3 --workers 2 --jsonl runs.jsonl
    python benchmarks/modes2d.py --table-from runs.jsonl

Each objective row uses the dataset's recipe (architecture, learning rates, decay) with only the
objective's own keys changed, so rows differ in the game and its regularizer alone — except that the
objective rows evaluate the raw generator (ema=0): an EMA without warm-up lags badly in short runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

RECIPE = "recipe (NS GAN + R1 + EMA)"
# The game and its regularizer: keys layered over the dataset's recipe.  "recipe" is the recipe as is.
OBJECTIVES: dict[str, list[str]] = {
    "recipe (NS GAN + R1 + EMA)": [],
    "minimax GAN": ["game=minimax", "r1=0"],
    "non-saturating GAN": ["game=nonsaturating", "r1=0"],
    "f-GAN KL": ["game=fgan-kl", "r1=0"],
    "f-GAN reverse KL": ["game=fgan-reverse_kl", "r1=0"],
    "f-GAN Pearson χ²": ["game=fgan-pearson", "r1=0"],
    "f-GAN Neyman χ²": ["game=fgan-neyman", "r1=0"],
    "f-GAN squared Hellinger": ["game=fgan-hellinger", "r1=0"],
    "f-GAN Jensen-Shannon": ["game=fgan-js", "r1=0"],
    "f-GAN GAN": ["game=fgan-gan", "r1=0"],
    "f-GAN total variation": ["game=fgan-tv", "r1=0"],
    "least squares": ["game=lsgan", "r1=0"],
    "WGAN (clip 0.01, k=5)": ["game=wasserstein", "r1=0", "weight_clip=0.01", "critic_steps=5", "lr_g=1e-4",
                               "lr_d=1e-4"],
    "WGAN-GP (λ=10, k=5)": ["game=wasserstein", "r1=0", "gradient_penalty=10", "critic_steps=5", "lr_g=1e-4",
                             "lr_d=1e-4", "beta2=0.9"],
    "hinge + spectral norm": ["game=hinge", "r1=0", "spectral_norm=true"],
}

# Rows of another model family: its own recipe (at its full length, --seeds seeds) on each dataset.
GMMN = "GMMN (√MMD², no critic)"
OTHER_FAMILIES: dict[str, tuple[str, list[str]]] = {GMMN: ("gmmn-grid25", ["data={dataset}"])}

PACGAN = {  # PacGAN Table 1: modes (± s.e.), high quality %, reverse KL — ring then grid
    "GAN": (("6.3±0.5", "98.2%", "0.45"), ("17.3±0.8", "94.8%", "0.70")),
    "ALI": (("6.6±0.3", "97.6%", "0.36"), ("24.1±0.4", "95.7%", "0.14")),
    "PacGAN2": (("7.9±0.1", "95.6%", "0.07"), ("23.8±0.7", "91.3%", "0.13")),
    "PacGAN3": (("7.8±0.1", "97.7%", "0.10"), ("24.6±0.4", "94.2%", "0.06")),
    "PacGAN4": (("7.8±0.1", "95.9%", "0.07"), ("24.8±0.2", "93.6%", "0.04")),
}


def _run(job: tuple[str, str, list[str], int, int | None, str]) -> dict:
    dataset, objective, overrides, seed, steps, root = job
    import torch

    torch.set_num_threads(1)
    from saddlepoint import resolve_config, train

    extra = [f"seed={seed}", "threads=1", "eval_every=0", "log_every=1000", "checkpoint_every=1000000"]
    if steps is not None:
        extra.append(f"steps={steps}")
    out = os.path.join(root, f"{dataset}-{abs(hash(objective)) % 10**8}-{seed}")
    t0 = time.time()
    steps = steps or 0
    try:
        recipe = dataset
        if objective in OTHER_FAMILIES:
            recipe, overrides = OTHER_FAMILIES[objective][0], [o.format(dataset=dataset) for o in overrides]
        name, cfg = resolve_config(recipe, overrides + extra)
        steps = cfg.steps
        result = train(cfg, recipe=name, out=out, progress=False)
        summary = dict(result.summary)
    except Exception as e:  # a diverged objective is a result too
        summary = {"error": f"{type(e).__name__}: {str(e)[:120]}", "modes": 0, "high_quality": 0.0,
                   "reverse_kl": math.inf}
    summary["seconds"] = time.time() - t0
    return {"dataset": dataset, "objective": objective, "seed": seed, "steps": steps, **summary}


def _mean_se(xs: list[float]) -> tuple[float, float]:
    finite = [x for x in xs if math.isfinite(x)]
    if not finite:
        return math.inf, 0.0
    m = statistics.fmean(finite)
    se = statistics.stdev(finite) / math.sqrt(len(finite)) if len(finite) > 1 else 0.0
    return m, se


def table(results: list[dict]) -> str:
    by = {}
    for r in results:
        by.setdefault((r["objective"], r["dataset"]), []).append(r)
    lines = [
        "| model | ring modes | ring HQ | ring rev-KL | grid modes | grid HQ | grid rev-KL | steps (ring/grid) | seeds | s/seed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for obj in [*OBJECTIVES, *OTHER_FAMILIES]:
        cells, steps, secs, counts = [], [], [], []
        for ds in ("ring8", "grid25"):
            rs = by.get((obj, ds))
            if not rs:
                cells += ["—"] * 3
                continue
            m, se = _mean_se([r["modes"] for r in rs])
            hq, hse = _mean_se([100 * r["high_quality"] for r in rs])
            kl, kse = _mean_se([r["reverse_kl"] for r in rs])
            n_inf = sum(1 for r in rs if not math.isfinite(r["reverse_kl"]))
            kl_s = f"{kl:.3f}±{kse:.3f}" + (f" ({n_inf} inf)" if n_inf else "")
            errs = sum(1 for r in rs if "error" in r)
            cells += [f"{m:.1f}±{se:.1f}" + (f" ({errs} diverged)" if errs else ""), f"{hq:.1f}±{hse:.1f}%", kl_s]
            steps.append(str(rs[0]["steps"]))
            counts.append(str(len(rs)))
            secs.append(statistics.fmean(r["seconds"] for r in rs))
        if steps:
            lines.append(f"| saddlepoint: {obj} | " + " | ".join(cells) + f" | {'/'.join(steps)} | "
                         f"{'/'.join(counts)} | {statistics.fmean(secs):.0f} |")
    for name, (ring, grid) in PACGAN.items():
        lines.append(f"| PacGAN Table 1: {name} | {' | '.join(ring)} | {' | '.join(grid)} | ~400k | 10 | — |")
    lines.append("\nsaddlepoint rows: mean ± s.e. over the seeds in the `seeds` column; reverse KL of runs with no "
                 "high-quality sample is infinite and left out of the mean (counted in brackets).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10, help="seeds for the recipe rows")
    p.add_argument("--objective-seeds", type=int, default=None, help="seeds for the objective rows (default: --seeds)")
    p.add_argument("--objective-steps", type=int, default=None,
                   help="generator steps for the objective rows (default: the recipe's steps)")
    p.add_argument("--only", choices=["recipe", "objectives", "gmmn", "all"], default="all",
                   help="gmmn: the GMMN recipe's rows (no game) beside the GAN recipe's")
    p.add_argument("--datasets", default="ring8,grid25")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from here (to extend an earlier --jsonl)")
    p.add_argument("--objective-ema", type=float, default=0.0,
                   help="ema for the objective rows (default 0: the raw generator)")
    p.add_argument("--objective", action="append", choices=[*OBJECTIVES, *OTHER_FAMILIES],
                   help="run only these rows (repeatable)")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)))
    p.add_argument("--jsonl", help="append every run's summary to this file as it finishes")
    p.add_argument("--table-from", metavar="JSONL", help="print the table from a finished or partial --jsonl file")
    a = p.parse_args(argv)
    if a.table_from:
        with open(a.table_from) as fh:
            print(table([json.loads(line) for line in fh if line.strip()]))
        return 0

    for name in OBJECTIVES:
        if name != RECIPE:
            OBJECTIVES[name] = OBJECTIVES[name] + [f"ema={a.objective_ema}"]
    objectives = a.objective or {"recipe": [RECIPE], "objectives": list(OBJECTIVES)[1:], "gmmn": [GMMN],
                                 "all": [*OBJECTIVES, *OTHER_FAMILIES]}[a.only]
    root = tempfile.mkdtemp(prefix="saddlepoint-bench-")
    # Seed-major order within each group, so a run stopped early (see --jsonl) still has every row.
    jobs = []
    whole = [RECIPE, *OTHER_FAMILIES]  # recipes at their own length
    for group in ([o for o in objectives if o in whole], [o for o in objectives if o not in whole]):
        n_seeds = a.seeds if group and group[0] in whole else (a.objective_seeds or a.seeds)
        for seed in range(a.first_seed, a.first_seed + n_seeds):
            for obj in group:
                for ds in a.datasets.split(","):
                    steps = None if obj in whole else a.objective_steps
                    overrides = OTHER_FAMILIES[obj][1] if obj in OTHER_FAMILIES else OBJECTIVES[obj]
                    jobs.append((ds, obj, overrides, seed, steps, root))
    results = []
    t0 = time.time()
    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        for r in tqdm(pool.map(_run, jobs), total=len(jobs), desc="runs", file=sys.stderr):
            results.append(r)
            if a.jsonl:
                with open(a.jsonl, "a") as fh:
                    fh.write(json.dumps(r, default=str) + "\n")
    import torch

    print(f"# mode coverage, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {a.workers} workers × 1 thread, "
          f"wall {time.time() - t0:.0f} s\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
