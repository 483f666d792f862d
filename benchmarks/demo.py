"""The demo's cost: start-up, page weight, one photo; ``lasor demo`` and, optionally, gradio.

    python benchmarks/demo.py                     # lasor's own page
    python benchmarks/demo.py --gradio-site DIR   # also gradio, installed into DIR by
    pip download gradio -d WHEELS
    pip install --no-index --find-links WHEELS --target DIR gradio

Measures (median of ``--repeat`` runs): seconds from starting ``python -m lasor demo`` to the
first page served; the bytes the page loads (HTML + scripts); seconds for one photo (the bundled
example) through ``POST /api/predict``. With ``--gradio-site``: the folder's installed size, the
size of what it adds to the current environment, and seconds for ``import gradio`` in a fresh
interpreter. Writes benchmarks/results/demo.{json,md}.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def lasor_demo(repeat: int) -> dict:
    from lasor.predict import example_photo

    starts, page, photo_s = [], 0, None
    for k in range(repeat):
        port = _free_port()
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lasor", "demo", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            while True:
                try:
                    html = _get(base + "/")
                    break
                except OSError:
                    time.sleep(0.02)
            starts.append(time.perf_counter() - t)
            if k == 0:
                scripts = re.findall(rb'"(/static/[^"]+\.js)"', html)
                page = len(html) + sum(len(_get(base + s.decode())) for s in scripts)
                for js in ("loaders/GLTFLoader.js", "controls/OrbitControls.js",
                           "utils/BufferGeometryUtils.js"):  # fmt: skip
                    page += len(_get(f"{base}/static/vendor/three/examples/jsm/{js}"))
                t = time.perf_counter()
                req = urllib.request.Request(
                    base + "/api/predict", data=example_photo().read_bytes(), method="POST"
                )
                with urllib.request.urlopen(req, timeout=600) as r:
                    ok = json.loads(r.read())["ok"]
                photo_s = round(time.perf_counter() - t, 2) if ok else None
        finally:
            proc.terminate()
            proc.wait()
    return {"start_to_first_page_s": round(statistics.median(starts), 2),
            "page_bytes": page, "added_packages": 0, "one_photo_s": photo_s}  # fmt: skip


def _dist_sizes(site: Path) -> dict[str, int]:
    out = {}
    for info in site.glob("*.dist-info"):
        name = re.sub(r"[-_.]+", "-", info.name.split("-")[0]).lower()
        files = [site / line.split(",")[0] for line in (info / "RECORD").read_text().splitlines()]
        out[name] = sum(f.stat().st_size for f in files if f.is_file())
    return out


def gradio(site: Path, repeat: int) -> dict:
    have = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in md.distributions()}
    sizes = _dist_sizes(site)
    new = {k: v for k, v in sizes.items() if k not in have}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gradio"], check=True,
                       env={**os.environ, "PYTHONPATH": str(site)})  # fmt: skip
        times.append(time.perf_counter() - t)
    return {"version": md.version("gradio") if "gradio" in have else _version(site),
            "installed_mb": round(sum(sizes.values()) / 2**20, 1),
            "added_packages": len(new), "added_mb": round(sum(new.values()) / 2**20, 1),
            "import_s": round(statistics.median(times), 2)}  # fmt: skip


def _version(site: Path) -> str:
    info = next(site.glob("gradio-*.dist-info"))
    return info.name.split("-")[1].removesuffix(".dist")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gradio-site", type=Path, default=None)
    args = ap.parse_args()
    res = {"lasor_demo": lasor_demo(args.repeat)}
    if args.gradio_site:
        res["gradio"] = gradio(args.gradio_site, args.repeat)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "demo.json").write_text(json.dumps(res, indent=1) + "\n")
    rows = ["| | start-up / import (s) | adds to the env | page / one photo |", "|---|---|---|---|"]
    d = res["lasor_demo"]
    mb = d["page_bytes"] / 2**20
    rows.append(f"| lasor demo (stdlib + three.js) | {d['start_to_first_page_s']} | 0 packages | "
                f"{mb:.2f} MB page, {d['one_photo_s']} s per photo |")  # fmt: skip
    if "gradio" in res:
        g = res["gradio"]
        rows.append(f"| gradio {g['version']} (import only) | {g['import_s']} | "
                    f"{g['added_packages']} packages, {g['added_mb']} MB | |")  # fmt: skip
    (RESULTS / "demo.md").write_text("\n".join(rows) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
