"""Concurrent ingest batches: how items are grouped into batches, and that `idgraph ingest`
with several batches in flight ends with the same graph as one batch after another."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from idgraph.identity.batching import plan_units
from idgraph.identity.items import Item
from idgraph.identity.normalise import IdentityKey
from idgraph.identity.service import call_batch_size
from tests.conftest import GraphQLClient, LiveServer, settings_for, wipe
from tests.materialised_helpers import assert_views_match


def item(n: int, *keys: str) -> Item:
    identities = tuple(sorted(IdentityKey(*k.split(":", 1)) for k in keys))
    return Item("record", "crm", str(n), n, identities, "{}")


def test_items_sharing_identities_share_a_batch():
    items = [item(0, "crm:A", "email:a"), item(1, "crm:B"), item(2, "email:a", "ecid:1"),
             item(3, "ecid:2", "crm:B"), item(4, "crm:C"), item(5, "ecid:1", "crm:D")]
    units = plan_units(items, size=4)
    assert [[[it.item_id for it in batch] for batch in unit] for unit in units] == [
        [["0", "2", "5"]], [["1", "3", "4"]]]


def test_a_group_larger_than_a_batch_is_one_unit_of_batches_in_order():
    hub = [item(n, "email:hub", f"ecid:{n}") for n in range(7)]
    units = plan_units([item(100, "crm:X"), *hub, item(101, "crm:Y")], size=3)
    assert [[[it.item_id for it in batch] for batch in unit] for unit in units] == [
        [["0", "1", "2"], ["3", "4", "5"], ["6"]], [["100", "101"]]]


def test_every_item_is_planned_once():
    rng = random.Random(3)
    items = [item(n, *{f"ecid:{rng.randrange(60)}" for _ in range(rng.choice((1, 2, 3)))})
             for n in range(300)]
    units = plan_units(items, size=25)
    batches = [batch for unit in units for batch in unit]
    assert all(0 < len(batch) <= 25 for batch in batches)
    assert sorted(it.item_id for batch in batches for it in batch) == sorted(
        it.item_id for it in items)
    units_of: dict[str, set[int]] = {}  # an identity is written by one unit only
    for n, unit in enumerate(units):
        for key in {k for batch in unit for it in batch for k in it.identity_keys}:
            units_of.setdefault(key, set()).add(n)
    assert all(len(found) == 1 for found in units_of.values())


def lines(seed: int = 11) -> list[dict]:
    """People with a CRM id, an e-mail and cookies; shared devices (two CRM ids meet: refused
    links); a hub e-mail seen with many cookies in a row; events; attributes that disagree."""
    rng = random.Random(seed)
    out: list[dict] = []
    for n in range(150):
        p = rng.randrange(30)
        pool = [("crm", f"C{p}"), ("email", f"p{p}@x.com"), ("ecid", f"k{p}a"), ("ecid", f"k{p}b")]
        chosen = rng.sample(pool, rng.choice((1, 2, 3)))
        if rng.random() < 0.15:
            chosen.append(("device", f"d{rng.randrange(4)}"))
        out.append({"source": rng.choice(("crm", "web", "pos")), "recordId": str(n),
                    "timestamp": f"2025-01-{rng.randrange(1, 29):02d}T12:00:00Z",
                    "identities": [{"namespace": ns, "value": v} for ns, v in chosen],
                    "attributes": {"tier": rng.choice(("gold", "silver")), "n": n}})
        if n == 70:  # a group larger than the batch size, all in one file chunk
            out += [{"source": "web", "recordId": f"hub{h}",
                     "timestamp": f"2025-01-{1 + h:02d}T12:00:00Z",
                     "identities": [{"namespace": "email", "value": "hub@x.com"},
                                    {"namespace": "ecid", "value": f"h{h}"}]}
                    for h in range(14)]
        if n % 9 == 0:
            out.append({"source": "web", "eventId": f"e{n}", "type": "purchase",
                        "timestamp": f"2025-01-{rng.randrange(1, 29):02d}T12:00:00Z",
                        "identities": [{"namespace": "email", "value": f"p{p}@x.com"}],
                        "properties": {"amount": n}})
    return out


@pytest.fixture(scope="module")
def wide_api(neo4j_server):
    """The API with room to read every profile's view in one request."""
    settings = settings_for(neo4j_server, max_aliases=500, max_cost=1_000_000,
                            max_tokens=100_000)
    with LiveServer(settings) as server:
        client = GraphQLClient(server.url)
        yield client
        client.http.close()


