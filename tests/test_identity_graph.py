"""Identity graph scenarios through GraphQL over HTTP against the real Neo4j."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime

from tests.identity_helpers import ident, ingest, members, profile, record


def test_chain_of_links_is_one_profile(gql):
    ingest(gql, [record("1", "email:a@x.com", "phone:+14155550101"),
                 record("2", "phone:+14155550101", "crm:C1"),
                 record("3", "crm:C1", "loyalty:L1")])
    assert members(gql, "loyalty:L1") == {
        "email:a@x.com", "phone:+14155550101", "crm:C1", "loyalty:L1"}
    found = profile(gql, "email:a@x.com")
    assert found["size"] == 4
    assert found["primaryIdentity"] == ident("crm:C1")  # highest-priority namespace


def test_email_case_and_spaces_find_the_same_profile(gql):
    ingest(gql, [record("1", "email:john.greene@luma.com", "crm:C9")])
    ingest(gql, [record("2", "email:  John.Greene@Luma.com ", "ecid:E1")])
    assert profile(gql, "email:John.Greene@Luma.com ")["id"] == profile(gql, "crm:C9")["id"]
    assert members(gql, "crm:C9") == {"email:john.greene@luma.com", "crm:C9", "ecid:E1"}


def test_shared_device_follows_the_last_login_and_never_joins_two_people(gql):
    ingest(gql, [record("1", "crm:ALICE", "device:D-1", day=1)])
    ingest(gql, [record("2", "crm:BOB", "device:D-1", day=5)])
    assert members(gql, "device:d-1") == {"crm:BOB", "device:d-1"}
    assert members(gql, "crm:ALICE") == {"crm:ALICE"}
    result = ingest(gql, [record("3", "crm:ALICE", "device:D-1", day=9)])
    assert members(gql, "device:d-1") == {"crm:ALICE", "device:d-1"}
    assert members(gql, "crm:BOB") == {"crm:BOB"}
    assert result["refusedLinks"][0]["reason"].startswith("unique namespace crm")


def test_junk_email_is_rejected_and_collapses_nothing(gql):
    result = ingest(gql, [record(str(n), f"crm:P{n}", "email:test@test.com") for n in range(5)]
                    + [record("ok", "crm:P9", "email:real@x.com")])
    assert result["accepted"] == 1 and result["rejected"] == 5
    assert {e["code"] for e in result["errors"]} == {"BLOCKED_VALUE"}
    assert profile(gql, "crm:P1") is None  # nothing of a rejected record is stored
    assert members(gql, "crm:P9") == {"crm:P9", "email:real@x.com"}


def test_shared_family_email_keeps_people_apart(gql):
    ingest(gql, [record(str(n), f"crm:P{n}", "email:family@x.com", day=n + 1)
                 for n in range(4)])
    assert members(gql, "email:family@x.com") == {"email:family@x.com", "crm:P3"}
    for n in range(3):
        assert members(gql, f"crm:P{n}") == {f"crm:P{n}"}


def test_bad_items_are_reported_and_good_ones_go_in(gql):
    result = ingest(gql, [
        record("1", "email:good@x.com"),
        record("2", "nosuch:1"),
        record("3", "email:"),
        record("4", "email:not-an-email"),
        record("5", "phone:12"),
        record("6", *[f"ecid:E{i}" for i in range(21)]),
        record("7", "email:" + "a" * 1100 + "@x.com"),
        record("8", "device:00000000-0000-0000-0000-000000000000"),
        # Its key would be "crm|web|9", the key of record "web|9" of source "crm".
        record("9", "email:pipe@x.com", source="crm|web"),
        record("web|9", "email:pipe@x.com"),
    ])
    codes = [(e["index"], e["code"]) for e in result["errors"]]
    assert codes == [(1, "UNKNOWN_NAMESPACE"), (2, "BLANK_VALUE"), (3, "MALFORMED_EMAIL"),
                     (4, "MALFORMED_PHONE"), (5, "TOO_MANY_IDENTITIES"), (6, "VALUE_TOO_LONG"),
                     (7, "BLOCKED_VALUE"), (8, "INVALID_SOURCE")]
    assert result["accepted"] == 2 and result["duplicates"] == 0
    assert members(gql, "email:good@x.com") == {"email:good@x.com"}


def test_size_limit_caps_a_cluster(gql, live_api):
    limit = live_api.app.state.services.identity.max_cluster_size
    records = [record(str(n), "email:hub@x.com", f"ecid:E{n:03d}", day=1 + n % 28)
               for n in range(limit + 10)]
    result = ingest(gql, records)
    assert len(members(gql, "email:hub@x.com")) == limit
    assert {r["reason"] for r in result["refusedLinks"]} == {"cluster size limit"}


# Every node but the lock nodes writers take one of at random (the change feed's and the
# counters' shards, made on first use): a second write may be the first to take one.
DATA_NODES = ("MATCH (n) WHERE NOT n:ChangeFeedShard AND NOT n:CounterShard "
              "RETURN count(n) AS n")


def test_reingesting_changes_nothing(gql, cypher):
    records = [record("1", "email:a@x.com", "crm:C1"), record("2", "crm:C1", "ecid:E1")]
    first = ingest(gql, records)
    before = cypher(DATA_NODES)[0]["n"]
    again = ingest(gql, records)
    assert first["accepted"] == 2 and again == {**again, "accepted": 0, "duplicates": 2}
    assert cypher(DATA_NODES)[0]["n"] == before
    assert cypher("MATCH ()-[l:LINK]->() RETURN sum(l.count) AS c")[0]["c"] == 2


def test_concurrent_ingests_on_overlapping_clusters(gql, cypher):
    batches = [[record(f"{b}-{n}", f"crm:C{n}", f"email:p{n}@x.com", f"ecid:B{b}N{n}",
                       source=f"s{b}") for n in range(40)] for b in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda batch: ingest(gql, batch), batches))
    assert sum(r["accepted"] for r in results) == 160
    assert cypher("MATCH (i:Identity) WITH i.key AS k, count(*) AS c WHERE c > 1 "
                  "RETURN count(k) AS dupes")[0]["dupes"] == 0
    assert cypher("MATCH (i:Identity) WHERE NOT (i)-[:IN_PROFILE]->() RETURN count(i) AS n"
                  )[0]["n"] == 0
    assert cypher("MATCH (i:Identity)-[r:IN_PROFILE]->() WITH i, count(r) AS c WHERE c > 1 "
                  "RETURN count(i) AS n")[0]["n"] == 0
    assert cypher("MATCH (p:Profile) RETURN count(p) AS n")[0]["n"] == 40
    for n in range(40):
        assert len(members(gql, f"crm:C{n}")) == 6
    assert cypher("MATCH ()-[l:LINK]->() RETURN sum(l.count) AS c")[0]["c"] == 160 * 3


def test_the_same_records_ingested_at_once_by_several_clients_go_in_once(gql, cypher):
    """Each item is claimed once, whichever client's transaction gets there first."""
    records = [record(f"r{n}", f"crm:C{n}", f"email:p{n}@x.com") for n in range(60)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: ingest(gql, records), range(4)))
    assert all(not r["errors"] for r in results)
    assert sum(r["accepted"] for r in results) == 60
    assert sum(r["duplicates"] for r in results) == 180
    assert cypher("MATCH (r:Record) RETURN count(r) AS n")[0]["n"] == 60
    assert cypher("MATCH ()-[k:KEYED_BY]->() RETURN count(k) AS n")[0]["n"] == 120
    assert cypher("MATCH ()-[l:LINK]->() RETURN sum(l.count) AS c")[0]["c"] == 60


