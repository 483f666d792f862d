"""Command line: ``lasor predict | train | eval | synth | body``.

Each subcommand imports its machinery only when it runs, so ``lasor --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("lasor")


def _add_body_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--body", default="anny", choices=["anny", "smpl"], help="body model")
    p.add_argument("--topology", default="anny", help="Anny topology (anny, notoes_collapse10pc)")
    p.add_argument("--smpl-model", type=Path, default=None, help="your SMPL .pkl/.npz or folder")
    p.add_argument("--gender", default="neutral", choices=["neutral", "male", "female"])


def _load_body(args):
    from lasor.body import load_body_model

    return load_body_model(
        args.body, topology=args.topology, model_path=args.smpl_model, gender=args.gender
    )


# ---------------------------------------------------------------- body
def cmd_body(args) -> int:
    """Pose a body, write its mesh and a picture (a quick check that the body model works)."""
    import numpy as np
    import torch

    from lasor.body.rotations import axis_angle_to_rotmat
    from lasor.io.mesh import write_obj, write_ply
    from lasor.io.pictures import render_body_views

    body = _load_body(args)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    aa = torch.zeros(1, body.num_pose_bones, 3)
    for name, rot in _DEMO_POSE.get(body.name, {}).items():
        if name in body.pose_bones:
            aa[0, body.pose_bones.index(name)] = torch.tensor(rot)
    shape = body.shape_default[None].clone()
    with torch.no_grad():
        res = body(torch.eye(3)[None], axis_angle_to_rotmat(aa), shape)
    v = res.vertices[0].numpy()
    f = res.faces.numpy()
    stem = f"{body.name}_posed"
    write_obj(out / f"{stem}.obj", v, f)
    write_ply(out / f"{stem}.ply", v, f)
    img = render_body_views(v, f, res.keypoints_coco[0].numpy(), title=body.version)
    img.save(out / f"{stem}.png")
    np.savez(out / f"{stem}.npz", vertices=v, faces=f, joints=res.joints[0].numpy())
    print(f"wrote {out / stem}.obj/.ply/.png/.npz ({len(v)} vertices, {len(f)} faces)")
    return 0


#: a recognisable demo pose (axis-angle, body frame: X left, Y up, Z forward)
_DEMO_POSE = {
    "anny": {
        "upperarm01.L": [0.0, 0.0, 0.9], "upperarm01.R": [0.0, 0.0, -0.3],
        "lowerarm01.L": [0.0, 0.0, 1.2], "upperleg01.R": [-0.9, 0.0, 0.0],
        "lowerleg01.R": [1.3, 0.0, 0.0], "head": [0.2, 0.3, 0.0],
    },
    "smpl": {
        "left_shoulder": [0.0, 0.0, 0.3], "right_shoulder": [0.0, 0.0, 0.9],
        "left_elbow": [0.0, -1.2, 0.0], "right_hip": [-0.9, 0.0, 0.0],
        "right_knee": [1.3, 0.0, 0.0], "head": [0.2, 0.3, 0.0],
    },
}  # fmt: skip


# ---------------------------------------------------------------- synth
def cmd_synth_poses(args) -> int:
    from lasor.synth.poses import build_pose_bank, default_pose_bank_path

    out = Path(args.out) if args.out else default_pose_bank_path()
    stats = build_pose_bank(Path(args.bvh), out, fps=args.fps, min_angle_deg=args.min_angle)
    print(stats)
    return 0


def _synth_dataset(args, split: str = "train"):
    from lasor.synth.dataset import SyntheticBatches
    from lasor.synth.engine import SynthConfig

    body = _load_body(args)
    cfg = SynthConfig(res=args.res, occlusion=not args.no_occlusion, noise=not args.no_noise)
    return SyntheticBatches(
        body, cfg, split=split, seed=args.seed, batch_size=args.batch_size,
        bank_size=args.bank_size, pose_bank=args.pose_bank,
    )  # fmt: skip


def cmd_synth_preview(args) -> int:
    from lasor.synth.preview import preview_grid

    ds = _synth_dataset(args, args.split)
    img = preview_grid(ds[0], cols=args.cols)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    img.save(args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_synth_export(args) -> int:
    from lasor.synth.preview import export_shards

    ds = _synth_dataset(args, args.split)
    paths = export_shards(ds, args.n, args.out)
    print(f"wrote {len(paths)} shards to {args.out}")
    return 0


def _add_synth_common(p: argparse.ArgumentParser, batch: int) -> None:
    _add_body_args(p)
    p.set_defaults(topology="notoes_collapse10pc")
    p.add_argument("--res", type=int, default=64, help="proxy resolution (pixels)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=batch)
    p.add_argument("--bank-size", type=int, default=2000, help="bodies posed up front")
    p.add_argument("--split", default="train", choices=["train", "val"])
    p.add_argument("--pose-bank", type=Path, default=None, help="pose bank .npz (default cache)")
    p.add_argument("--no-occlusion", action="store_true", help="no people/objects/truncation")
    p.add_argument("--no-noise", action="store_true", help="no detector noise")


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lasor",
        description="Occlusion-robust 3D human pose and shape from a single photo, on a CPU.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("body", help="pose a body model; write mesh, parameters and a picture")
    _add_body_args(p)
    p.add_argument("-o", "--output", default="out/body", help="output folder")
    p.set_defaults(func=cmd_body)

    ps = sub.add_parser("synth", help="synthetic data: pose bank, preview, export")
    ssub = ps.add_subparsers(dest="synth_command", metavar="SYNTH_COMMAND", required=True)
    p = ssub.add_parser("poses", help="build the pose bank from a folder of BVH mocap")
    p.add_argument("--bvh", required=True, help="folder of .bvh / .bvh.gz files")
    p.add_argument("--out", default=None, help="pose bank file (default: cache)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--min-angle", type=float, default=10.0, help="dedup threshold (degrees)")
    p.set_defaults(func=cmd_synth_poses)
    p = ssub.add_parser("preview", help="write a grid of synthetic samples as a PNG")
    _add_synth_common(p, batch=32)
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("-o", "--output", default="out/synth_preview.png")
    p.set_defaults(func=cmd_synth_preview)
    p = ssub.add_parser("export", help="write fixed synthetic shards (.npz) for a benchmark")
    _add_synth_common(p, batch=64)
    p.add_argument("-n", "--n", type=int, default=1024, help="number of samples")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_synth_export)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub) -> None:
    """Subcommands added as their modules land (train, eval, predict)."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
