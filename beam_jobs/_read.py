"""Reading: conforming batches to the schema (casts, null defaults), rebatching, and ``ReadBatches``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from beam_jobs._bad_records import BadRecord, BadRecords, _failing_positions
from beam_jobs._casting import castable, is_list_type, row_problem
from beam_jobs._counts import COUNTS, Tallied, WriteCounts
from beam_jobs._inputs import _error_text
from beam_jobs._progress import count_file_read, count_non_finite, count_rejected, count_rows
from beam_jobs._readers import READERS
from beam_jobs._reported_errors import reporting_errors
from beam_jobs._write import SHARD_TEMPLATE
from featurebeam_base import types
from featurebeam_base.errors import InputError

# ---------------------------------------------------------------------------
# Casting and defaults


def _cast(column: pa.Array, feature_type: str, shape, name: str, path: str) -> pa.Array:
    try:
        return castable(column, feature_type, shape)
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
    for name, feature_type, _, shape in features:
        if name not in names:
            continue
        index = names.index(name)
        column = batch.column(index)
        try:
            arrays[index] = castable(column, feature_type, shape)
        except pa.ArrowNotImplementedError:
            raise InputError(_unreadable_column(path, name, column.type, feature_type, shape)) from None
        except pa.ArrowInvalid:
            convert = lambda array, t=feature_type, s=shape: castable(array, t, s)  # noqa: E731
            for position in _failing_positions(column, convert, first_only=not bad.skip):
                problem = row_problem(name, column[position].as_py(), feature_type, shape)
                problems[position] = f"{problems[position]}; {problem}" if position in problems else problem
    if not problems:
        return pa.RecordBatch.from_arrays(arrays, names)
    for position in sorted(problems):
        bad.reject(BadRecord(path, "row", first_row + position + 1, problems[position], raw=_row_text(batch, position)))
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[list(problems)] = False
    return _checked_types(batch.filter(pa.array(keep)), features, path, first_row, bad)


def _unreadable_column(path: str, name: str, data_type: pa.DataType, feature_type: str, shape) -> str:
    if is_list_type(data_type) and is_list_type(data_type.value_type):
        return (
            f"{path}: column {name!r} is {data_type}: lists of lists cannot be read; "
            "featurebeam reads lists of float, int or string values"
        )
    if is_list_type(data_type) and shape == ():
        return (
            f"{path}: column {name!r} is {data_type}, a list per row, but is declared with one value per row; "
            f"set `input.schema.{name}.shape` to varlen (or ragged, or [k])"
        )
    return (
        f"{path}: column {name!r} is {data_type}, which cannot be read as {feature_type}; "
        "featurebeam reads float, int and string columns (and lists of them)"
    )


def _fill(column: pa.Array, default, feature_type: str, shape) -> pa.Array:
    if feature_type == "string" and isinstance(default, str):
        default = default.encode()
    if shape == ():
        return pc.fill_null(column, pa.scalar(default, types.feature_type(feature_type).arrow_type))
    return pc.fill_null(column, pa.scalar([default] * int(np.prod(shape)), column.type))


def conform(
    batch: pa.RecordBatch, features, path: str, keep_nulls: frozenset = frozenset()
) -> tuple[pa.RecordBatch, dict[str, int]]:
    """Cast every feature's column and fill its nulls from its default.

    ``features`` are ``(name, type, default, shape)``. Returns the batch and,
    for columns with nulls but no default, their null counts (the batch is then
    unusable). A missing column is all nulls; for a list feature, every row
    empty. The columns named in ``keep_nulls`` keep their nulls (missing
    values, for statistics).
    """
    arrays, unfilled = [], {}
    names = batch.schema.names
    for name, feature_type, default, shape in features:
        column = batch.column(names.index(name)) if name in names else pa.nulls(batch.num_rows)
        if types.is_list(shape):  # nulls are empty rows
            arrays.append(_cast(column, feature_type, shape, name, path))
            continue
        if shape != () and column.null_count:  # a [k] feature: fill (or report) null rows before the cast
            list_type = pa.list_(types.feature_type(feature_type).arrow_type)
            column = pa.nulls(len(column), list_type) if pa.types.is_null(column.type) else column.cast(list_type)
            if default is None or name in keep_nulls:
                if name not in keep_nulls:
                    unfilled[name] = column.null_count
                arrays.append(column)
                continue
            column = _fill(column, default, feature_type, shape)
        column = _cast(column, feature_type, shape, name, path)
        if column.null_count and name not in keep_nulls:
            if default is None:
                unfilled[name] = column.null_count
            else:
                column = _fill(column, default, feature_type, shape)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, [f[0] for f in features]), unfilled


def _nulls(batch: pa.RecordBatch, name: str) -> int:
    names = batch.schema.names
    return batch.column(names.index(name)).null_count if name in names else batch.num_rows


def _conformed(
    batches, features, path: str, bad: BadRecords, reader=None, keep_nulls: frozenset = frozenset()
) -> Iterator[pa.RecordBatch]:
    """Conformed batches of one file; nulls without a default stop it, counted over the whole file.

    A column the file lacks altogether is reported as missing, with the file's columns.
    """
    rows = 0
    iterator = iter(batches)
    for first_row, batch in iterator:
        batch = _checked_types(batch, features, path, first_row, bad)
        conformed, unfilled = conform(batch, features, path, keep_nulls)
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


def fill_defaults(batch: pa.RecordBatch, schema) -> pa.RecordBatch:
    """The ``schema``'s columns of a batch read with ``keep_nulls``, nulls filled from their defaults."""
    names = batch.schema.names
    arrays = []
    for feature in schema.features:
        column = batch.column(names.index(feature.name))
        if column.null_count and not feature.is_list:  # only columns with a default keep nulls
            column = _fill(column, feature.default, feature.type, feature.shape)
            if feature.shape != ():
                column = _cast(column, feature.type, feature.shape, feature.name, "")
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, [f.name for f in schema.features])


