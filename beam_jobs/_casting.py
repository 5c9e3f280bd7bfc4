"""Casting a column read from a file to its feature: its type (float32, int64, binary) and its shape.

``castable`` raises ``pa.ArrowNotImplementedError`` for a column that can never
be read as the feature (a timestamp as a float, lists of lists, a list column
declared as one value per row), and ``pa.ArrowInvalid`` when some rows cannot
(a value that does not fit, a null inside a list, a ``[k]`` row with another
number of values); ``row_problem`` then explains one such row.

List features (``varlen``, ``ragged``) become list arrays without nulls: a null
list is an empty row, and a column of single values gives one value per row
(an empty row where it is null), as TFX reads a feature with missing values.
A ``[k]`` feature becomes a fixed-size list array of k values per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from beam_jobs._bad_records import _a, _shown
from featurebeam_base import types


def is_list_type(data_type: pa.DataType) -> bool:
    return pa.types.is_list(data_type) or pa.types.is_large_list(data_type) or pa.types.is_fixed_size_list(data_type)


def cast_values(column: pa.Array, feature_type: str) -> pa.Array:
    """One value per row, as its feature type (nulls stay null)."""
    target = types.feature_type(feature_type).arrow_type
    if column.type == target:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), target)
    if is_list_type(column.type):
        raise pa.ArrowNotImplementedError("a list column declared with one value per row")
    if feature_type == "string":
        if not (pa.types.is_string(column.type) or pa.types.is_binary(column.type)):
            if pa.types.is_large_string(column.type):
                return column.cast(pa.large_binary()).cast(target)
            column = column.cast(pa.string())
        return column.cast(target)
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    numeric = numeric or pa.types.is_decimal(column.type) or pa.types.is_boolean(column.type)
    # float32 holds every number, if not exactly (as TensorFlow's casts); other casts must be exact
    return column.cast(target, safe=not (feature_type == "float" and numeric))


def _lengths_and_values(column: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Values per row (0 for a null row, or a null value) and the values, for a list or a scalar column."""
    if not is_list_type(column.type):
        present = column.is_valid().to_numpy(zero_copy_only=False)
        return present.astype(np.int64), column.filter(pa.array(present))
    if is_list_type(column.type.value_type):
        raise pa.ArrowNotImplementedError("lists of lists")
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, column.flatten()


def cast_list(column: pa.Array, feature_type: str, shape: types.Shape) -> pa.Array:
    """A list feature's column as a list array (``varlen``, ``ragged``) or fixed-size list array (``[k]``)."""
    lengths, values = _lengths_and_values(column)
    if values.null_count:
        raise pa.ArrowInvalid("a list holds a null")
    values = cast_values(values, feature_type)
    if types.is_list(shape):
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), values)
    size = int(np.prod(shape))
    if np.any(lengths != size):
        raise pa.ArrowInvalid(f"a row without {size} values")
    return pa.FixedSizeListArray.from_arrays(values, size)


def castable(column: pa.Array, feature_type: str, shape: types.Shape = ()) -> pa.Array:
    if shape == ():
        return cast_values(column, feature_type)
    return cast_list(column, feature_type, shape)


def row_problem(name: str, value, feature_type: str, shape: types.Shape) -> str:
    """Why one row's value (as Python) cannot be the feature's."""
    if shape == () or not isinstance(value, (list, tuple)):
        if shape == () and isinstance(value, (list, tuple)):
            return f"column {name!r}: value {_shown(value)} is a list; the column holds one value per row"
        if shape not in ((), types.VARLEN, types.RAGGED):
            return f"column {name!r}: value {_shown(value)} is not a list of {types.shape_text(shape)} values"
        return f"column {name!r}: value {_shown(value)} is not {_a(feature_type)}"
    if any(item is None for item in value):
        return f"column {name!r}: the list {_shown(value)} holds a null (item {value.index(None) + 1})"
    if any(isinstance(item, (list, tuple)) for item in value):
        return f"column {name!r}: the list {_shown(value)} holds lists; featurebeam reads lists of values"
    if not types.is_list(shape) and len(value) != int(np.prod(shape)):
        return f"column {name!r}: {len(value)} values where {types.shape_text(shape)} are declared"
    for item in value:
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
        if not types.feature_type(feature_type).fits(text):
            return f"column {name!r}: value {_shown(item)} (in the list) is not {_a(feature_type)}"
    return f"column {name!r}: value {_shown(value)} cannot be read as a list of {feature_type}"
