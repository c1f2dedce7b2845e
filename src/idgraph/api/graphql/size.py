"""How many fields a document asks for once its fragments are spread, in time linear in its text.

Fragments that each spread the next twice (`fragment F0 on Query { ...F1 ...F1 }`, 40 deep)
make a document of a few hundred tokens ask for 2^40 fields. Every rule that walks the
expanded document (the depth and alias limiters, the cost rule) would then walk 2^40 nodes
on the event loop. This count memoises each fragment's size, so it costs one visit per
selection in the text, and such a document is refused before any of those rules runs
(api/graphql/limits.py, CachedValidation).

The spec's rule that overlapping fields can be merged compares every pair of fields asked for
at one place, recursively: quadratic in repeats, so repeated fields are bounded too
(`repeated_field_pairs`).
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


class _Counter:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.sizes: dict[str, int] = {}
        self.open: set[str] = set()  # fragments being counted: a cycle counts 0 (a rule
        # of its own reports cycles)

    def selections(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        return sum(self.selection(node) for node in selection_set.selections)

    def selection(self, node: object) -> int:
        if isinstance(node, FieldNode):
            return 1 + self.selections(node.selection_set)
        if isinstance(node, InlineFragmentNode):
            return self.selections(node.selection_set)
        if isinstance(node, FragmentSpreadNode):
            return self.fragment(node.name.value)
        return 0

    def fragment(self, name: str) -> int:
        if name in self.sizes:
            return self.sizes[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:
            return 0
        self.open.add(name)
        size = self.selections(fragment.selection_set)
        self.open.discard(name)
        self.sizes[name] = size
        return size


def expanded_fields(document: DocumentNode) -> int:
    """The number of fields the document's operations select, fragments spread in full."""
    counter = _Counter(document)
    return sum(counter.selections(d.selection_set) for d in document.definitions
               if isinstance(d, OperationDefinitionNode))


def expanded_size_error(document: DocumentNode, limit: int) -> GraphQLError | None:
    """A request error when the document expands to more than `limit` fields, else None."""
    try:
        size = expanded_fields(document)
    except RecursionError:  # nesting deeper than Python's stack: far past any limit
        size = limit + 1
    if size <= limit:
        return None
    return GraphQLError(
        f"The document selects {_shown(size)} fields once its fragments are spread, over the "
        f"limit of {limit}; select fewer fields, or spread fragments fewer times.",
        extensions={"code": "TOO_MANY_FIELDS", "limit": limit})


def repeated_field_pairs(document: DocumentNode) -> int:
    """Pairs of fields with one response path (the same field asked for twice at one place,
    fragments spread), which the spec's rule "overlapping fields can be merged" compares one
    by one: 490 copies of `health { neo4j }` took it 4.6 s. Walks the spread document, so call
    it only on one whose expanded size is bounded (`expanded_size_error` first)."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    counts: dict[tuple[str, ...], int] = {}
    stack: list[tuple[SelectionSetNode | None, tuple[str, ...], frozenset[str]]] = [
        (d.selection_set, (), frozenset()) for d in document.definitions
        if isinstance(d, OperationDefinitionNode)]
    while stack:
        selection_set, path, chain = stack.pop()
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                key = (*path, (node.alias or node.name).value)
                counts[key] = counts.get(key, 0) + 1
                stack.append((node.selection_set, key, chain))
            elif isinstance(node, InlineFragmentNode):
                stack.append((node.selection_set, path, chain))
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in chain:
                fragment = fragments.get(node.name.value)
                if fragment is not None:
                    stack.append((fragment.selection_set, path, chain | {node.name.value}))
    return sum(n * (n - 1) // 2 for n in counts.values())


def repeated_fields_error(document: DocumentNode, limit: int) -> GraphQLError | None:
    """A request error when the document repeats fields more than `limit` pairs' worth."""
    pairs = repeated_field_pairs(document)
    if pairs <= limit:
        return None
    return GraphQLError(
        f"The document asks for the same fields at the same place too often ({pairs} pairs "
        f"to compare, over the limit of {limit}); remove the repeated selections.",
        extensions={"code": "TOO_MANY_REPEATED_FIELDS", "limit": limit})


def _shown(size: int) -> str:
    return f"{size}" if size < 10**12 else f"about 10^{len(str(size)) - 1}"
