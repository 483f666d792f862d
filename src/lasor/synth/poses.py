"""Body poses for synthetic data: a pose bank retargeted from mocap, and a fallback sampler.

**Retargeting** (BVH -> Anny's ``global_orient`` + 19 ``body_pose`` rotations, body frame):
every Anny pose bone ``c`` is driven by one BVH joint ``s(c)`` (``SKELETON_MAPS``). The BVH's
global rotation ``G_s(t)`` (rest pose -> frame ``t``, world axes; the BVH rest pose has all
global rotations at identity) is taken over with a constant *rest-pose correction* ``C_c``::

    R_c(t) = P G_s(t) P^T C_c            (global rotation of Anny bone c, body frame)
    body_pose_c(t) = R_parent(c)(t)^T R_c(t)

``P`` maps the BVH world axes to the body frame (Y up, facing +Z, X = the body's left; found
from the rest skeleton, the identity for the CMU files here). ``C_c`` is computed once from the
two rest skeletons: for limbs (clavicles, arms, hands, legs, feet) it turns Anny's rest bone
direction (e.g. shoulder -> elbow, A-pose) onto the BVH's (T-pose), so every limb segment of the
posed Anny points exactly where the BVH segment points. The twist about the bone comes from a
secondary vector where the skeletons share one (the forearm for the upper arm: elbow bend plane;
across the palm for forearm and hand), else C is the smallest such rotation. The torso, neck
and head use ``C = I``: both rest poses stand upright, and their short segments' directions
depend more on where each skeleton places its joints than on posture. Bone lengths are Anny's
own: only rotations are transferred. There is deliberately no fitting of joint positions: with
limb directions already exact, it would only bend Anny to mimic the other skeleton's proportions
(e.g. its narrower shoulders); ``benchmarks/retarget.py`` measures what those cost.

**Pose bank**: :func:`build_pose_bank` retargets a folder of BVH files, subsamples them to
``fps``, drops mocap T-pose frames, removes the heading (rotation about the vertical axis,
stored as ``yaw``) so that every pose faces +Z, drops near-duplicate frames, and splits
train/val by subject (``DEFAULT_VAL_SUBJECTS``). :func:`load_pose_bank` reads it back.

**Fallback**: :func:`sample_fallback_poses` draws plausible poses from joint limits when no
pose bank exists (see ``FALLBACK_LIMITS_DEG``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lasor.body.rotations import (
    axis_angle_to_rotmat,
    euler_to_rotmat,
    rotmat_to_quat,
)
from lasor.synth.bvh import BVHMotion, BVHSkeleton, forward_kinematics, guess_units_to_metres

logger = logging.getLogger(__name__)

__all__ = [
    "BoneSource",
    "DEFAULT_VAL_SUBJECTS",
    "EVAL_JOINTS",
    "FALLBACK_LIMITS_DEG",
    "POSE_BONES",
    "POSE_PARENTS",
    "PoseBank",
    "Retargeter",
    "SKELETON_MAPS",
    "anny_rest_joints",
    "build_pose_bank",
    "default_balanced_pose_bank_path",
    "default_pose_bank_path",
    "detect_skeleton",
    "load_pose_bank",
    "remove_heading",
    "retarget_motion",
    "sample_fallback_poses",
    "subject_of",
]

#: Anny's pose bones, in ``body_pose`` order (= ``lasor.body.anny_body.ANNY_POSE_BONES``).
POSE_BONES: list[str] = [
    "spine05", "spine03", "spine01", "neck01", "head",
    "clavicle.L", "clavicle.R", "upperarm01.L", "upperarm01.R",
    "lowerarm01.L", "lowerarm01.R", "wrist.L", "wrist.R",
    "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "foot.L", "foot.R",
]  # fmt: skip

#: Parent of each pose bone among "root" + ``POSE_BONES`` (Anny's helper bones in between stay
#: at rest, so they do not change the chain of global rotations).
POSE_PARENTS: dict[str, str] = {
    "spine05": "root", "spine03": "spine05", "spine01": "spine03", "neck01": "spine01",
    "head": "neck01", "clavicle.L": "spine01", "clavicle.R": "spine01",
    "upperarm01.L": "clavicle.L", "upperarm01.R": "clavicle.R",
    "lowerarm01.L": "upperarm01.L", "lowerarm01.R": "upperarm01.R",
    "wrist.L": "lowerarm01.L", "wrist.R": "lowerarm01.R",
    "upperleg01.L": "root", "upperleg01.R": "root",
    "lowerleg01.L": "upperleg01.L", "lowerleg01.R": "upperleg01.R",
    "foot.L": "lowerleg01.L", "foot.R": "lowerleg01.R",
}  # fmt: skip

#: CMU subjects whose trials form the validation split (whole trials, never in train):
#: 01 (3 trials: playground climb, jump, sit, dangle), 02 (10: walk, run, jump, punch, bend and
#: scoop, swordplay, wash) and 10 (6: soccer kicks, walk) = 19 of the 154 trials (12 %), 9.5 % of
#: the pose bank's poses (30 fps, 10 degrees). Diverse everyday and sports motion, none of the
#: dance subjects (their styles are only in train).
DEFAULT_VAL_SUBJECTS: list[str] = ["01", "02", "10"]


@dataclass(frozen=True)
class BoneSource:
    """How one Anny bone is driven by a BVH skeleton.

    Attributes:
        joint: BVH joint whose global rotation drives the bone.
        anny_dir: Anny joints (from, to) giving the bone's rest direction, or None for C = I.
        bvh_dir: BVH joints (from, to) giving the same segment in the BVH rest pose.
        anny_twist: optional Anny joints (from, to) of a secondary vector fixing the twist about
            the bone direction (e.g. across the palm); without it C is the smallest rotation.
        bvh_twist: the matching BVH joints.
    """

    joint: str
    anny_dir: tuple[str, str] | None = None
    bvh_dir: tuple[str, str] | None = None
    anny_twist: tuple[str, str] | None = None
    bvh_twist: tuple[str, str] | None = None


def _map(
    torso: dict[str, str],
    limbs: dict[str, tuple[str, ...]],
    anny_to: dict[str, str],
    anny_twist: dict[str, tuple[str, str]],
) -> dict[str, BoneSource]:
    """Build a skeleton map: torso bones with C = I, limb bones (L/R) with direction matching.

    ``limbs[anny_bone] = (bvh_joint, bvh_to[, bvh_twist_from, bvh_twist_to])``: BVH names with
    ``{s}`` for the side ("l"/"r"); the segment bvh_joint -> bvh_to matches Anny's bone ->
    ``anny_to[anny_bone]`` (``{side}`` = "L"/"R"), the optional twist vector matches
    ``anny_twist[anny_bone]``.
    """
    out = {k: BoneSource(v) for k, v in torso.items()}
    for bone, spec in limbs.items():
        for side, s in (("L", "l"), ("R", "r")):
            a = f"{bone}.{side}"
            bvh = [x.format(s=s) for x in spec]
            twist = len(bvh) == 4
            out[a] = BoneSource(
                bvh[0],
                (a, anny_to[bone].format(side=side)),
                (bvh[0], bvh[1]),
                tuple(x.format(side=side) for x in anny_twist[bone]) if twist else None,
                (bvh[2], bvh[3]) if twist else None,
            )
    return out


_ANNY_LIMB_TO = {
    "clavicle": "upperarm01.{side}",
    "upperarm01": "lowerarm01.{side}",
    "lowerarm01": "wrist.{side}",
    "wrist": "finger3-1.{side}",
    "upperleg01": "lowerleg01.{side}",
    "lowerleg01": "foot.{side}",
    "foot": "toe2-1.{side}",
}
# secondary (twist) vectors on Anny: forearm (elbow bend plane), across the palm, the thumb
_ANNY_TWIST = {
    "upperarm01": ("lowerarm01.{side}", "wrist.{side}"),
    "lowerarm01": ("finger2-1.{side}", "finger5-1.{side}"),
    "wrist": ("finger2-1.{side}", "finger5-1.{side}"),
    "thumb": ("wrist.{side}", "finger1-2.{side}"),
}

#: Per BVH skeleton kind: Anny bone ("root" = global_orient) -> its BVH source.
SKELETON_MAPS: dict[str, dict[str, BoneSource]] = {
    # B. Hahne's "Daz-friendly" CMU conversion (hip, abdomen, chest, lShldr, lThigh, ...).
    "daz": _map(
        {"root": "hip", "spine05": "hip", "spine03": "abdomen", "spine01": "chest",
         "neck01": "neck", "head": "head"},
        {"clavicle": ("{s}Collar", "{s}Shldr"),
         "upperarm01": ("{s}Shldr", "{s}ForeArm", "{s}ForeArm", "{s}Hand"),
         "lowerarm01": ("{s}ForeArm", "{s}Hand", "{s}Index1", "{s}Pinky1"),
         "wrist": ("{s}Hand", "{s}Mid1", "{s}Index1", "{s}Pinky1"),
         "upperleg01": ("{s}Thigh", "{s}Shin"), "lowerleg01": ("{s}Shin", "{s}Foot"),
         "foot": ("{s}Foot", "{s}Foot_end")},
        _ANNY_LIMB_TO,
        _ANNY_TWIST,
    ),
    # CMU's ASF-derived skeleton (lfemur, ltibia, lhumerus, lowerback, thorax, ...).
    "cmu_asf": _map(
        {"root": "hip", "spine05": "lowerback", "spine03": "upperback", "spine01": "thorax",
         "neck01": "lowerneck", "head": "head"},
        {"clavicle": ("{s}clavicle", "{s}humerus"),
         "upperarm01": ("{s}humerus", "{s}radius"),
         "lowerarm01": ("{s}radius", "{s}wrist"),
         "wrist": ("{s}hand", "{s}fingers", "{s}hand", "{s}thumb_end"),
         "upperleg01": ("{s}femur", "{s}tibia"), "lowerleg01": ("{s}tibia", "{s}foot"),
         "foot": ("{s}foot", "{s}toes")},
        _ANNY_LIMB_TO,
        {**_ANNY_TWIST, "wrist": _ANNY_TWIST["thumb"]},
    ),
}  # fmt: skip

#: Per skeleton kind: Anny joint (root or pose bone head) -> BVH joint at the same place, used to
#: measure retargeting error (hips, knees, ankles, shoulders, elbows, wrists, neck, head).
EVAL_JOINTS: dict[str, dict[str, str]] = {
    "daz": {
        "upperleg01.L": "lThigh", "upperleg01.R": "rThigh", "lowerleg01.L": "lShin",
        "lowerleg01.R": "rShin", "foot.L": "lFoot", "foot.R": "rFoot",
        "upperarm01.L": "lShldr", "upperarm01.R": "rShldr", "lowerarm01.L": "lForeArm",
        "lowerarm01.R": "rForeArm", "wrist.L": "lHand", "wrist.R": "rHand",
        "neck01": "neck", "head": "head",
    },
    "cmu_asf": {
        "upperleg01.L": "lfemur", "upperleg01.R": "rfemur", "lowerleg01.L": "ltibia",
        "lowerleg01.R": "rtibia", "foot.L": "lfoot", "foot.R": "rfoot",
        "upperarm01.L": "lhumerus", "upperarm01.R": "rhumerus", "lowerarm01.L": "lradius",
        "lowerarm01.R": "rradius", "wrist.L": "lwrist", "wrist.R": "rwrist",
        "neck01": "lowerneck", "head": "head",
    },
}  # fmt: skip


def detect_skeleton(skeleton: BVHSkeleton) -> str:
    """Which ``SKELETON_MAPS`` entry fits a BVH skeleton.

    Raises:
        ValueError: if none does (every mapped joint must exist).
    """
    names = set(skeleton.names)
    for kind, mapping in SKELETON_MAPS.items():
        needed = {s.joint for s in mapping.values()}
        needed |= {
            j for s in mapping.values() for pair in (s.bvh_dir, s.bvh_twist) if pair for j in pair
        }
        if needed <= names:
            return kind
    raise ValueError(f"unsupported BVH skeleton (joints: {skeleton.names[:12]}...)")


def anny_rest_joints(model: torch.nn.Module | None = None) -> dict[str, np.ndarray]:
    """Rest-pose bone heads of Anny's full skeleton, body frame, root at the origin.

    Args:
        model: an ``AnnyBody`` (default: the small ``notoes_collapse10pc`` one is built).

    Returns:
        bone name -> (3,) float64 position in metres, for all of Anny's bones.
    """
    if model is None:
        from lasor.body import load_body_model

        model = load_body_model("anny", topology="notoes_collapse10pc")
    anny = model.anny
    eye = torch.eye(4).repeat(1, len(model.bone_labels), 1, 1)
    with torch.no_grad():
        out = anny(pose_parameters=eye, phenotype_kwargs=model.shape_default[None].float())
    heads = out["rest_bone_poses"][0, :, :3, 3].double() @ model.to_body.double().T
    heads = (heads - heads[model.bone_labels.index("root")]).numpy()
    return {n: heads[i] for i, n in enumerate(model.bone_labels)}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _align(
    a: np.ndarray, b: np.ndarray, va: np.ndarray | None = None, vb: np.ndarray | None = None
) -> np.ndarray:
    """Rotation (3, 3) taking direction ``a`` onto direction ``b``.

    Without ``va``/``vb`` it is the smallest such rotation (a swing). With them, a twist about
    ``b`` follows that turns ``va`` (after the swing) onto ``vb`` as seen along ``b``; skipped
    when either is within ~6 degrees of the bone direction (its twist is then undefined).
    """
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s, c = float(np.linalg.norm(axis)), float(np.dot(a, b))
    if s < 1e-9:
        if c > 0:
            swing = np.eye(3)
        else:  # opposite: rotate by pi about any axis perpendicular to a
            perp = _unit(np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0]))
            swing = 2.0 * np.outer(perp, perp) - np.eye(3)
    else:
        swing = axis_angle_to_rotmat(torch.from_numpy(axis / s * math.atan2(s, c))).numpy()
    if va is None or vb is None:
        return swing
    pa, pb = swing @ _unit(va), _unit(vb)
    pa, pb = pa - b * (pa @ b), pb - b * (pb @ b)
    if min(np.linalg.norm(pa), np.linalg.norm(pb)) < 0.1:
        return swing
    angle = math.atan2(float(np.cross(pa, pb) @ b), float(pa @ pb))
    return axis_angle_to_rotmat(torch.from_numpy(b * angle)).numpy() @ swing


def _bvh_axes(skeleton: BVHSkeleton, kind: str) -> np.ndarray:
    """(3, 3) signed permutation P with ``body = P @ bvh``, from the rest skeleton.

    Up = feet -> head, left = right hip -> left hip, forward = left x up; each snapped to the
    nearest coordinate axis.
    """
    ev = EVAL_JOINTS[kind]
    pos = skeleton.rest_positions()
    p = {k: pos[skeleton.index(v)] for k, v in ev.items()}
    up = p["head"] - 0.5 * (p["foot.L"] + p["foot.R"])
    left = p["upperleg01.L"] - p["upperleg01.R"]
    rows = []
    for v in (left, up):
        k = int(np.argmax(np.abs(v)))
        row = np.zeros(3)
        row[k] = np.sign(v[k])
        rows.append(row)
    rows.append(np.cross(rows[0], rows[1]))
    if abs(np.linalg.det(np.stack(rows))) < 0.5:
        raise ValueError("cannot find the up and left axes of the BVH rest skeleton")
    return np.stack(rows)


@dataclass
class Retargeter:
    """Maps one BVH skeleton's motion onto Anny's pose parameters (see the module docstring).

    Build with :meth:`Retargeter.build`; call :func:`retarget_motion`.

    Attributes:
        kind: key of ``SKELETON_MAPS``.
        axes: (3, 3) P with ``body = P @ bvh`` (world axes).
        source_index: (20,) BVH joint index driving "root" then each of ``POSE_BONES``.
        corrections: (20, 3, 3) float64 rest corrections C, body frame.
        parent_index: (19,) index into "root" + ``POSE_BONES`` of each pose bone's parent.
        units_to_m: metres per BVH length unit (guessed).
    """

    kind: str
    axes: torch.Tensor
    source_index: list[int]
    corrections: torch.Tensor
    parent_index: list[int]
    units_to_m: float

    @classmethod
    def build(
        cls, skeleton: BVHSkeleton, anny_rest: dict[str, np.ndarray], kind: str | None = None
    ) -> Retargeter:
        """Compute the rest corrections for one BVH skeleton.

        Args:
            skeleton: the BVH hierarchy.
            anny_rest: Anny's rest bone heads (:func:`anny_rest_joints`).
            kind: skeleton kind (default: :func:`detect_skeleton`).
        """
        kind = kind or detect_skeleton(skeleton)
        mapping = SKELETON_MAPS[kind]
        axes = _bvh_axes(skeleton, kind)
        rest = skeleton.rest_positions() @ axes.T
        names = ["root", *POSE_BONES]
        corr = np.tile(np.eye(3), (len(names), 1, 1))
        for i, bone in enumerate(names):
            src = mapping[bone]
            if src.anny_dir is not None and src.bvh_dir is not None:
                a = anny_rest[src.anny_dir[1]] - anny_rest[src.anny_dir[0]]
                b = rest[skeleton.index(src.bvh_dir[1])] - rest[skeleton.index(src.bvh_dir[0])]
                va = vb = None
                if src.anny_twist is not None and src.bvh_twist is not None:
                    va = anny_rest[src.anny_twist[1]] - anny_rest[src.anny_twist[0]]
                    vb = (
                        rest[skeleton.index(src.bvh_twist[1])]
                        - rest[skeleton.index(src.bvh_twist[0])]
                    )
                corr[i] = _align(a, b, va, vb)
        return cls(
            kind=kind,
            axes=torch.from_numpy(axes),
            source_index=[skeleton.index(mapping[b].joint) for b in names],
            corrections=torch.from_numpy(corr),
            parent_index=[names.index(POSE_PARENTS[b]) for b in POSE_BONES],
            units_to_m=guess_units_to_metres(skeleton),
        )


def retarget_motion(
    motion: BVHMotion,
    retargeter: Retargeter,
    frames: np.ndarray | None = None,
    return_bvh_joints: bool = False,
) -> dict[str, torch.Tensor]:
    """Retarget BVH frames to Anny poses (body frame, heading kept).

    Args:
        motion: a parsed BVH file.
        retargeter: built for ``motion.skeleton``.
        frames: (T,) frame indices (default: all).
        return_bvh_joints: also return the BVH's global joint positions in the body frame.

    Returns:
        ``global_orient`` (T, 3, 3) and ``body_pose`` (T, 19, 3, 3), float64; with
        ``return_bvh_joints`` also ``bvh_joints`` (T, J, 3) in metres (body-frame axes, world
        origin of the file).
    """
    sel = slice(None) if frames is None else np.asarray(frames)
    rot_local = motion.local_rotations(sel)
    trans_local = motion.local_translations(sel)
    pos, rot = forward_kinematics(motion.skeleton, rot_local, trans_local)
    p = retargeter.axes
    g = p @ rot[:, retargeter.source_index] @ p.T @ retargeter.corrections  # (T, 20, 3, 3)
    parents = g[:, retargeter.parent_index]
    body_pose = parents.transpose(-1, -2) @ g[:, 1:]
    out = {"global_orient": g[:, 0], "body_pose": body_pose}
    if return_bvh_joints:
        out["bvh_joints"] = (pos @ p.T) * retargeter.units_to_m
    return out


def remove_heading(global_orient: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split off the rotation about the vertical (Y) axis.

    ``global_orient = R_y(yaw) @ canonical`` where ``R_y(yaw)`` is the twist of the rotation
    about Y (swing-twist decomposition), so a standing body's canonical orientation faces +Z.

    Args:
        global_orient: (..., 3, 3).

    Returns:
        canonical: (..., 3, 3); yaw: (...) radians.
    """
    q = rotmat_to_quat(global_orient)
    yaw = 2.0 * torch.atan2(q[..., 2], q[..., 0])
    zero = torch.zeros_like(yaw)
    ry = euler_to_rotmat(torch.stack([zero, -yaw, zero], -1), "XYZ")
    return ry @ global_orient, torch.atan2(torch.sin(yaw), torch.cos(yaw))


