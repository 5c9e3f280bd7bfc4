"""Per-key scaling, bucketizing and counting: tf.Transform 1.21's ``*_per_key`` functions.

Each value of ``x`` belongs to the key of its row (or of its own position when
``key`` has ``x``'s structure). Statistics are computed per key over the whole
dataset; a key not seen during analysis maps to tf.Transform's fallback: the
value unchanged (z-score), ``sigmoid(x)`` rescaled (min/max), bucket -1.
"""

from __future__ import annotations

import tensorflow as tf

from analyzers._per_key import CountPerKeySpec, MeanAndVarPerKeySpec, MinAndMaxPerKeySpec, QuantilesPerKeySpec
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import annotate_int_domain, apply_analyzer, lookup_vocabulary

_FLOAT_OUTPUT = {tf.float16: tf.float16, tf.float32: tf.float32, tf.float64: tf.float64}


def _string_key(key, argument: str = "key"):
    key = _inputs.feature(key, argument)
    if key.dtype != tf.string:
        raise ArgumentError(
            argument, f"must be a tf.string tensor (as in tf.Transform); got a tf.{key.dtype.name} tensor"
        )
    return key


def _value_rows(x) -> tf.Tensor:
    """The row of each value of a SparseTensor or RaggedTensor."""
    if isinstance(x, tf.SparseTensor):
        return x.indices[:, 0]
    ids = tf.range(tf.size(x.flat_values, out_type=tf.int64), dtype=tf.int64)
    for row_ids in reversed(x.nested_value_rowids()):
        ids = tf.gather(tf.cast(row_ids, tf.int64), ids)
    return ids


def _keys_of_values(x, key) -> tf.Tensor:
    """The key of every value of ``x`` (flat, in ``x``'s value order)."""
    if not _inputs.is_composite(x):
        if _inputs.is_composite(key):
            raise ArgumentError("key", "must be a dense tensor when `x` is dense (as in tf.Transform)")
        if key.shape.rank is not None and key.shape.rank != 1:
            raise ArgumentError("key", f"must have one key per row (shape [batch]); got shape {key.shape}")
        if x.shape.rank is None or x.shape.rank <= 1:
            return key
        per_value = tf.broadcast_to(tf.reshape(key, [-1] + [1] * (x.shape.rank - 1)), tf.shape(x))
        return tf.reshape(per_value, [-1])
    if isinstance(key, tf.Tensor):
        if key.shape.rank is not None and key.shape.rank != 1:
            raise ArgumentError("key", f"must have one key per row (shape [batch]); got shape {key.shape}")
        return tf.gather(key, _value_rows(x))
    if type(key) is not type(x):
        raise ArgumentError(
            "key", f"must be a dense tensor or a {type(x).__name__} like `x`; got a {type(key).__name__}"
        )
    if isinstance(x, tf.SparseTensor):
        check = tf.debugging.assert_equal(x.indices, key.indices, message="`key` must have the indices of `x`")
    else:
        checks_ = [tf.debugging.assert_equal(a, b) for a, b in zip(x.nested_row_splits, key.nested_row_splits)]
        check = tf.group(*checks_)
    with tf.control_dependencies([check]):
        return tf.identity(_inputs.values(key))


def _key_index(keys: tf.Tensor, query: tf.Tensor) -> tf.Tensor:
    """The position of each query key in the analyzer's (sorted) keys, -1 for a key it has not seen."""
    known = tf.get_static_value(keys)
    if known is None:
        # Not executed: stands for the lookup while the keys are being computed.
        return tf.zeros_like(query, tf.int64) + tf.cast(tf.size(keys), tf.int64) * 0
    initializer = tf.lookup.KeyValueTensorInitializer(
        keys, tf.range(tf.size(keys, out_type=tf.int64), dtype=tf.int64), tf.string, tf.int64
    )
    return tf.lookup.StaticHashTable(initializer, default_value=tf.constant(-1, tf.int64)).lookup(query)


