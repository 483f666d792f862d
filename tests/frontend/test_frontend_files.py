"""Readers for user files, on tiny files written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lasor.frontend import (
    FrontendError,
    PersonObservation,
    load_image,
    read_boxes,
    read_coco_dataset,
    read_coco_keypoints,
    read_keypoints,
    read_mask,
    read_openpose,
)
from lasor.frontend.files import BODY25_TO_COCO17, COCO18_TO_COCO17, decode_rle

H, W = 20, 30


# ---------------------------------------------------------------------------------- helpers


def _runs(mask: np.ndarray) -> list[int]:
    """Column-major run lengths, starting with a (possibly empty) background run."""
    flat = mask.T.ravel().astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat[0] else runs


def _encode_rle_string(runs: list[int]) -> str:
    """The COCO API's compressed RLE string (the inverse of the reader's decoder)."""
    out = []
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def _keypoints(v: int = 2) -> list[float]:
    out: list[float] = []
    for j in range(17):
        out += [float(j), 100.0 + j, v]
    return out


def _masks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    square = np.zeros((H, W), bool)
    square[2:6, 3:9] = True  # polygon [3, 2] .. [9, 6] in pixel-edge coordinates
    blob = np.zeros((H, W), bool)
    blob[10:15, 12:20] = True
    blob[0, 0] = True  # a run at the very start
    other = np.zeros((H, W), bool)
    other[5:18, 20:29] = True
    other[-1, -1] = True  # and at the very end
    return square, blob, other


@pytest.fixture
def coco_file(tmp_path: Path) -> Path:
    square, blob, other = _masks()
    kps = _keypoints()
    kps[2] = 1  # nose labelled but occluded
    kps[5] = 0  # left eye not labelled
    anns = [
        {
            "id": 1,
            "image_id": 7,
            "category_id": 1,
            "iscrowd": 0,
            "keypoints": kps,
            "bbox": [3, 2, 6, 4],
            "segmentation": [[3, 2, 9, 2, 9, 6, 3, 6]],
        },
        {
            "id": 2,
            "image_id": 7,
            "category_id": 1,
            "iscrowd": 0,
            "keypoints": _keypoints(),
            "bbox": [12, 10, 8, 5],
            "segmentation": {"size": [H, W], "counts": _runs(blob)},
        },
        {
            "id": 3,
            "image_id": 7,
            "category_id": 1,
            "iscrowd": 0,
            "keypoints": _keypoints(),
            "bbox": [20, 5, 9, 13],
            "segmentation": {"size": [H, W], "counts": _encode_rle_string(_runs(other))},
        },
        {"id": 4, "image_id": 7, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 5, 5]},
        {"id": 5, "image_id": 7, "category_id": 2, "bbox": [0, 0, 5, 5]},  # not a person
        {"id": 6, "image_id": 8, "category_id": 1, "keypoints": _keypoints(), "bbox": [1, 1, 2, 2]},
    ]
    data = {
        "images": [
            {"id": 7, "file_name": "photos/a.jpg", "height": H, "width": W},
            {"id": 8, "file_name": "b.jpg", "height": H, "width": W},
        ],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
    }
    return _write_json(tmp_path / "coco.json", data)


# ---------------------------------------------------------------------------------- COCO


def test_coco_full_file_polygon_and_rle(coco_file: Path):
    people = read_coco_keypoints(coco_file, "a.jpg")
    assert len(people) == 3  # crowd and dog skipped
    square, blob, other = _masks()
    np.testing.assert_array_equal(people[0].mask, square)
    np.testing.assert_array_equal(people[1].mask, blob)
    np.testing.assert_array_equal(people[2].mask, other)
    p = people[0]
    assert isinstance(p, PersonObservation) and p.keypoints.dtype == np.float32
    np.testing.assert_allclose(p.bbox, [3, 2, 9, 6])
    assert p.confidence[0] == 0.5 and p.confidence[1] == 0.0 and p.confidence[2] == 1.0
    np.testing.assert_allclose(p.keypoints[1], [0, 0])  # unlabelled -> zeros
    np.testing.assert_allclose(p.keypoints[16], [16, 116])
    assert p.source.startswith("coco:")


def test_coco_image_selection(coco_file: Path, tmp_path: Path):
    assert len(read_coco_keypoints(coco_file, 7)) == 3
    assert len(read_coco_keypoints(coco_file, "/somewhere/else/b.jpg")) == 1
    assert len(read_coco_keypoints(coco_file, "a.jpg", include_crowd=True)) == 4
    with pytest.raises(FrontendError, match=r"coco\.json.*2 images.*image="):
        read_coco_keypoints(coco_file)
    with pytest.raises(FrontendError, match=r"coco\.json.*no image named 'c\.jpg'"):
        read_coco_keypoints(coco_file, "c.jpg")
    with pytest.raises(FrontendError, match="coco.json.*but the photo is"):
        read_coco_keypoints(coco_file, "a.jpg", image_size=(H + 1, W))
    dataset = read_coco_dataset(coco_file)
    assert list(dataset) == ["photos/a.jpg", "b.jpg"]
    assert [len(v) for v in dataset.values()] == [3, 1]


def test_coco_bare_list_and_single_annotation(tmp_path: Path):
    ann = {"keypoints": _keypoints(), "segmentation": [[3, 2, 9, 2, 9, 6, 3, 6]]}
    single = _write_json(tmp_path / "one.json", ann)
    people = read_coco_keypoints(single, image_size=(H, W))
    assert len(people) == 1 and people[0].mask.sum() == 24
    # no bbox in the file: tight box around mask and keypoints
    np.testing.assert_allclose(people[0].bbox, [0, 1.5, 16, 116])
    listed = _write_json(tmp_path / "list.json", [ann, dict(ann, keypoints=None)])
    assert len(read_coco_keypoints(listed, image_size=(H, W))) == 2
    with pytest.raises(FrontendError, match=r"one\.json.*needs the image size"):
        read_coco_keypoints(single)
    two_images = _write_json(tmp_path / "two.json", [dict(ann, image_id=1), dict(ann, image_id=2)])
    with pytest.raises(FrontendError, match=r"two\.json.*image_id"):
        read_coco_keypoints(two_images, image_size=(H, W))
    assert len(read_coco_keypoints(two_images, 2, image_size=(H, W))) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('"a string"', "top level is a str"),
        ('[{"keypoints": [1, 2, 3]}]', "has 3 values; expected 51"),
        ('[{"keypoints": ["a", 2, 3]}]', "must be a list of numbers"),
        ('[{"foo": 1}]', "none of keypoints / segmentation / bbox"),
        ('[{"bbox": [0, 0, -1, 5]}]', "width/height <= 0"),
        ('[{"segmentation": {"size": [2, 2], "counts": [1, 2]}}]', "RLE runs cover 3 pixels"),
        ('[{"segmentation": [[1, 2, 3]]}]', "needs the image size"),
    ],
)
def test_coco_malformed(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad_coco.json"
    path.write_text(content)
    with pytest.raises(FrontendError, match=message) as info:
        read_coco_keypoints(path)
    assert "bad_coco.json" in str(info.value) and info.value.path == str(path)


def test_coco_missing_file(tmp_path: Path):
    with pytest.raises(FrontendError, match=r"nope\.json: no such file"):
        read_coco_keypoints(tmp_path / "nope.json")


def test_rle_decoding_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(5):
        mask = rng.random((13, 17)) < 0.3
        runs = _runs(mask)
        np.testing.assert_array_equal(decode_rle({"size": [13, 17], "counts": runs}), mask)
        compressed = _encode_rle_string(runs)
        np.testing.assert_array_equal(decode_rle({"size": [13, 17], "counts": compressed}), mask)
        encoded = compressed.encode()
        np.testing.assert_array_equal(decode_rle({"size": [13, 17], "counts": encoded}), mask)
    with pytest.raises(ValueError, match="invalid character"):
        decode_rle({"size": [1, 1], "counts": " "})


# ---------------------------------------------------------------------------------- OpenPose


@pytest.mark.parametrize(("layout", "mapping"), [(18, COCO18_TO_COCO17), (25, BODY25_TO_COCO17)])
def test_openpose_layouts(tmp_path: Path, layout: int, mapping: list[int]):
    values: list[float] = []
    for i in range(layout):
        values += [float(i), 200.0 + i, 0.9]
    missing = mapping[3]  # the left ear is not detected
    values[3 * missing + 2] = 0.0
    data = {
        "version": 1.3,
        "people": [{"pose_keypoints_2d": values}, {"pose_keypoints_2d": [0] * 3 * layout}],
    }
    people = read_openpose(_write_json(tmp_path / f"op{layout}.json", data))
    assert len(people) == 1  # the all-zero person is dropped
    p = people[0]
    np.testing.assert_allclose(
        p.keypoints[:, 0][p.confidence > 0], np.array(mapping)[p.confidence > 0]
    )
    assert p.confidence[3] == 0.0 and np.allclose(p.keypoints[3], 0)
    assert p.confidence[0] == pytest.approx(0.9)
    # spot-check the documented layouts by name
    if layout == 25:
        assert mapping[5] == 5 and mapping[6] == 2 and mapping[11] == 12 and mapping[12] == 9
    else:
        assert mapping[5] == 5 and mapping[6] == 2 and mapping[11] == 11 and mapping[12] == 8


def test_openpose_malformed(tmp_path: Path):
    bad = _write_json(tmp_path / "op_bad.json", {"people": [{"pose_keypoints_2d": [1.0] * 30}]})
    with pytest.raises(FrontendError, match=r"op_bad\.json.*30 values.*54 \(COCO-18\) or 75"):
        read_openpose(bad)
    nopeople = _write_json(tmp_path / "op_none.json", {"version": 1.3})
    with pytest.raises(FrontendError, match=r"op_none\.json.*no `people` list"):
        read_openpose(nopeople)
    empty = _write_json(tmp_path / "op_empty.json", {"people": []})
    assert read_openpose(empty) == []


def test_read_keypoints_dispatches_on_content(coco_file: Path, tmp_path: Path):
    coco = read_keypoints(coco_file, "a.jpg")
    want = read_coco_keypoints(coco_file, "a.jpg")
    assert len(coco) == len(want) == 3
    for a, b in zip(coco, want, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.mask, b.mask)
    values = [v for i in range(18) for v in (float(i), 5.0, 0.8)]
    op = _write_json(tmp_path / "x_keypoints.json", {"people": [{"pose_keypoints_2d": values}]})
    got = read_keypoints(op, "x.jpg", image_size=(10, 10))
    assert len(got) == 1 and got[0].source.startswith("openpose:")
    np.testing.assert_array_equal(got[0].keypoints, read_openpose(op)[0].keypoints)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FrontendError, match=r"bad\.json.*not valid JSON.*COCO or OpenPose"):
        read_keypoints(bad)


# ---------------------------------------------------------------------------------- masks


def test_masks_grey_rgb_alpha(tmp_path: Path):
    truth = np.zeros((H, W), bool)
    truth[4:12, 5:20] = True
    Image.fromarray(truth.astype(np.uint8) * 255).save(tmp_path / "grey.png")
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[truth, 1] = 1  # 0/1 values, as in some datasets
    Image.fromarray(rgb).save(tmp_path / "rgb01.png")
    rgba = np.full((H, W, 4), 200, np.uint8)  # colour everywhere, alpha is the mask
    rgba[..., 3] = truth * 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    opaque = np.zeros((H, W, 4), np.uint8)
    opaque[truth, 0] = 1
    opaque[..., 3] = 255  # fully opaque alpha is ignored
    Image.fromarray(opaque, "RGBA").save(tmp_path / "opaque.png")
    for name in ("grey.png", "rgb01.png", "cutout.png", "opaque.png"):
        mask = read_mask(tmp_path / name, (H, W))
        assert mask.dtype == bool
        np.testing.assert_array_equal(mask, truth, err_msg=name)


def test_mask_wrong_size_names_both_sizes(tmp_path: Path):
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(FrontendError) as info:
        read_mask(tmp_path / "m.png", (H + 10, W), image_path="photo.jpg")
    message = str(info.value)
    assert "m.png" in message and "30x20" in message and "30x30" in message
    assert "photo.jpg" in message


# ---------------------------------------------------------------------------------- images


def test_load_image_modes(tmp_path: Path):
    grey = np.arange(H * W, dtype=np.uint8).reshape(H, W)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    img = load_image(tmp_path / "grey.png")
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], grey)

    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :10, 3] = 255  # left third opaque red, the rest transparent -> white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    img = load_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(img[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(img[0, -1], [255, 255, 255])

    deep = (np.arange(H * W).reshape(H, W) * 100).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    img = load_image(tmp_path / "deep.png")
    assert img.shape == (H, W, 3) and img.max() > 100


def test_load_image_applies_exif_orientation(tmp_path: Path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.fromarray(arr).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    img = load_image(tmp_path / "rotated.jpg")
    assert img.shape == (20, 10, 3)
    assert img[:8].mean() > 200 and img[12:].mean() < 50  # left half is now on top


def test_load_image_rejects_non_images(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FrontendError, match=r"notes\.txt: cannot be read as an image"):
        load_image(tmp_path / "notes.txt")
    (tmp_path / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(FrontendError, match=r"fake\.png"):
        load_image(tmp_path / "fake.png")
    with pytest.raises(FrontendError, match=r"missing\.jpg: no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(FrontendError, match=r"notes\.txt"):
        read_mask(tmp_path / "notes.txt")


# ---------------------------------------------------------------------------------- boxes


def test_boxes_formats(tmp_path: Path):
    corners = read_boxes(_write_json(tmp_path / "c.json", [[1, 2, 11, 22], [0, 0, 5, 5]]))
    np.testing.assert_allclose(corners, [[1, 2, 11, 22], [0, 0, 5, 5]])
    assert corners.dtype == np.float32
    coco = read_boxes(_write_json(tmp_path / "x.json", [{"bbox": [1, 2, 10, 20], "score": 0.9}]))
    np.testing.assert_allclose(coco, [[1, 2, 11, 22]])
    single = read_boxes(_write_json(tmp_path / "s.json", {"bbox": [17, 37, 117, 142]}))
    np.testing.assert_allclose(single, [[17, 37, 134, 179]])
    flat = read_boxes(_write_json(tmp_path / "f.json", [1, 2, 3, 4]))
    np.testing.assert_allclose(flat, [[1, 2, 3, 4]])
    assert read_boxes(_write_json(tmp_path / "e.json", [])).shape == (0, 4)


def test_boxes_malformed(tmp_path: Path):
    with pytest.raises(FrontendError, match=r"inv\.json.*empty or inverted"):
        read_boxes(_write_json(tmp_path / "inv.json", [[10, 10, 5, 20]]))
    with pytest.raises(FrontendError, match=r"out\.json.*outside the 30x20"):
        read_boxes(_write_json(tmp_path / "out.json", [[40, 0, 50, 10]]), image_size=(H, W))
    with pytest.raises(FrontendError, match=r"nob\.json.*no `bbox`"):
        read_boxes(_write_json(tmp_path / "nob.json", [{"box": [1, 2, 3, 4]}]))
    with pytest.raises(FrontendError, match=r"len\.json.*has 3 values"):
        read_boxes(_write_json(tmp_path / "len.json", [[1, 2, 3]]))


# ---------------------------------------------------------------------------------- types


def test_person_observation_validates_and_copies():
    kp = np.zeros((17, 2))
    conf = np.ones(17)
    p = PersonObservation(kp, conf, [0, 0, 1, 1], mask=np.zeros((4, 4), np.uint8))
    kp[0] = 5.0
    assert p.keypoints[0, 0] == 0.0 and p.mask.dtype == bool and p.num_visible == 17
    with pytest.raises(ValueError, match="keypoints"):
        PersonObservation(np.zeros((18, 2)), conf, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="confidence"):
        PersonObservation(np.zeros((17, 2)), conf * 2, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="bbox"):
        PersonObservation(np.zeros((17, 2)), conf, [0, 0, 1])
