"""The regressor network: a plain ``nn.Module`` that knows nothing about training."""

from lasor.model.regressor import (
    SHAPE_MAPPINGS,
    Regressor,
    RegressorOutput,
    default_shape_mapping,
)

__all__ = ["SHAPE_MAPPINGS", "Regressor", "RegressorOutput", "default_shape_mapping"]
