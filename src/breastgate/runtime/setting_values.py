"""Typed values of the list settings, parsed from the text operators write (DESIGN §4).

A list setting is written the same way in the environment and in ``breastgate.toml``: one string
of comma-separated entries (``BG_PACS="A@h1:104, B@h2:104"``, ``pacs = "A@h1:104"``); the TOML file
may also give a list of strings, one entry each (``pacs = ["A@h1:104", "B@h2:104"]``). Each alias
below is a type, plus ``NoDecode`` (pydantic-settings hands the environment's text to the parser
instead of JSON-decoding it), plus a ``BeforeValidator`` that parses the text or list, plus a
``PlainSerializer`` writing the value back as canonical text: ``model_dump()`` is the settings as
an operator would write them (the configuration audit records that) and builds them again.

A parser raises ValueError naming the entry and the expected form, never the setting: the error
line (:mod:`breastgate.runtime.settings_errors`) puts ``BG_NAME:`` in front.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainSerializer
from pydantic_settings import NoDecode

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import DicomNode
from breastgate.domain.outputs import (
    DEFAULT_PACS_OBJECTS,
    HttpEndpoint,
    MllpEndpoint,
    OutputKind,
    SpoolFolder,
    parse_object_switches,
)
from breastgate.routing.retrieve import RetrieveSpec, parse_retrieve, retrieve_text


def entries(value: object, separator: str = ",") -> list[object]:
    """The non-empty entries of ``value``: text split at ``separator``, or a list's items as they are
    (strings stripped; a value already parsed passes through)."""
    if isinstance(value, str):
        items: Iterable[object] = value.split(separator)
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        raise ValueError(f"expected text or a list of strings, got {type(value).__name__}")
    out: list[object] = []
    for item in items:
        if isinstance(item, str):
            if item.strip():
                out.append(item.strip())
        else:
            out.append(item)
    return out


def _texts(value: object) -> list[str]:
    out = []
    for number, item in enumerate(entries(value), start=1):
        if not isinstance(item, str):
            raise ValueError(f"entry {number} is not text but {type(item).__name__}")
        out.append(item)
    return out


def _join(values: Iterable[object]) -> str:
    return ",".join(str(v) for v in values)


def _join_sorted(values: Iterable[object]) -> str:
    return ",".join(sorted(str(v) for v in values))


def _pacs(value: object) -> tuple[DicomNode, ...]:
    out = []
    for item in entries(value):
        if isinstance(item, DicomNode):
            out.append(item)
            continue
        try:
            out.append(DicomNode.parse(str(item)))
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
    return tuple(out)


def _object_switches(value: object) -> dict[str, frozenset[OutputKind]]:
    """``NODE=kinds;NODE=all`` text, a list of ``NODE=kinds`` strings, or a table NODE → kinds."""
    if isinstance(value, Mapping):
        value = [f"{node}={v if isinstance(v, str) else _join(v)}" for node, v in value.items()]
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ValueError(f"expected NODE=kind,kind;NODE=all text, got {type(value).__name__}")
    try:
        return parse_object_switches(value)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


def _objects_text(value: Mapping[str, frozenset[OutputKind]]) -> str:
    """Only the nodes whose kinds differ from the default: adding a node changes nothing here."""
    return ";".join(
        f"{node}={_join_sorted(kinds) or 'none'}"
        for node, kinds in value.items()
        if kinds != DEFAULT_PACS_OBJECTS
    )


def _prior_retrieve(value: object) -> dict[str, RetrieveSpec]:
    """``NODE=move|get|dicomweb:URL`` entries separated by ``;`` (or a list / table of them)."""
    if isinstance(value, Mapping):
        if all(isinstance(v, RetrieveSpec) for v in value.values()):
            return {str(k): v for k, v in value.items() if isinstance(v, RetrieveSpec)}
        value = [f"{node}={v}" for node, v in value.items()]
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ValueError(f"expected NODE=move|get|dicomweb:URL text, got {type(value).__name__}")
    try:
        return parse_retrieve(value)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


def _mllp(value: object) -> tuple[MllpEndpoint, ...]:
    """``mllp://HOST:PORT`` entries (``HOST:PORT`` accepted)."""
    out = []
    for item in entries(value):
        if isinstance(item, MllpEndpoint):
            out.append(item)
            continue
        text = str(item).removeprefix("mllp://")
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not mllp://HOST:PORT: {item!r}")
        out.append(MllpEndpoint(host.strip("[]"), int(port)))
    return tuple(out)


