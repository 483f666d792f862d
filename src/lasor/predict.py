"""Photos to 3D bodies: front end -> crop + proxy -> regressor -> body model -> files.

The steps are separate functions, each usable alone: `observe` (front end) -> `person_items`
(crop boxes) -> `regress` (network input + model) -> `refine_people` (optional) ->
`pose_bodies` + `place_camera` -> `assemble_results` -> `write_person`. `run_people` chains
steps 3-6 for a batch; `lasor.Estimator` is the API over all of them.

``predict`` processes a batch of photos; each person's results go to ``<out>/<stem>[_pN].*``
(photos of the same name from different folders get ``<stem>_2``, ...). One bad photo (unreadable,
no person, a corrupt JSON, a mask of the wrong size, a file that cannot be written) is recorded in
``summary.json`` with a clear message and never stops the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from lasor.frontend.types import FrontendError, PersonObservation
from lasor.synth.proxy import (
    CropBox,
    crop_geometry,
    crop_observation,
    encode_proxy,
    model_inputs,
    person_box,
)

if TYPE_CHECKING:
    from lasor.fit.core import FitOptions
    from lasor.refine import RefineOptions

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class PredictOptions:
    """What ``predict`` does.

    Attributes:
        model_path: regressor file (default: the model shipped with lasor).
        keypoints: a COCO/OpenPose JSON file, or a folder with ``<stem>.json`` /
            ``<stem>_keypoints.json`` per photo; replaces the MediaPipe front end.
        masks: a mask PNG, or a folder with ``<stem>.png`` / ``<stem>_mask.png`` per photo.
        boxes: person boxes (x0, y0, x1, y1) per photo: each is processed in its own crop.
        batch_size: proxies per regressor call.
        render: write the PNG pictures.
        device: torch device.
        mesh_topology: Anny topology of the written meshes.
        focal_length: pixels; default the photo's EXIF 35 mm-equivalent focal length, else
            the image diagonal (:mod:`lasor.fit.camera`).
        refine: fit each regressed body to its observed keypoints and mask for a few steps
            in the 64 px crop (:mod:`lasor.refine`, the older path); None = off.
        export: rigged files to write per person, any of ``("glb", "bvh")``
            (:mod:`lasor.io.export`).
        fit: fit each regressed body in the photo's own camera at full resolution
            (:mod:`lasor.fit`); None = the regressor's output as is (``--fast``).
        person: without keypoints or boxes: "all" = every person found (person 0 = the most
            prominent, see `lasor.frontend.people`), "largest" = only the most prominent.
        max_people: at most this many people per photo (None = all; at least 1).
        max_pixels: photos and masks with more pixels are refused before decoding (None = the
            default cap, ``lasor.frontend.files.MAX_PIXELS`` or ``LASOR_MAX_PIXELS``; 0 = none).
        frontend: "litert" = BlazePose's detector and landmark models run by lasor through
            LiteRT (`lasor.frontend.blazepose`, default); "mediapipe" = the detector's windows
            fed to MediaPipe's legacy Pose solution (`lasor.frontend.people`, the older path).
    """

    def __post_init__(self) -> None:
        if self.max_people is not None and self.max_people < 1:
            raise ValueError(
                f"max_people must be at least 1 (or None for all), not {self.max_people}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")

    model_path: Path | None = None
    keypoints: Path | None = None
    masks: Path | None = None
    boxes: dict[str, np.ndarray] = field(default_factory=dict)
    batch_size: int = 16
    render: bool = True
    device: str = "cpu"
    mesh_topology: str = "anny"
    focal_length: float | None = None
    refine: RefineOptions | None = None
    export: tuple[str, ...] = ()
    fit: FitOptions | None = None
    #: the person's standing height in metres, when known: fixes the scale of every result
    #: (``cam_t``, vertices and joints become metric; see `apply_height`); None = the body
    #: model's own size (``scale_source`` "body_model")
    height: float | None = None
    # --- multi-person front end (issue 17) ---
    person: str = "all"
    max_people: int | None = None
    frontend: str = "litert"
    # --- hardening (issue 23) ---
    max_pixels: int | None = None


def shipped_model_path() -> Path:
    """The trained model that ships inside the package."""
    import importlib.resources

    return Path(str(importlib.resources.files("lasor.model") / "weights" / "lasor_anny.pt"))


def find_images(inputs: list[str | Path]) -> list[Path]:
    """Expand files and folders into image paths (folders: sorted, by image suffix; no repeats).

    A folder named like a photo (``x.jpg/``) with no photos in it is kept as an input, so that
    the run reports it instead of dropping it; so are sub-folders named like photos.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found and p.suffix.lower() in IMAGE_SUFFIXES:
                found = [p]
            elif not found:
                log.warning(
                    "%s: a folder with no photos (%s)", p, ", ".join(sorted(IMAGE_SUFFIXES))
                )
            out += found
        else:
            out.append(p)
    return list(dict.fromkeys(out))  # a photo named twice is processed once


