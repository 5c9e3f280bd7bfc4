"""``OutputColumn``: one output of a preprocessing_fn, as the transformed data holds it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from featurebeam_base import types

RAGGED_VALUES = "{}$ragged_values"  # tf.Transform's (and TFX's) name for a ragged output's values


@dataclass(frozen=True)
class OutputColumn:
    """An output's name, TensorFlow dtype name, instance shape and categorical range.

    ``shape`` is the shape of one row's value: ``()`` for a scalar, ``(3,)`` for
    three values, ``"varlen"`` for a SparseTensor and ``"ragged"`` for a
    RaggedTensor (any number per row: a list). ``int_domain`` is ``(min, max)``
    for categorical ids (vocabulary ids, bucket ids), as tf.Transform's schema
    records it.
    """

    name: str
    dtype: str
    shape: types.Shape = ()
    int_domain: tuple[int, int] | None = None

    @property
    def is_list(self) -> bool:
        return types.is_list(self.shape)

    @property
    def physical_name(self) -> str:
        """Its name in tf.Examples and the schema: ``NAME$ragged_values`` for a ragged output, as tf.Transform's."""
        return RAGGED_VALUES.format(self.name) if self.shape == types.RAGGED else self.name

    @property
    def feature_type(self) -> types.FeatureType:
        """float, int or string: the tf.Example list and schema type it is written as."""
        return types.of_dtype(self.dtype)

    @property
    def arrow_type(self) -> pa.DataType:
        """Parquet columns: the value's own dtype; fixed-size lists for ``[k]`` shapes."""
        if self.dtype == "string":
            data_type = pa.binary()
        else:
            data_type = pa.from_numpy_dtype(np.dtype(self.dtype))
        if self.is_list:
            return pa.large_list(data_type)
        for size in reversed(self.shape):
            data_type = pa.list_(data_type, size)
        return data_type

    def to_dict(self) -> dict:
        shape = self.shape if self.is_list else list(self.shape)
        return {"name": self.name, "dtype": self.dtype, "shape": shape, "int_domain": self.int_domain}

    @classmethod
    def from_dict(cls, data: dict) -> OutputColumn:
        shape = data["shape"] if isinstance(data["shape"], str) else tuple(data["shape"])
        domain = tuple(data["int_domain"]) if data.get("int_domain") else None
        return cls(data["name"], data["dtype"], shape, domain)
