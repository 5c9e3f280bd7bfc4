"""Run one preprocessing_fn through tensorflow-transform and through featurebeam."""

from __future__ import annotations

import glob
import os
import pickle
import tempfile
import uuid

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf

import preprocessing as pp
from beam_jobs import AnalyzeAndTransformDataset
from preprocessing import engine


def _dump(element, directory):
    with open(os.path.join(directory, uuid.uuid4().hex), "wb") as handle:
        pickle.dump(element, handle)


def collect(pcoll, label="Collect"):
    """Materialize a PCollection's elements into files; read them back with ``collected``.

    Works with every runner mode (elements are written from the workers).
    """
    directory = tempfile.mkdtemp(prefix="fb_collect_")
    _ = pcoll | label >> beam.Map(_dump, directory)
    return directory


def collected(directory):
    elements = []
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        with open(path, "rb") as handle:
            elements.append(pickle.load(handle))
    return elements


def _arrow_column(values, feature: pp.Feature) -> pa.Array:
    value_type = engine.arrow_type(feature.type) if feature.type != "string" else pa.string()
    if feature.is_list:  # one sequence per row
        return pa.array([list(np.asarray(row).tolist()) for row in values], type=pa.list_(value_type))
    return pa.array(values, type=value_type)


def columns_to_batches(columns: dict[str, np.ndarray], schema: pp.Schema, batch_size: int) -> list[pa.RecordBatch]:
    n = len(next(iter(columns.values())))
    batches = []
    for start in range(0, n, batch_size):
        arrays = {}
        for feature in schema.features:
            arrays[feature.name] = _arrow_column(columns[feature.name][start : start + batch_size], feature)
        batches.append(pa.record_batch(arrays))
    return batches


def run_featurebeam(fn, schema, columns, *, batch_size=97, output_dir=None, options=None):
    """Transformed columns (numpy, sorted by row order) and the output directory."""
    output_dir = output_dir or tempfile.mkdtemp(prefix="fb_out_")
    n = len(next(iter(columns.values())))
    schema_with_row = pp.Schema(schema.features + (pp.Feature("row_id_", "int"),))
    columns = dict(columns, row_id_=np.arange(n, dtype=np.int64))
    batches = columns_to_batches(columns, schema_with_row, batch_size)

    def with_row(inputs):
        outputs = dict(fn(inputs))
        outputs["row_id_"] = tf.identity(inputs["row_id_"])
        return outputs

    with beam.Pipeline(options=options) as pipeline:
        transformed, _ = (
            pipeline | beam.Create(batches, reshuffle=False),
            schema_with_row,
        ) | AnalyzeAndTransformDataset(with_row, output_dir)
        results = collect(transformed)
    table = pa.Table.from_batches(collected(results))
    order = np.argsort(table.column("row_id_").to_numpy())
    return {
        name: engine.from_arrow(table.column(name))[order] for name in table.column_names if name != "row_id_"
    }, output_dir


def run_tft(fn, schema, columns):
    """Transformed columns from tensorflow-transform (instance dicts, in-memory Beam)."""
    import tensorflow_transform as tft  # noqa: F401  (test-only reference implementation)
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    feature_spec = {f.name: tf.io.FixedLenFeature([], f.tf_dtype) for f in schema.features}
    feature_spec["row_id_"] = tf.io.FixedLenFeature([], tf.int64)
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    n = len(next(iter(columns.values())))
    columns = dict(columns, row_id_=np.arange(n, dtype=np.int64))
    rows = [{name: columns[name][r] for name in columns} for r in range(n)]

    def with_row(inputs):
        outputs = dict(fn(inputs))
        outputs["row_id_"] = tf.identity(inputs["row_id_"])
        return outputs

    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=tempfile.mkdtemp(prefix="tft_tmp_")):
        raw = pipeline | beam.Create(rows, reshuffle=False)
        (data, _), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(with_row)
        results = collect(data)
    transformed = collected(results)
    transformed.sort(key=lambda row: row["row_id_"])
    names = [name for name in transformed[0] if name != "row_id_"]
    return {name: np.array([row[name] for row in transformed]) for name in names}


def run_tft_with_spec(
    fn,
    feature_spec: dict,
    columns: dict,
    *,
    desired_batch_size: int | None = None,
    transform_columns: dict | None = None,
) -> dict:
    """tf.Transform's outputs for raw ``columns`` described by a tf.Transform ``feature_spec``.

    ``columns`` holds one sequence per feature, one element per row (a list or
    array for ``VarLenFeature``/``RaggedFeature`` features). Outputs come back in
    row order: dense ``[batch, ...]`` outputs as numpy arrays of their shape,
    sparse and ragged ones as object arrays holding one numpy array per row.
    With ``transform_columns``, ``columns`` are analyzed and the outputs are
    those of ``transform_columns`` (data the analysis did not see).
    """
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    spec = dict(feature_spec, row_id_=tf.io.FixedLenFeature([], tf.int64))
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))

    def rows_of(data):
        n = len(next(iter(data.values())))
        data = dict(data, row_id_=np.arange(n, dtype=np.int64))
        return [{name: _instance_value(data[name][r]) for name in data} for r in range(n)]

    def with_row(inputs):
        outputs = dict(fn(inputs))
        outputs["row_id_"] = tf.identity(inputs["row_id_"])
        return outputs

    temp_dir = tempfile.mkdtemp(prefix="tft_tmp_")
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=temp_dir, desired_batch_size=desired_batch_size):
        raw = pipeline | "Analyzed" >> beam.Create(rows_of(columns), reshuffle=False)
        (data, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            with_row, output_record_batches=True
        )
        if transform_columns is not None:
            other = pipeline | "Transformed" >> beam.Create(rows_of(transform_columns), reshuffle=False)
            data, _ = ((other, metadata), transform_fn) | tft_beam.TransformDataset(output_record_batches=True)
        results = collect(data | beam.Map(lambda batch_and_passthrough: batch_and_passthrough[0]))
        _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(temp_dir, "out"))
    table = pa.Table.from_batches(collected(results))
    order = np.argsort(table.column("row_id_").to_numpy())
    output_spec = tft.TFTransformOutput(os.path.join(temp_dir, "out")).transformed_feature_spec()
    outputs = {}
    for name in table.column_names:
        if name == "row_id_":
            continue
        column = table.column(name).combine_chunks()
        feature = output_spec.get(name)
        outputs[name] = _as_numpy(column, feature)[order]
    return outputs


def _instance_value(value):
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_numpy(column: pa.Array, feature) -> np.ndarray:
    if isinstance(feature, tf.io.FixedLenFeature):
        values = column.flatten() if pa.types.is_list(column.type) or pa.types.is_large_list(column.type) else column
        flat = np.array(values.to_pylist(), dtype=object) if _is_bytes(values.type) else values.to_numpy()
        return flat.reshape([len(column), *feature.shape])
    return list_rows(column)


def _is_bytes(arrow_type) -> bool:
    return any(
        check(arrow_type)
        for check in (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_string, pa.types.is_large_string)
    )


def list_rows(column: pa.Array) -> np.ndarray:
    """A list column as an object array of one numpy array per row, in the list's value dtype."""
    value_type = column.type.value_type
    dtype = object if _is_bytes(value_type) else value_type.to_pandas_dtype()
    rows = np.empty(len(column), dtype=object)
    rows[:] = [np.asarray(row, dtype=dtype) for row in column.to_pylist()]
    return rows
