"""Synthetic occlusion benchmark: a fixed test set from held-out mocap, metrics per stratum.

The test set is made by the data engine (``lasor.synth``) from poses no training batch sees (the
pose bank's ``val`` split: whole held-out CMU subjects), with a fixed seed, so two checkpoints
are compared on identical samples. Metrics (millimetres):

* MPJPE / PA-MPJPE on the Human3.6M-17 joints of the body model, pelvis-aligned;
* PVE on the full Anny mesh (13,718 vertices), pelvis-aligned;
* PVE-T-SC: rest-pose meshes of predicted vs true shape, centred and scale-corrected.

Strata: all, unoccluded (no flag and < 5 % hidden), object-occluded, person-occluded, truncated,
heavily occluded (>= 40 % of the body hidden), and bins of the occluded fraction.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from lasor.body.joints import H36M_JOINTS
from lasor.eval import metrics as M

log = logging.getLogger(__name__)

FRACTION_BINS = [0.0, 0.05, 0.2, 0.4, 0.6, 1.01]
HEAVY = 0.4

#: The benchmarks. ``v1`` is the fixed set every model since anny_v1 was scored on (people on
#: the optical axis, the original detector noise, mocap poses only): it stays as it is. ``v2``
#: stands beside it (a new set, never a replacement): people anywhere in perspective photos,
#: 10 % at any in-plane roll, detector noise measured on MediaPipe, and a quarter of the poses
#: from the held-out pose anchors (sitting, kneeling, lying, ...). Both test sets carry both
#: input versions, so every model is scored on identical samples. ``anchors`` is v2 with every
#: pose from the held-out anchors.
BENCHMARKS: dict[str, dict] = {
    "v1": {"synth": {}, "anchor_share": 0.0},
    "v2": {
        "synth": {
            "noise_preset": "mediapipe",
            "camera": {"offcentre": 0.8, "roll_any": 0.1, "distance": [1.8, 8.0]},
            # MediaPipe's world landmarks for every sample (their own random stream: every
            # other tensor is as before they existed)
            "world": True, "world_absent": 0.0,
        },
        "anchor_share": 0.25,
    },
    # only the held-out pose anchors (sitting, kneeling, crouching, bending, lying, getting up,
    # upside down: 10 CMU trials no training batch saw), v2's cameras and noise
    "anchors": {
        "synth": {
            "noise_preset": "mediapipe",
            "camera": {"offcentre": 0.8, "roll_any": 0.1, "distance": [1.8, 8.0]},
            "world": True, "world_absent": 0.0,
        },
        "anchor_share": 1.0,
    },
    # every age (issue 22): v2's cameras, noise and pose anchors, bodies from the "all"
    # population of ``lasor.synth.shapes`` (30 % children 2-12 y, 15 % teens, 40 % adults,
    # 15 % elders), cameras at distances that follow the body's height; strata by age group
    "ages": {
        "synth": {
            "noise_preset": "mediapipe",
            "camera": {"offcentre": 0.8, "roll_any": 0.1, "distance": [1.8, 8.0]},
            "ages": "all",
        },
        "anchor_share": 0.25,
    },
}

#: the per-sample extras of every evaluation (``per_sample.npz``): standing-height error (cm,
#: rest pose, no alignment), age error (years, Anny's scale) and the true age (years)
SIZE_KEYS = ("height_err_cm", "age_err_years", "age_true_years")


def pose_bank_from_bvh(bvh_dir: Path, cache: Path) -> Path:
    """Build a pose bank holding every frame of ``bvh_dir`` in its ``val`` split."""
    from lasor.synth.poses import build_pose_bank, subject_of

    files = sorted(p for p in Path(bvh_dir).rglob("*") if p.name.endswith((".bvh", ".bvh.gz")))
    if not files:
        raise FileNotFoundError(f"no .bvh or .bvh.gz files in {bvh_dir}")
    trials = [p.name.split(".bvh")[0] for p in files]
    subjects = sorted({subject_of(t) for t in trials})
    build_pose_bank(Path(bvh_dir), cache, val_subjects=subjects, progress=False)
    return cache


def make_test_set(
    n: int,
    seed: int,
    res: int,
    pose_bank: Path | None,
    batch_size: int = 64,
    occlusion=True,
    benchmark: str = "v1",
) -> list[dict]:
    """``ceil(n / batch_size)`` fixed batches from the engine's ``val`` split.

    ``benchmark``: a key of ``BENCHMARKS``.
    """
    from lasor.body import load_body_model
    from lasor.synth.dataset import SyntheticBatches
    from lasor.synth.engine import SynthConfig
    from lasor.train.config import config_from_dict

    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {sorted(BENCHMARKS)}")
    spec = BENCHMARKS[benchmark]
    synth = config_from_dict({**spec["synth"], "res": res, "occlusion": occlusion}, SynthConfig)
    body = load_body_model("anny", topology="notoes_collapse10pc")
    ds = SyntheticBatches(
        body, synth, split="val", seed=seed, batch_size=min(batch_size, n),
        bank_size=max(n, 256), pose_bank=pose_bank, anchor_share=spec["anchor_share"],
    )  # fmt: skip
    batches = [ds[i] for i in range(-(-n // ds.batch_size))]
    extra = len(batches) * ds.batch_size - n
    if extra:  # trim the last batch to exactly n samples
        batches[-1] = {k: v[: ds.batch_size - extra] for k, v in batches[-1].items()}
    return batches


def strata(flags: np.ndarray, frac: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the benchmark's strata."""
    out = {
        "all": np.ones(len(flags), bool),
        "unoccluded": (flags == 0) & (frac < 0.05),
        "object": (flags & 1) > 0,
        "person": (flags & 2) > 0,
        "truncated": (flags & 4) > 0,
        "heavy": frac >= HEAVY,
    }
    for lo, hi in zip(FRACTION_BINS[:-1], FRACTION_BINS[1:], strict=True):
        out[f"frac_{lo:.2f}-{min(hi, 1.0):.2f}"] = (frac >= lo) & (frac < hi)
    return out