def _match(path: Path | None, stem: str, suffixes: list[str]) -> Path | None:
    if path is None:
        return None
    if path.is_file():
        return path
    for s in suffixes:
        q = path / f"{stem}{s}"
        if q.exists():
            return q
    return None


def observe(image_path: Path, image: np.ndarray, opts: PredictOptions, detector) -> list:
    """The people in one photo, from user files or MediaPipe.

    Returns:
        list of PersonObservation (possibly empty). Raises FrontendError on bad input files.
    """
    from lasor.frontend import files

    stem = image_path.stem
    h, w = image.shape[:2]
    mask = None
    mpath = _match(opts.masks, stem, ["_mask.png", ".png"])
    if opts.masks is not None and mpath is None:
        raise FrontendError(opts.masks, f"no mask for {image_path.name} ({stem}_mask.png)")
    if mpath is not None:
        mask = files.read_mask(mpath, image_size=(h, w), image_path=image_path)
    kpath = _match(opts.keypoints, stem, ["_keypoints.json", ".json", "_openpose.json"])
    if opts.keypoints is not None and kpath is None:
        raise FrontendError(opts.keypoints, f"no keypoints for {image_path.name} ({stem}.json)")
    if kpath is not None:
        people = _read_keypoint_file(kpath, image_path, (h, w))
        if mask is not None:
            people = [_with_mask(p, mask) for p in people[:1]]
        return people
    if detector is None:
        raise FrontendError(image_path, "no keypoints given and the MediaPipe front end is off")
    boxes = opts.boxes.get(image_path.name, opts.boxes.get(str(image_path), None))
    if boxes is None and hasattr(detector, "people"):  # multi-person front end (issue 17)
        found = detector.people(image, max_people=opts.max_people, person=opts.person)
        return [_with_mask(o, mask) for o in found[:1]] if mask is not None else found
    people = []
    for box in [None] if boxes is None else list(boxes):
        if box is not None:
            b = np.asarray(box, np.float64).reshape(4)
            if not (b[2] > 0 and b[3] > 0 and b[0] < w and b[1] < h):
                raise FrontendError(
                    image_path,
                    f"the box {np.round(b, 1).tolist()} lies outside the {w}x{h} (width x height) "
                    "image; expected x0, y0, x1, y1 pixels of this photo",
                )
        obs = detector(image, bbox=box)
        if obs is not None:
            people.append(_with_mask(obs, mask) if mask is not None else obs)
    return people


def _with_mask(obs: PersonObservation, mask: np.ndarray) -> PersonObservation:
    return dataclasses.replace(obs, mask=mask, source=obs.source + "+mask")


def _read_keypoint_file(path: Path, image_path: Path, hw: tuple[int, int]) -> list:
    from lasor.frontend.files import read_keypoints

    return read_keypoints(path, image=image_path.name, image_size=hw)


@dataclass
class Predictor:
    """Everything a model file gives the pipeline (built once, reused for every photo).

    Attributes:
        model: the regressor (``lasor.model.regressor``), in eval mode.
        body: body model of the written meshes (``opts.mesh_topology`` for Anny).
        res: proxy resolution the model reads.
        cfg: the model's training config (``lasor.train.config``).
        fit_body: the training topology's body model when refinement is on (fitting on the
            decimated mesh is ~10x cheaper), else None.
        device: torch device of ``model`` and ``body``.
    """

    model: torch.nn.Module
    body: torch.nn.Module
    res: int
    cfg: object = None
    fit_body: torch.nn.Module | None = None
    device: str = "cpu"

    def __iter__(self):
        # older callers unpack ``model, body, res, fit_body = load_predictor(...)``
        return iter((self.model, self.body, self.res, self.fit_body))


def _focal(name: str, hw: tuple[int, int], opts: PredictOptions) -> float:
    """The focal length (pixels) of a photo: the option, else EXIF, else the default view."""
    from lasor.fit.camera import default_focal, photo_focal

    if opts.focal_length:
        return float(opts.focal_length)
    path = Path(name)
    if path.is_file():
        return photo_focal(path, hw[1], hw[0])[0]
    return default_focal(hw[1], hw[0])


