"""BlobStore: layout, sanitised UIDs, durable commit by rename and by copy, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from breastgate.domain.errors import StorageError
from breastgate.store.blobs import BlobStore


def test_path_layout(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert store.path_for("1.2", "1.2.3", "1.2.3.4") == tmp_path / "1.2" / "1.2.3" / "1.2.3.4.dcm"


@pytest.mark.parametrize("uid", ["../../etc", "1.2/3", "..", "1.2\\3 ", "1.2.3\x00"])
def test_hostile_uids_stay_under_root(tmp_path: Path, uid: str) -> None:
    path = BlobStore(tmp_path / "root").path_for(uid, uid, uid)
    assert path.resolve().is_relative_to((tmp_path / "root").resolve())
    assert len(path.relative_to(tmp_path / "root").parts) == 3


def test_empty_uid_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        BlobStore(tmp_path).path_for("  ", "1", "2")


def test_commit_moves_the_same_inode(tmp_path: Path) -> None:
    temp = tmp_path / "incoming.dcm"
    temp.write_bytes(b"DICM data")
    inode = temp.stat().st_ino
    final = BlobStore(tmp_path / "store").commit_file(temp, "1.2", "1.2.3", "1.2.3.4")
    assert final.read_bytes() == b"DICM data"
    assert final.stat().st_ino == inode  # renamed, not copied
    assert not temp.exists()


def test_commit_replaces_an_existing_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    for content in (b"first", b"second"):
        temp = tmp_path / "t.dcm"
        temp.write_bytes(content)
        final = store.commit_file(temp, "1", "2", "3")
    assert final.read_bytes() == b"second"


def test_commit_across_filesystems_copies(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem available")
    temp = shm / f"bg-test-{os.getpid()}.dcm"
    temp.write_bytes(b"x" * 5000)
    try:
        final = BlobStore(tmp_path / "store").commit_file(temp, "1", "2", "3")
        assert final.read_bytes() == b"x" * 5000
        assert not temp.exists()
        assert not list(final.parent.glob(".tmp-*"))
    finally:
        temp.unlink(missing_ok=True)


def test_a_file_where_a_folder_must_be_is_a_storage_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "1.2").write_bytes(b"not a folder")
    temp = tmp_path / "t.dcm"
    temp.write_bytes(b"data")
    with pytest.raises(StorageError):
        BlobStore(root).commit_file(temp, "1.2", "3", "4")
    assert temp.exists()


def test_missing_temp_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        BlobStore(tmp_path).commit_file(tmp_path / "gone.dcm", "1", "2", "3")


def test_write_bytes_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    target = tmp_path / "out" / "sr.dcm"
    store.write_bytes(target, b"abc")
    store.write_bytes(target, b"defg")
    assert target.read_bytes() == b"defg"
    assert [p.name for p in target.parent.iterdir()] == ["sr.dcm"]


def test_write_bytes_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError):
        BlobStore(tmp_path).write_bytes(tmp_path / "file" / "x.dcm", b"a")
