"""Training speed with OpenMP's default wait policy vs ``OMP_WAIT_POLICY=PASSIVE``.

With PASSIVE, idle numba/torch OpenMP workers sleep instead of spinning; spinning slowed numba
kernels up to 10x on busy, shared cores (benchmarks/render.py sets PASSIVE for that reason).
This measures what PASSIVE costs on idle cores: ``benchmarks/train_step.py --threads 2`` in
fresh processes (the policy is read when libgomp loads), alternating the two settings ``--reps``
times. Prints one JSON line and
writes benchmarks/results/omp_wait.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    runs: dict[str, list[float]] = {"default": [], "passive": []}
    for _ in range(args.reps):
        for name in runs:
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
            if name == "passive":
                env["OMP_WAIT_POLICY"] = "PASSIVE"
            out = subprocess.run(
                [sys.executable, str(HERE / "train_step.py"), "--threads", "2", "--steps", "10",
                 "--out", os.devnull],
                env=env, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            runs[name].append(json.loads(out.strip().splitlines()[-1])["train_samples_per_s"])
    res = {
        "train_samples_per_s": runs,
        "median": {k: round(statistics.median(v), 1) for k, v in runs.items()},
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    line = json.dumps(res)
    print(line)
    (HERE / "results" / "omp_wait.json").write_text(line + "\n")


if __name__ == "__main__":
    main()
