"""Text-to-image on MNIST: does the picture say what the sentence says?  (Reed et al. 2016's setting, measured.)

For a trained ``conditional=text`` run: ``--captions`` sentences in the two **held-out phrasings** (never seen in
training), one sample per sentence.  What the sentences state (``--facts``): ``test``, the digit and the measured
thickness, slant and width of each of the first MNIST test digits (captions of real held-out digits, as Reed et al.
evaluate on test-set captions), or ``random``, a random digit with random facts — which includes digits that do not
exist (a wide one), reported apart.  Then

* **digit**: how often the shipped MNIST classifier reads the sentence's digit (goal ≥ 90 %);
* **thickness, slant, width**: the Spearman rank correlation between the word's value (thin 0 < regular 1 < thick 2,
  and so on) and what is measured on the sample (goal ≥ 0.6 for thickness and slant);
* the same for the run's **training phrasings**, and the encoder's own reading of both (its ceiling).

    python benchmarks/text2image.py RUN [--captions 2000] [--facts test|random] [--truncation T] [--jsonl rows.jsonl]
    python benchmarks/text2image.py --table-from rows.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import print_table_from, record  # noqa: E402


def measure(exp, n: int, held_out: bool, seed: int, kind: str = "test") -> dict:
    import numpy as np
    import torch
    from scipy.stats import spearmanr

    from saddlepoint.data.captions import FACTS, caption, facts_of, measure_digits
    from saddlepoint.data.images import load_mnist
    from saddlepoint.metrics.images import mnist_backbone

    cond = exp.condition
    rng = np.random.default_rng(seed)
    if kind == "test":  # what the first n test digits are and how they are drawn
        test = load_mnist(train=False)
        digits = test.labels[:n].numpy()
        facts = facts_of(measure_digits(test.images[:n, 0].numpy()), cond.cuts)
    else:
        digits, facts = rng.integers(0, 10, n), rng.integers(0, 3, (n, 3))
    sentences = [caption(int(d), f, rng, held_out) for d, f in zip(digits, facts)]
    vectors = cond.embed(sentences)
    z = exp.sampling_noise(n, torch.Generator().manual_seed(seed))
    x = exp.run_sampler(z, vectors)
    read = mnist_backbone()[0](x)[1].argmax(1).numpy()
    measured = measure_digits(((x[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy())
    encoder_read = cond.encoder.read(vectors)
    row = {"encoder": exp.cfg.text_encoder, "truncation": exp.truncation, "facts": kind,
           "phrasings": "held out" if held_out else "training", "captions": n,
           "digit": float((read == digits).mean()),
           "encoder digit": float((encoder_read["digit"].numpy() == digits).mean())}
    for j, name in enumerate(FACTS):
        row[name] = float(spearmanr(facts[:, j], measured[:, j]).statistic)
        row[f"encoder {name}"] = float((encoder_read[name].numpy() == facts[:, j]).mean())
    return row


def table(rows: list[dict]) -> str:
    lines = ["| run | encoder | z | facts | phrasings | captions | digit read | thickness ρ | slant ρ | width ρ | encoder reads "
             "digit / thickness / slant / width |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        z = f"truncated at {r['truncation']:g}" if r.get("truncation") else "prior"
        lines.append(f"| {Path(r['run']).name} | {r.get('encoder', 'small')} | {z} | {r.get('facts', 'random')} | {r['phrasings']} | {r['captions']} | {100 * r['digit']:.1f} % | "
                     f"{r['thickness']:.2f} | {r['slant']:.2f} | {r['width']:.2f} | {100 * r['encoder digit']:.0f} / "
                     f"{100 * r['encoder thickness']:.0f} / {100 * r['encoder slant']:.0f} / "
                     f"{100 * r['encoder width']:.0f} % |")
    return "\n".join(lines) + ("\n\n| goal (issue #26) | |\n|---|---|\n| caption's digit read by the classifier, "
                               "held-out phrasings | ≥ 90 % |\n| thickness and slant follow the words (Spearman) | "
                               "≥ 0.6 |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?")
    p.add_argument("--captions", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--facts", choices=["test", "random"], default="test",
                   help="sentences about the MNIST test digits (default) or random digits with random facts")
    p.add_argument("--truncation", type=float, help="draw z from the normal truncated at ±T (the truncation trick)")
    p.add_argument("--jsonl")
    p.add_argument("--table-from")
    args = p.parse_args(argv)
    if print_table_from(args, table):
        return 0
    if not args.run:
        p.error("give a RUN (or --table-from)")
    from saddlepoint.train import load_run

    exp = load_run(args.run)
    if getattr(exp.condition, "critic_mode", None) != "text":
        p.error(f"{args.run} is not a text-to-image run (conditional=text)")
    exp.use_truncation(args.truncation)
    rows = []
    for held_out in (True, False):
        row = {"run": str(args.run), **measure(exp, args.captions, held_out, args.seed, args.facts)}
        record(row, args.jsonl)
        rows.append(row)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
