"""Job files: validation messages, path resolution, --set, loading preprocessing_fns."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from beam_jobs._declarative import DeclarativeFn
from beam_jobs._job import load_job
from beam_jobs._prepare import preprocessing_fn_of
from beam_jobs._runner_options import resolved_options
from beam_jobs._user_code import load_preprocessing_fn
from featurebeam_base.errors import ConfigError

MINIMAL = {
    "input": {"path": "data/*.parquet"},
    "preprocessing_fn": "fns/fn.py:preprocessing_fn",
    "output": {"path": "out"},
}


def write_job(tmp_path, job: dict, name: str = "job.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(job))
    return str(path)


def error_of(tmp_path, job: dict, overrides=(), runner=None) -> str:
    with pytest.raises(ConfigError) as caught:
        job_config = load_job(write_job(tmp_path, job), list(overrides), runner=runner)
        resolved_options(job_config)
    return str(caught.value)


def with_(base: dict, dotted: str, value) -> dict:
    job = yaml.safe_load(yaml.safe_dump(base))
    node = job
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return job


# --- the one message shape -------------------------------------------------


def test_bad_choice_names_key_allowed_values_and_value(tmp_path):
    message = error_of(tmp_path, with_(MINIMAL, "output.format", "csvv"))
    assert message == "`output.format` must be one of 'parquet', 'tfrecord'; got 'csvv'"


def test_bad_choice_suggests_nearest_value(tmp_path):
    message = error_of(tmp_path, with_(MINIMAL, "input.format", "parquett"))
    assert message.startswith("`input.format` must be one of 'parquet', 'csv', 'tfrecord', 'jsonl'; got 'parquett'")
    assert "did you mean 'parquet'?" in message


def test_unknown_key_suggests_nearest_key(tmp_path):
    job = with_(MINIMAL, "output.fromat", "parquet")
    message = error_of(tmp_path, job)
    assert message.startswith("`output.fromat` is not a valid key (did you mean `output.format`?)")
    assert "'format', 'num_shards', 'path'" in message


def test_unknown_top_level_key(tmp_path):
    message = error_of(tmp_path, {**MINIMAL, "pipline_options": {}})
    assert "`pipline_options` is not a valid key (did you mean `pipeline_options`?)" in message


def test_missing_required_key(tmp_path):
    job = {k: v for k, v in MINIMAL.items() if k != "output"}
    assert error_of(tmp_path, job) == "`output` is required"
    assert error_of(tmp_path, with_(MINIMAL, "input", {"format": "csv"})) == "`input.path` is required"


def test_wrong_type_names_key(tmp_path):
    message = error_of(tmp_path, with_(MINIMAL, "output.num_shards", "two"))
    assert message == "`output.num_shards` must be an integer >= 0; got 'two'"
    message = error_of(tmp_path, with_(MINIMAL, "input.batch_size", 0))
    assert message == "`input.batch_size` must be an integer >= 1; got 0"


def test_schema_entries(tmp_path):
    message = error_of(tmp_path, with_(MINIMAL, "input.schema", {"fare": {"type": "flaot"}}))
    assert (
        message
        == "`input.schema.fare.type` must be one of 'float', 'int', 'string'; got 'flaot' (did you mean 'float'?)"
    )
    message = error_of(tmp_path, with_(MINIMAL, "input.schema", {"fare": {"type": "float", "default": "zero"}}))
    assert message == "`input.schema.fare.default` must be a number (the column is float); got 'zero'"
    message = error_of(tmp_path, with_(MINIMAL, "input.schema", {"fare": {"typ": "float"}}))
    assert "`input.schema.fare.typ` is not a valid key (did you mean `input.schema.fare.type`?)" in message


def test_statistics_and_validation_keys(tmp_path):
    job = load_job(write_job(tmp_path, MINIMAL))
    assert job.statistics is True
    assert (job.validation.defaults.linf, job.validation.defaults.jsd, job.validation.defaults.missing) == (
        0.1,
        0.1,
        0.01,
    )
    assert (job.validation.defaults.unseen, job.validation.defaults.nan) == (0.0, 0.0)
    validation = {"jsd": 0.2, "features": {"price": {"jsd": 0.05}}}
    job = load_job(write_job(tmp_path, {**MINIMAL, "statistics": False, "validation": validation}))
    assert job.statistics is False
    assert job.validation.thresholds("price").jsd == 0.05 and job.validation.thresholds("price").linf == 0.1
    assert job.validation.thresholds("other").jsd == 0.2
    job = load_job(write_job(tmp_path, MINIMAL), ["validation.features.store.unseen=0.02"])
    assert job.validation.thresholds("store").unseen == 0.02
    assert error_of(tmp_path, {**MINIMAL, "statistics": "yes"}) == "`statistics` must be true or false; got 'yes'"
    assert error_of(tmp_path, {**MINIMAL, "validation": {"jds": 0.1}}) == (
        "`validation.jds` is not a valid key (did you mean `validation.jsd`?); valid keys under `validation`: "
        "'features', 'jsd', 'linf', 'missing', 'nan', 'unseen'"
    )
    assert error_of(tmp_path, {**MINIMAL, "validation": {"features": {"price": {"linf": 1.5}}}}) == (
        "`validation.features.price.linf` must be a number from 0 to 1; got 1.5"
    )


def test_needs_exactly_one_of_fn_and_features(tmp_path):
    neither = {k: v for k, v in MINIMAL.items() if k != "preprocessing_fn"}
    assert "exactly one of `preprocessing_fn`" in error_of(tmp_path, neither)
    both = {**MINIMAL, "features": [{"name": "fare", "transform": "scale_to_z_score"}]}
    assert error_of(tmp_path, both).endswith("it has both")


def test_bad_preprocessing_fn_reference(tmp_path):
    message = error_of(tmp_path, {**MINIMAL, "preprocessing_fn": "fns/fn.py"})
    assert message == "`preprocessing_fn` must be 'file.py:name' or 'package.module:name'; got 'fns/fn.py'"


# --- declarative features ----------------------------------------------------


def features_job(*features) -> dict:
    job = {k: v for k, v in MINIMAL.items() if k != "preprocessing_fn"}
    return {**job, "features": list(features)}


SCHEMA_TYPES = {"fare": "float", "miles": "float", "c": "string", "company": "string", "hour": "int"}


def declarative_error_of(tmp_path, job: dict) -> str:
    """The message of the first error building and tracing a declarative job's fn, as `run` would."""
    import preprocessing as pp
    from beam_jobs._prepare import trace_and_plan

    with pytest.raises(ConfigError) as caught:
        fn = preprocessing_fn_of(load_job(write_job(tmp_path, job)))
        trace_and_plan(fn, pp.Schema.of(SCHEMA_TYPES))
    return str(caught.value)


