"""WADO-RS rendered resources (PS3.18 §8.3.5.1.3): one frame, windowed, as JPEG or PNG."""

from __future__ import annotations

import io
import logging

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels.processing import apply_modality_lut
from pydicom.pixels.utils import pixel_array

from breastgate.domain.errors import InvalidInputError

LOGGER = logging.getLogger(__name__)

RENDERED_TYPES = ("image/jpeg", "image/png")


def _first(value: object) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def parse_window(text: str | None) -> tuple[float, float] | None:
    """``window=center,width[,function]`` of the request."""
    if not text:
        return None
    parts = text.split(",")
    try:
        center, width = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise InvalidInputError("window must be center,width[,function]") from None
    if width <= 0:
        raise InvalidInputError("window width must be positive")
    return center, width


def _window(
    ds: Dataset, values: npt.NDArray[np.float64], asked: tuple[float, float] | None
) -> tuple[float, float]:
    if asked is not None:
        center, width = asked
    else:
        center_v, width_v = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
        if center_v is None or width_v is None or width_v <= 0:
            low, high = np.percentile(values, [0.5, 99.5])
            return float(low), float(max(high, low + 1))
        center, width = center_v, width_v
    return center - width / 2, center + width / 2


def render(
    path: str, frame: int, media_type: str, window: tuple[float, float] | None, quality: int = 90
) -> bytes:
    """Frame ``frame`` (1-based) of the file as an 8-bit image of ``media_type``."""
    ds = dcmread(path, stop_before_pixels=True)
    frames = int(ds.get("NumberOfFrames") or 1)
    if not 1 <= frame <= frames:
        raise InvalidInputError(f"frame {frame} is out of range 1-{frames}")
    array = pixel_array(path, index=frame - 1)
    if int(ds.get("SamplesPerPixel") or 1) == 1:
        values = np.asarray(apply_modality_lut(array, ds), dtype=np.float64)
        low, high = _window(ds, values, window)
        scaled = np.clip((values - low) / max(high - low, 1e-6), 0.0, 1.0) * 255.0
        if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
            scaled = 255.0 - scaled
        image = Image.fromarray(scaled.astype(np.uint8), mode="L")
    else:
        image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    buffer = io.BytesIO()
    if media_type == "image/png":
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=max(1, min(100, quality)))
    return buffer.getvalue()
