"""Ground truth of the small real-photo suite (``../shared/data/real``) as `EvalItem` lists.

What the loaders found in the shared suite (checked by ``tests/eval/test_datasets_real.py``):

* ``coco/test_coco.json``: 4 val2017 images, 14 person annotations, none crowd, all with polygon
  masks; 12 have 12-17 labelled keypoints, 2 (small background people) have none. All 14 are
  kept (rule: >= 6 labelled keypoints *or* a mask).
* ``ochuman/test_ochuman.json``: 3 images, 5 heavily occluded people with RLE masks and 12-17
  labelled keypoints; all kept.
* ``mpii/test_mpii.json``: 5 images, one person each; 16, 16, 14, 14, 16 labelled joints (two
  people lack both ankles). Boxes from ``scale * 200`` px are loose: 1.1-1.5x the joint extent.
* ``h36m/test_h36m_body3d.npz``: 4 frames (S1 Directions, S5 SittingDown with camera 54138969;
  S7 Greeting, S8 WalkDog with camera 55011271), all 17 joints visible. Facts about ``S``
  (see `load_h36m_gt`): metres, camera frame with **y down** (head above pelvis means smaller
  y), z forward at 4.4-6.9 m; the pelvis is exactly the mid-point of the two hips (< 1e-6 m);
  left and right bones have equal lengths (thigh 0.43-0.45 m, hip width 0.24-0.29 m).
* ``photos/ssp3dpr3_mousavi*``: 1 person, 512 x 512, BODY_25 OpenPose keypoints (all 17 COCO
  joints detected), binary mask of 43,634 px.
* ``photos/spin_im1010*``: 1 person in a 153 x 192 LSP image, OpenPose COCO-18 keypoints (14 of
  the 17 COCO joints detected), box [17, 37, 134, 179].
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lasor.eval.datasets import (
    CameraIntrinsics,
    EvalItem,
    read_image_size,
    read_npz,
    read_pickle,
)
from lasor.frontend.files import read_boxes, read_mask, read_openpose, segmentation_to_mask
from lasor.frontend.types import FrontendError, PersonObservation, bbox_from_observation

logger = logging.getLogger(__name__)

__all__ = [
    "load_coco_gt",
    "load_h36m_cameras",
    "load_h36m_gt",
    "load_mpii_gt",
    "load_real_suite",
    "load_spin_sample",
    "load_ssp3d_sample",
]

PathLike = str | os.PathLike[str]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected {what}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrontendError(path, f"is not valid JSON ({exc}); expected {what}") from exc


def _floats(value: Any, n: int, path: Path, message: str) -> np.ndarray:
    """A flat list of n finite numbers as float64, or FrontendError(path, message)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.shape != (n,) or not np.isfinite(arr).all():
        raise FrontendError(path, message)
    return arr


def _box_from_centre(centre: np.ndarray, side: float) -> np.ndarray:
    cx, cy = float(centre[0]), float(centre[1])
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


# ------------------------------------------------------------------------------------------------
# COCO / OCHuman


