"""Routing: declarative rules that pick the algorithms for a stable study."""
