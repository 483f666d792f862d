"""The one interface every body model implements.

Conventions shared by all body models in lasor:

* **Body frame**: metres, Y up, the body faces +Z, X points to the body's left. This is SMPL's
  frame; Anny (Z up, facing -Y) is rotated into it. The posed root joint (pelvis) sits at the
  origin, so ``global_orient`` rotates the body about its pelvis and a camera supplies translation.
* **Pose**: ``global_orient (B, 3, 3)`` is the root's rotation in the body frame;
  ``body_pose (B, P, 3, 3)`` holds one rotation per entry of ``BodyModel.pose_bones``, each a
  rotation about the bone's head expressed in world-aligned (body-frame) axes of the rest pose,
  applied after its parent's. Identity everywhere gives the model's rest pose.
* **Shape**: ``shape (B, S)`` with meaning given by ``BodyModel.shape_names`` (Anny phenotype
  values in [0, 1], or SMPL betas).
* Everything is float32, batched and differentiable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class BodyOutput:
    """Result of a body-model forward pass (all in the body frame, metres).

    Attributes:
        vertices: (B, V, 3) posed mesh vertices.
        faces: (F, 3) int64 triangle indices into ``vertices``.
        joints: (B, J, 3) skeleton joints: the root followed by the heads of ``pose_bones``.
        keypoints_coco: (B, 17, 3) COCO-17 keypoints (nose, eyes, ears, shoulders, elbows,
            wrists, hips, knees, ankles) regressed from the vertices.
        joints_h36m: (B, 17, 3) evaluation joints in the Human3.6M 17-joint order
            (see ``lasor.body.joints.H36M_JOINTS``).
        bone_transforms: (B, J, 4, 4) skinning transforms of the skeleton joints (same order as
            ``joints``): each maps a point of the shaped, unposed template (pelvis moved to the
            origin) attached to that joint to its posed position. For SMPL the template is the
            identity pose; for Anny it is Anny's rest pose, which equals the identity pose for the
            default shape (Anny's pose axes are shape-independent reference frames).
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    joints: torch.Tensor
    keypoints_coco: torch.Tensor
    joints_h36m: torch.Tensor
    bone_transforms: torch.Tensor


class BodyModel(nn.Module):
    """Abstract body model. Subclasses fill the attributes below and implement ``forward``.

    Attributes:
        name: short model name, saved in outputs ("anny", "smpl").
        version: data/model version string saved in outputs.
        pose_bones: names of the bones whose rotations ``body_pose`` holds, in order.
        left_right_pairs: index pairs (i, j) into ``pose_bones`` swapped when mirroring a pose.
        shape_names: names of the shape parameters.
        shape_default: (S,) a neutral adult shape.
        faces: (F, 3) int64 buffer.
    """

    name: str = "base"
    version: str = ""
    pose_bones: list[str]
    left_right_pairs: list[tuple[int, int]]
    shape_names: list[str]

    @property
    def num_pose_bones(self) -> int:
        return len(self.pose_bones)

    @property
    def num_shape(self) -> int:
        return len(self.shape_names)

    @property
    def num_vertices(self) -> int:
        raise NotImplementedError

    def forward(
        self,
        global_orient: torch.Tensor,
        body_pose: torch.Tensor,
        shape: torch.Tensor,
    ) -> BodyOutput:
        """Pose and shape the body.

        Args:
            global_orient: (B, 3, 3) root rotation, body frame.
            body_pose: (B, P, 3, 3) per-bone rotations (see module docstring), P = num_pose_bones.
            shape: (B, S) shape parameters, S = num_shape.

        Returns:
            BodyOutput with batch size B.
        """
        raise NotImplementedError

    def neutral(self, batch_size: int = 1) -> BodyOutput:
        """The rest pose with the default shape."""
        p = self.faces.new_zeros(0).float()  # device/dtype anchor
        eye = torch.eye(3, device=p.device, dtype=torch.float32)
        return self(
            eye.expand(batch_size, 3, 3),
            eye.expand(batch_size, self.num_pose_bones, 3, 3),
            self.shape_default.to(p.device).expand(batch_size, -1),
        )

    def check_inputs(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor, shape: torch.Tensor
    ) -> int:
        """Validate input shapes; returns the batch size."""
        b = global_orient.shape[0]
        if global_orient.shape != (b, 3, 3):
            raise ValueError(f"global_orient must be (B, 3, 3), got {tuple(global_orient.shape)}")
        if body_pose.shape != (b, self.num_pose_bones, 3, 3):
            raise ValueError(
                f"body_pose must be (B={b}, {self.num_pose_bones}, 3, 3) for {self.name}, "
                f"got {tuple(body_pose.shape)}"
            )
        if shape.shape != (b, self.num_shape):
            raise ValueError(
                f"shape must be (B={b}, {self.num_shape}) for {self.name}, got {tuple(shape.shape)}"
            )
        return b


def mirror_pose(
    global_orient: torch.Tensor,
    body_pose: torch.Tensor,
    left_right_pairs: list[tuple[int, int]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a pose across the body's sagittal plane (x -> -x in the body frame).

    Args:
        global_orient: (B, 3, 3).
        body_pose: (B, P, 3, 3).
        left_right_pairs: pairs of indices into the P bones to swap.

    Returns:
        New (global_orient, body_pose); inputs are not modified.
    """
    m = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=body_pose.dtype, device=body_pose.device))
    go = m @ global_orient @ m
    bp = m @ body_pose @ m
    perm = list(range(body_pose.shape[1]))
    for i, j in left_right_pairs:
        perm[i], perm[j] = j, i
    return go, bp[:, perm]
