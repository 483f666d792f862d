"""MediaPipe's world-landmark error against real 3D ground truth -> the synthetic error model.

On the Human3.6M frames in ``../shared/data/real`` (``h36m_s9/``: 283 frames of S9 from three
cameras; ``h36m/``: 4 frames of S1, S5, S7, S8), each frame is cut to the same square crop as
``benchmarks/real3d.py`` (1.2 x the annotated box, black outside) and given to MediaPipe's legacy
Pose. Its world landmarks, mapped to the 17 COCO keypoints lasor's body defines
(``MEDIAPIPE_TO_COCO17``; hips, knees, ankles, shoulders, elbows, wrists are compared with the
matching Human3.6M joints: the limb-12 set), are compared with the ground truth, split into
three parts of one error model (``lasor.synth.world.WorldNoise``):

* **scale**: the RMS size of MediaPipe's limb-12 skeleton over the ground truth's (log-normal);
* **rotation**: the rotation of the similarity that aligns MediaPipe onto the ground truth,
  as a rotation vector in the camera frame (per-axis std);
* **per-joint residual** after that alignment, per axis (x, y, z in the camera frame), for
  landmarks MediaPipe calls visible (>= 0.5) and the others.

Calibrated on S9 cameras 54138969 and 55011271; checked on S9 camera 58860488 and the four
other-subject frames: the script draws the fitted model's errors on the check frames' own
ground truth and compares the limb-12 PA-MPJPE distribution with MediaPipe's real one.

    python benchmarks/world_noise.py            # -> benchmarks/results/world_noise.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lasor.eval.metrics import pa_mpjpe as _pa_mpjpe  # noqa: E402
from lasor.synth.world import LIMB12_COCO, LIMB12_H36M, WorldNoise  # noqa: E402

CALIBRATE_CAMERAS = ("54138969", "55011271")
CACHE = Path.home() / ".cache" / "lasor" / "mediapipe_world_h36m.npz"


def square_crop(image: np.ndarray, center: np.ndarray, side: float) -> np.ndarray:
    """The square of ``side`` px around ``center`` (black outside the image)."""
    x0 = int(round(center[0] - side / 2))
    y0 = int(round(center[1] - side / 2))
    n = int(round(side))
    out = np.zeros((n, n, 3), np.uint8)
    h, w = image.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def h36m_frames(data: Path) -> list[dict]:
    """Every Human3.6M frame with 3D ground truth: set, camera, image path, crop, truth."""
    import re

    out = []
    for name, npz, root in [
        ("h36m", data / "h36m" / "test_h36m_body3d.npz", data / "h36m"),
        ("s9", data / "h36m_s9" / "s9_posing_body3d.npz", data / "h36m_s9"),
    ]:
        if not npz.is_file():
            continue
        d = np.load(npz)
        for i, rel in enumerate(d["imgname"]):
            cam = re.search(r"\.(\d{8})_", str(rel)).group(1)
            out.append({
                "set": name, "camera": cam, "image": str(root / str(rel)),
                "center": d["center"][i].astype(np.float64),
                "side": 1.2 * 200.0 * float(d["scale"][i]),
                "gt": d["S"][i, :, :3].astype(np.float64),
            })  # fmt: skip
    return out


def mediapipe_world_frames(data: Path) -> list[dict]:
    """`h36m_frames` plus MediaPipe's world landmarks on each crop (17 COCO-ordered landmarks +
    visibility; None where it found nobody), cached in ~/.cache/lasor."""
    from lasor.frontend import load_image
    from lasor.frontend.mediapipe_pose import MEDIAPIPE_TO_COCO17, MediaPipePose

    frames = h36m_frames(data)
    key = np.array([f["image"] for f in frames])
    if CACHE.is_file():
        c = np.load(CACHE)
        if c["key"].shape == key.shape and (c["key"] == key).all():
            for f, w, v, ok in zip(frames, c["world"], c["vis"], c["ok"], strict=True):
                f["world"], f["visibility"] = (w, v) if ok else (None, None)
            return frames
    world = np.zeros((len(frames), 17, 3), np.float32)
    vis = np.zeros((len(frames), 17), np.float32)
    ok = np.zeros(len(frames), bool)
    with MediaPipePose() as pose:
        for i, f in enumerate(frames):
            crop = square_crop(load_image(f["image"]), f["center"], f["side"])
            det = pose.detect(crop)
            if det is not None:
                world[i] = det.world_landmarks[MEDIAPIPE_TO_COCO17]
                vis[i] = det.visibility[MEDIAPIPE_TO_COCO17]
                ok[i] = True
            f["world"], f["visibility"] = (world[i], vis[i]) if ok[i] else (None, None)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, key=key, world=world, vis=vis, ok=ok)
    return frames


def _rotvec(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(r).as_rotvec()


def _umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity s, R, t with dst ~ s R src + t (least squares)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[-1] = -1
    r = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / (a**2).sum())
    return s, r, mu_d - s * r @ mu_s


def decompose(mp: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """Errors of MediaPipe's limb-12 (F, 12, 3) against the ground truth (F, 12, 3)."""
    logs, rots, res = [], [], []
    for m, g in zip(mp, gt, strict=True):
        gc = g - g.mean(0)
        mc = m - m.mean(0)
        logs.append(np.log(np.sqrt((mc**2).sum(1).mean() / (gc**2).sum(1).mean())))
        s, r, _ = _umeyama(g, m)  # ground truth onto MediaPipe: the rotation MediaPipe adds
        rots.append(_rotvec(r))
        # residual in MediaPipe's frame, at the ground truth's scale
        res.append((m - (s * g @ r.T + (m.mean(0) - s * r @ g.mean(0)))) / s)
    return {"log_scale": np.array(logs), "rotvec": np.array(rots), "residual": np.array(res)}


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame PA-MPJPE in mm of (F, J, 3) against (F, J, 3)."""
    return np.asarray(_pa_mpjpe(pred, gt)) * 1000.0


def _summary(x: np.ndarray) -> dict:
    return {"mean": float(x.mean()), "median": float(np.median(x)),
            "p90": float(np.percentile(x, 90))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "world_noise"))
    ap.add_argument("--draws", type=int, default=20, help="noise draws per check frame")
    args = ap.parse_args()

    frames = mediapipe_world_frames(Path(args.data))
    found = [f for f in frames if f["world"] is not None]
    calib = [f for f in found if f["set"] == "s9" and f["camera"] in CALIBRATE_CAMERAS]
    check = [f for f in found if f not in calib]

    def stack(fs, key):
        return np.stack([f[key] for f in fs])

    mp_c = stack(calib, "world")[:, LIMB12_COCO]
    gt_c = stack(calib, "gt")[:, LIMB12_H36M]
    vis_c = stack(calib, "visibility")[:, LIMB12_COCO]
    parts = decompose(mp_c, gt_c)
    noise = WorldNoise.fit(parts["log_scale"], parts["rotvec"], parts["residual"], vis_c)

    rng = np.random.default_rng(0)
    mp_k = stack(check, "world")[:, LIMB12_COCO]
    gt_k = stack(check, "gt")[:, LIMB12_H36M]
    vis_k = stack(check, "visibility")[:, LIMB12_COCO]
    real_err = pa_mpjpe(mp_k, gt_k)
    drawn = []
    for _ in range(args.draws):
        drawn.append(pa_mpjpe(noise.apply_limb12(gt_k, vis_k, rng), gt_k))
    drawn = np.concatenate(drawn)
    real_parts = decompose(mp_k, gt_k)
    out = {
        "frames": len(frames),
        "found": len(found),
        "calibration_frames": len(calib),
        "check_frames": len(check),
        "model": noise.to_dict(),
        "check": {
            "real_pa_mpjpe_mm": _summary(real_err),
            "model_pa_mpjpe_mm": _summary(drawn),
            "real_log_scale_std": float(real_parts["log_scale"].std()),
            "real_rotation_deg_mean": float(
                np.degrees(np.linalg.norm(real_parts["rotvec"], axis=1)).mean()
            ),
            "model_rotation_deg_mean": float(
                np.degrees(np.linalg.norm(noise.sample_rotvec(4096, rng), axis=1)).mean()
            ),
        },
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(out, indent=1))
    m = out["model"]
    md = [
        "# MediaPipe world landmarks vs real 3D: the synthetic error model",
        "",
        "`python benchmarks/world_noise.py` (limb-12, identical 1.2x crops; calibrated on "
        f"{len(calib)} S9 frames of cameras {', '.join(CALIBRATE_CAMERAS)}, checked on "
        f"{len(check)} frames: S9 camera 58860488 and the 4 other-subject frames; "
        f"MediaPipe found a person in {len(found)} of {len(frames)}).",
        "",
        f"- scale (MediaPipe / truth, RMS size): log-normal, mean {m['log_scale_mean']:+.3f}, "
        f"std {m['log_scale_std']:.3f}",
        "- rotation added by MediaPipe (rotation vector, camera axes, deg std): "
        + ", ".join(f"{np.degrees(v):.1f}" for v in m["rot_std"]),
        "- per-joint residual std after similarity alignment (mm, x / y / z), visible / not:",
        "",
        "| joint | visible | not visible |",
        "|---|---|---|",
    ]
    names = ["l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip",
             "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle"]  # fmt: skip
    for j, name in enumerate(names):
        v = " / ".join(f"{1000 * x:.0f}" for x in m["residual_std_visible"][j])
        h = " / ".join(f"{1000 * x:.0f}" for x in m["residual_std_hidden"][j])
        md.append(f"| {name} | {v} | {h} |")
    c = out["check"]
    md += [
        "",
        "Check on the held-out frames (limb-12 PA-MPJPE, mm): MediaPipe's real error mean "
        f"{c['real_pa_mpjpe_mm']['mean']:.1f} / median {c['real_pa_mpjpe_mm']['median']:.1f} / "
        f"p90 {c['real_pa_mpjpe_mm']['p90']:.1f}; the model's draws on the same ground truth "
        f"{c['model_pa_mpjpe_mm']['mean']:.1f} / {c['model_pa_mpjpe_mm']['median']:.1f} / "
        f"{c['model_pa_mpjpe_mm']['p90']:.1f}. Rotation: real mean "
        f"{c['real_rotation_deg_mean']:.1f} deg, model {c['model_rotation_deg_mean']:.1f} deg.",
    ]
    Path(args.out + ".md").write_text("\n".join(md) + "\n")
    print(json.dumps(out["check"], indent=1))


if __name__ == "__main__":
    main()
