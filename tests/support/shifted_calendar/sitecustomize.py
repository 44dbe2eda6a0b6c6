"""Run the suite with the calendar moved ahead, to find tests that depend on today's date.

Put this folder first on ``PYTHONPATH`` and set ``TEST_CALENDAR_SHIFT_DAYS``; every Python process
started with that environment (pytest, and the gateways and tools the tests start) then sees
``datetime.now()``, ``date.today()`` and ``time.time()`` that many days ahead, the clock ticking::

    TEST_CALENDAR_SHIFT_DAYS=365 PYTHONPATH=tests/support/shifted_calendar:src .venv/bin/pytest

Debian's ``faketime`` (libfaketime 0.9.10) is no use here: under it Python 3.11's ``time.sleep``
fails with EINVAL or never returns (``clock_nanosleep`` on the monotonic clock). Waits, sockets and
thread synchronisation keep the real clock (``ignore`` below), so timeouts still time out.
Non-Python peers (Orthanc, dcmtk, dciodvfy) keep the real date.
"""

import os

_DAYS = os.environ.get("TEST_CALENDAR_SHIFT_DAYS")

if _DAYS:
    import contextlib
    import datetime as _datetime

    with contextlib.suppress(ImportError):  # classes built on date at import time need the real one
        import pydantic.v1  # noqa: F401
    import freezegun

    _START = _datetime.datetime.now(_datetime.UTC) + _datetime.timedelta(days=float(_DAYS))
    _REAL_CLOCK = [
        "_pytest", "pytest", "pluggy", "threading", "queue", "selectors", "asyncio", "concurrent",
        "socketserver", "subprocess", "sqlalchemy.pool", "huey", "uvicorn", "anyio", "httpx", "httpx2",
        "httpcore", "httpcore2", "pynetdicom", "websockets",
    ]  # fmt: skip
    freezegun.freeze_time(_START, tick=True, ignore=_REAL_CLOCK).start()
