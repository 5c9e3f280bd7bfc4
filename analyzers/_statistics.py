"""Data statistics of raw features, as TensorFlow Data Validation computes them, from Arrow batches.

``StatisticsAccumulator`` takes RecordBatches (any order, any split), merges and
pickles, and gives a tensorflow_metadata ``DatasetFeatureStatisticsList`` with
one dataset, as TFX's StatisticsGen writes it (``FeatureStats.pb``). A column is
a flat Arrow array (one value per row) or a list array (``list``,
``large_list``, ``fixed_size_list``: any number of values per row); a null is
a missing row. Per feature:

- every type: ``num_non_missing``, ``num_missing``, the min/max/average/total
  number of values per present row and their QUANTILES histogram;
- ``float`` and ``int``: ``mean`` and ``std_dev`` (population), ``num_zeros``,
  ``min``, ``median``, ``max`` and the STANDARD and QUANTILES histograms with
  ``num_nan``. NaN values are counted (``num_nan``, ``tot_num_values``) and
  left out of everything else; -inf and +inf are values (a feature holding both
  has a NaN mean, and any infinity gives ``std_dev`` 0, as in TFDV);
- ``string``: ``avg_length`` (UTF-8 bytes per value), ``unique``, the 20
  ``top_values`` and a ``rank_histogram`` of up to 1,000 values, from exact
  counts (``analyzers._top_values``).

Exact: counts, mean, std_dev, min, max, num_zeros, the string statistics.
Approximate: the median and both histograms come from the quantile sketch
(``analyzers._quantile_sketch``, epsilon 0.01) and are exact while a feature has
at most 2,101 distinct values (then equal to TFDV's); beyond, every boundary's
rank is within 0.5% of the number of values of the true one (``epsilon / 2``).

>>> import pyarrow as pa
>>> x = pa.array([1.0, 2.0, None, 4.0], pa.float32())
>>> batch = pa.record_batch({"x": x, "s": pa.array([b"a", b"b", b"a", None])})
>>> stats = compute_statistics([batch], [("x", "float"), ("s", "string")]).datasets[0]
>>> s, x = stats.features
>>> x.num_stats.mean, x.num_stats.common_stats.num_missing, s.string_stats.unique, s.string_stats.top_values[0].value
(2.3333333333333335, 1, 2, 'a')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers import _statistics_histograms as hist
from analyzers._quantile_sketch import QuantilesSketch
from analyzers._top_values import NUM_TOP_VALUES, TopValues, count_values, top_values

EPSILON = 0.01  # TFDV's default quantile sketch error
NUM_HISTOGRAM_BUCKETS = 10
NUM_QUANTILES_HISTOGRAM_BUCKETS = 10
NUM_VALUES_HISTOGRAM_BUCKETS = 10
FINE_QUANTILES = 100 * NUM_QUANTILES_HISTOGRAM_BUCKETS  # TFDV's fine query behind both histograms
NUMERIC = ("float", "int")


def values_per_row(column: pa.Array) -> tuple[pa.Array, np.ndarray | None, int]:
    """A column's values (flattened, without nulls), the number of values of each present row, and its missing rows.

    The counts are None for a flat column (one value per present row). A null
    list is a missing row; the readers never put nulls inside a list.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        missing = column.null_count
        present = column.drop_null() if missing else column
        if pa.types.is_fixed_size_list(kind):
            lengths = np.full(len(present), kind.list_size, np.int64)
        else:
            lengths = pc.list_value_length(present).to_numpy(zero_copy_only=False).astype(np.int64)
        return present.flatten().drop_null(), lengths, missing
    return column.drop_null() if column.null_count else column, None, column.null_count


