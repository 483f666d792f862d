"""`lasor.Estimator` and the separate steps of `lasor.predict`."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import lasor
from lasor import predict as P
from lasor.cli import main
from lasor.io.results import load_npz

ROOT = Path(__file__).resolve().parents[2]


def _photo(tmp_path: Path) -> Path:
    """A 160x120 photo with an OpenPose keypoint file next to it (a standing person)."""
    img = np.full((160, 120, 3), 200, np.uint8)
    img[30:140, 45:75] = (90, 60, 40)
    Image.fromarray(img).save(tmp_path / "a.png")
    kp = np.zeros((25, 3))
    pts = {0: (60, 35), 1: (60, 50), 2: (50, 50), 3: (46, 70), 4: (45, 88), 5: (70, 50),
           6: (74, 70), 7: (75, 88), 8: (60, 90), 9: (54, 90), 10: (54, 112), 11: (54, 135),
           12: (66, 90), 13: (66, 112), 14: (66, 135), 15: (58, 32), 16: (62, 32)}  # fmt: skip
    for k, (x, y) in pts.items():
        kp[k] = (x, y, 0.9)
    (tmp_path / "a.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]})
    )
    return tmp_path / "a.png"


def test_estimator_gives_the_cli_numbers(tmp_path, tiny_model):
    photo = _photo(tmp_path)
    out = tmp_path / "cli"
    args = ["predict", str(photo), "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(tmp_path), "--no-render"]  # fmt: skip
    assert main(args) == 0
    cli = load_npz(out / "a.npz")
    with lasor.Estimator(tiny_model, keypoints=tmp_path) as est:
        (person,) = est(photo)
        (from_array,) = est(np.asarray(Image.open(photo)), name="a.png")
    for key in ("vertices", "joints3d_coco", "joints2d_coco", "body_pose_rotmat", "body_pose_aa",
                "shape", "cam_t", "bbox", "observed_confidence"):  # fmt: skip
        np.testing.assert_allclose(getattr(person, key), cli[key], atol=1e-6, err_msg=key)
        np.testing.assert_allclose(getattr(from_array, key), cli[key], atol=1e-6, err_msg=key)
    assert person.vertices.shape == (13718, 3) and person.faces.shape[1] == 3
    assert person.frontend.startswith("openpose")
    assert isinstance(person, lasor.Person)


def test_estimator_predict_writes_the_cli_files(tmp_path, tiny_model):
    photo = _photo(tmp_path)
    est = lasor.Estimator(tiny_model, keypoints=tmp_path, render=True)
    summary = est.predict([photo], tmp_path / "out")
    assert summary["failed"] == 0 and summary["people"] == 1
    for suffix in (".npz", ".json", ".obj", ".ply", "_overlay.png", "_side.png", "_proxy.png"):
        assert (tmp_path / "out" / f"a{suffix}").exists(), suffix
    assert (tmp_path / "out" / "summary.json").exists()


def test_estimator_refine_option_and_errors(tmp_path, tiny_model):
    photo = _photo(tmp_path)
    est = lasor.Estimator(tiny_model, keypoints=tmp_path, refine=5)
    (person,) = est(photo)
    assert person.extra == {"refine_steps": 5}
    with pytest.raises(TypeError, match="unknown option"):
        lasor.Estimator(tiny_model, keypoint=tmp_path)
    with pytest.raises(ValueError, match="refine"):
        lasor.Estimator(tiny_model, refine=-1)
    with pytest.raises(lasor.api.FrontendError, match="uint8"):
        est(np.zeros((4, 4), np.float32))


def test_steps_are_separate(tmp_path, tiny_model):
    """front end -> crops -> regress -> pose -> place -> assemble -> write, each on its own."""
    photo = _photo(tmp_path)
    opts = P.PredictOptions(keypoints=tmp_path)
    predictor = P.load_predictor(tiny_model, opts)
    model, body, res, fit_body = predictor  # the old tuple unpacking still works
    assert fit_body is None and res == predictor.res
    image = np.asarray(Image.open(photo))
    people = P.observe(photo, image, opts, None)
    items = P.person_items(image, people, "a.png") * 3  # a batch of 3
    reg = P.regress(predictor, items)
    assert reg.proxy.shape == (3, 18, res, res) and reg.joints.shape == (3, 17, 2)
    bout = P.pose_bodies(predictor.body, reg.pred)
    results = P.assemble_results(items, reg.pred, bout, predictor.body)
    assert len(results) == 3
    np.testing.assert_allclose(results[0].vertices, results[2].vertices, atol=1e-5)
    # the camera step: the projected model keypoints match the pinhole projection of the joints
    r = results[0]
    t = P.place_camera(reg.pred.cam[0].numpy(), items[0].box, image.shape[:2], r.focal_length)
    np.testing.assert_allclose(t, r.cam_t, atol=1e-6)
    uv = r.focal_length * r.joints3d_coco[:, :2] / r.joints3d_coco[:, 2:] + r.principal_point
    np.testing.assert_allclose(uv, r.joints2d_coco, atol=1e-2)
    # a translation override (video smoothing) moves the body rigidly
    moved = P.assemble_results(items[:1], reg.pred, bout, predictor.body,
                               cam_t=np.array([t + [0.0, 0.0, 1.0]]))[0]  # fmt: skip
    np.testing.assert_allclose(
        moved.vertices - r.vertices, np.broadcast_to([0, 0, 1.0], (13718, 3)), atol=1e-5
    )  # noqa: E501
    # refinement is a step of its own, fed by the regression's crop-space observations
    from lasor.refine import RefineOptions

    fitted = P.refine_people(P.Predictor(model, body, res), reg, items, RefineOptions(steps=3))
    assert not torch.allclose(fitted.body_pose, reg.pred.body_pose)


def test_write_person_takes_new_formats(tmp_path, tiny_model, monkeypatch):
    photo = _photo(tmp_path)
    est = lasor.Estimator(tiny_model, keypoints=tmp_path)
    (person,) = est(photo)

    def write_txt(out_dir, stem, result, image, proxy):
        path = out_dir / f"{stem}.txt"
        path.write_text(f"{len(result.vertices)}\n")
        return [path]

    monkeypatch.setitem(P.WRITERS, "txt", write_txt)
    timing: dict = {}
    paths = P.write_person(tmp_path / "o", "x", person, None, None, render=False, timing=timing)
    names = sorted(p.name for p in paths)
    assert names == ["x.json", "x.npz", "x.obj", "x.ply", "x.txt"]
    assert (tmp_path / "o" / "x.txt").read_text() == "13718\n"
    assert set(timing) == {"outputs", "txt"}


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README has no <!-- api-example --> python block"
    return m.group(1)


def test_readme_example_is_short_and_runs(tmp_path, monkeypatch):
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 6
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("MediaPipe front end not installed")
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the README's own example
    assert ns["people"] and ns["people"][0].vertices.shape == (13718, 3)
    assert (tmp_path / "out" / "aldrin.npz").exists()
