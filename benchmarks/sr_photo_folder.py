"""A larger super-resolution training folder, from photographs that Debian's packages ship.

For ``benchmarks/superres.py --override data=FOLDER``: the recipe's six scikit-image photographs, 25 natural
photographs among the desktop wallpapers of ``mate-backgrounds``, ``plasma-workspace-wallpapers`` and
``lomiri-wallpapers-20.04`` (each shrunk, antialiased, to 640 px on its long side, near
the scale of the held-out photographs and clear of the wallpapers' JPEG blocks), and optionally 14 photographs
of OpenCV's sample data (``opencv-doc``, at their own size).  ``test/`` holds the held-out pair, chelsea and
coffee, so the benchmark evaluates where it always does.  Nothing is written into the repository.

    cd DEBS && apt-get download mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-20.04 opencv-doc
    python benchmarks/sr_photo_folder.py DEBS OUT [--no-opencv]
    python benchmarks/superres.py --setting srresnet --override data=OUT --steps 10000 --threads 1
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Photographs (not drawings or abstract art) among the wallpapers; each name is a file stem or, for Plasma's
# wallpaper packages, the folder holding its sizes (the largest is taken).
WALLPAPERS = ("Kleiber_by_Lukas_Baubkus", "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow",
              "LadyBird", "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower", "BytheWater", "ColdRipple",
              "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path",
              "Volna", "summer_1am")
OPENCV = ("aero1.jpg", "squirrel_cls.jpg", "messi5.jpg", "fruits.jpg", "board.jpg", "baboon.jpg", "aloeL.jpg",
          "leuvenA.jpg", "rubberwhale2.png", "chicky_512.png", "graf1.png", "home.jpg", "building.jpg",
          "butterfly.jpg")
_IMAGE = (".jpg", ".jpeg", ".png")


def _unpack(debs: Path, into: Path) -> None:
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)


def _wallpaper(root: Path, name: str) -> Path:
    from PIL import Image

    hits = [p for p in root.rglob("*") if p.suffix.lower() in _IMAGE and "screenshot" not in p.name
            and "images_dark" not in p.parts and (p.stem == name or f"wallpapers/{name}/" in p.as_posix())]
    if not hits:
        sys.exit(f"wallpaper {name} is in none of the unpacked packages; download the three wallpaper packages "
                 "(see --help)")
    return max(hits, key=lambda p: math.prod(Image.open(p).size))


def build(debs: Path, out: Path, opencv: bool = True, long_side: int = 640) -> int:
    from PIL import Image

    from saddlepoint.data.superres import _HELD_OUT, _TRAIN, load_photos

    if out.exists():
        sys.exit(f"{out} exists; give a new folder")
    if not sorted(debs.glob("*.deb")):
        sys.exit(f"no .deb files in {debs}; fetch them first with apt-get download (see --help)")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))  # renamed to ``out`` once complete
    try:
        (part / "test").mkdir()
        for names, train, where in ((_TRAIN, True, part), (_HELD_OUT, False, part / "test")):
            for name, photo in zip(names, load_photos("skimage-photos", train=train)):
                Image.fromarray(photo.permute(1, 2, 0).numpy()).save(where / f"{name}.png")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _unpack(debs, root)
            for name in WALLPAPERS:
                im = Image.open(_wallpaper(root, name)).convert("RGB")
                s = long_side / max(im.size)
                im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS).save(part / f"w_{name}.png")
            if opencv:
                samples = next(root.rglob("opencv-doc/examples/data"), None)
                if samples is None:
                    sys.exit("opencv-doc is not among the packages; download it or pass --no-opencv")
                for name in OPENCV:
                    Image.open(samples / name).convert("RGB").save(part / f"cv_{Path(name).stem}.png")
    except BaseException:
        shutil.rmtree(part)
        raise
    part.rename(out)
    return len(_TRAIN) + len(WALLPAPERS) + (len(OPENCV) if opencv else 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("debs", type=Path, help="folder of the downloaded .deb files")
    p.add_argument("out", type=Path, help="new folder to write")
    p.add_argument("--no-opencv", action="store_true", help="leave OpenCV's sample photographs out")
    args = p.parse_args(argv)
    n = build(args.debs, args.out, opencv=not args.no_opencv)
    print(f"{n} training photographs and test/ (chelsea, coffee) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
