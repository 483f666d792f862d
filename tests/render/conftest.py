"""Fixtures for the render tests: procedural meshes (no body model needed) and a slow pure-PyTorch
soft-silhouette reference to check the numba kernels against."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def icosphere(subdivisions: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere with outward (counter-clockwise seen from outside) winding.

    Returns:
        vertices (V, 3) float64, faces (F, 3) int64.
    """
    t = (1.0 + 5.0**0.5) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    v = [np.array(p, dtype=np.float64) / np.linalg.norm(p) for p in verts]

    def mid(a: int, b: int, cache: dict[tuple[int, int], int]) -> int:
        key = (min(a, b), max(a, b))
        if key not in cache:
            m = v[a] + v[b]
            v.append(m / np.linalg.norm(m))
            cache[key] = len(v) - 1
        return cache[key]

    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}
        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b, cache), mid(b, c, cache), mid(c, a, cache)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.stack(v), np.array(faces, dtype=np.int64)


def blob_body(seed: int = 0, subdivisions: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A lumpy, elongated closed mesh (a few thousand faces), roughly body-sized in metres."""
    rng = np.random.default_rng(seed)
    v, f = icosphere(subdivisions)
    k = rng.normal(size=(6, 3))
    bumps = 0.15 * np.sin(v @ k.T).sum(1) / 3.0
    v = v * (1.0 + bumps)[:, None]
    return v * np.array([0.35, 0.9, 0.2]), f


def reference_soft_silhouette(
    verts_2d: torch.Tensor,
    faces: torch.Tensor,
    height: int,
    width: int,
    sigma: float,
    cutoff: float,
) -> torch.Tensor:
    """Pure-PyTorch autograd version of ``lasor.render.silhouette`` (slow: all faces x pixels).

    Same definition as the numba kernels, including the truncation of ``D_f`` outside the face
    beyond ``d^2 > cutoff * sigma`` and of pixels outside the grown bounding box.
    """
    b = verts_2d.shape[0]
    dt = verts_2d.dtype
    jj, ii = torch.meshgrid(
        torch.arange(width, dtype=dt) + 0.5, torch.arange(height, dtype=dt) + 0.5, indexing="xy"
    )
    p = torch.stack([jj, ii], -1).reshape(1, 1, -1, 2)  # (1, 1, P, 2)
    tri = verts_2d[:, faces]  # (B, F, 3, 2)
    d2s, crosses = [], []
    for k in range(3):
        a = tri[:, :, k, None, :]
        e = tri[:, :, (k + 1) % 3, None, :] - a
        ap = p - a
        t = ((ap * e).sum(-1) / (e * e).sum(-1).clamp_min(1e-30)).clamp(0.0, 1.0)
        q = ap - t[..., None] * e
        d2s.append((q * q).sum(-1))
        crosses.append(e[..., 0] * ap[..., 1] - e[..., 1] * ap[..., 0])
    d2 = torch.stack(d2s, 0).min(0).values  # (B, F, P)
    e0 = tri[:, :, 1] - tri[:, :, 0]
    e1 = tri[:, :, 2] - tri[:, :, 0]
    area = (e0[..., 0] * e1[..., 1] - e0[..., 1] * e1[..., 0])[..., None]
    sgn = torch.where(area >= 0, 1.0, -1.0).to(dt)
    inside = (area != 0) & (sgn * crosses[0] > 0) & (sgn * crosses[1] > 0) & (sgn * crosses[2] > 0)
    radius = (cutoff * sigma) ** 0.5
    lo = tri.min(2).values[:, :, None, :] - radius  # (B, F, 1, 2)
    hi = tri.max(2).values[:, :, None, :] + radius
    in_box = ((p >= lo) & (p <= hi)).all(-1)
    keep = in_box & (inside | (d2 < cutoff * sigma))
    x = torch.where(inside, d2, -d2) / sigma
    log_one_minus = torch.where(keep, -torch.nn.functional.softplus(x), torch.zeros_like(x))
    return (1.0 - torch.exp(log_one_minus.sum(1))).reshape(b, height, width)


@pytest.fixture(scope="session")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere (162 vertices, 320 faces), outward winding."""
    return icosphere(2)


@pytest.fixture(scope="session")
def blob() -> tuple[np.ndarray, np.ndarray]:
    """A lumpy body-sized closed mesh (2562 vertices, 5120 faces)."""
    return blob_body()


@pytest.fixture(scope="session")
def make_icosphere():
    """The :func:`icosphere` builder (test modules cannot import conftest)."""
    return icosphere


@pytest.fixture(scope="session")
def reference_soft():
    """The pure-PyTorch :func:`reference_soft_silhouette`."""
    return reference_soft_silhouette
