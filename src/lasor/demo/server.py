"""``lasor demo``: a local page where a person drops a photo and looks at the 3D body.

A small self-contained server (the standard library's ``http.server``, no extra packages) and one
static page with a vendored three.js (MIT) for the interactive 3D view of the ``.glb``. Routes:

* ``GET /`` and ``GET /static/<file>``: the page and its scripts, only from the package's
  ``lasor/demo/static`` folder (a fixed set of file types; no paths outside it).
* ``POST /api/predict``: the raw bytes of one photo (JPEG, PNG or WebP, recognised by content,
  at most ``max_upload_bytes``, at most ``MAX_PIXELS``). The photo is shrunk to at most
  ``max_side`` pixels, written into a fresh folder under the server's own temporary folder, and
  run through :func:`lasor.predict.predict` with ``--export glb``. Answers JSON with the URLs of
  the overlay, the side view, the ``.glb`` and the ``.npz``, or an error.
* ``GET /api/result/<job>/<file>``: a file of a finished job; ``job`` is a random id the server
  made and ``file`` one of the files predict wrote there. Nothing else on disk is served.

One prediction runs at a time; the temporary folder (only the newest ``keep_jobs`` jobs) is
removed when the server stops (Ctrl-C, SIGTERM, or the interpreter exiting). By default it listens
on 127.0.0.1 only.

Limits, so that no client (slow, hostile, or a web page in the user's browser) can exhaust the
machine: a request must carry a ``Content-Length`` between 1 and ``max_upload_bytes`` (else 411 /
400 / 413, answered before reading the body, and the connection closed); the body is read with a
socket timeout (``socket_timeout_s`` per read) and an overall deadline (``body_deadline_s``);
at most ``max_connections`` connections are served at once (the next ones get 503 at once,
without a thread); at most ``max_waiting_jobs`` predictions wait for the one running (503).
The ``Host`` header must name the server (loopback names by default, plus ``allowed_hosts``),
which defeats DNS rebinding, and a request carrying an ``Origin`` must come from such a host (a
page elsewhere cannot post photos to it). Only the files a job's answer names are served, and
their recorded image path is the upload's name, not a path on the server.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_PIXELS = 40_000_000
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".png": "image/png", ".jpg": "image/jpeg",
    ".glb": "model/gltf-binary", ".npz": "application/octet-stream",
    ".json": "application/json", ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8", ".bvh": "text/plain; charset=utf-8",
}  # fmt: skip
_JOB_RE = re.compile(r"^[0-9a-f]{16}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def sniff_image_type(head: bytes) -> str | None:
    """``"jpeg"``, ``"png"`` or ``"webp"`` from a file's first bytes, else None."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


