"""report.html: self-contained, and rendered by a real headless browser (Chromium) with its plots drawn.

The screenshot is checked pixel by pixel: the plot colours appear, in one band
of rows per feature card; after a validation both datasets' colours appear,
and the highlighted anomalies come first, at the top of the page. Chromium
comes from Debian's package (``apt-get install -y chromium``; .ci/run installs
it); this test fails, not skips, without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np
import pyarrow as pa
import pytest

from analyzers._statistics import compute_statistics
from beam_jobs import _report
from beam_jobs._anomalies import compare
from beam_jobs._job import ValidationConfig

pytestmark = pytest.mark.slow
WIDTH, HEIGHT = 1200, 2600


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "Chromium is needed to check report.html in a real browser and was not found on PATH. "
        "Install it (Debian/Ubuntu): sudo apt-get update && sudo apt-get install -y chromium"
    )


def screenshot(page: str, tmp_path) -> np.ndarray:
    """The page as Chromium renders it: ``[HEIGHT, WIDTH, 3]`` RGB pixels."""
    import tensorflow as tf

    html_path, png_path = tmp_path / "report.html", tmp_path / "shot.png"
    html_path.write_text(page, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",  # tests may run as root
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--screenshot={png_path}",
                html_path.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0 and os.path.isfile(png_path), result.stderr[-2000:]
    return tf.io.decode_png(tf.io.read_file(str(png_path)), channels=3).numpy()


def rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)


def rows_with(image: np.ndarray, color: str) -> np.ndarray:
    """How many pixels of exactly ``color`` each row has."""
    return (image == rgb(color)).all(axis=-1).sum(axis=1)


def bands(rows: np.ndarray, minimum: int = 3, gap: int = 24) -> list[tuple[int, int]]:
    """Runs of rows holding at least ``minimum`` pixels of a colour, joined across gaps of up to ``gap`` rows."""
    found: list[tuple[int, int]] = []
    for y in np.flatnonzero(rows >= minimum):
        if found and y - found[-1][1] <= gap:
            found[-1] = (found[-1][0], y + 1)
        else:
            found.append((y, y + 1))
    return found


def datasets():
    rng = np.random.default_rng(3)
    base = pa.record_batch(
        {
            "fare": pa.array(rng.gamma(2.0, 6.0, 2000), pa.float32()),
            "hour": pa.array(rng.integers(0, 24, 2000), pa.int64()),
            "company": pa.array(rng.choice([b"Flash", b"City", b"Sun", b"Globe"], 2000, p=[0.4, 0.3, 0.2, 0.1])),
            "tags": pa.array([[b"a"] * int(k) for k in rng.integers(0, 3, 2000)], pa.list_(pa.binary())),
        }
    )
    new = pa.record_batch(
        {
            "fare": pa.array(rng.gamma(2.0, 6.0, 1500) * 2.5, pa.float32()),
            "hour": pa.array(rng.integers(0, 24, 1500), pa.int64()),
            "company": pa.array(rng.choice([b"Flash", b"City", b"Zip"], 1500, p=[0.2, 0.3, 0.5])),
            "tags": pa.array([[b"a"] * int(k) for k in rng.integers(0, 3, 1500)], pa.list_(pa.binary())),
        }
    )
    features = [("fare", "float"), ("hour", "int"), ("company", "string"), ("tags", "string")]
    return compute_statistics([base], features), compute_statistics([new], features)


def test_the_page_is_self_contained():
    base, new = datasets()
    anomalies, measured = compare(base, new, ValidationConfig())
    page = _report.render(new, title="t <&>", baseline=base, anomalies=anomalies, measurements=measured)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for remote in ("http:", "https:", "//", "src=", "<script", "@import", "url(", "<link"):
        assert remote not in page, remote
    assert "<title>t &lt;&amp;&gt;</title>" in page
    assert page.count("<svg") == 4


def test_a_validation_report_renders_with_both_datasets_and_the_anomalies_first(tmp_path):
    base, new = datasets()
    anomalies, measured = compare(base, new, ValidationConfig())
    assert {a.feature for a in anomalies} == {"fare", "company"}
    page = _report.render(new, title="featurebeam validate", baseline=base, anomalies=anomalies, measurements=measured)
    image = screenshot(page, tmp_path)
    assert image.shape == (HEIGHT, WIDTH, 3)
    baseline_rows, new_rows = rows_with(image, _report.BASELINE_COLOR), rows_with(image, _report.NEW_COLOR)
    # Four plots, each a band of rows holding both colours (the legend's 12x12 squares are not a plot).
    either = baseline_rows + new_rows
    plots = [b for b in bands(either) if either[b[0] : b[1]].sum() > 1000]
    assert len(plots) == 4, plots
    for start, end in plots:
        assert new_rows[start:end].sum() > 500 and baseline_rows[start:end].sum() > 500
    # The anomalies: highlighted, the summary box at the top, then the two anomalous features' cards first.
    highlighted = bands(rows_with(image, _report.ANOMALY_BACKGROUND), minimum=200, gap=2)
    assert highlighted and highlighted[0][0] < 200, highlighted
    assert len(highlighted) == 3  # the summary box and two cards
    last_highlight = highlighted[-1][1]
    assert plots[1][1] <= last_highlight < plots[2][0]  # fare and company plots are in highlighted cards


def test_a_run_report_renders_one_plot_per_feature(tmp_path):
    base, _ = datasets()
    image = screenshot(_report.render(base, title="featurebeam run"), tmp_path)
    baseline_rows = rows_with(image, _report.BASELINE_COLOR)
    plots = [b for b in bands(baseline_rows) if baseline_rows[b[0] : b[1]].sum() > 1000]
    assert len(plots) == 4, plots
    assert rows_with(image, _report.NEW_COLOR).sum() == 0
    assert rows_with(image, _report.ANOMALY_BACKGROUND).sum() == 0
