"""Body measurements in metres on the unposed (rest-pose) mesh, and Anny's age in years.

Every measurement is taken on the body in its rest pose (identity rotations: Anny's A-pose),
so it depends on the shape only, never on the pose of the photo. Definitions (the standard
anthropometric ones, ISO 8559-1 names in brackets, adapted to a mesh; Y is up):

* ``height_m`` (stature): top of the head to the soles, ``max y - min y`` of the rest mesh
  (Anny's own ``anthropometry.height``).
* ``chest_circumference_m`` (chest girth): the largest torso girth between the natural waist
  and the armpits. A *girth* at a height is the perimeter of the convex hull of the mesh's
  horizontal cross-section there, keeping only the loops around the body's midline (the
  torso, not the arms or hands): what a tape measure laid around the body reads.
* ``waist_circumference_m`` (natural waist girth): the smallest torso girth between the hip
  joints and the chest level.
* ``hip_circumference_m`` (hip girth): the largest girth between the crotch and halfway from the
  hip joints to the waist (the buttocks).
* ``inseam_m`` (inside leg length): crotch to floor, the lowest midline point of the trunk
  above the knees minus ``min y``.
* ``arm_length_m`` (arm length): shoulder joint centre to elbow to wrist joint centre along the
  skeleton, mean of left and right.
* ``shoulder_width_m`` (biacromial breadth, approximated): distance between the left and right
  shoulder joint centres.

Age: Anny's ``age`` phenotype (0..1) maps to years piecewise-linearly through the anchors of
its WHO-calibrated shape distribution (``anny/data/shape_calibration``, "morphological age"):
0 -> 0 y, 0.05 -> 1, 0.215 -> 4, 0.415 -> 11, 0.67 -> 16, 0.77 -> 18, 0.83 -> 64, 1 -> 110.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Anny's age phenotype anchors and the ages in years they stand for (``MorphologicalAgeMapping``
#: of ``anny/data/shape_calibration/boys.pth``; girls' is identical).
ANNY_AGE_ANCHORS = np.array([0.0, 0.05, 0.215, 0.415, 0.67, 0.77, 0.83, 1.0])
ANNY_AGE_YEARS = np.array([0.0, 1.0, 4.0, 11.0, 16.0, 18.0, 64.0, 110.0])

MEASUREMENT_NAMES = (
    "height_m", "chest_circumference_m", "waist_circumference_m", "hip_circumference_m",
    "inseam_m", "arm_length_m", "shoulder_width_m",
)  # fmt: skip


def _interp_extrap(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` with linear extrapolation beyond the end anchors (as Anny does)."""
    x = np.asarray(x, np.float64)
    y = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    y = np.where(lo, fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0]), y)
    return np.where(hi, fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2]), y)


def anny_age_to_years(age: np.ndarray | float) -> np.ndarray:
    """Anny's ``age`` phenotype value(s) -> age in years (same shape)."""
    return _interp_extrap(age, ANNY_AGE_ANCHORS, ANNY_AGE_YEARS)


def years_to_anny_age(years: np.ndarray | float) -> np.ndarray:
    """Age in years -> Anny's ``age`` phenotype value (the inverse of `anny_age_to_years`)."""
    return _interp_extrap(years, ANNY_AGE_YEARS, ANNY_AGE_ANCHORS)


# ---------------------------------------------------------------- cross-sections


#: directions of the support function in `convex_hull_perimeter` (relative error ~1e-5)
_DIRECTIONS = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
_UNIT = np.stack([np.cos(_DIRECTIONS), np.sin(_DIRECTIONS)])  # (2, K)


def convex_hull_perimeter(points: np.ndarray) -> float:
    """Perimeter of the convex hull of 2D points, by Cauchy's formula: the mean width of the
    hull over all directions times pi (the support function sampled in 720 directions; the
    relative error is ~1e-5, and no hull needs building).

    Args:
        points: (N, 2).
    """
    pts = np.asarray(points, np.float64)
    if len(pts) < 2:
        return 0.0
    support = (pts - pts.mean(0)) @ _UNIT  # (N, K)
    return float(support.max(0).mean() * 2 * np.pi)


