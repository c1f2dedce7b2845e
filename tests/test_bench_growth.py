"""The growth benchmark's pure parts (bench/growth.py): the plots' points, the growth of the
read p99 across sizes and the figures for the performance page; and the figures the other
benchmarks now give the page (bench/streaming.py, export.py, load.py, feed.py, scale.py)."""

from __future__ import annotations

import re

import pytest
from bench import export, feed, growth, load, scale, scale_store, streaming
from bench.common import Figure, parse_goal
from bench.performance import page

WHERE = {"host": "h", "machine": "x86_64", "cpus": 2, "memory_gib": 23.0, "python": "3.11",
         "neo4j": "5.26", "neo4j_driver": "5", "idgraph": "0.1"}


def size(profiles: int, p99: float, floor_p99: float) -> dict:
    return {"profiles": profiles, "measured": "2026-12-02T22:00:00+00:00",
            "read_p50_ms": p99 / 2, "read_p99_ms": p99, "floor_read_p50_ms": floor_p99 / 2,
            "floor_read_p99_ms": floor_p99, "reads": 2000, "resolve_s": 0.3,
            "floor_resolve_s": 0.2, "resolve_identities": 10_000, "resolve_rounds": 3,
            "ingest_rps": 900.0, "floor_ingest_rps": 1000.0, "ingest_records": 5000,
            "ingest_rounds": 2, "segment_first_s": 2.4, "floor_segment_write_s": 2.0,
            "segment_rule_s": 0.5, "floor_segment_read_s": 0.4, "segment_members": 2500,
            "segment_rounds": 2, "load_average": [3.0, 2.5, 2.0]}


# Keys as bench/results/growth.json keeps them (JSON: strings), deliberately out of order.
SIZES = {"1000000": size(1_000_000, 6.0, 4.0), "10000": size(10_000, 4.0, 2.0),
         "100000": size(100_000, 5.0, 3.0)}


def test_plot_points_run_by_growing_size():
    xs, ours, floor = growth.series(SIZES, "read_p99_ms", "floor_read_p99_ms")
    assert xs == [10_000, 100_000, 1_000_000]
    assert ours == [4.0, 5.0, 6.0]
    assert floor == [2.0, 3.0, 4.0]


def test_growth_is_the_largest_size_over_the_smallest():
    assert growth.growth_of(SIZES, "read_p99_ms") == (10_000, 1_000_000, 1.5)
    assert growth.growth_of({"10000": SIZES["10000"]}, "read_p99_ms") is None


def test_figures_judge_each_size_and_the_flatness_of_reads():
    found = {f.name: f for f in growth.figures(SIZES)}
    resolve = found["growth: bulk resolve of 10,000 at 100,000 profiles"]
    assert resolve.ratio == pytest.approx(1.5) and resolve.met is True
    ingest = found["growth: ingest (GraphQL) at 10,000 profiles"]
    assert ingest.ratio == pytest.approx(0.9) and ingest.met is True
    segment = found["growth: segment evaluation (attribute rule) at 1,000,000 profiles"]
    assert segment.ratio == pytest.approx(1.2) and segment.met is True
    flat = found["growth: profile read p99 at 1,000,000 over 10,000 profiles"]
    assert (flat.value, flat.floor, flat.met) == (1.5, 2.0, True)
    steeper = dict(SIZES, **{"1000000": size(1_000_000, 8.0, 4.0)})
    flat = {f.name: f for f in growth.figures(steeper)}[
        "growth: profile read p99 at 1,000,000 over 10,000 profiles"]
    assert (flat.value, flat.met) == (2.0, False)


def test_plots_are_drawn_as_png_files(tmp_path):
    paths = growth.plot(SIZES, tmp_path)
    assert [p.name for p in paths] == [f"{stem}.png" for *_, stem in growth.PLOTS]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_the_report_has_a_row_per_size_and_the_growth():
    text = "\n".join(growth.report_lines(SIZES))
    assert "| 10,000 | 2.00 (1.00) | 4.00 (2.00) | 2.00 |" in text
    assert "from 10,000 to 1,000,000 profiles: **1.50x**" in text
    assert "[growth-read-p99](../../docs/growth-read-p99.png)" in text


def test_earlier_sizes_are_kept_from_the_figures_file(tmp_path):
    assert growth.earlier_sizes(tmp_path / "growth.json") == {}
    path = tmp_path / "growth.json"
    path.write_text('{"context": {"sizes": {"10000": {"profiles": 10000}}}}')
    assert growth.earlier_sizes(path) == {"10000": {"profiles": 10000}}


