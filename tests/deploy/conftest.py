"""Fixtures for the deployment tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import valid_model_pair


@pytest.fixture(scope="session")
def model_pair(tmp_path_factory) -> Path:
    return valid_model_pair(tmp_path_factory)
