"""The performance page (bench/performance.py): figures from every benchmark's JSON, each
beside its floor and its goal, the goal judged from the ratio or the value."""

from __future__ import annotations

from bench.common import Figure, write_figures
from bench.performance import gather, page

WHERE = {"host": "h", "machine": "x86_64", "cpus": 2, "memory_gib": 23.0, "python": "3.11",
         "neo4j": "5.26", "neo4j_driver": "5", "idgraph": "0.1"}


def test_goals_are_judged_on_the_ratio_or_the_value():
    assert Figure("f", 900, "records/s", 1000, 0.9, "ratio >= 0.8").met is True
    assert Figure("f", 600, "records/s", 1000, 0.6, "ratio >= 0.8").met is False
    assert Figure("f", 12.0, "ms", goal="value <= 10").met is False
    assert Figure("f", 2.5, "s", 2.0, 1.25, "ratio <= 1.2").met is False
    assert Figure("f", 2.3, "s", 2.0, 1.15, "ratio <= 1.2").met is True
    assert Figure("f", 3.0, "ms").met is None


def test_the_page_lists_every_figure_with_its_floor_and_verdict(tmp_path, monkeypatch):
    monkeypatch.setattr("bench.common.RESULTS", tmp_path)
    write_figures("ingest", [Figure("ingest FILE", 4161, "records/s", 6364, 0.65,
                                    "ratio >= 0.8")], {"records": 100000})
    write_figures("profile_read", [Figure("read p99", 3.1, "ms", goal="value <= 10")], {})
    (tmp_path / "2026-01-01.json").write_text("{}")  # an earlier page: not a benchmark
    benches = gather(tmp_path)
    assert [b["bench"] for b in benches] == ["ingest", "profile_read"]
    text = page(benches, WHERE, "2026-12-02 18:00 UTC")
    assert "| ingest FILE | 4,161 records/s | 6,364 records/s | 0.65x | ratio >= 0.8 | **no** |" \
        in text
    assert "| read p99 | 3.10 ms |  |  | value <= 10 | yes |" in text
    assert "[ingest](../bench/results/ingest.md)" in text


def test_reports_without_figures_are_named_not_dropped():
    text = page([], WHERE, "2026-12-02 18:00 UTC", ["segments", "streaming"])
    assert "[segments](../bench/results/segments.md), [streaming](../bench/results/streaming.md)" \
        in text
