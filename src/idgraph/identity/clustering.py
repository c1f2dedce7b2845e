"""Re-clustering inside a write transaction: read the touched components, apply the linking
rules, write back only what changed (memberships, profiles, link statuses, history)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from idgraph.db.graph import Tx
from idgraph.errors import IdgraphError
from idgraph.identity import repository as q
from idgraph.identity.joining import IDENTITY_NODE, Join, plan_joins
from idgraph.identity.linking import ACTIVE, Clustering, PairEvidence, cluster_component
from idgraph.identity.namespaces import NamespaceRegistry
from idgraph.identity.profile_ids import IdPlan, plan_profile_ids

if TYPE_CHECKING:
    from idgraph.pipeline.changeset import ChangeSet


@dataclass
class ClusterReport:
    """What one re-clustering changed: the answer of a dry run, the history of a real one."""

    created: list[str] = field(default_factory=list)
    merged: list[tuple[str, str]] = field(default_factory=list)  # (merged-away id, survivor)
    split: list[tuple[str, list[str]]] = field(default_factory=list)  # (new id, from ids)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, reason)
    changed_profiles: set[str] = field(default_factory=set)
    # New profiles made only of identities this very transaction created (`recluster`'s
    # `fresh`): id -> (primary identity, members). All their records are the transaction's
    # own, so their views are built from those without reading anything back.
    fresh: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    # Node id of each profile re-clustering created or kept (valid in its transaction only):
    # the views' write finds them without an index seek.
    profile_nodes: dict[str, str] = field(default_factory=dict)
    # (size before, size after) of every profile the write-back wrote: None before for a new
    # profile, 0 after for a retired one. Sizes are the stored `size` (members).
    sizes: list[tuple[int | None, int]] = field(default_factory=list)
    # Profiles that only gained new identities (identity/joining.py), by id: nothing of theirs
    # changed but the members, so their merged data changes only by what the change's records
    # say (the views stage, profile/materialise.py, relies on it).
    joined: dict[str, Joined] = field(default_factory=dict)


@dataclass(frozen=True)
class Joined:
    """A profile new identities joined: its new members, its size after and whether its primary
    identity stayed (a primary outranked by a joining identity changes an unstitched view)."""

    members: frozenset[str]
    size: int
    primary_kept: bool


class SettledRows(NamedTuple):
    """WRITE_CLUSTERS' rows for what was settled without a read (identity/joining.py)."""

    kept: list[dict[str, Any]]  # the joined profiles
    moves: list[dict[str, Any]]  # the identities joining them
    created: list[dict[str, Any]]  # new profiles, each of new identities alone


@dataclass
class Component:
    profile_of: dict[str, str | None] = field(default_factory=dict)
    created_at: dict[str, int] = field(default_factory=dict)
    # (a, b, source) -> the link's properties
    links: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # Node ids, read with the component: the write-back finds nodes by them, not by an index.
    identity_node: dict[str, str] = field(default_factory=dict)  # identity key -> node id
    profile_node: dict[str, str] = field(default_factory=dict)  # profile id -> node id

    def evidence(self) -> list[PairEvidence]:
        newest: dict[tuple[str, str], int] = {}
        for (a, b, _), link in self.links.items():
            if link["status"] != "unlinked":
                newest[(a, b)] = max(newest.get((a, b), link["lastSeen"]), link["lastSeen"])
        return [PairEvidence(a, b, ts) for (a, b), ts in newest.items()]

    def pair_statuses(self) -> dict[tuple[str, str], set[str]]:
        """Current statuses of the usable (not unlinked) links of each pair."""
        statuses: dict[tuple[str, str], set[str]] = {}
        for (a, b, _), link in self.links.items():
            if link["status"] != "unlinked":
                statuses.setdefault((a, b), set()).add(link["status"])
        return statuses


# The most identities re-clustering reads for one component (IDGRAPH_MAX_COMPONENT_IDENTITIES).
MAX_COMPONENT_IDENTITIES = 10_000


