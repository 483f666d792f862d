"""Pictures users look at: overlays on photos, side views, the network's input, body views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lasor.body.joints import COCO17_EDGES

#: zlib level of the PNGs ``lasor predict`` writes: fast (Pillow's default 6 is several times
#: slower on photo-sized overlays for slightly smaller files)
PNG_LEVEL = 1

#: body frame (Y up, facing +Z) -> camera frame of a camera in front of the body (y down)
_BODY_TO_CAM = np.array([1.0, -1.0, -1.0])


def _save_png(pic: Image.Image, path: Path) -> None:
    """Save a PNG atomically (:mod:`lasor.io.atomic`)."""
    from lasor.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        pic.save(tmp, format="PNG", compress_level=PNG_LEVEL)


def _draw_skeleton(
    img: Image.Image,
    joints: np.ndarray,
    conf: np.ndarray | None = None,
    colour=(255, 60, 60),
    radius: int = 3,
) -> None:
    d = ImageDraw.Draw(img)
    ok = np.ones(len(joints), bool) if conf is None else conf > 0.3
    for a, b in COCO17_EDGES:
        if ok[a] and ok[b]:
            d.line([tuple(joints[a]), tuple(joints[b])], fill=colour, width=max(1, radius // 2))
    for k, (x, y) in enumerate(joints):
        if ok[k]:
            d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)


def render_body_views(
    vertices: np.ndarray,
    faces: np.ndarray,
    keypoints: np.ndarray | None = None,
    title: str = "",
    size: int = 512,
) -> Image.Image:
    """Front and side views of a body given in the body frame (Y up, facing +Z).

    Returns:
        A (size + 20) x (2 * size) RGB picture.
    """
    from lasor.render.overlay import render_side_view

    v = np.asarray(vertices, np.float64) * _BODY_TO_CAM + [0.0, 0.0, 3.0]
    front = render_side_view(v, faces, size, angle_deg=0.0)
    side = render_side_view(v, faces, size, angle_deg=90.0)
    canvas = Image.new("RGB", (2 * size, size + 20), (255, 255, 255))
    canvas.paste(Image.fromarray(front), (0, 20))
    canvas.paste(Image.fromarray(side), (size, 20))
    ImageDraw.Draw(canvas).text((6, 4), f"{title}  front | side", fill=(0, 0, 0))
    return canvas


def write_person_pictures(
    out_dir: Path, stem: str, image: np.ndarray, result, proxy: np.ndarray
) -> None:
    """``<stem>_overlay.png``, ``<stem>_side.png`` and ``<stem>_proxy.png`` for one person."""
    from lasor.render.overlay import render_overlay, render_side_view
    from lasor.synth.preview import proxy_image

    Path(out_dir).mkdir(parents=True, exist_ok=True)

    over = render_overlay(
        image, result.vertices, result.faces, result.focal_length, tuple(result.principal_point)
    )
    pic = Image.fromarray(over)
    r = max(2, int(round(max(image.shape[:2]) / 150)))
    _draw_skeleton(pic, result.observed_keypoints, result.observed_confidence, (255, 200, 0), r)
    _draw_skeleton(pic, result.joints2d_coco, None, (220, 30, 30), r)
    _save_png(pic, Path(out_dir) / f"{stem}_overlay.png")
    side = render_side_view(result.vertices, result.faces, 512, angle_deg=90.0)
    _save_png(Image.fromarray(side), Path(out_dir) / f"{stem}_side.png")
    prox = Image.fromarray(proxy_image(proxy))
    prox = prox.resize((256, 256), Image.NEAREST)
    _save_png(prox, Path(out_dir) / f"{stem}_proxy.png")


def write_all_overlay(out_dir: Path, stem: str, image: np.ndarray, results: list) -> Path:
    """``<stem>_all_overlay.png``: every person's body over the photo in one z-buffer (nearer
    bodies hide farther ones), one colour per person in person order, with a ``pN`` label."""
    from lasor.render.overlay import PERSON_COLORS, render_overlay

    if not results:
        raise ValueError(f"{stem}: no people to draw")
    r0 = results[0]
    over = render_overlay(
        image, [r.vertices for r in results], [r.faces for r in results], r0.focal_length,
        tuple(r0.principal_point),
    )  # fmt: skip
    pic = Image.fromarray(over)
    d = ImageDraw.Draw(pic)
    for k, r in enumerate(results):
        x0, y0 = float(r.bbox[0]), float(r.bbox[1])
        colour = tuple(int(255 * c * 0.7) for c in PERSON_COLORS[k % len(PERSON_COLORS)])
        d.text((x0 + 3, y0 + 3), f"p{k}", fill=colour)
    path = Path(out_dir) / f"{stem}_all_overlay.png"
    _save_png(pic, path)
    return path
