"""The bent-leg study: knee / hip angle errors by pose stratum, and where the bias comes from.

    python benchmarks/angles.py [--model PATH] [--n 512] [--real benchmarks/results/real3d.json]

Measures (all angles from H36M-17 joints, `lasor.eval.angles`: knee = hip-knee-ankle, hip =
thorax-hip-knee, 180 = straight):

* the training pose distribution: the balanced pose bank's train split and the pose anchors
  (``~/.cache/lasor``, as ``anny_h2`` was trained: balanced bank, anchor share 0.25), posed on
  Anny at its default shape; the 75/25 mixture;
* the rest pose of the body model, and the fit's GMM pose prior (its component means);
* the regressor (``--fast``) on the synthetic benchmark v2 (held-out poses: the balanced bank's
  val split + held-out anchors): signed angle errors by stratum, and the slope of predicted
  vs true knee angle (< 1 = shrinkage toward the mean);
* the real frames (from ``benchmarks/real3d.py``'s JSON): the same, per method;
* torso pitch in the camera frame (pelvis -> thorax against image up), synthetic vs real;
* the README example photo (fast and fitted): its knee and hip angles.

Writes ``benchmarks/results/angles.{json,md}`` and ``angles.png``; a hand-written section
starting ``## Reading`` at the end of an existing markdown is kept.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: heading of the hand-written interpretation at the end of the markdown, kept on re-runs
READING = "\n## Reading"
CACHE = Path.home() / ".cache" / "lasor"
#: walking (07, 08), varied (02), salsa, dance (05), and 14 (the bank's large groups)
RETARGET_TRIALS = ["07_01", "08_01", "02_01", "acrnn_salsa_05", "05_04", "14_30"]


def _stats(v: np.ndarray) -> dict:
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"n": 0}
    q = np.percentile(v, [10, 50, 90])
    return {"n": int(len(v)), "mean": round(float(v.mean()), 1), "p10": round(float(q[0]), 1),
            "median": round(float(q[1]), 1), "p90": round(float(q[2]), 1),
            "share_ge160": round(float((v >= 160).mean()), 3)}  # fmt: skip


def _legs(angles: dict, part: str) -> np.ndarray:
    return np.concatenate([np.ravel(angles[f"{part}_r"]), np.ravel(angles[f"{part}_l"])])


def pose_angles(body, go: np.ndarray, bp: np.ndarray, batch: int = 256) -> dict:
    """Leg angles of poses on the body at its default shape."""
    from lasor.eval.angles import leg_angles

    out = []
    for i in range(0, len(go), batch):
        g = torch.as_tensor(go[i : i + batch], dtype=torch.float32)
        b = torch.as_tensor(bp[i : i + batch], dtype=torch.float32)
        s = body.shape_default.expand(len(g), -1)
        with torch.no_grad():
            out.append(body(g, b, s).joints_h36m.numpy())
    return leg_angles(np.concatenate(out))


def bank_study(body, n_bank: int, seed: int = 0, default_bank: Path | None = None):
    """Angle distribution of the training poses; also returns the raw angles for the plot.

    ``default_bank``: also measure this (unbalanced, ``lasor synth poses``) bank's train split.
    """
    from lasor.eval.angles import pose_stratum

    rng = np.random.default_rng(seed)
    extra = {}
    if default_bank is not None and Path(default_bank).is_file():
        db = np.load(default_bank)
        tr = np.flatnonzero(db["split"] == "train")
        idx = np.sort(rng.choice(tr, min(n_bank, len(tr)), replace=False))
        a = pose_angles(body, db["global_orient"][idx], db["body_pose"][idx])
        st = pose_stratum(a)
        extra["default_bank"] = {
            "path": str(default_bank), "train_frames": int(len(tr)), "frames_used": int(len(idx)),
            "knee": _stats(_legs(a, "knee")), "hip": _stats(_legs(a, "hip")),
            "strata": {s: round(float((st == s).mean()), 3) for s in ("standing", "sitting",
                                                                        "other")},
        }  # fmt: skip
    bank = np.load(CACHE / "pose_bank_balanced.npz")
    tr = np.flatnonzero(bank["split"] == "train")
    idx = np.sort(rng.choice(tr, min(n_bank, len(tr)), replace=False))
    a_bank = pose_angles(body, bank["global_orient"][idx], bank["body_pose"][idx])
    anc = np.load(CACHE / "pose_anchors.npz")
    atr = np.flatnonzero(anc["split"] == "train")
    a_anc = pose_angles(body, anc["global_orient"][atr], anc["body_pose"][atr])
    subj = bank["subject"][idx].astype(str)
    st_bank = pose_stratum(a_bank)
    st_anc = pose_stratum(a_anc)
    top = sorted({s: float((subj == s).mean()) for s in set(subj)}.items(), key=lambda x: -x[1])
    res: dict = {"bank_frames_used": int(len(idx)), "bank_train_frames": int(len(tr)),
                 "anchor_train_frames": int(len(atr)), **extra}  # fmt: skip
    for name, a, st in (("bank", a_bank, st_bank), ("anchors", a_anc, st_anc)):
        res[name] = {
            "knee": _stats(_legs(a, "knee")), "hip": _stats(_legs(a, "hip")),
            "strata": {s: round(float((st == s).mean()), 3) for s in ("standing", "sitting",
                                                                        "other")},
        }  # fmt: skip
    # the training mixture: 75 % bank, 25 % anchors (anchor_share 0.25)
    w = 0.25
    res["mixture_0.25"] = {
        "knee_share_ge160": round((1 - w) * res["bank"]["knee"]["share_ge160"]
                                  + w * res["anchors"]["knee"]["share_ge160"], 3),
        "strata": {s: round((1 - w) * res["bank"]["strata"][s] + w * res["anchors"]["strata"][s],
                            3) for s in ("standing", "sitting", "other")},
    }  # fmt: skip
    res["bank_subjects_top"] = [
        {"group": s, "share": round(v, 3),
         "standing": round(float((st_bank[subj == s] == "standing").mean()), 3)}
        for s, v in top[:8]
    ]  # fmt: skip
    cats = anc["category"][atr]
    res["anchors"]["by_category"] = {
        str(c): {"n": int((cats == c).sum()),
                 "knee_median": round(float(np.median(_legs({k: v[cats == c] for k, v in
                                      a_anc.items()}, "knee"))), 1)}
        for c in sorted(set(cats))
    }  # fmt: skip
    return res, {"bank": a_bank, "anchors": a_anc}


def rest_and_prior(body) -> dict:
    """Angles of the rest pose and of the fit's pose-prior component means."""
    from lasor.body.rotations import axis_angle_to_rotmat
    from lasor.eval.angles import leg_angles
    from lasor.fit.prior import load_pose_prior

    eye = torch.eye(3)
    nb = body.num_pose_bones
    with torch.no_grad():
        rest = body(eye[None], eye.expand(1, nb, 3, 3), body.shape_default[None]).joints_h36m
    out = {"rest": {k: round(float(v[0]), 1) for k, v in leg_angles(rest.numpy()).items()}}
    prior = load_pose_prior()
    means = prior.means.float().reshape(len(prior.weights), nb, 3)
    with torch.no_grad():
        j = body(eye.expand(len(means), 3, 3), axis_angle_to_rotmat(means),
                 body.shape_default.expand(len(means), -1)).joints_h36m.numpy()  # fmt: skip
    a = leg_angles(j)
    wts = prior.weights.numpy()
    top = int(np.argmax(wts))
    out["prior"] = {
        "components": int(len(wts)),
        "weighted_mean": {k: round(float(np.sum(wts * v)), 1) for k, v in a.items()},
        "top_component": {"weight": round(float(wts[top]), 3),
                          **{k: round(float(v[top]), 1) for k, v in a.items()}},
        "share_weight_knees_ge160": round(float(wts[(a["knee_r"] >= 160) & (a["knee_l"] >= 160)]
                                                .sum()), 3),
    }  # fmt: skip
    return out


