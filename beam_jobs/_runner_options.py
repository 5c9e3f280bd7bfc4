"""Beam PipelineOptions for a job, checked offline against Beam's own option classes.

``pipeline_options`` keys are checked against every option Beam defines,
including those of the runner's own module (a typo gets the nearest one), and
values against the option's type and choices. A value given as text (``--set
pipeline_options.KEY=VALUE``) is read as Beam's command line reads
``--KEY=VALUE``: ``flink_master=[local]`` stays the string ``[local]``.
Then each option class validates itself, as ``beam.Pipeline`` would (Beam's
``PipelineOptionsValidator``), so a rejected option is a user error naming the
option, found before the job starts.

For DataflowRunner, project, region, job name and every gs:// path are checked
first, locally (``_gcp_checks``): Beam would go on the network for some of them.
``setup_file`` defaults to this project's setup.py, which is how workers
install featurebeam (``setup_file: ""`` ships nothing, for a worker container
that has featurebeam installed); ``--dry-run`` sets Beam's ``dry_run`` so the
Dataflow job is constructed offline and not submitted.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import yaml
from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from beam_jobs import _gcp_checks
from beam_jobs._job import JobConfig
from beam_jobs._portable import check_job_endpoint
from beam_jobs._runners import RunnerInfo, resolve_runner
from beam_jobs._user_code import PROJECT_ROOT
from featurebeam_base.errors import ConfigError
from featurebeam_base.naming import did_you_mean, quote_all
from featurebeam_base.paths import is_remote

_DATAFLOW_REQUIRED = ("project", "region", "temp_location")
_SET_BY_FEATUREBEAM = ("runner", "dry_run")
_NUMBER_KIND = {int: "an integer", float: "a number"}
# Option classes that only some runners read: anything else set for another runner is ignored by it.
# {option class: (whose options they are, the runner classes that read them)}
_READ_ONLY_BY = {
    "DirectOptions": ("DirectRunner", ("SwitchingDirectRunner", "BundleBasedDirectRunner", "FnApiRunner")),
    "FlinkRunnerOptions": ("FlinkRunner", ("FlinkRunner",)),
    "SparkRunnerOptions": ("SparkRunner", ("SparkRunner",)),
    "PrismRunnerOptions": ("PrismRunner", ("PrismRunner",)),
    "KafkaStreamsRunnerOptions": ("KafkaStreamsRunner", ("KafkaStreamsRunner",)),
}


def project_setup_file() -> str | None:
    """This project's setup.py, when featurebeam runs from a source checkout."""
    path = os.path.join(PROJECT_ROOT, "setup.py")
    return path if os.path.isfile(path) else None


def _option_classes() -> list[type]:
    """Every PipelineOptions subclass defined so far (a runner's module may add its own)."""
    found, pending = {}, list(PipelineOptions.__subclasses__())
    while pending:
        cls = pending.pop()
        found.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
        pending.extend(cls.__subclasses__())
    return list(found.values())


def _option_table() -> dict[str, tuple[Any, str]]:
    """``{option name: (argparse action, the option class defining it)}``, as Beam collects them."""
    table = {}
    for cls in _option_classes():
        parser = _BeamArgumentParser(allow_abbrev=False)
        cls._add_argparse_args(parser)  # noqa: SLF001 - how Beam itself collects its options
        for action in parser._actions:  # noqa: SLF001
            if action.dest != "help":
                table.setdefault(action.dest, (action, cls.__name__))
    return table


