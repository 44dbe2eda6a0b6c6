"""Imaging: pixel loading (every transfer syntax pydicom decodes) and breast geometry.

May import :mod:`breastgate.domain` only (DESIGN §2).
"""

from breastgate.imaging.errors import ImagingError, PixelDecodeError
from breastgate.imaging.frames import FrameInfo, frame_info, iter_frames
from breastgate.imaging.pixels import (
    MammoImage,
    density_eligibility,
    load_mammogram,
    read_header,
)

__all__ = [
    "FrameInfo",
    "ImagingError",
    "MammoImage",
    "PixelDecodeError",
    "density_eligibility",
    "frame_info",
    "iter_frames",
    "load_mammogram",
    "read_header",
]
