"""Checkpoints (weights_only round trip), RNG state, export and ``load_regressor``."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lasor.train.checkpoint import (
    CHECKPOINT_FORMAT,
    MODEL_FORMAT,
    build_regressor,
    checkpoint_state,
    export_model,
    get_rng_state,
    load_checkpoint,
    load_regressor,
    model_meta,
    save_checkpoint,
    set_rng_state,
)
from lasor.train.loop import build_criterion, build_optimizer, build_scheduler, train


def test_checkpoint_round_trip_weights_only(tmp_path, tiny_config, body):
    model = build_regressor(tiny_config.model, body)
    crit = build_criterion(tiny_config)
    opt = build_optimizer(tiny_config.optim, list(model.parameters()) + list(crit.parameters()))
    sched = build_scheduler(tiny_config.optim, opt)
    out = model(torch.rand(2, 18, 32, 32))
    out.cam.sum().backward()
    opt.step()
    sched.step()
    state = checkpoint_state(
        step=7, config=tiny_config, meta=model_meta(tiny_config.model, body), model=model,
        criterion=crit, optimizer=opt, scheduler=sched, rng=[get_rng_state()],
        best={"metric": "pa_mpjpe", "value": 12.5, "step": 5},
    )  # fmt: skip
    path = save_checkpoint(tmp_path / "c.pt", state)
    loaded = torch.load(path, weights_only=True)
    assert loaded["format"] == CHECKPOINT_FORMAT and loaded["step"] == 7
    for k, v in model.state_dict().items():
        assert torch.equal(loaded["model"][k], v)
    opt2 = build_optimizer(tiny_config.optim, model.parameters())
    opt2.load_state_dict(loaded["optimizer"])
    sched2 = build_scheduler(tiny_config.optim, opt2)
    sched2.load_state_dict(loaded["scheduler"])
    assert sched2.last_epoch == 1
    assert loaded["best"]["value"] == 12.5
    assert not list(tmp_path.glob("*.tmp*"))  # atomic write left no temporary file


def test_rng_state_round_trip():
    state = get_rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_export_and_load_regressor(tmp_path, tiny_config, dtype):
    train(tiny_config)
    ckpt = tmp_path / "run" / "last.pt"
    exported = export_model(ckpt, tmp_path / "model.pt", dtype=dtype)
    raw = torch.load(exported, weights_only=True)
    assert raw["format"] == MODEL_FORMAT and raw["body_model"] == "anny"
    assert "optimizer" not in raw
    assert exported.stat().st_size < 50e6
    model, cfg = load_regressor(exported)
    reference, cfg_ref = load_regressor(ckpt)  # a training checkpoint loads too
    assert cfg == cfg_ref and cfg.model.widths == tiny_config.model.widths
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    x = torch.rand(2, 18, 32, 32)
    with torch.no_grad():
        a, b = model(x), reference(x)
    tol = 0 if dtype == "float32" else 5e-3
    torch.testing.assert_close(a.body_pose, b.body_pose, atol=tol, rtol=0)
    torch.testing.assert_close(a.cam, b.cam, atol=tol, rtol=0)


def test_load_regressor_rejects_other_files(tmp_path):
    torch.save({"format": "something"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a lasor model"):
        load_regressor(tmp_path / "x.pt")


def test_default_model_export_size(tmp_path, body):
    """The default architecture exports well under 50 MB (float32)."""
    from lasor.train.config import TrainConfig

    cfg = TrainConfig()
    model = build_regressor(cfg.model, body)
    crit = build_criterion(cfg)
    opt = build_optimizer(cfg.optim, model.parameters())
    state = checkpoint_state(
        step=0, config=cfg, meta=model_meta(cfg.model, body), model=model, criterion=crit,
        optimizer=opt, scheduler=build_scheduler(cfg.optim, opt), rng=[get_rng_state()],
        best={},
    )  # fmt: skip
    path = export_model(state, tmp_path / "m.pt")
    assert path.stat().st_size < 50e6
    loaded, _ = load_regressor(path)
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())
    assert load_checkpoint(path)["step"] == 0
