"""Command line: ``lasor predict | train | eval | synth | body``.

Each subcommand imports its machinery only when it runs, so ``lasor --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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
    from lasor.synth import poses

    if args.anchors:
        from lasor.synth.anchors import build_anchors, default_anchor_path

        out = Path(args.out) if args.out else default_anchor_path()
        anchors = build_anchors(Path(args.bvh), out)
        print({"out": str(out), "frames": len(anchors), **anchors.meta["counts"]})
        return 0
    if args.balanced:
        out = Path(args.out) if args.out else poses.default_balanced_pose_bank_path()
        stats = poses.build_pose_bank(
            Path(args.bvh), out, fps=args.fps, min_angle_deg=args.min_angle, balance=True
        )
    else:
        out = Path(args.out) if args.out else poses.default_pose_bank_path()
        stats = poses.build_pose_bank(
            Path(args.bvh), out, fps=args.fps, min_angle_deg=args.min_angle
        )
    print(stats)
    return 0


def _synth_dataset(args, split: str = "train"):
    from lasor.synth.dataset import SyntheticBatches
    from lasor.synth.engine import SynthConfig

    body = _load_body(args)
    cfg = SynthConfig(
        res=args.res, occlusion=not args.no_occlusion, noise=not args.no_noise, ages=args.ages
    )
    return SyntheticBatches(
        body, cfg, split=split, seed=args.seed, batch_size=args.batch_size,
        bank_size=args.bank_size, pose_bank=args.pose_bank,
    )  # fmt: skip


def cmd_synth_preview(args) -> int:
    from lasor.synth.preview import preview_grid

    ds = _synth_dataset(args, args.split)
    img = preview_grid(ds[0], cols=args.cols)
    if args.bodies:  # shaded bodies of the bank, beside the proxy grid's file
        from lasor.body import load_body_model
        from lasor.synth.preview import bodies_grid

        full = load_body_model("anny") if ds.bank.shape.shape[1] == 6 else None
        grid = bodies_grid(_load_body(args), ds.bank, n=args.batch_size, cols=args.cols,
                           full_body=full)  # fmt: skip
        path = Path(args.output).with_name(Path(args.output).stem + "_bodies.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        grid.save(path)
        print(f"wrote {path}")
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
    p.add_argument(
        "--ages", default="adult", choices=["adult", "all", "child", "teen", "elder"],
        help="body shapes: adults (default), every age, or one age group (lasor.synth.shapes)",
    )  # fmt: skip


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
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--balanced",
        action="store_true",
        help="balanced bank (trial-wide dedup, per-trial/group caps) to pose_bank_balanced.npz",
    )
    g.add_argument(
        "--anchors",
        action="store_true",
        help="--bvh is cmu_mocap_extra: write its snapshots as pose anchors (pose_anchors.npz)",
    )
    p.set_defaults(func=cmd_synth_poses)
    p = ssub.add_parser("preview", help="write a grid of synthetic samples as a PNG")
    _add_synth_common(p, batch=32)
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("-o", "--output", default="out/synth_preview.png")
    p.add_argument(
        "--bodies", action="store_true",
        help="also <output>_bodies.png: shaded front/side views of the posed bank bodies",
    )  # fmt: skip
    p.set_defaults(func=cmd_synth_preview)
    p = ssub.add_parser("export", help="write fixed synthetic shards (.npz) for a benchmark")
    _add_synth_common(p, batch=64)
    p.add_argument("-n", "--n", type=int, default=1024, help="number of samples")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_synth_export)

    _add_optional_commands(sub)
    _add_demo_command(sub)
    return parser


def _add_demo_command(sub) -> None:
    """``lasor demo``: the local web page (lasor.demo)."""
    p = sub.add_parser("demo", help="a local web page: drop a photo, see and download the body")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: local only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--max-upload-mb", type=float, default=10.0, help="largest accepted photo")
    p.add_argument("--checkpoint", type=Path, default=None, help="model (default: shipped)")
    p.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="also accept this host name in Host/Origin headers (serving on a network)",
    )  # fmt: skip
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from lasor.demo.server import DemoConfig, serve

    cfg = DemoConfig(
        max_upload_bytes=int(args.max_upload_mb * 2**20), model_path=args.checkpoint,
        allowed_hosts=tuple(args.allow_host),
    )  # fmt: skip
    serve(args.host, args.port, cfg)
    return 0


def _add_optional_commands(sub) -> None:
    """train, eval and predict (their options are declared here so ``--help`` stays instant)."""
    from lasor.train.args import add_train_arguments

    p = sub.add_parser("train", help="train the regressor on synthetic proxies (DDP via torchrun)")
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    pe = sub.add_parser("eval", help="evaluate a model: synthetic occlusion benchmark, real photos")
    esub = pe.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND", required=True)
    p = esub.add_parser("synthetic", help="fixed synthetic test set from held-out mocap")
    p.add_argument("--checkpoint", type=Path, default=None, help="model (default: shipped)")
    p.add_argument("--bvh", type=Path, default=None, help="BVH folder (default: held-out poses)")
    p.add_argument("--pose-bank", type=Path, default=None, help="pose bank (its val split)")
    p.add_argument(
        "-n", "--n", type=int, default=2048,
        help="test samples (512 left the overall PA-MPJPE varying by ~6 mm between seeds)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--benchmark", choices=["v1", "v2", "anchors", "ages"], default="v1",
        help="v1: the fixed set (people on the optical axis, original noise); v2: perspective "
        "photos, any roll, MediaPipe-measured noise, pose anchors; ages: v2 with bodies of "
        "every age, strata by age group (lasor.eval.synthetic)",
    )  # fmt: skip
    p.add_argument("-o", "--output", type=Path, default=Path("out/eval_synthetic"))
    _add_refine_arg(p)
    _add_fit_args(p)
    p.set_defaults(func=cmd_eval_synthetic)
    p = esub.add_parser("real", help="real photos with ground truth (masks, 2D, H36M 3D)")
    p.add_argument("--checkpoint", type=Path, default=None, help="model (default: shipped)")
    p.add_argument("--data", type=Path, default=Path("../shared/data/real"))
    p.add_argument("-o", "--output", type=Path, default=Path("out/eval_real"))
    _add_refine_arg(p)
    _add_fit_args(p)
    p.set_defaults(func=cmd_eval_real)

    p = sub.add_parser(
        "predict", help="photos or video clips -> 3D bodies (meshes, parameters, pictures)"
    )
    p.add_argument("photos", nargs="*", type=Path, help="image files or folders, or video clips")
    p.add_argument("-o", "--output", type=Path, default=Path("out/predict"))
    p.add_argument(
        "--example", nargs="?", const="full", default=None, choices=["full", "portrait"],
        help="also run a bundled example photo: full (default; a whole person) or portrait "
        "(waist-up, the truncation example)",
    )  # fmt: skip
    p.add_argument("--checkpoint", type=Path, default=None, help="model (default: shipped)")
    p.add_argument(
        "--keypoints",
        type=Path,
        default=None,
        help="COCO/OpenPose JSON file, or a folder of <stem>.json (skips MediaPipe)",
    )
    p.add_argument(
        "--masks",
        type=Path,
        default=None,
        help="mask PNG, or a folder of <stem>_mask.png / <stem>.png",
    )
    p.add_argument(
        "--bbox",
        type=str,
        action="append",
        default=[],
        metavar="X0,Y0,X1,Y1",
        help="a person box in pixels, corners (repeat for several people)",
    )
    p.add_argument(
        "--boxes",
        type=Path,
        default=None,
        help="JSON {image name: [[x0,y0,x1,y1], ...]} of person boxes per photo, or one box file "
        'for every photo ([[x0,y0,x1,y1], ...], [{"bbox": [x,y,w,h]}, ...] or {"bbox": [x,y,w,h]}'
        " as SPIN's *_bbox.json)",
    )
    # --- multi-person front end (issue 17) ---
    p.add_argument(
        "--person", default="all", choices=["all", "largest"],
        help="without --keypoints/--bbox/--boxes: every person found (default; person 0 = the "
        "most prominent, written as <stem>.*, the others <stem>_p1.*, ...), or only the largest, "
        "most central one",
    )  # fmt: skip
    p.add_argument(
        "--max-people", type=_positive_int, default=None, metavar="N",
        help="at most N people per photo (N >= 1)",
    )  # fmt: skip
    p.add_argument(
        "--max-pixels", type=int, default=None, metavar="N",
        help="refuse photos and masks over N pixels before decoding them (default 64000000, or "
        "LASOR_MAX_PIXELS; 0 = no cap)",
    )  # fmt: skip
    p.add_argument(
        "--height", type=float, default=None, metavar="M",
        help="the person's standing height in metres: fixes the scale, so cam_t, vertices and "
        "joints are metric (default: the estimated body's own size; results say which)",
    )  # fmt: skip
    p.add_argument(
        "--frontend", default="litert", choices=["litert", "mediapipe"],
        help="photo front end: litert = BlazePose's two models run by lasor through LiteRT "
        "(default); mediapipe = MediaPipe's legacy Pose solution in each detector window (older)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=_positive_int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-render", action="store_true", help="skip the PNG pictures / MP4s")
    p.add_argument(
        "--video", action="store_true",
        help="treat the inputs (e.g. a folder of frames) as video clips; .mp4/.mov/.avi/.mkv/"
        ".webm files always are",
    )  # fmt: skip
    p.add_argument("--no-smooth", action="store_true", help="video: no temporal smoothing")
    p.add_argument(
        "--export", default="", metavar="FORMATS",
        help="also write rigged files per person: glb (mesh + Anny skeleton + skin), bvh",
    )  # fmt: skip
    _add_refine_arg(p)
    _add_fit_args(p)
    p.set_defaults(func=cmd_predict)


def _add_refine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--refine", type=int, nargs="?", const=40, default=0, metavar="STEPS",
        help="fit each regressed body to its observed keypoints and mask for STEPS Adam steps "
        "(default 40 when given; costs ~40x the regressor, see benchmarks/MODEL_CARD.md); "
        "off by default",
    )  # fmt: skip


def _add_fit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--fast", action="store_true",
        help="skip fitting: the regressor's output as is (benchmarks/results/fit.md)",
    )  # fmt: skip
    g.add_argument(
        "--fit-steps", type=int, default=None, metavar="N",
        help="Adam steps of the full-resolution fit in the photo's camera (lasor.fit; "
        "default FitOptions.steps)",
    )  # fmt: skip
    p.add_argument(
        "--fit-world", type=float, default=None, metavar="W",
        help="weight of the fit's term on MediaPipe's 3D world landmarks (bone directions; "
        "default FitOptions.world, 0 = off; photos without landmarks never use it)",
    )  # fmt: skip


def _fit_options(args):
    if getattr(args, "fast", False) or getattr(args, "refine", 0):
        return None  # --refine keeps the older 64 px path on its own
    from lasor.fit.core import FitOptions

    kw = {}
    world = getattr(args, "fit_world", None)
    if world is not None:
        if not world >= 0:
            raise SystemExit(f"lasor: --fit-world needs a number >= 0, got {world}")
        kw["world"] = world
    if args.fit_steps is None:
        return FitOptions(**kw)
    if args.fit_steps < 0:
        raise SystemExit(f"lasor: --fit-steps needs a number >= 0, got {args.fit_steps}")
    return FitOptions(steps=args.fit_steps, **kw) if args.fit_steps else None


def _refine_options(args):
    if args.refine < 0:
        raise SystemExit(f"lasor: --refine needs a number of steps >= 0, got {args.refine}")
    if not args.refine:
        return None
    from lasor.refine import RefineOptions

    return RefineOptions(steps=args.refine)


def cmd_train(args) -> int:
    from lasor.train.loop import run_train

    return run_train(args)


def cmd_eval_synthetic(args) -> int:
    from lasor.eval.synthetic import markdown_table, run_synthetic_eval
    from lasor.predict import shipped_model_path

    res = run_synthetic_eval(
        args.checkpoint or shipped_model_path(), args.output, n=args.n, seed=args.seed,
        bvh=args.bvh, pose_bank=args.pose_bank, refine=_refine_options(args),
        benchmark=args.benchmark, fit=_fit_options(args),
    )  # fmt: skip
    print(markdown_table(res["metrics"]))
    print(f"wrote {args.output}/metrics.json, metrics.md and plots")
    return 0


def cmd_eval_real(args) -> int:
    from lasor.eval.real import run_real_eval
    from lasor.predict import shipped_model_path

    res = run_real_eval(
        args.checkpoint or shipped_model_path(), args.data, args.output,
        refine=_refine_options(args), fit=_fit_options(args),
    )  # fmt: skip
    print(res["table"])
    return 0


def _export_formats(args) -> tuple[str, ...]:
    from lasor.io.export import parse_formats

    try:
        return parse_formats(args.export)
    except ValueError as e:
        raise SystemExit(f"lasor predict --export: {e}") from None


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def parse_bbox(text: str):
    """``"x0,y0,x1,y1"`` -> (4,) float32 box; ValueError (saying what is expected) otherwise."""
    import math

    import numpy as np

    parts = [t.strip() for t in str(text).split(",")]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"--bbox {text!r}: expected four finite numbers X0,Y0,X1,Y1 (pixels)")
    x0, y0, x1, y1 = values
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"--bbox {text!r}: expected X1 > X0 and Y1 > Y0 (corners, not a size)")
    return np.array(values, np.float32)


def read_boxes_option(path: Path) -> dict | object:
    """``--boxes`` file -> ``{image name: (N, 4) boxes}``, or one (N, 4) array for every photo.

    Raises:
        ValueError: the file is missing or malformed (the message says what is expected).
    """
    import numpy as np

    from lasor.frontend.files import read_boxes
    from lasor.frontend.types import FrontendError

    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"--boxes {path}: cannot be read as JSON ({e})") from None
    try:
        if not isinstance(data, dict) or "bbox" in data:  # one box file for every photo
            return read_boxes(path)
        out = {}
        for name, value in data.items():
            if isinstance(value, list) and value and not isinstance(value[0], (list, dict)):
                value = [value]  # one box
            if not isinstance(value, list) or not all(
                isinstance(b, list) and len(b) == 4 for b in value
            ):
                raise ValueError(f"{name!r} must map to [[x0, y0, x1, y1], ...]")
            out[name] = np.stack([parse_bbox(",".join(str(v) for v in b)) for b in value])
        return out
    except (FrontendError, ValueError, TypeError) as e:
        raise ValueError(
            f"--boxes {path}: {e}; expected {{image name: [[x0,y0,x1,y1], ...]}} or one box file"
        ) from None


def _boxes_option(args, photos: list[Path]) -> dict:
    """The per-photo boxes of ``--boxes`` and ``--bbox`` (``--bbox`` wins); ValueError if bad."""
    import numpy as np

    boxes: dict = {}
    if args.boxes:
        data = read_boxes_option(args.boxes)
        if isinstance(data, dict):
            boxes = data
            known = {p.name for p in photos} | {str(p) for p in photos}
            unknown = [k for k in boxes if k not in known]
            if unknown and photos:
                log.warning("--boxes names photos not given: %s", ", ".join(unknown[:5]))
        else:
            boxes = {p.name: data for p in photos}
    if args.bbox:
        arr = np.stack([parse_bbox(b) for b in args.bbox])
        for p in photos:
            boxes[p.name] = arr
    return boxes


def cmd_predict(args) -> int:
    """A thin shell over `lasor.Estimator` (photos) and `lasor.video` (clips)."""
    from lasor.predict import example_photo, find_images
    from lasor.video import VIDEO_SUFFIXES

    videos = [p for p in args.photos if p.suffix.lower() in VIDEO_SUFFIXES]
    if args.video:
        videos += [p for p in args.photos if p not in videos]
    photos = find_images([p for p in args.photos if p not in videos])
    if args.example:
        photos.append(example_photo(args.example))
    if not photos and not videos:
        print("lasor predict: no photos given (pass files/folders, or --example)", file=sys.stderr)
        return 2
    if args.output.exists() and not args.output.is_dir():
        print(
            f"lasor predict: --output {args.output} is a file; expected a folder", file=sys.stderr
        )
        return 2
    try:
        boxes = _boxes_option(args, photos)
    except ValueError as e:
        print(f"lasor predict: {e}", file=sys.stderr)
        return 2
    from lasor.api import Estimator

    est = Estimator(
        args.checkpoint, keypoints=args.keypoints, masks=args.masks, boxes=boxes,
        batch_size=args.batch_size, render=not args.no_render, device=args.device,
        refine=_refine_options(args), export=_export_formats(args), fit=_fit_options(args),
        person=args.person, max_people=args.max_people, max_pixels=args.max_pixels,
        height=args.height, frontend=args.frontend,
    )  # fmt: skip
    if args.height is None:
        print("scale: the estimated body's own size (pass --height M to make it metric)")
    else:
        print(f"scale: fixed by --height {args.height:g} m (cam_t is metric)")
    rc = 0
    with est:
        if photos:
            summary = est.predict(photos, args.output, progress=True)
            n_ok = sum(e["ok"] for e in summary["images"])
            print(f"{n_ok}/{len(photos)} photos, {summary['people']} people -> {args.output}")
            for e in summary["images"]:
                if not e["ok"]:
                    print(f"  failed: {e['error']}", file=sys.stderr)
            rc = 0 if summary["failed"] == 0 else 1
        for v in videos:
            rc = max(rc, _predict_video(est, v, args))
    return rc


def _predict_video(est, path: Path, args) -> int:
    from lasor.video import VideoError, VideoOptions, predict_video

    vopts = VideoOptions(smooth=not args.no_smooth, render=not args.no_render)
    try:
        s = predict_video(est, path, args.output, vopts, progress=True)
    except VideoError as e:
        print(f"lasor predict: {e}", file=sys.stderr)
        return 1
    print(
        f"{path}: {s['frames_ok']}/{s['frames']} frames with a person "
        f"({s['fps_processed']:.1f} fps) -> {args.output}/{s['stem']}.npz"
    )
    for f in s["failures"][:10]:
        print(f"  frame {f['frame']}: {f['error']}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "predict":
        # before torch loads OpenMP: spinning worker threads made the regressor 13x slower on
        # busy shared cores (3.4 s vs 0.25 s a batch of 16); short inference calls lose nothing
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
