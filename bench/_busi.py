"""Read a BUSI-layout folder (``labels.csv``: image, label, masks) for the ultrasound benchmarks.

Images are RGB screen crops; they are converted to gray (mean of the channels) and their coloured
pixels (colour marks, Doppler) marked invalid, as the DICOM reader does for a real region. Burned-in
white text and calipers are left in (the reader masks them from the overlay planes or OCR, which a
PNG does not carry), so the figures here are, if anything, pessimistic for them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

#: A pixel whose channels differ by more than this is a colour mark, not B-mode.
COLOUR_SPREAD = 40


@dataclass(frozen=True)
class BusiCase:
    """One image: its name, label, gray pixels, valid mask and the true lesion masks."""

    name: str
    label: str
    gray: np.ndarray
    valid: np.ndarray
    truths: tuple[np.ndarray, ...]


def cases(folder: Path) -> list[tuple[str, str, list[str]]]:
    """(image, label, masks) rows of ``labels.csv``, in file order."""
    with (folder / "labels.csv").open(newline="") as handle:
        return [
            (row["image"], row["label"], [m for m in row["masks"].split(";") if m])
            for row in csv.DictReader(handle)
        ]


def load(folder: Path, image: str, label: str, masks: list[str]) -> BusiCase:
    """One case read from disk; empty truth masks (normals) are dropped."""
    rgb = np.asarray(Image.open(folder / image).convert("RGB"), dtype=np.float64)
    gray = rgb.mean(axis=2)
    colour = (rgb.max(axis=2) - rgb.min(axis=2)) > COLOUR_SPREAD
    valid = ~ndi.binary_dilation(colour, iterations=2)
    truths = []
    for name in masks:
        m = np.asarray(Image.open(folder / name).convert("L")) > 127
        if m.shape != gray.shape:
            continue
        labels, n = ndi.label(m)
        # A mask file may hold more than one lesion: each connected part is a lesion.
        for index in range(1, n + 1):
            part = labels == index
            if part.sum() >= 20:
                truths.append(part)
    return BusiCase(image, label, gray, valid, tuple(truths))


def thumbnail(gray: np.ndarray, size: int = 24) -> np.ndarray:
    """A small, contrast-normalised copy used to find near-duplicate images."""
    rows = np.linspace(0, gray.shape[0], size + 1).astype(int)
    cols = np.linspace(0, gray.shape[1], size + 1).astype(int)
    small = np.add.reduceat(np.add.reduceat(gray, rows[:-1], axis=0), cols[:-1], axis=1)
    small = small - small.mean()
    return small / (np.linalg.norm(small) + 1e-9)
