"""BlazePose's rotated square region of interest: from alignment points, to a model crop, and back.

The legacy MediaPipe Pose graph turns two alignment points into the region the landmark model
sees, and maps the model's outputs back into the photo. This module does the same maths in plain
numpy / Pillow (no OpenCV, no mediapipe import):

* `roi_from_points`: ``AlignmentPointsRectsCalculator`` then ``RectTransformationCalculator``
  (``mediapipe/modules/pose_landmark/pose_detection_to_roi.pbtxt`` for a detection: keypoint 0
  = hip centre, keypoint 1 = full-body scale point, target angle 90 degrees, scale 1.25,
  ``square_long``; ``pose_landmarks_to_roi.pbtxt`` for the previous frame's auxiliary landmarks
  33 and 34, with the same options). The square is centred on the first point, its half side is
  the distance between the points times 1.25 and it is turned so that the first-to-second vector
  points up in the crop: ``rotation = 90 deg - atan2(-(y1 - y0), x1 - x0)``, normalised to
  [-pi, pi) (``NormalizeRadians`` of ``detections_to_rects_calculator.cc``).
* `crop`: ``ImageToTensorCalculator`` of ``pose_landmark_by_roi_cpu.pbtxt`` (256 x 256, values
  in [0, 1], ``keep_aspect_ratio`` - a square region needs no letterbox - bilinear, the border
  replicated, as its CPU converter does by default).
* `to_image` / `world_to_image_axes` / `unwarp`: ``PoseLandmarksAndSegmentationInverseProjection``
  (``LandmarkProjectionCalculator``: a crop point ``(u, v)`` in [0, 1] goes to
  ``centre + side * R(rotation) @ (u - 0.5, v - 0.5)``, ``z`` scales with the side;
  ``WorldLandmarkProjectionCalculator``: world x, y turn by the same rotation, z unchanged;
  ``WarpAffineCalculator``: the mask is warped back bilinearly, zero outside the region).

Pixel coordinates follow lasor's convention (`lasor.frontend.types.PersonObservation`): pixel
centres at integers. Crop coordinates ``(u, v)`` are normalised to the crop's edges: the crop's
pixel ``(i, j)`` has its centre at ``((j + 0.5) / N, (i + 0.5) / N)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Roi",
    "crop",
    "mediapipe_grid",
    "roi_from_points",
    "unwarp",
]

#: RectTransformationCalculator scale of both pose graphs (detection and landmarks to ROI)
ROI_SCALE = 1.25


def normalize_radians(angle: float) -> float:
    """``angle`` wrapped to [-pi, pi) (MediaPipe's ``NormalizeRadians``)."""
    return float(angle - 2.0 * math.pi * math.floor((angle + math.pi) / (2.0 * math.pi)))


@dataclass(frozen=True)
class Roi:
    """A rotated square in a photo.

    Attributes:
        centre: (2,) float64 x, y in photo pixels.
        size: side in photo pixels.
        rotation: radians; a crop point right of the centre maps to ``centre + d (cos, sin)``
            in the photo (clockwise on screen, since y points down), as MediaPipe's ``rotation``.
    """

    centre: np.ndarray
    size: float
    rotation: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "centre", np.asarray(self.centre, np.float64).reshape(2))
        object.__setattr__(self, "size", float(self.size))
        object.__setattr__(self, "rotation", float(self.rotation))

    @property
    def rotation_matrix(self) -> np.ndarray:
        """(2, 2) R: crop axes -> photo axes."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.array([[c, -s], [s, c]])

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """Crop coordinates (..., 2) in [0, 1] -> photo pixels (..., 2)."""
        uv = np.asarray(uv, np.float64)
        return self.centre + self.size * (uv - 0.5) @ self.rotation_matrix.T

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        """Photo pixels (..., 2) -> crop coordinates (..., 2) (the inverse of `to_image`)."""
        xy = np.asarray(xy, np.float64)
        return (xy - self.centre) @ self.rotation_matrix / self.size + 0.5

    def corners(self) -> np.ndarray:
        """(4, 2) photo pixels of the crop's corners: top-left, top-right, bottom-right,
        bottom-left (of the crop)."""
        return self.to_image(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))

    def bounds(
        self, image_hw: tuple[int, int], part: tuple[float, float, float, float] | None = None
    ) -> tuple[int, int, int, int] | None:
        """Integer pixel window x0, y0, x1, y1 (exclusive ends) of the region (or of its part
        u0, v0, u1, v1 in crop coordinates) inside the photo, or None when it misses it."""
        h, w = image_hw
        if part is None:
            c = self.corners()
        else:
            u0, v0, u1, v1 = part
            c = self.to_image(np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], np.float64))
        x0 = max(int(math.floor(c[:, 0].min())), 0)
        y0 = max(int(math.floor(c[:, 1].min())), 0)
        x1 = min(int(math.ceil(c[:, 0].max())) + 1, w)
        y1 = min(int(math.ceil(c[:, 1].max())) + 1, h)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def rotate_world(self, world: np.ndarray) -> np.ndarray:
        """World landmarks (..., 3) from the crop's axes to the photo's (x, y turn by
        ``rotation``; z unchanged), as ``WorldLandmarkProjectionCalculator``."""
        w = np.array(world, np.float64, copy=True)
        w[..., :2] = w[..., :2] @ self.rotation_matrix.T
        return w


def roi_from_points(
    start: np.ndarray,
    end: np.ndarray,
    scale: float = ROI_SCALE,
    target_angle: float = math.pi / 2,
) -> Roi:
    """MediaPipe's region from two alignment points in photo pixels (see the module doc).

    Args:
        start: (2,) the centre point (the detection's hip centre, or landmark 33).
        end: (2,) the scale point (the full-body circle point, or landmark 34).
        scale: RectTransformationCalculator's scale (1.25 in both pose graphs).
        target_angle: the angle the start-to-end vector should have in the crop (90 deg: up).

    Returns:
        The region: centre ``start``, side ``2 * scale * |end - start|``.
    """
    start = np.asarray(start, np.float64).reshape(2)
    end = np.asarray(end, np.float64).reshape(2)
    d = end - start
    rotation = normalize_radians(target_angle - math.atan2(-d[1], d[0]))
    return Roi(start, 2.0 * scale * float(np.hypot(*d)), rotation)


def mediapipe_grid(roi: Roi, size: int = 256) -> Roi:
    """The region whose pixel-centre grid is the one MediaPipe's OpenCV crop samples.

    ``ImageToTensorCalculator`` maps the region's corners (centre ``x_center * W``, i.e. lasor's
    centre + 0.5) onto the output's corners, so output pixel ``j`` samples crop coordinate
    ``j / size`` of a region shifted by half a photo pixel, while the landmarks are mapped back
    through the unshifted region. `crop` of this region reproduces that sampling (it matters:
    the crop is a point-sampled, not anti-aliased, downsampling).
    """
    shift = 0.5 - roi.rotation_matrix @ np.full(2, roi.size / (2 * size))
    return Roi(roi.centre + shift, roi.size, roi.rotation)


def crop(image: np.ndarray, roi: Roi, size: int = 256, border: str = "replicate") -> np.ndarray:
    """The region resampled to a ``size`` square: bilinear, no anti-aliasing.

    As OpenCV's warp in MediaPipe's CPU ``ImageToTensorCalculator``: each sample coordinate is
    rounded to 1/32 pixel (``INTER_BITS`` 5), the value to an integer. Four numpy gathers: the
    cost depends on ``size``, not on the region's size.

    Args:
        image: (H, W, C) uint8 photo.
        roi: the region.
        size: output side (the landmark model's 256).
        border: "replicate" (the landmark crop's default border) or "zero" (black: the
            detector's ``BORDER_ZERO``).

    Returns:
        (size, size, C) float32 of integer values; pixel (i, j) samples the photo at
        ``roi.to_image(((j + 0.5) / size, (i + 0.5) / size))``.
    """
    if border not in ("replicate", "zero"):
        raise ValueError(f"border must be 'replicate' or 'zero', got {border!r}")
    h, w = image.shape[:2]
    a = (roi.rotation_matrix * (roi.size / size)).astype(np.float32)
    t = roi.to_image(np.full(2, 0.5 / size))  # where output pixel (0, 0) samples
    j = np.arange(size, dtype=np.float32)
    xs = a[0, 0] * j[None, :] + a[0, 1] * j[:, None] + np.float32(t[0])
    ys = a[1, 0] * j[None, :] + a[1, 1] * j[:, None] + np.float32(t[1])
    qx = np.rint(xs * 32).astype(np.int32)
    qy = np.rint(ys * 32).astype(np.int32)
    x0, y0 = qx >> 5, qy >> 5
    fx = ((qx & 31).astype(np.float32) * np.float32(1 / 32))[..., None]
    fy = ((qy & 31).astype(np.float32) * np.float32(1 / 32))[..., None]
    cols = [np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)]
    rows = [np.clip(y0, 0, h - 1) * w, np.clip(y0 + 1, 0, h - 1) * w]
    idx = np.stack([rows[0] + cols[0], rows[0] + cols[1], rows[1] + cols[0], rows[1] + cols[1]])
    taps = np.take(image.reshape(h * w, -1), idx, axis=0).astype(np.float32)
    if border == "zero":
        inx = [(x0 >= 0) & (x0 < w), (x0 >= -1) & (x0 < w - 1)]
        iny = [(y0 >= 0) & (y0 < h), (y0 >= -1) & (y0 < h - 1)]
        ok = np.stack([iny[0] & inx[0], iny[0] & inx[1], iny[1] & inx[0], iny[1] & inx[1]])
        taps *= ok[..., None]
    top = taps[0] + (taps[1] - taps[0]) * fx
    bottom = taps[2] + (taps[3] - taps[2]) * fx
    return np.rint(top + (bottom - top) * fy)


def unwarp(
    crop_values: np.ndarray,
    roi: Roi,
    image_hw: tuple[int, int],
    support: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """A crop-sized float map (e.g. the mask probability) warped back into the photo.

    Bilinear, zero outside the region; only the bounding window of the region (or of its part
    ``support``) is computed.

    Args:
        crop_values: (N, N) float32, crop pixel (i, j) at crop coordinates
            ((j + 0.5) / N, (i + 0.5) / N).
        roi: the region the crop was taken from.
        image_hw: (H, W) of the photo.
        support: optional u0, v0, u1, v1 crop coordinates outside which the caller does not
            need the values (e.g. where the mask probability is low): the window shrinks to it.

    Returns:
        (values (y1 - y0, x1 - x0) float32, window (x0, y0, x1, y1)), or None when the region
        misses the photo. ``values[r, c]`` belongs to photo pixel (x0 + c, y0 + r).
    """
    from PIL import Image

    window = roi.bounds(image_hw, support)
    if window is None:
        return None
    x0, y0, x1, y1 = window
    n = crop_values.shape[0]
    # photo edge coordinates of the window (e - 0.5 + origin = pixel) -> crop edge coordinates
    a = roi.rotation_matrix.T * (n / roi.size)
    t = a @ (np.array([x0, y0], np.float64) - 0.5 - roi.centre) + n / 2
    data = (a[0, 0], a[0, 1], t[0], a[1, 0], a[1, 1], t[1])
    pil = Image.fromarray(np.ascontiguousarray(crop_values, dtype=np.float32), mode="F")
    out = pil.transform(
        (x1 - x0, y1 - y0),
        Image.Transform.AFFINE,
        data,
        resample=Image.Resampling.BILINEAR,
        fillcolor=0.0,
    )
    return np.asarray(out, np.float32), window