UNLINK = """
mutation U($a: IdentityInput!, $b: IdentityInput!) {
  unlink(identity: $a, otherIdentity: $b) { unlinked splits { profileId fromProfileIds } }
}
"""


def test_unlink_resplits_and_history_is_kept(gql, cypher):
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1"), record("2", "ecid:E1", "crm:C1")])
    before = profile(gql, "crm:C1")["id"]
    result = gql(UNLINK, {"a": ident("ecid:E1"), "b": ident("crm:C1")})["unlink"]
    assert result["unlinked"] == 1 and result["splits"][0]["fromProfileIds"] == [before]
    assert members(gql, "crm:C1") == {"crm:C1"}
    assert members(gql, "ecid:E1") == {"email:a@x.com", "ecid:E1"}
    status = cypher("MATCH (:Identity {key: 'crm:C1'})-[l:LINK]-() RETURN l.status AS s")
    assert status == [{"s": "unlinked"}]  # kept as history, not deleted


UNLINK_SOURCE = """
mutation U($source: String!) { unlinkSource(source: $source) { unlinked splits { profileId } } }
"""


def test_unlink_source_unlinks_every_link_it_made_and_no_other(gql, cypher):
    event = {"source": "app", "eventId": "e1", "timestamp": "2025-01-03T12:00:00Z",
             "type": "login", "identities": [ident("device:d1"), ident("crm:C1")]}
    ingest(gql, [record("1", "email:a@x.com", "crm:C1", source="crm"),
                 record("2", "email:a@x.com", "ecid:E1", source="web"),
                 record("3", "ecid:E2", "ecid:E3", source="web"),
                 record("4", "ecid:E1", "crm:C1", source="crm")], [event])
    result = gql(UNLINK_SOURCE, {"source": "web"})["unlinkSource"]
    assert result["unlinked"] == 2
    # ecid:E1 stays through crm's own evidence; E2 and E3 part; app's event link is untouched.
    assert members(gql, "crm:C1") == {"email:a@x.com", "crm:C1", "ecid:E1", "device:d1"}
    assert members(gql, "ecid:E2") == {"ecid:E2"}
    statuses = cypher("MATCH ()-[l:LINK]->() RETURN l.source AS s, l.status AS st")
    assert sorted((r["s"], r["st"]) for r in statuses) == [
        ("app", "active"), ("crm", "active"), ("crm", "active"),
        ("web", "unlinked"), ("web", "unlinked")]
    assert gql(UNLINK_SOURCE, {"source": "pos"})["unlinkSource"]["unlinked"] == 0


