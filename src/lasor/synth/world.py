"""Synthetic MediaPipe world landmarks, their error model, and their network encoding.

MediaPipe Pose gives, with its 2D landmarks, 33 *world landmarks*: a metric 3D skeleton with its
origin between the hips, in axes like the image (x right, y down, z away from the camera).
lasor's regressor reads the 17 of them that are COCO keypoints (``MEDIAPIPE_TO_COCO17``: nose,
eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; lasor's bodies define exactly these
17 points, so synthetic landmarks are the target body's COCO keypoints). The other 16 (inner and
outer eye corners, mouth, fingers, heels, toes) stay in the observation but are not read.

Synthesis (`synthetic_world`): the target's keypoints in the camera frame, turned into the frame
of a camera looking at the crop's centre (MediaPipe sees only the crop), centred between the
hips, then corrupted by `WorldNoise` — a global scale, a global rotation and a per-joint
residual, all measured on MediaPipe against real Human3.6M ground truth
(``benchmarks/world_noise.py``, ``benchmarks/results/world_noise.md``) — and dropped for a share
of samples (user keypoint files have no landmarks). Prediction reads the real ones through the
same `encode_world`.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

__all__ = [
    "LIMB12_COCO",
    "LIMB12_H36M",
    "WORLD_FEATURES",
    "WorldNoise",
    "encode_world",
    "look_at_rotation",
    "synthetic_world",
    "world_from_observation",
    "world_weights",
]

#: COCO-17 indices of shoulders, elbows, wrists, hips, knees, ankles (left, right alternating).
LIMB12_COCO: list[int] = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
#: The same joints in the Human3.6M-17 order (`lasor.body.joints.H36M_JOINTS`).
LIMB12_H36M: list[int] = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
_HIPS = (11, 12)
#: Width of `encode_world`'s output: 17 x (x, y, z) + a present flag.
WORLD_FEATURES = 17 * 3 + 1


def look_at_rotation(centre: np.ndarray) -> np.ndarray:
    """Rotations taking the ray through each crop centre to the optical axis.

    Args:
        centre: (B, 2) crop centres in unit-focal image coordinates (x / z, y / z).

    Returns:
        (B, 3, 3) float64 R with R @ normalize((cx, cy, 1)) = (0, 0, 1): the smallest rotation
        (about an axis in the image plane), as a camera turned to look at the crop would see.
    """
    c = np.asarray(centre, np.float64)
    d = np.concatenate([c, np.ones((len(c), 1))], axis=1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(d, z)  # (B, 3)
    s = np.linalg.norm(axis, axis=1)
    cos = d[:, 2]
    out = np.tile(np.eye(3), (len(c), 1, 1))
    ok = s > 1e-12
    k = np.zeros_like(axis)
    k[ok] = axis[ok] / s[ok, None]
    kx = np.zeros((len(c), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(0, 2, 1)
    out = out + s[:, None, None] * kx + (1 - cos)[:, None, None] * (kx @ kx)
    return out


@dataclass
class WorldNoise:
    """MediaPipe's world-landmark error: scale x rotation x (truth + per-joint residual).

    Attributes:
        log_scale_mean, log_scale_std: log of MediaPipe's skeleton size over the truth's.
        rot_mean, rot_std: (3,) rotation vector (radians, camera axes) MediaPipe adds.
        residual_std_visible, residual_std_hidden: (12, 3) per limb-12 joint and axis (metres)
            after similarity alignment, for landmarks of visibility >= 0.5 and below.
        face_std: (3,) residual std used for the 5 face keypoints (not measured: no ground
            truth there; the shoulders' visible std).
    """

    log_scale_mean: float
    log_scale_std: float
    rot_mean: np.ndarray
    rot_std: np.ndarray
    residual_std_visible: np.ndarray
    residual_std_hidden: np.ndarray
    face_std: np.ndarray

    @classmethod
    def fit(
        cls,
        log_scale: np.ndarray,
        rotvec: np.ndarray,
        residual: np.ndarray,
        visibility: np.ndarray,
    ) -> WorldNoise:
        """Fit from per-frame measurements: (F,), (F, 3), (F, 12, 3) metres, (F, 12)."""
        res = np.asarray(residual, np.float64)
        vis = np.asarray(visibility) >= 0.5
        std_v = np.zeros((12, 3))
        std_h = np.zeros((12, 3))
        for j in range(12):
            v = res[vis[:, j], j]
            h = res[~vis[:, j], j]
            std_v[j] = np.sqrt((v**2).mean(0)) if len(v) >= 5 else np.sqrt((res[:, j] ** 2).mean(0))
            # too few hidden samples: a visible joint's spread, doubled
            std_h[j] = np.sqrt((h**2).mean(0)) if len(h) >= 10 else 2.0 * std_v[j]
            std_h[j] = np.maximum(std_h[j], std_v[j])
        return cls(
            log_scale_mean=float(np.mean(log_scale)),
            log_scale_std=float(np.std(log_scale)),
            rot_mean=np.mean(rotvec, axis=0),
            rot_std=np.std(rotvec, axis=0),
            residual_std_visible=std_v,
            residual_std_hidden=std_h,
            face_std=std_v[:2].mean(0),
        )

    def to_dict(self) -> dict:
        return {
            "log_scale_mean": self.log_scale_mean,
            "log_scale_std": self.log_scale_std,
            "rot_mean": [float(x) for x in self.rot_mean],
            "rot_std": [float(x) for x in self.rot_std],
            "residual_std_visible": np.asarray(self.residual_std_visible).round(5).tolist(),
            "residual_std_hidden": np.asarray(self.residual_std_hidden).round(5).tolist(),
            "face_std": [float(x) for x in self.face_std],
        }

    @classmethod
    def from_dict(cls, d: dict) -> WorldNoise:
        return cls(
            log_scale_mean=float(d["log_scale_mean"]),
            log_scale_std=float(d["log_scale_std"]),
            rot_mean=np.asarray(d["rot_mean"], np.float64),
            rot_std=np.asarray(d["rot_std"], np.float64),
            residual_std_visible=np.asarray(d["residual_std_visible"], np.float64),
            residual_std_hidden=np.asarray(d["residual_std_hidden"], np.float64),
            face_std=np.asarray(d["face_std"], np.float64),
        )

    @classmethod
    def measured(cls) -> WorldNoise:
        """The model measured on MediaPipe 0.10.14 (``benchmarks/world_noise.py``), shipped in
        ``lasor/synth/data/world_noise.json`` (read once per process: the engine asks per batch)."""
        return _measured_noise()

    def sample_rotvec(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.rot_mean + rng.normal(size=(n, 3)) * self.rot_std

    def _std17(self, visibility: np.ndarray) -> np.ndarray:
        """(B, 17) visibility -> (B, 17, 3) residual std in COCO-17 order."""
        b = visibility.shape[0]
        std = np.tile(self.face_std, (b, 17, 1))
        vis = visibility[:, LIMB12_COCO] >= 0.5
        std[:, LIMB12_COCO] = np.where(
            vis[..., None], self.residual_std_visible, self.residual_std_hidden
        )
        return std

    def _corrupt(self, x: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from scipy.spatial.transform import Rotation

        b = x.shape[0]
        noisy = x + rng.normal(size=x.shape) * std
        rot = Rotation.from_rotvec(self.sample_rotvec(b, rng)).as_matrix()
        scale = np.exp(self.log_scale_mean + self.log_scale_std * rng.normal(size=b))
        return scale[:, None, None] * np.einsum("bij,bnj->bni", rot, noisy)

    def apply(self, world: np.ndarray, visibility: np.ndarray, rng: np.random.Generator):
        """Corrupt exact landmarks: (B, 17, 3) metres + (B, 17) visibility -> (B, 17, 3),
        re-centred between the hips as MediaPipe's are."""
        x = np.asarray(world, np.float64)
        out = self._corrupt(x, self._std17(np.asarray(visibility)), rng)
        return out - out[:, list(_HIPS)].mean(1, keepdims=True)

    def apply_limb12(self, joints: np.ndarray, visibility: np.ndarray, rng: np.random.Generator):
        """The same error on limb-12 joints only: (F, 12, 3) + (F, 12) -> (F, 12, 3)."""
        x = np.asarray(joints, np.float64)
        vis = np.asarray(visibility) >= 0.5
        std = np.where(vis[..., None], self.residual_std_visible, self.residual_std_hidden)
        return self._corrupt(x, std, rng)


@lru_cache(maxsize=1)
def _measured_noise() -> WorldNoise:
    path = importlib.resources.files("lasor.synth") / "data" / "world_noise.json"
    return WorldNoise.from_dict(json.loads(path.read_text())["model"])


def synthetic_world(
    keypoints_cam: np.ndarray,
    crop_centre: np.ndarray,
    visibility: np.ndarray,
    rng: np.random.Generator,
    noise: WorldNoise | None,
    p_absent: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe-like world landmarks of synthetic bodies.

    Args:
        keypoints_cam: (B, 17, 3) the target's COCO-17 keypoints in the camera frame (any
            origin; metres).
        crop_centre: (B, 2) the crop centre in unit-focal image coordinates.
        visibility: (B, 17) the observation's keypoint confidence (MediaPipe's visibility).
        rng: the engine's generator.
        noise: the error model (None: exact landmarks).
        p_absent: share of samples without landmarks (as from user keypoint files).

    Returns:
        world (B, 17, 3) float32 (zeros where absent) and present (B,) float32 in {0, 1}.
    """
    b = keypoints_cam.shape[0]
    r = look_at_rotation(crop_centre)
    x = np.einsum("bij,bnj->bni", r, np.asarray(keypoints_cam, np.float64))
    x = x - x[:, list(_HIPS)].mean(1, keepdims=True)
    if noise is not None:
        x = noise.apply(x, visibility, rng)
    present = (rng.random(b) >= p_absent).astype(np.float32)
    return (x * present[:, None, None]).astype(np.float32), present


def encode_world(world: np.ndarray | torch.Tensor, present: np.ndarray | torch.Tensor):
    """Network input of the world landmarks: (B, 17, 3) metres + (B,) flag -> (B, 52) float32
    (zeros and flag 0 where absent)."""
    w = torch.as_tensor(np.asarray(world, np.float32) if not torch.is_tensor(world) else world)
    p = torch.as_tensor(
        np.asarray(present, np.float32) if not torch.is_tensor(present) else present
    ).float()
    w = w.float() * p[:, None, None]
    return torch.cat([w.flatten(1), p[:, None]], dim=1)


def world_from_observation(obs) -> tuple[np.ndarray, float]:
    """A `PersonObservation`'s world landmarks in the network's 17-keypoint order.

    Returns:
        (17, 3) float32 (zeros without landmarks) and the present flag (1.0 or 0.0).
    """
    from lasor.frontend.mediapipe_pose import MEDIAPIPE_TO_COCO17

    world = getattr(obs, "world_landmarks", None)
    if world is None:
        return np.zeros((17, 3), np.float32), 0.0
    w = np.asarray(world, np.float32)[MEDIAPIPE_TO_COCO17]
    return w - w[list(_HIPS)].mean(0, keepdims=True), 1.0


def world_weights(observations: list) -> tuple[np.ndarray, np.ndarray]:
    """The world landmarks of several observations and their weights for `lasor.fit`.

    Returns:
        world (N, 17, 3) float32 (COCO-17 order, hip-centred) and weights (N, 17) float32:
        MediaPipe's visibility where landmarks came with the observation, else 0.
    """
    from lasor.frontend.mediapipe_pose import MEDIAPIPE_TO_COCO17

    world = np.zeros((len(observations), 17, 3), np.float32)
    weight = np.zeros((len(observations), 17), np.float32)
    for i, obs in enumerate(observations):
        w, present = world_from_observation(obs)
        world[i] = w
        if present:
            weight[i] = np.asarray(obs.landmark_visibility, np.float32)[MEDIAPIPE_TO_COCO17]
    return world, weight


def decode_world(encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of `encode_world`: (B, 52) -> world (B, 17, 3) and present (B,)."""
    return encoded[:, :51].reshape(-1, 17, 3), encoded[:, 51]
