"""The real-photo ground-truth loaders on ../shared/data/real (skipped when absent).

The expected numbers were read off the files by hand; they pin down what each loader found.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lasor.eval.datasets import EvalItem, gt_observation, match_keypoints, read_image_size
from lasor.eval.datasets_real import (
    load_coco_gt,
    load_h36m_cameras,
    load_h36m_gt,
    load_mpii_gt,
    load_real_suite,
    load_spin_sample,
    load_ssp3d_sample,
)
from lasor.eval.metrics import pck

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@pytest.fixture(scope="module")
def real() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"shared test data not found at {REAL} (needs ../shared/data next to the repo)")
    return REAL


def _on_mask(item: EvalItem) -> float:
    """Fraction of the labelled keypoints that fall on the person's mask."""
    kp = item.gt_keypoints[item.gt_visible]
    h, w = item.gt_mask.shape
    x = np.clip(np.round(kp[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(kp[:, 1]).astype(int), 0, h - 1)
    return float(item.gt_mask[y, x].mean())


def _in_image(item: EvalItem) -> bool:
    kp = item.gt_keypoints[item.gt_visible]
    h, w = item.image_size
    return bool(((kp >= -0.5) & (kp <= [w - 0.5, h - 0.5])).all())


def test_real_suite_counts(real: Path):
    items = load_real_suite(real)
    assert Counter(i.dataset for i in items) == {
        "coco": 14, "ochuman": 5, "mpii": 5, "h36m": 4, "ssp3d_sample": 1, "spin_sample": 1,
    }  # fmt: skip
    assert len({i.name for i in items}) == len(items) == 30
    for item in items:
        assert item.image_path.is_file()
        assert read_image_size(item.image_path) == item.image_size
        assert item.bbox is not None and item.gt_keypoints is not None
    with_unlabelled = load_real_suite(real, include_unlabelled=True)
    photos = [i for i in with_unlabelled if i.dataset == "photos"]
    assert len(photos) == 11 and all(i.gt_keypoints is None for i in photos)


def test_real_suite_skips_missing_parts(real: Path, tmp_path: Path, caplog):
    root = tmp_path / "real"
    root.mkdir()
    (root / "mpii").symlink_to(real / "mpii")  # only one part present (linked, not copied)
    with caplog.at_level(logging.WARNING, logger="lasor.eval.datasets_real"):
        items = load_real_suite(root)
    assert Counter(i.dataset for i in items) == {"mpii": 5}
    assert "skipping coco" in caplog.text and "skipping h36m" in caplog.text
    assert "skipping spin_sample" in caplog.text
    with pytest.raises(FileNotFoundError):
        load_real_suite(tmp_path / "nowhere")


def test_coco(real: Path):
    raw = json.loads((real / "coco" / "test_coco.json").read_text())
    items = load_coco_gt(real / "coco" / "test_coco.json", real / "coco")
    assert len(items) == 14 and len({i.image_path for i in items}) == 4
    assert [i.num_visible for i in items] == [a["num_keypoints"] for a in raw["annotations"]]
    assert sorted(i.num_visible for i in items)[:3] == [0, 0, 12]  # 2 mask-only people
    for item, ann in zip(items, raw["annotations"], strict=True):
        assert item.gt_mask is not None and item.gt_mask.shape == item.image_size
        assert _in_image(item)
        if ann["area"] > 5000:  # rasterized polygons within 2 % of COCO's exact area
            assert item.gt_mask.sum() == pytest.approx(ann["area"], rel=0.02)
        if item.num_visible:  # keypoints and mask line up (catches x/y or row/column swaps)
            assert _on_mask(item) >= 0.5
    assert np.mean([_on_mask(i) for i in items if i.num_visible]) > 0.85


def test_ochuman(real: Path):
    items = load_coco_gt(
        real / "ochuman" / "test_ochuman.json", real / "ochuman", dataset="ochuman"
    )
    assert len(items) == 5 and len({i.image_path for i in items}) == 3
    assert [i.num_visible for i in items] == [17, 16, 13, 12, 15]
    for item in items:  # RLE masks at the image size, keypoints mostly on the (visible) mask
        assert item.gt_mask.shape == item.image_size and item.gt_mask.sum() > 50_000
        assert _in_image(item) and _on_mask(item) >= 0.7


def test_mpii(real: Path):
    raw = json.loads((real / "mpii" / "test_mpii.json").read_text())
    items = load_mpii_gt(real / "mpii" / "test_mpii.json", real / "mpii")
    assert [i.num_visible for i in items] == [16, 16, 14, 14, 16]
    for item, entry in zip(items, raw, strict=True):
        assert item.keypoint_format == "mpii16" and _in_image(item)
        joints = np.array(entry["joints"])
        vis = item.gt_visible
        assert np.allclose(item.gt_keypoints[vis], joints[vis] - 1.0)  # 0-based
        side = item.bbox[2] - item.bbox[0]
        assert side == pytest.approx(200 * entry["scale"], rel=1e-5)
        extent = np.ptp(item.gt_keypoints[vis], axis=0).max()
        assert 1.1 < side / extent < 1.55
        assert 50 < item.extra["head_size"] < 200
    missing = [i for i in items if i.num_visible == 14]
    assert all(not i.gt_visible[0] and not i.gt_visible[5] for i in missing)  # both ankles
    # our COCO-17 keypoints at the GT positions score PCK 1 on the 12 shared joints
    for item in items:
        pred = gt_observation(item).keypoints
        match = match_keypoints(pred, item)
        assert pck(match.pred, match.gt, match.visible, item.bbox).overall == 1.0


def test_h36m_units_axes_and_cameras(real: Path):
    h36m = real / "h36m"
    items = load_h36m_gt(h36m / "test_h36m_body3d.npz", h36m, h36m / "cameras.pkl")
    assert [(i.extra["subject"], i.extra["action"], i.extra["camera_id"]) for i in items] == [
        ("S1", "Directions_1", "54138969"),
        ("S5", "SittingDown", "54138969"),
        ("S7", "Greeting", "55011271"),
        ("S8", "WalkDog_1", "55011271"),
    ]
    for item in items:
        s = item.gt_joints3d.astype(np.float64)
        assert item.num_visible == 17 and item.extra["joints3d_visible"].all()
        # metres: human bone lengths; left and right equal (H36M skeleton)
        thigh_r, thigh_l = np.linalg.norm(s[1] - s[2]), np.linalg.norm(s[4] - s[5])
        assert 0.40 < thigh_r < 0.47 and thigh_r == pytest.approx(thigh_l, abs=1e-4)
        assert 0.2 < np.linalg.norm(s[1] - s[4]) < 0.32
        assert np.all((s[:, 2] > 4.0) & (s[:, 2] < 7.5))  # z forward, a few metres away
        # pelvis is the mid-point of the hips
        assert np.linalg.norm(s[0] - (s[1] + s[4]) / 2) < 1e-5
        # y points down: the head is above (smaller y than) the pelvis
        assert s[10, 1] < s[0, 1] - 0.3
        # the stored 2D joints are the distorted projection of the 3D joints
        assert np.abs(item.camera.project(s) - item.gt_keypoints).max() < 1e-3
        # extrinsics: X_world = R X_cam + T puts the feet on the floor (world z up)
        world = s @ item.extra["R"].T + item.extra["T"]
        assert -0.05 < world[:, 2].min() < 0.15
        assert np.allclose(item.bbox[2:] - item.bbox[:2], 200 * item.extra["scale"], rtol=1e-5)
        kp = item.gt_keypoints
        assert np.all((kp >= item.bbox[:2]) & (kp <= item.bbox[2:]))
    standing = [i for i in items if i.extra["action"] != "SittingDown"]
    for item in standing:
        world = item.gt_joints3d.astype(np.float64) @ item.extra["R"].T + item.extra["T"]
        assert 1.4 < world[10, 2] < 1.9  # head height
    assert items[2].image_size == (1002, 1000) and items[2].camera.image_size == (1000, 1000)
    no_cam = load_h36m_gt(h36m / "test_h36m_body3d.npz", h36m)
    assert all(i.camera is None and "R" not in i.extra for i in no_cam)
    cameras = load_h36m_cameras(h36m / "cameras.pkl")
    assert len(cameras) == 44 and cameras[("S1", "54138969")]["T"].shape == (3,)


def test_h36m_pck_on_shared_joints(real: Path):
    h36m = real / "h36m"
    item = load_h36m_gt(h36m / "test_h36m_body3d.npz", h36m)[0]
    match = match_keypoints(gt_observation(item).keypoints, item)
    assert len(match.names) == 12 and match.visible.all()
    assert np.allclose(match.pred, match.gt)


def test_ssp3d_sample(real: Path):
    item = load_ssp3d_sample(real / "photos")
    assert item.image_size == (512, 512) and item.gt_mask.sum() == 43_634
    assert item.num_visible == 17 and _on_mask(item) >= 0.9
    conf = item.extra["keypoint_confidence"]
    assert np.all((conf > 0.5) & (conf <= 1.0))
    rows, cols = np.nonzero(item.gt_mask)
    x0, y0, x1, y1 = item.bbox
    assert x0 <= cols.min() and x1 >= cols.max() and y0 <= rows.min() and y1 >= rows.max()


def test_spin_sample(real: Path):
    item = load_spin_sample(real / "photos")
    assert item.image_size == (192, 153) and item.gt_mask is None
    assert np.allclose(item.bbox, [17, 37, 134, 179])
    assert item.num_visible == 14 and _in_image(item)
    kp = item.gt_keypoints[item.gt_visible]
    assert np.all((kp >= item.bbox[:2] - 10) & (kp <= item.bbox[2:] + 10))
