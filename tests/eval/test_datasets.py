"""Evaluation item type, keypoint maps, safe file readers and the COCO / MPII loaders on tiny
fabricated files (the real-data checks are in test_datasets_real.py)."""

from __future__ import annotations

import fractions
import json
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lasor.body.joints import COCO17_JOINTS
from lasor.eval import datasets
from lasor.eval.datasets import (
    H36M_FROM_COCO,
    MPII16_JOINTS,
    MPII_FROM_COCO,
    CameraIntrinsics,
    EvalItem,
    gt_observation,
    match_keypoints,
    read_image_size,
    read_npz,
    read_pickle,
)
from lasor.eval.datasets_real import load_coco_gt, load_mpii_gt
from lasor.eval.metrics import pck

# ------------------------------------------------------------------------------------------------
# EvalItem and CameraIntrinsics


def test_eval_item_validates_and_copies():
    kp = np.zeros((17, 2))
    item = EvalItem(image_path="a.jpg", name="x", dataset="d", gt_keypoints=kp, bbox=[0, 0, 2, 3])
    assert isinstance(item.image_path, Path)
    assert item.gt_keypoints.dtype == np.float32 and item.bbox.dtype == np.float32
    assert item.gt_visible.dtype == bool and item.gt_visible.all()  # default: all labelled
    kp[0] = 5.0
    assert item.gt_keypoints[0, 0] == 0.0  # copied, not aliased
    mask = np.zeros((4, 6), dtype=np.uint8)
    assert EvalItem("a.jpg", "x", "d", gt_mask=mask).image_size == (4, 6)
    with pytest.raises(ValueError, match="gt_keypoints"):
        EvalItem("a.jpg", "x", "d", keypoint_format="mpii16", gt_keypoints=np.zeros((17, 2)))
    with pytest.raises(ValueError, match="keypoint_format"):
        EvalItem("a.jpg", "x", "d", keypoint_format="lsp14")
    with pytest.raises(ValueError, match="image_size"):
        EvalItem("a.jpg", "x", "d", gt_mask=mask, image_size=(6, 4))
    with pytest.raises(ValueError, match="gt_joints3d"):
        EvalItem("a.jpg", "x", "d", gt_joints3d=np.zeros((14, 3)))


def test_camera_projection():
    cam = CameraIntrinsics(focal=[1000.0, 1100.0], principal_point=[500.0, 400.0])
    assert np.allclose(cam.K, [[1000, 0, 500], [0, 1100, 400], [0, 0, 1]])
    assert np.allclose(CameraIntrinsics.from_matrix(cam.K).K, cam.K)
    pts = np.array([[0.3, -0.2, 5.0], [0.0, 0.0, 2.0]])
    assert np.allclose(cam.project(pts), [[560.0, 356.0], [500.0, 400.0]])
    # Human3.6M distortion model, by hand for one point
    k1, k2, k3, p1, p2 = 0.1, -0.05, 0.01, 0.002, -0.003
    dist = CameraIntrinsics([1000.0, 1100.0], [500.0, 400.0], [k1, k2, k3], [p1, p2])
    x, y = 0.06, -0.04
    r2 = x * x + y * y
    d = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3 + p1 * y + p2 * x
    expected = [1000 * (x * d + p2 * r2) + 500, 1100 * (y * d + p1 * r2) + 400]
    assert np.allclose(dist.project(pts[:1]), [expected])
    assert np.allclose(
        CameraIntrinsics(cam.focal, cam.principal_point, [0, 0, 0], [0, 0]).project(pts),
        cam.project(pts),
    )


# ------------------------------------------------------------------------------------------------
# Keypoint maps


def test_joint_maps_pair_the_same_joints():
    assert len(MPII_FROM_COCO) == len(H36M_FROM_COCO) == 12
    for m, c in MPII_FROM_COCO.items():
        assert MPII16_JOINTS[m] == COCO17_JOINTS[c]
    for h, c in H36M_FROM_COCO.items():
        assert datasets.KEYPOINT_NAMES["h36m17"][h] == COCO17_JOINTS[c]
    assert set(MPII16_JOINTS) - {MPII16_JOINTS[m] for m in MPII_FROM_COCO} == {
        "pelvis", "thorax", "upper_neck", "head_top",
    }  # fmt: skip


