"""Loss terms: zero at the target, positive elsewhere, finite gradients; the criterion."""

from __future__ import annotations

import math

import pytest
import torch

from lasor.body.rotations import axis_angle_to_rotmat
from lasor.model.regressor import RegressorOutput
from lasor.render.silhouette import soft_silhouette
from lasor.train.losses import (
    LOSS_TERMS,
    Criterion,
    cam_loss,
    joints2d_loss,
    joints3d_loss,
    point_error,
    pose_loss,
    project_keypoints,
    render_silhouette,
    shape_loss,
    silhouette_loss,
    vertices_loss,
)

FLIP = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def params(b: int, seed: int, p: int = 19, s: int = 6):
    g = torch.Generator().manual_seed(seed)
    go = FLIP @ axis_angle_to_rotmat(0.3 * torch.randn(b, 3, generator=g))
    bp = axis_angle_to_rotmat(0.3 * torch.randn(b, p, 3, generator=g))
    shape = 0.4 + 0.2 * torch.rand(b, s, generator=g)
    cam = torch.cat([0.8 + 0.1 * torch.rand(b, 1, generator=g), 0.05 * torch.randn(b, 2)], 1)
    return go, bp, shape, cam


def as_output(go, bp, shape, cam) -> RegressorOutput:
    return RegressorOutput(
        go, bp, shape, cam, go[..., :2].flatten(-2), bp[..., :2].flatten(-2), shape
    )


@pytest.mark.parametrize("kind", ["mse", "l2", "l1"])
def test_point_error(kind):
    a = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert point_error(a, a.detach(), kind).item() == 0.0
    b = a.detach() + 0.1
    loss = point_error(a, b, kind)
    assert loss > 0
    (g,) = torch.autograd.grad(loss, a)
    assert torch.isfinite(g).all()
    # zero difference still gives a finite gradient (l2 is smoothed at 0)
    (g0,) = torch.autograd.grad(point_error(a, a.detach(), kind), a)
    assert torch.isfinite(g0).all()
    w = torch.zeros(2, 5)
    assert point_error(a, b, kind, weight=w).item() == 0.0
    w[0, 0] = 1.0
    assert point_error(a, b, kind, weight=w) > 0
    with pytest.raises(ValueError):
        point_error(a, b, "huber")


def test_body_losses_zero_at_target_positive_elsewhere(body):
    go, bp, shape, cam = params(2, seed=0)
    go2, bp2, shape2, _ = params(2, seed=1)
    target = body(go, bp, shape)
    same = body(go, bp, shape)
    bp2 = bp2.clone().requires_grad_()
    other = body(go2, bp2, shape2)
    for fn in (vertices_loss, joints3d_loss):
        for kind in ("mse", "l2", "l1"):
            assert fn(same, target, kind).item() == pytest.approx(0.0, abs=1e-7)
            loss = fn(other, target, kind)
            assert loss > 0
            (g,) = torch.autograd.grad(loss, bp2, retain_graph=True)
            assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_vertex_loss_ignores_root_translation(body):
    go, bp, shape, _ = params(2, seed=0)
    a = body(go, bp, shape)
    shifted = type(a)(**{**a.__dict__, "vertices": a.vertices + 1.0, "joints": a.joints + 1.0})
    assert vertices_loss(shifted, a).item() == pytest.approx(0.0, abs=1e-10)


def test_joints2d_loss(body):
    go, bp, shape, cam = params(3, seed=0)
    kp = body(go, bp, shape).keypoints_coco
    target = project_keypoints(kp, cam)
    vis = torch.ones(3, 17)
    assert joints2d_loss(kp, cam, target, vis).item() == 0.0
    cam2 = cam.clone().requires_grad_()
    with torch.no_grad():
        cam2[:, 1] += 0.1
    loss = joints2d_loss(kp, cam2, target, vis)
    assert loss > 0
    (g,) = torch.autograd.grad(loss, cam2)
    assert torch.isfinite(g).all()
    # an invisible joint is not supervised
    off = target.clone()
    off[:, 4] += 5.0
    vis[:, 4] = 0.0
    assert joints2d_loss(kp, cam, off, vis).item() == 0.0


def test_project_keypoints_matches_renderer_camera():
    from lasor.render.camera import ndc_to_pixels, weak_perspective_project

    pts, cam = torch.randn(2, 7, 3), torch.tensor([[0.9, 0.1, -0.2], [1.2, 0.0, 0.3]])
    torch.testing.assert_close(
        ndc_to_pixels(project_keypoints(pts, cam), 64),
        weak_perspective_project(pts, cam, 64)[..., :2],
    )


def test_pose_shape_cam_losses():
    go, bp, shape, cam = params(2, seed=0)
    go2, bp2, shape2, _ = params(2, seed=1)
    assert pose_loss(go, bp, go, bp).item() == 0.0
    bp2 = bp2.requires_grad_()
    loss = pose_loss(go2, bp2, go, bp)
    assert loss > 0
    assert torch.isfinite(torch.autograd.grad(loss, bp2)[0]).all()
    assert shape_loss(shape, shape).item() == 0.0
    assert shape_loss(shape2, shape) > 0
    assert cam_loss(torch.tensor([[0.9, 0.3, 0.1]]), 0.9).item() == pytest.approx(0.0, abs=1e-12)
    c = torch.tensor([[0.5, 0.0, 0.0]], requires_grad=True)
    loss = cam_loss(c, 0.9)
    assert loss > 0
    assert torch.isfinite(torch.autograd.grad(loss, c)[0]).all()