def _folders(value: object) -> tuple[SpoolFolder, ...]:
    """``dir:/absolute/path`` entries."""
    out = []
    for item in entries(value):
        if isinstance(item, SpoolFolder):
            out.append(item)
            continue
        text = str(item)
        if not text.startswith("dir:") or not Path(text[4:]).is_absolute():
            raise ValueError(f"not dir:/absolute/path: {item!r}")
        out.append(SpoolFolder(text[4:]))
    return tuple(out)


def is_http_url(text: str) -> bool:
    """An ``http(s)://HOST[:PORT]/...`` URL with a host and a valid port."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _urls(value: object) -> tuple[HttpEndpoint, ...]:
    """``http(s)://`` URLs; the error names the entry's position, not the URL (it may carry a token)."""
    out = []
    for number, item in enumerate(entries(value), start=1):
        if isinstance(item, HttpEndpoint):
            out.append(item)
            continue
        if not isinstance(item, str) or not is_http_url(item):
            raise ValueError(f"entry {number} is not an http(s) URL with a host")
        out.append(HttpEndpoint(item))
    return tuple(out)


def _base_url(value: object) -> str:
    """One ``http(s)://HOST[:PORT]`` URL, without a trailing slash; empty for none."""
    if not isinstance(value, str):
        raise ValueError(f"expected one http(s) URL, got {type(value).__name__}")
    text = value.strip()
    if "," in text:
        raise ValueError(f"one http(s) URL expected, not a list: {text!r}")
    if text and not is_http_url(text):
        raise ValueError(f"not an http(s) URL with a host: {text!r}")
    return text.rstrip("/")


def _names(value: object) -> frozenset[str]:
    return frozenset(_texts(value))


def _upper_names(value: object) -> frozenset[str]:
    return frozenset(t.upper() for t in _texts(value))


def _ids(value: object) -> tuple[str, ...]:
    return tuple(_texts(value))


#: ``BG_PACS``: ``AE@HOST:PORT`` nodes.
PacsNodes = Annotated[
    tuple[DicomNode, ...], NoDecode, BeforeValidator(_pacs), PlainSerializer(_join, return_type=str)
]
#: ``BG_PACS_OBJECTS``: object kinds per node; as written until Settings resolves the names against
#: ``BG_PACS``, then {str(node): kinds} for every node.
PacsObjects = Annotated[
    dict[str, frozenset[OutputKind]],
    NoDecode,
    BeforeValidator(_object_switches),
    PlainSerializer(_objects_text, return_type=str),
]
#: ``BG_PRIOR_RETRIEVE``: how each PACS node's priors are retrieved, by AE title (default move).
PriorRetrieve = Annotated[
    dict[str, RetrieveSpec],
    NoDecode,
    BeforeValidator(_prior_retrieve),
    PlainSerializer(retrieve_text, return_type=str),
]
#: ``BG_HL7_RESULTS_TO``, ``BG_HL7_PRIORITY_TO``: normalised ``mllp://HOST:PORT``.
MllpDestinations = Annotated[
    tuple[MllpEndpoint, ...], NoDecode, BeforeValidator(_mllp), PlainSerializer(_join, return_type=str)
]
#: ``BG_LETTERS_TO``: ``dir:/absolute/path`` spool folders.
FolderDestinations = Annotated[
    tuple[SpoolFolder, ...], NoDecode, BeforeValidator(_folders), PlainSerializer(_join, return_type=str)
]
#: ``BG_WEBHOOKS``: ``http(s)://`` URLs.
WebhookUrls = Annotated[
    tuple[HttpEndpoint, ...], NoDecode, BeforeValidator(_urls), PlainSerializer(_join, return_type=str)
]
#: ``BG_PUBLIC_URL``: one ``http(s)://HOST[:PORT]`` without a trailing slash, or empty.
BaseUrl = Annotated[str, BeforeValidator(_base_url)]
#: ``BG_ALLOWED_CALLING_AES``: AE titles (empty means open).
AeTitles = Annotated[
    frozenset[str], NoDecode, BeforeValidator(_names), PlainSerializer(_join_sorted, return_type=str)
]
#: ``BG_HL7_PROCESSING_IDS``: MSH-11 processing ids, upper case.
ProcessingIds = Annotated[
    frozenset[str], NoDecode, BeforeValidator(_upper_names), PlainSerializer(_join_sorted, return_type=str)
]
#: ``BG_ALGORITHMS``: algorithm ids in the order given (empty means all).
AlgorithmIds = Annotated[
    tuple[str, ...], NoDecode, BeforeValidator(_ids), PlainSerializer(_join, return_type=str)
]
