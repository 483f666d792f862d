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

``--study branches`` ablates the hybrid regressor's branches (``configs/train_hybrid.yaml``:
keypoint MLP + mask CNN, keypoints only, mask only; the crop geometry always in) at equal CPU
time rather than equal steps: each variant's training step is timed on the same batches first
and its step count scaled so that all get the CPU time ``--steps`` steps of the full model take;
scored on the v2 benchmark (``lasor eval synthetic --benchmark v2``), written to
``branches.{json,md}``:

    python benchmarks/ablation.py --study branches --steps 1200 --threads 1

``--study speed`` is the same protocol for the fast training configuration (issue 20, part 4;
``configs/train_fast.yaml`` = ``train_hybrid.yaml`` with the overrides below): the old
configuration, the fast one (keypoints only, sparse training body, no silhouette, fused Adam),
the fast one with the soft-rasterised silhouette every 4th step, and with bfloat16 autocast;
step costs timed round-robin on the same batches; written to ``speed_ablation.{json,md}``:

    python benchmarks/ablation.py --study speed --steps 400 --threads 1 --bank-size 4000

``--study architecture`` runs the same protocol over encoder layouts instead (global pooling,
as shipped; a flattened 4x4 feature grid with CoordConv inputs; that plus a direct heatmap
readout; the grid and global pooling together; see ``lasor.model.regressor``), writing
``architecture.{json,md}`` from ``runs/architecture``. Its first variant is the lasor study's
"full" model, so ``runs/architecture/v0`` may be a link to ``runs/ablation/v0``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
LASOR = ["loss.use_silhouette=true", "data.synth={occlusion: true}"]
GRID = ["model.coord_channels=true", "model.pool=flatten"]
BOTH = ["model.coord_channels=true", "model.pool=both"]
STUDIES = {
    "lasor": {
        "full (sil + occ)": LASOR,
        "no silhouette loss": ["loss.use_silhouette=false", "data.synth={occlusion: true}"],
        "no occlusion synthesis": ["loss.use_silhouette=true", "data.synth={occlusion: false}"],
        "neither": ["loss.use_silhouette=false", "data.synth={occlusion: false}"],
    },
    "architecture": {
        "global pooling (shipped v1-v3 layout)": LASOR,
        "4x4 grid + CoordConv": LASOR + GRID,
        "4x4 grid + CoordConv + heatmap readout": LASOR + GRID + ["model.keypoint_readout=true"],
        "4x4 grid + global pooling + CoordConv": LASOR + BOTH,
        "4x4 grid, no CoordConv": [*LASOR, "model.pool=flatten"],
    },
    "branches": {
        "keypoints + mask (hybrid)": ["model.branches=[keypoints,mask]"],
        "keypoints only": ["model.branches=[keypoints]"],
        "mask only": ["model.branches=[mask]"],
    },
}
FAST = ["model.branches=[keypoints]", "loss.use_silhouette=false", "loss.sparse_vertices=384",
        "optim.fused=true"]  # fmt: skip
SIL4 = [*FAST[:1], "loss.use_silhouette=true", "loss.silhouette_every=4", *FAST[2:]]
STUDIES["speed"] = {
    "train_hybrid.yaml (old)": [],
    "train_fast.yaml (keypoints, sparse body, no silhouette)": FAST,
    "train_fast.yaml + silhouette every 4th step": SIL4,
    "train_fast.yaml + bf16 autocast": [*FAST, "run.precision=bf16"],
}
RESULT_NAME = {
    "lasor": "ablation", "architecture": "architecture", "branches": "branches",
    "speed": "speed_ablation",
}  # fmt: skip
#: studies trained from their own config at equal CPU time, scored on the v2 benchmark
EQUAL_TIME = {
    "branches": (Path("configs/train_hybrid.yaml"), "v2"),
    "speed": (Path("configs/train_hybrid.yaml"), "v2"),
}


