"""Reading raw data into RecordBatches, and writing transformed ones.

Inputs: a file, a folder or a glob on any Beam filesystem (local, gs://, ...)
of Parquet, CSV, JSON Lines or TFRecord (tf.Example) files. Each format is read
with a vectorized reader (``pyarrow.parquet``, ``pyarrow.csv``,
``pyarrow.json``; ``tf.io.parse_example`` over batches of serialized
tf.Examples), then ``conform`` casts every column to its feature type
(float32, int64, binary) and fills nulls from the column's default. Python
only loops over rows to explain an error, never on the way to a batch.

Outputs: ``part-XXXXX-of-YYYYY.parquet`` or ``.tfrecord.gz`` shards. Their
schema is known before the pipeline runs (from the traced preprocessing_fn,
or from an existing transform_fn's signature), so every shard, even an empty
one, has it. tf.Example output maps float outputs to ``float_list``,
integers to ``int64_list`` and strings to ``bytes_list``; a ``[batch, k]``
output becomes a k-value list in every example.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs._config import INPUT_FORMATS, ColumnSpec, ConfigError, InputError, _nearest, check_default
from beam_jobs._progress import count_non_finite, count_rows

# ---------------------------------------------------------------------------
# Input files, formats and schemas

_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".tfrecord": "tfrecord",
    ".tfrecords": "tfrecord",
    ".tfr": "tfrecord",
}
_COMPRESSED = (".gz", ".bz2", ".zst", ".deflate", ".lzo", ".snappy")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class InputFile:
    path: str
    size_bytes: int


def format_of(path: str) -> str | None:
    """The input format a file name suggests, ignoring a compression suffix."""
    name = os.path.basename(path).lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return _EXTENSIONS.get(os.path.splitext(name)[1])


def _is_hidden(path: str) -> bool:
    return os.path.basename(path.rstrip("/")).startswith((".", "_"))


def _match(pattern: str) -> list[InputFile]:
    try:
        results = FileSystems.match([pattern])
    except Exception as error:  # BeamIOError wraps "no such bucket", permissions, bad patterns
        raise InputError(f"`input.path` {pattern!r} cannot be listed: {error}") from None
    return [InputFile(m.path, m.size_in_bytes) for r in results for m in r.metadata_list]


def list_input_files(path: str, input_format: str | None) -> tuple[list[InputFile], str]:
    """Expand ``input.path`` and settle the format; raises InputError or ConfigError."""
    if _GLOB.search(path):
        files, is_folder = _match(path), False
    elif "://" not in path and os.path.isdir(path):
        files, is_folder = _match(os.path.join(path, "*")), True
    elif "://" not in path:
        if not os.path.exists(path):
            raise InputError(f"`input.path`: {path} does not exist")
        files, is_folder = _match(path), False
    else:
        files, is_folder = [f for f in _match(path) if f.path == path], False
        if not files:
            files, is_folder = _match(path.rstrip("/") + "/*"), True
    files = [f for f in files if not _is_hidden(f.path) and not f.path.endswith("/")]
    if is_folder:
        known = [f for f in files if format_of(f.path) == input_format or (input_format is None and format_of(f.path))]
        files = known
    files.sort(key=lambda f: f.path)
    if not files:
        raise InputError(f"`input.path` matches no input files: {path}")
    if input_format is None:
        formats = sorted({format_of(f.path) or "?" for f in files})
        if len(formats) != 1 or formats == ["?"]:
            allowed = ", ".join(repr(f) for f in INPUT_FORMATS)
            raise ConfigError(
                f"`input.format` must be set to one of {allowed}: it cannot be told from the file names "
                f"(found {', '.join(os.path.basename(f.path) for f in files[:3])})"
            )
        input_format = formats[0]
    return files, input_format


def open_file(path: str, compressed: bool = True):
    """A binary file object; decompressed by extension unless ``compressed=False``."""
    kind = CompressionTypes.AUTO if compressed else CompressionTypes.UNCOMPRESSED
    return FileSystems.open(path, mime_type="application/octet-stream", compression_type=kind)


_ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}


def open_stream(path: str) -> pa.NativeFile:
    """A pyarrow input stream, decompressed by extension (.gz, .bz2, .zst, .lz4)."""
    if "://" not in path:
        return pa.input_stream(path, compression="detect")
    raw = pa.PythonFile(open_file(path, compressed=False), mode="r")
    codec = _ARROW_CODECS.get(os.path.splitext(path)[1].lower())
    return pa.CompressedInputStream(raw, codec) if codec else raw


# ---------------------------------------------------------------------------
# Schemas


def type_of_arrow(data_type: pa.DataType) -> str | None:
    """featurebeam's feature type for an Arrow type, or None when it has none."""
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "float"
    if pa.types.is_integer(data_type) or pa.types.is_boolean(data_type):
        return "int"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
        return "string"
    return None


