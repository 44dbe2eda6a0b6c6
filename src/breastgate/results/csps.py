"""Color Softcopy Presentation State Storage (PS3.3 A.33.2, SOP Class 1.2.840.10008.5.1.4.1.1.11.2).

A GSPS presents grayscale images only; AI marks on colour images (an ultrasound capture in RGB or
YBR, a colour-Doppler frame, a PALETTE COLOR image) go in a Color Softcopy Presentation State:
:class:`ColorSoftcopyPresentationState`, the same marks, layers, groups, displayed areas and
placement as :class:`~breastgate.results.gsps.GrayscaleSoftcopyPresentationState` (whose writer it
shares), without the grayscale pipeline (Modality LUT, Softcopy VOI LUT, Presentation LUT, which
the IOD does not have) and with the ICC Profile module (C.11.15, mandatory): the referenced
images' own profile when they all carry the same one, else sRGB (what an image without a profile
is taken to be), with Color Space ``SRGB``. Series 9910, its own UIDs (kind ``csps``).

Not :class:`highdicom.pr.ColorSoftcopyPresentationState` (highdicom 0.28.2), for the reasons the
GSPS module gives for its highdicom class (referenced images of different Rows/Columns refused,
no Referenced Frame Number in the Presentation State Relationship, one Displayed Area for all
images), and: it requires three samples per pixel (PALETTE COLOR images are colour images for
PS3.4 N.2), and its ICC profile lookup never finds a top-level ICC Profile of a referenced image
(it tests the list of images for the attribute), so an ultrasound image's own profile is lost.
"""

from __future__ import annotations

import logging
from functools import cache

from PIL import ImageCms
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.results.gsps import DecodedGSPS, GrayscaleSoftcopyPresentationState, is_colour
from breastgate.results.placement import attach_file_meta

__all__ = [
    "COLOR_SOFTCOPY_PRESENTATION_STATE_STORAGE",
    "DEFAULT_SERIES_NUMBER",
    "ColorSoftcopyPresentationState",
    "DecodedGSPS",
    "srgb_profile",
]

LOGGER = logging.getLogger(__name__)

COLOR_SOFTCOPY_PRESENTATION_STATE_STORAGE = "1.2.840.10008.5.1.4.1.1.11.2"
DEFAULT_SERIES_NUMBER = 9910


@cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS through Pillow), the profile of a colour image without one."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())


def _profile_of(ds: Dataset) -> bytes | None:
    """The ICC Profile of an image: top level, else its single optical path (C.11.15, C.8.12.5)."""
    if "ICCProfile" in ds:
        return bytes(ds.ICCProfile)
    paths = ds.get("OpticalPathSequence") or []
    if len(paths) == 1 and "ICCProfile" in paths[0]:
        return bytes(paths[0].ICCProfile)
    return None


class ColorSoftcopyPresentationState(GrayscaleSoftcopyPresentationState):
    """A CSPS showing the marks of ``findings`` on colour source images (PS3.3 A.33.2).

    Parameters and behaviour as :class:`~breastgate.results.gsps.GrayscaleSoftcopyPresentationState`,
    series number 9910 by default.

    Raises
    ------
    EncodingError
        As the GSPS, and when a marked image is not colour (it takes a GSPS).
    """

    SOP_CLASS_UID = COLOR_SOFTCOPY_PRESENTATION_STATE_STORAGE
    UID_KIND = "csps"
    SERIES_NUMBER = DEFAULT_SERIES_NUMBER

    def _check_sources(self) -> None:
        """A CSPS presents colour images only (PS3.3 A.33.2; PS3.4 N.2)."""
        grey = sorted(uid for uid in self.referenced if not is_colour(self._by_uid[uid]))
        if grey:
            raise EncodingError(
                f"a Color Softcopy Presentation State cannot present grayscale image {grey[0]}: use a GSPS"
            )

    def icc_profile(self) -> tuple[bytes, bool]:
        """The profile written and whether it is the sRGB default (no image gave one)."""
        profiles = {_profile_of(self._by_uid[uid]) for uid in self.referenced}
        if len(profiles) == 1 and (profile := profiles.pop()) is not None:
            return profile, False
        if len(profiles) > 1:
            LOGGER.warning("CSPS: the referenced images carry different ICC profiles; sRGB written")
        return srgb_profile(), True

    def to_dataset(self) -> Dataset:
        """The complete CSPS instance with file meta (Explicit VR Little Endian)."""
        ds = self._presentation_state()
        profile, default = self.icc_profile()
        ds.ICCProfile = profile  # ICC Profile (C.11.15)
        if default:
            ds.ColorSpace = "SRGB"
        attach_file_meta(ds)
        return ds
