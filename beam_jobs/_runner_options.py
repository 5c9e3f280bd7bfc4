"""Beam PipelineOptions for a job: validated against Beam's own option table.

``pipeline_options`` keys are checked against every option Beam defines (a typo
gets the nearest one), values against the option's type and choices. For
DataflowRunner, ``setup_file`` defaults to this project's setup.py, which is
how workers install featurebeam; ``--dry-run`` sets Beam's ``dry_run`` so the
Dataflow job is constructed offline and not submitted.
"""

from __future__ import annotations

import os
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from beam_jobs._job import JobConfig
from beam_jobs._user_code import PROJECT_ROOT
from featurebeam_base.errors import ConfigError
from featurebeam_base.naming import did_you_mean, quote_all
from featurebeam_base.paths import is_remote

KNOWN_RUNNERS = (
    "DirectRunner",
    "DataflowRunner",
    "PrismRunner",
    "FlinkRunner",
    "SparkRunner",
    "PortableRunner",
    "InteractiveRunner",
    "SwitchingDirectRunner",
    "BundleBasedDirectRunner",
)
LOCAL_RUNNERS = ("DirectRunner", "PrismRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "InteractiveRunner")
_DATAFLOW_REQUIRED = ("project", "region", "temp_location")
_SET_BY_FEATUREBEAM = ("runner", "dry_run")


def project_setup_file() -> str | None:
    """This project's setup.py, when featurebeam runs from a source checkout."""
    path = os.path.join(PROJECT_ROOT, "setup.py")
    return path if os.path.isfile(path) else None


def _option_actions() -> dict[str, Any]:
    parser = _BeamArgumentParser(allow_abbrev=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - how Beam itself collects its options
    return {action.dest: action for action in parser._actions if action.dest != "help"}  # noqa: SLF001


def _check_value(key: str, value: Any, action) -> Any:
    path = f"pipeline_options.{key}"
    if action.nargs == 0:  # a flag
        if not isinstance(value, bool):
            raise ConfigError(f"`{path}` must be true or false; got {value!r}")
        return value
    if type(action).__name__.startswith("_Append"):
        items = value if isinstance(value, list) else [value]
        return [str(item) for item in items]
    if action.choices and value not in action.choices:
        hint = did_you_mean(value, action.choices) if isinstance(value, str) else ""
        raise ConfigError(f"`{path}` must be one of {quote_all(action.choices)}; got {value!r}{hint}")
    if action.type in (int, float):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (action.type is int and value != int(value))
        ):
            kind = "an integer" if action.type is int else "a number"
            raise ConfigError(f"`{path}` must be {kind}; got {value!r}")
        return action.type(value)
    if isinstance(value, (dict, list)):
        raise ConfigError(f"`{path}` must be a single value; got {value!r}")
    return value


def check_runner(runner: str) -> str:
    if runner in KNOWN_RUNNERS or "." in runner:  # a fully qualified runner class is fine too
        return runner
    hint = did_you_mean(runner, KNOWN_RUNNERS)
    raise ConfigError(f"`runner` must be one of {quote_all(KNOWN_RUNNERS)}; got {runner!r}{hint}")


def resolved_options(job: JobConfig, *, dry_run: bool = False) -> dict[str, Any]:
    """The validated options dict the job runs with (what run.json and --dry-run show)."""
    runner = check_runner(job.runner)
    actions = _option_actions()
    options: dict[str, Any] = {}
    for key, value in job.pipeline_options.items():
        if key in _SET_BY_FEATUREBEAM:
            hint = "use `runner:` in the job file or --runner" if key == "runner" else "use --dry-run"
            raise ConfigError(f"`pipeline_options.{key}` is set by featurebeam; {hint}")
        action = actions.get(key)
        if action is None:
            hint = did_you_mean(key, actions, quote=lambda name: f"`pipeline_options.{name}`")
            raise ConfigError(f"`pipeline_options.{key}` is not a Beam pipeline option{hint}")
        options[key] = _check_value(key, value, action)
    options["runner"] = runner
    if runner == "DataflowRunner":
        _dataflow_options(job, options, dry_run)
    return options


def _dataflow_options(job: JobConfig, options: dict[str, Any], dry_run: bool) -> None:
    for key in _DATAFLOW_REQUIRED:
        if not options.get(key):
            raise ConfigError(f"`pipeline_options.{key}` is required for DataflowRunner")
    if not str(options["temp_location"]).startswith("gs://"):
        raise ConfigError(
            "`pipeline_options.temp_location` must be a gs:// path for DataflowRunner; "
            f"got {options['temp_location']!r}"
        )
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
    if dry_run:
        options["dry_run"] = True


def check_paths_for_runner(job: JobConfig, dry_run: bool) -> list[str]:
    """Errors (raised) and warnings (returned) about paths a remote runner cannot use."""
    notes = []
    if job.runner in LOCAL_RUNNERS:
        return notes
    for key, path in (("input.path", job.input.path), ("output.path", job.output.path)):
        if not is_remote(path):
            message = f"`{key}` is a local path ({path}); {job.runner} workers cannot reach it: use gs://..."
            if not dry_run:
                raise ConfigError(message)
            notes.append(message)
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


def printable_options(options: PipelineOptions) -> dict[str, Any]:
    """Options that differ from Beam's defaults, as the runner sees them."""
    shown = options.get_all_options(drop_default=True, retain_unknown_options=True)
    return {key: value for key, value in sorted(shown.items()) if value not in (None, [], {})}