class _Moments:
    """Count, mean and sum of squared deviations of finite values, merged with Chan et al.'s formulas."""

    __slots__ = ("count", "mean", "m2")

    def __init__(self, count: int = 0, mean: float = 0.0, m2: float = 0.0):
        self.count, self.mean, self.m2 = count, mean, m2

    @classmethod
    def of(cls, values: np.ndarray) -> _Moments:
        """Of float32, float64 or int64 values, in float64."""
        if values.size == 0:
            return cls()
        return cls(
            int(values.size), float(values.mean(dtype=np.float64)), float(values.var(dtype=np.float64)) * values.size
        )

    def merge(self, other: _Moments) -> None:
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean, other.m2
            return
        count = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / count
        self.m2 += other.m2 + delta * delta * self.count * other.count / count
        self.count = count


class FeatureAccumulator:
    """Everything one feature's statistics need, but its value counts (see ``analyzers._top_values``)."""

    def __init__(self, name: str, feature_type: str, epsilon: float = EPSILON):
        self.name, self.type = name, feature_type
        self.num_non_missing = 0
        self.tot_num_values = 0
        self.lengths: dict[int, int] = {}  # number of values per present row -> rows
        if feature_type in NUMERIC:
            self.num_nan = self.num_zeros = self.num_pos_inf = self.num_neg_inf = 0
            self.finite_min, self.finite_max = math.inf, -math.inf
            self.moments = _Moments()
            self.sketch = QuantilesSketch(epsilon)
        else:
            self.total_bytes = 0

    def add(self, column: pa.Array) -> None:
        values, lengths, missing = values_per_row(column)
        present = len(column) - missing
        self.num_non_missing += present
        if lengths is None:
            if present:
                self.lengths[1] = self.lengths.get(1, 0) + present
        elif lengths.size:
            distinct, rows = np.unique(lengths, return_counts=True)
            for length, count in zip(distinct.tolist(), rows.tolist()):
                self.lengths[length] = self.lengths.get(length, 0) + count
        self.tot_num_values += len(values)
        if self.type in NUMERIC:
            self._add_numbers(values.to_numpy(zero_copy_only=False))
        elif len(values):
            self.total_bytes += int(pc.sum(pc.binary_length(values)).as_py())

    def _add_numbers(self, values: np.ndarray) -> None:
        """float32 (or float64) or int64 values; every statistic is computed in float64."""
        finite_values = values
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            if not finite.all():
                nan = np.isnan(values)
                self.num_nan += int(nan.sum())
                self.num_pos_inf += int(np.count_nonzero(values == np.inf))
                self.num_neg_inf += int(np.count_nonzero(values == -np.inf))
                values, finite_values = values[~nan], values[finite]
        if finite_values.size:
            low, high = finite_values.min(), finite_values.max()
            self.finite_min = min(self.finite_min, float(low))
            self.finite_max = max(self.finite_max, float(high))
        self.num_zeros += int(np.count_nonzero(finite_values == 0))
        self.moments.merge(_Moments.of(finite_values))
        if not values.size:
            return
        if values.dtype.kind == "i" and int(high) - int(low) < 4 * values.size:
            # Few distinct integers: their counts (O(n), no sort) give the same exact summary.
            counts = np.bincount(values - low)
            present = np.flatnonzero(counts)
            self.sketch.add((present + int(low)).astype(np.float64), counts[present].astype(np.float64))
        else:
            self.sketch.add(values)

    def merge(self, other: FeatureAccumulator) -> None:
        self.num_non_missing += other.num_non_missing
        self.tot_num_values += other.tot_num_values
        for length, rows in other.lengths.items():
            self.lengths[length] = self.lengths.get(length, 0) + rows
        if self.type in NUMERIC:
            self.num_nan += other.num_nan
            self.num_zeros += other.num_zeros
            self.num_pos_inf += other.num_pos_inf
            self.num_neg_inf += other.num_neg_inf
            self.finite_min = min(self.finite_min, other.finite_min)
            self.finite_max = max(self.finite_max, other.finite_max)
            self.moments.merge(other.moments)
            self.sketch.merge(other.sketch)
        else:
            self.total_bytes += other.total_bytes

    def compact(self) -> None:
        if self.type in NUMERIC:
            self.sketch.compact()

    # -- results ---------------------------------------------------------------
    def to_proto(self, num_examples: int, top: TopValues | None = None):
        """This feature's ``FeatureNameStatistics``; ``top`` holds a string feature's value counts."""
        from tensorflow_metadata.proto.v0 import statistics_pb2

        feature = statistics_pb2.FeatureNameStatistics()
        feature.path.step.append(self.name)
        feature.type = {
            "int": statistics_pb2.FeatureNameStatistics.INT,
            "float": statistics_pb2.FeatureNameStatistics.FLOAT,
        }.get(self.type, statistics_pb2.FeatureNameStatistics.STRING)
        if self.type in NUMERIC:
            self._fill_numeric(feature.num_stats)
            self._fill_common(feature.num_stats.common_stats, num_examples)
        else:
            self._fill_string(feature.string_stats, top)
            self._fill_common(feature.string_stats.common_stats, num_examples)
        return feature

    def _fill_common(self, common, num_examples: int) -> None:
        common.num_non_missing = self.num_non_missing
        common.num_missing = num_examples - self.num_non_missing
        common.tot_num_values = self.tot_num_values
        if not self.num_non_missing:
            return
        common.min_num_values = min(self.lengths)
        common.max_num_values = max(self.lengths)
        common.avg_num_values = self.tot_num_values / self.num_non_missing
        # Exact quantiles of the row lengths (few distinct values: an exact summary, as tfx_bsl's)
        sketch = QuantilesSketch(EPSILON)
        lengths = sorted(self.lengths)
        sketch.add(np.array(lengths, np.float64), np.array([self.lengths[k] for k in lengths], np.float64))
        quantiles, cumulative = sketch.quantiles_and_cumulative_weights(NUM_VALUES_HISTOGRAM_BUCKETS)
        _fill_histogram(common.num_values_histogram, hist.quantile_buckets(quantiles[0], cumulative[0]), quantiles=True)

    @property
    def min(self) -> float:
        if self.num_neg_inf:
            return -math.inf
        return self.finite_min if self.moments.count else math.inf

    @property
    def max(self) -> float:
        if self.num_pos_inf:
            return math.inf
        return self.finite_max if self.moments.count else -math.inf

    @property
    def mean(self) -> float:
        if self.num_pos_inf and self.num_neg_inf:
            return math.nan
        if self.num_pos_inf or self.num_neg_inf:
            return math.inf if self.num_pos_inf else -math.inf
        return self.moments.mean

    @property
    def std_dev(self) -> float:
        if self.num_pos_inf or self.num_neg_inf or not self.moments.count:
            return 0.0  # TFDV: the variance is NaN with an infinity, and sqrt(max(0, nan)) is 0
        return math.sqrt(max(0.0, self.moments.m2 / self.moments.count))

    def _fill_numeric(self, numeric) -> None:
        from tensorflow_metadata.proto.v0 import statistics_pb2

        values = self.tot_num_values - self.num_nan
        if values == 0:
            if self.num_nan:  # TFDV: only NaN values give two empty histograms with num_nan
                for kind in (statistics_pb2.Histogram.STANDARD, statistics_pb2.Histogram.QUANTILES):
                    numeric.histograms.add(type=kind).num_nan = self.num_nan
            return
        numeric.mean, numeric.std_dev, numeric.num_zeros = self.mean, self.std_dev, self.num_zeros
        numeric.min, numeric.max = self.min, self.max
        quantiles, cumulative = self.sketch.quantiles_and_cumulative_weights(FINE_QUANTILES)
        quantiles, cumulative = quantiles[0], cumulative[0]
        numeric.median = hist.median(quantiles)
        standard = hist.standard_histogram(
            quantiles, cumulative, self.finite_min, self.finite_max, self.num_pos_inf, NUM_HISTOGRAM_BUCKETS
        )
        _fill_histogram(numeric.histograms.add(), standard, quantiles=False, num_nan=self.num_nan)
        by_quantile = hist.quantiles_histogram(quantiles, cumulative, FINE_QUANTILES // NUM_QUANTILES_HISTOGRAM_BUCKETS)
        _fill_histogram(numeric.histograms.add(), by_quantile, quantiles=True, num_nan=self.num_nan)

    def _fill_string(self, strings, top: TopValues | None) -> None:
        if self.tot_num_values:
            strings.avg_length = self.total_bytes / self.tot_num_values
        if top is None:
            return
        strings.unique = top.unique
        strings.invalid_utf8_count = top.invalid_utf8
        labelled = top.labelled(len(top.counts))
        for label, count in labelled[:NUM_TOP_VALUES]:
            strings.top_values.add(value=label, frequency=count)
        for rank, (label, count) in enumerate(labelled):
            strings.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=label, sample_count=count)


