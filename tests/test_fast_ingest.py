"""The compiled bulk ingest (api/graphql/fast_ingest.py) answers every ingest mutation, caller
and variable exactly as the general path does, and stores the same: the same status, headers
and bytes (profile ids aside: they are drawn at random on every write), and the same profiles
read back afterwards.

Hypothesis writes the documents (operation and variable names, nullable or non-null lists, any
selection of IngestSummary, aliases, and wilder ones: fragments, directives, a second argument)
and the records: valid ones, ones the service rejects one by one (blank or bad identities,
timestamps out of range, sources with the separator, payloads that are no object), ones
graphql-core's coercion refuses or changes (missing and unknown fields, wrong types, a single
object for the list), integers beyond 64 bits, lists over the list cap, and every role. Each is
sent to an app with the fast path and to one without it (IDGRAPH_FAST_INGEST off), both on the
same Neo4j, each from an empty graph.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from idgraph.auth.roles import Role
from idgraph.collector import BULK_GC_THRESHOLDS
from tests.api_support import KEY_SPEC, KEYS, api_server
from tests.conftest import LiveServer, Neo4jServer, wipe
from tests.test_fast_path_equivalence import UNCHECKED_HEADERS, headers_for

MAX_LIST = 8  # the list cap of both apps: over-long lists are cheap to write
IDENTITIES: list[Any] = [
    {"namespace": "crm", "value": "C1"}, {"namespace": "email", "value": " Ann@X.com "},
    {"namespace": "ecid", "value": "E9"}, {"namespace": "crm", "value": "C2"},
    {"namespace": "email", "value": "zoë@x.com"}, {"namespace": "crm", "value": "C1"},
    {"namespace": "email", "value": "ann@x.com"}, {"namespace": "ecid", "value": "E9"},
    {"namespace": "email", "value": "bad"}, {"namespace": "nope", "value": "x"},  # rejected
    {"namespace": "crm", "value": " "},
    {"namespace": "crm"}, {"namespace": "crm", "value": 7}, None, "crm:C1",  # coercion's
    {"namespace": "crm", "value": "C1", "extra": 1},
]
# Every pool identity a profile could be read by afterwards.
READ_BACK = [("crm", "C1"), ("crm", "C2"), ("email", "ann@x.com"), ("ecid", "E9"),
             ("email", "zoë@x.com")]
TIMESTAMPS: list[Any] = [
    "2025-01-01T12:00:00Z", "2025-01-02T12:00:00.123+02:00", "2025-01-03",
    "20250104T120000Z", "2025-01-05T12:00:00.1234567Z", "2025-01-06 12:00",
    "2300-01-01T00:00:00Z", "1850-01-01T00:00:00Z",  # the service rejects these
    "not a date", "", 1735732800000, None, True,  # coercion refuses these
]
ATTRIBUTES: list[Any] = [
    {"name": "Zoë Ann", "score": 1.5, "vip": True, "tags": ["a", "ß"]},
    {"address": {"city": "Ålesund", "zip": "5003"}, "score": 2},
    {"huge": 2**70, "negative": -(2**64), "big": 1e16, "tiny": 5e-324},  # orjson's limits
    {"nested": {"a": [{"b": None}], "\u2028": "\x7f"}},
    {}, None, "not an object", 7, [1, 2],
]
UNSET = object()  # a field left out of a record


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """One record graphql-core takes as it is; the service may still reject it."""
    record = {"source": draw(st.sampled_from(["crm", "crm", "web", "a|b", " "])),
              "recordId": draw(st.sampled_from(["1", "2", "3", "1", ""])),
              "timestamp": draw(st.sampled_from(TIMESTAMPS[:8])),
              "identities": draw(st.lists(st.sampled_from(IDENTITIES[:11]), max_size=3))}
    attributes = draw(st.sampled_from([UNSET, UNSET, *ATTRIBUTES]))
    if attributes is not UNSET:
        record["attributes"] = attributes
    return record


@st.composite
def malformed(draw: st.DrawFn) -> Any:
    """A record graphql-core's coercion refuses or changes."""
    record = draw(records())
    field = draw(st.sampled_from(["source", "recordId", "timestamp", "identities"]))
    how = draw(st.sampled_from(["missing", "wrong", "unknown field", "not an object"]))
    if how == "missing":
        del record[field]
    elif how == "wrong":
        record[field] = draw(st.sampled_from({
            "source": [5, None], "recordId": [None, 1], "timestamp": TIMESTAMPS[8:],
            "identities": [IDENTITIES[0], None, *([i] for i in IDENTITIES[11:])]}[field]))
    elif how == "unknown field":
        record["unknown"] = 1
    else:
        record = draw(st.sampled_from([None, "a record", []]))
    return record


