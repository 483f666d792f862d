"""Training curves of a run (its train_log.csv and val_log.csv) as a PNG.

python benchmarks/plot_training.py runs/anny_v1 -o benchmarks/results/anny_v1_curves.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from lasor.io.plots import line_chart


def _read(path: Path) -> dict[str, np.ndarray]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]} if rows else {}


def _smooth(x: np.ndarray, k: int = 5) -> np.ndarray:
    if len(x) < k:
        return x
    return np.convolve(np.pad(x, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, "valid")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    tr = _read(args.run / "train_log.csv")
    va = _read(args.run / "val_log.csv")
    terms = [
        k for k in ("loss", "vertices", "joints3d", "joints2d", "pose", "silhouette") if k in tr
    ]
    left = line_chart(
        tr["step"], {k: _smooth(tr[k]) for k in terms}, title=f"{args.run.name}: training losses",
        xlabel="step", ylabel="loss (smoothed)", logy=True,
    )  # fmt: skip
    right = line_chart(
        va["step"], {k: va[k] for k in ("mpjpe", "pa_mpjpe", "pve") if k in va},
        title="validation (held-out mocap subjects, synthetic, occluded)", xlabel="step",
        ylabel="mm",
    )  # fmt: skip
    out = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    out.paste(left, (0, 0))
    out.paste(right, (left.width, 0))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    out.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
