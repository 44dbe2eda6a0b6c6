"""What leaves breastgate and where it goes: output object kinds, sender kinds and typed endpoints.

An :class:`OutputKind` names a result object for storage, governance and delivery; a
:class:`SenderKind` names the outbox sender that delivers a file (the outbox row's ``kind``); an
endpoint is a destination parsed once, where it is configured, into a typed value whose ``str()``
is its canonical text (the outbox row's ``destination``): :class:`~breastgate.domain.model.DicomNode`
``AE@HOST:PORT``, :class:`MllpEndpoint` ``mllp://HOST:PORT``, :class:`HttpEndpoint` ``https://…``
and :class:`SpoolFolder` ``dir:/absolute/path``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath
from urllib.parse import urlsplit

from breastgate.domain.errors import InvalidDestinationError, InvalidInputError
from breastgate.domain.model import DicomNode


class OutputKind(StrEnum):
    """A result object breastgate writes (DESIGN §4 "DICOM out": series 9901-9910)."""

    CAD_SR = "cad-sr"  # Mammography CAD SR, TID 4000 (9901)
    GSPS = "gsps"  # Grayscale Softcopy Presentation State overlays (9902)
    SC = "sc"  # secondary-capture study summary (9903)
    REPORT_SR = "report-sr"  # Breast Imaging Report SR draft, TID 4200 (9904; kept, never sent)
    KOS = "kos"  # Key Object Selection of the key images (9905)
    TID1500 = "tid1500"  # TID 1500 measurement report (9906)
    KINETIC_MAP = "kinetic-map"  # DCE-MRI colour kinetic map fused on the first post-contrast phase (9907)
    SEG = "seg"  # lesion segmentations, DICOM Segmentation (9908)
    PARAMETRIC_MAP = "pmap"  # DCE-MRI kinetic class / enhancement as a Parametric Map (9909)
    CSPS = "csps"  # Color Softcopy Presentation State overlays on colour images (9910)


class SenderKind(StrEnum):
    """The outbox sender that delivers a file (the outbox row's ``kind``)."""

    DICOM = "dicom"  # C-STORE to a DICOM node
    HL7 = "hl7"  # HL7 v2 over MLLP
    LETTER = "letter"  # a file into a spool folder
    WEBHOOK = "webhook"  # a signed JSON POST


#: DICOM result object kinds a PACS node may receive (``BG_PACS_OBJECTS``): Mammography CAD SR,
#: GSPS overlays (and their colour counterpart, CSPS), the summary Secondary Capture, Key Object
#: Selection, TID 1500 measurement report, the DCE-MRI objects.
PACS_OBJECT_KINDS: tuple[OutputKind, ...] = (
    OutputKind.CAD_SR,
    OutputKind.GSPS,
    OutputKind.CSPS,
    OutputKind.SC,
    OutputKind.KOS,
    OutputKind.TID1500,
    OutputKind.KINETIC_MAP,
    OutputKind.SEG,
    OutputKind.PARAMETRIC_MAP,
)
#: What a node receives when ``BG_PACS_OBJECTS`` does not name it (TID 1500 only on request; the
#: DCE-MRI objects exist only for MRI studies).
DEFAULT_PACS_OBJECTS: frozenset[OutputKind] = frozenset(
    {
        OutputKind.CAD_SR,
        OutputKind.GSPS,
        OutputKind.CSPS,
        OutputKind.SC,
        OutputKind.KOS,
        OutputKind.KINETIC_MAP,
        OutputKind.SEG,
        OutputKind.PARAMETRIC_MAP,
    }
)


def parse_object_switches(text: str) -> dict[str, frozenset[OutputKind]]:
    """``NODE=kind,kind;NODE=all`` → {NODE: kinds}, NODE as written (an AE title or
    ``AE@HOST:PORT``, resolved by :func:`pacs_objects_for`); ``all`` is every kind, ``none`` (or
    nothing) no kind. A later entry for the same NODE wins. A malformed entry or an unknown kind
    raises InvalidInputError."""
    out: dict[str, frozenset[OutputKind]] = {}
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        name, sep, kinds_text = entry.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"{entry!r}: not NODE=kinds (NODE an AE title or AE@HOST:PORT)")
        kinds: set[OutputKind] = set()
        for kind in (k.strip().lower() for k in kinds_text.split(",") if k.strip()):
            if kind == "all":
                kinds.update(PACS_OBJECT_KINDS)
            elif kind == "none":
                continue
            elif kind in PACS_OBJECT_KINDS:
                kinds.add(OutputKind(kind))
            else:
                expected = ", ".join(PACS_OBJECT_KINDS)
                raise InvalidInputError(f"{entry!r}: unknown object kind {kind!r} ({expected}, all, none)")
        out.pop(name.strip(), None)  # the later entry wins, in its own place
        out[name.strip()] = frozenset(kinds)
    return out


