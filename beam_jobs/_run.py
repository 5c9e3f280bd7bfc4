"""One job from start to finish: prepare, build the pipeline, run it, publish the output.

Everything that can be checked before the pipeline starts is: the input files
and their schema, the preprocessing_fn (traced and planned), the runner and its
options. The pipeline then writes into a temporary sibling of ``output.path``
that is renamed into place only when the whole job succeeded, so a failed run
leaves an earlier output untouched.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

import preprocessing as pp
from beam_jobs import _inspect
from beam_jobs._analyze import AnalyzeToValues
from beam_jobs._api import TransformDataset
from beam_jobs._config import (
    ConfigError,
    DeclarativeFn,
    InputError,
    JobConfig,
    JobError,
    is_remote,
    is_users_error,
    preprocessing_fn_of,
    user_traceback,
)
from beam_jobs._filesystem import local_copy, upload_tree
from beam_jobs._io import OutputColumn, ReadBatches, WriteBatches, list_input_files, resolve_schema, write_json
from beam_jobs._progress import FILES_READ, Progress, job_counters, non_finite_values, rejected_records, rows_per_stage
from beam_jobs._runner_options import (
    build_options,
    check_paths_for_runner,
    printable_options,
    resolved_options,
)
from beam_jobs._transform import TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR, WriteTransformFn
from preprocessing import engine

DATA_DIR = "transformed_data"
REJECTED_DIR = "rejected"
_TF_TYPES = {"float32": "float", "int64": "int", "string": "string"}


@dataclass
class _Prepared:
    """What the pipeline needs, all checked before it is built."""

    schema: pp.Schema  # the columns read: those the preprocessing_fn (or transform_fn) uses
    outputs: list[OutputColumn]
    fn: Callable | None = None
    plan: engine.Plan | None = None
    source_output: str | None = None  # `transform`: the output holding the transform_fn applied
    notes: list[str] = field(default_factory=list)


def _trace(fn: Callable, schema: pp.Schema):
    try:
        traced = engine.trace(fn, schema)
        plan = engine.plan_of(traced)
    except pp.PreprocessingError as error:
        raise ConfigError(f"preprocessing_fn: {error}") from None
    except Exception as error:
        if not is_users_error(error):
            raise
        raise ConfigError(
            f"preprocessing_fn raised {type(error).__name__}: {error}", details=user_traceback(error)
        ) from None
    return plan, traced


def _prepare_analysis(job: JobConfig, resolved) -> _Prepared:
    fn = preprocessing_fn_of(job)
    if isinstance(fn, DeclarativeFn):
        fn.check_schema(resolved.types)
    plan, traced = _trace(fn, resolved.to_schema())
    outputs = []
    for name, tensor in traced.outputs.items():
        instance = tensor.shape[1:]
        if not instance.is_fully_defined():
            raise ConfigError(f"preprocessing_fn output {name!r} must have a fixed shape per row; got {tensor.shape}")
        outputs.append(OutputColumn(name, tensor.dtype.name, tuple(instance.as_list())))
    return _Prepared(resolved.to_schema(plan.features_read), outputs, fn=fn, plan=plan)


def transform_fn_output_dir(path: str) -> str:
    """The output directory holding ``transform_fn/``, given it or the transform_fn itself."""
    if is_remote(path):
        path = path.rstrip("/")
        if FileSystems.exists(FileSystems.join(path, TRANSFORM_FN_DIR, "saved_model.pb")):
            return path
        if path.endswith("/" + TRANSFORM_FN_DIR) and FileSystems.exists(FileSystems.join(path, "saved_model.pb")):
            return FileSystems.split(path)[0]
        raise ConfigError(f"`--transform-fn` must be a featurebeam output (a folder with transform_fn/); got {path}")
    path = os.path.abspath(path)
    if os.path.isdir(os.path.join(path, TRANSFORM_FN_DIR)):
        return path
    if os.path.isfile(os.path.join(path, "saved_model.pb")) and os.path.basename(path) == TRANSFORM_FN_DIR:
        return os.path.dirname(path)
    raise ConfigError(f"`--transform-fn` must be a featurebeam output (a folder with transform_fn/); got {path}")


def _prepare_transform(job: JobConfig, resolved, transform_fn: str) -> _Prepared:
    source = transform_fn_output_dir(transform_fn)
    local_transform_fn = local_copy(FileSystems.join(source, TRANSFORM_FN_DIR))
    signature = _inspect.read_signatures(local_transform_fn)[engine.SERVING_SIGNATURE]
    features = []
    for name, info in signature["inputs"].items():
        if name not in resolved.types:
            raise InputError(
                f"the transform_fn reads column {name!r}, which the input does not have; "
                f"columns: {', '.join(repr(c) for c in resolved.types)}"
            )
        features.append(pp.Feature(name, _TF_TYPES[info["dtype"]], resolved.defaults.get(name)))
    outputs = [OutputColumn(n, i["dtype"], tuple(i["shape"][1:])) for n, i in signature["outputs"].items()]
    return _Prepared(pp.Schema(tuple(features)), outputs, source_output=source)


def _build(
    pipeline: beam.Pipeline, command: str, prepared: _Prepared, paths, input_format: str, job: JobConfig, staging: str
):
    """The job's pipeline, as a list of named steps."""
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
            after=after,
        )

    analyzed = command != "transform" and bool(prepared.plan.phases)
    if command == "transform":
        transform_fn = prepared.source_output
    else:
        source = lambda phase, after: reader("read" if phase == 0 else f"phase{phase}", after)  # noqa: E731
        values = pipeline | "Analyze" >> AnalyzeToValues(prepared.fn, schema, prepared.plan, source=source)
        transform_fn = values | "WriteTransformFn" >> WriteTransformFn(prepared.fn, schema, staging)
        _ = values | "RecordAnalyzers" >> beam.Map(_inspect.write_analyzers_json, prepared.plan.phases, staging)
        if command == "analyze":
            if not analyzed:  # nothing to analyze: still read the input once, to validate and count it
                _ = pipeline | "Read" >> reader("read")
            return
    after = transform_fn if isinstance(transform_fn, beam.pvalue.PCollection) else None
    batches = pipeline | "ReadForTransform" >> reader("transform" if analyzed else "read", after)
    transformed = ((batches, schema), transform_fn) | "Transform" >> TransformDataset()
    _ = transformed | "Write" >> WriteBatches(
        FileSystems.join(staging, DATA_DIR), job.output.format, prepared.outputs, num_shards=job.output.num_shards
    )


