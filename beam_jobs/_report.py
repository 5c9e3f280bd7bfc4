"""``report.html``: the statistics of a run, or a validation's anomalies with both datasets, as one page.

The page is self-contained: inline CSS and inline SVG plots, no script, no
font, image or style from the network. Anomalies come first, highlighted;
then one card per feature (anomalous features first) with its statistics and a
plot: the histogram of a numeric feature, the most frequent values of a string
feature. After ``validate``, the baseline and the new data are drawn side by
side on the same axes (numeric histograms re-bucketed onto common
equal-width buckets, assuming uniform mass inside a bucket).
"""

from __future__ import annotations

import html
import math

from analyzers import _drift
from beam_jobs._anomalies import Anomaly, common_of, feature_type, features_of

BASELINE_COLOR = "#4c78a8"  # also the color of a run's only dataset
NEW_COLOR = "#f58518"
ANOMALY_BACKGROUND = "#fdecea"
ANOMALY_BORDER = "#c62828"
TOP_VALUES_SHOWN = 12
PLOT_WIDTH, PLOT_HEIGHT = 560, 190

_STYLE = f"""
body {{ font-family: 'DejaVu Sans', Arial, sans-serif; margin: 24px; color: #222; background: #fff; }}
h1 {{ font-size: 22px; margin: 0 0 4px 0; }}
.sub {{ color: #555; margin-bottom: 16px; font-size: 13px; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ padding: 3px 8px; text-align: left; vertical-align: top; }}
.anomalies {{ background: {ANOMALY_BACKGROUND}; border: 2px solid {ANOMALY_BORDER}; padding: 10px 14px;
  margin-bottom: 18px; }}
.anomalies h2 {{ color: {ANOMALY_BORDER}; font-size: 17px; margin: 0 0 8px 0; }}
.ok {{ background: #e8f5e9; border: 2px solid #2e7d32; padding: 10px 14px; margin-bottom: 18px; }}
.card {{ border: 1px solid #ccc; padding: 10px 14px; margin-bottom: 14px; display: flex; gap: 24px; }}
.card.anomalous {{ background: {ANOMALY_BACKGROUND}; border: 2px solid {ANOMALY_BORDER}; }}
.card h3 {{ margin: 0 0 6px 0; font-size: 16px; }}
.kind {{ color: #666; font-weight: normal; font-size: 13px; }}
.flag {{ color: {ANOMALY_BORDER}; font-size: 13px; margin: 2px 0; }}
.stats {{ min-width: 330px; }}
.legend span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px; vertical-align: middle; }}
.measure {{ font-size: 12px; color: #444; }}
"""


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.4g}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


# -- plots ------------------------------------------------------------------------


def _grid(histograms: list[list[tuple[float, float, float]]], buckets: int = 10) -> list[float]:
    finite = [
        (lo, hi) for histogram in histograms for lo, hi, _ in histogram if math.isfinite(lo) and math.isfinite(hi)
    ]
    if not finite:
        return []
    low, high = min(lo for lo, _ in finite), max(hi for _, hi in finite)
    if low == high:
        return [low, high]
    return [low + (high - low) * i / buckets for i in range(buckets + 1)]


def _on_grid(histogram, edges: list[float]) -> list[float]:
    """A histogram's finite mass on ``edges`` (uniform inside a bucket; points into the bucket holding them)."""
    counts = [0.0] * (len(edges) - 1)
    for low, high, count in histogram:
        if not (math.isfinite(low) and math.isfinite(high)):
            continue
        if low == high or len(edges) == 2:
            index = next((i for i in range(len(counts)) if low <= edges[i + 1]), len(counts) - 1)
            counts[index] += count
            continue
        for i in range(len(counts)):
            overlap = min(high, edges[i + 1]) - max(low, edges[i])
            if overlap > 0:
                counts[i] += count * overlap / (high - low)
    return counts


def _svg_open() -> str:
    return f'<svg width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT}" role="img">'


