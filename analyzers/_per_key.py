"""Per-key analyzers: a statistic of ``x`` for every distinct key, as tf.Transform 1.21's ``*_per_key``.

Inputs per batch are ``(keys, values)``: one key (bytes) per row of ``values``
(``[n]`` when every instance value is reduced, ``[n, *shape]`` elementwise).
The accumulator is a table of the keys seen and, per key, the statistic's
state (numpy arrays, one row per key): a batch becomes such a table by a
grouped reduction, and tables merge by concatenating them and reducing again,
so batching and merge order do not matter.

Results come out in one of two forms:

- in memory: ``(keys, *statistics)``, the keys in ascending byte order;
- a key vocabulary file (``key_vocabulary_filename``): one entry
  ``"<v1>,<v2> <key>"`` per key, ordered by ``sha1(key)``, the numbers printed
  as numpy prints them, as tf.Transform writes it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers._quantile_sketch import QuantilesSketch
from analyzers._spec import AnalyzerSpec, Output, _jsonable, _token
from analyzers._token_counts import as_binary
from featurebeam_base import checks

_SHOWN_KEYS = 10  # keys shown by ``inspect`` and recorded in analyzers.json


def group(keys) -> tuple[pa.Array, np.ndarray]:
    """``(distinct keys, index of each row's key)``."""
    encoded = pc.dictionary_encode(as_binary(keys))
    return encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def group_sum(codes: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=groups)
    total = np.zeros((groups, *values.shape[1:]))
    np.add.at(total, codes, values)
    return total


def group_max(codes: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """Maximum per group; NaN wins, as in tf.Transform."""
    result = np.full((groups, *values.shape[1:]), -np.inf, values.dtype)
    with np.errstate(invalid="ignore"):
        np.maximum.at(result, codes, values)
    return result


@dataclass
class KeyTable:
    """Distinct keys and, per key, the arrays of a statistic's state (leading axis: keys)."""

    keys: pa.Array
    columns: dict[str, np.ndarray]


def concat(tables: list[KeyTable]) -> tuple[pa.Array, np.ndarray, dict[str, np.ndarray]]:
    """The distinct keys of several tables, each row's key index, and their columns stacked."""
    keys = pa.concat_arrays([t.keys for t in tables]) if tables else pa.array([], pa.binary())
    distinct, codes = group(keys)
    names = tables[0].columns if tables else {}
    return distinct, codes, {name: np.concatenate([t.columns[name] for t in tables]) for name in names}


def sorted_by_key(table: KeyTable) -> KeyTable:
    order = pc.sort_indices(table.keys).to_numpy()
    return KeyTable(table.keys.take(pa.array(order)), {n: c[order] for n, c in table.columns.items()})


def file_entries(keys: pa.Array, columns: list[np.ndarray]) -> np.ndarray:
    """tf.Transform's per-key file: ``"<v1>,<v2> <key>"`` per key, by ``sha1(key)``, numbers as numpy prints them."""
    names = keys.to_pylist()
    order = sorted(range(len(names)), key=lambda i: hashlib.sha1(names[i]).digest())
    return np.array(
        [",".join(str(column[i]) for column in columns).encode() + b" " + names[i] for i in order], dtype=object
    )


def _file_name(key_vocabulary_filename: str, key: str) -> str:
    """tf.Transform's name: the given one as it is, or (for ``''``) ``vocab_`` and the name scope, sanitized."""
    if key_vocabulary_filename:
        return key_vocabulary_filename
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "_", "vocab_" + key).strip())


@dataclass(frozen=True)
class PerKeySpec(AnalyzerSpec):
    """Base of the per-key specs: the key table accumulator and the two output forms."""

    key_vocabulary_filename: str | None = None

    @property
    def file_name(self) -> str | None:
        if self.key_vocabulary_filename is None:
            return None
        return _file_name(self.key_vocabulary_filename, self.key)

    def statistics(self) -> tuple[Output, ...]:
        """The per-key results in memory (after the keys)."""
        raise NotImplementedError

    def outputs(self):
        if self.key_vocabulary_filename is not None:
            return (Output("key_vocabulary", "string", (None,), vocabulary_file=self.file_name),)
        return (Output("keys", "string", (None,)), *self.statistics())

    def create(self):
        return []

    def add(self, accumulator, inputs):
        accumulator.append(self.table(inputs))
        return self._folded(accumulator, 16)

    def merge(self, accumulator, other):
        accumulator.extend(other)
        return self._folded(accumulator, 16)

    def compact(self, accumulator):
        return self._folded(accumulator, 2)

    def _folded(self, accumulator, limit: int):
        if len(accumulator) >= limit:
            accumulator[:] = [self.reduce(accumulator)]
        return accumulator

    def extract(self, accumulator):
        table = sorted_by_key(self.reduce(accumulator) if accumulator else self.table(None))
        values = self.results(table)
        if self.key_vocabulary_filename is not None:
            return (file_entries(table.keys, self.file_columns(table)),)
        return (np.array(table.keys.to_pylist(), dtype=object), *values)

    # -- a statistic ----------------------------------------------------------

    def table(self, inputs) -> KeyTable:
        """One batch as a key table (``inputs`` None: the empty table)."""
        raise NotImplementedError

    def reduce(self, tables: list[KeyTable]) -> KeyTable:
        raise NotImplementedError

    def results(self, table: KeyTable) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def file_columns(self, table: KeyTable) -> list[np.ndarray]:
        return list(self.results(table))

    def describe(self, values):
        if self.key_vocabulary_filename is not None:
            entries = np.asarray(values[0], dtype=object)
            return {
                "key_vocabulary_file": self.file_name,
                "keys": int(entries.size),
                "summary": f"{entries.size} keys in {self.file_name}",
            }
        keys = [_token(k) for k in np.asarray(values[0], dtype=object)[:_SHOWN_KEYS].tolist()]
        names = [output.name for output in self.statistics()]
        shown = {
            name: _jsonable(np.asarray(v)[:_SHOWN_KEYS] if np.ndim(v) else v) for name, v in zip(names, values[1:])
        }
        return {"keys": keys, "values": shown, "summary": f"{len(values[0])} keys (first: {', '.join(keys[:5])})"}


