"""A rigged, posed body as glTF 2.0 binary (``.glb``): mesh, Anny's skeleton, skin, pose, motion.

The file holds one skinned mesh (the rest mesh of the body's shape with vertex normals), one
node per Anny bone in Anny's hierarchy (node ``i`` is bone ``i``; each node's TRS is the bone's
local transform in the first frame, i.e. the estimated pose), a skin with all bones as joints
and their inverse bind matrices, and all of Anny's skinning weights (up to 9 per vertex, in
``JOINTS_0/WEIGHTS_0``, ``JOINTS_1/WEIGHTS_1``, ... sorted by weight, so a reader that takes only
the first set gets each vertex's four largest). With more than one frame an animation
``lasor_motion`` carries every bone's rotation and the root's translation per frame.

Frames: see :mod:`lasor.io.rig` (``frame="camera"`` turns lasor's camera frame to glTF's Y up;
the camera sits at the origin looking along -Z). Units are metres. Writing needs only numpy and
scipy; tests read the file back with ``pygltflib``.
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from lasor.io.rig import AnnyRig, anny_rig

log = logging.getLogger(__name__)

_FLOAT, _UINT, _USHORT, _UBYTE = 5126, 5125, 5123, 5121
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def write_glb(
    path: str | Path,
    body,
    global_orient,
    body_pose,
    shape,
    translation=None,
    fps: float = 30.0,
    frame: str = "camera",
    max_influences: int | None = None,
) -> AnnyRig:
    """Write a rigged body (one pose, or T poses as an animation) as ``.glb``.

    Args:
        path: output file.
        body: an :class:`~lasor.body.anny_body.AnnyBody`.
        global_orient, body_pose, shape, translation, frame, max_influences: as in
            :func:`lasor.io.rig.anny_rig` ((T, 3, 3), (T, P, 3, 3), (S,) or (T, S), (T, 3)).
        fps: frames per second of the animation (T > 1).

    Returns:
        the :class:`~lasor.io.rig.AnnyRig` that was written (its ``vertices`` are lasor's own).
    """
    rig = anny_rig(body, global_orient, body_pose, shape, translation, frame, max_influences)
    write_rig_glb(path, rig, fps=fps)
    return rig


def _local_transforms(rig: AnnyRig, glob: np.ndarray) -> np.ndarray:
    """(..., J, 4, 4) global transforms -> local (relative to the parent) transforms."""
    local = glob.copy()
    for j, p in enumerate(rig.parents.tolist()):
        if p >= 0:
            local[..., j, :, :] = np.linalg.inv(glob[..., p, :, :]) @ glob[..., j, :, :]
    return local


def _quat_xyzw(rot: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) -> (T, J, 4) unit quaternions (x, y, z, w), sign-continuous over frames."""
    t, j = rot.shape[:2]
    q = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat().reshape(t, j, 4)
    for k in range(1, t):  # shortest path for LINEAR (slerp) interpolation
        flip = (q[k] * q[k - 1]).sum(-1) < 0
        q[k, flip] *= -1
    return q


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals."""
    v = vertices.astype(np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
    return n.astype(np.float32)


class _Buffer:
    """Accumulates binary chunks and their bufferViews/accessors."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, arr: np.ndarray, ctype: int, atype: str, target: int | None = None,
            minmax: bool = False) -> int:  # fmt: skip
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(arr).tobytes()
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.data += raw
        self.views.append(view)
        count = arr.shape[0]
        acc = {"bufferView": len(self.views) - 1, "componentType": ctype, "count": count,
               "type": atype}  # fmt: skip
        if minmax:
            flat = arr.reshape(count, -1)
            acc["min"] = [float(x) for x in flat.min(0)]
            acc["max"] = [float(x) for x in flat.max(0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def write_rig_glb(path: str | Path, rig: AnnyRig, fps: float = 30.0) -> None:
    """Write an :class:`~lasor.io.rig.AnnyRig` as ``.glb`` (see the module docstring)."""
    path = Path(path)
    buf = _Buffer()
    nj = rig.num_bones
    attrs = {
        "POSITION": buf.add(rig.rest_vertices.astype(np.float32), _FLOAT, "VEC3",
                            _ARRAY_BUFFER, minmax=True),
        "NORMAL": buf.add(vertex_normals(rig.rest_vertices, rig.faces), _FLOAT, "VEC3",
                          _ARRAY_BUFFER),
    }  # fmt: skip
    k = rig.weights.shape[1]
    kk = -(-k // 4) * 4
    w = np.zeros((rig.weights.shape[0], kk), np.float32)
    jn = np.zeros((rig.weights.shape[0], kk), np.uint16 if nj > 255 else np.uint8)
    w[:, :k] = rig.weights
    jn[:, :k] = rig.joints
    jtype = _USHORT if nj > 255 else _UBYTE
    for s in range(kk // 4):
        attrs[f"JOINTS_{s}"] = buf.add(jn[:, 4 * s : 4 * s + 4], jtype, "VEC4", _ARRAY_BUFFER)
        attrs[f"WEIGHTS_{s}"] = buf.add(w[:, 4 * s : 4 * s + 4], _FLOAT, "VEC4", _ARRAY_BUFFER)
    indices = buf.add(rig.faces.astype(np.uint32).reshape(-1), _UINT, "SCALAR",
                      _ELEMENT_ARRAY_BUFFER)  # fmt: skip
    ibm = np.linalg.inv(rig.bind).astype(np.float32)
    ibm_acc = buf.add(np.ascontiguousarray(ibm.transpose(0, 2, 1)), _FLOAT, "MAT4")  # column-major

    local = _local_transforms(rig, rig.posed)  # (T, J, 4, 4)
    quat = _quat_xyzw(local[..., :3, :3])
    trans = local[..., :3, 3]
    children: list[list[int]] = [[] for _ in range(nj)]
    for j, p in enumerate(rig.parents.tolist()):
        if p >= 0:
            children[p].append(j)
    nodes = []
    for j in range(nj):
        node = {
            "name": rig.bone_names[j],
            "rotation": [float(x) for x in quat[0, j]],
            "translation": [float(x) for x in trans[0, j]],
        }
        if children[j]:
            node["children"] = children[j]
        nodes.append(node)
    mesh_node = nj
    nodes.append({"name": "body", "mesh": 0, "skin": 0})
    gltf: dict = {
        "asset": {"version": "2.0", "generator": "lasor"},
        "scene": 0,
        "scenes": [{"name": "lasor", "nodes": [0, mesh_node]}],
        "nodes": nodes,
        "meshes": [{"name": "body", "primitives": [
            {"attributes": attrs, "indices": indices, "material": 0, "mode": 4}]}],
        "materials": [{"name": "body", "pbrMetallicRoughness": {
            "baseColorFactor": [0.62, 0.72, 0.86, 1.0], "metallicFactor": 0.0,
            "roughnessFactor": 0.7}}],
        "skins": [{"name": "anny", "joints": list(range(nj)), "skeleton": 0,
                   "inverseBindMatrices": ibm_acc}],
        "extras": {"lasor": {"shape_names": rig.shape_names,
                             "shape": [float(x) for x in rig.shape],
                             "frames": rig.num_frames, "fps": float(fps)}},
    }  # fmt: skip
    if rig.num_frames > 1:
        times = (np.arange(rig.num_frames, dtype=np.float32) / np.float32(fps)).reshape(-1, 1)
        t_acc = buf.add(times, _FLOAT, "SCALAR", minmax=True)
        samplers, channels = [], []
        for j in range(nj):
            r_acc = buf.add(quat[:, j].astype(np.float32), _FLOAT, "VEC4")
            samplers.append({"input": t_acc, "output": r_acc, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1,
                             "target": {"node": j, "path": "rotation"}})  # fmt: skip
        p_acc = buf.add(trans[:, 0].astype(np.float32), _FLOAT, "VEC3")
        samplers.append({"input": t_acc, "output": p_acc, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1,
                         "target": {"node": 0, "path": "translation"}})  # fmt: skip
        gltf["animations"] = [{"name": "lasor_motion", "samplers": samplers,
                               "channels": channels}]  # fmt: skip
    while len(buf.data) % 4:
        buf.data.append(0)
    gltf["buffers"] = [{"byteLength": len(buf.data)}]
    gltf["bufferViews"] = buf.views
    gltf["accessors"] = buf.accessors
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    total = 12 + 8 + len(js) + 8 + len(buf.data)
    path.parent.mkdir(parents=True, exist_ok=True)
    from lasor.io.atomic import write_bytes

    write_bytes(
        path,
        struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(js), b"JSON") + js
        + struct.pack("<I4s", len(buf.data), b"BIN\x00") + bytes(buf.data),
    )  # fmt: skip
    log.debug("wrote %s (%d bones, %d frames)", path, nj, rig.num_frames)
