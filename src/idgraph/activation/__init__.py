"""Activation: destinations (files by fsspec URL, HTTP endpoints), activations of segments,
and export runs (full or incremental, resumable), for partners and for reporting."""
