"""The linking rules, as a pure function of the link evidence of one connected component.

Rule ("most recent evidence wins"): replay identity pairs newest evidence first (ties by the
pair's keys) and join the two clusters unless that would put two identities of one unique
namespace in a cluster, or grow it past the size limit; such a pair is refused. Because the
result depends only on the set of evidence, never on arrival or commit order, every writer that
recomputes a component gets the same clusters. docs/identity.md has worked examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

ACTIVE = "active"
REFUSED = "refused"


@dataclass(frozen=True)
class PairEvidence:
    """All usable evidence between two identities (a < b): its newest time is what counts."""

    a: str
    b: str
    last_seen: int


@dataclass(frozen=True)
class Decision:
    status: str  # ACTIVE or REFUSED
    reason: str | None = None


@dataclass
class Clustering:
    clusters: list[frozenset[str]]
    decisions: dict[tuple[str, str], Decision]


@dataclass
class _Cluster:
    members: set[str]
    unique_holders: dict[str, str] = field(default_factory=dict)  # unique namespace -> key


def namespace_of(key: str) -> str:
    return key.split(":", 1)[0]


def cluster_component(
    identities: Iterable[str],
    pairs: Iterable[PairEvidence],
    is_unique: Callable[[str], bool],
    max_size: int,
) -> Clustering:
    """Split one component into clusters under the linking rules."""
    owner: dict[str, _Cluster] = {}
    for key in identities:
        cluster = _Cluster({key})
        if is_unique(namespace_of(key)):
            cluster.unique_holders[namespace_of(key)] = key
        owner[key] = cluster
    decisions: dict[tuple[str, str], Decision] = {}
    for pair in sorted(pairs, key=lambda p: (-p.last_seen, p.a, p.b)):
        decisions[(pair.a, pair.b)] = _join(owner, pair, max_size)
    unique_clusters = {id(c): c for c in owner.values()}.values()
    clusters = sorted((frozenset(c.members) for c in unique_clusters), key=lambda c: min(c))
    return Clustering(clusters, decisions)


def _join(owner: dict[str, _Cluster], pair: PairEvidence, max_size: int) -> Decision:
    left, right = owner[pair.a], owner[pair.b]
    if left is right:
        return Decision(ACTIVE)
    for namespace, key in left.unique_holders.items():
        other = right.unique_holders.get(namespace)
        if other is not None and other != key:
            return Decision(REFUSED, f"unique namespace {namespace}: {key} and {other}")
    if len(left.members) + len(right.members) > max_size:
        return Decision(REFUSED, "cluster size limit")
    small, big = sorted((left, right), key=lambda c: len(c.members))
    big.members |= small.members
    big.unique_holders.update(small.unique_holders)
    for key in small.members:
        owner[key] = big
    return Decision(ACTIVE)
