"""Anny, the default body model (Apache-2.0 code, CC0 MakeHuman data).

lasor ships Anny's compact model data for two topologies inside the package
(``lasor/body/data``, built by ``scripts/build_anny_data.py``), so no multi-minute first build
and no cache are needed:

* ``"anny"`` — Anny's default full-body mesh: 13,718 vertices, 27,420 faces. Used for outputs.
* ``"notoes_collapse10pc"`` — a decimated mesh: 1,229 vertices, 2,454 faces, the same skeleton
  and shape space; cheap to render, used for training-time silhouettes.

**Pose** (see ``lasor.body.base``): ``global_orient`` plus one rotation for each of the 19
``ANNY_POSE_BONES`` below, each about the bone's head in world-aligned axes (Anny's
``local-ref`` parameterisation, converted into lasor's Y-up/+Z-facing body frame). The other
Anny bones stay at rest: fingers, toes, eyes, jaw, and the helper bones (``pelvis.*``,
``shoulder01.*``, twist bones ``*02``, ``spine04``/``spine02``, ``neck02``/``neck03``) whose
motion is folded into their neighbours: a full 3-DoF rotation of e.g. ``upperarm01`` carries
the arm's twist.

**Shape**: Anny's six default phenotype values in [0, 1]: gender (0 male … 1 female: Anny
blends its "male" target at 0), age (anchors: 1/3 child, 2/3 young adult, 1 old; in years see
``lasor.body.measure``), muscle, weight, height,
proportions. Default: a young adult of average build, gender 0.5.
"""

from __future__ import annotations

import importlib.resources
import logging
from functools import lru_cache

import torch

from lasor.body.base import BodyModel, BodyOutput

logger = logging.getLogger(__name__)

TOPOLOGIES = ("anny", "notoes_collapse10pc")

ANNY_POSE_BONES: list[str] = [
    "spine05", "spine03", "spine01", "neck01", "head",
    "clavicle.L", "clavicle.R", "upperarm01.L", "upperarm01.R",
    "lowerarm01.L", "lowerarm01.R", "wrist.L", "wrist.R",
    "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "foot.L", "foot.R",
]  # fmt: skip

ANNY_SHAPE_NAMES: list[str] = ["gender", "age", "muscle", "weight", "height", "proportions"]
ANNY_SHAPE_DEFAULT: list[float] = [0.5, 2.0 / 3.0, 0.5, 0.5, 0.5, 0.5]

#: Anny's frame (Z up, facing -Y) -> lasor's body frame (Y up, facing +Z): -90 deg about X.
ANNY_TO_BODY = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _data_path(name: str):
    return importlib.resources.files("lasor.body") / "data" / name


@lru_cache(maxsize=4)
def _load_model_data(topology: str):
    from anny.models.model_data import ModelData

    with importlib.resources.as_file(_data_path(f"anny_{topology}.safetensors")) as p:
        return ModelData.load_safetensors(p)


