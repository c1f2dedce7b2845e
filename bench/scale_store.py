"""A reusable store of N profiles of 3 identities each, for bench/scale.py.

It holds exactly what idgraph's ingest writes for one record of three new identities (checked
against a real ingest: identity/repository.py's CLAIM_RECORDS, STORE_EVIDENCE and
WRITE_CLUSTERS, the views and counters stages): the Record and its KEYED_BY relationships, three
Identities, the three LINKs between them (lower key first), the Profile with its IN_PROFILE
members, and its ProfileView. The CRM record carries two attributes (`attributes`: a
`loyaltyTier` and an `age`), which the view holds as properties and in `_json`, as the views
stage writes them, so a segment rule has something to test (bench/growth.py). The counters are
then backfilled by idgraph's own code. (A store built before the attributes were added has
views without them: delete `.idgraph/bench-scale-<port>` to rebuild it.)

A large store is written offline by `neo4j-admin database import` from CSV files
(`import_store`: minutes for 1,000,000 profiles, where Cypher CREATEs took hours on a busy
2-core machine), then idgraph's schema is applied (its constraints build the indexes); a small
one, or the rest of one, by the bare driver (`load`). The store lives in
`.idgraph/bench-scale-<port>` and is kept: a later run finds it loaded (a `BenchScale` node says
how far) and resumes or skips the load. Runs that add data remove it again (`remove_keys`), so
the store keeps its size.

With `events=True` (bench/segments.py `--scale`) the import adds about ten events per person
over the year before 2026-01-01 (`EVENTS_NOW`), as ingest stores them (`CLAIM_EVENTS`: the JSON
`properties` and its values flattened as `p.<path>`; an `ABOUT` to one identity): page views on
the cookie, e-mail opens on the e-mail, 0-6 purchases a year on the CRM id. Such a store has a
directory of its own (`bench-scale-events-<port>`) and is only ever imported.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import subprocess
import time
from pathlib import Path

import neo4j

from bench.common import Timer
from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema
from idgraph.profile import counters
from idgraph.profile import repository as profile_queries

LOAD = """
UNWIND $rows AS row
WITH row, row[0] AS n, row[1] AS pid, $ts0 + row[0] AS ts
CREATE (r:Record {key: 'crm|L' + n, source: 'crm', recordId: 'L' + n, ts: ts,
                  attributes: row[2], batch: $batch, ingestedAt: $now})
CREATE (a:Identity {key: 'crm:C' + n, namespace: 'crm', value: 'C' + n, firstSeen: ts,
                    lastSeen: ts, createdBatch: $batch})
CREATE (b:Identity {key: 'ecid:k' + n + 'a', namespace: 'ecid', value: 'k' + n + 'a',
                    firstSeen: ts, lastSeen: ts, createdBatch: $batch})
CREATE (c:Identity {key: 'email:user' + n + '@example.com', namespace: 'email',
                    value: 'user' + n + '@example.com', firstSeen: ts, lastSeen: ts,
                    createdBatch: $batch})
CREATE (r)-[:KEYED_BY]->(a), (r)-[:KEYED_BY]->(b), (r)-[:KEYED_BY]->(c)
WITH * UNWIND [[a, b], [a, c], [b, c]] AS pair
WITH row, r, a, b, c, n, pid, ts, pair[0] AS x, pair[1] AS y
CREATE (x)-[:LINK {source: 'crm', firstSeen: ts, lastSeen: ts, count: 1,
                   firstRecordId: 'L' + n, lastRecordId: 'L' + n, status: 'active',
                   batch: $batch}]->(y)
WITH DISTINCT row, a, b, c, pid
CREATE (p:Profile {id: pid, createdAt: $now, updatedAt: $now, size: 3, primaryKey: a.key,
                   createdBy: 'ingest:bench-scale'})
CREATE (a)-[:IN_PROFILE]->(p), (b)-[:IN_PROFILE]->(p), (c)-[:IN_PROFILE]->(p)
CREATE (p)-[:VIEW]->(:ProfileView {_profile: pid, _size: 3, _isTest: false, _stitched: true,
                                   _json: row[2], _policy: 'default', _policyRevision: 0,
                                   _updatedAt: $now, loyaltyTier: row[3], age: row[4]})
