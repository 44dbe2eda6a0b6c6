"""SR content (PS3.3 C.17.3): coded concepts, writing with highdicom's content items, and reading.

Writing: the SR encoders build their trees from highdicom content items; the helpers here
(:func:`code_item`, :func:`num_item`, :func:`container_item` ...) take breastgate's :class:`Code`.
highdicom has no by-reference content item: :class:`ContentReference` is ours, and
:func:`number_references` gives each the position of its target (Referenced Content Item
Identifier (0040,DB73)) once the tree is whole. :func:`plain_numbers` keeps Numeric Values in the
DS text breastgate has always written.

Reading: :func:`decode_content` reads any SR tree into :class:`Node` items, tolerantly, resolving
by-reference links to their targets; the decoders of every SR breastgate writes or reads use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from highdicom.sr import (
    CodeContentItem,
    CodedConcept,
    ContainerContentItem,
    ContentItem,
    ContentSequence,
    NumContentItem,
    RelationshipTypeValues,
    ScoordContentItem,
    TextContentItem,
)
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError

LOGGER = logging.getLogger(__name__)


class Code(NamedTuple):
    """A coded concept: (Code Value, Coding Scheme Designator, Code Meaning)."""

    value: str
    scheme: str
    meaning: str

    def same(self, other: Code | None) -> bool:
        """Compare by value and scheme only (meanings vary between editions)."""
        return other is not None and (self.value, self.scheme) == (other.value, other.scheme)

    def coded(self) -> CodedConcept:
        """As a highdicom coded concept, for its content items (PS3.3 Table 8.8-1)."""
        return CodedConcept(self.value, self.scheme, self.meaning)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Code:
        """Decode a Code Sequence item (Long/URN Code Value tolerated)."""
        value = ds.get("CodeValue") or ds.get("LongCodeValue") or ds.get("URNCodeValue") or ""
        return cls(str(value), str(ds.get("CodingSchemeDesignator", "")), str(ds.get("CodeMeaning", "")))


@dataclass(eq=False)
class Node:
    """One content item as read. ``ref`` set means a by-reference relationship to that node."""

    vt: str
    rel: str | None = None
    concept: Code | None = None
    code: Code | None = None
    #: TEXT value, or the UID of a UIDREF item
    text: str | None = None
    num: float | None = None
    units: Code | None = None
    sop: tuple[str, str] | None = None
    #: Referenced Frame Number (0008,1160) of an IMAGE item (1-based; multi-frame images such as DBT)
    frames: tuple[int, ...] = ()
    graphic: tuple[str, tuple[float, ...]] | None = None
    ref: Node | None = None
    template: str | None = None
    children: list[Node] = field(default_factory=list)

    def find(self, concept: Code, vt: str | None = None) -> list[Node]:
        """Direct children with this concept name (and value type)."""
        return [
            c
            for c in self.children
            if concept.same(c.concept) and (vt is None or c.vt == vt) and c.ref is None
        ]

    def first(self, concept: Code, vt: str | None = None) -> Node | None:
        """First direct child with this concept name, or None."""
        found = self.find(concept, vt)
        return found[0] if found else None

    def walk(self) -> Iterator[Node]:
        """This node and every descendant, depth first."""
        yield self
        for c in self.children:
            yield from c.walk()


def code_item(concept: Code, value: Code, rel: str | None) -> CodeContentItem:
    """A CODE content item (PS3.3 C.17.3.2.1) built by highdicom."""
    return CodeContentItem(concept.coded(), value.coded(), rel)


def text_item(concept: Code, text: str, rel: str | None) -> TextContentItem:
    """A TEXT content item built by highdicom."""
    return TextContentItem(concept.coded(), text, rel)


def number(value: float) -> int | float:
    """A NUM value for highdicom: a whole number as an integer (highdicom adds a Floating Point
    Value (0040,A161) to every float; PS3.3 Table C.18.1-1 needs none for a whole number)."""
    value = float(value)
    return int(value) if value.is_integer() else value


def plain_numbers(item: Dataset) -> None:
    """Write every Numeric Value in ``item``'s tree as the shortest DS that holds it (``"36"``), as
    breastgate's SRs always have; highdicom writes Python's float text (``"36.0"``)."""
    for measured in item.get("MeasuredValueSequence", []):
        measured.NumericValue = _format_ds(float(measured.NumericValue))
    for child in item.get("ContentSequence", []):
        plain_numbers(child)


def num_item(concept: Code, value: float, units: Code, rel: str | None) -> NumContentItem:
    """A NUM content item built by highdicom (value as :func:`number`)."""
    return NumContentItem(concept.coded(), number(value), units.coded(), relationship_type=rel)


def container_item(
    concept: Code, rel: str | None, children: Iterable[ContentItem] = (), template: str | None = None
) -> ContainerContentItem:
    """A CONTAINER content item (continuity SEPARATE) holding ``children``, built by highdicom."""
    item = ContainerContentItem(concept.coded(), False, template, rel)
    add(item, *children)
    return item


def add(parent: ContentItem, *children: ContentItem) -> None:
    """Append ``children`` to ``parent``'s Content Sequence (created when absent)."""
    if not children:
        return
    if "ContentSequence" not in parent:
        parent.ContentSequence = ContentSequence()
    for child in children:
        parent.ContentSequence.append(child)


