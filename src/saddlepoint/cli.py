"""``saddlepoint`` command line: thin — parse, validate, call the library.

    saddlepoint train [RECIPE | file.yaml] [key=value ...] [--out DIR] [--dry-run] [--device cuda]
    saddlepoint train --resume RUN [steps=N]
    saddlepoint recipes [--games] [--keys]
    saddlepoint evaluate RUN
    saddlepoint sample RUN -n 64 --seed S -o grid.png [--label K | --sweep cat|c1|...]
    saddlepoint interpolate RUN -o walk.png
    saddlepoint translate RUN [-i IMAGES] -o rows.png
    saddlepoint reconstruct RUN -o pairs.png                            (VAE runs)
    saddlepoint attribute RUN --attribute thickness --amount 1.5        (VAE runs; GAN runs through inversion)
    saddlepoint recover RUN --measurements 100 [--noise 0.1] [-i IMAGES] [-o FILE]   (compressed sensing)
    saddlepoint invert RUN [-i IMAGES | -n N] [-o FILE]                 (the codes of images)
    saddlepoint attack RUN --classifier mnist-robust --source 3 [--target 8]   (AC-GAN runs: unrestricted examples)
    saddlepoint runs [FOLDER]                                           (the runs, one line each)
    saddlepoint watch [FOLDER] [--port 8050] [--open]                   (the same as a live page)
    saddlepoint lab [--port 8050] [--open]                              (a 2-D game in the browser)
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import warnings
from pathlib import Path

__all__ = ["main"]


def _fail(msg: str) -> int:
    print(f"saddlepoint: error: {msg}", file=sys.stderr)
    return 2


def _split_positionals(items: list[str]) -> tuple[str | None, list[str]]:
    recipe = None
    overrides = []
    for item in items:
        if "=" in item:
            overrides.append(item)
        elif recipe is None:
            recipe = item
        else:
            raise ValueError(f"two recipes given ({recipe!r} and {item!r}); give one recipe and key=value overrides")
    return recipe, overrides


def _summary_line(summary: dict, run_dir: Path) -> str:
    from .runlist import quality_text

    return (f"{summary['recipe']} ({summary['game']}, {summary['steps']} steps, {summary['seconds']:.0f} s): "
            f"{quality_text(summary)} — saved to {run_dir}")


def cmd_train(args: argparse.Namespace) -> int:
    from .config import ConfigError, parse_overrides, resolve_config
    from .data.images import DataError
    from .runs import RunError
    from .trainer import TrainingInterrupted, resume, train

    try:
        if args.resume:
            changes = parse_overrides(args.items)
            if set(changes) - {"steps"} or args.dry_run or args.out:
                return _fail("--resume takes the run directory and at most steps=N (to train it longer); it "
                             "continues with the run's own config")
            result = resume(args.resume, progress=not args.quiet, steps=changes.get("steps"))
        else:
            recipe, overrides = _split_positionals(args.items)
            if args.device:
                overrides.append(f"device={args.device}")
            name, cfg = resolve_config(recipe, overrides)
            if args.dry_run:
                import yaml

                print(f"# recipe: {name}")
                print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
                return 0
            result = train(cfg, recipe=name, out=args.out, progress=not args.quiet)
    except TrainingInterrupted as e:  # asked to stop: not an error, and the shell learns which signal asked
        print(f"saddlepoint: {e}", file=sys.stderr)
        return 128 + e.signal
    except (ConfigError, RunError, DataError, ValueError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the loop began
        print("saddlepoint: interrupted; the run directory keeps its last checkpoint (resume with `saddlepoint train "
              "--resume RUN`)", file=sys.stderr)
        return 128 + signal.SIGINT
    if result.summary:  # under torchrun, only rank 0 reports
        print(_summary_line(result.summary, result.run_dir))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    import time

    from .runlist import ago, config_differences, duration, list_runs, read_run, result_text

    if len(args.folder) > 1:  # runs named one by one: they are compared
        paths = [Path(p) for p in args.folder]
        entries, root = [read_run(p) for p in paths], None
        bad = next((p for p, e in zip(paths, entries) if e is None), None)
        if bad is not None:
            return _fail(f"{bad} is not a run directory (no readable config.yaml); name run directories to compare "
                         "them, or one folder to list the runs in it")
    else:
        root = Path(args.folder[0])
        if not root.is_dir():
            return _fail(f"{root} is not a folder; `saddlepoint train` writes its runs to runs/ (give another with "
                         "`saddlepoint runs FOLDER`)")
        entries = list_runs(root)
    differs = config_differences([e.path for e in entries]) if root is None else {}
    if args.json:
        from dataclasses import asdict

        for e in entries:
            print(json.dumps({**asdict(e), "path": str(e.path)}))
        if root is None:
            print(json.dumps({"differences": differs}, default=str))
        return 0
    if not entries:
        print(f"no runs under {root}", file=sys.stderr)
        return 0
    now = time.time()
    rows = [("RUN", "RECIPE", "STEP", "STATE", "UPDATED", "RESULT")]
    for e in entries:
        result = result_text(e)
        if e.seconds_left is not None:
            result += f"; {e.rate:.3g} steps/s, about {duration(e.seconds_left)} to go"
        name = e.path.name if root is not None and e.path.parent == root else str(e.path)
        rows.append((name, e.recipe, f"{e.step}/{e.steps}", e.state, ago(now - e.updated), result))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[5])
    if root is None:
        print("\nwhere their configs differ:" if differs else "\ntheir configs are the same")
        width = max(map(len, differs), default=0)
        for k, values in differs.items():
            print(f"  {k:<{width}}  " + " | ".join("—" if v is None else str(v) for v in values))
    if any(e.state in ("stopped", "time limit") for e in entries):
        print("\na stopped run continues with `saddlepoint train --resume RUN`", file=sys.stderr)
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from .config import describe_keys, list_recipes

    if args.games:
        from .games import GAMES, get_game

        for name in GAMES:
            print(f"{name:<17} {get_game(name).summary}")
        return 0
    if args.keys:
        print(describe_keys())
        return 0
    if args.families:
        from .families import FAMILIES

        for name, cls in FAMILIES.items():
            print(f"{name:<8} {(cls.__doc__ or '').strip().splitlines()[0]}")
        return 0
    recipes = list_recipes()
    width = max(map(len, recipes)) + 2
    for name, desc in recipes.items():
        print(f"{name:<{width}}{desc}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .runs import kept_steps

    run = Path(args.run)
    if args.step != "all":
        return 0 if _evaluate_at(args, run, args.step) is not None else 2
    steps = kept_steps(run)
    if not steps:
        return _fail(f"{run} has no checkpoint to evaluate" + ("" if (run / "config.yaml").is_file() else
                                                                " (not a run directory)"))
    results = []
    for step in steps:  # each its own eval-step-N.json, as `--step N` writes it
        result = _evaluated(args, run, step)  # asked again (after a Ctrl-C, say): what is measured is kept
        if result is not None:
            print(f"step {step}: eval-step-{step}.json already holds this evaluation", file=sys.stderr)
            print(json.dumps(result))
        else:
            result = _evaluate_at(args, run, step)
        if result is None:
            return 2
        results.append(result)
    from . import plots

    fig = plots.plot_evaluations(results, f"{run.name}: {len(steps)} checkpoints")
    if fig is None:
        print(f"no number changed between the {len(steps)} checkpoints: no eval-steps.png", file=sys.stderr)
    else:
        plots.save(fig, run / "eval-steps.png")
        print(run / "eval-steps.png")
    return 0


def _metrics_asked(args: argparse.Namespace) -> list[str]:
    return [m.strip() for m in args.metrics.split(",") if m.strip()]


def _ais_options(args: argparse.Namespace) -> dict:
    """The --ais-* options given, as :func:`saddlepoint.metrics.ais.evaluate_ais` names them."""
    given = {"images": args.ais_images, "chains": args.ais_chains, "steps": args.ais_steps, "sigma": args.ais_sigma,
             "bdmc": args.bdmc, "marginal": args.ais_marginal or None}
    return {k: v for k, v in given.items() if v is not None}


def _request(args: argparse.Namespace, run: Path, step: int | None) -> dict:
    """What an evaluation was asked: the options that change its numbers, and when the checkpoint was written."""
    from .runs import checkpoint_at, latest_checkpoint

    ck = latest_checkpoint(run) if step is None else checkpoint_at(run, step)
    return {"metrics": _metrics_asked(args), "samples": args.samples,
            "reference_samples": args.reference_samples, "backbone": args.backbone,
            "inception_weights": args.inception_weights, "self_ensemble": args.self_ensemble,
            "nll_samples": args.nll_samples, "nll_images": args.nll_images,
            **({"ais": ais} if (ais := _ais_options(args)) else {}),  # files from before --ais-* still match
            "checkpoint_written_ns": (ck / "weights.safetensors").stat().st_mtime_ns}


def _evaluated(args: argparse.Namespace, run: Path, step: int) -> dict | None:
    """eval-step-N.json where it holds the evaluation ``args`` ask of that checkpoint, else None."""
    try:
        done = json.loads((run / f"eval-step-{step}.json").read_text())
    except (OSError, ValueError):
        return None
    return done if isinstance(done, dict) and done.get("request") == _request(args, run, step) else None


def _evaluate_at(args: argparse.Namespace, run: Path, step: int | None) -> dict | None:
    """`saddlepoint evaluate` on the latest checkpoint (``step`` None) or the one of ``step``: the numbers, written
    and printed, or None after printing the error."""
    from .runs import RunError, write_json_atomic
    from .trainer import load_run

    def load(data: bool):
        exp = load_run(run, load_data=data, step=step)
        if args.self_ensemble:
            exp.use_self_ensemble()
        return exp

    try:
        exp = load(False)  # the players alone: the metrics are checked against the run before its data loads
        if args.samples and getattr(exp.condition, "whole_photos", False):
            raise RunError("--samples does not apply to super-resolution runs: they are scored on whole held-out "
                           "photographs (the data's test/ folder); leave it out")
        metrics = _metrics_asked(args)
        if (args.nll_samples is not None or args.nll_images is not None) and "nll" not in metrics:
            raise RunError("--nll-samples and --nll-images set the held-out likelihood: add --metrics nll")
        if any(v is not None and v < 1 for v in (args.nll_samples, args.nll_images)):
            raise RunError("--nll-samples and --nll-images must be at least 1")
        ais = _ais_options(args)
        if ais and "ais" not in metrics:
            raise RunError("--ais-images, --ais-chains, --ais-steps, --ais-sigma, --ais-marginal and --bdmc set the "
                           "annealed likelihood: add --metrics ais")
        if ais:
            from .metrics.ais import check_options

            check_options(**{k: v for k, v in ais.items() if k != "marginal"})  # before the data loads
        if metrics and (exp.images or set(metrics) <= {"nll", "ais"}):
            from .metrics.images import check_metrics, evaluate_images

            check_metrics(exp, metrics)
            exp = load(True)
            result = evaluate_images(exp, metrics, n=args.samples or 10_000, n_ref=args.reference_samples,
                                     backbone=args.backbone, inception_weights=args.inception_weights,
                                     progress=not args.quiet, nll_samples=args.nll_samples or 5000,
                                     nll_images=args.nll_images,  # an hour's estimate survives a Ctrl-C
                                     nll_partial=run / f".nll-step{exp.step}.partial.safetensors",
                                     ais={**ais, "partial": run / f".ais-step{exp.step}.partial.safetensors"})
        elif args.metrics or args.backbone or args.inception_weights:
            raise RunError("--metrics/--backbone are for image runs; 2-D runs report mode coverage (or MMD²) without "
                           "them (and held-out likelihoods with --metrics ais, a VAE's also with nll)")
        else:
            if exp.images:
                exp = load(True)
            quality = exp.evaluate(args.samples or None)
            result = {"step": exp.step,  # a translation run says itself what it measured (evaluated_on)
                      **({} if "evaluated_on" in quality else {"samples": args.samples or exp.cfg.eval_samples}),
                      **({"self_ensemble": True} if exp.self_ensemble else {}), **quality}
        result["request"] = _request(args, run, step)  # `--step all` asked again keeps what it measured
        write_json_atomic(run / ("eval.json" if step is None else f"eval-step-{step}.json"), result)
    except (RunError, RuntimeError) as e:
        _fail(str(e))
        return None
    print(json.dumps(result))
    return result


def _picture(args: argparse.Namespace, default_name: str, draw, default_n: int) -> int:
    from .data.images import DataError
    from .runs import RunError
    from .trainer import load_run

    if args.n is not None and args.n < 1:
        return _fail(f"-n {args.n}: ask for at least one sample")
    if args.n is None:
        args.n = default_n
    step = getattr(args, "step", None)
    if step is not None and not args.out:  # an earlier checkpoint's picture does not replace the latest's
        default_name = f"{Path(default_name).stem}-step{step}{Path(default_name).suffix}"
    out = Path(args.out or Path(args.run) / default_name)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".pdf"):
        return _fail(f"-o {out}: give a .png, .jpg or .pdf file name")
    try:
        exp = load_run(args.run, step=step)
        draw(exp, out)
    except (RunError, DataError) as e:  # DataError: the run's data has moved (translate reads held-out pairs)
        return _fail(str(e))
    print(out)
    return 0


def _picture_and_report(args: argparse.Namespace, default_name: str, draw, default_n: int) -> int:
    """:func:`_picture` for a command whose ``draw(exp, out)`` also returns a report: printed as one JSON line after the
    picture's path, with the step of the checkpoint it used."""
    report: dict = {}
    code = _picture(args, default_name, lambda exp, out: report.update(step=exp.step, **draw(exp, out)), default_n)
    if code == 0:
        print(json.dumps(report))
    return code