class DemoError(Exception):
    """A request the demo refuses, with its HTTP status."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DemoConfig:
    """Limits and options of the demo server.

    Attributes:
        max_upload_bytes: largest accepted photo.
        max_side: photos are shrunk so their longer side is at most this (pixels).
        keep_jobs: finished jobs kept in the temporary folder (older ones are deleted).
        model_path: regressor file (default: the shipped model).
        socket_timeout_s: a connection silent this long is closed.
        body_deadline_s: an upload must arrive within this (slow senders are cut off).
        max_connections: connections served at once; more get 503 straight away.
        max_waiting_jobs: predictions queued behind the running one; more get 503.
        allowed_hosts: host names accepted in ``Host`` / ``Origin`` besides the loopback
            names (``localhost``, ``127.0.0.1``, ``[::1]``); needed when serving on a network.
    """

    max_upload_bytes: int = 10 * 2**20
    max_side: int = 1024
    keep_jobs: int = 20
    model_path: Path | None = None
    socket_timeout_s: float = 20.0
    body_deadline_s: float = 60.0
    max_connections: int = 32
    max_waiting_jobs: int = 4
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)


class DemoApp:
    """The demo's state: its temporary folder, its jobs and the prediction lock."""

    def __init__(self, config: DemoConfig | None = None) -> None:
        self.config = config or DemoConfig()
        self.root = Path(tempfile.mkdtemp(prefix="lasor-demo-"))
        self.jobs: dict[str, Path] = {}
        self.files: dict[str, set[str]] = {}  # job -> the file names its answer lists
        self.lock = threading.Lock()
        self.waiting = threading.BoundedSemaphore(1 + self.config.max_waiting_jobs)
        atexit.register(self.close)

    def close(self) -> None:
        """Delete the temporary folder (idempotent)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def allowed_host(self, host: str | None) -> bool:
        """Whether a ``Host`` header value (``name[:port]``) names this server."""
        if not host:
            return False
        host = host.strip().lower()
        if host.startswith("["):
            name = host[: host.find("]") + 1] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        names = {"localhost", "127.0.0.1", "[::1]"} | {h.lower() for h in self.config.allowed_hosts}
        return name in names

    def allowed_origin(self, origin: str | None) -> bool:
        """Whether an ``Origin`` header is absent or one of this server's."""
        if origin is None:
            return True
        m = re.fullmatch(r"https?://([^/]+)", origin.strip())
        return m is not None and self.allowed_host(m.group(1))

    def check_upload(self, data: bytes) -> tuple[object, str]:
        """The decoded photo (PIL image) and its type; raises DemoError when refused."""
        from PIL import Image

        if not data:
            raise DemoError(HTTPStatus.BAD_REQUEST, "empty upload: send the photo's bytes")
        if len(data) > self.config.max_upload_bytes:
            raise DemoError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"photo too large: {len(data)} bytes, at most {self.config.max_upload_bytes}",
            )
        kind = sniff_image_type(data[:16])
        if kind is None:
            raise DemoError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "not a JPEG, PNG or WebP photo (by its content)"
            )
        try:
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise DemoError(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"photo has {im.width}x{im.height} pixels, at most {MAX_PIXELS}",
                )
            im.load()
        except DemoError:
            raise
        except Exception as e:  # noqa: BLE001 - any decoder error is the upload's fault
            raise DemoError(HTTPStatus.BAD_REQUEST, f"cannot decode the {kind} photo: {e}") from e
        return im, kind

    def run_job(self, data: bytes) -> dict:
        """Check, store and predict one uploaded photo; returns the JSON answer."""
        from PIL import ImageOps

        im, kind = self.check_upload(data)
        from lasor.predict import PredictOptions, predict  # torch: only for accepted photos

        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((self.config.max_side, self.config.max_side))
        job = secrets.token_hex(8)
        folder = self.root / job
        folder.mkdir()
        photo = folder / "photo.png"
        im.save(photo)
        opts = PredictOptions(model_path=self.config.model_path, export=("glb",))
        if not self.waiting.acquire(blocking=False):
            shutil.rmtree(folder, ignore_errors=True)
            raise DemoError(HTTPStatus.SERVICE_UNAVAILABLE, "busy: too many photos waiting")
        try:
            t = time.perf_counter()
            with self.lock:
                summary = predict([photo], folder / "out", opts, progress=False)
            wall = time.perf_counter() - t
        finally:
            self.waiting.release()
        self.jobs[job] = folder / "out"
        self._forget_old_jobs()
        entry = summary["images"][0]
        if not entry["ok"]:
            msg = str(entry["error"]).replace(str(photo), "photo").replace(str(self.root), "")
            return {"ok": False, "job": job, "error": msg}
        stem = entry["people"][0]["stem"]
        base = f"/api/result/{job}/"
        files = {
            "overlay": f"{stem}_overlay.png", "side": f"{stem}_side.png",
            "glb": f"{stem}.glb", "npz": f"{stem}.npz",
        }  # fmt: skip
        _scrub_npz(folder / "out" / files["npz"], str(photo), "photo.png")
        self.files[job] = set(files.values())
        return {
            "ok": True, "job": job, "people": summary["people"], "seconds": round(wall, 2),
            "size": [im.width, im.height], "input_type": kind,
            "files": {k: base + v for k, v in files.items()},
        }  # fmt: skip

    def _forget_old_jobs(self) -> None:
        while len(self.jobs) > self.config.keep_jobs:
            old = next(iter(self.jobs))
            shutil.rmtree(self.root / old, ignore_errors=True)
            del self.jobs[old]
            self.files.pop(old, None)

    def result_file(self, job: str, name: str) -> Path:
        """A file of a finished job; raises DemoError(404) for anything else."""
        if not _JOB_RE.match(job) or not _NAME_RE.match(name) or job not in self.jobs:
            raise DemoError(HTTPStatus.NOT_FOUND, "no such result")
        if name not in self.files.get(job, set()):
            raise DemoError(HTTPStatus.NOT_FOUND, "no such result")
        path = self.jobs[job] / name
        if path.suffix not in _CONTENT_TYPES or not path.is_file():
            raise DemoError(HTTPStatus.NOT_FOUND, "no such result")
        return path


