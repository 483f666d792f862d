"""Video in, smoothed motion out: ``lasor predict clip.mp4 -o OUT``.

A clip (a video file decoded by imageio + imageio-ffmpeg, or a folder of frames) goes through
the same steps as a photo (`lasor.predict`), with three differences:

1. the front end tracks (`lasor.frontend.blazepose.BlazePoseTracker`: each frame's region from
   the previous frame's landmarks, the detector again when the pose flag drops; or MediaPipe's
   video mode with ``frontend="mediapipe"``), so the main person is followed from frame to
   frame; a new *track* starts when nobody was seen for ``max_gap_s`` or the box jumps (IoU
   with the previous box < ``min_track_iou``);
2. each track gets one body shape, the median of its per-frame shapes, and is re-posed with it;
3. pose (6D rotations) and pelvis translation are smoothed over time with a One-Euro filter
   (Casiez et al. 2012: a low-pass whose cut-off rises with speed, so slow motion is steadied
   and fast motion lags little); ``benchmarks/video.py`` measures what it does.

Outputs: ``<stem>.npz`` with ``(T, ...)`` arrays and per-frame ``valid``, ``<stem>.json`` (a
summary with per-frame failures), ``<stem>_overlay.mp4`` and ``<stem>_side.mp4``. A frame
without a person is recorded and the clip goes on; a clip that cannot be read (or changes frame
size, or has no person at all) raises `VideoError` naming the file, after writing whatever
frames were done.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lasor.io.atomic import atomic_path, write_text
from lasor.predict import (
    IMAGE_SUFFIXES,
    PersonItem,
    assemble_results,
    pose_bodies,
    refine_people,
    regress,
)
from lasor.synth.proxy import person_box

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


class VideoError(Exception):
    """A clip that cannot be processed (the message starts with the file)."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


@dataclass
class VideoOptions:
    """How a clip is processed.

    Attributes:
        smooth: One-Euro filter pose and translation (False: per-frame results as they are).
        rot_min_cutoff, rot_beta: the filter on the 6D rotations (Hz; 1/speed units).
        trans_min_cutoff, trans_beta: the filter on the pelvis's x and y (Hz; s/m).
        depth_min_cutoff, depth_beta: the filter on its depth z, the noisiest coordinate (a
            weak-perspective scale turned into metres) and the one the image pins down least.
        render: write the overlay and side-view MP4s.
        render_max_side: the overlay video is drawn at most this many pixels on its long side.
        batch_size: frames per regressor call.
        max_frames: stop after this many frames (None: all).
        fps: frame rate of a folder of frames (a video file's own rate is used otherwise).
        min_track_iou: a box overlapping the previous one less than this starts a new track.
        max_gap_s: a gap longer than this without a person starts a new track.
    """

    smooth: bool = True
    rot_min_cutoff: float = 1.0
    rot_beta: float = 4.0
    trans_min_cutoff: float = 1.5
    trans_beta: float = 4.0
    depth_min_cutoff: float = 0.3
    depth_beta: float = 0.5
    render: bool = True
    render_max_side: int = 640
    batch_size: int = 16
    max_frames: int | None = None
    fps: float = 30.0
    min_track_iou: float = 0.1
    max_gap_s: float = 0.5


# ---------------------------------------------------------------- decoding
@dataclass
class Clip:
    """A readable clip: its frames (an iterator of (H, W, 3) uint8 RGB) and frame rate."""

    path: Path
    fps: float
    frames: Iterator[np.ndarray]
    close: object = None
    #: frames the container's index announces (None when unknown)
    indexed_frames: int | None = None