def cmd_sample(args: argparse.Namespace) -> int:
    from .sampling import save_code_sweep, save_sample_picture

    if args.sweep is not None:
        if args.label is not None:
            return _fail("--label and --sweep are for different runs (class labels, InfoGAN codes); give one")
        if args.truncation is not None or args.attention:
            return _fail(f"{'--truncation' if args.truncation is not None else '--attention'} is for sample grids, "
                         "not a --sweep: leave one out")
        return _picture(args, f"sweep-{args.sweep}-seed{args.seed}.png",
                        lambda exp, out: save_code_sweep(exp, out, args.sweep, rows=args.n, seed=args.seed), 10)
    name = f"sample-seed{args.seed}.png" if args.label is None else f"sample-label{args.label}-seed{args.seed}.png"
    if args.truncation is not None:
        name = name.replace(".png", f"-trunc{args.truncation:g}.png")
    if args.text:
        if args.label is not None or args.attention:
            return _fail("--text names what to draw; --label and --attention are for other runs: leave them out")
        from .sampling import save_text_picture

        def text(exp, out):
            exp.use_truncation(args.truncation)
            return save_text_picture(exp, out, args.text, args.n, args.seed)

        return _picture(args, f"text-seed{args.seed}.png", text, 8)
    if args.attention:
        from .sampling import save_attention_picture

        def attention(exp, out):
            exp.use_truncation(args.truncation)
            return save_attention_picture(exp, out, args.n, args.seed, args.label)

        return _picture(args, name.replace("sample-", "attention-"), attention, 4)

    def draw(exp, out):
        exp.use_truncation(args.truncation)
        return save_sample_picture(exp, out, args.n, args.seed, args.label)

    return _picture(args, name, draw, 64)


