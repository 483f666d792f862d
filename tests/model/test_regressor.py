"""Regressor: output shapes and types, valid rotations, starting point, gradients."""

from __future__ import annotations

import pytest
import torch

from lasor.body.rotations import rot6d_to_rotmat
from lasor.model import Regressor, RegressorOutput, default_shape_mapping

torch.set_num_threads(1)

ANNY_DEFAULT = [0.5, 2.0 / 3.0, 0.5, 0.5, 0.5, 0.5]


def small(num_pose: int = 19, num_shape: int = 6, **kw) -> Regressor:
    kw.setdefault("widths", (8, 16, 32))
    kw.setdefault("blocks", (1, 1, 1))
    kw.setdefault("groups", 4)
    kw.setdefault("head_hidden", 64)
    return Regressor(num_pose, num_shape, **kw)


def assert_rotations(r: torch.Tensor) -> None:
    eye = torch.eye(3).expand_as(r)
    torch.testing.assert_close(r @ r.transpose(-1, -2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(r.shape[:-2]), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("num_pose", "num_shape", "mapping", "size"),
    [(19, 6, "sigmoid", 64), (23, 10, "identity", 96), (19, 6, "sigmoid", 128)],
)
def test_forward_shapes_and_rotations(num_pose, num_shape, mapping, size):
    torch.manual_seed(0)
    init = ANNY_DEFAULT if num_shape == 6 else None
    model = small(num_pose, num_shape, shape_mapping=mapping, shape_init=init)
    out = model(torch.rand(3, 18, size, size))
    assert isinstance(out, RegressorOutput)
    assert out.global_orient.shape == (3, 3, 3)
    assert out.body_pose.shape == (3, num_pose, 3, 3)
    assert out.shape.shape == (3, num_shape)
    assert out.cam.shape == (3, 3)
    assert out.global_orient_6d.shape == (3, 6)
    assert out.body_pose_6d.shape == (3, num_pose, 6)
    assert out.shape_raw.shape == (3, num_shape)
    assert_rotations(out.global_orient)
    assert_rotations(out.body_pose)
    torch.testing.assert_close(out.body_pose, rot6d_to_rotmat(out.body_pose_6d))
    assert (out.cam[:, 0] > 0).all()
    if mapping == "sigmoid":
        assert ((out.shape > 0) & (out.shape < 1)).all()


def test_starts_from_mean_parameters():
    torch.manual_seed(0)
    model = small(shape_init=ANNY_DEFAULT, cam_scale_init=0.8)
    out = model(torch.rand(2, 18, 64, 64))
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0])).expand(2, 3, 3)
    # the last head layer starts tiny, so the prediction is the mean plus a small residual
    torch.testing.assert_close(out.global_orient, flip, atol=0.05, rtol=0)
    torch.testing.assert_close(out.body_pose, torch.eye(3).expand(2, 19, 3, 3), atol=0.05, rtol=0)
    torch.testing.assert_close(out.shape, torch.tensor([ANNY_DEFAULT] * 2), atol=0.02, rtol=0)
    torch.testing.assert_close(out.cam[:, 0], torch.full((2,), 0.8), atol=0.05, rtol=0)


def test_in_channels_configurable_and_batchnorm():
    model = small(in_channels=5, norm="batch")
    out = model(torch.rand(4, 5, 64, 64))
    assert out.body_pose.shape == (4, 19, 3, 3)
    model.eval()
    assert model(torch.rand(1, 5, 64, 64)).shape.shape == (1, 6)


def test_groupnorm_output_independent_of_batch_mates():
    torch.manual_seed(0)
    model = small().train()
    x = torch.rand(4, 18, 64, 64)
    alone = model(x[:1]).body_pose_6d
    together = model(x).body_pose_6d[:1]
    torch.testing.assert_close(alone, together, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("size", "pool"), [(64, "flatten"), (96, "flatten"), (128, "both")])
def test_coord_channels_and_flatten_pooling(size, pool):
    torch.manual_seed(0)
    model = small(coord_channels=True, pool=pool)
    seen = {}
    model.encoder.stem[0].register_forward_hook(lambda m, i, o: seen.update(x=i[0]))
    x = torch.rand(2, 18, size, size)
    out = model(x)
    assert out.body_pose.shape == (2, 19, 3, 3)
    # 64 reduced channels on a 4x4 grid (+ the last stage's 32 pooled ones for "both")
    assert model.encoder.out_channels == 64 * 16 + 32 * (pool == "both")
    stem_in = seen["x"]
    assert stem_in.shape == (2, 20, size, size)
    torch.testing.assert_close(stem_in[:, :18], x)
    ramp = torch.linspace(-1, 1, size)
    torch.testing.assert_close(stem_in[1, 18], ramp.expand(size, size))  # x grows rightwards
    torch.testing.assert_close(stem_in[1, 19], ramp[:, None].expand(size, size))  # y downwards


@pytest.mark.parametrize("kw", [{}, {"coord_channels": True, "pool": "both"}])
def test_gradient_flows_to_every_layer(kw):
    torch.manual_seed(0)
    model = small(shape_init=ANNY_DEFAULT, **kw)
    out = model(torch.rand(2, 18, 64, 64))
    loss = out.body_pose.sum() + out.global_orient.sum() + out.shape.sum() + out.cam.sum()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert model.encoder.stem[0].weight.grad.abs().sum() > 0
    assert model.head[0].weight.grad.abs().sum() > 0


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape_mapping"):
        small(shape_mapping="tanh")
    with pytest.raises(ValueError, match="shape_init"):
        small(shape_init=[0.5, 0.5])
    with pytest.raises(ValueError, match="norm"):
        small(norm="layer")
    with pytest.raises(ValueError, match="pool"):
        small(pool="max")


def test_default_shape_mapping():
    assert default_shape_mapping("anny") == "sigmoid"
    assert default_shape_mapping("smpl") == "identity"


def test_keypoint_readout_recovers_blob_positions():
    from lasor.model.regressor import keypoint_readout

    size = 64
    grid = torch.linspace(-1, 1, size)
    centres = torch.tensor([[-0.5, 0.25], [0.3, -0.7]])  # (x, y) in [-1, 1]
    maps = torch.zeros(1, 3, size, size)
    for k, (cx, cy) in enumerate(centres):
        gx = torch.exp(-((grid - cx) ** 2) / (2 * 0.06**2))
        gy = torch.exp(-((grid - cy) ** 2) / (2 * 0.06**2))
        maps[0, k] = gy[:, None] * gx[None, :]
    out = keypoint_readout(maps).reshape(3, 3)  # channel 2 stays empty (a hidden joint)
    torch.testing.assert_close(out[:2, 1:], centres, atol=1e-3, rtol=0)
    assert out[0, 0] > 0.95 and out[1, 0] > 0.95
    torch.testing.assert_close(out[2], torch.zeros(3))


def test_keypoint_readout_feeds_the_head():
    torch.manual_seed(0)
    model = small(keypoint_readout=True)
    assert model.num_features == model.encoder.out_channels + 3 * 17
    x = torch.rand(2, 18, 64, 64)
    out = model(x)
    out.body_pose.sum().backward()
    assert model.head[0].weight.shape[1] == model.num_features + model.num_params
    assert torch.isfinite(model.head[0].weight.grad).all()
