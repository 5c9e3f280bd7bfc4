"""``OutputColumn``: one output of a preprocessing_fn, as the transformed data holds it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from featurebeam_base import types


@dataclass(frozen=True)
class OutputColumn:
    """An output's name, TensorFlow dtype name, instance shape and categorical range.

    ``shape`` is the shape of one row's value: ``()`` for a scalar, ``(3,)`` for
    three values. ``int_domain`` is ``(min, max)`` for categorical ids
    (vocabulary ids, bucket ids), as tf.Transform's schema records it.
    """

    name: str
    dtype: str
    shape: tuple[int, ...] = ()
    int_domain: tuple[int, int] | None = None

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
        for size in reversed(self.shape):
            data_type = pa.list_(data_type, size)
        return data_type

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
