"""BG_PACS_OBJECTS: which result object kinds each PACS node receives."""

from __future__ import annotations

import pytest

from breastgate.domain.errors import ConfigurationError, InvalidInputError
from breastgate.domain.model import DicomNode
from breastgate.domain.outputs import (
    DEFAULT_PACS_OBJECTS,
    PACS_OBJECT_KINDS,
    pacs_objects_for,
    parse_object_switches,
    parse_pacs_objects,
)
from breastgate.runtime.settings import load_settings

NODES = [DicomNode.parse("SECTRA@10.0.0.5:104"), DicomNode.parse("ORTHANC@127.0.0.1:4242")]


def test_unnamed_nodes_get_the_defaults_and_tid1500_only_on_request() -> None:
    kinds = parse_pacs_objects("", NODES)
    assert kinds == {str(n): DEFAULT_PACS_OBJECTS for n in NODES}
    assert "tid1500" not in DEFAULT_PACS_OBJECTS and "cad-sr" in DEFAULT_PACS_OBJECTS


def test_nodes_by_ae_title_or_full_address_with_all_and_none() -> None:
    kinds = parse_pacs_objects(" SECTRA = gsps, KOS ; ORTHANC@127.0.0.1:4242=all", NODES)
    assert kinds["SECTRA@10.0.0.5:104"] == {"gsps", "kos"}
    assert kinds["ORTHANC@127.0.0.1:4242"] == set(PACS_OBJECT_KINDS)
    assert parse_pacs_objects("SECTRA=none", NODES)["SECTRA@10.0.0.5:104"] == frozenset()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PACS=gsps", "'PACS' is not a BG_PACS node (SECTRA, ORTHANC)"),
        ("SECTRA", "'SECTRA': not NODE=kinds"),
        ("=gsps", "'=gsps': not NODE=kinds"),
        ("SECTRA=gsps,overlay", "unknown object kind 'overlay'"),
    ],
)
def test_unknown_node_or_kind_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_pacs_objects(text, NODES)


def test_the_last_switch_of_a_node_wins_whatever_its_name() -> None:
    switches = parse_object_switches("SECTRA=gsps; SECTRA@10.0.0.5:104=sc; SECTRA=kos")
    assert switches == {"SECTRA@10.0.0.5:104": {"sc"}, "SECTRA": {"kos"}}
    assert pacs_objects_for(switches, NODES)["SECTRA@10.0.0.5:104"] == {"kos"}
    assert parse_pacs_objects("SECTRA=", NODES)["SECTRA@10.0.0.5:104"] == frozenset()


def test_settings_refuse_a_bad_switch_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="BG_PACS_OBJECTS"):
        load_settings(pacs="SECTRA@10.0.0.5:104", pacs_objects="SECTRA=srs")
    settings = load_settings(pacs="SECTRA@10.0.0.5:104", pacs_objects="SECTRA=gsps,sc")
    assert settings.pacs_objects == {"SECTRA@10.0.0.5:104": {"gsps", "sc"}}