def _numeric_choice_hint(value, choices) -> str:
    """YAML reads ``1.20`` as the number 1.2: suggest quoting when a choice is that number spelled out."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for choice in choices:
            try:
                if float(choice) == value:
                    return f" (YAML read it as a number: quote it, '{choice}')"
            except (TypeError, ValueError):
                continue
    return ""


def _from_text(path: str, text: str, action) -> Any:
    """``text`` as Beam's command line would store ``--KEY=text``: converted by the option's own type and action."""
    if type(action).__name__ in ("_AppendAction", "_CommaSeparatedListAction") and text.lstrip().startswith("["):
        items = yaml.safe_load(text)  # --set pipeline_options.experiments=[a, b]
        return [str(item) for item in items] if isinstance(items, list) else [text]
    try:
        value = action.type(text) if callable(action.type) else text
        namespace = argparse.Namespace(**{action.dest: None})
        action(_BeamArgumentParser(), namespace, value, action.option_strings[0])
    except (argparse.ArgumentError, ValueError, TypeError) as error:
        if action.type in (int, float):
            raise ConfigError(f"`{path}` must be {_NUMBER_KIND[action.type]}; got {text!r}") from None
        raise ConfigError(f"`{path}`: {text!r} is not a valid value: {error}") from None
    return getattr(namespace, action.dest)


def _check_value(key: str, value: Any, action) -> Any:
    path = f"pipeline_options.{key}"
    if action.nargs == 0:  # a flag
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"`{path}` must be true or false; got {value!r}")
        return value
    if action.choices and value not in action.choices:
        hint = did_you_mean(value, action.choices) if isinstance(value, str) else ""
        hint = hint or _numeric_choice_hint(value, action.choices)
        raise ConfigError(f"`{path}` must be one of {quote_all(action.choices)}; got {value!r}{hint}")
    if isinstance(value, str):
        return _from_text(path, value, action)
    if type(action).__name__ in ("_AppendAction", "_CommaSeparatedListAction"):
        items = value if isinstance(value, list) else [value]
        return [str(item) for item in items]
    if action.type in (int, float):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (action.type is int and value != int(value))
        ):
            raise ConfigError(f"`{path}` must be {_NUMBER_KIND[action.type]}; got {value!r}")
        return action.type(value)
    if isinstance(value, dict) and getattr(action.type, "__name__", "") == "loads":  # a JSON-valued option
        return value
    if isinstance(value, (dict, list)):
        hint = " (in YAML, quote a value written in brackets: '[local]')" if isinstance(value, list) else ""
        raise ConfigError(f"`{path}` must be a single value; got {value!r}{hint}")
    return value


def resolved_options(job: JobConfig, *, dry_run: bool = False) -> dict[str, Any]:
    """The validated options dict the job runs with (what run.json and --dry-run show).

    Everything here is checked offline; raises ConfigError.
    """
    runner = resolve_runner(job.runner)
    table = _option_table()
    options: dict[str, Any] = {}
    for key, value in job.pipeline_options.items():
        if key in _SET_BY_FEATUREBEAM:
            hint = "use `runner:` in the job file or --runner" if key == "runner" else "use --dry-run"
            raise ConfigError(f"`pipeline_options.{key}` is set by featurebeam; {hint}")
        if key not in table:
            hint = did_you_mean(key, table, quote=lambda name: f"`pipeline_options.{name}`")
            raise ConfigError(f"`pipeline_options.{key}` is not a Beam pipeline option{hint}")
        options[key] = _check_value(key, value, table[key][0])
    options["runner"] = job.runner
    if runner.kind == "dataflow":
        _dataflow_options(job, options, dry_run)
    elif runner.kind == "portable":
        check_job_endpoint(runner.cls.__name__, options)
    if dry_run and options.get("requirements_file") and "requirements_cache" not in options:
        options["requirements_cache"] = "skip"  # a dry run does not pip-download the requirements
    _validate_like_beam(options, runner, table)
    return options


def _dataflow_options(job: JobConfig, options: dict[str, Any], dry_run: bool) -> None:
    for key in _DATAFLOW_REQUIRED:
        if not options.get(key):
            raise ConfigError(f"`pipeline_options.{key}` is required for DataflowRunner")
    _gcp_checks.check_project(str(options["project"]))
    _gcp_checks.check_region(str(options["region"]))
    if options.get("job_name"):
        _gcp_checks.check_job_name(str(options["job_name"]))
    for key in ("temp_location", "staging_location"):
        if options.get(key):
            _gcp_checks.check_gcs_path(str(options[key]), f"pipeline_options.{key}", needs_object=True)
    for key, value in options.items():  # any other gs:// option: template_location, sdk_location, ...
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("gs:"):
                _gcp_checks.check_gcs_path(item, f"pipeline_options.{key}")
    for key, path in (("input.path", job.input.path), ("output.path", job.output.path)):
        if path.startswith("gs:"):
            _gcp_checks.check_gcs_path(path, key, needs_object=key == "output.path")
        elif _gcp_checks.looks_like_mistyped_gcs(path):
            raise ConfigError(f"`{key}` {path} is a local path with a folder named 'gs:': write gs://bucket/...")
    if options.get("setup_file") == "":  # the workers' container has featurebeam installed: ship nothing
        del options["setup_file"]
        return _mark_dry_run(options, dry_run)
    if "setup_file" in options:
        setup_file = os.path.normpath(os.path.join(job.base_dir, options["setup_file"]))
    else:
        setup_file = project_setup_file()
        if setup_file is None:
            raise ConfigError(
                "`pipeline_options.setup_file` must be set for DataflowRunner: featurebeam is not running "
                "from a source checkout, so it cannot find its own setup.py to ship to workers"
            )
    if not os.path.isfile(setup_file):
        raise ConfigError(f"`pipeline_options.setup_file`: {setup_file} does not exist")
    options["setup_file"] = setup_file
    _mark_dry_run(options, dry_run)


def _mark_dry_run(options: dict[str, Any], dry_run: bool) -> None:
    if dry_run:
        options["dry_run"] = True


def _validate_like_beam(options: dict[str, Any], runner: RunnerInfo, table) -> None:
    """Beam's own checks of every option class (``beam.Pipeline`` runs them too), offline.

    ``dry_run`` is set for the check: with it, Beam skips looking up the
    temp_location bucket's soft-delete policy over the network.
    """
    from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator

    checked = PipelineOptions(flags=[], **{**options, "dry_run": True})
    errors = PipelineOptionsValidator(checked, runner.cls()).validate()
    if errors:
        raise ConfigError(beam_validation_message(errors[0], options, runner.name, table))


def beam_validation_message(error: str, options: dict, runner: str, table=None) -> str:
    """One of Beam's option validation errors, naming the option it is about."""
    error = error.strip()
    if "required for environment type EXTERNAL" in error:
        return (
            "`pipeline_options.environment_config` is required with `environment_type: EXTERNAL`: "
            "the address of the worker pool, e.g. localhost:50000"
        )
    names = table or _option_table()
    mentioned = [name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", error)]
    mentioned.sort(key=lambda name: (name not in options, error.find(name)))
    where = f"`pipeline_options.{mentioned[0]}`" if mentioned else "`pipeline_options`"
    return f"{where}: {error.rstrip('.')} (Beam's check of the options for {runner})"


def ignored_options(job: JobConfig) -> list[str]:
    """Warnings for options of another runner's option class: Beam ignores them, silently."""
    runner = resolve_runner(job.runner)
    if runner.kind == "other":
        return []
    table = _option_table()
    warnings = []
    for key in job.pipeline_options:
        owner = table.get(key, (None, ""))[1]
        if owner not in _READ_ONLY_BY:
            continue
        whose, readers = _READ_ONLY_BY[owner]
        if not runner.is_named(*readers, "InteractiveRunner"):
            warnings.append(f"`pipeline_options.{key}` is a {whose} option ({owner}); {job.runner} ignores it")
    return warnings


def check_paths_for_runner(job: JobConfig, dry_run: bool) -> list[str]:
    """Warnings (returned) about local paths the runner's workers may not reach; errors (raised) where they cannot.

    Local runners read and write local paths. Portable runners (Flink, Spark,
    a job service) may run their workers here or on a cluster: a local path
    works when the workers run on this machine or see it at the same path on
    a shared filesystem. Dataflow's workers never do: gs:// it is.
    """
    runner = resolve_runner(job.runner)
    if runner.kind == "local":
        return []
    notes = []
    for key, path in (("input.path", job.input.path), ("output.path", job.output.path)):
        if is_remote(path):
            continue
        if runner.kind == "dataflow":
            message = f"`{key}` is a local path ({path}); {job.runner} workers cannot reach it: use gs://..."
            if not dry_run:
                raise ConfigError(message)
        else:
            message = (
                f"`{key}` is a local path ({path}); {job.runner} workers reach it only if they run on this "
                "machine or see it at the same path on a shared filesystem (otherwise use a path every worker "
                "can reach, such as gs://, s3:// or hdfs://)"
            )
        notes.append(message)
    return notes


def runner_notes(job: JobConfig, options: dict[str, Any], dry_run: bool) -> list[str]:
    """Everything the user should know about running this job on its runner (local paths, ignored options)."""
    notes = check_paths_for_runner(job, dry_run) + ignored_options(job)
    if dry_run and options.get("requirements_cache") == "skip" and "requirements_cache" not in job.pipeline_options:
        notes.append(
            "the dry run does not download the packages of `pipeline_options.requirements_file` "
            "(requirements_cache: skip); a real run downloads them with pip to stage them"
        )
    return notes


def build_options(options: dict[str, Any]) -> PipelineOptions:
    if options.get("direct_running_mode") == "multi_processing":
        _make_project_importable_in_subprocesses()
    return PipelineOptions(flags=[], **options)


def _make_project_importable_in_subprocesses() -> None:
    """Multi-process DirectRunner workers import featurebeam: works from a checkout too."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if PROJECT_ROOT not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([PROJECT_ROOT, *[p for p in paths if p]])


def workers_in_this_process(options: dict[str, Any]) -> bool:
    """Whether the job's DoFns run in this process (so a progress line can count their rows live)."""
    runner = resolve_runner(str(options["runner"]))
    in_memory = options.get("direct_running_mode", "in_memory") in ("in_memory", "multi_threading")
    return runner.kind == "local" and not runner.is_named("PrismRunner") and in_memory


def printable_options(options: PipelineOptions) -> dict[str, Any]:
    """Options that differ from Beam's defaults, as the runner sees them."""
    shown = options.get_all_options(drop_default=True, retain_unknown_options=True)
    return {key: value for key, value in sorted(shown.items()) if value not in (None, [], {})}
