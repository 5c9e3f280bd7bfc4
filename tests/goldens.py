"""tf.Transform goldens: outputs of tensorflow-transform 1.21, generated once and committed as Parquet.

tf.Transform is slow (minutes for some text functions), so parity tests compare
featurebeam with outputs that tf.Transform computed once on the same data
(``make goldens`` regenerates them). Each family keeps one live tf.Transform
run in ``make test`` as well, so a golden cannot go stale unnoticed.

A golden case is registered with ``@golden_case(name)`` on a function that
returns ``(make_fn, feature_spec, columns)``: ``make_fn(module)`` builds the
preprocessing_fn against ``tensorflow_transform`` or ``preprocessing``,
``feature_spec`` is tf.Transform's raw feature spec and ``columns`` the raw
data (one numpy array per feature, one row per element; lists for varlen
features). A fourth element, a dict, passes options to ``run_tft_with_spec``
(``desired_batch_size``, ``transform_columns``). Cases live in the test
modules named in ``MODULES``.

    python -m tests.goldens            # regenerate every golden
    python -m tests.goldens NAME ...   # only these
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens")
MODULES: list[str] = [  # test modules holding @golden_case functions
    "tests.test_parity_lists",
    "tests.test_vocabulary_parity",
    "tests.test_parity_numeric",
]
CASES: dict[str, Callable] = {}


def golden_case(name: str) -> Callable:
    def register(case: Callable) -> Callable:
        CASES[name] = case
        return case

    return register


def _to_arrow(values) -> pa.Array:
    values = list(values) if not isinstance(values, np.ndarray) else values
    if isinstance(values, np.ndarray) and values.dtype != object:
        flat = pa.array(values.reshape(-1))
        for size in reversed(values.shape[1:]):
            flat = pa.FixedSizeListArray.from_arrays(flat, size)
        return flat
    rows = [v.tolist() if isinstance(v, np.ndarray) else v for v in values]
    return pa.array(rows)


def _from_arrow(column: pa.ChunkedArray) -> np.ndarray:
    column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        shape = [len(column)]
        while pa.types.is_fixed_size_list(column.type):
            shape.append(column.type.list_size)
            column = column.flatten()
        return np.asarray(_from_arrow(pa.chunked_array([column]))).reshape(shape)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        from tests.harness import list_rows

        return list_rows(column)
    if pa.types.is_binary(column.type) or pa.types.is_string(column.type) or pa.types.is_large_binary(column.type):
        return np.array(column.to_pylist(), dtype=object)
    return column.to_numpy(zero_copy_only=False)


def write_golden(name: str, outputs: dict[str, np.ndarray]) -> str:
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    path = os.path.join(GOLDEN_DIR, f"{name}.parquet")
    table = pa.table({key: _to_arrow(values) for key, values in sorted(outputs.items())})
    pq.write_table(table, path, compression="zstd")
    return path


def read_golden(name: str) -> dict[str, np.ndarray]:
    """tf.Transform's outputs for a case, in row order: ``{output name: values}``."""
    table = pq.read_table(os.path.join(GOLDEN_DIR, f"{name}.parquet"))
    return {key: _from_arrow(table.column(key)) for key in table.column_names}


def generate(names: list[str] | None = None) -> None:
    from tests.harness import run_tft_with_spec

    for module in MODULES:
        importlib.import_module(module)
    # Run as ``python -m tests.goldens`` this module is ``__main__``: the cases registered themselves
    # in ``tests.goldens``.
    cases = importlib.import_module("tests.goldens").CASES
    for name in names or sorted(cases):
        make_fn, feature_spec, columns, *options = cases[name]()
        import tensorflow_transform as tft

        outputs = run_tft_with_spec(make_fn(tft), feature_spec, columns, **(options[0] if options else {}))
        print(f"{name}: {len(outputs)} outputs -> {write_golden(name, outputs)}")


if __name__ == "__main__":
    # Run as ``python -m tests.goldens`` this file is ``__main__``; the test modules register their
    # cases with ``tests.goldens``, so generate from that module.
    importlib.import_module("tests.goldens").generate(sys.argv[1:] or None)
