"""Readers for user-supplied inputs: images, COCO / OpenPose keypoint JSON, mask PNGs, box files.

Every reader validates what it reads and raises `FrontendError` naming the file and what was
expected. Coordinates are returned as stored in the file (pixels of the original image).

Formats:

* **COCO keypoints** (`read_coco_keypoints`, `read_coco_dataset`): a full COCO annotation file
  (``{"images": [...], "annotations": [...], "categories": [...]}``), a bare list of annotation
  dicts, or a single annotation dict. ``keypoints`` is ``[x, y, v] * 17`` in COCO-17 order;
  ``v = 2`` (visible) gives confidence 1, ``v = 1`` (labelled, occluded) gives
  ``occluded_confidence`` (0.5 by default), ``v = 0`` gives 0; values strictly between 0 and 1
  are taken as detector scores. ``bbox`` is ``[x, y, w, h]``. ``segmentation`` may be polygons
  (``[[x0, y0, x1, y1, ...], ...]``), uncompressed RLE (``{"size": [h, w], "counts": [int, ...]}``)
  or compressed RLE (``counts`` as a string, the COCO API's format); all become (H, W) bool masks.
* **OpenPose** (`read_openpose`): ``{"people": [{"pose_keypoints_2d": [x, y, c] * K}]}`` with
  K = 18 (COCO-18) or 25 (BODY_25), detected from the length, mapped to COCO-17.
* **Masks** (`read_mask`): any image; non-zero pixels are the person. If the file has an alpha
  channel that is not fully opaque, the alpha channel is the mask; otherwise the colour channels.
* **Boxes** (`read_boxes`): JSON ``[[x0, y0, x1, y1], ...]`` (corners), or COCO-style
  ``[{"bbox": [x, y, w, h]}, ...]`` (corner + size), or one of either: ``[x0, y0, x1, y1]`` or
  ``{"bbox": [x, y, w, h]}`` (the SPIN demo's ``*_bbox.json``).

Limits (so that no file can exhaust memory or the stack): images and masks over ``max_pixels``
pixels (default :data:`MAX_PIXELS`, 64 Mpx, or the ``LASOR_MAX_PIXELS`` environment variable;
``lasor predict --max-pixels``; 0 = no cap) are refused before they are decoded; JSON files over
:data:`MAX_JSON_BYTES`, JSON nested deeper than Python can parse, ``NaN`` / ``Infinity``
literals, coordinates beyond +-:data:`MAX_COORD` pixels and masks or RLE sizes over the pixel cap
are refused. Every reader raises only `FrontendError`: an unforeseen failure inside one is
re-raised as a `FrontendError` naming the file.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from lasor.frontend.types import (
    NUM_KEYPOINTS,
    FrontendError,
    PersonObservation,
    bbox_from_observation,
)

__all__ = [
    "BODY25_TO_COCO17",
    "COCO18_TO_COCO17",
    "MAX_COORD",
    "MAX_JSON_BYTES",
    "MAX_PIXELS",
    "decode_rle",
    "load_image",
    "read_boxes",
    "read_coco_dataset",
    "read_coco_keypoints",
    "read_mask",
    "read_openpose",
    "segmentation_to_mask",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: For each COCO-17 keypoint, its index in OpenPose's COCO-18 layout.
COCO18_TO_COCO17: list[int] = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
#: For each COCO-17 keypoint, its index in OpenPose's BODY_25 layout.
BODY25_TO_COCO17: list[int] = [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]

#: default pixel cap of photos and masks (64 Mpx: a 61-Mpx camera's photos pass; a decoded
#: 64-Mpx RGB image is ~190 MB). ``LASOR_MAX_PIXELS`` overrides it; 0 = no cap.
MAX_PIXELS = 64_000_000
#: largest keypoint / box JSON file read (bytes)
MAX_JSON_BYTES = 256 * 2**20
#: largest accepted |coordinate| (pixels) of a keypoint, box or polygon
MAX_COORD = 1e6


def max_pixels(value: int | None = None) -> int:
    """The pixel cap in force: ``value`` if given, else ``LASOR_MAX_PIXELS``, else MAX_PIXELS.

    0 (or a negative value) means no cap.
    """
    if value is not None:
        return int(value)
    env = os.environ.get("LASOR_MAX_PIXELS", "").strip()
    if env:
        try:
            return int(float(env))
        except ValueError:
            logger.warning("ignoring LASOR_MAX_PIXELS=%r (not a number)", env)
    return MAX_PIXELS


def _named_errors(func: Callable) -> Callable:
    """Re-raise anything but FrontendError from a reader as a FrontendError naming its file."""

    @functools.wraps(func)
    def wrapper(path, *args, **kwargs):
        try:
            return func(path, *args, **kwargs)
        except FrontendError:
            raise
        except Exception as exc:  # noqa: BLE001 - the contract: readers raise FrontendError
            msg = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise FrontendError(
                path, f"cannot be read ({type(exc).__name__}: {msg}); see lasor.frontend.files"
            ) from exc

    return wrapper


# ----------------------------------------------------------------------------------------------
# Images and masks


def _open_image(path: PathLike, what: str, cap: int | None = None) -> Image.Image:
    """Open and fully decode an image file (refused before decoding when over the pixel cap),
    or raise FrontendError."""
    p = Path(path)
    if p.is_dir():
        raise FrontendError(p, f"is a folder; expected {what}")
    if not p.is_file():
        raise FrontendError(p, f"no such file; expected {what}")
    limit = max_pixels(cap)
    try:
        with warnings.catch_warnings():  # the pixel cap below is lasor's check
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)
        if limit > 0 and img.width * img.height > limit:
            img.close()
            raise FrontendError(
                p,
                f"is {img.width}x{img.height} = {img.width * img.height / 1e6:.1f} Mpx, over the "
                f"{limit / 1e6:g} Mpx cap; shrink it, or raise the cap (lasor predict "
                "--max-pixels N, or LASOR_MAX_PIXELS; 0 = no cap)",
            )
        img.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        ValueError,
        SyntaxError,
    ) as exc:
        raise FrontendError(p, f"cannot be read as an image ({exc}); expected {what}") from exc
    return img


@_named_errors
def load_image(path: PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read a photo as RGB.

    EXIF orientation is applied; grey, palette and 16-bit images become RGB; images with
    transparency are composited over white.

    Args:
        path: image file (anything Pillow reads: JPEG, PNG, WebP, BMP, TIFF, ...).
        max_pixels: refuse images with more pixels (default: see the module docstring).

    Returns:
        (H, W, 3) uint8 array, H and W after EXIF rotation.

    Raises:
        FrontendError: the file is missing or is not a readable image.
    """
    img = _open_image(path, "an image file (JPEG, PNG, ...)", max_pixels)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception as exc:  # broken EXIF should not stop us, but say so
        logger.warning("%s: ignoring unreadable EXIF orientation (%s)", path, exc)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if (img.mode.startswith("I") and arr.max() > 255) else 255.0
        if img.mode == "F" and arr.max() <= 1.0:
            top = 1.0
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.array(img.convert("RGB"), dtype=np.uint8)


