"""Retargeting check (CMU BVH -> Anny) and the full pose-bank build.

Claims measured:

* **numeric**: per-joint 3D position error (mm) between BVH joints and the matching joints of the
  retargeted Anny (hips, knees, ankles, shoulders, elbows, wrists, neck, head), after scaling the
  BVH skeleton to Anny's size (ratio of rest-pose "hip-centre -> head + hip -> ankle" lengths)
  and aligning the hip centres; also the angle between corresponding limb segments (which
  direction matching makes ~0: the position error is then due to different proportions and
  joint placement of the two skeletons, not to pose).
* **visual**: ``/tmp/poses_pics/retarget_*.png``: per frame, front and side views of the BVH
  stick figure (red) next to / over the posed Anny mesh (grey) and its skeleton (blue).
* **pose bank**: stats of building the full bank into the default cache path.

Prints one JSON line and writes ``benchmarks/results/retarget.json``.

Usage: ``python benchmarks/retarget.py [--bvh-dir DIR] [--no-bank] [--frames-per-trial 8]``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from lasor.body import load_body_model
from lasor.body.rotations import euler_to_rotmat
from lasor.synth.bvh import read_bvh
from lasor.synth.poses import (
    EVAL_JOINTS,
    POSE_BONES,
    POSE_PARENTS,
    SKELETON_MAPS,
    Retargeter,
    anny_rest_joints,
    build_pose_bank,
    default_pose_bank_path,
    remove_heading,
    retarget_motion,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BVH = REPO.parent / "shared" / "data" / "cmu_mocap" / "bvh"
PIC_TRIALS = ["01_01", "02_05", "05_04", "06_14", "14_30", "16_01", "acrnn_salsa_05", "09_03"]
JOINT_NAMES = ["root", *POSE_BONES]


def _size(p: dict[str, np.ndarray]) -> float:
    """Rest-pose size: hip centre -> head plus left hip -> left ankle."""
    hip = 0.5 * (p["upperleg01.L"] + p["upperleg01.R"])
    return float(np.linalg.norm(p["head"] - hip) + np.linalg.norm(p["foot.L"] - p["upperleg01.L"]))


def _hip_centre(x: torch.Tensor, keys: list[str]) -> torch.Tensor:
    return 0.5 * (x[:, keys.index("upperleg01.L")] + x[:, keys.index("upperleg01.R")])


def evaluate_trial(model, rest, motion, frames):
    """Errors for some frames of one trial; also returns what the pictures need."""
    rt = Retargeter.build(motion.skeleton, rest)
    res = retarget_motion(motion, rt, frames, return_bvh_joints=True)
    # face +Z (heading removed) so that pictures show the front; errors do not depend on it
    go, yaw = remove_heading(res["global_orient"])
    zero = torch.zeros_like(yaw)
    ry = euler_to_rotmat(torch.stack([zero, -yaw, zero], -1), "XYZ")
    res["global_orient"] = go
    res["bvh_joints"] = res["bvh_joints"] @ ry.transpose(-1, -2)
    n = len(frames)
    with torch.no_grad():
        out = model(
            res["global_orient"].float(),
            res["body_pose"].float(),
            model.shape_default.expand(n, -1),
        )
    ev = EVAL_JOINTS[rt.kind]
    keys = list(ev)
    sk = motion.skeleton
    anny_j = out.joints[:, [JOINT_NAMES.index(k) for k in keys]].double()
    bvh_j = res["bvh_joints"][:, [sk.index(v) for v in ev.values()]]
    bvh_rest = sk.rest_positions() * rt.units_to_m
    scale = _size({k: rest[k] for k in keys}) / _size(
        {k: bvh_rest[sk.index(v)] for k, v in ev.items()}
    )
    ha, hb = _hip_centre(anny_j, keys), _hip_centre(bvh_j, keys)
    err = ((anny_j - ha[:, None]) - scale * (bvh_j - hb[:, None])).norm(dim=-1) * 1000.0
    # limb segment direction error (degrees) for the direction-matched bones
    mapping = SKELETON_MAPS[rt.kind]
    full = _posed_with_heads(model, res["global_orient"].float(), res["body_pose"].float())
    bvh_all = res["bvh_joints"]
    dir_err = {}
    for bone, src in mapping.items():
        if src.anny_dir is None:
            continue
        a = (
            full[:, model.bone_labels.index(src.anny_dir[1])]
            - full[:, model.bone_labels.index(src.anny_dir[0])]
        )
        b = bvh_all[:, sk.index(src.bvh_dir[1])] - bvh_all[:, sk.index(src.bvh_dir[0])]
        a, b = a.double(), b.double()
        sin = torch.linalg.cross(a, b, dim=-1).norm(dim=-1)
        dir_err[bone] = torch.rad2deg(torch.atan2(sin, (a * b).sum(-1)))
    return {
        "kind": rt.kind,
        "keys": keys,
        "err": err,
        "dir_err": torch.stack(list(dir_err.values()), 1),
        "scale": scale,
        "out": out,
        "bvh": scale * (bvh_all - hb[:, None]),
        "anny_j": out.joints,
    }


def _posed_with_heads(model, go, bp):
    """(B, 104, 3) posed heads of all Anny bones, body frame (BodyOutput has only 20 joints).

    Re-does ``AnnyBody.forward``'s pose conversion and calls Anny directly.
    """
    c = model.to_body
    b = go.shape[0]
    nb = len(model.bone_labels)
    rot = torch.eye(3).repeat(b, nb, 1, 1)
    rot = rot.index_copy(1, model.pose_bone_index, c.T @ bp @ c)
    rot = torch.cat([(c.T @ go @ c)[:, None], rot[:, 1:]], 1)
    delta = torch.nn.functional.pad(rot, (0, 1, 0, 1))
    delta[..., 3, 3] = 1.0
    with torch.no_grad():
        raw = model.anny(pose_parameters=delta, phenotype_kwargs=model.shape_default.expand(b, -1))
    heads = raw["bone_poses"][..., :3, 3] @ c.T
    return heads - heads[:, :1]


# ---------------------------------------------------------------- drawing


def _project(p: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic (x_right, y_up, depth_toward_viewer) for a front or side view."""
    if view == "front":  # camera on +Z looking at -Z: body's left (+X) appears on the right
        return np.stack([p[..., 0], p[..., 1]], -1), p[..., 2]
    # side: camera on +X (body's left) looking at -X: +Z (front) appears on the left
    return np.stack([-p[..., 2], p[..., 1]], -1), p[..., 0]