def _dedup(rots: np.ndarray, min_angle: float) -> np.ndarray:
    """Greedy near-duplicate removal along time.

    Keeps frame 0, then each frame whose largest per-rotation geodesic angle to the last *kept*
    frame is at least ``min_angle`` (radians). Vectorised per kept frame over a look-ahead window
    (the angle test uses ``cos(angle) = (trace(R1^T R2) - 1) / 2``).

    Args:
        rots: (T, K, 3, 3) rotations compared per frame.

    Returns:
        (M,) int64 indices of kept frames.
    """
    t = rots.shape[0]
    if t == 0 or min_angle <= 0:
        return np.arange(t)
    flat = np.ascontiguousarray(rots.reshape(t, -1, 9))
    cos_max = math.cos(min_angle)
    kept = [0]
    i, window = 0, 64
    while i + 1 < t:
        lo, hi = i + 1, min(t, i + 1 + window)
        cos = (np.einsum("wkn,kn->wk", flat[lo:hi], flat[i]) - 1.0) * 0.5
        far = np.flatnonzero(cos.min(1) <= cos_max)
        if len(far) == 0:
            if hi == t:
                break
            window *= 2
            continue
        i = lo + int(far[0])
        kept.append(i)
        window = 64
    return np.asarray(kept, dtype=np.int64)