class ComponentTooLarge(IdgraphError):
    """A component over the size limit: re-clustering it is refused (the transaction rolls
    back); `keys` are identities known to be in it."""

    code = "COMPONENT_TOO_LARGE"

    def __init__(self, keys: frozenset[str], limit: int) -> None:
        super().__init__(
            f"These identities are linked (refused links included) to more than {limit} "
            "others, too many to re-cluster: unlink the identity they all share "
            "(unlink / unlinkSource), or raise IDGRAPH_MAX_COMPONENT_IDENTITIES.")
        self.keys = keys


@dataclass(frozen=True)
class ComponentLimit:
    """How much of a component re-clustering reads: at most `max_identities` identities (and
    as many links of one identity), never links that cannot change it (EXPAND_STEP)."""

    max_identities: int = MAX_COMPONENT_IDENTITIES
    unique: tuple[str, ...] = ()

    @classmethod
    def of(cls, registry: NamespaceRegistry, max_identities: int) -> ComponentLimit:
        return cls(max_identities, tuple(n for n in registry.names() if registry.is_unique(n)))

    def params(self, holders: bool = False) -> dict[str, Any]:
        """EXPAND_STEP's parameters: one link past the limit shows it is exceeded; `holders`:
        also read which unique namespaces each profile holds (identity/joining.py)."""
        return {"unique": list(self.unique), "maxLinks": self.max_identities + 1,
                "holders": holders}


class _Groups:
    """Union-find over the identities read so far, with each group's members."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}

    def root(self, key: str) -> str:
        if key not in self.parent:
            self.parent[key], self.members[key] = key, {key}
        while self.parent[key] != key:
            self.parent[key] = key = self.parent[self.parent[key]]
        return key

    def join(self, a: str, b: str) -> set[str]:
        """Put a and b in one group; returns its members."""
        small, big = sorted((self.root(a), self.root(b)), key=lambda r: len(self.members[r]))
        if small != big:
            self.parent[small] = big
            self.members[big] |= self.members.pop(small)
        return self.members[big]


async def read_component(tx: Tx, seeds: set[str], now: int,
                         visited: dict[str, list[Any]] | None = None,
                         limit: ComponentLimit = ComponentLimit()) -> Component:
    """Breadth-first over the links from the seeds (EXPAND_STEP says which), locking each
    visited profile. `visited`: expansion rows this transaction already read (and locked), by
    identity key. Raises ComponentTooLarge past `limit`."""
    component = Component()
    groups = _Groups()
    known = visited or {}
    node_of: dict[str, str] = {}  # a link's far end -> its node id, for the next step
    frontier = set(seeds)
    while frontier:
        rows = [known[k] for k in frontier if k in known]
        missing = sorted(k for k in frontier if k not in known)
        if missing:
            rows += (await tx.values(
                q.EXPAND_COMPONENT, nodes=[node_of[k] for k in missing if k in node_of],
                keys=[k for k in missing if k not in node_of], now=now,
                **limit.params()))[0][0]
        discovered: set[str] = set()
        for key, profile_id, created_at, links, identity_node, profile_node, *_ in rows:
            _check_size(groups, key, links, limit.max_identities)
            component.profile_of[key] = profile_id
            component.identity_node[key] = identity_node
            if profile_id:
                component.created_at[profile_id] = created_at or 0
                component.profile_node[profile_id] = profile_node
            for other, source, last_seen, status, other_node in links:
                pair = (key, other, source) if key < other else (other, key, source)
                component.links[pair] = {"lastSeen": last_seen, "status": status}
                discovered.add(other)
                node_of[other] = other_node
        frontier = discovered - component.profile_of.keys()
    return component


def _check_size(groups: _Groups, key: str, links: list[Any], max_identities: int) -> None:
    """Count one identity's links into its group; raise when the group is over the limit."""
    members = groups.members[groups.root(key)]
    for other, *_ in links:
        members = groups.join(key, other)
    if len(links) > max_identities or len(members) > max_identities:
        raise ComponentTooLarge(frozenset(members), max_identities)


@dataclass(frozen=True)
class Recluster:
    """The pipeline's first stage: re-cluster the components of the change's seeds."""

    registry: NamespaceRegistry
    max_size: int
    max_component: int = MAX_COMPONENT_IDENTITIES
    name: str = "recluster"

    async def __call__(self, tx: Tx, change: ChangeSet) -> None:
        if change.seeds:
            change.report = await recluster(tx, change.seeds, self.registry, self.max_size,
                                            change.now, change.cause, change.visited,
                                            change.fresh, self.max_component)