def step_costs(config: Path, variants: dict, threads: int, rounds: int = 5) -> list[float]:
    """CPU seconds per training step of each variant, on the same batches.

    The variants' steps run round-robin (a block of four steps each per round, so a silhouette
    every 4th step is charged) and the median over rounds is kept: a busy machine slows them
    alike. Each step is the training loop's (``TrainNet`` with the training body and silhouette
    schedule, the configured optimiser and precision).
    """
    import statistics

    import torch

    from lasor.synth.engine import sparse_targets
    from lasor.train.checkpoint import build_body_model, build_regressor
    from lasor.train.config import load_config
    from lasor.train.loop import (
        SilhouetteSchedule,
        TrainNet,
        build_criterion,
        build_optimizer,
        build_train_body,
        make_dataset,
    )

    torch.set_num_threads(max(threads, 1))
    batches = None
    steps = []
    for sets in variants.values():
        cfg = load_config(config, [*sets, "data.bank_size=1000"])
        body = build_body_model(cfg.model)
        if batches is None:
            ds = make_dataset(cfg, "train", 0, body)
            batches = [ds[i] for i in range(4)]
        torch.manual_seed(0)
        train_body = build_train_body(cfg, body)
        crit = build_criterion(cfg)
        net = TrainNet(build_regressor(cfg.model, body), crit, cfg.run.precision)
        opt = build_optimizer(cfg.optim, net.parameters())
        schedule = SilhouetteSchedule(cfg, crit, body, train_body)
        index = getattr(train_body, "vertex_index", None)
        mine = batches if index is None else [sparse_targets(b, index) for b in batches]

        def step(i, net=net, opt=opt, tb=train_body, schedule=schedule, mine=mine):
            total, _ = net(mine[i % 4], tb, **schedule(i))
            opt.zero_grad()
            total.backward()
            opt.step()

        step(1)
        steps.append(step)
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for k, step in enumerate(steps):
            t = time.process_time()
            for i in range(4):
                step(i)
            times[k].append((time.process_time() - t) / 4)
    return [statistics.median(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=Path("configs/train_default.yaml"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--study", choices=sorted(STUDIES), default="lasor")
    ap.add_argument("--out", type=Path, default=None, help="default: runs/<result name>")
    ap.add_argument("-n", type=int, default=512, help="test samples")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated variant indices (default: all)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    ap.add_argument("--report", action="store_true", help="only collect the evaluated rows")
    ap.add_argument("--bank-size", type=int, default=0, help="data.bank_size (0: the config's)")
    args = ap.parse_args()
    variants = STUDIES[args.study]
    result = RESULT_NAME[args.study]
    args.out = args.out or Path("runs") / result
    from lasor.eval.synthetic import run_synthetic_eval
    from lasor.train.config import load_config
    from lasor.train.loop import train

    only = {int(x) for x in args.only.split(",") if x} or set(range(len(variants)))
    steps = [args.steps] * len(variants)
    benchmark = "v1"
    costs = None
    if args.study in EQUAL_TIME:
        args.config, benchmark = EQUAL_TIME[args.study]
        cost_file = args.out / "step_costs.json"
        if cost_file.exists():
            costs = json.loads(cost_file.read_text())
        elif not args.report:
            costs = step_costs(args.config, variants, args.threads)
            cost_file.parent.mkdir(parents=True, exist_ok=True)
            cost_file.write_text(json.dumps(costs) + "\n")
        if costs is not None:
            steps = [round(args.steps * costs[0] / c) for c in costs]
    for i, sets in enumerate(variants.values()):
        out = args.out / f"v{i}"
        if args.report or i not in only or (out / "ablation_row.json").exists():
            continue
        warm = min(500, steps[i] // 10)
        common = [f"optim.steps={steps[i]}", f"run.out_dir={out}", "run.tensorboard=false",
                  "run.progress=false", f"optim.warmup_steps={warm}",
                  f"run.num_threads={args.threads}"]  # fmt: skip
        if args.bank_size > 0:
            common.append(f"data.bank_size={args.bank_size}")
        cfg = load_config(args.config, common + sets)
        t = time.perf_counter()
        if not (out / "last.pt").exists() or args.resume:
            train(cfg, resume=(out / "last.pt").exists())
        res = run_synthetic_eval(
            out / "last.pt", out / "eval", n=args.n, seed=0, benchmark=benchmark
        )
        m = res["metrics"]
        row = {
            "train_eval_s": round(time.perf_counter() - t, 1), "steps": steps[i],
            "step_s": None if costs is None else round(costs[i], 4), "benchmark": benchmark,
            "settings": sets,
            "n_unoccluded": m["unoccluded"]["n"], "n_heavy": m["heavy"]["n"],
            **{f"{s}_{k}": m[s][k] for s in ("unoccluded", "heavy", "all")
               for k in ("mpjpe", "pa_mpjpe", "pve", "pve_t_sc")},
        }  # fmt: skip
        (out / "ablation_row.json").write_text(json.dumps(row) + "\n")
    rows = {}
    for i, name in enumerate(variants):
        f = args.out / f"v{i}" / "ablation_row.json"
        if f.exists():
            rows[name] = json.loads(f.read_text())
    if len(rows) < len(variants):
        print(json.dumps({"evaluated": sorted(rows), "missing": len(variants) - len(rows)}))
        return
    paired = paired_differences(args, variants, run_synthetic_eval, benchmark)
    first = next(iter(variants))
    r0 = next(iter(rows.values()))
    lines = ["| variant | PA-MPJPE unoccluded | PA-MPJPE heavily occluded | PA-MPJPE all | "
             "MPJPE all | PVE all | PVE-T-SC all |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in rows.items():
        lines.append(f"| {name} | {r['unoccluded_pa_mpjpe']:.1f} | {r['heavy_pa_mpjpe']:.1f} | "
                     f"{r['all_pa_mpjpe']:.1f} | {r['all_mpjpe']:.1f} | {r['all_pve']:.1f} | "
                     f"{r['all_pve_t_sc']:.1f} |")  # fmt: skip
    budget = (
        f"{r0['steps']} steps each"
        if costs is None
        else "equal CPU time (steps: "
        + ", ".join(str(r["steps"]) for r in rows.values())
        + "; seconds per step: "
        + ", ".join(f"{c:.3f}" for c in costs)
        + ")"
    )
    lines += ["", f"({budget} from scratch, same seed; test set {args.n} held-out samples of "
              f"benchmark {benchmark}: {r0['n_unoccluded']} unoccluded, {r0['n_heavy']} heavily "
              "occluded; mm)",
              "",
              f"Paired difference to \"{first}\" on the same test samples (variant minus it, "
              "mean ± 95 % interval of the mean over test samples; positive = worse; "
              "one training seed, so training noise is not in the interval):", "",
              "| variant | Δ PA-MPJPE unoccluded | Δ PA-MPJPE truncated | "
              "Δ PA-MPJPE heavily occluded | Δ PA-MPJPE all | Δ MPJPE heavily occluded |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, d in paired.items():
        cells = [d[f"{s}_{k}"] for s, k in (("unoccluded", "pa_mpjpe"), ("truncated", "pa_mpjpe"),
                                             ("heavy", "pa_mpjpe"), ("all", "pa_mpjpe"),
                                             ("heavy", "mpjpe"))]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(f"{m:+.1f} ± {h:.1f}" for m, h in cells) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{result}.md").write_text("\n".join(lines) + "\n")
    line = json.dumps({"steps": r0["steps"], "n": args.n, "benchmark": benchmark,
                       "step_s": costs, "variants": rows, "paired": paired})  # fmt: skip
    (RESULTS / f"{result}.json").write_text(line + "\n")
    print(line)


def paired_differences(args, variants: dict, run_synthetic_eval, benchmark: str = "v1") -> dict:
    """Per-stratum mean and 95 % half-width of (variant - first variant) per-sample errors."""
    import numpy as np

    from lasor.eval.synthetic import paired_differences as paired

    per = []
    for i in range(len(variants)):
        out = args.out / f"v{i}"
        if not (out / "eval" / "per_sample.npz").exists():  # evaluated before it was saved
            run_synthetic_eval(out / "last.pt", out / "eval", n=args.n, seed=0, benchmark=benchmark)
        per.append(dict(np.load(out / "eval" / "per_sample.npz")))
    res = {}
    for name, p in zip(list(variants)[1:], per[1:], strict=True):
        d = paired(per[0], p)
        res[name] = {f"{s}_{k}": list(v) for s, row in d.items() for k, v in row.items()}
    return res


if __name__ == "__main__":
    main()
