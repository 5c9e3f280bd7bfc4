"""``vocabulary``: the tokens of the whole dataset, counted columnar and mergeable.

A batch of tokens becomes a small Arrow table of ``(token, count)`` rows; tables
merge by a grouped sum. Tokens are assigned to shards by a stable byte hash so
that a pipeline can combine each shard on a different worker: no single worker
ever holds every distinct token of a large vocabulary until the final
selection, which keeps only what passes ``frequency_threshold`` and ``top_k``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers._spec import AnalyzerSpec, Output, _token
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError

_TOKEN = "token"
_COUNT = "count"
EMPTY_COUNTS = pa.table({_TOKEN: pa.array([], pa.binary()), _COUNT: pa.array([], pa.int64())})


def _as_binary(tokens) -> pa.Array:
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    if isinstance(tokens, pa.Array):
        if pa.types.is_large_string(tokens.type) or pa.types.is_large_binary(tokens.type):
            tokens = tokens.cast(pa.large_binary()).cast(pa.binary())
        return tokens.cast(pa.binary())
    flat = np.asarray(tokens, dtype=object).ravel()
    return pa.array(flat, type=pa.binary())


# tf.Transform writes vocabularies as text, one token per line: it never counts
# the empty token or tokens holding a line break, and writes this line for a
# vocabulary that came out empty (its size then counts as 1).
EMPTY_VOCABULARY_DUMMY = {"string": b"49d0cd50-04bb-48c0-bc6f-5b575dce351a", "int": b"-1"}


def count_tokens(tokens) -> pa.Table:
    """Distinct tokens of one batch with their counts.

    ``tokens`` is an Arrow string/binary array or a numpy array of bytes/str of
    any shape (it is flattened). Empty tokens and tokens containing ``\n`` or
    ``\r`` are not counted, as in tf.Transform's text vocabularies.
    """
    array = _as_binary(tokens)
    if len(array) == 0:
        return EMPTY_COUNTS
    counts = pc.value_counts(array)
    values, frequencies = counts.field("values"), counts.field("counts").cast(pa.int64())
    writable = pc.and_(
        pc.greater(pc.binary_length(values), 0),
        pc.invert(pc.or_(pc.match_substring(values, "\n"), pc.match_substring(values, "\r"))),
    )
    return pa.table({_TOKEN: values, _COUNT: frequencies}).filter(writable)


def merge_counts(tables: list[pa.Table]) -> pa.Table:
    """Sum the counts of equal tokens over several count tables."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return EMPTY_COUNTS
    if len(tables) == 1:
        return tables[0]
    merged = pa.concat_tables(tables).group_by(_TOKEN).aggregate([(_COUNT, "sum")])
    return pa.table({_TOKEN: merged[_TOKEN], _COUNT: merged[f"{_COUNT}_sum"]})


def shard_ids(tokens: pa.Array, num_shards: int) -> np.ndarray:
    """A stable shard in ``[0, num_shards)`` per token, computed from its bytes.

    The same token lands in the same shard in every batch, process and run.
    """
    tokens = _as_binary(tokens)
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
    shards = shard_ids(counts[_TOKEN].combine_chunks(), num_shards)
    order = np.argsort(shards, kind="stable")
    sorted_shards = shards[order]
    bounds = np.flatnonzero(np.diff(sorted_shards)) + 1
    pieces = []
    for part in np.split(order, bounds):
        pieces.append((int(shards[part[0]]), counts.take(pa.array(part))))
    return pieces


def select(counts: pa.Table, top_k: int | None, frequency_threshold: int | None) -> pa.Table:
    """Tokens kept by a vocabulary, in vocabulary order.

    tf.Transform's order: count descending, ties broken by token bytes
    descending; ``frequency_threshold`` keeps counts ``>=`` it; ``top_k`` keeps
    the first ``k`` after that. Applying this per shard and again on the union of
    the shard results gives the same answer as applying it once.
    """
    if frequency_threshold is not None and frequency_threshold > 0:
        counts = counts.filter(pc.greater_equal(counts[_COUNT], frequency_threshold))
    if counts.num_rows == 0:
        return EMPTY_COUNTS
    order = pc.sort_indices(counts, sort_keys=[(_COUNT, "descending"), (_TOKEN, "descending")])
    if top_k is not None:
        order = order[:top_k]
    return counts.take(order)


