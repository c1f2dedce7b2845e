"""The activation domain as the app holds it: destinations, activations, the export job kind,
and the scheduler of activations (interval and on-change), run by one process at a time."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from idgraph.activation.locations import AllowList
from idgraph.activation.repository import SCHEDULED_ACTIVATIONS, ActivationRepository
from idgraph.activation.runs import ExportWork
from idgraph.activation.sealing import Keyring, SecretsKeyError
from idgraph.activation.service import ActivationService, Destinations, Mode, Schedule
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.errors import IdgraphError
from idgraph.identity.namespaces import load_registry
from idgraph.jobs.service import Job, JobService
from idgraph.profile.attributes import load_attribute_schema
from idgraph.segments.domain import Segments
from idgraph.segments.scheduler import Lease, Scheduler

log = logging.getLogger("idgraph.activation")
LEASE_NAME = "activation-scheduler"
MIN_LEASE_MS = 60_000


@dataclass
class Activation:
    service: ActivationService
    destinations: Destinations
    work: ExportWork
    scheduler: Scheduler = field(init=False)
    _warned: bool = field(default=False, init=False)  # about clear secrets and no key

    @classmethod
    def build(cls, settings: Settings, graph: Graph, segments: Segments,
              jobs: JobService) -> Activation:
        repository = ActivationRepository(graph)
        keyring = Keyring.from_settings(settings)
        keyring.check()  # keys that are not Fernet keys stop the start, not a delivery later
        destinations = Destinations(repository, AllowList.parse(settings.export_allow),
                                    settings.export_max_batch, keyring)
        from idgraph.activation.delivery import RetryPolicy

        work = ExportWork(graph, repository, destinations, storage_options(settings),
                          RetryPolicy(settings.export_http_attempts,
                                      settings.export_http_backoff,
                                      settings.export_http_backoff_cap,
                                      settings.export_http_timeout),
                          settings.export_page_size)
        jobs.register(work)
        service = ActivationService(repository, destinations, segments.service, jobs,
                                    load_registry(settings.namespaces_file),
                                    load_attribute_schema(settings.attributes_file))
        domain = cls(service, destinations, work)
        interval = settings.activation_schedule_seconds
        lease = Lease(segments.service.repository, LEASE_NAME,
                      max(int(interval * 2000), MIN_LEASE_MS))
        domain.scheduler = Scheduler(lease, interval, domain.run_due)
        return domain

    async def run_due(self, now: int) -> list[Job]:
        """The scheduler's round: start the runs of activations that are due (an interval
        passed since the last run; on change: a membership changed since the last success).
        First, secrets an earlier version stored in clear are sealed."""
        await self.seal_clear()
        started = []
        for a in await self.service.repository.read_all(SCHEDULED_ACTIVATIONS, "a"):
            if not await self._idle(a["id"]):
                continue  # its last run is still going: the next round looks again
            if await self._due(a, now):
                try:
                    started.append(await self.service.run_activation(a["id"], now=now))
                except IdgraphError as exc:  # a deleted segment: skip it, log why
                    log.warning("activation %s not run: %s", a["id"], exc)
        return started

    async def seal_clear(self) -> None:
        """Seal the secrets and header values of destinations an earlier version stored in
        clear (the upgrade's migration, run by the scheduler's one process; also done by
        `idgraph secrets reseal`). Without a key they stay readable, and this says so once."""
        try:
            done, _ = await self.destinations.reseal(only_clear=True)
        except SecretsKeyError as exc:
            if not self._warned:
                log.warning("destination secrets stored in clear by an earlier version are "
                            "not sealed: %s", exc)
                self._warned = True
            return
        if done:
            log.info("sealed the secrets of %d destination(s) stored in clear", done)

    async def _idle(self, activation_id: str) -> bool:
        last = await self.service.recent_runs(activation_id, 1)
        if not last:
            return True
        job = await self.service.jobs.get(last[0]["id"])
        return job is None or job.finished

    async def _due(self, a: dict[str, Any], now: int) -> bool:
        if a["schedule"] == Schedule.INTERVAL.value:
            return now - int(a.get("lastRunAt") or 0) >= int(a["everySeconds"]) * 1000
        since = await self.service.repository.watermark(f"activation:{a['id']}")
        return since is None or await self.service.repository.changed_since(a["segment"],
                                                                             since)


def storage_options(settings: Settings) -> dict[str, dict[str, Any]]:
    text = settings.export_storage_options.get_secret_value().strip()
    if not text:
        return {}
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"IDGRAPH_EXPORT_STORAGE_OPTIONS is not JSON: {exc}") from exc
    if not isinstance(found, dict) or not all(isinstance(v, dict) for v in found.values()):
        raise ValueError('IDGRAPH_EXPORT_STORAGE_OPTIONS is {"scheme": {options}}.')
    return found


__all__ = ["Activation", "Mode", "storage_options"]
