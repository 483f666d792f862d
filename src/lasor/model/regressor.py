"""The pose-and-shape regressor: proxy image -> body-model parameters + weak-perspective camera.

A compact ResNet-style encoder over the proxy tensor (silhouette + joint heatmaps, see
``lasor.synth.proxy``) is globally pooled and fed to an iterative-error-feedback head (HMR /
STRAPS): starting from mean parameters, each of ``ief_iters`` rounds sees the features and the
current estimate and adds a residual.

Normalisation defaults to GroupNorm, not BatchNorm: training on a CPU means small per-process
batches (8-32, and fewer per rank under DDP), where batch statistics are noisy and BatchNorm's
running averages drift away from what the network saw during training; GroupNorm makes every
sample's output independent of its batch-mates, so train and eval modes compute the same function
and a DDP run on N ranks computes the same per-sample losses as one process (no SyncBatchNorm, no
buffer broadcasts). BatchNorm remains available (``norm="batch"``).

Size (``benchmarks/train_step.py``, batch 32, one CPU core): the default layout (widths 32-256,
one block per stage) on 64 px proxies has 1.76 M parameters and 70 M multiply-accumulates per
sample, ~2.3 ms per sample (1.2 ms on two cores); two blocks per stage doubles the compute
(3.3 M parameters, 145 M MACs, ~4 ms); 96 px inputs cost 2.2x.

The module knows nothing about training: no renderer, no logger, no body model inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lasor.body.rotations import rot6d_to_rotmat, rotmat_to_rot6d

__all__ = [
    "IEFRegressor",
    "Regressor",
    "RegressorOutput",
    "SHAPE_MAPPINGS",
    "default_shape_mapping",
]

#: How the shape head's raw output becomes body-model shape parameters.
#: "sigmoid": values in (0, 1) (Anny phenotypes); "identity": unconstrained (SMPL betas).
SHAPE_MAPPINGS = ("sigmoid", "identity")


def default_shape_mapping(body_model_name: str) -> str:
    """The shape mapping suited to a body model: bounded for Anny, free for SMPL betas."""
    return "sigmoid" if body_model_name == "anny" else "identity"


@dataclass
class RegressorOutput:
    """Prediction for a batch of B proxies (body-model parameters in the camera frame).

    Attributes:
        global_orient: (B, 3, 3) root rotation, camera frame (x right, y down, z forward).
        body_pose: (B, P, 3, 3) per-bone rotations (``BodyModel`` convention).
        shape: (B, S) body-model shape parameters.
        cam: (B, 3) weak-perspective camera ``(s, tx, ty)``, ``s > 0``:
            ``x_ndc = s * (X + tx)``, ``y_ndc = s * (Y + ty)``.
        global_orient_6d: (B, 6) raw 6D of ``global_orient`` (before Gram-Schmidt).
        body_pose_6d: (B, P, 6) raw 6D of ``body_pose``.
        shape_raw: (B, S) shape before the output mapping.
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor
    global_orient_6d: torch.Tensor
    body_pose_6d: torch.Tensor
    shape_raw: torch.Tensor


