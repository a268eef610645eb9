"""MMD-GAN (Li, Chang, Cheng, Yang & Póczos 2017; seed 003, eq. 19): the GMMN's kernel learned adversarially.

The generator minimizes MMD² between its images and real ones under the kernel k(f_φ(a), f_φ(b)), a sum of
Gaussians of widths {1, 2, 4, 8, 16} on a learned feature map f_φ (a DCGAN encoder to ``mmdgan_features``
numbers); the critic is f_φ and maximizes the same MMD² — min_θ max_φ MMD²_{k∘f_φ}(P, G_θ#Z).  A fixed kernel in
pixel space (GMMN) compares digits by overlapping ink; a learned one by what tells real from generated.

The max over φ needs a constraint, and both in use are here (``mmdgan_constraint``):

* ``clip`` (the paper): the encoder's weights clipped to ±``mmdgan_clip`` before each critic step (WGAN's
  device, which needs batch norm in the encoder to keep the features from collapsing to zero), and an autoencoder
  term: a DCGAN decoder from the features back to the image, its mean squared error on real and generated images
  subtracted from the critic's objective with weight ``mmdgan_ae`` (8 in the authors' code), so that f_φ stays
  injective — the condition of the paper's Theorem 3 under which MMD_{k∘f} is a distance.
* ``gp`` (Bińkowski, Sutherland, Arbel & Gretton 2018): no clipping; the gradient penalty of WGAN-GP on the
  MMD's witness function w(u) = E_x k(f(u), f(x)) − E_y k(f(u), f(y)) at points between real and generated images,
  weight ``mmdgan_gp``, with an encoder without batch norm (a per-sample gradient must not mix samples).

Both players also carry the authors' one-sided term λ·min(E f(x) − E f(G(z)), 0) on the mean features
(``mmdgan_one_sided``, 16 in their code), each with the sign their code gives it.  The critic takes
``mmdgan_critic_steps`` steps per generator step, and ``mmdgan_warm_critic`` in the first 25 generator steps and every
500th (WGAN's schedule, which the paper keeps).  Optimizer: RMSprop at 5·10⁻⁵ for both players (the paper), or
Adam (``mmdgan_optimizer``).  The MMD is the biased estimate, its square root taken after a ReLU, as in their code,
or the unbiased MMD² that Bińkowski et al. play (``mmdgan_loss``).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import optim
from ..distributed import Dist, wrap
from ..divergences import mmd2
from ..kernels import kernel_values
from ..keys import ConfigError, config_section, key
from ..nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ..penalties import gradient_penalty
from .base import Family, adam
from .registry import register_family

__all__ = ["MMDGANKeys", "MMDGAN", "MMDCritic", "witness"]


@config_section("mmdgan", family="mmdgan")
class MMDGANKeys:
    """The learned kernel of an MMD-GAN and its constraint: keys only family=mmdgan reads."""

    mmdgan_features: int = key(10, "size of the learned feature map f_φ the kernel reads (the paper's MNIST: 10)",
                               min=1)
    mmdgan_widths: tuple[float, ...] = key((1.0, 2.0, 4.0, 8.0, 16.0), "widths σ of the Gaussian kernels summed on "
                                                                       "the features (the paper: 1, 2, 4, 8, 16)")
    mmdgan_kernel: Literal["gaussian", "rq", "imq"] = key(
        "gaussian", "the kernel on the features, summed over mmdgan_widths: gaussian (the paper), rq (rational "
                    "quadratic, α = 1, heavier tails: Bińkowski et al. 2018) or imq (inverse multiquadric)")
    mmdgan_loss: Literal["sqrt", "unbiased"] = key(
        "sqrt", "the MMD both players play: sqrt (√ of the biased MMD², the authors' code) or unbiased (the unbiased "
                "MMD² itself, Bińkowski et al. 2018)")
    mmdgan_constraint: Literal["clip", "gp"] = key(
        "clip", "how the critic is held: clip (the paper: encoder weights clipped, with the autoencoder term) or gp "
                "(a gradient penalty on the MMD's witness function, Bińkowski et al. 2018)")
    mmdgan_clip: float = key(0.01, "clip: the encoder's weights are clipped to ± this before each critic step",
                             positive=True)
    mmdgan_ae: float = key(8.0, "clip: weight of the autoencoder term (decoder MSE on real and generated images) in "
                                "the critic's objective (0 = no decoder)", min=0)
    mmdgan_gp: float = key(1.0, "gp: weight of the gradient penalty on the witness function", min=0)
    mmdgan_one_sided: float = key(16.0, "weight of the one-sided term on the mean features, both players (the "
                                        "authors' code: 16; 0 = off)", min=0)
    mmdgan_critic_steps: int = key(5, "critic steps per generator step", min=1)
    mmdgan_warm_critic: int = key(100, "critic steps in the first 25 generator steps and every 500th (WGAN's "
                                       "schedule; 0 = always mmdgan_critic_steps)", min=0)
    mmdgan_lr_d: float = key(5e-5, "the critic's learning rate (the generator's is lr_g)", positive=True)
    mmdgan_optimizer: Literal["rmsprop", "adam"] = key("rmsprop", "both players' optimizer: rmsprop (the paper) or "
                                                                  "adam (beta1, beta2)")
    mmdgan_width: int = key(64, "DCGAN base channels of the generator, the encoder and the decoder", min=1)


class MMDCritic(nn.Module):
    """f_φ: a DCGAN encoder from images to ``features`` numbers; with ``decoder``, a DCGAN generator back from the
    features to the image (the autoencoder term of the clipped critic)."""

    def __init__(self, channels: int, image_size: int, width: int, features: int, batch_norm: bool, decoder: bool):
        super().__init__()
        self.encoder = DCGANDiscriminator(channels, image_size, width, batch_norm=batch_norm, outputs=features)
        self.decoder = DCGANGenerator(features, channels, image_size, width) if decoder else None

    def forward(self, x: Tensor) -> Tensor:
        if not torch.is_autocast_enabled(x.device.type):
            return self.encoder(x).reshape(x.shape[0], -1)
        # Under autocast the last layer runs in float32: the features drift to a large common offset (norms in the
        # hundreds within minutes; the kernel, which sees only differences, is blind to it), and bfloat16's 8-bit
        # mantissa would round away the differences the kernel reads.
        h = self.encoder.net[:-1](x)
        with torch.autocast(x.device.type, enabled=False):
            return self.encoder.net[-1](h.float()).reshape(x.shape[0], -1)


def _centred(real_features: Tensor, *features: Tensor) -> tuple[Tensor, ...]:
    """``real_features`` and ``features``, all moved by the real features' mean (a constant: no gradient flows
    through it).  The kernel reads only differences, and a critic's features drift to a common offset far larger
    than their spread, where ``cdist``'s ‖a‖² + ‖b‖² − 2a·b would cancel away the digits that matter."""
    center = real_features.detach().mean(0)
    return tuple(f - center for f in (real_features, *features))


