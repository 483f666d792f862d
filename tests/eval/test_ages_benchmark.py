"""``lasor eval synthetic --benchmark ages``: strata by age group, height and age errors."""

import json

import numpy as np
import pytest

from lasor.cli import main
from lasor.eval.synthetic import age_strata, markdown_table, summarise


def test_ages_benchmark_tiny(tmp_path, tiny_model):
    out = tmp_path / "ages"
    args = ["eval", "synthetic", "--checkpoint", str(tiny_model), "-n", "24", "-o", str(out),
            "--fast", "--benchmark", "ages"]  # fmt: skip
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    per = np.load(out / "per_sample.npz")
    assert m["benchmark"] == "ages" and m["n"] == 24
    groups = ("child", "teen", "adult", "elder")
    assert sum(m["metrics"][g]["n"] for g in groups) == 24
    assert m["metrics"]["child"]["n"] > 0  # 30 % children
    for k in ("height_err_cm", "age_err_years"):
        assert per[k].shape == (24,) and np.all(per[k] >= 0)
        assert per[k].mean() == pytest.approx(m["metrics"]["all"][k], abs=0.01)
    assert per["shape_pred"].shape == per["shape_true"].shape == (24, 6)
    assert per["age_true_years"].min() >= 2.0 - 1e-3
    md = (out / "metrics.md").read_text()
    assert "| child |" in md and "height error (cm)" in md
    # the other benchmarks' tables stay as they were
    v1 = summarise({**dict(per), "flags": per["flags"], "frac": per["frac"]})
    assert "child" not in v1 and "height_err_cm" not in v1["all"]
    assert "height error" not in markdown_table(v1)


def test_age_strata_partition():
    masks = age_strata(np.array([3.0, 11.0, 15.0, 40.0, 70.0]))
    assert [int(m.sum()) for m in masks.values()] == [2, 1, 1, 1]