def paired_differences(
    base: dict,
    other: dict,
    keys: tuple[str, ...] = ("mpjpe", "pa_mpjpe", "pve"),
    names: tuple[str, ...] = ("unoccluded", "object", "person", "truncated", "heavy", "all"),
) -> dict[str, dict[str, tuple[float, float]]]:
    """``other - base`` per-sample errors on the same test set: per stratum and metric, the mean
    and the half-width of its 95 % interval (normal approximation over test samples).

    Args:
        base, other: ``per_sample.npz`` contents of two evaluations of the same samples.
    """
    if not np.array_equal(base["frac"], other["frac"]):
        raise ValueError("paired_differences: the two evaluations used different test sets")
    masks = strata(base["flags"], base["frac"])
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for s in names:
        out[s] = {}
        for k in keys:
            d = (other[k] - base[k])[masks[s]]
            half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            out[s][k] = (round(float(d.mean()), 2), round(float(half), 2))
    return out


@torch.no_grad()
def evaluate_batches(
    model,
    batches: list[dict],
    body_full,
    device: str = "cpu",
    refine=None,
    fit_body=None,
    timing: dict | None = None,
    fit=None,
) -> dict:
    """Per-sample errors (mm) of ``model`` on fixed batches.

    ``fit`` (a ``lasor.fit.FitOptions``, with ``fit_body``) fits each prediction with
    :func:`lasor.fit.fit_people`, the proxy's crop standing in for the photo (its silhouette
    channel as the mask, heatmap peaks as keypoints, focal ``SYNTHETIC_CROP_FOCAL`` x the crop
    side); its seconds are added to ``timing["fit"]``.

    ``refine`` (a ``lasor.refine.RefineOptions``, with ``fit_body``) also fits each prediction to
    its proxy's keypoints (heatmap peaks) and silhouette before scoring; its seconds are added
    to ``timing["refine"]``.
    """
    from lasor.body.measure import anny_age_to_years
    from lasor.refine import refine_in_crop
    from lasor.synth.proxy import decode_heatmaps

    timing = {} if timing is None else timing
    per = {k: [] for k in ("mpjpe", "pa_mpjpe", "pve", "pve_t_sc", "frac", "flags", *SIZE_KEYS)}
    per["shape_pred"], per["shape_true"] = [], []
    age_i = body_full.shape_names.index("age") if "age" in body_full.shape_names else None
    per_joint = []
    eye = torch.eye(3)
    for b in batches:
        pred = model.run({k: v.to(device) for k, v in b.items()})
        if refine is not None and refine.steps > 0:
            t = time.perf_counter()
            if model.proxy_version == 1:  # what the CNN saw: heatmap peaks
                proxy = b["proxy"].to(device)
                joints, peak = decode_heatmaps(proxy)
                sil = proxy[:, 0]
            else:  # the exact keypoints the hybrid saw
                sil = b["mask"][:, 0].to(device)
                kp = b["keypoints"].to(device)
                joints, peak = (kp[..., :2] + 1.0) * (sil.shape[-1] / 2.0), kp[..., 2]
            pred = refine_in_crop(
                pred, fit_body, joints, peak, sil, sil.shape[-1], refine, model.shape_mapping
            )
            timing["refine"] = timing.get("refine", 0.0) + time.perf_counter() - t
        if fit is not None and fit.steps > 0:
            t = time.perf_counter()
            pred = _fit_in_crop(pred, b, model.proxy_version, fit_body, fit, device)
            timing["fit"] = timing.get("fit", 0.0) + time.perf_counter() - t
        n = len(b["global_orient"])
        p = body_full(pred.global_orient.cpu(), pred.body_pose.cpu(), pred.shape.cpu())
        g = body_full(b["global_orient"], b["body_pose"], b["shape"])
        pj, gj = p.joints_h36m.numpy(), g.joints_h36m.numpy()
        per["mpjpe"].append(M.mpjpe(pj, gj, align="pelvis") * 1000)
        per["pa_mpjpe"].append(M.pa_mpjpe(pj, gj) * 1000)
        per_joint.append(M.mpjpe(pj, gj, align="pelvis", per_joint=True) * 1000)
        per["pve"].append(M.pve(p.vertices.numpy(), g.vertices.numpy(), align="none") * 1000)
        nb = body_full.num_pose_bones
        rest_p = body_full(eye.expand(n, 3, 3), eye.expand(n, nb, 3, 3), pred.shape.cpu())
        rest_g = body_full(eye.expand(n, 3, 3), eye.expand(n, nb, 3, 3), b["shape"])
        per["pve_t_sc"].append(M.pve_t_sc(rest_p.vertices.numpy(), rest_g.vertices.numpy()) * 1000)
        hp, hg = (_stature(r.vertices.numpy()) for r in (rest_p, rest_g))
        per["height_err_cm"].append(np.abs(hp - hg) * 100)
        sp, sg = pred.shape.cpu().numpy(), b["shape"].numpy()
        per["shape_pred"].append(sp)
        per["shape_true"].append(sg)
        if age_i is not None:
            ap, ag = anny_age_to_years(sp[:, age_i]), anny_age_to_years(sg[:, age_i])
            per["age_err_years"].append(np.abs(ap - ag))
            per["age_true_years"].append(ag)
        else:
            per["age_err_years"].append(np.full(n, np.nan))
            per["age_true_years"].append(np.full(n, np.nan))
        per["frac"].append(b["occluded_fraction"].numpy())
        per["flags"].append(b["occlusion"].numpy())
    out = {k: np.concatenate(v) for k, v in per.items()}
    out["per_joint"] = np.concatenate(per_joint)
    return out