def load_coco_gt(
    path_json: PathLike,
    image_dir: PathLike,
    *,
    dataset: str = "coco",
    min_keypoints: int = 6,
    include_crowd: bool = False,
) -> list[EvalItem]:
    """People of a COCO-format keypoint file (COCO, OCHuman), one item per person annotation.

    Kept: non-crowd person annotations with at least ``min_keypoints`` labelled keypoints *or* a
    non-empty segmentation mask (the mask alone supports silhouette IoU; PCK then simply has
    nothing to score for that person).

    Items: ``keypoint_format="coco17"``; ``gt_keypoints`` as stored (unlabelled ones (0, 0));
    ``gt_visible`` = labelled (COCO ``v > 0``, occluded-but-labelled included, as COCO's own
    evaluation counts them); ``gt_mask`` from polygons or (compressed) RLE at the image size;
    ``bbox`` from the annotation's ``[x, y, w, h]`` (else the tight box of mask and keypoints).
    ``extra``: ``annotation_id``, ``image_id``, ``keypoint_flags`` ((17,) int, the raw ``v``),
    ``area``. Names are ``"<dataset>/<image stem>/<annotation id>"``.

    Args:
        path_json: COCO annotation file with ``images`` and ``annotations``.
        image_dir: folder holding the images' ``file_name``.
        dataset: value of ``EvalItem.dataset`` (``"coco"``, ``"ochuman"``).
        min_keypoints: minimum labelled keypoints for a person without a mask.
        include_crowd: keep ``iscrowd`` annotations.

    Returns:
        Items in annotation order.

    Raises:
        FileNotFoundError: the JSON file or a referenced image is missing.
        FrontendError: malformed JSON or annotation.
    """
    path = Path(path_json)
    image_dir = Path(image_dir)
    data = _read_json(path, "a COCO annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise FrontendError(path, "expected a COCO file with `images` and `annotations` lists")
    images = {img.get("id"): img for img in data.get("images") or [] if isinstance(img, dict)}
    categories = [c for c in data.get("categories") or [] if isinstance(c, dict)]
    person_ids = {c.get("id") for c in categories if c.get("name") == "person"} or None
    items: list[EvalItem] = []
    dropped = 0
    for k, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise FrontendError(path, f"annotation #{k} is not an object")
        if ann.get("iscrowd", 0) and not include_crowd:
            continue
        category = ann.get("category_id")
        if person_ids is not None and category is not None and category not in person_ids:
            continue
        img = images.get(ann.get("image_id"))
        if img is None or "file_name" not in img:
            raise FrontendError(
                path, f"annotation #{k} refers to unknown image {ann.get('image_id')}"
            )
        image_path = image_dir / img["file_name"]
        if "height" in img and "width" in img:
            size = (int(img["height"]), int(img["width"]))
            if not image_path.is_file():
                raise FileNotFoundError(f"{image_path}: no such image file (listed in {path})")
        else:
            size = read_image_size(image_path)
        item = _coco_item(ann, k, path, image_path, size, dataset, min_keypoints)
        if item is None:
            dropped += 1
        else:
            items.append(item)
    logger.info(
        "%s: %d people kept, %d dropped (< %d keypoints, no mask)",
        path,
        len(items),
        dropped,
        min_keypoints,
    )
    return items


def _coco_item(
    ann: dict,
    k: int,
    path: Path,
    image_path: Path,
    size: tuple[int, int],
    dataset: str,
    min_keypoints: int,
) -> EvalItem | None:
    where = f"annotation #{k}"
    if ann.get("keypoints"):
        kp = _floats(ann["keypoints"], 51, path, f"{where}: keypoints must be [x, y, v] * 17")
        kp = kp.reshape(17, 3)
        flags = kp[:, 2].astype(np.int64)
    else:
        kp = np.zeros((17, 3))
        flags = np.zeros(17, dtype=np.int64)
    visible = flags > 0
    keypoints = np.where(visible[:, None], kp[:, :2], 0.0)
    mask = None
    if ann.get("segmentation") not in (None, [], {}):
        try:
            mask = segmentation_to_mask(ann["segmentation"], *size)
        except ValueError as exc:
            raise FrontendError(path, f"{where} segmentation: {exc}") from exc
    has_mask = mask is not None and bool(mask.any())
    if visible.sum() < min_keypoints and not has_mask:
        return None
    if ann.get("bbox") is not None:
        box = _floats(ann["bbox"], 4, path, f"{where}: bbox must be [x, y, width, height]")
        if box[2] <= 0 or box[3] <= 0:
            raise FrontendError(path, f"{where}: bbox has width or height <= 0")
        bbox = np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]], dtype=np.float32)
    else:
        bbox = bbox_from_observation(keypoints, visible.astype(np.float32), mask)
    ann_id = ann.get("id", k)
    return EvalItem(
        image_path=image_path,
        name=f"{dataset}/{image_path.stem}/{ann_id}",
        dataset=dataset,
        keypoint_format="coco17",
        bbox=bbox,
        gt_keypoints=keypoints,
        gt_visible=visible,
        gt_mask=mask if has_mask else None,
        image_size=size,
        extra={
            "annotation_id": ann_id,
            "image_id": ann.get("image_id"),
            "keypoint_flags": flags,
            "area": ann.get("area"),
        },
    )


