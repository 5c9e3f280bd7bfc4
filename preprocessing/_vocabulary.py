"""Vocabularies: compute one over the dataset, map tokens to their ids."""

from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from analyzers import VocabularySpec
from preprocessing._tracing import (
    PreprocessingError,
    annotate_int_domain,
    lookup_vocabulary,
    register_vocabulary,
    vocabulary_size,
)

_UNSUPPORTED_OPTIONS = (
    "weights",
    "labels",
    "use_adjusted_mutual_info",
    "coverage_top_k",
    "coverage_frequency_threshold",
    "key_fn",
    "reserved_tokens",
)


def _sanitized_filename(name: str, prefix: str = "") -> str:
    """A file-name-safe vocabulary name, as tf.Transform sanitizes them."""
    return prefix + re.sub(r"[\s-]+", "-", re.sub(r"[^\w\s-]", "_", name))


def _tokens(x: tf.Tensor, analyzer: str) -> tf.Tensor:
    if not isinstance(x, tf.Tensor):
        raise PreprocessingError(f"pp.{analyzer} takes a dense tf.Tensor; got {type(x).__name__}")
    if x.dtype == tf.string:
        return x
    if x.dtype.is_integer:
        return tf.strings.as_string(x)
    raise PreprocessingError(f"pp.{analyzer} takes a tf.string or integer tensor; got {x.dtype.name}")


def _check_options(options: dict, analyzer: str) -> None:
    for option in _UNSUPPORTED_OPTIONS:
        if options.get(option) not in (None, False, 0, 0.0):
            raise PreprocessingError(f"pp.{analyzer}: option {option!r} is not supported yet")


def vocabulary(
    x,
    *,
    top_k=None,
    frequency_threshold=None,
    vocab_filename=None,
    store_frequency=False,
    file_format="text",
    name=None,
    **unsupported,
):
    """Compute the vocabulary of ``x`` over the whole dataset.

    Tokens are ordered by descending count, ties by descending token bytes,
    as tf.Transform orders them.

    Parameters
    ----------
    x : tf.Tensor
        tf.string or integer tensor of any shape; every element is a token.
    top_k : int, optional
        Keep only the ``top_k`` most frequent tokens.
    frequency_threshold : int, optional
        Keep only tokens seen at least this many times.
    vocab_filename : str, optional
        Asset file name; by default derived from the name scope.

    Returns
    -------
    tf.Tensor
        A scalar string tensor naming the vocabulary file, for :func:`apply_vocabulary`.

    Examples
    --------
    >>> vocab = pp.vocabulary(inputs["company"], top_k=100)  # doctest: +SKIP
    >>> ids = pp.apply_vocabulary(inputs["company"], vocab, num_oov_buckets=1)  # doctest: +SKIP
    """
    _check_options(unsupported, "vocabulary")
    if store_frequency:
        raise PreprocessingError("pp.vocabulary: store_frequency=True is not supported yet")
    if file_format != "text":
        raise PreprocessingError(f"pp.vocabulary: file_format must be 'text'; got {file_format!r}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 0):
        raise PreprocessingError(f"pp.vocabulary: top_k must be a non-negative int; got {top_k!r}")
    if frequency_threshold is not None and frequency_threshold < 0:
        raise PreprocessingError(f"pp.vocabulary: frequency_threshold must be >= 0; got {frequency_threshold!r}")
    tokens = _tokens(x, "vocabulary")
    with tf.compat.v1.name_scope(name, "vocabulary"):
        return register_vocabulary(
            lambda key: VocabularySpec(
                key,
                top_k,
                frequency_threshold,
                _sanitized_filename(vocab_filename) if vocab_filename else _sanitized_filename(key, "vocab_"),
                "string" if x.dtype == tf.string else "int",
            ),
            tokens,
        )


def apply_vocabulary(
    x,
    deferred_vocab_filename_tensor,
    *,
    default_value=-1,
    num_oov_buckets=0,
    lookup_fn=None,
    file_format="text",
    name=None,
):
    """Map each token of ``x`` to its id in a vocabulary.

    Tokens missing from the vocabulary get ``default_value`` or, with
    ``num_oov_buckets > 0``, ``vocab_size + hash(token) % num_oov_buckets``
    (TensorFlow's ``StaticVocabularyTable`` hash, as tf.Transform).

    Examples
    --------
    >>> ids = pp.apply_vocabulary(inputs["company"], pp.vocabulary(inputs["company"]))  # doctest: +SKIP
    """
    if lookup_fn is not None:
        raise PreprocessingError("pp.apply_vocabulary: lookup_fn is not supported yet")
    if file_format != "text":
        raise PreprocessingError(f"pp.apply_vocabulary: file_format must be 'text'; got {file_format!r}")
    if not isinstance(x, tf.Tensor) or not (x.dtype == tf.string or x.dtype.is_integer):
        raise PreprocessingError("pp.apply_vocabulary takes a dense tf.string or integer tensor")
    with tf.compat.v1.name_scope(name, "apply_vocab"):
        kind, vocab = lookup_vocabulary(deferred_vocab_filename_tensor)
        if kind == "unknown":
            # Not executed: stands for the lookup while planning, and depends on
            # the vocabulary so the planner sees the dependency.
            dependency = tf.cast(tf.strings.length(deferred_vocab_filename_tensor), tf.int64)
            return tf.zeros_like(x, tf.int64) + dependency * 0
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
            lowest = 0 if num_oov_buckets > 0 else min(0, int(default_value))
            annotate_int_domain(ids, lowest, size - 1 + num_oov_buckets)
        return ids


def _in_memory_initializer(tokens: np.ndarray, key_dtype: tf.DType):
    if key_dtype == tf.string:
        keys = tf.constant(np.asarray(tokens, dtype=object).reshape(-1), tf.string)
    else:
        keys = tf.constant(np.array([int(t) for t in tokens], np.int64), tf.int64)
    ids = tf.range(tf.size(keys, out_type=tf.int64), dtype=tf.int64)
    return tf.lookup.KeyValueTensorInitializer(keys, ids, key_dtype=key_dtype, value_dtype=tf.int64)


def compute_and_apply_vocabulary(
    x,
    *,
    default_value=-1,
    top_k=None,
    frequency_threshold=None,
    num_oov_buckets=0,
    vocab_filename=None,
    file_format="text",
    name=None,
    **unsupported,
):
    """Compute a vocabulary of ``x`` and map ``x`` to token ids (int64).

    Examples
    --------
    >>> ids = pp.compute_and_apply_vocabulary(inputs["company"], top_k=100, num_oov_buckets=1)  # doctest: +SKIP
    """
    with tf.compat.v1.name_scope(name, "compute_and_apply_vocabulary"):
        deferred = vocabulary(
            x,
            top_k=top_k,
            frequency_threshold=frequency_threshold,
            vocab_filename=vocab_filename,
            file_format=file_format,
            **unsupported,
        )
        return apply_vocabulary(
            x, deferred, default_value=default_value, num_oov_buckets=num_oov_buckets, file_format=file_format
        )
