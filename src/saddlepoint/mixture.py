"""The generator's time-averaged mixed strategy: a uniform mixture of its recent iterates.

Gradient descent-ascent on a zero-sum game need not converge in its last iterate: on a bilinear game it
circles the equilibrium.  What converges, for no-regret play, is the *time average of the mixed
strategies* (Freund & Schapire 1999).  For a GAN the generator's mixed strategy over its past iterates is
the mixture of their distributions, p̄ = (1/K) Σₖ p_{G_k} — not the average of their weights, which is what
an exponential moving average gives (Grnarova et al. 2018 and Arora et al. 2017 train with such mixtures).
On stacked MNIST with a weak critic the last iterate drops a different third of the digits every few
thousand steps, so the protocol's count at the end of a run is a draw from that swing; a mixture of
snapshots taken across the swings averages it (BENCHMARKS.md measures what that gives).

A sample from the mixture is a sample from one member chosen uniformly; here sample i of a request goes to
member i mod K, which gives each member exactly its share (stratified sampling of the mixture).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

__all__ = ["IterateMixture"]


class IterateMixture(nn.Module):
    """Up to ``size`` frozen snapshots of a generator, oldest first; ``forward`` samples their uniform mixture."""

    def __init__(self, size: int):
        super().__init__()
        if size < 1:
            raise ValueError(f"a mixture needs at least one member, got size={size}")
        self.size = size
        self.members = nn.ModuleList()
        self.eval()

    def train(self, mode: bool = True) -> "IterateMixture":
        """Members are frozen snapshots: always in eval mode (batch norm reads its stored statistics)."""
        return super().train(False)

    def __len__(self) -> int:
        return len(self.members)

    @torch.no_grad()
    def add(self, G: nn.Module) -> None:
        """Append a frozen copy of ``G`` (weights and batch-norm statistics); drop the oldest beyond ``size``."""
        self.members.append(copy.deepcopy(G).requires_grad_(False).eval())
        if len(self.members) > self.size:
            del self.members[0]

    def resize(self, n: int, like: nn.Module) -> None:
        """Hold ``n`` members shaped like ``like`` (placeholders whose weights a checkpoint then loads)."""
        while len(self.members) > n:
            del self.members[0]
        while len(self.members) < n:
            self.members.append(copy.deepcopy(like).requires_grad_(False).eval())

    def forward(self, z: Tensor, *cond: Tensor, member: Tensor | None = None) -> Tensor:
        """Sample i from member ``member[i]`` (default: i mod K).  ``z``: (B, z_dim); ``cond``: the
        conditional generator's (B, …) labels or codes, split the same way."""
        k = len(self.members)
        if k == 0:
            raise RuntimeError("the mixture has no member yet")
        member = torch.arange(z.shape[0], device=z.device) % k if member is None else member.to(z.device)
        if member.numel() != z.shape[0] or (member.numel() and not 0 <= int(member.min()) <= int(member.max()) < k):
            raise ValueError(f"member must give each of the {z.shape[0]} samples one of the {k} members (0..{k - 1})")
        out: Tensor | None = None
        for j, G in enumerate(self.members):
            rows = (member == j).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            x = G(z[rows], *(c[rows] for c in cond))
            if out is None:
                out = x.new_empty((z.shape[0], *x.shape[1:]))
            out[rows] = x
        return out
