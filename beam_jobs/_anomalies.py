"""What differs between new data's statistics and a baseline's: the checks of ``featurebeam validate``.

Schema checks (the baseline's statistics and, when present, its raw schema
``metadata/schema.pbtxt`` say which columns exist and their types):

- ``missing_column``: a baseline column the new data lacks;
- ``new_column``: a column of the new data the baseline does not have;
- ``type_change``: a column whose type differs (no other check then);
- ``missing_values``: the fraction of rows missing a feature rose more than
  ``missing`` above the baseline's;
- ``nan_values``: a numeric feature without NaN in the baseline has more than
  a fraction ``nan`` of NaN values;
- ``unseen_values``: more than a fraction ``unseen`` of a string feature's
  values are outside the baseline's values. Only for features whose baseline
  has at most ``MAX_DOMAIN_SIZE`` distinct values (TFDV's ``infer_schema``
  gives other string features no domain either).

Distribution checks (skew or drift), measured for every feature both have:

- ``linf``: L-infinity distance of a string feature's value distributions;
- ``jsd``: Jensen-Shannon divergence of a numeric feature's STANDARD histograms.

A value strictly above its threshold is an anomaly, as in TFDV. Each kind
carries the name of TFDV's ``AnomalyInfo.Type`` for the same finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from analyzers import _drift
from beam_jobs._job import ValidationConfig

MAX_DOMAIN_SIZE = 100  # TFDV's infer_schema: max_string_domain_size

TFDV_TYPES = {
    "missing_column": "SCHEMA_MISSING_COLUMN",
    "new_column": "SCHEMA_NEW_COLUMN",
    "type_change": "UNEXPECTED_DATA_TYPE",
    "missing_values": "FEATURE_TYPE_LOW_FRACTION_PRESENT",
    "nan_values": "FLOAT_TYPE_HAS_NAN",
    "unseen_values": "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    "linf": "COMPARATOR_L_INFTY_HIGH",
    "jsd": "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
}


@dataclass(frozen=True)
class Anomaly:
    feature: str
    kind: str
    value: float | str | None  # what was measured
    threshold: float | str | None  # what it was compared with
    description: str  # one line

    @property
    def tfdv_type(self) -> str:
        return TFDV_TYPES[self.kind]

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "feature"}, "tfdv_type": self.tfdv_type}


def feature_type(feature) -> str:
    """``int``, ``float`` or ``string`` for a ``FeatureNameStatistics``."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    kinds = statistics_pb2.FeatureNameStatistics
    return {kinds.INT: "int", kinds.FLOAT: "float"}.get(feature.type, "string")