def infer_columns(path: str, input_format: str) -> dict[str, str | None]:
    """Column name -> feature type (None: a type featurebeam does not read) of one file."""
    try:
        arrow_schema = READERS[input_format].schema_of(path)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"{path}: cannot read the {input_format} schema: {error}") from None
    if isinstance(arrow_schema, Mapping):  # tf.Example: already feature types
        return dict(arrow_schema)
    types = {field.name: type_of_arrow(field.type) for field in arrow_schema}
    if input_format in ("csv", "jsonl"):  # text parsers cannot read true/false as integers
        types.update({f.name: None for f in arrow_schema if pa.types.is_boolean(f.type)})
    return types


@dataclass(frozen=True)
class ResolvedSchema:
    """The raw schema a job reads: every column with its type and default."""

    types: dict[str, str]
    defaults: dict[str, object]
    inferred_from: str

    def to_schema(self, names=None):
        import preprocessing as pp

        names = list(self.types) if names is None else [n for n in self.types if n in set(names)]
        return pp.Schema(tuple(pp.Feature(n, self.types[n], self.defaults.get(n)) for n in names))

    def to_dict(self) -> dict:
        return {n: {"type": t, "default": self.defaults.get(n)} for n, t in self.types.items()}


def resolve_schema(files: list[InputFile], input_format: str, declared: Mapping[str, ColumnSpec]) -> ResolvedSchema:
    """Infer column types from the first file; entries of ``input.schema`` override them."""
    first = files[0].path
    inferred = infer_columns(first, input_format)
    types: dict[str, str] = {}
    for name, feature_type in inferred.items():
        if feature_type is not None:
            types[name] = feature_type
    defaults: dict[str, object] = {}
    for name, column in declared.items():
        path = f"input.schema.{name}"
        if name not in inferred and column.default is None:
            near = _nearest(name, inferred)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise ConfigError(
                f"`{path}` names a column the data does not have{hint}; columns of {first}: "
                f"{', '.join(repr(c) for c in inferred)}. Give it a `default` to add it as a constant column"
            )
        feature_type = column.type or types.get(name)
        if feature_type is None:
            raise ConfigError(f"`{path}.type` must be set: the type of column {name!r} cannot be inferred from {first}")
        types[name] = feature_type
        if column.default is not None:
            check_default(feature_type, column.default, f"{path}.default")
            defaults[name] = float(column.default) if feature_type == "float" else column.default
    if not types:
        raise InputError(f"{first}: no columns of a type featurebeam reads (float, int, string)")
    return ResolvedSchema(types, defaults, first)


def write_json(path: str, payload: dict) -> None:
    """Write a JSON document through Beam's filesystems."""
    with FileSystems.create(
        path, mime_type="application/json", compression_type=CompressionTypes.UNCOMPRESSED
    ) as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=False, default=str).encode() + b"\n")


# ---------------------------------------------------------------------------
# Readers

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
                yield from pcsv.open_csv(
                    handle, read_options=pcsv.ReadOptions(block_size=_TEXT_BLOCK), convert_options=convert
                )
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
                yield from pjson.open_json(
                    handle, read_options=pjson.ReadOptions(block_size=_TEXT_BLOCK), parse_options=parse
                )
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
    full = (
        np.zeros(len(lengths), dtype=values.dtype)
        if values.dtype != object
        else np.full(len(lengths), b"", dtype=object)
    )
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
                    return (
                        f"{path}: line {reader.line_num}: column {column!r}: value {value!r} is not {_a(types[column])}"
                    )
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
            return (
                column.cast(pa.large_binary()).cast(target)
                if pa.types.is_large_string(column.type)
                else column.cast(target)
            )
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
                total += (
                    rest.column(rest.schema.names.index(name)).null_count
                    if name in rest.schema.names
                    else rest.num_rows
                )
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

    def __init__(self, input_format: str, features, batch_size: int, stage: str = "read"):
        self._format = input_format
        self._features = [tuple(f) for f in features]
        self._batch_size = batch_size
        self._stage = stage
        self._primary = stage == "read"  # the read whose rows count as the job's input

    def process(self, path: str):
        if self._primary:
            count_rows("files", 1)  # so that an empty input still reports its row count: 0
        names = [f[0] for f in self._features]
        types = {f[0]: f[1] for f in self._features}
        raw = READERS[self._format].batches(path, names, types, self._batch_size)
        floats = [i for i, feature in enumerate(self._features) if feature[1] == "float"]
        for batch in rebatch(_conformed(raw, self._features, path), self._batch_size):
            count_rows(self._stage, batch.num_rows)
            if not self._primary:
                yield batch
                continue
            for index in floats:
                non_finite = batch.num_rows - np.count_nonzero(np.isfinite(batch.column(index).to_numpy()))
                if non_finite:
                    count_non_finite(names[index], int(non_finite))
            yield batch


