"""Membership transitions of one evaluation, decided in memory (pure: no I/O).

A profile that qualifies and was not a member (no membership stored: `create`; or it had
exited, or was a member of an older version of the rule: `enter`) is `realized`; a
`realized` member that still qualifies becomes `existing`; an `existing` one stays so
(nothing written); a member that no longer qualifies is `exited` and kept, with the time,
until the retention has passed, then deleted. A profile id merged away (not `live`) never
qualifies: its memberships exit, then are purged, as streaming ends them at the merge
(segments/streaming.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    REALIZED = "realized"
    EXISTING = "existing"
    EXITED = "exited"


CURRENT = (Status.REALIZED, Status.EXISTING)


@dataclass(frozen=True)
class Membership:
    """A stored membership as the evaluation reads it."""

    profile: str
    status: Status
    version: int
    changed_at: int
    live: bool = True  # False: the profile id was merged away (its node is an alias now)
    run: str | None = None  # the evaluation that last changed it
    ref: str | None = None  # the stored relationship's element id, to find it again

    @classmethod
    def of(cls, row: Sequence[Any]) -> Membership:
        """From [profile, status, version, changedAt, live, run, ref]
        (segments/repository.py)."""
        profile, status, version, changed_at, live, run, ref = row
        return cls(profile, Status(status), int(version or 0), int(changed_at or 0),
                   bool(live), run, ref)


@dataclass
class Transitions:
    """What an evaluation writes: ids per kind of change, and the counts afterwards."""

    create: list[str] = field(default_factory=list)  # -> realized, no membership stored yet
    enter: list[str] = field(default_factory=list)  # -> realized (back, or new version)
    to_existing: list[str] = field(default_factory=list)  # realized -> existing
    exit: list[str] = field(default_factory=list)  # realized/existing -> exited
    delete: list[str] = field(default_factory=list)  # purged exits, stale versions, aliases
    unchanged_existing: int = 0
    realized_by_run: int = 0  # realized earlier by this same run (a resumed evaluation)
    still_exited: int = 0
    purged: int = 0

    def counts(self) -> dict[str, int]:
        realized = len(self.create) + len(self.enter) + self.realized_by_run
        return {"realized": realized,
                "existing": len(self.to_existing) + self.unchanged_existing,
                "exited": len(self.exit) + self.still_exited,
                "entered": realized, "exitedNow": len(self.exit), "purged": self.purged}

    @property
    def size(self) -> int:
        """Members after the evaluation (realized and existing)."""
        counts = self.counts()
        return counts["realized"] + counts["existing"]

    @property
    def writes(self) -> int:
        return (len(self.create) + len(self.enter) + len(self.to_existing) + len(self.exit)
                + len(self.delete))


def plan(current: Iterable[Membership], qualifying: Iterable[str], version: int,
         purge_before: int, run: str | None = None) -> Transitions:
    """The transitions from `current` memberships to the `qualifying` profile ids (of rule
    `version`); exits last changed before `purge_before` (ms) are deleted. Memberships this
    same `run` already realized stay realized, so a resumed evaluation ends as an unbroken
    one would. New memberships keep the order the rule gave (each id once): a rule that scans
    profiles returns them in the store's order, so each chunk of writes touches neighbouring
    records; sorted by id (random hex) they were scattered over the store, and a first
    evaluation cost a quarter more server CPU (bench/results/segments.md)."""
    ordered = list(dict.fromkeys(qualifying))
    members = set(ordered)
    out = Transitions()
    seen: set[str] = set()
    for m in current:
        seen.add(m.profile)
        if m.version != version:  # the rule changed: start again (ENTER overwrites it)
            (out.enter if m.profile in members else out.delete).append(m.profile)
        elif m.profile in members:
            _qualifies(m, out, run)
        else:
            _does_not_qualify(m, out, purge_before)
    out.create.extend(p for p in ordered if p not in seen)
    return out


def _qualifies(m: Membership, out: Transitions, run: str | None) -> None:
    if m.status is Status.EXITED:
        out.enter.append(m.profile)
    elif m.status is Status.REALIZED and run is not None and m.run == run:
        out.realized_by_run += 1
    elif m.status is Status.REALIZED:
        out.to_existing.append(m.profile)
    else:
        out.unchanged_existing += 1


def _does_not_qualify(m: Membership, out: Transitions, purge_before: int) -> None:
    if m.status is not Status.EXITED:
        out.exit.append(m.profile)
    elif m.changed_at < purge_before:
        out.delete.append(m.profile)
        out.purged += 1
    else:
        out.still_exited += 1
