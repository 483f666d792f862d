"""The photo's camera (``lasor.fit.camera``): EXIF focal -> pixels, projection round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from lasor.fit.camera import (
    DEFAULT_FOV_DIAGONAL_DEG,
    default_focal,
    exif_focal_35mm,
    focal_from_35mm,
    photo_focal,
    project_points,
)


def test_35mm_to_pixels_diagonal_convention():
    # the 35 mm frame's own diagonal (43.27 mm) spans the photo's diagonal
    assert focal_from_35mm(math.hypot(36, 24), 4000, 3000) == pytest.approx(5000.0)
    assert focal_from_35mm(26.0, 4000, 3000) == pytest.approx(26.0 * 5000.0 / math.hypot(36, 24))
    # portrait and landscape of the same sensor agree
    assert focal_from_35mm(50, 3000, 4000) == pytest.approx(focal_from_35mm(50, 4000, 3000))
    with pytest.raises(ValueError):
        focal_from_35mm(0.0, 10, 10)


def test_default_field_of_view():
    f = default_focal(800, 600)
    assert f == pytest.approx(1000.0)
    assert math.degrees(2 * math.atan(500.0 / f)) == pytest.approx(DEFAULT_FOV_DIAGONAL_DEG)


def test_exif_focal_read_with_pillow(tmp_path):
    im = Image.fromarray(np.zeros((30, 40, 3), np.uint8))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 28
    with_exif = tmp_path / "with.jpg"
    im.save(with_exif, exif=exif)
    plain = tmp_path / "plain.jpg"
    im.save(plain)
    assert exif_focal_35mm(with_exif) == 28.0
    assert exif_focal_35mm(plain) is None
    assert exif_focal_35mm(tmp_path / "missing.jpg") is None
    f, src = photo_focal(with_exif, 40, 30)
    assert src == "exif" and f == pytest.approx(28.0 * 50.0 / math.hypot(36, 24))
    assert photo_focal(plain, 40, 30) == (pytest.approx(50.0), "default")


def test_projection_round_trip():
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(3, 20, 3, generator=g, dtype=torch.float64) * 0.5
    t = torch.tensor([[0.1, -0.2, 4.0], [0.0, 0.0, 6.0], [-0.5, 0.3, 3.0]], dtype=torch.float64)
    f = torch.tensor([1000.0, 1500.0, 800.0], dtype=torch.float64)
    c = torch.tensor([[400.0, 300.0], [960.0, 540.0], [200.0, 250.0]], dtype=torch.float64)
    uv = project_points(pts, t, f, c)
    z = (pts + t[:, None])[..., 2:3]
    back = torch.cat([(uv - c[:, None]) * z / f[:, None, None], z], -1) - t[:, None]
    torch.testing.assert_close(back, pts)