#: Balanced pose bank defaults (``build_pose_bank(balance=True)``): trial-wide dedup threshold,
#: largest share of one trial and of one motion group (subject or dance style).
BALANCE_MIN_ANGLE_DEG = 20.0
BALANCE_MAX_TRIAL_SHARE = 0.04
BALANCE_MAX_GROUP_SHARE = 0.20


def _dedup_global(rots: np.ndarray, min_angle: float) -> np.ndarray:
    """Greedy near-duplicate removal across a whole trial.

    Keeps frame 0, then each frame whose largest per-rotation angle to *every* kept frame so far
    is at least ``min_angle`` (radians): a repeated move is dropped however far apart in time.

    Args:
        rots: (T, K, 3, 3) rotations compared per frame.

    Returns:
        (M,) int64 indices of kept frames, increasing.
    """
    t = rots.shape[0]
    if t == 0 or min_angle <= 0:
        return np.arange(t)
    flat = np.ascontiguousarray(rots.reshape(t, -1, 9))
    cos_max = math.cos(min_angle)
    kept_rows = np.empty_like(flat)
    kept_rows[0] = flat[0]
    kept, m = [0], 1
    for i in range(1, t):
        cos = (np.einsum("mkn,kn->mk", kept_rows[:m], flat[i]) - 1.0) * 0.5
        if (cos.min(1) <= cos_max).all():
            kept_rows[m] = flat[i]
            kept.append(i)
            m += 1
    return np.asarray(kept, dtype=np.int64)


