"""The ``featurebeam`` command: run, analyze, transform, validate and inspect jobs.

Exit status: 0 on success, 2 for a bad job file or bad input (one message, no
traceback), 3 when ``validate`` found anomalies, 1 for an internal error (a short message; the traceback goes to
the log file, or to the terminal with ``--verbose``), 130 when interrupted
(SIGINT) and 143 when terminated (SIGTERM): an interrupted job publishes nothing.

TensorFlow and Beam write start-up and runtime noise straight to the process's
stdout and stderr, some of it from C++ before any Python setting applies, and
worker processes inherit it. So while a command runs, file descriptors 1 and 2
point at a log file, and featurebeam writes its own output through copies of
the original ones. ``--verbose`` leaves them alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import signal
import sys
import tempfile
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

USAGE_ERROR, INTERNAL_ERROR, ANOMALIES_FOUND = 2, 1, 3
INTERRUPTED, TERMINATED = 130, 143


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featurebeam",
        description="Full-pass feature preprocessing (the tf.Transform API) on Apache Beam, from a YAML job file.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def job_command(name: str, help_text: str, dry_run: bool = True) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("job", metavar="JOB.yaml", help="the job file")
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a job file value, e.g. --set output.format=tfrecord (repeatable)",
        )
        command.add_argument("--runner", help="override `runner:` (DirectRunner, DataflowRunner, ...)")
        if dry_run:
            command.add_argument("--dry-run", action="store_true", help="build the pipeline and show it; do not run it")
        command.add_argument("--quiet", "-q", action="store_true", help="no progress line and no summary")
        command.add_argument("--verbose", "-v", action="store_true", help="show TensorFlow's and Beam's own logs")
        return command

    for name, help_text in (
        ("run", "analyze the data and transform it: writes the transform_fn, the transformed data and statistics"),
        ("analyze", "analyze the data: writes the transform_fn and the statistics"),
    ):
        job_command(name, help_text).add_argument(
            "--no-statistics",
            dest="no_statistics",
            action="store_true",
            help="do not compute the input's statistics (as `statistics: false` in the job file)",
        )
    transform = job_command("transform", "apply an existing transform_fn to the job's input, without analyzing")
    transform.add_argument(
        "--transform-fn", required=True, metavar="DIR", help="an earlier output (the folder holding transform_fn/)"
    )

    validate = job_command(
        "validate",
        "compare the statistics of the job's input with a baseline output's: schema changes, skew and drift "
        "(exit status 3 when there are anomalies)",
        dry_run=False,
    )
    validate.add_argument(
        "--baseline", required=True, metavar="OUTPUT", help="an earlier run's output (with statistics/FeatureStats.pb)"
    )
    validate.add_argument(
        "--output",
        metavar="DIR",
        help="where to write anomalies.json, the statistics and report.html "
        "(default: the job's output.path with -validation appended)",
    )

    inspect = commands.add_parser("inspect", help="show what an output learned and its serving signatures")
    inspect.add_argument("output", metavar="OUTPUT", help="a featurebeam output folder")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument("--verbose", "-v", action="store_true", help=argparse.SUPPRESS)
    return parser


class _Console:
    """featurebeam's own stdout/stderr while the process's fds 1 and 2 go to a log file."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.log_path = None
        if verbose:
            self.out, self.err = sys.stdout, sys.stderr
            return
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        handle, self.log_path = tempfile.mkstemp(prefix="featurebeam-", suffix=".log")
        os.dup2(handle, 1)
        os.dup2(handle, 2)
        os.close(handle)
        self.out = io.TextIOWrapper(os.fdopen(os.dup(self._saved[0]), "wb", buffering=0), write_through=True)
        self.err = io.TextIOWrapper(os.fdopen(os.dup(self._saved[1]), "wb", buffering=0), write_through=True)
        self._tty = os.isatty(self._saved[1])

    def is_terminal(self) -> bool:
        return self.err.isatty() if self.verbose else self._tty

    def close(self, keep_log: bool) -> None:
        if self.verbose:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        if not keep_log and self.log_path:
            os.unlink(self.log_path)


