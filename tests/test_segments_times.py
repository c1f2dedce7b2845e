"""Time forms of the segment language: Neo4j's `=~` and `datetime()` read the date and datetime
forms exactly as Python does (segments/times.py), so the compiler and the evaluator agree."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idgraph.segments.times import DATE_FORM, DATETIME_FORM, instant_ms

near_misses = st.builds(
    lambda y, m, d, rest: f"{y:04d}-{m:02d}-{d:02d}{rest}",
    st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32),
    st.sampled_from(["", "T00:00:00Z", "T23:59:59.999+18:00", "T24:00:00Z", "T10:00:00+19:00",
                     "T10:00:00.1234567890Z", "T10:00Z", "T10:00:00", " ", "T12:30:45-05:30"]))
valid = st.one_of(st.from_regex(f"^{DATE_FORM}$", fullmatch=True),
                  st.from_regex(f"^{DATETIME_FORM}$", fullmatch=True))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(valid, near_misses), min_size=20, max_size=40))
def test_neo4j_reads_the_time_forms_as_python_does(cypher, texts):
    rows = cypher("""
        UNWIND $texts AS x
        RETURN x,
          CASE WHEN x =~ $date THEN datetime(x + 'T00:00:00Z').epochMillis
               WHEN x =~ $datetime THEN datetime(x).epochMillis END AS ms""",
                  texts=texts, date=DATE_FORM, datetime=DATETIME_FORM)
    assert [(r["x"], r["ms"]) for r in rows] == [(x, instant_ms(x)) for x in texts]


def test_examples():
    assert instant_ms("2024-05-01") == 1_714_521_600_000
    assert instant_ms("2024-05-01T10:00:00.5+02:00") == 1_714_550_400_500
    assert instant_ms("1969-12-31T23:59:59.9995Z") == -1  # truncated towards the past
    for bad in ["2023-02-29", "2024-13-01", "0999-01-01", "2024-05-01T24:00:00Z",
                "2024-05-01T10:00:00", "2024-05-01T10:00:00+19:00", "2024-5-1"]:
        assert instant_ms(bad) is None
    assert instant_ms("2024-02-29") is not None and instant_ms("2000-02-29") is not None
    assert instant_ms("1900-02-29") is None
