"""Unrestricted adversarial examples (Song, Shu, Kushman & Ermon 2018): images made from scratch by a class-conditional
generator that still show the source class, yet the attacked classifier reads another.

An AC-GAN's generator G(z, s) draws class s, and its critic's auxiliary classifier c reads the class of an image.
From a random code z₀ the attack searches

    ẑ = argmin_z  L_f(G(z, s)) + λ₁ · mean_i max(|z_i − z₀_i| − ε, 0) + λ₂ · CE(c(G(z, s)), s)

where L_f is the attacked classifier f's cross-entropy towards the target t (targeted) or −log(1 − p_f(s | x))
(untargeted: any class but s), the second term a soft bound that lets each coordinate move freely within ε of z₀,
and the third keeps the image one that the AC-GAN itself reads as s.  λ₁ = λ₂ = 100, ε = 0.1 and the annealed
gradient noise (variance 0.01 / (1 + t)^0.55) are the paper's.  Nothing bounds the change in pixels: the image need
not be near any test digit, which is why norm-bounded defences do not cover it.

An attempt succeeds when the attacked classifier reads the target (or any class but s) and the auxiliary classifier
reads s.  Guards (``guards``: other classifiers than the attacked one, never the judge) add their own cross-entropy
towards s beside the auxiliary classifier's, with the same λ₂, and must read s too: the auxiliary classifier alone is
an undefended network trained beside the generator, and the search finds images it still calls s that a person
would not.  With ``stop_at_success`` (the default) each attempt stops at the first code that succeeds: the smallest
change along its path that does it, where the paper's fixed-length search goes on changing the image after it has
succeeded (``stop_at_success=False``).  Restarts (``settings.restarts``) start each attempt again from another point
of the box around z₀ that the bound leaves free, with its own gradient noise; a restart that succeeds is kept over
one that did not.  Whether a person would still see s is the question the paper put to people; here an independent
judge (:mod:`saddlepoint.tasks.classifiers`, another architecture on another split, never seen by the attack)
answers it.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..runs import RunError
from .common import LatentGenerator
from .latent import LatentSearch, search

__all__ = ["SONG_SEARCH", "attack", "attack_report", "check_attackable"]

# attack()'s default search: one attempt per code, the paper's annealed noise (the command line's defaults are these)
SONG_SEARCH = LatentSearch(steps=500, lr=0.01, optimizer="adam", restarts=1, prior=0.0, noise=0.01)


def check_attackable(exp, source: int, target: int | None) -> LatentGenerator:
    """The run's class-conditional generator, or a one-line refusal: the run needs an auxiliary classifier (AC-GAN) on
    MNIST digits, and the source and target must be its classes and differ."""
    G = LatentGenerator(exp, "attack", conditional=True)
    if not getattr(exp.condition, "aux_outputs", 0) or not hasattr(exp, "D"):
        raise RunError(f"attack keeps the source class with the AC-GAN's auxiliary classifier, and this run "
                       f"(conditional={exp.condition.name}) has none; train conditional=acgan (e.g. the recipe "
                       "mnist-acgan-wgangp)")
    if exp.cfg.data != "mnist" or G.shape != (1, 28, 28):
        raise RunError(f"the attacked classifiers read 28×28 MNIST digits and this run's data is {exp.cfg.data} at "
                       f"{G.shape[1]} px")
    k = exp.condition.n_classes
    for name, v in (("--source", source), ("--target", target)):
        if v is not None and not 0 <= v < k:
            raise RunError(f"{name} {v}: give a class between 0 and {k - 1}")
    if target is not None and target == source:
        raise RunError(f"--target {target} is the source class; give another (or leave it out: any other class)")
    return G


def attack(exp, classifier: nn.Module, source: int, target: int | None = None, n: int = 64,
           settings: LatentSearch = SONG_SEARCH, lam1: float = 100.0, lam2: float = 100.0, eps: float = 0.1,
           progress: bool = False, guards: Sequence[nn.Module] = (), stop_at_success: bool = True) -> dict[str, Tensor]:
    """``n`` attempts from random codes z₀ (seeded by ``settings.seed``): the starting and final images (N, 1, 28, 28)
    in [0, 1], what the attacked and the auxiliary classifier (and every guard) read in them, which attempts
    succeeded, and after how many steps ("steps": the search's length where an attempt did not stop early)."""
    G = check_attackable(exp, source, target)
    dev = G.device
    D = exp.D.eval().requires_grad_(False)
    f = classifier.to(dev).eval().requires_grad_(False)
    if any(g is classifier for g in guards):
        raise ValueError("a guard must be another classifier than the attacked one")
    guards = [g.to(dev).eval().requires_grad_(False) for g in guards]
    gen = torch.Generator().manual_seed(settings.seed)
    z0 = G.prior(n, gen).to(dev)
    # every restart of an attempt starts within the free box around its z₀: the first at z₀, the others at a uniform
    # point of it, so that they take other paths to the same kind of image
    box = (torch.rand(settings.restarts - 1, n, G.z_dim, generator=gen) * 2 - 1) * eps
    starts = torch.cat([z0.cpu()[None], z0.cpu()[None] + box])
    s = torch.full((n,), source, dtype=torch.long, device=dev)

    def aux_logits(x01: Tensor) -> Tensor:
        return D(x01 * 2 - 1)[1].float()

    def readings(logits: Tensor, aux: Tensor, guard_logits: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """What the attacked and the auxiliary classifier read, and whether every guard reads the source."""
        guarded = torch.ones(len(logits), dtype=torch.bool, device=logits.device)
        for gl in guard_logits:
            guarded &= gl.argmax(1) == source
        return logits.argmax(1), aux.argmax(1), guarded

    def succeeded(read: Tensor, aux_read: Tensor, guarded: Tensor) -> Tensor:
        fooled = read == target if target is not None else read != source
        return fooled & (aux_read == source) & guarded

    def loss(z: Tensor, idx: Tensor, extra: dict[str, Tensor]) -> Tensor | tuple[Tensor, Tensor]:
        x = G(z, s[idx])
        logits = f(x * 2 - 1)
        aux = aux_logits(x)
        guard_logits = [g(x * 2 - 1) for g in guards]
        if target is not None:
            fool = F.cross_entropy(logits, torch.full_like(idx, target), reduction="none")
        else:  # any class but the source: −log(1 − p(s | x)), computed stably from the log-probabilities
            log_p = F.log_softmax(logits, 1)[:, source]
            fool = -torch.log1p(-log_p.exp().clamp(max=1 - 1e-6))
        bound = (z - z0[idx]).abs().sub(eps).clamp_min(0).mean(1)
        keep = F.cross_entropy(aux, s[idx], reduction="none")
        for gl in guard_logits:
            keep = keep + F.cross_entropy(gl, s[idx], reduction="none")
        total = fool + lam1 * bound + lam2 * keep
        if not stop_at_success:
            return total
        with torch.no_grad():
            return total, succeeded(*readings(logits, aux, guard_logits))

    found = search(loss, n, G.z_dim, settings, init=starts, device=dev, progress=progress, desc="attack")
    with torch.no_grad():
        start, end = G(z0, s), G(found.z.to(dev), s)
        read_start = f(start * 2 - 1).argmax(1)
        read, aux, guarded = readings(f(end * 2 - 1), aux_logits(end), [g(end * 2 - 1) for g in guards])
    return {"start": start.cpu(), "adversarial": end.cpu(), "read_start": read_start.cpu(), "read": read.cpu(),
            "aux": aux.cpu(), "guards_read_source": guarded.cpu(), "guards": len(guards),
            "success": succeeded(read, aux, guarded).cpu(), "z0": z0.cpu(), "z": found.z,
            "steps": found.steps, "stop_at_success": stop_at_success, "restarts": settings.restarts}


def attack_report(result: dict[str, Tensor], source: int, target: int | None, classifier: str,
                  judge: nn.Module | None) -> dict[str, Any]:
    """The rates over the attempts: succeeded, fooled the attacked classifier, kept by the auxiliary classifier; and
    with a judge, how often it reads the source digit in the successful images (and in the starting ones)."""
    n = len(result["success"])
    fooled = result["read"] == target if target is not None else result["read"] != source
    rep: dict[str, Any] = {"classifier": classifier, "source": source, "target": target, "attempts": n,
                           "success_rate": float(result["success"].float().mean()),
                           "fooled_rate": float(fooled.float().mean()),
                           "aux_reads_source": float((result["aux"] == source).float().mean()),
                           "start_read_as_source": float((result["read_start"] == source).float().mean()),
                           "stops_at_first_success": result["stop_at_success"], "restarts": result["restarts"]}
    if result["success"].any():
        rep["median_steps_of_successes"] = int(result["steps"][result["success"]].median())
    if result.get("guards"):
        rep["guards"] = result["guards"]
        rep["guards_read_source"] = float(result["guards_read_source"].float().mean())
    if judge is not None:
        with torch.no_grad():
            reads = judge(result["adversarial"] * 2 - 1).argmax(1)
            reads_start = judge(result["start"] * 2 - 1).argmax(1)
        ok = result["success"]
        rep["judge_reads_source_in_successes"] = float((reads[ok] == source).float().mean()) if ok.any() else None
        rep["judged_success_rate"] = float((ok & (reads == source)).float().mean())
        rep["judge_reads_source_at_start"] = float((reads_start == source).float().mean())
    return rep
