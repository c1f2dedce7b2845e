"""Batches for concurrent ingest: items that share an identity go in one batch. Pure.

Batches that run at the same time then never write the same identity, and rarely the same
profile (only when identities of different batches already share one), so they seldom wait
for each other's locks. A group of connected items larger than a batch is split over several
batches that form one unit: they run one after another, never side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

from idgraph.identity.items import Item

Unit = list[list[Item]]  # batches to run in order, one transaction each


def plan_units(items: Sequence[Item], size: int) -> list[Unit]:
    """Units of batches of at most `size` items, groups in order of first appearance."""
    parent: dict[str, str] = {}
    for item in items:
        first, *rest = item.identity_keys
        root = find_root(parent, first)
        for key in rest:
            other = find_root(parent, key)
            if other != root:
                parent[other] = root
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(find_root(parent, item.identity_keys[0]), []).append(item)
    units: list[Unit] = []
    batch: list[Item] = []
    for members in groups.values():
        if len(members) > size:
            units.append([members[i:i + size] for i in range(0, len(members), size)])
            continue
        if len(batch) + len(members) > size:
            units.append([batch])
            batch = []
        batch.extend(members)
    if batch:
        units.append([batch])
    return units


def find_root(parent: dict[str, str], key: str) -> str:
    """Union-find: the root of `key`'s set in `parent` (a new key is its own set)."""
    root = parent.setdefault(key, key)
    while parent[root] != root:
        root = parent[root]
    while parent[key] != root:  # path compression: later finds are one step
        parent[key], key = root, parent[key]
    return root
