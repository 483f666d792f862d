import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lasor.body import load_body_model
from lasor.render.rasterize import rasterize
from lasor.synth.bank import build_body_bank
from lasor.synth.engine import OCC_OBJECT, OCC_PERSON, SynthConfig, make_batch


def _draw(n, rng):
    go = Rotation.from_rotvec(rng.normal(0, 0.1, (n, 3))).as_matrix()
    bp = Rotation.from_rotvec(rng.normal(0, 0.3, (n * 19, 3))).as_matrix().reshape(n, 19, 3, 3)
    return go.astype(np.float32), bp.astype(np.float32)


@pytest.fixture(scope="module")
def bank():
    body = load_body_model("anny", topology="notoes_collapse10pc")
    return build_body_bank(body, 64, _draw, np.random.default_rng(0))


def test_batch_shapes_and_dtypes(bank):
    b = make_batch(bank, 8, SynthConfig(res=48), np.random.default_rng(1))
    assert b["proxy"].shape == (8, 18, 48, 48) and b["proxy"].dtype == torch.float32
    assert b["global_orient"].shape == (8, 3, 3)
    assert b["body_pose"].shape == (8, 19, 3, 3)
    assert b["shape"].shape == (8, 6)
    assert b["joints2d"].shape == (8, 17, 2)
    assert b["silhouette"].shape == (8, 48, 48)
    assert b["occluded_fraction"].shape == (8,)
    assert b["occlusion"].dtype == torch.int64
    r = b["global_orient"]
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(8, 3, 3), atol=1e-5)


def test_deterministic_per_seed(bank):
    cfg = SynthConfig(res=32)
    a = make_batch(bank, 6, cfg, np.random.default_rng([3, 0, 5]))
    b = make_batch(bank, 6, cfg, np.random.default_rng([3, 0, 5]))
    c = make_batch(bank, 6, cfg, np.random.default_rng([3, 0, 6]))
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a["proxy"], c["proxy"])


def test_clean_unoccluded_proxy_matches_target(bank):
    cfg = SynthConfig(res=48, occlusion=False, noise=False)
    b = make_batch(bank, 8, cfg, np.random.default_rng(2))
    assert torch.equal(b["proxy"][:, 0], b["silhouette"])
    assert (b["occluded_fraction"] == 0).all() and (b["occlusion"] == 0).all()
    # heatmap peaks sit on the target joints (in pixels, within a pixel)
    from lasor.synth.proxy import decode_heatmaps

    j, peak = decode_heatmaps(b["proxy"])
    target = (b["joints2d"] + 1) / 2 * 48
    ok = peak > 0.5
    assert (j - target).abs()[ok].max() <= 0.75


def test_occluded_joints_absent_from_heatmaps(bank):
    cfg = SynthConfig(res=48, p_person=1.0, p_object=1.0, noise=False)
    b = make_batch(bank, 16, cfg, np.random.default_rng(4))
    assert ((b["occlusion"] & OCC_PERSON) > 0).all() and ((b["occlusion"] & OCC_OBJECT) > 0).all()
    peaks = b["proxy"][:, 1:].amax(dim=(2, 3))
    hidden = ~b["joints_visible"] & ~b["self_occluded"]
    assert hidden.sum() > 0
    assert (peaks[hidden] == 0).all()
    # visible silhouette is a subset of the full one, and smaller when occluded
    vis = b["proxy"][:, 0] > 0
    full = b["silhouette"] > 0
    assert not (vis & ~full).any()
    assert (b["occluded_fraction"] > 0).float().mean() > 0.5


def test_self_occlusion_agrees_with_depth():
    """Seen from behind, the nose is hidden by the head; seen from the front it is visible."""

    def rest(n, rng):
        return np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)), np.tile(
            np.eye(3, dtype=np.float32), (n, 19, 1, 1)
        )

    body = load_body_model("anny", topology="notoes_collapse10pc")
    standing = build_body_bank(body, 8, rest, np.random.default_rng(0))
    cfg = SynthConfig(res=64, occlusion=False, noise=False)
    cfg.camera.pitch_std = 5.0  # eye level: from far above or below the nose can show
    b = make_batch(standing, 64, cfg, np.random.default_rng(5))
    facing_z = b["global_orient"][:, 2, 2]  # camera-frame z of the body's forward axis
    front = facing_z < -0.8
    back = facing_z > 0.95
    assert front.sum() >= 3 and back.sum() >= 3
    assert not b["self_occluded"][front, 0].any()
    assert b["joints_visible"][front, 0].all()
    assert b["self_occluded"][back, 0].all()


def test_points_behind_body_are_hidden():
    """The rasteriser's depth test used for visibility: a point behind a square is hidden."""
    from lasor.render.rasterize import points_visible

    v = torch.tensor([[[4.0, 4.0, 1.0], [28.0, 4.0, 1.0], [28.0, 28.0, 1.0], [4.0, 28.0, 1.0]]])
    f = torch.tensor([[0, 1, 2], [0, 2, 3]])
    frag = rasterize(v, f, 32)
    pts = torch.tensor([[[16.0, 16.0, 2.0], [16.0, 16.0, 0.5], [30.0, 30.0, 2.0]]])
    assert points_visible(pts, frag.depth, tolerance=0.1).tolist() == [[False, True, True]]


def test_dataset_splits_draw_separate_streams(bank, tmp_path):
    from lasor.synth.dataset import SyntheticBatches

    body = load_body_model("anny", topology="notoes_collapse10pc")
    cfg = SynthConfig(res=32)
    kw = dict(seed=0, batch_size=4, bank_size=4, pose_bank=tmp_path / "none.npz")
    tr = SyntheticBatches(body, cfg, split="train", **kw)
    va = SyntheticBatches(body, cfg, split="val", **kw)
    tr.bank = va.bank = bank  # same bodies: only the per-item random streams differ
    # train keeps the (seed, rank, index) stream of earlier runs (bit-for-bit resume of them)
    want = make_batch(bank, 4, cfg, np.random.default_rng([0, 0, 3]))
    got_tr, got_va = tr[3], va[3]
    for k in want:
        assert torch.equal(got_tr[k], want[k]), k
    assert not torch.equal(got_tr["proxy"], got_va["proxy"])
    assert torch.equal(va[3]["proxy"], got_va["proxy"])


def test_batch_with_the_mediapipe_noise_preset(bank):
    from lasor.synth.noise import NoiseConfig

    cfg = SynthConfig(res=48, noise_cfg=NoiseConfig.mediapipe())
    a = make_batch(bank, 6, cfg, np.random.default_rng(4))
    b = make_batch(bank, 6, cfg, np.random.default_rng(4))
    assert a["proxy"].shape == (6, 18, 48, 48) and torch.isfinite(a["proxy"]).all()
    assert torch.equal(a["proxy"], b["proxy"])
