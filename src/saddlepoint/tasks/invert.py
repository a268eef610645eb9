"""Inversion: the code z whose image G(z) is closest to a given image,

    ẑ = argmin_z  mean((G(z) − x)²) + λ‖z‖²,

found by the latent search (:mod:`saddlepoint.tasks.latent`).  A VAE's first restart starts at its encoder's guess
(the posterior mean), so the search can only improve on the encoder; a GAN has no encoder and starts from its prior.

Inverting a generator makes the latent arithmetic of the VAE work on a GAN: :class:`InvertedGenerator` gives a GAN
run the ``encode`` / ``decode`` of a VAE, so ``saddlepoint attribute`` takes the mean code of the images with an
attribute minus the mean code of those without it and adds it to a third image's code (Radford et al. 2016, §6.3;
White 2016) on either.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .common import LatentGenerator, held_out_images, read_exact_images
from .latent import LatentSearch, search

__all__ = ["invert", "invert_images", "InvertedGenerator"]


def invert(G: LatentGenerator, x: Tensor, settings: LatentSearch = LatentSearch(restarts=4, prior=0.001),
           init: Tensor | None = None, progress: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(ẑ (N, d), G(ẑ) (N, C, H, W) in [0, 1], the per-pixel squared error of each) for images ``x`` in [0, 1]."""
    target = x.to(G.device)

    def loss(z: Tensor, idx: Tensor, extra: dict[str, Tensor]) -> Tensor:
        return (G(z) - target[idx]).pow(2).flatten(1).mean(1)

    found = search(loss, len(x), G.z_dim, settings, prior=G.prior, init=init, device=G.device, progress=progress,
                   desc="inversion")
    with torch.no_grad():
        x_hat = torch.cat([G(zb.to(G.device)).cpu() for zb in found.z.split(512)])
    return found.z, x_hat, (x_hat - x).pow(2).flatten(1).mean(1)


def _encoder_guess(exp, x: Tensor) -> Tensor | None:
    """A VAE's posterior means of ``x`` in [0, 1] (the first restart's start); None for a GAN."""
    if not hasattr(exp, "encode"):
        return None
    return exp.encode(x * 2 - 1)


def invert_images(exp, images: str | None = None, n: int = 8, settings: LatentSearch = LatentSearch(restarts=4, prior=0.001),
                  progress: bool = False) -> tuple[list[tuple[str, Tensor]], dict[str, Any]]:
    """Invert held-out images (or the user's, ``images``): the picture's rows (original | inverted [| a VAE's encoder
    alone]) and the report (per-pixel MSE of each row, what was inverted, how)."""
    from .recover import mse_interval

    G = LatentGenerator(exp, "invert")
    if images is not None:
        x, _ = read_exact_images(images, G.shape[1], G.shape[0])
        what = f"{len(x)} image(s) from {images}"
    else:
        x, _, what = held_out_images(exp, n)
    guess = _encoder_guess(exp, x)
    z, x_hat, _ = invert(G, x, settings, init=guess, progress=progress)
    report: dict[str, Any] = {"images": what, "generator": G.what, "mse": mse_interval(x_hat, x),
                              "search": {k: getattr(settings, k) for k in settings.__dataclass_fields__}}
    rows = [("original", x), (f"inverted\nMSE {report['mse']['mse']:.4f}", x_hat)]
    if guess is not None:
        with torch.no_grad():
            enc = G(guess.to(G.device)).cpu()
        report["encoder_mse"] = mse_interval(enc, x)
        rows.append((f"encoder alone\nMSE {report['encoder_mse']['mse']:.4f}", enc))
    return rows, report


class InvertedGenerator:
    """A GAN run seen as an autoencoder: ``encode`` inverts its generator, ``decode`` runs it.  It offers what
    :mod:`saddlepoint.attributes` asks of a VAE (images in data units, [−1, 1])."""

    def __init__(self, exp, settings: LatentSearch = LatentSearch(steps=300, restarts=2, prior=0.001),
                 progress: bool = False):
        self.G = LatentGenerator(exp, "attribute arithmetic")
        self.exp, self.settings, self.progress = exp, settings, progress
        self.images, self.condition, self.cfg = exp.images, None, exp.cfg
        self.inversion_mse: list[float] = []  # of every batch inverted, for the report

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        z, _, err = invert(self.G, (x + 1) / 2, self.settings, progress=self.progress)
        self.inversion_mse.append(float(err.mean()))
        return z

    @torch.no_grad()
    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return torch.cat([self.G(zb.to(self.G.device)).cpu() for zb in z.split(512)]) * 2 - 1

    def held_out(self, n: int | None = None) -> tuple[Tensor, Tensor | None, str]:
        x, labels, what = held_out_images(self.exp, n or 10_000)
        return x * 2 - 1, labels, what

    def observe_fixed(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x, x


def latent_arithmetic(exp, with_: str, without: str, apply_to: str,
                      settings: LatentSearch = LatentSearch(restarts=4, prior=0.001), amount: float = 1.0,
                      progress: bool = False) -> tuple[list[tuple[str, Tensor]], dict[str, Any]]:
    """Radford et al.'s arithmetic on codes found by inversion: the mean code of the images in ``with_`` minus the mean
    code of those in ``without``, added (× ``amount``) to the code of each image in ``apply_to`` (three image files or
    folders at the run's size and channels).  The picture's rows: the two groups' mean codes decoded, the third group,
    its inversions, and the edited images."""
    from .recover import mse_interval

    G = LatentGenerator(exp, "invert --arithmetic")
    groups = {name: read_exact_images(path, G.shape[1], G.shape[0])[0]
              for name, path in (("with", with_), ("without", without), ("apply", apply_to))}  # all read before any search
    codes, found, errors = {}, {}, {}
    for name, x in groups.items():
        codes[name], found[name], _ = invert(G, x, settings, init=_encoder_guess(exp, x), progress=progress)
        errors[name] = mse_interval(found[name], x)
    direction = codes["with"].mean(0) - codes["without"].mean(0)
    with torch.no_grad():
        mean_with, mean_without = G(codes["with"].mean(0, keepdim=True).to(G.device)).cpu(), \
            G(codes["without"].mean(0, keepdim=True).to(G.device)).cpu()
        edited = G((codes["apply"] + amount * direction).to(G.device)).cpu()
    rows = [("mean code\nof the first", mean_with), ("mean code\nof the second", mean_without),
            ("third", groups["apply"]), ("inverted", found["apply"]), (f"+ {amount:g} × (first − second)", edited)]
    report = {"generator": G.what, "images": {k: len(v) for k, v in groups.items()}, "amount": amount,
              "direction_norm": float(direction.norm()), "inversion_mse": errors,
              "search": {k: getattr(settings, k) for k in settings.__dataclass_fields__}}
    return rows, report
