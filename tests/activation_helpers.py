"""Helpers for the export tests: a real HTTP receiver on a loopback port (fails first attempts,
checks signatures, honours idempotency keys), a real S3-compatible server (moto's server
mode), and the activation GraphQL documents."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.segment_helpers import wait_job

SECRET = "receiver-secret-0123456789"

CREATE_DESTINATION = """
mutation D($input: DestinationInput!) {
  createDestination(input: $input) {
    id name kind location format headerNames hasSecret batchSize
  }
}
"""
ACTIVATE = """
mutation A($input: ActivationInput!) {
  activateSegment(input: $input) { id segmentId destinationId namespaces attributes schedule
                                   mode }
}
"""
RUN_FIELDS = """id status error mode location segmentId destinationId activationId
  counts { exported skipped realized existing exited batches } job { id kind status }"""
RUN_ACTIVATION = f"""
mutation R($id: ID!, $mode: ExportMode) {{ runActivation(id: $id, mode: $mode) {{ {RUN_FIELDS} }} }}
"""
START_EXPORT = f"""
mutation S($input: ExportInput!) {{ startExport(input: $input) {{ {RUN_FIELDS} }} }}
"""
RUN = f"query Q($id: ID!) {{ exportRun(id: $id) {{ {RUN_FIELDS} }} }}"


def warm_up(url: str, headers: dict | None = None) -> None:
    """One ingest with a long client timeout: on a loaded machine a cold Neo4j took over a
    minute to plan and run the first write, past the test client's timeout. (Each test then
    starts from an empty graph.)"""
    import httpx

    from tests.identity_helpers import INGEST, record

    body = {"query": INGEST, "variables": {"records": [record("warm", "crm:WARM")]}}
    httpx.post(f"{url}/graphql", json=body, headers=headers or {}, timeout=600)


def finished_run(gql, run: dict) -> dict:
    job = wait_job(gql, run["id"])
    assert job["status"] == "SUCCEEDED", job
    return gql(RUN, {"id": run["id"]})["exportRun"]


def destination(gql, **fields) -> dict:
    return gql(CREATE_DESTINATION, {"input": fields})["createDestination"]


@dataclass
class Receiver:
    """What the receiver saw: records per idempotency key, requests, refusals."""

    secret: str = SECRET
    # Status answered to the first requests, in order (then 200): e.g. [503, 429].
    failures: list[int] = field(default_factory=list)
    batches: dict[str, list[dict]] = field(default_factory=dict)
    attempts: Counter = field(default_factory=Counter)
    replays: int = 0
    bad_signatures: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    # Hold the answer to this batch number (after storing it) until `release` is set: the
    # sender never learns it was delivered.
    hold_batch: int | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def records(self) -> list[dict]:
        return [r for key in sorted(self.batches) for r in self.batches[key]]

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.headers.append(headers)
            key = headers.get("idempotency-key", "")
            self.attempts[key] += 1
            if self.failures:
                status = self.failures.pop(0)
                return status, ({"Retry-After": "0"} if status == 429 else {})
            if not self._signed(headers, body):
                self.bad_signatures += 1
                return 401, {}
            if key in self.batches:
                self.replays += 1
                return 200, {}
            payload = json.loads(body)
            self.batches[key] = payload["records"]
            hold = payload["batch"] == self.hold_batch
        if hold:
            self.holding.set()
            self.release.wait(60)
        return 200, {}

    def _signed(self, headers: dict[str, str], body: bytes) -> bool:
        given = headers.get("x-idgraph-signature", "")
        parts = dict(p.split("=", 1) for p in given.split(",") if "=" in p)
        if "t" not in parts or abs(time.time() - int(parts["t"])) > 300:
            return False
        digest = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + body,
                          hashlib.sha256).hexdigest()
        return hmac.compare_digest(digest, parts.get("v1", ""))


def serve_receiver(current, port: int) -> ThreadingHTTPServer:
    """A receiver on 127.0.0.1:`port`; `current()` is the Receiver of the running test."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status, extra = current().handle({k.lower(): v for k, v in self.headers.items()},
                                            body)
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender went away (a run stopped half-way)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
