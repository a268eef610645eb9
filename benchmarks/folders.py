"""Reading a folder of your own photographs: wall time and peak memory, before and after decoding a file at a time.

A synthetic folder of ``--images`` JPEG photographs of ``--photo`` pixels (178x218 is CelebA's aligned faces; 4032x3024
a phone's photograph) is read at ``--size`` px, each way in a fresh process (peak resident memory is the process's):

* **whole, then resized** — every image decoded at full size and kept, then all center-cropped and resized: what
  `load_folder` did until 2026-12-05 (re-enacted here with the same library calls);
* **a file at a time** — `saddlepoint.data.images.load_folder` now: each file decoded, cropped and resized as it is
  read, in as many threads as torch uses;
* **kept decoded** — the same call again, reading the copy kept in the cache.

    python benchmarks/folders.py                                  # 20,000 faces-sized photographs at 64 px
    python benchmarks/folders.py --images 300 --photo 4032x3024   # phone photographs

The photographs are written once to ``--folder`` (default a folder under the system's temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BEFORE = """
import resource, sys, time, json
from pathlib import Path
import torch
torch.set_num_threads({threads})
from saddlepoint.data.images import decode_image, square_tensors
t0 = time.perf_counter()
root = Path({root!r})
files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
images = [im for im in (decode_image(f) for f in files) if im is not None]
x = square_tensors(images, {size})
torch.save(x, {out!r})
print(json.dumps({{"seconds": time.perf_counter() - t0, "n": len(x),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

AFTER = """
import resource, sys, time, json
import torch
torch.set_num_threads({threads})
from saddlepoint.data import decode
from saddlepoint.data.images import load_folder
decode.CACHE_AFTER_SECONDS = 0.0
t0 = time.perf_counter()
x = load_folder({root!r}, {size}).images
torch.save(x, {out!r})
print(json.dumps({{"seconds": time.perf_counter() - t0, "n": len(x),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

def write_photos(root: Path, n: int, width: int, height: int) -> None:
    """``n`` JPEG photographs with smooth structure and grain (so they compress like photographs)."""
    import numpy as np
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    if len(list(root.glob("*.jpg"))) == n:
        return
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (max(height // 16, 2), max(width // 16, 2), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((width, height), Image.BILINEAR), dtype=np.int16)
    for i in range(n):
        grain = rng.integers(-12, 13, smooth.shape, dtype=np.int16)
        pixels = np.clip(np.roll(smooth, 7 * i, axis=0) + grain, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"{i:06d}.jpg", quality=90)


def run(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--photo", default="178x218", help="WIDTHxHEIGHT of each photograph")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--folder", type=Path, default=None)
    p.add_argument("--skip-before", action="store_true", help="leave out the old way (it may not fit in memory)")
    args = p.parse_args()
    width, height = (int(v) for v in args.photo.lower().split("x"))
    folder = args.folder or Path(tempfile.gettempdir()) / f"saddlepoint-photos-{args.images}-{width}x{height}"
    print(f"writing {args.images} photographs of {width}x{height} to {folder} ...", file=sys.stderr)
    write_photos(folder, args.images, width, height)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SADDLEPOINT_CACHE": cache}
        fmt = dict(root=str(folder), size=args.size, threads=args.threads)
        out = {k: str(Path(cache) / f"{k}.pt") for k in ("before", "now", "kept")}
        rows = []
        if not args.skip_before:
            rows.append(("whole, then resized (before)", run(BEFORE.format(**fmt, out=out["before"]), env)))
        rows.append(("a file at a time (now)", run(AFTER.format(**fmt, out=out["now"]), env)))
        rows.append(("kept decoded (now, next run)", run(AFTER.format(**fmt, out=out["kept"]), env)))
        import torch

        images = {k: torch.load(v) for k, v in out.items() if Path(v).is_file()}
        same_kept = torch.equal(images["now"], images["kept"])
        diff = (images["now"].float() - images["before"].float()).abs() if "before" in images else None
    sys.path.insert(0, str(Path(__file__).parent))
    from common import machine

    megabytes = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    print(f"\n{args.images} photographs of {width}x{height} px (JPEG, {megabytes:.0f} MB) read at {args.size} px; "
          f"{machine(args.threads)}")
    n = rows[-1][1]["n"]
    print(f"the images themselves at {args.size} px: {n * 3 * args.size ** 2 / 2**20:.0f} MB\n")
    print("| how | images | seconds | peak memory |")
    print("|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['n']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} MB |")
    print(f"\nthe kept copy is the same bytes: {same_kept}")
    if diff is not None:
        print(f"now against before, in levels of 255: mean {diff.mean():.3f}, largest {diff.max():.0f} "
              f"({(diff > 0).float().mean():.1%} of the values differ)")


if __name__ == "__main__":
    main()
