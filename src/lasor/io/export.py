"""``lasor predict --export glb,bvh``: the rigged files of one predicted person."""

from __future__ import annotations

from pathlib import Path

EXPORT_FORMATS = ("glb", "bvh")


def parse_formats(text: str | None) -> tuple[str, ...]:
    """``"glb,bvh"`` -> ``("glb", "bvh")``; raises ValueError naming an unknown format."""
    if not text:
        return ()
    out = tuple(dict.fromkeys(s.strip().lower().lstrip(".") for s in text.split(",") if s.strip()))
    bad = [f for f in out if f not in EXPORT_FORMATS]
    if bad:
        raise ValueError(f"unknown export format(s) {bad}; choose from {list(EXPORT_FORMATS)}")
    return out


def write_exports(out_dir: Path, stem: str, result, body, formats: tuple[str, ...]) -> list[Path]:
    """Write ``<out_dir>/<stem>.glb`` / ``.bvh`` for a :class:`~lasor.io.results.PersonResult`.

    The pose is the result's (camera frame, pelvis at ``cam_t``), turned to Y up
    (:mod:`lasor.io.rig`), so the body stands as in the photo in Blender.
    """
    return write_motion_exports(out_dir, stem, [result], body, formats)


def write_motion_exports(
    out_dir: Path, stem: str, results: list, body, formats: tuple[str, ...], fps: float = 30.0
) -> list[Path]:
    """One person's results over T video frames -> an animated ``.glb`` / a T-frame ``.bvh``.

    The rig has one shape, the mean of the frames' shapes; per frame the pose and ``cam_t``.
    """
    import numpy as np

    from lasor.io.rig import anny_rig

    if not formats or not results:
        return []
    rig = anny_rig(
        body,
        np.stack([r.global_orient_rotmat for r in results]),
        np.stack([r.body_pose_rotmat for r in results]),
        np.stack([r.shape for r in results]),
        np.stack([r.cam_t for r in results]),
    )
    written = []
    if "glb" in formats:
        from lasor.io.gltf import write_rig_glb

        write_rig_glb(out_dir / f"{stem}.glb", rig, fps=fps)
        written.append(out_dir / f"{stem}.glb")
    if "bvh" in formats:
        from lasor.io.bvh_export import write_rig_bvh

        write_rig_bvh(out_dir / f"{stem}.bvh", rig, fps=fps)
        written.append(out_dir / f"{stem}.bvh")
    return written
