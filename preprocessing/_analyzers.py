"""Numeric full-pass analyzers: mean, var, min, max, sum, size, quantiles, histogram.

Names, parameters, defaults and output dtypes follow tf.Transform 1.21. Each
builds its spec (``analyzers``) and applies it with ``apply_analyzer``.
"""

from __future__ import annotations

import tensorflow as tf

from analyzers import HistogramSpec, MeanAndVarSpec, MinMaxSpec, QuantilesSpec, SizeSpec, SparseColumnsSpec, SumSpec
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import apply_analyzer


def _reduced_input(x, reduce_instance_dims):
    """What a numeric analyzer reduces, and whether per column of a SparseTensor.

    As in tf.Transform, a SparseTensor's or RaggedTensor's values are reduced
    (empty rows add nothing); with ``reduce_instance_dims=False`` a
    SparseTensor is reduced per column (position in the row).
    """
    x = _inputs.numeric(x, composite=True)
    reduce = checks.boolean(reduce_instance_dims, "reduce_instance_dims")
    if not _inputs.is_composite(x):
        return x, False
    if reduce:
        return _inputs.values(x), False
    if isinstance(x, tf.RaggedTensor) or x.shape.rank != 2:
        raise ArgumentError(
            "reduce_instance_dims",
            "must be True for a RaggedTensor or a SparseTensor of rank > 2: their values have no fixed columns "
            "(tf.Transform does not support this either)",
        )
    return x, True


def _sparse_columns(x: tf.SparseTensor, statistic: str, output_dtype: str = "float32") -> list[tf.Tensor]:
    spec = SparseColumnsSpec(statistic, x.dtype.name, output_dtype)
    return apply_analyzer(spec, [x.indices[:, 1], x.values])


def _mean_and_var(x, reduce_instance_dims=True, output_dtype=None) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean and (population) variance of ``x`` in one analyzer."""
    x, per_column = _reduced_input(x, reduce_instance_dims)
    output_dtype = _inputs.float_output_dtype(x, output_dtype)
    with tf.compat.v1.name_scope("mean_and_var"):
        if per_column:
            mean, var = _sparse_columns(x, "mean_and_var", output_dtype.name)
            return mean, var
        shape = _inputs.instance_shape(x, reduce_instance_dims)
        mean, var = apply_analyzer(MeanAndVarSpec(shape, reduce_instance_dims, output_dtype.name), [x])
        return mean, var


@api_function()
def mean(
    x: TensorType, reduce_instance_dims: bool = True, name: str | None = None, output_dtype: tf.DType | None = None
) -> tf.Tensor:
    """Mean of the finite values of ``x`` over the whole dataset.

    Parameters
    ----------
    x
        Numeric tensor of shape ``[batch, ...]``.
    reduce_instance_dims
        Reduce every dimension to a scalar (default), or only the batch one.
    name
        Name scope of the analyzer (its key in ``featurebeam inspect``).
    output_dtype
        Defaults to ``x.dtype`` for floats and float32 for integers.

    Returns
    -------
    tf.Tensor
        NaN and infinite values are ignored; 0 for an empty dataset.

    Examples
    --------
    >>> fn = lambda inputs: {"centred": inputs["fare"] - pp.mean(inputs["fare"])}
    >>> run_in_memory(fn, {"fare": np.array([1.0, 2.0, 6.0], np.float32)})["centred"]
    array([-2., -1.,  3.], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "mean"):
        return _mean_and_var(x, reduce_instance_dims, output_dtype)[0]