@_named_errors
def read_mask(
    path: PathLike,
    image_size: tuple[int, int] | None = None,
    *,
    image_path: PathLike | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Read a person mask image (non-zero = person).

    If the file has an alpha channel that is not entirely opaque, the alpha channel is the mask;
    otherwise a pixel is "person" when any colour channel is non-zero (so 0/1 and 0/255 masks,
    grey or RGB, all work). EXIF orientation is applied, as for photos.

    Args:
        path: mask image file.
        image_size: (H, W) of the photo the mask belongs to; checked if given.
        image_path: the photo's path, only to name it in error messages.
        max_pixels: refuse larger masks (default: see the module docstring).

    Returns:
        (H, W) bool mask.

    Raises:
        FrontendError: unreadable file, or its size differs from ``image_size``.
    """
    img = _open_image(path, "a mask image (PNG; non-zero pixels = person)", max_pixels)
    img = ImageOps.exif_transpose(img)
    if img.mode == "P":
        mask = np.asarray(img) != 0  # palette index 0 = background
    else:
        arr = np.asarray(img)
        if arr.ndim == 2:
            mask = arr != 0
        else:
            bands = img.getbands()
            if "A" in bands and arr[..., bands.index("A")].min() < 255:
                mask = arr[..., bands.index("A")] != 0
            else:
                colour = [i for i, b in enumerate(bands) if b != "A"]
                mask = np.any(arr[..., colour] != 0, axis=-1)
    if image_size is not None:
        h, w = int(image_size[0]), int(image_size[1])
        if mask.shape != (h, w):
            which = f"the image {os.fspath(image_path)}" if image_path is not None else "the image"
            raise FrontendError(
                path,
                f"mask is {mask.shape[1]}x{mask.shape[0]} (width x height) but {which} is "
                f"{w}x{h}; expected a mask of the same size as the image",
            )
    return mask.astype(bool, copy=False)


# ----------------------------------------------------------------------------------------------
# COCO segmentation


def _rle_counts_from_string(s: str) -> list[int]:
    """Decode the COCO API's compressed RLE string into run lengths.

    Each run is a variable-length integer in 5-bit groups (least significant first), stored as
    ``chr(group + 48)`` with bit 0x20 meaning "more groups follow" and bit 0x10 of the last group
    being the sign. From the third run on, runs are stored as differences to the run two before.
    """
    counts: list[int] = []
    pos = 0
    n = len(s)
    while pos < n:
        value = 0
        shift = 0
        more = True
        while more:
            if pos >= n:
                raise ValueError("truncated compressed RLE string")
            c = ord(s[pos]) - 48
            if c < 0 or c > 63:
                raise ValueError(f"invalid character {s[pos]!r} in compressed RLE string")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and (c & 0x10):
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """Decode a COCO run-length-encoded mask (compressed or uncompressed).

    Args:
        rle: ``{"size": [h, w], "counts": str | bytes | list[int]}``; runs alternate background /
            foreground, starting with background, over the pixels in column-major order.

    Returns:
        (h, w) bool mask.

    Raises:
        ValueError: malformed RLE.
    """
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError('RLE must be {"size": [h, w], "counts": ...}') from exc
    _check_size(h, w, "RLE size")
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        runs = _rle_counts_from_string(counts)
    elif isinstance(counts, list) and all(isinstance(c, (int, float)) for c in counts):
        runs = [int(c) for c in counts]
    else:
        raise ValueError("RLE counts must be a string or a list of integers")
    if len(runs) > h * w + 1:
        raise ValueError(f"RLE has {len(runs)} runs, more than its {h * w} pixels")
    if any(r < 0 for r in runs):
        raise ValueError("RLE has negative run lengths")
    if sum(runs) != h * w:
        raise ValueError(f"RLE runs cover {sum(runs)} pixels but size {h}x{w} has {h * w}")
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, runs)
    return flat.reshape(w, h).T.copy()


_MAX_SUPERSAMPLED_PIXELS = 32_000_000


def _check_size(h: int, w: int, what: str) -> None:
    """ValueError unless 0 < h, w and h * w is within the pixel cap."""
    if h <= 0 or w <= 0:
        raise ValueError(f"{what} {h}x{w} (h x w) must be positive")
    limit = max_pixels()
    if limit > 0 and h * w > limit:
        raise ValueError(f"{what} {h}x{w} (h x w) is over the {limit / 1e6:g} Mpx pixel cap")


def _rasterize_polygons(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Fill COCO polygons (``[x0, y0, x1, y1, ...]``) into an (height, width) bool mask.

    COCO polygon coordinates are pixel-edge coordinates: pixel (i, j) covers [j, j + 1] x
    [i, i + 1]. Pillow's fill includes every pixel the outline touches, which inflates a mask by
    about half a pixel all round (~2 % of a person's area at COCO resolution). To stay close to
    the exact polygon area, the polygons are drawn with Pillow at ``f`` x resolution (f = 4, less
    for huge polygons) over their bounding box only, and a pixel is set when at least half of its
    f x f sub-pixels are. On the COCO sample people the pixel count is within ~1 % of the exact
    polygon area (COCO's ``area`` field) for people over ~3000 px, a few % for tiny ones.
    """
    polys = []
    for poly in polygons:
        if not isinstance(poly, (list, tuple)) or len(poly) < 6 or len(poly) % 2:
            n = len(poly) if isinstance(poly, (list, tuple)) else type(poly).__name__
            raise ValueError(f"a polygon needs an even number (>= 6) of coordinates, got {n}")
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= MAX_COORD
            for v in poly
        ):
            raise ValueError(f"polygon coordinates must be numbers within +-{MAX_COORD:g}")
        polys.append(np.asarray(poly, dtype=np.float64).reshape(-1, 2))
    _check_size(height, width, "image size")
    mask = np.zeros((height, width), dtype=bool)
    if not polys:
        return mask
    pts = np.concatenate(polys)
    x0 = max(int(math.floor(pts[:, 0].min())), 0)
    y0 = max(int(math.floor(pts[:, 1].min())), 0)
    x1 = min(int(math.ceil(pts[:, 0].max())), width)
    y1 = min(int(math.ceil(pts[:, 1].max())), height)
    if x1 <= x0 or y1 <= y0:
        return mask
    bw, bh = x1 - x0, y1 - y0
    f = 4
    while f > 1 and bw * bh * f * f > _MAX_SUPERSAMPLED_PIXELS:
        f -= 1
    canvas = Image.new("L", (bw * f, bh * f), 0)
    draw = ImageDraw.Draw(canvas)
    for poly in polys:
        # edge coordinate e -> Pillow's pixel-centre coordinate (e - origin) * f - 0.5
        xy = (poly - [x0, y0]) * f - 0.5
        draw.polygon([tuple(p) for p in xy.tolist()], fill=1)
    sub = np.asarray(canvas, dtype=np.float32).reshape(bh, f, bw, f).mean(axis=(1, 3))
    mask[y0:y1, x0:x1] = sub >= 0.5
    return mask


