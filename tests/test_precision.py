"""precision=auto measures this machine: the choice logic on fake timings, its cache, and that measuring leaves the
run as it was."""

import json

import pytest
import torch

from saddlepoint import resolve_config, train
from saddlepoint.families.gan import GANFamily
from saddlepoint.precision import choose_precision
from saddlepoint.trainer import build, run_config

IMG = ["base_channels=4", "batch_size=8", "z_dim=8", "eval_samples=16", "eval_every=0", "steps=2"]
BOTH = [torch.float32, torch.bfloat16]


def _fake(seconds):
    calls = []

    def measure(dtype, limit=None):
        calls.append(dtype)
        return seconds[dtype]

    return measure, calls


def test_the_faster_precision_is_chosen_and_cached(tmp_path):
    cache = tmp_path / "cache" / "precision.json"
    measure, calls = _fake({torch.float32: 1.0, torch.bfloat16: 0.4})
    dtype, why = choose_precision(measure, BOTH, "machine A | players", cache)
    assert dtype == torch.bfloat16 and "bf16 2.50×" in why and calls == BOTH
    again, why = choose_precision(lambda d, limit: pytest.fail("measured again"), BOTH, "machine A | players", cache)
    assert again == torch.bfloat16 and "cached" in why
    assert json.loads(cache.read_text())["machine A | players"]["choice"] == "bf16"
    measure, _ = _fake({torch.float32: 1.0, torch.bfloat16: 3.0})  # another machine: emulated bf16
    assert choose_precision(measure, BOTH, "machine B | players", cache)[0] == torch.float32


def test_a_small_gain_keeps_float32_and_a_read_only_cache_is_no_error(tmp_path):
    (tmp_path / "file").write_text("")
    measure, _ = _fake({torch.float32: 1.0, torch.bfloat16: 0.95})  # 5 %: within noise
    dtype, why = choose_precision(measure, BOTH, "k", tmp_path / "file" / "precision.json")
    assert dtype == torch.float32 and "bf16 1.05×" in why


def test_an_image_run_trains_in_what_it_measured_and_resumes_in_it(tmp_path, tiny_npz, monkeypatch):
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "cache"))  # its fake answer cached apart
    monkeypatch.setattr("saddlepoint.families.base.matmul_speed", lambda dtype, device: 1.0)  # bf16 plausible here
    monkeypatch.setattr(GANFamily, "_time_step", lambda self, contest, dtype, limit=None: {torch.float32: 1.0,
                                                                                            torch.bfloat16: 0.5}[dtype])
    _, cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG])
    model = build(cfg)
    assert model.precision == torch.bfloat16 and model.contest.precision == torch.bfloat16
    assert "bf16 2.00×" in model.precision_note
    result = train(cfg, out=tmp_path / "run", progress=False)
    assert result.summary["precision"] == "bf16"
    assert "bf16" in (tmp_path / "cache" / "precision.json").read_text()
    assert run_config(result.run_dir).precision == "bf16"  # resume trains in it without measuring


def test_measuring_leaves_the_run_as_it_was(tmp_path, tiny_npz, monkeypatch):
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "cache"))  # its fake answer cached apart
    built = {}
    for precision in ("auto", "fp32"):
        _, cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", *IMG, f"precision={precision}"])
        model = build(cfg)
        built[precision] = (torch.get_rng_state(), model.rng.get_state(), model.G.state_dict(), model.D.state_dict())
    (a_rng, a_data, a_g, a_d), (b_rng, b_data, b_g, b_d) = built["auto"], built["fp32"]
    assert torch.equal(a_rng, b_rng) and torch.equal(a_data, b_data)
    for k in b_g:
        assert torch.equal(a_g[k], b_g[k]), k
    for k in b_d:
        assert torch.equal(a_d[k], b_d[k]), k  # batch-norm statistics too: the trial ran on copies


def test_a_slow_precision_is_not_timed_further():
    import time

    from saddlepoint.precision import time_call

    calls = []
    assert time_call(lambda: calls.append(time.sleep(0.05)), limit=0.01) >= 0.05 and len(calls) == 2
    assert time_call(lambda: calls.append(1), reps=3) < 0.01 and len(calls) == 2 + 4


def test_a_slow_first_call_alone_does_not_disqualify_a_precision():
    """The first bf16 step on a new machine pays for oneDNN's kernel generation (seen here: 0.29× float32's speed
    from the first call, 1.4× from the next ones); only a second slow call gives up."""
    import time

    from saddlepoint.precision import time_call

    calls = []

    def first_slow():
        calls.append(1)
        time.sleep(0.05 if len(calls) == 1 else 0.001)

    assert time_call(first_slow, limit=0.01, reps=3) < 0.01 and len(calls) == 2 + 3


def test_two_d_players_stay_in_float32_without_measuring(monkeypatch):
    monkeypatch.setattr(GANFamily, "_time_step", lambda *a: pytest.fail("measured a 2-D MLP"))
    assert build(resolve_config("ring8", ["g_hidden=8", "d_hidden=8"])[1]).precision == torch.float32


def test_a_precision_whose_matrix_products_crawl_is_not_timed_on_the_players(tmp_path):
    measure, calls = _fake({torch.float32: 1.0, torch.bfloat16: 0.5})
    dtype, why = choose_precision(measure, BOTH, "k", None, probe=lambda dt: 0.1)
    assert dtype == torch.float32 and calls == [torch.float32] and "bf16 not timed" in why
    measure, calls = _fake({torch.float32: 1.0, torch.bfloat16: 0.5})
    assert choose_precision(measure, BOTH, "k", None, probe=lambda dt: 0.9)[0] == torch.bfloat16  # plausible: timed


def test_a_give_up_that_its_matrix_products_contradict_is_not_cached(tmp_path):
    """A bf16 step timed at 0.07× fp32 while bf16 matrix products run at 2× (a busy machine, seen on a shared
    2-core one) decides this run only: the next run measures again instead of reading fp32 from the cache."""
    cache = tmp_path / "precision.json"
    measure, _ = _fake({torch.float32: 1.0, torch.bfloat16: 14.0})
    dtype, why = choose_precision(measure, BOTH, "k", cache, probe=lambda dt: 2.0)
    assert dtype == torch.float32 and "not cached" in why and not cache.exists()
    measure, calls = _fake({torch.float32: 1.0, torch.bfloat16: 0.5})  # the next run, on a quiet machine
    assert choose_precision(measure, BOTH, "k", cache, probe=lambda dt: 2.0)[0] == torch.bfloat16
    assert calls == BOTH and "bf16" in cache.read_text()
    measure, _ = _fake({torch.float32: 1.0, torch.bfloat16: 14.0})  # slow products too: believed and cached
    assert choose_precision(measure, BOTH, "k2", cache, probe=lambda dt: 0.5)[0] == torch.float32
    assert "k2" in cache.read_text()


def test_the_machine_is_named_with_its_thread_count():
    from saddlepoint.precision import machine_id

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert machine_id(torch.device("cpu")).split(";")[0].endswith(", 1 thread)")
        torch.set_num_threads(2)
        assert machine_id(torch.device("cpu")).split(";")[0].endswith(", 2 threads)")
    finally:
        torch.set_num_threads(before)
