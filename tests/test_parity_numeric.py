"""Parity with tensorflow-transform 1.21 for the numeric analyzers and mappers, on real data.

The data: the diabetes (442 rows) and wine (178 rows) data sets (tests/data/README.md).
Each case is one preprocessing_fn written against a module argument ``tx``;
tf.Transform's outputs are goldens (tests/goldens/numeric_*.parquet, ``make
goldens``), and ``test_a_golden_is_what_tf_transform_computes_today`` reruns one
case through tf.Transform live.

tf.Transform's Tukey HH analyzers (``tukey_*``, ``scale_to_gaussian``)
average per-batch L-moments, so the goldens run it with one batch holding
every row (``desired_batch_size``): then its L-moments are the whole
dataset's, as featurebeam's are at any batching. Where its h-parameter search
stops before matching the data's L-skewness and L-kurtosis, the h parameters
differ and the test says by how much (``test_tukey_h_params``).
"""

from __future__ import annotations

import os

import apache_beam as beam
import numpy as np
import pyarrow.csv as pv
import pytest
import tensorflow as tf

import preprocessing as pp
from analyzers import _tukey, _tukey_hh
from preprocessing.engine import run_in_memory
from tests.goldens import golden_case, read_golden
from tests.harness import run_featurebeam, run_tft_with_spec

pytestmark = pytest.mark.slow

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SERUM = ("s1", "s2", "s3", "s4", "s5", "s6")
WINE = (
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280_od315",
    "proline",
)
INTS = {"age", "sex", "progression", "cultivar"}


def load(name: str) -> dict[str, np.ndarray]:
    table = pv.read_csv(os.path.join(DATA_DIR, f"{name}.csv"))
    return {
        column: table.column(column).to_numpy().astype(np.int64 if column in INTS else np.float32)
        for column in table.column_names
    }


def feature_spec(columns: dict) -> dict:
    return {name: tf.io.FixedLenFeature([], tf.int64 if name in INTS else tf.float32) for name in columns}


def schema_of(columns: dict) -> pp.Schema:
    return pp.Schema.of({name: "int" if name in INTS else "float" for name in columns})


def per_row(value, like):
    """An analyzer's result (any shape) flattened onto every row."""
    flat = tf.reshape(value, [1, -1])
    return tf.tile(flat, [tf.shape(like)[0], 1])


def f32(value):
    return tf.cast(value, tf.float32)


