"""InfoGAN (Chen et al. 2016): no labels.  The generator gets a latent code c (categorical codes and continuous
codes) and a head Q on the critic's features recovers c from G(z, c).  Both players maximize the variational lower
bound L_I(G, Q) = E log Q(c | G(z, c)) + H(c) on the mutual information I(c; G(z, c)); its weight is λ
(``aux_weight``).  Continuous codes are read as unit-variance Gaussians (log Q = −½‖c − μ‖² + const).  Q is
trained with the critic (on fake samples only), G with its own step.  IIC's consistency term on Q's reading of
real images (``info_consistency``) is a critic penalty (:func:`saddlepoint.penalties.code_consistency`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from ..conditional import register_condition
from ..keys import ConfigError, config_section, key

__all__ = ["MutualInformation"]


@config_section("infogan", family="gan", conditions=("infogan",))
class InfoGANKeys:
    """InfoGAN's own keys (conditional=infogan; its λ is aux_weight)."""

    info_categorical: int = key(10, "infogan: categories of the categorical code (0 = none)", min=0)
    info_codes: int = key(1, "infogan: independent categorical codes of info_categorical values each (the paper: 4 "
                             "on SVHN, 10 on CelebA)", min=1)
    info_continuous: int = key(2, "infogan: continuous codes, uniform on [−1, 1]", min=0)
    info_consistency: float = key(0.0, "infogan: weight of IIC's term on Q's categorical code (Ji et al. 2019): minus "
                                      "the mutual information between Q's reading of real images and of randomly "
                                      "turned, shifted and scaled copies (0 = off; applied with penalty_every)", min=0)