def _balance_caps(trials: np.ndarray, max_trial_share: float, max_group_share: float) -> np.ndarray:
    """Indices keeping at most a share of the result per trial and per motion group.

    Finds the largest total ``T`` with every trial's count ``<= max_trial_share * T`` and every
    group's (:func:`subject_of`) ``<= max_group_share * T`` (fixed-point iteration: a capped
    group's trials are scaled down together), then keeps evenly spaced frames of each trial.
    Shares below an equal split (1 / number of trials or groups) are raised to it.

    Args:
        trials: (N,) trial name per frame (frames of a trial in time order).

    Returns:
        (M,) int64 increasing indices into ``trials``.

    Raises:
        ValueError: when the caps leave under 10 % of the frames (shares too small for the
            number of trials / groups).
    """
    names, inv, n_t = np.unique(trials, return_inverse=True, return_counts=True)
    groups = np.asarray([subject_of(t) for t in names])
    # a library of few trials / groups cannot meet small caps: never cap below an equal share
    max_trial_share = max(max_trial_share, 1.0 / len(names))
    max_group_share = max(max_group_share, 1.0 / len(np.unique(groups)))
    total = int(n_t.sum())
    counts = n_t.copy()
    for _ in range(1000):
        c = np.minimum(n_t, int(max_trial_share * total)).astype(float)
        for g in np.unique(groups):
            m = groups == g
            cap = max_group_share * total
            if c[m].sum() > cap:
                c[m] = np.floor(c[m] * cap / c[m].sum())
        counts = c.astype(np.int64)
        if int(counts.sum()) == total:
            break
        total = int(counts.sum())
    if total < 0.1 * len(trials):
        raise ValueError(
            f"balance caps (trial {max_trial_share}, group {max_group_share}) keep only "
            f"{total} of {len(trials)} frames"
        )
    sel = []
    for k in range(len(names)):
        idx = np.flatnonzero(inv == k)
        if counts[k] > 0:
            sel.append(idx[np.unique(np.linspace(0, len(idx) - 1, counts[k]).round().astype(int))])
    return np.sort(np.concatenate(sel)).astype(np.int64)


