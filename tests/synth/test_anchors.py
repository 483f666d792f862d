"""Pose anchors (lasor.synth.anchors) and the balanced pose bank option."""

from __future__ import annotations

import collections
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lasor.synth import anchors as A
from lasor.synth import poses

# ../shared/data next to the checkout (a git worktree one level deeper: ../../shared/data)
_ROOT = Path(__file__).resolve().parents[2]
DATA = next(
    (p / "shared" / "data" for p in (_ROOT.parent, _ROOT.parent.parent) if (p / "shared").is_dir()),
    _ROOT.parent / "shared" / "data",
)
EXTRA = DATA / "cmu_mocap_extra"
CMU_BVH = DATA / "cmu_mocap" / "bvh"
needs_extra = pytest.mark.skipif(
    not EXTRA.is_dir(), reason=f"CMU extra poses not found at {EXTRA} (../shared/data)"
)
needs_cmu = pytest.mark.skipif(
    not CMU_BVH.is_dir(), reason=f"CMU mocap data not found at {CMU_BVH} (../shared/data)"
)


def _assert_rotations(r: np.ndarray, atol: float = 1e-4) -> None:
    r = np.asarray(r, dtype=np.float64)
    eye = np.broadcast_to(np.eye(3), r.shape)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), eye, atol=atol)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=atol)


def _rand_rot(rng: np.random.Generator, shape: tuple, scale: float = 0.5) -> np.ndarray:
    aa = torch.from_numpy(rng.normal(0, scale, (*shape, 3)))
    from lasor.body.rotations import axis_angle_to_rotmat

    return axis_angle_to_rotmat(aa).numpy()


def _toy_anchors(rng: np.random.Generator) -> A.AnchorSet:
    """12 synthetic anchors, 3 categories, with distinct random poses."""
    n = 12
    go = poses.remove_heading(torch.from_numpy(_rand_rot(rng, (n,), 0.8)))[0].numpy()
    bp = A.jitter_within_limits(np.broadcast_to(np.eye(3), (n, 19, 3, 3)).copy(), 15.0, rng)
    cats = np.asarray(["sit"] * 6 + ["lie"] * 4 + ["hang"] * 2)
    return A.AnchorSet(
        go.astype(np.float32), bp, np.zeros(n, np.float32), np.asarray([f"t{i}" for i in range(n)]),
        np.zeros(n, np.int64), cats, np.full(n, "train"),
    )  # fmt: skip


def _const_draw(go: np.ndarray, bp: np.ndarray):
    def draw(n, rng):
        return np.repeat(go[None], n, 0), np.repeat(bp[None], n, 0)

    return draw


# ------------------------------------------------------------------ pure pieces


def test_trial_table_is_consistent():
    assert sum(len(v) for v in A.TRIAL_CATEGORIES.values()) == 121
    assert len(A.TRIAL_CATEGORIES) == 66
    assert all(c in A.ANCHOR_CATEGORIES for v in A.TRIAL_CATEGORIES.values() for c in v)
    assert set(A.VAL_TRIALS) <= set(A.TRIAL_CATEGORIES)
    assert sum("sit" in A.TRIAL_CATEGORIES[t] for t in A.VAL_TRIALS) >= 2
    assert 0.1 <= len(A.VAL_TRIALS) / len(A.TRIAL_CATEGORIES) <= 0.2
    assert set(A.LEG_BONES) | set(A.UPPER_BONES) == set(poses.POSE_BONES)
    pairs = A.pose_lr_pairs()
    assert len(pairs) == 7 and all(
        poses.POSE_BONES[i][:-2] == poses.POSE_BONES[j][:-2] for i, j in pairs
    )


def test_jitter_stays_within_limits_and_keeps_outliers():
    rng = np.random.default_rng(0)
    lim = poses._limits_table()[1:].numpy()
    # anchors inside the limits, and one bone (the left knee) far beyond them (170 degrees)
    bp = A.jitter_within_limits(np.broadcast_to(np.eye(3), (200, 19, 3, 3)).copy(), 10.0, rng)
    knee = poses.POSE_BONES.index("lowerleg01.L")
    ang0 = A._euler_left(bp.astype(np.float64))
    ang0[:, knee] = [170.0, 0.0, 0.0]
    bp0 = A._from_euler_left(ang0).reshape(200, 19, 3, 3)
    out = A.jitter_within_limits(bp0, 8.0, rng)
    _assert_rotations(out)
    ang = A._euler_left(out.astype(np.float64))
    lo = np.minimum(lim[None, ..., 0], ang0) - 1e-3
    hi = np.maximum(lim[None, ..., 1], ang0) + 1e-3
    assert ((ang >= lo) & (ang <= hi)).all()
    assert ang[:, knee, 0].max() <= 170.0 + 1e-3  # never further out than the anchor
    assert np.abs(ang - ang0).max() > 1.0  # it does move
    np.testing.assert_allclose(A.jitter_within_limits(bp0, 0.0, rng), bp0, atol=1e-6)


