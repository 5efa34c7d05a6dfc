"""Fixtures for the fault tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "exported_models"


@pytest.fixture(scope="session")
def model_pair(tmp_path_factory) -> Path:
    """A directory with a real, valid continuation model pair to copy and tamper with:
    the shipped one, or (before models are shipped) a tiny one trained here (~10 s)."""
    if (SHIPPED / "continuation.json").is_file() and (SHIPPED / "continuation.onnx").is_file():
        return SHIPPED
    pytest.importorskip("torch")
    pytest.importorskip("music21")
    from training import continuation

    out = tmp_path_factory.mktemp("tiny-model")
    assert continuation.main(["--tiny", "--out", str(out), "--threads", "1"]) == 0
    return out