def pacs_objects_for(
    switches: Mapping[str, frozenset[OutputKind]], nodes: Sequence[DicomNode]
) -> dict[str, frozenset[OutputKind]]:
    """{str(node): kinds} for every node of ``nodes``: the kinds ``switches`` gives it (by its AE
    title or as ``AE@HOST:PORT``, later switches winning), else :data:`DEFAULT_PACS_OBJECTS`. A switch
    naming no node raises InvalidInputError."""
    out = {str(n): DEFAULT_PACS_OBJECTS for n in nodes}
    for name, kinds in switches.items():
        matches = [n for n in nodes if name in (n.ae_title, str(n))]
        if not matches:
            known = ", ".join(n.ae_title for n in nodes) or "none configured"
            raise InvalidInputError(f"{name!r} is not a BG_PACS node ({known})")
        for node in matches:
            out[str(node)] = kinds
    return out


def parse_pacs_objects(text: str, nodes: Sequence[DicomNode]) -> dict[str, frozenset[OutputKind]]:
    """``NODE=kind,kind;NODE=all`` → {str(node): kinds} for every node of ``nodes``
    (:func:`parse_object_switches`, then :func:`pacs_objects_for`). Nodes not named get
    :data:`DEFAULT_PACS_OBJECTS`. An unknown node or kind raises InvalidInputError."""
    return pacs_objects_for(parse_object_switches(text), nodes)


@dataclass(frozen=True)
class MllpEndpoint:
    """An HL7 receiver ``mllp://HOST:PORT`` (``HOST:PORT`` accepted; IPv6 hosts bracketed)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> MllpEndpoint:
        raw = text.strip()
        rest = raw[len("mllp://") :] if raw.startswith("mllp://") else raw
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidDestinationError(f"not an MLLP destination mllp://HOST:PORT: {text!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mllp://{host}:{self.port}"


@dataclass(frozen=True)
class HttpEndpoint:
    """An http(s) receiver (a webhook). The URL may carry a token: :attr:`redacted` for logs."""

    url: str

    @classmethod
    def parse(cls, text: str) -> HttpEndpoint:
        url = text.strip()
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            ok = False
        if not ok:
            raise InvalidDestinationError("not an http(s) URL with a host")  # never echo the URL
        return cls(url)

    @property
    def redacted(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"HttpEndpoint({self.redacted!r})"


@dataclass(frozen=True)
class SpoolFolder:
    """A folder a site's print or mail service reads, ``dir:/absolute/path``."""

    path: str

    @classmethod
    def parse(cls, text: str) -> SpoolFolder:
        raw = text.strip()
        if not raw.startswith("dir:") or not PurePath(raw[4:]).is_absolute():
            raise InvalidDestinationError(f"not a folder destination dir:/absolute/path: {text!r}")
        return cls(raw[4:])

    def __str__(self) -> str:
        return f"dir:{self.path}"


Endpoint = DicomNode | MllpEndpoint | HttpEndpoint | SpoolFolder

_ENDPOINTS: dict[SenderKind, type[MllpEndpoint] | type[HttpEndpoint] | type[SpoolFolder]] = {
    SenderKind.HL7: MllpEndpoint,
    SenderKind.WEBHOOK: HttpEndpoint,
    SenderKind.LETTER: SpoolFolder,
}


def parse_endpoint(kind: SenderKind, text: str) -> Endpoint:
    """The endpoint a sender of ``kind`` delivers to, from its canonical text."""
    if kind is SenderKind.DICOM:
        try:
            return DicomNode.parse(text)
        except InvalidInputError as exc:
            raise InvalidDestinationError(str(exc)) from None
    return _ENDPOINTS[kind].parse(text)
