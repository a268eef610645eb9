"""One live lab session: a 2-D run built and stepped by the trainer's own code, and the frames the page draws.

The session resolves its settings as ``saddlepoint train`` does (the lab's base recipe, then the settings as
``key=value`` overrides), builds the family with :func:`saddlepoint.trainer.build` and steps it with
:func:`saddlepoint.trainer.advance`, so the same seed and settings give the same trajectory as a run.  Stepping
one player alone (GAN family) uses the schedule's :func:`~saddlepoint.schedule.critic_step` and
:func:`~saddlepoint.schedule.generator_step`.  Drawing a frame reads the players and never touches the training
streams (fixed noise, fixed real points, no random numbers)."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import TrainConfig, resolve_config
from ..data import GaussianMixture2D
from ..keys import ConfigError

__all__ = ["LabSession", "LAB_KEYS", "BASE", "LabError"]

# Every session starts from its family's 2-D recipe (FAMILIES), with no learning-rate decay (a lab has no end) and
# no evaluation.
BASE = {"steps": 1_000_000, "lr_decay": "none", "eval_every": 0, "log_every": 100, "checkpoint_every": 1_000_000,
        "batch_size": 256}
# What the page may set: key → kind ("choice" keys list their values from the config's Literal or registries).
LAB_KEYS = ("family", "data", "game", "schedule", "critic_steps", "optimizer", "lr_g", "lr_d", "beta1", "beta2",
            "momentum", "gradient_penalty", "r1", "weight_clip", "spectral_norm", "z_dim", "noise", "g_layers",
            "g_hidden", "d_layers", "d_hidden", "batch_size", "seed", "mmd")
FAMILIES = {"gan": "grid25", "gmmn": "gmmn-grid25", "vae": "grid25-vae"}  # family → the base recipe it starts from
DATA = ("ring8", "grid25", "moons", "spiral", "checkerboard", "lines")

N_POINTS = 512  # real and generated points drawn
MAX_DRAWN = 1000  # points a user may draw
HEAT = 48  # heat-map cells a side
ARROWS = 96


class LabError(ValueError):
    """A setting or an action the session refuses (one line for the page)."""


def choices(cfg: TrainConfig | None = None) -> dict[str, Any]:
    """What the page offers for each setting the run's family reads: its value in ``cfg`` (default: the key's
    default) and, for choice keys, the choices."""
    import typing

    from ..games import GAMES

    from ..keys import SECTIONS

    fields = TrainConfig.__dataclass_fields__
    family = cfg.family if cfg is not None else "gan"
    foreign = {n for sec in SECTIONS.values() if sec.family not in (None, family) for n in sec.names}
    out: dict[str, Any] = {}
    for k in LAB_KEYS:
        if k in foreign:  # another family's key: the page does not offer it
            continue
        options = typing.get_args(typing.get_type_hints(TrainConfig)[k])
        if k == "family":
            options = FAMILIES
        elif k == "data":
            options = DATA + ((cfg.data,) if cfg is not None and cfg.data not in DATA else ())  # drawn points
        elif k == "game":
            options = tuple(sorted(GAMES))
        value = getattr(cfg, k) if cfg is not None else fields[k].default
        out[k] = {"value": list(value) if isinstance(value, tuple) else value, "options": list(options) or None}
    return out


class LabSession:
    """Settings (overrides of the base recipe) → a built family, stepped on demand, drawn as frames."""

    def __init__(self, settings: dict[str, Any] | None = None, points_dir: str | Path | None = None):
        self.settings: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.points_dir = Path(points_dir).resolve() if points_dir is not None else None
        self.configure(settings or {})

    def drawn_points_file(self, points: list[list[float]]) -> str:
        """Write points drawn on the page as a CSV in the session's points folder; its path (a ``data`` value)."""
        import hashlib

        if self.points_dir is None:
            raise LabError("this session keeps no drawn points (no folder for them)")
        if not 2 <= len(points) <= MAX_DRAWN:
            raise LabError(f"draw from 2 to {MAX_DRAWN} points (got {len(points)})")
        ok = all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                             and math.isfinite(v) and abs(v) < 1e3 for v in p)
                 for p in points)
        if not ok:
            raise LabError("each drawn point is [x, y], two finite numbers under 1000 in size")
        text = "x,y\n" + "".join(f"{float(x):.5g},{float(y):.5g}\n" for x, y in points)
        self.points_dir.mkdir(parents=True, exist_ok=True)
        path = self.points_dir / f"points-{hashlib.sha256(text.encode()).hexdigest()[:12]}.csv"
        path.write_text(text)
        return str(path)

    # --- settings ---------------------------------------------------------------------------------------------
    def overrides(self, settings: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(settings) - set(LAB_KEYS))
        if unknown:
            raise LabError(f"the lab has no setting {unknown[0]!r}; it sets {', '.join(LAB_KEYS)}")
        if settings.get("family", "gan") not in FAMILIES:
            raise LabError(f"family {settings['family']!r} does not run in the lab; choose {', '.join(FAMILIES)}")
        data = settings.get("data", "grid25")
        drawn = (self.points_dir is not None and isinstance(data, str) and data.endswith(".csv")
                 and Path(data).resolve().parent == self.points_dir)
        if data not in DATA and not drawn:
            raise LabError(f"data {data!r} is not 2-D; choose one of {', '.join(DATA)} or draw points")
        ov = dict(BASE)
        family = settings.get("family", "gan")
        if family != "gan":  # the base recipe's critic keys belong to the GAN family
            ov.update({"family": family})
        ov.update(settings)
        return ov

    def configure(self, settings: dict[str, Any]) -> None:
        """Build a fresh session from ``settings`` (the old one is kept if they are refused)."""
        from ..trainer import build

        ov = self.overrides(settings)
        try:
            with warnings.catch_warnings():  # the page's sgd drops the base recipe's Adam betas: expected here
                warnings.filterwarnings("ignore", message="optimizer=sgd: recipe")
                _, cfg = resolve_config(self.base_recipe(ov), [f"{k}={_text(v)}" for k, v in ov.items()])
        except ConfigError as e:
            raise LabError(str(e)) from None
        model = build(cfg)
        self.cfg, self.model, self.settings = cfg, model, dict(settings)
        self.history = []
        data = model.data
        self.real = data.sample(N_POINTS, torch.Generator().manual_seed(12345))  # drawn, never trained on
        self.z = model.noise(N_POINTS, torch.Generator().manual_seed(54321))
        self.limits = data.limits

    @staticmethod
    def base_recipe(ov: dict[str, Any]) -> str:
        return FAMILIES[ov.get("family", "gan")]

    @property
    def has_critic(self) -> bool:
        return self.model.has_critic

    # --- steps ------------------------------------------------------------------------------------------------
    def step(self, which: str = "both", n: int = 1) -> None:
        from ..trainer import advance

        if which not in ("both", "critic", "generator"):
            raise LabError(f"step what? 'both', 'critic' or 'generator', not {which!r}")
        if which != "both" and not self.has_critic:
            raise LabError(f"a {self.cfg.family} run has no critic: its players step together ('both')")
        m = self.model
        for _ in range(n):
            logs = advance(m) if which == "both" else m.player_step(which)
            row = {k: float(v) for k, v in logs.items() if k.startswith("loss/")}
            if not all(math.isfinite(v) for v in row.values()):
                raise LabError("a loss turned NaN or infinite: lower the learning rates or reset")
            self.history.append({"step": m.step, "critic_steps": self.critic_steps, **row})
        del self.history[:-600]

    @property
    def critic_steps(self) -> int:
        return self.model.critic_steps_taken

    # --- frames -----------------------------------------------------------------------------------------------
    def frame(self) -> dict[str, Any]:
        """Everything the page draws, in data units, as plain numbers."""
        m = self.model
        fake = m.run_sampler(self.z)
        out: dict[str, Any] = {
            "type": "frame", "step": m.step, "critic_steps": self.critic_steps, "family": self.cfg.family,
            "has_critic": self.has_critic, "limits": list(self.limits),
            "real": _round(self.real), "fake": _round(fake),
            "losses": self.history[-300:], "divergences": divergences(self.real, fake, self.model.data),
            "manifold": self.manifold(), "z_dim": self.cfg.z_dim,
        }
        if self.has_critic:
            out["heat"], out["arrows"] = self.critic_picture(fake)
        return out

    def manifold(self) -> list[list[list[float]]]:
        """The generator's image of a grid in z (1-D: one curve; 2-D: the grid's lines), as polylines."""
        from ..sampling import manifold_lines

        return [_round(line) for line in manifold_lines(self.model)]

    def critic_picture(self, fake: torch.Tensor) -> tuple[dict[str, Any], list[list[float]]]:
        """The critic's score on a grid over the plane, and −∇x of the generator's loss at generated points."""
        lo, hi = self.limits
        axis = torch.linspace(lo, hi, HEAT)
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
        score, _ = self.model.critic_field(grid, force=False)
        _, force = self.model.critic_field(fake[:ARROWS])
        arrows = torch.cat([fake[:ARROWS], force], 1)
        return ({"n": HEAT, "values": [round(float(v), 4) for v in score.reshape(-1)], "min": float(score.min()),
                 "max": float(score.max())}, _round(arrows))

    # --- save -------------------------------------------------------------------------------------------------
    def save(self, runs_root: Path) -> dict[str, str]:
        """The session as a run directory (config, checkpoint, pictures) and the recipe YAML that trains it again."""
        import yaml

        from ..runs import create_run_dir, write_json_atomic, write_yaml
        from ..trainer import save_checkpoint_of

        m = self.model
        run_dir = create_run_dir(None, "lab", runs_root)
        ov = self.overrides(self.settings)
        cfg_dict = self.cfg.to_dict()
        cfg_dict["steps"] = max(m.step, 1)
        # Every key, so the file trains on its own (a recipe file is not laid over the lab's base recipe).
        recipe = {"description": f"saved from the live lab at generator step {m.step} (critic steps "
                                 f"{self.critic_steps}); the lab's settings: "
                                 + ", ".join(f"{k}={_text(v)}" for k, v in self.settings.items()), **cfg_dict}
        write_yaml(run_dir / "config.yaml", cfg_dict)
        write_json_atomic(run_dir / "run.json", {"recipe": "lab", **m.run_info(), "precision": "fp32",
                                                 "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                 "lab": {"critic_steps": self.critic_steps,
                                                         "base_recipe": self.base_recipe(ov)}})
        save_checkpoint_of(m, run_dir)
        m.save_picture(run_dir / "samples.png", None, f"lab, step {m.step}")
        m.extra_pictures(run_dir, f"lab, step {m.step}")
        recipe_path = run_dir / "recipe.yaml"
        recipe_path.write_text(f"# train it again: saddlepoint train {recipe_path}\n"
                               + yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
        return {"run": str(run_dir), "recipe": str(recipe_path)}


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _round(t: torch.Tensor) -> list[list[float]]:
    return [[round(float(a), 4) for a in row] for row in t.detach().float().cpu()]


def divergences(real: torch.Tensor, fake: torch.Tensor, data: Any) -> dict[str, float | None]:
    """Live estimates between the drawn real and generated points: JS and KL(real‖fake) on a 24×24 histogram
    (a little mass added to every cell, so KL stays finite), W1 by POT's exact solver on 256 points a side, MMD²
    (Gaussian kernels of widths 0.25 and 1 in the players' units, 256 points a side), and the PacGAN protocol's mode coverage where the data is a mixture."""
    import ot

    from ..divergences import mmd2
    from ..metrics import mode_coverage

    real, fake = real.double(), fake.double()
    lo = float(torch.minimum(real.min(), fake.min()))
    hi = float(torch.maximum(real.max(), fake.max()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return {"js": None, "kl": None, "w1": None, "mmd2": None}
    edges = np.linspace(lo, hi + 1e-9, 25)
    p = np.histogram2d(real[:, 0].numpy(), real[:, 1].numpy(), [edges, edges])[0].ravel() + 0.5
    q = np.histogram2d(fake[:, 0].numpy(), fake[:, 1].numpy(), [edges, edges])[0].ravel() + 0.5
    p, q = p / p.sum(), q / q.sum()
    mix = 0.5 * (p + q)
    kl = float(np.sum(p * np.log(p / q)))
    js = float(0.5 * np.sum(p * np.log(p / mix)) + 0.5 * np.sum(q * np.log(q / mix)))
    a, b = real[:256].numpy(), fake[:256].numpy()
    w1 = float(ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), ot.dist(a, b, metric="euclidean")))
    scale = getattr(data, "scale", 1.0)
    out: dict[str, float | None] = {"js": js, "kl": kl, "w1": w1,
                                    "mmd2": float(mmd2(real[:256] / scale, fake[:256] / scale, (0.25, 1.0)))}
    if isinstance(data, GaussianMixture2D):
        cov = mode_coverage(fake, data.means_tensor, data.std)
        out["modes"] = float(cov["modes"])
        out["modes_of"] = len(data.means)
        out["high_quality"] = float(cov["high_quality"])
    return out
