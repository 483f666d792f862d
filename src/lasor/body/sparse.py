"""A training-time Anny that poses only the joints and a fixed sparse subset of the vertices.

Training losses read the 3D joints, the COCO keypoints (regressed from a few vertices) and the
vertices; nothing else of the mesh is needed unless a silhouette is rendered. ``SparseAnnyBody``
cuts Anny's model data down to

* the vertices of ``vertex_index``: every vertex the COCO keypoints and the head-top joint read
  (205 on the decimated mesh), then farthest-point samples of the rest mesh up to N, drawn
  among the vertices skinned only to the *core* bones, and
* the core bones: the pose bones, the H36M joints' bones and the bones the keypoint vertices
  are skinned to, closed under their ancestors (48 of Anny's 104: no finger tips, eyes, jaw or
  tongue; the other bones cannot move any kept vertex),

and runs the unchanged Anny code on that data. Every output is therefore the full body's at the
same indices (up to float rounding): ``vertices == full.vertices[:, vertex_index]``, equal
``joints``, ``keypoints_coco``, ``joints_h36m`` and ``bone_transforms``. ``faces`` is empty:
the full body stays for rendering, evaluation and outputs.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import lru_cache

import numpy as np
import torch

from lasor.body.anny_body import ANNY_POSE_BONES, AnnyBody, _load_model_data, anny_from_data

logger = logging.getLogger(__name__)

__all__ = ["SparseAnnyBody", "farthest_point_indices", "sparse_vertex_index"]


def farthest_point_indices(
    points: np.ndarray, n: int, seeds: list[int] | None = None
) -> np.ndarray:
    """Greedy farthest-point sampling: ``n`` well-spread point indices, deterministic.

    Args:
        points: (V, 3) positions.
        n: number of indices to return (at most V).
        seeds: indices that are always taken first (default: index 0).

    Returns:
        (n,) int64 indices, seeds first, then in sampling order.
    """
    p = np.asarray(points, np.float64)
    n = min(int(n), len(p))
    chosen = list(dict.fromkeys(int(s) for s in (seeds or [0])))[:n]
    dist = np.full(len(p), np.inf)
    for s in chosen:
        dist = np.minimum(dist, ((p - p[s]) ** 2).sum(1))
    while len(chosen) < n:
        i = int(np.argmax(dist))  # first maximum: ties resolve to the lowest index
        chosen.append(i)
        dist = np.minimum(dist, ((p - p[i]) ** 2).sum(1))
    return np.asarray(chosen, np.int64)


def _core_bones(body: AnnyBody, seeds: list[int]) -> list[int]:
    data = _load_model_data(body.topology)
    labels, parents = list(data.metadata.bone_labels), list(data.metadata.bone_parents)
    w, wi = data.vertex_bone_weights[seeds], data.vertex_bone_indices[seeds]
    bones = {labels.index(b) for b in ["root", *ANNY_POSE_BONES, *body._h36m]}
    return _ancestors_closure(parents, bones | set(wi[w != 0].tolist()))


@lru_cache(maxsize=8)
def _cached_index(topology: str, n: int) -> tuple[int, ...]:
    body = AnnyBody(topology)
    with torch.no_grad():
        rest = body.neutral(1).vertices[0].double().numpy()
    seeds = sorted({*body.coco_index.flatten().tolist(), body.head_top})
    core = torch.zeros(len(body.bone_labels), dtype=torch.bool)
    core[_core_bones(body, seeds)] = True
    data = _load_model_data(topology)
    w, wi = data.vertex_bone_weights, data.vertex_bone_indices.long()
    moved_by_core = torch.where(w != 0, core[wi], torch.ones_like(core[wi])).all(1)
    candidates = np.flatnonzero(moved_by_core.numpy() | np.isin(np.arange(len(rest)), seeds))
    pos = {int(v): i for i, v in enumerate(candidates)}
    local = farthest_point_indices(rest[candidates], max(n, len(seeds)), [pos[s] for s in seeds])
    return tuple(sorted(candidates[local].tolist()))


def sparse_vertex_index(topology: str, n: int) -> torch.Tensor:
    """The fixed vertex subset of ``SparseAnnyBody``: (N,) sorted int64 indices into the mesh.

    The vertices the COCO keypoints and the head-top joint read, then farthest-point samples on
    the rest mesh (default shape, rest pose, float64) among the vertices skinned to the core
    bones only (see the module docstring); N = max(n, number of keypoint vertices). A pure
    function of ``(topology, n)``, so a checkpoint's config rebuilds the same subset.
    """
    return torch.tensor(_cached_index(topology, int(n)), dtype=torch.int64)


def _ancestors_closure(parents: list[int], bones: set[int]) -> list[int]:
    keep = set()
    for b in bones:
        while b >= 0 and b not in keep:
            keep.add(b)
            b = parents[b]
    return sorted(keep)


class SparseAnnyBody(AnnyBody):
    """Anny on a vertex subset and the bones that move it (see the module docstring).

    Args:
        topology: Anny topology (as ``AnnyBody``).
        num_vertices: size of the farthest-point subset (``sparse_vertex_index``).

    Attributes:
        vertex_index: (N,) indices of the posed vertices in the full mesh.
        bone_index: indices of the kept bones in the full model's ``bone_labels``.
    """

    def __init__(self, topology: str = "notoes_collapse10pc", num_vertices: int = 256) -> None:
        super().__init__(topology)

        full = _load_model_data(topology)
        vidx = sparse_vertex_index(topology, num_vertices)
        labels, parents = list(full.metadata.bone_labels), list(full.metadata.bone_parents)
        w, wi = full.vertex_bone_weights[vidx], full.vertex_bone_indices[vidx]
        used = set(wi[w != 0].tolist())
        used |= {labels.index(b) for b in ["root", *ANNY_POSE_BONES, *self._h36m]}
        bidx = _ancestors_closure(parents, used)
        old_to_new = torch.full((len(labels),), -1, dtype=torch.int64)
        old_to_new[bidx] = torch.arange(len(bidx))
        new_wi = torch.where(w != 0, old_to_new[wi.long()], torch.zeros_like(wi.long()))
        if (new_wi < 0).any():  # pragma: no cover - the closure covers every weighted bone
            raise RuntimeError("a kept vertex is skinned to a dropped bone")
        b_t = torch.tensor(bidx)
        data = dataclasses.replace(
            full,
            metadata=dataclasses.replace(
                full.metadata,
                bone_labels=[labels[i] for i in bidx],
                bone_parents=[-1 if parents[i] < 0 else int(old_to_new[parents[i]]) for i in bidx],
            ),
            template_vertices=full.template_vertices[vidx],
            faces=torch.zeros(0, 3, dtype=torch.int64),
            blendshapes=full.blendshapes[:, vidx],
            template_bone_heads=full.template_bone_heads[b_t],
            bone_heads_blendshapes=full.bone_heads_blendshapes[:, b_t],
            vertex_bone_weights=w,
            vertex_bone_indices=new_wi.to(full.vertex_bone_indices.dtype),
            base_mesh_vertex_indices=full.base_mesh_vertex_indices[vidx],
            reference_bone_orientations=_take(full.reference_bone_orientations, b_t, 0),
            bone_template_orientation_matrices=_take(
                full.bone_template_orientation_matrices, b_t, 0
            ),
            bone_orientation_blendshapes=_take(full.bone_orientation_blendshapes, b_t, 1),
        )
        if full.bone_children_indices is not None:  # pragma: no cover - not in lasor's data
            raise NotImplementedError("SparseAnnyBody does not support SOMA-style refinement")
        self.anny = anny_from_data(data)
        self.version = f"{self.version}/sparse{len(vidx)}"
        self.bone_labels = list(self.anny.bone_labels)
        new_labels = self.bone_labels
        idx = [new_labels.index(b) for b in self.pose_bones]
        self.pose_bone_index = torch.tensor(idx)
        self.joint_index = [0, *idx]
        self._h36m = {k: new_labels.index(k) for k in self._h36m}
        v_new = torch.full((full.template_vertices.shape[0],), -1, dtype=torch.int64)
        v_new[vidx] = torch.arange(len(vidx))
        self.coco_index = v_new[self.coco_index]
        self.head_top = int(v_new[self.head_top])
        self.faces = torch.zeros(0, 3, dtype=torch.int64)
        self.register_buffer("vertex_index", vidx, persistent=False)
        self.bone_index = bidx
        self._init_phenotype_product()
        logger.info(
            "sparse Anny: %d of %d vertices, %d of %d bones", len(vidx),
            full.template_vertices.shape[0], len(bidx), len(labels),
        )  # fmt: skip

    def _init_phenotype_product(self) -> None:
        """Index form of Anny's phenotype-blendshape mask for ``phenotype_coefficients``."""
        a = self.anny
        mask = a.stacked_phenotype_blend_shapes_mask  # (K, N) 0/1
        if a.facial_action_labels or a.local_change_labels:  # pragma: no cover - not lasor's data
            raise NotImplementedError("SparseAnnyBody expects phenotype blendshapes only")
        if not torch.equal(mask, (mask != 0).to(mask.dtype)):  # pragma: no cover
            raise NotImplementedError("SparseAnnyBody expects a 0/1 phenotype mask")
        k, n = mask.shape
        width = int((mask != 0).sum(1).max())
        index = torch.full((k, width), n, dtype=torch.int64)  # column n holds ones
        for row in range(k):
            cols = torch.nonzero(mask[row]).flatten()
            index[row, : len(cols)] = cols
        self.register_buffer("_phen_index", index, persistent=False)
        self.register_buffer("_phen_eye", torch.eye(n, dtype=mask.dtype), persistent=False)

    def phenotype_coefficients(self, shape: torch.Tensor) -> torch.Tensor:
        """Anny's blendshape coefficients of a shape, with a cheap backward pass.

        Anny computes each phenotype blendshape's weight as ``prod(phens * mask + 1 - mask)``
        over all N variations (a (B, K, N) product whose backward pass costs more than the whole
        rest of the body); here the same products run over each row's few non-zero columns.

        Args:
            shape: (B, S) phenotype values.

        Returns:
            (B, C) blendshape coefficients (equal to Anny's up to float rounding).
        """
        from anny.models.phenotype import phenotype_blendshape_weights

        a = self.anny
        _, phen, _, _ = a.get_tensor_inputs(None, shape, None, None)
        # the per-variation weights: Anny's function with an identity mask returns them as is
        phens = phenotype_blendshape_weights(
            phen,
            a.phenotype_labels,
            a.anchors,
            self._phen_eye,
            extrapolate=a.extrapolate_phenotypes,
        )
        phens = torch.cat([phens, phens.new_ones(phens.shape[0], 1)], dim=1)  # (B, N + 1)
        # one gather per factor: each one's backward scatters into (B, N + 1), not (B, K, W)
        w = phens[:, self._phen_index[:, 0]]
        for j in range(1, self._phen_index.shape[1]):
            w = w * phens[:, self._phen_index[:, j]]
        if a.phenotype_blendshape_projection is not None:
            w = w @ a.phenotype_blendshape_projection
        return w

    def _run_anny(self, delta: torch.Tensor, shape: torch.Tensor) -> dict[str, torch.Tensor]:
        from anny.models.rigged_model import RiggedModelWithLinearBlendShapes

        coeffs = self.phenotype_coefficients(shape)
        return RiggedModelWithLinearBlendShapes.forward(self.anny, delta, coeffs)


def _take(x: torch.Tensor | None, index: torch.Tensor, dim: int) -> torch.Tensor | None:
    return None if x is None else x.index_select(dim, index)
