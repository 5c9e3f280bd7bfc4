"""Vocabulary lookup tables: a token's id from a vocabulary in memory, in an asset or in a user's file.

The table is built as tf.Transform builds it, so ids, OOV buckets and default
values match: the line (or record) number of the token, the key being the whole
entry, or the token after the first space for entries stored with their
frequency (``"<frequency> <token>"``). A vocabulary still being computed (its
analyzer runs in this pass) has no table yet: its lookup stands for one while
phases are planned.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from featurebeam_base.errors import ArgumentError
from preprocessing._tracing import lookup_vocabulary, vocabulary_format, vocabulary_path, vocabulary_size


def _key(entry: bytes, store_frequency: bool) -> bytes:
    return entry.split(b" ", 1)[1] if store_frequency and b" " in entry else entry


def _in_memory_initializer(entries: np.ndarray, key_dtype: tf.DType, store_frequency: bool):
    keys = [_key(e if isinstance(e, bytes) else str(e).encode(), store_frequency) for e in entries.reshape(-1)]
    if key_dtype == tf.string:
        key_tensor = tf.constant(np.array(keys, dtype=object), tf.string)
    else:
        try:
            key_tensor = tf.constant(np.array([int(k) for k in keys], np.int64), tf.int64)
        except ValueError:
            raise ArgumentError(
                "x", "is an integer tensor but the vocabulary holds tokens that are not integers"
            ) from None
    ids = tf.range(tf.size(key_tensor, out_type=tf.int64), dtype=tf.int64)
    return tf.lookup.KeyValueTensorInitializer(key_tensor, ids, key_dtype=key_dtype, value_dtype=tf.int64)


def _split_entry(entries: tf.Tensor):
    parts = tf.strings.split(entries, sep=" ", maxsplit=1)
    return parts.to_tensor()[:, 1] if isinstance(parts, tf.RaggedTensor) else parts[1]


def _file_initializer(path: tf.Tensor, key_dtype: tf.DType, file_format: str, store_frequency: bool):
    if file_format == "text":
        return tf.lookup.TextFileInitializer(
            path,
            key_dtype=key_dtype,
            key_index=1 if store_frequency else tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64,
            value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            **({"delimiter": " "} if store_frequency else {}),
        )
    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP")
    if store_frequency:
        dataset = dataset.batch(1024).map(_split_entry).unbatch()
    if key_dtype != tf.string:
        dataset = dataset.map(lambda key: tf.strings.to_number(key, key_dtype))
    dataset = dataset.enumerate().map(lambda index, key: (key, tf.cast(index, tf.int64)))
    return tf.data.experimental.DatasetInitializer(dataset)


def lookup(
    x: tf.Tensor,
    filename,
    *,
    default_value: int,
    num_oov_buckets: int,
    file_format: str,
    store_frequency: bool = False,
) -> tuple[tf.Tensor, object]:
    """``(ids, table size)`` of the values ``x``; the size is an int when known, else an int64 tensor."""
    kind, vocab = lookup_vocabulary(filename)
    if kind == "unknown":
        # Not executed: stands for the lookup (and its size) while planning, and
        # depends on the vocabulary so the planner sees the dependency.
        dependency = tf.cast(tf.strings.length(filename), tf.int64) * 0
        return tf.zeros_like(x, tf.int64) + dependency, dependency
    key_dtype = x.dtype if x.dtype == tf.string else tf.int64
    known_format = vocabulary_format(filename)
    if known_format is not None and known_format != file_format:
        raise ArgumentError(
            "file_format", f"must be the vocabulary's own format, {known_format!r}; got {file_format!r}"
        )
    if kind == "tokens":
        initializer = _in_memory_initializer(vocab, key_dtype, store_frequency)
    else:
        initializer = _file_initializer(vocab, key_dtype, file_format, store_frequency)
    keys = x if x.dtype == key_dtype else tf.cast(x, key_dtype)
    if num_oov_buckets > 0:
        table = tf.lookup.StaticVocabularyTable(initializer, num_oov_buckets, lookup_key_dtype=key_dtype)
    else:
        table = tf.lookup.StaticHashTable(initializer, default_value=tf.cast(default_value, tf.int64))
    size = vocabulary_size(filename)
    if size is None:
        size = table.size()
    elif num_oov_buckets > 0:
        size += num_oov_buckets
    return table.lookup(keys), size


def lookup_with(lookup_fn: Callable, x, filename, file_format: str) -> tuple[object, object]:
    """A user's ``lookup_fn(x, asset_path) -> (result, table_size)``, given a readable path.

    A vocabulary known in memory is written to a temporary file first. While
    the vocabulary is still unknown, the function is called on a placeholder
    path and the tables it creates are left out of the tables to initialize
    (their result is not computed before the vocabulary is).
    """
    kind, vocab = lookup_vocabulary(filename)
    if kind == "tokens":
        path = vocabulary_path(filename, list(vocab), vocabulary_format(filename) or file_format)
    elif kind == "unknown":
        path = filename
    else:
        path = vocab
    initializers = tf.compat.v1.get_collection_ref(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
    before = list(initializers)
    result, table_size = lookup_fn(x, path)
    if kind == "unknown":
        initializers[:] = before
    return result, table_size
