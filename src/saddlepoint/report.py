"""``saddlepoint report RUN``: one self-contained HTML page of a run — its config, curves, sample grids over
training, final numbers with where they came from, and for 2-D runs the critic and the generator's manifold.
Every picture is inlined (data: URIs) and the style is in the page: it opens without internet, and can be mailed."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import yaml

from .runs import RunError, read_metrics

__all__ = ["write_report", "write_comparison"]


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _figure_png(fig) -> bytes:
    from .plots import plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "∞" if v == math.inf else "−∞" if v == -math.inf else f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return html.escape(json.dumps(v, ensure_ascii=False))
    return html.escape(str(v))


def _table(mapping: dict[str, Any], caption: str) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>" for k, v in mapping.items())
    return f"<table><caption>{html.escape(caption)}</caption>{rows}</table>"


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RunError(f"{path} is not valid JSON ({e.msg}); remove it or evaluate the run again") from None


def _manifold_png(run_dir: Path) -> bytes | None:
    """A 2-D run's generated points with the image of a grid in z (latent size 1 or 2), from its checkpoint."""
    import torch

    from .plots import plt
    from .trainer import load_run

    model = load_run(run_dir)
    if model.images or model.cfg.z_dim > 2:
        return None
    from .sampling import manifold_lines

    fig, ax = plt.subplots(figsize=(5, 5))
    real = model.data.sample(1000, torch.Generator().manual_seed(0))
    fake = model.generate(1000)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="k", label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="C1", label="generated")
    for line in manifold_lines(model, lines=11, points=81):
        ax.plot(line[:, 0], line[:, 1], color="0.4", lw=0.6)
    ax.plot([], [], color="0.4", lw=0.6, label="G(z), z on a " + ("line" if model.cfg.z_dim == 1 else "grid"))
    lim = model.data.limits
    ax.set(xlim=lim, ylim=lim, aspect="equal", title="the generator's manifold")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _figure_png(fig)


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}caption{text-align:left;font-weight:600;padding:.3em 0}
th{text-align:left;font-weight:500;padding:.15em .8em .15em 0;color:#444}td{padding:.15em .4em;word-break:break-word}
tr:nth-child(even){background:#f4f4f4}figure{display:inline-block;margin:.4em;vertical-align:top}
figcaption{font-size:.85em;color:#555}img{max-width:100%;border:1px solid #ddd}.cols{display:flex;gap:2em;flex-wrap:wrap}"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``out`` (default RUN/report.html) and return its path."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.yaml); give the folder `saddlepoint train` made")
    config = yaml.safe_load(config_path.read_text()) or {}
    info = _read_json(run_dir / "run.json") or {}
    summary = _read_json(run_dir / "summary.json")
    evaluation = _read_json(run_dir / "eval.json")
    rows = read_metrics(run_dir)
    title = f"{info.get('recipe', run_dir.name)} — {run_dir.name}"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts.append("<h2>Final numbers</h2><div class='cols'>")
    if summary:
        parts.append(_table(summary, "summary.json: the end of training"))
    if evaluation:
        flat = {k: v for k, v in evaluation.items() if not isinstance(v, dict)}
        parts.append(_table(flat, "eval.json: saddlepoint evaluate"))
        for k, v in evaluation.items():
            if isinstance(v, dict):
                parts.append(_table(v, f"eval.json: {k}"))
    if not summary and not evaluation:
        parts.append("<p>No summary yet: the run has not finished (or was stopped before its end).</p>")
    parts.append("</div>")
    parts.append("<h2>Curves</h2>")
    if sum(any(k.startswith("loss") for k in r) for r in rows) >= 2:
        from .plots import plot_curves

        parts.append(f"<figure><img alt='training curves' src='{_png(_figure_png(plot_curves(rows, title)))}'>"
                     f"<figcaption>{len(rows)} logged steps (metrics.jsonl)</figcaption></figure>")
    else:
        parts.append("<p>Fewer than two logged steps: no curve to draw.</p>")
    if (run_dir / "eval-steps.png").is_file():  # its own title counts the checkpoints
        parts.append(f"<figure><img alt='evaluations by step' src='{_png((run_dir / 'eval-steps.png').read_bytes())}'>"
                     "<figcaption>saddlepoint evaluate --step all: each kept checkpoint (eval-step-N.json)"
                     "</figcaption></figure>")
    grids = sorted(run_dir.glob("samples-*.png")) + ([run_dir / "samples.png"] if (run_dir / "samples.png").is_file()
                                                     else [])
    parts.append("<h2>Samples over training</h2>")
    for g in grids:
        label = "the end" if g.name == "samples.png" else f"step {int(g.stem.split('-')[1])}"
        parts.append(f"<figure><img alt='samples, {label}' src='{_png(g.read_bytes())}'>"
                     f"<figcaption>{label}</figcaption></figure>")
    if not grids:
        parts.append("<p>No sample grid in the run directory (sample_every=0 and the run has not ended).</p>")
    from .data import is_2d

    two_d = is_2d(str(config.get("data", "")))
    if two_d:
        parts.append("<h2>The critic and the generator's manifold</h2>")
        if (run_dir / "critic.png").is_file():
            parts.append(f"<figure><img alt='critic' src='{_png((run_dir / 'critic.png').read_bytes())}'>"
                         "<figcaption>critic score and the force on generated points</figcaption></figure>")
        try:
            manifold = _manifold_png(run_dir)
        except RunError:
            manifold = None
        if manifold:
            parts.append(f"<figure><img alt='manifold' src='{_png(manifold)}'>"
                         "<figcaption>the image of a grid of latent codes</figcaption></figure>")
    parts.append("<h2>Config</h2>")
    parts.append(_table(config, "config.yaml (every key the run read)"))
    if info:
        parts.append(_table(info, "run.json"))
    parts.append("</body></html>")
    path = Path(out) if out is not None else run_dir / "report.html"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def _newest_samples(run_dir: Path) -> Path | None:
    """The run's last sample grid: samples.png at its end, else the newest samples-N.png."""
    if (run_dir / "samples.png").is_file():
        return run_dir / "samples.png"
    grids = sorted(run_dir.glob("samples-*.png"))
    return grids[-1] if grids else None


def write_comparison(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """One self-contained page of several runs side by side — what each reached, where their configs differ, their
    evaluations, a chart for each number they logged (a line per run) and each one's last samples — written to
    ``out`` (default compare.html beside the first run) and returned."""
    from .plots import plot_runs
    from .runlist import config_differences, read_run, result_text

    runs = [Path(r) for r in run_dirs]
    entries = [read_run(r) for r in runs]
    for r, e in zip(runs, entries):
        if e is None:
            raise RunError(f"{r} is not a run directory (no readable config.yaml); give the folders `saddlepoint "
                           "train` made")
    names = [r.name for r in runs]
    if len(set(names)) < len(names):  # the same name in different folders: say which
        names = [str(r) for r in runs]
    title = f"{len(runs)} runs side by side: " + ", ".join(names)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]

    def grid(header: list[str], rows: list[list[Any]], caption: str) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{'—' if v is None else _cell(v)}</td>" for v in row) + "</tr>"
                       for row in rows)
        return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"

    parts.append("<h2>What each reached</h2>")
    parts.append(grid(["run", "recipe", "step", "state", "numbers"],
                      [[n, e.recipe, f"{e.step}/{e.steps}", e.state, result_text(e)] for n, e in zip(names, entries)],
                      "summary.json, or the last logged row of a run that has not ended"))
    differs = config_differences(runs)
    parts.append("<h2>Where their configs differ</h2>")
    parts.append(grid(["key", *names], [[k, *vs] for k, vs in differs.items()], "config.yaml (and run.json's recipe)")
                 if differs else "<p>Their configs are the same: they differ only by chance (the same seed gives the "
                                 "same weights).</p>")
    evaluated = {}
    for i, e in enumerate(entries):
        for k, v in e.evaluation.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                evaluated.setdefault(k, [None] * len(entries))[i] = v
    if evaluated:
        parts.append("<h2>Evaluations</h2>")
        parts.append(grid(["number", *names], [[k, *vs] for k, vs in evaluated.items()],
                          "eval.json: saddlepoint evaluate RUN (its step is a row)"))
    parts.append("<h2>Curves</h2>")
    fig = plot_runs({n: read_metrics(r) for n, r in zip(names, runs)}, title)
    parts.append(f"<figure><img alt='curves of the runs' src='{_png(_figure_png(fig))}'>"
                 "<figcaption>each number two or more runs logged (metrics.jsonl), a line per run</figcaption></figure>"
                 if fig is not None else "<p>The runs logged no number in common: no curve to draw.</p>")
    parts.append("<h2>Their last samples</h2>")
    for n, r in zip(names, runs):
        grid_png = _newest_samples(r)
        parts.append(f"<figure><img alt='{html.escape(n)}' src='{_png(grid_png.read_bytes())}'>"
                     f"<figcaption>{html.escape(n)}: {grid_png.name}</figcaption></figure>"
                     if grid_png else f"<p>{html.escape(n)}: no sample grid yet.</p>")
    parts.append("</body></html>")
    path = Path(out) if out is not None else runs[0].parent / "compare.html"
    path.write_text("".join(parts), encoding="utf-8")
    return path

