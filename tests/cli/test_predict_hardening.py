"""``lasor predict`` against careless and hostile inputs: one bad item never costs the others."""

from __future__ import annotations

import json
import os
import signal
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lasor.cli import main, parse_bbox, read_boxes_option


def _person_image(path: Path, size=(160, 120)) -> None:
    img = np.full((size[0], size[1], 3), 200, np.uint8)
    img[30:140, 45:75] = (90, 60, 40)
    Image.fromarray(img).save(path)


def _body25(dx: float = 0.0, dy: float = 0.0) -> list[float]:
    pts = {0: (60, 35), 1: (60, 50), 2: (50, 50), 3: (46, 70), 4: (45, 88), 5: (70, 50),
           6: (74, 70), 7: (75, 88), 8: (60, 90), 9: (54, 90), 10: (54, 112), 11: (54, 135),
           12: (66, 90), 13: (66, 112), 14: (66, 135), 15: (58, 32), 16: (62, 32),
           17: (55, 34), 18: (65, 34)}  # fmt: skip
    kp = np.zeros((25, 3))
    for k, (x, y) in pts.items():
        kp[k] = (x + dx, y + dy, 0.9)
    return kp.ravel().tolist()


def _openpose(path: Path, people: int = 1, dx: float = 0.0) -> None:
    path.write_text(
        json.dumps({"people": [{"pose_keypoints_2d": _body25(dx + 25 * k)} for k in range(people)]})
    )


