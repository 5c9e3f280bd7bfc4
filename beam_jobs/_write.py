"""Writing: transformed RecordBatches as Parquet or tf.Example shards (``WriteBatches``), and JSON files."""

from __future__ import annotations

import json

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs._progress import count_rows
from featurebeam_base.columns import OutputColumn

SHARD_TEMPLATE = "-SSSSS-of-NNNNN"
SUFFIXES = {"parquet": ".parquet", "tfrecord": ".tfrecord.gz"}


def arrow_schema(columns: list[OutputColumn]) -> pa.Schema:
    """Columns sorted by name, as ``TransformDataset`` emits them."""
    return pa.schema([(c.name, c.arrow_type) for c in sorted(columns, key=lambda c: c.name)])


def to_table(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    arrays = [batch.column(batch.schema.names.index(f.name)).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _rows(column: pa.Array) -> list[list]:
    """One Python list of values per row: scalars, fixed-size lists and lists alike."""
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        offsets = column.offsets.to_numpy()
        flat = column.flatten().to_pylist()
        start = offsets[0]
        return [flat[a - start : b - start] for a, b in zip(offsets[:-1], offsets[1:])]
    from preprocessing.engine import from_arrow

    return from_arrow(column).reshape(len(column), -1).tolist()


def encode_examples(batch: pa.RecordBatch, lists: dict[str, str], keys: dict[str, str] | None = None) -> list[bytes]:
    """Serialized tf.Examples, one per row, with deterministic (sorted) feature order.

    ``lists`` names each column's tf.Example list (``float_list``, ...); ``keys``
    its feature key when it is not the column's name. An empty row is a present
    feature with an empty list, as TFX writes it.
    """
    from tensorflow.core.example import example_pb2

    keys = keys or {}
    columns = [(keys.get(name, name), lists[name], _rows(batch.column(name))) for name in batch.schema.names]
    serialized = []
    for row in range(batch.num_rows):
        example = example_pb2.Example()
        features = example.features.feature
        for key, list_field, values in columns:
            getattr(features[key], list_field).value.extend(values[row])
        serialized.append(example.SerializeToString(deterministic=True))
    return serialized


def _to_examples(batch: pa.RecordBatch, schema: pa.Schema, lists: dict[str, str], keys: dict[str, str]) -> list[bytes]:
    if not batch.num_rows:
        return []
    return encode_examples(to_table(batch, schema).combine_chunks().to_batches()[0], lists, keys)


def _counted(batch: pa.RecordBatch) -> pa.RecordBatch:
    count_rows("written", batch.num_rows)
    return batch


def _rows_written(batch: pa.RecordBatch) -> dict[str, int]:
    return {"rows_written": batch.num_rows}


class WriteBatches(beam.PTransform):
    """Writes RecordBatches under ``directory`` as ``part-*`` shards; returns the file names."""

    def __init__(
        self,
        directory: str,
        output_format: str,
        columns: list[OutputColumn],
        *,
        num_shards: int = 0,
        counts_path: str | None = None,
    ):
        super().__init__()
        self._counts_path = counts_path  # the rows written, counted as data (for run.json)
        self._directory = directory
        self._format = output_format
        self._columns = list(columns)
        self._num_shards = num_shards

    def expand(self, batches):
        prefix = FileSystems.join(self._directory, "part")
        counted = batches | "CountRows" >> beam.Map(_counted)
        if self._counts_path is not None:
            from beam_jobs._counts import WriteCounts

            rows = batches | "RowsWritten" >> beam.Map(_rows_written)
            _ = rows | "WriteCounts" >> WriteCounts(self._counts_path)
        schema = arrow_schema(self._columns)
        if self._format == "parquet":
            return (
                counted
                | "ToTables" >> beam.Map(to_table, schema)
                | "WriteParquet"
                >> beam.io.WriteToParquetBatched(
                    prefix,
                    schema,
                    codec="snappy",
                    file_name_suffix=SUFFIXES["parquet"],
                    num_shards=self._num_shards,
                    shard_name_template=SHARD_TEMPLATE,
                )
            )
        lists = {c.name: c.feature_type.example_list for c in self._columns}
        keys = {c.name: c.physical_name for c in self._columns}
        return (
            counted
            | "ToExamples" >> beam.FlatMap(_to_examples, schema, lists, keys)
            | "WriteTFRecord"
            >> beam.io.WriteToTFRecord(
                prefix,
                file_name_suffix=SUFFIXES["tfrecord"],
                num_shards=self._num_shards,
                shard_name_template=SHARD_TEMPLATE,
                compression_type=CompressionTypes.GZIP,
            )
        )


def write_json(path: str, payload: dict) -> None:
    """Write a JSON document through Beam's filesystems."""
    with FileSystems.create(
        path, mime_type="application/json", compression_type=CompressionTypes.UNCOMPRESSED
    ) as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=False, default=str).encode() + b"\n")


def write_file(path: str, data: bytes, mime_type: str = "application/octet-stream") -> None:
    """Write bytes through Beam's filesystems."""
    with FileSystems.create(path, mime_type=mime_type, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
