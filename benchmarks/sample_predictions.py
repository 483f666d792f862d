"""A picture of a model's predictions on held-out synthetic samples.

    python benchmarks/sample_predictions.py runs/anny_v3/last.pt \
        -o benchmarks/results/anny_v3_samples.png

Takes the benchmark's fixed test set (`lasor.eval.synthetic.make_test_set`, seed 0), the first
``--k`` unoccluded and the first ``--k`` heavily occluded samples, and draws for each: the network
input (proxy) | ground truth | prediction. Meshes are the full Anny mesh seen from the synthetic
camera (each auto-framed, so sizes are not compared); the caption has the sample's PA-MPJPE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--k", type=int, default=4, help="samples per group")
    ap.add_argument("--size", type=int, default=192, help="pixels per panel")
    ap.add_argument("--benchmark", choices=["v1", "v2", "anchors"], default="v1")
    args = ap.parse_args()
    from lasor.body import load_body_model
    from lasor.eval import metrics as M
    from lasor.eval.synthetic import HEAVY, make_test_set
    from lasor.render.overlay import render_side_view
    from lasor.synth.preview import proxy_image
    from lasor.train.checkpoint import load_regressor

    torch.set_num_threads(2)
    model, cfg = load_regressor(args.checkpoint)
    test = make_test_set(256, 0, cfg.data.image_size, None, benchmark=args.benchmark)
    batch = {k: torch.cat([b[k] for b in test])
             for k in ("proxy", "mask", "keypoints", "geometry", "global_orient", "body_pose",
                       "shape", "occlusion", "occluded_fraction")}  # fmt: skip
    frac, flags = batch["occluded_fraction"].numpy(), batch["occlusion"].numpy()
    clean = np.flatnonzero((flags == 0) & (frac < 0.05))[: args.k]
    heavy = np.flatnonzero(frac >= HEAVY)[: args.k]
    idx = np.concatenate([clean, heavy])
    body = load_body_model("anny", topology="anny")
    with torch.no_grad():
        pred = model.run({k: v[idx] for k, v in batch.items()})
        p = body(pred.global_orient, pred.body_pose, pred.shape)
        g = body(batch["global_orient"][idx], batch["body_pose"][idx], batch["shape"][idx])
    pa = M.pa_mpjpe(p.joints_h36m.numpy(), g.joints_h36m.numpy()) * 1000
    s, faces = args.size, body.faces.numpy() if torch.is_tensor(body.faces) else body.faces
    rows = max(len(clean), len(heavy))
    canvas = Image.new("RGB", (6 * s, rows * (s + 16) + 24), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    title = (f"{args.checkpoint} on benchmark {args.benchmark}: proxy | ground truth | "
             "prediction  (left: unoccluded, right: heavily occluded)")  # fmt: skip
    draw.text((6, 6), title, fill=(0, 0, 0))
    for r, i in enumerate(idx):
        x0 = 0 if r < len(clean) else 3 * s
        y = 24 + (r if r < len(clean) else r - len(clean)) * (s + 16)
        prox = proxy_image(batch["proxy"][i].numpy())
        canvas.paste(Image.fromarray(prox).resize((s, s), Image.NEAREST), (x0, y))
        for c, verts in ((1, g.vertices[r]), (2, p.vertices[r])):
            v = verts.numpy().astype(np.float64) + [0.0, 0.0, 3.0]  # camera frame, y down
            panel = render_side_view(v, faces, s, angle_deg=0.0)
            canvas.paste(Image.fromarray(panel), (x0 + c * s, y))
        what = "unoccluded" if r < len(clean) else f"{frac[i]:.0%} hidden"
        draw.text((x0 + 6, y + s + 2), f"{what}   PA-MPJPE {pa[r]:.0f} mm", fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out)
    print(f"wrote {args.out} (mean PA-MPJPE of these {len(idx)}: {pa.mean():.1f} mm)")


if __name__ == "__main__":
    main()
