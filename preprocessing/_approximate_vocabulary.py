"""``experimental.approximate_vocabulary``: a vocabulary of the ``top_k`` most frequent tokens.

tf.Transform computes it with a Misra-Gries sketch of ``top_k`` counters, whose
counts are upper bounds and exact only when no counter was ever evicted (at
most ``top_k`` distinct tokens). featurebeam counts exactly, in shards, like
``vocabulary``: its result is the exact ``top_k``, which equals tf.Transform's
whenever tf.Transform's is exact, with counts printed as floats (``3.0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import tensorflow as tf

from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import apply_analyzer
from preprocessing._vocabulary import _flag, _spaces_escaped, apply_vocabulary_internal, vocabulary_spec

LARGE_VOCAB_TOP_K = 200_000  # tf.Transform's largest top_k for an approximate vocabulary


@api_function()
def approximate_vocabulary(
    x: TensorType,
    top_k: int,
    *,
    vocab_filename: str | None = None,
    store_frequency: bool = False,
    reserved_tokens: Sequence[str] | tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
    file_format: Literal["text", "tfrecord_gzip"] = "text",
    name: str | None = None,
) -> tf.Tensor:
    """The ``top_k`` most frequent tokens of ``x`` (at most 200,000), as a vocabulary file.

    Takes :func:`preprocessing.vocabulary`'s arguments of the same names. The
    counts are exact (tf.Transform's are estimates unless ``x`` has at most
    ``top_k`` distinct tokens) and are stored as floats with
    ``store_frequency``. By default the file is named ``approx_vocab_frequency_``
    plus the name scope, or ``approx_vocab_`` with ``store_frequency`` (the
    prefixes are the other way round from what they say, as in tf.Transform).

    Examples
    --------
    >>> def fn(inputs):
    ...     vocab = pp.experimental.approximate_vocabulary(inputs["c"], top_k=2)
    ...     return {"id": pp.apply_vocabulary(inputs["c"], vocab)}
    >>> run_in_memory(fn, {"c": np.array([b"b", b"a", b"b", b"c", b"a", b"b"], object)})["id"]
    array([ 0,  1,  0, -1,  1,  0])
    """
    top_k = checks.integer(top_k, "top_k", minimum=1)
    if top_k > LARGE_VOCAB_TOP_K:
        raise ArgumentError(
            "top_k",
            f"must be at most {LARGE_VOCAB_TOP_K:,} for an approximate vocabulary (use pp.vocabulary); got {top_k}",
        )
    with tf.compat.v1.name_scope(name, "approximate_vocabulary"):
        spec, inputs = vocabulary_spec(
            x,
            top_k=top_k,
            frequency_threshold=None,
            vocab_filename=vocab_filename,
            store_frequency=store_frequency,
            reserved_tokens=reserved_tokens,
            weights=weights,
            labels=None,
            file_format=file_format,
            approximate=True,
        )
        return apply_analyzer(spec, inputs)[0]


@api_function()
def compute_and_apply_approximate_vocabulary(
    x: TensorType,
    *,
    default_value: Any = -1,
    top_k: int | None = None,
    num_oov_buckets: int = 0,
    vocab_filename: str | None = None,
    weights: tf.Tensor | None = None,
    file_format: Literal["text", "tfrecord_gzip"] = "text",
    store_frequency: bool | None = False,
    reserved_tokens: Sequence[str] | tf.Tensor | None = None,
    name: str | None = None,
) -> TensorType:
    """Compute an approximate vocabulary of ``x`` and map ``x`` to token ids (int64).

    ``top_k`` is required, although its default is None as in tf.Transform
    (where None fails too). Otherwise as :func:`preprocessing.compute_and_apply_vocabulary`.

    Examples
    --------
    >>> fn = lambda inputs: {"id": pp.experimental.compute_and_apply_approximate_vocabulary(inputs["c"], top_k=1)}
    >>> run_in_memory(fn, {"c": np.array([b"b", b"a", b"b"], object)})["id"]
    array([ 0, -1,  0])
    """
    checks.integer(top_k, "top_k", minimum=1)
    with tf.compat.v1.name_scope(name, "compute_and_apply_approximate_vocabulary"):
        store = _flag(store_frequency, "store_frequency")
        if store and file_format == "text":
            x = _spaces_escaped(_inputs.tokens(x))
        deferred = approximate_vocabulary(
            x,
            top_k,
            vocab_filename=vocab_filename,
            store_frequency=store_frequency,
            reserved_tokens=reserved_tokens,
            weights=weights,
            file_format=file_format,
            name=name,
        )
        return apply_vocabulary_internal(x, deferred, default_value, num_oov_buckets, None, file_format, store, None)
