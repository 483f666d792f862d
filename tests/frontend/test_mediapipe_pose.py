"""MediaPipe front end: geometry helpers always; the real model when mediapipe is installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lasor.body.joints import H36M_JOINTS
from lasor.eval.metrics import silhouette_iou
from lasor.frontend import load_image, read_coco_keypoints, read_mask
from lasor.frontend import mediapipe_pose as mpp

HAVE_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
needs_mediapipe = pytest.mark.skipif(
    not HAVE_MEDIAPIPE,
    reason="mediapipe is not installed (optional: pip install 'lasor[mediapipe]')",
)


# ---------------------------------------------------------------------------------- no model


def test_import_is_lazy():
    code = (
        "import sys, lasor.frontend, lasor.frontend.mediapipe_pose; "
        "assert 'mediapipe' not in sys.modules and 'cv2' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_mediapipe_gives_install_hint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "mediapipe.python.solutions.pose", raising=False)
    monkeypatch.setattr(mpp, "_missing", lambda name: True)
    with pytest.raises(ImportError, match=r"MediaPipe is not installed.*pip install"):
        mpp.MediaPipePose().detect(np.zeros((8, 8, 3), np.uint8))


def test_placeholder_module_is_inert():
    cv2 = mpp._placeholder("cv2")
    with pytest.raises(AttributeError, match="cv2 is not installed"):
        cv2.imread  # noqa: B018


def test_mapping_to_coco17():
    # MediaPipe names its landmarks from the person's point of view, as COCO does
    assert mpp.MEDIAPIPE_TO_COCO17[:5] == [0, 2, 5, 7, 8]
    assert mpp.MEDIAPIPE_TO_COCO17[5:11] == [11, 12, 13, 14, 15, 16]
    assert mpp.MEDIAPIPE_TO_COCO17[11:] == [23, 24, 25, 26, 27, 28]


def test_world_landmarks_to_h36m():
    world = np.zeros((33, 3))
    world[23] = [0.1, 0.0, 0.0]  # left hip
    world[24] = [-0.1, 0.0, 0.0]  # right hip
    world[11] = [0.2, -0.5, 0.0]  # left shoulder
    world[12] = [-0.2, -0.5, 0.0]  # right shoulder
    world[7] = [0.08, -0.7, 0.0]  # left ear
    world[8] = [-0.08, -0.7, 0.0]  # right ear
    world[0] = [0.0, -0.68, -0.1]  # nose
    vis = np.ones(33)
    vis[8] = 0.3
    joints, conf = mpp.world_landmarks_to_h36m(world, vis)
    assert joints.shape == (17, 3) and conf.shape == (17,)
    idx = {name: i for i, name in enumerate(H36M_JOINTS)}
    np.testing.assert_allclose(joints[idx["pelvis"]], [0, 0, 0])
    np.testing.assert_allclose(joints[idx["thorax"]], [0, -0.5, 0])
    np.testing.assert_allclose(joints[idx["spine"]], [0, -0.25, 0])
    np.testing.assert_allclose(joints[idx["head"]], [0, -0.8, 0], atol=1e-6)
    np.testing.assert_allclose(joints[idx["neck_nose"]], world[0], atol=1e-6)
    np.testing.assert_allclose(joints[idx["left_hip"]], world[23])
    np.testing.assert_allclose(joints[idx["right_shoulder"]], world[12])
    assert conf[idx["head"]] == pytest.approx(0.3) and conf[idx["pelvis"]] == 1.0


def test_window_crop_and_uncrop_round_trip():
    image = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    window = mpp._window((6, 8), np.array([1.0, 1.0, 5.0, 3.0]), 0.5)  # pad 2 px per side
    np.testing.assert_array_equal(window, [-1, -1, 7, 5])
    crop = mpp._crop(image, window)
    assert crop.shape == (6, 8, 3)
    assert np.all(crop[0] == 0) and np.all(crop[:, 0] == 0)  # outside the image: black
    np.testing.assert_array_equal(crop[1:, 1:], image[:5, :7])
    full = mpp._window((6, 8), None, 0.25)  # whole image padded by 2 px
    np.testing.assert_array_equal(full, [-2, -2, 10, 8])
    mask = np.zeros((6, 8, 3), np.uint8)
    mask[3, 4] = 1
    back = mpp._uncrop_mask(mpp._crop(mask, window)[..., 0] > 0, window, (6, 8))
    np.testing.assert_array_equal(back, mask[..., 0] > 0)


def test_rejects_bad_inputs():
    frontend = mpp.MediaPipePose()
    with pytest.raises(ValueError, match="uint8"):
        frontend.detect(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="bbox"):
        frontend.detect(np.zeros((8, 8, 3), np.uint8), bbox=[5, 5, 1, 1])


# ---------------------------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def frontend() -> Iterator[mpp.MediaPipePose]:
    if not HAVE_MEDIAPIPE:
        pytest.skip("mediapipe is not installed (optional: pip install 'lasor[mediapipe]')")
    with mpp.MediaPipePose() as fe:
        yield fe


def _check_person(person, image: np.ndarray) -> None:
    h, w = image.shape[:2]
    assert person is not None
    sure = person.confidence > 0.5
    assert sure.sum() >= 12
    kp = person.keypoints[sure]
    assert np.all((kp[:, 0] >= -0.5) & (kp[:, 0] <= w - 0.5))
    assert np.all((kp[:, 1] >= -0.5) & (kp[:, 1] <= h - 0.5))
    assert person.mask is not None and person.mask.shape == (h, w)
    assert person.mask.sum() > 500 and person.mask.mean() < 0.8
    x0, y0, x1, y1 = person.bbox
    assert -0.5 <= x0 < x1 <= w - 0.5 and -0.5 <= y0 < y1 <= h - 0.5


@needs_mediapipe
def test_mediapipe_on_photo_with_mask(frontend: mpp.MediaPipePose, real_data: Path):
    photos = real_data / "photos"
    image = load_image(photos / "ssp3dpr3_mousavi.png")
    detection = frontend.detect(image)
    assert detection is not None and not detection.retried
    person = detection.person
    _check_person(person, image)
    assert person.source == "mediapipe"
    gt = read_mask(photos / "ssp3dpr3_mousavi_mask.png", image.shape[:2])
    assert silhouette_iou(person.mask, gt) > 0.9  # measured: 0.97
    # facing the camera: the person's right shoulder is on the image's left
    assert person.keypoints[6, 0] < person.keypoints[5, 0]
    world = detection.world_h36m
    assert world.shape == (17, 3) and np.linalg.norm(world[0]) < 0.05  # pelvis at the origin
    assert world[10, 1] < world[8, 1] < world[0, 1] < world[3, 1]  # y down: head, thorax, ...


@needs_mediapipe
def test_mediapipe_crouched_person_needs_retry(frontend: mpp.MediaPipePose, real_data: Path):
    image = load_image(real_data / "photos" / "hmr_coco1.png")  # a crouching baseball catcher
    detection = frontend.detect(image)
    assert detection is not None and detection.retried
    _check_person(detection.person, image)


@needs_mediapipe
def test_mediapipe_with_bbox_picks_that_person(frontend: mpp.MediaPipePose, real_data: Path):
    coco = real_data / "coco"
    image = load_image(coco / "000000196141.jpg")
    people = read_coco_keypoints(coco / "test_coco.json", "000000196141.jpg")
    target = people[1]  # a small person at the right, not the most prominent one
    person = frontend(image, target.bbox)
    _check_person(person, image)
    np.testing.assert_allclose(person.bbox, target.bbox)
    assert silhouette_iou(person.mask, target.mask) > 0.7  # measured: 0.83
