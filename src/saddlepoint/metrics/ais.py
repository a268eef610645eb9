"""The log-likelihood of a decoder-based model by annealed importance sampling, checked by bidirectional Monte Carlo.

A GAN's or a GMMN's generator maps a latent z to an image and defines no density; with an observation model
p(x | z) = N(x; G(z), σ²I) (Wu, Burda, Salakhutdinov & Grosse 2017) it does, and a VAE's decoder has one already.
The marginal p(x) = ∫ p(z) p(x | z) dz is then estimated the same way for every family, which puts GANs, VAEs and
GMMNs on one scale.

**Annealed importance sampling** (Neal 2001): the distributions f_t(z) = p(z) p(x | z)^β_t, β_0 = 0 < … < β_T = 1,
lead from the prior to the posterior.  A chain starts at z ~ p(z); at each t it gains the weight
(β_t − β_{t−1}) log p(x | z) and then moves by a Hamiltonian Monte Carlo step that leaves f_t invariant.  The mean
of exp(weight) over chains is an unbiased estimate of p(x), so its logarithm is a stochastic lower bound on
log p(x): it can only err low (in expectation), by less the more distributions the schedule has.

**Bidirectional Monte Carlo** (Grosse, Ghahramani & Adams 2015): on data simulated from the model itself
(z* ~ p(z), x ~ p(x | z*)) z* is an exact sample of the posterior, so the same chain can be run from β = 1 down to
0; its weights estimate 1 / p(x) without bias, and minus their log-mean is a stochastic upper bound.  The gap
between the two bounds on simulated data is how far the forward estimate can be from the truth at this schedule;
a gap of a few nats says the lower bound on real data can be trusted to about as much (the paper's argument).

The chains move in a standard normal latent u: a run drawn from the uniform prior on [−1, 1]^d decodes
z = 2Φ(u) − 1, which leaves p(x) unchanged (z has exactly its prior).  HMC (Neal 2011) takes ``leapfrog`` steps of a
size kept per chain near an acceptance of 0.65 (×1.02 after an acceptance probability above it, ×0.98 below;
adapting from the chain's past keeps every transition invariant, so the weights stay valid).  The schedule is
sigmoidal in t (Grosse et al.'s), dense at both ends where log p(x | z) changes fastest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

__all__ = ["DecoderModel", "ais", "sigmoid_schedule", "gaussian_log_likelihood", "log_mean_exp"]

TARGET_ACCEPTANCE = 0.65
INITIAL_STEP = 0.05


@dataclass
class DecoderModel:
    """What annealed importance sampling needs of a model: ``decode`` (u: (N, latent), a standard normal latent →
    the parameters of p(x | z)), ``log_likelihood`` ((parameters, targets) → log p(x | z) per row, (N,)),
    ``simulate`` ((parameters, generator) → x ~ p(x | z), for bidirectional Monte Carlo), ``latent`` and
    ``modules``."""

    decode: Callable[[Tensor], Tensor]
    log_likelihood: Callable[[Tensor, Tensor], Tensor]
    simulate: Callable[[Tensor, torch.Generator], Tensor]
    latent: int
    modules: tuple = ()  # the networks ``decode`` runs, put in eval mode while a run's likelihood is estimated


def gaussian_log_likelihood(mean: Tensor, target: Tensor, sigma: float) -> Tensor:
    """log N(target; mean, σ²I) summed over each row's dimensions: (N,)."""
    d = mean[0].numel()
    r = ((target - mean) / sigma).flatten(1)
    return -0.5 * r.pow(2).sum(1) - d * (math.log(sigma) + 0.5 * math.log(2 * math.pi))


def sigmoid_schedule(steps: int, delta: float = 4.0) -> Tensor:
    """β_0 = 0 < β_1 < … < β_steps = 1 (float64), spaced as a logistic sigmoid over [−δ, δ] rescaled to [0, 1]."""
    if steps < 1:
        raise ValueError("the schedule needs at least one step")
    s = torch.sigmoid(torch.linspace(-delta, delta, steps + 1, dtype=torch.float64))
    return (s - s[0]) / (s[-1] - s[0])


