"""The live lab: its session against the trainer, its server's refusals, and the page in a real headless browser
(Playwright driving Debian's Chromium, which `.ci/run` installs)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from saddlepoint.lab.server import MAX_MESSAGE, parse_message
from saddlepoint.lab.session import LabError, LabSession

from conftest import free_port, listening_addresses

# ---- the session ----------------------------------------------------------------------------------------------
def test_critic_steps_move_the_heat_map_and_not_the_generators_points():
    s = LabSession({"seed": 1})
    s.step("both", 3)
    before = s.frame()
    s.step("critic", 5)
    after = s.frame()
    assert (after["step"], after["critic_steps"]) == (3, before["critic_steps"] + 5)
    assert after["heat"]["values"] != before["heat"]["values"]
    assert after["fake"] == before["fake"] and after["manifold"] == before["manifold"]
    s.step("generator", 1)
    moved = s.frame()
    assert moved["step"] == 4 and moved["critic_steps"] == after["critic_steps"] and moved["fake"] != after["fake"]
    assert len(moved["arrows"]) > 0 and all(len(a) == 4 for a in moved["arrows"])
    d = moved["divergences"]
    assert d["w1"] > 0 and 0 <= d["js"] <= 0.6932 and d["modes_of"] == 25


def test_a_saved_session_trains_again_to_the_same_weights_and_samples(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from saddlepoint.cli import main

    monkeypatch.chdir(tmp_path)
    s = LabSession({"seed": 2, "schedule": "generator-first", "optimizer": "sgd", "lr_g": 0.01, "lr_d": 0.01,
                    "game": "hinge", "data": "ring8", "g_hidden": 64, "d_hidden": 64})
    s.step("both", 12)
    saved = s.save(tmp_path / "runs")
    assert main(["sample", saved["run"], "-n", "64", "-o", str(tmp_path / "s.png")]) == 0
    assert main(["train", saved["recipe"], "--out", str(tmp_path / "again"), "--quiet"]) == 0
    ck = tmp_path / "again" / "checkpoints"
    tensors = {}
    for f in (ck / (ck / "latest").read_text().strip()).rglob("*.safetensors"):
        tensors.update(load_file(str(f)))
    for name, value in s.model.G.state_dict().items():
        assert torch.equal(tensors[f"G.{name}"], value), name


def test_the_force_field_is_each_points_own_gradient():
    s = LabSession({"seed": 4, "game": "hinge"})
    s.step("both", 3)
    pts = torch.randn(6, 2)
    score, force = s.model.critic_field(pts)
    assert s.model.critic_field(pts, force=False)[1] is None
    game = s.model.contest.game
    for i in range(len(pts)):  # one point at a time, as the definition reads
        x = pts[i:i + 1].clone().requires_grad_(True)
        sc, _ = s.model.critic_field(x, force=False)
        (g,) = torch.autograd.grad(game.g_loss(s.model.D(x / s.model.scale)), x)
        assert torch.allclose(force[i], -g[0], atol=1e-5), i
        assert torch.allclose(score[i], sc[0])


def test_families_without_a_critic_run_with_the_panels_that_apply():
    s = LabSession({"family": "gmmn", "seed": 0})
    s.step("both", 2)
    f = s.frame()
    assert not f["has_critic"] and "heat" not in f and f["step"] == 2
    with pytest.raises(LabError, match="no critic"):
        s.step("critic")


def test_refused_settings_say_what_to_do_and_keep_nothing_half_built():
    for settings, says in (({"data": "mnist"}, "not 2-D"), ({"lr_g": -1}, "lr_g"), ({"colour": "red"}, "no setting"),
                           ({"family": "vae-ish"}, "does not run in the lab"), ({"game": "hinj"}, "hinge")):
        with pytest.raises(LabError, match=says):
            LabSession(settings)


# ---- the server -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, says", [
    ("not json", "not JSON"), (b"\x00\x01", "not binary"), ('["op"]', "JSON object"), ('{"op": "explode"}', "unknown op"),
    ('{"op": "step", "n": 0}', "from 1 to 1000"), ('{"op": "step", "which": "both", "n": true}', "whole number"),
    ('{"op": "step", "which": "judge"}', '"which"'), ('{"op": "settings", "settings": {"game": [1]}}', "string, a number"),
    ("x" * (MAX_MESSAGE + 1), "limit is"),
])
def test_malformed_messages_are_refused_in_one_line(raw, says):
    with pytest.raises(LabError, match=says):
        parse_message(raw)


def test_the_server_answers_bad_messages_and_goes_on():
    from fastapi.testclient import TestClient

    from saddlepoint.lab.server import create_app

    with TestClient(create_app()) as client:
        assert "saddlepoint lab" in client.get("/").text
        assert client.get("/static/lab.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/static/../server.py").status_code == 404
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "settings"
            assert ws.receive_json()["type"] == "frame"
            for bad in ("{", "x" * (2 * MAX_MESSAGE), '{"op": "settings", "settings": {"data": "mnist"}}'):
                ws.send_text(bad)
                assert ws.receive_json()["type"] == "error"
            ws.send_bytes(b"\xff")
            assert ws.receive_json()["type"] == "error"
            ws.send_text(json.dumps({"op": "step", "which": "critic", "n": 2}))
            frame = ws.receive_json()
            assert frame["type"] == "frame" and frame["critic_steps"] == 2


# ---- the page in a real browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    port = free_port()
    runs = tmp_path_factory.mktemp("labruns")
    proc = subprocess.Popen([sys.executable, "-m", "saddlepoint", "lab", "--port", str(port), "--runs", str(runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield {"url": f"http://127.0.0.1:{port}/", "port": port, "runs": runs, "printed": line, "proc": proc}
    proc.terminate()
    proc.wait(timeout=20)


def test_the_server_listens_on_loopback_only(lab_server):
    assert lab_server["printed"].startswith(f"saddlepoint lab: http://127.0.0.1:{lab_server['port']}/")
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("reads Linux's /proc/net/tcp")
    assert listening_addresses(lab_server["port"]) == {"0100007F"}  # 127.0.0.1, nothing else


def test_the_page_steps_the_critic_alone_changes_the_game_and_saves_a_run(lab_server, browser, tmp_path):
    from saddlepoint.cli import main

    page = browser.new_page()
    page.goto(lab_server["url"])
    page.wait_for_function("window.lab && window.lab.frames > 0 && window.lab.lastFrame.heat", timeout=30000)
    first = page.evaluate("JSON.stringify([lab.lastFrame.fake, lab.lastFrame.heat.values])")
    for _ in range(5):
        page.click("#btn-critic")
    page.wait_for_function("lab.lastFrame.critic_steps === 5", timeout=30000)
    assert page.inner_text("#critic-counter") == "5" and page.inner_text("#step-counter") == "0"
    fake, heat = json.loads(first)
    assert page.evaluate("JSON.stringify(lab.lastFrame.fake)") == json.dumps(fake, separators=(",", ":"))
    assert json.loads(page.evaluate("JSON.stringify(lab.lastFrame.heat.values)")) != heat
    # another game and schedule, from the form
    page.select_option("#set-game", "hinge")
    page.select_option("#set-schedule", "generator-first")
    page.click("#btn-apply")
    page.wait_for_function("lab.settings.game === 'hinge' && lab.settings.schedule === 'generator-first'",
                           timeout=30000)
    page.wait_for_function("lab.lastFrame.critic_steps === 0", timeout=30000)
    page.click("#btn-both")
    page.wait_for_function("lab.lastFrame.step === 1 && lab.lastFrame.critic_steps === 1", timeout=30000)
    page.click("#btn-save")
    page.wait_for_function("lab.saved !== null", timeout=60000)
    saved = page.evaluate("lab.saved")
    assert "saddlepoint train" in page.inner_text("#saved")
    assert main(["sample", saved["run"], "-n", "16", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
    page.close()


def test_the_page_survives_malformed_and_oversized_messages(lab_server, browser):
    page = browser.new_page()
    page.goto(lab_server["url"])
    page.wait_for_function("window.lab && window.lab.frames > 0", timeout=30000)
    page.evaluate(f"""() => {{ lab.socket.send('not json'); lab.socket.send('{{"op": 7}}');
                               lab.socket.send('y'.repeat({MAX_MESSAGE * 4})); }}""")
    page.wait_for_function("lab.errors.length >= 3", timeout=30000)
    page.click("#btn-both")
    page.wait_for_function("lab.lastFrame.step === 1", timeout=30000)
    assert "limit" in page.inner_text("#error") or page.evaluate("lab.errors.some(e => e.includes('limit'))")
    # a message over the transport's own limit closes that socket only: the server serves a new page
    page.evaluate("lab.socket.send('z'.repeat(2 * 1024 * 1024))")
    page.wait_for_timeout(500)
    again = browser.new_page()
    again.goto(lab_server["url"])
    again.wait_for_function("window.lab && window.lab.frames > 0", timeout=30000)
    assert lab_server["proc"].poll() is None
    page.close()
    again.close()


def test_play_and_pause_stream_frames(lab_server, browser):
    page = browser.new_page()
    page.goto(lab_server["url"])
    page.wait_for_function("window.lab && window.lab.frames > 0", timeout=30000)
    page.click("#btn-play")
    page.wait_for_function("lab.lastFrame.step >= 10", timeout=30000)
    page.click("#btn-pause")
    page.wait_for_function("lab.lastFrame.playing === false", timeout=30000)
    held = page.evaluate("lab.lastFrame.step")
    page.wait_for_timeout(600)
    assert page.evaluate("lab.lastFrame.step") == held
    # a family without a critic: its form, no critic buttons, no heat map; steps still run
    page.select_option("#set-family", "vae")
    page.wait_for_function("lab.settings.family === 'vae' && lab.lastFrame.family === 'vae'", timeout=30000)
    assert not page.is_visible("#btn-critic") and page.is_visible("#btn-both")
    assert page.query_selector("#set-game") is None and page.query_selector("#set-lr_g") is not None
    page.click("#btn-both")
    page.wait_for_function("lab.lastFrame.step === 1 && !lab.lastFrame.heat", timeout=30000)
    page.close()


# ---- saddlepoint report -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reported_run(tmp_path_factory):
    from saddlepoint.cli import main

    root = tmp_path_factory.mktemp("report")
    run = root / "run"
    assert main(["train", "ring8", "steps=40", "log_every=10", "sample_every=20", "eval_every=20", "z_dim=1",
                 "g_hidden=32", "d_hidden=32", "--out", str(run), "--quiet"]) == 0
    assert main(["report", str(run)]) == 0
    return run


def test_the_report_is_one_self_contained_page(reported_run, capsys):
    from saddlepoint.cli import main

    page = (reported_run / "report.html").read_text()
    assert page.count("<img") == 5  # curves, samples at step 20 and at the end, critic, manifold
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    assert "step 20" in page and "config.yaml" in page and "summary.json" in page
    assert main(["report", str(reported_run.parent / "nothing-here")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_several_runs_reported_side_by_side_on_one_page(reported_run, capsys):
    from saddlepoint.cli import main

    other = reported_run.parent / "hinge"
    assert main(["train", "ring8", "game=hinge", "steps=30", "log_every=10", "eval_every=30", "z_dim=1", "g_hidden=32",
                 "d_hidden=32", "--out", str(other), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["report", str(reported_run), str(other)]) == 0
    path = reported_run.parent / "compare.html"
    assert capsys.readouterr().out.strip() == str(path)
    page = path.read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    assert page.count("<img") == 3  # the curves, and each run's last samples
    from html.parser import HTMLParser

    class Images(HTMLParser):
        attrs: list = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.attrs.append(sorted(a for a, _ in attrs))

    parser = Images()
    parser.feed(page)
    assert parser.attrs == [["alt", "src"]] * 3  # well formed: no attribute broken by a quote
    differs = page.split("Where their configs differ")[1].split("<h2>")[0]
    assert "<td>game</td><td>nonsaturating</td><td>hinge</td>" in differs
    assert "<td>steps</td><td>40</td><td>30</td>" in differs and "<td>seed</td>" not in differs
    reached = page.split("What each reached")[1].split("<h2>")[0]
    assert "<td>run</td><td>ring8</td><td>40/40</td><td>finished</td>" in reached  # the run called "run"
    assert "<td>hinge</td><td>ring8</td><td>30/30</td><td>finished</td>" in reached and "/8 modes" in reached
    assert main(["report", str(reported_run), str(reported_run.parent / "nothing-here"), "-o",
                 str(reported_run.parent / "x.html")]) == 2
    assert "nothing-here is not a run directory" in capsys.readouterr().err
    assert not (reported_run.parent / "x.html").exists()


def test_runs_side_by_side_name_every_run_in_the_legend():
    from saddlepoint.plots import plot_runs, plt

    rows = [{"step": s, "loss/D": 1.0 / s, "eval/x": float(s)} for s in (1, 2, 3)]
    fig = plot_runs({"a": rows, "b": rows, "c": [{"step": s, "eval/x": 2.0 * s} for s in (1, 2, 3)]}, "t")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "c"]  # c has no loss/D panel line
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["loss/D", "eval/x"]
    plt.close(fig)
    assert plot_runs({"a": rows, "c": [{"step": 1, "other": 1.0}]}, "t") is None  # nothing shared


def test_the_report_renders_offline_in_the_browser(reported_run, browser):
    page = browser.new_page()
    outside = []
    page.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
               if not route.request.url.startswith(("file:", "data:")) else route.continue_())
    page.goto((reported_run / "report.html").as_uri())
    sizes = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
    assert len(sizes) == 5 and all(w and w > 100 for w in sizes)
    assert outside == []
    assert "the generator's manifold" in page.inner_text("body")
    page.close()


def test_points_drawn_on_the_page_become_the_data(lab_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(lab_server["url"])
    page.wait_for_function("window.lab && window.lab.frames > 0", timeout=30000)
    page.check("#draw")
    box = page.locator("#plane").bounding_box()
    for i in range(12):  # a diagonal stroke of clicks
        page.mouse.click(box["x"] + 40 + 35 * i, box["y"] + 40 + 35 * i)
    assert page.inner_text("#drawn-count") == "12"
    page.click("#btn-use-points")
    page.wait_for_function("String(lab.settings.data).endsWith('.csv')", timeout=30000)
    data = page.evaluate("lab.settings.data")
    assert Path(data).parent == lab_server["runs"].resolve() / "lab-points"
    rows = Path(data).read_text().splitlines()[1:]
    xs = [float(r.split(",")[0]) for r in rows]
    ys = [float(r.split(",")[1]) for r in rows]
    assert len(rows) == 12 and xs == sorted(xs) and ys == sorted(ys, reverse=True)  # down and to the right
    page.wait_for_function("lab.lastFrame.step === 0", timeout=30000)
    # a path outside the lab's points folder is refused
    page.evaluate("lab.send({op: 'settings', settings: {data: '/etc/passwd.csv'}})")
    page.wait_for_function("lab.errors.some(e => e.includes('draw points'))", timeout=30000)
    page.close()