@api_function()
def var(
    x: TensorType, reduce_instance_dims: bool = True, name: str | None = None, output_dtype: tf.DType | None = None
) -> tf.Tensor:
    """Population variance (``ddof=0``) of the finite values of ``x``.

    Parameters and defaults as :func:`mean`.

    Examples
    --------
    >>> fn = lambda inputs: {"spread": pp.var(inputs["fare"]) + 0 * inputs["fare"]}
    >>> run_in_memory(fn, {"fare": np.array([1.0, 2.0, 6.0], np.float32)})["spread"]
    array([4.6666665, 4.6666665, 4.6666665], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "var"):
        return _mean_and_var(x, reduce_instance_dims, output_dtype)[1]


def _min_and_max(x, reduce_instance_dims=True) -> tuple[tf.Tensor, tf.Tensor]:
    x, per_column = _reduced_input(x, reduce_instance_dims)
    with tf.compat.v1.name_scope("min_and_max"):
        if per_column:
            minimum, maximum = _sparse_columns(x, "min_and_max")
            return minimum, maximum
        shape = _inputs.instance_shape(x, reduce_instance_dims)
        minimum, maximum = apply_analyzer(MinMaxSpec(shape, reduce_instance_dims, x.dtype.name), [x])
        return minimum, maximum


@api_function()
def min(x: TensorType, reduce_instance_dims: bool = True, name: str | None = None) -> tf.Tensor:  # noqa: A001
    """Minimum of ``x`` over the whole dataset, in ``x``'s dtype.

    Examples
    --------
    >>> fn = lambda inputs: {"from_lowest": inputs["miles"] - pp.min(inputs["miles"])}
    >>> run_in_memory(fn, {"miles": np.array([3.0, 1.5, 8.0], np.float32)})["from_lowest"]
    array([1.5, 0. , 6.5], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "min"):
        return _min_and_max(x, reduce_instance_dims)[0]


