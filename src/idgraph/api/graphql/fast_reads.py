"""A precompiled path for the front-end's hottest request: `profile(identity: $x) { ... }`.

Executing that document through the general GraphQL machinery (HTTP view, extensions, the
executor's per-field resolvers) costs about as much CPU as the Neo4j read itself. Documents of
one narrow shape are therefore compiled, once per document text, into a `ProfileReadPlan`
(fast_plan.py: the shape, and how every field is read, typed and permitted, all taken from
the schema's strawberry definitions) that does the same read and writes the same JSON directly.

Everything else, and any request this path is not certain about (a document not yet validated
clean by the general path under this app's limits, unexpected variables, a caller some
selected field does not admit, a missing materialised view, an answer JSON encoders would
write differently, anything unexpected), goes the general way. A database failure is answered
here with the general path's masked, coded error (not re-run there: the client would wait for a
second round of retries). So answers and errors are the general path's, byte for byte:
tests/test_fast_path_equivalence.py holds the two paths to that over generated documents.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLError, parse
from starlette.requests import Request
from starlette.responses import Response
from strawberry import Schema
from strawberry.schema.base import BaseSchema

from idgraph.api.graphql.common import IdentityInput
from idgraph.api.graphql.cost import cost_rule
from idgraph.api.graphql.errors import database_failure
from idgraph.api.graphql.fast_ingest import IngestPlan, compile_ingest, ingest_answer
from idgraph.api.graphql.fast_plan import (
    FallBack,
    NotCompilable,
    ProfileReadPlan,
    compile_document,
)
from idgraph.api.graphql.fast_resolve import ResolvePlan, compile_resolve
from idgraph.api.graphql.profile import profile_of
from idgraph.auth.keys import Principal
from idgraph.config import Settings
from idgraph.db.errors import DatabaseError
from idgraph.profile.service import ReadShape
from idgraph.services import Services

if TYPE_CHECKING:
    from idgraph.api.http.metrics import Metrics

BODY_KEYS = {"query", "variables", "operationName", "extensions"}
# Set in a request's scope state when this path has tried the request and passed it on: the
# general path then answers it without a second try (a second database read, or a second parse
# of a body the front door found no plan for).
FAST_READ_DECLINED = "fast_read_declined"
# (schema, query text) -> None until the general path has validated the text, else (no errors
# from its rules, some rules are per request: they depend on the variables).
Validation = Callable[[object, str], "tuple[bool, bool] | None"]
FastPlan = ProfileReadPlan | ResolvePlan | IngestPlan
# A body's key for a bulk resolve's checked identities: never a client's (a body with keys
# outside BODY_KEYS is the general path's).
IDENTITIES = " identities"
# A run of 19 digits: the only numbers orjson reads otherwise than json.loads (the general
# path's decoder) are integers beyond 64 bits, which it makes floats. An ingest stores its
# records' attributes as read, so a body holding such a run is read again by json.loads.
LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _fits(plan: ProfileReadPlan, body: dict[str, Any]) -> bool:
    """The body asks exactly what the plan answers: its operation, its one IdentityInput
    variable with two strings, no extensions."""
    if body.get("operationName") not in (None, plan.operation_name) or body.get("extensions"):
        return False
    variables = body.get("variables")
    if not isinstance(variables, dict) or variables.keys() != {plan.variable}:
        return False
    identity = variables[plan.variable]
    return (isinstance(identity, dict) and identity.keys() == {"namespace", "value"}
            and all(isinstance(v, str) for v in identity.values()))


@dataclass(frozen=True)
class Answer:
    body: bytes
    codes: list[str]  # error codes, for the metrics


class FastProfileReads:
    """Serves compiled profile reads, bulk resolves (fast_resolve.py) and bulk ingests
    (fast_ingest.py) over HTTP POST; `serve` returns None to fall back."""

    MAXSIZE = 512

    def __init__(self, services: Services, schema: BaseSchema, metrics: Metrics | None,
                 validation: Validation, settings: Settings | None = None,
                 profile_reads: bool = True, bulk_resolve: bool = True,
                 ingest: bool = True) -> None:
        self.services = services
        self.schema = schema
        if not isinstance(schema, Schema):
            raise TypeError("the fast path compiles against a strawberry.Schema")
        self.graphql_schema = schema._schema  # what plans are compiled against
        self.metrics = metrics
        self.validation = validation
        self.settings = settings or services.settings  # the limits of the per-request rules
        self.kinds = (profile_reads, bulk_resolve, ingest)  # which plans this path serves
        self.plans: OrderedDict[str, FastPlan | None] = OrderedDict()
        self.served = 0  # requests answered here (tests and metrics read it)
        self.served_at_front_door = 0  # of those, the ones api/front_door.py answered

    async def serve(self, request: Request, media_type: str) -> Response | None:
        """Answer a request inside the middleware stack (one the front door passed on), or
        None: the general path answers it."""
        started = time.perf_counter()
        state = request.scope.get("state", {})
        if state.get(FAST_READ_DECLINED):  # the front door parsed it and passed it on
            return None
        raw = await request.body()  # cached on the request for the general path; its errors
        planned = self.plan_of(raw)  # (a body over the size limit) are the general path's too
        if planned is None or not self.may_read(planned[0], state.get("principal")):
            return None
        answered = await self.answer(*planned, state.get("request_id", "-"))
        if answered is None:
            return None
        self.record(planned[0], started, answered)
        return Response(answered.body, media_type=media_type)

    def plan_of(self, raw: bytes) -> tuple[FastPlan, dict[str, Any]] | None:
        """The compiled plan of a request body and the body, when this path can answer it."""
        try:
            body = orjson.loads(raw)
            plan = self._plan_for(body)
            if isinstance(plan, IngestPlan) and LONG_DIGITS.search(raw):
                body = json.loads(raw)  # as the general path reads it (strawberry's decoder)
            if plan is None or not self._fits(plan, body):
                return None
        except Exception:  # noqa: BLE001 - bad JSON, anything unexpected: the general path
            return None  # answers (and reports errors with its codes and masking)
        return plan, body

    @staticmethod
    def may_read(plan: FastPlan, principal: Principal | None) -> bool:
        """Whether every field the plan selects admits the caller (the fields' own
        permissions); when not, the general path answers (with its FORBIDDEN errors)."""
        return principal is not None and plan.admits(principal.role)

    async def answer(self, plan: FastPlan, body: dict[str, Any],
                     request_id: str) -> Answer | None:
        """The response body, or None to fall back. A database failure is answered here, as
        the general path answers it (masked, coded, with the request id): running the read
        again there would make the client wait for a second round of retries or timeout."""
        if isinstance(plan, IngestPlan):
            return await self._ingest(plan, body, request_id)
        answer: dict[str, Any]
        try:
            value = (await self._profile(plan, body) if isinstance(plan, ProfileReadPlan)
                     else await self._resolve(plan, body))
            answer = {"data": {plan.root_key: value}}
        except DatabaseError as exc:
            message, code = database_failure(exc, request_id)
            # resolve's list is non-null: its error nulls `data`, as graphql-core's does
            data = {plan.root_key: None} if isinstance(plan, ProfileReadPlan) else None
            answer = {"data": data, "errors": [{
                "message": message, "locations": [plan.root_location], "path": [plan.root_key],
                "extensions": {"code": code, "requestId": request_id}}]}
        except Exception:  # noqa: BLE001 - FallBack, anything unexpected: the general path
            return None
        try:
            payload = orjson.dumps(answer)
        except TypeError:  # orjson's limits (an integer over 64 bits): the general path
            return None
        if not _encoded_alike(payload):
            return None
        self.served += 1
        codes = [e["extensions"]["code"] for e in answer.get("errors", ())]
        return Answer(payload, codes)

    def record(self, plan: FastPlan, started: float, answered: Answer) -> None:
        if self.metrics is not None:
            kind = "mutation" if isinstance(plan, IngestPlan) else "query"
            self.metrics.observe_operation(plan.operation_name, kind,
                                           time.perf_counter() - started, answered.codes)

    def _plan_for(self, body: Any) -> FastPlan | None:
        if not isinstance(body, dict) or not body.keys() <= BODY_KEYS:
            return None
        query = body.get("query")
        if not isinstance(query, str):
            return None
        if query in self.plans:
            self.plans.move_to_end(query)
            return self.plans[query]
        validated = self.validation(self.schema, query)
        if validated is None:
            return None  # not validated yet: the general path does it (and caches it)
        passed, per_request = validated
        plan = self._compiled(query, per_request) if passed else None
        self.plans[query] = plan
        if len(self.plans) > self.MAXSIZE:
            self.plans.popitem(last=False)
        return plan

    def _compiled(self, query: str, per_request: bool) -> FastPlan | None:
        """A profile read's plan (only for documents with no per-request rules), else a bulk
        resolve's or a bulk ingest's (whose per-request rules run on every request), else
        None."""
        profile_reads, bulk_resolve, ingest = self.kinds
        try:
            document = parse(query)
        except GraphQLError:
            return None
        if profile_reads and not per_request:
            try:
                return compile_document(self.graphql_schema, document)
            except NotCompilable:
                pass
        if bulk_resolve:
            try:
                return compile_resolve(self.graphql_schema, document)
            except NotCompilable:
                pass
        if ingest:
            try:
                return compile_ingest(self.graphql_schema, document)
            except NotCompilable:
                pass
        return None

    def _fits(self, plan: FastPlan, body: dict[str, Any]) -> bool:
        if isinstance(plan, ProfileReadPlan):
            return _fits(plan, body)
        if isinstance(plan, ResolvePlan):
            return self._fits_resolve(plan, body)
        return plan.asks(body)  # the records are read once the caller is known (`_ingest`)

    def _passes_limits(self, plan: ResolvePlan | IngestPlan, variables: dict[str, Any],
                       longest: int | None = None) -> bool:
        """The per-request rules (the cost and the list cap, priced at these variables)."""
        s = self.settings
        rule = cost_rule(s.max_cost, s.max_page_size, s.default_page_size, variables,
                         s.max_list_length, longest)
        return plan.passes(self.graphql_schema, [rule])

    def _fits_resolve(self, plan: ResolvePlan, body: dict[str, Any]) -> bool:
        """The body asks what the plan answers, within the per-request limits (the cost and
        the list cap, priced at these variables); when not, the general path reports it. The
        identities read are kept with the body (under IDENTITIES), for `_resolve`."""
        identities = body[IDENTITIES] = plan.identities(body)
        if identities is None:
            return False
        # The variables are one list of objects of two strings: its length is the longest.
        return self._passes_limits(plan, body["variables"], len(identities))

    async def _resolve(self, plan: ResolvePlan, body: dict[str, Any]) -> Any:
        """The root field's value: the service's answers completed as the general path
        completes the Resolution objects it makes of them (same attributes; building 20,000
        strawberry objects was a fifth of the API's CPU in a 10,000-identity resolve)."""
        identities = body.get(IDENTITIES)
        if identities is None:
            raise FallBack
        return plan.complete(await self.services.identity.resolve_each(identities))

    async def _ingest(self, plan: IngestPlan, body: dict[str, Any],
                      request_id: str) -> Answer | None:
        """A bulk ingest's response, or None (the general path) when the per-request rules
        refuse it or its records are not what the plan takes: decided before the write, as
        a mutation never runs twice. Encoded by the general path's own encoder (strawberry's
        `json.dumps`): its messages may quote any character."""
        variables = body["variables"]
        if not self._passes_limits(plan, variables):
            return None
        records = plan.records(variables[plan.variable])
        if records is None:
            return None
        answer = await ingest_answer(plan, records, self.services.identity, request_id)
        self.served += 1
        codes = [e["extensions"]["code"] for e in answer.get("errors", ())]
        return Answer(json.dumps(answer, separators=(",", ":")).encode(), codes)

    async def _profile(self, plan: ProfileReadPlan, body: dict[str, Any]) -> Any:
        """The root field's value: the general path's `Profile`, completed by the plan."""
        given = body["variables"][plan.variable]
        identity = IdentityInput(namespace=given["namespace"], value=given["value"])
        profile = await profile_of(self.services, identity,
                                   ReadShape(view=plan.wants_attributes))
        return plan.complete(profile)


def _encoded_alike(payload: bytes) -> bool:
    """Whether strawberry's encoder (json.dumps, ASCII only) writes these same bytes: orjson
    writes other characters than ASCII, and DEL (0x7f), unescaped; json.dumps escapes them.
    (The stored attributes JSON is written by json.dumps: always ASCII.)"""
    return payload.isascii() and b"\x7f" not in payload
