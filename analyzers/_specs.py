"""Analyzer specs: what to compute over the whole dataset, as plain data.

``preprocessing`` builds these while tracing a preprocessing_fn; the Beam
pipeline ships them to workers. Each spec owns its math: ``create`` an
accumulator, ``add`` one batch of inputs (a tuple of numpy arrays), ``merge``
two accumulators (mutating the first only), ``extract`` the result as a tuple of
numpy arrays. Vocabulary specs are counted per token instead (see
``_vocabulary``), so the data never has to fit on one worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers import _numeric
from analyzers._quantiles import QuantilesSketch


@dataclass(frozen=True)
class AnalyzerSpec:
    """Common fields. ``key`` is unique within one preprocessing_fn."""

    key: str

    def add(self, accumulator, inputs):
        """Add one batch; the numeric analyzers take a single input array."""
        accumulator.add(inputs[0])
        return accumulator

    def merge(self, accumulator, other):
        accumulator.merge(other)
        return accumulator


@dataclass(frozen=True)
class MeanAndVarSpec(AnalyzerSpec):
    """Mean and population variance of finite values; outputs ``(mean, var)``."""

    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    output_dtype: str

    def create(self):
        return _numeric.MomentsAccumulator(self.feature_shape, self.reduce_instance_dims)

    def extract(self, accumulator):
        return accumulator.extract(np.dtype(self.output_dtype))


@dataclass(frozen=True)
class MinMaxSpec(AnalyzerSpec):
    """Minimum and maximum in the input dtype; outputs ``(min, max)``."""

    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    dtype: str

    def create(self):
        return _numeric.MinMaxAccumulator(
            self.feature_shape, self.reduce_instance_dims, np.dtype(self.dtype)
        )

    def extract(self, accumulator):
        return accumulator.extract()


@dataclass(frozen=True)
class SumSpec(AnalyzerSpec):
    """Sum in the input dtype; outputs ``(sum,)``."""

    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    dtype: str

    def create(self):
        return _numeric.SumAccumulator(
            self.feature_shape, self.reduce_instance_dims, np.dtype(self.dtype)
        )

    def extract(self, accumulator):
        return (accumulator.extract(np.dtype(self.dtype)),)


@dataclass(frozen=True)
class SizeSpec(AnalyzerSpec):
    """Number of elements as int64; outputs ``(size,)``."""

    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool

    def create(self):
        return _numeric.SizeAccumulator(self.feature_shape, self.reduce_instance_dims)

    def extract(self, accumulator):
        return (accumulator.extract(),)


@dataclass(frozen=True)
class QuantilesSpec(AnalyzerSpec):
    """Approximate quantile boundaries; outputs ``(boundaries,)`` of float32.

    The shape is ``[1, num_buckets - 1]`` when reducing instance dims, else
    ``[*feature_shape, num_buckets - 1]``, as tf.Transform's ``quantiles``.
    """

    num_buckets: int
    epsilon: float
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool

    @property
    def _num_features(self) -> int:
        return 1 if self.reduce_instance_dims else int(np.prod(self.feature_shape, dtype=np.int64))

    def create(self):
        return QuantilesSketch(self.epsilon, self._num_features)

    def add(self, accumulator, inputs):
        values = np.asarray(inputs[0], np.float64)
        accumulator.add(values.reshape(-1, self._num_features) if self._num_features > 1 else values.ravel())
        return accumulator

    def extract(self, accumulator):
        output_shape = (
            [1] if self.reduce_instance_dims else list(self.feature_shape)
        ) + [self.num_buckets - 1]
        quantiles = accumulator.quantiles(self.num_buckets)
        if quantiles.shape[-1] == 0:
            return (np.zeros(output_shape, np.float32),)
        return (quantiles[:, 1:-1].astype(np.float32).reshape(output_shape),)


@dataclass(frozen=True)
class VocabularySpec(AnalyzerSpec):
    """Token vocabulary ordered by descending count; outputs ``(tokens,)``.

    ``tokens`` is a numpy object array of bytes. Counting is done per token by
    the pipeline (``_vocabulary``), not through ``create``/``add``.
    """

    top_k: int | None
    frequency_threshold: int | None
    vocab_filename: str
    dtype: str = "string"  # of the tokens before counting: 'string' or 'int'
