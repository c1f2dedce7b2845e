"""Merged profile views: merge policies, events, computed attributes, deletion, metrics."""
