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

import base64
import csv
import gzip
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
from beam_jobs._progress import count_non_finite, count_rejected, count_rows

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


def _error_text(error: Exception) -> str:
    """A library's error message on one printable line (Arrow's may hold newlines and raw bytes)."""
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _match(pattern: str) -> list[InputFile]:
    try:
        results = FileSystems.match([pattern])
    except Exception as error:  # BeamIOError wraps "no such bucket", permissions, bad patterns
        raise InputError(f"`input.path` {pattern!r} cannot be listed: {_error_text(error)}") from None
    return [InputFile(m.path, m.size_in_bytes) for r in results for m in r.metadata_list]


def _check_readable(path: str, is_folder: bool = False) -> None:
    """Local paths only: remote filesystems report permissions when they are read."""
    mode = os.R_OK | os.X_OK if is_folder else os.R_OK
    if "://" not in path and not os.access(path, mode):
        what = "the folder cannot be listed" if is_folder else "the file cannot be read"
        raise InputError(f"`input.path`: {path}: permission denied ({what})")


def _glob_root(pattern: str) -> str:
    """The folder a local glob starts from: its longest leading part without wildcards."""
    head = pattern[: _GLOB.search(pattern).start()]
    return os.path.dirname(head) or "."


def list_input_files(path: str, input_format: str | None) -> tuple[list[InputFile], str]:
    """Expand ``input.path`` and settle the format; raises InputError or ConfigError."""
    if _GLOB.search(path):
        if "://" not in path:
            root = _glob_root(path)
            if not os.path.isdir(root):
                raise InputError(f"`input.path` {path}: folder {root} does not exist")
            _check_readable(root, is_folder=True)
        files, is_folder = _match(path), False
    elif "://" not in path and os.path.isdir(path):
        _check_readable(path, is_folder=True)
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
    for file in files:
        _check_readable(file.path)
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


def infer_columns(path: str, input_format: str, *, skip_bad_records: bool = False) -> dict[str, str | None]:
    """Column name -> feature type (None: a type featurebeam does not read) of one file.

    With ``skip_bad_records``, records that cannot be read are left out of the
    inference (the read reports them later).
    """
    try:
        arrow_schema = READERS[input_format].schema_of(path, skip=skip_bad_records)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"{path}: cannot read the {input_format} schema: {_error_text(error)}") from None
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


def _first_schema(files: list[InputFile], input_format: str, skip_bad_records: bool) -> tuple[str, dict]:
    """The columns of the first file; when skipping bad records, of the first file that can be read."""
    first_error = None
    for file in files if skip_bad_records else files[:1]:
        try:
            return file.path, infer_columns(file.path, input_format, skip_bad_records=skip_bad_records)
        except InputError as error:
            first_error = first_error or error
    raise first_error


def resolve_schema(
    files: list[InputFile],
    input_format: str,
    declared: Mapping[str, ColumnSpec],
    *,
    skip_bad_records: bool = False,
) -> ResolvedSchema:
    """Infer column types from the first file; entries of ``input.schema`` override them."""
    first, inferred = _first_schema(files, input_format, skip_bad_records)
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
# Bad records


