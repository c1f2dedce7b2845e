"""Hold the materialised views to the read path: every profile's view against the merged
attributes the API computes from fragments at read time."""

from __future__ import annotations

import json

from idgraph.profile.materialise import ATTRIBUTE_PATH, storable
from idgraph.profile.merge import flatten
from tests.identity_helpers import ident

VIEWS = """
MATCH (p:Profile)
OPTIONAL MATCH (p)-[:VIEW]->(v:ProfileView)
RETURN p.id AS id, p.primaryKey AS primary, v {.*} AS view
ORDER BY id
"""
ORPHAN_VIEWS = """
MATCH (v:ProfileView) WHERE NOT EXISTS { (:Profile)-[:VIEW]->(v) }
RETURN count(v) AS n
"""
# attributeProvenance always merges fragments at read time; `attributes` may come from the view.
FIELDS = "id size isTestProfile attributes attributeProvenance { path value }"


def api_profiles(gql, primaries: list[str]) -> list[dict]:
    """profile(identity) of each primary identity, in one request (aliased fields)."""
    if not primaries:
        return []
    args = ", ".join(f"$i{n}: IdentityInput!" for n in range(len(primaries)))
    fields = " ".join(f"p{n}: profile(identity: $i{n}) {{ {FIELDS} }}"
                      for n in range(len(primaries)))
    data = gql(f"query Q({args}) {{ {fields} }}",
               {f"i{n}": ident(key) for n, key in enumerate(primaries)})
    return [data[f"p{n}"] for n in range(len(primaries))]


def assert_views_match(gql, cypher) -> list[dict]:
    """Every profile has exactly one view, equal to what the API merges; returns the views."""
    rows = cypher(VIEWS)
    assert cypher(ORPHAN_VIEWS)[0]["n"] == 0
    found = api_profiles(gql, [r["primary"] for r in rows])
    for row, api in zip(rows, found, strict=True):
        view = row["view"]
        assert view is not None, f"profile {row['id']} has no view"
        assert api["id"] == row["id"] == view["_profile"]
        assert json.loads(view["_json"]) == api["attributes"], row["id"]
        from_fragments = {a["path"]: a["value"] for a in api["attributeProvenance"]}
        assert flatten(json.loads(view["_json"])) == from_fragments, row["id"]
        assert view["_isTest"] == api["isTestProfile"] and view["_size"] == api["size"]
        expected = {path: value for path, value in flatten(api["attributes"]).items()
                    if ATTRIBUTE_PATH.fullmatch(path) and storable(value)}
        assert {k: v for k, v in view.items() if not k.startswith("_")} == expected
    return [r["view"] for r in rows]
