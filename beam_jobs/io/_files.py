"""Input files: expanding a path (file, folder or glob), formats, and schemas.

Everything goes through ``apache_beam.io.filesystems.FileSystems``, so gs://
and other Beam filesystems work as local paths do.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs._config import INPUT_FORMATS, ColumnSpec, ConfigError, InputError, check_default

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
    from beam_jobs.io import _readers

    try:
        arrow_schema = _readers.READERS[input_format].schema_of(path)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"{path}: cannot read the {input_format} schema: {error}") from None
    if isinstance(arrow_schema, Mapping):  # tf.Example: already feature types
        return dict(arrow_schema)
    return {field.name: type_of_arrow(field.type) for field in arrow_schema}


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
            from beam_jobs._config import _nearest

            near = _nearest(name, inferred)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise ConfigError(
                f"`{path}` names a column the data does not have{hint}; columns of {first}: "
                f"{', '.join(repr(c) for c in inferred)}. Give it a `default` to add it as a constant column"
            )
        feature_type = column.type or types.get(name)
        if feature_type is None:
            raise ConfigError(
                f"`{path}.type` must be set: the type of column {name!r} cannot be inferred from {first}"
            )
        types[name] = feature_type
        if column.default is not None:
            check_default(feature_type, column.default, f"{path}.default")
            defaults[name] = float(column.default) if feature_type == "float" else column.default
    if not types:
        raise InputError(f"{first}: no columns of a type featurebeam reads (float, int, string)")
    return ResolvedSchema(types, defaults, first)


def write_json(path: str, payload: dict) -> None:
    """Write a JSON document through Beam's filesystems."""
    with FileSystems.create(path, mime_type="application/json", compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=False, default=str).encode() + b"\n")