SUMMARY_FIELDS = {
    "dryRun": None, "accepted": None, "duplicates": None, "rejected": None,
    "errors": ["kind", "index", "code", "message", "__typename"],
    "profilesCreated": None, "merges": ["mergedProfileId", "intoProfileId"],
    "splits": ["profileId", "fromProfileIds"],
    "refusedLinks": ["a { namespace value }", "b { value firstSeen }", "reason"],
    "__typename": None,
}


@st.composite
def selection(draw: st.DrawFn, wild: bool) -> str:
    names = draw(st.lists(st.sampled_from(sorted(SUMMARY_FIELDS)), min_size=1, max_size=6,
                          unique=True))
    parts = []
    for name in names:
        text = draw(st.sampled_from([name, name, f"{name}_: {name}"]))
        inner = SUMMARY_FIELDS[name]
        if inner:
            text += " { " + " ".join(draw(st.lists(st.sampled_from(inner), min_size=1,
                                                   max_size=3, unique=True))) + " }"
        if wild and draw(st.integers(0, 5)) == 0:
            text += " @include(if: true)"
        parts.append(text)
    body = " ".join(parts)
    if wild and draw(st.booleans()):
        return "{ ... on IngestSummary { " + body + " } }"
    return "{ " + body + " }"


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """An ingest document: (text, its records variable, its operation name)."""
    wild = draw(st.integers(0, 5)) == 0
    variable = draw(st.sampled_from(["records", "r"]))
    operation = draw(st.sampled_from([None, "I", "Ingest"]))
    declared = draw(st.sampled_from(
        ["[RecordInput!]", "[RecordInput!]!", *(["[RecordInput]", "RecordInput!"] if wild
                                                else [])]))
    extra, argument = "", f"records: ${variable}"
    if wild and draw(st.booleans()):
        extra, argument = ", $e: [EventInput!]", f"{argument}, events: $e"
    alias = draw(st.sampled_from(["", "done: "]))
    text = (f"mutation {operation or ''}(${variable}: {declared}{extra}) "
            f"{{ {alias}ingest({argument}) {draw(selection(wild))} }}")
    return text, variable, operation


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A request body and its caller."""
    text, variable, operation = draw(documents())
    given: Any = draw(st.lists(records(), max_size=MAX_LIST + 1))
    if given and draw(st.integers(0, 4)) == 0:
        given[draw(st.integers(0, len(given) - 1))] = draw(malformed())
    if draw(st.integers(0, 9)) == 0:
        given = draw(st.sampled_from([None, given[0] if given else {}, "records"]))
    body: dict[str, Any] = {"query": text, "variables": {variable: given}}
    if draw(st.integers(0, 14)) == 0:
        body["variables"]["other"] = 1
    name = draw(st.sampled_from([None, None, None, operation, "Other"]))
    if name is not None:
        body["operationName"] = name
    caller = draw(st.sampled_from(["partner"] * 12 + ["admin"] * 2 + [
        "app", "analyst", "none", "invalid"]))
    return body, caller


PROFILE_IDS = re.compile(rb"[0-9a-f]{32}")


def canonical(body: bytes) -> bytes:
    """The body with each profile id replaced by its order of first appearance: ids are random
    (uuid4) on every write, everything else must be the same bytes."""
    seen: dict[bytes, bytes] = {}
    return PROFILE_IDS.sub(
        lambda m: seen.setdefault(m.group(), b"P%031d" % len(seen)), body)


def exchange(client: httpx.Client, payload: bytes,
             headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    answer = client.post("/graphql", content=payload, headers=headers)
    kept = [(k, v) for k, v in answer.headers.multi_items() if k not in UNCHECKED_HEADERS]
    return answer.status_code, kept, canonical(answer.content)


READ = "query { " + " ".join(
    f'p{n}: profile(identity: {{namespace: "{ns}", value: "{value}"}}) {{ size attributes '
    'merged: attributes(mergePolicy: "default") attributeProvenance { path value source '
    "recordId timestamp } identities { namespace value firstSeen lastSeen } }"
    for n, (ns, value) in enumerate(READ_BACK)) + " }"


def stored(client: httpx.Client) -> Any:
    """What the graph holds afterwards, read through the API by every pool identity."""
    answer = client.post("/graphql", json={"query": READ},
                         headers={"authorization": f"Bearer {KEYS[Role.ADMIN]}"})
    return answer.json()


OPEN_LIMITS = {"api_keys": KEY_SPEC, "rate_limit_burst": 10**9, "rate_limit_per_minute": 1e12,
               "auth_failure_burst": 10**9, "auth_failures_per_minute": 1e12,
               "max_list_length": MAX_LIST}


@pytest.fixture(scope="module")
def paths(neo4j_server: Neo4jServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    with api_server(neo4j_server, **OPEN_LIMITS) as fast, \
            api_server(neo4j_server, fast_ingest=False, **OPEN_LIMITS) as general:
        yield fast, general


class Paths:
    """Both apps and a client of each: `compare` sends one body to each, from an empty graph,
    and says which path the fast app took."""

    def __init__(self, fast: LiveServer, general: LiveServer, driver: Any) -> None:
        self.reads = fast.app.state.graphql.fast_reads
        self.to_fast = httpx.Client(base_url=fast.url, timeout=60)
        self.to_general = httpx.Client(base_url=general.url, timeout=60)
        self.driver = driver
        self.ids = itertools.count()
        self.warmed: set[str] = set()

    def compare(self, body: dict[str, Any], caller: str = "partner") -> str:
        if body["query"] not in self.warmed:  # the general path validates a text first
            self.warmed.add(body["query"])
            variable = next(iter(body["variables"]))
            self.to_fast.post("/graphql", json={"query": body["query"],
                                                "variables": {variable: []}},
                              headers={"authorization": f"Bearer {KEYS[Role.ADMIN]}"})
        payload = json.dumps(body, ensure_ascii=False).encode()  # orjson: no 2**70
        headers = headers_for(caller, None, f"ingest-{next(self.ids)}")
        wipe(self.driver)
        expected = exchange(self.to_general, payload, headers), stored(self.to_general)
        wipe(self.driver)
        served = self.reads.served
        answered = exchange(self.to_fast, payload, headers), stored(self.to_fast)
        assert answered == expected
        return "fast" if self.reads.served > served else "general"

    def close(self) -> None:
        self.to_fast.close()
        self.to_general.close()


@pytest.fixture(scope="module")
def both(paths: tuple[LiveServer, LiveServer], driver: Any) -> Iterator[Paths]:
    compared = Paths(*paths, driver)
    yield compared
    compared.close()


def test_the_fast_path_answers_and_stores_every_ingest_as_the_general_path(both):
    counts: Counter[str] = Counter()

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=cases())
    def check(case: tuple[dict[str, Any], str]) -> None:
        taken = both.compare(*case)
        counts[taken] += 1
        event(f"answered by the {taken} path")

    check()
    # Not vacuous: many of the generated ingests were answered by the fast path.
    assert counts["fast"] >= 20, counts


EVERYTHING = ("mutation I($records: [RecordInput!]!) { ingest(records: $records) { dryRun "
              "accepted duplicates rejected errors { kind index code message __typename } "
              "profilesCreated merges { mergedProfileId intoProfileId } "
              "splits { profileId fromProfileIds } refusedLinks { a { namespace value } "
              "b { namespace value firstSeen } reason } __typename } }")


def record(n: int, *identities: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"source": "crm", "recordId": str(n), "timestamp": "2025-01-01T12:00:00Z",
            "identities": list(identities) or [IDENTITIES[0]], **fields}


def test_every_timestamp_form_is_read_as_the_general_path_reads_it(both):
    """Each form the DateTime scalar takes, and ones the service then rejects (their messages
    quote the parsed value)."""
    records = [record(n, IDENTITIES[n % 3], timestamp=ts)
               for n, ts in enumerate(TIMESTAMPS[:8])]
    assert both.compare({"query": EVERYTHING, "variables": {"records": records}}) == "fast"


# Forms at the edges of the quick DateTime parse (fast_ingest.quick_datetime): the common form
# with its variants, and ones it hands to the scalar (hour 24) or that both refuse.
EDGE_TIMESTAMPS = ["2025-01-01T12:00:00", "2025-01-01T12:00:00-00:00",
                   "2025-01-01T12:00:00.5+05:30", "2025-01-01T24:00:00Z",
                   "2025-02-30T12:00:00Z", "2025-01-01T12:00:60Z", "2025-01-01T12:00:00+24:00"]


@pytest.mark.parametrize("timestamp", EDGE_TIMESTAMPS)
def test_timestamps_at_the_quick_parses_edges_are_read_as_the_general_path_reads_them(
        both, timestamp):
    records = [record(1, IDENTITIES[0], timestamp=timestamp)]
    both.compare({"query": EVERYTHING, "variables": {"records": records}})


DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")


@settings(max_examples=2000, deadline=None)
@given(year=st.integers(0, 9999), month=DIGITS, day=DIGITS, hour=DIGITS, minute=DIGITS,
       second=DIGITS, fraction=st.from_regex(r"(\.\d{1,7})?", fullmatch=True),
       offset=st.sampled_from(["", "Z", "+00:00", "-00:00", "+05:30", "-12:00", "+23:59",
                               "+24:00", "+05", "+0530"]),
       sep=st.sampled_from(["T", " ", "t"]))
def test_the_quick_datetime_parse_gives_the_scalars_instant_or_hands_over(
        year, month, day, hour, minute, second, fraction, offset, sep):
    """Pure: on any date-time-like string, the quick parse gives what the schema's DateTime
    scalar gives (the same value, down to its repr), or fails where it fails."""
    from strawberry.schema.types.base_scalars import DateTimeDefinition

    from idgraph.api.graphql.fast_ingest import quick_datetime

    text = f"{year:04d}-{month}-{day}{sep}{hour}:{minute}:{second}{fraction}{offset}"
    scalar = DateTimeDefinition.parse_value
    outcomes = []
    for parse in (scalar, quick_datetime(scalar)):
        try:
            outcomes.append(parse(text))
        except Exception as exc:  # noqa: BLE001 - the kind of failure is compared
            outcomes.append(type(exc))
    expected, quick = outcomes
    # repr too: a rejection's message quotes the parsed value (its zone object included)
    assert (quick, repr(quick)) == (expected, repr(expected))


@pytest.mark.parametrize("attributes", ATTRIBUTES)
def test_attributes_are_stored_as_the_general_path_stores_them(both, attributes):
    """Integers beyond 64 bits (which orjson reads as floats) included."""
    records = [record(1, IDENTITIES[0], IDENTITIES[1], attributes=attributes)]
    assert both.compare({"query": EVERYTHING, "variables": {"records": records}}) == "fast"


def test_links_merges_and_rejections_are_reported_alike(both):
    records = [record(1, IDENTITIES[0], IDENTITIES[1]), record(2, IDENTITIES[2]),
               record(3, IDENTITIES[6], IDENTITIES[2], source="web"),
               record(4, IDENTITIES[3], IDENTITIES[6]), record(1, IDENTITIES[0]),
               record(5, IDENTITIES[8]), record(6, source="a|b")]
    assert both.compare({"query": EVERYTHING, "variables": {"records": records}}) == "fast"


@pytest.mark.parametrize("bad", [
    {"unknown": 1}, {"source": None}, {"recordId": 7}, {"timestamp": 1735732800000},
    {"timestamp": "not a date"}, {"identities": IDENTITIES[0]}, {"identities": [None]},
    {"identities": [{"namespace": "crm", "value": "C1", "extra": 1}]},
    {"identities": [{"namespace": "crm", "value": 7}]}, {"identities": [{"value": "C1"}]},
])
def test_records_coercion_refuses_or_changes_go_the_general_way(both, bad):
    records = [record(1), {**record(2), **bad}]
    assert both.compare({"query": EVERYTHING, "variables": {"records": records}}) == "general"


def test_a_record_without_a_required_field_goes_the_general_way(both):
    for name in ("source", "recordId", "timestamp", "identities"):
        incomplete = {k: v for k, v in record(2).items() if k != name}
        body = {"query": EVERYTHING, "variables": {"records": [record(1), incomplete]}}
        assert both.compare(body) == "general"


@pytest.mark.parametrize("caller", ["app", "analyst", "none", "invalid"])
def test_callers_without_the_partner_role_get_the_general_paths_refusal(both, caller):
    body = {"query": EVERYTHING, "variables": {"records": [record(1)]}}
    assert both.compare(body, caller) == "general"


def test_lists_over_the_cap_get_the_general_paths_refusal(both):
    over = [record(n) for n in range(MAX_LIST + 1)]
    assert both.compare({"query": EVERYTHING, "variables": {"records": over}}) == "general"
    many = [record(1, *IDENTITIES[:MAX_LIST + 1])]  # a record's identities count as a list too
    assert both.compare({"query": EVERYTHING, "variables": {"records": many}}) == "general"


def test_the_api_runs_the_collector_with_the_bulk_thresholds_while_it_serves(neo4j_server):
    """Full collections of everything the process holds were a fifth of its CPU in a bulk
    ingest (collector.py); the thresholds are the process's own again once it stops."""
    outside = gc.get_threshold()  # another test's live API may hold the bulk thresholds
    gc.set_threshold(700, 10, 10)
    try:
        with api_server(neo4j_server):
            assert gc.get_threshold() == BULK_GC_THRESHOLDS
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*outside)


def test_compiled_ingests_are_counted_in_metrics_as_mutations(live_api, empty_graph):
    query = "mutation Load($r: [RecordInput!]) { ingest(records: $r) { accepted } }"
    reads = live_api.app.state.graphql.fast_reads

    def count() -> float:
        text = httpx.get(f"{live_api.url}/metrics").text
        line = next((ln for ln in text.splitlines() if ln.startswith(
            'idgraph_graphql_operations_total{operation="Load",type="mutation"}')), None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    def send(n: int) -> None:
        answer = httpx.post(f"{live_api.url}/graphql", json={"query": query, "variables": {
            "r": [record(n)]}})
        assert answer.json() == {"data": {"ingest": {"accepted": 1}}}

    send(1)  # the general path validates the text
    start, served = count(), reads.served
    for n in range(2, 5):
        send(n)
    assert reads.served == served + 3
    assert count() == start + 3