def _numeric_plot(series: list[tuple[str, list]]) -> str:
    """Bars of each series' share of values per common bucket; ``series`` are ``(color, histogram buckets)``."""
    edges = _grid([buckets for _, buckets in series])
    if not edges:
        return '<p class="measure">no finite values to plot</p>'
    shares = []
    for _, buckets in series:
        counts = _on_grid(buckets, edges)
        total = sum(counts)
        shares.append([c / total if total else 0.0 for c in counts])
    top = max(max(s) for s in shares) or 1.0
    left, bottom, right, top_margin = 46, 26, 10, 12
    width, height = PLOT_WIDTH - left - right, PLOT_HEIGHT - bottom - top_margin
    slot = width / len(shares[0])
    parts = [_svg_open()]
    parts.append(
        f'<line x1="{left}" y1="{top_margin + height}" x2="{left + width}" y2="{top_margin + height}" stroke="#888"/>'
    )
    parts.append(f'<text x="{left - 4}" y="{top_margin + 10}" font-size="11" text-anchor="end">{100 * top:.0f}%</text>')
    bar = slot * 0.8 / len(series)
    for index, ((color, _), values) in enumerate(zip(series, shares)):
        for i, share in enumerate(values):
            bar_height = height * share / top
            x = left + i * slot + slot * 0.1 + index * bar
            y = top_margin + height - bar_height
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{bar_height:.1f}" fill="{color}"/>')
    parts.append(f'<text x="{left}" y="{PLOT_HEIGHT - 8}" font-size="11">{_e(_fmt(edges[0]))}</text>')
    parts.append(
        f'<text x="{left + width}" y="{PLOT_HEIGHT - 8}" font-size="11" text-anchor="end">{_e(_fmt(edges[-1]))}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _string_plot(series: list[tuple[str, dict[str, float]]]) -> str:
    """Horizontal bars of the most frequent values' shares; ``series`` are ``(color, {value: count})``."""
    labels: list[str] = []
    for _, counts in reversed(series):  # the new data's order first, then the baseline's
        for label, _ in sorted(counts.items(), key=lambda item: -item[1]):
            if label not in labels:
                labels.append(label)
    labels = labels[:TOP_VALUES_SHOWN]
    if not labels:
        return '<p class="measure">no values to plot</p>'
    shares = []
    for _, counts in series:
        total = sum(counts.values())
        shares.append({label: counts.get(label, 0.0) / total if total else 0.0 for label in labels})
    top = max(max(s.values()) for s in shares) or 1.0
    left, width = 150, PLOT_WIDTH - 150 - 50
    row = min((PLOT_HEIGHT - 6) / len(labels), 30.0)
    bar = row * 0.8 / len(series)
    parts = [_svg_open()]
    for i, label in enumerate(labels):
        y = 3 + i * row
        shown = label if len(label) <= 20 else label[:19] + "\u2026"
        parts.append(
            f'<text x="{left - 6}" y="{y + row * 0.65:.1f}" font-size="11" text-anchor="end">{_e(shown)}</text>'
        )
        for index, ((color, _), values) in enumerate(zip(series, shares)):
            length = width * values[label] / top
            parts.append(
                f'<rect x="{left}" y="{y + row * 0.1 + index * bar:.1f}" width="{length:.1f}" height="{bar:.1f}" '
                f'fill="{color}"/>'
            )
        longest = max(values[label] for values in shares)
        parts.append(
            f'<text x="{left + width * longest / top + 4:.1f}" y="{y + row * 0.65:.1f}" font-size="10">'
            f"{100 * shares[-1][label]:.1f}%</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# -- cards ------------------------------------------------------------------------


def _stat_rows(feature, num_examples: int) -> list[tuple[str, str]]:
    common = common_of(feature)
    rows = [("missing", f"{_fmt(int(common.num_missing))} ({_percent(common.num_missing, num_examples)})")]
    if common.num_non_missing and (common.min_num_values != 1 or common.max_num_values != 1):
        rows.append(
            (
                "values per row",
                f"{common.min_num_values} to {common.max_num_values}, {common.avg_num_values:.3g} on average",
            )
        )
    if feature.HasField("num_stats"):
        numbers = feature.num_stats
        histogram = _drift.standard_histogram(feature)
        rows += [(key, _fmt(getattr(numbers, key))) for key in ("mean", "std_dev", "min", "median", "max")]
        rows.append(("zeros", _fmt(int(numbers.num_zeros))))
        rows.append(("NaN", _fmt(int(histogram[1])) if histogram else "0"))
    else:
        strings = feature.string_stats
        rows += [("unique", _fmt(int(strings.unique))), ("avg length", _fmt(float(strings.avg_length)))]
        if strings.top_values:
            top = strings.top_values[0]
            rows.append(("top value", f"{top.value} ({_fmt(int(top.frequency))})"))
    return rows


def _plot(features: list, colors: list[str]) -> str:
    if features[-1].HasField("num_stats"):
        series = []
        for color, feature in zip(colors, features):
            histogram = _drift.standard_histogram(feature)
            series.append((color, histogram[0] if histogram else []))
        return _numeric_plot(series)
    return _string_plot([(color, _drift.rank_counts(feature)) for color, feature in zip(colors, features)])


def _card(
    name: str, new, base, num_new: int, num_base: int, found: list[Anomaly], measured: dict, validating: bool
) -> str:
    present = [f for f in (base, new) if f is not None]
    kind = feature_type(present[-1])
    classes = "card anomalous" if found else "card"
    parts = [f'<div class="{classes}" id="feature-{_e(name)}"><div class="stats">']
    parts.append(f'<h3>{_e(name)} <span class="kind">{kind}</span></h3>')
    parts.extend(f'<div class="flag">\u26a0 {_e(a.kind)}: {_e(a.description)}</div>' for a in found)
    rows = [(label, value, "") for label, value in _stat_rows(present[-1], num_new if new is not None else num_base)]
    if base is not None and new is not None:
        base_rows = dict(_stat_rows(base, num_base))
        rows = [(label, value, base_rows.get(label, "")) for label, value, _ in rows]
        parts.append("<table><tr><th></th><th>new</th><th>baseline</th></tr>")
    else:
        parts.append("<table>")
    parts.extend(
        f"<tr><td>{_e(label)}</td><td>{_e(value)}</td><td>{_e(other)}</td></tr>" for label, value, other in rows
    )
    parts.append("</table>")
    measures = []
    if "jsd" in measured:
        measures.append(f"Jensen-Shannon divergence {measured['jsd']:.4g}")
    if "linf" in measured:
        measures.append(f"L-infinity distance {measured['linf']:.4g} (at {measured['linf_value']!r})")
    if measures:
        parts.append(f'<p class="measure">{_e("; ".join(measures))}</p>')
    parts.append("</div><div>")
    if new is not None and base is not None and feature_type(new) == feature_type(base):
        parts.append(_plot([base, new], [BASELINE_COLOR, NEW_COLOR]))
    elif new is not None:
        parts.append(_plot([new], [NEW_COLOR if validating else BASELINE_COLOR]))
    else:
        parts.append(_plot([base], [BASELINE_COLOR]))
    parts.append("</div></div>")
    return "".join(parts)


def _anomaly_table(anomalies: list[Anomaly]) -> str:
    if not anomalies:
        return '<div class="ok">No anomalies: every check is within its threshold.</div>'
    parts = [f'<div class="anomalies"><h2>{len(anomalies)} anomal{"y" if len(anomalies) == 1 else "ies"}</h2><table>']
    parts.append("<tr><th>feature</th><th>check</th><th>value</th><th>threshold</th><th>description</th></tr>")
    for a in anomalies:
        parts.append(
            f'<tr><td><a href="#feature-{_e(a.feature)}">{_e(a.feature)}</a></td><td>{_e(a.kind)}</td>'
            f"<td>{_e(_fmt(a.value))}</td><td>{_e(_fmt(a.threshold))}</td><td>{_e(a.description)}</td></tr>"
        )
    parts.append("</table></div>")
    return "".join(parts)


def render(
    statistics,
    *,
    title: str,
    subtitle: str = "",
    baseline=None,
    anomalies: list[Anomaly] | None = None,
    measurements: dict | None = None,
) -> str:
    """The page for a ``DatasetFeatureStatisticsList``; with ``baseline``, the validation's page."""
    new_features = features_of(statistics)
    base_features = features_of(baseline) if baseline is not None else {}
    num_new = statistics.datasets[0].num_examples
    num_base = baseline.datasets[0].num_examples if baseline is not None else 0
    anomalies = anomalies or []
    measurements = measurements or {}
    flagged = {a.feature for a in anomalies}
    names = sorted(set(new_features) | set(base_features), key=lambda n: (n not in flagged, n))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<div class="sub">{_e(subtitle)}</div>')
    if baseline is not None:
        parts.append(
            f'<div class="sub legend"><span style="background:{BASELINE_COLOR}"></span>baseline '
            f'({num_base:,} rows)<span style="background:{NEW_COLOR}"></span>new data ({num_new:,} rows)</div>'
        )
        parts.append(_anomaly_table(anomalies))
    else:
        parts.append(f'<div class="sub">{num_new:,} rows, {len(new_features)} columns</div>')
    for name in names:
        found = [a for a in anomalies if a.feature == name]
        parts.append(
            _card(
                name,
                new_features.get(name),
                base_features.get(name),
                num_new,
                num_base,
                found,
                measurements.get(name, {}),
                baseline is not None,
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
