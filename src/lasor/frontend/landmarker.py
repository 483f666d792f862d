"""BlazePose's landmark model (``pose_landmark_full.tflite``) on one region, through LiteRT.

What ``PoseLandmarkByRoiCpu`` of the legacy MediaPipe Pose graph does, in lasor's own code
(``mediapipe/modules/pose_landmark/pose_landmark_by_roi_cpu.pbtxt`` and
``tensors_to_pose_landmarks_and_segmentation.pbtxt``):

1. the region (`lasor.frontend.roi.Roi`) is cropped to 256 x 256 on MediaPipe's sampling grid
   (`lasor.frontend.roi.mediapipe_grid`), values in [0, 1];
2. the model returns five tensors: 39 landmarks x (x, y, z, visibility, presence) in crop
   pixels (``Identity``), the pose flag (``Identity_1``, a probability), the segmentation
   logits (``Identity_2``, 256 x 256), a 64 x 64 x 39 heatmap (``Identity_3``) and 39 world
   landmarks x (x, y, z) in metres (``Identity_4``);
3. ``TensorsToLandmarksCalculator``: x, y, z divided by 256; visibility and presence through a
   sigmoid (``visibility_activation: SIGMOID``, ``presence_activation: SIGMOID``);
4. ``RefineLandmarksFromHeatmapCalculator`` (``kernel_size: 7``, the proto's default
   ``min_confidence_to_refine: 0.5``): x, y become the sigmoid-heatmap-weighted mean cell
   (``col / 64``, ``row / 64``) in the 7 x 7 cells around the landmark when the largest of those
   sigmoids is at least 0.5;
5. landmarks 0-32 are the pose, 33-34 auxiliary (hip centre, full-body scale point: the next
   frame's region); world landmarks 0-32 get the pose's visibility and presence
   (``VisibilityCopyCalculator``);
6. the mask is sigmoid(logits) (``TensorsToSegmentationCalculator``, ``activation: SIGMOID``);
7. all goes back to the photo (`lasor.frontend.roi`): landmarks through the region, world
   landmarks turned by its rotation, the mask warped back.

``ThresholdingCalculator`` (``threshold: 0.5``, the legacy solution's ``min_tracking_confidence``)
drops the result when the pose flag is below it; here the caller decides (`LandmarkResult.score`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from lasor.frontend.roi import Roi, crop, mediapipe_grid, roi_from_points, unwarp

__all__ = ["LandmarkResult", "PoseLandmarker", "decode_landmarks", "refine_from_heatmap"]

log = logging.getLogger(__name__)

INPUT_SIZE = 256
NUM_ALL = 39  # 33 pose + 6 auxiliary landmarks in the model's tensors
NUM_POSE = 33
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float64)))  # no overflow


def refine_from_heatmap(
    uv: np.ndarray,
    heatmap: np.ndarray,
    kernel_size: int = HEATMAP_KERNEL,
    min_confidence: float = HEATMAP_MIN_CONFIDENCE,
) -> np.ndarray:
    """MediaPipe's ``RefineLandmarksFromHeatmapCalculator`` (see the module doc).

    Args:
        uv: (L, 2) landmark x, y normalised to the crop ([0, 1]).
        heatmap: (h, w, L) raw heatmap logits.
        kernel_size: side of the window of cells around each landmark.
        min_confidence: a landmark moves only when its window's largest sigmoid reaches this.

    Returns:
        (L, 2) float64 refined x, y (unchanged where the heatmap is unsure or the landmark is
        outside it).
    """
    hm = _sigmoid(heatmap)
    hh, hw, n = hm.shape
    out = np.array(uv, np.float64, copy=True)
    off = (kernel_size - 1) // 2
    for k in range(n):
        col, row = int(uv[k, 0] * hw), int(uv[k, 1] * hh)  # C++ float -> int truncation
        if uv[k, 0] * hw < 0 or uv[k, 1] * hh < 0 or col >= hw or row >= hh:
            continue
        r0, r1 = max(0, row - off), min(hh, row + off + 1)
        c0, c1 = max(0, col - off), min(hw, col + off + 1)
        win = hm[r0:r1, c0:c1, k]
        total = win.sum()
        if win.max() >= min_confidence and total > 0:
            rows, cols = np.mgrid[r0:r1, c0:c1]
            out[k] = [(cols * win).sum() / hw / total, (rows * win).sum() / hh / total]
    return out


def decode_landmarks(
    raw: np.ndarray, heatmap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The landmark tensor -> crop-normalised landmarks, visibility, presence.

    Args:
        raw: (195,) = 39 x (x, y, z, visibility logit, presence logit), x, y, z in crop pixels.
        heatmap: (64, 64, 39) logits for `refine_from_heatmap`, or None to skip it.

    Returns:
        landmarks (39, 3) float64: x, y in [0, 1] of the crop, z / 256; visibility (39,) and
        presence (39,) float64 in [0, 1].
    """
    t = np.asarray(raw, np.float64).reshape(NUM_ALL, 5)
    lm = t[:, :3] / INPUT_SIZE
    if heatmap is not None:
        lm[:, :2] = refine_from_heatmap(lm[:, :2], heatmap)
    return lm, _sigmoid(t[:, 3]), _sigmoid(t[:, 4])


