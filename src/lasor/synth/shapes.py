"""Body-shape sampling over the body model's shape space.

Two populations of Anny phenotypes:

* ``"adult"`` (the default, the population of every benchmark since v1 and of the shipped
  model): every phenotype uniform over ``ANNY_SHAPE_RANGES``; its age range 0.55-1 is about
  13.6-110 years on Anny's calibrated age scale (`lasor.body.measure.anny_age_to_years`).
* ``"all"``: every age. The age is drawn in years, first an age group with the shares of
  ``AGE_GROUPS`` (child 2-12 y: 30 %, teen 12-18 y: 15 %, adult 18-64 y: 40 %, elder 64-90 y:
  15 %), then uniform in years within it; infants under 2 are left out (mocap poses of walking,
  standing adults do not suit them). Under 16 years the ``height`` phenotype follows Anny's
  WHO-calibrated height-for-age distribution (the Beta distributions of
  ``anny/data/shape_calibration``, boys for gender <= 0.5, as Anny's own sampler does: gender 0
  is male); every other phenotype, and the height of older people, is uniform over [0, 1].
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Anny phenotype ranges sampled for training (uniform): the full adult range of every value.
#: Age anchors: 1/3 child, 2/3 young adult, 1 old (0.55 is about 13.6 years on Anny's
#: calibrated scale, ``lasor.body.measure``).
ANNY_SHAPE_RANGES: dict[str, tuple[float, float]] = {
    "gender": (0.0, 1.0),
    "age": (0.55, 1.0),
    "muscle": (0.0, 1.0),
    "weight": (0.0, 1.0),
    "height": (0.0, 1.0),
    "proportions": (0.0, 1.0),
}

#: the age groups of the "all" population: name -> (share, lowest, highest age in years); also
#: the strata of ``lasor eval synthetic --benchmark ages``
AGE_GROUPS: dict[str, tuple[float, float, float]] = {
    "child": (0.30, 2.0, 12.0),
    "teen": (0.15, 12.0, 18.0),
    "adult": (0.40, 18.0, 64.0),
    "elder": (0.15, 64.0, 90.0),
}

#: "adult" (legacy uniform adult ranges), "all" (every age group) or one group alone (previews)
POPULATIONS = ("adult", "all", "child", "teen", "elder")


def age_group(years: np.ndarray) -> np.ndarray:
    """The ``AGE_GROUPS`` name of each age in years (below 2: "child"; above 90: "elder")."""
    years = np.asarray(years, np.float64)
    names = np.array(list(AGE_GROUPS))
    edges = np.array([hi for _, _, hi in AGE_GROUPS.values()])[:-1]
    return names[np.searchsorted(edges, years, side="right")]


@lru_cache(maxsize=1)
def _height_for_age() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Anny's height-for-age Beta anchors: "boys"/"girls" -> (age anchors, alpha, beta)."""
    import torch
    from anny.paths import get_anny_root_dir

    out = {}
    for who in ("boys", "girls"):
        path = get_anny_root_dir() / "data" / "shape_calibration" / f"{who}.pth"
        d = torch.load(path, weights_only=True, map_location="cpu")[
            "conditional_height_distribution"
        ]
        out[who] = tuple(d[k].numpy() for k in ("age_anchors", "alpha_anchors", "beta_anchors"))
    return out


def _sample_all_ages(
    n: int, rng: np.random.Generator, only: str | None = None
) -> dict[str, np.ndarray]:
    from lasor.body.measure import years_to_anny_age

    groups = [v for k, v in AGE_GROUPS.items() if only is None or k == only]
    shares = np.array([g[0] for g in groups])
    g = rng.choice(len(groups), n, p=shares / shares.sum())
    lo = np.array([groups[i][1] for i in g])
    hi = np.array([groups[i][2] for i in g])
    years = rng.uniform(lo, hi)
    age = years_to_anny_age(years)
    out = {k: rng.uniform(0.0, 1.0, n) for k in ("gender", "muscle", "weight", "proportions")}
    height = rng.uniform(0.0, 1.0, n)
    hfa = _height_for_age()
    for who, sel in (("boys", out["gender"] <= 0.5), ("girls", out["gender"] > 0.5)):
        anchors, alpha, beta = hfa[who]
        young = sel & (age < anchors[-1])
        if young.any():
            a = np.interp(age[young], anchors, alpha)
            b = np.interp(age[young], anchors, beta)
            height[young] = rng.beta(a, b)
    out["height"] = height
    out["age"] = age
    return out


def sample_shapes(
    n: int,
    shape_names: list[str],
    rng: np.random.Generator,
    betas_std: float = 1.25,
    population: str = "adult",
) -> np.ndarray:
    """Sample ``n`` body shapes.

    Anny phenotypes (names in ``ANNY_SHAPE_RANGES``) come from ``population`` ("adult":
    uniform over the adult ranges; "all": every age, see the module docstring; "child",
    "teen", "elder": that age group alone, for previews); any other
    parameter (e.g. SMPL betas) is Gaussian with std ``betas_std``.

    Returns:
        (n, S) float32.
    """
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {POPULATIONS}, got {population!r}")
    drawn = None
    if population != "adult" and "age" in shape_names:
        drawn = _sample_all_ages(n, rng, None if population == "all" else population)
    out = np.empty((n, len(shape_names)), np.float32)
    for i, name in enumerate(shape_names):
        if drawn is not None and name in drawn:
            out[:, i] = drawn[name]
        elif name in ANNY_SHAPE_RANGES:
            lo, hi = ANNY_SHAPE_RANGES[name]
            out[:, i] = rng.uniform(lo, hi, n)
        else:
            out[:, i] = rng.normal(0.0, betas_std, n)
    return out