def cmd_translate(args: argparse.Namespace) -> int:
    from .sampling import save_translation

    def draw(exp, out):
        if args.self_ensemble:
            exp.use_self_ensemble()
        return save_translation(exp, out, args.n, args.input)

    return _picture(args, "translate.png" if args.input is None else f"translate-{Path(args.input).stem}.png", draw, 8)


def cmd_upscale(args: argparse.Namespace) -> int:
    import sys

    from .runs import RunError
    from .sampling import save_upscaled
    from .trainer import load_run

    source = Path(args.input)
    default = Path(args.run) / ("upscaled" if args.step is None else f"upscaled-step{args.step}")
    out = Path(args.out) if args.out else (default if source.is_dir() else default / f"{source.stem}.png")
    try:
        exp = load_run(args.run, step=args.step)
        if args.self_ensemble:
            exp.use_self_ensemble()
        written = save_upscaled(exp, source, out, args.tile, progress=sys.stderr.isatty())
    except RunError as e:
        return _fail(str(e))
    for path in written:
        print(path)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from .sampling import save_interpolation, save_text_interpolation

    if args.text is not None:
        if len(args.text) != 2:
            return _fail(f"--text takes two sentences to walk between, got {len(args.text)}")
        return _picture(args, f"interpolate-text-seed{args.seed}.png",
                        lambda exp, out: save_text_interpolation(exp, out, *args.text, rows=args.n,
                                                                 steps=args.steps, seed=args.seed), 6)
    return _picture(args, f"interpolate-seed{args.seed}.png",
                    lambda exp, out: save_interpolation(exp, out, args.n, args.steps, args.seed), 8)


def cmd_reconstruct(args: argparse.Namespace) -> int:
    def draw(exp, out):
        from .grids import save_png

        from .families.vae import reconstruction_grid
        from .runs import RunError

        if not hasattr(exp, "encode") or not exp.images:
            raise RunError("reconstruct encodes and decodes images and needs an image VAE run (family=vae)")
        save_png(reconstruction_grid(exp, args.n), out)

    return _picture(args, "reconstructions.png", draw, 32)


def cmd_attribute(args: argparse.Namespace) -> int:
    from .attributes import attribute_direction, edit, save_attribute_picture
    from .runs import RunError

    if (args.images is not None and args.images < 8) or (args.report_images is not None and args.report_images < 1):
        return _fail("--images must be at least 8 (its top and bottom quarters define the direction) and "
                     "--report-images at least 1")
    try:
        settings = _search_settings(args, prior=0.001)
    except ValueError as e:
        return _fail(f"latent search: {e}")

    def draw(exp, out):
        inverted = None
        if not hasattr(exp, "encode"):  # a GAN: its codes are found by inverting the generator
            from .tasks.invert import InvertedGenerator

            exp = inverted = InvertedGenerator(exp, settings, progress=not args.quiet and sys.stderr.isatty())
        vae = inverted is None
        if vae and _search_options_asked(args):
            raise RunError(f"{', '.join(_search_options_asked(args))}: the latent search finds a GAN's codes; this "
                           "VAE run encodes its images with its encoder, so leave them out")
        found = attribute_direction(exp, args.attribute, args.images or (5000 if vae else 500), args.source,
                                    args.attributes)
        result = edit(exp, found, args.amount, rows=args.n, n_report=args.report_images or (1000 if vae else 200))
        save_attribute_picture(result["picture"], out)
        report = result["report"]
        if inverted is not None:
            error = sum(inverted.inversion_mse) / len(inverted.inversion_mse)
            report["codes"] = (f"found by inverting {inverted.G.what} ({settings.restarts} restarts × {settings.steps} "
                               f"steps); mean per-pixel inversion error {error:.4f}")
        return report

    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in args.attribute.replace(":", ""))
    return _picture_and_report(args, f"attribute-{name}-{args.amount:g}.png", draw, 8)


