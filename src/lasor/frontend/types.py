"""What every front end returns: one `PersonObservation` per person, or a `FrontendError`."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lasor.body.joints import COCO17_JOINTS

__all__ = ["FrontendError", "PersonObservation", "bbox_from_observation"]

NUM_KEYPOINTS = len(COCO17_JOINTS)
#: MediaPipe Pose (BlazePose) landmarks per person.
NUM_LANDMARKS = 33


class FrontendError(Exception):
    """A user-supplied input (image, keypoint / mask / box file) is unreadable or malformed.

    The message always starts with the offending file and says what was expected.

    Attributes:
        path: the file the error is about.
    """

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


@dataclass
class PersonObservation:
    """One person seen in one image, in original-image pixels.

    Pixel coordinates are continuous with pixel centres at integers (the COCO / OpenPose / OpenCV
    convention): the top-left pixel covers [-0.5, 0.5] x [-0.5, 0.5].

    Attributes:
        keypoints: (17, 2) float32, x, y in COCO-17 order (`lasor.body.joints.COCO17_JOINTS`).
        confidence: (17,) float32 in [0, 1]; 0 means missing (its keypoint is meaningless).
        bbox: (4,) float32, x0, y0, x1, y1 (x1 > x0, y1 > y0).
        mask: (H, W) bool silhouette of this person over the full image, or None.
        source: where the observation came from, e.g. "coco:<file>", "openpose:<file>", "mediapipe".
        world_landmarks: (33, 3) float32 MediaPipe Pose world landmarks (metres, origin between
            the hips, axes like the image: x right, y down, z away from the camera), or None
            (user keypoint files have none; everything works without them).
        landmark_visibility: (33,) float32 in [0, 1], MediaPipe's visibility per landmark, or
            None (present exactly when ``world_landmarks`` is).
        landmark_presence: (33,) float32 in [0, 1], MediaPipe's presence per landmark, or None.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    bbox: np.ndarray
    mask: np.ndarray | None = None
    source: str = "unknown"
    world_landmarks: np.ndarray | None = None
    landmark_visibility: np.ndarray | None = None
    landmark_presence: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.keypoints = np.array(self.keypoints, dtype=np.float32, copy=True)
        self.confidence = np.array(self.confidence, dtype=np.float32, copy=True)
        self.bbox = np.array(self.bbox, dtype=np.float32, copy=True)
        if self.keypoints.shape != (NUM_KEYPOINTS, 2):
            raise ValueError(f"keypoints must be ({NUM_KEYPOINTS}, 2), got {self.keypoints.shape}")
        if self.confidence.shape != (NUM_KEYPOINTS,):
            raise ValueError(f"confidence must be ({NUM_KEYPOINTS},), got {self.confidence.shape}")
        if np.any(~np.isfinite(self.confidence)) or np.any(
            (self.confidence < 0) | (self.confidence > 1)
        ):
            raise ValueError("confidence must be finite and in [0, 1]")
        if self.bbox.shape != (4,):
            raise ValueError(f"bbox must be (4,) x0, y0, x1, y1, got {self.bbox.shape}")
        if self.mask is not None:
            self.mask = np.array(self.mask, dtype=bool, copy=True)
            if self.mask.ndim != 2:
                raise ValueError(f"mask must be (H, W), got {self.mask.shape}")
        self._check_world()

    def _check_world(self) -> None:
        if self.world_landmarks is None:
            if self.landmark_visibility is not None or self.landmark_presence is not None:
                raise ValueError("landmark visibility / presence given without world_landmarks")
            return
        self.world_landmarks = np.array(self.world_landmarks, dtype=np.float32, copy=True)
        if self.world_landmarks.shape != (NUM_LANDMARKS, 3):
            raise ValueError(
                f"world_landmarks must be ({NUM_LANDMARKS}, 3), got {self.world_landmarks.shape}"
            )
        if not np.all(np.isfinite(self.world_landmarks)):
            raise ValueError("world_landmarks must be finite")
        for name in ("landmark_visibility", "landmark_presence"):
            value = getattr(self, name)
            if value is None:
                value = np.ones(NUM_LANDMARKS, np.float32)
            value = np.clip(np.nan_to_num(np.array(value, np.float32, copy=True)), 0.0, 1.0)
            if value.shape != (NUM_LANDMARKS,):
                raise ValueError(f"{name} must be ({NUM_LANDMARKS},), got {value.shape}")
            setattr(self, name, value)

    @property
    def has_world(self) -> bool:
        """Whether MediaPipe's 3D world landmarks came with this observation."""
        return self.world_landmarks is not None

    @property
    def num_visible(self) -> int:
        """Number of keypoints with non-zero confidence."""
        return int(np.count_nonzero(self.confidence > 0))


def bbox_from_observation(
    keypoints: np.ndarray, confidence: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray | None:
    """Tight box around the mask pixels and the keypoints with non-zero confidence.

    Args:
        keypoints: (17, 2) pixels.
        confidence: (17,).
        mask: optional (H, W) bool.

    Returns:
        (4,) float32 x0, y0, x1, y1 (pixel edges, so a single pixel at (i, j) gives a 1-px box),
        or None when there is nothing to bound.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    if mask is not None and mask.any():
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        xs += [np.array([cols[0] - 0.5, cols[-1] + 0.5])]
        ys += [np.array([rows[0] - 0.5, rows[-1] + 0.5])]
    seen = np.asarray(confidence) > 0
    if seen.any():
        xs.append(np.asarray(keypoints)[seen, 0])
        ys.append(np.asarray(keypoints)[seen, 1])
    if not xs:
        return None
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    if x1 - x0 < 1:  # a single keypoint: give the box a minimal extent
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 - y0 < 1:
        y0, y1 = y0 - 0.5, y1 + 0.5
    return np.array([x0, y0, x1, y1], dtype=np.float32)
