"""Package boundaries, checked in a clean interpreter.

``featurebeam_base/`` is the bottom layer (it imports nothing of ours),
``preprocessing/`` describes (TensorFlow, no Beam), ``analyzers/`` computes
(numpy/Arrow, no TensorFlow), ``beam_jobs/`` connects and runs. Importing a
package must not pull in the heavy framework it is meant to stay free of.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WATCHED = (
    "featurebeam_base",
    "apache_beam",
    "tensorflow",
    "tensorflow_transform",
    "tfx_bsl",
    "preprocessing",
    "analyzers",
    "beam_jobs",
)

pytestmark = pytest.mark.slow


def modules_loaded_by(*imports: str) -> dict[str, bool]:
    """Import ``imports`` in a fresh interpreter (cwd = repo root); which top-level packages got loaded."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {list(imports)!r}:\n"
        "    importlib.import_module(name)\n"
        "tops = {m.split('.')[0] for m in sys.modules}\n"
        f"loaded = {{top: top in tops for top in {list(WATCHED)!r}}}\n"
        "print(json.dumps(loaded))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)  # only the repo root (the cwd) makes the packages importable
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"importing {imports} failed:\n{result.stderr}"
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"import {', '.join(imports)} -> loaded: {sorted(k for k, v in loaded.items() if v)}")
    return loaded


def test_the_bottom_layer_imports_nothing_of_ours_nor_tensorflow_nor_beam():
    modules = [f"featurebeam_base.{m}" for m in ("errors", "naming", "checks", "types", "columns", "paths")]
    loaded = modules_loaded_by(*modules)
    assert loaded["featurebeam_base"], "the import did not happen"
    assert not any(loaded[name] for name in ("preprocessing", "analyzers", "beam_jobs"))
    assert not loaded["tensorflow"] and not loaded["apache_beam"]


def test_preprocessing_does_not_load_apache_beam():
    loaded = modules_loaded_by("preprocessing", "preprocessing.engine")
    assert loaded["preprocessing"], "the import did not happen"
    assert not loaded["apache_beam"], "`import preprocessing, preprocessing.engine` loaded apache_beam"
    assert not loaded["beam_jobs"], "`import preprocessing, preprocessing.engine` loaded beam_jobs"


def test_analyzers_do_not_load_tensorflow():
    loaded = modules_loaded_by("analyzers")
    assert loaded["analyzers"], "the import did not happen"
    assert not loaded["tensorflow"], "`import analyzers` loaded tensorflow"
    # analyzers/__init__.py promises that the specs do not pull in Beam either.
    assert not loaded["apache_beam"], "`import analyzers` loaded apache_beam"
    assert not loaded["preprocessing"] and not loaded["beam_jobs"]


def test_analyzers_combine_fns_do_not_load_tensorflow():
    loaded = modules_loaded_by("analyzers", "analyzers.combine_fns")
    assert loaded["apache_beam"], "combine_fns are Beam CombineFns: the import did not happen"
    assert not loaded["tensorflow"], "`import analyzers.combine_fns` loaded tensorflow"
    assert not loaded["tensorflow_transform"] and not loaded["tfx_bsl"]
    assert not loaded["preprocessing"] and not loaded["beam_jobs"]


def test_statistics_and_drift_math_load_neither_tensorflow_nor_beam():
    loaded = modules_loaded_by("analyzers._statistics", "analyzers._drift", "analyzers._top_values")
    assert loaded["analyzers"], "the import did not happen"
    assert not loaded["tensorflow"] and not loaded["apache_beam"] and not loaded["tfx_bsl"]
