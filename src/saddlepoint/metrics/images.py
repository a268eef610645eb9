"""Image metrics for a trained run: FID, KID, Inception-style score, precision/recall and (for stacked
MNIST) mode coverage, each recorded with how it was computed.

Backbones are pluggable: ``inception`` (Inception-v3 with the standard FID weights, see
:mod:`saddlepoint.metrics.inception`; the default for data outside the MNIST family) and ``mnist``,
which works offline: saddlepoint's own MNIST classifier (``metrics/mnist_classifier.py``), whose 128-d pooled features play the role of Inception's pool
features and whose 10-way softmax plays the role of Inception's class posterior.  Images with three
channels (stacked MNIST) are read channel by channel and their features concatenated.  Real-data
statistics are computed on the reference split once and cached under the data home with their
provenance.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from .errors import MetricUnavailable
from .features import feature_statistics, frechet_distance, kernel_distance, precision_recall
from .stacked import read_triples, stacked_mode_coverage

__all__ = ["METRICS", "register_metric", "class_histogram", "IMAGE_METRICS", "BACKBONES", "MetricUnavailable", "default_backbone", "evaluate_images", "inception_score",
           "fingerprint", "mnist_backbone", "mnist_parzen", "read_stacked", "digit_reads", "translation_quality"]

@dataclass(frozen=True)
class Metric:
    """A metric by name: what it measures, and what a run must offer for it (said when a run lacks it).
    ``fits``: whether a run that samples from noise has it without its condition offering it (fid, kid, is, pr:
    every image run; modes: stacked MNIST; memorization: MNIST); conditions offer their own (a class-conditional
    run its accuracy, InfoGAN its code match, a translation its pixel metrics) through ``metric_refusal`` or,
    for translations, ``metrics``."""

    name: str
    help: str
    refusal: str
    fits: Callable[[object], bool] = lambda exp: False


METRICS: dict[str, Metric] = {}


def register_metric(name: str, help: str, refusal: str = "", fits: Callable[[object], bool] | None = None) -> Metric:
    if name in METRICS:
        raise ValueError(f"metric {name!r} is registered twice")
    METRICS[name] = Metric(name, help, refusal, fits or (lambda exp: False))
    return METRICS[name]


_ALWAYS = lambda exp: True  # noqa: E731
register_metric("fid", "Fréchet distance of backbone features (Heusel et al. 2017)", fits=_ALWAYS)
register_metric("kid", "kernel inception distance: unbiased MMD² of backbone features (Bińkowski et al. 2018)",
                fits=_ALWAYS)
register_metric("is", "Inception-style score of the backbone's class posterior (Salimans et al. 2016)", fits=_ALWAYS)
register_metric("pr", "k-NN precision and recall of backbone features (Kynkäänniemi et al. 2019)", fits=_ALWAYS)
register_metric("modes", "stacked-MNIST digit triples covered and their KL (the Unrolled-GAN protocol)",
                "the modes metric counts digit triples and needs data=stacked-mnist",
                lambda exp: exp.cfg.data == "stacked-mnist")
register_metric("memorization", "nearest training and test digits of each sample, in backbone features",
                "the memorization check compares with MNIST's training digits and needs data=mnist",
                lambda exp: exp.cfg.data == "mnist")
register_metric("accuracy", "the fraction of samples the MNIST classifier reads as the class they were asked for",
                "the accuracy metric compares samples with the class they were asked for and needs a class-conditional "
                "run (conditional=cgan or acgan, or family=vae with cvae=true)")
register_metric("class_fid", "FID per class against that class's reference images",
                "the class_fid metric compares samples with the class they were asked for and needs a "
                "class-conditional run (conditional=cgan or acgan, or family=vae with cvae=true)")
register_metric("code_match", "InfoGAN's categorical code best matched to the digit classes",
                "the code_match metric matches InfoGAN's categorical code to digit classes and needs a "
                "conditional=infogan run")
for _name, _what in (("l1", "mean absolute error"), ("psnr", "peak signal-to-noise ratio"),
                     ("ssim", "structural similarity")):
    register_metric(_name, f"{_what} of translations against their targets",
                    "l1, psnr and ssim compare translations with their targets and need a translation run "
                    "(conditional=pix2pix or srgan)")
register_metric("cycle", "mean |F(G(a)) − a| and |G(F(b)) − b| on held-out images of both domains",
                "the cycle metric translates there and back and needs a conditional=cyclegan run")
register_metric("nll", "held-out −log p(x) by importance sampling, in nats and bits/dim (Burda et al. 2016)",
                "nll is a held-out likelihood and needs a model that has one: family=vae (a GAN's or a GMMN's "
                "generator defines no density; --metrics ais scores it with Gaussian pixel noise, or score its "
                "samples with fid, kid or pr)",
                lambda exp: hasattr(exp, "test_nll"))
register_metric("parzen", "Parzen-window log-likelihood of the test digits under the samples, width chosen on a "
                          "validation split (the GMMN paper's protocol; a poor metric, kept to compare)",
                "the parzen metric scores MNIST test digits under the samples and needs data=mnist",
                lambda exp: exp.cfg.data == "mnist")


def _ais_fits(exp) -> bool:
    return exp.condition is None or hasattr(exp.condition, "likelihood_parts")


register_metric("ais", "held-out log p(x) by annealed importance sampling for any decoder: a GAN's or GMMN's generator "
                       "with Gaussian pixel noise, a VAE's with its own likelihood (Wu et al. 2017); log p(x | y) for "
                       "a class-conditional run; InfoGAN's codes summed over",
                "ais scores unconditional, class-conditional (conditional=cgan or acgan, or cvae=true) and InfoGAN "
                "runs, and this run's generator is told a caption or a source image",
                _ais_fits)
IMAGE_METRICS = tuple(METRICS)  # the names, in the order above
TRANSLATION_METRICS = ("l1", "psnr", "ssim")


def fingerprint(images: Tensor) -> str:
    """A short content hash of a uint8 image tensor: which data the reference statistics came from."""
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16]


def inception_score(probs: Tensor, splits: int = 10) -> tuple[float, float]:
    """Salimans et al. 2016: exp E_x KL(p(y|x) ‖ p(y)), mean and std over ``splits`` chunks."""
    scores = []
    for p in probs.double().chunk(splits):
        py = p.mean(0, keepdim=True)
        scores.append(math.exp(float((torch.xlogy(p, p) - p * torch.log(py)).sum(1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def mnist_backbone() -> tuple[Callable[[Tensor], tuple[Tensor, Tensor]], torch.nn.Module]:
    from .mnist_classifier import FrozenMNISTClassifier, load_mnist_classifier

    try:
        clf = FrozenMNISTClassifier(load_mnist_classifier())  # the same function, read about 4× faster
    except FileNotFoundError as e:
        raise MetricUnavailable(str(e)) from None

    @torch.no_grad()
    def run(x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, H, W) in [−1, 1] → (features (N, 128·C), class probabilities (N·C, 10))."""
        n, c = x.shape[:2]
        x = x.reshape(n * c, 1, *x.shape[2:])
        if x.shape[-1] != 28:
            x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
        feats, probs = [], []
        for xb in x.split(1000):
            f = clf.features(xb)
            feats.append(f)
            probs.append(clf.head(f).softmax(1))
        return torch.cat(feats).reshape(n, -1), torch.cat(probs)

    return run, clf


