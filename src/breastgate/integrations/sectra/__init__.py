"""Sectra (IDS7, UniView, Breast Imaging PACS): URL launch (crypto, access strings, references),
the IDS7 structured-report Data Provider's PropValues, and their configuration."""
