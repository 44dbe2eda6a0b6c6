"""A logistic candidate model: clipped, optionally log-transformed, standardised features.

Shared by the detectors whose candidates are ranked by a model fitted offline (``bench/*_fit.py``
print the literal): the mass detector and the DCE-MRI lesion detector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LogisticModel:
    """Logistic model over the candidate features (clipped, log where listed, standardised)."""

    features: tuple[str, ...]
    log: frozenset[str]
    low: tuple[float, ...]
    high: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def transform(self, values: dict[str, float]) -> list[float]:
        out = []
        for name in self.features:
            v = float(values.get(name, 0.0))
            v = 0.0 if not math.isfinite(v) else v
            out.append(math.log(max(v, 0.05)) if name in self.log else v)
        return out

    def score(self, values: dict[str, float]) -> float:
        x = self.transform(values)
        z = self.bias
        for v, lo, hi, mu, sd, w in zip(
            x, self.low, self.high, self.mean, self.scale, self.weights, strict=True
        ):
            z += w * (min(max(v, lo), hi) - mu) / sd
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
