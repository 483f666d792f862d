"""The training loop: ``train(config)``, and ``lasor train`` via ``run_train``.

Reproducibility: batch ``k`` of rank ``r`` is item ``k`` of a dataset whose items are whole
batches generated from ``(seed, r, k)`` (``lasor.synth.dataset.SyntheticBatches``, or
``RandomBatches`` here), so the data order is a function of the step alone. A checkpoint holds the
step, model, loss weights, optimiser, LR scheduler and every rank's RNG state, and
``--resume`` continues bit-for-bit (same parameters as an uninterrupted run, ``torch.equal``).

Only rank 0 writes: ``config.yaml``, ``last.pt``, ``best.pt``, ``train_log.csv``,
``val_log.csv`` and TensorBoard events in ``tb/`` (when ``tensorboard`` is installed).
SIGINT/SIGTERM finish the current step, write ``last.pt`` and return (a second SIGINT aborts).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lasor.body.base import BodyModel
from lasor.body.rotations import axis_angle_to_rotmat
from lasor.model.regressor import Regressor
from lasor.train import distributed as D
from lasor.train.args import add_train_arguments
from lasor.train.checkpoint import (
    build_body_model,
    build_regressor,
    checkpoint_state,
    get_rng_state,
    load_checkpoint,
    model_meta,
    save_checkpoint,
    set_rng_state,
)
from lasor.train.config import (
    OptimConfig,
    TrainConfig,
    config_from_dict,
    config_from_yaml,
    config_to_dict,
    config_to_yaml,
    load_config,
    validate_config,
)
from lasor.train.losses import Criterion

logger = logging.getLogger(__name__)

__all__ = [
    "LRSchedule",
    "RandomBatches",
    "SilhouetteSchedule",
    "TrainNet",
    "add_train_arguments",
    "build_optimizer",
    "build_train_body",
    "evaluate",
    "make_dataset",
    "parameter_checksum",
    "run_train",
    "train",
]

VAL_METRICS = ("mpjpe", "pa_mpjpe", "pve")


# ---------------------------------------------------------------------------------------------
# data


def _seed(*parts: int) -> int:
    """A 63-bit seed mixing integers (numpy's SeedSequence hashing)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> 1)


class RandomBatches(Dataset):
    """Random batches with the keys and shapes of the synthetic data (tests, benchmarks).

    Item ``i`` is a whole batch drawn from ``(seed, split, rank, i)``.

    Args:
        num_pose_bones: P.
        shape_center: (S,) centre of the sampled shapes...
        shape_spread: ...and their half-range (uniform).
        image_size: proxy / silhouette side.
        batch_size: samples per item.
        in_channels: proxy channels.
        split: "train" or "val".
        seed: base seed.
        rank: data-parallel rank.
        length: number of items.
    """

    def __init__(
        self,
        num_pose_bones: int,
        shape_center: torch.Tensor,
        shape_spread: float,
        image_size: int,
        batch_size: int,
        in_channels: int = 18,
        split: str = "train",
        seed: int = 0,
        rank: int = 0,
        length: int = 10**9,
    ) -> None:
        self.num_pose_bones = num_pose_bones
        self.shape_center = torch.as_tensor(shape_center, dtype=torch.float32).clone()
        self.shape_spread = float(shape_spread)
        self.image_size = image_size
        self.batch_size = batch_size
        self.in_channels = in_channels
        self.split_id = 0 if split == "train" else 1
        self.seed, self.rank, self.length = int(seed), int(rank), int(length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(_seed(self.seed, self.split_id, self.rank, index))
        b, p, r, s = self.batch_size, self.num_pose_bones, self.image_size, len(self.shape_center)
        flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
        yaw = torch.zeros(b, 3)
        yaw[:, 1] = (torch.rand(b, generator=g) * 2 - 1) * math.pi
        go = flip @ axis_angle_to_rotmat(yaw + 0.2 * torch.randn(b, 3, generator=g))
        bp = axis_angle_to_rotmat(0.3 * torch.randn(b, p, 3, generator=g))
        shape = self.shape_center + self.shape_spread * (2 * torch.rand(b, s, generator=g) - 1)
        # an ellipse per sample as the target silhouette
        yy, xx = torch.meshgrid(torch.arange(r) + 0.5, torch.arange(r) + 0.5, indexing="ij")
        c = r * (0.4 + 0.2 * torch.rand(b, 2, 1, 1, generator=g))
        ax = r * (torch.tensor([0.15, 0.35]) + 0.1 * torch.rand(b, 2, generator=g))
        ell = ((xx - c[:, 0]) / ax[:, 0, None, None]) ** 2 + ((yy - c[:, 1]) / ax[:, 1, None, None])
        return {
            "proxy": torch.rand(b, self.in_channels, r, r, generator=g),
            "mask": (torch.rand(b, 1, r, r, generator=g) < 0.3).float(),
            "keypoints": torch.cat(
                [1.6 * torch.rand(b, 17, 2, generator=g) - 0.8, torch.rand(b, 17, 1, generator=g)],
                dim=2,
            ),
            "geometry": torch.cat(
                [0.2 * torch.randn(b, 2, generator=g), 0.2 + 0.5 * torch.rand(b, 1, generator=g)],
                dim=1,
            ),
            "global_orient": go,
            "body_pose": bp,
            "shape": shape,
            "joints2d": 1.6 * torch.rand(b, 17, 2, generator=g) - 0.8,
            "joints2d_vis": (torch.rand(b, 17, generator=g) < 0.9).float(),
            "silhouette": (ell ** 2 <= 1.0).float(),
            "occluded_fraction": torch.rand(b, generator=g),
            "occlusion": torch.randint(0, 8, (b,), generator=g),
        }  # fmt: skip


def make_dataset(
    cfg: TrainConfig,
    split: str,
    rank: int,
    body: BodyModel,
    vertex_index: torch.Tensor | None = None,
) -> Dataset:
    """The dataset named by ``cfg.data.kind``; each item is one batch (``batch_size=None``).

    Args:
        cfg: training config.
        split: "train" or "val".
        rank: data-parallel rank (part of every batch's seed).
        body: the training body model (posing the synthetic bank, sizing random batches).
        vertex_index: a sparse training body's vertices: synthetic targets are cut to them.
    """
    d = cfg.data
    length = cfg.optim.steps if split == "train" else max(1, d.val_size // d.batch_size)
    seed = cfg.run.seed  # the datasets keep the splits' random streams apart themselves
    if d.kind == "random":
        sigmoid = (cfg.model.shape_mapping == "sigmoid") or (
            cfg.model.shape_mapping == "auto" and body.name == "anny"
        )
        return RandomBatches(
            body.num_pose_bones, body.shape_default.cpu(), 0.2 if sigmoid else 1.0,
            d.image_size, d.batch_size, cfg.model.in_channels, split, seed, rank, length,
        )  # fmt: skip
    if d.kind == "synthetic":
        from lasor.synth.dataset import SyntheticBatches
        from lasor.synth.engine import SynthConfig

        synth = config_from_dict(
            {**d.synth, "res": d.image_size, "proxy_version": cfg.model.proxy_version}, SynthConfig
        )
        return SyntheticBatches(
            body, synth, split=split, seed=seed, batch_size=d.batch_size,
            bank_size=d.bank_size if split == "train" else d.val_bank_size, rank=rank,
            length=length, pose_bank=d.pose_bank, balanced_bank=d.balanced_bank,
            anchor_share=d.anchor_share, straight_share=d.straight_share,
            vertex_index=vertex_index,
        )  # fmt: skip
    raise ValueError(f"data.kind must be 'synthetic' or 'random', got {d.kind!r}")


def _worker_init(_: int) -> None:
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


# ---------------------------------------------------------------------------------------------
# model, optimiser, schedule


class TrainNet(nn.Module):
    """Regressor + criterion in one module, so DDP synchronises learned loss weights too.

    Args:
        regressor, criterion: the network and the losses.
        precision: "fp32" or "bf16" (the regressor's forward pass under bfloat16 autocast; its
            outputs are cast back to float32 before the body model and the losses).
    """

    def __init__(self, regressor: Regressor, criterion: Criterion, precision: str = "fp32") -> None:
        super().__init__()
        self.regressor = regressor
        self.criterion = criterion
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.precision = precision

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        body: BodyModel,
        silhouette: bool = True,
        full_body: BodyModel | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.precision == "bf16":
            device = next(self.regressor.parameters()).device.type
            with torch.autocast(device, dtype=torch.bfloat16):
                pred = self.regressor.run(batch)
            pred = dataclasses.replace(
                pred, **{f.name: getattr(pred, f.name).float() for f in dataclasses.fields(pred)}
            )
        else:
            pred = self.regressor.run(batch)
        return self.criterion(pred, batch, body, silhouette=silhouette, full_body=full_body)


class LRSchedule:
    """LR factor: linear warm-up, then cosine decay to ``min_lr_ratio``, step decay or constant.

    A callable object with only plain attributes, so ``LambdaLR.state_dict()`` stays
    ``weights_only``-loadable.
    """

    def __init__(self, cfg: OptimConfig) -> None:
        self.kind = cfg.scheduler
        self.steps = int(cfg.steps)
        self.warmup = int(cfg.warmup_steps)
        self.min_ratio = float(cfg.min_lr_ratio)
        self.step_every = int(cfg.step_every)
        self.gamma = float(cfg.step_gamma)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "cosine":
            t = min(1.0, (step - self.warmup) / max(1, self.steps - self.warmup))
            return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        if self.kind == "step":
            return self.gamma ** ((step - self.warmup) // max(1, self.step_every))
        return 1.0


def build_optimizer(cfg: OptimConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam or AdamW over ``params``."""
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.name]
    return cls(
        params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay,
        fused=True if cfg.fused else None,
    )  # fmt: skip


def build_scheduler(cfg: OptimConfig, optimizer: torch.optim.Optimizer) -> Any:
    """``LambdaLR`` over ``LRSchedule``; stepped once per training step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, LRSchedule(cfg))


def build_train_body(cfg: TrainConfig, body: BodyModel) -> BodyModel:
    """The body the losses pose: ``body`` itself, or its sparse version (``loss.sparse_vertices``).

    Args:
        cfg: training config.
        body: the full training body (``build_body_model``), on its device.
    """
    n = cfg.loss.sparse_vertices
    if n <= 0:
        return body
    from lasor.body.sparse import SparseAnnyBody

    if body.name != "anny":
        raise ValueError("loss.sparse_vertices needs the Anny body model")
    return SparseAnnyBody(body.topology, n).to(body.faces.device)


class SilhouetteSchedule:
    """Which steps compute the silhouette term, and with which body (``loss.silhouette_every``).

    Args:
        cfg: training config.
        criterion: the loss module (``"silhouette" in criterion.terms`` if it is on at all).
        body: the full training body.
        train_body: ``build_train_body``'s body.
    """

    def __init__(
        self, cfg: TrainConfig, criterion: Criterion, body: BodyModel, train_body: BodyModel
    ) -> None:
        self.every = int(cfg.loss.silhouette_every)
        self.on = "silhouette" in criterion.terms
        self.full_body = body if train_body is not body else None

    def __call__(self, step: int) -> dict[str, Any]:
        """Keyword arguments of ``TrainNet`` for 0-based step ``step``."""
        now = self.on and step % self.every == 0
        return {"silhouette": now, "full_body": self.full_body if now else None}


def build_criterion(cfg: TrainConfig, renderer: Callable | None = None) -> Criterion:
    """The loss module described by ``cfg.loss``."""
    c = cfg.loss
    return Criterion(
        c.weights,
        weighting=c.weighting,
        use_silhouette=c.use_silhouette,
        point_loss=c.point_loss,
        silhouette_sigma=c.silhouette_sigma,
        silhouette_iou_weight=c.silhouette_iou_weight,
        cam_scale_prior=c.cam_scale_prior,
        renderer=renderer,
        perspective_2d=c.perspective_2d,
    )


# ---------------------------------------------------------------------------------------------
# validation


@torch.no_grad()
def evaluate(
    regressor: Regressor, body: BodyModel, batches: Iterable[dict], device: torch.device
) -> dict[str, float]:
    """MPJPE and PA-MPJPE of the H36M-17 joints and PVE, in millimetres (pelvis-aligned).

    Leaves ``regressor`` in eval mode.
    """
    from lasor.eval.metrics import mpjpe, pa_mpjpe, pve

    regressor.eval()
    acc: dict[str, list[np.ndarray]] = {k: [] for k in VAL_METRICS}
    for batch in batches:
        batch = _to_device(batch, device)
        pred = regressor.run(batch)
        p = body(pred.global_orient, pred.body_pose, pred.shape)
        t = body(batch["global_orient"], batch["body_pose"], batch["shape"])
        acc["mpjpe"].append(mpjpe(p.joints_h36m, t.joints_h36m))
        acc["pa_mpjpe"].append(pa_mpjpe(p.joints_h36m, t.joints_h36m))
        acc["pve"].append(
            pve(p.vertices, t.vertices, align="root", pred_root=p.joints[:, 0],
                target_root=t.joints[:, 0])
        )  # fmt: skip
    out = {k: 1000.0 * float(np.concatenate(v).mean()) for k, v in acc.items()}
    out["num_samples"] = float(sum(len(v) for v in acc["mpjpe"]))
    return out


# ---------------------------------------------------------------------------------------------
# logging


class CsvLog:
    """Append-only CSV; on resume, rows after the resumed step are dropped first."""

    def __init__(self, path: Path, fields: list[str], resume_step: int | None) -> None:
        self.path, self.fields = path, fields
        rows: list[dict[str, str]] = []
        if resume_step is not None and path.exists():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r.get("step") or 0) <= resume_step]
        self._file = path.open("w", newline="")
        self._writer = csv.DictWriter(self._file, fields, restval="", extrasaction="ignore")
        self._writer.writeheader()
        self._writer.writerows(rows)
        self._file.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow(
            {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
        )
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _tensorboard(out_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as e:  # not installed, or broken (e.g. a protobuf version clash)
        logger.info("TensorBoard unavailable (%s): logging to CSV only", e)
        return None
    return SummaryWriter(str(out_dir / "tb"), purge_step=purge_step)


class _StopRequest:
    """SIGINT/SIGTERM -> ``requested`` (a second SIGINT raises KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("signal %d: stopping after this step (checkpoint first)", signum)

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


# ---------------------------------------------------------------------------------------------
# training


def train(
    config: TrainConfig, *, resume: bool = False, renderer: Callable | None = None
) -> dict[str, Any]:
    """Train a regressor (single process, or one rank of a ``torchrun`` job).

    Args:
        config: the full configuration (``run.out_dir`` receives everything).
        resume: continue from ``run.out_dir/last.pt`` (start afresh, with a warning, if absent).
        renderer: silhouette renderer override (tests); default ``lasor.render.silhouette``.

    Returns:
        Summary: ``step``, ``interrupted``, ``out_dir``, ``last_checkpoint``,
        ``best_checkpoint``, ``best`` (metric, value, step), ``val`` (last validation, mm),
        ``train`` (last logged losses), ``samples_per_s``, ``world_size``, ``param_checksum``
        (SHA-1 of this rank's parameters).
    """
    validate_config(config)
    info = D.init_distributed(config.run.device)
    ok = False
    try:
        result = _train(config, info, resume, renderer)
        ok = True
        return result
    finally:
        if ok:
            D.shutdown(info)
        elif info.owns_group:
            torch.distributed.destroy_process_group()


def _apply_schedule(cfg: OptimConfig, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
    """After loading a checkpoint, let the config's LR schedule and peak LR take over.

    ``LambdaLR.load_state_dict`` restores the saved schedule's settings (and the optimiser its
    learning rates), so ``--resume --set optim.steps=N`` would otherwise end the loop at N while
    annealing as if the run were as long as before. With unchanged settings this recomputes the
    same values (resume stays bit-for-bit).
    """
    n = len(optimizer.param_groups)
    scheduler.lr_lambdas = [LRSchedule(cfg) for _ in range(n)]
    scheduler.base_lrs = [float(cfg.lr)] * n
    for group, lam in zip(optimizer.param_groups, scheduler.lr_lambdas, strict=True):
        group["initial_lr"] = float(cfg.lr)
        group["lr"] = float(cfg.lr) * lam(scheduler.last_epoch)


def _check_resumable(saved: TrainConfig, cfg: TrainConfig) -> None:
    a, b = config_to_dict(saved), config_to_dict(cfg)
    if a["model"] != b["model"]:
        raise ValueError("--resume with a different model section than the checkpoint's")
    for section in a:
        for k in a[section]:
            if a[section][k] != b[section][k]:
                logger.warning(
                    "resuming with %s.%s = %r (checkpoint: %r)", section, k, b[section][k],
                    a[section][k],
                )  # fmt: skip


def _train(
    cfg: TrainConfig, info: D.DistInfo, resume: bool, renderer: Callable | None
) -> dict[str, Any]:
    run, device, main = cfg.run, info.device, info.is_main
    D.set_num_threads(run.num_threads, info)
    out = Path(run.out_dir)
    last_path, best_path = out / "last.pt", out / "best.pt"
    if main:
        out.mkdir(parents=True, exist_ok=True)
    # rank 0 reads the checkpoint and hands it to the others (no shared file system needed)
    state, clash = None, False
    if main:
        if resume and last_path.exists():
            state = load_checkpoint(last_path)
        elif resume:
            logger.warning("no checkpoint at %s: starting from scratch", last_path)
        clash = not resume and last_path.exists()
    state, clash = D.broadcast_object((state, clash), info)
    if clash:
        raise FileExistsError(
            f"{last_path} exists: pass --resume to continue, or choose another run.out_dir"
        )
    if state is not None:
        _check_resumable(config_from_yaml(state["config_yaml"]), cfg)

    # identical initialisation on every rank (DDP also broadcasts rank 0's weights)
    torch.manual_seed(run.seed)
    body = build_body_model(cfg.model).to(device)
    train_body = build_train_body(cfg, body)
    meta = model_meta(cfg.model, body)
    regressor = build_regressor(cfg.model, body).to(device)
    criterion = build_criterion(cfg, renderer).to(device)
    net = TrainNet(regressor, criterion, run.precision)
    optimizer = build_optimizer(cfg.optim, net.parameters())
    scheduler = build_scheduler(cfg.optim, optimizer)
    step = 0
    best: dict[str, Any] = {"metric": run.best_metric, "value": None, "step": -1}
    resumed = state is not None
    if resumed:
        regressor.load_state_dict(state["model"])
        criterion.load_state_dict(state["criterion"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, best = int(state["step"]), dict(state["best"])
        _apply_schedule(cfg.optim, optimizer, scheduler)
        rng = state["rng"]
        if len(rng) == info.world_size:
            set_rng_state(rng[info.rank])
        else:
            logger.warning("checkpoint has %d ranks' RNG, now %d ranks", len(rng), info.world_size)
            torch.manual_seed(_seed(run.seed, info.rank, step))
        logger.info("resumed from %s at step %d", last_path, step)
        del state
    elif run.init_from:
        # warm start (fine-tuning): the weights only, with a fresh optimizer and schedule
        from lasor.model.hybrid import grow_state_dict

        init = load_checkpoint(run.init_from)
        weights = {k: v.float() for k, v in init["model"].items()}
        # a model with new input columns (the world branch) grows from one without them
        regressor.load_state_dict(grow_state_dict(regressor, weights))
        logger.info("initialised the regressor from %s (step %s)", run.init_from, init.get("step"))
        del init
    if not resumed:  # a fresh or warm start: per-rank global RNGs from the run's seed
        torch.manual_seed(_seed(run.seed, info.rank))
        np.random.seed(_seed(run.seed, info.rank) % 2**32)
    ddp = D.wrap_ddp(net, info, broadcast_buffers=cfg.model.norm == "batch")
    silhouette_now = SilhouetteSchedule(cfg, criterion, body, train_body)

    end_step = cfg.optim.steps
    if run.stop_after_steps > 0:
        end_step = min(end_step, step + run.stop_after_steps)
    loader = DataLoader(
        make_dataset(cfg, "train", info.rank, body, getattr(train_body, "vertex_index", None)),
        batch_size=None,
        sampler=range(step, end_step),
        num_workers=cfg.data.num_workers,
        worker_init_fn=_worker_init if cfg.data.num_workers > 0 else None,
        # spawn, not fork: numba's OpenMP layer (used by the renderer) aborts in forked children
        multiprocessing_context="spawn" if cfg.data.num_workers > 0 else None,
        pin_memory=device.type == "cuda",
        # its own generator: creating the iterator must not draw from the global RNG (resume)
        generator=torch.Generator().manual_seed(_seed(run.seed, info.rank, step)),
    )
    val_data: Dataset | None = None

    def save(path: Path) -> None:
        rng = D.all_gather_objects(get_rng_state(), info)
        if main:
            save_checkpoint(
                path,
                checkpoint_state(
                    step=step, config=cfg, meta=meta, model=regressor, criterion=criterion,
                    optimizer=optimizer, scheduler=scheduler, rng=rng, best=best,
                ),
            )  # fmt: skip
            logger.info("step %d: wrote %s", step, path)
        D.barrier(info)

    terms_cols = list(criterion.terms)
    train_fields = ["step", "lr", "loss", *terms_cols]
    if criterion.weighting == "uncertainty":
        train_fields += [f"w_{t}" for t in terms_cols]
    train_fields += ["samples_per_s", "elapsed_s"]
    train_log = val_log = tb = None
    if main:
        (out / "config.yaml").write_text(config_to_yaml(cfg))
        resume_step = step if resume else None
        train_log = CsvLog(out / "train_log.csv", train_fields, resume_step)
        val_log = CsvLog(out / "val_log.csv", ["step", *VAL_METRICS], resume_step)
        if run.tensorboard:
            tb = _tensorboard(out, step if resume else None)

    pbar = None
    if main and run.progress:
        from tqdm import tqdm

        pbar = tqdm(total=cfg.optim.steps, initial=step, desc="train", dynamic_ncols=True)
    t_start = last_ckpt = time.monotonic()
    t_window, n_window, speed = time.perf_counter(), 0, float("nan")
    last_row: dict[str, Any] = {}
    last_val: dict[str, float] = {}
    interrupted = False
    data_iter: Iterator = iter(loader)
    net.train()
    with _StopRequest() as stop_request:
        while step < end_step:
            batch = _to_device(next(data_iter), device)
            lr = optimizer.param_groups[0]["lr"]
            total, terms = ddp(batch, train_body, **silhouette_now(step))
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if cfg.optim.grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.optim.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            n_window += batch["global_orient"].shape[0] * info.world_size

            if main and (step % run.log_every == 0 or step == end_step):
                now = time.perf_counter()
                speed = n_window / max(now - t_window, 1e-9)
                t_window, n_window = now, 0
                row = {"step": step, "lr": lr, "loss": float(total.detach())}
                row.update({k: float(v.detach()) for k, v in terms.items()})  # (skipped: blank)
                if criterion.weighting == "uncertainty":
                    row.update({f"w_{k}": v for k, v in criterion.effective_weights().items()})
                row.update(samples_per_s=speed, elapsed_s=time.monotonic() - t_start)
                train_log.write(row)
                if tb is not None:
                    for k, v in row.items():
                        if k != "step":
                            tb.add_scalar(f"train/{k}", v, step)
                last_row = row
            if pbar is not None:
                pbar.update(1)
                pbar.set_postfix(loss=f"{float(total.detach()):.4g}", refresh=False)

            time_due = (
                main
                and run.ckpt_every_minutes > 0
                and (time.monotonic() - last_ckpt >= 60.0 * run.ckpt_every_minutes)
            )
            stop, time_due = D.any_flag([stop_request.requested, time_due], info)

            if (run.val_every > 0 and step % run.val_every == 0) or step == cfg.optim.steps:
                improved = False
                if main:
                    if val_data is None:
                        val_data = make_dataset(cfg, "val", 0, body)
                    last_val = evaluate(
                        regressor, body, (val_data[i] for i in range(len(val_data))), device
                    )
                    net.train()
                    val_log.write({"step": step, **last_val})
                    if tb is not None:
                        for k in VAL_METRICS:
                            tb.add_scalar(f"val/{k}", last_val[k], step)
                    value = last_val[run.best_metric]
                    logger.info(
                        "step %d: val MPJPE %.1f PA-MPJPE %.1f PVE %.1f mm", step,
                        last_val["mpjpe"], last_val["pa_mpjpe"], last_val["pve"],
                    )  # fmt: skip
                    if best["value"] is None or value < best["value"]:
                        best = {"metric": run.best_metric, "value": value, "step": step}
                        improved = True
                (improved,) = D.any_flag([improved], info)
                if improved:
                    save(best_path)
            if (
                stop
                or time_due
                or step == end_step
                or (run.ckpt_every_steps > 0 and step % run.ckpt_every_steps == 0)
            ):
                save(last_path)
                last_ckpt = time.monotonic()
            if stop:
                interrupted = True
                logger.warning("stopped at step %d; continue with --resume", step)
                break
    if pbar is not None:
        pbar.close()
    if tb is not None:
        tb.close()
    if main:
        train_log.close()
        val_log.close()
    return {
        "step": step,
        "interrupted": interrupted,
        "out_dir": str(out),
        "last_checkpoint": str(last_path),
        "best_checkpoint": str(best_path) if best["value"] is not None else None,
        "best": best,
        "val": last_val,
        "train": last_row,
        "samples_per_s": speed,
        "world_size": info.world_size,
        "param_checksum": parameter_checksum(net),
    }


def parameter_checksum(module: nn.Module) -> str:
    """SHA-1 of all parameters' bytes: equal iff the parameters are bit-identical."""
    h = hashlib.sha1()
    for p in module.parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# command line


def run_train(args: argparse.Namespace) -> int:
    """Run ``lasor train`` with parsed arguments; returns the process exit code."""
    cfg = validate_config(load_config(args.config, args.overrides))
    if args.print_config:
        sys.stdout.write(config_to_yaml(cfg))
        return 0
    result = train(cfg, resume=args.resume)
    val = result["val"]
    if val:
        logger.info(
            "done at step %d: MPJPE %.1f, PA-MPJPE %.1f, PVE %.1f mm (%s)", result["step"],
            val["mpjpe"], val["pa_mpjpe"], val["pve"], result["last_checkpoint"],
        )  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m lasor.train.loop ...`` (also under ``torchrun -m lasor.train.loop``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = add_train_arguments(argparse.ArgumentParser("lasor train", description=__doc__))
    return run_train(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
