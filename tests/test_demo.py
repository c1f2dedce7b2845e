"""The demo dataset that `make run` serves: loads twice without change, shows the features."""

from __future__ import annotations

from idgraph.db.connect import graph_for
from idgraph.demo import load_demo
from tests.conftest import settings_for
from tests.identity_helpers import members

QUERY = """{ profile(identity: {namespace: "email", value: "Jane.Doe@Example.com "}) {
  primaryIdentity { value } attributes computed { name value }
  segments { segment { name } status } } }"""


async def _load(neo4j_server, log) -> None:
    settings = settings_for(neo4j_server)
    await load_demo(settings, graph_for(settings, start_local=False), log=log)


async def test_demo_loads_idempotently_and_shows_merged_profiles(neo4j_server, gql):
    said: list[str] = []
    await _load(neo4j_server, said.append)
    await _load(neo4j_server, said.append)
    # 15 hand-written lines and 283 of 25 generated people (demo/generator.py), 2 of them junk
    datasets = [line for line in said if line.startswith("Demo dataset")]
    assert datasets == [
        "Demo dataset: 296 new items, 0 already loaded, 2 rejected (on purpose: junk values).",
        "Demo dataset: 0 new items, 296 already loaded, 2 rejected (on purpose: junk values)."]
    segments = [line for line in said if line.startswith("Demo segments")]
    assert len(segments) == 2 and segments[0] == segments[1]  # defined once, evaluated twice
    jane = gql(QUERY)["profile"]
    assert jane["primaryIdentity"] == {"value": "C-1029"}
    assert jane["attributes"]["loyaltyTier"] == "platinum"  # the newer loyalty record wins
    # a VIP who bought recently, in the composition too; members again at the second load
    assert jane["segments"] == [{"segment": {"name": name}, "status": "EXISTING"}
                                for name in ("Recent buyers", "VIP", "VIP recent buyers")]
    assert {c["name"]: c["value"] for c in jane["computed"]} == {
        "lifetimePurchaseValue": 129, "lifetimePurchases": 1}
    # The shared app device follows the last login (John's), never joining the two people.
    assert "device:6d92078a-8246-4ba4-ae5b-76104861e7dc" in members(gql, "crm:C-2044")
    assert "crm:C-1029" not in members(gql, "crm:C-2044")
    # The generated couple's shared tablet belongs to one of them only.
    tablet = "device:9387c0a5-cd8b-49c2-8e22-5dfb81f19a71"
    holders = [login for login in ("login:elindstrom22", "login:slindstrom23")
               if tablet in members(gql, login)]
    assert len(holders) == 1
