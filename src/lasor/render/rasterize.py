"""Hard (non-differentiable) rasterization of batched triangle meshes on the CPU.

Used to make synthetic training data (silhouettes, part labels), to test visibility, and for
pictures. Input is screen space ``(u, v, depth)`` as returned by :mod:`lasor.render.camera`.

Sampling convention: pixel ``(i, j)`` (row, column) is covered by a triangle when its centre
``(j + 0.5, i + 0.5)`` is inside; centres exactly on an edge follow the top-left rule, so a closed
fan of triangles covers every pixel exactly once (no gaps, no double counting on shared edges).
Edge functions are evaluated with a canonical endpoint order, making the two triangles that share
an edge see bit-identical (negated) values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numba import njit, prange

__all__ = ["Fragments", "points_visible", "rasterize", "rasterize_silhouette"]


@dataclass
class Fragments:
    """Per-pixel result of :func:`rasterize`.

    Attributes:
        face_id: (B, H, W) int32 index of the nearest face covering the pixel centre, -1 if none.
        depth: (B, H, W) float32 depth of that face at the pixel centre, +inf if none.
    """

    face_id: torch.Tensor
    depth: torch.Tensor

    @property
    def silhouette(self) -> torch.Tensor:
        """(B, H, W) bool: pixels covered by any face."""
        return self.face_id >= 0

    def labels(self, face_labels: torch.Tensor | np.ndarray, background: int = -1) -> torch.Tensor:
        """Per-pixel labels (e.g. body parts) from a per-face label array.

        Args:
            face_labels: (F,) integer label of each face.
            background: value for uncovered pixels.

        Returns:
            (B, H, W) int64 labels.
        """
        lab = torch.as_tensor(np.asarray(face_labels), dtype=torch.int64)
        fid = self.face_id.long()
        out = lab[fid.clamp_min(0)]
        return torch.where(fid >= 0, out, torch.full_like(out, background))


def _as_hw(image_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(image_size, int | np.integer):
        return int(image_size), int(image_size)
    h, w = image_size
    return int(h), int(w)


def _numpy_screen(verts_screen: torch.Tensor | np.ndarray, dtype=np.float64) -> np.ndarray:
    """(B, V, 2 or 3) tensor/array -> C-contiguous numpy array (detached) of ``dtype``."""
    if isinstance(verts_screen, torch.Tensor):
        verts_screen = verts_screen.detach().cpu().numpy()
    return np.ascontiguousarray(verts_screen, dtype=dtype)


def _faces_numpy(faces: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(faces, torch.Tensor):
        faces = faces.detach().cpu().numpy()
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {faces.shape}")
    return faces


@njit(cache=True, inline="always")
def _top_left(dx, dy):
    """Top-left rule for a directed edge of a positively oriented triangle (y down)."""
    return dy < 0.0 or (dy == 0.0 and dx > 0.0)


@njit(cache=True, inline="always")
def _edge_setup(ax, ay, bx, by):
    """Directed edge a->b of a positively oriented face, for :func:`_inside`.

    Returns the end points in canonical (lexicographic) order, the sign that restores a->b, and
    whether the edge is top-left. Both faces sharing an edge then compute bit-identical values.
    """
    tl = _top_left(bx - ax, by - ay)
    if ax < bx or (ax == bx and ay < by):
        return ax, ay, bx, by, 1.0, tl
    return bx, by, ax, ay, -1.0, tl


@njit(cache=True, inline="always")
def _inside(edge, px, py):
    """Edge function at p (> 0 inside) and whether p counts as inside (top-left rule on 0)."""
    ax, ay, bx, by, sign, tl = edge
    e = sign * ((bx - ax) * (py - ay) - (by - ay) * (px - ax))
    return e, e > 0.0 or (e == 0.0 and tl)


@njit(cache=True, inline="always")
def _setup(x0, y0, x1, y1, x2, y2, height, width):
    """Signed doubled area and the pixel index ranges whose centres the bounding box holds."""
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    jmin = max(0, int(np.ceil(min(x0, x1, x2) - 0.5)))
    jmax = min(width - 1, int(np.floor(max(x0, x1, x2) - 0.5)))
    imin = max(0, int(np.ceil(min(y0, y1, y2) - 0.5)))
    imax = min(height - 1, int(np.floor(max(y0, y1, y2) - 0.5)))
    return area, imin, imax, jmin, jmax


@njit(cache=True, inline="always")
def _covers(edge0, edge1, edge2, px, py):
    """Edge functions (e0, e1, e2) at p and whether p is covered.

    ``edge0`` is the face's edge 1->2 (opposite vertex 0), ``edge1`` 2->0, ``edge2`` 0->1.
    """
    e0, in0 = _inside(edge0, px, py)
    if not in0:
        return 0.0, 0.0, 0.0, False
    e1, in1 = _inside(edge1, px, py)
    if not in1:
        return 0.0, 0.0, 0.0, False
    e2, in2 = _inside(edge2, px, py)
    return e0, e1, e2, in2


@njit(cache=True, parallel=True)
def _rasterize_kernel(verts, faces, height, width, perspective, near, cull, face_id, depth):
    n_batch = verts.shape[0]
    n_faces = faces.shape[0]
    for b in prange(n_batch):
        for f in range(n_faces):
            i0 = faces[f, 0]
            i1 = faces[f, 1]
            i2 = faces[f, 2]
            x0 = verts[b, i0, 0]
            y0 = verts[b, i0, 1]
            x1 = verts[b, i1, 0]
            y1 = verts[b, i1, 1]
            x2 = verts[b, i2, 0]
            y2 = verts[b, i2, 1]
            area, imin, imax, jmin, jmax = _setup(x0, y0, x1, y1, x2, y2, height, width)
            if jmin > jmax or imin > imax:  # no pixel centre in the bounding box (most faces)
                continue
            if not (area != 0.0 and abs(area) < 1e30):  # also rejects NaN / inf
                continue
            # area < 0: the face points at the camera (counter-clockwise seen from outside).
            if cull == 1 and area > 0.0:
                continue
            z0 = verts[b, i0, 2]
            z1 = verts[b, i1, 2]
            z2 = verts[b, i2, 2]
            if perspective and (z0 <= near or z1 <= near or z2 <= near):
                continue
            if area < 0.0:  # orient positively: swap vertices 1 and 2
                x1, x2 = x2, x1
                y1, y2 = y2, y1
                z1, z2 = z2, z1
                area = -area
            edge0 = _edge_setup(x1, y1, x2, y2)
            edge1 = _edge_setup(x2, y2, x0, y0)
            edge2 = _edge_setup(x0, y0, x1, y1)
            inv_area = 1.0 / area
            if perspective:
                z0 = 1.0 / z0
                z1 = 1.0 / z1
                z2 = 1.0 / z2
            for i in range(imin, imax + 1):
                py = i + 0.5
                for j in range(jmin, jmax + 1):
                    e0, e1, e2, hit = _covers(edge0, edge1, edge2, j + 0.5, py)
                    if not hit:
                        continue
                    z = (e0 * z0 + e1 * z1 + e2 * z2) * inv_area
                    if perspective:
                        z = 1.0 / z
                    if z < depth[b, i, j]:
                        depth[b, i, j] = z
                        face_id[b, i, j] = f


@njit(cache=True, parallel=True)
def _coverage_kernel(verts, faces, height, width, mask):
    """mask[b, i, j] = 1 where any face covers the pixel centre (no depth test)."""
    n_batch = verts.shape[0]
    n_faces = faces.shape[0]
    for b in prange(n_batch):
        for f in range(n_faces):
            x0 = verts[b, faces[f, 0], 0]
            y0 = verts[b, faces[f, 0], 1]
            x1 = verts[b, faces[f, 1], 0]
            y1 = verts[b, faces[f, 1], 1]
            x2 = verts[b, faces[f, 2], 0]
            y2 = verts[b, faces[f, 2], 1]
            area, imin, imax, jmin, jmax = _setup(x0, y0, x1, y1, x2, y2, height, width)
            if jmin > jmax or imin > imax:
                continue
            if not (area != 0.0 and abs(area) < 1e30):
                continue
            if area < 0.0:
                x1, x2 = x2, x1
                y1, y2 = y2, y1
            edge0 = _edge_setup(x1, y1, x2, y2)
            edge1 = _edge_setup(x2, y2, x0, y0)
            edge2 = _edge_setup(x0, y0, x1, y1)
            for i in range(imin, imax + 1):
                py = i + 0.5
                for j in range(jmin, jmax + 1):
                    if mask[b, i, j]:
                        continue
                    _, _, _, hit = _covers(edge0, edge1, edge2, j + 0.5, py)
                    if hit:
                        mask[b, i, j] = 1


def rasterize(
    verts_screen: torch.Tensor | np.ndarray,
    faces: torch.Tensor | np.ndarray,
    image_size: int | tuple[int, int],
    *,
    perspective: bool = False,
    near: float = 1e-3,
    cull_backfaces: bool = False,
) -> Fragments:
    """Z-buffered hard rasterization of a batch of meshes sharing one topology.

    Args:
        verts_screen: (B, V, 3) ``(u, v, depth)``: pixels (u right, v down) and depth (smaller is
            nearer), e.g. from :func:`lasor.render.camera.weak_perspective_project`.
        faces: (F, 3) integer vertex indices.
        image_size: ``S`` for an S x S image or ``(H, W)``.
        perspective: depth is a pinhole camera's z: interpolate 1/z (perspective-correct) and drop
            faces with a vertex nearer than ``near``. False (weak perspective / orthographic):
            depth is interpolated linearly and may be negative.
        near: near-plane distance for ``perspective``.
        cull_backfaces: skip faces whose outward side (counter-clockwise winding when seen from
            outside) points away from the camera. Not needed for silhouettes.

    Returns:
        :class:`Fragments` with (B, H, W) ``face_id`` and ``depth`` (CPU tensors).
    """
    v = _numpy_screen(verts_screen)
    if v.ndim != 3 or v.shape[2] != 3:
        raise ValueError(f"verts_screen must be (B, V, 3), got {v.shape}")
    f = _faces_numpy(faces)
    h, w = _as_hw(image_size)
    face_id = np.full((v.shape[0], h, w), -1, dtype=np.int32)
    depth = np.full((v.shape[0], h, w), np.inf, dtype=np.float32)
    if f.shape[0] > 0 and v.shape[0] > 0:
        cull = 1 if cull_backfaces else 0
        _rasterize_kernel(v, f, h, w, bool(perspective), float(near), cull, face_id, depth)
    return Fragments(face_id=torch.from_numpy(face_id), depth=torch.from_numpy(depth))


def rasterize_silhouette(
    verts_screen: torch.Tensor | np.ndarray,
    faces: torch.Tensor | np.ndarray,
    image_size: int | tuple[int, int],
) -> torch.Tensor:
    """Hard silhouette only (no depth test): faster than ``rasterize(...).silhouette``.

    Args:
        verts_screen: (B, V, 2 or 3) screen-space vertices (pixels; any depth column is ignored).
        faces: (F, 3) integer vertex indices.
        image_size: ``S`` or ``(H, W)``.

    Returns:
        (B, H, W) bool CPU tensor, identical to ``rasterize(...).silhouette``.
    """
    v = _numpy_screen(verts_screen)
    if v.ndim != 3 or v.shape[2] not in (2, 3):
        raise ValueError(f"verts_screen must be (B, V, 2|3), got {v.shape}")
    f = _faces_numpy(faces)
    h, w = _as_hw(image_size)
    mask = np.zeros((v.shape[0], h, w), dtype=np.uint8)
    if f.shape[0] > 0 and v.shape[0] > 0:
        _coverage_kernel(v, f, h, w, mask)
    return torch.from_numpy(mask.view(np.bool_))


def points_visible(
    points_screen: torch.Tensor | np.ndarray,
    depth: torch.Tensor | np.ndarray,
    tolerance: float = 0.02,
) -> torch.Tensor:
    """Which points are visible given a depth buffer (e.g. joints hidden behind the body).

    A point is visible when it projects inside the image and is not farther than the depth
    buffer at its pixel by more than ``tolerance`` (an uncovered pixel has depth +inf).

    Args:
        points_screen: (B, N, 3) ``(u, v, depth)`` in the same screen space as the depth buffer.
        depth: (B, H, W) depth buffer from :func:`rasterize`.
        tolerance: depth slack in depth units (metres for the cameras in ``lasor.render.camera``).
            Points behind a pinhole camera (depth <= 0) are not special-cased.

    Returns:
        (B, N) bool, on the CPU.
    """
    p = torch.as_tensor(_numpy_screen(points_screen))
    d = torch.as_tensor(
        np.asarray(depth.detach().cpu() if isinstance(depth, torch.Tensor) else depth)
    )
    b, h, w = d.shape
    col = torch.floor(p[..., 0]).long()
    row = torch.floor(p[..., 1]).long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h) & torch.isfinite(p).all(-1)
    flat = (row.clamp(0, h - 1) * w + col.clamp(0, w - 1)).reshape(b, -1)
    zbuf = torch.gather(d.reshape(b, -1).double(), 1, flat).reshape(p.shape[:2])
    return inside & (p[..., 2] <= zbuf + tolerance)