def _empty_keys() -> pa.Array:
    return pa.array([], pa.binary())


@dataclass(frozen=True)
class MeanAndVarPerKeySpec(PerKeySpec):
    """Per key: mean and population variance of the finite values (Chan et al.'s pairwise merge)."""

    kind = "mean_and_var_per_key"
    feature_shape: tuple[int, ...] = ()
    output_dtype: str = "float32"

    def statistics(self):
        return (
            Output("mean", self.output_dtype, (None, *self.feature_shape)),
            Output("var", self.output_dtype, (None, *self.feature_shape)),
        )

    def table(self, inputs):
        if inputs is None:
            shape = (0, *self.feature_shape)
            return KeyTable(_empty_keys(), {"count": np.zeros(shape), "mean": np.zeros(shape), "m2": np.zeros(shape)})
        keys, codes = group(inputs[0])
        x = np.asarray(inputs[1], np.float64).reshape(len(codes), *self.feature_shape)
        finite = np.isfinite(x)
        safe = np.where(finite, x, 0.0)
        count = group_sum(codes, finite.astype(np.float64), len(keys))
        mean = np.divide(group_sum(codes, safe, len(keys)), count, out=np.zeros_like(count), where=count > 0)
        m2 = group_sum(codes, np.where(finite, np.square(safe - mean[codes]), 0.0), len(keys))
        return KeyTable(keys, {"count": count, "mean": mean, "m2": m2})

    def reduce(self, tables):
        keys, codes, columns = concat(tables)
        count, mean, m2 = columns["count"], columns["mean"], columns["m2"]
        total = group_sum(codes, count, len(keys))
        merged = np.divide(group_sum(codes, count * mean, len(keys)), total, out=np.zeros_like(total), where=total > 0)
        spread = m2 + count * np.square(mean - merged[codes])
        return KeyTable(keys, {"count": total, "mean": merged, "m2": group_sum(codes, spread, len(keys))})

    def results(self, table):
        count, mean, m2 = table.columns["count"], table.columns["mean"], table.columns["m2"]
        var = np.divide(m2, count, out=np.zeros_like(m2), where=count > 0)
        dtype = np.dtype(self.output_dtype)
        return mean.astype(dtype), var.astype(dtype)


@dataclass(frozen=True)
class MinAndMaxPerKeySpec(PerKeySpec):
    """Per key: minimum and maximum (float32; NaN in a key's values makes both NaN)."""

    kind = "min_and_max_per_key"
    feature_shape: tuple[int, ...] = ()

    def statistics(self):
        return (
            Output("min", "float32", (None, *self.feature_shape)),
            Output("max", "float32", (None, *self.feature_shape)),
        )

    def table(self, inputs):
        if inputs is None:
            empty = np.zeros((0, *self.feature_shape), np.float32)
            return KeyTable(_empty_keys(), {"minus_min": empty, "max": empty})
        keys, codes = group(inputs[0])
        x = np.asarray(inputs[1], np.float32).reshape(len(codes), *self.feature_shape)
        return KeyTable(keys, {"minus_min": group_max(codes, -x, len(keys)), "max": group_max(codes, x, len(keys))})

    def reduce(self, tables):
        keys, codes, columns = concat(tables)
        return KeyTable(
            keys,
            {name: group_max(codes, columns[name], len(keys)) for name in ("minus_min", "max")},
        )

    def results(self, table):
        return np.float32(0) - table.columns["minus_min"], table.columns["max"]

    def file_columns(self, table):
        return [table.columns["minus_min"], table.columns["max"]]  # tf.Transform stores -min