def torso_pitch(joints: np.ndarray) -> np.ndarray:
    """Degrees the pelvis->thorax direction tilts toward (+) / away from (-) the camera, from
    image up (-y), in the camera frame (x right, y down, z forward)."""
    t = joints[..., 8, :] - joints[..., 0, :]
    return np.degrees(np.arctan2(-t[..., 2], -t[..., 1]))


def _slope(gt: np.ndarray, pred: np.ndarray) -> float:
    ok = np.isfinite(gt) & np.isfinite(pred)
    if ok.sum() < 3:
        return float("nan")
    return round(float(np.polyfit(gt[ok], pred[ok], 1)[0]), 3)


def error_table(gt: dict, pred: dict, strata: np.ndarray) -> dict:
    """Signed and absolute knee / hip errors per stratum and for straight / bent legs."""
    from lasor.eval.angles import STRAIGHT_KNEE, STRATA

    out = {}
    groups = {"all": np.ones(len(strata), bool), **{s: strata == s for s in STRATA}}
    for g, m in groups.items():
        row: dict = {"n": int(m.sum())}
        for part in ("knee", "hip"):
            e = _legs({k: pred[k][m] - gt[k][m] for k in pred}, part)
            row[f"{part}_abs"] = round(float(np.nanmean(np.abs(e))), 1) if len(e) else None
            row[f"{part}_signed"] = round(float(np.nanmean(e)), 1) if len(e) else None
        out[g] = row
    gk, pk = _legs(gt, "knee"), _legs(pred, "knee")
    gh, ph = _legs(gt, "hip"), _legs(pred, "hip")
    for tag, sel in (("straight_legs", gk >= STRAIGHT_KNEE), ("bent_legs", gk < STRAIGHT_KNEE)):
        out[tag] = {
            "legs": int(sel.sum()),
            "knee_abs": round(float(np.nanmean(np.abs(pk - gk)[sel])), 1) if sel.any() else None,
            "knee_signed": round(float(np.nanmean((pk - gk)[sel])), 1) if sel.any() else None,
            "hip_abs": round(float(np.nanmean(np.abs(ph - gh)[sel])), 1) if sel.any() else None,
            "hip_signed": round(float(np.nanmean((ph - gh)[sel])), 1) if sel.any() else None,
            "pred_knee_median": round(float(np.nanmedian(pk[sel])), 1) if sel.any() else None,
        }  # fmt: skip
    out["knee_slope_pred_vs_gt"] = _slope(gk, pk)
    out["hip_slope_pred_vs_gt"] = _slope(gh, ph)
    out["pred_knee"] = _stats(pk)
    out["gt_knee"] = _stats(gk)
    return out