def read_stacked(images: Tensor) -> dict[str, float]:
    """The stacked-MNIST protocol's numbers for (N, 3, 28, 28) images in [−1, 1], each channel read by the
    shipped classifier: modes, KL and its two parts."""
    return stacked_mode_coverage(read_triples(images, mnist_backbone()[1]))


def digit_reads(exp, fake: Tensor, cond: Tensor | None) -> dict[str, float]:
    """What the shipped MNIST classifier reads in ``fake`` (samples drawn with ``cond``) where the run gives
    the reading a meaning: stacked MNIST — the digit triples (modes, KL and its two parts); a conditioned run —
    what its condition reads (class accuracy, InfoGAN's code match).  Cheap enough to log while training;
    {} for other runs."""
    condition = exp.condition
    if condition is not None:
        reads = getattr(condition, "digit_reads", None)
        return reads(exp, fake, cond) if reads is not None else {}
    if exp.cfg.data == "stacked-mnist":
        return read_stacked(fake)
    if exp.cfg.data == "mnist":
        return class_histogram(mnist_backbone()[0](fake)[1].argmax(1))
    return {}


def class_histogram(predicted: Tensor, k: int = 10) -> dict[str, float]:
    """How evenly samples spread over the ``k`` classes read in them: ``classes``, the classes drawn at least a
    quarter as often as uniform sampling would (a collapsed generator draws few), and ``class_kl``, KL(histogram ‖
    uniform) in nats (0 for a uniform spread, log k for one class)."""
    share = torch.bincount(predicted, minlength=k).double() / max(len(predicted), 1)
    kl = float((share[share > 0] * torch.log(share[share > 0] * k)).sum())
    return {"classes": int((share >= 0.25 / k).sum()), "class_kl": kl}


