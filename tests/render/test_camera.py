import math

import torch

from lasor.render.camera import (
    ndc_to_pixels,
    perspective_project,
    perspective_to_weak_perspective,
    pixels_to_ndc,
    weak_perspective_project,
    weak_perspective_to_perspective,
)


def test_weak_perspective_known_values():
    pts = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.5, 2.0]]])
    cam = torch.tensor([[0.5, 0.2, -0.1]])
    out = weak_perspective_project(pts, cam, 100)
    # x_ndc = 0.5 * (0 + 0.2) = 0.1 -> 55; y_ndc = 0.5 * (0 - 0.1) = -0.05 -> 47.5
    expected = torch.tensor([[[55.0, 47.5, 0.0], [80.0, 60.0, 2.0]]])
    torch.testing.assert_close(out, expected)


def test_ndc_pixels_round_trip():
    x = torch.tensor([-1.0, 0.0, 1.0, 0.3])
    torch.testing.assert_close(ndc_to_pixels(x, 64), torch.tensor([0.0, 32.0, 64.0, 41.6]))
    torch.testing.assert_close(pixels_to_ndc(ndc_to_pixels(x, 64), 64), x)


def test_perspective_known_values():
    pts = torch.tensor([[[1.0, 2.0, 4.0]]])
    out = perspective_project(pts, 100.0, (50.0, 40.0), translation=torch.tensor([[0, 0, 1.0]]))
    torch.testing.assert_close(out, torch.tensor([[[70.0, 80.0, 5.0]]]))
    # (f_x, f_y) per batch element and a rotation of 90 degrees about z: (1, 2) -> (-2, 1)
    rot = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    out = perspective_project(pts, torch.tensor([[100.0, 50.0]]), (0.0, 0.0), rotation=rot)
    torch.testing.assert_close(out, torch.tensor([[[-50.0, 12.5, 4.0]]]))


def test_camera_facing_body_is_upright():
    # Body frame: Y up, facing +Z. 180 degrees about X turns it to face the camera (OpenCV).
    head, feet = [0.0, 0.8, 0.1], [0.0, -0.9, 0.0]
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    pts = torch.tensor([[head, feet]]) @ flip.T
    uv = weak_perspective_project(pts, torch.tensor([[1.0, 0.0, 0.0]]), 64)
    assert uv[0, 0, 1] < 32 < uv[0, 1, 1]  # head above the centre, feet below (v points down)
    assert uv[0, 0, 2] < 0  # the face (+Z in the body frame) is nearer to the camera


def test_weak_to_perspective_matches_on_the_depth_plane():
    g = torch.Generator().manual_seed(0)
    cam = torch.tensor([[0.9, 0.1, -0.2], [0.5, -0.3, 0.05]])
    pts = torch.randn(2, 10, 3, generator=g)
    pts[..., 2] = 0.0
    f, size = 5000.0, 224
    t = weak_perspective_to_perspective(cam, f, size)
    persp = perspective_project(pts, f, (size / 2, size / 2), translation=t)
    weak = weak_perspective_project(pts, cam, size)
    torch.testing.assert_close(persp[..., :2], weak[..., :2])
    torch.testing.assert_close(perspective_to_weak_perspective(t, f, size), cam)
    assert math.isclose(t[0, 2].item(), 2 * f / (0.9 * size), rel_tol=1e-6)


def test_batched_equals_single():
    g = torch.Generator().manual_seed(1)
    pts = torch.randn(3, 7, 3, generator=g)
    cam = torch.rand(3, 3, generator=g) + 0.5
    t = torch.randn(3, 3, generator=g) + torch.tensor([0, 0, 6.0])
    batched_w = weak_perspective_project(pts, cam, 32)
    batched_p = perspective_project(pts, cam[:, 0] * 50, (16.0, 16.0), translation=t)
    for b in range(3):
        torch.testing.assert_close(
            batched_w[b : b + 1], weak_perspective_project(pts[b : b + 1], cam[b : b + 1], 32)
        )
        single = perspective_project(
            pts[b : b + 1], cam[b : b + 1, 0] * 50, (16.0, 16.0), translation=t[b : b + 1]
        )
        torch.testing.assert_close(batched_p[b : b + 1], single)


def test_gradients_finite_differences():
    g = torch.Generator().manual_seed(2)
    pts = torch.randn(2, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    cam = (torch.rand(2, 3, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    t = (
        torch.randn(2, 3, generator=g, dtype=torch.float64) + torch.tensor([0, 0, 6.0])
    ).requires_grad_()
    f = torch.tensor([60.0, 80.0], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([30.0, 20.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, k: weak_perspective_project(p, k, 64), (pts, cam))
    assert torch.autograd.gradcheck(
        lambda p, tt, ff, cc: perspective_project(p, ff, cc, tt), (pts, t, f, c)
    )
    assert torch.autograd.gradcheck(lambda k: weak_perspective_to_perspective(k, 500.0, 64), (cam,))
