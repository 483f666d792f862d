"""Fit regressed bodies in the photo's own perspective camera at full resolution.

``fit_people`` starts from any regressor's output (pose, shape, and a camera translation in
metres) and minimises, per person and independently within a batch (SMPLify-style fitting,
Bogo et al. 2016, started from a network as in SPIN, Kolotouros et al. 2019):

* **keypoints**: a robust (Geman-McClure) 2D term on the projected COCO-17 keypoints, weighted by
  the detector's confidence; keypoints below ``min_confidence`` or outside the image do not pull;
  residuals are measured relative to the person's box (``2 r / L``, NDC-like units);
* **silhouette**: the observed full-resolution mask resampled into the person's box at
  ``mask_res`` pixels (the native size when the box is smaller) against the body's silhouette
  (``lasor.render.silhouette``); mesh pixels outside the mask cost ``outside_weight`` of mask
  pixels the mesh misses (occluders hide, they never add), and window pixels outside the image
  count for nothing (the border rule: a body cut by the frame is not squeezed inside it);
* **world landmarks** (when given: MediaPipe's 3D world landmarks): a scale- and translation-free
  term on bone *directions* (``WORLD_BONES``: the limbs, shoulders, hips and flanks), ``1 - cos``
  between the body's bone and the landmarks' bone, weighted by the lower visibility of its two
  ends; the body is first turned into the frame of a camera looking at the person's box, the
  frame MediaPipe's landmarks are in (``lasor.synth.world.look_at_rotation``);
* **priors**: the GMM pose prior and joint limits of :mod:`lasor.fit.prior`, the start pose
  (rotation-matrix distance) and the start shape, so hidden parts rest on them.

Camera: pinhole, focal ``focal`` (pixels) and principal point at the image centre
(:mod:`lasor.fit.camera`); the fit solves the translation ``cam_t`` (metres). The returned 2D
keypoints are ``project_points(keypoints_coco, cam_t, focal, centre)`` by construction.

Schedule: three stages (camera + root orientation on the keypoints; then the body pose with the
mask; then the shape), Adam with a cosine-decayed rate per stage, each stage stopping early when
the batch's loss stalls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from lasor.body.base import BodyModel
from lasor.body.rotations import (
    axis_angle_to_rotmat,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
)
from lasor.fit.camera import project_points
from lasor.fit.prior import PosePrior, load_pose_prior
from lasor.render.silhouette import edge_grad_silhouette, geometric_schedule, soft_silhouette
from lasor.synth.proxy import CropBox, crop_mask, person_box

__all__ = [
    "WORLD_BONES",
    "FitOptions",
    "aligned_joint_loss",
    "FitResult",
    "FitStart",
    "bone_direction_loss",
    "fit_people",
    "silhouette_weights",
]

#: COCO-17 keypoint pairs whose directions the world-landmark term compares.
WORLD_BONES: list[tuple[int, int]] = [
    (5, 7), (7, 9), (6, 8), (8, 10),  # arms
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
    (5, 6), (11, 12), (5, 11), (6, 12),  # shoulders, hips, flanks
]  # fmt: skip


@dataclass
class FitOptions:
    """Settings of :func:`fit_people` (weights relative to the keypoint term).

    Attributes:
        steps: total Adam iterations over the three stages (0 = off).
        stages: fractions of ``steps`` for (camera + root, + pose, + shape).
        lr: Adam learning rate (rotations in radians / 6D units, translation in metres and
            log-depth), decayed along a cosine to 5 % within each stage. Adam moves every
            parameter by ~lr per step even at an optimum; 0.01 keeps a fit started at the truth
            within ~1 cm (0.02 drifted ~4 cm) and scored better on the real photos.
        keypoints: weight of the robust keypoint term.
        keypoint_scale: Geman-McClure scale (in units of half the box side).
        min_confidence: keypoints below it do not pull.
        silhouette: weight of the mask term (mean over window pixels).
        outside_weight: relative cost of mesh pixels outside the observed mask (0.3 inflated
            bodies to cover generous MediaPipe masks; 0.6 scored better on the real photos).
        mask_res: silhouette window side in pixels (the box's own size when smaller).
        renderer: "edge" (exact silhouette, blurred-edge gradient) or "soft" (SoftRas-style).
        tau: (start, end) gradient blur of the "edge" renderer in window pixels.
        sigma: softness of the "soft" renderer (pixels^2).
        pose_gmm: weight of the GMM pose prior's negative log-likelihood.
        joint_limits: weight of the joint-limit penalty (radians^2).
        start_pose: weight of the squared rotation-matrix distance to the start pose.
        start_shape: weight of the squared distance to the start shape (logit units when the
            shape is bounded).
        world: weight of the world-landmark term (used only where landmarks are given).
        world_mode: "bones" (mean over ``WORLD_BONES`` of ``1 - cos`` between bone directions,
            weighted by visibility) or "joints" (the landmarks similarity-aligned onto the
            body's keypoints each step, then the visibility-weighted mean squared distance over
            the body's squared RMS size: scale-free; at rest between the 2D term and the
            landmarks, like an average of the two skeletons).
        early_stop: a stage ends when the loss improved by less than this fraction over the
            last ``patience`` steps.
        patience: see ``early_stop``.
    """

    steps: int = 40
    stages: tuple[float, float, float] = (0.25, 0.45, 0.3)
    lr: float = 0.01
    keypoints: float = 1.0
    keypoint_scale: float = 0.4
    min_confidence: float = 0.3
    silhouette: float = 1.0
    outside_weight: float = 0.6
    mask_res: int = 192
    renderer: str = "edge"
    tau: tuple[float, float] = (4.0, 1.0)
    sigma: float = 1.0
    pose_gmm: float = 1e-4
    joint_limits: float = 1e-2
    start_pose: float = 0.01
    start_shape: float = 0.01
    world: float = 0.0
    world_mode: str = "bones"
    early_stop: float = 2e-3
    patience: int = 4


@dataclass
class FitStart:
    """Where the fit starts (any regressor): camera-frame parameters and translation.

    Attributes:
        global_orient: (B, 3, 3).
        body_pose: (B, P, 3, 3).
        shape: (B, S).
        cam_t: (B, 3) metres.
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    shape: torch.Tensor
    cam_t: torch.Tensor


@dataclass
class FitResult:
    """Fitted parameters; ``keypoints2d`` = projection of the fitted body with ``cam_t``.

    Attributes:
        global_orient, body_pose, shape, cam_t: as :class:`FitStart`.
        focal: (B,) pixels; centre: (B, 2) principal points.
        keypoints2d: (B, 17, 2) projected COCO keypoints of the fitting body, pixels.
        history: per-step batch-mean losses by term.
        steps_run: steps actually taken (early stopping).
        seconds: wall time.
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    shape: torch.Tensor
    cam_t: torch.Tensor
    focal: torch.Tensor
    centre: torch.Tensor
    keypoints2d: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    steps_run: int = 0
    seconds: float = 0.0


def _gmof(sq: torch.Tensor, scale: float) -> torch.Tensor:
    s2 = scale * scale
    return s2 * sq / (s2 + sq)


def silhouette_weights(
    mask: np.ndarray | None, box: CropBox, res: int, image_hw: tuple[int, int], outside: float
) -> tuple[np.ndarray, np.ndarray]:
    """Target and per-pixel weights of the mask term in a person's window.

    Args:
        mask: (H, W) full-resolution bool mask or None (no silhouette term: zero weights).
        box: the window in image pixels.
        res: window side in pixels.
        image_hw: (H, W) of the photo.
        outside: weight of window pixels outside the observed mask.

    Returns:
        (target (res, res) float32 in {0, 1}, weights (res, res) float32): weights are 1 on the
        mask, ``outside`` off it, and 0 where the pixel centre lies outside the image (the
        border rule: what the frame cuts off is unobserved).
    """
    h, w = image_hw
    c = box.x0 + (np.arange(res) + 0.5) * box.size / res
    r = box.y0 + (np.arange(res) + 0.5) * box.size / res
    inside = ((r >= 0) & (r < h))[:, None] & ((c >= 0) & (c < w))[None, :]
    if mask is None or not mask.any():
        return np.zeros((res, res), np.float32), np.zeros((res, res), np.float32)
    target = crop_mask(mask, box, res).astype(np.float32)
    weights = (target + outside * (1.0 - target)) * inside
    return target, weights.astype(np.float32)


def bone_direction_loss(
    joints: torch.Tensor, world: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Scale- and translation-free disagreement of two skeletons' bone directions.

    Args:
        joints: (B, 17, 3) the body's COCO-17 keypoints (any origin and scale).
        world: (B, 17, 3) landmarks in the same axes.
        weight: (B, 17) per-keypoint weights (e.g. visibility; 0 for absent landmarks).

    Returns:
        (B,) weighted mean over ``WORLD_BONES`` of ``1 - cos`` (0 when all directions agree;
        0 for a person with no weight).
    """
    a = torch.tensor([i for i, _ in WORLD_BONES])
    b = torch.tensor([j for _, j in WORLD_BONES])
    d_body = joints[:, b] - joints[:, a]
    d_world = world[:, b] - world[:, a]
    cos = torch.nn.functional.cosine_similarity(d_body, d_world, dim=-1, eps=1e-6)
    w = torch.minimum(weight[:, a], weight[:, b])
    return ((1.0 - cos) * w).sum(1) / w.sum(1).clamp_min(1e-6)


def aligned_joint_loss(
    joints: torch.Tensor, world: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Scale-free distance of a skeleton to landmarks similarity-aligned onto it.

    The similarity (rotation, scale, translation; weighted Umeyama) that best maps ``world``
    onto ``joints`` is computed without gradient; the loss is the weighted mean squared
    distance between ``joints`` and the aligned landmarks over ``joints``' squared RMS size.

    Args:
        joints: (B, 17, 3). world: (B, 17, 3). weight: (B, 17) (0 for absent landmarks).

    Returns:
        (B,) (0 where a person has no weight).
    """
    w = weight.clamp_min(0.0)
    tot = w.sum(1, keepdim=True).clamp_min(1e-6)
    with torch.no_grad():
        mu_j = (w[..., None] * joints).sum(1, keepdim=True) / tot[..., None]
        mu_w = (w[..., None] * world).sum(1, keepdim=True) / tot[..., None]
        a, b = world - mu_w, joints - mu_j
        cov = torch.einsum("bn,bni,bnj->bij", w, b, a) / tot[..., None]
        u, sig, vt = torch.linalg.svd(cov)
        d = torch.ones_like(sig)
        d[:, -1] = torch.sign(torch.linalg.det(u @ vt))
        r = u @ torch.diag_embed(d) @ vt
        var = (w * (a**2).sum(-1)).sum(1, keepdim=True) / tot
        s = (sig * d).sum(1, keepdim=True) / var.clamp_min(1e-9)
        target = s[..., None] * a @ r.transpose(1, 2) + mu_j
        size2 = ((w * (b**2).sum(-1)).sum(1) / tot[:, 0]).clamp_min(1e-6)
    sq = ((joints - target) ** 2).sum(-1)
    return (w * sq).sum(1) / tot[:, 0] / size2


def _keypoint_weights(kp: np.ndarray, conf: np.ndarray, hw, min_conf: float) -> np.ndarray:
    h, w = hw
    ok = (conf >= min_conf) & (kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h)
    return (conf * ok).astype(np.float32)


def fit_people(
    body: BodyModel,
    start: FitStart,
    keypoints: np.ndarray | torch.Tensor,
    confidence: np.ndarray | torch.Tensor,
    masks: list[np.ndarray | None],
    image_hw: list[tuple[int, int]],
    focal: list[float] | np.ndarray,
    opts: FitOptions | None = None,
    boxes: list[CropBox] | None = None,
    prior: PosePrior | None = None,
    shape_bounds: tuple[float, float] | None = (0.0, 1.0),
    world: np.ndarray | torch.Tensor | None = None,
    world_weight: np.ndarray | torch.Tensor | None = None,
) -> FitResult:
    """Fit B people (each in its own photo's camera) to their keypoints and masks.

    Args:
        body: body model to fit with (a coarse topology is enough and cheaper).
        start: start parameters and translation (e.g. a regressor's output).
        keypoints: (B, 17, 2) observed COCO keypoints, photo pixels.
        confidence: (B, 17) in [0, 1].
        masks: B full-resolution (H, W) bool masks or None.
        image_hw: B photo sizes (H, W).
        focal: B focal lengths in pixels (principal point at each photo's centre).
        opts: settings.
        boxes: B silhouette windows (default: ``person_box`` of mask and keypoints).
        prior: pose prior (default: the shipped one).
        shape_bounds: open interval of valid shape values (Anny: (0, 1)), fitted in logit
            space; None for unbounded shapes (SMPL betas).
        world: optional (B, 17, 3) MediaPipe world landmarks in COCO-17 order (metres, axes
            of a camera looking at the person); used when ``opts.world > 0``.
        world_weight: (B, 17) their weights (visibility; all 0 for a person without them).

    Returns:
        :class:`FitResult`. Under ``torch.no_grad`` callers are fine: gradients are enabled here.
    """
    opts = opts or FitOptions()
    if opts.renderer not in ("edge", "soft"):
        raise ValueError(f"FitOptions.renderer must be 'edge' or 'soft', got {opts.renderer!r}")
    t_start = time.perf_counter()
    dt = torch.float32
    b = start.global_orient.shape[0]
    kp = np.asarray(torch.as_tensor(keypoints, dtype=dt), dtype=np.float32)
    conf = np.asarray(torch.as_tensor(confidence, dtype=dt), dtype=np.float32)
    if boxes is None:
        boxes = [person_box(masks[i], kp[i], conf[i]) for i in range(b)]
    res = int(max(8, min(opts.mask_res, math.ceil(max(bx.size for bx in boxes)))))
    targets, weights = zip(
        *(silhouette_weights(masks[i], boxes[i], res, image_hw[i], opts.outside_weight)
          for i in range(b)), strict=True
    )  # fmt: skip
    target = torch.from_numpy(np.stack(targets))
    pix_w = torch.from_numpy(np.stack(weights))
    has_sil = bool(pix_w.sum() > 0) and opts.silhouette > 0
    w_kp = torch.from_numpy(
        np.stack([_keypoint_weights(kp[i], conf[i], image_hw[i], opts.min_confidence)
                  for i in range(b)])
    )  # fmt: skip
    n_kp = w_kp.sum(1).clamp_min(1.0)
    kp_t = torch.from_numpy(kp)
    focal_t = torch.as_tensor(np.asarray(focal, dtype=np.float32))
    centre = torch.tensor([[w / 2.0, h / 2.0] for h, w in image_hw], dtype=dt)
    x0 = torch.tensor([[bx.x0, bx.y0] for bx in boxes], dtype=dt)
    box_l = torch.tensor([bx.size for bx in boxes], dtype=dt)
    to_win = res / box_l  # window pixels per photo pixel
    prior = (prior or load_pose_prior()).to(dt)
    use_world = world is not None and opts.world > 0
    if opts.world_mode not in ("bones", "joints"):
        raise ValueError(f"FitOptions.world_mode: 'bones' or 'joints', not {opts.world_mode!r}")
    world_loss = bone_direction_loss if opts.world_mode == "bones" else aligned_joint_loss
    if use_world:
        from lasor.synth.world import look_at_rotation

        world_t = torch.as_tensor(np.asarray(world, np.float32))
        world_w = torch.as_tensor(np.asarray(world_weight, np.float32))
        # the frame of MediaPipe's landmarks: a camera turned towards the person's box
        mid = np.array([[bx.x0 + bx.size / 2, bx.y0 + bx.size / 2] for bx in boxes])
        ray = (mid - centre.numpy()) / focal_t.numpy()[:, None]
        look = torch.from_numpy(look_at_rotation(ray).astype(np.float32))

    go0 = start.global_orient.detach().to(dt)
    bp0 = start.body_pose.detach().to(dt)
    shape0 = start.shape.detach().to(dt)
    if shape_bounds is not None:
        lo, hi = shape_bounds
        eps = 1e-3 * (hi - lo)
        raw0 = torch.logit((shape0.clamp(lo + eps, hi - eps) - lo) / (hi - lo))
    else:
        raw0 = shape0
    t0 = start.cam_t.detach().to(dt)
    go6 = rotmat_to_rot6d(go0).clone().requires_grad_(True)
    bp_aa = rotmat_to_axis_angle(bp0).clone().requires_grad_(True)
    raw = raw0.clone().requires_grad_(True)
    txy = t0[:, :2].clone().requires_grad_(True)
    log_tz = torch.log(t0[:, 2:].clamp_min(0.1)).clone().requires_grad_(True)

    def decode():
        if shape_bounds is not None:
            shape = shape_bounds[0] + (shape_bounds[1] - shape_bounds[0]) * torch.sigmoid(raw)
        else:
            shape = raw
        cam_t = torch.cat([txy, torch.exp(log_tz)], 1)
        return rot6d_to_rotmat(go6), axis_angle_to_rotmat(bp_aa), shape, cam_t

    history: dict[str, list[float]] = {
        k: [] for k in ("total", "keypoints", "silhouette", "world", "prior", "stage")
    }
    n_stage = [int(round(f * opts.steps)) for f in opts.stages]
    stage_params = [
        [go6, txy, log_tz],
        [go6, txy, log_tz, bp_aa],
        [go6, txy, log_tz, bp_aa, raw],
    ]
    steps_run = 0
    with torch.no_grad():  # stage 0 only turns the start body about its root (at the origin)
        kp_start = body(go0, bp0, shape0).keypoints_coco
    with torch.enable_grad():
        for stage, (n, params) in enumerate(zip(n_stage, stage_params, strict=True)):
            if n <= 0:
                continue
            optim = torch.optim.Adam(params, lr=opts.lr)
            sched = torch.optim.lr_scheduler.LambdaLR(
                optim, lambda t, n=n: 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t / n))
            )
            losses: list[float] = []
            for step in range(n):
                go, bp, shape, cam_t = decode()
                if stage == 0:
                    out = None
                    kp3d = kp_start @ (go @ go0.transpose(1, 2)).transpose(1, 2)
                else:
                    out = body(go, bp, shape)
                    kp3d = out.keypoints_coco
                uv = project_points(kp3d, cam_t, focal_t, centre)
                sq = (((uv - kp_t) * (2.0 / box_l)[:, None, None]) ** 2).sum(-1)
                l_kp = (_gmof(sq, opts.keypoint_scale) * w_kp).sum(1) / n_kp
                prior_term = (
                    opts.start_pose * (((go - go0) ** 2).flatten(1).sum(1)
                                       + ((bp - bp0) ** 2).flatten(1).sum(1))
                    + opts.start_shape * ((raw - raw0) ** 2).sum(1)
                    + opts.pose_gmm * prior.nll(bp_aa)
                    + opts.joint_limits * prior.limits(bp_aa)
                )  # fmt: skip
                per = opts.keypoints * l_kp + prior_term
                l_world = torch.zeros_like(l_kp)
                if use_world:
                    l_world = world_loss(kp3d @ look.transpose(1, 2), world_t, world_w)
                    per = per + opts.world * l_world
                l_sil = torch.zeros_like(l_kp)
                if has_sil and stage > 0:
                    p = out.vertices + cam_t[:, None]
                    z = p[..., 2:3].clamp_min(1e-3)
                    uv_v = focal_t[:, None, None] * p[..., :2] / z + centre[:, None]
                    scr = (uv_v - x0[:, None]) * to_win[:, None, None]
                    if opts.renderer == "edge":
                        tau = geometric_schedule(step, n, *opts.tau) if stage == 1 else opts.tau[1]
                        sil = edge_grad_silhouette(scr, out.faces, res, tau=tau)
                    else:
                        sil = soft_silhouette(scr, out.faces, res, sigma=opts.sigma)
                    l_sil = (pix_w * (sil - target) ** 2).flatten(1).mean(1)
                    per = per + opts.silhouette * l_sil
                total = per.sum()
                optim.zero_grad(set_to_none=True)
                total.backward()
                optim.step()
                sched.step()
                steps_run += 1
                losses.append(float(per.detach().mean()))
                history["total"].append(losses[-1])
                history["keypoints"].append(float(l_kp.detach().mean()))
                history["silhouette"].append(float(l_sil.detach().mean()))
                history["world"].append(float(l_world.detach().mean()))
                history["prior"].append(float(prior_term.detach().mean()))
                history["stage"].append(float(stage))
                k = opts.patience
                if len(losses) > k and losses[-k - 1] - losses[-1] < opts.early_stop * abs(
                    losses[-k - 1]
                ):
                    break
    with torch.no_grad():
        go, bp, shape, cam_t = decode()
        out = body(go, bp, shape)
        uv = project_points(out.keypoints_coco, cam_t, focal_t, centre)
    return FitResult(
        global_orient=go, body_pose=bp, shape=shape, cam_t=cam_t, focal=focal_t, centre=centre,
        keypoints2d=uv, history=history, steps_run=steps_run,
        seconds=time.perf_counter() - t_start,
    )  # fmt: skip
