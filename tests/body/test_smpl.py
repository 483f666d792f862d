import os
import pickle
import sys

import numpy as np
import pytest
import torch

from lasor.body.base import BodyOutput, mirror_pose
from lasor.body.joints import COCO17_FLIP, H36M_JOINTS
from lasor.body.rotations import axis_angle_to_rotmat
from lasor.body.smpl import (
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    SMPLBody,
    build_smpl_body,
    find_smpl_file,
    load_smpl,
    read_smpl_file,
)

V = 6890
HALF = V // 2


@pytest.fixture(scope="module")
def smpl(fake_smpl_file) -> SMPLBody:
    return load_smpl(fake_smpl_file)


@pytest.fixture(scope="module")
def arrays(fake_smpl_file) -> dict[str, np.ndarray]:
    """The model's arrays as the model holds them (rounded to float32), in float64."""
    a = read_smpl_file(fake_smpl_file)
    return {
        k: v.astype(np.float32).astype(np.float64) if v.dtype == np.float64 else v
        for k, v in a.items()
    }


def _random_inputs(b, seed=0, scale=0.6, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    aa = scale * torch.randn(b, 24, 3, generator=g, dtype=torch.float64)
    rot = axis_angle_to_rotmat(aa).to(dtype)
    betas = torch.randn(b, 10, generator=g, dtype=torch.float64).to(dtype)
    return rot[:, 0], rot[:, 1:], betas


def _reference_smpl(a, rot, betas):
    """Straightforward numpy SMPL (float64) for one body: returns re-centred vertices, joints."""
    vs = a["v_template"] + a["shapedirs"][:, :, : len(betas)] @ betas
    j = a["J_regressor"] @ vs
    # re-centre the rest body first (LBS commutes with translation only if weights sum to 1)
    vs, j = vs - j[0], j - j[0]
    vp = vs + a["posedirs"] @ (rot[1:] - np.eye(3)).ravel()
    g = np.zeros((24, 4, 4))
    for i, p in enumerate(SMPL_PARENTS):
        local = np.eye(4)
        local[:3, :3] = rot[i]
        local[:3, 3] = j[i] - (j[p] if p >= 0 else 0.0)
        g[i] = local if p < 0 else g[p] @ local
    a_ = g.copy()
    a_[:, :3, 3] -= np.einsum("jab,jb->ja", g[:, :3, :3], j)
    t = np.einsum("vj,jab->vab", a["weights"], a_)
    verts = np.einsum("vab,vb->va", t[:, :3, :3], vp) + t[:, :3, 3]
    return verts, g[:, :3, 3]


# --- loading --------------------------------------------------------------------------------


def test_load_all_variants_without_chumpy(fake_smpl_variants, monkeypatch):
    monkeypatch.setitem(sys.modules, "chumpy", None)  # `import chumpy` would now fail
    with pytest.raises(ImportError):
        import chumpy  # noqa: F401
    ref = read_smpl_file(fake_smpl_variants["npz"])
    for key in ("chumpy_pkl", "plain_pkl"):
        got = read_smpl_file(fake_smpl_variants[key])
        assert set(got) == set(ref)
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k], err_msg=f"{key}:{k}")
    assert ref["kintree_table"][0].tolist() == SMPL_PARENTS
    assert ref["f"].dtype == np.int64 and ref["J_regressor"].shape == (24, V)
    np.testing.assert_allclose(ref["J_regressor"].sum(1), 1.0)


def test_folder_and_genders(fake_smpl_variants):
    folder = fake_smpl_variants["folder"]
    assert find_smpl_file(folder).name == "SMPL_NEUTRAL.pkl"
    assert find_smpl_file(folder, "male").name == "basicmodel_m_lbs_10_207_0_v1.0.0.pkl"
    assert find_smpl_file(folder, "female").name == "SMPL_FEMALE.npz"
    for gender in ("neutral", "male", "female"):
        m = load_smpl(folder, gender=gender)
        assert m.gender == gender and m.version.startswith(("SMPL_", "basicmodel"))
    m = load_smpl(fake_smpl_variants["npz"], num_betas=4)
    assert m.shape_names == ["beta0", "beta1", "beta2", "beta3"]
    assert m.num_shape == 4 and m.shape_default.shape == (4,)
    assert isinstance(build_smpl_body(folder, "female"), SMPLBody)
    with pytest.raises(ValueError, match="gender"):
        find_smpl_file(folder, "other")
    with pytest.raises(ValueError, match="num_betas"):
        load_smpl(folder, num_betas=11)


def test_smpl_subfolder(fake_smpl_file, tmp_path):
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").symlink_to(fake_smpl_file)
    assert find_smpl_file(tmp_path) == tmp_path / "smpl" / "SMPL_NEUTRAL.pkl"


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_smpl(tmp_path, gender="female")
    msg = str(e.value)
    assert "SMPL_FEMALE.pkl" in msg and "basicmodel_f_lbs_10_207_0_v1.1.0.pkl" in msg
    assert str(tmp_path) in msg and "smpl.is.tue.mpg.de" in msg and "license" in msg
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        load_smpl(tmp_path / "nope.pkl")


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_refuses_arbitrary_pickled_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="getcwd"):
        read_smpl_file(path)


