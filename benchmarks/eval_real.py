"""Real photos with ground truth: writes benchmarks/results/eval_real.{json,md} (+ overlays).

    python benchmarks/eval_real.py [--checkpoint MODEL] [--data ../shared/data/real]

Per-image silhouette IoU, PCK@0.1 and (Human3.6M frames) MPJPE / PA-MPJPE, for the MediaPipe front
end and for ground-truth inputs, with MediaPipe's own world landmarks as the peer baseline. The
overlay pictures go to benchmarks/results/eval_real_pictures/ only with --pictures (they show
the test photos, which must stay out of the repository).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/real")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pictures", type=Path, default=None, help="copy overlays here")
    ap.add_argument("--name", default="eval_real", help="results file stem")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.eval.real import run_real_eval
    from lasor.predict import shipped_model_path

    ckpt = args.checkpoint or shipped_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_real_eval(ckpt, args.data, Path(tmp))
        if args.pictures:
            shutil.copytree(Path(tmp) / "pictures", args.pictures, dirs_exist_ok=True)
    table = res.pop("table")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.md").write_text(table)
    line = json.dumps(res)
    (RESULTS / f"{args.name}.json").write_text(line + "\n")
    print(table)


if __name__ == "__main__":
    main()
