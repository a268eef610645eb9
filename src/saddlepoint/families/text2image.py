"""Text-to-image (Reed et al. 2016, GAN-INT-CLS) on MNIST: the generator is told a sentence, the critic judges
(image, sentence) pairs and learns to call a real image with a mismatched sentence fake too.

* **The captions** come from the real batch itself: each digit is measured (stroke thickness, slant, width;
  :mod:`saddlepoint.data.captions`), its facts cut at the training set's tertiles, and stated with its digit in a
  phrasing drawn at random — so the data is plain ``data=mnist``.  The generator's sentences for a step are the
  real batch's own captions in another order (the sentences of the data, as the paper draws them).
* **The sentence encoder** is trained here on the captions (no download) and kept in the run's checkpoints, so a
  run samples with the encoder it trained with (``text_encoder`` in run.json says which); ``text_encoder=minilm``
  uses the pretrained all-MiniLM-L6-v2 of the optional extra ``text-minilm`` instead (only its reading heads are
  kept in the checkpoints).
* **The players**: the generator takes [z, sentence vector]; the critic reads the sentence by projection
  (Miyato & Koyama 2018; the paper concatenates it to a 4×4 feature map).  **Matching-aware**: the critic's fake
  side holds both (G(z, t), t) and (real x, a sentence of another image), half each, as the paper's CLS loss.

``saddlepoint sample RUN --text "a thick seven leaning right"``; ``benchmarks/text2image.py`` measures, on held-out
phrasings, how often the shipped classifier reads the sentence's digit and how the measured thickness and slant
follow the words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import Tensor

from ..conditional import register_condition
from ..keys import config_section, key
from ..runs import RunError

__all__ = ["TextCondition", "load_text_encoder", "caption_cuts"]

@config_section("text2image", family="gan")
class TextKeys:
    """Text-to-image's own keys (conditional=text): the paper's two additions, each of which can be turned off to
    compare GAN, GAN-CLS, GAN-INT and GAN-INT-CLS as Reed et al. do."""

    text_cls: bool = key(True, "text: the matching-aware critic (CLS): real images with other images' sentences count "
                               "as fake", conditions=("text",))
    text_int: bool = key(True, "text: the generator's sentences are halfway between two real captions' vectors "
                               "(INT, β = ½), filling the sentence space between captions", conditions=("text",))
    text_encoder: Literal["small", "minilm"] = key(
        "small", "text: the sentence encoder — small (trained here on the captions, no download) or minilm (the "
                 "pretrained all-MiniLM-L6-v2; optional extra text-minilm)", conditions=("text",))


ENCODER_FILES = {"small": "text-encoder-v2.safetensors", "minilm": "text-minilm-heads-v1.safetensors"}
CUTS_FILE = "mnist-caption-cuts-v1.json"


def load_text_encoder(kind: str = "small"):
    """The sentence encoder ``kind``: ``small``, trained here once (seeded, about 15 s), or ``minilm``, the
    pretrained all-MiniLM-L6-v2 with its reading heads fitted once; what is trained is cached beside the data."""
    from safetensors.torch import load_file, save_file

    from ..data.captions import MiniLMEncoder, TextEncoder, train_minilm_heads, train_text_encoder, vocabulary
    from ..data.images import cache_dir

    path = cache_dir() / ENCODER_FILES[kind]
    enc = TextEncoder(vocabulary()) if kind == "small" else MiniLMEncoder()
    if path.is_file():
        try:
            enc.load_state_dict(load_file(str(path)))
            return enc.eval()
        except (RuntimeError, OSError):
            pass  # another vocabulary or a damaged file: train again
    enc = train_text_encoder() if kind == "small" else train_minilm_heads(enc)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in enc.state_dict().items()}, str(path))
    except OSError:
        pass  # a read-only cache only means training again next time
    return enc


def caption_cuts() -> np.ndarray:
    """The tertile cuts of thickness, slant and width over the first 20,000 MNIST training digits (measured once,
    cached)."""
    from ..data.captions import measure_digits, tertiles
    from ..data.images import cache_dir, load_mnist

    path = cache_dir() / CUTS_FILE
    if path.is_file():
        return np.asarray(json.loads(path.read_text())["cuts"], dtype=np.float32)
    digits = load_mnist(train=True).images[:20_000, 0].numpy()
    cuts = tertiles(measure_digits(digits))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"cuts": cuts.tolist(), "what": "tertiles of thickness, slant, width over the "
                                                                  "first 20,000 MNIST training digits"}))
    except OSError:
        pass
    return cuts


@register_condition("text")
@dataclass(eq=False)
class TextCondition:
    """GAN-INT-CLS: sentence vectors for the generator, (image, sentence) pairs for the critic."""

    encoder: torch.nn.Module
    cuts: np.ndarray
    mismatched: bool = True  # CLS: the critic also sees real images with other images' sentences as fake
    interpolate: bool = True  # INT: the generator's sentences lie halfway between two real ones
    n_classes: int = 10
    critic_reads_label: ClassVar[bool] = True
    needs_labels: ClassVar[bool] = True
    from_real: ClassVar[bool] = False
    aux_outputs: ClassVar[int] = 0
    critic_mode: ClassVar[str] = "text"  # the critic reads a sentence vector by projection
    metrics: ClassVar[tuple[str, ...]] = ("accuracy",)
    _last: Tensor | None = field(default=None, repr=False)

    @classmethod
    def validate(cls, cfg) -> None:
        from ..keys import ConfigError

        if cfg.data != "mnist":
            raise ConfigError(f"conditional=text captions MNIST digits from what is measured on them; data={cfg.data} "
                              "has no captions: use data=mnist")
        if cfg.text_encoder == "minilm":
            from ..data.captions import require_minilm

            require_minilm(ConfigError)
        if cfg.model not in ("dcgan", "resnet", "small", "progan"):
            raise ConfigError(f"conditional=text gives the generator a sentence vector beside z and the critic a "
                              f"projection; model={cfg.model} does not take them: use model=dcgan or resnet")

    @classmethod
    def from_config(cls, cfg, classes: int) -> "TextCondition":
        if cfg.data != "mnist":
            raise RunError(f"conditional=text captions MNIST digits from what is measured on them; data={cfg.data} "
                           "has no captions: use data=mnist")
        if cfg.text_encoder == "minilm":  # also a saved run loaded where the extra is missing
            from ..data.captions import require_minilm

            require_minilm(RunError)
        return cls(load_text_encoder(cfg.text_encoder), caption_cuts(), cfg.text_cls, cfg.text_int)

    @property
    def encoder_name(self) -> str:
        return self.encoder.name

    @property
    def cond_dim(self) -> int:
        return self.encoder.dim

    # --- sentences ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, sentences: list[str]) -> Tensor:
        return self.encoder(sentences)

    def describe(self, images: Tensor, labels: Tensor, generator: torch.Generator, held_out: bool = False
                 ) -> list[str]:
        """A caption for each image (in [−1, 1]) from its measures and its label, phrased with ``generator``."""
        from ..data.captions import caption, facts_of, measure_digits

        digits = ((images[:, 0].detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
        facts = facts_of(measure_digits(digits), self.cuts)
        rng = np.random.default_rng(int(torch.randint(2 ** 31 - 1, (1,), generator=generator)))
        return [caption(int(y), f, rng, held_out) for y, f in zip(labels.tolist(), facts)]

    def real_condition(self, images: Tensor, labels: Tensor, generator: torch.Generator) -> Tensor:
        """The real batch's sentence vectors (kept: the generator's sentences come from them)."""
        vectors = self.embed(self.describe(images, labels, generator)).to(images.device)
        self._last = vectors
        return vectors

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """The generator's sentences: the last real batch's in a random order — with INT, each halfway between two
        of them (random captions before any real batch)."""
        if self._last is None:
            return self.balanced(n, generator)
        last = self._last.cpu()
        # A permutation when this process described as many real images as the batch needs; under torchrun it
        # described only its slice, so draw from that with replacement.
        pick = ((lambda: torch.randperm(len(last), generator=generator)[:n]) if len(last) >= n
                else (lambda: torch.randint(len(last), (n,), generator=generator)))
        picked = last[pick()]
        if self.interpolate:
            picked = 0.5 * picked + 0.5 * last[pick()]
        return picked

    def balanced(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Sentences for digits 0, 1, …, 9, 0, … with random facts and training phrasings (pictures, evaluation)."""
        from ..data.captions import caption

        g = generator or torch.Generator().manual_seed(0)
        rng = np.random.default_rng(int(torch.randint(2 ** 31 - 1, (1,), generator=g)))
        facts = rng.integers(0, 3, (n, 3))
        return self.embed([caption(i % 10, f, rng) for i, f in zip(range(n), facts)])

    @torch.no_grad()
    def categories(self, cond: Tensor) -> Tensor:
        """The digit each sentence vector states, as the encoder reads it."""
        return self.encoder.read(cond.float().cpu())["digit"]

    # --- what the step adds: nothing beyond the matching-aware critic ------------------------------------------
    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return None

    def g_term(self, aux_fake, c_fake, fake, real):
        return None

    # --- metrics ---------------------------------------------------------------------------------------------
    def digit_reads(self, exp, fake: Tensor, cond: Tensor | None) -> dict[str, float]:
        if cond is None:
            return {}
        from ..metrics.conditional import class_accuracy
        from ..metrics.images import mnist_backbone

        predicted = mnist_backbone()[0](fake)[1].argmax(1)
        return {"accuracy": class_accuracy(predicted, self.categories(cond))["accuracy"]}

    def metric_refusal(self, exp, metric: str) -> str | None:
        return None if metric in self.metrics else NotImplemented