def test_rejects_wrong_shapes(arrays):
    bad = dict(arrays, kintree_table=np.zeros((2, 24), dtype=np.int64))
    with pytest.raises(ValueError, match="kinematic tree"):
        SMPLBody(bad)
    with pytest.raises(ValueError, match="weights"):
        SMPLBody(dict(arrays, weights=arrays["weights"][:, :23]))


# --- forward --------------------------------------------------------------------------------


def test_forward_shapes_and_dtypes(smpl):
    assert smpl.pose_bones == SMPL_JOINT_NAMES[1:] and smpl.num_pose_bones == 23
    assert smpl.num_vertices == V and smpl.name == "smpl"
    go, bp, betas = _random_inputs(3)
    out = smpl(go, bp, betas)
    assert isinstance(out, BodyOutput)
    assert out.vertices.shape == (3, V, 3) and out.vertices.dtype == torch.float32
    assert out.faces.shape == (13776, 3) and out.faces.dtype == torch.int64
    assert out.joints.shape == (3, 24, 3)
    assert out.keypoints_coco.shape == (3, 17, 3)
    assert out.joints_h36m.shape == (3, len(H36M_JOINTS), 3)
    assert out.bone_transforms.shape == (3, 24, 4, 4)
    for t in (out.joints, out.keypoints_coco, out.joints_h36m, out.bone_transforms):
        assert t.dtype == torch.float32
    # pelvis at the origin, H36M pelvis too
    torch.testing.assert_close(out.joints[:, 0], torch.zeros(3, 3))
    torch.testing.assert_close(out.joints_h36m[:, 0], torch.zeros(3, 3))
    with pytest.raises(ValueError):
        smpl(go, bp[:, :22], betas)
    # no licensed data in state_dict
    assert len(smpl.state_dict()) == 0


def test_matches_reference_implementation(smpl, arrays):
    go, bp, betas = _random_inputs(2, seed=1, dtype=torch.float64)
    out = smpl.double()(go, bp, betas)
    smpl.float()
    rot = torch.cat([go[:, None], bp], 1).numpy()
    for i in range(2):
        verts, joints = _reference_smpl(arrays, rot[i], betas[i].numpy())
        np.testing.assert_allclose(out.vertices[i].numpy(), verts, atol=1e-10)
        np.testing.assert_allclose(out.joints[i].numpy(), joints, atol=1e-10)


def test_batch_consistency(smpl):
    go, bp, betas = _random_inputs(3, seed=2)
    out = smpl(go, bp, betas)
    for i in range(3):
        one = smpl(go[i : i + 1], bp[i : i + 1], betas[i : i + 1])
        for k in ("vertices", "joints", "keypoints_coco", "joints_h36m", "bone_transforms"):
            torch.testing.assert_close(getattr(one, k)[0], getattr(out, k)[i], atol=1e-5, rtol=0)


