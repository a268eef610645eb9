"""Inception-v3 with the standard FID weights, as a feature backbone for FID, KID, IS and precision/recall.

The network is torch-fidelity's ``FeatureExtractorInceptionV3``: the TensorFlow Inception graph of
2015-12-05 that the original FID and Inception-Score code used, converted to PyTorch, with its
TensorFlow-1-compatible bilinear resize to 299×299.  Its numbers are comparable with published FIDs
(torch-fidelity and torchmetrics use the same file; ``pytorch-fid``'s weights are the same graph
under other key names).

Weights: the file ``weights-inception-2015-12-05-6726825d.pth`` (about 92 MB) from
:data:`FID_WEIGHTS_URL`.  ``saddlepoint evaluate RUN --inception-weights FILE`` uses a copy you name;
otherwise the file is looked for in ``<data home>/weights/`` and downloaded there when online (its
SHA-256 must start with ``6726825d``).  The file is read with ``torch.load(weights_only=True)``, which
admits tensors only, never arbitrary pickled objects.

Features: the 2048-d pool features; class posteriors: softmax of the 1008 unbiased logits (as the
Inception Score code does).  Grey images are repeated to three channels (as Lucic et al. 2018 did
for MNIST); images are quantized to 8 bits first, as saved images would be.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from .errors import MetricUnavailable

__all__ = ["FID_WEIGHTS_FILE", "FID_WEIGHTS_URL", "inception_weights_path", "load_inception", "inception_backbone"]

FID_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{FID_WEIGHTS_FILE}"
_SHA256_PREFIX = "6726825d"
_FEATURES = ["2048", "logits_unbiased"]


def _unavailable(msg: str) -> Exception:
    return MetricUnavailable(msg)


def inception_weights_path(path: str | Path | None = None, download: bool = True) -> Path:
    """The FID Inception weights file: ``path`` if given, else ``<data home>/weights/<file>``, downloaded
    there (checksum verified) when missing and ``download`` is true."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise _unavailable(f"Inception weights file {p} does not exist; download {FID_WEIGHTS_URL} and pass "
                               "its path to --inception-weights")
        return p
    from ..data.images import data_home

    p = data_home() / "weights" / FID_WEIGHTS_FILE
    if p.is_file():
        return p
    if not download:
        raise _unavailable(f"no Inception weights at {p}; download {FID_WEIGHTS_URL} there or pass "
                           "--inception-weights FILE")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    try:
        torch.hub.download_url_to_file(FID_WEIGHTS_URL, str(tmp), hash_prefix=_SHA256_PREFIX, progress=True)
    except Exception as e:  # offline, blocked, or a bad checksum
        tmp.unlink(missing_ok=True)
        raise _unavailable(f"could not download the Inception weights ({type(e).__name__}: {e}); fetch "
                           f"{FID_WEIGHTS_URL} on a machine that is online and pass --inception-weights FILE, "
                           f"or put it at {p}") from None
    os.replace(tmp, p)
    return p


def load_inception(path: str | Path | None = None, device: str | torch.device = "cpu") -> torch.nn.Module:
    """torch-fidelity's FID Inception-v3 with the weights of :func:`inception_weights_path`."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise _unavailable("the Inception backbone needs torch-fidelity: pip install 'saddlepoint[inception]' "
                           "(or pip install torch-fidelity)") from None
    weights = inception_weights_path(path)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)  # tensors only: no code runs
    except Exception as e:
        raise _unavailable(f"{weights} is not a PyTorch file of tensors ({type(e).__name__}); use the FID weights "
                           f"file {FID_WEIGHTS_FILE}") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise _unavailable(f"{weights} does not hold a state dict of tensors; use the FID weights file {FID_WEIGHTS_FILE}")
    # torch-fidelity reads a weights path with a full unpickler, so it only ever sees a file we wrote
    # ourselves from the verified tensors.
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "inception.pth"
        torch.save(state, clean)
        try:
            net = FeatureExtractorInceptionV3("saddlepoint-inception-v3", _FEATURES,
                                              feature_extractor_weights_path=str(clean))
        except RuntimeError as e:
            first = str(e).splitlines()[0]
            raise _unavailable(f"{weights} does not fit the FID Inception-v3 ({first[:120]}); use the file "
                               f"{FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL}") from None
    return net.to(device).eval()


def inception_backbone(path: str | Path | None = None, device: str | torch.device = "cpu", batch: int = 100,
                       progress: bool = False) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """A backbone function: images (N, C, H, W) in [−1, 1], C in {1, 3} → (features (N, 2048), probs (N, 1008))."""
    net = load_inception(path, device)

    @torch.no_grad()
    def run(x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[1] not in (1, 3):
            raise _unavailable(f"the Inception backbone reads grey or RGB images, not {x.shape[1]} channels")
        from tqdm.auto import tqdm

        feats, probs = [], []
        for xb in tqdm(x.split(batch), desc="inception", disable=not progress, leave=False):
            u8 = ((xb.float() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
            if u8.shape[1] == 1:
                u8 = u8.expand(-1, 3, -1, -1)
            f, logits = net(u8.to(device))
            feats.append(f.float().cpu())
            probs.append(logits.float().softmax(1).cpu())
        return torch.cat(feats), torch.cat(probs)

    return run
