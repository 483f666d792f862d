"""Body-measurement accuracy on synthetic bodies with known phenotypes (issue 22).

    python benchmarks/measurements.py --per-sample out/eval_ages/per_sample.npz \
        [--max 192] [--name measurements_ages]

Reads the ``per_sample.npz`` of a synthetic evaluation (``lasor eval synthetic``: it keeps each
sample's predicted and true shape), measures the predicted and the true body with
``lasor.body.measure`` (rest pose, full Anny mesh) and prints / writes the mean absolute error
(cm; age in years) of every measurement, per age group and for the unoccluded samples:

* ``own_scale``: the estimated body as it comes (its own size, what a result reports without
  ``--height``);
* ``height_given``: the estimated body scaled to the true standing height first (what
  ``lasor predict --height`` reports: height error 0 by construction).

Writes ``benchmarks/results/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
LENGTHS = (
    "height_m", "chest_circumference_m", "waist_circumference_m", "hip_circumference_m",
    "inseam_m", "arm_length_m", "shoulder_width_m",
)  # fmt: skip


def mae_table(pred: dict, true: dict, masks: dict[str, np.ndarray]) -> dict:
    """MAE (cm; ``age_years`` in years) per measurement and stratum, both scale assumptions."""
    scale = true["height_m"] / pred["height_m"]
    out: dict = {}
    for mode in ("own_scale", "height_given"):
        s = scale if mode == "height_given" else np.ones_like(scale)
        rows = {}
        for name, m in masks.items():
            row = {"n": int(m.sum())}
            for k in LENGTHS:
                err = np.abs(pred[k] * s - true[k])[m] * 100
                row[k.removesuffix("_m") + "_cm"] = round(float(err.mean()), 2) if m.any() else None
            err = np.abs(pred["age_years"] - true["age_years"])[m]
            row["age_years"] = round(float(err.mean()), 2) if m.any() else None
            rows[name] = row
        out[mode] = rows
    return out


def markdown(res: dict) -> str:
    cols = [k.removesuffix("_m") + "_cm" for k in LENGTHS] + ["age_years"]
    lines = [
        f"{res['n']} samples of `{res['per_sample']}`; true means (cm): {res['true_mean_cm']}",
        "",
    ]
    for mode, rows in res["mae"].items():
        lines += [f"**{mode}** (MAE; cm, age in years)", ""]
        lines.append("| stratum | n | " + " | ".join(c.replace("_", " ") for c in cols) + " |")
        lines.append("|---|---:|" + "---:|" * len(cols))
        for name, row in rows.items():
            vals = ["–" if row[c] is None else f"{row[c]:.1f}" for c in cols]
            lines.append(f"| {name} | {row['n']} | " + " | ".join(vals) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-sample", type=Path, required=True, help="per_sample.npz of an eval")
    ap.add_argument("--max", type=int, default=192, help="measure the first N samples")
    ap.add_argument("--name", default="measurements")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.body import load_body_model
    from lasor.body.measure import measure
    from lasor.eval.synthetic import age_strata

    per = dict(np.load(args.per_sample))
    n = min(args.max, len(per["shape_true"]))
    body = load_body_model("anny")
    pred = measure(body, per["shape_pred"][:n]).__dict__
    true = measure(body, per["shape_true"][:n]).__dict__
    unocc = (per["flags"][:n] == 0) & (per["frac"][:n] < 0.05)
    masks = {"all": np.ones(n, bool), "unoccluded": unocc}
    if np.isfinite(per["age_true_years"][:n]).all():
        masks.update(age_strata(per["age_true_years"][:n]))
    res = {
        "per_sample": str(args.per_sample), "n": n,
        "true_mean_cm": {k: round(float(np.mean(true[k]) * 100), 1) for k in LENGTHS},
        "mae": mae_table(pred, true, masks),
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    line = json.dumps(res)
    print(line)
    (RESULTS / f"{args.name}.json").write_text(line + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(res) + "\n")


if __name__ == "__main__":
    main()
