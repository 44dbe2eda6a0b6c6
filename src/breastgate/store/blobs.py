"""Durable blob storage of DICOM Part 10 files: ``root/<study>/<series>/<sop>.dcm``.

A file counts as stored only once its bytes and its directory entry are on disk (DESIGN §5):
the data is fsync'ed, moved into place with an atomic ``os.replace`` and the directory is
fsync'ed, so a crash leaves either the old state or the complete new file, never a torn one.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from breastgate.domain.errors import StorageError

LOGGER = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")
_LEADING_DOTS = re.compile(r"^\.+")
_MAX_COMPONENT = 64


def safe_component(uid: str) -> str:
    """Return ``uid`` as a safe single path component.

    UIDs are digits and dots (PS3.5 §9.1); anything else (padding, separators, ``..``) is
    replaced so that a hostile header cannot escape the store root.
    """
    text = _UNSAFE.sub("_", uid.strip().strip("\x00").strip())[:_MAX_COMPONENT]
    text = _LEADING_DOTS.sub(lambda m: "_" * len(m.group()), text)  # no ".", "..", hidden files
    if not text:
        raise StorageError("empty UID cannot name a stored file")
    return text


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename itself durable (POSIX; a no-op where unsupported).
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


class BlobStore:
    """Files under ``root``, committed durably."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where an instance lives: ``root/<study>/<series>/<sop>.dcm`` (UIDs sanitised)."""
        return (
            self.root
            / safe_component(study_uid)
            / safe_component(series_uid)
            / f"{safe_component(sop_uid)}.dcm"
        )

    def commit_file(self, temp_path: Path, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Move a received temp file into the store durably and return its final path.

        fsync the temp file, ``os.replace`` it into place, fsync the directory. When the temp
        file is on another filesystem (``EXDEV``) copy it beside the target, fsync, then replace.

        Raises
        ------
        StorageError
            On any ``OSError`` (disk full, permissions, a file where a folder must be ...).
        """
        target = self.path_for(study_uid, series_uid, sop_uid)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _fsync_path(temp_path)
            try:
                os.replace(temp_path, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self._copy_replace(temp_path, target)
                temp_path.unlink(missing_ok=True)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot store {sop_uid}: {exc.strerror or exc}") from exc
        return target

    def write_bytes(self, path: Path, data: bytes) -> Path:
        """Write ``data`` to ``path`` atomically and durably (for outputs); return ``path``."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {path.name}: {exc.strerror or exc}") from exc
        return path

    @staticmethod
    def _copy_replace(source: Path, target: Path) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".dcm")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, length=1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        LOGGER.debug("temp file was on another filesystem; copied %s", target.name)