@register_condition("infogan")
@dataclass(frozen=True)
class MutualInformation:
    """InfoGAN: λ · (−L_I) for both players, with L_I's constant entropy H(c) dropped.  A code is
    (B, codes · categorical + continuous): ``codes`` independent one-hot categorical parts (one by default; the
    paper used four 10-way codes on SVHN and ten on CelebA) and continuous parts uniform on [−1, 1].
    Each categorical code is uniform over its values, so a generator whose categories each hold one mode of
    the data draws those modes equally often."""

    categorical: int = 10
    continuous: int = 2
    weight: float = 1.0
    codes: int = 1
    critic_reads_label: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    from_real: ClassVar[bool] = False
    aux_hidden: ClassVar[int] = 128  # Q: one hidden layer on the critic's features (Chen et al. 2016, appendix C)
    sweepable: ClassVar[bool] = True  # `saddlepoint sample --sweep` walks its codes
    feature_batch_norm: ClassVar[bool] = True  # Q's head has BatchNorm1d: batches of at least two

    @classmethod
    def validate(cls, cfg) -> None:
        if cfg.info_categorical + cfg.info_continuous == 0:
            raise ConfigError("conditional=infogan needs a code: set info_categorical or info_continuous above 0")
        if cfg.info_consistency and not cfg.info_categorical:
            raise ConfigError("info_consistency acts on the categorical code; set info_categorical (e.g. 10) or "
                              "remove it")
        if cfg.info_codes > 1 and not cfg.info_categorical:
            raise ConfigError(f"info_codes={cfg.info_codes} counts categorical codes and info_categorical=0 makes "
                              "none; set info_categorical (e.g. 10) or remove info_codes")
        if cfg.info_categorical == 1:
            raise ConfigError("info_categorical=1 is a constant; use 0 (no categorical code) or at least 2")

    @classmethod
    def from_config(cls, cfg, classes: int) -> "MutualInformation":
        return cls(cfg.info_categorical, cfg.info_continuous, cfg.aux_weight, cfg.info_codes)

    def digit_reads(self, exp, fake: Tensor, cond: Tensor | None) -> dict[str, float]:
        """Stacked MNIST: the digit triples of the samples; MNIST: the categorical code's best matching to the
        digits the shipped classifier reads (one categorical code only)."""
        from ..metrics.images import mnist_backbone, read_stacked

        if exp.cfg.data == "stacked-mnist":
            return read_stacked(fake)
        if exp.cfg.data != "mnist" or cond is None or not self.categorical or self.codes > 1:
            return {}
        from ..metrics.conditional import best_matching_accuracy

        predicted = mnist_backbone()[0](fake)[1].argmax(1)
        return {"code_match": best_matching_accuracy(self.categories(cond), predicted, self.categorical,
                                                     10)["code_match"]}

    def metric_refusal(self, exp, metric: str) -> str | None:
        if metric != "code_match":
            return NotImplemented
        if exp.cfg.data != "mnist":
            return ("accuracy and code_match read the samples with saddlepoint's MNIST classifier and need "
                    "data=mnist")
        if not self.categorical:
            return "code_match needs a categorical code; this run has info_categorical=0"
        if self.codes > 1:
            return (f"code_match matches one categorical code to the digit classes and this run has "
                    f"info_codes={self.codes}; train with info_codes=1 to measure it")
        return None

    @property
    def cond_dim(self) -> int:
        return self.codes * self.categorical + self.continuous

    @property
    def aux_outputs(self) -> int:
        return self.cond_dim

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        cat = torch.randint(max(self.categorical, 1), (n, self.codes), generator=generator)
        return self.code(cat, torch.rand(n, self.continuous, generator=generator) * 2 - 1)

    def code(self, categories: Tensor, continuous: Tensor) -> Tensor:
        """Assemble codes from categories and continuous values (B, continuous) → (B, cond_dim).  Categories
        are (B, codes), or (B,): the same category in every categorical code."""
        if categories.dim() == 1:
            categories = categories[:, None].expand(-1, self.codes)
        parts = [F.one_hot(categories, self.categorical).float().flatten(1)] if self.categorical else []
        return torch.cat(parts + [continuous.float()], dim=1)

    def balanced(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Codes for pictures and evaluation: every category equally often (with several codes, every
        combination: code j of sample i is digit j of i in base K); continuous codes from their prior."""
        k = max(self.categorical, 1)
        i = torch.arange(n)
        cats = torch.stack([(i // k**j) % k for j in range(self.codes)], 1)
        return self.code(cats, torch.rand(n, self.continuous, generator=generator) * 2 - 1)

    def likelihood_parts(self):
        """Annealed importance sampling sums over the categorical codes' combinations (uniform) and anneals the
        continuous codes beside z."""
        from ..metrics.ais import LatentParts

        k = self.categorical ** self.codes if self.categorical else 0
        what = "values of its categorical code" if self.codes == 1 else f"combinations of its {self.codes} codes"
        return LatentParts(k, False, self.continuous, f"{what} of p(x | c)")

    def likelihood_code(self, k: Tensor | None, continuous: Tensor) -> Tensor:
        """The code of combination ``k`` (code j is digit j of k in base ``categorical``, as :meth:`balanced`
        numbers them) with continuous parts from standard normal ``continuous``: 2Φ(u) − 1 is uniform on [−1, 1]."""
        n = continuous.shape[0]
        base = max(self.categorical, 1)
        k = torch.zeros(n, dtype=torch.long, device=continuous.device) if k is None else k
        cats = torch.stack([(k // base ** j) % base for j in range(self.codes)], 1)
        return self.code(cats, torch.erf(continuous / math.sqrt(2))).to(continuous.dtype)

    def categories(self, code: Tensor) -> Tensor:
        """The categorical parts of codes (B, cond_dim) as indices: (B,) for one code, else (B, codes)."""
        cats = code[:, : self.codes * self.categorical].unflatten(1, (self.codes, self.categorical)).argmax(2)
        return cats[:, 0] if self.codes == 1 else cats

    def _neg_info(self, q: Tensor, code: Tensor) -> Tensor:
        q = q.float()
        loss = q.new_zeros(())
        width = self.codes * self.categorical
        if self.categorical:  # one cross-entropy per categorical code, summed
            logits = q[:, :width].unflatten(1, (self.codes, self.categorical))
            loss = loss + self.codes * F.cross_entropy(logits.flatten(0, 1), self.categories(code).flatten())
        if self.continuous:  # −log N(c; μ, 1) up to a constant, summed over the codes
            loss = loss + 0.5 * ((q[:, width:] - code[:, width:]) ** 2).sum(1).mean()
        return self.weight * loss

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return self._neg_info(aux_fake, c_fake)

    def g_term(self, aux_fake, c_fake, fake, real):
        return self._neg_info(aux_fake, c_fake)
