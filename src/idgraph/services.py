"""The use-case services of every domain, built once per app around the one Graph."""

from __future__ import annotations

from dataclasses import dataclass

from idgraph.changes import ChangeFeed
from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.identity.items import Limits
from idgraph.identity.namespaces import load_registry
from idgraph.identity.service import IdentityService
from idgraph.profile import materialise
from idgraph.profile.service import ProfileService
from idgraph.segments.domain import Segments


@dataclass
class Services:
    settings: Settings
    graph: Graph
    identity: IdentityService
    changes: ChangeFeed
    profiles: ProfileService
    segments: Segments

    @classmethod
    def build(cls, settings: Settings, graph: Graph) -> Services:
        limits = Limits(
            max_identities=settings.max_identities_per_record,
            max_record_bytes=settings.max_record_bytes,
            max_event_bytes=settings.max_event_bytes,
            default_region=settings.default_phone_region,
        )
        identity = IdentityService(graph, load_registry(settings.namespaces_file), limits,
                                   settings.max_cluster_size, settings.ingest_batch_size,
                                   settings.ingest_concurrency)
        profiles = ProfileService(graph)
        # Computed attributes, test flags and then (reading those flags) the materialised
        # views are kept current inside each ingest transaction.
        identity.after_batch.append(profiles.after_batch)
        identity.after_batch.append(materialise.after_batch)
        profiles.policies.after_default_change.append(lambda: materialise.rebuild(graph))
        return cls(settings=settings, graph=graph, identity=identity, changes=ChangeFeed(),
                   profiles=profiles, segments=Segments.build(settings, graph, profiles))
