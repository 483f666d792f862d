"""Every person in a photo with BlazePose's own two models, through LiteRT (no mediapipe import).

The legacy MediaPipe Pose graph (``pose_landmark_cpu``) runs the person detector, keeps its
best detection, turns it into a rotated square region and runs the landmark model there. This
front end does each step in lasor's own code and keeps *every* detection:

1. `lasor.frontend.detector.PersonDetector`: all BlazePose detections of the photo;
2. `lasor.frontend.roi.roi_from_points`: each detection's region (hip centre, scale point);
3. `lasor.frontend.landmarker.PoseLandmarker`: one landmark pass per region (one interpreter,
   one input size: nothing is re-initialised), landmarks, visibility, presence, world
   landmarks, mask and the pose flag, all mapped back into the photo;
4. regions whose pose flag is below ``min_pose_score`` (MediaPipe's ``min_tracking_confidence``,
   0.5) are dropped: that is how false detections go;
5. `lasor.frontend.people.select_people`: duplicates, prominence order, separate masks.

``frontend(image)`` is MediaPipe's single-person answer (the best detection only, as the legacy
solution); ``frontend(image, bbox=box)`` looks for the person inside a box;
``frontend.people(image)`` finds everyone. The parity with MediaPipe's legacy solution is
measured by ``benchmarks/blazepose_parity.py``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from lasor.frontend.landmarker import LandmarkResult
from lasor.frontend.roi import Roi, roi_from_points
from lasor.frontend.types import PersonObservation, bbox_from_observation

__all__ = ["BlazePose", "BlazePoseTracker", "observation_from_landmarks"]

log = logging.getLogger(__name__)

#: For each COCO-17 keypoint, the index of the BlazePose landmark (of 33).
BLAZEPOSE_TO_COCO17: list[int] = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
SURE = 0.5


def observation_from_landmarks(
    result: LandmarkResult,
    image_hw: tuple[int, int],
    *,
    mask_threshold: float = 0.5,
    bbox: np.ndarray | None = None,
    source: str = "blazepose",
) -> PersonObservation:
    """A landmark pass -> `PersonObservation` (COCO-17 keypoints, mask, box, world landmarks).

    Keypoints and confidence are the BlazePose landmarks and visibilities of the COCO-17 joints
    (as `lasor.frontend.mediapipe_pose` does with MediaPipe's answer). The box is ``bbox`` when
    given, else the tight box of the mask and the keypoints of visibility >= 0.5 (all keypoints
    when none is), clipped to the photo.
    """
    h, w = image_hw
    keypoints = result.landmarks[BLAZEPOSE_TO_COCO17, :2]
    confidence = result.visibility[BLAZEPOSE_TO_COCO17]
    mask = result.full_mask(image_hw, mask_threshold) if result.mask is not None else None
    if bbox is None:
        sure = np.where(confidence >= SURE, confidence, 0.0)
        bbox = bbox_from_observation(keypoints, sure, mask)
        if bbox is None:
            bbox = bbox_from_observation(keypoints, np.ones_like(confidence))
        bbox = np.clip(bbox, -0.5, [w - 0.5, h - 0.5, w - 0.5, h - 0.5])
    return PersonObservation(
        keypoints=keypoints,
        confidence=confidence,
        bbox=bbox,
        mask=mask,
        source=source,
        world_landmarks=result.world_landmarks,
        landmark_visibility=result.visibility,
        landmark_presence=result.presence,
    )


class BlazePose:
    """BlazePose detector + landmark model through LiteRT, as a lasor front end.

    Args:
        detector: a `lasor.frontend.detector.PersonDetector` (default: a new one).
        landmarker: a `lasor.frontend.landmarker.PoseLandmarker` (default: a new one).
        min_pose_score: a region's landmarks are kept when the pose flag reaches this
            (MediaPipe's ``min_tracking_confidence``, 0.5).
        mask_threshold: segmentation probability above which a pixel is "person".
        max_windows: at most this many detections get a landmark pass (best score first).
        min_size: see `lasor.frontend.people.select_people`.
        bbox_padding: padding around a given box (fraction of its longer side, per side) of
            the window the detector searches for the boxed person.
        passes: detection rounds of `people`; from the second on, the people found so far are
            greyed out (their separated masks) and the detector and landmark model run again
            on that photo, for people they hid (stops early when a round adds nobody).
        retry_score: when nobody is found, the detector runs once more at this threshold on
            the photo padded by ``retry_padding`` of its longer side per side (black), as
            `lasor.frontend.mediapipe_pose.MediaPipePose` retries (people touching the border,
            crouching); the pose flag still decides. None = no retry.
        retry_padding: see ``retry_score``.
        tiles: in `people`'s first round, also search a ``tiles x tiles`` grid of sub-windows
            (`lasor.frontend.detector.PersonDetector` ``tiles``), for people too small at the
            detector's 224 px; with ``tile_below``, only unless someone found on the whole photo
            is at least that fraction of its height tall (None: always; on ../shared's COCO +
            OCHuman, 0.8 found 10 of 19 people where always found 13). Detections already given
            a landmark pass (face boxes overlapping by IoU > 0.3) are not run again; the pose
            flag rejects false ones. 1 = whole photo only (one detector run per round).
        tile_below: see ``tiles``.
    """

    def __init__(
        self,
        detector: Any | None = None,
        landmarker: Any | None = None,
        *,
        min_pose_score: float = 0.5,
        mask_threshold: float = 0.5,
        max_windows: int = 12,
        min_size: float = 32.0,
        bbox_padding: float = 0.2,
        passes: int = 2,
        retry_score: float | None = 0.1,
        retry_padding: float = 0.2,
        tiles: int = 1,
        tile_below: float | None = None,
    ) -> None:
        if detector is None:
            from lasor.frontend.detector import PersonDetector

            detector = PersonDetector()
        if landmarker is None:
            from lasor.frontend.landmarker import PoseLandmarker

            landmarker = PoseLandmarker()
        self.detector = detector
        self.landmarker = landmarker
        self.min_pose_score = float(min_pose_score)
        self.mask_threshold = float(mask_threshold)
        self.max_windows = int(max_windows)
        self.min_size = float(min_size)
        self.bbox_padding = float(bbox_padding)
        self.passes = int(passes)
        self.retry_score = retry_score
        self.retry_padding = float(retry_padding)
        self.tiles = int(tiles)
        self.tile_below = tile_below
        self.last_detections: list = []
        self.last_detector_s = 0.0  # seconds in the detector during the last call
        self.last_landmark_s = 0.0  # seconds in the landmark passes during the last call

    # ------------------------------------------------------------------------------------------
    def landmarks(self, image: np.ndarray, roi: Roi) -> LandmarkResult | None:
        """The landmark pass on ``roi``; None when the pose flag is below ``min_pose_score``."""
        t = time.perf_counter()
        result = self.landmarker(image, roi)
        self.last_landmark_s += time.perf_counter() - t
        return result if result.score >= self.min_pose_score else None

    def _detect(self, image: np.ndarray) -> list:
        t = time.perf_counter()
        dets = self.detector(image)
        self.last_detector_s += time.perf_counter() - t
        self.last_detections += dets
        return dets

    def _detect_retry(self, image: np.ndarray) -> list:
        """The detector at ``retry_score`` on the photo padded with black (detections mapped
        back to the photo's pixels); [] without a retry."""
        if self.retry_score is None or not hasattr(self.detector, "score_threshold"):
            return []
        h, w = image.shape[:2]
        pad = int(round(self.retry_padding * max(h, w)))
        padded = _crop_black(image, (-pad, -pad, w + pad, h + pad))
        keep = self.detector.score_threshold
        self.detector.score_threshold = min(float(self.retry_score), keep)
        try:
            dets = self._detect(padded)
        finally:
            self.detector.score_threshold = keep
        off = np.array([pad, pad], np.float32)
        return [
            replace(
                d,
                keypoints=d.keypoints - off,
                face_box=d.face_box - np.tile(off, 2),
                window=d.window - np.tile(off, 2),
            )
            for d in dets
        ]

    def _landmark_people(
        self, scene: np.ndarray, dets: list, hw: tuple[int, int], source: str
    ) -> list[PersonObservation]:
        out = []
        for d in dets:
            result = self.landmarks(scene, roi_from_points(d.keypoints[0], d.keypoints[1]))
            if result is not None:
                obs = observation_from_landmarks(result, hw, mask_threshold=self.mask_threshold)
                out.append(replace(obs, source=source))
                self._turn[id(out[-1])] = result.roi.rotation
        return out

    def _tile_search(self, found: list[PersonObservation], hw: tuple[int, int]) -> bool:
        if self.tiles <= 1 or not hasattr(self.detector, "tile_detections"):
            return False
        if self.tile_below is None:
            return True
        tallest = max((float(p.bbox[3] - p.bbox[1]) for p in found), default=0.0)
        return tallest < self.tile_below * hw[0]

    def _detect_tiles(self, scene: np.ndarray, done: list) -> list:
        """Detections of the tile search that no detection in ``done`` already covers."""
        from lasor.frontend.detector import box_iou

        t = time.perf_counter()
        dets = self.detector.tile_detections(scene, done, self.tiles)[len(done) :]
        self.last_detector_s += time.perf_counter() - t
        self.last_detections += dets
        if not done:
            return dets
        boxes = np.stack([d.face_box for d in done])
        return [d for d in dets if box_iou(d.face_box, boxes).max() <= 0.3]

    def _reset(self) -> None:
        self._turn: dict[int, float] = {}  # id(observation) -> its region's rotation
        self.last_detections = []
        self.last_detector_s = 0.0
        self.last_landmark_s = 0.0

    def detect(self, image: np.ndarray, bbox: Any | None = None) -> LandmarkResult | None:
        """MediaPipe's single-person answer: the best detection's landmark pass.

        Args:
            image: (H, W, 3) uint8 RGB.
            bbox: optional (4,) x0, y0, x1, y1: the person is looked for in a window padded by
                ``bbox_padding`` around it (the best detection there; if none, a region
                centred on the box, of side 1.25 x its longer side).
        """
        img = _check_image(image)
        self._reset()
        if bbox is None:
            dets = self._detect(img)
            result = None
            if dets:
                d = dets[0]
                result = self.landmarks(img, roi_from_points(d.keypoints[0], d.keypoints[1]))
            if result is None:
                for d in self._detect_retry(img)[:1]:
                    result = self.landmarks(img, roi_from_points(d.keypoints[0], d.keypoints[1]))
            return result
        box = np.asarray(bbox, np.float64).reshape(4)
        if not (np.all(np.isfinite(box)) and box[2] > box[0] and box[3] > box[1]):
            raise ValueError(f"bbox must be finite x0, y0, x1, y1 with x1 > x0, y1 > y0: {box}")
        side = max(box[2] - box[0], box[3] - box[1])
        pad = self.bbox_padding * side
        x0, y0 = (int(math.floor(v - pad)) for v in box[:2])
        x1, y1 = (int(math.ceil(v + pad)) for v in box[2:])
        window = _crop_black(img, (x0, y0, x1, y1))
        centre = (box[:2] + box[2:]) / 2
        roi = Roi(centre, 1.25 * side, 0.0)
        dets = self._detect(window)
        best = None
        for d in dets:  # the best detection whose hip centre lies in the box
            kp = d.keypoints + np.array([x0, y0])
            if box[0] <= kp[0, 0] <= box[2] and box[1] <= kp[0, 1] <= box[3]:
                best = kp
                break
        if best is not None:
            roi = roi_from_points(best[0], best[1])
        return self.landmarks(img, roi)

    def __call__(self, image: np.ndarray, bbox: Any | None = None) -> PersonObservation | None:
        """`detect` as a `PersonObservation` (or None); with ``bbox``, the box is kept."""
        result = self.detect(image, bbox)
        if result is None:
            return None
        return observation_from_landmarks(
            result,
            image.shape[:2],
            mask_threshold=self.mask_threshold,
            bbox=None if bbox is None else np.asarray(bbox, np.float32).reshape(4),
        )

    def people(
        self, image: np.ndarray, *, max_people: int | None = None, person: str = "all"
    ) -> list[PersonObservation]:
        """Everyone in an (H, W, 3) uint8 RGB photo, most prominent first.

        One landmark pass per detection (at most ``max_windows``) in each of ``passes`` rounds;
        passes whose pose flag is below ``min_pose_score`` are dropped; then
        `lasor.frontend.people.select_people` (duplicates, prominence order, masks apart).
        """
        from lasor.frontend.people import select_people, separate_masks

        img = _check_image(image)
        self._reset()
        hw = img.shape[:2]
        found: list[PersonObservation] = []
        scene = img
        for k in range(self.passes):
            if k > 0:  # grey out everyone found so far: the detector then sees who they hid
                scene = img.copy()
                for p in separate_masks(found):
                    if p.mask is not None:
                        scene[p.mask] = 128
            before = len(found)
            source = "blazepose" if k == 0 else f"blazepose:{k}"
            dets = self._detect(scene)[: self.max_windows]
            found += self._landmark_people(scene, dets, hw, source)
            if k == 0 and self._tile_search(found, hw):
                tiled = self._detect_tiles(scene, dets)[: max(self.max_windows - len(dets), 0)]
                found += [
                    p
                    for p in self._landmark_people(scene, tiled, hw, "blazepose:tile")
                    if not _covered(p, found, self._turn)
                ]
            if len(found) == before:
                break
        if not found:  # nobody: once more at a low threshold on the padded photo
            for d in self._detect_retry(img)[: self.max_windows]:
                result = self.landmarks(img, roi_from_points(d.keypoints[0], d.keypoints[1]))
                if result is not None:
                    obs = observation_from_landmarks(result, hw, mask_threshold=self.mask_threshold)
                    found.append(replace(obs, source="blazepose:retry"))
        return select_people(
            found, hw, max_people=max_people, person=person, min_size=self.min_size
        )

    def close(self) -> None:
        """Nothing to release (LiteRT frees its interpreters with the objects)."""


def _covered(
    obs: PersonObservation,
    others: list[PersonObservation],
    turn: dict[int, float],
    share: float = 0.6,
    alone: float = 0.9,
) -> bool:
    """Whether ``obs`` is a tile's second reading of a body already found: its confident
    keypoints lie on another person's mask, at least ``alone`` of them, or at least ``share``
    with its region turned by over 45 degrees from that person's (read sideways) or its box
    (>= 90 %) inside that person's (part of the body read as a whole one)."""
    sure = obs.confidence >= SURE
    if not sure.any():
        return True
    xy = np.rint(obs.keypoints[sure]).astype(int)
    for o in others:
        if o.mask is None:
            continue
        h, w = o.mask.shape
        on = o.mask[np.clip(xy[:, 1], 0, h - 1), np.clip(xy[:, 0], 0, w - 1)].mean()
        d = abs(turn.get(id(obs), 0.0) - turn.get(id(o), 0.0)) % (2 * math.pi)
        x0, y0 = np.maximum(obs.bbox[:2], o.bbox[:2])
        x1, y1 = np.minimum(obs.bbox[2:], o.bbox[2:])
        area = max(float((obs.bbox[2] - obs.bbox[0]) * (obs.bbox[3] - obs.bbox[1])), 1e-9)
        inside = max(x1 - x0, 0) * max(y1 - y0, 0) / area
        if on >= alone or (
            on >= share and (min(d, 2 * math.pi - d) > math.pi / 4 or inside >= 0.9)
        ):
            return True
    return False


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"image must be an (H, W, 3) uint8 RGB array (see lasor.frontend.load_image), "
            f"got {img.dtype} {img.shape}"
        )
    return img


def _crop_black(image: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """The window's pixels, black where it leaves the photo."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = window
    out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


class BlazePoseTracker:
    """One person through a clip, as MediaPipe's Pose in video mode (``pose_landmark_cpu``
    with ``use_prev_landmarks``): the region of each frame comes from the previous frame's
    auxiliary landmarks (hip centre, scale point; ``pose_landmarks_to_roi.pbtxt``), and the
    detector runs only on the first frame and whenever the pose flag drops below
    ``min_pose_score``. Unlike MediaPipe, the landmarks are not smoothed here (lasor's video
    path smooths the 3D result).

    Args:
        pose: a `BlazePose` (default: a new one); its thresholds apply.

    Call it on consecutive frames (one tracker per clip).
    """

    def __init__(self, pose: BlazePose | None = None) -> None:
        self.pose = pose if pose is not None else BlazePose()
        self._roi: Roi | None = None
        self.detections = 0  # frames on which the detector ran

    def reset(self) -> None:
        """Forget the previous frame (the next call runs the detector)."""
        self._roi = None

    def track(self, frame: np.ndarray) -> LandmarkResult | None:
        """The landmark pass of the next frame (None when nobody is found)."""
        img = _check_image(frame)
        result = None
        if self._roi is not None:
            result = self.pose.landmarks(img, self._roi)
        if result is None:  # first frame, or the pose flag dropped: detect again
            self.detections += 1
            result = self.pose.detect(img)
        self._roi = None if result is None else result.next_roi()
        return result

    def __call__(self, frame: np.ndarray) -> PersonObservation | None:
        """`track` as a `PersonObservation` (or None)."""
        result = self.track(frame)
        if result is None:
            return None
        return observation_from_landmarks(
            result, frame.shape[:2], mask_threshold=self.pose.mask_threshold, source="blazepose"
        )

    def close(self) -> None:
        self.pose.close()
