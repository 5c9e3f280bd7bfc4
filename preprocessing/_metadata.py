"""``transformed_metadata/``: the output schema in tf.Transform's format.

tf.Transform (and TFX) read ``transformed_metadata/schema.pbtxt``, a
tensorflow_metadata ``Schema`` in protobuf text format, and derive the
transformed feature spec from it. An output is described as tf.Transform
describes the same output of the same fn:

- ``[batch]`` or ``[batch, k]``: a feature with ``presence`` and ``shape`` (``FixedLenFeature``);
- a 2-D SparseTensor: a bare feature (``VarLenFeature``);
- a RaggedTensor ``[batch, None]``: a feature ``NAME$ragged_values`` and a
  ragged tensor representation named ``NAME`` (``RaggedFeature``).

Categorical ids (vocabularies, buckets) carry an ``int_domain``.
"""

from __future__ import annotations

import os

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from featurebeam_base import types
from featurebeam_base.columns import RAGGED_VALUES, OutputColumn

SCHEMA_FILE = "schema.pbtxt"


def _feature(schema: schema_pb2.Schema, name: str, column: OutputColumn) -> schema_pb2.Feature:
    feature = schema.feature.add(name=name, type=schema_pb2.FeatureType.Value(column.feature_type.schema_type))
    if column.int_domain is not None:
        feature.int_domain.min, feature.int_domain.max = column.int_domain
        feature.int_domain.is_categorical = True
    return feature


def schema_proto(outputs: list[OutputColumn]) -> schema_pb2.Schema:
    schema = schema_pb2.Schema()
    ragged = []
    for column in sorted(outputs, key=lambda o: o.physical_name):
        if column.shape == types.RAGGED:
            _feature(schema, column.physical_name, column)
            ragged.append(column.name)
            continue
        feature = _feature(schema, column.name, column)
        if column.shape == types.VARLEN:
            continue
        feature.presence.min_fraction = 1.0
        feature.shape.SetInParent()
        for size in column.shape:
            feature.shape.dim.add(size=size)
    if ragged:
        group = schema.tensor_representation_group[""]
        for name in ragged:
            group.tensor_representation[name].ragged_tensor.feature_path.step.append(RAGGED_VALUES.format(name))
    return schema


def schema_pbtxt(outputs: list[OutputColumn]) -> str:
    return text_format.MessageToString(schema_proto(outputs))


def write_transformed_metadata(directory: str, outputs: list[OutputColumn]) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, SCHEMA_FILE), "w") as handle:
        handle.write(schema_pbtxt(outputs))
