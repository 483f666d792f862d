"""Reserved output stems: no two photos of a batch can write the same file."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lasor.io.stems import PERSON_SUFFIXES, owned_files, person_stem, reserve_stems

names = st.lists(
    st.tuples(
        st.sampled_from(["", "a/", "b/"]),
        st.sampled_from(["x", "x_p1", "x_p2", "x_all", "x_2", "x_p1_2", "summary", "y", "x_p1_p1"]),
    ),
    max_size=10,
).map(lambda v: [f"{d}{n}.jpg" for d, n in v])


def _files(stem: str, people: int) -> set[str]:
    out = {person_stem(stem, k) + s for k in range(people) for s in PERSON_SUFFIXES}
    return out | ({f"{stem}_all_overlay.png"} if people > 1 else set())


@settings(max_examples=300, deadline=None)
@given(paths=names, people=st.integers(1, 4))
def test_no_two_photos_share_a_file(paths, people):
    stems = reserve_stems(paths)
    assert set(stems) == set(paths)
    seen: set[str] = {"summary.json"}
    for p in dict.fromkeys(paths):
        mine = _files(stems[p], people)
        assert not (mine & seen), (p, stems)
        seen |= mine


def test_examples():
    stems = reserve_stems(["x.jpg", "x_p1.jpg", "d/x.jpg", "summary.png", "x_all.png", "y_p1.png"])
    assert stems == {
        "x.jpg": "x", "x_p1.jpg": "x_p1_2", "d/x.jpg": "x_2", "summary.png": "summary_2",
        "x_all.png": "x_all_2", "y_p1.png": "y_p1",
    }  # fmt: skip


def test_owned_files(tmp_path: Path):
    for n in ["x.npz", "x_p1.npz", "x_p12_overlay.png", "x_all_overlay.png", "x_2.npz",
              "x_p1_2.npz", "x_overlay_side.png", "xy.npz", "summary.json"]:  # fmt: skip
        (tmp_path / n).write_text("")
    got = [p.name for p in owned_files(tmp_path, "x")]
    assert got == ["x.npz", "x_all_overlay.png", "x_p1.npz", "x_p12_overlay.png"]
