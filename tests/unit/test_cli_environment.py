"""The ``breastgate`` command's process environment: Tesseract on one OpenMP thread."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import pytest

from breastgate import cli


@pytest.fixture(autouse=True)
def _keep_sigterm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def _run_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["breastgate", "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0


def test_the_command_runs_tesseract_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    _run_help(monkeypatch)
    assert os.environ["OMP_THREAD_LIMIT"] == "1"


def test_an_operator_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_THREAD_LIMIT", "2")
    _run_help(monkeypatch)
    assert os.environ["OMP_THREAD_LIMIT"] == "2"
