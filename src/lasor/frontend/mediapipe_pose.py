"""Real-photo front end: MediaPipe's legacy Pose solution -> `PersonObservation`.

MediaPipe is an optional dependency, imported only when a `MediaPipePose` is first used. Only
``model_complexity=1`` is ever used: its model ships inside the mediapipe wheel, while 0 and 2
download models at run time. Tested with mediapipe 0.10.14 (works with numpy 2); 0.10.18-0.10.21
(numpy < 2) also ship the legacy Pose models but are untested. See the README for the install line.

MediaPipe's ``solutions`` package imports OpenCV and matplotlib only for its drawing helpers,
which lasor never calls. When either is not installed, `MediaPipePose` puts inert placeholder
modules in ``sys.modules`` for the duration of the mediapipe import (and removes them afterwards),
so the light install (``mediapipe`` without its dependencies, plus protobuf and attrs) works.

MediaPipe Pose finds one person per image (the most prominent). To choose a person, pass a box:
the image is cropped around it (with padding) and the results are mapped back. If no person is
found, it tries once more with a lower detection threshold on a window padded around the image
or box (MediaPipe misses crouched people and people touching the border at the default). More
padding is not better: on a sample OCHuman photo, at the lower threshold, a box padded by 30 %
per side was found while one padded by about 55 % was not.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
import types
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from lasor.frontend.types import PersonObservation, bbox_from_observation

__all__ = [
    "MEDIAPIPE_TO_COCO17",
    "MediaPipeDetection",
    "MediaPipePose",
    "detect_person",
    "world_landmarks_to_h36m",
]

logger = logging.getLogger(__name__)

#: For each COCO-17 keypoint, the index of the MediaPipe Pose landmark (of 33).
MEDIAPIPE_TO_COCO17: list[int] = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]

#: mediapipe releases whose wheels contain the legacy Pose models (0.10.14 is the tested one).
_EXPECTED_VERSIONS = ("0.10.14", "0.10.18", "0.10.19", "0.10.20", "0.10.21")
_INSTALL_HINT = (
    "install it with `pip install 'lasor[mediapipe]'` or, lighter (no OpenCV / jax / matplotlib): "
    "`pip install --no-deps mediapipe==0.10.14 'protobuf>=4.25.3,<5' 'attrs>=19.1'`"
)

# MediaPipe Pose landmark indices used below.
_NOSE, _L_EAR, _R_EAR = 0, 7, 8
_L_SHOULDER, _R_SHOULDER, _L_ELBOW, _R_ELBOW, _L_WRIST, _R_WRIST = 11, 12, 13, 14, 15, 16
_L_HIP, _R_HIP, _L_KNEE, _R_KNEE, _L_ANKLE, _R_ANKLE = 23, 24, 25, 26, 27, 28


def _placeholder(name: str) -> types.ModuleType:
    """An inert stand-in module: any attribute access says that the real module is missing."""

    class _Missing(types.ModuleType):
        def __getattr__(self, attr: str) -> Any:
            raise AttributeError(
                f"{name}.{attr}: {name} is not installed (lasor's placeholder for mediapipe's "
                "drawing utilities, which lasor does not use)"
            )

    return _Missing(name)


def _missing(name: str) -> bool:
    if name in sys.modules:
        return False
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def _import_pose_solution() -> Any:
    """Import ``mediapipe.python.solutions.pose`` (lazily, with a clear error if unavailable)."""
    cached = sys.modules.get("mediapipe.python.solutions.pose")
    if cached is not None:
        return cached
    if _missing("mediapipe"):
        raise ImportError(f"MediaPipe is not installed; {_INSTALL_HINT}")
    placeholders: dict[str, types.ModuleType] = {}
    if _missing("cv2"):
        placeholders["cv2"] = _placeholder("cv2")
    if _missing("matplotlib"):
        mpl = _placeholder("matplotlib")
        pyplot = _placeholder("matplotlib.pyplot")
        mpl.__dict__["pyplot"] = pyplot  # `import matplotlib.pyplot as plt` reads this attribute
        placeholders["matplotlib"] = mpl
        placeholders["matplotlib.pyplot"] = pyplot
    if placeholders:
        logger.debug("importing mediapipe with placeholders for %s", sorted(placeholders))
    sys.modules.update(placeholders)
    try:
        from mediapipe.python.solutions import pose as mp_pose
    except ImportError as exc:
        raise ImportError(
            f"MediaPipe is installed but failed to import ({exc}); {_INSTALL_HINT}"
        ) from exc
    finally:
        for name, module in placeholders.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    try:
        from importlib.metadata import version

        found = version("mediapipe")
        if found not in _EXPECTED_VERSIONS:
            logger.warning(
                "mediapipe %s is not a version lasor expects (%s); the legacy Pose solution may "
                "be missing or download models",
                found,
                ", ".join(_EXPECTED_VERSIONS),
            )
    except Exception:  # metadata is a nicety; never fail on it
        pass
    return mp_pose


# ----------------------------------------------------------------------------------------------
# 3D: MediaPipe world landmarks -> Human3.6M-17


def world_landmarks_to_h36m(
    world: np.ndarray, visibility: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map MediaPipe's 33 world landmarks to the Human3.6M 17-joint order (`H36M_JOINTS`).

    Direct: hips, knees, ankles, shoulders, elbows, wrists. Derived (MediaPipe has no such
    landmark):

    * pelvis = midpoint of the two hips;
    * thorax = midpoint of the two shoulders;
    * spine = midpoint of pelvis and thorax;
    * neck/nose = MediaPipe's nose;
    * head (top of head) = mid-ears + 0.5 * (mid-ears - thorax), an extrapolation along the neck.

    A derived joint's confidence is the minimum of the landmarks it is built from.

    Args:
        world: (33, 3) MediaPipe ``pose_world_landmarks``: metres, origin between the hips, axes
            like the image (x right, y down, z away from the camera).
        visibility: (33,) landmark visibility in [0, 1].

    Returns:
        joints (17, 3) float32 metres, and confidence (17,) float32.
    """
    w = np.asarray(world, dtype=np.float64)
    v = np.clip(np.asarray(visibility, dtype=np.float64), 0.0, 1.0)

    def mid(a: int, b: int) -> tuple[np.ndarray, float]:
        return 0.5 * (w[a] + w[b]), min(v[a], v[b])

    pelvis, c_pelvis = mid(_L_HIP, _R_HIP)
    thorax, c_thorax = mid(_L_SHOULDER, _R_SHOULDER)
    ears, c_ears = mid(_L_EAR, _R_EAR)
    spine = 0.5 * (pelvis + thorax)
    head = ears + 0.5 * (ears - thorax)
    joints = [
        (pelvis, c_pelvis),
        (w[_R_HIP], v[_R_HIP]),
        (w[_R_KNEE], v[_R_KNEE]),
        (w[_R_ANKLE], v[_R_ANKLE]),
        (w[_L_HIP], v[_L_HIP]),
        (w[_L_KNEE], v[_L_KNEE]),
        (w[_L_ANKLE], v[_L_ANKLE]),
        (spine, min(c_pelvis, c_thorax)),
        (thorax, c_thorax),
        (w[_NOSE], v[_NOSE]),
        (head, min(c_ears, c_thorax)),
        (w[_L_SHOULDER], v[_L_SHOULDER]),
        (w[_L_ELBOW], v[_L_ELBOW]),
        (w[_L_WRIST], v[_L_WRIST]),
        (w[_R_SHOULDER], v[_R_SHOULDER]),
        (w[_R_ELBOW], v[_R_ELBOW]),
        (w[_R_WRIST], v[_R_WRIST]),
    ]
    xyz = np.stack([j for j, _ in joints]).astype(np.float32)
    conf = np.array([c for _, c in joints], dtype=np.float32)
    return xyz, conf


