"""The one answer to "is this path remote?", built on Beam's ``FileSystems.get_scheme``.

A path without a scheme, or with ``file://``, is local and goes through the
local filesystem (renames, permissions, processes); any other scheme (gs://,
s3://, ...) goes through Beam's FileSystems.
"""

from __future__ import annotations

import os

_LOCAL_SCHEMES = (None, "file")


def scheme_of(path: str) -> str | None:
    """``'gs'`` for ``gs://b/x``, ``'file'`` for ``file:///x``, None for ``/x``."""
    if "://" not in path:  # every scheme Beam knows is spelled SCHEME://; spare importing Beam
        return None
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.get_scheme(path)


def is_remote(path: str) -> bool:
    return scheme_of(path) not in _LOCAL_SCHEMES


def local_path(path: str) -> str:
    """A local path without its ``file://`` scheme (``file:///tmp/x`` -> ``/tmp/x``)."""
    if scheme_of(path) == "file":
        return path[len("file://") :] or os.sep
    return path
