"""The all-ages population of the data engine (issue 22); the adult default is unchanged."""

import numpy as np
import pytest
import torch

from lasor.body import load_body_model
from lasor.body.measure import anny_age_to_years
from lasor.synth.bank import build_body_bank, pose_source
from lasor.synth.engine import REFERENCE_HEIGHT, SynthConfig, make_batch
from lasor.synth.shapes import AGE_GROUPS, age_group, sample_shapes

NAMES = ["gender", "age", "muscle", "weight", "height", "proportions"]


def test_all_ages_population_has_the_documented_shares():
    s = sample_shapes(20000, NAMES, np.random.default_rng(0), population="all")
    assert s.shape == (20000, 6) and s.min() >= 0.0 and s.max() <= 1.0
    years = anny_age_to_years(s[:, 1])
    groups = age_group(years)
    for name, (share, lo, hi) in AGE_GROUPS.items():
        sel = groups == name
        assert abs(sel.mean() - share) < 0.015, name
        assert years[sel].min() >= lo - 1e-3 and years[sel].max() <= hi + 1e-3, name
    # Anny's height-for-age: 4-6-year-olds are short on the height phenotype's scale too
    young = (years > 4) & (years < 6)
    assert young.sum() > 300 and s[young, 4].std() < 0.2
    adult = sample_shapes(5000, NAMES, np.random.default_rng(0))
    assert anny_age_to_years(adult[:, 1]).min() > 13  # the default population stays adult
    with pytest.raises(ValueError, match="population"):
        sample_shapes(2, NAMES, np.random.default_rng(0), population="kids")


def test_age_group_edges():
    np.testing.assert_array_equal(
        age_group(np.array([0.5, 11.9, 12.0, 17.9, 18.0, 64.0, 100.0])),
        ["child", "child", "teen", "teen", "adult", "elder", "elder"],
    )


@pytest.fixture(scope="module")
def small():
    return load_body_model("anny", topology="notoes_collapse10pc")


def test_cameras_follow_body_size(small):
    draw = pose_source("val", "/nonexistent/bank.npz")
    bank = build_body_bank(small, 24, draw, np.random.default_rng(3), population="all")
    assert bank.height is not None and bank.height.shape == (24,)
    assert bank.height.min() < 1.4 < 1.6 < bank.height.max()
    adult_bank = build_body_bank(small, 4, draw, np.random.default_rng(3))
    assert adult_bank.height is None
    follow = make_batch(bank, 16, SynthConfig(res=32, ages="all"), np.random.default_rng(1))
    fixed = make_batch(
        bank, 16, SynthConfig(res=32, ages="all", distance_follows_size=False),
        np.random.default_rng(1),
    )  # fmt: skip
    # the same draws; only the distance differs: targets identical, crops scale with height
    torch.testing.assert_close(follow["shape"], fixed["shape"])
    torch.testing.assert_close(follow["body_pose"], fixed["body_pose"])
    h = torch.from_numpy(follow["shape"].numpy())
    idx = [int(np.flatnonzero(np.all(np.isclose(bank.shape, row), axis=1))[0]) for row in h.numpy()]
    ratio = (fixed["geometry"][:, 2] / follow["geometry"][:, 2]).numpy()
    np.testing.assert_allclose(ratio, bank.height[idx] / REFERENCE_HEIGHT, rtol=0.12)
    with pytest.raises(ValueError, match="ages"):
        SynthConfig(ages="kids")


def test_bodies_grid_draws_each_body(small):
    from lasor.synth.preview import bodies_grid

    draw = pose_source("val", "/nonexistent/bank.npz")
    bank = build_body_bank(small, 3, draw, np.random.default_rng(0), population="child")
    assert (anny_age_to_years(bank.shape[:, 1]) < 12.0 + 1e-3).all()
    img = np.asarray(bodies_grid(small, bank, n=3, cols=2, size=64))
    assert img.shape == (2 * (64 + 14), 2 * 2 * 64, 3)
    for i in range(3):  # every cell's front view has body pixels
        r, c = divmod(i, 2)
        cell = img[r * 78 : r * 78 + 64, c * 128 : c * 128 + 64]
        assert (cell.min(-1) < 200).mean() > 0.02, i
