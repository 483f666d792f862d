"""LASOR's data engine: occlusion-aware synthetic proxies from a bank of posed bodies.

One call to ``make_batch`` turns bank bodies into training samples:

1. a panoramic camera (any yaw, pitch/roll, distance) and a detector-like square crop;
2. occlusion as in LASOR: (a) another person from the bank placed beside the target, in front or
   behind, resolved by a z-buffer; (b) random objects in front; (c) truncation by the crop border;
   (d) self-occlusion: joints hidden behind the body itself (depth test);
3. per-joint visibility, the occluded fraction of the body and occlusion flags;
4. front-end noise (``lasor.synth.noise``) on the observation only;
5. the network input through ``lasor.synth.proxy.model_inputs`` — the same encoder as prediction
   (``proxy_version`` 1: the heatmap proxy; 2: mask + keypoint vector + crop geometry; the v2
   tensors are returned for every batch, they cost nothing and draw no random numbers).

Cameras are unit-focal pinholes; with ``camera.offcentre`` the person is placed off the optical
axis as in a perspective photo, and ``geometry`` (the crop in unit-focal image coordinates) tells
the network where.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from lasor.render.rasterize import rasterize
from lasor.synth import noise as noise_mod
from lasor.synth.bank import BodyBank
from lasor.synth.cameras import CameraConfig, jittered_crops, project, sample_views
from lasor.synth.occluders import random_object_mask
from lasor.synth.proxy import CROP_SCALE, encode_keypoints, encode_proxy

OCC_OBJECT = 1
OCC_PERSON = 2
OCC_TRUNCATION = 4

#: standing height (metres) of the body the camera distances were chosen for
REFERENCE_HEIGHT = 1.7


@dataclass
class SynthConfig:
    """Settings of the data engine."""

    res: int = 64
    occlusion: bool = True  # master switch for (a), (b), (c) (for the ablation)
    p_person: float = 0.3
    p_object: float = 0.4
    p_truncation: float = 0.15
    max_objects: int = 2
    noise: bool = True
    vis_tolerance: float = 0.12  # metres behind the visible surface before a joint is hidden
    sigma: float | None = None  # heatmap std in pixels (default res / 32)
    proxy_version: int = 1  # 1: also build the heatmap proxy (costly); 2: only the v2 inputs
    camera: CameraConfig = field(default_factory=CameraConfig)
    noise_cfg: noise_mod.NoiseConfig = field(default_factory=noise_mod.NoiseConfig)
    #: "default" (``noise_cfg`` as given) or "mediapipe" (``NoiseConfig.mediapipe()``, measured on
    #: the real front end by ``benchmarks/noise_calibration.py``; replaces ``noise_cfg``)
    noise_preset: str = "default"
    #: share of samples corrupted with the original ``NoiseConfig()`` instead (joints dropped
    #: with confidence 0, as user keypoint files and other detectors give them)
    noise_alt_share: float = 0.0
    #: also return MediaPipe-like world landmarks (``lasor.synth.world``): ``world (B, 52)``,
    #: drawn from a stream jumped off the batch's own, so every other tensor stays identical
    world: bool = False
    world_absent: float = 0.2  # share of samples without landmarks (as user keypoint files)
    world_noise: bool = True  # corrupt them with the error measured on MediaPipe
    #: body shapes: "adult" (every benchmark since v1, the shipped model) or "all" ages
    #: (`lasor.synth.shapes`: children, teens, adults, elders in documented shares); "child",
    #: "teen", "elder": one age group alone (previews)
    ages: str = "adult"
    #: unless ``ages`` is "adult": the camera distance is multiplied by the body's standing height /
    #: ``REFERENCE_HEIGHT``, so a child fills the frame as an adult does (as photographers
    #: frame people); draws no random numbers
    distance_follows_size: bool = True

    def __post_init__(self) -> None:
        if self.noise_preset == "mediapipe":
            self.noise_cfg = noise_mod.NoiseConfig.mediapipe()
        elif self.noise_preset != "default":
            raise ValueError(
                f"noise_preset must be 'default' or 'mediapipe', got {self.noise_preset!r}"
            )
        from lasor.synth.shapes import POPULATIONS

        if self.ages not in POPULATIONS:
            raise ValueError(f"ages must be one of {POPULATIONS}, got {self.ages!r}")


def _screen(points_cam: np.ndarray, crops: np.ndarray, res: int) -> np.ndarray:
    """(B, N, 3) camera points -> (B, N, 3) crop pixels (u, v) and depth z."""
    xy, z = project(points_cam)
    uv = (xy - (crops[:, None, :2] - crops[:, None, 2:3] / 2)) * (res / crops[:, None, 2:3])
    return np.concatenate([uv, z[..., None]], axis=-1)


def make_batch(
    bank: BodyBank, batch_size: int, cfg: SynthConfig, rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """Generate one batch of synthetic samples.

    Returns:
        dict of tensors: ``proxy (B, 18, R, R)`` (``proxy_version`` 1 only), ``mask (B, 1, R,
        R)``, ``keypoints (B, 17, 3)``, ``geometry (B, 3)`` (``lasor.synth.proxy``); targets
        ``global_orient (B, 3, 3)`` (camera frame), ``body_pose (B, P, 3, 3)``, ``shape (B, S)``,
        the posed target body root-centred in the camera orientation ``target_vertices (B, V,
        3)``, ``target_keypoints (B, 17, 3)``, ``target_h36m (B, 17, 3)`` (when the bank has
        them), ``joints2d (B, 17, 2)`` (crop ndc [-1, 1]), ``joints2d_vis (B, 17)`` (1 where
        the joint lies in the crop: synthetic 2D targets are exact even when occluded),
        ``silhouette (B, R, R)`` (the target's full
        silhouette); bookkeeping ``joints_visible (B, 17)`` (not occluded by anything, incl.
        itself), ``self_occluded (B, 17)``, ``occluded_fraction (B,)``, ``occlusion (B,)`` flags.
    """
    r = cfg.res
    b = batch_size
    # the world landmarks' own stream: jumped off this batch's, which it leaves untouched
    world_rng = np.random.Generator(rng.bit_generator.jumped()) if cfg.world else None
    idx = rng.integers(0, len(bank), b)
    verts_body = bank.vertices[idx].astype(np.float32)  # (B, V, 3)
    kp_body = bank.keypoints[idx]
    views = sample_views(b, cfg.camera, rng)
    rot = views["rotation"].astype(np.float32)
    trans = np.zeros((b, 3), np.float32)
    dist = views["distance"]
    if cfg.ages != "adult" and cfg.distance_follows_size and bank.height is not None:
        dist = dist * bank.height[idx] / REFERENCE_HEIGHT
    trans[:, 2] = dist
    trans[:, :2] = views["offset"] * dist[:, None]
    verts = verts_body @ rot.transpose(0, 2, 1) + trans[:, None]
    kps = kp_body @ rot.transpose(0, 2, 1) + trans[:, None]
    xy, _ = project(verts)
    crops = jittered_crops(xy, cfg.camera, rng, CROP_SCALE)
    flags = np.zeros(b, np.int64)
    if cfg.occlusion:
        trunc = rng.random(b) < cfg.p_truncation
        # shift the crop so part of the body leaves the frame
        shift = rng.uniform(0.25, 0.5, (b, 2)) * rng.choice([-1, 1], (b, 2))
        shift *= rng.random((b, 2)) < 0.6
        crops[trunc, :2] += shift[trunc] * crops[trunc, 2:3]
    faces = bank.faces
    scr = _screen(verts, crops, r)
    kp_scr = _screen(kps, crops, r)
    full = rasterize(scr, faces, r, perspective=True)
    sil_full = full.silhouette.numpy()
    visible = sil_full.copy()
    zbuf = full.depth.numpy().copy()
    occluder_id = np.zeros((b, r, r), np.int8)  # 0 none, 1 person in front, 2 object

    if cfg.occlusion:
        persons = np.flatnonzero(rng.random(b) < cfg.p_person)
        if len(persons):
            _add_people(bank, persons, verts, rot, trans, crops, cfg, rng, zbuf, occluder_id, r)
            flags[persons] |= OCC_PERSON
        for i in range(b):
            if rng.random() < cfg.p_object:
                k = int(rng.integers(1, cfg.max_objects + 1))
                for _ in range(k):
                    centre = kp_scr[i, rng.integers(17), :2]
                    occluder_id[i][random_object_mask(r, centre, rng)] = 2
                flags[i] |= OCC_OBJECT
    visible &= occluder_id == 0
    n_full = sil_full.reshape(b, -1).sum(1)
    # truncation: the fraction of the body outside the crop counts as occluded
    inside = _inside(scr[..., :2], r)
    trunc_frac = 1.0 - inside.mean(axis=1)
    flags[trunc_frac > 0.02] |= OCC_TRUNCATION
    occ_in_crop = 1.0 - visible.reshape(b, -1).sum(1) / np.maximum(n_full, 1)
    occluded_fraction = np.clip(1.0 - (1.0 - occ_in_crop) * (1.0 - trunc_frac), 0.0, 1.0)

    # joint visibility: in the crop, not under an occluder, not behind the body itself
    in_crop = _inside(kp_scr[..., :2], r)
    col = np.clip(np.floor(kp_scr[..., 0]).astype(int), 0, r - 1)
    row = np.clip(np.floor(kp_scr[..., 1]).astype(int), 0, r - 1)
    bi = np.arange(b)[:, None]
    under_occluder = occluder_id[bi, row, col] > 0
    z_self = full.depth.numpy()[bi, row, col]
    self_occ = in_crop & (kp_scr[..., 2] > z_self + cfg.vis_tolerance)
    joints_visible = in_crop & ~under_occluder & ~self_occ

    obs_sil = np.empty((b, r, r), np.float32)
    obs_j = np.empty((b, 17, 2), np.float32)
    obs_c = np.empty((b, 17), np.float32)
    for i in range(b):
        conf = (in_crop[i] & ~under_occluder[i]).astype(np.float32)
        j = kp_scr[i, :, :2].astype(np.float32)
        s = visible[i]
        if cfg.noise:
            ncfg = cfg.noise_cfg
            if cfg.noise_alt_share > 0 and rng.random() < cfg.noise_alt_share:
                ncfg = noise_mod.NoiseConfig()
            j, conf = noise_mod.corrupt_joints(j, conf, self_occ[i], r, ncfg, rng)
            s = noise_mod.corrupt_silhouette(s, kp_scr[i, :, :2], r, ncfg, rng)
        obs_sil[i], obs_j[i], obs_c[i] = s, j, conf
    go_cam = rot @ bank.global_orient[idx]
    out = {}
    if bank.root is not None:  # the target body, root-centred, camera-frame orientation
        root = bank.root[idx][:, None]
        rt = rot.transpose(0, 2, 1)
        out["target_vertices"] = torch.from_numpy(((verts_body - root) @ rt).astype(np.float32))
        out["target_keypoints"] = torch.from_numpy(((kp_body - root) @ rt).astype(np.float32))
        out["target_h36m"] = torch.from_numpy(
            ((bank.joints_h36m[idx] - root) @ rt).astype(np.float32)
        )
    if cfg.proxy_version == 1:
        out["proxy"] = encode_proxy(obs_sil, obs_j, obs_c, sigma=cfg.sigma)
    if world_rng is not None:
        from lasor.synth.world import WorldNoise, encode_world, synthetic_world

        noise = WorldNoise.measured() if cfg.world_noise else None
        world, present = synthetic_world(
            kps, crops[:, :2], obs_c, world_rng, noise, p_absent=cfg.world_absent
        )
        out["world"] = encode_world(world, present)
    return {
        **out,
        "mask": torch.from_numpy(obs_sil)[:, None],
        "keypoints": encode_keypoints(obs_j, obs_c, r),
        "geometry": torch.from_numpy(crops.astype(np.float32)),
        "global_orient": torch.from_numpy(go_cam.astype(np.float32)),
        "body_pose": torch.from_numpy(bank.body_pose[idx]),
        "shape": torch.from_numpy(bank.shape[idx]),
        "joints2d": torch.from_numpy((kp_scr[..., :2] / r * 2 - 1).astype(np.float32)),
        "joints2d_vis": torch.from_numpy(in_crop.astype(np.float32)),
        "silhouette": torch.from_numpy(sil_full.astype(np.float32)),
        "joints_visible": torch.from_numpy(joints_visible),
        "self_occluded": torch.from_numpy(self_occ),
        "occluded_fraction": torch.from_numpy(occluded_fraction.astype(np.float32)),
        "occlusion": torch.from_numpy(flags),
    }


def sparse_targets(
    batch: dict[str, torch.Tensor], vertex_index: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The batch with its posed target body cut to a vertex subset (a new dict; no re-posing).

    For a sparse training body (``lasor.body.sparse``): ``target_vertices (B, V, 3)`` becomes
    ``(B, N, 3)``, the vertices at ``vertex_index``; the target joints and keypoints, which the
    bank posed with the full mesh, stay as they are. A batch without ``target_vertices`` is
    returned as is.

    Args:
        batch: a ``make_batch`` output.
        vertex_index: (N,) int64 indices into the bank's mesh.
    """
    if "target_vertices" not in batch:
        return dict(batch)
    return {**batch, "target_vertices": batch["target_vertices"][:, vertex_index].contiguous()}


