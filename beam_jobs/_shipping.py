"""Getting a user's preprocessing_fn to Beam workers."""

from __future__ import annotations

import sys

from apache_beam.internal.cloudpickle import cloudpickle

_OUR_PACKAGES = ("preprocessing", "analyzers", "beam_jobs")


def _installed_on_workers(module) -> bool:
    name = module.__name__.split(".")[0]
    path = getattr(module, "__file__", None) or ""
    return name in _OUR_PACKAGES or "site-packages" in path or "dist-packages" in path or not path


def ship_by_value(preprocessing_fn) -> None:
    """Pickle the fn's module by value when workers could not import it by name.

    A preprocessing_fn loaded from a file (``fns/rides.py``) or defined in a test
    module is not importable on a worker process or a Dataflow VM; its code
    has to travel inside the pickled pipeline instead.
    """
    pending, seen = [preprocessing_fn], set()
    while pending:
        fn = pending.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        module = sys.modules.get(getattr(fn, "__module__", None) or "")
        if module is not None and module.__name__ != "__main__" and not _installed_on_workers(module):
            cloudpickle.register_pickle_by_value(module)
        # Functions the fn closes over (wrappers, factories) travel the same way.
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                content = cell.cell_contents
            except ValueError:
                continue
            if callable(content):
                pending.append(content)