# ---------------------------------------------------------------------------
# Output directories


# Local outputs move into place with renames. On object stores (gs://, ...) there are
# no directories to rename: the files are moved one by one through Beam's FileSystems,
# and the earlier output is deleted only once the new one is complete.


_STAGING, _PREVIOUS = "featurebeam-tmp", "featurebeam-old"


def _owner_tag() -> str:
    """Who made a temporary sibling: this host and process, so a later run can tell a dead one's."""
    host = re.sub(r"[^A-Za-z0-9]", "_", platform.node() or "host")
    return f"{host}-{os.getpid()}"


def staging_path(final: str) -> str:
    """A temporary sibling of ``final``, on the same filesystem."""
    suffix = f"{_owner_tag()}-{uuid.uuid4().hex[:8]}"
    if is_remote(final):
        parent, name = FileSystems.split(final.rstrip("/"))
        return FileSystems.join(parent, f".{name}.{_STAGING}-{suffix}")
    parent, name = os.path.split(os.path.abspath(final))
    return os.path.join(parent, f".{name}.{_STAGING}-{suffix}")


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_siblings(final: str) -> list[str]:
    """Remove what killed runs (SIGKILL, a power cut) left next to a local ``final``; returns it.

    A run stages into ``.NAME.featurebeam-tmp-HOST-PID-*``. One whose process on
    this host is gone left it behind: it is deleted. Siblings from other hosts
    or from live processes (a concurrent run) are left alone. A run killed while
    publishing, between its two renames, left the earlier output in
    ``.NAME.featurebeam-old-HOST-PID-*`` and no ``NAME``: it is put back.
    """
    if is_remote(final):
        return []  # no processes to ask on an object store; stale objects are ignored
    parent, name = os.path.split(os.path.abspath(final))
    pattern = re.compile(rf"^\.{re.escape(name)}\.({_STAGING}|{_PREVIOUS})-(.+)-(\d+)-[0-9a-f]{{8}}$")
    host = _owner_tag().rsplit("-", 1)[0]
    cleaned = []
    try:
        siblings = sorted(os.listdir(parent))
    except OSError:
        return []
    for sibling in siblings:
        match = pattern.match(sibling)
        if not match or match[2] != host or _is_alive(int(match[3])):
            continue
        path = os.path.join(parent, sibling)
        if match[1] == _PREVIOUS and not os.path.exists(final):
            os.rename(path, final)
        else:
            shutil.rmtree(path, ignore_errors=True)
        cleaned.append(path)
    return cleaned