def run_cli(neo4j_server, path, concurrency: int) -> str:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "",
           "IDGRAPH_INGEST_CONCURRENCY": str(concurrency)}
    done = subprocess.run([sys.executable, "-m", "idgraph", "ingest", str(path), "--batch-size",
                           "4", "--no-progress"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def graph_state(cypher) -> dict:
    """What must not depend on batching: clusters, profiles, links, items (not ids, history)."""
    return {
        "clusters": {frozenset(r["m"]) for r in cypher(
            "MATCH (i:Identity)-[:IN_PROFILE]->(p:Profile) RETURN collect(i.key) AS m")},
        "profiles": sorted((r["k"], r["s"]) for r in cypher(
            "MATCH (p:Profile) RETURN p.primaryKey AS k, p.size AS s")),
        "links": sorted(tuple(r.values()) for r in cypher(
            "MATCH (a)-[l:LINK]->(b) RETURN a.key, b.key, l.source, l.status, l.count, "
            "l.firstSeen, l.lastSeen, l.firstRecordId, l.lastRecordId")),
        "identities": sorted(tuple(r.values()) for r in cypher(
            "MATCH (i:Identity) RETURN i.key, i.firstSeen, i.lastSeen")),
        "items": sorted(tuple(r.values()) for r in cypher(
            "MATCH (x)-[:KEYED_BY|ABOUT]->(i:Identity) RETURN x.key, i.key")),
        "unplaced": cypher("MATCH (i:Identity) WHERE NOT (i)-[:IN_PROFILE]->() "
                           "RETURN count(i) AS n")[0]["n"],
    }


def test_concurrent_batches_end_like_sequential_ones(neo4j_server, wide_api, empty_graph,
                                                     cypher, tmp_path):
    data = lines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(json.dumps(x) + "\n" for x in data[:110]))
    # The second file overlaps the first: new evidence on known profiles, and repeats.
    second.write_text("".join(json.dumps(x) + "\n" for x in data[110:] + data[:20]))

    outputs = [run_cli(neo4j_server, path, concurrency=3) for path in (first, second)]
    concurrent = graph_state(cypher)
    assert_views_match(wide_api, cypher)  # every view holds all its records
    wipe(empty_graph)
    assert [run_cli(neo4j_server, path, concurrency=1) for path in (first, second)] == outputs
    sequential = graph_state(cypher)

    assert "duplicates 20" in outputs[1] and concurrent["unplaced"] == 0
    assert any(len(c) > 4 for c in concurrent["clusters"])  # the hub grew past one batch
    assert any(link[3] == "refused" for link in concurrent["links"])
    assert concurrent == sequential


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_each_committed_batch_is_reported_for_progress(services, concurrency):
    service = services.identity
    service.batch_size, service.concurrency = 2, concurrency
    records = [{"source": "crm", "recordId": str(n), "timestamp": 1_700_000_000_000 + n,
                "identities": [{"namespace": "crm", "value": f"C{n // 2}"}]} for n in range(7)]
    records.append({"source": "crm", "recordId": "bad", "timestamp": 1, "identities": []})
    reported: list[int] = []
    result = await service.ingest(records, on_batch=reported.append)
    assert result.accepted == 7 and len(result.rejected) == 1
    assert sum(reported) == 7 and max(reported) <= 2 and len(reported) == 4


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_records_sharing_identities_share_a_batch_however_batches_run(services, cypher,
                                                                          concurrency):
    """Interleaved people: each person's records still go in one batch (one transaction), so a
    later batch never meets the profile an earlier one made."""
    service = services.identity
    service.batch_size, service.concurrency = 2, concurrency
    people = ["A", "B", "A", "B"]
    records = [{"source": "crm", "recordId": f"r{n}", "timestamp": 1_700_000_000_000 + n,
                "identities": [{"namespace": "crm", "value": person}]}
               for n, person in enumerate(people)]
    assert (await service.ingest(records)).accepted == 4
    batch = {r["id"]: r["batch"] for r in cypher(
        "MATCH (r:Record) RETURN r.recordId AS id, r.batch AS batch")}
    assert batch["r0"] == batch["r2"] and batch["r1"] == batch["r3"]
    assert batch["r0"] != batch["r1"]


@pytest.mark.parametrize(("items", "batch_size", "concurrency", "expected"), [
    (1000, 1000, 3, 334),  # a partner's call of one batch: three transactions side by side
    (1000, 1000, 2, 500),
    (600, 1000, 3, 250),  # never below MIN_SPLIT_BATCH
    (100, 1000, 3, 250),  # a small call stays one batch
    (30_000, 1000, 3, 1000),  # a call of many batches keeps the configured size
    (1000, 100, 3, 100),  # nor above it
    (1000, 1000, 1, 1000),  # one at a time: nothing to overlap
])
def test_a_call_of_few_batches_is_split_for_concurrency(items, batch_size, concurrency, expected):
    assert call_batch_size(items, batch_size, concurrency) == expected


def test_one_mutation_of_a_batch_runs_as_concurrent_transactions(gql, cypher):
    """600 records (3 per person, interleaved) in one call of the default batch size: written
    in three transactions, each person's records in one, every record and profile there."""
    records = [{"source": "crm", "recordId": f"r{n}", "timestamp": "2025-01-01T12:00:00Z",
                "identities": [{"namespace": "crm", "value": f"C{n % 200}"},
                               {"namespace": "ecid", "value": f"k{n}"}]} for n in range(600)]
    done = gql("mutation I($r: [RecordInput!]) { ingest(records: $r) { accepted rejected "
               "profilesCreated } }", {"r": records})["ingest"]
    assert done["accepted"] == 600 and done["rejected"] == 0
    assert len(set(done["profilesCreated"])) == 200
    rows = cypher("MATCH (r:Record)-[:KEYED_BY]->(i:Identity {namespace: 'crm'}) "
                  "RETURN i.key AS person, collect(DISTINCT r.batch) AS batches")
    assert len(rows) == 200 and all(len(r["batches"]) == 1 for r in rows)
    assert len({r["batches"][0] for r in rows}) == 3
    sizes = cypher("MATCH (p:Profile) RETURN p.size AS size, count(*) AS n")
    assert sizes == [{"size": 4, "n": 200}]
