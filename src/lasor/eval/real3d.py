"""Real frames with 3D ground truth: every method on identical crops, limb-12 errors and leg angles.

The frames are the Human3.6M ones of ``../shared/data/real`` (``h36m/``: 4 frames of S1, S5, S7,
S8; ``h36m_s9/``: 283 frames of S9 Posing_1 from three cameras), read straight from their npz
(``imgname``, ``center``, ``scale`` = box side / 200 px, ``part``, ``S`` camera-frame metres,
H36M-17 order; see ``../shared/data/README.md``).

Every method sees the same photo: the square of side 1.2 x the annotated box (``scale * 200``)
around ``center``, cut from the frame at its own resolution, black outside (`square_crop`).
MediaPipe runs once per crop through the product's front end (`lasor.predict.make_detector`,
person 0 = the most prominent) and its observation is cached on disk (`ObservationCache`), so
re-scoring a model costs only the regressor (and the fit).

Joint mapping: lasor's joints are ``PersonResult.joints3d_h36m`` (``BodyOutput.joints_h36m`` of
`lasor.body.anny_body`: skeleton bone heads in H36M-17 order, neck/nose = COCO nose, head =
crown), the same mapping as `lasor.eval.real`. MediaPipe's are its 33 world landmarks through
`lasor.frontend.mediapipe_pose.world_landmarks_to_h36m`.

Metrics per frame (`frame_metrics`): on the 12 limb joints (`lasor.eval.angles.LIMB12`),
PA-MPJPE and MPJPE after aligning the hip centres (mid-point of the two hips; H36M's pelvis is
exactly that), in mm; signed knee (hip-knee-ankle) and hip (thorax-hip-knee) angle errors in
degrees (`lasor.eval.angles`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lasor.eval import metrics as M
from lasor.eval.angles import ANGLES, LIMB12, STRAIGHT_KNEE, leg_angles, pose_stratum
from lasor.frontend.types import PersonObservation

log = logging.getLogger(__name__)

#: set name -> annotation file under the data root (images next to it, or under it by imgname).
SETS: dict[str, str] = {
    "h36m": "h36m/test_h36m_body3d.npz",
    "s9": "h36m_s9/s9_posing_body3d.npz",
}
#: crop side in units of the annotated box side.
CROP_FACTOR = 1.2
DEFAULT_CACHE = Path.home() / ".cache" / "lasor" / "real3d"


@dataclass
class Frame:
    """One annotated frame.

    Attributes:
        set: key of `SETS`. name: image stem. camera: H36M camera id (from the name).
        image_path: the frame's file.
        center: (2,) box centre, frame pixels. box_side: annotated box side (``scale * 200``), px.
        part: (17, 3) 2D joints (frame pixels) + visibility. joints3d: (17, 3) camera frame, m.
        focal: the camera's focal length in pixels (``K`` or ``cameras.pkl``), or None.
    """

    set: str
    name: str
    camera: str
    image_path: Path
    center: np.ndarray
    box_side: float
    part: np.ndarray
    joints3d: np.ndarray
    focal: float | None = None


def _focals(npz: Path, d, stems: list[str]) -> list[float | None]:
    if "K" in d:
        k = d["K"]
        return [float(0.5 * (k[i, 0, 0] + k[i, 1, 1])) for i in range(len(stems))]
    pkl = npz.parent / "cameras.pkl"
    if not pkl.is_file():
        return [None] * len(stems)
    from lasor.eval.datasets_real import load_h36m_cameras

    cams = load_h36m_cameras(pkl)
    out: list[float | None] = []
    for stem in stems:
        key = (stem.split("_")[0], stem.split(".")[-1].split("_")[0])
        out.append(float(np.mean(cams[key]["f"])) if key in cams else None)
    return out


@dataclass
class Crop:
    """What a method is given for one frame.

    Attributes:
        image: (S, S, 3) uint8 RGB crop (`square_crop`).
        origin: (2,) frame pixel coordinates of the crop's pixel (0, 0).
        observation: MediaPipe's `PersonObservation` on the crop (crop pixels, with world
            landmarks), or None when it found nobody.
        frame: the annotated frame (ground truth: use it only in diagnostics).
    """

    image: np.ndarray
    origin: np.ndarray
    observation: PersonObservation | None
    frame: Frame


#: A method: one crop -> (17, 3) H36M-17 joints in metres (any frame), or None (no answer).
Method = Callable[[Crop], np.ndarray | None]


def load_frames(data_root: Path, sets: tuple[str, ...] = tuple(SETS)) -> list[Frame]:
    """The annotated frames of the chosen sets (a set whose file is absent is skipped)."""
    frames: list[Frame] = []
    for key in sets:
        npz = Path(data_root) / SETS[key]
        if not npz.is_file():
            log.warning("real3d: %s missing; set %s skipped", npz, key)
            continue
        d = np.load(npz, allow_pickle=False)
        focals = _focals(npz, d, [Path(str(r)).stem for r in d["imgname"]])
        for i, rel in enumerate(d["imgname"]):
            rel = str(rel)
            stem = Path(rel).stem
            path = npz.parent / rel
            if not path.is_file():
                path = npz.parent / Path(rel).name
            camera = stem.split(".")[-1].split("_")[0] if "." in stem else ""
            frames.append(
                Frame(
                    set=key, name=stem, camera=camera, image_path=path,
                    center=d["center"][i].astype(np.float64),
                    box_side=200.0 * float(d["scale"][i]),
                    part=d["part"][i].astype(np.float64),
                    joints3d=d["S"][i, :, :3].astype(np.float64), focal=focals[i],
                )
            )  # fmt: skip
    return frames


def square_crop(
    image: np.ndarray, center: np.ndarray, side: float
) -> tuple[np.ndarray, np.ndarray]:
    """The square of ``side`` px around ``center``, black where it leaves the image.

    Args:
        image: (H, W, 3) uint8.
        center: (2,) x, y pixels.
        side: crop side in pixels (rounded to an integer).

    Returns:
        crop (S, S, 3) uint8 (a new array), and origin (2,) float64: the frame pixel of the
        crop's (0, 0).
    """
    s = max(1, int(round(side)))
    x0 = int(round(center[0] - s / 2))
    y0 = int(round(center[1] - s / 2))
    h, w = image.shape[:2]
    crop = np.zeros((s, s, 3), dtype=np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + s), min(h, y0 + s)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return crop, np.array([x0, y0], dtype=np.float64)


def hip_centre(joints: np.ndarray) -> np.ndarray:
    """(..., 3) mid-point of the two hips of (..., 17, 3) H36M-17 joints."""
    return 0.5 * (joints[..., 1, :] + joints[..., 4, :])


def frame_metrics(pred: np.ndarray, gt: np.ndarray) -> dict:
    """Limb-12 errors (mm) and leg angles (degrees) of one prediction.

    Args:
        pred, gt: (17, 3) H36M-17 joints, metres.

    Returns:
        ``pa_mpjpe``, ``mpjpe`` (hip centres aligned), ``angles`` (predicted), ``angle_err``
        (signed, pred - gt) per `lasor.eval.angles.ANGLES` key.
    """
    p, g = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    pl, gl = p[LIMB12], g[LIMB12]
    pa = float(M.pa_mpjpe(pl, gl)) * 1000
    pc = pl - hip_centre(p)
    gc = gl - hip_centre(g)
    mp = float(np.linalg.norm(pc - gc, axis=-1).mean()) * 1000
    pa_, ga = leg_angles(p), leg_angles(g)
    return {
        "pa_mpjpe": round(pa, 2),
        "mpjpe": round(mp, 2),
        "angles": {k: round(float(pa_[k]), 2) for k in ANGLES},
        "angle_err": {k: round(float(pa_[k] - ga[k]), 2) for k in ANGLES},
    }


def fuse(base: np.ndarray, other: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Naive fusion: ``other`` similarity-aligned (Umeyama, on the 12 limb joints) onto
    ``base``, then ``(1 - weight) * base + weight * aligned``. Uses no ground truth.

    Args:
        base: (17, 3) joints (e.g. lasor's, camera frame).
        other: (17, 3) joints (e.g. MediaPipe's world landmarks as H36M-17).
        weight: share of ``other``.

    Returns:
        (17, 3) float64 in ``base``'s frame.
    """
    b, o = np.asarray(base, np.float64), np.asarray(other, np.float64)
    vis = np.zeros(17)
    vis[LIMB12] = 1.0
    t = M.fit_similarity(o, b, vis)
    aligned = t.apply(o[None])[0]
    return (1.0 - weight) * b + weight * aligned