def _fill_histogram(proto, buckets, *, quantiles: bool, num_nan: int = 0) -> None:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    proto.type = statistics_pb2.Histogram.QUANTILES if quantiles else statistics_pb2.Histogram.STANDARD
    if num_nan:
        proto.num_nan = num_nan
    for low, high, count in zip(*buckets):
        proto.buckets.add(low_value=float(low), high_value=float(high), sample_count=float(count))


class StatisticsAccumulator:
    """The statistics of a dataset's features, accumulated over RecordBatches.

    ``features`` are ``(name, type)`` with type ``float``, ``int`` or
    ``string``. A batch lacking a feature's column counts it as missing in
    every row. ``add``, ``merge`` (mutating only ``self``) and ``compact``
    return ``self``.
    """

    def __init__(self, features: Sequence[tuple[str, str]], epsilon: float = EPSILON):
        self.num_examples = 0
        self.features = {name: FeatureAccumulator(name, kind, epsilon) for name, kind in features}

    def add(self, batch: pa.RecordBatch) -> StatisticsAccumulator:
        self.num_examples += batch.num_rows
        names = batch.schema.names
        for name, feature in self.features.items():
            if name in names:
                feature.add(batch.column(names.index(name)))
        return self

    def merge(self, other: StatisticsAccumulator) -> StatisticsAccumulator:
        self.num_examples += other.num_examples
        for name, feature in self.features.items():
            feature.merge(other.features[name])
        return self

    def compact(self) -> StatisticsAccumulator:
        for feature in self.features.values():
            feature.compact()
        return self

    def string_features(self) -> list[str]:
        return [name for name, feature in self.features.items() if feature.type not in NUMERIC]

    def to_proto(self, top: Mapping[str, TopValues]):
        """A ``DatasetFeatureStatisticsList`` with one dataset, features sorted by name.

        ``top`` holds each string feature's ``TopValues``.
        """
        from tensorflow_metadata.proto.v0 import statistics_pb2

        result = statistics_pb2.DatasetFeatureStatisticsList()
        dataset = result.datasets.add()
        dataset.num_examples = self.num_examples
        for name in sorted(self.features):
            dataset.features.append(self.features[name].to_proto(self.num_examples, top.get(name)))
        return result


def compute_statistics(batches: Iterable[pa.RecordBatch], features: Sequence[tuple[str, str]]):
    """The ``DatasetFeatureStatisticsList`` of some batches, in one process (no pipeline)."""
    accumulator = StatisticsAccumulator(features)
    counts: dict[str, list[pa.Table]] = {name: [] for name in accumulator.string_features()}
    for batch in batches:
        accumulator.add(batch)
        for name in counts:
            if name in batch.schema.names:
                counts[name].append(count_values(values_per_row(batch.column(name))[0]))
    return accumulator.to_proto({name: top_values(tables) for name, tables in counts.items()})
