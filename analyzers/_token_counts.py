"""Token count tables: what a vocabulary accumulates, columnar and mergeable.

A batch of tokens becomes a small Arrow table with one row per distinct token:
``token`` (binary), ``count`` (int64 occurrences) and, when the vocabulary
needs them, ``weight`` (float64 sum of the weights) and ``label_<j>`` (float64
sum of the weights of the occurrences whose row has label ``j``). Tables merge
by a grouped sum, so merging is exact and does not depend on batching (weights
are float32, summed in float64). A vocabulary with labels also keeps a one-row
table of the same columns over rows (``totals_of``): how many rows, and how
many have each label.

Tokens are assigned to shards by a stable byte hash, so that a pipeline can
combine each shard on a different worker: no single worker ever holds every
distinct token of a large vocabulary.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurebeam_base.errors import InputError

TOKEN, COUNT, WEIGHT, LABEL = "token", "count", "weight", "label_"
EMPTY_COUNTS = pa.table({TOKEN: pa.array([], pa.binary()), COUNT: pa.array([], pa.int64())})


def as_binary(tokens) -> pa.Array:
    """Tokens as one Arrow binary array (from Arrow string/binary arrays or numpy arrays of any shape)."""
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    if isinstance(tokens, pa.Array):
        if pa.types.is_large_string(tokens.type) or pa.types.is_large_binary(tokens.type):
            tokens = tokens.cast(pa.large_binary()).cast(pa.binary())
        return tokens.cast(pa.binary())
    flat = np.asarray(tokens, dtype=object).ravel()
    return pa.array(flat, type=pa.binary())


def writable(tokens: pa.Array) -> pa.Array:
    """Tokens a text vocabulary file can hold: not null, not empty, no line break (as tf.Transform)."""
    return pc.and_(
        pc.and_(pc.is_valid(tokens), pc.greater(pc.binary_length(tokens), 0)),
        pc.invert(pc.or_(pc.match_substring(tokens, "\n"), pc.match_substring(tokens, "\r"))),
    ).fill_null(False)


def count_tokens(tokens, drop_unwritable: bool = True) -> pa.Table:
    """Distinct tokens of one batch with their counts: ``(token, count)``.

    ``tokens`` is an Arrow string/binary array or a numpy array of bytes/str of
    any shape (it is flattened). Null tokens are not counted; nor, with
    ``drop_unwritable``, empty tokens and tokens containing ``\\n`` or ``\\r``,
    as in tf.Transform's text vocabularies.
    """
    array = as_binary(tokens)
    if len(array) == 0:
        return EMPTY_COUNTS
    counts = pc.value_counts(array)
    values, frequencies = counts.field("values"), counts.field("counts").cast(pa.int64())
    keep = writable(values) if drop_unwritable else pc.is_valid(values)
    return pa.table({TOKEN: values, COUNT: frequencies}).filter(keep)


def _labels_of(labels, size: int) -> np.ndarray:
    labels = np.asarray(labels, np.int64).reshape(-1)
    if labels.size != size:
        raise InputError(f"vocabulary: `labels` has {labels.size} values for {size} tokens in a batch")
    if labels.size and labels.min() < -1:
        raise InputError(
            f"vocabulary: `labels` must be integers >= 0 (or -1 for a missing label); got {int(labels.min())}"
        )
    return labels


def _label_columns(codes: np.ndarray, labels: np.ndarray, weights: np.ndarray, groups: int) -> dict:
    present = labels >= 0
    width = int(labels.max()) + 1 if present.any() else 0
    sums = np.bincount(
        codes[present] * width + labels[present], weights=weights[present], minlength=groups * width
    ).reshape(groups, width)
    return {f"{LABEL}{j}": pa.array(sums[:, j], pa.float64()) for j in range(width)}


def count_weighted(tokens, weights=None, labels=None, drop_unwritable: bool = True) -> pa.Table:
    """Distinct tokens of one batch with ``count``, ``weight`` (sum) and ``label_<j>`` sums.

    ``weights`` (default 1) and ``labels`` (-1: no label) hold one value per token.
    """
    array = as_binary(tokens)
    keep = writable(array) if drop_unwritable else pc.is_valid(array)
    mask = keep.to_numpy(zero_copy_only=False)
    weights = np.ones(len(array)) if weights is None else np.asarray(weights, np.float32).reshape(-1)
    if len(weights) != len(array):
        raise InputError(f"vocabulary: `weights` has {len(weights)} values for {len(array)} tokens in a batch")
    weights = weights[mask].astype(np.float64)
    if labels is not None:
        labels = _labels_of(labels, len(array))[mask]
    array = array.filter(keep)
    encoded = pc.dictionary_encode(array)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    groups = len(encoded.dictionary)
    columns = {
        TOKEN: encoded.dictionary,
        COUNT: pa.array(np.bincount(codes, minlength=groups), pa.int64()),
        WEIGHT: pa.array(np.bincount(codes, weights=weights, minlength=groups), pa.float64()),
    }
    if labels is not None:
        columns.update(_label_columns(codes, labels, weights, groups))
    return pa.table(columns)


def totals_of(row_labels, row_weights=None) -> pa.Table:
    """One row over the rows of a batch: rows, their weight and the weight of each label."""
    labels = np.asarray(row_labels, np.int64).reshape(-1)
    weights = np.ones(len(labels)) if row_weights is None else np.asarray(row_weights, np.float32).reshape(-1)
    labels = _labels_of(labels, len(weights))
    codes = np.zeros(len(labels), np.int64)
    columns = {
        TOKEN: pa.array([b""], pa.binary()),
        COUNT: pa.array([len(labels)], pa.int64()),
        WEIGHT: pa.array([weights.astype(np.float64).sum()], pa.float64()),
    }
    columns.update(_label_columns(codes, labels, weights.astype(np.float64), 1))
    return pa.table(columns)


def label_columns(table: pa.Table) -> list[str]:
    return sorted((c for c in table.column_names if c.startswith(LABEL)), key=lambda c: int(c[len(LABEL) :]))


def merge_counts(tables: list[pa.Table]) -> pa.Table:
    """Sum every column of equal tokens over several count tables (a missing label column counts 0)."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return EMPTY_COUNTS
    if len(tables) == 1:
        return tables[0]
    merged = pa.concat_tables(tables, promote_options="default")
    summed = [c for c in merged.column_names if c != TOKEN]
    grouped = merged.group_by(TOKEN, use_threads=False).aggregate([(c, "sum") for c in summed])
    columns = {TOKEN: grouped[TOKEN]}
    for name in [COUNT, WEIGHT, *label_columns(merged)]:
        if name in summed:
            column = grouped[f"{name}_sum"]
            columns[name] = column.fill_null(0) if column.null_count else column
    return pa.table(columns)


