"""Training config: YAML round trip, typed ``--set`` overrides, validation, shipped configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lasor.train.config import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_from_yaml,
    config_to_yaml,
    load_config,
    save_config,
    validate_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_yaml_round_trip(tmp_path):
    cfg = apply_overrides(TrainConfig(), ["optim.lr=3e-4", "data.synth={occlusion: false}"])
    assert config_from_yaml(config_to_yaml(cfg)) == cfg
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_partial_yaml_keeps_defaults():
    cfg = config_from_yaml("optim:\n  lr: 0.001\n")
    assert cfg.optim.lr == 0.001
    assert cfg.optim.steps == TrainConfig().optim.steps
    assert cfg.model == TrainConfig().model
    assert config_from_yaml("") == TrainConfig()


def test_overrides_are_typed():
    cfg = apply_overrides(
        TrainConfig(),
        [
            "optim.lr=1e-4",  # YAML 1.1 reads this as a string: converted to float
            "optim.steps=500",
            "optim.warmup_steps=1e2",  # an integral float is accepted for an int
            "run.out_dir=123",  # str fields take the text verbatim
            "model.widths=[8, 16]",
            "loss.use_silhouette=false",
            "loss.weights.silhouette=0",
            "data.pose_bank=null",
            "data.synth.occlusion=false",
            "optim.betas=[0.8, 0.99]",
        ],
    )
    assert cfg.optim.lr == 1e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.steps == 500 and cfg.optim.warmup_steps == 100
    assert cfg.run.out_dir == "123"
    assert cfg.model.widths == [8, 16]
    assert cfg.loss.use_silhouette is False
    silhouette_weight = cfg.loss.weights["silhouette"]
    assert silhouette_weight == 0.0 and isinstance(silhouette_weight, float)
    assert cfg.loss.weights["vertices"] == 1.0  # other weights kept
    assert cfg.data.pose_bank is None
    assert cfg.data.synth == {"occlusion": False}
    assert cfg.optim.betas == [0.8, 0.99]


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("optim.lrr=1", "did you mean 'lr'"),
        ("optimizer.lr=1", "Unknown config key"),
        ("data.batch_size=abc", "expected an integer"),
        ("data.batch_size=1.5", "expected an integer"),
        ("loss.use_silhouette=maybe", "true/false"),
        ("model.widths=8", "expected a list"),
        ("optim.lr", "key.path=value"),
    ],
)
def test_bad_overrides(override, match):
    with pytest.raises(ValueError, match=match):
        apply_overrides(TrainConfig(), [override])


def test_unknown_yaml_key_and_wrong_type():
    with pytest.raises(ValueError, match="did you mean 'batch_size'"):
        config_from_yaml("data:\n  batchsize: 4\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        config_from_dict({"data": 3})


def test_validate_config():
    validate_config(TrainConfig())
    for bad in [
        "model.norm=layer",
        "model.pool=max",
        "data.kind=coco",
        "optim.scheduler=poly",
        "run.best_metric=x",
    ]:
        with pytest.raises(ValueError):
            validate_config(apply_overrides(TrainConfig(), [bad]))
    with pytest.raises(ValueError, match="same length"):
        validate_config(apply_overrides(TrainConfig(), ["model.blocks=[1]"]))


@pytest.mark.parametrize("name", ["train_default.yaml", "train_tiny.yaml"])
def test_shipped_configs_load(name):
    cfg = validate_config(load_config(CONFIGS / name))
    assert config_from_yaml(config_to_yaml(cfg)) == cfg


def test_synth_options_match_the_data_engine():
    """``data.synth`` keys must be fields of the engine's SynthConfig (typed conversion)."""
    from lasor.synth.engine import SynthConfig

    cfg = load_config(CONFIGS / "train_default.yaml")
    synth = config_from_dict({**cfg.data.synth, "res": cfg.data.image_size}, SynthConfig)
    assert synth.res == cfg.data.image_size
