"""Pose anchors: hand-picked mocap snapshots of poses the pose bank barely holds.

``../shared/data/cmu_mocap_extra`` has 121 single frames (66 CMU trials, same Daz-friendly
skeleton as the pose bank's) of sitting, kneeling, crouching, bending, lying, getting up /
crawling, inverted (handstands, flips, cartwheels, breakdance) and hanging poses. They are
snapshots, not clips: every frame is used (:func:`build_anchors`; never subsampled by frame
count), retargeted exactly as the pose bank (:class:`lasor.synth.poses.Retargeter`), its heading
removed (:func:`lasor.synth.poses.remove_heading`) but its root tilt kept (a lying pose stays
lying), and given a category from the data README's pose descriptions (``TRIAL_CATEGORIES``).
Whole trials are held out for validation (``VAL_TRIALS``).

121 frames are too few to sample as they are, so :func:`sample_anchor_poses` uses them as
anchors: each draw picks a fixed number of poses per category, mirrors half of them, recombines
body parts with poses from the pose bank (an anchor's pelvis, legs and spine with a bank pose's
neck, head and arms; for hanging anchors also the anchor's upper body on a bank pose's pelvis
and legs) and jitters every bone by a small rotation that never leaves the joint limits of
``lasor.synth.poses.FALLBACK_LIMITS_DEG`` (nor the anchor's own angle where the anchor is
already beyond them). :func:`anchor_source` wraps a :func:`lasor.synth.bank.pose_source` draw
so that a fixed share of every draw comes from the anchors.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from lasor.body.base import mirror_pose
from lasor.body.rotations import axis_angle_to_rotmat
from lasor.synth import poses as _poses

logger = logging.getLogger(__name__)

__all__ = [
    "ANCHOR_CATEGORIES",
    "AnchorConfig",
    "AnchorSet",
    "DEFAULT_CATEGORY_WEIGHTS",
    "LEG_BONES",
    "TRIAL_CATEGORIES",
    "TRUNK_BONES",
    "UPPER_BONES",
    "UPPER_SWAP_CATEGORIES",
    "VAL_TRIALS",
    "anchor_source",
    "build_anchors",
    "default_anchor_path",
    "jitter_within_limits",
    "load_anchors",
    "pose_lr_pairs",
    "recombine",
    "sample_anchor_poses",
]

PoseDraw = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]

#: Anchor categories (from the pose types of ``cmu_mocap_extra/README.md``).
ANCHOR_CATEGORIES: tuple[str, ...] = (
    "sit", "kneel", "crouch", "bend", "lie", "getup", "invert", "hang", "other",
)  # fmt: skip

#: Category of every frame of each extra trial, in file order (the README table lists the
#: frames and their pose types in that order). "crouch" = squats and crouches, "getup" = getting
#: up from / going down to the floor, crawling, falling onto a hand, "invert" = handstands,
#: flips, cartwheels, breakdance freezes, "other" = standing, stretches, a spin kick.
TRIAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "15_10": ("sit", "sit", "sit"),
    "18_12": ("sit",),
    "19_12": ("sit",),
    "22_02": ("sit", "sit"),
    "22_03": ("sit",),
    "22_14": ("other", "crouch"),
    "23_01": ("sit", "sit"),
    "23_03": ("kneel", "kneel"),
    "23_09": ("sit",),
    "26_09": ("crouch",),
    "42_01": ("other", "other"),
    "43_02": ("hang",),
    "49_06": ("invert",),
    "49_21": ("hang", "hang"),
    "69_70": ("crouch", "crouch"),
    "69_73": ("bend",),
    "75_17": ("crouch",),
    "75_18": ("sit",),
    "75_19": ("sit",),
    "75_20": ("sit",),
    "77_16": ("lie", "lie", "getup"),
    "79_26": ("bend",),
    "80_08": ("bend",),
    "80_09": ("bend",),
    "82_05": ("sit", "sit"),
    "85_05": ("invert", "invert", "invert"),
    "85_10": ("invert", "invert", "invert"),
    "85_14": ("crouch", "bend", "invert", "crouch", "invert"),
    "85_15": ("other", "crouch"),
    "88_04": ("other", "getup"),
    "88_08": ("invert",),
    "89_03": ("invert",),
    "90_03": ("invert", "invert"),
    "90_12": ("invert", "lie"),
    "111_03": ("kneel",),
    "111_06": ("getup",),
    "111_07": ("sit", "lie"),
    "111_08": ("lie", "getup"),
    "111_09": ("sit", "sit", "other"),
    "111_12": ("lie", "kneel"),
    "111_17": ("bend",),
    "111_21": ("lie", "lie", "lie"),
    "111_38": ("other", "getup"),
    "113_08": ("lie",),
    "113_15": ("sit",),
    "114_02": ("lie", "getup", "other"),
    "114_04": ("sit",),
    "114_05": ("other", "sit"),
    "114_06": ("sit",),
    "114_16": ("crouch", "sit", "sit", "sit", "sit"),
    "115_06": ("other", "crouch"),
    "115_08": ("crouch",),
    "127_23": ("kneel",),
    "128_09": ("lie",),
    "133_01": ("other", "getup"),
    "136_09": ("crouch",),
    "136_13": ("crouch",),
    "139_06": ("crouch", "kneel", "crouch"),
    "139_08": ("crouch",),
    "139_17": ("getup", "getup"),
    "139_18": ("lie", "getup"),
    # 140_01/03/08: set from the retargeted frames, not the README's order of descriptions:
    # their first-of-trial frames (source frames 5, 7, 7) lie flat (pelvis ~90 degrees from
    # upright, nose at hip height), 140_08's frame 883 is the crouched one, and 140_03's frame
    # 340 is half up from the side (nose 0.47 m above the hips), not lying.
    "140_01": ("lie", "getup", "getup", "crouch", "crouch", "lie"),
    "140_02": ("lie", "getup"),
    "140_03": ("getup", "kneel", "crouch", "lie"),
    "140_04": ("lie",),
    "140_08": ("crouch", "lie"),
}

#: Trials held out for validation (10 of 66, 15 %): three sitting trials (chair, chair, floor),
#: one kneel, crouch, bend, two lying, one inverted and one crawling trial.
VAL_TRIALS: tuple[str, ...] = (
    "22_03", "114_06", "75_20", "23_03", "139_08",
    "111_17", "111_21", "140_04", "90_03", "133_01",
)  # fmt: skip

#: Default share of each category within the anchor part of a draw: equal, except "other"
#: (standing and stretching, which the pose bank holds plenty of).
DEFAULT_CATEGORY_WEIGHTS: dict[str, float] = {c: 1.0 for c in ANCHOR_CATEGORIES if c != "other"}

#: Lower body (moves with the pelvis = ``global_orient``) and upper body, as ``POSE_BONES`` names.
LEG_BONES: tuple[str, ...] = tuple(
    f"{b}.{s}" for b in ("upperleg01", "lowerleg01", "foot") for s in "LR"
)
#: The spine chain (part of the upper body; kept with the legs by ``recombine("legs+trunk")``).
TRUNK_BONES: tuple[str, ...] = ("spine05", "spine03", "spine01")
UPPER_BONES: tuple[str, ...] = tuple(b for b in _poses.POSE_BONES if b not in LEG_BONES)


def default_anchor_path() -> Path:
    """``$LASOR_CACHE/pose_anchors.npz`` (default cache dir ``~/.cache/lasor``)."""
    root = os.environ.get("LASOR_CACHE") or Path.home() / ".cache" / "lasor"
    return Path(root) / "pose_anchors.npz"


def pose_lr_pairs(bones: list[str] | None = None) -> list[tuple[int, int]]:
    """Index pairs (left, right) of ``bones`` (default ``POSE_BONES``) swapped by mirroring."""
    bones = list(_poses.POSE_BONES if bones is None else bones)
    return [(i, bones.index(b[:-2] + ".R")) for i, b in enumerate(bones) if b.endswith(".L")]


@dataclass
class AnchorSet:
    """Retargeted anchor poses (see :func:`build_anchors`).

    Attributes:
        global_orient: (N, 3, 3) float32, heading removed, root tilt kept.
        body_pose: (N, 19, 3, 3) float32.
        yaw: (N,) float32 removed heading (radians).
        trial, category, split: (N,) str arrays.
        frame: (N,) int64 frame index within its file.
        meta: settings and counts.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    yaw: np.ndarray
    trial: np.ndarray
    frame: np.ndarray
    category: np.ndarray
    split: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.global_orient))

    def subset(self, split: str | None) -> AnchorSet:
        """The anchors of one split ("train", "val"; None: all)."""
        if split is None:
            return self
        k = np.flatnonzero(self.split == split)
        return AnchorSet(
            self.global_orient[k], self.body_pose[k], self.yaw[k], self.trial[k],
            self.frame[k], self.category[k], self.split[k], dict(self.meta),
        )  # fmt: skip

    def counts(self) -> dict[str, int]:
        """Number of anchors per category (categories present only)."""
        cats, n = np.unique(self.category, return_counts=True)
        return {str(c): int(k) for c, k in zip(cats, n, strict=True)}


