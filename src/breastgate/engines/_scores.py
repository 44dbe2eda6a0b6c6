"""Score scales of third-party engines: raw vendor scores to breastgate's 0-1 scores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Raw scores this close outside the declared scale (a fraction of its span) count as on its edge:
#: float32 round-off of a model that outputs exactly ``hi``.
EDGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ScoreScale:
    """The closed interval [lo, hi] a vendor's raw scores lie in (lo < hi)."""

    lo: float = 0.0
    hi: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or not self.lo < self.hi:
            raise ValueError(f"score scale [{self.lo}, {self.hi}] must be finite with lo < hi")

    @classmethod
    def parse(cls, value: Any) -> ScoreScale:
        """From ``[lo, hi]`` (two numbers); ValueError with the reason otherwise."""
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise ValueError(f"score scale must be [lo, hi] (two numbers), got {value!r}")
        return cls(float(value[0]), float(value[1]))

    def normalise(self, raw: float) -> float:
        """``(raw - lo) / (hi - lo)``, rounded to 6 places; ValueError when ``raw`` is outside the scale."""
        span = self.hi - self.lo
        if not math.isfinite(raw):
            raise ValueError(f"score {raw!r} is not a finite number")
        if raw < self.lo - EDGE_TOLERANCE * span or raw > self.hi + EDGE_TOLERANCE * span:
            raise ValueError(f"score {raw:g} outside the declared scale [{self.lo:g}, {self.hi:g}]")
        return round(min(1.0, max(0.0, (raw - self.lo) / span)), 6)

    def as_list(self) -> list[float]:
        return [self.lo, self.hi]
