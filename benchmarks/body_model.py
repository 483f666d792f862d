"""Body-model speed: forward and backward time at batch 64 for each shipped Anny topology.

Prints one JSON line and writes benchmarks/results/body_model.json. Threads are pinned (default 2,
``--threads``); times are medians over repeats after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from lasor.body import load_body_model


def _median_ms(fn, repeats: int) -> float:
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def bench(topology: str, batch: int, repeats: int) -> dict:
    t = time.perf_counter()
    body = load_body_model("anny", topology=topology)
    load_s = time.perf_counter() - t
    g = torch.Generator().manual_seed(0)
    aa = torch.randn(batch, body.num_pose_bones + 1, 3, generator=g) * 0.3
    skew = torch.zeros(batch, body.num_pose_bones + 1, 3, 3)
    skew[..., 0, 1], skew[..., 0, 2], skew[..., 1, 2] = -aa[..., 2], aa[..., 1], -aa[..., 0]
    rot = torch.linalg.matrix_exp(skew - skew.transpose(-1, -2))
    shape = torch.rand(batch, body.num_shape, generator=g)

    def fwd():
        with torch.no_grad():
            body(rot[:, 0], rot[:, 1:], shape)

    r = rot.clone().requires_grad_()
    s = shape.clone().requires_grad_()

    def fwd_bwd():
        out = body(r[:, 0], r[:, 1:], s)
        (out.vertices.square().sum() + out.keypoints_coco.sum()).backward()

    fwd_ms = _median_ms(fwd, repeats)
    fb_ms = _median_ms(fwd_bwd, repeats)
    return {
        "forward_ms_b64": round(fwd_ms, 2),
        "backward_ms_b64": round(fb_ms - fwd_ms, 2),
        "forward_backward_ms_b64": round(fb_ms, 2),
        "vertices": body.num_vertices,
        "faces": int(body.faces.shape[0]),
        "load_s": round(load_s, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "body_model.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = {"anny": bench("anny", 64, args.repeats)}
    res["notoes_collapse10pc"] = bench("notoes_collapse10pc", 64, args.repeats)
    # the headline keys: the default model
    res.update({k: res["anny"][k] for k in ("forward_ms_b64", "backward_ms_b64", "vertices")})
    res["threads"] = args.threads
    res["torch"] = torch.__version__
    res["machine"] = platform.machine()
    line = json.dumps(res)
    print(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(line + "\n")


if __name__ == "__main__":
    main()