# ------------------------------------------------------------------------ MediaPipe, cached


class ObservationCache:
    """MediaPipe's observation of each crop, kept as one npz per crop under ``root``.

    The key is the frame, the crop geometry and the MediaPipe version, so a changed crop or
    front end never reads a stale entry. The front end is built only on a cache miss.
    """

    def __init__(self, root: Path = DEFAULT_CACHE) -> None:
        self.root = Path(root)
        self._detector = None
        try:  # never import mediapipe here: lasor.frontend.mediapipe_pose imports it its way
            from importlib.metadata import version

            self.version = version("mediapipe")
        except Exception:  # noqa: BLE001 - not installed
            self.version = "none"

    def _path(self, frame: Frame, origin: np.ndarray, side: int) -> Path:
        key = f"{frame.set}/{frame.name}/{origin[0]:.0f},{origin[1]:.0f},{side}/{self.version}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        return self.root / f"{frame.set}__{frame.name}__{digest}.npz"

    def get(self, frame: Frame, crop: np.ndarray, origin: np.ndarray) -> PersonObservation | None:
        """The observation of ``crop`` (crop pixels), from disk or from the front end."""
        path = self._path(frame, origin, crop.shape[0])
        if path.is_file():
            return _read_observation(path)
        obs = self._observe(crop, frame.name)
        self.root.mkdir(parents=True, exist_ok=True)
        _write_observation(path, obs)
        return obs

    def _observe(self, crop: np.ndarray, name: str) -> PersonObservation | None:
        from lasor.predict import PredictOptions, make_detector, observe

        opts = PredictOptions(render=False)
        if self._detector is None:
            self._detector = make_detector(opts)
        people = observe(Path(name + ".png"), crop, opts, self._detector)
        return people[0] if people else None

    def close(self) -> None:
        """Release the front end."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def _write_observation(path: Path, obs: PersonObservation | None) -> None:
    if obs is None:
        np.savez_compressed(path, found=np.array(False))
        return
    arrays = {
        "found": np.array(True), "keypoints": obs.keypoints, "confidence": obs.confidence,
        "bbox": obs.bbox, "source": np.array(obs.source),
    }  # fmt: skip
    if obs.mask is not None:
        arrays["mask_bits"] = np.packbits(obs.mask)
        arrays["mask_shape"] = np.array(obs.mask.shape)
    if obs.world_landmarks is not None:
        arrays["world_landmarks"] = obs.world_landmarks
        arrays["landmark_visibility"] = obs.landmark_visibility
        arrays["landmark_presence"] = obs.landmark_presence
    np.savez_compressed(path, **arrays)


def _read_observation(path: Path) -> PersonObservation | None:
    d = np.load(path, allow_pickle=False)
    if not bool(d["found"]):
        return None
    mask = None
    if "mask_bits" in d:
        shape = tuple(int(s) for s in d["mask_shape"])
        mask = np.unpackbits(d["mask_bits"])[: shape[0] * shape[1]].reshape(shape).astype(bool)
    world = {}
    if "world_landmarks" in d:
        world = {k: d[k] for k in ("world_landmarks", "landmark_visibility", "landmark_presence")}
    return PersonObservation(
        keypoints=d["keypoints"], confidence=d["confidence"], bbox=d["bbox"], mask=mask,
        source=str(d["source"]), **world,
    )  # fmt: skip


# ----------------------------------------------------------------------------- the methods


def image_method(fn: Callable[[np.ndarray], np.ndarray | None]) -> Method:
    """A `Method` from any ``fn(crop_image (S, S, 3) uint8) -> (17, 3) H36M-17 joints, m``."""

    def method(crop: Crop) -> np.ndarray | None:
        return fn(crop.image)

    return method


def mediapipe_method(crop: Crop) -> np.ndarray | None:
    """MediaPipe's world landmarks as H36M-17 (None without an observation or landmarks)."""
    from lasor.frontend.mediapipe_pose import world_landmarks_to_h36m

    obs = crop.observation
    if obs is None or obs.world_landmarks is None:
        return None
    return world_landmarks_to_h36m(obs.world_landmarks, obs.landmark_visibility)[0]


