"""A bank of pre-posed bodies: mocap poses x random shapes, posed once, viewed many times.

Posing a body is the expensive part of making a sample (~0.8 ms per body on one core for the
1,229-vertex topology); rendering it under a fresh camera with fresh occluders is cheap. So the
data engine poses ``size`` bodies up front and draws every sample's target and occluding people
from this bank, with new cameras, crops and occluders each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from lasor.body.base import BodyModel, mirror_pose
from lasor.synth.shapes import sample_shapes

logger = logging.getLogger(__name__)


@dataclass
class BodyBank:
    """Posed bodies in the body frame (Y up, facing +Z, pelvis at the origin).

    Attributes:
        vertices: (N, V, 3) float16 metres.
        keypoints: (N, 17, 3) float32 COCO-17 keypoints.
        global_orient: (N, 3, 3) float32 root rotation (body frame).
        body_pose: (N, P, 3, 3) float32.
        shape: (N, S) float32.
        faces: (F, 3) int64.
        joints_h36m: (N, 17, 3) float32 evaluation joints, and...
        root: (N, 3) float32 the root joint: with ``vertices`` and ``keypoints`` the training
            targets, so a step need not pose the target body again (None in older banks).
        height: (N,) float32 standing height (metres, rest pose) of each body; set for the
            all-ages population (None otherwise), where cameras follow the body's size.
    """

    vertices: np.ndarray
    keypoints: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    shape: np.ndarray
    faces: np.ndarray
    joints_h36m: np.ndarray | None = None
    root: np.ndarray | None = None
    height: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.vertices)


def pose_source(
    split: str,
    pose_bank_path=None,
    anchor_share: float = 0.0,
    anchors_path=None,
    straight_share: float = 0.0,
):
    """Return ``draw(n, rng) -> (global_orient (n,3,3), body_pose (n,P,3,3))`` for a split.

    Uses the mocap pose bank when one exists (``lasor synth poses``), else the documented
    fallback sampler with anatomical joint limits. With ``anchor_share > 0`` that share of
    every draw comes from the pose anchors (:func:`lasor.synth.anchors.anchor_source`, file
    ``anchors_path`` or the default one from ``lasor synth poses --anchors``). With
    ``straight_share > 0`` that share of every (final) draw gets the legs and root of one of
    the bank's straight-legged frames (:func:`lasor.synth.standing.straight_source`).
    """
    from lasor.synth import poses

    if straight_share > 0:
        from lasor.synth.standing import straight_source

        base = pose_source(split, pose_bank_path, anchor_share, anchors_path)
        # the legs come from the whole mocap library (the default bank: its walking trials),
        # else from the bank in use
        legs_path = poses.default_pose_bank_path()
        if not legs_path.is_file():
            legs_path = pose_bank_path or legs_path
        bank = poses.load_pose_bank(legs_path)
        idx = np.flatnonzero(np.asarray(bank.split) == split)
        legs = (np.asarray(bank.global_orient)[idx], np.asarray(bank.body_pose)[idx])
        return straight_source(base, legs, straight_share)
    if anchor_share > 0:
        from lasor.synth.anchors import anchor_source

        base = pose_source(split, pose_bank_path)
        return anchor_source(split, base, share=anchor_share, anchors=anchors_path)

    path = pose_bank_path or poses.default_pose_bank_path()
    try:
        bank = poses.load_pose_bank(path)
    except FileNotFoundError:
        logger.warning("No pose bank at %s: using the fallback pose sampler", path)
        bank = None
    if bank is not None:
        idx = np.flatnonzero(np.asarray(bank.split) == split)
        if len(idx) == 0:
            raise ValueError(f"pose bank {path} has no {split!r} poses")
        go = np.asarray(bank.global_orient)[idx]
        bp = np.asarray(bank.body_pose)[idx]

        def draw(n: int, rng: np.random.Generator):
            k = rng.integers(0, len(idx), n)
            return go[k], bp[k]

        return draw

    def draw_fallback(n: int, rng: np.random.Generator):
        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        go, bp = poses.sample_fallback_poses(n, g)
        return go.numpy(), bp.numpy()

    return draw_fallback


def build_body_bank(
    body: BodyModel,
    size: int,
    draw_poses,
    rng: np.random.Generator,
    mirror_prob: float = 0.5,
    chunk: int = 256,
    population: str = "adult",
) -> BodyBank:
    """Pose ``size`` bodies.

    Args:
        body: the body model (the decimated Anny topology for training).
        size: number of bodies.
        draw_poses: ``draw(n, rng) -> (global_orient, body_pose)`` numpy arrays (body frame).
        rng: randomness for poses, mirroring and shapes.
        mirror_prob: probability that a pose is mirrored left/right.
        population: body shapes, "adult" or "all" ages (`lasor.synth.shapes.sample_shapes`).

    Returns:
        The bank.
    """
    go, bp = draw_poses(size, rng)
    go = torch.as_tensor(np.asarray(go), dtype=torch.float32)
    bp = torch.as_tensor(np.asarray(bp), dtype=torch.float32)
    flip = torch.as_tensor(rng.random(size) < mirror_prob)
    if flip.any():
        mgo, mbp = mirror_pose(go[flip], bp[flip], body.left_right_pairs)
        go, bp = go.clone(), bp.clone()
        go[flip], bp[flip] = mgo, mbp
    shape = torch.as_tensor(sample_shapes(size, body.shape_names, rng, population=population))
    verts, kps, h36m, root = [], [], [], []
    with torch.no_grad():
        for s in range(0, size, chunk):
            out = body(go[s : s + chunk], bp[s : s + chunk], shape[s : s + chunk])
            verts.append(out.vertices.to(torch.float16).numpy())
            kps.append(out.keypoints_coco.numpy())
            h36m.append(out.joints_h36m.numpy())
            root.append(out.joints[:, 0].numpy())
    height = None
    if population != "adult":  # rest-pose standing heights, for cameras that follow body size
        eye = torch.eye(3)
        hs = []
        with torch.no_grad():
            for s in torch.split(shape, chunk):
                n = len(s)
                y = body(eye.expand(n, 3, 3), eye.expand(n, body.num_pose_bones, 3, 3), s)
                y = y.vertices[..., 1]
                hs.append((y.amax(1) - y.amin(1)).numpy())
        height = np.concatenate(hs).astype(np.float32)
    return BodyBank(
        vertices=np.concatenate(verts),
        keypoints=np.concatenate(kps).astype(np.float32),
        global_orient=go.numpy(),
        body_pose=bp.numpy(),
        shape=shape.numpy(),
        faces=body.faces.numpy().astype(np.int64),
        joints_h36m=np.concatenate(h36m).astype(np.float32),
        root=np.concatenate(root).astype(np.float32),
        height=height,
    )
