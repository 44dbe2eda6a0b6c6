"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from breastgate.store.db import Database
from tests.support.db import upgrade


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A real SQLite database under ``tmp_path``, migrated to the latest schema."""
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()
