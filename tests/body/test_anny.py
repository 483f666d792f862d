import time

import pytest
import torch

from lasor.body import load_body_model, mirror_pose
from lasor.body.anny_body import ANNY_POSE_BONES


@pytest.fixture(scope="module")
def small():
    return load_body_model("anny", topology="notoes_collapse10pc")


@pytest.fixture(scope="module")
def full():
    return load_body_model("anny")


def _rand_pose(b, p, scale=0.4, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    aa = torch.randn(b, p + 1, 3, generator=g, dtype=dtype) * scale
    return torch.linalg.matrix_exp(_skew(aa))


def _skew(v):
    z = torch.zeros_like(v[..., 0])
    return torch.stack(
        [z, -v[..., 2], v[..., 1], v[..., 2], z, -v[..., 0], -v[..., 1], v[..., 0], z], -1
    ).reshape(*v.shape, 3)


def test_shapes_and_dtypes(small):
    out = small.neutral(3)
    assert out.vertices.shape == (3, 1229, 3)
    assert out.faces.shape == (2454, 3) and out.faces.dtype == torch.int64
    assert out.joints.shape == (3, 20, 3)
    assert out.keypoints_coco.shape == (3, 17, 3)
    assert out.joints_h36m.shape == (3, 17, 3)
    assert out.bone_transforms.shape == (3, 20, 4, 4)
    assert out.vertices.dtype == torch.float32
    assert small.num_pose_bones == len(ANNY_POSE_BONES) == 19
    assert small.num_shape == 6


def test_full_topology_sizes(full):
    out = full.neutral(1)
    assert out.vertices.shape == (1, 13718, 3)
    assert out.faces.shape == (27420, 3)


def test_body_frame_conventions(small):
    """Y up, facing +Z, left = +X, pelvis at the origin, adult height."""
    out = small.neutral(1)
    v = out.vertices[0]
    kp = out.keypoints_coco[0]
    assert torch.allclose(out.joints[0, 0], torch.zeros(3), atol=1e-5)
    assert kp[0, 1] > kp[11, 1] > kp[15, 1]  # nose above hips above ankles
    assert kp[0, 2] > 0.05  # the nose points to +Z
    assert kp[5, 0] > 0 > kp[6, 0]  # left shoulder at +X
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.5 < height < 2.0


def test_topologies_agree(small, full):
    """Same pose and shape -> same skeleton and (nearly) the same keypoints on both meshes."""
    rot = _rand_pose(4, 19, seed=1)
    shape = torch.rand(4, 6, generator=torch.Generator().manual_seed(2))
    a = small(rot[:, 0], rot[:, 1:], shape)
    b = full(rot[:, 0], rot[:, 1:], shape)
    assert torch.allclose(a.joints, b.joints, atol=1e-4)
    err = (a.keypoints_coco - b.keypoints_coco).norm(dim=-1)
    assert err.mean() < 0.015 and err.max() < 0.05


def test_batch_consistency(small):
    rot = _rand_pose(3, 19, seed=3)
    shape = torch.rand(3, 6, generator=torch.Generator().manual_seed(4))
    batch = small(rot[:, 0], rot[:, 1:], shape)
    one = small(rot[1:2, 0], rot[1:2, 1:], shape[1:2])
    assert torch.allclose(batch.vertices[1:2], one.vertices, atol=1e-5)


def test_global_orient_rotates_about_pelvis(small):
    rot = _rand_pose(1, 19, seed=5)
    shape = small.shape_default[None]
    a = small(torch.eye(3)[None], rot[:, 1:], shape)
    r = _rand_pose(1, 0, scale=1.0, seed=6)[:, 0]
    b = small(r, rot[:, 1:], shape)
    assert torch.allclose(a.vertices @ r[0].T, b.vertices, atol=1e-4)


def test_bone_rotation_moves_only_its_subtree(small):
    """Bending the left elbow moves the left wrist, not the right one, keeps bone lengths."""
    eye = torch.eye(3)[None]
    pose = torch.eye(3).repeat(1, 19, 1, 1)
    i = small.pose_bones.index("lowerarm01.L")
    pose[0, i] = _rand_pose(1, 0, scale=0.0)[0, 0]
    r = torch.tensor([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # 90 deg about X
    pose[0, i] = r
    shape = small.shape_default[None]
    a = small(eye, torch.eye(3).repeat(1, 19, 1, 1), shape)
    b = small(eye, pose, shape)
    j = {n: k + 1 for k, n in enumerate(small.pose_bones)}
    assert (a.joints[0, j["wrist.L"]] - b.joints[0, j["wrist.L"]]).norm() > 0.05
    assert torch.allclose(a.joints[0, j["wrist.R"]], b.joints[0, j["wrist.R"]], atol=1e-5)
    la = (a.joints[0, j["wrist.L"]] - a.joints[0, j["lowerarm01.L"]]).norm()
    lb = (b.joints[0, j["wrist.L"]] - b.joints[0, j["lowerarm01.L"]]).norm()
    assert torch.allclose(la, lb, atol=1e-5)
    # local-ref semantics: the forearm direction is rotated by r in body-frame axes
    da = a.joints[0, j["wrist.L"]] - a.joints[0, j["lowerarm01.L"]]
    db = b.joints[0, j["wrist.L"]] - b.joints[0, j["lowerarm01.L"]]
    assert torch.allclose(r @ da, db, atol=1e-4)


def test_mirror_pose_mirrors_the_body(small):
    rot = _rand_pose(2, 19, seed=7)
    shape = small.shape_default.expand(2, -1)
    go, bp = mirror_pose(rot[:, 0], rot[:, 1:], small.left_right_pairs)
    a = small(rot[:, 0], rot[:, 1:], shape).keypoints_coco
    b = small(go, bp, shape).keypoints_coco
    flip = torch.tensor([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
    mirrored = b[:, flip] * torch.tensor([-1.0, 1.0, 1.0])
    assert (a - mirrored).norm(dim=-1).max() < 0.02  # the body itself is nearly symmetric
    go2, bp2 = mirror_pose(go, bp, small.left_right_pairs)
    assert torch.allclose(go2, rot[:, 0]) and torch.allclose(bp2, rot[:, 1:])


def test_shape_changes_height(small):
    eye = torch.eye(3)[None].expand(2, 3, 3)
    pose = torch.eye(3).repeat(2, 19, 1, 1)
    shape = small.shape_default.repeat(2, 1)
    shape[0, 4], shape[1, 4] = 0.0, 1.0  # height
    v = small(eye, pose, shape).vertices
    h = v[..., 1].amax(1) - v[..., 1].amin(1)
    assert h[1] > h[0] + 0.1


def test_gradients_match_finite_differences(small):
    """d(keypoints)/d(rotation, shape) against central differences (float64 model copy)."""
    import copy

    m = copy.deepcopy(small).double()
    g = torch.Generator().manual_seed(8)
    aa = (torch.randn(1, 20, 3, generator=g, dtype=torch.float64) * 0.3).requires_grad_()
    # away from the phenotype interpolation anchors (0, 1/3, 0.5, 2/3, 1), where it has kinks
    shape = torch.tensor([[0.3, 0.6, 0.4, 0.6, 0.45, 0.55]], dtype=torch.float64).requires_grad_()

    def f(aa_, sh_):
        r = torch.linalg.matrix_exp(_skew(aa_))
        return m(r[:, 0], r[:, 1:], sh_).keypoints_coco.sum(-1)[0, [0, 9, 15]]

    assert torch.autograd.gradcheck(f, (aa, shape), eps=1e-6, atol=1e-5)


def test_check_inputs(small):
    with pytest.raises(ValueError, match="body_pose"):
        small(torch.eye(3)[None], torch.eye(3).repeat(1, 5, 1, 1), small.shape_default[None])


def test_unknown_topology():
    with pytest.raises(ValueError, match="smpl"):
        load_body_model("anny", topology="smpl")


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import time; t=time.perf_counter(); import lasor, lasor.cli; print(time.perf_counter()-t)"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1.0, out.stdout
    assert time.perf_counter() - t < 10
    mods = subprocess.run(
        [sys.executable, "-c", "import sys, lasor.cli; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert mods.stdout.strip() == "False"


def test_bone_transforms_map_rest_joints_to_posed(small):
    rot = _rand_pose(2, 19, seed=9)
    shape = torch.rand(2, 6, generator=torch.Generator().manual_seed(10))
    posed = small(rot[:, 0], rot[:, 1:], shape)
    # the unposed template's joints, pelvis at the origin, in the body frame
    with torch.no_grad():
        heads = small.anny(phenotype_kwargs=shape)["rest_bone_heads"]
    heads = (heads - heads[:, :1]) @ small.to_body.T
    rest_joints = heads[:, small.joint_index]
    t = posed.bone_transforms
    mapped = (t[..., :3, :3] @ rest_joints[..., None])[..., 0] + t[..., :3, 3]
    assert torch.allclose(mapped, posed.joints, atol=1e-4)
    # default shape: the identity pose is the template, its transforms are identities
    eye = torch.eye(3)
    rest = small(eye[None], eye.expand(1, 19, 3, 3), small.shape_default[None])
    assert torch.allclose(rest.bone_transforms, torch.eye(4).expand(1, 20, 4, 4), atol=1e-5)