def _mesh_image(verts, faces, view, size, scale, centre):
    """Shaded orthographic mesh (grey) as an RGB array, or None if the rasterizer is missing."""
    try:
        from lasor.render.rasterize import rasterize
    except ImportError:
        return None
    xy, depth = _project(verts, view)
    uv = (xy - centre) * scale * np.array([1.0, -1.0]) + size / 2
    screen = np.concatenate([uv, -depth[:, None]], -1)[None]
    frag = rasterize(torch.from_numpy(screen), faces, size)
    fid = frag.face_id[0].numpy()
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    towards = np.array([0.0, 0.0, 1.0]) if view == "front" else np.array([1.0, 0.0, 0.0])
    light = 0.35 + 0.6 * np.abs(n @ towards)
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    covered = fid >= 0
    g = (light[fid[covered]] * 220).astype(np.uint8)
    img[covered] = np.stack([g, g, g], -1)
    return img


def _draw_panel(
    size, view, verts=None, faces=None, anny_j=None, bvh=None, bvh_edges=(), scale=1, centre=0
):
    img = None
    if verts is not None:
        img = _mesh_image(verts, faces, view, size, scale, centre)
    if img is None:
        img = np.full((size, size, 3), 255, dtype=np.uint8)
    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)

    def px(p):
        xy, _ = _project(p, view)
        uv = (xy - centre) * scale * np.array([1.0, -1.0]) + size / 2
        return [tuple(map(float, q)) for q in uv]

    if verts is not None and img[..., 0].min() == 255:  # no rasterizer: vertex dots
        for u, v in px(verts):
            d.point((u, v), fill=(150, 150, 150))
    if anny_j is not None:
        q = px(anny_j)
        for i, bone in enumerate(POSE_BONES, start=1):
            d.line([q[i], q[JOINT_NAMES.index(POSE_PARENTS[bone])]], fill=(30, 80, 220), width=3)
    if bvh is not None:
        q = px(bvh)
        for i, j in bvh_edges:
            d.line([q[i], q[j]], fill=(220, 30, 30), width=2)
        for u, v in q:
            d.ellipse([u - 2, v - 2, u + 2, v + 2], fill=(220, 30, 30))
    return im


def _bvh_edges(sk) -> list[tuple[int, int]]:
    skip = ("Thumb", "Index", "Mid", "Ring", "Pinky", "Eye", "fingers", "thumb", "_end")
    keep = [not any(s in n for s in skip) or n.endswith("Foot_end") for n in sk.names]
    return [(j, int(p)) for j, p in enumerate(sk.parents) if p >= 0 and keep[j] and keep[p]]


def draw_frame(path, title, verts, faces, anny_j, bvh, edges, size=400):
    """4 panels: BVH front | Anny front | overlay front | overlay side."""
    pts = np.concatenate([verts, bvh])
    lo, hi = pts.min(0), pts.max(0)
    centre_f = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2])
    centre_s = np.array([-(lo[2] + hi[2]) / 2, (lo[1] + hi[1]) / 2])
    ext = max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])
    scale = 0.9 * size / ext
    panels = [
        _draw_panel(size, "front", bvh=bvh, bvh_edges=edges, scale=scale, centre=centre_f),
        _draw_panel(size, "front", verts, faces, anny_j, scale=scale, centre=centre_f),
        _draw_panel(size, "front", verts, faces, anny_j, bvh, edges, scale, centre_f),
        _draw_panel(size, "side", verts, faces, anny_j, bvh, edges, scale, centre_s),
    ]
    sheet = Image.new("RGB", (size * 4, size + 36), "white")
    for k, p in enumerate(panels):
        sheet.paste(p, (k * size, 36))
    d = ImageDraw.Draw(sheet)
    d.text((6, 2), title, fill=(0, 0, 0))
    labels = ["BVH (front)", "Anny (front)", "overlay (front)", "overlay (left side, facing left)"]
    for k, lab in enumerate(labels):
        d.text((k * size + 6, 18), lab, fill=(0, 0, 0))
    sheet.save(path)