WITH count(*) AS written
MERGE (s:BenchScale {name: 'load'})
SET s.profiles = $upto
"""
LOADED = "OPTIONAL MATCH (s:BenchScale {name: 'load'}) RETURN coalesce(s.profiles, 0) AS n"
TS0 = 1_700_000_000_000


def config(port: int, heap: str = "2g", pagecache: str = "3g", events: bool = False
           ) -> local_server.LocalServerConfig:
    kind = "bench-scale-events" if events else "bench-scale"
    return local_server.LocalServerConfig(
        version=Settings().local_neo4j_version, bolt_port=port,
        state_dir=Path(f".idgraph/{kind}-{port}"), cache_dir=Settings().local_neo4j_cache_dir,
        heap=heap, pagecache=pagecache, start_timeout=600)


def profile_id(n: int) -> str:
    """A profile id shaped like idgraph's (32 hex digits), deterministic per person."""
    return hashlib.md5(b"bench-scale-%d" % n).hexdigest()


def email(n: int) -> str:
    return f"user{n}@example.com"


TIERS = ["platinum", "gold"] + ["silver"] * 6 + ["bronze"] * 12


def attributes(n: int) -> dict[str, object]:
    """Person n's CRM attributes, which a segment rule can test (bench/growth.py): one in ten
    gold or platinum, ages 18-67 spread evenly. The record carries them and the view holds them
    as properties (and in `_json`), as the views stage writes them for such a record."""
    return {"loyaltyTier": TIERS[n % len(TIERS)], "age": 18 + (n * 37) % 50}


def attributes_json(n: int) -> str:
    # The views stage's `_json` form (sorted keys, no spaces); the record's payload alike.
    return json.dumps(attributes(n), sort_keys=True, separators=(",", ":"))


def loaded(driver: neo4j.Driver) -> int:
    try:
        return int(driver.execute_query(LOADED).records[0]["n"])
    except neo4j.exceptions.DatabaseUnavailable:  # e.g. an interrupted import: replace it
        return 0


def load(driver: neo4j.Driver, target: int, chunk: int = 5_000) -> int:
    """Load people 0..target-1 (resuming where an earlier load stopped)."""
    have = loaded(driver)
    started, first = time.monotonic(), have
    while have < target:
        upto = min(have + chunk, target)
        rows = [[n, profile_id(n), attributes_json(n), *attributes(n).values()]
                for n in range(have, upto)]
        driver.execute_query(LOAD, rows=rows, ts0=TS0, batch=upto, now=int(time.time() * 1000),
                             upto=upto)
        have = upto
        if have % 50_000 == 0 or have == target:
            rate = (have - first) / (time.monotonic() - started)
            print(f"  loaded {have:,} profiles ({rate:,.0f}/s)", flush=True)
    return have


async def _prepare(uri: str, auth: tuple[str, str] | None) -> None:
    graph = Graph(uri, auth, "neo4j", timeout=3600)
    try:
        await apply_schema(graph)
    finally:
        await graph.close()


# The dashboard counters (profile/counters.py) as its backfill leaves them. (Sizes are the
# profiles' stored `size`: the backfill no longer writes a counted size on every profile, whose
# one transaction on a million profiles ran a 2 GB heap into back-to-back collections.)
NAMESPACES = """
MATCH (i:Identity) WHERE EXISTS { (i)-[:IN_PROFILE]->(:Profile) }
RETURN i.namespace AS namespace, count(*) AS n
"""
SIZES = "MATCH (p:Profile) RETURN p.size AS size, count(*) AS n"


def _backfill_counters(driver: neo4j.Driver) -> None:
    found = {("size", str(r["size"])): r["n"] for r in driver.execute_query(SIZES).records}
    found |= {("namespace", r["namespace"]): r["n"]
              for r in driver.execute_query(NAMESPACES).records}
    driver.execute_query(profile_queries.RESET_COUNTERS, rows=counters._delta_rows(found, 0))


def ensure(port: int, target: int, events: bool = False, pagecache: str = "3g"
           ) -> tuple[str, tuple[str, str] | None]:
    """Start the store's server and load it up to `target` profiles; returns (uri, auth)."""
    cfg = config(port, pagecache=pagecache, events=events)
    uri = local_server.start(cfg)
    auth = cfg.auth
    with neo4j.GraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF") as driver:
        have = loaded(driver)
    if events and have != target or have < target and target - have > IMPORT_ABOVE:
        # an empty or partial store is replaced: faster than the rest
        import_store(cfg, target, events)
        uri = local_server.start(cfg)
    with Timer() as t:
        asyncio.run(_prepare(uri, auth))  # on an imported store: builds every index
    print(f"  schema applied in {t.seconds:.0f} s", flush=True)
    with neo4j.GraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF") as driver:
        if loaded(driver) < target:
            load(driver, target)
        if not _counted(driver):
            _backfill_counters(driver)
    return uri, auth


IMPORT_ABOVE = 20_000  # profiles to add past which an offline import is faster


