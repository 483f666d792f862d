"""Property-based tests of the clip reader: any bytes open as a clip or raise VideoError."""

from __future__ import annotations

import imageio.v2 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lasor.video import VideoError, open_clip, short_error


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "c.mp4"
    with iio.get_writer(path, fps=10, codec="libx264", macro_block_size=16) as w:
        for k in range(12):
            w.append_data(np.full((32, 48, 3), 20 * k, np.uint8))
    return path.read_bytes()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=10),
)
def test_damaged_clips_open_or_raise_video_error(tmp_path, clip_bytes, cut, flips):
    data = bytearray(clip_bytes[: int(len(clip_bytes) * cut)])
    for pos, val in flips:
        if data:
            data[int(pos * (len(data) - 1))] = val
    path = tmp_path / "d.mp4"
    path.write_bytes(bytes(data))
    try:
        clip = open_clip(path)
    except VideoError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)  # one line, no ffmpeg banner
        assert "ffmpeg version" not in str(e)
        return
    try:
        for frame in clip.frames:
            assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    except Exception:  # noqa: BLE001, S110 - a broken stream mid-way is track_clip's to report
        pass
    finally:
        if clip.close is not None:
            clip.close.close()


def test_clip_knows_its_indexed_length(tmp_path, clip_bytes):
    clip = open_clip(_write(tmp_path / "whole.mp4", clip_bytes))
    assert clip.indexed_frames == 12
    assert len(list(clip.frames)) == 12
    clip.close.close()


def _write(path, data):
    path.write_bytes(data)
    return path


def test_short_error_drops_the_banner():
    msg = (
        "Could not load meta information\n=== stderr ===\n\nffmpeg version n9 Copyright (c) 2000\n"
        "  built with gcc 12\n  configuration: --enable-gpl\n  libavutil 59. 8.100\n"
        "/tmp/x.mp4: Invalid data found when processing input\n"
    )
    assert short_error(OSError(msg)) == (
        "Could not load meta information: /tmp/x.mp4: Invalid data found when processing input"
    )
    assert short_error(ValueError("")) == "ValueError"
