"""breastgate's pages: HTML shells served by FastAPI and the static bundle built from ``frontend/``."""
