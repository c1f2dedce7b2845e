"""Neo4j Browser for the managed local Neo4j (IDGRAPH_NEO4J_BROWSER=true; on for `make run`).

The Browser is one jar on Maven Central (org.neo4j.client:neo4j-browser): with it on the
server's classpath and the HTTP connector on, Neo4j serves it at /browser/. Both stay on
127.0.0.1, and the Browser is told not to reach the internet (guides, telemetry), so it works
offline. Kept apart from local_server.py, which only asks for the settings and the classpath.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from idgraph.db import local_auth
from idgraph.db.errors import LocalNeo4jError

if TYPE_CHECKING:
    from idgraph.db.local_server import LocalServerConfig

BROWSER_ARTIFACT = "org.neo4j.client:neo4j-browser"
NEO4J_USER = "neo4j"


def settings(cfg: LocalServerConfig) -> dict[str, str]:
    """neo4j.conf entries that serve the Browser on loopback only, offline."""
    return {
        "server.http.enabled": "true",
        "server.http.listen_address": f"127.0.0.1:{cfg.http_port}",
        # The Browser connects to the address the server advertises: the loopback one, not
        # `localhost` (which a browser may try as ::1 first, where nothing listens).
        "server.bolt.advertised_address": f"127.0.0.1:{cfg.bolt_port}",
        "server.http.advertised_address": f"127.0.0.1:{cfg.http_port}",
        # Community 5.26 knows no switch for the Browser's outgoing connections: what it may
        # fetch is limited to loopback hosts instead, and product analytics are off.
        "browser.remote_content_hostname_whitelist": "127.0.0.1,localhost",
        "client.allow_telemetry": "false",
    }


def jar_dir(cfg: LocalServerConfig) -> Path:
    return cfg.cache_dir.expanduser().resolve() / f"neo4j-browser-{cfg.browser_version}"


def ensure_jar(cfg: LocalServerConfig, log: Callable[[str], object] = print) -> Path:
    """The folder holding the Browser's jar, fetched from Maven Central once."""
    folder = jar_dir(cfg)
    if any(folder.glob("*.jar")):
        return folder
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalNeo4jError("Maven (`mvn`) not found; it fetches Neo4j Browser from Maven "
                              "Central. Install it, or unset IDGRAPH_NEO4J_BROWSER.")
    from idgraph.db.local_server import SETTINGS_XML

    folder.parent.mkdir(parents=True, exist_ok=True)
    settings_xml = folder.parent / f"{folder.name}-settings.xml"
    settings_xml.write_text(SETTINGS_XML)
    log(f"Fetching Neo4j Browser {cfg.browser_version} from Maven Central (first use only)...")
    done = subprocess.run(
        [mvn, "-B", "-q", "-s", str(settings_xml), "dependency:copy",
         f"-Dartifact={BROWSER_ARTIFACT}:{cfg.browser_version}", f"-DoutputDirectory={folder}"],
        capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not any(folder.glob("*.jar")):
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise LocalNeo4jError(f"Maven could not fetch Neo4j Browser {cfg.browser_version}:\n"
                              f"{tail}\nCheck access to Maven Central, or unset "
                              "IDGRAPH_NEO4J_BROWSER.")
    return folder


def classpath(cfg: LocalServerConfig, log: Callable[[str], object] = print) -> str:
    """What the server's classpath gains: the Browser's jar folder, when it is wanted."""
    return f":{ensure_jar(cfg, log)}/*" if cfg.browser else ""


def wait_until_serving(cfg: LocalServerConfig) -> None:
    """Wait (up to the start time-out) for the HTTP connector, which may open after Bolt."""
    deadline = time.monotonic() + cfg.start_timeout
    while cfg.browser and time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", cfg.http_port)) == 0:
                return
        time.sleep(0.3)


def url(cfg: LocalServerConfig) -> str:
    return f"http://127.0.0.1:{cfg.http_port}/browser/"


def banner(cfg: LocalServerConfig, running_cmdline: str | None) -> str | None:
    """How to open the Browser of the running server, with its credentials; None when it is
    not wanted. `running_cmdline` is the server process's command line (None: not running)."""
    if not cfg.browser:
        return None
    if running_cmdline is not None and str(jar_dir(cfg)) not in running_cmdline:
        return ("Neo4j Browser: the running Neo4j was started without it; run `idgraph neo4j "
                "stop`, then start again with IDGRAPH_NEO4J_BROWSER=true.")
    return (f"Neo4j Browser: {url(cfg)}  (connect to {cfg.bolt_uri}; "
            f"{credentials(cfg)})")


def credentials(cfg: LocalServerConfig) -> str:
    """The credentials to type into the Browser's connect form."""
    password = local_auth.read_password(cfg.home)
    if password is None:
        return "authentication: none"
    return (f"user {NEO4J_USER}, password {password} "
            f"(from {local_auth.password_path(cfg.home)})")
