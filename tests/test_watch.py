"""The runs page (`saddlepoint watch`): what its server reads of a folder of runs and refuses to read, and the page in
a real headless browser following a run as it trains."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

from saddlepoint.cli import main
from saddlepoint.lab import watch

from conftest import free_port, listening_addresses


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A short grid25 run that finished: its pictures over training, its summary, its metrics."""
    runs = tmp_path_factory.mktemp("watchruns")
    assert main(["train", "grid25", "steps=60", "log_every=10", "eval_every=30", "sample_every=20", "--out",
                 str(runs / "done"), "--quiet"]) == 0
    assert main(["train", "grid25", "game=hinge", "steps=40", "log_every=10", "eval_every=20", "--out",
                 str(runs / "other"), "--quiet"]) == 0
    return runs


def test_the_api_lists_runs_and_serves_their_pictures_and_numbers(finished_run):
    from fastapi.testclient import TestClient

    from saddlepoint.lab.server import create_app

    with TestClient(create_app(finished_run)) as client:
        assert "saddlepoint runs" in client.get("/runs").text
        listed = client.get("/api/runs").json()
        assert listed["folder"] == str(finished_run.resolve())
        assert [r["name"] for r in listed["runs"]] == ["other", "done"]  # newest first
        run = listed["runs"][1]
        assert (run["name"], run["recipe"], run["step"], run["steps"], run["state"]) == ("done", "grid25", 60, 60,
                                                                                       "finished")
        assert "/25 modes" in run["result"] and run["left"] is None
        pics = client.get("/api/runs/done/pictures").json()
        # the grids over training, in order (the last step's is samples.png)
        assert [p["step"] for p in pics if p["step"] is not None] == [20, 40]
        assert {"samples.png", "critic.png", "curves.png"} <= {p["name"] for p in pics}
        png = client.get("/api/runs/done/picture/samples-00000040.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == (finished_run / "done" / "samples-00000040.png").read_bytes()
        m = client.get("/api/runs/done/metrics").json()
        assert [r["step"] for r in m["rows"]] == [10, 20, 30, 40, 50, 60] and not m["reset"] and not m["more"]
        assert "eval/modes" in m["rows"][2] and "loss/D" in m["rows"][0]
        again = client.get(f"/api/runs/done/metrics?since={m['next']}&file={m['file']}").json()
        assert again["rows"] == [] and again["next"] == m["next"]
        about = client.get("/api/runs/done/about").json()
        assert about["config"]["steps"] == 60 and about["summary"]["modes"] == int(run["result"].split("/")[0])
        assert about["state"] == "finished" and about["run"]["recipe"] == "grid25" and about["result"] == run["result"]
        differs = client.get("/api/compare?run=done&run=other").json()["differs"]
        assert differs["game"] == ["nonsaturating", "hinge"] and differs["steps"] == [60, 40]
        assert "recipe" not in differs and "seed" not in differs  # only what differs
        assert client.get("/api/compare?run=done&run=..%2Fdone").status_code == 404


def test_a_run_directory_given_as_the_folder_is_watched_alone(finished_run):
    from fastapi.testclient import TestClient

    from saddlepoint.lab.server import create_app

    with TestClient(create_app(finished_run / "done")) as client:
        assert [r["name"] for r in client.get("/api/runs").json()["runs"]] == ["done"]
        assert client.get("/api/runs/done/picture/samples.png").status_code == 200
        assert client.get("/api/runs/other/about").status_code == 404  # its neighbours are not served


def test_the_server_reads_nothing_but_the_runs_and_their_pictures(finished_run, tmp_path):
    from fastapi.testclient import TestClient

    from saddlepoint.lab.server import create_app

    (finished_run / "linked").symlink_to(finished_run / "done")  # a run linked in from elsewhere is listed
    (finished_run / "notes").mkdir()  # a folder that is not a run
    (finished_run / "done" / "notes.txt").write_text("not a picture")
    try:
        with TestClient(create_app(finished_run)) as client:
            assert sorted(r["name"] for r in client.get("/api/runs").json()["runs"]) == ["done", "linked", "other"]
            assert client.get("/api/runs/linked/about").json()["config"]["steps"] == 60
            for url in ("/api/runs/..%2F..%2Fetc/about", "/api/runs/../pictures", "/api/runs/nope/metrics",
                        "/api/runs/notes/about", "/api/runs/.hidden/about", "/api/runs/%2Fetc/about",
                        "/api/runs/done/picture/config.yaml", "/api/runs/done/picture/..%2Fdone%2Fsamples.png",
                        "/api/runs/done/picture/notes.txt", "/api/runs/done/picture/summary.json",
                        "/api/runs/done/picture/checkpoints", "/static/runs.html"):
                r = client.get(url)
                assert r.status_code == 404, url
            assert "is not a run" in client.get("/api/runs/nope/about").json()["error"]
            assert client.get("/api/runs/done/metrics?since=-5").json()["reset"]
            assert client.get("/api/runs/done/metrics?since=abc").status_code == 422  # refused, and the server goes on
            assert client.get("/api/runs").status_code == 200
    finally:
        (finished_run / "linked").unlink()


def test_the_servers_answer_only_to_their_own_address_when_they_listen_on_loopback():
    from fastapi.testclient import TestClient

    from saddlepoint.lab.server import create_app

    with TestClient(create_app(allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1:8050") as client:
        assert client.get("/api/runs").status_code == 200
        # a page elsewhere whose name was re-pointed at this machine (DNS rebinding) is refused
        assert client.get("/api/runs", headers={"host": "evil.example:8050"}).status_code == 400
        assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_metrics_are_read_once_in_whole_rows_and_again_when_the_trainer_rewrites_them(tmp_path, monkeypatch):
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": s, "time": s / 10, "loss/D": s / 100}) + "\n" for s in (1, 2, 3)))
    first = watch.metrics_since(tmp_path)
    assert [r["step"] for r in first["rows"]] == [1, 2, 3] and first["next"] == log.stat().st_size
    with open(log, "a") as f:
        f.write('{"step": 4, "loss/D": NaN}\n{"step": 5, "lo')  # a non-finite number, and a row being written
    second = watch.metrics_since(tmp_path, first["next"], first["file"])
    assert second["rows"] == [{"step": 4, "loss/D": None}] and not second["reset"]  # JSON has no NaN
    with open(log, "a") as f:
        f.write('ss/D": 0.5}\n')
    third = watch.metrics_since(tmp_path, second["next"], second["file"])
    assert third["rows"] == [{"step": 5, "loss/D": 0.5}]
    # a resume or a rollback forgets the rows after its checkpoint: the file is replaced by a shorter one
    tmp = tmp_path / ".m.tmp"
    tmp.write_text(json.dumps({"step": 1, "loss/D": 0.01}) + "\n" + json.dumps({"step": 2, "loss/D": 0.7}) + "\n")
    os.replace(tmp, log)
    fourth = watch.metrics_since(tmp_path, third["next"], third["file"])
    assert fourth["reset"] and [r["loss/D"] for r in fourth["rows"]] == [0.01, 0.7]
    # a long log comes in pieces that add up to it, each ending at a whole row
    log.write_text("".join(json.dumps({"step": s, "loss/D": 1.0}) + "\n" for s in range(1, 501)))
    monkeypatch.setattr(watch, "MAX_READ", 1000)
    rows, since, fid, pieces = [], 0, None, 0
    while True:
        part = watch.metrics_since(tmp_path, since, fid)
        rows += part["rows"]
        since, fid, pieces = part["next"], part["file"], pieces + 1
        if not part["more"]:
            break
    assert [r["step"] for r in rows] == list(range(1, 501)) and pieces > 10
    assert watch.metrics_since(tmp_path / "none") == {"file": None, "next": 0, "rows": [], "reset": False,
                                                      "more": False}


def test_watch_refuses_a_missing_folder_and_warns_off_loopback(tmp_path, capsys, monkeypatch):
    assert main(["watch", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    served = {}
    monkeypatch.setattr("saddlepoint.lab.server.serve", lambda *a, **k: served.update(args=a, **k))
    assert main(["watch", str(tmp_path), "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert "lets other machines reach the runs page" in capsys.readouterr().err
    assert served["args"] == ("0.0.0.0", 8123, str(tmp_path)) and served["page"] == "runs"
    assert main(["watch", str(tmp_path), "--port", "70000"]) == 2


def _watch_server(runs):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "saddlepoint", "watch", str(runs), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout.readline().startswith(f"saddlepoint watch: http://127.0.0.1:{port}/runs")
    _wait_listening(port, server)
    return server, port


def test_runs_ticked_on_the_page_are_compared_a_chart_per_number_they_share(browser, finished_run):
    server, port = _watch_server(finished_run)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/runs#done")
        page.wait_for_function("watch.polls > 0 && watch.rows.length === 6", timeout=30000)
        assert page.is_hidden("#compare")
        page.click('tr[data-run="other"] input.compare')
        assert page.is_hidden("#compare")  # one run is no comparison
        page.click('tr[data-run="done"] input.compare')
        page.wait_for_function("document.querySelectorAll('#compare-charts canvas').length > 0", timeout=30000)
        # ticking a run does not choose it
        assert page.evaluate("[watch.selected, watch.compared]") == ["done", ["other", "done"]]
        keys = page.evaluate("[...document.querySelectorAll('#compare-charts canvas')].map((c) => c.dataset.key)")
        assert {"loss/D", "loss/G", "eval/modes", "eval/high_quality"} <= set(keys)
        assert page.inner_text("#compare-title").startswith("other, done: ")
        differs = page.inner_text("#compare-differs")
        assert "game\thinge\tnonsaturating" in differs and "steps\t40\t60" in differs and "seed" not in differs
        page.wait_for_timeout(2500)  # a poll later the logs are read on from where they ended, not appended again
        assert page.evaluate("[watch.logs.done.rows.length, watch.logs.other.rows.length]") == [6, 4]
        page.click('tr[data-run="other"] input.compare')
        assert page.is_hidden("#compare")
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_long_log_is_read_in_pieces_and_drawn_thinned(browser, tmp_path):
    run = tmp_path / "runs" / "long"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("steps: 200000\n")
    with open(run / "metrics.jsonl", "w") as f:  # 200,000 rows, about 13 MB: four reads of the page
        for s in range(1, 200001):
            f.write(json.dumps({"step": s, "time": s / 1000, "loss/D": 1 + (s % 7) / 7}) + "\n")
    pictured = tmp_path / "runs" / "pictured"  # a run with a picture, shown first
    pictured.mkdir()
    (pictured / "config.yaml").write_text("steps: 10\n")
    Image.new("RGB", (64, 64), (200, 30, 30)).save(pictured / "samples-00000005.png")
    server, port = _watch_server(tmp_path / "runs")
    try:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/runs#pictured")
        page.wait_for_function("document.getElementById('snapshot').naturalWidth === 64", timeout=30000)
        page.click('tr[data-run="long"]')
        page.wait_for_function("watch.rows.length === 200000 && document.querySelectorAll('#charts canvas').length",
                               timeout=60000)
        page.wait_for_function("document.getElementById('snapshot').classList.contains('hidden')", timeout=10000)
        assert page.inner_text("#snapshot-caption").startswith("no sample grid yet")  # not the other run's picture
        assert errors == [] and page.evaluate("watch.rows[199999].step") == 200000
        assert page.evaluate("series(watch.rows, 'loss/D', '').pts.length") <= 2001
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait_listening(port: int, proc, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not start: {proc.stdout.read() if proc.poll() is not None else ''}")


def test_the_page_follows_a_run_as_it_trains_and_sees_it_stop(browser, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    server, port = _watch_server(runs)
    trainer = None
    try:
        if os.path.exists("/proc/net/tcp"):
            assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        foreign = urllib.request.Request(f"http://127.0.0.1:{port}/api/runs", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError, match="400"):  # a name re-pointed at this machine: refused
            urllib.request.urlopen(foreign, timeout=10)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/runs")
        page.wait_for_function("window.watch && watch.polls > 0", timeout=30000)
        assert page.is_visible("#empty")  # no runs yet, and the page says how to make one
        trainer = subprocess.Popen([sys.executable, "-m", "saddlepoint", "train", "grid25", "steps=200000",
                                    "log_every=25", "eval_every=0", "sample_every=250", "--out", str(runs / "live")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        page.wait_for_function("watch.runs.length === 1 && watch.runs[0].state === 'training' && "
                               "watch.selected === 'live' && watch.rows.length > 2", timeout=60000)
        seen = page.evaluate("[watch.runs[0].step, watch.rows.length]")
        page.wait_for_function(f"watch.runs[0].step > {seen[0]} && watch.rows.length > {seen[1]}", timeout=30000)
        assert "steps/s" in page.inner_text("#run-progress") and "to go" in page.inner_text("#run-progress")
        assert "config.yaml" in page.inner_html("#tables") and "summary.json" not in page.inner_html("#tables")
        assert page.locator("#charts canvas").count() >= 2  # the losses and the critic's scores at least
        page.wait_for_function("document.getElementById('snapshot').complete && "
                               "document.getElementById('snapshot').naturalWidth > 0", timeout=30000)
        assert page.inner_text("#snapshot-caption").startswith("samples at step ")
        out = subprocess.run([sys.executable, "-m", "saddlepoint", "runs", str(runs)], capture_output=True,
                             text=True, timeout=60).stdout
        assert "training" in out and "steps/s, about" in out and "to go" in out
        trainer.send_signal(signal.SIGTERM)  # as a cluster's preemption would: the run keeps its checkpoint
        trainer.wait(timeout=60)
        page.wait_for_function("watch.runs[0].state === 'stopped' && watch.aboutState === 'stopped'", timeout=30000)
        assert page.inner_text("#runs tbody tr td.state") == "stopped" and page.inner_text("#run-progress")
        assert "to go" not in page.inner_text("#run-progress")
        assert page.evaluate("watch.rows[watch.rows.length - 1].step") <= page.evaluate("watch.runs[0].step") + 25
    finally:
        if trainer is not None and trainer.poll() is None:
            trainer.kill()
        server.terminate()
        server.wait(timeout=20)
