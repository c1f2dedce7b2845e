"""HTTP delivery: one POST per batch, signed, with an idempotency key, retried with
exponential backoff on 429, 5xx and network failures.

The key of a batch is `<run>-<batch number>`: a run resumed after a failure sends the batch
it may have delivered (and not recorded) again under the same key, so a receiver that honours
the key stores it once. The signature is HMAC-SHA256 over `<timestamp>.<body>` (a receiver
checks it and refuses old timestamps: a replayed body does not pass):
`X-Idgraph-Signature: t=<unix seconds>,v1=<hex>`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from idgraph.activation.destinations import Destination
from idgraph.errors import IdgraphError

log = logging.getLogger("idgraph.activation.delivery")
USER_AGENT = "idgraph-export/1"


class DeliveryFailed(IdgraphError):
    code = "DELIVERY_FAILED"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base: float = 0.5  # seconds before the first retry; doubled each time, with jitter
    cap: float = 60.0  # longest wait, Retry-After included
    timeout: float = 30.0  # per request


@dataclass(frozen=True)
class Batch:
    run: str
    number: int
    records: Sequence[dict[str, Any]]
    meta: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.run}-{self.number}"

    def body(self) -> bytes:
        return orjson.dumps({**self.meta, "run": self.run, "batch": self.number,
                             "records": list(self.records)})


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retryable(status: int) -> bool:
    return status == 429 or status >= 500


class HttpDelivery:
    """Posts batches to one HTTP destination."""

    def __init__(self, destination: Destination, policy: RetryPolicy,
                 client: httpx.AsyncClient | None = None) -> None:
        self.destination = destination
        self.policy = policy
        self.client = client or httpx.AsyncClient(timeout=policy.timeout,
                                                  follow_redirects=False)

    async def send(self, batch: Batch) -> int:
        """Deliver one batch (retrying); the number of attempts it took."""
        body = batch.body()
        for attempt in range(1, self.policy.attempts + 1):
            wait = await self._attempt(batch, body, attempt)
            if wait is None:
                return attempt
            await asyncio.sleep(wait)
        raise DeliveryFailed(f"batch {batch.number} not delivered to "
                             f"{self.destination.name!r} after {self.policy.attempts} "
                             "attempts")

    async def close(self) -> None:
        await self.client.aclose()

    async def _attempt(self, batch: Batch, body: bytes, attempt: int) -> float | None:
        """One POST: None when delivered, else the seconds to wait before the next one."""
        try:
            response = await self.client.post(self.destination.location, content=body,
                                              headers=self._headers(batch, body))
        except httpx.HTTPError as exc:
            log.warning("export batch %s attempt %d: %s", batch.key, attempt,
                        type(exc).__name__)
            return self._backoff(attempt, None)
        if response.is_success:
            return None
        if not retryable(response.status_code):
            raise DeliveryFailed(f"{self.destination.name!r} refused batch {batch.number}: "
                                 f"HTTP {response.status_code} {response.text[:200]!r}")
        log.warning("export batch %s attempt %d: HTTP %d", batch.key, attempt,
                    response.status_code)
        return self._backoff(attempt, response.headers.get("retry-after"))

    def _headers(self, batch: Batch, body: bytes) -> dict[str, str]:
        headers = {**self.destination.headers, "Content-Type": "application/json",
                   "User-Agent": USER_AGENT, "Idempotency-Key": batch.key,
                   "X-Idgraph-Run": batch.run, "X-Idgraph-Batch": str(batch.number)}
        if self.destination.secret:
            now = int(time.time())
            headers["X-Idgraph-Timestamp"] = str(now)
            headers["X-Idgraph-Signature"] = signature(self.destination.secret, now, body)
        return headers

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        """Full jitter on an exponential step; a receiver's Retry-After (seconds) when longer,
        never past the cap."""
        step = min(self.policy.cap, self.policy.base * 2 ** (attempt - 1))
        wait = random.uniform(step / 2, step)
        if retry_after and retry_after.strip().isdigit():
            wait = max(wait, float(retry_after.strip()))
        return min(wait, self.policy.cap)
