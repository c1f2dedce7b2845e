"""The segments domain as the app holds it: definitions, evaluation jobs and the scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from idgraph.clock import now_ms
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.errors import InvalidInput
from idgraph.jobs.service import Job, JobService
from idgraph.pipeline.feed import ChangeFeed
from idgraph.profile.attributes import load_attribute_schema
from idgraph.profile.service import ProfileService
from idgraph.segments.audiences import AudienceImporter, Normalise
from idgraph.segments.evaluation import Evaluator
from idgraph.segments.evaluation_jobs import MANY, ONE, EvaluateMany, EvaluateOne
from idgraph.segments.scheduler import LEASE_NAME, Lease, Scheduler
from idgraph.segments.service import SegmentService
from idgraph.segments.streaming import SegmentStage, Streaming, StreamingCatalog

MIN_LEASE_MS = 60_000


@dataclass
class Segments:
    service: SegmentService
    evaluator: Evaluator
    jobs: JobService
    streaming: StreamingCatalog
    scheduler: Scheduler = field(init=False)
    last_scheduled: Job | None = None  # the job of the scheduler's last round, if any

    @classmethod
    def build(cls, settings: Settings, graph: Graph, profiles: ProfileService,
              jobs: JobService, streaming: StreamingCatalog, feed: ChangeFeed | None = None
              ) -> Segments:
        service = SegmentService(graph, load_attribute_schema(settings.attributes_file),
                                 profiles)
        service.on_change.append(streaming.invalidate)
        evaluator = Evaluator(service, settings.segment_exit_retention_days,
                              settings.segment_write_chunk, feed,
                              settings.segment_write_concurrency)
        jobs.register(EvaluateOne(evaluator))
        jobs.register(EvaluateMany(evaluator))
        interval = settings.segment_schedule_seconds
        # Held for two intervals from each renewal: a holder that stops is replaced after
        # at most that long, a live one renews well before.
        lease = Lease(service.repository, LEASE_NAME, max(int(interval * 2000), MIN_LEASE_MS))
        domain = cls(service, evaluator, jobs, streaming)
        domain.scheduler = Scheduler(lease, interval, domain.evaluate_time_dependent)
        return domain

    @staticmethod
    def stage(settings: Settings) -> SegmentStage:
        """The pipeline's segment stage, with the streaming list `build` must be given."""
        return SegmentStage(StreamingCatalog(settings.segment_streaming_cache_seconds))

    async def streaming_status(self) -> dict[str, Streaming]:
        """Whether each segment streams, and if not why (cached with the streaming list)."""
        held = await self.streaming.current(lambda cypher: self.service.graph.read_plain(cypher))
        return dict(held.status)

    async def evaluate(self, segment_id: str, as_of: int | None = None) -> Job:
        """Start a job evaluating one segment at `as_of` (default now)."""
        segment = await self.service.get(segment_id)  # NOT_FOUND now, not as a failed job
        if segment.imported:
            raise InvalidInput(f"Segment {segment_id!r} is an imported audience: it has no "
                               "rule to evaluate; import its list again to change it.")
        return await self.jobs.start(ONE, {"segment": segment_id,
                                           "asOf": now_ms() if as_of is None else as_of})

    def importer(self, normalise: Normalise) -> AudienceImporter:
        """Imports of audiences, identities normalised by `normalise` (the identity rules)."""
        return AudienceImporter(self.evaluator, normalise)

    async def evaluate_many(self, ids: Sequence[str] | None = None,
                            as_of: int | None = None) -> Job:
        """Start a job evaluating `ids` (default every segment) in dependency order."""
        await self.evaluator.order(ids)  # NOT_FOUND now for an unknown id
        return await self.jobs.start(MANY, {"segments": None if ids is None else list(ids),
                                            "asOf": now_ms() if as_of is None else as_of})

    async def evaluate_time_dependent(self, now: int) -> Job | None:
        """The scheduler's round: re-evaluate the segments whose rules read the clock."""
        ids = await self.evaluator.time_dependent()
        self.last_scheduled = await self.evaluate_many(ids, now) if ids else None
        return self.last_scheduled
