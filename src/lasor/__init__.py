"""lasor: occlusion-robust single-image 3D human pose and shape estimation on a CPU.

Importing ``lasor`` does no heavy work: subpackages (and ``lasor.Estimator``) load lazily.

>>> est = lasor.Estimator()
>>> people = est("photo.jpg")
"""

__version__ = "0.1.0"

__all__ = ["Estimator", "Person"]


def __getattr__(name: str):
    if name in ("Estimator", "Person"):
        from lasor import api

        return getattr(api, name)
    raise AttributeError(f"module 'lasor' has no attribute {name!r}")
