"""Algorithm registry over the entry-point group ``breastgate.algorithms`` (STYLE pattern 3)."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import AlgorithmUnavailableError

LOGGER = logging.getLogger(__name__)
GROUP = "breastgate.algorithms"


class Registry:
    """Algorithms by id. Built from entry points, or from explicit instances in tests."""

    def __init__(self, algorithms: list[Algorithm] | None = None) -> None:
        self._by_id: dict[str, Algorithm] = {}
        for algorithm in algorithms or []:
            self.add(algorithm)

    @classmethod
    def from_entry_points(cls) -> Registry:
        """Load every algorithm advertised under the ``breastgate.algorithms`` group."""
        registry = cls()
        for ep in entry_points(group=GROUP):
            try:
                factory = ep.load()
                registry.add(factory())
            except Exception as exc:  # a broken plugin must not stop the gateway
                LOGGER.error("algorithm plugin %s failed to load: %s", ep.name, exc)
        return registry

    def add(self, algorithm: Algorithm) -> None:
        self._by_id[algorithm.manifest.id] = algorithm

    def get(self, algorithm_id: str) -> Algorithm:
        try:
            algorithm = self._by_id[algorithm_id]
        except KeyError:
            raise AlgorithmUnavailableError(f"no algorithm registered as {algorithm_id!r}") from None
        ok, why = algorithm.is_available()
        if not ok:
            raise AlgorithmUnavailableError(f"{algorithm_id} is not available: {why}")
        return algorithm

    def all(self) -> list[Algorithm]:
        return [self._by_id[k] for k in sorted(self._by_id)]
