"""Two models on the same synthetic test set: per-stratum means and paired differences.

``python benchmarks/compare_models.py BASE CANDIDATE --name NAME`` scores both checkpoints with
``lasor eval synthetic`` (same seed, same samples) and reports, per occlusion stratum, each
model's mean PA-MPJPE / MPJPE / PVE and the paired difference CANDIDATE - BASE (mean and 95 %
interval over test samples). Prints one JSON line; writes benchmarks/results/NAME.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STRATA = ("all", "unoccluded", "object", "person", "truncated", "heavy")
KEYS = ("pa_mpjpe", "mpjpe", "pve", "pve_t_sc")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base", type=Path)
    ap.add_argument("candidate", type=Path)
    ap.add_argument("--name", required=True, help="results file stem")
    ap.add_argument("-n", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--benchmark", choices=["v1", "v2", "anchors"], default="v1")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.eval.synthetic import paired_differences, run_synthetic_eval

    runs, per = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ckpt in (("base", args.base), ("candidate", args.candidate)):
            runs[name] = run_synthetic_eval(
                ckpt, Path(tmp) / name, n=args.n, benchmark=args.benchmark
            )
            per[name] = dict(np.load(Path(tmp) / name / "per_sample.npz"))
    diff = paired_differences(per["base"], per["candidate"], KEYS, STRATA)
    rows = {}
    for s in STRATA:
        rows[s] = {"n": runs["base"]["metrics"][s]["n"]}
        for k in KEYS:
            rows[s][f"{k}_base"] = runs["base"]["metrics"][s][k]
            rows[s][f"{k}_candidate"] = runs["candidate"]["metrics"][s][k]
            rows[s][f"d_{k}"] = list(diff[s][k])
    out = {
        "base": str(args.base), "candidate": str(args.candidate), "n": args.n,
        "benchmark": args.benchmark, "strata": rows,
    }  # fmt: skip
    line = json.dumps(out)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(line + "\n")
    lines = [
        f"# `{args.candidate}` vs `{args.base}`",
        "",
        f"{args.n} synthetic held-out samples (`lasor eval synthetic --benchmark {args.benchmark}`,"
        " seed 0); mm; Δ = candidate − base, paired, mean ± 95 % interval over samples.",
        "",
        "| stratum | n | PA-MPJPE base | candidate | Δ PA-MPJPE | MPJPE base | candidate |"
        " Δ MPJPE | PVE base | candidate | Δ PVE | PVE-T-SC base | candidate | Δ PVE-T-SC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, r in rows.items():
        cells = [f"{s}", f"{r['n']}"]
        for k in KEYS:
            mean, half = r[f"d_{k}"]
            cells += [
                f"{r[f'{k}_base']:.1f}",
                f"{r[f'{k}_candidate']:.1f}",
                f"{mean:+.1f} ± {half:.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
