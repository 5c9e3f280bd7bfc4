"""``scale_to_gaussian``: undo a Tukey HH fit's long tails, then standardize.

With the fit's ``(location, scale, hl, hr)`` (``pp.tukey_*``) and the variance,
each value becomes ``z = (x - location) / scale`` (``/ std`` when the data has
no long tails, as ``scale_to_z_score``), then the ``u`` with
``u * exp(h * u**2 / 2) = z``: ``u = sign(z) * sqrt(W(h * z**2) / h)``, ``W``
the principal branch of the Lambert W function.
"""

from __future__ import annotations

import tensorflow as tf

from featurebeam_base import checks
from featurebeam_base.errors import ArgumentError
from preprocessing import _analyzers, _inputs
from preprocessing._api import TensorType, api_function
from preprocessing._mappers import _per_column
from preprocessing._tukey import tukey_parameters

_NEWTON_STEPS = 6
_LINEAR_BELOW = 1e-7  # h * z**2 below this: u = z to within 1e-14 (and no 0 / 0)


def lambert_w(y: tf.Tensor) -> tf.Tensor:
    """``W(y)`` for ``y > 0``: the ``w > 0`` with ``w * exp(w) = y``.

    Newton's method on the concave ``w + log(w) - log(y)``, from
    ``log(1 + y) >= W(y)``: the first step lands below the root and the rest
    climb to it, quadratically, with no ``exp`` to overflow.
    """
    log_y = tf.math.log(y)
    w = tf.math.log1p(y)
    for _ in range(_NEWTON_STEPS):
        w = w * (1.0 + log_y - tf.math.log(w)) / (1.0 + w)
    return w


def inverse_tukey_hh(z: tf.Tensor, hl: tf.Tensor, hr: tf.Tensor) -> tf.Tensor:
    """The ``u`` with ``u * exp(h * u**2 / 2) = z``, ``h = hl`` for ``z < 0`` and ``hr`` otherwise."""
    if z.dtype == tf.float16:  # too coarse for the iteration: compute in float32
        return tf.cast(
            inverse_tukey_hh(tf.cast(z, tf.float32), tf.cast(hl, tf.float32), tf.cast(hr, tf.float32)), z.dtype
        )
    h = tf.where(z < 0, tf.zeros_like(z) + hl, tf.zeros_like(z) + hr)
    hz2 = h * tf.square(z)
    linear = hz2 < _LINEAR_BELOW
    safe_hz2 = tf.where(linear, tf.ones_like(hz2), hz2)
    safe_h = tf.where(linear, tf.ones_like(h), h)
    magnitude = tf.sqrt(lambert_w(safe_hz2) / safe_h)
    return tf.where(linear, z, tf.where(z < 0, -magnitude, magnitude))


@api_function()
def scale_to_gaussian(
    x: TensorType, elementwise: bool = False, name: str | None = None, output_dtype: tf.DType | None = None
) -> TensorType:
    """Make ``x`` approximately standard normal: remove the long tails of a Tukey HH fit, then standardize.

    Data whose tails are no longer than the normal's (h = 0) gets
    ``scale_to_z_score``'s result. The fit is that of :func:`tukey_location`.
    One pass over the data.

    Parameters
    ----------
    x
        Numeric tensor, SparseTensor or RaggedTensor (its values are mapped, its
        structure kept); NaN and infinite values are ignored by the fit.
    elementwise
        Fit each instance element (column) on its own; not for a RaggedTensor.
    output_dtype
        Floating dtype of the result: by default ``x``'s for floats, float32 for integers.

    Examples
    --------
    >>> fn = lambda inputs: {"g": pp.scale_to_gaussian(inputs["x"])}
    >>> run_in_memory(fn, {"x": np.array([1.0, 2.0, 3.0, 4.0, 10.0], np.float32)})["g"].round(4)
    array([-1.1673, -0.5339,  0.1106,  0.6572,  1.7313], dtype=float32)
    """
    with tf.compat.v1.name_scope(name, "scale_to_gaussian"):
        x = _inputs.numeric(x, composite=True)
        elementwise = checks.boolean(elementwise, "elementwise")
        if elementwise and isinstance(x, tf.RaggedTensor):
            raise ArgumentError("elementwise", "must be False for a RaggedTensor `x` (as in tf.Transform)")
        loc, scale, hl, hr = tukey_parameters(x, not elementwise, output_dtype)
        _, var = _analyzers._mean_and_var(x, not elementwise, output_dtype)
        if elementwise and _inputs.is_composite(x):  # per column; a column never analyzed is left as it is
            unseen = {"loc": 0.0, "scale": 1.0, "h": 0.0, "var": 1.0}
            loc, scale = _per_column(x, loc, unseen["loc"]), _per_column(x, scale, unseen["scale"])
            hl, hr = _per_column(x, hl, unseen["h"]), _per_column(x, hr, unseen["h"])
            var = _per_column(x, var, unseen["var"])
        values = tf.cast(_inputs.values(x), loc.dtype)
        numerator = values - loc
        long_tailed = tf.logical_or(hl > 0, hr > 0)
        denominator = tf.where(long_tailed, scale, tf.sqrt(var))
        divide = tf.not_equal(tf.zeros_like(numerator) + denominator, 0)
        safe = tf.where(tf.equal(denominator, 0), tf.ones_like(denominator), denominator)
        z = tf.where(divide, numerator / safe, numerator)
        return _inputs.with_values(x, inverse_tukey_hh(z, hl, hr))
