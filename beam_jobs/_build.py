"""The job's pipeline, as a list of named steps: read, analyze, export, read again, transform, write.

The first pass over the input also computes the data statistics of every
input column (``OUTPUT/statistics/FeatureStats.pb``), unless the job switches
them off: the read feeds both the analysis and the statistics.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs._analyze import AnalyzeToValues
from beam_jobs._api import TransformDataset
from beam_jobs._job import JobConfig
from beam_jobs._layout import COUNTS_DIR, DATA_DIR, ERRORS_DIR, REJECTED_DIR
from beam_jobs._prepare import Prepared
from beam_jobs._read import ReadBatches, fill_defaults
from beam_jobs._statistics import ComputeStatistics, WriteStatistics
from beam_jobs._transform import WriteTransformFn
from beam_jobs._write import WriteBatches


class _ReadWithStatistics(beam.PTransform):
    """A read whose batches (with their missing values) also feed the statistics; yields the schema's columns.

    ``read`` keeps the nulls of columns with a default, so that the
    statistics count them as missing; they are filled before anything else
    sees the batches.
    """

    def __init__(self, read: ReadBatches, schema, features, output_dir: str):
        super().__init__()
        self._read, self._schema, self._features, self._output_dir = read, schema, features, output_dir

    def expand(self, pbegin):
        batches = pbegin | "Read" >> self._read
        _ = (
            batches
            | "ComputeStatistics" >> ComputeStatistics(self._features)
            | "WriteStatistics" >> WriteStatistics(self._output_dir)
        )
        with_default = any(f.default is not None for f in self._schema.features)
        if len(self._features) == len(self._schema.features) and not with_default:
            return batches  # nothing to fill, nothing to drop
        return batches | "FillDefaults" >> beam.Map(fill_defaults, self._schema)


class _ReadColumns(beam.PTransform):
    """A read of more columns than the schema's, keeping only the schema's."""

    def __init__(self, read: ReadBatches, schema):
        super().__init__()
        self._read, self._schema = read, schema

    def expand(self, pbegin):
        return pbegin | "Read" >> self._read | "SchemaColumns" >> beam.Map(fill_defaults, self._schema)


def computes_statistics(command: str, job: JobConfig) -> bool:
    return command in ("run", "analyze") and job.statistics


def build(
    pipeline: beam.Pipeline,
    command: str,
    prepared: Prepared,
    paths: list[str],
    input_format: str,
    job: JobConfig,
    staging: str,
) -> None:
    """Add the steps of ``command`` (run, analyze or transform) to ``pipeline``, writing into ``staging``."""
    schema = prepared.schema
    statistics = computes_statistics(command, job)
    others = prepared.other_columns() if statistics else []
    # Every pass reads the columns the statistics read when bad records are skipped, so all skip the same.
    skip_same = job.input.on_bad_record == "skip" and bool(others)

    def reader(stage: str, after=None, first: bool = False) -> beam.PTransform:
        # Every pass reads the files anew, once what it waits for exists, so no
        # runner holds the dataset between passes.
        read = ReadBatches(
            paths,
            input_format,
            schema,
            batch_size=job.input.batch_size,
            stage=stage,
            on_bad_record=job.input.on_bad_record,
            rejected_dir=FileSystems.join(staging, REJECTED_DIR),
            errors_dir=FileSystems.join(staging, ERRORS_DIR),
            after=after,
            extra_columns=others if (first and statistics) or skip_same else (),
            keep_nulls=first and statistics,
            counts_dir=FileSystems.join(staging, COUNTS_DIR),
        )
        if first and statistics:
            features = [(f.name, f.type) for f in prepared.input_schema.features]
            return _ReadWithStatistics(read, schema, features, staging)
        return _ReadColumns(read, schema) if skip_same else read

    analyzed = command != "transform" and bool(prepared.plan.phases)
    if command == "transform":
        transform_fn = prepared.source_output
    else:
        source = lambda phase, after: reader("read" if phase == 0 else f"phase{phase}", after, phase == 0)  # noqa: E731
        values = pipeline | "Analyze" >> AnalyzeToValues(prepared.fn, schema, prepared.plan, source=source)
        transform_fn = values | "WriteTransformFn" >> WriteTransformFn(prepared.fn, schema, prepared.plan, staging)
        if command == "analyze":
            if not analyzed:  # nothing to analyze: still read the input once, to validate, count and describe it
                _ = pipeline | "Read" >> reader("read", first=True)
            return
    after = transform_fn if isinstance(transform_fn, beam.pvalue.PCollection) else None
    stage = "transform" if analyzed else "read"
    batches = pipeline | "ReadForTransform" >> reader(stage, after, first=not analyzed)
    transformed = ((batches, schema), transform_fn) | "Transform" >> TransformDataset()
    _ = transformed | "Write" >> WriteBatches(
        FileSystems.join(staging, DATA_DIR),
        job.output.format,
        prepared.outputs,
        num_shards=job.output.num_shards,
        counts_path=FileSystems.join(staging, COUNTS_DIR, "written.json"),
    )