@dataclass(frozen=True)
class CountPerKeySpec(PerKeySpec):
    """Per key: the number of occurrences (int64)."""

    kind = "count_per_key"

    def statistics(self):
        return (Output("counts", "int64", (None,)),)

    def table(self, inputs):
        if inputs is None:
            return KeyTable(_empty_keys(), {"count": np.zeros(0, np.int64)})
        counts = pc.value_counts(as_binary(inputs[0]))
        return KeyTable(counts.field("values"), {"count": counts.field("counts").to_numpy().astype(np.int64)})

    def reduce(self, tables):
        keys, codes, columns = concat(tables)
        return KeyTable(
            keys, {"count": np.bincount(codes, weights=columns["count"], minlength=len(keys)).astype(np.int64)}
        )

    def results(self, table):
        return (table.columns["count"],)


@dataclass(frozen=True)
class QuantilesPerKeySpec(PerKeySpec):
    """Per key quantile boundaries, joined into one boundary list with a scale and shift per key.

    Outputs ``(keys, boundaries, scale, shift, num_buckets)``: a value ``x`` of
    key ``k`` falls in bucket ``#(boundaries <= x * scale[k] + shift[k]) -
    (num_buckets - 2) * k``, clipped to ``[0, num_buckets - 1]``, which is
    tf.Transform's ``bucketize_per_key``. Each key's boundaries are made
    strictly increasing first, as tf.Transform does. Inputs: ``(keys, values)``
    or ``(keys, values, weights)``.
    """

    kind = "quantiles_per_key"
    num_buckets: int = 2
    epsilon: float = 0.01
    weighted: bool = False

    def check(self):
        checks.integer(self.num_buckets, "num_buckets", minimum=2)
        checks.number(self.epsilon, "epsilon", above=0.0, below=1.0)

    def statistics(self):
        return (
            Output("boundaries", "float32", (None,)),
            Output("scale", "float32", (None,)),
            Output("shift", "float32", (None,)),
            Output("num_buckets", "int64", ()),
        )

    def table(self, inputs):
        if inputs is None:
            return KeyTable(_empty_keys(), {"sketch": np.zeros(0, object)})
        keys, codes = group(inputs[0])
        values = np.asarray(inputs[1], np.float64).reshape(-1)
        weights = np.asarray(inputs[2], np.float64).reshape(-1) if self.weighted else None
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(keys) + 1))
        sketches = np.empty(len(keys), object)
        for k in range(len(keys)):
            rows = order[bounds[k] : bounds[k + 1]]
            sketch = QuantilesSketch(self.epsilon)
            sketch.add(values[rows], None if weights is None else weights[rows])
            sketches[k] = sketch
        return KeyTable(keys, {"sketch": sketches})

    def reduce(self, tables):
        keys, codes, columns = concat(tables)
        merged = np.empty(len(keys), object)
        for sketch, code in zip(columns["sketch"], codes):
            if merged[code] is None:
                merged[code] = QuantilesSketch(self.epsilon)
            merged[code].merge(sketch)
        for sketch in merged:
            sketch.compact()
        return KeyTable(keys, {"sketch": merged})

    def results(self, table):
        rows = []
        for sketch in table.columns["sketch"]:
            quantiles = sketch.quantiles(self.num_buckets)
            rows.append(quantiles[0, 1:-1] if quantiles.shape[-1] else np.zeros(self.num_buckets - 1))
        matrix = np.array(rows, np.float32).reshape(-1, self.num_buckets - 1)
        return join_boundary_rows(matrix)


def join_boundary_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """tf.Transform's ``_join_boundary_rows`` (float32 throughout): ``(boundaries, scale, shift, num_buckets)``.

    With one boundary per key (2 buckets), key ``k``'s boundary is shifted to
    ``k`` and the boundaries are ``0, 1, ..., K - 1``, so a value's bucket is
    its count of boundaries up to it minus ``k``. tf.Transform keeps the single
    boundary ``0`` there, which puts a value of key ``k`` in bucket 1 from its
    boundary minus ``k`` on: wrong for every key but the first.
    """
    num_buckets = np.array(matrix.shape[1] + 1, np.int64)
    if matrix.shape[0] == 0:
        return np.zeros(1, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), num_buckets
    epsilon = 1e-6 * np.expand_dims(matrix[:, -1] - matrix[:, 0], 1)
    epsilon[epsilon <= 0] = 1e-6
    deltas = np.maximum(np.diff(matrix, axis=1), epsilon)
    increasing = np.insert(np.cumsum(deltas, axis=1) + np.expand_dims(matrix[:, 0], 1), 0, matrix[:, 0], axis=1)
    low, high = np.min(increasing, axis=1), np.max(increasing, axis=1)
    spread = high - low
    scale = np.divide(1.0, spread, out=np.ones_like(spread), where=spread != 0)
    shift = np.arange(scale.size, dtype=np.float32) - low * scale
    scaled = increasing[:, 1:] * np.expand_dims(scale, axis=1) + np.expand_dims(shift, axis=1)
    if matrix.shape[1] == 1:
        return np.arange(len(scale), dtype=np.float32), scale, shift, num_buckets
    return np.insert(scaled.flatten(), 0, 0.0), scale, shift, num_buckets
