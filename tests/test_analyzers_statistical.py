"""Covariance, PCA and Tukey HH specs against one-pass numpy references; the Tukey HH math on its own.

Like tests/test_analyzers_numeric.py: every dataset is shuffled, split into 1,
2 and 7 shards fed in several batches, each accumulator pickled, merged
forward, reversed and tree-wise, and compared with numpy over the whole array.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from analyzers import CovarianceSpec, PCASpec, QuantilesSpec, TukeySpec, _tukey, _tukey_hh
from analyzers._ptransform import PTransformSpec
from featurebeam_base.errors import ArgumentError, PreprocessingError
from tests.test_analyzers_numeric import MERGE_ORDERS, cut_points, roundtrip


def sharded(spec, x: np.ndarray, num_shards: int, rng, merge) -> tuple:
    shuffled = x[rng.permutation(len(x))]
    accumulators = []
    for shard in np.split(shuffled, cut_points(rng, len(shuffled), num_shards)):
        accumulator = spec.create()
        for batch in np.split(shard, cut_points(rng, len(shard), int(rng.integers(1, 5)))):
            accumulator = spec.add(accumulator, (batch,))
        accumulators.append(roundtrip(accumulator))
    return spec.extract(merge(spec, accumulators))


SPLITS = [(shards, order) for shards in (1, 2, 7) for order in MERGE_ORDERS]


# -- covariance and PCA ------------------------------------------------------------
@pytest.mark.parametrize("shards, order", SPLITS)
def test_covariance_is_numpys_biased_covariance_whatever_the_split(shards, order):
    rng = np.random.default_rng(shards)
    # a large mean beside a small spread: E[xx'] - mean mean' would lose most digits here
    x = 1e4 + rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    (covariance,) = sharded(CovarianceSpec(4, "float64"), x, shards, rng, MERGE_ORDERS[order])
    np.testing.assert_allclose(covariance, np.cov(x, rowvar=False, bias=True), rtol=1e-9, atol=1e-9)


def test_covariance_edge_cases():
    spec = CovarianceSpec(2, "float32")
    (empty,) = spec.extract(spec.create())
    np.testing.assert_array_equal(empty, np.zeros((2, 2), np.float32))
    (constant,) = spec.extract(spec.add(spec.create(), (np.full((5, 2), 3.0),)))
    np.testing.assert_array_equal(constant, np.zeros((2, 2)))
    (with_nan,) = spec.extract(spec.add(spec.create(), (np.array([[1.0, np.nan], [2.0, 3.0]]),)))
    assert np.isnan(with_nan[1, 1]) and with_nan[0, 0] == 0.25 and with_nan.dtype == np.float32


@pytest.mark.parametrize("shards, order", SPLITS[::2])
def test_pca_columns_are_eigenvectors_by_descending_eigenvalue(shards, order):
    rng = np.random.default_rng(10 + shards)
    x = rng.normal(size=(400, 5)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5]) @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
    (components,) = sharded(PCASpec(5, "float64", 3), x, shards, rng, MERGE_ORDERS[order])
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False, bias=True))
    expected = vectors[:, np.argsort(values)[::-1][:3]]
    signs = np.sign(np.sum(components * expected, axis=0))  # an eigenvector's sign is LAPACK's choice
    np.testing.assert_allclose(components, expected * signs, atol=1e-9)
    np.testing.assert_allclose(components.T @ components, np.eye(3), atol=1e-12)


def test_pca_edge_cases_follow_tf_transform():
    spec = PCASpec(2, "float32", 1)
    np.testing.assert_array_equal(spec.extract(spec.create())[0], [[1.0], [0.0]])  # empty: the identity
    constant = spec.extract(spec.add(spec.create(), (np.full((4, 2), 7.0),)))[0]
    np.testing.assert_array_equal(constant, [[0.0], [1.0]])  # equal eigenvalues: the later column first
    with pytest.raises(ArgumentError, match=r"`output_dim` must be at most the number of columns of `x` \(2\); got 3"):
        PCASpec(2, "float32", 3)
    with pytest.raises(ArgumentError, match=r"`dtype` must be a floating dtype"):
        CovarianceSpec(2, "int64")


# -- Tukey HH: L-moments ------------------------------------------------------------
def direct_l_moments(x: np.ndarray) -> np.ndarray:
    """Hosking's direct unbiased sample L-moments (tf.Transform's per-batch formulas), in float64."""
    x = np.sort(x.astype(np.float64))
    n = x.size
    up = np.arange(n, dtype=np.float64)
    dn = n - 1 - up
    out = np.zeros(4)
    out[0] = x.mean()
    if n >= 2:
        out[1] = np.sum(x * (up - dn)) / (2 * comb(n, 2))
    if n >= 3:
        out[2] = np.sum(x * (up * (up - 1) - 4 * up * dn + dn * (dn - 1))) / (6 * comb(n, 3))
    if n >= 4:
        weights = up * (up - 1) * (up - 2) - 9 * up * (up - 1) * dn + 9 * up * dn * (dn - 1) - dn * (dn - 1) * (dn - 2)
        out[3] = np.sum(x * weights) / (24 * comb(n, 4))
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 37, 1000])
def test_l_moments_equal_the_direct_formulas(n):
    rng = np.random.default_rng(n)
    x = np.round(rng.lognormal(size=n) * 10, 1)  # ties included
    np.testing.assert_allclose(_tukey.l_moments(x), direct_l_moments(x), rtol=1e-10, atol=1e-12)


def test_l_moments_keep_their_precision_under_a_large_mean():
    x = np.random.default_rng(3).standard_t(5, size=2000)
    np.testing.assert_allclose(_tukey.l_moments(x + 1e8)[1:], _tukey.l_moments(x)[1:], rtol=1e-6)


def heavy_tailed(n, seed, hl=0.1, hr=0.4):
    z = np.random.default_rng(seed).standard_normal(n)
    return 2.0 + 3.0 * z * np.exp(np.where(z < 0, hl, hr) * z * z / 2)


@pytest.mark.parametrize("shards, order", SPLITS)
def test_tukey_spec_is_the_whole_datasets_fit_whatever_the_split(shards, order):
    rng = np.random.default_rng(20 + shards)
    x = np.stack([heavy_tailed(600, 1), rng.uniform(size=600), np.round(heavy_tailed(600, 99), 0)], axis=1)
    spec = TukeySpec((3,), False, "float64")
    got = sharded(spec, x, shards, rng, MERGE_ORDERS[order])
    moments = np.stack([direct_l_moments(column) for column in x.T])
    expected = _tukey.tukey_parameters(moments, np.full(3, 600))
    for actual, wanted in zip(got, expected, strict=True):
        np.testing.assert_allclose(actual, wanted, rtol=1e-9)
    assert got[2][1] == got[3][1] == 0.0  # uniform data has short tails: h = 0
    assert 0.05 < got[2][0] < 0.2 and 0.3 < got[3][0] < 0.5  # the fit recovers the generating tails


def test_tukey_beyond_the_exact_limit_averages_per_batch_moments(monkeypatch):
    monkeypatch.setattr(_tukey, "EXACT_LIMIT", 100)
    x = heavy_tailed(1000, 4)
    batches = np.split(x, [130, 400, 410, 700])
    spec = TukeySpec((), True, "float64")
    rng = np.random.default_rng(0)
    accumulators = []
    for batch in batches:
        accumulators.append(roundtrip(spec.add(spec.create(), (batch,))))
    weights = np.array([[comb(b.size, k) for k in range(1, 5)] for b in batches], np.float64)
    moments = np.sum(weights * np.stack([direct_l_moments(b) for b in batches]), axis=0) / weights.sum(axis=0)
    expected = _tukey.tukey_parameters(moments[None], np.array([1000]))
    for order in MERGE_ORDERS.values():
        shuffled = [accumulators[i] for i in rng.permutation(len(accumulators))]
        got = spec.extract(order(spec, [roundtrip(a) for a in shuffled]))
        for actual, wanted in zip(got, expected, strict=True):
            np.testing.assert_allclose(actual, wanted[0], rtol=1e-9)


def test_tukey_ignores_nan_and_infinities_and_handles_empty_and_constant_data():
    spec = TukeySpec((), True, "float32")
    x = heavy_tailed(300, 5)
    dirty = np.concatenate([x, [np.nan, np.inf, -np.inf]])
    clean = spec.extract(spec.add(spec.create(), (x,)))
    np.testing.assert_array_equal(spec.extract(spec.add(spec.create(), (dirty,))), clean)
    assert [float(v) for v in spec.extract(spec.create())] == [0.0, 1.0, 0.0, 0.0]
    assert [float(v) for v in spec.extract(spec.add(spec.create(), (np.full(9, 5.0),)))] == [5.0, 1.0, 0.0, 0.0]
    # three values: spread but no L-kurtosis (h = 0); the scale is sqrt(pi) l2, the location the mean
    loc, scale, hl, hr = spec.extract(spec.add(spec.create(), (np.array([1.0, 2.0, 6.0]),)))
    assert (hl, hr) == (0.0, 0.0)
    np.testing.assert_allclose([loc, scale], [3.0, np.sqrt(np.pi) * direct_l_moments(np.array([1.0, 2.0, 6.0]))[1]])


def test_tukey_per_column_of_a_sparse_tensor():
    rng = np.random.default_rng(6)
    columns = rng.integers(0, 3, size=900)
    values = heavy_tailed(900, 7) * (columns + 1)
    spec = TukeySpec((), False, "float64", per_column=True)
    first = spec.add(spec.create(), (columns[:400], values[:400]))
    second = spec.add(spec.create(), (columns[400:][columns[400:] < 2], values[400:][columns[400:] < 2]))
    third = spec.add(spec.create(), (columns[400:][columns[400:] == 2], values[400:][columns[400:] == 2]))
    got = spec.extract(spec.merge(roundtrip(second), spec.merge(roundtrip(third), roundtrip(first))))
    for column in range(3):
        part = values[columns == column]
        expected = _tukey.tukey_parameters(direct_l_moments(part)[None], np.array([part.size]))
        np.testing.assert_allclose([g[column] for g in got], [e[0] for e in expected], rtol=1e-9)
    assert spec.outputs()[0].shape == (None,)


# -- Tukey HH: the distribution's L-moments and the fit ------------------------------------
def quadrature_l_moments(hl: float, hr: float) -> np.ndarray:
    """``E[X P_{k-1}(Phi(Z))]`` by the trapezoid rule over z in [-60, 60]: an independent check of the closed forms."""
    from math import erf

    z = np.linspace(-60.0, 60.0, 600_001)
    phi = np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    u = 0.5 * (1 + np.vectorize(erf)(z / np.sqrt(2)))
    x = z * np.exp(np.where(z < 0, hl, hr) * z * z / 2)
    legendre = [np.ones_like(u), 2 * u - 1, 6 * u * u - 6 * u + 1, 20 * u**3 - 30 * u * u + 12 * u - 1]
    return np.array([np.trapezoid(x * p * phi, z) for p in legendre])


@pytest.mark.parametrize("hl, hr", [(0.0, 0.0), (0.0, 0.3), (0.2, 0.05), (0.35, 0.35)])
def test_tukey_hh_closed_forms_equal_numerical_integration(hl, hr):
    l1, l2, skewness, kurtosis = _tukey_hh.l_moments(hl, hr)
    lambdas = quadrature_l_moments(hl, hr)
    np.testing.assert_allclose([l1, l2, skewness, kurtosis], [*lambdas[:2], *(lambdas[2:] / lambdas[1])], atol=1e-8)


def test_tukey_hh_closed_forms_equal_tf_transforms():
    from tensorflow_transform import gaussianization

    h = np.random.default_rng(8).uniform(0.0, 0.95, size=(2, 300))
    ours = _tukey_hh.l_moments(h[0], h[1])
    theirs = (*gaussianization.tukey_hh_l_mean_and_scale(h), *gaussianization._tukey_hh_l_skewness_and_kurtosis(h))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_normal_data_has_the_normal_l_kurtosis():
    assert _tukey_hh.l_moments(0.0, 0.0)[3] == pytest.approx(30 / np.pi * np.arctan(np.sqrt(2)) - 9, abs=1e-14)
    assert abs(_tukey_hh.l_moments(0.0, 0.0)[3] - _tukey_hh.GAUSSIAN_L_KURTOSIS) < 1e-7


def test_h_params_reproduce_every_reachable_skewness_and_kurtosis():
    hl, hr = np.meshgrid(np.linspace(0.0, 0.9, 31), np.linspace(0.0, 0.9, 31))
    _, _, skewness, kurtosis = _tukey_hh.l_moments(hl.ravel(), hr.ravel())
    keep = kurtosis >= _tukey_hh.GAUSSIAN_L_KURTOSIS
    fit_hl, fit_hr = _tukey_hh.h_params(skewness[keep], kurtosis[keep])
    np.testing.assert_allclose(fit_hl, hl.ravel()[keep], atol=1e-9)
    np.testing.assert_allclose(fit_hr, hr.ravel()[keep], atol=1e-9)


def test_h_params_edge_cases():
    assert _tukey_hh.h_params(0.3, 0.1) == (0.0, 0.0)  # lighter tails than the normal's
    hl, hr = _tukey_hh.h_params(-0.05, 0.2)  # negative skewness: the left tail is the longer
    assert hl > hr > 0
    hl, hr = _tukey_hh.h_params(0.5, 0.15)  # no pair has this skewness with this kurtosis: hl = 0 matches the kurtosis
    assert hl == 0.0 and _tukey_hh.l_moments(0.0, hr)[3] == pytest.approx(0.15, abs=1e-12)


def test_h_params_equal_tf_transforms_where_its_search_converges():
    """tf.Transform bisects at most 20 x 10 times; where its answer reproduces the target moments, ours is it."""
    from tensorflow_transform import gaussianization

    compared = 0
    for skewness in np.linspace(-0.3, 0.3, 7):
        for kurtosis in np.linspace(0.13, 0.5, 7):
            theirs = gaussianization.compute_tukey_hh_params(np.array([skewness, kurtosis]))
            implied = _tukey_hh.l_moments(*theirs)[2:]
            if max(abs(implied[0] - skewness), abs(implied[1] - kurtosis)) < 1e-6:
                np.testing.assert_allclose(_tukey_hh.h_params(skewness, kurtosis), theirs, atol=2e-5)
                compared += 1
    assert compared >= 10


# -- weighted quantiles: tf.Transform's weight shapes --------------------------------------
def test_weighted_quantiles_take_one_weight_per_value_or_per_row():
    values = np.arange(1.0, 11.0)
    weights = np.array([1.0] * 5 + [10.0] * 5)
    spec = QuantilesSpec(4, 0.01, (), True, weighted=True)
    np.testing.assert_array_equal(spec.extract(spec.add(spec.create(), (values, weights)))[0], [[6.0, 8.0, 9.0]])
    matrix = np.stack([values, values * 10], axis=1)
    per_value = spec.extract(spec.add(spec.create(), (matrix, np.stack([weights, weights], axis=1))))[0]
    np.testing.assert_array_equal(per_value, [[8.0, 10.0, 80.0]])  # cumulative weight past 27.5, 55, 82.5 of 110
    elementwise = QuantilesSpec(4, 0.01, (2,), False, weighted=True)
    by_row = elementwise.extract(elementwise.add(elementwise.create(), (matrix, weights)))[0]
    np.testing.assert_array_equal(by_row, [[6.0, 8.0, 9.0], [60.0, 80.0, 90.0]])
    with pytest.raises(PreprocessingError, match=r"one weight per row of `x`; a batch has 20 weights for 10 rows"):
        elementwise.add(elementwise.create(), (matrix, np.ones(20)))
    with pytest.raises(PreprocessingError, match=r"one weight per value of `x`; a batch has 10 weights for 20 values"):
        spec.add(spec.create(), (matrix, weights))


# -- ptransform_analyzer's output checks (no Beam needed) ------------------------------------
def test_ptransform_outputs_are_checked_against_what_was_declared():
    spec = PTransformSpec(object(), ("int64", "string", "float32"), ((2,), (None,), ()), key="mine")
    ints, text, number = spec.checked([[[1, 2]], [["a", b"b"]], [3]])
    assert ints.dtype == np.int64 and text.tolist() == [b"a", b"b"] and number.dtype == np.float32
    where = "pp.experimental.ptransform_analyzer: output 0 of object (analyzer 'mine')"
    cases = [
        (
            [[], [["a"]], [1.0]],
            "must be a PCollection of exactly one element (the result for the whole dataset); got 0",
        ),
        ([[[1, 2], [3, 4]], [["a"]], [1.0]], "must be a PCollection of exactly one element (the result for the"),
        ([[[1.0, 2.0]], [["a"]], [1.0]], "must be integers for tf.int64; got a float64 value [1.0, 2.0]"),
        ([[[1, 2, 3]], [["a"]], [1.0]], "must have shape [2] (as declared in output_shapes); got shape [3]"),
    ]
    for collected, problem in cases:
        with pytest.raises(PreprocessingError) as caught:
            spec.checked(collected)
        assert str(caught.value).startswith(f"{where} {problem}")
    with pytest.raises(PreprocessingError, match=r"output 1 .* must be text \(str or bytes\) for tf.string"):
        spec.checked([[[1, 2]], [[1, 2]], [1.0]])


def test_the_readme_example_where_tf_transforms_h_search_stops_short():
    """200 draws of u exp(h u^2 / 2) with hl = 0.2, hr = 0.6, fitted with one batch (README: Numeric analyzers)."""
    from tensorflow_transform import gaussianization

    u = np.random.RandomState(42).randn(200)
    x = (np.where(u < 0, u * np.exp(0.1 * u * u), u * np.exp(0.3 * u * u)) * 3.0 + 2.0).astype(np.float32)
    moments = _tukey.l_moments(x)
    skewness, kurtosis = moments[2] / moments[1], moments[3] / moments[1]
    theirs = gaussianization.compute_tukey_hh_params(np.array([skewness, kurtosis], np.float32))
    ours = _tukey_hh.h_params(skewness, kurtosis)
    assert round(float(skewness), 3) == 0.295
    np.testing.assert_allclose(theirs, [0.118, 0.540], atol=5e-4)
    assert round(float(_tukey_hh.l_moments(*theirs.astype(np.float64))[2]), 3) == 0.328
    np.testing.assert_allclose(ours, [0.165, 0.532], atol=5e-4)
    np.testing.assert_allclose(_tukey_hh.l_moments(*ours)[2:], [skewness, kurtosis], atol=1e-9)