MNIST_FAMILY = ("mnist", "stacked-mnist", "edges2mnist", "halves2mnist", "digits2mnist")
BACKBONES = ("mnist", "inception")


def default_backbone(data: str) -> str:
    """The MNIST classifier for the MNIST family (offline, comparable across runs); Inception otherwise."""
    return "mnist" if data in MNIST_FAMILY else "inception"


def _backbone(name: str, data: str, inception_weights: str | None, device, progress: bool):
    """(backbone function, its description for the provenance)."""
    if name == "mnist":
        if data not in MNIST_FAMILY:
            raise MetricUnavailable(f"the mnist backbone reads MNIST digits, not data={data!r}; use --backbone inception")
        return mnist_backbone()[0], "saddlepoint MNIST classifier (128-d pool features, 10 classes)"
    if name == "inception":
        from .inception import FID_WEIGHTS_FILE, inception_backbone

        return (inception_backbone(inception_weights, device, progress=progress),
                f"Inception-v3, FID weights {FID_WEIGHTS_FILE} (2048-d pool features, 1008 classes)")
    raise MetricUnavailable(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")


def reference_set(exp):
    """(real images to compare with as an ImageSampler, what they are): the held-out test split where the
    dataset has one, else the run's own training images."""
    from ..data.images import ImageSampler, load_cifar10, load_mnist

    data = exp.cfg.data
    own = getattr(exp.condition, "reference_set", None)  # a translation compares with its own held-out targets
    found = own(exp) if own is not None else None
    if found is not None:
        return found
    if data in MNIST_FAMILY:
        return (ImageSampler(data, exp.cfg.image_size, base=load_mnist(train=False)),
                f"{data} built from the MNIST test split")
    if data == "cifar10":
        return ImageSampler(data, exp.cfg.image_size, base=load_cifar10(train=False)), "CIFAR-10 test split"
    sampler = exp.data if exp.data is not None else ImageSampler(data, exp.cfg.image_size)
    return sampler, f"the training images of {data} (no held-out split)"


def _reference(exp, backbone_fn, backbone: str, n_ref: int) -> tuple[Tensor, dict]:
    """Real features on the reference set, cached (:func:`~saddlepoint.data.images.cache_dir`) with their provenance;
    where the cache cannot be written, they are computed again next time."""
    from ..data.images import cache_dir

    sampler, what = reference_set(exp)
    info = {"reference": what, "reference_samples": n_ref,
            "reference_fingerprint": fingerprint(sampler.dataset.images), "backbone": backbone,
            "image_size": exp.cfg.image_size}
    key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(exp.cfg.data).stem)
    cache = cache_dir() / f"reference-{name}-{key}.npz"
    if cache.is_file():
        return torch.from_numpy(np.load(cache, allow_pickle=False)["features"]), info
    real = sampler.sample(n_ref, torch.Generator().manual_seed(7))  # same resizing and stacking as training
    feats, _ = backbone_fn(real)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, features=feats.numpy())
        tmp.replace(cache)
        cache.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    except OSError:  # a read-only cache: nothing lost but the time to compute them again
        pass
    return feats, info


