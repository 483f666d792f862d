"""Data-parallel training: 2 CPU processes under torchrun (gloo) keep identical replicas."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lasor.train.checkpoint import load_checkpoint, load_regressor
from lasor.train.distributed import DistInfo, any_flag, init_distributed, wrap_ddp
from lasor.train.loop import parameter_checksum

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# Plain use: torchrun starts the processes, train() joins and leaves the process group.
STRAIGHT = textwrap.dedent(
    """
    import json, os, sys
    from lasor.train.config import load_config
    from lasor.train.loop import train

    cfg = load_config(sys.argv[1], sys.argv[2:])
    result = train(cfg)
    with open(os.path.join(cfg.run.out_dir, f"rank{os.environ['RANK']}.json"), "w") as f:
        json.dump(result, f)
    """
)

# A script owning the process group calls train() twice: stop after 2 steps, then resume.
# (Re-initialising a process group inside one process can hang under torchrun, hence one group.)
SPLIT = textwrap.dedent(
    """
    import json, os, sys
    import torch.distributed as dist
    from lasor.train.config import apply_overrides, load_config
    from lasor.train.loop import train

    dist.init_process_group("gloo")
    cfg = load_config(sys.argv[1], sys.argv[2:])
    first = train(apply_overrides(cfg, ["run.stop_after_steps=2"]))
    resumed = train(cfg, resume=True)
    assert dist.is_initialized()  # train() leaves a group it did not create alone
    dist.destroy_process_group()
    with open(os.path.join(cfg.run.out_dir, f"rank{os.environ['RANK']}.json"), "w") as f:
        json.dump({"first": first, "resumed": resumed}, f)
    """
)


def torchrun(script: Path, args: list[str], timeout: float = 120) -> None:
    """Run ``script`` on 2 local CPU processes; kill the whole process tree on timeout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(script), *args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"torchrun did not finish within {timeout} s")
    assert proc.returncode == 0, err[-3000:]


def test_single_process_defaults(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    info = init_distributed("cpu")
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)
    module = torch.nn.Linear(2, 2)
    assert wrap_ddp(module, info) is module
    assert any_flag([True, False], DistInfo()) == [True, False]


@pytest.mark.slow
def test_two_cpu_processes_stay_in_sync(tmp_path):
    (tmp_path / "straight.py").write_text(STRAIGHT)
    (tmp_path / "split.py").write_text(SPLIT)
    tiny = str(CONFIGS / "train_tiny.yaml")
    common = ["optim.steps=3", "run.val_every=2"]
    out, out_split = tmp_path / "run", tmp_path / "split"
    torchrun(tmp_path / "straight.py", [tiny, f"run.out_dir={out}", *common])
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["step"] == r1["step"] == 3
    assert r0["param_checksum"] == r1["param_checksum"]
    # only rank 0 logs and validates; its checkpoint holds the shared parameters
    assert r0["val"] and not r1["val"]
    ckpt = load_checkpoint(out / "last.pt")
    assert len(ckpt["rng"]) == 2
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])
    model, _ = load_regressor(out / "last.pt")  # fixed weighting: the regressor's are all
    assert parameter_checksum(model) == r0["param_checksum"]

    # stop after 2 steps and resume on both ranks: the same parameters as straight through
    torchrun(tmp_path / "split.py", [tiny, f"run.out_dir={out_split}", *common])
    s0 = json.loads((out_split / "rank0.json").read_text())
    s1 = json.loads((out_split / "rank1.json").read_text())
    assert s0["first"]["step"] == 2 and s0["resumed"]["step"] == 3
    assert s0["resumed"]["param_checksum"] == s1["resumed"]["param_checksum"]
    assert s0["resumed"]["param_checksum"] == r0["param_checksum"]
