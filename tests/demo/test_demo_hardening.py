"""The demo server under hostile requests: bounded bodies, timeouts, connection cap, Host/Origin.

Raw sockets on 127.0.0.1 (no prediction runs: every request here is refused before the model).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lasor.demo.server import DemoConfig, DemoError, content_length, make_server

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def server():
    cfg = DemoConfig(
        max_upload_bytes=50_000, socket_timeout_s=1.0, body_deadline_s=2.0, max_connections=8
    )
    srv, app = make_server("127.0.0.1", 0, cfg)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv, app
    srv.shutdown()
    srv.server_close()
    app.close()


def _request(port: int, head: bytes, body: bytes = b"", timeout: float = 5.0) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    line = data.split(b"\r\n", 1)[0].split()
    return (int(line[1]) if len(line) > 1 else 0), data


def _post_head(length: str | None, host: str = "127.0.0.1", extra: str = "") -> bytes:
    h = f"POST /api/predict HTTP/1.1\r\nHost: {host}\r\n{extra}"
    if length is not None:
        h += f"Content-Length: {length}\r\n"
    return (h + "\r\n").encode()


@pytest.mark.parametrize(
    ("length", "status"),
    [(None, 411), ("-1", 400), ("-200000000", 400), ("abc", 400), ("1e9", 400), ("0", 400),
     ("200000000", 413), ("9" * 40, 413), (" 50001 ", 413)],
)  # fmt: skip
def test_content_length_is_checked_before_reading(server, length, status):
    srv, app = server
    port = srv.server_address[1]
    t = time.perf_counter()
    got, data = _request(port, _post_head(length), b"\xff\xd8\xff" + b"\0" * 1000)
    assert got == status, data[:200]
    assert time.perf_counter() - t < 3.0
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["ok"] is False
    assert list(app.root.iterdir()) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.one_of(st.none(), st.text(max_size=12), st.integers(-(10**12), 10**12).map(str)),
    host=st.sampled_from(
        ["127.0.0.1", "localhost:8000", "[::1]:1", "evil.example", "", "127.0.0.1.nip.io"]
    ),
    origin=st.sampled_from(
        [None, "http://127.0.0.1:7860", "https://evil.example", "null", "http://localhost"]
    ),
    body=st.binary(max_size=300),
)  # fmt: skip
def test_any_request_head_gets_an_answer(server, length, host, origin, body):
    srv, app = server
    if length is not None and any(c in length for c in "\r\n\x00"):
        length = "x"
    extra = f"Origin: {origin}\r\n" if origin is not None else ""
    status, data = _request(srv.server_address[1], _post_head(length, host, extra), body, 4.0)
    assert status in (400, 403, 408, 411, 413, 415, 421), data[:300]
    if status != 400 or b"Bad request" not in data:  # http.server's own answer is HTML
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["ok"] is False
    assert list(app.root.iterdir()) == []


def test_content_length_function():
    assert content_length("123", 1000) == 123
    for bad in (None, "", "-5", "+5", "0x10", "1.0", "٣"):
        with pytest.raises(DemoError):
            content_length(bad, 1000)


def test_host_and_origin(server):
    srv, _ = server
    port = srv.server_address[1]
    get = "GET / HTTP/1.1\r\nHost: {}\r\n{}Connection: close\r\n\r\n"
    assert _request(port, get.format(f"127.0.0.1:{port}", "").encode())[0] == 200
    assert _request(port, get.format(f"localhost:{port}", "").encode())[0] == 200
    assert _request(port, get.format("attacker.example", "").encode())[0] == 421  # rebinding
    evil = "Origin: http://attacker.example\r\n"
    assert _request(port, _post_head("10", extra=evil), b"0123456789")[0] == 403


def test_slow_upload_is_cut_off(server):
    srv, _ = server
    with socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10) as s:
        s.sendall(_post_head("40000") + b"\xff\xd8\xff")
        t = time.perf_counter()
        data = s.recv(65536)  # the server answers 408 once its socket timeout (1 s) passes
        assert b" 408 " in data.split(b"\r\n", 1)[0]
        assert time.perf_counter() - t < 5


def test_slow_clients_do_not_grow_threads():
    """Load test: 300 half-sent uploads hold at most max_connections threads; others get 503."""
    cfg = DemoConfig(socket_timeout_s=30.0, body_deadline_s=60.0, max_connections=8)
    srv, app = make_server("127.0.0.1", 0, cfg)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    port = srv.server_address[1]
    base = threading.active_count()
    socks, peak = [], 0
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(_post_head("40000") + b"\xff\xd8")  # never finishes
            socks.append(s)
            peak = max(peak, threading.active_count() - base)
        time.sleep(0.3)
        peak = max(peak, threading.active_count() - base)
        answers = []
        for s in socks[-5:]:
            s.settimeout(5)
            answers.append(s.recv(200))
    finally:
        for s in socks:
            s.close()
    try:
        assert peak <= 8  # max_connections
        assert all(b" 503 " in a for a in answers), answers
        assert srv.refused == 300 - 8
        time.sleep(0.5)  # the held connections see EOF and end
        assert threading.active_count() - base <= 1
        head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        assert _request(port, head.encode())[0] == 200
    finally:
        srv.shutdown()
        srv.server_close()
        app.close()


def test_sigterm_removes_the_temporary_folder(tmp_path):
    code = (
        "import logging, sys; sys.path.insert(0, sys.argv[1]);"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True);"
        "from lasor.demo.server import serve; serve('127.0.0.1', 0)"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(SRC)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        line = child.stdout.readline()
        assert "temporary folder" in line, line
        (folder,) = list(tmp_path.glob("lasor-demo-*"))
        (folder / "upload.png").write_bytes(b"x")
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert not list(tmp_path.glob("lasor-demo-*"))
