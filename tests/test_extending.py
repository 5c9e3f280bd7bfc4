"""A new analyzer is one spec and one TF-side function: nothing in ``beam_jobs``, nothing in ``inspect``.

The analyzer here (the number of values above a threshold) lives in the
user's own preprocessing_fn file, which is exactly the two pieces the README's
"How to add an analyzer" asks for. It runs through the ``featurebeam``
command on worker processes, and ``inspect`` describes it, with no change to
the engine.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.test_cli import featurebeam

pytestmark = pytest.mark.slow

FN_FILE = textwrap.dedent(
    '''
    from dataclasses import dataclass

    import numpy as np
    import tensorflow as tf

    import preprocessing as pp
    from analyzers import AnalyzerSpec, Output
    from featurebeam_base import checks
    from preprocessing.engine import apply_analyzer


    @dataclass(frozen=True)
    class CountAboveSpec(AnalyzerSpec):
        """How many values exceed ``threshold``; outputs ``(count,)``."""

        kind = "count_above"
        threshold: float

        def check(self):
            checks.number(self.threshold, "threshold")

        def outputs(self):
            return (Output("count", "int64"),)

        def create(self):
            return np.int64(0)

        def add(self, accumulator, inputs):
            return accumulator + np.count_nonzero(np.asarray(inputs[0]) > self.threshold)

        def merge(self, accumulator, other):
            return accumulator + other

        def extract(self, accumulator):
            return (np.asarray(accumulator, np.int64),)


    def count_above(x, threshold, name=None):
        with tf.compat.v1.name_scope(name, "count_above"):
            return apply_analyzer(CountAboveSpec(threshold), [x])[0]


    def preprocessing_fn(inputs):
        fare = inputs["fare"]
        expensive = count_above(fare, 10.0, name="expensive")
        return {
            "share_expensive": tf.cast(expensive, tf.float32) / tf.cast(pp.size(fare), tf.float32) + 0 * fare,
            "fare_z": pp.scale_to_z_score(fare),
        }


    def bad_threshold(inputs):
        return {"n": count_above(inputs["fare"], "ten") + 0 * tf.cast(inputs["fare"], tf.int64)}
    '''
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("extending")
    fare = np.random.default_rng(5).gamma(2.0, 6.0, 900).astype(np.float32)
    for part in range(3):
        pq.write_table(pa.table({"fare": fare[part * 300 : (part + 1) * 300]}), root / f"rides-{part}.parquet")
    (root / "fn.py").write_text(FN_FILE)
    job = {
        "input": {"path": "rides-*.parquet"},
        "preprocessing_fn": "fn.py:preprocessing_fn",
        "output": {"path": "out"},
    }
    (root / "job.yaml").write_text(yaml.safe_dump(job))
    return root, fare


def test_a_users_own_analyzer_runs_on_worker_processes_and_inspects(workspace):
    root, fare = workspace
    result = featurebeam(
        "run",
        root / "job.yaml",
        "--set",
        "pipeline_options.direct_num_workers=2",
        "--set",
        "pipeline_options.direct_running_mode=multi_processing",
    )
    assert result.returncode == 0, result.stderr
    expected = int(np.count_nonzero(fare > 10.0))
    share = pq.read_table(root / "out" / "transformed_data").column("share_expensive").to_numpy()
    np.testing.assert_allclose(share, expected / fare.size, rtol=1e-6)
    records = json.loads((root / "out" / "transform_fn" / "assets.extra" / "analyzers.json").read_text())["analyzers"]
    record = next(r for r in records if r["key"] == "expensive")
    assert record == {
        "key": "expensive",
        "analyzer": "count_above",
        "phase": 0,
        "parameters": {"threshold": 10.0},
        "values": {"count": expected},
    }
    inspected = featurebeam("inspect", root / "out")
    assert f"  expensive: count = {expected}\n" in inspected.stdout


def test_its_argument_check_runs_at_trace_time(workspace):
    root, _ = workspace
    result = featurebeam("run", root / "job.yaml", "--set", f"preprocessing_fn={root / 'fn.py'}:bad_threshold")
    assert result.returncode == 2
    assert result.stderr.strip() == "featurebeam: error: preprocessing_fn: `threshold` must be a number; got 'ten'"
