"""Fitting the regressed body in the photo's own camera at full resolution.

``lasor.fit.fit_people`` (:mod:`lasor.fit.core`), the camera (:mod:`lasor.fit.camera`) and the
pose prior (:mod:`lasor.fit.prior`). Names load lazily, so ``lasor.fit.camera`` stays cheap.
"""

from __future__ import annotations

__all__ = ["FitOptions", "FitResult", "FitStart", "fit_people"]


def __getattr__(name: str):
    if name in __all__:
        from lasor.fit import core

        return getattr(core, name)
    raise AttributeError(f"module 'lasor.fit' has no attribute {name!r}")