def subject_of(trial: str) -> str:
    """Subject id of a trial name: "02_05" -> "02", "acrnn_salsa_07" -> "acrnn_salsa"."""
    m = re.match(r"^(\d+)_\d+$", trial)
    if m:
        return m.group(1)
    m = re.match(r"^(.*?)_\d+$", trial)
    return m.group(1) if m else trial


def default_pose_bank_path() -> Path:
    """``$LASOR_CACHE/pose_bank.npz`` (default cache dir ``~/.cache/lasor``)."""
    root = os.environ.get("LASOR_CACHE") or Path.home() / ".cache" / "lasor"
    return Path(root) / "pose_bank.npz"


def default_balanced_pose_bank_path() -> Path:
    """``$LASOR_CACHE/pose_bank_balanced.npz``, for ``build_pose_bank(balance=True)``."""
    return default_pose_bank_path().with_name("pose_bank_balanced.npz")


def _is_rest_frame(motion: BVHMotion, tol: float = 1e-3) -> np.ndarray:
    """(T,) bool: frames whose non-root rotation channels are all ~0 (mocap T-pose frames)."""
    sk = motion.skeleton
    cols = [
        int(sk.channel_start[j]) + k
        for j, chans in enumerate(sk.channels)
        if sk.parents[j] >= 0
        for k, c in enumerate(chans)
        if c.endswith("rotation")
    ]
    if not cols:
        return np.zeros(motion.num_frames, dtype=bool)
    return np.abs(motion.data[:, cols]).max(1) < tol