def _scrub_npz(path: Path, old: str, new: str) -> None:
    """Replace a server path recorded in a result ``.npz`` (the photo's) by a plain name."""
    import numpy as np

    from lasor.io.atomic import atomic_path

    if not path.is_file():
        return
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in arrays.items():
        if v.dtype.kind == "U" and v.ndim == 0 and old in str(v):
            arrays[k] = np.asarray(str(v).replace(old, new), dtype=np.str_)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def read_body(rfile, length: int, deadline_s: float, chunk: int = 65536) -> bytes:
    """Exactly ``length`` bytes of a request body, read in chunks before a deadline.

    Raises:
        DemoError: 408 when the client is too slow or stops (socket timeout), 400 when the body
            ends early.
    """
    end = time.monotonic() + deadline_s
    parts: list[bytes] = []
    left = length
    while left > 0:
        if time.monotonic() > end:
            raise DemoError(HTTPStatus.REQUEST_TIMEOUT, f"upload took over {deadline_s:g} s")
        try:
            data = (
                rfile.read1(min(chunk, left))
                if hasattr(rfile, "read1")
                else rfile.read(min(chunk, left))
            )
        except TimeoutError:
            raise DemoError(HTTPStatus.REQUEST_TIMEOUT, "upload stalled") from None
        if not data:
            raise DemoError(HTTPStatus.BAD_REQUEST, f"body ended after {length - left} bytes")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def content_length(value: str | None, limit: int) -> int:
    """A ``Content-Length`` header checked against ``limit``; raises DemoError otherwise."""
    if value is None or not value.strip():
        raise DemoError(HTTPStatus.LENGTH_REQUIRED, "Content-Length needed")
    text = value.strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise DemoError(HTTPStatus.BAD_REQUEST, f"Content-Length {text[:20]!r} is not a size")
    if len(text) > 18 or int(text) > limit:
        raise DemoError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"photo too large: {text[:20]} bytes, at most {limit}",
        )
    if int(text) == 0:
        raise DemoError(HTTPStatus.BAD_REQUEST, "empty upload: send the photo's bytes")
    return int(text)


def static_file(rel: str) -> Path:
    """A file under the package's static folder; raises DemoError(404) for anything else."""
    path = (STATIC_DIR / rel).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise DemoError(HTTPStatus.NOT_FOUND, "not found")
    if path.suffix not in _CONTENT_TYPES:
        raise DemoError(HTTPStatus.NOT_FOUND, "not found")
    return path


