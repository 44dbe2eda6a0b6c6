"""Fixtures shared by every test package."""

from __future__ import annotations

import shutil
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


_FAILED_MODULES: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Note the modules with a failed test, whose scratch folders are kept for inspection."""
    report = yield
    if report.failed:
        _FAILED_MODULES.add(item.nodeid.split("::")[0])
    return report


@pytest.fixture(scope="module", autouse=True)
def _module_scratch_removed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Remove the folders a module's tests and fixtures made once the module is done.

    ``tmp_path_retention_policy = "failed"`` removes a passing test's ``tmp_path``, but folders made
    by ``tmp_path_factory.mktemp`` (module fixtures, Orthanc homes) would stay until the session
    ends: several GB over the suite, more than a CI machine's free disk. No fixture is wider than a
    module, so a module's new folders are its own. A module with a failed test keeps them.
    """
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    if request.node.nodeid.split("::")[0] in _FAILED_MODULES:
        return
    for path in set(base.iterdir()) - before:
        shutil.rmtree(path, ignore_errors=True)
