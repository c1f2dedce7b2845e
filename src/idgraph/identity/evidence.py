"""A batch's new items as the evidence they add, aggregated before it is written. Pure.

Each identity appears once (its first and last time in the batch), each link (pair and source)
once (how many items carry it, the first and the last of them), and each item names its
identities by position in the identity list. Writing the aggregate gives the same graph as
writing the items one by one in batch order (identity/repository.py, STORE_EVIDENCE, applies
the same rules to what is stored), with one lookup per identity and one MERGE per link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from idgraph.identity.items import Item


@dataclass(slots=True)
class LinkEvidence:
    """What the batch says about one pair and source: the rules of the per-item updates, in
    batch order (a later time wins; a tie on the last time goes to the later item, on the
    first time to the earlier one)."""

    count: int
    first_seen: int
    first_id: str
    last_seen: int
    last_id: str

    def add(self, ts: int, item_id: str) -> None:
        self.count += 1
        if ts >= self.last_seen:
            self.last_seen, self.last_id = ts, item_id
        if ts < self.first_seen:
            self.first_seen, self.first_id = ts, item_id


@dataclass(slots=True)
class Evidence:
    """STORE_EVIDENCE's parameters, and the aggregate links the caller needs afterwards."""

    identities: list[list[Any]] = field(default_factory=list)  # [key, ns, value, first, last]
    records: list[list[Any]] = field(default_factory=list)  # [node id, [identity positions]]
    events: list[list[Any]] = field(default_factory=list)
    links: dict[tuple[str, str, str], LinkEvidence] = field(default_factory=dict)  # a, b, src
    _position: dict[str, int] = field(default_factory=dict)

    def parameters(self) -> dict[str, list[Any]]:
        position = self._position
        return {"identities": self.identities, "records": self.records, "events": self.events,
                "links": [[position[a], position[b], source, e.count, e.first_seen, e.first_id,
                           e.last_seen, e.last_id]
                          for (a, b, source), e in self.links.items()]}

    def add(self, item: Item, node_id: str) -> None:
        """One new item (items come in batch order), stored as node `node_id`."""
        attached = [node_id, self._positions(item)]
        (self.records if item.kind == "record" else self.events).append(attached)
        self._link(item)

    def _positions(self, item: Item) -> list[int]:
        positions = []
        for identity in item.identities:
            at = self._position.get(identity.key)
            if at is None:
                at = self._position[identity.key] = len(self.identities)
                self.identities.append([identity.key, identity.namespace, identity.value,
                                        item.ts, item.ts])
            else:
                row = self.identities[at]
                row[3], row[4] = min(row[3], item.ts), max(row[4], item.ts)
            positions.append(at)
        return positions

    def _link(self, item: Item) -> None:
        for a, b in item.pairs():
            link = self.links.get((a, b, item.source))
            if link is None:
                self.links[(a, b, item.source)] = LinkEvidence(1, item.ts, item.item_id,
                                                               item.ts, item.item_id)
            else:
                link.add(item.ts, item.item_id)


def aggregate(stored: Sequence[tuple[Item, str]]) -> Evidence:
    """The evidence of the items a batch created, in batch order, each with its node id as the
    claim returned it."""
    evidence = Evidence()
    for item, node_id in stored:
        evidence.add(item, node_id)
    return evidence
