"""Per-person prediction results and the files users get: ``.npz``, ``.json``, ``.obj``, ``.ply``.

Camera model of saved results: a pinhole camera at the origin (OpenCV axes: x right, y down,
z forward) with focal length ``focal_length`` pixels and principal point at the image centre.
Vertices and 3D joints are in that camera frame (metres), so projecting them with the saved
intrinsics lands on the photo. The regressor's weak-perspective camera (``cam_weak``: s, tx, ty
in crop NDC) and the crop box are saved too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class PersonResult:
    """Everything lasor knows about one person in one photo (numpy, float32 unless noted).

    Attributes:
        image: source image path. person: index of the person in that image.
        body_model: e.g. "anny". body_model_version: e.g. "anny-0.6.2/anny".
        pose_bones: bone names of ``body_pose_*``. shape_names: names of ``shape``.
        global_orient_rotmat (3, 3), global_orient_aa (3,): root rotation, camera frame.
        body_pose_rotmat (P, 3, 3), body_pose_aa (P, 3): per-bone rotations.
        shape (S,). cam_weak (3,). crop_box (4,) x0, y0, x1, y1 source pixels.
        focal_length: pixels. principal_point (2,). cam_t (3,) body pelvis in the camera frame.
        vertices (V, 3), faces (F, 3) int32: camera frame.
        joints3d_coco (17, 3), joints3d_h36m (17, 3): camera frame.
        joints2d_coco (17, 2): projected model keypoints, source-image pixels.
        observed_keypoints (17, 2), observed_confidence (17,): the front end's 2D joints.
        bbox (4,): the person's box (x0, y0, x1, y1) from the front end.
        frontend: which front end produced the observation.
        height_m, age_years, chest_circumference_m, waist_circumference_m,
        hip_circumference_m, inseam_m, arm_length_m, shoulder_width_m: the body's size on its
            unposed mesh (`lasor.body.measure`; metres, Anny's age in years; NaN where the
            body model lacks the landmarks), already multiplied by ``scale``.
        scale: the factor applied to the body model's own size (1 unless a height was given);
            vertices, joints and ``cam_t`` are scaled by it about the camera centre, which keeps
            every projection.
        scale_source: "height_given" (the user's height fixed the scale: ``cam_t`` is metric)
            or "body_model" (the estimated shape's own size, a monocular guess).
    """

    image: str
    person: int
    body_model: str
    body_model_version: str
    pose_bones: list[str]
    shape_names: list[str]
    global_orient_rotmat: np.ndarray
    global_orient_aa: np.ndarray
    body_pose_rotmat: np.ndarray
    body_pose_aa: np.ndarray
    shape: np.ndarray
    cam_weak: np.ndarray
    crop_box: np.ndarray
    focal_length: float
    principal_point: np.ndarray
    cam_t: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    joints3d_coco: np.ndarray
    joints3d_h36m: np.ndarray
    joints2d_coco: np.ndarray
    observed_keypoints: np.ndarray
    observed_confidence: np.ndarray
    bbox: np.ndarray
    frontend: str
    extra: dict = field(default_factory=dict)
    height_m: float = float("nan")
    age_years: float = float("nan")
    chest_circumference_m: float = float("nan")
    waist_circumference_m: float = float("nan")
    hip_circumference_m: float = float("nan")
    inseam_m: float = float("nan")
    arm_length_m: float = float("nan")
    shoulder_width_m: float = float("nan")
    scale: float = 1.0
    scale_source: str = "body_model"

    def arrays(self, with_mesh: bool = True) -> dict[str, np.ndarray]:
        """Plain arrays (strings as unicode arrays: loadable with ``allow_pickle=False``)."""
        out: dict[str, np.ndarray] = {}
        for k, v in self.__dict__.items():
            if k == "extra" or (not with_mesh and k in ("vertices", "faces")):
                continue
            if isinstance(v, np.ndarray):
                out[k] = v
            elif isinstance(v, list):
                out[k] = np.asarray(v, dtype=np.str_)
            elif isinstance(v, str):
                out[k] = np.asarray(v, dtype=np.str_)
            else:
                out[k] = np.asarray(v)
        return out


def save_npz(path: str | Path, result: PersonResult) -> Path:
    """Write all arrays, without pickle."""
    from lasor.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.savez(tmp, **result.arrays(with_mesh=True))
    return Path(path)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read a result ``.npz`` (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_json(path: str | Path, result: PersonResult) -> Path:
    """Write the result without the mesh as readable JSON (lists of floats, 6 decimals)."""

    def conv(v):
        if isinstance(v, np.ndarray):
            if v.dtype.kind in "US":
                return v.tolist()
            if v.ndim == 0 and np.isnan(v):
                return None  # e.g. a measurement the body model cannot take: JSON null
            return np.round(v.astype(np.float64), 6).tolist()
        return v

    data = {k: conv(v) for k, v in result.arrays(with_mesh=False).items()}
    data["extra"] = result.extra
    from lasor.io.atomic import write_text

    write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return Path(path)
