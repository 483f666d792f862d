"""Training on the sparse body: the losses with sparse targets equal the full body's at those
vertices; the engine cuts its targets; the loop runs with a sparse body and a silhouette
schedule."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lasor.body.rotations import axis_angle_to_rotmat
from lasor.body.sparse import SparseAnnyBody
from lasor.model.regressor import RegressorOutput
from lasor.synth.bank import build_body_bank
from lasor.synth.engine import SynthConfig, make_batch, sparse_targets
from lasor.train.config import apply_overrides, validate_config
from lasor.train.loop import SilhouetteSchedule, build_criterion, build_train_body, train
from lasor.train.losses import LOSS_TERMS, Criterion

FLIP = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


@pytest.fixture(scope="module")
def sparse():
    return SparseAnnyBody("notoes_collapse10pc", 256)


@pytest.fixture(scope="module")
def batch_and_pred(body):
    """A synthetic batch (targets posed by the engine with the full mesh) and a prediction."""

    def draw(n, rng):
        go = Rotation.from_rotvec(rng.normal(0, 0.2, (n, 3))).as_matrix()
        bp = Rotation.from_rotvec(rng.normal(0, 0.4, (n * 19, 3))).as_matrix()
        return go.astype(np.float32), bp.reshape(n, 19, 3, 3).astype(np.float32)

    bank = build_body_bank(body, 16, draw, np.random.default_rng(0))
    batch = make_batch(bank, 4, SynthConfig(res=32, proxy_version=2), np.random.default_rng(1))
    g = torch.Generator().manual_seed(2)
    go = batch["global_orient"] @ axis_angle_to_rotmat(0.2 * torch.randn(4, 3, generator=g))
    bp = batch["body_pose"] @ axis_angle_to_rotmat(0.2 * torch.randn(4, 19, 3, generator=g))
    shape = (batch["shape"] + 0.1 * torch.randn(4, 6, generator=g)).clamp(0, 1)
    cam = torch.tensor([[0.9, 0.01, -0.02]]).repeat(4, 1)
    return batch, (go, bp, shape, cam)


def _output(go, bp, shape, cam) -> RegressorOutput:
    return RegressorOutput(go, bp, shape, cam, go[..., :2].flatten(-2), bp[..., :2].flatten(-2),
                           shape)  # fmt: skip


def test_sparse_targets_cut_the_vertices_only(batch_and_pred, sparse):
    batch, _ = batch_and_pred
    before = batch["target_vertices"].clone()
    cut = sparse_targets(batch, sparse.vertex_index)
    assert torch.equal(batch["target_vertices"], before)  # the input is not modified
    assert torch.equal(cut["target_vertices"], before[:, sparse.vertex_index])
    for k in ("target_keypoints", "target_h36m", "joints2d", "shape"):
        assert cut[k] is batch[k]
    assert sparse_targets({"shape": batch["shape"]}, sparse.vertex_index).keys() == {"shape"}


def test_loss_with_sparse_targets_equals_the_full_bodys(body, sparse, batch_and_pred):
    batch, pred = batch_and_pred
    weights = {k: 1.0 for k in LOSS_TERMS if k != "silhouette"}
    crit = Criterion(weights, use_silhouette=False, perspective_2d=True)
    out = _output(*pred)
    full_terms = crit.compute_terms(out, batch, body)
    sparse_terms = crit.compute_terms(out, sparse_targets(batch, sparse.vertex_index), sparse)
    # the full body's vertex term over the subset only
    full_pred = body(out.global_orient, out.body_pose, out.shape)
    idx = sparse.vertex_index
    p = full_pred.vertices[:, idx] - full_pred.joints[:, :1]
    t = batch["target_vertices"][:, idx]
    expected_vertices = ((p - t) ** 2).sum(-1).mean()
    torch.testing.assert_close(sparse_terms["vertices"], expected_vertices, rtol=1e-5, atol=1e-7)
    assert sparse_terms["vertices"] != full_terms["vertices"]  # it is a different set of points
    for name in ("joints3d", "joints2d", "pose", "shape", "cam"):
        torch.testing.assert_close(sparse_terms[name], full_terms[name], rtol=1e-5, atol=1e-7)


def test_silhouette_step_poses_the_full_mesh(body, sparse, batch_and_pred, splats):
    batch, pred = batch_and_pred
    crit = Criterion({"vertices": 1.0, "silhouette": 1.0}, renderer=splats)
    cut = sparse_targets(batch, sparse.vertex_index)
    out = _output(*pred)
    with pytest.raises(ValueError, match="full mesh"):
        crit(out, cut, sparse)
    _, skipped = crit(out, cut, sparse, silhouette=False)
    assert set(skipped) == {"vertices"}
    total, terms = crit(out, cut, sparse, full_body=body)
    assert set(terms) == {"vertices", "silhouette"}
    torch.testing.assert_close(terms["vertices"], skipped["vertices"], rtol=1e-5, atol=1e-7)
    reference = crit(out, batch, body)[1]["silhouette"]
    torch.testing.assert_close(terms["silhouette"], reference)


def test_uncertainty_weights_stay_in_the_graph_when_a_term_is_skipped(sparse, batch_and_pred):
    batch, pred = batch_and_pred
    crit = Criterion({"vertices": 1.0, "silhouette": 1.0}, weighting="uncertainty")
    total, _ = crit(_output(*pred), sparse_targets(batch, sparse.vertex_index), sparse,
                    silhouette=False)  # fmt: skip
    total.backward()
    assert crit.log_vars.grad is not None and crit.log_vars.grad[1] == 0


def test_build_train_body_and_schedule(tiny_config, body):
    assert build_train_body(tiny_config, body) is body
    cfg = apply_overrides(tiny_config, ["loss.sparse_vertices=256", "loss.silhouette_every=3"])
    train_body = build_train_body(validate_config(cfg), body)
    assert isinstance(train_body, SparseAnnyBody) and len(train_body.vertex_index) == 256
    schedule = SilhouetteSchedule(cfg, build_criterion(cfg), body, train_body)
    assert [schedule(i)["silhouette"] for i in range(4)] == [True, False, False, True]
    assert schedule(0)["full_body"] is body and schedule(1)["full_body"] is None
    for bad in (["loss.sparse_vertices=-1"], ["loss.silhouette_every=0"]):
        with pytest.raises(ValueError):
            validate_config(apply_overrides(tiny_config, bad))


def test_train_with_a_sparse_body_and_a_silhouette_every_other_step(tiny_config, splats):
    cfg = apply_overrides(
        tiny_config, ["loss.sparse_vertices=256", "loss.silhouette_every=2", "optim.steps=4",
                      "optim.fused=true", "run.val_every=4"],
    )  # fmt: skip
    result = train(cfg, renderer=splats)
    assert result["step"] == 4 and result["val"]["pve"] > 0  # validated on the full mesh
    rows = list(csv.DictReader(open(f"{cfg.run.out_dir}/train_log.csv")))
    assert [r["silhouette"] != "" for r in rows] == [True, False, True, False]
    assert all(float(r["vertices"]) > 0 for r in rows)


def test_synthetic_dataset_hands_over_sparse_targets(tiny_config, body, sparse):
    from lasor.train.loop import make_dataset

    cfg = apply_overrides(tiny_config, ["data.kind=synthetic", "data.bank_size=20"])
    full = make_dataset(cfg, "train", 0, body)[0]
    cut = make_dataset(cfg, "train", 0, body, sparse.vertex_index)[0]
    assert cut["target_vertices"].shape == (4, 256, 3)
    assert torch.equal(cut["target_vertices"], full["target_vertices"][:, sparse.vertex_index])
