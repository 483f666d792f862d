"""Object occluders: random 2D shapes laid over the person (always in front of them)."""

from __future__ import annotations

import numpy as np


def _grid(res: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.arange(res, dtype=np.float32) + 0.5
    return np.meshgrid(c, c)  # x (cols), y (rows)


def random_object_mask(
    res: int, centre: np.ndarray, rng: np.random.Generator, size_range=(0.15, 0.55)
) -> np.ndarray:
    """One random occluding object: an ellipse, a rotated bar, or a convex polygon.

    Args:
        res: image side in pixels.
        centre: (2,) pixel position the object is centred near (e.g. a body point).
        size_range: object extent as a fraction of ``res``.

    Returns:
        (res, res) bool mask.
    """
    x, y = _grid(res)
    size = rng.uniform(*size_range) * res
    cx, cy = centre + rng.normal(0, 0.08 * res, 2)
    theta = rng.uniform(0, np.pi)
    c, s = np.cos(theta), np.sin(theta)
    u = (x - cx) * c + (y - cy) * s
    v = -(x - cx) * s + (y - cy) * c
    kind = rng.integers(3)
    if kind == 0:  # ellipse
        a = size / 2
        b = a * rng.uniform(0.3, 1.0)
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    if kind == 1:  # bar (e.g. a pole, a table edge), long and thin
        length = size * rng.uniform(1.5, 3.0)
        width = size * rng.uniform(0.15, 0.4)
        return (np.abs(u) <= length / 2) & (np.abs(v) <= width / 2)
    # convex polygon: intersection of half-planes through points on a circle
    k = int(rng.integers(4, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    px = np.cos(angles) * size / 2
    py = np.sin(angles) * size / 2
    inside = np.ones_like(u, dtype=bool)
    for i in range(k):
        x0, y0, x1, y1 = px[i], py[i], px[(i + 1) % k], py[(i + 1) % k]
        inside &= (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0
    return inside
