"""What one write changed, typed: the input of every pipeline stage and of the change feed.

A writer (ingest, unlink, a deletion, a view rebuild, a computed backfill) fills in what it did
itself; the re-cluster stage adds its report; `events()` says, per profile, what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from idgraph.clock import now_ms
from idgraph.identity.clustering import ClusterReport
from idgraph.identity.items import Item
from idgraph.profile.computed import Definition, EventFact


class ChangeKind(Enum):
    """What happened to one profile in one change (the strongest, when several did)."""

    MEMBERSHIP = "membership"  # only its segment memberships changed (a batch evaluation)
    UPDATED = "updated"  # its data or members changed, its id stayed
    ABSORBED = "absorbed"  # other profiles were merged into it
    CREATED = "created"  # a new profile of new identities
    SPLIT = "split"  # split off from other profiles, or lost members to new ones
    MERGED = "merged"  # merged into another (its id is now an alias of that one)
    DELETED = "deleted"  # gone (privacy deletion, or left without members)


# When one profile took part in a change in several ways, the event names the strongest.
_STRENGTH = {kind: rank for rank, kind in enumerate(ChangeKind)}


@dataclass(frozen=True)
class MembershipChange:
    """A profile entering (`realized`) or leaving (`exited`) a segment, and why."""

    segment: str
    status: str
    cause: str = ""
    at: int = 0  # epoch ms: the membership's changedAt


@dataclass(frozen=True)
class ProfileEvent:
    """One profile's part in a committed change. `related`: merged into (MERGED), merged-away
    ids (ABSORBED), the other side of the split (SPLIT); empty otherwise. `memberships`: the
    segments it entered or left in the same change."""

    profile_id: str
    kind: ChangeKind
    related: tuple[str, ...] = ()
    cause: str = ""
    memberships: tuple[MembershipChange, ...] = ()


@dataclass(frozen=True)
class Backfill:
    """Past events to fold into one new computed attribute's states."""

    definition: Definition
    events: list[EventFact]


@dataclass
class ChangeSet:
    """One write's changes, built by the writer and completed by the stages."""

    cause: str
    # Records and events this write stored (profile facts; views of the records' profiles).
    items: list[Item] = field(default_factory=list)
    # Identities whose evidence changed: the re-cluster stage starts from them.
    seeds: set[str] = field(default_factory=set)
    # Expansion rows this transaction already read (and locked), by identity key; identities
    # it created. Ingest hands them to re-clustering so they are not read twice.
    visited: dict[str, list[Any]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)
    # The ingest batches that stored the items (their ids are on what they created: one, or
    # several deferred batches settled together), and whether the identities they created were
    # counted when they were accepted (a deferred batch's settle).
    batches: tuple[int, ...] = ()
    fresh_counted: bool = False
    # Profiles whose data changed (live updates), whose view must be recomputed, and removed.
    touched: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    backfill: Backfill | None = None
    # What the writer itself removed or changed, for its receipt: counts (unlinked, records,
    # ...) and the profile ids it names (a deleted profile and the ids merged into it).
    counts: dict[str, int] = field(default_factory=dict)
    receipt_ids: list[str] = field(default_factory=list)
    # What the writer deleted, for the counters stage: the counted sizes of profiles it removed,
    # the namespaces of identities and the types of events it removed.
    removed_sizes: list[int] = field(default_factory=list)
    removed_namespaces: list[str] = field(default_factory=list)
    removed_event_types: list[str] = field(default_factory=list)
    report: ClusterReport = field(default_factory=ClusterReport)  # by the re-cluster stage
    # Segments each profile entered or left, by the segment stage (segments/streaming.py).
    memberships: dict[str, list[MembershipChange]] = field(default_factory=dict)
    now: int = field(default_factory=now_ms)

    @property
    def records(self) -> list[Item]:
        return [item for item in self.items if item.kind == "record"]

    @property
    def events_stored(self) -> list[Item]:
        return [item for item in self.items if item.kind == "event"]

    def changed_profiles(self) -> set[str]:
        """Every profile this change touched in any way."""
        return (self.touched | self.updated | self.deleted | self.report.changed_profiles
                | set(self.report.created) | {new for new, _ in self.report.split})

    def events(self) -> list[ProfileEvent]:
        """One event per profile this change touched, in profile id order."""
        found: dict[str, tuple[ChangeKind, set[str]]] = {}

        def put(profile_id: str, kind: ChangeKind, related: tuple[str, ...] | list[str] = ()
                ) -> None:
            held = found.get(profile_id)
            if held is None or _STRENGTH[kind] > _STRENGTH[held[0]]:
                found[profile_id] = (kind, set(related))
            elif held[0] == kind:
                held[1].update(related)

        report = self.report
        for profile_id in self.changed_profiles():
            put(profile_id, ChangeKind.UPDATED)
        for old, into in report.merged:
            put(into, ChangeKind.ABSORBED, [old])
            put(old, ChangeKind.MERGED, [into])
        for profile_id in report.created:
            put(profile_id, ChangeKind.CREATED)
        for new, sources in report.split:
            put(new, ChangeKind.SPLIT, sources)
            for source in sources:
                put(source, ChangeKind.SPLIT, [new])
        for profile_id in self.deleted:
            put(profile_id, ChangeKind.DELETED)
        for profile_id in self.memberships:
            put(profile_id, ChangeKind.MEMBERSHIP)
        return [ProfileEvent(pid, kind, tuple(sorted(related)), self.cause,
                             tuple(self.memberships.get(pid, ())))
                for pid, (kind, related) in sorted(found.items())]
