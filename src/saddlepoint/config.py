"""Typed training configuration, recipes and ``key=value`` overrides.

A recipe is a YAML file of config keys (plus an optional one-line ``description``).  A run resolves its
config once, validates every key, type and range before any training, and writes the result into
the run directory as ``config.yaml``.

The keys are declared by their owners (:mod:`saddlepoint.keys`): the run, optimizer and generator keys that
every family shares are declared here; each model family declares its own next to its code.  ``TrainConfig``
gathers every section into one flat dataclass, so recipes and overrides keep flat keys (``owner.key`` is
accepted too), and a key that belongs to another family than the chosen one is refused.
"""

from __future__ import annotations

import difflib
import typing
import warnings
from dataclasses import MISSING, asdict, field, fields, make_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from . import families  # every family registers itself and declares its keys
from .keys import SECTIONS, ConfigError, config_section, key

__all__ = ["TrainConfig", "ConfigError", "resolve_config", "list_recipes", "DEFAULT_RECIPE", "describe_keys"]

DEFAULT_RECIPE = "grid25"


@config_section("run")
class RunKeys:
    """What every run has: the family, the data, the length, the machine, logging and checkpoints."""

    family: str = key("gan", "model family: gan (a generator and a critic in a game; every conditional and translation "
                             "kind) or another registered one (`saddlepoint recipes --families` lists them; `--keys` "
                             "groups the keys by owner)")
    data: str = key("grid25", "dataset: ring8, grid25, moons, spiral, checkerboard, lines, a .csv of x,y points, mnist, stacked-mnist, cifar10, a folder "
                             "or .npz path; pix2pix: edges2mnist, halves2mnist or a folder of pairs")
    seed: int = key(0, "seed for weights, noise and data order", min=0)
    init_from: str = key("", "a run directory of the same family whose networks (latest checkpoint) this run starts "
                             "from: fine-tuning, e.g. a VAE continued on the IWAE bound; optimizers, step and "
                             "schedule start afresh ('' = fresh weights)")
    steps: int = key(12000, "generator steps", min=1)
    time_limit: float = key(0.0, "minutes of training after which the run stops early, checkpointed and evaluated "
                                "(0 = none; a fixed-time budget: resume goes on towards steps)", min=0)
    batch_size: int = key(256, "samples per batch", min=1)
    device: str = key("cpu", "cpu, cuda, cuda:N or auto")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = key(
        "auto", "forward-pass precision: bf16 / fp16 autocast (fp16 with loss scaling, CUDA only) or fp32; auto = "
                "measured: the run's own players timed in fp32 and bf16 (fp16 too on CUDA), the faster taken and "
                "cached per machine; 2-D players, VAEs and GMMNs stay fp32")
    threads: int = key(0, "CPU threads for torch (0 = torch's default)", min=0)
    log_every: int = key(100, "steps between metric lines", min=1)
    eval_every: int = key(1000, "steps between in-training evaluations (mode coverage, MMD², a translation's own numbers) (0 = only at the end)", min=0)
    checkpoint_every: int = key(2000, "steps between checkpoints", min=1)
    keep_checkpoints: int = key(2, "checkpoints kept on disk, the newest; 0 keeps every one (to evaluate or sample "
                                   "a run's earlier steps later: `saddlepoint evaluate RUN --step N`)", min=0)
    sample_every: int = key(0, "steps between pictures samples-STEP.png (and TensorBoard); 0 = only samples.png at the end",
                           min=0)
    on_nonfinite: Literal["auto", "stop", "rollback"] = key(
        "auto", "a loss that turns NaN or infinite: stop (the last good checkpoint kept), or roll back to the last "
                "checkpoint with the learning rates lowered and go on; auto = rollback for image runs, stop for 2-D")
    rollback_lr_factor: float = key(0.5, "on_nonfinite=rollback: factor on every learning rate at each rollback",
                                    positive=True, max=1)
    rollback_limit: int = key(3, "on_nonfinite=rollback: rollbacks a run may take before it stops", min=0)
    collapse_alarm: float = key(0.2, "warn (log, progress bar, summary) when an evaluation's coverage — modes on "
                                     "mixtures and stacked MNIST, digit classes drawn on MNIST — falls by more than "
                                     "this fraction below its best so far (0 = off)", min=0, max=1)
    eval_samples: int = key(2500, "generated points for the final evaluation (protocol: 2500)", min=1)


