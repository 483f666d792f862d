"""Rigged exports: .glb read back with pygltflib and skinned by hand; .bvh via lasor's reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lasor.body import load_body_model
from lasor.body.rotations import axis_angle_to_rotmat
from lasor.io.bvh_export import write_bvh
from lasor.io.gltf import write_glb
from lasor.io.rig import CAMERA_TO_Y_UP

pygltflib = pytest.importorskip("pygltflib", reason="pygltflib (dev extra) reads the .glb back")

T = 3
#: all of Anny's weights are written, so the file's plain LBS equals Anny's own skinning up to
#: float32 storage (measured: 0.0003 mm max over 13,718 vertices); 4 influences: see below
TOL_ALL_M = 1e-5


@pytest.fixture(scope="module")
def body():
    return load_body_model("anny")


@pytest.fixture(scope="module")
def motion():
    g = torch.Generator().manual_seed(0)
    go = axis_angle_to_rotmat(torch.randn(T, 3, generator=g) * 0.5)
    bp = axis_angle_to_rotmat(torch.randn(T, 19, 3, generator=g) * 0.4)
    shape = torch.rand(6, generator=g)
    tr = torch.tensor([[0.1, 0.2, 3.0], [0.2, 0.1, 3.1], [0.3, 0.0, 3.2]])
    return go, bp, shape, tr


def _reference_vertices(body, go, bp, shape, tr) -> np.ndarray:
    """lasor's own posed vertices, in the file's frame (camera frame turned to Y up)."""
    with torch.no_grad():
        v = body(go, bp, shape.expand(go.shape[0], -1)).vertices.double().numpy()
    return (v + tr.double().numpy()[:, None]) @ CAMERA_TO_Y_UP.T


def _accessor(gl, i: int) -> np.ndarray:
    acc = gl.accessors[i]
    view = gl.bufferViews[acc.bufferView]
    blob = gl.binary_blob()
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}[acc.componentType]
    n = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    arr = np.frombuffer(blob, dtype=dtype, count=acc.count * n, offset=start)
    return arr.reshape(acc.count, n) if n > 1 else arr


def _trs(rotation, translation) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    m = np.eye(4)
    m[:3, :3] = Rotation.from_quat(np.asarray(rotation, np.float64)).as_matrix()
    m[:3, 3] = translation
    return m


def _skin_from_file(gl, frame: int | None) -> np.ndarray:
    """Re-pose the file's mesh with my own LBS over its nodes, skin and (optionally) animation."""
    nodes = gl.nodes
    rot = {j: n.rotation for j, n in enumerate(nodes)}
    trans = {j: n.translation for j, n in enumerate(nodes)}
    if frame is not None:
        anim = gl.animations[0]
        for ch in anim.channels:
            out = _accessor(gl, anim.samplers[ch.sampler].output)[frame]
            (rot if ch.target.path == "rotation" else trans)[ch.target.node] = out
    glob: dict[int, np.ndarray] = {}

    def visit(j: int, parent: np.ndarray) -> None:
        glob[j] = parent @ _trs(rot[j], [0, 0, 0] if trans[j] is None else trans[j])
        for c in nodes[j].children or []:
            visit(c, glob[j])

    visit(gl.skins[0].skeleton, np.eye(4))
    skin = gl.skins[0]
    ibm = _accessor(gl, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    tf = np.stack([glob[j] for j in skin.joints]) @ ibm.astype(np.float64)
    prim = gl.meshes[0].primitives[0]
    a = prim.attributes
    v = _accessor(gl, a.POSITION).astype(np.float64)
    sets = [(getattr(a, f"JOINTS_{s}", None), getattr(a, f"WEIGHTS_{s}", None)) for s in range(3)]
    joints = np.concatenate([_accessor(gl, j) for j, w in sets if j is not None], 1)
    weights = np.concatenate([_accessor(gl, w) for j, w in sets if j is not None], 1)
    blend = np.einsum("vk,vkij->vij", weights.astype(np.float64), tf[joints.astype(np.int64)])
    return np.einsum("vij,vj->vi", blend[:, :3, :3], v) + blend[:, :3, 3]


def test_glb_motion_reads_back_and_skins_to_lasor_vertices(tmp_path, body, motion):
    go, bp, shape, tr = motion
    path = tmp_path / "motion.glb"
    write_glb(path, body, go, bp, shape, tr, fps=25)
    gl = pygltflib.GLTF2().load(str(path))
    nb = len(body.bone_labels)
    assert len(gl.skins) == 1 and len(gl.skins[0].joints) == nb == 104
    assert [gl.nodes[j].name for j in gl.skins[0].joints] == body.bone_labels
    assert gl.meshes[0].primitives[0].attributes.JOINTS_0 is not None
    assert gl.skins[0].inverseBindMatrices is not None
    anim = gl.animations[0]
    times = _accessor(gl, anim.samplers[0].input)
    np.testing.assert_allclose(times, np.arange(T) / 25.0, atol=1e-7)
    ref = _reference_vertices(body, go, bp, shape, tr)
    for t in range(T):
        got = _skin_from_file(gl, t)
        assert np.abs(got - ref[t]).max() < TOL_ALL_M
    # the static node TRS is the first frame
    assert np.abs(_skin_from_file(gl, None) - ref[0]).max() < TOL_ALL_M
    faces = _accessor(gl, gl.meshes[0].primitives[0].indices).reshape(-1, 3)
    np.testing.assert_array_equal(faces, body.faces.numpy())


def test_glb_single_pose_four_influences(tmp_path, body, motion):
    """Four weights per vertex (what three.js and most engines read): the measured gap."""
    go, bp, shape, tr = (x[:1] if x.ndim > 1 else x for x in motion)
    path = tmp_path / "pose.glb"
    write_glb(path, body, go[0], bp[0], shape, tr[0], max_influences=4)
    gl = pygltflib.GLTF2().load(str(path))
    assert not gl.animations
    assert getattr(gl.meshes[0].primitives[0].attributes, "JOINTS_1", None) is None
    ref = _reference_vertices(body, go, bp, shape, tr)[0]
    err = np.linalg.norm(_skin_from_file(gl, None) - ref, axis=1)
    # measured (seed 0, random pose): max 19 mm, mean 0.18 mm, 99th percentile 4.5 mm
    assert err.max() < 0.03 and err.mean() < 0.0005
    assert err.max() > TOL_ALL_M  # truncation really changes something


def test_bvh_round_trips_through_lasor_reader(tmp_path, body, motion):
    from lasor.synth.bvh import forward_kinematics, guess_units_to_metres, read_bvh

    go, bp, shape, tr = motion
    path = tmp_path / "motion.bvh"
    write_bvh(path, body, go, bp, shape, tr, fps=25)
    m = read_bvh(path)
    assert m.num_frames == T and abs(m.fps - 25) < 1e-4
    sk = m.skeleton
    assert guess_units_to_metres(sk) == 1.0
    idx = [sk.index(n) for n in body.bone_labels]
    pos, rot = forward_kinematics(sk, m.local_rotations(), m.local_translations())
    with torch.no_grad():
        joints = body(go, bp, shape.expand(T, -1)).joints.double().numpy()
    ref = (joints + tr.double().numpy()[:, None]) @ CAMERA_TO_Y_UP.T
    want = [0, *[body.bone_labels.index(b) for b in body.pose_bones]]
    got = pos[:, idx].numpy()[:, want]
    assert np.abs(got - ref).max() < 1e-4  # 0.1 mm (6-decimal text)
    # rest pose: Y up, about a person's height tall
    rest = sk.rest_positions()
    assert 1.2 < np.ptp(rest[:, 1]) < 2.2
    assert rot.shape == (T, sk.num_joints, 3, 3)


def test_rig_rejects_bad_inputs(body, motion):
    from lasor.io.rig import anny_rig

    go, bp, shape, _ = motion
    with pytest.raises(ValueError, match="body_pose"):
        anny_rig(body, go, bp[:, :5], shape)
    with pytest.raises(ValueError, match="frames"):
        anny_rig(body, go[:2], bp, shape)
    with pytest.raises(TypeError, match="Anny"):
        anny_rig(object(), go, bp, shape)


def test_motion_exports_from_person_results(tmp_path, body, motion):
    """A video's per-frame results -> one animated .glb and a T-frame .bvh (mean shape)."""
    from types import SimpleNamespace

    from lasor.io.export import write_motion_exports
    from lasor.synth.bvh import read_bvh

    go, bp, shape, tr = motion
    frames = [
        SimpleNamespace(global_orient_rotmat=go[t].numpy(), body_pose_rotmat=bp[t].numpy(),
                        shape=shape.numpy() + 0.01 * t, cam_t=tr[t].numpy())
        for t in range(T)
    ]  # fmt: skip
    paths = write_motion_exports(tmp_path, "clip", frames, body, ("glb", "bvh"), fps=10)
    assert [p.name for p in paths] == ["clip.glb", "clip.bvh"]
    gl = pygltflib.GLTF2().load(str(paths[0]))
    assert _accessor(gl, gl.animations[0].samplers[0].input)[-1] == pytest.approx(0.2)
    np.testing.assert_allclose(gl.extras["lasor"]["shape"], shape.numpy() + 0.01, atol=1e-6)
    ref = _reference_vertices(body, go, bp, shape[None] + 0.01, tr)
    assert np.abs(_skin_from_file(gl, T - 1) - ref[T - 1]).max() < TOL_ALL_M
    assert read_bvh(paths[1]).num_frames == T
