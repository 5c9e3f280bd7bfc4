"""User errors raised in workers, carried to the launching process with their type.

An in-process runner re-raises a DoFn's exception in the launcher, where its
type tells a user error from a bug. Runners that run workers in other
processes (multi-process DirectRunner, portable runners, Dataflow) only
report a worker's traceback as text. So a DoFn that may raise a user error
(``reporting_errors``) first writes it as a record (``UserError.to_record``)
into a folder of the job's staging output, which every worker can reach; the
launcher reads it back (``reported_error``) when the pipeline fails.
"""

from __future__ import annotations

import json
import uuid

from featurebeam_base.errors import UserError


def report(error: UserError, directory: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(directory, f"{uuid.uuid4().hex}.json")
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(error.to_record()).encode())


def reporting_errors(items, directory: str | None):
    """Yield from ``items``; a user error raised meanwhile is reported to ``directory``, then re-raised."""
    try:
        yield from items
    except UserError as error:
        if directory is not None:
            report(error, directory)
        raise


def reported_error(directory: str) -> UserError | None:
    """The first user error reported to ``directory`` (in name order), or None."""
    from apache_beam.io.filesystems import FileSystems

    try:
        found = FileSystems.match([FileSystems.join(directory, "*.json")])[0].metadata_list
    except Exception:  # no such folder: nothing was reported
        return None
    for metadata in sorted(found, key=lambda m: m.path):
        with FileSystems.open(metadata.path) as handle:
            return UserError.from_record(json.loads(handle.read().decode()))
    return None