def test_match_keypoints_and_pck():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (16, 2))
    visible = np.ones(16, dtype=bool)
    visible[[0, 9]] = False  # r-ankle (mapped) and head top (not mapped)
    item = EvalItem(
        "a.jpg",
        "m",
        "mpii",
        keypoint_format="mpii16",
        gt_keypoints=gt,
        gt_visible=visible,
        bbox=[0, 0, 100, 100],
    )
    pred = np.zeros((17, 2))
    for m, c in MPII_FROM_COCO.items():
        pred[c] = gt[m]
    pred[COCO17_JOINTS.index("left_wrist")] += 50.0  # one wrong joint
    match = match_keypoints(pred, item)
    assert match.pred.shape == match.gt.shape == (12, 2)
    assert match.names[0] == "right_ankle" and not match.visible[0]
    assert match.visible.sum() == 11
    result = pck(match.pred, match.gt, match.visible, item.bbox)
    assert result.overall == pytest.approx(10 / 11)
    coco_item = EvalItem("a.jpg", "c", "coco", gt_keypoints=np.ones((17, 2)))
    assert match_keypoints(np.ones((17, 2)), coco_item).gt.shape == (17, 2)
    with pytest.raises(ValueError, match="no ground-truth 2D keypoints"):
        match_keypoints(pred, EvalItem("a.jpg", "n", "d"))
    with pytest.raises(ValueError, match=r"\(17, 2\)"):
        match_keypoints(np.zeros((16, 2)), item)


def test_gt_observation():
    gt = np.arange(34, dtype=float).reshape(17, 2)
    item = EvalItem("a.jpg", "h", "h36m", keypoint_format="h36m17", gt_keypoints=gt)
    obs = gt_observation(item)
    assert obs.num_visible == 12
    for h, c in H36M_FROM_COCO.items():
        assert np.allclose(obs.keypoints[c], gt[h])
    assert obs.confidence[0] == 0.0  # nose: no H36M counterpart
    scored = EvalItem(
        "a.jpg",
        "s",
        "x",
        gt_keypoints=np.ones((17, 2)) * 5,
        extra={"keypoint_confidence": np.full(17, 0.4)},
    )
    assert np.allclose(gt_observation(scored).confidence, 0.4)
    assert gt_observation(EvalItem("a.jpg", "e", "x")) is None
    masked = EvalItem("a.jpg", "m", "x", gt_mask=np.pad(np.ones((2, 3)), 2))
    obs = gt_observation(masked)
    assert obs.num_visible == 0 and np.allclose(obs.bbox, [1.5, 1.5, 4.5, 3.5])


# ------------------------------------------------------------------------------------------------
# Safe readers


def test_read_pickle_latin1_arrays_and_refusal(tmp_path: Path):
    data = {"a": np.arange(6.0).reshape(2, 3), "genders": ["m", "f"], "n": np.float32(2.5)}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    out = read_pickle(path)
    assert np.array_equal(out["a"], data["a"]) and out["genders"] == ["m", "f"]
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"x": OrderedDict(a=1)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="collections.OrderedDict"):
        read_pickle(bad)
    with pytest.raises(FileNotFoundError):
        read_pickle(tmp_path / "missing.pkl")


def test_read_npz_plain_and_object_arrays(tmp_path: Path):
    path = tmp_path / "labels.npz"
    names = np.array(["a.png", "bb.png"], dtype=object)
    np.savez(path, x=np.ones((2, 3)), names=names, s=np.array(["m", "f"]))
    out = read_npz(path)
    assert out["x"].shape == (2, 3) and list(out["names"]) == ["a.png", "bb.png"]
    assert list(out["s"]) == ["m", "f"]
    evil = tmp_path / "evil.npz"
    np.savez(evil, v=np.array([fractions.Fraction(1, 3)], dtype=object))
    with pytest.raises(pickle.UnpicklingError, match="fractions.Fraction"):
        read_npz(evil)
    (tmp_path / "no.npz").write_text("hello")
    with pytest.raises(ValueError, match="not an .npz"):
        read_npz(tmp_path / "no.npz")


def test_read_image_size(tmp_path: Path):
    Image.new("RGB", (7, 4)).save(tmp_path / "a.png")
    assert read_image_size(tmp_path / "a.png") == (4, 7)
    with pytest.raises(FileNotFoundError):
        read_image_size(tmp_path / "b.png")


