"""Hypothesis strategies for segment rules and small populations around their edges: values of
mixed types and missing ones, times just inside and just outside windows."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from idgraph.segments import ast as a
from idgraph.segments.times import TimeUnit, instant_ms
from tests.segment_population import DAY, HOUR, NOW, Event, Person, Population

PATHS = ["age", "tier", "vip", "joined", "tags", "address.city", "score"]
RULE_PATHS = [*PATHS, "address", "missing"]
TEXTS = ["gold", "Gold", "GOLD", "silver", "50", "", "go", "ÅSE", "åse", "2024-05-01",
         "2024-05-31T12:00:00Z", "2024-05-31T14:00:00+02:00", "2024-02-30",
         "2024-05-31T12:00:00.0005Z", "2024-06-01"]
INTS = [-3, 0, 1, 2, 30, 50, 60, 100, 101]
FLOATS = [0.5, 2.5, 49.5, 50.0, 100.5]
NAMESPACES = ["email", "phone", "loyalty"]
EVENT_TYPES = ["purchase", "login", "view"]
# Event times around the edges the time literals and windows below draw.
MAY_1 = instant_ms("2024-05-01")
EVENT_TIMES = [NOW + d for d in (-30 * DAY - 1, -30 * DAY, -30 * DAY + 1, -7 * DAY - 1,
                                 -7 * DAY, -DAY, -HOUR - 1, -HOUR, -1, 0, 1, DAY, -90 * DAY - 1,
                                 -90 * DAY)] + [MAY_1 - 1, MAY_1, MAY_1 + 1]

scalars = st.one_of(st.sampled_from(TEXTS), st.sampled_from(INTS), st.sampled_from(FLOATS),
                    st.booleans())
stored_values = st.one_of(
    scalars, st.none(),
    st.sampled_from([["gold", "vip"], ["50"], [1, 2, 50], [50.0], [True], [1, "gold"], [],
                     {}, {"x": 1}]))

# -- literals ---------------------------------------------------------------------------------
strings = st.sampled_from(TEXTS).map(lambda v: a.StringValue(value=v))
numbers = st.sampled_from(INTS + FLOATS).map(lambda v: a.NumberValue(value=v))
booleans = st.booleans().map(lambda v: a.BooleanValue(value=v))
times = st.one_of(
    st.sampled_from(["2024-05-01", "2024-05-31", "2024-06-01"]).map(
        lambda v: a.DateValue(value=v)),
    st.sampled_from(["2024-05-31T12:00:00Z", "2024-05-01T00:00:00.000Z",
                     "2024-06-01T14:00:00+02:00"]).map(lambda v: a.DateTimeValue(value=v)),
    st.sampled_from([(0, TimeUnit.DAYS), (-1, TimeUnit.DAYS), (-30, TimeUnit.DAYS),
                     (-90, TimeUnit.DAYS), (1, TimeUnit.DAYS), (-1, TimeUnit.HOURS),
                     (-60, TimeUnit.MINUTES)]).map(lambda o: a.NowValue(offset=o[0], unit=o[1])))
literals = st.one_of(strings, numbers, booleans, times)
scalar_literals = st.one_of(strings, numbers, booleans)


@st.composite
def comparisons(draw: Any, subjects: st.SearchStrategy[Any],
                values: st.SearchStrategy[Any] = literals) -> a.Compare:
    """A comparison the language accepts (operator and literal kinds fit the subject)."""
    subject = draw(subjects)
    for _ in range(50):
        op, value = draw(st.sampled_from(list(a.CompareOp))), draw(values)
        if a.compare_problem(subject, op, value) is None:
            return a.Compare(subject=subject, op=op, value=value)
    return a.Compare(subject=subject, op=a.CompareOp.EQ, value=a.NumberValue(value=1))


def value_conditions(subjects: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        comparisons(subjects),
        st.builds(lambda s, vs: a.InList(subject=s, values=tuple(vs)), subjects,
                  st.lists(scalar_literals, min_size=1, max_size=3)))


def junctions(leaves: st.SearchStrategy[Any], max_leaves: int = 5) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds(lambda cs: a.And(conditions=tuple(cs)), st.lists(inner, min_size=2,
                                                                   max_size=3)),
        st.builds(lambda cs: a.Or(conditions=tuple(cs)), st.lists(inner, min_size=2,
                                                                  max_size=3)),
        st.builds(lambda c: a.Not(condition=c), inner)), max_leaves=max_leaves)


# -- events and identities ----------------------------------------------------------------------
event_subjects = st.one_of(
    st.sampled_from(list(a.EventFieldName)).map(lambda f: a.EventField(field=f)),
    st.sampled_from(["value", "coupon", "cart.total"]).map(lambda p: a.EventProperty(path=p)))
event_filters = junctions(st.one_of(
    comparisons(st.just(a.EventField(field=a.EventFieldName.TYPE)),
                st.sampled_from(EVENT_TYPES + ["pur"]).map(lambda v: a.StringValue(value=v))),
    value_conditions(event_subjects),
    st.just(a.Exists(subject=a.EventProperty(path="coupon")))), max_leaves=3)
windows = st.one_of(
    st.builds(lambda n, u: a.Within(amount=n, unit=u), st.sampled_from([1, 7, 30, 90]),
              st.sampled_from(list(TimeUnit))),
    st.builds(lambda s, e: a.Between(start=s, end=e), times, times))
event_queries = st.builds(lambda f, w: a.EventQuery(filter=f, window=w),
                          st.none() | event_filters, st.none() | windows)
aggregates = st.one_of(
    st.builds(lambda q, f: a.EventAggregate(events=q, function=f), event_queries,
              st.sampled_from([a.Aggregate.COUNT, a.Aggregate.FIRST, a.Aggregate.LAST])),
    st.builds(lambda q, f, p: a.EventAggregate(events=q, function=f, property=p), event_queries,
              st.sampled_from([a.Aggregate.SUM, a.Aggregate.MIN, a.Aggregate.MAX,
                               a.Aggregate.AVG]),
              st.sampled_from(["value", "cart.total", "coupon"])))
identity_filters = junctions(comparisons(
    st.sampled_from(list(a.IdentityFieldName)).map(lambda f: a.IdentityField(field=f)),
    st.sampled_from(NAMESPACES + ["e", "a@x.com", "A@X.COM", "1"]).map(
        lambda v: a.StringValue(value=v))), max_leaves=2)

# -- rules ------------------------------------------------------------------------------------
attributes = st.sampled_from(RULE_PATHS).map(lambda p: a.Attribute(path=p))
computed = st.sampled_from(["purchases", "spend", "biggest", "smallest", "lastCoupon",
                            "unknown"]).map(lambda n: a.Computed(name=n))
rule_leaves = st.one_of(
    value_conditions(attributes), value_conditions(attributes),
    attributes.map(lambda s: a.Exists(subject=s)),
    comparisons(computed), computed.map(lambda s: a.Exists(subject=s)),
    comparisons(aggregates),
    event_queries.map(lambda q: a.EventsExist(events=q)),
    st.sampled_from(NAMESPACES).map(lambda n: a.HasIdentity(namespace=n)),
    (st.none() | identity_filters).map(lambda f: a.IdentitiesExist(filter=f)),
    comparisons((st.none() | identity_filters).map(lambda f: a.IdentityCount(filter=f))),
    st.sampled_from(["s1", "s2"]).map(lambda s: a.InSegment(segment_id=s)))
rules = junctions(rule_leaves, max_leaves=4).map(a.Rule)
# Rules with a conjunct a compiled query may start from (segments/seeds.py): a count, sum or
# other aggregate of typed or windowed events (some need an event, as `count() >= 1`, some do
# not, as `count() < 2`), events(...).exists(), or a stored segment; the population decides
# whether a seed's candidates are members.
typed_or_windowed = st.builds(
    lambda t, f, w: a.EventQuery(filter=f if t is None else (
        t if f is None else a.And(conditions=(t, f))), window=w),
    st.none() | st.sampled_from(EVENT_TYPES).map(lambda v: a.Compare(
        subject=a.EventField(field=a.EventFieldName.TYPE), op=a.CompareOp.EQ,
        value=a.StringValue(value=v))),
    st.none() | event_filters, windows)
seed_leaves = st.one_of(
    st.builds(lambda q, f, n, op: a.Compare(subject=a.EventAggregate(events=q, function=f),
                                            op=op, value=a.NumberValue(value=n)),
              typed_or_windowed, st.just(a.Aggregate.COUNT), st.sampled_from([0, 1, 2, 0.5]),
              st.sampled_from(sorted(a.ORDERING | a.EQUALITY))),
    comparisons(st.builds(lambda q, f, p: a.EventAggregate(events=q, function=f, property=p),
                          typed_or_windowed, st.sampled_from([a.Aggregate.SUM, a.Aggregate.MAX,
                                                              a.Aggregate.AVG]),
                          st.just("value"))),
    typed_or_windowed.map(lambda q: a.EventsExist(events=q)),
    st.sampled_from(["s1", "s2"]).map(lambda s: a.InSegment(segment_id=s)))
seeded_rules = st.builds(lambda seed, rest: a.Rule(seed if rest is None else a.And(
    conditions=(rest, seed))), seed_leaves, st.none() | junctions(rule_leaves, max_leaves=3))
# Rules of the segments s1 and s2 (s2 may include s1) for inlining.
included_rules = junctions(st.one_of(value_conditions(attributes), comparisons(aggregates)),
                           max_leaves=3)


@st.composite
def segment_rules(draw: Any) -> dict[str, a.Rule]:
    s1 = draw(included_rules)
    s2 = draw(st.one_of(included_rules, st.just(a.Or(conditions=(
        a.InSegment(segment_id="s1"), draw(included_rules))))))
    return {"s1": a.Rule(s1), "s2": a.Rule(s2)}


# -- populations ------------------------------------------------------------------------------
@st.composite
def people(draw: Any, index: int) -> Person:
    attributes: dict[str, Any] = {}
    for path in PATHS:
        value = draw(stored_values)
        if value is not None:
            *parents, leaf = path.split(".")
            node = attributes
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    namespaces = draw(st.lists(st.sampled_from(NAMESPACES), min_size=1, max_size=3, unique=True))
    identities = [(ns, draw(st.sampled_from(["a@x.com", "b@y.org", "1"]))) for ns in namespaces]
    identities = [(ns, f"{value}.{index}") for ns, value in identities]
    segments = draw(st.dictionaries(st.sampled_from(["s1", "s2"]),
                                    st.sampled_from(["realized", "existing", "exited"])))
    return Person(f"p{index}", attributes, identities, draw(st.booleans()), segments)


event_properties = st.fixed_dictionaries({}, optional={
    "value": st.one_of(st.sampled_from(INTS + FLOATS + ["100", True])),
    "coupon": st.sampled_from(["SPRING", "", 5]),
    "cart": st.fixed_dictionaries({"total": st.sampled_from([10, 99.5, "x"])}),
})


@st.composite
def populations(draw: Any) -> Population:
    folks = [draw(people(n)) for n in range(draw(st.integers(1, 5)))]
    keys = [k for p in folks for k in p.keys]
    events = [Event(f"e{n}", draw(st.sampled_from(EVENT_TYPES)), draw(st.sampled_from(
        EVENT_TIMES)), draw(event_properties), draw(st.lists(st.sampled_from(keys), min_size=1,
                                                              max_size=2, unique=True)),
                    draw(st.sampled_from(["web", "pos"])))
              for n in range(draw(st.integers(0, 8)))]
    return Population(folks, events)
