import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from lasor.render.camera import weak_perspective_project
from lasor.render.rasterize import rasterize_silhouette
from lasor.render.silhouette import (
    edge_grad_silhouette,
    geometric_schedule,
    mesh_edges,
    soft_silhouette,
)


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = (
        math.cos(rx),
        math.sin(rx),
        math.cos(ry),
        math.sin(ry),
        math.cos(rz),
        math.sin(rz),
    )
    mx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    my = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    mz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return mz @ my @ mx


def _small_2d(ico, batch=2, subdivisions=1, seed=0, scale=6.0, centre=10.0):
    v, f = ico(subdivisions)
    rng = np.random.default_rng(seed)
    xy = v[None, :, :2] * scale + centre + rng.normal(size=(batch, len(v), 2)) * 0.3
    return torch.tensor(xy, dtype=torch.float64), torch.from_numpy(f)


@pytest.mark.parametrize("sigma", [0.3, 2.0])
def test_soft_matches_pytorch_reference(sigma, make_icosphere, reference_soft):
    verts, faces = _small_2d(make_icosphere)
    a = verts.clone().requires_grad_()
    b = verts.clone().requires_grad_()
    out = soft_silhouette(a, faces, (20, 22), sigma=sigma)
    ref = reference_soft(b, faces, 20, 22, sigma, 9.0)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-9)


def test_soft_gradcheck(make_icosphere):
    verts, faces = _small_2d(make_icosphere, batch=1, subdivisions=0, scale=4.0, centre=6.0)
    verts.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: soft_silhouette(x, faces, (12, 13), sigma=0.7), (verts,)
    )


def test_soft_central_differences_through_camera(make_icosphere):
    """Gradients reach 3D vertices and the camera: compare with central differences."""
    v, f = make_icosphere(1)
    pts = torch.tensor(v[None] * 0.8, requires_grad=True)
    cam = torch.tensor([[0.7, 0.05, -0.1]], dtype=torch.float64, requires_grad=True)
    w = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def loss(p, c):
        return (soft_silhouette(weak_perspective_project(p, c, 16), f, 16, sigma=0.5) * w).sum()

    loss(pts, cam).backward()
    eps = 1e-6
    for k in range(3):
        d = torch.zeros_like(cam)
        d[0, k] = eps
        num = (loss(pts, cam + d) - loss(pts, cam - d)) / (2 * eps)
        assert cam.grad[0, k].item() == pytest.approx(num.item(), rel=1e-5, abs=1e-7)
    idx = [(0, 0), (3, 1), (17, 0), (25, 2)]
    for vi, ax in idx:
        d = torch.zeros_like(pts)
        d[0, vi, ax] = eps
        num = (loss(pts + d, cam) - loss(pts - d, cam)) / (2 * eps)
        assert pts.grad[0, vi, ax].item() == pytest.approx(num.item(), rel=1e-5, abs=1e-7)
    assert pts.grad[0, :, 2].abs().sum() == 0  # depth does not change a silhouette


def test_soft_float32_close_to_float64(blob):
    v, f = blob
    screen = weak_perspective_project(
        torch.tensor(v[None]), torch.tensor([[0.9, 0.0, 0.0]], dtype=torch.float64), 48
    )
    s64 = screen.clone().requires_grad_()
    s32 = screen.float().requires_grad_()
    o64 = soft_silhouette(s64, f, 48)
    o32 = soft_silhouette(s32, f, 48)
    assert o32.dtype == torch.float32
    torch.testing.assert_close(o32.double(), o64, rtol=0, atol=1e-5)
    o64.sum().backward()
    o32.sum().backward()
    torch.testing.assert_close(s32.grad.double(), s64.grad, rtol=1e-3, atol=1e-3)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a & b).sum() / (a | b).sum()).item()


def test_soft_tends_to_hard_at_high_sharpness(blob):
    v, f = blob
    screen = weak_perspective_project(
        torch.tensor(v[None]), torch.tensor([[0.9, 0.0, 0.0]], dtype=torch.float64), 64
    )
    hard = rasterize_silhouette(screen, f, 64)
    soft = soft_silhouette(screen, f, 64, sigma=0.005)
    assert _iou(soft > 0.5, hard) > 0.95
    assert _iou(soft_silhouette(screen, f, 64, sigma=2.0) > 0.5, hard) < 0.95  # dilated when soft


def test_soft_batched_equals_single(blob):
    v, f = blob
    cams = torch.tensor([[0.9, 0.0, 0.0], [0.7, 0.2, -0.1], [1.1, -0.1, 0.1]], dtype=torch.float64)
    screen = weak_perspective_project(torch.tensor(v).expand(3, -1, -1), cams, 32)
    batched = soft_silhouette(screen, f, (32, 40))
    assert batched.shape == (3, 32, 40)
    for b in range(3):
        torch.testing.assert_close(batched[b], soft_silhouette(screen[b : b + 1], f, (32, 40))[0])