def _non_finite(column: pa.Array, default) -> int:
    """NaN and infinite values of a float column (or its lists), counting its nulls if they will take a
    non-finite default."""
    if is_list_type(column.type):
        column = column.flatten()
    values = column.to_numpy(zero_copy_only=False)  # nulls are NaN here
    count = values.size - int(np.count_nonzero(np.isfinite(values)))
    if column.null_count and default is not None and math.isfinite(default):
        count -= column.null_count
    return count


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
    records without reporting them again). A file that cannot be read raises
    an ``InputError``, reported to ``errors_dir`` for the launching process.
    The columns in ``keep_nulls`` keep their nulls; the primary read counts
    the non-finite values of the float columns in ``warn_non_finite``.
    """

    def __init__(
        self,
        input_format: str,
        features,
        batch_size: int,
        stage: str = "read",
        skip_bad_records=False,
        errors_dir: str | None = None,
        keep_nulls=(),
        warn_non_finite=None,
    ):
        self._format = input_format
        self._features = [(*f, ()) if len(f) == 3 else tuple(f) for f in features]  # (name, type, default, shape)
        self._batch_size = batch_size
        self._stage = stage
        self._primary = stage == "read"  # the read whose rows count as the job's input
        self._skip = skip_bad_records
        self._errors_dir = errors_dir
        self._keep_nulls = frozenset(keep_nulls)
        self._warn = None if warn_non_finite is None else frozenset(warn_non_finite)

    def process(self, path: str):
        return reporting_errors(self._read(path), self._errors_dir)

    def _read(self, path: str):
        if self._primary:
            count_file_read()
        names = [f[0] for f in self._features]
        column_types = {f[0]: f[1] for f in self._features}
        shapes = {f[0]: f[3] for f in self._features}
        bad = BadRecords(self._skip)
        reader = READERS[self._format]
        raw = reader.batches(path, names, column_types, self._batch_size, bad, shapes=shapes)
        floats = [
            i
            for i, feature in enumerate(self._features)
            if feature[1] == "float" and (self._warn is None or feature[0] in self._warn)
        ]
        conformed = _conformed(raw, self._features, path, bad, reader, self._keep_nulls)
        for batch in rebatch(conformed, self._batch_size):
            yield from self._rejected(bad)
            count_rows(self._stage, batch.num_rows)
            if not self._primary:
                yield batch
                continue
            for index in floats:
                non_finite = _non_finite(batch.column(index), self._features[index][2])
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

    With ``counts_dir``, the pass's counts (rows, and for the first read the
    files, NaNs and bad records) are written there as ``<stage>.json``.

    ``on_bad_record="fail"`` stops at the first record that cannot be read;
    ``"skip"`` leaves bad records out. The first read then writes them to
    ``rejected_dir`` as JSON lines (file, place, reason, raw content) and
    counts them; later passes skip the same records silently.

    ``extra_columns`` (``Feature``s) are read and checked too, after the
    schema's, but keep their nulls and are not counted for non-finite values:
    the statistics describe every column, and a pass that does not need them
    still reads them with ``on_bad_record="skip"``, to skip the same records.
    ``keep_nulls=True`` keeps the nulls of the schema's columns that have a
    default too, instead of filling them (for statistics; ``fill_defaults``
    fills them later).
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
        errors_dir: str | None = None,
        after=None,
        extra_columns=(),
        keep_nulls: bool = False,
        counts_dir: str | None = None,
    ):
        super().__init__()
        self._after = after
        self._counts_dir = counts_dir  # where the pass's counts are written as data (for run.json)
        self._errors_dir = errors_dir
        if on_bad_record not in ("fail", "skip"):
            raise ValueError(f"on_bad_record must be 'fail' or 'skip'; got {on_bad_record!r}")
        if on_bad_record == "skip" and stage == "read" and rejected_dir is None:
            raise ValueError("on_bad_record='skip' needs a rejected_dir: bad records are never dropped silently")
        self._paths = list(paths)
        self._format = input_format
        self._features = [(f.name, f.type, f.default, f.shape) for f in schema.features]
        self._warn = [f[0] for f in self._features]
        extra = [(f.name, f.type, f.default, f.shape) for f in extra_columns]
        with_default = [f[0] for f in self._features if f[2] is not None]  # without one, a null is an error
        self._keep_nulls = [f[0] for f in extra] + (with_default if keep_nulls else [])
        self._features += extra
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
        read = _ReadFile(
            self._format,
            self._features,
            self._batch_size,
            self._stage,
            self._skip,
            self._errors_dir,
            keep_nulls=self._keep_nulls,
            warn_non_finite=self._warn,
        )
        rejects = self._skip and self._stage == "read"
        counted = self._counts_dir is not None
        tags = [tag for tag, wanted in ((COUNTS, counted), (REJECTED, rejects)) if wanted]
        if not tags:
            return files | "ReadFiles" >> beam.ParDo(read)
        outputs = files | "ReadFiles" >> beam.ParDo(Tallied(read) if counted else read).with_outputs(
            *tags, main="batches"
        )
        if counted:
            counts_path = FileSystems.join(self._counts_dir, f"{self._stage}.json")
            _ = outputs[COUNTS] | "WriteCounts" >> WriteCounts(counts_path)
        if rejects:
            _ = outputs[REJECTED] | "WriteRejected" >> beam.io.WriteToText(
                FileSystems.join(self._rejected_dir, "part"),
                file_name_suffix=".jsonl",
                shard_name_template=SHARD_TEMPLATE,
                skip_if_empty=True,
            )
        return outputs.batches