def synthetic_study(
    model_path: Path, n: int, seed: int, bank: Path, cache: Path | None = None
) -> tuple[dict, dict]:
    """The regressor (no fit) on benchmark v2 (poses: ``bank``'s val split + held-out
    anchors): angle errors by stratum. ``cache``: an npz of the joints (read when present,
    else written)."""
    from lasor.body import load_body_model
    from lasor.eval.angles import leg_angles, pose_stratum
    from lasor.eval.synthetic import make_test_set
    from lasor.train.checkpoint import load_regressor

    if cache is not None and Path(cache).is_file():
        z = np.load(cache)
        pj, gj = z["pred"], z["gt"]
    else:
        model, cfg = load_regressor(model_path)
        batches = make_test_set(n, seed, cfg.data.image_size, bank, benchmark="v2")
        body = load_body_model("anny", topology=cfg.model.topology)
        pj, gj = [], []
        with torch.no_grad():
            for b in batches:
                p = model.run(b)
                pj.append(body(p.global_orient, p.body_pose, p.shape).joints_h36m.numpy())
                g = body(b["global_orient"], b["body_pose"], b["shape"])
                gj.append(g.joints_h36m.numpy())
        pj, gj = np.concatenate(pj), np.concatenate(gj)
        if cache is not None:
            np.savez_compressed(cache, pred=pj, gt=gj)
    ga, pa = leg_angles(gj), leg_angles(pj)
    st = pose_stratum(ga)
    res = error_table(ga, pa, st)
    res["strata_share"] = {s: round(float((st == s).mean()), 3) for s in set(st)}
    res["torso_pitch_gt"] = _stats(torso_pitch(gj))
    res["torso_pitch_pred"] = _stats(torso_pitch(pj))
    return res, {"gt": ga, "pred": pa}


