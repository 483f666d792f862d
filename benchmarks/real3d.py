"""Real frames with 3D ground truth: lasor (fast, fitted) vs MediaPipe's world landmarks vs fused.

    python benchmarks/real3d.py [--model PATH] [--methods lasor_fast,lasor_fit,mediapipe,fused]
        [--limit N] [--fit-steps K] [--name real3d]

Scores every frame of ``../shared/data/real/h36m`` (4) and ``h36m_s9`` (283) on identical crops
(1.2 x the annotated box, black outside; see `lasor.eval.real3d`): limb-12 PA-MPJPE and MPJPE,
knee / hip angle errors, per frame. Writes ``benchmarks/results/<name>.json`` (per-frame table +
summary) and ``<name>.md``. MediaPipe's observation of each crop is cached under
``~/.cache/lasor/real3d`` (never in the repository), so re-scoring a model costs only lasor.

Methods: ``lasor_fast`` (``--fast``), ``lasor_fit`` (the default, fitted), ``mediapipe`` (its
world landmarks), ``fused`` (MediaPipe similarity-aligned onto lasor_fit's joints and averaged
with them, no ground truth), ``fused_fast`` (the same on lasor_fast), ``lasor_fast_gt2d``
(diagnostic: lasor_fast with the ground-truth 2D limb joints instead of MediaPipe's);
not by default: ``lasor_fast_truefocal`` / ``lasor_fit_truefocal`` (diagnostic: the camera's
real focal length instead of the default, the crop's diagonal).

From Python, score any method: ``score_frames(frames, {"mine": fn})`` with ``fn(crop) -> (17, 3)``
(see `lasor.eval.real3d.Method`; `image_method(fn)` adapts a plain `fn(image)`), or `run`
below with a model path and fit options.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_METHODS = "lasor_fast,lasor_fit,mediapipe,fused,fused_fast,lasor_fast_gt2d"
FUSIONS = {
    "fused": ("lasor_fit", "mediapipe"),
    "fused_fast": ("lasor_fast", "mediapipe"),
    "fused_fitw": ("lasor_fitw", "mediapipe"),
}


def pick(frames: list, limit: int | None) -> list:
    """At most ``limit`` frames per set, evenly spaced through it."""
    if not limit:
        return frames
    out = []
    for s in dict.fromkeys(f.set for f in frames):
        fs = [f for f in frames if f.set == s]
        idx = np.unique(np.linspace(0, len(fs) - 1, min(limit, len(fs))).round().astype(int))
        out += [fs[i] for i in idx]
    return out


def run(
    model: Path | None = None,
    methods: list[str] | None = None,
    limit: int | None = None,
    data: Path = ROOT.parent / "shared/data/real",
    fit=True,
    progress: bool = True,
    cache_predictions: bool = True,
    fit_world: float = 3.0,
    fit_world_mode: str = "bones",
) -> dict:
    """Score the chosen methods; returns the result dict (per-frame rows, summary) and joints.

    Args:
        model: regressor file (None = shipped). methods: names (see module docstring).
        limit: frames per set. data: the real-data root. fit: `lasor.Estimator`'s ``fit``
            for ``lasor_fit`` (True, steps, or a ``lasor.fit.FitOptions``).
        cache_predictions: keep each lasor method's joints per frame under
            ``~/.cache/lasor/real3d/predictions`` (keyed by the model file's hash and the
            options), so a killed run resumes and re-scoring is free.
        fit_world: ``lasor_fitw``'s weight of the fit's world-landmark term
            (``FitOptions.world``; ``lasor_fit`` is the default fit, whatever its weight).
    """
    from lasor.eval.real3d import (
        PredictionCache,
        lasor_method,
        load_frames,
        mediapipe_method,
        score_frames,
    )
    from lasor.fit import FitOptions

    methods = methods or DEFAULT_METHODS.split(",")
    fusions = {k: v for k, v in FUSIONS.items() if k in methods}
    need = set(methods) - set(fusions) | {x for v in fusions.values() for x in v}
    makers = {
        "lasor_fast": lambda: lasor_method(model, fit=False),
        "lasor_fit": lambda: lasor_method(model, fit=fit),
        "lasor_fitw": lambda: lasor_method(model, fit=FitOptions(
            world=fit_world, world_mode=fit_world_mode,
            **({"steps": fit} if not isinstance(fit, bool) else {}))),
        "mediapipe": lambda: mediapipe_method,
        "lasor_fast_gt2d": lambda: lasor_method(model, fit=False, gt_2d=True),
        "lasor_fast_truefocal": lambda: lasor_method(model, fit=False, true_focal=True),
        "lasor_fit_truefocal": lambda: lasor_method(model, fit=fit, true_focal=True),
    }
    unknown = need - set(makers)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {DEFAULT_METHODS}")
    ms = {k: makers[k]() for k in makers if k in need}
    frames = pick(load_frames(data), limit)
    t0 = time.perf_counter()
    preds = PredictionCache() if cache_predictions else None
    rows, joints = score_frames(frames, ms, fusions=fusions, progress=progress, predictions=preds)
    wall = time.perf_counter() - t0
    return {"rows": rows, "joints": joints, "wall_s": round(wall, 1), "n": len(rows),
            "methods": list(ms) + list(fusions)}  # fmt: skip


def markdown(res: dict, summary: dict, title: str) -> str:
    names = res["methods"]
    lines = [f"# {title}", ""]
    lines.append(
        "Limb-12 (shoulders, elbows, wrists, hips, knees, ankles) PA-MPJPE / MPJPE (hip centres "
        "aligned) in mm; knee (hip-knee-ankle) and hip (thorax-hip-knee) angle errors in degrees, "
        "mean |error| (signed mean: negative = more bent than the truth); straight = legs whose "
        "ground-truth knee >= 160 deg. Ratio = PA-MPJPE / MediaPipe's on the same frames. "
        "Identical crops (1.2 x the annotated box) for every method.\n"
    )
    lines.append("| group | n | " + " | ".join(f"{k} PA" for k in names) + " | "
                 + " | ".join(f"{k} ratio" for k in names) + " |")  # fmt: skip
    lines.append("|---|---:|" + "---:|" * (2 * len(names)))
    for g, s in summary.items():
        if g == "mean_over_sets" or not s.get("n"):
            continue
        pa = " | ".join(f"{s[k]['pa_mpjpe']:.1f}" for k in names)
        ra = " | ".join(f"{s[k].get('pa_ratio', float('nan')):.3f}" for k in names)
        lines.append(f"| {g} | {s['n']} | {pa} | {ra} |")
    if "mean_over_sets" in summary:
        ra = " | ".join(f"{summary['mean_over_sets'][k]['pa_ratio']:.3f}" for k in names)
        lines.append(f"| mean ratio over sets | | {' | '.join('' for _ in names)} | {ra} |")
    lines += ["", "MPJPE (hip centres aligned), mm:", ""]
    lines.append("| group | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))
    for g, s in summary.items():
        if g != "mean_over_sets" and s.get("n"):
            lines.append(f"| {g} | " + " | ".join(f"{s[k]['mpjpe']:.1f}" for k in names) + " |")
    lines += ["", "Leg angles, mean |error| (signed mean) in degrees:", ""]
    lines.append("| group | legs straight / bent | method | knee straight | knee bent | "
                 "hip straight | hip bent | knee all | hip all |")  # fmt: skip
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for g in ("all", "h36m", "s9"):
        s = summary.get(g)
        if not s or not s.get("n"):
            continue
        for k in names:
            m = s[k]

            def c(key, m=m):
                a, sg = m[key.replace("X", "abs")], m[key.replace("X", "signed")]
                return f"{a:.1f} ({sg:+.1f})" if np.isfinite(a) else "–"

            lines.append(
                f"| {g} | {s['legs_straight']} / {s['legs_bent']} | {k} | {c('knee_X_straight')}"
                f" | {c('knee_X_bent')} | {c('hip_X_straight')} | {c('hip_X_bent')} | "
                f"{c('knee_X')} | {c('hip_X')} |"
            )
    lines += ["", f"{res['n']} frames, {res['wall_s']} s. Per-frame rows in the JSON.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="regressor file (default: shipped)")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--limit", type=int, default=None, help="at most N frames per set")
    ap.add_argument("--fit-steps", type=int, default=None, help="lasor_fit's steps (default)")
    ap.add_argument("--fit-world", type=float, default=3.0, help="lasor_fitw's world weight")
    ap.add_argument("--fit-world-mode", default="bones", choices=["bones", "joints"])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/real")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="real3d", help="results file stem")
    ap.add_argument("--joints", type=Path, default=None, help="also save joints (npz) here")
    ap.add_argument("--no-cache", action="store_true", help="recompute lasor's predictions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.eval.real3d import summarise
    from lasor.predict import shipped_model_path

    fit = True if args.fit_steps is None else args.fit_steps
    res = run(
        args.model, args.methods.split(","), args.limit, args.data, fit,
        cache_predictions=not args.no_cache, fit_world=args.fit_world,
        fit_world_mode=args.fit_world_mode,
    )  # fmt: skip
    summary = summarise(res["rows"], res["methods"])
    model = str(args.model or shipped_model_path().name)
    title = f"Real 3D: Human3.6M frames, `{Path(model).name}`"
    out = {
        "model": model, "methods": res["methods"], "n": res["n"], "wall_s": res["wall_s"],
        "threads": args.threads, "limit": args.limit, "fit_steps": args.fit_steps,
        "fit_world": args.fit_world, "fit_world_mode": args.fit_world_mode,
        "summary": summary, "per_frame": res["rows"],
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n")
    md = markdown(res, summary, title)
    (RESULTS / f"{args.name}.md").write_text(md)
    if args.joints:
        np.savez_compressed(
            args.joints,
            **res["joints"],
            names=np.array([r["set"] + "/" + r["name"] for r in res["rows"]]),
        )
    print(md)
    print(json.dumps({g: {k: s[k]["pa_mpjpe"] for k in res["methods"]} for g, s in
                      summary.items() if g != "mean_over_sets" and s.get("n")}))  # fmt: skip


if __name__ == "__main__":
    main()
