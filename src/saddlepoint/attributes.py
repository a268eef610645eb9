"""Latent attribute arithmetic with a VAE: encode held-out images, move their codes along the difference between the
mean code of images with an attribute and the mean code of images without it, decode.

On digits the attributes are measured from the pixels, not labelled by hand:

* ``thickness`` — the stroke's width: ink (pixels above half grey) per pixel of its skeleton
  (:func:`skimage.morphology.skeletonize`);
* ``slant`` — the lean of the digit from its second moments: the angle, in degrees, whose tangent is
  −μ₁₁ / μ₀₂ (x to the right, y down: a digit whose top leans right has a positive slant);
* ``label:K`` — a label of the data (digit K against the others, or against ``source`` when given: 3 → 8).

On a folder of your own images (faces, say) the attributes come from a table beside it, by file name
(:mod:`saddlepoint.data.tables`: CelebA's ``list_attr_celeba.txt``, or a CSV): ``--attribute Smiling``.

"With" and "without" a measured attribute are the top and bottom quarters of the held-out images by that measure;
a table's column with two values (1 / −1) splits them by its value, any other by its quarters.
The report says how far the measure moves per unit of the amount a, in the data's own standard deviations, and how
often the shipped MNIST classifier still reads each image's own digit after the edit (when the attribute is not
the digit) or reads the target digit (when it is).  A table's attribute has no measure to read from pixels; a linear
probe (logistic regression on the pixels of the images with and without it, scored on a fifth kept aside) reads it
instead, on the reconstructions and on the edited images: an edit adds the attribute to images without it (a
negative amount takes it from images with it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .runs import RunError

__all__ = ["MEASURES", "thickness", "slant", "attribute_direction", "edit", "save_attribute_picture"]


def _ink(images: Tensor) -> np.ndarray:
    """(N, H, W) booleans: pixels above half grey of (N, 1, H, W) images in [−1, 1]."""
    return (images[:, 0] > 0).numpy()


def thickness(images: Tensor) -> Tensor:
    """Stroke width of each (N, 1, H, W) image in [−1, 1]: inked pixels per skeleton pixel (0 for a blank image)."""
    from skimage.morphology import skeletonize

    ink = _ink(images)
    out = [float(m.sum()) / max(int(skeletonize(m).sum()), 1) if m.any() else 0.0 for m in ink]
    return torch.tensor(out)


def slant(images: Tensor) -> Tensor:
    """Lean of each (N, 1, H, W) image in [−1, 1], in degrees, from the intensity's second moments."""
    w = ((images[:, 0] + 1) / 2).clamp(0, 1).double()  # (N, H, W) ink weights
    h, wd = w.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(wd, dtype=torch.float64),
                            indexing="ij")
    mass = w.sum((1, 2)).clamp_min(1e-9)
    mx, my = (w * xs).sum((1, 2)) / mass, (w * ys).sum((1, 2)) / mass
    dx, dy = xs - mx[:, None, None], ys - my[:, None, None]
    mu11, mu02 = (w * dx * dy).sum((1, 2)) / mass, (w * dy * dy).sum((1, 2)) / mass
    return torch.rad2deg(torch.atan(-mu11 / mu02.clamp_min(1e-9))).float()


MEASURES = {"thickness": thickness, "slant": slant}


def _parse(attribute: str) -> tuple[str, int | None]:
    if attribute in MEASURES:
        return attribute, None
    if attribute.startswith("label:") and attribute[6:].isdigit():
        return "label", int(attribute[6:])
    return "table", None


def _table(model, attribute: str, table: str | Path | None):
    """The attribute table to read ``attribute`` from: ``table`` where given, else one found beside the run's image
    folder; RunError that says what to give where there is none."""
    from .data.tables import TABLE_NAMES, find_table, read_table

    if table is None:
        data = Path(model.cfg.data).expanduser()
        table = find_table(data) if data.is_dir() else None
        if table is None:
            where = f"beside the image folder {data}" if data.is_dir() else f"for data={model.cfg.data}"
            raise RunError(f"--attribute {attribute}: not one of {', '.join(MEASURES)} or label:K, and there is no "
                           f"attribute table {where} ({' / '.join(TABLE_NAMES[:2])}); give one with --attributes FILE")
    return read_table(table)