def _feature_metrics(metrics: list[str], real_feats: Tensor, fake_feats: Tensor) -> dict:
    """fid / kid / pr between reference and generated features, as asked."""
    out: dict = {}
    n, n_ref = len(fake_feats), len(real_feats)
    if "fid" in metrics:
        out["fid"] = frechet_distance(*feature_statistics(real_feats), *feature_statistics(fake_feats))
    if "kid" in metrics:
        out["kid"], out["kid_std"] = kernel_distance(real_feats, fake_feats, subsets=50, subset_size=min(1000, n, n_ref))
    if "pr" in metrics:
        k = min(5000, n, n_ref)  # k-NN manifolds on at most 5000 points each (Kynkäänniemi et al. use 50k)
        out.update(precision_recall(real_feats[:k], fake_feats[:k], k=3))
        out["pr_samples"] = k
    return out


def _against_reference(exp, metrics, fake: Tensor, get_backbone, n_ref: int) -> dict:
    """fid / kid / pr of ``fake`` against the run's reference images; the backbone is built only when one of
    them is asked for (pixel metrics need none)."""
    if not any(m in metrics for m in ("fid", "kid", "pr")):
        return {}
    backbone_fn, described = get_backbone()
    fake_feats, _ = backbone_fn(fake)
    real_feats, info = _reference(exp, backbone_fn, described, n_ref)
    return {"backbone": described, "feature_samples": len(fake), **info,
            **_feature_metrics(metrics, real_feats, fake_feats)}


def evaluate_paired(exp, metrics, n, n_ref, get_backbone) -> dict:
    """Translation runs: outputs for the first ``n`` held-out sources, against their targets (pixel metrics,
    the digit classifier's accuracy for the built-in MNIST pairs) and, for fid/kid/pr, against the reference targets."""
    from ..data.paired import PairedSampler, held_out_pairs
    from .translation import pixel_metrics

    held, what = held_out_pairs(exp.cfg.data, exp.cfg.image_size)
    pairs = PairedSampler(exp.cfg.data, exp.cfg.image_size, held)
    targets, sources = pairs.first(n)
    fake = exp.generate(len(sources), cond=sources)
    out: dict = {"translated": len(sources), "pairs": what, "step": exp.step}
    if any(m in metrics for m in TRANSLATION_METRICS):
        out.update({k: v for k, v in pixel_metrics(fake, targets).items() if k in metrics})
    if "accuracy" in metrics:
        from .conditional import class_accuracy

        _, probs = mnist_backbone()[0](fake)
        out.update(class_accuracy(probs.argmax(1), pairs.pairs.labels[: len(sources)]))
        out["classifier"] = "saddlepoint MNIST classifier; accuracy = outputs read as their pair's digit"
    out.update(_against_reference(exp, metrics, fake, get_backbone, n_ref))
    return out