# ---------------------------------------------------------------- main


def _stats(x: torch.Tensor) -> dict[str, float]:
    x = x.flatten().double()
    return {
        "mean": round(float(x.mean()), 2),
        "median": round(float(x.median()), 2),
        "p95": round(float(torch.quantile(x, 0.95)), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bvh-dir", type=Path, default=DEFAULT_BVH)
    ap.add_argument("--frames-per-trial", type=int, default=8)
    ap.add_argument("--pics", type=Path, default=Path("/tmp/poses_pics"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "retarget.json")
    ap.add_argument("--bank", type=Path, default=None, help="pose bank path (default: cache)")
    ap.add_argument("--no-bank", action="store_true", help="skip building the full pose bank")
    ap.add_argument("--trials", nargs="*", default=None, help="only these trials (quick look)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.bvh_dir.is_dir():
        sys.exit(f"no BVH folder at {args.bvh_dir}")
    t0 = time.perf_counter()
    model = load_body_model("anny", topology="notoes_collapse10pc")
    rest = anny_rest_joints(model)
    files = sorted(args.bvh_dir.glob("*.bvh*"))
    errs, dirs, kinds, per_trial, rest_floor = [], [], [], {}, {}
    args.pics.mkdir(parents=True, exist_ok=True)
    faces = model.faces.numpy()
    for f in files:
        trial = f.name.removesuffix(".gz").removesuffix(".bvh")
        if args.trials is not None and trial not in args.trials:
            continue
        motion = read_bvh(f)
        if motion.num_frames < 2 * args.frames_per_trial:
            continue
        frames = np.linspace(1, motion.num_frames - 1, args.frames_per_trial).round().astype(int)
        r = evaluate_trial(model, rest, motion, frames)
        errs.append(r["err"])
        dirs.append(r["dir_err"])
        kinds.append(r["kind"])
        per_trial[trial] = round(float(r["err"].mean()), 1)
        if r["kind"] not in rest_floor:
            # the same measurement for the BVH rest pose: what proportions alone cost
            still = replace(motion, data=np.zeros_like(motion.data[:1]))
            rest_floor[r["kind"]] = evaluate_trial(model, rest, still, np.array([0]))["err"][0]
        if trial in PIC_TRIALS:
            k = args.frames_per_trial // 2
            draw_frame(
                args.pics / f"retarget_{trial}_f{frames[k]}.png",
                f"{trial} frame {frames[k]}: mean joint error {float(r['err'][k].mean()):.0f} mm"
                f" (BVH red, scaled x{r['scale']:.2f}; Anny grey, skeleton blue)",
                r["out"].vertices[k].numpy(),
                faces,
                r["anny_j"][k].numpy(),
                r["bvh"][k].numpy(),
                _bvh_edges(motion.skeleton),
            )
    keys = list(EVAL_JOINTS["daz"])
    by_kind = {
        k: [e for e, kk in zip(errs, kinds, strict=True) if kk == k] for k in sorted(set(kinds))
    }
    result = {
        "benchmark": "retarget",
        "method": "global rotations of mapped BVH joints x rest-pose correction (limb direction "
        "matching, twist from palm/forearm), no position fitting",
        "trials": len(errs),
        "frames": int(sum(e.shape[0] for e in errs)),
        "joint_error_mm": _stats(torch.cat([e.flatten() for e in errs])),
        "joint_error_mm_by_skeleton": {
            k: {
                "trials": len(v),
                **_stats(torch.cat([e.flatten() for e in v])),
                "per_joint_mean": {
                    j: round(float(x), 1) for j, x in zip(keys, torch.cat(v).mean(0), strict=True)
                },
                "rest_pose_floor_mean": round(float(rest_floor[k].mean()), 1),
                "rest_pose_floor_per_joint": {
                    j: round(float(x), 1) for j, x in zip(keys, rest_floor[k], strict=True)
                },
            }
            for k, v in by_kind.items()
        },
        "limb_direction_error_deg": {
            **_stats(torch.cat(dirs)),
            "max": round(float(torch.cat(dirs).max()), 3),
        },
        "worst_trials_mm": dict(sorted(per_trial.items(), key=lambda kv: -kv[1])[:5]),
        "pictures": sorted(str(p) for p in args.pics.glob("retarget_*.png")),
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }
    if not args.no_bank:
        bank = args.bank or default_pose_bank_path()
        stats = build_pose_bank(args.bvh_dir, bank, progress=False)
        result["pose_bank"] = {
            "path": str(bank),
            "size_mb": round(bank.stat().st_size / 2**20, 1),
            **stats,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