def test_recombine_takes_the_right_parts():
    rng = np.random.default_rng(1)
    ga, ba = _rand_rot(rng, (4,)), _rand_rot(rng, (4, 19))
    gb, bb = _rand_rot(rng, (4,)), _rand_rot(rng, (4, 19))
    legs = [poses.POSE_BONES.index(b) for b in A.LEG_BONES]
    upper = [poses.POSE_BONES.index(b) for b in A.UPPER_BONES]
    go, bp = A.recombine(ga, ba, gb, bb, "legs")
    np.testing.assert_array_equal(go, ga)
    np.testing.assert_array_equal(bp[:, legs], ba[:, legs])
    np.testing.assert_array_equal(bp[:, upper], bb[:, upper])
    go, bp = A.recombine(ga, ba, gb, bb, "upper")
    np.testing.assert_array_equal(go, gb)
    np.testing.assert_array_equal(bp[:, legs], bb[:, legs])
    np.testing.assert_array_equal(bp[:, upper], ba[:, upper])
    trunk = [poses.POSE_BONES.index(b) for b in A.TRUNK_BONES]
    rest = [i for i in upper if i not in trunk]
    go, bp = A.recombine(ga, ba, gb, bb, "legs+trunk")
    np.testing.assert_array_equal(go, ga)
    np.testing.assert_array_equal(bp[:, legs + trunk], ba[:, legs + trunk])
    np.testing.assert_array_equal(bp[:, rest], bb[:, rest])
    with pytest.raises(ValueError):
        A.recombine(ga, ba, gb, bb, "arms")


def test_sampler_categories_mirror_reproducible():
    rng = np.random.default_rng(2)
    aset = _toy_anchors(rng)
    cfg = A.AnchorConfig(jitter_deg=0.0, root_jitter_deg=0.0, mirror_prob=0.0, legs_prob=0.0,
                         upper_prob=0.0)  # fmt: skip
    go, bp, cat = A.sample_anchor_poses(aset, 31, np.random.default_rng(5), None, cfg)
    counts = collections.Counter(cat.tolist())
    assert sum(counts.values()) == 31 and set(counts) == {"sit", "lie", "hang"}
    assert max(counts.values()) - min(counts.values()) <= 1  # balanced
    # without variation every sample is exactly one of the anchors of its category
    for b, c in zip(bp, cat, strict=True):
        m = aset.category == c
        d = np.abs(aset.body_pose[m] - b).reshape(m.sum(), -1).max(1)
        assert d.min() < 1e-6
    # mirroring twice is the identity; mirror_prob=1 gives the mirror images
    cfg_m = A.AnchorConfig(jitter_deg=0.0, root_jitter_deg=0.0, mirror_prob=1.0, legs_prob=0.0,
                           upper_prob=0.0)  # fmt: skip
    gm, bm, cm = A.sample_anchor_poses(aset, 31, np.random.default_rng(5), None, cfg_m)
    from lasor.body.base import mirror_pose

    g2, b2 = mirror_pose(torch.from_numpy(gm), torch.from_numpy(bm), A.pose_lr_pairs())
    # same picks (same rng stream up to the mirror draw) -> mirrored back equals the originals
    np.testing.assert_array_equal(cm, cat)
    np.testing.assert_allclose(b2.numpy(), bp, atol=1e-6)
    np.testing.assert_allclose(g2.numpy(), go, atol=1e-6)
    # weights: only "lie"
    cfg_w = A.AnchorConfig(category_weights={"lie": 1.0})
    _, _, cw = A.sample_anchor_poses(aset, 10, np.random.default_rng(0), None, cfg_w)
    assert set(cw.tolist()) == {"lie"}
    # fixed seed reproduces with the full variation
    a = A.sample_anchor_poses(aset, 20, np.random.default_rng(9))
    b = A.sample_anchor_poses(aset, 20, np.random.default_rng(9))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    _assert_rotations(a[0])
    _assert_rotations(a[1])
    # heading removed: the root's twist about the vertical is ~0
    _, yaw = poses.remove_heading(torch.from_numpy(a[0].astype(np.float64)))
    assert yaw.abs().max() < 1e-4


