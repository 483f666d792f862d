"""The hybrid regressor: a keypoint MLP + a silhouette CNN + the crop geometry -> IEF head.

Input version 2 of ``lasor.synth.proxy``: ``mask (B, 1, R, R)``, ``keypoints (B, 17, 3)``
(crop NDC + confidence) and ``geometry (B, 3)`` (CLIFF's crop-in-image information). The
keypoints go through a residual MLP, exact and cheap (a 64 px heatmap blurs them to 2 px and
costs most of a CNN's compute); the mask through a narrow CNN read out as a 4x4 grid, which
carries what hidden joints do not (occlusion, body outline, shape); the geometry is appended to
both the MLP input and the fused features, so the head can turn a crop-frame estimate into the
camera frame of a perspective photo. Either branch can be switched off (``branches``) for the
ablation. Same outputs as ``lasor.model.regressor.Regressor``.

The ``world`` branch (issue 20) reads MediaPipe's 3D world landmarks (``lasor.synth.world``:
17 x 3 metres + a present flag, ``(B, 52)``) as further columns of the keypoint MLP's first
layer, initialised to zero: a model grown from one without them (`grow_state_dict`) starts out
predicting exactly what it did, and absent landmarks (zeros, flag 0) change nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from lasor.model.regressor import Encoder, IEFRegressor, RegressorOutput
from lasor.synth.world import WORLD_FEATURES

__all__ = ["BRANCHES", "HybridRegressor", "KeypointMLP", "grow_state_dict"]

BRANCHES = ("keypoints", "mask", "world")


class _ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU(inplace=True),
            nn.Linear(width, width),
        )  # fmt: skip
        nn.init.zeros_(self.net[-1].weight)  # each block starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class KeypointMLP(nn.Module):
    """(B, 17, 3) keypoints + (B, 3) geometry [+ (B, E) extra columns] -> (B, width) features.

    ``extra`` input columns (the world landmarks) start with zero weights."""

    def __init__(
        self, width: int = 1024, blocks: int = 2, num_joints: int = 17, extra: int = 0
    ) -> None:
        super().__init__()
        self.extra = int(extra)
        self.inp = nn.Linear(3 * num_joints + 3 + self.extra, width)
        if self.extra:
            with torch.no_grad():
                self.inp.weight[:, -self.extra :] = 0.0
        self.blocks = nn.Sequential(*[_ResidualBlock(width) for _ in range(blocks)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.ReLU(inplace=True))
        self.out_features = width

    def forward(
        self, keypoints: torch.Tensor, geometry: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [keypoints.flatten(1), geometry]
        if self.extra:
            if extra is None:
                extra = keypoints.new_zeros(keypoints.shape[0], self.extra)
            parts.append(extra)
        return self.out(self.blocks(self.inp(torch.cat(parts, dim=1))))


def grow_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (of a model without some input columns) made loadable into ``model``.

    A weight whose saved matrix has fewer input columns than ``model``'s (the keypoint MLP's
    first layer when the world branch is added) is copied into the leading columns; the rest
    are ``model``'s (zeros). Every other tensor must match exactly.
    """
    own = model.state_dict()
    out = {}
    for k, v in state.items():
        target = own.get(k)
        if target is not None and v.dim() == 2 and target.dim() == 2 and v.shape != target.shape:
            if v.shape[0] != target.shape[0] or v.shape[1] > target.shape[1]:
                raise ValueError(f"{k}: cannot grow {tuple(v.shape)} into {tuple(target.shape)}")
            grown = target.detach().clone()
            grown[:, : v.shape[1]] = v.to(grown.dtype)
            v = grown
        out[k] = v
    return out


