"""A small BVH (Biovision Hierarchy) reader and batched forward kinematics.

Reads plain or gzip-compressed ``.bvh`` files (``.bvh.gz``) into a :class:`BVHMotion`: the
joint hierarchy (names, parents, offsets, channel lists; ``End Site`` entries become joints
named ``<parent>_end`` with no channels) and the motion channels as one ``(T, C)`` array.
:func:`forward_kinematics` turns them into per-frame global joint positions and rotations,
vectorised over frames (one loop over joints, none over frames).

Conventions (those of the BVH format):

* A joint's local rotation is the product of its rotation channels in the order they are listed
  (intrinsic Euler angles, degrees): ``CHANNELS 3 Zrotation Xrotation Yrotation`` means
  ``R = Rz @ Rx @ Ry``. The order is read per joint, never assumed.
* ``G_child = G_parent @ R_child`` and ``p_child = p_parent + G_parent @ offset_child``. Position
  channels, where a joint has them (normally only the root), replace its ``OFFSET``.
* With all channels at zero the skeleton is in its rest pose (``OFFSET`` layout), in which
  every global rotation is the identity.
* Lengths are in the file's units; :func:`guess_units_to_metres` guesses them from the rest
  skeleton's height.

No dependency beyond numpy/torch: the PyPI BVH parsers either build per-frame Python lists of
strings (``bvh``) or bring heavy dependencies, while the format needs ~100 lines here.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lasor.body.rotations import euler_to_rotmat

logger = logging.getLogger(__name__)

__all__ = [
    "BVHMotion",
    "BVHSkeleton",
    "forward_kinematics",
    "guess_units_to_metres",
    "parse_bvh",
    "read_bvh",
]

_ROT = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
_POS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


@dataclass
class BVHSkeleton:
    """The joint hierarchy of a BVH file.

    Attributes:
        names: (J,) joint names in file order; end sites are named ``<parent>_end``.
        parents: (J,) int64 parent index, -1 for the root. Parents come before children.
        offsets: (J, 3) float64 offset from the parent, in the parent's frame, file units.
        channels: per joint, its channel names in file order (empty for end sites).
        channel_start: (J,) int64 column of each joint's first channel in the motion data.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[list[str]]
    channel_start: np.ndarray

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def index(self, name: str) -> int:
        """Index of a joint by name (raises ``KeyError`` with the available names)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint {name!r} in BVH skeleton {self.names}") from None

    def rest_positions(self) -> np.ndarray:
        """(J, 3) float64 joint positions of the rest pose (all channels zero), root at 0."""
        pos = np.zeros((self.num_joints, 3))
        for j, p in enumerate(self.parents):
            if p >= 0:
                pos[j] = pos[p] + self.offsets[j]
        return pos


@dataclass
class BVHMotion:
    """A parsed BVH file.

    Attributes:
        skeleton: the joint hierarchy.
        frame_time: seconds per frame (``Frame Time`` header).
        data: (T, C) float64 channel values, columns in file order.
        name: a label (the file stem when read from a file).
    """

    skeleton: BVHSkeleton
    frame_time: float
    data: np.ndarray
    name: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time if self.frame_time > 0 else float("nan")

    def local_rotations(self, frames: np.ndarray | slice | None = None) -> torch.Tensor:
        """Per-joint local rotations from the rotation channels.

        Args:
            frames: optional frame selection (index array or slice) applied before conversion.

        Returns:
            (T, J, 3, 3) float64; identity for joints without rotation channels.
        """
        data = self.data if frames is None else self.data[frames]
        sk = self.skeleton
        t = data.shape[0]
        rot = torch.eye(3, dtype=torch.float64).repeat(t, sk.num_joints, 1, 1)
        groups: dict[str, tuple[list[int], list[list[int]]]] = {}
        for j, chans in enumerate(sk.channels):
            cols = [int(sk.channel_start[j]) + k for k, c in enumerate(chans) if c in _ROT]
            if not cols:
                continue
            order = "".join(_ROT[c] for c in chans if c in _ROT)
            joints, columns = groups.setdefault(order, ([], []))
            joints.append(j)
            columns.append(cols)
        for order, (joints, columns) in groups.items():
            angles = torch.from_numpy(data[:, np.asarray(columns)])  # (T, Jg, K)
            rot[:, joints] = euler_to_rotmat(angles, order, degrees=True)
        return rot

    def local_translations(self, frames: np.ndarray | slice | None = None) -> torch.Tensor:
        """Per-joint translations from the parent: offsets, replaced by position channels.

        Returns:
            (T, J, 3) float64, file units.
        """
        data = self.data if frames is None else self.data[frames]
        sk = self.skeleton
        trans = np.broadcast_to(sk.offsets, (data.shape[0], sk.num_joints, 3)).copy()
        for j, chans in enumerate(sk.channels):
            for k, c in enumerate(chans):
                if c in _POS:
                    trans[:, j, _POS[c]] = data[:, int(sk.channel_start[j]) + k]
        return torch.from_numpy(trans)


def read_bvh(path: str | Path) -> BVHMotion:
    """Read a ``.bvh`` or gzip-compressed ``.bvh.gz`` file.

    Raises:
        ValueError: if the file is not valid BVH.
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    name = path.name
    for suffix in (".gz", ".bvh"):
        name = name.removesuffix(suffix)
    return parse_bvh(raw.decode("utf-8", errors="replace"), name=name)