@dataclass(frozen=True)
class BadRecord:
    """A record that cannot be read: where it is, why, and its raw content when there is one.

    ``unit`` is what ``number`` counts, from 1: a ``line`` of a CSV or JSON Lines
    file, a ``row`` of a Parquet file, a ``record`` of a TFRecord file.
    ``number`` is None when the whole file is unreadable. ``rows`` is how many
    rows the entry stands for: 1 for a line, row or record, the undecodable rest
    of a Parquet row group, or None when nobody can tell (a truncated file).
    """

    path: str
    unit: str
    number: int | None
    reason: str
    raw: str | bytes | None = None
    rows: int | None = 1

    def message(self) -> str:
        where = f"{self.unit} {self.number}: " if self.number is not None else ""
        return f"{self.path}: {where}{self.reason}"

    def to_json(self) -> str:
        """One line of ``OUTPUT/rejected/part-*.jsonl``."""
        entry: dict[str, object] = {"file": self.path}
        if self.number is not None:
            entry[self.unit] = self.number
        entry["reason"] = self.reason
        entry["rows"] = self.rows
        if isinstance(self.raw, bytes):
            entry["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        elif self.raw is not None:
            entry["raw"] = self.raw
        return json.dumps(entry, ensure_ascii=False)


class BadRecords:
    """What a reader does with a record it cannot read (``input.on_bad_record``).

    ``fail``: ``reject`` raises InputError naming the file and the place.
    ``skip``: ``reject`` sets the record aside, and ``take`` hands over the
    records set aside so far. Readers never drop a record any other way.
    """

    def __init__(self, skip: bool = False):
        self.skip = skip
        self._rejected: list[BadRecord] = []

    def reject(self, bad: BadRecord) -> None:
        if not self.skip:
            raise InputError(bad.message())
        self._rejected.append(bad)

    def take(self) -> list[BadRecord]:
        taken, self._rejected = self._rejected, []
        return taken


def _failing_positions(array: pa.Array, convert, *, first_only: bool = False) -> list[int]:
    """Positions of the values ``convert`` rejects (raises ArrowInvalid on), found by bisection.

    Costs O(k log n) vectorized calls for k bad values among n.
    """

    def search(start: int, stop: int) -> list[int]:
        try:
            convert(array.slice(start, stop - start))
            return []
        except pa.ArrowInvalid:
            if stop - start == 1:
                return [start]
        middle = (start + stop) // 2
        left = search(start, middle)
        if first_only and left:
            return left
        return left + search(middle, stop)

    return search(0, len(array)) if len(array) else []


def _shown(value) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            pass  # shown as bytes: b'\xff'
    return repr(value)


def _a(feature_type: str) -> str:
    return {"float": "a number", "int": "an integer", "string": "a string"}[feature_type]


# ---------------------------------------------------------------------------
# Readers
#
# ``READERS[format].batches(path, columns, types, batch_size, bad)`` yields
# ``(first_row, batch)``: RecordBatches of the file's rows, and the 0-based index
# of each batch's first row among the rows read. Records that cannot be read
# go to ``bad`` (which raises, or sets them aside).

ARROW_TYPES = {"float": pa.float32(), "int": pa.int64(), "string": pa.binary()}
_READ_TYPES = {"float": pa.float32(), "int": pa.int64(), "string": pa.string()}  # what text parsers produce
_TEXT_BLOCK = 8 << 20
_SCHEMA_SAMPLE_BYTES = 1 << 20
_SCHEMA_SAMPLE_RECORDS = 1000


def _source(path: str):
    """What pyarrow opens best: the path for local files (memory-mapped), else a stream."""
    return path if "://" not in path else open_file(path, compressed=False)


def _not_parquet(error: Exception) -> str:
    if isinstance(error, PermissionError):
        return "permission denied (the file cannot be read)"
    return f"not a readable Parquet file: it is truncated or corrupt ({_error_text(error)})"


class _ParquetReader:
    """Parquet files, row group by row group.

    A file whose footer cannot be read (a truncated file) is one bad record of
    unknown size; a row group that cannot be decoded is one bad record holding
    its remaining rows. Parquet cannot be split into rows any finer than that.
    """

    def schema_of(self, path: str, skip: bool = False) -> pa.Schema:
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(_source(path))
        except (pa.ArrowException, OSError) as error:
            message = f"{path}: {_not_parquet(error)}"
        raise InputError(message)

    def columns_of(self, path: str) -> list[str]:
        return self.schema_of(path).names

    def batches(self, path, columns, types, batch_size, bad):
        import pyarrow.parquet as pq

        try:
            parquet_file = pq.ParquetFile(_source(path))
        except (pa.ArrowException, OSError) as error:
            bad.reject(BadRecord(path, "file", None, _not_parquet(error), rows=None))
            return
        present = [c for c in columns if c in parquet_file.schema_arrow.names]
        first_row = 0
        for group in range(parquet_file.num_row_groups):
            group_rows = parquet_file.metadata.row_group(group).num_rows
            read = 0
            try:
                for batch in parquet_file.iter_batches(batch_size=batch_size, row_groups=[group], columns=present):
                    yield first_row + read, batch
                    read += batch.num_rows
            except (pa.ArrowException, OSError) as error:
                reason = (
                    f"corrupt Parquet data: row group {group + 1} cannot be decoded from this row on "
                    f"({group_rows - read} rows): {_error_text(error)}"
                )
                bad.reject(BadRecord(path, "row", first_row + read + 1, reason, rows=group_rows - read))
            first_row += group_rows


def _skip_row(row) -> str:
    return "skip"


class _CsvReader:
    """CSV files with a header line; an empty field is a missing value.

    The fast path parses straight into the column types. It stops at the first
    problem; the checking path (``_checked_csv``) then finds the bad record, or,
    with ``on_bad_record: skip``, reads the whole file.
    """

    def schema_of(self, path: str, skip: bool = False) -> pa.Schema:
        import pyarrow.csv as pcsv

        parse = pcsv.ParseOptions(invalid_row_handler=_skip_row if skip else None)
        with open_stream(path) as handle:
            try:
                read = pcsv.ReadOptions(block_size=_SCHEMA_SAMPLE_BYTES)
                return pcsv.open_csv(handle, read_options=read, parse_options=parse).schema
            except pa.ArrowInvalid as error:
                message = f"{path}: {_error_text(error)}"
        raise InputError(_diagnose_csv_fields(path) or message)

    def columns_of(self, path: str) -> list[str]:
        return self.schema_of(path, skip=True).names

    def batches(self, path, columns, types, batch_size, bad):
        if bad.skip:
            yield from _checked_csv(path, columns, types, bad)
            return
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(
            column_types={c: _READ_TYPES[types[c]] for c in columns},
            include_columns=list(columns),
            include_missing_columns=True,
            strings_can_be_null=True,  # an empty field is a missing value, filled from `default`
        )
        first_row = 0
        with open_stream(path) as handle:
            try:
                read = pcsv.ReadOptions(block_size=_TEXT_BLOCK)
                for batch in pcsv.open_csv(handle, read_options=read, convert_options=convert):
                    yield first_row, batch
                    first_row += batch.num_rows
                return
            except pa.ArrowInvalid as error:
                message = f"{path}: {_error_text(error)}"
        for _ in _checked_csv(path, columns, types, bad):  # raises on the first bad record
            pass
        raise InputError(message)


def _text_column(column: pa.Array, feature_type: str) -> pa.Array:
    """A CSV column read as bytes -> its type; raises ArrowInvalid on a value that does not fit."""
    text = column.cast(pa.string())  # checks UTF-8
    if feature_type == "string":
        return text
    return pc.utf8_trim_whitespace(text).cast(_READ_TYPES[feature_type])  # as the typed CSV parser


def _text_value_problem(name: str, value: bytes, feature_type: str) -> str:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return f"column {name!r}: value {_shown(value)} is not valid UTF-8 text"
    return f"column {name!r}: value {_shown(value)} is not {_a(feature_type)}"


def _checked_csv(path, columns, types, bad):
    """CSV rows read as text, then checked and cast column by column.

    A row with the wrong number of fields, or with a value that does not fit
    its column, is a bad record. pyarrow does not say on which line a row is,
    so the lines of the bad ones are found afterwards (``_csv_places``).
    """
    import pyarrow.csv as pcsv

    pending: list[tuple[str, int, str | None, str]] = []  # (kind, index of its kind, raw text, reason)
    invalid = [0]

    def on_invalid(row) -> str:
        reason = f"expected {row.expected_columns} fields; got {row.actual_columns}"
        pending.append(("invalid", invalid[0], row.text, reason))
        invalid[0] += 1
        return "skip"

    convert = pcsv.ConvertOptions(
        column_types={c: pa.binary() for c in columns},
        include_columns=list(columns),
        include_missing_columns=True,
        strings_can_be_null=True,
    )
    parsed = 0  # rows with the right number of fields so far
    first_row = 0
    with open_stream(path) as handle:
        try:
            reader = pcsv.open_csv(
                handle,
                # one thread: the handler must see bad rows in file order, to find their lines
                read_options=pcsv.ReadOptions(block_size=_TEXT_BLOCK, use_threads=False),
                parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
                convert_options=convert,
            )
            for batch in reader:
                problems: dict[int, str] = {}
                for name in columns:
                    column = batch.column(name)
                    try:
                        _text_column(column, types[name])
                    except pa.ArrowInvalid:
                        convert_one = lambda array, t=types[name]: _text_column(array, t)  # noqa: E731
                        for position in _failing_positions(column, convert_one, first_only=not bad.skip):
                            problems.setdefault(
                                position, _text_value_problem(name, column[position].as_py(), types[name])
                            )
                pending.extend(("row", parsed + i, None, reason) for i, reason in sorted(problems.items()))
                parsed += batch.num_rows
                if pending and not bad.skip:
                    _reject_csv(path, pending, bad)  # raises
                if problems:
                    keep = np.ones(batch.num_rows, dtype=bool)
                    keep[list(problems)] = False
                    batch = batch.filter(pa.array(keep))
                arrays = [_text_column(batch.column(name), types[name]) for name in columns]
                yield first_row, pa.RecordBatch.from_arrays(arrays, list(columns))
                first_row += batch.num_rows
        except pa.ArrowInvalid as error:  # not a row problem: the file cannot be split into rows
            message = f"{path}: cannot be parsed as CSV: {_error_text(error)}"
        else:
            message = None
    if pending:
        _reject_csv(path, pending, bad)
    if message:
        raise InputError(message)


def _csv_records(path: str) -> Iterator[tuple[int, list[str], str]]:
    """``(first line, fields, raw text)`` of every CSV record, the header included."""
    consumed: list[str] = []

    def lines():
        for line in _text_lines(path):
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    line = 1
    for fields in reader:
        raw = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        yield line, fields, raw
        line = reader.line_num + 1


def _csv_places(path: str, invalid: set[int], rows: set[int]) -> dict[tuple[str, int], tuple[int, str]]:
    """Line and raw text of the wanted records: the n-th with a wrong number of fields, the n-th row."""
    places = {}
    records = _csv_records(path)
    header = next(records, None)
    if header is None:
        return places
    width = len(header[1])
    counts = {"invalid": 0, "row": 0}
    wanted = {"invalid": invalid, "row": rows}
    for line, fields, raw in records:
        if not fields:  # an empty line is no record
            continue
        kind = "row" if len(fields) == width else "invalid"
        if counts[kind] in wanted[kind]:
            places[kind, counts[kind]] = (line, raw)
            if len(places) == len(invalid) + len(rows):
                break
        counts[kind] += 1
    return places


def _reject_csv(path: str, pending: list, bad: BadRecords) -> None:
    places = _csv_places(
        path, {i for kind, i, _, _ in pending if kind == "invalid"}, {i for kind, i, _, _ in pending if kind == "row"}
    )
    entries = []
    for kind, index, text, reason in pending:
        line, raw = places.get((kind, index), (None, text))
        entries.append(BadRecord(path, "line", line, reason, raw=raw))
    pending.clear()
    for entry in sorted(entries, key=lambda e: (e.number is None, e.number or 0)):
        bad.reject(entry)


def _diagnose_csv_fields(path: str) -> str | None:
    """The first record whose number of fields differs from the header's."""
    records = _csv_records(path)
    header = next(records, None)
    if header is None:
        return None
    for line, fields, _ in records:
        if fields and len(fields) != len(header[1]):
            return f"{path}: line {line}: expected {len(header[1])} fields; got {len(fields)}"
    return None


def _line_chunks(path: str) -> Iterator[tuple[int, bytes]]:
    """``(number of the first line, whole lines)`` of a text file, about ``_TEXT_BLOCK`` bytes at a time."""
    line, rest = 1, b""
    with open_stream(path) as handle:
        while True:
            block = handle.read(_TEXT_BLOCK)
            if not block:
                if rest:
                    yield line, rest
                return
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data
                continue
            yield line, data[:cut]
            line += data.count(b"\n", 0, cut)
            rest = data[cut:]


def _parsed_lines(path: str, chunk: bytes, first_line: int, parse, explain, bad: BadRecords) -> list[pa.Table]:
    """``parse(chunk)``; if it fails, the chunk is bisected to the lines that do not parse."""
    try:
        return [parse(chunk)]
    except pa.ArrowInvalid:
        pass
    newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("\n")) + 1
    bounds = [0, *newlines.tolist()]
    if bounds[-1] != len(chunk):
        bounds.append(len(chunk))

    def part(start: int, stop: int) -> list[pa.Table]:
        data = chunk[bounds[start] : bounds[stop]]
        try:
            return [parse(data)]
        except pa.ArrowInvalid as error:
            if stop - start == 1:
                text = data.decode("utf-8", errors="replace").rstrip("\r\n")
                bad.reject(BadRecord(path, "line", first_line + start, explain(text, error), raw=text))
                return []
        middle = (start + stop) // 2
        return part(start, middle) + part(middle, stop)

    return part(0, len(bounds) - 1)