def _inside(uv: np.ndarray, r: int) -> np.ndarray:
    return (uv[..., 0] >= 0) & (uv[..., 0] < r) & (uv[..., 1] >= 0) & (uv[..., 1] < r)


def _add_people(bank, persons, verts, rot, trans, crops, cfg, rng, zbuf, occluder_id, r) -> None:
    """Place another bank body beside each selected target; mark where it is in front."""
    n = len(persons)
    other = bank.vertices[rng.integers(0, len(bank), n)].astype(np.float32)
    yaw = rng.uniform(-np.pi, np.pi, n)
    c, s = np.cos(yaw), np.sin(yaw)
    ry = np.zeros((n, 3, 3), np.float32)
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = c, s, 1, -s, c
    # offset in the camera frame: sideways so the bodies overlap in the image, in front or behind
    lateral = rng.uniform(0.1, 0.6, n) * rng.choice([-1, 1], n)
    depth = rng.uniform(-1.2, 1.5, n)
    depth = np.where(np.abs(depth) < 0.4, np.sign(depth + 1e-6) * 0.4, depth)
    offset = np.stack([lateral, rng.normal(0, 0.1, n), depth], axis=1).astype(np.float32)
    cam = other @ (rot[persons] @ ry).transpose(0, 2, 1) + (trans[persons] + offset)[:, None]
    cam[..., 2] = np.maximum(cam[..., 2], 0.3)  # keep the occluder in front of the camera
    scr = _screen(cam, crops[persons], r)
    frag = rasterize(scr, bank.faces, r, perspective=True)
    d = frag.depth.numpy()
    front = d < zbuf[persons]
    for k, i in enumerate(persons):
        occluder_id[i][front[k]] = 1
        zbuf[i] = np.minimum(zbuf[i], d[k])
