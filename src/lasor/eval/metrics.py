"""Evaluation metrics for 3D human pose and shape, as pure numpy functions.

Conventions shared by every function here:

* Inputs are array-likes (numpy arrays, lists, or torch tensors, which are detached and moved to the
  CPU); they are converted to ``float64`` and never modified.
* Point sets are ``(B, N, D)`` (batched) or ``(N, D)`` (a single sample). Results are per sample,
  shape ``(B,)``, or a 0-d array for unbatched input, so callers can stratify before averaging.
* Distances are in the units of the inputs: pass metres and multiply by 1000 to report millimetres.
* ``visible`` masks are ``(B, N)`` (or ``(N,)``) booleans or weights; joints with ``visible == 0``
  are left out of both the alignment and the average. A sample with no visible joint gives NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "PCKResult",
    "SimilarityTransform",
    "fit_similarity",
    "mpjpe",
    "pa_mpjpe",
    "pck",
    "procrustes_align",
    "pve",
    "pve_t_sc",
    "silhouette_iou",
]

_EPS = 1e-12


def _to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """Array-like (numpy, list, torch tensor) -> new numpy array of ``dtype``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.array(x, dtype=dtype, copy=True)


def _batched_points(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """Return ``(B, N, D)`` float64 points and whether the input was unbatched ``(N, D)``."""
    a = _to_numpy(x)
    if a.ndim == 2:
        return a[None], True
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (B, N, D) or (N, D), got {a.shape}")
    return a, False


def _check_same(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {a.shape} and {b.shape}")


def _weights(visible: Any | None, shape: tuple[int, int]) -> np.ndarray:
    """``(B, N)`` float64 non-negative weights from an optional visibility mask."""
    if visible is None:
        return np.ones(shape)
    w = _to_numpy(visible)
    if w.ndim == 1:
        w = w[None]
    if w.shape != shape:
        raise ValueError(f"visible must have shape {shape} (or {shape[1:]}), got {w.shape}")
    if np.any(w < 0):
        raise ValueError("visible must be non-negative")
    return w


def _unbatch(x: np.ndarray, unbatched: bool) -> np.ndarray:
    return x[0] if unbatched else x


def _weighted_mean(err: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean of ``err (B, N)`` over N with weights ``w (B, N)``; NaN where all weights are 0."""
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (err * w).sum(axis=1) / total
    return np.where(total > 0, out, np.nan)


def _per_point(err: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-point errors with NaN where the point is not visible."""
    return np.where(w > 0, err, np.nan)


# ----------------------------------------------------------------------------------------------
# Procrustes


@dataclass(frozen=True)
class SimilarityTransform:
    """A batch of similarity transforms ``x -> scale * R x + t``.

    Attributes:
        scale: (B,) float64, uniform scale (> 0 unless the source is degenerate).
        rotation: (B, D, D) float64, proper rotations (det = +1).
        translation: (B, D) float64.
    """

    scale: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: Any) -> np.ndarray:
        """Transform ``points (B, N, D)`` and return a new ``(B, N, D)`` float64 array."""
        p = _to_numpy(points)
        rotated = np.einsum("bij,bnj->bni", self.rotation, p)
        return self.scale[:, None, None] * rotated + self.translation[:, None, :]


def fit_similarity(source: Any, target: Any, visible: Any | None = None) -> SimilarityTransform:
    """Least-squares similarity transform (rotation, uniform scale, translation) source -> target.

    Solves ``min_{s,R,t} sum_n w_n |s R x_n + t - y_n|^2`` in closed form (Umeyama, 1991): the
    rotation comes from the SVD of the weighted cross-covariance, with the sign of the last singular
    direction flipped when needed so that ``det R = +1``. Reflections are therefore never returned:
    a mirrored target is matched by the best proper rotation, leaving a non-zero residual.

    Args:
        source: (B, N, D) or (N, D) points to move (e.g. predicted joints).
        target: same shape, points to match (e.g. ground-truth joints).
        visible: optional (B, N) or (N,) weights / visibility; zero-weight points are ignored.

    Returns:
        SimilarityTransform with batch size B (1 for unbatched input).
    """
    x, _ = _batched_points(source, "source")
    y, _ = _batched_points(target, "target")
    _check_same(x, y, "source and target")
    w = _weights(visible, x.shape[:2])
    total = np.maximum(w.sum(axis=1), _EPS)  # (B,)
    wn = w / total[:, None]

    mu_x = np.einsum("bn,bnd->bd", wn, x)
    mu_y = np.einsum("bn,bnd->bd", wn, y)
    xc = x - mu_x[:, None]
    yc = y - mu_y[:, None]

    # cov[b] = sum_n w_n y_n x_n^T ; the best R maximises trace(R^T cov).
    cov = np.einsum("bn,bni,bnj->bij", wn, yc, xc)
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones_like(sing)
    d[:, -1] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d[d == 0] = 1.0
    rotation = np.einsum("bij,bj,bjk->bik", u, d, vt)

    var_x = np.einsum("bn,bnd->b", wn, xc**2)
    scale = (sing * d).sum(axis=1) / np.maximum(var_x, _EPS)
    translation = mu_y - scale[:, None] * np.einsum("bij,bj->bi", rotation, mu_x)
    return SimilarityTransform(scale=scale, rotation=rotation, translation=translation)


def procrustes_align(source: Any, target: Any, visible: Any | None = None) -> np.ndarray:
    """Align ``source`` to ``target`` with the best similarity transform (see `fit_similarity`).

    Args:
        source: (B, N, D) or (N, D) points.
        target: same shape.
        visible: optional (B, N) or (N,) weights; the fit ignores zero-weight points but the whole
            of ``source`` is transformed.

    Returns:
        New array shaped like ``source``: the aligned source points, float64.
    """
    x, unbatched = _batched_points(source, "source")
    y, _ = _batched_points(target, "target")
    return _unbatch(fit_similarity(x, y, visible).apply(x), unbatched)


# ----------------------------------------------------------------------------------------------
# Joint errors


def _root(points: np.ndarray, root: int | Sequence[int]) -> np.ndarray:
    """``(B, D)`` root position: one joint, or the mean of several (e.g. the two hips)."""
    idx = [root] if isinstance(root, (int, np.integer)) else list(root)
    if not idx:
        raise ValueError("root must name at least one joint")
    return points[:, idx].mean(axis=1)


def mpjpe(
    pred: Any,
    target: Any,
    *,
    align: Literal["pelvis", "none"] = "pelvis",
    root: int | Sequence[int] = 0,
    visible: Any | None = None,
    per_joint: bool = False,
) -> np.ndarray:
    """Mean per-joint position error (Euclidean), optionally after root alignment.

    With ``align="pelvis"`` both skeletons are translated so that their root is at the origin; the
    root is joint ``root`` or, when ``root`` is a sequence, the mean of those joints (e.g.
    ``root=(11, 12)`` for the mid-hip of COCO-17; H36M-17 has the pelvis at index 0). The root is
    taken from all given joints regardless of ``visible``.

    Args:
        pred: (B, J, D) or (J, D) predicted joints.
        target: same shape, ground truth.
        align: "pelvis" (root-relative) or "none" (absolute positions).
        root: root joint index or indices to average.
        visible: optional (B, J) / (J,) mask or weights; invisible joints are not averaged.
        per_joint: return (B, J) errors (NaN for invisible joints) instead of the mean.

    Returns:
        (B,) mean error per sample (0-d for unbatched input), or (B, J) if ``per_joint``.
    """
    p, unbatched = _batched_points(pred, "pred")
    t, _ = _batched_points(target, "target")
    _check_same(p, t, "pred and target")
    if align == "pelvis":
        p = p - _root(p, root)[:, None]
        t = t - _root(t, root)[:, None]
    elif align != "none":
        raise ValueError(f"align must be 'pelvis' or 'none', got {align!r}")
    w = _weights(visible, p.shape[:2])
    err = np.linalg.norm(p - t, axis=-1)
    out = _per_point(err, w) if per_joint else _weighted_mean(err, w)
    return _unbatch(out, unbatched)


def pa_mpjpe(
    pred: Any, target: Any, *, visible: Any | None = None, per_joint: bool = False
) -> np.ndarray:
    """Procrustes-aligned MPJPE: error after the best similarity transform of pred onto target.

    The transform (rotation with det +1, uniform scale, translation) is fitted on the visible
    joints; see `fit_similarity`.

    Args:
        pred: (B, J, D) or (J, D) predicted joints.
        target: same shape, ground truth.
        visible: optional (B, J) / (J,) mask or weights.
        per_joint: return (B, J) errors (NaN for invisible joints) instead of the mean.

    Returns:
        (B,) per-sample error (0-d for unbatched input), or (B, J) if ``per_joint``.
    """
    p, unbatched = _batched_points(pred, "pred")
    t, _ = _batched_points(target, "target")
    _check_same(p, t, "pred and target")
    w = _weights(visible, p.shape[:2])
    aligned = fit_similarity(p, t, w).apply(p)
    err = np.linalg.norm(aligned - t, axis=-1)
    out = _per_point(err, w) if per_joint else _weighted_mean(err, w)
    return _unbatch(out, unbatched)


# ----------------------------------------------------------------------------------------------
# Vertex errors


def pve(
    pred: Any,
    target: Any,
    *,
    align: Literal["centroid", "root", "procrustes", "none"] = "centroid",
    pred_root: Any | None = None,
    target_root: Any | None = None,
) -> np.ndarray:
    """Per-vertex error: mean Euclidean distance between corresponding vertices.

    Alignment before measuring:

    * ``"centroid"``: both meshes translated so their mean vertex is at the origin;
    * ``"root"``: both translated by the given root positions (e.g. the pelvis joint of each
      body), as in the usual root-aligned PVE of 3DPW papers;
    * ``"procrustes"``: ``pred`` similarity-aligned to ``target`` over all vertices (PA-PVE);
    * ``"none"``: absolute positions.

    Args:
        pred: (B, V, 3) or (V, 3) predicted vertices (same topology as ``target``).
        target: same shape, ground-truth vertices.
        align: see above.
        pred_root: (B, 3) or (3,) root of the predicted body; required for ``align="root"``.
        target_root: (B, 3) or (3,) root of the ground-truth body; required for ``align="root"``.

    Returns:
        (B,) mean per-vertex error (0-d for unbatched input).
    """
    p, unbatched = _batched_points(pred, "pred")
    t, _ = _batched_points(target, "target")
    _check_same(p, t, "pred and target")
    if align == "centroid":
        p = p - p.mean(axis=1, keepdims=True)
        t = t - t.mean(axis=1, keepdims=True)
    elif align == "root":
        if pred_root is None or target_root is None:
            raise ValueError("align='root' needs pred_root and target_root")
        pr = _to_numpy(pred_root).reshape(-1, 1, p.shape[-1])
        tr = _to_numpy(target_root).reshape(-1, 1, t.shape[-1])
        p = p - pr
        t = t - tr
    elif align == "procrustes":
        p = fit_similarity(p, t).apply(p)
    elif align != "none":
        raise ValueError(f"align must be 'centroid', 'root', 'procrustes' or 'none', got {align!r}")
    err = np.linalg.norm(p - t, axis=-1).mean(axis=1)
    return _unbatch(err, unbatched)


def pve_t_sc(
    pred_rest: Any, target_rest: Any, *, scale: Literal["rms", "lsq", "height"] = "rms"
) -> np.ndarray:
    """PVE-T-SC, the body-shape metric of SSP-3D (Sengupta et al., STRAPS, BMVC 2020).

    Both inputs are vertices of the body in the *same* neutral rest pose (T-pose, zero pose
    parameters, no global rotation or translation): the mesh built from the predicted shape and the
    one built from the ground-truth shape. Building them is the caller's job (body model, gender).
    Each mesh is centred on its mean vertex, the predicted one is rescaled, and the mean
    per-vertex Euclidean distance is returned. Scale correction, ``scale=``:

    * ``"rms"`` (default, as in SSP-3D's evaluation): predicted mesh scaled so that its RMS
      distance from its centroid equals the target's, i.e. ``s = rms(T) / rms(P)``;
    * ``"lsq"``: the least-squares scale ``s = <P, T> / <P, P>`` (centred meshes, no rotation);
    * ``"height"``: ratio of the vertical extents (max - min of the y coordinate; y is up or down
      in the rest pose for every body model in lasor).

    Args:
        pred_rest: (B, V, 3) or (V, 3) rest-pose vertices with the predicted shape.
        target_rest: same shape, rest-pose vertices with the ground-truth shape.
        scale: scale correction, see above.

    Returns:
        (B,) PVE-T-SC per sample (0-d for unbatched input), in the units of the inputs.
    """
    p, unbatched = _batched_points(pred_rest, "pred_rest")
    t, _ = _batched_points(target_rest, "target_rest")
    _check_same(p, t, "pred_rest and target_rest")
    p = p - p.mean(axis=1, keepdims=True)
    t = t - t.mean(axis=1, keepdims=True)
    if scale == "rms":
        s = np.sqrt((t**2).sum(axis=(1, 2))) / np.maximum(np.sqrt((p**2).sum(axis=(1, 2))), _EPS)
    elif scale == "lsq":
        s = (p * t).sum(axis=(1, 2)) / np.maximum((p**2).sum(axis=(1, 2)), _EPS)
    elif scale == "height":
        hp = p[..., 1].max(axis=1) - p[..., 1].min(axis=1)
        ht = t[..., 1].max(axis=1) - t[..., 1].min(axis=1)
        s = ht / np.maximum(hp, _EPS)
    else:
        raise ValueError(f"scale must be 'rms', 'lsq' or 'height', got {scale!r}")
    err = np.linalg.norm(s[:, None, None] * p - t, axis=-1).mean(axis=1)
    return _unbatch(err, unbatched)


# ----------------------------------------------------------------------------------------------
# 2D metrics


def silhouette_iou(pred_mask: Any, target_mask: Any) -> np.ndarray:
    """Intersection over union of binary silhouettes.

    Args:
        pred_mask: (B, H, W) or (H, W); non-zero / True = person.
        target_mask: same shape.

    Returns:
        (B,) IoU in [0, 1] (0-d for unbatched input). Two empty masks agree perfectly: IoU 1.
    """
    p = _to_numpy(pred_mask, dtype=bool)
    t = _to_numpy(target_mask, dtype=bool)
    _check_same(p, t, "pred_mask and target_mask")
    unbatched = p.ndim == 2
    if unbatched:
        p, t = p[None], t[None]
    if p.ndim != 3:
        raise ValueError(f"masks must have shape (B, H, W) or (H, W), got {p.shape}")
    inter = np.logical_and(p, t).sum(axis=(1, 2)).astype(np.float64)
    union = np.logical_or(p, t).sum(axis=(1, 2)).astype(np.float64)
    iou = np.where(union > 0, inter / np.maximum(union, 1.0), 1.0)
    return _unbatch(iou, unbatched)


@dataclass(frozen=True)
class PCKResult:
    """Percentage of correct keypoints.

    Attributes:
        per_image: (B,) fraction of visible joints within the threshold (NaN: no visible joint).
        per_joint: (J,) fraction over the images where the joint is visible (NaN: never visible).
        overall: correct / visible over all images and joints (NaN if nothing is visible).
        correct: (B, J) bool, within threshold *and* visible.
        visible: (B, J) bool, the joints that count.
        threshold: (B,) threshold in pixels, ``alpha * max(bbox width, bbox height)``.
    """

    per_image: np.ndarray
    per_joint: np.ndarray
    overall: float
    correct: np.ndarray
    visible: np.ndarray
    threshold: np.ndarray


def pck(pred: Any, target: Any, visible: Any, bbox: Any, *, alpha: float = 0.1) -> PCKResult:
    """PCK@alpha with a threshold relative to the person's bounding box.

    A visible joint is correct when ``|pred - target| <= alpha * max(w, h)`` of its image's box.

    Args:
        pred: (B, J, 2) or (J, 2) predicted 2D joints, pixels.
        target: same shape, ground-truth 2D joints.
        visible: (B, J) or (J,) mask; only joints with non-zero entries count.
        bbox: (B, 4) or (4,) boxes ``x0, y0, x1, y1`` in pixels.
        alpha: threshold as a fraction of the box's longer side.

    Returns:
        PCKResult (batch size 1 for unbatched input).
    """
    p, _ = _batched_points(pred, "pred")
    t, _ = _batched_points(target, "target")
    _check_same(p, t, "pred and target")
    vis = _weights(visible, p.shape[:2]) > 0
    box = _to_numpy(bbox).reshape(-1, 4)
    if box.shape[0] != p.shape[0]:
        raise ValueError(f"bbox must have shape ({p.shape[0]}, 4), got {box.shape}")
    size = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    threshold = alpha * size
    dist = np.linalg.norm(p - t, axis=-1)
    correct = (dist <= threshold[:, None]) & vis
    n_img = vis.sum(axis=1)
    n_joint = vis.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_image = np.where(n_img > 0, correct.sum(axis=1) / n_img, np.nan)
        per_joint = np.where(n_joint > 0, correct.sum(axis=0) / n_joint, np.nan)
    total = vis.sum()
    overall = float(correct.sum() / total) if total > 0 else float("nan")
    return PCKResult(
        per_image=per_image,
        per_joint=per_joint,
        overall=overall,
        correct=correct,
        visible=vis,
        threshold=threshold,
    )
