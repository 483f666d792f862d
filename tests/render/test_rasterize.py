import math

import numpy as np
import pytest
import torch

from lasor.render.camera import perspective_project, weak_perspective_project
from lasor.render.rasterize import points_visible, rasterize, rasterize_silhouette


def _square(x0, y0, x1, y1, z=1.0):
    v = np.array([[[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]], dtype=np.float64)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def _centres_in(lo: float, hi: float) -> int:
    """Pixel centres c = k + 0.5 with lo <= c < hi (top-left rule for an axis-aligned box)."""
    return max(0, math.ceil(hi - 0.5) - math.ceil(lo - 0.5))


@pytest.mark.parametrize(
    "box",
    [
        (10.0, 12.0, 40.0, 34.0),
        (10.5, 12.5, 40.5, 34.5),
        (3.3, 7.8, 20.1, 9.2),
        (0.5, 0.5, 1.5, 1.5),
    ],
)
def test_square_pixel_count_is_exact(box):
    v, f = _square(*box)
    frag = rasterize(v, f, 48)
    expected = _centres_in(box[0], box[2]) * _centres_in(box[1], box[3])
    assert frag.silhouette.sum().item() == expected
    # both triangles share the diagonal without double counting: counts add up
    counts = np.bincount(frag.face_id.flatten().numpy() + 1, minlength=3)
    assert counts[1] + counts[2] == expected


def test_disc_pixel_count_matches_area():
    n, r, c = 96, 17.3, np.array([31.7, 30.2])
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.concatenate([c[None], c + r * np.stack([np.cos(ang), np.sin(ang)], 1)])
    v = np.concatenate([pts, np.ones((n + 1, 1))], 1)[None]
    f = np.array([[0, 1 + i, 1 + (i + 1) % n] for i in range(n)])
    count = rasterize(v, f, 64).silhouette.sum().item()
    area = 0.5 * n * r * r * np.sin(2 * np.pi / n)
    assert abs(count - area) < 0.01 * area
    assert abs(area - np.pi * r * r) < 0.002 * np.pi * r * r


def _grid_mesh(rng, n=6, size=32.0, snap=False):
    """A triangulated n x n grid over the image, jittered; snap puts vertices on pixel centres."""
    xs = np.linspace(2.0, size - 2.0, n + 1)
    gx, gy = np.meshgrid(xs, xs)
    pts = np.stack([gx, gy], -1).reshape(-1, 2)
    inner = ((gx > 2.0) & (gx < size - 2.0) & (gy > 2.0) & (gy < size - 2.0)).reshape(-1)
    pts[inner] += rng.uniform(-1.5, 1.5, size=(inner.sum(), 2))
    if snap:
        pts[inner] = np.floor(pts[inner]) + 0.5
    faces = []
    for i in range(n):
        for j in range(n):
            a, b, c, d = (
                i * (n + 1) + j,
                i * (n + 1) + j + 1,
                (i + 1) * (n + 1) + j,
                (i + 1) * (n + 1) + j + 1,
            )
            faces += [[a, b, d], [a, d, c]] if (i + j) % 2 else [[a, b, c], [b, d, c]]
    v = np.concatenate([pts, np.zeros((len(pts), 1))], 1)
    return v, np.array(faces)


@pytest.mark.parametrize("snap", [False, True])
def test_shared_edges_no_gaps_no_double_counting(snap):
    rng = np.random.default_rng(3)
    v, f = _grid_mesh(rng, snap=snap)
    # render every face alone (a batch of copies, one face each via degenerate others) and count
    coverage = np.zeros((32, 32), dtype=int)
    for k in range(len(f)):
        coverage += rasterize(v[None], f[k : k + 1], 32).silhouette[0].numpy()
    union = rasterize(v[None], f, 32).silhouette[0].numpy()
    assert coverage.max() == 1
    assert (coverage == union).all()
    # the grid covers [2, 30) x [2, 30): every pixel centre in it exactly once
    assert union[2:30, 2:30].all() and union.sum() == 28 * 28


def test_depth_and_face_id_two_overlapping_triangles():
    v = np.array(
        [[[4, 4, 2.0], [28, 4, 2.0], [4, 28, 2.0], [10, 10, 1.0], [30, 10, 1.0], [10, 30, 1.0]]]
    )
    f = np.array([[0, 1, 2], [3, 4, 5]])
    frag = rasterize(v, f, 32)
    fid, depth = frag.face_id[0].numpy(), frag.depth[0].numpy()
    assert fid[12, 12] == 1 and depth[12, 12] == pytest.approx(1.0)  # both cover: nearer wins
    assert fid[5, 5] == 0 and depth[5, 5] == pytest.approx(2.0)  # only the far one
    assert fid[25, 25] == -1 and np.isinf(depth[25, 25])
    # swapping the depths swaps the winner in the overlap
    v2 = v.copy()
    v2[0, :3, 2], v2[0, 3:, 2] = 1.0, 2.0
    assert rasterize(v2, f, 32).face_id[0, 12, 12] == 0


def test_depth_is_interpolated_on_a_slanted_face():
    v = np.array([[[2.0, 2.0, 1.0], [30.0, 2.0, 3.0], [2.0, 30.0, 5.0]]])
    frag = rasterize(v, np.array([[0, 1, 2]]), 32)
    i, j = 10, 7
    px, py = j + 0.5, i + 0.5
    expected = 1.0 + 2.0 * (px - 2.0) / 28.0 + 4.0 * (py - 2.0) / 28.0
    assert frag.depth[0, i, j].item() == pytest.approx(expected, rel=1e-6)


def test_perspective_correct_depth():
    # a plane z = 4 + 0.5 x seen by a pinhole camera: depth at a pixel = ray-plane intersection
    pts = torch.tensor([[[-1.0, -1.0, 3.5], [1.0, -1.0, 4.5], [1.0, 1.0, 4.5], [-1.0, 1.0, 3.5]]])
    f, c = 20.0, 16.0
    screen = perspective_project(pts.double(), f, (c, c))
    frag = rasterize(screen, np.array([[0, 1, 2], [0, 2, 3]]), 32, perspective=True)
    i, j = 16, 12
    dx, dy = (j + 0.5 - c) / f, (i + 0.5 - c) / f  # ray (dx, dy, 1) * z
    z = 4.0 / (1.0 - 0.5 * dx)
    assert frag.depth[0, i, j].item() == pytest.approx(z, rel=1e-5)
    assert abs(dy) < 1.0


def test_labels_cull_and_silhouette_only(sphere):
    v, f = sphere
    pts = torch.tensor(v[None]) + torch.tensor([0.0, 0.0, 5.0])
    screen = perspective_project(pts, 40.0, (16.0, 16.0))
    frag = rasterize(screen, f, 32, perspective=True)
    culled = rasterize(screen, f, 32, perspective=True, cull_backfaces=True)
    assert (frag.face_id == culled.face_id).all()  # front faces hide the back ones anyway
    labels = np.arange(len(f)) % 5 + 10
    lab = frag.labels(labels, background=-7)
    fid = frag.face_id.long()
    assert (lab[fid < 0] == -7).all()
    assert (lab[fid >= 0] == torch.as_tensor(labels)[fid[fid >= 0]]).all()
    assert (rasterize_silhouette(screen, f, 32) == frag.silhouette).all()


def test_batched_equals_single(blob):
    v, f = blob
    g = torch.Generator().manual_seed(0)
    cams = torch.rand(3, 3, generator=g) * torch.tensor([0.6, 0.3, 0.3]) + torch.tensor(
        [0.6, -0.15, -0.15]
    )
    screen = weak_perspective_project(torch.tensor(v).expand(3, -1, -1), cams.double(), 40)
    frag = rasterize(screen, f, (40, 48))
    assert frag.face_id.shape == (3, 40, 48) and frag.depth.dtype == torch.float32
    for b in range(3):
        single = rasterize(screen[b : b + 1], f, (40, 48))
        assert (single.face_id[0] == frag.face_id[b]).all()
        assert torch.equal(single.depth[0], frag.depth[b])
    assert (rasterize_silhouette(screen, f, (40, 48)) == frag.silhouette).all()


def test_points_visible_behind_the_body(sphere):
    v, f = sphere
    t = torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)
    screen = perspective_project(torch.tensor(v[None]) + t, 40.0, (16.0, 16.0))
    depth = rasterize(screen, f, 32, perspective=True).depth
    pts = torch.tensor([[[0, 0, 2.0], [0, 0, -0.99], [0, 0, 0.99], [3.0, 0, 3.0], [40.0, 0, 1.0]]])
    uv = perspective_project(pts.double() + t, 40.0, (16.0, 16.0))
    vis = points_visible(uv, depth, tolerance=0.05)
    # behind the sphere; on its front surface; inside near its back; beside it; off-image
    assert vis.tolist() == [[False, True, False, True, False]]


def test_degenerate_inputs():
    v = np.array([[[1.0, 1.0, 1.0], [np.nan, 5.0, 1.0], [9.0, 2.0, 1.0], [4.0, 4.0, 1.0]]])
    frag = rasterize(v, np.array([[0, 1, 2], [0, 2, 2], [0, 3, 3]]), 16)
    assert not frag.silhouette.any()
    assert rasterize(v, np.zeros((0, 3), dtype=int), 16).face_id.shape == (1, 16, 16)