def test_merged_away_profile_ids_still_resolve(gql):
    ingest(gql, [record("1", "email:a@x.com", day=1)])
    ingest(gql, [record("2", "crm:C1", day=2)])
    first, second = profile(gql, "email:a@x.com")["id"], profile(gql, "crm:C1")["id"]
    old_ids = {first, second}
    merged = ingest(gql, [record("3", "email:a@x.com", "crm:C1", day=3)])
    survivor = profile(gql, "crm:C1")["id"]
    assert survivor in old_ids and len(merged["merges"]) == 1
    gone = (old_ids - {survivor}).pop()
    assert merged["merges"][0] == {"mergedProfileId": gone, "intoProfileId": survivor}
    query = ("query($id: ID!) { profileById(id: $id) { id size "
             "history { profileId kind related reason cause at } } }")
    found = gql(query, {"id": gone})["profileById"]
    assert found["id"] == survivor and found["size"] == 2
    # Newest first: the merge, then both profiles' creations (the merged-away one's too), each
    # with the ingest that made it.
    history = found["history"]
    assert [(h["kind"], h["related"]) for h in history] == [
        ("merged", [gone]), ("created", []), ("created", [])]
    assert [h["profileId"] for h in history] in ([survivor, second, first],
                                                 [survivor, first, second])
    assert [h["at"] for h in history] == sorted((h["at"] for h in history), reverse=True)
    created = history[1:]
    assert all(h["reason"] == "new identities" and h["cause"].startswith("ingest:")
               for h in created)
    assert created[0]["cause"] != created[1]["cause"]  # two ingests made them


def test_resolve_in_input_order_with_nulls(gql):
    ingest(gql, [record("1", "email:a@x.com", "crm:C1"), record("2", "crm:C2")])
    query = "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId error } }"
    ids = [ident("crm:C2"), ident("email:unknown@x.com"), ident("email: A@X.com"),
           ident("nosuch:1")]
    out = gql(query, {"ids": ids})["resolve"]
    assert [bool(r["profileId"]) for r in out] == [True, False, True, False]
    assert out[0]["profileId"] != out[2]["profileId"]
    assert "unknown namespace" in out[3]["error"]


EXPLAIN = """
query E($a: IdentityInput!, $b: IdentityInput!) {
  explain(identity: $a, otherIdentity: $b) {
    sameProfile message links { a { value } b { value } source status firstRecordId }
  }
}
"""


def test_explain_gives_the_path_or_the_reason(gql):
    ingest(gql, [record("r1", "email:a@x.com", "phone:+14155550101"),
                 record("r2", "phone:+14155550101", "crm:C1", source="pos")])
    same = gql(EXPLAIN, {"a": ident("email:a@x.com"), "b": ident("crm:C1")})["explain"]
    assert same["sameProfile"] and len(same["links"]) == 2
    assert {lk["firstRecordId"] for lk in same["links"]} == {"r1", "r2"}
    ingest(gql, [record("r3", "crm:C2", "phone:+14155550101", day=2)])
    apart = gql(EXPLAIN, {"a": ident("crm:C1"), "b": ident("crm:C2")})["explain"]
    assert not apart["sameProfile"] and "unique namespace crm" in apart["message"]


