"""Several people in one photo: prominence order, duplicates, size filter, separate masks.

* `prominence`: how much a person is *the* subject of the photo: the box's geometric-mean side
  relative to the image's, times a centrality weight (1 at the centre, 0.5 at a corner). Person 0
  is the most prominent, so a single-person call (``person="largest"``) never takes a small
  background person.
* `remove_duplicates`: two windows of the detector can lead MediaPipe to the same body; the
  later copy (same keypoints within 10 % of the body size, or boxes IoU > 0.7) goes.
* `separate_masks`: MediaPipe's mask in a person's window covers everyone in it. A pixel claimed
  by several people is given to the one whose skeleton (COCO limbs of confident keypoints) is
  nearest, relative to that person's size; for every other claimant it is no longer theirs, i.e.
  it counts as occluded. The person's box is then recomputed from their own mask and keypoints.
* `select_people`: all the above plus ``min_size`` and ``max_people``.
* `MultiPersonFrontend`: `lasor.frontend.detector.PersonDetector` windows -> the per-box
  MediaPipe path -> `select_people`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np

from lasor.body.joints import COCO17_EDGES
from lasor.frontend.types import PersonObservation, bbox_from_observation

__all__ = [
    "MultiPersonFrontend",
    "prominence",
    "remove_duplicates",
    "select_people",
    "separate_masks",
]

log = logging.getLogger(__name__)

#: keypoints at or above this confidence define a person's skeleton and box
SURE = 0.5


def prominence(box: np.ndarray, image_hw: tuple[int, int]) -> float:
    """Size x centrality of a person box (x0, y0, x1, y1) in an image of (H, W) pixels.

    ``sqrt(box area / image area) * (1 - 0.5 d)``, ``d`` = distance of the box centre from the
    image centre over the half diagonal (0 at the centre, 1 at a corner).
    """
    h, w = image_hw
    x0, y0, x1, y1 = (float(v) for v in box)
    size = np.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0) / max(h * w, 1))
    d = np.hypot((x0 + x1) / 2 - w / 2, (y0 + y1) / 2 - h / 2) / max(np.hypot(w, h) / 2, 1e-9)
    return float(size * (1.0 - 0.5 * min(d, 1.0)))


def _sure(obs: PersonObservation) -> np.ndarray:
    return obs.confidence >= SURE


def _body_size(obs: PersonObservation) -> float:
    x0, y0, x1, y1 = obs.bbox
    return float(max(x1 - x0, y1 - y0, 1.0))


def _same_body(a: PersonObservation, b: PersonObservation, tol: float = 0.1) -> bool:
    from lasor.frontend.detector import box_iou

    both = _sure(a) & _sure(b)
    if both.sum() >= 4:
        d = np.linalg.norm(a.keypoints[both] - b.keypoints[both], axis=1).mean()
        if d < tol * min(_body_size(a), _body_size(b)):
            return True
    return bool(box_iou(a.bbox, b.bbox)[0, 0] > 0.7)


def remove_duplicates(people: list[PersonObservation]) -> list[PersonObservation]:
    """Keep the first of every group of observations of the same body (pass them best first)."""
    kept: list[PersonObservation] = []
    for p in people:
        if not any(_same_body(p, k) for k in kept):
            kept.append(p)
    return kept


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((px - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(px - (a + t[:, None] * ab), axis=1)


def _skeleton_distance(obs: PersonObservation, px: np.ndarray) -> np.ndarray:
    """Distance of pixels (N, 2) x, y to the person's confident limbs (or keypoints), / size."""
    ok = _sure(obs)
    segs = [(a, b) for a, b in COCO17_EDGES if ok[a] and ok[b]]
    kp = obs.keypoints.astype(np.float64)
    d = np.full(len(px), np.inf)
    for a, b in segs:
        d = np.minimum(d, _segment_distance(px, kp[a], kp[b]))
    for k in np.flatnonzero(ok if not segs else np.zeros(len(ok), bool)):
        d = np.minimum(d, np.linalg.norm(px - kp[k], axis=1))
    return d / _body_size(obs)


