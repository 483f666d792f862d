"""Training losses: 3D vertices and joints, projected 2D joints, pose, shape, camera, silhouette.

The term functions are pure (tensors in, a scalar out). ``Criterion`` combines them for a
``RegressorOutput`` and a batch of targets, running the body model on both the prediction and the
target parameters, with fixed weights or learned homoscedastic-uncertainty weights (Kendall et
al., CVPR 2018, as in STRAPS): ``total = sum_i exp(-l_i) * L_i + l_i`` with one learned
log-variance ``l_i`` per term.

LASOR's contribution is the silhouette term: the predicted mesh is projected with the predicted
weak-perspective camera, rendered by the differentiable soft rasteriser
(``lasor.render.silhouette``) and compared with the target body's full (unoccluded) silhouette.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lasor.body.base import BodyModel, BodyOutput
from lasor.model.regressor import RegressorOutput
from lasor.render.camera import weak_perspective_project

__all__ = [
    "LOSS_TERMS",
    "Criterion",
    "cam_loss",
    "joints2d_loss",
    "joints2d_perspective_loss",
    "perspective_keypoints",
    "joints3d_loss",
    "point_error",
    "pose_loss",
    "project_keypoints",
    "render_silhouette",
    "shape_loss",
    "silhouette_loss",
    "targets_from_batch",
    "vertices_loss",
]

#: Every loss term, in logging order.
LOSS_TERMS = ("vertices", "joints3d", "joints2d", "pose", "shape", "cam", "silhouette")

#: ``render(verts_screen (B, V, 2|3) pixels, faces (F, 3), image_size, sigma) -> (B, H, W)``.
SilhouetteRenderer = Callable[[torch.Tensor, torch.Tensor, int, float], torch.Tensor]

_EPS = 1e-6


def point_error(
    pred: torch.Tensor, target: torch.Tensor, kind: str = "mse", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean error between corresponding points.

    Args:
        pred: (B, N, D) points.
        target: (B, N, D).
        kind: "mse" (squared Euclidean distance), "l2" (Euclidean distance; gradient made finite
            at zero) or "l1" (sum of absolute coordinate differences).
        weight: optional (B, N) non-negative weights (e.g. visibility); the mean is over weight.

    Returns:
        Scalar; 0 when no point has weight.
    """
    diff = pred - target
    if kind == "mse":
        err = (diff * diff).sum(-1)
    elif kind == "l2":
        err = torch.sqrt((diff * diff).sum(-1) + 1e-12) - 1e-6
    elif kind == "l1":
        err = diff.abs().sum(-1)
    else:
        raise ValueError(f"point loss must be 'mse', 'l2' or 'l1', got {kind!r}")
    if weight is None:
        return err.mean()
    return (err * weight).sum() / weight.sum().clamp_min(1.0)


def vertices_loss(pred: BodyOutput, target: BodyOutput, kind: str = "mse") -> torch.Tensor:
    """PVE-like vertex loss after centring both meshes on their root (pelvis) joint.

    Args:
        pred, target: body-model outputs with ``vertices (B, V, 3)`` and ``joints (B, J, 3)``.
        kind: see ``point_error``.
    """
    p = pred.vertices - pred.joints[:, :1]
    t = target.vertices - target.joints[:, :1]
    return point_error(p, t, kind)


def joints3d_loss(pred: BodyOutput, target: BodyOutput, kind: str = "mse") -> torch.Tensor:
    """3D loss over COCO-17 keypoints and H36M-17 joints, root-centred (34 points)."""
    p = torch.cat([pred.keypoints_coco, pred.joints_h36m], dim=1) - pred.joints[:, :1]
    t = torch.cat([target.keypoints_coco, target.joints_h36m], dim=1) - target.joints[:, :1]
    return point_error(p, t, kind)


