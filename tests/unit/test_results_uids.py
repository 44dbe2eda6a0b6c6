"""Deterministic output UIDs (DESIGN §4 "DICOM out")."""

from __future__ import annotations

import pytest
from pydicom.uid import UID

from breastgate.domain.errors import EncodingError
from breastgate.results.uids import derive_uid

INPUTS = ["1.2.3.4.1", "1.2.3.4.2", "1.2.3.4.3"]


def test_same_inputs_give_same_uid_whatever_the_order() -> None:
    first = derive_uid("cad-sr", "breastgate.density", "1.0.0", INPUTS)
    assert first == derive_uid("cad-sr", "breastgate.density", "1.0.0", list(reversed(INPUTS)))
    assert UID(first).is_valid
    assert len(first) <= 64


@pytest.mark.parametrize(
    ("kind", "algorithm", "version", "inputs"),
    [
        ("cad-sr-series", "breastgate.density", "1.0.0", INPUTS),
        ("gsps", "breastgate.density", "1.0.0", INPUTS),
        ("cad-sr", "acme.density", "1.0.0", INPUTS),
        ("cad-sr", "breastgate.density", "1.0.1", INPUTS),
        ("cad-sr", "breastgate.density", "1.0.0", INPUTS[:2]),
        ("cad-sr", "breastgate.density", "1.0.0", [*INPUTS, "1.2.3.4.4"]),
    ],
)
def test_any_difference_changes_the_uid(kind: str, algorithm: str, version: str, inputs: list[str]) -> None:
    base = derive_uid("cad-sr", "breastgate.density", "1.0.0", INPUTS)
    assert derive_uid(kind, algorithm, version, inputs) != base


def test_empty_kind_is_rejected() -> None:
    with pytest.raises(EncodingError):
        derive_uid("", "breastgate.density", "1.0.0", INPUTS)
