"""Vocabularies: compute one over the dataset, map tokens to their ids."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from analyzers import VocabularySpec
from analyzers._vocabulary import FILE_FORMATS
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._lookup import lookup, lookup_with
from preprocessing._tracing import annotate_int_domain, apply_analyzer, last_spec, register_vocabulary_size


def _flag(value, argument: str) -> bool:
    return False if value is None else checks.boolean(value, argument)


def reserved_tokens_of(reserved_tokens) -> tuple[bytes, ...] | None:
    """``reserved_tokens`` (a list of strings or a constant string tensor) as bytes."""
    if reserved_tokens is None:
        return None
    if isinstance(reserved_tokens, (tf.Tensor, tf.Variable)):
        value = tf.get_static_value(reserved_tokens)
        if value is None:
            raise ArgumentError("reserved_tokens", "must be a list of strings or a constant tensor of strings")
        reserved_tokens = np.asarray(value).reshape(-1).tolist()
    if isinstance(reserved_tokens, (str, bytes)) or not isinstance(reserved_tokens, Iterable):
        raise ArgumentError("reserved_tokens", f"must be a list of strings; got {reserved_tokens!r}")
    tokens = []
    for token in reserved_tokens:
        if not isinstance(token, (str, bytes)):
            raise ArgumentError("reserved_tokens", f"must be a list of strings; got {token!r} in it")
        tokens.append(token.encode() if isinstance(token, str) else token)
    return tuple(tokens)


def _weights_of(weights, values: tf.Tensor) -> tf.Tensor:
    weights = _inputs.numeric(weights, "weights")
    if values.shape.is_fully_defined() and weights.shape.is_fully_defined():
        if weights.shape.num_elements() != values.shape.num_elements():
            raise ArgumentError("weights", f"must have the shape of `x`'s values {values.shape}; got {weights.shape}")
    elif values.shape.rank is not None and weights.shape.rank is not None and values.shape.rank != weights.shape.rank:
        raise ArgumentError("weights", f"must have the shape of `x`'s values {values.shape}; got {weights.shape}")
    return tf.reshape(tf.cast(weights, tf.float32), [-1])


def _labels_of(labels, x) -> tuple[tf.Tensor, tf.Tensor]:
    """``(label of each value of x, label of each row)``: labels hold one integer per row (-1: none)."""
    if _inputs.is_composite(labels):
        raise ArgumentError(
            "labels", "must be a dense tensor of one label per row; multi-label (SparseTensor) labels are not supported"
        )
    labels = _inputs.dense(labels, "labels")
    if not labels.dtype.is_integer:
        raise ArgumentError(
            "labels", f"must be an integer tensor (a label id per row); got a tf.{labels.dtype.name} tensor"
        )
    if labels.shape.rank is not None and (labels.shape.rank > 2 or (labels.shape.rank == 2 and labels.shape[1] != 1)):
        raise ArgumentError("labels", f"must hold one label per row (shape [batch]); got shape {labels.shape}")
    rows = tf.reshape(tf.cast(labels, tf.int64), [-1])
    if isinstance(x, tf.SparseTensor):
        return tf.gather(rows, x.indices[:, 0]), rows
    if isinstance(x, tf.RaggedTensor):
        return tf.gather(rows, x.value_rowids()), rows
    if x.shape.rank is not None and x.shape.rank > 1:
        per_value = tf.broadcast_to(tf.reshape(rows, [-1] + [1] * (x.shape.rank - 1)), tf.shape(x))
        return tf.reshape(per_value, [-1]), rows
    return rows, rows


def _vocabulary_inputs(x, weights, labels) -> list[tf.Tensor]:
    """The analyzer's inputs: tokens, then labels per token and per row, then weights per token and per row."""
    values = _inputs.values(x)
    tokens = values if values.dtype == tf.string else tf.strings.as_string(values)  # integers count as their digits
    token_weights = None if weights is None else _weights_of(weights, values)
    if labels is None:
        return [tokens] if token_weights is None else [tokens, token_weights]
    token_labels, row_labels = _labels_of(labels, x)
    if token_weights is None:
        return [tokens, token_labels, row_labels]
    if _inputs.is_composite(x) or (x.shape.rank is not None and x.shape.rank != 1):
        raise ArgumentError(
            "weights",
            "with `labels` need one token per row: `x` must be a dense tensor of shape [batch] (as in tf.Transform)",
        )
    return [tokens, token_labels, row_labels, token_weights, token_weights]