def _norm(kind: str, channels: int, groups: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(math.gcd(groups, channels), channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm must be 'group' or 'batch', got {kind!r}")


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet basic block)."""

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str, groups: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.norm1 = _norm(norm, c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm2 = _norm(norm, c_out, groups)
        self.act = nn.ReLU(inplace=True)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(norm, c_out, groups)
            )
        nn.init.zeros_(self.norm2.weight)  # start each block as the identity (Goyal et al.)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return self.act(y + self.skip(x))


#: How the encoder turns its last feature map into a vector. "mean": global average pooling
#: (ResNet; where things are in the image survives only through padding effects); "flatten":
#: a 1x1 convolution to ``FLATTEN_CHANNELS`` channels, pooled to a 4x4 grid and flattened, so the
#: head sees where each feature is; "both": the two concatenated (position-free and positional).
POOLINGS = ("mean", "flatten", "both")
FLATTEN_CHANNELS = 64
FLATTEN_GRID = 4


def _ramps(h: int, w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1]: (W,) x rightwards and (H,) y downwards."""
    kw = {"dtype": like.dtype, "device": like.device}
    return torch.linspace(-1.0, 1.0, w, **kw), torch.linspace(-1.0, 1.0, h, **kw)


class Encoder(nn.Module):
    """ResNet-style encoder: 3x3 stride-2 stem, one stride-2 stage per width, then pooling.

    Args:
        in_channels: proxy channels C.
        widths: channels of each stage (each stage halves the resolution).
        blocks: basic blocks per stage (same length as ``widths``).
        norm: "group" or "batch".
        groups: GroupNorm groups (reduced to a divisor of the channel count).
        coord_channels: append two channels holding each pixel's x and y in [-1, 1] to the
            input (CoordConv, Liu et al. 2018): the proxy's joint positions become directly
            readable instead of inferred from padding.
        pool: one of ``POOLINGS``.
    """

    def __init__(
        self,
        in_channels: int,
        widths: list[int],
        blocks: list[int],
        norm: str,
        groups: int,
        coord_channels: bool = False,
        pool: str = "mean",
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks) or not widths:
            raise ValueError(f"widths {widths} and blocks {blocks} must be non-empty, same length")
        if pool not in POOLINGS:
            raise ValueError(f"pool must be one of {POOLINGS}, got {pool!r}")
        self.coord_channels = bool(coord_channels)
        self.pool = pool
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels + 2 * self.coord_channels, widths[0], 3, 2, 1, bias=False),
            _norm(norm, widths[0], groups),
            nn.ReLU(inplace=True),
        )
        stages = []
        c = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks, strict=True)):
            layers = [_BasicBlock(c, w, 1 if i == 0 else 2, norm, groups)]
            layers += [_BasicBlock(w, w, 1, norm, groups) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            c = w
        self.stages = nn.Sequential(*stages)
        self.out_channels = c
        self.reduce: nn.Module = nn.Identity()
        if pool in ("flatten", "both"):
            self.reduce = nn.Sequential(
                nn.Conv2d(c, FLATTEN_CHANNELS, 1, bias=False),
                _norm(norm, FLATTEN_CHANNELS, groups),
                nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(FLATTEN_GRID),
                nn.Flatten(1),
            )
            self.out_channels = FLATTEN_CHANNELS * FLATTEN_GRID**2 + c * (pool == "both")
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, F) pooled features."""
        if self.coord_channels:
            b, _, h, w = x.shape
            xs, ys = _ramps(h, w, x)
            grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))  # (2, H, W): x, y
            x = torch.cat([x, grid.expand(b, -1, -1, -1)], dim=1)
        y = self.stages(self.stem(x))
        if self.pool == "mean":
            return y.mean(dim=(2, 3))
        if self.pool == "flatten":
            return self.reduce(y)
        return torch.cat([y.mean(dim=(2, 3)), self.reduce(y)], dim=1)


def keypoint_readout(heatmaps: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Per-channel peak and soft-argmax of heatmaps: what a joint's blob says, read directly.

    Args:
        heatmaps: (B, K, H, W) non-negative maps (Gaussian blobs of peak ~1; empty when hidden).

    Returns:
        (B, 3K) features ``[peak_k, x_k, y_k]``: the channel's maximum and its ``h^2``-weighted
        mean position in [-1, 1] (x right, y down; 0 for an empty channel).
    """
    b, k, h, w = heatmaps.shape
    m = heatmaps.clamp_min(0.0)
    peak = m.amax(dim=(2, 3))
    wgt = m.square()
    mass = wgt.sum(dim=(2, 3))
    xs, ys = _ramps(h, w, m)
    x = (wgt.sum(dim=2) * xs).sum(dim=2) / (mass + eps)
    y = (wgt.sum(dim=3) * ys).sum(dim=2) / (mass + eps)
    return torch.stack([peak, x, y], dim=2).reshape(b, 3 * k)


class IEFRegressor(nn.Module):
    """The part every regressor shares: an iterative-error-feedback head over a feature vector.

    Subclasses build their encoders, call ``_build_head`` and implement ``forward`` over the
    tensors named by ``input_keys`` (``lasor.synth.proxy.PROXY_VERSIONS``).
    """

    input_keys: tuple[str, ...] = ("proxy",)
    #: the ``lasor.synth.proxy`` input version the network reads
    proxy_version: int = 1

    def _build_head(
        self,
        num_pose_bones: int,
        num_shape: int,
        num_features: int,
        *,
        shape_init: torch.Tensor | list[float] | None,
        shape_mapping: str,
        head_hidden: int,
        ief_iters: int,
        dropout: float,
        cam_scale_init: float,
        global_orient_init: torch.Tensor | None,
    ) -> None:
        if shape_mapping not in SHAPE_MAPPINGS:
            raise ValueError(
                f"shape_mapping must be one of {SHAPE_MAPPINGS}, got {shape_mapping!r}"
            )
        if cam_scale_init <= 0:
            raise ValueError(f"cam_scale_init must be positive, got {cam_scale_init}")
        self.num_pose_bones = int(num_pose_bones)
        self.num_shape = int(num_shape)
        self.shape_mapping = shape_mapping
        self.ief_iters = int(ief_iters)
        self.cam_scale_init = float(cam_scale_init)
        self.num_features = int(num_features)
        n = self.num_params
        self.head = nn.Sequential(
            nn.Linear(self.num_features + n, head_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, head_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, n),
        )
        nn.init.xavier_uniform_(self.head[-1].weight, gain=0.01)
        nn.init.zeros_(self.head[-1].bias)
        self.register_buffer("init_params", self._initial_params(shape_init, global_orient_init))

    @property
    def num_params(self) -> int:
        """Length of the flat parameter vector the head refines."""
        return 6 + 6 * self.num_pose_bones + self.num_shape + 3

    def _initial_params(
        self, shape_init: torch.Tensor | list[float] | None, global_orient_init: torch.Tensor | None
    ) -> torch.Tensor:
        if global_orient_init is None:
            global_orient_init = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
        go = rotmat_to_rot6d(torch.as_tensor(global_orient_init, dtype=torch.float32))
        bp = rotmat_to_rot6d(torch.eye(3)).repeat(self.num_pose_bones)
        if shape_init is None:
            shape = torch.zeros(self.num_shape)
        else:
            shape = torch.as_tensor(shape_init, dtype=torch.float32).flatten().clone()
            if shape.numel() != self.num_shape:
                raise ValueError(
                    f"shape_init has {shape.numel()} values, expected {self.num_shape}"
                )
        if self.shape_mapping == "sigmoid":
            shape = torch.logit(shape.clamp(1e-3, 1 - 1e-3))
        cam = torch.zeros(3)  # log-scale residual 0 -> s = cam_scale_init; tx = ty = 0
        return torch.cat([go, bp, shape, cam])

    def decode(self, params: torch.Tensor) -> RegressorOutput:
        """Flat parameters (B, num_params) -> ``RegressorOutput``."""
        b, p, s = params.shape[0], self.num_pose_bones, self.num_shape
        go6, bp6, shape_raw, cam_raw = params.split([6, 6 * p, s, 3], dim=1)
        bp6 = bp6.reshape(b, p, 6)
        if self.shape_mapping == "sigmoid":
            shape = torch.sigmoid(shape_raw)
        else:
            shape = shape_raw
        # exp keeps the scale positive and makes the residual relative; the clamp only stops a
        # diverging head from producing inf before the loss can pull it back.
        scale = self.cam_scale_init * torch.exp(cam_raw[:, :1].clamp(-5.0, 5.0))
        cam = torch.cat([scale, cam_raw[:, 1:]], dim=1)
        return RegressorOutput(
            global_orient=rot6d_to_rotmat(go6),
            body_pose=rot6d_to_rotmat(bp6),
            shape=shape,
            cam=cam,
            global_orient_6d=go6,
            body_pose_6d=bp6,
            shape_raw=shape_raw,
        )

    def _iterate(self, feat: torch.Tensor) -> RegressorOutput:
        params = self.init_params.expand(feat.shape[0], -1)
        for _ in range(self.ief_iters):
            params = params + self.head(torch.cat([feat, params], dim=1))
        return self.decode(params)

    def run(self, inputs: dict[str, torch.Tensor]) -> RegressorOutput:
        """Forward over a dict holding (at least) the tensors named by ``input_keys``."""
        return self(*(inputs[k] for k in self.input_keys))


