"""Activation's use cases: destinations, activations of segments, and export runs.

An export run is a job (`export`, activation/runs.py) plus an (:ExportRun) naming what it
exports, where, and the window (since, until] of an incremental run. `stream` ties runs
together: the next incremental run of a stream starts where its last successful run ended.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from idgraph.activation import repository as q
from idgraph.activation.destinations import (
    EXTENSIONS,
    Destination,
    DestinationSpec,
    Format,
    Kind,
    check_placeholders,
    checked,
    fill,
    guess_format,
)
from idgraph.activation.locations import AllowList
from idgraph.activation.records import Columns, columns
from idgraph.activation.repository import ActivationRepository
from idgraph.activation.runs import EXPORT
from idgraph.activation.sealing import Keyring, opened, resealed, sealed
from idgraph.clock import now_ms
from idgraph.errors import InvalidInput, NotFound
from idgraph.identity.namespaces import NamespaceRegistry
from idgraph.jobs.service import Job, JobService
from idgraph.profile.attributes import AttributeSchema
from idgraph.segments.service import SegmentService

ID = "[A-Za-z0-9_.:-]{1,64}"
MAX_DESTINATIONS = 100_000  # read at once by `reseal` (destinations are a handful)


class Mode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class Schedule(StrEnum):
    MANUAL = "manual"
    INTERVAL = "interval"
    ON_CHANGE = "on_change"


@dataclass(frozen=True)
class ExportSpec:
    """One export: a segment's members (or every profile when `segment` is None)."""

    segment: str | None
    namespaces: Sequence[str] = ()  # none: every namespace
    attributes: Sequence[str] = ()
    mode: Mode = Mode.FULL


@dataclass(frozen=True)
class ActivationSpec:
    segment: str
    destination: str
    namespaces: Sequence[str]
    attributes: Sequence[str] = ()
    schedule: Schedule = Schedule.MANUAL
    every_seconds: int | None = None
    mode: Mode = Mode.INCREMENTAL


class Destinations:
    """Stored destinations (checked against the allow-list before they are stored; their
    secrets sealed with the keyring, activation/sealing.py)."""

    def __init__(self, repository: ActivationRepository, allow: AllowList,
                 max_batch: int, keyring: Keyring) -> None:
        self.repository, self.allow, self.max_batch = repository, allow, max_batch
        self.keyring = keyring

    async def create(self, spec: DestinationSpec) -> Destination:
        found = checked(spec, self.allow, self.max_batch, uuid.uuid4().hex)
        row = await self.repository.one(q.CREATE_DESTINATION, "d",
                                        props=sealed(found, self.keyring).props(), now=now_ms())
        assert row is not None
        return Destination.of(row)

    async def update(self, destination_id: str, spec: DestinationSpec) -> Destination:
        """Replace a destination's settings; a secret or headers left out (None) are kept
        (opened, checked again and sealed with the first key: values an earlier version stored
        in clear are sealed now)."""
        old = await self.get(destination_id)
        kept = opened(replace(old, headers=old.headers if spec.headers is None else {},
                              secret=old.secret if spec.secret is None else None), self.keyring)
        merged = DestinationSpec(spec.name, spec.location, spec.kind or old.kind,
                                 spec.format, kept.headers if spec.headers is None
                                 else spec.headers,
                                 kept.secret if spec.secret is None else spec.secret or None,
                                 spec.batch_size or old.batch_size)
        new = sealed(checked(merged, self.allow, self.max_batch, destination_id), self.keyring)
        row = await self.repository.one(q.UPDATE_DESTINATION, "d", id=destination_id,
                                        props=new.props(), now=now_ms())
        assert row is not None
        return Destination.of(row)

    async def for_delivery(self, destination_id: str) -> Destination:
        """The destination with its secret and header values in clear: SECRETS_KEY_* when the
        configured keys cannot open them."""
        return opened(await self.get(destination_id), self.keyring)

    async def reseal(self, only_clear: bool = False) -> tuple[int, int]:
        """Every destination sealed again with the first key (after a new key was put in
        front), clear values from earlier versions sealed (`only_clear`: only those):
        (resealed, changed meanwhile)."""
        done = skipped = 0
        found_all = [Destination.of(r) for r in await self.repository.read_all(
            q.CLEAR_DESTINATIONS, "d", first=MAX_DESTINATIONS)] if only_clear \
            else await self.list(MAX_DESTINATIONS)
        for found in found_all:
            if not found.secret and not found.headers and found.sealed:
                continue
            new = resealed(found, self.keyring)
            rows = await self.repository.graph.write(
                q.RESEAL_DESTINATION, id=found.id, updatedAt=found.updated_at,
                headers=json.dumps(new.headers), secret=new.secret)
            if rows and rows[0]["n"]:
                done += 1
            else:
                skipped += 1
        return done, skipped

    async def get(self, destination_id: str) -> Destination:
        row = await self.repository.read_one(q.GET_DESTINATION, "d", id=destination_id)
        if row is None:
            raise NotFound(f"No destination {destination_id!r}.")
        return Destination.of(row)

    async def list(self, first: int) -> list[Destination]:
        return [Destination.of(r) for r in
                await self.repository.read_all(q.LIST_DESTINATIONS, "d", first=first)]

    async def delete(self, destination_id: str) -> None:
        await self.get(destination_id)
        used = await self.repository.delete_destination(destination_id)
        if used:
            raise InvalidInput(f"Destination {destination_id!r} is used by {used} "
                               "activation(s); delete them first.", "DESTINATION_IN_USE")


