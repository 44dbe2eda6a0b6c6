"""Pure domain types shared by every package (stdlib only)."""