@api_function()
def max(x: TensorType, reduce_instance_dims: bool = True, name: str | None = None) -> tf.Tensor:  # noqa: A001
    """Maximum of ``x`` over the whole dataset, in ``x``'s dtype.

    Examples
    --------
    >>> fn = lambda inputs: {"share": inputs["miles"] / pp.max(inputs["miles"])}
    >>> run_in_memory(fn, {"miles": np.array([2.0, 1.0, 8.0], np.float32)})["share"]
    array([0.25 , 0.125, 1.   ], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "max"):
        return _min_and_max(x, reduce_instance_dims)[1]


@api_function()
def sum(x: TensorType, reduce_instance_dims: bool = True, name: str | None = None) -> tf.Tensor:  # noqa: A001
    """Sum of ``x`` over the whole dataset, in ``x``'s dtype.

    Examples
    --------
    >>> fn = lambda inputs: {"share": inputs["fare"] / pp.sum(inputs["fare"])}
    >>> run_in_memory(fn, {"fare": np.array([1.0, 3.0, 4.0], np.float32)})["share"]
    array([0.125, 0.375, 0.5  ], dtype=float32)
    """
    x, per_column = _reduced_input(x, reduce_instance_dims)
    with tf.compat.v1.name_scope(name, "sum"):
        if per_column:
            return _sparse_columns(x, "sum")[0]
        shape = _inputs.instance_shape(x, reduce_instance_dims)
        return apply_analyzer(SumSpec(shape, reduce_instance_dims, x.dtype.name), [x])[0]


@api_function()
def size(x: TensorType, reduce_instance_dims: bool = True, name: str | None = None) -> tf.Tensor:
    """Number of elements of ``x`` over the whole dataset, as int64.

    Examples
    --------
    >>> fn = lambda inputs: {"rows": pp.size(inputs["fare"]) + 0 * tf.cast(inputs["fare"], tf.int64)}
    >>> run_in_memory(fn, {"fare": np.array([1.0, 3.0, 4.0], np.float32)})["rows"]
    array([3, 3, 3])
    """
    x = _inputs.feature(x)
    with tf.compat.v1.name_scope(name, "size"):
        if _inputs.is_composite(x):  # counted by position: any dtype
            x, per_column = _reduced_input(
                _inputs.with_values(x, tf.zeros_like(_inputs.values(x), tf.int64)), reduce_instance_dims
            )
            if per_column:
                return _sparse_columns(x, "size")[0]
        reduce = checks.boolean(reduce_instance_dims, "reduce_instance_dims")
        shape = _inputs.instance_shape(x, reduce)
        return apply_analyzer(SizeSpec(shape, reduce), [x])[0]


@api_function()
def quantiles(
    x: tf.Tensor,
    num_buckets: int,
    epsilon: float,
    weights: tf.Tensor | None = None,
    reduce_instance_dims: bool = True,
    name: str | None = None,
) -> tf.Tensor:
    """Approximate quantile boundaries of ``x`` over the whole dataset.

    Parameters
    ----------
    x
        Numeric tensor; NaN values are ignored.
    num_buckets
        The data is divided into this many buckets; ``num_buckets - 1`` boundaries.
    epsilon
        Rank error tolerance in (0, 1): every boundary's rank is within
        ``epsilon * N`` of its target rank ``i * N / num_buckets``.
    weights
        Each value counts this many times; values with a NaN, zero or negative
        weight are ignored. With ``reduce_instance_dims``, one weight per value
        of ``x`` (``x``'s shape); otherwise one per row (shape ``[batch]``), as
        tf.Transform takes them.
    reduce_instance_dims
        One set of boundaries (shape ``[1, num_buckets - 1]``), or one per
        instance element (shape ``[*instance_shape, num_buckets - 1]``).

    Returns
    -------
    tf.Tensor
        float32 boundaries. Each is a value of the data: the smallest whose
        cumulative weight exceeds ``i / num_buckets`` of the total (on data
        small enough for the sketch to be exact). Zeros for an empty dataset.

    Examples
    --------
    >>> fn = lambda inputs: {"bucket": pp.apply_buckets(inputs["x"], pp.quantiles(inputs["x"], 2, 0.01))}
    >>> run_in_memory(fn, {"x": np.array([1.0, 2.0, 3.0, 4.0], np.float32)})["bucket"]
    array([0, 0, 1, 1])

    Weighted: the last value weighs as much as the other three together.

    >>> def fn(inputs):
    ...     boundaries = pp.quantiles(inputs["x"], 2, 0.01, weights=inputs["w"])
    ...     return {"b": tf.zeros_like(inputs["x"]) + boundaries[0, 0]}
    >>> run_in_memory(fn, {"x": np.array([1.0, 2.0, 3.0, 4.0], np.float32),
    ...                    "w": np.array([1.0, 1.0, 1.0, 3.0], np.float32)})["b"]
    array([4., 4., 4., 4.], dtype=float32)
    """
    x, _ = _reduced_input(x, True) if _inputs.is_composite(x) else (_inputs.numeric(x), False)
    reduce_instance_dims = checks.boolean(reduce_instance_dims, "reduce_instance_dims")
    inputs = [x]
    if weights is not None:
        weights = _inputs.numeric(weights, "weights")
        _check_weights_shape(x, weights, reduce_instance_dims)
        inputs.append(weights)
    with tf.compat.v1.name_scope(name, "quantiles"):
        shape = _inputs.instance_shape(x, reduce_instance_dims)
        spec = QuantilesSpec(num_buckets, epsilon, shape, reduce_instance_dims, weighted=weights is not None)
        return apply_analyzer(spec, inputs)[0]


def _check_weights_shape(x: tf.Tensor, weights: tf.Tensor, reduce_instance_dims: bool) -> None:
    """tf.Transform's rule: one weight per value when reducing instance dims, else one per row."""
    if reduce_instance_dims:
        if (
            x.shape.rank is not None
            and weights.shape.rank is not None
            and not x.shape.is_compatible_with(weights.shape)
        ):
            raise ArgumentError(
                "weights",
                f"must have the shape of `x` ({x.shape.as_list()}), one weight per value; "
                f"got shape {weights.shape.as_list()}",
            )
        return
    per_row = weights.shape.rank is None or weights.shape.rank == 1 or weights.shape[1:].num_elements() == 1
    if not per_row:
        raise ArgumentError(
            "weights",
            "must have shape [batch] (one weight per row) when instance dims are kept; "
            f"got shape {weights.shape.as_list()}",
        )


@api_function()
def histogram(
    x: TensorType, boundaries: tf.Tensor | int | None = None, categorical: bool = False, name: str | None = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """A histogram of ``x`` over the whole dataset: ``(counts, boundaries)``.

    Parameters
    ----------
    x
        Numeric tensor (or, with ``categorical``, string or integer); all its values count.
    boundaries
        Sorted bucket boundaries (``k + 1`` values make ``k`` buckets), or an int
        ``k + 1`` to spread them evenly between the dataset's min and max (a
        second pass over the data). Default: 10 buckets over ``[0, 1]``. Values
        below the first bucket count in it; values above the last, in the last.
    categorical
        Count each distinct value instead; returns ``(counts, values)``, the
        values in ascending order of their string form (int64 for integer ``x``).

    Returns
    -------
    tuple of tf.Tensor
        int64 counts, and the float32 boundaries (shape ``[1, k + 1]``, each
        lowered by 1e-4 as tf.Transform does) or the distinct values.

    Examples
    --------
    >>> def fn(inputs):
    ...     counts, _ = pp.histogram(inputs["x"], boundaries=tf.constant([0.0, 1.0, 2.0, 3.0]))
    ...     return {"counts": tf.tile(counts[None, :], [tf.shape(inputs["x"])[0], 1])}
    >>> run_in_memory(fn, {"x": np.array([0.5, 1.5, 1.7, 2.5], np.float32)})["counts"][0]
    array([1, 2, 1])
    """
    x = tf.reshape(_inputs.values(_inputs.feature(x)), [-1])
    with tf.compat.v1.name_scope(name, "histogram"):
        if checks.boolean(categorical, "categorical"):
            x = _inputs.tokens(x)
            elements = x if x.dtype == tf.string else tf.strings.as_string(x)
            counts, elements = apply_analyzer(HistogramSpec(None, categorical=True), [elements])
            if x.dtype != tf.string:  # int64, whatever the integer dtype, as tf.Transform's
                elements = tf.strings.to_number(elements, tf.int64)
            return counts, elements
        x = _inputs.numeric(x)
        boundaries = _histogram_boundaries(x, boundaries)
        num_buckets = boundaries.shape[1] - 1 if boundaries.shape[1] is not None else None
        if num_buckets is None:
            raise ArgumentError("boundaries", "must have a size known when the preprocessing_fn is traced")
        counts = apply_analyzer(HistogramSpec(num_buckets), [bucket_ids(x, boundaries)])[0]
        return counts, boundaries


def bucket_ids(x: tf.Tensor, boundaries: tf.Tensor) -> tf.Tensor:
    """The histogram bin of each value of a flat ``x`` (NaN in bin 0, as tf.Transform's)."""
    inner = boundaries[0, 1:-1]  # the first and last bins also hold what lies beyond them
    return tf.searchsorted(inner, tf.cast(x, tf.float32), side="left", out_type=tf.int64)


def _histogram_boundaries(x: tf.Tensor, boundaries) -> tf.Tensor:
    """``[1, k + 1]`` float32 boundaries, lowered by 1e-4 as tf.Transform's are."""
    if boundaries is None:
        boundaries = tf.range(11, dtype=tf.float32) / 10.0
    elif isinstance(boundaries, int) and not isinstance(boundaries, bool):
        count = checks.integer(boundaries, "boundaries", minimum=2)
        minimum, maximum = _min_and_max(x)
        boundaries = tf.linspace(tf.cast(minimum, tf.float32), tf.cast(maximum, tf.float32), count)
    else:
        boundaries = _inputs.numeric(boundaries, "boundaries")
        if boundaries.shape.rank == 0:
            raise ArgumentError("boundaries", "must be a Python int (a number of boundaries) or a list of boundaries")
    flat = tf.reshape(tf.cast(boundaries, tf.float32), [-1])
    return tf.expand_dims(flat, 0) - 0.0001
