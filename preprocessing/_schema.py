"""Raw feature schema: names, types and defaults of the input columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

from featurebeam_base import types
from featurebeam_base.naming import quote_all


@dataclass(frozen=True)
class Feature:
    """One raw input column of ``type`` float, int or string, with ``shape`` values per row.

    ``shape`` is ``()`` (one value, the default), ``(k,)`` (k values),
    ``"varlen"`` (any number, a ``tf.SparseTensor`` in the preprocessing_fn)
    or ``"ragged"`` (any number, a ``tf.RaggedTensor``); see ``types``.
    ``default`` fills missing values (nulls) when the data is read.
    """

    name: str
    type: str
    default: float | int | str | None = None
    shape: types.Shape = types.SCALAR

    def __post_init__(self):
        if self.type not in types.FEATURE_TYPES:
            allowed = quote_all(types.TYPE_NAMES)
            raise ValueError(f"feature {self.name!r}: type must be one of {allowed}; got {self.type!r}")
        try:
            object.__setattr__(self, "shape", types.checked_shape(self.shape))
        except ValueError as error:
            raise ValueError(f"feature {self.name!r}: shape {error}") from None

    @property
    def is_list(self) -> bool:
        return types.is_list(self.shape)

    @property
    def feature_type(self) -> types.FeatureType:
        return types.feature_type(self.type)

    @property
    def tf_dtype(self) -> tf.DType:
        return tf.as_dtype(self.feature_type.dtype)

    @property
    def np_dtype(self) -> np.dtype:
        return self.feature_type.numpy_dtype


@dataclass(frozen=True)
class Schema:
    """An ordered set of raw features."""

    features: tuple[Feature, ...]

    @classmethod
    def of(cls, features: Iterable[Feature] | Mapping[str, str]) -> Schema:
        """Build from ``Feature``s or from a ``{name: type}`` mapping."""
        if isinstance(features, Mapping):
            features = [Feature(name, type_) for name, type_ in features.items()]
        return cls(tuple(features))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def __getitem__(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(f.name == name for f in self.features)

    def select(self, names: Iterable[str]) -> Schema:
        wanted = set(names)
        return Schema(tuple(f for f in self.features if f.name in wanted))
