"""breastgate: a vendor-neutral gateway between PACS/RIS and breast imaging AI."""

__version__ = "0.1.0"