def cross_section(
    vertices: np.ndarray, faces: np.ndarray, level: float, axis: int = 1
) -> list[np.ndarray]:
    """The loops where the plane ``x[axis] = level`` cuts a triangle mesh.

    Args:
        vertices: (V, 3). faces: (F, 3) int. axis: the plane's normal axis (1 = Y, horizontal).

    Returns:
        one (K, 2) array of cut points (the two other coordinates) per connected piece of the
        cut, pieces joined through shared mesh edges.
    """
    v = np.asarray(vertices, np.float64)
    d = v[:, axis] - level
    d = np.where(d == 0.0, 1e-9, d)  # no vertex exactly on the plane
    f = np.asarray(faces, np.int64)
    s = d[f] > 0  # (F, 3)
    cut = s.any(1) & ~s.all(1)
    f = f[cut]
    if len(f) == 0:
        return []
    edges = np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1)  # (F', 3, 2)
    crosses = (d[edges[..., 0]] > 0) != (d[edges[..., 1]] > 0)  # exactly two per face
    e = np.sort(edges[crosses].reshape(-1, 2, 2), axis=-1)  # (F', 2 edges, 2 vertices)
    key = (e[..., 0] * len(v) + e[..., 1]).reshape(-1)  # one integer per edge
    ukey, inv = np.unique(key, return_inverse=True)
    uniq = np.stack([ukey // len(v), ukey % len(v)], axis=1)
    inv = inv.reshape(-1, 2)
    # the two edges a face cuts belong to the same loop
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = len(uniq)
    graph = coo_matrix((np.ones(len(inv)), (inv[:, 0], inv[:, 1])), shape=(m, m))
    _, roots = connected_components(graph, directed=False)
    a, b = v[uniq[:, 0]], v[uniq[:, 1]]
    t = (d[uniq[:, 0]] / (d[uniq[:, 0]] - d[uniq[:, 1]]))[:, None]
    pts = a + t * (b - a)
    other = [i for i in range(3) if i != axis]
    return [pts[roots == r][:, other] for r in np.unique(roots)]


def _arms_apart(loops: list[np.ndarray], midline: float = 0.0) -> bool:
    """A loop on each side of the midline besides one around it (the arms cut apart)."""
    left = any(p[:, 0].min() > midline for p in loops)
    right = any(p[:, 0].max() < midline for p in loops)
    return left and right and any(p[:, 0].min() < midline < p[:, 0].max() for p in loops)


def girth(
    vertices: np.ndarray,
    faces: np.ndarray,
    level: float,
    midline: float = 0.0,
    arms_apart: bool = False,
) -> float:
    """Torso girth at height ``level``: convex-hull perimeter of the horizontal cross-section
    loops that straddle the midline ``x = midline`` (arms, hands and separate legs are left
    out); 0 when no loop does, or with ``arms_apart`` when the arms are not cut apart from the
    torso at that height (a tape under the armpits)."""
    loops = cross_section(vertices, faces, level)
    if arms_apart and not _arms_apart(loops, midline):
        return 0.0
    torso = [p for p in loops if p[:, 0].min() < midline < p[:, 0].max()]
    if not torso:
        return 0.0
    return convex_hull_perimeter(np.concatenate(torso))


# ---------------------------------------------------------------- measurements


@dataclass
class Measurements:
    """Body measurements of N bodies (metres, years), see the module docstring.

    Attributes: each (N,) float64: ``height_m``, ``chest_circumference_m``,
    ``waist_circumference_m``, ``hip_circumference_m``, ``inseam_m``, ``arm_length_m``,
    ``shoulder_width_m``, ``age_years`` (NaN for body models without an age).
    """

    height_m: np.ndarray
    chest_circumference_m: np.ndarray
    waist_circumference_m: np.ndarray
    hip_circumference_m: np.ndarray
    inseam_m: np.ndarray
    arm_length_m: np.ndarray
    shoulder_width_m: np.ndarray
    age_years: np.ndarray

    def row(self, k: int) -> dict[str, float]:
        """The measurements of body ``k`` as plain floats."""
        return {name: float(v[k]) for name, v in self.__dict__.items()}


class _Faces:
    """A mesh's faces with their vertical extents: the faces a level cuts, found fast."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        fy = vertices[:, 1][faces]
        self.faces, self.lo, self.hi = faces, fy.min(1), fy.max(1)

    def at(self, level: float) -> np.ndarray:
        return self.faces[(self.lo <= level) & (self.hi >= level)]


def _scan(vertices, faces, lo, hi, steps: int, pick, arms_apart=False) -> tuple[float, float]:
    levels = np.linspace(lo, hi, steps)
    if isinstance(faces, _Faces):
        g = np.array([girth(vertices, faces.at(y), y, arms_apart=arms_apart) for y in levels])
        faces = None
    else:
        g = np.array([girth(vertices, faces, y, arms_apart=arms_apart) for y in levels])
    ok = g > 0
    if not ok.any():
        return float("nan"), float(lo)
    i = int(pick(np.where(ok, g, np.nan)))
    return float(g[i]), float(levels[i])


def measure_mesh(vertices: np.ndarray, faces: np.ndarray, joints: dict[str, np.ndarray]) -> dict:
    """Measurements of one rest-pose mesh.

    Args:
        vertices: (V, 3) metres, Y up, body facing +Z, X to its left (lasor's body frame).
        faces: (F, 3).
        joints: (3,) positions of "hip_l", "hip_r", "knee_l", "knee_r", "shoulder_l",
            "shoulder_r", "elbow_l", "elbow_r", "wrist_l", "wrist_r", "chest" (a spine joint
            between the waist and the neck).

    Returns:
        dict of the ``MEASUREMENT_NAMES`` (floats, metres).
    """
    v = np.asarray(vertices, np.float64)
    y = v[:, 1]
    floor = float(y.min())
    hip_y = 0.5 * (joints["hip_l"][1] + joints["hip_r"][1])
    knee_y = 0.5 * (joints["knee_l"][1] + joints["knee_r"][1])
    sh_y = 0.5 * (joints["shoulder_l"][1] + joints["shoulder_r"][1])
    faces = _Faces(v, np.asarray(faces, np.int64))
    # crotch: the lowest point of the trunk's midline above the knees
    mid = (np.abs(v[:, 0]) < 0.004) & (y > knee_y) & (y < hip_y)
    crotch = float(y[mid].min()) if mid.any() else float(hip_y)
    # armpit: the highest level below the shoulders where the arms are cut apart from the
    # torso (a loop on each side besides the one around the midline)
    armpit = float(joints["chest"][1])
    for lvl in np.linspace(sh_y, joints["chest"][1], 32):
        if _arms_apart(cross_section(v, faces.at(lvl), lvl)):
            armpit = float(lvl) - 0.02
            break
    span = armpit - hip_y
    waist_lo, waist_hi = hip_y + 0.15 * span, hip_y + 0.75 * span
    waist, waist_y = _scan(v, faces, waist_lo, waist_hi, 24, np.nanargmin)
    chest, _ = _scan(v, faces, waist_y, armpit, 24, np.nanargmax, arms_apart=True)
    hip, _ = _scan(v, faces, crotch + 0.01, hip_y + 0.5 * (waist_y - hip_y), 24, np.nanargmax)

    def arm(side: str) -> float:
        s, e, w = joints[f"shoulder_{side}"], joints[f"elbow_{side}"], joints[f"wrist_{side}"]
        return float(np.linalg.norm(e - s) + np.linalg.norm(w - e))

    return {
        "height_m": float(y.max() - floor),
        "chest_circumference_m": chest,
        "waist_circumference_m": waist,
        "hip_circumference_m": hip,
        "inseam_m": crotch - floor,
        "arm_length_m": 0.5 * (arm("l") + arm("r")),
        "shoulder_width_m": float(np.linalg.norm(joints["shoulder_l"] - joints["shoulder_r"])),
    }


#: lasor's landmark names -> Anny bone heads
_ANNY_LANDMARKS = {
    "hip_l": "upperleg01.L", "hip_r": "upperleg01.R", "knee_l": "lowerleg01.L",
    "knee_r": "lowerleg01.R", "shoulder_l": "upperarm01.L", "shoulder_r": "upperarm01.R",
    "elbow_l": "lowerarm01.L", "elbow_r": "lowerarm01.R", "wrist_l": "wrist.L",
    "wrist_r": "wrist.R", "chest": "spine01",
}  # fmt: skip


def rest_bodies(body, shape: torch.Tensor):
    """The rest-pose bodies (identity rotations) of shapes ``(N, S)``: a ``BodyOutput``."""
    n = shape.shape[0]
    eye = torch.eye(3, dtype=torch.float32, device=shape.device)
    with torch.no_grad():
        return body(eye.expand(n, 3, 3), eye.expand(n, body.num_pose_bones, 3, 3), shape.float())


def measure(body, shape: torch.Tensor | np.ndarray) -> Measurements:
    """Measurements of the unposed bodies of shapes ``(N, S)`` (pose never enters).

    Args:
        body: a ``BodyModel``; the circumferences, inseam and limb lengths need Anny's
            skeleton (other models get NaN for them, and for ``age_years``).
        shape: (N, S) shape parameters.
    """
    shape = torch.as_tensor(np.asarray(shape, np.float32) if isinstance(shape, np.ndarray)
                            else shape)  # fmt: skip
    out = rest_bodies(body, shape)
    verts = out.vertices.cpu().numpy()
    faces = out.faces.cpu().numpy()
    n = len(verts)
    cols: dict[str, list[float]] = {k: [] for k in MEASUREMENT_NAMES}
    anny = getattr(body, "name", "") == "anny"
    names = ["root", *body.pose_bones]
    for k in range(n):
        if anny:
            jt = out.joints[k].cpu().numpy().astype(np.float64)
            lm = {key: jt[names.index(bone)] for key, bone in _ANNY_LANDMARKS.items()}
            row = measure_mesh(verts[k], faces, lm)
        else:
            y = verts[k][:, 1]
            row = {key: float("nan") for key in MEASUREMENT_NAMES}
            row["height_m"] = float(y.max() - y.min())
        for key in MEASUREMENT_NAMES:
            cols[key].append(row[key])
    if anny:
        age = anny_age_to_years(shape[:, body.shape_names.index("age")].cpu().numpy())
    else:
        age = np.full(n, np.nan)
    return Measurements(**{k: np.asarray(v) for k, v in cols.items()}, age_years=age)