# ----------------------------------------------------------------------------------------------
# 2D front end


@dataclass
class MediaPipeDetection:
    """Everything MediaPipe Pose says about the person it found.

    Attributes:
        person: the COCO-17 observation (keypoints, confidence, mask, bbox) in image pixels.
        landmarks: (33, 3) float32: x, y in original-image pixels (pixel centres at integers),
            and MediaPipe's relative depth z in the same pixel scale (smaller = nearer).
        visibility: (33,) float32 in [0, 1].
        world_landmarks: (33, 3) float32 metres, origin between the hips (see
            `world_landmarks_to_h36m` for the axes).
        world_h36m: (17, 3) float32 metres, Human3.6M-17 order (pelvis at ~0).
        world_h36m_confidence: (17,) float32.
        window: (4,) float32 x0, y0, x1, y1 of the image window MediaPipe saw (may extend
            beyond the image; the outside is black).
        retried: whether the second, lower-threshold attempt found the person.
    """

    person: PersonObservation
    landmarks: np.ndarray
    visibility: np.ndarray
    world_landmarks: np.ndarray
    world_h36m: np.ndarray
    world_h36m_confidence: np.ndarray
    window: np.ndarray
    retried: bool


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"image must be an (H, W, 3) uint8 RGB array (see lasor.frontend.load_image), "
            f"got {img.dtype} {img.shape}"
        )
    return img