def tokens_of(counts: pa.Table, dtype: str = "string") -> np.ndarray:
    """The vocabulary file's lines as a numpy object array of bytes.

    An empty vocabulary becomes tf.Transform's one dummy line for ``dtype``.
    """
    if counts.num_rows == 0:
        return np.array([EMPTY_VOCABULARY_DUMMY[dtype]], dtype=object)
    return np.array(counts[_TOKEN].to_pylist(), dtype=object)


def write_vocabulary_file(path: str, tokens) -> None:
    """Write tokens one per line (bytes, in vocabulary order), as tf.Transform does."""
    with open(path, "wb") as handle:
        for token in tokens:
            handle.write(token if isinstance(token, bytes) else str(token).encode())
            handle.write(b"\n")


# ---------------------------------------------------------------------------
# The spec


def sanitized_filename(name: str, prefix: str = "") -> str:
    """A file-name-safe vocabulary name, as tf.Transform sanitizes them."""
    return prefix + re.sub(r"[\s-]+", "-", re.sub(r"[^\w\s-]", "_", name))


TOP_TOKENS = 10  # tokens shown by ``inspect`` and recorded in analyzers.json


@dataclass(frozen=True)
class VocabularySpec(AnalyzerSpec):
    """Token vocabulary ordered by descending count; outputs ``(tokens,)``.

    ``tokens`` is a numpy object array of bytes, which the graph sees as the
    path of the vocabulary file ``vocab_filename``. Its accumulator is a list
    of ``(token, count)`` tables; Beam pipelines count tokens in shards
    instead (``split_by_shard``), so the data never has to fit on one worker.
    """

    kind = "vocabulary"
    top_k: int | None
    frequency_threshold: int | float | None
    vocab_filename: str | None  # None: named after the key, as tf.Transform does
    dtype: str = "string"  # of the tokens before counting: 'string' or 'int'

    _FOLD_AT = 16

    def check(self):
        checks.integer(self.top_k, "top_k", minimum=0, optional=True)
        threshold = self.frequency_threshold
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0
        ):
            raise ArgumentError("frequency_threshold", f"must be a number >= 0; got {threshold!r}")
        checks.text(self.vocab_filename, "vocab_filename", optional=True)

    @property
    def file_name(self) -> str:
        """The vocabulary file's name (in the transform_fn's assets)."""
        if self.vocab_filename:
            return sanitized_filename(self.vocab_filename)
        return sanitized_filename(self.key, "vocab_")

    def outputs(self):
        return (Output("vocabulary", "string", (None,), vocabulary_file=self.file_name),)

    def create(self):
        return []

    def add(self, accumulator, inputs):
        accumulator.append(count_tokens(inputs[0]))
        return self._folded(accumulator)

    def merge(self, accumulator, other):
        accumulator.extend(other)
        return self._folded(accumulator)

    def compact(self, accumulator):
        return [merge_counts(accumulator)] if len(accumulator) > 1 else accumulator

    def _folded(self, accumulator):
        if len(accumulator) >= self._FOLD_AT:
            accumulator[:] = [merge_counts(accumulator)]
        return accumulator

    def extract(self, accumulator):
        return (self.tokens_of(merge_counts(accumulator)),)

    def select(self, counts: pa.Table) -> pa.Table:
        return select(counts, self.top_k, self.frequency_threshold)

    def tokens_of(self, counts: pa.Table) -> np.ndarray:
        """The vocabulary file's lines from the counts of every token."""
        return tokens_of(self.select(counts), self.dtype)

    def describe(self, values):
        tokens = np.asarray(values[0] if values else [], dtype=object).reshape(-1)
        top = [_token(t) for t in tokens[:TOP_TOKENS]]
        return {
            "vocabulary_file": self.file_name,
            "vocabulary_size": int(tokens.size),
            "top_tokens": top,
            "summary": f"vocabulary of {tokens.size} tokens (top: {', '.join(repr(t) for t in top[:5])})",
        }
