"""Mappers: row-wise transforms built on analyzers, with tf.Transform's formulas."""

from __future__ import annotations

import tensorflow as tf

from preprocessing import _analyzers
from preprocessing._tracing import PreprocessingError, annotate_int_domain


def scale_to_z_score(x, elementwise=False, name=None, output_dtype=None):
    """Standardize ``x``: ``(x - mean) / std``, or ``x - mean`` where std is 0.

    Parameters
    ----------
    x : tf.Tensor
        Numeric tensor.
    elementwise : bool
        Scale each instance element (column of a ``[batch, k]`` tensor) with its own statistics.
    output_dtype : tf.DType, optional
        float32 for integer inputs by default.

    Examples
    --------
    >>> z = pp.scale_to_z_score(inputs["fare"])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "scale_to_z_score"):
        x_mean, x_var = _analyzers._mean_and_var(x, reduce_instance_dims=not elementwise, output_dtype=output_dtype)
        numerator = tf.cast(x, x_mean.dtype) - x_mean
        std = tf.sqrt(x_var)
        nonzero = tf.cast(tf.zeros_like(numerator) + tf.cast(tf.not_equal(std, 0), numerator.dtype), tf.bool)
        return tf.where(nonzero, tf.divide(numerator, std), numerator)


def scale_by_min_max(x, output_min=0.0, output_max=1.0, elementwise=False, name=None):
    """Scale ``x`` linearly so the dataset's min maps to ``output_min`` and max to ``output_max``.

    Where min == max (or the dataset is empty), tf.Transform's fallback applies:
    ``sigmoid(x)`` rescaled into the output range.

    Examples
    --------
    >>> scaled = pp.scale_by_min_max(inputs["fare"], output_min=-1.0, output_max=1.0)  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "scale_by_min_max"):
        return _scale_by_min_max(x, output_min, output_max, elementwise)


def scale_to_0_1(x, elementwise=False, name=None):
    """Scale ``x`` into ``[0, 1]`` by the dataset's min and max.

    Examples
    --------
    >>> scaled = pp.scale_to_0_1(inputs["trip_miles"])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "scale_to_0_1"):
        return _scale_by_min_max(x, 0, 1, elementwise)


def _scale_by_min_max(x, output_min, output_max, elementwise):
    if output_min >= output_max:
        raise PreprocessingError("scale_by_min_max: output_min must be less than output_max")
    x = tf.cast(x, tf.float32)
    x_min, x_max = _analyzers._min_and_max(x, reduce_instance_dims=not elementwise)
    numerator = x - x_min
    spread = tf.cast(tf.zeros_like(numerator) + tf.cast(x_min < x_max, numerator.dtype), tf.bool)
    scaled = tf.where(spread, numerator / (x_max - x_min), tf.math.sigmoid(x))
    return scaled * (output_max - output_min) + output_min


def bucketize(x, num_buckets, epsilon=None, weights=None, elementwise=False, name=None):
    """Bucket ids (int64) of ``x`` by approximate quantiles of the whole dataset.

    ``epsilon`` defaults to ``min(1 / num_buckets, 0.01)`` as in tf.Transform.

    Examples
    --------
    >>> bucket = pp.bucketize(inputs["trip_miles"], num_buckets=10)  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "bucketize"):
        if not isinstance(num_buckets, int):
            raise PreprocessingError(f"bucketize: num_buckets must be an int; got {type(num_buckets).__name__}")
        if num_buckets < 1:
            raise PreprocessingError(f"bucketize: invalid num_buckets {num_buckets}")
        if epsilon is None:
            epsilon = min(1.0 / num_buckets, 0.01)
        boundaries = _analyzers.quantiles(x, num_buckets, epsilon, weights, reduce_instance_dims=not elementwise)
        if not elementwise:
            return apply_buckets(x, boundaries)
        num_features = x.shape[1:].num_elements()
        boundaries = tf.reshape(boundaries, [num_features, -1])
        flat = tf.reshape(x, [-1, num_features])
        columns = [
            apply_buckets(flat[:, i], tf.expand_dims(boundaries[i], 0)) for i in range(num_features)
        ]
        return tf.reshape(tf.stack(columns, axis=1), [-1] + x.shape[1:].as_list())


def apply_buckets(x, bucket_boundaries, name=None):
    """Bucket id of each value: the number of boundaries ``<=`` it (int64).

    ``bucket_boundaries`` has shape ``[1, n]``; values below the first boundary
    get 0, values at or above the last get ``n``.

    Examples
    --------
    >>> bucket = pp.apply_buckets(inputs["fare"], [[5.0, 10.0, 20.0]])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "apply_buckets"):
        boundaries = tf.convert_to_tensor(bucket_boundaries)
        if boundaries.shape.rank != 2:
            raise PreprocessingError(f"apply_buckets: bucket_boundaries must have rank 2; got shape {boundaries.shape}")
        flat_x = tf.reshape(x, [-1])
        flat_boundaries = tf.reshape(boundaries, [-1])
        if flat_x.dtype.max > flat_boundaries.dtype.max:
            flat_boundaries = tf.cast(flat_boundaries, flat_x.dtype)
        else:
            flat_x = tf.cast(flat_x, flat_boundaries.dtype)
        buckets = tf.searchsorted(flat_boundaries, flat_x, side="right", out_type=tf.int64)
        buckets = tf.reshape(buckets, tf.shape(x))
        if boundaries.shape[1] is not None:
            annotate_int_domain(buckets, 0, boundaries.shape[1])
        return buckets


def hash_strings(strings, hash_buckets, key=None, name=None):
    """Hash strings into ``hash_buckets`` buckets (int64).

    Uses ``tf.strings.to_hash_bucket_fast``, or the keyed
    ``to_hash_bucket_strong`` when ``key`` is given, as tf.Transform does.

    Examples
    --------
    >>> bucket = pp.hash_strings(inputs["company"], hash_buckets=100)  # doctest: +SKIP
    """
    if not isinstance(strings, tf.Tensor) or strings.dtype != tf.string:
        raise PreprocessingError("hash_strings takes a dense tf.string tensor")
    name = name or "hash_strings"
    if key is None:
        return tf.strings.to_hash_bucket_fast(strings, hash_buckets, name=name)
    return tf.strings.to_hash_bucket_strong(strings, hash_buckets, key, name=name)
