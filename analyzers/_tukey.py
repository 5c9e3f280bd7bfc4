"""Tukey HH parameters (location, scale, hl, hr) of the whole dataset, from its sample L-moments.

tf.Transform computes the first four sample L-moments exactly on each batch
and averages them over batches, weighted by the number of values, pairs,
triplets and quadruplets, so its result depends on how the data was batched.
Here:

- up to ``EXACT_LIMIT`` finite values per feature, the values are kept and the
  L-moments are the exact unbiased sample L-moments of the whole dataset:
  tf.Transform's result when one batch holds every row, whatever the batching;
- beyond that, they are tf.Transform's estimator: each batch's exact
  L-moments, averaged with the same weights (each batch's own estimate is
  unbiased, so this is too; it varies with the batching only as much as
  estimates from different samples of the data do).

The parameters follow from the L-moments as in tf.Transform: L-skewness and
L-kurtosis give ``(hl, hr)`` (``_tukey_hh``), then ``scale = l2 / L2(hl, hr)``
and ``location = l1 - scale * L1(hl, hr)``. NaN and infinite values are
ignored (as ``var`` ignores them; tf.Transform zeroes a batch holding one).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

from analyzers import _tukey_hh
from analyzers._spec import AnalyzerSpec, Output
from featurebeam_base import checks

EXACT_LIMIT = 100_000
_NAMES = ("location", "scale", "hl", "hr")


def l_moments(values: np.ndarray) -> np.ndarray:
    """The unbiased sample L-moments ``[l1, l2, l3, l4]`` of finite ``values`` (0 for orders above their count).

    From the probability-weighted moments ``b_r = mean(x_(j) C(j, r) / C(n-1, r))``
    of the sorted values (``j`` from 0), taken relative to the median value
    so that the higher orders lose no precision to a large mean.
    """
    ordered = np.sort(np.asarray(values, np.float64))
    n = ordered.size
    moments = np.zeros(4)
    if n == 0:
        return moments
    reference = ordered[n // 2]
    centred = ordered - reference
    ranks = np.arange(n, dtype=np.float64)
    pwm = np.zeros(4)
    weight = np.full(n, 1.0 / n)
    for r in range(min(4, n)):
        if r:
            weight = weight * (ranks - (r - 1)) / (n - r)
        pwm[r] = np.dot(centred, weight)
    moments[0] = pwm[0] + reference
    moments[1] = 2 * pwm[1] - pwm[0] if n >= 2 else 0.0
    moments[2] = 6 * pwm[2] - 6 * pwm[1] + pwm[0] if n >= 3 else 0.0
    moments[3] = 20 * pwm[3] - 30 * pwm[2] + 12 * pwm[1] - pwm[0] if n >= 4 else 0.0
    return moments


def _counts_of(n: int) -> np.ndarray:
    """How many values, pairs, triplets and quadruplets ``n`` values hold: the weights of a batch's L-moments."""
    return np.array([comb(n, k) for k in range(1, 5)], np.float64)


class LMomentsAccumulator:
    """The L-moments of ``num_features`` features: their values while few, else per-batch L-moments.

    ``batches`` holds each added batch (``[n, num_features]``, non-finite
    values as NaN) until some feature has more than ``EXACT_LIMIT`` finite
    values; then every batch is reduced to its L-moments, added into
    ``moment_sums`` (L-moment times its count weight) and ``moment_weights``.
    """

    __slots__ = ("count", "batches", "moment_sums", "moment_weights")

    def __init__(self, num_features: int):
        self.count = np.zeros(num_features, np.int64)
        self.batches: list[np.ndarray] | None = []
        self.moment_sums = np.zeros((num_features, 4))
        self.moment_weights = np.zeros((num_features, 4))

    def add(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, np.float64).reshape(-1, self.count.size)
        batch = np.where(np.isfinite(batch), batch, np.nan)
        if batch.shape[0] == 0:
            return
        self.count += np.count_nonzero(~np.isnan(batch), axis=0)
        if self.batches is None:
            self._reduce(batch)
        else:
            self.batches.append(batch)
            self._reduce_if_many()

    def merge(self, other: LMomentsAccumulator) -> None:
        self.count = self.count + other.count
        self.moment_sums = self.moment_sums + other.moment_sums
        self.moment_weights = self.moment_weights + other.moment_weights
        if other.batches is None:
            self._reduce_all()
        elif self.batches is None:
            for batch in other.batches:
                self._reduce(batch)
        else:
            self.batches = self.batches + other.batches
            self._reduce_if_many()

    def _reduce_if_many(self) -> None:
        if self.count.max(initial=0) > EXACT_LIMIT:
            self._reduce_all()

    def _reduce_all(self) -> None:
        for batch in self.batches or []:
            self._reduce(batch)
        self.batches = None

    def _reduce(self, batch: np.ndarray) -> None:
        for feature in range(self.count.size):
            column = batch[:, feature]
            column = column[~np.isnan(column)]
            weights = _counts_of(column.size)
            self.moment_sums[feature] += weights * l_moments(column)
            self.moment_weights[feature] += weights

    def moments(self) -> np.ndarray:
        """``[num_features, 4]`` L-moments (see the class docstring)."""
        if self.batches is not None:
            if not self.batches:
                return np.zeros((self.count.size, 4))
            values = np.concatenate(self.batches)
            return np.stack([l_moments(column[~np.isnan(column)]) for column in values.T])
        weights = self.moment_weights
        return np.divide(self.moment_sums, weights, out=np.zeros_like(weights), where=weights > 0)


