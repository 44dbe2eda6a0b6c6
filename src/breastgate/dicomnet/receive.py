"""Chunked receive for Storage SCPs: datasets stream to a temp file on the store's filesystem.

pynetdicom writes a received dataset to a temp file when ``_config.STORE_RECV_CHUNKED_DATASET`` is
on, and hands its path to the ``EVT_C_STORE`` handler (``event.dataset_path``). For the handler's
commit to be an fsync + rename rather than a copy, that file must be on the store's filesystem.
pynetdicom offers no setting for the folder: it calls ``tempfile.NamedTemporaryFile`` looked up in
``pynetdicom.dimse_messages``, in the association's DUL thread. :func:`serve_into` replaces that
one name with a factory that passes ``dir=<the folder registered for the AE that owns the
association>`` (found through the current DUL thread's association); an association of an AE with
no folder gets pynetdicom's default behaviour. This reaches into pynetdicom's internals, so it is
pinned: :data:`SUPPORTED_PYNETDICOM` lists the releases it was checked against,
:func:`check_pynetdicom` refuses others at start-up, and a test reads pynetdicom's source so an
upgrade that moves the call fails loudly (tests/unit/test_dicomnet.py).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import pynetdicom
from pynetdicom import _config
from pynetdicom import dimse_messages as _dimse_messages

from breastgate.domain.errors import ConfigurationError

LOGGER = logging.getLogger(__name__)

#: pynetdicom releases whose ``dimse_messages`` calls ``NamedTemporaryFile`` by that module-level name.
SUPPORTED_PYNETDICOM = ("3.0.4",)
#: The call :func:`serve_into` relies on, as written in ``pynetdicom/dimse_messages.py``.
PATCHED_CALL = 'NamedTemporaryFile(delete=False, mode="wb", suffix=".dcm")'

_TEMP_DIRS: dict[int, Path] = {}
_LOCK = threading.Lock()
STALE_TEMP_SECONDS = 3600.0


def check_pynetdicom() -> None:
    """Refuse a pynetdicom this module was not checked against (its temp files could land elsewhere)."""
    if pynetdicom.__version__ not in SUPPORTED_PYNETDICOM or not hasattr(
        _dimse_messages, "NamedTemporaryFile"
    ):
        raise ConfigurationError(
            f"pynetdicom {pynetdicom.__version__} is not supported by breastgate's chunked receive "
            f"(checked: {', '.join(SUPPORTED_PYNETDICOM)}); install the version in constraints.txt"
        )


def _temp_file_for_association(*args: Any, **kwargs: Any) -> IO[bytes]:
    """``NamedTemporaryFile`` that lands in the folder of the AE owning the current association."""
    assoc = getattr(threading.current_thread(), "assoc", None)
    ae = getattr(assoc, "ae", None)
    folder = _TEMP_DIRS.get(id(ae)) if ae is not None else None
    if folder is not None and "dir" not in kwargs:
        kwargs["dir"] = folder
    return tempfile.NamedTemporaryFile(*args, **kwargs)  # pynetdicom closes it


def remove_stale_temp_files(folder: Path) -> None:
    """Remove temp files left by a crash mid-transfer; young ones may belong to another front end
    sharing the folder."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in folder.glob("tmp*.dcm"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


def serve_into(ae: Any, folder: Path) -> None:
    """Receive datasets of ``ae``'s associations as files in ``folder`` (chunked receive on)."""
    check_pynetdicom()
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder)
    _config.STORE_RECV_CHUNKED_DATASET = True
    with _LOCK:
        _dimse_messages.NamedTemporaryFile = _temp_file_for_association  # type: ignore[assignment,attr-defined]
        _TEMP_DIRS[id(ae)] = folder


def stop_serving(ae: Any) -> None:
    """Forget ``ae``'s folder (after its server stopped)."""
    with _LOCK:
        _TEMP_DIRS.pop(id(ae), None)
