"""The layering the README's Architecture section promises, checked on the source: no import circle among
saddlepoint's modules, the trainer imports no model family, and every family registers and declares its keys."""

import ast
from pathlib import Path

import pytest

import saddlepoint

ROOT = Path(saddlepoint.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_level_imports(path: Path) -> set[str]:
    """saddlepoint modules that ``path`` imports when it is imported (module level, outside TYPE_CHECKING)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ([node] if not isinstance(node, (ast.If, ast.Try)) else ast.walk(node)):
            if isinstance(sub, ast.Import):
                out |= {a.name for a in sub.names if a.name.startswith("saddlepoint")}
            elif isinstance(sub, ast.ImportFrom):
                if sub.level:
                    base = package.split(".")
                    base = base[: len(base) - (sub.level - 1)]
                    target = ".".join(base + ([sub.module] if sub.module else []))
                else:
                    target = sub.module or ""
                if not target.startswith("saddlepoint"):
                    continue
                if sub.module:  # `from . import gan` names submodules, not the package's own names
                    out.add(target)
                for a in sub.names:  # `from . import gan` imports the submodule
                    if (ROOT.parent / Path(*target.split("."), a.name)).with_suffix(".py").is_file() or \
                            (ROOT.parent / Path(*target.split("."), a.name) / "__init__.py").is_file():
                        out.add(f"{target}.{a.name}")
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _module_level_imports(path):
            parts = target.split(".")
            # Importing a module runs its packages' __init__ first, except the packages the importer lives in.
            for i in range(1, len(parts) + 1):
                pkg = ".".join(parts[:i])
                if pkg in modules and not (name == pkg or name.startswith(pkg + ".")):
                    edges.add(pkg)
            if target in modules:
                edges.add(target)
        graph[name] = edges - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_import_circle():
    assert _cycle(_graph()) is None, " → ".join(_cycle(_graph()))


def test_the_checker_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_trainer_and_the_low_layers_import_no_family_module():
    graph = _graph()
    family_modules = {m for m in graph if m.startswith("saddlepoint.families.")} - {
        "saddlepoint.families.registry", "saddlepoint.families.base", "saddlepoint.families.pictures"}
    for low in ("saddlepoint.trainer", "saddlepoint.state", "saddlepoint.keys", "saddlepoint.schedule",
                "saddlepoint.games", "saddlepoint.penalties", "saddlepoint.divergences", "saddlepoint.runs"):
        assert not graph[low] & family_modules, f"{low} imports {graph[low] & family_modules}"
    nets = {m for m in graph if m.startswith("saddlepoint.nets")}
    for m in nets:  # networks import nothing above them
        above = {t for t in graph[m] if not t.startswith(("saddlepoint.nets", "saddlepoint.distributed"))}
        assert not above, f"{m} imports {above}"


def test_the_tasks_know_no_family_and_only_the_cli_uses_them():
    """What a trained generator is for (saddlepoint.tasks) works on any run through what a family offers, and the
    arrows point one way: families, trainer and lower layers never import a task."""
    graph = _graph()
    tasks = {m for m in graph if m.startswith("saddlepoint.tasks")}
    assert {"saddlepoint.tasks.latent", "saddlepoint.tasks.recover", "saddlepoint.tasks.attack"} <= tasks
    for m in tasks:
        families = {t for t in graph[m] if t.startswith("saddlepoint.families.")}
        assert not families, f"{m} imports {families}"
    for m, targets in graph.items():
        if not m.startswith(("saddlepoint.tasks", "saddlepoint.cli")):
            assert not targets & tasks, f"{m} imports {targets & tasks}"


def test_the_lab_and_the_theory_know_no_family_and_nothing_below_imports_them():
    """The live lab drives any family through the trainer and what a family offers (player_step, critic_field);
    the theory experiments stand on games, schedules and divergences. Only the CLI imports either."""
    graph = _graph()
    apps = {m for m in graph if m.startswith(("saddlepoint.lab", "saddlepoint.theory"))}
    assert {"saddlepoint.lab.session", "saddlepoint.lab.server", "saddlepoint.theory.gda"} <= apps
    for m in apps:
        families = {t for t in graph[m] if t.startswith("saddlepoint.families.")} - {"saddlepoint.families.base"}
        assert not families, f"{m} imports {families}"
    for m, targets in graph.items():
        if not m.startswith(("saddlepoint.lab", "saddlepoint.theory", "saddlepoint.cli")):
            assert not targets & apps, f"{m} imports {targets & apps}"


def test_the_trainer_names_no_family():
    text = (ROOT / "trainer.py").read_text()
    from saddlepoint.families import FAMILIES

    for name in FAMILIES:
        assert f'"{name}"' not in text and f"'{name}'" not in text


def test_every_family_is_registered_and_owns_its_keys():
    from saddlepoint.config import TrainConfig
    from saddlepoint.families import FAMILIES
    from saddlepoint.keys import SECTIONS

    assert {"gan", "gmmn"} <= set(FAMILIES)
    owners = {f.name: f.metadata["owner"] for f in __import__("dataclasses").fields(TrainConfig)}
    assert owners["gmmn_widths"] == "gmmn" and owners["game"] == "gan" and owners["steps"] == "run"
    assert {s.family for s in SECTIONS.values() if s.family} <= set(FAMILIES)


@pytest.mark.parametrize("override", ["gan.game=hinge", "game=hinge"])
def test_a_key_may_name_its_owner(override):
    from saddlepoint import resolve_config

    assert resolve_config("grid25", [override])[1].game == "hinge"


def test_a_key_under_the_wrong_owner_is_refused():
    from saddlepoint import ConfigError, resolve_config

    with pytest.raises(ConfigError, match="game belongs to gan"):
        resolve_config("grid25", ["gmmn.game=hinge"])


def _condition_keys():
    from dataclasses import fields

    from saddlepoint.config import TrainConfig

    return [(f.name, f.metadata["conditions"]) for f in fields(TrainConfig) if f.metadata.get("conditions")]


def test_each_condition_declares_its_own_keys():
    from saddlepoint.conditional import CONDITIONS

    keys = dict(_condition_keys())
    assert keys["cycle_weight"] == ("cyclegan",) and keys["info_codes"] == ("infogan",)
    assert keys["label_critic"] == ("cgan",) and keys["gan_weight"] == ("pix2pix", "srgan")
    assert {c for kinds in keys.values() for c in kinds} == set(CONDITIONS)


@pytest.mark.parametrize("name, kinds", _condition_keys())
def test_a_condition_key_is_refused_for_another_kind(name, kinds):
    from dataclasses import fields

    from saddlepoint import ConfigError, resolve_config
    from saddlepoint.config import TrainConfig

    from typing import get_args, get_type_hints

    default = {f.name: f.default for f in fields(TrainConfig)}[name]
    choices = [c for c in get_args(get_type_hints(TrainConfig)[name]) if c != default]  # a Literal's other values
    other = {bool: lambda v: not v, int: lambda v: v + 2, float: lambda v: v + 0.5}.get(
        type(default), lambda v: choices[0] if choices else "projection")(default)
    with pytest.raises(ConfigError, match=f"{name} applies to conditional={kinds[0]}"):
        resolve_config("mnist-dcgan", [f"{name}={str(other).lower() if isinstance(other, bool) else other}"])
