"""``experimental.ptransform_analyzer``: the TF side of a user's PTransform analyzer (``analyzers/_ptransform.py``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import tensorflow as tf

from analyzers import PTransformSpec
from featurebeam_base.errors import ArgumentError
from preprocessing import _inputs
from preprocessing._api import api_function
from preprocessing._tracing import apply_analyzer

_ASSETS = "asset outputs (files the PTransform writes) are not supported yet; return the values themselves"


def _dtype_names(output_dtypes) -> tuple[str, ...]:
    names = []
    for index, dtype in enumerate(output_dtypes):
        try:
            dtype = tf.as_dtype(dtype)
        except TypeError:
            raise ArgumentError("output_dtypes", f"must hold tf.DTypes; item {index} is {dtype!r}") from None
        if not (dtype == tf.string or dtype.is_integer or dtype.is_floating or dtype == tf.bool):
            raise ArgumentError("output_dtypes", f"must hold numeric, bool or string dtypes; item {index} is {dtype!r}")
        names.append(dtype.name)
    return tuple(names)


def _shapes(output_shapes) -> tuple[tuple[int | None, ...], ...]:
    shapes = []
    for index, shape in enumerate(output_shapes):
        sizes = list(shape) if isinstance(shape, (list, tuple)) else None
        if sizes is None or not all(
            s is None or (isinstance(s, int) and not isinstance(s, bool) and s >= 0) for s in sizes
        ):
            raise ArgumentError(
                "output_shapes",
                f"must hold one list of sizes (ints >= 0, or None) per output; item {index} is {shape!r}",
            )
        shapes.append(tuple(sizes))
    return tuple(shapes)


def _dense_inputs(inputs) -> list[tf.Tensor]:
    if isinstance(inputs, (tf.Tensor, tf.SparseTensor, tf.RaggedTensor)) or not isinstance(inputs, Collection):
        raise ArgumentError("inputs", f"must be a list of tensors; got {type(inputs).__name__}")
    if not inputs:
        raise ArgumentError("inputs", "must hold at least one tensor")
    tensors = []
    for index, tensor in enumerate(inputs):
        if _inputs.is_composite(tensor):
            raise ArgumentError(
                "inputs",
                f"must hold dense tensors (as tf.Transform's); item {index} is a {type(tensor).__name__}: "
                "convert it first, e.g. with tf.sparse.to_dense or .to_tensor()",
            )
        tensor = _inputs.dense(tensor, "inputs")
        if tensor.shape.rank == 0:
            raise ArgumentError("inputs", f"must have a batch dimension; item {index} is a scalar")
        tensors.append(tensor)
    return tensors


@api_function(unsupported={"output_asset_default_values": _ASSETS}, namespace="experimental")
def ptransform_analyzer(
    inputs: Collection[tf.Tensor],
    ptransform: Any,
    output_dtypes: Collection[tf.DType],
    output_shapes: Collection[list[int]],
    output_asset_default_values: Collection[bytes | None] | None = None,
    name: str | None = None,
) -> tuple[tf.Tensor, ...]:
    """Your own Beam PTransform as an analyzer: it sees every batch and returns one result per output.

    The PTransform gets a PCollection with one element per batch of rows: a
    tuple of numpy arrays, one per tensor in ``inputs``, each ``[rows, ...]``
    (strings as object arrays of bytes). It returns one PCollection per
    output (a tuple of them for several outputs), each holding exactly one
    element: the result for the whole dataset, as anything ``numpy.asarray``
    takes. Each result is checked against its declared dtype and shape
    (``None`` for any size) and becomes a constant of the transform_fn, as every
    analyzer's result does: it has no batch dimension (broadcast it to use it
    per row). The PTransform must be picklable (Beam ships it to workers).

    Parameters
    ----------
    inputs
        Dense tensors with a batch dimension.
    ptransform
        A ``beam.PTransform``.
    output_dtypes
        One TensorFlow dtype per output (numeric, bool or tf.string).
    output_shapes
        One shape per output, e.g. ``[]`` (a scalar) or ``[None]`` (any length).
    output_asset_default_values
        Not supported yet (asset outputs).

    Returns
    -------
    tuple of tf.Tensor
        One tensor per output, in order.

    Examples
    --------
    >>> import apache_beam as beam
    >>> class SumOfSquares(beam.PTransform):
    ...     def expand(self, batches):
    ...         return (batches | beam.Map(lambda batch: float((batch[0] ** 2).sum()))
    ...                         | beam.CombineGlobally(sum))
    >>> def fn(inputs):
    ...     (total,) = pp.experimental.ptransform_analyzer([inputs["x"]], SumOfSquares(), [tf.float32], [[]])
    ...     return {"share": inputs["x"] ** 2 / total}
    >>> run_in_memory(fn, {"x": np.array([1.0, 2.0, 3.0, 4.0], np.float32)})["share"]
    array([0.03333334, 0.13333334, 0.3       , 0.53333336], dtype=float32)
    """
    if hasattr(ptransform, "make_accumulators_ptransform"):
        raise ArgumentError(
            "ptransform",
            "must be a beam.PTransform; a CacheablePTransformAnalyzer is not supported (featurebeam keeps no "
            "analyzer cache): chain its three PTransforms into one",
        )
    if not callable(getattr(ptransform, "expand", None)):
        raise ArgumentError("ptransform", f"must be a beam.PTransform; got {type(ptransform).__name__}")
    tensors = _dense_inputs(inputs)
    dtypes, shapes = _dtype_names(output_dtypes), _shapes(output_shapes)
    if len(dtypes) != len(shapes):
        raise ArgumentError("output_shapes", f"must hold one shape per output dtype ({len(dtypes)}); got {len(shapes)}")
    if not dtypes:
        raise ArgumentError("output_dtypes", "must declare at least one output")
    with tf.compat.v1.name_scope(name, "ptransform"):
        return tuple(apply_analyzer(PTransformSpec(ptransform, dtypes, shapes), tensors))
