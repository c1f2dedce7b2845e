"""Deferred ingest (`ingestDeferred`, `idgraph ingest --defer`): the answer comes once the
items, identities and links are stored; the profiles, views, segment memberships and counters
follow when the settler takes the batch from the ingest backlog (pipeline/backlog.py).

Against real Neo4j, through the API and the CLI. The property test holds any mix of deferred
and immediate calls, settled at any points, to the linking rules' model and to the read path:
once settled, a deferred ingest leaves what an immediate one does.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idgraph.api.graphql.permissions import Role
from idgraph.db.connect import graph_for
from idgraph.pipeline.backlog import Ages
from idgraph.pipeline.settler import drain, wait_before_settling
from idgraph.services import Services
from tests.api_support import KEY_SPEC, KEYS, api_server, codes, post
from tests.conftest import GraphQLClient, LiveServer, settings_for, wipe
from tests.identity_helpers import INGEST, ident, record
from tests.materialised_helpers import assert_views_match
from tests.test_identity_properties import MAX_SIZE, POOL, model_clusters
from tests.test_profile_counters import direct, shown, stored

DEFERRED = """
mutation Deferred($records: [RecordInput!], $events: [EventInput!]) {
  ingestDeferred(records: $records, events: $events) {
    deferred dryRun accepted duplicates rejected errors { kind index code }
    profilesCreated merges { mergedProfileId }
  }
}
"""
BULK_DEFERRED = """mutation B($records: [RecordInput!]) {
  ingestDeferred(records: $records) { deferred accepted rejected } }"""
BACKLOG = """{ ingestBacklog { entries items oldestAcceptedAt
  failed { seq acceptedAt failedAt items code error } } }"""
RESOLVE = """query R($ids: [IdentityInput!]!) { resolve(identities: $ids) { profileId } }"""
PROFILE = """query P($i: IdentityInput!) { profile(identity: $i) {
  size attributes identities { namespace value } } }"""
HISTORY = """query H($i: IdentityInput!) { profile(identity: $i) { history { kind cause } } }"""


def settle(neo4j_server, **overrides) -> list:
    """Drain the backlog in this process, as `idgraph settle` does, under these settings."""
    async def run() -> list:
        config = settings_for(neo4j_server, **overrides)
        graph = graph_for(config, start_local=False)
        try:
            return await drain(Services.build(config, graph).pipeline)
        finally:
            await graph.close()
    return asyncio.run(run())


def cli(neo4j_server, *args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
                "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "", **env}
    return subprocess.run([sys.executable, "-m", "idgraph", *args, "--no-progress"],
                          env=full_env, capture_output=True, text=True, timeout=300)


def profile_of(gql: GraphQLClient, key: str) -> str | None:
    return gql(RESOLVE, {"ids": [ident(key)]})["resolve"][0]["profileId"]


@pytest.fixture(scope="module")
def no_settler(neo4j_server):
    """An API whose process never settles: the backlog waits for `settle`."""
    with LiveServer(settings_for(neo4j_server, max_cluster_size=MAX_SIZE,
                                 settle_poll_seconds=0)) as server:
        yield server


def test_the_answer_comes_before_the_profiles_and_a_settle_builds_them(
        no_settler, empty_graph, cypher, neo4j_server):
    gql = GraphQLClient(no_settler.url)
    records = [record("1", "crm:C1", "email:ann@x.com", attributes={"name": "Ann"}),
               record("2", "email:ann@x.com", "ecid:k1", source="web", day=2,
                      attributes={"city": "Oslo"}),
               record("3", "email:nobody")]  # rejected at once, as by `ingest`
    events = [{"source": "web", "eventId": "e1", "timestamp": "2025-01-03T00:00:00Z",
               "type": "purchase", "identities": [ident("ecid:k1")]}]
    done = gql(DEFERRED, {"records": records, "events": events})["ingestDeferred"]
    assert done == {"deferred": True, "dryRun": False, "accepted": 3, "duplicates": 0,
                    "rejected": 1, "errors": [{"kind": "RECORD", "index": 2,
                                               "code": "MALFORMED_EMAIL"}],
                    "profilesCreated": [], "merges": []}
    # stored: the records, identities and links; no profile yet
    assert cypher("MATCH (r:Record) RETURN count(r) AS n")[0]["n"] == 2
    assert cypher("MATCH ()-[l:LINK]->() RETURN count(l) AS n")[0]["n"] == 2
    assert profile_of(gql, "crm:C1") is None
    backlog = gql(BACKLOG)["ingestBacklog"]
    assert (backlog["entries"], backlog["items"], backlog["failed"]) == (1, 3, [])
    assert backlog["oldestAcceptedAt"] is not None
    # the same call again: duplicates, and nothing more waits
    again = gql(DEFERRED, {"records": records[:2]})["ingestDeferred"]
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert gql(BACKLOG)["ingestBacklog"]["entries"] == 1

    [settled] = settle(neo4j_server, max_cluster_size=MAX_SIZE)
    assert (settled.items, settled.failed) == (3, None)
    found = gql(PROFILE, {"i": ident("ecid:k1")})["profile"]
    assert found["size"] == 3 and found["attributes"] == {"name": "Ann", "city": "Oslo"}
    assert profile_of(gql, "crm:C1") == profile_of(gql, "ecid:k1")
    assert gql(BACKLOG)["ingestBacklog"] == {"entries": 0, "items": 0,
                                             "oldestAcceptedAt": None, "failed": []}
    assert_views_match(gql, cypher)
    assert shown(gql, True) == stored(cypher) == direct(cypher, True)  # the event counted once
    assert shown(gql, True)["types"] == {"purchase": 1}
    assert settle(neo4j_server) == []  # nothing waits


def test_the_bulk_shape_is_deferred_on_the_fast_path_too(no_settler, empty_graph):
    gql = GraphQLClient(no_settler.url)
    done = gql(BULK_DEFERRED, {"records": [record("1", "crm:C1")]})["ingestDeferred"]
    assert done == {"deferred": True, "accepted": 1, "rejected": 0}
    assert profile_of(gql, "crm:C1") is None
    assert gql(BACKLOG)["ingestBacklog"]["items"] == 1


# (poll, quiet, max lag) seconds: settled once quiet, or once the oldest batch waited the max
# lag though more might come; woken by its own accept, whatever the poll.
@pytest.mark.parametrize("pacing", [(0.2, 0.2, 3600), (3600, 0.2, 3600), (3600, 3600, 1)])
def test_the_api_settles_what_it_accepted_by_itself(neo4j_server, empty_graph, pacing):
    poll, quiet, lag = pacing
    with api_server(neo4j_server, settle_poll_seconds=poll, settle_quiet_seconds=quiet,
                    settle_max_lag_seconds=lag) as server:
        gql = GraphQLClient(server.url)
        gql(DEFERRED, {"records": [record("1", "crm:C1", "email:a@x.com")]})
        wait_for_profile(gql, "email:a@x.com")
        assert profile_of(gql, "crm:C1") == profile_of(gql, "email:a@x.com")
        assert gql(BACKLOG)["ingestBacklog"]["entries"] == 0


def test_the_settler_gives_way_while_batches_come(neo4j_server, empty_graph):
    with api_server(neo4j_server, settle_poll_seconds=0.05, settle_quiet_seconds=3600,
                    settle_max_lag_seconds=4) as server:
        gql = GraphQLClient(server.url)
        # a first batch, settled once the max lag is reached: the settler is warm (a first
        # settle plans its statements, seconds on a busy machine)
        gql(DEFERRED, {"records": [record("0", "crm:C0")]})
        wait_for_profile(gql, "crm:C0")
        gql(DEFERRED, {"records": [record("1", "crm:C1")]})
        time.sleep(1)  # well within the max lag, and not quiet for an hour
        assert profile_of(gql, "crm:C1") is None
        wait_for_profile(gql, "crm:C1")  # the max lag reached


@pytest.mark.parametrize(("ages", "wait"), [
    (Ages(0), None),  # nothing waits
    (Ages(3, oldest_ms=900, newest_ms=100), 400.0),  # batches still coming: until quiet
    (Ages(3, oldest_ms=29_900, newest_ms=100), 100.0),  # or until the max lag, if sooner
    (Ages(1, oldest_ms=500, newest_ms=500), 0.0),  # quiet now
    (Ages(9, oldest_ms=30_000, newest_ms=0), 0.0),  # the oldest waited the max lag
])
def test_the_pacing_of_the_settler(ages, wait):
    assert wait_before_settling(ages, quiet_ms=500, max_lag_ms=30_000) == wait


def test_the_api_settles_what_another_process_accepted(neo4j_server, empty_graph, tmp_path):
    file = tmp_path / "in.jsonl"
    file.write_text(json.dumps(record("1", "crm:C1", "email:a@x.com")) + "\n")
    with api_server(neo4j_server, settle_poll_seconds=0.2) as server:
        assert cli(neo4j_server, "ingest", str(file), "--defer").returncode == 0
        wait_for_profile(GraphQLClient(server.url), "email:a@x.com")


def wait_for_profile(gql: GraphQLClient, key: str) -> None:
    deadline = time.monotonic() + 60  # a liveness bound, not a measure
    while profile_of(gql, key) is None:
        assert time.monotonic() < deadline, "the API's settler never settled the batch"
        time.sleep(0.05)


def test_only_callers_who_may_ingest_defer_or_see_the_backlog(neo4j_server, empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC, open_loopback=False,
                    settle_poll_seconds=0) as server:
        for role in (Role.APP, Role.ANALYST):
            for query, variables in ((DEFERRED, {"records": [record("1", "crm:C1")]}),
                                     (BACKLOG, {})):
                body = post(server.url, query, variables, key=KEYS[role]).json()
                assert codes(body) == ["FORBIDDEN"], (role, body)
        body = post(server.url, DEFERRED, {"records": [record("1", "crm:C1")]},
                    key=KEYS[Role.PARTNER]).json()
        assert body["data"]["ingestDeferred"]["accepted"] == 1
        body = post(server.url, BACKLOG, key=KEYS[Role.PARTNER]).json()
        assert body["data"]["ingestBacklog"]["items"] == 1


def test_a_batch_that_cannot_be_clustered_waits_as_failed_until_retried(
        no_settler, empty_graph, neo4j_server, tmp_path):
    gql = GraphQLClient(no_settler.url)
    # two crm ids (a unique namespace): the linking rules must read the component
    gql(DEFERRED, {"records": [record("1", "email:a@x.com", "crm:C1", "crm:C2")]})
    file = tmp_path / "later.jsonl"
    file.write_text(json.dumps(record("2", "crm:C9", "email:z@x.com")) + "\n")
    assert cli(neo4j_server, "ingest", str(file), "--defer").returncode == 0

    # a settle whose component limit the first batch passes
    done = cli(neo4j_server, "settle", IDGRAPH_MAX_COMPONENT_IDENTITIES="2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "settled 1 items" in done.stdout and "COMPONENT_TOO_LARGE" in done.stdout
    assert profile_of(gql, "crm:C9") is not None  # the later batch did not wait for it
    assert profile_of(gql, "crm:C1") is None
    backlog = gql(BACKLOG)["ingestBacklog"]
    assert backlog["entries"] == 0 and [f["code"] for f in backlog["failed"]] == [
        "COMPONENT_TOO_LARGE"]
    assert "unlink" in backlog["failed"][0]["error"]  # says what to do
    assert cli(neo4j_server, "settle").stdout.startswith("settled 0 items")  # kept aside

    done = cli(neo4j_server, "settle", "--retry-failed")
    assert done.returncode == 0 and "settled 1 items" in done.stdout, done.stdout
    assert None not in {profile_of(gql, k) for k in ("crm:C1", "crm:C2", "email:a@x.com")}
    assert profile_of(gql, "crm:C1") != profile_of(gql, "crm:C2")
    assert gql(BACKLOG)["ingestBacklog"]["failed"] == []


def test_the_cli_defers_a_file_and_says_how_the_profiles_follow(
        neo4j_server, empty_graph, cypher, tmp_path):
    file = tmp_path / "in.jsonl"
    file.write_text("".join(json.dumps(record(str(n), f"crm:C{n}", f"email:p{n}@x.com")) + "\n"
                            for n in range(5)) + "{broken\n")
    done = cli(neo4j_server, "ingest", str(file), "--defer", "--batch-size", "2")
    assert done.returncode == 0, done.stderr
    assert "accepted 5, duplicates 0, rejected 1" in done.stdout
    assert "idgraph settle" in done.stdout
    assert cypher("MATCH (p:Profile) RETURN count(p) AS n")[0]["n"] == 0
    assert cypher("MATCH (b:BacklogEntry) RETURN sum(b.items) AS n")[0]["n"] == 5
    settled = cli(neo4j_server, "settle")
    assert settled.returncode == 0 and "settled 5 items" in settled.stdout, settled.stdout
    assert cypher("MATCH (p:Profile)<-[:IN_PROFILE]-(i) WITH p, count(i) AS n "
                  "RETURN collect(n) AS sizes")[0]["sizes"] == [2] * 5
    assert cypher("MATCH (b:BacklogEntry) RETURN count(b) AS n")[0]["n"] == 0


attributes = st.fixed_dictionaries({}, optional={
    "tier": st.sampled_from(["gold", "silver", None]),
    "testProfile": st.just(True)})
calls = st.lists(st.tuples(
    st.lists(st.tuples(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
                       st.integers(1, 6), attributes), min_size=1, max_size=4),
    st.booleans(),  # deferred
    st.booleans()),  # a settle after this call
    min_size=1, max_size=4)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=calls)
def test_any_mix_of_deferred_and_immediate_calls_settles_to_the_rules(
        no_settler, driver, cypher, neo4j_server, plan):
    wipe(driver)
    gql = GraphQLClient(no_settler.url)
    shown(gql, True)  # the counters are ready (backfilled on an empty graph) from here on
    data, number = [], 0
    for records, deferred, settle_after in plan:
        batch = []
        for ids, day, attrs in records:
            batch.append(record(f"r{number}", *ids, day=day, attributes=attrs))
            data.append((ids, day))
            number += 1
        gql(DEFERRED if deferred else INGEST, {"records": batch})
        if settle_after:
            settle(neo4j_server, max_cluster_size=MAX_SIZE)
    settle(neo4j_server, max_cluster_size=MAX_SIZE)
    rows = cypher("MATCH (i:Identity) OPTIONAL MATCH (i)-[:IN_PROFILE]->(p:Profile) "
                  "RETURN p.id AS p, collect(i.key) AS members")
    assert {frozenset(r["members"]) for r in rows} == model_clusters(data)
    assert all(r["p"] is not None for r in rows)
    assert cypher("MATCH (p:Profile)<-[:IN_PROFILE]-(i) WITH p, count(i) AS n "
                  "RETURN collect(p.size = n) AS ok")[0]["ok"] == [True] * len(rows)
    assert_views_match(gql, cypher)
    # the dashboard counters, kept by both kinds of call, equal a direct count
    assert shown(gql, True) == stored(cypher) == direct(cypher, True)


def test_a_deferred_call_is_held_to_the_same_limits(neo4j_server, empty_graph, cypher):
    with api_server(neo4j_server, max_list_length=5) as server:
        gql = GraphQLClient(server.url)
        six = [record(str(n), f"crm:C{n}") for n in range(6)]
        for document in (DEFERRED, BULK_DEFERRED):  # the general path and the compiled one
            refused = gql.post(document, {"records": six}).json()
            assert "data" not in refused and codes(refused) == ["LIST_TOO_LONG"]
        too_many_ids = [record("x", *[f"crm:C{n}" for n in range(6)])]
        assert codes(gql.post(BULK_DEFERRED, {"records": too_many_ids}).json()) == [
            "LIST_TOO_LONG"]
    assert cypher("MATCH (n) WHERE n:Record OR n:BacklogEntry RETURN count(n) AS n") == [
        {"n": 0}]


def test_a_record_another_call_attached_before_the_settle_is_in_the_view(
        no_settler, empty_graph, cypher, neo4j_server):
    # A settle builds a new person's view from its own batch's records only when no other
    # batch has attached one to that person's identities in between.
    gql = GraphQLClient(no_settler.url)
    gql(DEFERRED, {"records": [record("1", "crm:C1", "email:a@x.com",
                                      attributes={"tier": "gold"})]})
    gql(INGEST, {"records": [record("2", "email:a@x.com", source="web", day=2,
                                    attributes={"city": "Oslo"})]})
    assert profile_of(gql, "email:a@x.com") is None  # the immediate call re-clustered nothing
    settle(neo4j_server, max_cluster_size=MAX_SIZE)
    found = gql(PROFILE, {"i": ident("crm:C1")})["profile"]
    assert found["attributes"] == {"tier": "gold", "city": "Oslo"}
    assert_views_match(gql, cypher)


def test_new_people_settle_with_their_own_records(no_settler, empty_graph, cypher,
                                                  neo4j_server):
    gql = GraphQLClient(no_settler.url)
    shown(gql, True)
    gql(DEFERRED, {"records": [record(str(n), f"crm:C{n}", f"email:p{n}@x.com",
                                      attributes={"tier": "gold"}) for n in range(3)]
                   + [record("k", "email:p0@x.com", "ecid:k0", source="web")]})
    settle(neo4j_server, max_cluster_size=MAX_SIZE)
    sizes = sorted(gql(PROFILE, {"i": ident(f"crm:C{n}")})["profile"]["size"] for n in range(3))
    assert sizes == [2, 2, 3]
    assert_views_match(gql, cypher)
    assert shown(gql, True) == stored(cypher) == direct(cypher, True)


def test_streaming_audiences_follow_the_settle(no_settler, empty_graph, neo4j_server):
    from tests.segment_helpers import create
    from tests.test_segment_streaming import batch_members, memberships

    gql = GraphQLClient(no_settler.url)
    create(gql, "Over 50", "age > 50", id="old")
    gql(DEFERRED, {"records": [record("1", "crm:C1", attributes={"age": 60}),
                               record("2", "crm:C2", attributes={"age": 30})]})
    assert memberships(gql, "old") == {}  # no profile yet, so no member
    settle(neo4j_server, max_cluster_size=MAX_SIZE)
    old = profile_of(gql, "crm:C1")
    assert memberships(gql, "old") == {old: "REALIZED"} and batch_members(gql, "age > 50") == {
        old}


def test_counters_backfilled_while_batches_wait_count_them_once(
        no_settler, empty_graph, cypher, neo4j_server):
    gql = GraphQLClient(no_settler.url)
    gql(DEFERRED, {"records": [record("1", "crm:C1", "email:a@x.com"),
                               record("2", "crm:C2", "ecid:k2")]})
    shown(gql, True)  # the first read backfills the counters (a graph with data, no counters)
    settle(neo4j_server, max_cluster_size=MAX_SIZE)
    assert shown(gql, True) == stored(cypher) == direct(cypher, True)
    assert shown(gql, True)["namespaces"] == {"crm": 2, "email": 1, "ecid": 1}


def test_batches_settle_together_up_to_the_item_limit(no_settler, empty_graph, cypher,
                                                      neo4j_server):
    # A person whose records came in three calls: settled together, they are new people
    # (built from the change's own records, no view read back) in one transaction.
    gql = GraphQLClient(no_settler.url)
    gql(DEFERRED, {"records": [record("1", "crm:C1", "email:a@x.com",
                                      attributes={"tier": "gold"})]})
    gql(DEFERRED, {"records": [record("2", "email:a@x.com", "ecid:k1", source="web", day=2,
                                      attributes={"city": "Oslo"})]})
    gql(DEFERRED, {"records": [record("3", "crm:C3", "email:c@x.com")]})
    first, second = settle(neo4j_server, max_cluster_size=MAX_SIZE, settle_max_items=2)
    assert (first.entries, first.items, first.failed) == (2, 2, None)
    assert (second.entries, second.items) == (1, 1)
    assert first.seqs == sorted(first.seqs) and first.seqs[-1] < second.seqs[0]
    found = gql(PROFILE, {"i": ident("ecid:k1")})["profile"]
    assert found["size"] == 3 and found["attributes"] == {"tier": "gold", "city": "Oslo"}
    assert cypher("MATCH (b:BacklogEntry) RETURN count(b) AS n") == [{"n": 0}]
    history = gql(HISTORY, {"i": ident("crm:C1")})["profile"]["history"]
    assert [h["kind"] for h in history] == ["created"]
    assert re.fullmatch(r"ingest:[0-9a-f]+\+1", history[0]["cause"])  # the oldest's, +1 more
    assert_views_match(gql, cypher)


def test_a_batch_that_fails_among_others_fails_alone(no_settler, empty_graph, neo4j_server):
    gql = GraphQLClient(no_settler.url)
    gql(DEFERRED, {"records": [record("1", "crm:C9", "email:z@x.com")]})
    gql(DEFERRED, {"records": [record("2", "email:a@x.com", "crm:C1", "crm:C2")]})
    gql(DEFERRED, {"records": [record("3", "crm:C5", "email:e@x.com")]})
    done = settle(neo4j_server, max_component_identities=2)
    assert [(s.entries, s.items, s.failed) for s in done] == [
        (1, 1, None), (1, 1, "COMPONENT_TOO_LARGE"), (1, 1, None)]
    assert None not in {profile_of(gql, k) for k in ("crm:C9", "crm:C5")}
    assert profile_of(gql, "crm:C1") is None
    assert [f["code"] for f in gql(BACKLOG)["ingestBacklog"]["failed"]] == [
        "COMPONENT_TOO_LARGE"]
