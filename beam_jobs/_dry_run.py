"""What a dry run shows about the job a runner would be given: the Dataflow job, or the portable pipeline."""

from __future__ import annotations


def runner_lines(summary: dict) -> list[str]:
    """Lines of ``featurebeam ... --dry-run`` output for the runner's own part of the summary."""
    dataflow, portable = summary.get("dataflow_job"), summary.get("portable_job")
    lines = []
    if dataflow:
        lines.append("  Dataflow job (constructed offline, not submitted):")
        lines.append(f"    name: {dataflow['name']}")
        lines.append(f"    transforms: {dataflow['transforms']}")
        lines.append(f"    setup_file: {dataflow['setup_file']}")
        lines.append(f"    staged files: {', '.join(dataflow['staged_files'])}")
        lines.extend(f"      {name}: {source}" for name, source in dataflow["staged_from"].items())
        lines.append(f"    container image: {', '.join(dataflow['container_images']) or 'none'}")
        lines.append("    workers:")
        lines.extend(f"      {key}: {value}" for key, value in dataflow["worker_options"].items())
    if portable:
        lines.append(f"  portable pipeline (translated offline for {summary['runner']}, not submitted):")
        lines.append(f"    transforms: {portable['transforms']}")
        lines.extend(f"    SDK workers: {environment}" for environment in portable["environments"])
        lines.append(f"    job service: {portable['job_service']}")
    return lines