def _window(image_hw: tuple[int, int], bbox: np.ndarray | None, padding: float) -> np.ndarray:
    """Integer window x0, y0, x1, y1 around ``bbox`` (or the whole image), padded on each side by
    ``padding * max(width, height)``; it may extend beyond the image."""
    h, w = image_hw
    if bbox is None:
        x0, y0, x1, y1 = 0.0, 0.0, float(w), float(h)
    else:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    pad = padding * max(x1 - x0, y1 - y0)
    return np.array(
        [
            math.floor(x0 - pad),
            math.floor(y0 - pad),
            math.ceil(x1 + pad),
            math.ceil(y1 + pad),
        ],
        dtype=np.int64,
    )


def _crop(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The window's pixels, black where it leaves the image (a new contiguous array)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in window)
    canvas = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return canvas


def _uncrop_mask(mask: np.ndarray, window: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    h, w = image_hw
    x0, y0, x1, y1 = (int(v) for v in window)
    out = np.zeros((h, w), dtype=bool)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0:sy1, sx0:sx1] = mask[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    return out


class MediaPipePose:
    """MediaPipe Pose (legacy solution, model_complexity=1) as a lasor front end.

    Use as a context manager, or call `close` when done; one instance can process many images
    (each image is independent: ``static_image_mode=True``).

    Args:
        min_detection_confidence: person-detector threshold of the first attempt.
        retry_min_detection_confidence: threshold of the second attempt.
        bbox_padding: padding around a given box, as a fraction of its longer side, per side.
        retry_padding: padding of the second attempt's window around the image or the box, as a
            fraction of its longer side, per side (outside the image the window is black).
        mask_threshold: segmentation probability above which a pixel is "person".
        static_image_mode: True (default) treats every image alone; False is MediaPipe's video
            mode: consecutive calls are frames of one clip and the person is tracked between
            them (faster; feed frames in order, one instance per clip).
    """

    def __init__(
        self,
        *,
        min_detection_confidence: float = 0.5,
        retry_min_detection_confidence: float = 0.1,
        bbox_padding: float = 0.2,
        retry_padding: float = 0.2,
        mask_threshold: float = 0.5,
        static_image_mode: bool = True,
    ) -> None:
        self.min_detection_confidence = float(min_detection_confidence)
        self.retry_min_detection_confidence = float(retry_min_detection_confidence)
        self.bbox_padding = float(bbox_padding)
        self.retry_padding = float(retry_padding)
        self.mask_threshold = float(mask_threshold)
        self.static_image_mode = bool(static_image_mode)
        self._solutions: dict[float, Any] = {}

    def _solution(self, min_detection_confidence: float) -> Any:
        sol = self._solutions.get(min_detection_confidence)
        if sol is None:
            mp_pose = _import_pose_solution()
            sol = mp_pose.Pose(
                static_image_mode=self.static_image_mode,
                model_complexity=1,  # the only model in the wheel; 0 and 2 download at run time
                enable_segmentation=True,
                min_detection_confidence=min_detection_confidence,
            )
            self._solutions[min_detection_confidence] = sol
        return sol

    def close(self) -> None:
        """Release MediaPipe's graphs."""
        for sol in self._solutions.values():
            sol.close()
        self._solutions.clear()

    def __enter__(self) -> MediaPipePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, image: np.ndarray, window: np.ndarray, threshold: float) -> Any:
        crop = _crop(image, window)
        with warnings.catch_warnings():
            # protobuf 4.25 warns on every call from inside mediapipe
            warnings.filterwarnings("ignore", message=".*GetPrototype.*", category=UserWarning)
            result = self._solution(threshold).process(crop)
        return result if result.pose_landmarks is not None else None

    def detect(self, image: np.ndarray, bbox: Any | None = None) -> MediaPipeDetection | None:
        """Find the person (inside ``bbox`` if given) and return all MediaPipe outputs.

        Args:
            image: (H, W, 3) uint8 RGB (e.g. from `lasor.frontend.load_image`).
            bbox: optional (4,) x0, y0, x1, y1 in pixels of the person to look at.

        Returns:
            MediaPipeDetection, or None if both attempts found nobody.
        """
        img = _check_image(image)
        hw = img.shape[:2]
        box = None
        if bbox is not None:
            box = np.asarray(bbox, dtype=np.float64).reshape(4)
            if not (np.all(np.isfinite(box)) and box[2] > box[0] and box[3] > box[1]):
                raise ValueError(f"bbox must be finite x0, y0, x1, y1 with x1 > x0, y1 > y0: {box}")
        window = _window(hw, box, self.bbox_padding if box is not None else 0.0)
        result = self._run(img, window, self.min_detection_confidence)
        retried = False
        if result is None:
            window = _window(hw, box, self.retry_padding)
            result = self._run(img, window, self.retry_min_detection_confidence)
            retried = True
            if result is None:
                return None
        return self._convert(result, window, hw, box, retried)

    def __call__(self, image: np.ndarray, bbox: Any | None = None) -> PersonObservation | None:
        """`detect`, returning just the `PersonObservation` (or None)."""
        detection = self.detect(image, bbox)
        return None if detection is None else detection.person

    def _convert(
        self,
        result: Any,
        window: np.ndarray,
        hw: tuple[int, int],
        box: np.ndarray | None,
        retried: bool,
    ) -> MediaPipeDetection:
        h, w = hw
        x0, y0, x1, y1 = (float(v) for v in window)
        cw, ch = x1 - x0, y1 - y0
        lm = np.array(
            [(p.x, p.y, p.z, p.visibility, p.presence) for p in result.pose_landmarks.landmark],
            dtype=np.float64,
        )
        landmarks = np.stack(
            [lm[:, 0] * cw - 0.5 + x0, lm[:, 1] * ch - 0.5 + y0, lm[:, 2] * cw], axis=1
        ).astype(np.float32)
        visibility = np.clip(lm[:, 3], 0.0, 1.0).astype(np.float32)
        presence = np.clip(lm[:, 4], 0.0, 1.0).astype(np.float32)
        world = np.array(
            [(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], dtype=np.float32
        )
        world_h36m, world_conf = world_landmarks_to_h36m(world, visibility)

        mask = None
        if result.segmentation_mask is not None:
            crop_mask = np.asarray(result.segmentation_mask) > self.mask_threshold
            mask = _uncrop_mask(crop_mask, window, hw)

        keypoints = landmarks[MEDIAPIPE_TO_COCO17, :2]
        confidence = visibility[MEDIAPIPE_TO_COCO17]
        if box is not None:
            bbox = box.astype(np.float32)
        else:
            sure = np.where(confidence >= 0.5, confidence, 0.0)
            bbox = bbox_from_observation(keypoints, sure, mask)
            if bbox is None:  # nothing confident: fall back to all keypoints
                bbox = bbox_from_observation(keypoints, np.ones_like(confidence))
            bbox = np.clip(bbox, [-0.5, -0.5, -0.5, -0.5], [w - 0.5, h - 0.5, w - 0.5, h - 0.5])
        person = PersonObservation(
            keypoints=keypoints,
            confidence=confidence,
            bbox=bbox,
            mask=mask,
            source="mediapipe" + (":retry" if retried else ""),
            world_landmarks=world,
            landmark_visibility=visibility,
            landmark_presence=presence,
        )
        return MediaPipeDetection(
            person=person,
            landmarks=landmarks,
            visibility=visibility,
            world_landmarks=world,
            world_h36m=world_h36m,
            world_h36m_confidence=world_conf,
            window=window.astype(np.float32),
            retried=retried,
        )


def detect_person(image: np.ndarray, bbox: Any | None = None) -> PersonObservation | None:
    """One-shot convenience: run `MediaPipePose` with default settings on one image.

    Args:
        image: (H, W, 3) uint8 RGB.
        bbox: optional (4,) x0, y0, x1, y1 of the person.

    Returns:
        PersonObservation, or None if no person was found.
    """
    with MediaPipePose() as frontend:
        return frontend(image, bbox)
