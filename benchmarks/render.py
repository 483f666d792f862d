"""CPU rendering speed, memory and a silhouette-fitting check (issue 3).

Batch 32, both shipped Anny topologies, 64 / 128 / 256 px:

* ``hard_ms_*``: z-buffered rasterization (face ids + depth), ``hard_sil_ms_*``: silhouette only;
* ``soft_fwd_bwd_ms_*``: SoftRas-style ``soft_silhouette`` forward + backward (sigma 0.1 px^2),
  ``soft_cull_fwd_bwd_ms_*`` the same with ``cull_backfaces=True``;
* ``edge_fwd_bwd_ms_*``: ``edge_grad_silhouette`` forward + backward (tau 1 px);
* ``*_peak_extra_mb_anny_256``: peak resident memory added by one soft / edge forward + backward
  at 256 px, measured in a fresh process (Linux VmHWM after resetting it; ru_maxrss elsewhere);
  ``*_traced_peak_mb_anny_256``: peak of the numpy allocations in that call (tracemalloc).

Fitting check: recover scale, translation and yaw of a body from its 64 px silhouette alone (8
samples, Adam + cosine learning rate, MSE against the target's hard silhouette, softness schedule);
reports the final IoU of the hard silhouettes.

Times are wall-clock medians over repeats after a numba warm-up (``min_ms`` holds the best of the
repeats), with numba pinned to ``--threads`` (default 2) and torch to 1 thread. On shared cores,
``--cpu`` adds ``cpu_ms_1thread``: single-thread CPU time per call, which other load barely
moves. Prints one JSON line, writes benchmarks/results/render.json. ``--pictures DIR`` also writes
PNGs (overlay on a photo, two people, side view, soft vs hard silhouettes).
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # read by numba / libgomp when first loaded
    _t = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
    os.environ.setdefault("NUMBA_NUM_THREADS", _t)
    # numba's "omp" threading layer spins idle workers by default: on shared or busy cores that
    # slowed every call up to 10x here (the spinning thread steals the time slices of the others).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lasor.body import load_body_model  # noqa: E402
from lasor.render import (  # noqa: E402
    edge_grad_silhouette,
    geometric_schedule,
    rasterize,
    rasterize_silhouette,
    soft_silhouette,
    weak_perspective_project,
)

TOPOLOGIES = {"anny": "anny", "cheap": "notoes_collapse10pc"}
SIZES = (64, 128, 256)
BATCH = 32
PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "photos"


def _times_ms(fn, repeats: int, warmup: int = 3, clock=time.perf_counter) -> tuple[float, float]:
    """(median, min) time in ms over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):  # numba compile / cache load, thread pool, allocator
        fn()
    ts = []
    for _ in range(repeats):
        t = clock()
        fn()
        ts.append(clock() - t)
    return statistics.median(ts) * 1000.0, min(ts) * 1000.0


def _yaw(angle: torch.Tensor) -> torch.Tensor:
    """(B,) angles -> (B, 3, 3) rotations about the camera's vertical (y) axis."""
    c, s = torch.cos(angle), torch.sin(angle)
    z, o = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack(
        [torch.stack([c, z, s], -1), torch.stack([z, o, z], -1), torch.stack([-s, z, c], -1)], -2
    )


def _camera_facing(vertices: torch.Tensor) -> torch.Tensor:
    """Body frame (Y up, facing +Z) -> camera frame (y down, facing the camera): 180 deg about X."""
    return vertices * torch.tensor([1.0, -1.0, -1.0], dtype=vertices.dtype)


