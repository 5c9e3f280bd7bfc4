"""featurebeam's user-facing API: tf.Transform's names, parameters and defaults.

>>> import preprocessing as pp
>>> def preprocessing_fn(inputs):
...     return {"fare_z": pp.scale_to_z_score(inputs["fare"])}

Nothing here imports Apache Beam; pipelines live in ``beam_jobs``.
"""

from preprocessing._analyzers import max, mean, min, quantiles, size, sum, var  # noqa: A004
from preprocessing._mappers import (
    apply_buckets,
    bucketize,
    hash_strings,
    scale_by_min_max,
    scale_to_0_1,
    scale_to_z_score,
)
from preprocessing._schema import Feature, Schema
from preprocessing._tracing import PreprocessingError
from preprocessing._vocabulary import apply_vocabulary, compute_and_apply_vocabulary, vocabulary

__all__ = [
    "Feature",
    "PreprocessingError",
    "Schema",
    "apply_buckets",
    "apply_vocabulary",
    "bucketize",
    "compute_and_apply_vocabulary",
    "hash_strings",
    "max",
    "mean",
    "min",
    "quantiles",
    "scale_by_min_max",
    "scale_to_0_1",
    "scale_to_z_score",
    "size",
    "sum",
    "var",
    "vocabulary",
]
