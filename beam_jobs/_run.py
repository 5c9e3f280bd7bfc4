"""One job from start to finish: prepare, build the pipeline, run it, publish the output.

Everything that can be checked before the pipeline starts is (``_prepare``).
The pipeline (``_build``) then writes into a temporary sibling of
``output.path`` that is renamed into place only when the whole job succeeded
(``_publish``), so a failed run leaves an earlier output untouched.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import time
from typing import TextIO

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from beam_jobs import _publish
from beam_jobs._build import build, computes_statistics
from beam_jobs._filesystem import local_copy, upload_tree
from beam_jobs._inputs import list_input_files
from beam_jobs._job import JobConfig
from beam_jobs._layout import (
    DATA_DIR,
    ERRORS_DIR,
    REJECTED_DIR,
    REPORT_FILE,
    RUN_FILE,
    TRANSFORM_FN_DIR,
    TRANSFORMED_METADATA_DIR,
)
from beam_jobs._prepare import Prepared, prepare_analysis, prepare_transform
from beam_jobs._progress import FILES_READ, Progress, job_counters, non_finite_values, rejected_records, rows_per_stage
from beam_jobs._reported_errors import reported_error
from beam_jobs._runner_options import build_options, check_paths_for_runner, printable_options, resolved_options
from beam_jobs._schema import resolve_schema
from beam_jobs._statistics import read_statistics, statistics_path
from beam_jobs._write import write_file, write_json
from featurebeam_base.errors import InputError, UserError

_BEAM_CONTEXT = re.compile(r"\s*\[while running '[^']*'\]")


def user_error_in(error: BaseException, errors_dir: str | None = None) -> UserError | None:
    """The user error behind a failed pipeline run, if that is what it was.

    In-process runners re-raise the DoFn's exception (with Beam's step name
    added to its message); runners with workers in other processes only
    report it as text, so workers also report it to ``errors_dir``.
    """
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UserError):
            return type(current)(_BEAM_CONTEXT.sub("", str(current)).strip(), current.details)
        current = current.__cause__ or current.__context__
    return reported_error(errors_dir) if errors_dir else None


def _versions() -> dict[str, str]:
    import numpy
    import pyarrow
    import tensorflow

    try:
        from importlib.metadata import version

        featurebeam = version("featurebeam")
    except Exception:
        featurebeam = "source checkout"
    return {
        "featurebeam": featurebeam,
        "python": platform.python_version(),
        "apache_beam": beam.__version__,
        "tensorflow": tensorflow.__version__,
        "pyarrow": pyarrow.__version__,
        "numpy": numpy.__version__,
    }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _summary(command, dry_run, job, options, files, input_format, prepared: Prepared) -> dict:
    plan = prepared.plan
    return {
        "command": command,
        "status": "dry run" if dry_run else "succeeded",
        "job": job.to_dict(),
        "runner": job.runner,
        "pipeline_options": printable_options(options),
        "inputs": {
            "format": input_format,
            "files": [{"path": f.path, "size_bytes": f.size_bytes} for f in files],
            "total_bytes": sum(f.size_bytes for f in files),
        },
        "schema": {f.name: {"type": f.type, "default": f.default} for f in prepared.schema.features},
        "outputs": [c.to_dict() for c in prepared.outputs],
        "analysis_phases": len(plan.phases) if plan else 0,
        "analyzers": len(plan.specs) if plan else 0,
        "transform_fn_from": prepared.source_output,
        "notes": prepared.notes,
    }


def _run_pipeline(pipeline: beam.Pipeline, command: str, progress_stream: TextIO | None, staging: str):
    try:
        if progress_stream is not None:
            with Progress(progress_stream, command):
                result = pipeline.run()
                result.wait_until_finish()
        else:
            result = pipeline.run()
            result.wait_until_finish()
    except Exception as error:
        user_error = user_error_in(error, FileSystems.join(staging, ERRORS_DIR))
        if user_error is not None:
            raise user_error from None
        raise
    if str(result.state) not in ("DONE", "PipelineState.DONE"):
        raise RuntimeError(f"the pipeline finished in state {result.state}")
    return result


def _record_counts(summary: dict, result, job: JobConfig, final: str) -> None:
    """Rows read and written, NaNs and bad records, from the pipeline's counters."""
    counters = job_counters(result)
    rows, rejected = rows_per_stage(counters), rejected_records(counters)
    if counters.get(FILES_READ) and not rows.get("read"):  # metrics are reported (files were read) and no row was
        if rejected["records"]:
            raise InputError(
                f"`input.path` {job.input.path}: no row could be read: all {rejected['records']} records "
                "read were bad and skipped (`input.on_bad_record: skip`); nothing was written"
            )
        raise InputError(f"`input.path` {job.input.path}: the input files have no rows; nothing was written")
    summary["rows"] = {"read": rows.get("read", 0), "written": rows.get("written", 0)}
    summary["rows_per_pass"] = dict(sorted(rows.items()))
    summary["non_finite_values"] = non_finite_values(counters)
    summary["rejected"] = {**rejected, "path": FileSystems.join(final, REJECTED_DIR) if rejected["records"] else None}


