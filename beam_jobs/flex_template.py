"""A Dataflow Flex Template launcher for featurebeam jobs (untested here: no Docker, no Google Cloud).

The Flex Template's launcher container runs this file (``FLEX_TEMPLATE_PYTHON_PY_FILE``)
with the template's parameters and Dataflow's own pipeline options as flags::

    python -m beam_jobs.flex_template --job=gs://bucket/jobs/rides/job.yaml [--overrides="K=V;K=V"] \\
        --project=... --region=... --temp_location=... --staging_location=... --job_name=... ...

It fetches the job file (and a ``preprocessing_fn: file.py:name`` next to it)
through Beam's filesystems, then runs ``featurebeam run JOB --runner
DataflowRunner``, with every other flag as ``--set pipeline_options.KEY=VALUE``.
The job's ``input.path`` and ``output.path`` must be gs:// paths. See
deploy/dataflow/flex_template/ for the image and the template's metadata.
"""

from __future__ import annotations

import os
import sys
import tempfile

# Where the launcher image puts this project (deploy/dataflow/flex_template/Dockerfile).
SETUP_FILE = os.environ.get("FEATUREBEAM_SETUP_FILE", "/template/featurebeam/setup.py")
_OURS = ("job", "overrides")


def featurebeam_argv(flags: list[str], local_job: str) -> list[str]:
    """The ``featurebeam`` arguments for the launcher's flags.

    >>> featurebeam_argv(["--job=gs://b/job.yaml", "--project=p-123456", "--overrides=output.num_shards=4"], "j.yaml")
    ['run', 'j.yaml', '--runner', 'DataflowRunner', '--set', 'pipeline_options.project=p-123456', \
'--set', 'output.num_shards=4']
    """
    argv = ["run", local_job, "--runner", "DataflowRunner"]
    overrides = []
    for flag in flags:
        key, _, value = flag.lstrip("-").partition("=")
        if key == "overrides":
            overrides = [item for item in value.split(";") if item.strip()]
        elif key not in _OURS and key not in ("runner", "dry_run"):
            argv += ["--set", f"pipeline_options.{key}={value}"]
    if not any(flag.lstrip("-").startswith("setup_file=") for flag in flags) and os.path.isfile(SETUP_FILE):
        argv += ["--set", f"pipeline_options.setup_file={SETUP_FILE}"]
    for override in overrides:
        argv += ["--set", override.strip()]
    return argv


def job_flag(flags: list[str]) -> str:
    for flag in flags:
        key, _, value = flag.lstrip("-").partition("=")
        if key == "job" and value:
            return value
    raise SystemExit("featurebeam flex template: the `job` parameter (gs://.../job.yaml) is required")


def fetch_job(job: str, directory: str) -> str:
    """Copy the job file, and a ``file.py`` preprocessing_fn beside it, into ``directory``; the local job file."""
    import yaml
    from apache_beam.io.filesystems import FileSystems

    def copy(source: str) -> str:
        target = os.path.join(directory, os.path.basename(source))
        with FileSystems.open(source) as reader, open(target, "wb") as writer:
            writer.write(reader.read())
        return target

    local_job = copy(job)
    with open(local_job) as handle:
        fn_ref = (yaml.safe_load(handle) or {}).get("preprocessing_fn") or ""
    fn_file = fn_ref.rpartition(":")[0]
    if fn_file.endswith(".py") and not os.path.isabs(fn_file) and "://" not in fn_file:
        os.makedirs(os.path.join(directory, os.path.dirname(fn_file)), exist_ok=True)
        source = FileSystems.join(FileSystems.split(job)[0], fn_file)
        with FileSystems.open(source) as reader, open(os.path.join(directory, fn_file), "wb") as writer:
            writer.write(reader.read())
    return local_job


def main(flags: list[str]) -> int:
    from beam_jobs.cli import main as featurebeam

    with tempfile.TemporaryDirectory(prefix="featurebeam-flex-") as directory:
        return featurebeam(featurebeam_argv(flags, fetch_job(job_flag(flags), directory)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
