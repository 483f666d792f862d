"""Leg angles of Human3.6M-17 skeletons: knee (hip-knee-ankle) and hip (thorax-hip-knee).

Pure functions on (..., 17, 3) joints in `lasor.body.joints.H36M_JOINTS` order. An angle is the
inner angle at the middle joint in degrees: 180 = straight (a straight knee; a thigh in line
with the trunk), 90 = a right angle (sitting: thigh forward at 90 degrees to the trunk).

Pose strata (from ground-truth angles only, body-relative, no gravity needed):

* ``standing``: standing or walking: both hips >= 145 degrees and at least one knee >= 160
  (a support leg nearly straight);
* ``sitting``: both thighs flexed (both hips <= 130 degrees): sitting, crouching, squatting;
* ``other``: the rest (kneeling upright, lunges, lying with bent legs, big steps, ...).
"""

from __future__ import annotations

import numpy as np

#: H36M-17 indices of the 12 limb joints: shoulders, elbows, wrists, hips, knees, ankles.
LIMB12: list[int] = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
#: (proximal, middle, distal) H36M-17 indices per leg angle.
ANGLES: dict[str, tuple[int, int, int]] = {
    "knee_r": (1, 2, 3),
    "knee_l": (4, 5, 6),
    "hip_r": (8, 1, 2),
    "hip_l": (8, 4, 5),
}
#: A leg is straight when its ground-truth knee angle is at least this (degrees).
STRAIGHT_KNEE = 160.0
STRATA = ("standing", "sitting", "other")


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Inner angle at ``b`` of the path a-b-c, in degrees.

    Args:
        a, b, c: (..., 3) points.

    Returns:
        (...) float64 degrees in [0, 180] (NaN where a bone has zero length).
    """
    u = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    v = np.asarray(c, np.float64) - np.asarray(b, np.float64)
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=-1) / (nu * nv)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def leg_angles(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Knee and hip angles of H36M-17 skeletons.

    Args:
        joints: (..., 17, 3) H36M-17 joints (any units, any frame).

    Returns:
        ``{"knee_r", "knee_l", "hip_r", "hip_l"}`` -> (...) degrees.
    """
    j = np.asarray(joints, np.float64)
    return {k: joint_angle(j[..., a, :], j[..., b, :], j[..., c, :]) for k, (a, b, c) in
            ANGLES.items()}  # fmt: skip


def pose_stratum(angles: dict[str, np.ndarray]) -> np.ndarray:
    """The pose stratum (see the module docstring) of each skeleton from its leg angles.

    Args:
        angles: `leg_angles` output, each (N,).

    Returns:
        (N,) array of "standing" / "sitting" / "other".
    """
    hip_min = np.minimum(angles["hip_r"], angles["hip_l"])
    hip_max = np.maximum(angles["hip_r"], angles["hip_l"])
    knee_max = np.maximum(angles["knee_r"], angles["knee_l"])
    out = np.full(np.shape(hip_min), "other", dtype=object)
    out[(hip_min >= 145.0) & (knee_max >= STRAIGHT_KNEE)] = "standing"
    out[hip_max <= 130.0] = "sitting"
    return out.astype(str)


def angle_errors(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """Signed leg-angle errors ``pred - gt`` (degrees; negative = more bent than the truth).

    Args:
        pred, gt: (..., 17, 3) H36M-17 joints.

    Returns:
        ``{"knee_r", "knee_l", "hip_r", "hip_l"}`` -> (...) signed degrees.
    """
    p, g = leg_angles(pred), leg_angles(gt)
    return {k: p[k] - g[k] for k in ANGLES}


def histogram(values: np.ndarray, step: float = 10.0) -> dict[str, int]:
    """Counts of angles in ``step``-degree bins ``"lo-hi"`` from 0 to 180 (NaNs dropped)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    edges = np.arange(0.0, 180.0 + step, step)
    counts, _ = np.histogram(np.clip(v, 0.0, 180.0), bins=edges)
    return {f"{lo:.0f}-{hi:.0f}": int(c) for lo, hi, c in zip(edges[:-1], edges[1:], counts,
            strict=True)}  # fmt: skip