@dataclass
class LandmarkResult:
    """The landmark model's answer for one region, in photo pixels.

    Attributes:
        landmarks: (33, 3) float32: x, y photo pixels, z in the same pixel scale (smaller =
            nearer; MediaPipe's z times the region side).
        visibility: (33,) float32 in [0, 1].
        presence: (33,) float32 in [0, 1].
        world_landmarks: (33, 3) float32 metres, origin between the hips, x right, y down, z away
            from the camera (MediaPipe's ``pose_world_landmarks``).
        auxiliary: (2, 2) float32 photo pixels of landmarks 33, 34 (hip centre, scale point).
        score: the pose flag in [0, 1] (MediaPipe keeps the result when >= 0.5).
        roi: the region that was cropped.
        mask: (h, w) float32 person probability over ``mask_window`` of the photo (the window
            around where it exceeds 0.01; 0 elsewhere is implied), or None.
        mask_window: (x0, y0, x1, y1) integer photo window of ``mask``, or None.
    """

    landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world_landmarks: np.ndarray
    auxiliary: np.ndarray
    score: float
    roi: Roi
    mask: np.ndarray | None = None
    mask_window: tuple[int, int, int, int] | None = None

    def next_roi(self) -> Roi:
        """The region for the next video frame (``pose_landmarks_to_roi.pbtxt``)."""
        return roi_from_points(self.auxiliary[0], self.auxiliary[1])

    def full_mask(self, image_hw: tuple[int, int], threshold: float = 0.5) -> np.ndarray:
        """(H, W) bool: mask probability > ``threshold`` over the whole photo."""
        out = np.zeros(image_hw, bool)
        if self.mask is not None and self.mask_window is not None:
            x0, y0, x1, y1 = self.mask_window
            out[y0:y1, x0:x1] = self.mask > threshold
        return out


def _support(prob: np.ndarray, floor: float = 0.01) -> tuple[float, float, float, float] | None:
    """Crop coordinates u0, v0, u1, v1 of the cells above ``floor``, one cell wider each side
    (outside it the bilinear warp only mixes values below ``floor``: below any mask threshold
    a caller would use); the whole crop when nothing is above it."""
    n = prob.shape[0]
    rows = np.flatnonzero((prob > floor).any(axis=1))
    cols = np.flatnonzero((prob > floor).any(axis=0))
    if not len(rows):
        return None
    return (
        max(cols[0] - 1, 0) / n,
        max(rows[0] - 1, 0) / n,
        min(cols[-1] + 2, n) / n,
        min(rows[-1] + 2, n) / n,
    )


