"""Pictures of people: shaded meshes over photos, and side views. Pure CPU (numpy + numba).

Meshes are given in the camera frame (OpenCV: x right, y down, z forward, metres) and drawn with a
pinhole camera; several people share one z-buffer, so they occlude each other correctly. Faces are
flat-shaded (two-sided Lambert) in a distinct colour per person. For a weak-perspective camera,
get the camera-frame translation with :func:`lasor.render.camera.weak_perspective_to_perspective`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numba import njit
from PIL import Image

from lasor.render.rasterize import rasterize

__all__ = [
    "PERSON_COLORS",
    "MeshRender",
    "render_meshes",
    "render_overlay",
    "render_side_view",
    "save_png",
]

# Distinct, light colours (RGB in [0, 1]) cycled over people.
PERSON_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.65, 0.74, 0.86),  # blue-grey
    (0.93, 0.62, 0.55),  # salmon
    (0.62, 0.84, 0.62),  # green
    (0.92, 0.82, 0.50),  # sand
    (0.76, 0.64, 0.88),  # lilac
    (0.55, 0.82, 0.84),  # teal
)
_LIGHT = np.array([0.25, -0.45, -1.0]) / np.linalg.norm([0.25, -0.45, -1.0])  # towards the light
_AMBIENT = 0.35
_DIFFUSE = 0.65

ArrayLike = np.ndarray | torch.Tensor


@dataclass
class MeshRender:
    """A rendered layer, to composite over a background.

    Attributes:
        rgb: (H, W, 3) float32 colour in [0, 1] (premultiplied by ``alpha``).
        alpha: (H, W) float32 coverage in [0, 1].
        depth: (H, W) float32 nearest depth (+inf where empty), at the output resolution.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray


