"""Numeric full-pass analyzers: mean and variance, min and max, sum, size.

Each is a spec (parameters, outputs, description) over an accumulator with
``add`` (one batch), ``merge`` (another accumulator of the same kind) and
``extract``. ``add`` and ``merge`` mutate ``self`` and nothing else, so the
first accumulator handed to a merge is the only one changed. Batches are numpy
arrays of shape ``[batch, *feature_shape]``; ``reduce_instance_dims=True``
reduces every axis, otherwise only the batch axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers._spec import Output, SingleInputSpec


def _reduce_axis(values: np.ndarray, reduce_instance_dims: bool):
    return None if reduce_instance_dims else 0


class MomentsAccumulator:
    """Count, mean and centred second moment (M2) of the finite values, in float64.

    Merges use Chan et al.'s pairwise update, which stays accurate where the
    naive ``E[x^2] - E[x]^2`` loses all precision. NaN and infinities are
    ignored, as tf.Transform's ``mean``/``var`` do.
    """

    __slots__ = ("count", "mean", "m2", "_reduce")

    def __init__(self, feature_shape: tuple[int, ...], reduce_instance_dims: bool):
        shape = () if reduce_instance_dims else tuple(feature_shape)
        self._reduce = reduce_instance_dims
        self.count = np.zeros(shape, np.float64)
        self.mean = np.zeros(shape, np.float64)
        self.m2 = np.zeros(shape, np.float64)

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values, np.float64)
        axis = _reduce_axis(x, self._reduce)
        finite = np.isfinite(x)
        count = finite.sum(axis=axis).astype(np.float64)
        safe = np.where(finite, x, 0.0)
        total = safe.sum(axis=axis)
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        centred = np.where(finite, x - mean, 0.0)
        m2 = np.square(centred).sum(axis=axis)
        self._combine(count, mean, m2)

    def merge(self, other: MomentsAccumulator) -> None:
        self._combine(other.count, other.mean, other.m2)

    def _combine(self, count, mean, m2) -> None:
        total = self.count + count
        safe_total = np.where(total > 0, total, 1.0)
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / safe_total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * count / safe_total)
        self.count = total

    def extract(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population variance (0 where there were no finite values)."""
        var = np.divide(self.m2, self.count, out=np.zeros_like(self.m2), where=self.count > 0)
        return np.asarray(self.mean, dtype), np.asarray(var, dtype)


class MinMaxAccumulator:
    """Running minimum and maximum, kept in the input dtype.

    Like tf.Transform, an empty input yields ``min = +inf, max = -inf`` for floats
    and ``min = int64.max, max = -int64.max`` for integers; NaN propagates.
    """

    __slots__ = ("minimum", "maximum", "_reduce")

    def __init__(self, feature_shape: tuple[int, ...], reduce_instance_dims: bool, dtype):
        shape = () if reduce_instance_dims else tuple(feature_shape)
        dtype = np.dtype(dtype)
        self._reduce = reduce_instance_dims
        if dtype.kind == "f":
            low, high = -np.inf, np.inf
        else:
            high = np.iinfo(dtype).max
            low = -high
        self.minimum = np.full(shape, high, dtype)
        self.maximum = np.full(shape, low, dtype)

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values)
        if x.size == 0:
            return
        axis = _reduce_axis(x, self._reduce)
        self._combine(x.min(axis=axis), x.max(axis=axis))

    def merge(self, other: MinMaxAccumulator) -> None:
        self._combine(other.minimum, other.maximum)

    def _combine(self, minimum, maximum) -> None:
        self.minimum = np.minimum(self.minimum, minimum).astype(self.minimum.dtype)
        self.maximum = np.maximum(self.maximum, maximum).astype(self.maximum.dtype)

    def extract(self) -> tuple[np.ndarray, np.ndarray]:
        return self.minimum.copy(), self.maximum.copy()


