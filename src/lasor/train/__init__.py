"""Training: typed config, losses, the loop, checkpoints and data-parallel helpers.

Submodules are imported on use (``lasor.train.loop`` pulls in the renderer and data engine), so
``import lasor.train`` stays cheap and ``python -m lasor.train.loop`` runs without warnings.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "TrainConfig",
    "add_train_arguments",
    "export_model",
    "load_config",
    "load_regressor",
    "run_train",
    "train",
]

_WHERE = {
    "TrainConfig": "lasor.train.config",
    "load_config": "lasor.train.config",
    "export_model": "lasor.train.checkpoint",
    "load_regressor": "lasor.train.checkpoint",
    "add_train_arguments": "lasor.train.args",
    "run_train": "lasor.train.loop",
    "train": "lasor.train.loop",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'lasor.train' has no attribute {name!r}")
