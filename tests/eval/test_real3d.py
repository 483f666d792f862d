"""Leg angles, crops, metrics, fusion and the observation cache of the real-3D benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lasor.eval.angles import (
    LIMB12,
    angle_errors,
    histogram,
    joint_angle,
    leg_angles,
    pose_stratum,
)
from lasor.eval.real3d import (
    Crop,
    Frame,
    _read_observation,
    _write_observation,
    frame_metrics,
    fuse,
    image_method,
    load_frames,
    square_crop,
    with_gt_limbs,
)
from lasor.frontend.types import PersonObservation

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


def standing(knee_deg: float = 180.0, hip_deg: float = 180.0) -> np.ndarray:
    """A toy H36M-17 skeleton (y down) with both legs at the given knee / hip angles."""
    j = np.zeros((17, 3))
    j[8] = [0, -0.5, 0]  # thorax above the pelvis
    j[7] = [0, -0.25, 0]
    j[9], j[10] = [0, -0.6, 0], [0, -0.75, 0]
    for hip, knee, ankle, x in ((1, 2, 3, -0.12), (4, 5, 6, 0.12)):
        j[hip] = [x, 0, 0]
        t = np.radians(180.0 - hip_deg)  # thigh swings forward (-z) from straight down
        j[knee] = j[hip] + 0.45 * np.array([0, np.cos(t), -np.sin(t)])
        s = t - np.radians(180.0 - knee_deg)  # shin folds back by the knee flexion
        j[ankle] = j[knee] + 0.43 * np.array([0, np.cos(s), -np.sin(s)])
    arms = [(0.2, -0.5), (0.25, -0.2), (0.25, 0.05), (-0.2, -0.5), (-0.25, -0.2), (-0.25, 0.05)]
    for k, (x, y) in zip(range(11, 17), arms, strict=True):
        j[k] = [x, y, 0.0]
    return j


def test_joint_angle_known_values():
    a, b = np.array([1.0, 0, 0]), np.zeros(3)
    assert joint_angle(a, b, np.array([-2.0, 0, 0])) == pytest.approx(180.0)
    assert joint_angle(a, b, np.array([0, 3.0, 0])) == pytest.approx(90.0)
    assert joint_angle(a, b, np.array([1.0, 1.0, 0])) == pytest.approx(45.0)
    assert np.isnan(joint_angle(a, b, b))


def test_leg_angles_and_strata():
    sk = np.stack([standing(), standing(90.0, 90.0), standing(120.0, 170.0)])
    a = leg_angles(sk)
    np.testing.assert_allclose(a["knee_r"], [180, 90, 120], atol=1e-6)
    # the hip angle is measured from the thorax (on the midline), so a straight leg under a
    # hip 0.12 m off the midline reads 180 - atan(0.12 / 0.5); a thigh at 90 degrees reads 90
    straight = 180.0 - np.degrees(np.arctan(0.12 / 0.5))
    np.testing.assert_allclose(a["hip_l"][:2], [straight, 90], atol=1e-6)
    assert list(pose_stratum(a)) == ["standing", "sitting", "other"]
    e = angle_errors(sk[1:2], sk[0:1])
    assert e["knee_r"][0] == pytest.approx(-90.0)
    assert e["hip_l"][0] == pytest.approx(90.0 - straight)
    h = histogram(np.array([5.0, 175.0, 180.0, np.nan]), step=10)
    assert h["0-10"] == 1 and h["170-180"] == 2 and sum(h.values()) == 3


def test_square_crop_pads_black_and_keeps_pixels():
    img = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    crop, origin = square_crop(img, np.array([2.0, 3.0]), 10)
    assert crop.shape == (10, 10, 3) and tuple(origin) == (-3.0, -2.0)
    assert (crop[:2] == 0).all() and (crop[:, :3] == 0).all()
    np.testing.assert_array_equal(crop[2:, 3:], img[0:8, 0:7])
    inside, o2 = square_crop(img, np.array([15.0, 10.0]), 8)
    np.testing.assert_array_equal(inside, img[6:14, 11:19])
    assert tuple(o2) == (11.0, 6.0)


def test_frame_metrics_zero_on_truth_and_invariances():
    gt = standing(170.0, 175.0)
    m = frame_metrics(gt, gt)
    assert m["pa_mpjpe"] == pytest.approx(0, abs=1e-6) and m["mpjpe"] == pytest.approx(0, abs=1e-6)
    assert all(abs(v) < 1e-6 for v in m["angle_err"].values())
    # a shifted copy: MPJPE aligns the hip centres; a rotated, scaled copy: PA-MPJPE is 0
    assert frame_metrics(gt + [1.0, 2.0, 3.0], gt)["mpjpe"] == pytest.approx(0, abs=1e-6)
    c, s = np.cos(0.7), np.sin(0.7)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    m2 = frame_metrics(1.3 * gt @ rot.T + 0.5, gt)
    assert m2["pa_mpjpe"] == pytest.approx(0, abs=1e-6) and m2["mpjpe"] > 10
    # bending the knees shows in the angle errors, with the sign of "more bent"
    m3 = frame_metrics(standing(140.0, 175.0), gt)
    assert m3["angle_err"]["knee_r"] == pytest.approx(-30.0, abs=1e-4)
    assert m3["pa_mpjpe"] > 0
    assert len(LIMB12) == 12 and len(set(LIMB12)) == 12 and 0 not in LIMB12


def test_fuse_aligns_without_ground_truth():
    base = standing(150.0, 170.0)
    c, s = np.cos(-1.1), np.sin(-1.1)
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    other = 0.8 * base @ rot.T - 2.0  # the same skeleton in another frame and scale
    np.testing.assert_allclose(fuse(base, other), base, atol=1e-9)
    bent = standing(90.0, 170.0)
    f = fuse(base, bent @ rot.T)
    mid = leg_angles(f)["knee_r"]
    assert 90.0 < mid < 150.0  # the average lies between the two
    np.testing.assert_allclose(fuse(base, bent, weight=0.0), base)


def _obs(world: bool = True) -> PersonObservation:
    rng = np.random.default_rng(0)
    kw = {}
    if world:
        kw = {"world_landmarks": rng.normal(size=(33, 3)),
              "landmark_visibility": rng.uniform(size=33),
              "landmark_presence": rng.uniform(size=33)}  # fmt: skip
    mask = rng.uniform(size=(13, 11)) > 0.5
    return PersonObservation(rng.uniform(0, 10, (17, 2)), rng.uniform(size=17),
                             [0, 0, 10, 12], mask=mask, source="mediapipe", **kw)  # fmt: skip


@pytest.mark.parametrize("world", [True, False])
def test_observation_cache_round_trip(tmp_path: Path, world: bool):
    obs = _obs(world)
    _write_observation(tmp_path / "o.npz", obs)
    back = _read_observation(tmp_path / "o.npz")
    np.testing.assert_array_equal(back.keypoints, obs.keypoints)
    np.testing.assert_array_equal(back.mask, obs.mask)
    assert back.source == "mediapipe" and back.has_world == world
    if world:
        np.testing.assert_array_equal(back.world_landmarks, obs.world_landmarks)
        np.testing.assert_array_equal(back.landmark_presence, obs.landmark_presence)
    _write_observation(tmp_path / "none.npz", None)
    assert _read_observation(tmp_path / "none.npz") is None


def test_with_gt_limbs_replaces_only_limbs():
    from lasor.eval.datasets import H36M_FROM_COCO

    obs = _obs()
    part = np.zeros((17, 3))
    part[:, 0], part[:, 1], part[:, 2] = np.arange(17) + 100.0, 50.0, 1.0
    fr = Frame("s9", "x", "1", Path("x.jpg"), np.zeros(2), 100.0, part, np.zeros((17, 3)))
    out = with_gt_limbs(obs, Crop(np.zeros((4, 4, 3), np.uint8), np.array([90.0, 40.0]), obs, fr))
    for h, c in H36M_FROM_COCO.items():
        np.testing.assert_allclose(out.keypoints[c], [h + 10.0, 10.0])
        assert out.confidence[c] == 1.0
    np.testing.assert_array_equal(out.keypoints[:5], obs.keypoints[:5])  # the face is kept
    np.testing.assert_array_equal(obs.keypoints, _obs().keypoints)  # input untouched


def test_load_frames_on_shared_data():
    if not (REAL / "h36m_s9").is_dir():
        pytest.skip(f"shared test data not found at {REAL}")
    frames = load_frames(REAL)
    sets = [f.set for f in frames]
    assert sets.count("h36m") == 4 and sets.count("s9") == 283
    assert all(f.image_path.is_file() for f in frames)
    assert {f.camera for f in frames if f.set == "s9"} == {"54138969", "55011271", "58860488"}
    f = frames[0]
    assert 1100 < f.focal < 1200 and f.box_side > 100
    # S is in metres, camera frame: people stand 4-7 m away; the pelvis is the hip centre
    z = np.array([fr.joints3d[0, 2] for fr in frames])
    assert (z > 3).all() and (z < 8).all()
    np.testing.assert_allclose(f.joints3d[0], 0.5 * (f.joints3d[1] + f.joints3d[4]), atol=1e-5)


def test_image_method_adapts_a_plain_callable():
    seen = []
    m = image_method(lambda img: seen.append(img.shape) or standing())
    fr = Frame("s9", "x", "1", Path("x.jpg"), np.zeros(2), 100.0, np.zeros((17, 3)), standing())
    out = m(Crop(np.zeros((6, 6, 3), np.uint8), np.zeros(2), None, fr))
    assert seen == [(6, 6, 3)] and frame_metrics(out, fr.joints3d)["pa_mpjpe"] < 1e-6