def lasor_method(
    model_path: Path | None = None,
    fit=True,
    gt_2d: bool = False,
    true_focal: bool = False,
    **options,
) -> Method:
    """lasor through `lasor.Estimator` on the crop, with MediaPipe's cached observation.

    Args:
        model_path: regressor file (None = the shipped model).
        fit: as `lasor.Estimator` (True = the default fit, False = ``--fast``, a number of
            steps, or a ``lasor.fit.FitOptions``).
        gt_2d: diagnostic only: replace the 12 limb keypoints of MediaPipe's observation by the
            ground-truth 2D joints (confidence 1), keeping its face keypoints and mask.
        true_focal: diagnostic only: tell the pipeline the camera's real focal length
            (`Frame.focal`; the crop keeps the frame's pixel size) instead of its default.
        **options: other `lasor.Estimator` keywords.

    Returns:
        a `Method` (its ``estimator`` attribute is the `lasor.Estimator`).
    """
    from lasor.api import Estimator

    est = Estimator(model_path, fit=fit, render=False, **options)
    digest = hashlib.sha1(Path(est.model_path).read_bytes()).hexdigest()[:16]
    key = f"lasor|{digest}|fit={est.options.fit!r}|gt2d={gt_2d}|true_focal={true_focal}"

    def method(crop: Crop) -> np.ndarray | None:
        obs = crop.observation
        if obs is None:
            return None
        if gt_2d:
            obs = with_gt_limbs(obs, crop)
        if true_focal:
            est.options.focal_length = crop.frame.focal
        people = est(crop.image, name=crop.frame.name + ".png", observations=[obs])
        return people[0].joints3d_h36m if people else None

    method.estimator = est  # type: ignore[attr-defined]
    method.cache_key = key  # type: ignore[attr-defined]
    return method


