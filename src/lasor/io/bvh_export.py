"""A pose (one frame) or a motion (T frames) as BVH, on Anny's whole skeleton.

The hierarchy is Anny's (all bones; leaf bones get an ``End Site``), laid out in the body's bind
pose with Y up, in metres. Every joint has ``Zrotation Xrotation Yrotation`` channels (intrinsic
Z-X-Y, degrees, the most common BVH order); the root also has positions. A joint's local
rotation is ``A_parent^T A_joint`` with ``A`` the bone's rotation from the bind pose to the pose
in world axes, so a BVH reader's forward kinematics (``lasor.synth.bvh``, Blender's importer)
puts every joint where lasor's body has it. The frame convention is that of
:mod:`lasor.io.rig` (``frame="camera"``: the person stands upright, Y up).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from lasor.io.rig import AnnyRig, anny_rig

log = logging.getLogger(__name__)


def write_bvh(
    path: str | Path,
    body,
    global_orient,
    body_pose,
    shape,
    translation=None,
    fps: float = 30.0,
    frame: str = "camera",
) -> AnnyRig:
    """Write one pose or T poses of an Anny body as ``.bvh``.

    Args:
        path: output file.
        body: an :class:`~lasor.body.anny_body.AnnyBody`.
        global_orient, body_pose, shape, translation, frame: as in
            :func:`lasor.io.rig.anny_rig`.
        fps: frames per second (``Frame Time`` = 1 / fps).

    Returns:
        the :class:`~lasor.io.rig.AnnyRig` that was written.
    """
    rig = anny_rig(body, global_orient, body_pose, shape, translation, frame)
    write_rig_bvh(path, rig, fps=fps)
    return rig


def _fmt(x: float) -> str:
    return f"{x:.6f}"


def write_rig_bvh(path: str | Path, rig: AnnyRig, fps: float = 30.0) -> None:
    """Write an :class:`~lasor.io.rig.AnnyRig` as ``.bvh`` (see the module docstring)."""
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    parents = rig.parents.tolist()
    nj = rig.num_bones
    heads = rig.bind[:, :3, 3]
    children: list[list[int]] = [[] for _ in range(nj)]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in file (depth-first) order

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        order.append(j)
        name = rig.bone_names[j].replace(" ", "_")
        if parents[j] < 0:
            lines.append(f"ROOT {name}")
            off = np.zeros(3)
            chans = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
        else:
            lines.append(f"{ind}JOINT {name}")
            off = heads[j] - heads[parents[j]]
            chans = "CHANNELS 3 Zrotation Xrotation Yrotation"
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET {' '.join(_fmt(x) for x in off)}")
        lines.append(f"{ind}  {chans}")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            # no bone tails in the data: half the parent bone's length along the bone's axis
            p = parents[j]
            length = max(0.5 * float(np.linalg.norm(heads[j] - heads[p])) if p >= 0 else 0.1, 0.02)
            end = rig.bind[j, :3, 1] * length  # Anny's (Blender's) bones point along local +Y
            lines.append(f"{ind}  End Site")
            lines.append(f"{ind}  {{")
            lines.append(f"{ind}    OFFSET {' '.join(_fmt(x) for x in end)}")
            lines.append(f"{ind}  }}")
        lines.append(f"{ind}}}")

    emit(0, 0)
    # world rotation of each bone from its bind pose to the pose, then relative to the parent
    a = rig.posed[..., :3, :3] @ np.swapaxes(rig.bind[:, :3, :3], -1, -2)[None]  # (T, J, 3, 3)
    local = a.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            local[:, j] = np.swapaxes(a[:, p], -1, -2) @ a[:, j]
    t = rig.num_frames
    eul = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True)
    eul = eul.reshape(t, nj, 3)
    root_pos = rig.posed[:, 0, :3, 3]
    cols = [root_pos] + [eul[:, j] for j in order]
    data = np.concatenate(cols, axis=1)
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(_fmt(x) for x in row) for row in data]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from lasor.io.atomic import write_text

    write_text(path, "\n".join(lines) + "\n")
    log.debug("wrote %s (%d joints, %d frames)", path, nj, t)
