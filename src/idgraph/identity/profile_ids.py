"""Stable profile ids across re-clustering: a pure function of old and new memberships.

Each new cluster keeps the old id held by most of its members (ties: the older profile, then the
smaller id); an old id that no cluster keeps is retired as an alias of the cluster that took most
of its members; clusters left without an id get a fresh one (a split, or a new profile).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class IdPlan:
    cluster_ids: list[str]  # profile id of each new cluster, same order as the clusters
    retired: dict[str, str] = field(default_factory=dict)  # old id -> id it now resolves to
    created: dict[str, list[str]] = field(default_factory=dict)  # new id -> old ids it split from


def plan_profile_ids(
    clusters: Sequence[frozenset[str]],
    old_profile: dict[str, str],
    created_at: dict[str, int],
    new_id: Callable[[], str],
) -> IdPlan:
    counts = [Counter(old_profile[k] for k in c if k in old_profile) for c in clusters]
    claims = sorted(
        ((-n, created_at.get(pid, 0), pid, idx) for idx, cnt in enumerate(counts)
         for pid, n in cnt.items()),
    )
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for _, _, pid, idx in claims:
        if idx not in chosen and pid not in taken:
            chosen[idx] = pid
            taken.add(pid)
    plan = IdPlan(cluster_ids=[])
    for idx, cnt in enumerate(counts):
        if idx not in chosen:
            chosen[idx] = new_id()
            plan.created[chosen[idx]] = sorted(cnt)
        plan.cluster_ids.append(chosen[idx])
    for pid in sorted({p for cnt in counts for p in cnt} - taken):
        best = max(range(len(clusters)), key=lambda i: (counts[i][pid], -i))
        plan.retired[pid] = chosen[best]
    return plan
