"""Evaluation data: one item type (`EvalItem`) for every ground truth lasor is measured against.

Loaders live in two sibling modules and are re-exported here (lazily, so importing this module
never imports torch or reads files):

* `lasor.eval.datasets_real`: the small real-photo suite in ``../shared/data/real`` (COCO,
  OCHuman, MPII, Human3.6M frames, an SSP-3D-style sample, the SPIN demo image):
  ``load_coco_gt``, ``load_mpii_gt``, ``load_h36m_gt``, ``load_h36m_cameras``,
  ``load_ssp3d_sample``, ``load_spin_sample``, ``load_real_suite``.
* `lasor.eval.datasets_3dpw_ssp3d`: the full 3DPW and SSP-3D datasets for users who have them
  (``ThreeDPW``, ``SSP3D``, ``smpl_ground_truth``); their 3D ground truth is built with the
  user's gendered SMPL model files.

This module holds what they share: `EvalItem`, `CameraIntrinsics`, the MPII-16 joint set and the
maps that pair our COCO-17 predictions with MPII-16 / Human3.6M-17 ground truth
(`match_keypoints`), `gt_observation` (ground truth as front-end input), and readers for pickles
and ``.npz`` files that never execute code from the file (`read_pickle`, `read_npz`) and for image
sizes (`read_image_size`).

Pixel coordinates are returned as stored by each dataset (after the documented index-base
conversions); image-space quantities are in original-image pixels.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from lasor.body.joints import COCO17_JOINTS, H36M_JOINTS
from lasor.frontend.types import FrontendError, PersonObservation, bbox_from_observation

if TYPE_CHECKING:  # served lazily by __getattr__ below
    from lasor.eval.datasets_3dpw_ssp3d import SSP3D, ThreeDPW, smpl_ground_truth
    from lasor.eval.datasets_real import (
        load_coco_gt,
        load_h36m_cameras,
        load_h36m_gt,
        load_mpii_gt,
        load_real_suite,
        load_spin_sample,
        load_ssp3d_sample,
    )

logger = logging.getLogger(__name__)

__all__ = [
    "COCO_FROM_H36M",
    "COCO_FROM_MPII",
    "H36M_FROM_COCO",
    "KEYPOINT_NAMES",
    "MPII16_JOINTS",
    "MPII_FROM_COCO",
    "CameraIntrinsics",
    "EvalItem",
    "KeypointFormat",
    "KeypointMatch",
    "gt_observation",
    "match_keypoints",
    "read_image_size",
    "read_npz",
    "read_pickle",
    # re-exported lazily from the loader modules
    "SSP3D",
    "ThreeDPW",
    "load_coco_gt",
    "load_h36m_cameras",
    "load_h36m_gt",
    "load_mpii_gt",
    "load_real_suite",
    "load_spin_sample",
    "load_ssp3d_sample",
    "smpl_ground_truth",
]

KeypointFormat = Literal["coco17", "mpii16", "h36m17"]

#: MPII's 16 joints, in the order of the MPII annotations (left/right are the person's own).
MPII16_JOINTS: list[str] = [
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
]  # fmt: skip

#: Joint names of each keypoint format.
KEYPOINT_NAMES: dict[str, list[str]] = {
    "coco17": COCO17_JOINTS,
    "mpii16": MPII16_JOINTS,
    "h36m17": H36M_JOINTS,
}

#: MPII-16 joints that have a COCO-17 counterpart: ``{mpii index: coco index}``. These are the
#: 12 limb joints (ankles, knees, hips, wrists, elbows, shoulders). MPII's pelvis, thorax,
#: upper neck and head top have no COCO keypoint and are left out of PCK against MPII. Caveat:
#: MPII marks hips at the hip joint, COCO annotators a little wider and lower, so hip errors carry
#: a few pixels of definition offset.
MPII_FROM_COCO: dict[int, int] = {
    0: 16, 1: 14, 2: 12, 3: 11, 4: 13, 5: 15,
    10: 10, 11: 8, 12: 6, 13: 5, 14: 7, 15: 9,
}  # fmt: skip

#: Human3.6M-17 joints with a COCO-17 counterpart: ``{h36m index: coco index}`` (the same 12 limb
#: joints). H36M's hips are skeleton hip joints (level with its pelvis), not COCO's surface hips.
H36M_FROM_COCO: dict[int, int] = {
    1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15,
    11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10,
}  # fmt: skip

#: Inverses: ``{coco index: mpii index}`` and ``{coco index: h36m index}``.
COCO_FROM_MPII: dict[int, int] = {c: m for m, c in MPII_FROM_COCO.items()}
COCO_FROM_H36M: dict[int, int] = {c: h for h, c in H36M_FROM_COCO.items()}

_FROM_COCO: dict[str, dict[int, int]] = {
    "coco17": {i: i for i in range(len(COCO17_JOINTS))},
    "mpii16": MPII_FROM_COCO,
    "h36m17": H36M_FROM_COCO,
}


# ------------------------------------------------------------------------------------------------
# Item types


@dataclass
class CameraIntrinsics:
    """A pinhole camera with optional lens distortion (the Human3.6M model).

    Attributes:
        focal: (2,) float64 fx, fy in pixels.
        principal_point: (2,) float64 cx, cy in pixels.
        radial: (3,) float64 k1, k2, k3, or None (no distortion).
        tangential: (2,) float64 p1, p2, or None.
        image_size: (H, W) the camera's nominal image size, or None.
    """

    focal: np.ndarray
    principal_point: np.ndarray
    radial: np.ndarray | None = None
    tangential: np.ndarray | None = None
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.focal = np.array(self.focal, dtype=np.float64).reshape(2)
        self.principal_point = np.array(self.principal_point, dtype=np.float64).reshape(2)
        if self.radial is not None:
            self.radial = np.array(self.radial, dtype=np.float64).reshape(3)
        if self.tangential is not None:
            self.tangential = np.array(self.tangential, dtype=np.float64).reshape(2)
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))

    @classmethod
    def from_matrix(
        cls, K: np.ndarray, image_size: tuple[int, int] | None = None
    ) -> CameraIntrinsics:
        """From a (3, 3) calibration matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``."""
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3):
            raise ValueError(f"K must be (3, 3), got {K.shape}")
        return cls(focal=K[[0, 1], [0, 1]], principal_point=K[:2, 2], image_size=image_size)

    @property
    def K(self) -> np.ndarray:
        """(3, 3) float64 calibration matrix (distortion not included)."""
        return np.array(
            [
                [self.focal[0], 0.0, self.principal_point[0]],
                [0.0, self.focal[1], self.principal_point[1]],
                [0.0, 0.0, 1.0],
            ]
        )

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project camera-frame points to pixels, distortion included.

        Distortion follows Human3.6M's own camera model (its ``ProjectPointRadial``): with
        ``x, y = X / Z, Y / Z`` and ``r2 = x^2 + y^2``, ``d = 1 + k1 r2 + k2 r2^2 + k3 r2^3 +
        p1 y + p2 x`` and ``(x', y') = (x d + p2 r2, y d + p1 r2)``; then ``u = fx x' + cx``.
        (This is not OpenCV's tangential model.) It reproduces the stored 2D joints of the
        Human3.6M sample from its 3D joints to 1e-4 px.

        Args:
            points: (..., 3) camera frame (x right, y down, z forward), any length unit.

        Returns:
            (..., 2) float64 pixels.
        """
        p = np.asarray(points, dtype=np.float64)
        xy = p[..., :2] / p[..., 2:3]
        if self.radial is not None or self.tangential is not None:
            k = self.radial if self.radial is not None else np.zeros(3)
            t = self.tangential if self.tangential is not None else np.zeros(2)
            r2 = (xy**2).sum(-1, keepdims=True)
            d = 1.0 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
            d = d + t[0] * xy[..., 1:2] + t[1] * xy[..., 0:1]
            xy = xy * d + r2 * t[::-1]
        return xy * self.focal + self.principal_point