def cmd_invert(args: argparse.Namespace) -> int:
    from .tasks.invert import invert_images
    from .tasks.pictures import save_rows

    try:
        settings = _search_settings(args, prior=args.prior)
    except ValueError as e:
        return _fail(f"latent search: {e}")
    if args.input is not None and args.n is not None:
        return _fail("-i inverts your images and -n held-out ones; give one")
    if args.arithmetic and (args.input is not None or args.n is not None):
        return _fail("--arithmetic takes its three groups of images itself; leave out -i and -n")
    if args.amount is not None and not args.arithmetic:
        return _fail("--amount scales --arithmetic's difference; add --arithmetic WITH WITHOUT APPLY or leave it out")

    def draw(exp, out):
        progress = not args.quiet and sys.stderr.isatty()
        if args.arithmetic:
            from .tasks.invert import latent_arithmetic

            rows, rep = latent_arithmetic(exp, *args.arithmetic, settings, 1.0 if args.amount is None else args.amount,
                                          progress)
            title = "latent arithmetic on inverted codes: " + " − ".join(Path(a).name for a in args.arithmetic[:2]) \
                + f" + {Path(args.arithmetic[2]).name}"
        else:
            rows, rep = invert_images(exp, args.input, args.n, settings, progress)
            title = f"inversion of {rep['images']}"
        save_rows(rows, out, title)
        return rep

    name = ("arithmetic.png" if args.arithmetic else "invert.png" if args.input is None
            else f"invert-{Path(args.input).stem}.png")
    return _picture_and_report(args, name, draw, 8)


def cmd_attack(args: argparse.Namespace) -> int:
    import torch

    from .tasks.attack import attack, attack_report
    from .tasks.classifiers import CLASSIFIERS, load_classifier
    from .tasks.pictures import save_rows

    if args.classifier not in CLASSIFIERS or args.classifier == "mnist-judge":
        return _fail(f"--classifier {args.classifier}: choose mnist (the shipped classifier) or mnist-robust (trained "
                     "adversarially, PGD ε 0.3); mnist-judge only judges")
    for guard in args.guard:
        if guard not in CLASSIFIERS or guard in (args.classifier, "mnist-judge"):
            return _fail(f"--guard {guard}: choose a classifier other than the attacked one ({args.classifier}) among "
                         f"{', '.join(c for c in CLASSIFIERS if c not in (args.classifier, 'mnist-judge'))}; "
                         "mnist-judge only judges")
    if min(args.lambda_bound, args.lambda_aux, args.bound) < 0 or args.columns < 1:
        return _fail("--lambda-bound, --lambda-aux and --bound must be at least 0, and --columns at least 1")
    try:
        settings = _search_settings(args, prior=0.0)
    except ValueError as e:
        return _fail(f"latent search: {e}")

    def draw(exp, out):
        f = load_classifier(args.classifier)
        judge = load_classifier("mnist-judge") if CLASSIFIERS["mnist-judge"].is_file() else None
        result = attack(exp, f, args.source, args.target, args.n, settings, args.lambda_bound, args.lambda_aux,
                        args.bound, progress=not args.quiet and sys.stderr.isatty(),
                        guards=[load_classifier(g) for g in dict.fromkeys(args.guard)],
                        stop_at_success=not args.full_search)
        order = torch.argsort(result["success"].int(), descending=True, stable=True)[:args.columns]
        reads = ", ".join(str(int(v)) for v in result["read"][order][:8])
        save_rows([("start G(z₀, s)", result["start"][order]),
                   (f"adversarial\n{args.classifier} reads\n{reads}…", result["adversarial"][order])], out,
                  f"{args.classifier}: source {args.source}, target {'any' if args.target is None else args.target}; "
                  f"{int(result['success'].sum())} of {args.n} attempts succeeded (shown first)")
        return attack_report(result, args.source, args.target, args.classifier, judge)

    name = f"attack-{args.classifier}-{args.source}to{'any' if args.target is None else args.target}.png"
    return _picture_and_report(args, name, draw, 64)


def _search_settings(args: argparse.Namespace, **defaults):
    """The latent search the command line asks for; ValueError names a bad setting."""
    from .tasks.latent import LatentSearch

    return LatentSearch(steps=args.steps, lr=args.lr, optimizer=args.optimizer, restarts=args.restarts,
                        noise=args.langevin, seed=args.seed, **defaults)


def cmd_recover(args: argparse.Namespace) -> int:
    from .tasks.pictures import save_rows
    from .tasks.recover import recover_images

    if args.prior < 0 or args.sparse_deviation < 0 or args.lasso_alpha <= 0:
        return _fail("--prior and --sparse-deviation must be at least 0 and --lasso-alpha above 0")
    try:
        settings = _search_settings(args, prior=args.prior)
    except ValueError as e:
        return _fail(f"latent search: {e}")

    def draw(exp, out):
        rows, rep = recover_images(exp, args.operator, args.measurements, args.hole, args.factor or 4, args.noise,
                                   args.input, args.n, settings, args.sparse_deviation, args.lasso_alpha,
                                   args.lasso_basis, args.seed, progress=not args.quiet and sys.stderr.isatty())
        what = (f"{rep['measurements']} Gaussian measurements" if args.operator == "gaussian" else
                f"{args.operator}: {rep['measurements']} measurements") + f" of {rep['pixels']} pixels, noise σ {args.noise:g}"
        save_rows(rows, out, what)
        return rep

    if args.operator == "gaussian" and args.measurements is None:
        return _fail("--measurements M is needed for --operator gaussian (the paper's MNIST setting: 10 to 750)")
    if args.hole is not None and args.operator != "inpaint":
        return _fail("--hole sets --operator inpaint's hidden square; add --operator inpaint or leave it out")
    if args.factor is not None and args.operator != "downsample":
        return _fail("--factor sets --operator downsample's block; add --operator downsample or leave it out")
    if args.input is not None and args.n is not None:
        return _fail("-i recovers your images and -n held-out ones; give one")
    m = args.measurements if args.operator == "gaussian" else args.operator
    return _picture_and_report(args, f"recover-{m}.png", draw, 8)


