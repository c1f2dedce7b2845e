"""Errors raised by the database layer, each with a message that says what to do next."""


class DatabaseError(Exception):
    """Base for database-layer errors."""


class LocalNeo4jError(DatabaseError):
    """The managed local Neo4j could not be prepared, started or stopped."""


class DatabaseUnavailable(DatabaseError):
    """Neo4j cannot be reached right now."""


class QueryTimedOut(DatabaseError):
    """A statement ran past its time limit and Neo4j stopped it."""


class WriteRefused(DatabaseError):
    """A statement tried to write inside a read-only transaction; nothing was written."""