def build_anchors(bvh_dir: str | Path, out: str | Path | None = None) -> AnchorSet:
    """Retarget every frame of every anchor BVH file; optionally write them (``.npz``).

    Files must be named ``<trial>.bvh[.gz]`` with the trial in ``TRIAL_CATEGORIES`` and exactly
    as many frames as categories listed there; a file that is not (or cannot be read) is logged
    and skipped.

    Args:
        bvh_dir: folder with the snapshots (``cmu_mocap_extra`` or its ``bvh/``; recursive).
        out: where to write the anchors (None: not written).

    Returns:
        The anchors.

    Raises:
        FileNotFoundError: no BVH files under ``bvh_dir``.
        RuntimeError: none could be used.
    """
    from lasor.body import load_body_model
    from lasor.synth.bvh import read_bvh

    t0 = time.perf_counter()
    bvh_dir = Path(bvh_dir)
    files = sorted(p for p in bvh_dir.rglob("*") if p.name.endswith((".bvh", ".bvh.gz")))
    if not files:
        raise FileNotFoundError(f"no .bvh or .bvh.gz files under {bvh_dir}")
    rest = _poses.anny_rest_joints(load_body_model("anny", topology="notoes_collapse10pc"))
    parts: dict[str, list] = {k: [] for k in ("go", "bp", "yaw", "trial", "frame", "cat")}
    skipped: list[str] = []
    for path in files:
        trial = path.name.removesuffix(".gz").removesuffix(".bvh")
        try:
            cats = TRIAL_CATEGORIES.get(trial)
            if cats is None:
                raise ValueError(f"trial {trial!r} is not in TRIAL_CATEGORIES")
            motion = read_bvh(path)
            if motion.num_frames != len(cats):
                raise ValueError(f"{motion.num_frames} frames, expected {len(cats)} (README table)")
            res = _poses.retarget_motion(motion, _poses.Retargeter.build(motion.skeleton, rest))
        except Exception as e:  # one bad file must not stop the run
            logger.warning("skipping anchor file %s: %s", path, e)
            skipped.append(path.name)
            continue
        go, yaw = _poses.remove_heading(res["global_orient"])
        parts["go"].append(go.float().numpy())
        parts["bp"].append(res["body_pose"].float().numpy())
        parts["yaw"].append(yaw.float().numpy())
        parts["trial"].append(np.full(len(cats), trial))
        parts["frame"].append(np.arange(len(cats), dtype=np.int64))
        parts["cat"].append(np.asarray(cats))
    if not parts["go"]:
        raise RuntimeError(f"no usable anchor BVH files under {bvh_dir}")
    trial = np.concatenate(parts["trial"]).astype(str)
    split = np.where(np.isin(trial, VAL_TRIALS), "val", "train").astype(str)
    category = np.concatenate(parts["cat"]).astype(str)
    meta = {
        "format": "lasor-pose-anchors-1",
        "source_dir": str(bvh_dir.resolve()),
        "val_trials": list(VAL_TRIALS),
        "skipped_files": skipped,
        "counts": {
            s: {c: int(((split == s) & (category == c)).sum()) for c in ANCHOR_CATEGORIES}
            for s in ("train", "val")
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    anchors = AnchorSet(
        global_orient=np.concatenate(parts["go"]),
        body_pose=np.concatenate(parts["bp"]),
        yaw=np.concatenate(parts["yaw"]),
        trial=trial,
        frame=np.concatenate(parts["frame"]),
        category=category,
        split=split,
        meta=meta,
    )
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            global_orient=anchors.global_orient,
            body_pose=anchors.body_pose,
            yaw=anchors.yaw,
            trial=anchors.trial,
            frame=anchors.frame,
            category=anchors.category,
            split=anchors.split,
            bone_names=np.asarray(_poses.POSE_BONES),
            meta=np.asarray(json.dumps(meta)),
        )
        os.replace(tmp, out)
    logger.info("anchors: %d frames, %d files skipped", len(anchors), len(skipped))
    return anchors


def load_anchors(path: str | Path | None = None) -> AnchorSet:
    """Read anchors written by :func:`build_anchors` (default: :func:`default_anchor_path`).

    Raises:
        FileNotFoundError: naming the file and how to build it.
    """
    path = Path(path) if path is not None else default_anchor_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"no pose anchors at {path}: build them with "
            "`lasor synth poses --anchors --bvh <cmu_mocap_extra>`"
        )
    with np.load(path, allow_pickle=False) as z:
        if [str(b) for b in z["bone_names"]] != _poses.POSE_BONES:
            raise ValueError(f"{path}: bone names do not match POSE_BONES")
        return AnchorSet(
            global_orient=z["global_orient"],
            body_pose=z["body_pose"],
            yaw=z["yaw"],
            trial=z["trial"],
            frame=z["frame"],
            category=z["category"],
            split=z["split"],
            meta=json.loads(str(z["meta"])),
        )


