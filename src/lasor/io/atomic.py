"""Atomic file writes: every result file appears whole or not at all.

A writer writes to a temporary name in the destination's own folder (so the rename never crosses
file systems) and ``os.replace`` moves it onto the final name, which on POSIX and Windows is
atomic: a reader, or a run killed half way (Ctrl-C, SIGTERM, SIGKILL, a full disk), sees either
the previous file or the complete new one, never a torn one. On any exception the temporary file
is removed and the previous file is left as it was. A process killed between creating and renaming
the temporary file leaves only a hidden ``.<name>.tmp-<id><suffix>`` beside it
(:func:`remove_stale_temporaries` clears them).

The temporary name keeps the final suffix, so writers that pick a format from it (Pillow,
``np.savez``, imageio) behave as with the final name. Files are not fsync'ed: the guarantee is
against interrupted processes, not power loss.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "TMP_MARK",
    "atomic_path",
    "remove_stale_temporaries",
    "write_bytes",
    "write_text",
]

#: part of every temporary name (``.<name>.tmp-<16 hex><suffix>``)
TMP_MARK = ".tmp-"


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.stem}{TMP_MARK}{secrets.token_hex(8)}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write; renamed onto ``path`` when the block ends without error.

    Args:
        path: the final file. Its folder must exist.

    Yields:
        the temporary path (same folder, same suffix); the block must create it.

    Raises:
        whatever the block raises (the temporary file is removed first), or FileNotFoundError
        when the block did not create the temporary file.
    """
    final = Path(path)
    tmp = _temporary(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``Path(path)``."""
    return write_bytes(path, text.encode(encoding))


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete temporary files a killed writer left in ``folder``; returns how many."""
    n = 0
    for p in Path(folder).glob(f".*{TMP_MARK}*"):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n