def test_identity_pose_is_rest_shape(smpl, arrays):
    g = torch.Generator().manual_seed(3)
    betas = torch.randn(2, 10, generator=g, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    out = smpl.double()(eye.expand(2, 3, 3), eye.expand(2, 23, 3, 3), betas)
    smpl.float()
    vs = arrays["v_template"][None] + np.einsum("vcs,bs->bvc", arrays["shapedirs"], betas.numpy())
    j = np.einsum("jv,bvc->bjc", arrays["J_regressor"], vs)
    np.testing.assert_allclose(out.vertices.numpy(), vs - j[:, :1], atol=1e-12)
    np.testing.assert_allclose(out.joints.numpy(), j - j[:, :1], atol=1e-12)
    eye4 = torch.eye(4, dtype=torch.float64).expand(2, 24, 4, 4)
    torch.testing.assert_close(out.bone_transforms, eye4)
    # neutral() is the rest pose with zero betas
    n = smpl.neutral(2)
    assert n.vertices.shape == (2, V, 3)
    np.testing.assert_allclose(
        n.vertices[0].numpy(),
        arrays["v_template"] - arrays["J_regressor"][0] @ arrays["v_template"],
        atol=1e-5,
    )


def test_global_orient_rotates_about_pelvis(smpl):
    go, bp, betas = _random_inputs(2, seed=4)
    eye = torch.eye(3).expand(2, 3, 3)
    base = smpl(eye, bp, betas)
    out = smpl(go, bp, betas)
    rot = lambda x: x @ go.transpose(1, 2)  # noqa: E731  (row vectors)
    for k in ("vertices", "joints", "keypoints_coco", "joints_h36m"):
        torch.testing.assert_close(getattr(out, k), rot(getattr(base, k)), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out.bone_transforms[..., :3, :3],
        go[:, None] @ base.bone_transforms[..., :3, :3],
        atol=1e-5,
        rtol=0,
    )


def test_bone_transforms_map_rest_joints(smpl):
    go, bp, betas = _random_inputs(2, seed=5)
    eye = torch.eye(3)
    rest = smpl(eye.expand(2, 3, 3), eye.expand(2, 23, 3, 3), betas)
    out = smpl(go, bp, betas)
    t = out.bone_transforms
    mapped = (t[..., :3, :3] @ rest.joints[..., None])[..., 0] + t[..., :3, 3]
    torch.testing.assert_close(mapped, out.joints, atol=1e-5, rtol=0)
    r = t[..., :3, :3]
    torch.testing.assert_close(
        r @ r.transpose(-1, -2), torch.eye(3).expand_as(r), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(t[..., 3, :], torch.tensor([0.0, 0, 0, 1]).expand(2, 24, 4))


def test_keypoint_definitions(smpl):
    go, bp, betas = _random_inputs(1, seed=6)
    out = smpl(go, bp, betas)
    j, v, kp = out.joints[0], out.vertices[0], out.keypoints_coco[0]
    torch.testing.assert_close(kp[:5], v[[332, 2800, 6260, 583, 4071]])
    torch.testing.assert_close(kp[5:11], j[[16, 17, 18, 19, 20, 21]])
    torch.testing.assert_close(kp[13:], j[[4, 5, 7, 8]])
    h = out.joints_h36m[0]
    torch.testing.assert_close(h[[2, 3, 5, 6]], j[[5, 8, 4, 7]])
    torch.testing.assert_close(h[11:], j[[16, 18, 20, 17, 19, 21]])
    torch.testing.assert_close(h[8], j[12])
    torch.testing.assert_close(0.5 * (h[1] + h[4]), h[0])  # H36M pelvis = mid-hips


# --- gradients ------------------------------------------------------------------------------


def test_gradients_flow_float32(smpl):
    go, bp, betas = _random_inputs(2, seed=7)
    go, bp, betas = (x.clone().requires_grad_() for x in (go, bp, betas))
    out = smpl(go, bp, betas)
    (out.vertices.square().sum() + out.joints_h36m.sum() + out.keypoints_coco.sum()).backward()
    for x in (go, bp, betas):
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradcheck_float64(fake_smpl_file):
    m = load_smpl(fake_smpl_file, num_betas=3).double()
    idx = torch.tensor([0, 332, 1000, 2500, 4000, 6889])
    bones = [0, 4, 16, 18]  # root, left knee, left shoulder, left elbow; others fixed
    g = torch.Generator().manual_seed(8)
    aa_fixed = 0.3 * torch.randn(1, 24, 3, generator=g, dtype=torch.float64)

    def f(aa_sub, betas):
        aa = aa_fixed.clone()
        aa[:, bones] = aa_sub
        rot = axis_angle_to_rotmat(aa)
        out = m(rot[:, 0], rot[:, 1:], betas)
        return torch.cat([out.vertices[:, idx], out.joints, out.joints_h36m, out.keypoints_coco], 1)

    aa_sub = (0.3 * torch.randn(1, 4, 3, generator=g, dtype=torch.float64)).requires_grad_()
    aa_sub.data[0, 1] = 0.0  # include a zero rotation
    betas = torch.randn(1, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (aa_sub, betas), fast_mode=True)


# --- mirroring ------------------------------------------------------------------------------


def test_mirror_pose(fake_smpl_file):
    m = load_smpl(fake_smpl_file)
    m.posedirs.zero_()  # random pose blend shapes are not mirror-symmetric; the rest of the fake is
    names = m.pose_bones
    for i, j in m.left_right_pairs:
        assert names[i].replace("left", "right") == names[j]
    assert len(m.left_right_pairs) == 9

    go, bp, betas = _random_inputs(2, seed=9)
    go2, bp2 = mirror_pose(*mirror_pose(go, bp, m.left_right_pairs), m.left_right_pairs)
    torch.testing.assert_close(go2, go)
    torch.testing.assert_close(bp2, bp)

    flip = torch.tensor([-1.0, 1.0, 1.0])
    out = m(go, bp, betas)
    mir = m(*mirror_pose(go, bp, m.left_right_pairs), betas)
    joint_perm = [
        0,
        2,
        1,
        3,
        5,
        4,
        6,
        8,
        7,
        9,
        11,
        10,
        12,
        14,
        13,
        15,
        17,
        16,
        19,
        18,
        21,
        20,
        23,
        22,
    ]
    vert_perm = torch.cat([torch.arange(HALF, V), torch.arange(HALF)])
    h36m_perm = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    tol = {"atol": 1e-5, "rtol": 0}
    torch.testing.assert_close(mir.joints, out.joints[:, joint_perm] * flip, **tol)
    torch.testing.assert_close(mir.vertices, out.vertices[:, vert_perm] * flip, **tol)
    torch.testing.assert_close(mir.keypoints_coco, out.keypoints_coco[:, COCO17_FLIP] * flip, **tol)
    torch.testing.assert_close(mir.joints_h36m, out.joints_h36m[:, h36m_perm] * flip, **tol)


def test_load_body_model_smpl(fake_smpl_file):
    from lasor.body import load_body_model

    m = load_body_model("smpl", model_path=fake_smpl_file.parent, gender="male")
    assert isinstance(m, SMPLBody) and m.gender == "male" and not m.training
    assert m.neutral(1).vertices.shape == (1, V, 3)
