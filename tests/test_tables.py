"""Attributes from a table beside an image folder (CelebA's layout, or a CSV), and attribute arithmetic with them."""

import json

import numpy as np
import pytest
import torch

from saddlepoint import resolve_config, train
from saddlepoint.cli import main
from saddlepoint.data.images import DataError
from saddlepoint.data.tables import find_table, read_table


def test_celeba_text_and_csv_tables_read_the_same(tmp_path):
    (tmp_path / "list_attr_celeba.txt").write_text(
        "3\n5_o_Clock_Shadow Smiling Young\n000001.jpg -1  1  1\n000002.jpg  1 -1  1\n000003.jpg -1 -1 -1\n")
    (tmp_path / "attributes.csv").write_text(
        "image_id,5_o_Clock_Shadow,Smiling,Young\n000001.jpg,-1,1,1\n000002.jpg,1,-1,1\n000003.jpg,-1,-1,-1\n")
    a, b = read_table(tmp_path / "list_attr_celeba.txt"), read_table(tmp_path / "attributes.csv")
    assert a.columns == b.columns == ["5_o_Clock_Shadow", "Smiling", "Young"] and a.rows == b.rows
    files = ["000002.jpg", "class/000001.jpg", "missing.jpg"]  # a class folder's file by its base name
    got = a.column("Smiling", files)
    assert got[:2].tolist() == [-1.0, 1.0] and torch.isnan(got[2])
    (tmp_path / "prefixed.csv").write_text("image,Smiling\nimg_align_celeba/000002.jpg,-1\n")
    assert read_table(tmp_path / "prefixed.csv").column("Smiling", ["000002.jpg"]).tolist() == [-1.0]
    with pytest.raises(DataError, match="no attribute 'smiling'; did you mean 'Smiling'"):
        a.column("smiling", files)


@pytest.mark.parametrize("text, match", [
    ("", "is empty"),
    ("image_id,Smiling\n", "has no rows"),
    ("image_id,Smiling\na.jpg,yes\n", "line 2: Smiling is 'yes', not a number"),
    ("2\nSmiling Young\na.jpg 1\n", "line 3: 1 values for 2 attributes"),
])
def test_a_bad_table_is_one_line_that_names_the_place(tmp_path, text, match):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        read_table(tmp_path / "t.csv")


def test_the_table_is_found_in_or_beside_the_folder(tmp_path):
    (tmp_path / "img_align_celeba").mkdir()
    assert find_table(tmp_path / "img_align_celeba") is None
    (tmp_path / "list_attr_celeba.txt").write_text("1\nSmiling\na.jpg 1\n")
    assert find_table(tmp_path / "img_align_celeba") == tmp_path / "list_attr_celeba.txt"
    (tmp_path / "img_align_celeba" / "attributes.csv").write_text("f,Smiling\na.jpg,1\n")
    assert find_table(tmp_path / "img_align_celeba") == tmp_path / "img_align_celeba" / "attributes.csv"


def _faces(root, n=160, side=16):
    """A CelebA-like layout: ``n`` colour images, half of them with a bright square in the top-left corner
    (``Square`` 1, else −1), each with a random blob elsewhere; ``Noise`` is a coin toss unrelated to the pixels."""
    from PIL import Image

    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = [str(n), "Square Noise Corner"]
    for i in range(n):
        pixels = np.full((side, side, 3), 40, dtype=np.uint8)
        r, c = rng.integers(6, side - 4, size=2)
        pixels[r:r + 4, c:c + 4] = rng.integers(80, 200, size=3)
        square = i % 2 == 0
        if square:
            pixels[:5, :5] = 250
        name = f"{i + 1:06d}.png"
        Image.fromarray(pixels).save(folder / name)
        lines.append(f"{name} {1 if square else -1} {rng.choice([-1, 1])} {pixels[:5, :5].mean() + rng.random():.2f}")
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_attribute_arithmetic_with_a_table_adds_what_the_table_names(tmp_path, capsys):
    folder = _faces(tmp_path / "celeba")
    cfg = resolve_config("mnist-vae", [f"data={folder}", "image_size=16", "z_dim=8", "vae_hidden=[64]",
                                       "batch_size=32", "steps=400", "eval_every=0", "sample_every=0",
                                       "likelihood=gaussian", "binarize=false"])[1]
    run = train(cfg, out=tmp_path / "vae", progress=False).run_dir
    out = tmp_path / "square.png"
    assert main(["attribute", str(run), "--attribute", "Square", "--amount", "1.5", "-n", "4", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert lines[0] == str(out) and report["attribute"] == "Square" and report["table"].endswith("list_attr_celeba.txt")
    assert report["with"] == report["without"] == 80 and report["images"] == 80  # the images without it, edited
    assert report["probe_accuracy"] >= 0.9
    assert report["reads_attribute_reconstruction"] < 0.3 and report["reads_attribute_edited"] > 0.7, report
    assert main(["attribute", str(run), "--attribute", "Square", "--amount", "-1.5"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["edited"] == "images with it" and report["reads_attribute_edited"] < 0.3, report
    assert main(["attribute", str(run), "--attribute", "Corner"]) == 0  # a measure: its top and bottom quarters
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["with"] == report["without"] == 40 and report["edited"] == "the quarter lowest in it", report
    assert main(["attribute", str(run), "--attribute", "Noise"]) == 0  # a coin toss: nothing in the pixels to read
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["probe_accuracy"] < 0.75, report

    for args, match in ((["--attribute", "Smiling"], "no attribute 'Smiling'; it has Square, Noise, Corner"),
                        (["--attribute", "Square", "--from", "3"], "--from picks the digit"),
                        (["--attribute", "thickness", "--attributes",
                          str(tmp_path / "celeba" / "list_attr_celeba.txt")], "leave --attributes out")):
        assert main(["attribute", str(run), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert match in err and len(err.splitlines()) == 1, err
    (tmp_path / "other.csv").write_text("file,Square\nnot-here.png,1\nnor-here.png,-1\n")
    assert main(["attribute", str(run), "--attribute", "Square", "--attributes", str(tmp_path / "other.csv")]) == 2
    assert "none of the first 160 images" in capsys.readouterr().err