def build_pose_bank(
    bvh_dir: Path,
    out: Path,
    *,
    fps: float = 30.0,
    min_angle_deg: float = 10.0,
    val_subjects: list[str] | None = None,
    progress: bool = True,
    balance: bool = False,
    balance_min_angle_deg: float = BALANCE_MIN_ANGLE_DEG,
    max_trial_share: float = BALANCE_MAX_TRIAL_SHARE,
    max_group_share: float = BALANCE_MAX_GROUP_SHARE,
) -> dict:
    """Retarget every BVH file of a folder into a pose bank file (``.npz``, no pickle).

    Per file: subsample to about ``fps`` (every ``round(file_fps / fps)``-th frame), drop mocap
    T-pose frames (all joint rotations zero), retarget (module docstring), remove the heading
    (:func:`remove_heading`), then drop near-duplicates: a frame is kept only if some rotation
    (canonical global orientation or one of the 19 bones) differs by at least ``min_angle_deg``
    from the last kept frame. 10 degrees moves a hand by <= ~5 cm per bone; smaller changes are
    invisible in a 224-px silhouette, and at 30 fps most consecutive frames differ by less. A file
    that cannot be read or mapped is logged and skipped.

    ``balance=True`` (for a separate file, e.g. :func:`default_balanced_pose_bank_path`; the
    default bank is unchanged) then balances the library: within each trial, a kept frame is
    dropped when it is within ``balance_min_angle_deg`` of *any* earlier kept frame of the trial
    (:func:`_dedup_global`, catching repeated moves), and no trial may hold more than
    ``max_trial_share`` nor a motion group (:func:`subject_of`: a CMU subject, or a dance style
    such as ``acrnn_salsa``) more than ``max_group_share`` of the bank (:func:`_balance_caps`,
    evenly spaced frames kept). The meta records ``balance`` settings and per-group counts.

    Arrays written: ``global_orient (N, 3, 3) float32`` (heading removed: faces +Z),
    ``body_pose (N, 19, 3, 3) float32``, ``yaw (N,) float32`` (removed heading, radians:
    original = R_y(yaw) @ global_orient), ``trial``, ``subject``, ``split`` ("train"/"val")
    ``(N,) str``, ``frame (N,) int64`` (frame index in the BVH file), ``bone_names (19,) str``,
    ``meta`` (0-d str, JSON: body model, source dir, settings, val subjects, counts).

    Args:
        bvh_dir: folder of ``*.bvh`` / ``*.bvh.gz`` files (searched recursively).
        out: output ``.npz`` path (parent folders are created; written atomically).
        fps: target frame rate before de-duplication.
        min_angle_deg: de-duplication threshold (0 disables it).
        val_subjects: subjects held out for validation (default ``DEFAULT_VAL_SUBJECTS``).
        progress: show a tqdm progress bar over files.
        balance: balance the bank (see above).
        balance_min_angle_deg: trial-wide de-duplication threshold when balancing.
        max_trial_share: largest share of the bank one trial may hold when balancing.
        max_group_share: largest share of the bank one motion group may hold when balancing.

    Returns:
        Summary: files read/skipped, frames read/subsampled/kept, kept per split, seconds.
    """
    from tqdm import tqdm

    from lasor.body import load_body_model
    from lasor.synth.bvh import read_bvh

    t0 = time.perf_counter()
    bvh_dir, out = Path(bvh_dir), Path(out)
    val = list(DEFAULT_VAL_SUBJECTS if val_subjects is None else val_subjects)
    files = sorted(p for p in bvh_dir.rglob("*") if p.name.endswith((".bvh", ".bvh.gz")))
    if not files:
        raise FileNotFoundError(f"no .bvh or .bvh.gz files under {bvh_dir}")
    model = load_body_model("anny", topology="notoes_collapse10pc")
    rest = anny_rest_joints(model)
    min_angle = math.radians(min_angle_deg)
    parts: dict[str, list] = {k: [] for k in ("go", "bp", "yaw", "trial", "frame")}
    stats = {"files": len(files), "files_skipped": 0, "frames_read": 0, "frames_subsampled": 0}
    skipped: list[str] = []
    for path in tqdm(files, desc="pose bank", unit="file", disable=not progress):
        trial = path.name.removesuffix(".gz").removesuffix(".bvh")
        try:
            motion = read_bvh(path)
            retargeter = Retargeter.build(motion.skeleton, rest)
            step = max(1, round(motion.fps / fps)) if math.isfinite(motion.fps) else 1
            frames = np.arange(0, motion.num_frames, step)
            frames = frames[~_is_rest_frame(motion)[frames]]
            stats["frames_read"] += motion.num_frames
            stats["frames_subsampled"] += len(frames)
            if len(frames) == 0:
                continue
            res = retarget_motion(motion, retargeter, frames)
        except Exception as e:  # one bad file must not stop the run
            logger.warning("skipping %s: %s", path, e)
            stats["files_skipped"] += 1
            skipped.append(path.name)
            continue
        go, yaw = remove_heading(res["global_orient"])
        bp = res["body_pose"]
        rots = torch.cat([go[:, None], bp], 1).numpy()
        keep = _dedup(rots, min_angle)
        if balance:
            keep = keep[_dedup_global(rots[keep], math.radians(balance_min_angle_deg))]
        parts["go"].append(go[keep].float().numpy())
        parts["bp"].append(bp[keep].float().numpy())
        parts["yaw"].append(yaw[keep].float().numpy())
        parts["trial"].append(np.full(len(keep), trial))
        parts["frame"].append(frames[keep])
    if not parts["go"]:
        raise RuntimeError(f"no usable BVH frames under {bvh_dir}")
    trials = np.concatenate(parts["trial"]).astype(str)
    balance_meta = None
    if balance:
        before = {
            str(k): int(v) for k, v in zip(*np.unique(trials, return_counts=True), strict=True)
        }
        sel = _balance_caps(trials, max_trial_share, max_group_share)
        for k in parts:
            parts[k] = [np.concatenate(parts[k])[sel]]
        trials = trials[sel]
        balance_meta = {
            "min_angle_deg": balance_min_angle_deg,
            "max_trial_share": max_trial_share,
            "max_group_share": max_group_share,
            "trial_frames_after_dedup": before,
        }
    subjects = np.asarray([subject_of(t) for t in trials]).astype(str)
    split = np.where(np.isin(subjects, val), "val", "train")
    stats["frames_kept"] = int(len(trials))
    stats["train"] = int((split == "train").sum())
    stats["val"] = int((split == "val").sum())
    stats["trials_train"] = len(set(trials[split == "train"]))
    stats["trials_val"] = len(set(trials[split == "val"]))
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    meta = {
        "format": "lasor-pose-bank-1",
        "body_model": model.name,
        "body_model_version": model.version,
        "source_dir": str(bvh_dir.resolve()),
        "settings": {"fps": fps, "min_angle_deg": min_angle_deg, "val_subjects": val},
        "global_orient": "heading removed (faces +Z); original = R_y(yaw) @ global_orient",
        "stats": stats,
        "skipped_files": skipped,
    }
    if balance_meta is not None:
        meta["balance"] = balance_meta
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        global_orient=np.concatenate(parts["go"]),
        body_pose=np.concatenate(parts["bp"]),
        yaw=np.concatenate(parts["yaw"]),
        trial=trials,
        subject=subjects,
        frame=np.concatenate(parts["frame"]).astype(np.int64),
        split=split.astype(str),
        bone_names=np.asarray(POSE_BONES),
        meta=np.asarray(json.dumps(meta)),
    )
    os.replace(tmp, out)
    logger.info("pose bank %s: %s", out, stats)
    return stats


