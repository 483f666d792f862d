"""Proxy v2: keypoint vector, crop geometry, and the same input from training and prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lasor.synth.proxy import (
    PROXY_VERSIONS,
    CropBox,
    crop_geometry,
    encode_keypoints,
    model_inputs,
)


def test_crop_geometry_known_values():
    box = CropBox(cx=700.0, cy=300.0, size=200.0)
    geo = crop_geometry(box, (800, 1200), focal=1000.0)
    np.testing.assert_allclose(geo, [0.1, -0.1, 0.2], atol=1e-7)
    geo = crop_geometry(box, (800, 1200), focal=500.0, principal=(700.0, 250.0))
    np.testing.assert_allclose(geo, [0.0, 0.1, 0.4], atol=1e-7)
    with pytest.raises(ValueError, match="focal"):
        crop_geometry(box, (800, 1200), focal=0.0)


def test_encode_keypoints_ndc_and_absent_joints():
    j = np.zeros((1, 17, 2), np.float32)
    j[0, 0] = [0.0, 64.0]  # crop corners -> NDC -1 / +1
    j[0, 1] = [32.0, 16.0]
    j[0, 2] = [10.0, 10.0]
    c = np.ones((1, 17), np.float32)
    c[0, 2] = 0.0  # absent: all zero, whatever its position
    k = encode_keypoints(j, c, 64)
    assert k.shape == (1, 17, 3) and k.dtype == torch.float32
    torch.testing.assert_close(k[0, 0], torch.tensor([-1.0, 1.0, 1.0]))
    torch.testing.assert_close(k[0, 1], torch.tensor([0.0, -0.5, 1.0]))
    torch.testing.assert_close(k[0, 2], torch.zeros(3))
    with pytest.raises(ValueError, match="expected joints"):
        encode_keypoints(j[0], c[0], 64)


def test_model_inputs_versions():
    sil = np.zeros((2, 32, 32), np.float32)
    j = np.full((2, 17, 2), 16.0, np.float32)
    c = np.ones((2, 17), np.float32)
    v1 = model_inputs(1, sil, j, c)
    assert set(v1) == set(PROXY_VERSIONS[1]) and v1["proxy"].shape == (2, 18, 32, 32)
    v2 = model_inputs(2, sil, j, c, np.zeros((2, 3)))
    assert set(v2) == set(PROXY_VERSIONS[2])
    assert v2["mask"].shape == (2, 1, 32, 32) and v2["geometry"].shape == (2, 3)
    with pytest.raises(ValueError, match="geometry"):
        model_inputs(2, sil, j, c)
    with pytest.raises(ValueError, match="unknown proxy version"):
        model_inputs(3, sil, j, c)


@pytest.fixture(scope="module")
def synthetic_batch():
    from lasor.body import load_body_model
    from lasor.synth.bank import build_body_bank, pose_source
    from lasor.synth.cameras import CameraConfig
    from lasor.synth.engine import SynthConfig, make_batch

    body = load_body_model("anny", topology="notoes_collapse10pc")
    rng = np.random.default_rng(3)
    bank = build_body_bank(body, 16, pose_source("train", "/nonexistent.npz"), rng)
    cfg = SynthConfig(
        res=64, proxy_version=2, camera=CameraConfig(offcentre=0.8, roll_any=0.2),
        noise_preset="mediapipe", world=True, world_absent=0.5,
    )  # fmt: skip
    return make_batch(bank, 6, cfg, np.random.default_rng(5))


def test_training_and_prediction_build_the_same_input(synthetic_batch):
    """A synthetic observation, re-expressed as a photo, goes through predict's input step and
    comes out as exactly the tensors the training batch holds."""
    from lasor.frontend.types import PersonObservation
    from lasor.predict import network_inputs

    b = synthetic_batch
    assert 0 < float(b["world"][:, -1].sum()) < len(b["world"])  # with and without landmarks
    r, side_px, size = 64, 256, 2048
    for i in range(len(b["mask"])):
        cx, cy, side = (float(v) for v in b["geometry"][i])
        f = side_px / side  # the crop is exactly 256 photo pixels: 4 per proxy pixel
        box = CropBox(cx=f * cx + size / 2, cy=f * cy + size / 2, size=side_px)
        mask = np.zeros((size, size), bool)
        up = np.kron(b["mask"][i, 0].numpy() > 0.5, np.ones((4, 4), bool))
        x0, y0 = round(box.x0), round(box.y0)
        assert abs(x0 - box.x0) < 0.45 and abs(y0 - box.y0) < 0.45
        mask[y0 : y0 + side_px, x0 : x0 + side_px] = up
        kp = b["keypoints"][i].numpy()
        conf = kp[:, 2]
        joints_px = box.from_crop((kp[:, :2] + 1.0) * (r / 2.0), r)
        # the world landmarks as MediaPipe would give them (33, the 17 COCO ones in place)
        from lasor.frontend.mediapipe_pose import MEDIAPIPE_TO_COCO17
        from lasor.synth.world import decode_world

        world, present_w = decode_world(b["world"][i : i + 1])
        extra = {}
        if present_w[0] > 0:
            w33 = np.zeros((33, 3), np.float32)
            w33[MEDIAPIPE_TO_COCO17] = world[0].numpy()
            extra = {"world_landmarks": w33, "landmark_visibility": np.ones(33, np.float32)}
        obs = PersonObservation(
            keypoints=joints_px.astype(np.float32), confidence=conf,
            bbox=box.as_array(), mask=mask, source="test", **extra,
        )  # fmt: skip
        image = np.zeros((size, size, 3), np.uint8)
        inputs, _, _ = network_inputs(2, [(image, obs, box, "x", 0)], r, focals=f)
        torch.testing.assert_close(inputs["world"][0], b["world"][i], atol=1e-6, rtol=0)
        torch.testing.assert_close(inputs["mask"][0], b["mask"][i])
        torch.testing.assert_close(inputs["geometry"][0], b["geometry"][i], atol=1e-6, rtol=1e-5)
        present = conf > 0
        torch.testing.assert_close(
            inputs["keypoints"][0][present], b["keypoints"][i][present], atol=1e-5, rtol=0
        )
        assert torch.all(inputs["keypoints"][0][~present] == 0)


def test_engine_v2_batch_keys_and_geometry(synthetic_batch):
    b = synthetic_batch
    assert "proxy" not in b  # version 2 skips the heatmaps
    assert b["keypoints"].shape == (6, 17, 3) and b["mask"].shape == (6, 1, 64, 64)
    # off-centre placement: the crops are not all on the optical axis
    assert float(b["geometry"][:, :2].abs().max()) > 0.05
    assert torch.all(b["geometry"][:, 2] > 0)


def test_v1_engine_stream_is_unchanged():
    """The fixed 2,048-sample benchmark must stay fixed: with default settings the engine draws
    exactly what it drew before proxy v2, perspective cameras and the noise preset existed
    (checksum computed with the code of commit bc4cb42)."""
    import hashlib

    from lasor.body import load_body_model
    from lasor.synth.bank import build_body_bank, pose_source
    from lasor.synth.engine import SynthConfig, make_batch

    body = load_body_model("anny", topology="notoes_collapse10pc")
    bank = build_body_bank(
        body, 32, pose_source("val", "/nonexistent/bank.npz"), np.random.default_rng([0, 7919, 1])
    )
    b = make_batch(bank, 8, SynthConfig(res=32), np.random.default_rng([0, 0, 0, 1]))
    h = hashlib.sha256()
    for k in ("proxy", "global_orient", "body_pose", "shape", "joints2d", "silhouette",
              "occluded_fraction", "occlusion"):  # fmt: skip
        h.update(np.ascontiguousarray(b[k].numpy()).tobytes())
    assert h.hexdigest()[:16] == "b3ae89deef9b2e4f"


EXTRA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cmu_mocap_extra" / "bvh"


@pytest.mark.skipif(not EXTRA.is_dir(), reason="needs ../shared/data/cmu_mocap_extra")
def test_benchmark_v2_differs_from_v1_and_keeps_both_inputs(tmp_path, monkeypatch):
    from lasor.eval.synthetic import make_test_set
    from lasor.synth.anchors import build_anchors

    monkeypatch.setenv("LASOR_CACHE", str(tmp_path))
    build_anchors(EXTRA, tmp_path / "pose_anchors.npz")

    v1 = make_test_set(8, 0, 32, Path("/nonexistent/bank.npz"), batch_size=8)[0]
    v2 = make_test_set(8, 0, 32, Path("/nonexistent/bank.npz"), batch_size=8, benchmark="v2")[0]
    for b in (v1, v2):  # every model can be scored on either set
        assert {"proxy", "mask", "keypoints", "geometry"} <= set(b)
    assert float(v2["geometry"][:, :2].abs().max()) > float(v1["geometry"][:, :2].abs().max())
    with pytest.raises(ValueError, match="unknown benchmark"):
        make_test_set(8, 0, 32, None, benchmark="v3")


def test_noise_alt_share_mixes_the_original_noise_in():
    """The preset never drops a joint inside the crop; the original noise does (confidence 0):
    ``noise_alt_share=1`` gives the original behaviour, 0 the preset's."""
    from lasor.body import load_body_model
    from lasor.synth.bank import build_body_bank, pose_source
    from lasor.synth.engine import SynthConfig, make_batch

    body = load_body_model("anny", topology="notoes_collapse10pc")
    bank = build_body_bank(
        body, 32, pose_source("train", "/nonexistent.npz"), np.random.default_rng(0)
    )

    def dropped_inside(share: float) -> int:
        cfg = SynthConfig(res=32, proxy_version=2, noise_preset="mediapipe", noise_alt_share=share)
        b = make_batch(bank, 32, cfg, np.random.default_rng(1))
        kp = b["keypoints"]
        inside = (b["joints2d"].abs() < 1).all(-1)
        return int(((kp[..., 2] == 0) & inside).sum())

    assert dropped_inside(0.0) == 0
    assert dropped_inside(1.0) > 0