@dataclass
class EvalItem:
    """One person in one image with whatever ground truth the dataset has.

    Attributes:
        image_path: the photo.
        name: unique name within its dataset, e.g. ``"coco/000000000785/442619"``.
        dataset: ``"coco"``, ``"ochuman"``, ``"mpii"``, ``"h36m"``, ``"ssp3d"``, ``"3dpw"``, ...
        keypoint_format: joint order of ``gt_keypoints``: ``"coco17"``
            (`lasor.body.joints.COCO17_JOINTS`), ``"mpii16"`` (`MPII16_JOINTS`) or ``"h36m17"``
            (`lasor.body.joints.H36M_JOINTS`).
        bbox: (4,) float32 x0, y0, x1, y1 pixels, or None.
        gt_keypoints: (K, 2) float32 pixels in ``keypoint_format`` order, or None. Unlabelled
            keypoints hold (0, 0).
        gt_visible: (K,) bool, True where the keypoint is labelled (and may be scored), or None.
        gt_mask: (H, W) bool silhouette of this person, or None.
        gt_joints3d: (17, 3) float32 Human3.6M-17 joints, metres, camera frame (x right, y down,
            z forward), or None.
        gt_vertices: (V, 3) float32 posed body-model vertices, metres, camera frame, or None.
        gt_tpose_vertices: (V, 3) float32 body-model vertices in the zero pose with the ground
            truth shape (for PVE-T-SC), metres, body frame, or None.
        camera: intrinsics of the photo, or None when unknown.
        image_size: (H, W) of the photo, or None when not read.
        extra: dataset-specific fields (documented by each loader).
    """

    image_path: Path
    name: str
    dataset: str
    keypoint_format: KeypointFormat = "coco17"
    bbox: np.ndarray | None = None
    gt_keypoints: np.ndarray | None = None
    gt_visible: np.ndarray | None = None
    gt_mask: np.ndarray | None = None
    gt_joints3d: np.ndarray | None = None
    gt_vertices: np.ndarray | None = None
    gt_tpose_vertices: np.ndarray | None = None
    camera: CameraIntrinsics | None = None
    image_size: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.image_path = Path(self.image_path)
        if self.keypoint_format not in KEYPOINT_NAMES:
            raise ValueError(
                f"keypoint_format must be one of {list(KEYPOINT_NAMES)}, got "
                f"{self.keypoint_format!r}"
            )
        k = len(KEYPOINT_NAMES[self.keypoint_format])
        if self.bbox is not None:
            self.bbox = _array(self.bbox, np.float32, (4,), "bbox")
        if self.gt_keypoints is not None:
            self.gt_keypoints = _array(self.gt_keypoints, np.float32, (k, 2), "gt_keypoints")
        if self.gt_visible is not None:
            self.gt_visible = _array(self.gt_visible, bool, (k,), "gt_visible")
        if self.gt_keypoints is not None and self.gt_visible is None:
            self.gt_visible = np.ones(k, dtype=bool)
        if self.gt_mask is not None:
            self.gt_mask = np.array(self.gt_mask, dtype=bool, copy=True)
            if self.gt_mask.ndim != 2:
                raise ValueError(f"gt_mask must be (H, W), got {self.gt_mask.shape}")
            if self.image_size is None:
                self.image_size = self.gt_mask.shape
        if self.gt_joints3d is not None:
            self.gt_joints3d = _array(self.gt_joints3d, np.float32, (17, 3), "gt_joints3d")
        for name in ("gt_vertices", "gt_tpose_vertices"):
            value = getattr(self, name)
            if value is not None:
                value = np.array(value, dtype=np.float32, copy=True)
                if value.ndim != 2 or value.shape[1] != 3:
                    raise ValueError(f"{name} must be (V, 3), got {value.shape}")
                setattr(self, name, value)
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
            if self.gt_mask is not None and self.gt_mask.shape != self.image_size:
                raise ValueError(
                    f"gt_mask is {self.gt_mask.shape} but image_size is {self.image_size}"
                )

    @property
    def num_visible(self) -> int:
        """Number of labelled ground-truth keypoints (0 without keypoints)."""
        return 0 if self.gt_visible is None else int(self.gt_visible.sum())


