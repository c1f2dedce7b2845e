"""Compiling a profile read for the fast path, from the schema itself.

Everything a plan knows about a field comes from the strawberry definition behind the GraphQL
schema, never from a second table: its Python attribute, its GraphQL type (and so how its
value is serialised: by the schema's own scalars), its permission classes (and so the roles it
admits), and whether it has a resolver. A field without a resolver is read as strawberry reads
it, `getattr(source, python_name)`, from the same `Profile` object the general path builds
(`profile_of`). A field with a resolver is compiled only when this module runs that resolver's
logic itself (`FAST_RESOLVERS`); any other resolver, permission class that does not declare
its roles, field extension, interface or union makes the document NotCompilable: the general
path serves it.

The shape: one query operation, one non-null `IdentityInput` variable, one root field
`profile` taking it, no directives, fragments or repeated response keys (aliases are fine).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    TypeNode,
    VariableNode,
)
from graphql.language.location import get_location
from strawberry.permission import PermissionExtension
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from idgraph.api.graphql.profile import Profile, ProfileQuery
from idgraph.auth.roles import Role

Complete = Callable[[Any], Any]  # a resolved value -> its JSON-ready form
Resolve = Callable[[Any], Any]  # the parent object -> the field's value
DEFINITION = "strawberry-definition"  # where strawberry keeps a GraphQL field's definition
# Scalars whose values orjson and strawberry's json.dumps may write differently (floats,
# NaN, objects); `attributes` is the exception, served as the JSON text json.dumps stored.
ENCODED_APART = frozenset({"Float", "JSON"})
# Serialisers that hand a str back as it is (graphql-core's String and ID).
KEEP_TEXT = (GraphQLString.serialize, GraphQLID.serialize)


class NotCompilable(Exception):
    """The document is outside the fast path's shape: the general path serves it."""


class FallBack(Exception):
    """This request must go the general way (the answer could differ from the general path's)."""


def _resolver(cls: type, name: str) -> object:
    """The function strawberry calls for the field `name` of `cls`."""
    resolver = get_object_definition(cls, strict=True).get_field(name)
    assert resolver is not None and resolver.base_resolver is not None, name
    return resolver.base_resolver.wrapped_func


def stored_attributes(profile: Profile) -> orjson.Fragment:
    """`attributes` without arguments: the materialised view's JSON text, as it is stored (the
    resolver parses the same text; strawberry then encodes it again, to the same bytes)."""
    text = profile.stored_attributes_json()
    if text is None:
        raise FallBack  # no materialised view applies: the general path merges fragments
    return orjson.Fragment(text)


# The resolvers this path runs itself: the function strawberry would call -> its equivalent
# here, taking the parent object. Any other resolver in a document makes the path decline.
FAST_RESOLVERS: dict[object, Resolve] = {_resolver(Profile, "attributes"): stored_attributes}
# The root field; the fast path answers it with `profile_of`, as the resolver does.
ROOT_RESOLVER = _resolver(ProfileQuery, "profile")


@dataclass(frozen=True)
class ProfileReadPlan:
    operation_name: str | None
    variable: str  # the IdentityInput variable's name
    root_key: str  # the response key of the `profile` field
    root_location: dict[str, int]  # its line and column, for errors about it
    roles: frozenset[Role]  # the roles every selected field admits
    wants_attributes: bool  # the read must bring the materialised view
    complete: Complete  # the Profile (or None) -> the root field's JSON-ready value

    def admits(self, role: Role | None) -> bool:
        return role in self.roles


def compile_document(schema: GraphQLSchema, document: DocumentNode) -> ProfileReadPlan:
    """The plan of a (validated) document of the fast path's shape; NotCompilable otherwise."""
    op = _one_query(document)
    variable = _identity_variable(op)
    node, field, definition = root_field(schema, op, ROOT_RESOLVER, "identity", variable,
                                         "profile(identity: $x)")
    compiler = _Compiler()
    compiler.admit(definition)
    complete = compiler.output(field.type, node.selection_set)
    return ProfileReadPlan(op.name.value if op.name else None, variable, _key(node),
                           location(node), compiler.roles,
                           stored_attributes in compiler.resolvers, complete)


