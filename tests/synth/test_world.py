"""World landmarks: synthesis, error model, encoding, and the engine's stream left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lasor.body import load_body_model
from lasor.body.joints import COCO17_FLIP
from lasor.frontend.types import PersonObservation
from lasor.synth.bank import build_body_bank, pose_source
from lasor.synth.engine import SynthConfig, make_batch
from lasor.synth.world import (
    WORLD_FEATURES,
    WorldNoise,
    decode_world,
    encode_world,
    look_at_rotation,
    synthetic_world,
    world_from_observation,
    world_weights,
)


@pytest.fixture(scope="module")
def bank():
    body = load_body_model("anny", topology="notoes_collapse10pc")
    # the documented fallback pose sampler (no pose bank file needed)
    draw = pose_source("train", "/nonexistent/pose_bank.npz")
    return build_body_bank(body, 32, draw, np.random.default_rng(0))


def test_look_at_rotation_takes_the_ray_to_the_axis():
    c = np.array([[0.0, 0.0], [0.3, -0.2], [-1.0, 0.5]])
    r = look_at_rotation(c)
    d = np.concatenate([c, np.ones((3, 1))], 1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    np.testing.assert_allclose(np.einsum("bij,bj->bi", r, d), [[0, 0, 1]] * 3, atol=1e-12)
    np.testing.assert_allclose(r[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.tile(np.eye(3), (3, 1, 1)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    # a ray to the right: a turn about the y axis by atan(0.5)
    known = Rotation.from_rotvec([0, -np.arctan(0.5), 0]).as_matrix()
    np.testing.assert_allclose(look_at_rotation(np.array([[0.5, 0.0]]))[0], known, atol=1e-12)


def test_exact_synthetic_world_is_the_hip_centred_body():
    rng = np.random.default_rng(0)
    kp = rng.normal(0, 0.4, (5, 17, 3)) + [0.0, 0.0, 4.0]
    centre = np.zeros((5, 2))
    w, present = synthetic_world(kp, centre, np.ones((5, 17)), rng, None, p_absent=0.0)
    assert w.shape == (5, 17, 3) and w.dtype == np.float32
    np.testing.assert_array_equal(present, 1.0)
    expected = kp - kp[:, [11, 12]].mean(1, keepdims=True)
    np.testing.assert_allclose(w, expected, atol=1e-6)


def test_absent_world_is_zero_with_flag_zero():
    rng = np.random.default_rng(1)
    kp = rng.normal(0, 0.4, (400, 17, 3)) + [0.0, 0.0, 4.0]
    w, present = synthetic_world(kp, np.zeros((400, 2)), np.ones((400, 17)), rng, None, 0.25)
    assert set(np.unique(present)) == {0.0, 1.0}
    assert 0.15 < (present == 0).mean() < 0.35
    np.testing.assert_array_equal(w[present == 0], 0.0)
    enc = encode_world(w, present)
    assert enc.shape == (400, WORLD_FEATURES)
    back, flag = decode_world(enc)
    torch.testing.assert_close(back, torch.from_numpy(w))
    torch.testing.assert_close(flag, torch.from_numpy(present))


def test_mirrored_body_gives_mirrored_world():
    """Mirror the scene (x -> -x) and swap left/right: the landmarks mirror the same way."""
    rng = np.random.default_rng(2)
    kp = rng.normal(0, 0.4, (3, 17, 3)) + [0.3, 0.1, 4.0]
    centre = rng.normal(0, 0.2, (3, 2))
    w, _ = synthetic_world(kp, centre, np.ones((3, 17)), rng, None, 0.0)
    m = kp[:, COCO17_FLIP] * [-1.0, 1.0, 1.0]
    wm, _ = synthetic_world(m, centre * [-1.0, 1.0], np.ones((3, 17)), rng, None, 0.0)
    np.testing.assert_allclose(wm, w[:, COCO17_FLIP] * [-1.0, 1.0, 1.0], atol=1e-5)


def test_measured_noise_model_has_the_size_of_mediapipes_error():
    noise = WorldNoise.measured()
    assert noise.residual_std_visible.shape == (12, 3)
    assert np.all(noise.residual_std_hidden >= noise.residual_std_visible)
    rng = np.random.default_rng(3)
    kp = rng.normal(0, 0.4, (256, 17, 3))
    noisy = noise.apply(kp, np.ones((256, 17)), rng)
    centred = kp - kp[:, [11, 12]].mean(1, keepdims=True)
    err = np.linalg.norm(noisy - centred, axis=-1).mean()
    assert 0.02 < err < 0.3  # metres: tens of millimetres, not zero, not metres
    again = noise.apply(kp, np.ones((256, 17)), np.random.default_rng(3))
    np.testing.assert_array_equal(noise.apply(kp, np.ones((256, 17)), np.random.default_rng(3)),
                                  again)  # fmt: skip
    back = WorldNoise.from_dict(noise.to_dict())
    np.testing.assert_allclose(back.rot_std, noise.rot_std)


def test_engine_world_leaves_every_other_tensor_identical(bank):
    cfg = dict(res=32, proxy_version=2, noise_preset="mediapipe")
    a = make_batch(bank, 6, SynthConfig(**cfg), np.random.default_rng([4, 0, 1]))
    b = make_batch(bank, 6, SynthConfig(**cfg, world=True), np.random.default_rng([4, 0, 1]))
    assert "world" not in a and b["world"].shape == (6, WORLD_FEATURES)
    for k, v in a.items():
        torch.testing.assert_close(b[k], v, rtol=0, atol=0, msg=k)
    # noise-free landmarks are the target's keypoints, hip-centred, in the crop camera's frame
    c = make_batch(
        bank, 6, SynthConfig(**cfg, world=True, world_noise=False, world_absent=0.0),
        np.random.default_rng([4, 0, 1]),
    )  # fmt: skip
    w, present = decode_world(c["world"])
    assert torch.all(present == 1)
    r = torch.from_numpy(look_at_rotation(c["geometry"][:, :2].numpy())).float()
    kp = c["target_keypoints"] @ r.transpose(1, 2)
    kp = kp - kp[:, [11, 12]].mean(1, keepdim=True)
    torch.testing.assert_close(w, kp, atol=1e-5, rtol=0)


def test_observation_world_landmarks_present_and_absent():
    kp = np.zeros((17, 2), np.float32)
    conf = np.ones(17, np.float32)
    box = [0, 0, 10, 10]
    bare = PersonObservation(kp, conf, box)
    assert not bare.has_world
    w, p = world_from_observation(bare)
    assert p == 0.0 and not w.any()
    world33 = np.random.default_rng(5).normal(0, 0.3, (33, 3))
    vis = np.linspace(0, 1, 33)
    obs = PersonObservation(kp, conf, box, world_landmarks=world33, landmark_visibility=vis)
    assert obs.has_world and obs.landmark_presence.shape == (33,)
    w, p = world_from_observation(obs)
    assert p == 1.0
    np.testing.assert_allclose(w[[11, 12]].mean(0), 0.0, atol=1e-6)
    ws, weights = world_weights([bare, obs])
    assert not weights[0].any() and weights[1, 0] == pytest.approx(vis[0])
    with pytest.raises(ValueError, match="world_landmarks"):
        PersonObservation(kp, conf, box, world_landmarks=np.zeros((17, 3)))
    with pytest.raises(ValueError, match="finite"):
        PersonObservation(kp, conf, box, world_landmarks=np.full((33, 3), np.nan))
    with pytest.raises(ValueError, match="without world_landmarks"):
        PersonObservation(kp, conf, box, landmark_visibility=vis)
