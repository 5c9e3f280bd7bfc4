"""The exported SavedModel's TF2 interface: the ``transform_fn`` function and the two signatures.

- ``transform_fn(inputs)``: a dict of raw features (a ``[batch]`` or
  ``[batch, k]`` tensor, a ``tf.SparseTensor`` for a varlen feature, a
  ``tf.RaggedTensor`` for a ragged one) to a dict of outputs of the same kinds.
  This is what tf.Transform's ``TFTransformOutput`` and Keras layers call.
- ``serving_default``: the same, with flat tensors only, as signatures must
  be: a varlen feature ``tags`` arrives as ``tags_indices``, ``tags_values``
  and ``tags_dense_shape``; a ragged one as ``tags_values`` and
  ``tags_row_splits``. A list output ``ids`` leaves as ``ids$values`` and
  ``ids$row_splits`` (row splits for a SparseTensor output too: its values in
  index order, one row after another).
- ``transform_examples``: serialized tf.Examples in, the same flat outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import tensorflow as tf

from featurebeam_base import types
from preprocessing._schema import Feature

SERVING_SIGNATURE = "serving_default"
EXAMPLES_SIGNATURE = "transform_examples"
TFT_SIGNATURE = "transform_signature"
EXAMPLES_INPUT = "examples"
_SPARSE_PARTS = ("indices", "values", "dense_shape")
_RAGGED_PARTS = ("values", "row_splits")
OUTPUT_PARTS = ("values", "row_splits")  # a list output's flat outputs: NAME$values, NAME$row_splits


def input_spec(feature: Feature):
    if feature.shape == types.VARLEN:
        return tf.SparseTensorSpec([None, None], feature.tf_dtype)
    if feature.shape == types.RAGGED:
        return tf.RaggedTensorSpec([None, None], feature.tf_dtype, ragged_rank=1, row_splits_dtype=tf.int64)
    return tf.TensorSpec([None, *feature.shape], feature.tf_dtype, name=feature.name)


def flat_input_names(feature: Feature) -> list[str]:
    """The ``serving_default`` inputs a raw feature arrives as."""
    if feature.shape == types.VARLEN:
        return [f"{feature.name}_{part}" for part in _SPARSE_PARTS]
    if feature.shape == types.RAGGED:
        return [f"{feature.name}_{part}" for part in _RAGGED_PARTS]
    return [feature.name]


def _flat_input_specs(feature: Feature) -> dict[str, tf.TensorSpec]:
    names = flat_input_names(feature)
    if feature.shape == types.VARLEN:
        shapes = ([None, 2], [None], [2])
        dtypes = (tf.int64, feature.tf_dtype, tf.int64)
    elif feature.shape == types.RAGGED:
        shapes, dtypes = ([None], [None]), (feature.tf_dtype, tf.int64)
    else:
        shapes, dtypes = ([None, *feature.shape],), (feature.tf_dtype,)
    return {name: tf.TensorSpec(shape, dtype, name=name) for name, shape, dtype in zip(names, shapes, dtypes)}


def flat_output_names(name: str, tensor_or_spec) -> list[str]:
    if isinstance(tensor_or_spec, (tf.SparseTensor, tf.RaggedTensor, tf.SparseTensorSpec, tf.RaggedTensorSpec)):
        return [f"{name}${part}" for part in OUTPUT_PARTS]
    return [name]


def _composed(features: Iterable[Feature], flat: Mapping[str, tf.Tensor]) -> dict:
    inputs = {}
    for feature in features:
        parts = [flat[name] for name in flat_input_names(feature)]
        if feature.shape == types.VARLEN:
            inputs[feature.name] = tf.SparseTensor(*parts)
        elif feature.shape == types.RAGGED:
            inputs[feature.name] = tf.RaggedTensor.from_row_splits(*parts, validate=False)
        else:
            inputs[feature.name] = parts[0]
    return inputs


def _flattened(outputs: Mapping) -> dict[str, tf.Tensor]:
    flat = {}
    for name, value in outputs.items():
        if isinstance(value, tf.SparseTensor):  # its values in index order, row after row
            value = tf.RaggedTensor.from_value_rowids(
                value.values, value.indices[:, 0], nrows=value.dense_shape[0], validate=False
            )
        if isinstance(value, tf.RaggedTensor):
            flat[f"{name}$values"], flat[f"{name}$row_splits"] = value.flat_values, value.row_splits
        else:
            flat[name] = value
    return flat


def _v1_arguments(inputs: Mapping) -> dict[str, tf.Tensor]:
    """A dict of raw features as the TF1 signature's flat arguments (TensorFlow's own naming)."""
    arguments = {}
    for name, value in inputs.items():
        if isinstance(value, tf.SparseTensor):
            arguments.update({f"{name}_{part}": getattr(value, part) for part in _SPARSE_PARTS})
        elif isinstance(value, tf.RaggedTensor):
            arguments[f"{name}_component_0"], arguments[f"{name}_component_1"] = value.flat_values, value.row_splits
        else:
            arguments[name] = value
    return arguments


class TransformModule(tf.Module):
    """What the TF2 SavedModel tracks: the TF1 graph (with its tables and assets) and the functions over it."""

    def __init__(self, graph_model, features: list[Feature]):
        super().__init__()
        self.graph_model = graph_model
        transform = graph_model.signatures[TFT_SIGNATURE]
        from_examples = graph_model.signatures[EXAMPLES_SIGNATURE]

        @tf.function(input_signature=[{f.name: input_spec(f) for f in features}])
        def transform_fn(inputs):
            return transform(**_v1_arguments(inputs))

        def serving(**flat):
            return _flattened(transform_fn(_composed(features, flat)))

        def examples(**flat):
            return _flattened(from_examples(**flat))

        self.transform_fn = transform_fn
        flat_specs = {name: spec for f in features for name, spec in _flat_input_specs(f).items()}
        self.serving = tf.function(serving).get_concrete_function(**flat_specs)
        self.examples = tf.function(examples).get_concrete_function(
            **{EXAMPLES_INPUT: tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)}
        )