def _arrow_reason(error: Exception) -> str:
    message = _error_text(error)
    message = re.sub(r"^JSON parse error: ", "", message)
    return re.sub(r" in row \d+$", "", message)


class _JsonlReader:
    """JSON Lines: one object per line. Chunks of lines are parsed by pyarrow; a
    chunk that fails is bisected down to its bad lines, so each is named exactly."""

    def schema_of(self, path: str, skip: bool = False) -> pa.Schema:
        import pyarrow.json as pjson

        with open_stream(path) as handle:
            try:
                return pjson.open_json(handle, read_options=pjson.ReadOptions(block_size=_SCHEMA_SAMPLE_BYTES)).schema
            except pa.ArrowInvalid as error:
                message = f"{path}: {_error_text(error)}"
        if not skip:
            raise InputError(_diagnose_jsonl(path) or message)
        sample = _jsonl_sample(path)
        try:
            return pjson.read_json(pa.BufferReader(sample)).schema
        except pa.ArrowInvalid:
            raise InputError(f"{path}: no line at its start is a JSON object whose columns can be read") from None

    def columns_of(self, path: str) -> list[str]:
        names: dict[str, None] = {}
        for line in _text_lines(path):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                names.update(dict.fromkeys(record))
        return list(names)

    def batches(self, path, columns, types, batch_size, bad):
        import pyarrow.json as pjson

        options = pjson.ParseOptions(
            explicit_schema=pa.schema([(c, _READ_TYPES[types[c]]) for c in columns]),
            unexpected_field_behavior="ignore",
        )

        def parse(data: bytes) -> pa.Table:
            read = pjson.ReadOptions(block_size=len(data) + 1, use_threads=False)
            return pjson.read_json(pa.BufferReader(data), read_options=read, parse_options=options)

        def explain(text: str, error: Exception) -> str:
            return _json_line_problem(text, columns, types) or _arrow_reason(error)

        first_row = 0
        for first_line, chunk in _line_chunks(path):
            for table in _parsed_lines(path, chunk, first_line, parse, explain, bad):
                for batch in table.to_batches():
                    yield first_row, batch
                    first_row += batch.num_rows