def _counted(driver: neo4j.Driver) -> bool:
    ready = "OPTIONAL MATCH (r:CountersReady) RETURN r IS NOT NULL AS ready"
    return bool(driver.execute_query(ready).records[0]["ready"])


REMOVE_RECORDS = """
UNWIND $keys AS key
MATCH (r:Record {key: key})
DETACH DELETE r
"""
# Identities a run added, with the profiles (and views) they made; runs only add new people.
REMOVE_IDENTITIES = """
UNWIND $keys AS key
MATCH (i:Identity {key: key})
OPTIONAL MATCH (i)-[:IN_PROFILE]->(p:Profile)
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
DETACH DELETE i, p, v
"""


REMOVE_IDENTITY_NODES = """
UNWIND $keys AS key
MATCH (i:Identity {key: key})
DETACH DELETE i
"""


def remove_identities_only(driver: neo4j.Driver, identity_keys: list[str]) -> None:
    """Remove identities a run added to known people; their profiles stay."""
    _remove(driver, REMOVE_IDENTITY_NODES, identity_keys)


def remove_keys(driver: neo4j.Driver, record_keys: list[str], identity_keys: list[str]) -> None:
    """Remove what a run added (records and new people), so the store keeps its size."""
    _remove(driver, REMOVE_RECORDS, record_keys)
    _remove(driver, REMOVE_IDENTITIES, identity_keys)


def _remove(driver: neo4j.Driver, statement: str, keys: list[str], chunk: int = 5_000) -> None:
    for start in range(0, len(keys), chunk):
        driver.execute_query(statement, keys=keys[start:start + chunk])


# The CSV headers of `neo4j-admin database import` (typed columns), one file per node label and
# relationship type, in the shape LOAD writes. Node ids: person n's record 6n, identities 6n+1..3
# (crm, ecid, email: their keys' order, so links go from the lower key), profile 6n+4, view 6n+5.
HEADERS = {
    "records": ":ID,key,source,recordId,ts:long,attributes,batch:long,ingestedAt:long,:LABEL",
    "identities": ":ID,key,namespace,value,firstSeen:long,lastSeen:long,createdBatch:long,"
                  ":LABEL",
    "profiles": ":ID,id,createdAt:long,updatedAt:long,size:long,primaryKey,createdBy,:LABEL",
    "views": ":ID,_profile,_size:long,_isTest:boolean,_stitched:boolean,_json,_policy,"
             "_policyRevision:long,_updatedAt:long,loyaltyTier,age:long,:LABEL",
    "state": ":ID,name,profiles:long,:LABEL",
    "events": ":ID,key,source,eventId,type,ts:long,properties,batch:long,ingestedAt:long,"
              "p.url,p.campaign,p.value:double,p.currency,p.store,p.items:long,:LABEL",
    "about_rels": ":START_ID,:END_ID,:TYPE",
    "plain_rels": ":START_ID,:END_ID,:TYPE",
    "links": ":START_ID,:END_ID,source,firstSeen:long,lastSeen:long,count:long,firstRecordId,"
             "lastRecordId,status,batch:long,:TYPE",
}