def log_mean_exp(x: Tensor, dim: int = 0) -> Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def _value_and_grad(model: DecoderModel, u: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """log p(x | z(u)) per chain and its gradient in u (the decoder's weights are left without gradients)."""
    with torch.enable_grad():
        u = u.detach().requires_grad_(True)
        ll = model.log_likelihood(model.decode(u), target)
        (grad,) = torch.autograd.grad(ll.sum(), u)
    return ll.detach(), grad


def _hmc(model: DecoderModel, target: Tensor, beta: float, u: Tensor, ll: Tensor, grad: Tensor, step: Tensor,
         leapfrog: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One HMC transition leaving p(u) p(x | u)^β invariant, per chain; the step sizes adapted after it.  Returns
    (u, log p(x | u), its gradient, the acceptance probabilities)."""
    eps = step[:, None]
    p = torch.randn(u.shape, generator=generator).to(u.device)
    energy0 = 0.5 * u.pow(2).sum(1) - beta * ll + 0.5 * p.pow(2).sum(1)
    q, q_ll, q_grad = u, ll, grad
    p = p - 0.5 * eps * (q - beta * q_grad)  # ∇U = u − β ∇ log p(x | u)
    for i in range(leapfrog):
        q = q + eps * p
        q_ll, q_grad = _value_and_grad(model, q, target)
        p = p - (eps if i < leapfrog - 1 else 0.5 * eps) * (q - beta * q_grad)
    energy1 = 0.5 * q.pow(2).sum(1) - beta * q_ll + 0.5 * p.pow(2).sum(1)
    accept_p = torch.exp(torch.clamp(energy0 - energy1, max=0.0))
    accept_p = torch.where(torch.isfinite(accept_p), accept_p, torch.zeros_like(accept_p))  # a diverged path: no
    accept = torch.rand(accept_p.shape, generator=generator).to(u.device) < accept_p
    keep = accept[:, None]
    step.mul_(torch.where(accept_p > TARGET_ACCEPTANCE, 1.02, 0.98))
    return (torch.where(keep, q, u), torch.where(accept, q_ll, ll), torch.where(keep, q_grad, grad), accept_p)


def ais(model: DecoderModel, target: Tensor, chains: int, steps: int, leapfrog: int = 5, seed: int = 0,
        start: Tensor | None = None, on_step: Callable[[], None] | None = None) -> dict[str, Tensor]:
    """Annealed importance sampling of log p(x) for each row of ``target`` (B, …), ``chains`` chains each, over a
    sigmoid schedule of ``steps`` distributions.

    Forward (``start`` None): chains start from the prior; returns ``log_w`` (chains, B), ``estimate`` (B,) =
    log-mean-exp of the weights (a stochastic lower bound on log p(x)).  Reverse (``start``: (B, latent), an exact
    posterior sample of each row, as simulated data has): chains run from β = 1 to 0 and ``estimate`` is minus
    the log-mean-exp of the reverse weights (a stochastic upper bound).  Also ``acceptance``: the mean acceptance
    probability over all transitions.  ``on_step`` is called after each of the ``steps`` distributions."""
    device = target.device
    b = target.shape[0]
    g = torch.Generator().manual_seed(seed)
    targets = target.repeat(chains, *[1] * (target.dim() - 1))  # chain-major: row c·B + i is chain c of image i
    betas = sigmoid_schedule(steps).tolist()
    reverse = start is not None
    if reverse:
        u = start.to(device).float().repeat(chains, 1)
    else:
        u = torch.randn((chains * b, model.latent), generator=g).to(device)
    ll, grad = _value_and_grad(model, u, targets)
    step = torch.full((chains * b,), INITIAL_STEP, device=device)
    log_w = torch.zeros(chains * b, dtype=torch.float64, device=device)
    accepted, moves = 0.0, 0
    order = range(steps, 0, -1) if reverse else range(1, steps + 1)
    for n, t in enumerate(order):
        # forward: f_t(u) / f_{t−1}(u) at the chain's state, then a move at β_t; reverse: f_{t−1} / f_t, then β_{t−1}
        gain, move_at = (betas[t - 1] - betas[t], betas[t - 1]) if reverse else (betas[t] - betas[t - 1], betas[t])
        log_w += gain * ll.double()
        if n < steps - 1:
            u, ll, grad, acc = _hmc(model, targets, move_at, u, ll, grad, step, leapfrog, g)
            accepted += float(acc.mean())
            moves += 1
        if on_step is not None:
            on_step()
    log_w = log_w.view(chains, b)
    estimate = -log_mean_exp(log_w) if reverse else log_mean_exp(log_w)
    return {"log_w": log_w.cpu(), "estimate": estimate.cpu(), "acceptance": torch.tensor(accepted / max(moves, 1))}


# --- a run's held-out log-likelihood --------------------------------------------------------------------------

SIGMAS = (0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3)  # σ on pixels in [0, 1], chosen on validation images
_ROWS_PER_PASS = 512  # chains × images decoded together
_VALIDATION_IMAGES, _VALIDATION_STEPS, _VALIDATION_CHAINS = 16, 300, 2


def _batches(n: int, chains: int) -> int:
    return max(1, min(n, _ROWS_PER_PASS // chains))


def _run(model: DecoderModel, targets: Tensor, chains: int, steps: int, leapfrog: int, seed: int, device,
         bar=None, starts: Tensor | None = None) -> tuple[Tensor, float]:
    """Every row of ``targets`` through :func:`ais` in batches: (estimates, mean acceptance)."""
    per = _batches(len(targets), chains)
    out, acc = [], []
    for i in range(0, len(targets), per):
        r = ais(model, targets[i:i + per].to(device), chains, steps, leapfrog, seed + i,
                None if starts is None else starts[i:i + per], on_step=None if bar is None else bar.update)
        out.append(r["estimate"])
        acc.append(float(r["acceptance"]))
    return torch.cat(out), sum(acc) / len(acc)


def choose_sigma(exp, validation: Tensor, leapfrog: int, sigmas: tuple[float, ...] = SIGMAS,
                 progress: bool = False) -> tuple[float, dict[str, float]]:
    """The σ under which a short annealing (300 distributions, 2 chains) gives the ``validation`` images (in
    [−1, 1]) the highest mean log-likelihood, and each σ tried with its mean: the grid ``sigmas``, widened by
    factors of 1.5 (within 0.002 … 1) while its best is at an end of it."""
    from ..families.base import eval_mode
    from ..runs import progress_bar

    scores: dict[float, float] = {}
    per = _batches(len(validation), _VALIDATION_CHAINS)
    bar = progress_bar(len(sigmas) * -(-len(validation) // per) * _VALIDATION_STEPS, "ais: choosing σ", "step",
                       disable=not progress)

    def score(sigma: float) -> None:
        model, to_target, _ = exp.likelihood_model(sigma)
        with eval_mode(*model.modules):
            est, _ = _run(model, to_target(validation), _VALIDATION_CHAINS, _VALIDATION_STEPS, leapfrog, 7,
                          exp.device, bar)
        scores[sigma] = float(est.mean())

    try:
        for sigma in sigmas:
            score(sigma)
        while True:
            tried = sorted(scores)
            best = max(tried, key=scores.get)
            wider = best * 1.5 if best == tried[-1] else best / 1.5 if best == tried[0] else None
            if wider is None or not 0.002 <= wider <= 1.0:
                break
            bar.total += -(-len(validation) // per) * _VALIDATION_STEPS
            score(round(wider, 4))
    finally:
        bar.close()
    return best, {f"{s:g}": scores[s] for s in sorted(scores)}


@torch.no_grad()
def evaluate_ais(exp, images: int = 100, chains: int = 4, steps: int = 1000, leapfrog: int = 5,
                 sigma: float | None = None, bdmc: int = 0, progress: bool = False, seed: int = 0) -> dict:
    """log p(x) of the first ``images`` held-out images of the run (nats per image, mean and standard error) by
    annealed importance sampling, ``chains`` chains per image over ``steps`` distributions.  A generator without
    a likelihood of its own gets Gaussian noise of width ``sigma`` (None: the best of :data:`SIGMAS` on 16
    validation images, MNIST's training digits 50,000–59,999 for MNIST data, else held-out images after the
    scored ones).  ``bdmc`` > 0: as many images simulated from the model, each scored forward and backward
    (bidirectional Monte Carlo): the mean gap between the upper and the lower bound says how far the schedule
    leaves the forward estimate from the truth."""
    from ..families.base import eval_mode
    from ..runs import RunError, progress_bar
    from .images import reference_set

    if min(images, chains, steps, leapfrog) < 1 or bdmc < 0:
        raise RunError("ais needs at least one image, chain, step and leapfrog step (and --bdmc ≥ 0)")
    sampler, what = reference_set(exp)
    ds = sampler.dataset
    n = min(images, len(ds))
    x = ds.to_float(torch.arange(n))
    out: dict = {"step": exp.step}
    own = True
    try:
        exp.likelihood_model(None)
    except RunError:
        own = False
    if not own and sigma is None:
        if exp.cfg.data == "mnist":
            from ..data.images import ImageSampler, load_mnist

            val = ImageSampler("mnist", exp.cfg.image_size, base=load_mnist(train=True)).dataset
            validation = val.to_float(torch.arange(50_000, 50_000 + _VALIDATION_IMAGES))
            where = "MNIST training digits 50,000–50,015"
        elif len(ds) >= n + _VALIDATION_IMAGES:
            validation = ds.to_float(torch.arange(n, n + _VALIDATION_IMAGES))
            where = f"images {n}–{n + _VALIDATION_IMAGES - 1} of {what}"
        else:
            raise RunError(f"{what} has {len(ds)} images, too few to choose σ on images not scored: give "
                           "--ais-sigma S (pixels in [0, 1]) or fewer --ais-images")
        sigma, scores = choose_sigma(exp, validation, leapfrog, progress=progress)
        out["ais_sigma_chosen_on"] = (f"{where}: the σ of {', '.join(map(str, scores))} with the highest mean "
                                      f"log-likelihood under {_VALIDATION_STEPS} distributions, "
                                      f"{_VALIDATION_CHAINS} chains")
        out["ais_sigma_scores"] = scores
    model, to_target, protocol = exp.likelihood_model(sigma)
    per = _batches(n, chains)
    total = -(-n // per) * steps + (2 * -(-bdmc // _batches(bdmc, chains)) * steps if bdmc else 0)
    bar = progress_bar(total, f"ais, {steps} distributions", "step", disable=not progress, log_every=60.0)
    try:
        with eval_mode(*model.modules):
            est, acc = _run(model, to_target(x), chains, steps, leapfrog, seed, exp.device, bar)
            out.update({"ais_ll": float(est.mean()), "ais_se": float(est.std() / math.sqrt(n)) if n > 1 else math.nan,
                        "ais_images": n, "ais_chains": chains, "ais_steps": steps, "ais_leapfrog": leapfrog,
                        "ais_acceptance": round(acc, 3)})
            if sigma is not None:
                out["ais_sigma"] = sigma
            out["ais_protocol"] = (f"the first {n} images of {what}; {protocol}; {chains} chains × {steps} "
                                   f"distributions (sigmoid schedule), HMC with {leapfrog} leapfrog steps; "
                                   "a stochastic lower bound, nats per image")
            if bdmc:
                g = torch.Generator().manual_seed(seed + 1)
                z = torch.randn((bdmc, model.latent), generator=g)
                sim = model.simulate(model.decode(z.to(exp.device)), g)
                lower, _ = _run(model, sim, chains, steps, leapfrog, seed + 2, exp.device, bar)
                upper, _ = _run(model, sim, chains, steps, leapfrog, seed + 3, exp.device, bar, starts=z)
                out.update({"bdmc_images": bdmc, "bdmc_lower": float(lower.mean()), "bdmc_upper": float(upper.mean()),
                            "bdmc_gap": float((upper - lower).mean())})
    finally:
        bar.close()
    return out
