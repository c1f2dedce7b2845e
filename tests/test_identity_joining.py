"""Joins without a component read (identity/joining.py): new identities attached to one known
profile are added to it, and new identities linked to nothing known found a profile of their
own, only where the full linking rules would do exactly that.

The property test replays the linking rules themselves (identity/linking.py, a pure function)
on the whole graph before and after a batch, and holds every join and new profile plan_joins
proves against that replay; the ingest property tests (test_identity_properties.py) check the
same end to end in Neo4j, and the last tests here what a join writes there (members, size,
primary, counters)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from idgraph.identity.joining import plan_joins
from idgraph.identity.linking import ACTIVE, PairEvidence, cluster_component
from tests.identity_helpers import ingest, members, record
from tests.test_profile_counters import holds

MAX_SIZE = 4
KNOWN = (["crm:C0", "crm:C1"] + [f"email:e{i}" for i in range(4)]
         + [f"ecid:k{i}" for i in range(4)])
NEW = ["crm:N0", "crm:N1", "email:n0", "ecid:n1", "ecid:n2", "device:n3"]


def is_unique(namespace: str) -> bool:
    return namespace == "crm"


def pairs_of(records: list[tuple[list[str], int]]) -> dict[tuple[str, str], int]:
    newest: dict[tuple[str, str], int] = {}
    for keys, day in records:
        ordered = sorted(set(keys))
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                newest[(a, b)] = max(newest.get((a, b), day), day)
    return newest


def clustering_of(identities: set[str], newest: dict[tuple[str, str], int]):
    return cluster_component(identities, [PairEvidence(a, b, t) for (a, b), t in newest.items()],
                             is_unique, MAX_SIZE)


def reached(seeds: set[str], pairs: dict[tuple[str, str], int], old_decisions: dict) -> set[str]:
    """What re-clustering reads from `seeds`: every link but a refused one between two
    identities of one unique namespace (EXPAND_STEP)."""
    def followed(a: str, b: str) -> bool:
        decision = old_decisions.get((a, b))
        same_unique = a.split(":")[0] == b.split(":")[0] and is_unique(a.split(":")[0])
        return not (decision is not None and decision.status != ACTIVE and same_unique)

    seen, frontier = set(seeds), list(seeds)
    while frontier:
        key = frontier.pop()
        for a, b in pairs:
            if key in (a, b) and followed(a, b):
                other = b if key == a else a
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
    return seen


def primary(members: set[str]) -> str:
    rank = {"crm": 1, "email": 4, "ecid": 9, "device": 8}
    return min(members, key=lambda k: (rank[k.split(":")[0]], k))


def rows_for(batch: list[tuple[list[str], int]], old: dict[tuple[str, str], int],
             decisions: dict, profile_of: dict[str, str], members: dict[str, set[str]]
             ) -> tuple[set[str], dict[str, list[Any]], set[str]]:
    """Seeds, expansion rows and new identities, as STORE_EVIDENCE and _links_of_new give them:
    a pair is unsettled when it is new or its link is not active."""
    fresh = {k for keys, _ in batch for k in keys if k not in profile_of}
    new_pairs = pairs_of(batch)
    unsettled = {k for pair in new_pairs if pair not in old or decisions[pair].status != ACTIVE
                 for k in pair}
    every = old | {p: max(t, old.get(p, t)) for p, t in new_pairs.items()}
    attached = {k for keys, _ in batch for k in keys}
    visited: dict[str, list[Any]] = {}
    for key in attached:
        links = [[b if a == key else a, "src", t, "active", f"node:{b if a == key else a}"]
                 for (a, b), t in every.items() if key in (a, b)]
        if key in fresh:
            links = [link for link in links if tuple(sorted((key, link[0]))) in new_pairs]
            visited[key] = [key, None, None, links, f"node:{key}", None, None, None, None]
        else:
            pid = profile_of[key]
            holders = [k.split(":")[0] for k in members[pid] if is_unique(k.split(":")[0])]
            visited[key] = [key, pid, 0, links, f"node:{key}", f"pnode:{pid}",
                            len(members[pid]), primary(members[pid]), holders]
    return unsettled | fresh, visited, fresh


# A batch record: mostly one identity the store may know and 1-2 new ones (a join), else
# 0-2 of each (bridges, new links between known identities, new people).
joining_record = st.tuples(st.sampled_from(KNOWN),
                           st.lists(st.sampled_from(NEW), min_size=1, max_size=2, unique=True)
                           ).map(lambda parts: [parts[0], *parts[1]])
any_record = st.tuples(st.lists(st.sampled_from(KNOWN), max_size=2, unique=True),
                       st.lists(st.sampled_from(NEW), max_size=2, unique=True)
                       ).map(lambda parts: parts[0] + parts[1]).filter(bool)
batch_record = st.one_of(joining_record, joining_record, any_record)
batches = st.lists(st.tuples(batch_record, st.integers(1, 8)), min_size=1, max_size=3)
history = st.lists(st.tuples(st.lists(st.sampled_from(KNOWN), min_size=1, max_size=3,
                                      unique=True), st.integers(1, 8)),
                   min_size=1, max_size=10)


@settings(max_examples=400)
@given(old_records=history, batch=batches)
# a new link between two known people in the batch that also gives one of them a new device
@example(old_records=[(["email:e0"], 1)],
         batch=[(["email:e0", "email:e1"], 5), (["email:e0", "ecid:n1"], 5)])
# ... and gives the other one a new device too: neither profile's join may ignore that link
@example(old_records=[(["email:e0"], 1)],
         batch=[(["email:e0", "email:e1"], 5), (["email:e0", "ecid:n1"], 5),
                (["email:e1", "ecid:n2"], 5)])
def test_every_join_is_what_the_linking_rules_decide(old_records, batch):
    old = pairs_of(old_records)
    identities = set(KNOWN)  # the store knows each (alone, if no record links it)
    before = clustering_of(identities, old)
    members = {min(c): set(c) for c in before.clusters}
    profile_of = {k: pid for pid, c in members.items() for k in c}
    seeds, visited, fresh = rows_for(batch, old, before.decisions, profile_of, members)

    settled = plan_joins(seeds, visited, fresh, is_unique, MAX_SIZE)
    joins, rest = settled.joins, settled.rest
    every = old | {p: max(t, old.get(p, t)) for p, t in pairs_of(batch).items()}
    # the rest is re-clustered in full, and so is a join's profile if that meets it
    # (identity/clustering.py, _outside)
    met = reached(rest, every, before.decisions)
    joins = {pid: join for pid, join in joins.items()
             if not (members[pid] | join.members) & met}

    after = clustering_of(identities | fresh, every)
    for pid, join in joins.items():
        assert members[pid] | join.members in after.clusters
        assert join.size == len(members[pid])
    joined = {k for join in joins.values() for k in join.members}
    for pair, decision in before.decisions.items():
        if {profile_of[pair[0]], profile_of[pair[1]]} & joins.keys():
            # no old decision of a joined profile moves (re-clustering writes a link's reason
            # only with a new status, so only the status must stay)
            assert after.decisions[pair].status == decision.status
    founded = {k for group in settled.founded for k in group}
    for group in settled.founded:
        assert group in after.clusters and not group & met
    for pair in pairs_of(batch):
        if set(pair) & (joined | founded):
            assert after.decisions[pair].status == ACTIVE
    assert not rest & (joined | founded) and rest <= seeds


def row(key: str, profile: str | None, links: list[str], size: int | None = None,
        primary_key: str | None = None, holders: list[str] | None = None) -> list[Any]:
    return [key, profile, 0 if profile else None,
            [[other, "src", 1, "active", f"node:{other}"] for other in links],
            f"node:{key}", f"pnode:{profile}" if profile else None, size, primary_key, holders]


def test_a_new_device_of_a_known_person_joins_without_a_read():
    visited = {"email:a": row("email:a", "P", ["crm:A", "ecid:new"], 2, "crm:A"),
               "ecid:new": row("ecid:new", None, ["email:a"])}
    settled = plan_joins({"email:a", "ecid:new"}, visited, {"ecid:new"}, is_unique, 4)
    joins = settled.joins
    assert settled.rest == set() and settled.founded == []
    assert joins["P"].members == {"ecid:new"} and joins["P"].size == 2
    assert joins["P"].node == "pnode:P"


def test_a_first_crm_id_joins_a_profile_holding_none():
    visited = {"email:a": row("email:a", "P", ["crm:new"], 1, "email:a", []),
               "crm:new": row("crm:new", None, ["email:a"])}
    settled = plan_joins(set(visited), visited, {"crm:new"}, is_unique, 4)
    assert settled.rest == set() and settled.joins["P"].members == {"crm:new"}


def test_new_identities_linked_to_nothing_known_found_a_profile_each_group():
    visited = {"crm:n": row("crm:n", None, ["email:n"]),
               "email:n": row("email:n", None, ["crm:n", "ecid:n"]),
               "ecid:n": row("ecid:n", None, ["email:n"]),
               "ecid:alone": row("ecid:alone", None, [])}
    settled = plan_joins(set(visited), visited, set(visited), is_unique, 4)
    assert sorted(settled.founded, key=len) == [{"ecid:alone"}, {"crm:n", "email:n", "ecid:n"}]
    assert settled.joins == {} and settled.rest == set()


def test_new_identities_the_rules_may_split_are_left_to_them():
    def plan(visited, max_size=4):
        return plan_joins(set(visited), visited, set(visited), is_unique, max_size)

    # two crm ids in one group: the rules refuse one of their links
    two_crm = {"crm:a": row("crm:a", None, ["email:n"]),
               "email:n": row("email:n", None, ["crm:a", "crm:b"]),
               "crm:b": row("crm:b", None, ["email:n"])}
    assert plan(two_crm).founded == [] and plan(two_crm).rest == set(two_crm)
    # a group over the size limit (a lone identity beside it still founds its own)
    pair = {"email:n": row("email:n", None, ["ecid:n"]), "ecid:n": row("ecid:n", None, ["email:n"]),
            "ecid:alone": row("ecid:alone", None, [])}
    assert plan(pair, max_size=1).rest == {"email:n", "ecid:n"}
    assert plan(pair, max_size=1).founded == [{"ecid:alone"}]


def test_what_the_full_rules_must_decide_is_left_to_them():
    def plan(visited, fresh, max_size=4):
        settled = plan_joins(set(visited), visited, fresh, is_unique, max_size)
        return settled.joins, settled.rest

    # a second crm id may take the person from the profile (newest evidence wins)
    crm = {"email:a": row("email:a", "P", ["crm:A", "crm:new"], 2, "crm:A", ["crm"]),
           "crm:new": row("crm:new", None, ["email:a"])}
    assert plan(crm, {"crm:new"}) == ({}, set(crm))
    # ... and so may one where the step did not say what the profile holds
    unread = {"email:a": row("email:a", "P", ["crm:new"], 1, "email:a"),
              "crm:new": row("crm:new", None, ["email:a"])}
    assert plan(unread, {"crm:new"}) == ({}, set(unread))
    # new identities bridging two profiles merge them
    bridge = {"email:a": row("email:a", "P", ["ecid:new"], 1, "email:a"),
              "email:b": row("email:b", "Q", ["ecid:new"], 1, "email:b"),
              "ecid:new": row("ecid:new", None, ["email:a", "email:b"])}
    assert plan(bridge, {"ecid:new"}) == ({}, set(bridge))
    # a profile at its size limit
    full = {"email:a": row("email:a", "P", ["ecid:new"], 4, "email:a"),
            "ecid:new": row("ecid:new", None, ["email:a"])}
    assert plan(full, {"ecid:new"}) == ({}, set(full))
    # a new link between two known identities in the same batch
    known = {"email:a": row("email:a", "P", ["ecid:new", "email:b"], 1, "email:a"),
             "email:b": row("email:b", "Q", ["email:a"], 1, "email:b"),
             "ecid:new": row("ecid:new", None, ["email:a"])}
    assert plan(known, {"ecid:new"}) == ({}, set(known))


def test_a_join_writes_the_members_size_and_primary_the_rules_give(gql, cypher):
    ingest(gql, [record("r1", "email:ann@x.com", "ecid:k1")])
    ingest(gql, [record("r2", "email:ann@x.com", "device:phone", day=2),  # a join
                 record("r3", "email:ann@x.com", "crm:ANN", day=2)])  # a first crm id: too
    assert members(gql, "device:phone") == {"email:ann@x.com", "ecid:k1", "device:phone",
                                            "crm:ANN"}
    [row] = cypher("MATCH (:Identity {key: 'ecid:k1'})-[:IN_PROFILE]->(p) "
                   "RETURN p.size AS size, p.primaryKey AS primary")
    assert row == {"size": 4, "primary": "crm:ANN"}
    holds(gql, cypher)


def test_a_join_the_full_re_clustering_meets_is_left_to_it(gql, cypher):
    ingest(gql, [record("r0", "email:x@x.com", "ecid:x"), record("r1", "crm:A", "ecid:p"),
                 record("r2", "crm:A", "email:a@x.com")])
    ingest(gql, [record("r3", "crm:B", "email:a@x.com", day=2)])  # crm:A - email:a refused
    # crm:A's cookie meets a new one (a join), while a new link between two known e-mails is
    # re-clustered in full, which reaches crm:A's profile over the refused link
    ingest(gql, [record("r4", "ecid:p", "ecid:new", day=3),
                 record("r5", "email:a@x.com", "email:x@x.com", day=3)])
    assert members(gql, "crm:A") == {"crm:A", "ecid:p", "ecid:new"}
    assert members(gql, "crm:B") == {"crm:B", "email:a@x.com", "email:x@x.com", "ecid:x"}
    holds(gql, cypher)  # each profile's size counted once


NEW_PERSON = """
query P($identity: IdentityInput!) {
  profile(identity: $identity) {
    id size primaryIdentity { namespace value } identities { namespace value }
    history { kind cause }
  }
}
"""


def test_new_people_get_the_profiles_the_rules_give(gql, cypher):
    done = ingest(gql, [record("r1", "email:ann@x.com", "ecid:k1", "crm:ANN"),  # one person
                        record("r2", "ecid:alone", source="web"),  # one identity alone
                        # two crm ids: the full rules refuse two links (left to them)
                        record("r3", "crm:B1", "email:b@x.com", "crm:B2", day=2)])
    assert len(done["profilesCreated"]) == 4 and len(done["refusedLinks"]) == 2
    ann = gql(NEW_PERSON, {"identity": {"namespace": "ecid", "value": "k1"}})["profile"]
    assert ann["size"] == 3
    assert ann["primaryIdentity"] == {"namespace": "crm", "value": "ANN"}
    assert {f"{i['namespace']}:{i['value']}" for i in ann["identities"]} == {
        "email:ann@x.com", "ecid:k1", "crm:ANN"}
    assert [h["kind"] for h in ann["history"]] == ["created"]
    assert ann["history"][0]["cause"].startswith("ingest:")
    assert members(gql, "ecid:alone") == {"ecid:alone"}
    assert len(members(gql, "crm:B1") | members(gql, "crm:B2")) == 3
    holds(gql, cypher)  # profiles and their sizes counted once
