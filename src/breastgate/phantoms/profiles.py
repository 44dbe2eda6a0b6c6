"""Vendor profiles and density bands for synthetic mammography phantoms.

The profiles are fictitious detectors shaped like real ones (algorithms.md §6.3): a 70 µm
direct-conversion detector and a 100 µm indirect-conversion detector. Their tomosynthesis
geometries span the usual range of scan arcs (±12.5° with 15 projections, ±25° with 25
projections; algorithms.md §6.1, §6.3), reconstructed at 0.1 mm pixels and 1 mm slices.
Manufacturer strings never name a real vendor.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORIES", "DENSITY_BANDS", "VENDOR_PROFILES", "VendorProfile"]


@dataclass(frozen=True)
class VendorProfile:
    """A fictitious FFDM detector and its DICOM header flavour (PS3.3 C.8.11.4 DX Detector)."""

    name: str
    manufacturer: str
    model_name: str
    rows: int
    columns: int
    pixel_spacing_mm: float
    bits_stored: int
    window_center: float
    window_width: float
    detector_type: str  # PS3.3 C.8.11.4: DIRECT, SCINTILLATOR, STORAGE, FILM
    detector_id: str
    software_version: str
    anode: str  # Anode Target Material (0018,1191)
    filter: str  # Filter Material (0018,7050)
    kvp: float
    noise_shift: int  # right shift of a random byte: noise amplitude in stored values
    #: Tomosynthesis: reconstruction pixel (mm), half of the scan arc (degrees), projections.
    dbt_pixel_mm: float = 0.1
    dbt_half_angle_deg: float = 12.5
    dbt_projections: int = 15

    @property
    def max_value(self) -> int:
        """Largest stored pixel value."""
        return int(2**self.bits_stored - 1)


VENDOR_PROFILES: dict[str, VendorProfile] = {
    "profile-a-70um": VendorProfile(
        name="profile-a-70um",
        manufacturer="breastgate phantom",
        model_name="Profile A 70um",
        rows=3328,
        columns=2560,
        pixel_spacing_mm=0.07,
        bits_stored=12,
        window_center=2200.0,
        window_width=2600.0,
        detector_type="DIRECT",
        detector_id="PHA-A-0001",
        software_version="phantom-a 1.0",
        anode="TUNGSTEN",
        filter="RHODIUM",
        kvp=29.0,
        noise_shift=2,
        dbt_pixel_mm=0.1,
        dbt_half_angle_deg=12.5,
        dbt_projections=15,
    ),
    "profile-b-100um": VendorProfile(
        name="profile-b-100um",
        manufacturer="breastgate phantom",
        model_name="Profile B 100um",
        rows=3062,
        columns=2394,
        pixel_spacing_mm=0.1,
        bits_stored=14,
        window_center=8900.0,
        window_width=10500.0,
        detector_type="SCINTILLATOR",
        detector_id="PHA-B-0001",
        software_version="phantom-b 2.1",
        anode="MOLYBDENUM",
        filter="MOLYBDENUM",
        kvp=28.0,
        noise_shift=0,
        dbt_pixel_mm=0.1,
        dbt_half_angle_deg=25.0,
        dbt_projections=25,
    ),
}

CATEGORIES: tuple[str, ...] = ("a", "b", "c", "d")

# True area percent density sampled per BI-RADS category, with margins from the thresholds
# a < 10 <= b < 33 <= c < 65 <= d used by the density algorithm (algorithms.md §1.2).
DENSITY_BANDS: dict[str, tuple[float, float]] = {
    "a": (2.0, 7.0),
    "b": (14.0, 28.0),
    "c": (40.0, 58.0),
    "d": (72.0, 88.0),
}
