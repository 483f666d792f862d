"""Does refinement (``lasor predict --refine``) help? Synthetic 3D errors and real-photo fit.

Scores one model twice on the same data, without and with ``lasor.refine`` (default
``RefineOptions``, or ``--steps``):

* the synthetic occlusion benchmark (``lasor eval synthetic``: fixed held-out samples, every
  stratum), with paired per-sample differences of PA-MPJPE and MPJPE (mean and 95 % interval);
* the real photos with ground truth (``lasor eval real``): mesh/mask IoU, PCK@0.1, Human3.6M.

Prints one JSON line; writes benchmarks/results/refine.{json,md} and, with ``--picture``, a
before/after picture of ``lasor predict`` on a few real photos (plain above, refined below).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STRATA = ("all", "unoccluded", "object", "person", "truncated", "heavy")
REAL = ("mediapipe_iou", "mediapipe_pck", "mediapipe_mpjpe", "mediapipe_pa_mpjpe",
        "oracle_iou", "oracle_pck", "oracle_pa_mpjpe")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("-n", type=int, default=2048, help="synthetic test samples")
    ap.add_argument("--steps", type=int, default=None, help="refinement steps (default: 40)")
    ap.add_argument("--threads", type=int, default=2)
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
    from lasor.predict import shipped_model_path
    from lasor.refine import RefineOptions

    ckpt = args.checkpoint or shipped_model_path()
    opts = RefineOptions() if args.steps is None else RefineOptions(steps=args.steps)
    out: dict = {"checkpoint": str(ckpt), "refine": dataclasses.asdict(opts), "n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        runs, per, wall = {}, {}, {}
        for name, ro in (("off", None), ("on", opts)):
            t = time.perf_counter()
            runs[name] = run_synthetic_eval(ckpt, Path(tmp) / name, n=args.n, refine=ro)
            wall[name] = time.perf_counter() - t
            per[name] = dict(np.load(Path(tmp) / name / "per_sample.npz"))
        diff = paired_differences(per["off"], per["on"], ("pa_mpjpe", "mpjpe"), STRATA)
        syn = {}
        for s in STRATA:
            row = {"n": runs["off"]["metrics"][s]["n"]}
            for k in ("pa_mpjpe", "mpjpe", "pve", "pve_t_sc"):
                row[f"{k}_off"] = runs["off"]["metrics"][s][k]
                row[f"{k}_on"] = runs["on"]["metrics"][s][k]
            for k in ("pa_mpjpe", "mpjpe"):
                mean, half = diff[s][k]
                row[f"d_{k}"] = {"mean": mean, "ci95": half}
            syn[s] = row
        out["synthetic"] = syn
        out["synthetic_refine_ms_per_sample"] = runs["on"]["refine_ms_per_sample"]
        out["synthetic_wall_s"] = {k: round(v, 1) for k, v in wall.items()}
        real = {}
        for name, ro in (("off", None), ("on", opts)):
            t = time.perf_counter()
            r = run_real_eval(ckpt, args.data, Path(tmp) / f"real_{name}", render=False, refine=ro)
            real[name] = {k: round(r["mean"][k], 3) for k in REAL}
            real[name]["wall_s"] = round(time.perf_counter() - t, 1)
            real[name]["n"] = r["n"]
        out["real"] = real
    out["threads"] = args.threads
    line = json.dumps(out)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "refine.json").write_text(line + "\n")
    lines = [
        f"# Refinement (`--refine`, {opts.steps} steps) on `{Path(ckpt).name}`",
        "",
        f"Synthetic benchmark ({args.n} held-out samples; mm; Δ = refined − plain, paired, 95 %):",
        "",
        "| stratum | n | PA-MPJPE plain | refined | Δ PA-MPJPE | MPJPE plain | refined | Δ MPJPE |"
        " PVE plain | refined |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, r in syn.items():
        dp, dm = r["d_pa_mpjpe"], r["d_mpjpe"]
        lines.append(
            f"| {s} | {r['n']} | {r['pa_mpjpe_off']:.1f} | {r['pa_mpjpe_on']:.1f} | "
            f"{dp['mean']:+.1f} ± {dp['ci95']:.1f} | {r['mpjpe_off']:.1f} | {r['mpjpe_on']:.1f} | "
            f"{dm['mean']:+.1f} ± {dm['ci95']:.1f} | {r['pve_off']:.1f} | {r['pve_on']:.1f} |"
        )
    lines += [
        "",
        f"Refinement cost: {out['synthetic_refine_ms_per_sample']} ms per sample (batches of 64,"
        f" {args.threads} threads).",
        "",
        f"Real photos ({real['off']['n']} people; IoU and PCK@0.1 in [0, 1], H36M in mm; GT in ="
        " ground-truth keypoints and mask as the observation):",
        "",
        "| | IoU | PCK | H36M MPJPE | H36M PA-MPJPE | IoU (GT in) | PCK (GT in) |"
        " PA-MPJPE (GT in) | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("off", "on"):
        r = real[name]
        lines.append(
            f"| {'plain' if name == 'off' else 'refined'} | {r['mediapipe_iou']:.3f} | "
            f"{r['mediapipe_pck']:.3f} | {r['mediapipe_mpjpe']:.0f} | "
            f"{r['mediapipe_pa_mpjpe']:.0f} | {r['oracle_iou']:.3f} | {r['oracle_pck']:.3f} | "
            f"{r['oracle_pa_mpjpe']:.0f} | {r['wall_s']} |"
        )
    (RESULTS / "refine.md").write_text("\n".join(lines) + "\n")
    if args.picture:
        photos = [args.data / "photos" / n for n in args.picture_photos]
        before_after(ckpt, opts, photos, args.picture)


def before_after(ckpt: Path, opts, photos: list[Path], out: Path, height: int = 360) -> None:
    """``lasor predict`` overlays without (top row) and with (bottom row) refinement."""
    from PIL import Image, ImageDraw

    from lasor.predict import PredictOptions, predict

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, ro in (("plain", None), ("refined", opts)):
            po = PredictOptions(model_path=ckpt, refine=ro, batch_size=1)
            predict(photos, Path(tmp) / name, po, progress=False)
            tiles = []
            for p in photos:
                im = Image.open(Path(tmp) / name / f"{p.stem}_overlay.png").convert("RGB")
                tiles.append(im.resize((round(im.width * height / im.height), height)))
            rows.append((name, tiles))
    width = sum(t.width for t in rows[0][1]) + 6 * (len(photos) - 1)
    canvas = Image.new("RGB", (width, 2 * height + 6 + 2 * 18), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    y = 0
    for name, tiles in rows:
        label = f"{name} (yellow: MediaPipe keypoints, red: the body's)"
        draw.text((4, y + 3), label, fill=(0, 0, 0))
        x = 0
        for t in tiles:
            canvas.paste(t, (x, y + 18))
            x += t.width + 6
        y += height + 18 + 6
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)


if __name__ == "__main__":
    main()
