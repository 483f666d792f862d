"""Optional per-person refinement of a regressed body against the observed 2D evidence.

The regressor maps a proxy to pose, shape and camera in one pass; its projection can be off by a
few pixels or a limb. ``refine`` optimises the regressed parameters for a few Adam steps so that
the body's projected COCO keypoints meet the observed ones and its soft silhouette (the same
differentiable renderer that supervises training) meets the observed mask, while staying close to
the regressed pose and shape (the regressor is the prior), as in SMPLify-style fitting
(Bogo et al., ECCV 2016) started from a network's output (SPIN, Kolotouros et al., ICCV 2019).

Occlusion-aware by construction: only keypoints with confidence >= ``min_confidence`` pull, with a
robust (Geman-McClure) penalty, and mesh pixels outside the observed mask cost less than mask
pixels the mesh misses (an occluder hides body parts, it does not add any), with
``outside_weight``.

Everything happens in the crop: keypoints in crop NDC, the mask resampled to the proxy's
resolution, the weak-perspective camera of the regressor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lasor.body.base import BodyModel
from lasor.body.rotations import rot6d_to_rotmat, rotmat_to_rot6d
from lasor.model.regressor import RegressorOutput
from lasor.render.camera import pixels_to_ndc, weak_perspective_project
from lasor.render.silhouette import edge_grad_silhouette, geometric_schedule
from lasor.train.losses import project_keypoints, render_silhouette

__all__ = ["RefineOptions", "refine", "refine_in_crop"]

_EPS = 1e-6


@dataclass
class RefineOptions:
    """Settings of :func:`refine` (weights are relative to the keypoint term).

    Attributes:
        steps: Adam iterations (0 = off).
        lr: Adam learning rate for all parameters, decayed along a cosine to 5 %.
        keypoints: weight of the robust 2D keypoint term (crop NDC units).
        keypoint_scale: Geman-McClure scale in NDC (0.4 = 20 % of the crop side).
        silhouette: weight of the mask term (mean over crop pixels of the weighted squared
            difference between the body's silhouette and the mask).
        silhouette_start: fraction of ``steps`` fitted to the keypoints alone before the mask
            term joins (a far-off start first gets its camera and limbs from the keypoints).
        outside_weight: relative cost of mesh pixels outside the observed mask.
        renderer: "soft" (the training's soft rasteriser with ``sigma``; at 64 px its soft edge
            makes thin limbs look fatter, which pulls a fit slightly small) or "edge" (exact hard
            silhouette, gradient of a blurred one: a fit started at the truth stays there). On
            512 synthetic and 29 real people "soft" scored better (``benchmarks/refine.py``).
        tau: (start, end) gradient blur of the "edge" renderer in pixels, decayed geometrically
            (long reach first, then precise).
        sigma: softness of the "soft" renderer (pixels^2 at the proxy resolution).
        pose_prior: weight of the squared rotation-matrix distance to the regressed pose.
        shape_prior: weight of the squared distance to the regressed shape (raw units).
        min_confidence: keypoints below this confidence are ignored.
    """

    steps: int = 40
    lr: float = 0.02
    keypoints: float = 1.0
    keypoint_scale: float = 0.4
    silhouette: float = 1.0
    silhouette_start: float = 0.5
    outside_weight: float = 0.3
    renderer: str = "soft"
    tau: tuple[float, float] = (2.0, 0.5)
    sigma: float = 0.3
    pose_prior: float = 0.01
    shape_prior: float = 0.001
    min_confidence: float = 0.3


def _gmof(sq: torch.Tensor, scale: float) -> torch.Tensor:
    """Geman-McClure of squared residuals: ~``sq`` when small, -> ``scale^2`` when large."""
    s2 = scale * scale
    return s2 * sq / (s2 + sq)


def refine(
    pred: RegressorOutput,
    body: BodyModel,
    keypoints_ndc: torch.Tensor,
    confidence: torch.Tensor,
    mask: torch.Tensor | None,
    opts: RefineOptions | None = None,
    shape_mapping: str = "sigmoid",
) -> tuple[RegressorOutput, dict[str, list[float]]]:
    """Fit the regressed bodies of a batch to their observed keypoints and masks.

    Args:
        pred: the regressor's output for B people.
        body: body model used while fitting (the training topology is enough).
        keypoints_ndc: (B, 17, 2) observed COCO keypoints in crop NDC ([-1, 1]).
        confidence: (B, 17) keypoint confidences.
        mask: (B, R, R) observed silhouettes in [0, 1] at the proxy resolution, or None (then
            the silhouette term is off); an all-zero mask switches it off for that person.
        opts: settings.
        shape_mapping: the regressor's shape mapping ("sigmoid" or "identity").

    Returns:
        (refined output, per-step mean losses ``{"total": [...], "keypoints": [...], ...}``).
        Samples are independent: each has its own parameters and loss.
    """
    opts = opts or RefineOptions()
    if opts.renderer not in ("edge", "soft"):
        raise ValueError(f"RefineOptions.renderer must be 'edge' or 'soft', got {opts.renderer!r}")
    if opts.steps <= 0:
        return pred, {}
    dev = pred.cam.device
    go0 = pred.global_orient.detach()
    bp0 = pred.body_pose.detach()
    raw0 = pred.shape_raw.detach()
    go6 = rotmat_to_rot6d(go0).clone().requires_grad_(True)
    bp6 = rotmat_to_rot6d(bp0).clone().requires_grad_(True)
    raw = raw0.clone().requires_grad_(True)
    log_s = torch.log(pred.cam[:, :1].detach().clamp_min(_EPS)).clone().requires_grad_(True)
    txy = pred.cam[:, 1:].detach().clone().requires_grad_(True)
    optim = torch.optim.Adam([go6, bp6, raw, log_s, txy], lr=opts.lr)
    # cosine decay to 5 %: Adam's steps stay ~lr near an optimum, so a constant rate jitters there
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda t: 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t / opts.steps))
    )

    kp = keypoints_ndc.to(dev, torch.float32)
    w_kp = (confidence.to(dev, torch.float32) >= opts.min_confidence).float()
    n_kp = w_kp.sum(1).clamp_min(1.0)
    use_sil = mask is not None and opts.silhouette > 0
    if use_sil:
        target = mask.to(dev, torch.float32)
        has_mask = (target.flatten(1).sum(1) > 0).float()
        pix_w = target + opts.outside_weight * (1.0 - target)
        res = target.shape[-1]

    def decode():
        shape = torch.sigmoid(raw) if shape_mapping == "sigmoid" else raw
        cam = torch.cat([torch.exp(log_s), txy], dim=1)
        return rot6d_to_rotmat(go6), rot6d_to_rotmat(bp6), shape, cam

    history: dict[str, list[float]] = {"total": [], "keypoints": [], "silhouette": [], "prior": []}
    first_sil = int(round(opts.silhouette_start * opts.steps))
    for step in range(opts.steps):
        go, bp, shape, cam = decode()
        out = body(go, bp, shape)
        sq = ((project_keypoints(out.keypoints_coco, cam) - kp) ** 2).sum(-1)
        l_kp = (_gmof(sq, opts.keypoint_scale) * w_kp).sum(1) / n_kp  # (B,)
        prior = opts.pose_prior * (
            ((go - go0) ** 2).flatten(1).sum(1) + ((bp - bp0) ** 2).flatten(1).sum(1)
        ) + opts.shape_prior * ((raw - raw0) ** 2).sum(1)  # fmt: skip
        per_sample = opts.keypoints * l_kp + prior
        l_sil = torch.zeros_like(l_kp)
        if use_sil and step >= first_sil:
            if opts.renderer == "edge":
                tau = geometric_schedule(step - first_sil, opts.steps - first_sil, *opts.tau)
                screen = weak_perspective_project(out.vertices, cam, res)
                sil = edge_grad_silhouette(screen, out.faces, res, tau=tau)
            else:
                sil = render_silhouette(out.vertices, out.faces, cam, res, opts.sigma)
            l_sil = (pix_w * (sil - target) ** 2).flatten(1).mean(1) * has_mask
            per_sample = per_sample + opts.silhouette * l_sil
        total = per_sample.sum()
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
        sched.step()
        history["total"].append(float(per_sample.detach().mean()))
        history["keypoints"].append(float(l_kp.detach().mean()))
        history["silhouette"].append(float(l_sil.detach().mean()))
        history["prior"].append(float(prior.detach().mean()))
    with torch.no_grad():
        go, bp, shape, cam = decode()
        refined = RegressorOutput(
            global_orient=go, body_pose=bp, shape=shape, cam=cam,
            global_orient_6d=go6.detach().clone(), body_pose_6d=bp6.detach().clone(),
            shape_raw=raw.detach().clone(),
        )  # fmt: skip
    return refined, history


def refine_in_crop(
    pred: RegressorOutput,
    body: BodyModel,
    joints_px,
    confidence,
    mask,
    res: int,
    opts: RefineOptions,
    shape_mapping: str = "sigmoid",
) -> RegressorOutput:
    """:func:`refine` from crop-pixel keypoints (``res`` x ``res`` crop), also under ``no_grad``.

    ``joints_px`` (B, 17, 2), ``confidence`` (B, 17) and ``mask`` (B, res, res) may be arrays or
    tensors; ``mask`` None (or all empty) switches the silhouette term off.
    """
    kp = pixels_to_ndc(torch.as_tensor(joints_px, dtype=torch.float32), res)
    conf = torch.as_tensor(confidence, dtype=torch.float32)
    if mask is not None:
        mask = torch.as_tensor(mask, dtype=torch.float32)
        mask = mask if bool(mask.any()) else None  # nothing to fit: skip rendering
    with torch.enable_grad():
        out, _ = refine(pred, body, kp, conf, mask, opts, shape_mapping=shape_mapping)
    return out
