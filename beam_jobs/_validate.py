"""``featurebeam validate``: new data's statistics against a baseline output's, in one read of the new data.

The job's input is read once (every column present, missing values kept),
its statistics computed as ``run`` computes them, and compared with the
baseline's ``statistics/FeatureStats.pb`` and, when present, its raw schema
``metadata/schema.pbtxt`` (``_anomalies``). The output folder gets
``anomalies.json`` (and the same findings as TFDV's ``Anomalies`` proto in
``anomalies.pbtxt``), ``statistics/FeatureStats.pb`` and ``report.html``; it is
published like a run's output, all at once.
"""

from __future__ import annotations

import contextlib
import time
from typing import TextIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_jobs import _anomalies, _publish, _report
from beam_jobs._job import JobConfig
from beam_jobs._layout import ANOMALIES_FILE, COUNTS_DIR, ERRORS_DIR, RAW_SCHEMA_FILE, REJECTED_DIR, REPORT_FILE
from beam_jobs._progress import Progress, rows_per_stage
from beam_jobs._read import ReadBatches
from beam_jobs._run import _job_counts, _new_pipeline, _now, _record_counts, _run_pipeline
from beam_jobs._runner_options import build_options, resolved_options, runner_notes, workers_in_this_process
from beam_jobs._runners import resolve_runner
from beam_jobs._schema import resolve_schema
from beam_jobs._statistics import ComputeStatistics, WriteStatistics, read_statistics, statistics_path
from beam_jobs._write import write_file, write_json
from featurebeam_base.errors import ConfigError
from featurebeam_base.paths import is_remote

ANOMALIES_PROTO_FILE = "anomalies.pbtxt"


def default_output(job: JobConfig) -> str:
    """``OUTPUT-validation`` beside the job's ``output.path``."""
    return job.output.path.rstrip("/") + "-validation"


