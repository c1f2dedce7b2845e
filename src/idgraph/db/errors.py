"""Errors raised by the database layer, each with a message that says what to do next."""


class DatabaseError(Exception):
    """Base for database-layer errors."""


class LocalNeo4jError(DatabaseError):
    """The managed local Neo4j could not be prepared, started or stopped."""


class DatabaseUnavailable(DatabaseError):
    """Neo4j cannot be reached right now."""
