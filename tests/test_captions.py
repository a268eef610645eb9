"""Captions measured from digits, and the small sentence encoder trained on them (text-to-image's data)."""

import numpy as np
import torch

from saddlepoint.data.captions import (FACTS, HELD_OUT_TEMPLATES, TRAIN_TEMPLATES, caption, facts_of, measure_digits,
                                       tertiles, tokenize, train_text_encoder)


def _bar(width: int, shear: float = 0.0, length: int = 20, height: int = 28) -> np.ndarray:
    """A vertical stroke ``width`` pixels wide, sheared: x moves by ``shear`` per row upward."""
    img = np.zeros((height, 28), dtype=np.uint8)
    for r in range(4, 4 + length):
        c = int(round(13 + shear * (14 - r)))
        img[r, c:c + width] = 255
    return img


def test_measures_follow_thickness_slant_and_width():
    m = measure_digits(np.stack([_bar(1), _bar(4), _bar(2, shear=0.4), _bar(2, shear=-0.4)]))
    assert m[1, 0] > 2.5 * m[0, 0]  # four pixels wide against one
    assert m[2, 1] > 0.2 and m[3, 1] < -0.2  # leaning right, leaning left
    assert m[2, 2] > m[0, 2] + 5  # the sheared stroke spans more columns


def test_tertile_facts_and_captions_that_state_them():
    rng = np.random.default_rng(0)
    measures = rng.normal(size=(300, 3)).astype(np.float32)
    facts = facts_of(measures, tertiles(measures))
    assert all(np.bincount(facts[:, j], minlength=3).min() >= 90 for j in range(3))
    text = caption(7, (2, 0, 1), rng)
    assert ("seven" in text or " 7 " in f" {text} ")
    assert any(p in text for p in FACTS["thickness"][2]) and any(p in text for p in FACTS["slant"][0])
    assert not set(TRAIN_TEMPLATES) & set(HELD_OUT_TEMPLATES)
    assert tokenize("A thick 7, leaning-right!") == ["a", "thick", "7", "leaning", "right"]


def test_the_encoder_reads_held_out_phrasings():
    enc = train_text_encoder(steps=400, pool=6000)
    rng = np.random.default_rng(5)
    digits, facts = rng.integers(0, 10, 600), rng.integers(0, 3, (600, 3))
    with torch.no_grad():
        read = enc.read(enc([caption(int(d), f, rng, held_out=True) for d, f in zip(digits, facts)]))
    assert (read["digit"].numpy() == digits).mean() > 0.9
    for j, name in enumerate(FACTS):
        assert (read[name].numpy() == facts[:, j]).mean() > 0.8, name
    with torch.no_grad():
        assert enc(["a thick seven leaning right"]).shape == (1, enc.dim)
        assert enc(["words it never saw"]).shape == (1, enc.dim)  # unknown words are skipped, not an error


def test_a_sentence_vector_says_the_facts_not_the_phrasing():
    """Two phrasings of the same facts land close together — held-out phrasings included, whose own words (e.g.
    "that is") the encoder never learned and skips — and far from other facts."""
    from saddlepoint.data.captions import vocabulary

    assert {"that", "is"} & set(HELD_OUT_TEMPLATES[0].split()) and not {"that", "is"} & set(vocabulary())
    enc = train_text_encoder(steps=400, pool=6000)
    rng = np.random.default_rng(7)
    digits, facts = rng.integers(0, 10, 400), rng.integers(0, 3, (400, 3))
    with torch.no_grad():
        trained = torch.stack([enc([caption(int(d), f, rng) for d, f in zip(digits, facts)]) for _ in range(4)]).mean(0)
        held_out = enc([caption(int(d), f, rng, held_out=True) for d, f in zip(digits, facts)])
    same = (held_out - trained).norm(dim=1).mean()
    other = (held_out - trained.roll(1, 0)).norm(dim=1).mean()
    assert same < 0.15 * other, (float(same), float(other))
