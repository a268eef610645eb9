"""4× super-resolution on held-out photographs: bicubic, SRResNet (pixel loss) and SRGAN (pixel content loss
+ 10⁻³·adversarial), beside the seeds' figure (../shared/REFERENCES.md §4).

Both models train their recipe (``srresnet-photos``, ``srgan-photos``: 64-px crops of the six training
photographs scikit-image ships) for the same number of steps; then the two held-out photographs (chelsea,
coffee) are downsampled 4× (bicubic, antialiased) and restored by each model and by bicubic interpolation.
PSNR / SSIM on RGB in [0, 1] with a 4-px border trimmed, averaged over the photos; each model also with
EDSR's self-ensemble (the mean output over the input's 8 turns and mirrors, ``--self-ensemble``).  Goal (issue #5):
SRResNet at least 1.5 dB above bicubic, SRGAN visibly sharper — ``--picture`` saves crops side by side
(bicubic | SRResNet | SRGAN | original, one row per crop).

    python benchmarks/superres.py --steps 3000 --picture sr_crops.png
    python benchmarks/superres.py --table-from out.jsonl
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import add_override_argument, add_run_arguments, print_table_from, record, train_steps

SETTINGS = {"srresnet": "srresnet-photos", "srgan": "srgan-photos"}

PUBLISHED = """\
| published (§4, SRGAN paper figure, 4×) | PSNR (dB) | SSIM |
|---|---|---|
| bicubic | 21.59 | 0.6423 |
| SRResNet (MSE) | 23.53 | 0.7832 |
| SRGAN | 21.15 | 0.6868 |
"""


def run_setting(name: str, steps: int, threads: int, seed: int, out_root: Path, overrides: list[str] = ()):
    from saddlepoint.metrics.images import evaluate_images

    t0 = time.time()
    summary, exp = train_steps(SETTINGS[name], list(overrides), steps, threads, seed, out_root / f"{name}-seed{seed}")
    ev = evaluate_images(exp, ["l1", "psnr", "ssim"])
    exp.use_self_ensemble()
    ens = evaluate_images(exp, ["psnr", "ssim"])
    exp.use_self_ensemble(False)  # the picture shows the plain outputs
    row = {"setting": name, "recipe": SETTINGS[name], "overrides": list(overrides), "seed": seed, "threads": threads,
           "steps": summary["steps"], "train_seconds": summary["seconds"], "photos": ev["photos"], "psnr": round(ev["psnr"], 2),
           "ssim": round(ev["ssim"], 4), "bicubic_psnr": round(ev["bicubic/psnr"], 2),
           "bicubic_ssim": round(ev["bicubic/ssim"], 4), "ensemble_psnr": round(ens["psnr"], 2),
           "ensemble_ssim": round(ens["ssim"], 4), "wall_seconds": round(time.time() - t0, 1)}
    return row, exp


def table(rows: list[dict]) -> str:
    lines = ["| model | recipe + overrides | seed | threads | steps | train min | held-out photos | PSNR (dB) | SSIM | "
             "vs bicubic | self-ensemble PSNR / SSIM | vs bicubic |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    if rows:
        r0 = rows[0]
        lines.append(f"| bicubic | — | — | — | — | — | {r0['photos']} | {r0['bicubic_psnr']:.2f} | {r0['bicubic_ssim']:.3f} "
                     "| — | — | — |")
    for r in rows:
        recipe = " ".join([r["recipe"], *r.get("overrides", [])])  # rows recorded before --override have none
        lines.append(f"| {r['setting']} | {recipe} | {r['seed']} | {r['threads']} | {r['steps']} | "
                     f"{r['train_seconds'] / 60:.1f} | {r['photos']} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                     f"{r['psnr'] - r['bicubic_psnr']:+.2f} dB | " + (  # rows recorded before the ensemble have none
                         f"{r['ensemble_psnr']:.2f} / {r['ensemble_ssim']:.3f} | {r['ensemble_psnr'] - r['bicubic_psnr']:+.2f} dB |"
                         if "ensemble_psnr" in r else "— | — |"))
    return "\n".join(lines) + "\n\nPSNR / SSIM: RGB in [0, 1], 4-px border trimmed (the paper: Y channel of Set14; " \
                              "compare the gaps to bicubic, not the dB).\n\n" + PUBLISHED


def save_picture(models: dict, path: Path, crops: int = 4, size: int = 96) -> None:
    """Held-out crops side by side: bicubic | each model | original."""
    import torch
    from torchvision.utils import save_image

    from saddlepoint.data.superres import SRSampler, load_photos, upsample_bicubic

    high, low = SRSampler("skimage-photos", size, photos=load_photos("skimage-photos", train=False)).sample_labelled(
        crops, torch.Generator().manual_seed(3))
    columns = [upsample_bicubic(low, 4)] + [exp.generate(crops, cond=low) for exp in models.values()] + [high]
    grid = torch.stack(columns, 1).flatten(0, 1)
    save_image(grid, str(path), nrow=len(columns), normalize=True, value_range=(-1, 1))
    print(f"picture: {path} (columns: bicubic | {' | '.join(models)} | original)")


def main(argv: list[str] | None = None) -> int:
    import platform

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", action="append", choices=list(SETTINGS), help="run only these (repeatable)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--picture", help="save held-out crops side by side here (.png)")
    add_override_argument(p)
    add_run_arguments(p)
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    out_root = Path(args.out or tempfile.mkdtemp(prefix="superres-"))
    rows, models = [], {}
    for name in args.setting or list(SETTINGS):
        row, models[name] = run_setting(name, args.steps, args.threads, args.seed, out_root, args.override)
        rows.append(row)
        record(row, args.jsonl)
    print(f"\nmachine: {platform.processor() or platform.machine()}, torch threads {args.threads}\n")
    print(table(rows))
    if args.picture:
        save_picture(models, Path(args.picture))
    return 0


if __name__ == "__main__":
    sys.exit(main())
