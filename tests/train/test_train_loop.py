"""The training loop: end-to-end CLI run, bit-for-bit resume, graceful stop, data, schedule."""

from __future__ import annotations

import argparse
import csv
import logging
import signal
import sys
import types
from pathlib import Path

import pytest
import torch

from lasor.train.checkpoint import load_checkpoint
from lasor.train.config import OptimConfig, apply_overrides
from lasor.train.loop import (
    LRSchedule,
    RandomBatches,
    add_train_arguments,
    make_dataset,
    run_train,
    train,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
KEYS = {
    "proxy", "mask", "keypoints", "geometry", "global_orient", "body_pose", "shape", "joints2d",
    "joints2d_vis", "silhouette",
    "occluded_fraction", "occlusion",
}  # fmt: skip


def test_run_train_end_to_end(tmp_path):
    out = tmp_path / "run"
    parser = add_train_arguments(argparse.ArgumentParser())
    tiny = str(CONFIGS / "train_tiny.yaml")
    args = parser.parse_args(["--config", tiny, "--set", f"run.out_dir={out}", "run.val_every=2"])
    assert run_train(args) == 0
    for name in ("last.pt", "best.pt", "config.yaml", "train_log.csv", "val_log.csv"):
        assert (out / name).exists(), name
    rows = list(csv.DictReader((out / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert {"loss", "vertices", "silhouette", "lr", "samples_per_s"} <= set(rows[0])
    assert all(float(r["loss"]) > 0 for r in rows)
    val = list(csv.DictReader((out / "val_log.csv").open()))
    assert [int(r["step"]) for r in val] == [2, 3]
    assert float(val[-1]["pa_mpjpe"]) > 0
    ckpt = load_checkpoint(out / "last.pt")  # weights_only=True
    assert ckpt["step"] == 3
    assert "train_tiny" not in ckpt["config_yaml"]  # the resolved config, not a path
    assert (out / "config.yaml").read_text() == ckpt["config_yaml"]


def test_print_config(tmp_path, capsys):
    parser = add_train_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--print-config", "--set", "optim.lr=0.5"])
    assert run_train(args) == 0
    assert "lr: 0.5" in capsys.readouterr().out


def test_resume_is_bit_for_bit(tmp_path, tiny_config):
    # dropout and uncertainty weights make the check cover RNG state and loss parameters too
    common = [
        "optim.steps=6", "model.dropout=0.2", "loss.weighting=uncertainty", "run.val_every=2",
        "optim.warmup_steps=2",
    ]  # fmt: skip
    straight = train(apply_overrides(tiny_config, [*common, f"run.out_dir={tmp_path / 'a'}"]))
    split = [*common, f"run.out_dir={tmp_path / 'b'}"]
    first = train(apply_overrides(tiny_config, [*split, "run.stop_after_steps=3"]))
    assert first["step"] == 3
    second = train(apply_overrides(tiny_config, split), resume=True)
    assert second["step"] == 6
    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["criterion"]["log_vars"], b["criterion"]["log_vars"])
    assert straight["param_checksum"] == second["param_checksum"]
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 6
    assert a["best"] == b["best"]
    # the CSV log of the resumed run continues without duplicates
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "b" / "train_log.csv").open())]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_resume_follows_a_changed_schedule(tmp_path, tiny_config):
    # a run planned for 8 steps, stopped at 3, then shortened to 5 with a new peak LR: the cosine
    # must end at the new length (min_lr_ratio * new lr), not continue the old one
    common = ["optim.warmup_steps=1", "optim.min_lr_ratio=0.1", f"run.out_dir={tmp_path / 'r'}"]
    train(apply_overrides(tiny_config, [*common, "optim.steps=8", "run.stop_after_steps=3"]))
    out = train(
        apply_overrides(tiny_config, [*common, "optim.steps=5", "optim.lr=2e-3"]), resume=True
    )
    assert out["step"] == 5
    ck = load_checkpoint(tmp_path / "r" / "last.pt")
    assert ck["scheduler"]["last_epoch"] == 5
    assert ck["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.1 * 2e-3)


def test_refuses_to_overwrite_without_resume(tiny_config):
    train(tiny_config)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config)


def test_resume_rejects_a_different_model(tiny_config):
    train(apply_overrides(tiny_config, ["run.stop_after_steps=1"]))
    with pytest.raises(ValueError, match="model section"):
        train(apply_overrides(tiny_config, ["model.head_hidden=32"]), resume=True)


def test_sigint_stops_gracefully_with_a_checkpoint(tiny_config, splats):
    calls = []

    def renderer(*args):
        calls.append(1)
        if len(calls) == 2:  # during the second step
            signal.raise_signal(signal.SIGINT)
        return splats(*args)

    cfg = apply_overrides(tiny_config, ["optim.steps=5"])
    result = train(cfg, renderer=renderer)
    assert result["interrupted"] and result["step"] == 2
    assert load_checkpoint(cfg.run.out_dir + "/last.pt")["step"] == 2
    # the handler is removed afterwards
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert train(cfg, resume=True)["step"] == 5


