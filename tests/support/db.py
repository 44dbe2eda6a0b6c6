"""A migrated SQLite database for a test, without running the migrations for every test.

Running every Alembic migration costs about 1.5 s of wall time per database on the CI machine
(mostly file syncs), and hundreds of tests start from a fresh database. :func:`upgrade` migrates
one template database per test process with the real :func:`breastgate.store.migrate.upgrade`
and copies it for each test: the same file, bit for bit. Tests of the migrations themselves
(partial revisions, other URLs) go through the real function.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from breastgate.store import migrate

_SQLITE = "sqlite:///"


@functools.cache
def _template() -> Path:
    """One database migrated to head, for this process (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="bg-migrated-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    migrate.upgrade(f"{_SQLITE}{path}")
    return path


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``, as :func:`breastgate.store.migrate.upgrade` does.

    A SQLite file that does not exist yet, brought to head, is a copy of the process's template.
    """
    target = Path(url[len(_SQLITE) :]) if url.startswith(_SQLITE) else None
    if revision != "head" or target is None or target.exists() or str(target) in ("", ":memory:"):
        migrate.upgrade(url, revision)
        return
    shutil.copyfile(_template(), target)