def parse_bvh(text: str, name: str = "") -> BVHMotion:
    """Parse BVH text.

    Args:
        text: the whole file content.
        name: label stored in the result.

    Returns:
        The parsed motion.

    Raises:
        ValueError: on malformed input.
    """
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise ValueError(f"{name or 'BVH'}: no MOTION section")
    tokens = head.split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise ValueError(f"{name or 'BVH'}: does not start with HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = 1
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                i += 2
            elif tok == "End":  # "End Site"
                parent = stack[-1]
                names.append(f"{names[parent]}_end")
                parents.append(parent)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                i += 2
            elif tok == "{":
                stack.append(len(names) - 1)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                chans = tokens[i + 2 : i + 2 + n]
                bad = [c for c in chans if c not in _ROT and c not in _POS]
                if bad:
                    raise ValueError(f"unknown channel(s) {bad}")
                channels[stack[-1]] = list(chans)
                i += 2 + n
            else:
                raise ValueError(f"unexpected token {tok!r}")
    except (IndexError, ValueError) as e:
        raise ValueError(f"{name or 'BVH'}: malformed HIERARCHY ({e})") from e
    if not names or stack:
        raise ValueError(f"{name or 'BVH'}: empty or unbalanced HIERARCHY")
    counts = [len(c) for c in channels]
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    skeleton = BVHSkeleton(
        names=names,
        parents=np.asarray(parents, dtype=np.int64),
        offsets=np.asarray(offsets, dtype=np.float64),
        channels=channels,
        channel_start=start,
    )
    frame_time, data = _parse_motion(motion, skeleton.num_channels, name or "BVH")
    return BVHMotion(skeleton=skeleton, frame_time=frame_time, data=data, name=name)


def _parse_motion(motion: str, num_channels: int, name: str) -> tuple[float, np.ndarray]:
    lines = motion.lstrip().split("\n", 2)
    try:
        if not lines[0].startswith("Frames:") or not lines[1].startswith("Frame Time:"):
            raise ValueError("expected 'Frames:' and 'Frame Time:' lines")
        num_frames = int(lines[0].split(":")[1])
        frame_time = float(lines[1].split(":")[1])
        body = lines[2] if len(lines) > 2 else ""
        values = np.array(body.split(), dtype=np.float64)
    except (IndexError, ValueError) as e:
        raise ValueError(f"{name}: malformed MOTION header or data ({e})") from e
    if num_channels == 0:
        return frame_time, np.zeros((num_frames, 0))
    complete = values.size // num_channels
    if values.size % num_channels or complete != num_frames:
        if complete < 1:
            raise ValueError(f"{name}: motion data holds no complete frame")
        logger.warning(
            "%s: header says %d frames, data holds %d values = %.2f frames of %d channels; "
            "using %d complete frames",
            name, num_frames, values.size, values.size / num_channels, num_channels, complete,
        )  # fmt: skip
    return frame_time, values[: complete * num_channels].reshape(complete, num_channels)


def forward_kinematics(
    skeleton: BVHSkeleton,
    local_rotations: torch.Tensor,
    local_translations: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global joint positions and rotations, batched over frames.

    Args:
        skeleton: the hierarchy (parents; parents must precede children).
        local_rotations: (T, J, 3, 3) per-joint rotations relative to the parent.
        local_translations: (T, J, 3) offsets from the parent in the parent's frame (the root's
            entry is its world position), e.g. ``BVHMotion.local_translations()``.

    Returns:
        positions: (T, J, 3) world positions, file units.
        rotations: (T, J, 3, 3) world rotations (rest pose -> posed, in world axes).
    """
    glob_r: list[torch.Tensor] = []
    glob_p: list[torch.Tensor] = []
    for j, p in enumerate(skeleton.parents.tolist()):
        if p < 0:
            glob_r.append(local_rotations[:, j])
            glob_p.append(local_translations[:, j])
        else:
            glob_r.append(glob_r[p] @ local_rotations[:, j])
            glob_p.append(glob_p[p] + (glob_r[p] @ local_translations[:, j, :, None])[..., 0])
    return torch.stack(glob_p, dim=1), torch.stack(glob_r, dim=1)


def guess_units_to_metres(skeleton: BVHSkeleton) -> float:
    """Guess the factor from file units to metres from the rest skeleton's height.

    The height is taken as the vertical extent of the rest pose joints (Y up assumed; the
    largest extent is used otherwise), which is roughly 0.85-0.95 of body height. Ranges:
    metres (< 3), CMU ASF units of 1/0.45 inch (10-40, e.g. CMU's own ASF→BVH exports),
    inches (40-100), centimetres (100-250), millimetres (> 500).

    Returns:
        metres per file unit.
    """
    pos = skeleton.rest_positions()
    extent = pos.max(0) - pos.min(0)
    h = float(extent[1]) if extent[1] >= 0.5 * extent.max() else float(extent.max())
    if h < 3.0:
        return 1.0
    if h < 40.0:
        return 0.0254 / 0.45
    if h < 100.0:
        return 0.0254
    if h < 500.0:
        return 0.01
    return 0.001
