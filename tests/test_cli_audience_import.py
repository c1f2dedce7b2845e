"""`idgraph audience import FILE` through the real CLI against the real Neo4j: messy CSV and
JSON Lines files (BOM, header variants, blank lines, bad rows with their line and reason), a
summary, exact members stored as IN_SEGMENT memberships, and an import again that replaces
the list."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from idgraph.segments.import_files import BadRow, ImportFormat, Row, read_rows

PEOPLE = [{"source": "crm", "recordId": f"r{n}", "timestamp": "2025-01-01T00:00:00Z",
           "identities": [{"namespace": "crm", "value": f"C{n}"},
                          {"namespace": "email", "value": f"c{n}@example.com"}]}
          for n in range(1, 5)]


def idgraph(neo4j_server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else ""}
    return subprocess.run([sys.executable, "-m", "idgraph", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def load_people(neo4j_server, tmp_path) -> None:
    data = tmp_path / "people.jsonl"
    data.write_text("\n".join(json.dumps(p) for p in PEOPLE) + "\n")
    done = idgraph(neo4j_server, "ingest", str(data), "--no-progress")
    assert done.returncode == 0, done.stderr


def memberships(cypher, name: str) -> dict[str, str]:
    """crm id of each member -> status."""
    rows = cypher("MATCH (p:Profile)-[m:IN_SEGMENT]->(:Segment {name: $name}) "
                  "MATCH (p)<-[:IN_PROFILE]-(i:Identity {namespace: 'crm'}) "
                  "RETURN i.value AS crm, m.status AS status", name=name)
    return {r["crm"]: r["status"] for r in rows}


def test_a_messy_csv_file(neo4j_server, empty_graph, cypher, tmp_path):
    load_people(neo4j_server, tmp_path)
    data = tmp_path / "list.csv"
    data.write_bytes("\ufeffIdentity Namespace , ID\r\n"
                     "email, C1@Example.com \r\n"
                     "\r\n"
                     "crm,C2\r\n"
                     ",C3\r\n"
                     "phone,not a phone\r\n"
                     "email,nobody@example.com\r\n"
                     "crm,C2\r\n".encode())
    rejects = tmp_path / "bad.jsonl"
    done = idgraph(neo4j_server, "audience", "import", str(data), "--name", "Spring list",
                   "--rejects", str(rejects), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "audience 'Spring list'" in done.stdout
    assert "rows 6, rejected 2, matched 2, unknown 1" in done.stdout
    assert "members 2: realized 2, existing 0, exited now 0" in done.stdout
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["code"]) for b in bad] == [(5, "MISSING_FIELD"),
                                                     (6, "MALFORMED_PHONE")]
    assert memberships(cypher, "Spring list") == {"C1": "realized", "C2": "realized"}
    assert cypher("MATCH (s:Segment {name: 'Spring list'}) RETURN s.kind AS k, s.size AS n"
                  ) == [{"k": "imported", "n": 2}]


def test_json_lines_then_an_import_again_replaces_the_list(neo4j_server, empty_graph, cypher,
                                                           tmp_path):
    load_people(neo4j_server, tmp_path)
    data = tmp_path / "list.txt"
    data.write_text('{"namespace": "crm", "value": "C1"}\n\n'
                    '{"identities": [{"ns": "email", "id": "c2@example.com"}, '
                    '{"namespace": "crm", "value": "C3"}]}\n'
                    "{not json\n"
                    '["crm", "C4"]\n')
    done = idgraph(neo4j_server, "audience", "import", str(data), "--name", "Club",
                   "--format", "jsonl", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "rows 5, rejected 2, matched 3, unknown 0" in done.stdout
    assert "line 4: UNREADABLE_LINE invalid JSON" in done.stdout
    assert "line 5: UNREADABLE_LINE a line must be a JSON object" in done.stdout
    assert memberships(cypher, "Club") == {"C1": "realized", "C2": "realized",
                                           "C3": "realized"}

    wide = tmp_path / "again.csv"
    wide.write_text("id.crm,email\nC3,\n,c4@example.com\n")
    again = idgraph(neo4j_server, "audience", "import", str(wide), "--name", "Club",
                    "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "members 2: realized 1, existing 1, exited now 2" in again.stdout
    assert memberships(cypher, "Club") == {"C1": "exited", "C2": "exited", "C3": "existing",
                                           "C4": "realized"}


def test_a_file_that_cannot_be_read_changes_nothing(neo4j_server, empty_graph, cypher,
                                                    tmp_path):
    data = tmp_path / "list.csv"
    data.write_text("namespace,name\nemail,a@x.com\n")
    done = idgraph(neo4j_server, "audience", "import", str(data), "--name", "L",
                   "--no-progress")
    assert done.returncode != 0
    assert "has no value column" in done.stderr and "nothing was imported" in done.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    done = idgraph(neo4j_server, "audience", "import", str(empty), "--name", "L",
                   "--no-progress")
    assert done.returncode != 0 and "lists no identity" in done.stderr
    assert cypher("MATCH (s:Segment) RETURN count(s) AS n")[0]["n"] == 0


def test_header_variants_and_blank_lines_are_read_as_rows(tmp_path):
    import io

    def rows(text: str, fmt: ImportFormat) -> list[Row | BadRow]:
        return list(read_rows(io.StringIO(text), fmt))

    assert rows("NS;x\n", ImportFormat.CSV) == []  # one column named "NS;x": no rows
    assert rows("type,Identifier\n\nemail,a@x.com\n", ImportFormat.CSV) == [
        Row(3, "email", "a@x.com")]
    assert rows("email,phone\na@x.com|b@x.com,+4712345678\n", ImportFormat.CSV) == [
        Row(2, "email", "a@x.com"), Row(2, "email", "b@x.com"), Row(2, "phone", "+4712345678")]
    assert rows('{"Namespace": "crm", "Value": 7}\n{"value": "x"}\n', ImportFormat.JSONL) == [
        Row(1, "crm", "7"), BadRow(2, "MISSING_FIELD", "no namespace (a `namespace` text) in "
                                                       "this line")]