def _gather_per_key(statistic: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Each query's statistic; 0 for a key the analyzer has not seen (as tf.Transform)."""
    size = tf.shape(statistic, out_type=tf.int64)[0]
    padded = tf.concat([statistic, tf.zeros_like(statistic[:1])], axis=0)
    return tf.gather(padded, tf.where(index >= 0, index, size))


def _file_values(filename: tf.Tensor, query: tf.Tensor) -> tf.Tensor:
    """``[n, 2]`` float32 values of each query key in a key vocabulary file (``"0,0"`` when missing)."""
    kind, vocab = lookup_vocabulary(filename)
    if kind == "unknown":
        return tf.zeros(tf.stack([tf.size(query), 2])) + tf.cast(tf.strings.length(filename), tf.float32) * 0
    if kind == "tokens":
        lines = tf.constant(vocab, tf.string)
    else:
        lines = tf.strings.split(tf.strings.strip(tf.io.read_file(vocab)), "\n")
    parts = tf.strings.split(lines, " ", maxsplit=1).to_tensor(default_value="", shape=[None, 2])
    initializer = tf.lookup.KeyValueTensorInitializer(parts[:, 1], parts[:, 0], tf.string, tf.string)
    found = tf.lookup.StaticHashTable(initializer, default_value="0,0").lookup(query)
    numbers = tf.strings.split(found, ",").to_tensor(default_value="0", shape=[None, 2])
    numbers = tf.where(tf.strings.length(numbers) > 0, numbers, tf.fill(tf.shape(numbers), "0"))
    return tf.strings.to_number(numbers, tf.float32)


def _per_row(statistic: tf.Tensor, x) -> tf.Tensor:
    """A per-value statistic of dense ``x`` reduced per row, shaped to broadcast against ``x``."""
    if _inputs.is_composite(x) or x.shape.rank is None or x.shape.rank <= 1:
        return statistic
    return tf.reshape(statistic, [-1] + [1] * (x.shape.rank - 1))


def _per_key_statistics(spec_of, x, key, elementwise: bool, key_vocabulary_filename, analyzer_scope: str):
    """Two statistics of each value's key: in memory (gathered) or through a key vocabulary file.

    ``spec_of(feature_shape, filename)`` builds the spec; values are analyzed
    flat (every instance value counts for its row's key) or, elementwise, per
    position of a dense ``x``.
    """
    if elementwise:
        if _inputs.is_composite(x):
            raise ArgumentError(
                "elementwise", "must be False for a SparseTensor or RaggedTensor `x` (as in tf.Transform)"
            )
        if key_vocabulary_filename is not None:
            raise ArgumentError("key_vocabulary_filename", "must be None with `elementwise=True` (as in tf.Transform)")
        if _inputs.is_composite(key) or (key.shape.rank is not None and key.shape.rank != 1):
            raise ArgumentError("key", f"must be a dense tensor of one key per row; got {key.shape}")
        shape = _inputs.instance_shape(x, False)
        with tf.compat.v1.name_scope(analyzer_scope):
            keys, first, second = apply_analyzer(spec_of(shape, None), [key, x])
        index = _key_index(keys, key)
        return _gather_per_key(first, index), _gather_per_key(second, index)
    value_keys = _keys_of_values(x, key)
    values = tf.reshape(_inputs.values(x), [-1])
    if key_vocabulary_filename is not None:
        filename = apply_analyzer(spec_of((), key_vocabulary_filename), [value_keys, values])[0]
        row_keys = key if not _inputs.is_composite(x) else value_keys
        found = _file_values(filename, _inputs.values(row_keys))
        return _per_row(found[:, 0], x), _per_row(found[:, 1], x)
    with tf.compat.v1.name_scope(analyzer_scope):
        keys, first, second = apply_analyzer(spec_of((), None), [value_keys, values])
    row_keys = key if not _inputs.is_composite(x) else value_keys
    index = _key_index(keys, _inputs.values(row_keys))
    return _per_row(_gather_per_key(first, index), x), _per_row(_gather_per_key(second, index), x)


def _key_vocabulary_filename(value) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ArgumentError("key_vocabulary_filename", f"must be a string or None; got {value!r}")
    return value


@api_function()
def scale_to_z_score_per_key(
    x: TensorType,
    key: TensorType,
    elementwise: bool = False,
    key_vocabulary_filename: str | None = None,
    name: str | None = None,
    output_dtype: tf.DType | None = None,
) -> TensorType:
    """Standardize ``x`` per key: ``(x - mean_k) / std_k``, or ``x - mean_k`` where ``std_k`` is 0.

    Parameters
    ----------
    x
        Numeric tensor, SparseTensor or RaggedTensor.
    key
        tf.string keys: one per row (shape ``[batch]``), or for a SparseTensor
        or RaggedTensor ``x`` one per value (same structure).
    elementwise
        Separate statistics per position of a dense ``[batch, k]`` ``x``.
    key_vocabulary_filename
        Store the statistics in this asset file (``"mean,var key"`` lines; ``''``
        names it after the scope) instead of in the graph, for many keys. The
        result is then float32.
    output_dtype
        float32 for integer ``x`` by default.

    Returns
    -------
    The standardized values; a key not seen during analysis leaves ``x`` as it is.

    Examples
    --------
    >>> fn = lambda inputs: {"z": pp.scale_to_z_score_per_key(inputs["fare"], inputs["company"])}
    >>> fare = np.array([1.0, 3.0, 10.0, 30.0], np.float32)
    >>> columns = {"fare": fare, "company": np.array([b"a", b"a", b"b", b"b"], object)}
    >>> run_in_memory(fn, columns)["z"]
    array([-1.,  1., -1.,  1.], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_to_z_score_per_key"):
        x = _inputs.numeric(x, composite=True)
        key = _string_key(key)
        elementwise = checks.boolean(elementwise, "elementwise")
        filename = _key_vocabulary_filename(key_vocabulary_filename)
        dtype = _inputs.output_dtype(output_dtype) or _FLOAT_OUTPUT.get(x.dtype, tf.float32)
        x_cast = _inputs.with_values(x, tf.cast(_inputs.values(x), dtype))

        def spec_of(shape, file):
            return MeanAndVarPerKeySpec(key_vocabulary_filename=file, feature_shape=shape, output_dtype=dtype.name)

        mean, var = _per_key_statistics(spec_of, x_cast, key, elementwise, filename, "mean_and_var_per_key")
        values = tf.cast(_inputs.values(x), mean.dtype)
        numerator = values - mean
        std = tf.sqrt(var)
        nonzero = tf.cast(tf.zeros_like(numerator) + tf.cast(tf.not_equal(std, 0), numerator.dtype), tf.bool)
        return _inputs.with_values(x, tf.where(nonzero, tf.divide(numerator, std), numerator))


def _scale_by_min_max_per_key(x, key, output_min, output_max, elementwise, key_vocabulary_filename):
    output_min = checks.number(output_min, "output_min")
    output_max = checks.number(output_max, "output_max")
    if output_min >= output_max:
        raise ArgumentError("output_max", f"must be greater than `output_min` ({output_min:g}); got {output_max:g}")
    x = _inputs.numeric(x, composite=True)
    x = _inputs.with_values(x, tf.cast(_inputs.values(x), tf.float32))
    key = _string_key(key)
    elementwise = checks.boolean(elementwise, "elementwise")
    filename = _key_vocabulary_filename(key_vocabulary_filename)

    def spec_of(shape, file):
        return MinAndMaxPerKeySpec(key_vocabulary_filename=file, feature_shape=shape)

    scope = "min_and_max_per_key"
    if filename is not None:  # named after this scope, as tf.Transform names it
        with tf.compat.v1.name_scope(scope):
            x_min, x_max = _per_key_statistics(spec_of, x, key, elementwise, filename, scope)
        x_min = -x_min  # the file holds -min, as tf.Transform's
    else:
        x_min, x_max = _per_key_statistics(spec_of, x, key, elementwise, filename, scope)
    values = _inputs.values(x)
    numerator = values - x_min
    spread = tf.cast(tf.zeros_like(numerator) + tf.cast(x_min < x_max, numerator.dtype), tf.bool)
    scaled = tf.where(spread, numerator / (x_max - x_min), tf.math.sigmoid(values))
    return _inputs.with_values(x, scaled * (output_max - output_min) + output_min)


@api_function()
def scale_by_min_max_per_key(
    x: TensorType,
    key: TensorType,
    output_min: float = 0.0,
    output_max: float = 1.0,
    elementwise: bool = False,
    key_vocabulary_filename: str | None = None,
    name: str | None = None,
) -> TensorType:
    """Scale ``x`` per key so the key's min maps to ``output_min`` and its max to ``output_max`` (float32).

    Where a key's min equals its max, holds a NaN, or the key was not seen
    during analysis, tf.Transform's fallback applies: ``sigmoid(x)`` rescaled
    into the output range. ``key`` and ``key_vocabulary_filename`` (lines
    ``"-min,max key"``) as in :func:`scale_to_z_score_per_key`.

    Examples
    --------
    >>> fn = lambda inputs: {"s": pp.scale_by_min_max_per_key(inputs["x"], inputs["k"], -1.0, 1.0)}
    >>> columns = {"x": np.array([1.0, 3.0, 10.0, 30.0], np.float32), "k": np.array([b"a", b"a", b"b", b"b"], object)}
    >>> run_in_memory(fn, columns)["s"]
    array([-1.,  1., -1.,  1.], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_by_min_max_per_key"):
        return _scale_by_min_max_per_key(x, key, output_min, output_max, elementwise, key_vocabulary_filename)


@api_function()
def scale_to_0_1_per_key(
    x: TensorType,
    key: TensorType,
    elementwise: bool = False,
    key_vocabulary_filename: str | None = None,
    name: str | None = None,
) -> TensorType:
    """Scale ``x`` into ``[0, 1]`` per key by the key's min and max (float32).

    See :func:`scale_by_min_max_per_key`.

    Examples
    --------
    >>> fn = lambda inputs: {"s": pp.scale_to_0_1_per_key(inputs["x"], inputs["k"])}
    >>> x = np.array([1.0, 3.0, 2.0, 10.0, 30.0], np.float32)
    >>> columns = {"x": x, "k": np.array([b"a", b"a", b"a", b"b", b"b"], object)}
    >>> run_in_memory(fn, columns)["s"]
    array([0. , 1. , 0.5, 0. , 1. ], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_to_0_1_per_key"):
        return _scale_by_min_max_per_key(x, key, 0.0, 1.0, elementwise, key_vocabulary_filename)


@api_function()
def bucketize_per_key(
    x: TensorType,
    key: TensorType,
    num_buckets: int,
    epsilon: float | None = None,
    weights: TensorType | None = None,
    name: str | None = None,
) -> TensorType:
    """Bucket ids (int64) of ``x`` by approximate quantiles computed per key.

    ``x`` and ``key`` (tf.string) have the same shape, or the same
    SparseTensor/RaggedTensor structure. ``epsilon`` defaults to
    ``min(1 / num_buckets, 0.01)``. A key not seen during analysis gets -1.
    Each key's boundaries are made strictly increasing, as tf.Transform does.

    Examples
    --------
    >>> fn = lambda inputs: {"b": pp.bucketize_per_key(inputs["x"], inputs["k"], num_buckets=2)}
    >>> columns = {"x": np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0], np.float32),
    ...            "k": np.array([b"a"] * 4 + [b"b"] * 4, object)}
    >>> run_in_memory(fn, columns)["b"]
    array([0, 0, 1, 1, 0, 0, 1, 1])
    """
    with tf.compat.v1.name_scope(name, "bucketize_per_key"):
        if isinstance(num_buckets, bool) or not isinstance(num_buckets, int):
            raise ArgumentError("num_buckets", f"must be an integer >= 2; got {num_buckets!r}")
        num_buckets = checks.integer(num_buckets, "num_buckets", minimum=2)
        epsilon = min(1.0 / num_buckets, 0.01) if epsilon is None else epsilon
        x = _inputs.numeric(x, composite=True)
        key = _string_key(key)
        if _inputs.is_composite(x) != _inputs.is_composite(key) or (
            not _inputs.is_composite(x) and x.shape.rank is not None and x.shape.rank != 1
        ):
            raise ArgumentError(
                "key", "must have the shape of `x`: both [batch], or the same SparseTensor/RaggedTensor structure"
            )
        values, keys = _inputs.values(x), _keys_of_values(x, key) if _inputs.is_composite(x) else key
        inputs = [keys, values]
        if weights is not None:
            inputs.append(tf.cast(_inputs.values(_inputs.numeric(weights, "weights", composite=True)), tf.float32))
        spec = QuantilesPerKeySpec(num_buckets=num_buckets, epsilon=epsilon, weighted=weights is not None)
        with tf.compat.v1.name_scope("quantiles_by_key"):
            key_vocab, boundaries, scale, shift, buckets = apply_analyzer(spec, inputs)
        index = _key_index(key_vocab, keys)
        size = tf.size(scale, out_type=tf.int64)
        present = tf.where(index >= 0, index, size)  # past the end: a padding row
        scale = tf.gather(tf.concat([scale, [0.0]], 0), present)
        shift = tf.gather(tf.concat([shift, [0.0]], 0), present)
        transformed = tf.cast(values, tf.float32) * scale + shift
        offset = tf.searchsorted(boundaries, transformed, side="right", out_type=tf.int64)
        max_bucket = tf.cast(buckets, tf.int64) - 1
        # neighbouring keys share a boundary (num_buckets - 2 per key), except with one boundary per key
        per_key = max_bucket - 1 if num_buckets > 2 else tf.constant(1, tf.int64)
        bucketized = tf.clip_by_value(offset - per_key * present, 0, max_bucket)
        bucketized = tf.where(index < 0, index, bucketized)
        annotate_int_domain(bucketized, 0, num_buckets - 1)
        return _inputs.with_values(x, bucketized)


@api_function()
def count_per_key(
    key: TensorType, key_vocabulary_filename: str | None = None, name: str | None = None
) -> tuple[tf.Tensor, tf.Tensor] | tf.Tensor:
    """The number of occurrences of each distinct key over the dataset.

    Returns ``(keys, counts)``: the keys in ascending order of their bytes
    (integer keys as decimal strings: 1, 10, 2), converted back to ``key``'s
    dtype, and int64 counts. With ``key_vocabulary_filename`` it returns the
    path of an asset file instead, one ``"count key"`` line per key.

    Examples
    --------
    >>> def fn(inputs):
    ...     keys, counts = pp.count_per_key(inputs["k"])
    ...     return {"counts": tf.tile(counts[None, :], [tf.shape(inputs["k"])[0], 1])}
    >>> run_in_memory(fn, {"k": np.array([b"b", b"a", b"b"], object)})["counts"][0]
    array([1, 2])
    """
    key = _inputs.tokens(key, "key")
    filename = _key_vocabulary_filename(key_vocabulary_filename)
    with tf.compat.v1.name_scope(name, "count_per_key"):
        values = _inputs.values(key)
        strings = values if values.dtype == tf.string else tf.strings.as_string(values)
        outputs = apply_analyzer(CountPerKeySpec(key_vocabulary_filename=filename), [tf.reshape(strings, [-1])])
        if filename is not None:
            return outputs[0]
        keys, counts = outputs
        if values.dtype != tf.string:
            keys = tf.strings.to_number(keys, values.dtype)
        return keys, counts