def segmentation_to_mask(segmentation: Any, height: int | None, width: int | None) -> np.ndarray:
    """Turn a COCO ``segmentation`` entry (polygons, RLE, compressed RLE) into an (H, W) bool mask.

    Args:
        segmentation: list of polygons, or an RLE dict (which carries its own size).
        height: image height; required for polygons, checked against RLE sizes when given.
        width: image width, likewise.

    Returns:
        (H, W) bool mask.

    Raises:
        ValueError: malformed segmentation or mismatched size.
    """
    if isinstance(segmentation, dict):
        mask = decode_rle(segmentation)
        if height is not None and width is not None and mask.shape != (height, width):
            raise ValueError(
                f"RLE size {mask.shape[0]}x{mask.shape[1]} (h x w) differs from the image's "
                f"{height}x{width}"
            )
        return mask
    if isinstance(segmentation, list):
        if height is None or width is None:
            raise ValueError(
                "polygon segmentation needs the image size: include an `images` entry with "
                "height/width or pass image_size=(H, W)"
            )
        if segmentation and isinstance(segmentation[0], (int, float)):
            segmentation = [segmentation]  # a single flat polygon
        return _rasterize_polygons(segmentation, height, width)
    raise ValueError("segmentation must be a list of polygons or an RLE dict")