def root_field(schema: GraphQLSchema, op: OperationDefinitionNode, resolver: Any,
               argument: str, variable: str, shape: str
               ) -> tuple[FieldNode, GraphQLField, StrawberryField]:
    """The operation's one root field, answered by `resolver` and taking only
    `argument: $variable` (what a compiled path assumes); NotCompilable otherwise."""
    root = _fields(op.selection_set)
    # The operation's root type: a compiled mutation (fast_ingest.py) is looked up among the
    # mutation fields, so a query field of the same name is never taken for it.
    parent = schema.mutation_type if op.operation == OperationType.MUTATION else schema.query_type
    if len(root) != 1 or parent is None or root[0].name.value not in parent.fields:
        raise NotCompilable("one root field")
    node, field = root[0], parent.fields[root[0].name.value]
    definition = _definition(field.extensions)
    if definition.base_resolver is None or definition.base_resolver.wrapped_func \
            is not resolver or not _takes(node, argument, variable):
        raise NotCompilable(f"one root field: {shape}")
    return node, field, definition


def location(node: FieldNode) -> dict[str, int]:
    """Where `node` stands in its document, as GraphQL errors give it."""
    assert node.loc is not None
    where = get_location(node.loc.source, node.loc.start)
    return {"line": where.line, "column": where.column}


def _list_variable(op: OperationDefinitionNode, item: str, required: bool) -> str:
    """The name of the operation's one variable, of type `[item!]!` (or also `[item!]` when
    not `required`), without a default or directives; NotCompilable otherwise."""
    if not op.variable_definitions or len(op.variable_definitions) != 1:
        raise NotCompilable("one variable")
    definition = op.variable_definitions[0]
    if (definition.default_value is not None or definition.directives
            or not _is_list_of(definition.type, item, required)):
        raise NotCompilable(f"the variable must be [{item}!]{'!' if required else ''}")
    return definition.variable.name.value


def _is_list_of(type_: TypeNode, item: str, required: bool) -> bool:
    if isinstance(type_, NonNullTypeNode):
        type_ = type_.type
    elif required:
        return False
    if not isinstance(type_, ListTypeNode):
        return False
    inner = type_.type
    return (isinstance(inner, NonNullTypeNode) and isinstance(inner.type, NamedTypeNode)
            and inner.type.name.value == item)


def _one_query(document: DocumentNode,
               operation: OperationType = OperationType.QUERY) -> OperationDefinitionNode:
    """The document's one operation, of the type `operation`, without directives."""
    if len(document.definitions) != 1:
        raise NotCompilable("one operation only")
    op = document.definitions[0]
    if not isinstance(op, OperationDefinitionNode) or op.operation != operation:
        raise NotCompilable(f"{operation.value} operations only")
    if op.directives:
        raise NotCompilable("no directives")
    return op


def _identity_variable(op: OperationDefinitionNode) -> str:
    """The name of the operation's one variable, of type IdentityInput! without a default."""
    if not op.variable_definitions or len(op.variable_definitions) != 1:
        raise NotCompilable("one variable")
    definition = op.variable_definitions[0]
    type_ = definition.type
    if (definition.default_value is not None or definition.directives
            or not isinstance(type_, NonNullTypeNode)
            or not isinstance(type_.type, NamedTypeNode)
            or type_.type.name.value != "IdentityInput"):
        raise NotCompilable("the variable must be IdentityInput!")
    return definition.variable.name.value


def _takes(node: FieldNode, name: str, variable: str) -> bool:
    """The root field's one argument is `name: $variable`."""
    if not node.arguments or len(node.arguments) != 1:
        return False
    argument = node.arguments[0]
    return (argument.name.value == name and isinstance(argument.value, VariableNode)
            and argument.value.name.value == variable)


def _definition(extensions: dict[str, Any]) -> StrawberryField:
    definition = extensions.get(DEFINITION)
    if not isinstance(definition, StrawberryField):
        raise NotCompilable("a field strawberry did not define")
    return definition


