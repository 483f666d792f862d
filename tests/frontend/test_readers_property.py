"""Property-based tests of the input readers: they return valid data or raise FrontendError.

Whatever a file holds (any JSON value, any bytes), a reader either returns well-formed output
(finite arrays of the documented shapes) or raises `FrontendError` naming the file; and valid
files round-trip exactly.
"""

from __future__ import annotations

import io
import json
import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lasor.frontend import files
from lasor.frontend.types import FrontendError

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# any JSON value, with the awkward scalars the readers must survive
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)
# values in the shape of the formats, so that the deeper checks are reached too
numbers = st.one_of(
    st.integers(-3, 300), st.floats(-1e40, 1e40, allow_nan=False), st.sampled_from([10**400])
)
coco_keys = st.sampled_from(
    ["id", "image_id", "category_id", "keypoints", "bbox", "segmentation", "iscrowd", "images",
     "annotations", "categories", "file_name", "height", "width", "size", "counts", "name",
     "people", "pose_keypoints_2d"]
)  # fmt: skip
shaped = st.recursive(
    st.one_of(numbers, st.lists(numbers, min_size=0, max_size=80), scalars),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(coco_keys, inner, max_size=7),
    max_leaves=60,
)


def _readers():
    return {
        "read_keypoints": lambda p: files.read_keypoints(p, image="img.jpg", image_size=(48, 64)),
        "read_coco_keypoints": lambda p: files.read_coco_keypoints(p, image_size=(48, 64)),
        "read_coco_dataset": files.read_coco_dataset,
        "read_openpose": files.read_openpose,
        "read_boxes": lambda p: files.read_boxes(p, image_size=(48, 64)),
    }


def _check_output(out) -> None:
    """Whatever a reader returns is well formed."""
    if isinstance(out, np.ndarray):  # boxes
        assert out.ndim == 2 and out.shape[1] == 4 and np.all(np.isfinite(out))
        return
    people = [p for v in out.values() for p in v] if isinstance(out, dict) else out
    for p in people:
        assert p.keypoints.shape == (17, 2) and p.confidence.shape == (17,)
        assert np.all(np.isfinite(p.keypoints)) and np.all(np.isfinite(p.confidence))
        assert np.all(np.abs(p.keypoints) <= files.MAX_COORD)
        assert p.bbox.shape == (4,) and np.all(np.isfinite(p.bbox))
        assert p.mask is None or p.mask.dtype == bool


def _run_all(path: Path) -> None:
    for name, read in _readers().items():
        try:
            out = read(path)
        except FrontendError as e:
            assert str(path) in str(e), name
        else:
            _check_output(out)


@SETTINGS
@given(doc=st.one_of(json_values, shaped))
def test_any_json_gives_valid_output_or_frontend_error(tmp_path, doc):
    path = tmp_path / "f.json"
    path.write_text(json.dumps(doc))
    _run_all(path)


@SETTINGS
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"", b"{", b"[", b'{"people": ']))
def test_any_bytes_give_frontend_error_or_output(tmp_path, data, prefix):
    path = tmp_path / "f.json"
    path.write_bytes(prefix + data)
    _run_all(path)


@pytest.mark.parametrize(
    "text",
    ["[" * 100000 + "]" * 100000, '{"images": [{"id": 1, "height": Infinity, "width": 3}]}',
     '{"people": [{"pose_keypoints_2d": [NaN]}]}', "[1e400, 2, 3, 4]",
     '[{"image_id": [1], "bbox": [1, 2, 3, 4]}]', '{"bbox": [1, 2, 3, ' + "9" * 400 + "]}",
     '{"images": [{"id": 1, "file_name": "img.jpg", "height": 1e12, "width": 1e12}], '
     '"annotations": [{"image_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]}]}',
     '[{"segmentation": {"size": [1000000, 1000000], "counts": [1000000000000]}}]'],
)  # fmt: skip
def test_issue_23_cases_are_named_errors(tmp_path, text):
    """The inputs of issue 23 that raised TypeError, OverflowError, RecursionError, MemoryError."""
    path = tmp_path / "bad.json"
    path.write_text(text)
    _run_all(path)  # valid output (maybe empty) or FrontendError, for every reader
    with pytest.raises(FrontendError, match="bad.json"):
        files.read_keypoints(path, image="img.jpg", image_size=(48, 64))


def test_keypoints_at_1e30_are_refused(tmp_path):
    ann = {"keypoints": [1e30, 1e30, 2] * 17}
    path = tmp_path / "k.json"
    path.write_text(json.dumps([ann]))
    with pytest.raises(FrontendError, match="beyond"):
        files.read_coco_keypoints(path, image_size=(48, 64))