def landmark_model_path() -> str:
    """``pose_landmark_full.tflite`` (see `lasor.frontend.detector.model_file`)."""
    from lasor.frontend.detector import model_file

    return str(model_file("pose_landmark/pose_landmark_full.tflite"))


class PoseLandmarker:
    """``pose_landmark_full.tflite`` on a region of a photo (one LiteRT interpreter, one size:
    nothing is re-initialised between regions or photos).

    Args:
        num_threads: LiteRT threads (default: ``OMP_NUM_THREADS`` or 2).
        segmentation: also decode and warp back the mask.
        refine: refine landmarks with the heatmap, as MediaPipe does.
    """

    def __init__(
        self, num_threads: int | None = None, segmentation: bool = True, refine: bool = True
    ) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            from lasor.frontend.detector import _INSTALL_HINT

            raise ImportError(f"the landmark model needs LiteRT; {_INSTALL_HINT}") from exc
        if num_threads is None:
            num_threads = int(os.environ.get("OMP_NUM_THREADS", "2") or 2)
        self.segmentation = bool(segmentation)
        self.refine = bool(refine)
        self._interp: Any = Interpreter(model_path=landmark_model_path(), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outs = {tuple(o["shape"][1:]): o["index"] for o in self._interp.get_output_details()}
        self._out_landmarks = outs[(NUM_ALL * 5,)]
        self._out_flag = outs[(1,)]
        self._out_mask = outs[(INPUT_SIZE, INPUT_SIZE, 1)]
        self._out_heatmap = outs[(64, 64, NUM_ALL)]
        self._out_world = outs[(NUM_ALL * 3,)]

    def run_crop(self, crop_rgb: np.ndarray) -> dict[str, np.ndarray]:
        """The raw model outputs for a (256, 256, 3) float32 crop in [0, 1]."""
        self._interp.set_tensor(self._input, np.ascontiguousarray(crop_rgb[None], np.float32))
        self._interp.invoke()
        g = self._interp.get_tensor
        return {
            "landmarks": g(self._out_landmarks)[0],
            "flag": g(self._out_flag)[0],
            "mask": g(self._out_mask)[0, :, :, 0],
            "heatmap": g(self._out_heatmap)[0],
            "world": g(self._out_world)[0],
        }

    def __call__(self, image: np.ndarray, roi: Roi) -> LandmarkResult:
        """The landmark pass on ``roi`` of an (H, W, 3) uint8 RGB photo."""
        patch = crop(image, mediapipe_grid(roi, INPUT_SIZE), INPUT_SIZE)
        out = self.run_crop(patch * (1.0 / 255.0))
        lm, vis, pres = decode_landmarks(out["landmarks"], out["heatmap"] if self.refine else None)
        xy = roi.to_image(lm[:, :2])
        z = lm[:, 2] * roi.size
        world = roi.rotate_world(np.asarray(out["world"], np.float64).reshape(NUM_ALL, 3))
        mask = window = None
        if self.segmentation:
            # warped back through the region the crop sampled (MediaPipe's inverse matrix)
            prob = _sigmoid(out["mask"]).astype(np.float32)
            back = unwarp(prob, mediapipe_grid(roi, INPUT_SIZE), image.shape[:2], _support(prob))
            if back is not None:
                mask, window = back
        return LandmarkResult(
            landmarks=np.concatenate([xy, z[:, None]], 1)[:NUM_POSE].astype(np.float32),
            visibility=vis[:NUM_POSE].astype(np.float32),
            presence=pres[:NUM_POSE].astype(np.float32),
            world_landmarks=world[:NUM_POSE].astype(np.float32),
            auxiliary=xy[NUM_POSE : NUM_POSE + 2].astype(np.float32),
            score=float(np.asarray(out["flag"]).reshape(-1)[0]),
            roi=roi,
            mask=mask,
            mask_window=window,
        )
