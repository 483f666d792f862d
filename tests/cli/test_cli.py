"""End-to-end runs of the ``lasor`` command on tiny inputs."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lasor.cli import main
from lasor.io.mesh import read_obj, read_ply
from lasor.io.results import load_npz

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "lasor", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("predict", "train", "eval", "synth", "body"):
        assert cmd in out


def test_body_command_writes_mesh_and_picture(tmp_path):
    assert main(["body", "--topology", "notoes_collapse10pc", "-o", str(tmp_path)]) == 0
    v, f = read_obj(tmp_path / "anny_posed.obj")
    assert v.shape == (1229, 3) and f.shape == (2454, 3)
    v2, _ = read_ply(tmp_path / "anny_posed.ply")
    assert np.allclose(v, v2, atol=1e-5)
    img = np.asarray(Image.open(tmp_path / "anny_posed.png"))
    assert img.shape[2] == 3 and (img < 250).any()  # something drawn on white


def test_body_command_with_fake_smpl(tmp_path, fake_smpl_file):
    args = ["body", "--body", "smpl", "--smpl-model", str(fake_smpl_file), "-o", str(tmp_path)]
    assert main(args) == 0
    assert read_obj(tmp_path / "smpl_posed.obj")[0].shape == (6890, 3)


def _person_image(path: Path, size=(160, 120)) -> None:
    img = np.full((size[0], size[1], 3), 200, np.uint8)
    img[30:140, 45:75] = (90, 60, 40)
    Image.fromarray(img).save(path)


def _openpose(path: Path) -> None:
    # BODY_25: a standing person roughly filling the image above
    kp = np.zeros((25, 3))
    pts = {0: (60, 35), 1: (60, 50), 2: (50, 50), 3: (46, 70), 4: (45, 88), 5: (70, 50),
           6: (74, 70), 7: (75, 88), 8: (60, 90), 9: (54, 90), 10: (54, 112), 11: (54, 135),
           12: (66, 90), 13: (66, 112), 14: (66, 135), 15: (58, 32), 16: (62, 32),
           17: (55, 34), 18: (65, 34)}  # fmt: skip
    for k, (x, y) in pts.items():
        kp[k] = (x, y, 0.9)
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]}))


def test_predict_with_user_keypoints_writes_everything(tmp_path, tiny_model):
    photos = tmp_path / "photos"
    photos.mkdir()
    _person_image(photos / "a.png")
    _openpose(photos / "a.json")
    masks = tmp_path / "masks"
    masks.mkdir()
    m = np.zeros((160, 120), np.uint8)
    m[30:140, 45:75] = 255
    Image.fromarray(m).save(masks / "a_mask.png")
    out = tmp_path / "out"
    args = ["predict", str(photos / "a.png"), "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(photos), "--masks", str(masks)]  # fmt: skip
    assert main(args) == 0
    for suffix in (".npz", ".json", ".obj", ".ply", "_overlay.png", "_side.png", "_proxy.png"):
        assert (out / f"a{suffix}").exists(), suffix
    z = load_npz(out / "a.npz")  # no pickle needed
    assert z["vertices"].shape == (13718, 3)
    assert z["body_pose_rotmat"].shape == (19, 3, 3) and z["body_pose_aa"].shape == (19, 3)
    assert z["joints2d_coco"].shape == (17, 2)
    assert str(z["body_model"]) == "anny"
    # projecting the saved 3D keypoints with the saved camera gives the saved 2D keypoints
    j = z["joints3d_coco"]
    uv = z["focal_length"] * j[:, :2] / j[:, 2:] + z["principal_point"]
    assert np.allclose(uv, z["joints2d_coco"], atol=1e-2)
    js = json.loads((out / "a.json").read_text())
    assert "vertices" not in js and len(js["shape"]) == 6
    overlay = Image.open(out / "a_overlay.png")
    assert overlay.size == (120, 160)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == 0 and summary["people"] == 1


def test_predict_bad_inputs_are_reported_and_do_not_stop_the_batch(tmp_path, tiny_model):
    photos = tmp_path / "photos"
    photos.mkdir()
    _person_image(photos / "good.png")
    _openpose(photos / "good.json")
    (photos / "text.png").write_text("not an image")
    _person_image(photos / "corrupt.png")
    (photos / "corrupt.json").write_text("{not json")
    _person_image(photos / "nokp.png")
    (photos / "nokp.json").write_text(json.dumps({"people": []}))
    masks = tmp_path / "masks"
    masks.mkdir()
    for stem, size in (("good", (160, 120)), ("corrupt", (160, 120)), ("nokp", (160, 120))):
        Image.fromarray(np.full(size, 255, np.uint8)).save(masks / f"{stem}_mask.png")
    _person_image(photos / "wrongmask.png")
    _openpose(photos / "wrongmask.json")
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(masks / "wrongmask_mask.png")
    out = tmp_path / "out"
    args = ["predict", str(photos), "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(photos), "--masks", str(masks), "--no-render"]  # fmt: skip
    assert main(args) == 1  # something failed
    summary = json.loads((out / "summary.json").read_text())
    by = {Path(e["image"]).stem: e for e in summary["images"]}
    assert by["good"]["ok"] and (out / "good.npz").exists()
    assert not (out / "good_overlay.png").exists()  # --no-render
    for bad in ("text", "corrupt", "nokp", "wrongmask"):
        assert not by[bad]["ok"], bad
        assert bad in by[bad]["error"], by[bad]["error"]  # the message names the file
    assert "10" in by["wrongmask"]["error"]  # and the sizes


def test_predict_write_failure_is_recorded_and_the_batch_goes_on(tmp_path, tiny_model, monkeypatch):
    import lasor.io.mesh

    photos = tmp_path / "photos"
    photos.mkdir()
    for stem in ("a", "b", "c"):
        _person_image(photos / f"{stem}.png")
        _openpose(photos / f"{stem}.json")
    real_write_ply = lasor.io.mesh.write_ply

    def flaky_write_ply(path, *args, **kwargs):
        if Path(path).stem == "b":
            raise OSError(f"{path}: no space left on device")
        return real_write_ply(path, *args, **kwargs)

    monkeypatch.setattr(lasor.io.mesh, "write_ply", flaky_write_ply)
    out = tmp_path / "out"
    args = ["predict", str(photos), "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(photos), "--no-render", "--batch-size", "8"]  # fmt: skip
    assert main(args) == 1
    summary = json.loads((out / "summary.json").read_text())
    by = {Path(e["image"]).stem: e for e in summary["images"]}
    assert by["a"]["ok"] and by["c"]["ok"] and not by["b"]["ok"]
    assert "b.ply" in by["b"]["error"] and "no space" in by["b"]["error"]
    assert summary["failed"] == 1 and summary["people"] == 2
    assert (out / "a.ply").exists() and (out / "c.ply").exists() and not (out / "b.ply").exists()


def test_predict_same_name_in_two_folders_does_not_overwrite(tmp_path, tiny_model):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        _person_image(tmp_path / folder / "p.png")
        _openpose(tmp_path / folder / "p.json")
    kp = tmp_path / "kp"
    kp.mkdir()
    _openpose(kp / "p.json")
    out = tmp_path / "out"
    x, y = str(tmp_path / "x" / "p.png"), str(tmp_path / "y" / "p.png")
    args = ["predict", x, y, x, "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(kp), "--no-render"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["images"]) == 2  # the repeated path is processed once
    assert [e["people"][0]["stem"] for e in summary["images"]] == ["p", "p_2"]
    assert (out / "p.npz").exists() and (out / "p_2.npz").exists()


def test_predict_refine_fits_the_observed_keypoints(tmp_path, tiny_model):
    photos = tmp_path / "photos"
    photos.mkdir()
    _person_image(photos / "a.png")
    _openpose(photos / "a.json")
    base = ["predict", str(photos / "a.png"), "--checkpoint", str(tiny_model),
            "--keypoints", str(photos), "--no-render"]  # fmt: skip
    assert main([*base, "-o", str(tmp_path / "plain"), "--fast"]) == 0
    assert main([*base, "-o", str(tmp_path / "fit"), "--refine", "30"]) == 0
    plain, fit = load_npz(tmp_path / "plain" / "a.npz"), load_npz(tmp_path / "fit" / "a.npz")
    ok = plain["observed_confidence"] >= 0.3

    def err(z):
        return np.linalg.norm(z["joints2d_coco"] - z["observed_keypoints"], axis=1)[ok].mean()

    # an untrained model's body lands anywhere; 30 steps bring it onto the keypoints
    assert err(fit) < 0.5 * err(plain), (err(plain), err(fit))
    assert fit["vertices"].shape == plain["vertices"].shape
    assert json.loads((tmp_path / "fit" / "a.json").read_text())["extra"] == {"refine_steps": 30}
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())
    assert summary["refine"]["steps"] == 30 and summary["timing_ms_per_photo"]["refine"] > 0
    assert json.loads((tmp_path / "plain" / "summary.json").read_text())["refine"] is None


def test_predict_fits_in_the_photo_camera_by_default(tmp_path, tiny_model):
    photos = tmp_path / "photos"
    photos.mkdir()
    _person_image(photos / "a.png")
    _openpose(photos / "a.json")
    base = ["predict", str(photos / "a.png"), "--checkpoint", str(tiny_model),
            "--keypoints", str(photos), "--no-render"]  # fmt: skip
    assert main([*base, "-o", str(tmp_path / "plain"), "--fast"]) == 0
    assert main([*base, "-o", str(tmp_path / "fit"), "--fit-steps", "30"]) == 0
    plain, fit = load_npz(tmp_path / "plain" / "a.npz"), load_npz(tmp_path / "fit" / "a.npz")
    ok = plain["observed_confidence"] >= 0.3

    def err(z):
        return np.linalg.norm(z["joints2d_coco"] - z["observed_keypoints"], axis=1)[ok].mean()

    assert err(fit) < 0.5 * err(plain), (err(plain), err(fit))
    # cam_t, focal length and 2D joints agree: the written projection is the pinhole's
    j = fit["joints3d_coco"]
    uv = fit["focal_length"] * j[:, :2] / j[:, 2:3] + fit["principal_point"]
    np.testing.assert_allclose(fit["joints2d_coco"], uv, rtol=1e-5, atol=1e-3)
    assert json.loads((tmp_path / "fit" / "a.json").read_text())["extra"]["fit_steps"] > 0
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())
    assert summary["fit"]["steps"] == 30 and summary["fit_ms_per_person"] > 0
    assert json.loads((tmp_path / "plain" / "summary.json").read_text())["fit"] is None


def test_predict_example_with_mediapipe(tmp_path, tiny_model):
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("MediaPipe front end not installed")
    out = tmp_path / "out"
    assert main(["predict", "--example", "-o", str(out), "--checkpoint", str(tiny_model)]) == 0
    assert (out / "aldrin_overlay.png").exists() and (out / "aldrin.obj").exists()


@pytest.mark.skipif(not (SHARED / "real").exists(), reason="../shared/data/real not present")
def test_predict_two_people_litert_default_and_mediapipe_flag(tmp_path, tiny_model):
    """Default front end: BlazePose through LiteRT (no mediapipe needed); ``--frontend
    mediapipe`` is the older path. The soccer photo has two players: two people each."""
    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("LiteRT not installed")
    photo = SHARED / "real" / "photos" / "commons_soccer_vacek.jpeg"
    base = ["predict", str(photo), "--checkpoint", str(tiny_model), "--fast", "--no-render"]
    assert main([*base, "-o", str(tmp_path / "lite")]) == 0
    people = json.loads((tmp_path / "lite" / "summary.json").read_text())["images"][0]["people"]
    assert len(people) >= 2 and all(p["frontend"] == "blazepose" for p in people)
    z = load_npz(tmp_path / "lite" / "commons_soccer_vacek_p1.npz")
    assert np.isfinite(z["vertices"]).all()
    if importlib.util.find_spec("mediapipe") is None:
        return
    assert main([*base, "--frontend", "mediapipe", "-o", str(tmp_path / "mp")]) == 0
    people = json.loads((tmp_path / "mp" / "summary.json").read_text())["images"][0]["people"]
    assert people and all(p["frontend"].startswith("detector+mediapipe") for p in people)


def test_predict_runs_without_mediapipe(tmp_path, tiny_model):
    """The default front end needs neither mediapipe nor its models: with ``import mediapipe``
    made to fail, ``lasor predict`` finds the example's person with the models lasor ships."""
    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("LiteRT not installed")
    code = (
        "import sys; sys.modules['mediapipe'] = None\n"
        "from lasor.frontend.detector import model_path\n"
        "assert model_path().parent.name == 'models', model_path()\n"
        "from lasor.cli import main\n"
        f"rc = main(['predict', '--example', '--checkpoint', {str(tiny_model)!r}, '--fast', "
        f"'--no-render', '-o', {str(tmp_path / 'out')!r}])\n"
        "assert rc == 0, rc\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "out" / "aldrin.npz").exists()


@pytest.mark.slow
def test_eval_synthetic_tiny(tmp_path, tiny_model):
    out = tmp_path / "ev"
    args = ["eval", "synthetic", "--checkpoint", str(tiny_model), "-n", "16", "-o", str(out),
            "--fast"]  # fmt: skip
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 16 and m["metrics"]["all"]["n"] == 16
    assert m["metrics"]["all"]["mpjpe"] > 0
    assert (out / "metrics.md").exists() and (out / "error_vs_occlusion.png").exists()
    per = np.load(out / "per_sample.npz")
    assert per["pa_mpjpe"].shape == (16,) and per["per_joint"].shape == (16, 17)
    assert per["mpjpe"].mean() == pytest.approx(m["metrics"]["all"]["mpjpe"], abs=0.01)
    assert m["refine"] is None
    # the same test set, each prediction refined against its proxy's heatmap peaks and silhouette
    args = ["eval", "synthetic", "--checkpoint", str(tiny_model), "-n", "16", "-o",
            str(tmp_path / "fit"), "--refine", "5"]  # fmt: skip
    assert main(args) == 0
    m2 = json.loads((tmp_path / "fit" / "metrics.json").read_text())
    assert m2["refine"]["steps"] == 5 and m2["n"] == 16
    per2 = np.load(tmp_path / "fit" / "per_sample.npz")
    assert np.isfinite(per2["pa_mpjpe"]).all() and not np.allclose(per2["mpjpe"], per["mpjpe"])
    assert np.array_equal(per2["frac"], per["frac"])  # same samples
    # fitted in the crop's camera (lasor.fit), the default of lasor eval
    args = ["eval", "synthetic", "--checkpoint", str(tiny_model), "-n", "16", "-o",
            str(tmp_path / "fit2"), "--fit-steps", "4"]  # fmt: skip
    assert main(args) == 0
    m3 = json.loads((tmp_path / "fit2" / "metrics.json").read_text())
    assert m["fit"] is None and m3["fit"]["steps"] == 4 and m3["fit_ms_per_sample"] > 0
    per3 = np.load(tmp_path / "fit2" / "per_sample.npz")
    assert np.isfinite(per3["pa_mpjpe"]).all() and not np.allclose(per3["mpjpe"], per["mpjpe"])
    assert np.array_equal(per3["frac"], per["frac"])


def test_synth_preview_and_export(tmp_path):
    png = tmp_path / "grid.png"
    base = ["--bank-size", "64", "--res", "32"]
    assert main(["synth", "preview", "-o", str(png), "--batch-size", "8", *base]) == 0
    assert Image.open(png).size[0] > 100
    assert main(["synth", "export", "--out", str(tmp_path / "shards"), "-n", "10",
                 "--batch-size", "8", *base]) == 0  # fmt: skip
    shards = sorted((tmp_path / "shards").glob("shard_*.npz"))
    with np.load(shards[0]) as z:
        assert z["proxy"].shape[1:] == (18, 32, 32)
        assert z["proxy"].shape[0] == 16  # rounded up to whole batches


@pytest.mark.skipif(not (SHARED / "real").exists(), reason="../shared/data/real not present")
def test_eval_real_tiny(tmp_path, tiny_model):
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("MediaPipe front end not installed")
    out = tmp_path / "real"
    args = ["eval", "real", "--checkpoint", str(tiny_model), "--data", str(SHARED / "real"),
            "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] >= 20
    h36m = [r for r in m["per_image"] if r["dataset"] == "h36m"]
    assert all(r["mediapipe_mpjpe"] > 0 for r in h36m)


def test_shipped_model_loads_offline_and_predicts(tmp_path):
    """The trained model ships in the package: weights_only load, <= 50 MB, runs the example."""
    import torch

    from lasor.predict import shipped_model_path

    path = shipped_model_path()
    assert path.exists(), f"no shipped model at {path}"
    assert path.stat().st_size <= 50 * 2**20
    state = torch.load(path, weights_only=True)
    assert state["body_model"] == "anny"
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("MediaPipe front end not installed")
    out = tmp_path / "out"
    assert main(["predict", "--example", "-o", str(out), "--no-render"]) == 0
    z = load_npz(out / "aldrin.npz")
    assert z["vertices"].shape == (13718, 3) and np.isfinite(z["vertices"]).all()
    assert (z["shape"] >= 0).all() and (z["shape"] <= 1).all()
