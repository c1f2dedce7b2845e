"""Planning a file ingest (ingest/planning.py): lines that share identities are handed to the
service together, wherever they sit in the file; nothing is lost, reordered within a group or
held past its bound."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.identity.namespaces import load_registry
from idgraph.identity.normalise import Normaliser
from idgraph.ingest.files import FileLine
from idgraph.ingest.planning import ALONE, Regrouper, plan_lines
from idgraph.ingest.runner import ingest_file

NORMALISE = Normaliser(load_registry(None), "US")


def line(number: int, *identities: tuple[str, str]) -> FileLine:
    item = {"source": "crm", "recordId": str(number), "timestamp": "2025-01-01T00:00:00Z",
            "identities": [{"namespace": ns, "value": v} for ns, v in identities]}
    return FileLine(number, json.dumps(item), item, None)


def test_lines_sharing_a_normalised_identity_form_one_group():
    lines = [line(1, ("crm", "C1"), ("email", "Ann@X.com ")),
             line(2, ("crm", "C2")),
             line(3, ("email", "ann@x.com"), ("ecid", "E1")),  # joins line 1 after normalising
             line(4, ("email", "anonymous")),  # a junk value joins nothing
             line(5, ("email", "anonymous"), ("crm", "C2")),  # ... so this only joins line 2
             FileLine(6, "{not json", None, "invalid JSON"),
             line(7, ("ecid", "E1"))]
    plan = plan_lines(lines, NORMALISE)
    groups = list(plan.group_of)
    assert groups[0] == groups[2] == groups[6] != groups[1]
    assert groups[1] == groups[4]
    assert groups[3] == groups[5] == ALONE
    assert plan.last_line[groups[0]] == 6 and plan.last_line[groups[1]] == 4


def test_a_group_is_released_whole_when_its_last_line_is_read():
    lines = [line(1, ("crm", "A")), line(2, ("crm", "B")), line(3, ("crm", "A")),
             FileLine(4, "x", None, "bad"), line(5, ("crm", "B")), line(6, ("crm", "C"))]
    regroup = Regrouper(plan_lines(lines, NORMALISE), max_held=100)
    released = [[x.number for x in regroup.add(one)] for one in lines]
    assert released == [[], [], [1, 3], [4], [2, 5], [6]]
    assert list(regroup.rest()) == []


def test_past_its_bound_the_oldest_group_is_released_early():
    lines = [line(1, ("crm", "A")), line(2, ("crm", "B")), line(3, ("crm", "C")),
             line(4, ("crm", "A")), line(5, ("crm", "B")), line(6, ("crm", "C"))]
    regroup = Regrouper(plan_lines(lines, NORMALISE), max_held=2)
    released = [[x.number for x in regroup.add(one)] for one in lines]
    # Three open groups, room for two lines: A goes early (its line 4 follows alone).
    assert released == [[], [], [1], [4], [2, 5], [3, 6]] and regroup.held_count == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), min_size=0, max_size=3), max_size=40),
       st.integers(1, 50))
def test_every_line_comes_out_once_and_groups_stay_together(people, max_held):
    lines = [line(n, *(("crm", f"C{p}") for p in ids)) for n, ids in enumerate(people)]
    plan = plan_lines(lines, NORMALISE)
    regroup = Regrouper(plan, max_held)
    out = [x for one in lines for x in regroup.add(one)] + list(regroup.rest())
    assert sorted(x.number for x in out) == list(range(len(lines)))
    assert regroup.held_count == 0
    position = {x.number: i for i, x in enumerate(out)}
    for group in set(plan.group_of) - {ALONE}:
        members = [n for n, g in enumerate(plan.group_of) if g == group]
        assert members == sorted(members, key=position.get)  # file order within a group
        if max_held >= len(lines):  # nothing released early: the group is contiguous
            spots = sorted(position[n] for n in members)
            assert spots == list(range(spots[0], spots[0] + len(spots)))


async def test_a_persons_records_far_apart_in_a_file_go_in_one_batch(services, cypher,
                                                                     tmp_path):
    # Windows of 10 lines (batch size 1, one batch in flight): C7's first and last records
    # are 24 lines apart. Without the plan they went in different windows, so different
    # batches (the second one reading the profile back); now in one.
    service = services.identity
    service.concurrency = 1
    records = [{"source": "crm", "recordId": str(n), "timestamp": "2025-01-01T00:00:00Z",
                "identities": [{"namespace": "crm", "value": f"C{n}"}]} for n in range(30)]
    records[29]["identities"] = [{"namespace": "crm", "value": "C7"},
                                 {"namespace": "email", "value": "c7@x.com"}]
    path = tmp_path / "spread.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = await ingest_file(service, path, 1, show_progress=False, window_lines=10)
    assert summary.accepted == 30
    batches = cypher("MATCH (r:Record)-[:KEYED_BY]->(:Identity {key: 'crm:C7'}) "
                     "RETURN collect(DISTINCT r.batch) AS b")[0]["b"]
    assert len(batches) == 1


async def test_windows_overlap_and_their_results_come_in_file_order(services, cypher, tmp_path):
    # 60 lines, windows of up to 20 (batch size 1, two batches in flight): the file goes in as
    # several service calls, two of them in flight at once; rejects still come out in line
    # order.
    service = services.identity
    service.concurrency = 2
    in_flight, most = 0, 0
    real_ingest = service.ingest

    async def counting_ingest(*args, **kwargs):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await real_ingest(*args, **kwargs)
        finally:
            in_flight -= 1

    service.ingest = counting_ingest
    texts = []
    for n in range(1, 61):
        value = "anonymous" if n in (5, 26, 45) else f"C{n}"
        texts.append("{not json" if n in (15, 33) else json.dumps(
            {"source": "crm", "recordId": str(n), "timestamp": "2025-01-01T00:00:00Z",
             "identities": [{"namespace": "crm", "value": value}]}))
    path, rejects = tmp_path / "windows.jsonl", tmp_path / "rejects.jsonl"
    path.write_text("\n".join(texts) + "\n")
    summary = await ingest_file(service, path, 1, rejects_path=rejects, show_progress=False,
                                window_lines=10)
    assert most == 2
    assert (summary.accepted, summary.rejected) == (55, 5)
    assert summary.rejected_by_code == {"BLOCKED_VALUE": 3, "UNREADABLE_LINE": 2}
    written = [json.loads(x)["line"] for x in rejects.read_text().splitlines()]
    assert written == [5, 15, 26, 33, 45]
    assert cypher("MATCH (r:Record)-[:KEYED_BY]->() RETURN count(r) AS n")[0]["n"] == 55


async def test_a_planned_files_windows_start_at_one_round_of_batches_and_double(
        services, tmp_path):
    # Neo4j waits for the first window's validation: it holds one round of batches (batch size
    # 1, two in flight), and each next window twice the last, up to the full 20 lines.
    service = services.identity
    service.concurrency = 2
    real_ingest, sizes = service.ingest, []

    async def sizing_ingest(records, *args, **kwargs):
        sizes.append(len(records))
        return await real_ingest(records, *args, **kwargs)

    service.ingest = sizing_ingest
    path = tmp_path / "ramp.jsonl"
    path.write_text("".join(json.dumps(
        {"source": "crm", "recordId": str(n), "timestamp": "2025-01-01T00:00:00Z",
         "identities": [{"namespace": "crm", "value": f"C{n}"}]}) + "\n" for n in range(60)))
    summary = await ingest_file(service, path, 1, show_progress=False, window_lines=10)
    assert summary.accepted == 60
    assert sizes == [2, 4, 8, 16, 20, 10]


async def test_a_failing_window_stops_the_file_and_leaves_nothing_running(services, tmp_path):
    service = services.identity
    service.concurrency = 2
    real_ingest, calls = service.ingest, []

    async def second_call_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("window 2 failed")
        await asyncio.sleep(0.2)  # slow, so a third window is in flight when the failure is taken
        return await real_ingest(*args, **kwargs)

    service.ingest = second_call_fails
    path = tmp_path / "fails.jsonl"
    path.write_text("".join(json.dumps(
        {"source": "crm", "recordId": str(n), "timestamp": "2025-01-01T00:00:00Z",
         "identities": [{"namespace": "crm", "value": f"C{n}"}]}) + "\n" for n in range(60)))
    with pytest.raises(RuntimeError, match="window 2 failed"):
        await ingest_file(service, path, 1, show_progress=False, window_lines=10)
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_lines_read_as_the_standard_library_reads_them(tmp_path):
    # Lines are parsed with orjson; what only the standard library reads (NaN, an integer
    # past 64 bits) still reads, and a broken line keeps the standard library's message.
    import io

    from idgraph.ingest.files import read_items

    text = ('{"a": 1, "b": [true, null], "c": "\\u00e9"}\n\n'
            '{"n": NaN, "big": 123456789012345678901234567890}\n'
            '{"a": }\n[1]\n')
    lines = list(read_items(tmp_path / "x.jsonl", io.StringIO(text)))
    assert [x.number for x in lines] == [1, 3, 4, 5]
    assert lines[0].item == {"a": 1, "b": [True, None], "c": "é"}
    assert lines[1].item["big"] == 123456789012345678901234567890
    assert lines[1].item["n"] != lines[1].item["n"]  # NaN
    assert lines[2].item is None and lines[2].error.startswith("invalid JSON: Expecting value")
    assert lines[3].item is None and lines[3].error == "a line must be a JSON object"


async def test_a_pipe_is_read_once_and_ingested_unplanned(services, cypher, tmp_path):
    import contextlib
    import os
    import threading

    pipe = tmp_path / "records.jsonl"
    os.mkfifo(pipe)
    lines = "".join(json.dumps({"source": "crm", "recordId": str(n),
                                "timestamp": "2025-01-01T00:00:00Z",
                                "identities": [{"namespace": "crm", "value": f"C{n % 3}"}]})
                    + "\n" for n in range(9))

    def write() -> None:
        with pipe.open("w") as out:
            out.write(lines)

    def unblock_a_second_read() -> None:
        # Were the pipe opened again (a second pass), that open would wait for a writer for
        # ever: give it an empty one after a while, so the test fails instead of hanging.
        if done.wait(10):
            return
        with contextlib.suppress(OSError):
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))

    done = threading.Event()
    threading.Thread(target=write).start()
    threading.Thread(target=unblock_a_second_read, daemon=True).start()
    try:
        summary = await ingest_file(services.identity, pipe, 2, show_progress=False)
    finally:
        done.set()
    assert summary.accepted == 9
    assert cypher("MATCH (p:Profile) RETURN count(p) AS n")[0]["n"] == 3
