"""``tukey_location``, ``tukey_scale``, ``tukey_h_params``: one Tukey HH fit of the whole dataset.

The three share one analyzer (``TukeySpec``: the first four L-moments, then
the fit); how it differs from tf.Transform's batch-dependent estimate is in
``analyzers/_tukey.py``.
"""

from __future__ import annotations

import tensorflow as tf

from analyzers import TukeySpec
from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._tracing import apply_analyzer


def tukey_parameters(x, reduce_instance_dims=True, output_dtype=None) -> list[tf.Tensor]:
    """``[location, scale, hl, hr]`` of ``x`` (its values, or per column of a SparseTensor kept elementwise)."""
    x = _inputs.numeric(x, composite=True)
    reduce = checks.boolean(reduce_instance_dims, "reduce_instance_dims")
    dtype = _inputs.float_output_dtype(x, output_dtype)
    with tf.compat.v1.name_scope("tukey_parameters"):
        values = _inputs.values(x)
        if values.dtype != dtype:  # the moments are those of the values in the output dtype, as tf.Transform's
            values = tf.cast(values, dtype)
        if not _inputs.is_composite(x):
            spec = TukeySpec(_inputs.instance_shape(x, reduce), reduce, dtype.name)
            return apply_analyzer(spec, [values])
        if reduce:
            return apply_analyzer(TukeySpec((), True, dtype.name), [values])
        if isinstance(x, tf.RaggedTensor) or x.shape.rank != 2:
            raise ArgumentError(
                "reduce_instance_dims",
                "must be True for a RaggedTensor or a SparseTensor of rank > 2: their values have no fixed columns "
                "(tf.Transform does not support this either)",
            )
        return apply_analyzer(TukeySpec((), False, dtype.name, per_column=True), [x.indices[:, 1], values])


_PARAMETERS = """
    Parameters
    ----------
    x
        Numeric tensor, SparseTensor or RaggedTensor; NaN and infinite values are ignored.
    reduce_instance_dims
        One result for all values (default), or one per instance element
        (per column of a SparseTensor; not for a RaggedTensor).
    output_dtype
        Floating dtype of the result: by default ``x``'s for floats, float32 for integers.
"""


@api_function()
def tukey_location(
    x: TensorType,
    reduce_instance_dims: bool | None = True,
    output_dtype: tf.DType | None = None,
    name: str | None = None,
) -> tf.Tensor:
    """The location of ``x``, fitting a Tukey HH distribution to its L-moments over the whole dataset.

    ``(x - location) / scale`` follows the Tukey HH distribution with
    parameters :func:`tukey_h_params` (Headrick and Pant, 2012). The sample
    L-moments are those of the whole dataset up to 100,000 values per feature
    (tf.Transform's equal this when one batch holds every row), and
    tf.Transform's per-batch estimate beyond; the h parameters match the
    L-skewness and L-kurtosis exactly (tf.Transform's search can stop short).
    For data without long tails (L-kurtosis below the normal's), h = 0 and the
    location is the mean.
    {parameters}
    Examples
    --------
    >>> fn = lambda inputs: {{"loc": pp.tukey_location(inputs["x"]) + 0 * inputs["x"]}}
    >>> run_in_memory(fn, {{"x": np.array([1.0, 2.0, 3.0, 4.0, 10.0], np.float32)}})["loc"][0].round(4)
    np.float32(2.8282)
    """
    with tf.compat.v1.name_scope(name, "tukey_location"):
        return tukey_parameters(x, reduce_instance_dims, output_dtype)[0]


@api_function()
def tukey_scale(
    x: TensorType,
    reduce_instance_dims: bool | None = True,
    output_dtype: tf.DType | None = None,
    name: str | None = None,
) -> tf.Tensor:
    """The scale of ``x`` in a Tukey HH fit over the whole dataset (see :func:`tukey_location`).

    Without long tails (h = 0) it is ``sqrt(pi)`` times the second L-moment,
    the standard deviation for normal data; 1 for data without spread.
    {parameters}
    Examples
    --------
    >>> fn = lambda inputs: {{"scale": pp.tukey_scale(inputs["x"]) + 0 * inputs["x"]}}
    >>> run_in_memory(fn, {{"x": np.array([1.0, 2.0, 3.0, 4.0], np.float32)}})["scale"][0].round(4)
    np.float32(1.477)
    """
    with tf.compat.v1.name_scope(name, "tukey_scale"):
        return tukey_parameters(x, reduce_instance_dims, output_dtype)[1]


@api_function()
def tukey_h_params(
    x: TensorType,
    reduce_instance_dims: bool = True,
    output_dtype: tf.DType | None = None,
    name: str | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """``(hl, hr)``: the left and right tail parameters of a Tukey HH fit over the whole dataset.

    A Tukey HH variable is ``u * exp(h * u**2 / 2)`` for a standard normal
    ``u``, with ``h = hl`` for ``u < 0`` and ``hr`` for ``u >= 0``; both are 0
    for data whose tails are not longer than the normal's (see :func:`tukey_location`).
    {parameters}
    Examples
    --------
    >>> def fn(inputs):
    ...     hl, hr = pp.tukey_h_params(inputs["x"])
    ...     return {{"hl": hl + 0 * inputs["x"], "hr": hr + 0 * inputs["x"]}}
    >>> out = run_in_memory(fn, {{"x": np.array([1.0, 2.0, 3.0, 4.0, 10.0], np.float32)}})
    >>> out["hl"][0].round(4), out["hr"][0].round(4)
    (np.float32(0.0179), np.float32(0.6571))
    """
    with tf.compat.v1.name_scope(name, "tukey_h_params"):
        return tuple(tukey_parameters(x, reduce_instance_dims, output_dtype)[2:])


for _function in (tukey_location, tukey_scale, tukey_h_params):
    _function.__doc__ = _function.__doc__.format(parameters=_PARAMETERS)
