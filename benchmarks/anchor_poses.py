"""Pose anchors and the balanced pose bank: composition numbers and a picture.

Claims measured:

* **anchors**: frames per category and split of ``cmu_mocap_extra`` (:mod:`lasor.synth.anchors`),
  and the category shares of one ``anchor_source`` draw (share 0.25).
* **balance**: share of the pose bank per motion group (CMU subject or dance style) and the
  largest trial shares, for the default bank and the balanced one
  (``lasor synth poses --balanced``).
* **visual**: ``docs/images/anchor_poses.png``: per category, the raw anchor (first column)
  and sampled variations (jittered, mirrored, recombined with bank poses), Anny meshes seen
  from 45 degrees.

Prints one JSON line and writes ``benchmarks/results/anchor_poses.json`` and ``.md``.

Usage: ``python benchmarks/anchor_poses.py [--extra DIR] [--picture PNG] [--cols 6]`` (without
``--extra``: the anchors of ``lasor synth poses --anchors``).
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def _groups(bank) -> dict:
    from lasor.synth.poses import subject_of

    n = len(bank)
    g = collections.Counter(subject_of(str(t)) for t in bank.trial)
    t = collections.Counter(str(x) for x in bank.trial)
    return {
        "poses": n,
        "train": int((bank.split == "train").sum()),
        "val": int((bank.split == "val").sum()),
        "group_share": {k: round(v / n, 4) for k, v in g.most_common()},
        "top_trial_share": {k: round(v / n, 4) for k, v in t.most_common(5)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--extra", type=Path, default=None, help="cmu_mocap_extra folder (default: cached anchors)"
    )
    ap.add_argument("--picture", type=Path, default=ROOT / "docs" / "images" / "anchor_poses.png")
    ap.add_argument("--cols", type=int, default=6, help="panels per category (1 raw + samples)")
    ap.add_argument("--size", type=int, default=128, help="pixels per panel")
    args = ap.parse_args()
    from lasor.body import load_body_model
    from lasor.render.overlay import render_side_view
    from lasor.synth import anchors as A
    from lasor.synth import poses
    from lasor.synth.bank import pose_source

    torch.set_num_threads(1)
    aset = A.build_anchors(args.extra) if args.extra else A.load_anchors()
    result: dict = {"anchors": aset.meta["counts"]}
    base = pose_source("train")
    draw = A.anchor_source("train", base, share=0.25, anchors=aset)
    rng = np.random.default_rng(0)
    _, _, cat = A.sample_anchor_poses(aset.subset("train"), 250, rng, base)
    result["anchor_draw_250"] = dict(collections.Counter(cat.tolist()))
    go, bp = draw(1000, np.random.default_rng(1))
    result["draw_1000_shapes"] = [list(go.shape), list(bp.shape)]
    for name, path in (
        ("default_bank", poses.default_pose_bank_path()),
        ("balanced_bank", poses.default_balanced_pose_bank_path()),
    ):
        if path.is_file():
            result[name] = _groups(poses.load_pose_bank(path))
    # picture
    body = load_body_model("anny", topology="anny")
    faces = body.faces.numpy()
    train = aset.subset("train")
    cats = [c for c in A.ANCHOR_CATEGORIES if c != "other"]
    s, cols = args.size, args.cols
    canvas = Image.new("RGB", (cols * s + 70, len(cats) * s + 22), (255, 255, 255))
    draw_ = ImageDraw.Draw(canvas)
    draw_.text((4, 4), "raw train anchor (col 1) | samples: jitter, mirror, recombine", fill=0)
    rng = np.random.default_rng(3)
    for r, c in enumerate(cats):
        idx = np.flatnonzero(train.category == c)
        one = A.AnchorSet(
            train.global_orient[idx], train.body_pose[idx], train.yaw[idx], train.trial[idx],
            train.frame[idx], train.category[idx], train.split[idx],
        )  # fmt: skip
        k = int(rng.integers(len(idx)))
        ga, ba, _ = A.sample_anchor_poses(one, cols - 1, rng, base)
        g = np.concatenate([one.global_orient[k : k + 1], ga])
        b = np.concatenate([one.body_pose[k : k + 1], ba])
        with torch.no_grad():
            shape = body.shape_default[None].float().expand(len(g), -1)
            out = body(torch.from_numpy(g), torch.from_numpy(b), shape)
        y = 22 + r * s
        draw_.text((4, y + s // 2), c, fill=0)
        for j in range(cols):
            v = out.vertices[j].numpy().astype(np.float64) * [1.0, -1.0, -1.0]
            panel = render_side_view(v, faces, s, angle_deg=45.0)
            canvas.paste(Image.fromarray(panel), (70 + j * s, y))
        draw_.text((70 + 2, y + 2), str(one.trial[k]), fill=(200, 0, 0))
    args.picture.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.picture)
    result["picture"] = str(args.picture.relative_to(ROOT))
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "anchor_poses.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Pose anchors and balanced pose bank", "", "| group | default bank | balanced |",
             "|---|---|---|"]  # fmt: skip
    d = result.get("default_bank", {}).get("group_share", {})
    b = result.get("balanced_bank", {}).get("group_share", {})
    for k in sorted(set(d) | set(b), key=lambda k: -d.get(k, 0)):
        lines.append(f"| {k} | {100 * d.get(k, 0):.1f} % | {100 * b.get(k, 0):.1f} % |")
    cells = [
        f"{r['poses']} (train {r['train']}, val {r['val']})" if r else "-"
        for r in (result.get("default_bank"), result.get("balanced_bank"))
    ]
    lines.append(f"| **poses** | {cells[0]} | {cells[1]} |")
    lines += ["", f"Share of one anchor draw (250 poses, train): {result['anchor_draw_250']}"]
    lines += ["", "Anchors per category (train / val):", ""]
    for c in A.ANCHOR_CATEGORIES:
        lines.append(f"- {c}: {aset.meta['counts']['train'][c]} / {aset.meta['counts']['val'][c]}")
    (out_dir / "anchor_poses.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
