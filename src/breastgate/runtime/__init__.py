"""Composition root: settings, wiring, start and stop of listeners and workers."""