@dataclass
class PoseBank:
    """A loaded pose bank (see :func:`build_pose_bank`).

    Attributes:
        global_orient: (N, 3, 3) float32, heading removed (faces +Z).
        body_pose: (N, 19, 3, 3) float32.
        yaw: (N,) float32 removed heading, radians.
        trial, subject, split: (N,) str arrays.
        frame: (N,) int64.
        bone_names: the 19 pose bones.
        meta: settings and stats (JSON attribute of the file).
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    yaw: torch.Tensor
    trial: np.ndarray
    subject: np.ndarray
    frame: np.ndarray
    split: np.ndarray
    bone_names: list[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.global_orient.shape[0])

    def indices(self, split: str | None = "train") -> torch.Tensor:
        """(M,) int64 indices of the poses in ``split`` (None: all)."""
        if split is None:
            return torch.arange(len(self))
        return torch.from_numpy(np.flatnonzero(self.split == split))

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        split: str | None = "train",
        random_yaw: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` poses uniformly (with replacement) from a split.

        Args:
            n: number of poses.
            generator: randomness source (CPU ``torch.Generator``).
            split: "train", "val" or None for all.
            random_yaw: rotate each pose about the vertical axis by a uniform angle; otherwise
                poses face +Z (heading removed).

        Returns:
            global_orient (n, 3, 3), body_pose (n, 19, 3, 3), float32.
        """
        idx = self.indices(split)
        if len(idx) == 0:
            raise ValueError(f"pose bank has no {split!r} poses")
        pick = idx[torch.randint(len(idx), (n,), generator=generator)]
        go, bp = self.global_orient[pick], self.body_pose[pick]
        if random_yaw:
            yaw = (torch.rand(n, generator=generator) * 2.0 - 1.0) * math.pi
            zero = torch.zeros_like(yaw)
            go = euler_to_rotmat(torch.stack([zero, yaw, zero], -1), "XYZ") @ go
        return go, bp


def load_pose_bank(path: str | Path | None = None) -> PoseBank:
    """Read a pose bank written by :func:`build_pose_bank` (default: ``default_pose_bank_path``)."""
    path = Path(path) if path is not None else default_pose_bank_path()
    with np.load(path, allow_pickle=False) as z:
        return PoseBank(
            global_orient=torch.from_numpy(z["global_orient"]),
            body_pose=torch.from_numpy(z["body_pose"]),
            yaw=torch.from_numpy(z["yaw"]),
            trial=z["trial"],
            subject=z["subject"],
            frame=z["frame"],
            split=z["split"],
            bone_names=[str(b) for b in z["bone_names"]],
            meta=json.loads(str(z["meta"])),
        )


# ---------------------------------------------------------------- fallback sampler

#: Joint limits of the fallback sampler: per "global_orient" and pose bone, (min, max) degrees
#: about the body-frame axes X (left), Y (up), Z (forward) of the rest pose, composed as
#: ``R = Rx @ Ry @ Rz``. Written for the left side (and the midline); right-side bones use the
#: mirror image (Y and Z angles negated). Signs: +X bends a spine/neck forward, moves a thigh
#: or upper arm backward (flexion is negative), bends the knee (+) and points the toes down (+);
#: +Y turns a bone's front towards the body's left; +Z raises the left arm / abducts the left
#: leg and bends the spine to the right. The elbow (forearm points forward-down at rest) flexes
#: with -X. Ranges follow standard active ranges of motion, narrowed where body-frame Euler
#: angles are a rough stand-in for the anatomical axes (A-pose arms, twists). The sampled
#: ``global_orient`` finally has its heading removed (:func:`remove_heading`, ~1 degree).
FALLBACK_LIMITS_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    "global_orient": ((-30, 30), (0, 0), (-15, 15)),
    "spine05": ((-20, 40), (-20, 20), (-20, 20)),
    "spine03": ((-20, 40), (-25, 25), (-20, 20)),
    "spine01": ((-15, 30), (-20, 20), (-15, 15)),
    "neck01": ((-30, 40), (-35, 35), (-25, 25)),
    "head": ((-30, 30), (-35, 35), (-20, 20)),
    "clavicle": ((-15, 15), (-20, 15), (-10, 30)),
    "upperarm01": ((-150, 50), (-60, 60), (-40, 120)),
    "lowerarm01": ((-140, 10), (-30, 30), (-20, 20)),
    "wrist": ((-60, 60), (-20, 20), (-30, 30)),
    "upperleg01": ((-120, 30), (-35, 35), (-20, 45)),
    "lowerleg01": ((0, 140), (-10, 10), (-5, 5)),
    "foot": ((-25, 45), (-20, 20), (-15, 15)),
}

