"""Data in: DICOM storage SCP, header indexing, study assembly."""
