"""pix2pix (Isola et al. 2017): paired translation.  The generator is given a real source image A (no noise z:
dropout is its noise) and must produce the paired target B; the critic judges (A, B) pairs, D(B, A) against
D(G(A), A), and the generator also pays λ·E‖B − G(A)‖₁, the paper's objective
G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G) with λ = 100.  ``gan_weight=0`` is the L1-only baseline.

Its data are pairs (``edges2mnist``, ``halves2mnist`` or a folder of pairs); it is scored on held-out pairs: L1,
PSNR and SSIM against the targets, the digit classifier's reading of the outputs on the built-in MNIST pairs, and
FID/KID/precision-recall of the outputs against the targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ..conditional import Translation, register_condition
from ..data.paired import PAIRED_DATASETS, PairedSampler, held_out_pairs
from ..keys import config_section, key
from .pictures import read_inputs, translation_grid

__all__ = ["PairedTranslation"]


@config_section("pix2pix", family="gan", conditions=("pix2pix",))
class Pix2PixKeys:
    """pix2pix's own key (conditional=pix2pix; gan_weight=0 gives its L1 baseline)."""

    l1_weight: float = key(100.0, "pix2pix: λ on the L1 distance between G(A) and the target B", min=0)


@register_condition("pix2pix")
@dataclass(frozen=True)
class PairedTranslation(Translation):
    """pix2pix: the critic reads the source image beside the image it judges; the generator adds
    ``l1_weight`` · mean |B − G(A)| (the paper's λ = 100)."""

    l1_weight: float = 100.0
    critic_reads_label: ClassVar[bool] = True
    players: ClassVar[str] = "unet"
    datasets: ClassVar[dict] = PAIRED_DATASETS
    holds: ClassVar[str] = "holds image pairs"
    needs_data: ClassVar[str] = "a set of image pairs: pix2pix needs edges2mnist, halves2mnist or a folder of pairs"
    metrics: ClassVar[tuple[str, ...]] = ("l1", "psnr", "ssim", "fid", "kid", "pr", "accuracy")
    kind_words: ClassVar[str] = "translation"
    labelled_data: ClassVar[tuple[str, ...]] = tuple(PAIRED_DATASETS)
    quality: ClassVar[tuple[str, ...]] = ("l1", "psnr", "ssim")

    @classmethod
    def from_config(cls, cfg, classes: int) -> "PairedTranslation":
        return cls(cfg.l1_weight)

    @staticmethod
    def load_data(cfg):
        return PairedSampler(cfg.data, cfg.image_size)

    def g_term(self, aux_fake, c_fake, fake, real):
        return self.l1_weight * (fake.float() - real.float()).abs().mean()

    # --- evaluation and pictures -----------------------------------------------------------------------------
    def evaluate_images(self, exp, metrics, n, n_ref, get_backbone) -> dict:
        from ..metrics.images import evaluate_paired

        return evaluate_paired(exp, metrics, n, n_ref, get_backbone)

    def evaluated_on(self, res: dict) -> str:
        return _count(res["translated"], res["pairs"])

    def reference_set(self, exp):
        """Outside the MNIST family, FID and the like compare with the targets of the held-out pairs."""
        from ..data.images import ImageSampler, ImageTensorDataset
        from ..metrics.images import MNIST_FAMILY

        if exp.cfg.data in MNIST_FAMILY:
            return None
        held, what = held_out_pairs(exp.cfg.data, exp.cfg.image_size)
        return (ImageSampler(exp.cfg.data, exp.cfg.image_size, base=ImageTensorDataset(held.target, None, held.name)),
                f"the targets of the {what}")

    def held_out_grid(self, exp, n: int, inputs=None) -> Tensor:
        """Rows source | output | target of the first ``n`` held-out pairs, or source | output of your images."""
        size = exp.cfg.image_size
        if inputs is not None:
            return translation_grid(exp, read_inputs(inputs, size, exp.source_channels)[:n])
        targets, sources = PairedSampler(exp.cfg.data, size, held_out_pairs(exp.cfg.data, size)[0]).first(n)
        return translation_grid(exp, sources, targets)


def _count(count: int, what: str) -> str:
    """'8 held-out pairs of ...', singular for one ('1 held-out pair')."""
    import re

    if count == 1:
        what = re.sub(r"(photograph|pair)s", r"\1", what, count=1)
    return f"{count} {what}"