@SETTINGS
@given(
    kp=st.lists(
        st.tuples(st.floats(0, 640), st.floats(0, 480), st.sampled_from([0, 1, 2])),
        min_size=17, max_size=17,
    ),
)  # fmt: skip
def test_coco_keypoints_round_trip(tmp_path, kp):
    flat = [v for t in kp for v in t]
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"keypoints": flat, "bbox": [1, 2, 30, 40]}))
    (p,) = files.read_coco_keypoints(path)
    arr = np.asarray(kp)
    vis = arr[:, 2] > 0
    assert np.allclose(p.keypoints[vis], arr[vis, :2])
    assert np.all(p.keypoints[~vis] == 0)
    assert np.allclose(p.confidence, np.where(arr[:, 2] == 2, 1.0, np.where(vis, 0.5, 0.0)))
    assert np.allclose(p.bbox, [1, 2, 31, 42])


@SETTINGS
@given(
    boxes=st.lists(
        st.tuples(st.floats(-50, 60), st.floats(-50, 40), st.floats(0.5, 100), st.floats(0.5, 100)),
        min_size=1, max_size=5,
    ),
    coco=st.booleans(),
)  # fmt: skip
def test_boxes_round_trip_or_outside(tmp_path, boxes, coco):
    path = tmp_path / "b.json"
    if coco:
        path.write_text(json.dumps([{"bbox": [x, y, w, h]} for x, y, w, h in boxes]))
    else:
        path.write_text(json.dumps([[x, y, x + w, y + h] for x, y, w, h in boxes]))
    inside = all(x + w > 0 and y + h > 0 and x < 64 and y < 48 for x, y, w, h in boxes)
    if not inside:
        with pytest.raises(FrontendError, match="outside"):
            files.read_boxes(path, image_size=(48, 64))
        return
    out = files.read_boxes(path, image_size=(48, 64))
    want = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32)
    assert np.allclose(out, want, rtol=1e-5, atol=1e-3)


def test_spin_bbox_file_is_read_as_xywh(tmp_path):
    path = tmp_path / "spin_im1010_bbox.json"
    path.write_text('{\n  "bbox": [17, 37, 117, 142]\n}\n')  # the shared file's content
    assert files.read_boxes(path).tolist() == [[17, 37, 134, 179]]


# ---------------------------------------------------------------- masks and images
@SETTINGS
@given(
    arr=st.integers(1, 12).flatmap(
        lambda h: st.integers(1, 12).flatmap(
            lambda w: st.lists(st.sampled_from([0, 1, 7, 255]), min_size=h * w, max_size=h * w).map(
                lambda v: np.asarray(v, np.uint8).reshape(h, w)
            )
        )
    ),
)  # fmt: skip
def test_mask_round_trip(tmp_path, arr):
    path = tmp_path / "m.png"
    Image.fromarray(arr).save(path)
    mask = files.read_mask(path, image_size=arr.shape)
    assert mask.dtype == bool and np.array_equal(mask, arr != 0)
    with pytest.raises(FrontendError, match="same size"):
        files.read_mask(path, image_size=(arr.shape[0] + 1, arr.shape[1]))


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@SETTINGS
@given(
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
)
def test_damaged_images_give_frontend_error(tmp_path, cut, flips):
    data = bytearray(_png((np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)))
    data = data[: max(len(data) - cut, 0)]
    for pos, val in flips:
        if data:
            data[pos % len(data)] = val
    path = tmp_path / "p.png"
    path.write_bytes(bytes(data))
    for read in (files.load_image, lambda p: files.read_mask(p, image_size=(48, 64))):
        try:
            out = read(path)
        except FrontendError as e:
            assert "p.png" in str(e)
        else:
            assert out.shape[:2] == (48, 64)


def _png_header(w: int, h: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_pixel_cap_refuses_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(13000, 13000))  # 169 Mpx announced, ~60 bytes on disk
    with pytest.raises(FrontendError, match="Mpx cap"):
        files.load_image(path)
    with pytest.raises(FrontendError, match="Mpx cap"):
        files.read_mask(path)
    small = tmp_path / "small.png"
    small.write_bytes(_png(np.zeros((40, 50, 3), np.uint8)))
    with pytest.raises(FrontendError, match="0.001 Mpx cap"):
        files.load_image(small, max_pixels=1000)
    monkeypatch.setenv("LASOR_MAX_PIXELS", "1000")
    with pytest.raises(FrontendError, match="cap"):
        files.load_image(small)
    assert files.load_image(small, max_pixels=0).shape == (40, 50, 3)  # 0 = no cap
    assert math.isclose(files.max_pixels(), 1000)


def test_a_folder_named_like_a_photo_is_a_named_error(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    with pytest.raises(FrontendError, match="is a folder"):
        files.load_image(tmp_path / "x.jpg")
