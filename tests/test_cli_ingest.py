"""`idgraph ingest FILE` through the real CLI against the real Neo4j."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_ingest(neo4j_server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    return subprocess.run([sys.executable, "-m", "idgraph", "ingest", *args, "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)


def test_jsonl_file_with_bad_lines(neo4j_server, empty_graph, cypher, tmp_path):
    lines = [
        {"source": "crm", "recordId": "1", "timestamp": "2025-01-01T00:00:00Z",
         "identities": [{"namespace": "crm", "value": "C1"},
                        {"namespace": "email", "value": "A@x.com"}],
         "attributes": {"name": "Ann"}},
        {"source": "web", "eventId": "e1", "timestamp": "2025-01-02T00:00:00Z",
         "type": "page.view", "identities": [{"namespace": "email", "value": "a@x.com"}]},
        {"source": "crm", "recordId": "2", "timestamp": "2025-01-01T00:00:00Z",
         "identities": [{"namespace": "email", "value": "anonymous"}]},
    ]
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n")
    rejects = tmp_path / "rejects.jsonl"
    done = run_ingest(neo4j_server, str(data), "--rejects", str(rejects), "--batch-size", "2")
    assert done.returncode == 0, done.stderr
    assert "accepted 2, duplicates 0, rejected 2" in done.stdout
    assert "BLOCKED_VALUE: 1" in done.stdout and "UNREADABLE_LINE: 1" in done.stdout
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted((b["line"], b["code"]) for b in bad) == [(3, "BLOCKED_VALUE"),
                                                           (4, "UNREADABLE_LINE")]
    assert cypher("MATCH (:Event)-[:ABOUT]->(i)-[:IN_PROFILE]->(p)<-[:IN_PROFILE]-(c {key: "
                  "'crm:C1'}) RETURN count(*) AS n")[0]["n"] == 1

    again = run_ingest(neo4j_server, str(data))
    assert "accepted 0, duplicates 2, rejected 2" in again.stdout


def test_csv_file(neo4j_server, empty_graph, cypher, tmp_path):
    data = tmp_path / "in.csv"
    data.write_text(
        "source,recordId,timestamp,id.crm,id.email,attr.name,attr.address.city\n"
        "pos,1,2025-01-01T00:00:00Z,C1,a@x.com|b@x.com,Ann,Oslo\n"
        "pos,2,2025-01-01T00:00:00Z,,,Bob,\n")
    done = run_ingest(neo4j_server, str(data))
    assert done.returncode == 0, done.stderr
    assert "accepted 1, duplicates 0, rejected 1" in done.stdout
    assert "NO_IDENTITIES: 1" in done.stdout
    rows = cypher("MATCH (r:Record)-[:KEYED_BY]->(i) RETURN r.attributes AS a, "
                  "collect(i.key) AS ids")
    assert json.loads(rows[0]["a"]) == {"name": "Ann", "address": {"city": "Oslo"}}
    assert sorted(rows[0]["ids"]) == ["crm:C1", "email:a@x.com", "email:b@x.com"]


def test_unreachable_neo4j_is_a_clear_error(tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text("{}\n")
    env = {**os.environ, "NEO4J_URI": "bolt://127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "idgraph", "ingest", str(data)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "unreachable" in done.stderr and "Traceback" not in done.stderr


def test_rebuild_views_restores_every_profile_view(neo4j_server, gql, cypher, tmp_path):
    from tests.identity_helpers import ingest, record
    from tests.materialised_helpers import assert_views_match

    ingest(gql, [record(str(n), f"crm:C{n}", f"email:p{n}@x.com", attributes={"n": n})
                 for n in range(7)])
    cypher("MATCH (v:ProfileView) DETACH DELETE v")  # as on a graph from before views existed
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    done = subprocess.run([sys.executable, "-m", "idgraph", "profiles", "rebuild-views"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rebuilt 7 profile views (job ")
    assert len(assert_views_match(gql, cypher)) == 7


async def test_file_ingest_tunes_the_collector_only_while_it_runs(services, tmp_path):
    # A file ingest runs the garbage collector less often (collector.py); a process that goes
    # on afterwards (a notebook, a script) must get its own thresholds back, on failure too.
    import gc

    from idgraph.collector import BULK_GC_THRESHOLDS
    from idgraph.ingest.runner import ingest_file

    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({
        "source": "crm", "recordId": "1", "timestamp": "2025-01-01T00:00:00Z",
        "identities": [{"namespace": "crm", "value": "C1"}]}) + "\n")
    outside = gc.get_threshold()  # a live API of another test may hold the bulk thresholds
    gc.set_threshold(700, 10, 10)
    before = gc.get_threshold()
    seen = []
    original = services.identity.ingest

    async def spying(*args, **kwargs):
        seen.append(gc.get_threshold())
        return await original(*args, **kwargs)

    services.identity.ingest = spying
    try:
        summary = await ingest_file(services.identity, good, 1000, show_progress=False)
        assert summary.accepted == 1 and seen == [BULK_GC_THRESHOLDS]
        assert gc.get_threshold() == before

        async def failing(*args, **kwargs):
            raise RuntimeError("boom")

        services.identity.ingest = failing
        with pytest.raises(RuntimeError):
            await ingest_file(services.identity, good, 1000, show_progress=False)
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*outside)
