"""Store rows (dataclasses) as the JSON dicts the API answers with."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any


def as_dict(row: object) -> dict[str, Any]:
    """The fields of a dataclass instance (or an object's attributes); datetimes as ISO 8601 text."""
    data = asdict(row) if is_dataclass(row) and not isinstance(row, type) else dict(vars(row))
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
