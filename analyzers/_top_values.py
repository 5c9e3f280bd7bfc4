"""The values of a string feature: exact counts, the number of distinct values and the most frequent ones.

Counts are Arrow tables of ``(token, count)`` (the vocabulary analyzer's
format, merged with ``merge_counts``). A pipeline counts each shard of the
values (split by a stable hash of the value, ``split_by_shard``) on its own
worker and keeps only a shard's ``top_of``; shards hold disjoint values, so
``union_of_shards`` gives the exact number of distinct values and the exact
most frequent ones of the whole feature without any worker holding every
distinct value.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from analyzers._vocabulary import EMPTY_COUNTS, merge_counts, select

# TFDV's default StatsOptions: 20 top values, 1,000 rank-histogram buckets.
NUM_TOP_VALUES = 20
NUM_RANK_HISTOGRAM_BUCKETS = 1000
# How TFDV labels a value that is not valid UTF-8 (a proto string must be).
BYTES_LABEL = "__BYTES_VALUE__"


def count_values(values: pa.Array) -> pa.Table:
    """Every distinct value of a binary array with its count (nulls are not values)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.drop_null()
    if len(values) == 0:
        return EMPTY_COUNTS
    if not pa.types.is_binary(values.type):
        values = values.cast(pa.binary())
    counts = pc.value_counts(values)
    return pa.table({"token": counts.field("values"), "count": counts.field("counts").cast(pa.int64())})


@dataclass(frozen=True)
class TopValues:
    """How many distinct values a feature (or a shard of its values) has, and its most frequent ones.

    ``counts`` holds at most ``keep`` rows, most frequent first; on equal
    counts the larger value (by bytes) comes first, as in TFDV and in
    tf.Transform's vocabularies.
    """

    unique: int
    counts: pa.Table
    invalid_utf8: int = 0  # values (not distinct values) that are not valid UTF-8

    def labelled(self, limit: int) -> list[tuple[str, int]]:
        """The first ``limit`` values as TFDV labels them, with their counts."""
        tokens = self.counts["token"].to_pylist()[:limit]
        counts = self.counts["count"].to_pylist()[:limit]
        return [(label_of(token), count) for token, count in zip(tokens, counts)]


def label_of(token: bytes) -> str:
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return BYTES_LABEL


def _invalid_utf8(counts: pa.Table) -> int:
    """How many of the counted values are not valid UTF-8."""
    tokens = counts["token"].combine_chunks()
    try:
        tokens.cast(pa.string())
        return 0
    except pa.ArrowInvalid:
        pass
    invalid = [label_of(token) is BYTES_LABEL for token in tokens.to_pylist()]
    return int(pc.sum(counts["count"].filter(pa.array(invalid))).as_py() or 0)


def top_of(counts: pa.Table, keep: int = NUM_RANK_HISTOGRAM_BUCKETS) -> TopValues:
    """The distinct-value count and the ``keep`` most frequent values of a count table."""
    return TopValues(counts.num_rows, select(counts, keep, None), _invalid_utf8(counts))


def union_of_shards(shards: list[TopValues], keep: int = NUM_RANK_HISTOGRAM_BUCKETS) -> TopValues:
    """One feature's ``TopValues`` from those of its shards, which hold disjoint values."""
    merged = merge_counts([shard.counts for shard in shards])
    unique = sum(shard.unique for shard in shards)
    return TopValues(unique, select(merged, keep, None), sum(shard.invalid_utf8 for shard in shards))


def top_values(value_counts: list[pa.Table], keep: int = NUM_RANK_HISTOGRAM_BUCKETS) -> TopValues:
    """``TopValues`` from count tables of any parts of the data (summed first)."""
    return top_of(merge_counts(value_counts), keep)
