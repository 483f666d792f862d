"""Build lasor's pose prior (src/lasor/data/pose_prior.npz) from the mocap pose bank.

    python scripts/build_pose_prior.py [--bank ~/.cache/lasor/pose_bank.npz] [-k 8]

Fits a Gaussian mixture by EM (``lasor.fit.prior.fit_gmm``) to the axis-angle body poses of the
bank's ``train`` split plus their mirror images, and stores joint limits (percentiles). Only the
derived statistics are written. Prints one JSON line (log-likelihoods, held-out ``val`` score).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bank", type=Path, default=None)
    ap.add_argument("-k", type=int, default=8)
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "src/lasor/data/pose_prior.npz")
    args = ap.parse_args()
    from lasor.body.anny_body import ANNY_POSE_BONES
    from lasor.body.base import mirror_pose
    from lasor.body.rotations import rotmat_to_axis_angle
    from lasor.fit.prior import LIMIT_MARGIN, PosePrior, fit_gmm
    from lasor.synth.poses import load_pose_bank

    bank = load_pose_bank(args.bank)
    if list(bank.bone_names) != list(ANNY_POSE_BONES):
        raise ValueError(f"pose bank bones {bank.bone_names} differ from Anny's pose bones")
    bones = list(bank.bone_names)
    pairs = [(i, bones.index(b[:-2] + ".R")) for i, b in enumerate(bones) if b.endswith(".L")]

    def poses(split: str) -> np.ndarray:
        sel = torch.from_numpy(np.asarray(bank.split) == split)
        go, bp = bank.global_orient[sel], bank.body_pose[sel]
        _, bpm = mirror_pose(go, bp, pairs)
        both = torch.cat([bp, bpm]).double()
        return rotmat_to_axis_angle(both).reshape(len(both), -1).numpy()

    x, xv = poses("train"), poses("val")
    w, mu, pc, hist = fit_gmm(x, k=args.k, iters=args.iters)
    lo = np.percentile(x, 0.5, axis=0) - LIMIT_MARGIN
    hi = np.percentile(x, 99.5, axis=0) + LIMIT_MARGIN
    t = torch.from_numpy
    prior = PosePrior(t(w), t(mu), t(pc), t(lo), t(hi), bones)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    prior.save(args.out)
    nll_tr = float(prior.nll(t(x)).mean())
    nll_val = float(prior.nll(t(xv)).mean())
    print(json.dumps({
        "out": str(args.out), "k": args.k, "n_train": len(x), "n_val": len(xv),
        "em_iters": len(hist), "loglik": [round(h, 2) for h in hist[::10]] + [round(hist[-1], 2)],
        "nll_train": round(nll_tr, 2), "nll_val": round(nll_val, 2),
        "limits_violation_val": float((prior.limits(t(xv)) > 0).float().mean()),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
