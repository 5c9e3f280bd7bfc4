"""End-to-end engine tests: phases, serving identity, TFX interop, runner determinism."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf

import preprocessing as pp
from preprocessing import engine
from tests.harness import run_featurebeam

pytestmark = pytest.mark.slow

SCHEMA = pp.Schema(
    (
        pp.Feature("fare", "float"),
        pp.Feature("miles", "float"),
        pp.Feature("passengers", "int"),
        pp.Feature("company", "string"),
    )
)


def make_data(n=900, seed=3):
    rng = np.random.default_rng(seed)
    companies = np.array(["acme", "blue", "cab co", "dash", "éclair", "fast"], dtype=object)
    return {
        "fare": rng.gamma(2.0, 6.0, n).astype(np.float32),
        "miles": rng.exponential(3.0, n).astype(np.float32),
        "passengers": rng.integers(1, 6, n).astype(np.int64),
        "company": companies[rng.zipf(1.6, n) % len(companies)],
    }


def three_phase_fn(inputs):
    fare = inputs["fare"]
    scaled = pp.scale_to_0_1(fare)  # phase 0: min/max
    weighted = scaled * pp.sum(scaled)  # phase 1: sum of a phase-0 result
    return {"z_of_weighted": pp.scale_to_z_score(weighted)}  # phase 2


def test_three_phases_match_numpy():
    data = make_data()
    assert len(engine.plan(three_phase_fn, SCHEMA).phases) == 3
    outputs, _ = run_featurebeam(three_phase_fn, SCHEMA, data)
    fare = data["fare"].astype(np.float64)
    scaled = (fare - fare.min()) / (fare.max() - fare.min())
    weighted = scaled * scaled.sum()
    expected = (weighted - weighted.mean()) / weighted.std()
    np.testing.assert_allclose(outputs["z_of_weighted"], expected, rtol=1e-4, atol=1e-5)


def serving_fn(inputs):
    fare, miles = inputs["fare"], inputs["miles"]
    return {
        "fare_z": pp.scale_to_z_score(fare),
        "miles_bucket": pp.bucketize(miles, 5),
        "miles_01": pp.scale_to_0_1(miles),
        "company_id": pp.compute_and_apply_vocabulary(inputs["company"], top_k=4, num_oov_buckets=2),
        "passengers_id": pp.compute_and_apply_vocabulary(inputs["passengers"], default_value=-1),
        "per_mile": tf.math.divide_no_nan(fare, miles) - pp.mean(tf.math.divide_no_nan(fare, miles)),
        "trip": tf.stack([pp.scale_to_z_score(fare), pp.scale_to_z_score(miles)], axis=1),
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = make_data()
    outputs, output_dir = run_featurebeam(serving_fn, SCHEMA, data, output_dir=str(tmp_path_factory.mktemp("out")))
    return data, outputs, output_dir


def _serialized_examples(data):
    examples = []
    for r in range(len(data["fare"])):
        feature = {
            "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[data["fare"][r]])),
            "miles": tf.train.Feature(float_list=tf.train.FloatList(value=[data["miles"][r]])),
            "passengers": tf.train.Feature(int64_list=tf.train.Int64List(value=[data["passengers"][r]])),
            "company": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data["company"][r].encode()])),
            "row_id_": tf.train.Feature(int64_list=tf.train.Int64List(value=[r])),  # the harness's row id
        }
        examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return examples


SERVING_SCRIPT = textwrap.dedent(
    """
    import os, pickle, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    request = pickle.load(open(sys.argv[1], "rb"))
    model = tf.saved_model.load(request["transform_fn"])
    serve = model.signatures["serving_default"]
    raw = {name: tf.constant(values) for name, values in request["raw"].items()}
    by_features = {k: v.numpy() for k, v in serve(**raw).items()}
    by_examples = {k: v.numpy() for k, v in
                   model.signatures["transform_examples"](examples=tf.constant(request["examples"])).items()}
    ours = ("featurebeam_base", "preprocessing", "analyzers", "beam_jobs", "apache_beam")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ours)
    pickle.dump({"features": by_features, "examples": by_examples, "loaded": loaded}, open(sys.argv[2], "wb"))
    """
)


def test_serving_signatures_reproduce_beam_output_in_a_fresh_process(served, tmp_path):
    data, outputs, output_dir = served
    request = {
        "transform_fn": os.path.join(output_dir, "transform_fn"),
        "raw": {
            "fare": data["fare"],
            "miles": data["miles"],
            "passengers": data["passengers"],
            "company": np.array([c.encode() for c in data["company"]], dtype=object),
            "row_id_": np.arange(len(data["fare"]), dtype=np.int64),
        },
        "examples": _serialized_examples(data),
    }
    (tmp_path / "request.pkl").write_bytes(pickle.dumps(request))
    (tmp_path / "serve.py").write_text(SERVING_SCRIPT)
    subprocess.run(
        [sys.executable, str(tmp_path / "serve.py"), str(tmp_path / "request.pkl"), str(tmp_path / "reply.pkl")],
        check=True,
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": ""},
    )
    reply = pickle.loads((tmp_path / "reply.pkl").read_bytes())
    assert reply["loaded"] == []  # TensorFlow only: no featurebeam, no Beam
    for signature in ("features", "examples"):
        got = reply[signature]
        assert sorted(got) == sorted([*outputs, "row_id_"])
        for name, beam_values in outputs.items():
            if beam_values.dtype.kind == "f":
                np.testing.assert_allclose(got[name], beam_values, rtol=0, atol=1e-6, err_msg=name)
            else:
                np.testing.assert_array_equal(got[name], beam_values, err_msg=name)


def test_tf_transform_output_reads_and_reproduces(served):
    import tensorflow_transform as tft

    data, outputs, output_dir = served
    tft_output = tft.TFTransformOutput(output_dir)
    spec = tft_output.transformed_feature_spec()
    assert spec["trip"] == tf.io.FixedLenFeature([2], tf.float32)
    assert spec["company_id"] == tf.io.FixedLenFeature([], tf.int64)
    raw = {
        "fare": tf.constant(data["fare"]),
        "miles": tf.constant(data["miles"]),
        "passengers": tf.constant(data["passengers"]),
        "company": tf.constant(np.array([c.encode() for c in data["company"]], dtype=object)),
        "row_id_": tf.range(len(data["fare"]), dtype=tf.int64),
    }
    via_raw = tft_output.transform_raw_features(raw)
    via_layer = tft_output.transform_features_layer()(raw)
    for got in (via_raw, via_layer):
        for name, beam_values in outputs.items():
            np.testing.assert_allclose(got[name].numpy(), beam_values, rtol=0, atol=1e-6, err_msg=name)
    vocab = tft_output.vocabulary_by_name("vocab_compute_and_apply_vocabulary_vocabulary")
    assert len(vocab) == 4
    domains = {
        f.name: (f.int_domain.min, f.int_domain.max, f.int_domain.is_categorical)
        for f in tft_output.transformed_metadata.schema.feature
        if f.HasField("int_domain")
    }
    # tf.Transform's domains: vocab ids [min(0, default), size - 1 + oov], buckets [0, boundaries].
    assert domains == {"company_id": (0, 5, True), "passengers_id": (-1, 4, True), "miles_bucket": (0, 4, True)}


def _analyzer_values(output_dir):
    with open(os.path.join(output_dir, "transform_fn", "assets.extra", "analyzers.json")) as handle:
        return json.load(handle)


def _assets(output_dir):
    assets = os.path.join(output_dir, "transform_fn", "assets")
    return {name: open(os.path.join(assets, name), "rb").read() for name in sorted(os.listdir(assets))}


def test_multi_process_runner_gives_the_same_constants(served, tmp_path):
    data, outputs, output_dir = served
    options = beam.options.pipeline_options.PipelineOptions(
        direct_num_workers=2, direct_running_mode="multi_processing"
    )
    multi_outputs, multi_dir = run_featurebeam(
        serving_fn, SCHEMA, data, batch_size=61, output_dir=str(tmp_path / "multi"), options=options
    )
    assert _analyzer_values(multi_dir) == _analyzer_values(output_dir)
    assert _assets(multi_dir) == _assets(output_dir)
    for name in outputs:
        np.testing.assert_array_equal(multi_outputs[name], outputs[name], err_msg=name)


def test_analyzer_named_like_a_feature():
    def fn(inputs):
        return {
            "ids": pp.compute_and_apply_vocabulary(inputs["company"], name="company"),
            "centred": inputs["fare"] - pp.mean(inputs["fare"], name="fare"),
        }

    data = {
        "fare": np.arange(10, dtype=np.float32),
        "company": np.array(list("aabbbcccdd"), dtype=object),
        "miles": np.zeros(10, np.float32),
        "passengers": np.ones(10, np.int64),
    }
    outputs, _ = run_featurebeam(fn, SCHEMA, data)
    # counts: b 3, c 3, a 2, d 2; ties broken by descending bytes: c, b, d, a
    np.testing.assert_array_equal(outputs["ids"], [3, 3, 1, 1, 1, 0, 0, 0, 2, 2])
    np.testing.assert_allclose(outputs["centred"], np.arange(10) - 4.5)


@pytest.mark.parametrize("name", ["_row", "a b", "é"])
def test_feature_names_a_signature_cannot_carry_are_rejected_when_planning(name):
    schema = pp.Schema.of({name: "float"})
    with pytest.raises(pp.PreprocessingError, match="cannot be an input of a SavedModel signature"):
        engine.plan(lambda inputs: {"x": inputs[name] * 2.0}, schema)