def _remote_files(directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return [m.path for m in FileSystems.match([prefix + "**"])[0].metadata_list]


def _entries(directory: str) -> list[str] | None:
    """Names directly under ``directory``; None if it does not exist."""
    if is_remote(directory):
        prefix = directory.rstrip("/") + "/"
        names = {path[len(prefix) :].split("/", 1)[0] for path in _remote_files(directory)}
        return sorted(names) if names else None
    if not os.path.exists(directory):
        return None
    if not os.path.isdir(directory):
        raise ConfigError(f"`output.path` {directory} exists and is not a folder")
    return sorted(os.listdir(directory))


def _check_replaceable(final: str) -> None:
    entries = _entries(final)
    if not entries:
        return
    is_output = _inspect.RUN_FILE in entries or TRANSFORM_FN_DIR in entries or DATA_DIR in entries
    if not is_output:
        raise ConfigError(
            f"`output.path` {final} exists and is not a featurebeam output; "
            "refusing to replace it (choose another path)"
        )


def publish(staging: str, final: str) -> None:
    """Move ``staging`` to ``final``, replacing an earlier output only now."""
    if is_remote(final):
        _publish_remote(staging, final)
        return
    if not os.path.exists(final):
        os.rename(staging, final)
        return
    parent, name = os.path.split(final)
    previous = os.path.join(parent, f".{name}.{_PREVIOUS}-{_owner_tag()}-{uuid.uuid4().hex[:8]}")
    os.rename(final, previous)
    try:
        os.rename(staging, final)
    except OSError:
        os.rename(previous, final)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def _publish_remote(staging: str, final: str) -> None:
    staged = _remote_files(staging)
    previous = _remote_files(final)
    if previous:
        FileSystems.delete(previous)
    prefix = staging.rstrip("/")
    FileSystems.rename(staged, [final.rstrip("/") + path[len(prefix) :] for path in staged])


def _discard(staging: str) -> None:
    if not is_remote(staging):
        shutil.rmtree(staging, ignore_errors=True)
        return
    try:
        leftovers = _remote_files(staging)
        if leftovers:
            FileSystems.delete(leftovers)
    except Exception:  # best effort: the job's own error is what matters
        pass


# ---------------------------------------------------------------------------
# Errors raised inside the pipeline

_USER_ERROR = re.compile(r"(?:beam_jobs\.[\w.]+\.)?(?:InputError|ConfigError|JobError): (.+)")
_BEAM_CONTEXT = re.compile(r"\s*\[while running '[^']*'\]")


def user_error_in(error: BaseException) -> JobError | None:
    """The featurebeam user error behind a failed pipeline run, if that is what it was.

    In-process runners re-raise our exception (with Beam's step name added to
    its message); multi-process and remote ones report its traceback as text.
    """
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, JobError):
            return type(current)(_BEAM_CONTEXT.sub("", str(current)).strip(), current.details)
        current = current.__cause__ or current.__context__
    text = "".join(traceback.format_exception(error))
    matches = _USER_ERROR.findall(text)
    if matches:
        return InputError(_BEAM_CONTEXT.sub("", matches[-1]).strip())
    return None


