"""The fit's world-landmark term (``FitOptions.world``) on synthetic data, before any real frame.

Scores one model on the first ``-n`` samples of a synthetic benchmark (v2: every sample with
MediaPipe-like world landmarks drawn from the measured error model), fitted with the term's
weight at each of ``--weights`` (0 = the fit without it) and unfitted, all on the same samples;
reports per-stratum PA-MPJPE / MPJPE and paired differences against weight 0.

    python benchmarks/fit_world.py [--checkpoint M] [-n 256] [--weights 0,1,3,10]
        -> benchmarks/results/fit_world.{json,md}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("-n", type=int, default=256)
    ap.add_argument("--benchmark", default="v2")
    ap.add_argument("--weights", default="0,1,3,10")
    ap.add_argument("--mode", default="bones", choices=["bones", "joints"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="fit_world")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from lasor.body import load_body_model
    from lasor.eval.synthetic import evaluate_batches, make_test_set, paired_differences, strata
    from lasor.fit import FitOptions
    from lasor.predict import shipped_model_path
    from lasor.train.checkpoint import load_regressor

    ckpt = args.checkpoint or shipped_model_path()
    model, cfg = load_regressor(ckpt)
    batches = make_test_set(args.n, 0, cfg.data.image_size, None, benchmark=args.benchmark)
    body_full = load_body_model("anny", topology="anny")
    fit_body = load_body_model("anny", topology=cfg.model.topology)
    weights = [float(w) for w in args.weights.split(",")]
    runs = {}
    with torch.no_grad():
        runs["fast"] = evaluate_batches(model, batches, body_full)
    for w in weights:
        t = time.perf_counter()
        timing: dict = {}
        runs[f"w{w:g}"] = evaluate_batches(
            model, batches, body_full, fit_body=fit_body, timing=timing,
            fit=FitOptions(world=w, world_mode=args.mode),
        )  # fmt: skip
        runs[f"w{w:g}"]["seconds"] = time.perf_counter() - t

    base = runs[f"w{weights[0]:g}"]
    masks = strata(base["flags"], base["frac"])
    table = {}
    for name, per in runs.items():
        row = {s: round(float(per["pa_mpjpe"][m].mean()), 2) for s, m in masks.items()
               if s in ("all", "unoccluded", "heavy")}  # fmt: skip
        row["mpjpe_all"] = round(float(per["mpjpe"].mean()), 2)
        if name != f"w{weights[0]:g}":
            row["paired_vs_w0"] = paired_differences(base, per, names=("all", "heavy"))
        table[name] = row
    out = {
        "checkpoint": str(ckpt), "n": int(len(base["mpjpe"])), "benchmark": args.benchmark,
        "fit": dataclasses.asdict(FitOptions(world_mode=args.mode)),
        "results": table,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n")
    md = [
        f"# The fit's world-landmark term on synthetic {args.benchmark} ({out['n']} samples)",
        "",
        f"`python benchmarks/fit_world.py --checkpoint {ckpt}`; PA-MPJPE / MPJPE in mm; "
        "paired Δ against the fit without the term (weight 0), mean ± 95 %.",
        "",
        "| run | PA all | PA unoccluded | PA heavy | MPJPE all | Δ PA all | Δ MPJPE all |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in table.items():
        d = row.get("paired_vs_w0", {}).get("all", {})
        dpa = "{:+.1f} ± {:.1f}".format(*d["pa_mpjpe"]) if d else ""
        dmp = "{:+.1f} ± {:.1f}".format(*d["mpjpe"]) if d else ""
        md.append(
            f"| {name} | {row['all']:.1f} | {row['unoccluded']:.1f} | {row['heavy']:.1f} | "
            f"{row['mpjpe_all']:.1f} | {dpa} | {dmp} |"
        )
    (RESULTS / f"{args.name}.md").write_text("\n".join(md) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
