import dataclasses
import hashlib

import numpy as np
import pytest

from lasor.body.joints import COCO17_FLIP
from lasor.synth.noise import NoiseConfig, corrupt_joints, corrupt_silhouette

RES = 64
#: sha256 prefix of `_stream(NoiseConfig())` computed with lasor.synth.noise as it was before the
#: calibrated fields existed (commit bc4cb42): the defaults must keep outputs and random stream.
OLD_DEFAULTS_SHA = "24e0bb50ab889157"


def _stream(cfg: NoiseConfig) -> str:
    rng = np.random.default_rng(123)
    h = hashlib.sha256()
    yy, xx = np.mgrid[:RES, :RES]
    sil = (xx - 32) ** 2 / 100 + (yy - 32) ** 2 / 600 < 1
    for i in range(200):
        g = np.random.default_rng([7, i])
        j = g.uniform(0, RES, (17, 2)).astype(np.float32)
        c = (g.random(17) > 0.2).astype(np.float32)
        so = g.random(17) < 0.3
        jj, cc = corrupt_joints(j, c, so, RES, cfg, rng)
        h.update(jj.tobytes())
        h.update(cc.tobytes())
        h.update(corrupt_silhouette(sil, j, RES, cfg, rng).tobytes())
    h.update(rng.random(4).tobytes())  # the stream after: same number of draws consumed
    return h.hexdigest()[:16]


def test_defaults_reproduce_the_original_model_bit_for_bit():
    assert _stream(NoiseConfig()) == OLD_DEFAULTS_SHA
    explicit = NoiseConfig(
        joint_jitter_scale=None,
        occluded_confidence=(0.3, 0.8),
        confidence_power=None,
        occluded_jitter=0.0,
        outlier=0.0,
        occluded_outlier=0.0,
        swap_joint=0.0,
        hidden_keep=0.0,
    )
    assert _stream(explicit) == OLD_DEFAULTS_SHA
    assert _stream(NoiseConfig.mediapipe()) != OLD_DEFAULTS_SHA


def _run(cfg, n, occluded=False, conf=1.0, seed=0):
    rng = np.random.default_rng(seed)
    # left joints (odd COCO indices) at x = 8, right ones at x = 56: mirrors 0.75 crop apart
    joints = np.stack([np.where(np.arange(17) % 2, 8.0, 56.0), np.linspace(4, 60, 17)], 1)
    joints = joints.astype(np.float32)
    c0 = np.full(17, conf, np.float32)
    so = np.full(17, occluded)
    out = [corrupt_joints(joints, c0, so, RES, cfg, rng) for _ in range(n)]
    j = np.stack([o[0] for o in out])
    c = np.stack([o[1] for o in out])
    return joints, j, c


def test_mediapipe_jitter_std_matches_per_joint_scale():
    cfg = dataclasses.replace(NoiseConfig.mediapipe(), outlier=0.0, swap_joint=0.0)
    clean, j, _ = _run(cfg, 6000)
    std = (j - clean).std(axis=0).mean(axis=1) / RES  # (17,) per-axis std, crop fraction
    # sigma = u * joint_jitter * scale with u ~ U(0, 1): E[sigma^2] = (joint_jitter * scale)^2 / 3
    expected = cfg.joint_jitter * np.asarray(cfg.joint_jitter_scale) / np.sqrt(3)
    np.testing.assert_allclose(std, expected, rtol=0.1)
    assert std[9] > 1.5 * std[0]  # wrists noisier than the nose


def test_mediapipe_occluded_joints_are_kept_noisier_and_less_confident():
    cfg = dataclasses.replace(
        NoiseConfig.mediapipe(), joint_jitter=0.0, occluded_outlier=0.0, swap_joint=0.0
    )
    clean, j, c = _run(cfg, 6000, occluded=True)
    std = (j - clean).std(axis=(0, 2)) / RES
    np.testing.assert_allclose(std, cfg.occluded_jitter, rtol=0.1)
    assert (c > 0).all()  # never dropped (MediaPipe places every landmark)
    power = np.asarray(cfg.confidence_power)
    lo, hi = cfg.occluded_confidence
    np.testing.assert_allclose(c.mean(0), power / (power + 1) * (lo + hi) / 2, rtol=0.1)


def test_mediapipe_confidence_outliers_and_swaps_match_their_rates():
    cfg = dataclasses.replace(NoiseConfig.mediapipe(), joint_jitter=0.0)
    clean, j, c = _run(cfg, 8000)
    power = np.asarray(cfg.confidence_power)
    np.testing.assert_allclose(c.mean(0), power / (power + 1), rtol=0.1)
    assert (c > 0).all()
    err = np.linalg.norm(j - clean, axis=2) / RES
    mirror = np.linalg.norm(j - clean[COCO17_FLIP], axis=2) / RES
    lr = np.asarray(COCO17_FLIP) != np.arange(17)
    swapped = (mirror < 0.3) & lr  # outliers move at most 0.25: no ambiguity
    assert ((err < 0.3) | swapped).all()
    moved = np.where(swapped, mirror, err)
    outlier = moved > 1e-6
    assert outlier.mean() == pytest.approx(cfg.outlier, rel=0.1)
    assert swapped[:, lr].mean() == pytest.approx(cfg.swap_joint, rel=0.1)
    lo, hi = cfg.outlier_radius
    assert moved[outlier].min() >= lo - 1e-5 and moved[outlier].max() <= hi + 1e-5


def test_hidden_keep_reports_occluded_joints_inside_the_crop_only():
    cfg = NoiseConfig.mediapipe()
    rng = np.random.default_rng(1)
    joints = np.full((17, 2), 30.0, np.float32)
    joints[0] = (-5.0, 30.0)  # outside the crop
    conf = np.zeros(17, np.float32)
    _, c = corrupt_joints(joints, conf, np.zeros(17, bool), RES, cfg, rng)
    assert c[0] == 0 and (c[1:] > 0).all()
    _, c_old = corrupt_joints(joints, conf, np.zeros(17, bool), RES, NoiseConfig(), rng)
    assert (c_old == 0).all()