def _huge_png(path: Path) -> None:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")

    ihdr = (13000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def _summary(out: Path) -> tuple[dict, dict]:
    s = json.loads((out / "summary.json").read_text())
    return s, {Path(e["image"]).name: e for e in s["images"]}


def test_one_bad_item_of_every_kind_keeps_all_other_results(tmp_path, tiny_model):
    ph = tmp_path / "photos"
    ph.mkdir()
    _person_image(ph / "two.png")
    _openpose(ph / "two.json", people=2)
    _person_image(ph / "two_p1.png")  # named like person 1 of two.png
    _openpose(ph / "two_p1.json")
    _person_image(ph / "far.png")
    _openpose(ph / "far.json", dx=900)  # keypoints far outside: a warning, still processed
    bad_json = {
        "unhashable": '[{"image_id": [1], "keypoints": [1, 1, 2]}]',
        "bigint": '{"people": [{"pose_keypoints_2d": [' + "9" * 400 + "]}]}",
        "deep": "[" * 100000 + "]" * 100000,
        "infinity": '{"images": [{"id": 1, "file_name": "infinity.png", "height": Infinity, '
        '"width": 4}], "annotations": []}',
        "huge_kp": json.dumps({"keypoints": [1e30, 1e30, 2] * 17}),
    }
    for stem, text in bad_json.items():
        _person_image(ph / f"{stem}.png")
        (ph / f"{stem}.json").write_text(text)
    _huge_png(ph / "huge.png")
    (ph / "folder.png").mkdir()  # a folder named like a photo
    (ph / "text.png").write_text("not an image")
    out = tmp_path / "out"
    args = ["predict", str(ph), "-o", str(out), "--checkpoint", str(tiny_model), "--keypoints",
            str(ph), "--no-render", "--fast", "--batch-size", "2"]  # fmt: skip
    assert main(args) == 1
    s, by = _summary(out)
    assert s["finished"] is True and s["interrupted"] is None
    assert len(by) == 11  # nothing dropped, the folder included
    for name in ("two.png", "two_p1.png", "far.png"):
        assert by[name]["ok"], by[name]
    assert [p["stem"] for p in by["two.png"]["people"]] == ["two", "two_p1"]
    assert [p["stem"] for p in by["two_p1.png"]["people"]] == ["two_p1_2"]  # no collision
    assert str(json.loads((out / "two_p1.json").read_text())["image"]).endswith("two.png")
    assert str(json.loads((out / "two_p1_2.json").read_text())["image"]).endswith("two_p1.png")
    assert any("outside" in w for w in by["far.png"]["warnings"])
    for stem in (*bad_json, "huge", "folder", "text"):
        e = by[f"{stem}.png"]
        assert not e["ok"] and stem in e["error"], e
        assert not (out / f"{stem}.npz").exists()
    assert "Mpx cap" in by["huge.png"]["error"] and "is a folder" in by["folder.png"]["error"]
    assert s["failed"] == 8 and s["people"] == 4


def test_rerun_removes_stale_person_files(tmp_path, tiny_model):
    ph = tmp_path / "photos"
    ph.mkdir()
    _person_image(ph / "a.png")
    _openpose(ph / "a.json", people=3)
    out = tmp_path / "out"
    args = ["predict", str(ph / "a.png"), "-o", str(out), "--checkpoint", str(tiny_model),
            "--keypoints", str(ph), "--no-render", "--fast"]  # fmt: skip
    assert main(args) == 0
    assert (out / "a_p2.npz").exists() and (out / "a_p1.obj").exists()
    _openpose(ph / "a.json", people=1)
    (out / "a_notes.txt").write_text("the user's own file")
    assert main(args) == 0
    _, by = _summary(out)
    assert not list(out.glob("a_p*"))
    assert sorted(by["a.png"]["removed_stale"])[:2] == ["a_p1.json", "a_p1.npz"]
    assert (out / "a.npz").exists() and (out / "a_notes.txt").exists()


def test_non_finite_results_are_never_ok(tmp_path, tiny_model, monkeypatch):
    import lasor.predict

    ph = tmp_path / "photos"
    ph.mkdir()
    for stem in ("a", "b"):
        _person_image(ph / f"{stem}.png")
        _openpose(ph / f"{stem}.json")
    real = lasor.predict.place_camera
    calls = {"n": 0}

    def nan_for_b(cam, box, hw, focal):  # the 2nd call places b (the batch is a, b)
        calls["n"] += 1
        t = real(cam, box, hw, focal)
        return t * np.nan if calls["n"] == 2 else t

    monkeypatch.setattr(lasor.predict, "place_camera", nan_for_b)
    out = tmp_path / "out"
    args = ["predict", str(ph), "-o", str(out), "--checkpoint", str(tiny_model), "--keypoints",
            str(ph), "--no-render", "--fast"]  # fmt: skip
    assert main(args) == 1
    _, by = _summary(out)
    assert by["a.png"]["ok"] and not by["b.png"]["ok"]
    assert "non-finite" in by["b.png"]["error"] and not (out / "b.json").exists()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_run_still_writes_its_summary(tmp_path, tiny_model, monkeypatch, how):
    import lasor.predict

    ph = tmp_path / "photos"
    ph.mkdir()
    for stem in ("a", "b", "c"):
        _person_image(ph / f"{stem}.png")
        _openpose(ph / f"{stem}.json")
    real = lasor.predict.run_people
    calls = {"n": 0}

    def stop_on_second(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(lasor.predict, "run_people", stop_on_second)
    out = tmp_path / "out"
    args = ["predict", str(ph), "-o", str(out), "--checkpoint", str(tiny_model), "--keypoints",
            str(ph), "--no-render", "--fast", "--batch-size", "1"]  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        main(args)
    s, by = _summary(out)
    assert s["interrupted"] == ("SIGTERM" if how == "sigterm" else "KeyboardInterrupt")
    assert s["finished"] is False
    assert by["a.png"]["ok"] and (out / "a.npz").exists()  # written as soon as it was done
    assert "interrupted" in by["b.png"]["error"] and "interrupted" in by["c.png"]["error"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is restored


def test_cli_refuses_malformed_options_before_loading_a_model(tmp_path, capsys):
    photo = tmp_path / "a.png"
    _person_image(photo)
    missing = str(tmp_path / "no_model.pt")  # loading it would fail differently
    base = ["predict", str(photo), "--checkpoint", missing, "-o", str(tmp_path / "o")]
    assert main([*base, "--bbox", "a,b,c,d"]) == 2
    assert "four finite numbers" in capsys.readouterr().err
    assert main([*base, "--bbox", "10,10,5,5"]) == 2
    assert "X1 > X0" in capsys.readouterr().err
    for text in ("{not json", '{"a.png": [[1, 2, 3]]}', '{"a.png": "x"}', "[[1, 2]]",
                 '{"a.png": [[1, 2, "x", 4]]}', "[" * 50000):  # fmt: skip
        (tmp_path / "b.json").write_text(text)
        assert main([*base, "--boxes", str(tmp_path / "b.json")]) == 2, text
        assert "--boxes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([*base, "--max-people", "0"])
    assert e.value.code == 2 and "at least 1" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["predict", str(photo), "--checkpoint", missing, "-o", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_box_options(tmp_path):
    assert parse_bbox(" 1, 2,30,40").tolist() == [1, 2, 30, 40]
    spin = tmp_path / "spin_im1010_bbox.json"
    spin.write_text('{\n  "bbox": [17, 37, 117, 142]\n}\n')  # SPIN's format: x, y, w, h
    assert read_boxes_option(spin).tolist() == [[17, 37, 134, 179]]
    per = tmp_path / "per.json"
    per.write_text('{"a.png": [[1, 2, 30, 40], [5, 5, 9, 9]], "b.png": [1, 2, 3, 4]}')
    got = read_boxes_option(per)
    assert got["a.png"].shape == (2, 4) and got["b.png"].tolist() == [[1, 2, 3, 4]]
