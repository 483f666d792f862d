"""Per-photo latency of ``lasor predict``, split into front end / proxy / regression / outputs.

Runs the real pipeline (front end, crop + proxy, regressor, full Anny mesh, writing
.npz/.json/.obj/.ply) on every photo in ../shared/data/real/photos, batch size 1 (the latency a
user sees), with the PNG pictures off and then on (overlay, side view, proxy: the "render"
stage), and MediaPipe's own time alone for reference: per photo on repeats of that photo, and
over the photos in order, each once, with decoding (as the pipeline sees them). Prints one JSON
line and writes benchmarks/results/predict.json. Stage times are per photo, medians over repeats.

``--frontend``: the pipeline's front end(s), each timed in the same run: ``litert`` (the default
since issue 21: BlazePose's models through LiteRT) and ``mediapipe`` (the detector's windows fed
to MediaPipe's legacy solution). The top-level numbers are the first one's; ``frontends`` has
each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `lasor predict` sets it, before torch

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/real/photos")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frontend", nargs="+", default=["litert", "mediapipe"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.frontend.files import load_image
    from lasor.frontend.mediapipe_pose import MediaPipePose
    from lasor.predict import PredictOptions, find_images, predict, shipped_model_path

    photos = [p for p in find_images([args.photos]) if "_mask" not in p.name]
    ckpt = args.checkpoint or shipped_model_path()
    opts = PredictOptions(model_path=ckpt, render=False, batch_size=1)
    # MediaPipe alone (warm instance), as the reference
    mp_ms = []
    with MediaPipePose() as det:
        det(load_image(photos[0]))
        for p in photos:
            img = load_image(p)
            ts = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                det(img)
                ts.append(time.perf_counter() - t)
            mp_ms.append(statistics.median(ts) * 1e3)
        # ... and as the pipeline runs it: each photo once, in order (MediaPipe re-initialises
        # part of its graph when the image size changes, which repeats on one photo hide), with
        # the photo's decoding
        seq_ms, seq_load_ms = [], []
        for _ in range(args.repeats):
            t_load = t_mp = 0.0
            for p in photos:
                t = time.perf_counter()
                img = load_image(p)
                t_load += time.perf_counter() - t
                t = time.perf_counter()
                det(img)
                t_mp += time.perf_counter() - t
            seq_ms.append(t_mp * 1e3 / len(photos))
            seq_load_ms.append((t_mp + t_load) * 1e3 / len(photos))
    # the whole pipeline over all photos (one detector and model, batch size 1, as a user's
    # folder run); the summary's per-photo stage times, median over repeats
    runs: dict[str, dict] = {}
    for frontend in args.frontend:
        per_stage: dict[str, list[float]] = {}
        render_stage: list[float] = []
        totals, totals_png = [], []
        opts = PredictOptions(model_path=ckpt, render=False, batch_size=1, frontend=frontend)
        opts_png = PredictOptions(model_path=ckpt, render=True, batch_size=1, frontend=frontend)
        with tempfile.TemporaryDirectory() as tmp:
            predict(photos[:1], Path(tmp) / "warm", opts_png, progress=False)  # warm-up
            for r in range(args.repeats):  # alternate pictures off / on within each repeat
                t = time.perf_counter()
                s = predict(photos, Path(tmp) / f"run{r}", opts, progress=False)
                totals.append((time.perf_counter() - t) * 1e3 / len(photos))
                for k, v in s["timing_ms_per_photo"].items():
                    per_stage.setdefault(k, []).append(v)
                people = s["people"]
                t = time.perf_counter()
                s = predict(photos, Path(tmp) / f"png{r}", opts_png, progress=False)
                totals_png.append((time.perf_counter() - t) * 1e3 / len(photos))
                render_stage.append(s["timing_ms_per_photo"]["render"])
        runs[frontend] = {
            "end_to_end_ms_no_png": round(statistics.median(totals), 1),
            "end_to_end_ms_with_png": round(statistics.median(totals_png), 1),
            "stages_ms": {k: round(statistics.median(v), 2) for k, v in per_stage.items()},
            "render_ms_with_png": round(statistics.median(render_stage), 2),
            "people": people,
            "ratio_no_png_to_mediapipe_alone": round(
                statistics.median(totals) / statistics.median(mp_ms), 2
            ),
        }
    first = runs[args.frontend[0]]
    totals = [first["end_to_end_ms_no_png"]]
    out = {
        "photos": len(photos),
        "threads": args.threads,
        "frontend": args.frontend[0],
        "end_to_end_ms_no_png": first["end_to_end_ms_no_png"],
        "note": "end_to_end includes loading each photo and building the detector once per run",
        "end_to_end_ms_with_png": first["end_to_end_ms_with_png"],
        "stages_ms": first["stages_ms"],
        "render_ms_with_png": first["render_ms_with_png"],
        "mediapipe_alone_ms": round(statistics.median(mp_ms), 1),
        "mediapipe_alone_ms_sequential": round(statistics.median(seq_ms), 1),
        "mediapipe_alone_ms_sequential_with_decoding": round(statistics.median(seq_load_ms), 1),
        "ratio_no_png_to_mediapipe_alone": round(
            statistics.median(totals) / statistics.median(mp_ms), 2
        ),
        "ratio_no_png_to_mediapipe_sequential_with_decoding": round(
            statistics.median(totals) / statistics.median(seq_load_ms), 2
        ),
        "frontends": runs,
        "mediapipe_alone_ms_per_photo": {
            p.name: round(t, 1) for p, t in zip(photos, mp_ms, strict=True)
        },
        "checkpoint": str(ckpt),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    line = json.dumps(out)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "predict.json").write_text(line + "\n")


if __name__ == "__main__":
    main()