def load_baseline(baseline: str) -> tuple:
    """The baseline's statistics and raw schema (None without ``metadata/schema.pbtxt``), with their paths."""
    if not is_remote(baseline):
        import os

        baseline = os.path.abspath(baseline)
    stats_path = statistics_path(baseline)
    if not FileSystems.exists(stats_path):
        raise ConfigError(
            f"`--baseline` {baseline} has no statistics/FeatureStats.pb: give the output of a `featurebeam run` or "
            "`analyze` made with statistics (not with `statistics: false` or --no-statistics)"
        )
    try:
        statistics = read_statistics(stats_path)
        if len(statistics.datasets) != 1:
            raise ValueError(f"{len(statistics.datasets)} datasets; expected one")
    except Exception as error:  # a damaged or foreign file
        raise ConfigError(f"`--baseline`: {stats_path} is not a statistics file: {error}") from None
    schema_path = FileSystems.join(baseline, RAW_SCHEMA_FILE)
    schema = None
    if FileSystems.exists(schema_path):
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import schema_pb2

        with FileSystems.open(schema_path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            text = handle.read().decode("utf-8")
        try:
            schema = text_format.Parse(text, schema_pb2.Schema())
        except text_format.ParseError as error:
            raise ConfigError(f"`--baseline`: {schema_path} is not a tensorflow_metadata Schema: {error}") from None
    return baseline, statistics, stats_path, schema, (schema_path if schema is not None else None)


def _build(pipeline, job: JobConfig, files, input_format: str, columns, staging: str) -> None:
    read = ReadBatches(
        [f.path for f in files],
        input_format,
        columns.select(()),
        batch_size=job.input.batch_size,
        stage="read",
        on_bad_record=job.input.on_bad_record,
        rejected_dir=FileSystems.join(staging, REJECTED_DIR),
        errors_dir=FileSystems.join(staging, ERRORS_DIR),
        extra_columns=columns.features,  # every column, missing values kept
        counts_dir=FileSystems.join(staging, COUNTS_DIR),
    )
    _ = (
        pipeline
        | "Read" >> read
        | "ComputeStatistics" >> ComputeStatistics([(f.name, f.type) for f in columns.features])
        | "WriteStatistics" >> WriteStatistics(staging)
    )


def validate(
    job: JobConfig,
    baseline: str,
    output: str | None = None,
    *,
    progress_stream: TextIO | None = None,
    inputs: tuple | None = None,
) -> dict:
    """Compute the statistics of ``job``'s input, compare them with ``baseline``'s, publish the results.

    Returns what ``anomalies.json`` holds. Raises a ``UserError`` for a bad
    job, input or baseline.
    """
    started, started_at = time.monotonic(), _now()
    baseline, base_statistics, base_path, schema, schema_path = load_baseline(baseline)
    from beam_jobs._inputs import list_input_files

    files, input_format = inputs or list_input_files(job.input.path, job.input.format)
    skip = job.input.on_bad_record == "skip"
    resolved = resolve_schema(files, input_format, job.input.schema, skip_bad_records=skip, present_only=True)
    columns = resolved.to_schema()
    final = output or default_output(job)
    if not is_remote(final):
        import os

        final = os.path.abspath(final)
    options_dict = resolved_options(job, dry_run=False)
    notes = runner_notes(job, options_dict, False)
    staging = _publish.staging_path(final)
    pipeline = _new_pipeline(resolve_runner(job.runner), build_options(options_dict), options_dict)
    _build(pipeline, job, files, input_format, columns, staging)
    _publish.clean_stale_siblings(final)
    _publish.check_replaceable(final)
    try:
        _publish.make_staging(staging)
        progress = None
        if progress_stream is not None:
            progress = Progress(progress_stream, "validate", workers_in_this_process(options_dict), job.runner)
        with progress or contextlib.nullcontext():
            _run_pipeline(pipeline, staging)
            pipeline_counts = _job_counts(staging)
            if progress is not None:
                progress.finish(rows_per_stage(pipeline_counts))
        for done in (ERRORS_DIR, COUNTS_DIR):
            _publish.discard(FileSystems.join(staging, done))
        counts: dict = {}
        _record_counts(counts, pipeline_counts, job, final)
        statistics = read_statistics(statistics_path(staging))
        anomalies, measurements = _anomalies.compare(base_statistics, statistics, job.validation, schema)
        document = {
            "command": "validate",
            "status": "anomalies" if anomalies else "no anomalies",
            "baseline": {"output": baseline, "statistics": base_path, "schema": schema_path},
            "input": {"path": job.input.path, "format": input_format, "files": len(files)},
            "num_examples": {
                "baseline": base_statistics.datasets[0].num_examples,
                "new": statistics.datasets[0].num_examples,
            },
            "anomalies": _by_feature(anomalies),
            "measurements": measurements,
            "thresholds": job.validation.to_dict(),
            "rejected": counts["rejected"],
            "statistics": statistics_path(final),
            "report": FileSystems.join(final, REPORT_FILE),
            "output": final,
            "notes": notes,
            "started_at": started_at,
            "finished_at": _now(),
            "timings_s": {"total": round(time.monotonic() - started, 3)},
        }
        write_json(FileSystems.join(staging, ANOMALIES_FILE), document)
        _write_anomalies_proto(staging, anomalies, measurements, job)
        page = _report.render(
            statistics,
            title=f"featurebeam validate: {job.input.path}",
            subtitle=f"against the baseline {baseline}",
            baseline=base_statistics,
            anomalies=anomalies,
            measurements=measurements,
        )
        write_file(FileSystems.join(staging, REPORT_FILE), page.encode("utf-8"), "text/html")
        _publish.publish(staging, final)
    finally:
        _publish.discard(staging)
    document["anomaly_list"] = anomalies
    return document


def _by_feature(anomalies: list[_anomalies.Anomaly]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for anomaly in anomalies:
        grouped.setdefault(anomaly.feature, []).append(anomaly.to_dict())
    return grouped


def _write_anomalies_proto(staging: str, anomalies, measurements, job: JobConfig) -> None:
    from google.protobuf import text_format

    proto = _anomalies.to_anomalies_proto(anomalies, measurements, job.validation)
    write_file(FileSystems.join(staging, ANOMALIES_PROTO_FILE), text_format.MessageToString(proto).encode("utf-8"))


def format_result(document: dict) -> str:
    """The short table ``validate`` prints."""
    anomalies: list[_anomalies.Anomaly] = document["anomaly_list"]
    counts = document["num_examples"]
    lines = []
    if anomalies:
        features = len({a.feature for a in anomalies})
        lines.append(
            f"featurebeam validate: {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} "
            f"in {features} feature{'s' if features != 1 else ''}"
        )
    else:
        lines.append("featurebeam validate: no anomalies")
    lines.append(f"  new data: {counts['new']:,} rows; baseline: {counts['baseline']:,} rows")
    if anomalies:
        rows = [("feature", "check", "value", "threshold", "description")]
        rows += [(a.feature, a.kind, _cell(a.value), _cell(a.threshold), a.description) for a in anomalies]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    lines.append(f"  anomalies: {FileSystems.join(document['output'], ANOMALIES_FILE)}")
    lines.append(f"  report: {document['report']}")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
