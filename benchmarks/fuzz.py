"""Fuzzing the input readers and interrupting the result writers (issue 23's two targets).

1. **Readers**: seeded mutations of valid inputs (COCO files, annotation lists, single
   annotations, OpenPose files, box files, PNG / JPEG photos and masks, and a few MP4 clips) go
   through every reader (`read_keypoints`, `read_coco_keypoints`, `read_coco_dataset`,
   `read_openpose`, `read_boxes`, `load_image`, `read_mask`; `lasor.video.open_clip` for clips).
   JSON mutations replace, delete or duplicate random nodes (huge integers, floats near the limit,
   NaN, deep nesting, wrong types, unhashable ids), or damage the text (truncation, byte flips);
   image mutations flip or cut bytes, or forge huge dimensions. Counted: exceptions that are not
   the package's named ones (`FrontendError`; `VideoError` for clips). Target: 0.
2. **Writers**: a child process saves a person's results (``.npz``, ``.json``, ``.obj``,
   ``.ply``, PNGs) over and over and is killed with SIGKILL at a random moment; then every final
   path must be absent or load completely. Counted: torn files. Target: 0.

Prints JSON; writes benchmarks/results/fuzz.json and fuzz.md (``--tag`` names other results).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# ---------------------------------------------------------------- valid seeds
def _kp(rng: random.Random, w: int, h: int) -> list:
    out = []
    for _ in range(17):
        out += [round(rng.uniform(0, w), 1), round(rng.uniform(0, h), 1), rng.choice([0, 1, 2])]
    return out


def json_seeds(rng: random.Random) -> list[tuple[str, object]]:
    """(kind, document) pairs that the readers accept."""
    w, h = 64, 48
    ann = {
        "id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "keypoints": _kp(rng, w, h),
        "bbox": [5.0, 4.0, 30.0, 40.0],
        "segmentation": [[5, 4, 35, 4, 35, 44, 5, 44]],
    }  # fmt: skip
    rle = {"size": [h, w], "counts": [h * 10, h * 20, h * (w - 30)]}
    coco = {
        "images": [{"id": 7, "file_name": "img.jpg", "height": h, "width": w}],
        "annotations": [ann, {**copy.deepcopy(ann), "id": 2, "segmentation": rle}],
        "categories": [{"id": 1, "name": "person"}],
    }
    openpose = {
        "people": [
            {"pose_keypoints_2d": [rng.uniform(0, w) if i % 3 < 2 else 0.9 for i in range(75)]},
            {"pose_keypoints_2d": [rng.uniform(0, w) if i % 3 < 2 else 0.8 for i in range(54)]},
        ]
    }
    boxes = [[1, 2, 30, 40], [10, 10, 50, 40]]
    return [
        ("coco", coco), ("coco_list", [ann]), ("coco_one", ann), ("openpose", openpose),
        ("boxes", boxes), ("boxes_coco", [{"bbox": [1, 2, 20, 30]}]),
        ("boxes_spin", {"bbox": [1, 2, 20, 30]}),
    ]  # fmt: skip


_POOL = [
    None, True, False, 0, -1, 1, 2, 3, 10**400, -(10**30), 1e308, -1e308, 1e30, 0.5, -0.0,
    "", "x", "img.jpg", [], {}, [1], [[1]], {"a": 1}, [None], [1, 2, 3, 4], [0, 0, 0, 0],
    [5, 5, 1, 1], {"size": [2, 2], "counts": "0"}, {"size": [10**6, 10**6], "counts": [10**12]},
    {"size": [-1, 5], "counts": []}, {"size": [4, 4], "counts": "!!!"}, [[0, 0, 1e30, 0, 0, 1]],
]  # fmt: skip


def _nodes(doc, path=()):
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, path + (i,))


def _set(doc, path, value):
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def mutate_json(doc, rng: random.Random) -> bytes:
    """One damaged version of a JSON document (as bytes; may not parse)."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        nodes = list(_nodes(doc))
        path, node = rng.choice(nodes)
        r = rng.random()
        if r < 0.55:
            doc = _set(doc, path, copy.deepcopy(rng.choice(_POOL)))
        elif r < 0.65 and path:
            parent = doc
            for k in path[:-1]:
                parent = parent[k]
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        elif r < 0.72:
            doc = _set(doc, path, "__DEEP__")  # deep nesting, spliced into the text below
        elif r < 0.8 and isinstance(node, list) and node:
            node.extend(copy.deepcopy(node[: rng.randint(1, len(node))]))
        elif r < 0.88 and isinstance(node, (int, float)) and not isinstance(node, bool):
            if abs(node) < 1e300:
                doc = _set(doc, path, node * rng.choice([-1, 1e6, 1e30, 1e-30, 3]))
    text = json.dumps(doc, allow_nan=True)
    if '"__DEEP__"' in text:
        d = rng.choice([50, 5000, 200000])
        text = text.replace('"__DEEP__"', "[" * d + "1" + "]" * d)
    r = rng.random()
    if r < 0.08:
        text = text[: rng.randint(0, len(text))]
    elif r < 0.14:
        text = text.replace("0.5", "NaN", 1).replace("1.0", "Infinity", 1)
    elif r < 0.18:
        text = text.replace("1", "1e400", 1)
    data = bytearray(text.encode())
    if rng.random() < 0.08 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def image_seeds(rng: random.Random) -> list[tuple[str, bytes]]:
    from PIL import Image

    arr = (np.random.default_rng(rng.randrange(2**31)).random((48, 64, 3)) * 255).astype(np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:40, 20:40] = 255
    out = []
    for kind, im in (("rgb", Image.fromarray(arr)), ("mask", Image.fromarray(mask))):
        for fmt in ("PNG", "JPEG"):
            buf = io.BytesIO()
            im.save(buf, format=fmt)
            out.append((f"{kind}_{fmt.lower()}", buf.getvalue()))
    return out