_EXAMPLE_LISTS = {"float": "float_list", "int": "int64_list", "string": "bytes_list"}


class _TFRecordReader:
    """Serialized tf.Example records, parsed ``batch_size`` at a time by TensorFlow.

    A record whose data does not match its checksum, or that is not a
    tf.Example, or whose features do not fit their columns, is one bad record.
    When the framing itself is broken (a corrupt length, a truncated file),
    the rest of the file cannot be split into records: that rest is one bad
    record of unknown size.
    """

    def schema_of(self, path: str, skip: bool = False) -> dict[str, str]:
        from tensorflow.core.example import example_pb2

        kinds = {"float_list": "float", "int64_list": "int", "bytes_list": "string"}
        types: dict[str, str] = {}
        seen = 0
        # Bad records are left out here: the read reports the first one, or sets them aside.
        for _, batch in _tf_record_batches(path, 256, BadRecords(skip=True)):
            for record in batch:
                try:
                    example = example_pb2.Example.FromString(bytes(record))
                except Exception:
                    continue
                for name, feature in example.features.feature.items():
                    kind = feature.WhichOneof("kind")
                    if kind and name not in types:
                        types[name] = kinds[kind]
                seen += 1
            if seen >= _SCHEMA_SAMPLE_RECORDS:
                break
        return dict(sorted(types.items()))  # a tf.Example's features have no order

    def columns_of(self, path: str) -> list[str]:
        from tensorflow.core.example import example_pb2

        names: dict[str, None] = {}
        for _, batch in _tf_record_batches(path, 256, BadRecords(skip=True)):
            for record in batch:
                try:
                    names.update(dict.fromkeys(example_pb2.Example.FromString(bytes(record)).features.feature))
                except Exception:
                    continue
        return sorted(names)

    def batches(self, path, columns, types, batch_size, bad):
        import tensorflow as tf

        dtypes = {"float": tf.float32, "int": tf.int64, "string": tf.string}
        spec = {c: tf.io.RaggedFeature(dtypes[types[c]], row_splits_dtype=tf.int64) for c in columns}
        first_row = 0
        for numbers, serialized in _tf_record_batches(path, batch_size, bad):
            parsed = _parse_examples(serialized, spec)
            if parsed is None or any(_has_lists(parsed[c]) for c in columns):
                keep = []
                for index, (number, record) in enumerate(zip(numbers, serialized, strict=True)):
                    problem = _example_problem(bytes(record), columns, types)
                    if problem:
                        bad.reject(BadRecord(path, "record", int(number), problem, raw=bytes(record)))
                    else:
                        keep.append(index)
                numbers, serialized = numbers[keep], serialized[keep]
                parsed = _parse_examples(serialized, spec) if len(keep) else {}
                if parsed is None:  # TensorFlow rejects what protobuf accepts: report TensorFlow's words
                    try:
                        tf.io.parse_example(serialized, spec)
                    except Exception as error:
                        reason = getattr(error, "message", str(error)).strip().splitlines()[0]
                        raise InputError(f"{path}: records {numbers[0]}-{numbers[-1]}: {reason}") from None
            if not len(serialized):
                continue
            arrays = [_scalar_column(parsed[c]) for c in columns]
            batch = pa.RecordBatch.from_arrays(arrays, list(columns)) if columns else pa.record_batch({})
            yield first_row, batch
            first_row += len(serialized)


