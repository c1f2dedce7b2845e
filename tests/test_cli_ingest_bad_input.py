"""`idgraph ingest FILE` with bad lines: each is rejected with its line number and reason (in the
rejects file), the rest of the file goes in, and the command never fails on one line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.identity_helpers import ident
from tests.test_cli_ingest import run_ingest

READ = """
query R($identity: IdentityInput!) {
  profile(identity: $identity) { attributes identities { value firstSeen lastSeen } }
}
"""


def line(record_id: str, crm: str, timestamp: object = "2025-01-01T00:00:00Z",
         **attributes: object) -> dict:
    return {"source": "crm", "recordId": record_id, "timestamp": timestamp,
            "identities": [{"namespace": "crm", "value": crm}], "attributes": attributes}


def ingest_lines(neo4j_server, tmp_path: Path, lines: list[str | bytes], name: str = "in.jsonl",
                 prefix: bytes = b"") -> tuple[str, list[tuple[int, str]], list[dict]]:
    """Run the CLI on the lines; (its output, sorted (line, code) rejects, the rejects)."""
    data, rejects = tmp_path / name, tmp_path / "rejects.jsonl"
    data.write_bytes(prefix + b"\n".join(x if isinstance(x, bytes) else x.encode()
                                         for x in lines) + b"\n")
    done = run_ingest(neo4j_server, str(data), "--rejects", str(rejects))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    bad = [json.loads(x) for x in rejects.read_text().splitlines()]
    return done.stdout, sorted((b["line"], b["code"]) for b in bad), bad


def test_timestamps_in_the_wrong_unit_are_rejected_per_line(neo4j_server, gql, tmp_path):
    lines = [json.dumps(line("1", "C1", 1_700_000_000_000_000)),  # microseconds
             json.dumps(line("2", "C2", 1e30)),
             json.dumps(line("3", "C3", 1_700_000_000_000, name="Ann"))]
    out, codes, bad = ingest_lines(neo4j_server, tmp_path, lines)
    assert "accepted 1, duplicates 0, rejected 2" in out
    assert codes == [(1, "INVALID_TIMESTAMP"), (2, "INVALID_TIMESTAMP")]
    assert "microseconds" in bad[0]["message"]
    read = gql(READ, {"identity": ident("crm:C3")})["profile"]
    assert read["attributes"] == {"name": "Ann"}
    assert read["identities"][0]["firstSeen"].startswith("2023-11-14")


def test_jsonl_lines_python_cannot_read_are_rejected_one_by_one(neo4j_server, gql, tmp_path):
    lines = [json.dumps(line("1", "C1", name="Ann")),
             json.dumps(line("2", "C2")).replace("crm", "cr\xffm", 1).encode("latin-1"),
             '{"source": "crm", "deep": ' + "[" * 5000 + "]" * 5000 + "}",
             '{"source": "crm", "big": ' + "9" * 5000 + "}",
             json.dumps(line("5", "C5", score=float("nan"))),  # NaN, as Python writes it
             json.dumps(line("6", "C6", name="\ud800")),  # a lone surrogate, escaped
             json.dumps(line("7", "C7", big=10**400))]  # long, but within Python's limit
    out, codes, bad = ingest_lines(neo4j_server, tmp_path, lines, prefix=b"\xef\xbb\xbf")
    assert "accepted 2, duplicates 0, rejected 5" in out
    assert codes == [(2, "UNREADABLE_LINE"), (3, "UNREADABLE_LINE"), (4, "UNREADABLE_LINE"),
                     (5, "INVALID_NUMBER"), (6, "INVALID_TEXT")]
    messages = {b["line"]: b["message"] for b in bad}
    assert messages[2].startswith("not UTF-8: byte 0xFF")
    assert "nested too deeply" in messages[3] and "4,300 digits" in messages[4]
    assert gql(READ, {"identity": ident("crm:C1")})["profile"]["attributes"] == {"name": "Ann"}
    assert gql(READ, {"identity": ident("crm:C7")})["profile"]["attributes"] == {"big": 10**400}


def test_csv_with_a_bom_and_bad_rows(neo4j_server, gql, tmp_path):
    header = "source,recordId,timestamp,id.crm,attr.a,attr.a.b"
    rows = [header,
            "crm,1,2025-01-01T00:00:00Z,C1,x,",
            "crm,2,2025-01-01T00:00:00Z,C2,,y",
            "crm,3,2025-01-01T00:00:00Z,C3,x,y",  # attr.a is both a value and an object
            b"crm,4,2025-01-01T00:00:00Z,C4,caf\xe9,",  # Latin-1, not UTF-8
            "crm,5,2025-01-01T00:00:00Z,C5," + "x" * 200_000 + ",",  # over the CSV field limit
            "crm,6,2025-01-01T00:00:00Z,C6,z,"]
    out, codes, bad = ingest_lines(neo4j_server, tmp_path, rows, name="in.csv",
                                   prefix=b"\xef\xbb\xbf")  # as spreadsheet programs write
    assert "accepted 3, duplicates 0, rejected 3" in out
    assert codes == [(4, "INVALID_PAYLOAD"), (5, "UNREADABLE_LINE"), (6, "UNREADABLE_LINE")]
    messages = {b["line"]: b["message"] for b in bad}
    assert messages[4].startswith("'a' is given both a value and nested values")
    assert messages[5].startswith("not UTF-8: byte 0xE9")
    assert "field larger than field limit" in messages[6]
    attributes = {n: gql(READ, {"identity": ident(f"crm:C{n}")})["profile"]["attributes"]
                  for n in (1, 2, 6)}
    assert attributes == {1: {"a": "x"}, 2: {"a": {"b": "y"}}, 6: {"a": "z"}}
