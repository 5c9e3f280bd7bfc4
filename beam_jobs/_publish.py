"""Output folders: a run writes into a staging sibling, published only when the whole job succeeded.

Local outputs move into place with renames. On object stores (gs://, ...) there
are no directories to rename: the files are moved one by one through Beam's
FileSystems, and the earlier output is deleted only once the new one is complete.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import uuid

from apache_beam.io.filesystems import FileSystems

from beam_jobs._layout import ANOMALIES_FILE, DATA_DIR, RUN_FILE, TRANSFORM_FN_DIR
from featurebeam_base.errors import ConfigError
from featurebeam_base.paths import is_remote

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


def remote_files(directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return [m.path for m in FileSystems.match([prefix + "**"])[0].metadata_list]


def entries(directory: str) -> list[str] | None:
    """Names directly under ``directory``; None if it does not exist."""
    if is_remote(directory):
        prefix = directory.rstrip("/") + "/"
        names = {path[len(prefix) :].split("/", 1)[0] for path in remote_files(directory)}
        return sorted(names) if names else None
    if not os.path.exists(directory):
        return None
    if not os.path.isdir(directory):
        raise ConfigError(f"`output.path` {directory} exists and is not a folder")
    return sorted(os.listdir(directory))


def check_replaceable(final: str) -> None:
    """``final`` is absent, empty, or an earlier featurebeam output (never someone's other folder)."""
    found = entries(final)
    if not found:
        return
    if not (RUN_FILE in found or TRANSFORM_FN_DIR in found or DATA_DIR in found or ANOMALIES_FILE in found):
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
    staged = remote_files(staging)
    previous = remote_files(final)
    if previous:
        FileSystems.delete(previous)
    prefix = staging.rstrip("/")
    FileSystems.rename(staged, [final.rstrip("/") + path[len(prefix) :] for path in staged])


def discard(path: str) -> None:
    """Delete a staging folder (or part of one); best effort."""
    if not is_remote(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        leftovers = remote_files(path)
        if leftovers:
            FileSystems.delete(leftovers)
    except Exception:  # best effort: the job's own error is what matters
        pass


def make_staging(staging: str) -> None:
    if not is_remote(staging):
        os.makedirs(staging)