def _png_huge(w: int, h: int) -> bytes:
    """A PNG header announcing w x h pixels followed by a tiny (wrong) image stream."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return len(data).to_bytes(4, "big") + tag + data + crc.to_bytes(4, "big")

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def mutate_image(data: bytes, rng: random.Random) -> bytes:
    r = rng.random()
    b = bytearray(data)
    if r < 0.4:
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif r < 0.7:
        b = b[: rng.randint(0, len(b))]
    elif r < 0.8:
        return _png_huge(rng.choice([20000, 70000, 1]), rng.choice([20000, 9000, 1]))
    elif r < 0.9:
        b = bytearray(rng.randbytes(rng.randint(0, 200)))
    return bytes(b)


# ---------------------------------------------------------------- part 1: readers
def fuzz_readers(n_calls: int, seed: int, workdir: Path, n_video: int) -> dict:
    from lasor.frontend import files
    from lasor.frontend.types import FrontendError

    rng = random.Random(seed)
    seeds = json_seeds(rng)
    images = image_seeds(rng)
    readers = {
        "read_keypoints": lambda p: files.read_keypoints(p, image="img.jpg", image_size=(48, 64)),
        "read_coco_keypoints": lambda p: files.read_coco_keypoints(p, image_size=(48, 64)),
        "read_coco_dataset": files.read_coco_dataset,
        "read_openpose": files.read_openpose,
        "read_boxes": lambda p: files.read_boxes(p, image_size=(48, 64)),
    }
    image_readers = {
        "load_image": files.load_image,
        "read_mask": lambda p: files.read_mask(p, image_size=(48, 64)),
    }
    counts: dict[str, dict[str, int]] = {}
    examples: list[str] = []
    net_examples: list[str] = []
    t0 = time.perf_counter()
    for i in range(n_calls):
        if rng.random() < 0.75:
            kind, doc = rng.choice(seeds)
            data = mutate_json(doc, rng)
            name, fn = rng.choice(list(readers.items()))
            path = workdir / f"f{i % 7}.json"
        else:
            kind, raw = rng.choice(images)
            data = mutate_image(raw, rng)
            name, fn = rng.choice(list(image_readers.items()))
            path = workdir / f"f{i % 7}.png"
        path.write_bytes(data)
        c = counts.setdefault(name, {"calls": 0, "ok": 0, "named": 0, "other": 0})
        c["calls"] += 1
        try:
            fn(path)
            c["ok"] += 1
        except FrontendError as e:
            c["named"] += 1
            if "see lasor.frontend.files" in str(e):  # caught by the readers' safety net
                c["net"] = c.get("net", 0) + 1
                if len(net_examples) < 20:
                    net_examples.append(f"{name}({kind}): {str(e)[-160:]}")
        except Exception as e:  # noqa: BLE001 - what we count
            c["other"] += 1
            if len(examples) < 30:
                examples.append(f"{name}({kind}): {type(e).__name__}: {str(e)[:120]}")
    reader_s = time.perf_counter() - t0
    video = fuzz_video(n_video, rng, workdir) if n_video else None
    other = sum(c["other"] for c in counts.values())
    return {
        "calls": n_calls, "non_named": other, "per_reader": counts, "seconds": round(reader_s, 1),
        "examples": examples, "safety_net_examples": net_examples, "video": video,
    }  # fmt: skip


def fuzz_video(n: int, rng: random.Random, workdir: Path) -> dict:
    import imageio.v2 as iio

    from lasor.video import VideoError, open_clip

    clip = workdir / "seed.mp4"
    with iio.get_writer(clip, fps=10, codec="libx264", macro_block_size=16) as w:
        for k in range(10):
            w.append_data(np.full((32, 48, 3), k * 20, np.uint8))
    raw = clip.read_bytes()
    c = {"calls": 0, "ok": 0, "named": 0, "other": 0}
    examples = []
    for i in range(n):
        path = workdir / f"v{i % 3}.mp4"
        path.write_bytes(mutate_image(raw, rng) if i % 5 else raw[: rng.randint(0, len(raw))])
        c["calls"] += 1
        try:
            open_clip(path)
            c["ok"] += 1
        except VideoError as e:
            c["named"] += 1
            if len(str(e).splitlines()) > 1 and len(examples) < 5:
                examples.append(f"multi-line message: {str(e)[:200]}")
        except Exception as e:  # noqa: BLE001
            c["other"] += 1
            if len(examples) < 5:
                examples.append(f"{type(e).__name__}: {str(e)[:120]}")
    return {**c, "examples": examples}


# ---------------------------------------------------------------- part 2: writers
_CHILD = r"""
import sys, numpy as np
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from lasor.io.results import PersonResult, save_npz, save_json
from lasor.io import mesh
out = Path(sys.argv[1])
rng = np.random.default_rng(0)
v = rng.random((20000, 3)).astype(np.float32) + [0, 0, 3]
f = rng.integers(0, 20000, (40000, 3)).astype(np.int32)
z = lambda *s: np.zeros(s, np.float32)
r = PersonResult(image="x.png", person=0, body_model="anny", body_model_version="t",
    pose_bones=["a"], shape_names=["s"], global_orient_rotmat=z(3, 3), global_orient_aa=z(3),
    body_pose_rotmat=z(1, 3, 3), body_pose_aa=z(1, 3), shape=z(1), cam_weak=z(3),
    crop_box=z(3), focal_length=100.0, principal_point=z(2), cam_t=z(3), vertices=v, faces=f,
    joints3d_coco=z(17, 3), joints3d_h36m=z(17, 3), joints2d_coco=z(17, 2),
    observed_keypoints=z(17, 2), observed_confidence=z(17), bbox=z(4), frontend="t")
