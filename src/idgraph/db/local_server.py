"""The managed local Neo4j: Neo4j Community assembled from Maven Central, run as a real server.

Used when no NEO4J_URI is given (the demo, and tests on machines without Docker). Jars live in a
shared cache; data, logs and the pid file live in a per-use state directory, so the demo and the
test suite never share a database. Every wait is bounded; every failure names what to do next.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from idgraph.db import browser, local_auth
from idgraph.db.errors import LocalNeo4jError

MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dfile.encoding=UTF-8",
]
ARTIFACTS = ["org.neo4j.app:neo4j-server", "org.neo4j:neo4j", "org.neo4j:neo4j-bolt"]

POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>idgraph.local</groupId><artifactId>neo4j-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""
# Neo4j's parent poms name other repositories; mirroring everything to Central keeps Maven from
# stalling on hosts this network cannot reach.
SETTINGS_XML = """<settings><mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf>
<url>https://repo.maven.apache.org/maven2</url></mirror></mirrors></settings>
"""


@dataclass(frozen=True)
class LocalServerConfig:
    version: str
    bolt_port: int
    state_dir: Path
    cache_dir: Path
    heap: str = "1g"
    pagecache: str = "512m"
    start_timeout: float = 120.0
    browser: bool = False  # serve Neo4j Browser (db/browser.py)
    browser_version: str = "5.24.0"
    browser_port: int | None = None  # HTTP, on only with the Browser; None: Bolt's port + 1

    @property
    def http_port(self) -> int:
        """Neo4j Browser's port (HTTP is on only with the Browser)."""
        return self.browser_port if self.browser_port is not None else self.bolt_port + 1

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def lib_dir(self) -> Path:
        return self.cache_dir.expanduser().resolve() / f"neo4j-{self.version}" / "lib"

    @property
    def home(self) -> Path:
        return self.state_dir.expanduser().resolve()

    @property
    def auth(self) -> tuple[str, str] | None:
        """The user and generated password idgraph connects with (db/local_auth.py)."""
        password = local_auth.read_password(self.home)
        return (local_auth.USER, password) if password else None


@dataclass(frozen=True)
class ServerStatus:
    state: str  # "running", "stopped", or "crashed" (pid file left by a dead process)
    pid: int | None
    uri: str
    detail: str = ""


def find_java() -> str:
    """The java binary to use (JAVA_HOME first), checked to be Java 17 to 21."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise LocalNeo4jError(
            "Java not found. Neo4j 5.26 needs Java 17 or 21: install it "
            "(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME, "
            "or point idgraph at an existing server with NEO4J_URI."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    if not 17 <= major <= 21:
        raise LocalNeo4jError(
            f"{java} is Java {major or 'unknown'}; Neo4j 5.26 needs Java 17 or 21. "
            "Set JAVA_HOME to a Java 17 or 21 installation."
        )
    return java


def ensure_jars(cfg: LocalServerConfig, log: Callable[[str], object] = print) -> Path:
    """Download Neo4j's jar closure once into the cache; later calls reuse it."""
    lib = cfg.lib_dir
    marker = lib.parent / "COMPLETE"
    if marker.exists():
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalNeo4jError(
            "Maven (`mvn`) not found; it fetches Neo4j from Maven Central on first start. "
            "Install it (e.g. `apt-get install maven`) or set NEO4J_URI to an existing server."
        )
    work = lib.parent
    work.mkdir(parents=True, exist_ok=True)
    deps = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{cfg.version}</version></dependency>"
        for g, a in (artifact.split(":") for artifact in ARTIFACTS)
    )
    (work / "pom.xml").write_text(POM_TEMPLATE.format(deps=deps))
    (work / "settings.xml").write_text(SETTINGS_XML)
    log(f"Fetching Neo4j {cfg.version} Community from Maven Central (first start only)...")
    staging = work / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-s", str(work / "settings.xml"), "-f", str(work / "pom.xml"),
           "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
           "-DincludeScope=runtime"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        raise LocalNeo4jError("Maven took over 15 minutes to fetch Neo4j; check the network "
                              "to Maven Central and try again.") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise LocalNeo4jError(f"Maven could not fetch Neo4j {cfg.version}:\n{tail}\n"
                              "Check access to Maven Central, or set NEO4J_URI.")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    marker.write_text(cfg.version)
    return lib


