"""Refinement of regressed bodies against observed keypoints and masks (``lasor.refine``)."""

from __future__ import annotations

import pytest
import torch

from lasor.body.rotations import axis_angle_to_rotmat, rotmat_to_rot6d
from lasor.model.regressor import RegressorOutput
from lasor.refine import RefineOptions, refine
from lasor.render.camera import weak_perspective_project
from lasor.render.rasterize import rasterize_silhouette
from lasor.train.losses import project_keypoints

RES = 64


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def body():
    from lasor.body import load_body_model

    return load_body_model("anny", topology="notoes_collapse10pc")


def _output(body, go, bp, shape, cam) -> RegressorOutput:
    return RegressorOutput(
        global_orient=go, body_pose=bp, shape=shape, cam=cam,
        global_orient_6d=rotmat_to_rot6d(go), body_pose_6d=rotmat_to_rot6d(bp),
        shape_raw=torch.logit(shape),
    )  # fmt: skip


def _scene(body, batch: int = 1, seed: int = 0):
    """A true body and observations of it, and a perturbed start (pose, shape and camera)."""
    g = torch.Generator().manual_seed(seed)
    p = len(body.pose_bones)
    go = torch.diag(torch.tensor([1.0, -1.0, -1.0])).expand(batch, 3, 3).clone()
    bp_true = axis_angle_to_rotmat(0.25 * torch.randn(batch, p, 3, generator=g))
    shape_true = torch.full((batch, len(body.shape_names)), 0.5)
    cam_true = torch.tensor([[0.9, 0.02, -0.05]]).repeat(batch, 1)
    with torch.no_grad():
        out = body(go, bp_true, shape_true)
        kp = project_keypoints(out.keypoints_coco, cam_true)
        scr = weak_perspective_project(out.vertices, cam_true, RES)
        mask = rasterize_silhouette(scr, out.faces, RES).float()
    bp0 = bp_true @ axis_angle_to_rotmat(0.3 * torch.randn(batch, p, 3, generator=g))
    start = _output(
        body, go, bp0, torch.full_like(shape_true, 0.4), cam_true * torch.tensor([0.85, 1, 1])
        + torch.tensor([0.0, 0.08, 0.05]),
    )  # fmt: skip
    return start, kp, torch.ones(batch, 17), mask


def _errors(body, pred, kp, mask):
    with torch.no_grad():
        out = body(pred.global_orient, pred.body_pose, pred.shape)
        err = (project_keypoints(out.keypoints_coco, pred.cam) - kp).norm(dim=-1).mean()
        sil = rasterize_silhouette(
            weak_perspective_project(out.vertices, pred.cam, RES), out.faces, RES
        ).float()
    iou = (sil * mask).sum() / ((sil + mask) > 0).float().sum()
    return float(err), float(iou)


def test_refine_moves_the_body_onto_its_observations(body):
    start, kp, conf, mask = _scene(body)
    err0, iou0 = _errors(body, start, kp, mask)
    refined, hist = refine(start, body, kp, conf, mask, RefineOptions(steps=60))
    err1, iou1 = _errors(body, refined, kp, mask)
    assert err1 < 0.4 * err0, (err0, err1)
    assert iou1 > iou0 + 0.2 and iou1 > 0.6, (iou0, iou1)
    assert hist["keypoints"][-1] < 0.5 * hist["keypoints"][0]
    assert len(hist["total"]) == 60
    # outputs are valid: rotations orthonormal, phenotypes in (0, 1), positive scale
    eye = torch.eye(3).expand_as(refined.body_pose)
    assert torch.allclose(refined.body_pose @ refined.body_pose.transpose(-1, -2), eye, atol=1e-5)
    assert (refined.shape > 0).all() and (refined.shape < 1).all() and (refined.cam[:, 0] > 0).all()
    assert torch.allclose(refined.shape, torch.sigmoid(refined.shape_raw))


def test_edge_renderer_fit_started_at_the_truth_stays_there(body):
    start, kp, conf, mask = _scene(body, seed=4)
    g = torch.Generator().manual_seed(4)  # the same draws as _scene: the true body
    bp = axis_angle_to_rotmat(0.25 * torch.randn(1, len(body.pose_bones), 3, generator=g))
    truth = _output(body, start.global_orient, bp, torch.full_like(start.shape, 0.5),
                    torch.tensor([[0.9, 0.02, -0.05]]))  # fmt: skip
    assert _errors(body, truth, kp, mask) == (0.0, 1.0)
    edge = RefineOptions(steps=20, renderer="edge", silhouette_start=0.0)
    out, hist = refine(truth, body, kp, conf, mask, edge)
    err, iou = _errors(body, out, kp, mask)
    # Adam wanders a little along poses the keypoints do not pin down: < 0.2 px at 64 px
    assert err < 0.006 and iou > 0.9, (err, iou)
    assert hist["total"][0] < 1e-12
    soft = RefineOptions(steps=20, renderer="soft", silhouette_start=0.0)
    err_soft, iou_soft = _errors(body, refine(truth, body, kp, conf, mask, soft)[0], kp, mask)
    assert err_soft > err and iou_soft < iou  # the soft edge's bias pulls the body off
    with pytest.raises(ValueError, match="renderer"):
        refine(truth, body, kp, conf, mask, RefineOptions(renderer="pytorch3d"))


def test_keypoints_alone_also_fit(body):
    start, kp, conf, _ = _scene(body, seed=1)
    err0, _ = _errors(body, start, kp, torch.zeros(1, RES, RES))
    refined, hist = refine(start, body, kp, conf, None, RefineOptions(steps=40))
    assert _errors(body, refined, kp, torch.zeros(1, RES, RES))[0] < 0.5 * err0
    assert max(hist["silhouette"]) == 0.0


def test_zero_steps_is_the_identity(body):
    start, kp, conf, mask = _scene(body)
    out, hist = refine(start, body, kp, conf, mask, RefineOptions(steps=0))
    assert out is start and hist == {}


def test_people_in_a_batch_are_fitted_independently(body):
    start, kp, conf, mask = _scene(body, batch=2, seed=2)
    opts = RefineOptions(steps=8)
    both, _ = refine(start, body, kp, conf, mask, opts)
    for i in range(2):
        one = _output(
            body, start.global_orient[i : i + 1], start.body_pose[i : i + 1],
            start.shape[i : i + 1], start.cam[i : i + 1],
        )  # fmt: skip
        alone, _ = refine(one, body, kp[i : i + 1], conf[i : i + 1], mask[i : i + 1], opts)
        assert torch.allclose(alone.body_pose[0], both.body_pose[i], atol=1e-5)
        assert torch.allclose(alone.cam[0], both.cam[i], atol=1e-5)


def test_unconfident_keypoints_and_empty_masks_are_ignored(body):
    start, kp, conf, mask = _scene(body, seed=3)
    opts = RefineOptions(steps=5)
    ref, _ = refine(start, body, kp, conf, None, opts)
    wild = kp.clone()
    wild[0, 9] = torch.tensor([5.0, -7.0])  # a wrist far outside the crop...
    low = conf.clone()
    low[0, 9] = 0.1  # ...reported with low confidence
    conf_ref, _ = refine(start, body, kp, low, None, opts)
    conf_wild, _ = refine(start, body, wild, low, None, opts)
    assert torch.equal(conf_ref.body_pose, conf_wild.body_pose)
    assert not torch.equal(ref.body_pose, conf_ref.body_pose)  # the joint did count when confident
    empty, _ = refine(start, body, kp, conf, torch.zeros_like(mask), opts)
    assert torch.equal(empty.body_pose, ref.body_pose)  # an empty mask = no silhouette term
