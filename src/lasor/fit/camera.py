"""The photo's own pinhole camera: focal length from EXIF or a default field of view.

Convention: the **diagonal** field of view. A 35 mm-equivalent focal length ``f35`` (mm) maps to
pixels as ``f_px = f35 * sqrt(W^2 + H^2) / sqrt(36^2 + 24^2)``: the photo's diagonal plays the
part of the 36 x 24 mm frame's 43.27 mm diagonal, which holds whatever the aspect ratio or
crop of the sensor. Without EXIF the default is ``f_px = sqrt(W^2 + H^2)`` (the image diagonal,
lasor's default since its first release): a diagonal field of view of ``2 atan(1/2)`` = 53.1
degrees, i.e. a 43.3 mm-equivalent lens, between a phone's main camera (~26-28 mm) and a
portrait lens. The principal point is the image centre.

Camera frame: OpenCV (x right, y down, z forward), metres (:mod:`lasor.render.camera`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

__all__ = [
    "DEFAULT_FOV_DIAGONAL_DEG",
    "default_focal",
    "exif_focal_35mm",
    "focal_from_35mm",
    "photo_focal",
    "project_points",
]

log = logging.getLogger(__name__)

FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
DEFAULT_FOV_DIAGONAL_DEG = math.degrees(2.0 * math.atan(0.5))
_EXIF_IFD = 0x8769
_FOCAL_35MM = 0xA405  # FocalLengthIn35mmFilm


def focal_from_35mm(f35_mm: float, width: int, height: int) -> float:
    """35 mm-equivalent focal length (mm) -> pixels, diagonal convention (module docstring)."""
    if not f35_mm > 0:
        raise ValueError(f"35 mm-equivalent focal length must be > 0, got {f35_mm}")
    return float(f35_mm) * math.hypot(width, height) / FRAME_DIAGONAL_MM


def default_focal(width: int, height: int) -> float:
    """Focal length (pixels) of the default diagonal field of view (53.1 degrees)."""
    return math.hypot(width, height)


def exif_focal_35mm(path: str | Path) -> float | None:
    """The photo's EXIF ``FocalLengthIn35mmFilm`` (mm), or None (absent, zero, unreadable)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            exif = im.getexif()
            value = exif.get_ifd(_EXIF_IFD).get(_FOCAL_35MM) or exif.get(_FOCAL_35MM)
    except (OSError, ValueError, SyntaxError) as e:
        log.debug("no EXIF from %s: %s", path, e)
        return None
    try:
        f = float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return None
    return f if f > 0 else None


def photo_focal(path: str | Path | None, width: int, height: int) -> tuple[float, str]:
    """Focal length in pixels for a photo and where it came from ("exif" or "default")."""
    f35 = exif_focal_35mm(path) if path is not None else None
    if f35 is not None:
        return focal_from_35mm(f35, width, height), "exif"
    return default_focal(width, height), "default"


def project_points(
    points: torch.Tensor, cam_t: torch.Tensor, focal: torch.Tensor, centre: torch.Tensor
) -> torch.Tensor:
    """Pinhole projection of body-frame-at-origin points placed at ``cam_t``.

    Args:
        points: (B, N, 3) metres (the body model's output, camera-frame orientation).
        cam_t: (B, 3) translation, metres.
        focal: (B,) pixels.
        centre: (B, 2) principal point, pixels.

    Returns:
        (B, N, 2) pixels: ``f (X + t) / (Z + t_z) + c``.
    """
    p = points + cam_t[:, None, :]
    z = p[..., 2:3].clamp_min(1e-3)
    return focal[:, None, None] * p[..., :2] / z + centre[:, None, :]