def cmd_theory(args: argparse.Namespace) -> int:
    from .theory import format_table, run_experiment

    if args.name == "list":
        from .theory import __doc__ as doc

        print("\n".join(line for line in doc.splitlines() if line.startswith("``")).replace("``", ""))
        return 0
    try:
        result, path = run_experiment(args.name, Path(args.out) if args.out else None, quick=args.quick, seed=args.seed)
    except ValueError as e:
        return _fail(str(e))
    print(format_table(result))
    print(f"\nfigure: {path}")
    return 0


def _serve(args: argparse.Namespace, runs_root: str, page: str, what: str) -> int:
    """The lab's server, listening where asked (a warning when that is not this machine only)."""
    from .lab.server import is_loopback, serve

    if not is_loopback(args.host):
        print(f"saddlepoint: warning: --host {args.host} lets other machines reach {what}; leave it out to listen on "
              "127.0.0.1 only", file=sys.stderr)
    if not 0 < args.port < 65536:
        return _fail(f"--port {args.port} is not a port; use 1-65535 (default 8050)")
    try:
        serve(args.host, args.port, runs_root, open_browser=args.open, page=page)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    return _serve(args, args.runs, "lab", "the lab, which trains and saves runs on this one")


def cmd_watch(args: argparse.Namespace) -> int:
    root = Path(args.folder)
    if not root.is_dir():
        return _fail(f"{root} is not a folder; `saddlepoint train` writes its runs to runs/ (give another with "
                     "`saddlepoint watch FOLDER`)")
    return _serve(args, args.folder, "runs", f"the runs page, which shows what is under {root.resolve()}")


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_comparison, write_report
    from .runs import RunError

    try:
        path = write_report(args.run[0], args.out) if len(args.run) == 1 else write_comparison(args.run, args.out)
    except RunError as e:
        return _fail(str(e))
    print(path)
    return 0


def _add_search_options(p: argparse.ArgumentParser, steps: int, lr: float, restarts: int, what: str = "",
                        langevin: float = 0.0,
                        restarts_are: str = "random starting codes per image; the lowest loss is kept") -> None:
    """The latent search's options (``what`` prefixes their help: to whom they apply; ``restarts_are`` says what a
    restart is to this command)."""
    p.add_argument("--steps", type=int, default=steps, help=f"{what}optimizer steps per restart (default {steps})")
    p.add_argument("--lr", type=float, default=lr, help=f"{what}learning rate (default {lr:g})")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help=f"{what}optimizer")
    p.add_argument("--restarts", type=int, default=restarts,
                   help=f"{what}{restarts_are} (default {restarts})")
    p.add_argument("--langevin", type=float, default=langevin, metavar="V",
                   help=f"{what}gradient noise of variance V/(1+t)^0.55 at step t (default {langevin:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the measurements, the starting codes and the noise")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(search_defaults={"steps": steps, "lr": lr, "optimizer": "adam", "restarts": restarts,
                                    "langevin": langevin, "seed": 0})


def _search_options_asked(args: argparse.Namespace) -> list[str]:
    """The latent-search options given a value other than their default."""
    return [f"--{k}" for k, v in args.search_defaults.items() if getattr(args, k) != v]


_ENSEMBLE_HELP = ("super-resolution runs: each output is the mean over the input's 8 turns and mirrors (EDSR's "
                 "self-ensemble, 8× the time)")


