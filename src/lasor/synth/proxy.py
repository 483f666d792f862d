"""THE proxy encoder: (silhouette, 2D joints, confidences) -> network input.

Training (synthetic bodies) and prediction (real photos) both go through this module:
``person_box`` chooses the square crop around a person, ``crop_observation`` maps a
full-image observation into that crop, and ``encode_proxy`` turns a crop-sized silhouette and
joints into the network input. A mismatch between the two paths silently ruins real-photo
results, so nothing else may build network inputs; ``model_inputs`` is the one entry point.

Two input versions exist, recorded in every checkpoint (``ModelConfig.arch``):

* **v1** (the CNN, ``arch="cnn"``): ``proxy (B, 18, R, R)``, the silhouette and 17 Gaussian joint
  heatmaps (``encode_proxy``).
* **v2** (the hybrid, ``arch="hybrid"``): ``mask (B, 1, R, R)``, the observed silhouette;
  ``keypoints (B, 17, 3)``,
  the exact sub-pixel joints in crop NDC ([-1, 1], x right, y down) with their confidence (an
  absent joint is ``(0, 0, 0)``), never re-read from heatmaps; and ``geometry (B, 3)``, where the
  crop sits in the full image (CLIFF, Li et al. ECCV 2022): ``((cx - px) / f, (cy - py) / f,
  side / f)`` for a crop centred at (cx, cy) of side ``side`` pixels in an image with principal
  point (px, py) and focal length ``f`` pixels (``crop_geometry``). Synthetic data use unit focal
  length and the principal point at 0, so there the geometry is the crop itself.

Pixel convention: pixel (row i, column j) covers [j, j+1) x [i, i+1); its centre is
(j + 0.5, i + 0.5). Joint coordinates are (x, y) in those units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NUM_JOINTS = 17
NUM_CHANNELS = 1 + NUM_JOINTS
#: network-input versions and the tensors each consists of
PROXY_VERSIONS = {1: ("proxy",), 2: ("mask", "keypoints", "geometry")}
#: a square crop is this many times the person's bounding-box side.
CROP_SCALE = 1.2


@dataclass(frozen=True)
class CropBox:
    """A square crop: centre (cx, cy) and side ``size``, in source-image pixels."""

    cx: float
    cy: float
    size: float

    @property
    def x0(self) -> float:
        return self.cx - self.size / 2

    @property
    def y0(self) -> float:
        return self.cy - self.size / 2

    def to_crop(self, points: np.ndarray, res: int) -> np.ndarray:
        """Map (..., 2) source pixels to crop pixels of a ``res`` x ``res`` proxy."""
        s = res / self.size
        return (np.asarray(points, dtype=np.float64) - [self.x0, self.y0]) * s

    def from_crop(self, points: np.ndarray, res: int) -> np.ndarray:
        """Map (..., 2) crop pixels back to source-image pixels."""
        s = self.size / res
        return np.asarray(points, dtype=np.float64) * s + [self.x0, self.y0]

    def as_array(self) -> np.ndarray:
        """(4,) x0, y0, x1, y1 in source pixels."""
        return np.array([self.x0, self.y0, self.x0 + self.size, self.y0 + self.size], np.float32)


def person_box(
    mask: np.ndarray | None,
    keypoints: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    scale: float = CROP_SCALE,
    min_confidence: float = 0.3,
) -> CropBox:
    """Square crop around a person from a mask and/or confident keypoints.

    Args:
        mask: (H, W) bool person mask, or None.
        keypoints: (17, 2) pixels, or None.
        confidence: (17,) in [0, 1]; keypoints below ``min_confidence`` are ignored.
        scale: crop side / bounding-box side.

    Returns:
        The crop box. Raises ValueError when neither input gives any point.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    if mask is not None and mask.any():
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        xs.append(np.array([cols[0], cols[-1] + 1.0]))
        ys.append(np.array([rows[0], rows[-1] + 1.0]))
    if keypoints is not None:
        kp = np.asarray(keypoints, dtype=np.float64)
        ok = np.ones(len(kp), bool) if confidence is None else confidence >= min_confidence
        if ok.any():
            xs.append(kp[ok, 0])
            ys.append(kp[ok, 1])
    if not xs:
        raise ValueError("person_box needs a non-empty mask or at least one confident keypoint")
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    side = max(x1 - x0, y1 - y0, 1.0) * scale
    return CropBox(cx=float((x0 + x1) / 2), cy=float((y0 + y1) / 2), size=float(side))