def _parse_examples(serialized, spec):
    import tensorflow as tf

    try:
        return tf.io.parse_example(serialized, spec)
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):  # TF's message may not even decode
        return None


def _has_lists(ragged) -> bool:
    lengths = ragged.row_lengths().numpy()
    return bool(lengths.size) and int(lengths.max()) > 1


def _example_problem(record: bytes, columns, types) -> str | None:
    """Why a serialized record cannot be one row of ``columns``; None if it can."""
    from tensorflow.core.example import example_pb2

    try:
        example = example_pb2.Example.FromString(record)
    except Exception:
        return "not a tf.Example (the record cannot be parsed)"
    features = example.features.feature
    for name in columns:
        if name not in features:
            continue
        kind = features[name].WhichOneof("kind")
        if kind is None:
            continue
        expected = _EXAMPLE_LISTS[types[name]]
        if kind != expected:
            return f"feature {name!r} is {_article(kind)}, but column {name!r} is {types[name]} ({_article(expected)})"
        count = len(getattr(features[name], kind).value)
        if count > 1:
            return f"feature {name!r} has {count} values; featurebeam reads one value per feature"
    return None


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _scalar_column(ragged) -> pa.Array:
    lengths = ragged.row_lengths().numpy()
    values = ragged.flat_values.numpy()
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


