"""Every person in a photo: MediaPipe's BlazePose detector, run offline with LiteRT.

The mediapipe wheel ships the BlazePose person detector
(``mediapipe/modules/pose_detection/pose_detection.tflite``) that its legacy Pose solution runs
internally, but the solution keeps only the best detection. `PersonDetector` runs that model
itself with LiteRT (``ai-edge-litert``, a CPU wheel; nothing is downloaded) and keeps them all:

1. the photo is letterboxed (aspect kept, black border, MediaPipe's sampling, `letterbox`) to
   224 x 224, values in [-1, 1];
2. 2254 SSD anchors (`ssd_anchors`, the options of MediaPipe's ``pose_detection_cpu`` graph:
   5 layers, strides 8, 16, 32, 32, 32, scales 0.1484375-0.75, aspect ratio 1, fixed anchor size)
   decode the regressed box and 4 alignment keypoints (`decode_detections`); scores are
   sigmoid(clip(logit, +-100));
3. detections above ``score_threshold`` go through weighted non-maximum suppression
   (`weighted_nms`, IoU 0.3, as MediaPipe);
4. each detection's person window is MediaPipe's: a square centred on keypoint 0 (mid-hip) with
   half side = the distance to keypoint 1 (the full-body circle point), scaled by 1.25.

The BlazePose box itself is the *face*; the body window comes from the alignment keypoints.
`MultiPersonFrontend` feeds each window to the per-box MediaPipe path
(`lasor.frontend.mediapipe_pose.MediaPipePose` with ``bbox=``), drops duplicates (two windows
that found the same body), orders people by prominence and keeps their masks apart
(`lasor.frontend.people`).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Detection",
    "PersonDetector",
    "decode_detections",
    "detection_windows",
    "letterbox",
    "ssd_anchors",
    "weighted_nms",
]

log = logging.getLogger(__name__)

INPUT_SIZE = 224
NUM_KEYPOINTS = 4
_INSTALL_HINT = "install it with `pip install ai-edge-litert` (a CPU wheel, ~60 MB)"


@dataclass
class Detection:
    """One BlazePose detection, in original-image pixels.

    Attributes:
        score: sigmoid score in [0, 1].
        face_box: (4,) x0, y0, x1, y1 of the face box the model regresses.
        keypoints: (4, 2) alignment keypoints: mid-hip, full-body circle point, mid-shoulder,
            upper-body circle point.
        window: (4,) x0, y0, x1, y1 of the square person window (MediaPipe's ROI, unrotated).
    """

    score: float
    face_box: np.ndarray
    keypoints: np.ndarray
    window: np.ndarray

    @property
    def size(self) -> float:
        """Side of the person window, pixels."""
        return float(self.window[2] - self.window[0])


def ssd_anchors(
    input_size: int = INPUT_SIZE,
    strides: tuple[int, ...] = (8, 16, 32, 32, 32),
    anchors_per_layer: int = 2,
    offset: float = 0.5,
) -> np.ndarray:
    """Anchor centres of MediaPipe's SsdAnchorsCalculator with ``fixed_anchor_size`` (w = h = 1).

    Consecutive layers of equal stride share a feature map: each of its cells gets
    ``anchors_per_layer`` anchors per layer (aspect ratio 1 plus the interpolated scale), in
    row-major cell order.

    Returns:
        (N, 2) float32 x, y centres in [0, 1] (N = 2254 for the pose detector).
    """
    out: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 0
        while layer < len(strides) and strides[layer] == stride:
            same += 1
            layer += 1
        fm = math.ceil(input_size / stride)
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing="ij")
        centres = np.stack([(xs + offset) / fm, (ys + offset) / fm], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, same * anchors_per_layer, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


def decode_detections(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    scale: float = INPUT_SIZE,
    score_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw model outputs -> boxes, keypoints and scores above the threshold (normalised units).

    Args:
        raw_boxes: (N, 4 + 2K): x, y, w, h offsets then K keypoint offsets, in input pixels
            relative to the anchor centre (MediaPipe's ``reverse_output_order``).
        raw_scores: (N,) or (N, 1) logits.
        anchors: (N, 2) anchor centres in [0, 1].
        scale: input size (pixels per normalised unit).
        score_threshold: minimum sigmoid score.

    Returns:
        boxes (M, 4) x0, y0, x1, y1; keypoints (M, K, 2); scores (M,), all in letterbox [0, 1].
    """
    raw = np.asarray(raw_boxes, np.float64)
    logits = np.clip(np.asarray(raw_scores, np.float64).reshape(-1), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= score_threshold
    raw, scores, anc = raw[keep], scores[keep], np.asarray(anchors, np.float64)[keep]
    cx = raw[:, 0] / scale + anc[:, 0]
    cy = raw[:, 1] / scale + anc[:, 1]
    w = raw[:, 2] / scale
    h = raw[:, 3] / scale
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = raw[:, 4:].reshape(len(raw), (raw.shape[1] - 4) // 2, 2) / scale + anc[:, None, :]
    return boxes, kp, scores


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` (N, 4) against ``b`` (M, 4), x0, y0, x1, y1 -> (N, M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression.

    Highest score first: every remaining detection overlapping it by IoU > ``iou_threshold`` is
    merged into it (boxes and keypoints averaged, weighted by score) and removed; the merged
    detection keeps the top score.

    Returns:
        list of (box (4,), keypoints (K, 2), score), best first.
    """
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    out = []
    while order:
        top = order[0]
        ious = box_iou(boxes[top], boxes[order])[0]
        group = [order[i] for i in range(len(order)) if ious[i] > iou_threshold or i == 0]
        w = np.asarray(scores)[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kp = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kp, float(scores[top])))
        order = [i for i in order if i not in set(group)]
    return out


def letterbox(image: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float, float, float]:
    """The photo in a ``size`` square, aspect kept, centred, black border, values in [-1, 1].

    As ``ImageToTensorCalculator`` of ``pose_detection_cpu.pbtxt`` (``keep_aspect_ratio``,
    ``border_mode: BORDER_ZERO``, range [-1, 1]), whose OpenCV warp maps the corners of the
    square of side L = max(H, W) centred on the photo onto the output's corners: output pixel
    ``j`` samples photo x ``W / 2 + L * (j / size - 0.5)`` (pixel centres at integers),
    bilinearly, the coordinate rounded to 1/32 pixel and the value to an integer, black outside
    the photo, no anti-aliasing. Emulating that grid and rounding (rather than an anti-aliased
    resize) keeps the detections within ~0.3 photo pixels of MediaPipe's
    (benchmarks/results/blazepose_parity.md): the landmark model is sensitive to its region.

    Returns:
        (size, size, 3) float32 in [-1, 1]; scale (input px per photo px); pad_x, pad_y (input
        px of border left and above the photo).
    """
    from lasor.frontend.roi import Roi, crop

    h, w = image.shape[:2]
    side = float(max(h, w))
    a = side / size
    # crop() samples output pixel j at centre + side * ((j + 0.5) / size - 0.5)
    roi = Roi([w / 2 - a / 2, h / 2 - a / 2], side, 0.0)
    value = crop(image, roi, size, border="zero")
    px, py = (side - w) / 2 / a, (side - h) / 2 / a
    return value / 127.5 - 1.0, 1.0 / a, float(px), float(py)


def detection_windows(keypoints: np.ndarray, scale: float = 1.25) -> np.ndarray:
    """Person windows from alignment keypoints (pixels): (M, 4, 2) or (M, 2, 2) -> (M, 4).

    A square centred on keypoint 0 with side ``2 * scale * |kp1 - kp0|`` (MediaPipe's
    AlignmentPointsRectsCalculator then RectTransformation with scale 1.25, square_long).
    """
    kp = np.asarray(keypoints, np.float64)
    c = kp[:, 0]
    half = scale * np.linalg.norm(kp[:, 1] - kp[:, 0], axis=1)
    return np.stack([c[:, 0] - half, c[:, 1] - half, c[:, 0] + half, c[:, 1] + half], axis=1)


def tile_grid(h: int, w: int, tiles: int, fraction: float) -> list[tuple[int, int, int, int]]:
    """A ``tiles x tiles`` grid of overlapping windows (x0, y0, x1, y1), each ``fraction`` of the
    photo's height and width, spread evenly from edge to edge; [] for ``tiles`` <= 1."""
    if tiles <= 1:
        return []
    tw, th = round(w * fraction), round(h * fraction)
    xs = np.linspace(0, w - tw, tiles).round().astype(int)
    ys = np.linspace(0, h - th, tiles).round().astype(int)
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


def model_file(relative: str) -> Path:
    """A BlazePose model file, found without importing mediapipe.

    ``relative`` is its path under mediapipe's ``modules/`` folder (e.g.
    ``pose_detection/pose_detection.tflite``). Looked up in lasor's own copy
    (``lasor/frontend/models/``, present when the package ships the models) first, then in the
    installed mediapipe wheel.
    """
    own = Path(__file__).resolve().parent / "models" / Path(relative).name
    if own.is_file():
        return own
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"{Path(relative).name} is neither shipped with lasor nor found in a mediapipe "
            "install; install it with `pip install 'lasor[mediapipe]'`"
        )
    p = Path(spec.submodule_search_locations[0]) / "modules" / relative
    if not p.is_file():
        raise FileNotFoundError(f"{p}: missing from this mediapipe wheel")
    return p


def model_path() -> Path:
    """The pose detector (``pose_detection.tflite``, see `model_file`)."""
    return model_file("pose_detection/pose_detection.tflite")


class PersonDetector:
    """BlazePose person detector over the whole photo (all people, not just the best).

    Args:
        score_threshold: minimum detection score (MediaPipe uses 0.5).
        iou_threshold: weighted-NMS overlap (MediaPipe: 0.3).
        num_threads: LiteRT threads (default: ``OMP_NUM_THREADS`` or 2).
        tiles: besides the whole photo, search a ``tiles x tiles`` grid of sub-windows
            (1 = whole photo only: one model run; 2: five runs, on ../shared's COCO + OCHuman one
            more person of 19 found but 0.43 more false bodies per photo,
            benchmarks/results/people_tiles2.md).
        tile_fraction: side of a sub-window as a fraction of the photo's side.
    """

    def __init__(
        self,
        score_threshold: float = 0.5,
        iou_threshold: float = 0.3,
        num_threads: int | None = None,
        tiles: int = 1,
        tile_fraction: float = 0.6,
    ) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ImportError(f"the person detector needs LiteRT; {_INSTALL_HINT}") from exc
        if num_threads is None:
            num_threads = int(os.environ.get("OMP_NUM_THREADS", "2") or 2)
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.tiles = int(tiles)
        self.tile_fraction = float(tile_fraction)
        self._interp: Any = Interpreter(model_path=str(model_path()), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outs = self._interp.get_output_details()
        # the box tensor has 12 values per anchor, the score tensor 1
        self._boxes = next(o["index"] for o in outs if o["shape"][-1] == 4 + 2 * NUM_KEYPOINTS)
        self._scores = next(o["index"] for o in outs if o["shape"][-1] == 1)
        self.anchors = ssd_anchors()

    def _detect_window(self, image: np.ndarray, x0: int, y0: int) -> list[Detection]:
        x, s, px, py = letterbox(image)
        self._interp.set_tensor(self._input, x[None])
        self._interp.invoke()
        raw_boxes = self._interp.get_tensor(self._boxes)[0]
        raw_scores = self._interp.get_tensor(self._scores)[0]
        boxes, kps, scores = decode_detections(
            raw_boxes, raw_scores, self.anchors, score_threshold=self.score_threshold
        )
        if len(scores) == 0:
            return []

        def to_px(v: np.ndarray) -> np.ndarray:  # letterbox [0, 1] -> image pixels (centres)
            v = np.asarray(v, np.float64).reshape(-1, 2) * INPUT_SIZE
            return (v - [px, py]) / s - 0.5 + [x0, y0]

        out = []
        for box, kp, score in weighted_nms(boxes, kps, scores, self.iou_threshold):
            kp_px = to_px(kp)
            out.append(
                Detection(
                    score=score,
                    face_box=to_px(box).reshape(4).astype(np.float32),
                    keypoints=kp_px.astype(np.float32),
                    window=detection_windows(kp_px[None])[0].astype(np.float32),
                )
            )
        return out

    def __call__(self, image: np.ndarray) -> list[Detection]:
        """Detections in an (H, W, 3) uint8 RGB photo, best score first.

        The whole photo is one detector input; with ``tiles`` > 1 a ``tiles x tiles`` grid of
        overlapping sub-windows (each ``tile_fraction`` of the photo's width and height) is
        searched too, for people too small at 224 px. A tile's detection is kept only when its
        face box overlaps no detection kept before (whole photo first, then tiles by score).
        """
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"image must be an (H, W, 3) uint8 RGB array, got {img.dtype} {img.shape}"
            )
        return self.tile_detections(img, self._detect_window(img, 0, 0), self.tiles)

    def tile_detections(
        self, image: np.ndarray, kept: list[Detection], tiles: int
    ) -> list[Detection]:
        """``kept`` followed by the detections of a ``tiles x tiles`` grid of sub-windows whose
        face box overlaps none kept before (tiles by score)."""
        img = np.asarray(image)
        kept = list(kept)
        h, w = img.shape[:2]
        dets: list[Detection] = []
        for x0, y0, x1, y1 in tile_grid(h, w, tiles, self.tile_fraction):
            dets += self._detect_window(np.ascontiguousarray(img[y0:y1, x0:x1]), x0, y0)
        # whole-photo detections first (a tile may cut a body and still score its face higher)
        dets.sort(key=lambda d: -d.score)
        for d in dets:
            if (
                not kept
                or box_iou(d.face_box, np.stack([k.face_box for k in kept])).max()
                <= self.iou_threshold
            ):
                kept.append(d)
        return kept

    def close(self) -> None:
        """Nothing to release (LiteRT frees the interpreter with the object)."""
