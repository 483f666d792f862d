"""Differentiable silhouettes on the CPU: two methods, numba kernels with hand-written backward.

**SoftRas-style** (:func:`soft_silhouette`, exact gradient of a smooth image). Face ``f`` covers
pixel ``p`` with probability ``D_f(p) = sigmoid(delta d^2 / sigma)``: ``d`` is the distance (pixels)
from the pixel centre to the face's boundary, ``delta`` = +1 inside the face and -1 outside, and
``sigma`` (pixels^2) the softness. Faces aggregate as ``I(p) = 1 - prod_f (1 - D_f(p))``; all faces
count (front and back). Notes:

* The forward keeps ``P = prod_f (1 - D_f) = 1 - I``; then ``dI/dx_f = P D_f`` with ``x_f`` the
  sigmoid's argument, so the backward never divides by ``1 - D_f``.
* A face only touches pixel centres within its bounding box grown by ``sqrt(cutoff * sigma)``;
  outside the face, ``D_f`` is dropped where ``d^2 > cutoff * sigma`` (``sigmoid(-9)`` ~ 1e-4).
* ``d^2`` is the squared distance to the nearest edge segment; with ``q = a + t (b - a)`` the
  nearest point, ``d(d^2)/da = -2 (p - q)(1 - t)`` and ``d(d^2)/db = -2 (p - q) t``.
* Its cost grows with faces x (face size + 2 sqrt(cutoff sigma))^2 pixels, and with many faces per
  pixel the image is dilated by the summed tails (IoU of ``I > 0.5`` vs the hard silhouette ~0.8 for
  a 27k-face body at 64 px and sigma 0.1). Prefer a coarse mesh at low resolution.

**Exact forward, edge gradient** (:func:`edge_grad_silhouette`, fast): the forward is the hard
silhouette; the backward is the exact gradient of that silhouette blurred by a Gaussian, which only
involves the outline edges. See the function's docstring.

Pixel centres are at ``(j + 0.5, i + 0.5)`` as in :mod:`lasor.render.rasterize`. Kernels run in
float64 (SoftRas uses float32 ``exp`` for float32 inputs) and are parallel over the batch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from numba import njit, prange

from lasor.render.rasterize import _as_hw, _coverage_kernel, _faces_numpy

__all__ = [
    "EdgeGradSilhouette",
    "MeshEdges",
    "SoftSilhouette",
    "edge_grad_silhouette",
    "geometric_schedule",
    "mesh_edges",
    "soft_silhouette",
]

DEFAULT_SIGMA = 0.1
DEFAULT_CUTOFF = 9.0
# No "nnan"/"ninf": the kernels test for NaN and use -inf on purpose.
_FASTMATH = {"contract", "arcp", "nsz", "reassoc"}


@njit(cache=True, inline="always")
def _exp(x, fast):
    """exp(x); in single precision when ``fast`` (for float32 inputs, about 2x cheaper)."""
    if fast:
        return float(math.exp(np.float32(x)))
    return math.exp(x)


@njit(cache=True, inline="always")
def _window(x0, y0, x1, y1, x2, y2, radius, height, width):
    """Pixel index ranges whose centres lie within ``radius`` of the face's bounding box."""
    jmin = max(0, int(math.ceil(min(x0, x1, x2) - radius - 0.5)))
    jmax = min(width - 1, int(math.floor(max(x0, x1, x2) + radius - 0.5)))
    imin = max(0, int(math.ceil(min(y0, y1, y2) - radius - 0.5)))
    imax = min(height - 1, int(math.floor(max(y0, y1, y2) + radius - 0.5)))
    return imin, imax, jmin, jmax


