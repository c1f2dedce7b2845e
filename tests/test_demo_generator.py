"""The data generator (`idgraph demo generate`): deterministic, streamed, realistic, and its
files ingest into real Neo4j with the traps handled as docs/identity.md says."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import subprocess
import sys
import tracemalloc
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from idgraph.demo.dataset import file_names, write_dataset
from idgraph.demo.generator import DEFAULT_NOW, SOURCES, TRAPS, generate, person_items
from idgraph.demo.people import COUNTRIES, household_of, phone_number
from idgraph.identity.items import Limits, validate_item
from idgraph.identity.namespaces import load_registry
from idgraph.identity.normalise import IdentityRejected, Normaliser, normalise_phone
from idgraph.profile.attributes import load_attribute_schema

REGISTRY = load_registry(None)
NORMALISE = Normaliser(REGISTRY, "US")
SCHEMA = load_attribute_schema()
NOW = dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "idgraph", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def tree(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def keys_of(item: dict) -> set[str]:
    return {NORMALISE(i["namespace"], i["value"]).key for i in item["identities"]}


# -- determinism and streaming ----------------------------------------------------------------
def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_ones(tmp_path):
    write_dataset(tmp_path / "a", 150, 7, NOW)
    write_dataset(tmp_path / "b", 150, 7, NOW)
    write_dataset(tmp_path / "c", 150, 8, NOW)
    write_dataset(tmp_path / "d", 150, 7, NOW + dt.timedelta(days=1))
    first = tree(tmp_path / "a")
    assert set(first) == {f"{s}.jsonl" for s in SOURCES} | {"manifest.json"}
    assert tree(tmp_path / "b") == first
    for other in ("c", "d"):
        changed = tree(tmp_path / other)
        assert all(changed[name] != first[name] for name in first)


def test_the_manifest_counts_what_the_files_hold(tmp_path):
    manifest = write_dataset(tmp_path, 200, 3, NOW)
    assert manifest["profiles"] == 200 and manifest["seed"] == 3
    assert manifest["now"] == "2025-07-01T12:00:00Z"
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    lines = {name: [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
             for name in manifest["files"]}
    for name, items in lines.items():
        assert manifest["files"][name] == {
            "records": sum("recordId" in i for i in items),
            "events": sum("eventId" in i for i in items)}
        source = name.removesuffix(".jsonl")
        assert {i["source"] for i in items} <= {source}
        assert manifest["sources"][source] == manifest["files"][name]
    traps = Counter(g.trap for g in generate(200, 3, NOW) if g.trap)
    assert manifest["traps"] == {trap: traps[trap] for trap in TRAPS}
    assert all(manifest["traps"][trap] > 0 for trap in TRAPS)
    assert manifest["records"] + manifest["events"] == sum(map(len, lines.values()))


def test_the_combined_layout_holds_the_same_lines_in_person_order(tmp_path):
    manifest = write_dataset(tmp_path / "one", 80, 4, NOW, combined=True)
    assert list(manifest["files"]) == ["all.jsonl"] and set(file_names(True).values()) == {
        "all.jsonl"}
    write_dataset(tmp_path / "many", 80, 4, NOW)
    combined = (tmp_path / "one" / "all.jsonl").read_text().splitlines()
    split = [line for source in SOURCES
             for line in (tmp_path / "many" / f"{source}.jsonl").read_text().splitlines()]
    assert sorted(combined) == sorted(split)
    assert combined == [json.dumps(g.item, separators=(",", ":"), ensure_ascii=False)
                        for g in generate(80, 4, NOW)]


def test_generation_is_lazy_and_each_person_stands_alone():
    assert inspect.isgeneratorfunction(generate) and inspect.isgeneratorfunction(person_items)
    # A trillion people: only what is taken is made.
    first = list(islice(generate(10 ** 12, 1, NOW), 30))
    assert first == list(islice(generate(3, 1, NOW), 30))
    # Person i depends on (seed, i) alone: fewer people is a prefix of more.
    fifty = list(generate(50, 9, NOW))
    assert list(generate(80, 9, NOW))[:len(fifty)] == fifty
    assert list(person_items(9, 10 ** 9, NOW)) == list(person_items(9, 10 ** 9, NOW))


def test_writing_more_people_needs_no_more_memory(tmp_path):
    def peak(people: int) -> int:
        tracemalloc.start()
        try:
            write_dataset(tmp_path / str(people), people, 1, NOW)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(100), peak(1000)
    # Held people would grow the peak tenfold (each is ~5 KB of items); streaming keeps it
    # to a person and the file buffers.
    assert large < small * 1.5 + 50_000, (small, large)


# -- realistic values ---------------------------------------------------------------------------
def test_every_item_validates_except_the_junk_ones_and_attributes_are_already_typed():
    limits = Limits()
    seen = Counter()
    for generated in generate(300, 11, NOW):
        item = generated.item
        if generated.trap == "junk_value":
            with pytest.raises(IdentityRejected) as caught:
                validate_item(item, generated.kind, REGISTRY, limits, NORMALISE, SCHEMA.typed)
            assert caught.value.code == "BLOCKED_VALUE"
            continue
        validate_item(item, generated.kind, REGISTRY, limits, NORMALISE, SCHEMA.typed)
        if generated.kind == "record":
            # Of the declared types already: typing changes nothing.
            assert SCHEMA.typed(item["attributes"]) is item["attributes"], item
            seen.update(path for path in ("age", "birthDate", "newsletter", "lifetimeValue")
                        if path in item["attributes"])
        when = dt.datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00"))
        assert NOW - dt.timedelta(days=365) <= when < NOW
    assert min(seen.values()) > 10, seen


def test_records_carry_the_attributes_of_each_source():
    crm = next(g.item for g in generate(20, 5) if g.source == "crm")
    attributes = crm["attributes"]
    assert set(attributes) == {"firstName", "lastName", "gender", "age", "birthDate",
                               "address", "newsletter"}
    born = dt.date.fromisoformat(attributes["birthDate"])
    assert isinstance(attributes["age"], int) and 18 <= attributes["age"] <= 85
    assert DEFAULT_NOW.year - born.year - 1 <= attributes["age"] <= DEFAULT_NOW.year - born.year
    assert isinstance(attributes["newsletter"], bool)
    kinds = Counter((g.source, g.item.get("type")) for g in generate(100, 5))
    for source, kind in [("web", "web.pageView"), ("app", "app.open"),
                         ("pos", "commerce.purchase"), ("email", "email.open"),
                         ("email", "email.click")]:
        assert kinds[source, kind] > 0, (source, kind)


@pytest.mark.parametrize("index", [0, 1, 9_999, 10_000, 123_456, 7_999_999, 9_999_999])
def test_phone_numbers_are_valid_in_every_country(index):
    e164 = {normalise_phone(phone_number(country, index), "US") for country in COUNTRIES}
    assert len(e164) == len(COUNTRIES)


# -- through the CLI into real Neo4j ------------------------------------------------------------
def test_the_cli_writes_the_dataset_and_refuses_a_bad_reference_time(tmp_path):
    done = cli("demo", "generate", "--profiles", "30", "--seed", "2", "--out",
               str(tmp_path / "out"), "--now", "2025-07-01T12:00:00Z", "--no-progress")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert (f"wrote {manifest['records']} records and {manifest['events']} events of 30 "
            f"people to {tmp_path / 'out'}/") in done.stdout
    write_dataset(tmp_path / "lib", 30, 2, NOW)
    assert tree(tmp_path / "out") == tree(tmp_path / "lib")
    bad = cli("demo", "generate", "--profiles", "3", "--out", str(tmp_path / "x"), "--now",
              "yesterday")
    assert bad.returncode == 1 and "--now 'yesterday' is not an ISO 8601 date" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_generated_files_ingest_with_the_traps_handled(neo4j_server, empty_graph, cypher,
                                                       tmp_path):
    people, seed = 60, 21
    manifest = write_dataset(tmp_path, people, seed, NOW)
    assert all(manifest["traps"][trap] > 0 for trap in TRAPS), manifest["traps"]
    env = {"NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    rejected = []
    for source in SOURCES:  # one file after another, as the CLI's hint says
        rejects = tmp_path / f"{source}.rejects"
        done = cli("ingest", str(tmp_path / f"{source}.jsonl"), "--rejects", str(rejects),
                   "--no-progress", env=env)
        assert done.returncode == 0, done.stderr
        rejected += [json.loads(line) for line in rejects.read_text().splitlines()]
    # Junk values: exactly the junk lines are rejected, with the reason.
    assert len(rejected) == manifest["traps"]["junk_value"]
    assert {r["code"] for r in rejected} == {"BLOCKED_VALUE"}
    assert all("is a known junk value" in r["message"] for r in rejected)

    truth = {i: [g for g in person_items(seed, i, NOW) if g.trap != "junk_value"]
             for i in range(people)}
    profile_of = {row["key"]: row["profile"] for row in cypher(
        "MATCH (i:Identity)-[:IN_PROFILE]->(p:Profile) RETURN i.key AS key, p.id AS profile")}
    tablets = _tablets(seed, people, truth)
    # Every person is exactly one profile (case variants of an e-mail are one identity), and
    # no two people share one: the shared tablets never joined a couple.
    owners: dict[str, int] = {}
    for index, items in truth.items():
        keys = set().union(*(keys_of(g.item) for g in items)) - set(tablets)
        [profile] = {profile_of[k] for k in keys}
        owners[profile] = index
    assert len(owners) == people == cypher("MATCH (p:Profile) RETURN count(p) AS n")[0]["n"]
    emails = {k for items in truth.values() for g in items for k in keys_of(g.item)
              if k.startswith("email:")}
    assert cypher("MATCH (i:Identity) WHERE i.key STARTS WITH 'email:' "
                  "RETURN count(i) AS n")[0]["n"] == len(emails)
    # A shared tablet follows its most recent login; the other member's link is refused.
    for tablet, (newest, other) in tablets.items():
        assert owners[profile_of[tablet]] == newest
        [link] = cypher("MATCH (:Identity {key: $t})-[l:LINK]-(:Identity {key: $login}) "
                        "RETURN l.status AS status, l.reason AS reason", t=tablet,
                        login=_login_key(truth[other]))
        assert link["status"] == "refused" and link["reason"].startswith("unique namespace login")
    # Conflicting attributes: the merged view holds the most recent record's value.
    for index, items in truth.items():
        view = cypher("MATCH (:Identity {key: $key})-[:IN_PROFILE]->()-[:VIEW]->(v) "
                      "RETURN v.age AS age, v.`address.city` AS city",
                      key=next(iter(keys_of(items[0].item))))[0]
        assert view["age"] == _latest(items, ("age",)), index
        assert view["city"] == _latest(items, ("address", "city")), index


def _tablets(seed: int, people: int, truth: dict[int, list]) -> dict[str, tuple[int, int]]:
    """Tablet key -> (the member whose login on it is the newest, the other member)."""
    found = {}
    for first in range(0, people - 1, 2):
        tablet = household_of(seed, first).tablet
        if tablet:
            last_login = {i: max(g.item["timestamp"] for g in truth[i]
                                 if g.trap == "shared_device") for i in (first, first + 1)}
            assert last_login[first] != last_login[first + 1]
            newest = max(last_login, key=last_login.__getitem__)
            found[f"device:{tablet.lower()}"] = (newest, first + 1 if newest == first else first)
    assert found, "the dataset has no shared tablet"
    return found


def _login_key(items: list) -> str:
    return next(k for g in items for k in keys_of(g.item) if k.startswith("login:"))


def _latest(items: list, path: tuple[str, ...]):
    """The value at `path` of the most recent record having it (the default merge policy)."""
    having = []
    for g in items:
        value = g.item.get("attributes", {})
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if g.kind == "record" and value is not None:
            having.append((g.item["timestamp"], value))
    if not having:
        return None
    having.sort()
    assert len(having) == 1 or having[-1][0] != having[-2][0]
    return having[-1][1]