def scoord_item(concept: Code, graphic_type: str, values: Sequence[float], rel: str) -> ScoordContentItem:
    """A SCOORD content item (PS3.3 C.18.6) built by highdicom from flat (column, row) values."""
    points = np.array(values, dtype=float).reshape(-1, 2)
    return ScoordContentItem(concept.coded(), graphic_type, points, relationship_type=rel)


class ContentReference(ContentItem):
    """A by-reference relationship to ``target`` (PS3.3 C.17.3.2.4): Relationship Type and, once
    :func:`number_references` has run on the tree, Referenced Content Item Identifier (0040,DB73).

    Ours because highdicom (0.28) has none: its content items all carry a value type and a concept
    name, and its SR documents re-parse their content tree, refusing an item without them. The
    Mammography CAD SR needs these links (TID 4021 R-SELECTED FROM, TID 4015-4018 R-HAS PROPERTIES,
    density R-INFERRED FROM), so it is written without highdicom's SR document class.
    """

    def __init__(self, relationship_type: str, target: ContentItem) -> None:
        Dataset.__init__(self)  # no value type and no concept name: not ContentItem.__init__
        self.RelationshipType = RelationshipTypeValues(relationship_type).value
        self._target = target

    @property
    def target(self) -> ContentItem:
        """The content item this one refers to."""
        return self._target

    @property
    def name(self) -> CodedConcept:
        """The target's concept name (highdicom's Content Sequence indexes its items by name)."""
        return self._target.name


def number_references(root: ContentItem) -> None:
    """Give every :class:`ContentReference` below ``root`` the 1-based position list of its
    target, counted from the root (PS3.3 C.17.3.2.5)."""
    positions: dict[int, list[int]] = {}
    references: list[ContentReference] = []

    def visit(item: Dataset, position: list[int]) -> None:
        positions[id(item)] = position
        if isinstance(item, ContentReference):
            references.append(item)
        for index, child in enumerate(item.get("ContentSequence", []), start=1):
            visit(child, [*position, index])

    visit(root, [1])
    for reference in references:
        if id(reference.target) not in positions:
            raise EncodingError("by-reference target is not in the content tree")
        reference.add_new("ReferencedContentItemIdentifier", "UL", positions[id(reference.target)])


def _format_ds(value: float) -> str:
    """The most precise DS string of at most 16 characters (PS3.5 6.2)."""
    for digits in range(15, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    raise EncodingError(f"numeric value {value!r} does not fit DS")


def _decode_item(ds: Dataset, rel: str | None) -> Node:
    vt = str(ds.get("ValueType", ""))
    concept_seq = ds.get("ConceptNameCodeSequence")
    node = Node(vt=vt, rel=rel, concept=Code.from_dataset(concept_seq[0]) if concept_seq else None)
    if vt == "CODE" and ds.get("ConceptCodeSequence"):
        node.code = Code.from_dataset(ds.ConceptCodeSequence[0])
    elif vt == "TEXT":
        node.text = str(ds.get("TextValue", ""))
    elif vt == "UIDREF":
        node.text = str(ds.get("UID", ""))
    elif vt == "NUM" and ds.get("MeasuredValueSequence"):
        mv = ds.MeasuredValueSequence[0]
        node.num = float(mv.NumericValue)
        if mv.get("MeasurementUnitsCodeSequence"):
            node.units = Code.from_dataset(mv.MeasurementUnitsCodeSequence[0])
    elif vt == "IMAGE" and ds.get("ReferencedSOPSequence"):
        ref = ds.ReferencedSOPSequence[0]
        node.sop = (str(ref.ReferencedSOPClassUID), str(ref.ReferencedSOPInstanceUID))
        frames = ref.get("ReferencedFrameNumber")
        if frames not in (None, ""):
            values = [frames] if isinstance(frames, int | str) else list(frames)
            node.frames = tuple(int(v) for v in values)
    elif vt == "SCOORD" and "GraphicData" in ds:
        node.graphic = (str(ds.get("GraphicType", "")), tuple(float(v) for v in ds.GraphicData))
    elif vt == "DATE":
        node.text = str(ds.get("Date", ""))
    elif vt == "TIME":
        node.text = str(ds.get("Time", ""))
    elif vt == "CONTAINER" and ds.get("ContentTemplateSequence"):
        node.template = str(ds.ContentTemplateSequence[0].get("TemplateIdentifier", "")) or None
    return node


def decode_content(ds: Dataset) -> Node:
    """Read the content tree of an SR dataset; by-reference items get ``ref`` set to their target."""
    pending: list[tuple[Node, tuple[int, ...]]] = []
    by_pos: dict[tuple[int, ...], Node] = {}

    def visit(item: Dataset, rel: str | None, pos: tuple[int, ...]) -> Node:
        if "ReferencedContentItemIdentifier" in item:
            node = Node(vt="REF", rel=rel)
            raw = item.ReferencedContentItemIdentifier
            target = (int(raw),) if isinstance(raw, int) else tuple(int(v) for v in raw)
            pending.append((node, target))
        else:
            node = _decode_item(item, rel)
        by_pos[pos] = node
        for i, child in enumerate(item.get("ContentSequence", []), start=1):
            node.children.append(visit(child, str(child.get("RelationshipType", "")), (*pos, i)))
        return node

    root = visit(ds, None, (1,))
    for node, target in pending:
        found = by_pos.get(target)
        if found is None:
            raise InvalidInputError(f"by-reference content item points at missing item {target}")
        node.ref = found
        node.vt = found.vt
    return root
