"""3DPW and SSP-3D for users who have them, with 3D ground truth from their gendered SMPL models.

Neither dataset nor SMPL ships with lasor. Both loaders need a folder with the male and female
SMPL model files (``SMPL_MALE.pkl`` / ``SMPL_FEMALE.pkl`` or the official
``basicmodel_{m,f}_lbs_10_207_0_v1.*.pkl``; ``.npz`` works too, see `lasor.body.smpl`).

Coordinates: SMPL parameters in both datasets are those of the original SMPL code, whose output
is *not* centred on the pelvis; lasor's `SMPLBody` re-centres on the pelvis, so
`smpl_ground_truth` adds the shaped rest pelvis back before applying the dataset's translation
and camera. Ground-truth 3D joints are lasor's Human3.6M-17 joints of the SMPL mesh
(``SMPLBody.joints_h36m``), the same definition lasor's predictions use; they are not the
``J_regressor_h36m`` joints of published 3DPW numbers, so absolute MPJPE is comparable between
lasor runs, not digit-for-digit with papers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lasor.body.rotations import axis_angle_to_rotmat
from lasor.body.smpl import SMPL_URL, SMPLBody, find_smpl_file, load_smpl
from lasor.eval.datasets import (
    CameraIntrinsics,
    EvalItem,
    read_image_size,
    read_npz,
    read_pickle,
)
from lasor.frontend.files import COCO18_TO_COCO17, read_mask
from lasor.frontend.types import bbox_from_observation

logger = logging.getLogger(__name__)

__all__ = ["SMPLGroundTruth", "SSP3D", "ThreeDPW", "smpl_ground_truth"]

PathLike = str | os.PathLike[str]
SMPLSource = PathLike | Mapping[str, PathLike]

_GENDERS = {"m": "male", "f": "female", "male": "male", "female": "female"}


# ------------------------------------------------------------------------------------------------
# SMPL ground truth


@dataclass
class SMPLGroundTruth:
    """SMPL posed with a dataset's parameters, in the dataset's frame.

    Attributes:
        vertices: (B, 6890, 3) float32, metres.
        joints: (B, 24, 3) float32 SMPL joints (`lasor.body.smpl.SMPL_JOINT_NAMES`).
        joints_h36m: (B, 17, 3) float32 Human3.6M-17 joints (`lasor.body.joints.H36M_JOINTS`).
    """

    vertices: np.ndarray
    joints: np.ndarray
    joints_h36m: np.ndarray


def _betas(betas: Any, batch: int, num: int) -> np.ndarray:
    b = np.array(betas, dtype=np.float64).reshape(batch, -1)  # a writable copy
    if b.shape[1] >= num:
        return b[:, :num]
    return np.concatenate([b, np.zeros((batch, num - b.shape[1]))], axis=1)


def smpl_ground_truth(
    body: SMPLBody,
    pose_aa: Any,
    betas: Any,
    trans: Any | None = None,
    cam_pose: Any | None = None,
) -> SMPLGroundTruth:
    """Pose SMPL as the original SMPL code does, then translate and move into a camera frame.

    ``X = SMPL(pose, betas) + trans`` with SMPL's native (un-centred) output, i.e. lasor's
    pelvis-centred output plus the shaped rest pelvis ``J_regressor[0] @ v_shaped``; then, with
    ``cam_pose`` = [[R, t], [0, 1]] (world to camera), ``X_cam = R X + t``.

    Args:
        body: a loaded SMPL model (`lasor.body.smpl.load_smpl`), of the right gender.
        pose_aa: (B, 72) axis-angle SMPL pose (global orientation first).
        betas: (B, S) or (S,) shape coefficients (truncated / zero-padded to the model's).
        trans: (B, 3) translation, or None.
        cam_pose: (B, 4, 4) or (4, 4) world-to-camera extrinsics, or None.

    Returns:
        SMPLGroundTruth.
    """
    pose = np.asarray(pose_aa, dtype=np.float64).reshape(-1, 24, 3)
    batch = pose.shape[0]
    dtype = body.v_template.dtype
    shape = torch.as_tensor(_betas(betas, batch, body.num_shape), dtype=dtype)
    rot = axis_angle_to_rotmat(torch.as_tensor(pose)).to(dtype)
    with torch.no_grad():
        out = body(rot[:, 0], rot[:, 1:], shape)
        v_shaped = body.v_template + (shape @ body.shapedirs).view(batch, -1, 3)
        pelvis = torch.einsum("v,bvc->bc", body.J_regressor[0], v_shaped)
    offset = pelvis.double().numpy()[:, None]
    if trans is not None:
        offset = offset + np.asarray(trans, dtype=np.float64).reshape(batch, 1, 3)
    pts = [x.double().numpy() + offset for x in (out.vertices, out.joints, out.joints_h36m)]
    if cam_pose is not None:
        cam = np.broadcast_to(np.asarray(cam_pose, dtype=np.float64), (batch, 4, 4))
        rot_c, t_c = cam[:, :3, :3], cam[:, None, :3, 3]
        pts = [p @ rot_c.transpose(0, 2, 1) + t_c for p in pts]
    v, j, h = (p.astype(np.float32) for p in pts)
    return SMPLGroundTruth(vertices=v, joints=j, joints_h36m=h)


def _tpose_vertices(body: SMPLBody, betas: Any) -> np.ndarray:
    """(V, 3) float32 zero-pose vertices with the given betas (pelvis at the origin)."""
    dtype = body.v_template.dtype
    eye = torch.eye(3, dtype=dtype)
    shape = torch.as_tensor(_betas(betas, 1, body.num_shape), dtype=dtype)
    with torch.no_grad():
        out = body(eye[None], eye.expand(1, 23, 3, 3), shape)
    return out.vertices[0].numpy().astype(np.float32)


class _GenderedSMPL:
    """Male and female SMPL models, resolved at construction, loaded on first use."""

    def __init__(self, smpl_dir: SMPLSource | None, dataset: str) -> None:
        names = (
            "SMPL_MALE.pkl and SMPL_FEMALE.pkl (or the official basicmodel_m_lbs_10_207_0_v1.*.pkl "
            "and basicmodel_f_lbs_10_207_0_v1.*.pkl; .npz with the same keys also works)"
        )
        hint = f"SMPL is not distributed with lasor: register at {SMPL_URL} to download it."
        if smpl_dir is None:
            raise FileNotFoundError(
                f"{dataset} ground truth needs the gendered SMPL models: pass smpl_dir=<folder> "
                f"holding {names}. {hint}"
            )
        self.paths: dict[str, Path] = {}
        errors = []
        for gender in ("male", "female"):
            try:
                if isinstance(smpl_dir, Mapping):
                    if gender not in smpl_dir:
                        raise FileNotFoundError(f"no {gender!r} entry in smpl_dir")
                    path = Path(smpl_dir[gender])
                    if not path.is_file():
                        raise FileNotFoundError(f"{gender} SMPL model file {path} does not exist")
                    self.paths[gender] = path
                else:
                    if Path(smpl_dir).is_file():
                        raise FileNotFoundError(
                            f"{smpl_dir} is a single file; a folder with both genders is needed"
                        )
                    self.paths[gender] = find_smpl_file(smpl_dir, gender)
            except FileNotFoundError as exc:
                errors.append(str(exc))
        if errors:
            raise FileNotFoundError(
                f"{dataset} ground truth needs the male and female SMPL models ({names}): "
                + " | ".join(errors)
            )
        self._models: dict[str, SMPLBody] = {}

    def __getitem__(self, gender: str) -> SMPLBody:
        if gender not in self._models:
            self._models[gender] = load_smpl(self.paths[gender], gender)
        return self._models[gender]


def _gender(value: Any, where: str) -> str:
    g = value.decode("latin1") if isinstance(value, bytes) else str(value)
    if g.strip().lower() not in _GENDERS:
        raise ValueError(f"{where}: gender {g!r}; expected 'm' / 'f' (or 'male' / 'female')")
    return _GENDERS[g.strip().lower()]


# ------------------------------------------------------------------------------------------------
# 3DPW

_3DPW_URL = "https://virtualhumans.mpi-inf.mpg.de/3DPW/"
_3DPW_REQUIRED = (
    "genders", "poses", "betas", "trans", "cam_poses", "cam_intrinsics", "campose_valid",
)  # fmt: skip


@dataclass
class _Sequence:
    name: str
    genders: list[str]
    poses: list[np.ndarray]  # per person (N, 72)
    betas: list[np.ndarray]  # per person (10,) or (N, 10)
    trans: list[np.ndarray]  # per person (N, 3)
    valid: list[np.ndarray]  # per person (N,) bool
    poses2d: list[np.ndarray] | None  # per person (N, 3, 18)
    cam_poses: np.ndarray  # (N, 4, 4)
    intrinsics: np.ndarray  # (3, 3)
    img_frame_ids: np.ndarray | None


def _per_person(value: Any, people: int, key: str, path: Path, ndim: int) -> list[np.ndarray]:
    """One array per person from a list (the official layout) or a stacked / single array."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.ndim == ndim and people == 1:
            return [value]
        if value.ndim == ndim + 1:
            return list(value)
        raise ValueError(
            f"{path}: {key} has shape {value.shape}; expected a list of {people} per-person arrays"
        )
    if isinstance(value, (list, tuple, np.ndarray)):
        return [np.asarray(v) for v in value]
    raise ValueError(f"{path}: {key} must be a list with one array per person")


def _read_3dpw_sequence(path: Path) -> _Sequence:
    data = read_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict (a 3DPW sequence file)")
    missing = [k for k in _3DPW_REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path}: not a 3DPW sequence file, missing keys {missing}")
    genders = [_gender(g, f"{path} genders") for g in data["genders"]]
    people = len(genders)
    cam_poses = np.asarray(data["cam_poses"], dtype=np.float64)
    if cam_poses.ndim != 3 or cam_poses.shape[1:] != (4, 4):
        raise ValueError(f"{path}: cam_poses has shape {cam_poses.shape}, expected (N, 4, 4)")
    n = cam_poses.shape[0]
    intrinsics = np.asarray(data["cam_intrinsics"], dtype=np.float64)
    if intrinsics.shape != (3, 3):
        raise ValueError(f"{path}: cam_intrinsics has shape {intrinsics.shape}, expected (3, 3)")
    fields: dict[str, list[np.ndarray]] = {}
    for key, shape in (("poses", (n, 72)), ("trans", (n, 3)), ("campose_valid", (n,))):
        arrays = _per_person(data[key], people, key, path, len(shape))
        if len(arrays) != people:
            raise ValueError(f"{path}: {key} has {len(arrays)} entries for {people} people")
        for p, a in enumerate(arrays):
            if a.shape != shape:
                raise ValueError(f"{path}: {key}[{p}] has shape {a.shape}, expected {shape}")
        fields[key] = arrays
    raw_betas = data["betas"]
    if isinstance(raw_betas, np.ndarray) and raw_betas.dtype != object:
        if raw_betas.ndim == 1 or (people == 1 and raw_betas.ndim == 2):
            raw_betas = [raw_betas]
    betas = _per_person(raw_betas, people, "betas", path, 1)
    betas = [b[0] if b.ndim == 2 and b.shape[0] == 1 else b for b in betas]
    if len(betas) != people or any(
        b.ndim not in (1, 2) or b.shape[-1] < 1 or (b.ndim == 2 and b.shape[0] != n) for b in betas
    ):
        raise ValueError(f"{path}: betas must hold one (S,) or (N, S) array per person")
    poses2d = None
    if data.get("poses2d") is not None:
        poses2d = _per_person(data["poses2d"], people, "poses2d", path, 3)
        for p, a in enumerate(poses2d):
            if a.shape != (n, 3, 18):
                raise ValueError(f"{path}: poses2d[{p}] has shape {a.shape}, expected ({n}, 3, 18)")
    ids = data.get("img_frame_ids")
    return _Sequence(
        name=str(data.get("sequence", path.stem)),
        genders=genders,
        poses=[a.astype(np.float64) for a in fields["poses"]],
        betas=[np.asarray(b, dtype=np.float64) for b in betas],
        trans=[a.astype(np.float64) for a in fields["trans"]],
        valid=[a.astype(bool) for a in fields["campose_valid"]],
        poses2d=poses2d,
        cam_poses=cam_poses,
        intrinsics=intrinsics,
        img_frame_ids=None if ids is None else np.asarray(ids).reshape(-1),
    )


class ThreeDPW:
    """3DPW (von Marcard et al., ECCV 2018): an iterable of `EvalItem`, one per valid person-frame.

    Expects the official layout under ``root``: ``sequenceFiles/{train,validation,test}/*.pkl``
    (Python-2 pickles, read with `lasor.eval.datasets.read_pickle`, no code executed) and
    ``imageFiles/<sequence>/image_%05d.jpg``. Frames are iterated sequence by sequence, frame by
    frame, person by person, keeping person-frames with ``campose_valid``.

    Items (``dataset="3dpw"``, name ``"3dpw/<sequence>/<frame:05d>/<person>"``):

    * ``gt_vertices`` (6890, 3) and ``gt_joints3d`` (H36M-17): the gendered SMPL with the frame's
      ``poses`` / ``betas`` / ``trans`` (world frame), moved into the camera frame with
      ``cam_poses`` (x right, y down, z forward, metres); see `smpl_ground_truth`.
    * ``gt_keypoints`` / ``gt_visible`` (COCO-17): ``poses2d``, OpenPose COCO-18 *detections*
      shipped with 3DPW (not human labels), mapped to COCO-17; ``gt_visible`` = score > 0;
      ``bbox`` their tight box (None if nothing was detected).
    * ``camera``: ``cam_intrinsics`` (no distortion).
    * ``extra``: ``sequence``, ``frame``, ``person``, ``gender``, ``betas`` (10,), ``pose_aa``
      (72,) world frame, ``trans`` (3,), ``cam_pose`` (4, 4), ``joints_smpl`` (24, 3) camera
      frame, ``keypoint_confidence`` (17,), ``img_frame_id`` (index into the 60 Hz data).

    Args:
        root: the 3DPW folder.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        smpl_dir: folder with the male and female SMPL models, or ``{"male": file, "female":
            file}``.
        check_images: require ``imageFiles/<sequence>/`` for every sequence (set False to read
            ground truth without the images).
        chunk_size: frames posed per SMPL call.

    Raises:
        FileNotFoundError: missing sequence files, image folders or SMPL models (the message
            names what is missing and where to get it).
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "test",
        smpl_dir: SMPLSource | None = None,
        *,
        check_images: bool = True,
        chunk_size: int = 64,
    ) -> None:
        if split not in ("train", "validation", "test"):
            raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
        self.root = Path(root)
        self.split = split
        seq_dir = self.root / "sequenceFiles" / split
        if not seq_dir.is_dir():
            raise FileNotFoundError(
                f"3DPW sequence files not found: {seq_dir} does not exist; expected "
                f"<root>/sequenceFiles/{split}/*.pkl (download 3DPW from {_3DPW_URL})"
            )
        self.files = sorted(seq_dir.glob("*.pkl"))
        if not self.files:
            raise FileNotFoundError(f"3DPW: no *.pkl sequence files in {seq_dir}")
        if check_images:
            missing = [
                f.stem for f in self.files if not (self.root / "imageFiles" / f.stem).is_dir()
            ]
            if missing:
                shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
                raise FileNotFoundError(
                    f"3DPW images not found: {len(missing)} sequence folder(s) missing under "
                    f"{self.root / 'imageFiles'} ({shown}); pass check_images=False to read the "
                    "ground truth without images"
                )
        self._smpl = _GenderedSMPL(smpl_dir, "3DPW")
        self.chunk_size = int(chunk_size)
        self._length: int | None = None

    @property
    def sequences(self) -> list[str]:
        """Sequence names (file stems), in iteration order."""
        return [f.stem for f in self.files]

    def __len__(self) -> int:
        """Number of valid person-frames (reads every sequence file once)."""
        if self._length is None:
            self._length = sum(
                int(sum(v.sum() for v in _read_3dpw_sequence(f).valid)) for f in self.files
            )
        return self._length

    def __iter__(self) -> Iterator[EvalItem]:
        for path in self.files:
            yield from self._sequence_items(path)

    def _sequence_items(self, path: Path) -> Iterator[EvalItem]:
        seq = _read_3dpw_sequence(path)
        n = seq.cam_poses.shape[0]
        image_dir = self.root / "imageFiles" / path.stem
        first = image_dir / "image_00000.jpg"
        size = read_image_size(first) if first.is_file() else None
        camera = CameraIntrinsics.from_matrix(seq.intrinsics, image_size=size)
        logger.info("3DPW %s: %d frames, %d people", seq.name, n, len(seq.genders))
        for start in range(0, n, self.chunk_size):
            frames = np.arange(start, min(start + self.chunk_size, n))
            posed: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
            for p, gender in enumerate(seq.genders):
                idx = frames[seq.valid[p][frames]]
                if len(idx) == 0:
                    continue
                betas = seq.betas[p] if seq.betas[p].ndim == 1 else seq.betas[p][idx]
                gt = smpl_ground_truth(
                    self._smpl[gender],
                    seq.poses[p][idx],
                    np.broadcast_to(betas, (len(idx), betas.shape[-1])),
                    trans=seq.trans[p][idx],
                    cam_pose=seq.cam_poses[idx],
                )
                for k, f in enumerate(idx):
                    posed[(int(f), p)] = (gt.vertices[k], gt.joints[k], gt.joints_h36m[k])
            for f in frames:
                for p in range(len(seq.genders)):
                    if (int(f), p) in posed:
                        yield self._item(
                            seq, int(f), p, posed[(int(f), p)], image_dir, size, camera
                        )

    def _item(
        self,
        seq: _Sequence,
        f: int,
        p: int,
        posed: tuple[np.ndarray, np.ndarray, np.ndarray],
        image_dir: Path,
        size: tuple[int, int] | None,
        camera: CameraIntrinsics,
    ) -> EvalItem:
        vertices, joints, joints_h36m = posed
        keypoints = visible = bbox = conf = None
        if seq.poses2d is not None:
            kp = seq.poses2d[p][f].T[COCO18_TO_COCO17]  # (17, 3) x, y, score
            conf = np.clip(kp[:, 2], 0.0, 1.0).astype(np.float32)
            visible = conf > 0
            keypoints = np.where(visible[:, None], kp[:, :2], 0.0)
            bbox = bbox_from_observation(keypoints, conf)
        betas = seq.betas[p] if seq.betas[p].ndim == 1 else seq.betas[p][f]
        extra: dict[str, Any] = {
            "sequence": seq.name,
            "frame": f,
            "person": p,
            "gender": seq.genders[p],
            "betas": _betas(betas, 1, 10)[0],
            "pose_aa": seq.poses[p][f].copy(),
            "trans": seq.trans[p][f].copy(),
            "cam_pose": seq.cam_poses[f].copy(),
            "joints_smpl": joints.copy(),
        }
        if conf is not None:
            extra["keypoint_confidence"] = conf
            extra["keypoint_source"] = "3DPW poses2d (OpenPose detections, not human labels)"
        if seq.img_frame_ids is not None and f < len(seq.img_frame_ids):
            extra["img_frame_id"] = int(seq.img_frame_ids[f])
        return EvalItem(
            image_path=image_dir / f"image_{f:05d}.jpg",
            name=f"3dpw/{seq.name}/{f:05d}/{p}",
            dataset="3dpw",
            keypoint_format="coco17",
            bbox=bbox,
            gt_keypoints=keypoints,
            gt_visible=visible,
            gt_joints3d=joints_h36m,
            gt_vertices=vertices,
            camera=camera,
            image_size=size,
            extra=extra,
        )


# ------------------------------------------------------------------------------------------------
# SSP-3D

_SSP3D_URL = "https://github.com/akashsengupta1997/SSP-3D"
_SSP3D_KEYS = (
    "fnames", "shapes", "poses", "cam_trans", "genders", "joints2D", "bbox_centres", "bbox_whs",
)  # fmt: skip


class SSP3D:
    """SSP-3D (Sengupta et al., BMVC 2020): 311 sports photos with pseudo-ground-truth SMPL.

    Expects ``root/labels.npz`` (``fnames``, ``shapes`` (N, 10), ``poses`` (N, 72),
    ``cam_trans`` (N, 3), ``genders`` ('m' / 'f'), ``joints2D`` (N, 17, 3), ``bbox_centres``
    (N, 2), ``bbox_whs`` (N,)), ``root/images/<fname>`` and ``root/silhouettes/<fname>`` (PNG
    masks). A sequence of `EvalItem` (``dataset="ssp3d"``, name ``"ssp3d/<fname stem>"``):

    * ``gt_tpose_vertices`` (6890, 3): gendered SMPL, zero pose, the image's ``shapes`` (for
      PVE-T-SC, `lasor.eval.metrics.pve_t_sc`).
    * ``gt_vertices`` / ``gt_joints3d``: gendered SMPL with ``poses``, ``shapes``, plus
      ``cam_trans``, in the camera frame (SSP-3D's camera: focal length 5000 px, principal point
      at the image centre, no rotation; ``camera`` holds it).
    * ``gt_mask``: the silhouette; ``gt_keypoints`` / ``gt_visible`` (COCO-17) from ``joints2D``
      (keypoint detections with scores; visible = score > ``keypoint_threshold``).
    * ``bbox``: SSP-3D's square box; note ``bbox_centres`` are stored as (row, column), i.e.
      (y, x), as in the dataset's own code, and ``bbox_whs`` is the side length.
    * ``extra``: ``fname``, ``gender``, ``betas`` (10,), ``pose_aa`` (72,), ``cam_trans`` (3,),
      ``keypoint_confidence`` (17,) raw scores, ``joints_smpl`` (24, 3) camera frame.

    Args:
        root: the SSP-3D folder.
        smpl_dir: folder with the male and female SMPL models, or ``{"male": file, "female":
            file}``.
        keypoint_threshold: a keypoint counts as visible when its score exceeds this.

    Raises:
        FileNotFoundError: ``labels.npz``, ``images/``, ``silhouettes/`` or the SMPL models are
            missing (named in the message); an item's image or silhouette is missing (raised
            when that item is read).
        ValueError: ``labels.npz`` lacks fields or has inconsistent lengths.
    """

    focal_length: float = 5000.0

    def __init__(
        self,
        root: PathLike,
        smpl_dir: SMPLSource | None = None,
        *,
        keypoint_threshold: float = 0.0,
    ) -> None:
        self.root = Path(root)
        labels = self.root / "labels.npz"
        needed = [labels, self.root / "images", self.root / "silhouettes"]
        missing = [str(p) for p in needed if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"SSP-3D not found: missing {', '.join(missing)}; expected labels.npz, images/ and "
                f"silhouettes/ under {self.root} (download SSP-3D from {_SSP3D_URL})"
            )
        data = read_npz(labels)
        absent = [k for k in _SSP3D_KEYS if k not in data]
        if absent:
            raise ValueError(f"{labels}: missing fields {absent}; expected {list(_SSP3D_KEYS)}")
        n = len(data["fnames"])
        shapes = {
            "shapes": (n, None), "poses": (n, 72), "cam_trans": (n, 3), "genders": (n,),
            "joints2D": (n, 17, 3), "bbox_centres": (n, 2), "bbox_whs": (n,),
        }  # fmt: skip
        for key, shape in shapes.items():
            got = data[key].shape
            if len(got) != len(shape) or any(
                s is not None and g != s for g, s in zip(got, shape, strict=True)
            ):
                raise ValueError(f"{labels}: {key} has shape {got}, expected {shape}")
        self._data = data
        self._smpl = _GenderedSMPL(smpl_dir, "SSP-3D")
        self.keypoint_threshold = float(keypoint_threshold)

    def __len__(self) -> int:
        return len(self._data["fnames"])

    def __iter__(self) -> Iterator[EvalItem]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index: int) -> EvalItem:
        if not -len(self) <= index < len(self):
            raise IndexError(f"SSP-3D index {index} out of range ({len(self)} items)")
        i = index % len(self)
        d = self._data
        fname = str(d["fnames"][i])
        image_path = self.root / "images" / fname
        mask_path = self.root / "silhouettes" / fname
        for p, what in ((image_path, "image"), (mask_path, "silhouette")):
            if not p.is_file():
                raise FileNotFoundError(f"SSP-3D {what} {p} is missing (listed in labels.npz)")
        size = read_image_size(image_path)
        mask = read_mask(mask_path, size, image_path=image_path)
        gender = _gender(d["genders"][i], f"{self.root / 'labels.npz'} item {i}")
        body = self._smpl[gender]
        betas = d["shapes"][i]
        gt = smpl_ground_truth(
            body, d["poses"][i][None], betas[None], trans=d["cam_trans"][i][None]
        )
        kp = np.asarray(d["joints2D"][i], dtype=np.float64)
        score = kp[:, 2].astype(np.float32)
        visible = score > self.keypoint_threshold
        row, col = (float(v) for v in d["bbox_centres"][i])
        half = float(d["bbox_whs"][i]) / 2.0
        camera = CameraIntrinsics(
            focal=(self.focal_length, self.focal_length),
            principal_point=(size[1] / 2.0, size[0] / 2.0),
            image_size=size,
        )
        return EvalItem(
            image_path=image_path,
            name=f"ssp3d/{Path(fname).stem}",
            dataset="ssp3d",
            keypoint_format="coco17",
            bbox=np.array([col - half, row - half, col + half, row + half], dtype=np.float32),
            gt_keypoints=np.where(visible[:, None], kp[:, :2], 0.0),
            gt_visible=visible,
            gt_mask=mask,
            gt_joints3d=gt.joints_h36m[0],
            gt_vertices=gt.vertices[0],
            gt_tpose_vertices=_tpose_vertices(body, betas),
            camera=camera,
            image_size=size,
            extra={
                "fname": fname,
                "gender": gender,
                "betas": _betas(betas, 1, 10)[0],
                "pose_aa": np.asarray(d["poses"][i], dtype=np.float64).copy(),
                "cam_trans": np.asarray(d["cam_trans"][i], dtype=np.float64).copy(),
                "keypoint_confidence": score,
                "joints_smpl": gt.joints[0].copy(),
            },
        )
