"""Export: the preprocessing_fn with every analyzer result frozen in, as a SavedModel.

The graph is built in TF1 graph mode (placeholders, constants, vocabulary
tables over asset files), saved once as a TF1 SavedModel, then loaded into TF2
and saved again as a TF2 SavedModel (tag ``serve``) whose interface
(``_signatures``) is a ``transform_fn`` function taking a dict of raw features
(what tf.Transform's ``TFTransformOutput`` loads) and the ``serving_default``
and ``transform_examples`` signatures. Loading it needs TensorFlow only.
``assets.extra/interface.json`` records the raw features it reads and the
outputs it makes, for featurebeam's own use.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from analyzers import RECORDS_FILE
from featurebeam_base import types
from featurebeam_base.columns import OutputColumn
from preprocessing._schema import Feature, Schema
from preprocessing._signatures import (
    EXAMPLES_INPUT,
    EXAMPLES_SIGNATURE,
    SERVING_SIGNATURE,
    TFT_SIGNATURE,
    TransformModule,
)
from preprocessing._tracing import call_preprocessing_fn, raw_placeholders, resolve_int_domains

INTERFACE_FILE = "assets.extra/interface.json"


def parsing_spec(feature: Feature):
    """How ``transform_examples`` parses a raw feature from tf.Examples (tf.Transform's feature specs)."""
    if feature.shape == types.VARLEN:
        return tf.io.VarLenFeature(feature.tf_dtype)
    if feature.shape == types.RAGGED:
        return tf.io.RaggedFeature(feature.tf_dtype, row_splits_dtype=tf.int64)
    default = feature.default
    if default is not None and feature.type == "string" and isinstance(default, str):
        default = default.encode()
    if default is not None and feature.shape:
        default = [default] * int(np.prod(feature.shape))
    return tf.io.FixedLenFeature(list(feature.shape), feature.tf_dtype, default_value=default)


def _signature(inputs: Mapping[str, tf.Tensor], outputs: Mapping[str, tf.Tensor]):
    return tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(dict(inputs), dict(outputs))


def output_column(name: str, tensor, int_domain=None) -> OutputColumn:
    """What the transformed data holds for one output of the preprocessing_fn."""
    if isinstance(tensor, tf.SparseTensor):
        return OutputColumn(name, tensor.dtype.name, types.VARLEN, int_domain)
    if isinstance(tensor, tf.RaggedTensor):
        return OutputColumn(name, tensor.dtype.name, types.RAGGED, int_domain)
    instance = tensor.shape[1:]
    if not instance.is_fully_defined():
        raise ValueError(f"output {name!r} must have a fixed instance shape; got {tensor.shape}")
    return OutputColumn(name, tensor.dtype.name, tuple(instance.as_list()), int_domain)


def _resave_as_tf2(v1_dir: str, export_dir: str, features: list[Feature]) -> None:
    module = TransformModule(tf.saved_model.load(v1_dir), features)
    signatures = {SERVING_SIGNATURE: module.serving, EXAMPLES_SIGNATURE: module.examples}
    tf.saved_model.save(module, export_dir, signatures=signatures)


def _write_interface(export_dir: str, features: list[Feature], columns: list[OutputColumn]) -> None:
    path = os.path.join(export_dir, *INTERFACE_FILE.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw = [{"name": f.name, "type": f.type, "shape": f.shape if f.is_list else list(f.shape)} for f in features]
    with open(path, "w") as handle:
        json.dump({"raw_features": raw, "outputs": [c.to_dict() for c in columns]}, handle, indent=1)


def read_interface(export_dir: str) -> tuple[list[Feature], list[OutputColumn]]:
    """The raw features a transform_fn reads and the outputs it makes."""
    with open(os.path.join(export_dir, *INTERFACE_FILE.split("/"))) as handle:
        interface = json.load(handle)
    features = [Feature(f["name"], f["type"], shape=f["shape"]) for f in interface["raw_features"]]
    return features, [OutputColumn.from_dict(c) for c in interface["outputs"]]


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
                parsed = tf.io.parse_example(examples, {f.name: parsing_spec(f) for f in read.features})
            from_examples = call_preprocessing_fn(preprocessing_fn, parsed, values, asset_dir, scope=EXAMPLES_SIGNATURE)
            signatures = {
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
        features = [read[name] for name in served.inputs]
        _resave_as_tf2(v1_dir, export_dir, features)
        columns = [output_column(name, t, int_domains.get(name)) for name, t in served.outputs.items()]
        _write_interface(export_dir, features, columns)
        return columns
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