@njit(cache=True, inline="always")
def _segment(qx, qy, ex, ey, il):
    """Squared distance from p to the segment a + t e, t in [0, 1], given q = p - a.

    Returns (d2, t, ux, uy) with (ux, uy) = p - (a + t e).
    """
    t = min(max((qx * ex + qy * ey) * il, 0.0), 1.0)
    ux = qx - t * ex
    uy = qy - t * ey
    return ux * ux + uy * uy, t, ux, uy


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _forward_kernel(verts, faces, height, width, sigma, cutoff, fast_exp, cull, prod):
    """prod[b, i, j] *= 1 - D_f(p) over faces f (prod must start at one)."""
    n_batch = verts.shape[0]
    n_faces = faces.shape[0]
    radius = math.sqrt(cutoff * sigma)
    d2_max = cutoff * sigma
    inv_sigma = 1.0 / sigma
    for b in prange(n_batch):
        for f in range(n_faces):
            x0 = verts[b, faces[f, 0], 0]
            y0 = verts[b, faces[f, 0], 1]
            x1 = verts[b, faces[f, 1], 0]
            y1 = verts[b, faces[f, 1], 1]
            x2 = verts[b, faces[f, 2], 0]
            y2 = verts[b, faces[f, 2], 1]
            area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
            if not abs(area) < 1e30:  # NaN / inf vertices
                continue
            if cull and area > 0.0:  # back face (outward winding)
                continue
            sgn = 1.0 if area > 0.0 else -1.0
            imin, imax, jmin, jmax = _window(x0, y0, x1, y1, x2, y2, radius, height, width)
            ex0 = x1 - x0
            ey0 = y1 - y0
            ex1 = x2 - x1
            ey1 = y2 - y1
            ex2 = x0 - x2
            ey2 = y0 - y2
            il0 = 1.0 / max(ex0 * ex0 + ey0 * ey0, 1e-30)
            il1 = 1.0 / max(ex1 * ex1 + ey1 * ey1, 1e-30)
            il2 = 1.0 / max(ex2 * ex2 + ey2 * ey2, 1e-30)
            for i in range(imin, imax + 1):
                py = i + 0.5
                for j in range(jmin, jmax + 1):
                    # Branch-free on purpose: the inside / outside / cut-off outcomes are
                    # unpredictable and mispredicted branches cost more than the arithmetic.
                    px = j + 0.5
                    qx0 = px - x0
                    qy0 = py - y0
                    qx1 = px - x1
                    qy1 = py - y1
                    qx2 = px - x2
                    qy2 = py - y2
                    inside = (
                        (sgn * (ex0 * qy0 - ey0 * qx0) > 0.0)
                        & (sgn * (ex1 * qy1 - ey1 * qx1) > 0.0)
                        & (sgn * (ex2 * qy2 - ey2 * qx2) > 0.0)
                        & (area != 0.0)
                    )
                    d0, _, _, _ = _segment(qx0, qy0, ex0, ey0, il0)
                    d1, _, _, _ = _segment(qx1, qy1, ex1, ey1, il1)
                    d2, _, _, _ = _segment(qx2, qy2, ex2, ey2, il2)
                    d = min(d0, min(d1, d2))
                    x = d * inv_sigma if inside else (-d * inv_sigma if d < d2_max else -math.inf)
                    # 1 - sigmoid(x) = 1 / (1 + exp(x)); x = -inf leaves the pixel unchanged.
                    prod[b, i, j] /= 1.0 + _exp(x, fast_exp)


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _backward_kernel(verts, faces, height, width, sigma, cutoff, fast_exp, cull, weight, grad):
    """grad[b, v] += dL/d(verts[b, v]) given weight = dL/dI * (1 - I) per pixel."""
    n_batch = verts.shape[0]
    n_faces = faces.shape[0]
    radius = math.sqrt(cutoff * sigma)
    d2_max = cutoff * sigma
    inv_sigma = 1.0 / sigma
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
            area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
            if not abs(area) < 1e30:
                continue
            if cull and area > 0.0:
                continue
            sgn = 1.0 if area > 0.0 else -1.0
            imin, imax, jmin, jmax = _window(x0, y0, x1, y1, x2, y2, radius, height, width)
            ex0 = x1 - x0
            ey0 = y1 - y0
            ex1 = x2 - x1
            ey1 = y2 - y1
            ex2 = x0 - x2
            ey2 = y0 - y2
            il0 = 1.0 / max(ex0 * ex0 + ey0 * ey0, 1e-30)
            il1 = 1.0 / max(ex1 * ex1 + ey1 * ey1, 1e-30)
            il2 = 1.0 / max(ex2 * ex2 + ey2 * ey2, 1e-30)
            g0x = 0.0
            g0y = 0.0
            g1x = 0.0
            g1y = 0.0
            g2x = 0.0
            g2y = 0.0
            for i in range(imin, imax + 1):
                py = i + 0.5
                for j in range(jmin, jmax + 1):
                    px = j + 0.5
                    qx0 = px - x0
                    qy0 = py - y0
                    qx1 = px - x1
                    qy1 = py - y1
                    qx2 = px - x2
                    qy2 = py - y2
                    inside = (
                        (sgn * (ex0 * qy0 - ey0 * qx0) > 0.0)
                        & (sgn * (ex1 * qy1 - ey1 * qx1) > 0.0)
                        & (sgn * (ex2 * qy2 - ey2 * qx2) > 0.0)
                        & (area != 0.0)
                    )
                    d0, t0, ux0, uy0 = _segment(qx0, qy0, ex0, ey0, il0)
                    d1, t1, ux1, uy1 = _segment(qx1, qy1, ex1, ey1, il1)
                    d2, t2, ux2, uy2 = _segment(qx2, qy2, ex2, ey2, il2)
                    # nearest edge, selected without branches
                    c1 = d1 < d0
                    d = d1 if c1 else d0
                    t = t1 if c1 else t0
                    ux = ux1 if c1 else ux0
                    uy = uy1 if c1 else uy0
                    c2 = d2 < d
                    d = d2 if c2 else d
                    t = t2 if c2 else t
                    ux = ux2 if c2 else ux
                    uy = uy2 if c2 else uy
                    m2 = 1.0 if c2 else 0.0
                    m1 = (1.0 - m2) if c1 else 0.0
                    m0 = 1.0 - m1 - m2
                    # dI/dx = (1 - I) D_f, D_f = sigmoid(x), x = +-d / sigma; dL/dd = +-w D / sigma
                    keep = inside | (d < d2_max)
                    dsig = inv_sigma if inside else -inv_sigma
                    x = d * dsig if keep else -math.inf
                    g = weight[b, i, j] * dsig / (1.0 + _exp(-x, fast_exp))
                    # d(d2)/da = -2 (p - q)(1 - t), d(d2)/db = -2 (p - q) t on edge a -> b
                    ga = -2.0 * g * (1.0 - t)
                    gb = -2.0 * g * t
                    w0 = ga * m0 + gb * m2
                    w1 = ga * m1 + gb * m0
                    w2 = ga * m2 + gb * m1
                    g0x += w0 * ux
                    g0y += w0 * uy
                    g1x += w1 * ux
                    g1y += w1 * uy
                    g2x += w2 * ux
                    g2y += w2 * uy
            grad[b, i0, 0] += g0x
            grad[b, i0, 1] += g0y
            grad[b, i1, 0] += g1x
            grad[b, i1, 1] += g1y
            grad[b, i2, 0] += g2x
            grad[b, i2, 1] += g2y