def primary_of(members: frozenset[str], registry: NamespaceRegistry) -> str:
    return min(members, key=lambda k: (registry.priority(k.split(":", 1)[0]), k))


async def recluster(tx: Tx, seeds: set[str], registry: NamespaceRegistry, max_size: int,
                    now: int, cause: str, visited: dict[str, list[Any]] | None = None,
                    fresh: frozenset[str] | set[str] = frozenset(),
                    max_component: int = MAX_COMPONENT_IDENTITIES) -> ClusterReport:
    visited = visited or {}
    # New identities that only join one known profile are added to it without reading its
    # component (identity/joining.py); the rest is re-clustered from what it touches.
    # So are groups of new identities that link to nothing known: each is a new profile.
    settled = plan_joins(seeds, visited, fresh, registry.is_unique, max_size)
    joins, seeds = settled.joins, settled.rest
    component = Component()
    if seeds:
        component = await read_component(tx, seeds, now, visited,
                                         ComponentLimit.of(registry, max_component))
        joins = _outside(joins, component)
    clustering = cluster_component(component.profile_of, component.evidence(),
                                   registry.is_unique, max_size)
    old = {k: p for k, p in component.profile_of.items() if p}
    plan = plan_profile_ids(clustering.clusters, old, component.created_at,
                            lambda: uuid.uuid4().hex)
    statuses = component.pair_statuses()
    report = _report(clustering, plan, component, statuses)
    report.changed_profiles |= joins.keys()
    primaries = [primary_of(cluster, registry) for cluster in clustering.clusters]
    report.fresh = {pid: (primary, cluster) for cluster, pid, primary
                    in zip(clustering.clusters, plan.cluster_ids, primaries, strict=True)
                    if pid in plan.created and cluster <= fresh}
    kept, moves = _join_rows(joins, visited, registry)
    report.joined = {row["id"]: Joined(frozenset(joins[row["id"]].members), row["size"],
                                       row["primary"] == joins[row["id"]].primary)
                     for row in kept}
    founded = _founded_rows(settled.founded, visited, registry, cause)
    for row, group in zip(founded, settled.founded, strict=True):
        report.created.append(row["id"])
        report.fresh[row["id"]] = (row["primary"], group)
    report.changed_profiles |= {row["id"] for row in founded}
    created, report.sizes = await _write(tx, clustering, plan, component, statuses, primaries,
                                         now, cause, SettledRows(kept, moves, founded))
    report.profile_nodes = {pid: component.profile_node[pid] for pid in plan.cluster_ids
                            if pid not in plan.created} | created
    report.profile_nodes |= {pid: join.node for pid, join in joins.items()}
    return report


def _outside(joins: dict[str, Join], component: Component) -> dict[str, Join]:
    """The joins whose profile the full re-clustering did not meet: one it met (a refused link
    leads there, say) it re-clustered whole, the joining identities included."""
    met = set(component.profile_of.values())
    return {pid: join for pid, join in joins.items()
            if pid not in met and not join.members & component.profile_of.keys()}


def _join_rows(joins: dict[str, Join], visited: dict[str, list[Any]],
               registry: NamespaceRegistry) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """WRITE_CLUSTERS' kept-profile rows and member moves for the joins."""
    kept, moves = [], []
    for pid, join in sorted(joins.items()):
        primary = primary_of(frozenset(join.members | {join.primary}), registry)
        kept.append({"id": pid, "size": join.size + len(join.members), "primary": primary,
                     "node": join.node})
        moves += [{"identity": visited[k][IDENTITY_NODE], "profile": join.node}
                  for k in sorted(join.members)]
    return kept, moves


def _founded_rows(groups: list[frozenset[str]], visited: dict[str, list[Any]],
                  registry: NamespaceRegistry, cause: str) -> list[dict[str, Any]]:
    """WRITE_CLUSTERS' new-profile rows for the groups of new identities alone."""
    return [{"id": uuid.uuid4().hex, "size": len(group), "primary": primary_of(group, registry),
             "createdBy": cause, "members": [visited[k][IDENTITY_NODE] for k in sorted(group)]}
            for group in groups]