def _tf_record_batches(path: str, batch_size: int, bad: BadRecords) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(record numbers, serialized records)`` per batch; numbers count from 1.

    Local files are read by TensorFlow. It stops at a corrupt record and
    silently ends at a truncated one, so in either case the file is walked
    again from that record on, with every checksum checked (``_framed_records``).
    """
    compressed = _is_gzip(path)
    if "://" in path:
        yield from _framed_records(path, compressed, 0, batch_size, bad)
        return
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(path, compression_type="GZIP" if compressed else "").batch(batch_size)
    iterator = iter(dataset)
    read, consumed = 0, 0
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            break
        except tf.errors.OpError:
            yield from _framed_records(path, compressed, read, batch_size, bad)
            return
        records = batch.numpy()
        yield np.arange(read + 1, read + 1 + len(records)), records
        read += len(records)
        consumed += sum(len(r) for r in records) + 16 * len(records)
    if consumed != _expected_size(path, compressed, consumed):
        yield from _framed_records(path, compressed, read, batch_size, bad)


def _expected_size(path: str, compressed: bool, consumed: int) -> int:
    """How many (uncompressed) bytes a whole file holds, as far as it can be told cheaply.

    Uncompressed: the file's size. Gzip: the size its trailer records, modulo 2**32;
    a truncated stream has no trailer, so its last bytes almost never match.
    """
    if not compressed:
        return os.path.getsize(path)
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        recorded = int.from_bytes(handle.read(4), "little")
    return consumed if recorded == consumed % 2**32 else -1


class _BrokenFraming(Exception):
    pass


def _framed_records(path: str, compressed: bool, start: int, batch_size: int, bad: BadRecords):
    """TFRecord framing read in Python from record ``start`` (0-based) on, checking every checksum."""
    import struct
    import zlib

    from apache_beam.io.tfrecordio import _TFRecordUtil

    crc = _TFRecordUtil._masked_crc32c
    numbers: list[int] = []
    records: list[bytes] = []
    index = 0
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
        # Python's gzip, not Beam's decompression: it raises EOFError on a truncated stream
        handle = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        while True:
            number = index + 1
            try:
                header = handle.read(12)
                if not header:
                    break
                if len(header) < 12:
                    raise _BrokenFraming("the file ends inside the record's header (truncated file)")
                length, length_crc = struct.unpack("<QI", header)
                if crc(header[:8]) != length_crc:
                    raise _BrokenFraming("corrupt TFRecord framing: the record's length does not match its checksum")
                data = handle.read(length)
                footer = handle.read(4)
                if len(data) < length or len(footer) < 4:
                    raise _BrokenFraming("the file ends inside the record (truncated file)")
            except (_BrokenFraming, zlib.error, EOFError, OSError) as error:
                if isinstance(error, _BrokenFraming):
                    reason = str(error)
                else:
                    reason = f"truncated or corrupt gzip data ({_error_text(error)})"
                if numbers:
                    yield np.array(numbers), _object_array(records)
                    numbers, records = [], []
                bad.reject(
                    BadRecord(path, "record", number, f"{reason}; the rest of the file cannot be read", rows=None)
                )
                return
            index += 1
            if number <= start:
                continue
            if crc(data) != struct.unpack("<I", footer)[0]:
                if numbers:  # the records before it first, so that bad ones are reported in order
                    yield np.array(numbers), _object_array(records)
                    numbers, records = [], []
                bad.reject(BadRecord(path, "record", number, "corrupt record: its data does not match its checksum"))
                continue
            numbers.append(number)
            records.append(data)
            if len(records) == batch_size:
                yield np.array(numbers), _object_array(records)
                numbers, records = [], []
    if records:
        yield np.array(numbers), _object_array(records)


def _object_array(items: list[bytes]) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


READERS = {"parquet": _ParquetReader(), "csv": _CsvReader(), "jsonl": _JsonlReader(), "tfrecord": _TFRecordReader()}


# ---------------------------------------------------------------------------
# Explaining a JSON line


def _fits(feature_type: str, value) -> bool:
    if value is None:
        return True
    if feature_type == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if feature_type == "int":
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    return isinstance(value, str)


def _text_lines(path: str) -> Iterator[str]:
    """The lines of a text file, each with its line ending, read a block at a time.

    Only used to explain errors and to sample; undecodable bytes become U+FFFD.
    """
    with open_stream(path) as handle:
        rest = b""
        while True:
            block = handle.read(1 << 20)
            if not block:
                break
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield (line + b"\n").decode("utf-8", errors="replace")
        if rest:
            yield rest.decode("utf-8", errors="replace")


def _json_kind(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float" if isinstance(value, float) else "int"
    return "string" if isinstance(value, str) else type(value).__name__


def _json_line_problem(line: str, columns, learned: dict) -> str | None:
    """Why a JSON line cannot be a row: not JSON, not an object, or a value of the wrong kind.

    ``learned`` maps columns to types; with ``columns=None`` every key of the
    line is checked, and a new key's type is learned from its first value.
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not valid JSON ({error.msg})"
    if not isinstance(record, dict):
        return f"expected a JSON object; got {_JSON_NAMES.get(type(record), type(record).__name__)}"
    for column in columns if columns is not None else record:
        value = record.get(column)
        if columns is None and column not in learned and _json_kind(value) is not None:
            kind = _json_kind(value)
            learned[column] = "float" if kind == "int" else kind
        expected = learned.get(column)
        if expected in ("float", "int", "string") and not _fits(expected, value):
            return f"column {column!r}: value {value!r} is not {_a(expected)}"
    return None


