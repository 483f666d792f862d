"""3DPW and SSP-3D loaders on tiny fabricated datasets of the official layouts + the fake SMPL."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lasor.body.rotations import axis_angle_to_rotmat
from lasor.body.smpl import load_smpl, read_smpl_file
from lasor.eval.datasets_3dpw_ssp3d import SSP3D, ThreeDPW, smpl_ground_truth

SEQ = "courtyard_fake_00"


def _rotation(aa) -> np.ndarray:
    return axis_angle_to_rotmat(torch.tensor(aa, dtype=torch.float64)).numpy()


@pytest.fixture(scope="module")
def smpl_arrays(fake_smpl_variants) -> dict[str, np.ndarray]:
    """The raw arrays of the fake SMPL files (un-centred template, joint regressor)."""
    return read_smpl_file(fake_smpl_variants["npz"])


@pytest.fixture
def smpl_dir(fake_smpl_file: Path) -> Path:
    return fake_smpl_file.parent  # neutral, male (.pkl) and female (.npz)


def _sequence(rng: np.random.Generator, frames: int = 2) -> dict:
    """A 3DPW-style sequence: person 0 only rotated + translated (exactly checkable), person 1
    random pose and shape, invalid in its last frame."""
    pose0 = np.zeros((frames, 72))
    pose0[:, :3] = [np.pi, 0.0, 0.0] - 0.1 * np.arange(frames)[:, None] * [3.0, -2.0, 1.0]
    pose1 = 0.3 * rng.standard_normal((frames, 72))
    cam_poses = np.tile(np.eye(4), (frames, 1, 1))
    for f in range(frames):
        cam_poses[f, :3, :3] = _rotation(0.2 * rng.standard_normal(3))
        cam_poses[f, :3, 3] = [0.1 * f, -0.2, 0.5]
    return {
        "sequence": SEQ,
        "genders": ["m", "f"],
        "poses": [pose0, pose1],
        "betas": [np.zeros(10), rng.standard_normal(10)],
        "trans": [np.array([[0.3, 0.9, 4.0]] * frames), rng.standard_normal((frames, 3))],
        "cam_poses": cam_poses,
        "cam_intrinsics": np.array([[1960.0, 0, 540.0], [0, 1960.0, 960.0], [0, 0, 1]]),
        "poses2d": [rng.uniform(0, 1, (frames, 3, 18)) * [[1080], [1920], [1]]] * 2,
        "campose_valid": [np.ones(frames, bool), np.arange(frames) < frames - 1],
        "img_frame_ids": np.arange(frames) * 2,
        "jointPositions": [rng.standard_normal((frames, 72)) for _ in range(2)],
    }


def _write_3dpw(root: Path, data: dict, images: bool = True) -> Path:
    seq_dir = root / "sequenceFiles" / "test"
    seq_dir.mkdir(parents=True, exist_ok=True)
    path = seq_dir / f"{data['sequence']}.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))  # read back with encoding='latin1'
    if images:
        img_dir = root / "imageFiles" / data["sequence"]
        img_dir.mkdir(parents=True, exist_ok=True)
        for f in range(len(data["cam_poses"])):
            Image.new("RGB", (6, 10)).save(img_dir / f"image_{f:05d}.jpg")
    return path


@pytest.fixture
def pw3d(tmp_path: Path) -> tuple[Path, dict]:
    data = _sequence(np.random.default_rng(0))
    _write_3dpw(tmp_path, data)
    return tmp_path, data


# ------------------------------------------------------------------------------------------------
# SMPL ground truth


def test_smpl_ground_truth_matches_smpl_conventions(smpl_dir: Path, smpl_arrays):
    body = load_smpl(smpl_dir, "male")
    v_template = smpl_arrays["v_template"]
    joints = smpl_arrays["J_regressor"] @ v_template
    gt = smpl_ground_truth(body, np.zeros((1, 72)), np.zeros(10))
    assert np.allclose(gt.vertices[0], v_template, atol=1e-5)  # SMPL's own (un-centred) frame
    assert np.allclose(gt.joints[0], joints, atol=1e-5)
    # global rotation about the pelvis, then translation, then the camera
    aa = np.array([0.3, -1.2, 0.5])
    rot, trans = _rotation(aa), np.array([0.1, -0.4, 3.0])
    cam = np.eye(4)
    cam[:3, :3], cam[:3, 3] = _rotation([0.0, 0.4, 0.1]), [0.2, 0.0, 1.0]
    pose = np.zeros((1, 72))
    pose[0, :3] = aa
    gt = smpl_ground_truth(body, pose, np.zeros((1, 10)), trans=trans[None], cam_pose=cam)
    world = (v_template - joints[0]) @ rot.T + joints[0] + trans
    assert np.allclose(gt.vertices[0], world @ cam[:3, :3].T + cam[:3, 3], atol=1e-5)
    assert gt.joints_h36m.shape == (1, 17, 3)


# ------------------------------------------------------------------------------------------------
# 3DPW


def test_3dpw_iteration_and_shapes(pw3d, smpl_dir: Path):
    root, data = pw3d
    ds = ThreeDPW(root, "test", smpl_dir=smpl_dir)
    assert ds.sequences == [SEQ] and len(ds) == 3
    items = list(ds)
    assert [i.name for i in items] == [
        f"3dpw/{SEQ}/00000/0",
        f"3dpw/{SEQ}/00000/1",
        f"3dpw/{SEQ}/00001/0",
    ]
    for item in items:
        f, p = item.extra["frame"], item.extra["person"]
        assert item.image_path == root / "imageFiles" / SEQ / f"image_{f:05d}.jpg"
        assert item.image_path.is_file() and item.image_size == (10, 6)
        assert item.gt_vertices.shape == (6890, 3) and item.gt_joints3d.shape == (17, 3)
        assert item.extra["joints_smpl"].shape == (24, 3)
        assert item.extra["gender"] == ("male", "female")[p]
        assert item.extra["img_frame_id"] == 2 * f
        assert np.allclose(item.camera.K, data["cam_intrinsics"])
        assert np.isfinite(item.gt_vertices).all()
        # COCO-18 detections -> COCO-17: nose is COCO-18 #0, left shoulder #5, right hip #8
        kp18 = data["poses2d"][p][f]
        assert np.allclose(item.gt_keypoints[0], kp18[:2, 0], atol=1e-4)
        assert np.allclose(item.gt_keypoints[5], kp18[:2, 5], atol=1e-4)
        assert np.allclose(item.gt_keypoints[12], kp18[:2, 8], atol=1e-4)
        assert item.gt_visible.all() and item.bbox is not None


def test_3dpw_camera_transform(pw3d, smpl_dir: Path, smpl_arrays):
    root, data = pw3d
    v_template = smpl_arrays["v_template"]
    pelvis = smpl_arrays["J_regressor"][0] @ v_template
    for item in ThreeDPW(root, smpl_dir=smpl_dir):
        f, p = item.extra["frame"], item.extra["person"]
        cam = data["cam_poses"][f]
        world = (item.gt_vertices.astype(np.float64) - cam[:3, 3]) @ cam[:3, :3]  # inverse
        if p == 0:  # rotation + translation only: exactly SMPL's rigid formula
            rot = _rotation(data["poses"][0][f, :3])
            expected = (v_template - pelvis) @ rot.T + pelvis + data["trans"][0][f]
            assert np.allclose(world, expected, atol=1e-4)
        # the H36M joints follow the same transform as the mesh: pelvis ~ inside the body
        assert np.linalg.norm(item.gt_joints3d[0] - item.gt_vertices.mean(0)) < 0.5
        assert np.allclose(item.extra["cam_pose"], cam)


def test_3dpw_single_person_stacked_arrays(tmp_path: Path, smpl_dir: Path):
    data = _sequence(np.random.default_rng(1), frames=3)
    single = {k: v for k, v in data.items() if k not in ("genders",)}
    single["genders"] = ["f"]
    for key in ("poses", "trans", "campose_valid", "poses2d"):
        single[key] = np.asarray(data[key][1])  # one (N, ...) array instead of a list
    single["betas"] = np.tile(data["betas"][1], (3, 1))  # per-frame betas (N, 10)
    _write_3dpw(tmp_path, single)
    items = list(ThreeDPW(tmp_path, smpl_dir=smpl_dir))
    assert [i.extra["frame"] for i in items] == [0, 1]  # last frame invalid
    assert all(i.extra["gender"] == "female" for i in items)


def test_3dpw_errors(tmp_path: Path, smpl_dir: Path, fake_smpl_variants):
    with pytest.raises(FileNotFoundError, match=r"sequenceFiles[/\\]test"):
        ThreeDPW(tmp_path, smpl_dir=smpl_dir)
    data = _sequence(np.random.default_rng(2))
    path = _write_3dpw(tmp_path, data, images=False)
    with pytest.raises(FileNotFoundError, match="imageFiles"):
        ThreeDPW(tmp_path, smpl_dir=smpl_dir)
    with pytest.raises(FileNotFoundError, match="SMPL_MALE.pkl"):
        ThreeDPW(tmp_path, check_images=False)
    only_neutral = tmp_path / "smpl"
    only_neutral.mkdir()
    (only_neutral / "SMPL_NEUTRAL.pkl").symlink_to(fake_smpl_variants["chumpy_pkl"])
    with pytest.raises(FileNotFoundError, match="No male SMPL model") as err:
        ThreeDPW(tmp_path, smpl_dir=only_neutral, check_images=False)
    assert "No female SMPL model" in str(err.value)
    explicit = {"male": fake_smpl_variants["npz"], "female": fake_smpl_variants["plain_pkl"]}
    ds = ThreeDPW(tmp_path, smpl_dir=explicit, check_images=False)
    item = next(iter(ds))
    assert item.image_size is None and item.camera.image_size is None
    with pytest.raises(ValueError, match="split"):
        ThreeDPW(tmp_path, split="val", smpl_dir=smpl_dir)
    broken = {k: v for k, v in data.items() if k != "cam_poses"}
    path.write_bytes(pickle.dumps(broken, protocol=2))
    with pytest.raises(ValueError, match="cam_poses"):
        list(ThreeDPW(tmp_path, smpl_dir=smpl_dir, check_images=False))
    path.write_bytes(pickle.dumps(dict(data, poses=[data["poses"][0][:, :69]] * 2), protocol=2))
    with pytest.raises(ValueError, match=r"poses\[0\] has shape"):
        list(ThreeDPW(tmp_path, smpl_dir=smpl_dir, check_images=False))


# ------------------------------------------------------------------------------------------------
# SSP-3D


def _write_ssp3d(root: Path, object_names: bool = False) -> dict:
    rng = np.random.default_rng(3)
    (root / "images").mkdir(parents=True)
    (root / "silhouettes").mkdir()
    names = ["a_0001.png", "b_0002.png"]
    for k, name in enumerate(names):
        Image.new("RGB", (16, 12), (k * 50, 0, 0)).save(root / "images" / name)
        sil = np.zeros((12, 16), np.uint8)
        sil[2:10, 5 + k : 9 + k] = 255
        Image.fromarray(sil).save(root / "silhouettes" / name)
    poses = 0.2 * rng.standard_normal((2, 72))
    poses[1] = 0.0
    shapes = rng.standard_normal((2, 10))
    shapes[1] = 0.0
    joints2d = np.concatenate([rng.uniform(0, 12, (2, 17, 2)), rng.uniform(0.1, 1, (2, 17, 1))], -1)
    joints2d[0, 3, 2] = 0.0
    labels = {
        "fnames": np.array(names, dtype=object if object_names else None),
        "shapes": shapes,
        "poses": poses,
        "cam_trans": np.array([[0.0, 0.2, 40.0], [0.1, -0.1, 45.0]]),
        "genders": np.array(["m", "f"]),
        "joints2D": joints2d,
        "bbox_centres": np.array([[6.0, 8.0], [5.0, 9.0]]),  # (row, column)
        "bbox_whs": np.array([10.0, 8.0]),
    }
    np.savez(root / "labels.npz", **labels)
    return labels


def test_ssp3d_items(tmp_path: Path, smpl_dir: Path, smpl_arrays):
    labels = _write_ssp3d(tmp_path, object_names=True)  # fnames as an object array
    ds = SSP3D(tmp_path, smpl_dir)
    assert len(ds) == 2
    items = list(ds)
    assert [i.name for i in items] == ["ssp3d/a_0001", "ssp3d/b_0002"]
    a, b = items
    assert a.extra["gender"] == "male" and b.extra["gender"] == "female"
    assert a.image_size == (12, 16) and a.gt_mask.shape == (12, 16) and a.gt_mask.sum() == 32
    assert a.gt_mask[2:10, 5:9].all() and b.gt_mask[2:10, 6:10].all()
    assert np.allclose(a.bbox, [3.0, 1.0, 13.0, 11.0])  # centre (row 6, col 8), side 10
    assert a.num_visible == 16 and not a.gt_visible[3]
    assert np.allclose(a.gt_keypoints[0], labels["joints2D"][0, 0, :2])
    assert np.allclose(a.camera.K, [[5000, 0, 8], [0, 5000, 6], [0, 0, 1]])
    for item in items:
        assert item.gt_tpose_vertices.shape == item.gt_vertices.shape == (6890, 3)
        assert item.gt_joints3d.shape == (17, 3)
    # zero pose and shape: camera-frame mesh = SMPL's template + cam_trans; T-pose = template
    # centred on its pelvis
    v_template = smpl_arrays["v_template"]
    pelvis = smpl_arrays["J_regressor"][0] @ v_template
    assert np.allclose(b.gt_vertices, v_template + labels["cam_trans"][1], atol=1e-4)
    assert np.allclose(b.gt_tpose_vertices, v_template - pelvis, atol=1e-5)
    # the T-pose carries the shape but not the pose
    male = load_smpl(smpl_dir, "male")
    eye = torch.eye(3)
    ref = male(eye[None], eye.expand(1, 23, 3, 3), torch.tensor(labels["shapes"][:1]).float())
    assert np.allclose(a.gt_tpose_vertices, ref.vertices[0].numpy(), atol=1e-5)
    assert ds[-1].name == b.name
    with pytest.raises(IndexError):
        ds[2]


def test_ssp3d_errors(tmp_path: Path, smpl_dir: Path):
    with pytest.raises(FileNotFoundError, match="labels.npz") as err:
        SSP3D(tmp_path, smpl_dir)
    assert "silhouettes" in str(err.value)
    labels = _write_ssp3d(tmp_path)
    with pytest.raises(FileNotFoundError, match="SMPL_FEMALE.pkl"):
        SSP3D(tmp_path)
    (tmp_path / "silhouettes" / "b_0002.png").unlink()
    ds = SSP3D(tmp_path, smpl_dir)
    assert ds[0].name == "ssp3d/a_0001"
    with pytest.raises(FileNotFoundError, match="silhouette .*b_0002.png"):
        ds[1]
    np.savez(tmp_path / "labels.npz", **{k: v for k, v in labels.items() if k != "bbox_whs"})
    with pytest.raises(ValueError, match="bbox_whs"):
        SSP3D(tmp_path, smpl_dir)
    np.savez(tmp_path / "labels.npz", **dict(labels, poses=labels["poses"][:1]))
    with pytest.raises(ValueError, match="poses has shape"):
        SSP3D(tmp_path, smpl_dir)