# ----------------------------------------------------------------------------------------------
# JSON helpers


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} overflows a float")
    return value


def _read_json(path: PathLike, what: str) -> Any:
    p = Path(path)
    if not p.is_file():
        raise FrontendError(p, f"no such file; expected {what}")
    try:
        size = p.stat().st_size
        if size > MAX_JSON_BYTES:
            raise FrontendError(p, f"is {size} bytes, over {MAX_JSON_BYTES}; expected {what}")
        with p.open("r", encoding="utf-8") as f:
            return json.load(f, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise FrontendError(p, f"is nested too deeply to parse; expected {what}") from exc
    except OSError as exc:
        raise FrontendError(p, f"cannot be read ({exc.strerror or exc}); expected {what}") from exc
    except UnicodeDecodeError as exc:
        raise FrontendError(p, f"is not a UTF-8 text file; expected {what}") from exc
    except json.JSONDecodeError as exc:
        raise FrontendError(
            p,
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"expected {what}",
        ) from exc
    except ValueError as exc:  # NaN / Infinity literals, integers over Python's digit limit
        raise FrontendError(p, f"is not valid JSON ({exc}); expected {what}") from exc


def _numbers(values: Any, n: int | None, path: PathLike, where: str, expected: str) -> np.ndarray:
    """Validate a flat list of finite numbers (of length n if given) -> float64 array."""
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise FrontendError(path, f"{where} must be a list of numbers; expected {expected}")
    if n is not None and len(values) != n:
        raise FrontendError(path, f"{where} has {len(values)} values; expected {expected}")
    try:
        arr = np.array([float(v) for v in values], dtype=np.float64)
    except OverflowError:
        arr = np.array([math.inf])
    if not np.all(np.isfinite(arr)):
        raise FrontendError(path, f"{where} contains NaN or infinity; expected {expected}")
    if np.any(np.abs(arr) > MAX_COORD):
        raise FrontendError(
            path, f"{where} has values beyond +-{MAX_COORD:g} pixels; expected {expected}"
        )
    return arr


def _xywh_to_xyxy(box: np.ndarray) -> np.ndarray:
    return np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]], dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# COCO keypoints