def evaluate_superres(exp, metrics) -> dict:
    """Super-resolution runs: whole held-out photographs (the training ones where none are held out),
    restored by the run's generator and by bicubic interpolation."""
    from ..data.superres import held_out_photos
    from .translation import superres_metrics

    photos, what = held_out_photos(exp.cfg.data)
    res = superres_metrics(lambda low: exp.generate(1, cond=low), photos)
    keep = {k: v for k, v in res.items() if k.split("/")[-1] in metrics}
    return {"photos": len(photos), "images": what, "step": exp.step, "scale": 4, "border": 4, **keep,
            "self_ensemble": exp.self_ensemble,
            "protocol": "RGB in [0, 1], 4-px border trimmed, mean over photos; bicubic = the same low-resolution "
                        "input enlarged by bicubic interpolation"}


def evaluate_cycle(exp, metrics, n, n_ref, get_backbone) -> dict:
    """CycleGAN runs, on held-out images of both domains (the training ones where none are held out):
    ``cycle`` = mean |F(G(a)) − a| and |G(F(b)) − b| on [0, 1] pixels; for digits2mnist ``accuracy`` = the
    MNIST classifier reads G(a) as a's digit (``accuracy/untranslated``: the same classifier on a itself,
    ``accuracy/b_to_a``: on F(b)); fid/kid/pr of G(a) against the reference images of domain B."""
    from ..data.unpaired import UnpairedSampler, held_out_domains, swap_pairs
    from .conditional import class_accuracy

    domains, what = held_out_domains(exp.cfg.data, exp.cfg.image_size)
    s = UnpairedSampler(exp.cfg.data, exp.cfg.image_size, domains)
    m = min(n, len(s.a), len(s.b))
    idx = torch.arange(m)
    a, b = s.a.to_float(idx), s.b.to_float(idx)
    sources = torch.stack([a, b], 1).flatten(0, 1)  # [a₀, b₀, …]
    out = exp.generate(2 * m, cond=sources)  # [G(a₀), F(b₀), …]
    back = exp.generate(2 * m, cond=swap_pairs(out))  # [G(F(b₀)), F(G(a₀)), …]
    res: dict = {"pairs": m, "images": what, "step": exp.step}
    if "cycle" in metrics:
        res["cycle"] = float(((back - swap_pairs(sources)).abs() / 2).mean())
        res["cycle/a"] = float(((back[1::2] - a).abs() / 2).mean())
        res["cycle/b"] = float(((back[0::2] - b).abs() / 2).mean())
    if "accuracy" in metrics:
        read = lambda x: mnist_backbone()[0](x)[1].argmax(1)  # noqa: E731
        res.update(class_accuracy(read(out[0::2]), s.a.labels[:m]))
        res["accuracy/untranslated"] = float((read(a) == s.a.labels[:m]).float().mean())
        res["accuracy/b_to_a"] = float((read(out[1::2]) == s.b.labels[:m]).float().mean())
        res["classifier"] = "saddlepoint MNIST classifier; accuracy = G(a) read as a's digit"
    res.update(_against_reference(exp, metrics, out[0::2], get_backbone, n_ref))  # G(a) in domain B
    return res


def _check_translation(exp, metrics: list[str]) -> None:
    """A translation's metrics are the ones its condition lists (``metrics``); accuracy also needs its labelled
    built-in data (``labelled_data``)."""
    cond = exp.condition
    wrong = [m for m in metrics if m not in cond.metrics]
    labelled = getattr(cond, "labelled_data", ())
    if wrong:
        usable = [m for m in cond.metrics if m != "accuracy" or exp.cfg.data in labelled]
        raise MetricUnavailable(f"the {wrong[0]} metric is not for {cond.kind_words} runs; use {', '.join(usable)}")
    if "accuracy" in metrics and exp.cfg.data not in labelled:
        raise MetricUnavailable(f"accuracy of translated digits needs data={' or data='.join(labelled)} (labelled "
                                "MNIST digits)")


