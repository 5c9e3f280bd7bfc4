"""``apply_buckets_with_interpolation``: a value's place among bucket boundaries, as a number in [0, 1].

A mapper without an analyzer: the boundaries are given (often by
``pp.quantiles``). tf.Transform 1.21's formula, written with TensorFlow ops.
"""

from __future__ import annotations

from collections.abc import Iterable

import tensorflow as tf

from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function


def _finite_boundaries(boundaries: tf.Tensor) -> tf.Tensor:
    """The boundaries as a flat vector, without the non-finite ones (tf.Transform drops them)."""
    flat = tf.reshape(boundaries, [-1])
    if flat.dtype.is_floating:
        flat = tf.boolean_mask(flat, tf.math.is_finite(flat))
    return flat


def _common_dtype(values: tf.Tensor, boundaries: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Both in the dtype that holds the larger values, as ``apply_buckets`` compares them."""
    if values.dtype.max > boundaries.dtype.max:
        return values, tf.cast(boundaries, values.dtype)
    return tf.cast(values, boundaries.dtype), boundaries


@api_function()
def apply_buckets_with_interpolation(
    x: TensorType, bucket_boundaries: tf.Tensor | Iterable[int | float], name: str | None = None
) -> TensorType:
    """Place each value between the bucket boundaries: ``0`` at or below the first, ``1`` at or above the last.

    A value in bucket ``i`` (between boundaries ``b[i-1] <= x < b[i]``) becomes
    ``(i - 1 + (x - b[i-1]) / (b[i] - b[i-1])) / (n - 1)`` for ``n`` boundaries:
    bucket ids made continuous and scaled to ``[0, 1]``. NaN becomes 0.5.

    Parameters
    ----------
    x
        Numeric tensor, SparseTensor or RaggedTensor (its values are mapped, its
        structure kept).
    bucket_boundaries
        Sorted boundaries, shape ``[1, n]`` (as :func:`quantiles` returns them).
        Non-finite boundaries are ignored; at least one must be finite (checked
        when the graph runs). With one boundary the result is 0 below it, 1 from it on.

    Returns
    -------
    Same structure as ``x``: float64 if ``x`` is float64, else float32.

    Examples
    --------
    >>> fn = lambda inputs: {"y": pp.apply_buckets_with_interpolation(inputs["x"], [[2.0, 4.0, 8.0]])}
    >>> run_in_memory(fn, {"x": np.array([1.0, 3.0, 4.0, 6.0, 9.0, np.nan], np.float32)})["y"]
    array([0.  , 0.25, 0.5 , 0.75, 1.  , 0.5 ], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "buckets_with_interpolation"):
        structure = _inputs.numeric(x, composite=True)
        values = _inputs.values(structure)
        boundaries = _inputs.numeric(bucket_boundaries, "bucket_boundaries")
        if boundaries.shape.rank != 2:
            raise ArgumentError(
                "bucket_boundaries", f"must have rank 2 (shape [1, n]); got shape {boundaries.shape.as_list()}"
            )
        result_dtype = tf.float64 if values.dtype == tf.float64 else tf.float32
        finite = _finite_boundaries(boundaries)
        count = tf.size(finite, out_type=tf.int64)
        has_one = tf.debugging.assert_positive(
            count,
            message="pp.apply_buckets_with_interpolation: `bucket_boundaries` must hold at least one finite boundary",
        )
        with tf.control_dependencies([has_one]):
            flat = tf.reshape(values, [-1])
            compared, sorted_boundaries = _common_dtype(flat, finite)
            bucket = tf.searchsorted(sorted_boundaries, compared, side="right", out_type=tf.int64)
        result = _interpolate(flat, bucket, tf.cast(finite, result_dtype), count, result_dtype)
        if values.dtype.is_floating:
            result = tf.where(tf.math.is_nan(flat), tf.constant(0.5, result_dtype), result)
        return _inputs.with_values(structure, tf.reshape(result, tf.shape(values)))


def _interpolate(flat, bucket, boundaries, count, dtype) -> tf.Tensor:
    """``(i - 1 + fraction) / (n - 1)``; the outer buckets (below and above the range) add no fraction."""
    lower = tf.gather(tf.concat([boundaries[:1], boundaries], 0), bucket)  # b[i-1], or b[0] below the range
    upper = tf.gather(tf.concat([boundaries, boundaries[-1:]], 0), bucket)  # b[i], or b[n-1] above it
    width = upper - lower
    inside = tf.logical_and(bucket > 0, bucket < count)
    safe_width = tf.where(tf.equal(width, 0), tf.ones_like(width), width)
    fraction = tf.where(
        tf.equal(width, 0),
        tf.fill(tf.shape(width), tf.constant(0.5, dtype)),
        (tf.cast(flat, dtype) - lower) / safe_width,
    )
    fraction = tf.where(inside, fraction, tf.zeros_like(fraction))
    position = tf.cast(tf.maximum(bucket - 1, 0), dtype) + fraction
    scaled = position / tf.cast(tf.maximum(count - 1, 1), dtype)
    # A single boundary: 0 below it, 1 from it on.
    step = tf.cast(bucket > 0, dtype)
    return tf.where(tf.equal(count, 1), step, scaled)
