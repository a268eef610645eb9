"""The variational autoencoder (Kingma & Welling 2014) and its importance-weighted bound (Burda et al. 2016): the
likelihood side of the generative models, on the same trainer as the games.

The encoder q(z | x) = N(μ(x), σ²(x)) and the decoder p(x | z) are trained together on the evidence lower bound

    log p(x) ≥ ELBO = E_q[log p(x | z)] − KL(q(z | x) ‖ N(0, I)),

its expectation taken with one reparameterized draw z = μ + σ·ε, ε ~ N(0, I), and the KL in closed form
(½ Σ (μ² + σ² − log σ² − 1)).  ``beta`` weighs the KL (β-VAE, Higgins et al. 2017; ``kl_warmup`` steps ramp it
from 0); ``iwae_k`` > 1 trains on the importance-weighted bound log (1/k) Σ p(x, z_i) / q(z_i | x), which is
tighter as k grows (k = 1 is the ELBO).  The likelihood suits the data: independent Bernoulli pixels for grey
images (their grey levels in [0, 1] as the Bernoulli means; ``binarize`` draws binary pixels from them at every
pass, dynamic binarization), a Gaussian with one learned scale for 2-D points.  Logged per step as its terms, in
nats per sample: ``loss/elbo`` (the negative bound), ``loss/reconstruction``, ``loss/kl``; each evaluation adds
the KL of every latent unit and the active-units count (units whose posterior mean varies over the data, Cov > 0.01).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..distributed import Dist, wrap
from ..keys import ConfigError, config_section, key
from ..nets.vae import Decoder, GaussianEncoder
from .base import EVAL_SEED, Family, adam
from .registry import register_family

__all__ = ["VAEKeys", "VAE", "gaussian_kl"]


@config_section("vae", family="vae")
class VAEKeys:
    """The encoder, the likelihood and the bound of a variational autoencoder: keys only family=vae reads (its
    latent size is z_dim)."""

    vae_hidden: tuple[int, ...] = key((200, 200), "hidden tanh layers of the encoder and, mirrored, the decoder (the "
                                                  "IWAE paper's MNIST model: 200, 200)")
    likelihood: Literal["auto", "bernoulli", "gaussian"] = key(
        "auto", "p(x | z): bernoulli (grey images: grey levels as Bernoulli means) or gaussian (one learned scale); "
                "auto = bernoulli for images, gaussian for 2-D points")
    binarize: bool = key(False, "bernoulli: draw binary pixels from the grey levels at every pass (dynamic "
                                "binarization, the IWAE paper's protocol)")
    beta: float = key(1.0, "weight of the KL term (β-VAE; 1 = the ELBO)", min=0)
    kl_warmup: int = key(0, "steps over which the KL weight ramps linearly from 0 to beta (0 = none)", min=0)
    iwae_k: int = key(1, "importance samples of the bound (Burda et al. 2016; 1 = the VAE's ELBO)", min=1)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per latent unit, (B, latent): ½ (μ² + σ² − log σ² − 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


@register_family("vae")
class VAE(Family):
    """An encoder and a decoder trained on the evidence lower bound (or the importance-weighted bound)."""

    optimizer_names = ("opt",)

    def __init__(self, cfg: Any, dist: Dist, device: torch.device, shapes: dict[str, int] | None = None):
        super().__init__(cfg, dist, device, shapes)
        self._load_data(shapes)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # data order, the reparameterization's noise, binarization
        self.bernoulli = (cfg.likelihood == "bernoulli") or (cfg.likelihood == "auto" and self.images)
        shape = (self.channels, cfg.image_size, cfg.image_size) if self.images else (self.channels,)
        self.E = GaussianEncoder(shape, cfg.vae_hidden, cfg.z_dim).to(self.device)
        self.G = Decoder(cfg.z_dim, tuple(reversed(cfg.vae_hidden)), shape, self.bernoulli).to(self.device)
        self._averages()
        self.opt = adam([*self.E.parameters(), *self.G.parameters()], cfg.lr_g, cfg)
        self.E_run, self.G_run = wrap(self.E, self.dist, self.device), wrap(self.G, self.dist, self.device)

    # --- the bound -------------------------------------------------------------------------------------------
    def _target(self, x: Tensor) -> Tensor:
        """What the likelihood scores: Bernoulli targets in [0, 1] (binary ones with ``binarize``), or the points."""
        if not self.bernoulli:
            return x
        p = ((x + 1) / 2).clamp(0, 1)
        if self.cfg.binarize:  # the global batch's draw, this process's slice (as one process would draw)
            u = self.dist.shard(torch.rand((p.shape[0] * self.dist.world, *p.shape[1:]), generator=self.rng))
            return (u.to(p.device) < p).float()
        return p

    def _log_likelihood(self, params: Tensor, target: Tensor) -> Tensor:
        """log p(x | z) summed over the dimensions: (B,)."""
        if self.bernoulli:
            return -F.binary_cross_entropy_with_logits(params, target, reduction="none").flatten(1).sum(1)
        return torch.distributions.Normal(params, self.G.log_scale.exp()).log_prob(target).flatten(1).sum(1)

    def bound(self, x: Tensor, k: int, beta: float = 1.0, generator: torch.Generator | None = None
              ) -> dict[str, Tensor]:
        """The negative bound and its terms on the batch ``x`` (in the players' units), each (B,) in nats: with
        k = 1 the ELBO (−reconstruction + β·KL), with k > 1 the importance-weighted bound."""
        generator = generator or self.rng
        target = self._target(x)
        mu, logvar = self.E_run(x)
        std = (0.5 * logvar).exp()
        # ε for the global batch, this process's slice: (k, B, latent)
        eps = torch.randn((mu.shape[0] * self.dist.world, k, mu.shape[1]), generator=generator)
        eps = self.dist.shard(eps).transpose(0, 1).to(mu.device)
        z = mu + std * eps  # the reparameterization: z ~ q(z | x), differentiable in μ and σ
        params = self.G_run(z.flatten(0, 1), raw=True)
        log_px = self._log_likelihood(params, target.repeat(k, *[1] * (target.dim() - 1))).view(k, -1)  # (k, B)
        kl_units = gaussian_kl(mu, logvar)  # (B, latent)
        if k == 1:
            kl = kl_units.sum(1)
            return {"loss": -log_px[0] + beta * kl, "reconstruction": -log_px[0], "kl": kl, "kl_units": kl_units,
                    "mu": mu}
        # log w_i = log p(x | z_i) + log p(z_i) − log q(z_i | x); the Gaussians' constants cancel.
        log_pz = -0.5 * z.pow(2).sum(2)
        log_qz = -0.5 * (eps.pow(2) + logvar).sum(2)
        log_w = log_px + log_pz - log_qz  # (k, B)
        bound = torch.logsumexp(log_w, 0) - math.log(k)
        return {"loss": -bound, "reconstruction": -log_px.mean(0), "kl": kl_units.sum(1), "kl_units": kl_units,
                "mu": mu}

    def kl_weight(self) -> float:
        warm = self.cfg.kl_warmup
        return self.cfg.beta * (min(1.0, (self.step + 1) / warm) if warm else 1.0)

    def train_step(self) -> dict[str, Tensor]:
        x = self.sample_data(self.cfg.batch_size)  # (B, ...) this process's slice of the global batch
        terms = self.bound(x, self.cfg.iwae_k, self.kl_weight())
        loss = terms["loss"].mean()  # min −ELBO: ascend the bound on log p(x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss/elbo": loss.detach(), "loss/reconstruction": terms["reconstruction"].mean().detach(),
                "loss/kl": terms["kl"].mean().detach()}

    def optimizers(self) -> list[tuple[torch.optim.Optimizer, float]]:
        return [(self.opt, self.cfg.lr_g)]

    def weights(self) -> dict[str, nn.Module]:
        return {"E": self.E, **super().weights()}

    def objective(self) -> str:
        what = "ELBO" if self.cfg.iwae_k == 1 else f"IWAE bound, k={self.cfg.iwae_k}"
        return what + (f", β={self.cfg.beta:g}" if self.cfg.beta != 1 else "") + ", no critic"

    # --- evaluation --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, n: int | None = None) -> dict[str, float | str]:
        """The sampler's quality (:meth:`Family.sample_quality`) and the bound on ``n`` training points: ``elbo``
        in nats per sample, the KL of each latent unit and the active units (Burda et al. 2016: Cov_x E_q[u] >
        0.01)."""
        n = n or self.cfg.eval_samples
        out = dict(self.sample_quality(n))
        g = torch.Generator().manual_seed(EVAL_SEED + 3)
        x = (self.data.sample(n, g) / self.scale).to(self.device)
        was = self.E.training, self.G.training
        self.E.eval(), self.G.eval()
        terms = self.bound(x, 1, 1.0, generator=g)
        self.E.train(was[0]), self.G.train(was[1])
        out["elbo"] = float(-terms["loss"].mean())
        out["kl"] = float(terms["kl"].mean())
        out["active_units"] = int((terms["mu"].var(0) > 0.01).sum())
        kl_units = terms["kl_units"].mean(0)
        out.update({f"kl_unit/{i}": float(v) for i, v in enumerate(kl_units)} if len(kl_units) <= 16 else {})
        return out

    # --- the config ------------------------------------------------------------------------------------------
    @classmethod
    def validate(cls, cfg: Any) -> None:
        toy = cls.check_sample_data(cfg)
        if toy and cfg.likelihood == "bernoulli":
            raise ConfigError(f"likelihood=bernoulli scores pixels and data={cfg.data} holds 2-D points; use "
                              "likelihood=gaussian (or auto)")
        if cfg.binarize and (toy or cfg.likelihood == "gaussian"):
            raise ConfigError("binarize draws binary pixels for the Bernoulli likelihood; remove it or use "
                              "likelihood=bernoulli on images")
        if cfg.noise != "normal":
            raise ConfigError("family=vae's prior is the standard normal of its bound; remove noise=")
        if cfg.iwae_k > 1 and (cfg.beta != 1 or cfg.kl_warmup):
            raise ConfigError("iwae_k > 1 trains on the importance-weighted bound, which has no separate KL term to "
                              "weigh: remove beta / kl_warmup or set iwae_k=1")
        if not cfg.vae_hidden or min(cfg.vae_hidden) < 1:
            raise ConfigError(f"vae_hidden={list(cfg.vae_hidden)} must be layer widths of at least 1, e.g. [200,200]")
        if cfg.precision == "fp16":
            raise ConfigError("family=vae has no loss scaling for fp16; use precision=fp32")