img = np.zeros((480, 640, 3), np.uint8)
print("ready", flush=True)
while True:
    save_npz(out / "p.npz", r)
    save_json(out / "p.json", r)
    mesh.write_obj(out / "p.obj", v, f)
    mesh.write_ply(out / "p.ply", v, f)
"""


def _torn(folder: Path) -> list[str]:
    """Final files that exist but do not load completely."""
    from lasor.io import mesh

    bad = []
    checks = {
        "p.npz": lambda p: dict(np.load(p, allow_pickle=False)),
        "p.json": lambda p: json.loads(p.read_text()),
        "p.obj": lambda p: (
            (_ for _ in ()).throw(ValueError("short"))
            if len(mesh.read_obj(p)[0]) != 20000
            else None
        ),
        "p.ply": lambda p: (
            (_ for _ in ()).throw(ValueError("short"))
            if len(mesh.read_ply(p)[0]) != 20000
            else None
        ),
    }
    for name, check in checks.items():
        p = folder / name
        if p.exists():
            try:
                check(p)
            except Exception:  # noqa: BLE001 - a torn file
                bad.append(name)
    return bad


def interrupt_saves(n: int, seed: int, workdir: Path, src: Path) -> dict:
    rng = random.Random(seed)
    torn = {}
    saves = 0
    leftovers = 0
    t0 = time.perf_counter()
    for i in range(n):
        folder = workdir / f"w{i}"
        folder.mkdir()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(folder), str(src)],
            stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        child.stdout.readline()  # "ready": set up, now saving in a loop
        time.sleep(rng.uniform(0.0, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        saves += 1
        for name in _torn(folder):
            torn[name] = torn.get(name, 0) + 1
        leftovers += len([p for p in folder.iterdir() if p.name.startswith(".")])
    return {
        "interrupted_saves": saves, "torn_files": sum(torn.values()), "torn_by_file": torn,
        "temporaries_left": leftovers, "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--video-calls", type=int, default=100)
    ap.add_argument("--saves", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the lasor source tested")
    ap.add_argument("--tag", default="fuzz")
    args = ap.parse_args()
    sys.path.insert(0, str(args.src))
    import lasor

    with tempfile.TemporaryDirectory() as d:
        w = Path(d)
        (w / "r").mkdir()
        (w / "s").mkdir()
        readers = fuzz_readers(args.calls, args.seed, w / "r", args.video_calls)
        writers = interrupt_saves(args.saves, args.seed, w / "s", args.src) if args.saves else None
    out = {"lasor": str(Path(lasor.__file__).parent), "seed": args.seed, "readers": readers,
           "writers": writers}  # fmt: skip
    print(json.dumps(out, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        f"# {args.tag}: readers fuzzed, writers interrupted (seed {args.seed})", "",
        "| reader | calls | ok | FrontendError | other exceptions |", "|---|---|---|---|---|",
    ]  # fmt: skip
    for name, c in readers["per_reader"].items():
        lines.append(f"| {name} | {c['calls']} | {c['ok']} | {c['named']} | {c['other']} |")
    if readers["video"]:
        v = readers["video"]
        lines.append(f"| open_clip (VideoError) | {v['calls']} | {v['ok']} | {v['named']} | "
                     f"{v['other']} |")  # fmt: skip
    lines += ["", f"Non-named exceptions: **{readers['non_named']}** in {args.calls} reader calls."]
    if writers:
        lines.append(
            f"Torn files: **{writers['torn_files']}** after {writers['interrupted_saves']} "
            f"interrupted saves (SIGKILL at a random moment); {writers['temporaries_left']} "
            "hidden temporaries left behind."
        )
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