def _load_keypoint_data(topology: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    with importlib.resources.as_file(_data_path(f"anny_{topology}_keypoints.safetensors")) as p:
        return load_file(p)


def anny_from_data(data):
    """Anny built from model data with lasor's settings (``local-ref`` pose parameters, cached
    bone orientations, identity root, LBS), float32; used by `AnnyBody` and the sparse body."""
    import anny

    return anny.Anny.from_model_data(
        data,
        pose_parameterization="local-ref",
        bone_orientation="cached",
        root_identity_orientation=True,
        skinning_method="lbs",
    ).to(torch.float32)


class AnnyBody(BodyModel):
    """Anny behind lasor's ``BodyModel`` interface.

    Args:
        topology: one of ``TOPOLOGIES``.
    """

    name = "anny"

    def __init__(self, topology: str = "anny") -> None:
        super().__init__()
        if topology not in TOPOLOGIES:
            raise ValueError(
                f"Unknown Anny topology {topology!r}; lasor ships {TOPOLOGIES}. "
                "(Anny's 'smpl'/'smplx' topologies need a network download and are not supported.)"
            )
        import anny

        self.topology = topology
        self.version = f"anny-{anny.__version__}/{topology}"
        data = _load_model_data(topology)
        self.anny = anny_from_data(data)
        labels = self.anny.bone_labels
        self.bone_labels: list[str] = list(labels)
        self.pose_bones = list(ANNY_POSE_BONES)
        self.shape_names = list(ANNY_SHAPE_NAMES)
        self.left_right_pairs = _lr_pairs(self.pose_bones)
        idx = [labels.index(b) for b in self.pose_bones]
        self.register_buffer("pose_bone_index", torch.tensor(idx), persistent=False)
        self.register_buffer("shape_default", torch.tensor(ANNY_SHAPE_DEFAULT), persistent=False)
        self.register_buffer("faces", data.faces.to(torch.int64), persistent=False)
        self.register_buffer("to_body", ANNY_TO_BODY.clone(), persistent=False)
        kp = _load_keypoint_data(topology)
        self.register_buffer("coco_index", kp["coco_index"], persistent=False)
        self.register_buffer("coco_weight", kp["coco_weight"], persistent=False)
        self.head_top = int(kp["head_top"][0])
        # skeleton joints reported in BodyOutput.joints: the root, then the pose bones
        self.joint_index = [0, *idx]
        j = {b: i for i, b in enumerate(labels)}
        self._h36m = {
            "root": j["root"], "upperleg01.R": j["upperleg01.R"], "lowerleg01.R": j["lowerleg01.R"],
            "foot.R": j["foot.R"], "upperleg01.L": j["upperleg01.L"],
            "lowerleg01.L": j["lowerleg01.L"], "foot.L": j["foot.L"], "spine03": j["spine03"],
            "neck01": j["neck01"], "upperarm01.L": j["upperarm01.L"],
            "lowerarm01.L": j["lowerarm01.L"], "wrist.L": j["wrist.L"],
            "upperarm01.R": j["upperarm01.R"], "lowerarm01.R": j["lowerarm01.R"],
            "wrist.R": j["wrist.R"],
        }  # fmt: skip

    @property
    def num_vertices(self) -> int:
        return int(self.anny.template_vertices.shape[0])

    def forward(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        b = self.check_inputs(global_orient, body_pose, shape)
        dtype = self.anny.template_vertices.dtype
        c = self.to_body.to(dtype)
        delta = self.anny_pose_parameters(global_orient, body_pose)
        out = self._run_anny(delta, shape.to(dtype))
        verts = out["vertices"] @ c.T  # (B, V, 3) body frame; posed root at the origin
        poses = out["bone_poses"]  # (B, NB, 4, 4) Anny frame
        heads = poses[..., :3, 3] @ c.T  # (B, NB, 3)
        rest = out["rest_bone_poses"].expand(b, -1, -1, -1)
        transforms = poses @ torch.linalg.inv(rest)  # un-centred rest -> posed, Anny frame
        # make them act on the rest body with its pelvis at the origin (as BodyOutput promises)
        shift = torch.eye(4, dtype=dtype, device=global_orient.device).repeat(b, 1, 1)
        shift[:, :3, 3] = rest[:, 0, :3, 3]
        transforms = transforms @ shift[:, None]
        c4 = torch.eye(4, dtype=dtype, device=global_orient.device)
        c4[:3, :3] = c
        transforms = c4 @ transforms @ c4.T
        coco = torch.einsum("kn,bknc->bkc", self.coco_weight, verts[:, self.coco_index])
        return BodyOutput(
            vertices=verts,
            faces=self.faces,
            joints=heads[:, self.joint_index],
            keypoints_coco=coco,
            joints_h36m=self._h36m_joints(heads, verts, coco),
            bone_transforms=transforms[:, self.joint_index],
        )

    def _run_anny(self, delta: torch.Tensor, shape: torch.Tensor) -> dict[str, torch.Tensor]:
        """Anny's forward pass: ``vertices``, ``bone_poses``, ``rest_bone_poses``, ..."""
        return self.anny(pose_parameters=delta, phenotype_kwargs=shape)

    def anny_pose_parameters(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor
    ) -> torch.Tensor:
        """lasor's pose -> Anny's ``pose_parameters``: (B, NB, 4, 4) per-bone rotations in Anny's
        frame for all of Anny's bones (``bone_labels``), identity for bones lasor keeps at rest."""
        b = global_orient.shape[0]
        dtype = self.anny.template_vertices.dtype
        c = self.to_body.to(dtype)
        nb = len(self.bone_labels)
        # body-frame rotations -> Anny-frame rotations: R_anny = C^T R C
        go = c.T @ global_orient.to(dtype) @ c
        bp = c.T @ body_pose.to(dtype) @ c
        rot = torch.eye(3, dtype=dtype, device=global_orient.device).repeat(b, nb, 1, 1)
        rot = rot.index_copy(1, self.pose_bone_index, bp)
        rot = torch.cat([go[:, None], rot[:, 1:]], dim=1)
        delta = torch.zeros(b, nb, 4, 4, dtype=dtype, device=global_orient.device)
        delta = delta + torch.nn.functional.pad(rot, (0, 1, 0, 1))
        delta[..., 3, 3] = 1.0
        return delta

    def _h36m_joints(
        self, heads: torch.Tensor, verts: torch.Tensor, coco: torch.Tensor
    ) -> torch.Tensor:
        """H36M-17 joints: skeleton bone heads, except neck/nose (COCO nose) and head (crown)."""
        h = self._h36m
        order = [
            heads[:, h["root"]], heads[:, h["upperleg01.R"]], heads[:, h["lowerleg01.R"]],
            heads[:, h["foot.R"]], heads[:, h["upperleg01.L"]], heads[:, h["lowerleg01.L"]],
            heads[:, h["foot.L"]], heads[:, h["spine03"]], heads[:, h["neck01"]], coco[:, 0],
            verts[:, self.head_top], heads[:, h["upperarm01.L"]], heads[:, h["lowerarm01.L"]],
            heads[:, h["wrist.L"]], heads[:, h["upperarm01.R"]], heads[:, h["lowerarm01.R"]],
            heads[:, h["wrist.R"]],
        ]  # fmt: skip
        return torch.stack(order, dim=1)


def _lr_pairs(bones: list[str]) -> list[tuple[int, int]]:
    pairs = []
    for i, name in enumerate(bones):
        if name.endswith(".L"):
            pairs.append((i, bones.index(name[:-2] + ".R")))
    return pairs
