"""The Dataflow dry run: the job Beam would submit, constructed offline, and what it would stage.

Beam's ``dry_run`` option makes ``DataflowRunner.run`` stop once the job is
built, before any upload or API call. Its options were checked first
(``_runner_options``, ``_gcp_checks``), so building it needs no network: any
connection Beam attempts all the same is refused at once and reported as
"could not reach ..." (``_network.offline``), never a two-minute retry.
"""

from __future__ import annotations

from typing import Any

from beam_jobs._network import offline

# WorkerOptions a Dataflow job's workers are configured by, in the order the dry run shows them.
WORKER_OPTIONS = (
    "machine_type",
    "num_workers",
    "max_num_workers",
    "autoscaling_algorithm",
    "disk_size_gb",
    "worker_disk_type",
    "sdk_container_image",
    "worker_region",
    "worker_zone",
    "network",
    "subnetwork",
    "use_public_ips",
    "service_account_email",
    "number_of_worker_harness_threads",
)
_DEFAULTED = {"machine_type": "Dataflow's default", "max_num_workers": "Dataflow's default (autoscaling)"}


def dry_run(pipeline, options: dict[str, Any]) -> dict[str, Any]:
    """Build the Dataflow job (Beam's ``dry_run``); describe it, its staged files and its workers."""
    from apache_beam.portability.api import beam_runner_api_pb2

    with offline("the Dataflow job"):
        result = pipeline.run()
    job = result.job
    staged = {}  # name on the workers -> local file that would be uploaded
    images = set()
    for environment in job.proto_pipeline.components.environments.values():
        if environment.urn == "beam:env:docker:v1":
            images.add(beam_runner_api_pb2.DockerPayload.FromString(environment.payload).container_image)
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
        "staged_from": staged_sources(staged, options),
        "container_images": sorted(images),
        "worker_options": worker_options(options),
    }


def staged_sources(staged: dict[str, str], options: dict[str, Any]) -> dict[str, str]:
    """What each staged file is made from, in words."""
    known = {
        "workflow.tar.gz": f"source package built from {options.get('setup_file')}",
        "requirements.txt": f"a copy of {options.get('requirements_file')}",
        "submission_environment_dependencies.txt": "`pip freeze` of this Python environment (for Beam's checks)",
        "pickled_main_session": "the launching script's main session",
    }
    return {name: known.get(name, path) for name, path in sorted(staged.items())}


def worker_options(options: dict[str, Any]) -> dict[str, Any]:
    """The WorkerOptions set for the job, and what Dataflow decides for the main ones left unset."""
    shown = {}
    for key in WORKER_OPTIONS:
        if options.get(key) not in (None, "", []):
            shown[key] = options[key]
        elif key in _DEFAULTED:
            shown[key] = _DEFAULTED[key]
    return shown
