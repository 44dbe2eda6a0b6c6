"""Ground truth of an ultrasound phantom image (the ``images[]`` entries of truth.json).

Boxes are inclusive ``[c0, r0, c1, r1]`` frame pixels; points ``[col, row]`` with the origin at the
top-left corner of the top-left pixel (SCOORD). Lesion sizes are the construction's
(:mod:`breastgate.phantoms.us_lesions`); a cine's lesion entries are those of its key frame (the
frame where the lesions' masks are largest).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pydicom

from breastgate.phantoms.us_headers import region_truth
from breastgate.phantoms.us_image import ImagePlan, RenderedImage

__all__ = ["image_truth"]


def _lesion_truth(image: ImagePlan, rendered: RenderedImage, frame: int) -> list[dict[str, Any]]:
    out = []
    for item in rendered.lesions[frame]:
        pl = item.placement
        box = image.regions[pl.region]
        rows, cols = np.nonzero(item.mask)
        horizontal = pl.lesion.width_mm if pl.view == 0 else pl.lesion.elevation_mm
        other = pl.lesion.elevation_mm if pl.view == 0 else pl.lesion.width_mm
        entry = {
            **pl.lesion.truth(),
            "region": pl.region,
            "view": "width" if pl.view == 0 else "elevation",
            "mask_value": pl.mask_value,
            "width_mm": round(horizontal, 2),
            "elevation_mm": round(other, 2),
            "centre_px": [round(pl.centre_px[0] + box[0], 2), round(pl.centre_px[1] + box[1], 2)],
            "bbox_px": [
                int(cols.min()) + box[0],
                int(rows.min()) + box[1],
                int(cols.max()) + box[0],
                int(rows.max()) + box[1],
            ],
            "depth_from_skin_mm": round(pl.centre_px[1] * image.pixel_mm, 2),
            **item.extras,
            "posterior_box_px": None
            if item.posterior_box is None
            else [
                item.posterior_box[0] + box[0],
                item.posterior_box[1] + box[1],
                item.posterior_box[2] + box[0],
                item.posterior_box[3] + box[1],
            ],
        }
        out.append(entry)
    return out


def _cine_truth(image: ImagePlan, rendered: RenderedImage) -> tuple[dict[str, Any], int]:
    per: dict[str, list[int]] = {}
    for k, items in enumerate(rendered.lesions):
        for item in items:
            per.setdefault(item.placement.lesion.id, []).append(k + 1)
    key = 0
    if rendered.lesions and any(rendered.lesions):
        key = max(range(len(rendered.masks)), key=lambda k: int((rendered.masks[k] > 0).sum()))
    lesions = [
        {
            "id": lid,
            "frames_with_lesion": [min(ks), max(ks)],
            "count": len(ks),
            "elevation_from_frames_mm": round(len(ks) * image.frame_step_mm, 2),
            "centre_offset_mm": image.elevation_offsets_mm.get(lid, 0.0),
        }
        for lid, ks in per.items()
    ]
    cine = {
        "frames": image.frames,
        "frame_step_mm": image.frame_step_mm,
        "frame_step_in_dicom": None,
        "frame_time_ms": round(1000.0 / image.parameters["frame_rate"], 1),
        "key_frame": key + 1,
        "lesions": lesions,
    }
    return cine, key


def _location_truth(image: ImagePlan, drawn: str | None) -> dict[str, Any]:
    """Where the image was taken, as far as the image tells (null fields when it does not)."""
    loc, source = image.location, image.location_source
    known = source != "none"
    structured = loc.structured(image.plane_written) if source == "structured" else None
    text = drawn if source == "text" else structured
    return {
        "clock": loc.clock if known else None,
        "distance_from_nipple_mm": float(loc.distance_cm * 10) if known else None,
        "plane": loc.plane if known else None,
        "source": source,
        "text": text,
        "lateral_medial": loc.lateral_medial() if known else None,
        "quadrant": loc.quadrant() if known else None,
        "scanned": {
            "clock": loc.clock,
            "distance_from_nipple_mm": float(loc.distance_cm * 10),
            "plane": loc.plane,
        },
    }


def _imaging_truth(image: ImagePlan) -> dict[str, Any]:
    tissue = image.tissues[0]
    return {
        **image.acoustics.truth(),
        "layers_mm": {
            "skin": round(tissue.skin_mm, 2),
            "subcutaneous_fat": round(tissue.fat_mm, 2),
            "fibroglandular": round(tissue.gland_mm, 2),
            "retromammary_fat": round(tissue.retro_mm, 2),
            "pectoralis": round(tissue.pect_mm, 2),
        },
    }


def image_truth(image: ImagePlan, rendered: RenderedImage, ds: pydicom.Dataset, file: str) -> dict[str, Any]:
    """The truth.json entry of one rendered image written as ``ds`` to ``file``."""
    sop = str(ds.SOPInstanceUID)
    loc = image.location
    regions = [
        region_truth(item, i, image.planes[i] if i < len(image.planes) else None)
        for i, item in enumerate(ds.SequenceOfUltrasoundRegions)
    ]
    cine, key = _cine_truth(image, rendered) if image.frames > 1 else (None, 0)
    masks = (
        [f"mask_{sop}_f{k + 1:03d}.png" for k in range(image.frames)]
        if image.frames > 1
        else [f"mask_{sop}.png"]
    )
    truth: dict[str, Any] = {
        "sop_instance_uid": sop,
        "file": file,
        "sop_class_uid": str(ds.SOPClassUID),
        "frames": image.frames,
        "photometric": str(ds.PhotometricInterpretation),
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "laterality": loc.laterality,
        "style": image.style.name,
        "regions": regions,
        "location": _location_truth(image, rendered.text),
        "annotations": rendered.annotations,
        "overlays": rendered.overlays,
        "lesions": _lesion_truth(image, rendered, key),
        "distractors": rendered.ribs,
        "masks": masks,
        "imaging": _imaging_truth(image),
    }
    if cine is not None:
        truth["cine"] = cine
        truth["key_frame"] = cine["key_frame"]
    return truth