def _held_out_files(model, n: int) -> list[str] | None:
    """The file names of the first ``n`` held-out images (what :meth:`held_out` gives), from a folder; else None."""
    from .metrics.images import reference_set

    exp = getattr(model, "exp", model)  # a GAN seen through its inversion
    files = reference_set(exp)[0].dataset.files
    return files[:n] if files is not None else None


def _split(values: Tensor, attribute: str, what: str) -> tuple[Tensor, Tensor, bool]:
    """(with, without) masks from a table's values: its two values where it has two, else its top and bottom quarters;
    and whether it was split in quarters."""
    known = ~values.isnan()
    if not known.any():
        raise RunError(f"none of {what} has a row in the attribute table: its rows must name the files as the folder "
                       "does (000001.jpg, or class/000001.jpg)")
    distinct = values[known].unique()
    if len(distinct) < 2:
        raise RunError(f"{attribute} is {float(distinct[0]):g} on every one of {what} found in the table; there is "
                       "nothing to tell apart")
    quarters = len(distinct) > 2
    if not quarters:
        has, hasnt = values == distinct.max(), values == distinct.min()
    else:
        lo, hi = values[known].quantile(0.25), values[known].quantile(0.75)
        has, hasnt = known & (values >= hi), known & (values <= lo)
    if int(has.sum()) < 2 or int(hasnt.sum()) < 2:
        raise RunError(f"{attribute}: {int(has.sum())} of {what} with it and {int(hasnt.sum())} without; the direction "
                       "needs at least two of each (give more with --images)")
    return has, hasnt, quarters


def attribute_direction(model, attribute: str, n: int = 5000, source: int | None = None,
                        table: str | Path | None = None) -> dict:
    """The direction in latent space (mean code with the attribute − mean code without it) from the first ``n``
    held-out images, and what it was measured on.  ``table``: the attribute table for an attribute that is neither a
    measure nor ``label:K`` (default: one beside the run's image folder)."""
    if not hasattr(model, "encode") or not model.images:
        raise RunError("attribute arithmetic encodes images and needs an image VAE run (family=vae on images)")
    name, label = _parse(attribute)
    if table is not None and name != "table":
        raise RunError(f"--attributes names a table for attributes it holds; {attribute} is measured from the pixels "
                       "or the labels: leave --attributes out")
    found_table = _table(model, attribute, table) if name == "table" else None
    if found_table is not None:
        found_table.index(attribute)  # an unknown column: said before any image is encoded
    x, labels, what = model.held_out(n)
    quarters = False  # a table's column split in quarters rather than by its two values
    if name == "table":
        if source is not None:
            raise RunError("--from picks the digit that label:K edits; a table's attribute edits the images without it")
        files = _held_out_files(model, len(x))
        if files is None:
            raise RunError(f"--attribute {attribute} reads the attribute table by file name, and {what} are not "
                           "files of a folder: train on the image folder the table describes (data=FOLDER)")
        has, hasnt, quarters = _split(found_table.column(attribute, files), attribute, what)
        measure = None
    elif name == "label":
        if model.condition is not None:
            raise RunError("a conditional VAE is told the digit: change it with `saddlepoint sample RUN --label K`; "
                           "edit its style with --attribute thickness or slant")
        _check_label(labels, label, what)
        has = labels == label
        hasnt = labels == source if source is not None else ~has
        if source is not None:
            _check_label(labels, source, what)
        measure = None
    else:
        if source is not None:
            raise RunError("--from picks the digit that label:K edits; thickness and slant take every digit")
        measure = MEASURES[name](x)
        lo, hi = measure.quantile(0.25), measure.quantile(0.75)
        has, hasnt = measure >= hi, measure <= lo
    mu = model.encode(x, labels)  # a conditional VAE reads the labels; an unconditional one does not
    direction = mu[has].mean(0) - mu[hasnt].mean(0)
    return {"name": name, "label": label, "source": source, "direction": direction, "x": x,
            "labels": labels, "measure": measure, "has": has, "hasnt": hasnt, "what": what,
            "column": attribute if name == "table" else None, "quarters": quarters,
            "table": str(found_table.path) if found_table is not None else None}


