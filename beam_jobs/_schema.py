"""Schemas: a file's column types, and the raw schema a job reads (inferred, then ``input.schema``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from beam_jobs._casting import is_list_type
from beam_jobs._inputs import InputFile, _error_text
from beam_jobs._job import ColumnSpec, check_default
from beam_jobs._readers import READERS
from featurebeam_base import types as feature_types
from featurebeam_base.errors import ConfigError, InputError
from featurebeam_base.naming import did_you_mean, quote_all


def type_of_arrow(data_type: pa.DataType) -> str | None:
    """featurebeam's feature type for an Arrow type, or None when it has none."""
    found = feature_types.of_arrow(data_type)
    return None if found is None else found.name


def column_of_arrow(data_type: pa.DataType) -> tuple[str | None, feature_types.Shape]:
    """The feature type and shape an Arrow column is read as: a list of values is ``varlen``
    (``[k]`` for a fixed-size list); None for a type featurebeam does not read (lists of lists too)."""
    if is_list_type(data_type):
        if is_list_type(data_type.value_type):
            return None, feature_types.VARLEN
        shape = (data_type.list_size,) if pa.types.is_fixed_size_list(data_type) else feature_types.VARLEN
        return type_of_arrow(data_type.value_type), shape
    return type_of_arrow(data_type), ()


def infer_columns(
    path: str, input_format: str, *, skip_bad_records: bool = False
) -> dict[str, tuple[str | None, feature_types.Shape]]:
    """Column name -> (feature type, shape) of one file; the type is None for a column featurebeam does not read.

    With ``skip_bad_records``, records that cannot be read are left out of the
    inference (the read reports them later).
    """
    try:
        arrow_schema = READERS[input_format].schema_of(path, skip=skip_bad_records)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"{path}: cannot read the {input_format} schema: {_error_text(error)}") from None
    if isinstance(arrow_schema, Mapping):  # tf.Example: already (type, shape)
        return dict(arrow_schema)
    columns = {field.name: column_of_arrow(field.type) for field in arrow_schema}
    if input_format in ("csv", "jsonl"):  # text parsers cannot read true/false as integers
        for arrow_field in arrow_schema:
            data_type = arrow_field.type.value_type if is_list_type(arrow_field.type) else arrow_field.type
            if pa.types.is_boolean(data_type):
                columns[arrow_field.name] = (None, columns[arrow_field.name][1])
    return columns


@dataclass(frozen=True)
class ResolvedSchema:
    """The raw schema a job reads: every column with its type, default and shape.

    ``unreadable`` names the columns of the first file that featurebeam cannot
    read (with their Arrow type), so that a fn reading one is told why.
    """

    types: dict[str, str]
    defaults: dict[str, object]
    shapes: dict[str, feature_types.Shape] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    def to_schema(self, names=None):
        import preprocessing as pp

        names = list(self.types) if names is None else [n for n in self.types if n in set(names)]
        return pp.Schema(
            tuple(pp.Feature(n, self.types[n], self.defaults.get(n), self.shapes.get(n, ())) for n in names)
        )


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
    types = {name: feature_type for name, (feature_type, _) in inferred.items() if feature_type is not None}
    shapes = {name: shape for name, (feature_type, shape) in inferred.items() if feature_type is not None}
    unreadable = {name: shape for name, (feature_type, shape) in inferred.items() if feature_type is None}
    defaults: dict[str, object] = {}
    for name, column in declared.items():
        path = f"input.schema.{name}"
        if name not in inferred and column.default is None:
            hint = did_you_mean(name, inferred)
            raise ConfigError(
                f"`{path}` names a column the data does not have{hint}; columns of {first}: "
                f"{quote_all(inferred)}. Give it a `default` to add it as a constant column"
            )
        feature_type = column.type or types.get(name)
        if feature_type is None:
            raise ConfigError(f"`{path}.type` must be set: the type of column {name!r} cannot be inferred from {first}")
        types[name] = feature_type
        if column.shape is not None:
            shapes[name] = column.shape
        unreadable.pop(name, None)
        if column.default is not None:
            check_default(feature_type, column.default, f"{path}.default")
            defaults[name] = float(column.default) if feature_type == "float" else column.default
    if not types:
        raise InputError(f"{first}: no columns of a type featurebeam reads (float, int, string)")
    notes = {name: _unreadable_note(first, input_format, name) for name in unreadable}
    return ResolvedSchema(types, defaults, shapes, notes)


def _unreadable_note(path: str, input_format: str, name: str) -> str:
    return f"column {name!r} of {path} has a type featurebeam does not read; declare `input.schema.{name}` to read it"