# ---------------------------------------------------------------- sampler


@dataclass(frozen=True)
class AnchorConfig:
    """How :func:`sample_anchor_poses` varies the anchors.

    Attributes:
        jitter_deg: standard deviation of the per-bone jitter, degrees per Euler axis.
        root_jitter_deg: standard deviation of the root's jitter (a small rotation about a
            random axis, heading removed again afterwards).
        mirror_prob: probability that a pose is mirrored left/right.
        legs_prob: probability that an anchor keeps its pelvis + legs and takes the upper body
            of a pose-bank pose: neck, head, clavicles, arms, and the spine too unless
            ``legs_keep_trunk``.
        legs_keep_trunk: the anchor keeps its spine in that swap (recombine ``"legs+trunk"``).
            Default True: sitting, kneeling and crouching anchors bend the abdomen forward by
            40-60 degrees against a pelvis tilted back (median spine03 angle 41 degrees over
            the sitting anchors), so an upright bank spine on their pelvis leans the torso far
            back, and bending anchors bend mostly in the spine.
        upper_prob: probability that an anchor keeps its upper body on a pose-bank pose's
            pelvis + legs; only for the categories in ``UPPER_SWAP_CATEGORIES`` (the others'
            pose lives in the pelvis and legs: a sitting torso on standing legs is standing).
        category_weights: share of each category in the anchor part of a draw (normalised over
            the categories present; default ``DEFAULT_CATEGORY_WEIGHTS``).
    """

    jitter_deg: float = 5.0
    root_jitter_deg: float = 5.0
    mirror_prob: float = 0.5
    legs_prob: float = 0.3
    legs_keep_trunk: bool = True
    upper_prob: float = 0.1
    category_weights: dict[str, float] | None = None


