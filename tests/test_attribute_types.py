"""Declared attribute types at ingest: CSV cells, JSON Lines values and the GraphQL mutation
are typed by one rule (profile/attributes.py), through the CLI and the API, on real Neo4j."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idgraph.profile.attributes import (
    AttributeSchema,
    AttributeSchemaError,
    coerce_value,
    load_attribute_schema,
)
from tests.identity_helpers import ingest, record

CSV_HEADER = ("source,recordId,timestamp,id.crm,attr.firstName,attr.age,attr.newsletter,"
              "attr.birthDate,attr.address.postalCode,attr.points\n")


def run_ingest(neo4j_server, *args: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri,
           "NEO4J_PASSWORD": neo4j_server.auth[1] if neo4j_server.auth else "", **env_vars}
    return subprocess.run([sys.executable, "-m", "idgraph", "ingest", *args, "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)


def stored(cypher, crm_id: str) -> dict:
    rows = cypher("MATCH (r:Record)-[:KEYED_BY]->(:Identity {key: $key}) "
                  "RETURN r.attributes AS a", key=f"crm:{crm_id}")
    return json.loads(rows[0]["a"])


def view(cypher, crm_id: str) -> dict:
    rows = cypher("MATCH (:Identity {key: $key})-[:IN_PROFILE]->(:Profile)-[:VIEW]->(v) "
                  "RETURN properties(v) AS v", key=f"crm:{crm_id}")
    return rows[0]["v"]


# -- the rule (pure) --------------------------------------------------------------------------
SCHEMA = AttributeSchema.model_validate({"attributes": {
    "age": "number", "newsletter": "boolean", "birthDate": "date", "seenAt": "datetime",
    "address.postalCode": "string"}})


def test_declared_paths_are_typed_and_the_input_is_left_alone():
    given = {"age": "51", "newsletter": "yes", "birthDate": "1974-03-02",
             "seenAt": "2025-01-01T10:00:00", "address": {"postalCode": 11455, "city": 3},
             "points": "1840"}
    assert SCHEMA.typed(given) == {
        "age": 51, "newsletter": True, "birthDate": "1974-03-02",
        "seenAt": "2025-01-01T10:00:00Z", "address": {"postalCode": "11455", "city": 3},
        "points": "1840"}
    assert given["age"] == "51" and given["address"]["postalCode"] == 11455
    already = {"age": 51.5, "newsletter": False, "address": "Main Street 1"}
    assert SCHEMA.typed(already) is already


@pytest.mark.parametrize(("attributes", "reason"), [
    ({"age": "fifty"}, "age: 'fifty' is not a number"),
    ({"age": True}, "age: 'true' is not a number"),
    ({"age": [51]}, "age: a number is declared, not a list"),
    ({"newsletter": 2}, "newsletter: '2' is not a boolean"),
    ({"birthDate": "02/03/1974"}, "birthDate: '02/03/1974' is not a date (YYYY-MM-DD)"),
    ({"address": {"postalCode": {"a": 1}}}, "address.postalCode: a string is declared, not an "
                                            "object"),
])
def test_values_that_are_not_the_declared_type_are_refused_with_the_path(attributes, reason):
    with pytest.raises(ValueError) as caught:
        SCHEMA.typed(attributes)
    assert str(caught.value).startswith(reason)


def test_json_numbers_and_booleans_of_another_type_are_read_as_their_text():
    assert coerce_value(load_attribute_schema().type_of("newsletter"), 1) is True
    assert coerce_value(load_attribute_schema().type_of("age"), None) is None
    assert coerce_value(load_attribute_schema().type_of("firstName"), False) == "false"


@pytest.mark.parametrize(("text", "reason"), [
    ("attributes: {age: integer}\n", "attributes.age: Input should be"),
    ("attributes: {\"1age\": number}\n", "invalid attribute paths ['1age']"),
    ("attributes: {address: string, address.city: string}\n", "['address'] declared both"),
    ("attributes: [age\n", "while parsing"),
])
def test_an_unusable_schema_file_is_a_clear_error(tmp_path, text, reason):
    path = tmp_path / "attributes.yaml"
    path.write_text(text)
    with pytest.raises(AttributeSchemaError) as caught:
        load_attribute_schema(path)
    assert str(caught.value).startswith(f"attribute schema {path}: ")
    assert reason in str(caught.value)
    with pytest.raises(AttributeSchemaError, match="No such file"):
        load_attribute_schema(tmp_path / "missing.yaml")


# -- CSV and JSON Lines through `idgraph ingest` ------------------------------------------------
def test_csv_cells_of_declared_paths_are_stored_typed(neo4j_server, empty_graph, cypher,
                                                      tmp_path):
    data = tmp_path / "crm.csv"
    data.write_text(CSV_HEADER + "crm,1,2025-01-01T00:00:00Z,C1,Ann, 51 ,yes,1974-03-02,"
                                 "01150,1840\n")
    done = run_ingest(neo4j_server, str(data))
    assert done.returncode == 0, done.stderr
    assert "accepted 1, duplicates 0, rejected 0" in done.stdout
    assert stored(cypher, "C1") == {
        "firstName": "Ann", "age": 51, "newsletter": True, "birthDate": "1974-03-02",
        "address": {"postalCode": "01150"}, "points": "1840"}  # undeclared: text
    props = view(cypher, "C1")
    assert props["age"] == 51 and props["newsletter"] is True and props["points"] == "1840"
    found = cypher("MATCH (p:Profile)-[:VIEW]->(v:ProfileView) WHERE v.age > 50 RETURN p.id")
    assert len(found) == 1


def test_a_bad_csv_cell_rejects_its_line_with_the_reason(neo4j_server, empty_graph, cypher,
                                                         tmp_path):
    data = tmp_path / "crm.csv"
    data.write_text(CSV_HEADER
                    + "crm,1,2025-01-01T00:00:00Z,C1,Ann,51,no,,,\n"
                    + "crm,2,2025-01-01T00:00:00Z,C2,Bob,fifty,,,,\n"
                    + "crm,3,2025-01-01T00:00:00Z,C3,Cid,,maybe,,,\n"
                    + "crm,4,2025-01-01T00:00:00Z,C4,Dan,33,,,,\n")
    rejects = tmp_path / "rejects.jsonl"
    done = run_ingest(neo4j_server, str(data), "--rejects", str(rejects))
    assert done.returncode == 0, done.stderr
    assert "accepted 2, duplicates 0, rejected 2" in done.stdout
    assert "INVALID_ATTRIBUTE: 2" in done.stdout
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["code"], b["message"]) for b in bad] == [
        (3, "INVALID_ATTRIBUTE", "attributes.age: 'fifty' is not a number"),
        (4, "INVALID_ATTRIBUTE",
         "attributes.newsletter: 'maybe' is not a boolean (true/false, yes/no, 1/0)")]
    assert stored(cypher, "C4")["age"] == 33
    assert cypher("MATCH (r:Record) RETURN count(r) AS n")[0]["n"] == 2


def test_json_lines_values_are_typed_by_the_same_rule(neo4j_server, empty_graph, cypher,
                                                      tmp_path):
    lines = [{"source": "crm", "recordId": str(n), "timestamp": "2025-01-01T00:00:00Z",
              "identities": [{"namespace": "crm", "value": f"C{n}"}], "attributes": attributes}
             for n, attributes in enumerate([{"age": 51}, {"age": "52"}, {"age": "old"},
                                             {"lifetimeValue": "12.5", "newsletter": 0}])]
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    done = run_ingest(neo4j_server, str(data), "--rejects", str(rejects))
    assert "accepted 3, duplicates 0, rejected 1" in done.stdout, done.stdout + done.stderr
    assert json.loads(rejects.read_text())["line"] == 3
    assert stored(cypher, "C0") == {"age": 51} and stored(cypher, "C1") == {"age": 52}
    assert stored(cypher, "C3") == {"lifetimeValue": 12.5, "newsletter": False}


def test_a_custom_attributes_file_decides_the_types(neo4j_server, empty_graph, cypher,
                                                    tmp_path):
    schema = tmp_path / "attributes.yaml"
    schema.write_text("attributes:\n  points: number\n")
    data = tmp_path / "crm.csv"
    data.write_text(CSV_HEADER + "crm,1,2025-01-01T00:00:00Z,C1,Ann,51,yes,,,1840\n")
    done = run_ingest(neo4j_server, str(data), IDGRAPH_ATTRIBUTES_FILE=str(schema))
    assert done.returncode == 0, done.stderr
    # points is declared here; age and newsletter are not (this file replaces the shipped one)
    assert stored(cypher, "C1") == {"firstName": "Ann", "age": "51", "newsletter": "yes",
                                    "points": 1840}


def test_an_invalid_attributes_file_stops_the_ingest_with_a_clear_error(
        neo4j_server, empty_graph, cypher, tmp_path):
    schema = tmp_path / "attributes.yaml"
    schema.write_text("attributes:\n  age: integer\n")
    data = tmp_path / "crm.csv"
    data.write_text(CSV_HEADER + "crm,1,2025-01-01T00:00:00Z,C1,Ann,51,,,,\n")
    done = run_ingest(neo4j_server, str(data), IDGRAPH_ATTRIBUTES_FILE=str(schema))
    assert done.returncode == 1
    assert f"error: attribute schema {schema}: attributes.age: Input should be" in done.stderr
    assert "unset IDGRAPH_ATTRIBUTES_FILE" in done.stderr and "Traceback" not in done.stderr
    missing = run_ingest(neo4j_server, str(data),
                         IDGRAPH_ATTRIBUTES_FILE=str(Path(tmp_path, "nope.yaml")))
    assert missing.returncode == 1 and "No such file" in missing.stderr
    assert cypher("MATCH (r:Record) RETURN count(r) AS n")[0]["n"] == 0


# -- the GraphQL mutation -----------------------------------------------------------------------
def test_the_ingest_mutation_types_attributes_like_the_files(gql, cypher):
    done = ingest(gql, [record("1", "crm:C1", attributes={"age": "51", "newsletter": "no"}),
                        record("2", "crm:C2", attributes={"age": "fifty"})])
    assert done["accepted"] == 1
    assert done["errors"] == [{"kind": "RECORD", "index": 1, "code": "INVALID_ATTRIBUTE",
                               "message": "attributes.age: 'fifty' is not a number"}]
    assert stored(cypher, "C1") == {"age": 51, "newsletter": False}
    assert view(cypher, "C1")["age"] == 51