def _fit(pred, cam_ts: np.ndarray, focals: list[float], items: list, fit_body, opts):
    """:func:`lasor.fit.fit_people` on a regressed batch; returns (params, cam_t, steps)."""
    from lasor.fit.core import FitStart, fit_people

    start = FitStart(pred.global_orient, pred.body_pose, pred.shape, torch.from_numpy(cam_ts))
    from lasor.synth.world import world_weights

    obs = [o for _, o, *_ in items]
    world, world_w = world_weights(obs)
    res = fit_people(
        fit_body, start, np.stack([o.keypoints for o in obs]),
        np.stack([o.confidence for o in obs]),
        [o.mask for o in obs], [im.shape[:2] for im, *_ in items], focals, opts.fit,
        boxes=[b for _, _, b, *_ in items],
        shape_bounds=(0.0, 1.0) if fit_body.name == "anny" else None,
        world=world, world_weight=world_w,
    )  # fmt: skip
    out = dataclasses.replace(
        pred, global_orient=res.global_orient, body_pose=res.body_pose, shape=res.shape
    )
    return out, res.cam_t.numpy().astype(np.float64), res.steps_run


class PersonItem(NamedTuple):
    """One observed person waiting for regression (a tuple, so older callers can pass tuples).

    Attributes:
        image: (H, W, 3) uint8 RGB photo. obs: the front end's observation.
        box: the square crop around the person. name: image name recorded in the results.
        person: index of the person in that image.
    """

    image: np.ndarray
    obs: PersonObservation
    box: CropBox
    name: str
    person: int


@dataclass
class Regression:
    """What the regression step gives for a batch of N people.

    Attributes:
        pred: the regressor's output (``RegressorOutput``: rotations, shape, weak camera).
        proxy: (N, C, R, R) the network input.
        silhouette: (N, R, R) crop silhouettes. joints: (N, 17, 2) crop pixels.
        confidence: (N, 17).
    """

    pred: object
    proxy: torch.Tensor
    silhouette: np.ndarray
    joints: np.ndarray
    confidence: np.ndarray


def load_predictor(model_path: Path, opts: PredictOptions) -> Predictor:
    """Load a model file: the regressor, output body model, proxy resolution, fitting body."""
    from lasor.body import load_body_model
    from lasor.train.checkpoint import load_regressor

    model, cfg = load_regressor(model_path, device=opts.device)
    anny = cfg.model.body_model == "anny"
    body = load_body_model(
        cfg.model.body_model,
        topology=opts.mesh_topology if anny else "anny",
        model_path=cfg.model.body_model_path,
    ).to(opts.device)
    fit_body = None
    fitting = opts.fit is not None and opts.fit.steps > 0
    if fitting or (opts.refine is not None and opts.refine.steps > 0):
        fit_body = body
        if anny and cfg.model.topology != opts.mesh_topology:
            fit_body = load_body_model("anny", topology=cfg.model.topology).to(opts.device)
    return Predictor(model, body, int(cfg.data.image_size), cfg, fit_body, opts.device)


# ---------------------------------------------------------------- the pipeline, step by step
# observe (front end) -> person_items (crops) -> regress -> refine_people -> pose_bodies
# -> assemble_results -> write_person


def person_items(image: np.ndarray, people: list, name: str) -> list[PersonItem]:
    """Crop boxes for the people observed in one photo (step 2)."""
    return [
        PersonItem(image, o, person_box(o.mask, o.keypoints, o.confidence), name, k)
        for k, o in enumerate(people)
    ]


def network_inputs(version: int, items: list, res: int, focals: float | list[float] | None = None):
    """The network input of observed people, through ``lasor.synth.proxy`` (as in training).

    Args:
        version: the model's proxy version.
        items: list of ``(image, observation, crop_box, ...)``.
        res: proxy resolution.
        focals: focal length in pixels, one for all or one per person; default ``focal_for``
            each image (its diagonal).

    Returns:
        ``(inputs, proxy_picture, (silhouettes, joints, confidence))``: the model's input dict,
        the (N, 18, R, R) heatmap proxy (drawn as ``_proxy.png`` for either version) and the
        crop-space observation.
    """
    crops = [crop_observation(o.mask, o.keypoints, o.confidence, b, res) for _, o, b, *_ in items]
    sil, joints, conf = (np.stack([c[i] for c in crops]) for i in range(3))
    fs = focals if isinstance(focals, (list, tuple)) else [focals] * len(items)
    geometry = np.stack(
        [
            crop_geometry(b, im.shape[:2], f or focal_for(im.shape[:2], None))
            for (im, _, b, *_), f in zip(items, fs, strict=True)
        ]
    )
    world = present = None
    if version == 2:  # the world landmarks (zeros and flag 0 where there are none)
        from lasor.synth.world import world_from_observation

        pairs = [world_from_observation(o) for _, o, *_ in items]
        world = np.stack([w for w, _ in pairs])
        present = np.array([p for _, p in pairs], np.float32)
    inputs = model_inputs(version, sil, joints, conf, geometry, world=world, world_present=present)
    proxy = inputs["proxy"] if "proxy" in inputs else encode_proxy(sil, joints, conf)
    return inputs, proxy, (sil, joints, conf)


