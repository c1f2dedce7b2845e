"""Authentication of the managed local Neo4j: a generated password, kept in the state directory.

The server runs with authentication on, so no other local process reaches the graph around
idgraph's roles. The password is generated on first use and kept in `neo4j-password` (mode
0600) in the state directory; idgraph reads it from there (db/connect.py) and
`idgraph neo4j status` prints it. A new store gets it before its first start
(`neo4j-admin dbms set-initial-password`, i.e. org.neo4j.cli.AdminTool from the same jars); a
store made when the server ran without authentication still has the default user neo4j/neo4j,
whose password is changed to the generated one right after the start (`upgrade`).
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
from pathlib import Path
from typing import Any

from idgraph.db.errors import LocalNeo4jError

USER = "neo4j"
PASSWORD_FILE = "neo4j-password"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
DEFAULT_PASSWORD = "neo4j"  # what a store created without authentication has
# Letters and digits only: neo4j-admin reads its arguments with picocli, which takes a password
# starting with "-" (token_urlsafe's alphabet has it: 1 store in 64) for an option and fails.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32  # ~190 bits


def password_path(home: Path) -> Path:
    return home / PASSWORD_FILE


def read_password(home: Path) -> str | None:
    """The managed server's password, when one has been generated for this state directory."""
    try:
        return password_path(home).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_password(home: Path) -> str:
    """The state directory's password, generated on first use; the file is kept at 0600."""
    path = password_path(home)
    if (existing := read_password(home)) is not None:
        os.chmod(path, 0o600)
        return existing
    password = generate_password()
    home.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # an empty file left by a crash
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(password + "\n")
    return password


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def store_exists(home: Path) -> bool:
    """True once the server has started on this state directory (its system database)."""
    return (home / "data" / "databases" / "system").exists()


def set_initial_password(java: str, lib: Path, home: Path, password: str) -> None:
    """Give a store that has never started its neo4j user's password. The password goes in an
    argument file (0600), not on the command line, where other local users could read it."""
    arguments = home / "run" / "set-initial-password.args"
    arguments.parent.mkdir(parents=True, exist_ok=True)
    arguments.unlink(missing_ok=True)
    descriptor = os.open(arguments, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(password + "\n")
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    try:
        done = subprocess.run(
            [java, "-cp", f"{lib}/*", ADMIN_TOOL, "dbms", "set-initial-password",
             f"@{arguments}"], env=env, capture_output=True, text=True, timeout=300)
    finally:
        arguments.unlink(missing_ok=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise LocalNeo4jError(f"Could not set the managed Neo4j's password:\n{tail}")


def upgrade(uri: str, password: str, home: Path) -> None:
    """Make sure the running server takes `password`: a store created without authentication
    still has the default password, which is changed now. Anything else is a clear error."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    try:
        _verify(GraphDatabase, uri, password)
        return
    except AuthError:
        pass
    try:
        with GraphDatabase.driver(uri, auth=(USER, DEFAULT_PASSWORD)) as driver:
            driver.execute_query("ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
                                 old=DEFAULT_PASSWORD, new=password, database_="system")
        _verify(GraphDatabase, uri, password)
    except AuthError as exc:
        raise LocalNeo4jError(
            f"The managed Neo4j in {home} refuses the password in {password_path(home)}. Put "
            "its password in that file, or stop it and delete its data directory "
            f"({home / 'data'}) to start afresh.") from exc


def _verify(database: Any, uri: str, password: str) -> None:
    """Log in with `password` (`database`: neo4j.GraphDatabase, imported by the caller)."""
    with database.driver(uri, auth=(USER, password), connection_timeout=5) as driver:
        driver.verify_connectivity()