def crop_mask(mask: np.ndarray, box: CropBox, res: int) -> np.ndarray:
    """Resample a full-image bool mask into the ``res`` x ``res`` crop (area average > 0.5).

    Pixels of the crop outside the source image are empty.
    """
    h, w = mask.shape
    ss = 4  # supersampling per crop pixel
    n = res * ss
    centres = (np.arange(n) + 0.5) / n * box.size
    xs = np.floor(box.x0 + centres).astype(np.int64)
    ys = np.floor(box.y0 + centres).astype(np.int64)
    vx = (xs >= 0) & (xs < w)
    vy = (ys >= 0) & (ys < h)
    sub = np.zeros((n, n), dtype=np.float32)
    sub[np.ix_(vy, vx)] = mask[np.ix_(ys[vy], xs[vx])]
    return sub.reshape(res, ss, res, ss).mean(axis=(1, 3)) > 0.5


def crop_observation(
    mask: np.ndarray | None,
    keypoints: np.ndarray,
    confidence: np.ndarray,
    box: CropBox,
    res: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map a full-image observation into a crop.

    Args:
        mask: (H, W) bool or None (then the silhouette channel is empty).
        keypoints: (17, 2) source pixels.
        confidence: (17,).
        box: the crop.
        res: proxy resolution.

    Returns:
        silhouette (res, res) float32, joints (17, 2) crop pixels, confidence (17,) float32.
    """
    sil = np.zeros((res, res), np.float32) if mask is None else crop_mask(mask, box, res)
    return (
        sil.astype(np.float32),
        box.to_crop(keypoints, res).astype(np.float32),
        np.asarray(confidence, dtype=np.float32),
    )


def encode_proxy(
    silhouette: torch.Tensor | np.ndarray,
    joints: torch.Tensor | np.ndarray,
    confidence: torch.Tensor | np.ndarray,
    sigma: float | None = None,
) -> torch.Tensor:
    """Encode silhouettes and 2D joints as the network input.

    Args:
        silhouette: (B, R, R) in [0, 1] (or (R, R) for one sample).
        joints: (B, 17, 2) crop pixels (x, y).
        confidence: (B, 17) in [0, 1]; 0 means the joint is absent (no heatmap).
        sigma: Gaussian std in pixels; default ``R / 32`` (2 px at 64 px).

    Returns:
        (B, 18, R, R) float32: channel 0 the silhouette, 1..17 the COCO-17 heatmaps, each a
        Gaussian of peak ``confidence`` (joints outside the crop give a clipped or empty map).
    """
    sil = torch.as_tensor(np.asarray(silhouette) if not torch.is_tensor(silhouette) else silhouette)
    j = torch.as_tensor(np.asarray(joints) if not torch.is_tensor(joints) else joints)
    c = torch.as_tensor(np.asarray(confidence) if not torch.is_tensor(confidence) else confidence)
    single = sil.dim() == 2
    if single:
        sil, j, c = sil[None], j[None], c[None]
    sil = sil.float()
    j = j.float()
    c = c.float()
    b, r, r2 = sil.shape
    if r != r2 or j.shape != (b, NUM_JOINTS, 2) or c.shape != (b, NUM_JOINTS):
        raise ValueError(
            f"encode_proxy: expected silhouette (B,R,R), joints (B,17,2), confidence (B,17); got "
            f"{tuple(sil.shape)}, {tuple(j.shape)}, {tuple(c.shape)}"
        )
    sigma = r / 32.0 if sigma is None else float(sigma)
    grid = torch.arange(r, dtype=torch.float32) + 0.5
    gx = torch.exp(-((grid[None, None, :] - j[..., 0:1]) ** 2) / (2 * sigma**2))  # (B,17,R)
    gy = torch.exp(-((grid[None, None, :] - j[..., 1:2]) ** 2) / (2 * sigma**2))
    heat = gy[..., :, None] * gx[..., None, :] * c[..., None, None]
    out = torch.cat([sil[:, None], heat], dim=1)
    return out[0] if single else out


def decode_heatmaps(proxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert the joint channels: argmax location (pixel centre) and peak value.

    Args:
        proxy: (B, 18, R, R).

    Returns:
        joints (B, 17, 2) crop pixels and peak (B, 17).
    """
    heat = proxy[:, 1:]
    b, k, r, _ = heat.shape
    flat = heat.reshape(b, k, -1)
    peak, idx = flat.max(dim=-1)
    y = (idx // r).float() + 0.5
    x = (idx % r).float() + 0.5
    return torch.stack([x, y], dim=-1), peak


def crop_geometry(
    box: CropBox,
    image_hw: tuple[int, int],
    focal: float,
    principal: tuple[float, float] | None = None,
) -> np.ndarray:
    """Where a crop sits in its photo, in units of the focal length (CLIFF's box information).

    Args:
        box: the crop, in image pixels.
        image_hw: (H, W) of the photo.
        focal: focal length in pixels.
        principal: (px, py) in pixels; default the image centre.

    Returns:
        (3,) float32 ``((cx - px) / f, (cy - py) / f, side / f)``.
    """
    h, w = image_hw
    px, py = (w / 2.0, h / 2.0) if principal is None else principal
    f = float(focal)
    if f <= 0:
        raise ValueError(f"crop_geometry: focal length must be positive, got {focal}")
    return np.array([(box.cx - px) / f, (box.cy - py) / f, box.size / f], np.float32)


def encode_keypoints(
    joints: torch.Tensor | np.ndarray, confidence: torch.Tensor | np.ndarray, res: int
) -> torch.Tensor:
    """2D joints as a vector: crop NDC + confidence.

    Args:
        joints: (B, 17, 2) crop pixels (x, y) of a ``res`` x ``res`` crop.
        confidence: (B, 17) in [0, 1]; 0 = absent.

    Returns:
        (B, 17, 3) float32 ``(x_ndc, y_ndc, confidence)``; absent joints are all zero.
    """
    j = torch.as_tensor(np.asarray(joints) if not torch.is_tensor(joints) else joints).float()
    c = torch.as_tensor(
        np.asarray(confidence) if not torch.is_tensor(confidence) else confidence
    ).float()
    if j.dim() != 3 or j.shape[1:] != (NUM_JOINTS, 2) or c.shape != j.shape[:2]:
        raise ValueError(
            f"encode_keypoints: expected joints (B,17,2) and confidence (B,17); got "
            f"{tuple(j.shape)}, {tuple(c.shape)}"
        )
    ndc = j * (2.0 / res) - 1.0
    present = (c > 0)[..., None]
    return torch.cat([torch.where(present, ndc, torch.zeros_like(ndc)), c[..., None]], dim=-1)


def model_inputs(
    version: int,
    silhouette: torch.Tensor | np.ndarray,
    joints: torch.Tensor | np.ndarray,
    confidence: torch.Tensor | np.ndarray,
    geometry: torch.Tensor | np.ndarray | None = None,
    sigma: float | None = None,
    world: np.ndarray | None = None,
    world_present: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """THE network input, for training and prediction alike.

    Args:
        version: 1 (heatmap proxy) or 2 (silhouette + keypoint vector + crop geometry).
        silhouette: (B, R, R) in [0, 1].
        joints: (B, 17, 2) crop pixels.
        confidence: (B, 17).
        geometry: (B, 3) ``crop_geometry`` rows (version 2 only).
        sigma: heatmap std (version 1 only).
        world: (B, 17, 3) MediaPipe world landmarks in COCO-17 order, hip-centred metres
            (``lasor.synth.world``; version 2 only), with ``world_present`` (B,) flags; the
            dict then also holds ``world`` (B, 52), read by models with the world branch.

    Returns:
        dict of the tensors ``PROXY_VERSIONS[version]`` names (+ ``world`` when given).
    """
    if version == 1:
        return {"proxy": encode_proxy(silhouette, joints, confidence, sigma=sigma)}
    if version != 2:
        raise ValueError(f"unknown proxy version {version!r}; known: {sorted(PROXY_VERSIONS)}")
    sil = torch.as_tensor(
        np.asarray(silhouette) if not torch.is_tensor(silhouette) else silhouette
    ).float()
    if sil.dim() != 3 or sil.shape[1] != sil.shape[2]:
        raise ValueError(f"model_inputs: expected silhouette (B,R,R), got {tuple(sil.shape)}")
    if geometry is None:
        raise ValueError("model_inputs: proxy version 2 needs the crop geometry")
    geo = torch.as_tensor(np.asarray(geometry) if not torch.is_tensor(geometry) else geometry)
    geo = geo.float().reshape(len(sil), 3)
    out = {
        "mask": sil[:, None],
        "keypoints": encode_keypoints(joints, confidence, sil.shape[-1]),
        "geometry": geo,
    }
    if world is not None:
        from lasor.synth.world import encode_world

        present = np.ones(len(sil), np.float32) if world_present is None else world_present
        out["world"] = encode_world(world, present)
    return out