def test_store_attributes_are_what_a_segment_rule_tests():
    people = [scale_store.attributes(n) for n in range(1000)]
    assert {p["loyaltyTier"] for p in people} == {"platinum", "gold", "silver", "bronze"}
    assert sum(p["loyaltyTier"] in ("gold", "platinum") for p in people) == 100
    assert min(p["age"] for p in people) == 18 and max(p["age"] for p in people) == 67
    assert scale_store.attributes_json(1) == '{"age":55,"loyaltyTier":"gold"}'


def test_goals_are_parsed_or_refused():
    assert parse_goal("ratio >= 0.8") == ("ratio", ">=", 0.8)
    assert parse_goal("value == 0") == ("value", "==", 0.0)
    for bad in ("ratio => 0.8", "speed <= 1", "value <= ten", "ratio <= 1.2 x", ""):
        with pytest.raises(ValueError):
            parse_goal(bad)
    with pytest.raises(ValueError, match="needs a ratio"):
        Figure("f", 1.0, "s", goal="ratio <= 1.2")
    assert Figure("errors", 0, "", goal="value == 0").met is True
    assert Figure("errors", 3, "", goal="value == 0").met is False


def test_the_page_shows_the_growth_plots():
    text = page([], WHERE, "2026-12-02 22:00 UTC",
                plots=["growth-read-p99.png", "growth-resolve.png"])
    assert "## Growth" in text
    assert "![growth-read-p99](growth-read-p99.png)" in text
    assert "## Growth" not in page([], WHERE, "2026-12-02 22:00 UTC")


def test_streaming_figures_hold_ten_segments_to_three_quarters_of_the_baseline():
    def run(seconds: float) -> streaming.Run:
        return streaming.Run(seconds, seconds, 0, 0)

    # Round 2's baseline drifted to 14 s: its ratio is taken against its own neighbours.
    results = {"0 (round 1)": run(10.0), "10 (round 1)": run(12.0), "50 (round 1)": run(20.0),
               "0 (round 2)": run(14.0), "10 (round 2)": run(14.0), "50 (round 2)": run(30.0),
               "0 (round 3)": run(14.0)}
    assert streaming.round_ratios(results, 10, "seconds") == [pytest.approx(1.0),
                                                               pytest.approx(1.0)]
    ten, fifty = streaming.figures(1000, results)
    assert (ten.value, ten.floor) == (pytest.approx(1000 / 13), pytest.approx(1000 / 14))
    assert ten.ratio == pytest.approx(1.0) and ten.met is True
    assert fifty.goal is None and fifty.ratio == pytest.approx((0.6 + 14 / 30) / 2)


def test_export_figures_judge_the_peak_memory_growth():
    found = {(25, "floor"): (900.0, 10.0), (25, "idgraph"): (800.0, 20.0),
             (100, "floor"): (1000.0, 40.0), (100, "idgraph"): (900.0, 22.0)}
    rate, peak, grown = export.figures(found, 100)
    assert rate.ratio == pytest.approx(0.9)
    assert peak.ratio == pytest.approx(0.55)
    assert grown.value == pytest.approx(1.1) and grown.met is True


def test_load_figures_need_no_errors_and_no_memory_growth():
    found = {1: {"samples": {"read": [1.0] * 80, "ingest": [2.0] * 15, "resolve": [3.0] * 5},
                 "errors": {"read": 0, "ingest": 1, "resolve": 0}, "rss": (100.0, 105.0)}}
    figures = {f.name: f for f in load.figures(found, 10.0)}
    assert figures["mixed load, 1 worker: throughput"].value == 10.0
    assert figures["mixed load, 1 worker: errors"].met is False
    assert figures["mixed load, 1 worker: memory after / before"].met is True


def test_feed_and_scale_figures():
    names = [f.name for f in feed.figures({"same process": [1.0, 2.0], "other process": [5.0]})]
    assert names == ["change feed same process p50", "change feed same process p99",
                     "change feed other process p50", "change feed other process p99"]
    res = {"floor": [1.0, 1.0], "idgraph": [1.4, 1.6]}
    ing = {"floor": [10.0], "cli": [12.0], "graphql": [20.0]}
    resolve, cli, mutation = scale.figures(1000, 10, 100, res, ing)
    assert resolve.ratio == pytest.approx(1.5) and resolve.met is True
    assert cli.ratio == pytest.approx(10 / 12) and cli.met is True
    assert mutation.ratio == pytest.approx(0.5) and mutation.met is False
    assert len(scale.figures(1000, 10, 100, res, None)) == 1


