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

**A discrete latent** k beside z (a class-conditional generator's label, InfoGAN's categorical code, the member of a
mixture of snapshots) is not annealed: each chain runs given one k.  Given the image's own label it estimates
p(x | y); given each of the K values in turn, the mean of the K estimates (each unbiased for p(x | k)) is an unbiased
estimate of p(x) = (1/K) Σ_k p(x | k) under the uniform prior the generator was trained with, and Bayes' rule turns
the same numbers into p(y | x).  Continuous codes are annealed with z, as more dimensions of u.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch import Tensor

__all__ = ["DecoderModel", "LatentParts", "ais", "check_options", "evaluate_ais", "gaussian_log_likelihood",
           "log_mean_exp", "sigmoid_schedule"]

TARGET_ACCEPTANCE = 0.65
INITIAL_STEP = 0.05


class LatentParts(NamedTuple):
    """What a model is annealed over beside its z: a discrete latent k of ``components`` values with a uniform prior
    (0: none) — ``words`` say what they are, ``labelled`` whether they are the data's class labels — and
    ``continuous`` more latent dimensions (a code's continuous parts)."""

    components: int = 0
    labelled: bool = False
    continuous: int = 0
    words: str = ""


@dataclass
class DecoderModel:
    """What annealed importance sampling needs of a model: ``decode`` (u: (N, latent), a standard normal latent →
    the parameters of p(x | z)), ``log_likelihood`` ((parameters, targets) → log p(x | z) per row, (N,)),
    ``simulate`` ((parameters, generator) → x ~ p(x | z), for bidirectional Monte Carlo), ``latent`` and
    ``modules``.

    A model with a discrete latent k beside u, uniform over ``components`` values (the class of a label-conditional
    model, the member of a mixture), decodes ``decode(u, k)`` with k: (N,) int64; the annealing runs given k, and
    p(x) is the mean over k of p(x | k)."""

    decode: Callable[..., Tensor]
    log_likelihood: Callable[[Tensor, Tensor], Tensor]
    simulate: Callable[[Tensor, torch.Generator], Tensor]
    latent: int
    modules: tuple = ()  # the networks ``decode`` runs, put in eval mode while a run's likelihood is estimated
    components: int = 0  # values of the discrete latent k (0: none)

    def params(self, u: Tensor, k: Tensor | None = None) -> Tensor:
        """The parameters of p(x | u[, k])."""
        return self.decode(u) if k is None else self.decode(u, k)


def gaussian_log_likelihood(mean: Tensor, target: Tensor, sigma: float) -> Tensor:
    """log N(target; mean, σ²I) summed over each row's dimensions: (N,)."""
    return torch.distributions.Normal(mean, sigma).log_prob(target).flatten(1).sum(1)


def check_options(images: int | None = None, chains: int | None = None, steps: int | None = None,
                  sigma: float | None = None, bdmc: int | None = None, leapfrog: int | None = None) -> None:
    """:class:`RunError` in one line, named as the command line names them, for options :func:`evaluate_ais` cannot
    take (those given; None is the default)."""
    from ..runs import RunError

    counts = {"--ais-images": images, "--ais-chains": chains, "--ais-steps": steps, "leapfrog": leapfrog}
    low = [name for name, v in counts.items() if v is not None and v < 1]
    if low:
        raise RunError(f"{', '.join(low)} must be at least 1")
    if bdmc is not None and bdmc < 0:
        raise RunError(f"--bdmc {bdmc}: give 0 (none) or more simulated examples")
    if sigma is not None and not (math.isfinite(sigma) and sigma > 0):
        raise RunError(f"--ais-sigma {sigma}: give a positive width (pixels in [0, 1]), such as 0.1")


def sigmoid_schedule(steps: int, delta: float = 4.0) -> Tensor:
    """β_0 = 0 < β_1 < … < β_steps = 1 (float64), spaced as a logistic sigmoid over [−δ, δ] rescaled to [0, 1]."""
    if steps < 1:
        raise ValueError("the schedule needs at least one step")
    s = torch.sigmoid(torch.linspace(-delta, delta, steps + 1, dtype=torch.float64))
    return (s - s[0]) / (s[-1] - s[0])


