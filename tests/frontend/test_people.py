"""Multi-person front end: detector decoding, NMS, person choice, mask separation, real photos."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from lasor.frontend import detector as det
from lasor.frontend.people import prominence, remove_duplicates, select_people, separate_masks
from lasor.frontend.types import PersonObservation

_REPO = Path(__file__).resolve().parents[2]
_REAL = next(
    (p for p in (_REPO.parent / "shared/data/real", Path("/work/shared/data/real")) if p.is_dir()),
    None,
)
needs_runtime = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None
    or importlib.util.find_spec("ai_edge_litert") is None,
    reason="needs mediapipe and ai-edge-litert (pip install 'lasor[mediapipe]')",
)
needs_real = pytest.mark.skipif(_REAL is None, reason="../shared/data/real not found")


# ------------------------------------------------------------------ anchors, decoding, NMS
def test_anchors_match_mediapipe_pose_detector():
    a = det.ssd_anchors()
    assert a.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1], a[0])  # two anchors per cell on the stride-8 map
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])  # first stride-16 anchor
    np.testing.assert_allclose(a[1960:1966], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))  # 3 layers x 2
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_decode_known_values():
    anchors = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    raw = np.zeros((2, 12), np.float32)
    raw[0, :4] = [22.4, -22.4, 44.8, 22.4]  # centre (0.6, 0.4), w 0.2, h 0.1
    raw[0, 4:6] = [0.0, 112.0]  # keypoint 0 at (0.5, 1.0)
    scores = np.array([[2.0], [-3.0]])  # sigmoid 0.881, 0.047
    boxes, kp, s = det.decode_detections(raw, scores, anchors, score_threshold=0.5)
    assert boxes.shape == (1, 4) and kp.shape == (1, 4, 2)
    np.testing.assert_allclose(boxes[0], [0.5, 0.35, 0.7, 0.45], atol=1e-6)
    np.testing.assert_allclose(kp[0, 0], [0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(kp[0, 1], [0.5, 0.5], atol=1e-6)  # zero offset = anchor
    np.testing.assert_allclose(s, [1 / (1 + np.exp(-2.0))])
    # logits are clipped at +-100 (no overflow)
    _, _, s = det.decode_detections(raw, np.array([1e4, -1e4]), anchors, score_threshold=0.0)
    assert np.all(np.isfinite(s)) and s[0] == pytest.approx(1.0)


def test_weighted_nms_merges_overlaps_and_keeps_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float64)
    kp = np.zeros((3, 4, 2))
    kp[1] += 3.0
    scores = np.array([0.9, 0.6, 0.8])
    out = det.weighted_nms(boxes, kp, scores, iou_threshold=0.3)
    assert len(out) == 2
    (b0, k0, s0), (b1, _, s1) = out
    assert s0 == 0.9 and s1 == 0.8
    np.testing.assert_allclose(b0, [0.6 / 1.5, 0, 10 + 0.6 / 1.5, 10])  # score-weighted mean
    np.testing.assert_allclose(k0, 3.0 * 0.6 / 1.5)
    np.testing.assert_allclose(b1, boxes[2])


def test_windows_and_tiles():
    kp = np.array([[[100.0, 200.0], [100.0, 120.0]]])  # radius 80
    np.testing.assert_allclose(det.detection_windows(kp)[0], [0, 100, 200, 300])
    assert det.tile_grid(100, 200, 1, 0.6) == []
    tiles = det.tile_grid(100, 200, 2, 0.6)
    assert tiles == [(0, 0, 120, 60), (80, 0, 200, 60), (0, 40, 120, 100), (80, 40, 200, 100)]


def test_letterbox_centres_and_scales():
    img = np.full((50, 100, 3), 255, np.uint8)
    x, s, px, py = det.letterbox(img, 224)
    assert x.shape == (224, 224, 3) and s == pytest.approx(2.24)
    assert px == 0 and py == 56
    # black border (MediaPipe's BORDER_ZERO is black before the [-1, 1] scaling)
    assert x[0, 0, 0] == -1.0 and x[112, 112, 0] == pytest.approx(1.0)
    assert x[56, 112, 0] == pytest.approx(1.0) and x[168, 112, 0] == -1.0


def test_letterbox_samples_mediapipes_grid():
    """Output pixel j samples photo x = W / 2 + L (j / 224 - 0.5): a 448 px photo gives every
    second pixel exactly, a 224 px photo comes through unchanged."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (448, 448, 3)).astype(np.uint8)
    x, s, px, py = det.letterbox(img, 224)
    assert s == 0.5 and px == 0 and py == 0
    np.testing.assert_allclose(x, img[::2, ::2] / 127.5 - 1.0, atol=1e-6)
    small = img[:224, :224]
    np.testing.assert_allclose(det.letterbox(small, 224)[0], small / 127.5 - 1.0, atol=1e-6)


