"""REST API routes."""