def test_feature_transform_typo(tmp_path):
    message = declarative_error_of(tmp_path, features_job({"name": "fare", "transform": "scale_to_zscore"}))
    assert message.startswith("`features[0].transform` must be one of 'identity', 'apply_buckets', ")
    assert message.endswith("got 'scale_to_zscore' (did you mean 'scale_to_z_score'?)")


def test_features_can_use_every_pp_function_that_makes_a_feature():
    import preprocessing as pp
    from beam_jobs._declarative import NOT_DECLARATIVE, transforms

    functions = {name for name in pp.__all__ if callable(getattr(pp, name)) and name[0].islower()}
    assert set(transforms()) == {"identity"} | (functions - set(NOT_DECLARATIVE))
    assert "scale_to_z_score" in transforms() and "histogram" not in transforms()


def test_feature_parameters_are_checked_per_transform(tmp_path):
    ok = {"name": "fare", "transform": "scale_to_z_score"}
    message = declarative_error_of(tmp_path, features_job(ok, {"name": "miles", "transform": "bucketize"}))
    assert message == "`features[1].num_buckets` is required"
    job = features_job({"name": "c", "transform": "compute_and_apply_vocabulary", "topk": 3})
    assert "`features[0].topk` is not a valid key (did you mean `features[0].top_k`?)" in declarative_error_of(
        tmp_path, job
    )
    job = features_job({"name": "c", "transform": "hash_strings", "hash_buckets": -1})
    assert declarative_error_of(tmp_path, job) == "`features[0].hash_buckets` must be an integer >= 1; got -1"
    job = features_job({"name": "miles", "transform": "bucketize", "num_buckets": 4, "epsilon": 2})
    assert declarative_error_of(tmp_path, job) == "`features[0].epsilon` must be a number in (0, 1); got 2"
    job = features_job({"name": "c", "transform": "compute_and_apply_vocabulary", "labels": "fare"})
    message = declarative_error_of(tmp_path, job)
    assert message == "`features[0].labels` must be an integer tensor (a label id per row); got a tf.float32 tensor"


