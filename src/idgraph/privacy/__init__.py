"""Privacy: suppression of deleted identities (salted hashes, never values)."""