#: Categories whose upper body may go onto a bank pose's pelvis and legs (``upper_prob``). Only
#: hanging (arms overhead): in the others the pose lives in the pelvis tilt and the legs (the
#: Daz skeleton's first spine bone follows the hip, so even bending over is a pelvis rotation),
#: and rendered samples of sitting or bending upper bodies on bank legs just stood upright.
UPPER_SWAP_CATEGORIES: tuple[str, ...] = ("hang",)


def _category_counts(
    n: int, cats: list[str], weights: dict[str, float], rng: np.random.Generator
) -> dict[str, int]:
    """Split ``n`` among categories by weight: floors, then the remainder by largest fraction."""
    w = np.asarray([max(0.0, float(weights.get(c, 0.0))) for c in cats])
    if w.sum() <= 0:
        raise ValueError(f"no positive category weight among {cats}")
    exact = n * w / w.sum()
    base = np.floor(exact).astype(int)
    frac = exact - base + rng.random(len(cats)) * 1e-6  # random tie-break
    for k in np.argsort(-frac)[: n - int(base.sum())]:
        base[k] += 1
    return {c: int(k) for c, k in zip(cats, base, strict=True)}


def jitter_within_limits(
    body_pose: np.ndarray, sigma_deg: float, rng: np.random.Generator
) -> np.ndarray:
    """Add a small random rotation to every bone, within the joint limits.

    Each bone's rotation is written as body-frame Euler angles ``R = Rx @ Ry @ Rz`` (the
    convention of ``FALLBACK_LIMITS_DEG``; right-side bones mirrored to the left-side
    convention), each angle gets Gaussian noise of ``sigma_deg`` and is clipped to the limit
    range widened to include the original angle (an anchor already beyond a limit is not
    pulled back, and jitter never moves it further out).

    Args:
        body_pose: (n, 19, 3, 3) rotations.
        sigma_deg: noise standard deviation (0: poses returned unchanged, as float32).
        rng: randomness.

    Returns:
        (n, 19, 3, 3) float32.
    """
    bp = np.asarray(body_pose, dtype=np.float64)
    if sigma_deg <= 0 or len(bp) == 0:
        return bp.astype(np.float32)
    n = len(bp)
    ang = _euler_left(bp)  # (n, 19, 3) degrees
    lim = _poses._limits_table()[1:].numpy().astype(np.float64)  # (19, 3, 2)
    lo = np.minimum(lim[None, ..., 0], ang)
    hi = np.maximum(lim[None, ..., 1], ang)
    new = np.clip(ang + rng.normal(0.0, sigma_deg, ang.shape), lo, hi)
    return _from_euler_left(new).reshape(n, -1, 3, 3).astype(np.float32)


