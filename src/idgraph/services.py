"""The use-case services of every domain, built once per app around the one Graph, and the one
change pipeline every write goes through."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from idgraph.activation.domain import Activation
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.explorations.service import ExplorationService
from idgraph.identity.clustering import ComponentLimit, Recluster
from idgraph.identity.items import Limits
from idgraph.identity.namespaces import load_registry
from idgraph.identity.service import IdentityService, prepare_settle
from idgraph.jobs.service import JobService
from idgraph.pipeline.feed import ChangeFeed
from idgraph.pipeline.outbox import Outbox
from idgraph.pipeline.pipeline import Pipeline
from idgraph.pipeline.settler import Settler
from idgraph.privacy.suppression import Suppressions
from idgraph.profile.attributes import load_attribute_schema
from idgraph.profile.counters import Counters
from idgraph.profile.facts import Facts
from idgraph.profile.materialise import Views
from idgraph.profile.service import ProfileService
from idgraph.segments.domain import Segments


@dataclass
class Services:
    settings: Settings
    graph: Graph
    pipeline: Pipeline
    identity: IdentityService
    profiles: ProfileService
    jobs: JobService
    explorations: ExplorationService
    segments: Segments
    activation: Activation
    # Deferred ingests' profiles, built by this process (pipeline/settler.py).
    settler: Settler

    @property
    def changes(self) -> ChangeFeed:
        return self.pipeline.feed

    @classmethod
    def build(cls, settings: Settings, graph: Graph) -> Services:
        registry = load_registry(settings.namespaces_file)
        # The stages in the order they run in every write's transaction (pipeline/pipeline.py).
        # Segment membership: streaming segments re-evaluated for the profiles a write touched.
        segment_stage = Segments.stage(settings)
        outbox = Outbox(graph, listen_ms=int(settings.feed_listen_seconds * 1000),
                        retention_ms=int(settings.feed_retention_seconds * 1000))
        feed = ChangeFeed(outbox, poll_seconds=settings.feed_poll_seconds)
        limit = ComponentLimit.of(registry, settings.max_component_identities)
        pipeline = Pipeline(graph, feed,
                            recluster=Recluster(registry, settings.max_cluster_size,
                                                settings.max_component_identities),
                            facts=Facts(), views=Views(), segments=(segment_stage,),
                            counters=Counters(),
                            prepare_settle=functools.partial(prepare_settle, limit=limit),
                            settle_max_items=settings.settle_max_items)
        limits = Limits(
            max_identities=settings.max_identities_per_record,
            max_record_bytes=settings.max_record_bytes,
            max_event_bytes=settings.max_event_bytes,
            default_region=settings.default_phone_region,
        )
        attributes = load_attribute_schema(settings.attributes_file)
        suppressions = Suppressions(graph)
        identity = IdentityService(graph, registry, limits, pipeline, settings.max_cluster_size,
                                   settings.ingest_batch_size, settings.ingest_concurrency,
                                   attributes.typed, settings.max_component_identities,
                                   suppressions)
        jobs = JobService(graph, settings.job_chunk_size, settings.job_lease_seconds)
        profiles = ProfileService(graph, pipeline, jobs, suppressions)
        explorations = ExplorationService(graph, settings.saved_queries_dir,
                                          settings.saved_query_timeout,
                                          settings.saved_query_max_rows)
        segments = Segments.build(settings, graph, profiles, jobs, segment_stage.catalog,
                                  pipeline.feed)
        return cls(settings=settings, graph=graph, pipeline=pipeline, identity=identity,
                   profiles=profiles, jobs=jobs, explorations=explorations,
                   segments=segments,
                   activation=Activation.build(settings, graph, segments, jobs),
                   settler=Settler(pipeline, settings.settle_poll_seconds,
                                   settings.settle_quiet_seconds,
                                   settings.settle_max_lag_seconds))