def separate_masks(people: list[PersonObservation]) -> list[PersonObservation]:
    """Give every mask pixel claimed by several people to one of them (see the module doc).

    Returns new observations (same order); people without a mask are unchanged, and their boxes
    are recomputed from the separated mask and the confident keypoints.
    """
    masked = [k for k, p in enumerate(people) if p.mask is not None]
    if len(masked) < 2:
        return list(people)
    masks = np.stack([people[k].mask for k in masked])
    claims = masks.sum(0)
    ys, xs = np.nonzero(claims > 1)
    out = list(people)
    new_masks = masks.copy()
    if len(ys):
        px = np.stack([xs, ys], axis=1).astype(np.float64)
        dist = np.stack(
            [
                np.where(masks[i, ys, xs], _skeleton_distance(people[k], px), np.inf)
                for i, k in enumerate(masked)
            ]
        )
        owner = np.argmin(dist, axis=0)
        for i in range(len(masked)):
            new_masks[i, ys, xs] = owner == i
    for i, k in enumerate(masked):
        p = people[k]
        box = bbox_from_observation(
            p.keypoints, np.where(_sure(p), p.confidence, 0.0), new_masks[i]
        )
        out[k] = replace(p, mask=new_masks[i], bbox=p.bbox if box is None else box)
    return out


def select_people(
    people: list[PersonObservation],
    image_hw: tuple[int, int],
    *,
    max_people: int | None = None,
    person: str = "all",
    min_size: float = 32.0,
    min_keypoints: int = 6,
) -> list[PersonObservation]:
    """Order by prominence, drop duplicates and people under ``min_size``, separate the masks.

    Args:
        people: observations of one photo, the more trusted first (of two copies of the same
            body, the first is kept).
        image_hw: (H, W) of the photo.
        max_people: keep at most this many (the most prominent); None = all.
        person: "all", or "largest" = only the most prominent person.
        min_size: minimum longer box side in pixels.
        min_keypoints: minimum number of confident (>= 0.5) keypoints (a face alone is no body).

    Returns:
        Observations, most prominent first (person 0).
    """
    if person not in ("all", "largest"):
        raise ValueError(f"person must be 'all' or 'largest', got {person!r}")
    # duplicates: the first one in the caller's order stays (the detector's order: whole photo
    # first, then by score), then everyone is ranked by prominence
    ranked = remove_duplicates(list(people))
    ranked.sort(key=lambda p: -prominence(p.bbox, image_hw))
    ranked = separate_masks(ranked)
    ranked = [
        p for p in ranked if _body_size(p) >= min_size and int(_sure(p).sum()) >= min_keypoints
    ]
    # boxes shrink once masks are apart: rank again
    ranked.sort(key=lambda p: -prominence(p.bbox, image_hw))
    limit = 1 if person == "largest" else max_people
    return ranked if limit is None else ranked[: max(int(limit), 0)]


