"""``vocabulary``: the tokens of the whole dataset, ranked, filtered and written as tf.Transform 1.21 does.

The counting is in ``_token_counts`` (Arrow tables merged by a grouped sum,
sharded by a stable hash). This module turns the counts of every token into a
vocabulary file's entries:

1. a score per token: its count, its weighted count (``weights``), or its
   mutual information with ``labels`` (``_mutual_information``);
2. the *standard arm*: tokens whose frequency (or, with labels, score) passes
   ``frequency_threshold``, the ``top_k`` best of them; and with ``key_fn``
   the *coverage arm*: tokens passing ``coverage_frequency_threshold``, the
   ``coverage_top_k`` best per ``key_fn(token)``; their union;
3. the order: score descending, ties by token bytes descending, or
   ``sha1(token)`` ascending with ``fingerprint_shuffle``; ``reserved_tokens``
   first;
4. the entries: ``token``, or ``"<score> <token>"`` with ``store_frequency``,
   the score printed as Python prints it (``3``, ``4.199999988079071``, ``0``
   for a supervised score no cell contributed to).

Selecting per shard and again on the union of the shards' selections gives the
same answer as selecting once, so no worker needs every token.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers import _mutual_information as mutual_information
from analyzers._spec import AnalyzerSpec, Output, _token
from analyzers._token_counts import (  # noqa: F401  (re-exported: the counting API of vocabularies)
    COUNT,
    EMPTY_COUNTS,
    TOKEN,
    WEIGHT,
    as_binary,
    count_tokens,
    count_weighted,
    label_columns,
    merge_counts,
    shard_ids,
    split_by_shard,
    totals_of,
)
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError

FILE_FORMATS = ("text", "tfrecord_gzip")
_as_binary = as_binary  # the name other analyzers import

# tf.Transform writes this entry for a vocabulary that came out empty (its size then counts as 1).
EMPTY_VOCABULARY_DUMMY = {"string": b"49d0cd50-04bb-48c0-bc6f-5b575dce351a", "int": b"-1"}


# ---------------------------------------------------------------------------
# Scores and selection


@dataclass(frozen=True)
class Ranking:
    """How tokens are scored and which are kept (tf.Transform's "standard" and "coverage" arms)."""

    top_k: int | None = None
    frequency_threshold: float | None = None
    weighted: bool = False
    labeled: bool = False
    use_adjusted_mutual_info: bool = False
    min_diff_from_avg: float | None = None
    coverage_top_k: int | None = None
    coverage_frequency_threshold: float | None = None
    key_fn: Callable | None = None
    float_counts: bool = False  # approximate vocabularies print counts as floats (``3.0``)


@dataclass
class Scored:
    """Count table rows with their score (float64), frequency and whether the score is an integer."""

    counts: pa.Table
    score: np.ndarray
    frequency: np.ndarray
    integer: np.ndarray

    def take(self, indices: np.ndarray) -> Scored:
        indices = np.asarray(indices, np.int64)
        return Scored(
            self.counts.take(pa.array(indices)), self.score[indices], self.frequency[indices], self.integer[indices]
        )


def _counts_of(table: pa.Table) -> "mutual_information.Counts":
    labels = label_columns(table)
    size = table.num_rows
    return mutual_information.Counts(
        count=table[COUNT].to_numpy().astype(np.int64),
        weight=table[WEIGHT].to_numpy() if WEIGHT in table.column_names else np.zeros(size),
        labels=np.stack([table[c].to_numpy() for c in labels], axis=1) if labels else np.zeros((size, 0)),
    )


def score(counts: pa.Table, ranking: Ranking, totals: pa.Table | None = None) -> Scored:
    """Every token's score: count, weighted count or mutual information with the label."""
    if ranking.labeled:
        if totals is None or totals.num_rows == 0:
            totals = EMPTY_COUNTS
        table = _with_labels_of(counts, totals)
        result = mutual_information.scores(
            _counts_of(table),
            _counts_of(_with_labels_of(totals, counts)),
            weighted=ranking.weighted,
            adjusted=ranking.use_adjusted_mutual_info,
            min_diff_from_avg=ranking.min_diff_from_avg,
            token_names=counts[TOKEN],
        )
        return Scored(table, result.score, result.frequency, result.integer)
    if ranking.weighted:
        values = counts[WEIGHT].to_numpy() if WEIGHT in counts.column_names else np.zeros(counts.num_rows)
        return Scored(counts, values, values, np.zeros(counts.num_rows, bool))
    values = counts[COUNT].to_numpy().astype(np.float64)
    return Scored(counts, values, values, np.full(counts.num_rows, not ranking.float_counts))


def _with_labels_of(table: pa.Table, other: pa.Table) -> pa.Table:
    """``table`` with a zero column for every label column ``other`` has and it lacks."""
    for name in label_columns(other):
        if name not in table.column_names:
            table = table.append_column(name, pa.array(np.zeros(table.num_rows), pa.float64()))
    if WEIGHT not in table.column_names:
        table = table.append_column(WEIGHT, pa.array(np.zeros(table.num_rows), pa.float64()))
    return table


def ranked(scored: Scored, indices: np.ndarray | None = None) -> np.ndarray:
    """Row indices (of ``indices``, default all) by score descending, ties by token bytes descending."""
    if indices is None:
        indices = np.arange(len(scored.score))
    if len(indices) == 0:
        return np.asarray(indices, np.int64)
    table = pa.table({"score": scored.score[indices], TOKEN: scored.counts[TOKEN].take(pa.array(indices))})
    order = pc.sort_indices(table, sort_keys=[("score", "descending"), (TOKEN, "descending")]).to_numpy()
    return np.asarray(indices, np.int64)[order]


def _passing(scored: Scored, frequency_threshold: float, info_threshold: float) -> np.ndarray:
    """Indices whose frequency and score pass the thresholds (tf.Transform filters only when one is set)."""
    everything = np.arange(len(scored.score))
    if not (frequency_threshold > 0 or info_threshold > -math.inf):
        return everything
    with np.errstate(invalid="ignore"):
        keep = (scored.frequency >= frequency_threshold) & (scored.score >= info_threshold)
    return everything[keep]


def _thresholds(ranking: Ranking, threshold: float | None) -> tuple[float, float]:
    """``(frequency threshold, informativeness threshold)``: with labels the threshold is on the score."""
    if ranking.labeled:
        return 0.0, (-math.inf if threshold is None else float(threshold))
    return float(threshold or 0), -math.inf


def standard_arm(scored: Scored, ranking: Ranking) -> np.ndarray:
    kept = _passing(scored, *_thresholds(ranking, ranking.frequency_threshold))
    order = ranked(scored, kept)
    return order if ranking.top_k is None else order[: ranking.top_k]


def coverage_arm(scored: Scored, ranking: Ranking) -> np.ndarray:
    """The ``coverage_top_k`` best tokens per ``key_fn(token)`` among those passing the coverage threshold."""
    kept = _passing(scored, *_thresholds(ranking, ranking.coverage_frequency_threshold))
    if ranking.coverage_top_k is None or len(kept) == 0:
        return kept
    order = ranked(scored, kept)
    keys: dict = {}
    tokens = scored.counts[TOKEN].take(pa.array(order)).to_pylist()
    groups = np.array([keys.setdefault(ranking.key_fn(token), len(keys)) for token in tokens], np.int64)
    by_group = np.argsort(groups, kind="stable")  # within a group, still best first
    sorted_groups = groups[by_group]
    first = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.arange(len(sorted_groups)) - first
    return order[by_group[rank < ranking.coverage_top_k]]


def prune(scored: Scored, ranking: Ranking) -> np.ndarray:
    """Indices of the tokens either arm keeps: a superset of any shard's share of the final vocabulary."""
    kept = standard_arm(scored, ranking)
    if ranking.key_fn is not None:
        kept = np.union1d(kept, coverage_arm(scored, ranking))
    return np.asarray(kept, np.int64)


def select(counts: pa.Table, top_k: int | None, frequency_threshold: float | None) -> pa.Table:
    """Tokens kept by a plain frequency vocabulary, in vocabulary order (count, then bytes, descending)."""
    scored = score(counts, Ranking(top_k=top_k, frequency_threshold=frequency_threshold))
    return counts.take(pa.array(standard_arm(scored, Ranking(top_k, frequency_threshold))))


def tokens_of(counts: pa.Table, dtype: str = "string") -> np.ndarray:
    """The tokens of ``counts`` as a numpy object array of bytes; tf.Transform's dummy when empty."""
    if counts.num_rows == 0:
        return np.array([EMPTY_VOCABULARY_DUMMY[dtype]], dtype=object)
    return np.array(counts[TOKEN].to_pylist(), dtype=object)


# ---------------------------------------------------------------------------
# Entries and files


def format_score(value: float, integer: bool) -> bytes:
    """A score as tf.Transform prints it: ``"{}".format`` of a Python int or float."""
    if integer and math.isfinite(value):
        return str(int(value)).encode()
    return repr(float(value)).encode()


@dataclass(frozen=True)
class Layout:
    """How selected tokens become a vocabulary file's entries."""

    dtype: str = "string"
    store_frequency: bool = False
    fingerprint_shuffle: bool = False
    reserved_tokens: tuple[bytes, ...] | None = None


def entries_of(selected: Scored, layout: Layout, dummy_in_top: bool) -> tuple[np.ndarray, int]:
    """The file's entries and tf.Transform's size annotation for the selected tokens.

    ``dummy_in_top``: the top_k arm came out empty, and tf.Transform puts its
    empty-vocabulary entry there (so it stays even when coverage adds tokens).
    """
    tokens = selected.counts[TOKEN].to_pylist()
    scores = [format_score(s, i) for s, i in zip(selected.score.tolist(), selected.integer.tolist())]
    rows = list(zip(selected.score.tolist(), tokens, scores))
    dummy = EMPTY_VOCABULARY_DUMMY[layout.dtype]
    if dummy_in_top:
        rows.append((1.0, dummy, b"1"))
    size = max(len(rows), 1) + len(layout.reserved_tokens or ())
    if layout.reserved_tokens:
        reserved = set(layout.reserved_tokens)
        rows = [row for row in rows if row[1] not in reserved]
    if layout.fingerprint_shuffle:
        rows.sort(key=lambda row: hashlib.sha1(row[1]).digest())
    else:
        rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    if layout.reserved_tokens is not None:
        rows[:0] = [(-1.0, token, b"-1") for token in layout.reserved_tokens]
    if not rows:
        rows = [(1.0, dummy, b"1")]
    if layout.store_frequency:
        return np.array([score + b" " + token for _, token, score in rows], dtype=object), size
    return np.array([token for _, token, _ in rows], dtype=object), size


def write_vocabulary_file(path: str, tokens) -> None:
    """Write entries one per line (bytes, in vocabulary order), as tf.Transform's text files."""
    with open(path, "wb") as handle:
        for token in tokens:
            handle.write(token if isinstance(token, bytes) else str(token).encode())
            handle.write(b"\n")


def sanitized_filename(name: str, prefix: str = "") -> str:
    """A file-name-safe vocabulary name, as tf.Transform sanitizes them."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "_", prefix + name).strip())


# ---------------------------------------------------------------------------
# The spec


TOP_TOKENS = 10  # tokens shown by ``inspect`` and recorded in analyzers.json


class _Accumulator:
    """Token count tables and, with labels, row total tables; folded as they grow."""

    __slots__ = ("counts", "totals")
    _FOLD_AT = 16

    def __init__(self):
        self.counts: list[pa.Table] = []
        self.totals: list[pa.Table] = []

    def fold(self, force: bool = False) -> _Accumulator:
        for tables in (self.counts, self.totals):
            if len(tables) >= self._FOLD_AT or (force and len(tables) > 1):
                tables[:] = [merge_counts(tables)]
        return self


@dataclass(frozen=True)
class VocabularySpec(AnalyzerSpec):
    """A vocabulary: outputs ``(entries, size)``.

    ``entries`` is a numpy object array of the file's entries (bytes), which the
    graph sees as the path of the file ``file_name``; ``size`` (int64) is
    tf.Transform's annotated size (``get_vocabulary_size_by_name``).

    Inputs per batch: ``(tokens,)``; with ``weighted`` ``(tokens, weights)``;
    with ``labeled`` ``(tokens, token_labels, row_labels)``, plus
    ``(weights, row_weights)`` when weighted. Beam pipelines count tokens in
    shards instead (``count``, ``prune``, ``extract_from``), so the data never
    has to fit on one worker.
    """

    kind = "vocabulary"
    top_k: int | None
    frequency_threshold: float | None
    vocab_filename: str | None  # None: named after the key, as tf.Transform does
    dtype: str = "string"  # of the tokens before counting: 'string' or 'int'
    store_frequency: bool = False
    reserved_tokens: tuple[bytes, ...] | None = None
    weighted: bool = False
    labeled: bool = False
    use_adjusted_mutual_info: bool = False
    min_diff_from_avg: float | None = None
    coverage_top_k: int | None = None
    coverage_frequency_threshold: float | None = None
    key_fn: Callable | None = None
    fingerprint_shuffle: bool = False
    file_format: str = "text"
    approximate: bool = False

    def check(self):
        checks.integer(self.top_k, "top_k", minimum=1, optional=True)
        checks.integer(self.coverage_top_k, "coverage_top_k", minimum=1, optional=True)
        for name in ("frequency_threshold", "coverage_frequency_threshold"):
            threshold = getattr(self, name)
            if threshold is not None and (
                isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0
            ):
                raise ArgumentError(name, f"must be a number >= 0; got {threshold!r}")
        coverage = self.coverage_top_k is not None or self.coverage_frequency_threshold is not None
        if coverage and self.key_fn is None:
            raise ArgumentError("key_fn", "is required with `coverage_top_k` or `coverage_frequency_threshold`")
        if self.key_fn is not None and not coverage:
            raise ArgumentError("key_fn", "needs `coverage_top_k` or `coverage_frequency_threshold`")
        if self.key_fn is not None and not callable(self.key_fn):
            raise ArgumentError("key_fn", f"must be a function of a token (bytes); got {self.key_fn!r}")
        if self.vocab_filename is not None:
            checks.text(self.vocab_filename, "vocab_filename")
        checks.choice(self.file_format, "file_format", FILE_FORMATS)

    # -- naming ---------------------------------------------------------------

    @property
    def file_name(self) -> str:
        """The vocabulary file's name in the transform_fn's assets (tf.Transform's name)."""
        if self.vocab_filename is not None:
            name = sanitized_filename(self.vocab_filename)
        else:
            name = sanitized_filename(self.key, self._prefix)
        return name + ".tfrecord.gz" if self.file_format == "tfrecord_gzip" else name

    @property
    def _prefix(self) -> str:
        if self.approximate:  # tf.Transform swaps these two for approximate vocabularies
            return "approx_vocab_" if self.store_frequency else "approx_vocab_frequency_"
        return "vocab_frequency_" if self.store_frequency else "vocab_"

    @property
    def size_key(self) -> str:
        """The name ``get_vocabulary_size_by_name`` knows this vocabulary by: ``vocab_filename`` as given."""
        return self.vocab_filename if self.vocab_filename is not None else self.file_name

    def outputs(self):
        return (
            Output("vocabulary", "string", (None,), vocabulary_file=self.file_name, vocabulary_format=self.file_format),
            Output("size", "int64", ()),
        )

    # -- counting -------------------------------------------------------------

    @property
    def ranking(self) -> Ranking:
        return Ranking(
            top_k=self.top_k,
            frequency_threshold=self.frequency_threshold,
            weighted=self.weighted,
            labeled=self.labeled,
            use_adjusted_mutual_info=self.use_adjusted_mutual_info,
            min_diff_from_avg=self.min_diff_from_avg,
            coverage_top_k=self.coverage_top_k,
            coverage_frequency_threshold=self.coverage_frequency_threshold,
            key_fn=self.key_fn,
            float_counts=self.approximate,
        )

    @property
    def _drop_unwritable(self) -> bool:
        return self.dtype == "string" and self.file_format == "text"

    def count(self, inputs: tuple) -> pa.Table:
        """One batch's token count table."""
        if not self.weighted and not self.labeled:
            return count_tokens(inputs[0], self._drop_unwritable)
        weights = inputs[3] if self.labeled and self.weighted else inputs[1] if self.weighted else None
        labels = inputs[1] if self.labeled else None
        return count_weighted(inputs[0], weights, labels, self._drop_unwritable)

    def totals(self, inputs: tuple) -> pa.Table | None:
        """One batch's row totals (labels only)."""
        if not self.labeled:
            return None
        return totals_of(inputs[2], inputs[4] if self.weighted else None)

    def create(self):
        return _Accumulator()

    def add(self, accumulator, inputs):
        accumulator.counts.append(self.count(inputs))
        totals = self.totals(inputs)
        if totals is not None:
            accumulator.totals.append(totals)
        return accumulator.fold()

    def merge(self, accumulator, other):
        accumulator.counts.extend(other.counts)
        accumulator.totals.extend(other.totals)
        return accumulator.fold()

    def compact(self, accumulator):
        return accumulator.fold(force=True)

    def extract(self, accumulator):
        totals = merge_counts(accumulator.totals) if self.labeled else None
        return self.extract_from(merge_counts(accumulator.counts), totals)

    # -- selecting ------------------------------------------------------------

    def prune(self, counts: pa.Table, totals: pa.Table | None = None) -> pa.Table:
        """The rows of ``counts`` that may be in the vocabulary (for one shard of the tokens)."""
        scored = score(counts, self.ranking, totals)
        return scored.counts.take(pa.array(prune(scored, self.ranking)))

    def extract_from(self, counts: pa.Table, totals: pa.Table | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(entries, size)`` from the counts of every token (or of every token any shard kept)."""
        scored = score(counts, self.ranking, totals)
        top = standard_arm(scored, self.ranking)
        kept = top
        if self.key_fn is not None:
            kept = np.union1d(top, coverage_arm(scored, self.ranking))
        layout = Layout(self.dtype, self.store_frequency, self.fingerprint_shuffle, self.reserved_tokens)
        entries, size = entries_of(scored.take(kept), layout, dummy_in_top=self._dummy_in_top(top))
        return entries, np.array(size, np.int64)

    def _dummy_in_top(self, top: np.ndarray) -> bool:
        # tf.Transform's top_k step emits its empty-vocabulary entry (not the approximate vocabulary's)
        return self.top_k is not None and not self.approximate and not len(top)

    # -- what inspect shows ---------------------------------------------------

    def parameters(self) -> dict:
        parameters = super().parameters()
        if self.key_fn is not None:
            parameters["key_fn"] = getattr(self.key_fn, "__qualname__", repr(self.key_fn))
        return parameters

    def describe(self, values):
        entries = np.asarray(values[0] if values else [], dtype=object).reshape(-1)
        top = [_token(t) for t in entries[:TOP_TOKENS]]
        described = {
            "vocabulary_file": self.file_name,
            "vocabulary_size": int(entries.size),
            "top_tokens": top,
            "summary": f"vocabulary of {entries.size} tokens (top: {', '.join(repr(t) for t in top[:5])})",
        }
        return described
