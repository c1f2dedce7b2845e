"""The cost limit: a validation rule that prices a query before anything runs.

Each field costs 1; the selections under a paginated field (one taking `first` or `last`)
cost that many times over, so `a(first: 50) { b(first: 50) { c } }` costs 1 + 50 * (1 + 50).
A page argument given as a variable is priced at the variable's value; when it is absent,
at the field's default (or the configured default page size). Page sizes above the maximum
are refused here too, so no resolver ever sees one. Introspection fields are not charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
)

PAGE_ARGUMENTS = ("first", "last")


def cost_rule(max_cost: int, max_page_size: int, default_page_size: int,
              variables: Mapping[str, Any] | None) -> type[ValidationRule]:
    """A validation rule bound to one request's variables."""

    class CostLimit(ValidationRule):
        per_request = True  # depends on variables: never cached with the document's rules
        def enter_document(self, node, *_args):
            fragments = {d.name.value: d for d in node.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            for operation in node.definitions:
                if isinstance(operation, OperationDefinitionNode):
                    self._check(operation, fragments)
            return False  # priced in one pass; nothing left to visit

        def _check(self, operation: OperationDefinitionNode, fragments) -> None:
            pricer = Pricer(self.context, fragments, _variables(operation, variables),
                            max_page_size, default_page_size)
            root = self.context.schema.get_root_type(operation.operation)
            cost = pricer.selections(operation.selection_set, root, frozenset())
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"Query cost {cost} exceeds the limit of {max_cost}; request smaller pages"
                    " or fewer fields.", operation, extensions={"code": "COST_LIMIT_EXCEEDED",
                                                                 "cost": cost, "limit": max_cost}))

    return CostLimit


def _variables(operation: OperationDefinitionNode, given: Mapping[str, Any] | None):
    """The request's variables, with the operation's literal defaults filled in."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        default = definition.default_value
        if isinstance(default, IntValueNode):
            values[definition.variable.name.value] = int(default.value)
    values.update(given or {})
    return values


class Pricer:
    def __init__(self, context, fragments, variables, max_page_size, default_page_size) -> None:
        self.context = context
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        self.default_page_size = default_page_size
        # Each fragment priced once: spread many times, it would otherwise be priced each time
        # (fragments spreading the next twice, 40 deep: 2^40 times; api/graphql/size.py).
        self.fragment_costs: dict[str, int] = {}

    def selections(self, selection_set: SelectionSetNode | None, parent, seen) -> int:
        if selection_set is None:
            return 0
        return sum(self.selection(sel, parent, seen) for sel in selection_set.selections)

    def selection(self, node, parent, seen: frozenset[str]) -> int:
        schema = self.context.schema
        if isinstance(node, FieldNode):
            return self.field(node, parent, seen)
        if isinstance(node, InlineFragmentNode):
            on = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
            return self.selections(node.selection_set, on, seen)
        if isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = self.fragments.get(name)
            if fragment is None or name in seen:
                return 0  # unknown or cyclic: other validation rules report those
            if name not in self.fragment_costs:
                on = schema.get_type(fragment.type_condition.name.value)
                self.fragment_costs[name] = self.selections(fragment.selection_set, on,
                                                            seen | {name})
            return self.fragment_costs[name]
        return 0

    def field(self, node: FieldNode, parent, seen: frozenset[str]) -> int:
        if node.name.value.startswith("__"):
            return 0
        definition = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(node.name.value)
        if definition is None:
            return 1
        children = self.selections(node.selection_set, get_named_type(definition.type), seen)
        return 1 + self.page_size(node, definition) * children

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        if not any(name in definition.args for name in PAGE_ARGUMENTS):
            return 1
        size = self.given_size(node)
        if size is None:
            defaults = [definition.args[n].default_value for n in PAGE_ARGUMENTS
                        if n in definition.args]
            size = next((d for d in defaults if isinstance(d, int)), self.default_page_size)
        if size > self.max_page_size:
            self.context.report_error(GraphQLError(
                f"A page size of {size} exceeds the maximum of {self.max_page_size}.", node,
                extensions={"code": "PAGE_SIZE_EXCEEDED", "limit": self.max_page_size}))
        return max(size, 0)

    def given_size(self, node: FieldNode) -> int | None:
        sizes = []
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                sizes.append(int(value.value))
            elif isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int):
                    sizes.append(given)
        return max(sizes) if sizes else None
