"""Shared bits of the benchmarks: percentiles, phantom studies saved as the gateway indexes them."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pydicom

    from breastgate.domain.model import StudyRef


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def save_study(
    datasets: Sequence[pydicom.Dataset],
    folder: Path | str,
    *,
    file_name: Callable[[pydicom.Dataset], str] | None = None,
    views: bool = False,
) -> StudyRef:
    """Write phantom ``datasets`` as Part 10 files under ``folder``; the StudyRef algorithms select from.

    Files are ``0.dcm``, ``1.dcm``... unless ``file_name`` names them. Each InstanceRef carries the
    UIDs, SOP class, modality and number of frames (1 when absent) from the header; with ``views``
    also Image Laterality, View Position and the For Presentation intent, as ingest indexes them.
    A volume's Pixel Data spooled to a temporary file is closed once written.
    """
    from breastgate.domain.model import InstanceRef, PresentationIntent, StudyRef

    refs = []
    for j, ds in enumerate(datasets):
        path = str(Path(folder) / (file_name(ds) if file_name else f"{j}.dcm"))
        ds.save_as(path, enforce_file_format=True)
        element = ds["PixelData"]
        if element.is_buffered:
            element.value.close()
        refs.append(
            InstanceRef(
                str(ds.StudyInstanceUID),
                str(ds.SeriesInstanceUID),
                str(ds.SOPInstanceUID),
                str(ds.SOPClassUID),
                str(ds.Modality),
                path,
                str(ds.ImageLaterality) if views else None,
                str(ds.ViewPosition) if views else None,
                PresentationIntent.FOR_PRESENTATION if views else None,
                number_of_frames=int(ds.get("NumberOfFrames", 1)),
            )
        )
    return StudyRef(refs[0].study_instance_uid, tuple(refs))