@config_section("optimizer")
class OptimizerKeys:
    """The players' optimizer and the learning-rate schedule (the critic's rate, lr_d, is the GAN family's)."""

    optimizer: Literal["adam", "sgd"] = key("adam", "the players' optimizer: adam (beta1, beta2) or sgd (plain "
                                                    "gradient descent-ascent as the theory writes it; momentum)")
    lr_g: float = key(1e-3, "generator learning rate", positive=True)
    beta1: float = key(0.5, "Adam β1", min=0, max=0.999999)
    beta2: float = key(0.999, "Adam β2", min=0, max=0.999999)
    momentum: float = key(0.0, "optimizer=sgd: heavy-ball momentum (0 = plain SGD)", min=0, max=0.999999)
    lr_decay: Literal["none", "linear"] = key("linear", "learning-rate schedule over the run")


@config_section("generator")
class GeneratorKeys:
    """The generator's noise and output size, and the averaged generators that sample (EMA, mixture)."""

    z_dim: int = key(2, "latent dimension", min=1)
    noise: Literal["normal", "uniform"] = key("normal", "prior of the noise z: standard normal, or uniform on [−1, 1] "
                                                       "(the DCGAN and InfoGAN papers)")
    image_size: int = key(28, "image side in pixels (images are resized once on load)", min=4)
    ema: float = key(0.0, "decay of an exponential moving average of G's weights used for sampling and evaluation (0 = off)",
                    min=0, max=0.999999)
    ema_start: int = key(0, "steps before the average starts: until then the EMA copy follows G exactly "
                            "(BigGAN starts its average after 20k steps)", min=0)
    mixture: int = key(0, "sample and evaluate the uniform mixture of the last N snapshots of G (the EMA copy when "
                         "ema > 0), one taken every mixture_every steps: the generator's time-averaged mixed "
                         "strategy (0 = off: the last iterate)", min=0)
    mixture_every: int = key(1000, "steps between the snapshots a mixture keeps", min=1)


def _to_dict(self) -> dict[str, Any]:
    """Every key the run's family reads (the shared ones and its own; another family's keys, all at their
    defaults, are left out), YAML-safe."""
    foreign = {n for s in SECTIONS.values() if s.family not in (None, self.family) for n in s.names}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if k not in foreign}


def _validate(self) -> "TrainConfig":
    """Every key's range, the family's own checks, and no key of another family changed from its default."""
    for f in fields(self):
        _check_value(f, getattr(self, f.name))
    family = families.get_family(self.family)
    defaults = type(self).__dataclass_fields__
    _refuse_foreign(self, {n for n in defaults if getattr(self, n) != defaults[n].default})
    if not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
        raise ConfigError(f"device={self.device!r} is not a device; use cpu, cuda, cuda:N or auto")
    if self.mixture_every != defaults["mixture_every"].default and not self.mixture:
        raise ConfigError("mixture_every sets how often a mixture takes a snapshot of G, and mixture=0 keeps none; "
                          "set mixture=N (members) or remove mixture_every")
    if self.ema_start and not self.ema:
        raise ConfigError("ema_start says when the EMA of G starts, and ema=0 keeps none; set ema=DECAY (e.g. "
                          "0.999) or remove ema_start")
    if self.optimizer == "sgd":
        betas = [k for k in ("beta1", "beta2") if getattr(self, k) != defaults[k].default]
        if betas:
            raise ConfigError(f"{betas[0]} is Adam's and optimizer=sgd ignores it; remove {betas[0]} or set "
                              "optimizer=adam")
    elif self.momentum:
        raise ConfigError("momentum is SGD's and optimizer=adam ignores it; set optimizer=sgd or remove momentum")
    family.validate(self)
    return self


def _refuse_foreign(cfg: Any, keys: set[str]) -> None:
    """Refuse any of ``keys`` that only another family than ``cfg.family`` reads (it would be ignored)."""
    for section in SECTIONS.values():
        if section.family is None or section.family == cfg.family:
            continue
        for name in section.names:
            if name in keys:
                raise ConfigError(f"{name} belongs to family={section.family}, not family={cfg.family}; remove it "
                                  f"(or set family={section.family})")


