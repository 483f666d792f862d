"""Fitting in the photo's camera (``lasor.fit.core``): truth stays, border rule, agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lasor.body.rotations import axis_angle_to_rotmat
from lasor.fit.camera import project_points
from lasor.fit.core import FitOptions, FitStart, fit_people, silhouette_weights
from lasor.fit.prior import load_pose_prior
from lasor.render.rasterize import rasterize
from lasor.synth.proxy import CropBox


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def body():
    from lasor.body import load_body_model

    return load_body_model("anny", topology="notoes_collapse10pc")


def _scene(body, cam_t, hw=(480, 360), focal=600.0):
    """A plausible (prior-mode) camera-facing body, its keypoints and its mask in the photo."""
    p = load_pose_prior()
    pose = p.means[int(torch.argmax(p.weights))].float().reshape(1, -1, 3)
    bp = axis_angle_to_rotmat(pose)
    go = torch.diag(torch.tensor([1.0, -1.0, -1.0]))[None]
    shape = body.shape_default[None].clone()
    t = torch.tensor([cam_t], dtype=torch.float32)
    out = body(go, bp, shape)
    h, w = hw
    f = torch.tensor([focal])
    c = torch.tensor([[w / 2, h / 2]])
    kp = project_points(out.keypoints_coco, t, f, c)
    v = out.vertices + t[:, None]
    scr = torch.cat([f * v[..., :2] / v[..., 2:] + c[:, None], v[..., 2:]], -1)
    mask = rasterize(scr.double().numpy(), out.faces, hw, perspective=True).silhouette[0].numpy()
    return FitStart(go, bp, shape, t), kp[0].numpy(), mask.astype(bool), out


def _fit(body, start, kp, mask, hw, focal=600.0, **kw):
    conf = np.ones((1, 17), np.float32)
    opts = FitOptions(**kw)
    return fit_people(body, start, kp[None], conf, [mask], [hw], [focal], opts)


def _vertex_error(body, res, start) -> float:
    a = body(res.global_orient, res.body_pose, res.shape).vertices + res.cam_t[:, None]
    b = body(start.global_orient, start.body_pose, start.shape).vertices + start.cam_t[:, None]
    return float((a - b).norm(dim=-1).mean())


def test_fit_started_at_the_truth_stays_there(body):
    hw = (480, 360)
    start, kp, mask, _ = _scene(body, [0.0, 0.0, 4.0], hw)
    res = _fit(body, start, kp, mask, hw)
    assert _vertex_error(body, res, start) < 0.02  # metres
    assert abs(float(res.cam_t[0, 2]) - 4.0) < 0.08


def test_fit_recovers_a_shifted_camera(body):
    hw = (480, 360)
    start, kp, mask, _ = _scene(body, [0.0, 0.0, 4.0], hw)
    off = FitStart(start.global_orient, start.body_pose, start.shape,
                   start.cam_t + torch.tensor([[0.15, -0.1, 0.6]]))  # fmt: skip
    res = _fit(body, off, kp, mask, hw)
    assert float((res.cam_t - start.cam_t).norm()) < 0.15
    assert _vertex_error(body, res, start) < _vertex_error(body, res, off)


def test_results_agree_with_camera_by_construction(body):
    hw = (480, 360)
    start, kp, mask, _ = _scene(body, [0.1, 0.0, 5.0], hw)
    res = _fit(body, start, kp, mask, hw, steps=6)
    out = body(res.global_orient, res.body_pose, res.shape)
    f, c = res.focal, res.centre
    torch.testing.assert_close(res.keypoints2d, project_points(out.keypoints_coco, res.cam_t, f, c))
    torch.testing.assert_close(c, torch.tensor([[180.0, 240.0]]))
    u = (
        f[:, None]
        * (out.keypoints_coco[..., 0] + res.cam_t[:, 0:1])
        / (out.keypoints_coco[..., 2] + res.cam_t[:, 2:3])
        + c[:, 0:1]
    )
    torch.testing.assert_close(res.keypoints2d[..., 0], u)


def test_border_pixels_do_not_count():
    mask = np.zeros((100, 80), bool)
    mask[40:, 20:60] = True  # a body running out of the bottom of the frame
    box = CropBox(cx=40.0, cy=80.0, size=80.0)  # the lower half hangs below the image
    target, w = silhouette_weights(mask, box, 40, (100, 80), outside=0.3)
    rows = 80.0 - 40.0 + (np.arange(40) + 0.5) * 2.0
    below = rows >= 100
    assert below.any() and (~below).any()
    assert (w[below] == 0).all()  # outside the image: unobserved, never against the mesh
    assert (
        np.isclose(w[~below][..., None], [0.3, 1.0]).any(-1).all()
        and (w[~below][target[~below] > 0] == 1).all()
    )
    assert silhouette_weights(None, box, 40, (100, 80), 0.3)[1].sum() == 0


def test_body_cut_by_the_frame_is_not_squeezed_inside(body):
    # legs leave the frame below: the fit keeps them there, while the same mask with the cut-off
    # part claimed as background (a taller photo, empty below) squeezes the body
    hw = (260, 360)
    start, kp, mask, _ = _scene(body, [0.0, 0.45, 4.0], hw)
    assert mask[-1].any() and (kp[:, 1] >= hw[0]).any()
    conf = (kp[:, 1] < hw[0]).astype(np.float32)[None]  # the detector sees no cut-off joints
    opts = FitOptions()
    res = fit_people(body, start, kp[None], conf, [mask], [hw], [600.0], opts)
    tall = np.zeros((hw[0] + 200, hw[1]), bool)
    tall[: hw[0]] = mask
    moved = start.cam_t.clone()
    moved[:, 1] -= 100 * float(moved[0, 2]) / 600.0  # same view, principal point 100 px lower
    st2 = FitStart(start.global_orient, start.body_pose, start.shape, moved)
    squeezed = fit_people(body, st2, kp[None] + [0, 100], conf, [tall], [tall.shape], [600.0], opts)
    err, err_squeezed = _vertex_error(body, res, start), _vertex_error(body, squeezed, st2)
    assert err < 0.04 and abs(float(res.cam_t[0, 2]) - 4.0) < 0.1
    assert err_squeezed > 1.5 * err


def test_keypoints_outside_the_image_or_unsure_do_not_pull(body):
    from lasor.fit.core import _keypoint_weights

    kp = np.array([[10.0, 10.0], [-5.0, 10.0], [10.0, 300.0], [10.0, 10.0]])
    w = _keypoint_weights(kp, np.array([0.9, 0.9, 0.9, 0.1]), (200, 100), 0.3)
    np.testing.assert_allclose(w, [0.9, 0.0, 0.0, 0.0])


def test_bone_direction_loss_gradient_and_invariances():
    from lasor.fit.core import bone_direction_loss

    g = torch.Generator().manual_seed(0)
    joints = torch.randn(2, 17, 3, generator=g, dtype=torch.float64, requires_grad=True)
    world = torch.randn(2, 17, 3, generator=g, dtype=torch.float64)
    weight = torch.rand(2, 17, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda j: bone_direction_loss(j, world, weight), (joints,))
    # zero on the same skeleton, whatever its scale and position; unweighted people give 0
    same = bone_direction_loss(2.5 * world + 1.0, world, weight)
    torch.testing.assert_close(same, torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    none = bone_direction_loss(joints, world, torch.zeros_like(weight))
    torch.testing.assert_close(none, torch.zeros(2, dtype=torch.float64))
    # a reversed skeleton is as far as it gets: 1 - cos = 2 on every bone
    far = bone_direction_loss(-world, world, torch.ones_like(weight))
    torch.testing.assert_close(far, torch.full((2,), 2.0, dtype=torch.float64))


def test_world_term_pulls_a_bent_leg_towards_the_landmarks(body):
    """Keypoints alone do not tell a knee bent towards the camera from a straight one; the
    world landmarks of the straight truth do, and the fit follows them (as far as 40 steps at
    its learning rate go: ~0.2 rad of pose, so the bend here is 0.3 rad)."""
    from lasor.synth.world import look_at_rotation

    hw = (480, 360)
    start, kp, mask, truth = _scene(body, [0.0, 0.0, 4.0], hw)
    bent = start.body_pose.clone()
    knee = body.pose_bones.index("lowerleg01.L")
    bent[:, knee] = axis_angle_to_rotmat(torch.tensor([[[0.3, 0.0, 0.0]]]))[:, 0] @ bent[:, knee]
    off = FitStart(start.global_orient, bent, start.shape, start.cam_t)
    kp3 = truth.keypoints_coco + start.cam_t[:, None]
    # the truth's landmarks in the frame of a camera looking at the person's box
    from lasor.synth.proxy import person_box

    box = person_box(mask, kp, np.ones(17, np.float32))
    ray = np.array([[(box.x0 + box.size / 2 - hw[1] / 2) / 600.0,
                     (box.y0 + box.size / 2 - hw[0] / 2) / 600.0]])  # fmt: skip
    look = torch.from_numpy(look_at_rotation(ray).astype(np.float32))
    world = (kp3 @ look.transpose(1, 2)).numpy()
    conf = np.ones((1, 17), np.float32)

    def knee_error(res):
        out = body(res.global_orient, res.body_pose, res.shape).keypoints_coco
        return float((out - truth.keypoints_coco)[0, 15].norm())

    plain = fit_people(body, off, kp[None], conf, [mask], [hw], [600.0], FitOptions(), [box])
    with_world = fit_people(
        body, off, kp[None], conf, [mask], [hw], [600.0], FitOptions(world=3.0), [box],
        world=world, world_weight=conf,
    )  # fmt: skip
    assert with_world.history["world"][-1] < with_world.history["world"][0]
    assert knee_error(with_world) < 0.8 * knee_error(plain)
