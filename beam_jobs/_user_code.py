"""The user's code: loading a preprocessing_fn, telling its errors from ours, shipping it to workers.

A preprocessing_fn is referenced as ``file.py:name`` or ``package.module:name``.
Its errors are the user's to fix: their traceback is shown through their own
frames only. Workers (other processes, Dataflow VMs) get its code by one
policy (``ship``): a module is pickled by value, inside the pipeline, when a
worker could not import it by name.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable

from beam_jobs._job import FN_REF
from featurebeam_base.errors import ConfigError
from featurebeam_base.naming import did_you_mean, quote_all

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OUR_PACKAGES = ("preprocessing", "analyzers", "beam_jobs", "featurebeam_base")
_OUR_CODE = tuple(os.path.join(PROJECT_ROOT, package) + os.sep for package in _OUR_PACKAGES)
_INSTALLED = ("site-packages", "dist-packages")
_LIBRARIES = (*_INSTALLED, "<frozen ", os.sep + "importlib" + os.sep)


# ---------------------------------------------------------------------------
# Shipping code to workers


def _importable_on_workers(module) -> bool:
    """Our packages and installed ones are installed on workers; a module from a user's folder is not."""
    path = getattr(module, "__file__", None) or ""
    top = module.__name__.split(".")[0]
    return top in _OUR_PACKAGES or not path or any(part in path for part in _INSTALLED)


def ship(modules: Iterable) -> None:
    """Register every module that workers could not import to be pickled by value."""
    from apache_beam.internal.cloudpickle import cloudpickle

    for module in modules:
        if module is None or module.__name__ == "__main__" or _importable_on_workers(module):
            continue
        try:
            cloudpickle.register_pickle_by_value(module)
        except ValueError:  # already registered, or not importable by name (then it pickles by value anyway)
            pass


def modules_of(preprocessing_fn: Callable) -> list:
    """The modules defining ``preprocessing_fn`` and the functions it closes over (wrappers, factories)."""
    pending, seen, modules = [preprocessing_fn], set(), []
    while pending:
        fn = pending.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        modules.append(sys.modules.get(getattr(fn, "__module__", None) or ""))
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                content = cell.cell_contents
            except ValueError:
                continue
            if callable(content):
                pending.append(content)
    return modules


def ship_preprocessing_fn(preprocessing_fn: Callable) -> None:
    """Make ``preprocessing_fn`` travel inside the pickled pipeline when workers cannot import it."""
    ship(modules_of(preprocessing_fn))


# ---------------------------------------------------------------------------
# Loading a preprocessing_fn


class _on_path:
    def __init__(self, directory: str):
        self.directory = directory

    def __enter__(self):
        sys.path.insert(0, self.directory)

    def __exit__(self, *exc):
        try:
            sys.path.remove(self.directory)
        except ValueError:
            pass


def _run_user_code(call, ref: str):
    try:
        return call()
    except Exception as error:  # the user's module failed to import: show their traceback
        raise ConfigError(
            f"`preprocessing_fn`: importing {ref} failed: {type(error).__name__}: {error}",
            details=user_traceback(error),
        ) from error


def _import_file(target: str, ref: str):
    if not os.path.isfile(target):
        raise ConfigError(f"`preprocessing_fn`: file {target!r} not found")
    module_name = "featurebeam_user_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(target))[0])
    spec = importlib.util.spec_from_file_location(module_name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with _on_path(os.path.dirname(target)):
        _run_user_code(lambda: spec.loader.exec_module(module), ref)
    return module


def _import_module(target: str, ref: str, search_dir: str):
    with _on_path(search_dir):
        try:
            return _run_user_code(lambda: importlib.import_module(target), ref)
        except ConfigError as error:
            missing = error.__cause__
            if isinstance(missing, ModuleNotFoundError) and target.startswith(missing.name or "\0"):
                raise ConfigError(
                    f"`preprocessing_fn`: no module named {target!r} (looked in {search_dir} and sys.path)"
                ) from None
            raise


def load_preprocessing_fn(ref: str, search_dir: str) -> Callable:
    """Import ``file.py:name`` or ``package.module:name``; raises ConfigError.

    Modules loaded from the user's own folder are shipped to workers by value.
    """
    match = FN_REF.match(ref)
    target, name = match["target"], match["name"]
    before = set(sys.modules)
    if target.endswith(".py"):
        module, local_dir = _import_file(target, ref), os.path.dirname(target)
    else:
        module, local_dir = _import_module(target, ref, search_dir), search_dir
    root = os.path.abspath(local_dir) + os.sep
    loaded = [sys.modules.get(n) for n in sorted(set(sys.modules) - before | {module.__name__})]
    ship(m for m in loaded if m is not None and os.path.abspath(getattr(m, "__file__", None) or "").startswith(root))
    fn = getattr(module, name, None)
    if fn is None:
        defined = [
            n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", None) == module.__name__
        ]
        hint = did_you_mean(name, defined) or (f"; it defines {quote_all(defined)}" if defined else "")
        raise ConfigError(f"`preprocessing_fn`: {target} has no {name!r}{hint}")
    if not callable(fn):
        raise ConfigError(f"`preprocessing_fn`: {target}:{name} is a {type(fn).__name__}, not a function")
    return fn


# ---------------------------------------------------------------------------
# Whose error is it?


def _owner(filename: str) -> str:
    """Whose code a traceback frame is in: "featurebeam", "library" or "user"."""
    if filename.startswith(_OUR_CODE):
        return "featurebeam"
    if any(part in filename for part in _LIBRARIES):
        return "library"
    return "user"


def user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` through the user's own code only (no featurebeam, Beam or TF frames)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if _owner(frame.filename) == "user"]
    if not frames:
        return ""
    lines = ["Traceback (your code):\n", *traceback.format_list(frames), f"{type(error).__name__}: {error}\n"]
    return "".join(lines)


def raised_by_user_code(error: BaseException) -> bool:
    """Whether the user's code raised ``error`` (directly, or through a library it called).

    The innermost frame that is not a library's decides: the user's code, or
    featurebeam's (a bug, reported as an internal error).
    """
    owners = [_owner(frame.filename) for frame in traceback.extract_tb(error.__traceback__)]
    own = [owner for owner in owners if owner != "library"]
    return bool(own) and own[-1] == "user"
