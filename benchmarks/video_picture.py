"""The README's video picture: the smoothed bodies of a few frames of a real clip, mesh only.

The clips in ../shared/data/real/video are not redistributable, so the picture shows no footage:
each column is one frame's body drawn from the camera (on white) and from the side. Writes
docs/images/video_motion.png.

    python benchmarks/video_picture.py [--clip CLIP] [--frames 90] [--show 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `lasor predict` sets it, before torch

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "real" / "video" / "romp_sample_video2_jumping_jacks.mp4"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--show", type=int, default=6)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs/images/video_motion.png")
    args = ap.parse_args()
    from lasor.api import Estimator
    from lasor.render.overlay import render_overlay, render_side_view
    from lasor.video import VideoOptions, smooth_track, track_clip

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from video import make_clip

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(args.clip, clip, args.frames)
        est = Estimator()
        ft = track_clip(est, clip, VideoOptions(render=False))
    a = smooth_track(ft, est, VideoOptions()).arrays
    idx = np.linspace(0, len(a["valid"]) - 1, args.show).round().astype(int)
    faces = a["faces"]
    cols = []
    for i in idx:
        if not a["valid"][i]:
            continue
        v = a["vertices"][i].astype(np.float64)
        white = np.full((480, 640, 3), 255, np.uint8)
        front = render_overlay(white, v, faces, float(a["focal_length"][i]), (320.0, 240.0))
        front = np.asarray(Image.fromarray(front).crop((80, 0, 560, 480)).resize((240, 240)))
        side = render_side_view(v, faces, 240, angle_deg=90.0)
        col = Image.fromarray(np.concatenate([front, side], axis=0))
        ImageDraw.Draw(col).text((6, 4), f"t = {a['time_s'][i]:.1f} s", fill=(0, 0, 0))
        cols.append(np.asarray(col))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(cols, axis=1)).save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