def test_lazy_reexports():
    from lasor.eval import datasets_3dpw_ssp3d, datasets_real

    assert datasets.load_real_suite is datasets_real.load_real_suite
    assert datasets.ThreeDPW is datasets_3dpw_ssp3d.ThreeDPW
    assert "SSP3D" in dir(datasets)
    with pytest.raises(AttributeError):
        _ = datasets.no_such_loader


# ------------------------------------------------------------------------------------------------
# COCO and MPII loaders on fabricated files


def _kp(n_labelled: int, v: int = 2) -> list[float]:
    out = []
    for j in range(17):
        out += [10.0 + j, 20.0 + j, v] if j < n_labelled else [0, 0, 0]
    return out


def test_load_coco_gt_keep_rule(tmp_path: Path):
    Image.new("RGB", (40, 30)).save(tmp_path / "img.jpg")
    square = [[5, 5, 15, 5, 15, 25, 5, 25]]
    anns = [
        {"id": 1, "image_id": 7, "category_id": 1, "keypoints": _kp(6), "bbox": [1, 2, 10, 20]},
        {"id": 2, "image_id": 7, "category_id": 1, "keypoints": _kp(5)},  # dropped
        {"id": 3, "image_id": 7, "category_id": 1, "keypoints": _kp(0), "segmentation": square},
        {"id": 4, "image_id": 7, "category_id": 1, "keypoints": _kp(17), "iscrowd": 1},
        {"id": 5, "image_id": 7, "category_id": 2, "keypoints": _kp(17)},  # not a person
        {"id": 6, "image_id": 7, "category_id": 1, "keypoints": _kp(8, v=1), "segmentation": []},
    ]
    coco = {
        "images": [{"id": 7, "file_name": "img.jpg", "height": 30, "width": 40}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco))
    items = load_coco_gt(path, tmp_path, dataset="ochuman")
    assert [i.extra["annotation_id"] for i in items] == [1, 3, 6]
    first, masked, occluded = items
    assert first.name == "ochuman/img/1" and first.dataset == "ochuman"
    assert np.allclose(first.bbox, [1, 2, 11, 22])
    assert first.num_visible == 6 and first.gt_mask is None and first.image_size == (30, 40)
    assert masked.num_visible == 0 and masked.gt_mask.shape == (30, 40)
    assert masked.gt_mask.sum() == pytest.approx(200, rel=0.1)  # the 10 x 20 square
    assert np.allclose(masked.bbox, [4.5, 4.5, 14.5, 24.5], atol=1)  # tight box of the mask
    assert occluded.num_visible == 8 and list(occluded.extra["keypoint_flags"][:8]) == [1] * 8
    assert len(load_coco_gt(path, tmp_path, min_keypoints=5)) == 4
    assert len(load_coco_gt(path, tmp_path, include_crowd=True)) == 4
    (tmp_path / "img.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="img.jpg"):
        load_coco_gt(path, tmp_path)


def test_load_mpii_gt_one_based(tmp_path: Path):
    Image.new("RGB", (200, 100)).save(tmp_path / "p.jpg")
    joints = [[10.0 + 5 * j, 20.0 + 2 * j] for j in range(16)]
    joints[0] = [-1.0, -1.0]
    vis = [0] + [1] * 15
    entry = {
        "image": "p.jpg",
        "joints": joints,
        "joints_vis": vis,
        "center": [51, 41],
        "scale": 0.3,
    }
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([entry, entry]))
    items = load_mpii_gt(path, tmp_path)
    assert [i.name for i in items] == ["mpii/p/0", "mpii/p/1"]
    item = items[0]
    assert item.keypoint_format == "mpii16" and item.num_visible == 15
    assert np.allclose(item.gt_keypoints[1], [14.0, 21.0])  # 1-based -> 0-based
    assert np.allclose(item.gt_keypoints[0], 0.0) and not item.gt_visible[0]
    assert np.allclose(item.bbox, [20.0, 10.0, 80.0, 70.0])  # side 0.3 * 200 around (50, 40)
    assert item.extra["head_size"] == pytest.approx(np.hypot(5, 2))
    assert item.image_size == (100, 200)
    raw = load_mpii_gt(path, tmp_path, one_based=False)[0]
    assert np.allclose(raw.gt_keypoints[1], [15.0, 22.0])
    path.write_text(json.dumps([{"image": "p.jpg", "joints": joints[:3]}]))
    with pytest.raises(Exception, match="entry #0"):
        load_mpii_gt(path, tmp_path)
