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
    """Probabilities and magnitudes of detector-like corruptions.

    The defaults are the original hand-set values; the fields after ``confidence_min`` extend the
    model and, at their defaults, change nothing (same outputs and random stream).
    `NoiseConfig.mediapipe` returns values measured on MediaPipe Pose by
    ``benchmarks/noise_calibration.py``.
    """

    joint_jitter: float = 0.015  # max std, fraction of the crop side
    joint_drop: float = 0.04
    swap_pair: float = 0.04  # probability that one left/right pair is swapped
    self_occluded_drop: float = 0.3  # probability a self-occluded joint is missed
    erode_dilate: float = 0.5
    blobs: float = 0.3
    holes: float = 0.15
    missing_limb: float = 0.08
    confidence_min: float = 0.5
    #: per-joint multiplier of ``joint_jitter`` (17 values, COCO-17 order); None = all 1
    joint_jitter_scale: tuple[float, ...] | None = None
    #: confidence multiplier range of self-occluded (and kept hidden) joints
    occluded_confidence: tuple[float, float] = (0.3, 0.8)
    #: per-joint confidence model ``1 - u ** power`` (u uniform; mean power / (power + 1))
    #: instead of ``uniform(confidence_min, 1)``; None = the uniform model
    confidence_power: tuple[float, ...] | None = None
    #: extra per-axis std (fraction of the crop side) of self-occluded / kept hidden joints
    occluded_jitter: float = 0.0
    #: per-joint probability of a gross error: displaced by ``outlier_radius`` (crop fraction)
    outlier: float = 0.0
    occluded_outlier: float = 0.0
    outlier_radius: tuple[float, float] = (0.1, 0.25)
    #: per-joint probability that a left/right joint lands on its mirror joint (one side only)
    swap_joint: float = 0.0
    #: probability that a joint inside the crop hidden by an occluder (input confidence 0) is
    #: still reported, as an occluded joint (MediaPipe places every landmark)
    hidden_keep: float = 0.0

    @classmethod
    def mediapipe(cls) -> NoiseConfig:
        """Noise measured on MediaPipe legacy Pose (``benchmarks/noise_calibration.py``).

        Measured on 26 real people (COCO, OCHuman, MPII, H36M; crops on the ground-truth box),
        errors as fractions of the ``person_box`` side: visible joints median 0.013 (face) to
        0.033 (hips), 4 % gross errors of 0.1-0.25, 1.5 % single-side left/right swaps, no
        joint ever dropped (confidence instead: ~1.0 on face, shoulders, hips, mean 0.75-0.85
        on elbows, wrists, knees, ankles); occluded joints (COCO v=1) are placed, with median
        error 0.084 and mean confidence 0.78. Mask (19 COCO/OCHuman people): IoU 0.77 (median
        0.83), false positive area 0.16, false negative 0.14 of the person: the original
        silhouette noise is close; only blobs and holes are a little more frequent. Joints out
        of the crop stay at confidence 0 (not measured: the ground truth has no such joints).
        See ``benchmarks/results/noise_calibration.md``.
        """
        face, sho, elb, wri, hip, kne, ank = 0.55, 1.0, 0.8, 0.95, 1.35, 1.05, 1.15
        scale = (face,) * 5 + (sho,) * 2 + (elb,) * 2 + (wri,) * 2 + (hip,) * 2 + (kne,) * 2
        scale += (ank,) * 2
        hi, pe, pw, pk, pa = 200.0, 4.6, 2.9, 4.2, 5.5
        power = (hi,) * 7 + (pe,) * 2 + (pw,) * 2 + (hi,) * 2 + (pk,) * 2 + (pa,) * 2
        return cls(
            joint_jitter=0.05,
            joint_drop=0.0,
            swap_pair=0.0,
            self_occluded_drop=0.0,
            joint_jitter_scale=scale,
            occluded_confidence=(0.6, 1.0),
            confidence_power=power,
            occluded_jitter=0.045,
            outlier=0.04,
            occluded_outlier=0.15,
            outlier_radius=(0.1, 0.25),
            swap_joint=0.01,
            hidden_keep=1.0,
            blobs=0.45,
            holes=0.2,
        )


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
        res: crop side in pixels. cfg: the noise model. rng: the random stream.

    With the default `NoiseConfig` fields after ``confidence_min``, outputs and random-number
    consumption are those of the original model.

    Returns:
        New (joints, confidence).
    """
    n = len(confidence)
    hidden = np.zeros(n, bool)
    if cfg.hidden_keep > 0:
        inside = ((joints >= 0) & (joints < res)).all(axis=1)
        hidden = (confidence <= 0) & inside & (rng.random(n) < cfg.hidden_keep)
        confidence = np.where(hidden, 1.0, confidence)
    occluded = self_occluded | hidden
    if cfg.joint_jitter_scale is None:
        j = joints + rng.normal(0, rng.uniform(0, cfg.joint_jitter) * res, joints.shape)
    else:
        scale = np.asarray(cfg.joint_jitter_scale, np.float64)[:, None]
        j = joints + rng.normal(0, 1, joints.shape) * (
            rng.uniform(0, cfg.joint_jitter) * res * scale
        )
    if cfg.occluded_jitter > 0:
        j = j + rng.normal(0, cfg.occluded_jitter * res, joints.shape) * occluded[:, None]
    if cfg.outlier > 0 or cfg.occluded_outlier > 0:
        p_out = np.where(occluded, cfg.occluded_outlier, cfg.outlier)
        out = rng.random(n) < p_out
        ang = rng.uniform(0, 2 * np.pi, n)
        rad = rng.uniform(*cfg.outlier_radius, n) * res
        j = j + out[:, None] * rad[:, None] * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    if cfg.confidence_power is None:
        c = confidence * rng.uniform(cfg.confidence_min, 1.0, len(confidence))
    else:
        power = np.asarray(cfg.confidence_power, np.float64)
        c = confidence * (1.0 - rng.random(n) ** power)
    lo, hi = cfg.occluded_confidence
    c = np.where(occluded, c * rng.uniform(lo, hi, len(c)), c)
    drop = rng.random(len(c)) < cfg.joint_drop
    drop |= self_occluded & (rng.random(len(c)) < cfg.self_occluded_drop)
    c = np.where(drop, 0.0, c)
    if rng.random() < cfg.swap_pair:
        a = int(rng.choice([1, 3, 5, 7, 9, 11, 13, 15]))
        b = COCO17_FLIP[a]
        j[[a, b]] = j[[b, a]]
        c[[a, b]] = c[[b, a]]
    if cfg.swap_joint > 0:
        flip = np.asarray(COCO17_FLIP)
        swap = (rng.random(n) < cfg.swap_joint) & (flip != np.arange(n))
        # the joint lands on its mirror's (noisy) position, one side only
        j = np.where(swap[:, None], joints[flip] + (j - joints), j)
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
