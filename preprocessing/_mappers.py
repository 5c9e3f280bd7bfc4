"""Mappers: row-wise transforms built on analyzers, with tf.Transform's formulas."""

from __future__ import annotations

import tensorflow as tf

from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _analyzers, _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import annotate_int_domain


@api_function()
def scale_to_z_score(
    x: TensorType, elementwise: bool = False, name: str | None = None, output_dtype: tf.DType | None = None
) -> TensorType:
    """Standardize ``x``: ``(x - mean) / std``, or ``x - mean`` where std is 0.

    Parameters
    ----------
    x
        Numeric tensor.
    elementwise
        Scale each instance element (column of a ``[batch, k]`` tensor) with its own statistics.
    output_dtype
        float32 for integer inputs by default.

    Examples
    --------
    >>> fn = lambda inputs: {"z": pp.scale_to_z_score(inputs["fare"])}
    >>> run_in_memory(fn, {"fare": np.array([1.0, 2.0, 3.0], np.float32)})["z"]
    array([-1.2247448,  0.       ,  1.2247448], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_to_z_score"):
        x = _inputs.numeric(x, composite=True)
        elementwise = checks.boolean(elementwise, "elementwise")
        x_mean, x_var = _analyzers._mean_and_var(x, reduce_instance_dims=not elementwise, output_dtype=output_dtype)
        if elementwise and _inputs.is_composite(x):  # per column of a SparseTensor
            # a column wider than any seen in the data is left as it is (mean 0, std 1)
            x_mean, x_var = _per_column(x, x_mean, 0.0), _per_column(x, x_var, 1.0)
        values = _inputs.values(x)
        numerator = tf.cast(values, x_mean.dtype) - x_mean
        std = tf.sqrt(x_var)
        nonzero = tf.cast(tf.zeros_like(numerator) + tf.cast(tf.not_equal(std, 0), numerator.dtype), tf.bool)
        return _inputs.with_values(x, tf.where(nonzero, tf.divide(numerator, std), numerator))


def _per_column(x: tf.SparseTensor, statistic: tf.Tensor, unseen) -> tf.Tensor:
    """Each value's column's statistic; ``unseen`` for a column beyond those analyzed."""
    padded = tf.concat([statistic, tf.constant([unseen], statistic.dtype)], 0)
    columns = tf.minimum(x.indices[:, 1], tf.size(statistic, out_type=tf.int64))
    return tf.gather(padded, columns)


@api_function()
def scale_by_min_max(
    x: TensorType, output_min: float = 0.0, output_max: float = 1.0, elementwise: bool = False, name: str | None = None
) -> TensorType:
    """Scale ``x`` linearly so the dataset's min maps to ``output_min`` and max to ``output_max``.

    Where min == max (or the dataset is empty), tf.Transform's fallback applies:
    ``sigmoid(x)`` rescaled into the output range.

    Examples
    --------
    >>> fn = lambda inputs: {"scaled": pp.scale_by_min_max(inputs["fare"], output_min=-1.0, output_max=1.0)}
    >>> run_in_memory(fn, {"fare": np.array([2.0, 4.0, 6.0], np.float32)})["scaled"]
    array([-1.,  0.,  1.], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_by_min_max"):
        return _scale_by_min_max(x, output_min, output_max, elementwise)


@api_function()
def scale_to_0_1(x: TensorType, elementwise: bool = False, name: str | None = None) -> TensorType:
    """Scale ``x`` into ``[0, 1]`` by the dataset's min and max.

    Examples
    --------
    >>> fn = lambda inputs: {"scaled": pp.scale_to_0_1(inputs["miles"])}
    >>> run_in_memory(fn, {"miles": np.array([1.0, 2.0, 5.0], np.float32)})["scaled"]
    array([0.  , 0.25, 1.  ], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_to_0_1"):
        return _scale_by_min_max(x, 0, 1, elementwise)


def _scale_by_min_max(x, output_min, output_max, elementwise):
    output_min = checks.number(output_min, "output_min")
    output_max = checks.number(output_max, "output_max")
    if output_min >= output_max:
        raise ArgumentError("output_max", f"must be greater than `output_min` ({output_min:g}); got {output_max:g}")
    x = _inputs.numeric(x, composite=True)
    x = _inputs.with_values(x, tf.cast(_inputs.values(x), tf.float32))
    elementwise = checks.boolean(elementwise, "elementwise")
    x_min, x_max = _analyzers._min_and_max(x, reduce_instance_dims=not elementwise)
    if elementwise and _inputs.is_composite(x):  # per column; an unseen column takes the sigmoid fallback
        x_min, x_max = _per_column(x, x_min, float("inf")), _per_column(x, x_max, float("-inf"))
    values = _inputs.values(x)
    numerator = values - x_min
    spread = tf.cast(tf.zeros_like(numerator) + tf.cast(x_min < x_max, numerator.dtype), tf.bool)
    scaled = tf.where(spread, numerator / (x_max - x_min), tf.math.sigmoid(values))
    return _inputs.with_values(x, scaled * (output_max - output_min) + output_min)


@api_function()
def bucketize(
    x: TensorType,
    num_buckets: int,
    epsilon: float | None = None,
    weights: tf.Tensor | None = None,
    elementwise: bool = False,
    name: str | None = None,
) -> TensorType:
    """Bucket ids (int64) of ``x`` by approximate quantiles of the whole dataset.

    Parameters
    ----------
    x
        Numeric tensor, SparseTensor or RaggedTensor (its values are bucketized,
        its structure kept).
    num_buckets
        Number of buckets; ids are ``0 .. num_buckets - 1`` (fewer when the data
        has fewer distinct values). NaN goes to the last bucket.
    epsilon
        Rank error of the quantiles; default ``min(1 / num_buckets, 0.01)`` as in tf.Transform.
    weights
        As for :func:`quantiles`: one weight per value of ``x``, or per row with ``elementwise``.
    elementwise
        Bucketize each instance element (column of a ``[batch, k]`` tensor) by
        its own quantiles. Not for a SparseTensor or RaggedTensor ``x``.

    Examples
    --------
    >>> fn = lambda inputs: {"bucket": pp.bucketize(inputs["miles"], num_buckets=2)}
    >>> run_in_memory(fn, {"miles": np.array([1.0, 9.0, 2.0, 8.0], np.float32)})["bucket"]
    array([0, 1, 0, 1])

    Each column by its own boundaries:

    >>> fn = lambda inputs: {"bucket": pp.bucketize(inputs["v"], num_buckets=2, elementwise=True)}
    >>> run_in_memory(fn, {"v": np.array([[1.0, 40.0], [2.0, 10.0], [3.0, 30.0], [4.0, 20.0]], np.float32)})["bucket"]
    array([[0, 1],
           [0, 0],
           [1, 1],
           [1, 0]])
    """
    with tf.compat.v1.name_scope(name, "bucketize"):
        num_buckets = checks.integer(num_buckets, "num_buckets", minimum=1)
        elementwise = checks.boolean(elementwise, "elementwise")
        if epsilon is None:
            epsilon = min(1.0 / num_buckets, 0.01)
        x = _inputs.numeric(x, composite=True)
        if _inputs.is_composite(x):
            if elementwise:
                raise ArgumentError(
                    "elementwise", "must be False for a SparseTensor or RaggedTensor `x`, as in tf.Transform"
                )
            boundaries = _analyzers.quantiles(_inputs.values(x), num_buckets, epsilon, weights)
            return apply_buckets(x, boundaries)
        boundaries = _analyzers.quantiles(x, num_buckets, epsilon, weights, reduce_instance_dims=not elementwise)
        if not elementwise:
            return apply_buckets(x, boundaries)
        num_features = x.shape[1:].num_elements()
        boundaries = tf.reshape(boundaries, [num_features, -1])
        flat = tf.reshape(x, [-1, num_features])
        columns = [apply_buckets(flat[:, i], tf.expand_dims(boundaries[i], 0)) for i in range(num_features)]
        return tf.reshape(tf.stack(columns, axis=1), [-1] + x.shape[1:].as_list())


@api_function()
def apply_buckets(x: TensorType, bucket_boundaries: tf.Tensor, name: str | None = None) -> TensorType:
    """Bucket id of each value: the number of boundaries ``<=`` it (int64).

    ``bucket_boundaries`` has shape ``[1, n]``; values below the first boundary
    get 0, values at or above the last get ``n``.

    Examples
    --------
    >>> fn = lambda inputs: {"bucket": pp.apply_buckets(inputs["fare"], [[5.0, 10.0, 20.0]])}
    >>> run_in_memory(fn, {"fare": np.array([1.0, 5.0, 12.0, 30.0], np.float32)})["bucket"]
    array([0, 1, 2, 3])
    """
    with tf.compat.v1.name_scope(name, "apply_buckets"):
        composite = _inputs.numeric(x, composite=True)
        x = _inputs.values(composite)
        boundaries = _inputs.numeric(bucket_boundaries, "bucket_boundaries")
        if boundaries.shape.rank != 2:
            raise ArgumentError("bucket_boundaries", f"must have rank 2 (shape [1, n]); got shape {boundaries.shape}")
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
        return _inputs.with_values(composite, buckets)


@api_function()
def hash_strings(
    strings: TensorType, hash_buckets: int, key: list[int] | None = None, name: str | None = None
) -> TensorType:
    """Hash strings into ``hash_buckets`` buckets (int64).

    Uses ``tf.strings.to_hash_bucket_fast``, or the keyed
    ``to_hash_bucket_strong`` when ``key`` (two integers) is given, as tf.Transform does.

    Examples
    --------
    >>> fn = lambda inputs: {"bucket": pp.hash_strings(inputs["company"], hash_buckets=100)}
    >>> run_in_memory(fn, {"company": np.array([b"Flash Cab", b"Flash Cab"], object)})["bucket"]
    array([18, 18])
    """
    strings = _inputs.feature(strings, "strings")
    if strings.dtype != tf.string:
        raise ArgumentError("strings", f"must be a tf.string tensor; got a tf.{strings.dtype.name} tensor")
    hash_buckets = checks.integer(hash_buckets, "hash_buckets", minimum=1)
    name = name or "hash_strings"
    values = _inputs.values(strings)
    if key is None:
        hashed = tf.strings.to_hash_bucket_fast(values, hash_buckets, name=name)
    else:
        hashed = tf.strings.to_hash_bucket_strong(values, hash_buckets, key, name=name)
    return _inputs.with_values(strings, hashed)
