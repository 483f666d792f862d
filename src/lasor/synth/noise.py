"""Front-end noise: make clean synthetic observations look like a real detector's output.

Applied to the *observed* silhouette and joints only (never to the training targets).
All functions return new arrays and take an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lasor.body.joints import COCO17_FLIP
from lasor.synth.occluders import random_object_mask

#: limb segments (COCO-17 indices) a detector may lose: forearms, upper arms, shins, thighs
LIMBS = [(7, 9), (8, 10), (5, 7), (6, 8), (13, 15), (14, 16), (11, 13), (12, 14)]


@dataclass
class NoiseConfig:
    """Probabilities and magnitudes of detector-like corruptions."""

    joint_jitter: float = 0.015  # max std, fraction of the crop side
    joint_drop: float = 0.04
    swap_pair: float = 0.04  # probability that one left/right pair is swapped
    self_occluded_drop: float = 0.3  # probability a self-occluded joint is missed
    erode_dilate: float = 0.5
    blobs: float = 0.3
    holes: float = 0.15
    missing_limb: float = 0.08
    confidence_min: float = 0.5


def corrupt_joints(
    joints: np.ndarray,
    confidence: np.ndarray,
    self_occluded: np.ndarray,
    res: int,
    cfg: NoiseConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Jitter, drop and swap joints.

    Args:
        joints: (17, 2) crop pixels. confidence: (17,) (0 = absent).
        self_occluded: (17,) bool, hidden behind the body itself.

    Returns:
        New (joints, confidence).
    """
    j = joints + rng.normal(0, rng.uniform(0, cfg.joint_jitter) * res, joints.shape)
    c = confidence * rng.uniform(cfg.confidence_min, 1.0, len(confidence))
    c = np.where(self_occluded, c * rng.uniform(0.3, 0.8, len(c)), c)
    drop = rng.random(len(c)) < cfg.joint_drop
    drop |= self_occluded & (rng.random(len(c)) < cfg.self_occluded_drop)
    c = np.where(drop, 0.0, c)
    if rng.random() < cfg.swap_pair:
        a = int(rng.choice([1, 3, 5, 7, 9, 11, 13, 15]))
        b = COCO17_FLIP[a]
        j[[a, b]] = j[[b, a]]
        c[[a, b]] = c[[b, a]]
    return j.astype(np.float32), c.astype(np.float32)


def corrupt_silhouette(
    sil: np.ndarray, joints: np.ndarray, res: int, cfg: NoiseConfig, rng: np.random.Generator
) -> np.ndarray:
    """Boundary noise (erode/dilate), blobs, holes and a missing limb.

    Args:
        sil: (R, R) bool visible silhouette. joints: (17, 2) clean crop pixels.

    Returns:
        New (R, R) bool silhouette.
    """
    s = sil.copy()
    if rng.random() < cfg.erode_dilate:
        it = int(rng.integers(1, 1 + max(1, res // 48)))
        s = (
            ndimage.binary_dilation(s, iterations=it)
            if rng.random() < 0.5
            else (ndimage.binary_erosion(s, iterations=it))
        )
    if s.any() and rng.random() < cfg.blobs:
        ys, xs = np.nonzero(s)
        k = rng.integers(len(xs))
        s |= random_object_mask(res, np.array([xs[k], ys[k]], float), rng, (0.05, 0.2))
    if s.any() and rng.random() < cfg.holes:
        ys, xs = np.nonzero(s)
        k = rng.integers(len(xs))
        s &= ~random_object_mask(res, np.array([xs[k], ys[k]], float), rng, (0.03, 0.12))
    if rng.random() < cfg.missing_limb:
        a, b = LIMBS[int(rng.integers(len(LIMBS)))]
        s &= ~_segment_mask(res, joints[a], joints[b], radius=res * rng.uniform(0.04, 0.07))
    return s


def _segment_mask(res: int, p: np.ndarray, q: np.ndarray, radius: float) -> np.ndarray:
    c = np.arange(res, dtype=np.float32) + 0.5
    x, y = np.meshgrid(c, c)
    d = q - p
    t = np.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / max(float(d @ d), 1e-6), 0, 1)
    return (x - p[0] - t * d[0]) ** 2 + (y - p[1] - t * d[1]) ** 2 <= radius**2