def with_gt_limbs(obs: PersonObservation, crop: Crop) -> PersonObservation:
    """``obs`` with its 12 limb keypoints replaced by the frame's ground-truth 2D joints."""
    from lasor.eval.datasets import H36M_FROM_COCO

    kp = obs.keypoints.copy()
    conf = obs.confidence.copy()
    for h, c in H36M_FROM_COCO.items():
        kp[c] = crop.frame.part[h, :2] - crop.origin
        conf[c] = 1.0
    return dataclasses.replace(obs, keypoints=kp, confidence=conf, source=obs.source + "+gt2d")


# ------------------------------------------------------------------------------- scoring


class PredictionCache:
    """Joints a method gave for a frame, one ``.npy`` per (method key, frame) under ``root``.

    Only methods with a ``cache_key`` attribute (`lasor_method` sets one from the model file's
    hash and the options) are cached, so a killed run resumes and re-scoring is free.
    """

    def __init__(self, root: Path = DEFAULT_CACHE / "predictions") -> None:
        self.root = Path(root)

    def _path(self, method: Method, frame: Frame) -> Path | None:
        key = getattr(method, "cache_key", None)
        if key is None:
            return None
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.root / digest / f"{frame.set}__{frame.name}.npy"

    def run(self, method: Method, crop: Crop) -> np.ndarray | None:
        """``method(crop)``, from disk when cached (NaNs stand for "no answer")."""
        path = self._path(method, crop.frame)
        if path is not None and path.is_file():
            j = np.load(path)
            return None if np.isnan(j).all() else j
        j = method(crop)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.full((17, 3), np.nan) if j is None else np.asarray(j, np.float64))
        return j


