"""Numeric full-pass analyzers: mean, var, min, max, sum, size, quantiles.

Names, parameters, defaults and output dtypes follow tf.Transform.
"""

from __future__ import annotations


import tensorflow as tf

from analyzers import MeanAndVarSpec, MinMaxSpec, QuantilesSpec, SizeSpec, SumSpec
from preprocessing._tracing import PreprocessingError, register_analyzer

_FLOAT_OUTPUT = {tf.float16: tf.float16, tf.float32: tf.float32, tf.float64: tf.float64}


def _dense(x, analyzer: str) -> tf.Tensor:
    if not isinstance(x, tf.Tensor):
        raise PreprocessingError(f"pp.{analyzer} takes a dense tf.Tensor; got {type(x).__name__}")
    if x.dtype == tf.string:
        raise PreprocessingError(f"pp.{analyzer} takes a numeric tensor; got a tf.string tensor")
    return x


def _feature_shape(x: tf.Tensor, reduce_instance_dims: bool, analyzer: str) -> tuple[int, ...]:
    shape = x.shape[1:]
    if not reduce_instance_dims and not shape.is_fully_defined():
        raise PreprocessingError(
            f"pp.{analyzer} with reduce_instance_dims=False needs a fixed instance shape; got {x.shape}"
        )
    return tuple(shape.as_list()) if shape.is_fully_defined() else ()


def _output_shape(feature_shape, reduce_instance_dims):
    return [] if reduce_instance_dims else list(feature_shape)


def _mean_and_var(x, reduce_instance_dims=True, output_dtype=None):
    """Mean and (population) variance of ``x`` in one analyzer."""
    x = _dense(x, "mean")
    output_dtype = output_dtype or _FLOAT_OUTPUT.get(x.dtype, tf.float32)
    with tf.compat.v1.name_scope("mean_and_var"):
        feature_shape = _feature_shape(x, reduce_instance_dims, "mean")
        shape = _output_shape(feature_shape, reduce_instance_dims)
        mean, var = register_analyzer(
            lambda key: MeanAndVarSpec(key, feature_shape, reduce_instance_dims, output_dtype.name),
            [x],
            [(output_dtype, shape), (output_dtype, shape)],
        )
        return mean, var


def mean(x, reduce_instance_dims=True, name=None, output_dtype=None):
    """Mean of the finite values of ``x`` over the whole dataset.

    Parameters
    ----------
    x : tf.Tensor
        Numeric tensor of shape ``[batch, ...]``.
    reduce_instance_dims : bool
        Reduce every dimension to a scalar (default), or only the batch one.
    name : str, optional
    output_dtype : tf.DType, optional
        Defaults to ``x.dtype`` for floats and float32 for integers.

    Returns
    -------
    tf.Tensor
        NaN and infinite values are ignored; 0 for an empty dataset.

    Examples
    --------
    >>> centred = inputs["fare"] - pp.mean(inputs["fare"])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "mean"):
        return _mean_and_var(x, reduce_instance_dims, output_dtype)[0]


def var(x, reduce_instance_dims=True, name=None, output_dtype=None):
    """Population variance (``ddof=0``) of the finite values of ``x``.

    Parameters and defaults as :func:`mean`.

    Examples
    --------
    >>> spread = pp.var(inputs["fare"])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "var"):
        return _mean_and_var(x, reduce_instance_dims, output_dtype)[1]


def _min_and_max(x, reduce_instance_dims=True, name=None):
    x = _dense(x, "min")
    with tf.compat.v1.name_scope(name, "min_and_max"):
        feature_shape = _feature_shape(x, reduce_instance_dims, "min")
        shape = _output_shape(feature_shape, reduce_instance_dims)
        return register_analyzer(
            lambda key: MinMaxSpec(key, feature_shape, reduce_instance_dims, x.dtype.name),
            [x],
            [(x.dtype, shape), (x.dtype, shape)],
        )


