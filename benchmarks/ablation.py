"""LASOR's ablation on a CPU budget: silhouette loss on/off x occlusion synthesis on/off.

Trains the four variants with the same config, steps and seed (only the switch differs), then
evaluates each on the same fixed synthetic test set (held-out mocap subjects, occlusions on), and
reports the unoccluded and occluded strata:

    python benchmarks/ablation.py --steps 3000 --out runs/ablation

Writes benchmarks/results/ablation.{json,md} once all four variants are evaluated. Each variant's
run folder keeps its logs, checkpoints and its evaluated row (``ablation_row.json``), so an
interrupted ablation resumes (``--resume``), and ``--only`` splits the variants between processes
on a many-core machine (2 cores here: two 1-thread processes, two variants each):

    OMP_WAIT_POLICY=PASSIVE python benchmarks/ablation.py --only 0,1 --threads 1 &
    OMP_WAIT_POLICY=PASSIVE python benchmarks/ablation.py --only 2,3 --threads 1 &
    # when both finish (or any later time): python benchmarks/ablation.py --report
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
VARIANTS = {
    "full (sil + occ)": ["loss.use_silhouette=true", "data.synth={occlusion: true}"],
    "no silhouette loss": ["loss.use_silhouette=false", "data.synth={occlusion: true}"],
    "no occlusion synthesis": ["loss.use_silhouette=true", "data.synth={occlusion: false}"],
    "neither": ["loss.use_silhouette=false", "data.synth={occlusion: false}"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=Path("configs/train_default.yaml"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    ap.add_argument("-n", type=int, default=512, help="test samples")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated variant indices (default: all)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    ap.add_argument("--report", action="store_true", help="only collect the evaluated rows")
    args = ap.parse_args()
    from lasor.eval.synthetic import run_synthetic_eval
    from lasor.train.config import load_config
    from lasor.train.loop import train

    only = {int(x) for x in args.only.split(",") if x} or set(range(len(VARIANTS)))
    for i, sets in enumerate(VARIANTS.values()):
        out = args.out / f"v{i}"
        if args.report or i not in only or (out / "ablation_row.json").exists():
            continue
        warm = min(500, args.steps // 10)
        common = [f"optim.steps={args.steps}", f"run.out_dir={out}", "run.tensorboard=false",
                  "run.progress=false", f"optim.warmup_steps={warm}",
                  f"run.num_threads={args.threads}"]  # fmt: skip
        cfg = load_config(args.config, common + sets)
        t = time.perf_counter()
        if not (out / "last.pt").exists() or args.resume:
            train(cfg, resume=(out / "last.pt").exists())
        res = run_synthetic_eval(out / "last.pt", out / "eval", n=args.n, seed=0)
        m = res["metrics"]
        row = {
            "train_eval_s": round(time.perf_counter() - t, 1), "steps": args.steps,
            "settings": sets,
            "n_unoccluded": m["unoccluded"]["n"], "n_heavy": m["heavy"]["n"],
            **{f"{s}_{k}": m[s][k] for s in ("unoccluded", "heavy", "all")
               for k in ("mpjpe", "pa_mpjpe", "pve", "pve_t_sc")},
        }  # fmt: skip
        (out / "ablation_row.json").write_text(json.dumps(row) + "\n")
    rows = {}
    for i, name in enumerate(VARIANTS):
        f = args.out / f"v{i}" / "ablation_row.json"
        if f.exists():
            rows[name] = json.loads(f.read_text())
    if len(rows) < len(VARIANTS):
        print(json.dumps({"evaluated": sorted(rows), "missing": len(VARIANTS) - len(rows)}))
        return
    r0 = next(iter(rows.values()))
    lines = ["| variant | PA-MPJPE unoccluded | PA-MPJPE heavily occluded | PA-MPJPE all | "
             "MPJPE all | PVE all | PVE-T-SC all |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in rows.items():
        lines.append(f"| {name} | {r['unoccluded_pa_mpjpe']:.1f} | {r['heavy_pa_mpjpe']:.1f} | "
                     f"{r['all_pa_mpjpe']:.1f} | {r['all_mpjpe']:.1f} | {r['all_pve']:.1f} | "
                     f"{r['all_pve_t_sc']:.1f} |")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ablation.md").write_text(
        "\n".join(lines) + f"\n\n(mm; {r0['steps']} steps each from scratch, same seed; test set "
        f"{args.n} held-out samples: {r0['n_unoccluded']} unoccluded, {r0['n_heavy']} heavily "
        "occluded)\n"
    )
    line = json.dumps({"steps": r0["steps"], "n": args.n, "variants": rows})
    (RESULTS / "ablation.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
