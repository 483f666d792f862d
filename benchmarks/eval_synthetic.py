"""Synthetic occlusion benchmark of a model: writes benchmarks/results/eval_synthetic.{json,md}.

    python benchmarks/eval_synthetic.py [--checkpoint MODEL] [-n 2048] [--seed 0] [--name NAME]

Also committed: ``eval_synthetic_anny_v2`` (the previous model on the same set, for the model
card) and ``eval_synthetic_anny_v2_n512_seed{0,1,2}`` (512-sample sets, why the default is 2048):

    python benchmarks/eval_synthetic.py --checkpoint runs/anny_v2/last.pt \
        --name eval_synthetic_anny_v2 --no-pictures
    python benchmarks/eval_synthetic.py --checkpoint runs/anny_v2/last.pt -n 512 --seed 1 \
        --name eval_synthetic_anny_v2_n512_seed1 --no-pictures

Default model: the one shipped in the package. Test set: the engine's fixed ``val`` samples
(held-out CMU subjects) — see ``lasor.eval.synthetic``. 2048 samples: with 512, one model's
overall PA-MPJPE ranged over 110.8–117.1 mm across four test sets (heavily occluded stratum,
~80 samples: 113.8–129.4).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("-n", "--n", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="eval_synthetic")
    ap.add_argument("--benchmark", choices=["v1", "v2", "anchors", "ages"], default="v1")
    ap.add_argument("--no-pictures", action="store_true", help="only the .json and .md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.eval.synthetic import run_synthetic_eval
    from lasor.predict import shipped_model_path

    ckpt = args.checkpoint or shipped_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_synthetic_eval(
            ckpt, Path(tmp), n=args.n, seed=args.seed, benchmark=args.benchmark
        )
        RESULTS.mkdir(exist_ok=True)
        shutil.copy(Path(tmp) / "metrics.md", RESULTS / f"{args.name}.md")
        for png in () if args.no_pictures else ("error_vs_occlusion.png", "per_joint_error.png"):
            shutil.copy(Path(tmp) / png, RESULTS / f"{args.name}_{png}")
    line = json.dumps(res)
    print(line)
    (RESULTS / f"{args.name}.json").write_text(line + "\n")


if __name__ == "__main__":
    main()
