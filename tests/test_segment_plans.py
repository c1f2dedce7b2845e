"""Membership statements have plans that cannot go wrong: a members page reads the (segment,
profile) index in order and stops at its end; a chunk's updates find each membership by its
element id (an index seek could read every membership of the segment per row)."""

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


async def test_membership_updates_find_each_membership_by_its_element_id(services):
    for statement, extra in ((r.SET_STATUS, {"status": "exited", "run": "x"}),
                             (r.DELETE_MEMBERSHIPS, {})):
        plan = await plan_of(services, statement, segment="s", rows=[["5:x:1", "a"]], at=1,
                             **extra)
        assert "RelationshipByElementIdSeek" in plan and "IndexSeek" not in plan, plan


def test_plan_text_lists_operators_with_their_figures():
    plan = {"operatorType": "ProduceResults@neo4j", "args": {"Details": "id",
                                                             "EstimatedRows": 2.0},
            "rows": 2, "dbHits": 0,
            "children": [{"operatorType": "Filter", "args": {"EstimatedRows": 2.4},
                          "children": []}]}
    assert plan_text(plan) == ("+ ProduceResults  id  (estimated rows 2, rows 2, db hits 0)\n"
                               "  + Filter  (estimated rows 2)")
    assert plan_text({}) == "(no plan)"
