"""Evaluation: metrics (pure functions), benchmarks and dataset loaders."""

from lasor.eval.metrics import (
    PCKResult,
    SimilarityTransform,
    fit_similarity,
    mpjpe,
    pa_mpjpe,
    pck,
    procrustes_align,
    pve,
    pve_t_sc,
    silhouette_iou,
)

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
