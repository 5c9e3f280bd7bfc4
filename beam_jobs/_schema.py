"""Schemas: a file's column types, and the raw schema a job reads (inferred, then ``input.schema``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

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

    def to_schema(self, names=None):
        import preprocessing as pp

        names = list(self.types) if names is None else [n for n in self.types if n in set(names)]
        return pp.Schema(tuple(pp.Feature(n, self.types[n], self.defaults.get(n)) for n in names))


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
    present_only: bool = False,
) -> ResolvedSchema:
    """Infer column types from the first file; entries of ``input.schema`` override them.

    With ``present_only``, a declared column that the data lacks is left out
    (``validate`` reports it), not added from its default nor an error.
    """
    first, inferred = _first_schema(files, input_format, skip_bad_records)
    types: dict[str, str] = {}
    for name, feature_type in inferred.items():
        if feature_type is not None:
            types[name] = feature_type
    defaults: dict[str, object] = {}
    for name, column in declared.items():
        path = f"input.schema.{name}"
        if name not in inferred and present_only:
            continue
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
        if column.default is not None:
            check_default(feature_type, column.default, f"{path}.default")
            defaults[name] = float(column.default) if feature_type == "float" else column.default
    if not types:
        raise InputError(f"{first}: no columns of a type featurebeam reads (float, int, string)")
    return ResolvedSchema(types, defaults)
