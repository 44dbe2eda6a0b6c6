"""Algorithms: the Algorithm protocol, the registry and the built-ins."""