def _stature(vertices: np.ndarray) -> np.ndarray:
    """(N, V, 3) rest-pose meshes (Y up) -> (N,) standing heights."""
    return vertices[..., 1].max(1) - vertices[..., 1].min(1)


#: Focal length of the synthetic crops in units of the crop side: the engine's unit-focal camera
#: at 2.5-8 m frames a ~1.7 m person in a crop of ~0.42 (1.2 x the box, jittered), i.e. ~2.4.
SYNTHETIC_CROP_FOCAL = 2.4


def _fit_in_crop(pred, batch: dict, version: int, fit_body, fit, device="cpu"):
    """``lasor.fit.fit_people`` with the R x R proxy crop as the photo (the observation the
    model saw: heatmap peaks for version 1, the exact keypoints for version 2)."""
    import dataclasses as dc

    from lasor.fit.core import FitStart, fit_people
    from lasor.predict import _cam_translation
    from lasor.synth.proxy import CropBox, decode_heatmaps

    if version == 1:
        proxy = batch["proxy"].to(device)
        joints, peak = decode_heatmaps(proxy)
        sil = proxy[:, 0]
    else:
        sil = batch["mask"][:, 0].to(device)
        kp = batch["keypoints"].to(device)
        joints, peak = (kp[..., :2] + 1.0) * (sil.shape[-1] / 2.0), kp[..., 2]
    r = sil.shape[-1]
    focal = SYNTHETIC_CROP_FOCAL * r
    box = CropBox(cx=r / 2, cy=r / 2, size=float(r))
    cam_t = np.stack([_cam_translation(c, box, (r, r), focal) for c in pred.cam.cpu().numpy()])
    start = FitStart(pred.global_orient, pred.body_pose, pred.shape, torch.from_numpy(cam_t))
    masks = list((sil > 0.5).cpu().numpy())
    n = len(masks)
    world = world_w = None
    if "world" in batch:  # back from the crop camera's frame into the engine's camera frame
        from lasor.synth.world import decode_world, look_at_rotation

        w, present = decode_world(batch["world"])
        look = look_at_rotation(batch["geometry"][:, :2].numpy()).astype(np.float32)
        world = np.einsum("bji,bnj->bni", look, w.numpy())  # R^T x
        world_w = peak.cpu().numpy() * present.numpy()[:, None]
    res = fit_people(
        fit_body, start, joints, peak, masks, [(r, r)] * n, [focal] * n, fit, boxes=[box] * n,
        shape_bounds=(0.0, 1.0) if fit_body.name == "anny" else None,
        world=world, world_weight=world_w,
    )  # fmt: skip
    return dc.replace(pred, global_orient=res.global_orient, body_pose=res.body_pose,
                      shape=res.shape)  # fmt: skip