def witness(u_features: Tensor, real_features: Tensor, fake_features: Tensor, widths: tuple[float, ...],
            kernel: str = "gaussian") -> Tensor:
    """The MMD's witness function at each row of ``u_features``: E_x k(u, x) − E_y k(u, y), (B,), computed on
    features moved by the real features' mean (:func:`_centred`)."""
    real_features, u_features, fake_features = _centred(real_features, u_features, fake_features)
    k_real = kernel_values(torch.cdist(u_features, real_features).pow(2), kernel, widths)
    k_fake = kernel_values(torch.cdist(u_features, fake_features).pow(2), kernel, widths)
    return k_real.mean(dim=1) - k_fake.mean(dim=1)


def _one_sided(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """min(E f(x) − E f(G(z)), 0), averaged over the features (≤ 0)."""
    return -F.relu(fake_features.mean(0) - real_features.mean(0)).mean()


@register_family("mmdgan")
class MMDGAN(Family):
    """A generator and a learned kernel: min over G, max over the feature map, of MMD² under that kernel."""

    optimizer_names = ("opt_g", "opt_d")

    def __init__(self, cfg: Any, dist: Dist, device: torch.device, shapes: dict[str, int] | None = None):
        super().__init__(cfg, dist, device, shapes)
        self._load_data(shapes)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # data order and noise stream
        clip = cfg.mmdgan_constraint == "clip"
        self.memory_format = torch.channels_last  # faster convolutions on CPUs and GPUs alike
        self.G = DCGANGenerator(cfg.z_dim, self.channels, cfg.image_size, cfg.mmdgan_width)
        self.D = MMDCritic(self.channels, cfg.image_size, cfg.mmdgan_width, cfg.mmdgan_features, batch_norm=clip,
                           decoder=clip and cfg.mmdgan_ae > 0)
        self.G.to(self.device, memory_format=self.memory_format)
        self.D.to(self.device, memory_format=self.memory_format)
        self._averages()
        self.opt_g = self._optimizer(self.G.parameters(), cfg.lr_g)
        self.opt_d = self._optimizer(self.D.parameters(), cfg.mmdgan_lr_d)
        self.G_run, self.D_run = wrap(self.G, self.dist, self.device), wrap(self.D, self.dist, self.device)
        self.precision, self.precision_note = self._choose_precision(self._time_step)

    def _optimizer(self, params, lr: float) -> torch.optim.Optimizer:
        if self.cfg.mmdgan_optimizer == "adam":
            return adam(params, lr, self.cfg)
        return optim.RMSprop(params, lr=lr)

    def _autocast(self, dtype: torch.dtype | None = None):
        dtype = dtype or self.precision
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32)

    def _noise(self, n: int) -> Tensor:
        return self.dist.shard(self.noise(n, self.rng)).to(self.device)

    # --- the step --------------------------------------------------------------------------------------------
    def critic_steps_now(self) -> int:
        """Critic steps before the generator's step number ``self.step`` (0-based)."""
        warm = self.cfg.mmdgan_warm_critic
        if warm and (self.step < 25 or self.step % 500 == 0):
            return warm
        return self.cfg.mmdgan_critic_steps

    def _mmd(self, fx: Tensor, fy: Tensor) -> Tensor:
        """The MMD the players play on the real batch's features ``fx`` and the generated batch's ``fy``, in
        float32: √MMD²_b (the authors' form; clamped at 0 below, as their ReLU) or the unbiased MMD²_u
        (``mmdgan_loss``)."""
        unbiased = self.cfg.mmdgan_loss == "unbiased"
        fx, fy = _centred(fx.float(), fy.float())  # the kernel is blind to a shared shift; rounding is not
        m = mmd2(fx, fy, self.cfg.mmdgan_widths, unbiased=unbiased, kernel=self.cfg.mmdgan_kernel)
        return m if unbiased else m.clamp_min(1e-12).sqrt()

    def _critic_step(self) -> dict[str, Tensor]:
        cfg, D = self.cfg, self.D
        if cfg.mmdgan_constraint == "clip":
            with torch.no_grad():
                for p in D.encoder.parameters():
                    p.clamp_(-cfg.mmdgan_clip, cfg.mmdgan_clip)
        n = cfg.batch_size
        x = self.sample_data(n)
        with torch.no_grad(), self._autocast():
            y = self.G_run(self._noise(n)).float()
        with self._autocast():
            fx, fy = self.D_run(x).float(), self.D_run(y).float()
        mmd = self._mmd(fx, fy)
        objective = mmd + cfg.mmdgan_one_sided * _one_sided(fx, fy)  # the critic ascends this
        # logged as what it is: MMD (√ of the biased MMD²) or the unbiased MMD², which can fall below 0
        logs = {("loss/mmd2" if cfg.mmdgan_loss == "unbiased" else "loss/mmd"): mmd.detach()}
        if D.decoder is not None:
            with self._autocast():
                rx, ry = D.decoder(fx).float(), D.decoder(fy).float()
            ae = F.mse_loss(rx, x) + F.mse_loss(ry, y)
            objective = objective - cfg.mmdgan_ae * ae
            logs["loss/ae"] = ae.detach()
        if cfg.mmdgan_constraint == "gp" and cfg.mmdgan_gp > 0:
            anchors = (fx.detach(), fy.detach())
            gp = gradient_penalty(lambda u: witness(self.D_run(u).float(), *anchors, cfg.mmdgan_widths,
                                                           cfg.mmdgan_kernel), x, y)
            objective = objective - cfg.mmdgan_gp * gp
            logs["loss/gp"] = gp.detach()
        self.opt_d.zero_grad(set_to_none=True)
        (-objective).backward()
        self.opt_d.step()
        logs["loss/D"] = (-objective).detach()
        return logs

    def train_step(self) -> dict[str, Tensor]:
        for _ in range(self.critic_steps_now()):
            logs = self._critic_step()
        return {**logs, **self._generator_step()}

    def _generator_step(self) -> dict[str, Tensor]:
        cfg = self.cfg
        n = cfg.batch_size
        x = self.sample_data(n)
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                fy = self.D_run(self.G_run(self._noise(n))).float()
                with torch.no_grad():
                    fx = self.D_run(x).float()
            loss = self._mmd(fx, fy) + cfg.mmdgan_one_sided * _one_sided(fx, fy)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return {"loss/G": loss.detach()}

    TRIAL_BATCH = 16

    def _time_step(self, dtype: torch.dtype, limit: float | None = None) -> float:
        """Seconds of a forward and backward pass of copies of both players in ``dtype`` on ``TRIAL_BATCH`` images
        (the run's players, streams and optimizers are left as they were)."""
        from ..precision import time_call

        G, D = copy.deepcopy(self.G), copy.deepcopy(self.D)
        z = torch.randn(self.TRIAL_BATCH, self.cfg.z_dim, generator=torch.Generator().manual_seed(0)).to(self.device)

        def run() -> None:
            with self._autocast(dtype):
                f = D(G(z)).float()
            f.square().mean().backward()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)

        return time_call(run, limit=limit)

    def player_signature(self) -> str:
        cfg = self.cfg
        params = sum(p.numel() for p in self.G.parameters()), sum(p.numel() for p in self.D.parameters())
        return (f"DCGAN/MMDCritic {params[0]}+{params[1]} parameters, batch {cfg.batch_size}, {cfg.image_size} px, "
                f"{cfg.mmdgan_constraint}")

    def optimizers(self) -> list[tuple[torch.optim.Optimizer, float]]:
        return [(self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.mmdgan_lr_d)]

    def weights(self) -> dict[str, nn.Module]:
        w = super().weights()
        return {"G": w.pop("G"), "D": self.D, **w}

    def objective(self) -> str:
        held = ("weights clipped, autoencoder term" if self.cfg.mmdgan_constraint == "clip"
                else "gradient penalty on the witness")
        kernel = "" if self.cfg.mmdgan_kernel == "gaussian" else f"{self.cfg.mmdgan_kernel} "
        return f"MMD² under a learned {kernel}kernel ({self.cfg.mmdgan_features} features, {held})"

    # --- the config ------------------------------------------------------------------------------------------
    @classmethod
    def validate(cls, cfg: Any) -> None:
        if cls.check_sample_data(cfg):
            raise ConfigError(f"family=mmdgan learns a kernel on images with convolutional players; data={cfg.data} "
                              "is 2-D points: use family=gmmn (a fixed kernel) or family=gan there")
        if cfg.batch_size < 2:
            raise ConfigError("family=mmdgan compares a batch with a batch: batch_size must be at least 2")
        if not cfg.mmdgan_widths or min(cfg.mmdgan_widths) <= 0:
            raise ConfigError(f"mmdgan_widths={list(cfg.mmdgan_widths)} must be positive kernel widths, e.g. [1,2,4]")
        if cfg.precision == "fp16":
            raise ConfigError("family=mmdgan has no loss scaling for fp16; use precision=bf16 or fp32")

    @classmethod
    def check_overrides(cls, cfg: Any, asked: set[str]) -> None:
        clip_only, gp_only = {"mmdgan_clip", "mmdgan_ae"}, {"mmdgan_gp"}
        wrong = sorted(asked & (gp_only if cfg.mmdgan_constraint == "clip" else clip_only))
        if wrong:
            raise ConfigError(f"{wrong[0]} belongs to mmdgan_constraint="
                              f"{'gp' if cfg.mmdgan_constraint == 'clip' else 'clip'}, and this run's is "
                              f"{cfg.mmdgan_constraint}; remove it or change mmdgan_constraint")
        if cfg.optimizer != "adam" or "momentum" in asked:
            raise ConfigError("MMD-GAN's players take mmdgan_optimizer (rmsprop or adam), not optimizer/momentum; "
                              "remove them")
        betas = sorted(asked & {"beta1", "beta2"})
        if betas and cfg.mmdgan_optimizer == "rmsprop":
            raise ConfigError(f"{betas[0]} is Adam's, and this run's players use RMSprop; set mmdgan_optimizer=adam "
                              f"or remove {betas[0]}")