#: Mixture of the fallback sampler: probability of each kind of pose.
FALLBACK_MODES: dict[str, float] = {"stand": 0.45, "walk": 0.25, "crouch": 0.15, "free": 0.15}


def _limits_table() -> torch.Tensor:
    """(20, 3, 2) limits in degrees for "global_orient" + ``POSE_BONES`` (left convention)."""
    rows = []
    for bone in ["global_orient", *POSE_BONES]:
        rows.append(FALLBACK_LIMITS_DEG[bone.split(".")[0]])
    return torch.tensor(rows, dtype=torch.float32)


def sample_fallback_poses(
    n: int, generator: torch.Generator | None = None, random_yaw: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plausible random poses without mocap, from the joint limits ``FALLBACK_LIMITS_DEG``.

    A mixture (``FALLBACK_MODES``): near-standing poses (arms lowered from Anny's A-pose towards
    the sides, small noise, more for the arms), walk /
    run cycles (legs and arms swing in opposition at a random phase and amplitude, knees and
    elbows bend with it), crouches / sits (hips, knees, ankles and trunk flex together), and
    free poses (uniform within 60 % of the limits). Every sample gets per-joint noise, then all
    angles are clipped to the limits. Poses face +Z like the pose bank's.

    Args:
        n: number of poses.
        generator: randomness source (same seed -> same poses).
        random_yaw: rotate each pose about the vertical by a uniform angle.

    Returns:
        global_orient (n, 3, 3), body_pose (n, 19, 3, 3), float32.
    """
    g = generator
    lim = _limits_table()  # (20, 3, 2)
    lo, hi = lim[..., 0], lim[..., 1]
    names = ["global_orient", *POSE_BONES]
    idx = {b: i for i, b in enumerate(names)}

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    ang = torch.zeros(n, 20, 3)
    u = rand(n)
    edges = torch.tensor(list(FALLBACK_MODES.values())).cumsum(0)
    mode = torch.bucketize(u, edges[:-1], right=True)  # 0 stand, 1 walk, 2 crouch, 3 free
    width = hi - lo
    # per-joint noise: 8 % of the range (arms 12 %) everywhere
    sigma = 0.08 * width
    for b in ("upperarm01", "lowerarm01"):
        for s in ("L", "R"):
            sigma[idx[f"{b}.{s}"]] = 0.12 * width[idx[f"{b}.{s}"]]
    ang = ang + randn(n, 20, 3) * sigma
    # Anny's rest pose is an A-pose: lower the arms towards the sides outside free poses
    down = (25.0 + 15.0 * rand(n)) * (mode != 3).float()
    for s in ("L", "R"):
        ang[:, idx[f"upperarm01.{s}"], 2] -= down
    # walk / run: phase and amplitude shared by the whole body
    walk = (mode == 1).float()
    phase = rand(n) * 2 * math.pi
    amp = (0.3 + 0.7 * rand(n)) * walk
    sw, cw = torch.sin(phase) * amp, torch.cos(phase)
    for s, sign in (("L", 1.0), ("R", -1.0)):
        ang[:, idx[f"upperleg01.{s}"], 0] += -40 * sign * sw
        ang[:, idx[f"lowerleg01.{s}"], 0] += amp * (10 + 60 * (sign * cw).clamp(min=0))
        ang[:, idx[f"upperarm01.{s}"], 0] += 35 * sign * sw
        ang[:, idx[f"lowerarm01.{s}"], 0] += -amp * (20 + 50 * rand(n))
    ang[:, idx["spine03"], 1] += 8 * sw
    ang[:, idx["global_orient"], 0] += 10 * amp * rand(n)
    # crouch / sit: flexion chain
    c = (0.2 + 0.8 * rand(n)) * (mode == 2).float()
    trunk = rand(n)  # how much the trunk leans instead of staying upright (sitting)
    for s in ("L", "R"):
        ang[:, idx[f"upperleg01.{s}"], 0] += -110 * c
        ang[:, idx[f"lowerleg01.{s}"], 0] += 125 * c
        ang[:, idx[f"foot.{s}"], 0] += -20 * c * trunk
        ang[:, idx[f"upperleg01.{s}"], 2] += 15 * c * rand(n)
    ang[:, idx["global_orient"], 0] += 30 * c * trunk
    ang[:, idx["spine05"], 0] += 15 * c
    # free: uniform within 60 % of the limits
    free = (mode == 3).float()[:, None, None]
    ang = ang + free * (lo + (hi - lo) * rand(n, 20, 3)) * 0.6
    ang = torch.maximum(torch.minimum(ang, hi), lo)
    # right side: mirror image of the left-side convention
    right = torch.tensor([n_.endswith(".R") for n_ in names])
    ang[:, right, 1:] = -ang[:, right, 1:]
    rot = euler_to_rotmat(ang, "XYZ", degrees=True)
    go, bp = remove_heading(rot[:, 0])[0], rot[:, 1:]  # exactly no heading, as in the bank
    if random_yaw:
        yaw = (rand(n) * 2.0 - 1.0) * math.pi
        zero = torch.zeros_like(yaw)
        go = euler_to_rotmat(torch.stack([zero, yaw, zero], -1), "XYZ") @ go
    return go.contiguous(), bp.contiguous()