def _quiet_libraries() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("apache_beam", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the staging folder is removed on the way out."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = _Console(args.verbose)
    keep_log = False
    try:
        previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (main() called from a thread): keep the default
        previous_handler = None
    try:
        if not args.verbose:
            _quiet_libraries()
        from featurebeam_base.errors import UserError

        try:
            return _dispatch(args, console)
        except UserError as error:
            console.err.write(f"featurebeam: error: {error}\n")
            if error.details:
                console.err.write(error.details.rstrip() + "\n")
            return USAGE_ERROR
    except KeyboardInterrupt as interrupt:
        what = "terminated" if isinstance(interrupt, _Terminated) else "interrupted"
        console.err.write(f"featurebeam: {what}; no output was published\n")
        return TERMINATED if isinstance(interrupt, _Terminated) else INTERRUPTED
    except Exception as error:
        keep_log = _report_internal_error(error, console)
        return INTERNAL_ERROR
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        console.close(keep_log)


def _report_internal_error(error: Exception, console: _Console) -> bool:
    """A short message on the terminal; the traceback in the log file (or here, with --verbose).

    Returns whether the log file is to be kept.
    """
    details = traceback.format_exc()
    summary = (str(error).strip().splitlines() or [""])[0]
    console.err.write(f"featurebeam: internal error: {type(error).__name__}: {summary}\n")
    if console.verbose:
        console.err.write(details)
        console.err.write(
            "featurebeam: this is a bug in featurebeam, not in your job; please report it with the traceback above\n"
        )
        return False
    sys.stderr.write(f"\nfeaturebeam: internal error\n{details}")  # fd 2 is the log file
    sys.stderr.flush()
    console.err.write(
        "featurebeam: this is a bug in featurebeam, not in your job. The traceback, with TensorFlow's and Beam's "
        f"logs, is in {console.log_path} (or run again with --verbose to see it here)\n"
    )
    return True


def _dispatch(args, console: _Console) -> int:
    if args.command == "inspect":
        from beam_jobs import _inspect

        info = _inspect.inspect_output(args.output)
        console.out.write((json.dumps(info, indent=2) if args.json else _inspect.format_inspection(info)) + "\n")
        return 0

    from beam_jobs._job import check_preprocessing_fn_file, load_job

    # What can be checked before TensorFlow is imported (seconds) is checked first.
    job = load_job(args.job, args.overrides, runner=args.runner)
    if getattr(args, "no_statistics", False):
        job = dataclasses.replace(job, statistics=False)
    if args.command != "validate":  # validate reads the input only; the fn need not be on this machine
        check_preprocessing_fn_file(job)
    from beam_jobs._network import list_inputs
    from beam_jobs._runner_options import resolved_options

    dry_run = getattr(args, "dry_run", False)
    resolved_options(job, dry_run=dry_run)  # the runner and its options, offline: before any network wait
    inputs = list_inputs(job, dry_run)
    show_progress = console.is_terminal() and not args.quiet and not dry_run
    if args.command == "validate":
        return _validate(args, job, inputs, console, show_progress)
    from beam_jobs import _run

    summary = _run.execute(
        job,
        args.command,
        transform_fn=getattr(args, "transform_fn", None),
        dry_run=args.dry_run,
        progress_stream=console.err if show_progress else None,
        inputs=inputs,
        on_warning=lambda warning: console.err.write(f"featurebeam: warning: {warning}\n"),
    )
    if args.dry_run:
        console.out.write(_format_dry_run(summary) + "\n")
        return 0
    for warning in _warnings(summary):
        console.err.write(f"featurebeam: warning: {warning}\n")
    if not args.quiet:
        console.out.write(_format_summary(summary) + "\n")
    return 0


def _validate(args, job, inputs, console: _Console, show_progress: bool) -> int:
    from beam_jobs import _validate

    document = _validate.validate(
        job,
        args.baseline,
        args.output,
        progress_stream=console.err if show_progress else None,
        inputs=inputs,
    )
    for warning in _warnings(document):
        console.err.write(f"featurebeam: warning: {warning}\n")
    if not args.quiet:
        console.out.write(_validate.format_result(document) + "\n")
    return ANOMALIES_FOUND if document["anomaly_list"] else 0


def _warnings(summary: dict) -> list[str]:
    """What the user must know even with --quiet: data that was not used as it is."""
    warnings = [
        f"column {column!r} has {count:,} NaN or infinite values"
        for column, count in summary.get("non_finite_values", {}).items()
    ]
    rejected = summary.get("rejected") or {}
    if rejected.get("records"):
        files = rejected["files"]
        rows = "an unknown number of rows" if rejected["rows"] is None else f"{rejected['rows']:,} rows"
        warnings.append(
            f"skipped {rejected['records']:,} bad records ({rows}) in {len(files)} file(s) "
            f"(`input.on_bad_record: skip`); they are listed in {rejected['path']}/ and run.json"
        )
    return warnings


def _columns(schema: dict) -> str:
    return ", ".join(f"{name} ({column['type']})" for name, column in schema.items())


def _format_dry_run(summary: dict) -> str:
    inputs = summary["inputs"]
    lines = [
        f"dry run of `featurebeam {summary['command']}`: the pipeline was built, not run",
        f"  runner: {summary['runner']}",
        f"  analysis phases: {summary['analysis_phases']} ({summary['analyzers']} analyzers)",
        f"  input: {len(inputs['files'])} {inputs['format']} file(s), {inputs['total_bytes']:,} bytes",
        f"  columns read: {_columns(summary['schema'])}",
        f"  outputs: {', '.join(o['name'] for o in summary['outputs'])}",
        f"  output: {summary['job']['output']['path']} ({summary['job']['output']['format']})",
        "  pipeline options:",
    ]
    lines.extend(f"    {key}: {value}" for key, value in summary["pipeline_options"].items())
    from beam_jobs._dry_run import runner_lines

    lines.extend(runner_lines(summary))
    lines.extend(f"  note: {note}" for note in summary["notes"])
    return "\n".join(lines)


def _format_summary(summary: dict) -> str:
    from apache_beam.io.filesystems import FileSystems

    from beam_jobs._inspect import analyzer_line, recorded_analyzers

    output = summary["output"]
    rows = summary["rows"]
    inputs = summary["inputs"]
    lines = [
        f"featurebeam {summary['command']}: done in {summary['timings_s']['total']:.1f} s",
        f"  read {rows['read']:,} rows from {len(inputs['files'])} {inputs['format']} file(s)",
    ]
    if summary["command"] != "analyze":
        lines.append(
            f"  wrote {rows['written']:,} rows to {len(summary['transformed_data'])} "
            f"{summary['job']['output']['format']} file(s) in {FileSystems.join(output, 'transformed_data')}"
        )
    lines.append(f"  transform_fn: {FileSystems.join(output, 'transform_fn')}")
    if summary.get("statistics"):
        lines.append(f"  statistics: {summary['statistics']} (report: {summary['report']})")
    records = recorded_analyzers(output) if summary["command"] != "transform" else None
    if records is not None:
        phases = summary["analysis_phases"]
        lines.append(f"  learned ({summary['analyzers']} analyzers in {phases} phase{'s' if phases != 1 else ''}):")
        lines.extend(f"    {analyzer_line(record)}" for record in records)
    lines.append(f"  more: featurebeam inspect {output}")
    return "\n".join(lines)


def console_main() -> None:
    """The ``featurebeam`` command: ``main``, then exit without interpreter teardown.

    Everything is written and published when ``main`` returns; tearing down
    TensorFlow and Beam would only add one to two seconds to every command.
    """
    status = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    console_main()