class _Compiler:
    """Walks a selection along the schema, collecting the roles and resolvers it needs."""

    def __init__(self) -> None:
        self.roles = frozenset(Role)
        self.resolvers: set[Resolve] = set()

    def admit(self, definition: StrawberryField) -> None:
        """Narrow the plan's roles to those the field's permissions admit (all of them must,
        as strawberry checks every permission of a field)."""
        for extension in definition.extensions:
            if not isinstance(extension, PermissionExtension):
                raise NotCompilable(f"field extension {type(extension).__name__}")
            for permission in extension.permissions:
                roles = getattr(permission, "roles", None)
                if not isinstance(roles, frozenset):
                    raise NotCompilable(f"{type(permission).__name__} declares no roles")
                self.roles &= roles

    def output(self, type_: GraphQLOutputType, selection: SelectionSetNode | None) -> Complete:
        """Completes a value of `type_`, as graphql-core does; FallBack where it would err."""
        if isinstance(type_, GraphQLNonNull):
            return _non_null(self._value(type_.of_type, selection))
        if isinstance(type_, GraphQLScalarType) and type_.serialize in KEEP_TEXT:
            return _nullable_text(_leaf(type_.serialize))
        return _nullable(self._value(type_, selection))

    def _value(self, type_: GraphQLOutputType, selection: SelectionSetNode | None) -> Complete:
        """Completes a value of `type_` that is not None."""
        if isinstance(type_, GraphQLList):
            return _list_of(self.output(type_.of_type, selection))
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            if type_.name in ENCODED_APART:
                raise NotCompilable(f"{type_.name} values are the general path's to encode")
            return _leaf(type_.serialize)
        if isinstance(type_, GraphQLObjectType):
            return self.object(type_, selection)
        raise NotCompilable(f"{type_}: interfaces and unions are served by the general path")

    def object(self, type_: GraphQLObjectType, selection: SelectionSetNode | None) -> Complete:
        fields = [self.field(type_, node) for node in _fields(selection)]
        if len(fields) == 1:  # `resolve(...) { profileId }`: 10,000 of them, no loop each
            [(key, resolve, finish)] = fields
            return lambda source: {key: finish(resolve(source))}

        def complete(source: Any) -> dict[str, Any]:
            return {key: finish(resolve(source)) for key, resolve, finish in fields}

        return complete

    def field(self, parent: GraphQLObjectType,
              node: FieldNode) -> tuple[str, Resolve, Complete]:
        """(response key, how to read the value from the parent, how to complete it)."""
        name = node.name.value
        if name == "__typename":
            return _key(node), _constant(parent.name), _same
        if node.arguments:
            raise NotCompilable("no arguments below the root")
        field = parent.fields[name]  # the document was validated: the field exists
        definition = _definition(field.extensions)
        self.admit(definition)
        if definition.base_resolver is None:
            return (_key(node), operator.attrgetter(definition.python_name),
                    self.output(field.type, node.selection_set))
        fast = FAST_RESOLVERS.get(definition.base_resolver.wrapped_func)
        if fast is None:
            raise NotCompilable(f"{parent.name}.{name}: its resolver is the general path's")
        self.resolvers.add(fast)
        return _key(node), fast, _same


def _fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
    """The selections as plain fields with unique response keys; NotCompilable otherwise."""
    if selection_set is None:
        raise NotCompilable("objects need a selection")
    fields = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise NotCompilable("plain fields only")
        fields.append(selection)
    if len({_key(f) for f in fields}) != len(fields):
        raise NotCompilable("repeated response keys")
    return fields


def _key(field: FieldNode) -> str:
    return field.alias.value if field.alias else field.name.value


def _non_null(complete: Complete) -> Complete:
    def non_null(value: Any) -> Any:
        if value is None:
            raise FallBack  # the general path's error (a null in a non-null field)
        return complete(value)

    return non_null


def _nullable(complete: Complete) -> Complete:
    return lambda value: None if value is None else complete(value)


def _nullable_text(complete: Complete) -> Complete:
    """`_nullable` of a String or ID leaf: a str is its own serialisation (KEEP_TEXT), so
    the common value skips two calls (a bulk resolve completes 10,000 profile ids)."""
    return lambda value: value if value is None or type(value) is str else complete(value)


def _list_of(complete: Complete) -> Complete:
    return lambda values: [complete(value) for value in values]


def _leaf(serialize: Callable[[Any], Any]) -> Complete:
    def leaf(value: Any) -> Any:
        out = serialize(value)
        # Only values JSON encoders agree on (no floats, no JSON objects); the rest: general.
        if type(out) not in (str, int, bool):
            raise FallBack
        return out

    return leaf


def _constant(value: str) -> Resolve:
    return lambda _source: value


def _same(value: Any) -> Any:
    return value


# Shared with fast_resolve.py: a bulk resolve's selection is compiled by the same walker.
field_compiler = _Compiler
field_definition = _definition
one_operation = one_query = _one_query
list_variable = _list_variable
plain_fields = _fields
resolver_of = _resolver
response_key = _key
