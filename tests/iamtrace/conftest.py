"""Fixtures of the IAM trace tests."""

from __future__ import annotations

import pytest

from .drift_run import record_drift


@pytest.fixture
def drift_calls(tmp_path, monkeypatch) -> list[dict]:
    """The weekly drift job, run as the plan role against a Stubber, recorded (drift_run.py)."""
    return record_drift(tmp_path, monkeypatch)
