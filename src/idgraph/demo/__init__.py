"""A small demo dataset, loaded by `idgraph serve --demo` (idempotent: re-runs add nothing):
the hand-written people of demo.jsonl and a few generated ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from idgraph.config import Settings
from idgraph.db.graph import Graph
from idgraph.db.schema import apply_schema
from idgraph.demo.generator import generate
from idgraph.profile.computed import DAY_MS, Definition
from idgraph.segments.service import SegmentSpec
from idgraph.services import Services

# Generated people added to the hand-written ones (demo/generator.py): a few hundred items,
# loaded in a second or two, with every trap of the generator among them.
GENERATED_PEOPLE = 25
GENERATED_SEED = 2027  # a seed whose 25 people set every trap


def demo_items() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    text = resources.files("idgraph.demo").joinpath("demo.jsonl").read_text()
    items = [json.loads(line) for line in text.splitlines() if line.strip()]
    items += [g.item for g in generate(GENERATED_PEOPLE, GENERATED_SEED)]
    return [i for i in items if "recordId" in i], [i for i in items if "eventId" in i]


# Computed attributes the demo defines (once), so `Profile.computed` has something to show.
# A 100-year window: the demo events have fixed dates and must stay inside it.
LIFETIME = 100 * 365 * DAY_MS
DEMO_COMPUTED = [
    Definition("lifetimePurchaseValue", "SUM", "commerce.purchase", "value", LIFETIME),
    Definition("lifetimePurchases", "COUNT", "commerce.purchase", None, LIFETIME),
]

# Segments the demo defines (once) and evaluates at every load. The demo's events are dated
# 2025, so "recent" reaches two years back.
DEMO_SEGMENTS = [
    SegmentSpec(id="recent-buyers", name="Recent buyers",
                definition='events(type = "commerce.purchase", within 730 days).exists()',
                description="Bought something in the last two years."),
    SegmentSpec(id="vip", name="VIP", definition='loyaltyTier in ["gold", "platinum"]',
                description="Gold and platinum loyalty members."),
    SegmentSpec(id="vip-recent-buyers", name="VIP recent buyers",
                definition='inSegment("vip") and inSegment("recent-buyers")',
                description="A composition: VIPs who bought recently."),
]


async def load_segments(services: Services,
                        log: Callable[[str], object] = print) -> None:
    """Define the demo segments that are missing, then evaluate every segment."""
    segments = services.segments
    existing = {s.id for s in await segments.service.page(1000, None)}
    for spec in DEMO_SEGMENTS:
        if spec.id not in existing:
            await segments.service.create(spec)
    done = await segments.evaluator.evaluate_many()
    log("Demo segments: " + ", ".join(f"{e.segment} {e.size}" for e in done) + " members.")


async def load_demo(settings: Settings, graph: Graph,
                    log: Callable[[str], object] = print) -> None:
    await graph.verify()
    await apply_schema(graph)
    services = Services.build(settings, graph)
    defined = {d.name for d in await services.profiles.definitions()}
    for definition in DEMO_COMPUTED:
        if definition.name not in defined:
            await services.profiles.define(definition, wait=True)
    records, events = demo_items()
    result = await services.identity.ingest(records, events)
    log(f"Demo dataset: {result.accepted} new items, {result.duplicates} already loaded, "
        f"{len(result.rejected)} rejected (on purpose: junk values).")
    await load_segments(services, log)
    await graph.close()  # the API opens its own connections in its own event loop
