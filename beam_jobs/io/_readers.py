"""Readers: input files -> RecordBatches typed by the job's schema.

Each format is read with a vectorized reader (``pyarrow.parquet``,
``pyarrow.csv``, ``pyarrow.json``; ``tf.io.parse_example`` over batches of
serialized tf.Examples), then ``conform`` casts every column to its feature
type (float32, int64, binary) and fills nulls from the column's default.
Python only loops over rows to explain an error, never on the way to a batch.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from beam_jobs._config import InputError
from beam_jobs._progress import count_rows
from beam_jobs.io._files import open_file, open_stream

ARROW_TYPES = {"float": pa.float32(), "int": pa.int64(), "string": pa.binary()}
_READ_TYPES = {"float": pa.float32(), "int": pa.int64(), "string": pa.string()}  # what text parsers produce
_TEXT_BLOCK = 8 << 20
_SCHEMA_SAMPLE_RECORDS = 1000


def _source(path: str):
    """What pyarrow opens best: the path for local files (memory-mapped), else a stream."""
    return path if "://" not in path else open_file(path, compressed=False)


class _ParquetReader:
    def schema_of(self, path: str) -> pa.Schema:
        import pyarrow.parquet as pq

        return pq.read_schema(_source(path))

    def batches(self, path, columns, types, batch_size):
        import pyarrow.parquet as pq

        try:
            parquet_file = pq.ParquetFile(_source(path))
            present = [c for c in columns if c in parquet_file.schema_arrow.names]
            yield from parquet_file.iter_batches(batch_size=batch_size, columns=present)
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"{path}: not a readable Parquet file: {error}") from None


class _CsvReader:
    def schema_of(self, path: str) -> pa.Schema:
        import pyarrow.csv as pcsv

        with open_stream(path) as handle:
            return pcsv.open_csv(handle, read_options=pcsv.ReadOptions(block_size=1 << 20)).schema

    def batches(self, path, columns, types, batch_size):
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(
            column_types={c: _READ_TYPES[types[c]] for c in columns},
            include_columns=list(columns),
            include_missing_columns=True,
            strings_can_be_null=True,  # an empty field is a missing value, filled from `default`
        )
        with open_stream(path) as handle:
            try:
                yield from pcsv.open_csv(handle, read_options=pcsv.ReadOptions(block_size=_TEXT_BLOCK), convert_options=convert)
            except pa.ArrowInvalid as error:
                raise InputError(_diagnose_csv(path, columns, types) or f"{path}: {error}") from None


class _JsonlReader:
    def schema_of(self, path: str) -> pa.Schema:
        import pyarrow.json as pjson

        with open_stream(path) as handle:
            try:
                return pjson.open_json(handle, read_options=pjson.ReadOptions(block_size=1 << 20)).schema
            except pa.ArrowInvalid as error:
                raise InputError(_diagnose_jsonl(path) or f"{path}: {error}") from None

    def batches(self, path, columns, types, batch_size):
        import pyarrow.json as pjson

        parse = pjson.ParseOptions(
            explicit_schema=pa.schema([(c, _READ_TYPES[types[c]]) for c in columns]),
            unexpected_field_behavior="ignore",
        )
        with open_stream(path) as handle:
            try:
                yield from pjson.open_json(handle, read_options=pjson.ReadOptions(block_size=_TEXT_BLOCK), parse_options=parse)
            except pa.ArrowInvalid as error:
                raise InputError(_diagnose_jsonl(path, columns, types) or f"{path}: {error}") from None


class _TFRecordReader:
    """Serialized tf.Example records, parsed ``batch_size`` at a time by TensorFlow."""

    def schema_of(self, path: str) -> dict[str, str]:
        from tensorflow.core.example import example_pb2

        kinds = {"float_list": "float", "int64_list": "int", "bytes_list": "string"}
        types: dict[str, str] = {}
        for index, record in enumerate(_tf_records(path)):
            if index >= _SCHEMA_SAMPLE_RECORDS:
                break
            try:
                example = example_pb2.Example.FromString(record)
            except Exception:
                raise InputError(f"{path}: record {index} is not a tf.Example") from None
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                if kind and name not in types:
                    types[name] = kinds[kind]
        return dict(sorted(types.items()))  # a tf.Example's features have no order

    def batches(self, path, columns, types, batch_size):
        import tensorflow as tf

        dtypes = {"float": tf.float32, "int": tf.int64, "string": tf.string}
        spec = {c: tf.io.RaggedFeature(dtypes[types[c]], row_splits_dtype=tf.int64) for c in columns}
        for start, serialized in _tf_record_batches(path, batch_size):
            try:
                parsed = tf.io.parse_example(serialized, spec)
            except tf.errors.InvalidArgumentError as error:
                raise InputError(f"{path}: {_locate_record(error.message, start)}") from None
            arrays = [_scalar_column(path, c, parsed[c], start) for c in columns]
            yield pa.RecordBatch.from_arrays(arrays, list(columns)) if columns else pa.record_batch({})


def _locate_record(message: str, start: int) -> str:
    match = re.search(r"Index: (\d+)", message)
    first_line = message.strip().splitlines()[0]
    if match:
        return f"record {start + int(match.group(1))}: {first_line}"
    return f"records from {start}: {first_line}"


def _scalar_column(path: str, name: str, ragged, start: int) -> pa.Array:
    lengths = ragged.row_lengths().numpy()
    values = ragged.flat_values.numpy()
    if lengths.size and lengths.max() > 1:
        index = int(np.argmax(lengths > 1))
        raise InputError(
            f"{path}: record {start + index}: feature {name!r} has {lengths[index]} values; "
            "featurebeam reads one value per feature"
        )
    present = lengths == 1
    if present.all():
        return pa.array(values, type=pa.binary() if values.dtype == object else None)
    full = np.zeros(len(lengths), dtype=values.dtype) if values.dtype != object else np.full(len(lengths), b"", dtype=object)
    full[present] = values
    return pa.array(full, mask=~present, type=pa.binary() if values.dtype == object else None)


def _is_gzip(path: str) -> bool:
    with open_file(path, compressed=False) as handle:
        return handle.read(2) == b"\x1f\x8b"


def _tf_records(path: str) -> Iterator[bytes]:
    for _, batch in _tf_record_batches(path, 256):
        yield from (bytes(r) for r in batch)


def _tf_record_batches(path: str, batch_size: int) -> Iterator[tuple[int, list]]:
    """``(index of the first record, serialized records)`` per batch."""
    compression = "GZIP" if _is_gzip(path) else ""
    start = 0
    if "://" not in path:
        import tensorflow as tf

        dataset = tf.data.TFRecordDataset(path, compression_type=compression).batch(batch_size)
        iterator = iter(dataset)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except tf.errors.DataLossError as error:
                raise InputError(f"{path}: corrupt TFRecord data after record {start}: {error.message}") from None
            yield start, batch.numpy()
            start += int(batch.shape[0])
        return
    # Remote files: TFRecord framing through Beam's filesystems (TensorFlow may lack their scheme).
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.io.tfrecordio import _TFRecordUtil

    kind = CompressionTypes.GZIP if compression else CompressionTypes.UNCOMPRESSED
    with FileSystems.open(path, compression_type=kind) as handle:
        batch = []
        while True:
            try:
                record = _TFRecordUtil.read_record(handle)
            except ValueError as error:
                raise InputError(f"{path}: corrupt TFRecord data at record {start + len(batch)}: {error}") from None
            if record is None:
                break
            batch.append(record)
            if len(batch) == batch_size:
                yield start, np.array(batch, dtype=object)
                start, batch = start + len(batch), []
        if batch:
            yield start, np.array(batch, dtype=object)


READERS = {"parquet": _ParquetReader(), "csv": _CsvReader(), "jsonl": _JsonlReader(), "tfrecord": _TFRecordReader()}


# ---------------------------------------------------------------------------
# Explaining a parse error: the first offending line, column and value


def _fits(feature_type: str, value) -> bool:
    if feature_type == "float":
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    if feature_type == "int":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    return value is None or isinstance(value, str)


def _text_lines(path: str) -> io.StringIO:
    """The whole file as text: only used to explain an error."""
    with open_stream(path) as handle:
        return io.StringIO(handle.read().decode("utf-8", errors="replace"), newline=None)


def _json_kind(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float" if isinstance(value, float) else "int"
    return "string" if isinstance(value, str) else type(value).__name__


def _diagnose_jsonl(path, columns=None, types=None) -> str | None:
    """The first line that is not JSON, or whose value does not fit its column.

    Without ``types``, a column's type is the kind of its first value.
    """
    learned = dict(types or {})
    with _text_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                return f"{path}: line {number}: not valid JSON ({error.msg})"
            if not isinstance(record, dict):
                return f"{path}: line {number}: expected a JSON object; got {type(record).__name__}"
            for column in columns if columns is not None else record:
                value = record.get(column)
                if types is None and column not in learned and _json_kind(value) is not None:
                    kind = _json_kind(value)
                    learned[column] = "float" if kind == "int" else kind
                expected = learned.get(column)
                if expected in ("float", "int", "string") and not _fits(expected, value):
                    return f"{path}: line {number}: column {column!r}: value {value!r} is not {_a(expected)}"
    return None


def _diagnose_csv(path, columns, types) -> str | None:
    parse = {"float": float, "int": int, "string": str}
    with _text_lines(path) as lines:
        reader = csv.reader(lines)
        header = next(reader, [])
        positions = {c: header.index(c) for c in columns if c in header}
        for row in reader:
            if len(row) != len(header):
                return f"{path}: line {reader.line_num}: expected {len(header)} fields; got {len(row)}"
            for column, position in positions.items():
                value = row[position]
                if value == "":
                    continue
                try:
                    parse[types[column]](value)
                except ValueError:
                    return f"{path}: line {reader.line_num}: column {column!r}: value {value!r} is not {_a(types[column])}"
    return None


def _a(feature_type: str) -> str:
    return {"float": "a number", "int": "an integer", "string": "a string"}[feature_type]


# ---------------------------------------------------------------------------
# Casting and defaults


def _cast(column: pa.Array, feature_type: str, name: str, path: str) -> pa.Array:
    target = ARROW_TYPES[feature_type]
    if column.type == target:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), target)
    try:
        if feature_type == "string":
            if not (pa.types.is_string(column.type) or pa.types.is_binary(column.type)):
                column = column.cast(pa.string())
            return column.cast(pa.large_binary()).cast(target) if pa.types.is_large_string(column.type) else column.cast(target)
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InputError(f"{path}: column {name!r} ({column.type}) cannot be read as {feature_type}: {error}") from None


def _fill(column: pa.Array, default, feature_type: str) -> pa.Array:
    if feature_type == "string" and isinstance(default, str):
        default = default.encode()
    return pc.fill_null(column, pa.scalar(default, ARROW_TYPES[feature_type]))


def conform(batch: pa.RecordBatch, features, path: str) -> tuple[pa.RecordBatch, dict[str, int]]:
    """Cast every feature's column and fill its nulls from its default.

    ``features`` are ``(name, type, default)``. Returns the batch and, for
    columns with nulls but no default, their null counts (the batch is then
    unusable). A missing column is all nulls.
    """
    arrays, unfilled = [], {}
    names = batch.schema.names
    for name, feature_type, default in features:
        if name in names:
            column = _cast(batch.column(names.index(name)), feature_type, name, path)
        else:
            column = pa.nulls(batch.num_rows, ARROW_TYPES[feature_type])
        if column.null_count:
            if default is None:
                unfilled[name] = column.null_count
            else:
                column = _fill(column, default, feature_type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, [f[0] for f in features]), unfilled


def _conformed(batches: Iterable[pa.RecordBatch], features, path: str) -> Iterator[pa.RecordBatch]:
    """Conformed batches of one file; nulls without a default stop it, counted over the whole file."""
    rows = 0
    iterator = iter(batches)
    for batch in iterator:
        conformed, unfilled = conform(batch, features, path)
        if unfilled:
            name = sorted(unfilled)[0]
            column = batch.column(batch.schema.names.index(name)) if name in batch.schema.names else None
            first = rows + 1 + (pc.index(column.is_null(), True).as_py() if column is not None else 0)
            total = unfilled[name]
            for rest in iterator:
                total += rest.column(rest.schema.names.index(name)).null_count if name in rest.schema.names else rest.num_rows
            what = "missing values" if column is None else "null values"
            raise InputError(
                f"{path}: column {name!r} has {total} {what} (first in row {first}) and no default; "
                f"set `input.schema.{name}.default` to fill them"
            )
        rows += batch.num_rows
        yield conformed


def rebatch(batches: Iterable[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``batch_size`` rows (the last may be smaller)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        rows += batch.num_rows
        if rows < batch_size:
            continue
        table = pa.Table.from_batches(pending).combine_chunks()
        offset = 0
        while rows - offset >= batch_size:
            yield table.slice(offset, batch_size).to_batches()[0]
            offset += batch_size
        pending = table.slice(offset).to_batches() if rows > offset else []
        rows -= offset
    if rows:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


class _ReadFile(beam.DoFn):
    """A file path -> its rows as conformed RecordBatches of ``batch_size`` rows."""

    def __init__(self, input_format: str, features, batch_size: int):
        self._format = input_format
        self._features = [tuple(f) for f in features]
        self._batch_size = batch_size

    def process(self, path: str):
        names = [f[0] for f in self._features]
        types = {f[0]: f[1] for f in self._features}
        raw = READERS[self._format].batches(path, names, types, self._batch_size)
        for batch in rebatch(_conformed(raw, self._features, path), self._batch_size):
            count_rows("read", batch.num_rows)
            yield batch


class ReadBatches(beam.PTransform):
    """``PBegin`` -> ``PCollection[pa.RecordBatch]`` of the given files' ``schema`` columns.

    Columns are float32, int64 or binary, without nulls. Files are spread over
    workers; each file is read by one worker.
    """

    def __init__(self, paths: list[str], input_format: str, schema, batch_size: int = 65536):
        super().__init__()
        self._paths = list(paths)
        self._format = input_format
        self._features = [(f.name, f.type, f.default) for f in schema.features]
        self._batch_size = batch_size

    def expand(self, pbegin):
        files = pbegin | "Files" >> beam.Create(self._paths)
        if len(self._paths) > 1:
            files = files | "SpreadFiles" >> beam.Reshuffle()
        return files | "ReadFiles" >> beam.ParDo(_ReadFile(self._format, self._features, self._batch_size))