SIMULATE = """
query S($records: [RecordInput!]) {
  simulateIngest(records: $records) { dryRun accepted merges { intoProfileId }
    refusedLinks { reason } profilesCreated splits { fromProfileIds } }
}
"""


# The identity graph's nodes and every relationship they have. Not every node: the service's
# own state (the scheduler's lease, the change feed's shards) may be written by a background
# tick while the test runs, which made a count of all nodes flaky.
GRAPH_SIZE = """
MATCH (n) WHERE n:Identity OR n:Record OR n:Event OR n:Profile OR n:ProfileView
             OR n:ProfileAlias OR n:ClusterChange
OPTIONAL MATCH (n)-[r]-()
RETURN count(DISTINCT n) AS n, count(DISTINCT r) AS r
"""


def test_dry_run_reports_and_writes_nothing(gql, cypher):
    ingest(gql, [record("1", "crm:C1", "device:D1", day=1), record("2", "email:b@x.com")])
    before = cypher(GRAPH_SIZE)
    sim = gql(SIMULATE, {"records": [record("3", "crm:C2", "device:D1", day=2),
                                     record("4", "email:b@x.com", "ecid:E7")]})
    sim = sim["simulateIngest"]
    assert sim["dryRun"] and sim["accepted"] == 2
    assert sim["refusedLinks"][0]["reason"].startswith("unique namespace crm")
    # The device leaves C1's profile for C2 (newer evidence): a split, no merge.
    assert sim["merges"] == [] and sim["profilesCreated"] == []
    assert sim["splits"] == [{"fromProfileIds": [profile(gql, "crm:C1")["id"]]}]
    after = cypher(GRAPH_SIZE)
    assert after == before
    assert members(gql, "device:D1") == {"crm:C1", "device:d1"}


def test_single_identity_event_attaches_without_links(gql, cypher):
    event = {"source": "web", "eventId": "e1", "timestamp": "2025-01-02T00:00:00Z",
             "type": "page.view", "identities": [ident("ecid:E1")], "properties": {"url": "/"}}
    result = ingest(gql, events=[event])
    assert result["accepted"] == 1
    assert members(gql, "ecid:E1") == {"ecid:E1"}
    assert cypher("MATCH ()-[l:LINK]->() RETURN count(l) AS n")[0]["n"] == 0
    assert cypher("MATCH (:Event)-[:ABOUT]->(i:Identity) RETURN i.key AS k") == [{"k": "ecid:E1"}]


def test_bulk_resolve_of_thousands_keeps_input_order(gql):
    ingest(gql, [record(str(n), f"crm:C{n}", f"email:u{n}@x.com") for n in range(1500)])
    wanted = [ident(f"email:u{n}@x.com") if n % 2 else ident(f"crm:N{n}") for n in range(3000)]
    query = "query($ids: [IdentityInput!]!) { resolve(identities: $ids) { identity { value } " \
            "profileId } }"
    out = gql(query, {"ids": wanted})["resolve"]
    assert [r["identity"]["value"] for r in out] == [w["value"] for w in wanted]
    assert [r["profileId"] is not None for r in out] == [
        n % 2 == 1 and n < 1500 for n in range(3000)]


def test_evidence_newer_than_an_unlink_links_again_older_does_not(gql, cypher):
    ingest(gql, [record("1", "email:a@x.com", "ecid:E1", day=1, source="web")])
    gql(UNLINK, {"a": ident("email:a@x.com"), "b": ident("ecid:E1")})
    unlinked_at = cypher("MATCH ()-[l:LINK]->() RETURN l.unlinkedAt AS t")[0]["t"]
    ingest(gql, [record("2", "email:a@x.com", "ecid:E1", day=2, source="web")])  # older
    assert members(gql, "ecid:E1") == {"ecid:E1"}
    after_unlink = datetime.fromtimestamp(unlinked_at / 1000 + 60, tz=UTC).isoformat()
    late = {**record("3", "email:a@x.com", "ecid:E1", source="web"), "timestamp": after_unlink}
    ingest(gql, [late])
    assert members(gql, "ecid:E1") == {"ecid:E1", "email:a@x.com"}
    assert cypher("MATCH ()-[l:LINK]->() RETURN l.status AS s, l.count AS n") == [
        {"s": "active", "n": 3}]