def test_feature_parameters_take_tf_transform_defaults_and_columns(tmp_path):
    import preprocessing as pp
    from beam_jobs._prepare import trace_and_plan

    job = features_job(
        {"name": "fare", "transform": "scale_by_min_max", "output_min": -1},  # output_max: tf.Transform's 1.0
        {"name": "fare", "transform": "mean", "output": "fare_mean"},  # an analyzer: its value on every row
        {"name": "miles", "transform": "apply_buckets", "bucket_boundaries": [[1, 5]], "output": "miles_b"},
    )
    fn = preprocessing_fn_of(load_job(write_job(tmp_path, job)))
    plan, traced = trace_and_plan(fn, pp.Schema.of(SCHEMA_TYPES))
    assert sorted(traced.outputs) == ["fare", "fare_mean", "miles_b"]
    assert traced.outputs["fare_mean"].shape.as_list() == [None]
    assert [spec.kind for spec in plan.specs] == ["min_and_max", "mean_and_var"]


def test_feature_outputs_must_be_unique(tmp_path):
    message = error_of(
        tmp_path, features_job({"name": "fare", "transform": "identity"}, {"name": "fare", "transform": "scale_to_0_1"})
    )
    assert message.startswith("`features[1].output` must be unique; 'fare' is already the output of `features[0]`")


def test_declarative_fn_checks_columns_and_types(tmp_path):
    job = load_job(
        write_job(
            tmp_path,
            features_job(
                {"name": "company", "transform": "scale_to_z_score"}, {"name": "fair", "transform": "identity"}
            ),
        )
    )
    fn = preprocessing_fn_of(job)
    assert isinstance(fn, DeclarativeFn)
    import preprocessing as pp
    from beam_jobs._prepare import trace_and_plan

    with pytest.raises(ConfigError) as caught:
        trace_and_plan(DeclarativeFn(fn.features[:1]), pp.Schema.of({"company": "string", "fare": "float"}))
    assert str(caught.value) == (
        "`features[0].transform` 'scale_to_z_score' cannot take column 'company': "
        "`x` must be a numeric (float or integer) tensor; got a tf.string tensor"
    )
    fixed = DeclarativeFn(fn.features[1:])
    with pytest.raises(ConfigError) as caught:
        fixed.check_schema({"company": "string", "fare": "float"})
    assert (
        "`features[0].name` must be a column of the input ('company', 'fare'); got 'fair' (did you mean 'fare'?)"
        == str(caught.value)
    )