def score_frames(
    frames: list[Frame],
    methods: dict[str, Method],
    cache: ObservationCache | None = None,
    fusions: dict[str, tuple[str, str]] | None = None,
    progress: bool = False,
    predictions: PredictionCache | None = None,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Every method on every frame's crop.

    Args:
        frames: from `load_frames`.
        methods: name -> `Method`.
        cache: MediaPipe observations (default: `ObservationCache` at `DEFAULT_CACHE`).
        fusions: name -> (base method, other method) combined by `fuse` after the methods ran.
        progress: show a progress bar.
        predictions: cache of the methods' joints (default: none).

    Returns:
        rows (one dict per frame: set, name, camera, ``gt_angles``, ``stratum``, ``straight``
        per leg, and per method its `frame_metrics` or None), and joints: name -> (N, 17, 3)
        predicted joints (NaN where a method gave none).
    """
    own_cache = cache is None
    cache = cache or ObservationCache()
    fusions = fusions or {}
    from lasor.frontend.files import load_image

    names = list(methods) + list(fusions)
    joints = {k: np.full((len(frames), 17, 3), np.nan) for k in names}
    rows = []
    it = frames
    if progress:
        from tqdm import tqdm

        it = tqdm(frames, desc="real3d", unit="frame")
    for i, fr in enumerate(it):
        crop_img, origin = square_crop(load_image(fr.image_path), fr.center,
                                       CROP_FACTOR * fr.box_side)  # fmt: skip
        obs = cache.get(fr, crop_img, origin)
        crop = Crop(crop_img, origin, obs, fr)
        if predictions is None:
            out: dict[str, np.ndarray | None] = {k: m(crop) for k, m in methods.items()}
        else:
            out = {k: predictions.run(m, crop) for k, m in methods.items()}
        for k, (a, b) in fusions.items():
            out[k] = fuse(out[a], out[b]) if out.get(a) is not None and out.get(b) is not None \
                else None  # fmt: skip
        ga = leg_angles(fr.joints3d)
        row = {
            "set": fr.set, "name": fr.name, "camera": fr.camera, "crop_px": crop_img.shape[0],
            "gt_angles": {k: round(float(v), 2) for k, v in ga.items()},
            "stratum": str(pose_stratum({k: np.array([v]) for k, v in ga.items()})[0]),
            "mediapipe_found": obs is not None,
        }  # fmt: skip
        for k in names:
            if out[k] is not None:
                joints[k][i] = out[k]
            row[k] = frame_metrics(out[k], fr.joints3d) if out[k] is not None else None
        rows.append(row)
    if own_cache:
        cache.close()
    return rows, joints


def _mean(vals: list[float]) -> float:
    return round(float(np.mean(vals)), 2) if vals else float("nan")


def summarise_group(rows: list[dict], names: list[str], ref: str = "mediapipe") -> dict:
    """Means over the rows where every method answered, and ratios to ``ref``.

    Per method: ``pa_mpjpe``, ``mpjpe`` (mm); ``knee_abs`` / ``hip_abs`` (mean |error|, deg,
    over legs); ``knee_signed`` / ``hip_signed`` (mean signed error); the same knee and hip
    numbers on straight legs (ground-truth knee >= `STRAIGHT_KNEE`) and bent legs; ``pa_ratio``
    (PA-MPJPE / ``ref``'s, same frames).
    """
    ok = [r for r in rows if all(r.get(k) is not None for k in names)]
    out: dict = {"n": len(ok), "n_skipped": len(rows) - len(ok)}
    legs = [(r, s) for r in ok for s in ("r", "l")]
    straight = [(r, s) for r, s in legs if r["gt_angles"][f"knee_{s}"] >= STRAIGHT_KNEE]
    bent = [(r, s) for r, s in legs if r["gt_angles"][f"knee_{s}"] < STRAIGHT_KNEE]
    out["legs_straight"], out["legs_bent"] = len(straight), len(bent)
    for k in names:
        m: dict = {
            "pa_mpjpe": _mean([r[k]["pa_mpjpe"] for r in ok]),
            "mpjpe": _mean([r[k]["mpjpe"] for r in ok]),
        }
        for part in ("knee", "hip"):
            for tag, sel in (("", legs), ("_straight", straight), ("_bent", bent)):
                errs = [r[k]["angle_err"][f"{part}_{s}"] for r, s in sel]
                m[f"{part}_abs{tag}"] = _mean([abs(e) for e in errs])
                m[f"{part}_signed{tag}"] = _mean(errs)
        out[k] = m
    if ref in names and ok:
        for k in names:
            out[k]["pa_ratio"] = round(out[k]["pa_mpjpe"] / out[ref]["pa_mpjpe"], 3)
            out[k]["mpjpe_ratio"] = round(out[k]["mpjpe"] / out[ref]["mpjpe"], 3)
    return out


def summarise(rows: list[dict], names: list[str], ref: str = "mediapipe") -> dict:
    """`summarise_group` per set, per S9 camera, per pose stratum and over all frames; plus
    the mean over sets of each method's PA-MPJPE ratio to ``ref``."""
    groups: dict[str, list[dict]] = {"all": rows}
    for s in sorted({r["set"] for r in rows}):
        groups[s] = [r for r in rows if r["set"] == s]
    for c in sorted({r["camera"] for r in rows if r["set"] == "s9"}):
        groups[f"s9/{c}"] = [r for r in rows if r["set"] == "s9" and r["camera"] == c]
    for st in ("standing", "sitting", "other"):
        sel = [r for r in rows if r["stratum"] == st]
        if sel:
            groups[f"pose/{st}"] = sel
    out = {g: summarise_group(rs, names, ref) for g, rs in groups.items()}
    sets = [s for s in SETS if s in out and out[s]["n"]]
    if ref in names and sets:
        out["mean_over_sets"] = {
            k: {"pa_ratio": round(float(np.mean([out[s][k]["pa_ratio"] for s in sets])), 3)}
            for k in names
        }
    return out