def real_study(path: Path, joints: Path | None = None) -> tuple[dict, dict]:
    """Angle errors of every method in a real3d.json, by stratum; torso pitch of the truth
    and (with ``joints``, the npz of ``real3d.py --joints``) of every method."""
    from lasor.eval.real3d import load_frames

    d = json.loads(path.read_text())
    rows = d["per_frame"]
    st = np.array([r["stratum"] for r in rows])
    gt = {k: np.array([r["gt_angles"][k] for r in rows]) for k in rows[0]["gt_angles"]}
    out: dict = {"n": len(rows), "strata_share": {s: int((st == s).sum()) for s in set(st)},
                 "methods": {}}  # fmt: skip
    raw = {"gt": gt}
    for m in d["methods"]:
        pred = {k: np.array([r[m]["angles"][k] if r[m] else np.nan for r in rows]) for k in gt}
        out["methods"][m] = error_table(gt, pred, st)
        raw[m] = pred
    frames = load_frames(ROOT.parent / "shared/data/real")
    names = {f.set + "/" + f.name: f for f in frames}
    gtj = np.stack([names[r["set"] + "/" + r["name"]].joints3d for r in rows])
    out["torso_pitch_gt"] = _stats(torso_pitch(gtj))
    if joints is not None and Path(joints).is_file():
        jz = np.load(joints)
        assert [str(x) for x in jz["names"]] == [r["set"] + "/" + r["name"] for r in rows]
        out["torso_pitch"] = {}
        for m in d["methods"]:
            p = torso_pitch(jz[m])
            out["torso_pitch"][m] = {"pred": _stats(p), "signed_err_mean": round(float(
                np.nanmean(p - torso_pitch(gtj))), 1)}  # fmt: skip
    return out, raw


def retarget_check(body, trials: list[str]) -> dict:
    """Knee angles of BVH frames on the BVH skeleton vs on the retargeted Anny."""
    from lasor.eval.angles import joint_angle
    from lasor.synth.bvh import read_bvh
    from lasor.synth.poses import (
        EVAL_JOINTS,
        POSE_BONES,
        Retargeter,
        anny_rest_joints,
        retarget_motion,
    )  # fmt: skip

    rest = anny_rest_joints(body)
    names = ["root", *POSE_BONES]
    out = {}
    for t in trials:
        path = ROOT.parent / "shared/data/cmu_mocap/bvh" / f"{t}.bvh.gz"
        if not path.is_file():
            continue
        m = read_bvh(path)
        rt = Retargeter.build(m.skeleton, rest)
        n = len(m.local_rotations(slice(None)))
        fr = np.linspace(0, n - 1, 40).round().astype(int)
        res = retarget_motion(m, rt, fr, return_bvh_joints=True)
        with torch.no_grad():
            aj = body(res["global_orient"].float(), res["body_pose"].float(),
                      body.shape_default.expand(len(fr), -1)).joints.numpy()  # fmt: skip
        ev, sk, bj = EVAL_JOINTS[rt.kind], m.skeleton, res["bvh_joints"].numpy()
        ka, kb = [], []
        for side in "RL":
            a, b, c = (f"upperleg01.{side}", f"lowerleg01.{side}", f"foot.{side}")
            ka.append(joint_angle(aj[:, names.index(a)], aj[:, names.index(b)],
                                  aj[:, names.index(c)]))  # fmt: skip
            kb.append(joint_angle(bj[:, sk.index(ev[a])], bj[:, sk.index(ev[b])],
                                  bj[:, sk.index(ev[c])]))  # fmt: skip
        ka, kb = np.concatenate(ka), np.concatenate(kb)
        r0 = sk.rest_positions()
        out[t] = {"bvh_knee_median": round(float(np.median(kb)), 1),
                  "anny_knee_median": round(float(np.median(ka)), 1),
                  "mean_diff": round(float(np.mean(ka - kb)), 2),
                  "bvh_rest_knee": round(float(joint_angle(
                      r0[sk.index(ev["upperleg01.L"])], r0[sk.index(ev["lowerleg01.L"])],
                      r0[sk.index(ev["foot.L"])])), 1)}  # fmt: skip
    return out