def schema_types(schema) -> dict[str, str]:
    """``{name: type}`` of a tensorflow_metadata ``Schema`` (INT, FLOAT, BYTES)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    names = {schema_pb2.INT: "int", schema_pb2.FLOAT: "float", schema_pb2.BYTES: "string"}
    return {feature.name: names.get(feature.type, "string") for feature in schema.feature}


def features_of(statistics) -> dict:
    """``{name: FeatureNameStatistics}`` of the first dataset of a ``DatasetFeatureStatisticsList``."""
    dataset = statistics.datasets[0]
    return {(".".join(f.path.step) if f.HasField("path") else f.name): f for f in dataset.features}


def common_of(feature):
    return feature.num_stats.common_stats if feature.HasField("num_stats") else feature.string_stats.common_stats


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%".replace(".00%", "%")


def _missing_fraction(feature, num_examples: int) -> float:
    return common_of(feature).num_missing / num_examples if num_examples else 0.0


def _nan_fraction(feature) -> float:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    total = feature.num_stats.common_stats.tot_num_values
    nans = max(
        (h.num_nan for h in feature.num_stats.histograms if h.type == statistics_pb2.Histogram.STANDARD), default=0
    )
    return nans / total if total else 0.0


class _Comparison:
    """One feature of both datasets: its measurements and anomalies."""

    def __init__(self, name, base, new, num_base: int, num_new: int, thresholds):
        self.name, self.base, self.new = name, base, new
        self.num_base, self.num_new, self.thresholds = num_base, num_new, thresholds
        self.anomalies: list[Anomaly] = []
        self.measurements: dict[str, float | str] = {}

    def flag(self, kind: str, value, threshold, description: str) -> None:
        self.anomalies.append(Anomaly(self.name, kind, value, threshold, description))

    def check(self, kind: str) -> None:
        self.missing_values()
        if kind == "string":
            self.unseen_values()
            self.linf()
        else:
            self.nan_values()
            self.jsd()

    def missing_values(self) -> None:
        base = _missing_fraction(self.base, self.num_base)
        new = _missing_fraction(self.new, self.num_new)
        self.measurements["missing"] = new
        limit = base + self.thresholds.missing
        if new > limit:
            self.flag(
                "missing_values",
                new,
                limit,
                f"{_percent(new)} of rows miss it; {_percent(base)} in the baseline "
                f"(threshold {_percent(limit)}: the baseline's + `missing` {self.thresholds.missing:g})",
            )

    def nan_values(self) -> None:
        new = _nan_fraction(self.new)
        self.measurements["nan"] = new
        if _nan_fraction(self.base) == 0 and new > self.thresholds.nan:
            self.flag(
                "nan_values",
                new,
                self.thresholds.nan,
                f"{_percent(new)} of its values are NaN; the baseline had none "
                f"(threshold `nan` {self.thresholds.nan:g})",
            )

    def unseen_values(self) -> None:
        strings = self.base.string_stats
        domain = {b.label for b in strings.rank_histogram.buckets}
        if not domain or strings.unique > MAX_DOMAIN_SIZE or len(domain) < strings.unique:
            return
        total = self.new.string_stats.common_stats.tot_num_values
        unseen = {label: count for label, count in _drift.rank_counts(self.new).items() if label not in domain}
        fraction = sum(unseen.values()) / total if total else 0.0
        self.measurements["unseen"] = fraction
        if fraction > self.thresholds.unseen:
            shown = sorted(unseen.items(), key=lambda item: -item[1])[:5]
            values = ", ".join(f"{label!r} ({_percent(count / total)})" for label, count in shown)
            more = f" and {len(unseen) - len(shown)} more" if len(unseen) > len(shown) else ""
            self.flag(
                "unseen_values",
                fraction,
                self.thresholds.unseen,
                f"{_percent(fraction)} of its values are not among the baseline's {len(domain)} values: "
                f"{values}{more} (threshold `unseen` {self.thresholds.unseen:g})",
            )

    def linf(self) -> None:
        new, base = _drift.rank_counts(self.new), _drift.rank_counts(self.base)
        if not new or not base:
            return
        distance, value = _drift.linf_distance(new, base)
        self.measurements["linf"], self.measurements["linf_value"] = distance, value
        if distance > self.thresholds.linf:
            self.flag(
                "linf",
                distance,
                self.thresholds.linf,
                f"L-infinity distance {distance:.4g} between the value distributions, largest for {value!r} "
                f"(threshold `linf` {self.thresholds.linf:g})",
            )

    def jsd(self) -> None:
        new, base = _drift.standard_histogram(self.new), _drift.standard_histogram(self.base)
        if new is None or base is None:
            return
        divergence = _drift.histogram_jsd(new[0], new[1], base[0], base[1])
        if divergence is None:
            return
        self.measurements["jsd"] = divergence
        if divergence > self.thresholds.jsd:
            self.flag(
                "jsd",
                divergence,
                self.thresholds.jsd,
                f"Jensen-Shannon divergence {divergence:.4g} between the histograms "
                f"(threshold `jsd` {self.thresholds.jsd:g})",
            )


def compare(baseline, new, config: ValidationConfig, schema=None) -> tuple[list[Anomaly], dict[str, dict]]:
    """Anomalies (by feature name, checks in the order above) and every feature's measurements.

    ``baseline`` and ``new`` are ``DatasetFeatureStatisticsList``s, ``schema``
    the baseline's raw ``Schema`` or None.
    """
    base_features, new_features = features_of(baseline), features_of(new)
    expected = {name: feature_type(f) for name, f in base_features.items()}
    if schema is not None:
        expected.update(schema_types(schema))
    num_base, num_new = baseline.datasets[0].num_examples, new.datasets[0].num_examples
    anomalies: list[Anomaly] = []
    measurements: dict[str, dict] = {}
    for name in sorted(set(expected) | set(new_features)):
        if name not in new_features:
            anomalies.append(
                Anomaly(name, "missing_column", None, None, "the baseline has this column; the new data does not")
            )
            continue
        kind = feature_type(new_features[name])
        if name not in expected:
            anomalies.append(
                Anomaly(name, "new_column", kind, None, f"a {kind} column that the baseline does not have")
            )
            continue
        if kind != expected[name]:
            anomalies.append(
                Anomaly(name, "type_change", kind, expected[name], f"{expected[name]} in the baseline; now {kind}")
            )
            continue
        if name not in base_features:  # in the raw schema only: nothing to compare with
            continue
        comparison = _Comparison(
            name, base_features[name], new_features[name], num_base, num_new, config.thresholds(name)
        )
        comparison.check(kind)
        anomalies.extend(comparison.anomalies)
        measurements[name] = comparison.measurements
    return anomalies, measurements


def to_anomalies_proto(anomalies: list[Anomaly], measurements: dict[str, dict], thresholds: ValidationConfig):
    """The same findings as a tensorflow_metadata ``Anomalies`` proto (TFDV's format), drift measurements included."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    result = anomalies_pb2.Anomalies(anomaly_name_format=anomalies_pb2.Anomalies.SERIALIZED_PATH)
    by_feature: dict[str, list[Anomaly]] = {}
    for anomaly in anomalies:
        by_feature.setdefault(anomaly.feature, []).append(anomaly)
    for name, found in by_feature.items():
        info = result.anomaly_info[name]
        info.path.step.append(name)
        info.severity = anomalies_pb2.AnomalyInfo.ERROR
        for anomaly in found:
            info.reason.add(
                type=anomalies_pb2.AnomalyInfo.Type.Value(anomaly.tfdv_type),
                short_description=anomaly.kind,
                description=anomaly.description,
            )
        info.short_description = found[0].kind if len(found) == 1 else "Multiple errors"
        info.description = " ".join(a.description for a in found)
    kinds = anomalies_pb2.DriftSkewInfo.Measurement
    for name, measured in sorted(measurements.items()):
        entries = [(kinds.L_INFTY, measured["linf"], "linf")] if "linf" in measured else []
        entries += [(kinds.JENSEN_SHANNON_DIVERGENCE, measured["jsd"], "jsd")] if "jsd" in measured else []
        if not entries:
            continue
        info = result.drift_skew_info.add()
        info.path.step.append(name)
        for kind, value, key in entries:
            threshold = getattr(thresholds.thresholds(name), key)
            info.drift_measurements.add(type=kind, value=value, threshold=threshold)
    return result
