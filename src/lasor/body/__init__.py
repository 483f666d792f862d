"""Body models behind one interface (``BodyModel`` -> ``BodyOutput``).

``load_body_model("anny")`` is the default (data ship in the package); ``load_body_model("smpl",
model_path=...)`` uses a user-supplied SMPL file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily so that e.g. ``lasor.body.joints`` stays light
    from lasor.body.base import BodyModel, BodyOutput, mirror_pose

__all__ = ["BodyModel", "BodyOutput", "load_body_model", "mirror_pose"]


def __getattr__(name: str):
    if name in ("BodyModel", "BodyOutput", "mirror_pose"):
        from lasor.body import base

        return getattr(base, name)
    raise AttributeError(f"module 'lasor.body' has no attribute {name!r}")


def load_body_model(
    name: str = "anny",
    *,
    topology: str = "anny",
    model_path: str | Path | None = None,
    gender: str = "neutral",
) -> BodyModel:
    """Build a body model.

    Args:
        name: "anny" (default) or "smpl".
        topology: Anny mesh topology ("anny" or "notoes_collapse10pc").
        model_path: SMPL model file or folder (required for "smpl").
        gender: SMPL gender ("neutral", "male", "female").

    Returns:
        A float32 ``BodyModel`` on the CPU, in eval mode.
    """
    if name == "anny":
        from lasor.body.anny_body import AnnyBody

        model = AnnyBody(topology=topology)
    elif name == "smpl":
        if model_path is None:
            raise ValueError(
                "The SMPL body model needs your own model file: pass model_path "
                "(e.g. SMPL_NEUTRAL.pkl or a folder holding it)."
            )
        from lasor.body.smpl import build_smpl_body

        model = build_smpl_body(model_path, gender=gender)
    else:
        raise ValueError(f"Unknown body model {name!r}: expected 'anny' or 'smpl'")
    return model.eval()