def project_keypoints(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak-perspective projection to crop NDC in [-1, 1]: ``s * (X + tx), s * (Y + ty)``.

    The NDC form of ``lasor.render.camera.weak_perspective_project`` (which returns pixels).

    Args:
        points: (B, N, 3) camera-frame points.
        cam: (B, 3) ``(s, tx, ty)``.

    Returns:
        (B, N, 2) NDC.
    """
    return cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:3])


def perspective_keypoints(
    points: torch.Tensor, cam: torch.Tensor, geometry: torch.Tensor
) -> torch.Tensor:
    """Project through the full perspective camera a crop's weak-perspective camera implies.

    A crop of side ``b`` centred at ``(cx, cy)`` (all in units of the focal length, i.e. the
    ``geometry`` of ``lasor.synth.proxy``) with weak-perspective ``(s, tx, ty)`` puts the root
    at depth ``tz = 2 / (s b)`` and ``T = (tx + cx tz, ty + cy tz, tz)``; the points are then
    projected by the pinhole and expressed in the crop's NDC again (the same formula as
    ``lasor.predict``'s camera placement, so training and prediction agree).

    Args:
        points: (B, N, 3) root-centred, camera-frame orientation.
        cam: (B, 3) ``(s, tx, ty)``.
        geometry: (B, 3) ``(cx, cy, b)`` over the focal length.

    Returns:
        (B, N, 2) crop NDC.
    """
    cx, cy, b = geometry[:, 0:1], geometry[:, 1:2], geometry[:, 2:3]
    tz = 2.0 / (cam[:, 0:1] * b).clamp_min(1e-6)
    t = torch.cat([cam[:, 1:2] + cx * tz, cam[:, 2:3] + cy * tz, tz], dim=1)
    p = points + t[:, None]
    xy = p[..., :2] / p[..., 2:3].clamp_min(1e-3)
    return (xy - torch.cat([cx, cy], dim=1)[:, None]) / (b[:, None] / 2.0)


def joints2d_loss(
    keypoints3d: torch.Tensor,
    cam: torch.Tensor,
    target: torch.Tensor,
    visible: torch.Tensor,
    kind: str = "mse",
) -> torch.Tensor:
    """Projected COCO-17 keypoints vs. 2D targets, over visible joints only.

    Args:
        keypoints3d: (B, 17, 3) predicted keypoints, camera-frame orientation.
        cam: (B, 3) predicted weak-perspective camera.
        target: (B, 17, 2) target keypoints in crop NDC.
        visible: (B, 17) 1 for supervised joints, 0 otherwise.
        kind: see ``point_error``.
    """
    return point_error(project_keypoints(keypoints3d, cam), target, kind, weight=visible)


def joints2d_perspective_loss(
    keypoints3d: torch.Tensor,
    cam: torch.Tensor,
    geometry: torch.Tensor,
    target: torch.Tensor,
    visible: torch.Tensor,
    kind: str = "mse",
) -> torch.Tensor:
    """``joints2d_loss`` with ``perspective_keypoints``: the 2D error in the photo's camera."""
    return point_error(
        perspective_keypoints(keypoints3d, cam, geometry), target, kind, weight=visible
    )


def pose_loss(
    pred_global_orient: torch.Tensor,
    pred_body_pose: torch.Tensor,
    target_global_orient: torch.Tensor,
    target_body_pose: torch.Tensor,
) -> torch.Tensor:
    """MSE between rotation matrices (root and bones), as STRAPS.

    Args:
        pred_global_orient, target_global_orient: (B, 3, 3).
        pred_body_pose, target_body_pose: (B, P, 3, 3).
    """
    p = torch.cat([pred_global_orient[:, None], pred_body_pose], dim=1)
    t = torch.cat([target_global_orient[:, None], target_body_pose], dim=1)
    return F.mse_loss(p, t)


def shape_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between shape parameters (B, S)."""
    return F.mse_loss(pred, target)


def cam_loss(cam: torch.Tensor, scale_prior: float) -> torch.Tensor:
    """Weak prior on the camera scale: ``mean(log(s / scale_prior)^2)``.

    Keeps the scale sensible when little of the body is visible; zero at the prior.
    """
    return (torch.log(cam[:, 0].clamp_min(_EPS) / scale_prior) ** 2).mean()


def _default_renderer(
    verts_screen: torch.Tensor, faces: torch.Tensor, image_size: int, sigma: float
) -> torch.Tensor:
    from lasor.render.silhouette import soft_silhouette

    return soft_silhouette(verts_screen, faces, image_size, sigma=sigma)


def render_silhouette(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    cam: torch.Tensor,
    image_size: int,
    sigma: float,
    renderer: SilhouetteRenderer | None = None,
) -> torch.Tensor:
    """Differentiable soft silhouette of camera-frame meshes under weak-perspective cameras.

    Args:
        vertices: (B, V, 3) camera-frame orientation, root at the origin.
        faces: (F, 3) int64.
        cam: (B, 3) ``(s, tx, ty)``.
        image_size: side of the square silhouette in pixels.
        sigma: softness (pixels^2, see ``lasor.render.silhouette``).
        renderer: replaces ``lasor.render.silhouette.soft_silhouette`` (tests).

    Returns:
        (B, H, W) coverage in [0, 1].
    """
    screen = weak_perspective_project(vertices, cam, image_size)
    return (renderer or _default_renderer)(screen, faces, image_size, sigma)


def silhouette_loss(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    cam: torch.Tensor,
    target: torch.Tensor,
    sigma: float = 0.1,
    iou_weight: float = 0.0,
    renderer: SilhouetteRenderer | None = None,
) -> torch.Tensor:
    """Soft silhouette of the predicted mesh vs. the target silhouette.

    The per-pixel term is the binary cross-entropy minus the target's own entropy, i.e. the
    Bernoulli KL divergence: the same gradients as BCE, and exactly zero when the rendering
    equals the target. ``iou_weight`` adds ``1 - soft IoU``.

    Args:
        vertices: (B, V, 3) predicted mesh, camera-frame orientation.
        faces: (F, 3).
        cam: (B, 3) predicted weak-perspective camera.
        target: (B, H, W) float silhouette in [0, 1] (square, H == W).
        sigma: rasteriser softness.
        iou_weight: weight of the soft-IoU term.
        renderer: see ``render_silhouette``.

    Returns:
        Scalar.
    """
    size = target.shape[-1]
    pred = render_silhouette(vertices, faces, cam, size, sigma, renderer)
    p = pred.clamp(_EPS, 1.0 - _EPS)
    t = target.to(p.dtype)
    loss = F.binary_cross_entropy(p, t) - F.binary_cross_entropy(t.clamp(_EPS, 1.0 - _EPS), t)
    if iou_weight > 0:
        inter = (pred * t).flatten(1).sum(1)
        union = (pred + t - pred * t).flatten(1).sum(1)
        loss = loss + iou_weight * (1.0 - inter / union.clamp_min(_EPS)).mean()
    return loss


def targets_from_batch(batch: dict[str, torch.Tensor], faces: torch.Tensor) -> BodyOutput:
    """The target body the data engine already posed (root-centred, camera orientation).

    Only what the losses read is filled: ``vertices``, ``keypoints_coco``, ``joints_h36m`` and
    the root as ``joints[:, :1]``; ``bone_transforms`` is empty.
    """
    v = batch["target_vertices"]
    return BodyOutput(
        vertices=v, faces=faces, joints=v.new_zeros(v.shape[0], 1, 3),
        keypoints_coco=batch["target_keypoints"], joints_h36m=batch["target_h36m"],
        bone_transforms=v.new_zeros(v.shape[0], 0, 4, 4),
    )  # fmt: skip


class Criterion(nn.Module):
    """All loss terms for one batch, weighted.

    Args:
        weights: per-term weights (keys of ``LOSS_TERMS``; missing or 0 = term off).
        weighting: "fixed" or "uncertainty" (learned log-variances; fixed weights then only
            switch terms on and off).
        use_silhouette: compute the silhouette term.
        point_loss: see ``point_error``.
        silhouette_sigma, silhouette_iou_weight: see ``silhouette_loss``.
        cam_scale_prior: see ``cam_loss``.
        renderer: optional silhouette renderer override (tests).

    The body model is passed to ``forward`` rather than stored, so that this module's state is
    only the learned loss weights.
    """

    def __init__(
        self,
        weights: dict[str, float],
        *,
        weighting: str = "fixed",
        use_silhouette: bool = True,
        point_loss: str = "mse",
        silhouette_sigma: float = 0.1,
        silhouette_iou_weight: float = 0.0,
        cam_scale_prior: float = 0.9,
        renderer: SilhouetteRenderer | None = None,
        perspective_2d: bool = False,
    ) -> None:
        super().__init__()
        unknown = set(weights) - set(LOSS_TERMS)
        if unknown:
            raise ValueError(f"Unknown loss terms {sorted(unknown)}; known: {LOSS_TERMS}")
        if weighting not in ("fixed", "uncertainty"):
            raise ValueError(f"weighting must be 'fixed' or 'uncertainty', got {weighting!r}")
        self.weights = {
            k: float(weights.get(k, 0.0))
            for k in LOSS_TERMS
            if float(weights.get(k, 0.0)) != 0.0 and (k != "silhouette" or use_silhouette)
        }
        self.terms = list(self.weights)
        self.weighting = weighting
        self.point_loss = point_loss
        self.silhouette_sigma = silhouette_sigma
        self.silhouette_iou_weight = silhouette_iou_weight
        self.cam_scale_prior = cam_scale_prior
        self.renderer = renderer
        self.perspective_2d = bool(perspective_2d)
        if weighting == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(len(self.terms)))

    def compute_terms(
        self,
        pred: RegressorOutput,
        batch: dict[str, torch.Tensor],
        body: BodyModel,
        pred_body: BodyOutput | None = None,
        target_body: BodyOutput | None = None,
        *,
        silhouette: bool = True,
        full_body: BodyModel | None = None,
    ) -> dict[str, torch.Tensor]:
        """Unweighted loss terms (only the enabled ones).

        Args:
            pred: regressor output.
            batch: targets (``global_orient``, ``body_pose``, ``shape``, ``joints2d``,
                ``joints2d_vis``, ``silhouette``; ``target_vertices`` etc. when the data engine
                posed the target: at ``body.vertex_index`` for a sparse body).
            body: the training body model (a ``lasor.body.sparse.SparseAnnyBody`` or a full
                one).
            pred_body, target_body: body-model outputs if already computed.
            silhouette: compute the silhouette term this time (if enabled at all).
            full_body: with a sparse ``body``, pose the prediction with this full-mesh body
                instead (for the renderer); the vertex term then reads it at
                ``body.vertex_index``.
        """
        if pred_body is None:
            pose_body = body if full_body is None else full_body
            pred_body = pose_body(pred.global_orient, pred.body_pose, pred.shape)
        if target_body is None and "target_vertices" in batch:
            target_body = targets_from_batch(batch, pred_body.faces)
        if target_body is None:
            with torch.no_grad():
                target_body = body(batch["global_orient"], batch["body_pose"], batch["shape"])
        kind = self.point_loss
        out: dict[str, torch.Tensor] = {}
        for name in self.terms:
            if name == "vertices":
                p = pred_body
                if p.vertices.shape[1] != target_body.vertices.shape[1]:
                    index = getattr(body, "vertex_index", None)
                    if index is None:
                        raise ValueError(
                            f"{p.vertices.shape[1]} predicted vs {target_body.vertices.shape[1]} "
                            "target vertices and no sparse body to match them"
                        )
                    p = dataclasses.replace(p, vertices=p.vertices[:, index])
                out[name] = vertices_loss(p, target_body, kind)
            elif name == "joints3d":
                out[name] = joints3d_loss(pred_body, target_body, kind)
            elif name == "joints2d" and self.perspective_2d:
                out[name] = joints2d_perspective_loss(
                    pred_body.keypoints_coco, pred.cam, batch["geometry"], batch["joints2d"],
                    batch["joints2d_vis"], kind,
                )  # fmt: skip
            elif name == "joints2d":
                out[name] = joints2d_loss(
                    pred_body.keypoints_coco, pred.cam, batch["joints2d"], batch["joints2d_vis"],
                    kind,
                )  # fmt: skip
            elif name == "pose":
                out[name] = pose_loss(
                    pred.global_orient, pred.body_pose, batch["global_orient"], batch["body_pose"]
                )
            elif name == "shape":
                out[name] = shape_loss(pred.shape, batch["shape"])
            elif name == "cam":
                out[name] = cam_loss(pred.cam, self.cam_scale_prior)
            elif name == "silhouette" and silhouette:
                if pred_body.faces.numel() == 0:
                    raise ValueError("the silhouette term needs a full mesh: pass full_body")
                out[name] = silhouette_loss(
                    pred_body.vertices, pred_body.faces, pred.cam, batch["silhouette"],
                    self.silhouette_sigma, self.silhouette_iou_weight, self.renderer,
                )  # fmt: skip
        return out

    def combine(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted total of ``compute_terms``' output."""
        total = next(iter(terms.values())).new_zeros(())
        if self.weighting == "uncertainty":  # every weight in the graph, even of a skipped term
            total = total + 0.0 * self.log_vars.sum()
        for i, name in enumerate(self.terms):
            if name not in terms:
                continue
            if self.weighting == "uncertainty":
                lv = self.log_vars[i]
                total = total + torch.exp(-lv) * terms[name] + lv
            else:
                total = total + self.weights[name] * terms[name]
        return total

    def effective_weights(self) -> dict[str, float]:
        """Current weight of each term (``exp(-log_var)`` when learned)."""
        if self.weighting == "uncertainty":
            w = torch.exp(-self.log_vars.detach())
            return {n: float(w[i]) for i, n in enumerate(self.terms)}
        return dict(self.weights)

    def forward(
        self,
        pred: RegressorOutput,
        batch: dict[str, torch.Tensor],
        body: BodyModel,
        *,
        silhouette: bool = True,
        full_body: BodyModel | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns ``(total, terms)`` with ``terms`` the unweighted terms (graph attached).

        ``silhouette`` and ``full_body``: see ``compute_terms``.
        """
        if not self.terms:
            raise ValueError("All loss terms are switched off")
        terms = self.compute_terms(pred, batch, body, silhouette=silhouette, full_body=full_body)
        return self.combine(terms), terms
