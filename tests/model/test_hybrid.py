"""Hybrid regressor: shapes, branches, gradients, checkpoint round trip, old models still load."""

from __future__ import annotations

import pytest
import torch

from lasor.model.hybrid import HybridRegressor

torch.set_num_threads(1)


def small(**kw) -> HybridRegressor:
    kw.setdefault("kp_width", 32)
    kw.setdefault("widths", (8, 16))
    kw.setdefault("blocks", (1, 1))
    kw.setdefault("groups", 4)
    kw.setdefault("head_hidden", 32)
    return HybridRegressor(19, 6, shape_init=[0.5] * 6, **kw)


def inputs(b: int = 3, r: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "mask": (torch.rand(b, 1, r, r, generator=g) > 0.5).float(),
        "keypoints": torch.rand(b, 17, 3, generator=g),
        "geometry": torch.rand(b, 3, generator=g),
    }


@pytest.mark.parametrize("branches", [("keypoints", "mask"), ("keypoints",), ("mask",)])
@pytest.mark.parametrize("mask_pool", [1, 2])
def test_shapes_and_gradients(branches, mask_pool):
    m = small(branches=branches, mask_pool=mask_pool)
    x = {k: v.requires_grad_(True) for k, v in inputs().items()}
    out = m.run(x)
    assert out.global_orient.shape == (3, 3, 3) and out.body_pose.shape == (3, 19, 3, 3)
    assert out.shape.shape == (3, 6) and out.cam.shape == (3, 3)
    (out.body_pose.sum() + out.cam.sum() + out.shape.sum()).backward()
    assert x["geometry"].grad.abs().sum() > 0  # the geometry always reaches the head
    for key, branch in (("keypoints", "keypoints"), ("mask", "mask")):
        grad = x[key].grad
        assert (grad is not None and float(grad.abs().sum()) > 0) == (branch in branches)
    for name, p in m.named_parameters():
        assert p.grad is not None, name


def test_starts_from_mean_parameters_and_is_batch_independent():
    m = small().eval()
    x = inputs(4)
    out = m.run(x)
    one = m.run({k: v[1:2] for k, v in x.items()})
    torch.testing.assert_close(one.body_pose[0], out.body_pose[1], atol=1e-5, rtol=1e-4)
    # the last layer starts at ~0: the first estimate is the initial one
    torch.testing.assert_close(out.shape, torch.full((4, 6), 0.5), atol=0.05, rtol=0)


def test_rejects_bad_branches():
    with pytest.raises(ValueError, match="branches"):
        small(branches=())
    with pytest.raises(ValueError, match="branches"):
        small(branches=("heatmaps",))


def test_checkpoint_round_trip_and_config(tmp_path):
    from lasor.body import load_body_model
    from lasor.train.checkpoint import (
        build_regressor,
        checkpoint_state,
        export_model,
        get_rng_state,
        load_regressor,
        model_meta,
    )  # fmt: skip
    from lasor.train.config import load_config
    from lasor.train.loop import build_criterion, build_optimizer, build_scheduler

    cfg = load_config(
        None,
        ["model.arch=hybrid", "model.kp_width=32", "model.widths=[8,16]", "model.blocks=[1,1]",
         "model.head_hidden=32", "model.mask_pool=2", "model.branches=[keypoints,mask]"],
    )  # fmt: skip
    assert cfg.model.proxy_version == 2
    body = load_body_model("anny", topology="notoes_collapse10pc")
    m = build_regressor(cfg.model, body).eval()
    crit = build_criterion(cfg)
    opt = build_optimizer(cfg.optim, m.parameters())
    state = checkpoint_state(
        step=1, config=cfg, meta=model_meta(cfg.model, body), model=m, criterion=crit,
        optimizer=opt, scheduler=build_scheduler(cfg.optim, opt), rng=[get_rng_state()],
        best={"metric": "pa_mpjpe", "value": 1.0, "step": 1},
    )  # fmt: skip
    path = export_model(state, tmp_path / "m.pt")
    m2, cfg2 = load_regressor(path)
    assert isinstance(m2, HybridRegressor) and cfg2.model.arch == "hybrid" and m2.mask_pool == 2
    x = inputs(2, 64)
    torch.testing.assert_close(m2.run(x).body_pose, m.run(x).body_pose)


def test_models_saved_before_arch_existed_load_as_the_cnn():
    from lasor.model.regressor import Regressor
    from lasor.predict import shipped_model_path
    from lasor.train.checkpoint import load_regressor

    model, cfg = load_regressor(shipped_model_path())
    if cfg.model.arch == "cnn":
        assert isinstance(model, Regressor) and model.proxy_version == 1
    else:
        assert isinstance(model, HybridRegressor) and model.proxy_version == 2


def test_world_branch_grows_from_a_model_without_it():
    from lasor.model.hybrid import grow_state_dict
    from lasor.synth.world import WORLD_FEATURES

    torch.manual_seed(0)
    old = small().eval()
    new = small(branches=("keypoints", "mask", "world")).eval()
    assert new.input_keys[-1] == "world"
    new.load_state_dict(grow_state_dict(new, old.state_dict()))
    x = inputs()
    world = torch.randn(3, WORLD_FEATURES)
    a, b, c = old.run(x), new.run(x), new.run({**x, "world": world})
    for out in (b, c):  # zero columns: exactly the old model, with or without landmarks
        torch.testing.assert_close(out.body_pose, a.body_pose, rtol=0, atol=0)
    # ... and the new columns learn: the landmarks get a gradient once they have weight
    new.train()
    w = world.clone().requires_grad_(True)
    new.run({**x, "world": w}).body_pose.sum().backward()
    cols = new.keypoint_net.inp.weight.grad[:, -WORLD_FEATURES:]
    assert cols.abs().sum() > 0
    with pytest.raises(ValueError, match="keypoints"):
        small(branches=("mask", "world"))