def _warn_if_doubtful(self) -> None:
    """Warn about settings that train but not as the user probably means (called when training starts,
    not where a finished run is loaded)."""
    families.get_family(self.family).warn_if_doubtful(self)


def _gather() -> type:
    """One flat dataclass of every declared key, the shared sections first."""
    specs = []
    for section in sorted(SECTIONS.values(), key=lambda s: s.family is not None):  # stable: declaration order
        section_hints = typing.get_type_hints(section.keys)
        for f in fields(section.keys):
            specs.append((f.name, section_hints[f.name],
                          field(default=f.default,
                                metadata={**dict(section.meta), **f.metadata, "owner": section.owner})))
    cls = make_dataclass("TrainConfig", specs, namespace={
        "to_dict": _to_dict, "validate": _validate, "warn_if_doubtful": _warn_if_doubtful,
        "__doc__": "Everything a training run depends on.  Field names are the recipe / override keys; each "
                   "field's metadata names its owner."})
    cls.__module__ = __name__
    return cls


TrainConfig = _gather()


def _field_type(f) -> Any:
    hints = typing.get_type_hints(TrainConfig)
    return hints[f.name]


def _check_value(f, value: Any) -> None:
    meta = f.metadata
    if meta.get("positive") and not value > 0:
        raise ConfigError(f"{f.name}={value} must be positive ({meta['help']})")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{f.name}={value} is below its minimum {meta['min']} ({meta['help']})")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"{f.name}={value} is above its maximum {meta['max']} ({meta['help']})")