def open_clip(path: str | Path, fps: float = 30.0) -> Clip:
    """Open a video file (imageio-ffmpeg) or a folder of frames (sorted by name).

    Raises:
        VideoError: the file is missing, not a video, or the folder has no images.
    """
    path = Path(path)
    if not path.exists():
        raise VideoError(path, "no such file or folder")
    if path.is_dir():
        files = sorted(q for q in path.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise VideoError(path, "zero frames: the folder has no images (.jpg, .png, ...)")

        def frames() -> Iterator[np.ndarray]:
            from lasor.frontend.files import load_image

            for f in files:
                yield load_image(f)

        return Clip(path, float(fps), frames())
    try:
        import imageio.v2 as iio

        reader = iio.get_reader(str(path), format="FFMPEG")
        meta = reader.get_meta_data()
    except Exception as e:  # noqa: BLE001 - any decoder failure is "unreadable"
        msg = f"not a readable video ({type(e).__name__}: {short_error(e)})"
        raise VideoError(path, msg) from e
    rate = float(meta.get("fps") or fps)
    n, dur = meta.get("nframes"), meta.get("duration")
    indexed = None
    if isinstance(n, (int, float)) and math.isfinite(n) and n > 0:
        indexed = int(n)
    elif isinstance(dur, (int, float)) and math.isfinite(dur) and dur > 0 and math.isfinite(rate):
        indexed = int(round(dur * rate))  # the container's duration x its frame rate

    def frames() -> Iterator[np.ndarray]:
        for f in reader:
            yield np.ascontiguousarray(np.asarray(f)[..., :3], dtype=np.uint8)

    rate = rate if math.isfinite(rate) and rate > 0 else float(fps)
    return Clip(path, rate, frames(), reader, indexed)


def short_error(exc: BaseException, limit: int = 300) -> str:
    """An exception's message without ffmpeg's banner, on one line, shortened.

    imageio's ffmpeg errors are a summary line, then ffmpeg's 18-line version/configuration
    banner, then what went wrong (its last line); this keeps the first and the last line.
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    banner = ("ffmpeg version", "built with", "configuration:", "lib", "Copyright", "===")
    useful = [ln for ln in lines if not ln.startswith(banner)]
    if not useful:
        return type(exc).__name__
    text = useful[0] if len(useful) == 1 else f"{useful[0]}: {useful[-1]}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- smoothing
def one_euro(
    x: np.ndarray, t: np.ndarray, min_cutoff: float, beta: float, d_cutoff: float = 1.0
) -> np.ndarray:
    """One-Euro filter (Casiez et al. 2012) along time.

    Args:
        x: (T, D) samples. t: (T,) increasing times in seconds (gaps allowed).
        min_cutoff: cut-off frequency (Hz) at rest. beta: cut-off increase per unit speed.

    Returns:
        (T, D) filtered samples (a new array; ``x[0]`` is kept as is).
    """
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    out[0] = x[0]
    dx = np.zeros(x.shape[1:])

    def alpha(dt: float, cutoff) -> np.ndarray:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    for i in range(1, len(x)):
        dt = max(float(t[i] - t[i - 1]), 1e-6)
        a_d = alpha(dt, d_cutoff)
        dx = a_d * (x[i] - out[i - 1]) / dt + (1 - a_d) * dx
        a = alpha(dt, min_cutoff + beta * np.abs(dx))
        out[i] = a * x[i] + (1 - a) * out[i - 1]
    return out


def _rotmat_to_6d(r: np.ndarray) -> np.ndarray:
    return np.concatenate([r[..., :, 0], r[..., :, 1]], axis=-1)


def _6d_to_rotmat(d: np.ndarray) -> np.ndarray:
    a, b = d[..., :3], d[..., 3:]
    x = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


# ---------------------------------------------------------------- per-frame regression
@dataclass
class FrameTrack:
    """Per-frame regression of a clip (pass 1), before shape pooling and smoothing.

    Arrays have T rows (all frames); rows of invalid frames are zeros.

    Attributes:
        valid: (T,) bool, a person was found and regressed. track: (T,) int, -1 when invalid.
        time_s: (T,) seconds. global_orient (T, 3, 3), body_pose (T, P, 3, 3), shape (T, S),
        cam (T, 3) weak camera; boxes: crop boxes (None when invalid); observations: the front
        end's observations without masks (None when invalid); failures: per-frame errors.
    """

    path: Path
    fps: float
    image_hw: tuple[int, int]
    valid: np.ndarray
    track: np.ndarray
    time_s: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    shape: np.ndarray
    cam: np.ndarray
    boxes: list
    observations: list
    failures: list[dict] = field(default_factory=list)
    error: str | None = None
    timing: dict = field(default_factory=dict)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def track_clip(est, path: str | Path, opts: VideoOptions, progress: bool = False) -> FrameTrack:
    """Decode, observe (BlazePose tracking, or MediaPipe's video mode with ``--frontend
    mediapipe``) and regress every frame of a clip (pass 1).

    Decoding errors and frame-size changes stop the clip; what was done is kept and the error is
    in ``FrameTrack.error``. Raises `VideoError` when the clip cannot be opened.
    """
    if est.options.keypoints is not None:
        raise VideoError(path, "video needs the BlazePose front end (no --keypoints)")
    clip = open_clip(path, opts.fps)
    predictor, popts = est.predictor, est.options
    timing = {"decode": 0.0, "frontend": 0.0, "proxy": 0.0, "regression": 0.0}
    rows: list[dict] = []
    failures: list[dict] = []
    pending: list[tuple[int, PersonItem]] = []
    hw: tuple[int, int] | None = None
    error = None

    def flush() -> None:
        if not pending:
            return
        items = [it for _, it in pending]
        try:
            reg = regress(predictor, items, timing)
            t = time.perf_counter()
            pred = reg.pred
            if popts.refine is not None and popts.refine.steps > 0:
                pred = refine_people(predictor, reg, items, popts.refine)
            for k, (i, it) in enumerate(pending):
                rows[i].update(
                    go=pred.global_orient[k].cpu().numpy(), bp=pred.body_pose[k].cpu().numpy(),
                    shape=pred.shape[k].cpu().numpy(), cam=pred.cam[k].cpu().numpy(),
                    box=it.box, obs=_without_mask(it.obs),
                )  # fmt: skip
            timing["regression"] += time.perf_counter() - t
        except Exception as e:  # noqa: BLE001 - recorded per frame, the clip goes on
            log.debug("regression failed", exc_info=True)
            for i, _ in pending:
                failures.append({"frame": i, "error": f"regression failed: {e}"})
        pending.clear()

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc=clip.path.name, unit="frame")
    if getattr(popts, "frontend", "litert") == "mediapipe":
        from lasor.frontend.mediapipe_pose import MediaPipePose

        detector = MediaPipePose(static_image_mode=False)
    else:  # BlazePose through LiteRT, the region tracked from frame to frame
        from lasor.frontend.blazepose import BlazePoseTracker

        detector = BlazePoseTracker()
    try:
        frames = iter(clip.frames)
        i = 0
        while opts.max_frames is None or i < opts.max_frames:
            t = time.perf_counter()
            try:
                frame = next(frames)
            except StopIteration:
                break
            except Exception as e:  # noqa: BLE001 - a broken stream ends the clip, keeps frames
                error = f"decoding stopped after {i} frames: {type(e).__name__}: {short_error(e)}"
                break
            timing["decode"] += time.perf_counter() - t
            if hw is None:
                hw = frame.shape[:2]
            elif frame.shape[:2] != hw:
                error = (
                    f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, the clip started at "
                    f"{hw[1]}x{hw[0]}: frame size changed; stopped after {i} frames"
                )
                break
            rows.append({"time": i / clip.fps})
            t = time.perf_counter()
            try:
                obs = detector(frame)
            except Exception as e:  # noqa: BLE001 - recorded per frame, the clip goes on
                obs, msg = None, f"front end failed: {type(e).__name__}: {e}"
            else:
                msg = "no person found"
            timing["frontend"] += time.perf_counter() - t
            if obs is None:
                failures.append({"frame": i, "error": msg})
            else:
                box = person_box(obs.mask, obs.keypoints, obs.confidence)
                pending.append((i, PersonItem(frame, obs, box, f"{clip.path.name}#{i}", 0)))
                if len(pending) >= opts.batch_size:
                    flush()
            i += 1
            if bar is not None:
                bar.update(1)
        flush()
    finally:
        detector.close()
        if bar is not None:
            bar.close()
        if clip.close is not None:
            clip.close.close()
    if not rows:
        raise VideoError(path, error or "zero frames: the clip has no decodable frames")
    n_idx = clip.indexed_frames
    if error is None and opts.max_frames is None and n_idx and len(rows) < 0.95 * n_idx:
        error = (
            f"only {len(rows)} of the {n_idx} frames its index announces could be decoded "
            "(a truncated or damaged file?)"
        )
    return _stack(clip, hw, rows, failures, error, timing, opts)


def _without_mask(obs):
    import dataclasses

    return dataclasses.replace(obs, mask=None)


def _stack(clip, hw, rows, failures, error, timing, opts) -> FrameTrack:
    n = len(rows)
    valid = np.array(["go" in r for r in rows])
    first = next((r for r in rows if "go" in r), None)
    p = first["bp"].shape[0] if first else 0
    s = first["shape"].shape[0] if first else 0

    def col(key, shape):
        out = np.zeros((n, *shape), np.float32)
        for i, r in enumerate(rows):
            if key in r:
                out[i] = r[key]
        return out

    track = np.full(n, -1, np.int64)
    cur, last_i, last_box = -1, None, None
    max_gap = max(1, int(round(opts.max_gap_s * clip.fps)))
    for i, r in enumerate(rows):
        if "go" not in r:
            continue
        box = r["obs"].bbox
        if last_i is None or i - last_i > max_gap or _iou(box, last_box) < opts.min_track_iou:
            cur += 1
        track[i], last_i, last_box = cur, i, box
    return FrameTrack(
        path=clip.path, fps=clip.fps, image_hw=tuple(hw), valid=valid, track=track,
        time_s=np.array([r["time"] for r in rows]), global_orient=col("go", (3, 3)),
        body_pose=col("bp", (p, 3, 3)), shape=col("shape", (s,)), cam=col("cam", (3,)),
        boxes=[r.get("box") for r in rows], observations=[r.get("obs") for r in rows],
        failures=sorted(failures, key=lambda f: f["frame"]), error=error, timing=timing,
    )  # fmt: skip


# ---------------------------------------------------------------- shape pooling, smoothing, posing
@dataclass
class _Params:
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor


@dataclass
class Motion:
    """The clip's bodies over time: (T, ...) arrays (NaN where ``valid`` is False)."""

    arrays: dict[str, np.ndarray]
    fps: float


def smooth_track(ft: FrameTrack, est, opts: VideoOptions, smooth: bool | None = None) -> Motion:
    """Pass 2: one shape per track (median), smoothed pose and translation, posed bodies.

    Returns:
        `Motion` with the per-frame result arrays (those of `PersonResult`), plus ``valid``,
        ``track``, ``time_s``, ``shape_per_frame`` and the unsmoothed ``cam_t_raw``.
    """
    from lasor.predict import focal_for, place_camera

    smooth = opts.smooth if smooth is None else smooth
    n = len(ft.valid)
    go, bp, shape = ft.global_orient.copy(), ft.body_pose.copy(), ft.shape.copy()
    h, w = ft.image_hw
    focal = focal_for((h, w), est.options.focal_length)
    cam_t = np.zeros((n, 3), np.float32)
    for i in np.flatnonzero(ft.valid):
        cam_t[i] = place_camera(ft.cam[i], ft.boxes[i], (h, w), focal)
    cam_t_raw = cam_t.copy()
    for k in np.unique(ft.track[ft.track >= 0]):
        idx = np.flatnonzero(ft.track == k)
        shape[idx] = np.median(ft.shape[idx], axis=0)
        if smooth and len(idx) > 2:
            t = ft.time_s[idx]
            rot = _rotmat_to_6d(np.concatenate([go[idx, None], bp[idx]], axis=1))
            flat = rot.reshape(len(idx), -1)
            sm = one_euro(flat, t, opts.rot_min_cutoff, opts.rot_beta).reshape(rot.shape)
            r = _6d_to_rotmat(sm).astype(np.float32)
            go[idx], bp[idx] = r[:, 0], r[:, 1:]
            xy = one_euro(cam_t[idx, :2], t, opts.trans_min_cutoff, opts.trans_beta)
            z = one_euro(cam_t[idx, 2:], t, opts.depth_min_cutoff, opts.depth_beta)
            cam_t[idx] = np.concatenate([xy, z], axis=1)
    arrays: dict[str, np.ndarray] = {}
    idx_all = np.flatnonzero(ft.valid)
    body = est.predictor.body
    dummy = np.zeros((h, w, 3), np.uint8)[:1, :1]  # assemble reads only the image size
    dummy = np.broadcast_to(dummy, (h, w, 3))
    for s0 in range(0, len(idx_all), max(1, opts.batch_size)):
        idx = idx_all[s0 : s0 + opts.batch_size]
        params = _Params(*(torch.from_numpy(a[idx]) for a in (go, bp, shape, ft.cam)))
        bout = pose_bodies(body, params)
        items = [PersonItem(dummy, ft.observations[i], ft.boxes[i], f"{ft.path.name}#{i}", 0)
                 for i in idx]  # fmt: skip
        results = assemble_results(
            items, params, bout, body, est.options.focal_length, cam_t=cam_t[idx],
            height=est.options.height,
        )  # fmt: skip
        for i, r in zip(idx, results, strict=True):
            for key, v in r.arrays(with_mesh=True).items():
                if v.dtype.kind in "US" or key == "faces":
                    arrays.setdefault(key, v)  # the same in every frame
                    continue
                if key not in arrays:
                    fill = np.nan if v.dtype.kind == "f" else 0
                    arrays[key] = np.full((n, *v.shape), fill, v.dtype)
                arrays[key][i] = v
    for k in ("image", "frontend", "person"):
        arrays.pop(k, None)
    arrays["valid"] = ft.valid.copy()
    arrays["track"] = ft.track.copy()
    arrays["time_s"] = ft.time_s.astype(np.float32)
    arrays["shape_per_frame"] = np.where(ft.valid[:, None], ft.shape, np.nan).astype(np.float32)
    arrays["cam_t_raw"] = np.where(ft.valid[:, None], cam_t_raw, np.nan).astype(np.float32)
    arrays["smoothed"] = np.asarray(bool(smooth))
    arrays["fps"] = np.asarray(ft.fps, np.float32)
    return Motion(arrays, ft.fps)


# ---------------------------------------------------------------- writing
def write_videos(
    motion: Motion,
    path: Path,
    out_dir: Path,
    stem: str,
    opts: VideoOptions,
    progress: bool = False,
) -> list[Path]:
    """``<stem>_overlay.mp4`` (the mesh on the frames) and ``<stem>_side.mp4`` (side view)."""
    import imageio.v2 as iio
    from PIL import Image

    from lasor.io.pictures import _draw_skeleton
    from lasor.render.overlay import render_overlay, render_side_view

    a = motion.arrays
    faces = a["faces"]
    clip = open_clip(path, motion.fps)
    fps = float(motion.fps)
    paths = [out_dir / f"{stem}_overlay.mp4", out_dir / f"{stem}_side.mp4"]
    kw = {"fps": fps, "codec": "libx264", "quality": 7, "macro_block_size": 16}
    frames = clip.frames
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc=f"{stem} videos", unit="frame", total=len(a["valid"]))
    with (
        atomic_path(paths[0]) as tmp_o, atomic_path(paths[1]) as tmp_s,
        iio.get_writer(tmp_o, **kw) as wo, iio.get_writer(tmp_s, **kw) as ws,
    ):  # fmt: skip
        for i, frame in enumerate(frames):
            if i >= len(a["valid"]):
                break
            h, w = frame.shape[:2]
            scale = min(1.0, opts.render_max_side / max(h, w))
            sw, sh = (int(round(w * scale / 16)) * 16, int(round(h * scale / 16)) * 16)
            small = np.asarray(Image.fromarray(frame).resize((sw, sh), Image.BILINEAR))
            sx, sy = sw / w, sh / h
            if a["valid"][i]:
                f = float(a["focal_length"][i])
                v = a["vertices"][i].astype(np.float64)
                # resizing the frame scales the focal length and principal point per axis
                over = render_overlay(small, v, faces, (f * sx, f * sy), (sw / 2, sh / 2))
                pic = Image.fromarray(over)
                r = max(2, int(round(max(sw, sh) / 150)))
                _draw_skeleton(pic, a["joints2d_coco"][i] * [sx, sy], None, (220, 30, 30), r)
                over = np.asarray(pic)
                side = render_side_view(v, faces, 384, angle_deg=90.0)
            else:
                over = small
                side = np.full((384, 384, 3), 255, np.uint8)
            wo.append_data(over)
            ws.append_data(side)
    if clip.close is not None:
        clip.close.close()
    return paths


