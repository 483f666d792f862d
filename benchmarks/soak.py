"""Soak test: memory of one `lasor.Estimator` over many calls (issue 23: flat over >= 500).

One Estimator (the shipped model; ``--fast`` = no fitting, as ``lasor predict --fast``) is called
``--calls`` times on the bundled example photo shrunk to ``--side`` pixels, through the whole
front end (MediaPipe) and regressor; every ``--every`` calls the process's resident memory
(``/proc/self/status`` VmRSS) is recorded, and every ``--write-every`` calls the result is also
written with `lasor.predict.write_person` (the atomic writers). Growth is reported between the
memory after the warm-up (the first ``--every`` calls) and the end, and as a least-squares slope
over the second half (MB per 100 calls): a leak shows as a steady slope.

Prints JSON; writes benchmarks/results/soak.json (``--tag`` names another result).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--side", type=int, default=256, help="longer side of the photo (pixels)")
    ap.add_argument("--fast", action="store_true", help="no fitting (lasor predict --fast)")
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--write-every", type=int, default=50)
    ap.add_argument("--tag", default="soak")
    args = ap.parse_args()

    import torch
    from PIL import Image

    from lasor import Estimator
    from lasor.predict import example_photo, write_person

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    im = Image.open(example_photo("full")).convert("RGB")
    im.thumbnail((args.side, args.side))
    photo = np.asarray(im)
    t0 = time.perf_counter()
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    people = 0
    with Estimator(fit=not args.fast) as est, tempfile.TemporaryDirectory() as out:
        samples.append((0, rss_mb()))  # model loaded
        t1 = time.perf_counter()
        for i in range(1, args.calls + 1):
            results = est(photo, name="soak.png")
            people += len(results)
            if results and i % args.write_every == 0:
                write_person(Path(out), "soak", results[0], photo, None, render=False)
            if i % args.every == 0:
                samples.append((i, rss_mb()))
    wall = time.perf_counter() - t0
    calls_s = time.perf_counter() - t1
    calls = np.array([c for c, _ in samples[2:]], float)
    mem = np.array([m for _, m in samples[2:]], float)
    half = calls >= calls.max() / 2
    slope = float(np.polyfit(calls[half], mem[half], 1)[0] * 100) if half.sum() >= 2 else None
    out = {
        "calls": args.calls, "photo_size": list(photo.shape[:2]), "fast": args.fast,
        "threads": torch.get_num_threads(), "people_found": people,
        "rss_mb_start": round(samples[0][1], 1), "rss_mb_model_loaded": round(samples[1][1], 1),
        "rss_mb_after_warmup": round(float(mem[0]), 1), "rss_mb_end": round(float(mem[-1]), 1),
        "rss_mb_max": round(float(mem.max()), 1),
        "growth_after_warmup_mb": round(float(mem[-1] - mem[0]), 1),
        "slope_mb_per_100_calls_second_half": None if slope is None else round(slope, 2),
        "ms_per_call": round(calls_s * 1000 / args.calls, 1), "wall_s": round(wall, 1),
        "samples": [[c, round(m, 1)] for c, m in samples],
    }  # fmt: skip
    print(json.dumps(out, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
