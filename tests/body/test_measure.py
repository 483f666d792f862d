import numpy as np
import pytest
import torch

from lasor.body import load_body_model
from lasor.body import measure as M


def _cylinder(radius: float, y0: float, y1: float, n: int = 64, rings: int = 9, cx: float = 0.0):
    """A closed triangulated cylinder along Y (capped): vertices (V, 3), faces (F, 3)."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ys = np.linspace(y0, y1, rings)
    ring = np.stack([cx + radius * np.cos(a), np.zeros(n), radius * np.sin(a)], 1)
    verts = [ring + [0, y, 0] for y in ys]
    faces = []
    for r in range(rings - 1):
        for i in range(n):
            a0, a1 = r * n + i, r * n + (i + 1) % n
            b0, b1 = a0 + n, a1 + n
            faces += [(a0, a1, b1), (a0, b1, b0)]
    verts = np.concatenate(verts + [[[cx, y0, 0]], [[cx, y1, 0]]])
    bot, top = len(verts) - 2, len(verts) - 1
    for i in range(n):
        faces.append((bot, (i + 1) % n, i))
        t0 = (rings - 1) * n
        faces.append((top, t0 + i, t0 + (i + 1) % n))
    return verts, np.asarray(faces)


def test_convex_hull_perimeter_of_known_shapes():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5], [0.2, 0.7]])
    assert M.convex_hull_perimeter(square) == pytest.approx(4.0, rel=1e-4)
    # a concave "C" measures like its hull (a tape is never pushed into a hollow)
    c = np.array([[0, 0], [2, 0], [2, 0.5], [0.5, 0.5], [0.5, 1.5], [2, 1.5], [2, 2], [0, 2]])
    assert M.convex_hull_perimeter(c) == pytest.approx(8.0, rel=1e-4)
    segment = np.array([[0.0, 0.0], [3.0, 4.0]])  # a degenerate hull: twice its length
    assert M.convex_hull_perimeter(segment) == pytest.approx(10.0, rel=1e-4)


def test_girth_of_a_cylinder_is_its_circumference():
    r, n = 0.15, 64
    v, f = _cylinder(r, -0.5, 0.5, n=n)
    exact = 2 * n * r * np.sin(np.pi / n)  # the inscribed 64-gon
    for level in (-0.31, 0.0, 0.27):
        loops = M.cross_section(v, f, level)
        assert len(loops) == 1
        assert M.girth(v, f, level) == pytest.approx(exact, rel=1e-4)
    assert exact == pytest.approx(2 * np.pi * r, rel=2e-3)
    assert M.cross_section(v, f, 0.7) == []


def test_girth_leaves_out_loops_off_the_midline():
    torso, tf = _cylinder(0.15, -0.5, 0.5)
    arm, af = _cylinder(0.04, -0.3, 0.3, cx=0.4)
    other, of = _cylinder(0.04, -0.3, 0.3, cx=-0.4)
    v = np.concatenate([torso, arm, other])
    f = np.concatenate([tf, af + len(torso), of + len(torso) + len(arm)])
    assert len(M.cross_section(v, f, 0.0)) == 3
    alone = M.girth(torso, tf, 0.0)
    assert M.girth(v, f, 0.0) == pytest.approx(alone)
    assert M.girth(v, f, 0.0, arms_apart=True) == pytest.approx(alone)
    assert M.girth(torso, tf, 0.0, arms_apart=True) == 0.0  # no arms cut apart


def test_age_mapping_is_annys():
    from anny.shape_distribution import MorphologicalAgeMapping

    sd = torch.load(
        __import__("anny").paths.get_anny_root_dir() / "data/shape_calibration/boys.pth",
        weights_only=True, map_location="cpu",
    )["morphological_age_mapping"]  # fmt: skip
    m = MorphologicalAgeMapping()
    m.load_state_dict(sd)
    ages = torch.linspace(0.0, 1.0, 41, dtype=torch.float64)
    np.testing.assert_allclose(
        M.anny_age_to_years(ages.numpy()), m.anny_to_morphological_age(ages).numpy()
    )
    years = np.array([0.5, 3.0, 7.0, 12.0, 17.0, 30.0, 80.0])
    np.testing.assert_allclose(M.anny_age_to_years(M.years_to_anny_age(years)), years)


@pytest.fixture(scope="module")
def anny():
    return load_body_model("anny")


SHAPES = torch.tensor(
    [
        [0.5, 2 / 3, 0.5, 0.5, 0.5, 0.5],  # default young adult
        [0.0, 0.9, 0.5, 0.5, 0.5, 0.5],  # male adult
        [1.0, 0.9, 0.5, 0.9, 0.5, 0.5],  # heavy female adult
        [0.5, 0.3, 0.5, 0.5, 0.5, 0.5],  # child
    ]
)


def test_anny_measurements_match_annys_own_and_are_plausible(anny):
    from anny.anthropometry import Anthropometry

    m = M.measure(anny, SHAPES)
    rest = M.rest_bodies(anny, SHAPES).vertices @ anny.to_body  # Anny's own frame (Z up)
    ref = Anthropometry(anny.anny)(rest)
    np.testing.assert_allclose(m.height_m, ref["height"].numpy(), atol=1e-5)
    # Anny's waist is a fixed vertex ring (following the navel and, on heavy bodies, the belly);
    # ours the narrowest convex girth: a few cm less (10 on the heavy body)
    diff = ref["waist_circumference"].numpy() - m.waist_circumference_m
    assert np.all(diff > 0) and np.all(diff < 0.12), diff
    adult = m.row(1)
    assert 0.85 < adult["chest_circumference_m"] < 1.25
    assert adult["waist_circumference_m"] < adult["chest_circumference_m"]
    assert 0.40 < adult["inseam_m"] / adult["height_m"] < 0.52
    assert 0.25 < adult["arm_length_m"] / adult["height_m"] < 0.36
    assert 0.18 < adult["shoulder_width_m"] / adult["height_m"] < 0.25
    assert m.age_years[0] == pytest.approx(M.anny_age_to_years(2 / 3))
    assert m.age_years[3] < 12 < m.age_years[1]
    assert m.height_m[3] < m.height_m[0]
    assert m.hip_circumference_m[2] > m.hip_circumference_m[0]  # a heavy woman: wider hips
    assert m.hip_circumference_m[2] > m.waist_circumference_m[2] + 0.2


def test_measurements_ignore_the_pose(anny):
    """Measured on the rest pose: a body in any pose gives the rest pose's numbers."""
    a = M.measure(anny, SHAPES[:2])
    b = M.measure(anny, SHAPES[:2].numpy())
    for k in M.MEASUREMENT_NAMES:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert set(a.row(0)) == {*M.MEASUREMENT_NAMES, "age_years"}


def test_non_anny_bodies_get_height_only(fake_smpl_file):
    smpl = load_body_model("smpl", model_path=fake_smpl_file)
    m = M.measure(smpl, torch.zeros(1, smpl.num_shape))
    assert np.isfinite(m.height_m[0]) and m.height_m[0] > 0
    assert np.isnan(m.chest_circumference_m[0]) and np.isnan(m.age_years[0])
