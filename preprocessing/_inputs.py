"""Checks of the tensors handed to ``pp`` functions, as ``ArgumentError``s."""

from __future__ import annotations

import tensorflow as tf

from featurebeam_base.errors import ArgumentError


def _kind(x) -> str:
    if isinstance(x, tf.Tensor):
        return f"a tf.{x.dtype.name} tensor"
    return f"a {type(x).__name__}"


def dense(x, argument: str = "x") -> tf.Tensor:
    """``x`` as a dense tensor (Python numbers and lists are converted)."""
    if isinstance(x, (tf.SparseTensor, tf.RaggedTensor)):
        raise ArgumentError(argument, f"must be a dense tf.Tensor; {type(x).__name__} inputs are not supported yet")
    if not isinstance(x, tf.Tensor):
        try:
            return tf.convert_to_tensor(x)
        except (TypeError, ValueError):
            raise ArgumentError(argument, f"must be a tf.Tensor; got {_kind(x)}") from None
    return x


def numeric(x, argument: str = "x") -> tf.Tensor:
    x = dense(x, argument)
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise ArgumentError(argument, f"must be a numeric (float or integer) tensor; got {_kind(x)}")
    return x


def tokens(x, argument: str = "x") -> tf.Tensor:
    """A string or integer tensor, as vocabularies take."""
    x = dense(x, argument)
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