class MultiPersonFrontend:
    """Every person in a photo: detector windows -> MediaPipe per box -> `select_people`.

    Args:
        pose: a `lasor.frontend.mediapipe_pose.MediaPipePose` (default: a new one).
        detector: a `lasor.frontend.detector.PersonDetector` (default: a new one).
        max_windows: at most this many detector windows are sent to MediaPipe (best score first).
        min_size: see `select_people`.
        max_offset: MediaPipe's person in a window is the detection's when their mid-hips are
            within this fraction of the window's side (else see `_window_person`).
        passes: detection rounds; from the second on, the people found so far are greyed out
            (their separated masks) and the detector runs again, for people they hid (it stops
            early when a round adds nobody).

    ``frontend(image, bbox=box)`` is the single-box path (``pose(image, bbox=box)``), so this can
    stand in for a `MediaPipePose`; ``frontend.people(image, ...)`` finds everyone.
    """

    def __init__(
        self,
        pose: Any | None = None,
        detector: Any | None = None,
        max_windows: int = 12,
        min_size: float = 32.0,
        max_offset: float = 0.15,
        passes: int = 2,
    ) -> None:
        if pose is None:
            from lasor.frontend.mediapipe_pose import MediaPipePose

            pose = MediaPipePose()
        if detector is None:
            from lasor.frontend.detector import PersonDetector

            detector = PersonDetector()
        self.pose = pose
        self.detector = detector
        self.max_windows = int(max_windows)
        self.min_size = float(min_size)
        self.max_offset = float(max_offset)
        self.passes = int(passes)
        self.last_detections: list = []
        self.last_detector_s = 0.0  # seconds in the detector during the last `people` call

    def __call__(self, image: np.ndarray, bbox: Any | None = None) -> PersonObservation | None:
        return self.pose(image, bbox=bbox)

    def people(
        self, image: np.ndarray, *, max_people: int | None = None, person: str = "all"
    ) -> list[PersonObservation]:
        """Everyone in an (H, W, 3) uint8 RGB photo, most prominent first (see `select_people`).

        Falls back to MediaPipe on the whole photo when the detector finds nobody.
        """
        hw = image.shape[:2]
        found: list[PersonObservation] = []
        self.last_detections = []
        self.last_detector_s = 0.0
        scene = image
        for k in range(self.passes):
            if k > 0:  # grey out everyone found so far: the detector then sees who they hid
                if not found:
                    break
                scene = image.copy()
                for p in separate_masks(found):
                    if p.mask is not None:
                        scene[p.mask] = 128
            t = time.perf_counter()
            dets = self.detector(scene)[: self.max_windows]
            self.last_detector_s += time.perf_counter() - t
            self.last_detections += dets
            before = len(found)
            for d in dets:
                obs = self._window_person(scene, d)
                if obs is None:
                    continue
                sure = np.where(obs.confidence >= SURE, obs.confidence, 0.0)
                box = bbox_from_observation(obs.keypoints, sure, obs.mask)
                if box is not None:
                    box = np.clip(box, -0.5, [hw[1] - 0.5, hw[0] - 0.5] * 2)
                    found.append(replace(obs, bbox=box, source=f"detector+mediapipe:{k}"))
            if len(found) == before:
                break
        if not found:
            obs = self.pose(image)
            found = [] if obs is None else [obs]
        return select_people(
            found, hw, max_people=max_people, person=person, min_size=self.min_size
        )

    def _window_person(self, image: np.ndarray, d: Any) -> PersonObservation | None:
        """MediaPipe in the detection's window; if it locked onto someone else (its mid-hip is
        farther than ``self.max_offset`` x the window from the detection's), that person's mask
        pixels nearer to them than to the detection's hip-shoulder line are greyed out and
        MediaPipe runs once more."""
        # MediaPipePose pads a box by `bbox_padding` per side; undo it so that the window it
        # sees is the detector's (MediaPipe's own ROI)
        c = (d.window[:2] + d.window[2:]) / 2
        half = d.size / 2 / (1 + 2 * self.pose.bbox_padding)
        box = np.concatenate([c - half, c + half])
        obs = self.pose(image, bbox=box)
        if obs is None or self._on_target(obs, d):
            return obs
        wrong = obs
        if wrong.mask is None:
            return None
        ys, xs = np.nonzero(wrong.mask)
        px = np.stack([xs, ys], 1).astype(np.float64)
        target = d.keypoints[[0, 2]].astype(np.float64)
        d_target = _segment_distance(px, target[0], target[1]) / max(d.size, 1.0)
        d_wrong = _skeleton_distance(wrong, px) * _body_size(wrong) / max(d.size, 1.0)
        grey = d_wrong < d_target
        painted = image.copy()
        painted[ys[grey], xs[grey]] = 128
        obs = self.pose(painted, bbox=box)
        if obs is None or not self._on_target(obs, d):
            return None
        log.debug("window %s: found its person after greying out another", np.round(box))
        return obs

    def _on_target(self, obs: PersonObservation, d: Any) -> bool:
        hips = obs.keypoints[[11, 12]].mean(0)
        return bool(np.linalg.norm(hips - d.keypoints[0]) <= self.max_offset * d.size)

    def close(self) -> None:
        self.pose.close()
        self.detector.close()
