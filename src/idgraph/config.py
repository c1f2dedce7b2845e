"""Settings: one pydantic-settings object, built when the app or CLI starts (never at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

NEO4J_VERSION = "5.26.30"


class Settings(BaseSettings):
    """Everything configurable, from `IDGRAPH_*` variables (Neo4j also from the usual `NEO4J_*`)."""

    model_config = SettingsConfigDict(env_prefix="IDGRAPH_", extra="ignore")

    # An existing Neo4j (local, docker-compose, cluster via neo4j://, Aura). Unset: managed local.
    neo4j_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_URI", "IDGRAPH_NEO4J_URI")
    )
    neo4j_user: str = Field(
        default="neo4j", validation_alias=AliasChoices("NEO4J_USER", "IDGRAPH_NEO4J_USER")
    )
    neo4j_password: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("NEO4J_PASSWORD", "IDGRAPH_NEO4J_PASSWORD"),
    )
    neo4j_database: str = Field(
        default="neo4j", validation_alias=AliasChoices("NEO4J_DATABASE", "IDGRAPH_NEO4J_DATABASE")
    )
    # Every query runs under this timeout (seconds), so no request can hold the graph forever.
    neo4j_query_timeout: float = 30.0
    # How long transient failures (a deadlock, a leader switch, a restart) are retried before a
    # request fails with a clear error.
    neo4j_retry_seconds: float = 8.0

    # The managed local Neo4j (used when neo4j_uri is unset).
    local_neo4j_version: str = NEO4J_VERSION
    local_neo4j_port: int = 17687
    # Neo4j Browser's HTTP port (only with IDGRAPH_NEO4J_BROWSER=true), on 127.0.0.1.
    local_neo4j_browser_port: int = 17474
    local_neo4j_state_dir: Path = Path(".idgraph/neo4j")
    local_neo4j_cache_dir: Path = Path.home() / ".cache" / "idgraph"
    local_neo4j_heap: str = "1g"
    local_neo4j_pagecache: str = "512m"
    local_neo4j_start_timeout: float = 120.0
    # Neo4j Browser on the managed Neo4j, at http://127.0.0.1:<browser port>/browser/
    # (db/browser.py).
    neo4j_browser: bool = False
    neo4j_browser_version: str = "5.24.0"

    # Identity graph rules.
    namespaces_file: Path | None = None
    # Declared attribute types (profile/attributes.py); unset: the shipped attributes.yaml.
    attributes_file: Path | None = None
    default_phone_region: str = "US"
    max_cluster_size: int = 50
    # Identities re-clustering reads of one connected component (refused links included); an
    # item touching a larger one is rejected with COMPONENT_TOO_LARGE (docs/identity.md).
    max_component_identities: int = 10_000
    max_identities_per_record: int = 20
    max_record_bytes: int = 100_000
    max_event_bytes: int = 10_000
    ingest_batch_size: int = 1000
    # Batch transactions of one ingest call in flight at once (docs/identity.md, "Batches,
    # several in flight"); 1 runs them one after another. 3, not 2: even on 2 cores a third
    # batch fills the gaps while the others wait on Python or on a commit (file ingest of
    # 60,000 records, three alternated pairs: 4-13% less wall time than 2).
    ingest_concurrency: int = Field(default=3, ge=1)
    # `idgraph ingest FILE` holds a group of lines sharing identities until its last line has
    # been read, at most this many lines at once (ingest/planning.py; ~0.5 KB a held line).
    ingest_hold_lines: int = Field(default=200_000, ge=0)
    # Deferred ingest (`ingestDeferred`, `idgraph ingest --defer`; pipeline/backlog.py): every
    # API process's settler looks for accepted batches to settle this often (at once after its
    # own process accepted one); 0: this process never settles (`idgraph settle` does).
    settle_poll_seconds: float = Field(default=1.0, ge=0)
    # The settler gives way to acceptance: it waits until no batch was accepted for
    # `settle_quiet_seconds`, or until the oldest waiting one is `settle_max_lag_seconds` old.
    # Quiet is 2 s, not less: a file's batches in flight commit in step, so a load of new people
    # at 1,000,000 profiles leaves gaps of up to 0.45 s between commits, and a settle started
    # in one slowed the load down, which widened the next gap (session 20).
    settle_quiet_seconds: float = Field(default=2.0, ge=0)
    settle_max_lag_seconds: float = Field(default=30.0, ge=0)
    # A settle takes the oldest waiting batch and the next ones up to this many items in all,
    # in one transaction (0: one batch per settle).
    settle_max_items: int = Field(default=5000, ge=0)
    # Jobs (view rebuilds, computed backfills): items per chunk, one transaction each.
    job_chunk_size: int = Field(default=500, ge=1)
    # A job is held by the process running it for this long from each renewal (its heartbeat
    # renews three times as often); a job whose process died may be resumed by another after.
    job_lease_seconds: float = Field(default=30.0, ge=1)

    # The change feed behind subscriptions, shared by every API process through an outbox in
    # Neo4j (pipeline/outbox.py, docs/scaling.md): a process with subscribers reads new entries
    # every `feed_poll_seconds` (at once after its own commits); its registration as a listener
    # lasts `feed_listen_seconds` from each renewal (renewed four times as often); entries are
    # kept `feed_retention_seconds`.
    feed_poll_seconds: float = Field(default=0.1, gt=0)
    feed_listen_seconds: float = Field(default=30.0, ge=1)
    feed_retention_seconds: float = Field(default=600.0, gt=0)

    # Saved explorations (cypher/queries/): a folder of extra ones (a file named like a shipped
    # one replaces it); each runs read-only, stopped after this many seconds, at most this many
    # rows returned.
    saved_queries_dir: Path | None = None
    saved_query_timeout: float = Field(default=20.0, gt=0)
    saved_query_max_rows: int = Field(default=1000, ge=1)
    # Segments (docs/segments.md). Exited memberships are kept this long, then purged by the
    # next evaluation; memberships are written this many per transaction; time-dependent
    # segments are re-evaluated every `segment_schedule_seconds` by one process (0: never).
    segment_exit_retention_days: float = Field(default=30.0, ge=0)
    # 1,000, not 5,000: Neo4j spends a fifth to a third less CPU per membership in the smaller
    # transactions (bench/results/segments.md; a hand-written query too).
    segment_write_chunk: int = Field(default=1000, ge=1)
    # Chunks of one evaluation written at once, each its own transaction (segments/evaluation.py)
    segment_write_concurrency: int = Field(default=2, ge=1)
    segment_schedule_seconds: float = Field(default=3600.0, ge=0)
    # Streaming segments (segments/streaming.py): the list every write evaluates is cached this
    # long; a change made through this process refreshes it at once, one made through another
    # API process sharing the database is seen within this time.
    segment_streaming_cache_seconds: float = Field(default=10.0, ge=0)

    # Exports (docs/segments.md, "Destinations and exports"). Where destinations may point:
    # local directories and URL prefixes, comma-separated (activation/locations.py); anything
    # else is refused with DESTINATION_NOT_ALLOWED. Plain http:// is not in the default.
    export_allow: str = "exports/,s3://,gs://,az://,abfs://,memory://,https://"
    # fsspec storage options per URL scheme, as JSON: {"s3": {"endpoint_url": "..."}}.
    # Credentials come from the usual places (environment, instance roles) unless given here.
    export_storage_options: SecretStr = SecretStr("")
    # Secrets at rest (activation/sealing.py): Fernet keys, comma-separated, newest first, that
    # seal HTTP destinations' signature secrets and header values; or a file holding them.
    # Unset: the managed local Neo4j generates one in its state directory; a deployment with
    # NEO4J_URI must set one before a destination may hold a secret or headers.
    secrets_key: SecretStr = SecretStr("")
    secrets_key_file: Path | None = None
    # Rows read (and written to a file) per page; an HTTP batch is its destination's batchSize,
    # at most export_max_batch.
    export_page_size: int = Field(default=5000, ge=1, le=100_000)
    export_max_batch: int = Field(default=10_000, ge=1)
    # HTTP delivery: attempts per batch, the first backoff (doubled each retry, with jitter),
    # the longest wait (a receiver's Retry-After included), the timeout per request.
    export_http_attempts: int = Field(default=8, ge=1, le=50)
    export_http_backoff: float = Field(default=0.5, ge=0)
    export_http_backoff_cap: float = Field(default=60.0, ge=0)
    export_http_timeout: float = Field(default=30.0, gt=0)
    # Scheduled activations (interval, on change) are looked at this often by one process
    # (0: never).
    activation_schedule_seconds: float = Field(default=60.0, ge=0)

    # API.
    host: str = "127.0.0.1"
    port: int = 8000

    # Access control: "key:role,key:role" (roles: app, partner, analyst, admin). With no keys
    # here and none stored in the graph, every request is refused (401), unless open loopback
    # mode is asked for (docs/api.md, "Access control").
    api_keys: SecretStr = SecretStr("")
    api_key_cache_seconds: float = 10.0  # how long a looked-up stored key is trusted
    # Development: with no key at all, clients connecting from this machine are admins. Decided
    # at start-up and logged; ends for good once a key exists. `idgraph serve --demo` turns it
    # on unless set; `make run` sets it.
    open_loopback: bool = False
    # Host header names served ("api.example.com,localhost", any port; "*" for any). Unset: any
    # host, except in open loopback mode: localhost, 127.0.0.1 and [::1] only (DNS rebinding).
    allowed_hosts: str = ""
    # Proxies trusted for X-Forwarded-For/-Proto (uvicorn's forwarded_allow_ips: addresses or
    # "*"). Unset: none, the client address is the peer's.
    forwarded_allow_ips: str = ""

    # Limits against abuse (docs/api.md explains each).
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    # Fields a document selects once its fragments are spread (fragments spreading each other
    # twice make a few hundred tokens select 2^40): refused before the other rules walk them.
    max_expanded_fields: int = 5000
    max_cost: int = 5000
    max_page_size: int = 100
    # Items in any list argument (resolve's identities, ingest's records and events, ...).
    max_list_length: int = 10_000
    default_page_size: int = 20
    max_body_bytes: int = 1_000_000
    rate_limit_per_minute: float = 600.0  # token refill per API key
    rate_limit_burst: int = 100  # bucket size: requests allowed back to back
    # API processes serving this graph, on every host (`idgraph serve --workers N` sets it to N
    # unless given): each process keeps its own buckets with 1/N of every rate limit and burst,
    # so together they allow the configured rate (docs/scaling.md, "Rate limits").
    api_processes: int = Field(default=1, ge=1)
    # Failed authentications (missing or unknown key) per client address: past these, the
    # address gets 429 without its keys being looked up (each lookup is a database query).
    auth_failures_per_minute: float = 30.0
    auth_failure_burst: int = 20

    # GraphQL over HTTP: browser origins allowed by CORS ("*" or comma-separated origins).
    cors_origins: str = ""
    # Production switches: turn these off to hide the schema from strangers.
    introspection: bool = True
    graphiql: bool = True
    field_suggestions: bool = True
    # "auto": readable lines when stderr is a terminal, JSON lines otherwise; "json"; "text".
    log_format: Literal["auto", "json", "text"] = "auto"
    # Serve `profile(identity: $x) { ... }` documents of the hot shape without the general
    # executor (api/fast_reads.py; same answers). Off: every request takes the general path.
    fast_profile_reads: bool = True
    # Serve `resolve(identities: $ids) { profileId ... }` documents without the general executor
    # (api/graphql/fast_resolve.py; same answers, limits and permissions). Off: the general path.
    fast_bulk_resolve: bool = True
    # Serve `mutation($r: [RecordInput!]) { ingest(records: $r) { accepted ... } }` documents
    # without the general executor (api/graphql/fast_ingest.py; same answers, limits and
    # permissions). Off: the general path.
    fast_ingest: bool = True

    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def allowed_host_list(self) -> list[str]:
        return [host.strip().lower() for host in self.allowed_hosts.split(",") if host.strip()]