def example_study(model_path: Path | None) -> dict:
    """The README example photo, fast and fitted, MediaPipe's world landmarks and the naive
    fusion of both: knee and hip angles, torso pitch."""
    from lasor.api import Estimator
    from lasor.eval.angles import leg_angles
    from lasor.eval.real3d import fuse
    from lasor.frontend.mediapipe_pose import world_landmarks_to_h36m
    from lasor.predict import example_photo

    def row(j):
        a = {k: round(float(v), 1) for k, v in leg_angles(j).items()}
        return {**a, "torso_pitch": round(float(torso_pitch(j)), 1)}

    out = {}
    joints = {}
    obs = None
    for tag, fit in (("fast", False), ("fitted", True)):
        with Estimator(model_path, fit=fit, render=False) as est:
            if obs is None:
                obs = est.observe(example_photo())
            people = est(example_photo(), observations=obs)
        joints[tag] = people[0].joints3d_h36m
        out[tag] = row(joints[tag])
    o = obs[0]
    if o.world_landmarks is not None:
        mp = world_landmarks_to_h36m(o.world_landmarks, o.landmark_visibility)[0]
        out["mediapipe"] = row(mp)
        out["fused"] = row(fuse(joints["fitted"], mp))
    return out


def scatter(ax_img, box, xs, ys, colour, lo=60.0, hi=185.0) -> None:
    from PIL import ImageDraw

    d = ImageDraw.Draw(ax_img)
    x0, y0, x1, y1 = box
    for x, y in zip(xs, ys, strict=True):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        px = x0 + (x1 - x0) * (np.clip(x, lo, hi) - lo) / (hi - lo)
        py = y1 - (y1 - y0) * (np.clip(y, lo, hi) - lo) / (hi - lo)
        d.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=colour)


def plot(raw_bank: dict, raw_syn: dict, raw_real: dict, path: Path) -> None:
    """Knee-angle distributions (top) and predicted vs true knee angles (bottom)."""
    from PIL import Image, ImageDraw

    from lasor.io.plots import line_chart

    lasor = "lasor_fit" if "lasor_fit" in raw_real else "lasor_fast"
    edges = np.arange(0, 185, 5.0)
    centres = (edges[:-1] + edges[1:]) / 2

    def dens(v):
        v = v[np.isfinite(v)]
        h, _ = np.histogram(v, bins=edges)
        return (100.0 * h / max(len(v), 1)).tolist()

    series = {
        "pose bank (train)": dens(_legs(raw_bank["bank"], "knee")),
        "anchors (train)": dens(_legs(raw_bank["anchors"], "knee")),
        "synthetic v2 GT": dens(_legs(raw_syn["gt"], "knee")),
        "synthetic v2 pred": dens(_legs(raw_syn["pred"], "knee")),
        "real H36M GT": dens(_legs(raw_real["gt"], "knee")),
        f"real {lasor}": dens(_legs(raw_real[lasor], "knee")),
        "real MediaPipe": dens(_legs(raw_real["mediapipe"], "knee")),
    }
    top = line_chart(
        centres,
        series,
        title="knee angle distribution (% of legs per 5 deg bin)",
        xlabel="knee angle, deg (180 = straight)",
        ylabel="%",
        size=(1000, 420),
    )
    w = 1000
    img = Image.new("RGB", (w, 420 + 440), (255, 255, 255))
    img.paste(top, (0, 0))
    d = ImageDraw.Draw(img)
    panels = [
        ("synthetic v2: regressor", raw_syn["gt"], {"pred": raw_syn["pred"]}),
        (
            "real H36M frames",
            raw_real["gt"],
            {lasor: raw_real[lasor], "mediapipe": raw_real["mediapipe"]},
        ),
    ]
    cols = {"pred": (52, 101, 164), lasor: (204, 0, 0), "mediapipe": (78, 154, 6)}
    for i, (title, gt, preds) in enumerate(panels):
        bx = (60 + i * 490, 460, 60 + i * 490 + 400, 860 - 40)
        d.text((bx[0], 432), title + ": predicted (y) vs true (x) knee, 60-185 deg",
               fill=(0, 0, 0))  # fmt: skip
        d.rectangle(bx, outline=(0, 0, 0))
        d.line([(bx[0], bx[3]), (bx[2], bx[1])], fill=(160, 160, 160))
        x160 = bx[0] + (bx[2] - bx[0]) * (160 - 60) / 125
        d.line([(x160, bx[1]), (x160, bx[3])], fill=(220, 180, 180))
        for j, (name, p) in enumerate(preds.items()):
            scatter(img, bx, _legs(gt, "knee"), _legs(p, "knee"), cols[name])
            d.text((bx[0] + 5, bx[1] + 5 + 14 * j), name, fill=cols[name])
        for t in (60, 90, 120, 150, 180):
            px = bx[0] + (bx[2] - bx[0]) * (t - 60) / 125
            d.text((px - 8, bx[3] + 4), str(t), fill=(0, 0, 0))
            py = bx[3] - (bx[3] - bx[1]) * (t - 60) / 125
            d.text((bx[0] - 28, py - 6), str(t), fill=(0, 0, 0))
    img.save(path)


