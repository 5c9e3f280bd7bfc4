"""Skew and drift distances (analyzers._drift) against TFDV's measurements and a reference implementation.

TFDV's numbers come from tests/goldens/tfdv/drift.json: ``validate_statistics``
of TFDV 1.16.1 on its own statistics of data sets A and B, and on hand-built
histograms (tests/tfdv_goldens.py). With ``tfdv_nan_and_inf=True`` our JSD
reproduces them; by default NaN and infinite masses are compared bucket to
bucket, which changes the value only when a side has NaN or infinities.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from analyzers import _drift
from tests import tfdv_reference as ref
from tests.tfdv_goldens import GOLDEN_DIR

with open(os.path.join(GOLDEN_DIR, "drift.json")) as handle:
    TFDV = json.load(handle)


def load(name: str) -> dict:
    with open(os.path.join(GOLDEN_DIR, f"{name}.FeatureStats.pb"), "rb") as handle:
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(handle.read())
    return {f.path.step[0]: f for f in stats.datasets[0].features}


def buckets(case) -> list[tuple[float, float, float]]:
    return [tuple(float(x) for x in bucket) for bucket in case]


@pytest.mark.parametrize("name", sorted(TFDV["B_vs_A"]))
def test_drift_of_b_against_a_equals_tfdv(name):
    current, previous = load("B")[name], load("A")[name]
    measured = TFDV["B_vs_A"][name]
    if "L_INFTY" in measured:
        distance, value = _drift.linf_distance(_drift.rank_counts(current), _drift.rank_counts(previous))
        assert (distance, value) == (pytest.approx(measured["L_INFTY"], rel=1e-15), "d")
        jsd = _drift.categorical_jsd(_drift.rank_counts(current), _drift.rank_counts(previous))
    else:
        (h1, n1), (h2, n2) = _drift.standard_histogram(current), _drift.standard_histogram(previous)
        jsd = _drift.histogram_jsd(h1, n1, h2, n2, tfdv_nan_and_inf=True)
        assert jsd == pytest.approx(ref.jsd_numeric(h1, n1, h2, n2, tfdv_quirks=True), rel=1e-14)
    assert jsd == pytest.approx(measured["JENSEN_SHANNON_DIVERGENCE"], rel=1e-14)


@pytest.mark.parametrize("name", sorted(TFDV["synthetic_cases"]["numeric"]))
def test_jsd_of_hand_built_histograms_equals_tfdv(name):
    h1, nan1, h2, nan2 = TFDV["synthetic_cases"]["numeric"][name]
    want = TFDV["synthetic"][name]["JENSEN_SHANNON_DIVERGENCE"]
    got = _drift.histogram_jsd(buckets(h1), nan1, buckets(h2), nan2, tfdv_nan_and_inf=True)
    assert got == pytest.approx(want, rel=1e-14, abs=1e-16)


@pytest.mark.parametrize("name", sorted(TFDV["synthetic_cases"]["strings"]))
def test_linf_and_jsd_of_value_counts_equal_tfdv(name):
    a, b = TFDV["synthetic_cases"]["strings"][name]
    want = TFDV["synthetic"][name]
    distance, _ = _drift.linf_distance(a, b)
    assert distance == pytest.approx(want["L_INFTY"], rel=1e-15)
    assert _drift.categorical_jsd(a, b) == pytest.approx(want["JENSEN_SHANNON_DIVERGENCE"], rel=1e-14)


def test_linf_at_the_threshold_is_not_above_it():
    # TFDV: 0.6 - 0.5 is 0.09999999999999998, so a threshold of 0.1 is not exceeded
    assert _drift.linf_distance({"a": 6, "b": 4}, {"a": 5, "b": 5})[0] < 0.1


def test_linf_ties_go_to_the_last_value_in_byte_order():
    assert _drift.linf_distance({"a": 1, "b": 0}, {"a": 0, "b": 1}) == (1.0, "b")
    assert _drift.linf_distance({"\u00e9": 1, "z": 0}, {"\u00e9": 0, "z": 1}) == (1.0, "\u00e9")  # é is 0xc3 0xa9 > z


def test_nan_and_infinities_are_compared_bucket_to_bucket():
    same = [(0.0, 1.0, 4.0), (1.0, 2.0, 4.0)]
    assert _drift.histogram_jsd(same, 2, same, 2) == 0.0
    assert _drift.histogram_jsd(same, 2, same, 2, tfdv_nan_and_inf=True) == pytest.approx(0.2)  # TFDV's quirk
    with_inf = [(-math.inf, -math.inf, 1.0), *same, (math.inf, math.inf, 1.0)]
    assert _drift.histogram_jsd(with_inf, 0, with_inf, 0) == 0.0
    assert _drift.histogram_jsd(with_inf, 0, with_inf, 0, tfdv_nan_and_inf=True) > 0.1
    # One side's NaN is a difference, kept even when the boundaries differ (TFDV drops it then).
    other_edges = [(0.0, 1.5, 4.0), (1.5, 2.0, 4.0)]
    assert _drift.histogram_jsd(same, 0, other_edges, 8) > _drift.histogram_jsd(same, 0, other_edges, 0) > 0


def test_a_side_without_mass_is_not_measured():
    assert _drift.histogram_jsd([], 5, [(0.0, 1.0, 5.0)], 0, tfdv_nan_and_inf=True) is None
    assert _drift.histogram_jsd([], 0, [(0.0, 1.0, 5.0)], 0) is None


def random_histogram(rng):
    edges = np.sort(rng.choice(np.arange(-10, 11), size=int(rng.integers(2, 7)), replace=False)).astype(float)
    out = [(edges[i], edges[i + 1], float(rng.integers(0, 20))) for i in range(len(edges) - 1)]
    if rng.random() < 0.3:
        out.append((float(rng.integers(-10, 11)),) * 2 + (float(rng.integers(1, 5)),))
    if rng.random() < 0.2:
        out.append((math.inf, math.inf, 2.0))
    if rng.random() < 0.2:
        out.insert(0, (-math.inf, -math.inf, 1.0))
    return out, float(rng.integers(0, 3)) if rng.random() < 0.3 else 0.0


@pytest.mark.parametrize("tfdv_way", [True, False])
def test_jsd_equals_the_reference_on_random_histograms(tfdv_way):
    rng = np.random.default_rng(11)
    for _ in range(300):
        (h1, n1), (h2, n2) = random_histogram(rng), random_histogram(rng)
        got = _drift.histogram_jsd(h1, n1, h2, n2, tfdv_nan_and_inf=tfdv_way)
        want = ref.jsd_numeric(h1, n1, h2, n2, tfdv_quirks=tfdv_way)
        if want is None:
            assert got is None, (h1, n1, h2, n2)
            continue
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), (h1, n1, h2, n2)
        assert 0.0 <= got <= 1.0
        if not tfdv_way:  # symmetric
            assert _drift.histogram_jsd(h2, n2, h1, n1) == pytest.approx(
                _drift.histogram_jsd(h1, n1, h2, n2), abs=1e-15
            )
