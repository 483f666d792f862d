"""Training throughput and inference speed of the regressor on a CPU.

Prints one JSON line and writes ``benchmarks/results/train_step.json``::

    python benchmarks/train_step.py [--threads 1] [--data auto|random|synthetic] [--set k=v ...]

* ``train_samples_per_s``: full training steps (regressor forward/backward, body model on
  prediction and target, all losses incl. the soft-silhouette render, Adam step), data already in
  memory; median over timed steps after warm-up.
* ``data_samples_per_s``: making batches alone (synthetic engine or random), same thread count.
* ``infer_ms_per_sample_b32``: regressor forward only, batch 32, eval mode, no grad.
* ``infer_ms_per_sample_b32_grid``: the same on 1 and 2 threads at 64 and 96 px.
* ``params``, ``mmacs`` (multiply-accumulates of convolutions and linear layers per sample).

``--compare`` instead times the training step of several configurations in one run, round-robin
(one block of steps of each in turn, so a noisy machine slows all of them alike), and writes
``benchmarks/results/train_speed.json`` and ``.md``::

    python benchmarks/train_step.py --compare [--rounds 15] [--threads 1]

The variants go from ``configs/train_hybrid.yaml`` to ``configs/train_fast.yaml`` one change at a
time. A block is ``loss.silhouette_every`` steps (the largest among the variants), so a variant
that renders the silhouette every N-th step is charged for it; per-sample times are medians over
rounds, in CPU seconds of this process (``time.process_time``) and in wall seconds. The data
engine's cost per sample is timed the same way (it runs in its own worker process in training).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from lasor.train.checkpoint import build_body_model, build_regressor
from lasor.train.config import load_config, validate_config
from lasor.train.loop import (
    SilhouetteSchedule,
    TrainNet,
    build_criterion,
    build_optimizer,
    build_train_body,
    make_dataset,
)

RESULTS = Path(__file__).resolve().parent / "results" / "train_step.json"
ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "train_default.yaml"
SPEED = Path(__file__).resolve().parent / "results" / "train_speed.json"
HYBRID, FAST = "configs/train_hybrid.yaml", "configs/train_fast.yaml"
NO_SIL, KP = "loss.use_silhouette=false", "model.branches=[keypoints]"
#: (name, config, overrides): from the old configuration to the new one, one change at a time
VARIANTS = [
    ("train_hybrid.yaml (old)", HYBRID, []),
    ("- silhouette", HYBRID, [NO_SIL]),
    ("- mask branch", HYBRID, [NO_SIL, KP]),
    ("+ sparse body (205 vertices)", HYBRID, [NO_SIL, KP, "loss.sparse_vertices=205"]),
    ("+ sparse body (384 vertices)", HYBRID, [NO_SIL, KP, "loss.sparse_vertices=384"]),
    ("+ sparse body (900 vertices)", HYBRID, [NO_SIL, KP, "loss.sparse_vertices=900"]),
    ("train_fast.yaml (new: 384 vertices + fused Adam)", FAST, []),
    ("train_fast.yaml + bf16 autocast", FAST, ["run.precision=bf16"]),
    ("train_fast.yaml + silhouette every 4th step", FAST,
     ["loss.use_silhouette=true", "loss.silhouette_every=4"]),
    ("train_fast.yaml + mask branch", FAST, ["model.branches=[keypoints,mask]"]),
]  # fmt: skip


def random_inputs(regressor: nn.Module, cfg, size: int, n: int) -> dict[str, torch.Tensor]:
    """Random network inputs of either proxy version (``regressor.input_keys``)."""
    g = torch.Generator().manual_seed(0)
    if regressor.proxy_version == 1:
        return {"proxy": torch.rand(n, cfg.model.in_channels, size, size, generator=g)}
    return {
        "mask": (torch.rand(n, 1, size, size, generator=g) > 0.5).float(),
        "keypoints": torch.rand(n, 17, 3, generator=g) * 2 - 1,
        "geometry": torch.rand(n, 3, generator=g),
    }


def count_macs(model: nn.Module, x: dict[str, torch.Tensor]) -> int:
    """Multiply-accumulates of Conv2d and Linear layers for one sample of inputs ``x``."""
    total = 0

    def hook(m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        per_out = out[0].numel()
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total += per_out * k
        elif isinstance(m, nn.Linear):
            total += per_out * m.in_features

    hooks = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model.run({k: v[:1] for k, v in x.items()})
    for h in hooks:
        h.remove()
    return total


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def synthetic_available() -> bool:
    try:
        import lasor.synth.dataset  # noqa: F401
    except ImportError:
        return False
    return True


class _Timed:
    """One variant's network, optimiser and two in-memory batches."""

    def __init__(self, name: str, config: str, overrides: list[str], bank: int) -> None:
        self.name, self.config, self.overrides = name, config, overrides
        cfg = validate_config(load_config(ROOT / config, ["data.kind=synthetic", *overrides]))
        cfg.data.bank_size = min(cfg.data.bank_size, bank)
        self.cfg = cfg
        torch.manual_seed(0)
        self.body = build_body_model(cfg.model)
        self.train_body = build_train_body(cfg, self.body)
        regressor = build_regressor(cfg.model, self.body)
        criterion = build_criterion(cfg)
        self.net = TrainNet(regressor, criterion, cfg.run.precision)
        self.opt = build_optimizer(cfg.optim, self.net.parameters())
        self.schedule = SilhouetteSchedule(cfg, criterion, self.body, self.train_body)
        self.data = make_dataset(
            cfg, "train", 0, self.body, getattr(self.train_body, "vertex_index", None)
        )
        self.batches = [self.data[i] for i in range(2)]
        self.params = sum(p.numel() for p in regressor.parameters())
        self.i = 0
        self.net.train()

    def step(self) -> None:
        batch = self.batches[self.i % 2]
        total, _ = self.net(batch, self.train_body, **self.schedule(self.i))
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        self.i += 1


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def compare(args: argparse.Namespace) -> None:
    """``--compare``: the variants' training steps in one run, round-robin."""
    variants = [_Timed(n, c, o, args.bank) for n, c, o in VARIANTS]
    block = max(v.cfg.loss.silhouette_every for v in variants)
    for v in variants:  # warm-up (allocator, numba compilation); then start every schedule at 0
        for _ in range(2):
            v.step()
        v.i = 0
    cpu: dict[str, list[float]] = {v.name: [] for v in variants}
    wall: dict[str, list[float]] = {v.name: [] for v in variants}
    data_cpu: dict[str, list[float]] = {v.name: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            c0, w0 = _clock()
            for _ in range(block):
                v.step()
            c1, w1 = _clock()
            n = block * v.cfg.data.batch_size
            cpu[v.name].append((c1 - c0) / n)
            wall[v.name].append((w1 - w0) / n)
            if r < 3:
                c0, _ = _clock()
                v.data[10 + r]
                data_cpu[v.name].append((_clock()[0] - c0) / v.cfg.data.batch_size)
    base = statistics.median(cpu[variants[0].name])
    rows = []
    for v in variants:
        c, w, d = (statistics.median(x[v.name]) for x in (cpu, wall, data_cpu))
        rows.append({
            "variant": v.name, "config": v.config, "overrides": v.overrides,
            "samples_per_cpu_s": round(1 / c, 1), "samples_per_wall_s": round(1 / w, 1),
            "speedup_cpu": round(base / c, 2),
            "cpu_ms_per_step": round(1000 * c * v.cfg.data.batch_size, 1),
            "cpu_ms_per_step_range": [round(1000 * min(cpu[v.name]) * v.cfg.data.batch_size, 1),
                                      round(1000 * max(cpu[v.name]) * v.cfg.data.batch_size, 1)],
            "data_samples_per_cpu_s": round(1 / d, 1),
            "samples_per_cpu_s_with_data": round(1 / (c + d), 1),
            "params": v.params,
            "sparse_vertices": int(getattr(v.train_body, "vertex_index", torch.zeros(0)).numel())
            or v.body.num_vertices,
            "bones_posed": len(getattr(v.train_body, "bone_labels", [])),
        })  # fmt: skip
    result = {
        "what": "training step (regressor forward/backward, training body on the prediction, "
        "all enabled losses, optimiser step; data in memory), samples per CPU-second of this "
        "process, median over rounds; round-robin over the variants in one run",
        "threads": args.threads, "rounds": args.rounds, "block_steps": block,
        "batch_size": variants[0].cfg.data.batch_size, "bank_size": args.bank,
        "torch": torch.__version__, "variants": rows,
    }  # fmt: skip
    print(json.dumps(result))
    out = args.out if args.out != RESULTS else SPEED
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(speed_markdown(result))


def speed_markdown(result: dict) -> str:
    """The ``--compare`` result as a markdown table."""
    lines = [
        "| variant | samples / CPU-s | × old | CPU ms / step (min–max) | samples / wall-s "
        "| data engine samples / CPU-s | with the engine | posed vertices | bones |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["variants"]:
        lo, hi = r["cpu_ms_per_step_range"]
        lines.append(
            f"| {r['variant']} | {r['samples_per_cpu_s']:.0f} | {r['speedup_cpu']:.2f} "
            f"| {r['cpu_ms_per_step']:.0f} ({lo:.0f}–{hi:.0f}) | {r['samples_per_wall_s']:.0f} "
            f"| {r['data_samples_per_cpu_s']:.0f} | {r['samples_per_cpu_s_with_data']:.0f} "
            f"| {r['sparse_vertices']} | {r['bones_posed'] or 104} |"
        )
    lines += [
        "",
        f"({result['what']}; {result['threads']} thread, batch {result['batch_size']}, "
        f"{result['rounds']} rounds of {result['block_steps']} steps per variant; torch "
        f'{result["torch"]}; `python benchmarks/train_step.py --compare`. "with the engine": '
        "the step plus the data engine making the batch, both on one core.)",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", choices=["auto", "random", "synthetic"], default="auto")
    ap.add_argument("--steps", type=int, default=5, help="timed training steps")
    ap.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--compare", action="store_true", help="old vs new configs, one run")
    ap.add_argument("--rounds", type=int, default=15, help="--compare: timed rounds")
    ap.add_argument("--bank", type=int, default=300, help="--compare: bodies in each bank")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    try:
        import numba

        numba.set_num_threads(args.threads)
    except ImportError:
        pass
    if args.compare:
        compare(args)
        return

    kind = args.data
    if kind == "auto":
        kind = "synthetic" if synthetic_available() else "random"
    cfg = validate_config(load_config(args.config, [f"data.kind={kind}", *args.overrides]))
    if kind == "synthetic":  # a small bank: we time batches, not the bank build
        cfg.data.bank_size = min(cfg.data.bank_size, 500)
    torch.manual_seed(0)
    body = build_body_model(cfg.model)
    regressor = build_regressor(cfg.model, body)
    train_body = build_train_body(cfg, body)
    criterion = build_criterion(cfg)
    net = TrainNet(regressor, criterion, cfg.run.precision)
    schedule = SilhouetteSchedule(cfg, criterion, body, train_body)
    opt = build_optimizer(cfg.optim, net.parameters())
    data = make_dataset(cfg, "train", 0, body, getattr(train_body, "vertex_index", None))
    batches = [data[i] for i in range(2)]
    data_s = median_time(lambda: data[2], 3)

    def step(i: int = 0) -> None:
        total, _ = net(batches[i % 2], train_body, **schedule(i))
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()

    net.train()
    for i in range(2):  # warm-up (numba compilation, allocator)
        step(i)
    step_s = median_time(step, args.steps)

    regressor.eval()
    res = cfg.data.image_size
    x = random_inputs(regressor, cfg, res, 32)
    with torch.no_grad():
        for _ in range(2):
            regressor.run(x)
        infer_s = median_time(lambda: regressor.run(x), 7)

    grid = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for size in (64, 96):
            xs = random_inputs(regressor, cfg, size, 32)
            with torch.no_grad():
                regressor.run(xs)
                t = median_time(lambda xs=xs: regressor.run(xs), 5)
            grid[f"t{threads}_{size}px"] = round(1000 * t / 32, 3)
            grid[f"mmacs_{size}px"] = round(count_macs(regressor, xs) / 1e6, 1)
    torch.set_num_threads(args.threads)

    b = cfg.data.batch_size
    result = {
        "train_samples_per_s": round(b / step_s, 2),
        "train_step_ms": round(1000 * step_s, 1),
        "data_samples_per_s": round(b / data_s, 1),
        "infer_ms_per_sample_b32": round(1000 * infer_s / 32, 3),
        "params": sum(p.numel() for p in regressor.parameters()),
        "mmacs": round(count_macs(regressor, x) / 1e6, 1),
        "batch_size": b,
        "image_size": res,
        "config": str(args.config),
        "arch": cfg.model.arch,
        "widths": cfg.model.widths,
        "blocks": cfg.model.blocks,
        "norm": cfg.model.norm,
        "pool": cfg.model.pool,
        "coord_channels": cfg.model.coord_channels,
        "overrides": args.overrides,
        "silhouette": cfg.loss.use_silhouette,
        "silhouette_sigma": cfg.loss.silhouette_sigma,
        "threads": args.threads,
        "data": kind,
        "infer_ms_per_sample_b32_grid": grid,
        "torch": torch.__version__,
    }
    line = json.dumps(result)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