def _numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _people(
    vertices: ArrayLike | Sequence[ArrayLike], faces: ArrayLike | Sequence[ArrayLike]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge people into one mesh: vertices (V, 3), faces (F, 3), person index per face (F,)."""
    if isinstance(vertices, np.ndarray | torch.Tensor) and _numpy(vertices).ndim == 2:
        vertices = [vertices]
    verts = [_numpy(v).astype(np.float64).reshape(-1, 3) for v in vertices]
    if isinstance(faces, np.ndarray | torch.Tensor):
        faces = [faces] * len(verts)
    faces = [_numpy(f).astype(np.int64) for f in faces]
    if len(faces) != len(verts):
        raise ValueError(f"got {len(verts)} meshes but {len(faces)} face arrays")
    offsets = np.cumsum([0] + [len(v) for v in verts[:-1]])
    all_faces = np.concatenate([f + o for f, o in zip(faces, offsets, strict=True)])
    person = np.concatenate([np.full(len(f), k) for k, f in enumerate(faces)])
    return np.concatenate(verts), all_faces, person


def _face_colors(
    verts: np.ndarray, faces: np.ndarray, person: np.ndarray, colors: np.ndarray
) -> np.ndarray:
    """(F, 3) flat two-sided Lambert colours from camera-frame vertices."""
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    shade = _AMBIENT + _DIFFUSE * np.abs(n @ _LIGHT)
    return colors[person % len(colors)] * shade[:, None]


def _colors(colors: Sequence[Sequence[float]] | None) -> np.ndarray:
    c = np.asarray(PERSON_COLORS if colors is None else colors, dtype=np.float64).reshape(-1, 3)
    return c / 255.0 if c.max() > 1.0 else c


@njit(cache=True)
def _resolve_kernel(face_id, depth, face_rgb, k, rgb, alpha, out_depth, i0, j0):
    """Average k x k supersamples of a window into output pixels starting at (i0, j0)."""
    h, w = face_id.shape[0] // k, face_id.shape[1] // k
    inv = 1.0 / (k * k)
    for i in range(h):
        for j in range(w):
            r = 0.0
            g = 0.0
            b = 0.0
            n = 0
            z = np.inf
            for a in range(i * k, i * k + k):
                for c in range(j * k, j * k + k):
                    f = face_id[a, c]
                    if f >= 0:
                        r += face_rgb[f, 0]
                        g += face_rgb[f, 1]
                        b += face_rgb[f, 2]
                        n += 1
                        if depth[a, c] < z:
                            z = depth[a, c]
            if n > 0:
                rgb[i0 + i, j0 + j, 0] = r * inv
                rgb[i0 + i, j0 + j, 1] = g * inv
                rgb[i0 + i, j0 + j, 2] = b * inv
                alpha[i0 + i, j0 + j] = n * inv
                out_depth[i0 + i, j0 + j] = z


def _window(
    screen: np.ndarray, size_hw: tuple[int, int], k: int, perspective: bool, near: float
) -> tuple[int, int, int, int]:
    """Output-pixel rows [i0, i1) and columns [j0, j1) that the vertices can cover."""
    h, w = size_hw
    ok = np.isfinite(screen).all(1)
    if perspective:
        ok &= screen[:, 2] > near
    if not ok.any():
        return 0, 0, 0, 0
    lo = np.floor(screen[ok, :2].min(0) / k).astype(np.int64) - 1
    hi = np.ceil(screen[ok, :2].max(0) / k).astype(np.int64) + 1
    return (
        int(np.clip(lo[1], 0, h)), int(np.clip(hi[1], 0, h)),
        int(np.clip(lo[0], 0, w)), int(np.clip(hi[0], 0, w)),
    )  # fmt: skip


def _render_screen(
    screen: np.ndarray,
    faces: np.ndarray,
    face_rgb: np.ndarray,
    size_hw: tuple[int, int],
    supersample: int,
    perspective: bool,
    near: float = 1e-3,
) -> MeshRender:
    """Rasterize screen-space vertices (already scaled by ``supersample``) and resolve colours.

    Only the window of output pixels that the vertices' bounding box can touch is rasterized (a
    person in a large photo covers a fraction of it); shifting by whole output pixels keeps every
    sample position, so the result equals rasterizing the whole frame.
    """
    h, w = size_hw
    k = int(supersample)
    rgb = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    depth = np.full((h, w), np.inf, np.float32)
    i0, i1, j0, j1 = _window(screen, size_hw, k, perspective, near)
    if i1 > i0 and j1 > j0:
        shifted = screen - np.array([j0 * k, i0 * k, 0.0])
        frag = rasterize(
            shifted[None], faces, ((i1 - i0) * k, (j1 - j0) * k), perspective=perspective,
            near=near,
        )  # fmt: skip
        _resolve_kernel(
            frag.face_id[0].numpy(), frag.depth[0].numpy(), np.ascontiguousarray(face_rgb),
            k, rgb, alpha, depth, i0, j0,
        )  # fmt: skip
    return MeshRender(rgb=rgb, alpha=alpha, depth=depth)


def render_meshes(
    vertices: ArrayLike | Sequence[ArrayLike],
    faces: ArrayLike | Sequence[ArrayLike],
    image_size: tuple[int, int],
    focal_length: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    colors: Sequence[Sequence[float]] | None = None,
    supersample: int = 2,
) -> MeshRender:
    """Render people seen by a pinhole camera into a colour + alpha layer.

    Args:
        vertices: one mesh (V, 3), a batch (N, V, 3) sharing ``faces``, or a list of (V_k, 3);
            camera frame (x right, y down, z forward), metres.
        faces: (F, 3) shared by all people, or one array per person.
        image_size: (H, W) in pixels.
        focal_length: pixels, a float or (f_x, f_y).
        principal_point: (c_x, c_y) pixels; default the image centre.
        colors: RGB per person (0-1 or 0-255), cycled; default :data:`PERSON_COLORS`.
        supersample: render at this many times the resolution and average (anti-aliasing).

    Returns:
        :class:`MeshRender` at ``image_size``.
    """
    h, w = int(image_size[0]), int(image_size[1])
    verts, all_faces, person = _people(vertices, faces)
    fx, fy = np.broadcast_to(np.asarray(focal_length, dtype=np.float64), (2,))
    cx, cy = (w / 2.0, h / 2.0) if principal_point is None else principal_point
    k = int(supersample)
    z = verts[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        screen = np.stack([(fx * verts[:, 0] / z + cx) * k, (fy * verts[:, 1] / z + cy) * k, z], 1)
    face_rgb = _face_colors(verts, all_faces, person, _colors(colors))
    return _render_screen(screen, all_faces, face_rgb, (h, w), k, perspective=True)


def render_overlay(
    image: np.ndarray,
    vertices: ArrayLike | Sequence[ArrayLike],
    faces: ArrayLike | Sequence[ArrayLike],
    focal_length: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    colors: Sequence[Sequence[float]] | None = None,
    opacity: float = 0.85,
    supersample: int = 2,
) -> np.ndarray:
    """Shaded people composited over a photo.

    Args:
        image: (H, W, 3) uint8 RGB photo (not modified).
        vertices, faces, focal_length, principal_point, colors, supersample: as
            :func:`render_meshes`, with the photo's size.
        opacity: mesh opacity in [0, 1].

    Returns:
        (H, W, 3) uint8 RGB, a new array.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {img.shape}")
    layer = render_meshes(
        vertices, faces, img.shape[:2], focal_length, principal_point, colors, supersample
    )
    a = (opacity * layer.alpha)[..., None]
    out = img.astype(np.float32) * (1.0 - a) + opacity * layer.rgb * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def render_side_view(
    vertices: ArrayLike | Sequence[ArrayLike],
    faces: ArrayLike | Sequence[ArrayLike],
    image_size: int | tuple[int, int] = 512,
    angle_deg: float = 90.0,
    colors: Sequence[Sequence[float]] | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
    margin: float = 0.08,
    supersample: int = 2,
) -> np.ndarray:
    """People turned about the vertical axis through their centre, auto-framed, orthographic.

    Args:
        vertices, faces, colors, supersample: as :func:`render_meshes` (camera frame, y down).
        image_size: S or (H, W) of the output.
        angle_deg: rotation about the camera's vertical (y) axis; 90 shows the people's left
            side for camera-facing people.
        background: RGB of the plain background.
        margin: fraction of the image left free on each side.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    verts, all_faces, person = _people(vertices, faces)
    centre = 0.5 * (verts.min(0) + verts.max(0))
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    turned = (verts - centre) @ rot.T
    lo, hi = turned.min(0), turned.max(0)
    extent = np.maximum(hi - lo, 1e-9)
    scale = min(w * (1 - 2 * margin) / extent[0], h * (1 - 2 * margin) / extent[1])
    mid = 0.5 * (lo + hi)
    k = int(supersample)
    screen = np.stack(
        [
            ((turned[:, 0] - mid[0]) * scale + w / 2.0) * k,
            ((turned[:, 1] - mid[1]) * scale + h / 2.0) * k,
            turned[:, 2],
        ],
        1,
    )
    face_rgb = _face_colors(turned, all_faces, person, _colors(colors))
    layer = _render_screen(screen, all_faces, face_rgb, (h, w), k, perspective=False)
    bg = np.asarray(background, dtype=np.float32)[None, None, :]
    out = bg * (1.0 - layer.alpha[..., None]) + layer.rgb * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_png(path: str | Path, image: np.ndarray, compress_level: int = 1) -> None:
    """Write an (H, W, 3) or (H, W) uint8 image with Pillow (parent folders are created).

    ``compress_level`` 1 (fast) by default; Pillow's default 6 is several times slower on large
    images for slightly smaller files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=compress_level)
