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
from lasor.train.loop import TrainNet, build_criterion, build_optimizer, make_dataset

RESULTS = Path(__file__).resolve().parent / "results" / "train_step.json"
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train_default.yaml"


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", choices=["auto", "random", "synthetic"], default="auto")
    ap.add_argument("--steps", type=int, default=5, help="timed training steps")
    ap.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    try:
        import numba

        numba.set_num_threads(args.threads)
    except ImportError:
        pass

    kind = args.data
    if kind == "auto":
        kind = "synthetic" if synthetic_available() else "random"
    cfg = validate_config(load_config(args.config, [f"data.kind={kind}", *args.overrides]))
    if kind == "synthetic":  # a small bank: we time batches, not the bank build
        cfg.data.bank_size = min(cfg.data.bank_size, 500)
    torch.manual_seed(0)
    body = build_body_model(cfg.model)
    regressor = build_regressor(cfg.model, body)
    net = TrainNet(regressor, build_criterion(cfg))
    opt = build_optimizer(cfg.optim, net.parameters())
    data = make_dataset(cfg, "train", 0, body)
    batches = [data[i] for i in range(2)]
    data_s = median_time(lambda: data[2], 3)

    def step(i: int = 0) -> None:
        total, _ = net(batches[i % 2], body)
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
