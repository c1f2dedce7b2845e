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