class ReadBatches(beam.PTransform):
    """``PBegin`` -> ``PCollection[pa.RecordBatch]`` of the given files' ``schema`` columns.

    Columns are float32, int64 or binary, without nulls. Files are spread over
    workers; each file is read by one worker. ``stage`` names the row counter:
    the job's first read counts as ``read`` (and counts non-finite floats);
    a job reads its input again for each later pass, counted separately.
    """

    def __init__(self, paths: list[str], input_format: str, schema, *, batch_size: int = 65536, stage: str = "read"):
        super().__init__()
        self._paths = list(paths)
        self._format = input_format
        self._features = [(f.name, f.type, f.default) for f in schema.features]
        self._batch_size = batch_size
        self._stage = stage

    def expand(self, pbegin):
        files = pbegin | "Files" >> beam.Create(self._paths)
        if len(self._paths) > 1:
            files = files | "SpreadFiles" >> beam.Reshuffle()
        return files | "ReadFiles" >> beam.ParDo(_ReadFile(self._format, self._features, self._batch_size, self._stage))


# ---------------------------------------------------------------------------
# Writers

SHARD_TEMPLATE = "-SSSSS-of-NNNNN"
SUFFIXES = {"parquet": ".parquet", "tfrecord": ".tfrecord.gz"}


@dataclass(frozen=True)
class OutputColumn:
    """One transformed output: ``dtype`` is a TensorFlow dtype name, ``shape`` the instance shape."""

    name: str
    dtype: str
    shape: tuple[int, ...] = ()

    @property
    def kind(self) -> str:
        """float, int or string: the tf.Example list it goes into."""
        if self.dtype == "string":
            return "string"
        return "float" if np.issubdtype(np.dtype(self.dtype), np.floating) else "int"

    @property
    def arrow_type(self) -> pa.DataType:
        data_type = pa.binary() if self.dtype == "string" else pa.from_numpy_dtype(np.dtype(self.dtype))
        for size in reversed(self.shape):
            data_type = pa.list_(data_type, size)
        return data_type


def arrow_schema(columns: list[OutputColumn]) -> pa.Schema:
    """Columns sorted by name, as ``TransformDataset`` emits them."""
    return pa.schema([(c.name, c.arrow_type) for c in sorted(columns, key=lambda c: c.name)])


def to_table(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    arrays = [batch.column(batch.schema.names.index(f.name)).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


_LISTS = {"float": "float_list", "int": "int64_list", "string": "bytes_list"}


def encode_examples(batch: pa.RecordBatch, kinds: dict[str, str]) -> list[bytes]:
    """Serialized tf.Examples, one per row, with deterministic (sorted) feature order."""
    from tensorflow.core.example import example_pb2

    from preprocessing.engine import from_arrow

    rows = batch.num_rows
    columns = []
    for name in batch.schema.names:
        values = from_arrow(batch.column(name)).reshape(rows, -1)
        columns.append((name, _LISTS[kinds[name]], values.tolist()))
    serialized = []
    for row in range(rows):
        example = example_pb2.Example()
        features = example.features.feature
        for name, list_field, values in columns:
            getattr(features[name], list_field).value.extend(values[row])
        serialized.append(example.SerializeToString(deterministic=True))
    return serialized


def _to_examples(batch: pa.RecordBatch, schema: pa.Schema, kinds: dict[str, str]) -> list[bytes]:
    if not batch.num_rows:
        return []
    return encode_examples(to_table(batch, schema).combine_chunks().to_batches()[0], kinds)


def _counted(batch: pa.RecordBatch) -> pa.RecordBatch:
    count_rows("written", batch.num_rows)
    return batch


class WriteBatches(beam.PTransform):
    """Writes RecordBatches under ``directory`` as ``part-*`` shards; returns the file names."""

    def __init__(self, directory: str, output_format: str, columns: list[OutputColumn], *, num_shards: int = 0):
        super().__init__()
        self._directory = directory
        self._format = output_format
        self._columns = list(columns)
        self._num_shards = num_shards

    def expand(self, batches):
        prefix = FileSystems.join(self._directory, "part")
        counted = batches | "CountRows" >> beam.Map(_counted)
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
        kinds = {c.name: c.kind for c in self._columns}
        return (
            counted
            | "ToExamples" >> beam.FlatMap(_to_examples, schema, kinds)
            | "WriteTFRecord"
            >> beam.io.WriteToTFRecord(
                prefix,
                file_name_suffix=SUFFIXES["tfrecord"],
                num_shards=self._num_shards,
                shard_name_template=SHARD_TEMPLATE,
                compression_type=CompressionTypes.GZIP,
            )
        )
