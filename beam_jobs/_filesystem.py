"""Moving directories between local disk and Beam filesystems (gs://, s3://, local).

TensorFlow writes and loads SavedModels on local disk; Beam's FileSystems
reach the job's output wherever it is. Local paths take the plain route.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from apache_beam.io.filesystems import FileSystems

from featurebeam_base.paths import is_remote, local_path


def upload_tree(local_dir: str, destination: str) -> None:
    """Copy ``local_dir`` to ``destination`` (a local or remote directory path)."""
    if not is_remote(destination):
        shutil.copytree(local_dir, local_path(destination), dirs_exist_ok=True)
        return
    for root, _, files in os.walk(local_dir):
        for name in files:
            source = os.path.join(root, name)
            relative = os.path.relpath(source, local_dir).replace(os.sep, "/")
            with open(source, "rb") as reader, FileSystems.create(FileSystems.join(destination, relative)) as writer:
                shutil.copyfileobj(reader, writer)


_LOCAL_COPIES: dict[str, str] = {}


def local_copy(directory: str) -> str:
    """A local path holding ``directory``'s files; remote trees are downloaded once per process."""
    if not is_remote(directory):
        return local_path(directory)
    if directory not in _LOCAL_COPIES:
        target = tempfile.mkdtemp(prefix="featurebeam_transform_fn_")
        prefix = directory.rstrip("/") + "/"
        for metadata in FileSystems.match([prefix + "**"])[0].metadata_list:
            relative = metadata.path[len(prefix) :]
            local_file = os.path.join(target, *relative.split("/"))
            os.makedirs(os.path.dirname(local_file), exist_ok=True)
            with FileSystems.open(metadata.path) as reader, open(local_file, "wb") as writer:
                shutil.copyfileobj(reader, writer)
        _LOCAL_COPIES[directory] = target
    return _LOCAL_COPIES[directory]
