"""Plausibility checks of an observation against its photo: warnings, not errors.

Each check returns human-readable warnings (recorded per photo in ``summary.json`` by
``lasor predict``): confident keypoints or a box far outside the image (usually a keypoint file
of another image, or another resolution), and masks that are empty or cover the whole image
(usually an inverted or wrong mask).
"""

from __future__ import annotations

import numpy as np

from lasor.frontend.types import PersonObservation

__all__ = ["OUTSIDE_MARGIN", "box_warnings", "mask_warnings", "observation_warnings"]

#: how far (a fraction of the image's width / height) outside the image a keypoint or box corner
#: may lie before it is reported; people cut off by the frame have joints just outside it
OUTSIDE_MARGIN = 0.25


def _outside(xy: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    mx, my = OUTSIDE_MARGIN * w, OUTSIDE_MARGIN * h
    return (xy[..., 0] < -mx) | (xy[..., 0] > w + mx) | (xy[..., 1] < -my) | (xy[..., 1] > h + my)


def box_warnings(box: np.ndarray, hw: tuple[int, int], what: str = "box") -> list[str]:
    """Warnings for a box (x0, y0, x1, y1) reaching far outside an (H, W) image."""
    b = np.asarray(box, np.float64).reshape(4)
    corners = np.array([[b[0], b[1]], [b[2], b[3]]])
    if _outside(corners, hw).any():
        return [
            f"{what} {np.round(b, 1).tolist()} reaches more than {OUTSIDE_MARGIN:.0%} outside "
            f"the {hw[1]}x{hw[0]} image"
        ]
    return []


def mask_warnings(mask: np.ndarray | None, what: str = "mask") -> list[str]:
    """Warnings for a mask with no person pixel, or with every pixel set."""
    if mask is None:
        return []
    n = int(np.count_nonzero(mask))
    if n == 0:
        return [f"{what} is empty (no person pixel)"]
    if n == mask.size:
        return [f"{what} covers the whole image (inverted?)"]
    return []


def observation_warnings(obs: PersonObservation, hw: tuple[int, int], who: str) -> list[str]:
    """All warnings for one observed person in an (H, W) photo; ``who`` names them."""
    out = []
    conf = np.asarray(obs.confidence) > 0
    far = _outside(np.asarray(obs.keypoints, np.float64), hw) & conf
    if far.any():
        out.append(
            f"{who}: {int(far.sum())} of {int(conf.sum())} keypoints lie more than "
            f"{OUTSIDE_MARGIN:.0%} outside the {hw[1]}x{hw[0]} image (keypoints of another "
            "image or resolution?)"
        )
    out += box_warnings(obs.bbox, hw, f"{who}: box")
    out += mask_warnings(obs.mask, f"{who}: mask")
    return out
