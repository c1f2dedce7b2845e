"""Saved Cypher explorations for analysts: files under cypher/queries/, run read-only."""