_COCO_EXPECTED = (
    "COCO keypoint annotations: a COCO file with `annotations` (and `images`), a list of "
    "annotation dicts, or one annotation dict"
)
_COCO_EXPECTED_S = f"expected {_COCO_EXPECTED}"
_KP_EXPECTED = f"{3 * NUM_KEYPOINTS} numbers, [x, y, v] for each of the 17 COCO keypoints"


def _is_id(value: Any) -> bool:
    """An id COCO allows (absent, an integer or a string)."""
    return value is None or isinstance(value, (int, str))


def _coco_tables(
    path: PathLike, data: Any = None
) -> tuple[list[dict], list[dict], set[int] | None]:
    """Parse a COCO-like file (or its parsed ``data``) into (images, annotations, person ids)."""
    if data is None:
        data = _read_json(path, _COCO_EXPECTED)
    images: list[dict] = []
    person_ids: set[int] | None = None
    if isinstance(data, dict) and "annotations" in data:
        annotations = data["annotations"]
        images = data.get("images") or []
        categories = data.get("categories")
        if isinstance(categories, list):
            person_ids = {
                c.get("id")
                for c in categories
                if isinstance(c, dict) and c.get("name") == "person" and _is_id(c.get("id"))
            } or None
    elif isinstance(data, dict):
        annotations = [data]
    elif isinstance(data, list):
        annotations = data
    else:
        raise FrontendError(path, f"top level is a {type(data).__name__}; {_COCO_EXPECTED_S}")
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise FrontendError(path, f"`annotations` must be a list of objects; {_COCO_EXPECTED_S}")
    if not isinstance(images, list) or not all(isinstance(i, dict) for i in images):
        raise FrontendError(path, "`images` must be a list of {id, file_name, height, width}")
    for k, item in enumerate(images):
        if not _is_id(item.get("id")):
            raise FrontendError(path, f"images[{k}].id must be an integer or a string")
    for k, a in enumerate(annotations):
        if not _is_id(a.get("image_id")) or not _is_id(a.get("category_id")):
            raise FrontendError(
                path, f"annotation #{k}: image_id / category_id must be integers or strings"
            )
        if not any(key in a for key in ("keypoints", "segmentation", "bbox")):
            raise FrontendError(
                path,
                f"annotation #{k} has none of keypoints / segmentation / bbox; "
                f"expected {_COCO_EXPECTED}",
            )
    return images, annotations, person_ids


