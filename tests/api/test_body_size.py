"""Height, age and body measurements in every result; ``--height`` fixes the scale exactly."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import lasor
from lasor import predict as P
from lasor.body.measure import MEASUREMENT_NAMES
from lasor.body.rotations import axis_angle_to_rotmat
from lasor.cli import main
from lasor.io.results import load_npz

from .test_api import _photo

FIELDS = (*MEASUREMENT_NAMES, "age_years", "scale", "scale_source")


def test_results_carry_height_age_and_measurements(tmp_path, tiny_model):
    photo = _photo(tmp_path)
    with lasor.Estimator(tiny_model, keypoints=tmp_path, fit=False) as est:
        (p,) = est(photo)
    assert p.scale_source == "body_model" and p.scale == 1.0
    for k in (*MEASUREMENT_NAMES, "age_years"):
        assert np.isfinite(getattr(p, k)) and getattr(p, k) > 0, k
    assert 0.3 < p.height_m < 2.3
    rest = P.body_sizes(est.predictor.body, torch.from_numpy(p.shape[None]))[0]
    assert rest["height_m"] == p.height_m  # measured on the unposed body of the shape


def test_height_scales_cam_t_and_vertices_exactly(tmp_path, tiny_model):
    photo = _photo(tmp_path)
    with lasor.Estimator(tiny_model, keypoints=tmp_path, fit=False) as est:
        (a,) = est(photo)
    with lasor.Estimator(tiny_model, keypoints=tmp_path, fit=False, height=1.52) as est:
        (b,) = est(photo)
    s = 1.52 / a.height_m
    assert b.scale_source == "height_given" and b.scale == pytest.approx(s, rel=1e-12)
    assert b.height_m == pytest.approx(1.52, rel=1e-12)
    np.testing.assert_allclose(b.cam_t, a.cam_t * s, rtol=1e-6)
    np.testing.assert_allclose(b.vertices, a.vertices * s, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b.joints3d_h36m, a.joints3d_h36m * s, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b.joints2d_coco, a.joints2d_coco)  # the photo is unchanged
    for k in MEASUREMENT_NAMES:
        assert getattr(b, k) == pytest.approx(getattr(a, k) * s, rel=1e-12), k
    assert b.age_years == a.age_years and np.array_equal(b.shape, a.shape)
    with pytest.raises(ValueError, match="height"):
        lasor.Estimator(tiny_model, keypoints=tmp_path, height=0.0)


def test_measurements_do_not_depend_on_the_pose(tmp_path, tiny_model):
    photo = _photo(tmp_path)
    opts = P.PredictOptions(keypoints=tmp_path)
    predictor = P.load_predictor(tiny_model, opts)
    image = np.asarray(lasor.api._load(photo, None)[0])
    items = P.person_items(image, P.observe(photo, image, opts, None), "a.png") * 2
    reg = P.regress(predictor, items)
    g = torch.Generator().manual_seed(0)
    bp = reg.pred.body_pose.clone()
    bp[1] = axis_angle_to_rotmat(torch.randn(19, 3, generator=g) * 0.5)
    pred = dataclasses.replace(reg.pred, body_pose=bp)
    r = P.assemble_results(items, pred, P.pose_bodies(predictor.body, pred), predictor.body)
    assert not np.allclose(r[0].vertices, r[1].vertices, atol=1e-3)
    for k in (*MEASUREMENT_NAMES, "age_years"):
        assert getattr(r[0], k) == getattr(r[1], k), k


def test_cli_height_in_npz_json_and_summary(tmp_path, tiny_model, capsys):
    photo = _photo(tmp_path)
    for name, extra in (("plain", []), ("tall", ["--height", "1.8"])):
        common = ["--checkpoint", str(tiny_model), "--keypoints", str(tmp_path), "--no-render"]
        assert (
            main(["predict", str(photo), "-o", str(tmp_path / name), *common, "--fast", *extra])
            == 0
        )
    out = capsys.readouterr().out
    assert "scale: the estimated body's own size" in out and "fixed by --height 1.8" in out
    z, zt = load_npz(tmp_path / "plain" / "a.npz"), load_npz(tmp_path / "tall" / "a.npz")
    j = json.loads((tmp_path / "tall" / "a.json").read_text())
    for k in FIELDS:
        assert k in z and k in zt and k in j, k
    assert str(z["scale_source"]) == "body_model" and j["scale_source"] == "height_given"
    assert j["height_m"] == pytest.approx(1.8, abs=1e-6)
    np.testing.assert_allclose(zt["cam_t"], z["cam_t"] * 1.8 / z["height_m"], rtol=1e-5)
    summary = json.loads((tmp_path / "tall" / "summary.json").read_text())
    assert summary["scale"] == "height_given"
