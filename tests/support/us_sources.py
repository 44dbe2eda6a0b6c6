"""Ultrasound source images for the presentation-state tests: one grayscale and one colour
phantom image of one study, with a finding drawn on each image's truth lesion."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from breastgate.domain.model import Finding, FindingKind, Mark
from breastgate.phantoms.us import UsLesionRequest, generate_us_study

ALGO, VERSION = "breastgate.ultrasound", "1.0.0"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
STYLE = "caps_clock"  # white text: grayscale unless calipers or Doppler are drawn
LESION = UsLesionRequest(width_mm=14.0, depth_mm=8.0, shape="oval", margin_detail="circumscribed")


def us_images(seed: int = 61) -> tuple[list[Dataset], list[Finding]]:
    """Two phantom US images of one study, the first grayscale, the second RGB (calipers and a
    colour-Doppler box), and one finding per image drawn on its truth lesion."""
    grey = generate_us_study(
        seed, images=1, lesions=[LESION], location="structured", overlays=False, dual=False, style=STYLE
    )
    rgb = generate_us_study(
        seed, images=1, lesions=[LESION], location="structured", overlays=True, dual=False, style=STYLE
    )
    first, second = grey.datasets[0], rgb.datasets[0]
    second.SOPInstanceUID = generate_uid(entropy_srcs=[str(first.SOPInstanceUID), "rgb"])  # another image
    assert str(first.StudyInstanceUID) == str(second.StudyInstanceUID)
    findings = []
    for n, (ds, truth) in enumerate(((first, grey.truth), (second, rgb.truth)), start=1):
        lesion = truth["images"][0]["lesions"][0]
        c0, r0, c1, r1 = (float(v) for v in lesion["bbox_px"])
        outline = ((c0, r0), (c1, r0), (c1, r1), (c0, r1))
        lines = (((c0, (r0 + r1) / 2), (c1, (r0 + r1) / 2)), (((c0 + c1) / 2, r0), ((c0 + c1) / 2, r1)))
        mark = Mark(
            str(ds.SOPInstanceUID),
            tuple(lesion["centre_px"]),
            (c0, r0, c1, r1),
            0.9,
            "R",
            sop_class_uid=US_IMAGE,
            outline=outline,
            lines=lines,
            size_mm=14.0,
        )
        findings.append(Finding(f"us-{n}", FindingKind.US_LESION, "R", 0.9, (mark,), size_mm=14.0))
    return [first, second], findings
