"""The Inception-v3 FID backbone: weights from a named file or the data home, never unpickled, clear
errors, and ``evaluate --backbone inception`` end to end.  Offline: the weights here are a randomly
initialised copy of the architecture written to a file (the real file is ~92 MB and downloaded)."""

import json
import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("torch_fidelity", reason="the Inception backbone needs torch-fidelity (saddlepoint[test])")

from saddlepoint.metrics.images import MetricUnavailable  # noqa: E402
from saddlepoint.metrics.inception import (FID_WEIGHTS_FILE, FID_WEIGHTS_URL, inception_backbone,  # noqa: E402
                                           inception_weights_path, load_inception)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A state dict of the FID Inception-v3 architecture with random weights, saved as a .pth file."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None)
        net = fe.FeatureExtractorInceptionV3("x", ["2048"])
    torch.manual_seed(0)  # He initialization, so that features still vary after ~100 random layers
    for name, p in net.named_parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p.data, 0, ((2 if "fc" not in name else 1) / p[0].numel()) ** 0.5)
    state = net.state_dict()
    path = tmp_path_factory.mktemp("weights") / FID_WEIGHTS_FILE
    torch.save(state, path)
    return path


def test_backbone_reads_grey_and_rgb_images(random_weights):
    run = inception_backbone(random_weights, batch=2)
    grey = torch.rand(3, 1, 28, 28) * 2 - 1
    feats, probs = run(grey)
    assert feats.shape == (3, 2048) and probs.shape == (3, 1008)
    assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-5)
    # A grey image is read as the RGB image with three equal channels.
    feats_rgb, _ = run(grey.expand(-1, 3, -1, -1))
    assert torch.allclose(feats, feats_rgb)
    # Different images give different features; the same images the same, batch size aside.
    other, _ = inception_backbone(random_weights, batch=3)(torch.rand(3, 3, 32, 32) * 2 - 1)
    assert not torch.allclose(other, feats_rgb)
    again, _ = inception_backbone(random_weights, batch=3)(grey)
    assert torch.allclose(again, feats, atol=1e-4)
    with pytest.raises(MetricUnavailable, match="grey or RGB"):
        run(torch.zeros(1, 2, 28, 28))


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/saddlepoint-pwned",))


def test_weights_file_is_never_unpickled(tmp_path):
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"Conv2d_1a_3x3.conv.weight": _Boom()}))
    with pytest.raises(MetricUnavailable, match="not a PyTorch file of tensors"):
        load_inception(evil)
    import os

    assert not os.path.exists("/tmp/saddlepoint-pwned")


def test_wrong_weights_and_missing_file_say_what_to_do(tmp_path):
    wrong = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(MetricUnavailable, match="does not fit the FID Inception-v3"):
        load_inception(wrong)
    with pytest.raises(MetricUnavailable, match="does not exist; download .*--inception-weights"):
        inception_weights_path(tmp_path / "nope.pth")


def test_offline_download_fails_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path))

    def offline(url, dst, hash_prefix=None, progress=True):
        assert url == FID_WEIGHTS_URL and hash_prefix == "6726825d"
        open(dst, "wb").write(b"partial")
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(MetricUnavailable, match="could not download .*--inception-weights"):
        inception_weights_path()
    assert not list((tmp_path / "weights").iterdir())  # no partial file left behind
    with pytest.raises(MetricUnavailable, match="no Inception weights"):
        inception_weights_path(download=False)
    # A file already in the data home is used without any download.
    (tmp_path / "weights" / FID_WEIGHTS_FILE).write_bytes(b"x")
    assert inception_weights_path() == tmp_path / "weights" / FID_WEIGHTS_FILE


def test_evaluate_an_rgb_run_with_the_inception_backbone(tmp_path, random_weights, capsys, monkeypatch):
    from saddlepoint.cli import main

    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path / "home"))
    monkeypatch.delenv("SADDLEPOINT_CACHE", raising=False)  # the reference is cached under the data home
    g = np.random.default_rng(0)
    images = g.integers(0, 255, size=(24, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", images=images)
    run = tmp_path / "run"
    assert main(["train", "mnist-dcgan", f"data={tmp_path / 'rgb.npz'}", "image_size=32", "base_channels=4",
                 "z_dim=8", "batch_size=8", "steps=2", "eval_every=0", "eval_samples=8", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    args = ["evaluate", str(run), "--metrics", "fid,kid,is,pr", "--samples", "12", "--reference-samples", "12",
            "--quiet"]
    # Data outside the MNIST family defaults to Inception; without weights offline: one clear line.
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert main(args) == 2
    assert "--inception-weights" in capsys.readouterr().err
    assert not (run / "eval.json").exists()
    assert main(args + ["--inception-weights", str(random_weights)]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert result["backbone"].startswith("Inception-v3") and result["fid"] > 0 and result["reference_fingerprint"]
    assert "training images" in result["reference"] and 1 <= result["is"] <= 1008
    assert list((tmp_path / "home" / "cache").glob("reference-rgb-*.npz"))
    # The MNIST backbone does not read RGB photographs.
    assert main(args + ["--backbone", "mnist"]) == 2
    assert "use --backbone inception" in capsys.readouterr().err