_JSON_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _diagnose_jsonl(path, columns=None, types=None) -> str | None:
    """The first line that is not JSON, or whose value does not fit its column.

    Without ``types``, a column's type is the kind of its first value.
    """
    learned = dict(types or {})
    for number, line in enumerate(_text_lines(path), start=1):
        if not line.strip():
            continue
        problem = _json_line_problem(line, columns, learned)
        if problem:
            return f"{path}: line {number}: {problem}"
    return None


def _jsonl_sample(path: str) -> bytes:
    """The first lines of a file that are JSON objects with values of consistent kinds."""
    learned: dict[str, str] = {}
    kept, size = [], 0
    for line in _text_lines(path):
        if size > _SCHEMA_SAMPLE_BYTES:
            break
        if line.strip() and _json_line_problem(line, None, learned) is None:
            kept.append(line.encode())
            size += len(kept[-1])
    return b"".join(kept)


# ---------------------------------------------------------------------------
# Casting and defaults


def _castable(column: pa.Array, feature_type: str) -> pa.Array:
    """``column`` as its feature type: ArrowInvalid for a value that does not fit,
    ArrowNotImplementedError for a type that never does."""
    target = ARROW_TYPES[feature_type]
    if column.type == target:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), target)
    if feature_type == "string":
        if not (pa.types.is_string(column.type) or pa.types.is_binary(column.type)):
            if pa.types.is_large_string(column.type):
                return column.cast(pa.large_binary()).cast(target)
            column = column.cast(pa.string())
        return column.cast(target)
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    numeric = numeric or pa.types.is_decimal(column.type) or pa.types.is_boolean(column.type)
    # float32 holds every number, if not exactly (as TensorFlow's casts); other casts must be exact
    return column.cast(target, safe=not (feature_type == "float" and numeric))


