"""Reading raw data into RecordBatches and writing transformed ones.

Readers: Parquet, CSV, JSON Lines and TFRecord files of tf.Examples; a path is
a file, a folder or a glob on any Beam filesystem (local, gs://, ...).
Writers: Parquet and gzip TFRecord files of tf.Examples.
"""

from beam_jobs.io._files import InputFile, ResolvedSchema, format_of, list_input_files, resolve_schema
from beam_jobs.io._readers import ReadBatches, conform, rebatch
from beam_jobs.io._writers import OutputColumn, WriteBatches, arrow_schema, encode_examples

__all__ = [
    "InputFile",
    "OutputColumn",
    "ReadBatches",
    "ResolvedSchema",
    "WriteBatches",
    "arrow_schema",
    "conform",
    "encode_examples",
    "format_of",
    "list_input_files",
    "rebatch",
    "resolve_schema",
]
