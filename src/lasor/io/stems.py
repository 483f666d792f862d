"""Output names of a batch: one reserved stem per photo, and the files a stem owns.

A photo ``<stem>.jpg`` writes ``<stem>.*`` for person 0, ``<stem>_p<N>.*`` for person N and
``<stem>_all_overlay.png`` when it has several people; the batch writes ``summary.json``. So a
photo whose own stem is ``<other>_p<N>`` or ``<other>_all`` (for another photo ``<other>``), or
``summary``, would overwrite another photo's files. :func:`reserve_stems` gives every photo of a
batch, before any is processed, a stem no other photo's files can reach: the photo's own stem
when it is safe, else ``<stem>_2``, ``<stem>_3``, ... (the same rule that separates photos of the
same name from different folders).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PERSON_SUFFIXES", "owned_files", "person_stem", "reserve_stems"]

#: what a person stem ``S`` writes: ``S<suffix>`` for each of these
PERSON_SUFFIXES = (
    ".npz", ".json", ".obj", ".ply", ".glb", ".bvh", "_overlay.png", "_side.png", "_proxy.png",
)  # fmt: skip
_DERIVED = re.compile(r"(.+)_(?:p\d+|all)")
_RESERVED = {"summary"}


def person_stem(base: str, person: int) -> str:
    """The stem of person ``person`` of a photo whose reserved stem is ``base``."""
    return base if person == 0 else f"{base}_p{person}"


def _unsafe(stem: str, bases: set[str]) -> bool:
    m = _DERIVED.fullmatch(stem)
    return stem in _RESERVED or (m is not None and m.group(1) in bases)


def reserve_stems(images: Iterable[str | Path]) -> dict[str, str]:
    """A unique, collision-free output stem for every photo of a batch.

    Args:
        images: the batch's photo paths, in processing order.

    Returns:
        ``{str(path): stem}``; photo files ``<stem>.*``, ``<stem>_p<N>.*`` and
        ``<stem>_all_overlay.png`` of different photos never share a name.
    """
    paths = list(dict.fromkeys(str(p) for p in images))
    stems: dict[str, str] = {}
    used: set[str] = set()
    for p in paths:  # pass 1: photos of the same name from different folders
        stem, n = Path(p).stem, 2
        cand = stem
        while cand in used:
            cand, n = f"{stem}_{n}", n + 1
        stems[p] = cand
        used.add(cand)
    bases = set(used)
    for p in paths:  # pass 2: stems that another photo's person files would take
        stem = stems[p]
        if not _unsafe(stem, bases - {stem}):
            continue
        n = 2
        cand = f"{stem}_{n}"
        while cand in bases or _unsafe(cand, bases):
            n += 1
            cand = f"{stem}_{n}"
        bases.discard(stem)
        bases.add(cand)
        stems[p] = cand
    return stems


def owned_files(out_dir: Path, base: str) -> list[Path]:
    """Files in ``out_dir`` that a photo with reserved stem ``base`` may have written (in this or
    an earlier run): ``<base>[_p<N>]<suffix>`` and ``<base>_all_overlay.png``."""
    suffixes = "|".join(re.escape(s) for s in PERSON_SUFFIXES)
    pattern = re.compile(
        rf"{re.escape(base)}(?:_p\d+)?(?:{suffixes})|{re.escape(base)}_all_overlay\.png"
    )
    return sorted(
        p for p in Path(out_dir).glob(f"{glob_escape(base)}*") if pattern.fullmatch(p.name)
    )


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)
