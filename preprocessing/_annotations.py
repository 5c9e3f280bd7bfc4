"""What featurebeam records about outputs while tracing, read back inside a preprocessing_fn."""

from __future__ import annotations

import tensorflow as tf

from featurebeam_base.errors import ArgumentError
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import int_domain_of, vocabulary_size_by_name


@api_function()
def get_num_buckets_for_transformed_feature(transformed_feature: TensorType) -> tf.Tensor:
    """The number of buckets (ids) of a bucketized or vocabulary-mapped feature, as an int64 scalar.

    ``transformed_feature`` must be the direct output of :func:`bucketize`,
    :func:`apply_buckets`, :func:`bucketize_per_key`,
    :func:`compute_and_apply_vocabulary` or :func:`apply_vocabulary`. The
    result is tf.Transform's: the largest id it can hold, plus one (a
    ``default_value`` beyond the vocabulary counts, OOV buckets count).

    Examples
    --------
    >>> def fn(inputs):
    ...     ids = pp.compute_and_apply_vocabulary(inputs["c"], num_oov_buckets=2)
    ...     return {"ids": ids, "size": tf.zeros_like(ids) + pp.get_num_buckets_for_transformed_feature(ids)}
    >>> run_in_memory(fn, {"c": np.array([b"a", b"b", b"a"], object)})["size"]
    array([4, 4, 4])
    """
    try:
        bounds = int_domain_of(transformed_feature)
    except KeyError:
        raise ArgumentError(
            "transformed_feature",
            "must be the direct output of bucketize, apply_buckets, bucketize_per_key, compute_and_apply_vocabulary "
            "or apply_vocabulary (the only outputs whose number of buckets is recorded)",
        ) from None
    high = bounds[1]
    if isinstance(high, tf.Tensor):
        return tf.cast(high + 1, tf.int64)
    return tf.constant(high + 1, tf.int64)


@api_function()
def get_vocabulary_size_by_name(vocab_filename: str) -> tf.Tensor:
    """The size of a vocabulary computed earlier in this preprocessing_fn, as an int64 scalar.

    ``vocab_filename`` is the name given to :func:`vocabulary` (or
    :func:`compute_and_apply_vocabulary`). The size is tf.Transform's: the
    vocabulary's entries (at least 1) plus its ``reserved_tokens``, which counts
    a reserved token twice when the data has it too. Approximate vocabularies
    have no size, as in tf.Transform.

    Examples
    --------
    >>> def fn(inputs):
    ...     ids = pp.compute_and_apply_vocabulary(inputs["c"], vocab_filename="letters")
    ...     size = pp.experimental.get_vocabulary_size_by_name("letters")
    ...     return {"one_hot": tf.one_hot(ids, tf.cast(size, tf.int32))}
    >>> run_in_memory(fn, {"c": np.array([b"a", b"b", b"a"], object)})["one_hot"]
    array([[1., 0.],
           [0., 1.],
           [1., 0.]], dtype=float32)
    """
    size = vocabulary_size_by_name(vocab_filename) if isinstance(vocab_filename, str) else None
    if size is None:
        raise ArgumentError(
            "vocab_filename",
            f"must name a vocabulary computed earlier in this preprocessing_fn (its `vocab_filename`); "
            f"got {vocab_filename!r}",
        )
    return size
