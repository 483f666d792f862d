"""Typed training configuration: dataclasses loaded from YAML, overridable with ``a.b=value``.

``TrainConfig`` has five sections (``model``, ``data``, ``loss``, ``optim``, ``run``). A YAML file
only needs the keys it changes; unknown keys are errors (a typo should not silently train the
default). Overrides such as ``--set optim.lr=3e-4 loss.use_silhouette=false`` are parsed with YAML
and then checked and converted against the field's type annotation.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_from_yaml",
    "config_to_dict",
    "config_to_yaml",
    "load_config",
    "save_config",
    "validate_config",
]


@dataclass
class ModelConfig:
    """Body model and regressor architecture (everything needed to rebuild the network).

    Attributes:
        body_model: "anny" or "smpl".
        topology: Anny mesh used for training losses and the silhouette.
        body_model_path: SMPL model file (SMPL only).
        in_channels: proxy channels (1 silhouette + 17 COCO heatmaps).
        widths: encoder stage widths (each stage halves the resolution).
        blocks: basic blocks per stage.
        norm: "group" (default; batch-independent, see ``lasor.model.regressor``) or "batch".
        groups: GroupNorm groups.
        coord_channels: append x/y coordinate channels to the proxy (CoordConv).
        pool: "mean" (global average pooling), "flatten" (a 4x4 grid of reduced features) or
            "both" (the two concatenated).
        keypoint_readout: feed the head each heatmap's peak and soft-argmax as well.
        head_hidden: IEF MLP width.
        ief_iters: IEF refinement rounds.
        dropout: dropout in the IEF MLP.
        shape_mapping: "auto" (sigmoid for Anny, identity for SMPL), "sigmoid" or "identity".
        cam_scale_init: initial weak-perspective scale (a 1.7 m person spans ~75% of the crop).
        arch: "cnn" (``lasor.model.regressor.Regressor`` over the v1 heatmap proxy; models
            saved before ``arch`` existed are this) or "hybrid" (``lasor.model.hybrid``: keypoint
            MLP + mask CNN + crop geometry over the v2 input; ``widths``/``blocks`` then size the
            mask CNN).
        branches: hybrid only: "keypoints" and/or "mask", and "world" (MediaPipe's world
            landmarks as further keypoint-MLP inputs; needs "keypoints" and data.synth.world).
        kp_width: hybrid only: keypoint MLP width...
        kp_blocks: ...and residual blocks.
        mask_pool: hybrid only: average-pool the mask by this factor before its CNN.
    """

    arch: str = "cnn"
    branches: list[str] = field(default_factory=lambda: ["keypoints", "mask"])
    kp_width: int = 1024
    kp_blocks: int = 2
    mask_pool: int = 1
    body_model: str = "anny"
    topology: str = "notoes_collapse10pc"
    body_model_path: str | None = None
    in_channels: int = 18
    widths: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    norm: str = "group"
    groups: int = 8
    coord_channels: bool = False
    pool: str = "mean"
    keypoint_readout: bool = False
    head_hidden: int = 512
    ief_iters: int = 3
    dropout: float = 0.0
    shape_mapping: str = "auto"
    cam_scale_init: float = 0.9

    @property
    def proxy_version(self) -> int:
        """The network-input version of ``lasor.synth.proxy`` this architecture reads."""
        return 2 if self.arch == "hybrid" else 1


@dataclass
class DataConfig:
    """Training data.

    Attributes:
        kind: "synthetic" (``lasor.synth.dataset.SyntheticDataset``) or "random" (shape-correct
            random batches for tests and benchmarks).
        image_size: proxy / silhouette side length in pixels.
        batch_size: samples per step per process.
        num_workers: DataLoader worker processes (0 = load in the training process).
        val_size: validation samples (the first ``val_size`` of the ``val`` split).
        bank_size: synthetic data: bodies posed up front for the train split...
        val_bank_size: ...and for the val split.
        pose_bank: mocap pose bank file (default: ``lasor.synth.poses``' cache path, or its
            balanced bank with ``balanced_bank``).
        balanced_bank: use the bank balanced across the library (``lasor synth poses
            --balanced``) instead of the default one.
        anchor_share: share of every bank's poses drawn from the pose anchors (sitting,
            kneeling, lying, ...: ``lasor.synth.anchors``; ``lasor synth poses --anchors``).
        straight_share: share of every bank's poses given the legs and root of a straight-
            legged mocap frame (``lasor.synth.standing``; the bent-leg study, issue 20).
        synth: fields of ``lasor.synth.engine.SynthConfig`` (occlusion, noise, camera, ...);
            ``res`` is taken from ``image_size``.
    """

    kind: str = "synthetic"
    image_size: int = 64
    batch_size: int = 32
    num_workers: int = 0
    val_size: int = 256
    bank_size: int = 20_000
    val_bank_size: int = 2_000
    pose_bank: str | None = None
    balanced_bank: bool = False
    anchor_share: float = 0.0
    straight_share: float = 0.0
    synth: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossConfig:
    """Loss terms and weighting (see ``lasor.train.losses``).

    Attributes:
        weighting: "fixed" (``weights``) or "uncertainty" (learned homoscedastic weights,
            Kendall et al. 2018, as in STRAPS; ``weights`` then only switches terms on/off: 0 =
            off).
        weights: per-term weights; terms: vertices, joints3d, joints2d, pose, shape, cam,
            silhouette.
        use_silhouette: the differentiable-silhouette term (LASOR's contribution); false for the
            ablation.
        point_loss: 3D/2D point error: "mse" (squared distance), "l2" (Euclidean distance,
            PVE-like) or "l1".
        silhouette_sigma: soft-rasteriser softness in pixels^2 (``lasor.render.silhouette``).
            Keep it small: the tails of the many small faces along the outline add up, so at
            64 px the best-fitting camera scale comes out ~1% small at 0.1, ~6% at 0.3 and
            ~12% at 1.0 (worse at lower resolution).
        silhouette_iou_weight: weight of the soft-IoU term added to the per-pixel BCE.
        cam_scale_prior: weak-perspective scale the ``cam`` term pulls towards (log-space).
        perspective_2d: project the predicted joints for the 2D term with the full perspective
            camera the crop geometry implies (the crop's place in the photo, CLIFF) rather than
            the crop's weak-perspective camera; needs ``geometry`` in the batch.
        sparse_vertices: 0: the losses pose the whole training mesh; N > 0: they pose only the
            joints and a fixed subset of about N vertices (``lasor.body.sparse``, Anny only),
            the vertex term runs on the subset and the data engine hands over the targets at
            those vertices; validation and outputs keep the full mesh.
        silhouette_every: compute the silhouette term on every this many steps only (1 = every
            step); with ``sparse_vertices`` those steps pose the full mesh for the renderer.
    """

    weighting: str = "fixed"
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "vertices": 1.0,
            "joints3d": 1.0,
            "joints2d": 0.1,
            "pose": 0.1,
            "shape": 0.1,
            "cam": 0.001,
            "silhouette": 0.1,
        }
    )
    use_silhouette: bool = True
    point_loss: str = "mse"
    silhouette_sigma: float = 0.1
    silhouette_iou_weight: float = 0.0
    cam_scale_prior: float = 0.9
    perspective_2d: bool = False
    sparse_vertices: int = 0
    silhouette_every: int = 1


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule.

    Attributes:
        name: "adam" or "adamw".
        lr: peak learning rate.
        weight_decay: (decoupled for AdamW) weight decay.
        betas: Adam betas.
        steps: total training steps (the schedule's length).
        scheduler: "cosine", "step" or "constant" (all after a linear warm-up).
        warmup_steps: linear warm-up from 0.
        min_lr_ratio: cosine floor as a fraction of ``lr``.
        step_every: "step" schedule: decay every this many steps...
        step_gamma: ...by this factor.
        grad_clip: clip the global gradient norm (0 = off).
        fused: the fused (single-kernel) Adam/AdamW update: the same algorithm, ~4x cheaper on
            a CPU for a multi-million-parameter network.
    """

    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    steps: int = 100_000
    scheduler: str = "cosine"
    warmup_steps: int = 1000
    min_lr_ratio: float = 0.01
    step_every: int = 30_000
    step_gamma: float = 0.1
    grad_clip: float = 0.0
    fused: bool = False


@dataclass
class RunConfig:
    """Bookkeeping: where, how often, how many threads.

    Attributes:
        out_dir: run folder (checkpoints, config.yaml, CSV and TensorBoard logs).
        seed: master seed; every batch's samples derive from (seed, step, rank).
        device: "cpu", "cuda" or "auto".
        num_threads: torch intra-op threads per process (0 = all cores / local processes).
        log_every: steps between CSV/TensorBoard rows.
        val_every: steps between validations (0 = only at the end).
        ckpt_every_steps: steps between checkpoints (0 = off).
        ckpt_every_minutes: minutes between checkpoints (0 = off).
        stop_after_steps: stop this invocation after this many steps (0 = run to
            ``optim.steps``); for time-sliced jobs that ``--resume``.
        best_metric: validation metric (lower is better) that selects ``best.pt``.
        tensorboard: also write TensorBoard events when ``tensorboard`` is installed.
        progress: show a tqdm progress bar.
        init_from: start from these regressor weights (a checkpoint or an exported model) with a
            fresh optimizer and schedule, e.g. to continue a finished run longer; ignored
            when resuming.
        precision: "fp32", or "bf16": the regressor's forward pass under ``torch.autocast``
            with bfloat16 (its matrix products in bfloat16; weights, optimiser, body model,
            losses and validation in float32).
    """

    out_dir: str = "runs/default"
    seed: int = 0
    device: str = "cpu"
    num_threads: int = 0
    log_every: int = 50
    val_every: int = 2000
    ckpt_every_steps: int = 2000
    ckpt_every_minutes: float = 15.0
    stop_after_steps: int = 0
    best_metric: str = "pa_mpjpe"
    tensorboard: bool = True
    progress: bool = True
    init_from: str | None = None
    precision: str = "fp32"


@dataclass
class TrainConfig:
    """The whole training configuration."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


# ---------------------------------------------------------------------------------------------
# (de)serialisation


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Dataclass -> plain nested dict (YAML/JSON-safe: tuples become lists)."""
    return _plain(dataclasses.asdict(cfg))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def config_to_yaml(cfg: TrainConfig) -> str:
    """Config -> YAML text (section order kept)."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def config_from_dict(d: dict[str, Any] | None, cls: type = TrainConfig) -> Any:
    """Nested dict -> typed dataclass; missing keys keep their defaults.

    Raises:
        ValueError: unknown keys or values of the wrong type.
    """
    return _build(cls, d or {}, prefix="")


def config_from_yaml(text: str) -> TrainConfig:
    """YAML text -> ``TrainConfig``."""
    data = yaml.safe_load(text)
    if data is not None and not isinstance(data, dict):
        raise ValueError("A training config must be a YAML mapping")
    return config_from_dict(data)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML file (defaults if None) and apply ``key.path=value`` overrides."""
    cfg = TrainConfig() if path is None else config_from_yaml(Path(path).read_text())
    return apply_overrides(cfg, overrides or [])


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(config_to_yaml(cfg))


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Return a new config with ``section.key=value`` overrides applied (typed).

    Values are parsed as YAML (``1e-4``, ``true``, ``[32, 64]``, ``null``, ``{a: 1}``) and then
    checked against the field's type; string fields take the text verbatim. Dict fields accept a
    sub-key: ``loss.weights.silhouette=0``.
    """
    d = config_to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"Override {item!r} is not of the form key.path=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node: Any = d
        cls: Any = TrainConfig
        for i, name in enumerate(parts[:-1]):
            if dataclasses.is_dataclass(cls):
                hints = typing.get_type_hints(cls)
                if name not in hints:
                    raise ValueError(_unknown(".".join(parts[: i + 1]), name, hints))
                cls = hints[name]
            elif _origin(cls) is dict:
                cls = typing.get_args(cls)[1]
            else:
                raise ValueError(f"{'.'.join(parts[: i + 1])} is not a section in {key!r}")
            node = node.setdefault(name, {})
        leaf = parts[-1]
        if dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls)
            if leaf not in hints:
                raise ValueError(_unknown(key, leaf, hints))
            typ = hints[leaf]
        elif _origin(cls) is dict:
            typ = typing.get_args(cls)[1]
        else:
            raise ValueError(f"Cannot set {key!r}")
        node[leaf] = text if typ is str else yaml.safe_load(text)
    return config_from_dict(d)


# ---------------------------------------------------------------------------------------------
# typed construction


def _origin(tp: Any) -> Any:
    return typing.get_origin(tp)


def _unknown(path: str, name: str, hints: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(hints), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"Unknown config key {path!r}{hint}; valid keys here: {sorted(hints)}"


def _build(cls: type, d: dict[str, Any], prefix: str) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"Config section {prefix or '<root>'!r} must be a mapping, got {d!r}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in d.items():
        path = f"{prefix}{name}"
        if name not in hints:
            raise ValueError(_unknown(path, name, hints))
        kwargs[name] = _convert(hints[name], value, path)
    return cls(**kwargs)


def _number(value: Any) -> float | None:
    """A float from a YAML number, or from text such as "1e-4" that YAML 1.1 leaves a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Check/convert ``value`` against type annotation ``tp``."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path + ".")
    origin = _origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, path)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError("; ".join(errors))
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list, got {value!r}")
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        if args and len(args) != len(value):
            raise ValueError(f"{path}: expected {len(args)} values, got {value!r}")
        return tuple(
            _convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        _, vt = typing.get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a mapping, got {value!r}")
        return {str(k): _convert(vt, v, f"{path}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{path}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        number = _number(value)
        if number is not None and number.is_integer():
            return int(number)
        raise ValueError(f"{path}: expected an integer, got {value!r}")
    if tp is float:
        number = _number(value)
        if number is not None:
            return number
        raise ValueError(f"{path}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{path}: expected a string, got {value!r}")
    raise ValueError(f"{path}: unsupported config type {tp!r}")


_CHOICES = {
    ("model", "arch"): ("cnn", "hybrid"),
    ("model", "norm"): ("group", "batch"),
    ("model", "pool"): ("mean", "flatten", "both"),
    ("model", "shape_mapping"): ("auto", "sigmoid", "identity"),
    ("data", "kind"): ("synthetic", "random"),
    ("loss", "weighting"): ("fixed", "uncertainty"),
    ("loss", "point_loss"): ("mse", "l2", "l1"),
    ("optim", "name"): ("adam", "adamw"),
    ("optim", "scheduler"): ("cosine", "step", "constant"),
    ("run", "device"): ("cpu", "cuda", "auto"),
    ("run", "best_metric"): ("mpjpe", "pa_mpjpe", "pve"),
    ("run", "precision"): ("fp32", "bf16"),
}


def validate_config(cfg: TrainConfig) -> TrainConfig:
    """Check choice fields and ranges; returns ``cfg`` unchanged or raises ``ValueError``."""
    for (section, key), allowed in _CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        if value not in allowed:
            raise ValueError(f"{section}.{key} must be one of {allowed}, got {value!r}")
    if len(cfg.model.widths) != len(cfg.model.blocks):
        raise ValueError("model.widths and model.blocks must have the same length")
    bad = set(cfg.model.branches) - {"keypoints", "mask", "world"}
    if bad or not cfg.model.branches:
        raise ValueError(
            f"model.branches must be a non-empty subset of keypoints, mask, world: {bad}"
        )
    if "world" in cfg.model.branches and "keypoints" not in cfg.model.branches:
        raise ValueError("model.branches: 'world' feeds the keypoint MLP and needs 'keypoints'")
    if "world" in cfg.model.branches and not dict(cfg.data.synth).get("world", False):
        raise ValueError("model.branches has 'world': set data.synth.world: true")
    positive = {
        "data.image_size": cfg.data.image_size,
        "data.batch_size": cfg.data.batch_size,
        "optim.steps": cfg.optim.steps,
        "optim.lr": cfg.optim.lr,
        "run.log_every": cfg.run.log_every,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if cfg.loss.sparse_vertices < 0 or cfg.loss.silhouette_every < 1:
        raise ValueError("loss.sparse_vertices must be >= 0 and loss.silhouette_every >= 1")
    if cfg.loss.sparse_vertices > 0 and cfg.model.body_model != "anny":
        raise ValueError("loss.sparse_vertices needs model.body_model anny")
    return cfg