def test_sampler_recombines_with_base_poses():
    rng = np.random.default_rng(3)
    aset = _toy_anchors(rng)
    base_go, base_bp = np.eye(3, dtype=np.float32), np.tile(np.eye(3, dtype=np.float32), (19, 1, 1))
    cfg = A.AnchorConfig(
        jitter_deg=0.0, root_jitter_deg=0.0, mirror_prob=0.0, legs_prob=1.0, legs_keep_trunk=False
    )
    go, bp, cat = A.sample_anchor_poses(aset, 30, rng, _const_draw(base_go, base_bp), cfg)
    upper = [poses.POSE_BONES.index(b) for b in A.UPPER_BONES]
    legs = [poses.POSE_BONES.index(b) for b in A.LEG_BONES]
    np.testing.assert_allclose(
        bp[:, upper], np.broadcast_to(np.eye(3), bp[:, upper].shape), atol=1e-6
    )
    assert np.abs(bp[:, legs] - np.eye(3)).max() > 0.05  # the anchors' legs
    cfg = A.AnchorConfig(jitter_deg=0.0, root_jitter_deg=0.0, mirror_prob=0.0, legs_prob=0.0,
                         upper_prob=1.0)  # fmt: skip
    go, bp, cat = A.sample_anchor_poses(aset, 30, rng, _const_draw(base_go, base_bp), cfg)
    swapped = np.isin(cat, A.UPPER_SWAP_CATEGORIES)  # only hanging anchors
    np.testing.assert_allclose(
        go[swapped], np.broadcast_to(np.eye(3), go[swapped].shape), atol=1e-6
    )
    assert np.abs(go[~swapped] - np.eye(3)).max() > 0.05


def test_anchor_source_share_and_shapes():
    rng = np.random.default_rng(4)
    aset = _toy_anchors(rng)
    marker = np.diag([1.0, -1.0, -1.0]).astype(np.float32)  # no anchor has this root
    base = _const_draw(marker, np.tile(np.eye(3, dtype=np.float32), (19, 1, 1)))
    for share, n in ((0.25, 100), (0.25, 7), (0.0, 10), (1.0, 9)):
        draw = A.anchor_source("train", base, share=share, anchors=aset)
        go, bp = draw(n, np.random.default_rng(0))
        assert go.shape == (n, 3, 3) and bp.shape == (n, 19, 3, 3)
        assert go.dtype == np.float32 and bp.dtype == np.float32
        from_base = (np.abs(go - marker).reshape(n, -1).max(1) < 1e-6).sum()
        assert n - from_base == math.floor(share * n + 0.5)
    go1, bp1 = A.anchor_source("train", base, anchors=aset)(50, np.random.default_rng(7))
    go2, bp2 = A.anchor_source("train", base, anchors=aset)(50, np.random.default_rng(7))
    np.testing.assert_array_equal(go1, go2)
    np.testing.assert_array_equal(bp1, bp2)
    with pytest.raises(ValueError):
        A.anchor_source("val", base, anchors=aset)
    with pytest.raises(ValueError):
        A.anchor_source("train", base, share=1.5, anchors=aset)


def test_load_anchors_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="pose_anchors.npz"):
        A.load_anchors(tmp_path / "pose_anchors.npz")


def test_balance_caps():
    trials = np.asarray(["a_1"] * 600 + ["a_2"] * 300 + ["b_1"] * 50 + ["c_1"] * 50 + ["d_1"] * 50)
    sel = A._poses._balance_caps(trials, max_trial_share=0.5, max_group_share=0.4)
    kept = collections.Counter(trials[sel].tolist())
    total = len(sel)
    groups = collections.Counter(poses.subject_of(t) for t in trials[sel])
    assert max(groups.values()) <= 0.4 * total + 1
    assert kept["b_1"] == kept["c_1"] == kept["d_1"] == 50  # small groups untouched
    assert np.all(np.diff(sel) > 0)


def test_dedup_global_drops_repeats():
    rng = np.random.default_rng(5)
    a, b = _rand_rot(rng, (1, 20)), _rand_rot(rng, (1, 20))
    rots = np.concatenate([a, b, a, b, a])  # a repeated move
    assert poses._dedup(rots, math.radians(10)).tolist() == [0, 1, 2, 3, 4]
    assert poses._dedup_global(rots, math.radians(10)).tolist() == [0, 1]


# ------------------------------------------------------------------ real data


