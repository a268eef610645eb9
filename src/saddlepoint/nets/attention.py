"""Self-attention for convolutional players (SAGAN, Zhang et al. 2019; BigGAN, Brock et al. 2019).

Each position of a feature map attends to every position: queries and keys are 1×1 convolutions to C/8
channels, values to C/2, the keys and values max-pooled 2×2 (BigGAN's saving, which keeps the map's reach), and a
1×1 convolution brings the attended values back to C channels.  The block adds them through a learned gate γ
that starts at 0, so a player starts as its plain convolutional self and learns how much long-range mixing to
take."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["SelfAttention"]


class SelfAttention(nn.Module):
    """x + γ · attention(x) on a (B, C, H, W) feature map.  With ``keep`` set, the last forward's attention
    weights stay in ``last`` as (B, H·W, H'·W'): each query position's distribution over the pooled keys."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, max(1, channels // 2), 1, bias=False)
        self.out = nn.Conv2d(max(1, channels // 2), channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.keep = False
        self.last: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        pool = h % 2 == 0 and w % 2 == 0 and h * w >= 16
        q = self.query(x).flatten(2)  # (B, C/8, HW)
        k, v = self.key(x), self.value(x)
        if pool:
            k, v = F.max_pool2d(k, 2), F.max_pool2d(v, 2)
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k.flatten(2)), dim=-1)  # (B, HW, H'W')
        if self.keep:
            self.last = attn.detach()
        o = torch.bmm(v.flatten(2), attn.transpose(1, 2)).view(b, -1, h, w)  # (B, C/2, H, W)
        return x + self.gamma * self.out(o)
