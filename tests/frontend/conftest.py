"""Shared fixtures for the front-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: ../shared/data relative to the repository root (tests/frontend/conftest.py -> repo root).
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/data/real``, or skip when the shared test data is not present."""
    path = SHARED_DATA / "real"
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path} (needs ../shared/data next to the repo)")
    return path
