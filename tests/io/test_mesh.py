import numpy as np

from lasor.io.mesh import read_obj, read_ply, write_obj, write_ply


def _mesh():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3))
    f = rng.integers(0, 50, (80, 3))
    return v, f


def test_obj_round_trip(tmp_path):
    v, f = _mesh()
    write_obj(tmp_path / "m.obj", v, f)
    v2, f2 = read_obj(tmp_path / "m.obj")
    assert np.allclose(v, v2, atol=1e-6)
    assert np.array_equal(f, f2)


def test_ply_round_trip_with_colours(tmp_path):
    v, f = _mesh()
    c = np.full((50, 3), 200, np.uint8)
    write_ply(tmp_path / "m.ply", v, f, colors=c)
    v2, f2 = read_ply(tmp_path / "m.ply")
    assert np.allclose(v, v2, atol=1e-6)
    assert np.array_equal(f, f2)
    write_ply(tmp_path / "n.ply", v, f)
    v3, f3 = read_ply(tmp_path / "n.ply")
    assert np.allclose(v, v3, atol=1e-6) and np.array_equal(f, f3)
    assert (tmp_path / "n.ply").read_bytes().startswith(b"ply\nformat binary_little_endian")