def _coerce(key: str, raw: Any, typ: Any) -> Any:
    """Turn a YAML-parsed value into the field's type, or raise a one-line ConfigError."""
    origin = typing.get_origin(typ)
    if origin is Literal:
        choices = typing.get_args(typ)
        if raw not in choices:
            close = difflib.get_close_matches(str(raw), [str(c) for c in choices], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{key}={raw!r} is not allowed; {hint}choose one of: {', '.join(map(str, choices))}")
        return raw
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        raise ConfigError(f"{key}={raw!r} must be true or false")
    if typ is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            raise ConfigError(f"{key}={raw!r} must be a whole number")
        return raw
    if typ is float:
        if isinstance(raw, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                return float(raw)
            except ValueError:
                pass
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ConfigError(f"{key}={raw!r} must be a number")
        return float(raw)
    if typing.get_origin(typ) is tuple:  # a list of numbers: [2, 5, 10] or "2,5,10"
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not items:
            raise ConfigError(f"{key}={raw!r} must be a list of numbers, e.g. {key}=[2,5,10]")
        inner = typing.get_args(typ)[0]
        try:
            return tuple(_coerce(key, yaml.safe_load(v) if isinstance(v, str) else v, inner) for v in items)
        except ConfigError:
            raise ConfigError(f"{key}={raw!r} must be a list of {'whole numbers' if inner is int else 'numbers'}, "
                              f"e.g. {key}=[2,5,10]") from None
    if typ is str:
        if isinstance(raw, (dict, list)) or raw is None:
            raise ConfigError(f"{key}={raw!r} must be a plain string")
        return str(raw)
    raise TypeError(f"unsupported config type {typ} for {key}")


def _apply(cfg_dict: dict[str, Any], updates: dict[str, Any], source: str) -> None:
    valid = {f.name: f for f in fields(TrainConfig)}
    for name, raw in updates.items():
        owner, dot, short = name.rpartition(".")
        if dot and short in valid and valid[short].metadata["owner"] == owner:  # owner.key: the same flat key
            name = short
        elif dot and short in valid:
            raise ConfigError(f"{name}: {short} belongs to {valid[short].metadata['owner']}, not {owner}; "
                              f"write {valid[short].metadata['owner']}.{short} or just {short}")
        if name not in valid:
            close = difflib.get_close_matches(name, list(valid), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config key {name!r} in {source}{hint} (`saddlepoint train --dry-run` lists every key)")
        cfg_dict[name] = _coerce(name, raw, _field_type(valid[name]))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["steps=100", "game=hinge"]`` → ``{"steps": 100, "game": "hinge"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


# --- recipes ----------------------------------------------------------------------------------
def _recipe_dir():
    return resources.files("saddlepoint") / "recipes"


def list_recipes() -> dict[str, str]:
    """Recipe name → its one-line description."""
    out = {}
    for entry in sorted(_recipe_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text()) or {}
            out[entry.name[: -len(".yaml")]] = str(data.get("description", ""))
    return out


def load_recipe(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """A recipe name or a YAML file path → (name, its key/value mapping without ``description``)."""
    path = Path(name_or_path).expanduser()
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"config file {name_or_path!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{name_or_path} is not valid YAML: {str(e).splitlines()[0]}") from None
        name = path.stem
    else:
        recipes = list_recipes()
        if name_or_path not in recipes:
            close = difflib.get_close_matches(name_or_path, list(recipes), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown recipe {name_or_path!r}; {hint}`saddlepoint recipes` lists them")
        data = yaml.safe_load((_recipe_dir() / f"{name_or_path}.yaml").read_text()) or {}
        name = name_or_path
    if not isinstance(data, dict):
        raise ConfigError(f"{name_or_path} must hold a mapping of config keys")
    data.pop("description", None)
    return name, data


def resolve_config(recipe: str | None = None, overrides: list[str] | dict[str, Any] | None = None) -> tuple[str, TrainConfig]:
    """Recipe (default ``grid25``) + overrides → (recipe name, validated TrainConfig)."""
    name, data = load_recipe(recipe or DEFAULT_RECIPE)
    cfg_dict = {f.name: f.default for f in fields(TrainConfig)}
    _apply(cfg_dict, data, f"recipe {name!r}")
    ov: dict[str, Any] = {}
    if overrides:
        ov = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        _apply(cfg_dict, ov, "the overrides")
    _drop_recipe_betas(cfg_dict, data, ov, name)
    cfg = TrainConfig(**cfg_dict).validate()
    # validate() sees only the values: a key asked for at its default value is refused where another family owns it.
    _refuse_foreign(cfg, {k.rpartition(".")[2] for k in (*data, *ov)})
    # The family may refuse a key the user asked for that its run would ignore.
    families.get_family(cfg.family).check_overrides(cfg, {k.rpartition(".")[2] for k in ov})
    return name, cfg


def _drop_recipe_betas(cfg_dict: dict[str, Any], data: dict[str, Any], ov: dict[str, Any], name: str) -> None:
    """optimizer=sgd asked over a recipe that tunes Adam: the recipe's β1, β2 go back to their defaults (SGD reads
    neither), with a warning; β keys the user asked for beside sgd are still refused by validate()."""
    short = lambda keys: {k.rpartition(".")[2] for k in keys}
    if "optimizer" not in short(ov) or cfg_dict["optimizer"] != "sgd":
        return
    dropped = sorted((short(data) & {"beta1", "beta2"}) - short(ov))
    for k in dropped:
        cfg_dict[k] = TrainConfig.__dataclass_fields__[k].default
    if dropped:
        warnings.warn(f"optimizer=sgd: recipe {name!r} tunes Adam's {' and '.join(dropped)}, which SGD does not read: "
                      "left out of this run", stacklevel=3)


def config_from_dict(data: dict[str, Any], source: str) -> "TrainConfig":
    """A validated config from a mapping of keys (a run's config.yaml), each value coerced to its key's type."""
    cfg_dict = {f.name: f.default for f in fields(TrainConfig)}
    _apply(cfg_dict, data, source)
    return TrainConfig(**cfg_dict).validate()


def describe_keys() -> str:
    """Every config key, grouped by its owner: one line each with its name, type, default and help."""
    hints = typing.get_type_hints(TrainConfig)
    lines = []
    owner = None
    for f in fields(TrainConfig):
        if f.metadata["owner"] != owner:
            owner = f.metadata["owner"]
            section = SECTIONS[owner]
            doc = (section.keys.__doc__ or "").strip().splitlines()[0]
            lines.append(f"{owner}{' (family=' + section.family + ')' if section.family else ''}: {doc}")
        default = f.default if f.default is not MISSING else None
        typ = hints[f.name]
        if typing.get_origin(typ) is Literal:
            tname = "|".join(map(str, typing.get_args(typ)))
        elif typing.get_origin(typ) is tuple:
            tname = f"list of {typing.get_args(typ)[0].__name__}"
        else:
            tname = typ.__name__
        shown = list(default) if isinstance(default, tuple) else default
        lines.append(f"  {f.name:<18} {tname:<24} default {shown!r:<14} {f.metadata.get('help', '')}")
    return "\n".join(lines)
