"""Joint sets used across lasor (names, orders, skeleton edges, flips)."""

from __future__ import annotations

COCO17_JOINTS: list[str] = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip

#: index permutation that swaps left and right COCO-17 keypoints (for mirrored images).
COCO17_FLIP: list[int] = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]

#: COCO-17 skeleton edges, for drawing.
COCO17_EDGES: list[tuple[int, int]] = [
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
]  # fmt: skip

#: Human3.6M 17-joint evaluation order (as in ../shared/data/real/h36m).
H36M_JOINTS: list[str] = [
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
]  # fmt: skip

#: Indices of the 14 LSP-style joints within H36M-17 commonly used for MPJPE/PA-MPJPE.
H36M_TO_J14: list[int] = [3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10]