# ------------------------------------------------------------------ choosing people
def _person(x0, y0, x1, y1, hw=(200, 300), mask=True):
    """A stick person filling the box: keypoints on a vertical line, a box-shaped mask."""
    cx = (x0 + x1) / 2
    ys = np.linspace(y0 + 2, y1 - 2, 17)
    kp = np.stack([np.full(17, cx), ys], 1)
    m = None
    if mask:
        m = np.zeros(hw, bool)
        m[int(y0) : int(y1), int(x0) : int(x1)] = True
    return PersonObservation(kp, np.ones(17), [x0, y0, x1, y1], m, "test")


def test_larger_person_is_chosen():
    small = _person(10, 10, 40, 70)  # background person near the corner
    large = _person(120, 30, 200, 190)
    for order in ([small, large], [large, small]):
        out = select_people(order, (200, 300), person="largest")
        assert len(out) == 1 and out[0].bbox[2] == pytest.approx(200, abs=1)
        out = select_people(order, (200, 300))
        assert [round(float(p.bbox[0])) for p in out] == [120, 10]  # numbered by prominence


def test_prominence_prefers_central_people_of_equal_size():
    assert prominence([130, 80, 170, 120], (200, 300)) > prominence([0, 0, 40, 40], (200, 300))


def test_max_people_min_size_and_duplicates():
    a, b, c = _person(10, 10, 90, 190), _person(150, 10, 230, 190), _person(260, 170, 280, 190)
    dup = _person(11, 11, 91, 189)
    out = select_people([a, b, c, dup], (200, 300), min_size=32)
    assert len(out) == 2  # the duplicate and the 20-px person are gone
    assert len(select_people([a, b, c], (200, 300), max_people=1, min_size=0)) == 1
    assert len(remove_duplicates([a, dup, b])) == 2
    with pytest.raises(ValueError, match="largest"):
        select_people([a], (200, 300), person="biggest")


def test_overlapping_masks_are_kept_apart():
    hw = (200, 300)
    left = _person(40, 20, 160, 190, hw)
    right = _person(120, 20, 240, 190, hw)
    # MediaPipe's mask of each window covers both people
    both = left.mask | right.mask
    left = PersonObservation(left.keypoints, left.confidence, left.bbox, both, "t")
    right = PersonObservation(right.keypoints, right.confidence, right.bbox, both, "t")
    out = separate_masks([left, right])
    assert not np.any(out[0].mask & out[1].mask)
    assert np.array_equal(out[0].mask | out[1].mask, both)
    # each pixel goes to the nearer skeleton (x = 100 vs x = 180): the boundary is at x = 140
    assert out[0].mask[100, 139] and not out[0].mask[100, 141]
    assert out[1].mask[100, 141] and not out[1].mask[100, 139]
    # boxes follow the separated masks
    assert out[0].bbox[2] == pytest.approx(139.5, abs=1)
    assert out[1].bbox[0] == pytest.approx(139.5, abs=1)


# ------------------------------------------------------------------ real photos
@needs_runtime
@needs_real
def test_detector_finds_both_soccer_players():
    from lasor.frontend.files import load_image

    image = load_image(_REAL / "photos" / "commons_soccer_vacek.jpeg")
    dets = det.PersonDetector(tiles=1)(image)
    assert len(dets) >= 2
    assert all(d.score >= 0.5 for d in dets)
    centres = sorted(float(d.keypoints[0, 0]) for d in dets[:2])
    assert centres[0] < 600 < centres[1]  # one player on each half


@needs_runtime
@needs_real
@pytest.mark.slow
def test_soccer_main_player_is_person_zero_end_to_end(tmp_path):
    import json

    from lasor.cli import main

    photo = _REAL / "photos" / "commons_soccer_vacek.jpeg"
    # batch size 1: the people of one photo reach the regressor in separate batches
    args = ["predict", str(photo), "-o", str(tmp_path), "--max-people", "2", "--batch-size", "1"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    people = summary["images"][0]["people"]
    assert [p["stem"] for p in people] == ["commons_soccer_vacek", "commons_soccer_vacek_p1"]
    p0 = json.loads((tmp_path / "commons_soccer_vacek.json").read_text())
    p1 = json.loads((tmp_path / "commons_soccer_vacek_p1.json").read_text())
    # the main player runs towards the camera on the right half and is the taller one
    b0, b1 = np.array(p0["bbox"]), np.array(p1["bbox"])
    assert (b0[0] + b0[2]) / 2 > 600 and b0[3] - b0[1] > b1[3] - b1[1]
    assert (tmp_path / "commons_soccer_vacek_all_overlay.png").is_file()
    assert main(["predict", str(photo), "-o", str(tmp_path / "one"), "--person", "largest",
                 "--no-render"]) == 0  # fmt: skip
    one = json.loads((tmp_path / "one" / "summary.json").read_text())["images"][0]["people"]
    assert len(one) == 1
    q0 = json.loads((tmp_path / "one" / "commons_soccer_vacek.json").read_text())
    np.testing.assert_allclose(q0["bbox"], p0["bbox"], atol=1.0)
