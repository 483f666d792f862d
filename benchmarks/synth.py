"""Data-engine throughput: synthetic samples per second with every augmentation on.

Measures ``SyntheticBatches`` (occlusion, noise, heatmaps) at 64 and 128 px through a
``DataLoader`` with 2 worker processes (spawned, as the training loop does), after warm-up;
prints one JSON line and writes ``benchmarks/results/synth.json``. The training step's rate is
read from ``benchmarks/results/train_step.json`` for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

RESULTS = Path(__file__).parent / "results"


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    import numba

    numba.set_num_threads(1)


def rate(res: int, workers: int, batches: int, batch_size: int, bank_size: int) -> dict:
    from lasor.body import load_body_model
    from lasor.synth.dataset import SyntheticBatches
    from lasor.synth.engine import SynthConfig

    body = load_body_model("anny", topology="notoes_collapse10pc")
    ds = SyntheticBatches(body, SynthConfig(res=res), batch_size=batch_size, bank_size=bank_size)
    kw = {}
    if workers:
        kw = dict(num_workers=workers, multiprocessing_context="spawn", worker_init_fn=_worker_init,
                  prefetch_factor=4, persistent_workers=False)  # fmt: skip
    loader = DataLoader(ds, batch_size=None, shuffle=False, **kw)
    it = iter(loader)
    for _ in range(2 * max(workers, 1)):  # warm-up: worker start, numba compile
        next(it)
    times = []
    t_prev = time.perf_counter()
    for _ in range(batches):
        next(it)
        t = time.perf_counter()
        times.append(t - t_prev)
        t_prev = t
    del it
    per_batch = statistics.median(times)
    return {
        "samples_per_s": round(batch_size / per_batch, 1),
        "batch_ms": round(per_batch * 1e3, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--bank-size", type=int, default=4000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {"workers": args.workers, "batch_size": args.batch_size, "cpus": os.cpu_count()}
    for res in (64, 128):
        r = rate(res, args.workers, args.batches, args.batch_size, args.bank_size)
        out[f"samples_per_s_{res}"] = r["samples_per_s"]
        r1 = rate(res, 0, max(10, args.batches // 4), args.batch_size, args.bank_size)
        out[f"samples_per_s_{res}_single_process"] = r1["samples_per_s"]
    ts = RESULTS / "train_step.json"
    if ts.exists():
        train = json.loads(ts.read_text())
        out["train_samples_per_s"] = train.get("train_samples_per_s")
        out["generator_over_train_64"] = round(
            out["samples_per_s_64"] / max(train.get("train_samples_per_s") or 1e-9, 1e-9), 1
        )
    out["load_avg_1min"] = round(os.getloadavg()[0], 2)
    line = json.dumps(out)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synth.json").write_text(line + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
