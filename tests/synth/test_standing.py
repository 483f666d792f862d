"""Straight-leg share of the training poses (``lasor.synth.standing``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lasor.body.anny_body import ANNY_POSE_BONES
from lasor.synth.standing import LEG_BONES, knee_flexion, straight_source


def _poses(n, rng, knee_deg):
    go = Rotation.from_rotvec(rng.normal(0, 0.3, (n, 3))).as_matrix().astype(np.float32)
    bp = Rotation.from_rotvec(rng.normal(0, 0.3, (n * 19, 3))).as_matrix().reshape(n, 19, 3, 3)
    for b in ("lowerleg01.L", "lowerleg01.R"):
        bp[:, ANNY_POSE_BONES.index(b)] = Rotation.from_rotvec(
            np.outer(np.radians(knee_deg), [1.0, 0.0, 0.0])
        ).as_matrix()
    return go, bp.astype(np.float32)


def test_knee_flexion_known_angles():
    rng = np.random.default_rng(0)
    _, bp = _poses(3, rng, np.array([0.0, 10.0, 90.0]))
    np.testing.assert_allclose(knee_flexion(bp), [[0, 0], [10, 10], [90, 90]], atol=1e-3)


def test_share_of_draws_gets_straight_legs_and_keeps_upper_body():
    rng = np.random.default_rng(1)
    bent = _poses(64, rng, np.full(64, 80.0))
    straight = _poses(8, rng, rng.uniform(0, 10, 8))
    mixed = _poses(4, rng, np.array([5.0, 50.0, 3.0, 90.0]))
    legs = (np.concatenate([straight[0], mixed[0]]), np.concatenate([straight[1], mixed[1]]))

    def base(n, r):
        k = r.integers(0, 64, n)
        return bent[0][k], bent[1][k]

    draw = straight_source(base, legs, share=0.25)
    go, bp = draw(40, np.random.default_rng(2))
    go0, bp0 = base(40, np.random.default_rng(2))
    flex = knee_flexion(bp)
    is_straight = np.all(flex <= 15, axis=1)
    assert is_straight.sum() == 10  # round(0.25 * 40)
    assert np.allclose(flex[~is_straight], 80.0, atol=1e-3)
    upper = [i for i, b in enumerate(ANNY_POSE_BONES) if b not in LEG_BONES]
    np.testing.assert_array_equal(bp[:, upper], bp0[:, upper])  # the draw's own upper bodies
    np.testing.assert_array_equal(bp[~is_straight], bp0[~is_straight])
    # the straight legs and roots are those of frames within 15 deg (never the 50/90 ones)
    legs_i = [ANNY_POSE_BONES.index(b) for b in LEG_BONES]
    ok = [j for j in range(12) if knee_flexion(legs[1][j : j + 1]).max() <= 15]
    assert len(ok) == 10
    for i in np.flatnonzero(is_straight):
        match = [np.allclose(go[i], legs[0][j]) and np.allclose(bp[i, legs_i],
                 legs[1][j, legs_i]) for j in ok]  # fmt: skip
        assert any(match)
    with pytest.raises(ValueError, match="share"):
        straight_source(base, legs, share=1.5)