def markdown(res: dict) -> str:
    L = ["# Bent-leg study: knee / hip angles (deg; 180 = straight; signed = pred - truth)", ""]
    b = res["bank"]
    L += ["## Training poses (balanced bank train split + anchors, Anny default shape)", "",
          "| source | knee median | knee p90 | legs knee >= 160 | hip median | standing | "
          "sitting | other |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for k in ("default_bank", "bank", "anchors"):
        if k not in b:
            continue
        s = b[k]
        L.append(
            f"| {k} | {s['knee']['median']} | {s['knee']['p90']} | "
            f"{s['knee']['share_ge160']:.3f} | {s['hip']['median']} | "
            f"{s['strata']['standing']} | {s['strata']['sitting']} | {s['strata']['other']} |"
        )
    m = b["mixture_0.25"]
    L.append(
        f"| mixture (25 % anchors) | | | {m['knee_share_ge160']} | | "
        f"{m['strata']['standing']} | {m['strata']['sitting']} | {m['strata']['other']} |"
    )
    L += ["", "Bank subjects (CMU) by share: " + ", ".join(
        f"{s['group']} {s['share']:.2f} (standing {s['standing']:.2f})"
        for s in b["bank_subjects_top"]), ""]  # fmt: skip
    L += ["Retargeting check (median knee over 40 frames per trial; BVH skeleton vs retargeted "
          "Anny): " + ", ".join(f"{t} {v['bvh_knee_median']} vs {v['anny_knee_median']} "
                                f"(mean diff {v['mean_diff']:+})"
                                for t, v in res["retarget"].items())
          + f"; the BVH rest pose's knee: {next(iter(res['retarget'].values()))['bvh_rest_knee']}"
          ".", ""] if res.get("retarget") else []  # fmt: skip
    r = res["rest_prior"]
    L += [f"Rest pose: knees {r['rest']['knee_r']} / {r['rest']['knee_l']}, hips "
          f"{r['rest']['hip_r']} / {r['rest']['hip_l']}. Fit GMM prior ({r['prior']['components']}"
          f" components): weighted-mean knee {r['prior']['weighted_mean']['knee_r']} / "
          f"{r['prior']['weighted_mean']['knee_l']}, top component (w "
          f"{r['prior']['top_component']['weight']}) knee {r['prior']['top_component']['knee_r']}"
          f" / {r['prior']['top_component']['knee_l']}; prior weight on components with both "
          f"knees >= 160: {r['prior']['share_weight_knees_ge160']}.", ""]  # fmt: skip

    def table(title, t):
        out = [
            f"## {title}",
            "",
            "| group | n | knee abs | knee signed | hip abs | hip signed |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for g in ("all", "standing", "sitting", "other"):
            x = t[g]
            if x["n"]:
                out.append(
                    f"| {g} | {x['n']} | {x['knee_abs']} | {x['knee_signed']} | "
                    f"{x['hip_abs']} | {x['hip_signed']} |"
                )
        for g in ("straight_legs", "bent_legs"):
            x = t[g]
            if x["legs"]:
                out.append(
                    f"| {g} (legs) | {x['legs']} | {x['knee_abs']} | {x['knee_signed']} | "
                    f"{x['hip_abs']} | {x['hip_signed']} |"
                )
        out += [
            "",
            f"Slope of predicted on true knee angle: {t['knee_slope_pred_vs_gt']} (hip "
            f"{t['hip_slope_pred_vs_gt']}); predicted knee median on straight legs: "
            f"{t['straight_legs']['pred_knee_median']}.",
            "",
        ]
        return out

    L += table(
        f"Synthetic benchmark v2, regressor (no fit), n = {res['synthetic']['all']['n']}",
        res["synthetic"],
    )
    for mname, t in res["real"]["methods"].items():
        L += table(f"Real H36M frames ({res['real']['n']}): {mname}", t)
    for stem, more in res.get("real_more", {}).items():
        for mname, t in more["methods"].items():
            L += table(f"Real H36M frames, `{stem}` ({more['n']}): {mname}", t)
    L += ["## Camera: torso pitch (pelvis->thorax vs image up; + = toward the camera)", "",
          f"synthetic v2 truth {res['synthetic']['torso_pitch_gt']}, synthetic prediction "
          f"{res['synthetic']['torso_pitch_pred']}, real truth {res['real']['torso_pitch_gt']}.",
          ""]  # fmt: skip
    for m, t in res["real"].get("torso_pitch", {}).items():
        L.append(
            f"- real, {m}: median {t['pred']['median']}, mean signed error {t['signed_err_mean']:+}"
        )
    L.append("")
    if "example" in res:
        e = res["example"]
        L += ["## README example photo", ""] + [
            f"- {k}: knees {v['knee_r']} / {v['knee_l']}, hips {v['hip_r']} / {v['hip_l']}, "
            f"torso pitch {v['torso_pitch']}" for k, v in e.items()] + [""]  # fmt: skip
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=512, help="synthetic v2 samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bank-frames", type=int, default=3000)
    ap.add_argument(
        "--real",
        type=Path,
        nargs="+",
        default=[RESULTS / "real3d.json"],
        help="real3d.py JSONs (the first is plotted)",
    )
    ap.add_argument("--joints", type=Path, default=None, help="real3d.py --joints npz")
    ap.add_argument(
        "--synthetic-bank",
        type=Path,
        default=None,
        help="pose bank of the v2 test set (default: lasor's default bank)",
    )
    ap.add_argument("--synthetic-cache", type=Path, default=None, help="npz of its joints")
    ap.add_argument("--name", default="angles")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from lasor.body import load_body_model
    from lasor.predict import shipped_model_path

    t0 = time.perf_counter()
    model = args.model or shipped_model_path()
    body = load_body_model("anny", topology="notoes_collapse10pc")
    res: dict = {"model": str(args.model or model.name)}
    from lasor.synth.poses import default_pose_bank_path

    syn_bank = args.synthetic_bank or default_pose_bank_path()
    res["bank"], raw_bank = bank_study(body, args.bank_frames, args.seed, syn_bank)
    res["rest_prior"] = rest_and_prior(body)
    res["retarget"] = retarget_check(body, RETARGET_TRIALS)
    res["synthetic_bank"] = str(syn_bank)
    res["synthetic"], raw_syn = synthetic_study(
        model, args.n, args.seed, syn_bank, args.synthetic_cache
    )
    res["real"], raw_real = real_study(args.real[0], args.joints)
    res["real_more"] = {p.stem: real_study(p)[0] for p in args.real[1:]}
    res["example"] = example_study(args.model)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(res, indent=1) + "\n")
    md = markdown(res)
    path = RESULTS / f"{args.name}.md"
    if path.is_file() and READING in path.read_text():  # keep the hand-written reading
        md += READING + path.read_text().split(READING, 1)[1]
    path.write_text(md)
    plot(raw_bank, raw_syn, raw_real, RESULTS / f"{args.name}.png")
    print(md)


if __name__ == "__main__":
    main()
