"""Vocabularies: compute one over the dataset, map tokens to their ids."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from analyzers import VocabularySpec
from featurebeam_base import checks
from featurebeam_base.errors import PreprocessingError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import annotate_int_domain, apply_analyzer, lookup_vocabulary, vocabulary_size

_NOT_YET = "not implemented yet"
_UNSUPPORTED_OPTIONS = {
    "store_frequency": _NOT_YET,
    "reserved_tokens": _NOT_YET,
    "weights": "weighted vocabularies are not implemented yet",
    "labels": "supervised (mutual information) vocabularies are not implemented yet",
    "use_adjusted_mutual_info": "it applies to `labels`, which are not implemented yet",
    "min_diff_from_avg": "it applies to `labels`, which are not implemented yet",
    "coverage_top_k": _NOT_YET,
    "coverage_frequency_threshold": _NOT_YET,
    "key_fn": _NOT_YET,
    "fingerprint_shuffle": _NOT_YET,
}
FILE_FORMATS = ("text", "tfrecord_gzip")


def _check_file_format(file_format) -> None:
    if checks.choice(file_format, "file_format", FILE_FORMATS) != "text":
        raise PreprocessingError(f"`file_format` {file_format!r} is not supported yet; use 'text'")


@api_function(unsupported=_UNSUPPORTED_OPTIONS)
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

    Tokens are ordered by descending count, ties by descending token bytes,
    as tf.Transform orders them. Empty tokens and tokens holding a newline are
    left out, as tf.Transform's text vocabulary files cannot hold them.

    Parameters
    ----------
    x
        tf.string or integer tensor of any shape; every element is a token.
    top_k
        Keep only the ``top_k`` most frequent tokens.
    frequency_threshold
        Keep only tokens seen at least this many times.
    vocab_filename
        Asset file name; by default derived from the name scope.

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
    """
    _check_file_format(file_format)
    flat = _inputs.values(_inputs.tokens(x))  # a list feature's values, each a token
    with tf.compat.v1.name_scope(name, "vocabulary"):
        dtype = "string" if flat.dtype == tf.string else "int"
        tokens = flat if flat.dtype == tf.string else tf.strings.as_string(flat)  # integers count as their digits
        spec = VocabularySpec(top_k, frequency_threshold, vocab_filename, dtype)
        return apply_analyzer(spec, [tokens])[0]


@api_function(unsupported={"lookup_fn": _NOT_YET})
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

    Examples
    --------
    >>> def fn(inputs):
    ...     return {"id": pp.apply_vocabulary(inputs["c"], pp.vocabulary(inputs["c"]), default_value=-1)}
    >>> run_in_memory(fn, {"c": np.array([b"b", b"a", b"b"], object)})["id"]
    array([0, 1, 0])
    """
    _check_file_format(file_format)
    structure = _inputs.tokens(x)
    x = _inputs.values(structure)
    num_oov_buckets = checks.integer(num_oov_buckets, "num_oov_buckets", minimum=0)
    checks.integer(default_value, "default_value")
    with tf.compat.v1.name_scope(name, "apply_vocab"):
        kind, vocab = lookup_vocabulary(deferred_vocab_filename_tensor)
        if kind == "unknown":
            # Not executed: stands for the lookup while planning, and depends on
            # the vocabulary so the planner sees the dependency.
            dependency = tf.cast(tf.strings.length(deferred_vocab_filename_tensor), tf.int64)
            return _inputs.with_values(structure, tf.zeros_like(x, tf.int64) + dependency * 0)
        key_dtype = x.dtype if x.dtype == tf.string else tf.int64
        if kind == "tokens":
            initializer = _in_memory_initializer(vocab, key_dtype)
        else:
            initializer = tf.lookup.TextFileInitializer(
                vocab,
                key_dtype=key_dtype,
                key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64,
                value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            )
        keys = x if x.dtype == key_dtype else tf.cast(x, key_dtype)
        if num_oov_buckets > 0:
            table = tf.lookup.StaticVocabularyTable(initializer, num_oov_buckets, lookup_key_dtype=key_dtype)
        else:
            table = tf.lookup.StaticHashTable(initializer, default_value=tf.cast(default_value, tf.int64))
        ids = table.lookup(keys)
        size = vocabulary_size(deferred_vocab_filename_tensor)
        if size is not None:
            if num_oov_buckets > 0:
                annotate_int_domain(ids, 0, size - 1 + num_oov_buckets)
            else:  # tf.Transform's range: the ids and the default value
                annotate_int_domain(ids, min(0, int(default_value)), max(size - 1, int(default_value)))
        return _inputs.with_values(structure, ids)


def _in_memory_initializer(tokens: np.ndarray, key_dtype: tf.DType):
    if key_dtype == tf.string:
        keys = tf.constant(np.asarray(tokens, dtype=object).reshape(-1), tf.string)
    else:
        keys = tf.constant(np.array([int(t) for t in tokens], np.int64), tf.int64)
    ids = tf.range(tf.size(keys, out_type=tf.int64), dtype=tf.int64)
    return tf.lookup.KeyValueTensorInitializer(keys, ids, key_dtype=key_dtype, value_dtype=tf.int64)


@api_function(unsupported=_UNSUPPORTED_OPTIONS)
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

    Examples
    --------
    >>> fn = lambda inputs: {"id": pp.compute_and_apply_vocabulary(inputs["c"], top_k=1, num_oov_buckets=1)}
    >>> run_in_memory(fn, {"c": np.array([b"b", b"a", b"b"], object)})["id"]
    array([0, 1, 0])
    """
    with tf.compat.v1.name_scope(name, "compute_and_apply_vocabulary"):
        deferred = vocabulary(
            x,
            top_k=top_k,
            frequency_threshold=frequency_threshold,
            vocab_filename=vocab_filename,
            file_format=file_format,
        )
        return apply_vocabulary(
            x, deferred, default_value=default_value, num_oov_buckets=num_oov_buckets, file_format=file_format
        )
