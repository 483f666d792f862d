import numpy as np
import pytest
import torch
from PIL import Image

from lasor.render.camera import perspective_project
from lasor.render.overlay import render_meshes, render_overlay, render_side_view, save_png
from lasor.render.rasterize import rasterize


def _photo(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_overlay_pixels_are_the_hard_silhouette(sphere):
    v, f = sphere
    verts = v * 0.8 + np.array([0.3, -0.2, 5.0])
    photo = _photo()
    before = photo.copy()
    out = render_overlay(photo, verts, f, focal_length=40.0, opacity=1.0, supersample=1)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert np.array_equal(photo, before)  # input untouched
    changed = (out != photo).any(-1)
    screen = perspective_project(torch.tensor(verts[None]), 40.0, (32.0, 24.0))
    sil = rasterize(screen, f, (48, 64), perspective=True).silhouette[0].numpy()
    # a mesh pixel may by chance equal the photo's colour, so compare one way strictly
    assert not (changed & ~sil).any()
    assert (changed == sil).mean() > 0.99
    assert sil.sum() > 100


def test_two_people_depth_order(sphere):
    v, f = sphere
    near = v * 0.5 + np.array([0.3, 0.0, 4.0])
    far = v * 1.0 + np.array([-0.3, 0.0, 6.0])
    red, green = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    layer = render_meshes([far, near], f, (32, 32), 30.0, colors=[red, green], supersample=1)
    i, j = 16, int(16 + 30 * 0.3 / 4.0)  # centre of the near (green) sphere, overlapping the far
    assert layer.alpha[i, j] == 1.0
    assert layer.rgb[i, j, 1] > 0.3 and layer.rgb[i, j, 0] == 0.0
    assert layer.rgb[16, 11, 0] > 0.3 and layer.rgb[16, 11, 1] == 0.0  # far one, not occluded
    # order of the list does not matter, only depth
    swapped = render_meshes([near, far], f, (32, 32), 30.0, colors=[green, red], supersample=1)
    np.testing.assert_allclose(swapped.rgb, layer.rgb)


def test_batched_people_and_antialiasing(sphere):
    v, f = sphere
    verts = torch.tensor(np.stack([v * 0.6 + [-0.8, 0, 5], v * 0.6 + [0.8, 0, 5]]))
    layer = render_meshes(verts, torch.from_numpy(f), (40, 60), 40.0, supersample=3)
    assert layer.rgb.shape == (40, 60, 3) and layer.alpha.shape == (40, 60)
    partial = (layer.alpha > 0) & (layer.alpha < 1)
    assert partial.any()  # anti-aliased edges
    assert np.isfinite(layer.depth[layer.alpha == 1]).all()


def _full_frame_reference(verts, faces, hw, focal, k):
    """Rasterize the whole frame at k x the resolution and average (no windowing)."""
    h, w = hw
    z = verts[:, 2]
    screen = np.stack(
        [(focal * verts[:, 0] / z + w / 2) * k, (focal * verts[:, 1] / z + h / 2) * k, z], 1
    )
    fid = rasterize(screen[None], faces, (h * k, w * k), perspective=True).face_id[0].numpy()
    return (fid >= 0).reshape(h, k, w, k).mean(axis=(1, 3)), fid


@pytest.mark.parametrize("offset", [(0.3, -0.2, 5.0), (-1.9, -1.2, 4.0), (0.0, 0.0, 0.6)])
def test_windowed_render_equals_full_frame(sphere, offset):
    # inside, clipped by the top-left corner, and straddling the near plane (vertices behind it)
    v, f = sphere
    verts = v * 0.8 + np.array(offset)
    for k in (1, 2, 3):
        layer = render_meshes(verts, f, (48, 64), 40.0, supersample=k)
        alpha, fid = _full_frame_reference(verts, f, (48, 64), 40.0, k)
        np.testing.assert_array_equal(layer.alpha, alpha.astype(np.float32))
        assert fid.max() >= 0 and np.isfinite(layer.depth).sum() == (alpha > 0).sum()


def test_mesh_outside_the_frame_renders_nothing(sphere):
    v, f = sphere
    for offset in ([30.0, 0.0, 5.0], [0.0, 0.0, -5.0]):  # beside the image, behind the camera
        layer = render_meshes(v + offset, f, (20, 30), 40.0)
        assert layer.alpha.max() == 0.0 and np.isinf(layer.depth).all()


def test_side_view_is_framed(sphere):
    v, f = sphere
    body = v * np.array([0.2, 0.9, 0.4]) + np.array([1.0, 0.5, 7.0])
    img = render_side_view(body, f, image_size=(80, 60), margin=0.1, supersample=1)
    assert img.shape == (80, 60, 3) and img.dtype == np.uint8
    mesh = (img != 255).any(-1)
    assert (img[0, 0] == 255).all()
    rows, cols = np.nonzero(mesh)
    # the taller extent fills the height up to the margins; centred
    assert 80 * 0.8 - 2 <= rows.max() - rows.min() + 1 <= 80 * 0.8 + 1
    assert abs((cols.min() + cols.max()) / 2 - 29.5) <= 1.0
    # turned by 90 degrees the 0.4-deep side is seen: width / height ~ 0.4 / 0.9
    ratio = (cols.max() - cols.min() + 1) / (rows.max() - rows.min() + 1)
    assert abs(ratio - 0.4 / 0.9) < 0.08


def test_save_png_round_trip(tmp_path):
    img = _photo(10, 12)
    path = tmp_path / "sub" / "x.png"
    save_png(path, img)
    assert np.array_equal(np.asarray(Image.open(path)), img)
