"""A history of generated images for the critic (Shrivastava et al. 2017; CycleGAN, Zhu et al. 2017 §4):
the critic is updated on a mix of the generator's newest images and ones it made earlier, which damps
the oscillation of the two players.  Each new image enters the pool; once the pool is full, with
probability ½ the critic sees a random stored image instead (and the new one takes its place).

The pool's images and its random generator are part of a run's state (checkpointed, so resume stays exact).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["HistoryPool"]


class HistoryPool:
    """Up to ``size`` units of ``group`` consecutive samples each (a CycleGAN pair (G(a), F(b)) is one
    unit, so both domains keep their places in the batch)."""

    def __init__(self, size: int = 50, group: int = 1, seed: int = 0):
        self.size, self.group = size, group
        self.images: Tensor | None = None  # (count, group, C, H, W)
        self.count = 0
        self.rng = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def draw(self, fake: Tensor) -> Tensor:
        """The batch the critic sees in place of ``fake`` (same shape; detached)."""
        if self.size == 0:
            return fake
        units = fake.detach().reshape(-1, self.group, *fake.shape[1:])
        if self.images is None:
            self.images = torch.empty(self.size, *units.shape[1:], dtype=units.dtype, device=units.device)
        out = units.clone()
        for i in range(units.shape[0]):
            if self.count < self.size:
                self.images[self.count] = units[i]
                self.count += 1
            elif float(torch.rand((), generator=self.rng)) < 0.5:
                j = int(torch.randint(self.size, (), generator=self.rng))
                out[i] = self.images[j]
                self.images[j] = units[i]
        return out.reshape(fake.shape).contiguous(memory_format=_format(fake))

    def state(self) -> dict[str, Tensor]:
        st = {"count": torch.tensor(self.count), "rng": self.rng.get_state()}
        if self.images is not None:
            st["images"] = self.images[: self.count].contiguous()
        return st

    def load_state(self, st: dict[str, Tensor], like: Tensor | None = None) -> None:
        self.count = int(st["count"])
        self.rng.set_state(st["rng"])
        if "images" in st and self.count:
            imgs = st["images"]
            self.images = torch.empty(self.size, *imgs.shape[1:], dtype=imgs.dtype,
                                      device=like.device if like is not None else imgs.device)
            self.images[: self.count] = imgs


def _format(x: Tensor) -> torch.memory_format:
    return torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