def test_declarative_fn_traces_to_the_api(tmp_path):
    import preprocessing as pp
    from preprocessing import engine

    job = load_job(
        write_job(
            tmp_path,
            features_job(
                {"name": "fare", "transform": "scale_to_z_score", "output": "fare_z"},
                {"name": "company", "transform": "compute_and_apply_vocabulary", "top_k": 3, "num_oov_buckets": 1},
                {"name": "miles", "transform": "bucketize", "num_buckets": 4},
                {"name": "hour", "transform": "identity"},
            ),
        )
    )
    fn = preprocessing_fn_of(job)
    schema = pp.Schema.of({"fare": "float", "company": "string", "miles": "float", "hour": "int", "unused": "int"})
    plan = engine.plan(fn, schema)
    assert sorted(plan.output_names) == ["company", "fare_z", "hour", "miles"]
    assert sorted(plan.features_read) == ["company", "fare", "hour", "miles"]
    keys = sorted(spec.key for spec in plan.specs)
    assert keys == [
        "xf/company/compute_and_apply_vocabulary/vocabulary",
        "xf/fare_z/scale_to_z_score/mean_and_var",
        "xf/miles/bucketize/quantiles",
    ]
    vocabulary = next(s for s in plan.specs if "vocabulary" in s.key)
    assert vocabulary.top_k == 3


# --- paths and --set ---------------------------------------------------------


def test_relative_paths_resolve_against_the_job_file(tmp_path, monkeypatch):
    (tmp_path / "jobs").mkdir()
    monkeypatch.chdir("/")
    job = load_job(write_job(tmp_path / "jobs", MINIMAL))
    assert job.input.path == str(tmp_path / "jobs" / "data" / "*.parquet")
    assert job.output.path == str(tmp_path / "jobs" / "out")
    assert job.preprocessing_fn == f"{tmp_path / 'jobs' / 'fns' / 'fn.py'}:preprocessing_fn"
    assert job.runner == "DirectRunner" and job.output.format == "parquet"


def test_set_overrides_with_yaml_values_and_cwd_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    job = load_job(
        write_job(tmp_path, {**MINIMAL, "pipeline_options": {"direct_num_workers": 1}}),
        [
            "output.format=tfrecord",
            "pipeline_options.direct_num_workers=2",
            "output.path=elsewhere/out",
            "input.schema.fare.default=0",
        ],
        runner="DirectRunner",
    )
    assert job.output.format == "tfrecord"
    # a Beam option's value stays text until it is read by the option's own type
    assert job.pipeline_options == {"direct_num_workers": "2"}
    assert resolved_options(job)["direct_num_workers"] == 2
    assert job.output.path == str(tmp_path / "elsewhere" / "out")
    assert job.input.schema["fare"].default == 0
    with pytest.raises(ConfigError, match="`--set` takes KEY=VALUE"):
        load_job(write_job(tmp_path, MINIMAL), ["output.format"])


def test_gs_paths_are_kept(tmp_path):
    job = load_job(write_job(tmp_path, with_(MINIMAL, "output.path", "gs://bucket/out")))
    assert job.output.path == "gs://bucket/out"


# --- runner and pipeline options --------------------------------------------


def test_pipeline_option_typo_and_values(tmp_path):
    message = error_of(tmp_path, {**MINIMAL, "pipeline_options": {"direct_num_worker": 2}})
    assert (
        message == "`pipeline_options.direct_num_worker` is not a Beam pipeline option "
        "(did you mean `pipeline_options.direct_num_workers`?)"
    )
    message = error_of(tmp_path, {**MINIMAL, "pipeline_options": {"direct_running_mode": "multiprocessing"}})
    assert message.startswith(
        "`pipeline_options.direct_running_mode` must be one of 'in_memory', 'multi_threading', 'multi_processing'"
    )
    assert "did you mean 'multi_processing'?" in message
    message = error_of(tmp_path, {**MINIMAL, "pipeline_options": {"direct_num_workers": "two"}})
    assert message == "`pipeline_options.direct_num_workers` must be an integer; got 'two'"


