"""Anny's full skeleton, skin and pose for the rigged exports (``.glb``, ``.bvh``).

:func:`anny_rig` evaluates an :class:`~lasor.body.anny_body.AnnyBody` for a pose or a sequence of
poses and returns everything a rigged file needs: Anny's whole skeleton (all of its bones, not
only the 19 that lasor poses), the bind (rest) pose of each bone, the posed global transform of
each bone per frame, the rest mesh of the body's shape, its linear-blend-skinning weights, and
lasor's own posed vertices as the reference a reader can check itself against.

**Output frame.** With ``frame="camera"`` (what ``lasor predict`` writes) the pose is in lasor's
camera frame (OpenCV: X right, Y down, Z forward) and the rig is turned 180 degrees about X into
the Y-up convention of glTF and BVH, so a person who stands upright in the photo stands upright
in Blender, facing the camera at the origin, which looks along -Z. With ``frame="body"`` the
pose is in lasor's body frame (Y up, facing +Z) and nothing is turned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: lasor's camera frame (Y down, Z forward) -> glTF/BVH (Y up, camera looking along -Z).
CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])


@dataclass
class AnnyRig:
    """A posed Anny skeleton with its skin, for T frames (float64 unless stated).

    Attributes:
        bone_names: (J,) Anny's bone names; bone 0 is the root.
        parents: (J,) parent index per bone, -1 for the root; parents precede children.
        rest_vertices: (V, 3) float32 mesh of the body's shape in its bind pose.
        faces: (F, 3) int64 triangles.
        weights: (V, K) float32 skin weights, sorted descending per vertex, rows sum to 1.
        joints: (V, K) int64 bone index per weight.
        bind: (J, 4, 4) global transform of each bone in the bind pose (the inverse bind
            matrices are their inverses).
        posed: (T, J, 4, 4) global transform of each bone per frame (rigid).
        vertices: (T, V, 3) float32 lasor's own posed vertices (``BodyModel.forward`` plus the
            translation, in the output frame): what skinning the file must reproduce.
        shape: (S,) the one body shape of the rig.
        shape_names: (S,) its parameter names.
    """

    bone_names: list[str]
    parents: np.ndarray
    rest_vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    joints: np.ndarray
    bind: np.ndarray
    posed: np.ndarray
    vertices: np.ndarray
    shape: np.ndarray
    shape_names: list[str]

    @property
    def num_frames(self) -> int:
        return int(self.posed.shape[0])

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    def skinning_transforms(self) -> np.ndarray:
        """(T, J, 4, 4) ``posed @ inverse(bind)``: bind-pose points -> posed points."""
        return self.posed @ np.linalg.inv(self.bind)[None]


def _as_frames(x, name: str, tail: tuple[int, ...]) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.shape == tail:
        t = t[None]
    if t.ndim != len(tail) + 1 or tuple(t.shape[1:]) != tail:
        raise ValueError(f"{name} must be {tail} or (T, {', '.join(map(str, tail))}), got "
                         f"{tuple(t.shape)}")  # fmt: skip
    return t


def anny_rig(
    body,
    global_orient,
    body_pose,
    shape,
    translation=None,
    frame: str = "camera",
    max_influences: int | None = None,
) -> AnnyRig:
    """Evaluate Anny's skeleton and skin for one pose or a sequence of T poses.

    Args:
        body: an :class:`~lasor.body.anny_body.AnnyBody` (any topology).
        global_orient: (T, 3, 3) or (3, 3) root rotation.
        body_pose: (T, P, 3, 3) or (P, 3, 3) rotations of ``body.pose_bones``.
        shape: (S,) or (T, S) shape; a rig has one shape, so per-frame shapes are averaged.
        translation: (T, 3) or (3,) position of the pelvis (``PersonResult.cam_t``); default 0.
        frame: ``"camera"`` (lasor's camera frame, turned to Y up) or ``"body"``; see the module
            docstring.
        max_influences: keep only the largest weights per vertex (renormalised); None keeps all
            of Anny's (up to 9). Most real-time engines (three.js among them) read 4.

    Returns:
        AnnyRig.
    """
    if not hasattr(body, "anny_pose_parameters"):
        raise TypeError(
            f"rigged export needs the Anny body model, got {type(body).__name__} "
            f"({getattr(body, 'name', '?')})"
        )
    if frame not in ("camera", "body"):
        raise ValueError(f"frame must be 'camera' or 'body', got {frame!r}")
    go = _as_frames(global_orient, "global_orient", (3, 3))
    bp = _as_frames(body_pose, "body_pose", (body.num_pose_bones, 3, 3))
    t = go.shape[0]
    if bp.shape[0] != t:
        raise ValueError(f"global_orient has {t} frames but body_pose {bp.shape[0]}")
    sh = _as_frames(shape, "shape", (body.num_shape,)).mean(0, keepdim=True)
    tr = torch.zeros(t, 3) if translation is None else _as_frames(translation, "translation", (3,))
    if tr.shape[0] != t:
        raise ValueError(f"translation has {tr.shape[0]} frames, the pose {t}")
    dev = body.faces.device
    go, bp, sh = go.to(dev), bp.to(dev), sh.to(dev)
    with torch.no_grad():
        out = body.anny(
            pose_parameters=body.anny_pose_parameters(go, bp),
            phenotype_kwargs=sh.expand(t, -1),
        )
        ref = body(go, bp, sh.expand(t, -1)).vertices
    c4 = np.eye(4)
    c4[:3, :3] = body.to_body.double().cpu().numpy()
    f4 = np.eye(4)
    if frame == "camera":
        f4[:3, :3] = CAMERA_TO_Y_UP
    move = np.repeat(f4[None], t, 0)
    move[:, :3, 3] = tr.double().numpy() @ f4[:3, :3].T
    poses = out["bone_poses"].double().cpu().numpy()  # (T, J, 4, 4) Anny frame, root at 0
    rest = out["rest_bone_poses"][0].double().cpu().numpy()  # (J, 4, 4)
    posed = move[:, None] @ c4 @ poses @ c4.T
    bind = c4 @ rest @ c4.T
    rest_v = out["rest_vertices"][0].double().cpu().numpy() @ c4[:3, :3].T
    ref_v = ref.double().cpu().numpy() @ f4[:3, :3].T + move[:, None, :3, 3]
    weights, joints = _skin_weights(body, max_influences)
    return AnnyRig(
        bone_names=list(body.bone_labels),
        parents=np.asarray(body.anny.bone_parents, dtype=np.int64),
        rest_vertices=rest_v.astype(np.float32),
        faces=body.faces.cpu().numpy().astype(np.int64),
        weights=weights,
        joints=joints,
        bind=bind,
        posed=posed,
        vertices=ref_v.astype(np.float32),
        shape=sh[0].cpu().numpy().astype(np.float64),
        shape_names=list(body.shape_names),
    )


def _skin_weights(body, max_influences: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Anny's sparse weights, with repeated bones merged, sorted descending, optionally cut."""
    a = body.anny
    w = a.vertex_bone_weights.detach().double().cpu()
    idx = a.vertex_bone_indices.detach().long().cpu()
    dense = torch.zeros(w.shape[0], len(body.bone_labels), dtype=torch.float64)
    dense.scatter_add_(1, idx, w)
    k = int((dense > 0).sum(1).max())
    if max_influences is not None:
        if max_influences < 1:
            raise ValueError(f"max_influences must be >= 1, got {max_influences}")
        k = min(k, max_influences)
    val, ind = dense.topk(k, dim=1)
    val = val / val.sum(1, keepdim=True).clamp_min(1e-12)
    ind = torch.where(val > 0, ind, torch.zeros_like(ind))
    return val.float().numpy(), ind.numpy()


def linear_blend_skinning(
    rest_vertices: np.ndarray, weights: np.ndarray, joints: np.ndarray, transforms: np.ndarray
) -> np.ndarray:
    """Plain LBS: ``v' = sum_k w_k T[j_k] v`` for (V, 3) vertices and (J, 4, 4) transforms."""
    tv = transforms[joints]  # (V, K, 4, 4)
    blend = (weights[..., None, None] * tv).sum(1)  # (V, 4, 4)
    return np.einsum("vij,vj->vi", blend[:, :3, :3], rest_vertices) + blend[:, :3, 3]
