"""Arrow columns to TensorFlow feeds, and TensorFlow results back to Arrow.

A raw column is a flat Arrow array (one value per row), a fixed-size list
array (``[k]`` values per row) or a list array (any number per row) of
float32, int64 or binary values, without nulls. It is fed to the tensor the
feature arrives as: a dense placeholder, a SparseTensor (tf.Transform's
VarLenFeature: indices ``[row, position]``, dense_shape ``[batch, longest row]``)
or a RaggedTensor (values and int64 row splits). Outputs come back the same way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import tensorflow as tf

from featurebeam_base import types


def arrow_type(feature_type: str) -> pa.DataType:
    return types.feature_type(feature_type).arrow_type


def _combined(column):
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _numpy(values: pa.Array, feature_type: str) -> np.ndarray:
    if feature_type == "string":
        return values.to_numpy(zero_copy_only=False)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=types.feature_type(feature_type).numpy_dtype)


def to_feed(column: pa.Array | pa.ChunkedArray, feature_type: str) -> np.ndarray:
    """A numpy array TensorFlow can feed for a dense column: ``[batch]``, or ``[batch, k]`` for fixed-size lists."""
    column = _combined(column)
    if pa.types.is_fixed_size_list(column.type):
        return _numpy(column.flatten(), feature_type).reshape(len(column), column.type.list_size)
    return _numpy(column, feature_type)


def list_parts(column: pa.Array | pa.ChunkedArray, feature_type: str) -> tuple[np.ndarray, np.ndarray]:
    """A list column's values and row splits (int64, from 0), as a RaggedTensor holds them."""
    column = _combined(column)
    offsets = column.offsets.to_numpy().astype(np.int64)
    return _numpy(column.flatten(), feature_type), offsets - offsets[0]


def sparse_value(values: np.ndarray, splits: np.ndarray) -> tf.compat.v1.SparseTensorValue:
    """tf.io.VarLenFeature's SparseTensor for rows given as values and row splits (vectorized)."""
    lengths = np.diff(splits)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    positions = np.arange(len(values), dtype=np.int64) - np.repeat(splits[:-1], lengths)
    dense_shape = np.array([len(lengths), lengths.max() if len(lengths) else 0], np.int64)
    return tf.compat.v1.SparseTensorValue(np.stack([rows, positions], axis=1), values, dense_shape)


def feed(tensor, column: pa.Array | pa.ChunkedArray, feature_type: str) -> dict:
    """``{tensor: value}`` feeding one raw column into the tensor its feature arrives as."""
    if isinstance(tensor, tf.SparseTensor):
        return {tensor: sparse_value(*list_parts(column, feature_type))}
    if isinstance(tensor, tf.RaggedTensor):
        values, splits = list_parts(column, feature_type)
        return {tensor.flat_values: values, tensor.row_splits: splits}
    return {tensor: to_feed(column, feature_type)}


def to_arrow(values) -> pa.Array:
    """One output column: ``[batch]`` to a flat array, ``[batch, k...]`` to fixed-size lists, and a
    SparseTensor's or RaggedTensor's value to a list array (one list per row, ``[]`` for an empty row)."""
    if isinstance(values, tf.compat.v1.SparseTensorValue):
        return list_array(_sparse_row_splits(values), np.asarray(values.values))
    if isinstance(values, tf.compat.v1.ragged.RaggedTensorValue):
        return list_array(np.asarray(values.row_splits), np.asarray(values.flat_values))
    values = np.asarray(values)
    flat = pa.array(values.reshape(-1), type=pa.binary() if values.dtype == object else None)
    for size in reversed(values.shape[1:]):
        flat = pa.FixedSizeListArray.from_arrays(flat, size)
    return flat


def _sparse_row_splits(value: tf.compat.v1.SparseTensorValue) -> np.ndarray:
    """Row splits of a 2-D SparseTensor value whose entries are in row-major order (TensorFlow's canonical one)."""
    rows = np.asarray(value.indices)[:, 0] if len(value.indices) else np.zeros(0, np.int64)
    counts = np.bincount(rows, minlength=int(value.dense_shape[0]))
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def list_array(splits: np.ndarray, flat: np.ndarray) -> pa.Array:
    """A large_list array from row splits and flat values."""
    values = pa.array(flat, type=pa.binary() if flat.dtype == object else None)
    return pa.LargeListArray.from_arrays(pa.array(splits, pa.int64()), values)


def from_arrow(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Inverse of ``to_arrow``: fixed-size lists back to a ``[batch, k...]`` array; a list column to an
    object array of one numpy array per row."""
    column = _combined(column)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        offsets = column.offsets.to_numpy()
        flat = from_arrow(column.flatten())
        rows = np.empty(len(column), dtype=object)
        rows[:] = [flat[start:stop] for start, stop in zip(offsets[:-1] - offsets[0], offsets[1:] - offsets[0])]
        return rows
    shape = [len(column)]
    while pa.types.is_fixed_size_list(column.type):
        shape.append(column.type.list_size)
        column = column.flatten()
    if pa.types.is_binary(column.type) or pa.types.is_string(column.type):
        flat = np.array(column.to_pylist(), dtype=object)
    else:
        flat = column.to_numpy(zero_copy_only=False)
    return flat.reshape(shape)