def test_runner_typo(tmp_path):
    message = error_of(tmp_path, {**MINIMAL, "runner": "DataFlowRunner"})
    assert message.startswith("`runner` must be one of 'DirectRunner', 'DataflowRunner'")
    assert message.endswith("got 'DataFlowRunner' (did you mean 'DataflowRunner'?)")


def test_dataflow_needs_project_region_and_gcs_temp_location(tmp_path):
    message = error_of(tmp_path, {**MINIMAL, "runner": "DataflowRunner", "pipeline_options": {"region": "us-central1"}})
    assert message == "`pipeline_options.project` is required for DataflowRunner"
    options = {"project": "my-project", "region": "us-central1", "temp_location": "/tmp"}
    message = error_of(tmp_path, {**MINIMAL, "runner": "DataflowRunner", "pipeline_options": options})
    assert message.startswith("`pipeline_options.temp_location` must be a gs:// path for DataflowRunner")


# --- loading preprocessing_fns ----------------------------------------------

FN_SOURCE = textwrap.dedent(
    """
    import preprocessing as pp

    OFFSET = 10.0

    def helper(x):
        return x + OFFSET

    def preprocessing_fn(inputs):
        return {"y": pp.scale_to_z_score(helper(inputs["x"]))}
    """
)


def test_load_fn_from_file_and_pickle_it_by_value(tmp_path):
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "my_fn.py").write_text(FN_SOURCE)
    fn = load_preprocessing_fn(f"{tmp_path / 'fns' / 'my_fn.py'}:preprocessing_fn", str(tmp_path))
    assert fn.__name__ == "preprocessing_fn"
    from apache_beam.internal import pickler

    # A process that cannot import the file (as a Dataflow VM) still gets the fn and its helper.
    payload = pickler.dumps(fn)
    code = (
        "import sys; from apache_beam.internal import pickler; "
        "fn = pickler.loads(sys.stdin.buffer.read()); "
        "print(fn.__globals__['helper'](1.0))"
    )
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    out = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, cwd="/", env=env, check=True)
    assert out.stdout.decode().strip() == "11.0"


def test_load_fn_from_module_next_to_the_job(tmp_path, monkeypatch):
    package = tmp_path / "userpkg_for_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fns.py").write_text(FN_SOURCE)
    monkeypatch.chdir("/")
    fn = load_preprocessing_fn("userpkg_for_test.fns:preprocessing_fn", str(tmp_path))
    assert fn.__module__ == "userpkg_for_test.fns"


def test_missing_fn_suggests_nearest_name(tmp_path):
    (tmp_path / "fn2.py").write_text(FN_SOURCE)
    with pytest.raises(ConfigError) as caught:
        load_preprocessing_fn(f"{tmp_path / 'fn2.py'}:preprocesing_fn", str(tmp_path))
    assert (
        str(caught.value)
        == f"`preprocessing_fn`: {tmp_path / 'fn2.py'} has no 'preprocesing_fn' (did you mean 'preprocessing_fn'?)"
    )
    with pytest.raises(ConfigError, match="file .* not found"):
        load_preprocessing_fn(f"{tmp_path / 'nope.py'}:preprocessing_fn", str(tmp_path))
    with pytest.raises(ConfigError, match="no module named 'no_such_module_xyz'"):
        load_preprocessing_fn("no_such_module_xyz:preprocessing_fn", str(tmp_path))


def test_fn_file_that_raises_on_import_shows_the_users_traceback(tmp_path):
    (tmp_path / "broken.py").write_text(
        "x = 1\n\ndef preprocessing_fn(inputs):\n    return {}\n\nraise RuntimeError('boom at import')\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_preprocessing_fn(f"{tmp_path / 'broken.py'}:preprocessing_fn", str(tmp_path))
    assert "importing" in str(caught.value) and "RuntimeError: boom at import" in str(caught.value)
    assert 'broken.py", line 6' in caught.value.details
    assert "importlib" not in caught.value.details