def min(x, reduce_instance_dims=True, name=None):  # noqa: A001 - tf.Transform's name
    """Minimum of ``x`` over the whole dataset, in ``x``'s dtype.

    Examples
    --------
    >>> lowest = pp.min(inputs["trip_miles"])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "min"):
        return _min_and_max(x, reduce_instance_dims)[0]


def max(x, reduce_instance_dims=True, name=None):  # noqa: A001 - tf.Transform's name
    """Maximum of ``x`` over the whole dataset, in ``x``'s dtype.

    Examples
    --------
    >>> highest = pp.max(inputs["trip_miles"])  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "max"):
        return _min_and_max(x, reduce_instance_dims)[1]


def sum(x, reduce_instance_dims=True, name=None):  # noqa: A001 - tf.Transform's name
    """Sum of ``x`` over the whole dataset, in ``x``'s dtype.

    Examples
    --------
    >>> total_fares = pp.sum(inputs["fare"])  # doctest: +SKIP
    """
    x = _dense(x, "sum")
    with tf.compat.v1.name_scope(name, "sum"):
        feature_shape = _feature_shape(x, reduce_instance_dims, "sum")
        shape = _output_shape(feature_shape, reduce_instance_dims)
        return register_analyzer(
            lambda key: SumSpec(key, feature_shape, reduce_instance_dims, x.dtype.name),
            [x],
            [(x.dtype, shape)],
        )[0]


def size(x, reduce_instance_dims=True, name=None):
    """Number of elements of ``x`` over the whole dataset, as int64.

    Examples
    --------
    >>> rows = pp.size(inputs["fare"])  # doctest: +SKIP
    """
    if not isinstance(x, tf.Tensor):
        raise PreprocessingError(f"pp.size takes a dense tf.Tensor; got {type(x).__name__}")
    with tf.compat.v1.name_scope(name, "size"):
        feature_shape = _feature_shape(x, reduce_instance_dims, "size")
        shape = _output_shape(feature_shape, reduce_instance_dims)
        return register_analyzer(
            lambda key: SizeSpec(key, feature_shape, reduce_instance_dims),
            [x],
            [(tf.int64, shape)],
        )[0]


def quantiles(x, num_buckets, epsilon, weights=None, reduce_instance_dims=True, name=None):
    """Approximate quantile boundaries of ``x`` over the whole dataset.

    Parameters
    ----------
    x : tf.Tensor
        Numeric tensor; NaN values are ignored.
    num_buckets : int
        The data is divided into this many buckets; ``num_buckets - 1`` boundaries.
    epsilon : float
        Rank error tolerance: every boundary's rank is within ``epsilon * N`` of
        its target rank ``i * N / num_buckets``.
    reduce_instance_dims : bool
        One set of boundaries (shape ``[1, num_buckets - 1]``), or one per
        instance element (shape ``[*instance_shape, num_buckets - 1]``).

    Returns
    -------
    tf.Tensor
        float32 boundaries.

    Examples
    --------
    >>> boundaries = pp.quantiles(inputs["fare"], num_buckets=4, epsilon=0.01)  # doctest: +SKIP
    """
    x = _dense(x, "quantiles")
    if weights is not None:
        raise PreprocessingError("pp.quantiles does not support weights yet")
    if not isinstance(num_buckets, int) or num_buckets < 1:
        raise PreprocessingError(f"pp.quantiles: num_buckets must be a positive int; got {num_buckets!r}")
    with tf.compat.v1.name_scope(name, "quantiles"):
        feature_shape = _feature_shape(x, reduce_instance_dims, "quantiles")
        shape = ([1] if reduce_instance_dims else list(feature_shape)) + [num_buckets - 1]
        return register_analyzer(
            lambda key: QuantilesSpec(key, num_buckets, float(epsilon), feature_shape, reduce_instance_dims),
            [x],
            [(tf.float32, shape)],
        )[0]


