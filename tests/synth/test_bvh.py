"""BVH reading and forward kinematics (lasor.synth.bvh)."""

from __future__ import annotations

import gzip
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lasor.synth.bvh import forward_kinematics, guess_units_to_metres, parse_bvh, read_bvh

CMU_BVH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cmu_mocap" / "bvh"
needs_cmu = pytest.mark.skipif(
    not CMU_BVH.is_dir(), reason=f"CMU mocap data not found at {CMU_BVH} (../shared/data)"
)

# root with position + ZYX rotation channels -> a (ZXY) -> b (XYZ) -> end site; 2 frames.
TINY = """HIERARCHY
ROOT hip
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT a
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT b
    {
      OFFSET 0 2 0
      CHANNELS 3 Xrotation Yrotation Zrotation
      End Site
      {
        OFFSET 0 0.5 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 90 0 0 0 0
"""


def test_parse_tiny_hierarchy():
    m = parse_bvh(TINY, name="tiny")
    sk = m.skeleton
    assert sk.names == ["hip", "a", "b", "b_end"]
    assert sk.parents.tolist() == [-1, 0, 1, 2]
    assert sk.channels[1] == ["Zrotation", "Xrotation", "Yrotation"]
    assert sk.channels[3] == []
    assert sk.channel_start.tolist() == [0, 6, 9, 12]
    assert m.num_frames == 2 and m.data.shape == (2, 12)
    assert m.fps == pytest.approx(30.0, rel=1e-5)
    np.testing.assert_allclose(sk.rest_positions()[3], [0, 3.5, 0])


def test_fk_known_positions_of_rotated_chain():
    """90 deg about Z at the root, then 90 deg about X at joint a: known positions."""
    m = parse_bvh(TINY)
    pos, rot = forward_kinematics(m.skeleton, m.local_rotations(), m.local_translations())
    assert pos.shape == (2, 4, 3) and rot.shape == (2, 4, 3, 3)
    # frame 0: rest pose
    np.testing.assert_allclose(pos[0].numpy(), [[0, 0, 0], [0, 1, 0], [0, 3, 0], [0, 3.5, 0]])
    np.testing.assert_allclose(rot[0].numpy(), np.tile(np.eye(3), (4, 1, 1)), atol=1e-12)
    # frame 1: Rz(90) maps +Y to -X; then Rx(90) at a maps +Y to +Z (Rz keeps Z)
    want = [[1, 2, 3], [0, 2, 3], [0, 2, 5], [0, 2, 5.5]]
    np.testing.assert_allclose(pos[1].numpy(), want, atol=1e-12)
    # global rotation of b = Rz(90) @ Rx(90)
    rz_rx = Rotation.from_euler("ZX", [90, 90], degrees=True).as_matrix()
    np.testing.assert_allclose(rot[1, 2].numpy(), rz_rx, atol=1e-12)


def test_channel_order_is_read_per_joint():
    """Z X Y channels mean R = Rz @ Rx @ Ry (intrinsic), whatever the order per joint."""
    text = TINY.replace("1 2 3 90 0 0 0 90 0 0 0 0", "0 0 0 10 20 30 40 50 60 70 80 -30").replace(
        "Frames: 2", "Frames: 1"
    )
    text = text.replace("0 0 0 0 0 0 0 0 0 0 0 0\n", "")
    m = parse_bvh(text)
    rot = m.local_rotations()[0].numpy()
    np.testing.assert_allclose(
        rot[0], Rotation.from_euler("ZYX", [10, 20, 30], degrees=True).as_matrix(), atol=1e-12
    )
    np.testing.assert_allclose(
        rot[1], Rotation.from_euler("ZXY", [40, 50, 60], degrees=True).as_matrix(), atol=1e-12
    )
    np.testing.assert_allclose(
        rot[2], Rotation.from_euler("XYZ", [70, 80, -30], degrees=True).as_matrix(), atol=1e-12
    )
    np.testing.assert_allclose(rot[3], np.eye(3))


def test_fk_batched_equals_per_frame():
    rng = np.random.default_rng(0)
    m = parse_bvh(TINY)
    m.data = rng.uniform(-90, 90, size=(7, 12))
    pos, rot = forward_kinematics(m.skeleton, m.local_rotations(), m.local_translations())
    for t in (0, 3, 6):
        p1, r1 = forward_kinematics(m.skeleton, m.local_rotations([t]), m.local_translations([t]))
        torch.testing.assert_close(pos[t], p1[0])
        torch.testing.assert_close(rot[t], r1[0])
    eye = torch.eye(3, dtype=rot.dtype).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye)
    # bone lengths are preserved by FK
    lengths = (pos[:, 1:] - pos[:, [0, 1, 2]]).norm(dim=-1)
    torch.testing.assert_close(lengths, torch.tensor([1.0, 2.0, 0.5]).expand(7, 3).double())


def test_read_gzip_and_plain(tmp_path):
    (tmp_path / "t.bvh").write_text(TINY)
    (tmp_path / "t.bvh.gz").write_bytes(gzip.compress(TINY.encode()))
    a, b = read_bvh(tmp_path / "t.bvh"), read_bvh(tmp_path / "t.bvh.gz")
    assert a.name == b.name == "t"
    np.testing.assert_array_equal(a.data, b.data)


def test_malformed_input_raises():
    with pytest.raises(ValueError):
        parse_bvh("not a bvh file")
    with pytest.raises(ValueError):
        parse_bvh(TINY.replace("MOTION", "MOTON"))
    with pytest.raises(ValueError):
        parse_bvh(TINY.replace("Zrotation Xrotation Yrotation", "Zrotation Xrotation Wrot"))
    with pytest.raises(ValueError):
        parse_bvh(TINY.split("MOTION")[0] + "MOTION\nFrames: 2\nFrame Time: 0.1\n1 2 3\n")


def test_truncated_motion_keeps_complete_frames(caplog):
    text = TINY.rstrip("\n").rsplit(" ", 3)[0] + "\n"  # last frame loses 3 values
    with caplog.at_level(logging.WARNING):
        m = parse_bvh(text, name="cut")
    assert m.num_frames == 1
    assert "cut" in caplog.text


@pytest.mark.parametrize(
    ("height", "want"),
    [(1.7, 1.0), (30.0, 0.0254 / 0.45), (67.0, 0.0254), (170.0, 0.01), (1700.0, 0.001)],
)
def test_guess_units(height, want):
    text = TINY.replace("OFFSET 0 2 0", f"OFFSET 0 {height - 1.5} 0")
    assert guess_units_to_metres(parse_bvh(text).skeleton) == pytest.approx(want)


@needs_cmu
def test_real_cmu_file():
    m = read_bvh(CMU_BVH / "01_01.bvh.gz")
    sk = m.skeleton
    assert m.fps == pytest.approx(120.0, rel=1e-3)
    assert sk.names[0] == "hip" and "lShldr" in sk.names
    assert all(c == ["Zrotation", "Xrotation", "Yrotation"] for c in sk.channels[1:] if c)
    assert guess_units_to_metres(sk) == 0.01
    frames = np.arange(1, m.num_frames, 200)
    pos, rot = forward_kinematics(sk, m.local_rotations(frames), m.local_translations(frames))
    # Y up: the head is well above the feet, which are near the floor (cm)
    head, foot = pos[:, sk.index("head"), 1], pos[:, sk.index("lFoot"), 1]
    assert bool((head - foot > 100).all())
    assert float(pos[:, sk.index("lFoot_end"), 1].min()) > -10
    assert math.isfinite(float(rot.sum()))