def _conditional_metrics(exp, metrics, fake, fake_feats, asked, backbone_fn, described, n_ref) -> dict:
    """accuracy / code_match (MNIST classifier's reading of the samples) and per-class FID."""
    from .conditional import best_matching_accuracy, class_accuracy, per_class_fid

    out: dict = {}
    if "accuracy" in metrics or "code_match" in metrics:
        _, probs = mnist_backbone()[0](fake)
        predicted = probs.argmax(1)
        out["classifier"] = "saddlepoint MNIST classifier (≥ 99 % test accuracy)"
        if "accuracy" in metrics:
            out.update(class_accuracy(predicted, asked))
        if "code_match" in metrics:
            out.update(best_matching_accuracy(asked, predicted, exp.condition.categorical, 10))
    if "class_fid" in metrics:
        sampler, what = reference_set(exp)
        labels = sampler.dataset.labels
        if labels is None:
            raise MetricUnavailable(f"class_fid needs labelled reference images; {what} has no labels")
        idx = torch.arange(min(n_ref, len(labels)))
        real_feats = torch.cat([backbone_fn(sampler.dataset.to_float(i))[0] for i in idx.split(2000)])
        out.update(per_class_fid(fake_feats, asked, real_feats, labels[idx]))
        out["class_fid_reference"] = f"{what}, first {len(idx)} images, {described}"
    return out


