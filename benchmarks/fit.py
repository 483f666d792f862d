"""Does fitting in the photo's camera (``lasor.fit``, the default of ``lasor predict``) help?

Scores one model twice on the same data, plain (``--fast``) and fitted (``FitOptions()``, or
``--steps``):

* the real photos with ground truth (``lasor eval real``): per image and on average, mesh/mask
  IoU, PCK@0.1, Human3.6M MPJPE / PA-MPJPE (MediaPipe front end), and with ground-truth input;
  MediaPipe's own mask IoU and world-landmark PA-MPJPE as the peer baseline;
* the synthetic occlusion benchmark (``lasor eval synthetic``) on its first ``-n`` held-out
  samples (default 256, to bound the CPU cost), paired differences per stratum;
* milliseconds of fitting per person: on the real photos one person per call (as ``lasor
  predict`` on one photo), on the synthetic set batches of 64.

Prints one JSON line; writes benchmarks/results/fit.{json,md} and, with ``--picture``, a
before/after picture of ``lasor predict`` on a few real photos (plain above, fitted below).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STRATA = ("all", "unoccluded", "object", "person", "truncated", "heavy")
REAL = ("mediapipe_iou", "mediapipe_pck", "mediapipe_mpjpe", "mediapipe_pa_mpjpe",
        "oracle_iou", "oracle_pck", "oracle_pa_mpjpe", "mediapipe_mask_iou",
        "mediapipe_world_pa_mpjpe")  # fmt: skip
PER_IMAGE = ("mediapipe_iou", "mediapipe_pck", "mediapipe_pa_mpjpe", "oracle_iou")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("-n", type=int, default=256, help="synthetic test samples (0 = skip)")
    ap.add_argument("--steps", type=int, default=None, help="fit steps (default FitOptions)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/real")
    ap.add_argument("--picture", type=Path, default=None, help="before/after PNG to write")
    ap.add_argument(
        "--picture-photos", nargs="+",
        default=["pexels_4793258.jpg", "hmr_coco3.png", "straps_0003.png", "spin_im1010.jpg"],
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.eval.real import run_real_eval
    from lasor.eval.synthetic import paired_differences, run_synthetic_eval
    from lasor.fit.core import FitOptions
    from lasor.predict import shipped_model_path

    ckpt = args.checkpoint or shipped_model_path()
    opts = FitOptions() if args.steps is None else FitOptions(steps=args.steps)
    out: dict = {
        "checkpoint": str(ckpt),
        "fit": dataclasses.asdict(opts),
        "n": args.n,
        "threads": args.threads,
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        real, rows = {}, {}
        for name, fo in (("plain", None), ("fitted", opts)):
            t = time.perf_counter()
            r = run_real_eval(ckpt, args.data, Path(tmp) / f"real_{name}", render=False, fit=fo)
            real[name] = {k: round(r["mean"][k], 3) for k in REAL}
            real[name]["wall_s"] = round(time.perf_counter() - t, 1)
            real[name]["n"] = r["n"]
            rows[name] = r["per_image"]
        # two fits per person (MediaPipe and ground-truth input), one person per call
        fits = 2 * real["fitted"]["n"]
        out["real_fit_ms_per_person"] = round(
            1000 * (real["fitted"]["wall_s"] - real["plain"]["wall_s"]) / fits, 1
        )
        out["real"] = real
        out["real_per_image"] = []
        for a, b in zip(rows["plain"], rows["fitted"], strict=True):
            row = {"name": a["name"], "dataset": a["dataset"]}
            for k in PER_IMAGE:
                row[f"{k}_plain"], row[f"{k}_fitted"] = a.get(k), b.get(k)
            out["real_per_image"].append(row)
        syn = None
        if args.n > 0:
            runs, per = {}, {}
            for name, fo in (("plain", None), ("fitted", opts)):
                runs[name] = run_synthetic_eval(ckpt, Path(tmp) / name, n=args.n, fit=fo)
                per[name] = dict(np.load(Path(tmp) / name / "per_sample.npz"))
            diff = paired_differences(per["plain"], per["fitted"], ("pa_mpjpe", "mpjpe"), STRATA)
            syn = {}
            for s in STRATA:
                row = {"n": runs["plain"]["metrics"][s]["n"]}
                for k in ("pa_mpjpe", "mpjpe", "pve"):
                    row[f"{k}_plain"] = runs["plain"]["metrics"][s][k]
                    row[f"{k}_fitted"] = runs["fitted"]["metrics"][s][k]
                for k in ("pa_mpjpe", "mpjpe"):
                    mean, half = diff[s][k]
                    row[f"d_{k}"] = {"mean": mean, "ci95": half}
                syn[s] = row
            out["synthetic_fit_ms_per_sample"] = runs["fitted"]["fit_ms_per_sample"]
        out["synthetic"] = syn
    line = json.dumps(out)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fit.json").write_text(line + "\n")
    (RESULTS / "fit.md").write_text(markdown(out, Path(ckpt).name))
    if args.picture:
        photos = [args.data / "photos" / n for n in args.picture_photos]
        before_after(ckpt, opts, photos, args.picture)


def markdown(out: dict, ckpt_name: str) -> str:
    fo, real = out["fit"], out["real"]
    lines = [
        f"# Fitting in the photo's camera (`lasor.fit`, {fo['steps']} steps, {fo['renderer']}"
        f" silhouette at <= {fo['mask_res']} px) on `{ckpt_name}`",
        "",
        f"Real photos ({real['plain']['n']} people; IoU and PCK@0.1 in [0, 1], H36M in mm; GT in ="
        " ground-truth keypoints and mask as the observation; MP = MediaPipe's own mask / world"
        " landmarks):",
        "",
        "| | IoU | PCK | H36M MPJPE | H36M PA-MPJPE | IoU (GT in) | PCK (GT in) |"
        " PA-MPJPE (GT in) | MP mask IoU | MP world PA-MPJPE | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("plain", "fitted"):
        r = real[name]
        lines.append(
            f"| {name} | {r['mediapipe_iou']:.3f} | {r['mediapipe_pck']:.3f} | "
            f"{r['mediapipe_mpjpe']:.0f} | {r['mediapipe_pa_mpjpe']:.0f} | {r['oracle_iou']:.3f} | "
            f"{r['oracle_pck']:.3f} | {r['oracle_pa_mpjpe']:.0f} | {r['mediapipe_mask_iou']:.3f} | "
            f"{r['mediapipe_world_pa_mpjpe']:.0f} | {r['wall_s']} |"
        )
    lines += [
        "",
        f"Fitting cost on the real photos: {out['real_fit_ms_per_person']} ms per person (one"
        f" person per call, {out['threads']} torch thread(s), numba threads"
        f" {out['numba_threads'] or 'default'}; wall-time difference fitted - plain).",
        "",
        "Per image (MediaPipe input unless marked):",
        "",
        "| image | dataset | IoU plain | fitted | PCK plain | fitted | PA-MPJPE plain | fitted |"
        " IoU GT-in plain | fitted |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def f(v, d=2):
        return "–" if v is None or not np.isfinite(v) else f"{v:.{d}f}"

    for r in out["real_per_image"]:
        lines.append(
            f"| {r['name']} | {r['dataset']} | {f(r['mediapipe_iou_plain'])} | "
            f"{f(r['mediapipe_iou_fitted'])} | {f(r['mediapipe_pck_plain'])} | "
            f"{f(r['mediapipe_pck_fitted'])} | {f(r['mediapipe_pa_mpjpe_plain'], 0)} | "
            f"{f(r['mediapipe_pa_mpjpe_fitted'], 0)} | {f(r['oracle_iou_plain'])} | "
            f"{f(r['oracle_iou_fitted'])} |"
        )
    syn = out["synthetic"]
    if syn:
        lines += [
            "",
            f"Synthetic benchmark (the first {out['n']} of the fixed held-out samples, to bound"
            " the CPU cost; mm; Δ = fitted − plain, paired, 95 %; the 64 px proxy crop stands in"
            " for the photo):",
            "",
            "| stratum | n | PA-MPJPE plain | fitted | Δ PA-MPJPE | MPJPE plain | fitted |"
            " Δ MPJPE | PVE plain | fitted |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s, r in syn.items():
            dp, dm = r["d_pa_mpjpe"], r["d_mpjpe"]
            lines.append(
                f"| {s} | {r['n']} | {r['pa_mpjpe_plain']:.1f} | {r['pa_mpjpe_fitted']:.1f} | "
                f"{dp['mean']:+.1f} ± {dp['ci95']:.1f} | {r['mpjpe_plain']:.1f} | "
                f"{r['mpjpe_fitted']:.1f} | {dm['mean']:+.1f} ± {dm['ci95']:.1f} | "
                f"{r['pve_plain']:.1f} | {r['pve_fitted']:.1f} |"
            )
        lines += ["", f"Synthetic fitting cost: {out['synthetic_fit_ms_per_sample']} ms per"
                  " sample (batches of 64)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def before_after(ckpt: Path, opts, photos: list[Path], out: Path, height: int = 360) -> None:
    """``lasor predict`` overlays plain (top row) and fitted (bottom row)."""
    from PIL import Image, ImageDraw

    from lasor.predict import PredictOptions, predict

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fo in (("plain (--fast)", None), ("fitted (default)", opts)):
            po = PredictOptions(model_path=ckpt, fit=fo, batch_size=1)
            d = Path(tmp) / str(len(rows))
            predict(photos, d, po, progress=False)
            tiles = []
            for p in photos:
                im = Image.open(d / f"{p.stem}_overlay.png").convert("RGB")
                tiles.append(im.resize((round(im.width * height / im.height), height)))
            rows.append((name, tiles))
    width = sum(t.width for t in rows[0][1]) + 6 * (len(photos) - 1)
    canvas = Image.new("RGB", (width, 2 * height + 6 + 2 * 18), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    y = 0
    for name, tiles in rows:
        draw.text((4, y + 3), f"{name} (yellow: MediaPipe keypoints, red: the body's)",
                  fill=(0, 0, 0))  # fmt: skip
        x = 0
        for t in tiles:
            canvas.paste(t, (x, y + 18))
            x += t.width + 6
        y += height + 18 + 6
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)


if __name__ == "__main__":
    main()
