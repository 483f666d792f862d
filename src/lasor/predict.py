"""Photos to 3D bodies: front end -> crop + proxy -> regressor -> body model -> files.

``predict`` processes a batch of photos; each person's results go to ``<out>/<stem>[_pN].*``
(photos of the same name from different folders get ``<stem>_2``, ...). One bad photo (unreadable,
no person, a corrupt JSON, a mask of the wrong size, a file that cannot be written) is recorded in
``summary.json`` with a clear message and never stops the batch.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lasor.frontend.types import FrontendError, PersonObservation
from lasor.synth.proxy import crop_observation, encode_proxy, person_box

if TYPE_CHECKING:
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
        focal_length: pixels; default the image diagonal.
        refine: fit each regressed body to its observed keypoints and mask for a few steps
            (:mod:`lasor.refine`); None = the regressor's output as is.
        person: without keypoints or boxes: "all" = every person found (person 0 = the most
            prominent, see `lasor.frontend.people`), "largest" = only the most prominent.
        max_people: at most this many people per photo (None = all).
    """

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
    # --- multi-person front end (issue 17) ---
    person: str = "all"
    max_people: int | None = None


def shipped_model_path() -> Path:
    """The trained model that ships inside the package."""
    import importlib.resources

    return Path(str(importlib.resources.files("lasor.model") / "weights" / "lasor_anny.pt"))


