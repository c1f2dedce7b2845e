"""Joins that need no component read: new identities that only attach to one known profile.

The commonest record of a partner's daily file names a person the store knows and one
identifier it does not (a known e-mail and a new device id). Re-clustering would read the
known profile's whole component (every member and every link, a second expansion step) and
replay its evidence, only to find what this module proves without reading anything: the new
identities join the profile, and no other decision of the component changes.

Why (the linking rules, identity/linking.py): let G be new identities whose every link goes
to another member of G or to a member of one profile P, holding at most one identity of each
unique namespace and none of a unique namespace P holds, with |P| + |G| within the size limit.
Replaying the component with G, every cluster is a cluster of the replay without G, plus
perhaps part of G, and G only ever meets clusters inside P. A pair the old replay joined still
joins: its two sides lie inside P, so they hold none of G's unique namespaces, and together
hold at most |P| + |G| identities. A pair it refused is still refused: the clusters only grew,
and so did the unique namespaces they hold. (Its reason may read differently, a unique
namespace where it said the size limit, but re-clustering writes a link's status and reason
only when the status changes, so the stored link is the same either way.) G's own pairs all
join. So the result is the old clustering with G added to P, every old link as it was, and G's
new links active, as STORE_EVIDENCE wrote them.

This holds for a component the batch changes by G alone. So the join leaves the seeds it
settles (G and the known identities linked to G) out of the full re-clustering, a profile whose
known seed has a possibly new link to another known seed is never joined (that link may
change the component), and a join whose profile the full re-clustering of the remaining seeds
meets anyway (through a refused link, say) is dropped: that re-clustering covers the profile
and G whole (identity/clustering.py, _outside).

New identities none of which links to a known one need no read either (`founded`): a group of
them joined by the batch's links, holding at most one identity of each unique namespace and
no more than the size limit, is one new profile. The linking rules join every pair of it (no
union of its parts can hold two identities of one unique namespace or pass the limit), the
group is connected by its own links, and it meets nothing else. Every link of it is active, as
STORE_EVIDENCE wrote it. That is the record of a new person, the commonest record of all when
a partner loads its customers the first time.

Which unique namespaces P holds is read with the batch's first step only when the batch has
an identity of a unique namespace (STORE_EVIDENCE's $holders). Anything else (two identities of
one unique namespace, two profiles or none among G's known neighbours, a profile at its size
limit, a new link between two known identities) goes through the full re-clustering.
tests/test_identity_joining.py holds every join against the linking rules replayed on the
whole graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from idgraph.identity.linking import namespace_of

# Columns of an expansion row (EXPAND_STEP; identity/service.py _links_of_new for new ones).
PROFILE, LINKS, IDENTITY_NODE, PROFILE_NODE, PROFILE_SIZE, PROFILE_PRIMARY = 1, 3, 4, 5, 6, 7
PROFILE_UNIQUE = 8  # the unique namespaces the profile holds; None when not read


@dataclass
class Join:
    """New identities joining one known profile (held and locked by this transaction)."""

    profile: str
    node: str  # the profile's node id
    size: int  # members before
    primary: str  # primary identity before
    held: list[str] | None  # the unique namespaces it holds (None: not read)
    members: set[str] = field(default_factory=set)  # the new identities joining


@dataclass
class Settled:
    """What a batch's seeds settle without a read, and what is left to re-cluster in full."""

    joins: dict[str, Join]  # by profile id
    founded: list[frozenset[str]]  # new profiles, each of new identities alone
    rest: set[str]  # the seeds left to the full re-clustering


def plan_joins(seeds: set[str], visited: dict[str, list[Any]], fresh: set[str] | frozenset[str],
               is_unique: Callable[[str], bool], max_size: int) -> Settled:
    """The joins and new profiles proven without a read, and the seeds left to re-cluster."""
    candidates, founding, blocked = _candidate_joins(seeds, visited, fresh, is_unique)
    blocked |= _profiles_with_known_pairs(seeds - fresh, visited)
    joins = {pid: join for pid, join in candidates.items()
             if pid not in blocked and join.size + len(join.members) <= max_size
             and _no_unique_clash(join, is_unique)}
    founded = [group for group in founding
               if len(group) <= max_size and _unique_distinct(group, is_unique)]
    settled = {k for join in joins.values() for k in join.members}
    settled |= {k for group in founded for k in group}
    settled |= {k for k in seeds - fresh if k in visited and visited[k][PROFILE] in joins}
    return Settled(joins, founded, seeds - settled)


