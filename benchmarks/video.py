"""Video: frames per second, jitter with and without smoothing, and a 2D sanity bound.

On the real clips in ../shared/data/real/video (they stay there), centre-cropped to 4:3 and
resized to 640x480 (a temporary clip of ``--frames`` frames), with ``--threads`` torch threads:

* fps of the fast path (decode + MediaPipe video mode + regression + shape pooling +
  smoothing + posing, no MP4s), of MediaPipe alone (video mode) and of writing the two MP4s;
* jitter = mean 3D joint acceleration |j[t+1] - 2 j[t] + j[t-1]| (mm/frame^2, Human3.6M-17
  joints, camera frame and pelvis-relative) for the per-frame results and for a few One-Euro
  settings (the same per-frame regressions, smoothed differently);
* PCK@0.1 (of the person's box side) of the projected model joints against MediaPipe's own,
  unsmoothed 2D keypoints (confidence >= 0.5): smoothing must not drift away from the image.

Prints one JSON line; writes benchmarks/results/video.json and video.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `lasor predict` sets it, before torch

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VIDEOS = ROOT.parent / "shared" / "data" / "real" / "video"

#: One-Euro settings compared (the first is VideoOptions' default): (rot_min_cutoff, rot_beta,
#: trans_min_cutoff, trans_beta, depth_min_cutoff, depth_beta)
SETTINGS = [(1.0, 4.0, 1.5, 4.0, 0.3, 0.5), (1.0, 4.0, 1.5, 4.0, 1.5, 4.0),
            (1.0, 0.3, 0.5, 0.5, 0.5, 0.5), (3.0, 2.0, 1.0, 2.0, 1.0, 2.0),
            (3.0, 2.0, 1.0, 2.0, 0.1, 0.1)]  # fmt: skip


def make_clip(src: Path, dst: Path, frames: int) -> float:
    """Centre-crop to 4:3, resize to 640x480, keep the first ``frames``; returns the fps."""
    import imageio.v2 as iio
    from PIL import Image

    r = iio.get_reader(str(src), format="FFMPEG")
    fps = float(r.get_meta_data()["fps"])
    with iio.get_writer(dst, fps=fps, codec="libx264", quality=8) as w:
        for i, f in enumerate(r):
            if i >= frames:
                break
            h, wd = f.shape[:2]
            cw = min(wd, int(round(h * 4 / 3)))
            ch = min(h, int(round(cw * 3 / 4)))
            x0, y0 = (wd - cw) // 2, (h - ch) // 2
            img = Image.fromarray(f[y0 : y0 + ch, x0 : x0 + cw]).resize((640, 480), Image.BILINEAR)
            w.append_data(np.asarray(img))
    r.close()
    return fps


def jitter(j: np.ndarray, valid: np.ndarray, track: np.ndarray) -> tuple[float, float]:
    """Mean |acceleration| (mm/frame^2) in the camera frame and pelvis-relative."""
    ok = (
        valid[2:]
        & valid[1:-1]
        & valid[:-2]
        & (track[2:] == track[:-2])
        & (track[1:-1] == track[2:])
    )
    acc = j[2:] - 2 * j[1:-1] + j[:-2]
    rel = j - j[:, :1]
    acc_rel = rel[2:] - 2 * rel[1:-1] + rel[:-2]
    cam = np.linalg.norm(acc[ok], axis=-1).mean() * 1000
    return float(cam), float(np.linalg.norm(acc_rel[ok], axis=-1).mean() * 1000)


def pck(a: dict, thr: float = 0.1) -> float:
    v = a["valid"]
    box = a["bbox"][v]
    side = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    d = np.linalg.norm(a["joints2d_coco"][v] - a["observed_keypoints"][v], axis=-1)
    ok = a["observed_confidence"][v] >= 0.5
    return float((d < thr * side[:, None])[ok].mean())


def evaluate(motion) -> dict:
    a = motion.arrays
    cam, rel = jitter(a["joints3d_h36m"], a["valid"], a["track"])
    return {"jitter_mm": round(cam, 2), "jitter_rel_mm": round(rel, 2), "pck": round(pck(a), 4)}


def run_clip(est, src: Path, frames: int, tmp: Path, render_frames: int) -> dict:
    from lasor.frontend.mediapipe_pose import MediaPipePose
    from lasor.video import VideoOptions, open_clip, smooth_track, track_clip, write_videos

    clip = tmp / f"{src.stem}_640x480.mp4"
    make_clip(src, clip, frames)
    # MediaPipe alone, video mode, decoded frames in memory
    imgs = list(open_clip(clip).frames)
    with MediaPipePose(static_image_mode=False) as det:
        det(imgs[0])
        t = time.perf_counter()
        for im in imgs:
            det(im)
        mp_fps = len(imgs) / (time.perf_counter() - t)
    del imgs
    opts = VideoOptions(render=False)
    t = time.perf_counter()
    ft = track_clip(est, clip, opts)
    motion = smooth_track(ft, est, opts)
    fast_fps = len(ft.valid) / (time.perf_counter() - t)
    out: dict = {
        "clip": src.name, "frames": len(ft.valid), "frames_ok": int(ft.valid.sum()),
        "tracks": int(ft.track.max() + 1), "fast_path_fps": round(fast_fps, 2),
        "mediapipe_video_mode_fps": round(mp_fps, 2),
        "stage_ms_per_frame": {k: round(v * 1000 / len(ft.valid), 2) for k, v in ft.timing.items()},
    }  # fmt: skip
    out["raw"] = evaluate(smooth_track(ft, est, opts, smooth=False))
    out["smoothed"] = {}
    for s in SETTINGS:
        o = dataclasses.replace(
            opts, rot_min_cutoff=s[0], rot_beta=s[1], trans_min_cutoff=s[2], trans_beta=s[3],
            depth_min_cutoff=s[4], depth_beta=s[5],
        )  # fmt: skip
        out["smoothed"][",".join(map(str, s))] = evaluate(smooth_track(ft, est, o))
    out["default"] = evaluate(motion)
    # the two MP4s, on the first render_frames frames
    n = min(render_frames, len(ft.valid))
    short = dataclasses.replace(motion, arrays={
        k: (v[:n] if v.ndim and len(v) == len(ft.valid) and k != "faces" else v)
        for k, v in motion.arrays.items()})  # fmt: skip
    t = time.perf_counter()
    write_videos(short, clip, tmp, clip.stem, opts)
    out["render_mp4_fps"] = round(n / (time.perf_counter() - t), 2)
    return out


def markdown(res: dict) -> str:
    lines = [
        "| clip | One-Euro (rot fc, beta; xy fc, beta; z fc, beta) | jitter mm/f^2 | "
        "pelvis-rel jitter | PCK@0.1 vs MediaPipe 2D |",
        "|---|---|---|---|---|",
    ]
    for c in res["clips"]:
        rows = [("per-frame (no smoothing)", c["raw"])] + list(c["smoothed"].items())
        for name, m in rows:
            lines.append(
                f"| {c['clip']} | {name} | {m['jitter_mm']} | {m['jitter_rel_mm']} | {m['pck']} |"
            )
    lines.append("")
    lines.append("| clip | frames | fast path fps | MediaPipe alone (video mode) fps | MP4s fps |")
    lines.append("|---|---|---|---|---|")
    for c in res["clips"]:
        lines.append(
            f"| {c['clip']} | {c['frames']} | {c['fast_path_fps']} | "
            f"{c['mediapipe_video_mode_fps']} | {c['render_mp4_fps']} |"
        )
    return "\n".join(lines) + f"\n\n{res['threads']} torch threads; load {res['load_avg_1min']}.\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", nargs="*", type=Path, default=sorted(VIDEOS.glob("*.mp4")))
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--render-frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not args.clips:
        raise SystemExit(f"no clips (looked in {VIDEOS})")
    torch.set_num_threads(args.threads)
    from lasor.api import Estimator

    est = Estimator()
    res: dict = {"threads": args.threads, "frames_per_clip": args.frames, "clips": []}
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.clips:
            res["clips"].append(run_clip(est, c, args.frames, Path(tmp), args.render_frames))
    res["load_avg_1min"] = round(os.getloadavg()[0], 2)
    res["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    res["nproc"] = os.cpu_count()
    line = json.dumps(res)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "video.json").write_text(line + "\n")
    (RESULTS / "video.md").write_text(markdown(res))


if __name__ == "__main__":
    main()