def _array(value: Any, dtype: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    out = np.array(value, dtype=dtype, copy=True)
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    return out


# ------------------------------------------------------------------------------------------------
# Comparing COCO-17 predictions with any ground-truth format


@dataclass
class KeypointMatch:
    """Predicted and ground-truth keypoints restricted to the joints both formats share.

    Attributes:
        pred: (J, 2) float32 predicted keypoints, pixels.
        gt: (J, 2) float32 ground-truth keypoints, pixels.
        visible: (J,) bool, ground truth labelled.
        names: J joint names (COCO-17 names).
        gt_indices: (J,) int64 indices into the item's ``gt_keypoints``.
    """

    pred: np.ndarray
    gt: np.ndarray
    visible: np.ndarray
    names: list[str]
    gt_indices: np.ndarray


def match_keypoints(pred_coco17: np.ndarray, item: EvalItem) -> KeypointMatch:
    """Pair COCO-17 predictions with an item's ground truth for PCK (`lasor.eval.metrics.pck`).

    COCO-17 ground truth: all 17 keypoints. MPII-16 and Human3.6M-17 ground truth: the 12 limb
    joints they share with COCO (`MPII_FROM_COCO`, `H36M_FROM_COCO`), in the ground truth's
    order.

    Args:
        pred_coco17: (17, 2) predicted keypoints in COCO-17 order, pixels.
        item: an item with ``gt_keypoints``.

    Returns:
        KeypointMatch.

    Raises:
        ValueError: the item has no 2D keypoints, or ``pred_coco17`` is not (17, 2).
    """
    pred = np.asarray(pred_coco17, dtype=np.float32)
    if pred.shape != (len(COCO17_JOINTS), 2):
        raise ValueError(f"pred_coco17 must be (17, 2), got {pred.shape}")
    if item.gt_keypoints is None:
        raise ValueError(f"{item.name} has no ground-truth 2D keypoints")
    pairs = sorted(_FROM_COCO[item.keypoint_format].items())
    gt_idx = np.array([g for g, _ in pairs], dtype=np.int64)
    coco_idx = np.array([c for _, c in pairs], dtype=np.int64)
    visible = item.gt_visible if item.gt_visible is not None else np.ones(len(gt_idx), bool)
    return KeypointMatch(
        pred=pred[coco_idx].copy(),
        gt=item.gt_keypoints[gt_idx].copy(),
        visible=np.asarray(visible, dtype=bool)[gt_idx].copy(),
        names=[COCO17_JOINTS[c] for c in coco_idx],
        gt_indices=gt_idx,
    )


def gt_observation(item: EvalItem, source: str | None = None) -> PersonObservation | None:
    """The item's ground-truth 2D keypoints and mask as front-end input (an oracle front end).

    Keypoints are mapped to COCO-17 (MPII-16 / H36M-17 items fill the 12 shared joints, the
    rest get confidence 0). Confidence is 1 for labelled keypoints, except when the "ground
    truth" came from a detector (``extra["keypoint_confidence"]``, e.g. OpenPose), whose scores
    clipped to [0, 1] are used. The box is ``item.bbox``, or the tight box of keypoints and mask.

    Args:
        item: an evaluation item.
        source: ``PersonObservation.source``; defaults to ``"gt:<dataset>/<name>"``.

    Returns:
        PersonObservation, or None when the item has neither keypoints nor a mask.
    """
    n = len(COCO17_JOINTS)
    keypoints = np.zeros((n, 2), dtype=np.float32)
    confidence = np.zeros(n, dtype=np.float32)
    if item.gt_keypoints is not None:
        visible = (
            item.gt_visible if item.gt_visible is not None else np.ones(len(item.gt_keypoints))
        )
        score = item.extra.get("keypoint_confidence")
        score = (
            np.clip(np.asarray(score, dtype=np.float32), 0.0, 1.0) if score is not None else None
        )
        for g, c in _FROM_COCO[item.keypoint_format].items():
            if visible[g]:
                keypoints[c] = item.gt_keypoints[g]
                confidence[c] = 1.0 if score is None else score[g]
    if not (confidence > 0).any() and item.gt_mask is None:
        return None
    bbox = item.bbox
    if bbox is None:
        bbox = bbox_from_observation(keypoints, confidence, item.gt_mask)
        if bbox is None:
            return None
    return PersonObservation(
        keypoints=keypoints,
        confidence=confidence,
        bbox=bbox,
        mask=item.gt_mask,
        source=source or f"gt:{item.dataset}/{item.name}",
    )


# ------------------------------------------------------------------------------------------------
# Reading files


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(H, W) of an image from its header, after EXIF rotation (as `load_image` returns it).

    Raises:
        FileNotFoundError: no such file.
        FrontendError: not a readable image.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such image file")
    try:
        with Image.open(p) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError) as exc:
        raise FrontendError(p, f"cannot be read as an image ({exc})") from exc
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def _numpy_module(module: str) -> str:
    """Map the numpy module names of old pickles to the current ones."""
    if module.startswith("numpy.core") and hasattr(np, "_core"):
        return "numpy._core" + module[len("numpy.core") :]
    return module


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_ALLOWED: dict[str, set[str]] = {
    "numpy": {"ndarray", "dtype"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.numeric": {"_frombuffer"},
    "numpy.core.numeric": {"_frombuffer"},
    "builtins": {"set", "frozenset", "list", "dict", "tuple", "complex", "slice", "bytearray"},
    "_codecs": {"encode"},
    "copyreg": {"_reconstructor"},
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays, dtypes, scalars and builtin containers."""

    def __init__(self, file: Any, path: str, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if name in _ALLOWED.get(module, ()) or (
            module == "numpy.dtypes" and name.endswith("DType")
        ):
            return super().find_class(_numpy_module(module), name)
        raise pickle.UnpicklingError(
            f"{self._path}: refusing to load {module}.{name}; only numpy arrays and builtin "
            "containers are accepted in dataset pickles"
        )


def read_pickle(path: str | os.PathLike[str], encoding: str = "latin1") -> Any:
    """Load a pickle of numpy arrays / builtin containers without executing code from it.

    Python-2 pickles (3DPW's sequence files) need ``encoding="latin1"`` (the default) so their
    numpy byte strings decode. Anything but numpy arrays, dtypes, scalars, strings, numbers and
    builtin containers is refused.

    Args:
        path: the pickle file.
        encoding: how Python-2 ``str`` objects are decoded.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: no such file.
        pickle.UnpicklingError: the file holds other object types or is not a pickle.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    with p.open("rb") as fh:
        try:
            return _ArrayUnpickler(fh, str(p), encoding=encoding).load()
        except (EOFError, ValueError, TypeError) as exc:
            raise pickle.UnpicklingError(f"{p}: not a readable pickle ({exc})") from exc


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file; object arrays go through `read_pickle`'s rules.

    Plain arrays (numbers, fixed-width strings) are read as by ``np.load(allow_pickle=False)``;
    object arrays (e.g. lists of file names saved as ``dtype=object``) are unpickled with the
    same restrictions as `read_pickle`, so no code from the file runs.

    Args:
        path: the ``.npz`` file.

    Returns:
        ``{name: array}`` in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an ``.npz`` file or an unreadable member.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    out: dict[str, np.ndarray] = {}
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{p}: not an .npz (zip) file") from exc
    with zf:
        for member in zf.namelist():
            key = member[:-4] if member.endswith(".npy") else member
            data = zf.read(member)
            try:
                out[key] = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
            except ValueError:
                out[key] = _read_object_npy(data, p, key)
    return out


def _read_object_npy(data: bytes, path: Path, key: str) -> np.ndarray:
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            _, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise ValueError(f"{path}: member {key!r} is not a readable .npy array ({exc})") from exc
    if not dtype.hasobject:
        raise ValueError(f"{path}: member {key!r} could not be read")
    try:
        arr = _ArrayUnpickler(fh, f"{path}[{key}]", encoding="latin1").load()
    except (EOFError, TypeError) as exc:
        raise ValueError(f"{path}: member {key!r} is not a readable object array ({exc})") from exc
    return np.asarray(arr)


# ------------------------------------------------------------------------------------------------
# Lazy re-exports (PEP 562): the loaders import torch / read files only when used.

_LAZY = {
    "load_coco_gt": "lasor.eval.datasets_real",
    "load_h36m_cameras": "lasor.eval.datasets_real",
    "load_h36m_gt": "lasor.eval.datasets_real",
    "load_mpii_gt": "lasor.eval.datasets_real",
    "load_real_suite": "lasor.eval.datasets_real",
    "load_spin_sample": "lasor.eval.datasets_real",
    "load_ssp3d_sample": "lasor.eval.datasets_real",
    "SSP3D": "lasor.eval.datasets_3dpw_ssp3d",
    "ThreeDPW": "lasor.eval.datasets_3dpw_ssp3d",
    "smpl_ground_truth": "lasor.eval.datasets_3dpw_ssp3d",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
