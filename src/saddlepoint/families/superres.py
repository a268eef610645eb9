"""Super-resolution (Ledig et al. 2017): SRGAN with the pixel-space content loss, and SRResNet (``gan_weight=0``).

The generator is given a low-resolution image (a 4× smaller crop of a photograph) and pays the mean squared
error against the high-resolution crop; the critic judges high-resolution images alone.  It is scored on whole
held-out photographs, PSNR and SSIM beside bicubic interpolation's; ``saddlepoint upscale`` enlarges your own
photographs, and EDSR's geometric self-ensemble is its test-time option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ..conditional import Translation, register_condition
from ..data.superres import SR_DATASETS, SRSampler, held_out_photos, self_ensemble
from ..keys import config_section, key
from .pictures import read_inputs, translation_grid

__all__ = ["SuperResolution"]


@config_section("superres", family="gan", conditions=("srgan",))
class SuperResolutionKeys:
    """Super-resolution's own keys (conditional=srgan; gan_weight=0 gives SRResNet)."""

    sr_residual: bool = key(True, "srgan: the generator adds its output to the bicubic enlargement of its input (global "
                                 "residual learning, VDSR; not in the SRGAN paper); false = the paper's generator")
    sr_augment: bool = key(False, "srgan: each training crop turned by a multiple of 90° and mirrored at random (the "
                                 "square's 8 symmetries), as EDSR trains")


@register_condition("srgan")
@dataclass(frozen=True)
class SuperResolution(Translation):
    """SRGAN (Ledig et al. 2017) with the pixel-space content loss (the paper's SRGAN-MSE): the generator is
    given the low-resolution image and pays ``content_weight`` · mean (G(LR) − HR)²; the critic judges
    high-resolution images alone.  With ``gan_weight=0`` this is SRResNet, trained on the pixel loss only;
    SRGAN weighs the adversarial term by 10⁻³ against the content loss."""

    content_weight: float = 1.0
    critic_reads_label: ClassVar[bool] = False
    players: ClassVar[str] = "srresnet"
    datasets: ClassVar[dict] = SR_DATASETS
    holds: ClassVar[str] = "is a set of photographs for super-resolution"
    needs_data: ClassVar[str] = "for super-resolution: srgan needs skimage-photos or a folder of images"
    metrics: ClassVar[tuple[str, ...]] = ("l1", "psnr", "ssim")
    kind_words: ClassVar[str] = "super-resolution"
    quality: ClassVar[tuple[str, ...]] = ("psnr", "ssim")
    upscales: ClassVar[bool] = True  # `saddlepoint upscale` enlarges whole photographs with it
    whole_photos: ClassVar[bool] = True  # scored on whole held-out photographs: a sample count means nothing

    @staticmethod
    def load_data(cfg):
        return SRSampler(cfg.data, cfg.image_size, augment=cfg.sr_augment)

    def test_time(self, upscale, low: Tensor) -> Tensor:
        """EDSR's geometric self-ensemble: the mean of ``upscale`` over the input's 8 turns and mirrors."""
        return self_ensemble(upscale, low)

    def g_term(self, aux_fake, c_fake, fake, real):
        return self.content_weight * ((fake.float() - real.float()) ** 2).mean()

    # --- evaluation and pictures -----------------------------------------------------------------------------
    def evaluate_images(self, exp, metrics, n, n_ref, get_backbone) -> dict:
        from ..metrics.images import evaluate_superres

        return evaluate_superres(exp, metrics)

    def evaluated_on(self, res: dict) -> str:
        from .pix2pix import _count

        return _count(res["photos"], res["images"])

    def held_out_grid(self, exp, n: int, inputs=None) -> Tensor:
        """Rows low resolution (enlarged) | output | original: seeded crops of the held-out photographs, or your
        images (read at a quarter of the crop size) | output."""
        size = exp.cfg.image_size
        if inputs is not None:
            return translation_grid(exp, read_inputs(inputs, size // 4, exp.source_channels)[:n])
        photos = held_out_photos(exp.cfg.data)[0]
        high, low = SRSampler(exp.cfg.data, size, photos=photos).sample_labelled(n, torch.Generator().manual_seed(0))
        return translation_grid(exp, low, high)
