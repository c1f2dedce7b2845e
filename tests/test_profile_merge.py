"""Unit tests of the pure merge rules, including a property test against a tiny reference."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.profile.merge import (
    PRECEDENCE,
    TIMESTAMP,
    Fragment,
    Policy,
    flatten,
    merge,
    merged_attributes,
    unflatten,
)

LATEST = Policy("p", "latest")


def frag(source, record_id, ts, keys=("crm:1",), **attributes):
    return Fragment(source, record_id, ts, attributes, frozenset(keys))


def test_flatten_and_unflatten_round_trip_nested_objects():
    nested = {"name": "Ann", "address": {"city": "Oslo", "geo": {"lat": 1}}, "tags": [1, 2]}
    assert flatten(nested) == {"name": "Ann", "address.city": "Oslo", "address.geo.lat": 1,
                               "tags": [1, 2]}
    assert unflatten(flatten(nested)) == nested


def test_latest_fragment_wins_per_attribute_and_keeps_what_it_beat():
    merged = merge([frag("crm", "1", 10, name="Old", city="A"), frag("web", "2", 20, name="New")],
                   LATEST)
    by_path = {m.path: m for m in merged}
    assert by_path["name"].winner.value == "New" and by_path["name"].winner.source == "web"
    assert [c.value for c in by_path["name"].beaten] == ["Old"]
    assert by_path["city"].winner.record_id == "1" and by_path["city"].beaten == ()


def test_ties_fall_to_source_name_then_record_id():
    tied = [frag("web", "1", 5, x="web"), frag("crm", "9", 5, x="crm-9"),
            frag("crm", "3", 5, x="crm-3")]
    assert merged_attributes(merge(tied, LATEST)) == {"x": "crm-3"}


def test_precedence_takes_the_first_listed_source_and_ignores_unlisted():
    policy = Policy("q", "prec", kind=PRECEDENCE, sources=("pos", "crm"))
    fragments = [frag("crm", "1", 99, a=1, b=1), frag("pos", "2", 1, a=2),
                 frag("web", "3", 100, a=3, c=3)]
    assert merged_attributes(merge(fragments, policy)) == {"a": 2, "b": 1}


def test_stitching_off_uses_only_fragments_keyed_by_the_identity():
    policy = Policy("s", "own", stitching=False)
    fragments = [frag("crm", "1", 1, keys=("crm:1",), a=1), frag("web", "2", 2, keys=("ecid:9",),
                                                                 a=2)]
    assert merged_attributes(merge(fragments, policy, "crm:1")) == {"a": 1}
    assert merged_attributes(merge(fragments, LATEST, "crm:1")) == {"a": 2}


def test_leaf_and_nested_path_clash_is_won_by_the_better_fragment():
    fragments = [frag("a", "1", 1, address={"city": "Oslo"}), frag("b", "2", 2, address="gone")]
    assert merged_attributes(merge(fragments, LATEST)) == {"address": "gone"}
    fragments = [frag("a", "1", 3, address={"city": "Oslo"}), frag("b", "2", 2, address="gone")]
    assert merged_attributes(merge(fragments, LATEST)) == {"address": {"city": "Oslo"}}


def test_null_means_absent():
    fragments = [frag("a", "1", 1, x=1), frag("b", "2", 2, x=None)]
    assert merged_attributes(merge(fragments, LATEST)) == {"x": 1}


# -- property test: the merge equals a naive reference model and ignores arrival order ------
def reference(fragments: list[Fragment], policy: Policy) -> dict:
    """Walk fragments best first; take every leaf not already decided or clashing."""
    usable = [f for f in fragments
              if policy.kind == TIMESTAMP or f.source in policy.sources]

    def better(f: Fragment) -> tuple:
        if policy.kind == PRECEDENCE:
            return (policy.sources.index(f.source), -f.ts, f.record_id)
        return (-f.ts, f.source, f.record_id)

    taken: dict[str, object] = {}
    for fragment in sorted(usable, key=better):
        for path, value in sorted(flatten(fragment.attributes).items()):
            clash = any(path == t or path.startswith(t + ".") or t.startswith(path + ".")
                        for t in taken)
            if not clash:
                taken[path] = value
    return unflatten(taken)


leaf = st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"]))
attrs = st.dictionaries(st.sampled_from(["a", "b", "c"]),
                        st.one_of(leaf, st.dictionaries(st.sampled_from(["a", "b"]), leaf,
                                                        max_size=2)), max_size=3)
fragment_lists = st.lists(
    st.builds(lambda s, r, t, a: Fragment(s, r, t, a), st.sampled_from(["crm", "pos", "web"]),
              st.sampled_from(["1", "2", "3"]), st.integers(0, 3), attrs),
    max_size=6, unique_by=lambda f: (f.source, f.record_id))
policies = st.one_of(
    st.just(LATEST),
    st.lists(st.sampled_from(["crm", "pos", "web"]), unique=True, min_size=1).map(
        lambda s: Policy("p", "prec", kind=PRECEDENCE, sources=tuple(s))))


@settings(max_examples=300, deadline=None)
@given(fragment_lists, policies, st.randoms())
def test_merge_matches_reference_and_ignores_order(fragments, policy, rnd: random.Random):
    expected = reference(fragments, policy)
    assert merged_attributes(merge(fragments, policy)) == expected
    shuffled = list(fragments)
    rnd.shuffle(shuffled)
    assert merge(shuffled, policy) == merge(fragments, policy)
