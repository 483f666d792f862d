"""Straight legs in the training poses: a share of every draw standing or walking.

The bent-leg study (``benchmarks/angles.py``, ``benchmarks/results/angles.md``) found that only
~5 % of the legs in the training mix are straight (knee >= 160 deg): the CMU bank is mostly dance
and exercise, the anchors add sitting and crouching, and the regressor resolves the depth
ambiguity of a leg towards that mean: no predicted knee reached 160 deg on real standing people.
`straight_source` wraps a pose draw so that a fixed share of every draw has the legs (and the
root orientation) of a mocap frame in a standing or walking stance (one knee within 15 deg of
the rest pose, the other within 60 deg), recombined with the upper body (spine, neck, head,
arms) of an ordinary draw — standing and walking people with the bank's whole variety of arm
and torso poses.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from lasor.body.anny_body import ANNY_POSE_BONES

logger = logging.getLogger(__name__)

__all__ = ["LEG_BONES", "knee_flexion", "straight_source"]

#: Bones taken from the straight-legged frame (with its root orientation).
LEG_BONES: list[str] = [
    "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "foot.L", "foot.R",
]  # fmt: skip
_KNEES = [ANNY_POSE_BONES.index("lowerleg01.L"), ANNY_POSE_BONES.index("lowerleg01.R")]


def knee_flexion(body_pose: np.ndarray) -> np.ndarray:
    """Rotation angle (degrees) of each knee's rotation away from the rest pose.

    Args:
        body_pose: (N, 19, 3, 3) Anny pose (``ANNY_POSE_BONES`` order).

    Returns:
        (N, 2) left, right: 0 at rest (Anny's rest knee is ~172 deg, nearly straight).
    """
    r = np.asarray(body_pose)[:, _KNEES]
    cos = (np.trace(r, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def straight_source(base_draw, leg_poses: tuple[np.ndarray, np.ndarray], share: float,
                    max_flexion: float = 15.0, other_max: float = 60.0):  # fmt: skip
    """Wrap ``base_draw`` so ``round(share * n)`` of every draw stands on straight legs.

    Args:
        base_draw: ``draw(n, rng) -> (global_orient (n, 3, 3), body_pose (n, 19, 3, 3))``.
        leg_poses: (global_orient, body_pose) of candidate frames (e.g. the split's mocap bank);
            those with one knee within ``max_flexion`` degrees of rest and the other within
            ``other_max`` give the legs.
        share: fraction of each draw with straight legs (0..1).
        max_flexion: degrees of knee rotation away from rest still counted as straight.
        other_max: the other knee's limit (a walking stance).

    Returns:
        ``draw(n, rng)`` of the same form (float32), the straight ones shuffled in.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], not {share}")
    go_all, bp_all = (np.asarray(a, np.float32) for a in leg_poses)
    flex = knee_flexion(bp_all)
    keep = (flex.min(axis=1) <= max_flexion) & (flex.max(axis=1) <= other_max)
    if not keep.any():
        raise ValueError(f"no pose with a knee within {max_flexion} deg of straight")
    go_s, bp_s = go_all[keep], bp_all[keep]
    legs = [ANNY_POSE_BONES.index(b) for b in LEG_BONES]
    logger.info("straight-leg source: %d of %d frames, share %.2f", len(go_s), len(go_all), share)

    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        go, bp = (np.array(a, np.float32) for a in base_draw(n, rng))
        k = int(math.floor(share * n + 0.5))
        if k:
            which = rng.choice(n, k, replace=False)
            src = rng.integers(0, len(go_s), k)
            go[which] = go_s[src]
            bp[which[:, None], legs] = bp_s[src][:, legs]
        return go, bp

    return draw
