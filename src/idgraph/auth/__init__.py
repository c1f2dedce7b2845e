"""API keys: hashed storage, roles, and the per-request authentication decision."""