def _coco_person(
    ann: dict,
    k: int,
    path: PathLike,
    size: tuple[int, int] | None,
    occluded_confidence: float,
) -> PersonObservation | None:
    """One COCO annotation -> PersonObservation (None if it has nothing usable)."""
    where = f"annotation #{k}" + (f" (id {ann['id']})" if "id" in ann else "")
    if ann.get("keypoints") is not None:
        kp = _numbers(ann["keypoints"], 3 * NUM_KEYPOINTS, path, f"{where} keypoints", _KP_EXPECTED)
        kp = kp.reshape(NUM_KEYPOINTS, 3)
        v = kp[:, 2]
        conf = np.where(v >= 2, 1.0, np.where(v == 1, occluded_confidence, np.clip(v, 0.0, 1.0)))
        keypoints = np.where(conf[:, None] > 0, kp[:, :2], 0.0)
    else:
        keypoints = np.zeros((NUM_KEYPOINTS, 2))
        conf = np.zeros(NUM_KEYPOINTS)

    mask = None
    if ann.get("segmentation") not in (None, [], {}):
        h, w = size if size is not None else (None, None)
        try:
            mask = segmentation_to_mask(ann["segmentation"], h, w)
        except ValueError as exc:
            raise FrontendError(path, f"{where} segmentation: {exc}") from exc

    if ann.get("bbox") is not None:
        box = _numbers(ann["bbox"], 4, path, f"{where} bbox", "[x, y, width, height]")
        if box[2] <= 0 or box[3] <= 0:
            raise FrontendError(path, f"{where} bbox has width/height <= 0; expected [x, y, w, h]")
        bbox = _xywh_to_xyxy(box)
    else:
        bbox = bbox_from_observation(keypoints, conf, mask)
        if bbox is None:
            logger.warning("%s: %s has no keypoints, mask or box; skipped", path, where)
            return None
    return PersonObservation(
        keypoints=keypoints, confidence=conf, bbox=bbox, mask=mask, source=f"coco:{path}"
    )


def _image_size(img: dict, path: PathLike) -> tuple[int, int] | None:
    if "height" in img and "width" in img:
        h, w = img["height"], img["width"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (h, w)):
            raise FrontendError(path, f"image {img.get('id')} has a non-integer height/width")
        try:
            _check_size(int(h), int(w), f"image {img.get('id')} size")
        except ValueError as exc:
            raise FrontendError(path, str(exc)) from exc
        return int(h), int(w)
    return None


def _keep(ann: dict, person_ids: set[int] | None, include_crowd: bool) -> bool:
    if not include_crowd and ann.get("iscrowd", 0):
        return False
    return person_ids is None or "category_id" not in ann or ann["category_id"] in person_ids


@_named_errors
def read_coco_keypoints(
    path: PathLike,
    image: str | int | None = None,
    *,
    image_size: tuple[int, int] | None = None,
    include_crowd: bool = False,
    occluded_confidence: float = 0.5,
    _data: Any = None,
) -> list[PersonObservation]:
    """People of one image from a COCO keypoint file.

    Args:
        path: JSON file (full COCO file, list of annotations, or one annotation).
        image: which image: its ``file_name`` (or any path with that base name) or its ``id``.
            May be omitted when the file covers a single image.
        image_size: (H, W) of the image; needed to rasterize polygons when the file has no
            ``images`` table, checked against it otherwise.
        include_crowd: keep ``iscrowd`` annotations (skipped by default).
        occluded_confidence: confidence for keypoints labelled ``v = 1`` (occluded).

    Returns:
        One PersonObservation per person annotation, in file order (may be empty).

    Raises:
        FrontendError: malformed file, unknown image, or ambiguous choice of image.
    """
    images, annotations, person_ids = _coco_tables(path, _data)
    size = tuple(int(v) for v in image_size) if image_size is not None else None
    chosen_id: Any = None
    if images:
        if image is None:
            if len(images) != 1:
                names = ", ".join(str(i.get("file_name", i.get("id"))) for i in images[:5])
                more = ", ..." if len(images) > 5 else ""
                raise FrontendError(
                    path,
                    f"contains {len(images)} images ({names}{more}); "
                    "pass image=<file name or id> to choose one",
                )
            entry = images[0]
        else:
            entry = _find_image(images, image, path)
        chosen_id = entry.get("id")
        file_size = _image_size(entry, path)
        if size is not None and file_size is not None and size != file_size:
            raise FrontendError(
                path,
                f"image {entry.get('file_name', chosen_id)} is {file_size[1]}x{file_size[0]} "
                f"(width x height) in the file but the photo is {size[1]}x{size[0]}",
            )
        size = size or file_size
        selected = [(k, a) for k, a in enumerate(annotations) if a.get("image_id") == chosen_id]
    else:
        selected = list(enumerate(annotations))
        if isinstance(image, int) and not isinstance(image, bool):
            selected = [(k, a) for k, a in selected if a.get("image_id", image) == image]
        else:
            ids = {a.get("image_id") for _, a in selected}
            if len(ids) > 1:
                raise FrontendError(
                    path,
                    f"annotations cover {len(ids)} image ids and there is no `images` table; "
                    "pass image=<integer image_id> to choose one",
                )
    people = []
    for k, ann in selected:
        if not _keep(ann, person_ids, include_crowd):
            continue
        person = _coco_person(ann, k, path, size, occluded_confidence)
        if person is not None:
            people.append(person)
    return people