_RIGHT = np.asarray([b.endswith(".R") for b in _poses.POSE_BONES])


def _euler_left(bp: np.ndarray) -> np.ndarray:
    """(n, 19, 3, 3) -> (n, 19, 3) XYZ degrees, right bones in the left convention."""
    n = len(bp)
    ang = Rotation.from_matrix(bp.reshape(-1, 3, 3)).as_euler("XYZ", degrees=True)
    ang = ang.reshape(n, -1, 3)
    ang[:, _RIGHT, 1:] *= -1
    return ang


def _from_euler_left(ang: np.ndarray) -> np.ndarray:
    ang = ang.copy()
    ang[:, _RIGHT, 1:] *= -1
    return Rotation.from_euler("XYZ", ang.reshape(-1, 3), degrees=True).as_matrix()


def recombine(
    go_a: np.ndarray,
    bp_a: np.ndarray,
    go_b: np.ndarray,
    bp_b: np.ndarray,
    keep: str = "legs",
) -> tuple[np.ndarray, np.ndarray]:
    """Combine body parts of two sets of poses.

    Args:
        go_a, bp_a: (n, 3, 3), (n, 19, 3, 3) poses whose part ``keep`` is kept.
        go_b, bp_b: the same for the poses giving the rest.
        keep: "legs": ``a``'s pelvis (global_orient) and legs with ``b``'s upper body (spine,
            neck, head, clavicles, arms); "legs+trunk": ``a``'s pelvis, legs and spine with
            ``b``'s neck, head, clavicles and arms; "upper": ``a``'s upper body (spine and
            up) on ``b``'s pelvis and legs.

    Returns:
        global_orient (n, 3, 3), body_pose (n, 19, 3, 3).
    """
    legs = np.asarray([b in LEG_BONES for b in _poses.POSE_BONES])
    if keep in ("legs", "legs+trunk"):
        if keep == "legs+trunk":
            legs = legs | np.asarray([b in TRUNK_BONES for b in _poses.POSE_BONES])
        go, bp = np.array(go_a), np.array(bp_b)
        bp[:, legs] = bp_a[:, legs]
    elif keep == "upper":
        go, bp = np.array(go_b), np.array(bp_a)
        bp[:, legs] = bp_b[:, legs]
    else:
        raise ValueError(f"keep must be 'legs', 'legs+trunk' or 'upper', not {keep!r}")
    return go, bp


