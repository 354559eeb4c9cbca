"""Shared fixtures. Tests that need the BOTAN data skip when ../shared is absent."""
from pathlib import Path

import numpy as np
import pytest

SHARED_BOTAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"


@pytest.fixture
def botan_dir():
    if not SHARED_BOTAN.is_dir() or not any(SHARED_BOTAN.glob("*.npz")):
        pytest.skip("shared BOTAN data not present (../shared/data/botan_ka3d_T0.44)")
    return SHARED_BOTAN


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
