"""``covariance`` and ``pca``: analyzers over the row vectors of a ``[batch, d]`` tensor."""

from __future__ import annotations

import tensorflow as tf

from analyzers import CovarianceSpec, PCASpec
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import api_function
from preprocessing._tracing import apply_analyzer


def _rows(x) -> tuple[tf.Tensor, int]:
    """``x`` as ``[batch, d]`` row vectors, with ``d`` known when the fn is traced."""
    if _inputs.is_composite(x):
        raise ArgumentError("x", f"must be a dense tf.Tensor of shape [batch, d]; got a {type(x).__name__}")
    x = _inputs.numeric(x)
    if x.shape.rank != 2 or x.shape[1] is None:
        raise ArgumentError("x", f"must have shape [batch, d] with d known; got shape {x.shape.as_list()}")
    return x, int(x.shape[1])


def _dtype_name(dtype) -> str:
    dtype = _inputs.output_dtype(dtype, "dtype")
    if dtype is None:
        raise ArgumentError("dtype", "is required: the dtype of the result (tf.float32 or tf.float64)")
    return dtype.name


@api_function()
def covariance(x: tf.Tensor, dtype: tf.DType, name: str | None = None) -> tf.Tensor:
    """The covariance matrix of the rows of ``x`` over the whole dataset, divided by N (``ddof=0``).

    Parameters
    ----------
    x
        Numeric tensor of shape ``[batch, d]``.
    dtype
        Floating dtype of the result.

    Returns
    -------
    tf.Tensor
        Shape ``[d, d]``. Zeros for an empty dataset; NaN where the data has NaN.

    Examples
    --------
    >>> def fn(inputs):
    ...     cov = pp.covariance(inputs["v"], tf.float32)
    ...     return {"cov": tf.zeros_like(inputs["v"])[:, :1, None] + cov}
    >>> run_in_memory(fn, {"v": np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]], np.float32)})["cov"][0]
    array([[ 2.6666667,  5.3333335],
           [ 5.3333335, 10.666667 ]], dtype=float32)
    """
    x, dimension = _rows(x)
    spec = CovarianceSpec(dimension, _dtype_name(dtype))
    with tf.compat.v1.name_scope(name, "covariance"):
        return apply_analyzer(spec, [x])[0]


@api_function()
def pca(x: tf.Tensor, output_dim: int, dtype: tf.DType, name: str | None = None) -> tf.Tensor:
    """Principal components of the rows of ``x``: the eigenvectors of its (biased) covariance.

    ``tf.matmul(x, pca(x, k, tf.float32))`` projects the rows onto the ``k``
    axes of largest variance. Scale the columns first when they are in
    different units.

    Parameters
    ----------
    x
        Numeric tensor of shape ``[batch, d]``.
    output_dim
        Number of components (``1 .. d``), or None for all ``d``.
    dtype
        Floating dtype of the result.

    Returns
    -------
    tf.Tensor
        Shape ``[d, output_dim]``: column ``j`` is the unit eigenvector with the
        ``j``-th largest eigenvalue. As in tf.Transform its sign is the one
        LAPACK's ``eigh`` gives, and an empty dataset gives the identity's
        first columns.

    Examples
    --------
    >>> def fn(inputs):
    ...     return {"projected": tf.matmul(inputs["v"], pp.pca(inputs["v"], 1, tf.float32))}
    >>> run_in_memory(fn, {"v": np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], np.float32)})["projected"]
    array([[1.4142135],
           [2.828427 ],
           [4.2426405]], dtype=float32)
    """
    x, dimension = _rows(x)
    if output_dim is None:
        output_dim = dimension
    spec = PCASpec(dimension, _dtype_name(dtype), output_dim)
    with tf.compat.v1.name_scope(name, "pca"):
        return apply_analyzer(spec, [x])[0]