def _cast(column: pa.Array, feature_type: str, name: str, path: str) -> pa.Array:
    try:
        return _castable(column, feature_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InputError(
            f"{path}: column {name!r} ({column.type}) cannot be read as {feature_type}: {_error_text(error)}"
        ) from None


def _row_text(batch: pa.RecordBatch, position: int) -> str:
    row = {name: batch.column(name)[position].as_py() for name in batch.schema.names}
    row = {k: v.decode("utf-8", errors="backslashreplace") if isinstance(v, bytes) else v for k, v in row.items()}
    return json.dumps(row, default=str, ensure_ascii=False)


def _checked_types(batch: pa.RecordBatch, features, path: str, first_row: int, bad: BadRecords) -> pa.RecordBatch:
    """The batch with each feature's column cast to its type; a row whose value does not fit is a bad record."""
    names = batch.schema.names
    arrays = list(batch.columns)
    problems: dict[int, str] = {}
    for name, feature_type, _ in features:
        if name not in names:
            continue
        index = names.index(name)
        column = batch.column(index)
        try:
            arrays[index] = _castable(column, feature_type)
        except pa.ArrowNotImplementedError:
            raise InputError(
                f"{path}: column {name!r} is {column.type}, which cannot be read as {feature_type}; "
                f"featurebeam reads float, int and string columns"
            ) from None
        except pa.ArrowInvalid:
            convert = lambda array, t=feature_type: _castable(array, t)  # noqa: E731
            for position in _failing_positions(column, convert, first_only=not bad.skip):
                problem = f"column {name!r}: value {_shown(column[position].as_py())} is not {_a(feature_type)}"
                problems[position] = f"{problems[position]}; {problem}" if position in problems else problem
    if not problems:
        return pa.RecordBatch.from_arrays(arrays, names)
    for position in sorted(problems):
        bad.reject(BadRecord(path, "row", first_row + position + 1, problems[position], raw=_row_text(batch, position)))
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[list(problems)] = False
    return _checked_types(batch.filter(pa.array(keep)), features, path, first_row, bad)


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


def _nulls(batch: pa.RecordBatch, name: str) -> int:
    names = batch.schema.names
    return batch.column(names.index(name)).null_count if name in names else batch.num_rows


def _conformed(batches, features, path: str, bad: BadRecords, reader=None) -> Iterator[pa.RecordBatch]:
    """Conformed batches of one file; nulls without a default stop it, counted over the whole file.

    A column the file lacks altogether is reported as missing, with the file's columns.
    """
    rows = 0
    iterator = iter(batches)
    for first_row, batch in iterator:
        batch = _checked_types(batch, features, path, first_row, bad)
        conformed, unfilled = conform(batch, features, path)
        if unfilled:
            name = sorted(unfilled)[0]
            column = batch.column(batch.schema.names.index(name)) if name in batch.schema.names else None
            first = rows + 1 + (pc.index(column.is_null(), True).as_py() if column is not None else 0)
            total, total_rows, counted = unfilled[name], rows + batch.num_rows, True
            try:
                for _, rest in iterator:
                    total += _nulls(rest, name)
                    total_rows += rest.num_rows
            except InputError:  # a bad record further on: the nulls, found first, are what is reported
                counted = False
            if counted and total == total_rows and reader is not None:
                available = reader.columns_of(path)
                if name not in available:
                    raise InputError(
                        f"{path}: column {name!r} is missing from this file (its columns: "
                        f"{', '.join(repr(c) for c in available)}); set `input.schema.{name}.default` "
                        "to fill it with a constant"
                    )
            raise InputError(
                f"{path}: column {name!r} has {'' if counted else 'at least '}{total} null values "
                f"(first in row {first}) and no default; "
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


REJECTED = "rejected"


class _ReadFile(beam.DoFn):
    """A file path -> its rows as conformed RecordBatches of ``batch_size`` rows.

    With ``skip_bad_records``, the primary read also emits each bad record, as
    a JSON line, on the ``rejected`` output (later passes skip the same
    records without reporting them again).
    """

    def __init__(self, input_format: str, features, batch_size: int, stage: str = "read", skip_bad_records=False):
        self._format = input_format
        self._features = [tuple(f) for f in features]
        self._batch_size = batch_size
        self._stage = stage
        self._primary = stage == "read"  # the read whose rows count as the job's input
        self._skip = skip_bad_records

    def process(self, path: str):
        if self._primary:
            count_rows("files", 1)  # so that an empty input still reports its row count: 0
        names = [f[0] for f in self._features]
        types = {f[0]: f[1] for f in self._features}
        bad = BadRecords(self._skip)
        reader = READERS[self._format]
        raw = reader.batches(path, names, types, self._batch_size, bad)
        floats = [i for i, feature in enumerate(self._features) if feature[1] == "float"]
        for batch in rebatch(_conformed(raw, self._features, path, bad, reader), self._batch_size):
            yield from self._rejected(bad)
            count_rows(self._stage, batch.num_rows)
            if not self._primary:
                yield batch
                continue
            for index in floats:
                non_finite = batch.num_rows - np.count_nonzero(np.isfinite(batch.column(index).to_numpy()))
                if non_finite:
                    count_non_finite(names[index], int(non_finite))
            yield batch
        yield from self._rejected(bad)

    def _rejected(self, bad: BadRecords):
        for entry in bad.take():
            if self._primary:
                count_rejected(entry.path, entry.rows)
                yield beam.pvalue.TaggedOutput(REJECTED, entry.to_json())


def _first(value, _):
    return value


class ReadBatches(beam.PTransform):
    """``PBegin`` -> ``PCollection[pa.RecordBatch]`` of the given files' ``schema`` columns.

    Columns are float32, int64 or binary, without nulls. Files are spread over
    workers; each file is read by one worker. ``stage`` names the row counter:
    the job's first read counts as ``read`` (and counts non-finite floats);
    a job reads its input again for each later pass, counted separately.

    ``on_bad_record="fail"`` stops at the first record that cannot be read;
    ``"skip"`` leaves bad records out. The first read then writes them to
    ``rejected_dir`` as JSON lines (file, place, reason, raw content) and
    counts them; later passes skip the same records silently.
    """

    def __init__(
        self,
        paths: list[str],
        input_format: str,
        schema,
        *,
        batch_size: int = 65536,
        stage: str = "read",
        on_bad_record: str = "fail",
        rejected_dir: str | None = None,
        after=None,
    ):
        super().__init__()
        self._after = after
        if on_bad_record not in ("fail", "skip"):
            raise ValueError(f"on_bad_record must be 'fail' or 'skip'; got {on_bad_record!r}")
        if on_bad_record == "skip" and stage == "read" and rejected_dir is None:
            raise ValueError("on_bad_record='skip' needs a rejected_dir: bad records are never dropped silently")
        self._paths = list(paths)
        self._format = input_format
        self._features = [(f.name, f.type, f.default) for f in schema.features]
        self._batch_size = batch_size
        self._stage = stage
        self._skip = on_bad_record == "skip"
        self._rejected_dir = rejected_dir

    def expand(self, pbegin):
        files = pbegin | "Files" >> beam.Create(self._paths)
        if self._after is not None:
            # Reading starts only once ``after`` (the side input the readers' consumers
            # wait for) exists. Otherwise a runner may read everything early and hold
            # it until then: the DirectRunner did, 7 GB at 10M rows.
            files = files | "WaitForSideInput" >> beam.Map(_first, beam.pvalue.AsSingleton(self._after))
        if len(self._paths) > 1:
            files = files | "SpreadFiles" >> beam.Reshuffle()
        read = _ReadFile(self._format, self._features, self._batch_size, self._stage, self._skip)
        if not (self._skip and self._stage == "read"):
            return files | "ReadFiles" >> beam.ParDo(read)
        outputs = files | "ReadFiles" >> beam.ParDo(read).with_outputs(REJECTED, main="batches")
        _ = outputs[REJECTED] | "WriteRejected" >> beam.io.WriteToText(
            FileSystems.join(self._rejected_dir, "part"),
            file_name_suffix=".jsonl",
            shard_name_template=SHARD_TEMPLATE,
            skip_if_empty=True,
        )
        return outputs.batches


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