TX_LOG_RETENTION = "2 files"  # of 256 MiB each (db.tx_log.rotation.size)


def _conf_text(cfg: LocalServerConfig) -> str:
    home = cfg.home
    lines = {
        "server.directories.data": home / "data",
        "server.directories.logs": home / "logs",
        "server.directories.run": home / "run",
        "server.directories.plugins": home / "plugins",
        "server.directories.import": home / "import",
        "server.directories.transaction.logs.root": home / "data" / "transactions",
        "server.default_listen_address": "127.0.0.1",
        "server.bolt.listen_address": f"127.0.0.1:{cfg.bolt_port}",
        # Bolt only: nothing of idgraph uses Neo4j's HTTP API, so it offers no way around it.
        "server.http.enabled": "false",
        "server.https.enabled": "false",
        # Other local processes must not reach the graph around idgraph's roles.
        "dbms.security.auth_enabled": "true",
        "server.memory.pagecache.size": cfg.pagecache,
        "dbms.usage_report.enabled": "false",
        "db.transaction.timeout": "120s",
        # With ALL (the default) the server asks drivers for a receive timeout, and the async
        # driver then wraps every socket read in a task and a timer: ~7 per profile read.
        # STREAMING still sends keep-alives while a result streams; idgraph's own deadline per
        # operation (db/graph.py) covers a server that stops answering. docs/api.md.
        "server.bolt.connection_keep_alive_for_requests": "STREAMING",
        # Transaction logs kept as far as recovery needs them, not Neo4j's default two days:
        # a day of benchmarks on local stores (bulk ingests, evaluations of 250,000 members)
        # left about 40 GB of logs over three stores and filled the disk. Community has no
        # online backup that would read them; a store's own files are its backup
        # (`neo4j-admin dump`).
        "db.tx_log.rotation.retention_policy": TX_LOG_RETENTION,
    }
    if cfg.browser:
        lines.update(browser.settings(cfg))
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def _pid_file(cfg: LocalServerConfig) -> Path:
    return cfg.home / "idgraph-neo4j.pid"