def _probe(x: Tensor, has: Tensor, hasnt: Tensor):
    """A linear reading of an attribute from pixels: logistic regression (scikit-learn) on the images with it against
    those without, on ≤ 32-px copies, fitted on four fifths and scored on the fifth left; → (P(attribute | images)
    as a function, that accuracy, images fitted on)."""
    import torch.nn.functional as F
    from sklearn.linear_model import LogisticRegression

    def features(images: Tensor) -> np.ndarray:
        side = min(images.shape[-1], 32)
        return F.adaptive_avg_pool2d(images.float(), side).flatten(1).numpy()

    idx = torch.cat([has.nonzero().flatten(), hasnt.nonzero().flatten()])
    y = torch.cat([torch.ones(int(has.sum())), torch.zeros(int(hasnt.sum()))]).numpy()
    order = torch.randperm(len(idx), generator=torch.Generator().manual_seed(0))
    idx, y = idx[order], y[order.numpy()]
    cut = max(1, len(idx) // 5)
    fit = LogisticRegression(max_iter=2000).fit(features(x[idx[cut:]]), y[cut:])
    accuracy = float(fit.score(features(x[idx[:cut]]), y[:cut]))
    return (lambda images: torch.from_numpy(fit.predict_proba(features(images))[:, 1])), accuracy, len(idx) - cut


def _check_label(labels: Tensor | None, k: int, what: str) -> None:
    if labels is None:
        raise RunError(f"label:{k} needs labelled images and {what} has no labels; use thickness or slant")
    if not (labels == k).any():
        raise RunError(f"label {k} does not occur in {what}; the labels there are "
                       f"{', '.join(map(str, labels.unique().tolist()))}")


def edit(model, found: dict, amount: float, rows: int = 8, n_report: int = 1000) -> dict:
    """Edit held-out images by ``amount`` × the direction: the picture's rows (original | reconstruction | edited)
    and the report on the first ``n_report`` edited images."""
    from .metrics.images import mnist_backbone

    x, labels = found["x"], found["labels"]
    chosen = torch.arange(len(x))
    if found["name"] == "label":  # edit the images without the label (those of the source digit)
        chosen = chosen[found["hasnt"]]
    if found["name"] == "table":  # add the attribute to images without it, or take it from those with it
        chosen = chosen[found["hasnt"] if amount >= 0 else found["has"]]
    chosen = chosen[:n_report]
    xs, ys = x[chosen], None if labels is None else labels[chosen]
    mu = model.encode(xs, ys)
    rec = model.decode(mu, ys)
    edited = model.decode(mu + amount * found["direction"], ys)
    report: dict = {"attribute": found["column"] or (found["name"] if found["label"] is None
                                                      else f"label:{found['label']}"),
                    "amount": amount, "images": len(chosen), "measured_on": found["what"],
                    "direction_norm": float(found["direction"].norm())}
    if found["name"] == "table":
        read, accuracy, fitted = _probe(x, found["has"], found["hasnt"])
        which = ("the quarter lowest in it", "the quarter highest in it") if found["quarters"] else \
            ("images without it", "images with it")
        report.update({"table": found["table"], "edited": which[0] if amount >= 0 else which[1],
                       "with": int(found["has"].sum()), "without": int(found["hasnt"].sum()),
                       "probe": f"logistic regression on the pixels of {fitted} images with and without it",
                       "probe_accuracy": accuracy,
                       "reads_attribute_reconstruction": float(read(rec).mean()),
                       "reads_attribute_edited": float(read(edited).mean())})
    elif found["name"] != "label":
        fn = MEASURES[found["name"]]
        before, after = fn(rec), fn(edited)
        std = float(found["measure"].std())
        report.update({"data_std": std, "moved": float((after - before).mean()),
                       "moved_per_unit": float((after - before).mean()) / amount if amount else math.nan,
                       "moved_in_std": float((after - before).mean()) / std})
    if model.cfg.data == "mnist" and labels is not None:
        classify = mnist_backbone()[0]
        read = classify(edited)[1].argmax(1)
        if found["name"] == "label":
            report["reads_target"] = float((read == found["label"]).float().mean())
        else:
            report["digit_kept"] = float((read == labels[chosen]).float().mean())
            read_rec = classify(rec)[1].argmax(1)
            report["digit_kept_reconstruction"] = float((read_rec == labels[chosen]).float().mean())
    picture = torch.stack([model.observe_fixed(xs[:rows])[0], rec[:rows], edited[:rows]], 1).flatten(0, 1)
    return {"report": report, "picture": picture}


def save_attribute_picture(picture: Tensor, path: Path) -> Path:
    from .grids import make_grid, save_png

    save_png(make_grid(picture, nrow=3, value_range=(-1, 1), pad_value=1.0), path)
    return path