def _candidate_joins(seeds: set[str], visited: dict[str, list[Any]],
                     fresh: set[str] | frozenset[str], is_unique: Callable[[str], bool],
                     ) -> tuple[dict[str, Join], list[frozenset[str]], set[str | None]]:
    """Groups of linked new identities whose known neighbours all share one profile, merged
    per profile; the groups with no known neighbour; and the profiles some group makes
    ineligible (it also touches another profile, or the profile's size or primary identity is
    unknown)."""
    joins: dict[str, Join] = {}
    founding: list[frozenset[str]] = []
    blocked: set[str | None] = set()
    for group in _fresh_groups(seeds & fresh, visited, fresh):
        profiles: set[str | None] = set()
        for key in group:
            for other, *_ in visited[key][LINKS]:
                if other not in fresh:
                    row = visited.get(other)
                    profiles.add(None if row is None else row[PROFILE])
        if not profiles:
            founding.append(frozenset(group))
            continue
        pids = {pid for pid in profiles if pid is not None}
        if len(profiles) != 1 or not pids:
            blocked |= pids
            continue
        [pid] = pids
        row = next(visited[o] for k in group for o, *_ in visited[k][LINKS] if o not in fresh)
        if row[PROFILE_SIZE] is None or row[PROFILE_PRIMARY] is None:
            blocked.add(pid)
            continue
        join = joins.setdefault(pid, Join(pid, row[PROFILE_NODE], row[PROFILE_SIZE],
                                          row[PROFILE_PRIMARY], row[PROFILE_UNIQUE]))
        join.members |= group
    return joins, founding, blocked


def _no_unique_clash(join: Join, is_unique: Callable[[str], bool]) -> bool:
    """Whether the joining identities hold at most one identity of each unique namespace, none
    of which the profile holds (known only when the expansion read what it holds)."""
    if not _unique_distinct(join.members, is_unique):
        return False
    unique = {ns for ns in map(namespace_of, join.members) if is_unique(ns)}
    return not unique or (join.held is not None and not unique & set(join.held))


def _unique_distinct(keys: set[str] | frozenset[str], is_unique: Callable[[str], bool]) -> bool:
    """Whether `keys` hold at most one identity of each unique namespace."""
    unique = [ns for ns in map(namespace_of, keys) if is_unique(ns)]
    return len(set(unique)) == len(unique)


def _fresh_groups(new: set[str], visited: dict[str, list[Any]],
                  fresh: set[str] | frozenset[str]) -> list[set[str]]:
    """The new identities split into groups joined by this batch's links between them."""
    groups: list[set[str]] = []
    placed: set[str] = set()
    for start in sorted(new):
        if start in placed:
            continue
        group, frontier = {start}, [start]
        while frontier:
            for other, *_ in visited[frontier.pop()][LINKS]:
                if other in fresh and other not in group:
                    group.add(other)
                    frontier.append(other)
        placed |= group
        groups.append(group)
    return groups


def _profiles_with_known_pairs(known_seeds: set[str], visited: dict[str, list[Any]]
                               ) -> set[str | None]:
    """Profiles of known seeds that are not explained by new identities alone: one with no
    expansion row, or linked to another known seed (that link may be new, re-activated or
    refused, which only the full re-clustering decides)."""
    blocked: set[str | None] = set()
    for key in known_seeds:
        row = visited.get(key)
        if row is None:
            continue  # read by the full re-clustering; a join its component meets is dropped
        for other, *_ in row[LINKS]:
            if other in known_seeds:
                other_row = visited.get(other)
                blocked |= {row[PROFILE], None if other_row is None else other_row[PROFILE]}
    return blocked