def test_mesh_edges(make_icosphere):
    v, f = make_icosphere(1)
    e = mesh_edges(f)
    assert e.edges.shape == (len(f) * 3 // 2, 2)
    assert (e.opposite >= 0).all()  # closed
    tri = mesh_edges(np.array([[0, 1, 2]]))
    assert sorted(map(tuple, tri.edges.tolist())) == [(0, 1), (0, 2), (1, 2)]
    assert (tri.opposite[:, 1] == -1).all()
    assert sorted(tri.opposite[:, 0].tolist()) == [0, 1, 2]


def _ellipsoid_screen(ico, theta: torch.Tensor, size: int) -> tuple[torch.Tensor, np.ndarray]:
    v, f = ico(3)
    v = (v * np.array([0.4, 0.8, 0.3])) @ _rotation(0.3, 0.5, 0.2).T
    cam = theta[None]
    return weak_perspective_project(torch.tensor(v[None]), cam, size), f


def test_edge_grad_forward_is_the_hard_silhouette(blob):
    v, f = blob
    cams = torch.tensor([[0.9, 0.0, 0.0], [0.7, 0.2, -0.1]], dtype=torch.float64)
    screen = weak_perspective_project(torch.tensor(v).expand(2, -1, -1), cams, 48)
    out = edge_grad_silhouette(screen, f, 48)
    assert torch.equal(out.bool(), rasterize_silhouette(screen, f, 48))


@pytest.mark.parametrize("tau", [0.0, 1.0, 3.0])
def test_edge_grad_is_the_gradient_of_the_blurred_silhouette(tau, make_icosphere):
    """Compare with finite differences of a supersampled, blurred silhouette (camera params)."""
    size, k = 64, 16
    w = gaussian_filter(np.random.default_rng(0).normal(size=(size, size)), 3) * 50
    theta = torch.tensor([0.9, 0.05, -0.02], dtype=torch.float64, requires_grad=True)
    screen, f = _ellipsoid_screen(make_icosphere, theta, size)
    (edge_grad_silhouette(screen, f, size, tau=tau) * torch.tensor(w)).sum().backward()

    def blurred_loss(th: np.ndarray) -> float:
        hi, _ = _ellipsoid_screen(make_icosphere, torch.tensor(th), size * k)
        cover = (
            rasterize_silhouette(hi, f, size * k)[0].numpy().reshape(size, k, size, k).mean((1, 3))
        )
        # box filter (above) + Gaussian: the variance of the bilinear tent + tau^2
        return float(
            (gaussian_filter(cover, math.sqrt(tau**2 + 1 / 12), mode="constant") * w).sum()
        )

    th0 = theta.detach().numpy()
    for i in range(3):
        d = np.zeros(3)
        d[i] = 0.01
        num = (blurred_loss(th0 + d) - blurred_loss(th0 - d)) / 0.02
        assert theta.grad[i].item() == pytest.approx(
            num, rel=0.05, abs=0.02 * abs(theta.grad).max().item()
        )


def test_edge_grad_ignores_interior_contours(sphere):
    """A small sphere in front of a big one: its outline is inside the silhouette, no gradient."""
    v, f = sphere
    big = v * 1.0
    small = v * 0.3 + np.array([0.0, 0.0, -2.0])
    verts = torch.tensor(np.concatenate([big, small])[None], requires_grad=True)
    faces = np.concatenate([f, f + len(v)])
    out = edge_grad_silhouette(
        weak_perspective_project(verts, torch.tensor([[0.5, 0.0, 0.0]], dtype=torch.float64), 48),
        faces,
        48,
    )
    out.sum().backward()
    g = verts.grad[0].norm(dim=1)
    assert g[: len(v)].sum() > 0
    assert g[len(v) :].sum() == 0


def test_edge_grad_fit_translation(make_icosphere):
    """Recover a translation from the silhouette alone (quick smoke fit)."""
    size = 48
    target = torch.tensor([0.8, 0.1, -0.05], dtype=torch.float64)
    t_screen, f = _ellipsoid_screen(make_icosphere, target, size)
    t_sil = rasterize_silhouette(t_screen, f, size).double()
    theta = torch.tensor([0.8, -0.15, 0.15], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.02)
    for step in range(60):
        screen, _ = _ellipsoid_screen(make_icosphere, theta, size)
        sil = edge_grad_silhouette(screen, f, size, tau=geometric_schedule(step, 50, 4.0, 0.5))
        loss = (sil - t_sil).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    screen, _ = _ellipsoid_screen(make_icosphere, theta.detach(), size)
    assert _iou(rasterize_silhouette(screen, f, size), t_sil.bool()) > 0.9


def test_geometric_schedule():
    assert geometric_schedule(0, 11, 4.0, 0.04) == pytest.approx(4.0)
    assert geometric_schedule(5, 11, 4.0, 0.04) == pytest.approx(0.4)
    assert geometric_schedule(10, 11, 4.0, 0.04) == pytest.approx(0.04)
    assert geometric_schedule(50, 11, 4.0, 0.04) == pytest.approx(0.04)


def test_soft_cull_backfaces_uses_front_faces_only(make_icosphere, reference_soft):
    v, f = make_icosphere(1)
    pts = torch.tensor(v[None] @ _rotation(0.4, 0.2, 0.1).T)
    screen = weak_perspective_project(pts, torch.tensor([[0.6, 0.0, 0.0]], dtype=torch.float64), 20)
    xy = screen[..., :2]
    tri = xy[0, f]
    area = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) - (
        tri[:, 1, 1] - tri[:, 0, 1]
    ) * (tri[:, 2, 0] - tri[:, 0, 0])
    front = torch.from_numpy(f)[area < 0]
    assert 0 < len(front) < len(f)
    a = xy.clone().requires_grad_()
    b = xy.clone().requires_grad_()
    out = soft_silhouette(a, f, 20, sigma=0.5, cull_backfaces=True)
    ref = reference_soft(b, front, 20, 20, 0.5, 9.0)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-9)
