import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lasor.body.rotations import (
    axis_angle_to_rotmat,
    euler_to_rotmat,
    geodesic_distance,
    quat_to_rotmat,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_quat,
    rotmat_to_rot6d,
    skew,
)

DTYPES = [torch.float32, torch.float64]


def _tol(dtype):
    return {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 0}


def _random_aa(shape, dtype, gen, max_angle=math.pi - 1e-3, min_angle=1e-3):
    axis = torch.nn.functional.normalize(torch.randn(*shape, 3, generator=gen, dtype=dtype), dim=-1)
    angle = min_angle + (max_angle - min_angle) * torch.rand(*shape, 1, generator=gen, dtype=dtype)
    return axis * angle


def _random_rotmat(shape, dtype, gen):
    return axis_angle_to_rotmat(_random_aa(shape, dtype, gen))


def _assert_rotation(r, dtype):
    eye = torch.eye(3, dtype=dtype).expand_as(r)
    torch.testing.assert_close(r.transpose(-1, -2) @ r, eye, **_tol(dtype))
    torch.testing.assert_close(
        torch.linalg.det(r), torch.ones(r.shape[:-2], dtype=dtype), **_tol(dtype)
    )


# --- smoke / known values -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_known_values(dtype):
    h = math.pi / 2
    aa = torch.tensor([[h, 0, 0], [0, h, 0], [0, 0, h]], dtype=dtype)
    r = axis_angle_to_rotmat(aa)
    expected = torch.tensor(
        [
            [[1, 0, 0], [0, 0, -1], [0, 1, 0]],
            [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],
            [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
        ],
        dtype=dtype,
    )
    torch.testing.assert_close(r, expected, **_tol(dtype))
    assert r.dtype == dtype
    torch.testing.assert_close(rotmat_to_axis_angle(expected), aa, **_tol(dtype))
    # Euler: 90 degrees about each single axis gives the same matrices.
    for k, ax in enumerate("XYZ"):
        e = euler_to_rotmat(torch.tensor([90.0], dtype=dtype), ax, degrees=True)
        torch.testing.assert_close(e, expected[k], **_tol(dtype))


def test_zero_angle_is_identity():
    aa = torch.zeros(2, 3)
    torch.testing.assert_close(axis_angle_to_rotmat(aa), torch.eye(3).expand(2, 3, 3))
    torch.testing.assert_close(rotmat_to_axis_angle(torch.eye(3).expand(2, 3, 3)), aa)
    torch.testing.assert_close(rotmat_to_quat(torch.eye(3)), torch.tensor([1.0, 0, 0, 0]))


def test_skew_is_cross_product():
    g = torch.Generator().manual_seed(0)
    v, u = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    torch.testing.assert_close((skew(v) @ u[..., None])[..., 0], torch.linalg.cross(v, u))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_scipy(dtype):
    g = torch.Generator().manual_seed(1)
    aa = _random_aa((20,), dtype, g)
    ref = Rotation.from_rotvec(aa.double().numpy())
    r = axis_angle_to_rotmat(aa)
    np.testing.assert_allclose(r.double().numpy(), ref.as_matrix(), atol=1e-5)
    q = rotmat_to_quat(r).double().numpy()
    q_ref = ref.as_quat()[:, [3, 0, 1, 2]]  # scipy is scalar-last
    q_ref *= np.sign(q_ref[:, :1])
    np.testing.assert_allclose(q, q_ref, atol=1e-5)


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_round_trip(dtype):
    g = torch.Generator().manual_seed(2)
    aa = _random_aa((4, 5), dtype, g)
    # include tiny angles and angles very close to pi
    aa[0, 0] = torch.tensor([1e-7, -2e-7, 3e-8], dtype=dtype)
    aa[0, 1] = torch.tensor([0.0, 0.0, math.pi - 1e-4], dtype=dtype)
    aa[0, 2] = torch.nn.functional.normalize(torch.tensor([1.0, 2.0, -3.0], dtype=dtype), dim=0) * (
        math.pi - 1e-3
    )
    back = rotmat_to_axis_angle(axis_angle_to_rotmat(aa))
    assert back.shape == aa.shape and back.dtype == dtype
    tol = {"atol": 2e-4, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-9, "rtol": 0}
    torch.testing.assert_close(back, aa, **tol)


def test_axis_angle_at_pi_gives_equivalent_rotation():
    aa = torch.tensor(
        [[math.pi, 0.0, 0.0], [0.0, -math.pi, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64
    )
    aa[2] = aa[2] / aa[2].norm() * math.pi
    r = axis_angle_to_rotmat(aa)
    back = rotmat_to_axis_angle(r)
    torch.testing.assert_close(back.norm(dim=-1), torch.full((3,), math.pi, dtype=torch.float64))
    torch.testing.assert_close(axis_angle_to_rotmat(back), r)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rot6d_round_trip(dtype):
    g = torch.Generator().manual_seed(3)
    r = _random_rotmat((3, 4, 2), dtype, g)
    x = rotmat_to_rot6d(r)
    assert x.shape == (3, 4, 2, 6)
    torch.testing.assert_close(x[..., :3], r[..., :, 0])  # first column, not interleaved
    torch.testing.assert_close(rot6d_to_rotmat(x), r, **_tol(dtype))
    # arbitrary (non-orthonormal) 6D inputs still give rotations
    r2 = rot6d_to_rotmat(torch.randn(7, 2, 6, generator=g, dtype=dtype))
    assert r2.shape == (7, 2, 3, 3)
    _assert_rotation(r2, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_quat_round_trip(dtype):
    g = torch.Generator().manual_seed(4)
    r = _random_rotmat((6, 3), dtype, g)
    q = rotmat_to_quat(r)
    assert q.shape == (6, 3, 4)
    assert (q[..., 0] >= 0).all()
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(6, 3, dtype=dtype), **_tol(dtype))
    torch.testing.assert_close(quat_to_rotmat(q), r, **_tol(dtype))
    # unnormalised quaternions are normalised
    torch.testing.assert_close(quat_to_rotmat(3.0 * q), r, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_outputs_are_rotations(dtype):
    g = torch.Generator().manual_seed(5)
    _assert_rotation(axis_angle_to_rotmat(_random_aa((2, 3, 4), dtype, g, max_angle=10.0)), dtype)
    _assert_rotation(quat_to_rotmat(torch.randn(2, 3, 4, generator=g, dtype=dtype)), dtype)
    _assert_rotation(euler_to_rotmat(torch.randn(2, 3, 3, generator=g, dtype=dtype), "ZXY"), dtype)


# --- Euler ----------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX", "ZYX"])
def test_euler_matches_scipy(order):
    g = torch.Generator().manual_seed(6)
    deg = (torch.rand(10, 3, generator=g, dtype=torch.float64) - 0.5) * 340.0
    r = euler_to_rotmat(deg, order, degrees=True)
    ref = Rotation.from_euler(order.upper(), deg.numpy(), degrees=True).as_matrix()  # intrinsic
    np.testing.assert_allclose(r.numpy(), ref, atol=1e-12)
    r_ext = euler_to_rotmat(deg, order, degrees=True, intrinsic=False)
    ref_ext = Rotation.from_euler(order.lower(), deg.numpy(), degrees=True).as_matrix()
    np.testing.assert_allclose(r_ext.numpy(), ref_ext, atol=1e-12)


def test_euler_bvh_convention():
    # BVH "Zrotation Xrotation Yrotation" means R = Rz @ Rx @ Ry.
    deg = torch.tensor([30.0, -50.0, 70.0], dtype=torch.float64)
    rz = euler_to_rotmat(deg[:1], "Z", degrees=True)
    rx = euler_to_rotmat(deg[1:2], "X", degrees=True)
    ry = euler_to_rotmat(deg[2:], "Y", degrees=True)
    torch.testing.assert_close(euler_to_rotmat(deg, "zxy", degrees=True), rz @ rx @ ry)
    torch.testing.assert_close(euler_to_rotmat(torch.deg2rad(deg), "ZXY"), rz @ rx @ ry)


def test_euler_bad_order():
    with pytest.raises(ValueError):
        euler_to_rotmat(torch.zeros(3), "ZX")
    with pytest.raises(ValueError):
        euler_to_rotmat(torch.zeros(3), "ZXQ")


# --- geodesic distance ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_geodesic_distance(dtype):
    g = torch.Generator().manual_seed(7)
    r1 = _random_rotmat((4, 2), dtype, g)
    aa = _random_aa((4, 2), dtype, g, max_angle=math.pi - 1e-3)
    r2 = r1 @ axis_angle_to_rotmat(aa)
    d = geodesic_distance(r1, r2)
    assert d.shape == (4, 2)
    torch.testing.assert_close(d, aa.norm(dim=-1), **_tol(dtype))
    torch.testing.assert_close(
        geodesic_distance(r1, r1), torch.zeros(4, 2, dtype=dtype), **_tol(dtype)
    )
    # symmetric, broadcasting
    torch.testing.assert_close(geodesic_distance(r2, r1), d, **_tol(dtype))
    assert geodesic_distance(r1, torch.eye(3, dtype=dtype)).shape == (4, 2)


# --- gradients ------------------------------------------------------------------------------


def _f64(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def test_gradcheck_axis_angle_to_rotmat():
    aa = _f64(2, 3, 3).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_rotmat, (aa,))
    # at and near zero angle: finite and matching finite differences
    for v in ([0.0, 0.0, 0.0], [1e-5, -2e-5, 0.0], [0.0, 0.0, 9.9e-3], [0.0, 1.01e-2, 0.0]):
        x = torch.tensor([v], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(axis_angle_to_rotmat, (x,))
        assert torch.autograd.gradgradcheck(axis_angle_to_rotmat, (x,))


def test_gradient_at_zero_matches_skew():
    # dR/daa at 0 is the generator: R ≈ I + [aa]_x
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(axis_angle_to_rotmat, x)
    for k in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[k] = 1.0
        torch.testing.assert_close(jac[..., k], skew(e))


def test_gradcheck_rotmat_to_axis_angle():
    g = torch.Generator().manual_seed(8)
    r = _random_rotmat((4,), torch.float64, g)
    r = torch.cat([r, torch.eye(3, dtype=torch.float64)[None]]).requires_grad_()
    assert torch.autograd.gradcheck(rotmat_to_axis_angle, (r,))
    # the composition aa -> R -> aa has identity Jacobian, including near zero
    for aa in (_f64(3, seed=1) * 0.5, torch.tensor([1e-6, 0.0, -1e-6], dtype=torch.float64)):
        jac = torch.autograd.functional.jacobian(
            lambda a: rotmat_to_axis_angle(axis_angle_to_rotmat(a)), aa
        )
        torch.testing.assert_close(jac, torch.eye(3, dtype=torch.float64))


def test_gradcheck_rot6d_quat_euler_geodesic():
    assert torch.autograd.gradcheck(rot6d_to_rotmat, (_f64(3, 6).requires_grad_(),))
    assert torch.autograd.gradcheck(quat_to_rotmat, (_f64(3, 4).requires_grad_(),))
    r = axis_angle_to_rotmat(_f64(3, 3, seed=2)).requires_grad_()
    assert torch.autograd.gradcheck(rotmat_to_quat, (r,))
    assert torch.autograd.gradcheck(
        lambda a: euler_to_rotmat(a, "ZXY", degrees=True), (_f64(3, 3).mul(40).requires_grad_(),)
    )
    r1 = axis_angle_to_rotmat(_f64(3, 3, seed=3)).requires_grad_()
    r2 = axis_angle_to_rotmat(_f64(3, 3, seed=4))
    assert torch.autograd.gradcheck(lambda a: geodesic_distance(a, r2), (r1,))
    # at zero distance the gradient is finite (zero)
    r0 = torch.eye(3, dtype=torch.float64, requires_grad=True)
    geodesic_distance(r0, torch.eye(3, dtype=torch.float64)).backward()
    assert torch.isfinite(r0.grad).all()
