"""The algorithm registry as the governance record: versions, manifests, availability.

At start-up every algorithm the process can run is recorded with its manifest and whether it is
available here; a version seen for the first time starts in the configured initial mode
(``silent`` unless a development setting says otherwise), audited.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmManifest
from breastgate.store import governance as store
from breastgate.store.db import Database

LOGGER = logging.getLogger(__name__)


class _Runnable(Protocol):
    manifest: AlgorithmManifest

    def is_available(self) -> tuple[bool, str]: ...


class _Algorithms(Protocol):
    def all(self) -> Iterable[_Runnable]: ...


def manifest_dict(manifest: AlgorithmManifest) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(manifest).items()}


def register_algorithms(db: Database, registry: _Algorithms, initial_mode: Mode) -> list[str]:
    """Record every algorithm version of ``registry``; returns the ones seen for the first time."""
    new: list[str] = []
    with db.session() as session:
        for algorithm in registry.all():
            manifest = algorithm.manifest
            try:
                available, why = algorithm.is_available()
            except Exception as exc:  # an availability check must not stop the gateway
                available, why = False, f"{type(exc).__name__}: {exc}"
            if store.register_version(
                session,
                algorithm_id=manifest.id,
                version=manifest.version,
                name=manifest.name,
                manifest=manifest_dict(manifest),
                available=available,
                availability=why,
                initial_mode=initial_mode,
            ):
                new.append(f"{manifest.id}@{manifest.version}")
    if new:
        LOGGER.info("new algorithm versions registered (%s): %s", initial_mode.value, ", ".join(new))
    return new
