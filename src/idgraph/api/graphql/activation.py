"""GraphQL surface of activation (admin role only): destinations, activations of segments and
export runs. Stored secrets are never returned: a destination says whether it has a secret
and which headers it sends, not their values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from idgraph.activation.destinations import Destination as StoredDestination
from idgraph.activation.destinations import DestinationSpec, Format, Kind
from idgraph.activation.runs import Progress
from idgraph.activation.service import ActivationSpec, ExportSpec, Mode, Schedule
from idgraph.api.graphql.common import from_millis
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.jobs import Job
from idgraph.api.graphql.limits import DEFAULT_PAGE_SIZE, page_size
from idgraph.api.graphql.permissions import allow
from idgraph.errors import InvalidInput
from idgraph.jobs.service import JobStatus

ADMIN = [allow()]

strawberry.enum(Kind, name="DestinationKind", description="file: a path or fsspec URL; http: "
                                                          "an endpoint receiving POSTs.")
strawberry.enum(Format, name="ExportFormat", description="CSV, JSON Lines or Parquet.")
strawberry.enum(Mode, name="ExportMode", description="full: every current member; "
                                                     "incremental: realized and exited since "
                                                     "the last successful run.")
strawberry.enum(Schedule, name="ActivationSchedule",
                description="manual (runActivation), interval (everySeconds), on_change "
                            "(when memberships changed; looked at every "
                            "IDGRAPH_ACTIVATION_SCHEDULE_SECONDS).")


@strawberry.type(description="Where exports go. Secrets and header values are write-only.")
class Destination:
    id: strawberry.ID
    name: str
    kind: Kind
    location: str = strawberry.field(description="A path, fsspec URL or HTTP(S) URL; a file "
                                                 "location may hold {segment}, {run}, {time}, "
                                                 "{mode}.")
    format: Format | None
    header_names: list[str]
    has_secret: bool
    batch_size: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: StoredDestination) -> Destination:
        return cls(id=strawberry.ID(d.id), name=d.name, kind=d.kind, location=d.location,
                   format=d.format, header_names=sorted(d.headers),
                   has_secret=bool(d.secret), batch_size=d.batch_size,
                   created_at=from_millis(d.created_at), updated_at=from_millis(d.updated_at))


@strawberry.input(description="A destination. Kind defaults from the location (http(s): "
                              "HTTP, else file); format from its extension.")
class DestinationInput:
    name: str
    location: str
    kind: Kind | None = None
    format: Format | None = None
    headers: JSON | None = strawberry.field(default=None, description="{name: value}; on "
                                            "update, left out keeps the stored ones.")
    secret: str | None = strawberry.field(default=None, description="HMAC-SHA256 key for "
                                          "X-Idgraph-Signature; on update, left out keeps it, "
                                          "\"\" removes it.")
    batch_size: int | None = None

    def spec(self) -> DestinationSpec:
        headers = self.headers
        if headers is not None and not (isinstance(headers, dict) and all(
                isinstance(v, str) for v in headers.values())):
            raise InvalidInput("headers is an object of string values.", "INVALID_HEADER")
        return DestinationSpec(self.name, self.location, self.kind, self.format,
                               headers, self.secret, self.batch_size)


@strawberry.type(description="A segment sent to a destination, on a schedule or on demand.")
class Activation:
    id: strawberry.ID
    segment_id: strawberry.ID
    destination_id: strawberry.ID
    namespaces: list[str]
    attributes: list[str]
    schedule: Schedule
    every_seconds: int | None
    mode: Mode
    created_at: datetime
    last_run_at: datetime | None

    @strawberry.field(permission_classes=ADMIN)
    async def destination(self, info: Info[Context, None]) -> Destination:
        return Destination.of(await info.context.services.activation.destinations.get(
            str(self.destination_id)))

    @strawberry.field(permission_classes=ADMIN, description="Its runs, newest first.")
    async def runs(self, info: Info[Context, None],
                   first: int | None = DEFAULT_PAGE_SIZE) -> list[ExportRun]:
        size = page_size(first, info.context.services.settings)
        return await _runs(info, str(self.id), size)

    @classmethod
    def of(cls, a: dict[str, Any]) -> Activation:
        return cls(id=strawberry.ID(a["id"]), segment_id=strawberry.ID(a["segment"]),
                   destination_id=strawberry.ID(a["destination"]),
                   namespaces=list(a["namespaces"]), attributes=list(a["attributes"]),
                   schedule=Schedule(a["schedule"]), every_seconds=a.get("everySeconds"),
                   mode=Mode(a["mode"]), created_at=from_millis(a["createdAt"]),
                   last_run_at=from_millis(a.get("lastRunAt")))


@strawberry.input
class ActivationInput:
    segment_id: strawberry.ID
    destination_id: strawberry.ID
    namespaces: list[str] = strawberry.field(description="Identities sent; a profile with "
                                             "none of them is skipped.")
    attributes: list[str] = strawberry.field(default_factory=list)
    schedule: Schedule = Schedule.MANUAL
    every_seconds: int | None = None
    mode: Mode = Mode.INCREMENTAL

    def spec(self) -> ActivationSpec:
        return ActivationSpec(str(self.segment_id), str(self.destination_id),
                              self.namespaces, self.attributes, self.schedule,
                              self.every_seconds, self.mode)


@strawberry.input(description="An ad-hoc export: a segment's members, or every profile "
                              "(with its segments) when segmentId is left out.")
class ExportInput:
    destination_id: strawberry.ID
    segment_id: strawberry.ID | None = None
    namespaces: list[str] = strawberry.field(default_factory=list,
                                             description="Default: every namespace.")
    attributes: list[str] = strawberry.field(default_factory=list)
    mode: Mode = Mode.FULL


@strawberry.type(description="Rows of a run so far.")
class ExportCounts:
    exported: int
    skipped: int = strawberry.field(description="Profiles with none of the chosen identities.")
    realized: int
    existing: int
    exited: int
    batches: int


@strawberry.type(description="One export: a job (status, progress, error; resumeJob) and "
                             "what it sends where.")
class ExportRun:
    id: strawberry.ID
    status: JobStatus
    error: str | None
    mode: Mode
    segment_id: strawberry.ID | None
    destination_id: strawberry.ID | None
    activation_id: strawberry.ID | None
    location: str
    since: datetime | None = strawberry.field(description="An incremental run's start "
                                                          "(exclusive).")
    until: datetime
    counts: ExportCounts
    job: Job
    created_at: datetime
    finished_at: datetime | None


async def _runs(info: Info[Context, None], activation: str | None, first: int
                ) -> list[ExportRun]:
    service = info.context.services.activation.service
    rows = await service.recent_runs(activation, first)
    return [r for r in [await _run(info, row) for row in rows] if r is not None]


async def _run(info: Info[Context, None], row: dict[str, Any]) -> ExportRun | None:
    job = await info.context.services.jobs.get(row["id"])
    if job is None:
        return None
    progress = Progress.parse(job.cursor)
    counts = ExportCounts(batches=progress.batch, **progress.counts)
    since = row.get("since")
    return ExportRun(
        id=strawberry.ID(row["id"]), status=job.status, error=job.error,
        mode=Mode(row["mode"]), segment_id=_id(row.get("segment")),
        destination_id=_id(row.get("destination")), activation_id=_id(row.get("activation")),
        location=row["location"], since=from_millis(since) if since and since > 0 else None,
        until=from_millis(row["until"]), counts=counts, job=Job.of(job),
        created_at=from_millis(row["createdAt"]), finished_at=from_millis(row.get("finishedAt")))


async def _run_of(info: Info[Context, None], job_id: str) -> ExportRun:
    rows = await info.context.services.activation.service.runs([job_id])
    found = await _run(info, rows[job_id]) if job_id in rows else None
    assert found is not None
    return found


def _id(value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(value)


@strawberry.type
class ActivationQuery:
    @strawberry.field(permission_classes=ADMIN, description="Destinations, oldest first.")
    async def destinations(self, info: Info[Context, None],
                           first: int | None = DEFAULT_PAGE_SIZE) -> list[Destination]:
        size = page_size(first, info.context.services.settings)
        found = await info.context.services.activation.destinations.list(size)
        return [Destination.of(d) for d in found]

    @strawberry.field(permission_classes=ADMIN, description="Activations, oldest first.")
    async def activations(self, info: Info[Context, None],
                          segment_id: strawberry.ID | None = None,
                          first: int | None = DEFAULT_PAGE_SIZE) -> list[Activation]:
        size = page_size(first, info.context.services.settings)
        service = info.context.services.activation.service
        found = await service.activations(None if segment_id is None else str(segment_id), size)
        return [Activation.of(a) for a in found]

    @strawberry.field(permission_classes=ADMIN, description="An export run (null if unknown).")
    async def export_run(self, info: Info[Context, None], id: strawberry.ID) -> ExportRun | None:
        rows = await info.context.services.activation.service.runs([str(id)])
        return await _run(info, rows[str(id)]) if str(id) in rows else None

    @strawberry.field(permission_classes=ADMIN, description="Export runs, newest first.")
    async def export_runs(self, info: Info[Context, None],
                          activation_id: strawberry.ID | None = None,
                          first: int | None = DEFAULT_PAGE_SIZE) -> list[ExportRun]:
        size = page_size(first, info.context.services.settings)
        return await _runs(info, None if activation_id is None else str(activation_id), size)


@strawberry.type
class ActivationMutation:
    @strawberry.mutation(permission_classes=ADMIN, description="Store a destination (checked "
                         "against IDGRAPH_EXPORT_ALLOW).")
    async def create_destination(self, info: Info[Context, None],
                                 input: DestinationInput) -> Destination:
        destinations = info.context.services.activation.destinations
        return Destination.of(await destinations.create(input.spec()))

    @strawberry.mutation(permission_classes=ADMIN, description="Replace a destination's "
                         "settings (a secret or headers left out are kept).")
    async def update_destination(self, info: Info[Context, None], id: strawberry.ID,
                                 input: DestinationInput) -> Destination:
        destinations = info.context.services.activation.destinations
        return Destination.of(await destinations.update(str(id), input.spec()))

    @strawberry.mutation(permission_classes=ADMIN, description="Delete a destination no "
                         "activation uses.")
    async def delete_destination(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        await info.context.services.activation.destinations.delete(str(id))
        return True

    @strawberry.mutation(permission_classes=ADMIN, description="Send a segment to a "
                         "destination: identities, attributes, schedule, mode.")
    async def activate_segment(self, info: Info[Context, None],
                               input: ActivationInput) -> Activation:
        return Activation.of(await info.context.services.activation.service.activate(
            input.spec()))

    @strawberry.mutation(permission_classes=ADMIN, description="Stop an activation (its runs "
                         "stay readable).")
    async def deactivate(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        await info.context.services.activation.service.deactivate(str(id))
        return True

    @strawberry.mutation(permission_classes=ADMIN, description="Start a run of an activation "
                         "now (its mode unless one is given).")
    async def run_activation(self, info: Info[Context, None], id: strawberry.ID,
                             mode: Mode | None = None) -> ExportRun:
        job = await info.context.services.activation.service.run_activation(str(id), mode)
        return await _run_of(info, job.id)

    @strawberry.mutation(permission_classes=ADMIN, description="Start an ad-hoc export (a "
                         "segment's members, or every profile for reporting) to a destination.")
    async def start_export(self, info: Info[Context, None], input: ExportInput) -> ExportRun:
        spec = ExportSpec(None if input.segment_id is None else str(input.segment_id),
                          input.namespaces, input.attributes, input.mode)
        job = await info.context.services.activation.service.export_to(
            spec, str(input.destination_id))
        return await _run_of(info, job.id)
