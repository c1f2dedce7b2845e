"""The GraphQL schema: one module per domain's types, the context, limits and errors."""