def predict_video(
    est,
    path: str | Path,
    out_dir: str | Path,
    opts: VideoOptions | None = None,
    progress: bool = False,
) -> dict:
    """A clip -> ``<stem>.npz``, ``<stem>.json``, ``<stem>_overlay.mp4``, ``<stem>_side.mp4``.

    Args:
        est: a `lasor.Estimator` (its model, refinement and focal length are used).

    Returns:
        the summary written to ``<stem>.json``. Raises `VideoError` (after writing what was
        done) for an unreadable clip, zero frames, no person in any frame, a frame size change.
    """
    opts = opts or VideoOptions()
    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = path.stem if path.is_file() else path.name
    t0 = time.perf_counter()
    ft = track_clip(est, path, opts, progress=progress)
    t1 = time.perf_counter()
    n_ok = int(ft.valid.sum())
    summary: dict = {
        "clip": str(path), "stem": stem, "frames": len(ft.valid), "frames_ok": n_ok,
        "fps": ft.fps, "image_size": [ft.image_hw[1], ft.image_hw[0]],
        "tracks": int(ft.track.max() + 1) if n_ok else 0, "smoothed": opts.smooth,
        "failures": ft.failures, "error": ft.error, "outputs": [],
    }  # fmt: skip
    if n_ok:
        motion = smooth_track(ft, est, opts)
        with atomic_path(out_dir / f"{stem}.npz") as tmp:
            np.savez(tmp, **motion.arrays)
        summary["outputs"].append(f"{stem}.npz")
        t1 = time.perf_counter()
        if opts.render:
            try:
                written = write_videos(motion, path, out_dir, stem, opts, progress)
                summary["outputs"] += [p.name for p in written]
            except Exception as e:  # noqa: BLE001 - the motion is written; report the videos
                log.warning("%s: writing the videos failed: %s", path, e)
                summary["render_error"] = f"{type(e).__name__}: {e}"
    t2 = time.perf_counter()
    ft.timing = {k: round(v * 1000 / max(len(ft.valid), 1), 2) for k, v in ft.timing.items()}
    summary["timing_ms_per_frame"] = ft.timing
    # frames per second up to the .npz (decoding, front end, regression, smoothing, posing)
    summary["fps_processed"] = round(len(ft.valid) / max(t1 - t0, 1e-9), 2)
    summary["render_s"] = round(t2 - t1, 2)
    summary["wall_s"] = round(t2 - t0, 2)
    write_text(out_dir / f"{stem}.json", json.dumps(summary, indent=1) + "\n")
    if not n_ok:
        raise VideoError(path, f"no person found in any of its {len(ft.valid)} frames")
    if ft.error:
        raise VideoError(path, f"{ft.error} (the {len(ft.valid)} frames done are written)")
    return summary
