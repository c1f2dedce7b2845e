"""The cost limit: a validation rule that prices a query before anything runs.

Each field costs 1; the selections under a paginated field (one taking `first` or `last`)
cost that many times over, so `a(first: 50) { b(first: 50) { c } }` costs 1 + 50 * (1 + 50).
So do the selections under a list-returning field driven by a list argument, once per item,
except that scalar fields cost nothing per item (read with their item; the list's length is
capped): `resolve(identities: $ids) { profile { events(first: 100) { edges { node { type } } } } }`
costs 1 + len(ids) * (1 + 1 + 100 * 2), while `resolve(identities: $ids) { profileId }` costs 1.
A page argument or list given as a variable is priced at the variable's value; a page size
absent, at the field's default (or the configured default page size). Page sizes above the
maximum are refused here too, so no resolver ever sees one, and so are lists longer than the
maximum anywhere in the arguments (LIST_TOO_LONG). Introspection fields are not charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    type_from_ast,
    visit,
)

PAGE_ARGUMENTS = ("first", "last")


def cost_rule(max_cost: int, max_page_size: int, default_page_size: int,
              variables: Mapping[str, Any] | None,
              max_list_length: int = 10_000,
              longest_variable_list: int | None = None) -> type[ValidationRule]:
    """A validation rule bound to one request's variables. `longest_variable_list`: their
    `longest_list` when the caller has it already (a compiled bulk resolve, which checked the
    variables' whole shape: walking 10,000 identities again was a tenth of its API time)."""

    class CostLimit(ValidationRule):
        per_request = True  # depends on variables: never cached with the document's rules
        def enter_document(self, node: DocumentNode, *_args: Any) -> bool:
            in_variables = (longest_list(variables) if longest_variable_list is None
                            else longest_variable_list)
            longest = max(in_variables, longest_literal_list(node))
            if longest > max_list_length:
                self.report_error(GraphQLError(
                    f"A list of {longest} items exceeds the limit of {max_list_length}; send "
                    "it in several requests.",
                    extensions={"code": "LIST_TOO_LONG", "limit": max_list_length}))
                return False
            fragments = {d.name.value: d for d in node.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            for operation in node.definitions:
                if isinstance(operation, OperationDefinitionNode):
                    self._check(operation, fragments)
            return False  # priced in one pass; nothing left to visit

        def _check(self, operation: OperationDefinitionNode,
                   fragments: dict[str, FragmentDefinitionNode]) -> None:
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


def _variables(operation: OperationDefinitionNode,
               given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's variables, with the operation's literal defaults filled in (a list
    default as a list of its length: only its length is priced)."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        default = definition.default_value
        if isinstance(default, IntValueNode):
            values[definition.variable.name.value] = int(default.value)
        elif isinstance(default, ListValueNode):
            values[definition.variable.name.value] = [None] * len(default.values)
    values.update(given or {})
    return values


def longest_list(value: Any) -> int:
    """The length of the longest list anywhere in a variables value (0: none)."""
    longest, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            longest = max(longest, len(item))
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return longest


def longest_literal_list(document: DocumentNode) -> int:
    """The length of the longest list written in the document (0: none)."""
    longest = 0

    class Lists(Visitor):
        def enter_list_value(self, node: ListValueNode, *_args: Any) -> None:
            nonlocal longest
            longest = max(longest, len(node.values))

    visit(document, Lists())
    return longest


def priced_by_variables(document: DocumentNode, schema: GraphQLSchema) -> bool:
    """True when the price may depend on the variables: a page size comes from one, or a
    variable's type can hold a list (a list, or an input object with one inside)."""
    found = False

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
            nonlocal found
            if node.name.value in PAGE_ARGUMENTS and isinstance(node.value, VariableNode):
                found = True

        def enter_variable_definition(self, node: VariableDefinitionNode, *_args: Any) -> None:
            nonlocal found
            found = found or _can_hold_list(type_from_ast(schema, node.type), set())

    visit(document, Finder())
    return found


def _can_hold_list(type_: Any, seen: set[str]) -> bool:
    type_ = get_nullable_type(type_)
    if isinstance(type_, GraphQLList):
        return True
    if isinstance(type_, GraphQLInputObjectType) and type_.name not in seen:
        seen.add(type_.name)
        return any(_can_hold_list(f.type, seen) for f in type_.fields.values())
    return False


class Pricer:
    def __init__(self, context: ValidationContext, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], max_page_size: int, default_page_size: int) -> None:
        self.context = context
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        self.default_page_size = default_page_size
        # Each fragment priced once: spread many times, it would otherwise be priced each time
        # (fragments spreading the next twice, 40 deep: 2^40 times; api/graphql/size.py).
        self.fragment_costs: dict[tuple[str, int], int] = {}
        # What a scalar field costs: 1, but nothing per item of a list-driven field (it is read
        # with its item; the list's length is capped, and the items' objects are charged).
        self.leaf_cost = 1

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
                   seen: frozenset[str]) -> int:
        if selection_set is None:
            return 0
        return sum(self.selection(sel, parent, seen) for sel in selection_set.selections)

    def selection(self, node: SelectionNode, parent: GraphQLNamedType | None,
                  seen: frozenset[str]) -> int:
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
            key = (name, self.leaf_cost)
            if key not in self.fragment_costs:
                on = schema.get_type(fragment.type_condition.name.value)
                self.fragment_costs[key] = self.selections(fragment.selection_set, on,
                                                           seen | {name})
            return self.fragment_costs[key]
        return 0

    def field(self, node: FieldNode, parent: GraphQLNamedType | None,
              seen: frozenset[str]) -> int:
        if node.name.value.startswith("__"):
            return 0
        definition = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(node.name.value)
        if definition is None:
            return 1
        named = get_named_type(definition.type)
        if node.selection_set is None and is_leaf_type(named):
            return self.leaf_cost
        page = self.page_size(node, definition)
        listed = self.list_length(node, definition)
        if listed is None:
            return 1 + page * self.selections(node.selection_set, named, seen)
        outer, self.leaf_cost = self.leaf_cost, 0
        try:
            per_item = self.selections(node.selection_set, named, seen)
        finally:
            self.leaf_cost = outer
        return 1 + max(page, listed) * per_item

    def list_length(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The longest list argument's length, when the field returns a list; else None."""
        if not isinstance(get_nullable_type(definition.type), GraphQLList):
            return None
        lengths = []
        for argument in node.arguments or ():
            argument_type = definition.args.get(argument.name.value)
            if argument_type is None or not isinstance(get_nullable_type(argument_type.type),
                                                       GraphQLList):
                continue
            value: Any = argument.value
            if isinstance(value, VariableNode):
                value = self.variables.get(value.name.value)
            lengths.append(_length(value))
        return max(lengths) if lengths else None

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


def _length(value: Any) -> int:
    """Items a list argument brings: a literal or variable list's length; one for a single
    value (coerced to a list of one); none when absent."""
    if isinstance(value, ListValueNode):
        return len(value.values)
    if isinstance(value, list):
        return len(value)
    return 0 if value is None or isinstance(value, NullValueNode) else 1