def _step_or_all(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a step: give a whole number or all") from None


_STEP_HELP = ("the checkpoint of step N instead of the latest (a run keeps its newest keep_checkpoints, 2 by "
              "default; keep_checkpoints=0 keeps every one)")


def _step_argument(parser: argparse.ArgumentParser, where: str = "", has_steps: bool = False) -> None:
    """``--step N`` (or ``--checkpoint N``) for a command that draws from one checkpoint (``sample``, ``translate``,
    ...).  A command with its own ``--steps`` (a search's optimizer steps, a walk's points) takes ``--checkpoint N``
    only: there ``--step`` is refused with a line that names the spelling, where argparse would otherwise read it as
    an abbreviation of ``--steps``."""
    help_ = _STEP_HELP + (f"; {where}" if where else "")
    if not has_steps:
        parser.add_argument("--step", "--checkpoint", dest="step", type=int, metavar="N", help=help_)
        return
    parser.add_argument("--checkpoint", dest="step", type=int, metavar="N", help=help_)
    parser.add_argument("--step", dest="_step_refused", type=_refuse_step, help=argparse.SUPPRESS)


def _refuse_step(text: str) -> None:
    raise argparse.ArgumentTypeError(f"here --steps counts this command's own steps; for the checkpoint of step "
                                     f"{text} give --checkpoint {text}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="saddlepoint", description="GANs as the saddle-point games they are.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a recipe (default: grid25) and write a run directory")
    t.add_argument("items", nargs="*", metavar="RECIPE|key=value",
                   help="a recipe name or YAML file, then key=value overrides")
    t.add_argument("--out", help="run directory to create (default: runs/<recipe>-<time>); never overwritten")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.add_argument("--device", help="shorthand for device=... (cpu, cuda, cuda:N, auto)")
    t.add_argument("--resume", metavar="RUN", help="continue RUN from its latest checkpoint to its configured steps "
                                                   "(with steps=N: to N steps, a finished run trained longer)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    rn = sub.add_parser("runs", help="list the runs under a folder: recipe, steps done, finished or stopped, "
                                     "and their numbers (or compare the runs named: where their configs differ)")
    rn.add_argument("folder", nargs="*", default=["runs"], metavar="FOLDER",
                    help="where the runs are (default runs/); or two or more run directories, to compare them: the "
                         "table, then the config keys whose values differ")
    rn.add_argument("--json", action="store_true", help="one JSON object per run instead of the table (runs "
                                                         "compared: then one of their differences)")
    rn.set_defaults(func=cmd_runs)

    r = sub.add_parser("recipes", help="list the recipes, one line each")
    r.add_argument("--games", action="store_true", help="list the registered games instead")
    r.add_argument("--keys", action="store_true", help="list every config key with its type and default, by owner")
    r.add_argument("--families", action="store_true", help="list the model families (family=NAME)")
    r.set_defaults(func=cmd_recipes)

    e = sub.add_parser("evaluate", help="evaluate a run's latest checkpoint into RUN/eval.json")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--samples", type=int, default=0,
                   help="generated samples (default: the run's eval_samples; 10,000 with --metrics)")
    # the names are written out (importing the metrics' registry here would cost every command torch's import);
    # tests/test_cli_runs.py holds this list to the registry
    e.add_argument("--metrics", default="", help="image runs: any of fid,kid,is,pr,modes,memorization,accuracy,"
                        "class_fid,code_match,l1,psnr,ssim,cycle,nll,parzen,ais (modes: stacked MNIST; memorization, "
                        "parzen: MNIST; accuracy, class_fid: cgan/acgan/cvae runs; code_match: InfoGAN on MNIST; "
                        "l1, psnr, ssim: pix2pix/srgan runs; cycle: CycleGAN runs; nll: VAE runs, 2-D ones too), "
                        "ais (annealed importance sampling: the held-out likelihood of any unconditional, "
                        "class-conditional or InfoGAN run, 2-D ones too)")
    e.add_argument("--nll-samples", type=int, default=None, metavar="K",
                   help="nll: importance samples per held-out image (default 5000, the IWAE paper's protocol)")
    e.add_argument("--nll-images", type=int, default=None, metavar="N",
                   help="nll: score only the first N held-out images (default: all of them)")
    e.add_argument("--ais-images", type=int, default=None, metavar="N",
                   help="ais: the first N held-out images (default 100)")
    e.add_argument("--ais-chains", type=int, default=None, metavar="C", help="ais: chains per image (default 4)")
    e.add_argument("--ais-steps", type=int, default=None, metavar="T",
                   help="ais: intermediate distributions from the prior to the posterior (default 1000; more is "
                        "tighter and slower)")
    e.add_argument("--ais-sigma", type=float, default=None, metavar="S",
                   help="ais: a generator's Gaussian noise, on pixels in [0, 1] (2-D runs: in the data's units; "
                        "default: the best of a grid on 16 validation examples; a VAE uses its own likelihood)")
    e.add_argument("--ais-marginal", action="store_true",
                   help="ais, class-conditional runs: anneal each image given every class, for log p(x) (the mean "
                        "over classes of p(x | y)) and the model as a Bayes classifier, beside log p(x | y) (K times "
                        "the work)")
    e.add_argument("--bdmc", type=int, default=None, metavar="N",
                   help="ais: also N images simulated from the model, annealed both ways (bidirectional Monte "
                        "Carlo): the gap between the two bounds says how far the estimate can be off")
    e.add_argument("--reference-samples", type=int, default=10_000, metavar="N",
                   help="real images whose features are the reference for fid/kid/pr (default 10,000)")
    e.add_argument("--backbone", choices=("mnist", "inception"),
                   help="feature network for fid/kid/is/pr (default: mnist for MNIST data, inception otherwise)")
    e.add_argument("--inception-weights", metavar="FILE",
                   help="the FID Inception weights file weights-inception-2015-12-05-6726825d.pth (default: looked "
                        "for in $SADDLEPOINT_DATA/weights, downloaded there when online)")
    e.add_argument("--self-ensemble", action="store_true", help=_ENSEMBLE_HELP)
    e.add_argument("--step", "--checkpoint", dest="step", type=_step_or_all, metavar="N|all",
                   help=_STEP_HELP + " (into RUN/eval-step-N.json); all: every kept checkpoint in turn, and their "
                                     "numbers against the step in RUN/eval-steps.png")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_evaluate)
    sm = sub.add_parser("sample", help="draw samples from RUN's latest checkpoint into a picture")
    sm.add_argument("run", metavar="RUN")
    sm.add_argument("-n", type=int, default=None, help="number of samples (default 64; conditional runs: rounded up "
                                                         "to one row per class; with --sweep: rows, default 10)")
    sm.add_argument("--seed", type=int, default=0, help="noise seed: the same seed gives the same picture")
    sm.add_argument("--label", type=int, help="class-conditional runs (cgan, acgan): every sample of this class")
    sm.add_argument("--sweep", metavar="CODE", help="InfoGAN runs: sweep one code along each row, the others fixed: "
                                                    "cat (the categories) or c1, c2, ... (a continuous code, -2..2)")
    sm.add_argument("--truncation", type=float, metavar="T", help="the truncation trick: z from the normal truncated "
                                                                    "at ±T by resampling (smaller T: typical, less varied)")
    sm.add_argument("--text", action="append", metavar="SENTENCE",
                    help="text-to-image runs: one row of -n samples (default 8) per sentence (repeatable)")
    sm.add_argument("--attention", action="store_true", help="runs with self-attention (attention=SIDE): for -n "
                                                              "samples (default 4), where three positions attend")
    _step_argument(sm)
    sm.add_argument("-o", "--out", help="output picture (default RUN/sample-seedS.png; with --step N, "
                                        "RUN/sample-seedS-stepN.png)")
    sm.set_defaults(func=cmd_sample)

    tr = sub.add_parser("translate", help="translation runs (pix2pix): source | output | target rows of held-out "
                                          "pairs, or your own images with -i")
    tr.add_argument("run", metavar="RUN")
    tr.add_argument("-i", "--input", help="an image or a folder of images to translate (default: held-out pairs)")
    tr.add_argument("-n", type=int, default=None, help="rows (default 8)")
    tr.add_argument("-o", "--out", help="output picture (default RUN/translate.png)")
    tr.add_argument("--self-ensemble", action="store_true", help=_ENSEMBLE_HELP)
    _step_argument(tr, "the picture's default name ends -stepN")
    tr.set_defaults(func=cmd_translate)

    up = sub.add_parser("upscale", help="super-resolution runs: enlarge your own photographs 4× at full size")
    up.add_argument("run", metavar="RUN")
    up.add_argument("input", metavar="IMAGE|FOLDER", help="a photograph, or a folder of them")
    up.add_argument("-o", "--out", help="the enlarged image (for a folder: a folder of NAME.png); default "
                                        "RUN/upscaled/NAME.png; nothing is overwritten")
    up.add_argument("--tile", type=int, default=128, help="low-resolution pixels per tile side (memory; the result "
                                                          "is the same, to rounding)")
    up.add_argument("--self-ensemble", action="store_true", help=_ENSEMBLE_HELP)
    _step_argument(up, "the default folder is RUN/upscaled-stepN")
    up.set_defaults(func=cmd_upscale)

    rc = sub.add_parser("reconstruct", help="VAE runs: held-out image | its reconstruction, in pairs")
    rc.add_argument("run", metavar="RUN")
    rc.add_argument("-n", type=int, default=None, help="images (default 32)")
    rc.add_argument("-o", "--out", help="output picture (default RUN/reconstructions.png)")
    _step_argument(rc, "the picture's default name ends -stepN")
    rc.set_defaults(func=cmd_reconstruct)

    at = sub.add_parser("attribute", help="latent attribute arithmetic on held-out images (a GAN's codes found by "
                                          "inverting it); rows of "
                                          "original | reconstruction | edited, and how far the attribute moved")
    at.add_argument("run", metavar="RUN")
    at.add_argument("--attribute", required=True, metavar="NAME",
                    help="thickness or slant (measured from the pixels), label:K (a label of the data), or a "
                         "column of the attribute table beside the run's image folder (CelebA: Smiling, ...)")
    at.add_argument("--attributes", default=None, metavar="FILE",
                    help="the attribute table, by file name (CelebA's list_attr_celeba.txt, or a CSV: file name, then "
                         "values); default: list_attr_celeba.txt/.csv or attributes.csv in or beside the image folder")
    at.add_argument("--amount", type=float, default=1.0, metavar="A",
                    help="how far to move: A × (mean code with the attribute − mean code without); default 1")
    at.add_argument("--from", dest="source", type=int, default=None, metavar="K",
                    help="label:K only: the digit to edit and to measure against (e.g. --attribute label:8 --from 3)")
    at.add_argument("--images", type=int, default=None, metavar="N",
                    help="held-out images that define the direction (default 5000; GAN runs: 500, each inverted)")
    at.add_argument("--report-images", type=int, default=None, metavar="N",
                    help="held-out images edited for the report (default 1000; GAN runs: 200)")
    at.add_argument("-n", type=int, default=None, help="rows in the picture (default 8)")
    at.add_argument("-o", "--out", help="output picture (default RUN/attribute-NAME-A.png)")
    _add_search_options(at, steps=300, lr=0.01, restarts=2, what="GAN runs: the inversion's ")
    _step_argument(at, "the picture's default name ends -stepN", has_steps=True)
    at.set_defaults(func=cmd_attribute)

    cs = sub.add_parser("recover", help="compressed sensing with the run's generator as the prior (CSGM): measure "
                                        "images, recover them by Lasso and by a latent search; rows of original | "
                                        "Lasso | ours, and the per-pixel MSE of each")
    cs.add_argument("run", metavar="RUN")
    cs.add_argument("--measurements", "-m", type=int, default=None, metavar="M",
                    help="Gaussian measurements per image (y = A x + η, A with N(0, 1) entries)")
    cs.add_argument("--operator", choices=("gaussian", "inpaint", "downsample"), default="gaussian",
                    help="gaussian (default), inpaint (the pixels outside a centred square hole) or downsample (the "
                         "mean of each block)")
    cs.add_argument("--hole", type=int, default=None, help="inpaint: side of the hidden square (default: half the image)")
    cs.add_argument("--factor", type=int, default=None, help="downsample: block side (default 4)")
    cs.add_argument("--noise", type=float, default=0.1, help="measurement noise standard deviation (default 0.1)")
    cs.add_argument("-i", "--input", help="your own images (a file or folder; the run's size and channels) instead of "
                                          "held-out ones")
    cs.add_argument("-n", type=int, default=None, help="held-out images to recover (default 8)")
    cs.add_argument("--prior", type=float, default=0.1, help="λ of the λ‖z‖² term (default 0.1, the paper's)")
    cs.add_argument("--sparse-deviation", type=float, default=0.0, metavar="MU",
                    help="also recover x = G(z) + ν with the cost MU·‖ν‖₁ on the deviation ν (Dhar et al. 2018); "
                         "0.2 is the Lasso's own weight in the same units")
    cs.add_argument("--lasso-alpha", type=float, default=0.1, help="the Lasso baseline's α (default 0.1, the paper's)")
    cs.add_argument("--lasso-basis", choices=("pixels", "dct"), default="pixels",
                    help="the basis in which the Lasso baseline takes the image to be sparse (default pixels)")
    _add_search_options(cs, steps=1000, lr=0.01, restarts=10)
    cs.add_argument("-o", "--out", help="output picture (default RUN/recover-M.png)")
    _step_argument(cs, "the picture's default name ends -stepN", has_steps=True)
    cs.set_defaults(func=cmd_recover)

    ak = sub.add_parser("attack", help="AC-GAN runs on MNIST: unrestricted adversarial examples (Song et al. 2018), "
                                       "digits drawn from scratch that the AC-GAN still reads as the source class and "
                                       "the attacked classifier does not")
    ak.add_argument("run", metavar="RUN")
    ak.add_argument("--classifier", default="mnist", help="the attacked classifier: mnist (the shipped one, default) "
                                                          "or mnist-robust (trained adversarially, PGD ε 0.3)")
    ak.add_argument("--source", type=int, required=True, help="the class the images must still show")
    ak.add_argument("--target", type=int, default=None, help="the class the attacked classifier should read "
                                                             "(default: any other)")
    ak.add_argument("-n", type=int, default=None, help="attempts, each from its own random code (default 64)")
    ak.add_argument("--columns", type=int, default=12, help="attempts shown in the picture, successes first")
    ak.add_argument("--lambda-bound", type=float, default=100.0, help="λ₁ of the soft bound on z − z₀ (default 100)")
    ak.add_argument("--lambda-aux", type=float, default=100.0,
                    help="λ₂ of the auxiliary classifier's cross-entropy towards the source (default 100)")
    ak.add_argument("--bound", type=float, default=0.1, help="ε: each coordinate of z moves freely within ε of z₀ "
                                                             "(default 0.1)")
    ak.add_argument("--guard", action="append", default=[], metavar="CLASSIFIER",
                    help="another classifier that must also keep reading the source, beside the auxiliary one (its "
                         "cross-entropy joins the λ₂ term; repeatable; e.g. --guard mnist when attacking mnist-robust)")
    ak.add_argument("--full-search", action="store_true",
                    help="run every step of every attempt, as the paper did (default: an attempt stops at its first "
                         "success, the smallest change along its path)")
    _add_search_options(ak, steps=500, lr=0.01, restarts=1, langevin=0.01,
                        restarts_are="searches per attempt, each from its own point within ε of the attempt's "
                                     "random code; one that succeeds is kept")
    ak.add_argument("-o", "--out", help="output picture (default RUN/attack-CLASSIFIER-StoT.png)")
    _step_argument(ak, "the picture's default name ends -stepN", has_steps=True)
    ak.set_defaults(func=cmd_attack)

    iv = sub.add_parser("invert", help="the codes whose images are closest to held-out images (or yours): rows of "
                                       "original | inverted, and the per-pixel error")
    iv.add_argument("run", metavar="RUN")
    iv.add_argument("-i", "--input", help="your own images (a file or folder; the run's size and channels)")
    iv.add_argument("-n", type=int, default=None, help="held-out images to invert (default 8)")
    iv.add_argument("--arithmetic", nargs=3, metavar=("WITH", "WITHOUT", "APPLY"),
                    help="latent arithmetic (Radford et al. 2016): the mean code of the images in WITH minus that of "
                         "WITHOUT, added to the code of each image in APPLY (files or folders; all inverted)")
    iv.add_argument("--amount", type=float, default=None, help="--arithmetic: how much of the difference to add "
                                                               "(default 1)")
    iv.add_argument("--prior", type=float, default=0.001, help="λ of the λ‖z‖² term (default 0.001)")
    _add_search_options(iv, steps=1000, lr=0.01, restarts=4)
    iv.add_argument("-o", "--out", help="output picture (default RUN/invert.png)")
    _step_argument(iv, "the picture's default name ends -stepN", has_steps=True)
    iv.set_defaults(func=cmd_invert)

    lb = sub.add_parser("lab", help="the live lab: train a 2-D game in the browser with the real trainer "
                                    "(http://127.0.0.1:8050/)")
    lb.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    lb.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    lb.add_argument("--runs", default="runs", help="where the save button writes run directories (default runs/)")
    lb.add_argument("--open", action="store_true", help="open the page in a browser")
    lb.set_defaults(func=cmd_lab)

    wt = sub.add_parser("watch", help="a live page of the runs under a folder: each run's progress, curves, samples "
                                      "over training and numbers, updated as they train (http://127.0.0.1:8050/runs)")
    wt.add_argument("folder", nargs="?", default="runs", help="the folder of runs (default runs/), or one run")
    wt.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    wt.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    wt.add_argument("--open", action="store_true", help="open the page in a browser")
    wt.set_defaults(func=cmd_watch)

    rp = sub.add_parser("report", help="one self-contained HTML page of RUN: config, curves, samples over training, "
                                       "final numbers, and a 2-D run's critic and manifold; of several runs: them "
                                       "side by side")
    rp.add_argument("run", metavar="RUN", nargs="+", help="a run directory; two or more to compare them")
    rp.add_argument("-o", "--out", help="the page (default RUN/report.html; for several runs, compare.html beside "
                                        "the first)")
    rp.set_defaults(func=cmd_report)

    th = sub.add_parser("theory", help="the lecture notes' theory as an experiment: a table and a figure "
                                       "(`saddlepoint theory list` names them)")
    # written out like --metrics (tests/test_cli_runs.py holds it to saddlepoint.theory.EXPERIMENTS)
    th.add_argument("name", help="disjoint, duality, mode-seeking, gda, optimal-discriminator, zero-one, "
                                 "variational-bound, mmd, or list")
    th.add_argument("-o", "--out", help="the figure (default theory-NAME.png)")
    th.add_argument("--quick", action="store_true", help="smaller grids and shorter training (seconds; wider error)")
    th.add_argument("--seed", type=int, default=0, help="seed of the samples and the critics")
    th.set_defaults(func=cmd_theory)

    ip = sub.add_parser("interpolate", help="spherical interpolation between random latent points of RUN")
    ip.add_argument("run", metavar="RUN")
    ip.add_argument("-n", type=int, default=None, help="number of walks (rows, default 8; conditional runs: row r has "
                                                        "class r)")
    ip.add_argument("--steps", type=int, default=10, help="points per walk")
    ip.add_argument("--text", nargs=2, metavar=("FROM", "TO"), help="text-to-image runs: walk from one sentence's "
                                                                    "vector to another's, z fixed along each row")
    ip.add_argument("--seed", type=int, default=0)
    ip.add_argument("-o", "--out", help="output picture (default RUN/interpolate-seedS.png)")
    _step_argument(ip, "the picture's default name ends -stepN", has_steps=True)
    ip.set_defaults(func=cmd_interpolate)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-"):
        parser.parse_args(argv)  # prints help or the usage error
        return 2
    # Each subcommand parses "intermixed", so options may come before or after key=value overrides.
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if argv[0] not in sub.choices:
        parser.parse_args(argv[:1])
        return 2
    args = sub.choices[argv[0]].parse_intermixed_args(argv[1:])
    with warnings.catch_warnings():  # a warning is one line on the terminal, not a source location
        warnings.showwarning = _one_line
        try:
            return args.func(args)
        except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback (what was written stays written)
            print("saddlepoint: interrupted", file=sys.stderr)
            return 128 + signal.SIGINT


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"saddlepoint: warning: {message}", file=file or sys.stderr)


def entry() -> None:
    """The ``saddlepoint`` command: :func:`main`, then the exit a torchrun worker needs
    (:func:`saddlepoint.distributed.exit_worker`)."""
    from .distributed import exit_worker, launched_world

    code = main()
    if launched_world() > 1:
        exit_worker(code)
    # Everything is written and closed by now.  Tearing down an interpreter that imported torch spends most of a
    # second in the final garbage collection over torch's objects; frozen objects are skipped by it, and atexit
    # handlers and stream flushes still run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
