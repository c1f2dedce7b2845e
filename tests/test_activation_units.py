"""Pure parts of activation: the allow-list of locations, destination checks (headers,
placeholders), records, signatures and backoff, and the file writers on fsspec's memory
file system read back with pyarrow."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest

from idgraph.activation.delivery import HttpDelivery, RetryPolicy, retryable, signature
from idgraph.activation.destinations import (
    Destination,
    DestinationSpec,
    Format,
    Kind,
    checked,
    fill,
)
from idgraph.activation.formats import FileSink
from idgraph.activation.locations import AllowList
from idgraph.activation.records import columns, record
from idgraph.errors import InvalidInput
from idgraph.profile.attributes import AttributeType


@pytest.fixture
def allow(tmp_path: Path) -> AllowList:
    return AllowList.parse(f"{tmp_path}/out,s3://bucket/exports/,https://hooks.example.com/")


@pytest.mark.parametrize("location", [
    "{root}/out/a.csv", "{root}/out/deep/er/a.parquet", "file://{root}/out/a.jsonl",
    "s3://bucket/exports/a.parquet", "s3://bucket/exports/x/y.csv"])
def test_locations_under_an_allowed_root_or_prefix_pass(allow, tmp_path, location):
    allow.check_file(location.replace("{root}", str(tmp_path)))


@pytest.mark.parametrize("location", [
    "{root}/out/../a.csv", "{root}/outside.csv", "{root}/out-not/a.csv", "/etc/passwd",
    "file:///etc/passwd", "s3://bucket/exportsX/a.csv", "s3://other/exports/a.csv",
    "s3://bucket/exports/../a.csv", "s3://bucket/exports//a.csv", "gs://bucket/exports/a",
    "ftp://bucket/exports/a.csv", "{root}/out/a b.csv", "{root}/out/a\n.csv", ""])
def test_locations_elsewhere_are_refused(allow, tmp_path, location):
    with pytest.raises(InvalidInput):
        allow.check_file(location.replace("{root}", str(tmp_path)))


def test_a_symbolic_link_out_of_the_root_is_refused(allow, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to("/etc")
    with pytest.raises(InvalidInput, match="not under"):
        allow.check_file(f"{tmp_path}/out/link/x.csv")


@pytest.mark.parametrize("url, ok", [
    ("https://hooks.example.com/in", True), ("https://hooks.example.com/", True),
    ("https://hooks.example.com.evil.net/in", False), ("https://evil.net/in", False),
    ("https://user:pw@hooks.example.com/in", False), ("http://hooks.example.com/in", False),
    ("https://hooks.example.com/../in", False)])
def test_http_urls_are_held_to_scheme_host_and_path(allow, url, ok):
    if ok:
        assert allow.check_http(url) == url
    else:
        with pytest.raises(InvalidInput):
            allow.check_http(url)


def _spec(**fields) -> DestinationSpec:
    return DestinationSpec(**{"name": "d", "location": "https://hooks.example.com/in",
                              **fields})


@pytest.mark.parametrize("headers", [
    {"X-A": "v\r\nX-B: injected"}, {"X-A": "v\n"}, {"Bad Name": "v"}, {"Host": "x"},
    {"content-length": "1"}, {"X-Idgraph-Signature": "forged"}, {"X-A": "é"},
    {f"X-{i}": "v" for i in range(21)}, {"X-A": "v" * 5000}])
def test_header_injection_and_reserved_headers_are_refused(allow, headers):
    with pytest.raises(InvalidInput):
        checked(_spec(headers=headers), allow, 1000, "id")


def test_batch_size_is_bounded_and_kinds_follow_the_location(allow, tmp_path):
    with pytest.raises(InvalidInput):
        checked(_spec(batch_size=1001), allow, 1000, "id")
    with pytest.raises(InvalidInput):
        checked(_spec(batch_size=0), allow, 1000, "id")
    http = checked(_spec(secret="s" * 16, headers={"Authorization": "Bearer x"}), allow,
                   1000, "id")
    assert http.kind is Kind.HTTP and http.format is None
    file = checked(_spec(location=f"{tmp_path}/out/{{segment}}-{{run}}.parquet"), allow,
                   1000, "id")
    assert file.kind is Kind.FILE and file.format is Format.PARQUET
    with pytest.raises(InvalidInput, match="belong to HTTP"):
        checked(_spec(location=f"{tmp_path}/out/a.csv", secret="s" * 16), allow, 1000, "id")


def test_placeholder_values_cannot_climb_out_of_a_directory():
    assert fill("/x/{segment}/{run}.csv", {"segment": "../../etc", "run": "a/b"}) == \
        "/x/______etc/a_b.csv"


def test_a_record_keeps_chosen_identities_and_a_profile_without_them_is_skipped():
    cols = columns(["email"], ["tier", "address.city"], {}, membership=True)
    row = {"id": "p1", "status": "existing", "changedAt": 0,
           "keys": ["email:b@x.com", "email:a@x.com", "crm:C1"],
           "json": json.dumps({"tier": "gold", "address": {"city": "Oslo"}})}
    assert record(row, cols, incremental=True) == {
        "profileId": "p1", "status": "realized", "changedAt": "1970-01-01T00:00:00.000Z",
        "identities": {"email": ["a@x.com", "b@x.com"]},
        "attributes": {"tier": "gold", "address.city": "Oslo"}}
    assert record(row, cols, incremental=False)["status"] == "existing"
    assert record({**row, "keys": ["crm:C1"]}, cols, incremental=False) is None


def test_column_choices_are_checked():
    with pytest.raises(InvalidInput):
        columns(["email) RETURN 1 //"], [], {}, membership=True)
    with pytest.raises(InvalidInput):
        columns(["email"], ["a..b"], {}, membership=True)
    with pytest.raises(InvalidInput):
        columns(["email"], [f"a{i}" for i in range(300)], {}, membership=True)


def test_the_signature_is_an_hmac_of_timestamp_and_body():
    body = b'{"records":[]}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k" * 16, 1700000000, body) == f"t=1700000000,v1={expected}"


def test_backoff_grows_is_capped_and_honours_retry_after():
    destination = Destination("d", "d", Kind.HTTP, "https://x/")
    delivery = HttpDelivery(destination, RetryPolicy(attempts=5, base=1.0, cap=10.0))
    assert 0.5 <= delivery._backoff(1, None) <= 1.0
    assert 4.0 <= delivery._backoff(4, None) <= 8.0
    assert delivery._backoff(9, None) <= 10.0
    assert delivery._backoff(1, "7") == 7.0
    assert delivery._backoff(1, "3600") == 10.0
    assert [retryable(s) for s in (429, 500, 503, 400, 401, 404)] == [True] * 3 + [False] * 3


def _records(n: int) -> list[dict]:
    return [{"profileId": f"p{i:03d}", "status": "realized",
             "changedAt": "2026-01-01T00:00:00.000Z",
             "identities": {"email": [f"u{i}@x.com"]},
             "attributes": {"score": i, "vip": i % 2 == 0, "tier": "gold"}}
            for i in range(n)]


def test_parquet_is_written_page_by_page_as_row_groups_with_typed_columns():
    cols = columns(["email"], ["score", "vip", "tier"],
                   {"score": AttributeType.NUMBER, "vip": AttributeType.BOOLEAN},
                   membership=True)
    sink = FileSink("memory://unit/out.parquet", Format.PARQUET, cols, {})
    records = _records(25)
    for start in range(0, 25, 10):
        sink.write(records[start:start + 10])
    fs = fsspec.filesystem("memory")
    assert fs.exists("/unit/out.parquet.partial") and not fs.exists("/unit/out.parquet")
    sink.commit()
    assert not fs.exists("/unit/out.parquet.partial")
    with fs.open("/unit/out.parquet", "rb") as f:
        parquet = pq.ParquetFile(f)
        assert parquet.metadata.num_row_groups == 3
        table = parquet.read()
    assert str(table.schema.field("attribute.score").type) == "double"
    assert str(table.schema.field("changed_at").type) == "timestamp[ms, tz=UTC]"
    rows = table.to_pylist()
    assert [(r["profile_id"], r["identity.email"], r["attribute.score"], r["attribute.vip"])
            for r in rows] == [(f"p{i:03d}", [f"u{i}@x.com"], float(i), i % 2 == 0)
                               for i in range(25)]


def test_an_abandoned_file_leaves_nothing_behind():
    cols = columns(["email"], [], {}, membership=True)
    sink = FileSink("memory://unit/gone.csv", Format.CSV, cols, {})
    sink.write(_records(3))
    sink.abandon()
    fs = fsspec.filesystem("memory")
    assert not fs.exists("/unit/gone.csv.partial") and not fs.exists("/unit/gone.csv")


def test_a_gz_location_writes_compressed_json_lines():
    import gzip

    cols = columns(["email"], [], {}, membership=True)
    sink = FileSink("memory://unit/out.jsonl.gz", Format.JSONL, cols, {})
    sink.write(_records(2))
    sink.commit()
    with fsspec.filesystem("memory").open("/unit/out.jsonl.gz", "rb") as f:
        lines = gzip.decompress(f.read()).decode().splitlines()
    assert [json.loads(x)["profileId"] for x in lines] == ["p000", "p001"]
