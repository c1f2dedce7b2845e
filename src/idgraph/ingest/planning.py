"""Planning a file ingest: which lines of the file belong together. Pure, no database.

The service groups the items of one call that share identities into one batch, so a person's
records make or extend their profile once. A file is handed over a window of lines per call,
and a person whose records are spread over the file used to meet their own profile again in
every later window: read back, locked, re-clustered and its view rebuilt from all its records.
On 300,000 records of 120,000 people in random order that was 40% of the ingest's time
(bench/results/ingest.md).

So a file is read twice. The first pass (`plan_lines`) normalises each line's identities and
joins the lines that share one (union-find), noting for each group its last line. The second
pass (`Regrouper`) holds a group's lines until its last line has been read, then releases the
whole group, so windows are made of whole groups. Holding is bounded (`max_held` lines): past
it the oldest groups are released early, which only costs what the old windows cost (another
meeting with the profile later), never correctness: the clusters are a function of the
evidence, whatever the batching (docs/identity.md).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from idgraph.identity.batching import find_root
from idgraph.identity.items import Normalise
from idgraph.identity.normalise import IdentityRejected
from idgraph.ingest.files import FileLine

ALONE = -1  # a line that shares nothing (unreadable, no valid identity): released at once


@dataclass
class LinePlan:
    group_of: array[int]  # per line read (in reading order): its group, or ALONE
    last_line: array[int]  # per group: the reading position of its last line

    def __len__(self) -> int:
        return len(self.group_of)

    @classmethod
    def empty(cls) -> LinePlan:
        """No plan: every line goes on as it is read."""
        return cls(array("q"), array("q"))


def plan_lines(lines: Iterable[FileLine], normalise: Normalise) -> LinePlan:
    """Groups of lines connected by shared identities, as the service will key them (values
    that would be rejected join nothing). `normalise`: the service's (ingest/runner.py passes
    its memoising Normaliser, so the second pass finds every identity normalised already)."""
    parent: dict[str, str] = {}
    first_keys: list[str | None] = []
    for line in lines:
        keys = _keys(line, normalise)
        first_keys.append(keys[0] if keys else None)
        if keys:
            root = find_root(parent, keys[0])
            for key in keys[1:]:
                other = find_root(parent, key)
                if other != root:
                    parent[other] = root
    group_ids: dict[str, int] = {}
    group_of, last_line = array("q"), array("q")
    for position, first in enumerate(first_keys):
        if first is None:
            group_of.append(ALONE)
            continue
        group = group_ids.setdefault(find_root(parent, first), len(group_ids))
        if group == len(last_line):
            last_line.append(position)
        last_line[group] = position
        group_of.append(group)
    return LinePlan(group_of, last_line)


def _keys(line: FileLine, normalise: Normalise) -> list[str]:
    identities = line.item.get("identities") if line.item is not None else None
    if not isinstance(identities, list):
        return []
    keys = []
    for identity in identities:
        if not isinstance(identity, dict):
            continue
        try:
            keys.append(normalise(identity.get("namespace"), identity.get("value")).key)
        except (IdentityRejected, AttributeError, TypeError):
            continue  # the service rejects or skips it; it joins nothing
    return keys


class Regrouper:
    """The second pass: lines in, lines out with every group's lines together, each group
    released when its last line is in (or, past `max_held` held lines, the oldest early)."""

    def __init__(self, plan: LinePlan, max_held: int) -> None:
        self.plan = plan
        self.max_held = max_held
        self.held: dict[int, list[FileLine]] = {}  # in order of each group's first line
        self.held_count = 0
        self.position = 0

    def add(self, line: FileLine) -> Iterator[FileLine]:
        """The lines `line` releases (itself included, when its group is complete)."""
        position, self.position = self.position, self.position + 1
        group = self.plan.group_of[position] if position < len(self.plan) else ALONE
        if group == ALONE or line.item is None:
            yield line
            return
        self.held.setdefault(group, []).append(line)
        self.held_count += 1
        if self.plan.last_line[group] == position:
            yield from self._release(group)
        while self.held_count > self.max_held:
            yield from self._release(next(iter(self.held)))

    def rest(self) -> Iterator[FileLine]:
        """What is still held when the file ends (only if the file changed under us)."""
        while self.held:
            yield from self._release(next(iter(self.held)))

    def _release(self, group: int) -> list[FileLine]:
        lines = self.held.pop(group)
        self.held_count -= len(lines)
        return lines
