"""LiteRT BlazePose: region maths, crop and un-warp, decoding, and real photos end to end."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from lasor.frontend.landmarker import decode_landmarks, refine_from_heatmap
from lasor.frontend.roi import Roi, crop, mediapipe_grid, roi_from_points, unwarp

_REPO = Path(__file__).resolve().parents[2]
_REAL = next(
    (p for p in (_REPO.parent / "shared/data/real", Path("/work/shared/data/real")) if p.is_dir()),
    None,
)
needs_litert = pytest.mark.skipif(
    importlib.util.find_spec("ai_edge_litert") is None,
    reason="needs ai-edge-litert (pip install 'lasor[mediapipe]')",
)
needs_real = pytest.mark.skipif(_REAL is None, reason="../shared/data/real not found")
needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None, reason="needs mediapipe (the reference)"
)


# ------------------------------------------------------------------ region maths
def test_roi_from_points_upright_and_lying():
    up = roi_from_points([100.0, 200.0], [100.0, 120.0])  # scale point straight above the hips
    np.testing.assert_allclose(up.centre, [100, 200])
    assert up.size == pytest.approx(2 * 1.25 * 80) and up.rotation == pytest.approx(0.0)
    right = roi_from_points([100.0, 200.0], [180.0, 200.0])  # head to the right: lying
    assert right.rotation == pytest.approx(math.pi / 2)
    down = roi_from_points([0.0, 0.0], [0.0, 10.0])  # upside down: wrapped to [-pi, pi)
    assert down.rotation == pytest.approx(-math.pi)


def test_known_rotation_and_scale_map_back_exactly():
    roi = Roi([50.0, 80.0], 40.0, math.pi / 2)
    # the crop's "up" is the start-to-end direction: with rotation 90 deg it points right
    np.testing.assert_allclose(roi.to_image([0.5, 0.0]), [70.0, 80.0], atol=1e-12)
    np.testing.assert_allclose(roi.to_image([0.0, 0.0]), [70.0, 60.0], atol=1e-12)
    np.testing.assert_allclose(roi.to_image([1.0, 0.5]), [50.0, 100.0], atol=1e-12)
    rng = np.random.default_rng(1)
    for rot in (-2.5, -0.3, 0.0, 0.7, 3.0):
        r = Roi(rng.uniform(-50, 500, 2), rng.uniform(10, 900), rot)
        uv = rng.uniform(-0.2, 1.2, (20, 2))
        np.testing.assert_allclose(r.to_crop(r.to_image(uv)), uv, atol=1e-12)
        # distances scale by the side, angles turn by the rotation
        d = r.to_image([1.0, 0.5]) - r.to_image([0.5, 0.5])
        assert np.hypot(*d) == pytest.approx(r.size / 2)
        assert math.atan2(d[1], d[0]) == pytest.approx(rot)


def test_roi_from_points_round_trip_through_the_crop():
    """The start point sits at the crop centre and the end point straight above it."""
    start, end = np.array([300.0, 250.0]), np.array([380.0, 190.0])
    roi = roi_from_points(start, end)
    np.testing.assert_allclose(roi.to_crop(start), [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(roi.to_crop(end), [0.5, 0.5 - 1 / 2.5], atol=1e-12)


def test_world_landmarks_turn_with_the_region():
    roi = Roi([0, 0], 1.0, math.pi / 2)
    w = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, -0.2]])
    np.testing.assert_allclose(roi.rotate_world(w), [[0, 1, 0.3], [-1, 0, -0.2]], atol=1e-12)
    assert roi.rotate_world(w) is not w and w[0, 0] == 1.0  # input untouched


def _gradient_image(h: int = 260, w: int = 250) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([xs, ys, np.full_like(xs, 77)], -1).astype(np.uint8)


@pytest.mark.parametrize("rot,size,n", [(0.0, 100.0, 50), (0.5, 100.0, 100), (-2.0, 80.0, 160)])
def test_crop_samples_the_region(rot, size, n):
    """A linear image: bilinear sampling is exact, up to the 1/32-pixel coordinates and the
    rounding of values to integers (OpenCV's, which MediaPipe uses)."""
    img = _gradient_image()
    roi = Roi([120.0, 125.0], size, rot)
    c = crop(img, roi, n).astype(np.float64)
    assert c.shape == (n, n, 3) and np.all(c == np.rint(c))
    i, j = np.mgrid[0:n, 0:n]
    p = roi.to_image(np.stack([(j + 0.5) / n, (i + 0.5) / n], -1))
    err = c[..., :2] - p
    assert np.abs(err).max() <= 0.5 + 1 / 64 + 1e-6
    assert abs(err.mean()) < 0.05
    assert np.all(c[..., 2] == 77)


def test_crop_replicates_the_border():
    img = _gradient_image()
    roi = Roi([-100.0, 125.0], 60.0, 0.0)  # entirely left of the photo
    c = crop(img, roi, 32)
    assert np.all(c[..., 0] == 0)  # column 0 replicated
    np.testing.assert_allclose(c[:, 0, 1], c[:, -1, 1])  # rows unchanged along x


def test_mediapipe_grid_shift():
    roi = Roi([10.0, 20.0], 256.0, 0.0)  # one photo pixel per crop pixel: no shift
    np.testing.assert_allclose(mediapipe_grid(roi, 256).centre, roi.centre, atol=1e-12)
    # crop pixel j of the shifted region samples MediaPipe's point: the region's corner
    # (centre + 0.5 in lasor pixels) plus j / N of the way
    turned = Roi([10.0, 20.0], 300.0, 0.4)
    g = mediapipe_grid(turned, 256)
    j = np.array([3.0, 7.0])
    ours = g.to_image((j + 0.5) / 256)
    theirs = turned.to_image(j / 256) + 0.5
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    big = mediapipe_grid(Roi([10.0, 20.0], 512.0, 0.0), 256)
    np.testing.assert_allclose(big.centre, [9.5, 19.5])  # 0.5 - 512 / 512


def test_unwarp_maps_crop_values_back():
    """Crop values = their own crop coordinate u: warped back, every photo pixel inside the
    region reads its own u; outside the region it reads 0."""
    n = 64
    i, j = np.mgrid[0:n, 0:n]
    u = ((j + 0.5) / n).astype(np.float32)
    roi = Roi([90.0, 70.0], 80.0, math.radians(30))
    out, (x0, y0, x1, y1) = unwarp(u, roi, (150, 200))
    assert out.shape == (y1 - y0, x1 - x0)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    uv = roi.to_crop(np.stack([xs, ys], -1))
    inner = (uv > 1.5 / n).all(-1) & (uv < 1 - 1.5 / n).all(-1)
    np.testing.assert_allclose(out[inner], uv[..., 0][inner], atol=1e-5)
    outer = (uv < -1.0 / n).any(-1) | (uv > 1 + 1.0 / n).any(-1)
    assert outer.any() and np.all(out[outer] == 0)


def test_unwarp_clips_to_the_photo_and_misses():
    roi = Roi([0.0, 0.0], 40.0, 0.0)
    out, win = unwarp(np.ones((16, 16), np.float32), roi, (30, 30))
    assert win[0] == 0 and win[1] == 0 and out.shape == (win[3], win[2])
    assert unwarp(np.ones((16, 16), np.float32), Roi([-100.0, 5.0], 10.0, 0.0), (30, 30)) is None


# ------------------------------------------------------------------ decoding
def test_decode_landmarks_scales_and_sigmoids():
    raw = np.zeros((39, 5))
    raw[:, 0], raw[:, 1], raw[:, 2] = 128.0, 64.0, -25.6
    raw[0, 3], raw[0, 4] = 2.0, -1.0
    lm, vis, pres = decode_landmarks(raw.reshape(-1))
    np.testing.assert_allclose(lm[0], [0.5, 0.25, -0.1])
    assert vis[0] == pytest.approx(1 / (1 + math.exp(-2))) and vis[1] == pytest.approx(0.5)
    assert pres[0] == pytest.approx(1 / (1 + math.exp(1)))


def test_heatmap_refinement_moves_only_confident_landmarks():
    hm = np.full((64, 64, 3), -20.0)
    hm[10, 20, 0] = 20.0  # a sure peak near landmark 0
    hm[40, 40, 1] = -0.5  # an unsure one (sigmoid < 0.5) near landmark 1
    uv = np.array([[21.3 / 64, 11.2 / 64], [40.2 / 64, 40.1 / 64], [0.9, 0.9]])
    out = refine_from_heatmap(uv, hm)
    np.testing.assert_allclose(out[0], [20 / 64, 10 / 64], atol=1e-6)  # MediaPipe: col / 64
    np.testing.assert_allclose(out[1:], uv[1:])


# ------------------------------------------------------------------ the models, real photos
@needs_litert
@needs_real
def test_rotated_photo_gives_rotated_landmarks():
    """The whole chain (detection -> region -> crop -> model -> back): a photo turned by 90
    degrees gives the same landmarks turned with it, and world landmarks turned in x, y."""
    from lasor.frontend.blazepose import BlazePose
    from lasor.frontend.files import load_image

    img = load_image(_REAL / "photos" / "straps_0001.png")
    bp = BlazePose()
    a = bp.detect(img)
    b = bp.detect(np.ascontiguousarray(np.rot90(img)))  # counter-clockwise
    assert a is not None and b is not None
    w = img.shape[1]
    # (x, y) -> (y, W - 1 - x)
    expect = np.stack([a.landmarks[:, 1], w - 1 - a.landmarks[:, 0]], 1)
    side = float(np.ptp(a.landmarks[:, 1]))
    seen = a.visibility > 0.5
    assert np.linalg.norm(b.landmarks[seen, :2] - expect[seen], axis=1).mean() < 0.03 * side
    # world landmarks: x right, y down in the photo's axes -> turned the same way
    wa, wb = a.world_landmarks, b.world_landmarks
    np.testing.assert_allclose(wb[:, 0], wa[:, 1], atol=0.06)
    np.testing.assert_allclose(wb[:, 1], -wa[:, 0], atol=0.06)
    # a counter-clockwise turn of the photo is -90 deg in MediaPipe's (clockwise) rotation
    turn = (b.roi.rotation - a.roi.rotation + math.pi) % (2 * math.pi) - math.pi
    assert turn == pytest.approx(-math.pi / 2, abs=0.1)


@needs_litert
@needs_real
@needs_mediapipe
def test_single_person_matches_mediapipe():
    from lasor.frontend.blazepose import BlazePose
    from lasor.frontend.files import load_image
    from lasor.frontend.mediapipe_pose import MediaPipePose

    img = load_image(_REAL / "photos" / "commons_soccer_vacek.jpeg")
    ours = BlazePose().detect(img)
    ref = MediaPipePose().detect(img)
    assert ours is not None and ref is not None and not ref.retried
    box = ref.person.bbox
    side = float(max(box[2] - box[0], box[3] - box[1]))
    d = np.linalg.norm(ours.landmarks[:, :2] - ref.landmarks[:, :2], axis=1)
    assert d.mean() < 0.02 * side
    assert np.linalg.norm(ours.world_landmarks - ref.world_landmarks, axis=1).mean() < 0.02
    m = ours.full_mask(img.shape[:2])
    assert (m & ref.person.mask).sum() / (m | ref.person.mask).sum() > 0.95


@needs_litert
@needs_real
def test_two_people_end_to_end():
    """The soccer photo: two players, each with keypoints, world landmarks, visibility,
    presence, a mask of their own and a box inside the photo; the main player is person 0."""
    from lasor.frontend.blazepose import BlazePose
    from lasor.frontend.files import load_image

    img = load_image(_REAL / "photos" / "commons_soccer_vacek.jpeg")
    h, w = img.shape[:2]
    bp = BlazePose()
    people = bp.people(img)
    assert len(people) >= 2
    for p in people:
        assert p.source == "blazepose" and p.has_world
        assert p.world_landmarks.shape == (33, 3) and p.landmark_presence.shape == (33,)
        hips = p.world_landmarks[[23, 24]].mean(0)
        assert np.linalg.norm(hips) < 0.05  # origin between the hips
        assert p.mask is not None and p.mask.shape == (h, w) and p.mask.any()
        x0, y0, x1, y1 = p.bbox
        assert -0.5 <= x0 < x1 <= w - 0.5 and -0.5 <= y0 < y1 <= h - 0.5
        # the head is above the ankles (y down): the world landmarks are upright
        assert p.world_landmarks[0, 1] < p.world_landmarks[[27, 28], 1].mean()
    assert not (people[0].mask & people[1].mask).any()
    main = people[0]
    assert (main.bbox[0] + main.bbox[2]) / 2 > w / 2  # the tall player on the right
    assert main.bbox[3] - main.bbox[1] == max(p.bbox[3] - p.bbox[1] for p in people)


@needs_litert
def test_retry_finds_a_person_the_first_threshold_misses():
    """The bundled example: the detector scores the astronaut below 0.5 on the bare photo; the
    retry (threshold 0.1, photo padded by 20 %) finds him and the pose flag confirms him."""
    from lasor.frontend.blazepose import BlazePose
    from lasor.frontend.files import load_image

    img = load_image(_REPO / "src" / "lasor" / "data" / "examples" / "aldrin.jpg")
    assert BlazePose(retry_score=None).detect(img) is None
    assert BlazePose().detect(img) is not None
    people = BlazePose(tiles=1).people(img)  # (the default's tile search may find him first)
    assert len(people) == 1 and people[0].source == "blazepose:retry"
    assert people[0].bbox[3] - people[0].bbox[1] > 0.5 * img.shape[0]
    assert len(BlazePose().people(img)) == 1


@needs_litert
@needs_real
def test_tracker_detects_once_and_again_after_a_loss():
    """Consecutive frames: the region comes from the previous landmarks (one detector run);
    an empty frame drops the track, the next person frame is detected again."""
    from lasor.frontend.blazepose import BlazePose, BlazePoseTracker
    from lasor.frontend.files import load_image

    img = load_image(_REAL / "photos" / "straps_0002.png")
    shifted = np.ascontiguousarray(np.roll(img, 6, axis=1))  # the person moves 6 px right
    tracker = BlazePoseTracker(BlazePose())
    first = tracker.track(img)
    second = tracker.track(shifted)
    assert first is not None and second is not None and tracker.detections == 1
    seen = first.visibility > 0.5
    side = float(np.ptp(first.landmarks[seen, 1]))
    moved = second.landmarks[seen, :2] - first.landmarks[seen, :2]
    np.testing.assert_allclose(np.median(moved, axis=0), [6.0, 0.0], atol=0.02 * side)
    assert tracker(np.zeros_like(img)) is None
    assert tracker(img) is not None and tracker.detections == 3
