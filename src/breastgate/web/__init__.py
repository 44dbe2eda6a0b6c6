"""HTTP: the REST API (``api/``); the web UI comes with its own issue."""
