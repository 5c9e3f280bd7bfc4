"""The one table of feature types, and the shapes a feature's values come in.

A raw feature, and every value featurebeam reads or writes, is of one of three
types: ``float`` (float32 values), ``int`` (int64) and ``string`` (bytes). Each
row of ``FEATURE_TYPES`` says how that type is spelled everywhere: in job
files, TensorFlow and numpy dtypes, Arrow, tf.Example lists, the
tensorflow_metadata schema, and messages. TensorFlow dtypes are named, not
imported, so that this table stays free of TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class FeatureType:
    name: str  # as job files and ``pp.Schema`` spell it
    dtype: str  # the TensorFlow (and numpy) dtype name of its values
    numpy_dtype: np.dtype
    arrow_type: pa.DataType  # how batches hold it
    parsed_arrow_type: pa.DataType  # what the CSV and JSON parsers produce for it
    example_list: str  # the tf.Example ``Feature`` field holding it
    schema_type: str  # tensorflow_metadata ``FeatureType``
    noun: str  # "column 'fare': value 'abc' is not a number"

    @property
    def is_numeric(self) -> bool:
        return self.name != "string"

    def fits(self, value) -> bool:
        """Whether a Python value (a default, a JSON value) is one of this type's values; None always fits."""
        if value is None:
            return True
        if self.name == "string":
            return isinstance(value, str)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.name == "float" or (isinstance(value, int) and -(2**63) <= value < 2**63)


FLOAT = FeatureType(
    "float", "float32", np.dtype(np.float32), pa.float32(), pa.float32(), "float_list", "FLOAT", "a number"
)
INT = FeatureType("int", "int64", np.dtype(np.int64), pa.int64(), pa.int64(), "int64_list", "INT", "an integer")
STRING = FeatureType("string", "string", np.dtype(object), pa.binary(), pa.string(), "bytes_list", "BYTES", "a string")

FEATURE_TYPES: dict[str, FeatureType] = {t.name: t for t in (FLOAT, INT, STRING)}
TYPE_NAMES: tuple[str, ...] = tuple(FEATURE_TYPES)


def feature_type(name: str) -> FeatureType:
    """The row for ``'float'``, ``'int'`` or ``'string'``."""
    return FEATURE_TYPES[name]


def of_dtype(dtype: str) -> FeatureType:
    """The feature type that holds values of a TensorFlow/numpy dtype name.

    Floating dtypes are ``float``, integer and boolean dtypes ``int``, strings
    ``string``: the tf.Example list each goes into.
    """
    if dtype in ("string", "object", "bytes", "str"):
        return STRING
    kind = "f" if dtype == "bfloat16" else np.dtype(dtype).kind
    if kind == "f":
        return FLOAT
    if kind in "iub":
        return INT
    raise ValueError(f"no feature type holds dtype {dtype!r}")


def of_example_list(kind: str) -> FeatureType:
    """The feature type of a tf.Example ``float_list``, ``int64_list`` or ``bytes_list``."""
    for feature in FEATURE_TYPES.values():
        if feature.example_list == kind:
            return feature
    raise ValueError(f"not a tf.Example list kind: {kind!r}")


def of_arrow(data_type: pa.DataType) -> FeatureType | None:
    """The feature type an Arrow column of ``data_type`` is read as, or None if none.

    Decimals read as floats; booleans as ints (0/1); dictionary columns as their values.
    """
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return FLOAT
    if pa.types.is_integer(data_type) or pa.types.is_boolean(data_type):
        return INT
    if any(
        check(data_type)
        for check in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    ):
        return STRING
    return None


# ---------------------------------------------------------------------------
# Shapes: how many values a row holds.
#
#   ()        one value per row (a ``[batch]`` tensor)
#   (k, ...)  a fixed number of values per row (``[batch, k, ...]``)
#   "varlen"  any number per row, a ``tf.SparseTensor`` of dense_shape ``[batch, None]``
#             (tf.Transform's ``tf.io.VarLenFeature``)
#   "ragged"  any number per row, a ``tf.RaggedTensor`` ``[batch, None]`` (``tf.io.RaggedFeature``)

Shape = tuple[int, ...] | str
SCALAR: Shape = ()
VARLEN = "varlen"
RAGGED = "ragged"
LIST_SHAPES = (VARLEN, RAGGED)


def is_list(shape: Shape) -> bool:
    """Whether rows hold any number of values (``varlen`` or ``ragged``)."""
    return shape in LIST_SHAPES


def shape_text(shape: Shape) -> str:
    """``'one value'``, ``'[3]'``, ``'varlen'`` or ``'ragged'``: a shape in messages."""
    if is_list(shape):
        return str(shape)
    return "one value" if not shape else "[" + ", ".join(str(size) for size in shape) + "]"


def checked_shape(value) -> Shape:
    """A shape from a job file or a ``Feature``: None or ``[]`` (one value), ``[k]``, ``varlen``, ``ragged``.

    Raises ValueError with the allowed forms.
    """
    if value is None:
        return SCALAR
    if isinstance(value, str) and value in LIST_SHAPES:
        return value
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        return tuple(value)
    raise ValueError(f"must be [k] (k values per row), 'varlen' or 'ragged'; got {value!r}")
