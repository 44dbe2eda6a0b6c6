"""Adapters for external engines (a third-party DICOM node, ...): algorithms that run elsewhere."""
