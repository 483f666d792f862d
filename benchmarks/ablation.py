"""LASOR's ablation on a CPU budget: silhouette loss on/off x occlusion synthesis on/off.

Trains the four variants with the same config, steps and seed (only the switch differs), then
evaluates each on the same fixed synthetic test set (held-out mocap subjects, occlusions on), and
reports the unoccluded and occluded strata:

    python benchmarks/ablation.py --steps 3000 --out runs/ablation

Writes benchmarks/results/ablation.{json,md}. Each variant's run folder keeps its logs and
checkpoints, so an interrupted ablation resumes (``--resume``).
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
    args = ap.parse_args()
    from lasor.eval.synthetic import run_synthetic_eval
    from lasor.train.config import load_config
    from lasor.train.loop import train

    rows = {}
    for i, (name, sets) in enumerate(VARIANTS.items()):
        out = args.out / f"v{i}"
        warm = min(500, args.steps // 10)
        common = [f"optim.steps={args.steps}", f"run.out_dir={out}", "run.tensorboard=false",
                  "run.progress=false", f"optim.warmup_steps={warm}"]  # fmt: skip
        cfg = load_config(args.config, common + sets)
        t = time.perf_counter()
        if not (out / "last.pt").exists() or args.resume:
            train(cfg, resume=(out / "last.pt").exists())
        res = run_synthetic_eval(out / "last.pt", out / "eval", n=args.n, seed=0)
        m = res["metrics"]
        rows[name] = {
            "train_s": round(time.perf_counter() - t, 1),
            **{f"{s}_{k}": m[s][k] for s in ("unoccluded", "heavy", "all")
               for k in ("mpjpe", "pa_mpjpe", "pve")},
        }  # fmt: skip
    lines = ["| variant | PA-MPJPE unocc. | PA-MPJPE heavy occ. | PA-MPJPE all | PVE all |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in rows.items():
        lines.append(f"| {name} | {r['unoccluded_pa_mpjpe']:.1f} | {r['heavy_pa_mpjpe']:.1f} | "
                     f"{r['all_pa_mpjpe']:.1f} | {r['all_pve']:.1f} |")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ablation.md").write_text("\n".join(lines) + f"\n\n({args.steps} steps each, mm)\n")
    line = json.dumps({"steps": args.steps, "variants": rows})
    (RESULTS / "ablation.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
