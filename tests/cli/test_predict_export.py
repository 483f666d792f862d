"""``lasor predict --export glb,bvh`` end to end on a tiny model with user keypoints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lasor.cli import main
from lasor.io.results import load_npz

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import _openpose, _person_image  # noqa: E402


def test_predict_export_glb_bvh(tmp_path, tiny_model):
    pygltflib = pytest.importorskip("pygltflib", reason="pygltflib (dev extra) reads the .glb")
    from lasor.synth.bvh import forward_kinematics, read_bvh

    photos = tmp_path / "photos"
    photos.mkdir()
    _person_image(photos / "a.png")
    _openpose(photos / "a.json")
    out = tmp_path / "out"
    args = ["predict", str(photos / "a.png"), "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(photos), "--no-render", "--export", "glb,bvh"]  # fmt: skip
    assert main(args) == 0
    gl = pygltflib.GLTF2().load(str(out / "a.glb"))
    assert len(gl.skins[0].joints) == 104 and not gl.animations
    z = load_npz(out / "a.npz")
    m = read_bvh(out / "a.bvh")
    pos, _ = forward_kinematics(m.skeleton, m.local_rotations(), m.local_translations())
    # the BVH root is the pelvis at cam_t, turned to Y up (x, -y, -z)
    root = pos[0, m.skeleton.index("root")].numpy()
    np.testing.assert_allclose(root, z["cam_t"] * [1, -1, -1], atol=1e-4)
    assert json.loads((out / "summary.json").read_text())["failed"] == 0


def test_predict_export_rejects_unknown_format(tmp_path):
    with pytest.raises(SystemExit, match="unknown export format"):
        main(["predict", "--example", "-o", str(tmp_path), "--export", "fbx"])
