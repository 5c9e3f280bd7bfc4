"""Input files: expanding ``input.path`` into files, telling their format, and opening them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs._job import INPUT_FORMATS
from featurebeam_base.errors import ConfigError, InputError
from featurebeam_base.naming import quote_all
from featurebeam_base.paths import is_remote

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
    if not is_remote(path) and not os.access(path, mode):
        what = "the folder cannot be listed" if is_folder else "the file cannot be read"
        raise InputError(f"`input.path`: {path}: permission denied ({what})")


def _glob_root(pattern: str) -> str:
    """The folder a local glob starts from: its longest leading part without wildcards."""
    head = pattern[: _GLOB.search(pattern).start()]
    return os.path.dirname(head) or "."


def list_input_files(path: str, input_format: str | None) -> tuple[list[InputFile], str]:
    """Expand ``input.path`` and settle the format; raises InputError or ConfigError."""
    if _GLOB.search(path):
        if not is_remote(path):
            root = _glob_root(path)
            if not os.path.isdir(root):
                raise InputError(f"`input.path` {path}: folder {root} does not exist")
            _check_readable(root, is_folder=True)
        files, is_folder = _match(path), False
    elif not is_remote(path) and os.path.isdir(path):
        _check_readable(path, is_folder=True)
        files, is_folder = _match(os.path.join(path, "*")), True
    elif not is_remote(path):
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
            allowed = quote_all(INPUT_FORMATS)
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
    if not is_remote(path):
        return pa.input_stream(path, compression="detect")
    raw = pa.PythonFile(open_file(path, compressed=False), mode="r")
    codec = _ARROW_CODECS.get(os.path.splitext(path)[1].lower())
    return pa.CompressedInputStream(raw, codec) if codec else raw