def check_metrics(exp, metrics: list[str]) -> None:
    """Raise :class:`MetricUnavailable` (one line: what is wrong, what to ask for) unless every metric fits the run.
    Needs only the run's config and condition, so it can run before the run's data is loaded."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise MetricUnavailable(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    cond = exp.condition
    if cond is not None and cond.from_real:
        return _check_translation(exp, metrics)
    for m in metrics:  # the run's condition speaks for the metrics it offers; the registry for the rest
        refusal = getattr(cond, "metric_refusal", lambda e, m: NotImplemented)(exp, m)
        if refusal is NotImplemented:
            refusal = None if METRICS[m].fits(exp) else METRICS[m].refusal
        if refusal:
            raise MetricUnavailable(refusal)


def evaluate_images(exp, metrics: list[str], n: int = 10_000, n_ref: int = 10_000, backbone: str | None = None,
                    inception_weights: str | None = None, progress: bool = False, nll_samples: int = 5000,
                    nll_images: int | None = None, nll_partial: Path | None = None, ais: dict | None = None) -> dict:
    """The requested ``metrics`` for the run's sampling generator, with their provenance.  ``backbone``:
    ``mnist`` or ``inception`` (default: :func:`default_backbone` of the run's data).  ``nll``: the held-out
    likelihood with ``nll_samples`` importance samples on the first ``nll_images`` held-out images (default all),
    resumable through the file ``nll_partial``.  ``ais``: annealed importance sampling
    (:func:`saddlepoint.metrics.ais.evaluate_ais`) with these keyword arguments."""
    check_metrics(exp, metrics)
    if "nll" in metrics or "ais" in metrics:  # the likelihoods need no samples and no backbone
        likelihood: dict = {"step": exp.step}
        if "nll" in metrics:
            likelihood.update(exp.test_nll(nll_samples, nll_images, progress, nll_partial))
        if "ais" in metrics:
            from .ais import evaluate_ais

            likelihood.update(evaluate_ais(exp, **(ais or {}), progress=progress))
        rest = [m for m in metrics if m not in ("nll", "ais")]
        if not rest:
            return likelihood
        return {**evaluate_images(exp, rest, n, n_ref, backbone, inception_weights, progress), **likelihood}
    data = exp.cfg.data
    backbone = backbone or default_backbone(data)
    if exp.condition is not None and exp.condition.from_real:  # a translation's own protocol (held-out data)
        return exp.condition.evaluate_images(exp, metrics, n, n_ref,
                                             lambda: _backbone(backbone, data, inception_weights, exp.device, progress))
    backbone_fn, described = _backbone(backbone, data, inception_weights, exp.device, progress)
    cond = exp.evaluation_conditions(n) if exp.condition is not None else None
    fake = exp.generate(n, cond=cond)
    fake_feats, fake_probs = backbone_fn(fake)
    out: dict = {"generated_samples": n, "step": exp.step, "generator": exp.sampler_name, "backbone": described}
    if cond is not None:
        out.update(_conditional_metrics(exp, metrics, fake, fake_feats, exp.condition.categories(cond), backbone_fn,
                                        described, n_ref))
    if "modes" in metrics:  # the protocol reads each channel with the MNIST classifier, whatever the backbone
        out.update({f"stacked/{k}": v for k, v in read_stacked(fake).items()})
    if "memorization" in metrics:
        from ..data.images import ImageSampler, load_mnist
        from .memorization import memorization

        splits = {}
        for name, train in (("train", True), ("test", False)):
            ds = ImageSampler("mnist", exp.cfg.image_size, base=load_mnist(train=train)).dataset
            splits[name] = torch.cat([backbone_fn(ds.to_float(i))[0] for i in torch.arange(len(ds)).split(5000)])
        out.update({f"memorization/{k}": v for k, v in memorization(fake_feats, splits["train"], splits["test"]).items()})
        out["memorization_space"] = (f"{backbone} features; train = 60k MNIST training digits, "
                                     "test = 10k test digits")
    if "parzen" in metrics:
        out.update(mnist_parzen(fake))
    if "is" in metrics:
        out["is"], out["is_std"] = inception_score(fake_probs)
    if any(m in metrics for m in ("fid", "kid", "pr")):
        real_feats, info = _reference(exp, backbone_fn, described, n_ref)
        out.update(info)
        out.update(_feature_metrics(metrics, real_feats, fake_feats))
    return out


def mnist_parzen(fake: Tensor) -> dict:
    """The Parzen-window protocol of the GMMN paper: pixels in [0, 1] at 28 px, σ chosen on MNIST's last 10,000
    training digits, the mean over the 10,000 test digits (nats per image)."""
    from ..data.images import load_mnist
    from .parzen import SIGMAS, parzen_window

    def pixels(images: Tensor) -> Tensor:
        return images.float().div(255.0).flatten(1)

    samples = fake.float().add(1).div(2).clamp(0, 1)
    if samples.shape[-1] != 28:
        samples = F.interpolate(samples, size=(28, 28), mode="area")
    out = parzen_window(samples.flatten(1), pixels(load_mnist(train=True).images[50_000:]),
                        pixels(load_mnist(train=False).images))
    out["parzen_protocol"] = (f"{len(fake)} samples, pixels in [0, 1] at 28 px; σ from {SIGMAS[0]}–{SIGMAS[-1]} "
                              "chosen on MNIST training digits 50,000–59,999; mean ± SE over the 10,000 test digits")
    return out


def translation_quality(exp, n: int) -> dict[str, float | str]:
    """A translation run's quality now, cheap enough to log while training: what its condition lists as its
    ``quality`` (super-resolution — PSNR and SSIM of whole held-out photographs beside bicubic interpolation's,
    ``bicubic/psnr``, ``bicubic/ssim``; pix2pix — L1, PSNR and SSIM of the first ``n`` held-out pairs; CycleGAN —
    the cycle error on ``n`` held-out images of each domain); on its labelled built-in data also ``accuracy``, the
    fraction of outputs the shipped classifier reads as their source's digit.  ``evaluated_on`` says what was
    measured (held-out or, where a folder has none, training images); the same protocols as
    :func:`evaluate_images`."""
    cond = exp.condition
    metrics = list(cond.quality)
    if exp.cfg.data in getattr(cond, "labelled_data", ()):  # labelled digits: did the digit survive?
        metrics.append("accuracy")
    res = evaluate_images(exp, metrics, n=n)
    out: dict[str, float | str] = {k: res[k] for k in (*metrics, *(f"bicubic/{m}" for m in metrics)) if k in res}
    out["evaluated_on"] = cond.evaluated_on(res)
    return out
