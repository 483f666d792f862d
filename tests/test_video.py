"""Video: decoding, One-Euro smoothing, per-track shape, outputs, and bad clips."""

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from lasor.video import VideoError, _6d_to_rotmat, _rotmat_to_6d, one_euro

needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None, reason="MediaPipe front end not installed"
)


def test_one_euro_keeps_constants_and_cuts_noise():
    t = np.arange(120) / 30.0
    np.testing.assert_allclose(one_euro(np.full((120, 2), 3.0), t, 1.0, 0.5), 3.0)
    rng = np.random.default_rng(0)
    noisy = 1.0 + 0.05 * rng.standard_normal((120, 1))
    out = one_euro(noisy, t, 1.0, 0.0)
    assert np.abs(out - 1.0)[30:].mean() < 0.5 * np.abs(noisy - 1.0)[30:].mean()
    # a higher beta follows a fast ramp more closely (less lag)
    ramp = (t * 5.0)[:, None]
    lag = [np.abs(one_euro(ramp, t, 0.5, b) - ramp)[-30:].mean() for b in (0.0, 5.0)]
    assert lag[1] < 0.5 * lag[0]
    assert not np.shares_memory(out, noisy)


def test_6d_round_trip():
    from scipy.spatial.transform import Rotation

    r = Rotation.random(10, random_state=1).as_matrix()
    np.testing.assert_allclose(_6d_to_rotmat(_rotmat_to_6d(r)), r, atol=1e-12)


@pytest.fixture(scope="module")
def est(tiny_model):
    from lasor.api import Estimator

    with Estimator(tiny_model, batch_size=4) as e:
        yield e


def test_unreadable_and_empty_clips_are_named_errors(tmp_path, est):
    from lasor.video import predict_video

    with pytest.raises(VideoError, match="nothing.mp4: no such file"):
        predict_video(est, tmp_path / "nothing.mp4", tmp_path / "out")
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError, match="bad.mp4: not a readable video"):
        predict_video(est, bad, tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="empty: zero frames"):
        predict_video(est, tmp_path / "empty", tmp_path / "out")


def _frames(n: int, blank: set[int] = frozenset()) -> list[np.ndarray]:
    from lasor.predict import example_photo

    photo = np.asarray(Image.open(example_photo()).convert("RGB").resize((256, 256)))
    out = []
    for i in range(n):
        f = np.roll(photo, 2 * i, axis=1)  # the person moves right 2 px a frame
        out.append(np.full_like(photo, 128) if i in blank else f)
    return out


def _write_mp4(path, frames, fps=10):
    import imageio.v2 as iio

    with iio.get_writer(path, fps=fps, codec="libx264", quality=8) as w:
        for f in frames:
            w.append_data(f)


@needs_mediapipe
def test_clip_end_to_end_through_the_cli(tmp_path, tiny_model):
    import imageio.v2 as iio

    from lasor.cli import main

    clip = tmp_path / "clip.mp4"
    _write_mp4(clip, _frames(8, blank={3}))
    out = tmp_path / "out"
    assert main(["predict", str(clip), "-o", str(out), "--checkpoint", str(tiny_model)]) == 0
    z = np.load(out / "clip.npz", allow_pickle=False)
    valid = z["valid"]
    assert valid.shape == (8,) and not valid[3] and valid.sum() >= 6
    assert z["vertices"].shape == (8, 13718, 3) and z["body_pose_rotmat"].shape == (8, 19, 3, 3)
    assert np.isnan(z["vertices"][3]).all() and np.isfinite(z["vertices"][valid]).all()
    assert z["joints2d_coco"].shape == (8, 17, 2) and z["faces"].shape[1] == 3
    # one body shape per track, and each frame's own shape kept alongside
    for k in np.unique(z["track"][valid]):
        s = z["shape"][z["track"] == k]
        np.testing.assert_allclose(s, np.broadcast_to(s[0], s.shape))
    assert z["shape_per_frame"].shape == (8, 6)
    # the body's size per frame, one per track (measured on its pooled, unposed shape)
    for k in ("height_m", "age_years", "waist_circumference_m", "inseam_m"):
        assert z[k].shape == (8,) and np.isnan(z[k][3]) and np.isfinite(z[k][valid]).all(), k
    for k in np.unique(z["track"][valid]):
        assert len(np.unique(z["height_m"][z["track"] == k])) == 1
    assert str(z["scale_source"]) == "body_model"
    summary = json.loads((out / "clip.json").read_text())
    assert (
        summary["frames"] == 8 and {"frame": 3, "error": "no person found"} in summary["failures"]
    )
    for name in ("clip_overlay.mp4", "clip_side.mp4"):
        assert sum(1 for _ in iio.get_reader(out / name)) == 8, name
    # rotations stay rotations after smoothing
    r = z["body_pose_rotmat"][valid]
    np.testing.assert_allclose(
        r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-5
    )  # noqa: E501


@needs_mediapipe
def test_frame_size_change_keeps_the_frames_done(tmp_path, est):
    from lasor.video import VideoOptions, predict_video

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(_frames(4)):
        Image.fromarray(f).save(frames / f"{i:03d}.png")
    Image.fromarray(_frames(1)[0][:200]).save(frames / "004.png")
    with pytest.raises(VideoError, match=r"frames: frame 4 is 256x200.*4 frames done"):
        predict_video(est, frames, tmp_path / "out", VideoOptions(render=False))
    z = np.load(tmp_path / "out" / "frames.npz")
    assert z["valid"].shape == (4,) and z["valid"].all()
    assert (
        "frame size changed" in json.loads((tmp_path / "out" / "frames.json").read_text())["error"]
    )


@needs_mediapipe
def test_no_person_in_any_frame(tmp_path, est):
    from lasor.video import predict_video

    clip = tmp_path / "empty_room.mp4"
    _write_mp4(clip, [np.full((64, 64, 3), 90, np.uint8)] * 3)
    with pytest.raises(VideoError, match="empty_room.mp4: no person found in any of its 3 frames"):
        predict_video(est, clip, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "empty_room.json").read_text())
    assert len(summary["failures"]) == 3 and summary["frames_ok"] == 0
