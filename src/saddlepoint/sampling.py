"""Pictures from a trained generator: sample grids, spherical interpolation in latent space, translations, and
super-resolution of whole photographs."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .runs import RunError
from .families.base import EVAL_SEED, Family as Experiment
from .families.pictures import (conditions_for_picture, refuse_translation as _refuse_translation,
                                require_translation as _require_translation, row_conditions as _row_conditions,
                                translation_grid)

__all__ = ["slerp", "sample", "save_sample_picture", "save_attention_picture", "save_interpolation", "conditions_for_picture", "code_sweep",
           "translation_grid", "save_translation", "upscale", "save_upscaled"]


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between latent vectors (White 2016): for Gaussian latents it keeps the
    norm typical of the prior, where linear interpolation passes through unlikely, short vectors.
    ``z0``, ``z1``: (B, d); ``t``: (T,) in [0, 1] → (B, T, d)."""
    cos = (torch.nn.functional.normalize(z0, dim=1) * torch.nn.functional.normalize(z1, dim=1)).sum(1)
    omega = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (B, 1, 1)
    t = t[None, :, None]
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0[:, None] + (torch.sin(t * omega) / so) * z1[:, None]


@torch.no_grad()
def sample(exp: Experiment, n: int, seed: int = EVAL_SEED, cond: Tensor | None = None) -> Tensor:
    """``n`` samples from the run's sampling generator (its mixture of snapshots, else EMA, if trained with
    one); same seed, same samples.
    Conditional runs: ``cond`` holds n labels (or InfoGAN codes); default every class equally often."""
    return exp.generate(n, seed, cond)


def code_sweep(exp: Experiment, code: str, rows: int = 10, steps: int = 9, limit: float = 2.0) -> Tensor:
    """InfoGAN codes (rows · steps, cond_dim) that sweep one code along each row while the others stay fixed.

    ``code`` ``cat``: the columns run through the categories.  ``c1``, ``c2``, …: that continuous code runs
    from −``limit`` to ``limit`` (Chen et al. 2016 sweep −2…2, beyond the training range [−1, 1]) and row r
    has category r; every other continuous code is 0."""
    cond = exp.condition
    if cond is None or not getattr(cond, "sweepable", False):
        raise RunError("--sweep walks InfoGAN's latent codes; this run is "
                       + ("unconditional" if cond is None else f"conditional={cond.name} (use --label)"))
    names = (["cat"] if cond.categorical else []) + [f"c{i + 1}" for i in range(cond.continuous)]
    if code not in names:
        raise RunError(f"--sweep {code}: this run's codes are {', '.join(names)}")
    if code == "cat":
        k = cond.categorical
        cats = torch.arange(k).repeat(rows)  # each row: every category in turn
        return cond.code(cats, torch.zeros(rows * k, cond.continuous))
    i = int(code[1:]) - 1
    cats = (torch.arange(rows) % max(cond.categorical, 1)).repeat_interleave(steps)
    cont = torch.zeros(rows * steps, cond.continuous)
    cont[:, i] = torch.linspace(-limit, limit, steps).repeat(rows)
    return cond.code(cats, cont)


def _one_member_per_row(exp: Experiment, rows: int, per_row: int) -> dict[str, Tensor]:
    """For a mixture of generators: row r of a picture drawn by member r mod K, so that a walk or sweep along
    the row changes only its latent input (keyword arguments for the sampler's call; none otherwise)."""
    if exp.sampler is not exp.mixture:
        return {}
    return {"member": (torch.arange(rows) % len(exp.mixture)).repeat_interleave(per_row)}


@torch.no_grad()
def save_code_sweep(exp: Experiment, path: str | Path, code: str, rows: int = 10, seed: int = 0) -> Path:
    """A picture of :func:`code_sweep`: each row keeps its noise z, its columns change only ``code``."""
    from .grids import save_grid

    codes = code_sweep(exp, code, rows)
    per_row = codes.shape[0] // rows
    z = exp.noise(rows, torch.Generator().manual_seed(seed)).repeat_interleave(per_row, 0)
    G = exp.sampler
    was = G.training
    G.eval()
    x = G(z.to(exp.device), codes.to(exp.device), **_one_member_per_row(exp, rows, per_row)).float().cpu()
    G.train(was)
    path = Path(path)
    save_grid(x, path, nrow=per_row)
    return path


def save_sample_picture(exp: Experiment, path: str | Path, n: int = 64, seed: int = 0, label: int | None = None) -> Path:
    """An image grid (√n per row; for a conditional run without ``label``, one row per class) or, for 2-D
    data, a scatter of ``n`` points over the data."""
    from . import plots

    path = Path(path)
    if exp.images:
        from .grids import save_grid

        cond, n, per_row = conditions_for_picture(exp, n, label)
        x = sample(exp, n, seed, cond)
        save_grid(x, path, nrow=per_row)
        return path
    x = sample(exp, n, seed)
    real = exp.data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1))
    plots.save(plots.plot_samples(real, x, exp.data.limits, f"{exp.cfg.data}: {n} samples, seed {seed}"), path)
    return path


