"""``estimated_probability_density``: each value's density from a histogram of the whole dataset."""

from __future__ import annotations

import tensorflow as tf

from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _analyzers, _inputs
from preprocessing._api import api_function


def _category_index(x: tf.Tensor, elements: tf.Tensor) -> tf.Tensor:
    """Index of each value of ``x`` among the distinct ``elements``; -1 for a value not among them.

    ``tf.unique`` numbers keys by first appearance, so with the (distinct)
    elements first, an id below their count is an element's index.
    """
    if x.dtype != tf.string:
        x, elements = tf.cast(x, tf.int64), tf.cast(elements, tf.int64)
    count = tf.size(elements, out_type=tf.int64)
    _, ids = tf.unique(tf.concat([elements, x], 0), out_idx=tf.int64)
    ids = ids[count:]
    return tf.where(ids < count, ids, -tf.ones_like(ids))


@api_function()
def estimated_probability_density(
    x: tf.Tensor, boundaries: tf.Tensor | int | None = None, categorical: bool = False, name: str | None = None
) -> tf.Tensor:
    """The probability density at each value of ``x``, from a histogram of the whole dataset.

    The share of the data in a value's bin, divided by the bins' average width
    (``(last boundary - first boundary) / number of bins``), as tf.Transform
    computes it; with ``categorical``, the share of the data equal to the value
    (0 for a value the data did not hold).

    Parameters
    ----------
    x
        Dense tensor with one value per row (shape ``[batch]`` or ``[batch, 1]``).
    boundaries, categorical
        As for :func:`histogram`. Values beyond the boundaries, and NaN, count in
        the first or last bin as there.

    Returns
    -------
    tf.Tensor
        float32, shaped like ``x``. NaN everywhere when the dataset is empty (no bins hold anything).

    Examples
    --------
    >>> fn = lambda inputs: {"density": pp.estimated_probability_density(inputs["x"], boundaries=[0.0, 1.0, 2.0])}
    >>> run_in_memory(fn, {"x": np.array([0.5, 1.5, 1.7, 1.2], np.float32)})["density"]
    array([0.25, 0.75, 0.75, 0.75], dtype=float32)

    >>> fn = lambda inputs: {"p": pp.estimated_probability_density(inputs["c"], categorical=True)}
    >>> run_in_memory(fn, {"c": np.array([b"a", b"b", b"a", b"a"], object)})["p"]
    array([0.75, 0.25, 0.75, 0.75], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "estimated_probability_density"):
        if _inputs.is_composite(x):
            raise ArgumentError(
                "x", f"must be a dense tf.Tensor (tf.Transform does not take a {type(x).__name__} here either)"
            )
        x = _inputs.dense(x)
        if x.shape.rank is not None and x.shape.rank > 1 and (x.shape[-1] is None or x.shape[-1] > 1):
            raise ArgumentError(
                "x", f"must hold one value per row (shape [batch] or [batch, 1]); got shape {x.shape.as_list()}"
            )
        categorical = checks.boolean(categorical, "categorical")
        counts, bins = _analyzers.histogram(x, boundaries=boundaries, categorical=categorical)
        counts = tf.cast(counts, tf.float32)
        probabilities = counts / tf.reduce_sum(counts)
        flat = tf.reshape(x, [-1])
        if categorical:
            index = _category_index(flat, bins)
            densities = probabilities
        else:
            width = (bins[0, -1] - bins[0, 0]) / tf.cast(tf.size(probabilities), tf.float32)
            densities = probabilities / width
            index = _analyzers.bucket_ids(flat, bins)
        found = index >= 0
        density = tf.where(found, tf.gather(densities, tf.maximum(index, 0)), tf.zeros_like(index, tf.float32))
        return tf.reshape(density, tf.shape(x))
