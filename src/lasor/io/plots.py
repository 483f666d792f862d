"""Small dependency-free charts (Pillow): bar charts and line charts for reports."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

_COLOURS = [
    (52, 101, 164), (204, 0, 0), (78, 154, 6), (245, 121, 0), (117, 80, 123), (0, 150, 150),
    (90, 90, 90),
]  # fmt: skip


def _frame(w: int, h: int, title: str, ylabel: str):
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((10, 6), title, fill=(0, 0, 0))
    d.text((10, 22), ylabel, fill=(80, 80, 80))
    return img, d


def _axes(d, box, ymax: float, ticks: int = 5, log_offset: float | None = None) -> None:
    """Axes with ``ticks`` gridlines over [0, ymax]; with ``log_offset`` the data are log10
    values shifted by it and ticks are labelled 10**(v + log_offset)."""
    x0, y0, x1, y1 = box
    d.line([(x0, y0), (x0, y1), (x1, y1)], fill=(0, 0, 0))
    for i in range(ticks + 1):
        v = ymax * i / ticks
        y = y1 - (y1 - y0) * i / ticks
        d.line([(x0 - 4, y), (x1, y)], fill=(225, 225, 225) if i else (0, 0, 0))
        if log_offset is not None:
            label = f"{10 ** (v + log_offset):.3g}"
        else:
            label = f"{v:.0f}" if ymax >= 10 else f"{v:.2f}"
        d.text((4, y - 6), label, fill=(60, 60, 60))


def bar_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (900, 420),
) -> Image.Image:
    """Grouped bars: one group per label, one bar per series (NaN bars are skipped)."""
    w, h = size
    img, d = _frame(w, h, title, ylabel)
    vals = np.array([list(v) for v in series.values()], dtype=float)
    ymax = float(np.nanmax(vals)) * 1.1 if np.isfinite(vals).any() else 1.0
    box = (50, 40, w - 10, h - 60)
    _axes(d, box, ymax)
    n, k = len(labels), len(series)
    gw = (box[2] - box[0]) / max(n, 1)
    bw = gw * 0.8 / max(k, 1)
    for j, (name, v) in enumerate(series.items()):
        for i, val in enumerate(v):
            if not np.isfinite(val):
                continue
            x = box[0] + i * gw + gw * 0.1 + j * bw
            y = box[3] - (box[3] - box[1]) * val / ymax
            d.rectangle([x, y, x + bw - 1, box[3]], fill=_COLOURS[j % len(_COLOURS)])
        d.rectangle([w - 170, 8 + 14 * j, w - 160, 18 + 14 * j], fill=_COLOURS[j % len(_COLOURS)])
        d.text((w - 155, 6 + 14 * j), name, fill=(0, 0, 0))
    for i, lab in enumerate(labels):
        x = box[0] + i * gw + gw * 0.1
        d.text((x, box[3] + 4 + 12 * (i % 2)), str(lab)[:14], fill=(0, 0, 0))
    return img


def line_chart(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (700, 420),
    logy: bool = False,
) -> Image.Image:
    """Lines over a shared x axis (NaNs break the line)."""
    w, h = size
    img, d = _frame(w, h, title, ylabel + (" (log10)" if logy else ""))
    xs = np.asarray(x, dtype=float)
    vals = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    if logy:
        vals = {k: np.log10(np.maximum(v, 1e-12)) for k, v in vals.items()}
    allv = np.concatenate([v[np.isfinite(v)] for v in vals.values()] or [np.zeros(1)])
    lo = float(np.floor(allv.min())) if logy else 0.0
    ymax = float(allv.max() - lo) * 1.05 or 1.0
    box = (50, 40, w - 10, h - 40)
    _axes(d, box, ymax, log_offset=lo if logy else None)
    xmin, xmax = float(xs.min()), float(xs.max()) if len(xs) > 1 else float(xs.min()) + 1
    for j, (name, v) in enumerate(vals.items()):
        col = _COLOURS[j % len(_COLOURS)]
        pts = []
        for xi, yi in zip(xs, v, strict=True):
            if not np.isfinite(yi):
                pts = []
                continue
            px = box[0] + (box[2] - box[0]) * (xi - xmin) / max(xmax - xmin, 1e-9)
            py = box[3] - (box[3] - box[1]) * (yi - lo) / ymax
            if pts:
                d.line([pts[-1], (px, py)], fill=col, width=2)
            d.ellipse([px - 2, py - 2, px + 2, py + 2], fill=col)
            pts.append((px, py))
        d.rectangle([w - 170, 8 + 14 * j, w - 160, 18 + 14 * j], fill=col)
        d.text((w - 155, 6 + 14 * j), name, fill=(0, 0, 0))
    for i in range(5):
        xv = xmin + (xmax - xmin) * i / 4
        px = box[0] + (box[2] - box[0]) * i / 4
        d.text((px - 10, box[3] + 4), f"{xv:.2g}", fill=(0, 0, 0))
    d.text(((box[0] + box[2]) / 2 - 30, h - 18), xlabel, fill=(0, 0, 0))
    return img
