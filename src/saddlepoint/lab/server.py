"""The live lab's web server: the page (shipped in the package, nothing from the internet) and one WebSocket per
open page, over which the page sends actions as JSON and the server streams frames of a :class:`LabSession`.

Every message is checked before it is acted on: text only, at most :data:`MAX_MESSAGE` bytes, a JSON object with
a known ``op`` and well-typed fields.  A bad one is answered ``{"type": "error", "message": ...}`` and the session
goes on; nothing a page sends can stop the server."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from ..runlist import config_differences
from ..runs import RunError
from . import watch
from .session import LabError, LabSession, choices

__all__ = ["create_app", "serve", "is_loopback", "MAX_MESSAGE", "parse_message"]

MAX_MESSAGE = 64 * 1024  # bytes of one message from the page (a settings message is well under 1 KiB; drawn points
#                          take about 30 bytes each)
MAX_STEPS = 1000  # steps one action may ask for
OPS = {"settings", "reset", "play", "pause", "speed", "step", "save", "points"}


def parse_message(raw: str | bytes | None) -> dict[str, Any]:
    """One message from the page → a checked action (LabError with one line if it is refused)."""
    if raw is None or isinstance(raw, bytes):
        raise LabError("the lab reads JSON text messages, not binary ones")
    if len(raw.encode()) > MAX_MESSAGE:
        raise LabError(f"message of {len(raw.encode())} bytes refused: the limit is {MAX_MESSAGE}")
    try:
        msg = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LabError(f"message is not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
        raise LabError('a message is a JSON object with an "op": ' + ", ".join(sorted(OPS)))
    op = msg["op"]
    if op not in OPS:
        raise LabError(f"unknown op {op!r}; the lab knows " + ", ".join(sorted(OPS)))
    if op == "settings" and not isinstance(msg.get("settings"), dict):
        raise LabError('"settings" needs an object of settings, e.g. {"op": "settings", "settings": {"game": "hinge"}}')
    if op == "settings" and any(not isinstance(v, (str, int, float, bool)) for v in msg["settings"].values()):
        raise LabError("each setting is a string, a number or true/false")
    for name, lo, hi in (("n", 1, MAX_STEPS), ("steps_per_frame", 1, 200), ("seed", 0, 2 ** 31 - 1)):
        if name in msg and (not isinstance(msg[name], int) or isinstance(msg[name], bool) or not lo <= msg[name] <= hi):
            raise LabError(f'"{name}" must be a whole number from {lo} to {hi}')
    if op == "points" and not isinstance(msg.get("points"), list):
        raise LabError('"points" needs a list of [x, y] pairs')
    if op == "step" and msg.get("which", "both") not in ("both", "critic", "generator"):
        raise LabError('"which" is "both", "critic" or "generator"')
    return msg


def create_app(runs_root: str | Path = "runs", allowed_hosts: list[str] | None = None):
    """The FastAPI application: ``/`` the lab's page, ``/static/…`` the pages' scripts and style, ``/api/choices``
    what each setting offers, ``/ws`` the live session; ``/runs`` the runs page (``saddlepoint watch``) and
    ``/api/runs…`` what it reads of the runs under ``runs_root`` (:mod:`saddlepoint.lab.watch`).  ``allowed_hosts``:
    the only names a request may give as its Host (a server on loopback answers to its own address only, so that a
    web page elsewhere cannot reach it through a name re-pointed at this machine)."""
    runs_root = Path(runs_root)
    static = resources.files(__package__) / "static"
    app = FastAPI(title="saddlepoint lab", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (static / "index.html").read_text(encoding="utf-8")

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        names = {p.name for p in static.iterdir()}
        if name not in names or name.endswith(".html"):
            return Response("not found", status_code=404)
        return Response((static / name).read_text(encoding="utf-8"),
                        media_type=types.get(Path(name).suffix, "text/plain"))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page() -> str:
        return (static / "runs.html").read_text(encoding="utf-8")

    @app.exception_handler(watch.NotFound)
    def missing(request, e: watch.NotFound) -> JSONResponse:  # a name the page sent that is not a run or picture
        return JSONResponse({"error": str(e)}, status_code=404)

    @app.get("/api/runs")
    def api_runs() -> JSONResponse:
        return JSONResponse({"folder": str(runs_root.resolve()), "runs": watch.runs_table(runs_root)})

    @app.get("/api/compare")
    def api_compare(run: list[str] = Query(default=[])) -> JSONResponse:
        paths = [watch.run_dir(runs_root, name) for name in run]
        return JSONResponse(watch.sanitize({"runs": run, "differs": config_differences(paths)}))

    @app.get("/api/runs/{name}/metrics")
    def api_metrics(name: str, since: int = 0, file: str | None = None) -> JSONResponse:
        return JSONResponse(watch.metrics_since(watch.run_dir(runs_root, name), since, file))

    @app.get("/api/runs/{name}/pictures")
    def api_pictures(name: str) -> JSONResponse:
        return JSONResponse(watch.pictures(watch.run_dir(runs_root, name)))

    @app.get("/api/runs/{name}/picture/{picture}")
    def api_picture(name: str, picture: str) -> Response:
        path = watch.picture_path(watch.run_dir(runs_root, name), picture)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})

    @app.get("/api/runs/{name}/about")
    def api_about(name: str) -> JSONResponse:
        return JSONResponse(watch.about(watch.run_dir(runs_root, name)))

    @app.get("/api/choices")
    def api_choices() -> JSONResponse:
        return JSONResponse(choices())

    @app.websocket("/ws")
    async def live(ws: WebSocket) -> None:
        await ws.accept()
        inbox: asyncio.Queue = asyncio.Queue()

        async def read() -> None:
            try:
                while True:
                    m = await ws.receive()
                    if m["type"] == "websocket.disconnect":
                        break
                    await inbox.put(m.get("text") if m.get("text") is not None else m.get("bytes"))
            except (WebSocketDisconnect, RuntimeError):
                pass
            await inbox.put(StopAsyncIteration)

        reader = asyncio.create_task(read())
        try:
            await _session(ws, inbox, runs_root)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()

    return app


async def _session(ws, inbox: asyncio.Queue, runs_root: Path) -> None:
    points_dir = runs_root / "lab-points"
    session = await asyncio.to_thread(LabSession, None, points_dir)
    playing, per_frame = False, 5

    async def send(obj: dict[str, Any]) -> None:
        await ws.send_text(json.dumps(obj, allow_nan=False))

    async def frame() -> None:
        await send(watch.sanitize({**await asyncio.to_thread(session.frame), "playing": playing}))

    await send({"type": "settings", "settings": session.settings, "choices": choices(session.cfg)})
    await frame()
    while True:
        try:
            raw = await (asyncio.wait_for(inbox.get(), timeout=0.001) if playing else inbox.get())
        except asyncio.TimeoutError:
            try:
                await asyncio.to_thread(session.step, "both", per_frame)
            except (ValueError, RunError) as e:
                playing = False
                await send({"type": "error", "message": str(e)})
            await frame()
            continue
        if raw is StopAsyncIteration:
            return
        try:
            msg = parse_message(raw)
            op = msg["op"]
            if op == "settings":
                fresh = await asyncio.to_thread(LabSession, msg["settings"], points_dir)
                session, playing = fresh, False
                await send({"type": "settings", "settings": session.settings, "choices": choices(session.cfg)})
            elif op == "reset":
                settings = dict(session.settings)
                if "seed" in msg:
                    settings["seed"] = msg["seed"]
                session, playing = await asyncio.to_thread(LabSession, settings, points_dir), False
                await send({"type": "settings", "settings": session.settings, "choices": choices(session.cfg)})
            elif op == "points":
                settings = {**session.settings, "data": session.drawn_points_file(msg["points"])}
                session, playing = await asyncio.to_thread(LabSession, settings, points_dir), False
                await send({"type": "settings", "settings": session.settings, "choices": choices(session.cfg)})
            elif op == "play":
                playing = True
            elif op == "pause":
                playing = False
            elif op == "speed":
                per_frame = msg.get("steps_per_frame", per_frame)
            elif op == "step":
                await asyncio.to_thread(session.step, msg.get("which", "both"), msg.get("n", 1))
            elif op == "save":
                saved = await asyncio.to_thread(session.save, runs_root)
                await send({"type": "saved", **saved})
            await frame()
        except (ValueError, RunError, OSError) as e:  # LabError and ConfigError are ValueErrors
            await send({"type": "error", "message": str(e)})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address of this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(host: str = "127.0.0.1", port: int = 8050, runs_root: str | Path = "runs", open_browser: bool = False,
          page: str = "lab") -> None:
    """Serve the lab (``page="lab"``) or the runs page (``page="runs"``; both are served either way) until
    interrupted."""
    import uvicorn

    if page == "runs":
        url = f"http://{host}:{port}/runs"
        print(f"saddlepoint watch: {url}  (the runs under {Path(runs_root).resolve()}; Ctrl-C stops it)", flush=True)
    else:
        url = f"http://{host}:{port}/"
        print(f"saddlepoint lab: {url}  (Ctrl-C stops it; saved sessions go to {Path(runs_root).resolve()})",
              flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]", host] if is_loopback(host) else None
    uvicorn.run(create_app(runs_root, hosts), host=host, port=port, log_level="warning", ws_max_size=1 << 20)