class ActivationService:
    def __init__(self, repository: ActivationRepository, destinations: Destinations,
                 segments: SegmentService, jobs: JobService, registry: NamespaceRegistry,
                 attributes: AttributeSchema) -> None:
        self.repository = repository
        self.destinations = destinations
        self.segments = segments
        self.jobs = jobs
        self.registry = registry
        self.attributes = attributes

    # -- activations -----------------------------------------------------------------------------
    async def activate(self, spec: ActivationSpec) -> dict[str, Any]:
        await self.segments.get(spec.segment)  # NOT_FOUND first
        await self.destinations.get(spec.destination)
        if not spec.namespaces:
            raise InvalidInput("Choose at least one identity namespace to send.")
        self._columns(ExportSpec(spec.segment, spec.namespaces, spec.attributes))
        every = _every(spec.schedule, spec.every_seconds)
        props = {"id": uuid.uuid4().hex, "segment": spec.segment,
                 "destination": spec.destination, "namespaces": list(spec.namespaces),
                 "attributes": list(spec.attributes), "schedule": spec.schedule.value,
                 "everySeconds": every, "mode": spec.mode.value}
        row = await self.repository.one(q.CREATE_ACTIVATION, "a", props=props, now=now_ms())
        if row is None:
            raise NotFound("The segment or the destination was deleted meanwhile.")
        return row

    async def activation(self, activation_id: str) -> dict[str, Any]:
        row = await self.repository.read_one(q.GET_ACTIVATION, "a", id=activation_id)
        if row is None:
            raise NotFound(f"No activation {activation_id!r}.")
        return row

    async def activations(self, segment: str | None, first: int) -> list[dict[str, Any]]:
        return await self.repository.read_all(q.LIST_ACTIVATIONS, "a", segment=segment,
                                              first=first)

    async def deactivate(self, activation_id: str) -> None:
        if not await self.repository.delete_activation(activation_id):
            raise NotFound(f"No activation {activation_id!r}.")

    async def run_activation(self, activation_id: str, mode: Mode | None = None,
                             run: bool = True, now: int | None = None) -> Job:
        a = await self.activation(activation_id)
        spec = ExportSpec(a["segment"], a["namespaces"], a["attributes"],
                          Mode(mode or a["mode"]))
        await self.repository.touch(activation_id, now_ms() if now is None else now)
        return await self._start(spec, await self.destinations.get(a["destination"]),
                                 stream=f"activation:{activation_id}", run=run,
                                 activation=activation_id)

    # -- exports -------------------------------------------------------------------------------
    async def export_to(self, spec: ExportSpec, destination_id: str, run: bool = True) -> Job:
        """An ad-hoc export to a stored destination."""
        destination = await self.destinations.get(destination_id)
        stream = f"export:{spec.segment or '*'}:{destination_id}"
        return await self._start(spec, destination, stream, run)

    async def export_file(self, spec: ExportSpec, location: str, fmt: Format | None,
                          run: bool = False) -> Job:
        """An ad-hoc export to a file location (the CLI: trusted, not held to the allow-list
        the API's destinations are)."""
        check_placeholders(location)
        destination = Destination("cli", "cli", Kind.FILE, location,
                                  fmt or guess_format(location), batch_size=1)
        stream = f"file:{spec.segment or '*'}:{location}"
        return await self._start(spec, destination, stream, run)

    async def runs(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self.repository.runs(ids)

    async def recent_runs(self, activation: str | None, first: int) -> list[dict[str, Any]]:
        return await self.repository.read_all(q.LIST_RUNS, "r", activation=activation,
                                              first=first)

    async def _start(self, spec: ExportSpec, destination: Destination, stream: str,
                     run: bool, activation: str | None = None) -> Job:
        cols = self._columns(spec)
        version = None
        if spec.segment is not None:
            version = (await self.segments.get(spec.segment)).version
        elif spec.mode is Mode.INCREMENTAL:
            raise InvalidInput("An export of every profile is full; incremental exports are "
                               "of a segment's memberships.")
        until = now_ms()
        since = await self.repository.watermark(stream) \
            if spec.mode is Mode.INCREMENTAL else None
        if spec.mode is Mode.INCREMENTAL and since is None:
            since = -1  # the first delta of a stream: every current member is news
        location = _location(destination, spec, until)  # {run}: the job's id, filled below
        params = {"segment": spec.segment, "version": version, "mode": spec.mode.value,
                  "namespaces": list(cols.namespaces), "attributes": list(cols.attributes),
                  "types": [None if t is None else t.value for t in cols.types],
                  "since": since, "until": until, "location": location,
                  "destination": None if destination.id == "cli" else destination.id,
                  "inline": _inline(destination, location)}
        job = await self.jobs.start(EXPORT, params, run=False)
        location = fill(location, {"run": job.id})
        await self.repository.one(q.CREATE_RUN, "r", now=until, props={
            "id": job.id, "stream": stream, "activation": activation,
            "destination": params["destination"], "segment": spec.segment,
            "mode": spec.mode.value, "location": location, "since": since, "until": until})
        if run:  # started once its run is recorded: `finish` marks that record
            self.jobs.launch(job)
        return job

    def _columns(self, spec: ExportSpec) -> Columns:
        namespaces = list(spec.namespaces) or self.registry.names()
        unknown = [n for n in namespaces if self.registry.get(n) is None]
        if unknown:
            raise InvalidInput(f"Unknown namespace(s): {', '.join(unknown[:10])}.")
        return columns(namespaces, list(spec.attributes), self.attributes.attributes,
                       membership=spec.segment is not None)


def _every(schedule: Schedule, every: int | None) -> int | None:
    if schedule is Schedule.INTERVAL:
        if every is None or not 60 <= every <= 30 * 86_400:
            raise InvalidInput("An interval schedule runs every 60 seconds to 30 days "
                               "(everySeconds).")
        return every
    if every is not None:
        raise InvalidInput("everySeconds belongs to an interval schedule.")
    return None


def _location(destination: Destination, spec: ExportSpec, at: int) -> str:
    if destination.kind is Kind.HTTP:
        return destination.location
    location = destination.location
    if location.endswith("/"):  # a directory: one file per run
        fmt = destination.format or Format.JSONL
        location += "{segment}-{mode}-{time}-{run}." + EXTENSIONS[fmt]
    stamp = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return fill(location, {"segment": spec.segment or "profiles", "time": stamp,
                           "mode": spec.mode.value})


def _inline(destination: Destination, location: str) -> dict[str, Any] | None:
    """A CLI file destination travels in the job's parameters (no stored object)."""
    if destination.id != "cli":
        return None
    props = destination.props()
    props["location"] = location
    return props
