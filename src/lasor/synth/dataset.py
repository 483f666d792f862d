"""``torch.utils.data`` access to the data engine: one item is one whole batch.

Each item ``i`` is generated from ``numpy.random.default_rng([seed, rank, i])`` for the train
split and ``[seed, rank, i, 1]`` for the val split, so a batch depends only on (seed, split,
rank, index): deterministic, shardable across DDP ranks, resumable from a step number, and a val
set never repeats the cameras, shapes and occluders of a train run with the same seed. Use it
with ``DataLoader(dataset, batch_size=None, num_workers=...)``; the bank of posed bodies is built
in the parent process and shared with forked workers.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lasor.synth.bank import BodyBank, build_body_bank, pose_source
from lasor.synth.engine import SynthConfig, make_batch, sparse_targets

logger = logging.getLogger(__name__)


class SyntheticBatches(Dataset):
    """Deterministic synthetic batches.

    Args:
        body: body model used to pose the bank (the decimated Anny topology for training).
        cfg: engine settings.
        split: "train" or "val" (pose-bank split; held-out mocap subjects for "val").
        seed: base seed (the bank and every batch derive from it).
        batch_size: samples per item.
        bank_size: bodies posed up front.
        rank: data-parallel rank (different ranks draw different batches).
        length: nominal number of items.
        pose_bank: path of the mocap pose bank (default: the cache path; fallback sampler if
            none exists).
        balanced_bank: default to the balanced bank's cache path instead.
        anchor_share: share of the bank's poses drawn from the pose anchors.
        straight_share: share of the bank's poses given straight (standing/walking) legs.
        vertex_index: (N,) indices of a sparse training body's vertices: each batch's target
            vertices are cut to them (``lasor.synth.engine.sparse_targets``).
    """

    def __init__(
        self,
        body,
        cfg: SynthConfig,
        split: str = "train",
        seed: int = 0,
        batch_size: int = 32,
        bank_size: int = 20000,
        rank: int = 0,
        length: int = 10**9,
        pose_bank: str | Path | None = None,
        balanced_bank: bool = False,
        anchor_share: float = 0.0,
        straight_share: float = 0.0,
        vertex_index: torch.Tensor | None = None,
    ) -> None:
        self.cfg = cfg
        self.seed = int(seed)
        self.rank = int(rank)
        self.batch_size = int(batch_size)
        self.split_id = 0 if split == "train" else 1
        self.length = int(length)
        self.vertex_index = None if vertex_index is None else torch.as_tensor(vertex_index)
        t = time.perf_counter()
        rng = np.random.default_rng([self.seed, 7919, self.split_id])
        if pose_bank is None and balanced_bank:
            from lasor.synth.poses import default_balanced_pose_bank_path

            pose_bank = default_balanced_pose_bank_path()
        draw = pose_source(
            split, pose_bank, anchor_share=anchor_share, straight_share=straight_share
        )
        self.bank: BodyBank = build_body_bank(body, bank_size, draw, rng, population=cfg.ages)
        logger.info("posed %d %s bodies in %.1f s", bank_size, split, time.perf_counter() - t)

    def __len__(self) -> int:
        return self.length

    def item_rng(self, index: int) -> np.random.Generator:
        """The random stream of item ``index`` (train keeps the 3-part seed of earlier runs)."""
        parts = [self.seed, self.rank, int(index)] + ([self.split_id] if self.split_id else [])
        return np.random.default_rng(parts)

    def __getitem__(self, index: int) -> dict:
        batch = make_batch(self.bank, self.batch_size, self.cfg, self.item_rng(index))
        if self.vertex_index is not None:
            batch = sparse_targets(batch, self.vertex_index)
        return batch
