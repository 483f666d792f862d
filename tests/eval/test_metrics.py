"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from lasor.eval.metrics import (
    fit_similarity,
    mpjpe,
    pa_mpjpe,
    pck,
    procrustes_align,
    pve,
    pve_t_sc,
    silhouette_iou,
)


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' formula, for building test data."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


@pytest.fixture
def joints() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, 17, 3))


# ---------------------------------------------------------------------------------- MPJPE


def test_mpjpe_one_unit_offset_on_one_of_four_joints():
    target = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    pred = target.copy()
    pred[2, 0] += 1.0
    assert mpjpe(pred, target, align="none") == pytest.approx(0.25)
    assert mpjpe(pred, target, align="pelvis", root=0) == pytest.approx(0.25)
    np.testing.assert_allclose(mpjpe(pred, target, align="none", per_joint=True), [0, 0, 1, 0])


def test_mpjpe_pelvis_alignment_removes_translation(joints):
    pred = joints + np.array([0.3, -0.4, 0.0])  # |t| = 0.5
    np.testing.assert_allclose(mpjpe(pred, joints), [0, 0], atol=1e-12)
    np.testing.assert_allclose(mpjpe(pred, joints, align="none"), [0.5, 0.5])


def test_mpjpe_mid_hip_root():
    target = np.array([[-1.0, 0, 0], [1, 0, 0], [0, 2, 0]])
    pred = target.copy()
    pred[0] += [0, 0, 2.0]  # moves the mid-hip by (0, 0, 1)
    # after mid-hip alignment: joint 0 is off by 1, joint 1 by 1, joint 2 by 1
    assert mpjpe(pred, target, root=(0, 1)) == pytest.approx(1.0)
    # with joint 0 as root, only joints 1 and 2 are off, by 2 each
    assert mpjpe(pred, target, root=0) == pytest.approx(4 / 3)


def test_mpjpe_visibility_and_empty_sample():
    target = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[:, 2] = 100.0
    visible = np.array([[1, 1, 0], [0, 0, 0]])
    out = mpjpe(pred, target, align="none", visible=visible)
    assert out[0] == 0.0 and np.isnan(out[1])
    per_joint = mpjpe(pred, target, align="none", visible=visible, per_joint=True)
    assert np.isnan(per_joint[0, 2]) and per_joint[0, 0] == 0.0


def test_mpjpe_shapes_and_inputs_untouched(joints):
    pred = joints + 0.1
    before = pred.copy()
    assert mpjpe(pred, joints).shape == (2,)
    assert mpjpe(pred[0], joints[0]).shape == ()
    np.testing.assert_array_equal(pred, before)
    with pytest.raises(ValueError):
        mpjpe(pred, joints[:, :5])
    with pytest.raises(ValueError):
        mpjpe(pred, joints, align="hips")


def test_metrics_accept_torch_tensors(joints):
    torch = pytest.importorskip("torch")
    pred = torch.tensor(joints + 0.2, requires_grad=True)
    out = mpjpe(pred, torch.tensor(joints), align="none")
    np.testing.assert_allclose(out, np.full(2, np.sqrt(3 * 0.04)))


# ---------------------------------------------------------------------------------- Procrustes


def test_pa_mpjpe_recovers_similarity_exactly(joints):
    rot = _rotation([1, 2, 3], 0.7)
    target = 2.5 * joints @ rot.T + np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(pa_mpjpe(joints, target), [0, 0], atol=1e-10)
    transform = fit_similarity(joints, target)
    np.testing.assert_allclose(transform.scale, [2.5, 2.5])
    np.testing.assert_allclose(transform.rotation, np.stack([rot, rot]), atol=1e-10)
    np.testing.assert_allclose(transform.translation, [[1, -2, 3]] * 2, atol=1e-10)
    np.testing.assert_allclose(procrustes_align(joints, target), target, atol=1e-10)
    np.testing.assert_allclose(procrustes_align(joints[0], target[0]), target[0], atol=1e-10)


def test_pa_mpjpe_reflection_is_not_allowed():
    # Source with principal extents 2 > 1 > 0.5; target mirrors x. The best *proper* rotation is a
    # half turn about y (flipping x and z), scale (8 + 2 - 0.5) / (8 + 2 + 0.5) = 19/21. Residuals:
    # x-points 2 * 2/21, y-points 1 * 2/21, z-points 0.5 * (1 + 19/21); mean = 26/63.
    src = np.array([[2.0, 0, 0], [-2, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 0.5], [0, 0, -0.5]])
    tgt = src * np.array([-1.0, 1, 1])
    assert pa_mpjpe(src, tgt) == pytest.approx(26 / 63)
    transform = fit_similarity(src, tgt)
    assert np.linalg.det(transform.rotation[0]) == pytest.approx(1.0)
    assert transform.scale[0] == pytest.approx(19 / 21)
    np.testing.assert_allclose(transform.rotation[0], np.diag([-1.0, 1, -1]), atol=1e-12)


def test_pa_mpjpe_planar_mirror_is_a_rotation():
    # a mirrored *planar* point set is reachable by a proper rotation (half turn in 3D)
    src = np.array([[0.0, 0, 0], [1, 0, 0], [0, 2, 0], [3, 1, 0]])
    tgt = src * np.array([-1.0, 1, 1])
    assert pa_mpjpe(src, tgt) == pytest.approx(0.0, abs=1e-10)
    assert np.linalg.det(fit_similarity(src, tgt).rotation[0]) == pytest.approx(1.0)


