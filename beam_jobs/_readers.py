"""Per-format readers: Parquet, CSV, JSON Lines and TFRecord (tf.Example) files into RecordBatches."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs._bad_records import BadRecord, BadRecords, _a, _failing_positions, _shown
from beam_jobs._inputs import _error_text, open_file, open_stream
from featurebeam_base import types as feature_types
from featurebeam_base.errors import InputError
from featurebeam_base.paths import is_remote

# ---------------------------------------------------------------------------
# Readers
#
# ``READERS[format].batches(path, columns, types, batch_size, bad)`` yields
# ``(first_row, batch)``: RecordBatches of the file's rows, and the 0-based index
# of each batch's first row among the rows read. Records that cannot be read
# go to ``bad`` (which raises, or sets them aside).

_TEXT_BLOCK = 8 << 20
_SCHEMA_SAMPLE_BYTES = 1 << 20
_SCHEMA_SAMPLE_RECORDS = 1000


def _source(path: str):
    """What pyarrow opens best: the path for local files (memory-mapped), else a stream."""
    return path if not is_remote(path) else open_file(path, compressed=False)


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

    def batches(self, path, columns, types, batch_size, bad, shapes=None):
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

    def batches(self, path, columns, types, batch_size, bad, shapes=None):
        if bad.skip:
            yield from _checked_csv(path, columns, types, bad)
            return
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(
            column_types={c: feature_types.feature_type(types[c]).parsed_arrow_type for c in columns},
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
    return pc.utf8_trim_whitespace(text).cast(
        feature_types.feature_type(feature_type).parsed_arrow_type
    )  # as the typed CSV parser


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

    def _list_columns(self, path: str, columns, shapes) -> set[str]:
        """The list features this file holds as JSON arrays (a list feature may also be a column of
        single values, one per row)."""
        wanted = [c for c in columns if shapes.get(c, ()) != ()]
        if not wanted:
            return set()
        try:
            schema = self.schema_of(path, skip=True)
        except InputError:
            return set(wanted)
        arrays = {f.name for f in schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)}
        return {c for c in wanted if c in arrays or c not in schema.names}

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

    def batches(self, path, columns, types, batch_size, bad, shapes=None):
        import pyarrow.json as pjson

        lists = self._list_columns(path, columns, shapes or {})
        parse_types = {}
        for c in columns:
            value_type = feature_types.feature_type(types[c]).parsed_arrow_type
            parse_types[c] = pa.list_(value_type) if c in lists else value_type
        options = pjson.ParseOptions(
            explicit_schema=pa.schema(list(parse_types.items())), unexpected_field_behavior="ignore"
        )

        def parse(data: bytes) -> pa.Table:
            read = pjson.ReadOptions(block_size=len(data) + 1, use_threads=False)
            return pjson.read_json(pa.BufferReader(data), read_options=read, parse_options=options)

        def explain(text: str, error: Exception) -> str:
            return _json_line_problem(text, columns, types, lists) or _arrow_reason(error)

        first_row = 0
        for first_line, chunk in _line_chunks(path):
            for table in _parsed_lines(path, chunk, first_line, parse, explain, bad):
                for batch in table.to_batches():
                    yield first_row, batch
                    first_row += batch.num_rows


class _TFRecordReader:
    """Serialized tf.Example records, parsed ``batch_size`` at a time by TensorFlow.

    A record whose data does not match its checksum, or that is not a
    tf.Example, or whose features do not fit their columns, is one bad record.
    When the framing itself is broken (a corrupt length, a truncated file),
    the rest of the file cannot be split into records: that rest is one bad
    record of unknown size.
    """

    def schema_of(self, path: str, skip: bool = False) -> dict[str, tuple[str, object]]:
        """``{feature: (type, shape)}`` from the first records; a feature with other than one value in
        some record is ``varlen``."""
        from tensorflow.core.example import example_pb2

        found: dict[str, str] = {}
        lists: set[str] = set()
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
                    if kind and name not in found:
                        found[name] = feature_types.of_example_list(kind).name
                    if kind and len(getattr(feature, kind).value) != 1:
                        lists.add(name)
                seen += 1
            if seen >= _SCHEMA_SAMPLE_RECORDS:
                break
        shape = lambda name: feature_types.VARLEN if name in lists else ()  # noqa: E731
        return {name: (found[name], shape(name)) for name in sorted(found)}  # a tf.Example's features have no order

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

    def batches(self, path, columns, types, batch_size, bad, shapes=None):
        import tensorflow as tf

        spec = {
            c: tf.io.RaggedFeature(tf.as_dtype(feature_types.feature_type(types[c]).dtype), row_splits_dtype=tf.int64)
            for c in columns
        }
        shapes = shapes or {}
        first_row = 0
        for numbers, serialized in _tf_record_batches(path, batch_size, bad):
            parsed = _parse_examples(serialized, spec)
            lengths = None if parsed is None else _row_lengths(parsed, columns)
            if lengths is None or any(_unfit_counts(lengths[c], shapes.get(c, ())) for c in columns):
                keep = []
                for index, (number, record) in enumerate(zip(numbers, serialized, strict=True)):
                    problem = _example_problem(bytes(record), columns, types, shapes)
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
                lengths = _row_lengths(parsed, columns) if len(keep) else {}
            if not len(serialized):
                continue
            arrays = [_column(parsed[c], lengths[c], shapes.get(c, ())) for c in columns]
            batch = pa.RecordBatch.from_arrays(arrays, list(columns)) if columns else pa.record_batch({})
            yield first_row, batch
            first_row += len(serialized)


def _parse_examples(serialized, spec):
    import tensorflow as tf

    try:
        return tf.io.parse_example(serialized, spec)
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):  # TF's message may not even decode
        return None


def _row_lengths(parsed, columns) -> dict[str, np.ndarray]:
    """Values per row of each parsed column, computed once per batch."""
    return {c: parsed[c].row_lengths().numpy() for c in columns}


def _unfit_counts(lengths: np.ndarray, shape) -> bool:
    """Whether some record holds a number of values its column cannot take (0 is a missing value)."""
    if feature_types.is_list(shape) or not lengths.size:
        return False
    size = int(np.prod(shape)) if shape else 1
    return bool(np.any((lengths != 0) & (lengths != size)))


def _example_problem(record: bytes, columns, types, shapes=None) -> str | None:
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
        expected = feature_types.feature_type(types[name]).example_list
        if kind != expected:
            return f"feature {name!r} is {_article(kind)}, but column {name!r} is {types[name]} ({_article(expected)})"
        count = len(getattr(features[name], kind).value)
        shape = (shapes or {}).get(name, ())
        if shape == () and count > 1:
            return (
                f"feature {name!r} has {count} values, but column {name!r} holds one value per row "
                f"(set `input.schema.{name}.shape: varlen` to read lists)"
            )
        if shape != () and not feature_types.is_list(shape) and count not in (0, int(np.prod(shape))):
            return f"feature {name!r} has {count} values where {feature_types.shape_text(shape)} are declared"
    return None


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _column(ragged, lengths: np.ndarray, shape) -> pa.Array:
    """A parsed feature as one value per row (null where absent) or, for a list feature, one list per row."""
    if shape == ():
        return _scalar_column(ragged, lengths)
    values = ragged.flat_values.numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = pa.array(values, type=pa.binary() if values.dtype == object else None)
    if feature_types.is_list(shape):
        return pa.ListArray.from_arrays(pa.array(offsets), flat)
    absent = pa.array(lengths == 0)  # a missing [k] row is null: filled from the default, or reported
    return pa.ListArray.from_arrays(pa.array(offsets), flat, mask=absent)


def _scalar_column(ragged, lengths: np.ndarray) -> pa.Array:
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
    if is_remote(path):
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


def _json_line_problem(line: str, columns, learned: dict, lists=frozenset()) -> str | None:
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
        if column in lists and value is not None:
            problem = _json_list_problem(column, value, expected)
            if problem:
                return problem
            continue
        if expected in feature_types.TYPE_NAMES and not feature_types.feature_type(expected).fits(value):
            return f"column {column!r}: value {value!r} is not {_a(expected)}"
    return None


def _json_list_problem(column: str, value, expected: str) -> str | None:
    if not isinstance(value, list):
        return f"column {column!r}: value {value!r} is not a list (the column holds lists)"
    for position, item in enumerate(value, start=1):
        if item is None:
            return f"column {column!r}: the list {value!r} holds a null (item {position})"
        if isinstance(item, (list, dict)):
            held = _JSON_NAMES.get(type(item), "an object")
            return f"column {column!r}: the list {value!r} holds {held}; featurebeam reads lists of values"
        if not feature_types.feature_type(expected).fits(item):
            return f"column {column!r}: value {item!r} (in the list) is not {_a(expected)}"
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