def test_the_scale_ingest_shapes_are_the_files_they_say():
    def people(records: list[dict]) -> set[str]:
        return {i["value"] for r in records for i in r["identities"] if i["namespace"] == "email"}

    new = scale.new_records(50)
    assert people(new) == {scale_store.email(n) for n in range(scale.NEW_PEOPLE,
                                                                scale.NEW_PEOPLE + 50)}
    repeat = scale.repeat_records(1000)
    sizes = {len(r["identities"]) for r in repeat}
    assert sizes == {2, 3} and len({r["source"] for r in repeat}) == 3
    keys = scale.added_keys(repeat)[1]
    assert len(keys) == len(set(keys))  # each identity removed once
    # every identity is of a new person: removing them never touches the store's own
    numbers = {int(re.search(r"\d+", k).group()) for k in keys}  # type: ignore[union-attr]
    assert min(numbers) >= scale.NEW_PEOPLE
    update = scale.update_records(500, loaded=1000)
    known = {scale_store.email(n) for n in range(1000)}
    assert len(update) == 500 and people(update) <= known and len(people(update)) == 500
    assert all(r["identities"][1]["value"].endswith("u") for r in update)  # a new device each


def test_each_ingest_shape_gives_its_own_figures():
    ing = {"floor": [10.0], "cli": [12.0], "graphql": [20.0]}
    names = [f.name for f in scale.ingest_figures(1000, 100, ing, scale.SHAPES["update"])]
    assert names == ["ingest of records of known people by `idgraph ingest FILE` at 1,000 "
                     "profiles", "ingest of records of known people by GraphQL mutation at "
                     "1,000 profiles"]
    with_model = scale.ingest_figures(1000, 100, ing | {"model": [15.0]}, scale.SHAPES["new"])
    assert with_model[-1].ratio == pytest.approx(10 / 15)


def test_the_reports_hand_written_findings_survive_a_rewrite():
    text = "# Growth\n\n| table |\n\n## Findings\n\nRead p99 grew with the floor.\n"
    assert growth.kept_notes(text) == ["", "## Findings", "", "Read p99 grew with the floor."]
    assert growth.kept_notes("# Growth\n\n| table |\n") == []


def test_an_interleaved_read_run_gives_the_flatness_figure_and_its_table():
    found = {10_000: {"floor": [1.0] * 98 + [4.0, 4.0], "idgraph": [2.0] * 98 + [5.0, 5.0]},
             1_000_000: {"floor": [1.0] * 98 + [6.0, 6.0],
                         "idgraph": [2.0] * 98 + [9.0, 9.0]}}
    inter = growth.interleaved_summary(found)
    assert inter["sizes"]["10000"] == {"floor_p50_ms": 1.0, "floor_p99_ms": 4.0,
                                       "idgraph_p50_ms": 2.0, "idgraph_p99_ms": 5.0,
                                       "reads": 100}
    flat = {f.name: f for f in growth.figures(SIZES, inter)}[
        "growth: profile read p99 at 1,000,000 over 10,000 profiles, sizes interleaved"]
    assert (flat.value, flat.floor, flat.met) == (1.8, 1.5, False)
    text = "\n".join(growth.report_lines(SIZES, inter))
    assert "| 1,000,000 | 100 | 2.00 (1.00) | 9.00 (6.00) | 1.50 |" in text
    assert "idgraph **1.80x**, the floor 1.50x" in text


def test_read_plots_come_from_the_interleaved_run_when_there_is_one():
    inter = {"sizes": {"10000": {"idgraph_p50_ms": 1.7, "idgraph_p99_ms": 14.8,
                                 "floor_p50_ms": 1.2, "floor_p99_ms": 17.2, "reads": 3000}}}
    assert growth.as_sizes(inter) == {"10000": {
        "profiles": 10_000, "read_p50_ms": 1.7, "read_p99_ms": 14.8, "floor_read_p50_ms": 1.2,
        "floor_read_p99_ms": 17.2}}
    assert growth.series(growth.as_sizes(inter), "read_p99_ms", "floor_read_p99_ms") == (
        [10_000], [14.8], [17.2])