def execute(
    job: JobConfig,
    command: str = "run",
    *,
    transform_fn: str | None = None,
    dry_run: bool = False,
    progress_stream: TextIO | None = None,
    inputs: tuple | None = None,
) -> dict:
    """Run (or dry-run) ``command`` for ``job``; returns what run.json records.

    ``inputs`` is ``list_input_files``'s answer when the caller already has it.
    Raises a ``UserError`` for problems the user can fix.
    """
    started, started_at = time.monotonic(), _now()
    files, input_format = inputs or list_input_files(job.input.path, job.input.format)
    skip = job.input.on_bad_record == "skip"
    resolved = resolve_schema(files, input_format, job.input.schema, skip_bad_records=skip)
    if command == "transform":
        prepared = prepare_transform(job, resolved, transform_fn)
    else:
        prepared = prepare_analysis(job, resolved)
    options_dict = resolved_options(job, dry_run=dry_run)
    prepared.notes.extend(check_paths_for_runner(job, dry_run))
    final = job.output.path
    staging = _publish.staging_path(final)
    options = build_options(options_dict)
    pipeline = beam.Pipeline(options=options)
    build(pipeline, command, prepared, [f.path for f in files], input_format, job, staging)
    summary = _summary(command, dry_run, job, options, files, input_format, prepared)
    prepare_s = time.monotonic() - started
    if dry_run:
        if job.runner == "DataflowRunner":
            summary["dataflow_job"] = _dataflow_dry_run(pipeline, options_dict)
        return summary

    stale = _publish.clean_stale_siblings(final)
    if stale:
        prepared.notes.append(f"cleaned up after an interrupted earlier run: {', '.join(stale)}")
    _publish.check_replaceable(final)
    try:
        _publish.make_staging(staging)
        if command == "transform":
            _copy_transform_fn(prepared.source_output, staging)
        pipeline_started = time.monotonic()
        result = _run_pipeline(pipeline, command, progress_stream, staging)
        _publish.discard(FileSystems.join(staging, ERRORS_DIR))  # from retried work that succeeded in the end
        _record_counts(summary, result, job, final)
        summary["transformed_data"] = _publish.entries(FileSystems.join(staging, DATA_DIR)) or []
        summary["timings_s"] = {
            "prepare": round(prepare_s, 3),
            "pipeline": round(time.monotonic() - pipeline_started, 3),
            "total": round(time.monotonic() - started, 3),
        }
        if computes_statistics(command, job):
            _write_report(job, command, staging, final, summary)
        summary["started_at"], summary["finished_at"] = started_at, _now()
        summary["versions"] = _versions()
        summary["output"] = final
        write_json(FileSystems.join(staging, RUN_FILE), summary)
        _publish.publish(staging, final)
    finally:
        _publish.discard(staging)
    return summary


def _write_report(job: JobConfig, command: str, staging: str, final: str, summary: dict) -> None:
    """``report.html`` from the statistics the pipeline wrote; their places in the summary."""
    from beam_jobs import _report

    statistics = read_statistics(statistics_path(staging))
    page = _report.render(statistics, title=f"featurebeam {command}: statistics of {job.input.path}")
    write_file(FileSystems.join(staging, REPORT_FILE), page.encode("utf-8"), "text/html")
    summary["statistics"] = statistics_path(final)
    summary["report"] = FileSystems.join(final, REPORT_FILE)


def _copy_transform_fn(source: str, staging: str) -> None:
    """A ``transform`` output carries the transform_fn it applied, so it is self-contained."""
    # Only these parts are fetched: not the source output's transformed data.
    for name in (TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR):
        local_part = local_copy(FileSystems.join(source, name))
        if os.path.isdir(local_part):
            upload_tree(local_part, FileSystems.join(staging, name))


def _dataflow_dry_run(pipeline: beam.Pipeline, options: dict) -> dict:
    """Construct the Dataflow job offline (Beam's ``dry_run``): nothing is staged or submitted."""
    from apache_beam.portability.api import beam_runner_api_pb2

    result = pipeline.run()
    job = result.job
    staged = {}  # name on the workers -> local file that would be uploaded
    for environment in job.proto_pipeline.components.environments.values():
        for dependency in environment.dependencies:
            role = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dependency.role_payload)
            source = beam_runner_api_pb2.ArtifactFilePayload.FromString(dependency.type_payload)
            staged[role.staged_name] = source.path
    return {
        "name": job.proto.name,
        "type": str(job.proto.type),
        "transforms": len(job.proto_pipeline.components.transforms),
        "setup_file": options.get("setup_file"),
        "staged_files": sorted(staged),
        "staged_paths": dict(sorted(staged.items())),
    }