# -- the cases ------------------------------------------------------------------------------
def diabetes_fn(tx):
    def preprocessing_fn(inputs):
        bmi, bp, s5, s6, age, sex = (inputs[k] for k in ("bmi", "bp", "s5", "s6", "age", "sex"))
        weight = f32(inputs["progression"])
        vec = tf.stack([bmi, bp, s5], axis=1)
        serum = tf.stack([inputs[k] for k in SERUM], axis=1)
        heavy = tf.stack([inputs["s1"], inputs["s2"], inputs["s3"], s6, bmi, weight], axis=1)
        z_serum = tx.scale_to_z_score(serum, elementwise=True)
        loc, scale, (hl, hr) = (
            tx.tukey_location(heavy, reduce_instance_dims=False),
            tx.tukey_scale(heavy, reduce_instance_dims=False),
            tx.tukey_h_params(heavy, reduce_instance_dims=False),
        )
        nan = tf.constant(float("nan"))
        return {
            # weighted and elementwise quantiles and buckets
            "q_weighted": per_row(tx.quantiles(bmi, 5, 0.01, weights=weight), bmi),
            "q_elementwise": per_row(tx.quantiles(vec, 4, 0.01, reduce_instance_dims=False), bmi),
            "q_elementwise_weighted": per_row(
                tx.quantiles(vec, 4, 0.01, weights=weight, reduce_instance_dims=False), bmi
            ),
            "bucket_weighted": tx.bucketize(bmi, 4, weights=weight),
            "bucket_per_value_weights": tx.bucketize(vec, 4, weights=tf.stack([weight, weight, weight], axis=1)),
            "bucket_elementwise": tx.bucketize(vec, 5, elementwise=True),
            "bucket_elementwise_weighted": tx.bucketize(vec, 3, weights=weight, elementwise=True),
            # interpolation between boundaries
            "interp_quantiles": tx.apply_buckets_with_interpolation(bmi, tx.quantiles(bmi, 10, 0.01)),
            "interp_int": tx.apply_buckets_with_interpolation(age, [[30, 45, 60]]),
            "interp_nan_and_infinite_boundaries": tx.apply_buckets_with_interpolation(
                tf.where(age > 65, nan, s5), [[-float("inf"), 4.0, 4.5, 5.0, 5.5, float("inf")]]
            ),
            "interp_one_boundary": tx.apply_buckets_with_interpolation(bp, [[90.0]]),
            # density
            "density_default": tx.estimated_probability_density(s5 - 3.5),
            "density_given": tx.estimated_probability_density(bmi, boundaries=[15.0, 20.0, 25.0, 30.0, 35.0, 45.0]),
            "density_spread": tx.estimated_probability_density(bp, boundaries=8),
            "density_column": tx.estimated_probability_density(tf.expand_dims(s5, 1), boundaries=[3.0, 4.0, 5.0, 6.5]),
            "density_categorical_int": tx.estimated_probability_density(sex, categorical=True),
            "density_categorical_string": tx.estimated_probability_density(
                tf.strings.as_string(age // 10), categorical=True
            ),
            # covariance and principal components
            "covariance": per_row(tx.covariance(serum, tf.float32), bmi),
            "covariance_float64": f32(per_row(tx.covariance(serum, tf.float64), bmi)),
            "pca_projection": tf.matmul(serum, tx.pca(serum, 3, tf.float32)),
            "pca_all": per_row(tx.pca(serum, None, tf.float32), bmi),
            "pca_of_z_scores": tf.matmul(z_serum, tx.pca(z_serum, 2, tf.float32)),
            # Tukey HH fit and gaussianization (one batch in tf.Transform)
            "tukey_location": per_row(loc, bmi),
            "tukey_scale": per_row(scale, bmi),
            "tukey_hl": per_row(hl, bmi),
            "tukey_hr": per_row(hr, bmi),
            "tukey_location_int": per_row(tx.tukey_location(age), bmi),
            "tukey_scale_float16": f32(per_row(tx.tukey_scale(s6, output_dtype=tf.float16), bmi)),
            "gaussian": tx.scale_to_gaussian(heavy, elementwise=True),
            "gaussian_reduced": tx.scale_to_gaussian(s6),
            "gaussian_int": tx.scale_to_gaussian(age),
            "gaussian_float64": f32(tx.scale_to_gaussian(s6, output_dtype=tf.float64)),
            # output_dtype options
            "mean_float64": f32(per_row(tx.mean(bmi, output_dtype=tf.float64), bmi)),
            "var_of_int_float64": f32(per_row(tx.var(age, output_dtype=tf.float64), bmi)),
            "z_float16": f32(tx.scale_to_z_score(age, output_dtype=tf.float16)),
            "z_float64": f32(tx.scale_to_z_score(bmi, output_dtype=tf.float64)),
        }

    return preprocessing_fn


@golden_case("numeric_diabetes")
def diabetes_case():
    columns = load("diabetes")
    return diabetes_fn, feature_spec(columns), columns, {"desired_batch_size": len(columns["age"])}


class ColumnSumsAndLargest(beam.PTransform):
    """A user's analyzer: the column sums of a ``[rows, k]`` input and its largest value, as two outputs."""

    def expand(self, batches):
        sums = (
            batches
            | "Sums" >> beam.Map(lambda batch: batch[0].astype(np.float64).sum(axis=0))
            | "AddSums" >> beam.CombineGlobally(lambda parts: np.sum(list(parts), axis=0) if parts else np.zeros(13))
        )
        largest = (
            batches
            | "Largest" >> beam.Map(lambda batch: float(batch[0].max()))
            | "Max" >> beam.CombineGlobally(lambda parts: max(parts, default=0.0))
        )
        return sums, largest


def wine_fn(tx):
    def preprocessing_fn(inputs):
        matrix = tf.stack([inputs[k] for k in WINE], axis=1)
        alcohol = inputs["alcohol"]
        z = tx.scale_to_z_score(matrix, elementwise=True)
        hl, hr = tx.tukey_h_params(matrix, reduce_instance_dims=False)
        sums, largest = tx.experimental.ptransform_analyzer(
            [matrix], ColumnSumsAndLargest(), [tf.float32, tf.float32], [[13], []]
        )
        return {
            "ptransform_column_sums": per_row(sums, alcohol),
            "ptransform_share_of_largest": matrix / largest,
            "covariance": per_row(tx.covariance(matrix, tf.float32), alcohol),
            "pca_of_z_scores": tf.matmul(z, tx.pca(z, 4, tf.float32)),
            "tukey_location": per_row(tx.tukey_location(matrix, reduce_instance_dims=False), alcohol),
            "tukey_scale": per_row(tx.tukey_scale(matrix, reduce_instance_dims=False), alcohol),
            "tukey_hl": per_row(hl, alcohol),
            "tukey_hr": per_row(hr, alcohol),
            "gaussian": tx.scale_to_gaussian(matrix, elementwise=True),
            "bucket_weighted_by_alcohol": tx.bucketize(matrix[:, 1:4], 4, weights=alcohol, elementwise=True),
            "density_cultivar": tx.estimated_probability_density(inputs["cultivar"], categorical=True),
        }

    return preprocessing_fn


@golden_case("numeric_wine")
def wine_case():
    columns = load("wine")
    return wine_fn, feature_spec(columns), columns, {"desired_batch_size": len(columns["alcohol"])}


def serum_lists() -> dict:
    """The six serum values of each patient, some dropped: a list feature of 0 to 6 values per row."""
    columns = load("diabetes")
    serum = np.stack([columns[k] for k in SERUM], axis=1)
    keep = np.random.default_rng(9).random(serum.shape) < 0.7
    rows = np.empty(len(serum), dtype=object)
    rows[:] = [row[mask] for row, mask in zip(serum, keep)]
    return {"serum": rows, "serum_ragged": rows.copy()}


def lists_fn(tx):
    def preprocessing_fn(inputs):
        sparse, ragged = inputs["serum"], inputs["serum_ragged"]
        rows = tf.zeros([tf.shape(sparse)[0]])
        return {
            "bucket_sparse": tx.bucketize(sparse, 4),
            "bucket_ragged": tx.bucketize(ragged, 3),
            "interp_sparse": tx.apply_buckets_with_interpolation(sparse, [[40.0, 80.0, 120.0, 160.0]]),
            "interp_ragged": tx.apply_buckets_with_interpolation(ragged, [[4.0, 60.0, 100.0]]),
            "tukey_location_sparse": per_row(tx.tukey_location(sparse), rows),
            "tukey_scale_ragged": per_row(tx.tukey_scale(ragged), rows),
            "tukey_location_per_column": per_row(tx.tukey_location(sparse, reduce_instance_dims=False), rows),
            "gaussian_sparse": tx.scale_to_gaussian(sparse),
            "gaussian_sparse_elementwise": tx.scale_to_gaussian(sparse, elementwise=True),
            "gaussian_ragged": tx.scale_to_gaussian(ragged),
        }

    return preprocessing_fn


@golden_case("numeric_lists")
def lists_case():
    columns = serum_lists()
    spec = {
        "serum": tf.io.VarLenFeature(tf.float32),
        "serum_ragged": tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
    }
    return lists_fn, spec, columns, {"desired_batch_size": len(columns["serum"])}


LIST_SCHEMA = pp.Schema(
    (pp.Feature("serum", "float", shape="varlen"), pp.Feature("serum_ragged", "float", shape="ragged"))
)


# -- featurebeam's outputs, once per case -----------------------------------------------------
@pytest.fixture(scope="module")
def diabetes():
    columns = load("diabetes")
    return read_golden("numeric_diabetes"), run_featurebeam(diabetes_fn(pp), schema_of(columns), columns)[0]


@pytest.fixture(scope="module")
def wine():
    columns = load("wine")
    return read_golden("numeric_wine"), run_featurebeam(wine_fn(pp), schema_of(columns), columns, batch_size=50)[0]


@pytest.fixture(scope="module")
def lists():
    # In memory: exporting a transform_fn whose inputs are list features does not work on main yet (issue 9).
    return read_golden("numeric_lists"), run_in_memory(lists_fn(pp), serum_lists(), LIST_SCHEMA)


# -- comparisons ------------------------------------------------------------------------------
def assert_same(name, want, got, *, rtol=1e-5, atol=1e-6):
    if want.dtype == object:  # a list column: one array per row
        assert len(got) == len(want), name
        for row, (w, g) in enumerate(zip(want, got)):
            assert_same(f"{name}[{row}]", np.asarray(w), np.asarray(g), rtol=rtol, atol=atol)
        return
    assert got.shape == want.shape, (name, got.shape, want.shape)
    if want.dtype.kind in "iu":
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    else:
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


DIABETES_SAME = [
    "q_weighted",
    "q_elementwise",
    "q_elementwise_weighted",
    "bucket_weighted",
    "bucket_per_value_weights",
    "bucket_elementwise",
    "bucket_elementwise_weighted",
    "interp_quantiles",
    "interp_int",
    "interp_nan_and_infinite_boundaries",
    "interp_one_boundary",
    "density_default",
    "density_given",
    "density_spread",
    "density_column",
    "density_categorical_int",
    "density_categorical_string",
    "pca_of_z_scores",
    "tukey_location_int",
    "gaussian_int",
    "mean_float64",
    "var_of_int_float64",
    "z_float64",
]


@pytest.mark.parametrize("name", DIABETES_SAME)
def test_diabetes_output_matches_tf_transform(diabetes, name):
    expected, actual = diabetes
    assert_same(name, expected[name], actual[name], atol=1e-5)


@pytest.mark.parametrize("name", ["bucket_weighted_by_alcohol", "density_cultivar", "pca_of_z_scores"])
def test_wine_output_matches_tf_transform(wine, name):
    expected, actual = wine
    assert_same(name, expected[name], actual[name], atol=1e-5)


@pytest.mark.parametrize("name", ["bucket_sparse", "bucket_ragged", "interp_sparse", "interp_ragged"])
def test_list_feature_output_matches_tf_transform(lists, name):
    expected, actual = lists
    assert_same(name, expected[name], actual[name])


def test_ptransform_analyzer_matches_tf_transform(wine):
    expected, actual = wine
    matrix = np.stack([load("wine")[k] for k in WINE], axis=1)
    assert_same("sums", expected["ptransform_column_sums"], actual["ptransform_column_sums"], rtol=1e-6)
    np.testing.assert_allclose(actual["ptransform_column_sums"][0], matrix.astype(np.float64).sum(axis=0), rtol=1e-6)
    assert_same("share", expected["ptransform_share_of_largest"], actual["ptransform_share_of_largest"])


# Covariance: tf.Transform sums x x' in float32 and subtracts mean mean' (one pass), so its entries carry an
# error of about 1e-6 of sqrt(E[x_i^2] E[x_j^2]); featurebeam's (float64, pairwise) equal numpy's to 1e-6.
@pytest.mark.parametrize("case, columns", [("diabetes", SERUM), ("wine", WINE)])
def test_covariance_is_numpys_and_tf_transforms_within_its_float32_error(case, columns, diabetes, wine):
    expected, actual = {"diabetes": diabetes, "wine": wine}[case]
    data = np.stack([load(case)[k] for k in columns], axis=1).astype(np.float64)
    reference = np.cov(data, rowvar=False, bias=True)
    k = len(columns)
    np.testing.assert_allclose(actual["covariance"][0].reshape(k, k), reference, rtol=1e-6, atol=1e-9)
    second_moments = np.sqrt(np.outer(np.mean(data**2, axis=0), np.mean(data**2, axis=0)))
    error = np.abs(expected["covariance"][0].reshape(k, k) - reference)
    assert np.all(error <= 1e-5 * second_moments), np.max(error / second_moments)
    if case == "diabetes":
        np.testing.assert_allclose(actual["covariance_float64"][0].reshape(k, k), reference, rtol=1e-6)


def test_pca_matches_tf_transform(diabetes):
    expected, actual = diabetes
    data = np.stack([load("diabetes")[k] for k in SERUM], axis=1).astype(np.float64)
    components = actual["pca_all"][0].reshape(6, 6)
    values, vectors = np.linalg.eigh(np.cov(data, rowvar=False, bias=True))
    np.testing.assert_allclose(np.abs(components), np.abs(vectors[:, ::-1]), atol=1e-5)
    # same eigenvectors and signs as tf.Transform's, within its float32 covariance's error
    np.testing.assert_allclose(components, expected["pca_all"][0].reshape(6, 6), atol=1e-4)
    np.testing.assert_allclose(actual["pca_projection"], expected["pca_projection"], rtol=1e-3, atol=1e-3)


# -- Tukey HH: tf.Transform with one batch, against the whole dataset's L-moments ------------------------
def tukey_columns(case: str) -> dict[str, np.ndarray]:
    data = load(case)
    if case == "wine":
        return {k: data[k] for k in WINE}
    return {k: data[k].astype(np.float32) for k in ("s1", "s2", "s3", "s6", "bmi", "progression")}


def fit(values: np.ndarray, solver=None):
    """``(location, scale, hl, hr)`` of the whole column: featurebeam's L-moments; featurebeam's fit or ``solver``."""
    moments = _tukey.l_moments(values.astype(np.float64))
    if solver is None:
        return [float(v[0]) for v in _tukey.tukey_parameters(moments[None], np.array([values.size]))]
    hl, hr = solver(np.array([moments[2] / moments[1], moments[3] / moments[1]], np.float32)).astype(np.float64)
    hh_l1, hh_l2, _, _ = _tukey_hh.l_moments(hl, hr)
    scale = moments[1] / hh_l2
    return [moments[0] - scale * hh_l1, scale, hl, hr]


def tf_transform_solver(skewness_and_kurtosis):
    from tensorflow_transform import gaussianization

    return gaussianization.compute_tukey_hh_params(skewness_and_kurtosis)


TUKEY_OUTPUTS = ("tukey_location", "tukey_scale", "tukey_hl", "tukey_hr")


@pytest.mark.parametrize("case", ["diabetes", "wine"])
def test_tukey_fit_is_tf_transforms_with_one_batch_up_to_its_h_search(case, diabetes, wine):
    """tf.Transform (one batch): the whole column's L-moments and its own h search; featurebeam: an exact fit."""
    expected, actual = {"diabetes": diabetes, "wine": wine}[case]
    for index, (column, values) in enumerate(tukey_columns(case).items()):
        theirs = [expected[name][0][index] for name in TUKEY_OUTPUTS]
        ours = [actual[name][0][index] for name in TUKEY_OUTPUTS]
        np.testing.assert_allclose(theirs, fit(values, tf_transform_solver), rtol=2e-4, atol=2e-5, err_msg=column)
        np.testing.assert_allclose(ours, fit(values), rtol=1e-5, atol=1e-6, err_msg=column)
        # On these data tf.Transform's search ends within 1e-3 of the exact h (README: Tukey HH).
        np.testing.assert_allclose(ours[2:], theirs[2:], atol=1e-3, err_msg=column)
        np.testing.assert_allclose(ours[:2], theirs[:2], rtol=2e-3, err_msg=column)


def test_gaussian_matches_tf_transform_where_the_fits_agree(diabetes):
    expected, actual = diabetes
    agree = 0
    for index, (column, values) in enumerate(tukey_columns("diabetes").items()):
        ours_h, theirs_h = fit(values)[2:], fit(values, tf_transform_solver)[2:]
        want, got = expected["gaussian"][:, index], actual["gaussian"][:, index]
        if np.max(np.abs(np.subtract(ours_h, theirs_h))) < 2e-5:
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=column)
            agree += 1
        else:  # h within 1e-3: the gaussianized values within 0.02
            np.testing.assert_allclose(got, want, atol=2e-2, err_msg=column)
    assert agree >= 3
    for name in ("gaussian_reduced", "gaussian_float64"):
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_gaussian_inverts_the_fitted_tukey_hh_map(diabetes):
    """Each output u maps back to its input: location + scale * u * exp(h u^2 / 2) (h = hl below 0, hr above)."""
    _, actual = diabetes
    data = tukey_columns("diabetes")
    for index, (column, values) in enumerate(data.items()):
        location, scale, hl, hr = (actual[name][0][index] for name in TUKEY_OUTPUTS)
        if hl == hr == 0:
            continue
        u = actual["gaussian"][:, index].astype(np.float64)
        back = location + scale * u * np.exp(np.where(u < 0, hl, hr) * u * u / 2)
        np.testing.assert_allclose(back, values, rtol=1e-4, err_msg=column)


