"""Where the graph is: NEO4J_URI when given, else the managed local Neo4j (started on demand)."""

from __future__ import annotations

from collections.abc import Callable

from idgraph.config import Settings
from idgraph.db import local_server
from idgraph.db.graph import Graph


def local_server_config(settings: Settings) -> local_server.LocalServerConfig:
    return local_server.LocalServerConfig(
        version=settings.local_neo4j_version,
        bolt_port=settings.local_neo4j_port,
        state_dir=settings.local_neo4j_state_dir,
        cache_dir=settings.local_neo4j_cache_dir,
        heap=settings.local_neo4j_heap,
        pagecache=settings.local_neo4j_pagecache,
        start_timeout=settings.local_neo4j_start_timeout,
        browser=settings.neo4j_browser,
        browser_version=settings.neo4j_browser_version,
        browser_port=settings.local_neo4j_browser_port,
    )


def graph_for(settings: Settings, start_local: bool = True,
              log: Callable[[str], object] = print) -> Graph:
    """A Graph for the configured server; starts (or reuses) the managed one when no URI is set."""
    if settings.neo4j_uri:
        password = settings.neo4j_password.get_secret_value()
        auth = (settings.neo4j_user, password) if password else None
        uri = settings.neo4j_uri
    else:
        cfg = local_server_config(settings)
        uri = local_server.start(cfg, log=log) if start_local else cfg.bolt_uri
        auth = cfg.auth  # the generated password in the state directory (db/local_auth.py)
    return Graph(uri=uri, auth=auth, database=settings.neo4j_database,
                 retry_time=settings.neo4j_retry_seconds,
                 timeout=settings.neo4j_query_timeout)