def test_pa_mpjpe_ignores_invisible_joints(joints):
    rot = _rotation([0, 0, 1], 0.3)
    target = joints @ rot.T
    pred = joints.copy()
    pred[:, 5] += 10.0  # a wild joint that is marked invisible
    visible = np.ones((2, 17))
    visible[:, 5] = 0
    np.testing.assert_allclose(pa_mpjpe(pred, target, visible=visible), [0, 0], atol=1e-10)
    assert np.all(pa_mpjpe(pred, target) > 0.1)
    per_joint = pa_mpjpe(pred, target, visible=visible, per_joint=True)
    assert per_joint.shape == (2, 17) and np.isnan(per_joint[:, 5]).all()


# ---------------------------------------------------------------------------------- PVE


def test_pve_alignments(joints):
    verts = joints
    shifted = verts + np.array([0.0, 3.0, 4.0])  # |t| = 5
    np.testing.assert_allclose(pve(shifted, verts), [0, 0], atol=1e-12)
    np.testing.assert_allclose(pve(shifted, verts, align="none"), [5, 5])
    root = verts[:, 0]
    np.testing.assert_allclose(
        pve(shifted, verts, align="root", pred_root=root + [0, 3, 4], target_root=root),
        [0, 0],
        atol=1e-12,
    )
    rot = _rotation([1, 0, 0], 1.0)
    moved = 0.5 * verts @ rot.T
    np.testing.assert_allclose(pve(moved, verts, align="procrustes"), [0, 0], atol=1e-10)
    with pytest.raises(ValueError):
        pve(shifted, verts, align="root")


def test_pve_one_vertex_off():
    target = np.zeros((4, 3))
    pred = target.copy()
    pred[1] = [2.0, 0, 0]
    assert pve(pred, target, align="none") == pytest.approx(0.5)


# ---------------------------------------------------------------------------------- PVE-T-SC

_T_TARGET = np.array([[-1.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0]])


def test_pve_t_sc_invariant_to_scale_and_translation():
    pred = 1.7 * _T_TARGET + np.array([5.0, -1, 2])
    for mode in ("rms", "lsq", "height"):
        assert pve_t_sc(pred, _T_TARGET, scale=mode) == pytest.approx(0.0, abs=1e-12)


def test_pve_t_sc_hand_computed():
    pred = np.array([[-2.0, 0, 0], [2, 0, 0], [0, 0, 0], [0, 0, 0]])
    # rms: s = sqrt(4 / 8); x-points land at +-sqrt(2) (error sqrt(2) - 1), the others are 1 off
    assert pve_t_sc(pred, _T_TARGET) == pytest.approx(np.sqrt(2) / 2)
    # lsq: s = <P, T> / <P, P> = 4 / 8; x-points exact, the others 1 off
    assert pve_t_sc(pred, _T_TARGET, scale="lsq") == pytest.approx(0.5)
    # height: y extents 1 vs 2 -> s = 2; x-points 3 off, y-points exact
    pred_h = np.array([[-2.0, 0, 0], [2, 0, 0], [0, 0.5, 0], [0, -0.5, 0]])
    assert pve_t_sc(pred_h, _T_TARGET, scale="height") == pytest.approx(1.5)
    batched = pve_t_sc(np.stack([pred, 3 * _T_TARGET]), np.stack([_T_TARGET, _T_TARGET]))
    np.testing.assert_allclose(batched, [np.sqrt(2) / 2, 0.0], atol=1e-12)


# ---------------------------------------------------------------------------------- IoU


def test_silhouette_iou_known_overlap():
    pred = np.zeros((4, 4), bool)
    pred[:, :2] = True  # left half
    target = np.zeros((4, 4), bool)
    target[:2] = True  # top half
    assert silhouette_iou(pred, target) == pytest.approx(4 / 12)
    assert silhouette_iou(pred, pred) == 1.0
    assert silhouette_iou(pred, ~pred) == 0.0
    empty = np.zeros((4, 4), bool)
    batched = silhouette_iou(np.stack([pred, empty]), np.stack([target, empty]))
    np.testing.assert_allclose(batched, [1 / 3, 1.0])
    # non-zero means person, whatever the dtype
    assert silhouette_iou(pred.astype(np.uint8) * 255, target) == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------- PCK


def test_pck_known_distances():
    target = np.zeros((2, 4, 2))
    offsets = np.array([0.0, 5.0, 10.0, 15.0])
    pred = target.copy()
    pred[:, :, 0] = offsets  # distances 0, 5, 10, 15
    bbox = np.array([[0, 0, 100, 50], [0, 0, 20, 40]])  # thresholds 10 and 4
    visible = np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
    res = pck(pred, target, visible, bbox, alpha=0.1)
    np.testing.assert_allclose(res.threshold, [10.0, 4.0])
    np.testing.assert_allclose(res.per_image, [3 / 4, 1 / 3])  # image 2: only the 0-px joint
    np.testing.assert_allclose(res.per_joint, [1.0, 0.5, 0.5, 0.0])
    assert res.overall == pytest.approx(4 / 7)
    assert res.correct.shape == (2, 4) and not res.correct[1, 3]


def test_pck_no_visible_joint_is_nan():
    res = pck(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3), [0, 0, 10, 10])
    assert np.isnan(res.per_image[0]) and np.isnan(res.overall)
    assert np.isnan(res.per_joint).all()
