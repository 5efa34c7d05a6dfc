"""Fixtures for the fault tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "exported_models"
_trained: list[Path] = []


def valid_model_pair(tmp_path_factory) -> Path:
    """A directory with a real, valid continuation model pair to copy and tamper with:
    the shipped one, or (before models are shipped) a tiny one trained once per run."""
    if (SHIPPED / "continuation.json").is_file() and (SHIPPED / "continuation.onnx").is_file():
        return SHIPPED
    if _trained:
        return _trained[0]
    pytest.importorskip("torch")
    pytest.importorskip("music21")
    from training import continuation

    out = tmp_path_factory.mktemp("tiny-model")
    assert continuation.main(["--tiny", "--out", str(out), "--threads", "1"]) == 0
    _trained.append(out)
    return out


@pytest.fixture(scope="session")
def model_pair(tmp_path_factory) -> Path:
    return valid_model_pair(tmp_path_factory)
