"""Google Cloud names checked offline: project IDs, regions, job names, bucket names, gs:// paths.

Dataflow and Cloud Storage reject a malformed name only once they are asked
over the network, and Beam itself, given a temp_location it cannot parse,
goes looking for a default bucket over the network for about two minutes.
These rules (from Google Cloud's documentation) are checked before anything
waits on the network; every message names the option and what is expected.
"""

from __future__ import annotations

import re

from featurebeam_base.errors import ConfigError

_PROJECT_ID = re.compile(r"^(?:[a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$")  # optional legacy domain:
_REGION = re.compile(r"^[a-z]+(?:-[a-z]+)+[0-9]+$")  # us-central1, europe-west4, northamerica-northeast1
_ZONE = re.compile(r"^([a-z]+(?:-[a-z]+)+[0-9]+)-[a-z]$")  # us-central1-a
_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # Beam's JOB_PATTERN, anchored
_BUCKET_CHARACTERS = re.compile(r"^[a-z0-9][-_.a-z0-9]*[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_GOOGLE_LIKE = re.compile(r"g[o0][o0]g[l1]e")


def check_project(project: str, key: str = "pipeline_options.project") -> None:
    """A Google Cloud project ID: 6 to 30 lowercase letters, digits and hyphens, starting with a letter."""
    if _PROJECT_ID.match(project):
        return
    if project.isdigit():
        why = "it looks like a project number; give the project ID"
    elif any(c.isupper() or c.isspace() for c in project):
        why = "it looks like a project name; give the project ID"
    else:
        why = "a project ID is 6 to 30 lowercase letters, digits and hyphens, starting with a letter"
    raise ConfigError(f"`{key}` {project!r} is not a Google Cloud project ID: {why} (e.g. 'my-project-123')")


def check_region(region: str, key: str = "pipeline_options.region") -> None:
    """A Google Cloud region such as ``us-central1`` (not a zone such as ``us-central1-a``)."""
    if _REGION.match(region):
        return
    zone = _ZONE.match(region)
    hint = f"; {region!r} is a zone, its region is {zone[1]!r}" if zone else ""
    raise ConfigError(f"`{key}` must be a Google Cloud region such as 'us-central1'; got {region!r}{hint}")


def check_job_name(name: str, key: str = "pipeline_options.job_name") -> None:
    if not _JOB_NAME.match(name):
        raise ConfigError(
            f"`{key}` {name!r} is not a valid Dataflow job name: lowercase letters, digits and hyphens, "
            "starting with a letter and ending with a letter or digit"
        )


def bucket_problem(bucket: str) -> str | None:
    """What breaks Cloud Storage's bucket naming rules, or None.

    >>> bucket_problem("my-bucket") is None
    True
    >>> bucket_problem("b")
    'a bucket name has 3 to 63 characters'
    """
    if not bucket:
        return "the bucket name is empty"
    parts = bucket.split(".")
    if not (3 <= len(bucket) <= (222 if len(parts) > 1 else 63)) or any(len(p) > 63 for p in parts):
        return "a bucket name has 3 to 63 characters" + (" (222 with dots, 63 between dots)" if len(parts) > 1 else "")
    if not _BUCKET_CHARACTERS.match(bucket):
        return (
            "a bucket name has only lowercase letters, digits, '-', '_' and '.', "
            "and starts and ends with a letter or digit"
        )
    if any(not p for p in parts):
        return "a bucket name has no empty part between dots"
    if _IP_ADDRESS.match(bucket):
        return "a bucket name cannot be an IP address"
    if bucket.startswith("goog") or _GOOGLE_LIKE.search(bucket):
        return "a bucket name cannot start with 'goog' or contain 'google'"
    return None


def check_gcs_path(path: str, key: str, *, needs_object: bool = False) -> None:
    """``gs://BUCKET/OBJECT``: the scheme spelled out, a valid bucket, an object part when ``needs_object``."""
    if not path.startswith("gs://"):
        raise ConfigError(f"`{key}` must be a gs:// path for DataflowRunner, such as gs://bucket/folder; got {path!r}")
    bucket, _, rest = path[len("gs://") :].partition("/")
    problem = bucket_problem(bucket)
    if problem:
        raise ConfigError(f"`{key}` {path!r} does not name a valid Cloud Storage bucket ({bucket!r}): {problem}")
    if needs_object and not rest.strip("/"):
        raise ConfigError(f"`{key}` must name a folder inside the bucket, e.g. gs://{bucket}/tmp; got {path!r}")
    if any(c in rest for c in "\n\r"):
        raise ConfigError(f"`{key}` {path!r} has a line break in its object name")


def looks_like_mistyped_gcs(path: str) -> bool:
    """A local path that was meant as gs:// (``gs:/bucket/x`` resolves to a local folder named ``gs:``).

    >>> looks_like_mistyped_gcs("/home/me/gs:/bucket/data")
    True
    """
    return "gs:" in path.replace("\\", "/").split("/")
