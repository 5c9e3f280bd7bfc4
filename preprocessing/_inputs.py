"""The tensors handed to ``pp`` functions: checks (as ``ArgumentError``s) and list-valued structure.

A feature is a dense ``tf.Tensor``, or a ``tf.SparseTensor`` / ``tf.RaggedTensor``
of any number of values per row. As in tf.Transform, analyzers reduce over a
list's values, and mappers change the values while keeping the structure
(``values`` and ``with_values``).
"""

from __future__ import annotations

import tensorflow as tf

from featurebeam_base.errors import ArgumentError


def _kind(x) -> str:
    if isinstance(x, tf.Tensor):
        return f"a tf.{x.dtype.name} tensor"
    if is_composite(x):
        return f"a tf.{x.dtype.name} {type(x).__name__}"
    return f"a {type(x).__name__}"


COMPOSITES = (tf.SparseTensor, tf.RaggedTensor)


def is_composite(x) -> bool:
    return isinstance(x, COMPOSITES)


def values(x):
    """The values of ``x``: itself when dense, else the SparseTensor's or RaggedTensor's flat values."""
    if isinstance(x, tf.SparseTensor):
        return x.values
    if isinstance(x, tf.RaggedTensor):
        return x.flat_values
    return x


def with_values(x, new_values: tf.Tensor):
    """``new_values`` (one per value of ``x``) in ``x``'s structure: same indices, or same row partitions."""
    if isinstance(x, tf.SparseTensor):
        return tf.SparseTensor(x.indices, new_values, x.dense_shape)
    if isinstance(x, tf.RaggedTensor):
        return x.with_flat_values(new_values)
    return new_values


def dense(x, argument: str = "x") -> tf.Tensor:
    """``x`` as a dense tensor (Python numbers and lists are converted)."""
    if is_composite(x):
        raise ArgumentError(argument, f"must be a dense tf.Tensor; got a {type(x).__name__}")
    if not isinstance(x, tf.Tensor):
        try:
            return tf.convert_to_tensor(x)
        except (TypeError, ValueError):
            raise ArgumentError(argument, f"must be a tf.Tensor; got {_kind(x)}") from None
    return x


def feature(x, argument: str = "x"):
    """``x`` as a tensor: dense, SparseTensor or RaggedTensor (Python values are converted)."""
    return x if is_composite(x) else dense(x, argument)


def numeric(x, argument: str = "x", *, composite: bool = False):
    """A float or integer tensor; a SparseTensor or RaggedTensor too when ``composite``."""
    x = feature(x, argument) if composite else dense(x, argument)
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise ArgumentError(argument, f"must be a numeric (float or integer) tensor; got {_kind(x)}")
    return x


def tokens(x, argument: str = "x", *, composite: bool = True):
    """A string or integer tensor (SparseTensor and RaggedTensor too), as vocabularies take."""
    x = feature(x, argument) if composite else dense(x, argument)
    if not (x.dtype == tf.string or x.dtype.is_integer):
        raise ArgumentError(argument, f"must be a tf.string or integer tensor; got {_kind(x)}")
    return x


def instance_shape(x: tf.Tensor, reduce_instance_dims: bool, argument: str = "x") -> tuple[int, ...]:
    """The fixed shape of one row's value, needed when instance dims are kept."""
    shape = x.shape[1:] if x.shape.rank else tf.TensorShape([])
    if not reduce_instance_dims and not shape.is_fully_defined():
        raise ArgumentError(
            argument, f"must have a fixed shape per row when instance dims are kept; got shape {x.shape}"
        )
    return tuple(shape.as_list()) if shape.is_fully_defined() else ()


def output_dtype(dtype, argument: str = "output_dtype") -> tf.DType | None:
    if dtype is None:
        return None
    try:
        dtype = tf.as_dtype(dtype)
    except TypeError:
        raise ArgumentError(argument, f"must be a tf.DType; got {dtype!r}") from None
    return dtype


_FLOAT_OUTPUT = {tf.float16: tf.float16, tf.float32: tf.float32, tf.float64: tf.float64}


def float_output_dtype(x, dtype, argument: str = "output_dtype") -> tf.DType:
    """``dtype``, or tf.Transform's default for statistics of ``x``: its own float dtype, float32 for integers."""
    dtype = output_dtype(dtype, argument) or _FLOAT_OUTPUT.get(x.dtype, tf.float32)
    if not dtype.is_floating:
        raise ArgumentError(
            argument, f"must be a floating dtype (tf.float16, tf.float32, tf.float64); got tf.{dtype.name}"
        )
    return dtype
