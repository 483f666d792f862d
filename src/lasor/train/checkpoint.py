"""Checkpoints, exported models and building the network from a config.

Two file kinds, both plain dicts of tensors and Python scalars/strings that load with
``torch.load(path, weights_only=True)`` (no pickled objects; the config travels as YAML text):

* **training checkpoint** (``last.pt``, ``best.pt``; ``format == "lasor-train/1"``): model and
  loss-weight state, optimiser, LR scheduler, RNG states of every rank, step, best metric;
  everything ``lasor train --resume`` needs to continue bit-for-bit.
* **exported model** (``format == "lasor-model/1"``, ``export_model``): the regressor's weights
  (float32 or float16), the config YAML and the body-model name: what ``lasor predict`` and
  ``lasor eval`` load through ``load_regressor``.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lasor.body.base import BodyModel
from lasor.model.regressor import IEFRegressor, Regressor, default_shape_mapping
from lasor.train.config import ModelConfig, TrainConfig, config_from_yaml, config_to_yaml

logger = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_FORMAT",
    "MODEL_FORMAT",
    "build_body_model",
    "checkpoint_state",
    "model_meta",
    "build_regressor",
    "export_model",
    "get_rng_state",
    "load_checkpoint",
    "load_regressor",
    "save_checkpoint",
    "set_rng_state",
]

CHECKPOINT_FORMAT = "lasor-train/1"
MODEL_FORMAT = "lasor-model/1"


def build_body_model(cfg: ModelConfig) -> BodyModel:
    """The training body model named by the config (Anny's decimated mesh by default)."""
    from lasor.body import load_body_model

    if cfg.body_model == "anny":
        return load_body_model("anny", topology=cfg.topology)
    return load_body_model(cfg.body_model, model_path=cfg.body_model_path)


def model_meta(cfg: ModelConfig, body: BodyModel) -> dict[str, Any]:
    """What is needed, besides the config, to rebuild the regressor without the body model."""
    mapping = cfg.shape_mapping
    if mapping == "auto":
        mapping = default_shape_mapping(body.name)
    return {
        "body_model": body.name,
        "num_pose_bones": body.num_pose_bones,
        "num_shape": body.num_shape,
        "shape_mapping": mapping,
        "shape_init": [float(x) for x in body.shape_default.tolist()],
    }


def _regressor_from_meta(cfg: ModelConfig, meta: dict[str, Any]) -> IEFRegressor:
    if cfg.arch == "hybrid":
        from lasor.model.hybrid import HybridRegressor

        return HybridRegressor(
            meta["num_pose_bones"], meta["num_shape"], shape_init=meta["shape_init"],
            shape_mapping=meta["shape_mapping"], branches=cfg.branches, kp_width=cfg.kp_width,
            kp_blocks=cfg.kp_blocks, widths=cfg.widths, blocks=cfg.blocks, norm=cfg.norm,
            groups=cfg.groups, mask_pool=cfg.mask_pool, head_hidden=cfg.head_hidden,
            ief_iters=cfg.ief_iters, dropout=cfg.dropout, cam_scale_init=cfg.cam_scale_init,
        )  # fmt: skip
    if cfg.arch != "cnn":
        raise ValueError(f"model.arch must be 'cnn' or 'hybrid', got {cfg.arch!r}")
    return Regressor(
        meta["num_pose_bones"],
        meta["num_shape"],
        shape_init=meta["shape_init"],
        shape_mapping=meta["shape_mapping"],
        in_channels=cfg.in_channels,
        widths=cfg.widths,
        blocks=cfg.blocks,
        norm=cfg.norm,
        groups=cfg.groups,
        coord_channels=cfg.coord_channels,
        pool=cfg.pool,
        keypoint_readout=cfg.keypoint_readout,
        head_hidden=cfg.head_hidden,
        ief_iters=cfg.ief_iters,
        dropout=cfg.dropout,
        cam_scale_init=cfg.cam_scale_init,
    )


def build_regressor(cfg: ModelConfig, body: BodyModel) -> IEFRegressor:
    """A freshly initialised regressor sized for ``body`` (pose bones, shape parameters)."""
    return _regressor_from_meta(cfg, model_meta(cfg, body))


# ---------------------------------------------------------------------------------------------
# RNG state as weights_only-safe values


def get_rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU, and CUDA if used) RNG states as tensors/lists/ints."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``get_rng_state``."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
         n["cached_gaussian"])
    )  # fmt: skip
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------
# training checkpoints


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (temporary file + rename), so a kill never leaves a torn file.

    Args:
        path: destination.
        state: plain dict (tensors, numbers, strings, lists, dicts).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a training checkpoint or exported model with ``weights_only=True``."""
    return torch.load(Path(path), map_location=map_location, weights_only=True)


# ---------------------------------------------------------------------------------------------
# exported models


def export_model(
    ckpt: str | Path | dict[str, Any], out_path: str | Path, dtype: str = "float32"
) -> Path:
    """Write an inference-only model file from a training checkpoint.

    Args:
        ckpt: training checkpoint path or its loaded dict.
        out_path: destination (``.pt``).
        dtype: "float32" or "float16" for the weight matrices / kernels (1-D tensors such as
            biases, norm parameters and the IEF starting point stay float32).

    Returns:
        ``out_path`` as a Path. The file holds ``format``, ``model`` (state dict), ``model_meta``,
        ``config_yaml``, ``body_model`` and ``step``.
    """
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    state = ckpt if isinstance(ckpt, dict) else load_checkpoint(ckpt)
    if state.get("format") not in (CHECKPOINT_FORMAT, MODEL_FORMAT):
        raise ValueError(f"Not a lasor checkpoint (format={state.get('format')!r})")
    half = dtype == "float16"
    weights = {
        k: (v.half() if half and v.is_floating_point() and v.dim() > 1 else v.clone())
        for k, v in state["model"].items()
    }
    out = {
        "format": MODEL_FORMAT,
        "model": weights,
        "model_meta": dict(state["model_meta"]),
        "config_yaml": state["config_yaml"],
        "body_model": state["model_meta"]["body_model"],
        "step": int(state.get("step", 0)),
        "dtype": dtype,
    }
    return save_checkpoint(out_path, out)


def load_regressor(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[Regressor, TrainConfig]:
    """Load a regressor for inference from an exported model or a training checkpoint.

    Args:
        path: file written by ``export_model`` or a training checkpoint (``last.pt``...).
        device: where to put the model.

    Returns:
        ``(model, config)``: a float32 ``Regressor`` in eval mode and the training config
        (``config.model.body_model`` / ``topology`` name the body model the outputs belong to).
    """
    state = load_checkpoint(path, map_location="cpu")
    if state.get("format") not in (CHECKPOINT_FORMAT, MODEL_FORMAT):
        raise ValueError(f"{path} is not a lasor model (format={state.get('format')!r})")
    cfg = config_from_yaml(state["config_yaml"])
    model = _regressor_from_meta(cfg.model, state["model_meta"])
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}
    model.load_state_dict(weights)
    return model.to(device).eval(), cfg


def checkpoint_state(
    *,
    step: int,
    config: TrainConfig,
    meta: dict[str, Any],
    model: torch.nn.Module,
    criterion: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rng: list[dict[str, Any]],
    best: dict[str, Any],
) -> dict[str, Any]:
    """Assemble a training checkpoint dict (see the module docstring)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "step": int(step),
        "config_yaml": config_to_yaml(config),
        "model_meta": dict(meta),
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "criterion": {k: v.detach().cpu().clone() for k, v in criterion.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng,
        "best": dict(best),
    }