def _read_pid(cfg: LocalServerConfig) -> int | None:
    try:
        return int(_pid_file(cfg).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_our_process(pid: int, cfg: LocalServerConfig) -> bool:
    """True when pid is alive and is the Neo4j serving this state directory (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return MAIN_CLASS in cmdline and f"--home-dir={cfg.home}" in cmdline


def _alive(pid: int) -> bool:
    """True while pid runs (a zombie child that has exited counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status(cfg: LocalServerConfig) -> ServerStatus:
    pid = _read_pid(cfg)
    if pid is None:
        return ServerStatus("stopped", None, cfg.bolt_uri)
    if not _is_our_process(pid, cfg):
        return ServerStatus("crashed", pid, cfg.bolt_uri,
                            f"pid {pid} is gone; see {cfg.home / 'console.log'}")
    if not _port_open(cfg.bolt_port):
        return ServerStatus("starting", pid, cfg.bolt_uri, "process up, Bolt not answering yet")
    return ServerStatus("running", pid, cfg.bolt_uri)


def start(cfg: LocalServerConfig, log: Callable[[str], object] = print) -> str:
    """Start the server (or reuse the running one) and return its Bolt URI once it answers."""
    current = status(cfg)
    if current.state in ("running", "starting") and _runs_without_auth(cfg):
        log("Restarting the managed Neo4j with authentication on...")
        stop(cfg)
        current = status(cfg)
    if current.state in ("running", "starting"):
        _wait_until_ready(cfg, current.pid)
        local_auth.upgrade(cfg.bolt_uri, local_auth.ensure_password(cfg.home), cfg.home)
        return cfg.bolt_uri
    if _port_open(cfg.bolt_port):
        raise LocalNeo4jError(
            f"Port {cfg.bolt_port} on 127.0.0.1 is taken by another program. Stop it, or "
            "choose another port with IDGRAPH_LOCAL_NEO4J_PORT.")
    java = find_java()
    lib = ensure_jars(cfg, log)
    extra_classpath = browser.classpath(cfg, log)
    home = cfg.home
    for sub in ("conf", "data", "logs", "run", "plugins", "import"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "conf" / "neo4j.conf").write_text(_conf_text(cfg))
    password = local_auth.ensure_password(home)
    if not local_auth.store_exists(home):
        local_auth.set_initial_password(java, lib, home, password)
    cmd = [java, f"-Xms{cfg.heap}", f"-Xmx{cfg.heap}", *JVM_FLAGS,
           f"-XX:ErrorFile={home / 'logs' / 'hs_err_pid%p.log'}",
           "-cp", f"{lib}/*{extra_classpath}", MAIN_CLASS,
           f"--home-dir={home}", f"--config-dir={home / 'conf'}", "--console-mode"]
    with open(home / "console.log", "ab") as console:
        proc = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(cfg).write_text(str(proc.pid))
    log(f"Starting Neo4j {cfg.version} (pid {proc.pid}, data in {home})...")
    _wait_until_ready(cfg, proc.pid)
    local_auth.upgrade(cfg.bolt_uri, password, home)
    return cfg.bolt_uri


def _runs_without_auth(cfg: LocalServerConfig) -> bool:
    """True for a server started by an idgraph that ran it without authentication."""
    try:
        conf = (cfg.home / "conf" / "neo4j.conf").read_text()
    except FileNotFoundError:
        return False
    return "dbms.security.auth_enabled=false" in conf


def _wait_until_ready(cfg: LocalServerConfig, pid: int | None) -> None:
    deadline = time.monotonic() + cfg.start_timeout
    while time.monotonic() < deadline:
        # Liveness only: the Java launcher may re-exec itself, so its cmdline can briefly differ.
        if pid is not None and not _alive(pid):
            raise LocalNeo4jError(
                f"Neo4j exited during start-up. Last lines of {cfg.home / 'console.log'}:\n"
                f"{_log_tail(cfg)}")
        if _port_open(cfg.bolt_port) and _bolt_answers(cfg.bolt_uri):
            return
        time.sleep(0.3)
    raise LocalNeo4jError(
        f"Neo4j did not answer on {cfg.bolt_uri} within {cfg.start_timeout:.0f}s. "
        f"Run `idgraph neo4j stop`, check {cfg.home / 'console.log'}, then start again.")


def _bolt_answers(uri: str) -> bool:
    """True once the server answers Bolt. No credentials are sent (a refusal counts as an
    answer): failed logins would count towards locking the user out; local_auth.upgrade
    logs in."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

    try:
        with GraphDatabase.driver(uri, auth=None, connection_timeout=2) as driver:
            driver.verify_connectivity()
        return True
    except AuthError:
        return True
    except (ServiceUnavailable, Neo4jError, OSError):
        return False


def _log_tail(cfg: LocalServerConfig, lines: int = 20) -> str:
    try:
        text = (cfg.home / "console.log").read_text(errors="replace")
    except FileNotFoundError:
        return "(no console.log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def stop(cfg: LocalServerConfig, timeout: float = 60.0) -> bool:
    """Stop the server; returns False when nothing was running. Leaves no Java process behind."""
    pid = _read_pid(cfg)
    if pid is None or not _is_our_process(pid, cfg):
        _pid_file(cfg).unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)  # SIGTERM lets Neo4j check-point and shut down cleanly
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_our_process(pid, cfg):
        time.sleep(0.2)
    if _is_our_process(pid, cfg):
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)
    _pid_file(cfg).unlink(missing_ok=True)
    return True


def browser_banner(cfg: LocalServerConfig) -> str | None:
    """How to open Neo4j Browser on this server, with its credentials (db/browser.py); None
    when the Browser is not wanted."""
    pid = _read_pid(cfg)
    cmdline = None
    if pid is not None and _is_our_process(pid, cfg):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        browser.wait_until_serving(cfg)
    return browser.banner(cfg, cmdline)