def _find_image(images: list[dict], image: str | int, path: PathLike) -> dict:
    if isinstance(image, int) and not isinstance(image, bool):
        for entry in images:
            if entry.get("id") == image:
                return entry
        raise FrontendError(path, f"has no image with id {image}")
    name = os.path.basename(os.fspath(image))
    for entry in images:
        if entry.get("file_name") == os.fspath(image):
            return entry
    for entry in images:
        if os.path.basename(str(entry.get("file_name", ""))) == name:
            return entry
    raise FrontendError(path, f"has no image named {name!r} (looked at `images[].file_name`)")


@_named_errors
def read_coco_dataset(
    path: PathLike,
    *,
    include_crowd: bool = False,
    occluded_confidence: float = 0.5,
) -> dict[str, list[PersonObservation]]:
    """All images of a COCO keypoint file.

    Args:
        path: a full COCO file with an ``images`` table (polygon masks need image sizes).
        include_crowd: keep ``iscrowd`` annotations.
        occluded_confidence: confidence for keypoints labelled ``v = 1``.

    Returns:
        ``{file_name: [PersonObservation, ...]}`` in the order of ``images`` (images without
        people map to an empty list).

    Raises:
        FrontendError: malformed file or no ``images`` table.
    """
    images, annotations, person_ids = _coco_tables(path)
    if not images:
        raise FrontendError(path, "has no `images` table; expected a full COCO annotation file")
    out: dict[str, list[PersonObservation]] = {}
    by_id: dict[Any, list[tuple[int, dict]]] = {}
    for k, ann in enumerate(annotations):
        by_id.setdefault(ann.get("image_id"), []).append((k, ann))
    for entry in images:
        size = _image_size(entry, path)
        name = str(entry.get("file_name", entry.get("id")))
        people = []
        for k, ann in by_id.get(entry.get("id"), []):
            if _keep(ann, person_ids, include_crowd):
                person = _coco_person(ann, k, path, size, occluded_confidence)
                if person is not None:
                    people.append(person)
        out[name] = people
    return out


# ----------------------------------------------------------------------------------------------
# OpenPose

_OPENPOSE_EXPECTED = (
    'OpenPose JSON: {"people": [{"pose_keypoints_2d": [x, y, c, ...]}]} with 18 (COCO-18) or '
    "25 (BODY_25) keypoints"
)
_OPENPOSE_EXPECTED_S = f"expected {_OPENPOSE_EXPECTED}"


@_named_errors
def read_openpose(path: PathLike) -> list[PersonObservation]:
    """People from an OpenPose JSON file, mapped to COCO-17.

    The layout is detected from the number of keypoints: 18 -> COCO-18, 25 -> BODY_25 (the
    neck, mid-hip and feet are dropped). Confidence is OpenPose's score clipped to [0, 1]; a
    keypoint with score 0 is missing. The box is the tight box around the detected keypoints.
    The older key ``pose_keypoints`` is accepted too.

    Args:
        path: OpenPose ``*_keypoints.json``.

    Returns:
        One PersonObservation per person with at least one detected keypoint (may be empty).

    Raises:
        FrontendError: malformed file or unsupported number of keypoints.
    """
    return _openpose_people(_read_json(path, _OPENPOSE_EXPECTED), path)


