"""The demo server under hostile clients: memory, threads and clean-up (issue 23's targets).

The server (`lasor.demo.server.serve`, from ``--src``, so that an older checkout can be measured
the same way) runs in its own process on 127.0.0.1; this script is the client:

* **uploads**: 200 MB bodies sent with ``Content-Length`` missing, ``-1``, ``200000000``
  (honest), a 20-digit number, and ``10`` (a lie); measured: the server's peak resident memory
  above its idle level (``/proc/<pid>/status`` VmRSS, sampled every 10 ms) and the answer.
  Target: <= +100 MB whatever the header says.
* **slow clients**: 300 connections that each send a request head and 2 bytes of a 40 kB body,
  then nothing; measured: the server's thread count (``Threads:``) and memory while they hang,
  and whether a normal request is still answered. Target: threads bounded.
* **SIGTERM**: is the server's ``lasor-demo-*`` temporary folder gone after it?

Prints JSON; writes benchmarks/results/demo_hardening.json (``--tag`` names another result).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

_SERVER = (
    "import logging, sys; sys.path.insert(0, sys.argv[1]);"
    "logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True);"
    "from lasor.demo.server import serve; serve('127.0.0.1', 0)"
)


def _status(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return float("nan")


class Server:
    def __init__(self, src: Path, tmp: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(src)], stdout=subprocess.PIPE, text=True, env=env
        )
        line = self.proc.stdout.readline()
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain the log
        time.sleep(0.3)

    def rss_mb(self) -> float:
        return _status(self.proc.pid, "VmRSS") / 1024

    def threads(self) -> int:
        return int(_status(self.proc.pid, "Threads"))


def _upload(srv: Server, length: str | None, size: int) -> dict:
    base = srv.rss_mb()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], srv.rss_mb())
            except (OSError, ValueError):
                pass
            time.sleep(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    head = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    chunk = b"\xff\xd8\xff" + b"\0" * (2**20 - 3)
    sent, answer = 0, b""
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        try:
            s.sendall((head + "\r\n").encode())
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server refused and closed
        try:
            while data := s.recv(65536):
                answer += data
        except OSError:
            pass
    time.sleep(0.3)
    stop.set()
    th.join()
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return {
        "content_length": length, "bytes_sent": sent, "answer": status,
        "peak_rss_above_idle_mb": round(peak[0] - base, 1),
        "seconds": round(time.perf_counter() - t, 2),
    }  # fmt: skip


def _slow_clients(srv: Server, n: int) -> dict:
    base_threads, base_rss = srv.threads(), srv.rss_mb()
    socks = []
    t = time.perf_counter()
    head = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40000\r\n\r\n\xff\xd8"
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(head)
            socks.append(s)
        except OSError:
            break
    connect_s = time.perf_counter() - t
    time.sleep(1.0)
    threads, rss = srv.threads(), srv.rss_mb()
    t = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            first = s.recv(100).split(b"\r\n", 1)[0].decode()
    except OSError as e:
        first = f"{type(e).__name__}"
    page_s = time.perf_counter() - t
    for s in socks:
        s.close()
    return {
        "clients": n, "connected": len(socks), "connect_s": round(connect_s, 2),
        "threads_idle": base_threads, "threads_with_clients": threads,
        "rss_mb_above_idle": round(rss - base_rss, 1), "page_answer_meanwhile": first,
        "page_seconds": round(page_s, 2),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--tag", default="demo_hardening")
    args = ap.parse_args()
    out: dict = {"src": str(args.src), "upload_mb": args.mb}
    with tempfile.TemporaryDirectory() as d:
        srv = Server(args.src, Path(d))
        try:
            out["idle_rss_mb"] = round(srv.rss_mb(), 1)
            size = args.mb * 2**20
            out["uploads"] = [
                _upload(srv, length, size) for length in (None, "-1", str(size), "9" * 20, "10")
            ]
            out["slow_clients"] = _slow_clients(srv, args.clients)
            time.sleep(0.5)
            folders = list(Path(d).glob("lasor-demo-*"))
            srv.proc.send_signal(signal.SIGTERM)
            out["sigterm_exit"] = srv.proc.wait(timeout=30)
            left = [f for f in folders if f.exists()]
            out["temp_folder_left_after_sigterm"] = bool(left)
        finally:
            if srv.proc.poll() is None:
                srv.proc.kill()
    out["max_upload_rss_above_idle_mb"] = max(u["peak_rss_above_idle_mb"] for u in out["uploads"])
    print(json.dumps(out, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