class SumAccumulator:
    """Running sum: float64 for floating inputs (cast back at extract), int64 otherwise."""

    __slots__ = ("total", "_reduce")

    def __init__(self, feature_shape: tuple[int, ...], reduce_instance_dims: bool, dtype):
        shape = () if reduce_instance_dims else tuple(feature_shape)
        wide = np.float64 if np.dtype(dtype).kind == "f" else np.int64
        self._reduce = reduce_instance_dims
        self.total = np.zeros(shape, wide)

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values)
        axis = _reduce_axis(x, self._reduce)
        self.total = self.total + x.sum(axis=axis, dtype=self.total.dtype)

    def merge(self, other: SumAccumulator) -> None:
        self.total = self.total + other.total

    def extract(self, dtype) -> np.ndarray:
        return self.total.astype(dtype)


class SizeAccumulator:
    """Number of elements (NaN included), as int64."""

    __slots__ = ("size", "_reduce")

    def __init__(self, feature_shape: tuple[int, ...], reduce_instance_dims: bool):
        shape = () if reduce_instance_dims else tuple(feature_shape)
        self._reduce = reduce_instance_dims
        self.size = np.zeros(shape, np.int64)

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values)
        if self._reduce:
            self.size = self.size + np.int64(x.size)
        else:
            self.size = self.size + np.int64(x.shape[0])

    def merge(self, other: SizeAccumulator) -> None:
        self.size = self.size + other.size

    def extract(self) -> np.ndarray:
        return self.size.copy()


# ---------------------------------------------------------------------------
# Specs


def _result_shape(feature_shape, reduce_instance_dims) -> tuple[int, ...]:
    return () if reduce_instance_dims else tuple(feature_shape)


@dataclass(frozen=True)
class MeanAndVarSpec(SingleInputSpec):
    """Mean and population variance of the finite values; outputs ``(mean, var)``."""

    kind = "mean_and_var"
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    output_dtype: str

    def outputs(self):
        shape = _result_shape(self.feature_shape, self.reduce_instance_dims)
        return (Output("mean", self.output_dtype, shape), Output("var", self.output_dtype, shape))

    def create(self):
        return MomentsAccumulator(self.feature_shape, self.reduce_instance_dims)

    def extract(self, accumulator):
        return accumulator.extract(np.dtype(self.output_dtype))


@dataclass(frozen=True)
class MinMaxSpec(SingleInputSpec):
    """Minimum and maximum in the input dtype; outputs ``(min, max)``."""

    kind = "min_and_max"
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    dtype: str

    def outputs(self):
        shape = _result_shape(self.feature_shape, self.reduce_instance_dims)
        return (Output("min", self.dtype, shape), Output("max", self.dtype, shape))

    def create(self):
        return MinMaxAccumulator(self.feature_shape, self.reduce_instance_dims, np.dtype(self.dtype))

    def extract(self, accumulator):
        return accumulator.extract()


@dataclass(frozen=True)
class SumSpec(SingleInputSpec):
    """Sum in the input dtype; outputs ``(sum,)``."""

    kind = "sum"
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    dtype: str

    def outputs(self):
        return (Output("sum", self.dtype, _result_shape(self.feature_shape, self.reduce_instance_dims)),)

    def create(self):
        return SumAccumulator(self.feature_shape, self.reduce_instance_dims, np.dtype(self.dtype))

    def extract(self, accumulator):
        return (accumulator.extract(np.dtype(self.dtype)),)


@dataclass(frozen=True)
class SizeSpec(SingleInputSpec):
    """Number of elements as int64; outputs ``(size,)``."""

    kind = "size"
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool

    def outputs(self):
        return (Output("size", "int64", _result_shape(self.feature_shape, self.reduce_instance_dims)),)

    def create(self):
        return SizeAccumulator(self.feature_shape, self.reduce_instance_dims)

    def extract(self, accumulator):
        return (accumulator.extract(),)
