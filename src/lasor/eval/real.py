"""Real photos with ground truth: per-image silhouette IoU, PCK and (Human3.6M) 3D errors.

Each labelled person of ``../shared/data/real`` (see ``lasor.eval.datasets_real``) is run twice:

* ``mediapipe``: the product's own path — MediaPipe finds the person inside the ground-truth box,
  then crop, proxy, regressor, body model;
* ``oracle``: the ground-truth keypoints and mask as the observation, to separate front-end
  errors from regressor errors.

Metrics per image: IoU of the projected mesh's silhouette with the ground-truth mask; PCK@0.1
(threshold 0.1 x the longer side of the box) of the projected COCO-17 keypoints against the
labelled keypoints (MPII/H36M: the 12 shared limb joints); MPJPE and PA-MPJPE (mm,
pelvis-aligned) of the Human3.6M-17 joints on the H36M frames, with MediaPipe's own world
landmarks through the same metrics as the peer baseline. Joint mapping: lasor's
``BodyOutput.joints_h36m`` (``lasor.body.anny_body``) against H36M's 17 joints in their order.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from lasor.eval import metrics as M

log = logging.getLogger(__name__)


def mesh_mask(result, image_hw: tuple[int, int]) -> np.ndarray:
    """Hard silhouette of a predicted mesh in the photo (pinhole camera of the result)."""
    from lasor.render.rasterize import rasterize

    v = result.vertices.astype(np.float64)
    f = result.focal_length
    cx, cy = result.principal_point
    z = np.maximum(v[:, 2], 1e-6)
    scr = np.stack([f * v[:, 0] / z + cx, f * v[:, 1] / z + cy, z], 1)[None]
    return rasterize(scr, result.faces, image_hw, perspective=True).silhouette[0].numpy()


def _pck(pred2d: np.ndarray, item) -> float:
    from lasor.eval.datasets import match_keypoints

    m = match_keypoints(pred2d, item)
    if not m.visible.any():
        return float("nan")
    box = item.bbox
    if box is None:
        g = m.gt[m.visible]
        box = np.array([*g.min(0), *g.max(0)])
    return float(M.pck(m.pred[None], m.gt[None], m.visible[None], box[None]).overall)


def _h36m_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    return (
        float(M.mpjpe(pred, gt, align="pelvis")) * 1000,
        float(M.pa_mpjpe(pred, gt)) * 1000,
    )


def evaluate_item(item, image, model, body, res, opts, detector, fit_body=None) -> dict:
    """All metrics of one ground-truth person, for both observations."""
    from lasor.eval.datasets import gt_observation
    from lasor.predict import regress_people
    from lasor.synth.proxy import person_box

    row: dict = {"name": item.name, "dataset": item.dataset}
    observations = {}
    det = detector.detect(image, bbox=item.bbox) if detector is not None else None
    if det is not None:
        observations["mediapipe"] = det.person
        if item.gt_joints3d is not None:
            mp = _h36m_errors(det.world_h36m, item.gt_joints3d)
            row["mediapipe_world_mpjpe"], row["mediapipe_world_pa_mpjpe"] = mp
        if item.gt_mask is not None and det.person.mask is not None:
            row["mediapipe_mask_iou"] = float(M.silhouette_iou(det.person.mask, item.gt_mask))
    else:
        row["mediapipe_error"] = "no person found"
    oracle = gt_observation(item)
    if oracle is not None:
        observations["oracle"] = oracle
    for kind, obs in observations.items():
        box = person_box(obs.mask, obs.keypoints, obs.confidence)
        (r,), proxy = regress_people(
            model, body, res, [(image, obs, box, item.name, 0)], opts, fit_body=fit_body
        )
        if item.gt_mask is not None:
            row[f"{kind}_iou"] = float(
                M.silhouette_iou(mesh_mask(r, image.shape[:2]), item.gt_mask)
            )
        if item.gt_keypoints is not None:
            row[f"{kind}_pck"] = _pck(r.joints2d_coco, item)
        if item.gt_joints3d is not None:
            row[f"{kind}_mpjpe"], row[f"{kind}_pa_mpjpe"] = _h36m_errors(
                r.joints3d_h36m, item.gt_joints3d
            )
        if kind == "mediapipe":
            row["_result"], row["_proxy"] = r, proxy[0].numpy()
    return row


COLUMNS = [
    ("mediapipe_iou", "IoU"), ("mediapipe_pck", "PCK@0.1"), ("mediapipe_mpjpe", "MPJPE"),
    ("mediapipe_pa_mpjpe", "PA-MPJPE"), ("oracle_iou", "IoU (GT in)"),
    ("oracle_pck", "PCK (GT in)"), ("oracle_pa_mpjpe", "PA-MPJPE (GT in)"),
    ("mediapipe_mask_iou", "MP mask IoU"), ("mediapipe_world_pa_mpjpe", "MP world PA-MPJPE"),
]  # fmt: skip


def _mean(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def markdown_table(rows: list[dict]) -> str:
    head = "| image | dataset | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]

    def fmt(v):
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "–"
        return f"{v:.1f}" if abs(v) > 1.5 else f"{v:.2f}"

    for r in rows:
        lines.append(
            f"| {r['name']} | {r['dataset']} | "
            + " | ".join(fmt(r.get(c)) for c, _ in COLUMNS)
            + " |"
        )
    means = {c: _mean(rows, c) for c, _ in COLUMNS}
    lines.append("| **mean** | | " + " | ".join(fmt(means[c]) for c, _ in COLUMNS) + " |")
    return (
        "\n".join(lines)
        + "\n\n(IoU and PCK in [0, 1]; MPJPE/PA-MPJPE in mm; GT in = ground-truth keypoints"
        " and mask as input; MP = MediaPipe's own output)\n"
    )


def run_real_eval(
    checkpoint: Path, data_root: Path, out_dir: Path, render: bool = True, refine=None, fit=None
) -> dict:
    """Evaluate on every labelled person under ``data_root``; writes metrics.json/.md, overlays.

    ``refine``: a ``lasor.refine.RefineOptions`` to evaluate with refinement (default off);
    ``fit``: a ``lasor.fit.FitOptions`` to evaluate with full-resolution fitting (default off).
    """
    import warnings

    from lasor.eval.datasets import load_real_suite
    from lasor.frontend.files import load_image
    from lasor.predict import PredictOptions, load_predictor

    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    items = load_real_suite(data_root)
    if not items:
        raise FileNotFoundError(f"no labelled real photos under {data_root}")
    opts = PredictOptions(render=False, refine=refine, fit=fit)
    model, body, res, fit_body = load_predictor(checkpoint, opts)
    try:
        from lasor.frontend.mediapipe_pose import MediaPipePose

        detector = MediaPipePose()
    except ImportError as e:
        warnings.warn(
            f"MediaPipe unavailable, only the oracle input is evaluated: {e}", stacklevel=2
        )
        detector = None
    rows = []
    for item in items:
        image = load_image(item.image_path)
        row = evaluate_item(item, image, model, body, res, opts, detector, fit_body)
        r = row.pop("_result", None)
        proxy = row.pop("_proxy", None)
        if render and r is not None:
            from lasor.io.pictures import write_person_pictures

            stem = item.name.replace("/", "_")
            write_person_pictures(out_dir / "pictures", stem, image, r, proxy)
        rows.append(row)
    if detector is not None:
        detector.close()
    table = markdown_table(rows)
    result = {
        "checkpoint": str(checkpoint), "data": str(data_root), "n": len(rows),
        "per_image": rows, "wall_s": round(time.perf_counter() - t0, 1),
        "mean": {c: _mean(rows, c) for c, _ in COLUMNS},
    }  # fmt: skip
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "metrics.md").write_text(table)
    result["table"] = table
    return result
