"""The players of a variational autoencoder: an encoder q(z | x) = N(μ(x), diag σ²(x)) and a decoder whose
output parametrizes p(x | z) (Kingma & Welling 2014).  Fully connected with tanh units, as the IWAE paper's
one-stochastic-layer MNIST model (784-200-200-50, Burda et al. 2016) by default, or softplus / ReLU units (the CSGM
paper's 784-500-500-20 softplus VAE, Bora et al. 2017), or convolutional for images (:class:`ConvEncoder`,
:class:`ConvDecoder`: strided 4×4 convolutions that halve the side down to 8 or 7 pixels, then the same fully
connected layers); with ``classes``, each also reads the one-hot label (the conditional VAE)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["GaussianEncoder", "Decoder", "ConvEncoder", "ConvDecoder", "conv_stages"]


ACTIVATIONS = {"tanh": nn.Tanh, "softplus": nn.Softplus, "relu": nn.ReLU}


def _mlp(widths: list[int], activation: str = "tanh") -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def _with_label(h: Tensor, y: Tensor | None, classes: int) -> Tensor:
    """``h`` (B, d) with the one-hot label appended (the conditional VAE, Sohn et al. 2015); ``h`` if unconditional."""
    if not classes:
        if y is not None:
            raise ValueError("this network is unconditional; it takes no labels")
        return h
    if y is None:
        raise ValueError("this conditional network needs the labels y")
    return torch.cat([h, F.one_hot(y.long(), classes).to(h.dtype)], dim=1)


class GaussianEncoder(nn.Module):
    """x (B, *shape) [and its label y (B,)] → (μ, log σ²), each (B, latent)."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...], latent: int, classes: int = 0,
                 activation: str = "tanh"):
        super().__init__()
        d = math.prod(in_shape) + classes
        self.classes = classes
        self.body = _mlp([d, *hidden], activation)
        self.head = nn.Linear(hidden[-1] if hidden else d, 2 * latent)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.body(_with_label(x.flatten(1), y, self.classes))).chunk(2, dim=1)
        return mu, logvar


def conv_stages(side: int) -> int:
    """How many stride-2 stages the convolutional players take on an image of this side: halve while the side is
    even and above 8 (28 → 14 → 7: 2; 32 → 16 → 8: 2; 64: 3); 0 means the side does not suit them."""
    n = 0
    while side % 2 == 0 and side > 8:
        side, n = side // 2, n + 1
    return n


def _image_stages(shape: tuple[int, ...]) -> int:
    """:func:`conv_stages` of a (C, S, S) image shape, or ValueError where it does not suit the players."""
    stages = conv_stages(shape[-1])
    if len(shape) != 3 or shape[1] != shape[2] or stages == 0:
        raise ValueError(f"convolutional players need square images with an even side above 8, not {tuple(shape)}")
    return stages


def _label_maps(h: Tensor, y: Tensor | None, classes: int) -> Tensor:
    """Feature maps ``h`` (B, C, H, W) with the one-hot label appended as ``classes`` constant channels."""
    if not classes:
        return h
    onehot = F.one_hot(y.long(), classes).to(h.dtype)
    return torch.cat([h, onehot[:, :, None, None].expand(-1, -1, *h.shape[2:])], dim=1)


def _conv_widths(channels: int, stages: int) -> list[int]:
    """The feature maps' channels after each stage: ``channels``, doubling, at most 8×."""
    return [channels * min(2 ** i, 8) for i in range(stages)]


