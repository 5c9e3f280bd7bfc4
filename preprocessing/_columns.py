"""Arrow columns to TensorFlow feeds and TensorFlow results back to Arrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from featurebeam_base import types


def arrow_type(feature_type: str) -> pa.DataType:
    return types.feature_type(feature_type).arrow_type


def to_feed(column: pa.Array | pa.ChunkedArray, feature_type: str) -> np.ndarray:
    """A numpy array TensorFlow can feed for one raw column (no nulls)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if feature_type == "string":
        return column.to_numpy(zero_copy_only=False)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=types.feature_type(feature_type).numpy_dtype)


def to_arrow(values: np.ndarray) -> pa.Array:
    """One output column: ``[batch]`` to a flat array, ``[batch, k...]`` to fixed-size lists."""
    values = np.asarray(values)
    if values.dtype == object:
        flat = pa.array(values.reshape(-1), type=pa.binary())
    else:
        flat = pa.array(values.reshape(-1))
    for size in reversed(values.shape[1:]):
        flat = pa.FixedSizeListArray.from_arrays(flat, size)
    return flat


def from_arrow(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Inverse of ``to_arrow``: fixed-size lists back to a ``[batch, k...]`` array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    shape = [len(column)]
    while pa.types.is_fixed_size_list(column.type):
        shape.append(column.type.list_size)
        column = column.flatten()
    if pa.types.is_binary(column.type) or pa.types.is_string(column.type):
        flat = np.array(column.to_pylist(), dtype=object)
    else:
        flat = column.to_numpy(zero_copy_only=False)
    return flat.reshape(shape)