class Regressor(IEFRegressor):
    """Proxy -> body-model parameters and weak-perspective camera.

    Args:
        num_pose_bones: P, rotations in ``body_pose`` (``BodyModel.num_pose_bones``).
        num_shape: S (``BodyModel.num_shape``).
        shape_init: (S,) shape the head starts from (e.g. ``BodyModel.shape_default``); zeros
            if None.
        shape_mapping: one of ``SHAPE_MAPPINGS``.
        in_channels: proxy channels.
        widths, blocks, norm, groups, coord_channels, pool: encoder layout (see ``Encoder``).
        keypoint_readout: also feed the head each heatmap channel's peak and soft-argmax
            (``keypoint_readout``; channels 1.. of the proxy, channel 0 being the silhouette).
        head_hidden: width of the IEF MLP.
        ief_iters: refinement rounds.
        dropout: dropout in the IEF MLP.
        cam_scale_init: weak-perspective scale the camera head starts from (``s = init * exp(r)``).
        global_orient_init: (3, 3) starting root rotation; default 180 deg about X (an upright
            person facing an OpenCV camera).
    """

    def __init__(
        self,
        num_pose_bones: int,
        num_shape: int,
        *,
        shape_init: torch.Tensor | list[float] | None = None,
        shape_mapping: str = "sigmoid",
        in_channels: int = 18,
        widths: list[int] | tuple[int, ...] = (32, 64, 128, 256),
        blocks: list[int] | tuple[int, ...] = (1, 1, 1, 1),
        norm: str = "group",
        groups: int = 8,
        coord_channels: bool = False,
        pool: str = "mean",
        keypoint_readout: bool = False,
        head_hidden: int = 512,
        ief_iters: int = 3,
        dropout: float = 0.0,
        cam_scale_init: float = 0.9,
        global_orient_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(
            in_channels, list(widths), list(blocks), norm, groups, coord_channels, pool
        )
        self.keypoint_readout = bool(keypoint_readout)
        num_features = self.encoder.out_channels
        if self.keypoint_readout:
            num_features += 3 * (in_channels - 1)
        self._build_head(
            num_pose_bones, num_shape, num_features, shape_init=shape_init,
            shape_mapping=shape_mapping, head_hidden=head_hidden, ief_iters=ief_iters,
            dropout=dropout, cam_scale_init=cam_scale_init, global_orient_init=global_orient_init,
        )  # fmt: skip

    def forward(self, proxy: torch.Tensor) -> RegressorOutput:
        """Regress parameters from proxies.

        Args:
            proxy: (B, C, H, W) float32 proxy images.

        Returns:
            RegressorOutput with batch size B.
        """
        feat = self.encoder(proxy)
        if self.keypoint_readout:
            feat = torch.cat([feat, keypoint_readout(proxy[:, 1:])], dim=1)
        return self._iterate(feat)