def _threshold(value, argument: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < 0:
        raise ArgumentError(argument, f"must be a number >= 0; got {value!r}")
    return float(value)


def vocabulary_spec(
    x,
    *,
    top_k,
    frequency_threshold,
    vocab_filename,
    store_frequency,
    reserved_tokens,
    weights,
    labels,
    use_adjusted_mutual_info=False,
    min_diff_from_avg=None,
    coverage_top_k=None,
    coverage_frequency_threshold=None,
    key_fn=None,
    fingerprint_shuffle=False,
    file_format="text",
    approximate=False,
) -> tuple[VocabularySpec, list[tf.Tensor]]:
    """The spec of a vocabulary of ``x`` (checked) and its input tensors."""
    x = _inputs.tokens(x)
    checks.choice(file_format, "file_format", FILE_FORMATS)
    spec = VocabularySpec(
        checks.integer(top_k, "top_k", minimum=1, optional=True),
        _threshold(frequency_threshold, "frequency_threshold"),
        vocab_filename,
        dtype="string" if x.dtype == tf.string else "int",
        store_frequency=_flag(store_frequency, "store_frequency"),
        reserved_tokens=reserved_tokens_of(reserved_tokens),
        weighted=weights is not None,
        labeled=labels is not None,
        use_adjusted_mutual_info=_flag(use_adjusted_mutual_info, "use_adjusted_mutual_info"),
        min_diff_from_avg=None if min_diff_from_avg is None else checks.number(min_diff_from_avg, "min_diff_from_avg"),
        coverage_top_k=coverage_top_k,
        coverage_frequency_threshold=_threshold(coverage_frequency_threshold, "coverage_frequency_threshold"),
        key_fn=key_fn,
        fingerprint_shuffle=_flag(fingerprint_shuffle, "fingerprint_shuffle"),
        file_format=file_format,
        approximate=approximate,
    )
    return spec, _vocabulary_inputs(x, weights, labels)


@api_function()
def vocabulary(
    x: TensorType,
    *,
    top_k: int | None = None,
    frequency_threshold: int | None = None,
    vocab_filename: str | None = None,
    store_frequency: bool | None = False,
    reserved_tokens: Iterable[str] | tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
    labels: TensorType | None = None,
    use_adjusted_mutual_info: bool = False,
    min_diff_from_avg: int | None = None,
    coverage_top_k: int | None = None,
    coverage_frequency_threshold: int | None = None,
    key_fn: Callable[[Any], Any] | None = None,
    fingerprint_shuffle: bool | None = False,
    file_format: Literal["text", "tfrecord_gzip"] = "text",
    name: str | None = None,
) -> tf.Tensor:
    """Compute the vocabulary of ``x`` over the whole dataset.

    Tokens are ordered by descending score, ties by descending token bytes, as
    tf.Transform orders them. The score is the token's count, its summed
    ``weights``, or with ``labels`` its mutual information with the label. In
    text files, empty tokens and tokens holding a newline are left out.

    Parameters
    ----------
    x
        tf.string or integer tensor (SparseTensor, RaggedTensor) of any shape;
        every value is a token. Integers count as their decimal strings.
    top_k
        Keep only the ``top_k`` best tokens.
    frequency_threshold
        Keep only tokens whose count (summed weight) is at least this; with
        ``labels``, whose mutual information is at least this.
    vocab_filename
        Asset file name; by default ``vocab_`` (``vocab_frequency_`` with
        ``store_frequency``) and the name scope.
    store_frequency
        Write ``"<score> <token>"`` entries (not usable by :func:`apply_vocabulary`).
    reserved_tokens
        Tokens put first, in this order, whether or not they occur.
    weights
        float weights, one per value of ``x``: tokens are ranked by summed weight.
    labels
        Integer labels, one per row (``-1``: missing): tokens are ranked by
        mutual information with the label. Each row must hold a set of tokens.
    use_adjusted_mutual_info
        With ``labels``, subtract the mutual information expected by chance.
    min_diff_from_avg
        With ``labels``, a (token, label) cell whose count differs from its
        expectation by less than this adds nothing. Default: 2, rising to 25
        from 10,000 to 1,000,000 rows.
    coverage_top_k, coverage_frequency_threshold, key_fn
        Also keep the ``coverage_top_k`` best tokens (at least
        ``coverage_frequency_threshold``) per ``key_fn(token)`` (token bytes).
    fingerprint_shuffle
        Order the kept tokens by their SHA-1 instead of their score.
    file_format
        ``text`` or ``tfrecord_gzip`` (``<name>.tfrecord.gz``, one record per entry).

    Returns
    -------
    tf.Tensor
        A scalar string tensor naming the vocabulary file, for :func:`apply_vocabulary`.

    Examples
    --------
    >>> def fn(inputs):
    ...     vocab = pp.vocabulary(inputs["company"], top_k=2)
    ...     return {"id": pp.apply_vocabulary(inputs["company"], vocab, num_oov_buckets=1)}
    >>> companies = np.array([b"Flash", b"Blue", b"Flash", b"Sun", b"Blue", b"Flash"], object)
    >>> run_in_memory(fn, {"company": companies})["id"]
    array([0, 1, 0, 2, 1, 0])

    Ranked by mutual information with a label (one per row):

    >>> def fn(inputs):
    ...     vocab = pp.vocabulary(inputs["word"], labels=inputs["clicked"], min_diff_from_avg=0)
    ...     return {"id": pp.apply_vocabulary(inputs["word"], vocab)}
    >>> words = np.array([b"buy", b"buy", b"the", b"the", b"free", b"the"], object)
    >>> run_in_memory(fn, {"word": words, "clicked": np.array([1, 1, 0, 1, 0, 0])})["id"]
    array([0, 0, 2, 2, 1, 2])
    """
    with tf.compat.v1.name_scope(name, "vocabulary"):
        spec, inputs = vocabulary_spec(
            x,
            top_k=top_k,
            frequency_threshold=frequency_threshold,
            vocab_filename=vocab_filename,
            store_frequency=store_frequency,
            reserved_tokens=reserved_tokens,
            weights=weights,
            labels=labels,
            use_adjusted_mutual_info=use_adjusted_mutual_info,
            min_diff_from_avg=min_diff_from_avg,
            coverage_top_k=coverage_top_k,
            coverage_frequency_threshold=coverage_frequency_threshold,
            key_fn=key_fn,
            fingerprint_shuffle=fingerprint_shuffle,
            file_format=file_format,
        )
        filename, size = apply_analyzer(spec, inputs)
        register_vocabulary_size(last_spec().size_key, size)
        return filename


@api_function()
def apply_vocabulary(
    x: TensorType,
    deferred_vocab_filename_tensor: tf.Tensor,
    *,
    default_value: Any = -1,
    num_oov_buckets: int = 0,
    lookup_fn: Callable | None = None,
    file_format: Literal["text", "tfrecord_gzip"] = "text",
    name: str | None = None,
) -> TensorType:
    """Map each token of ``x`` to its id in a vocabulary.

    Tokens missing from the vocabulary get ``default_value`` or, with
    ``num_oov_buckets > 0``, ``vocab_size + hash(token) % num_oov_buckets``
    (TensorFlow's ``StaticVocabularyTable`` hash, as tf.Transform).

    ``lookup_fn(x, vocabulary_path)``, if given, does the lookup instead and
    returns ``(result, table_size)``; it receives ``x`` whole (a SparseTensor
    stays one) and a path it can read.

    Examples
    --------
    >>> def fn(inputs):
    ...     return {"id": pp.apply_vocabulary(inputs["c"], pp.vocabulary(inputs["c"]), default_value=-1)}
    >>> run_in_memory(fn, {"c": np.array([b"b", b"a", b"b"], object)})["id"]
    array([0, 1, 0])
    """
    return apply_vocabulary_internal(
        x, deferred_vocab_filename_tensor, default_value, num_oov_buckets, lookup_fn, file_format, False, name
    )


def apply_vocabulary_internal(
    x, filename, default_value, num_oov_buckets, lookup_fn, file_format, store_frequency, name
) -> TensorType:
    structure = _inputs.tokens(x)
    checks.choice(file_format, "file_format", FILE_FORMATS)
    num_oov_buckets = checks.integer(num_oov_buckets, "num_oov_buckets", minimum=0)
    checks.integer(default_value, "default_value")
    if filename is None or (isinstance(filename, (str, bytes)) and not filename):
        raise ArgumentError("deferred_vocab_filename_tensor", "must be a vocabulary (its file name); got nothing")
    if lookup_fn is not None and not callable(lookup_fn):
        raise ArgumentError("lookup_fn", f"must be a function (x, vocabulary_path) -> (ids, size); got {lookup_fn!r}")
    with tf.compat.v1.name_scope(name, "apply_vocab"):
        if lookup_fn is not None:
            result, size = lookup_with(lookup_fn, structure, filename, file_format)
            values = _inputs.values(result)
        else:
            values, size = lookup(
                _inputs.values(structure),
                filename,
                default_value=default_value,
                num_oov_buckets=num_oov_buckets,
                file_format=file_format,
                store_frequency=store_frequency,
            )
            result = _inputs.with_values(structure, values)
        _annotate_ids(values, size, default_value, num_oov_buckets)
        return result


def _annotate_ids(ids: tf.Tensor, table_size, default_value: int, num_oov_buckets: int) -> None:
    """tf.Transform's domain of vocabulary ids: the table's, widened to the default value without OOV buckets."""
    if not isinstance(ids, tf.Tensor):
        return
    low, high = 0, table_size - 1
    if num_oov_buckets <= 0:
        if isinstance(high, tf.Tensor):
            low, high = (
                tf.minimum(tf.cast(low, tf.int64), default_value),
                tf.maximum(tf.cast(high, tf.int64), default_value),
            )
        else:
            low, high = min(low, int(default_value)), max(high, int(default_value))
    annotate_int_domain(ids, low, high)


def _spaces_escaped(x):
    """tf.Transform's workaround for frequency entries in text files: a space in a token becomes ``__SPACE__``."""
    values = _inputs.values(x)
    if values.dtype != tf.string:
        return x
    return _inputs.with_values(x, tf.strings.regex_replace(values, " ", "__SPACE__"))


@api_function()
def compute_and_apply_vocabulary(
    x: TensorType,
    *,
    default_value: Any = -1,
    top_k: int | None = None,
    frequency_threshold: int | None = None,
    num_oov_buckets: int = 0,
    vocab_filename: str | None = None,
    weights: tf.Tensor | None = None,
    labels: tf.Tensor | None = None,
    use_adjusted_mutual_info: bool = False,
    min_diff_from_avg: float = 0.0,
    coverage_top_k: int | None = None,
    coverage_frequency_threshold: int | None = None,
    key_fn: Callable[[Any], Any] | None = None,
    fingerprint_shuffle: bool = False,
    file_format: Literal["text", "tfrecord_gzip"] = "text",
    store_frequency: bool | None = False,
    reserved_tokens: Iterable[str] | tf.Tensor | None = None,
    name: str | None = None,
) -> TensorType:
    """Compute a vocabulary of ``x`` and map ``x`` to token ids (int64).

    Takes :func:`vocabulary`'s options (note ``min_diff_from_avg`` defaults to
    0 here, as in tf.Transform) and :func:`apply_vocabulary`'s. With
    ``store_frequency`` and a text file, spaces in tokens are written as
    ``__SPACE__`` (tf.Transform's workaround) and looked up the same way.

    Examples
    --------
    >>> fn = lambda inputs: {"id": pp.compute_and_apply_vocabulary(inputs["c"], top_k=1, num_oov_buckets=1)}
    >>> run_in_memory(fn, {"c": np.array([b"b", b"a", b"b"], object)})["id"]
    array([0, 1, 0])
    """
    with tf.compat.v1.name_scope(name, "compute_and_apply_vocabulary"):
        store = _flag(store_frequency, "store_frequency")
        if store and file_format == "text":
            x = _spaces_escaped(_inputs.tokens(x))
        deferred = vocabulary(
            x,
            top_k=top_k,
            frequency_threshold=frequency_threshold,
            vocab_filename=vocab_filename,
            store_frequency=store_frequency,
            weights=weights,
            labels=labels,
            use_adjusted_mutual_info=use_adjusted_mutual_info,
            min_diff_from_avg=min_diff_from_avg,
            coverage_top_k=coverage_top_k,
            coverage_frequency_threshold=coverage_frequency_threshold,
            key_fn=key_fn,
            fingerprint_shuffle=fingerprint_shuffle,
            file_format=file_format,
            reserved_tokens=reserved_tokens,
        )
        return apply_vocabulary_internal(x, deferred, default_value, num_oov_buckets, None, file_format, store, None)