@needs_extra
@pytest.mark.slow
def test_build_anchors_from_extra(tmp_path):
    out = tmp_path / "anchors.npz"
    aset = A.build_anchors(EXTRA, out)
    assert len(aset) == 121 and aset.meta["skipped_files"] == []
    assert set(aset.category) <= set(A.ANCHOR_CATEGORIES)
    assert set(aset.category[aset.split == "train"]) == set(A.ANCHOR_CATEGORIES)
    assert set(aset.trial[aset.split == "val"]) == set(A.VAL_TRIALS)
    _assert_rotations(aset.global_orient)
    _assert_rotations(aset.body_pose)
    # lying anchors keep their root tilt (pelvis up-axis near horizontal), sitting ones do not
    tilt = np.degrees(np.arccos(np.clip(aset.global_orient[:, 1, 1], -1, 1)))
    assert np.median(tilt[aset.category == "lie"]) > 75
    assert np.median(tilt[aset.category == "sit"]) < 45
    assert np.median(tilt[aset.category == "invert"]) > 100
    # knees are bent in sitting / kneeling anchors
    knee = poses.POSE_BONES.index("lowerleg01.L")
    bend = np.degrees(
        np.arccos(np.clip((np.trace(aset.body_pose[:, knee], axis1=1, axis2=2) - 1) / 2, -1, 1))
    )
    assert np.median(bend[aset.category == "sit"]) > 60
    back = A.load_anchors(out)
    np.testing.assert_array_equal(back.body_pose, aset.body_pose)
    np.testing.assert_array_equal(back.category, aset.category)


@needs_cmu
@pytest.mark.slow
def test_balanced_bank_is_a_new_file_and_default_unchanged(tmp_path):
    src = tmp_path / "bvh"
    src.mkdir()
    for name in ("02_01.bvh.gz", "05_02.bvh.gz"):
        (src / name).symlink_to(CMU_BVH / name)
    plain = poses.build_pose_bank(src, tmp_path / "plain.npz", progress=False)
    poses.build_pose_bank(src, tmp_path / "again.npz", progress=False, balance=False)
    bal = poses.build_pose_bank(src, tmp_path / "bal.npz", progress=False, balance=True,
                                max_trial_share=0.6, max_group_share=0.6)  # fmt: skip
    a, b, c = (poses.load_pose_bank(tmp_path / f) for f in ("plain.npz", "again.npz", "bal.npz"))
    assert "balance" not in a.meta
    for k in ("global_orient", "body_pose", "yaw"):
        torch.testing.assert_close(getattr(a, k), getattr(b, k), rtol=0, atol=0)
    np.testing.assert_array_equal(a.frame, b.frame)
    assert 0 < bal["frames_kept"] < plain["frames_kept"]
    # balanced frames are a subset of the default ones (same retargeting)
    keys = set(zip(a.trial.tolist(), a.frame.tolist(), strict=True))
    assert set(zip(c.trial.tolist(), c.frame.tolist(), strict=True)) <= keys
    assert c.meta["balance"]["max_group_share"] == 0.6


def test_pose_source_with_anchor_share(tmp_path):
    from lasor.synth.bank import pose_source

    rng = np.random.default_rng(6)
    aset = _toy_anchors(rng)
    path = tmp_path / "anchors.npz"
    np.savez_compressed(
        path, global_orient=aset.global_orient, body_pose=aset.body_pose, yaw=aset.yaw,
        trial=aset.trial, frame=aset.frame, category=aset.category, split=aset.split,
        bone_names=np.asarray(poses.POSE_BONES), meta=np.asarray("{}"),
    )  # fmt: skip
    missing_bank = tmp_path / "no_bank.npz"  # -> fallback sampler as the base draw
    draw = pose_source("train", missing_bank, anchor_share=0.5, anchors_path=path)
    go, bp = draw(40, np.random.default_rng(0))
    assert go.shape == (40, 3, 3) and bp.shape == (40, 19, 3, 3)
    _assert_rotations(go)
    plain = pose_source("train", missing_bank)(40, np.random.default_rng(0))
    assert not np.allclose(plain[0], go)
    with pytest.raises(FileNotFoundError, match="synth poses --anchors"):
        pose_source("train", missing_bank, anchor_share=0.5, anchors_path=tmp_path / "x.npz")


@needs_extra
@needs_cmu
def test_cli_synth_poses_anchors_and_balanced(tmp_path):
    from lasor.cli import main

    extra, bvh = tmp_path / "extra", tmp_path / "bvh"
    extra.mkdir()
    bvh.mkdir()
    for name in ("22_03.bvh.gz", "140_01.bvh.gz"):
        (extra / name).symlink_to(EXTRA / "bvh" / name)
    (bvh / "02_01.bvh.gz").symlink_to(CMU_BVH / "02_01.bvh.gz")
    out = tmp_path / "anchors.npz"
    assert main(["synth", "poses", "--anchors", "--bvh", str(extra), "--out", str(out)]) == 0
    aset = A.load_anchors(out)
    assert len(aset) == 7 and aset.counts() == {"crouch": 2, "getup": 2, "lie": 2, "sit": 1}
    out = tmp_path / "bal.npz"
    assert main(["synth", "poses", "--balanced", "--bvh", str(bvh), "--out", str(out)]) == 0
    assert "balance" in poses.load_pose_bank(out).meta
