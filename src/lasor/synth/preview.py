"""Pictures and files of synthetic samples: a preview grid and fixed export shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lasor.body.joints import COCO17_EDGES
from lasor.synth.engine import OCC_OBJECT, OCC_PERSON, OCC_TRUNCATION

_JOINT_COLOURS = np.array(
    [[255, 255, 255]] * 5 + [[255, 140, 0], [0, 170, 255]] * 6, dtype=np.uint8
)


def proxy_image(proxy: np.ndarray) -> np.ndarray:
    """Render a (18, R, R) proxy as an RGB picture: grey silhouette, coloured heatmaps.

    Returns:
        (R, R, 3) uint8.
    """
    sil = proxy[0]
    heat = proxy[1:]
    img = np.repeat(sil[..., None] * 110.0 + 25.0, 3, axis=-1)
    k = heat.argmax(axis=0)
    peak = heat.max(axis=0)[..., None]
    img = img * (1 - peak) + _JOINT_COLOURS[k] * peak
    return np.clip(img, 0, 255).astype(np.uint8)


def _flags_text(flags: int, frac: float) -> str:
    parts = []
    if flags & OCC_PERSON:
        parts.append("P")
    if flags & OCC_OBJECT:
        parts.append("O")
    if flags & OCC_TRUNCATION:
        parts.append("T")
    return f"{''.join(parts) or '-'} {frac:.0%}"


def preview_grid(batch: dict, cols: int = 8, scale: int = 3) -> Image.Image:
    """A grid of samples: left the network input, right the target with joint visibility.

    Right panel: the target's full silhouette (dark blue), its visible part (light blue), the
    true 2D skeleton with joints green (visible), red (occluded by a person/object or outside),
    yellow (hidden behind the body itself). The caption gives occlusion flags (P person,
    O object, T truncated) and the occluded fraction.
    """
    proxy = batch["proxy"].numpy()
    n, _, r, _ = proxy.shape
    rows = (n + cols - 1) // cols
    cell_w, cell_h = 2 * r * scale + 6, r * scale + 14
    grid = Image.new("RGB", (cols * cell_w, rows * cell_h), (15, 15, 15))
    draw = ImageDraw.Draw(grid)
    for i in range(n):
        x0 = (i % cols) * cell_w
        y0 = (i // cols) * cell_h
        left = Image.fromarray(proxy_image(proxy[i])).resize((r * scale, r * scale), Image.NEAREST)
        full = batch["silhouette"][i].numpy() > 0
        vis = proxy[i, 0] > 0.5
        tgt = np.zeros((r, r, 3), np.uint8)
        tgt[full] = (30, 60, 140)
        tgt[full & vis] = (110, 170, 255)
        right = Image.fromarray(tgt).resize((r * scale, r * scale), Image.NEAREST)
        grid.paste(left, (x0, y0))
        grid.paste(right, (x0 + r * scale + 4, y0))
        j = (batch["joints2d"][i].numpy() + 1) / 2 * r * scale
        j[:, 0] += x0 + r * scale + 4
        j[:, 1] += y0
        for a, b in COCO17_EDGES:
            draw.line([tuple(j[a]), tuple(j[b])], fill=(230, 230, 230), width=1)
        for k in range(17):
            if batch["joints_visible"][i, k]:
                col = (40, 220, 40)
            elif batch["self_occluded"][i, k]:
                col = (250, 220, 0)
            else:
                col = (240, 40, 40)
            x, y = j[k]
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=col)
        text = _flags_text(int(batch["occlusion"][i]), float(batch["occluded_fraction"][i]))
        draw.text((x0 + 2, y0 + r * scale + 1), text, fill=(220, 220, 220))
    return grid


def bodies_grid(
    body, bank, n: int = 16, cols: int = 8, size: int = 192, full_body=None
) -> Image.Image:
    """Shaded front and side views of the first ``n`` posed bodies of a bank, to look at the
    bodies themselves (proportions, feet, self-penetration), captioned with age and height.

    Args:
        body: the bank's body model. bank: a ``BodyBank``. full_body: optional body model to
            re-pose the bodies with (e.g. the full Anny mesh, for detail).
    """
    import torch

    from lasor.body.measure import anny_age_to_years
    from lasor.render.overlay import render_side_view

    n = min(n, len(bank))
    model = full_body or body
    with torch.no_grad():
        out = model(
            torch.from_numpy(bank.global_orient[:n]), torch.from_numpy(bank.body_pose[:n]),
            torch.from_numpy(bank.shape[:n]),
        )  # fmt: skip
    verts = out.vertices.numpy() * np.array([1.0, -1.0, -1.0])  # body frame -> camera axes
    faces = out.faces.numpy()
    rows = (n + cols - 1) // cols
    cell_w, cell_h = 2 * size, size + 14
    grid = Image.new("RGB", (cols * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    age = "age" in body.shape_names
    for i in range(n):
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        for j, angle in enumerate((0.0, 90.0)):
            img = render_side_view(verts[i], faces, size, angle_deg=angle)
            grid.paste(Image.fromarray(img), (x0 + j * size, y0))
        y = verts[i][:, 1]
        text = f"{y.max() - y.min():.2f} m (posed)"
        if age:
            years = float(anny_age_to_years(bank.shape[i, body.shape_names.index("age")]))
            text = f"{years:.0f} y, " + text
        draw.text((x0 + 4, y0 + size), text, fill=(0, 0, 0))
    return grid


def export_shards(
    dataset, n: int, out_dir: str | Path, shard_batches: int = 8, progress: bool = True
) -> list[Path]:
    """Write ``n`` samples (rounded up to whole batches) to ``shard_*.npz`` files.

    Each shard holds plain arrays (no pickle) of ``shard_batches`` consecutive items of
    ``dataset`` (a ``SyntheticBatches``), so a benchmark reads a fixed test set.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_items = -(-n // dataset.batch_size)
    paths = []
    it = range(0, n_items, shard_batches)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="export", unit="shard")
    for s in it:
        batches = [dataset[i] for i in range(s, min(s + shard_batches, n_items))]
        arrays = {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}
        p = out / f"shard_{s // shard_batches:05d}.npz"
        np.savez_compressed(p, **arrays)
        paths.append(p)
    return paths
