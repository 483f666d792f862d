"""Rotation conversions: axis-angle, rotation matrices, 6D, quaternions, Euler angles.

All functions are pure, batched over any leading dimensions (``...``), work in float32 and
float64, and are differentiable. Rotation matrices act on column vectors (``x' = R @ x``).
Quaternions are scalar-first ``(w, x, y, z)``.
"""

from __future__ import annotations

import torch

__all__ = [
    "axis_angle_to_rotmat",
    "euler_to_rotmat",
    "geodesic_distance",
    "quat_to_rotmat",
    "rot6d_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_to_quat",
    "rotmat_to_rot6d",
    "skew",
]

# Below this squared angle, Taylor series replace sin(t)/t and (1 - cos t)/t^2. The first
# dropped term is ~t^6/5040, i.e. < 1e-16 relative at t^2 = 1e-4 (exact in float32 and float64).
_SMALL_ANGLE_SQ = 1e-4
# Same for atan(r)/r in the quaternion -> axis-angle step (first dropped term r^6/7).
_SMALL_QUAT_SQ = 1e-6


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix ``[v]_x`` such that ``[v]_x @ u = v × u``.

    Args:
        v: (..., 3).

    Returns:
        (..., 3, 3).
    """
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_rotmat(pose_aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle (rotation vector) to rotation matrix.

    ``R = I + a [v]_x + b [v]_x^2`` with ``a = sin(t)/t``, ``b = (1 - cos t)/t^2`` and
    ``t = |v|``. Near ``t = 0`` both coefficients come from their Taylor series, so values and
    gradients are finite and exact at zero.

    Args:
        pose_aa: (..., 3) rotation vectors (axis times angle in radians).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    t2 = (pose_aa * pose_aa).sum(-1)
    small = t2 < _SMALL_ANGLE_SQ
    # Substitute a harmless value where the exact formula is not used, so that neither branch
    # produces inf/nan (which would poison gradients through torch.where).
    t2_safe = torch.where(small, torch.ones_like(t2), t2)
    t = torch.sqrt(t2_safe)
    a_exact = torch.sin(t) / t
    b_exact = (1.0 - torch.cos(t)) / t2_safe
    a_taylor = 1.0 - t2 / 6.0 + t2 * t2 / 120.0
    b_taylor = 0.5 - t2 / 24.0 + t2 * t2 / 720.0
    a = torch.where(small, a_taylor, a_exact)[..., None, None]
    b = torch.where(small, b_taylor, b_exact)[..., None, None]
    k = skew(pose_aa)
    eye = torch.eye(3, dtype=pose_aa.dtype, device=pose_aa.device)
    return eye + a * k + b * (k @ k)


def rotmat_to_quat(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to unit quaternion ``(w, x, y, z)`` with ``w >= 0``.

    Uses the numerically best of the four algebraic solutions per matrix (Shepperd's method),
    so it is accurate for all angles including 0 and π.

    Args:
        rotmat: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) unit quaternions, scalar first.
    """
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 * q_i^2 for i = w, x, y, z.
    four_sq = torch.stack(
        [
            1.0 + m00 + m11 + m22,
            1.0 + m00 - m11 - m22,
            1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22,
        ],
        dim=-1,
    )
    # The chosen candidate always has 4 q_i^2 >= 1, so clamping only protects the others.
    two_q = torch.sqrt(four_sq.clamp(min=0.1))  # 2 |q_i|
    d10 = m[..., 1, 0] - m[..., 0, 1]
    d02 = m[..., 0, 2] - m[..., 2, 0]
    d21 = m[..., 2, 1] - m[..., 1, 2]
    s10 = m[..., 1, 0] + m[..., 0, 1]
    s02 = m[..., 0, 2] + m[..., 2, 0]
    s21 = m[..., 2, 1] + m[..., 1, 2]
    # Each row is 4 q_i * q (one of the four solutions), divided below by 2 * 2|q_i|.
    cands = torch.stack(
        [
            torch.stack([four_sq[..., 0], d21, d02, d10], -1),
            torch.stack([d21, four_sq[..., 1], s10, s02], -1),
            torch.stack([d02, s10, four_sq[..., 2], s21], -1),
            torch.stack([d10, s02, s21, four_sq[..., 3]], -1),
        ],
        dim=-2,
    ) / (2.0 * two_q[..., None])
    best = four_sq.argmax(-1)
    idx = best[..., None, None].expand(*best.shape, 1, 4)
    q = torch.gather(cands, -2, idx).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_to_rotmat(quat: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(w, x, y, z)`` (normalised internally) to rotation matrix.

    Args:
        quat: (..., 4), scalar first; need not be unit length (must be non-zero).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    q = quat / quat.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    r = torch.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        dim=-1,
    )  # fmt: skip
    return r.reshape(*quat.shape[:-1], 3, 3)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to axis-angle, robust at 0 and near π (via a quaternion).

    Args:
        rotmat: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) rotation vectors with angle in [0, π].
    """
    q = rotmat_to_quat(rotmat)
    w, v = q[..., 0], q[..., 1:]
    n2 = (v * v).sum(-1)
    small = n2 < _SMALL_QUAT_SQ
    n2_safe = torch.where(small, torch.ones_like(n2), n2)
    n = torch.sqrt(n2_safe)
    # angle / |v| = 2 atan2(|v|, w) / |v|; for small |v| (then w ≈ 1) use the series of atan.
    scale_exact = 2.0 * torch.atan2(n, w) / n
    w_safe = torch.where(small, w, torch.ones_like(w))
    r2 = n2 / (w_safe * w_safe)
    scale_taylor = 2.0 / w_safe * (1.0 - r2 / 3.0 + r2 * r2 / 5.0)
    scale = torch.where(small, scale_taylor, scale_exact)
    return v * scale[..., None]


def rot6d_to_rotmat(pose_6d: torch.Tensor) -> torch.Tensor:
    """6D rotation representation (Zhou et al., CVPR 2019) to rotation matrix.

    The 6 numbers are the first two COLUMNS of R: ``pose_6d[..., 0:3]`` is column 0 and
    ``pose_6d[..., 3:6]`` is column 1 (not interleaved). Gram–Schmidt orthonormalises them and
    the third column is their cross product.

    Args:
        pose_6d: (..., 6), need not be orthonormal.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    a1, a2 = pose_6d[..., 0:3], pose_6d[..., 3:6]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to 6D: first column then second column (see ``rot6d_to_rotmat``).

    Args:
        rotmat: (..., 3, 3).

    Returns:
        (..., 6).
    """
    return torch.cat([rotmat[..., :, 0], rotmat[..., :, 1]], dim=-1)


def _axis_rotmat(angle: torch.Tensor, axis: str) -> torch.Tensor:
    """Rotation by ``angle`` (radians, (...)) about a coordinate axis "X", "Y" or "Z"."""
    c, s = torch.cos(angle), torch.sin(angle)
    o, i = torch.zeros_like(angle), torch.ones_like(angle)
    if axis == "X":
        flat = [i, o, o, o, c, -s, o, s, c]
    elif axis == "Y":
        flat = [c, o, s, o, i, o, -s, o, c]
    elif axis == "Z":
        flat = [c, -s, o, s, c, o, o, o, i]
    else:
        raise ValueError(f"axis must be one of X, Y, Z, got {axis!r}")
    return torch.stack(flat, dim=-1).reshape(*angle.shape, 3, 3)


def euler_to_rotmat(
    angles: torch.Tensor, order: str, degrees: bool = False, intrinsic: bool = True
) -> torch.Tensor:
    """Euler angles to rotation matrix.

    ``angles[..., k]`` is the angle about axis ``order[k]``. With ``intrinsic=True`` (the
    default) the rotations compose as ``R = R_{order[0]} @ R_{order[1]} @ R_{order[2]}``
    (each rotation about the axes already rotated by the previous ones); this is what BVH files
    mean: channels "Zrotation Xrotation Yrotation" give ``R = Rz @ Rx @ Ry`` with
    ``order="ZXY"`` and ``degrees=True``. With ``intrinsic=False`` the rotations are about the
    fixed axes in the given order, i.e. ``R = R_{order[-1]} @ ... @ R_{order[0]}``.

    Args:
        angles: (..., K) angles, K = len(order) (usually 3).
        order: axis letters, e.g. "ZXY" (case-insensitive).
        degrees: angles are in degrees instead of radians.
        intrinsic: intrinsic (moving axes) or extrinsic (fixed axes) convention.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    order = order.upper()
    if len(order) == 0 or angles.shape[-1] != len(order):
        raise ValueError(f"angles (..., {angles.shape[-1]}) do not match order {order!r}")
    if degrees:
        angles = torch.deg2rad(angles)
    mats = [_axis_rotmat(angles[..., k], ax) for k, ax in enumerate(order)]
    if not intrinsic:
        mats = mats[::-1]
    r = mats[0]
    for m in mats[1:]:
        r = r @ m
    return r


def geodesic_distance(rotmat1: torch.Tensor, rotmat2: torch.Tensor) -> torch.Tensor:
    """Angle (radians, in [0, π]) of the rotation taking ``rotmat1`` to ``rotmat2``.

    Computed as ``atan2(sin, cos)`` of the relative rotation, which is accurate over the whole
    range (unlike ``acos``) and has finite gradients; the gradient at exactly zero is zero.

    Args:
        rotmat1: (..., 3, 3).
        rotmat2: (..., 3, 3), broadcastable against ``rotmat1``.

    Returns:
        (...) angles.
    """
    r = rotmat1.transpose(-1, -2) @ rotmat2
    cos = (r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2] - 1.0) * 0.5
    d = torch.stack(
        [r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]],
        dim=-1,
    )
    sq = (d * d).sum(-1)
    pos = sq > 0
    sin = torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))), 0.0) * 0.5
    return torch.atan2(sin, cos)
