"""Shared pytest fixtures."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from lasor.body.fake_smpl import (  # noqa: F401  (re-exported for tests)
    FAKE_SMPL_MIRROR,
    FAKE_SMPL_PARENTS,
    _pickle_with_fake_chumpy,
    make_fake_smpl_arrays,
)


@pytest.fixture(scope="session")
def fake_smpl_variants(tmp_path_factory) -> dict[str, Path]:
    """Fake SMPL files in every supported layout, all holding the same arrays.

    Keys: "chumpy_pkl" (official-style: chumpy ``Ch`` objects + scipy csc J_regressor),
    "plain_pkl" (numpy arrays + scipy csc J_regressor), "npz" (dense arrays), "folder" (a folder
    with the standard names ``SMPL_NEUTRAL.pkl``, ``basicmodel_m_lbs_10_207_0_v1.0.0.pkl`` and
    ``SMPL_FEMALE.npz``).
    """
    root = tmp_path_factory.mktemp("fake_smpl")
    data = make_fake_smpl_arrays()
    sparse = dict(data, J_regressor=scipy.sparse.csc_matrix(data["J_regressor"]))
    folder = root / "models"
    folder.mkdir()
    paths = {
        "chumpy_pkl": folder / "SMPL_NEUTRAL.pkl",
        "plain_pkl": root / "plain.pkl",
        "npz": root / "fake.npz",
        "folder": folder,
    }
    _pickle_with_fake_chumpy(sparse, paths["chumpy_pkl"], ["v_template", "shapedirs", "weights"])
    with open(paths["plain_pkl"], "wb") as fh:
        pickle.dump(sparse, fh, protocol=2)
    np.savez(paths["npz"], **{k: v for k, v in data.items() if isinstance(v, np.ndarray)})
    _pickle_with_fake_chumpy(sparse, folder / "basicmodel_m_lbs_10_207_0_v1.0.0.pkl", ["shapedirs"])
    np.savez(
        folder / "SMPL_FEMALE.npz", **{k: v for k, v in data.items() if isinstance(v, np.ndarray)}
    )
    return paths


@pytest.fixture(scope="session")
def fake_smpl_file(fake_smpl_variants) -> Path:
    """Path of a fake official-style neutral SMPL ``.pkl`` (chumpy objects, sparse J_regressor).

    Its folder also holds ``basicmodel_m_lbs_10_207_0_v1.0.0.pkl`` and ``SMPL_FEMALE.npz``, so
    ``load_smpl(fake_smpl_file.parent, gender=...)`` works for all genders.
    """
    return fake_smpl_variants["chumpy_pkl"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny, barely trained regressor exported like the shipped model (3 steps, random data)."""
    from lasor.train.checkpoint import export_model
    from lasor.train.config import load_config
    from lasor.train.loop import train

    root = tmp_path_factory.mktemp("tiny_model")
    cfg_path = Path(__file__).resolve().parents[1] / "configs" / "train_tiny.yaml"
    cfg = load_config(cfg_path, [f"run.out_dir={root / 'run'}"])
    train(cfg)
    return export_model(root / "run" / "last.pt", root / "tiny.pt")
