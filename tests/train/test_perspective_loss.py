"""The 2D term in the photo's camera: the crop geometry + weak perspective -> the pinhole."""

from __future__ import annotations

import numpy as np
import torch

from lasor.train.losses import joints2d_perspective_loss, perspective_keypoints


def test_perspective_keypoints_is_the_pinhole_projection():
    g = torch.Generator().manual_seed(0)
    b = 5
    pts = 0.5 * torch.randn(b, 17, 3, generator=g, dtype=torch.float64)
    t = torch.stack(
        [torch.randn(b, generator=g, dtype=torch.float64),
         torch.randn(b, generator=g, dtype=torch.float64), 3 + 4 * torch.rand(b, generator=g)],
        dim=1,
    )  # fmt: skip
    geo = torch.cat([0.3 * torch.randn(b, 2, generator=g), 0.2 + torch.rand(b, 1, generator=g)], 1)
    geo = geo.double()
    cx, cy, side = geo[:, 0], geo[:, 1], geo[:, 2]
    tz = t[:, 2]
    # the weak-perspective camera that puts the root where the pinhole does
    cam = torch.stack([2 / (side * tz), t[:, 0] - cx * tz, t[:, 1] - cy * tz], dim=1)
    p = pts + t[:, None]
    expected = (p[..., :2] / p[..., 2:3] - geo[:, None, :2]) / (side[:, None, None] / 2)
    torch.testing.assert_close(perspective_keypoints(pts, cam, geo), expected)
    vis = torch.ones(b, 17, dtype=torch.float64)
    assert float(joints2d_perspective_loss(pts, cam, geo, expected, vis)) < 1e-20


def test_agrees_with_predicts_camera_placement():
    """``lasor.predict``'s pinhole translation of a weak camera projects like the loss does."""
    from lasor.predict import _cam_translation
    from lasor.synth.proxy import CropBox, crop_geometry

    h, w, f = 800, 1200, 1100.0
    box = CropBox(cx=900.0, cy=250.0, size=300.0)
    cam = np.array([0.7, 0.05, -0.1])
    t = _cam_translation(cam, box, (h, w), f)
    pts = np.random.default_rng(0).normal(0, 0.3, (17, 3))
    p = pts + t
    px = f * p[:, :2] / p[:, 2:3] + [w / 2, h / 2]
    ndc = (px - [box.cx, box.cy]) / (box.size / 2)
    geo = torch.from_numpy(crop_geometry(box, (h, w), f)).double()[None]
    got = perspective_keypoints(torch.from_numpy(pts)[None], torch.from_numpy(cam)[None], geo)
    np.testing.assert_allclose(got[0].numpy(), ndc, atol=1e-5)


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    pts = 0.4 * torch.randn(2, 17, 3, generator=g, dtype=torch.float64)
    cam = torch.tensor([[0.8, 0.1, -0.05], [1.1, -0.2, 0.1]], dtype=torch.float64)
    geo = torch.tensor([[0.1, -0.2, 0.4], [-0.3, 0.0, 0.6]], dtype=torch.float64)
    cam.requires_grad_(True)
    pts.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c, q: perspective_keypoints(q, c, geo), (cam, pts))