def _report(clustering: Clustering, plan: IdPlan, component: Component,
            statuses: dict[tuple[str, str], set[str]]) -> ClusterReport:
    report = ClusterReport()
    for new_id, sources in plan.created.items():
        if sources:
            report.split.append((new_id, sources))
        else:
            report.created.append(new_id)
    report.merged = sorted(plan.retired.items())
    for (a, b), decision in sorted(clustering.decisions.items()):
        if decision.status != ACTIVE and statuses.get((a, b)) != {"refused"}:
            report.refused.append((a, b, decision.reason or ""))
    for cluster, pid in zip(clustering.clusters, plan.cluster_ids, strict=True):
        moved_from = {component.profile_of.get(k) for k in cluster} - {pid}
        if moved_from:
            # Both ends changed: the profile that gained members and each one that lost some.
            report.changed_profiles |= {pid} | {old for old in moved_from if old}
    report.changed_profiles |= set(plan.retired)
    return report


async def _write(tx: Tx, clustering: Clustering, plan: IdPlan, component: Component,
                 statuses: dict[tuple[str, str], set[str]], primaries: list[str],
                 now: int, cause: str, settled: SettledRows,
                 ) -> tuple[dict[str, str], list[tuple[int | None, int]]]:
    """Write what changed (`primaries`: each cluster's primary identity; `settled`: the rows of
    what was settled without a read); returns the node id of each profile created and the (old,
    new) size of every profile written."""
    kept_rows, moves, new_rows = list(settled.kept), list(settled.moves), list(settled.created)
    node = component.identity_node
    for cluster, pid, primary in zip(clustering.clusters, plan.cluster_ids, primaries,
                                     strict=True):
        row = {"id": pid, "size": len(cluster), "primary": primary}
        joining = [node[k] for k in sorted(cluster) if component.profile_of.get(k) != pid]
        if pid in plan.created:
            # A profile of new identities records its "created" history entry itself.
            created_by = None if plan.created[pid] else cause
            new_rows.append(row | {"members": joining, "createdBy": created_by})
        else:
            profile = component.profile_node[pid]
            kept_rows.append(row | {"node": profile})
            moves += [{"identity": identity, "profile": profile} for identity in joining]
    status_rows = _link_status_rows(clustering, statuses)
    changes = _history_rows(plan, status_rows, clustering, component)
    [[created, kept_sizes, retired_sizes]] = await tx.values(
        q.WRITE_CLUSTERS, created=new_rows, kept=kept_rows, moves=moves,
        retired=[{"id": old, "into": new} for old, new in sorted(plan.retired.items())],
        statuses=status_rows, changes=changes, now=now, cause=cause)
    sizes: list[tuple[int | None, int]] = [(None, len(c)) for c, pid in zip(
        clustering.clusters, plan.cluster_ids, strict=True) if pid in plan.created]
    sizes += [(None, row["size"]) for row in settled.created]
    sizes += [(old, new) for old, new in kept_sizes] + [(old, 0) for old in retired_sizes]
    return dict(created), sizes


def _link_status_rows(clustering: Clustering,
                      statuses: dict[tuple[str, str], set[str]]) -> list[dict[str, Any]]:
    rows = []
    for (a, b), decision in clustering.decisions.items():
        if statuses.get((a, b)) != {decision.status}:
            rows.append({"a": a, "b": b, "status": decision.status, "reason": decision.reason})
    return rows


def _history_rows(plan: IdPlan, status_rows: list[dict[str, Any]], clustering: Clustering,
                  component: Component) -> list[dict[str, Any]]:
    # A new profile's "created" entry is on the profile node (WRITE_CLUSTERS, createdBy).
    rows = [{"profileId": new, "kind": "split", "related": src, "reason": "re-clustered"}
            for new, src in plan.created.items() if src]
    rows += [{"profileId": into, "kind": "merged", "related": [old],
              "reason": f"{old} merged into {into}"} for old, into in plan.retired.items()]
    profile_of_key = {k: pid for c, pid in zip(clustering.clusters, plan.cluster_ids, strict=True)
                      for k in c}
    rows += [{"profileId": profile_of_key[r["a"]], "kind": "link_refused",
              "related": [r["a"], r["b"]], "reason": r["reason"]}
             for r in status_rows if r["status"] != ACTIVE]
    return rows
