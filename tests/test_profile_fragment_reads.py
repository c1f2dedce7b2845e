"""Sibling fields that merge a profile's fragments under one policy (`attributes`,
`attributeProvenance`) share one read of them: one statement, and one outcome. When the policy
does not exist both fail; two racing reads made the error reported (and so the answer's bytes)
vary from request to request, which the fast-path equivalence test caught now and then."""

from __future__ import annotations

import httpx

from tests.identity_helpers import ident, ingest, record

BOTH = ('query($i: IdentityInput!) { profile(identity: $i) { '
        'a: attributes(mergePolicy: "no-such-policy") '
        'attributeProvenance(mergePolicy: "no-such-policy") { path } } }')


def test_two_fields_under_a_missing_policy_fail_alike_every_time(live_api, gql):
    ingest(gql, [record("1", "crm:C1", "email:ann@x.com", attributes={"name": "Ann"})])
    with httpx.Client(base_url=live_api.url, timeout=60) as client:
        answers = {client.post("/graphql", json={"query": BOTH, "variables": {
            "i": ident("crm:C1")}}, headers={"x-request-id": "same"}).content
            for _ in range(80)}
    assert len(answers) == 1, answers
    [answer] = answers
    assert b"No merge policy 'no-such-policy'" in answer and b'"path":["profile","a"]' in answer


def _document(*fields: str) -> str:
    return "query($i: IdentityInput!) { profile(identity: $i) { " + " ".join(fields) + " } }"


async def test_sibling_fields_under_one_policy_read_the_fragments_once(services):
    """A policy the profile's first read did not bring (here one that does not exist: both
    fields then fail, after the read) is read once for both fields."""
    from idgraph.auth.roles import Role
    from tests.conftest import execute_counting_round_trips

    await services.identity.ingest([record("1", "crm:C1", attributes={"name": "Ann"})])
    one = 'attributes(mergePolicy: "no-such-policy")'
    other = 'attributeProvenance(mergePolicy: "no-such-policy") { path }'
    counted = {}
    for name, document in (("one", _document(one)), ("both", _document(one, other))):
        result, trips = await execute_counting_round_trips(
            services, document, {"i": ident("crm:C1")}, Role.ADMIN)
        assert result.errors and "No merge policy" in result.errors[0].message, result.errors
        counted[name] = trips
    assert counted["both"] == counted["one"], counted  # the profile, then its fragments once
