"""Atomic writes: a result file appears whole or not at all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lasor.io import atomic, mesh

SRC = Path(__file__).resolve().parents[2] / "src"


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "r.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npz" and tmp.name.startswith(".")
        tmp.write_bytes(b"half a file")
        raise RuntimeError("disk full")
    assert np.load(path)["a"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=5000), text=st.text(max_size=200))
def test_write_round_trip(tmp_path, data, text):
    assert atomic.write_bytes(tmp_path / "b.bin", data).read_bytes() == data
    assert atomic.write_text(tmp_path / "t.txt", text).read_text(encoding="utf-8") == text
    assert not [p for p in tmp_path.iterdir() if atomic.TMP_MARK in p.name]


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / f".a{atomic.TMP_MARK}0123456789abcdef.npz").write_bytes(b"x")
    (tmp_path / "keep.npz").write_bytes(b"y")
    assert atomic.remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]


_WRITER = """
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from lasor.io import mesh
v = np.random.default_rng(0).random((60000, 3)).astype(np.float32)
f = np.zeros((100000, 3), np.int32)
print("ready", flush=True)
while True:
    mesh.write_ply(sys.argv[1] + "/m.ply", v, f)
    mesh.write_obj(sys.argv[1] + "/m.obj", v, f)
"""


def test_killed_writer_leaves_whole_files(tmp_path):
    for k in range(6):
        folder = tmp_path / str(k)
        folder.mkdir()
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(folder), str(SRC)], stdout=subprocess.PIPE
        )
        child.stdout.readline()
        time.sleep(0.05 + 0.1 * k)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        for name in ("m.ply", "m.obj"):
            p = folder / name
            if p.exists():
                read = mesh.read_ply if name.endswith("ply") else mesh.read_obj
                assert read(p)[0].shape == (60000, 3), (k, name)


def test_result_json_never_holds_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic.write_text(tmp_path / "x.json", json.dumps({"a": float("nan")}, allow_nan=False))
    assert not list(tmp_path.iterdir())
