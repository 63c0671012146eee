"""Shared fixtures: paths and a numba thread-count guard."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture
def models_dir() -> Path:
    return MODELS