def _handler(app: DemoApp):
    class Handler(BaseHTTPRequestHandler):
        server_version = "lasor-demo"
        timeout = app.config.socket_timeout_s  # every socket read and write

        def _check_host(self) -> None:
            if not app.allowed_host(self.headers.get("Host")):
                raise DemoError(HTTPStatus.MISDIRECTED_REQUEST, "unknown Host")
            if not app.allowed_origin(self.headers.get("Origin")):
                raise DemoError(HTTPStatus.FORBIDDEN, "requests from other sites are refused")

        def log_message(self, fmt, *args) -> None:  # route to logging, not stderr
            log.info("%s %s", self.address_string(), fmt % args)

        def _send(self, status: HTTPStatus, body: bytes, ctype: str, download: str = "") -> None:
            try:
                self.send_response(status)
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Cache-Control", "no-store")
                if download:
                    self.send_header("Content-Disposition", f'attachment; filename="{download}"')
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.close_connection = True  # the client left; nothing to tell it

        def _json(self, status: HTTPStatus, obj: dict) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json")

        def _file(self, path: Path, download: bool = False) -> None:
            name = path.name if download else ""
            self._send(HTTPStatus.OK, path.read_bytes(), _CONTENT_TYPES[path.suffix], name)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = self.path.split("?", 1)[0]
            try:
                self._check_host()
                if url in ("/", "/index.html"):
                    self._file(static_file("index.html"))
                elif url.startswith("/static/"):
                    self._file(static_file(url[len("/static/") :]))
                elif url.startswith("/api/result/"):
                    parts = url[len("/api/result/") :].split("/")
                    if len(parts) != 2:
                        raise DemoError(HTTPStatus.NOT_FOUND, "no such result")
                    path = app.result_file(*parts)
                    self._file(path, download=path.suffix in (".glb", ".npz"))
                else:
                    raise DemoError(HTTPStatus.NOT_FOUND, "not found")
            except DemoError as e:
                self._json(e.status, {"ok": False, "error": str(e)})

        def do_POST(self) -> None:  # noqa: N802
            try:
                # until the whole body is read, an error leaves bytes that are not a request
                self.close_connection = True
                self._check_host()
                if self.path != "/api/predict":
                    raise DemoError(HTTPStatus.NOT_FOUND, "not found")
                if self.headers.get("Transfer-Encoding"):
                    raise DemoError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
                n = content_length(self.headers.get("Content-Length"), app.config.max_upload_bytes)
                data = read_body(self.rfile, n, app.config.body_deadline_s)
                self.close_connection = False
                self._json(HTTPStatus.OK, app.run_job(data))
            except DemoError as e:
                self._json(e.status, {"ok": False, "error": str(e)})
            except Exception as e:  # noqa: BLE001 - one bad request never stops the server
                log.exception("prediction failed")
                msg = f"{type(e).__name__}: {e}".replace(str(app.root), "")
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"ok": False, "error": msg})

    return Handler


def make_server(
    host: str = "127.0.0.1", port: int = 7860, config: DemoConfig | None = None
) -> tuple[ThreadingHTTPServer, DemoApp]:
    """The HTTP server (not yet serving) and its app; ``port=0`` picks a free port."""
    app = DemoApp(config)
    server = BoundedHTTPServer((host, port), _handler(app), app.config.max_connections)
    return server, app


class BoundedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server with at most ``max_connections`` threads.

    A connection over the limit is answered 503 from the accepting thread (one short write with
    a timeout) and closed: slow clients cannot make it start threads without bound.
    """

    daemon_threads = True
    request_queue_size = 128  # listen backlog: a full one makes clients wait seconds to connect

    def __init__(self, address, handler, max_connections: int) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)
        self.refused = 0

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            self.refused += 1
            body = b'{"ok": false, "error": "busy: too many connections"}'
            try:
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: " + str(len(body)).encode()
                    + b"\r\n\r\n" + body
                )  # fmt: skip
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve(host: str = "127.0.0.1", port: int = 7860, config: DemoConfig | None = None) -> None:
    """Run the demo until interrupted (Ctrl-C), then delete its temporary folder."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the demo listens on %s: anyone who can reach it can upload photos", host)
        config = config or DemoConfig()
        if host not in ("0.0.0.0", "::") and host not in config.allowed_hosts:
            config = replace(config, allowed_hosts=(*config.allowed_hosts, host))
        if not config.allowed_hosts:
            log.warning("only loopback Host names are accepted; add yours with --allow-host")

    def on_sigterm(signum, frame):  # noqa: ARG001 - signal's signature
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    server = app = None
    try:
        server, app = make_server(host, port, config)
        h, p = server.server_address[:2]
        log.info("lasor demo on http://%s:%d/ (temporary folder %s; Ctrl-C stops)", h, p, app.root)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.server_close()
        if app is not None:
            app.close()