def sample_anchor_poses(
    anchors: AnchorSet,
    n: int,
    rng: np.random.Generator,
    base_draw: PoseDraw | None = None,
    config: AnchorConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` varied anchor poses with a fixed number per category.

    Steps: counts per category (``config.category_weights``, exact up to rounding), a uniform
    anchor of that category for each, mirroring, recombination with ``base_draw`` poses (when
    given), root jitter (heading removed again), per-bone jitter within joint limits.

    Args:
        anchors: the anchors to draw from (one split).
        n: number of poses.
        rng: randomness (same seed -> same poses).
        base_draw: ``draw(n, rng)`` of pose-bank poses to recombine with (None: no recombining).
        config: variation settings.

    Returns:
        global_orient (n, 3, 3), body_pose (n, 19, 3, 3) float32, category (n,) str.
    """
    cfg = config or AnchorConfig()
    if n <= 0:
        return (
            np.zeros((0, 3, 3), np.float32),
            np.zeros((0, 19, 3, 3), np.float32),
            np.zeros(0, str),
        )
    weights = cfg.category_weights or DEFAULT_CATEGORY_WEIGHTS
    present = [c for c in ANCHOR_CATEGORIES if (anchors.category == c).any() and weights.get(c)]
    if not present:
        raise ValueError("no anchors in the weighted categories")
    counts = _category_counts(n, present, weights, rng)
    pick = np.concatenate(
        [rng.choice(np.flatnonzero(anchors.category == c), k) for c, k in counts.items() if k]
    )
    cat = anchors.category[pick]
    go = anchors.global_orient[pick].astype(np.float64)
    bp = anchors.body_pose[pick].astype(np.float64)
    flip = rng.random(n) < cfg.mirror_prob
    if flip.any():
        mgo, mbp = mirror_pose(
            torch.from_numpy(go[flip]), torch.from_numpy(bp[flip]), pose_lr_pairs()
        )
        go[flip], bp[flip] = mgo.numpy(), mbp.numpy()
    if base_draw is not None:
        u = rng.random(n)
        legs = u < cfg.legs_prob
        upper = (u >= cfg.legs_prob) & (u < cfg.legs_prob + cfg.upper_prob)
        upper &= np.isin(cat, UPPER_SWAP_CATEGORIES)
        legs_keep = "legs+trunk" if cfg.legs_keep_trunk else "legs"
        for mask, keep in ((legs, legs_keep), (upper, "upper")):
            if mask.any():
                gb, bb = base_draw(int(mask.sum()), rng)
                go[mask], bp[mask] = recombine(go[mask], bp[mask], gb, bb, keep)
    if cfg.root_jitter_deg > 0:
        axis = rng.normal(size=(n, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True) + 1e-12
        angle = np.deg2rad(cfg.root_jitter_deg) * rng.normal(size=(n, 1))
        r = axis_angle_to_rotmat(torch.from_numpy(axis * angle)).numpy()
        go = _poses.remove_heading(torch.from_numpy(r @ go))[0].numpy()
    bp = jitter_within_limits(bp, cfg.jitter_deg, rng)
    return go.astype(np.float32), bp, cat.astype(str)


def anchor_source(
    split: str,
    base_draw: PoseDraw,
    share: float = 0.25,
    anchors: AnchorSet | str | Path | None = None,
    config: AnchorConfig | None = None,
) -> PoseDraw:
    """Wrap a pose draw so a fixed share of every draw comes from the anchors.

    ``draw(n, rng)`` returns ``round(share * n)`` anchor poses (:func:`sample_anchor_poses`,
    categories balanced within the share, recombined with ``base_draw`` poses) and
    ``n - round(share * n)`` ``base_draw`` poses, shuffled together.

    Args:
        split: anchor split, "train" or "val" (match the pose bank's).
        base_draw: e.g. ``lasor.synth.bank.pose_source(split)``.
        share: fraction of each draw taken from the anchors (0..1).
        anchors: an ``AnchorSet``, a path to one, or None (``default_anchor_path()``).
        config: anchor variation settings.

    Returns:
        ``draw(n, rng) -> (global_orient (n, 3, 3), body_pose (n, 19, 3, 3))`` float32 numpy.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], not {share}")
    aset = anchors if isinstance(anchors, AnchorSet) else load_anchors(anchors)
    aset = aset.subset(split)
    if len(aset) == 0:
        raise ValueError(f"no {split!r} anchors")
    logger.info("anchor source (%s, share %.2f): %s", split, share, aset.counts())

    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k = int(math.floor(share * n + 0.5))
        ga, ba, _ = sample_anchor_poses(aset, k, rng, base_draw, config)
        gb, bb = base_draw(n - k, rng)
        go = np.concatenate([ga, np.asarray(gb, np.float32)])
        bp = np.concatenate([ba, np.asarray(bb, np.float32)])
        order = rng.permutation(n)
        return go[order], bp[order]

    return draw