def text_conditions(exp: Experiment, sentences: list[str], n: int) -> Tensor:
    """Sentence vectors for a text-to-image run: each sentence repeated for its share of ``n`` samples."""
    cond = exp.condition
    if getattr(cond, "critic_mode", None) != "text":
        kind = "unconditional" if cond is None else f"conditional={cond.name}"
        raise RunError(f"--text needs a text-to-image run (conditional=text); this run is {kind}")
    if any(not s.strip() for s in sentences):
        raise RunError("--text is empty; write a sentence, e.g. \"a thick seven leaning right\"")
    unknown = next((s for s in sentences if not cond.encoder.knows(s)), None)
    if unknown is not None:
        raise RunError(f"no word of {unknown!r} is in the captions' vocabulary; "
                       "say the digit, its thickness, slant and width, e.g. \"a thin wide two leaning left\"")
    per = -(-n // len(sentences))
    return cond.embed([s for s in sentences for _ in range(per)])[:n]


def save_text_picture(exp: Experiment, path: str | Path, sentences: list[str], n: int = 8, seed: int = 0) -> Path:
    """One row per sentence: ``n`` samples of it (the noise differs along the row, the rows share it)."""
    from .grids import save_grid

    rows = len(sentences)
    cond = text_conditions(exp, sentences, rows * n)
    g = torch.Generator().manual_seed(seed)
    z = exp.sampling_noise(n, g).repeat(rows, 1)
    x = exp.run_sampler(z, cond)
    path = Path(path)
    save_grid(x, path, nrow=n)
    return path


def save_text_interpolation(exp: Experiment, path: str | Path, first: str, last: str, rows: int = 6, steps: int = 9,
                            seed: int = 0) -> Path:
    """From one sentence's vector to another's in ``steps`` linear steps (GAN-INT's interpolation), each row with
    its own noise held fixed."""
    from .grids import save_grid

    a, b = text_conditions(exp, [first, last], 2)
    t = torch.linspace(0, 1, steps)[:, None]
    cond = ((1 - t) * a + t * b).repeat(rows, 1)
    z = exp.sampling_noise(rows, torch.Generator().manual_seed(seed)).repeat_interleave(steps, 0)
    x = exp.run_sampler(z, cond)
    path = Path(path)
    save_grid(x, path, nrow=steps)
    return path


@torch.no_grad()
def manifold_lines(exp: Experiment, lines: int = 9, points: int = 41) -> list[Tensor]:
    """The generator's image of a grid in its latent space, as polylines in data units: for a 1-d latent one curve,
    for a 2-d latent ``lines`` lines each way; none above 2-d (the grid spans ±2.5, or [−1, 1] for uniform noise)."""
    d = exp.cfg.z_dim
    if d > 2:
        return []
    lo, hi = (-1.0, 1.0) if exp.cfg.noise == "uniform" else (-2.5, 2.5)
    t = torch.linspace(lo, hi, points)
    if d == 1:
        return [exp.run_sampler(t[:, None])]
    z = torch.cat([torch.stack(pair, 1) for v in torch.linspace(lo, hi, lines)
                   for pair in ((t, v.expand_as(t)), (v.expand_as(t), t))])
    return list(exp.run_sampler(z).split(points))


ATTENTION_QUERIES = ((0.3, 0.3), (0.5, 0.5), (0.7, 0.65))  # (row, column) as fractions of the feature map's side


@torch.no_grad()
def save_attention_picture(exp: Experiment, path: str | Path, n: int = 4, seed: int = 0,
                           label: int | None = None) -> Path:
    """For ``n`` samples, the generator's self-attention maps (SAGAN): each row shows a sample, then for three query
    positions (the crosses) where in the picture that position drew from."""
    from torch.nn import functional as F

    from . import plots
    from .nets.attention import SelfAttention

    if not exp.images:
        raise RunError("--attention draws an image generator's attention maps; this run makes 2-D points")
    if exp.sampler is exp.mixture:
        raise RunError("--attention draws one generator's maps, and this run samples a mixture of snapshots; "
                       "retrain with mixture=0 or sample without --attention")
    blocks = [m for m in exp.sampler.modules() if isinstance(m, SelfAttention)]
    if not blocks:
        raise RunError("this run's generator has no self-attention block; train with model=resnet attention=SIDE")
    block = blocks[0]
    cond = None
    if label is not None:
        cond = conditions_for_picture(exp, n, label)[0]  # refuses a label the run does not have
    elif exp.condition is not None:
        cond = exp.condition.balanced(n, torch.Generator().manual_seed(seed))
    block.keep = True
    try:
        x = sample(exp, n, seed, cond)
    finally:
        block.keep = False
    attn = block.last.float().cpu()  # (n, HW, H'W')
    block.last = None
    side = int(round(attn.shape[1] ** 0.5))
    pooled = int(round(attn.shape[2] ** 0.5))
    img = ((x + 1) / 2).clamp(0, 1)
    size = img.shape[-1]
    fig, axes = plots.plt.subplots(n, 1 + len(ATTENTION_QUERIES), figsize=(2.2 * (1 + len(ATTENTION_QUERIES)), 2.2 * n),
                                   squeeze=False)
    show = (lambda t: t[0]) if img.shape[1] == 1 else (lambda t: t.permute(1, 2, 0))
    cmap = "gray" if img.shape[1] == 1 else None
    for i in range(n):
        axes[i, 0].imshow(show(img[i]), cmap=cmap, vmin=0, vmax=1)
        axes[i, 0].set_title("sample" if i == 0 else "", fontsize=8)
        for j, (r, c) in enumerate(ATTENTION_QUERIES):
            q = int(r * side) * side + int(c * side)
            a = attn[i, q].view(1, 1, pooled, pooled)
            a = F.interpolate(a, size=(size, size), mode="nearest")[0, 0]
            ax = axes[i, j + 1]
            ax.imshow(show(img[i]), cmap=cmap, vmin=0, vmax=1)
            ax.imshow(a / a.max(), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            ax.plot([c * size], [r * size], "c+", ms=10, mew=2)
            if i == 0:
                ax.set_title(f"query {j + 1}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"self-attention at {side}×{side} (γ = {float(block.gamma):.3f})", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    plots.save(fig, path)
    return path


@torch.no_grad()
def save_interpolation(exp: Experiment, path: str | Path, rows: int = 8, steps: int = 10, seed: int = 0) -> Path:
    """``rows`` walks of ``steps`` points each between random latent pairs: along great circles for Gaussian
    noise, along straight lines for uniform noise."""
    from . import plots

    _refuse_translation(exp)
    path = Path(path)
    g = torch.Generator().manual_seed(seed)
    z0, z1 = exp.noise(rows, g), exp.noise(rows, g)
    t = torch.linspace(0, 1, steps)
    # A great circle keeps a Gaussian latent's typical norm; a straight line stays inside the uniform prior's cube.
    walk = slerp(z0, z1, t) if exp.cfg.noise == "normal" else torch.lerp(z0[:, None], z1[:, None], t[None, :, None])
    z = walk.reshape(rows * steps, -1)
    G = exp.sampler
    was = G.training
    G.eval()
    member = _one_member_per_row(exp, rows, steps)
    if exp.condition is None:
        x = G(z.to(exp.device), **member).float().cpu() * exp.scale
    else:  # conditional: the walk changes z only; row r keeps class (category) r
        x = G(z.to(exp.device), _row_conditions(exp, rows).repeat_interleave(steps, 0).to(exp.device),
              **member).float().cpu()
    G.train(was)
    if exp.images:
        from .grids import save_grid

        save_grid(x, path, nrow=steps)
    else:
        real = exp.data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1))
        fig = plots.plot_samples(real, x, exp.data.limits, f"{exp.cfg.data}: {rows} latent walks")
        for walk in x.view(rows, steps, 2):
            fig.axes[0].plot(walk[:, 0], walk[:, 1], lw=0.8)
        plots.save(fig, path)
    return path


def save_translation(exp: Experiment, path: str | Path, n: int = 8, inputs: str | Path | None = None) -> Path:
    """Translate the first ``n`` held-out pairs (source | output | target per row) or the images under
    ``inputs`` (a file or folder: source | output)."""
    from .grids import save_png

    _require_translation(exp)
    grid = exp.condition.held_out_grid(exp, n, None if inputs is None else Path(inputs))
    path = Path(path)
    save_png(grid, path)
    return path


# --- super-resolution of whole photographs, in tiles ----------------------------------------------------------
# The generator is all convolutions, so an output pixel depends on the input only within a fixed reach.  Tiles
# of the low-resolution image, each read with a margin at least that wide, give the whole image's output piece by
# piece, in bounded memory: a phone photograph enlarged 4× would otherwise hold 32 channels at 200 megapixels.


def _reach(run, channels: int) -> tuple[int, int]:
    """(the generator's scale, how many low-resolution pixels one input pixel's influence on ``run``'s output
    spreads: found by changing the centre pixel of a random image and seeing where the output moves by more
    than 10⁻⁶; farther pixels may move it less, which can flip the rounding of about one output value in 10⁵)."""
    size = 33
    while size <= 257:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(1, channels, size, size, generator=g) * 2 - 1
        y = x.clone()
        c = size // 2
        y[..., c, c] = -x[..., c, c]
        before, after = run(x), run(y)
        scale = before.shape[-1] // size
        moved = ((after - before).abs().amax((0, 1)) > 1e-6).nonzero()  # (k, 2) output rows, columns
        if not len(moved):  # the output ignores its input
            return scale, 0
        lo, hi = moved.min().item(), moved.max().item()
        reach = -(-max(c * scale - lo, hi - (c * scale + scale - 1)) // scale)
        if reach < c - 1:
            return scale, reach
        size = 2 * size + 1
    raise RunError("this generator's output depends on the whole input, so it cannot be run in tiles")


def _check_upscale(exp: Experiment, tile: int) -> None:
    if not getattr(exp.condition, "upscales", False):
        raise RunError("upscale is for super-resolution runs (conditional=srgan); for pix2pix and CycleGAN runs use "
                       "`saddlepoint translate RUN -i IMAGES`")
    if tile < 1:
        raise RunError(f"tile={tile}: give a tile of at least 1 pixel")


@torch.no_grad()
def upscale(exp: Experiment, image: Tensor, tile: int = 128, progress: bool = False) -> Tensor:
    """A super-resolution run's enlargement of a whole photograph: ``image`` (3, h, w) uint8 → (3, s·h, s·w)
    uint8 (s = 4): the generator's output on the whole image, to float rounding (the self-ensemble's too, when
    on), but in tiles of ``tile`` low-resolution pixels, each read with a margin as wide as the generator's reach."""
    from tqdm import tqdm

    _check_upscale(exp, tile)

    def run(low: Tensor) -> Tensor:
        return exp.generate(1, cond=low)

    scale, reach = _reach(run, image.shape[0])
    margin = reach + 1
    low = image[None].float().div(127.5).sub(1.0)
    h, w = low.shape[-2:]
    out = torch.empty(1, image.shape[0], scale * h, scale * w)
    tiles = [(i, j) for i in range(0, h, tile) for j in range(0, w, tile)]
    for i, j in tqdm(tiles, disable=not progress or len(tiles) == 1, unit="tile", leave=False):
        i0, j0, i1, j1 = max(i - margin, 0), max(j - margin, 0), min(i + tile, h), min(j + tile, w)
        piece = run(low[..., i0:min(i1 + margin, h), j0:min(j1 + margin, w)])
        out[..., scale * i:scale * i1, scale * j:scale * j1] = piece[..., scale * (i - i0):scale * (i1 - i0),
                                                                     scale * (j - j0):scale * (j1 - j0)]
    return out[0].clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def save_upscaled(exp: Experiment, inputs: str | Path, out: str | Path, tile: int = 128,
                  progress: bool = False) -> list[Path]:
    """Enlarge the photograph ``inputs`` (into the file ``out``) or every image in the folder ``inputs`` (into the
    folder ``out``, as NAME.png).  Existing files are never overwritten: any target that exists stops the command
    before it starts.  Each file is written whole (a temporary name, then renamed)."""
    import os

    from PIL import Image

    from .data.images import decode_image, warn_skipped

    _check_upscale(exp, tile)  # before any file is looked at
    src, out = Path(inputs), Path(out)
    if not src.exists():
        raise RunError(f"{src} does not exist; give an image file or a folder of images")
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
        targets = [out / f"{f.stem}.png" for f in files]
        seen: dict[Path, Path] = {}
        for f, t in zip(files, targets):
            if t in seen:
                raise RunError(f"{seen[t].name} and {f.name} would both be written as {t.name}; rename one")
            seen[t] = f
    else:
        files, targets = [src], [out]
        if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
            raise RunError(f"-o {out}: give an image file name (.png, .jpg, .tif or .webp) for one photograph")
    taken = [t for t in targets if t.exists()]
    if taken:
        raise RunError(f"{taken[0]} exists (nothing is overwritten); give another -o")
    from torchvision.transforms.functional import pil_to_tensor

    written, skipped = [], []
    for f, target in zip(files, targets):  # one photograph in memory at a time
        im = decode_image(f)
        if im is None:
            skipped.append(f.name)
            continue
        big = upscale(exp, pil_to_tensor(im.convert("RGB")), tile, progress).permute(1, 2, 0).numpy()
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        Image.fromarray(big).save(part, format=Image.registered_extensions()[target.suffix.lower()])
        os.replace(part, target)
        written.append(target)
    warn_skipped(skipped, len(files), src)
    if not written:
        raise RunError(f"{src}: no readable images there")
    return written
