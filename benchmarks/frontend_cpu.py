"""CPU time of each photo front end, per photo of ../shared/data/real/photos.

CPU time (``time.process_time``: every thread of the process) rather than wall time, so that a
busy shared machine inflates the numbers less. Median of ``--repeats`` runs per photo, each
front end warm (built once). One thread each (``OMP_NUM_THREADS=1``, LiteRT ``num_threads=1``).

* ``mediapipe_single``: MediaPipe's legacy Pose on the whole photo (lasor's ``MediaPipePose``);
* ``litert_single``: ``BlazePose.detect`` (the same question through LiteRT);
* ``litert_people``: ``BlazePose.people`` (every person: the default front end);
* ``mediapipe_people``: ``MultiPersonFrontend.people`` (``--frontend mediapipe``).

Per person beyond the first: the slope of ``litert_people`` against the people found.
Prints JSON; writes benchmarks/results/frontend_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/real/photos")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    import numpy as np

    from lasor.frontend.blazepose import BlazePose
    from lasor.frontend.detector import PersonDetector
    from lasor.frontend.files import load_image
    from lasor.frontend.landmarker import PoseLandmarker
    from lasor.frontend.mediapipe_pose import MediaPipePose
    from lasor.frontend.people import MultiPersonFrontend
    from lasor.predict import find_images

    photos = [p for p in find_images([args.photos]) if "_mask" not in p.name]
    mp = MediaPipePose()
    bp = BlazePose(PersonDetector(num_threads=1), PoseLandmarker(num_threads=1))
    multi = MultiPersonFrontend(mp, PersonDetector(num_threads=1))
    kinds = {
        "mediapipe_single": lambda im: mp(im),
        "litert_single": lambda im: bp.detect(im),
        "litert_people": lambda im: bp.people(im),
        "mediapipe_people": lambda im: multi.people(im),
    }
    rows = []
    for p in photos:
        img = load_image(p)
        row: dict = {"photo": p.name}
        for name, f in kinds.items():
            out = f(img)  # warm-up (MediaPipe re-initialises on a new size)
            ts = []
            for _ in range(args.repeats):
                t = time.process_time()
                f(img)
                ts.append((time.process_time() - t) * 1000)
            row[name] = statistics.median(ts)
            if name.endswith("people"):
                row[name.replace("_people", "_found")] = len(out)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {k: statistics.median(r[k] for r in rows) for k in kinds}
    n = np.array([r["litert_found"] for r in rows], float)
    t = np.array([r["litert_people"] for r in rows])
    if np.ptp(n) > 0:
        summary["litert_ms_per_further_person"] = float(np.polyfit(n, t, 1)[0])
    summary["ratio_litert_single_to_mediapipe_single"] = (
        summary["litert_single"] / summary["mediapipe_single"]
    )
    summary["ratio_litert_people_to_mediapipe_single"] = (
        summary["litert_people"] / summary["mediapipe_single"]
    )
    out = {"repeats": args.repeats, "load_average": os.getloadavg()[0], "summary": summary,
           "photos": rows}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "frontend_cpu.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