def regress(
    predictor: Predictor,
    items: list,
    timing: dict | None = None,
    focals: float | list[float] | None = None,
) -> Regression:
    """Network input + regressor for a batch of people (step 3): crop, encode, model call.

    ``focals``: pixels (one, or one per person), for the crop geometry of version-2 inputs
    (default: each image's diagonal).

    ``timing``: optional dict; seconds are added under "proxy" (the network input) and
    "regression" (the model call).
    """
    t = time.perf_counter()
    inputs, proxy, (sil, joints, conf) = network_inputs(
        predictor.model.proxy_version, items, predictor.res, focals
    )
    inputs = {k: v.to(predictor.device) for k, v in inputs.items()}
    if timing is not None:
        timing["proxy"] = timing.get("proxy", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
    with torch.no_grad():
        pred = predictor.model.run(inputs)
    if timing is not None:
        timing["regression"] = timing.get("regression", 0.0) + time.perf_counter() - t
    return Regression(pred, proxy, sil, joints, conf)


def refine_people(predictor: Predictor, reg: Regression, items: list, opts: RefineOptions):
    """Fit each regressed body to its observed keypoints and mask (step 4, optional).

    Args:
        reg: the regression step's output (its crop-space keypoints and silhouettes are fitted).
        items: the people (observations, crop boxes, images) in the same order.

    Returns:
        a refined ``RegressorOutput``.
    """
    from lasor.refine import refine_in_crop

    body = predictor.fit_body or predictor.body
    return refine_in_crop(
        reg.pred, body, reg.joints, reg.confidence, reg.silhouette, predictor.res, opts,
        predictor.model.shape_mapping,
    )  # fmt: skip


def pose_bodies(body, pred):
    """Pose and shape the body model for a batch of predictions (step 5a): a ``BodyOutput``."""
    with torch.no_grad():
        return body(pred.global_orient, pred.body_pose, pred.shape)


def place_camera(cam: np.ndarray, box, image_hw: tuple[int, int], focal: float) -> np.ndarray:
    """Weak-perspective (s, tx, ty) in crop NDC -> pinhole translation of the pelvis (step 5b).

    With crop side ``L`` pixels centred at (ccx, ccy), a weak-perspective pixel is
    ``u = s L / 2 (X + tx) + ccx``; a pinhole camera with focal ``f`` and principal point at the
    image centre gives the same first-order projection at depth ``tz = 2 f / (s L)`` with
    ``Tx = tx + (ccx - cx) tz / f`` (likewise y).

    Returns:
        (3,) float32 metres, camera frame.
    """
    s, tx, ty = (float(c) for c in cam)
    h, w = image_hw
    tz = 2.0 * focal / max(s * box.size, 1e-6)
    return np.array(
        [tx + (box.cx - w / 2) * tz / focal, ty + (box.cy - h / 2) * tz / focal, tz], np.float32
    )


_cam_translation = place_camera  # the old name


def focal_for(image_hw: tuple[int, int], focal_length: float | None) -> float:
    """The focal length in pixels: the given one, or the image diagonal (``lasor.fit.camera``)."""
    from lasor.fit.camera import default_focal

    return focal_length or default_focal(image_hw[1], image_hw[0])


def assemble_results(
    items: list,
    pred,
    bout,
    body,
    focal_length: float | None = None,
    cam_t: np.ndarray | None = None,
    extra: dict | None = None,
    focals: list[float] | None = None,
    height: float | None = None,
) -> list:
    """One ``PersonResult`` per person, in the camera frame of its photo (step 6).

    Args:
        pred: ``RegressorOutput`` of the N people. bout: the posed bodies (``pose_bodies``).
        cam_t: optional (N, 3) translations replacing ``place_camera``'s (e.g. smoothed video,
            or fitted).
        focals: optional per-person focal lengths (pixels) replacing ``focal_length``.
        extra: copied into every result's ``extra``.
        height: the people's known standing height (metres), see `apply_height`.
    """
    from lasor.body.rotations import rotmat_to_axis_angle
    from lasor.io.results import PersonResult

    faces = bout.faces.cpu().numpy().astype(np.int32)
    sizes = body_sizes(body, pred.shape)
    results = []
    for k, (image, obs, box, name, pidx) in enumerate(items):
        h, w = image.shape[:2]
        focal = focals[k] if focals is not None else focal_for((h, w), focal_length)
        t = place_camera(pred.cam[k].cpu().numpy(), box, (h, w), focal)
        if cam_t is not None:
            t = np.asarray(cam_t[k], np.float32)
        verts = bout.vertices[k].cpu().numpy() + t
        j_coco = bout.keypoints_coco[k].cpu().numpy() + t
        j2d = focal * j_coco[:, :2] / j_coco[:, 2:3] + [w / 2, h / 2]
        go = pred.global_orient[k].cpu()
        bp = pred.body_pose[k].cpu()
        results.append(
            PersonResult(
                image=name,
                person=pidx,
                body_model=body.name,
                body_model_version=body.version,
                pose_bones=list(body.pose_bones),
                shape_names=list(body.shape_names),
                global_orient_rotmat=go.numpy(),
                global_orient_aa=rotmat_to_axis_angle(go).numpy(),
                body_pose_rotmat=bp.numpy(),
                body_pose_aa=rotmat_to_axis_angle(bp).numpy(),
                shape=pred.shape[k].cpu().numpy(),
                cam_weak=pred.cam[k].cpu().numpy(),
                crop_box=box.as_array(),
                focal_length=focal,
                principal_point=np.array([w / 2, h / 2], np.float32),
                cam_t=t,
                vertices=verts.astype(np.float32),
                faces=faces,
                joints3d_coco=j_coco.astype(np.float32),
                joints3d_h36m=(bout.joints_h36m[k].cpu().numpy() + t).astype(np.float32),
                joints2d_coco=j2d.astype(np.float32),
                observed_keypoints=obs.keypoints,
                observed_confidence=obs.confidence,
                bbox=obs.bbox,
                frontend=obs.source,
                extra=dict(extra or {}),
                **sizes[k],
            )  # fmt: skip
        )
    return [apply_height(r, height) for r in results] if height else results


def body_sizes(body, shape: torch.Tensor) -> list[dict[str, float]]:
    """`lasor.body.measure` of each body's unposed mesh (each distinct shape measured once: a
    video track's frames share one)."""
    from lasor.body.measure import measure

    rows = shape.detach().cpu().numpy()
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    m = measure(body, uniq)
    return [m.row(int(i)) for i in np.ravel(inv)]


def apply_height(result, height: float):
    """A result scaled so that its body stands ``height`` metres tall (``scale_source``
    "height_given"): vertices, 3D joints, ``cam_t`` and the measurements are multiplied by
    ``height / height_m`` about the camera centre, so every 2D projection stays as it was.

    Returns:
        a new ``PersonResult``; the input is not modified.
    """
    from lasor.body.measure import MEASUREMENT_NAMES

    if not height or height <= 0:
        raise ValueError(f"height must be a positive number of metres, got {height!r}")
    s = float(height) / result.height_m
    lengths = {k: getattr(result, k) * s for k in MEASUREMENT_NAMES}
    return dataclasses.replace(
        result, vertices=(result.vertices * s).astype(np.float32),
        joints3d_coco=(result.joints3d_coco * s).astype(np.float32),
        joints3d_h36m=(result.joints3d_h36m * s).astype(np.float32),
        cam_t=(result.cam_t * s).astype(np.float32), scale=result.scale * s,
        scale_source="height_given", **lengths,
    )  # fmt: skip


def run_people(
    predictor: Predictor, items: list, opts: PredictOptions, timing: dict | None = None
) -> tuple[list, torch.Tensor]:
    """Steps 3-6 for a batch of people: regress [-> refine] -> pose -> place -> assemble.

    Args:
        items: ``PersonItem`` (or ``(image, observation, crop_box, image_name, person_index)``).
        timing: optional dict accumulating seconds under "proxy", "regression" and "refine".

    Returns:
        (list of PersonResult, proxy tensor (N, C, R, R)).
    """
    timing = {} if timing is None else timing
    per_photo: dict[str, float] = {}  # the EXIF of a photo with several people is read once
    for it in items:
        if it[3] not in per_photo:
            per_photo[it[3]] = _focal(it[3], it[0].shape[:2], opts)
    focals = [per_photo[it[3]] for it in items]
    reg = regress(predictor, items, timing, focals)
    t = time.perf_counter()
    pred = reg.pred
    refine_steps = opts.refine.steps if opts.refine is not None else 0
    if refine_steps > 0:
        timing["regression"] = timing.get("regression", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        pred = refine_people(predictor, reg, items, opts.refine)
        timing["refine"] = timing.get("refine", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
    cam_ts = np.stack(
        [
            place_camera(pred.cam[k].cpu().numpy(), it[2], it[0].shape[:2], focals[k])
            for k, it in enumerate(items)
        ]
    )
    fit_steps = 0
    if opts.fit is not None and opts.fit.steps > 0:
        timing["regression"] = timing.get("regression", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        body = predictor.fit_body or predictor.body
        pred, cam_ts, fit_steps = _fit(pred, cam_ts, focals, items, body, opts)
        timing["fit"] = timing.get("fit", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
    bout = pose_bodies(predictor.body, pred)
    timing["regression"] = timing.get("regression", 0.0) + time.perf_counter() - t
    extra = {k: v for k, v in (("refine_steps", refine_steps), ("fit_steps", fit_steps)) if v}
    results = assemble_results(
        items, pred, bout, predictor.body, cam_t=cam_ts, extra=extra, focals=focals,
        height=opts.height,
    )  # fmt: skip
    return results, reg.proxy


def regress_people(
    model, body, res: int, items: list, opts: PredictOptions, timing=None, fit_body=None
):
    """``run_people`` for callers holding the loose parts of a ``Predictor``."""
    predictor = Predictor(model, body, res, None, fit_body, opts.device)
    return run_people(predictor, items, opts, timing)


def _write_data(out_dir: Path, stem: str, result, image, proxy) -> list[Path]:
    from lasor.io import mesh
    from lasor.io.results import save_json, save_npz

    return [
        save_npz(out_dir / f"{stem}.npz", result),
        save_json(out_dir / f"{stem}.json", result),
        mesh.write_obj(out_dir / f"{stem}.obj", result.vertices, result.faces),
        mesh.write_ply(out_dir / f"{stem}.ply", result.vertices, result.faces),
    ]


def _write_pictures(out_dir: Path, stem: str, result, image, proxy) -> list[Path]:
    from lasor.io.pictures import write_person_pictures

    write_person_pictures(out_dir, stem, image, result, proxy)
    return [out_dir / f"{stem}_{k}.png" for k in ("overlay", "side", "proxy")]


#: the files of one person: name -> writer(out_dir, stem, result, image, proxy) -> paths.
#: "outputs" always runs; "render" only with ``PredictOptions.render``. More formats (glTF,
#: BVH, ...) are added here, each timed under its own name.
WRITERS: dict[str, Callable] = {"outputs": _write_data, "render": _write_pictures}


def write_person(
    out_dir: Path,
    stem: str,
    result,
    image: np.ndarray,
    proxy: np.ndarray | None,
    render: bool = True,
    timing: dict | None = None,
) -> list[Path]:
    """Write one person's files (step 7): ``<stem>.npz/.json/.obj/.ply`` [+ the pictures].

    Raises whatever the writers raise (the caller records it against the photo).
    """
    timing = {} if timing is None else timing
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, writer in WRITERS.items():
        if name == "render" and not render:
            continue
        t = time.perf_counter()
        paths += writer(Path(out_dir), stem, result, image, proxy)
        timing[name] = timing.get(name, 0.0) + time.perf_counter() - t
    return paths


def make_detector(opts: PredictOptions):
    """The photo front end (``opts.frontend``), or None when user keypoints replace it."""
    if opts.keypoints is not None:
        return None
    if opts.frontend not in ("litert", "mediapipe"):
        raise ValueError(f"frontend must be 'litert' or 'mediapipe', got {opts.frontend!r}")
    if opts.frontend == "litert":
        from lasor.frontend.blazepose import BlazePose

        return BlazePose()
    from lasor.frontend.mediapipe_pose import MediaPipePose

    detector = MediaPipePose()
    try:  # multi-person front end (issue 17); without LiteRT: one person per photo
        from lasor.frontend.people import MultiPersonFrontend

        return MultiPersonFrontend(detector)
    except ImportError as e:
        log.warning("%s; finding one person per photo", e)
        return detector


class Interrupted(KeyboardInterrupt):
    """SIGTERM during ``predict`` (raised by its signal handler; summary.json is written)."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises `Interrupted` like Ctrl-C raises
    KeyboardInterrupt, so ``predict`` can write its summary before the process ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001 - signal's signature
        raise Interrupted("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # no signals here (embedded interpreter, ...)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def nonfinite_fields(result) -> list[str]:
    """Names of a ``PersonResult``'s float arrays that hold NaN or infinity."""
    bad = []
    for k, v in result.arrays(with_mesh=True).items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            bad.append(k)
    return bad


def predict(
    images: list[Path],
    out_dir: Path,
    opts: PredictOptions,
    progress: bool = True,
    predictor: Predictor | None = None,
    detector=None,
) -> dict:
    """Run the whole pipeline on photos; returns (and writes) the run summary.

    ``predictor`` / ``detector``: already built ones to reuse (``lasor.Estimator`` does); by
    default they are built from ``opts`` (and the detector is closed at the end).

    Every photo's outcome is recorded in ``<out_dir>/summary.json``: ``ok``, ``error`` (any
    exception of that photo, which never stops the others), ``warnings`` (implausible inputs,
    :mod:`lasor.frontend.checks`) and its people. Files are written atomically
    (:mod:`lasor.io.atomic`), each batch as soon as it is done, and summary.json is rewritten
    after each batch; on Ctrl-C or SIGTERM it is written with ``"interrupted"`` set (and the
    photos not done marked so) before the KeyboardInterrupt goes on. Output stems are reserved
    for the whole batch first (:func:`lasor.io.stems.reserve_stems`); files of a photo's stem
    that this run did not write (``_pN`` of people no longer found, ...) are removed.
    """
    from lasor.io.atomic import remove_stale_temporaries, write_text
    from lasor.io.stems import reserve_stems

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: the output path is a file; expected a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)
    model_path = opts.model_path or shipped_model_path()
    t0 = time.perf_counter()
    if predictor is None:
        predictor = load_predictor(model_path, opts)
    own_detector = detector is None
    if own_detector:
        detector = make_detector(opts)
    summary: dict = {"model": str(model_path), "images": [], "failed": 0, "people": 0}
    summary["refine"] = None if opts.refine is None else dataclasses.asdict(opts.refine)
    summary["fit"] = None if opts.fit is None else dataclasses.asdict(opts.fit)
    summary["interrupted"] = None
    summary["scale"] = "height_given" if opts.height else "body_model"  # PersonResult.scale_source
    run = _Batch(out_dir, opts, predictor, summary, reserve_stems(images))

    def write_summary(final: bool) -> None:
        n = max(len(images), 1)
        summary["finished"] = final
        summary["timing_ms_per_photo"] = {k: round(v * 1000 / n, 2) for k, v in run.timing.items()}
        if "fit" in run.timing:
            fit_ms = run.timing["fit"] * 1000 / max(summary["people"], 1)
            summary["fit_ms_per_person"] = round(fit_ms, 1)
        summary["wall_s"] = round(time.perf_counter() - t0, 2)
        write_text(out_dir / "summary.json", json.dumps(summary, indent=1) + "\n")

    it = images
    if progress:
        from tqdm import tqdm

        it = tqdm(images, desc="predict", unit="photo")
    try:
        with _sigterm_raises():
            for ipath in it:
                run.front_end(Path(ipath), detector)
                if len(run.pending) >= opts.batch_size:
                    run.flush()
                    write_summary(False)
            run.flush()
    except KeyboardInterrupt as e:
        summary["interrupted"] = "SIGTERM" if isinstance(e, Interrupted) else "KeyboardInterrupt"
        run.interrupted([Path(p) for p in images])
        write_summary(False)
        raise
    finally:
        if own_detector and detector is not None:
            detector.close()
    write_summary(True)
    return summary


class _Batch:
    """The state of one ``predict`` run: pending people, entries, stems, written files."""

    def __init__(self, out_dir: Path, opts: PredictOptions, predictor, summary, stems) -> None:
        self.out_dir, self.opts, self.predictor, self.summary = out_dir, opts, predictor, summary
        self.stems: dict[str, str] = stems  # image path -> reserved output stem
        self.timing = {"frontend": 0.0, "proxy": 0.0, "regression": 0.0, "outputs": 0.0,
                       "render": 0.0}  # fmt: skip
        if opts.refine is not None and opts.refine.steps > 0:
            self.timing["refine"] = 0.0
        if opts.fit is not None and opts.fit.steps > 0:
            self.timing["fit"] = 0.0
        self.pending: list[tuple[Path, PersonItem]] = []
        self.entries: dict[str, dict] = {}
        self.expected: dict[str, int] = {}  # image path -> people sent to the regressor
        self.finished: dict[str, list] = {}  # image path -> (person index, result) done
        self.written: dict[str, set[str]] = {}  # image path -> file names written
        self._images: dict[str, np.ndarray] = {}  # photos with several people (all-overlay)

    def fail(self, ipath: Path, message: str) -> None:
        entry = self.entries[str(ipath)]
        if entry["ok"]:
            self.summary["failed"] += 1
        entry["ok"] = False
        entry["error"] = message if entry["error"] is None else f"{entry['error']}; {message}"
        log.warning("%s", message)

    def warn(self, ipath: Path, messages: list[str]) -> None:
        for m in messages:
            self.entries[str(ipath)]["warnings"].append(m)
            log.warning("%s: %s", ipath, m)

    def front_end(self, ipath: Path, detector) -> None:
        """Read, observe and check one photo; its people join ``pending``."""
        from lasor.frontend.checks import observation_warnings
        from lasor.frontend.files import load_image

        entry = {"image": str(ipath), "ok": True, "people": [], "error": None, "warnings": []}
        self.entries[str(ipath)] = entry
        self.summary["images"].append(entry)
        try:
            t = time.perf_counter()
            image = load_image(ipath, self.opts.max_pixels)
            people = observe(ipath, image, self.opts, detector)
            self.timing["frontend"] += time.perf_counter() - t
            if not people:
                raise FrontendError(ipath, "no person found")
            for k, o in enumerate(people):
                self.warn(ipath, observation_warnings(o, image.shape[:2], f"person {k}"))
            items = person_items(image, people, str(ipath))
        except (FrontendError, ValueError, OSError) as e:
            self.fail(ipath, str(e))
            return
        except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
            log.debug("%s failed", ipath, exc_info=True)
            self.fail(ipath, f"{ipath}: {type(e).__name__}: {e}")
            return
        self.expected[str(ipath)] = len(items)
        if len(items) > 1 and self.opts.render:
            self._images[str(ipath)] = image
        self.pending.extend((ipath, item) for item in items)

    def flush(self) -> None:
        """Regress and write the pending people; never raises (failures go to their photos)."""
        from lasor.io.export import write_exports
        from lasor.io.stems import person_stem

        batch = list(self.pending)
        self.pending.clear()
        if not batch:
            return
        opts = self.opts
        try:
            results, proxy = run_people(self.predictor, [it for _, it in batch], opts, self.timing)
        except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
            log.debug("regression failed", exc_info=True)
            for ipath, _ in batch:
                self.fail(ipath, f"{ipath}: regression failed: {type(e).__name__}: {e}")
                self._count(ipath, None, None)
            return
        for k, ((ipath, item), r) in enumerate(zip(batch, results, strict=True)):
            base = self.stems[str(ipath)]
            stem = person_stem(base, item.person)
            bad = nonfinite_fields(r)
            if bad:
                self.fail(ipath, f"{ipath}: person {item.person}: non-finite result "
                                 f"({', '.join(bad[:6])}); nothing written for {stem}")  # fmt: skip
                self._count(ipath, None, None)
                continue
            try:
                paths = write_person(
                    self.out_dir, stem, r, item.image, proxy[k].cpu().numpy(), opts.render,
                    self.timing,
                )  # fmt: skip
                if opts.export:  # --export glb,bvh
                    t = time.perf_counter()
                    paths += write_exports(self.out_dir, stem, r, self.predictor.body, opts.export)
                    self.timing["export"] = self.timing.get("export", 0.0) + time.perf_counter() - t
            except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
                log.debug("writing %s failed", stem, exc_info=True)
                self.fail(ipath, f"{ipath}: writing {stem}.* failed: {type(e).__name__}: {e}")
                self._count(ipath, None, None)
                continue
            self.written.setdefault(str(ipath), set()).update(Path(p).name for p in paths)
            self.entries[str(ipath)]["people"].append({"stem": stem, "frontend": item.obs.source})
            self.summary["people"] += 1
            self._count(ipath, item.person, r)

    def _count(self, ipath: Path, person: int | None, result) -> None:
        """One of a photo's people is done (result None: failed); the last one closes it."""
        from lasor.io.pictures import write_all_overlay

        done = self.finished.setdefault(str(ipath), [])
        done.append((person, result))
        if len(done) < self.expected.get(str(ipath), 0):
            return
        ok = [(p, r) for p, r in done if r is not None]
        base = self.stems[str(ipath)]
        if self.opts.render and len(ok) > 1:
            results = [r for _, r in sorted(ok, key=lambda t: t[0])]
            try:
                path = write_all_overlay(self.out_dir, base, self._images.pop(str(ipath)), results)
                self.written.setdefault(str(ipath), set()).add(path.name)
            except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
                self.fail(ipath, f"{ipath}: writing {base}_all_overlay.png failed: {e}")
        self._images.pop(str(ipath), None)
        if ok:  # a photo that failed keeps an earlier run's files
            self.photo_done(ipath)

    def photo_done(self, ipath: Path) -> None:
        """Remove files of the photo's stem that this run did not write (an earlier run's)."""
        from lasor.io.stems import owned_files

        keep = self.written.get(str(ipath), set())
        base = self.stems[str(ipath)]
        stale = [p for p in owned_files(self.out_dir, base) if p.name not in keep]
        for p in stale:
            try:
                p.unlink()
            except OSError as e:
                log.warning("%s: cannot remove the stale %s: %s", ipath, p, e)
        if stale:
            self.entries[str(ipath)]["removed_stale"] = [p.name for p in stale]

    def interrupted(self, images: list[Path]) -> None:
        """Mark the photos an interruption left undone."""
        for key, n in self.expected.items():
            if len(self.finished.get(key, [])) < n:
                self.fail(Path(key), f"{key}: not all people written (interrupted)")
        for ipath in images:
            if str(ipath) not in self.entries:
                self.summary["images"].append(
                    {
                        "image": str(ipath),
                        "ok": False,
                        "people": [],
                        "warnings": [],
                        "error": f"{ipath}: not processed (interrupted)",
                    }  # fmt: skip
                )
                self.summary["failed"] += 1


#: bundled example photos (NASA, public domain; see ``lasor/data/examples/NOTICE.md``)
EXAMPLES = {"full": "aldrin.jpg", "portrait": "astronaut.jpg"}


def example_photo(name: str = "full") -> Path:
    """A bundled example photo: ``"full"`` (``lasor predict --example``, a whole standing
    person) or ``"portrait"`` (a waist-up portrait, the truncation example)."""
    import importlib.resources

    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose from {list(EXAMPLES)}")
    return Path(str(importlib.resources.files("lasor.data") / "examples" / EXAMPLES[name]))
