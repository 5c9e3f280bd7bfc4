"""``quantiles``: approximate quantile boundaries over the whole dataset.

The math is ``QuantilesSketch`` (``_quantile_sketch``), a mergeable sketch
equal to tfx_bsl's on small inputs, whose boundaries are within
``epsilon * N`` ranks of their targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers._quantile_sketch import QuantilesSketch
from analyzers._spec import AnalyzerSpec, Output
from featurebeam_base import checks
from featurebeam_base.errors import PreprocessingError


@dataclass(frozen=True)
class QuantilesSpec(AnalyzerSpec):
    """Boundaries of ``num_buckets`` buckets of equal mass; outputs ``(boundaries,)`` of float32.

    The shape is ``[1, num_buckets - 1]`` when reducing instance dims, else
    ``[*feature_shape, num_buckets - 1]``, as tf.Transform's ``quantiles``.
    With ``weighted``, inputs are ``(values, weights)``: one weight per value
    when reducing instance dims, else one per row (as tf.Transform's sketch
    takes them); values with a NaN, zero or negative weight are ignored.
    """

    kind = "quantiles"
    num_buckets: int
    epsilon: float
    feature_shape: tuple[int, ...]
    reduce_instance_dims: bool
    weighted: bool = False

    def check(self):
        checks.integer(self.num_buckets, "num_buckets", minimum=2)  # tf.Transform fails at run time on 1
        checks.number(self.epsilon, "epsilon", above=0.0, below=1.0)

    @property
    def _num_features(self) -> int:
        return 1 if self.reduce_instance_dims else int(np.prod(self.feature_shape, dtype=np.int64))

    @property
    def _shape(self) -> tuple[int, ...]:
        instance = (1,) if self.reduce_instance_dims else tuple(self.feature_shape)
        return instance + (self.num_buckets - 1,)

    def outputs(self):
        return (Output("bucket_boundaries", "float32", self._shape),)

    def create(self):
        return QuantilesSketch(self.epsilon, self._num_features)

    def add(self, accumulator, inputs):
        values = np.asarray(inputs[0], np.float64).reshape(-1, self._num_features)
        weights = None
        if self.weighted:
            weights = np.asarray(inputs[1], np.float64).ravel()
            if weights.size != values.shape[0]:
                per = "value" if self.reduce_instance_dims else "row"
                raise PreprocessingError(
                    f"pp.quantiles: `weights` must hold one weight per {per} of `x`; a batch has "
                    f"{weights.size} weights for {values.shape[0]} {per}s"
                )
        accumulator.add(values if self._num_features > 1 else values.ravel(), weights)
        return accumulator

    def merge(self, accumulator, other):
        accumulator.merge(other)
        return accumulator

    def compact(self, accumulator):
        accumulator.compact()
        return accumulator

    def extract(self, accumulator):
        quantiles = accumulator.quantiles(self.num_buckets)
        if quantiles.shape[-1] == 0:
            return (np.zeros(self._shape, np.float32),)
        return (quantiles[:, 1:-1].astype(np.float32).reshape(self._shape),)
