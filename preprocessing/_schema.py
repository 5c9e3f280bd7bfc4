"""Raw feature schema: names, types and defaults of the input columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

FEATURE_TYPES = ("float", "int", "string")

_TF_DTYPES = {"float": tf.float32, "int": tf.int64, "string": tf.string}
_NP_DTYPES = {"float": np.dtype(np.float32), "int": np.dtype(np.int64), "string": np.dtype(object)}


@dataclass(frozen=True)
class Feature:
    """One raw input column: one value per row, of ``type`` float, int or string.

    ``default`` fills missing values (nulls) when the data is read.
    """

    name: str
    type: str
    default: float | int | str | None = None

    def __post_init__(self):
        if self.type not in FEATURE_TYPES:
            allowed = ", ".join(repr(t) for t in FEATURE_TYPES)
            raise ValueError(f"feature {self.name!r}: type must be one of {allowed}; got {self.type!r}")

    @property
    def tf_dtype(self) -> tf.DType:
        return _TF_DTYPES[self.type]

    @property
    def np_dtype(self) -> np.dtype:
        return _NP_DTYPES[self.type]


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
