"""DicomNodeEngine configuration and selection (no network: the engine is never contacted)."""

from __future__ import annotations

from typing import Any

import pytest

from breastgate.algorithms.base import Algorithm
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import AlgorithmStatus, InstanceRef, StudyRef
from breastgate.engines.dicom_node import (
    BREAST_TOMOSYNTHESIS,
    MG_FOR_PRESENTATION,
    DicomEngineConfig,
    make_dicom_engine,
)

BASE: dict[str, Any] = {
    "id": "vendor.cad",
    "version": "1.0.0",
    "node": "VENDORCAD@127.0.0.1:11113",
    "return_ae": "BGRETURN",
    "return_port": 11114,
}


def _ref(uid: str, sop_class: str, intent: str | None = "FOR PRESENTATION") -> InstanceRef:
    return InstanceRef("1.2.3", "1.2.3.1", uid, sop_class, "MG", f"/nowhere/{uid}.dcm", "L", "CC", intent)


def test_config_from_mapping() -> None:
    config = DicomEngineConfig.from_mapping({**BASE, "score_scale": [0, 10], "include_dbt": True})
    assert (config.engine.ae_title, config.engine.port) == ("VENDORCAD", 11113)
    assert config.score_scale == (0.0, 10.0) and config.include_dbt
    split = DicomEngineConfig.from_mapping(
        {**{k: v for k, v in BASE.items() if k != "node"}, "ae_title": "X", "host": "h", "port": 5}
    )
    assert (split.engine.ae_title, split.engine.host, split.engine.port) == ("X", "h", 5)


@pytest.mark.parametrize(
    "change",
    [
        {"node": "not a node"},
        {"return_port": 0},
        {"score_scale": [10, 0]},
        {"timeout_seconds": 0},
        {"return_ae": "A" * 17},
        {"id": None, "version": None},
    ],
)
def test_bad_config_is_a_configuration_error(change: dict[str, Any]) -> None:
    config = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(ConfigurationError):
        DicomEngineConfig.from_mapping(config)
    with pytest.raises(ConfigurationError):
        make_dicom_engine(BASE, b"")


@pytest.mark.parametrize("include_dbt", [False, True])
def test_select_for_presentation_mammograms_and_dbt_when_configured(include_dbt: bool) -> None:
    engine = make_dicom_engine({**BASE, "include_dbt": include_dbt}, b"secret")
    assert isinstance(engine, Algorithm)
    study = StudyRef(
        "1.2.3",
        (
            _ref("1", MG_FOR_PRESENTATION),
            _ref("2", "1.2.840.10008.5.1.4.1.1.1.2.1", "FOR PROCESSING"),
            _ref("3", BREAST_TOMOSYNTHESIS, None),
        ),
    )
    selection = engine.select(study)
    assert [i.sop_instance_uid for i in selection.inputs] == (["1", "3"] if include_dbt else ["1"])
    assert all(s.status == AlgorithmStatus.SKIPPED and s.message for s in selection.skipped)
    assert engine.manifest.id == "vendor.cad" and engine.manifest.version == "1.0.0"
    empty = engine.run(engine.select(StudyRef("1.2.3", ())))
    assert empty.status == AlgorithmStatus.SKIPPED
    engine.close()