def _bodies(topology: str, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of camera-facing neutral bodies with random yaw: (B, V, 3), faces (F, 3)."""
    out = load_body_model("anny", topology=topology).neutral(batch)
    g = torch.Generator().manual_seed(0)
    rot = _yaw((torch.rand(batch, generator=g) - 0.5) * 2.0)
    return _camera_facing(out.vertices) @ rot.transpose(1, 2), out.faces


def _memory_child(method: str) -> dict:
    """Run in a fresh interpreter: memory of one forward + backward at 256 px, batch 32, Anny."""
    size = SIZES[-1]
    verts, faces = _bodies("anny", BATCH)
    screen = weak_perspective_project(
        verts, torch.tensor([[0.9, 0.0, -0.07]]).expand(BATCH, 3), size
    )
    leaf = screen.detach().clone().requires_grad_()
    weights = torch.randn(BATCH, size, size, generator=torch.Generator().manual_seed(1))
    render = soft_silhouette if method == "soft" else edge_grad_silhouette
    tiny = leaf[:1].detach().clone().requires_grad_()
    render(tiny, faces, 8).sum().backward()  # load the compiled kernels, start the threads

    def call() -> None:
        (render(leaf, faces, size) * weights).sum().backward()

    status, clear = Path("/proc/self/status"), Path("/proc/self/clear_refs")

    def field(name: str) -> float:
        line = next(x for x in status.read_text().splitlines() if x.startswith(name))
        return float(line.split()[1]) / 1024.0

    try:
        clear.write_text("5")  # resets VmHWM (peak RSS) to the current RSS
        base = field("VmRSS:")
        call()
        extra = field("VmHWM:") - base
    except OSError:  # not Linux: ru_maxrss only grows, so this is a lower bound
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        call()
        extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - before
    tracemalloc.start()
    call()
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"peak_extra_mb": round(extra, 1), "traced_peak_mb": round(traced, 1)}


def bench_memory(threads: int) -> dict:
    """Peak extra memory of soft / edge forward + backward, each in a fresh process."""
    res = {}
    for method in ("soft", "edge"):
        cmd = [sys.executable, __file__, "--threads", str(threads), "--memory-child", method]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        for key, val in json.loads(out.stdout.strip().splitlines()[-1]).items():
            res[f"{method}_{key}_anny_{SIZES[-1]}"] = val
    return res


def _bench_case(
    screen: torch.Tensor, faces: torch.Tensor, size: int, repeats: int, clock=time.perf_counter
) -> dict:
    """(median, min) times in ms for one batch of screen-space meshes at one size."""
    leaf = screen.detach().clone().requires_grad_()
    weights = torch.randn(screen.shape[0], size, size, generator=torch.Generator().manual_seed(1))

    def soft() -> None:
        (soft_silhouette(leaf, faces, size, sigma=0.1) * weights).sum().backward()

    def soft_cull() -> None:
        out = soft_silhouette(leaf, faces, size, sigma=0.1, cull_backfaces=True)
        (out * weights).sum().backward()

    def edge() -> None:
        (edge_grad_silhouette(leaf, faces, size, tau=1.0) * weights).sum().backward()

    return {
        "hard_ms": _times_ms(lambda: rasterize(screen, faces, size), repeats, clock=clock),
        "hard_sil_ms": _times_ms(
            lambda: rasterize_silhouette(screen, faces, size), repeats, clock=clock
        ),
        "soft_fwd_bwd_ms": _times_ms(soft, repeats, clock=clock),
        "soft_cull_fwd_bwd_ms": _times_ms(soft_cull, repeats, clock=clock),
        "edge_fwd_bwd_ms": _times_ms(edge, repeats, clock=clock),
    }


def bench_speed(repeats: int, clock=time.perf_counter) -> tuple[dict, dict]:
    """Median and minimum times, keyed ``<what>_<topology>_<size>``."""
    med: dict = {}
    best: dict = {}
    for name, topo in TOPOLOGIES.items():
        verts, faces = _bodies(topo, BATCH)
        med[f"faces_{name}"] = int(faces.shape[0])
        cam = torch.tensor([[0.9, 0.0, -0.07]]).expand(BATCH, 3)
        for size in SIZES:
            screen = weak_perspective_project(verts, cam, size)
            for key, (m, b) in _bench_case(screen, faces, size, repeats, clock).items():
                med[f"{key}_{name}_{size}"] = round(m, 2)
                best[f"{key}_{name}_{size}"] = round(b, 2)
    return med, best


def bench_cpu(repeats: int) -> dict:
    """Single-thread CPU time (thread_time, median): insensitive to other load on the cores.

    With the batch split over threads, 2 idle cores take about half of this wall time.
    """
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        med, _ = bench_speed(repeats, clock=time.thread_time)
    finally:
        numba.set_num_threads(threads)
    return {k: v for k, v in med.items() if not k.startswith("faces_")}


def fit_check(method: str, topology: str = "anny", steps: int = 100, seed: int = 0) -> dict:
    """Recover (scale, tx, ty, yaw) of 8 bodies from their 64 px silhouettes."""
    batch, size = 8, 64
    out = load_body_model("anny", topology=topology).neutral(1)
    base, faces = _camera_facing(out.vertices[0]), out.faces
    g = torch.Generator().manual_seed(seed)

    def u(scale: float) -> torch.Tensor:
        return (torch.rand(batch, generator=g) - 0.5) * scale

    def project(p: torch.Tensor) -> torch.Tensor:  # p: (B, 4) = log s, tx, ty, yaw
        v = base[None] @ _yaw(p[:, 3]).transpose(1, 2)
        return weak_perspective_project(v, torch.stack([p[:, 0].exp(), p[:, 1], p[:, 2]], -1), size)

    target = torch.stack([torch.log(0.9 + u(0.2)), u(0.15), u(0.15) - 0.07, u(2.0)], -1)
    start = target + torch.stack([torch.log1p(u(0.4)), u(0.3), u(0.3), u(1.0)], -1)
    t_sil = rasterize_silhouette(project(target), faces, size).float()

    def iou(p: torch.Tensor) -> torch.Tensor:
        h = rasterize_silhouette(project(p), faces, size).float()
        return (h * t_sil).sum((1, 2)) / (h + t_sil).clamp(max=1).sum((1, 2))

    p = start.clone().requires_grad_()
    opt = torch.optim.Adam([p], lr=0.02)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=0.002)
    iou0 = iou(start).mean().item()
    t0 = time.perf_counter()
    for step in range(steps):
        if method == "soft":
            sil = soft_silhouette(
                project(p), faces, size, sigma=geometric_schedule(step, int(0.8 * steps), 0.5, 0.02)
            )
        else:
            sil = edge_grad_silhouette(
                project(p), faces, size, tau=geometric_schedule(step, int(0.8 * steps), 4.0, 0.3)
            )
        loss = (sil - t_sil).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    final = iou(p.detach())
    yaw_err = (p[:, 3] - target[:, 3]).abs().detach() * 180.0 / math.pi
    return {
        "method": method,
        "topology": topology,
        "steps": steps,
        "iou_start": round(iou0, 3),
        "iou_final_mean": round(final.mean().item(), 3),
        "iou_final_min": round(final.min().item(), 3),
        "yaw_err_deg_median": round(yaw_err.median().item(), 2),
        "scale_err_pct_median": round(
            ((p[:, 0] - target[:, 0]).exp() - 1).abs().median().item() * 100, 2
        ),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def pictures(folder: Path) -> list[str]:
    """Overlay on a photo, side view, soft vs hard silhouettes: PNGs in ``folder``."""
    from PIL import Image

    from lasor.render import render_overlay, render_side_view, save_png

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    body = load_body_model("anny")
    eye = torch.eye(3)
    pose = eye.repeat(1, body.num_pose_bones, 1, 1)
    lower = {"upperarm01.L": -0.5, "upperarm01.R": 0.5}  # bring the arms down (about body z)
    for bone, a in lower.items():
        c, s = math.cos(a), math.sin(a)
        pose[0, body.pose_bones.index(bone)] = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    with torch.no_grad():
        out = body(eye[None], pose, body.shape_default[None])
    verts = _camera_facing(out.vertices[0])
    photo_path = PHOTO / "ssp3dpr3_mousavi.png"
    if photo_path.exists():
        photo = np.asarray(Image.open(photo_path).convert("RGB"))
        f = 1000.0  # placed by hand over the person
        t = torch.tensor([-0.04, -0.03, 4.0])
        over = render_overlay(photo, verts + t, out.faces, focal_length=f)
        save_png(folder / "overlay_photo.png", over)
        written.append(str(folder / "overlay_photo.png"))
        two = [verts + torch.tensor([-0.3, 0.0, 4.6]), verts + torch.tensor([0.15, 0.05, 3.6])]
        save_png(folder / "overlay_two_people.png", render_overlay(photo, two, out.faces, f))
        written.append(str(folder / "overlay_two_people.png"))
    side = render_side_view(verts + torch.tensor([0.0, 0.0, 4.0]), out.faces, image_size=512)
    save_png(folder / "side_view.png", side)
    written.append(str(folder / "side_view.png"))
    # soft vs hard silhouettes at 64 px (top: SoftRas at several sigmas, bottom: hard / edge)
    size = 64
    screen = weak_perspective_project(verts[None], torch.tensor([[0.9, 0.0, -0.07]]), size)
    hard = rasterize_silhouette(screen, out.faces, size)[0].float()
    tiles = [hard] + [
        soft_silhouette(screen, out.faces, size, sigma=s)[0] for s in (0.02, 0.1, 1.0)
    ]
    row = torch.cat([torch.nn.functional.pad(t, (1, 1, 1, 1), value=0.5) for t in tiles], 1)
    img = (row.clamp(0, 1).numpy() * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    save_png(folder / "soft_vs_hard.png", img)
    written.append(str(folder / "soft_vs_hard.png"))
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2, help="numba threads (torch uses 1)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--fit-steps", type=int, default=100)
    ap.add_argument("--pictures", default=None, help="folder for PNGs (not written by default)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "render.json"))
    ap.add_argument("--cpu", action="store_true", help="also single-thread CPU times")
    ap.add_argument("--memory-child", choices=("soft", "edge"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.memory_child:
        print(json.dumps(_memory_child(args.memory_child)))
        return
    res: dict = {"batch": BATCH, "threads": args.threads}
    res["load_avg_start"] = round(os.getloadavg()[0], 2)
    res.update(bench_memory(args.threads))
    med, best = bench_speed(args.repeats)
    res.update(med)
    res["fit_soft"] = fit_check("soft", steps=args.fit_steps)
    res["fit_edge"] = fit_check("edge", steps=args.fit_steps)
    res["min_ms"] = best  # best of the repeats: less sensitive to other load on shared cores
    if args.cpu:
        res["cpu_ms_1thread"] = bench_cpu(max(3, args.repeats // 2))
    res["load_avg_end"] = round(os.getloadavg()[0], 2)
    res["numba_threading_layer"] = numba.threading_layer()
    res["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    res["torch"] = torch.__version__
    res["machine"] = platform.machine()
    if args.pictures:
        res["pictures"] = pictures(Path(args.pictures))
    line = json.dumps(res)
    print(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
