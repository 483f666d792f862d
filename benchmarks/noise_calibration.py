"""Calibrate the synthetic front-end noise on the real front end (MediaPipe legacy Pose).

    python benchmarks/noise_calibration.py [--data ../shared/data/real] [--synthetic 512]

Runs lasor's MediaPipe front end (`lasor.frontend.mediapipe_pose.MediaPipePose`) on every person
with ground-truth keypoints in ../shared/data/real (COCO, OCHuman, MPII, H36M), cropping around
the ground-truth box, and measures per COCO-17 joint:

* the error normalised by the square crop side of `lasor.synth.proxy.person_box` (ground-truth
  mask + labelled keypoints; keypoints only where there is no mask), the unit of
  `NoiseConfig.joint_jitter`;
* split by ground-truth state: ``visible`` (COCO v=2), ``occluded`` (COCO v=1), ``unflagged``
  (MPII/H36M: labelled, occlusion not annotated);
* the confidence (landmark visibility) MediaPipe reports in each state;
* left/right swaps (the prediction is nearer the mirror joint's ground truth than its own, by
  at least 0.05 box) and far-off joints (> 0.5 box); a person MediaPipe does not find counts
  all its joints as misses.

The mask: MediaPipe's segmentation (threshold 0.5) against the COCO/OCHuman polygons: IoU, false
positive and false negative area as fractions of the ground-truth area, and the mean boundary
distance (symmetric, normalised by the box side).

The synthetic side: clean joints of the data engine (`make_batch` without noise) corrupted by
`corrupt_joints` with the current defaults and with `NoiseConfig.mediapipe()`; the same
statistics, histograms in ``noise_calibration.png``. Results: ``noise_calibration.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FAR = 0.5  # normalised error beyond which a joint counts as missed
SWAP_MARGIN = 0.05
WRONG_PERSON = 0.3  # median normalised error of a person beyond which MediaPipe found another


def _real_records(data: Path) -> tuple[list[dict], list[dict], dict]:
    from lasor.body.joints import COCO17_FLIP
    from lasor.eval.datasets import _FROM_COCO
    from lasor.eval.datasets_real import load_coco_gt, load_h36m_gt, load_mpii_gt
    from lasor.frontend import load_image
    from lasor.frontend.mediapipe_pose import MediaPipePose
    from lasor.synth.proxy import person_box

    items = []
    items += load_coco_gt(data / "coco/test_coco.json", data / "coco", dataset="coco")
    items += load_coco_gt(data / "ochuman/test_ochuman.json", data / "ochuman", dataset="ochuman")
    items += load_mpii_gt(data / "mpii/test_mpii.json", data / "mpii")
    h36m = data / "h36m"
    cams = h36m / "cameras.pkl"
    items += load_h36m_gt(h36m / "test_h36m_body3d.npz", h36m, cams if cams.is_file() else None)
    joints: list[dict] = []
    masks: list[dict] = []
    people: dict = {"items": 0, "with_keypoints": 0, "found": 0, "wrong_person": []}
    images: dict[Path, np.ndarray] = {}
    with MediaPipePose() as mp:
        for item in items:
            people["items"] += 1
            pairs = sorted(_FROM_COCO[item.keypoint_format].items())  # (gt index, coco index)
            vis = np.asarray(item.gt_visible, bool) if item.gt_keypoints is not None else None
            n_lab = 0 if vis is None else int(sum(vis[g] for g, _ in pairs))
            if n_lab < 6 and item.gt_mask is None:
                continue
            gt = np.zeros((17, 2))
            lab = np.zeros(17, bool)
            state = np.array(["none"] * 17, dtype=object)
            flags = item.extra.get("keypoint_flags")
            for g, c in pairs:
                if vis is not None and vis[g]:
                    gt[c] = item.gt_keypoints[g]
                    lab[c] = True
                    if flags is None:
                        state[c] = "unflagged"
                    else:
                        state[c] = "visible" if flags[g] == 2 else "occluded"
            box = person_box(item.gt_mask, gt[lab] if lab.any() else None)
            if item.image_path not in images:
                images[item.image_path] = load_image(item.image_path)
            det = mp.detect(images[item.image_path], item.bbox)
            found = det is not None
            people["found"] += int(found)
            if lab.sum() >= 6:
                people["with_keypoints"] += 1
                per = people.setdefault("per_dataset", {})
                per[item.dataset] = per.get(item.dataset, 0) + 1
            if item.gt_mask is not None:
                masks.append(_mask_stats(item.name, item.gt_mask, det, box.size))
            if not found:
                for c in np.flatnonzero(lab):
                    joints.append(
                        {"item": item.name, "joint": int(c), "state": state[c], "found": False}
                    )
                continue
            pred = det.person.keypoints.astype(np.float64)
            conf = det.person.confidence.astype(np.float64)
            errs = np.linalg.norm(pred[lab] - gt[lab], axis=1) / box.size
            if np.median(errs) > WRONG_PERSON:  # MediaPipe locked on someone else
                people["wrong_person"].append(item.name)
                for c in np.flatnonzero(lab):
                    joints.append(
                        {"item": item.name, "joint": int(c), "state": state[c], "found": False}
                    )
                continue
            for c in np.flatnonzero(lab):
                err = float(np.linalg.norm(pred[c] - gt[c]) / box.size)
                m = COCO17_FLIP[c]
                swap = False
                if m != c and lab[m]:
                    err_m = float(np.linalg.norm(pred[c] - gt[m]) / box.size)
                    swap = err_m + SWAP_MARGIN < err
                joints.append(
                    {
                        "item": item.name,
                        "dataset": item.dataset,
                        "joint": int(c),
                        "state": state[c],
                        "found": True,
                        "error": err,
                        "dx": float((pred[c, 0] - gt[c, 0]) / box.size),
                        "dy": float((pred[c, 1] - gt[c, 1]) / box.size),
                        "confidence": float(conf[c]),
                        "swap": bool(swap),
                        "retried": bool(det.retried),
                    }
                )
    return joints, masks, people


def _boundary(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask)


def _mask_stats(name: str, gt: np.ndarray, det, side: float) -> dict:
    if det is None or det.person.mask is None:
        return {"item": name, "found": False, "iou": 0.0, "fp": 0.0, "fn": 1.0}
    return {"item": name, "found": True, **_mask_pair(gt, det.person.mask.astype(bool), side)}


def _mask_pair(gt: np.ndarray, pm: np.ndarray, side: float) -> dict:
    area = float(gt.sum())
    inter = float((pm & gt).sum())
    union = float((pm | gt).sum())
    out = {
        "iou": inter / max(union, 1.0),
        "fp": float((pm & ~gt).sum()) / max(area, 1.0),
        "fn": float((~pm & gt).sum()) / max(area, 1.0),
    }
    if pm.any():
        dt_gt = ndimage.distance_transform_edt(~_boundary(gt))
        dt_pm = ndimage.distance_transform_edt(~_boundary(pm))
        d = np.concatenate([dt_gt[_boundary(pm)], dt_pm[_boundary(gt)]])
        out["boundary"] = float(d.mean() / side)
        out["boundary_p90"] = float(np.percentile(d, 90) / side)
    return out


def _synthetic_records(n: int, cfg_noise, seed: int = 5) -> tuple[list[dict], list[dict]]:
    """Clean engine joints (no noise) -> `corrupt_joints` -> records like the real ones."""
    from lasor.body import load_body_model
    from lasor.body.joints import COCO17_FLIP
    from lasor.synth.bank import build_body_bank, pose_source
    from lasor.synth.engine import SynthConfig, make_batch
    from lasor.synth.noise import corrupt_joints, corrupt_silhouette

    body = load_body_model("anny", topology="notoes_collapse10pc")
    rng = np.random.default_rng([seed, 1])
    bank = build_body_bank(body, min(n, 512), pose_source("val"), rng)
    res = 64
    clean = make_batch(bank, n, SynthConfig(res=res, noise=False), np.random.default_rng(seed))
    j2d = ((clean["joints2d"].numpy() + 1) / 2 * res).astype(np.float32)
    in_crop = clean["joints2d_vis"].numpy() > 0
    self_occ = clean["self_occluded"].numpy()
    visible = clean["joints_visible"].numpy()
    conf0 = (visible | self_occ).astype(np.float32)  # in the crop, not under an object/person
    sil = clean["proxy"][:, 0].numpy() > 0.5  # the visible silhouette, before noise
    rng = np.random.default_rng(seed + 100)
    out = []
    masks = []
    for i in range(n):
        j, c = corrupt_joints(j2d[i], conf0[i], self_occ[i], res, cfg_noise, rng)
        s = corrupt_silhouette(sil[i], j2d[i], res, cfg_noise, rng)
        if sil[i].any():
            masks.append(_mask_pair(sil[i], s, float(res)))
        for k in np.flatnonzero(in_crop[i]):
            if not (visible[i, k] or self_occ[i, k]):
                continue  # under an occluder: the engine gives confidence 0 before any noise
            err = float(np.linalg.norm(j[k] - j2d[i, k]) / res)
            m = COCO17_FLIP[k]
            swap = (
                m != k
                and in_crop[i, m]
                and (np.linalg.norm(j[k] - j2d[i, m]) / res + SWAP_MARGIN < err)
            )
            out.append(
                {
                    "joint": int(k),
                    "state": "occluded" if self_occ[i, k] else "visible",
                    "found": bool(c[k] > 0),
                    "error": err,
                    "confidence": float(c[k]),
                    "swap": bool(swap),
                }
            )
    return out, masks


def _summary(recs: list[dict], states: tuple[str, ...]) -> dict:
    sel = [r for r in recs if r["state"] in states]
    found = [r for r in sel if r["found"]]
    err = np.array([r["error"] for r in found]) if found else np.zeros(0)
    conf = np.array([r["confidence"] for r in found]) if found else np.zeros(0)
    near = err[err <= FAR]
    out = {
        "n": len(sel),
        "missed_person": len(sel) - len(found),
        "far": int((err > FAR).sum()),
        "swap": int(sum(r.get("swap", False) for r in found)),
    }
    if len(near):
        out.update(
            {
                "err_median": float(np.median(near)),
                "err_mean": float(near.mean()),
                "err_p90": float(np.percentile(near, 90)),
                "rms_xy": float(np.sqrt((near**2).mean() / 2)),  # per-axis std of a 2D Gaussian
                "gt_0.1": float((err > 0.1).mean()),
            }
        )
    if len(conf):
        out.update(
            {
                "conf_mean": float(conf.mean()),
                "conf_median": float(np.median(conf)),
                "conf_p10": float(np.percentile(conf, 10)),
                "conf_std": float(conf.std()),
                "conf_lt_0.5": float((conf < 0.5).mean()),
            }
        )
    return out


def _mask_mean(masks: list[dict]) -> dict:
    out = {
        k: float(np.mean([m[k] for m in masks if k in m]))
        for k in ("iou", "fp", "fn", "boundary", "boundary_p90")
    }
    out["iou_median"] = float(np.median([m["iou"] for m in masks]))
    found = [m for m in masks if m.get("found", True)]
    out["iou_found"] = float(np.mean([m["iou"] for m in found]))
    out["fn_found"] = float(np.mean([m["fn"] for m in found]))
    return out


GROUPS = {
    "face": [0, 1, 2, 3, 4],
    "shoulders": [5, 6],
    "elbows": [7, 8],
    "wrists": [9, 10],
    "hips": [11, 12],
    "knees": [13, 14],
    "ankles": [15, 16],
}


def _hist(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    h, _ = np.histogram(np.clip(values, bins[0], bins[-1] - 1e-9), bins)
    return h / max(len(values), 1)


def _panel(d, box, title, bins, series, colours):
    x0, y0, x1, y1 = box
    d.text((x0, y0 - 16), title, fill=(0, 0, 0))
    ymax = max(max(float(h.max()) for h in series.values()), 1e-6) * 1.1
    d.line([(x0, y0), (x0, y1), (x1, y1)], fill=(0, 0, 0))
    for t in range(5):
        yy = y1 - (y1 - y0) * t / 4
        d.line([(x0, yy), (x1, yy)], fill=(230, 230, 230))
        d.text((x0 - 34, yy - 6), f"{ymax * t / 4:.2f}", fill=(80, 80, 80))
    nb = len(bins) - 1
    for k, (name, h) in enumerate(series.items()):
        col = colours[k]
        pts = [
            (x0 + (x1 - x0) * (i + 0.5) / nb, y1 - (y1 - y0) * float(h[i]) / ymax)
            for i in range(nb)
        ]
        d.line(pts, fill=col, width=3 if k == 0 else 2)
        d.rectangle([x1 - 150, y0 + 4 + 14 * k, x1 - 140, y0 + 14 + 14 * k], fill=col)
        d.text((x1 - 135, y0 + 2 + 14 * k), name, fill=(0, 0, 0))
    for t in range(5):
        v = bins[0] + (bins[-1] - bins[0]) * t / 4
        d.text((x0 + (x1 - x0) * t / 4 - 10, y1 + 4), f"{v:.2g}", fill=(0, 0, 0))


def _picture(real: list[dict], synth: dict[str, list[dict]], path: Path) -> None:
    colours = [(0, 0, 0), (204, 0, 0), (52, 101, 164)]
    img = Image.new("RGB", (1200, 760), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((10, 6), "MediaPipe on real photos (black) vs synthetic corrupt_joints", fill=(0, 0, 0))

    def sel(recs, states, key):
        return np.array([r[key] for r in recs if r["state"] in states and r["found"]])

    ebins = np.linspace(0, 0.3, 31)
    cbins = np.linspace(0, 1, 21)
    panels = [
        ("normalised error, visible joints (last bin: >= 0.3)", ("visible", "unflagged"), "error"),
        ("normalised error, occluded joints", ("occluded",), "error"),
        ("confidence, visible joints", ("visible", "unflagged"), "confidence"),
        (
            "confidence, occluded joints (synthetic: self-occluded, kept)",
            ("occluded",),
            "confidence",
        ),
    ]
    for p, (title, states, key) in enumerate(panels):
        bins = ebins if key == "error" else cbins
        series = {"real (MediaPipe)": _hist(sel(real, states, key), bins)}
        for name, recs in synth.items():
            series[name] = _hist(sel(recs, states, key), bins)
        bx = 60 + (p % 2) * 590
        by = 50 + (p // 2) * 360
        _panel(d, (bx, by, bx + 520, by + 290), title, bins, series, colours)
    img.save(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    default = next(
        (
            d
            for d in (ROOT.parent / "shared/data/real", ROOT.parents[1] / "shared/data/real")
            if d.is_dir()
        ),
        ROOT.parent / "shared/data/real",
    )
    ap.add_argument("--data", type=Path, default=default)
    ap.add_argument("--synthetic", type=int, default=512, help="synthetic samples per config")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from lasor.body.joints import COCO17_JOINTS
    from lasor.synth.noise import NoiseConfig

    t = time.perf_counter()
    real, masks, people = _real_records(args.data)
    t_real = time.perf_counter() - t
    synth, synth_masks = {}, {}
    for name, cfg in (
        ("synthetic, NoiseConfig()", NoiseConfig()),
        ("synthetic, NoiseConfig.mediapipe()", NoiseConfig.mediapipe()),
    ):
        synth[name], synth_masks[name] = _synthetic_records(args.synthetic, cfg)
    vis = ("visible", "unflagged")
    result: dict = {
        "people": people,
        "seconds_real": round(t_real, 1),
        "far_threshold": FAR,
        "swap_margin": SWAP_MARGIN,
        "real": {
            "all_labelled": _summary(real, ("visible", "unflagged", "occluded")),
            "visible": _summary(real, ("visible",)),
            "unflagged": _summary(real, ("unflagged",)),
            "visible+unflagged": _summary(real, vis),
            "occluded": _summary(real, ("occluded",)),
        },
        "real_per_joint": {
            COCO17_JOINTS[k]: {
                "visible": _summary([r for r in real if r["joint"] == k], vis),
                "occluded": _summary([r for r in real if r["joint"] == k], ("occluded",)),
            }
            for k in range(17)
        },
        "real_per_group": {
            g: _summary([r for r in real if r["joint"] in ks], vis) for g, ks in GROUPS.items()
        },
        "real_mask": {
            "n": len(masks),
            "per_person": masks,
            **_mask_mean(masks),
        },
        "synthetic": {
            name: {
                "visible": _summary(recs, ("visible",)),
                "occluded": _summary(recs, ("occluded",)),
                "per_group": {
                    g: _summary([r for r in recs if r["joint"] in ks], ("visible",))
                    for g, ks in GROUPS.items()
                },
                "mask": _mask_mean(synth_masks[name]),
            }
            for name, recs in synth.items()
        },
        "preset": NoiseConfig.mediapipe().__dict__,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "noise_calibration.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "noise_calibration.md").write_text(_table(result))
    _picture(real, synth, RESULTS / "noise_calibration.png")
    print(json.dumps({k: result[k] for k in ("people", "real", "synthetic")}))


def _fmt(v, p=3):
    return "-" if v is None else (f"{v:.{p}f}" if isinstance(v, float) else str(v))


def _table(res: dict) -> str:
    lines = [
        "# Front-end noise: MediaPipe (legacy Pose) on real photos vs synthetic",
        "",
        "`benchmarks/noise_calibration.py`. Errors are normalised by the square crop side of "
        "`person_box` (1.2 x the person's extent). Real: "
        f"{res['people']['with_keypoints']} people with >= 6 labelled joints "
        f"({', '.join(f'{k} {v}' for k, v in res['people']['per_dataset'].items())}), "
        "MediaPipe cropped on the ground-truth box; "
        f"found {res['people']['found']} of {res['people']['items']}; locked on another person: "
        f"{', '.join(res['people']['wrong_person']) or 'none'} (median error > {WRONG_PERSON} box; "
        "its joints count as missed). Tiny sample: per-joint rows rest on 7-26 visible joints "
        "each, occluded rows on 0-4; "
        "errors include the definition offsets between datasets' joints and MediaPipe's (hips "
        "most).",
        "",
        "## Per joint (real; visible = COCO v=2 + MPII/H36M labelled, occluded = COCO v=1)",
        "",
        "| joint | n vis | median err | p90 err | rms/axis | conf vis (mean) | n occ | "
        "median err occ | conf occ (mean) | swaps | far/missed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["real_per_joint"].items():
        v, o = r["visible"], r["occluded"]
        lost = v["far"] + o["far"] + v["missed_person"] + o["missed_person"]
        lines.append(
            f"| {name} | {v['n']} | {_fmt(v.get('err_median'))} | {_fmt(v.get('err_p90'))} | "
            f"{_fmt(v.get('rms_xy'))} | {_fmt(v.get('conf_mean'), 2)} | {o['n']} | "
            f"{_fmt(o.get('err_median'))} | {_fmt(o.get('conf_mean'), 2)} | "
            f"{v['swap'] + o['swap']} | {lost} |"
        )
    lines += [
        "",
        "## Summary (real vs synthetic; errors of joints within 0.5 box)",
        "",
        "| source | state | n | median err | mean err | p90 err | rms/axis | conf mean | "
        "conf p10 | conf < 0.5 | swaps | far | dropped / missed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("real", k, v) for k, v in res["real"].items()]
    for name, s in res["synthetic"].items():
        rows += [(name, "visible", s["visible"]), (name, "self-occluded", s["occluded"])]
    for src, st, v in rows:
        lines.append(
            f"| {src} | {st} | {v['n']} | {_fmt(v.get('err_median'))} | "
            f"{_fmt(v.get('err_mean'))} | {_fmt(v.get('err_p90'))} | {_fmt(v.get('rms_xy'))} | "
            f"{_fmt(v.get('conf_mean'), 2)} | {_fmt(v.get('conf_p10'), 2)} | "
            f"{_fmt(v.get('conf_lt_0.5'), 2)} | {v['swap']} | {v['far']} | {v['missed_person']} |"
        )
    m = res["real_mask"]
    lines += [
        "",
        f"## Mask (MediaPipe vs COCO/OCHuman polygons, {m['n']} people)",
        "",
        f"Mean IoU {m['iou']:.3f} (median {m['iou_median']:.3f}); false positive area "
        f"{m['fp']:.3f} and false negative area {m['fn']:.3f} of the ground-truth area; mean "
        f"symmetric boundary distance {m['boundary']:.4f} box (p90 {m['boundary_p90']:.4f}).",
        "",
        "| source | IoU mean | IoU mean, found | IoU median | FP / GT area | FN / GT area | "
        "FN, found | boundary (box) | boundary p90 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("real (MediaPipe)", m)] + [(k, v["mask"]) for k, v in res["synthetic"].items()]
    for src, v in rows:
        lines.append(
            f"| {src} | {v['iou']:.3f} | {v['iou_found']:.3f} | {v['iou_median']:.3f} | "
            f"{v['fp']:.3f} | {v['fn']:.3f} | {v['fn_found']:.3f} | {v['boundary']:.4f} | "
            f"{v['boundary_p90']:.4f} |"
        )
    lines += [
        "",
        "Synthetic: `corrupt_silhouette` on the engine's visible silhouette (64 px) against the "
        "same silhouette before noise.",
        "",
        "| person | IoU | FP / GT area | FN / GT area | boundary (box) |",
        "|---|---|---|---|---|",
    ]
    for p in m["per_person"]:
        lines.append(
            f"| {p['item']} | {p['iou']:.3f} | {p['fp']:.3f} | {p['fn']:.3f} | "
            f"{_fmt(p.get('boundary'), 4)} |"
        )
    lines += [
        "",
        "## Preset `NoiseConfig.mediapipe()`",
        "",
        "```",
        json.dumps(res["preset"]),
        "```",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
