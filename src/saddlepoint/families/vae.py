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

import copy
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..distributed import Dist, wrap
from ..keys import ConfigError, config_section, key
from ..nets.vae import ConvDecoder, ConvEncoder, Decoder, GaussianEncoder, conv_stages
from ..runs import RunError
from .base import EVAL_SEED, Family, adam, eval_mode, resolve_precision
from .classcond import ClassLabels
from .registry import register_family

__all__ = ["VAEKeys", "VAE", "VAELabels", "gaussian_kl", "reconstruction_grid", "save_latent_grid"]


@config_section("vae", family="vae")
class VAEKeys:
    """The encoder, the likelihood and the bound of a variational autoencoder: keys only family=vae reads (its
    latent size is z_dim)."""

    vae_hidden: tuple[int, ...] = key((200, 200), "hidden layers of the encoder and, mirrored, the decoder (the "
                                                  "IWAE paper's MNIST model: 200, 200)")
    vae_activation: Literal["tanh", "softplus", "relu"] = key(
        "tanh", "the hidden layers' units (tanh: the IWAE paper's; softplus: the CSGM paper's VAE)")
    vae_net: Literal["mlp", "conv"] = key(
        "mlp", "the players: mlp (fully connected) or conv (images: strided 4×4 convolutions halving the side to 8 or "
               "7 pixels, then the vae_hidden layers; the decoder mirrors it)")
    vae_channels: int = key(32, "vae_net=conv: channels of the first convolution, doubling at each halving", min=1)
    likelihood: Literal["auto", "bernoulli", "gaussian"] = key(
        "auto", "p(x | z): bernoulli (binary pixels) or gaussian (its scale learned, or fixed by likelihood_scale); "
                "auto = bernoulli with binarize, gaussian otherwise (grey or colour images, 2-D points)")
    likelihood_scale: float = key(0.0, "likelihood=gaussian: the fixed standard deviation of p(x | z) in the players' "
                                       "units (pixels in [-1, 1]); 0 = one scale learned with the players", min=0)
    binarize: bool = key(False, "bernoulli: draw binary pixels from the grey levels at every pass (dynamic "
                                "binarization, the IWAE paper's protocol); the encoder reads the drawn pixels")
    beta: float = key(1.0, "weight of the KL term (β-VAE; 1 = the ELBO)", min=0)
    kl_warmup: int = key(0, "steps over which the KL weight ramps linearly from 0 to beta (0 = none)", min=0)
    iwae_k: int = key(1, "importance samples of the bound (Burda et al. 2016; 1 = the VAE's ELBO)", min=1)
    cvae: bool = key(False, "conditional VAE (Sohn et al. 2015): the one-hot class label goes into the encoder and the "
                            "decoder; needs labelled data; `saddlepoint sample RUN --label K`")


#: decodings per pass of the held-out likelihood: a convolutional decoder's feature maps for 1000 images fit in a
#: CPU's cache (for 20,000, as before, they took 0.5 GB per layer) and in any GPU
_DECODES_PER_PASS = 1000
_NLL_BATCH = 100  # held-out images per pass of the likelihood's estimate
_NLL_SAVE_EVERY_S = 30.0  # how often a long estimate writes what it has done (``partial``)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per latent unit, (B, latent): ½ (μ² + σ² − log σ² − 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


@dataclass(frozen=True)
class VAELabels(ClassLabels):
    """The conditional VAE's condition: class labels, uniform for sampling, read back by the MNIST classifier
    (``accuracy``) like a cGAN's."""

    name: ClassVar[str] = "cvae"


