"""What :meth:`~breastgate.results.gsps.GrayscaleSoftcopyPresentationState.from_dataset` returns
(for a GSPS or a Color Softcopy Presentation State alike): the referenced images, layers,
graphics, texts and windows of a presentation state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = ["DecodedGSPS", "DecodedGraphic", "DecodedText", "image_refs"]


class DecodedGraphic(NamedTuple):
    """One graphic object of a GSPS: the image (and frame) it is drawn on, its layer and points."""

    sop_instance_uid: str
    frame: int | None
    layer: str
    points: list[tuple[float, float]]


class DecodedText(NamedTuple):
    """One text object of a GSPS."""

    sop_instance_uid: str
    frame: int | None
    layer: str
    text: str


@dataclass(frozen=True)
class DecodedGSPS:
    """What :meth:`GrayscaleSoftcopyPresentationState.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    content_label: str
    content_description: str
    referenced: tuple[tuple[str, int | None], ...]
    layers: dict[str, tuple[int, list[int] | None]]
    graphics: tuple[DecodedGraphic, ...]
    graphic_types: tuple[str, ...]
    texts: tuple[DecodedText, ...]
    windows: dict[str, tuple[float, float]]


def image_refs(items: Sequence[Dataset]) -> list[tuple[str, int | None]]:
    """(SOP Instance UID, frame) of each image reference, one per frame (None: the whole image)."""
    out: list[tuple[str, int | None]] = []
    for ref in items:
        uid = str(ref.get("ReferencedSOPInstanceUID", ""))
        frames = ref.get("ReferencedFrameNumber")
        if frames is None or frames == "":
            out.append((uid, None))
        elif isinstance(frames, (MultiValue, list, tuple)):
            out.extend((uid, int(f)) for f in frames)
        else:
            out.append((uid, int(frames)))
    return out