def find_images(inputs: list[str | Path]) -> list[Path]:
    """Expand files and folders into image paths (folders: sorted, by image suffix; no repeats)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
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
        obs = detector(image, bbox=box)
        if obs is not None:
            people.append(_with_mask(obs, mask) if mask is not None else obs)
    return people


def _with_mask(obs: PersonObservation, mask: np.ndarray) -> PersonObservation:
    return PersonObservation(
        keypoints=obs.keypoints, confidence=obs.confidence, bbox=obs.bbox, mask=mask,
        source=obs.source + "+mask",
    )  # fmt: skip


def _read_keypoint_file(path: Path, image_path: Path, hw: tuple[int, int]) -> list:
    from lasor.frontend.files import read_keypoints

    return read_keypoints(path, image=image_path.name, image_size=hw)


def _cam_translation(cam: np.ndarray, box, image_hw: tuple[int, int], focal: float) -> np.ndarray:
    """Weak-perspective (s, tx, ty) in crop NDC -> pinhole translation of the pelvis.

    With crop side ``L`` pixels centred at (ccx, ccy), a weak-perspective pixel is
    ``u = s L / 2 (X + tx) + ccx``; a pinhole camera with focal ``f`` and principal point at the
    image centre gives the same first-order projection at depth ``tz = 2 f / (s L)`` with
    ``Tx = tx + (ccx - cx) tz / f`` (likewise y).
    """
    s, tx, ty = (float(c) for c in cam)
    h, w = image_hw
    tz = 2.0 * focal / max(s * box.size, 1e-6)
    return np.array(
        [tx + (box.cx - w / 2) * tz / focal, ty + (box.cy - h / 2) * tz / focal, tz], np.float32
    )


def load_predictor(model_path: Path, opts: PredictOptions):
    """The regressor, output body model, proxy resolution and fitting body of a model file.

    Returns:
        (model, body, res, fit_body): ``fit_body`` is the training topology's body model when
        ``opts.refine`` is on (fitting on the decimated mesh is ~10x cheaper), else None.
    """
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
    if opts.refine is not None and opts.refine.steps > 0:
        fit_body = body
        if anny and cfg.model.topology != opts.mesh_topology:
            fit_body = load_body_model("anny", topology=cfg.model.topology).to(opts.device)
    return model, body, int(cfg.data.image_size), fit_body


def regress_people(
    model, body, res: int, items: list, opts: PredictOptions, timing=None, fit_body=None
):
    """Proxies -> regressor [-> refinement] -> body model for a batch of observed people.

    Args:
        items: list of ``(image, observation, crop_box, image_name, person_index)``.
        timing: optional dict accumulating seconds under "proxy", "regression" and "refine".
        fit_body: body model for ``opts.refine`` (default ``body``).

    Returns:
        (list of PersonResult, proxy tensor (N, 18, R, R)).
    """
    from lasor.body.rotations import rotmat_to_axis_angle
    from lasor.io.results import PersonResult

    timing = {} if timing is None else timing
    t = time.perf_counter()
    crops = [crop_observation(o.mask, o.keypoints, o.confidence, b, res) for _, o, b, *_ in items]
    sil, joints, conf = (np.stack([c[i] for c in crops]) for i in range(3))
    proxy = encode_proxy(sil, joints, conf).to(opts.device)
    timing["proxy"] = timing.get("proxy", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    with torch.no_grad():
        pred = model(proxy)
    refine_steps = opts.refine.steps if opts.refine is not None else 0
    if refine_steps > 0:
        timing["regression"] = timing.get("regression", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        from lasor.refine import refine_in_crop

        pred = refine_in_crop(
            pred, fit_body or body, joints, conf, sil, res, opts.refine, model.shape_mapping
        )
        timing["refine"] = timing.get("refine", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
    with torch.no_grad():
        bout = body(pred.global_orient, pred.body_pose, pred.shape)
    timing["regression"] = timing.get("regression", 0.0) + time.perf_counter() - t
    results = []
    for k, (image, obs, box, name, pidx) in enumerate(items):
        h, w = image.shape[:2]
        focal = opts.focal_length or float(np.hypot(h, w))
        cam_t = _cam_translation(pred.cam[k].cpu().numpy(), box, (h, w), focal)
        verts = bout.vertices[k].cpu().numpy() + cam_t
        j_coco = bout.keypoints_coco[k].cpu().numpy() + cam_t
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
                cam_t=cam_t,
                vertices=verts.astype(np.float32),
                faces=bout.faces.cpu().numpy().astype(np.int32),
                joints3d_coco=j_coco.astype(np.float32),
                joints3d_h36m=(bout.joints_h36m[k].cpu().numpy() + cam_t).astype(np.float32),
                joints2d_coco=j2d.astype(np.float32),
                observed_keypoints=obs.keypoints,
                observed_confidence=obs.confidence,
                bbox=obs.bbox,
                frontend=obs.source,
                extra={"refine_steps": refine_steps} if refine_steps else {},
            )  # fmt: skip
        )
    return results, proxy


def predict(images: list[Path], out_dir: Path, opts: PredictOptions, progress: bool = True) -> dict:
    """Run the whole pipeline on photos; returns (and writes) the run summary."""
    from lasor.frontend.files import load_image
    from lasor.io.mesh import write_obj, write_ply
    from lasor.io.pictures import write_all_overlay, write_person_pictures
    from lasor.io.results import save_json, save_npz

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = opts.model_path or shipped_model_path()
    t0 = time.perf_counter()
    model, body, res, fit_body = load_predictor(model_path, opts)
    detector = None
    if opts.keypoints is None:
        from lasor.frontend.mediapipe_pose import MediaPipePose

        detector = MediaPipePose()
        try:  # multi-person front end (issue 17); without LiteRT: one person per photo
            from lasor.frontend.people import MultiPersonFrontend

            detector = MultiPersonFrontend(detector)
        except ImportError as e:
            log.warning("%s; finding one person per photo", e)
    summary: dict = {"model": str(model_path), "images": [], "failed": 0, "people": 0}
    summary["refine"] = None if fit_body is None else dataclasses.asdict(opts.refine)
    timing = {"frontend": 0.0, "proxy": 0.0, "regression": 0.0, "outputs": 0.0, "render": 0.0}
    if fit_body is not None:
        timing["refine"] = 0.0

    pending: list[tuple] = []  # (image_path, image, person_index, obs, box)
    entries: dict[str, dict] = {}
    stems: dict[str, str] = {}  # image path -> output stem (unique within the run)
    expected: dict[str, int] = {}  # image path -> people sent to the regressor
    finished: dict[str, list] = {}  # image path -> (person index, result) written so far

    def fail(ipath: Path, message: str) -> None:
        entry = entries[str(ipath)]
        if entry["ok"]:
            summary["failed"] += 1
        entry["ok"] = False
        entry["error"] = message if entry["error"] is None else f"{entry['error']}; {message}"
        log.warning("%s", message)

    def output_stem(ipath: Path) -> str:
        # photos with the same name from different folders must not overwrite each other
        if str(ipath) not in stems:
            used = set(stems.values())
            stem, n = ipath.stem, 2
            while stem in used:
                stem, n = f"{ipath.stem}_{n}", n + 1
            stems[str(ipath)] = stem
        return stems[str(ipath)]

    def flush() -> None:
        # never raises: a failure is recorded against the photo(s) it belongs to
        batch = list(pending)
        pending.clear()
        if not batch:
            return
        items = [(image, obs, box, str(ipath), pidx) for ipath, image, pidx, obs, box in batch]
        try:
            results, proxy = regress_people(model, body, res, items, opts, timing, fit_body)
        except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
            log.debug("regression failed", exc_info=True)
            for ipath, *_ in batch:
                fail(ipath, f"{ipath}: regression failed: {type(e).__name__}: {e}")
            return
        for k, ((ipath, image, pidx, obs, _), r) in enumerate(zip(batch, results, strict=True)):
            base = output_stem(ipath)
            stem = base if pidx == 0 else f"{base}_p{pidx}"
            try:
                t = time.perf_counter()
                save_npz(out_dir / f"{stem}.npz", r)
                save_json(out_dir / f"{stem}.json", r)
                write_obj(out_dir / f"{stem}.obj", r.vertices, r.faces)
                write_ply(out_dir / f"{stem}.ply", r.vertices, r.faces)
                timing["outputs"] += time.perf_counter() - t
                if opts.render:
                    t = time.perf_counter()
                    write_person_pictures(out_dir, stem, image, r, proxy[k].cpu().numpy())
                    timing["render"] += time.perf_counter() - t
            except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
                log.debug("writing %s failed", stem, exc_info=True)
                fail(ipath, f"{ipath}: writing {stem}.* failed: {type(e).__name__}: {e}")
                continue
            entries[str(ipath)]["people"].append({"stem": stem, "frontend": obs.source})
            summary["people"] += 1
            finished.setdefault(str(ipath), []).append((pidx, r))
            if opts.render and len(finished[str(ipath)]) == expected[str(ipath)] > 1:
                done = [x for _, x in sorted(finished[str(ipath)], key=lambda t: t[0])]
                try:
                    write_all_overlay(out_dir, base, image, done)
                except Exception as e:  # noqa: BLE001 - recorded per photo, the batch goes on
                    fail(ipath, f"{ipath}: writing {base}_all_overlay.png failed: {e}")

    it = images
    if progress:
        from tqdm import tqdm

        it = tqdm(images, desc="predict", unit="photo")
    for ipath in it:
        entry = {"image": str(ipath), "ok": True, "people": [], "error": None}
        entries[str(ipath)] = entry
        summary["images"].append(entry)
        try:
            t = time.perf_counter()
            image = load_image(ipath)
            people = observe(ipath, image, opts, detector)
            timing["frontend"] += time.perf_counter() - t
            if not people:
                raise FrontendError(ipath, "no person found")
            boxes = [person_box(o.mask, o.keypoints, o.confidence) for o in people]
        except (FrontendError, ValueError, OSError) as e:
            fail(ipath, str(e))
            continue
        expected[str(ipath)] = len(people)
        pending += [
            (ipath, image, k, o, b) for k, (o, b) in enumerate(zip(people, boxes, strict=True))
        ]
        if len(pending) >= opts.batch_size:
            flush()
    flush()
    if detector is not None:
        detector.close()
    n = max(len(images), 1)
    summary["timing_ms_per_photo"] = {k: round(v * 1000 / n, 2) for k, v in timing.items()}
    summary["wall_s"] = round(time.perf_counter() - t0, 2)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def example_photo() -> Path:
    """The bundled example photo (NASA, public domain): ``lasor predict --example``."""
    import importlib.resources

    return Path(str(importlib.resources.files("lasor.data") / "examples" / "astronaut.jpg"))