class HybridRegressor(IEFRegressor):
    """Mask + keypoint vector + crop geometry -> body-model parameters and camera.

    Args:
        num_pose_bones, num_shape, shape_init, shape_mapping, head_hidden, ief_iters, dropout,
            cam_scale_init, global_orient_init: as ``Regressor``.
        branches: subset of ``BRANCHES`` to use (the geometry is always used).
        kp_width, kp_blocks: keypoint MLP width and residual blocks.
        widths, blocks, norm, groups: the mask CNN (``Encoder`` with a 4x4 grid readout).
        mask_pool: the mask is average-pooled by this factor first (2: a 64 px mask is read at
            32 px, a quarter of the convolution cost).
    """

    input_keys = ("mask", "keypoints", "geometry")
    proxy_version = 2

    def __init__(
        self,
        num_pose_bones: int,
        num_shape: int,
        *,
        shape_init: torch.Tensor | list[float] | None = None,
        shape_mapping: str = "sigmoid",
        branches: tuple[str, ...] | list[str] = BRANCHES,
        kp_width: int = 1024,
        kp_blocks: int = 2,
        widths: list[int] | tuple[int, ...] = (16, 32, 64, 128),
        blocks: list[int] | tuple[int, ...] = (1, 1, 1, 1),
        norm: str = "group",
        groups: int = 8,
        mask_pool: int = 1,
        head_hidden: int = 512,
        ief_iters: int = 3,
        dropout: float = 0.0,
        cam_scale_init: float = 0.9,
        global_orient_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        branches = tuple(branches)
        unknown = set(branches) - set(BRANCHES)
        if unknown or not branches or branches == ("world",):
            raise ValueError(f"branches must be a non-empty subset of {BRANCHES}, got {branches}")
        if "world" in branches and "keypoints" not in branches:
            raise ValueError("the world branch feeds the keypoint MLP: add 'keypoints'")
        self.branches = branches
        self.input_keys = ("mask", "keypoints", "geometry") + (
            ("world",) if "world" in branches else ()
        )
        self.mask_pool = int(mask_pool)
        num_features = 3
        self.keypoint_net: nn.Module | None = None
        self.mask_net: nn.Module | None = None
        if "keypoints" in branches:
            extra = WORLD_FEATURES if "world" in branches else 0
            self.keypoint_net = KeypointMLP(kp_width, kp_blocks, extra=extra)
            num_features += self.keypoint_net.out_features
        if "mask" in branches:
            self.mask_net = Encoder(1, list(widths), list(blocks), norm, groups, pool="flatten")
            num_features += self.mask_net.out_channels
        self._build_head(
            num_pose_bones, num_shape, num_features, shape_init=shape_init,
            shape_mapping=shape_mapping, head_hidden=head_hidden, ief_iters=ief_iters,
            dropout=dropout, cam_scale_init=cam_scale_init, global_orient_init=global_orient_init,
        )  # fmt: skip

    def run(self, inputs: dict[str, torch.Tensor]) -> RegressorOutput:
        """Forward over a dict; a missing ``world`` means no landmarks (zeros, flag 0)."""
        return self(inputs["mask"], inputs["keypoints"], inputs["geometry"], inputs.get("world"))

    def forward(
        self,
        mask: torch.Tensor,
        keypoints: torch.Tensor,
        geometry: torch.Tensor,
        world: torch.Tensor | None = None,
    ) -> RegressorOutput:
        """Regress parameters.

        Args:
            mask: (B, 1, R, R) observed silhouettes in [0, 1].
            keypoints: (B, 17, 3) crop NDC + confidence.
            geometry: (B, 3) crop geometry.
            world: (B, 52) ``lasor.synth.world.encode_world`` (world branch only; None: absent).
        """
        feats = [geometry]
        if self.keypoint_net is not None:
            feats.append(self.keypoint_net(keypoints, geometry, world))
        if self.mask_net is not None:
            if self.mask_pool > 1:
                mask = nn.functional.avg_pool2d(mask, self.mask_pool)
            feats.append(self.mask_net(mask))
        return self._iterate(torch.cat(feats, dim=1))