class _ColumnLMoments:
    """One single-feature accumulator per column of a SparseTensor, added as wider rows arrive."""

    __slots__ = ("columns",)

    def __init__(self):
        self.columns: list[LMomentsAccumulator] = []

    def add(self, columns: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(columns, kind="stable")
        columns, values = columns[order], values[order]
        present, starts = np.unique(columns, return_index=True)
        self._widen(int(present[-1]) + 1 if present.size else 0)
        for column, part in zip(present, np.split(values, starts[1:])):
            self.columns[column].add(part)

    def merge(self, other: _ColumnLMoments) -> None:
        self._widen(len(other.columns))
        for mine, theirs in zip(self.columns, other.columns):
            mine.merge(theirs)

    def _widen(self, width: int) -> None:
        self.columns.extend(LMomentsAccumulator(1) for _ in range(width - len(self.columns)))


def tukey_parameters(moments: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(location, scale, hl, hr)`` from L-moments ``[..., 4]`` and finite-value counts ``[...]``.

    A feature with fewer than 4 values or no spread is treated as normal
    (h = 0); without spread, the scale is 1 and the location the mean.
    """
    l1, l2, l3, l4 = np.moveaxis(np.asarray(moments, np.float64), -1, 0)
    spread = l2 > 0
    tails = spread & (np.asarray(counts) >= 4)
    safe_l2 = np.where(spread, l2, 1.0)
    hl, hr = _tukey_hh.h_params(np.where(tails, l3 / safe_l2, 0.0), np.where(tails, l4 / safe_l2, 0.0))
    hh_l1, hh_l2, _, _ = _tukey_hh.l_moments(hl, hr)
    scale = np.where(spread, l2 / hh_l2, 1.0)
    return l1 - scale * hh_l1, scale, hl, hr


@dataclass(frozen=True)
class TukeySpec(AnalyzerSpec):
    """Outputs ``(location, scale, hl, hr)`` in ``output_dtype``.

    Shaped ``()`` when reducing instance dims, else ``feature_shape``; with
    ``per_column`` (a SparseTensor kept elementwise) the inputs are
    ``(columns, values)`` and the outputs ``[columns]``.
    """

    kind = "tukey_parameters"
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    output_dtype: str
    per_column: bool = False

    def check(self):
        checks.boolean(self.reduce_instance_dims, "reduce_instance_dims")

    @property
    def _num_features(self) -> int:
        return 1 if self.reduce_instance_dims else int(np.prod(self.feature_shape, dtype=np.int64))

    def _shape(self, columns: int | None = None) -> tuple:
        if self.per_column:
            return (columns,)
        return () if self.reduce_instance_dims else tuple(self.feature_shape)

    def outputs(self):
        return tuple(Output(name, self.output_dtype, self._shape()) for name in _NAMES)

    def create(self):
        return _ColumnLMoments() if self.per_column else LMomentsAccumulator(self._num_features)

    def add(self, accumulator, inputs):
        if self.per_column:
            accumulator.add(np.asarray(inputs[0], np.int64).ravel(), np.asarray(inputs[1], np.float64).ravel())
        else:
            accumulator.add(inputs[0])
        return accumulator

    def merge(self, accumulator, other):
        accumulator.merge(other)
        return accumulator

    def extract(self, accumulator):
        features = accumulator.columns if self.per_column else [accumulator]
        moments = np.concatenate([f.moments() for f in features]) if features else np.zeros((0, 4))
        counts = np.concatenate([f.count for f in features]) if features else np.zeros(0, np.int64)
        shape = self._shape(len(features))
        return tuple(
            np.asarray(result).reshape(shape).astype(self.output_dtype) for result in tukey_parameters(moments, counts)
        )