def _openpose_people(data: Any, path: PathLike) -> list[PersonObservation]:
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise FrontendError(path, f"has no `people` list; expected {_OPENPOSE_EXPECTED}")
    people = []
    for k, person in enumerate(data["people"]):
        if not isinstance(person, dict):
            raise FrontendError(path, f"people[{k}] is not an object; {_OPENPOSE_EXPECTED_S}")
        values = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
        if values is None:
            raise FrontendError(path, f"people[{k}] has no pose_keypoints_2d")
        where = f"people[{k}].pose_keypoints_2d"
        arr = _numbers(values, None, path, where, _OPENPOSE_EXPECTED)
        if arr.size == 18 * 3:
            index = COCO18_TO_COCO17
        elif arr.size == 25 * 3:
            index = BODY25_TO_COCO17
        else:
            raise FrontendError(
                path,
                f"{where} has {arr.size} values ({arr.size / 3:g} keypoints); expected "
                "54 (COCO-18) or 75 (BODY_25)",
            )
        kp = arr.reshape(-1, 3)[index]
        conf = np.clip(kp[:, 2], 0.0, 1.0)
        keypoints = np.where(conf[:, None] > 0, kp[:, :2], 0.0)
        bbox = bbox_from_observation(keypoints, conf)
        if bbox is None:
            continue
        people.append(
            PersonObservation(
                keypoints=keypoints, confidence=conf, bbox=bbox, source=f"openpose:{path}"
            )
        )
    return people


@_named_errors
def read_keypoints(
    path: PathLike, image: str | int | None = None, *, image_size: tuple[int, int] | None = None
) -> list[PersonObservation]:
    """People from a keypoint JSON in either format: OpenPose (a ``people`` list) or COCO.

    The file is read once and dispatched on its content; ``image`` and ``image_size`` are
    passed to :func:`read_coco_keypoints` (OpenPose files describe one image).

    Raises:
        FrontendError: missing or malformed file (the message names it and the formats).
    """
    data = _read_json(path, "COCO or OpenPose keypoints")
    if isinstance(data, dict) and "people" in data:
        return _openpose_people(data, path)
    return read_coco_keypoints(path, image, image_size=image_size, _data=data)


# ----------------------------------------------------------------------------------------------
# Boxes

_BOXES_EXPECTED = (
    'a JSON list of [x0, y0, x1, y1] corner boxes or of {"bbox": [x, y, w, h]} objects, '
    "or one of either"
)


@_named_errors
def read_boxes(path: PathLike, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Person boxes from a JSON file (formats in the module docstring).

    Args:
        path: JSON file.
        image_size: (H, W); if given, every box must overlap the image.

    Returns:
        (N, 4) float32 boxes x0, y0, x1, y1 in pixels (N may be 0 for an empty list).

    Raises:
        FrontendError: malformed file, empty or inverted boxes, or boxes outside the image.
    """
    data = _read_json(path, _BOXES_EXPECTED)
    if isinstance(data, dict) or (
        isinstance(data, list) and data and all(isinstance(v, (int, float)) for v in data)
    ):
        data = [data]
    if not isinstance(data, list):
        kind = type(data).__name__
        raise FrontendError(path, f"top level is a {kind}; expected {_BOXES_EXPECTED}")
    boxes = []
    for k, item in enumerate(data):
        if isinstance(item, dict):
            if "bbox" not in item:
                raise FrontendError(path, f"item {k} has no `bbox`; expected {_BOXES_EXPECTED}")
            box = _numbers(item["bbox"], 4, path, f"item {k} bbox", "[x, y, width, height]")
            box = _xywh_to_xyxy(box)
        else:
            box = _numbers(item, 4, path, f"item {k}", "[x0, y0, x1, y1]").astype(np.float32)
        if not (box[2] > box[0] and box[3] > box[1]):
            raise FrontendError(
                path,
                f"item {k} {box.tolist()} is empty or inverted; expected x1 > x0 and y1 > y0 "
                '([x0, y0, x1, y1] lists; {"bbox": [x, y, w, h]} objects)',
            )
        if image_size is not None:
            h, w = image_size
            if box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h:
                raise FrontendError(
                    path, f"item {k} {box.tolist()} lies outside the {w}x{h} (width x height) image"
                )
        boxes.append(box)
    return np.array(boxes, dtype=np.float32).reshape(-1, 4)
