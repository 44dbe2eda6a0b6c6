"""The response models change no JSON body: every typed answer equals the untyped one.

``same_bodies`` wraps FastAPI's ``serialize_response`` (called once per answer of a route with a
response model): beside the typed body it encodes what the route returned as FastAPI did before
the models (``jsonable_encoder``, then ``json.dumps``), and records any difference of keys, key
order, values or JSON types (``1`` against ``1.0``). A test module opts in with
``pytestmark = pytest.mark.usefixtures("same_bodies")`` and imports ``same_bodies_fixture``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import fastapi.routing
import pytest
from fastapi.encoders import jsonable_encoder


@dataclass
class BodyCheck:
    """What the wrapped serializer saw: how many typed answers, and which differed."""

    checked: int = 0
    differences: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def first_difference(typed: Any, untyped: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ (keys, key order, values, JSON types), or None."""
    if isinstance(typed, dict) and isinstance(untyped, dict):
        if list(typed) != list(untyped):
            return f"{path}: keys {list(typed)} != {list(untyped)}"
        found = (first_difference(typed[k], untyped[k], f"{path}.{k}") for k in typed)
        return next((d for d in found if d), None)
    if isinstance(typed, list) and isinstance(untyped, list) and len(typed) == len(untyped):
        pairs = enumerate(zip(typed, untyped, strict=True))
        found = (first_difference(a, b, f"{path}[{i}]") for i, (a, b) in pairs)
        return next((d for d in found if d), None)
    if _text(typed) != _text(untyped):
        return f"{path}: {_text(typed)[:200]} != {_text(untyped)[:200]}"
    return None


@pytest.fixture(name="same_bodies")
def same_bodies_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[BodyCheck]:
    original = fastapi.routing.serialize_response
    check = BodyCheck()

    async def serialize(**kwargs: Any) -> Any:
        out = await original(**kwargs)
        if kwargs.get("field") is None:
            return out
        typed = json.loads(out) if isinstance(out, bytes) else out
        untyped = json.loads(_text(jsonable_encoder(kwargs["response_content"])))
        check.checked += 1
        difference = first_difference(typed, untyped)
        if difference is not None:
            where = (kwargs.get("endpoint_ctx") or {}).get("function", "?")
            check.differences.append(f"{where}: typed != untyped at {difference}")
        return out

    monkeypatch.setattr(fastapi.routing, "serialize_response", serialize)
    yield check
    assert not check.differences, "\n".join(check.differences)
