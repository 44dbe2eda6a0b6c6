"""The pynetdicom internals breastgate relies on are still where it expects them (fail loudly on upgrade)."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from types import SimpleNamespace

import pynetdicom
import pytest
from pynetdicom import dimse_messages

from breastgate.dicomnet import receive
from breastgate.domain.errors import ConfigurationError


def test_pynetdicom_is_a_release_the_temp_file_router_was_checked_against() -> None:
    assert pynetdicom.__version__ in receive.SUPPORTED_PYNETDICOM, (
        f"pynetdicom {pynetdicom.__version__}: check that dimse_messages still creates chunked-receive "
        "files with the module-level NamedTemporaryFile, then add the release to SUPPORTED_PYNETDICOM"
    )


def test_pynetdicom_creates_chunked_receive_files_by_the_name_we_replace() -> None:
    source = inspect.getsource(dimse_messages)
    assert "from tempfile import NamedTemporaryFile" in source
    assert receive.PATCHED_CALL in source


def test_an_unsupported_release_is_refused_with_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pynetdicom, "__version__", "99.0.0")
    with pytest.raises(ConfigurationError, match=r"pynetdicom 99\.0\.0 is not supported"):
        receive.check_pynetdicom()


def test_temp_files_of_a_registered_ae_land_in_its_folder(tmp_path: Path) -> None:
    ae = object()
    receive.serve_into(ae, tmp_path / "incoming")
    try:
        thread = threading.current_thread()
        thread.assoc = SimpleNamespace(ae=ae)  # type: ignore[attr-defined]
        handle = dimse_messages.NamedTemporaryFile(delete=False, mode="wb", suffix=".dcm")  # type: ignore[attr-defined]
        handle.close()
        assert Path(handle.name).parent == tmp_path / "incoming"
        thread.assoc = SimpleNamespace(ae=object())  # type: ignore[attr-defined]
        other = dimse_messages.NamedTemporaryFile(delete=False, mode="wb", suffix=".dcm")  # type: ignore[attr-defined]
        other.close()
        assert Path(other.name).parent != tmp_path / "incoming"
        Path(other.name).unlink()
    finally:
        del threading.current_thread().assoc  # type: ignore[attr-defined]
        receive.stop_serving(ae)