def age_strata(age_years: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the age groups of ``lasor.synth.shapes.AGE_GROUPS``."""
    from lasor.synth.shapes import AGE_GROUPS, age_group

    groups = age_group(age_years)
    return {name: groups == name for name in AGE_GROUPS}


def summarise(per: dict, by_age: bool = False) -> dict:
    """Mean of every metric in every stratum (NaN for an empty stratum) with counts.

    ``by_age``: also the age-group strata (child, teen, adult, elder), and every stratum's
    height error (cm) and age error (years).
    """
    masks = strata(per["flags"], per["frac"])
    keys = ("mpjpe", "pa_mpjpe", "pve", "pve_t_sc")
    if by_age:
        masks = {**age_strata(per["age_true_years"]), **masks}
        keys = (*keys, "height_err_cm", "age_err_years")
    res = {}
    for name, m in masks.items():
        row = {"n": int(m.sum())}
        for k in keys:
            row[k] = round(float(per[k][m].mean()), 2) if m.any() else float("nan")
        res[name] = row
    res["per_joint_mpjpe"] = {
        j: round(float(v), 2) for j, v in zip(H36M_JOINTS, per["per_joint"].mean(0), strict=True)
    }
    return res


def markdown_table(summary: dict) -> str:
    keys = ["mpjpe", "pa_mpjpe", "pve", "pve_t_sc"]
    head = "| stratum | n | MPJPE | PA-MPJPE | PVE | PVE-T-SC |"
    sizes = "height_err_cm" in summary.get("all", {})
    if sizes:
        keys += ["height_err_cm", "age_err_years"]
        head += " height error (cm) | age error (years) |"
    lines = [head, "|---|" + "---:|" * (len(keys) + 1)]
    for name, row in summary.items():
        if name == "per_joint_mpjpe":
            continue
        vals = [f"{row[k]:.1f}" if np.isfinite(row[k]) else "–" for k in keys]
        lines.append(f"| {name} | {row['n']} | " + " | ".join(vals) + " |")
    unit = "(millimetres; height error in cm, age error in years)" if sizes else "(millimetres)"
    return "\n".join(lines) + f"\n\n{unit}\n"


def run_synthetic_eval(
    checkpoint: Path,
    out_dir: Path,
    n: int = 2048,
    seed: int = 0,
    bvh: Path | None = None,
    pose_bank: Path | None = None,
    refine=None,
    benchmark: str = "v1",
    fit=None,
) -> dict:
    """The whole benchmark: test set, predictions, metrics.json, metrics.md and plots.

    ``benchmark``: "v1" (the fixed set) or "v2" (see ``BENCHMARKS``).
    ``fit``: a ``lasor.fit.FitOptions`` to score fitted predictions (default off).

    ``refine``: a ``lasor.refine.RefineOptions`` to score refined predictions (default off).
    """
    from lasor.body import load_body_model
    from lasor.io.plots import bar_chart, line_chart
    from lasor.train.checkpoint import load_regressor

    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    model, cfg = load_regressor(checkpoint)
    if bvh is not None:
        pose_bank = pose_bank_from_bvh(bvh, out_dir / "test_pose_bank.npz")
    batches = make_test_set(n, seed, cfg.data.image_size, pose_bank, benchmark=benchmark)
    body_full = load_body_model("anny", topology="anny")
    fit_body = None
    if (refine is not None and refine.steps > 0) or (fit is not None and fit.steps > 0):
        fit_body = load_body_model(cfg.model.body_model, topology=cfg.model.topology)
    timing: dict = {}
    per = evaluate_batches(
        model, batches, body_full, refine=refine, fit_body=fit_body, timing=timing, fit=fit
    )
    summary = summarise(per, by_age=benchmark == "ages")
    result = {
        "checkpoint": str(checkpoint), "n": int(len(per["mpjpe"])), "seed": seed,
        "benchmark": benchmark,
        "pose_source": str(bvh or pose_bank or "default pose bank (val split)"),
        "metrics": summary, "wall_s": round(time.perf_counter() - t0, 1),
        "refine": None if refine is None else dataclasses.asdict(refine),
        "refine_ms_per_sample": round(timing.get("refine", 0.0) * 1000 / len(per["mpjpe"]), 2),
        "fit": None if fit is None else dataclasses.asdict(fit),
        "fit_ms_per_sample": round(timing.get("fit", 0.0) * 1000 / len(per["mpjpe"]), 2),
    }  # fmt: skip
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "metrics.md").write_text(markdown_table(summary))
    # per-sample errors, for paired comparisons of checkpoints on the same test set
    np.savez_compressed(out_dir / "per_sample.npz", **per)
    bins = [k for k in summary if k.startswith("frac_")]
    centres = [(FRACTION_BINS[i] + min(FRACTION_BINS[i + 1], 1.0)) / 2 for i in range(len(bins))]
    line_chart(
        centres, {k: [summary[b][k] for b in bins] for k in ("mpjpe", "pa_mpjpe", "pve")},
        title="error vs occluded fraction (synthetic, held-out mocap)",
        xlabel="occluded fraction of the body", ylabel="mm",
    ).save(out_dir / "error_vs_occlusion.png")  # fmt: skip
    bar_chart(
        list(summary["per_joint_mpjpe"]), {"MPJPE": list(summary["per_joint_mpjpe"].values())},
        title="per-joint error (pelvis-aligned)", ylabel="mm", size=(1100, 420),
    ).save(out_dir / "per_joint_error.png")  # fmt: skip
    return result
