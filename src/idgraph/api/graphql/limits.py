"""The schema's limits against abuse, built from settings: depth, aliases, tokens, expanded
fields, cost, page size, introspection and field suggestions (docs/api.md explains each)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import partial
from typing import ClassVar

from graphql import (
    ASTValidationRule,
    GraphQLError,
    validate,
)
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from idgraph.api.graphql.access import RequirePrincipal
from idgraph.api.graphql.context import OperationContext
from idgraph.api.graphql.cost import cost_rule, priced_by_variables
from idgraph.api.graphql.errors import IdgraphMaskErrors
from idgraph.api.graphql.observability import GraphQLMetrics
from idgraph.api.graphql.size import expanded_size_error, repeated_fields_error
from idgraph.config import Settings
from idgraph.errors import InvalidInput

# The default maximum page size; an app's own is `settings.max_page_size` (see page_size()).
MAX_PAGE_SIZE: int = Settings.model_fields["max_page_size"].default
DEFAULT_PAGE_SIZE: int = Settings.model_fields["default_page_size"].default
MAX_EXPANDED_FIELDS: int = Settings.model_fields["max_expanded_fields"].default
MAX_LIST_LENGTH: int = Settings.model_fields["max_list_length"].default
# Pairs of fields at one response path that validation compares (api/graphql/size.py): 10,000
# took "overlapping fields can be merged" about 0.15 s; documents people write have a few dozen.
MAX_REPEATED_FIELD_PAIRS = 10_000
# Document texts longer than this are parsed and validated each time, never kept: the two caches
# of 512 texts each would otherwise hold up to 512 request bodies (1 MB each by default).
MAX_CACHED_TEXT = 64 * 1024


class DocumentCache(ParserCache):
    """Reuses parsed documents. A document that fails to parse is left to strawberry's own
    parse, so it becomes an ordinary request error (coded, counted) instead of an exception
    escaping the extensions."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if len(context.query or "") > MAX_CACHED_TEXT:
            yield  # parsed by strawberry, not kept: the cache is bounded in bytes too
            return
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield


class CostLimiter(SchemaExtension):
    """Adds the cost rule, bound to this request's variables, to the validation rules."""

    def __init__(self, max_cost: int, max_page_size: int, default_page_size: int,
                 max_list_length: int = MAX_LIST_LENGTH) -> None:
        self.limits = (max_cost, max_page_size, default_page_size)
        self.max_list_length = max_list_length

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        rule = cost_rule(*self.limits, context.variables, self.max_list_length)
        context.validation_rules = (*context.validation_rules, rule)
        yield


class CachedValidation(SchemaExtension):
    """Validates each document text once (spec rules, depth, aliases: they depend only on the
    text) and runs only the per-request rules (the cost, when a page size comes from a
    variable) every time. Parsing and validating again was most of a profile read's cost."""

    # query text -> (page sizes come from variables, errors of the cached rules)
    _cache: ClassVar[OrderedDict[tuple[int, str], tuple[bool, list[GraphQLError]]]] = (
        OrderedDict())
    MAXSIZE = 512

    def __init__(self, max_fields: int = MAX_EXPANDED_FIELDS) -> None:
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            varies, errors = self._cached(context)
            dynamic = [r for r in context.validation_rules if varies and _per_request(r)]
            if not errors and dynamic:
                errors = validate(context.schema._schema, context.graphql_document, dynamic)
            context.pre_execution_errors = list(errors)
        yield

    @classmethod
    def validated_clean(cls, schema: object, query: str) -> bool | None:
        """Whether a document text passed every validation rule with nothing left to check per
        request; None when it has not been validated yet."""
        entry = cls._cache.get((id(schema), query))
        if entry is None:
            return None
        varies, errors = entry
        return not varies and not errors

    @classmethod
    def validation_of(cls, schema: object, query: str) -> tuple[bool, bool] | None:
        """(the document passed every rule that depends only on its text, per-request rules
        remain), or None when it has not been validated yet."""
        entry = cls._cache.get((id(schema), query))
        if entry is None:
            return None
        varies, errors = entry
        return not errors, varies

    def _cached(self, context: ExecutionContext) -> tuple[bool, list[GraphQLError]]:
        key = (id(context.schema), context.query or "")
        entry = self._cache.get(key)
        if entry is None:
            entry = self._validated(context)
            if len(key[1]) <= MAX_CACHED_TEXT:  # bounded in bytes, not only in entries
                self._cache[key] = entry
            if len(self._cache) > self.MAXSIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return entry

    def _validated(self, context: ExecutionContext) -> tuple[bool, list[GraphQLError]]:
        document = context.graphql_document
        assert document is not None  # on_validate runs only on a parsed document
        # First, in time linear in the text: the other rules walk the document with its
        # fragments spread, which a few hundred tokens can make 2^40 fields (api/graphql/size.py).
        too_large = (expanded_size_error(document, self.max_fields)
                     or repeated_fields_error(document, MAX_REPEATED_FIELD_PAIRS))
        if too_large is not None:
            return False, [too_large]
        # A cost rule whose page sizes and lists are all literals prices the same every time:
        # it is validated and cached with the document's other rules.
        varies = priced_by_variables(document, context.schema._schema)
        rules = tuple(r for r in context.validation_rules if not (varies and _per_request(r)))
        return varies, validate_document(context.schema._schema, document, rules)


def _per_request(rule: type[ASTValidationRule]) -> bool:
    return getattr(rule, "per_request", False)


def schema_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Extensions in order: metrics outermost (sees final errors), masking innermost; the
    order is also the order of their `on_validate` hooks."""
    extensions: list[Callable[[], SchemaExtension]] = [
        OperationContext,  # first: every other hook sees the operation's own context
        GraphQLMetrics,
        # Before any validation: an operation without a principal is refused unread.
        RequirePrincipal,
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        # The cache key includes the token limit, so an over-long document is always refused.
        partial(DocumentCache, maxsize=512),
        partial(QueryDepthLimiter, max_depth=settings.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        partial(CostLimiter, settings.max_cost, settings.max_page_size,
                settings.default_page_size, settings.max_list_length),
        partial(CachedValidation, max_fields=settings.max_expanded_fields),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    extensions.append(partial(IdgraphMaskErrors, hide_suggestions=not settings.field_suggestions))
    return extensions


def schema_config(settings: Settings) -> StrawberryConfig:
    return StrawberryConfig(relay_max_results=settings.max_page_size,
                            disable_field_suggestions=not settings.field_suggestions)


def page_size(first: int | None, settings: Settings) -> int:
    """The page size a resolver should fetch: `first`, defaulted and checked against the max."""
    size = settings.default_page_size if first is None else first
    if size < 0 or size > settings.max_page_size:
        raise InvalidInput(f"first must be between 0 and {settings.max_page_size}.",
                           code="PAGE_SIZE_EXCEEDED" if size > 0 else None)
    return size
