"""The sparse training body against the full one on the same pose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lasor.body import load_body_model
from lasor.body.rotations import axis_angle_to_rotmat
from lasor.body.sparse import SparseAnnyBody, farthest_point_indices, sparse_vertex_index

TOPOLOGY = "notoes_collapse10pc"


@pytest.fixture(scope="module")
def full():
    return load_body_model("anny", topology=TOPOLOGY)


@pytest.fixture(scope="module")
def sparse():
    return SparseAnnyBody(TOPOLOGY, 256)


def _inputs(b: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    go = axis_angle_to_rotmat(0.8 * torch.randn(b, 3, generator=g))
    bp = axis_angle_to_rotmat(0.6 * torch.randn(b, 19, 3, generator=g))
    shape = torch.rand(b, 6, generator=g)  # the whole phenotype range, children included
    return go, bp, shape


def test_farthest_point_sampling_spreads_and_is_deterministic():
    line = np.stack([np.linspace(0, 1, 11), np.zeros(11), np.zeros(11)], axis=1)
    idx = farthest_point_indices(line, 3, seeds=[0])
    assert idx.tolist() == [0, 10, 5]
    assert farthest_point_indices(line, 20).tolist() == farthest_point_indices(line, 20).tolist()
    assert len(farthest_point_indices(line, 20)) == 11


def test_vertex_index_fixed_sorted_and_holds_the_keypoint_vertices(full):
    a, b = sparse_vertex_index(TOPOLOGY, 256), sparse_vertex_index(TOPOLOGY, 256)
    assert torch.equal(a, b) and len(a) == 256
    assert torch.all(a[1:] > a[:-1]) and int(a.max()) < full.num_vertices
    needed = {*full.coco_index.flatten().tolist(), full.head_top}
    assert needed <= set(a.tolist())
    assert len(sparse_vertex_index(TOPOLOGY, 1)) == len(needed)  # the seeds at least


@pytest.mark.parametrize("n", [1, 256])
def test_sparse_equals_full_at_its_vertices(full, n):
    sp = SparseAnnyBody(TOPOLOGY, n)
    assert len(sp.bone_labels) < len(full.bone_labels)
    go, bp, shape = _inputs(5, seed=n)
    with torch.no_grad():
        f, s = full(go, bp, shape), sp(go, bp, shape)
    assert s.vertices.shape == (5, len(sp.vertex_index), 3)
    torch.testing.assert_close(s.vertices, f.vertices[:, sp.vertex_index], atol=1e-6, rtol=0)
    for name in ("joints", "keypoints_coco", "joints_h36m", "bone_transforms"):
        torch.testing.assert_close(getattr(s, name), getattr(f, name), atol=1e-6, rtol=0)
    assert s.faces.shape == (0, 3)
    assert sp.pose_bones == full.pose_bones and sp.shape_names == full.shape_names


def test_phenotype_coefficients_equal_annys(sparse):
    _, _, shape = _inputs(7, seed=3)
    a = sparse.anny
    _, phen, lc, fa = a.get_tensor_inputs(None, shape, None, None)
    ref = a._get_phenotype_blendshape_coefficients(phen, lc, fa)
    torch.testing.assert_close(sparse.phenotype_coefficients(shape), ref, atol=1e-6, rtol=1e-6)


def test_gradients_equal_the_full_bodys(full, sparse):
    """A loss on the subset: same value and same gradients through either body."""
    go, bp, shape = _inputs(3, seed=1)
    weights = torch.randn(
        3, len(sparse.vertex_index), 3, generator=torch.Generator().manual_seed(0)
    )
    grads = []
    for model in (full, sparse):
        x = [t.clone().requires_grad_() for t in (go, bp, shape)]
        out = model(*x)
        v = out.vertices if model is sparse else out.vertices[:, sparse.vertex_index]
        loss = (weights * v).sum() + out.joints_h36m.square().sum() + out.keypoints_coco.sum()
        loss.backward()
        grads.append([t.grad for t in x])
    for g_full, g_sparse in zip(*grads, strict=True):
        assert torch.isfinite(g_sparse).all() and g_sparse.abs().sum() > 0
        torch.testing.assert_close(g_sparse, g_full, atol=1e-4, rtol=1e-4)


def test_gradcheck_float64():
    sp = SparseAnnyBody(TOPOLOGY, 1).double()
    go, bp, shape = _inputs(1, seed=2)
    shape = shape.double().clamp(0.2, 0.8).requires_grad_()

    def f(s):
        return sp(go.double(), bp.double(), s).vertices[:, :20]

    assert torch.autograd.gradcheck(f, (shape,), eps=1e-6, atol=1e-5)