@register_family("vae")
class VAE(Family):
    """An encoder and a decoder trained on the evidence lower bound (or the importance-weighted bound)."""

    optimizer_names = ("opt",)

    def __init__(self, cfg: Any, dist: Dist, device: torch.device, shapes: dict[str, int] | None = None):
        super().__init__(cfg, dist, device, shapes)
        self._load_data(shapes)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # data order, the reparameterization's noise, binarization
        self.bernoulli = cfg.likelihood == "bernoulli" or (cfg.likelihood == "auto" and cfg.binarize)
        if self.bernoulli and not cfg.binarize and self.data is not None:
            _require_binary(self.data, cfg.data)
        if cfg.cvae:
            if self.classes < 2:
                raise RunError(f"cvae=true needs labelled images with at least two classes, and data={cfg.data} has "
                               f"{'none' if self.classes == 0 else 'one'}; use mnist, class sub-folders or an .npz with "
                               "a 'labels' array")
            self.condition = VAELabels(self.classes)
        labels = self.classes if cfg.cvae else 0
        shape = (self.channels, cfg.image_size, cfg.image_size) if self.images else (self.channels,)
        hidden, back = tuple(cfg.vae_hidden), tuple(reversed(cfg.vae_hidden))
        if cfg.vae_net == "conv":
            self.E = ConvEncoder(shape, hidden, cfg.z_dim, labels, cfg.vae_activation, cfg.vae_channels)
            self.G = ConvDecoder(cfg.z_dim, back, shape, self.bernoulli, labels, cfg.vae_activation, cfg.vae_channels,
                                 cfg.likelihood_scale)
        else:
            self.E = GaussianEncoder(shape, hidden, cfg.z_dim, labels, cfg.vae_activation)
            self.G = Decoder(cfg.z_dim, back, shape, self.bernoulli, labels, cfg.vae_activation, cfg.likelihood_scale)
        self.E.to(self.device), self.G.to(self.device)
        # The players' forward passes in the precision asked for; auto is float32 (the bound's sums and the test
        # likelihood are kept in float32; bf16 only where asked)
        self.precision = resolve_precision(cfg, self.device, mlp=True)
        self._averages()
        self.opt = adam([*self.E.parameters(), *self.G.parameters()], cfg.lr_g, cfg)
        self.E_run, self.G_run = wrap(self.E, self.dist, self.device), wrap(self.G, self.dist, self.device)

    # --- the bound -------------------------------------------------------------------------------------------
    def _observed(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(what the encoder reads, what the likelihood scores) for the batch ``x``: with ``binarize``, binary pixels
        drawn from the grey levels (the encoder reads them in the players' units, ±1); otherwise ``x`` and, for the
        Bernoulli likelihood, its pixels in [0, 1]."""
        if not self.bernoulli:
            return x, x
        p = ((x + 1) / 2).clamp(0, 1)
        if self.cfg.binarize:  # the global batch's draw, this process's slice (as one process would draw)
            u = self.dist.shard(torch.rand((p.shape[0] * self.dist.world, *p.shape[1:]), generator=self.rng))
            b = (u.to(p.device) < p).float()
            return 2 * b - 1, b
        return x, p

    def _log_likelihood(self, params: Tensor, target: Tensor) -> Tensor:
        """log p(x | z) summed over the dimensions: (B,)."""
        if self.bernoulli:
            return -F.binary_cross_entropy_with_logits(params, target, reduction="none").flatten(1).sum(1)
        return torch.distributions.Normal(params, self.G.log_scale.exp()).log_prob(target).flatten(1).sum(1)

    def _log_weights(self, mu: Tensor, logvar: Tensor, eps: Tensor, target: Tensor, y: Tensor | None,
                     decoder: nn.Module) -> tuple[Tensor, Tensor, Tensor]:
        """For z_i = μ + σ·ε_i (``eps``: (k, B, latent)): (log p(x | z_i), log p(z_i) − log q(z_i | x)), each (k, B),
        and z.  The Gaussians' constants cancel in the difference."""
        k = eps.shape[0]
        z = mu + (0.5 * logvar).exp() * eps  # the reparameterization: z ~ q(z | x), differentiable in μ and σ
        labels = None if y is None else y.repeat(k)
        params = decoder(z.flatten(0, 1), labels, raw=True)
        log_px = self._log_likelihood(params, target.repeat(k, *[1] * (target.dim() - 1))).view(k, -1)  # (k, B)
        log_prior_ratio = -0.5 * z.pow(2).sum(2) + 0.5 * (eps.pow(2) + logvar).sum(2)
        return log_px, log_prior_ratio, z

    def bound(self, x: Tensor, k: int, beta: float = 1.0, generator: torch.Generator | None = None,
              y: Tensor | None = None, fixed: bool = False) -> dict[str, Tensor]:
        """The negative bound and its terms on the batch ``x`` (in the players' units; ``y``: its labels for a
        conditional VAE), each (B,) in nats: with k = 1 the ELBO (−reconstruction + β·KL), with k > 1 the
        importance-weighted bound.  ``fixed``: binarize by :meth:`observe_fixed`, leaving the training's stream."""
        generator = generator or self.rng
        seen, target = self.observe_fixed(x) if fixed else self._observed(x)
        mu, logvar = self.E_run(seen, y)
        # ε for the global batch, this process's slice: (k, B, latent)
        eps = torch.randn((mu.shape[0] * self.dist.world, k, mu.shape[1]), generator=generator)
        eps = self.dist.shard(eps).transpose(0, 1).to(mu.device)
        log_px, log_ratio, _ = self._log_weights(mu, logvar, eps, target, y, self.G_run)
        kl_units = gaussian_kl(mu, logvar)  # (B, latent)
        if k == 1:
            kl = kl_units.sum(1)
            return {"loss": -log_px[0] + beta * kl, "reconstruction": -log_px[0], "kl": kl, "kl_units": kl_units,
                    "mu": mu}
        bound = torch.logsumexp(log_px + log_ratio, 0) - math.log(k)  # log (1/k) Σ p(x, z_i) / q(z_i | x)
        return {"loss": -bound, "reconstruction": -log_px.mean(0), "kl": kl_units.sum(1), "kl_units": kl_units,
                "mu": mu}

    def kl_weight(self) -> float:
        warm = self.cfg.kl_warmup
        return self.cfg.beta * (min(1.0, (self.step + 1) / warm) if warm else 1.0)

    def _batch(self) -> tuple[Tensor, Tensor | None]:
        """A training batch (this process's slice of the global batch) and, for a conditional VAE, its labels."""
        if self.condition is None:
            return self.sample_data(self.cfg.batch_size), None
        x, y = self.data.sample_labelled(self.cfg.batch_size, self.rng)
        return (self.dist.shard(x) / self.scale).to(self.device), self.dist.shard(y).to(self.device)

    def train_step(self) -> dict[str, Tensor]:
        x, y = self._batch()
        with torch.autocast(self.device.type, dtype=self.precision, enabled=self.precision != torch.float32):
            terms = self.bound(x, self.cfg.iwae_k, self.kl_weight(), y=y)
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
        what = ("conditional VAE, " if self.cfg.cvae else "") + what
        return what + (f", β={self.cfg.beta:g}" if self.cfg.beta != 1 else "") + ", no critic"

    # --- sampling, encoding, reconstruction -----------------------------------------------------------------
    def evaluation_conditions(self, n: int) -> Tensor:
        """A conditional VAE is evaluated on every class equally often."""
        return self.condition.balanced(n)

    def observe_fixed(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`_observed` for evaluation, in the players' units: with ``binarize``, one fixed binarization of the
        grey levels (seed :data:`EVAL_SEED`), the same for the same images every time."""
        if not (self.bernoulli and self.cfg.binarize):
            return x, (((x + 1) / 2).clamp(0, 1) if self.bernoulli else x)
        p = ((x + 1) / 2).clamp(0, 1)
        b = (torch.rand(p.shape, generator=torch.Generator().manual_seed(EVAL_SEED)) < p).float()
        return 2 * b - 1, b

    @torch.no_grad()
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The posterior means μ of images (or points) ``x`` in data units — with ``binarize``, of their fixed
        binarization (:meth:`observe_fixed`) — and, for a conditional VAE, their labels ``y`` (read by a conditional
        VAE only): (n, z_dim)."""
        seen = self.observe_fixed(x / self.scale)[0]
        y = self._labels(y)
        with eval_mode(self.E):
            return torch.cat([self.E(xb.to(self.device), None if yb is None else yb.to(self.device))[0].float().cpu()
                              for xb, yb in zip(seen.split(256), y.split(256) if y is not None else [None] * len(seen))])

    @torch.no_grad()
    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """The means of p(x | z[, y]) in data units (the sampler: the EMA decoder when trained with one); labels are
        read by a conditional VAE only."""
        return self.run_sampler(z, self._labels(y))

    def _labels(self, y: Tensor | None) -> Tensor | None:
        """The labels a player reads: a conditional VAE's, none for an unconditional one."""
        return y if self.condition is not None else None

    # --- the held-out likelihood ----------------------------------------------------------------------------
    @torch.no_grad()
    def test_nll(self, k: int = 5000, n: int | None = None, progress: bool = False,
                 partial: Path | None = None) -> dict[str, float | str]:
        """−log p(x) of held-out data estimated by importance sampling with the encoder as proposal (Burda et al.
        2016, §5): log p(x) ≈ log (1/k) Σ p(x, z_i) / q(z_i | x), z_i ~ q(z | x); the estimate's mean over the data,
        its standard error, in nats (and, for binary pixels, bits per dimension).  The Bernoulli likelihood scores
        one fixed binarization of the held-out grey levels (seed :data:`EVAL_SEED`), the protocol recorded beside
        the numbers.  A conditional VAE's is −log p(x | y) with the images' own labels.

        ``partial``: a file where the estimate keeps what it has done (every half minute, and when interrupted), so
        that the same call after a crash or Ctrl-C continues where it stopped, to the same numbers; removed once
        the estimate is complete."""
        from ..runs import fingerprint, load_work, progress_bar, save_work

        x, y, what = self.held_out(n)
        y = self._labels(y)
        seen, target = self.observe_fixed(x / self.scale)
        if self.bernoulli:
            protocol = (f"binary pixels drawn once from the grey levels of {what} (fixed binarization, seed "
                        f"{EVAL_SEED}); Bernoulli likelihood" if self.cfg.binarize else
                        f"{what} (binary pixels); Bernoulli likelihood")
        else:
            protocol = (f"{what}; Gaussian likelihood, a density of the "
                        + ("pixel values in [-1, 1] (continuous, not comparable with discrete likelihoods)"
                           if self.images else "points"))
        g = torch.Generator().manual_seed(EVAL_SEED + 5)
        decoder = self._nll_decoder()
        batch = _NLL_BATCH
        chunk = max(1, min(k, _DECODES_PER_PASS // batch))  # importance samples per pass: bounded memory
        # What the estimate is: a file written for other work (another k, other images, other weights) is not
        # continued.
        about = None if partial is None else {"work": "held-out nll", "k": str(k), "images": str(len(x)),
                                              "batch": str(batch), "chunk": str(chunk), "protocol": protocol,
                                              "weights": fingerprint(self.E, self.G)}
        kept = load_work(partial, about) if partial is not None else None
        estimates = [] if kept is None else [kept["estimates"]]
        if kept is not None:
            g.set_state(kept["rng"])
            if progress:
                print(f"nll: continuing from image {len(kept['estimates'])} of {len(x)} ({partial})", file=sys.stderr)
        # Whole batches done and the random stream just after them, in one tuple, so an interruption between two
        # statements cannot pair one with the other's successor.
        done = (len(estimates), g.get_state())

        def save() -> None:
            save_work(partial, {"estimates": torch.cat(estimates[:done[0]]), "rng": done[1]}, about)

        begun = 0 if kept is None else len(kept["estimates"])
        saved = time.monotonic()
        # into a log file: a line a minute (an hour-long k = 5000 run shows it is alive)
        bar = progress_bar(len(x), f"nll, k={k}", "img", disable=not progress, log_every=60.0, initial=begun)
        try:
            with eval_mode(self.E, decoder):
                for start in range(begun, len(x), batch):
                    sb, tb = seen[start:start + batch].to(self.device), target[start:start + batch].to(self.device)
                    yb = None if y is None else y[start:start + batch].to(self.device)
                    mu, logvar = self.E(sb, yb)
                    running = torch.full((len(sb),), -math.inf, device=self.device)
                    for drawn in range(0, k, chunk):
                        eps = torch.randn((min(chunk, k - drawn), *mu.shape), generator=g).to(self.device)
                        log_px, log_ratio, _ = self._log_weights(mu, logvar, eps, tb, yb, decoder)
                        running = torch.logaddexp(running, torch.logsumexp((log_px + log_ratio).double(), 0).float())
                    estimates.append((running - math.log(k)).double().cpu())
                    done = (len(estimates), g.get_state())
                    bar.update(len(sb))
                    if partial is not None and time.monotonic() - saved >= _NLL_SAVE_EVERY_S:
                        save()
                        saved = time.monotonic()
        except BaseException:  # Ctrl-C, a failure: what is done is kept for the next call
            if partial is not None and done[0]:
                save()
                if progress:
                    print(f"\nnll: {sum(map(len, estimates[:done[0]]))} of {len(x)} images scored, kept in {partial}; "
                          "the same evaluation continues from there", file=sys.stderr)
            raise
        finally:
            bar.close()
        if partial is not None:
            partial.unlink(missing_ok=True)
        log_p = torch.cat(estimates)
        d = target[0].numel()
        if not self.images:  # the points' density in data units: p_data(x) = p(x / scale) / scale^d
            log_p = log_p - d * math.log(self.scale)
        nll, se = float(-log_p.mean()), float(log_p.std() / math.sqrt(len(log_p)))
        out: dict[str, float | str] = {"nll": nll, "nll_se": se, "nll_samples": k, "nll_images": len(log_p),
                                       "nll_protocol": protocol}
        if self.bernoulli:
            out["bits_per_dim"] = nll / (d * math.log(2))
        if self.condition is not None:
            out["nll_protocol"] += "; −log p(x | y) with each image's own label"
        return out

    own_likelihood = True

    def likelihood_model(self, sigma: float | None):
        """The decoder with the VAE's own likelihood for :func:`saddlepoint.metrics.ais.ais` (the held-out
        likelihood's protocol: one fixed binarization for Bernoulli pixels; a Gaussian's density of pixels in
        [0, 1], or of points in the data's units), held-out data in data units → targets, the protocol in words."""
        from ..metrics.ais import DecoderModel

        if sigma is not None:
            raise RunError("a VAE has its own likelihood p(x | z): leave --ais-sigma out")
        components = self.likelihood_parts().components
        decoder = self._nll_decoder()
        # per dimension, from the players' units to pixels in [0, 1] (images in [−1, 1]) or to the data's units
        shift = 0.0 if self.bernoulli else math.log(2) if self.images else -math.log(self.scale)

        def log_likelihood(params: Tensor, target: Tensor) -> Tensor:
            return self._log_likelihood(params, target) + shift * target[0].numel()

        def simulate(params: Tensor, g: torch.Generator) -> Tensor:
            if self.bernoulli:
                return (torch.rand(params.shape, generator=g).to(params.device) < torch.sigmoid(params)).float()
            noise = torch.randn(params.shape, generator=g).to(params.device)
            return params + self.G.log_scale.exp() * noise

        model = DecoderModel(lambda u, y=None: decoder(u, y, raw=True).float(), log_likelihood, simulate,
                             self.cfg.z_dim, (decoder,), components)
        if self.bernoulli:
            words = ("binary pixels" + (f", one fixed binarization of the grey levels (seed {EVAL_SEED})"
                                        if self.cfg.binarize else "") + "; the decoder's Bernoulli likelihood")
        elif self.images:
            words = "the decoder's Gaussian likelihood, a density of continuous pixel values in [0, 1]"
        else:
            words = "the decoder's Gaussian likelihood, a density of the points in the data's units"
        return model, lambda x: self.observe_fixed(x / self.scale)[1], words

    def _nll_decoder(self) -> nn.Module:
        """The decoder the held-out likelihood runs k times per image: for convolutional players a copy in
        channels-last memory format (the same values; the whole estimate took two thirds of the time on a 2-core AVX2
        EPYC); a copy, so that the training players' layout, and so their numerics, stay as they are."""
        if self.images and self.cfg.vae_net == "conv":
            return copy.deepcopy(self.G).to(memory_format=torch.channels_last)
        return self.G

    # --- evaluation --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, n: int | None = None) -> dict[str, float | str]:
        """The sampler's quality (:meth:`Family.sample_quality`; a conditional VAE's on every class equally often)
        and the bound on ``n`` training points: ``elbo`` in nats per sample, the KL of each latent unit and the
        active units (Burda et al. 2016: Cov_x E_q[u] > 0.01)."""
        n = n or self.cfg.eval_samples
        out = dict(self.sample_quality(n, None if self.condition is None else self.evaluation_conditions(n)))
        g = torch.Generator().manual_seed(EVAL_SEED + 3)
        if self.condition is None:
            x, y = (self.data.sample(n, g) / self.scale).to(self.device), None
        else:
            x, y = self.data.sample_labelled(n, g)
            x, y = (x / self.scale).to(self.device), y.to(self.device)
        with eval_mode(self.E, self.G):
            terms = self.bound(x, 1, 1.0, generator=g, y=y, fixed=True)
        out["elbo"] = float(-terms["loss"].mean())
        out["kl"] = float(terms["kl"].mean())
        out["active_units"] = int((terms["mu"].var(0) > 0.01).sum())
        kl_units = terms["kl_units"].mean(0)
        out.update({f"kl_unit/{i}": float(v) for i, v in enumerate(kl_units)} if len(kl_units) <= 16 else {})
        return out

    # --- pictures ---------------------------------------------------------------------------------------------
    def extra_pictures(self, run_dir: Path, title: str) -> None:
        """reconstructions.png (held-out input | reconstruction) and, with a 2-D latent, latent-grid.png."""
        if self.images:
            from ..grids import save_png

            save_png(reconstruction_grid(self, 32), run_dir / "reconstructions.png")
        if self.cfg.z_dim == 2:
            save_latent_grid(self, run_dir / "latent-grid.png", title)

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
        if toy and cfg.cvae:
            raise ConfigError(f"cvae=true conditions on class labels and data={cfg.data} has none; use labelled "
                              "images (mnist, class sub-folders, an .npz with 'labels')")
        if cfg.noise != "normal":
            raise ConfigError("family=vae's prior is the standard normal of its bound; remove noise=")
        if cfg.iwae_k > 1 and (cfg.beta != 1 or cfg.kl_warmup):
            raise ConfigError("iwae_k > 1 trains on the importance-weighted bound, which has no separate KL term to "
                              "weigh: remove beta / kl_warmup or set iwae_k=1")
        if not cfg.vae_hidden or min(cfg.vae_hidden) < 1:
            raise ConfigError(f"vae_hidden={list(cfg.vae_hidden)} must be layer widths of at least 1, e.g. [200,200]")
        if cfg.precision == "fp16":
            raise ConfigError("family=vae has no loss scaling for fp16; use precision=fp32 or bf16")
        if cfg.vae_net == "conv" and (toy or conv_stages(cfg.image_size) == 0):
            raise ConfigError(f"vae_net=conv needs images with an even side above 8 and data={cfg.data} "
                              + ("holds 2-D points" if toy else f"is read at image_size={cfg.image_size}")
                              + "; use vae_net=mlp" + ("" if toy else " or image_size=28, 32 or 64"))
        if cfg.vae_net == "mlp" and cfg.vae_channels != VAEKeys.vae_channels:
            raise ConfigError("vae_channels sets the width of vae_net=conv players; remove it or add vae_net=conv")
        if cfg.likelihood_scale and (cfg.likelihood == "bernoulli" or cfg.binarize):
            raise ConfigError("likelihood_scale fixes the scale of the Gaussian likelihood, and this run scores "
                              "Bernoulli pixels; remove it or use likelihood=gaussian without binarize")


def _require_binary(data, name: str) -> None:
    """Refuse grey-level images for the Bernoulli likelihood without binarize: its pixels must be 0 or 1."""
    from ..data.images import DataError

    images = data.dataset.images
    grey = ((images != 0) & (images != 255)).any()
    if bool(grey):
        raise DataError(f"data={name} has grey levels (pixels other than black and white), and the Bernoulli "
                        "likelihood scores binary pixels: add binarize=true (draw binary pixels from the grey levels "
                        "at every pass) or use likelihood=gaussian")


@torch.no_grad()
def reconstruction_grid(model: VAE, n: int = 32) -> Tensor:
    """Pairs of held-out image | its reconstruction (the decoded posterior mean), 8 pairs a row, in [0, 1]."""
    from ..grids import make_grid

    x, y, _ = model.held_out(n)
    rec = model.decode(model.encode(x, y), y)
    x = model.observe_fixed(x)[0]  # what the encoder read (binary pixels with binarize)
    pairs = torch.stack([x, rec], 1).flatten(0, 1)
    return make_grid(pairs, nrow=16, value_range=(-1, 1), pad_value=1.0)


@torch.no_grad()
def save_latent_grid(model: VAE, path: Path, title: str = "", steps: int = 15) -> Path:
    """A 2-D latent space drawn through the decoder: images decoded at the Gaussian quantiles of a steps × steps
    grid (Kingma & Welling 2014, fig. 4); for 2-D points, the grid's lines carried into data space over the data."""
    from scipy.stats import norm

    from .. import plots

    q = torch.tensor(norm.ppf(torch.linspace(0.05, 0.95, steps).numpy()), dtype=torch.float32)
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")
    z = torch.stack([zx, zy], -1).reshape(-1, 2)
    y = model.condition.balanced(1).expand(len(z)) if model.condition is not None else None
    x = model.decode(z, y)
    if model.images:
        from ..grids import save_grid

        save_grid(x, path, nrow=steps)
        return path
    real = model.data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1))
    fig = plots.plot_samples(real, x, model.data.limits, title or f"{model.cfg.data}: the decoder's image of a "
                             "latent grid")
    lines = x.view(steps, steps, -1)
    for i in range(steps):
        fig.axes[0].plot(lines[i, :, 0], lines[i, :, 1], lw=0.6, color="C1")
        fig.axes[0].plot(lines[:, i, 0], lines[:, i, 1], lw=0.6, color="C1")
    plots.save(fig, path)
    return path