def log_mean_exp(x: Tensor, dim: int = 0) -> Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def _value_and_grad(model: DecoderModel, u: Tensor, target: Tensor, k: Tensor | None) -> tuple[Tensor, Tensor]:
    """log p(x | z(u)[, k]) per chain and its gradient in u (the decoder's weights are left without gradients)."""
    with torch.enable_grad():
        u = u.detach().requires_grad_(True)
        ll = model.log_likelihood(model.params(u, k), target)
        (grad,) = torch.autograd.grad(ll.sum(), u)
    return ll.detach(), grad


def _hmc(model: DecoderModel, target: Tensor, k: Tensor | None, beta: float, u: Tensor, ll: Tensor, grad: Tensor,
         step: Tensor, leapfrog: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """One HMC transition leaving p(u) p(x | u)^β invariant, per chain.  Returns (u, log p(x | u), its gradient,
    the step sizes adapted after it, the acceptance probabilities)."""
    eps = step[:, None]
    p = torch.randn(u.shape, generator=generator).to(u.device)
    energy0 = 0.5 * u.pow(2).sum(1) - beta * ll + 0.5 * p.pow(2).sum(1)
    q, q_ll, q_grad = u, ll, grad
    p = p - 0.5 * eps * (q - beta * q_grad)  # ∇U = u − β ∇ log p(x | u)
    for i in range(leapfrog):
        q = q + eps * p
        q_ll, q_grad = _value_and_grad(model, q, target, k)
        p = p - (eps if i < leapfrog - 1 else 0.5 * eps) * (q - beta * q_grad)
    energy1 = 0.5 * q.pow(2).sum(1) - beta * q_ll + 0.5 * p.pow(2).sum(1)
    accept_p = torch.exp(torch.clamp(energy0 - energy1, max=0.0))
    accept_p = torch.where(torch.isfinite(accept_p), accept_p, torch.zeros_like(accept_p))  # a diverged path: no
    accept = torch.rand(accept_p.shape, generator=generator).to(u.device) < accept_p
    keep = accept[:, None]
    step = step * torch.where(accept_p > TARGET_ACCEPTANCE, 1.02, 0.98)
    return (torch.where(keep, q, u), torch.where(accept, q_ll, ll), torch.where(keep, q_grad, grad), step, accept_p)


def ais(model: DecoderModel, target: Tensor, chains: int, steps: int, leapfrog: int = 5, seed: int = 0,
        start: Tensor | None = None, on_step: Callable[[Callable[[], dict]], None] | None = None,
        resume: dict[str, Tensor] | None = None, component: Tensor | None = None) -> dict[str, Tensor]:
    """Annealed importance sampling of log p(x) for each row of ``target`` (B, …), ``chains`` chains each, over a
    sigmoid schedule of ``steps`` distributions.

    Forward (``start`` None): chains start from the prior; returns ``log_w`` (chains, B), ``estimate`` (B,) =
    log-mean-exp of the weights (a stochastic lower bound on log p(x)).  Reverse (``start``: (B, latent), an exact
    posterior sample of each row, as simulated data has): chains run from β = 1 to 0 and ``estimate`` is minus
    the log-mean-exp of the reverse weights (a stochastic upper bound).  Also ``acceptance``: the mean acceptance
    probability over all transitions.

    ``on_step`` is called after each distribution with a function that gives the chains' state after the last
    whole distribution (tensors; it stays right when called after an interruption); ``resume``: such a state, from
    which the same call continues to the same result (``seed`` and ``start`` are then in the state).

    ``component``: (B,) the value of a model's discrete latent (:attr:`DecoderModel.components`) each row is
    annealed given: the estimates are then of log p(x | k)."""
    device = target.device
    b = target.shape[0]
    targets = target.repeat(chains, *[1] * (target.dim() - 1))  # chain-major: row c·B + i is chain c of image i
    if (component is None) != (model.components == 0):
        raise ValueError("give a component for each row exactly when the model has a discrete latent")
    k = None if component is None else component.to(device).long().repeat(chains)
    betas = sigmoid_schedule(steps).tolist()
    reverse = start is not None
    order = list(range(steps, 0, -1)) if reverse else list(range(1, steps + 1))
    g = torch.Generator().manual_seed(seed)
    if resume is None:
        u = (start.to(device).float().repeat(chains, 1) if reverse
             else torch.randn((chains * b, model.latent), generator=g).to(device))
        ll, grad = _value_and_grad(model, u, targets, k)
        step = torch.full((chains * b,), INITIAL_STEP, device=device)
        log_w = torch.zeros(chains * b, dtype=torch.float64, device=device)
        state = (0, u, ll, grad, step, log_w, g.get_state(), 0.0, 0)
    else:
        r = {k: v.to(device) if k != "rng" else v for k, v in resume.items()}
        state = (int(r["done"]), r["u"], r["ll"], r["grad"], r["step"], r["log_w"], r["rng"], float(r["accepted"]),
                 int(r["moves"]))
        g.set_state(r["rng"])

    def snapshot() -> dict[str, Tensor]:
        done, u, ll, grad, step, log_w, rng, accepted, moves = state
        return {"done": torch.tensor(done), "u": u, "ll": ll, "grad": grad, "step": step, "log_w": log_w, "rng": rng,
                "accepted": torch.tensor(accepted, dtype=torch.float64), "moves": torch.tensor(moves)}

    done, u, ll, grad, step, log_w, _, accepted, moves = state
    for n in range(done, steps):
        t = order[n]
        # forward: f_t(u) / f_{t−1}(u) at the chain's state, then a move at β_t;
        # reverse: f_{t−1} / f_t, then a move at β_{t−1}
        gain, move_at = (betas[t - 1] - betas[t], betas[t - 1]) if reverse else (betas[t] - betas[t - 1], betas[t])
        log_w = log_w + gain * ll.double()
        if n < steps - 1:
            u, ll, grad, step, acc = _hmc(model, targets, k, move_at, u, ll, grad, step, leapfrog, g)
            accepted += float(acc.mean())
            moves += 1
        state = (n + 1, u, ll, grad, step, log_w, g.get_state(), accepted, moves)  # one assignment: never half
        if on_step is not None:
            on_step(snapshot)
    log_w = log_w.view(chains, b)
    estimate = -log_mean_exp(log_w) if reverse else log_mean_exp(log_w)
    return {"log_w": log_w.cpu(), "estimate": estimate.cpu(), "acceptance": torch.tensor(accepted / max(moves, 1))}


# --- a run's held-out log-likelihood --------------------------------------------------------------------------

SIGMAS = (0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3)  # σ on pixels in [0, 1], chosen on validation images
_ROWS_PER_PASS = 512  # chains × images decoded together
# σ is chosen on 16 validation examples, one chain each, under the estimate's own schedule: a shorter annealing
# errs lower the smaller σ is (a sharper posterior), and would choose too wide a noise
_VALIDATION_IMAGES, _VALIDATION_CHAINS = 16, 1
SAVE_EVERY_S = 30.0  # how often a long estimate keeps its work (evaluate_ais's ``partial``)


def _batches(n: int, chains: int) -> int:
    return max(1, min(n, _ROWS_PER_PASS // chains))


def _jobs(targets: Tensor, chains: int, seed: int, starts: Tensor | None = None,
          components: Tensor | None = None) -> list[tuple]:
    """``targets`` cut into batches for :func:`_anneal`: (targets, seed, starts, components) each."""
    per = _batches(len(targets), chains)
    return [(targets[i:i + per], seed + i, *(None if a is None else a[i:i + per] for a in (starts, components)))
            for i in range(0, len(targets), per)]


def _anneal(model: DecoderModel, jobs: list[tuple], chains: int, steps: int, leapfrog: int, device, bar=None,
            keep: Callable[[dict], None] | None = None, kept: dict | None = None) -> list[tuple[Tensor, float]]:
    """(estimates, acceptance) of each job through :func:`ais`.  ``keep(tensors)``: called every
    :data:`SAVE_EVERY_S` seconds and when interrupted with what is done (the finished jobs and the chains' state
    in the one under way); ``kept``: such tensors, to continue from them to the same results."""
    done: list[tuple[Tensor, float]] = []
    current = None
    if kept:
        done = [(kept[f"job{j}/estimate"], float(kept[f"job{j}/acceptance"])) for j in range(int(kept["jobs_done"]))]
        current = {k[len("current/"):]: v for k, v in kept.items() if k.startswith("current/")} or None
        if bar is not None:
            bar.update(len(done) * steps + (int(current["done"]) if current else 0))
    progress = (done, None)  # (finished jobs, the running one's snapshot): replaced whole, never half updated
    saved = time.monotonic()

    def tensors() -> dict:
        finished, snap = progress
        out = {"jobs_done": torch.tensor(len(finished))}
        for j, (est, acc) in enumerate(finished):
            out[f"job{j}/estimate"], out[f"job{j}/acceptance"] = est, torch.tensor(acc)
        if snap is not None:
            out.update({f"current/{k}": v for k, v in snap().items()})
        return out

    def on_step(snap) -> None:
        nonlocal progress, saved
        progress = (progress[0], snap)
        if bar is not None:
            bar.update()
        if keep is not None and time.monotonic() - saved >= SAVE_EVERY_S:
            keep(tensors())
            saved = time.monotonic()

    try:
        for j in range(len(done), len(jobs)):
            targets, seed, starts, components = jobs[j]
            r = ais(model, targets.to(device), chains, steps, leapfrog, seed, starts, on_step, current, components)
            current = None
            progress = (progress[0] + [(r["estimate"], float(r["acceptance"]))], None)
    except BaseException:
        if keep is not None and (progress[0] or progress[1] is not None):
            keep(tensors())
        raise
    return progress[0]


def _run(model: DecoderModel, targets: Tensor, chains: int, steps: int, leapfrog: int, seed: int, device,
         bar=None, components: Tensor | None = None) -> tuple[Tensor, float]:
    """Every row of ``targets`` (given its ``components``) through :func:`ais` in batches: (estimates, mean
    acceptance)."""
    results = _anneal(model, _jobs(targets, chains, seed, components=components), chains, steps, leapfrog, device,
                      bar)
    return torch.cat([e for e, _ in results]), sum(a for _, a in results) / len(results)


def choose_sigma(exp, validation: Tensor, steps: int, leapfrog: int, sigmas: tuple[float, ...] = SIGMAS,
                 progress: bool = False, components: Tensor | None = None, summed: int = 0,
                 scored: dict[float, float] | None = None,
                 keep: Callable[[dict[float, float]], None] | None = None) -> tuple[float, dict[str, float]]:
    """The σ under which an annealing over ``steps`` distributions (one chain each) gives the ``validation`` data
    (in data units; given their ``components``, or with ``summed`` = K: the mean over the K values of a discrete
    latent) the highest mean log-likelihood, and each σ tried with its mean: the grid ``sigmas``, widened by
    factors of 1.5 (within 0.002 … 1) while its best is at an end of it.  ``keep(scores)`` is called after each σ
    with the scores so far; ``scored``: such scores, which are not annealed again (the search continues where it
    stopped)."""
    from ..families.base import eval_mode
    from ..runs import progress_bar

    scores: dict[float, float] = dict(scored or {})
    n = len(validation)
    if summed:  # each example given each value, value-major
        validation = validation.repeat(summed, *[1] * (validation.dim() - 1))
        components = torch.arange(summed).repeat_interleave(n)
    per = _batches(len(validation), _VALIDATION_CHAINS)
    each = -(-len(validation) // per) * steps
    bar = progress_bar(len(sigmas) * each, "ais: choosing σ", "step", disable=not progress)

    def score(sigma: float) -> None:
        if sigma in scores:  # scored before an interruption
            bar.update(each)
            return
        model, to_target, _ = exp.likelihood_model(sigma)
        with eval_mode(*model.modules):
            est, _ = _run(model, to_target(validation), _VALIDATION_CHAINS, steps, leapfrog, 7, exp.device, bar,
                          components)
        if summed:
            est = log_mean_exp(est.view(summed, n))
        scores[sigma] = float(est.mean())
        if keep is not None:
            keep(scores)

    try:
        for sigma in sigmas:
            score(sigma)
        while True:
            tried = sorted(scores)
            best = max(tried, key=scores.get)
            wider = best * 1.5 if best == tried[-1] else best / 1.5 if best == tried[0] else None
            if wider is None or not 0.002 <= wider <= 1.0:
                break
            bar.total += each
            score(round(wider, 4))
    finally:
        bar.close()
    return best, {f"{s:g}": scores[s] for s in sorted(scores)}


def _chosen_words(where: str, scores: dict[str, float], steps: int) -> dict:
    return {"ais_sigma_chosen_on": f"{where}: the σ of {', '.join(scores)} with the highest mean log-likelihood "
                                   f"under the same {steps} distributions, one chain each",
            "ais_sigma_scores": scores}


def _validation(exp, n: int) -> tuple[Tensor, Tensor | None, str]:
    """(the data σ is chosen on, their labels where the data has some, what they are): 2-D runs: other fresh
    draws; MNIST: training digits 50,000–50,015; other images: the held-out images after the ``n`` scored."""
    from ..families.base import EVAL_SEED
    from ..runs import RunError

    if not exp.images:
        return (exp.data.sample(_VALIDATION_IMAGES, torch.Generator().manual_seed(EVAL_SEED + 6)), None,
                f"{_VALIDATION_IMAGES} fresh draws (seed {EVAL_SEED + 6})")
    if exp.cfg.data == "mnist":
        from ..data.images import ImageSampler, load_mnist

        val = ImageSampler("mnist", exp.cfg.image_size, base=load_mnist(train=True)).dataset
        rows = torch.arange(50_000, 50_000 + _VALIDATION_IMAGES)
        return (val.to_float(rows), val.labels[rows] if val.labels is not None else None,
                "MNIST training digits 50,000–50,015")
    from .images import reference_set

    sampler, what = reference_set(exp)
    ds = sampler.dataset
    if len(ds) < n + _VALIDATION_IMAGES:
        raise RunError(f"{what} has {len(ds)} images, too few to choose σ on images not scored: give "
                       "--ais-sigma S (pixels in [0, 1]) or fewer --ais-images")
    rows = torch.arange(n, n + _VALIDATION_IMAGES)
    return (ds.to_float(rows), ds.labels[rows] if ds.labels is not None else None,
            f"images {n}–{n + _VALIDATION_IMAGES - 1} of {what}")


def _given(k: int, labelled: bool, n: int, labels: Tensor | None, what: str) -> Tensor | None:
    """The label each of ``n`` examples is annealed given when each is scored once (a label-conditional model);
    None for other models."""
    from ..runs import RunError

    if not (k and labelled):
        return None
    if labels is None:
        raise RunError(f"a label-conditional run's log p(x | y) needs labelled images, and {what} has no labels")
    return labels.long()


@torch.no_grad()
def evaluate_ais(exp, images: int = 100, chains: int = 4, steps: int = 1000, leapfrog: int = 5,
                 sigma: float | None = None, bdmc: int = 0, progress: bool = False, seed: int = 0,
                 partial: Path | None = None, marginal: bool = False) -> dict:
    """log p(x) of the first ``images`` held-out images of the run (nats per image, mean and standard error) by
    annealed importance sampling, ``chains`` chains per image over ``steps`` distributions.  A generator without
    a likelihood of its own gets Gaussian noise of width ``sigma`` (None: the best of :data:`SIGMAS` on 16
    validation images, MNIST's training digits 50,000–59,999 for MNIST data, else held-out images after the
    scored ones).  ``bdmc`` > 0: as many images simulated from the model, each scored forward and backward
    (bidirectional Monte Carlo): the mean gap between the upper and the lower bound says how far the schedule
    leaves the forward estimate from the truth.

    A label-conditional run (a cGAN, an AC-GAN, a conditional VAE) is scored given each image's own label:
    ``ais_cond_ll`` = log p(x | y).  With ``marginal`` every image is annealed once given each class, which also
    gives log p(x) = log (1/K) Σ_y p(x | y) under the uniform label prior the generator was trained with
    (``ais_ll``) and the model as a classifier by Bayes' rule: how often argmax_y p(x | y) is the image's label
    (``ais_bayes_accuracy``) and the mean log p(y | x) of that label (``ais_label_ll``) — K times the work.  A
    mixture of snapshots is always scored so (p(x) is the mean of its members'), and an InfoGAN run over the values
    of its categorical code, its continuous codes annealed with z.

    ``partial``: a file where the estimate keeps what it has done (every :data:`SAVE_EVERY_S` seconds, and when
    interrupted), so that the same call after a crash or Ctrl-C continues where it stopped, to the same numbers;
    removed once the estimate is complete."""
    from ..families.base import eval_mode
    from ..runs import RunError, fingerprint, load_work, progress_bar, save_work

    check_options(images, chains, steps, sigma, bdmc, leapfrog)
    k, labelled, _, words = exp.likelihood_parts()
    if marginal and not labelled:  # an InfoGAN's code and a mixture's members are always summed over
        raise RunError("--ais-marginal sums over a label-conditional run's classes, and this run's generator is "
                       "told no labels; leave it out")
    summed = bool(k) and (marginal or not labelled)  # every image annealed given each component, then averaged
    x, labels, what = exp.held_out(images)
    n = len(x)
    given = _given(k, labelled, n, labels, what)
    out: dict = {"step": exp.step}
    own = exp.own_likelihood
    # What the estimate is: a kept file of other work (other options, other weights) is not continued.
    about = {"work": "ais", "images": str(n), "chains": str(chains), "steps": str(steps), "leapfrog": str(leapfrog),
             "sigma": "own" if own else "auto" if sigma is None else repr(float(sigma)), "bdmc": str(bdmc),
             "seed": str(seed), "data": what, "weights": fingerprint(*exp.weights().values()),
             "components": str(k), "summed": str(summed)}
    kept = load_work(partial, about) if partial is not None else None
    chosen: dict[str, Tensor] = {}  # a σ chosen here, kept with the work

    def say_kept() -> None:
        if partial is not None and partial.exists() and progress:
            print(f"\nais: the work done is kept in {partial}; the same evaluation continues from there",
                  file=sys.stderr)

    if kept is not None and "sigma_grid" in kept:
        chosen = {name: kept.pop(name) for name in ("sigma_grid", "sigma_scores", "sigma")}
        sigma = float(chosen["sigma"])
        scores = {f"{s:g}": float(v) for s, v in zip(chosen["sigma_grid"].tolist(), chosen["sigma_scores"])}
        out.update(_chosen_words(_validation(exp, n)[2], scores, steps))
    elif not own and sigma is None:
        val_x, val_labels, where = _validation(exp, n)
        tried: dict[float, float] = {}  # the σ scored before an interruption of the search
        if kept is not None and "sigma_tried" in kept:
            tried = dict(zip(kept.pop("sigma_tried").tolist(), kept.pop("sigma_tried_scores").tolist()))

        def keep_tried(scores: dict[float, float]) -> None:
            if partial is not None:
                save_work(partial, {"sigma_tried": torch.tensor(list(scores), dtype=torch.float64),
                                    "sigma_tried_scores": torch.tensor(list(scores.values()), dtype=torch.float64)},
                          about)

        try:
            sigma, scores = choose_sigma(exp, val_x, steps, leapfrog, progress=progress,
                                         components=_given(k, labelled, len(val_x), val_labels, where),
                                         summed=k if summed and not labelled else 0, scored=tried, keep=keep_tried)
        except BaseException:
            say_kept()
            raise
        out.update(_chosen_words(where, scores, steps))
        chosen = {"sigma_grid": torch.tensor([float(s) for s in scores], dtype=torch.float64),
                  "sigma_scores": torch.tensor(list(scores.values()), dtype=torch.float64),
                  "sigma": torch.tensor(sigma, dtype=torch.float64)}
        if partial is not None:  # the choice is kept at once: a Ctrl-C after it does not ask for it again
            save_work(partial, chosen, about)
    model, to_target, protocol = exp.likelihood_model(sigma)
    targets = to_target(x)
    if summed:  # image i given component c: seeds apart for each c
        jobs = [job for c in range(k) for job in _jobs(targets, chains, seed + c * n, components=torch.full((n,), c))]
    else:
        jobs = _jobs(targets, chains, seed, components=given)
    main = len(jobs)
    if bdmc:
        g = torch.Generator().manual_seed(seed + 1)
        z = torch.randn((bdmc, model.latent), generator=g)
        sim_k = torch.arange(bdmc) % k if k else None
        with eval_mode(*model.modules):
            sim = model.simulate(model.params(z.to(exp.device), None if sim_k is None else sim_k.to(exp.device)),
                                 g).cpu()
        jobs += _jobs(sim, chains, seed + 2, components=sim_k) + _jobs(sim, chains, seed + 3, starts=z,
                                                                        components=sim_k)
    bar = progress_bar(len(jobs) * steps, f"ais, {steps} distributions", "step", disable=not progress,
                       log_every=60.0)
    if kept is not None and progress:
        print(f"ais: continuing the estimate kept in {partial}", file=sys.stderr)

    def keep(tensors: dict) -> None:
        if partial is not None:
            save_work(partial, {**tensors, **chosen}, about)

    try:
        with eval_mode(*model.modules):
            results = _anneal(model, jobs, chains, steps, leapfrog, exp.device, bar, keep, kept)
    except BaseException:
        say_kept()
        raise
    finally:
        bar.close()
    est = torch.cat([e for e, _ in results[:main]])
    acc = sum(a for _, a in results[:main]) / main

    def mean_se(v: Tensor) -> tuple[float, float]:
        return float(v.mean()), float(v.std() / math.sqrt(n)) if n > 1 else math.nan

    out.update({"ais_images": n, "ais_chains": chains, "ais_steps": steps, "ais_leapfrog": leapfrog,
                "ais_acceptance": round(acc, 3)})
    if summed:
        per = est.view(k, n)  # log p(x_i | c), one row a component
        log_px = torch.logsumexp(per, 0) - math.log(k)
        out["ais_ll"], out["ais_se"] = mean_se(log_px)
        scored = f"log p(x) = log of the mean over the {k} {words}"
        if labelled:
            cond = per.gather(0, given[None])[0]
            out["ais_cond_ll"], out["ais_cond_se"] = mean_se(cond)
            out["ais_bayes_accuracy"] = float((per.argmax(0) == given).float().mean())
            out["ais_label_ll"] = float((cond - math.log(k) - log_px).mean())
    elif labelled:
        out["ais_cond_ll"], out["ais_cond_se"] = mean_se(est)
        scored = "log p(x | y) given each image's own label"
    else:
        out["ais_ll"], out["ais_se"] = mean_se(est)
        scored = "log p(x)"
    if sigma is not None:
        out["ais_sigma"] = sigma
    out["ais_protocol"] = (f"{what}; {protocol}; {scored}; {chains} chains × {steps} distributions (sigmoid "
                           f"schedule), HMC with {leapfrog} leapfrog steps; a stochastic lower bound, nats per image")
    if bdmc:
        half = (len(results) - main) // 2
        lower = torch.cat([e for e, _ in results[main:main + half]])
        upper = torch.cat([e for e, _ in results[main + half:]])
        out.update({"bdmc_images": bdmc, "bdmc_lower": float(lower.mean()), "bdmc_upper": float(upper.mean()),
                    "bdmc_gap": float((upper - lower).mean())})
    if partial is not None:
        partial.unlink(missing_ok=True)
    return out