# ---------------------------------------------------------------------------
# The job


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
    Raises JobError for problems the user can fix.
    """
    started, started_at = time.monotonic(), _now()
    files, input_format = inputs or list_input_files(job.input.path, job.input.format)
    skip = job.input.on_bad_record == "skip"
    resolved = resolve_schema(files, input_format, job.input.schema, skip_bad_records=skip)
    if command == "transform":
        prepared = _prepare_transform(job, resolved, transform_fn)
    else:
        prepared = _prepare_analysis(job, resolved)
    options_dict = resolved_options(job, dry_run=dry_run)
    prepared.notes.extend(check_paths_for_runner(job, dry_run))
    final = job.output.path
    staging = staging_path(final)
    options = build_options(options_dict)
    pipeline = beam.Pipeline(options=options)
    _build(pipeline, command, prepared, [f.path for f in files], input_format, job, staging)
    phases = len(prepared.plan.phases) if prepared.plan else 0
    summary = {
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
        "outputs": [{"name": c.name, "dtype": c.dtype, "shape": list(c.shape)} for c in prepared.outputs],
        "analysis_phases": phases,
        "analyzers": sum(len(p) for p in prepared.plan.phases) if prepared.plan else 0,
        "transform_fn_from": prepared.source_output,
        "notes": prepared.notes,
    }
    prepare_s = time.monotonic() - started
    if dry_run:
        if job.runner == "DataflowRunner":
            summary["dataflow_job"] = _dataflow_dry_run(pipeline, options_dict)
        return summary

    stale = clean_stale_siblings(final)
    if stale:
        prepared.notes.append(f"cleaned up after an interrupted earlier run: {', '.join(stale)}")
    _check_replaceable(final)
    try:
        if not is_remote(staging):
            os.makedirs(staging)
        if command == "transform":
            _copy_transform_fn(prepared.source_output, staging)
        pipeline_started = time.monotonic()
        try:
            if progress_stream is not None:
                with Progress(progress_stream, command):
                    result = pipeline.run()
                    result.wait_until_finish()
            else:
                result = pipeline.run()
                result.wait_until_finish()
        except Exception as error:
            user_error = user_error_in(error)
            if user_error is not None:
                raise user_error from None
            raise
        if str(result.state) not in ("DONE", "PipelineState.DONE"):
            raise RuntimeError(f"the pipeline finished in state {result.state}")
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
        summary["rejected"] = {
            **rejected,
            "path": FileSystems.join(final, REJECTED_DIR) if rejected["records"] else None,
        }
        summary["transformed_data"] = _entries(FileSystems.join(staging, DATA_DIR)) or []
        summary["timings_s"] = {
            "prepare": round(prepare_s, 3),
            "pipeline": round(time.monotonic() - pipeline_started, 3),
            "total": round(time.monotonic() - started, 3),
        }
        summary["started_at"], summary["finished_at"] = started_at, _now()
        summary["versions"] = _versions()
        summary["output"] = final
        write_json(FileSystems.join(staging, _inspect.RUN_FILE), summary)
        publish(staging, final)
    finally:
        _discard(staging)
    return summary


def _copy_transform_fn(source: str, staging: str) -> None:
    """A ``transform`` output carries the transform_fn it applied, so it is self-contained."""
    # Only these parts are fetched: not the source output's transformed data.
    for name in (TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR):
        local_part = local_copy(FileSystems.join(source, name))
        if os.path.isdir(local_part):
            upload_tree(local_part, FileSystems.join(staging, name))
    analyzers = FileSystems.join(source, _inspect.ANALYZERS_FILE)
    if FileSystems.exists(analyzers):
        with (
            FileSystems.open(analyzers) as reader,
            FileSystems.create(FileSystems.join(staging, _inspect.ANALYZERS_FILE)) as writer,
        ):
            shutil.copyfileobj(reader, writer)


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
