"""Schema-as-code and the service skeleton, against the real Neo4j."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx

from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema, cypher_dir, load_migrations


def run(coro):
    return asyncio.run(coro)


def test_second_schema_apply_applies_nothing(neo4j_server, empty_graph, cypher):
    async def twice():
        graph = Graph(neo4j_server.uri, neo4j_server.auth, "neo4j")
        try:
            await graph.write("MATCH (m:SchemaMigration) DELETE m")
            first = await apply_schema(graph)
            second = await apply_schema(graph)
        finally:
            await graph.close()
        return first, second

    first, second = run(twice())
    assert first == [m.name for m in load_migrations()]
    assert second == []
    recorded = {row["name"] for row in cypher("MATCH (m:SchemaMigration) RETURN m.name AS name")}
    assert recorded == set(first)
    constraints = {row["name"] for row in cypher("SHOW CONSTRAINTS YIELD name")}
    assert {"identity_key", "profile_id", "record_key", "event_key"} <= constraints


def test_every_cypher_file_runs(neo4j_server, empty_graph, cypher):
    """Schema files are applied for real; query files must at least pass EXPLAIN."""
    files = sorted(cypher_dir().rglob("*.cypher"))
    assert files, "no .cypher files found"
    for path in files:
        if path.parent.name == "schema":
            for statement in [s for m in load_migrations(path.parent) if m.name == path.name
                              for s in m.statements()]:
                cypher(statement)
        else:
            cypher("EXPLAIN " + path.read_text())


def test_health_endpoints(live_api):
    with httpx.Client(base_url=live_api.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_graphiql_served_to_browsers(live_api):
    page = httpx.get(f"{live_api.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_write_transactions_that_deadlock_are_retried(neo4j_server, empty_graph, cypher):
    # Two transactions lock two nodes in opposite orders: Neo4j refuses one with a deadlock
    # (transient); Graph.write_tx runs it again and both writes land.
    cypher("CREATE (:T {id: 'a'}), (:T {id: 'b'})")
    graph = Graph(neo4j_server.uri, neo4j_server.auth, "neo4j", retry_time=8)
    first_locked, second_locked = asyncio.Event(), asyncio.Event()
    attempts = {"first": 0, "second": 0}

    def crossing(name: str, mine: str, theirs: str, locked: asyncio.Event,
                 other_locked: asyncio.Event):
        async def work(tx) -> None:
            attempts[name] += 1
            await tx.run("MATCH (n:T {id: $id}) SET n.by = $name", id=mine, name=name)
            if attempts[name] == 1:
                locked.set()
                await other_locked.wait()
            await tx.run("MATCH (n:T {id: $id}) SET n.seen = $name", id=theirs, name=name)
        return work

    try:
        await asyncio.gather(
            graph.write_tx(crossing("first", "a", "b", first_locked, second_locked)),
            graph.write_tx(crossing("second", "b", "a", second_locked, first_locked)))
    finally:
        await graph.close()
    assert sorted(attempts.values()) == [1, 2]  # one of them deadlocked and ran again
    rows = cypher("MATCH (n:T) RETURN n.id AS id, n.by AS by, n.seen AS seen ORDER BY id")
    assert [r["id"] for r in rows] == ["a", "b"] and all(r["by"] and r["seen"] for r in rows)


# Run in a process of its own: the garbage collector's list is process-wide, and the shared
# live API of this test process (tests/conftest.py, `live_api`) writes in the background (the
# change pipeline, the scheduler's lease), whose finished transactions then showed up here.
_GARBAGE_PROBE = """
import asyncio, gc, json, sys
from idgraph.db.graph import Graph

async def main(uri, user, password):
    graph = Graph(uri, (user, password), "neo4j")
    statement = "MATCH (t:T) RETURN t.id AS id ORDER BY id"

    async def first(cypher_text):
        row = await graph.read_first_plain(cypher_text)
        while graph._finishing:  # the end of its result, read after the caller's turn
            await asyncio.sleep(0.01)
        return row

    try:
        await graph.read_plain(statement)  # connect, warm up
        await first(statement)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        answers = []
        for _ in range(20):
            answers.append(await graph.read_plain(statement))
            answers.append(await first(statement))
            answers.append(await first(statement + " LIMIT 0"))
        gc.collect()
        garbage = sorted({type(o).__module__ for o in gc.garbage})
        gc.set_debug(0)
        gc.garbage.clear()
        print(json.dumps({"answers": answers, "garbage": garbage,
                          "idle_readers": len(graph._idle_readers)}))
    finally:
        await graph.close()

asyncio.run(main(*sys.argv[1:]))
"""


def test_reads_leave_no_cyclic_garbage_and_reuse_their_session(neo4j_server, empty_graph, cypher):
    # A consumed result's reference cycles are broken at once (db/graph.py, `_release`): with
    # them, the garbage collector's passes over ~29 objects per read were the API's latency
    # tail. A driver upgrade that renames what `_release` clears fails here, not silently.
    cypher("CREATE (:T {id: 'a'}), (:T {id: 'b'})")
    done = subprocess.run([sys.executable, "-c", _GARBAGE_PROBE, neo4j_server.uri,
                           *neo4j_server.auth], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    rows, one = [{"id": "a"}, {"id": "b"}], {"id": "a"}
    assert probe["answers"] == [rows, one, None] * 20
    assert [m for m in probe["garbage"] if m.startswith("neo4j")] == []
    assert probe["idle_readers"] == 1  # one session served every read in turn
