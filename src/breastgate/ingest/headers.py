"""Header reading moved to :mod:`breastgate.store.headers` (shared with the prior retrievals);
the names stay importable from here."""

from breastgate.store.headers import (
    FOR_PRESENTATION_SOP_CLASSES,
    FOR_PROCESSING_SOP_CLASSES,
    VIEW_CODES,
    VIEW_POSITIONS,
    HeaderInfo,
    IncompleteObjectError,
    age_in_years,
    header_from_dataset,
    laterality_from_dataset,
    presentation_intent_from_dataset,
    read_header,
    view_from_dataset,
)

__all__ = [
    "FOR_PRESENTATION_SOP_CLASSES",
    "FOR_PROCESSING_SOP_CLASSES",
    "VIEW_CODES",
    "VIEW_POSITIONS",
    "HeaderInfo",
    "IncompleteObjectError",
    "age_in_years",
    "header_from_dataset",
    "laterality_from_dataset",
    "presentation_intent_from_dataset",
    "read_header",
    "view_from_dataset",
]
