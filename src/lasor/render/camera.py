"""Cameras as pure, batched, differentiable functions.

Conventions:

* **Camera frame** (OpenCV): x right, y down, z forward (into the scene), metres. The body model's
  frame is Y up facing +Z, so a camera-facing upright person has ``global_orient`` = 180 degrees
  about X (as in SPIN).
* **Screen space**: every projection returns ``(B, N, 3)`` with columns ``(u, v, depth)``: pixel
  coordinates (u right, v down; pixel ``(i, j)`` has its centre at ``(u, v) = (j + 0.5, i + 0.5)``)
  and the camera-frame depth Z used for z-buffering. This is what the rasterizers consume.
* **Weak perspective** ``cam = (s, tx, ty)`` as in STRAPS/SPIN: ``x_ndc = s * (X + tx)``,
  ``y_ndc = s * (Y + ty)`` with NDC in [-1, 1] spanning the square image and
  ``pixel = (ndc + 1) * size / 2``.
* **Perspective**: focal length and principal point in pixels, ``u = f_x * X / Z + c_x``.
"""

from __future__ import annotations

import torch

__all__ = [
    "ndc_to_pixels",
    "perspective_project",
    "perspective_to_weak_perspective",
    "pixels_to_ndc",
    "weak_perspective_project",
    "weak_perspective_to_perspective",
]


def ndc_to_pixels(ndc: torch.Tensor, image_size: int) -> torch.Tensor:
    """Map NDC in [-1, 1] to pixel coordinates of a square image: ``(ndc + 1) * size / 2``."""
    return (ndc + 1.0) * (0.5 * image_size)


def pixels_to_ndc(pixels: torch.Tensor, image_size: int) -> torch.Tensor:
    """Inverse of :func:`ndc_to_pixels`."""
    return pixels * (2.0 / image_size) - 1.0


def weak_perspective_project(
    points: torch.Tensor, cam: torch.Tensor, image_size: int
) -> torch.Tensor:
    """Weak-perspective (scaled orthographic) projection to screen space.

    Args:
        points: (B, N, 3) camera-frame points (x right, y down, z forward).
        cam: (B, 3) weak-perspective camera ``(s, tx, ty)``; NDC ``s * (X + tx)``.
        image_size: side of the square image in pixels.

    Returns:
        (B, N, 3) ``(u, v, depth)``: pixels and the camera-frame Z of each point.
    """
    s = cam[:, None, 0:1]
    ndc = s * (points[..., :2] + cam[:, None, 1:3])
    return torch.cat([ndc_to_pixels(ndc, image_size), points[..., 2:3]], dim=-1)


def perspective_project(
    points: torch.Tensor,
    focal_length: torch.Tensor | float,
    principal_point: torch.Tensor | tuple[float, float],
    translation: torch.Tensor | None = None,
    rotation: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pinhole projection to screen space.

    The camera-frame point is ``R @ X + t``; then ``u = f_x x / z + c_x``, ``v = f_y y / z + c_y``.

    Args:
        points: (B, N, 3) points (metres).
        focal_length: pixels; a float, (B,) or (B, 2) for ``(f_x, f_y)``.
        principal_point: pixels; (2,) or (B, 2) ``(c_x, c_y)``.
        translation: (B, 3) added after the rotation, or None.
        rotation: (B, 3, 3) applied first, or None.

    Returns:
        (B, N, 3) ``(u, v, depth)`` with depth the camera-frame z.
    """
    b = points.shape[0]
    if rotation is not None:
        points = points @ rotation.transpose(-1, -2)
    if translation is not None:
        points = points + translation[:, None, :]
    f = torch.as_tensor(focal_length, dtype=points.dtype, device=points.device)
    if f.dim() == 0:
        f = f.expand(b)
    if f.dim() == 1:
        f = f[:, None].expand(b, 2)
    c = torch.as_tensor(principal_point, dtype=points.dtype, device=points.device)
    if c.dim() == 1:
        c = c[None].expand(b, 2)
    z = points[..., 2:3]
    uv = f[:, None, :] * points[..., :2] / z + c[:, None, :]
    return torch.cat([uv, z], dim=-1)


def weak_perspective_to_perspective(
    cam: torch.Tensor, focal_length: float | torch.Tensor, image_size: int
) -> torch.Tensor:
    """Translation of a pinhole camera equivalent to a weak-perspective camera (SPIN convention).

    With the principal point at the image centre, the pinhole camera with translation
    ``(tx, ty, 2 f / (s * size))`` projects the body origin's neighbourhood like ``(s, tx, ty)``.

    Args:
        cam: (B, 3) ``(s, tx, ty)``.
        focal_length: pixels, a float or (B,).
        image_size: side of the square image in pixels.

    Returns:
        (B, 3) camera translation in metres.
    """
    f = torch.as_tensor(focal_length, dtype=cam.dtype, device=cam.device)
    tz = 2.0 * f / (cam[:, 0] * image_size).clamp_min(1e-9)
    return torch.stack([cam[:, 1], cam[:, 2], tz], dim=-1)


def perspective_to_weak_perspective(
    translation: torch.Tensor, focal_length: float | torch.Tensor, image_size: int
) -> torch.Tensor:
    """Inverse of :func:`weak_perspective_to_perspective`: (B, 3) translation -> (B, 3) cam."""
    f = torch.as_tensor(focal_length, dtype=translation.dtype, device=translation.device)
    s = 2.0 * f / (translation[:, 2] * image_size)
    return torch.stack([s, translation[:, 0], translation[:, 1]], dim=-1)
