"""Membership statements use the (segment, profile) index: a members page reads in index
order and stops at its end; a chunk's updates seek each membership."""

from __future__ import annotations

from idgraph.segments import repository as r
from idgraph.segments.plans import plan_text


async def plan_of(services, statement: str, **params) -> str:
    return plan_text(await services.graph.plan(statement, **params))


async def test_a_members_page_reads_the_index_in_order_without_sorting(services):
    plan = await plan_of(services, r.MEMBERS_PAGE, segment="s", version=1, after="",
                         statuses=["realized"], limit=10)
    assert "RelationshipIndexSeek" in plan and "IN_SEGMENT(segment, profile)" in plan
    assert "Top" not in plan and "Sort" not in plan


async def test_membership_updates_seek_each_membership_by_the_index(services):
    for statement, extra in ((r.SET_STATUS, {"status": "exited", "run": "x"}),
                             (r.DELETE_MEMBERSHIPS, {})):
        plan = await plan_of(services, statement, segment="s", ids=["a"], at=1, **extra)
        assert "RelationshipIndexSeek" in plan and "profile = id" in plan


def test_plan_text_lists_operators_with_their_figures():
    plan = {"operatorType": "ProduceResults@neo4j", "args": {"Details": "id",
                                                             "EstimatedRows": 2.0},
            "rows": 2, "dbHits": 0,
            "children": [{"operatorType": "Filter", "args": {"EstimatedRows": 2.4},
                          "children": []}]}
    assert plan_text(plan) == ("+ ProduceResults  id  (estimated rows 2, rows 2, db hits 0)\n"
                               "  + Filter  (estimated rows 2)")
    assert plan_text({}) == "(no plan)"
