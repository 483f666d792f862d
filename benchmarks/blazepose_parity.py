"""Parity of lasor's LiteRT BlazePose (`lasor.frontend.blazepose`) with MediaPipe's legacy Pose.

On every photo under ../shared/data/real (jpg / jpeg / png, all folders), both answer the same
question: MediaPipe's legacy solution (``static_image_mode``, ``model_complexity=1``, the
segmentation on, ``min_detection_confidence`` 0.5, first attempt only: no lasor retry) and
``BlazePose().detect`` (the best detection's landmark pass). Per photo where both find a person:

* ``lm2d``: mean distance of the 33 landmarks that MediaPipe sees (visibility >= 0.5), over the
  longer side of MediaPipe's person box (mask + confident keypoints);
* ``world_mm``: mean distance of the 33 world landmarks, millimetres;
* ``vis``: mean absolute difference of the 33 visibilities;
* ``mask_iou``: IoU of the two masks (probability > 0.5);
* time of each path (the same photo, one after the other, one thread each by default).

Targets (issue 21): lm2d <= 0.02, world <= 10 mm (means), mask IoU >= 0.95.
Prints JSON lines; writes benchmarks/results/blazepose_parity.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _mediapipe(mpp, image: np.ndarray):
    """MediaPipe's legacy solution on the whole photo, first attempt (no lasor retry)."""
    window = np.array([0, 0, image.shape[1], image.shape[0]])
    result = mpp._run(image, window, mpp.min_detection_confidence)
    return None if result is None else mpp._convert(result, window, image.shape[:2], None, False)


def main() -> None:
    ap = argparse.ArgumentParser()
    shared = ROOT.parent / "shared"
    if not shared.is_dir():
        shared = Path("/work/shared")
    ap.add_argument("--data", type=Path, default=shared / "data" / "real")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="at most this many photos (0 = all)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from lasor.frontend.blazepose import BlazePose
    from lasor.frontend.detector import PersonDetector
    from lasor.frontend.files import load_image
    from lasor.frontend.landmarker import PoseLandmarker
    from lasor.frontend.mediapipe_pose import MediaPipePose

    photos = sorted(
        p for p in args.data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        and not p.name.endswith("_mask.png")
    )  # fmt: skip
    if args.limit:
        photos = photos[: args.limit]
    mpp = MediaPipePose()
    ours = BlazePose(  # no low-threshold retry: MediaPipe's first attempt is the reference
        PersonDetector(num_threads=args.threads),
        PoseLandmarker(num_threads=args.threads),
        retry_score=None,
    )
    rows = []
    for photo in photos:
        image = load_image(photo)
        rel = str(photo.relative_to(args.data))
        t = time.perf_counter()
        ref = _mediapipe(mpp, image)
        mp_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        res = ours.detect(image)
        our_ms = (time.perf_counter() - t) * 1000
        row: dict = {"photo": rel, "folder": rel.split("/")[0], "mediapipe": ref is not None,
                     "ours": res is not None, "mediapipe_ms": mp_ms, "ours_ms": our_ms}  # fmt: skip
        if ref is not None and res is not None:
            box = ref.person.bbox
            side = float(max(box[2] - box[0], box[3] - box[1]))
            seen = ref.visibility >= 0.5
            d2 = np.linalg.norm(res.landmarks[:, :2] - ref.landmarks[:, :2], axis=1)
            row["lm2d"] = float(d2[seen].mean() / side) if seen.any() else None
            row["lm2d_all"] = float(d2.mean() / side)
            row["world_mm"] = float(
                1000 * np.linalg.norm(res.world_landmarks - ref.world_landmarks, axis=1).mean()
            )
            row["vis"] = float(np.abs(res.visibility - ref.visibility).mean())
            m, mm = res.full_mask(image.shape[:2]), ref.person.mask
            union = (m | mm).sum()
            row["mask_iou"] = float((m & mm).sum() / union) if union else 1.0
        rows.append(row)
        print(json.dumps(row), flush=True)

    def stats(rs: list[dict]) -> dict:
        both = [r for r in rs if "world_mm" in r]
        out: dict = {
            "photos": len(rs),
            "both_found": len(both),
            "only_mediapipe": sum(r["mediapipe"] and not r["ours"] for r in rs),
            "only_ours": sum(r["ours"] and not r["mediapipe"] for r in rs),
            "mediapipe_ms": float(np.median([r["mediapipe_ms"] for r in rs])),
            "ours_ms": float(np.median([r["ours_ms"] for r in rs])),
        }
        for k in ("lm2d", "world_mm", "vis", "mask_iou"):
            v = [r[k] for r in both if r.get(k) is not None]
            if v:
                out[k] = {"mean": float(np.mean(v)), "median": float(np.median(v)),
                          "worst": float(np.min(v) if k == "mask_iou" else np.max(v))}  # fmt: skip
        return out

    folders = sorted({r["folder"] for r in rows})
    summary = {
        "all": stats(rows),
        **{f: stats([r for r in rows if r["folder"] == f]) for f in folders},
    }
    summary["targets"] = {"lm2d": 0.02, "world_mm": 10.0, "mask_iou": 0.95}
    a = summary["all"]
    summary["targets_met"] = {
        "lm2d": a["lm2d"]["mean"] <= 0.02,
        "world_mm": a["world_mm"]["mean"] <= 10.0,
        "mask_iou": a["mask_iou"]["mean"] >= 0.95,
    }
    load = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "blazepose_parity.json").write_text(
        json.dumps(
            {"threads": args.threads, "load_average": load, "summary": summary, "photos": rows},
            indent=1,
        )  # fmt: skip
    )
    lines = [
        f"# LiteRT BlazePose vs MediaPipe's legacy Pose (benchmarks/blazepose_parity.py; "
        f"{args.threads} thread(s), load average {load:.1f})",
        "",
        "Every photo of ../shared/data/real; MediaPipe 0.10.14's legacy solution (first attempt) "
        "vs "
        "`lasor.frontend.blazepose.BlazePose.detect`. lm2d: mean distance of the landmarks "
        "MediaPipe sees (visibility >= 0.5) over its person box's longer side; world: mean "
        "distance of the 33 world landmarks; vis: mean |visibility difference|; mask IoU at "
        "probability 0.5. Mean / median / worst over the photos where both find a person.",
        "",
        "| set | photos | both | only MP | only ours | lm2d | world mm | vis | mask IoU | "
        "MP ms | ours ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(s: dict, k: str, fmt: str) -> str:
        if k not in s:
            return "-"
        v = s[k]
        return " / ".join(format(v[x], fmt) for x in ("mean", "median", "worst"))

    for name in ["all", *folders]:
        s = summary[name]
        lines.append(
            f"| {name} | {s['photos']} | {s['both_found']} | {s['only_mediapipe']} | "
            f"{s['only_ours']} | {cell(s, 'lm2d', '.4f')} | {cell(s, 'world_mm', '.1f')} | "
            f"{cell(s, 'vis', '.3f')} | {cell(s, 'mask_iou', '.3f')} | "
            f"{s['mediapipe_ms']:.0f} | {s['ours_ms']:.0f} |"
        )
    met = summary["targets_met"]
    lines += [
        "",
        f"Targets (means over all photos): lm2d <= 0.02: {met['lm2d']}; world <= 10 mm: "
        f"{met['world_mm']}; mask IoU >= 0.95: {met['mask_iou']}. Times: median per photo, "
        "whole path (detector + landmarks).",
    ]
    (RESULTS / "blazepose_parity.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