def test_smpl_body_model(tmp_path, tiny_config, fake_smpl_file):
    cfg = apply_overrides(
        tiny_config,
        ["model.body_model=smpl", f"model.body_model_path={fake_smpl_file}", "optim.steps=1"],
    )
    result = train(cfg)
    ckpt = load_checkpoint(cfg.run.out_dir + "/last.pt")
    meta = ckpt["model_meta"]
    sizes = (meta["num_pose_bones"], meta["num_shape"], meta["shape_mapping"])
    assert sizes == (23, 10, "identity")
    assert result["step"] == 1


def test_random_batches_deterministic_and_rank_dependent(body):
    def make(rank):
        return RandomBatches(19, body.shape_default, 0.2, 32, 4, seed=3, rank=rank)

    a, b = make(0)[5], make(0)[5]
    assert set(a) == KEYS
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(make(0)[5]["proxy"], make(1)[5]["proxy"])
    assert not torch.equal(make(0)[5]["proxy"], make(0)[6]["proxy"])
    assert a["proxy"].shape == (4, 18, 32, 32) and a["silhouette"].shape == (4, 32, 32)
    assert a["body_pose"].shape == (4, 19, 3, 3) and a["joints2d_vis"].dtype == torch.float32
    assert a["occlusion"].dtype == torch.int64


def test_make_dataset_random(tiny_config, body):
    train_ds = make_dataset(tiny_config, "train", 0, body)
    val_ds = make_dataset(tiny_config, "val", 0, body)
    assert len(train_ds) == tiny_config.optim.steps
    assert len(val_ds) == 1
    assert not torch.equal(train_ds[0]["proxy"], val_ds[0]["proxy"])


def test_make_dataset_synthetic(tiny_config, body):
    cfg = apply_overrides(tiny_config, ["data.kind=synthetic", "data.bank_size=20"])
    batch = make_dataset(cfg, "train", 0, body)[0]
    assert KEYS <= set(batch)
    assert batch["proxy"].shape == (4, 18, 32, 32)


def test_lr_schedule():
    cos = LRSchedule(OptimConfig(steps=110, warmup_steps=10, min_lr_ratio=0.1))
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0)
    assert cos(10) == pytest.approx(1.0)
    assert cos(60) == pytest.approx(0.55)
    assert cos(110) == pytest.approx(0.1) and cos(500) == pytest.approx(0.1)
    step = LRSchedule(OptimConfig(scheduler="step", warmup_steps=0, step_every=10, step_gamma=0.5))
    assert [step(i) for i in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert LRSchedule(OptimConfig(scheduler="constant", warmup_steps=0))(1234) == 1.0


@pytest.mark.parametrize("setting", ["run.ckpt_every_steps=1", "run.ckpt_every_minutes=1e-9"])
def test_periodic_checkpoints(tiny_config, caplog, setting):
    caplog.set_level(logging.INFO, logger="lasor.train.loop")
    train(apply_overrides(tiny_config, [setting]))
    writes = [r for r in caplog.records if "last.pt" in r.getMessage()]
    assert len(writes) == 3  # after every step (the last one only once)


def test_tensorboard_when_available(tiny_config, monkeypatch):
    events = []

    class FakeWriter:
        def __init__(self, log_dir, purge_step=None):
            events.append(("init", purge_step))

        def add_scalar(self, tag, value, step):
            events.append((tag, step))

        def close(self):
            events.append(("close", None))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    train(apply_overrides(tiny_config, ["run.tensorboard=true"]))
    assert events[0] == ("init", None)
    assert ("train/loss", 3) in events and ("train/silhouette", 1) in events
    assert ("val/pa_mpjpe", 3) in events
    assert events[-1] == ("close", None)


def test_init_from_warm_starts_the_weights(tmp_path):
    """run.init_from loads the regressor weights (not the optimizer) before training."""
    from lasor.train.checkpoint import load_checkpoint
    from lasor.train.config import load_config
    from lasor.train.loop import train

    tiny = Path(__file__).resolve().parents[2] / "configs" / "train_tiny.yaml"
    a = load_config(tiny, [f"run.out_dir={tmp_path / 'a'}"])
    train(a)
    b = load_config(
        tiny,
        [f"run.out_dir={tmp_path / 'b'}", f"run.init_from={tmp_path / 'a' / 'last.pt'}",
         "optim.lr=1e-12", "optim.warmup_steps=0", "optim.scheduler=constant"],
    )  # fmt: skip
    train(b)
    wa = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    wb = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    assert all(torch.allclose(wa[k], wb[k], atol=1e-8) for k in wa)  # tiny lr: warm start kept
