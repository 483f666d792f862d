"""The demo server's limits and routes, over real HTTP (no browser, no prediction)."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request

import pytest
from PIL import Image

from lasor.demo.server import DemoConfig, make_server, sniff_image_type


@pytest.fixture()
def server():
    srv, app = make_server("127.0.0.1", 0, DemoConfig(max_upload_bytes=50_000))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", app
    srv.shutdown()
    srv.server_close()
    app.close()
    assert not app.root.exists()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _post(url: str, data: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_page_and_vendored_three_are_served(server):
    base, _ = server
    status, body = _get(base + "/")
    assert status == 200 and b"lasor" in body and b"importmap" in body
    status, body = _get(base + "/static/vendor/three/build/three.module.min.js")
    assert status == 200 and len(body) > 100_000
    assert _get(base + "/static/vendor/three/LICENSE.txt")[1].startswith(b"The MIT License")


@pytest.mark.parametrize(
    "path",
    ["/static/../server.py", "/static/%2e%2e/server.py", "/static/../../predict.py",
     "/etc/passwd", "/api/result/0123456789abcdef/x.png", "/api/result/../../x"],
)  # fmt: skip
def test_nothing_outside_its_folders(server, path):
    base, _ = server
    assert _get(base + path)[0] == 404


def test_upload_limits(server):
    base, app = server
    status, ans = _post(base + "/api/predict", b"GIF89a" + b"\0" * 100)
    assert status == 415 and "JPEG, PNG or WebP" in ans["error"]
    status, ans = _post(base + "/api/predict", b"\xff\xd8\xff" + b"\0" * 60_000)
    assert status == 413 and "too large" in ans["error"]
    status, ans = _post(base + "/api/predict", b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    assert status == 400 and "cannot decode" in ans["error"]
    status, ans = _post(base + "/api/predict", b"")
    assert status == 400
    assert list(app.root.iterdir()) == []  # nothing was stored


def test_sniff_image_type():
    for fmt, kind in (("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp")):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, format=fmt)
        assert sniff_image_type(buf.getvalue()[:16]) == kind
    assert sniff_image_type(b"<svg ") is None
