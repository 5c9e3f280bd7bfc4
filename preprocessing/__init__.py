"""featurebeam's user-facing API: tf.Transform's names, parameters and defaults.

>>> def preprocessing_fn(inputs):
...     return {"fare_z": pp.scale_to_z_score(inputs["fare"])}
>>> run_in_memory(preprocessing_fn, {"fare": np.array([10.0, 20.0], np.float32)})
{'fare_z': array([-1.,  1.], dtype=float32)}

Nothing here imports Apache Beam; pipelines live in ``beam_jobs``.
"""

from featurebeam_base.errors import ArgumentError, PreprocessingError
from preprocessing import experimental  # tft.experimental's counterpart
from preprocessing._analyzers import histogram, max, mean, min, quantiles, size, sum, var  # noqa: A004
from preprocessing._annotations import get_num_buckets_for_transformed_feature
from preprocessing._covariance import covariance, pca
from preprocessing._density import estimated_probability_density
from preprocessing._gaussian import scale_to_gaussian
from preprocessing._interpolation import apply_buckets_with_interpolation
from preprocessing._mappers import (
    apply_buckets,
    bucketize,
    hash_strings,
    scale_by_min_max,
    scale_to_0_1,
    scale_to_z_score,
)
from preprocessing._per_key import (
    bucketize_per_key,
    count_per_key,
    scale_by_min_max_per_key,
    scale_to_0_1_per_key,
    scale_to_z_score_per_key,
)
from preprocessing._pyfunc import apply_pyfunc
from preprocessing._schema import Feature, Schema
from preprocessing._tukey import tukey_h_params, tukey_location, tukey_scale
from preprocessing._vocabulary import apply_vocabulary, compute_and_apply_vocabulary, vocabulary

__all__ = [
    "ArgumentError",
    "Feature",
    "PreprocessingError",
    "Schema",
    "apply_buckets",
    "apply_buckets_with_interpolation",
    "apply_pyfunc",
    "apply_vocabulary",
    "bucketize",
    "bucketize_per_key",
    "compute_and_apply_vocabulary",
    "count_per_key",
    "experimental",
    "get_num_buckets_for_transformed_feature",
    "covariance",
    "estimated_probability_density",
    "hash_strings",
    "histogram",
    "max",
    "mean",
    "min",
    "pca",
    "quantiles",
    "scale_by_min_max",
    "scale_by_min_max_per_key",
    "scale_to_0_1",
    "scale_to_0_1_per_key",
    "scale_to_gaussian",
    "scale_to_z_score",
    "scale_to_z_score_per_key",
    "size",
    "sum",
    "tukey_h_params",
    "tukey_location",
    "tukey_scale",
    "var",
    "vocabulary",
]
