"""SMPL body model (Loper et al. 2015) read from a user-supplied model file.

SMPL's data is licensed (https://smpl.is.tue.mpg.de, registration required) and never ships with
lasor. This module reads the official ``.pkl`` files without chumpy (which the official files
reference) and ``.npz`` files with the same keys, and implements the SMPL forward pass in plain
torch: shape blend shapes, joint regression, pose blend shapes, linear blend skinning.

SMPL's frame already is lasor's body frame (metres, Y up, facing +Z, X to the body's left) and its
rest joint frames are world-aligned, so ``body_pose`` is exactly SMPL's local joint rotations.
Outputs are re-centred so that the (rest and posed) pelvis, joint 0, is at the origin.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lasor.body.base import BodyModel, BodyOutput

logger = logging.getLogger(__name__)

__all__ = [
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "SMPLBody",
    "build_smpl_body",
    "find_smpl_file",
    "load_smpl",
    "read_smpl_file",
]

SMPL_URL = "https://smpl.is.tue.mpg.de"

SMPL_JOINT_NAMES: list[str] = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
]  # fmt: skip

#: parent of each SMPL joint (-1 for the root), from the model's kintree_table.
SMPL_PARENTS: list[int] = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
                           20, 21]  # fmt: skip

NUM_VERTICES = 6890
NUM_JOINTS = 24

#: SMPL vertex ids of facial keypoints and the top of the head (facts about SMPL's topology).
VERTEX_IDS: dict[str, int] = {
    "nose": 332, "left_eye": 2800, "right_eye": 6260, "left_ear": 583, "right_ear": 4071,
    "head_top": 411,
}  # fmt: skip

# COCO hips are marked wider apart than SMPL's hip joints (femoral heads, ~12 cm apart): widen
# each hip away from the other by this fraction of the hip-to-hip vector (1.5x the width).
COCO_HIP_WIDEN = 0.25
# Human3.6M hips sit at about SMPL's pelvis height and ~13 cm either side of it (its pelvis is
# their midpoint): h36m_hip = pelvis ± this factor times (left_hip - right_hip).
H36M_HIP_SPREAD = 1.1

_STANDARD_NAMES: dict[str, list[str]] = {
    "neutral": [
        "SMPL_NEUTRAL",
        "basicModel_neutral_lbs_10_207_0_v1.0.0",
        "basicmodel_neutral_lbs_10_207_0_v1.0.0",
        "basicmodel_neutral_lbs_10_207_0_v1.1.0",
    ],
    "male": [
        "SMPL_MALE",
        "basicmodel_m_lbs_10_207_0_v1.0.0",
        "basicModel_m_lbs_10_207_0_v1.0.0",
        "basicmodel_m_lbs_10_207_0_v1.1.0",
    ],
    "female": [
        "SMPL_FEMALE",
        "basicmodel_f_lbs_10_207_0_v1.1.0",
        "basicModel_f_lbs_10_207_0_v1.0.0",
        "basicmodel_f_lbs_10_207_0_v1.0.0",
    ],
}
_SUFFIXES = (".pkl", ".npz")
_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f")


# ------------------------------------------------------------------------------------------------
# Reading model files


class _PickledStandIn:
    """Stand-in for chumpy / scipy.sparse objects: keeps the pickled state, runs no code."""

    _source: str = ""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slot-state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state


_STAND_IN_CLASSES: dict[str, type] = {}


def _stand_in(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _STAND_IN_CLASSES:
        _STAND_IN_CLASSES[key] = type(name, (_PickledStandIn,), {"_source": key})
    return _STAND_IN_CLASSES[key]


_NUMPY_MODULES = {
    "numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
    "numpy._core.numeric",
}  # fmt: skip
_NUMPY_NAMES = {"ndarray", "dtype", "_reconstruct", "scalar", "_frombuffer"}
_BUILTINS = {
    ("copyreg", "_reconstructor"), ("builtins", "object"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"),
    ("builtins", "slice"), ("builtins", "complex"), ("builtins", "bytearray"),
    ("_codecs", "encode"),
}  # fmt: skip


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _SMPLUnpickler(pickle.Unpickler):
    """Unpickler for SMPL files that needs neither chumpy nor trust in arbitrary classes.

    chumpy and scipy.sparse classes become ``_PickledStandIn`` subclasses holding their pickled
    ``__dict__``; plain numpy arrays and a few builtins are allowed; everything else is refused.
    """

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if module == "chumpy" or module.startswith("chumpy."):
            return _stand_in(module, name)
        if module.startswith("scipy.sparse"):
            return _stand_in("scipy.sparse", name)
        if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
            module = module.replace("numpy.core", "numpy._core")
            return super().find_class(module, name)
        if module == "numpy.dtypes" and name.endswith("DType"):
            return super().find_class(module, name)
        if (module, name) in _BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from an SMPL model file (not an SMPL array type)"
        )


def _sparse_to_dense(obj: _PickledStandIn) -> np.ndarray:
    d = obj.__dict__
    shape = tuple(int(s) for s in d.get("_shape", d.get("shape", ())))
    kind = obj._source.rsplit(".", 1)[-1][:3]
    data = np.asarray(_to_array(d["data"]), dtype=np.float64)
    out = np.zeros(shape, dtype=np.float64)
    if kind in ("csc", "csr"):
        indices = np.asarray(_to_array(d["indices"]), dtype=np.int64)
        indptr = np.asarray(_to_array(d["indptr"]), dtype=np.int64)
        outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        rows, cols = (indices, outer) if kind == "csc" else (outer, indices)
    elif kind == "coo":
        if "coords" in d:
            rows, cols = (np.asarray(_to_array(c), dtype=np.int64) for c in d["coords"])
        else:
            rows = np.asarray(_to_array(d["row"]), dtype=np.int64)
            cols = np.asarray(_to_array(d["col"]), dtype=np.int64)
    else:
        raise ValueError(f"unsupported sparse matrix type {obj._source} in SMPL file")
    np.add.at(out, (rows, cols), data)
    return out


def _to_array(obj: Any) -> np.ndarray:
    """Plain ndarray from an ndarray, a chumpy ``Ch`` stand-in or a scipy.sparse stand-in."""
    if isinstance(obj, _PickledStandIn):
        if obj._source.startswith("scipy.sparse"):
            return _sparse_to_dense(obj)
        if "x" in obj.__dict__:
            return _to_array(obj.__dict__["x"])
        raise ValueError(
            f"cannot read a chumpy expression ({obj._source}) without chumpy; re-save the model "
            "with plain numpy arrays (e.g. as .npz)"
        )
    if hasattr(obj, "toarray"):  # a real scipy.sparse matrix
        return np.asarray(obj.toarray())
    return np.asarray(obj)


def read_smpl_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read an SMPL model file (official ``.pkl``, with or without chumpy objects, or ``.npz``).

    Args:
        path: the model file.

    Returns:
        Plain numpy arrays: ``v_template (V, 3)``, ``shapedirs (V, 3, K)``,
        ``posedirs (V, 3, 207)``, ``J_regressor (24, V)`` dense, ``weights (V, 24)`` float64;
        ``f (F, 3)`` and ``kintree_table (2, 24)`` int64 (root parent -1). Other keys are
        dropped.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            raw: Mapping[str, Any] = {k: z[k] for k in z.files}
    else:
        with open(path, "rb") as fh:
            raw = _SMPLUnpickler(fh, encoding="latin1").load()
        if not isinstance(raw, Mapping):
            raise ValueError(f"{path} does not hold a dict of SMPL arrays")
    missing = [k for k in _REQUIRED_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{path} is not an SMPL model file: missing keys {missing}")
    out = {k: _to_array(raw[k]).astype(np.float64) for k in _REQUIRED_KEYS if k != "f"}
    out["f"] = _to_array(raw["f"]).astype(np.int64)
    if "kintree_table" in raw:
        kt = _to_array(raw["kintree_table"]).astype(np.int64)
        kt[kt >= 2**31] = -1  # the root's parent is stored as uint32(-1)
        out["kintree_table"] = kt
    return out


def find_smpl_file(model_path: str | Path, gender: str = "neutral") -> Path:
    """Resolve an SMPL model file from a file path or a folder with standard file names.

    Args:
        model_path: a model file, or a folder holding e.g. ``SMPL_NEUTRAL.pkl`` (also searched in
            its ``smpl/`` subfolder).
        gender: "neutral", "male" or "female"; used only when ``model_path`` is a folder.

    Returns:
        The path of the model file.

    Raises:
        FileNotFoundError: naming the file(s) looked for and where to get SMPL.
    """
    if gender not in _STANDARD_NAMES:
        raise ValueError(f"gender must be one of {list(_STANDARD_NAMES)}, got {gender!r}")
    model_path = Path(model_path).expanduser()
    hint = (
        f"SMPL is not distributed with lasor: register at {SMPL_URL}, accept the SMPL license, "
        "download the model files and pass the file or its folder."
    )
    if model_path.is_file():
        return model_path
    if not model_path.is_dir():
        raise FileNotFoundError(f"SMPL model file {model_path} does not exist. {hint}")
    folders = [model_path, model_path / "smpl"]
    names = [n + s for n in _STANDARD_NAMES[gender] for s in _SUFFIXES]
    for folder in folders:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(
        f"No {gender} SMPL model found in {model_path} (or its smpl/ subfolder); looked for "
        f"{', '.join(names)}. {hint}"
    )


# ------------------------------------------------------------------------------------------------
# Forward pass (pure functions)


def _rigid(rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) and (..., 3) to (..., 4, 4) homogeneous transforms."""
    top = torch.cat([rot, trans[..., None]], dim=-1)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def forward_kinematics(
    rotmats: torch.Tensor, rest_joints: torch.Tensor, parents: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose local joint rotations along the kinematic tree.

    Args:
        rotmats: (B, J, 3, 3) local rotations about each joint, world-aligned rest axes.
        rest_joints: (B, J, 3) rest joint positions.
        parents: J parent indices, ``parents[i] < i``, root -1.

    Returns:
        world: (B, J, 4, 4) each joint's posed frame (rotation, posed position).
        skinning: (B, J, 4, 4) transforms taking rest-pose points rigidly attached to each joint
            to their posed position (``world @ translate(-rest_joint)``).
    """
    rel = torch.cat([rest_joints[:, :1], rest_joints[:, 1:] - rest_joints[:, parents[1:]]], dim=1)
    local = _rigid(rotmats, rel)
    chain = [local[:, 0]]
    for i in range(1, len(parents)):
        chain.append(chain[parents[i]] @ local[:, i])
    world = torch.stack(chain, dim=1)
    r = world[..., :3, :3]
    t = world[..., :3, 3] - (r @ rest_joints[..., None])[..., 0]
    return world, _rigid(r, t)


def skin_vertices(
    vertices: torch.Tensor, weights: torch.Tensor, transforms: torch.Tensor
) -> torch.Tensor:
    """Linear blend skinning.

    Args:
        vertices: (B, V, 3) rest vertices.
        weights: (V, J) skinning weights.
        transforms: (B, J, 4, 4) skinning transforms.

    Returns:
        (B, V, 3) posed vertices.
    """
    blended = torch.einsum("vj,bjxy->bvxy", weights, transforms[:, :, :3, :])  # (B, V, 3, 4)
    return (blended[..., :3] @ vertices[..., None])[..., 0] + blended[..., 3]


# ------------------------------------------------------------------------------------------------
# The body model


class SMPLBody(BodyModel):
    """SMPL as a lasor ``BodyModel`` (see ``lasor.body.base`` for conventions).

    ``pose_bones`` are SMPL's 23 non-root joints (``SMPL_JOINT_NAMES[1:]``); ``body_pose`` holds
    their local rotations, ``global_orient`` the pelvis rotation; ``shape`` holds betas.

    Output joint sets (all in the re-centred body frame, pelvis at the origin):

    * ``joints (B, 24, 3)``: SMPL's joints in ``SMPL_JOINT_NAMES`` order.
    * ``keypoints_coco (B, 17, 3)``: nose, eyes, ears from vertices 332, 2800 (left eye),
      6260 (right eye), 583 (left ear), 4071 (right ear); shoulders, elbows, wrists, knees and
      ankles are SMPL joints 16/17, 18/19, 20/21, 4/5, 7/8; hips are SMPL hips 1/2 moved apart
      by ``COCO_HIP_WIDEN`` of the hip-to-hip vector (annotated hips are wider than SMPL's).
    * ``joints_h36m (B, 17, 3)`` in ``H36M_JOINTS`` order: pelvis = joint 0 (origin);
      left/right hip = pelvis ± ``H36M_HIP_SPREAD`` (left_hip - right_hip) (H36M hips are level
      with its pelvis, which is their midpoint, and ~26 cm apart); knees 4/5; ankles 7/8;
      spine = 0.25 spine1 (3) + 0.75 spine2 (6) (H36M's spine is about half-way to the thorax);
      thorax = neck (12); neck_nose = mean of head joint (15) and nose vertex 332; head = mean of
      head joint (15) and head-top vertex 411; shoulders 16/17, elbows 18/19, wrists 20/21.
      These blends follow the proportions of the Human3.6M ground truth; they are not a
      regressor fitted to H36M markers, so expect a few cm of systematic offset per joint.
    * ``bone_transforms (B, 24, 4, 4)``: for each joint, the rigid transform taking points of
      the re-centred shaped rest body attached to that joint to the posed body (its rotation is
      the joint's global rotation; ``bone_transforms @ [rest_joint, 1] = [joint, 1]``).

    Buffers are registered non-persistent, so the licensed SMPL data never ends up in a
    ``state_dict`` or checkpoint. ``.double()`` switches the whole model to float64.
    """

    name = "smpl"

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        gender: str = "neutral",
        num_betas: int = 10,
        version: str = "",
    ) -> None:
        """Build from arrays as returned by ``read_smpl_file``.

        Args:
            arrays: SMPL arrays (see ``read_smpl_file``).
            gender: recorded in ``self.gender``.
            num_betas: number of shape coefficients to use (<= those in the file).
            version: recorded in ``self.version`` (e.g. the model file name).
        """
        super().__init__()
        v_template = np.asarray(arrays["v_template"])
        shapedirs = np.asarray(arrays["shapedirs"])
        posedirs = np.asarray(arrays["posedirs"])
        j_regressor = np.asarray(arrays["J_regressor"])
        weights = np.asarray(arrays["weights"])
        faces = np.asarray(arrays["f"])
        v, j = NUM_VERTICES, NUM_JOINTS
        expected = {
            "v_template": (v_template, (v, 3)),
            "posedirs": (posedirs, (v, 3, 9 * (j - 1))),
            "J_regressor": (j_regressor, (j, v)),
            "weights": (weights, (v, j)),
        }
        for key, (arr, shape) in expected.items():
            if arr.shape != shape:
                raise ValueError(f"SMPL {key} must have shape {shape}, got {arr.shape}")
        if shapedirs.ndim != 3 or shapedirs.shape[:2] != (v, 3):
            raise ValueError(f"SMPL shapedirs must be (6890, 3, K), got {shapedirs.shape}")
        if not 0 < num_betas <= shapedirs.shape[2]:
            raise ValueError(
                f"num_betas={num_betas}, but the model has {shapedirs.shape[2]} shape components"
            )
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f"SMPL faces must be (F, 3), got {faces.shape}")
        if "kintree_table" in arrays:
            parents = [int(p) for p in np.asarray(arrays["kintree_table"])[0]]
            parents[0] = -1
            if parents != SMPL_PARENTS:
                raise ValueError(f"not an SMPL kinematic tree: parents {parents}")

        self.gender = gender
        self.version = version
        self.parents = list(SMPL_PARENTS)
        self.pose_bones = SMPL_JOINT_NAMES[1:]
        index = {n: i for i, n in enumerate(self.pose_bones)}
        self.left_right_pairs = [
            (i, index["right_" + n[5:]]) for i, n in enumerate(self.pose_bones) if n[:5] == "left_"
        ]
        self.shape_names = [f"beta{k}" for k in range(num_betas)]

        def buf(name: str, x: np.ndarray, dtype: torch.dtype = torch.float32) -> None:
            t = torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)
            self.register_buffer(name, t, persistent=False)

        buf("v_template", v_template)
        # (K, V*3) and (207, V*3): blend shapes as matrices acting on betas / pose features.
        buf("shapedirs", shapedirs[:, :, :num_betas].reshape(v * 3, num_betas).T)
        buf("posedirs", posedirs.reshape(v * 3, -1).T)
        buf("J_regressor", j_regressor)
        buf("weights", weights)
        buf("faces", faces, torch.int64)
        buf("shape_default", np.zeros(num_betas))
        self.vertex_ids = dict(VERTEX_IDS)

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    def forward(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        """Pose and shape SMPL.

        Args:
            global_orient: (B, 3, 3) pelvis rotation, body frame.
            body_pose: (B, 23, 3, 3) local rotations of ``pose_bones``.
            shape: (B, S) betas.

        Returns:
            BodyOutput; vertices (B, 6890, 3), joints (B, 24, 3), keypoints_coco (B, 17, 3),
            joints_h36m (B, 17, 3), bone_transforms (B, 24, 4, 4), in the model's dtype.
        """
        b = self.check_inputs(global_orient, body_pose, shape)
        dtype = self.v_template.dtype
        go, bp, betas = (x.to(dtype) for x in (global_orient, body_pose, shape))
        nv = self.num_vertices

        v_shaped = self.v_template + (betas @ self.shapedirs).view(b, nv, 3)
        rest_joints = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
        # Re-centre the rest body on its pelvis; the root then stays at the origin when posed.
        pelvis = rest_joints[:, :1]
        v_shaped = v_shaped - pelvis
        rest_joints = rest_joints - pelvis

        eye = torch.eye(3, dtype=dtype, device=bp.device)
        pose_feature = (bp - eye).reshape(b, -1)  # (B, 207)
        v_posed = v_shaped + (pose_feature @ self.posedirs).view(b, nv, 3)

        rotmats = torch.cat([go[:, None], bp], dim=1)
        world, skinning = forward_kinematics(rotmats, rest_joints, self.parents)
        vertices = skin_vertices(v_posed, self.weights, skinning)
        joints = world[..., :3, 3]

        return BodyOutput(
            vertices=vertices,
            faces=self.faces,
            joints=joints,
            keypoints_coco=self._coco(joints, vertices),
            joints_h36m=self._h36m(joints, vertices),
            bone_transforms=skinning,
        )

    def _vertex(self, vertices: torch.Tensor, name: str) -> torch.Tensor:
        return vertices[:, self.vertex_ids[name]]

    def _coco(self, j: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        hip_lr = j[:, 1] - j[:, 2]
        pts = [
            self._vertex(v, "nose"), self._vertex(v, "left_eye"), self._vertex(v, "right_eye"),
            self._vertex(v, "left_ear"), self._vertex(v, "right_ear"),
            j[:, 16], j[:, 17], j[:, 18], j[:, 19], j[:, 20], j[:, 21],
            j[:, 1] + COCO_HIP_WIDEN * hip_lr, j[:, 2] - COCO_HIP_WIDEN * hip_lr,
            j[:, 4], j[:, 5], j[:, 7], j[:, 8],
        ]  # fmt: skip
        return torch.stack(pts, dim=1)

    def _h36m(self, j: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        hip_lr = H36M_HIP_SPREAD * (j[:, 1] - j[:, 2])
        pts = [
            j[:, 0],
            j[:, 0] - hip_lr, j[:, 5], j[:, 8],
            j[:, 0] + hip_lr, j[:, 4], j[:, 7],
            0.25 * j[:, 3] + 0.75 * j[:, 6],
            j[:, 12],
            0.5 * (j[:, 15] + self._vertex(v, "nose")),
            0.5 * (j[:, 15] + self._vertex(v, "head_top")),
            j[:, 16], j[:, 18], j[:, 20],
            j[:, 17], j[:, 19], j[:, 21],
        ]  # fmt: skip
        return torch.stack(pts, dim=1)


def load_smpl(model_path: str | Path, gender: str = "neutral", num_betas: int = 10) -> SMPLBody:
    """Load SMPL from a model file or a folder with the standard file names.

    Args:
        model_path: ``.pkl`` / ``.npz`` model file, or a folder (see ``find_smpl_file``).
        gender: "neutral", "male" or "female" (selects the file when given a folder).
        num_betas: number of shape coefficients.

    Returns:
        The body model (float32, CPU).
    """
    path = find_smpl_file(model_path, gender)
    logger.info("loading SMPL (%s) from %s", gender, path)
    return SMPLBody(read_smpl_file(path), gender=gender, num_betas=num_betas, version=path.name)


def build_smpl_body(path: str | Path, gender: str = "neutral") -> SMPLBody:
    """Constructor used by ``lasor.body.load_body_model('smpl', model_path=...)``."""
    return load_smpl(path, gender=gender)
