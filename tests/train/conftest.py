"""Fixtures for the training tests: the training body model, a tiny config, a toy renderer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lasor.train.config import TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def body():
    """Anny's decimated training mesh (built once per session)."""
    from lasor.body import load_body_model

    return load_body_model("anny", topology="notoes_collapse10pc")


@pytest.fixture
def tiny_config(tmp_path) -> TrainConfig:
    """``configs/train_tiny.yaml`` writing into a temporary folder."""
    return load_config(CONFIGS / "train_tiny.yaml", [f"run.out_dir={tmp_path / 'run'}"])


@pytest.fixture
def splats():
    """The toy renderer below, for ``Criterion(renderer=...)`` / ``silhouette_loss``."""
    return splat_silhouette


def splat_silhouette(
    verts_screen: torch.Tensor, faces: torch.Tensor, image_size: int, sigma: float
) -> torch.Tensor:
    """A tiny pure-PyTorch soft silhouette: Gaussian splats of the vertices (faces ignored).

    Args:
        verts_screen: (B, V, 2|3) pixels.
        image_size: side S.
        sigma: splat variance in pixels^2.

    Returns:
        (B, S, S) coverage in [0, 1).
    """
    c = torch.arange(image_size, dtype=verts_screen.dtype) + 0.5
    dx = c[None, None, :] - verts_screen[..., 0:1]  # (B, V, S)
    dy = c[None, None, :] - verts_screen[..., 1:2]
    wx, wy = torch.exp(-(dx**2) / (2 * sigma)), torch.exp(-(dy**2) / (2 * sigma))
    density = torch.einsum("bvj,bvi->bij", wx, wy)
    return 1.0 - torch.exp(-density)
