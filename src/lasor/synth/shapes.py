"""Body-shape sampling over the body model's shape space."""

from __future__ import annotations

import numpy as np

#: Anny phenotype ranges sampled for training (uniform): the full adult range of every value.
#: Age anchors: 1/3 child, 2/3 young adult, 1 old; 0.55 is about 18 years.
ANNY_SHAPE_RANGES: dict[str, tuple[float, float]] = {
    "gender": (0.0, 1.0),
    "age": (0.55, 1.0),
    "muscle": (0.0, 1.0),
    "weight": (0.0, 1.0),
    "height": (0.0, 1.0),
    "proportions": (0.0, 1.0),
}


def sample_shapes(
    n: int, shape_names: list[str], rng: np.random.Generator, betas_std: float = 1.25
) -> np.ndarray:
    """Sample ``n`` body shapes.

    Anny phenotypes (names in ``ANNY_SHAPE_RANGES``) are uniform over their adult ranges;
    any other parameter (e.g. SMPL betas) is Gaussian with std ``betas_std``.

    Returns:
        (n, S) float32.
    """
    out = np.empty((n, len(shape_names)), np.float32)
    for i, name in enumerate(shape_names):
        if name in ANNY_SHAPE_RANGES:
            lo, hi = ANNY_SHAPE_RANGES[name]
            out[:, i] = rng.uniform(lo, hi, n)
        else:
            out[:, i] = rng.normal(0.0, betas_std, n)
    return out