def write_csvs(folder: Path, target: int, events: bool = False, chunk: int = 50_000
               ) -> dict[str, Path]:
    """The import files of people 0..target-1 (one batch per `chunk` people, as LOAD's)."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    names = [name for name in HEADERS if events or name not in EVENT_FILES]
    paths = {name: folder / f"{name}.csv" for name in names}
    files = {name: path.open("w", newline="") for name, path in paths.items()}
    try:
        for name in names:
            files[name].write(HEADERS[name] + "\n")
        out = {name: csv.writer(f) for name, f in files.items()}
        now = int(time.time() * 1000)
        out["state"].writerow([6 * target, "load", target, "BenchScale"])
        next_id = 6 * target + 1  # events' node ids follow the people's and the state's
        for n in range(target):
            batch = (n // chunk + 1) * chunk
            _write_person(out, n, now, batch)
            if events:
                next_id = _write_events(out, n, now, batch, next_id)
    finally:
        for f in files.values():
            f.close()
    return paths


def _write_person(out: dict, n: int, now: int, batch: int) -> None:  # type: ignore[type-arg]
    base, ts, rid, pid = 6 * n, TS0 + n, f"L{n}", profile_id(n)
    attrs = attributes_json(n)
    out["records"].writerow([base, f"crm|{rid}", "crm", rid, ts, attrs, batch, now, "Record"])
    keys = []
    for k, (namespace, value) in enumerate((("crm", f"C{n}"), ("ecid", f"k{n}a"),
                                            ("email", email(n))), start=1):
        keys.append(f"{namespace}:{value}")
        out["identities"].writerow([base + k, keys[-1], namespace, value, ts, ts, batch,
                                    "Identity"])
        out["plain_rels"].writerow([base, base + k, "KEYED_BY"])
        out["plain_rels"].writerow([base + k, base + 4, "IN_PROFILE"])
    for a, b in ((1, 2), (1, 3), (2, 3)):
        out["links"].writerow([base + a, base + b, "crm", ts, ts, 1, rid, rid, "active", batch,
                               "LINK"])
    out["profiles"].writerow([base + 4, pid, now, now, 3, keys[0], "ingest:bench-scale",
                              "Profile"])
    out["views"].writerow([base + 5, pid, 3, "false", "true", attrs, "default", 0, now,
                           *attributes(n).values(), "ProfileView"])
    out["plain_rels"].writerow([base + 4, base + 5, "VIEW"])


EVENT_FILES = ("events", "about_rels")
EVENTS_NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z, bench/segments.py's NOW
YEAR_MS = 365 * 86_400_000
PAGES = ["/", "/shoes", "/sale", "/account", "/stores"]


def _event_times(rng: random.Random, count: int) -> list[int]:
    return sorted(EVENTS_NOW - rng.randrange(1_000, YEAR_MS) // 1000 * 1000 for _ in range(count))


def _write_events(out: dict, n: int, now: int, batch: int, next_id: int) -> int:  # type: ignore[type-arg]
    """Person n's events (about ten: the generator's sources' mix), from node id `next_id`;
    returns the next free id. Identities: crm 6n+1, ecid 6n+2, email 6n+3."""
    rng = random.Random(n)
    base = 6 * n
    rows = []
    for k, ts in enumerate(_event_times(rng, rng.randint(1, 6))):
        url = rng.choice(PAGES)
        rows.append((base + 2, "web", f"pv-{n}-{k}", "web.pageView", ts, {"url": url}))
    for k, ts in enumerate(_event_times(rng, rng.randint(0, 6))):
        campaign = f"newsletter-{k % 12 + 1:02d}"
        rows.append((base + 3, "email", f"email.open-{n}-{k}", "email.open", ts,
                     {"campaign": campaign}))
    for k, ts in enumerate(_event_times(rng, rng.randint(0, 6))):
        props = {"value": round(rng.uniform(5, 300), 2), "currency": "EUR",
                 "store": f"Store #{rng.randint(1, 9)}", "items": rng.randint(1, 5)}
        rows.append((base + 1, "pos", f"receipt-{n}-{k}", "commerce.purchase", ts, props))
    for identity, source, event_id, kind, ts, props in rows:
        text = json.dumps(props, sort_keys=True, separators=(",", ":"))
        flat = [props.get(name) for name in ("url", "campaign", "value", "currency", "store",
                                             "items")]
        out["events"].writerow([next_id, f"{source}|{event_id}", source, event_id, kind, ts, text,
                                batch, now, *("" if v is None else v for v in flat), "Event"])
        out["about_rels"].writerow([next_id, identity, "ABOUT"])
        next_id += 1
    return next_id


def import_store(cfg: local_server.LocalServerConfig, target: int, events: bool = False) -> None:
    """Replace the store's database by an offline import of `target` people (server stopped)."""
    from idgraph.db.local_auth import ADMIN_TOOL

    local_server.stop(cfg)
    folder = cfg.home / "import" / "bench-scale"
    started = time.monotonic()
    paths = write_csvs(folder, target, events)
    print(f"  wrote the import files in {time.monotonic() - started:.0f} s", flush=True)
    nodes = [paths[n] for n in ("records", "identities", "profiles", "views", "state", "events")
             if n in paths]
    rels = [paths[n] for n in ("plain_rels", "links", "about_rels") if n in paths]
    lib = local_server.ensure_jars(cfg)
    env = {**os.environ, "NEO4J_HOME": str(cfg.home), "NEO4J_CONF": str(cfg.home / "conf")}
    command = [local_server.find_java(), "-Xmx2g", "-cp", f"{lib}/*", ADMIN_TOOL, "database",
               "import", "full", "neo4j", "--overwrite-destination=true", "--id-type=integer",
               "--high-parallel-io=on",
               f"--report-file={cfg.home / 'logs' / 'import.report'}",
               *(f"--nodes={p}" for p in nodes),
               *(f"--relationships={p}" for p in rels)]
    subprocess.run(command, env=env, check=True)
    for path in paths.values():
        path.unlink()
    print(f"  imported {target:,} profiles in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="load (or resume loading) a scale store")
    parser.add_argument("--port", type=int, default=17737)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", action="store_true", help="about ten events per person")
    args = parser.parse_args()
    print(ensure(args.port, args.profiles, args.events)[0])