def shard_ids(tokens: pa.Array, num_shards: int) -> np.ndarray:
    """A stable shard in ``[0, num_shards)`` per token, computed from its bytes.

    The same token lands in the same shard in every batch, process and run.
    """
    tokens = as_binary(tokens)
    n = len(tokens)
    if n == 0 or num_shards == 1:
        return np.zeros(n, np.int64)
    offsets = np.frombuffer(tokens.buffers()[1], np.int32)[tokens.offset : tokens.offset + n + 1]
    data = np.frombuffer(tokens.buffers()[2], np.uint8) if tokens.buffers()[2] else np.zeros(0, np.uint8)
    starts, ends = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)
    lengths = ends - starts
    used = data[offsets[0] : offsets[-1]].astype(np.int64)
    position = np.arange(len(used), dtype=np.int64) - np.repeat(starts - offsets[0], lengths)
    weighted = used * (position % 61 + 1) * 2654435761 % 4294967291
    cumulative = np.concatenate([[0], np.cumsum(weighted)])
    token_sum = cumulative[ends - offsets[0]] - cumulative[starts - offsets[0]]
    return (token_sum * 31 + lengths) % num_shards


def split_by_shard(counts: pa.Table, num_shards: int) -> list[tuple[int, pa.Table]]:
    """``(shard, table)`` for every non-empty shard of a count table."""
    if counts.num_rows == 0:
        return []
    shards = shard_ids(counts[TOKEN].combine_chunks(), num_shards)
    order = np.argsort(shards, kind="stable")
    sorted_shards = shards[order]
    bounds = np.flatnonzero(np.diff(sorted_shards)) + 1
    pieces = []
    for part in np.split(order, bounds):
        pieces.append((int(shards[part[0]]), counts.take(pa.array(part))))
    return pieces