class ConvEncoder(nn.Module):
    """x (B, C, S, S) [and its label y (B,)] → (μ, log σ²): strided 4×4 convolutions, each halving the side (see
    :func:`conv_stages`), then the fully connected ``hidden`` layers (the label appended to their input; the
    decoder, which must draw the digit from it, reads it at every layer)."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...], latent: int, classes: int = 0,
                 activation: str = "relu", channels: int = 32):
        super().__init__()
        c, side = in_shape[0], in_shape[-1]
        stages = _image_stages(in_shape)
        layers: list[nn.Module] = []
        for w in _conv_widths(channels, stages):
            layers += [nn.Conv2d(c, w, 4, 2, 1), ACTIVATIONS[activation]()]
            c = w
        self.classes = classes
        self.features = nn.Sequential(*layers, nn.Flatten())
        d = c * (side >> stages) ** 2 + classes
        self.body = _mlp([d, *hidden], activation)
        self.head = nn.Linear(hidden[-1] if hidden else d, 2 * latent)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = _with_label(self.features(x), y, self.classes)
        mu, logvar = self.head(self.body(h)).chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """z (B, latent) → the parameters of p(x | z): ``logits`` of independent Bernoulli pixels, or the mean of a
    Gaussian whose scale (``log_scale``) is learned, or fixed with ``scale`` > 0 (a buffer).  ``forward`` gives the
    mean of p(x | z) in data units (images: pixels in [−1, 1]; 2-D points: the decoded mean, without the observation
    noise), so the decoder samples and is averaged like any generator."""

    def __init__(self, latent: int, hidden: tuple[int, ...], out_shape: tuple[int, ...], bernoulli: bool,
                 classes: int = 0, activation: str = "tanh", scale: float = 0.0):
        super().__init__()
        self._output(latent, out_shape, bernoulli, classes)
        self.body = _mlp([latent + classes, *hidden], activation)
        self.head = nn.Linear(hidden[-1] if hidden else latent, math.prod(self.out_shape))
        self._scale(scale)

    def _output(self, latent: int, out_shape: tuple[int, ...], bernoulli: bool, classes: int) -> None:
        self.z_dim, self.out_shape, self.bernoulli, self.classes = latent, tuple(out_shape), bernoulli, classes

    def _scale(self, scale: float) -> None:
        """The Gaussian's log σ: learned from 0, or fixed at log ``scale``; none for Bernoulli pixels.  Registered
        last, after the layers, so the parameters keep their order (an optimizer's saved state follows it)."""
        if self.bernoulli:
            self.log_scale = None
        elif scale > 0:
            self.register_buffer("log_scale", torch.tensor(math.log(scale)))
        else:
            self.log_scale = nn.Parameter(torch.zeros(()))

    def params(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, *out_shape): Bernoulli logits, or the Gaussian's mean (a conditional decoder: given labels y)."""
        return self.head(self.body(_with_label(z, y, self.classes))).view(z.shape[0], *self.out_shape)

    def forward(self, z: Tensor, y: Tensor | None = None, raw: bool = False) -> Tensor:
        """The mean of p(x | z[, y]) in data units; ``raw``: the parameters (:meth:`params`) instead."""
        p = self.params(z, y)
        if raw:
            return p
        return 2 * torch.sigmoid(p) - 1 if self.bernoulli else p


class ConvDecoder(Decoder):
    """:class:`Decoder` with the mirror of :class:`ConvEncoder`: z [and the label] through the fully connected
    ``hidden`` layers to the smallest feature map, then strided 4×4 transposed convolutions that double its side
    up to the image's, each also reading the label as constant channels (conditional DCGAN-style)."""

    def __init__(self, latent: int, hidden: tuple[int, ...], out_shape: tuple[int, ...], bernoulli: bool,
                 classes: int = 0, activation: str = "relu", channels: int = 32, scale: float = 0.0):
        nn.Module.__init__(self)  # its own layers in place of the fully connected decoder's
        self._output(latent, out_shape, bernoulli, classes)
        c_out, side = out_shape[0], out_shape[-1]
        stages = _image_stages(out_shape)
        widths = _conv_widths(channels, stages)[::-1]
        self.map_shape = (widths[0], side >> stages, side >> stages)
        self.body = _mlp([latent + classes, *hidden], activation)
        self.head = nn.Sequential(nn.Linear(hidden[-1] if hidden else latent + classes, math.prod(self.map_shape)),
                                  ACTIVATIONS[activation]())
        # with labels, the one-hot label is appended as constant channels to every transposed convolution's input
        self.upsample = nn.ModuleList(nn.ConvTranspose2d(w_in + classes, w_out, 4, 2, 1)
                                      for w_in, w_out in zip(widths, [*widths[1:], c_out]))
        self.unit = ACTIVATIONS[activation]()
        self._scale(scale)

    def params(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.head(self.body(_with_label(z, y, self.classes))).view(z.shape[0], *self.map_shape)
        for i, up in enumerate(self.upsample):
            h = up(_label_maps(h, y, self.classes))
            if i < len(self.upsample) - 1:  # no unit after the last: its output is the parameters
                h = self.unit(h)
        return h
