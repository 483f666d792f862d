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


def test_gradient_flows_to_every_layer():
    torch.manual_seed(0)
    model = small(shape_init=ANNY_DEFAULT)
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


def test_default_shape_mapping():
    assert default_shape_mapping("anny") == "sigmoid"
    assert default_shape_mapping("smpl") == "identity"