class SoftSilhouette(torch.autograd.Function):
    """Soft silhouette of 2D triangles; see the module docstring.

    ``SoftSilhouette.apply(verts_2d, faces, height, width, sigma, cutoff, cull_backfaces)`` with
    ``verts_2d`` (B, V, 2) pixels and ``faces`` (F, 3) returns (B, H, W) in the dtype of
    ``verts_2d``. Gradients flow to ``verts_2d`` only.
    """

    @staticmethod
    def forward(ctx, verts_2d, faces, height, width, sigma, cutoff, cull_backfaces):
        v = np.ascontiguousarray(verts_2d.detach().cpu().numpy(), dtype=np.float64)
        f = _faces_numpy(faces)
        one_minus = np.ones((v.shape[0], height, width), dtype=np.float64)  # 1 - I
        if f.shape[0] > 0 and v.shape[0] > 0:
            fast = verts_2d.dtype != torch.float64
            args = (float(sigma), float(cutoff), fast, bool(cull_backfaces))
            _forward_kernel(v, f, height, width, *args, one_minus)
        ctx.save_for_backward(verts_2d)
        ctx.numpy = (v, f, one_minus)
        ctx.params = (height, width, float(sigma), float(cutoff), bool(cull_backfaces))
        out = torch.from_numpy(1.0 - one_minus)
        return out.to(dtype=verts_2d.dtype, device=verts_2d.device)

    @staticmethod
    def backward(ctx, grad_out):
        (verts_2d,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None, None, None
        v, f, one_minus = ctx.numpy
        height, width, sigma, cutoff, cull = ctx.params
        weight = np.ascontiguousarray(grad_out.detach().cpu().numpy(), dtype=np.float64) * one_minus
        grad = np.zeros_like(v)
        if f.shape[0] > 0 and v.shape[0] > 0:
            fast = verts_2d.dtype != torch.float64
            _backward_kernel(v, f, height, width, sigma, cutoff, fast, cull, weight, grad)
        g = torch.from_numpy(grad).to(dtype=verts_2d.dtype, device=verts_2d.device)
        return g, None, None, None, None, None, None


def soft_silhouette(
    verts_screen: torch.Tensor,
    faces: torch.Tensor | np.ndarray,
    image_size: int | tuple[int, int],
    sigma: float = DEFAULT_SIGMA,
    cutoff: float = DEFAULT_CUTOFF,
    cull_backfaces: bool = False,
) -> torch.Tensor:
    """Differentiable soft silhouette of a batch of meshes sharing one topology.

    Args:
        verts_screen: (B, V, 2) or (B, V, 3) screen-space vertices; the first two columns are
            pixels (u right, v down), any depth column is ignored (and gets zero gradient).
        faces: (F, 3) integer vertex indices.
        image_size: ``S`` or ``(H, W)``.
        sigma: softness in pixels^2; smaller is sharper (the hard silhouette as sigma -> 0).
        cutoff: drop a face's influence where ``d^2 / sigma`` exceeds this outside the face.
        cull_backfaces: use only faces turned towards the camera (outward, counter-clockwise
            winding; negative signed area in pixel coordinates). About 1.5x faster for a body; a
            closed mesh's front faces cover its silhouette, but a face's tail appears or vanishes
            abruptly when it turns, so the image is no longer continuous in the vertices.

    Returns:
        (B, H, W) coverage in [0, 1], dtype of ``verts_screen``.
    """
    if verts_screen.dim() != 3 or verts_screen.shape[-1] not in (2, 3):
        raise ValueError(f"verts_screen must be (B, V, 2|3), got {tuple(verts_screen.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    h, w = _as_hw(image_size)
    return SoftSilhouette.apply(verts_screen[..., :2], faces, h, w, sigma, cutoff, cull_backfaces)


# ---------------------------------------------------------------------------------------------
# Exact silhouette, approximate ("edge") gradient


@dataclass(frozen=True)
class MeshEdges:
    """Unique edges of a triangle mesh with the third vertex of their (up to two) faces.

    Attributes:
        edges: (E, 2) int64 vertex indices.
        opposite: (E, 2) int64 third vertex of the first and second face on each edge, -1 when the
            edge has a single face (an open boundary). Faces beyond two (non-manifold) are ignored.
    """

    edges: np.ndarray
    opposite: np.ndarray


def mesh_edges(faces: torch.Tensor | np.ndarray) -> MeshEdges:
    """Edges of ``faces`` (F, 3) and their opposite vertices; cached per topology."""
    f = _faces_numpy(faces)
    return _mesh_edges_cached(f.tobytes(), f.shape[0])


@functools.lru_cache(maxsize=8)
def _mesh_edges_cached(buf: bytes, n_faces: int) -> MeshEdges:
    f = np.frombuffer(buf, dtype=np.int64).reshape(n_faces, 3)
    half = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    opp = np.concatenate([f[:, 2], f[:, 0], f[:, 1]])
    lo = half.min(1)
    hi = half.max(1)
    key = lo * (int(f.max(initial=0)) + 1) + hi
    order = np.argsort(key, kind="stable")
    k = key[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    edge_index = np.cumsum(first) - 1
    second = np.zeros(len(k), dtype=bool)
    second[1:] = ~first[1:] & first[:-1]
    n_edges = int(first.sum())
    edges = np.stack([lo[order][first], hi[order][first]], 1)
    opposite = np.full((n_edges, 2), -1, dtype=np.int64)
    opposite[edge_index[first], 0] = opp[order][first]
    opposite[edge_index[second], 1] = opp[order][second]
    edges.setflags(write=False)
    opposite.setflags(write=False)
    return MeshEdges(edges=edges, opposite=opposite)


@njit(cache=True, parallel=True)
def _blur_kernel(img, kern, out):
    """Separable convolution of (B, H, W) images with a symmetric 1D kernel, zero outside."""
    n_batch, height, width = img.shape
    r = (kern.shape[0] - 1) // 2
    for b in prange(n_batch):
        tmp = np.zeros((height, width))
        for i in range(height):
            for j in range(width):
                acc = 0.0
                for k in range(max(-r, -j), min(r, width - 1 - j) + 1):
                    acc += kern[k + r] * img[b, i, j + k]
                tmp[i, j] = acc
        for i in range(height):
            for j in range(width):
                acc = 0.0
                for k in range(max(-r, -i), min(r, height - 1 - i) + 1):
                    acc += kern[k + r] * tmp[i + k, j]
                out[b, i, j] = acc


@njit(cache=True, inline="always")
def _bilinear(img, b, x, y, height, width):
    """Bilinear interpolation of img[b] sampled at pixel centres, zero outside the image."""
    fx = x - 0.5
    fy = y - 0.5
    j0 = int(math.floor(fx))
    i0 = int(math.floor(fy))
    ax = fx - j0
    ay = fy - i0
    val = 0.0
    for di in range(2):
        i = i0 + di
        if i < 0 or i >= height:
            continue
        wy = ay if di == 1 else 1.0 - ay
        for dj in range(2):
            j = j0 + dj
            if j < 0 or j >= width:
                continue
            wx = ax if dj == 1 else 1.0 - ax
            val += wx * wy * img[b, i, j]
    return val


@njit(cache=True, parallel=True)
def _edge_grad_kernel(verts, edges, opposite, mask, blurred, probe, grad):
    """grad[b, v] += dL/dv from the silhouette outline edges (see ``edge_grad_silhouette``)."""
    n_batch, height, width = mask.shape
    n_edges = edges.shape[0]
    for b in prange(n_batch):
        for e in range(n_edges):
            ia = edges[e, 0]
            ib = edges[e, 1]
            ax = verts[b, ia, 0]
            ay = verts[b, ia, 1]
            ex = verts[b, ib, 0] - ax
            ey = verts[b, ib, 1] - ay
            len2 = ex * ex + ey * ey
            if not (len2 > 0.0 and len2 < 1e30):
                continue
            # A contour edge has all its faces on one side in the image (a fold or an open border);
            # a face seen exactly edge-on (side 0) counts as on either side.
            c = opposite[e, 0]
            side = ex * (verts[b, c, 1] - ay) - ey * (verts[b, c, 0] - ax)
            c = opposite[e, 1]
            if c >= 0:
                side2 = ex * (verts[b, c, 1] - ay) - ey * (verts[b, c, 0] - ax)
                if side * side2 < 0.0 or not side * side2 >= 0.0:  # opposite sides, or NaN
                    continue
                if side == 0.0:
                    side = side2
            if side == 0.0:
                continue
            length = math.sqrt(len2)
            sg = 1.0 if side > 0.0 else -1.0
            nx = sg * ey / length  # unit normal pointing away from the faces
            ny = -sg * ex / length
            # Keep only outline edges: the pixel just outside the edge's midpoint is uncovered.
            pj = int(math.floor(ax + 0.5 * ex + probe * nx))
            pi = int(math.floor(ay + 0.5 * ey + probe * ny))
            if 0 <= pi < height and 0 <= pj < width and mask[b, pi, pj] != 0:
                continue
            n_samples = max(1, int(math.ceil(length * 2.0)))
            seg = length / n_samples
            ga = 0.0
            gb = 0.0
            for k in range(n_samples):
                t = (k + 0.5) / n_samples
                val = seg * _bilinear(blurred, b, ax + t * ex, ay + t * ey, height, width)
                ga += val * (1.0 - t)
                gb += val * t
            grad[b, ia, 0] += ga * nx
            grad[b, ia, 1] += ga * ny
            grad[b, ib, 0] += gb * nx
            grad[b, ib, 1] += gb * ny


def _gaussian_kernel(tau: float) -> np.ndarray:
    if tau <= 0.0:
        return np.ones(1)
    r = max(1, int(math.ceil(3.0 * tau)))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / tau) ** 2)
    return k / k.sum()


class EdgeGradSilhouette(torch.autograd.Function):
    """Exact (hard) silhouette whose backward is the gradient of a blurred silhouette.

    ``EdgeGradSilhouette.apply(verts_2d, faces, height, width, tau, probe)``; see
    :func:`edge_grad_silhouette`.
    """

    @staticmethod
    def forward(ctx, verts_2d, faces, height, width, tau, probe):
        v = np.ascontiguousarray(verts_2d.detach().cpu().numpy(), dtype=np.float64)
        f = _faces_numpy(faces)
        mask = np.zeros((v.shape[0], height, width), dtype=np.uint8)
        if f.shape[0] > 0 and v.shape[0] > 0:
            _coverage_kernel(v, f, height, width, mask)
        ctx.save_for_backward(verts_2d)
        ctx.numpy = (v, f, mask)
        ctx.params = (float(tau), float(probe))
        return torch.from_numpy(mask).to(dtype=verts_2d.dtype, device=verts_2d.device)

    @staticmethod
    def backward(ctx, grad_out):
        (verts_2d,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None, None
        v, f, mask = ctx.numpy
        tau, probe = ctx.params
        g = np.ascontiguousarray(grad_out.detach().cpu().numpy(), dtype=np.float64)
        blurred = np.empty_like(g)
        _blur_kernel(g, _gaussian_kernel(tau), blurred)
        grad = np.zeros_like(v)
        if f.shape[0] > 0 and v.shape[0] > 0:
            e = mesh_edges(f)
            _edge_grad_kernel(v, e.edges, e.opposite, mask, blurred, probe, grad)
        out = torch.from_numpy(grad).to(dtype=verts_2d.dtype, device=verts_2d.device)
        return out, None, None, None, None, None


def edge_grad_silhouette(
    verts_screen: torch.Tensor,
    faces: torch.Tensor | np.ndarray,
    image_size: int | tuple[int, int],
    tau: float = 1.0,
    probe: float = 1.0,
) -> torch.Tensor:
    """Exact silhouette forward, approximate gradient (in the spirit of NMR). Fast.

    The forward is the hard silhouette (pixel centres, as :func:`rasterize_silhouette`), so it has
    no dilation and no interior artefacts. The backward is the exact gradient of the silhouette
    blurred by a Gaussian of std ``tau`` pixels (and sampled bilinearly): moving an outline edge
    along its outward normal ``n`` changes pixel ``p`` by ``integral K(p - y) n`` over the edge.
    It is evaluated as ``K * (dL/dI)`` (one separable blur per image) sampled along the outline
    edges only: contour edges (all adjacent faces on one side) whose outside, ``probe`` pixels
    beyond the midpoint, is uncovered. Work is O(H W tau + edges) per image, so large ``tau`` (long
    reach for fitting from far away) costs little. Use a loss with zero gradient at matched hard
    pixels (MSE, L1), not BCE on the hard values.

    Args:
        verts_screen: (B, V, 2) or (B, V, 3) screen-space vertices (pixels; depth ignored).
        faces: (F, 3) integer vertex indices (a consistently connected mesh; winding does not
            matter).
        image_size: ``S`` or ``(H, W)``.
        tau: gradient blur (std, pixels); 0 spreads each edge only to its 4 nearest pixels.
        probe: distance (pixels) outside an edge at which coverage is tested.

    Returns:
        (B, H, W) silhouette in {0, 1}, dtype of ``verts_screen``.
    """
    if verts_screen.dim() != 3 or verts_screen.shape[-1] not in (2, 3):
        raise ValueError(f"verts_screen must be (B, V, 2|3), got {tuple(verts_screen.shape)}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    h, w = _as_hw(image_size)
    return EdgeGradSilhouette.apply(verts_screen[..., :2], faces, h, w, tau, probe)


def geometric_schedule(step: int, num_steps: int, start: float, end: float) -> float:
    """Geometric decay from ``start`` to ``end`` over ``num_steps`` (then ``end``).

    For ``sigma`` / ``tau``: fitting with a fixed small value stalls (gradients reach only ~1 px);
    starting soft and sharpening converges.
    """
    if num_steps <= 1:
        return float(end)
    a = min(max(step / (num_steps - 1), 0.0), 1.0)
    return float(start * (end / start) ** a)
