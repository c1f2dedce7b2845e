"""The garbage collector's thresholds for bulk work: a file ingest, and the API process.

With Python's default thresholds (700, 10, 10), a full collection traverses every object the
process holds every few thousand records of an ingest. A file ingest keeps many alive at once
(a window of items, the results of the batches in flight): collections were about 40% of its
CPU (30,000 records: 2.1-3.0 s of 5-6 s). The API process holds ~110,000 from its start (the
schema, graphql-core's and strawberry's types, the driver) plus the normaliser's memory, and a
mutation of 1,000 records set off a full collection of 100-400 ms every batch or two: about a
fifth of the API's CPU in bulk ingest (session 10, bench/results/scale-1000000.md). Rarer
collections find the same garbage in fewer passes; most of a request's objects are freed by
reference counting the moment it ends, whatever the thresholds.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

BULK_GC_THRESHOLDS = (10_000, 20, 100)


@contextlib.contextmanager
def bulk_collection() -> Iterator[None]:
    """BULK_GC_THRESHOLDS while the block runs; the previous thresholds after."""
    previous = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
