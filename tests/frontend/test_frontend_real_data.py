"""Readers on the real sample files in ../shared/data/real (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lasor.frontend import (
    FrontendError,
    load_image,
    read_boxes,
    read_coco_dataset,
    read_coco_keypoints,
    read_mask,
    read_openpose,
)


def test_coco_sample_polygons(real_data: Path):
    path = real_data / "coco" / "test_coco.json"
    dataset = read_coco_dataset(path)
    raw = json.loads(path.read_text())
    assert len(dataset) == 4
    assert sum(len(people) for people in dataset.values()) == len(raw["annotations"]) == 14
    sizes = {i["file_name"]: (i["height"], i["width"]) for i in raw["images"]}
    people = [p for name, ps in dataset.items() for p in ps]
    for person, ann in zip(people, raw["annotations"], strict=True):
        name = next(i["file_name"] for i in raw["images"] if i["id"] == ann["image_id"])
        assert person.mask.shape == sizes[name]
        assert person.num_visible == ann["num_keypoints"]
        if ann["area"] > 5000:  # rasterized area within 2 % of the exact polygon area
            assert person.mask.sum() == pytest.approx(ann["area"], rel=0.02)
        # the visible keypoints lie near the box (COCO boxes bound the polygon, and a few
        # keypoints, e.g. feet, fall up to ~8 % of the box size outside it)
        seen = person.keypoints[person.confidence > 0]
        x0, y0, x1, y1 = person.bbox
        tol = 0.15 * max(x1 - x0, y1 - y0)
        assert np.all((seen[:, 0] >= x0 - tol) & (seen[:, 0] <= x1 + tol))
        assert np.all((seen[:, 1] >= y0 - tol) & (seen[:, 1] <= y1 + tol))
    one = read_coco_keypoints(path, real_data / "coco" / "000000000785.jpg")
    assert len(one) == 1 and one[0].num_visible == 17


def test_ochuman_sample_compressed_rle(real_data: Path):
    path = real_data / "ochuman" / "test_ochuman.json"
    dataset = read_coco_dataset(path)
    assert [len(v) for v in dataset.values()] == [1, 2, 2]
    for name, people in dataset.items():
        h, w = load_image(real_data / "ochuman" / name).shape[:2]
        for person in people:
            mask = person.mask
            assert mask.shape == (h, w) and mask.sum() > 10_000
            # the decoded silhouette lies (mostly: in 000817.jpg the occluded person's mask is
            # nearly the front person's) inside its annotated box ...
            x0, y0, x1, y1 = person.bbox.astype(int)
            assert mask[y0:y1, x0:x1].sum() >= 0.75 * mask.sum()
            # ... and covers most of its (often occluded) labelled keypoints
            kp = np.round(person.keypoints[person.confidence > 0]).astype(int)
            kp[:, 0] = kp[:, 0].clip(0, w - 1)
            kp[:, 1] = kp[:, 1].clip(0, h - 1)
            assert mask[kp[:, 1], kp[:, 0]].mean() > 0.7


def test_openpose_body25_sample_and_mask(real_data: Path):
    photos = real_data / "photos"
    image = load_image(photos / "ssp3dpr3_mousavi.png")
    (person,) = read_openpose(photos / "ssp3dpr3_mousavi_keypoints.json")
    assert person.num_visible == 17
    # the person faces the camera: their right side is on the image's left
    assert person.keypoints[6, 0] < person.keypoints[5, 0]  # shoulders
    assert person.keypoints[2, 0] < person.keypoints[1, 0]  # eyes
    assert person.keypoints[0, 1] < person.keypoints[5, 1] < person.keypoints[11, 1]
    mask = read_mask(photos / "ssp3dpr3_mousavi_mask.png", image.shape[:2])
    assert 0.05 < mask.mean() < 0.5  # RGBA file with 0/1 values and opaque alpha
    kp = np.round(person.keypoints).astype(int)
    assert mask[kp[:, 1], kp[:, 0]].mean() > 0.8
    other = load_image(photos / "spin_im1010.jpg")
    with pytest.raises(FrontendError, match="ssp3dpr3_mousavi_mask.png.*512x512.*153x192"):
        read_mask(photos / "ssp3dpr3_mousavi_mask.png", other.shape[:2])


def test_spin_sample_openpose_and_box(real_data: Path):
    photos = real_data / "photos"
    # The data README calls this file COCO-18, but it has 25 keypoints (BODY_25): index 8 is the
    # mid-hip, halfway between indices 9 and 12 (the hips).
    raw = json.loads((photos / "spin_im1010_openpose.json").read_text())
    values = np.array(raw["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
    assert len(values) == 25
    np.testing.assert_allclose(values[8, :2], (values[9, :2] + values[12, :2]) / 2, atol=1.0)
    (person,) = read_openpose(photos / "spin_im1010_openpose.json")
    (box,) = read_boxes(photos / "spin_im1010_bbox.json")  # {"bbox": [x, y, w, h]}
    np.testing.assert_allclose(box, [17, 37, 134, 179])
    seen = person.keypoints[person.confidence > 0]
    assert np.all((seen[:, 0] >= box[0]) & (seen[:, 0] <= box[2]))
    assert np.all((seen[:, 1] >= box[1]) & (seen[:, 1] <= box[3]))


def test_all_sample_photos_load(real_data: Path):
    photos = sorted((real_data / "photos").glob("*.png")) + sorted(
        (real_data / "photos").glob("*.jpg")
    )
    assert len(photos) >= 11
    for path in photos:
        img = load_image(path)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, path.name
