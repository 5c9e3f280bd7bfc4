"""The job's pipeline, as a list of named steps: read, analyze, export, read again, transform, write."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs._analyze import AnalyzeToValues
from beam_jobs._api import TransformDataset
from beam_jobs._job import JobConfig
from beam_jobs._layout import COUNTS_DIR, DATA_DIR, ERRORS_DIR, REJECTED_DIR
from beam_jobs._prepare import Prepared
from beam_jobs._read import ReadBatches
from beam_jobs._transform import WriteTransformFn
from beam_jobs._write import WriteBatches


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

    def reader(stage: str, after=None) -> ReadBatches:
        # Every pass reads the files anew, once what it waits for exists, so no
        # runner holds the dataset between passes.
        return ReadBatches(
            paths,
            input_format,
            schema,
            batch_size=job.input.batch_size,
            stage=stage,
            on_bad_record=job.input.on_bad_record,
            rejected_dir=FileSystems.join(staging, REJECTED_DIR),
            errors_dir=FileSystems.join(staging, ERRORS_DIR),
            after=after,
            counts_dir=FileSystems.join(staging, COUNTS_DIR),
        )

    analyzed = command != "transform" and bool(prepared.plan.phases)
    if command == "transform":
        transform_fn = prepared.source_output
    else:
        source = lambda phase, after: reader("read" if phase == 0 else f"phase{phase}", after)  # noqa: E731
        values = pipeline | "Analyze" >> AnalyzeToValues(prepared.fn, schema, prepared.plan, source=source)
        transform_fn = values | "WriteTransformFn" >> WriteTransformFn(prepared.fn, schema, prepared.plan, staging)
        if command == "analyze":
            if not analyzed:  # nothing to analyze: still read the input once, to validate and count it
                _ = pipeline | "Read" >> reader("read")
            return
    after = transform_fn if isinstance(transform_fn, beam.pvalue.PCollection) else None
    batches = pipeline | "ReadForTransform" >> reader("transform" if analyzed else "read", after)
    transformed = ((batches, schema), transform_fn) | "Transform" >> TransformDataset()
    _ = transformed | "Write" >> WriteBatches(
        FileSystems.join(staging, DATA_DIR),
        job.output.format,
        prepared.outputs,
        num_shards=job.output.num_shards,
        counts_path=FileSystems.join(staging, COUNTS_DIR, "written.json"),
    )
