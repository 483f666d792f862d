"""Panoramic viewpoints, perspective projection and detector-like person crops.

Camera frame: OpenCV (x right, y down, z forward). A view rotation ``R`` maps body-frame
points (Y up, facing +Z) to the camera frame; ``R = R_roll @ R_pitch @ R_x(180deg) @ R_yaw``,
so yaw 0 means the person faces the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CameraConfig:
    """Ranges of the sampled cameras (angles in degrees, distances in metres)."""

    pitch_std: float = 15.0
    pitch_max: float = 45.0
    roll_std: float = 5.0
    distance: tuple[float, float] = (2.5, 8.0)
    #: crop side jitter (multiplies ``proxy.CROP_SCALE``) and centre jitter (fraction of side)
    scale_jitter: tuple[float, float] = (0.9, 1.25)
    centre_jitter: float = 0.06
    #: share of cameras with any in-plane roll (uniform in [-180, 180): lying, diving, upside down)
    roll_any: float = 0.0
    #: perspective photos: the person's pelvis is placed anywhere up to this fraction of the
    #: image's half-width / half-height from the principal point (0 = on the optical axis)...
    offcentre: float = 0.0
    #: ...of an image whose focal length / width is log-uniform in this range (35 mm-equivalent
    #: 20-85 mm is 0.55-2.4) and whose height / width is drawn from ``aspects``
    focal_ratio: tuple[float, float] = (0.55, 2.4)
    aspects: tuple[float, ...] = (0.75, 1.0, 1.333)


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*a.shape, 3, 3)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*a.shape, 3, 3)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*a.shape, 3, 3)


def view_rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(N,) radians each -> (N, 3, 3) body-to-camera rotations."""
    flip = _rx(np.full_like(yaw, np.pi))
    return _rz(roll) @ _rx(pitch) @ flip @ _ry(yaw)


def sample_views(n: int, cfg: CameraConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sample panoramic views: any yaw, Gaussian pitch/roll, a distance.

    Returns:
        dict with ``rotation (n, 3, 3)``, ``distance (n,)``, ``yaw``, ``pitch``, ``roll`` (deg),
        ``offset (n, 2)``: where the pelvis projects, in unit-focal image coordinates (zeros
        unless ``cfg.offcentre``).
    """
    yaw = rng.uniform(-180.0, 180.0, n)
    pitch = np.clip(rng.normal(0.0, cfg.pitch_std, n), -cfg.pitch_max, cfg.pitch_max)
    roll = rng.normal(0.0, cfg.roll_std, n)
    if cfg.roll_any > 0:  # draws nothing when off: earlier data streams stay identical
        roll = np.where(rng.random(n) < cfg.roll_any, rng.uniform(-180.0, 180.0, n), roll)
    rot = view_rotation(np.radians(yaw), np.radians(pitch), np.radians(roll))
    dist = rng.uniform(*cfg.distance, n)
    out = {"rotation": rot, "distance": dist, "yaw": yaw, "pitch": pitch, "roll": roll}
    out["offset"] = np.zeros((n, 2))
    if cfg.offcentre > 0:
        lo, hi = np.log(cfg.focal_ratio[0]), np.log(cfg.focal_ratio[1])
        f = np.exp(rng.uniform(lo, hi, n))
        aspect = np.asarray(cfg.aspects, float)[rng.integers(0, len(cfg.aspects), n)]
        half = 0.5 * np.stack([np.ones(n), aspect], axis=1) / f[:, None]  # unit-focal units
        out["offset"] = rng.uniform(-1.0, 1.0, (n, 2)) * cfg.offcentre * half
    return out


def project(points_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole projection with unit focal length.

    Args:
        points_cam: (..., 3) camera frame, z > 0.

    Returns:
        xy (..., 2) normalised image coordinates and depth (...,).
    """
    z = np.maximum(points_cam[..., 2], 1e-6)
    return points_cam[..., :2] / z[..., None], points_cam[..., 2]


def jittered_crops(
    xy: np.ndarray, cfg: CameraConfig, rng: np.random.Generator, crop_scale: float
) -> np.ndarray:
    """Detector-like square crops around projected bodies.

    Args:
        xy: (N, V, 2) projected vertices.
        crop_scale: nominal crop side / bbox side (``proxy.CROP_SCALE``).

    Returns:
        (N, 3) crop centre x, centre y and side, in the same normalised units.
    """
    lo = xy.min(axis=1)
    hi = xy.max(axis=1)
    centre = (lo + hi) / 2
    side = (hi - lo).max(axis=1) * crop_scale * rng.uniform(*cfg.scale_jitter, len(xy))
    centre = centre + rng.normal(0.0, cfg.centre_jitter, (len(xy), 2)) * side[:, None]
    return np.concatenate([centre, side[:, None]], axis=1)
