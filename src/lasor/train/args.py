"""``lasor train``'s command-line options (no heavy imports, so ``lasor --help`` stays instant)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``lasor train``'s options to ``parser`` (``--config``, ``--set``, ``--resume``)."""
    parser.add_argument("--config", type=Path, default=None, help="YAML config (default: defaults)")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. --set optim.lr=3e-4 loss.use_silhouette=false",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from run.out_dir/last.pt, bit-for-bit"
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    return parser