# ------------------------------------------------------------------------------------------------
# MPII


def load_mpii_gt(
    path_json: PathLike, image_dir: PathLike, *, one_based: bool = True
) -> list[EvalItem]:
    """People of an MPII annotation list (the HRNet / mmpose JSON layout).

    The file is a list of ``{"image", "joints" (16 x 2), "joints_vis" (16,), "center" (2,),
    "scale"}`` in MPII's joint order (`MPII16_JOINTS`: r-ankle, r-knee, r-hip, l-hip, l-knee,
    l-ankle, pelvis, thorax, upper neck, head top, r-wrist, r-elbow, r-shoulder, l-shoulder,
    l-elbow, l-wrist). MPII's coordinates are MATLAB 1-based; with ``one_based`` (default) one
    pixel is subtracted from joints and centre (as HRNet and mmpose do), giving 0-based pixel
    coordinates like COCO's.

    Items: ``keypoint_format="mpii16"``; ``gt_visible`` = ``joints_vis > 0`` (MPII's flag means
    "annotated"; unannotated joints, stored as -1, become (0, 0)); ``bbox`` the square of side
    ``scale * 200`` px centred on ``center`` (MPII's person scale; loose, 1.1-1.5x the joint
    extent on the shared sample, so PCK@bbox thresholds are lenient). ``extra``: ``center``
    (0-based), ``scale``, ``head_size`` (upper neck to head top in px, for PCKh; NaN if either
    is missing). Names are ``"mpii/<image stem>/<person index in that image>"``.

    Args:
        path_json: the annotation list.
        image_dir: folder holding the images.
        one_based: the file's coordinates are 1-based (MPII's native convention).

    Returns:
        One item per entry, in file order.

    Raises:
        FileNotFoundError: the JSON file or an image is missing.
        FrontendError: malformed entries.
    """
    path = Path(path_json)
    image_dir = Path(image_dir)
    data = _read_json(path, "an MPII list of {image, joints, joints_vis, center, scale}")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise FrontendError(path, "expected a list of {image, joints, joints_vis, center, scale}")
    shift = 1.0 if one_based else 0.0
    items: list[EvalItem] = []
    per_image: dict[str, int] = {}
    for k, entry in enumerate(data):
        try:
            joints = np.asarray(entry["joints"], dtype=np.float64)
            vis = np.asarray(entry["joints_vis"], dtype=np.float64)
            centre = np.asarray(entry["center"], dtype=np.float64)
            scale = float(entry["scale"])
            image = str(entry["image"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FrontendError(
                path, f"entry #{k} needs image, joints (16 x 2), joints_vis, center, scale"
            ) from exc
        if joints.shape != (16, 2) or vis.shape != (16,) or centre.shape != (2,) or scale <= 0:
            raise FrontendError(
                path,
                f"entry #{k}: joints {joints.shape}, joints_vis {vis.shape}, center "
                f"{centre.shape}, scale {scale}; expected (16, 2), (16,), (2,) and scale > 0",
            )
        visible = (vis > 0) & (joints >= 0).all(axis=1)
        keypoints = np.where(visible[:, None], joints - shift, 0.0)
        centre = centre - shift
        image_path = image_dir / image
        size = read_image_size(image_path)
        index = per_image.get(image, 0)
        per_image[image] = index + 1
        head = (
            float(np.linalg.norm(keypoints[9] - keypoints[8]))
            if visible[8] and visible[9]
            else float("nan")
        )
        items.append(
            EvalItem(
                image_path=image_path,
                name=f"mpii/{Path(image).stem}/{index}",
                dataset="mpii",
                keypoint_format="mpii16",
                bbox=_box_from_centre(centre, 200.0 * scale),
                gt_keypoints=keypoints,
                gt_visible=visible,
                image_size=size,
                extra={"center": centre, "scale": scale, "head_size": head},
            )
        )
    return items


# ------------------------------------------------------------------------------------------------
# Human3.6M

_H36M_STEM = re.compile(r"^(?P<action>.+)\.(?P<camera>\d+)_(?P<frame>\d+)$")


def load_h36m_cameras(path: PathLike) -> dict[tuple[str, str], dict[str, Any]]:
    """Human3.6M camera parameters from a ``cameras.pkl`` (the mmpose layout).

    The pickle is a plain dict ``{(subject, camera id): {"R" (3, 3), "T" (3, 1), "f" (2, 1),
    "c" (2, 1), "k" (3, 1), "p" (2, 1), "w", "h", "name", "id"}}`` of numpy arrays, numbers and
    strings; it is read with `read_pickle`, which refuses anything else.

    Conventions, checked on the shared sample: ``T`` is the camera centre in world coordinates
    (metres; world Z up, floor at Z ~ 0, cameras ~1.5 m high) and ``R`` rotates camera axes into
    world axes, so ``X_world = R @ X_cam + T`` and ``X_cam = R.T @ (X_world - T)`` (this puts the
    sample people's feet on the floor, heads at 1.5-1.7 m, for all four cameras).

    Args:
        path: the pickle.

    Returns:
        ``{(subject, camera id): parameters}`` with arrays flattened: ``R (3, 3)``, ``T (3,)``,
        ``f (2,)``, ``c (2,)``, ``k (3,)``, ``p (2,)`` (float64); other fields as stored.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the pickle is not a camera table of that layout.
    """
    data = read_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict {{(subject, camera id): parameters}}")
    shapes = {"R": (3, 3), "T": (3,), "f": (2,), "c": (2,), "k": (3,), "p": (2,)}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, params in data.items():
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(params, dict)):
            raise ValueError(f"{path}: entry {key!r} is not (subject, camera id) -> dict")
        entry = dict(params)
        for name, shape in shapes.items():
            if name not in params:
                raise ValueError(f"{path}: camera {key} has no {name!r}")
            arr = np.asarray(params[name], dtype=np.float64)
            entry[name] = arr.reshape(shape) if arr.size == np.prod(shape) else arr
            if entry[name].shape != shape:
                raise ValueError(f"{path}: camera {key} {name} has shape {arr.shape}")
        out[(str(key[0]), str(key[1]))] = entry
    return out


def load_h36m_gt(
    npz: PathLike, image_dir: PathLike, cameras_pkl: PathLike | None = None
) -> list[EvalItem]:
    """Human3.6M frames with 2D and 3D ground truth (the mmpose ``*_body3d.npz`` layout).

    Fields: ``imgname`` (paths relative to ``image_dir``, e.g.
    ``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg``), ``center`` (N, 2),
    ``scale`` (N,) (box side / 200 px), ``part`` (N, 17, 3) 2D joints + visibility, ``S``
    (N, 17, 4) 3D joints + visibility, both in `lasor.body.joints.H36M_JOINTS` order.

    Facts about ``S``, verified on the shared sample: **metres** (thighs 0.43-0.45 m, hips
    0.24-0.29 m apart, joints 4.4-6.9 m from the camera); **camera frame, OpenCV axes: x right,
    y down, z forward** (so "up" is -y: heads have smaller y than pelvis and feet); the
    **pelvis is the exact mid-point of the two hips** (< 1e-6 m); left/right bone lengths are
    equal (H36M's skeleton). ``part`` is ``S`` projected with the camera's ``f``, ``c`` and
    distortion ``k``, ``p`` (`CameraIntrinsics.project` reproduces it to 1e-4 px).

    Items: ``keypoint_format="h36m17"``, ``gt_keypoints``/``gt_visible`` from ``part``,
    ``gt_joints3d`` = ``S[:, :3]``, ``bbox`` the square of side ``scale * 200`` around
    ``center``, ``camera`` from ``cameras_pkl`` (None without it). ``extra``: ``subject``,
    ``action``, ``camera_id``, ``frame``, ``center``, ``scale``, ``joints3d_visible`` (17,) bool
    and, with cameras, ``R`` (3, 3) and ``T`` (3,) such that ``X_world = R @ X_cam + T``
    (see `load_h36m_cameras`). Note: the camera table's nominal size for camera 55011271 is
    1000 x 1000 while the S7 frame is 1000 x 1002 px; ``image_size`` is the real image's.

    Args:
        npz: the annotation file.
        image_dir: root the ``imgname`` paths are relative to.
        cameras_pkl: optional ``cameras.pkl`` (see `load_h36m_cameras`).

    Returns:
        One item per frame.

    Raises:
        FileNotFoundError: missing annotation, camera or image file.
        ValueError: missing or mis-shaped fields, unparsable image names, unknown cameras.
    """
    npz = Path(npz)
    image_dir = Path(image_dir)
    data = read_npz(npz)
    missing = [k for k in ("imgname", "center", "scale", "part", "S") if k not in data]
    if missing:
        raise ValueError(
            f"{npz}: missing fields {missing}; expected imgname, center, scale, part, S"
        )
    n = len(data["imgname"])
    expected = {"center": (n, 2), "scale": (n,), "part": (n, 17, 3), "S": (n, 17, 4)}
    for key, shape in expected.items():
        if data[key].shape != shape:
            raise ValueError(f"{npz}: {key} has shape {data[key].shape}, expected {shape}")
    cameras = load_h36m_cameras(cameras_pkl) if cameras_pkl is not None else None
    items = []
    for i in range(n):
        rel = str(data["imgname"][i])
        subject = Path(rel).parts[0]
        stem = Path(rel).stem
        match = _H36M_STEM.match(stem)
        if match is None:
            raise ValueError(
                f"{npz}: cannot parse image name {rel!r}; expected "
                "<subject>/<...>/<subject>_<action>.<camera id>_<frame>.jpg"
            )
        action = match["action"]
        if action.startswith(subject + "_"):
            action = action[len(subject) + 1 :]
        extra: dict[str, Any] = {
            "subject": subject,
            "action": action,
            "camera_id": match["camera"],
            "frame": int(match["frame"]),
            "center": data["center"][i].astype(np.float64),
            "scale": float(data["scale"][i]),
            "joints3d_visible": data["S"][i, :, 3] > 0,
        }
        camera = None
        if cameras is not None:
            key = (subject, match["camera"])
            if key not in cameras:
                raise ValueError(f"{cameras_pkl}: no camera {key} (needed by {rel})")
            c = cameras[key]
            size = (int(c["h"]), int(c["w"])) if "h" in c and "w" in c else None
            camera = CameraIntrinsics(c["f"], c["c"], c["k"], c["p"], image_size=size)
            extra["R"] = c["R"].copy()
            extra["T"] = c["T"].copy()
        image_path = image_dir / rel
        items.append(
            EvalItem(
                image_path=image_path,
                name=f"h36m/{stem}",
                dataset="h36m",
                keypoint_format="h36m17",
                bbox=_box_from_centre(data["center"][i], 200.0 * float(data["scale"][i])),
                gt_keypoints=data["part"][i, :, :2],
                gt_visible=data["part"][i, :, 2] > 0,
                gt_joints3d=data["S"][i, :, :3],
                camera=camera,
                image_size=read_image_size(image_path),
                extra=extra,
            )
        )
    return items


# ------------------------------------------------------------------------------------------------
# Single annotated photos


def _best_person(
    people: list[PersonObservation], inside: Callable[[np.ndarray], np.ndarray]
) -> PersonObservation:
    """The detection with the most confident keypoints inside the reference region."""
    scores = [int((inside(p.keypoints) & (p.confidence > 0)).sum()) for p in people]
    return people[int(np.argmax(scores))]


def _openpose_item(
    image_path: Path,
    keypoint_path: Path,
    name: str,
    dataset: str,
    mask: np.ndarray | None,
    bbox: np.ndarray | None,
    size: tuple[int, int],
) -> EvalItem:
    people = read_openpose(keypoint_path)
    if not people:
        raise FrontendError(keypoint_path, "has no person with detected keypoints")

    def inside(kp: np.ndarray) -> np.ndarray:
        xi = np.clip(np.round(kp[:, 0]).astype(int), 0, size[1] - 1)
        yi = np.clip(np.round(kp[:, 1]).astype(int), 0, size[0] - 1)
        if mask is not None:
            return mask[yi, xi]
        if bbox is not None:
            x0, y0, x1, y1 = bbox
            return (kp[:, 0] >= x0) & (kp[:, 0] <= x1) & (kp[:, 1] >= y0) & (kp[:, 1] <= y1)
        return np.ones(len(kp), dtype=bool)

    person = _best_person(people, inside)
    visible = person.confidence > 0
    if bbox is None:
        bbox = bbox_from_observation(person.keypoints, person.confidence, mask)
    return EvalItem(
        image_path=image_path,
        name=name,
        dataset=dataset,
        keypoint_format="coco17",
        bbox=bbox,
        gt_keypoints=person.keypoints,
        gt_visible=visible,
        gt_mask=mask,
        image_size=size,
        extra={
            "keypoint_confidence": person.confidence.copy(),
            "keypoint_source": f"openpose detections (not human labels): {keypoint_path.name}",
        },
    )


def load_ssp3d_sample(photos_dir: PathLike, stem: str = "ssp3dpr3_mousavi") -> EvalItem:
    """The SSP-3D-style sample: ``<stem>.png``, ``<stem>_mask.png``, ``<stem>_keypoints.json``.

    The keypoints are OpenPose BODY_25 detections mapped to COCO-17 (``gt_visible`` = detected;
    scores in ``extra["keypoint_confidence"]``); the mask is a human-made binary silhouette
    (`lasor.frontend.files.read_mask`). ``bbox`` is the tight box of mask and keypoints. There is
    no 3D ground truth for this photo.

    Args:
        photos_dir: folder with the three files.
        stem: their common stem.

    Returns:
        One item (``dataset="ssp3d_sample"``).

    Raises:
        FileNotFoundError: a file is missing.
        FrontendError: unreadable files.
    """
    d = Path(photos_dir)
    image_path = d / f"{stem}.png"
    mask_path = d / f"{stem}_mask.png"
    kp_path = d / f"{stem}_keypoints.json"
    missing = [p.name for p in (image_path, mask_path, kp_path) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(missing)} (SSP-3D-style sample)")
    size = read_image_size(image_path)
    mask = read_mask(mask_path, size, image_path=image_path)
    return _openpose_item(
        image_path, kp_path, f"ssp3d_sample/{stem}", "ssp3d_sample", mask, None, size
    )


def load_spin_sample(photos_dir: PathLike, stem: str = "spin_im1010") -> EvalItem:
    """The SPIN demo photo: ``<stem>.jpg``, ``<stem>_openpose.json``, ``<stem>_bbox.json``.

    Keypoints are OpenPose COCO-18 detections mapped to COCO-17 (``gt_visible`` = detected;
    scores in ``extra["keypoint_confidence"]``). ``bbox`` comes from the box file
    (``{"bbox": [x, y, w, h]}``, `lasor.frontend.files.read_boxes`). No mask, no 3D.

    Args:
        photos_dir: folder with the three files.
        stem: their common stem.

    Returns:
        One item (``dataset="spin_sample"``).

    Raises:
        FileNotFoundError: a file is missing.
        FrontendError: unreadable files.
    """
    d = Path(photos_dir)
    image_path = d / f"{stem}.jpg"
    kp_path = d / f"{stem}_openpose.json"
    box_path = d / f"{stem}_bbox.json"
    missing = [p.name for p in (image_path, kp_path, box_path) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(missing)} (SPIN demo sample)")
    size = read_image_size(image_path)
    boxes = read_boxes(box_path, size)
    if len(boxes) == 0:
        raise FrontendError(box_path, "holds no box")
    return _openpose_item(
        image_path, kp_path, f"spin_sample/{stem}", "spin_sample", None, boxes[0], size
    )


# ------------------------------------------------------------------------------------------------
# The whole suite


def load_real_suite(root: PathLike, *, include_unlabelled: bool = False) -> list[EvalItem]:
    """Every ground-truth item available under ``root`` (= ``../shared/data/real``).

    Parts, in this order: ``coco`` (`load_coco_gt`), ``ochuman`` (same loader), ``mpii``,
    ``h36m`` (with ``cameras.pkl`` when present), ``ssp3d_sample``, ``spin_sample``. A part whose
    files are missing is skipped with a logged warning; malformed files raise.

    Args:
        root: the suite's folder.
        include_unlabelled: also return the other photos of ``photos/`` (no ground truth;
            ``dataset="photos"``), e.g. for qualitative pictures.

    Returns:
        The items (30 for the shared suite: 14 + 5 + 5 + 4 + 1 + 1).

    Raises:
        FileNotFoundError: ``root`` does not exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: real-photo suite folder not found")
    h36m = root / "h36m"
    cameras = h36m / "cameras.pkl"
    parts: list[tuple[str, list[Path], Callable[[], EvalItem | list[EvalItem]]]] = [
        (
            "coco",
            [root / "coco" / "test_coco.json"],
            lambda: load_coco_gt(root / "coco" / "test_coco.json", root / "coco", dataset="coco"),
        ),
        (
            "ochuman",
            [root / "ochuman" / "test_ochuman.json"],
            lambda: load_coco_gt(
                root / "ochuman" / "test_ochuman.json", root / "ochuman", dataset="ochuman"
            ),
        ),
        (
            "mpii",
            [root / "mpii" / "test_mpii.json"],
            lambda: load_mpii_gt(root / "mpii" / "test_mpii.json", root / "mpii"),
        ),
        (
            "h36m",
            [h36m / "test_h36m_body3d.npz"],
            lambda: load_h36m_gt(
                h36m / "test_h36m_body3d.npz", h36m, cameras if cameras.is_file() else None
            ),
        ),
        ("ssp3d_sample", [], lambda: load_ssp3d_sample(root / "photos")),
        ("spin_sample", [], lambda: load_spin_sample(root / "photos")),
    ]
    items: list[EvalItem] = []
    for name, needed, load in parts:
        missing = [str(p) for p in needed if not p.is_file()]
        if missing:
            logger.warning("real suite: skipping %s, missing %s", name, ", ".join(missing))
            continue
        if name == "h36m" and not cameras.is_file():
            logger.warning("real suite: %s missing; h36m items have no camera", cameras)
        try:
            loaded = load()
        except FileNotFoundError as exc:
            logger.warning("real suite: skipping %s (%s)", name, exc)
            continue
        part = loaded if isinstance(loaded, list) else [loaded]
        logger.info("real suite: %s, %d items", name, len(part))
        items += part
    if include_unlabelled:
        items += _unlabelled_photos(root / "photos", {i.image_path for i in items})
    return items


def _unlabelled_photos(photos: Path, used: set[Path]) -> list[EvalItem]:
    if not photos.is_dir():
        return []
    out = []
    for p in sorted(photos.iterdir()):
        if p.suffix.lower() not in _IMAGE_SUFFIXES or p in used or p.stem.endswith("_mask"):
            continue
        out.append(
            EvalItem(
                image_path=p,
                name=f"photos/{p.stem}",
                dataset="photos",
                image_size=read_image_size(p),
            )
        )
    return out
