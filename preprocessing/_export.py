"""Export: the preprocessing_fn with every analyzer result frozen in, as a SavedModel.

The graph is built in TF1 graph mode (placeholders, constants, vocabulary
tables over asset files), saved once as a TF1 SavedModel, then loaded into TF2
and saved again as a TF2 SavedModel (tag ``serve``) with two signatures over
the same constants and vocabulary assets:

- ``serving_default``: one input per raw feature the fn reads, ``[None]``;
- ``transform_examples``: ``examples``, serialized tf.Example protos, ``[None]``;

and a ``transform_fn`` function taking a dict of raw features, which is what
tf.Transform's ``TFTransformOutput`` loads. Loading it needs TensorFlow only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping

import tensorflow as tf

from analyzers import RECORDS_FILE
from featurebeam_base.columns import OutputColumn
from preprocessing._schema import Schema
from preprocessing._tracing import call_preprocessing_fn, raw_placeholders, resolve_int_domains

SERVING_SIGNATURE = "serving_default"
EXAMPLES_SIGNATURE = "transform_examples"
TFT_SIGNATURE = "transform_signature"
EXAMPLES_INPUT = "examples"


def _feature_spec(schema: Schema) -> dict:
    spec = {}
    for feature in schema.features:
        default = feature.default
        if default is not None and feature.type == "string" and isinstance(default, str):
            default = default.encode()
        spec[feature.name] = tf.io.FixedLenFeature([], feature.tf_dtype, default_value=default)
    return spec


def _signature(inputs: Mapping[str, tf.Tensor], outputs: Mapping[str, tf.Tensor]):
    return tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(dict(inputs), dict(outputs))


def output_column(name: str, tensor: tf.Tensor, int_domain=None) -> OutputColumn:
    """What the transformed data holds for one output tensor of the preprocessing_fn."""
    instance = tensor.shape[1:]
    if not instance.is_fully_defined():
        raise ValueError(f"output {name!r} must have a fixed instance shape; got {tensor.shape}")
    return OutputColumn(name, tensor.dtype.name, tuple(instance.as_list()), int_domain)


class _TransformModule(tf.Module):
    """What the TF2 SavedModel tracks: the loaded TF1 graph (its tables and assets)."""

    def __init__(self, graph_model, input_specs: dict[str, tf.TensorSpec]):
        super().__init__()
        self.graph_model = graph_model
        transform = graph_model.signatures[TFT_SIGNATURE]

        @tf.function(input_signature=[input_specs])
        def transform_fn(inputs):
            return transform(**inputs)

        self.transform_fn = transform_fn


def _resave_as_tf2(v1_dir: str, export_dir: str, inputs: Mapping[str, tf.Tensor]) -> None:
    graph_model = tf.saved_model.load(v1_dir)
    specs = {name: tf.TensorSpec([None], tensor.dtype, name=name) for name, tensor in inputs.items()}
    module = _TransformModule(graph_model, specs)
    signatures = {
        SERVING_SIGNATURE: graph_model.signatures[SERVING_SIGNATURE],
        EXAMPLES_SIGNATURE: graph_model.signatures[EXAMPLES_SIGNATURE],
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)


def export_transform_fn(
    preprocessing_fn: Callable,
    schema: Schema,
    values: Mapping[str, tuple],
    export_dir: str,
) -> list[OutputColumn]:
    """Write the SavedModel to ``export_dir`` (which must not exist); return its output columns."""
    work_dir = tempfile.mkdtemp(prefix="featurebeam_export_")
    asset_dir = os.path.join(work_dir, "assets")
    v1_dir = os.path.join(work_dir, "graph_model")
    os.makedirs(asset_dir)
    try:
        graph = tf.Graph()
        with graph.as_default():
            served = call_preprocessing_fn(preprocessing_fn, raw_placeholders(schema), values, asset_dir)
            read = schema.select(served.features_read)
            examples = tf.compat.v1.placeholder(tf.string, [None], name=EXAMPLES_INPUT)
            with tf.compat.v1.name_scope("parse_examples/"):
                parsed = tf.io.parse_example(examples, _feature_spec(read))
            from_examples = call_preprocessing_fn(preprocessing_fn, parsed, values, asset_dir, scope=EXAMPLES_SIGNATURE)
            signatures = {
                SERVING_SIGNATURE: _signature(served.inputs, served.outputs),
                TFT_SIGNATURE: _signature(served.inputs, served.outputs),
                EXAMPLES_SIGNATURE: _signature({EXAMPLES_INPUT: examples}, from_examples.outputs),
            }
            init_op = tf.compat.v1.tables_initializer(name="init_all_tables")
            builder = tf.compat.v1.saved_model.Builder(v1_dir)
            with tf.compat.v1.Session(graph=graph) as session:
                session.run(init_op)
                int_domains = resolve_int_domains(session, served.int_domains)
                builder.add_meta_graph_and_variables(
                    session,
                    [tf.compat.v1.saved_model.tag_constants.SERVING],
                    signature_def_map=signatures,
                    assets_collection=tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.ASSET_FILEPATHS),
                    main_op=init_op,
                    strip_default_attrs=True,
                )
            builder.save()
        _resave_as_tf2(v1_dir, export_dir, served.inputs)
        return [output_column(name, t, int_domains.get(name)) for name, t in served.outputs.items()]
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


ANALYZERS_FILE = RECORDS_FILE


def write_analyzer_records(export_dir: str, records: list[dict]) -> None:
    """Record what every analyzer learned in ``assets.extra/analyzers.json`` (ignored by serving).

    ``records`` are the specs' own ``record``s; this file is the one place
    ``featurebeam inspect`` reads them from.
    """
    path = os.path.join(export_dir, ANALYZERS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump({"analyzers": records}, handle, indent=1)


def export_to(preprocessing_fn, schema, values, export_dir, records: list[dict]) -> list[OutputColumn]:
    """Export into ``export_dir`` atomically: written beside it, then renamed."""
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".transform_fn-", dir=parent)
    target = os.path.join(staging, "saved_model")
    columns = export_transform_fn(preprocessing_fn, schema, values, target)
    write_analyzer_records(target, records)
    if os.path.exists(export_dir):
        shutil.rmtree(export_dir)
    os.replace(target, export_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return columns
