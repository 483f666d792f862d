"""A fake SMPL model file of the real format, for testing without the licensed model.

Real array shapes, keys and pickling (including chumpy ``Ch`` objects and a scipy sparse
``J_regressor``), invented data: a left/right-symmetric stick figure made of tubes. Used by the
test suite and by ``python -m lasor.body.fake_smpl OUT_DIR`` (writes ``OUT_DIR/SMPL_NEUTRAL.pkl``)
to try the SMPL code path, e.g. ``lasor body --body smpl --smpl-model OUT_DIR``.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse

# --------------------------------------------------------------------------------------------
# A fake SMPL model of the real format (real array shapes, keys, pickling incl. chumpy objects).
# It is a left/right-symmetric stick figure (vertex i + 3445 mirrors vertex i, x -> -x) made of
# tubes around the bones, so it also looks like a body in pictures. The data is invented.

FAKE_SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
                     20, 21]  # fmt: skip
# mirror of each joint (left <-> right)
FAKE_SMPL_MIRROR = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20,
                    23, 22]  # fmt: skip
# Rough SMPL-like rest joints (metres, Y up, facing +Z, X to the body's left), T-pose.
_JOINTS = np.array([
    [0.0, 0.0, 0.0], [0.06, -0.09, 0.0], [-0.06, -0.09, 0.0], [0.0, 0.11, -0.02],
    [0.10, -0.47, 0.0], [-0.10, -0.47, 0.0], [0.0, 0.24, 0.0], [0.09, -0.87, -0.03],
    [-0.09, -0.87, -0.03], [0.0, 0.29, 0.0], [0.11, -0.93, 0.09], [-0.11, -0.93, 0.09],
    [0.0, 0.50, -0.02], [0.07, 0.41, -0.01], [-0.07, 0.41, -0.01], [0.0, 0.58, 0.03],
    [0.17, 0.44, -0.02], [-0.17, 0.44, -0.02], [0.42, 0.42, -0.04], [-0.42, 0.42, -0.04],
    [0.67, 0.43, -0.04], [-0.67, 0.43, -0.04], [0.75, 0.43, -0.05], [-0.75, 0.43, -0.05],
]) + np.array([0.0, -0.2, 0.03])  # SMPL's template is not centred on its pelvis either  # fmt: skip
_HALF = 3445  # 6890 / 2
_MIDLINE = [0, 3, 6, 9, 12, 15]
_LEFT = [1, 4, 7, 10, 13, 16, 18, 20, 22]
# bones as (joint, child-or-None, radius); the tube around a bone follows the joint's rotation
_BONES = [
    (0, 3, 0.13), (3, 6, 0.13), (6, 9, 0.14), (9, 12, 0.12), (12, 15, 0.05), (15, None, 0.09),
    (0, 1, 0.10), (1, 4, 0.07), (4, 7, 0.05), (7, 10, 0.04), (9, 13, 0.06), (13, 16, 0.05),
    (16, 18, 0.045), (18, 20, 0.035), (20, 22, 0.03),
]  # fmt: skip
_SPECIAL = {  # SMPL vertex ids used for keypoints: place them on the face / head top
    332: [0.0, 0.64, 0.12], 411: [0.0, 0.75, 0.02],
    2800: [0.035, 0.67, 0.10], 2815: [0.035, 0.67, 0.10],  # 2815 + 3445 = 6260 (right eye)
    583: [0.075, 0.64, 0.02], 626: [0.075, 0.64, 0.02],  # 626 + 3445 = 4071 (right ear)
}  # fmt: skip
N_FACES = 13776


def make_fake_smpl_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays with the keys and shapes of an official SMPL file (float64, faces uint32)."""
    rng = np.random.default_rng(seed)
    joints = _JOINTS
    pos, weights, faces = [], [], []
    n_along, n_around = 18, 12
    for j, child, radius in _BONES:
        a = joints[j]
        b = joints[child] if child is not None else a + np.array([0.0, 0.2, 0.0])
        axis = (b - a) / np.linalg.norm(b - a)
        u = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 else [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u)
        w = np.cross(axis, u)
        mid = j in _MIDLINE and (child is None or child in _MIDLINE)
        # midline bones: half a tube on the x > 0 side, the mirror copy makes the other half
        angles = (
            np.linspace(-np.pi / 2, np.pi / 2, n_around)
            if mid
            else np.linspace(0, 2 * np.pi, n_around, endpoint=False)
        )
        base = len(pos)
        for t in np.linspace(0.0, 1.0, n_along):
            for ang in angles:
                d = np.cos(ang) * u + np.sin(ang) * w
                if mid:  # make sure the half tube lies on the x >= 0 side
                    d[0] = abs(d[0])
                pos.append(a + t * (b - a) + radius * d * (1.0 + 0.05 * rng.standard_normal()))
                wt = np.zeros(24)
                wt[j] += 1.0 - 0.4 * t
                wt[child if child is not None else j] += 0.4 * t
                weights.append(wt)
        n_a = len(angles)
        for i in range(n_along - 1):
            for k in range(n_a if not mid else n_a - 1):
                p0 = base + i * n_a + k
                p1 = base + i * n_a + (k + 1) % n_a
                faces += [[p0, p1, p0 + n_a], [p1, p1 + n_a, p0 + n_a]]
    # ring vertices used by the joint regressor (4 per joint of the half)
    ring_ids = {}
    r = 0.02
    for j in _MIDLINE + _LEFT:
        ring_ids[j] = []
        for off in ([r, r, 0], [r, -r, 0], [r, 0, r], [r, 0, -r]):
            ring_ids[j].append(len(pos))
            pos.append(joints[j] + np.array(off))
            wt = np.zeros(24)
            wt[j] = 1.0
            weights.append(wt)
    while len(pos) < _HALF:  # a few spare points inside the pelvis
        pos.append(joints[0] + 0.03 * rng.standard_normal(3) * [0, 1, 1] + [0.01, 0, 0])
        wt = np.zeros(24)
        wt[0] = 1.0
        weights.append(wt)
    pos, weights = np.array(pos), np.array(weights)
    assert pos.shape == (_HALF, 3), pos.shape
    for vid, p in _SPECIAL.items():
        pos[vid] = p + np.array([0.0, -0.2, 0.03])
        weights[vid] = 0.0
        weights[vid, 15] = 1.0
    assert all(i not in _SPECIAL for ids in ring_ids.values() for i in ids)

    # mirror: vertex i + HALF is vertex i with x -> -x and left/right joints swapped
    flip = np.array([-1.0, 1.0, 1.0])
    v_template = np.concatenate([pos, pos * flip])
    weights = np.concatenate([weights, weights[:, FAKE_SMPL_MIRROR]])
    j_reg = np.zeros((24, 2 * _HALF))
    for j, ids in ring_ids.items():
        ids = np.array(ids)
        if j in _MIDLINE:
            j_reg[j, ids] = j_reg[j, ids + _HALF] = 1.0 / 8
        else:
            j_reg[j, ids] = 1.0 / 4
            j_reg[FAKE_SMPL_MIRROR[j], ids + _HALF] = 1.0 / 4
    shape_half = 0.02 * rng.standard_normal((_HALF, 3, 10))
    shape_half[[2815, 626]] = shape_half[[2800, 583]]  # keypoint vertices stay mirror pairs
    shape_half[[332, 411], 0] = 0.0  # midline keypoint vertices stay on the midline
    shapedirs = np.concatenate([shape_half, shape_half * flip[:, None]])
    posedirs = 0.002 * rng.standard_normal((2 * _HALF, 3, 207))

    faces = np.array(faces)
    faces = faces[~np.isin(faces, list(_SPECIAL)).any(axis=1)]  # specials float free
    faces = np.concatenate([faces, faces[:, ::-1] + _HALF])  # mirrored, same orientation
    assert len(faces) <= N_FACES
    faces = np.concatenate([faces, faces[: N_FACES - len(faces)]]).astype(np.uint32)

    kintree = np.array([FAKE_SMPL_PARENTS, list(range(24))], dtype=np.int64)
    kintree[0, 0] = 2**32 - 1  # stored as uint32(-1), like the official files
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_reg,
        "weights": weights,
        "kintree_table": kintree.astype(np.uint32),
        "f": faces,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def _pickle_with_fake_chumpy(data: dict, path: Path, chumpy_keys: list[str]) -> None:
    """Pickle like the official files: some arrays as ``chumpy.ch.Ch`` objects.

    A throwaway ``chumpy`` module is put into ``sys.modules`` only while pickling, so the file
    references ``chumpy.ch.Ch`` but loading it must work without chumpy.
    """
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    chumpy = types.ModuleType("chumpy")
    ch_mod = types.ModuleType("chumpy.ch")

    class Ch:  # mimics chumpy: state is a dict with the array under "x" plus bookkeeping
        pass

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    ch_mod.Ch = Ch
    chumpy.ch = ch_mod
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, ch_mod
    try:
        out = dict(data)
        for k in chumpy_keys:
            obj = Ch()
            obj.__dict__.update({"x": data[k], "_dirty_vars": set(), "_itr": None})
            out[k] = obj
        with open(path, "wb") as fh:
            pickle.dump(out, fh, protocol=2)
    finally:
        for k, mod in saved.items():
            if mod is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = mod


def write_fake_smpl(path: str | Path, chumpy: bool = True, seed: int = 0) -> Path:
    """Write a fake official-style SMPL ``.pkl`` (chumpy objects, sparse J_regressor)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = make_fake_smpl_arrays(seed)
    sparse = dict(data, J_regressor=scipy.sparse.csc_matrix(data["J_regressor"]))
    if chumpy:
        _pickle_with_fake_chumpy(sparse, path, ["v_template", "shapedirs", "weights"])
    else:
        with open(path, "wb") as fh:
            pickle.dump(sparse, fh, protocol=2)
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fake_smpl")
    print(write_fake_smpl(out / "SMPL_NEUTRAL.pkl"))