def test_silhouette_loss_zero_at_target_and_positive_elsewhere(body):
    go, bp, shape, cam = params(2, seed=0)
    out = body(go, bp, shape)
    target = render_silhouette(out.vertices, out.faces, cam, 32, 0.5).detach()
    assert silhouette_loss(out.vertices, out.faces, cam, target, 0.5).item() == pytest.approx(
        0.0, abs=1e-6
    )
    cam2 = cam.clone().requires_grad_()
    with torch.no_grad():
        cam2[:, 1] += 0.15
    loss = silhouette_loss(out.vertices, out.faces, cam2, target, 0.5, iou_weight=1.0)
    assert loss > 0
    (g,) = torch.autograd.grad(loss, cam2)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


@pytest.mark.parametrize("toy", [False, True], ids=["soft_rasteriser", "splats"])
def test_silhouette_loss_decreases_when_fitting_the_camera(body, splats, toy):
    # (renderer, fitting sigma, sigma of the thresholded target)
    renderer, sigma, sigma_target = (splats, 1.0, 1.0) if toy else (None, 0.05, 0.01)
    go, bp, shape, cam = params(1, seed=0)
    with torch.no_grad():
        verts = body(go, bp, shape).vertices
    faces = body.faces
    true_cam = torch.tensor([[0.8, 0.05, -0.05]])
    target = (render_silhouette(verts, faces, true_cam, 32, sigma_target, renderer) > 0.5).float()
    # start shifted and too small; fit the log-scale and the translation
    log_s = torch.tensor([math.log(0.7)], requires_grad=True)
    t = torch.tensor([[0.15, 0.1]], requires_grad=True)
    opt = torch.optim.Adam([log_s, t], lr=0.02)
    losses = []
    for _ in range(30):
        c = torch.cat([log_s.exp()[:, None], t], dim=1)
        loss = silhouette_loss(verts, faces, c, target, sigma, 1.0, renderer)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    fitted = torch.cat([log_s.exp().detach(), t.detach()[0]])
    start = torch.tensor([0.7, 0.15, 0.1])
    assert (fitted - true_cam[0]).norm() < 0.5 * (start - true_cam[0]).norm()


def test_default_renderer_is_the_soft_rasteriser(body):
    go, bp, shape, cam = params(1, seed=0)
    out = body(go, bp, shape)
    from lasor.render.camera import weak_perspective_project

    ref = soft_silhouette(weak_perspective_project(out.vertices, cam, 24), out.faces, 24, sigma=0.4)
    torch.testing.assert_close(render_silhouette(out.vertices, out.faces, cam, 24, 0.4), ref)


def batch_for(body, b: int = 2, seed: int = 0, size: int = 24):
    go, bp, shape, cam = params(b, seed)
    with torch.no_grad():
        out = body(go, bp, shape)
        sil = render_silhouette(out.vertices, out.faces, cam, size, 0.5)
    batch = {
        "global_orient": go,
        "body_pose": bp,
        "shape": shape,
        "joints2d": project_keypoints(out.keypoints_coco, cam),
        "joints2d_vis": torch.ones(b, 17),
        "silhouette": sil,
    }
    return batch, cam


def test_criterion_zero_at_target_fixed_weights(body):
    batch, cam = batch_for(body)
    crit = Criterion({k: 1.0 for k in LOSS_TERMS}, silhouette_sigma=0.5, cam_scale_prior=1.0)
    pred = as_output(batch["global_orient"], batch["body_pose"], batch["shape"], cam)
    total, terms = crit(pred, batch, body)
    assert set(terms) == set(LOSS_TERMS)
    for name, v in terms.items():
        if name != "cam":  # the camera prior only pulls towards its prior scale
            assert v.item() == pytest.approx(0.0, abs=1e-6), name
    assert total.item() == pytest.approx(terms["cam"].item(), abs=1e-5)


def test_criterion_gradients_and_switches(body):
    batch, cam = batch_for(body)
    go, bp, shape, _ = params(2, seed=5)
    bp = bp.requires_grad_()
    pred = as_output(go, bp, shape, cam)
    weights = {k: 1.0 for k in LOSS_TERMS}
    crit = Criterion(weights, silhouette_sigma=0.5)
    total, terms = crit(pred, batch, body)
    assert all(v > 0 for v in terms.values())
    (g,) = torch.autograd.grad(total, bp)
    assert torch.isfinite(g).all()
    off = Criterion(weights, use_silhouette=False)
    assert "silhouette" not in off.terms
    zero = Criterion({**weights, "pose": 0.0})
    assert "pose" not in zero.terms
    with pytest.raises(ValueError, match="Unknown loss terms"):
        Criterion({"vertex": 1.0})


def test_criterion_uncertainty_weighting(body):
    batch, cam = batch_for(body)
    go, bp, shape, _ = params(2, seed=5)
    pred = as_output(go, bp, shape, cam)
    crit = Criterion({"vertices": 1.0, "pose": 1.0, "shape": 1.0}, weighting="uncertainty")
    with torch.no_grad():
        crit.log_vars.copy_(torch.tensor([0.5, -1.0, 2.0]))
    total, terms = crit(pred, batch, body)
    expected = sum(
        math.exp(-lv) * terms[n].item() + lv
        for n, lv in zip(crit.terms, [0.5, -1.0, 2.0], strict=True)
    )
    assert total.item() == pytest.approx(expected, rel=1e-5)
    total.backward()
    assert torch.isfinite(crit.log_vars.grad).all() and crit.log_vars.grad.abs().sum() > 0
    assert crit.effective_weights()["vertices"] == pytest.approx(math.exp(-0.5))