def test_gaussian_on_list_features(lists):
    expected, actual = lists
    for name in ("gaussian_sparse", "gaussian_ragged", "tukey_location_sparse", "tukey_scale_ragged"):
        assert_same(name, expected[name], actual[name], rtol=1e-4, atol=1e-5)
    # per column: tf.Transform's h search differs on the long-tailed columns, as above
    assert_same("per column", expected["tukey_location_per_column"], actual["tukey_location_per_column"], rtol=2e-3)
    assert_same(
        "elementwise", expected["gaussian_sparse_elementwise"], actual["gaussian_sparse_elementwise"], atol=2e-2
    )


# -- float16 statistics: tf.Transform accumulates in float16 and overflows -----------------------------
def test_float16_outputs_are_the_float64_statistics_rounded(diabetes):
    expected, actual = diabetes
    data = load("diabetes")
    age = data["age"].astype(np.float64)
    z = ((age - age.mean()) / age.std()).astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(actual["z_float16"], z, atol=2e-3)
    s6_scale = np.float16(fit(data["s6"].astype(np.float32))[1])
    np.testing.assert_allclose(actual["tukey_scale_float16"][0], s6_scale, rtol=1e-3)
    # tf.Transform accumulates in float16 (largest value 65504): its z-scores of the ages stay within 0.2
    # (instead of 2.3) and its L-moments overflow, so its Tukey scale falls back to 1.
    assert np.max(np.abs(expected["z_float16"])) < 0.2 and expected["tukey_scale_float16"][0, 0] == 1.0


# -- the goldens are tf.Transform's outputs today --------------------------------------------------
def test_a_golden_is_what_tf_transform_computes_today():
    import tensorflow_transform as tft

    make_fn, spec, columns, options = wine_case()
    live = run_tft_with_spec(make_fn(tft), spec, columns, **options)
    golden = read_golden("numeric_wine")
    assert sorted(live) == sorted(golden)
    for name in golden:
        assert_same(name, golden[name], live[name].astype(golden[name].dtype), rtol=1e-6, atol=1e-7)
